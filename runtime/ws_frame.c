/* RFC 6455 frame codec: see ws_frame.h for the contract. */
#include "ws_frame.h"

#include <stdlib.h>
#include <string.h>

enum { ST_HEADER, ST_PAYLOAD, ST_CLOSED, ST_FAILED };
/* A reassembly buffer larger than this is released before the next message is buffered. */
enum { KEEP_BUFFER = 64 * 1024, FIRST_BUFFER = 1024 };

static const uint8_t no_data[1];

/* ---- UTF-8 (RFC 3629 table: exact ranges for the byte after E0, ED, F0 and F4) ---- */

static void utf8_reset(dt_ws_utf8 *s)
{
  s->need = 0;
  s->lo = 0x80;
  s->hi = 0xBF;
}

static size_t ascii_run(const uint8_t *p, size_t n)
{
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    if (w & 0x8080808080808080ull) break;
  }
  while (i < n && p[i] < 0x80) i++;
  return i;
}

static int utf8_lead(dt_ws_utf8 *s, unsigned c)
{
  if (c < 0xC2) return -1; /* stray continuation byte, or overlong two-byte form */
  if (c < 0xE0) {
    s->need = 1;
  } else if (c < 0xF0) {
    s->need = 2;
    if (c == 0xE0) s->lo = 0xA0; /* overlong */
    if (c == 0xED) s->hi = 0x9F; /* surrogates */
  } else if (c < 0xF5) {
    s->need = 3;
    if (c == 0xF0) s->lo = 0x90; /* overlong */
    if (c == 0xF4) s->hi = 0x8F; /* above U+10FFFF */
  } else {
    return -1;
  }
  return 0;
}

/* Checks the next n bytes of a stream; a sequence may continue in the next call. */
static int utf8_scan(dt_ws_utf8 *s, const uint8_t *p, size_t n)
{
  size_t i = 0;
  while (i < n) {
    if (s->need == 0) {
      i += ascii_run(p + i, n - i);
      if (i < n && utf8_lead(s, p[i++]) < 0) return -1;
      continue;
    }
    if (p[i] < s->lo || p[i] > s->hi) return -1;
    s->need--;
    s->lo = 0x80;
    s->hi = 0xBF;
    i++;
  }
  return 0;
}

int dt_ws_utf8_valid(const uint8_t *p, size_t len)
{
  dt_ws_utf8 s;
  utf8_reset(&s);
  return utf8_scan(&s, p, len) == 0 && s.need == 0;
}

int dt_ws_close_code_valid(unsigned code)
{
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

void dt_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
  uint8_t k[8];
  for (unsigned i = 0; i < 8; i++) k[i] = mask[(offset + i) & 3];
  uint64_t kw;
  memcpy(&kw, k, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    w ^= kw;
    memcpy(p + i, &w, 8);
  }
  for (; i < len; i++) p[i] ^= k[i & 7];
}

static int known_opcode(unsigned op)
{
  return op <= DT_WS_OP_BINARY || (op >= DT_WS_OP_CLOSE && op <= DT_WS_OP_PONG);
}

/* ---- decoder ---- */

void dt_ws_decoder_init(dt_ws_decoder *d, dt_ws_role role, size_t max_message)
{
  memset(d, 0, sizeof *d);
  d->role = (uint8_t)role;
  d->state = ST_HEADER;
  d->max_message = max_message ? max_message : DT_WS_DEFAULT_MAX_MESSAGE;
  utf8_reset(&d->utf8);
}

void dt_ws_decoder_free(dt_ws_decoder *d)
{
  free(d->msg);
  d->msg = NULL;
  d->msg_cap = 0;
  d->msg_len = 0;
}

static int fail(dt_ws_decoder *d, uint16_t code, const char *why)
{
  d->state = ST_FAILED;
  d->err_code = code;
  d->err = why;
  return DT_WS_EV_ERROR;
}

/* Header bytes needed, given the first two. */
static size_t header_size(const uint8_t *h)
{
  unsigned len7 = h[1] & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (h[1] & 0x80 ? 4 : 0);
}

