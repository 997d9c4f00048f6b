/* HTTP/1.1 request parser: llhttp plus copied spans and the limits of dt_http_limits.
 * No I/O. Feed bytes; it stops after each complete request and says how many bytes it used,
 * so pipelined input that follows stays with the caller until the next feed. */
#ifndef DT_HTTP_PARSER_H
#define DT_HTTP_PARSER_H

#include <stddef.h>

#include "http_server.h"

typedef enum {
  DT_HTTP_PARSE_ERROR = -1,   /* see dt_http_parser_error: answer it, then close */
  DT_HTTP_PARSE_MORE = 0,     /* every byte used, the request is not complete yet */
  DT_HTTP_PARSE_CONTINUE = 1, /* headers done with Expect: 100-continue and an acceptable
                                 body: send "100 Continue", then keep feeding */
  DT_HTTP_PARSE_DONE = 2,     /* a complete request: dt_http_parser_request */
} dt_http_parse_result;

typedef struct {
  int status;          /* 400, 413, 414, 431 or 500 */
  const char *code;    /* machine-readable, e.g. "header_too_large" */
  const char *message; /* short text for the client (no quotes or backslashes) */
  const char *detail;  /* finer cause for logs */
} dt_http_parse_error;

typedef struct dt_http_parser dt_http_parser;

/* The limits are copied. Returns NULL when out of memory. */
dt_http_parser *dt_http_parser_new(const dt_http_limits *limits);
void dt_http_parser_free(dt_http_parser *p);

/* Parses up to len bytes and sets *consumed. After DONE the request stays valid until the
 * next feed, which starts the next request. After ERROR every feed returns ERROR. */
int dt_http_parser_feed(dt_http_parser *p, const char *data, size_t len, size_t *consumed);

/* Whether bytes of a request that is not complete yet have been fed. */
int dt_http_parser_in_progress(const dt_http_parser *p);

/* The request after DONE (id and peer fields are left to the caller). */
dt_http_request *dt_http_parser_request(dt_http_parser *p);
const dt_http_parse_error *dt_http_parser_error(const dt_http_parser *p);
#endif
