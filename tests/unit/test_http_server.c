/* The HTTP server over real TCP: the server's loop runs on a thread, the test is a client
 * with blocking sockets. Every socket wait has a timeout, so nothing can hang. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_server.h"
#include "testlib.h"

enum { CMD_NONE, CMD_DRAIN, CMD_CLOSE };

static struct {
  uv_loop_t loop;
  uv_async_t async;
  dt_http_server *srv;
  pthread_t thread;
  int port;
  atomic_int command;
  atomic_int requests;     /* handler calls */
  atomic_int late_pending; /* late responses not yet sent */
  atomic_int late_rc;      /* dt_http_respond's result for the last late response */
  atomic_int max_inflight; /* seen by the handler */
  atomic_int drained;
} S;

typedef struct {
  uv_timer_t timer;
  dt_http_conn *conn;
  char body[128];
} late_reply;

static void late_closed(uv_handle_t *h) { free(h->data); }

static void late_fire(uv_timer_t *t)
{
  late_reply *r = t->data;
  dt_http_header h = { "content-type", "text/plain" };
  atomic_store(&S.late_rc, dt_http_respond(r->conn, 200, &h, 1, r->body, strlen(r->body)));
  atomic_fetch_sub(&S.late_pending, 1);
  uv_close((uv_handle_t *)t, late_closed);
}

/* /hdr answers with headers that must be filtered; /late/<ms> answers after ms via a timer; anything else echoes method, target and body. */
static void handler(void *ud, dt_http_conn *conn, const dt_http_request *req)
{
  (void)ud;
  atomic_fetch_add(&S.requests, 1);
  int inflight = (int)dt_http_server_inflight(S.srv);
  if (inflight > atomic_load(&S.max_inflight)) atomic_store(&S.max_inflight, inflight);
  if (strncmp(req->path, "/late/", 6) == 0) {
    late_reply *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->conn = conn;
    snprintf(r->body, sizeof r->body, "late %s", req->target);
    uv_timer_init(&S.loop, &r->timer);
    r->timer.data = r;
    atomic_fetch_add(&S.late_pending, 1);
    uv_timer_start(&r->timer, late_fire, (uint64_t)atoi(req->path + 6), 0);
    return;
  }
  if (strcmp(req->path, "/hdr") == 0) {
    dt_http_header h[] = { { "X-Ok", "1" }, { "X-Bad", "a\r\nInjected: 1" },
                           { "content-length", "99" }, { "Bad Name", "x" } };
    dt_http_respond(conn, 201, h, 4, "made", 4);
    return;
  }
  size_t cap = strlen(req->method) + strlen(req->target) + req->body_len + 4;
  char *out = malloc(cap);
  if (!out) abort();
  int n = snprintf(out, cap, "%s %s ", req->method, req->target);
  memcpy(out + n, req->body, req->body_len);
  dt_http_header h = { "content-type", "text/plain" };
  dt_http_respond(conn, 200, &h, 1, out, (size_t)n + req->body_len);
  free(out);
}

static void on_drained(void *ud)
{
  (void)ud;
  atomic_store(&S.drained, 1);
}

static void on_command(uv_async_t *a)
{
  int cmd = atomic_exchange(&S.command, CMD_NONE);
  if (cmd == CMD_DRAIN) dt_http_server_drain(S.srv, on_drained, NULL);
  if (cmd == CMD_CLOSE) {
    dt_http_server_close(S.srv);
    uv_close((uv_handle_t *)a, NULL);
  }
}

static void *loop_thread(void *arg)
{
  (void)arg;
  uv_run(&S.loop, UV_RUN_DEFAULT);
  return NULL;
}

