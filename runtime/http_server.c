#include "http_server.h"
#include "http_response.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http_parser.h"
#include "log.h"

#define READ_CHUNK 65536
#define LINGER_MS 2000      /* after a final response: read and drop input before closing */
#define KEEP_INPUT_CAP 65536

struct dt_http_server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  dt_http_limits lim;
  dt_http_handler handler;
  void *ud;
  dt_http_conn *conns;
  size_t open;       /* connections counted against max_connections */
  size_t rejecting;  /* connections being turned away with 503 */
  size_t inflight;
  size_t writing;    /* responses queued and not yet written */
  size_t upgraded;   /* connections handed over by dt_http_upgrade */
  uint64_t next_id;
  int port;
  int listening;     /* listener handle not yet closed */
  int draining, closing;
  void (*on_drained)(void *ud);
  void *drained_ud;
  char read_buf[READ_CHUNK]; /* libuv hands each read to read_cb at once, so one is enough */
};

struct dt_http_conn {
  dt_http_server *srv;
  dt_http_conn *prev, *next;
  uv_tcp_t tcp;
  uv_timer_t timer;
  uv_write_t continue_req; /* one 100 Continue at a time: it is written before the response */
  uv_shutdown_t shutdown_req;
  dt_http_parser *parser;
  char *in;                /* received bytes the parser has not used yet */
  size_t in_len, in_cap;
  int handles;             /* open libuv handles (tcp, timer) */
  int counted, rejected;
  int inflight, writing, reading;
  int closing;             /* handles closed or closing */
  int final;               /* last response queued: input is dropped */
  int peer_eof;
  int keep_alive, is_head;
  int request_timer;       /* the timer bounds a request, not idleness */
  char peer_ip[64];
  int loopback;
  const dt_http_raw_handlers *raw; /* set once upgraded: the byte stream belongs to its owner */
  void *raw_ud;
  int raw_paused;
};


static const char continue_line[] = "HTTP/1.1 100 Continue\r\n\r\n";

static void process(dt_http_conn *c);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);
static void on_timer(uv_timer_t *t);

/* ---- connection lifetime ---- */

