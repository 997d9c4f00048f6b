/* dialtone.ws: WebSocket connections for scripts, coroutine style.
 *   accept(req [, opts]) inside a route.ws handler → conn, or nil, err (already answered)
 *   connect(url [, opts]) → conn, or nil, err (waits)
 *   conn:recv([timeout]) → data, "text"|"binary" | code, "close", reason | nil, "timeout"|"closed"
 *   conn:send(data [, "text"|"binary"]) → true, or nil, err
 *   conn:close([code [, reason]]); conn.protocol
 *
 * Messages wait in a per-connection queue while the script is not in recv. Past
 * QUEUE_MESSAGES messages or QUEUE_BYTES bytes, reading from the peer is paused (TCP
 * back-pressure, nothing is dropped) until the script has drained half of it; the bound is
 * exceeded by at most what one read from the socket held. A connection is closed (1000) when
 * the task that opened it ends, or when its object is collected. */
#include "lapi.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "lapi_wait.h"
#include "serve.h"
#include "task.h"
#include "timeout.h"
#include "ws.h"
#include "ws_frame.h"
#include "ws_handshake.h"

#define CONN_MT "dialtone.ws.conn"
#define QUEUE_MESSAGES 256
#define QUEUE_BYTES ((size_t)4 << 20)
#define MAX_WAIT_SECONDS (24.0 * 3600.0)
#define MAX_HEADERS 64
#define MAX_PROTOCOLS 16

enum { S_CONNECTING, S_OPEN, S_PEER_CLOSED, S_CLOSED, S_FAILED };

typedef struct msg {
  struct msg *next;
  int kind;
  size_t len;
  char data[];
} msg;

struct lws;

/* The connect attempt's ud; on_open frees it, and finds c NULL when the object let go. */
typedef struct {
  struct lws *c;
} connect_ctx;

typedef struct lws {
  dt_ws *ws;
  int state, close_code, paused;
  char close_reason[124];
  char error[256];
  char protocol[128];
  msg *head, *tail;
  size_t nmsg, nbytes;
  dt_task *waiter;
  dt_timeout *timer;
  dt_task_hook hook;
  connect_ctx *connecting;
} lws;

/* ---- waking a waiting task ---- */

static void stop_timer(lws *c)
{
  if (!c->timer) return;
  dt_timeout_cancel(c->timer);
  c->timer = NULL;
}

/* Resumes the task waiting on c, if any; it then looks at the connection itself. */
static void wake(lws *c)
{
  dt_task *t = c->waiter;
  if (!t) return;
  c->waiter = NULL;
  stop_timer(c);
  dt_task_resume(t, 0);
}

static void on_wait_timeout(void *arg)
{
  lws *c = arg;
  c->timer = NULL;
  wake(c);
}

static void cancel_wait(void *arg)
{
  lws *c = arg;
  c->waiter = NULL;
  stop_timer(c);
}

/* ---- connection events ---- */

static void free_queue(lws *c)
{
  while (c->head) {
    msg *m = c->head;
    c->head = m->next;
    free(m);
  }
  c->tail = NULL;
  c->nmsg = c->nbytes = 0;
}

static void local_close(lws *c, int code, const char *reason);

static void on_message(void *ud, dt_ws *ws, int kind, const char *data, size_t len)
{
  lws *c = ud;
  msg *m = len <= SIZE_MAX - sizeof *m ? malloc(sizeof *m + len) : NULL;
  if (!m) {
    local_close(c, 1011, "out of memory");
    return;
  }
  m->next = NULL;
  m->kind = kind;
  m->len = len;
  memcpy(m->data, data, len);
  if (c->tail) c->tail->next = m;
  else c->head = m;
  c->tail = m;
  c->nmsg++;
  c->nbytes += len;
  if (!c->paused && (c->nmsg >= QUEUE_MESSAGES || c->nbytes >= QUEUE_BYTES)) {
    c->paused = 1;
    dt_ws_pause(ws, 1);
  }
  wake(c);
}

static void on_close(void *ud, dt_ws *ws, int code, const char *reason)
{
  (void)ws;
  lws *c = ud;
  c->ws = NULL;
  if (c->state == S_OPEN) {
    c->state = S_PEER_CLOSED;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason);
  }
  wake(c);
}

static const dt_ws_handlers conn_handlers = { on_message, on_close };
/* For connections no script looks at any more: their close handshake ends on its own. */
static const dt_ws_handlers detached_handlers = { NULL, NULL };

