/* The Vonage media adapter's inbound parser on arbitrary messages. Input: a flags byte (bit 0:
 * the flow's rate is 8000, else 16000), then records of [kind byte (bit 0: binary)][length:
 * 2 bytes, big-endian][data]. Each record is one WebSocket message to a session without a
 * socket; the events it queues must honour the session's promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media.h"
#include "media_vonage.h"

static void drain(dt_media *m, int rate)
{
  dt_media_event ev;
  while (dt_media_next_event(m, &ev) == 0) {
    if (ev.kind == DT_MEDIA_AUDIO && (ev.samples == 0 || ev.samples > (size_t)rate / 50)) abort();
    if (ev.kind == DT_MEDIA_DTMF && strlen(ev.text) != 1) abort();
    if (ev.kind != DT_MEDIA_AUDIO && strnlen(ev.text, sizeof ev.text) == sizeof ev.text) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  int rate = data[0] & 1 ? 8000 : 16000;
  dt_media *m = dt_media_open(&dt_media_vonage, rate);
  if (!m) return 0;
  dt_media_subscribe(m, 1, NULL, NULL);
  for (size_t off = 1; off + 3 <= size && !dt_media_ended(m);) {
    int kind = data[off] & 1 ? DT_WS_BINARY : DT_WS_TEXT;
    size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
    off += 3;
    if (len > size - off) len = size - off;
    char *msg = malloc(len ? len : 1); /* a copy of its own, so overreads are caught */
    if (!msg) break;
    memcpy(msg, data + off, len);
    int rc = dt_media_vonage.on_message(m, kind, msg, len);
    free(msg);
    off += len;
    if (rc != 0 && rc != -1) abort();
    if (kind == DT_WS_BINARY && rc == 0 && !dt_media_started(m)) abort(); /* no audio before the start */
    drain(m, rate);
  }
  dt_media_release(m);
  return 0;
}
