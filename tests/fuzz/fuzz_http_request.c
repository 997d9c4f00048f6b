/* Arbitrary bytes into the request parser, fed the way the server feeds it: in two pieces
 * split where the first input byte says, unused bytes kept and fed again, every pipelined
 * request taken in turn. Small limits so that every limit path is reachable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

static void check_request(const dt_http_request *r)
{
  if (!r || !r->method || !r->target || !r->path || !r->query || !r->body) abort();
  if (strlen(r->target) > 128 || r->body_len > 256 || r->body[r->body_len] != '\0') abort();
  if (r->header_count > 8) abort();
  for (size_t i = 0; i < r->header_count; i++) {
    const char *name = r->headers[i].name, *value = r->headers[i].value;
    if (!*name || strpbrk(value, "\r\n")) abort();
    for (const char *c = name; *c; c++) {
      if (*c >= 'A' && *c <= 'Z') abort();
    }
    if (dt_http_header_get(r, name) == NULL) abort();
  }
}

static void check_error(const dt_http_parse_error *e)
{
  if (!e || !e->code || !e->message || !e->detail) abort();
  if (e->status != 400 && e->status != 413 && e->status != 414 && e->status != 431) abort();
}

/* Feeds what is pending; returns 0 to go on, -1 once the parser failed. */
static int drain(dt_http_parser *p, char *pending, size_t *have)
{
  while (*have > 0) {
    size_t used;
    int r = dt_http_parser_feed(p, pending, *have, &used);
    if (used > *have) abort();
    memmove(pending, pending + used, *have - used);
    *have -= used;
    if (r == DT_HTTP_PARSE_DONE) check_request(dt_http_parser_request(p));
    else if (r == DT_HTTP_PARSE_ERROR) {
      check_error(dt_http_parser_error(p));
      return -1;
    } else if (r == DT_HTTP_PARSE_MORE) {
      if (*have != 0) abort();
    }
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1) return 0;
  size_t split = data[0] % size;
  data++;
  size--;
  dt_http_limits l;
  dt_http_limits_default(&l);
  l.max_header_bytes = 512;
  l.max_headers = 8;
  l.max_url = 128;
  l.max_body = 256;
  dt_http_parser *p = dt_http_parser_new(&l);
  char *pending = malloc(size + 1);
  if (!p || !pending) abort();
  size_t have = split;
  memcpy(pending, data, split);
  if (drain(p, pending, &have) == 0) {
    memcpy(pending + have, data + split, size - split);
    have += size - split;
    drain(p, pending, &have);
  }
  free(pending);
  dt_http_parser_free(p);
  return 0;
}