static void local_close(lws *c, int code, const char *reason)
{
  if (c->connecting) {
    connect_ctx *ctx = c->connecting;
    ctx->c = NULL;
    c->connecting = NULL;
    dt_ws_connect_cancel(ctx); /* frees ctx through on_open */
  }
  if (c->ws) {
    dt_ws *ws = c->ws;
    c->ws = NULL;
    dt_ws_set_handlers(ws, &detached_handlers, NULL);
    dt_ws_close(ws, code, reason);
  }
  if (c->state != S_FAILED) c->state = S_CLOSED;
  free_queue(c);
  dt_task_hook_remove(&c->hook);
  wake(c);
}

static void on_task_end(void *arg) { local_close(arg, 1000, NULL); }

static void on_open(void *ud, dt_ws *ws, const char *error)
{
  connect_ctx *ctx = ud;
  lws *c = ctx->c;
  free(ctx);
  if (!c) {
    if (ws) dt_ws_close(ws, 1001, NULL);
    return;
  }
  c->connecting = NULL;
  if (ws) {
    c->ws = ws;
    c->state = S_OPEN;
    snprintf(c->protocol, sizeof c->protocol, "%s", dt_ws_subprotocol(ws));
    dt_ws_set_handlers(ws, &conn_handlers, c);
  } else {
    c->state = S_FAILED;
    snprintf(c->error, sizeof c->error, "%s", error);
  }
  wake(c);
}

/* ---- options ---- */

static uint64_t opt_number(lua_State *L, int t, const char *name, double min, double max, uint64_t dflt)
{
  lua_getfield(L, t, name);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return dflt;
  }
  double v = lua_tonumber(L, -1);
  if (!lua_isnumber(L, -1) || !(v >= min && v <= max))
    luaL_error(L, "dialtone.ws: option %s must be a number between %.0f and %.0f", name, min, max);
  lua_pop(L, 1);
  return (uint64_t)llround(v);
}

/* connect's timeout option in seconds (default 10). */
static double opt_seconds(lua_State *L, int t)
{
  if (lua_isnoneornil(L, t)) return 10;
  lua_getfield(L, t, "timeout");
  double v = lua_isnil(L, -1) ? 10 : lua_tonumber(L, -1);
  if (!(v >= 0.001 && v <= 300)) luaL_error(L, "dialtone.ws.connect: timeout must be between 0.001 and 300 seconds");
  lua_pop(L, 1);
  return v;
}

static void read_ws_options(lua_State *L, int t, dt_ws_options *o)
{
  dt_ws_options_default(o);
  if (lua_isnoneornil(L, t)) return;
  luaL_checktype(L, t, LUA_TTABLE);
  o->max_message = (size_t)opt_number(L, t, "max_message", 1, 64 << 20, o->max_message);
  o->max_queued = (size_t)opt_number(L, t, "max_queued", 1, 1 << 30, o->max_queued);
  o->ping_interval_ms = opt_number(L, t, "ping_interval_ms", 0, 86400000, o->ping_interval_ms);
  o->pong_timeout_ms = opt_number(L, t, "pong_timeout_ms", 1, 86400000, o->pong_timeout_ms);
}

/* Collects the strings of the array opts[field] (they stay anchored in opts). */
static size_t read_strings(lua_State *L, int t, const char *field, const char **out, size_t max)
{
  size_t n = 0;
  if (lua_isnoneornil(L, t)) return 0;
  lua_getfield(L, t, field);
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    for (int i = 1;; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_isnil(L, -1)) break;
      if (lua_type(L, -1) != LUA_TSTRING || n == max)
        luaL_error(L, "dialtone.ws: %s must be a list of at most %d strings", field, (int)max);
      out[n++] = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

static size_t read_headers(lua_State *L, int t, dt_http_header *out)
{
  size_t n = 0;
  if (lua_isnoneornil(L, t)) return 0;
  lua_getfield(L, t, "headers");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING || n == MAX_HEADERS)
        luaL_error(L, "dialtone.ws.connect: headers must map at most %d names to strings", MAX_HEADERS);
      out[n].name = lua_tostring(L, -2);
      out[n++].value = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return n;
}

/* ---- the connection object ---- */

static lws *new_conn(lua_State *L, int state)
{
  lws *c = lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  c->state = state;
  luaL_getmetatable(L, CONN_MT);
  lua_setmetatable(L, -2);
  return c;
}

static lws *check_conn(lua_State *L) { return luaL_checkudata(L, 1, CONN_MT); }

