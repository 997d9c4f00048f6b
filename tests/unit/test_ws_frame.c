#include "ws_frame.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static const uint8_t KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };
#define MIB ((size_t)1 << 20)

typedef struct {
  uint8_t *p;
  size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
}

static void put_frame(bytes *b, int op, int fin, const void *p, size_t n, const uint8_t *mask)
{
  uint8_t h[DT_WS_MAX_HEADER];
  int hl = dt_ws_write_header(h, op, fin, n, mask);
  CHECK(hl >= 2);
  if (hl < 2) return;
  put(b, h, (size_t)hl);
  size_t at = b->n;
  put(b, p, n);
  if (mask) dt_ws_mask(b->p + at, n, mask, 0);
}

/* Space-separated hex bytes. */
static bytes hex_bytes(const char *hex)
{
  bytes b = { 0 };
  for (char *end; *hex; hex = end) {
    uint8_t c = (uint8_t)strtoul(hex, &end, 16);
    if (end == hex) abort();
    put(&b, &c, 1);
  }
  return b;
}

/* ---- decoding into a comparable description ---- */

static void fmt_payload(const uint8_t *p, size_t n, char *out, size_t cap)
{
  int printable = n <= 40;
  for (size_t i = 0; printable && i < n; i++) printable = p[i] >= 0x20 && p[i] < 0x7f && p[i] != '|';
  if (printable) {
    snprintf(out, cap, "%.*s", (int)n, (const char *)p);
    return;
  }
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  snprintf(out, cap, "#%zu:%08x", n, h);
}

typedef struct {
  char text[2048];
  int failed;
} events;

static void record(events *e, int type, const dt_ws_event *ev)
{
  static const char *names[] = { "ERROR", "MORE", "TEXT", "BINARY", "PING", "PONG", "CLOSE" };
  char pl[64];
  size_t at = strlen(e->text);
  fmt_payload(ev->data, ev->len, pl, sizeof pl);
  CHECK(ev->data != NULL);
  if (type == DT_WS_EV_ERROR) {
    CHECK(ev->error != NULL);
    snprintf(e->text + at, sizeof e->text - at, "%sERROR:%u", at ? "|" : "", ev->code);
    e->failed = 1;
  } else if (type == DT_WS_EV_CLOSE) {
    snprintf(e->text + at, sizeof e->text - at, "%sCLOSE:%u:%s", at ? "|" : "", ev->code, pl);
  } else {
    snprintf(e->text + at, sizeof e->text - at, "%s%s:%s", at ? "|" : "", names[type + 1], pl);
  }
}

/* Feeds one chunk as an exact-size heap copy, so ASan catches reads past it. */
static void feed_chunk(dt_ws_decoder *d, const uint8_t *p, size_t n, events *e)
{
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy) abort();
  if (n) memcpy(copy, p, n);
  size_t off = 0;
  for (;;) {
    size_t used;
    dt_ws_event ev;
    int t = dt_ws_decode(d, copy + off, n - off, &used, &ev);
    CHECK(used <= n - off);
    off += used;
    if (t == DT_WS_EV_MORE) {
      CHECK(off == n);
      break;
    }
    record(e, t, &ev);
    if (t == DT_WS_EV_ERROR || off == n) break;
  }
  free(copy);
}

/* Decodes the stream cut at the given offsets (ascending); stops at the first error. */
static void run_cuts(dt_ws_role role, size_t max, const bytes *s, const size_t *cuts, int ncuts,
                     events *e)
{
  dt_ws_decoder d;
  dt_ws_decoder_init(&d, role, max);
  memset(e, 0, sizeof *e);
  size_t prev = 0;
  for (int i = 0; i <= ncuts && !e->failed; i++) {
    size_t end = i < ncuts ? cuts[i] : s->n;
    feed_chunk(&d, s->p + prev, end - prev, e);
    prev = end;
  }
  dt_ws_decoder_free(&d);
}

static void expect_whole(dt_ws_role role, size_t max, const bytes *s, const char *want)
{
  events e;
  run_cuts(role, max, s, NULL, 0, &e);
  CHECK_EQ_STR(e.text, want);
}