/* The complete header, straight from buf when it is all there (the common case) or gathered
 * in d->hdr across calls; NULL when more input is needed. */
static const uint8_t *read_header(dt_ws_decoder *d, const uint8_t *buf, size_t len, size_t *pos)
{
  size_t avail = len - *pos;
  if (d->hdr_len == 0 && avail >= 2 && avail >= header_size(buf + *pos)) {
    const uint8_t *h = buf + *pos;
    *pos += header_size(h);
    return h;
  }
  while (*pos < len) {
    d->hdr[d->hdr_len++] = buf[(*pos)++];
    if (d->hdr_len >= 2 && d->hdr_len == header_size(d->hdr)) {
      d->hdr_len = 0;
      return d->hdr;
    }
  }
  return NULL;
}

static int read_length(dt_ws_decoder *d, const uint8_t *h)
{
  unsigned len7 = h[1] & 0x7F;
  uint64_t n = len7;
  if (len7 == 126) {
    n = (uint64_t)h[2] << 8 | h[3];
    if (n < 126) return fail(d, 1002, "length not in minimal form");
  } else if (len7 == 127) {
    n = 0;
    for (unsigned i = 2; i < 10; i++) n = n << 8 | h[i];
    if (n >> 63) return fail(d, 1002, "64-bit length with the top bit set");
    if (n <= 0xFFFF) return fail(d, 1002, "length not in minimal form");
  }
  d->frame_len = n;
  return DT_WS_EV_MORE;
}

static int check_control(dt_ws_decoder *d)
{
  if (!d->fin) return fail(d, 1002, "fragmented control frame");
  if (d->frame_len > DT_WS_MAX_CONTROL) return fail(d, 1002, "control frame over 125 bytes");
  return DT_WS_EV_MORE;
}

static int check_data(dt_ws_decoder *d)
{
  if (d->opcode == DT_WS_OP_CONT) {
    if (!d->msg_opcode) return fail(d, 1002, "continuation frame without a message");
  } else {
    if (d->msg_opcode) return fail(d, 1002, "new data frame inside a fragmented message");
    utf8_reset(&d->utf8);
    if (!d->fin) d->msg_opcode = d->opcode;
  }
  /* msg_len <= max_message always holds, so the subtraction cannot wrap. */
  if (d->frame_len > d->max_message - d->msg_len) return fail(d, 1009, "message too big");
  return DT_WS_EV_MORE;
}

static int begin_frame(dt_ws_decoder *d, const uint8_t *h)
{
  d->fin = h[0] >> 7;
  d->opcode = h[0] & 0x0F;
  d->masked = h[1] >> 7;
  if (h[0] & 0x70) return fail(d, 1002, "reserved bits set");
  if (!known_opcode(d->opcode)) return fail(d, 1002, "unknown opcode");
  if (d->masked != (d->role == DT_WS_ROLE_SERVER))
    return fail(d, 1002, d->masked ? "masked frame from a server" : "unmasked frame from a client");
  if (read_length(d, h) != DT_WS_EV_MORE) return DT_WS_EV_ERROR;
  if (d->masked) memcpy(d->mask, h + header_size(h) - 4, 4);
  d->frame_done = 0;
  d->state = ST_PAYLOAD;
  return d->opcode & 0x8 ? check_control(d) : check_data(d);
}

static void set_data(dt_ws_event *ev, const uint8_t *p, size_t n)
{
  ev->data = n ? p : no_data;
  ev->len = n;
}

static int close_event(dt_ws_decoder *d, const uint8_t *p, size_t n, dt_ws_event *ev)
{
  if (n == 1) return fail(d, 1002, "one-byte close payload");
  ev->code = 1005;
  if (n >= 2) {
    unsigned code = (unsigned)p[0] << 8 | p[1];
    if (!dt_ws_close_code_valid(code)) return fail(d, 1002, "invalid close code");
    if (!dt_ws_utf8_valid(p + 2, n - 2)) return fail(d, 1007, "close reason is not UTF-8");
    ev->code = (uint16_t)code;
    set_data(ev, p + 2, n - 2);
  }
  d->state = ST_CLOSED;
  return DT_WS_EV_CLOSE;
}

