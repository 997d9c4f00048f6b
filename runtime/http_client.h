/* Outbound HTTP(S) requests: one libcurl multi handle driven by the default libuv loop
 * (multi-socket interface), so any number of requests are in flight without blocking it and
 * connections to the same host are reused. Completion is reported by a callback from the
 * loop, never from inside dt_http_client_start. */
#ifndef DT_HTTP_CLIENT_H
#define DT_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define DT_HTTP_CLIENT_MAX_BODY ((size_t)16 << 20)     /* request bodies */
#define DT_HTTP_CLIENT_MAX_RESPONSE ((size_t)256 << 20) /* highest allowed max_response */
#define DT_HTTP_CLIENT_MAX_RETRIES 5u
#define DT_HTTP_CLIENT_MAX_HEADERS 256

typedef struct dt_http_client_req dt_http_client_req;

typedef struct {
  const char *name, *value;
} dt_http_client_header;

typedef struct {
  const char *method;                   /* an HTTP token, e.g. "GET" */
  const char *url;                      /* http:// or https:// */
  const dt_http_client_header *headers; /* names and values without CR/LF */
  size_t nheaders;
  const char *body; /* copied; NULL for none */
  size_t body_len;  /* at most DT_HTTP_CLIENT_MAX_BODY */
  uint64_t timeout_ms;   /* per attempt, > 0 */
  size_t max_response;   /* body bytes; beyond it the request fails */
  unsigned retries;      /* GET and HEAD only (ignored otherwise): extra attempts after a
                            transport error or a 429/502/503/504, with exponential back-off */
  int follow_redirects;  /* 0: a 3xx is the response */
} dt_http_client_opts;

typedef struct {
  long status;                      /* 0 when error is set */
  const dt_http_client_header *headers; /* lower-case names, repeated ones joined with ", " */
  size_t nheaders;
  const char *body;
  size_t body_len;
  const char *error; /* NULL on success: "timeout", "connection refused", "response too
                        large (limit N bytes)", "shutting down" or curl's message */
  unsigned attempts;
} dt_http_client_response;

/* Called once from the loop when the request has finished; the request stays valid (and its
 * response readable) until dt_http_client_free. */
typedef void (*dt_http_client_done)(dt_http_client_req *req, void *ud);

/* Starts a request. Returns 0 and sets *out, or a negative error with a message in err
 * (invalid options, out of memory, or the client has shut down). */
int dt_http_client_start(const dt_http_client_opts *o, dt_http_client_done done, void *ud,
                         dt_http_client_req **out, char *err, size_t errlen);
const dt_http_client_response *dt_http_client_result(const dt_http_client_req *req);
/* Releases a request; one still in flight is cancelled and its callback never runs. */
void dt_http_client_free(dt_http_client_req *req);

/* Aborts every request in flight (callbacks run with error "shutting down"), closes every
 * connection and handle, and refuses new requests, so the loop can end. */
void dt_http_client_shutdown(void);
#endif
