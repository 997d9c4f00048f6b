/* WebSocket client side (dt_ws_connect, see ws.h): a ws:// URL, name resolution, the TCP
 * connection and the opening handshake, then the connection layer of ws.c over this file's
 * TCP handle. One timer per client bounds connect + handshake, and later the final flush. */
#include "ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ws_conn.h"
#include "ws_handshake.h"
#include "ws_response.h"

#define MAX_RESPONSE (16 * 1024)
#define MAX_HOST 255
#define MAX_TARGET 8192
#define LINGER_MS 2000
#define READ_CHUNK 65536

enum { C_HANDSHAKE, C_OPEN, C_CLOSING, C_DONE };

typedef struct client {
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_getaddrinfo_t gai;
  uv_connect_t connect;
  uv_write_t hs_write;
  uv_shutdown_t shutdown;
  uv_loop_t *loop;
  int state, handles, resolving, torn, tcp_open;
  char host[MAX_HOST + 1], port[8], peer[MAX_HOST + 16];
  char key[DT_WS_KEY_LEN + 1];
  char *offered, *request, *resp;
  size_t request_len, resp_len;
  dt_ws_options opts;
  dt_ws_handlers h;
  void *ud;
  dt_ws_open_cb on_open;
  dt_ws *ws;
  struct client *prev, *next; /* attempts not open yet */
} client;

typedef struct {
  uv_write_t req;
  char data[];
} out_write;

/* One read buffer for every client: input is consumed before on_read returns. */
static char read_buf[READ_CHUNK];
static client *attempts;

const char *dt_ws_connect_error(int rc)
{
  switch (rc) {
  case DT_WS_EURL: return "invalid WebSocket URL (expected ws://host[:port][/path])";
  case DT_WS_EWSS: return "wss:// is not supported (terminate TLS in front, or use ws://)";
  case DT_WS_EHEADER: return "invalid or reserved request header or subprotocol";
  case DT_WS_ENOMEM: return "out of memory";
  case DT_WS_ELOOP: return "cannot start name resolution";
  default: return "cannot connect";
  }
}

/* ---- lifetime ---- */

static void maybe_free(client *c)
{
  if (c->handles || c->resolving) return;
  free(c->offered);
  free(c->request);
  free(c->resp);
  free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
  client *c = h->data;
  c->handles--;
  maybe_free(c);
}

static void unlink_attempt(client *c)
{
  if (c->prev) c->prev->next = c->next;
  else if (attempts == c) attempts = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = NULL;
}

static void teardown(client *c)
{
  if (c->torn) return;
  c->torn = 1;
  c->state = C_DONE;
  unlink_attempt(c);
  if (c->resolving) uv_cancel((uv_req_t *)&c->gai);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  if (c->tcp_open) uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void fail(client *c, const char *msg)
{
  if (c->state != C_HANDSHAKE) return;
  teardown(c);
  c->on_open(c->ud, NULL, msg);
}

static void fail_uv(client *c, const char *what, const char *name, int status)
{
  char msg[MAX_HOST + 160];
  snprintf(msg, sizeof msg, "%s %s: %s", what, name, uv_strerror(status));
  fail(c, msg);
}

/* The connection broke while open: the ws learns it, nothing is written any more. */
static void transport_lost(client *c)
{
  dt_ws *ws = c->ws;
  c->ws = NULL;
  teardown(c);
  if (ws) dt_ws_transport_end(ws);
}

/* ---- transport for ws.c ---- */

static void on_written(uv_write_t *req, int status)
{
  client *c = req->handle->data;
  free(req);
  if (status < 0 && c->state == C_OPEN) transport_lost(c);
}

static int cl_write(void *t, const char *data, size_t len)
{
  client *c = t;
  if (c->state != C_OPEN || len > UINT32_MAX) return -1;
  out_write *w = malloc(sizeof *w + len);
  if (!w) return -1;
  memcpy(w->data, data, len);
  uv_buf_t buf = uv_buf_init(w->data, (unsigned int)len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) {
    free(w);
    return -1;
  }
  return 0;
}

static size_t cl_queued(const void *t) { return ((const client *)t)->tcp.write_queue_size; }

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void cl_pause(void *t, int paused)
{
  client *c = t;
  if (c->state != C_OPEN) return;
  if (paused) uv_read_stop((uv_stream_t *)&c->tcp);
  else uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
  (void)status;
  teardown(req->data);
}

static void on_linger_over(uv_timer_t *t) { teardown(t->data); }

/* Flushes, half-closes, and drops the connection when the peer closes or LINGER_MS pass. */
static void cl_close(void *t)
{
  client *c = t;
  if (c->state != C_OPEN) return;
  c->state = C_CLOSING;
  c->ws = NULL;
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  uv_timer_start(&c->timer, on_linger_over, LINGER_MS, 0);
  c->shutdown.data = c;
  if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) teardown(c);
}