/* Whole, byte by byte, every 2-way split and (for short streams) every 3-way split. */
static void expect_splits(dt_ws_role role, size_t max, const bytes *s, const char *want)
{
  events e;
  expect_whole(role, max, s, want);
  size_t *cuts = malloc((s->n + 1) * sizeof *cuts);
  if (!cuts) abort();
  for (size_t i = 0; i < s->n; i++) cuts[i] = i + 1;
  run_cuts(role, max, s, cuts, s->n ? (int)s->n - 1 : 0, &e);
  CHECK_EQ_STR(e.text, want);
  free(cuts);
  for (size_t i = 0; i <= s->n; i++) {
    run_cuts(role, max, s, &i, 1, &e);
    if (strcmp(e.text, want)) CHECK_EQ_STR(e.text, want);
    for (size_t j = i; s->n <= 160 && j <= s->n; j++) {
      size_t two[2] = { i, j };
      run_cuts(role, max, s, two, 2, &e);
      if (strcmp(e.text, want)) CHECK_EQ_STR(e.text, want);
    }
  }
}

static void expect_error(dt_ws_role role, const char *hex, unsigned code)
{
  bytes s = hex_bytes(hex);
  char want[32];
  snprintf(want, sizeof want, "ERROR:%u", code);
  expect_whole(role, 0, &s, want);
  free(s.p);
}

/* ---- the vectors of spec/websocket.md §5 ---- */

static void test_vectors(void)
{
  bytes s = hex_bytes("81 05 48 65 6c 6c 6f");
  expect_splits(DT_WS_ROLE_CLIENT, 0, &s, "TEXT:Hello");
  expect_whole(DT_WS_ROLE_SERVER, 0, &s, "ERROR:1002");
  free(s.p);

  s = hex_bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  expect_splits(DT_WS_ROLE_SERVER, 0, &s, "TEXT:Hello");
  expect_whole(DT_WS_ROLE_CLIENT, 0, &s, "ERROR:1002");
  bytes enc = { 0 };
  put_frame(&enc, DT_WS_OP_TEXT, 1, "Hello", 5, KEY);
  CHECK(enc.n == s.n && memcmp(enc.p, s.p, s.n) == 0);
  free(enc.p);
  free(s.p);

  s = hex_bytes("01 03 48 65 6c 80 02 6c 6f");
  expect_splits(DT_WS_ROLE_CLIENT, 0, &s, "TEXT:Hello");
  free(s.p);

  s = hex_bytes("89 05 48 65 6c 6c 6f");
  expect_splits(DT_WS_ROLE_CLIENT, 0, &s, "PING:Hello");
  free(s.p);

  s = hex_bytes("8a 85 37 fa 21 3d 7f 9f 4d 51 58");
  expect_splits(DT_WS_ROLE_SERVER, 0, &s, "PONG:Hello");
  uint8_t out[DT_WS_MAX_CONTROL_FRAME];
  CHECK_EQ_INT(dt_ws_build_control(out, sizeof out, DT_WS_OP_PONG, (const uint8_t *)"Hello", 5, KEY), 11);
  CHECK(memcmp(out, s.p, 11) == 0);
  free(s.p);
}

static void check_header(uint64_t len, const char *hex)
{
  bytes want = hex_bytes(hex);
  uint8_t h[DT_WS_MAX_HEADER];
  int n = dt_ws_write_header(h, DT_WS_OP_BINARY, 1, len, NULL);
  CHECK_EQ_INT(n, want.n);
  CHECK(n > 0 && memcmp(h, want.p, want.n) == 0);
  free(want.p);
}

