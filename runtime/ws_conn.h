/* Internal to ws.c and ws_client.c: a WebSocket connection over any byte transport (the HTTP
 * server's upgraded connection, or the client's own TCP handle). */
#ifndef DT_WS_CONN_H
#define DT_WS_CONN_H

#include <stddef.h>

#include "ws.h"
#include "ws_frame.h"

typedef struct {
  /* Queues bytes (copied). Returns 0, or -1 when the transport is closing or failed (it may
   * then call dt_ws_transport_end from inside). */
  int (*write)(void *t, const char *data, size_t len);
  size_t (*queued)(const void *t);
  void (*pause)(void *t, int paused);
  /* Flushes what is queued (for a bounded time), then closes. No call into the dt_ws follows. */
  void (*close)(void *t);
} dt_ws_transport;

/* A connection in the open state over transport t. peer names the other side in log lines.
 * Returns NULL when out of memory. */
dt_ws *dt_ws_new(uv_loop_t *loop, const dt_ws_transport *tr, void *t, dt_ws_role role,
                 const char *protocol, const char *peer, const dt_ws_options *opts,
                 const dt_ws_handlers *h, void *ud);
/* Bytes from the peer; modified in place (unmasking). */
void dt_ws_feed(dt_ws *ws, char *data, size_t len);
/* The transport is gone (peer reset, EOF, server closing): no close call must follow. */
void dt_ws_transport_end(dt_ws *ws);
#endif
