/* Outbound HTTP on libcurl's multi-socket interface: curl tells us which sockets to watch
 * (one uv_poll each) and when to call it back (one uv_timer); the loop reports readiness
 * with curl_multi_socket_action. Finished transfers are collected with curl_multi_info_read.
 * Connections stay in the multi handle's cache for reuse between requests. */
#include "http_client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

#define BACKOFF_FIRST_MS 100u
#define BACKOFF_MAX_MS 2000u
#define CONNECT_TIMEOUT_MAX_MS 10000u
#define MAX_REDIRECTS 10L
#define BODY_INITIAL ((size_t)16 << 10)

enum { R_ACTIVE, R_BACKOFF, R_DONE };

struct dt_http_client_req {
  CURL *easy;
  struct curl_slist *hdrs;
  dt_http_client_done done;
  void *ud;
  uv_timer_t backoff; /* initialised for the first retry; then frees the request on close */
  int has_backoff;
  int state;
  unsigned retries_left;
  size_t max_response;
  const char *abort_reason; /* why a callback of ours stopped the transfer */
  char *body;
  size_t body_len, body_cap;
  dt_http_client_header *headers;
  size_t nheaders;
  dt_http_client_response res;
  char errbuf[CURL_ERROR_SIZE];
  char errmsg[CURL_ERROR_SIZE + 64];
  struct dt_http_client_req *prev, *next; /* unfinished requests */
};

typedef struct poll_ctx {
  uv_poll_t poll;
  curl_socket_t fd;
  struct poll_ctx *prev, *next;
} poll_ctx;

static struct {
  CURLM *multi;
  uv_timer_t timer;
  int ready, closed;
  dt_http_client_req *reqs;
  size_t inflight;
  poll_ctx *polls;
} M;

static const char TOO_LARGE[] = "too large";

static void process_done(void);

/* ---- keeping the loop alive only while requests are in flight ---- */

/* Idle cached connections and curl's own timers must not keep `dialtone run` alive. */
static void update_refs(void)
{
  void (*set)(uv_handle_t *) = M.inflight ? uv_ref : uv_unref;
  set((uv_handle_t *)&M.timer);
  for (poll_ctx *p = M.polls; p; p = p->next) set((uv_handle_t *)&p->poll);
}

/* ---- the multi handle on the loop ---- */

static void on_poll(uv_poll_t *h, int status, int events)
{
  poll_ctx *p = h->data;
  int flags = 0, running;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  curl_multi_socket_action(M.multi, p->fd, flags, &running);
  process_done();
}

static void free_poll(uv_handle_t *h) { free(h->data); }

static void close_poll(poll_ctx *p)
{
  if (p->prev) p->prev->next = p->next;
  else M.polls = p->next;
  if (p->next) p->next->prev = p->prev;
  uv_poll_stop(&p->poll);
  uv_close((uv_handle_t *)&p->poll, free_poll);
}

static poll_ctx *new_poll(curl_socket_t fd)
{
  poll_ctx *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  if (uv_poll_init_socket(uv_default_loop(), &p->poll, fd) != 0) {
    free(p);
    return NULL;
  }
  p->fd = fd;
  p->poll.data = p;
  p->next = M.polls;
  if (M.polls) M.polls->prev = p;
  M.polls = p;
  if (!M.inflight) uv_unref((uv_handle_t *)&p->poll);
  curl_multi_assign(M.multi, fd, p);
  return p;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
  (void)e;
  (void)userp;
  poll_ctx *p = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (p) {
      curl_multi_assign(M.multi, fd, NULL);
      close_poll(p);
    }
    return 0;
  }
  if (!p && !(p = new_poll(fd))) return -1;
  int events = 0;
  if (what & CURL_POLL_IN) events |= UV_READABLE;
  if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
  return uv_poll_start(&p->poll, events, on_poll) == 0 ? 0 : -1;
}