static void sleep_ms(int ms)
{
  struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static void send_command(int cmd)
{
  while (atomic_load(&S.command) != CMD_NONE) sleep_ms(1);
  atomic_store(&S.command, cmd);
  uv_async_send(&S.async);
}

static int start_server(const dt_http_limits *limits)
{
  memset(&S, 0, sizeof S);
  if (uv_loop_init(&S.loop) || uv_async_init(&S.loop, &S.async, on_command)) return -1;
  S.srv = dt_http_server_start(&S.loop, "127.0.0.1", 0, limits, handler, NULL);
  if (!S.srv) return -1;
  S.port = dt_http_server_port(S.srv);
  return pthread_create(&S.thread, NULL, loop_thread, NULL) ? -1 : 0;
}

/* Waits for late responses (they hold connections), then closes and frees everything. */
static void stop_server(void)
{
  for (int i = 0; i < 300 && atomic_load(&S.late_pending) > 0; i++) sleep_ms(10);
  send_command(CMD_CLOSE);
  pthread_join(S.thread, NULL);
  CHECK_EQ_INT(uv_loop_close(&S.loop), 0);
}

static dt_http_limits test_limits(void)
{
  dt_http_limits l;
  dt_http_limits_default(&l);
  l.max_header_bytes = 1024;
  l.max_headers = 10;
  l.max_url = 256;
  l.max_body = 4096;
  l.header_timeout_ms = 2000;
  l.idle_timeout_ms = 5000;
  l.max_connections = 16;
  return l;
}

/* ---- client side ---- */

typedef struct {
  int fd;
  char buf[65536];
  size_t len;
} client;

typedef struct {
  int status;
  char head[4096];
  char body[8192];
  size_t body_len;
} response;

static int client_open(client *c)
{
  c->len = 0;
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct timeval tv = { 2, 0 };
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)S.port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return connect(c->fd, (struct sockaddr *)&a, sizeof a);
}

static void client_close(client *c)
{
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

static int send_str(client *c, const char *s)
{
  size_t len = strlen(s), off = 0;
  while (off < len) {
    ssize_t n = send(c->fd, s + off, len - off, MSG_NOSIGNAL);
    if (n <= 0) return -1;
    off += (size_t)n;
  }
  return 0;
}

/* Reads more into the buffer: >0 bytes, 0 on EOF, -1 on timeout or error. */
static ssize_t fill(client *c)
{
  if (c->len == sizeof c->buf) return -1;
  ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
  if (n > 0) c->len += (size_t)n;
  return n < 0 ? -1 : n;
}

static void take(client *c, size_t n)
{
  memmove(c->buf, c->buf + n, c->len - n);
  c->len -= n;
}

static const char *head_value(const response *r, const char *name)
{
  static char value[256];
  size_t nl = strlen(name);
  for (const char *line = strstr(r->head, "\r\n"); line; line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, name, nl) == 0 && line[2 + nl] == ':') {
      const char *v = line + 3 + nl;
      while (*v == ' ') v++;
      size_t n = strcspn(v, "\r");
      if (n >= sizeof value) n = sizeof value - 1;
      memcpy(value, v, n);
      value[n] = '\0';
      return value;
    }
  }
  return NULL;
}

/* Reads one response; a HEAD response has no body whatever its Content-Length says. */
static int read_response(client *c, response *r, int head)
{
  memset(r, 0, sizeof *r);
  char *end;
  while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
    if (fill(c) <= 0) return -1;
  }
  size_t hlen = (size_t)(end - c->buf) + 4;
  if (hlen >= sizeof r->head) return -1;
  memcpy(r->head, c->buf, hlen);
  take(c, hlen);
  if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1) return -1;
  const char *cl = head_value(r, "content-length");
  size_t want = cl && !head ? strtoul(cl, NULL, 10) : 0;
  if (want >= sizeof r->body) return -1;
  while (c->len < want) {
    if (fill(c) <= 0) return -1;
  }
  memcpy(r->body, c->buf, want);
  r->body_len = want;
  take(c, want);
  return 0;
}

/* 1 when the server closed the connection (EOF), 0 on timeout, 2 on reset. */
static int wait_closed(client *c)
{
  for (;;) {
    c->len = 0;
    ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
    if (n == 0) return 1;
    if (n < 0) return errno == ECONNRESET ? 2 : 0;
  }
}

static int request(client *c, const char *req, response *r)
{
  if (send_str(c, req) < 0) return -1;
  return read_response(c, r, strncmp(req, "HEAD ", 5) == 0);
}

/* ---- tests ---- */

static void test_keep_alive(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  client c;
  CHECK(client_open(&c) == 0);
  response r;
  CHECK(request(&c, "GET /a?x=1 HTTP/1.1\r\nHost: t\r\n\r\n", &r) == 0);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "GET /a?x=1 ");
  CHECK_EQ_STR(head_value(&r, "connection"), "keep-alive");
  CHECK_EQ_STR(head_value(&r, "server"), "dialtone");
  CHECK_EQ_STR(head_value(&r, "content-type"), "text/plain");
  const char *date = head_value(&r, "date");
  CHECK(date && strlen(date) == 29 && strcmp(date + 25, " GMT") == 0 && date[3] == ',');
  CHECK(request(&c, "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz", &r) == 0);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "POST /b xyz");
  /* HTTP/1.0 without keep-alive: answered, then closed. */
  CHECK(request(&c, "GET /c HTTP/1.0\r\n\r\n", &r) == 0);
  CHECK_EQ_STR(head_value(&r, "connection"), "close");
  CHECK_EQ_INT(wait_closed(&c), 1);
  client_close(&c);
  stop_server();
}

