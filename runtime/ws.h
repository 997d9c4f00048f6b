/* WebSocket connections (RFC 6455), server and client side, on libuv: the frame codec
 * (ws_frame.c) over a TCP stream, with ping/pong, the close handshake, idle detection by ping,
 * and an outbound queue with back-pressure: a peer that stops reading cannot grow memory
 * without bound (beyond the cap the connection is closed with 1008 and a log line).
 *
 * Events reach whoever owns the connection through a handler table that can be swapped at any
 * time (a Lua script's connection, a call's media session, a bridge). */
#ifndef DT_WS_H
#define DT_WS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http_server.h"

enum { DT_WS_TEXT = 1, DT_WS_BINARY = 2 };

typedef struct dt_ws dt_ws;

typedef struct {
  /* A complete message (fragments reassembled). data is valid during the call only. */
  void (*on_message)(void *ud, dt_ws *ws, int kind, const char *data, size_t len);
  /* The connection is finished (close handshake done, peer gone, error, or cap exceeded).
   * code is the close code (1006 when there was no close frame). No event follows; the
   * connection is freed after this returns. It never runs inside dt_ws_accept (a connection
   * that ends that early is reported on the next loop turn), but may run inside dt_ws_send
   * or dt_ws_close when the socket fails. */
  void (*on_close)(void *ud, dt_ws *ws, int code, const char *reason);
} dt_ws_handlers;

typedef struct {
  size_t max_message;         /* default 1 MiB; beyond: close 1009 */
  size_t max_queued;          /* outbound bytes waiting for the peer; default 4 MiB; beyond: close 1008 */
  uint64_t ping_interval_ms;  /* idle this long: send a ping; default 30000 (0 = off) */
  uint64_t pong_timeout_ms;   /* no pong (or any data) this long after a ping: close; default 10000 */
} dt_ws_options;

void dt_ws_options_default(dt_ws_options *opts);

/* Server side: answers the upgrade request with 101 (adding extra_headers, e.g. the chosen
 * Sec-WebSocket-Protocol) and takes the connection over. Returns NULL (and answers 400/426
 * itself) when the request is not a valid WebSocket handshake. */
dt_ws *dt_ws_accept(dt_http_conn *conn, const dt_http_request *req, const char *subprotocol,
                    const dt_ws_options *opts, const dt_ws_handlers *h, void *ud);

/* Client side: connects to a ws:// URL. on_open gets the connection, or NULL and an error
 * message (connect failure, bad handshake, timeout). headers: extra request headers;
 * subprotocols: comma-separated list to offer, or NULL. */
typedef void (*dt_ws_open_cb)(void *ud, dt_ws *ws, const char *error);
/* dt_ws_connect returns 0 (on_open follows later, exactly once, never from inside the call)
 * or one of these, with no callback. */
enum {
  DT_WS_EURL = -1,    /* not a ws:// URL with a host, or too long */
  DT_WS_EWSS = -2,    /* wss:// (TLS) is not supported */
  DT_WS_EHEADER = -3, /* an extra header or subprotocol with invalid characters */
  DT_WS_ENOMEM = -4,
  DT_WS_ELOOP = -5,   /* libuv refused to start the resolver */
};
/* Abandons the connection attempts started with this ud that have not opened yet: their
 * on_open runs now, with NULL and "cancelled". */
void dt_ws_connect_cancel(void *ud);
/* A short message for a dt_ws_connect error code. */
const char *dt_ws_connect_error(int rc);
int dt_ws_connect(uv_loop_t *loop, const char *url, const dt_http_header *headers, size_t nheaders,
                  const char *subprotocols, uint64_t timeout_ms, const dt_ws_options *opts,
                  const dt_ws_handlers *h, void *ud, dt_ws_open_cb on_open);

void dt_ws_set_handlers(dt_ws *ws, const dt_ws_handlers *h, void *ud);
/* Queues a message (copied). Returns 0, or -1 if the connection is closing or the queue cap
 * was exceeded (the connection is then being closed). */
int dt_ws_send(dt_ws *ws, int kind, const char *data, size_t len);
/* Starts the close handshake (code 1000 if 0). on_close follows when it is done. */
void dt_ws_close(dt_ws *ws, int code, const char *reason);
size_t dt_ws_queued_bytes(const dt_ws *ws);
/* Stops (1) or resumes (0) reading from the peer: the owner's inbound back-pressure. While
 * paused, the idle ping check is suspended. */
void dt_ws_pause(dt_ws *ws, int paused);
/* The negotiated subprotocol ("" if none). */
const char *dt_ws_subprotocol(const dt_ws *ws);
#endif