static void on_timer(uv_timer_t *t)
{
  (void)t;
  int running;
  curl_multi_socket_action(M.multi, CURL_SOCKET_TIMEOUT, 0, &running);
  process_done();
}

/* curl asks to be called back in timeout_ms (never synchronously: 0 waits for the loop). */
static int on_timer_request(CURLM *multi, long timeout_ms, void *userp)
{
  (void)multi;
  (void)userp;
  if (timeout_ms < 0) uv_timer_stop(&M.timer);
  else uv_timer_start(&M.timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

static int ensure_ready(void)
{
  if (M.closed) return -1;
  if (M.ready) return 0;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return -1;
  M.multi = curl_multi_init();
  if (!M.multi) return -1;
  curl_multi_setopt(M.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(M.multi, CURLMOPT_TIMERFUNCTION, on_timer_request);
  uv_timer_init(uv_default_loop(), &M.timer);
  uv_unref((uv_handle_t *)&M.timer);
  M.ready = 1;
  return 0;
}

/* ---- response collection ---- */

static void clear_response(dt_http_client_req *r)
{
  for (size_t i = 0; i < r->nheaders; i++) {
    free((char *)r->headers[i].name);
    free((char *)r->headers[i].value);
  }
  free(r->headers);
  r->headers = NULL;
  r->nheaders = 0;
  r->body_len = 0;
  r->abort_reason = NULL;
  r->errbuf[0] = '\0';
}

static int grow_body(dt_http_client_req *r, size_t need)
{
  if (need <= r->body_cap) return 0;
  size_t cap = r->body_cap ? r->body_cap : BODY_INITIAL;
  while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  if (cap > r->max_response) cap = r->max_response;
  char *b = realloc(r->body, cap);
  if (!b) return -1;
  r->body = b;
  r->body_cap = cap;
  return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
  dt_http_client_req *r = ud;
  size_t len = size * n;
  if (len > r->max_response - r->body_len) {
    r->abort_reason = TOO_LARGE;
    return 0;
  }
  if (grow_body(r, r->body_len + len) != 0) {
    r->abort_reason = "out of memory";
    return 0;
  }
  memcpy(r->body + r->body_len, data, len);
  r->body_len += len;
  return len;
}

static char *dup_span(const char *s, size_t len)
{
  char *d = malloc(len + 1);
  if (!d) return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

/* Appends ", value" to an existing header's value. */
static int join_value(dt_http_client_header *h, const char *v, size_t vlen)
{
  size_t old = strlen(h->value);
  char *joined = realloc((char *)h->value, old + 2 + vlen + 1);
  if (!joined) return -1;
  memcpy(joined + old, ", ", 2);
  memcpy(joined + old + 2, v, vlen);
  joined[old + 2 + vlen] = '\0';
  h->value = joined;
  return 0;
}

static int add_header(dt_http_client_req *r, const char *name, size_t nlen, const char *v, size_t vlen)
{
  for (size_t i = 0; i < r->nheaders; i++)
    if (strlen(r->headers[i].name) == nlen && memcmp(r->headers[i].name, name, nlen) == 0)
      return join_value(&r->headers[i], v, vlen);
  if (r->nheaders == DT_HTTP_CLIENT_MAX_HEADERS) return -2;
  dt_http_client_header *hs = realloc(r->headers, (r->nheaders + 1) * sizeof *hs);
  if (!hs) return -1;
  r->headers = hs;
  char *n = dup_span(name, nlen), *val = dup_span(v, vlen);
  if (!n || !val) {
    free(n);
    free(val);
    return -1;
  }
  for (char *c = n; *c; c++) *c = (char)tolower((unsigned char)*c);
  hs[r->nheaders].name = n;
  hs[r->nheaders++].value = val;
  return 0;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
  dt_http_client_req *r = ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) { /* a new response (1xx, redirect): start over */
    clear_response(r);
    return len;
  }
  const char *colon = memchr(line, ':', len);
  if (!colon || colon == line) return len;
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1, *end = line + len;
  while (v < end && (*v == ' ' || *v == '\t')) v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
  int rc = add_header(r, line, nlen, v, (size_t)(end - v));
  if (rc == 0) return len;
  r->abort_reason = rc == -2 ? "too many response headers" : "out of memory";
  return 0;
}

/* ---- finishing, retrying ---- */

static void unlink_req(dt_http_client_req *r)
{
  if (r->prev) r->prev->next = r->next;
  else M.reqs = r->next;
  if (r->next) r->next->prev = r->prev;
  r->prev = r->next = NULL;
  M.inflight--;
  update_refs();
}

/* Takes the request out of the multi handle or its back-off wait. */
static void detach(dt_http_client_req *r)
{
  if (r->state == R_DONE) return;
  if (r->state == R_ACTIVE) curl_multi_remove_handle(M.multi, r->easy);
  else if (r->has_backoff) uv_timer_stop(&r->backoff);
  r->state = R_DONE;
  unlink_req(r);
}

/* The done callback comes last: it may free the request. */
static void finish(dt_http_client_req *r, const char *error)
{
  detach(r);
  r->res.error = error;
  if (!error) {
    r->res.headers = r->headers;
    r->res.nheaders = r->nheaders;
    r->res.body = r->body ? r->body : "";
    r->res.body_len = r->body_len;
  }
  r->done(r, r->ud);
}

static const char *transfer_error(dt_http_client_req *r, CURLcode rc)
{
  if (r->abort_reason && r->abort_reason != TOO_LARGE) return r->abort_reason;
  if (r->abort_reason == TOO_LARGE || rc == CURLE_FILESIZE_EXCEEDED) {
    snprintf(r->errmsg, sizeof r->errmsg, "response too large (limit %zu bytes)", r->max_response);
    return r->errmsg;
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) return "timeout";
  long os_errno = 0;
  if (rc == CURLE_COULDNT_CONNECT && curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &os_errno) == CURLE_OK &&
      os_errno == ECONNREFUSED)
    return "connection refused";
  snprintf(r->errmsg, sizeof r->errmsg, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
  return r->errmsg;
}

static int retryable(const dt_http_client_req *r, CURLcode rc, long status)
{
  if (!r->retries_left || r->abort_reason) return 0;
  if (rc != CURLE_OK) return rc != CURLE_FILESIZE_EXCEEDED && rc != CURLE_OUT_OF_MEMORY;
  return status == 429 || status == 502 || status == 503 || status == 504;
}

static int add_to_multi(dt_http_client_req *r)
{
  r->res.attempts++;
  r->state = R_ACTIVE;
  return curl_multi_add_handle(M.multi, r->easy) == CURLM_OK ? 0 : -1;
}

static void on_backoff(uv_timer_t *t)
{
  dt_http_client_req *r = t->data;
  if (add_to_multi(r) != 0) {
    r->state = R_BACKOFF; /* not in the multi handle */
    finish(r, "out of memory");
  }
}

static void schedule_retry(dt_http_client_req *r)
{
  unsigned shift = r->res.attempts - 1;
  uint64_t delay = shift < 5 ? (uint64_t)BACKOFF_FIRST_MS << shift : BACKOFF_MAX_MS;
  if (delay > BACKOFF_MAX_MS) delay = BACKOFF_MAX_MS;
  r->retries_left--;
  clear_response(r);
  r->state = R_BACKOFF;
  if (!r->has_backoff) {
    uv_timer_init(uv_default_loop(), &r->backoff);
    r->backoff.data = r;
    r->has_backoff = 1;
  }
  uv_timer_start(&r->backoff, on_backoff, delay, 0);
}

static void attempt_finished(dt_http_client_req *r, CURLcode rc)
{
  curl_multi_remove_handle(M.multi, r->easy);
  r->state = R_BACKOFF; /* out of the multi handle; finish or the retry sets the real state */
  long status = 0;
  if (rc == CURLE_OK) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
  if (retryable(r, rc, status)) {
    schedule_retry(r);
    return;
  }
  r->res.status = rc == CURLE_OK ? status : 0;
  finish(r, rc == CURLE_OK ? NULL : transfer_error(r, rc));
}

static void process_done(void)
{
  CURLMsg *msg;
  int left;
  while (M.multi && (msg = curl_multi_info_read(M.multi, &left))) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURLcode rc = msg->data.result;
    char *priv = NULL;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    attempt_finished((dt_http_client_req *)(void *)priv, rc);
  }
}

/* ---- starting ---- */

static int is_token(const char *s)
{
  if (!s || !*s) return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s)) return 0;
  return 1;
}

