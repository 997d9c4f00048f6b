/* dialtone.http: outbound requests for scripts, coroutine style.
 *   request{method=, url=, headers=, body=, timeout=, max_response=, retries=, follow_redirects=}
 *     → {status=, headers=, body=}, or nil, err
 * Any status (404, 500...) is a response; err is for transport failures ("timeout",
 * "connection refused", "response too large (limit N bytes)", curl's message). retries only
 * applies to GET and HEAD: other methods are never sent twice. */
#include "lapi.h"

#include <errno.h>
#include <lauxlib.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "lapi_wait.h"
#include "task.h"

#define REQ_MT "dialtone.http.req"
#define MAX_HEADERS 100
#define DEFAULT_TIMEOUT_S 30.0
#define MAX_TIMEOUT_S 3600.0
#define DEFAULT_MAX_RESPONSE ((size_t)10 << 20)

typedef struct {
  dt_http_client_req *req;
  dt_task *waiter;
  int finished;
} lreq;

/* Raises with the script's file:line (level 2: past the Lua wrapper below). */
static int arg_error(lua_State *L, const char *fmt, ...)
{
  va_list ap;
  luaL_where(L, 2);
  lua_pushliteral(L, "dialtone.http.request: ");
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_concat(L, 3);
  return lua_error(L);
}

/* A string field without embedded NULs, or NULL when absent. */
static const char *opt_string(lua_State *L, int t, const char *name, size_t *len)
{
  size_t n = 0;
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (len) *len = 0;
    return NULL;
  }
  if (lua_type(L, -1) != LUA_TSTRING) arg_error(L, "%s must be a string", name);
  const char *s = lua_tolstring(L, -1, &n);
  if (!len && strlen(s) != n) arg_error(L, "%s must not contain NUL bytes", name);
  if (len) *len = n;
  lua_pop(L, 1); /* still anchored in the options table */
  return s;
}

static double opt_number(lua_State *L, int t, const char *name, double min, double max, double dflt)
{
  lua_getfield(L, t, name);
  double v = lua_isnil(L, -1) ? dflt : lua_tonumber(L, -1);
  if ((!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TNUMBER) || !(v >= min && v <= max))
    arg_error(L, "%s must be a number between %f and %f", name, min, max);
  lua_pop(L, 1);
  return v;
}

static size_t read_headers(lua_State *L, int t, dt_http_client_header *out)
{
  size_t n = 0;
  lua_getfield(L, t, "headers");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_istable(L, -1)) arg_error(L, "headers must be a table of strings");
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    size_t nl, vl;
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
      arg_error(L, "headers must map names to strings");
    if (n == MAX_HEADERS) arg_error(L, "at most %d headers", MAX_HEADERS);
    const char *name = lua_tolstring(L, -2, &nl), *value = lua_tolstring(L, -1, &vl);
    if (strlen(name) != nl || strlen(value) != vl || strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))
      arg_error(L, "header %s must not contain CR, LF or NUL", name);
    out[n].name = name;
    out[n++].value = value;
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

static void check_fields(lua_State *L, int t)
{
  static const char *const known[] = { "method", "url", "headers", "body", "timeout", "max_response",
                                       "retries", "follow_redirects", NULL };
  lua_pushnil(L);
  while (lua_next(L, t) != 0) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    int i = 0;
    while (k && known[i] && strcmp(known[i], k) != 0) i++;
    if (!k || !known[i]) arg_error(L, "unknown option %s", k ? k : luaL_typename(L, -1));
  }
}

