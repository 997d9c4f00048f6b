/* WebSocket connections: see ws.h. The connection layer over any transport (ws_conn.h) and
 * the server side over the HTTP server's upgraded connections. One timer per connection
 * serves the idle ping, the pong deadline, the close handshake deadline, and a finish that
 * happened inside dt_ws_accept (deferred so the owner gets the connection first). */
#include "ws.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ws_conn.h"
#include "ws_handshake.h"

#define CLOSE_WAIT_MS 3000 /* how long our close waits for the peer's */
#define STACK_FRAME 4096   /* frames up to this size are built without a heap buffer */
#define MAX_REASON 123

enum { T_IDLE, T_PONG, T_CLOSING, T_DEFER };

struct dt_ws {
  uv_timer_t timer;
  uv_loop_t *loop;
  const dt_ws_transport *tr;
  void *t;
  dt_ws_role role;
  dt_ws_decoder dec;
  dt_ws_handlers h;
  void *ud;
  dt_ws_options opts;
  int transport_open, close_sent, finished, paused;
  int accepting, deferred; /* a finish inside dt_ws_accept waits for the timer */
  int timer_mode, input_since_ping;
  uint64_t last_input;
  int end_code;
  char end_reason[MAX_REASON + 1];
  char protocol[128];
  char peer[96];
};

void dt_ws_options_default(dt_ws_options *o)
{
  o->max_message = DT_WS_DEFAULT_MAX_MESSAGE;
  o->max_queued = (size_t)4 << 20;
  o->ping_interval_ms = 30000;
  o->pong_timeout_ms = 10000;
}

static void set_options(dt_ws_options *out, const dt_ws_options *in)
{
  dt_ws_options d;
  dt_ws_options_default(&d);
  if (!in) in = &d;
  *out = *in;
  if (!out->max_message) out->max_message = d.max_message;
  if (!out->max_queued) out->max_queued = d.max_queued;
  if (!out->pong_timeout_ms) out->pong_timeout_ms = d.pong_timeout_ms;
}

static void free_ws(uv_handle_t *h)
{
  dt_ws *ws = h->data;
  dt_ws_decoder_free(&ws->dec);
  free(ws);
}

static void log_close(const dt_ws *ws, const char *msg, int code, const char *detail)
{
  char c[12];
  snprintf(c, sizeof c, "%d", code);
  dt_log(DT_LOG_WARN, msg, "peer", ws->peer, "code", c, "detail", detail, NULL);
}

static void finish_now(dt_ws *ws, int code, const char *reason)
{
  ws->finished = 1;
  uv_timer_stop(&ws->timer);
  if (ws->transport_open) {
    ws->transport_open = 0;
    ws->tr->close(ws->t);
  }
  if (ws->h.on_close) ws->h.on_close(ws->ud, ws, code, reason);
  uv_close((uv_handle_t *)&ws->timer, free_ws);
}

/* Ends the connection once; the memory is released after the timer handle has closed, so
 * callers up the stack may still look at ws->finished. */
static void finish(dt_ws *ws, int code, const char *reason)
{
  if (ws->finished || ws->deferred) return;
  if (!ws->accepting) {
    finish_now(ws, code, reason);
    return;
  }
  ws->deferred = 1;
  ws->end_code = code;
  snprintf(ws->end_reason, sizeof ws->end_reason, "%s", reason);
}

static int ended(const dt_ws *ws) { return ws->finished || ws->deferred; }

static int transport_write(dt_ws *ws, const uint8_t *data, size_t len)
{
  if (!ws->transport_open) return -1;
  return ws->tr->write(ws->t, (const char *)data, len);
}

/* Client frames carry a fresh random masking key each (RFC 6455 §5.3). */
static const uint8_t *mask_key(const dt_ws *ws, uint8_t key[4])
{
  if (ws->role == DT_WS_ROLE_SERVER) return NULL;
  return RAND_bytes(key, 4) == 1 ? key : NULL;
}