static void test_pipelining_in_order(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  client c;
  CHECK(client_open(&c) == 0);
  CHECK(send_str(&c, "GET /late/150 HTTP/1.1\r\n\r\nGET /two HTTP/1.1\r\n\r\n"
                     "POST /three HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi") == 0);
  response r;
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_STR(r.body, "late /late/150");
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_STR(r.body, "GET /two ");
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_STR(r.body, "POST /three hi");
  CHECK_EQ_INT(atomic_load(&S.max_inflight), 1);
  CHECK_EQ_INT(atomic_load(&S.requests), 3);
  client_close(&c);
  stop_server();
}

/* Pipelined input beyond the buffer bound: the server stops reading, then catches up. */
static void test_pipelining_backpressure(void)
{
  dt_http_limits l = test_limits();
  l.max_header_bytes = 128;
  l.max_body = 64;
  CHECK(start_server(&l) == 0);
  client c;
  CHECK(client_open(&c) == 0);
  char all[8192] = "GET /late/200 HTTP/1.1\r\n\r\n";
  for (int i = 0; i < 100; i++) {
    char one[64];
    snprintf(one, sizeof one, "GET /n%d HTTP/1.1\r\n\r\n", i);
    strcat(all, one);
  }
  CHECK(send_str(&c, all) == 0);
  response r;
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_STR(r.body, "late /late/200");
  int ok = 1;
  for (int i = 0; i < 100 && ok; i++) {
    char want[64];
    snprintf(want, sizeof want, "GET /n%d ", i);
    ok = read_response(&c, &r, 0) == 0 && strcmp(r.body, want) == 0;
  }
  CHECK(ok);
  client_close(&c);
  stop_server();
}

