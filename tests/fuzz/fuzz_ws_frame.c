/* WebSocket frame decoder on arbitrary bytes, both roles. Input: a flags byte (bit 0: client
 * role; bits 1-2: maximum message size), two bytes seeding the split sizes, then the stream.
 * The stream is decoded whole and in random splits: the events must be identical, and every
 * event must honour the decoder's promises. Each decoded message is re-encoded and must decode
 * to the same event. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_frame.h"

static const size_t max_sizes[4] = { 0, 16, 300, 70000 };

typedef struct {
  uint64_t hash;
  int error;
} trace;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
  return h;
}

static void check_event(int type, const dt_ws_event *ev, size_t max)
{
  if (!ev->data) abort();
  switch (type) {
  case DT_WS_EV_ERROR:
    if (!ev->error || (ev->code != 1002 && ev->code != 1007 && ev->code != 1009 && ev->code != 1011))
      abort();
    break;
  case DT_WS_EV_TEXT:
    if (!dt_ws_utf8_valid(ev->data, ev->len)) abort();
    /* fall through */
  case DT_WS_EV_BINARY:
    if (ev->len > max) abort();
    break;
  case DT_WS_EV_CLOSE:
    if (ev->code != 1005 && !dt_ws_close_code_valid(ev->code)) abort();
    if (ev->len > DT_WS_MAX_CONTROL - 2 || !dt_ws_utf8_valid(ev->data, ev->len)) abort();
    break;
  case DT_WS_EV_PING:
  case DT_WS_EV_PONG:
    if (ev->len > DT_WS_MAX_CONTROL) abort();
    break;
  default:
    abort();
  }
}

/* Encodes the message again as its sender would and decodes it with a fresh decoder. */
static void reencode(dt_ws_role role, size_t max, int type, const dt_ws_event *ev)
{
  static const uint8_t key[4] = { 1, 2, 3, 4 };
  const uint8_t *mask = role == DT_WS_ROLE_SERVER ? key : NULL;
  int op = type == DT_WS_EV_TEXT ? DT_WS_OP_TEXT : DT_WS_OP_BINARY;
  uint8_t *f = malloc(DT_WS_MAX_HEADER + ev->len);
  if (!f) return;
  int h = dt_ws_write_header(f, op, 1, ev->len, mask);
  if (h < 2) abort();
  memcpy(f + h, ev->data, ev->len);
  if (mask) dt_ws_mask(f + h, ev->len, mask, 0);
  dt_ws_decoder d;
  dt_ws_decoder_init(&d, role, max);
  size_t used;
  dt_ws_event again;
  int t = dt_ws_decode(&d, f, (size_t)h + ev->len, &used, &again);
  if (t != type || used != (size_t)h + ev->len || again.len != ev->len ||
      memcmp(again.data, ev->data, ev->len) != 0)
    abort();
  dt_ws_decoder_free(&d);
  free(f);
}

static void feed(dt_ws_decoder *d, dt_ws_role role, size_t max, uint8_t *p, size_t n, trace *t)
{
  size_t off = 0;
  do {
    size_t used;
    dt_ws_event ev;
    int type = dt_ws_decode(d, p + off, n - off, &used, &ev);
    if (used > n - off) abort();
    off += used;
    if (type == DT_WS_EV_MORE) {
      if (off != n) abort();
      return;
    }
    check_event(type, &ev, max ? max : DT_WS_DEFAULT_MAX_MESSAGE);
    uint8_t head[3] = { (uint8_t)type, (uint8_t)(ev.code >> 8), (uint8_t)ev.code };
    t->hash = mix(mix(t->hash, head, 3), ev.data, ev.len);
    if ((type == DT_WS_EV_TEXT || type == DT_WS_EV_BINARY) && ev.len <= 4096)
      reencode(role, max, type, &ev);
    if (type == DT_WS_EV_ERROR) t->error = 1;
  } while (off < n && !t->error);
}

/* seed 0: the whole stream at once; otherwise chunks of pseudo-random sizes. */
static void run(dt_ws_role role, size_t max, const uint8_t *s, size_t n, uint32_t seed, trace *t)
{
  dt_ws_decoder d;
  dt_ws_decoder_init(&d, role, max);
  memset(t, 0, sizeof *t);
  for (size_t off = 0; off < n && !t->error;) {
    size_t len = n - off;
    if (seed) {
      seed = seed * 1103515245u + 12345u;
      size_t r = (seed >> 16) % (seed & 0x100 ? 4096 : 9);
      len = r + 1 < len ? r + 1 : len;
    }
    uint8_t *chunk = malloc(len);
    if (!chunk) break;
    memcpy(chunk, s + off, len);
    feed(&d, role, max, chunk, len, t);
    free(chunk);
    off += len;
  }
  dt_ws_decoder_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 3) return 0;
  dt_ws_role role = data[0] & 1 ? DT_WS_ROLE_CLIENT : DT_WS_ROLE_SERVER;
  size_t max = max_sizes[(data[0] >> 1) & 3];
  uint32_t seed = (uint32_t)data[1] << 8 | data[2] | 1;
  trace whole, split;
  run(role, max, data + 3, size - 3, 0, &whole);
  run(role, max, data + 3, size - 3, seed, &split);
  if (whole.hash != split.hash || whole.error != split.error) abort();
  return 0;
}