static void test_header_vectors(void)
{
  check_header(256, "82 7e 01 00");
  check_header(640, "82 7e 02 80");
  check_header(65536, "82 7f 00 00 00 00 00 01 00 00");
  check_header(125, "82 7d");
  check_header(126, "82 7e 00 7e");
  check_header(65535, "82 7e ff ff");

  uint8_t pcm[640];
  for (size_t i = 0; i < sizeof pcm; i++) pcm[i] = (uint8_t)(i * 7);
  bytes s = hex_bytes("82 7e 02 80");
  put(&s, pcm, sizeof pcm);
  char want[64];
  fmt_payload(pcm, sizeof pcm, want + 7, sizeof want - 7);
  memcpy(want, "BINARY:", 7);
  expect_whole(DT_WS_ROLE_CLIENT, 0, &s, want);
  free(s.p);
}

static void test_close_vectors(void)
{
  uint8_t out[DT_WS_MAX_CONTROL_FRAME];
  bytes s = hex_bytes("88 02 03 e8");
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 1000, NULL, 0, NULL), 4);
  CHECK(memcmp(out, s.p, 4) == 0);
  expect_splits(DT_WS_ROLE_CLIENT, 0, &s, "CLOSE:1000:");
  free(s.p);

  s = hex_bytes("88 82 37 fa 21 3d 34 12");
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 1000, NULL, 0, KEY), 8);
  CHECK(memcmp(out, s.p, 8) == 0);
  expect_splits(DT_WS_ROLE_SERVER, 0, &s, "CLOSE:1000:");
  free(s.p);
}

/* ---- protocol rules ---- */

static void test_fragmented_with_ping(void)
{
  for (int role = 0; role < 2; role++) {
    const uint8_t *m = role == DT_WS_ROLE_SERVER ? KEY : NULL;
    bytes s = { 0 };
    put_frame(&s, DT_WS_OP_TEXT, 0, "Hel", 3, m);
    put_frame(&s, DT_WS_OP_PING, 1, "p", 1, m);
    put_frame(&s, DT_WS_OP_CONT, 0, "", 0, m);
    put_frame(&s, DT_WS_OP_PONG, 1, "q", 1, m);
    put_frame(&s, DT_WS_OP_CONT, 1, "lo", 2, m);
    put_frame(&s, DT_WS_OP_BINARY, 1, "x", 1, m);
    expect_splits((dt_ws_role)role, 0, &s, "PING:p|PONG:q|TEXT:Hello|BINARY:x");
    free(s.p);
  }
}

static void test_ping_answered(void)
{
  bytes s = { 0 };
  put_frame(&s, DT_WS_OP_PING, 1, "are you there", 13, KEY);
  dt_ws_decoder d;
  dt_ws_decoder_init(&d, DT_WS_ROLE_SERVER, 0);
  size_t used;
  dt_ws_event ev;
  CHECK_EQ_INT(dt_ws_decode(&d, s.p, s.n, &used, &ev), DT_WS_EV_PING);
  uint8_t pong[DT_WS_MAX_CONTROL_FRAME];
  int n = dt_ws_build_control(pong, sizeof pong, DT_WS_OP_PONG, ev.data, ev.len, NULL);
  bytes r = { 0 };
  put(&r, pong, (size_t)(n > 0 ? n : 0));
  expect_whole(DT_WS_ROLE_CLIENT, 0, &r, "PONG:are you there");
  dt_ws_decoder_free(&d);
  free(r.p);
  free(s.p);
}

static void test_sequence_errors(void)
{
  expect_error(DT_WS_ROLE_CLIENT, "80 02 6c 6f", 1002);                /* continuation first */
  expect_error(DT_WS_ROLE_CLIENT, "00 00", 1002);
  expect_error(DT_WS_ROLE_CLIENT, "01 01 61 81 01 62", 1002);          /* text in open text */
  expect_error(DT_WS_ROLE_CLIENT, "02 01 61 02 01 62", 1002);          /* binary in binary */
  expect_error(DT_WS_ROLE_SERVER, "81 05 48 65 6c 6c 6f", 1002);       /* unmasked to server */
  expect_error(DT_WS_ROLE_CLIENT, "89 80 00 00 00 00", 1002);          /* masked to client */
}

static void test_continuation_after_end(void)
{
  bytes s = hex_bytes("01 01 61 80 01 62 80 01 63");
  expect_splits(DT_WS_ROLE_CLIENT, 0, &s, "TEXT:ab|ERROR:1002");
  free(s.p);
}