static size_t input_bound(const dt_http_server *srv)
{
  size_t a = srv->lim.max_header_bytes, b = srv->lim.max_body;
  return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

static void maybe_free_server(dt_http_server *srv)
{
  if (srv->closing && !srv->listening && !srv->conns) free(srv);
}

/* A connection lives until libuv has released its handles and its request is answered. */
static void maybe_free_conn(dt_http_conn *c)
{
  if (c->handles > 0 || c->inflight) return;
  dt_http_server *srv = c->srv;
  if (c->prev) c->prev->next = c->next;
  else srv->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  dt_http_parser_free(c->parser);
  free(c->in);
  free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
  dt_http_conn *c = h->data;
  dt_http_server *srv = c->srv;
  c->handles--;
  maybe_free_conn(c);
  maybe_free_server(srv);
}

static void check_drained(dt_http_server *srv);

/* Tells an upgraded connection's owner it is over, once. */
static void end_raw(dt_http_conn *c)
{
  const dt_http_raw_handlers *h = c->raw;
  if (!h) return;
  c->raw = NULL;
  c->srv->upgraded--;
  h->on_end(c->raw_ud);
}

static void close_conn(dt_http_conn *c)
{
  if (c->closing) return;
  c->closing = 1;
  end_raw(c);
  if (c->counted) c->srv->open--;
  if (c->rejected) c->srv->rejecting--;
  c->counted = c->rejected = 0;
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

/* Runs on_drained once nothing is in flight or being written. Callers return right after:
 * the callback may close the server. */
static void check_drained(dt_http_server *srv)
{
  if (!srv->draining || !srv->on_drained || srv->inflight || srv->writing || srv->upgraded) return;
  void (*cb)(void *) = srv->on_drained;
  srv->on_drained = NULL;
  cb(srv->drained_ud);
}

static void arm_timer(dt_http_conn *c, uint64_t ms, int request)
{
  c->request_timer = request;
  uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void log_reject(const dt_http_conn *c, int status, const char *code, const char *detail)
{
  char s[16];
  snprintf(s, sizeof s, "%d", status);
  dt_log(DT_LOG_WARN, "http request rejected", "peer", c->peer_ip, "status", s, "reason", code,
         "detail", detail ? detail : "", NULL);
}

/* ---- writing ---- */

static void on_shutdown(uv_shutdown_t *req, int status)
{
  dt_http_conn *c = req->data;
  if ((status < 0 || c->peer_eof) && !c->closing) close_conn(c);
}

/* After a final response: half-close, and drop whatever the peer still sends for a while, so
 * that closing with unread input does not reset the connection before the response arrives. */
static void linger(dt_http_conn *c)
{
  c->final = 1;
  arm_timer(c, LINGER_MS, 0);
  c->shutdown_req.data = c;
  if (c->peer_eof || uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, on_shutdown) < 0)
    close_conn(c);
}

static void on_written(uv_write_t *req, int status)
{
  dt_http_out *w = (dt_http_out *)req;
  dt_http_conn *c = w->conn;
  dt_http_server *srv = c->srv;
  int close_after = w->close_after;
  free(w);
  c->writing = 0;
  srv->writing--;
  if (c->closing) {
    /* cancelled by close_conn */
  } else if (status < 0) {
    close_conn(c);
  } else if (close_after || srv->draining) {
    linger(c);
  } else if (c->peer_eof && c->in_len == 0) {
    close_conn(c);
  } else {
    arm_timer(c, srv->lim.idle_timeout_ms, 0);
    process(c);
  }
  check_drained(srv);
}

static int queue_write(dt_http_conn *c, dt_http_out *w)
{
  if (!w) {
    dt_log(DT_LOG_ERROR, "http response not sent: out of memory", "peer", c->peer_ip, NULL);
    close_conn(c);
    return -1;
  }
  w->conn = c;
  uv_buf_t buf = uv_buf_init(w->data, w->len > UINT32_MAX ? 0 : (unsigned int)w->len);
  if (w->len > UINT32_MAX || uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_written) < 0) {
    free(w);
    close_conn(c);
    return -1;
  }
  if (w->close_after) c->final = 1;
  arm_timer(c, c->srv->lim.idle_timeout_ms, 0); /* a peer that never reads is dropped */
  c->writing = 1;
  c->srv->writing++;
  return 0;
}

static void send_error(dt_http_conn *c, int status, const char *code, const char *message,
                       const char *detail)
{
  log_reject(c, status, code, detail);
  char body[256];
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                   message);
  if (n < 0 || (size_t)n >= sizeof body) n = 0;
  dt_http_header h = { "Content-Type", "application/json" };
  c->is_head = 0;
  queue_write(c, dt_http_format_response(c->is_head, status, &h, 1, body, (size_t)n, 1));
}

static void on_continue_written(uv_write_t *req, int status)
{
  dt_http_conn *c = req->data;
  if (status < 0 && !c->closing) close_conn(c);
}

static int send_continue(dt_http_conn *c)
{
  uv_buf_t buf = uv_buf_init((char *)continue_line, sizeof continue_line - 1);
  c->continue_req.data = c;
  if (uv_write(&c->continue_req, (uv_stream_t *)&c->tcp, &buf, 1, on_continue_written) < 0) {
    close_conn(c);
    return -1;
  }
  return 0;
}

int dt_http_respond(dt_http_conn *c, int status, const dt_http_header *headers,
                    size_t header_count, const char *body, size_t body_len)
{
  dt_http_server *srv = c->srv;
  if (!c->inflight) return -1;
  c->inflight = 0;
  srv->inflight--;
  if (c->closing) {
    maybe_free_conn(c);
    check_drained(srv);
    return -1;
  }
  if (status < 100 || status > 999) status = 500;
  int close = !c->keep_alive || srv->draining;
  return queue_write(c, dt_http_format_response(c->is_head, status, headers, header_count, body, body_len, close));
}

/* ---- reading and parsing ---- */

static void dispatch(dt_http_conn *c)
{
  dt_http_server *srv = c->srv;
  dt_http_request *req = dt_http_parser_request(c->parser);
  uv_timer_stop(&c->timer);
  c->request_timer = 0;
  req->id = ++srv->next_id;
  memcpy(req->peer_ip, c->peer_ip, sizeof req->peer_ip);
  req->peer_is_loopback = c->loopback;
  c->keep_alive = req->keep_alive && !srv->draining;
  c->is_head = strcmp(req->method, "HEAD") == 0;
  c->inflight = 1;
  srv->inflight++;
  srv->handler(srv->ud, c, req);
}