static int l_accept(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  dt_ws_options o;
  read_ws_options(L, 2, &o);
  const char *protocols[MAX_PROTOCOLS];
  size_t np = read_strings(L, 2, "protocols", protocols, MAX_PROTOCOLS);
  lws *c = new_conn(L, S_CLOSED);
  dt_http_conn *hc;
  const dt_http_request *req;
  if (dt_serve_take_connection(&hc, &req) != 0)
    return luaL_error(L, "dialtone.ws.accept: only inside a dialtone.route.ws handler, once per request");
  const char *chosen = dt_ws_select_protocol(dt_http_header_get(req, "sec-websocket-protocol"), protocols, np);
  dt_ws *ws = dt_ws_accept(hc, req, chosen, &o, &conn_handlers, c);
  if (!ws) {
    lua_pushnil(L);
    lua_pushliteral(L, "invalid WebSocket handshake (answered with an HTTP error)");
    return 2;
  }
  c->ws = ws;
  c->state = S_OPEN;
  snprintf(c->protocol, sizeof c->protocol, "%s", dt_ws_subprotocol(ws));
  dt_task_hook_add(dt_task_current(), &c->hook, on_task_end, c);
  return 1;
}

/* connect, first half: starts connecting and returns the (not yet open) connection. */
static int l_start_connect(lua_State *L)
{
  const char *url = luaL_checkstring(L, 1);
  dt_task *task = dt_task_wait(L, "dialtone.ws.connect");
  dt_ws_options o;
  read_ws_options(L, 2, &o);
  dt_http_header headers[MAX_HEADERS];
  size_t nh = read_headers(L, 2, headers);
  const char *protocols[MAX_PROTOCOLS];
  size_t np = read_strings(L, 2, "subprotocols", protocols, MAX_PROTOCOLS);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < np; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, protocols[i]);
  }
  luaL_pushresult(&b);
  const char *offered = lua_tostring(L, -1);
  double timeout = opt_seconds(L, 2);
  lws *c = new_conn(L, S_CONNECTING);
  connect_ctx *ctx = malloc(sizeof *ctx);
  if (!ctx) return luaL_error(L, "dialtone.ws.connect: out of memory");
  ctx->c = c;
  int rc = dt_ws_connect(uv_default_loop(), url, headers, nh, np ? offered : NULL,
                         (uint64_t)llround(timeout * 1000.0), &o, &detached_handlers, ctx, on_open);
  if (rc != 0) {
    free(ctx);
    c->state = S_FAILED;
    lua_pushnil(L);
    lua_pushstring(L, dt_ws_connect_error(rc));
    return 2;
  }
  c->connecting = ctx;
  dt_task_hook_add(task, &c->hook, on_task_end, c);
  return 1;
}

/* connect, second half (after the wait): the open connection, or nil and why not. */
static int l_opened(lua_State *L)
{
  lws *c = check_conn(L);
  if (c->state == S_FAILED || c->state == S_CONNECTING) {
    lua_pushnil(L);
    lua_pushstring(L, c->state == S_FAILED ? c->error : "not connected");
    return 2;
  }
  lua_settop(L, 1);
  return 1;
}

/* Waits until something happens on the connection (or the timeout). */
static int l_wait(lua_State *L)
{
  lws *c = check_conn(L);
  double seconds = luaL_optnumber(L, 2, -1);
  if (!lua_isnoneornil(L, 2) && !(seconds >= 0 && seconds <= MAX_WAIT_SECONDS))
    return luaL_error(L, "conn:recv: timeout must be between 0 and %d seconds", (int)MAX_WAIT_SECONDS);
  dt_task *task = dt_task_wait(L, "conn:recv");
  if (c->waiter) return luaL_error(L, "conn:recv: another task is already receiving on this connection");
  if (seconds >= 0 && !(c->timer = dt_timeout_start((uint64_t)llround(seconds * 1000.0), on_wait_timeout, c)))
    return luaL_error(L, "conn:recv: out of memory");
  c->waiter = task;
  dt_task_on_abandon(task, cancel_wait, c);
  return lua_yield(L, 0);
}