static void test_reserved_bits_and_opcodes(void)
{
  const char *rsv[] = { "c1 00", "a1 00", "91 00", "f1 00", "c9 00" };
  for (size_t i = 0; i < sizeof rsv / sizeof *rsv; i++) expect_error(DT_WS_ROLE_CLIENT, rsv[i], 1002);
  for (unsigned op = 0; op < 16; op++) {
    if (op <= 2 || (op >= 8 && op <= 10)) continue;
    char hex[32];
    snprintf(hex, sizeof hex, "%02x 80 00 00 00 00", 0x80 | op);
    expect_error(DT_WS_ROLE_SERVER, hex, 1002);
    snprintf(hex, sizeof hex, "%02x 00", op);
    expect_error(DT_WS_ROLE_CLIENT, hex, 1002);
  }
}

static void test_control_limits(void)
{
  expect_error(DT_WS_ROLE_CLIENT, "89 7e 00 7e", 1002); /* ping of 126 bytes */
  expect_error(DT_WS_ROLE_CLIENT, "09 00", 1002);       /* fragmented ping */
  expect_error(DT_WS_ROLE_CLIENT, "0a 00", 1002);
  expect_error(DT_WS_ROLE_CLIENT, "08 02 03 e8", 1002);
  expect_error(DT_WS_ROLE_CLIENT, "01 01 61 09 00", 1002); /* inside a message too */
  uint8_t p[125];
  memset(p, 'z', sizeof p);
  bytes s = { 0 };
  put_frame(&s, DT_WS_OP_PING, 1, p, sizeof p, KEY);
  char want[160];
  snprintf(want, sizeof want, "PING:#125:");
  events e;
  run_cuts(DT_WS_ROLE_SERVER, 0, &s, NULL, 0, &e);
  CHECK(strncmp(e.text, want, strlen(want)) == 0);
  free(s.p);
}

static void test_close_codes(void)
{
  const unsigned bad[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535 };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    char hex[32];
    snprintf(hex, sizeof hex, "88 02 %02x %02x", bad[i] >> 8, bad[i] & 0xff);
    expect_error(DT_WS_ROLE_CLIENT, hex, 1002);
    CHECK(!dt_ws_close_code_valid(bad[i]));
  }
  const unsigned good[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 3000, 4999 };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    bytes s = { 0 };
    uint8_t f[DT_WS_MAX_CONTROL_FRAME];
    int n = dt_ws_build_close(f, sizeof f, (uint16_t)good[i], "bye", 3, KEY);
    put(&s, f, (size_t)(n > 0 ? n : 0));
    char want[32];
    snprintf(want, sizeof want, "CLOSE:%u:bye", good[i]);
    expect_whole(DT_WS_ROLE_SERVER, 0, &s, want);
    free(s.p);
  }
  bytes empty = hex_bytes("88 00");
  expect_splits(DT_WS_ROLE_CLIENT, 0, &empty, "CLOSE:1005:");
  free(empty.p);
  expect_error(DT_WS_ROLE_CLIENT, "88 01 03", 1002);
  expect_error(DT_WS_ROLE_CLIENT, "88 04 03 e8 c3 28", 1007);  /* reason not UTF-8 */
  expect_error(DT_WS_ROLE_CLIENT, "88 03 03 e8 e2", 1007);     /* truncated reason */
  bytes after = hex_bytes("88 04 03 e8 6f 6b 81 01 61 ff ff");  /* data after close ignored */
  expect_splits(DT_WS_ROLE_CLIENT, 0, &after, "CLOSE:1000:ok");
  free(after.p);
  bytes utf8 = hex_bytes("88 07 0f a0 c3 a9 e2 82 ac"); /* 4000 with a multi-byte reason */
  char want[64] = "CLOSE:4000:";
  fmt_payload(utf8.p + 4, 5, want + strlen(want), sizeof want - strlen(want));
  expect_splits(DT_WS_ROLE_CLIENT, 0, &utf8, want);
  free(utf8.p);
}

