/* Endpoints answered in C, so they work even when no script does: GET /healthz,
 * GET /metrics, and, from loopback only, GET /admin/status and POST /admin/reload. */
#ifndef DT_ADMIN_H
#define DT_ADMIN_H

#include "http_server.h"

void dt_admin_set_server(dt_http_server *srv);
/* Answers the request if it is one of the built-in endpoints; returns 1 if it did. */
int dt_admin_handle(dt_http_conn *conn, const dt_http_request *req);
#endif
