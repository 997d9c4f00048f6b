#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"
#include "testlib.h"

static dt_http_limits small_limits(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  l.max_header_bytes = 256;
  l.max_headers = 5;
  l.max_url = 64;
  l.max_body = 16;
  return l;
}

typedef struct {
  char text[8192]; /* one line per event: requests, "continue", the final state */
  size_t len;
  int status;      /* error status, 0 if none */
  int requests, continues;
} outcome;

static void note(outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(outcome *o, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(o->text + o->len, sizeof o->text - o->len, fmt, ap);
  va_end(ap);
  if (n > 0 && (size_t)n < sizeof o->text - o->len) o->len += (size_t)n;
}

static void note_request(outcome *o, const dt_http_request *r)
{
  note(o, "%s %s [%s|%s] ka=%d body=%zu\n", r->method, r->target, r->path, r->query,
       r->keep_alive, r->body_len);
  for (size_t i = 0; i < r->header_count; i++)
    note(o, "  %s=%s\n", r->headers[i].name, r->headers[i].value);
  note(o, "  body:%.64s\n", r->body);
  o->requests++;
}

/* Feeds the input in pieces like the server does: unused bytes are kept and fed again.
 * mode 0: all at once; 1: one byte at a time; 2: random pieces from seed. */
static outcome run(const dt_http_limits *l, const char *in, size_t len, int mode, unsigned seed)
{
  outcome o = { .len = 0 };
  dt_http_parser *p = dt_http_parser_new(l);
  char *pending = malloc(len + 1);
  size_t have = 0, given = 0;
  int r = DT_HTTP_PARSE_MORE;
  while (p && pending && given < len && r != DT_HTTP_PARSE_ERROR) {
    size_t step = mode == 0 ? len : mode == 1 ? 1 : 1 + (size_t)(rand_r(&seed) % 37);
    if (step > len - given) step = len - given;
    memcpy(pending + have, in + given, step);
    have += step;
    given += step;
    while (have > 0) {
      size_t used;
      r = dt_http_parser_feed(p, pending, have, &used);
      CHECK(used <= have);
      memmove(pending, pending + used, have - used);
      have -= used;
      if (r == DT_HTTP_PARSE_DONE) note_request(&o, dt_http_parser_request(p));
      else if (r == DT_HTTP_PARSE_CONTINUE) {
        note(&o, "continue\n");
        o.continues++;
      }
      else break;
    }
  }
  if (r == DT_HTTP_PARSE_ERROR) {
    const dt_http_parse_error *e = dt_http_parser_error(p);
    o.status = e->status;
    note(&o, "error %s\n", e->code);
  } else if (p && dt_http_parser_in_progress(p)) {
    note(&o, "incomplete\n");
  }
  free(pending);
  dt_http_parser_free(p);
  return o;
}

static outcome run_str(const dt_http_limits *l, const char *in)
{
  return run(l, in, strlen(in), 0, 0);
}

/* The same outcome however the input is split. */
static outcome run_all_splits(const dt_http_limits *l, const char *in, size_t len)
{
  outcome whole = run(l, in, len, 0, 0);
  outcome bytes = run(l, in, len, 1, 0);
  CHECK_EQ_STR(bytes.text, whole.text);
  for (unsigned seed = 1; seed <= 50; seed++) {
    outcome r = run(l, in, len, 2, seed);
    CHECK_EQ_STR(r.text, whole.text);
  }
  return whole;
}

static void test_simple_get(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  dt_http_parser *p = dt_http_parser_new(&l);
  const char *in = "GET /calls/7?a=1&b= HTTP/1.1\r\nHost: x\r\nX-Mixed-CASE:  v w \t\r\n\r\n";
  size_t used;
  CHECK_EQ_INT(dt_http_parser_feed(p, in, strlen(in), &used), DT_HTTP_PARSE_DONE);
  CHECK_EQ_INT(used, strlen(in));
  dt_http_request *r = dt_http_parser_request(p);
  CHECK_EQ_STR(r->method, "GET");
  CHECK_EQ_STR(r->target, "/calls/7?a=1&b=");
  CHECK_EQ_STR(r->path, "/calls/7");
  CHECK_EQ_STR(r->query, "a=1&b=");
  CHECK_EQ_INT(r->header_count, 2);
  CHECK_EQ_STR(dt_http_header_get(r, "x-mixed-case"), "v w");
  CHECK_EQ_STR(dt_http_header_get(r, "host"), "x");
  CHECK(dt_http_header_get(r, "Host") == NULL);
  CHECK_EQ_STR(r->body, "");
  CHECK_EQ_INT(r->body_len, 0);
  CHECK_EQ_INT(r->keep_alive, 1);
  CHECK(!dt_http_parser_in_progress(p));
  CHECK(dt_http_parser_error(p) == NULL);
  dt_http_parser_free(p);
}

/* Path and query are copied after the target in a buffer that may have to grow. */
static void test_long_target(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  char target[2100], in[2200], want[2100];
  for (size_t len = 200; len < 2100; len += 97) {
    memset(target, 'p', len);
    target[0] = '/';
    target[len / 2] = '?';
    target[len] = '\0';
    snprintf(in, sizeof in, "GET %s HTTP/1.1\r\n\r\n", target);
    dt_http_parser *p = dt_http_parser_new(&l);
    size_t used;
    CHECK_EQ_INT(dt_http_parser_feed(p, in, strlen(in), &used), DT_HTTP_PARSE_DONE);
    dt_http_request *r = dt_http_parser_request(p);
    CHECK_EQ_STR(r->target, target);
    memcpy(want, target, len / 2);
    want[len / 2] = '\0';
    CHECK_EQ_STR(r->path, want);
    CHECK_EQ_STR(r->query, target + len / 2 + 1);
    dt_http_parser_free(p);
  }
}

/* A request whose line and headers take exactly n bytes. */
static size_t request_of_size(char *out, size_t n)
{
  const char *head = "GET / HTTP/1.1\r\nX: ", *tail = "\r\n\r\n";
  size_t fixed = strlen(head) + strlen(tail);
  memset(out, 'a', n);
  memcpy(out, head, strlen(head));
  memcpy(out + n - strlen(tail), tail, strlen(tail));
  out[n] = '\0';
  return n - fixed;
}

static void test_header_bytes_limit(void)
{
  dt_http_limits l = small_limits();
  char buf[512];
  request_of_size(buf, 256);
  outcome o = run_all_splits(&l, buf, 256);
  CHECK_EQ_INT(o.status, 0);
  CHECK_EQ_INT(o.requests, 1);
  request_of_size(buf, 257);
  o = run_all_splits(&l, buf, 257);
  CHECK_EQ_INT(o.status, 431);
  CHECK(strstr(o.text, "header_too_large") != NULL);
  /* Never-ending headers fail as soon as the limit is reached, without waiting. */
  memset(buf, 'a', sizeof buf);
  memcpy(buf, "GET / HTTP/1.1\r\nX: ", 19);
  o = run(&l, buf, 300, 0, 0);
  CHECK_EQ_INT(o.status, 431);
  o = run(&l, buf, 256, 0, 0);
  CHECK_EQ_INT(o.status, 431);
  o = run(&l, buf, 255, 0, 0);
  CHECK_EQ_INT(o.status, 0);
}

static void test_header_count_limit(void)
{
  dt_http_limits l = small_limits();
  outcome o = run_str(&l, "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\n\r\n");
  CHECK_EQ_INT(o.status, 0);
  CHECK_EQ_INT(o.requests, 1);
  o = run_str(&l, "GET / HTTP/1.1\r\na: 1\r\nb: 2\r\nc: 3\r\nd: 4\r\ne: 5\r\nf: 6\r\n\r\n");
  CHECK_EQ_INT(o.status, 431);
  CHECK(strstr(o.text, "too_many_headers") != NULL);
}

static void test_url_limit(void)
{
  dt_http_limits l = small_limits();
  char buf[256], url[80];
  memset(url, 'u', sizeof url);
  url[0] = '/';
  url[64] = '\0';
  snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\n\r\n", url);
  outcome o = run_all_splits(&l, buf, strlen(buf));
  CHECK_EQ_INT(o.status, 0);
  url[64] = 'u';
  url[65] = '\0';
  snprintf(buf, sizeof buf, "GET %s HTTP/1.1\r\n\r\n", url);
  o = run_all_splits(&l, buf, strlen(buf));
  CHECK_EQ_INT(o.status, 414);
  CHECK(strstr(o.text, "uri_too_long") != NULL);
}

static void test_body_limit(void)
{
  dt_http_limits l = small_limits();
  outcome o = run_str(&l, "POST / HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
  CHECK_EQ_INT(o.status, 0);
  CHECK(strstr(o.text, "body:0123456789abcdef\n") != NULL);
  /* Rejected on the header alone, before any body byte. */
  o = run_str(&l, "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n");
  CHECK_EQ_INT(o.status, 413);
  CHECK(strstr(o.text, "body_too_large") != NULL);
  o = run_str(&l, "POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n");
  CHECK_EQ_INT(o.status, 413);
  const char *chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "a\r\n0123456789\r\n6\r\nabcdef\r\n0\r\n\r\n";
  o = run_all_splits(&l, chunked, strlen(chunked));
  CHECK_EQ_INT(o.status, 0);
  CHECK(strstr(o.text, "body:0123456789abcdef\n") != NULL);
  const char *over = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "a\r\n0123456789\r\n7\r\nabcdefg\r\n0\r\n\r\n";
  o = run_all_splits(&l, over, strlen(over));
  CHECK_EQ_INT(o.status, 413);
}

static void expect_status(const char *in, int status)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  outcome o = run_all_splits(&l, in, strlen(in));
  if (o.status != status) fprintf(stderr, "  input: %s\n  outcome: %s\n", in, o.text);
  CHECK_EQ_INT(o.status, status);
}

static void test_malformed(void)
{
  const char *te = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  char buf[256];
  snprintf(buf, sizeof buf, "%szz\r\nabc\r\n0\r\n\r\n", te);
  expect_status(buf, 400);
  snprintf(buf, sizeof buf, "%sffffffffffffffffff\r\nabc\r\n", te);
  expect_status(buf, 400);
  snprintf(buf, sizeof buf, "%s3\r\nabcX\r\n0\r\n\r\n", te);
  expect_status(buf, 400);
  /* Request smuggling: both framings, or two lengths. */
  expect_status("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                "0\r\n\r\n", 400);
  expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                "0\r\n\r\n", 400);
  expect_status("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400);
  expect_status("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400);
  expect_status("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n", 400);
  expect_status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400);
  expect_status("BREW / HTTP/1.1\r\n\r\n", 400);
  expect_status("get / HTTP/1.1\r\n\r\n", 400);
  expect_status("GET / HTTP/9.1\r\n\r\n", 400);
  expect_status("GET /a b HTTP/1.1\r\n\r\n", 400);
  expect_status("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400);
  expect_status("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
  expect_status("GET / HTTP/1.1\r\n: x\r\n\r\n", 400);
  expect_status("GET / HTTP/1.1\r\n X: a\r\n\r\n", 400);
  expect_status("GET /a\tb HTTP/1.1\r\n\r\n", 400);
  expect_status("GET /a\x0c" "b HTTP/1.1\r\n\r\n", 400);
  expect_status("GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400);
  expect_status("GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n", 400);
  expect_status("GET / HTTP/1.1\r\nX: a\x7f" "b\r\n\r\n", 400);
  /* llhttp 8.1 rejects a bare LF as a line ending. */
  expect_status("GET / HTTP/1.1\nHost: x\n\n", 400);
  expect_status("GET / HTTP/1.1\r\nHost: x\n\r\n", 400);
}

static void test_nul_in_header(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  static const char in[] = "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n";
  outcome o = run_all_splits(&l, in, sizeof in - 1);
  CHECK_EQ_INT(o.status, 400);
  static const char name[] = "GET / HTTP/1.1\r\nX\0: ab\r\n\r\n";
  o = run_all_splits(&l, name, sizeof name - 1);
  CHECK_EQ_INT(o.status, 400);
}

static void test_errors_are_sticky(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  dt_http_parser *p = dt_http_parser_new(&l);
  size_t used;
  CHECK_EQ_INT(dt_http_parser_feed(p, "XX / HTTP/1.1\r\n", 15, &used), DT_HTTP_PARSE_ERROR);
  CHECK_EQ_INT(dt_http_parser_feed(p, "GET / HTTP/1.1\r\n\r\n", 18, &used), DT_HTTP_PARSE_ERROR);
  CHECK_EQ_INT(used, 0);
  CHECK_EQ_INT(dt_http_parser_error(p)->status, 400);
  CHECK_EQ_STR(dt_http_parser_error(p)->code, "bad_request");
  dt_http_parser_free(p);
}

static const char pipeline[] =
  "GET /one?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"
  "POST /two HTTP/1.1\r\nContent-Length: 5\r\nX-Fold: a\r\n b\r\n\r\nhello"
  "\r\n" /* stray CRLF between requests is tolerated */
  "POST /three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
  "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer-Field: t\r\n\r\n"
  "HEAD /four HTTP/1.1\r\n\r\n"
  "PUT /five HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
  "GET /six HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
  "GET /seven HTTP/1.0\r\n\r\n";

static void test_pipelined_splits(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  outcome o = run_all_splits(&l, pipeline, sizeof pipeline - 1);
  CHECK_EQ_INT(o.status, 0);
  CHECK_EQ_INT(o.requests, 7);
  CHECK(strstr(o.text, "GET /one?x=1 [/one|x=1] ka=1 body=0\n") != NULL);
  CHECK(strstr(o.text, "POST /two [/two|] ka=1 body=5\n") != NULL);
  CHECK(strstr(o.text, "body:hello\n") != NULL);
  CHECK(strstr(o.text, "x-fold=a") != NULL);
  CHECK(strstr(o.text, "body:abcde\n") != NULL);
  CHECK(strstr(o.text, "trailer-field") == NULL);
  CHECK(strstr(o.text, "HEAD /four") != NULL);
  CHECK(strstr(o.text, "continue\nPUT /five [/five|] ka=1 body=2\n") != NULL);
  CHECK(strstr(o.text, "GET /six [/six|] ka=1") != NULL);
  CHECK(strstr(o.text, "GET /seven [/seven|] ka=0") != NULL);
  /* Each request is reported with exactly its bytes: the rest stays with the caller. */
  dt_http_parser *p = dt_http_parser_new(&l);
  size_t used;
  CHECK_EQ_INT(dt_http_parser_feed(p, pipeline, sizeof pipeline - 1, &used), DT_HTTP_PARSE_DONE);
  CHECK_EQ_INT(used, strlen("GET /one?x=1 HTTP/1.1\r\nHost: a\r\n\r\n"));
  dt_http_parser_free(p);
}

static void test_obs_fold(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  dt_http_parser *p = dt_http_parser_new(&l);
  const char *in = "GET / HTTP/1.1\r\nX-Fold: a\r\n\tb\r\n\r\n";
  size_t used;
  CHECK_EQ_INT(dt_http_parser_feed(p, in, strlen(in), &used), DT_HTTP_PARSE_DONE);
  const char *v = dt_http_header_get(dt_http_parser_request(p), "x-fold");
  CHECK(v != NULL && strchr(v, '\r') == NULL && strchr(v, '\n') == NULL);
  CHECK(v != NULL && v[0] == 'a' && v[strlen(v) - 1] == 'b');
  dt_http_parser_free(p);
}

static void test_keep_alive(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  outcome o = run_str(&l, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n");
  CHECK(strstr(o.text, "ka=0") != NULL);
  o = run_str(&l, "GET / HTTP/1.0\r\n\r\n");
  CHECK(strstr(o.text, "ka=0") != NULL);
  o = run_str(&l, "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  CHECK(strstr(o.text, "ka=1") != NULL);
  o = run_str(&l, "GET / HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
  CHECK(strstr(o.text, "ka=0") != NULL);
}

static void test_expect_continue(void)
{
  dt_http_limits l = small_limits();
  dt_http_parser *p = dt_http_parser_new(&l);
  const char *head = "POST /u HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
  size_t used;
  CHECK_EQ_INT(dt_http_parser_feed(p, head, strlen(head), &used), DT_HTTP_PARSE_CONTINUE);
  CHECK_EQ_INT(used, strlen(head));
  CHECK(dt_http_parser_in_progress(p));
  CHECK_EQ_INT(dt_http_parser_feed(p, "ab", 2, &used), DT_HTTP_PARSE_MORE);
  CHECK_EQ_INT(dt_http_parser_feed(p, "cd", 2, &used), DT_HTTP_PARSE_DONE);
  CHECK_EQ_STR(dt_http_parser_request(p)->body, "abcd");
  dt_http_parser_free(p);
  /* Too large: 413 at once, no 100 Continue. */
  outcome o = run_str(&l, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 17\r\n\r\n");
  CHECK_EQ_INT(o.status, 413);
  CHECK_EQ_INT(o.continues, 0);
  o = run_str(&l, "POST / HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "2\r\nok\r\n0\r\n\r\n");
  CHECK(strstr(o.text, "continue\nPOST") != NULL);
  CHECK_EQ_INT(o.continues, 1);
  /* Not for HTTP/1.0, nor without a body. */
  o = run_str(&l, "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok");
  CHECK_EQ_INT(o.continues, 0);
  CHECK_EQ_INT(o.requests, 1);
  o = run_str(&l, "GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
  CHECK_EQ_INT(o.continues, 0);
  CHECK_EQ_INT(o.requests, 1);
}

static void test_trailers_bounded(void)
{
  dt_http_limits l = small_limits();
  char buf[2048];
  size_t n = (size_t)snprintf(buf, sizeof buf,
                              "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n");
  while (n + 16 < sizeof buf) n += (size_t)snprintf(buf + n, sizeof buf - n, "T: xxxxxxxxxx\r\n");
  outcome o = run(&l, buf, n, 0, 0);
  CHECK_EQ_INT(o.status, 431);
}

static void test_large_body_reuse(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  size_t body = 200000;
  char *in = malloc(body + 256);
  CHECK(in != NULL);
  if (!in) return;
  int h = snprintf(in, 256, "POST / HTTP/1.1\r\nContent-Length: %zu\r\n\r\n", body);
  memset(in + h, 'b', body);
  memcpy(in + h + body, "GET /next HTTP/1.1\r\n\r\n", 22);
  outcome o = run(&l, in, (size_t)h + body + 22, 2, 7);
  CHECK_EQ_INT(o.requests, 2);
  CHECK(strstr(o.text, "body=200000\n") != NULL);
  CHECK(strstr(o.text, "GET /next") != NULL);
  free(in);
}

TEST_MAIN(TEST(test_simple_get), TEST(test_long_target), TEST(test_header_bytes_limit), TEST(test_header_count_limit),
          TEST(test_url_limit), TEST(test_body_limit), TEST(test_malformed),
          TEST(test_nul_in_header), TEST(test_errors_are_sticky), TEST(test_pipelined_splits),
          TEST(test_obs_fold), TEST(test_keep_alive), TEST(test_expect_continue),
          TEST(test_trailers_bounded), TEST(test_large_body_reuse))