static void read_opts(lua_State *L, dt_http_client_opts *o, dt_http_client_header *headers)
{
  if (!lua_istable(L, 1)) arg_error(L, "expected a table {method=, url=, ...}");
  check_fields(L, 1);
  memset(o, 0, sizeof *o);
  o->method = opt_string(L, 1, "method", NULL);
  if (!o->method) o->method = "GET";
  o->url = opt_string(L, 1, "url", NULL);
  if (!o->url) arg_error(L, "url is required");
  o->body = opt_string(L, 1, "body", &o->body_len);
  o->nheaders = read_headers(L, 1, headers);
  o->headers = headers;
  double timeout = opt_number(L, 1, "timeout", 0, MAX_TIMEOUT_S, DEFAULT_TIMEOUT_S);
  if (timeout < 0.001) arg_error(L, "timeout must be more than 0 seconds");
  o->timeout_ms = (uint64_t)llround(timeout * 1000.0);
  o->max_response = (size_t)opt_number(L, 1, "max_response", 1, (double)DT_HTTP_CLIENT_MAX_RESPONSE,
                                       (double)DEFAULT_MAX_RESPONSE);
  double retries = opt_number(L, 1, "retries", 0, DT_HTTP_CLIENT_MAX_RETRIES, 0);
  if (retries != floor(retries)) arg_error(L, "retries must be a whole number");
  o->retries = (unsigned)retries;
  lua_getfield(L, 1, "follow_redirects");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) arg_error(L, "follow_redirects must be a boolean");
  o->follow_redirects = lua_toboolean(L, -1);
  lua_pop(L, 1);
}

static void on_done(dt_http_client_req *req, void *ud)
{
  (void)req;
  lreq *h = ud;
  h->finished = 1;
  dt_task *t = h->waiter;
  h->waiter = NULL;
  if (t) dt_task_resume(t, 0);
}

/* request, first half: checks the options and starts the request. */
static int l_start(lua_State *L)
{
  dt_http_client_header headers[MAX_HEADERS];
  dt_http_client_opts o;
  read_opts(L, &o, headers);
  dt_task_wait(L, "dialtone.http.request");
  lreq *h = lua_newuserdata(L, sizeof *h);
  memset(h, 0, sizeof *h);
  luaL_getmetatable(L, REQ_MT);
  lua_setmetatable(L, -2);
  char err[256];
  int rc = dt_http_client_start(&o, on_done, h, &h->req, err, sizeof err);
  if (rc == -EINVAL) return arg_error(L, "%s", err);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
  }
  return 1;
}

static void cancel_wait(void *arg)
{
  lreq *h = arg;
  h->waiter = NULL;
  dt_http_client_free(h->req);
  h->req = NULL;
}

static int l_wait(lua_State *L)
{
  lreq *h = luaL_checkudata(L, 1, REQ_MT);
  if (h->finished || !h->req) return 0;
  dt_task *task = dt_task_wait(L, "dialtone.http.request");
  h->waiter = task;
  dt_task_on_abandon(task, cancel_wait, h);
  return lua_yield(L, 0);
}

/* request, second half (after the wait): the response table, or nil and why not. */
static int l_result(lua_State *L)
{
  lreq *h = luaL_checkudata(L, 1, REQ_MT);
  const dt_http_client_response *res = h->req && h->finished ? dt_http_client_result(h->req) : NULL;
  int nresults = res && !res->error ? 1 : 2;
  if (nresults == 2) {
    lua_pushnil(L);
    lua_pushstring(L, res ? res->error : "cancelled");
  } else {
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, res->status);
    lua_setfield(L, -2, "status");
    lua_createtable(L, 0, (int)res->nheaders);
    for (size_t i = 0; i < res->nheaders; i++) {
      lua_pushstring(L, res->headers[i].value);
      lua_setfield(L, -2, res->headers[i].name);
    }
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, res->body, res->body_len);
    lua_setfield(L, -2, "body");
  }
  dt_http_client_free(h->req);
  h->req = NULL;
  return nresults;
}

static int l_gc(lua_State *L)
{
  lreq *h = luaL_checkudata(L, 1, REQ_MT);
  dt_http_client_free(h->req);
  h->req = NULL;
  return 0;
}

/* The waiting half is Lua, so that results are pushed by the resumed coroutine itself (in
 * protected mode), never onto a suspended thread. */
static const char request_chunk[] =
  "local start, wait, result = ...\n"
  "return function(opts)\n"
  "  local h, err = start(opts)\n"
  "  if not h then return nil, err end\n"
  "  wait(h)\n"
  "  return result(h)\n"
  "end\n";

int dt_lapi_http_open(lua_State *L)
{
  luaL_newmetatable(L, REQ_MT);
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_newtable(L);
  dt_lapi_push_wait_wrapper(L, request_chunk, "=dialtone.http.request", 3, l_start, l_wait, l_result);
  lua_setfield(L, -2, "request");
  return 1;
}