static const dt_ws_transport client_transport = { cl_write, cl_queued, cl_pause, cl_close };

/* ---- handshake ---- */

static void open_ws(client *c, const dt_ws_upgrade_response *r, size_t head)
{
  uv_timer_stop(&c->timer);
  dt_ws *ws = dt_ws_new(c->loop, &client_transport, c, DT_WS_ROLE_CLIENT, r->protocol, c->peer,
                        &c->opts, &c->h, c->ud);
  if (!ws) {
    fail(c, "out of memory");
    return;
  }
  c->ws = ws;
  c->state = C_OPEN;
  unlink_attempt(c);
  c->on_open(c->ud, ws, NULL);
  if (c->state == C_OPEN && c->resp_len > head) dt_ws_feed(ws, c->resp + head, c->resp_len - head);
  free(c->resp);
  c->resp = NULL;
}

static void handshake_input(client *c, const char *data, size_t n)
{
  size_t room = MAX_RESPONSE - c->resp_len, take = n < room ? n : room;
  memcpy(c->resp + c->resp_len, data, take);
  c->resp_len += take;
  dt_ws_upgrade_response r;
  int head = dt_ws_response_parse(c->resp, c->resp_len, &r);
  const char *err = NULL;
  if (head < 0) {
    fail(c, "malformed handshake response");
  } else if (head == 0) {
    if (c->resp_len == MAX_RESPONSE) fail(c, "handshake response larger than 16 KiB");
  } else if (dt_ws_client_verify(&r, c->key, c->offered, &err) != 0) {
    char msg[128];
    snprintf(msg, sizeof msg, "handshake refused (status %d): %s", r.status, err);
    fail(c, msg);
  } else if (take < n) {
    fail(c, "handshake response larger than 16 KiB"); /* frames beyond the buffer: give up */
  } else {
    open_ws(c, &r, (size_t)head);
  }
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  (void)h;
  (void)hint;
  *buf = uv_buf_init(read_buf, sizeof read_buf);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  client *c = s->data;
  if (n == 0) return;
  if (n < 0) {
    if (c->state == C_HANDSHAKE) fail(c, "connection closed during the handshake");
    else if (c->state == C_OPEN) transport_lost(c);
    else teardown(c);
  } else if (c->state == C_HANDSHAKE) {
    handshake_input(c, buf->base, (size_t)n);
  } else if (c->state == C_OPEN) {
    dt_ws_feed(c->ws, buf->base, (size_t)n);
  }
}

static void on_hs_written(uv_write_t *req, int status)
{
  client *c = req->data;
  if (status < 0) fail(c, "connection lost while sending the handshake");
}

