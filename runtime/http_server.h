/* HTTP/1.1 server on libuv + llhttp.
 *
 * Requests on one connection are handed to the handler one at a time and answered in order
 * (pipelined input is buffered, within limits, until the current response is sent). Every
 * limit is enforced here, before the handler sees anything. The handler may answer later
 * (asynchronously): the request stays valid until dt_http_respond is called for it, even if
 * the peer has gone away meanwhile (the response is then dropped). */
#ifndef DT_HTTP_SERVER_H
#define DT_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct {
  size_t max_header_bytes;     /* request line + headers; beyond: 431 (default 16 KiB) */
  size_t max_headers;          /* header count; beyond: 431 (default 100) */
  size_t max_url;              /* request target length; beyond: 414 (default 8 KiB) */
  size_t max_body;             /* decoded body bytes; beyond: 413 (default 1 MiB) */
  uint64_t header_timeout_ms;  /* a started request must complete its headers; else 408 (10 s) */
  uint64_t idle_timeout_ms;    /* keep-alive connection with no request in progress (60 s) */
  size_t max_connections;      /* open connections; beyond: 503 and close (default 1024) */
} dt_http_limits;

void dt_http_limits_default(dt_http_limits *limits);

typedef struct {
  const char *name;  /* lower-cased, NUL-terminated */
  const char *value; /* NUL-terminated */
} dt_http_header;

typedef struct dt_http_request {
  uint64_t id;                 /* unique per server, for logs */
  const char *method;          /* "GET", "POST", ... */
  const char *target;          /* raw request target as sent, e.g. "/x/1?a=b" */
  const char *path;            /* target up to '?', not percent-decoded */
  const char *query;           /* after '?' (without it), "" when absent */
  const dt_http_header *headers;
  size_t header_count;
  const char *body;            /* de-chunked body, NUL-terminated for convenience */
  size_t body_len;
  int keep_alive;              /* whether the connection stays open after the response */
  char peer_ip[64];            /* textual peer address */
  int peer_is_loopback;
} dt_http_request;

/* Returns the value of a header (name lower-case), or NULL. */
const char *dt_http_header_get(const dt_http_request *req, const char *name);

typedef struct dt_http_server dt_http_server;
typedef struct dt_http_conn dt_http_conn;

/* Called once per complete request. Must eventually call dt_http_respond for it. */
typedef void (*dt_http_handler)(void *ud, dt_http_conn *conn, const dt_http_request *req);

/* Creates and binds a listening server (port 0 picks a free port). Returns NULL and logs on error. */
dt_http_server *dt_http_server_start(uv_loop_t *loop, const char *host, int port,
                                     const dt_http_limits *limits,
                                     dt_http_handler handler, void *ud);
/* The bound port (useful after port 0). */
int dt_http_server_port(const dt_http_server *srv);
size_t dt_http_server_open_connections(const dt_http_server *srv);
/* Requests handed to the handler and not yet answered. */
size_t dt_http_server_inflight(const dt_http_server *srv);

/* Graceful drain: stop accepting, close idle keep-alive connections, let in-flight requests
 * finish (their connections close after the response). on_drained runs once no request is in
 * flight (possibly at once). */
void dt_http_server_drain(dt_http_server *srv, void (*on_drained)(void *ud), void *ud);
/* Closes every connection and the listener; frees the server once libuv has released the
 * handles (run the loop until it returns). Unanswered requests are dropped. */
void dt_http_server_close(dt_http_server *srv);

/* Sends the response to the connection's current request. For HEAD the body is not sent
 * (Content-Length still describes it). Adds Content-Length, Date and Connection headers;
 * headers passed in must not contain those. Returns 0, or -1 if the peer is gone (the
 * request is released either way). */
int dt_http_respond(dt_http_conn *conn, int status, const dt_http_header *headers,
                    size_t header_count, const char *body, size_t body_len);

/* ---- upgraded connections (WebSocket) ---- */

typedef struct {
  /* Bytes from the peer (valid during the call only). */
  void (*on_data)(void *ud, const char *data, size_t len);
  /* The connection ended: the peer closed it, an error, or the server closed. No call follows
   * and the connection must not be used after this. */
  void (*on_end)(void *ud);
} dt_http_raw_handlers;

/* Answers the connection's current request with 101 Switching Protocols (Connection: Upgrade
 * is added; headers should include Upgrade and the protocol's own) and hands the byte stream to
 * h: bytes that arrived after the request are delivered first, before this returns. The
 * connection leaves HTTP (no HTTP timeouts) but stays open and counted; a drain waits for it.
 * Returns 0, or -1 if the peer is gone (the request is released either way). */
int dt_http_upgrade(dt_http_conn *conn, const dt_http_header *headers, size_t header_count,
                    const dt_http_raw_handlers *h, void *ud);
/* Queues bytes (copied) on an upgraded connection. Returns 0, or -1 if it is closing. */
int dt_http_raw_write(dt_http_conn *conn, const char *data, size_t len);
/* Bytes queued and not yet accepted by the kernel: the owner's back-pressure signal. */
size_t dt_http_raw_queued(const dt_http_conn *conn);
/* Stops (1) or resumes (0) reading from the peer. */
void dt_http_raw_pause(dt_http_conn *conn, int paused);
/* Flushes queued bytes, then closes. No callback follows. */
void dt_http_raw_close(dt_http_conn *conn);
/* Upgraded connections still open. */
size_t dt_http_server_upgraded(const dt_http_server *srv);

/* Standard reason phrase for a status code ("Unknown" if not known). */
const char *dt_http_reason(int status);
#endif
