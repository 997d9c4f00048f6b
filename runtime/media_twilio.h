#ifndef DT_MEDIA_TWILIO_H
#define DT_MEDIA_TWILIO_H

#include "media.h"

/* Twilio Media Streams (bidirectional <Connect><Stream>). */
extern const dt_media_adapter dt_media_twilio;
#endif