static const char *const bad_utf8[] = {
  "80", "bf", "c0 af", "c1 bf", "e0 80 af", "e0 9f bf", "f0 80 80 af", "f0 8f bf bf",
  "ed a0 80", "ed bf bf", "ed af bf ed b0 80", "f4 90 80 80", "f5 80 80 80", "f7 bf bf bf",
  "f8 88 80 80 80", "fc 84 80 80 80 80", "fe", "ff", "c2", "e2 82", "f0 9f 98", "c2 41",
  "e2 28 a1", "61 62 63 ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64",
};

static void test_text_invalid_utf8(void)
{
  for (size_t i = 0; i < sizeof bad_utf8 / sizeof *bad_utf8; i++) {
    bytes p = hex_bytes(bad_utf8[i]);
    CHECK(!dt_ws_utf8_valid(p.p, p.n));
    for (int role = 0; role < 2; role++) {
      const uint8_t *m = role == DT_WS_ROLE_SERVER ? KEY : NULL;
      bytes s = { 0 }, f = { 0 };
      put_frame(&s, DT_WS_OP_TEXT, 1, p.p, p.n, m);
      expect_splits((dt_ws_role)role, 0, &s, "ERROR:1007");
      put_frame(&f, DT_WS_OP_TEXT, 0, p.p, 1, m); /* the same, one byte per fragment */
      for (size_t j = 1; j < p.n; j++) put_frame(&f, DT_WS_OP_CONT, j + 1 == p.n, p.p + j, 1, m);
      if (p.n == 1) put_frame(&f, DT_WS_OP_CONT, 1, "", 0, m);
      expect_whole((dt_ws_role)role, 0, &f, "ERROR:1007");
      free(s.p);
      free(f.p);
    }
    free(p.p);
  }
}

static void test_text_valid_utf8_split(void)
{
  /* "κόσμε", U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFD, U+FFFF, U+10000, U+10FFFF, NUL */
  bytes p = hex_bytes("ce ba e1 bd b9 cf 83 ce bc ce b5 c2 80 df bf e0 a0 80 ed 9f bf ee 80 80 "
                      "ef bf bd ef bf bf f0 90 80 80 f4 8f bf bf 00");
  CHECK(dt_ws_utf8_valid(p.p, p.n));
  char want[64] = "TEXT:";
  fmt_payload(p.p, p.n, want + 5, sizeof want - 5);
  for (size_t cut = 0; cut <= p.n; cut++) {
    bytes s = { 0 };
    put_frame(&s, DT_WS_OP_TEXT, 0, p.p, cut, KEY);
    put_frame(&s, DT_WS_OP_CONT, 1, p.p + cut, p.n - cut, KEY);
    expect_whole(DT_WS_ROLE_SERVER, 0, &s, want);
    free(s.p);
  }
  bytes s = { 0 };
  put_frame(&s, DT_WS_OP_TEXT, 1, p.p, p.n, NULL);
  expect_splits(DT_WS_ROLE_CLIENT, 0, &s, want);
  free(s.p);
  free(p.p);
}

/* An invalid byte fails the message at once, before its last fragment arrives. */
static void test_utf8_fails_fast(void)
{
  bytes s = hex_bytes("01 03 61 ff 62");
  expect_whole(DT_WS_ROLE_CLIENT, 0, &s, "ERROR:1007");
  free(s.p);
}

static void test_lengths(void)
{
  expect_error(DT_WS_ROLE_CLIENT, "82 7f 80 00 00 00 00 00 00 00", 1002);
  expect_error(DT_WS_ROLE_SERVER, "82 ff ff ff ff ff ff ff ff ff 00 00 00 00", 1002);
  /* Non-minimal encodings are rejected (RFC 6455 §5.2: the minimal form MUST be used). */
  expect_error(DT_WS_ROLE_CLIENT, "82 7e 00 05 61 62 63 64 65", 1002);
  expect_error(DT_WS_ROLE_CLIENT, "82 7e 00 7d", 1002);
  expect_error(DT_WS_ROLE_CLIENT, "82 7f 00 00 00 00 00 00 ff ff", 1002);
  expect_error(DT_WS_ROLE_CLIENT, "82 7f 00 00 00 00 00 00 00 01 61", 1002);
  /* A huge declared length fails on the header alone (1009), without waiting for data. */
  expect_error(DT_WS_ROLE_CLIENT, "82 7f 7f ff ff ff ff ff ff ff", 1009);
  expect_error(DT_WS_ROLE_CLIENT, "82 7f 00 00 00 00 00 10 00 01", 1009);
}

