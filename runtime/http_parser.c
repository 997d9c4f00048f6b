#include "http_parser.h"

#include <llhttp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dt_http_parser {
  llhttp_t ll;
  dt_http_limits lim;
  dt_http_request req;
  dt_http_parse_error err;
  int failed;
  int done;            /* a complete request is held */
  int headers_done;
  int expect_continue;
  size_t header_bytes; /* raw bytes of the request line and headers so far */
  size_t extra_bytes;  /* chunk extensions and trailers, bounded like headers */
  size_t url_len;
  /* Spans are copied NUL-terminated into buf; offsets until the headers are complete,
   * since buf may move while it grows. */
  char *buf;
  size_t buf_len, buf_cap, span_start;
  size_t *offs;        /* name and value offsets, two per header */
  size_t nheaders, offs_cap;
  dt_http_header *headers;
  size_t headers_cap;
  char *body;
  size_t body_len, body_cap;
};

/* Bodies above this are freed between requests rather than kept for reuse. */
#define KEEP_BODY_CAP 65536

static size_t sat_add(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

static dt_http_parser *from_ll(llhttp_t *ll) { return (dt_http_parser *)ll->data; }

static int fail(dt_http_parser *p, int status, const char *code, const char *message,
                const char *detail)
{
  p->err.status = status;
  p->err.code = code;
  p->err.message = message;
  p->err.detail = detail;
  return HPE_USER;
}

static int fail_header_size(dt_http_parser *p, const char *detail)
{
  return fail(p, 431, "header_too_large", "request headers too large", detail);
}

static int fail_oom(dt_http_parser *p)
{
  return fail(p, 500, "internal_error", "out of memory", "out of memory");
}

static int grow(void **ptr, size_t *cap, size_t need, size_t elem, size_t limit)
{
  if (need <= *cap) return 0;
  if (need > limit) return -1;
  size_t n = *cap ? *cap : 256;
  while (n < need) n = n > limit / 2 ? limit : n * 2;
  if (n > SIZE_MAX / elem) return -1;
  void *q = realloc(*ptr, n * elem);
  if (!q) return -2;
  *ptr = q;
  *cap = n;
  return 0;
}

/* Makes room for n more bytes in buf (which may move). */
static int buf_reserve(dt_http_parser *p, size_t n)
{
  /* Spans never exceed the raw header bytes; path and query copies add max_url. */
  size_t limit = sat_add(sat_add(p->lim.max_header_bytes, p->lim.max_url),
                         sat_add(p->lim.max_headers, p->lim.max_headers) + 16);
  int rc = grow((void **)&p->buf, &p->buf_cap, sat_add(p->buf_len, n), 1, limit);
  if (rc == -2) return fail_oom(p);
  if (rc < 0) return fail_header_size(p, "header buffer");
  return 0;
}

/* s must not point into buf. */
static int buf_append(dt_http_parser *p, const char *s, size_t n)
{
  if (n == 0) return 0; /* llhttp may report empty spans; buf may still be NULL */
  int rc = buf_reserve(p, n);
  if (rc) return rc;
  memcpy(p->buf + p->buf_len, s, n);
  p->buf_len += n;
  return 0;
}

/* Terminates the span being collected and returns its offset. */
static int end_span(dt_http_parser *p, size_t *off)
{
  int rc = buf_append(p, "", 1);
  if (rc) return rc;
  *off = p->span_start;
  p->span_start = p->buf_len;
  return 0;
}

static int fail_malformed(dt_http_parser *p, const char *detail)
{
  return fail(p, 400, "bad_request", "malformed request", detail);
}

/* tchar of RFC 9110 5.6.2 */
static int is_token_char(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int on_url(llhttp_t *ll, const char *at, size_t n)
{
  dt_http_parser *p = from_ll(ll);
  if (n > p->lim.max_url - p->url_len)
    return fail(p, 414, "uri_too_long", "request target too long", "url");
  /* llhttp's non-strict build lets HTAB and FF through. */
  for (size_t i = 0; i < n; i++) {
    if ((unsigned char)at[i] <= ' ' || at[i] == 0x7f)
      return fail_malformed(p, "control character in target");
  }
  p->url_len += n;
  return buf_append(p, at, n);
}

static int on_url_complete(llhttp_t *ll)
{
  size_t off;
  return end_span(from_ll(ll), &off);
}

/* Trailers and chunk extensions are parsed but not kept; only their size is bounded. */
static int count_extra(dt_http_parser *p, size_t n)
{
  if (n > p->lim.max_header_bytes - p->extra_bytes) return fail_header_size(p, "trailers");
  p->extra_bytes += n;
  return 0;
}

static int on_extension(llhttp_t *ll, const char *at, size_t n)
{
  (void)at;
  return count_extra(from_ll(ll), n);
}

static int on_header_span(llhttp_t *ll, const char *at, size_t n)
{
  dt_http_parser *p = from_ll(ll);
  return p->headers_done ? count_extra(p, n) : buf_append(p, at, n);
}

static int on_field_complete(llhttp_t *ll)
{
  dt_http_parser *p = from_ll(ll);
  if (p->headers_done) return 0;
  if (p->nheaders >= p->lim.max_headers)
    return fail(p, 431, "too_many_headers", "too many request headers", "header count");
  size_t need = p->nheaders + 1;
  int rc = grow((void **)&p->offs, &p->offs_cap, need, 2 * sizeof(size_t), SIZE_MAX);
  if (rc) return fail_oom(p);
  size_t off;
  if ((rc = end_span(p, &off))) return rc;
  /* llhttp's non-strict build accepts "Name :" (whitespace before the colon, RFC 9112 5.1). */
  if (!p->buf[off]) return fail_malformed(p, "empty header name");
  for (char *c = p->buf + off; *c; c++) {
    if (!is_token_char((unsigned char)*c)) return fail_malformed(p, "invalid header name");
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  }
  p->offs[2 * p->nheaders] = off;
  return 0;
}

/* An obs-fold leaves CR/LF in the value: replace them with spaces (RFC 9112 5.2), then
 * drop trailing whitespace. */
static void clean_value(char *v)
{
  size_t n = strlen(v);
  for (size_t i = 0; i < n; i++) {
    if (v[i] == '\r' || v[i] == '\n') v[i] = ' ';
  }
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) v[--n] = '\0';
}

static int on_value_complete(llhttp_t *ll)
{
  dt_http_parser *p = from_ll(ll);
  if (p->headers_done) return 0;
  size_t off;
  int rc = end_span(p, &off);
  if (rc) return rc;
  clean_value(p->buf + off);
  p->offs[2 * p->nheaders + 1] = off;
  p->nheaders++;
  return 0;
}

/* Fills method, target, path, query and the header array once buf stops moving. */
static int build_request(dt_http_parser *p)
{
  if (!p->buf) return fail_malformed(p, "no target");
  size_t tlen = strlen(p->buf), qmark = strcspn(p->buf, "?");
  int rc = buf_reserve(p, tlen + 2); /* path, '\0', query, '\0': copied from buf itself */
  if (rc) return rc;
  size_t path_off = p->buf_len, query_off = path_off + qmark + 1;
  size_t qlen = qmark < tlen ? tlen - qmark - 1 : 0;
  memcpy(p->buf + path_off, p->buf, qmark);
  p->buf[path_off + qmark] = '\0';
  memcpy(p->buf + query_off, p->buf + tlen - qlen, qlen);
  p->buf[query_off + qlen] = '\0';
  p->buf_len = query_off + qlen + 1;
  if (p->nheaders > 0) {
    if (grow((void **)&p->headers, &p->headers_cap, p->nheaders, sizeof *p->headers, SIZE_MAX))
      return fail_oom(p);
    for (size_t i = 0; i < p->nheaders; i++) {
      p->headers[i].name = p->buf + p->offs[2 * i];
      p->headers[i].value = p->buf + p->offs[2 * i + 1];
    }
  }
  dt_http_request *r = &p->req;
  r->method = llhttp_method_name((llhttp_method_t)p->ll.method);
  r->target = p->buf;
  r->path = p->buf + path_off;
  r->query = p->buf + query_off;
  r->headers = p->headers;
  r->header_count = p->nheaders;
  return 0;
}

static int wants_continue(dt_http_parser *p)
{
  const char *e = dt_http_header_get(&p->req, "expect");
  int has_body = (p->ll.flags & F_CHUNKED) || p->ll.content_length > 0;
  return e && strcasecmp(e, "100-continue") == 0 && has_body &&
         (p->ll.http_major > 1 || (p->ll.http_major == 1 && p->ll.http_minor >= 1));
}

static int on_headers_complete(llhttp_t *ll)
{
  dt_http_parser *p = from_ll(ll);
  p->headers_done = 1;
  /* llhttp takes a request line without a version as HTTP/0.9; only 1.x is served. */
  if (ll->http_major != 1) return fail(p, 400, "bad_request", "unsupported HTTP version", "version");
  int rc = build_request(p);
  if (rc) return rc;
  /* The body buffer grows as bytes arrive: a bare header must not reserve max_body. */
  if ((ll->flags & F_CONTENT_LENGTH) && !(ll->flags & F_CHUNKED) &&
      ll->content_length > p->lim.max_body)
    return fail(p, 413, "body_too_large", "request body too large", "content-length");
  p->expect_continue = wants_continue(p);
  return HPE_PAUSED; /* lets feed count the header bytes exactly */
}

static int on_body(llhttp_t *ll, const char *at, size_t n)
{
  dt_http_parser *p = from_ll(ll);
  if (n > p->lim.max_body - p->body_len)
    return fail(p, 413, "body_too_large", "request body too large", "body");
  size_t limit = sat_add(p->lim.max_body, 1);
  int rc = grow((void **)&p->body, &p->body_cap, p->body_len + n + 1, 1, limit);
  if (rc) return fail_oom(p);
  memcpy(p->body + p->body_len, at, n);
  p->body_len += n;
  return 0;
}

static int on_message_complete(llhttp_t *ll)
{
  dt_http_parser *p = from_ll(ll);
  if (p->body) p->body[p->body_len] = '\0';
  p->req.body = p->body ? p->body : "";
  p->req.body_len = p->body_len;
  /* Bytes after an Upgrade or CONNECT are another protocol: not HTTP for this server. */
  p->req.keep_alive = llhttp_should_keep_alive(ll) && !ll->upgrade;
  p->done = 1;
  return HPE_PAUSED; /* stop after one request: the rest is the next request's */
}

static const llhttp_settings_t settings = {
  .on_url = on_url,
  .on_url_complete = on_url_complete,
  .on_header_field = on_header_span,
  .on_header_field_complete = on_field_complete,
  .on_header_value = on_header_span,
  .on_header_value_complete = on_value_complete,
  .on_chunk_extension_name = on_extension,
  .on_chunk_extension_value = on_extension,
  .on_headers_complete = on_headers_complete,
  .on_body = on_body,
  .on_message_complete = on_message_complete,
};

static void begin_message(dt_http_parser *p)
{
  llhttp_init(&p->ll, HTTP_REQUEST, &settings);
  p->ll.data = p;
  memset(&p->req, 0, sizeof p->req);
  p->done = p->headers_done = p->expect_continue = 0;
  p->header_bytes = p->extra_bytes = p->url_len = 0;
  p->buf_len = p->span_start = p->nheaders = p->body_len = 0;
  if (p->body_cap > KEEP_BODY_CAP) {
    free(p->body);
    p->body = NULL;
    p->body_cap = 0;
  }
}

dt_http_parser *dt_http_parser_new(const dt_http_limits *limits)
{
  dt_http_parser *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  p->lim = *limits;
  begin_message(p);
  return p;
}

void dt_http_parser_free(dt_http_parser *p)
{
  if (!p) return;
  free(p->buf);
  free(p->offs);
  free(p->headers);
  free(p->body);
  free(p);
}

static int parse_failed(dt_http_parser *p, llhttp_errno_t e)
{
  if (!p->err.status)
    fail_malformed(p, llhttp_get_error_reason(&p->ll));
  if (!p->err.detail) p->err.detail = llhttp_errno_name(e);
  p->failed = 1;
  return DT_HTTP_PARSE_ERROR;
}

static int header_limit(dt_http_parser *p)
{
  fail_header_size(p, "header bytes");
  p->failed = 1;
  return DT_HTTP_PARSE_ERROR;
}

/* Runs llhttp on n bytes and sets how many it used. Returns 0 or DT_HTTP_PARSE_ERROR. */
static int execute(dt_http_parser *p, const char *at, size_t n, size_t *used)
{
  llhttp_errno_t e = llhttp_execute(&p->ll, at, n);
  *used = n;
  if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
    *used = (size_t)(llhttp_get_error_pos(&p->ll) - at);
    if (!p->done && !p->headers_done) return parse_failed(p, e);
    if (!p->done) llhttp_resume(&p->ll);
  } else if (e != HPE_OK) {
    return parse_failed(p, e);
  }
  return 0;
}