/* Header and payload in one buffer, one transport write. */
static int write_frame(dt_ws *ws, int opcode, const char *data, size_t len)
{
  uint8_t key[4], hdr[DT_WS_MAX_HEADER], stack[STACK_FRAME];
  const uint8_t *mask = mask_key(ws, key);
  if (ws->role == DT_WS_ROLE_CLIENT && !mask) return -1;
  int n = dt_ws_write_header(hdr, opcode, 1, len, mask);
  if (n < 0 || len > SIZE_MAX - (size_t)n) return -1;
  size_t total = (size_t)n + len;
  uint8_t *buf = total <= sizeof stack ? stack : malloc(total);
  if (!buf) return -1;
  memcpy(buf, hdr, (size_t)n);
  if (len) memcpy(buf + n, data, len);
  if (mask) dt_ws_mask(buf + n, len, mask, 0);
  int rc = transport_write(ws, buf, total);
  if (buf != stack) free(buf);
  return rc;
}

static void send_control(dt_ws *ws, int opcode, const uint8_t *payload, size_t len)
{
  uint8_t key[4], frame[DT_WS_MAX_CONTROL_FRAME];
  const uint8_t *mask = mask_key(ws, key);
  if (ws->role == DT_WS_ROLE_CLIENT && !mask) return;
  int n = dt_ws_build_control(frame, sizeof frame, opcode, payload, len, mask);
  if (n > 0) transport_write(ws, frame, (size_t)n);
}

/* code 0 sends an empty close payload. */
static void send_close(dt_ws *ws, int code, const char *reason, size_t reason_len)
{
  if (ws->close_sent) return;
  ws->close_sent = 1;
  uint8_t key[4], frame[DT_WS_MAX_CONTROL_FRAME];
  const uint8_t *mask = mask_key(ws, key);
  if (ws->role == DT_WS_ROLE_CLIENT && !mask) return;
  int n = dt_ws_build_close(frame, sizeof frame, (uint16_t)code, reason, reason_len, mask);
  if (n > 0) transport_write(ws, frame, (size_t)n);
}

static void on_peer_close(dt_ws *ws, const dt_ws_event *ev)
{
  char reason[MAX_REASON + 1];
  size_t n = ev->len < MAX_REASON ? ev->len : MAX_REASON;
  memcpy(reason, ev->data, n);
  reason[n] = '\0';
  send_close(ws, ev->code == 1005 ? 0 : ev->code, NULL, 0);
  finish(ws, ev->code, reason);
}

static void on_protocol_error(dt_ws *ws, const dt_ws_event *ev)
{
  log_close(ws, "websocket protocol error; closing", ev->code, ev->error ? ev->error : "");
  send_close(ws, ev->code, NULL, 0);
  finish(ws, ev->code, ev->error ? ev->error : "protocol error");
}

static void handle_event(dt_ws *ws, int type, const dt_ws_event *ev)
{
  switch (type) {
  case DT_WS_EV_TEXT:
  case DT_WS_EV_BINARY:
    if (ws->h.on_message)
      ws->h.on_message(ws->ud, ws, type == DT_WS_EV_TEXT ? DT_WS_TEXT : DT_WS_BINARY,
                       (const char *)ev->data, ev->len);
    break;
  case DT_WS_EV_PING:
    if (!ws->close_sent) send_control(ws, DT_WS_OP_PONG, ev->data, ev->len);
    break;
  case DT_WS_EV_CLOSE:
    on_peer_close(ws, ev);
    break;
  case DT_WS_EV_ERROR:
    on_protocol_error(ws, ev);
    break;
  default: /* pongs only prove the peer is alive, which any input does */
    break;
  }
}

void dt_ws_feed(dt_ws *ws, char *data, size_t len)
{
  if (ended(ws)) return;
  ws->last_input = uv_now(ws->loop);
  ws->input_since_ping = 1;
  size_t off = 0;
  while (off < len && !ended(ws)) {
    size_t used;
    dt_ws_event ev;
    int type = dt_ws_decode(&ws->dec, (uint8_t *)data + off, len - off, &used, &ev);
    off += used;
    if (type == DT_WS_EV_MORE) break;
    handle_event(ws, type, &ev);
  }
}

void dt_ws_transport_end(dt_ws *ws)
{
  ws->transport_open = 0;
  finish(ws, 1006, "connection lost");
}