static void on_connected(uv_connect_t *req, int status)
{
  client *c = req->data;
  if (c->state != C_HANDSHAKE) return;
  if (status < 0) {
    fail_uv(c, "cannot connect to", c->peer, status);
    return;
  }
  c->resp = malloc(MAX_RESPONSE);
  uv_buf_t buf = uv_buf_init(c->request, (unsigned int)c->request_len);
  c->hs_write.data = c;
  if (!c->resp || uv_write(&c->hs_write, (uv_stream_t *)&c->tcp, &buf, 1, on_hs_written) < 0 ||
      uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0)
    fail(c, "cannot start the handshake");
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
  client *c = req->data;
  c->resolving = 0;
  if (c->state != C_HANDSHAKE) {
    uv_freeaddrinfo(res);
    maybe_free(c);
    return;
  }
  if (status < 0) {
    fail_uv(c, "cannot resolve", c->host, status);
    return;
  }
  uv_tcp_init(c->loop, &c->tcp);
  c->tcp.data = c;
  c->tcp_open = 1;
  c->handles++;
  c->connect.data = c;
  int rc = uv_tcp_connect(&c->connect, &c->tcp, res->ai_addr, on_connected);
  uv_freeaddrinfo(res);
  if (rc < 0) fail_uv(c, "cannot connect to", c->peer, rc);
}

static void on_timeout(uv_timer_t *t)
{
  client *c = t->data;
  fail(c, "timed out connecting");
}

/* ---- URL and request ---- */

/* Splits ws://host[:port][/path][?query] into c->host, c->port and the request target. */
static int parse_url(client *c, const char *url, const char **target)
{
  if (strncasecmp(url, "wss://", 6) == 0) return DT_WS_EWSS;
  if (strncasecmp(url, "ws://", 5) != 0) return DT_WS_EURL;
  const char *p = url + 5, *h = p, *he;
  if (*p == '[') {
    he = strchr(p, ']');
    if (!he) return DT_WS_EURL;
    h = p + 1;
    p = he + 1;
  } else {
    he = p + strcspn(p, ":/?#@");
    p = he;
  }
  size_t hl = (size_t)(he - h);
  if (hl == 0 || hl > MAX_HOST) return DT_WS_EURL;
  memcpy(c->host, h, hl);
  c->host[hl] = '\0';
  snprintf(c->port, sizeof c->port, "80");
  if (*p == ':') {
    size_t n = strspn(p + 1, "0123456789");
    long port = n >= 1 && n <= 5 ? strtol(p + 1, NULL, 10) : 0;
    if (port < 1 || port > 65535) return DT_WS_EURL;
    snprintf(c->port, sizeof c->port, "%ld", port);
    p += 1 + n;
  }
  if (*p && *p != '/' && *p != '?') return DT_WS_EURL;
  for (const char *q = p; *q; q++) {
    if ((unsigned char)*q <= ' ' || *q == 0x7f || *q == '#') return DT_WS_EURL;
  }
  if (strlen(p) > MAX_TARGET) return DT_WS_EURL;
  *target = p;
  snprintf(c->peer, sizeof c->peer, "%s:%s", c->host, c->port);
  return 0;
}

static int token_chars(const char *s, const char *extra)
{
  for (; *s; s++) {
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          strchr("!#$%&'*+-.^_`|~", *s) || strchr(extra, *s)))
      return 0;
  }
  return 1;
}

static int header_ok(const dt_http_header *hd)
{
  static const char *const reserved[] = { "host", "upgrade", "connection", "sec-websocket-key",
                                           "sec-websocket-version", "sec-websocket-protocol",
                                           "sec-websocket-extensions", "content-length",
                                           "transfer-encoding" };
  if (!hd->name || !hd->value || !*hd->name || !token_chars(hd->name, "")) return 0;
  for (const char *v = hd->value; *v; v++) {
    if ((unsigned char)*v < 0x20 && *v != '\t') return 0;
  }
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
    if (strcasecmp(hd->name, reserved[i]) == 0) return 0;
  }
  return 1;
}