static int has_crlf(const char *s) { return strpbrk(s, "\r\n") != NULL; }

static const char *check_opts(const dt_http_client_opts *o)
{
  if (!is_token(o->method)) return "method must be an HTTP token such as GET or POST";
  if (!o->url || (strncasecmp(o->url, "http://", 7) != 0 && strncasecmp(o->url, "https://", 8) != 0))
    return "url must start with http:// or https://";
  if (strpbrk(o->url, "\r\n \t")) return "url must not contain spaces or line breaks";
  for (size_t i = 0; i < o->nheaders; i++)
    if (!is_token(o->headers[i].name) || !o->headers[i].value || has_crlf(o->headers[i].value))
      return "header names must be tokens and values must not contain CR or LF";
  if (o->body_len > DT_HTTP_CLIENT_MAX_BODY) return "body is larger than 16 MiB";
  if (o->timeout_ms == 0) return "timeout must be positive";
  if (o->max_response == 0 || o->max_response > DT_HTTP_CLIENT_MAX_RESPONSE)
    return "max_response must be between 1 byte and 256 MiB";
  if (o->nheaders > DT_HTTP_CLIENT_MAX_HEADERS) return "too many request headers";
  return NULL;
}

static int append_header(struct curl_slist **list, const char *name, const char *value)
{
  size_t n = strlen(name), v = strlen(value);
  char *line = malloc(n + v + 3);
  if (!line) return -1;
  /* "Name;" is curl's way of sending a header with an empty value */
  if (v) snprintf(line, n + v + 3, "%s: %s", name, value);
  else snprintf(line, n + 2, "%s;", name);
  struct curl_slist *l = curl_slist_append(*list, line);
  free(line);
  if (!l) return -1;
  *list = l;
  return 0;
}