static void on_timer(uv_timer_t *t);

static void arm(dt_ws *ws, int mode, uint64_t ms)
{
  ws->timer_mode = mode;
  uv_timer_start(&ws->timer, on_timer, ms, 0);
}

/* Sends a ping once the peer has been silent for ping_interval_ms. */
static void check_idle(dt_ws *ws)
{
  uint64_t interval = ws->opts.ping_interval_ms, idle = uv_now(ws->loop) - ws->last_input;
  if (ws->paused || idle < interval) {
    arm(ws, T_IDLE, ws->paused ? interval : interval - idle);
    return;
  }
  ws->input_since_ping = 0;
  send_control(ws, DT_WS_OP_PING, (const uint8_t *)"", 0);
  if (!ended(ws)) arm(ws, T_PONG, ws->opts.pong_timeout_ms);
}

static void check_pong(dt_ws *ws)
{
  if (ws->input_since_ping || ws->paused) {
    check_idle(ws);
    return;
  }
  log_close(ws, "websocket peer did not answer a ping; closing", 1006, "ping timeout");
  finish(ws, 1006, "ping timeout");
}

static void on_timer(uv_timer_t *t)
{
  dt_ws *ws = t->data;
  switch (ws->timer_mode) {
  case T_DEFER: finish_now(ws, ws->end_code, ws->end_reason); break;
  case T_CLOSING: finish(ws, 1006, "close handshake timed out"); break;
  case T_PONG: check_pong(ws); break;
  default: check_idle(ws); break;
  }
}

dt_ws *dt_ws_new(uv_loop_t *loop, const dt_ws_transport *tr, void *t, dt_ws_role role,
                 const char *protocol, const char *peer, const dt_ws_options *opts,
                 const dt_ws_handlers *h, void *ud)
{
  dt_ws *ws = calloc(1, sizeof *ws);
  if (!ws) return NULL;
  ws->loop = loop;
  ws->tr = tr;
  ws->t = t;
  ws->role = role;
  ws->transport_open = 1;
  set_options(&ws->opts, opts);
  dt_ws_decoder_init(&ws->dec, role, ws->opts.max_message);
  dt_ws_set_handlers(ws, h, ud);
  snprintf(ws->protocol, sizeof ws->protocol, "%s", protocol ? protocol : "");
  snprintf(ws->peer, sizeof ws->peer, "%s", peer);
  uv_timer_init(loop, &ws->timer);
  ws->timer.data = ws;
  ws->last_input = uv_now(loop);
  if (ws->opts.ping_interval_ms) arm(ws, T_IDLE, ws->opts.ping_interval_ms);
  return ws;
}

void dt_ws_set_handlers(dt_ws *ws, const dt_ws_handlers *h, void *ud)
{
  ws->h = *h;
  ws->ud = ud;
}

static void queue_overflow(dt_ws *ws, size_t queued, size_t len)
{
  char q[24], cap[24], l[24];
  snprintf(q, sizeof q, "%zu", queued);
  snprintf(cap, sizeof cap, "%zu", ws->opts.max_queued);
  snprintf(l, sizeof l, "%zu", len);
  dt_log(DT_LOG_WARN, "websocket outbound queue over its cap; closing", "peer", ws->peer,
         "code", "1008", "queued", q, "message", l, "cap", cap, NULL);
  send_close(ws, 1008, "outbound queue full", 19);
  finish(ws, 1008, "outbound queue full");
}

int dt_ws_send(dt_ws *ws, int kind, const char *data, size_t len)
{
  if (ended(ws) || ws->close_sent || (kind != DT_WS_TEXT && kind != DT_WS_BINARY)) return -1;
  size_t queued = dt_ws_queued_bytes(ws), cap = ws->opts.max_queued;
  if (len > cap || queued > cap - len) {
    queue_overflow(ws, queued, len);
    return -1;
  }
  if (write_frame(ws, kind == DT_WS_TEXT ? DT_WS_OP_TEXT : DT_WS_OP_BINARY, data, len) != 0) {
    finish(ws, 1006, "write failed");
    return -1;
  }
  return 0;
}

