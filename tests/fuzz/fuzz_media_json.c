/* The inbound parser of a protocol described as data (media_json.c) on arbitrary messages.
 * Input: a flags byte (bits 0-1: encoding mulaw/alaw/l16; bit 2: 16 kHz wire; bit 3: 16 kHz
 * flow; bit 4: "type" as the event key), then records of [kind byte (bit 0: binary)][length:
 * 2 bytes, big-endian][data], each one WebSocket message to a session without a socket, under
 * a Telnyx-like description. The events queued must honour the session's promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "media_json.h"

static dt_media_adapter *build(uint8_t flags)
{
  static cJSON *out_media, *out_mark, *out_clear;
  if (!out_media) {
    out_media = cJSON_Parse("{\"event\":\"media\",\"stream_id\":\"$stream_id\",\"media\":{\"payload\":\"$payload\"}}");
    out_mark = cJSON_Parse("{\"event\":\"mark\",\"mark\":{\"name\":\"$name\"}}");
    out_clear = cJSON_Parse("{\"event\":\"clear\"}");
  }
  static const dt_media_json_encoding enc[4] = { DT_MEDIA_JSON_MULAW, DT_MEDIA_JSON_ALAW, DT_MEDIA_JSON_L16,
                                                 DT_MEDIA_JSON_L16 };
  dt_media_json_desc d = {
    .name = "fuzz", .encoding = enc[flags & 3], .rate = flags & 4 ? 16000 : 8000,
    .event_key = flags & 16 ? "type" : "event",
    .start = { "start", "stream_id", "start.call_control_id", "start.custom_parameters" },
    .media = { "media", "media.payload" },
    .dtmf = { "dtmf", "dtmf.digit" },
    .mark = { "mark", "mark.name" },
    .stop = { "stop" },
    .out_media = out_media, .out_mark = out_mark, .out_clear = out_clear,
  };
  char err[160];
  dt_media_adapter *ad = dt_media_json_new(&d, err, sizeof err);
  if (!ad) abort(); /* a valid description always compiles */
  return ad;
}

static void drain(dt_media *m, int rate)
{
  dt_media_event ev;
  while (dt_media_next_event(m, &ev) == 0) {
    if (ev.kind == DT_MEDIA_AUDIO && (ev.samples == 0 || ev.samples > (size_t)rate / 50)) abort();
    if (ev.kind == DT_MEDIA_DTMF && strlen(ev.text) != 1) abort();
    if (ev.kind != DT_MEDIA_AUDIO && strnlen(ev.text, sizeof ev.text) == sizeof ev.text) abort();
  }
}

static void check_start(const dt_media_start *s)
{
  if (!s) return;
  if (strnlen(s->call_id, sizeof s->call_id) == sizeof s->call_id || s->nparams > DT_MEDIA_MAX_PARAMS ||
      strnlen(s->stream_id, sizeof s->stream_id) == sizeof s->stream_id)
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  int rate = data[0] & 8 ? 16000 : 8000;
  dt_media_adapter *ad = build(data[0]);
  dt_media *m = dt_media_open(ad, rate);
  if (!m) {
    dt_media_json_free(ad);
    return 0;
  }
  dt_media_subscribe(m, 1, NULL, NULL);
  for (size_t off = 1; off + 3 <= size && !dt_media_ended(m);) {
    int kind = data[off] & 1 ? DT_WS_BINARY : DT_WS_TEXT;
    size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
    off += 3;
    if (len > size - off) len = size - off;
    char *msg = malloc(len ? len : 1); /* a copy of its own, so overreads are caught */
    if (!msg) break;
    memcpy(msg, data + off, len);
    int rc = ad->on_message(m, kind, msg, len);
    free(msg);
    off += len;
    if ((rc != 0 && rc != -1) || (kind == DT_WS_BINARY && rc == 0)) abort();
    check_start(dt_media_started(m));
    drain(m, rate);
  }
  dt_media_release(m); /* frees the adapter too */
  return 0;
}
