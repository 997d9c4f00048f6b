#ifndef DT_MEDIA_VONAGE_H
#define DT_MEDIA_VONAGE_H

#include "media.h"

/* Vonage Voice API WebSocket (spec/vonage.md §6), audio/l16;rate=16000 only. The
 * websocket:connected message starts the stream: its top-level string members (the NCCO
 * `headers`) become the custom parameters; Vonage sends no call or stream id there, so
 * call_id and stream_id stay empty. */
extern const dt_media_adapter dt_media_vonage;
#endif