/* Appends to a buffer that counts what it would need when out is NULL. */
static void put(char *out, size_t *len, const char *s)
{
  size_t n = strlen(s);
  if (out) memcpy(out + *len, s, n);
  *len += n;
}

static size_t build_request(const client *c, char *out, const char *target,
                            const dt_http_header *headers, size_t nheaders)
{
  size_t len = 0;
  int v6 = strchr(c->host, ':') != NULL, default_port = strcmp(c->port, "80") == 0;
  put(out, &len, "GET ");
  put(out, &len, *target == '/' ? "" : "/");
  put(out, &len, target);
  put(out, &len, " HTTP/1.1\r\nHost: ");
  put(out, &len, v6 ? "[" : "");
  put(out, &len, c->host);
  put(out, &len, v6 ? "]" : "");
  put(out, &len, default_port ? "" : ":");
  put(out, &len, default_port ? "" : c->port);
  put(out, &len, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ");
  put(out, &len, c->key);
  put(out, &len, "\r\nSec-WebSocket-Version: 13\r\n");
  if (c->offered) {
    put(out, &len, "Sec-WebSocket-Protocol: ");
    put(out, &len, c->offered);
    put(out, &len, "\r\n");
  }
  for (size_t i = 0; i < nheaders; i++) {
    put(out, &len, headers[i].name);
    put(out, &len, ": ");
    put(out, &len, headers[i].value);
    put(out, &len, "\r\n");
  }
  put(out, &len, "\r\n");
  return len;
}

static int prepare(client *c, const char *url, const dt_http_header *headers, size_t nheaders,
                   const char *subprotocols)
{
  const char *target;
  int rc = parse_url(c, url, &target);
  if (rc != 0) return rc;
  for (size_t i = 0; i < nheaders; i++) {
    if (!header_ok(&headers[i])) return DT_WS_EHEADER;
  }
  if (subprotocols && *subprotocols) {
    if (!token_chars(subprotocols, ", ")) return DT_WS_EHEADER;
    c->offered = strdup(subprotocols);
    if (!c->offered) return DT_WS_ENOMEM;
  }
  if (dt_ws_client_key(c->key) != 0) return DT_WS_ENOMEM;
  c->request_len = build_request(c, NULL, target, headers, nheaders);
  c->request = malloc(c->request_len);
  if (!c->request) return DT_WS_ENOMEM;
  build_request(c, c->request, target, headers, nheaders);
  return 0;
}

int dt_ws_connect(uv_loop_t *loop, const char *url, const dt_http_header *headers, size_t nheaders,
                  const char *subprotocols, uint64_t timeout_ms, const dt_ws_options *opts,
                  const dt_ws_handlers *h, void *ud, dt_ws_open_cb on_open)
{
  client *c = calloc(1, sizeof *c);
  if (!c) return DT_WS_ENOMEM;
  int rc = prepare(c, url, headers, nheaders, subprotocols);
  if (rc != 0) {
    maybe_free(c);
    return rc;
  }
  c->loop = loop;
  if (opts) c->opts = *opts;
  else dt_ws_options_default(&c->opts);
  c->h = *h;
  c->ud = ud;
  c->on_open = on_open;
  struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
  c->gai.data = c;
  if (uv_getaddrinfo(loop, &c->gai, on_resolved, c->host, c->port, &hints) < 0) {
    maybe_free(c);
    return DT_WS_ELOOP;
  }
  c->resolving = 1;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->handles = 1;
  uv_timer_start(&c->timer, on_timeout, timeout_ms ? timeout_ms : 10000, 0);
  c->next = attempts;
  if (attempts) attempts->prev = c;
  attempts = c;
  return 0;
}

void dt_ws_connect_cancel(void *ud)
{
  for (client *c = attempts; c;) {
    if (c->ud != ud) {
      c = c->next;
      continue;
    }
    fail(c, "cancelled"); /* unlinks c; on_open may change the list: start over */
    c = attempts;
  }
}