static void update_reading(dt_http_conn *c)
{
  int want = !c->closing && !c->peer_eof &&
             (c->raw ? !c->raw_paused : c->final || c->in_len < input_bound(c->srv));
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
      close_conn(c);
      return;
    }
  } else if (!want && c->reading && !c->closing) {
    uv_read_stop((uv_stream_t *)&c->tcp);
  }
  c->reading = want;
}

static void consume_input(dt_http_conn *c, size_t used)
{
  memmove(c->in, c->in + used, c->in_len - used);
  c->in_len -= used;
  if (c->in_len == 0 && c->in_cap > KEEP_INPUT_CAP) {
    free(c->in);
    c->in = NULL;
    c->in_cap = 0;
  }
}

/* Parses buffered input until a request is handed over, more input is needed, or the
 * connection ends. One request at a time: nothing is parsed while one is in flight. */
static void process(dt_http_conn *c)
{
  while (!c->closing && !c->final && !c->inflight && !c->writing && c->in_len > 0) {
    size_t used;
    int r = dt_http_parser_feed(c->parser, c->in, c->in_len, &used);
    consume_input(c, used);
    if (r == DT_HTTP_PARSE_ERROR) {
      const dt_http_parse_error *e = dt_http_parser_error(c->parser);
      send_error(c, e->status, e->code, e->message, e->detail);
      break;
    }
    if (!c->request_timer && dt_http_parser_in_progress(c->parser))
      arm_timer(c, c->srv->lim.header_timeout_ms, 1);
    if (r == DT_HTTP_PARSE_DONE) {
      dispatch(c);
      break;
    }
    if (r == DT_HTTP_PARSE_CONTINUE && send_continue(c) < 0) break;
  }
  if (!c->closing && c->peer_eof && !c->inflight && !c->writing && !c->final) {
    close_conn(c); /* the peer will send nothing more: an open request cannot complete */
    return;
  }
  update_reading(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
  (void)hint;
  dt_http_conn *c = h->data;
  size_t room = READ_CHUNK;
  if (!c->final && !c->raw) {
    size_t bound = input_bound(c->srv);
    room = bound > c->in_len ? bound - c->in_len : 0;
    if (room > READ_CHUNK) room = READ_CHUNK;
  }
  *buf = uv_buf_init(c->srv->read_buf, (unsigned int)room);
}

static int append_input(dt_http_conn *c, const char *data, size_t n)
{
  if (n > c->in_cap - c->in_len) {
    size_t cap = c->in_cap ? c->in_cap : 4096;
    while (cap < c->in_len + n) cap *= 2;
    char *p = realloc(c->in, cap);
    if (!p) return -1;
    c->in = p;
    c->in_cap = cap;
  }
  memcpy(c->in + c->in_len, data, n);
  c->in_len += n;
  return 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
  dt_http_conn *c = s->data;
  if (n == 0 || c->closing) return;
  if (c->raw) {
    if (n < 0) close_conn(c);
    else c->raw->on_data(c->raw_ud, buf->base, (size_t)n);
    return;
  }
  if (n == UV_ENOBUFS) {
    update_reading(c);
    return;
  }
  if (n < 0) {
    if (n != UV_EOF || (c->final && !c->writing)) {
      close_conn(c);
      return;
    }
    c->peer_eof = 1; /* maybe a half-close: pending and buffered requests are still answered */
    process(c);
    return;
  }
  if (c->final) return;
  if (append_input(c, buf->base, (size_t)n) < 0) {
    dt_log(DT_LOG_ERROR, "http input dropped: out of memory", "peer", c->peer_ip, NULL);
    close_conn(c);
    return;
  }
  process(c);
}

static void on_timer(uv_timer_t *t)
{
  dt_http_conn *c = t->data;
  if (c->closing) return;
  if (c->request_timer && !c->final)
    send_error(c, 408, "request_timeout", "request not received in time", "header timeout");
  else
    close_conn(c); /* idle keep-alive, or the linger is over */
}

/* ---- upgraded connections ---- */

static void on_raw_written(uv_write_t *req, int status)
{
  dt_http_out *w = (dt_http_out *)req;
  dt_http_conn *c = w->conn;
  free(w);
  if (status < 0 && !c->closing) close_conn(c);
}

static int raw_queue(dt_http_conn *c, dt_http_out *w)
{
  w->conn = c;
  uv_buf_t buf = uv_buf_init(w->data, (unsigned int)w->len);
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, on_raw_written) < 0) {
    free(w);
    close_conn(c);
    return -1;
  }
  return 0;
}

