/* Runs HTTP requests on the current script generation: one task (coroutine) per request,
 * the router's dispatch(req), and the Lua response turned back into HTTP. */
#ifndef DT_SERVE_H
#define DT_SERVE_H

#include "http_server.h"

/* The dt_http_handler for the server (ud unused). Built-in endpoints are answered first. */
void dt_serve_request(void *ud, dt_http_conn *conn, const dt_http_request *req);
/* For a binding that upgrades the running request's connection (WebSocket): returns the
 * connection and request of the request task running now, and marks it so no HTTP response
 * is sent when its handler returns. Returns -1 if the running task is not a request, or its
 * request was already taken. */
int dt_serve_take_connection(dt_http_conn **conn, const dt_http_request **req);

/* Abandons every request still running (shutdown after the drain timeout). */
void dt_serve_abandon_all(void);
#endif