static int control_event(dt_ws_decoder *d, const uint8_t *p, size_t n, dt_ws_event *ev)
{
  if (d->opcode == DT_WS_OP_CLOSE) return close_event(d, p, n, ev);
  set_data(ev, p, n);
  return d->opcode == DT_WS_OP_PING ? DT_WS_EV_PING : DT_WS_EV_PONG;
}

static int message_type(const dt_ws_decoder *d)
{
  return d->opcode == DT_WS_OP_CONT ? d->msg_opcode : d->opcode;
}

static int message_event(dt_ws_decoder *d, int type, const uint8_t *p, size_t n,
                         dt_ws_event *ev)
{
  if (type == DT_WS_OP_TEXT && d->utf8.need) return fail(d, 1007, "truncated UTF-8 in text");
  set_data(ev, p, n);
  return type == DT_WS_OP_TEXT ? DT_WS_EV_TEXT : DT_WS_EV_BINARY;
}

/* Whole frame in the input: unmask in place, no copy. Only for frames that are a whole event. */
static int frame_in_place(dt_ws_decoder *d, uint8_t *p, size_t n, dt_ws_event *ev)
{
  d->state = ST_HEADER;
  if (d->masked) dt_ws_mask(p, n, d->mask, 0);
  if (d->opcode & 0x8) return control_event(d, p, n, ev);
  if (d->opcode == DT_WS_OP_TEXT && utf8_scan(&d->utf8, p, n) < 0)
    return fail(d, 1007, "invalid UTF-8 in text");
  return message_event(d, d->opcode, p, n, ev);
}

static int reserve(dt_ws_decoder *d, size_t n)
{
  size_t need = d->msg_len + n; /* <= max_message, checked at the frame header */
  if (d->msg_len == 0 && d->msg_cap > KEEP_BUFFER) dt_ws_decoder_free(d);
  if (need <= d->msg_cap) return 0;
  size_t cap = d->msg_cap ? d->msg_cap : FIRST_BUFFER;
  while (cap < need) cap = cap > d->max_message / 2 ? need : cap * 2;
  uint8_t *m = realloc(d->msg, cap);
  if (!m) return -1;
  d->msg = m;
  d->msg_cap = cap;
  return 0;
}

/* Copies and unmasks part of a frame that is not all in the input yet, or belongs to a
 * fragmented message. */
static int absorb(dt_ws_decoder *d, const uint8_t *src, size_t n)
{
  uint8_t *dst;
  if (n == 0) return DT_WS_EV_MORE;
  if (d->opcode & 0x8) {
    dst = d->ctrl + d->frame_done;
  } else {
    if (reserve(d, n) < 0) return fail(d, 1011, "out of memory");
    dst = d->msg + d->msg_len;
    d->msg_len += n;
  }
  memcpy(dst, src, n);
  if (d->masked) dt_ws_mask(dst, n, d->mask, d->frame_done);
  d->frame_done += n;
  if (!(d->opcode & 0x8) && message_type(d) == DT_WS_OP_TEXT && utf8_scan(&d->utf8, dst, n) < 0)
    return fail(d, 1007, "invalid UTF-8 in text");
  return DT_WS_EV_MORE;
}

static int finish_buffered(dt_ws_decoder *d, dt_ws_event *ev)
{
  d->state = ST_HEADER;
  if (d->opcode & 0x8) return control_event(d, d->ctrl, (size_t)d->frame_len, ev);
  if (!d->fin) return DT_WS_EV_MORE;
  int type = message_type(d);
  size_t n = d->msg_len;
  d->msg_opcode = 0;
  d->msg_len = 0;
  return message_event(d, type, d->msg, n, ev);
}