int dt_http_upgrade(dt_http_conn *c, const dt_http_header *headers, size_t header_count,
                    const dt_http_raw_handlers *h, void *ud)
{
  dt_http_server *srv = c->srv;
  if (!c->inflight) return -1;
  c->inflight = 0;
  srv->inflight--;
  dt_http_out *w = c->closing ? NULL : dt_http_format_response(c->is_head, 101, headers, header_count, "", 0, 0);
  if (!w || raw_queue(c, w) != 0) {
    if (!c->closing) close_conn(c);
    maybe_free_conn(c);
    check_drained(srv);
    return -1;
  }
  uv_timer_stop(&c->timer);
  c->request_timer = 0;
  c->raw = h;
  c->raw_ud = ud;
  srv->upgraded++;
  if (c->in_len) {
    h->on_data(ud, c->in, c->in_len);
    if (c->closing) return 0;
    consume_input(c, c->in_len);
  }
  update_reading(c);
  return 0;
}

int dt_http_raw_write(dt_http_conn *c, const char *data, size_t len)
{
  if (!c->raw || c->closing || len > UINT32_MAX) return -1;
  /* Most writes go straight into the socket: only what the kernel did not take is copied
   * and queued (after anything already queued, to keep the order). */
  if (c->tcp.write_queue_size == 0) {
    uv_buf_t buf = uv_buf_init((char *)data, (unsigned int)len);
    int n = uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    if (n == (int)len) return 0;
    if (n > 0) {
      data += n;
      len -= (size_t)n;
    } else if (n != UV_EAGAIN) {
      close_conn(c);
      return -1;
    }
  }
  dt_http_out *w = malloc(sizeof *w + len);
  if (!w) {
    close_conn(c);
    return -1;
  }
  memcpy(w->data, data, len);
  w->len = len;
  w->close_after = 0;
  return raw_queue(c, w);
}

size_t dt_http_raw_queued(const dt_http_conn *c) { return c->tcp.write_queue_size; }

void dt_http_raw_pause(dt_http_conn *c, int paused)
{
  c->raw_paused = paused;
  update_reading(c);
}

void dt_http_raw_close(dt_http_conn *c)
{
  if (!c->raw) return;
  c->raw = NULL;
  c->srv->upgraded--;
  if (!c->closing) linger(c);
  check_drained(c->srv);
}

size_t dt_http_server_upgraded(const dt_http_server *srv) { return srv->upgraded; }

/* ---- accepting ---- */

static void peer_name(dt_http_conn *c)
{
  struct sockaddr_storage ss;
  int len = sizeof ss;
  snprintf(c->peer_ip, sizeof c->peer_ip, "unknown");
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) < 0) return;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    uv_ip4_name(a, c->peer_ip, sizeof c->peer_ip);
    c->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    uv_ip6_name(a, c->peer_ip, sizeof c->peer_ip);
    c->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr) ||
                  (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr) && a->sin6_addr.s6_addr[12] == 127);
  }
}

static dt_http_conn *new_conn(dt_http_server *srv)
{
  dt_http_conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->srv = srv;
  if (uv_tcp_init(srv->loop, &c->tcp) < 0) {
    free(c);
    return NULL;
  }
  uv_timer_init(srv->loop, &c->timer);
  c->tcp.data = c->timer.data = c;
  c->handles = 2;
  c->next = srv->conns;
  if (srv->conns) srv->conns->prev = c;
  srv->conns = c;
  return c;
}