static int set_method(CURL *e, const dt_http_client_opts *o)
{
  int ok = 1;
  if (o->body || strcmp(o->method, "POST") == 0) {
    ok &= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)o->body_len) == CURLE_OK;
    ok &= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "") == CURLE_OK;
    if (strcmp(o->method, "POST") != 0) ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method) == CURLE_OK;
  } else if (strcmp(o->method, "HEAD") == 0) {
    ok &= curl_easy_setopt(e, CURLOPT_NOBODY, 1L) == CURLE_OK;
  } else if (strcmp(o->method, "GET") != 0) {
    ok &= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, o->method) == CURLE_OK;
  }
  /* curl silently resends a request whose reused connection turns out dead, though the peer
   * may have acted on it: fine for GET, a double call for a POST that creates one. */
  if (strcmp(o->method, "GET") != 0 && strcmp(o->method, "HEAD") != 0)
    ok &= curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK;
  return ok ? 0 : -1;
}

static int set_headers(dt_http_client_req *r, const dt_http_client_opts *o)
{
  int expect = 0;
  for (size_t i = 0; i < o->nheaders; i++) {
    if (append_header(&r->hdrs, o->headers[i].name, o->headers[i].value) != 0) return -1;
    expect |= strcasecmp(o->headers[i].name, "expect") == 0;
  }
  if (!expect) { /* no "Expect: 100-continue" round trip before large bodies */
    struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");
    if (!l) return -1;
    r->hdrs = l;
  }
  return curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs) == CURLE_OK ? 0 : -1;
}