static int step(dt_ws_decoder *d, uint8_t *buf, size_t len, size_t *pos, dt_ws_event *ev)
{
  if (d->state == ST_HEADER) {
    const uint8_t *h = read_header(d, buf, len, pos);
    if (!h) return DT_WS_EV_MORE;
    if (begin_frame(d, h) != DT_WS_EV_MORE) return DT_WS_EV_ERROR;
  }
  size_t avail = len - *pos;
  uint64_t left = d->frame_len - d->frame_done;
  int whole_event = (d->opcode & 0x8) || (d->fin && d->opcode != DT_WS_OP_CONT);
  if (d->frame_done == 0 && whole_event && left <= avail) {
    uint8_t *p = buf + *pos;
    *pos += (size_t)left;
    return frame_in_place(d, p, (size_t)left, ev);
  }
  size_t n = left < avail ? (size_t)left : avail;
  int r = absorb(d, buf + *pos, n);
  *pos += n;
  if (r != DT_WS_EV_MORE || d->frame_done < d->frame_len) return r;
  return finish_buffered(d, ev);
}

int dt_ws_decode(dt_ws_decoder *d, uint8_t *buf, size_t len, size_t *consumed, dt_ws_event *ev)
{
  size_t pos = 0;
  int r = DT_WS_EV_MORE;
  memset(ev, 0, sizeof *ev);
  ev->data = no_data;
  if (d->state == ST_CLOSED) pos = len;
  /* A frame whose header is complete is finished in the same step, even when empty. */
  while (r == DT_WS_EV_MORE && pos < len && d->state < ST_CLOSED) r = step(d, buf, len, &pos, ev);
  *consumed = pos;
  if (d->state != ST_FAILED) return r;
  ev->data = no_data;
  ev->len = 0;
  ev->code = d->err_code;
  ev->error = d->err;
  return DT_WS_EV_ERROR;
}

/* ---- encoder ---- */

int dt_ws_write_header(uint8_t *out, int opcode, int fin, uint64_t len, const uint8_t *mask)
{
  if (opcode < 0 || !known_opcode((unsigned)opcode) || len >> 63) return -1;
  if ((opcode & 0x8) && (!fin || len > DT_WS_MAX_CONTROL)) return -1;
  uint8_t m = mask ? 0x80 : 0;
  int n = 2;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | opcode);
  if (len < 126) {
    out[1] = (uint8_t)(m | len);
  } else if (len <= 0xFFFF) {
    out[1] = m | 126;
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
    n = 4;
  } else {
    out[1] = m | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    n = 10;
  }
  if (mask) {
    memcpy(out + n, mask, 4);
    n += 4;
  }
  return n;
}

int dt_ws_build_control(uint8_t *out, size_t cap, int opcode, const uint8_t *payload,
                        size_t len, const uint8_t *mask)
{
  if (!(opcode & 0x8) || len > DT_WS_MAX_CONTROL || cap < 2 + (mask ? 4 : 0) + len) return -1;
  int h = dt_ws_write_header(out, opcode, 1, len, mask);
  if (h < 0) return -1;
  if (len) memcpy(out + h, payload, len);
  if (mask) dt_ws_mask(out + h, len, mask, 0);
  return h + (int)len;
}

int dt_ws_build_close(uint8_t *out, size_t cap, uint16_t code, const char *reason,
                      size_t reason_len, const uint8_t *mask)
{
  uint8_t p[DT_WS_MAX_CONTROL];
  if (code == 0)
    return reason_len ? -1 : dt_ws_build_control(out, cap, DT_WS_OP_CLOSE, NULL, 0, mask);
  if (!dt_ws_close_code_valid(code) || reason_len > DT_WS_MAX_CONTROL - 2 ||
      !dt_ws_utf8_valid((const uint8_t *)reason, reason_len))
    return -1;
  p[0] = (uint8_t)(code >> 8);
  p[1] = (uint8_t)code;
  if (reason_len) memcpy(p + 2, reason, reason_len);
  return dt_ws_build_control(out, cap, DT_WS_OP_CLOSE, p, 2 + reason_len, mask);
}