static void on_connection(uv_stream_t *listener, int status)
{
  dt_http_server *srv = listener->data;
  if (status < 0) {
    dt_log(DT_LOG_WARN, "http accept failed", "error", uv_strerror(status), NULL);
    return;
  }
  dt_http_conn *c = new_conn(srv);
  if (!c) return;
  if (uv_accept(listener, (uv_stream_t *)&c->tcp) < 0) {
    close_conn(c);
    return;
  }
  peer_name(c);
  uv_tcp_nodelay(&c->tcp, 1); /* responses go out whole, one write each */
  if (srv->open >= srv->lim.max_connections) {
    if (srv->rejecting >= srv->lim.max_connections) {
      close_conn(c);
      return;
    }
    c->rejected = 1;
    srv->rejecting++;
    send_error(c, 503, "too_many_connections", "server at connection limit", "max_connections");
    update_reading(c);
    return;
  }
  c->counted = 1;
  srv->open++;
  c->parser = dt_http_parser_new(&srv->lim);
  if (!c->parser) {
    close_conn(c);
    return;
  }
  arm_timer(c, srv->lim.idle_timeout_ms, 0);
  update_reading(c);
}

/* ---- server ---- */

static void on_listener_closed(uv_handle_t *h)
{
  dt_http_server *srv = h->data;
  srv->listening = 0;
  maybe_free_server(srv);
}

static void close_listener(dt_http_server *srv)
{
  if (!uv_is_closing((uv_handle_t *)&srv->listener))
    uv_close((uv_handle_t *)&srv->listener, on_listener_closed);
}

static int bind_listener(dt_http_server *srv, const char *host, int port)
{
  struct sockaddr_storage ss;
  int rc = strchr(host, ':') ? uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss)
                             : uv_ip4_addr(host, port, (struct sockaddr_in *)&ss);
  if (rc == 0) rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&srv->listener, 511, on_connection);
  int len = sizeof ss;
  if (rc == 0) rc = uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&ss, &len);
  if (rc < 0) return rc;
  srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
  return 0;
}

dt_http_server *dt_http_server_start(uv_loop_t *loop, const char *host, int port,
                                     const dt_http_limits *limits,
                                     dt_http_handler handler, void *ud)
{
  dt_http_server *srv = calloc(1, sizeof *srv);
  if (!srv) {
    dt_log(DT_LOG_ERROR, "http server: out of memory", NULL);
    return NULL;
  }
  srv->loop = loop;
  srv->handler = handler;
  srv->ud = ud;
  if (limits) srv->lim = *limits;
  else dt_http_limits_default(&srv->lim);
  int rc = uv_tcp_init(loop, &srv->listener);
  if (rc < 0) {
    dt_log(DT_LOG_ERROR, "http server: cannot create socket", "error", uv_strerror(rc), NULL);
    free(srv);
    return NULL;
  }
  srv->listener.data = srv;
  srv->listening = 1;
  char port_s[16];
  snprintf(port_s, sizeof port_s, "%d", port);
  if ((rc = bind_listener(srv, host, port)) < 0) {
    dt_log(DT_LOG_ERROR, "http server: cannot listen", "host", host, "port", port_s,
           "error", uv_strerror(rc), NULL);
    srv->closing = 1;
    close_listener(srv);
    return NULL;
  }
  /* A peer that resets the connection must fail the write, not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  return srv;
}

int dt_http_server_port(const dt_http_server *srv) { return srv->port; }
size_t dt_http_server_open_connections(const dt_http_server *srv) { return srv->open; }
size_t dt_http_server_inflight(const dt_http_server *srv) { return srv->inflight; }

void dt_http_server_drain(dt_http_server *srv, void (*on_drained)(void *ud), void *ud)
{
  srv->draining = 1;
  srv->on_drained = on_drained;
  srv->drained_ud = ud;
  close_listener(srv);
  for (dt_http_conn *c = srv->conns; c; c = c->next) {
    if (!c->inflight && !c->writing && !c->final && !c->raw) close_conn(c);
  }
  check_drained(srv);
}

void dt_http_server_close(dt_http_server *srv)
{
  srv->closing = 1;
  srv->on_drained = NULL;
  close_listener(srv);
  dt_http_conn *next;
  for (dt_http_conn *c = srv->conns; c; c = next) {
    next = c->next;
    if (c->inflight) {
      c->inflight = 0;
      srv->inflight--;
    }
    close_conn(c);
    maybe_free_conn(c);
  }
  maybe_free_server(srv);
}