static void test_max_size(void)
{
  uint8_t p[1001];
  memset(p, 'a', sizeof p);
  bytes s = { 0 };
  put_frame(&s, DT_WS_OP_TEXT, 1, p, 1001, KEY);
  s.n = 8; /* the header only */
  expect_whole(DT_WS_ROLE_SERVER, 1000, &s, "ERROR:1009");
  s.n = 0;
  put_frame(&s, DT_WS_OP_BINARY, 0, p, 600, NULL);
  put_frame(&s, DT_WS_OP_PING, 1, "", 0, NULL);
  put_frame(&s, DT_WS_OP_CONT, 0, p, 400, NULL);
  size_t ok_len = s.n;
  put_frame(&s, DT_WS_OP_CONT, 1, p, 1, NULL);
  expect_whole(DT_WS_ROLE_CLIENT, 1000, &s, "PING:|ERROR:1009");
  s.n = ok_len;
  put_frame(&s, DT_WS_OP_CONT, 1, "", 0, NULL);
  char want[64] = "PING:|BINARY:";
  fmt_payload(p, 1000, want + strlen(want), sizeof want - strlen(want));
  expect_whole(DT_WS_ROLE_CLIENT, 1000, &s, want);
  free(s.p);
}

static void test_errors_are_sticky(void)
{
  bytes s = hex_bytes("c1 00 81 01 61");
  dt_ws_decoder d;
  dt_ws_decoder_init(&d, DT_WS_ROLE_CLIENT, 0);
  size_t used;
  dt_ws_event ev;
  CHECK_EQ_INT(dt_ws_decode(&d, s.p, s.n, &used, &ev), DT_WS_EV_ERROR);
  CHECK_EQ_INT(ev.code, 1002);
  CHECK_EQ_INT(dt_ws_decode(&d, s.p + 2, 3, &used, &ev), DT_WS_EV_ERROR);
  CHECK_EQ_INT(used, 0);
  CHECK_EQ_INT(ev.code, 1002);
  dt_ws_decoder_free(&d);
  free(s.p);
}

/* A complete frame is unmasked in place: the event points into the caller's buffer. */
static void test_zero_copy(void)
{
  bytes s = hex_bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58 89 80 37 fa 21 3d");
  dt_ws_decoder d;
  dt_ws_decoder_init(&d, DT_WS_ROLE_SERVER, 0);
  size_t used;
  dt_ws_event ev;
  CHECK_EQ_INT(dt_ws_decode(&d, s.p, s.n, &used, &ev), DT_WS_EV_TEXT);
  CHECK_EQ_INT(used, 11);
  CHECK(ev.data == s.p + 6 && ev.len == 5 && memcmp(s.p + 6, "Hello", 5) == 0);
  CHECK_EQ_INT(dt_ws_decode(&d, s.p + 11, s.n - 11, &used, &ev), DT_WS_EV_PING);
  CHECK_EQ_INT(ev.len, 0);
  /* Split: copied into the decoder, the input left masked. */
  free(s.p);
  s = hex_bytes("81 85 37 fa 21 3d 7f 9f 4d 51 58");
  CHECK_EQ_INT(dt_ws_decode(&d, s.p, 8, &used, &ev), DT_WS_EV_MORE);
  CHECK_EQ_INT(dt_ws_decode(&d, s.p + 8, 3, &used, &ev), DT_WS_EV_TEXT);
  CHECK(ev.data < s.p || ev.data >= s.p + s.n);
  CHECK(ev.len == 5 && memcmp(ev.data, "Hello", 5) == 0 && s.p[6] == 0x7f);
  dt_ws_decoder_free(&d);
  free(s.p);
}