/* The next message, the close, or nothing (nil, "timeout" after a wait). */
static int l_take(lua_State *L)
{
  lws *c = check_conn(L);
  int after_wait = lua_toboolean(L, 2);
  msg *m = c->head;
  if (m) {
    lua_pushlstring(L, m->data, m->len);
    lua_pushstring(L, m->kind == DT_WS_TEXT ? "text" : "binary");
    c->head = m->next;
    if (!c->head) c->tail = NULL;
    c->nmsg--;
    c->nbytes -= m->len;
    free(m);
    if (c->paused && c->ws && c->nmsg <= QUEUE_MESSAGES / 2 && c->nbytes <= QUEUE_BYTES / 2) {
      c->paused = 0;
      dt_ws_pause(c->ws, 0);
    }
    return 2;
  }
  if (c->state == S_PEER_CLOSED) {
    lua_pushinteger(L, c->close_code);
    lua_pushliteral(L, "close");
    lua_pushstring(L, c->close_reason);
    return 3;
  }
  if (c->state == S_CLOSED || c->state == S_FAILED || after_wait) {
    lua_pushnil(L);
    lua_pushstring(L, after_wait && c->state != S_CLOSED ? "timeout" : "closed");
    return 2;
  }
  return 0;
}

static int l_send(lua_State *L)
{
  lws *c = check_conn(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  const char *kind = luaL_optstring(L, 3, "text");
  int text = strcmp(kind, "text") == 0;
  if (!text && strcmp(kind, "binary") != 0) return luaL_argerror(L, 3, "expected \"text\" or \"binary\"");
  if (text && !dt_ws_utf8_valid((const uint8_t *)data, len))
    return luaL_argerror(L, 2, "text messages must be valid UTF-8 (send binary instead)");
  if (c->ws && dt_ws_send(c->ws, text ? DT_WS_TEXT : DT_WS_BINARY, data, len) == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, c->state == S_PEER_CLOSED && c->close_reason[0] ? c->close_reason : "closed");
  return 2;
}

static int l_close(lua_State *L)
{
  lws *c = check_conn(L);
  lua_Integer code = luaL_optinteger(L, 2, 1000);
  size_t len = 0;
  const char *reason = luaL_optlstring(L, 3, NULL, &len);
  if (!dt_ws_close_code_valid((unsigned)code) || code != (lua_Integer)(unsigned)code)
    return luaL_argerror(L, 2, "close code must be 1000-1003, 1007-1014 or 3000-4999");
  if (reason && (len > 123 || !dt_ws_utf8_valid((const uint8_t *)reason, len)))
    return luaL_argerror(L, 3, "reason must be valid UTF-8 of at most 123 bytes");
  local_close(c, (int)code, reason);
  return 0;
}

static int l_gc(lua_State *L)
{
  lws *c = check_conn(L);
  local_close(c, 1000, NULL);
  stop_timer(c);
  return 0;
}

static int l_index(lua_State *L)
{
  lws *c = check_conn(L);
  const char *key = luaL_checkstring(L, 2);
  if (strcmp(key, "protocol") == 0) {
    lua_pushstring(L, c->protocol);
    return 1;
  }
  lua_getfield(L, lua_upvalueindex(1), key);
  return 1;
}

static int l_tostring(lua_State *L)
{
  static const char *const names[] = { "connecting", "open", "closed by peer", "closed", "failed" };
  lws *c = check_conn(L);
  lua_pushfstring(L, "websocket (%s)", names[c->state]);
  return 1;
}

/* The waiting halves of recv and connect are Lua, so that values are pushed by the resumed
 * coroutine itself (in protected mode), never onto a suspended thread. */
static const char recv_chunk[] =
  "local take, wait = ...\n"
  "return function(self, timeout)\n"
  "  local a, b, c = take(self, false)\n"
  "  if b ~= nil then return a, b, c end\n"
  "  wait(self, timeout)\n"
  "  return take(self, true)\n"
  "end\n";

static const char connect_chunk[] =
  "local start, wait, opened = ...\n"
  "return function(url, opts)\n"
  "  local conn, err = start(url, opts)\n"
  "  if not conn then return nil, err end\n"
  "  wait(conn)\n"
  "  return opened(conn)\n"
  "end\n";

int dt_lapi_ws_open(lua_State *L)
{
  luaL_newmetatable(L, CONN_MT);
  lua_newtable(L); /* methods */
  dt_lapi_push_wait_wrapper(L, recv_chunk, "=dialtone.ws.recv", 2, l_take, l_wait);
  lua_setfield(L, -2, "recv");
  lua_pushcfunction(L, l_send);
  lua_setfield(L, -2, "send");
  lua_pushcfunction(L, l_close);
  lua_setfield(L, -2, "close");
  lua_pushcclosure(L, l_index, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcfunction(L, l_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, l_accept);
  lua_setfield(L, -2, "accept");
  dt_lapi_push_wait_wrapper(L, connect_chunk, "=dialtone.ws.connect", 3, l_start_connect, l_wait, l_opened);
  lua_setfield(L, -2, "connect");
  return 1;
}