void dt_ws_close(dt_ws *ws, int code, const char *reason)
{
  if (ended(ws) || ws->close_sent) return;
  if (!dt_ws_close_code_valid((unsigned)code)) code = 1000;
  size_t len = reason ? strlen(reason) : 0;
  if (len > MAX_REASON || !dt_ws_utf8_valid((const uint8_t *)reason, len)) len = 0;
  send_close(ws, code, len ? reason : NULL, len);
  if (!ended(ws)) arm(ws, T_CLOSING, CLOSE_WAIT_MS);
}

size_t dt_ws_queued_bytes(const dt_ws *ws)
{
  return ws->transport_open ? ws->tr->queued(ws->t) : 0;
}

void dt_ws_pause(dt_ws *ws, int paused)
{
  ws->paused = paused;
  if (ws->transport_open) ws->tr->pause(ws->t, paused);
}

const char *dt_ws_subprotocol(const dt_ws *ws) { return ws->protocol; }

/* ---- server side ---- */

static int srv_write(void *t, const char *data, size_t len) { return dt_http_raw_write(t, data, len); }
static size_t srv_queued(const void *t) { return dt_http_raw_queued(t); }
static void srv_pause(void *t, int paused) { dt_http_raw_pause(t, paused); }
static void srv_close(void *t) { dt_http_raw_close(t); }

static const dt_ws_transport server_transport = { srv_write, srv_queued, srv_pause, srv_close };

/* The bytes are the HTTP server's own read buffer, writable: the decoder unmasks in place. */
static void raw_data(void *ud, const char *data, size_t len) { dt_ws_feed(ud, (char *)data, len); }
static void raw_end(void *ud) { dt_ws_transport_end(ud); }

static const dt_http_raw_handlers raw_handlers = { raw_data, raw_end };

static void refuse(dt_http_conn *conn, const dt_ws_upgrade_result *res)
{
  const char *code = res->status == 426 ? "upgrade_required"
                     : res->status == 400 ? "bad_websocket_handshake" : "internal_error";
  char body[256];
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code,
                   res->error ? res->error : "websocket handshake refused");
  if (n < 0 || (size_t)n >= sizeof body) n = 0;
  dt_http_header h[] = { { "content-type", "application/json" }, { "sec-websocket-version", "13" } };
  dt_http_respond(conn, res->status, h, res->status == 426 ? 2 : 1, body, (size_t)n);
}

static void discard(dt_ws *ws)
{
  uv_close((uv_handle_t *)&ws->timer, free_ws);
}

dt_ws *dt_ws_accept(dt_http_conn *conn, const dt_http_request *req, const char *subprotocol,
                    const dt_ws_options *opts, const dt_ws_handlers *h, void *ud)
{
  dt_ws_upgrade_request u = {
    req->method, 1, 1, dt_http_header_get(req, "host"), dt_http_header_get(req, "upgrade"),
    dt_http_header_get(req, "connection"), dt_http_header_get(req, "sec-websocket-key"),
    dt_http_header_get(req, "sec-websocket-version"), dt_http_header_get(req, "sec-websocket-protocol"),
  };
  dt_ws_upgrade_result res;
  const char *const supported[1] = { subprotocol };
  if (dt_ws_server_handshake(&u, supported, subprotocol ? 1 : 0, &res) != 0) {
    refuse(conn, &res);
    return NULL;
  }
  dt_ws *ws = dt_ws_new(uv_default_loop(), &server_transport, conn, DT_WS_ROLE_SERVER,
                        res.protocol, req->peer_ip, opts, h, ud);
  if (!ws) {
    res.status = 500;
    res.error = "out of memory";
    refuse(conn, &res);
    return NULL;
  }
  dt_http_header hdrs[] = { { "Upgrade", "websocket" }, { "Sec-WebSocket-Accept", res.accept },
                            { "Sec-WebSocket-Protocol", res.protocol } };
  ws->accepting = 1;
  if (dt_http_upgrade(conn, hdrs, res.protocol ? 3 : 2, &raw_handlers, ws) != 0) {
    discard(ws);
    return NULL;
  }
  ws->accepting = 0;
  if (ws->deferred) arm(ws, T_DEFER, 0);
  return ws;
}