static void test_chunked_and_head(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  client c;
  CHECK(client_open(&c) == 0);
  response r;
  CHECK(request(&c, "POST /ch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "4\r\nwiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n", &r) == 0);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "POST /ch wikipedia");
  CHECK(request(&c, "HEAD /h HTTP/1.1\r\n\r\n", &r) == 0);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(head_value(&r, "content-length"), "8");
  CHECK_EQ_INT(c.len, 0);
  /* Nothing of the body was sent: the next response starts right there. */
  CHECK(request(&c, "GET /after HTTP/1.1\r\n\r\n", &r) == 0);
  CHECK_EQ_STR(r.body, "GET /after ");
  client_close(&c);
  stop_server();
}

static void test_response_headers(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  client c;
  CHECK(client_open(&c) == 0);
  response r;
  CHECK(request(&c, "GET /hdr HTTP/1.1\r\n\r\n", &r) == 0);
  CHECK_EQ_INT(r.status, 201);
  CHECK(strncmp(r.head, "HTTP/1.1 201 Created\r\n", 22) == 0);
  CHECK_EQ_STR(head_value(&r, "x-ok"), "1");
  CHECK_EQ_STR(head_value(&r, "content-length"), "4");
  CHECK(head_value(&r, "x-bad") == NULL && head_value(&r, "injected") == NULL);
  CHECK(strstr(r.head, "Bad Name") == NULL);
  CHECK_EQ_STR(r.body, "made");
  client_close(&c);
  stop_server();
}

static void test_expect_continue(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  client c;
  CHECK(client_open(&c) == 0);
  CHECK(send_str(&c, "PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n") == 0);
  response r;
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_INT(r.status, 100);
  CHECK(strncmp(r.head, "HTTP/1.1 100 Continue\r\n\r\n", 25) == 0);
  CHECK_EQ_INT(atomic_load(&S.requests), 0);
  CHECK(send_str(&c, "hello") == 0);
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(r.body, "PUT /up hello");
  /* Too large: 413 at once, without 100 Continue. */
  CHECK(send_str(&c, "PUT /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n") == 0);
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_INT(r.status, 413);
  CHECK_EQ_INT(wait_closed(&c), 1);
  client_close(&c);
  stop_server();
}

/* Sends raw bytes on a new connection and checks the JSON error, then the close. */
static void expect_error(const char *raw, int status, const char *code)
{
  client c;
  CHECK(client_open(&c) == 0);
  response r;
  CHECK(send_str(&c, raw) == 0);
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_INT(r.status, status);
  CHECK_EQ_STR(head_value(&r, "content-type"), "application/json");
  CHECK_EQ_STR(head_value(&r, "connection"), "close");
  char want[128];
  snprintf(want, sizeof want, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
  if (strncmp(r.body, want, strlen(want)) != 0) fprintf(stderr, "  body: %s\n", r.body);
  CHECK(strncmp(r.body, want, strlen(want)) == 0);
  CHECK(r.body_len > 2 && strcmp(r.body + r.body_len - 3, "\"}}") == 0);
  CHECK_EQ_INT(wait_closed(&c), 1);
  client_close(&c);
}

static void test_limit_errors(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  char big[2048];
  snprintf(big, sizeof big, "GET / HTTP/1.1\r\nX: %01500d\r\n\r\n", 0);
  expect_error(big, 431, "header_too_large");
  expect_error("GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\nf: 1\r\ng: 1\r\n"
               "h: 1\r\ni: 1\r\nj: 1\r\nk: 1\r\n\r\n", 431, "too_many_headers");
  snprintf(big, sizeof big, "GET /%0300d HTTP/1.1\r\n\r\n", 0);
  expect_error(big, 414, "uri_too_long");
  expect_error("POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n", 413, "body_too_large");
  /* The body is sent too and left unread: the error must still arrive intact. */
  static char sent_body[6000];
  int n = snprintf(sent_body, sizeof sent_body, "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n");
  memset(sent_body + n, 'b', 5000);
  expect_error(sent_body, 413, "body_too_large");
  expect_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request");
  expect_error("POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
               400, "bad_request");
  expect_error("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, "bad_request");
  /* A client that half-closes after its request still gets the error. */
  client c;
  response r;
  CHECK(client_open(&c) == 0 && send_str(&c, "XX / HTTP/1.1\r\n\r\n") == 0);
  shutdown(c.fd, SHUT_WR);
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_INT(r.status, 400);
  CHECK_EQ_INT(wait_closed(&c), 1);
  client_close(&c);
  stop_server();
}

static void test_header_timeout(void)
{
  dt_http_limits l = test_limits();
  l.header_timeout_ms = 200;
  CHECK(start_server(&l) == 0);
  expect_error("GET / HTTP/1.1\r\nHost: slow\r\n", 408, "request_timeout");
  /* The body is bounded by the same clock, from the request's first byte. */
  expect_error("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nab", 408, "request_timeout");
  /* A request that keeps trickling is cut at the deadline all the same. */
  client c;
  CHECK(client_open(&c) == 0);
  const char *req = "GET / HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  int sent_all = 1;
  for (size_t i = 0; req[i] && sent_all; i++) {
    char one[2] = { req[i], '\0' };
    sent_all = send_str(&c, one) == 0;
    sleep_ms(10);
  }
  response r;
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_INT(r.status, 408);
  client_close(&c);
  stop_server();
}

static void test_idle_timeout(void)
{
  dt_http_limits l = test_limits();
  l.idle_timeout_ms = 200;
  CHECK(start_server(&l) == 0);
  client c;
  CHECK(client_open(&c) == 0);
  response r;
  CHECK(request(&c, "GET / HTTP/1.1\r\n\r\n", &r) == 0);
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  CHECK_EQ_INT(wait_closed(&c), 1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  CHECK(waited > 0.1 && waited < 1.5);
  client_close(&c);
  /* A connection that never sends anything is idle too. */
  CHECK(client_open(&c) == 0);
  CHECK_EQ_INT(wait_closed(&c), 1);
  client_close(&c);
  stop_server();
}

static void test_max_connections(void)
{
  dt_http_limits l = test_limits();
  l.max_connections = 2;
  CHECK(start_server(&l) == 0);
  client a, b;
  response r;
  CHECK(client_open(&a) == 0 && request(&a, "GET /a HTTP/1.1\r\n\r\n", &r) == 0);
  CHECK(client_open(&b) == 0 && request(&b, "GET /b HTTP/1.1\r\n\r\n", &r) == 0);
  expect_error("", 503, "too_many_connections");
  client_close(&a);
  sleep_ms(100);
  CHECK(client_open(&a) == 0);
  CHECK(request(&a, "GET /again HTTP/1.1\r\n\r\n", &r) == 0);
  CHECK_EQ_INT(r.status, 200);
  client_close(&a);
  client_close(&b);
  stop_server();
}

static void reset_close(client *c)
{
  struct linger lg = { 1, 0 };
  setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  client_close(c);
}

static void test_peer_gone_in_flight(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  client c;
  /* Reset while the handler works: the late response finds the peer gone. */
  CHECK(client_open(&c) == 0);
  CHECK(send_str(&c, "GET /late/200 HTTP/1.1\r\n\r\n") == 0);
  sleep_ms(50);
  reset_close(&c);
  for (int i = 0; i < 100 && atomic_load(&S.late_pending) > 0; i++) sleep_ms(10);
  CHECK_EQ_INT(atomic_load(&S.late_pending), 0);
  CHECK_EQ_INT(atomic_load(&S.late_rc), -1);
  /* A plain close (FIN) may be a half-close: the response is still attempted. */
  CHECK(client_open(&c) == 0);
  CHECK(send_str(&c, "GET /late/100 HTTP/1.1\r\n\r\nGET /late/50 HTTP/1.1\r\n\r\n") == 0);
  client_close(&c);
  for (int i = 0; i < 100 && atomic_load(&S.requests) < 3; i++) sleep_ms(10);
  /* Half-close: both pipelined requests are answered, then the server closes. */
  CHECK(client_open(&c) == 0);
  CHECK(send_str(&c, "GET /late/50 HTTP/1.1\r\n\r\nGET /x HTTP/1.1\r\n\r\n") == 0);
  shutdown(c.fd, SHUT_WR);
  response r;
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_STR(r.body, "late /late/50");
  CHECK(read_response(&c, &r, 0) == 0);
  CHECK_EQ_STR(r.body, "GET /x ");
  CHECK_EQ_INT(wait_closed(&c), 1);
  client_close(&c);
  /* The server is fine afterwards. */
  CHECK(client_open(&c) == 0);
  CHECK(request(&c, "GET /ok HTTP/1.1\r\n\r\n", &r) == 0);
  CHECK_EQ_INT(r.status, 200);
  client_close(&c);
  stop_server();
}

static void test_drain(void)
{
  dt_http_limits l = test_limits();
  CHECK(start_server(&l) == 0);
  client busy, idle, late;
  response r;
  CHECK(client_open(&idle) == 0 && request(&idle, "GET / HTTP/1.1\r\n\r\n", &r) == 0);
  CHECK(client_open(&busy) == 0);
  CHECK(send_str(&busy, "GET /late/300 HTTP/1.1\r\n\r\n") == 0);
  for (int i = 0; i < 100 && atomic_load(&S.late_pending) == 0; i++) sleep_ms(5);
  send_command(CMD_DRAIN);
  CHECK_EQ_INT(wait_closed(&idle), 1);
  sleep_ms(50);
  CHECK_EQ_INT(atomic_load(&S.drained), 0);
  CHECK(client_open(&late) != 0); /* the listener is closed */
  CHECK(read_response(&busy, &r, 0) == 0);
  CHECK_EQ_INT(r.status, 200);
  CHECK_EQ_STR(head_value(&r, "connection"), "close");
  CHECK_EQ_INT(wait_closed(&busy), 1);
  CHECK_EQ_INT(atomic_load(&S.drained), 1);
  client_close(&idle);
  client_close(&busy);
  client_close(&late);
  stop_server();
}

static void test_reason_and_defaults(void)
{
  CHECK_EQ_STR(dt_http_reason(200), "OK");
  CHECK_EQ_STR(dt_http_reason(431), "Request Header Fields Too Large");
  CHECK_EQ_STR(dt_http_reason(799), "Unknown");
  dt_http_limits l;
  dt_http_limits_default(&l);
  CHECK_EQ_INT(l.max_header_bytes, 16384);
  CHECK_EQ_INT(l.max_headers, 100);
  CHECK_EQ_INT(l.max_url, 8192);
  CHECK_EQ_INT(l.max_body, 1048576);
  CHECK_EQ_INT(l.header_timeout_ms, 10000);
  CHECK_EQ_INT(l.idle_timeout_ms, 60000);
  CHECK_EQ_INT(l.max_connections, 1024);
}

TEST_MAIN(TEST(test_reason_and_defaults), TEST(test_keep_alive), TEST(test_pipelining_in_order),
          TEST(test_pipelining_backpressure), TEST(test_chunked_and_head), TEST(test_response_headers),
          TEST(test_expect_continue), TEST(test_limit_errors), TEST(test_header_timeout),
          TEST(test_idle_timeout), TEST(test_max_connections), TEST(test_peer_gone_in_flight),
          TEST(test_drain))