/* One decoder across a large buffered message, a small one, and a large one again. */
static void test_buffer_reuse(void)
{
  static uint8_t big[100000];
  memset(big, 'b', sizeof big);
  bytes s = { 0 };
  put_frame(&s, DT_WS_OP_BINARY, 1, big, sizeof big, KEY);
  put_frame(&s, DT_WS_OP_TEXT, 0, "sm", 2, KEY);
  put_frame(&s, DT_WS_OP_CONT, 1, "all", 3, KEY);
  put_frame(&s, DT_WS_OP_BINARY, 0, big, 70000, KEY);
  put_frame(&s, DT_WS_OP_CONT, 1, big, 30000, KEY);
  char pl[64], want[200];
  fmt_payload(big, sizeof big, pl, sizeof pl);
  snprintf(want, sizeof want, "BINARY:%s|TEXT:small|BINARY:%s", pl, pl);
  size_t cuts[] = { 1000, 100020, 100030, 100040, 150000 };
  events e;
  run_cuts(DT_WS_ROLE_SERVER, 0, &s, cuts, 5, &e);
  CHECK_EQ_STR(e.text, want);
  free(s.p);
}

static void test_encoder_rules(void)
{
  uint8_t h[DT_WS_MAX_HEADER], out[DT_WS_MAX_CONTROL_FRAME], big[126] = { 0 };
  CHECK_EQ_INT(dt_ws_write_header(h, 3, 1, 0, NULL), -1);
  CHECK_EQ_INT(dt_ws_write_header(h, 16, 1, 0, NULL), -1);
  CHECK_EQ_INT(dt_ws_write_header(h, DT_WS_OP_PING, 0, 0, NULL), -1);
  CHECK_EQ_INT(dt_ws_write_header(h, DT_WS_OP_PING, 1, 126, NULL), -1);
  CHECK_EQ_INT(dt_ws_write_header(h, DT_WS_OP_BINARY, 1, (uint64_t)1 << 63, NULL), -1);
  CHECK_EQ_INT(dt_ws_write_header(h, DT_WS_OP_BINARY, 0, (uint64_t)1 << 40, KEY), 14);
  CHECK_EQ_INT(dt_ws_build_control(out, sizeof out, DT_WS_OP_TEXT, big, 1, NULL), -1);
  CHECK_EQ_INT(dt_ws_build_control(out, sizeof out, DT_WS_OP_PING, big, 126, NULL), -1);
  CHECK_EQ_INT(dt_ws_build_control(out, 130, DT_WS_OP_PING, big, 125, KEY), -1);
  CHECK_EQ_INT(dt_ws_build_control(out, 131, DT_WS_OP_PING, big, 125, KEY), 131);
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 1005, NULL, 0, NULL), -1);
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 0, "x", 1, NULL), -1);
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 0, NULL, 0, NULL), 2);
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 1000, "\xc3\x28", 2, NULL), -1);
  memset(big, 'r', sizeof big);
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 1000, (char *)big, 124, NULL), -1);
  CHECK_EQ_INT(dt_ws_build_close(out, sizeof out, 1000, (char *)big, 123, NULL), 127);

  uint8_t a[37], b[37];
  for (size_t i = 0; i < sizeof a; i++) a[i] = b[i] = (uint8_t)(i * 13);
  dt_ws_mask(a, sizeof a, KEY, 0);
  dt_ws_mask(b, 5, KEY, 0);
  dt_ws_mask(b + 5, 11, KEY, 5);
  dt_ws_mask(b + 16, 21, KEY, 16);
  CHECK(memcmp(a, b, sizeof a) == 0);
  CHECK_EQ_INT(a[4], (uint8_t)(4 * 13) ^ KEY[0]);
}