static int configure(dt_http_client_req *r, const dt_http_client_opts *o)
{
  CURL *e = r->easy;
  uint64_t connect_ms = o->timeout_ms < CONNECT_TIMEOUT_MAX_MS ? o->timeout_ms : CONNECT_TIMEOUT_MAX_MS;
  int ok = curl_easy_setopt(e, CURLOPT_URL, o->url) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)(void *)r) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, o->follow_redirects ? 1L : 0L) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_MAXREDIRS, MAX_REDIRECTS) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_ms) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_response) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_HEADERDATA, r) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) == CURLE_OK;
  ok &= curl_easy_setopt(e, CURLOPT_USERAGENT, "dialtone/" DT_VERSION) == CURLE_OK;
  if (!ok || set_method(e, o) != 0 || set_headers(r, o) != 0) return -1;
  return 0;
}

static void free_req(uv_handle_t *h) { free(h->data); }

static int fail(char *err, size_t errlen, int rc, const char *msg)
{
  if (errlen) snprintf(err, errlen, "%s", msg);
  return rc;
}

int dt_http_client_start(const dt_http_client_opts *o, dt_http_client_done done, void *ud,
                         dt_http_client_req **out, char *err, size_t errlen)
{
  const char *bad = check_opts(o);
  if (bad) return fail(err, errlen, -EINVAL, bad);
  if (ensure_ready() != 0) return fail(err, errlen, -ECANCELED, M.closed ? "shutting down" : "libcurl failed to start");
  dt_http_client_req *r = calloc(1, sizeof *r);
  if (!r) return fail(err, errlen, -ENOMEM, "out of memory");
  r->done = done;
  r->ud = ud;
  r->max_response = o->max_response;
  int idempotent = strcmp(o->method, "GET") == 0 || strcmp(o->method, "HEAD") == 0;
  r->retries_left = idempotent ? (o->retries < DT_HTTP_CLIENT_MAX_RETRIES ? o->retries : DT_HTTP_CLIENT_MAX_RETRIES) : 0;
  r->easy = curl_easy_init();
  if (!r->easy || configure(r, o) != 0) {
    curl_slist_free_all(r->hdrs);
    curl_easy_cleanup(r->easy);
    free(r);
    return fail(err, errlen, -ENOMEM, "out of memory");
  }
  r->next = M.reqs;
  if (M.reqs) M.reqs->prev = r;
  M.reqs = r;
  M.inflight++;
  update_refs();
  if (add_to_multi(r) != 0) {
    r->state = R_BACKOFF;
    detach(r);
    dt_http_client_free(r);
    return fail(err, errlen, -ENOMEM, "out of memory");
  }
  *out = r;
  return 0;
}

const dt_http_client_response *dt_http_client_result(const dt_http_client_req *req) { return &req->res; }

void dt_http_client_free(dt_http_client_req *r)
{
  if (!r) return;
  detach(r);
  clear_response(r);
  free(r->body);
  curl_slist_free_all(r->hdrs);
  curl_easy_cleanup(r->easy);
  if (r->has_backoff) uv_close((uv_handle_t *)&r->backoff, free_req);
  else free(r);
}

void dt_http_client_shutdown(void)
{
  if (M.closed) return;
  M.closed = 1;
  if (!M.ready) return;
  while (M.reqs) finish(M.reqs, "shutting down");
  /* Stop watching before curl closes the sockets (a closed fd must not stay polled). */
  for (poll_ctx *p = M.polls; p; p = p->next) uv_poll_stop(&p->poll);
  curl_multi_cleanup(M.multi);
  M.multi = NULL;
  while (M.polls) close_poll(M.polls);
  uv_close((uv_handle_t *)&M.timer, NULL);
}