int dt_http_parser_feed(dt_http_parser *p, const char *data, size_t len, size_t *consumed)
{
  *consumed = 0;
  if (p->failed) return DT_HTTP_PARSE_ERROR;
  if (p->done) begin_message(p);
  size_t off = 0;
  int kick = 0; /* resumed after the headers: llhttp may finish the request without bytes */
  while (off < len || kick) {
    int had_headers = p->headers_done;
    size_t n = len - off, used;
    if (!had_headers) {
      size_t room = p->lim.max_header_bytes - p->header_bytes;
      if (room == 0) return header_limit(p);
      if (n > room) n = room;
    }
    if (execute(p, data + off, n, &used)) return DT_HTTP_PARSE_ERROR;
    off += used;
    *consumed = off;
    if (!had_headers) p->header_bytes += used;
    if (p->done) return DT_HTTP_PARSE_DONE;
    kick = !had_headers && p->headers_done;
    if (kick && p->expect_continue) return DT_HTTP_PARSE_CONTINUE;
  }
  /* Headers still open at the limit: any way of finishing them is over it. */
  if (!p->headers_done && p->header_bytes >= p->lim.max_header_bytes) return header_limit(p);
  return DT_HTTP_PARSE_MORE;
}

int dt_http_parser_in_progress(const dt_http_parser *p)
{
  return !p->done && p->header_bytes > 0;
}

dt_http_request *dt_http_parser_request(dt_http_parser *p) { return p->done ? &p->req : NULL; }

const dt_http_parse_error *dt_http_parser_error(const dt_http_parser *p)
{
  return p->failed ? &p->err : NULL;
}

const char *dt_http_header_get(const dt_http_request *req, const char *name)
{
  for (size_t i = 0; i < req->header_count; i++) {
    if (strcmp(req->headers[i].name, name) == 0) return req->headers[i].value;
  }
  return NULL;
}
