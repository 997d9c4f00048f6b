/* HTTP/1.1 response formatting shared by the server's connection code: status line, the
 * framing headers the server owns (Date, Server, Content-Length, Connection), the caller's
 * headers (those that would break framing are dropped with a warning) and the body, in one
 * buffer ready for one uv_write. */
#ifndef DT_HTTP_RESPONSE_H
#define DT_HTTP_RESPONSE_H

#include <stddef.h>
#include <uv.h>

#include "http_server.h"

/* One queued write: the libuv request, its connection and the bytes. */
typedef struct {
  uv_write_t req;
  dt_http_conn *conn;
  int close_after;
  size_t len;
  char data[];
} dt_http_out;

/* Formats a whole response (no body bytes for HEAD, 1xx, 204 and 304; Connection: Upgrade for
 * 101). conn is left NULL for the caller to set. Returns NULL when out of memory. */
dt_http_out *dt_http_format_response(int is_head, int status, const dt_http_header *headers,
                                     size_t count, const char *body, size_t body_len, int close);
#endif
