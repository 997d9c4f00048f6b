/* Media framing described by data instead of code: JSON text messages carrying base64 audio
 * (Telnyx, Plivo, Twilio-like carriers), compiled from a description into an adapter. The
 * description format (what dialtone.media.accept takes as opts.protocol) is in README.md. */
#ifndef DT_MEDIA_JSON_H
#define DT_MEDIA_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "media.h"

typedef enum { DT_MEDIA_JSON_MULAW, DT_MEDIA_JSON_ALAW, DT_MEDIA_JSON_L16 } dt_media_json_encoding;

/* Strings are borrowed (copied by dt_media_json_new). Paths are dotted member names into a
 * message ("start.call_control_id"); an `event` NULL leaves that kind out (dtmf, mark, stop
 * only), a path NULL leaves that field out (start's stream_id, call_id, params only). */
typedef struct {
  const char *name;
  dt_media_json_encoding encoding;
  int rate;                 /* wire rate: 8000 or 16000 */
  const char *event_key;    /* the member naming the message kind */
  struct { const char *event, *stream_id, *call_id, *params; } start;
  struct { const char *event, *payload; } media;
  struct { const char *event, *digit; } dtmf;
  struct { const char *event, *name; } mark;
  struct { const char *event; } stop;
  /* Outbound templates (JSON objects); string values "$payload" (media), "$name" (mark) and
   * "$stream_id" are replaced. mark and clear may be NULL (the carrier has none). */
  const cJSON *out_media, *out_mark, *out_clear;
} dt_media_json_desc;

/* Compiles a description. Returns the adapter (its release frees it: hand it to
 * dt_media_accept, or free it with dt_media_json_free if that fails), or NULL with a message
 * naming the bad field ("inbound.media.payload: ...") in err. */
dt_media_adapter *dt_media_json_new(const dt_media_json_desc *d, char *err, size_t err_cap);
void dt_media_json_free(const dt_media_adapter *ad);
#endif