/* ---- encoder -> decoder round trips ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* Valid UTF-8 with 1- to 4-byte sequences, padded with ASCII to exactly n bytes. */
static void fill_text(uint8_t *p, size_t n)
{
  static const char pat[] = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
  size_t i = 0;
  for (; i + 10 <= n; i += 10) memcpy(p + i, pat, 10);
  memset(p + i, 'a', n - i);
}

/* A message (fragmented at random when asked, a ping after each fragment) then a close.
 * Returns the number of pings. */
static int build_stream(bytes *s, dt_ws_role role, int op, const uint8_t *p, size_t n, int frag)
{
  uint8_t key[4];
  const uint8_t *m = role == DT_WS_ROLE_SERVER ? key : NULL;
  uint64_t k = rnd();
  memcpy(key, &k, 4);
  size_t at = 0;
  int pings = 0;
  while (frag && n - at > 1) {
    size_t piece = (size_t)(rnd() % (n - at));
    put_frame(s, at ? DT_WS_OP_CONT : op, 0, p + at, piece, m);
    put_frame(s, DT_WS_OP_PING, 1, "k", 1, m);
    pings++;
    at += piece;
    frag = (int)(rnd() % 4);
  }
  put_frame(s, at ? DT_WS_OP_CONT : op, 1, p + at, n - at, m);
  uint8_t c[DT_WS_MAX_CONTROL_FRAME];
  int cl = dt_ws_build_close(c, sizeof c, 1000, "done", 4, m);
  put(s, c, (size_t)(cl > 0 ? cl : 0));
  return pings;
}

static void random_splits(dt_ws_role role, const bytes *s, const char *want)
{
  static size_t cuts[4096];
  for (int round = 0; round < 6; round++) {
    int nc = 0;
    size_t at = 0, span = round % 2 ? 17 : 70000;
    while (nc < 4096 && (at += 1 + (size_t)(rnd() % span)) < s->n) cuts[nc++] = at;
    events e;
    run_cuts(role, 0, s, cuts, nc, &e);
    CHECK_EQ_STR(e.text, want);
  }
}

static void roundtrip(size_t n, int every_split)
{
  uint8_t *p = malloc(n ? n : 1);
  if (!p) abort();
  for (int op = DT_WS_OP_TEXT; op <= DT_WS_OP_BINARY; op++) {
    if (op == DT_WS_OP_TEXT) fill_text(p, n);
    else for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd();
    char pl[64];
    fmt_payload(p, n, pl, sizeof pl);
    for (int role = 0; role < 2; role++) {
      for (int frag = 0; frag < 2; frag++) {
        bytes s = { 0 };
        char want[2048] = "";
        for (int i = build_stream(&s, (dt_ws_role)role, op, p, n, frag); i > 0; i--)
          strcat(want, "PING:k|");
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s:%s|CLOSE:1000:done",
                 op == DT_WS_OP_TEXT ? "TEXT" : "BINARY", pl);
        if (every_split) expect_splits((dt_ws_role)role, 0, &s, want);
        else random_splits((dt_ws_role)role, &s, want);
        free(s.p);
      }
    }
  }
  free(p);
}

static void test_roundtrip_small(void)
{
  roundtrip(0, 1);
  roundtrip(125, 1);
  roundtrip(126, 1);
}

static void test_roundtrip_large(void)
{
  roundtrip(65535, 0);
  roundtrip(65536, 0);
  roundtrip(MIB, 0);
}

TEST_MAIN(TEST(test_vectors), TEST(test_header_vectors), TEST(test_close_vectors),
          TEST(test_fragmented_with_ping), TEST(test_ping_answered), TEST(test_sequence_errors), TEST(test_continuation_after_end),
          TEST(test_reserved_bits_and_opcodes), TEST(test_control_limits), TEST(test_close_codes),
          TEST(test_text_invalid_utf8), TEST(test_text_valid_utf8_split), TEST(test_utf8_fails_fast),
          TEST(test_lengths), TEST(test_max_size), TEST(test_errors_are_sticky), TEST(test_zero_copy),
          TEST(test_buffer_reuse), TEST(test_encoder_rules), TEST(test_roundtrip_small), TEST(test_roundtrip_large))
