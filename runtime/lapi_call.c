/* dialtone.media: the call-flow API. `dialtone.media.accept(req, {protocol, rate})` accepts a
 * carrier's media stream in a WebSocket route and returns the call object a workflow's run(call) gets:
 * call:recv([timeout]) -> event, call:play(pcm | wav bytes | "file.wav"), call:clear(),
 * call:mark(name), call:send_dtmf(digits), call:echo(), call:record(name | false),
 * call:bridge(url [, opts]), call:hangup(), call:refuse(reason); call.rate, call.call_id, call.stream_id,
 * call.params (the stream's custom parameters). */
#include "lapi.h"

#include <lauxlib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "dtmf.h"
#include "lapi_media_file.h"
#include "lapi_media_protocol.h"
#include "lapi_wait.h"
#include "media.h"
#include "media_bridge.h"
#include "media_record.h"
#include "serve.h"
#include "task.h"
#include "timeout.h"

#define CALL_MT "dialtone.call"
#define MAX_HEADERS 32

typedef enum {
  WAIT_START, /* dialtone.media.accept: the carrier's start */
  WAIT_EVENT, /* call:recv */
  WAIT_END,   /* call:echo: the end of the call */
  WAIT_BRIDGE /* call:bridge: the bridge reports when it is over */
} wait_kind;

typedef struct call_ud {
  dt_media *m;
  dt_task *waiter;
  wait_kind wait;
  dt_timeout *timer;
  dt_media_bridge *bridge; /* while call:bridge waits */
  int bridge_failed;       /* bridge_result is then the bridge's error */
  char bridge_result[256]; /* how the last bridge ended, for call:bridge's second half */
} call_ud;

static call_ud *check_call(lua_State *L) { return luaL_checkudata(L, 1, CALL_MT); }

static void push_event(lua_State *L, const dt_media_event *ev, int rate)
{
  static const char *const kinds[] = { "audio", "dtmf", "mark", "stop" };
  lua_createtable(L, 0, 3);
  lua_pushstring(L, kinds[ev->kind]);
  lua_setfield(L, -2, "type");
  if (ev->kind == DT_MEDIA_AUDIO) {
    lua_pushlstring(L, (const char *)ev->pcm, ev->samples * sizeof *ev->pcm);
    lua_setfield(L, -2, "pcm");
    lua_pushinteger(L, rate);
    lua_setfield(L, -2, "rate");
  } else if (ev->kind != DT_MEDIA_STOP) {
    lua_pushstring(L, ev->text);
    lua_setfield(L, -2, ev->kind == DT_MEDIA_DTMF ? "digit" : "name");
  }
}

static void stop_timer(call_ud *c)
{
  if (!c->timer) return;
  dt_timeout_cancel(c->timer);
  c->timer = NULL;
}

/* Resumes the waiting task with no values: its second half (see the chunks below) takes the
 * results itself, in protected mode. The task runs at once, so c may be gone afterwards. */
static void wake(call_ud *c)
{
  dt_task *t = c->waiter;
  c->waiter = NULL;
  stop_timer(c);
  dt_task_resume(t, 0);
}

static void on_media_event(void *ud, dt_media *m)
{
  call_ud *c = ud;
  if (!c->waiter) return;
  if (c->wait == WAIT_START) {
    if (dt_media_started(m) || dt_media_ended(m)) wake(c);
  } else if (c->wait == WAIT_EVENT) {
    wake(c); /* after the start, every notification queued an event: call:recv takes it */
  } else {
    dt_media_event ev;
    while (dt_media_next_event(m, &ev) == 0) {} /* echo and bridge handle events in C */
    if (c->wait == WAIT_END && dt_media_ended(m)) wake(c);
  }
}

static void on_wait_timeout(void *arg)
{
  call_ud *c = arg;
  c->timer = NULL; /* it has fired and is gone */
  wake(c);
}

static void cancel_wait(void *arg)
{
  call_ud *c = arg;
  c->waiter = NULL;
  stop_timer(c);
  if (c->bridge) {
    dt_media_bridge *b = c->bridge;
    c->bridge = NULL;
    dt_media_bridge_stop(b);
  }
}

static int wait_for_media(lua_State *L, call_ud *c, double timeout, wait_kind wait, const char *what)
{
  dt_task *task = dt_task_wait(L, what);
  if (c->waiter) return luaL_error(L, "%s: another task is already waiting on this call", what);
  c->waiter = task;
  c->wait = wait;
  if (timeout >= 0 && !(c->timer = dt_timeout_start((uint64_t)llround(timeout * 1000), on_wait_timeout, c)))
    return luaL_error(L, "%s: out of memory", what);
  dt_task_on_abandon(task, cancel_wait, c);
  return lua_yield(L, 0);
}

/* Pushes the oldest queued event; returns 0 when none is queued. */
static int push_next_event(lua_State *L, call_ud *c)
{
  dt_media_event ev;
  if (dt_media_next_event(c->m, &ev) != 0) return 0;
  push_event(L, &ev, dt_media_rate(c->m));
  return 1;
}

/* call:recv([timeout]) -> event, or nil, "timeout" | "ended". First half: an event or nil,
 * "ended" at once, or waits and returns nothing. */
static int l_recv(lua_State *L)
{
  call_ud *c = check_call(L);
  double timeout = luaL_optnumber(L, 2, -1);
  dt_media_subscribe(c->m, 1, on_media_event, c);
  if (push_next_event(L, c)) return 1;
  if (dt_media_ended(c->m)) {
    lua_pushnil(L);
    lua_pushliteral(L, "ended");
    return 2;
  }
  return wait_for_media(L, c, timeout, WAIT_EVENT, "call:recv");
}

/* call:recv, second half (after the wait): the event that woke it, or nil, "timeout". */
static int l_recv_take(lua_State *L)
{
  call_ud *c = check_call(L);
  if (push_next_event(L, c)) return 1;
  lua_pushnil(L);
  lua_pushliteral(L, "timeout");
  return 2;
}

/* call:echo(): the caller's audio is played back to them, in C, until the call ends. */
static int l_echo(lua_State *L)
{
  call_ud *c = check_call(L);
  if (dt_media_ended(c->m)) return 0;
  dt_media_subscribe(c->m, 0, on_media_event, c);
  dt_media_echo(c->m, 1);
  return wait_for_media(L, c, -1, WAIT_END, "call:echo");
}

/* call:record(name | false) -> "recordings/<name>", or nil, err; false stops. */
static int l_record(lua_State *L)
{
  call_ud *c = check_call(L);
  if (lua_isboolean(L, 2) && !lua_toboolean(L, 2)) {
    dt_media_record_stop(c->m);
    lua_pushboolean(L, 1);
    return 1;
  }
  const char *name = luaL_checkstring(L, 2);
  char err[256];
  if (dt_media_record_start(c->m, name, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "call:record: %s", err);
    return 2;
  }
  lua_pushfstring(L, "recordings/%s", name);
  return 1;
}

static void on_bridge_done(void *ud, const char *result, const char *error)
{
  call_ud *c = ud;
  c->bridge = NULL;
  if (!c->waiter) return;
  c->bridge_failed = !result;
  if (result) snprintf(c->bridge_result, sizeof c->bridge_result, "%s", result);
  else snprintf(c->bridge_result, sizeof c->bridge_result, "call:bridge: %s", error);
  wake(c);
}

/* bridge's headers option: a table of name = value strings (anchored in the options). */
static size_t bridge_headers(lua_State *L, dt_http_header *out)
{
  size_t n = 0;
  lua_getfield(L, 3, "headers");
  if (!lua_isnil(L, -1)) {
    luaL_checktype(L, -1, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, -2) != 0) {
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING || n == MAX_HEADERS)
        luaL_error(L, "call:bridge: headers must map at most %d names to strings", MAX_HEADERS);
      out[n].name = lua_tostring(L, -2);
      out[n++].value = lua_tostring(L, -1);
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
  return n;
}

/* call:bridge(url [, {rate, timeout, headers}]) -> "agent_closed" | "call_ended", or nil, err.
 * First half: "call_ended" or nil, err at once, or runs the bridge, waits and returns nothing. */
static int l_bridge(lua_State *L)
{
  call_ud *c = check_call(L);
  dt_media_bridge_options o = { luaL_checkstring(L, 2), NULL, 0, 10000 };
  dt_http_header headers[MAX_HEADERS];
  int rate = dt_media_rate(c->m);
  double timeout = 10;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_getfield(L, 3, "rate");
    rate = (int)luaL_optinteger(L, -1, rate);
    lua_getfield(L, 3, "timeout");
    timeout = luaL_optnumber(L, -1, 10);
    lua_pop(L, 2);
    o.headers = headers;
    o.nheaders = bridge_headers(L, headers);
  }
  if (rate != dt_media_rate(c->m)) return luaL_error(L, "call:bridge: rate must be the call's rate (%d)", dt_media_rate(c->m));
  if (!(timeout >= 0.001 && timeout <= 300)) return luaL_error(L, "call:bridge: timeout must be between 0.001 and 300 seconds");
  o.timeout_ms = (uint64_t)llround(timeout * 1000);
  dt_task_wait(L, "call:bridge");
  if (c->waiter) return luaL_error(L, "call:bridge: another task is already waiting on this call");
  if (dt_media_ended(c->m)) {
    lua_pushliteral(L, "call_ended");
    return 1;
  }
  char err[256];
  if (dt_media_bridge_start(c->m, &o, on_bridge_done, c, &c->bridge, err, sizeof err) != 0) {
    lua_pushnil(L);
    lua_pushfstring(L, "call:bridge: %s", err);
    return 2;
  }
  dt_media_subscribe(c->m, 0, on_media_event, c);
  return wait_for_media(L, c, -1, WAIT_BRIDGE, "call:bridge");
}

/* call:bridge, second half (after the wait): how the bridge ended, or nil and why it failed. */
static int l_bridge_result(lua_State *L)
{
  call_ud *c = check_call(L);
  if (c->bridge_failed) lua_pushnil(L);
  lua_pushstring(L, c->bridge_result);
  return c->bridge_failed ? 2 : 1;
}

static int play_pcm(lua_State *L, call_ud *c, const char *data, size_t len)
{
  if (len % 2) return luaL_error(L, "call:play: PCM must be 16-bit samples (even length)");
  if (dt_media_play(c->m, (const int16_t *)data, len / 2) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, dt_media_ended(c->m) ? "ended" : "out of memory");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* call:play(pcm | wav bytes | "name.wav"): raw PCM at the call's rate, or a WAV (PCM16,
 * mu-law or A-law, 8 or 16 kHz) converted to it. */
static int l_play(lua_State *L)
{
  call_ud *c = check_call(L);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  if (dt_media_file_is_wav(data, len) || dt_media_file_is_path(data, len)) {
    if (dt_media_file_push_pcm(L, data, len, dt_media_rate(c->m)) != 0) return 2;
    data = lua_tolstring(L, -1, &len);
  }
  return play_pcm(L, c, data, len);
}

/* call:send_dtmf(digits): in-band tones (100 ms each, 60 ms apart) queued for playback. */
static int l_send_dtmf(lua_State *L)
{
  call_ud *c = check_call(L);
  size_t n, out_len;
  const char *digits = luaL_checklstring(L, 2, &n);
  unsigned rate = (unsigned)dt_media_rate(c->m);
  size_t samples = dt_dtmf_tones_len(n, rate, 100, 60, 60u * rate);
  if (n == 0 || samples == SIZE_MAX) return luaL_error(L, "call:send_dtmf: 1 to about 300 digits");
  int16_t *pcm = malloc(samples * sizeof *pcm);
  if (!pcm) return luaL_error(L, "call:send_dtmf: out of memory");
  int rc = dt_dtmf_tones(digits, n, rate, 100, 60, DT_DTMF_AMPLITUDE, pcm, samples, &out_len);
  if (rc == 0) lua_pushlstring(L, (const char *)pcm, out_len * sizeof *pcm);
  free(pcm);
  if (rc != 0) return luaL_error(L, "call:send_dtmf: digits must be 0-9, *, #, A-D");
  size_t len;
  const char *bytes = lua_tolstring(L, -1, &len);
  return play_pcm(L, c, bytes, len);
}

static int l_clear(lua_State *L)
{
  dt_media_clear(check_call(L)->m);
  return 0;
}

static int l_mark(lua_State *L)
{
  call_ud *c = check_call(L);
  size_t n;
  const char *name = luaL_checklstring(L, 2, &n);
  if (n == 0 || n >= DT_MEDIA_MAX_TEXT) return luaL_error(L, "call:mark: name must be 1-%d bytes", DT_MEDIA_MAX_TEXT - 1);
  lua_pushboolean(L, dt_media_mark(c->m, name) == 0);
  return 1;
}

static int l_hangup(lua_State *L)
{
  dt_media_hangup(check_call(L)->m);
  return 0;
}

/* call:refuse(reason): the stream is not let in (a wrong token, say); closes with 1008. */
static int l_refuse(lua_State *L)
{
  call_ud *c = check_call(L);
  dt_media_refuse(c->m, luaL_checkstring(L, 2));
  return 0;
}

static void push_params(lua_State *L, const dt_media_start *start)
{
  lua_createtable(L, 0, (int)start->nparams);
  for (size_t i = 0; i < start->nparams; i++) {
    lua_pushstring(L, start->params[i].value);
    lua_setfield(L, -2, start->params[i].name);
  }
}

static int l_index(lua_State *L)
{
  call_ud *c = check_call(L);
  const char *key = luaL_checkstring(L, 2);
  const dt_media_start *start = dt_media_started(c->m);
  if (strcmp(key, "rate") == 0) lua_pushinteger(L, dt_media_rate(c->m));
  else if (strcmp(key, "call_id") == 0 && start) lua_pushstring(L, start->call_id);
  else if (strcmp(key, "stream_id") == 0 && start) lua_pushstring(L, start->stream_id);
  else if (strcmp(key, "params") == 0 && start) push_params(L, start);
  else if (strcmp(key, "ended") == 0) lua_pushboolean(L, dt_media_ended(c->m));
  else if (strcmp(key, "dropped") == 0) lua_pushnumber(L, (double)dt_media_dropped(c->m));
  else if (strcmp(key, "queued") == 0) lua_pushnumber(L, (double)dt_media_queued(c->m) / dt_media_rate(c->m));
  else {
    lua_getfenv(L, 1);
    lua_getfield(L, -1, key);
    if (!lua_isnil(L, -1)) return 1;
    luaL_getmetatable(L, CALL_MT);
    lua_getfield(L, -1, "methods");
    lua_getfield(L, -1, key);
  }
  return 1;
}

/* call.x = v: a field of the script's own (e.g. run_id, set by the telephony API) kept in the
 * call's environment table; the call's own fields and methods cannot be replaced. */
static int l_newindex(lua_State *L)
{
  check_call(L);
  const char *key = luaL_checkstring(L, 2);
  static const char *const own[] = { "rate", "call_id", "stream_id", "params", "ended", "dropped", "queued", NULL };
  for (int i = 0; own[i]; i++)
    if (strcmp(key, own[i]) == 0) return luaL_error(L, "call.%s is read-only", key);
  luaL_getmetatable(L, CALL_MT);
  lua_getfield(L, -1, "methods");
  lua_getfield(L, -1, key);
  if (!lua_isnil(L, -1)) return luaL_error(L, "call:%s is a method and cannot be replaced", key);
  lua_getfenv(L, 1);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, -3);
  return 0;
}

static int l_gc(lua_State *L)
{
  call_ud *c = check_call(L);
  if (!c->m) return 0;
  dt_media_hangup(c->m);
  dt_media_release(c->m);
  c->m = NULL;
  return 0;
}

/* rate = 8000|16000 (default 8000), start_timeout = seconds (default 10) of accept's opts. */
static void read_accept_options(lua_State *L, int *rate, double *start_timeout)
{
  lua_getfield(L, 2, "rate");
  *rate = lua_isnil(L, -1) ? 8000 : lua_isnumber(L, -1) ? (int)lua_tointeger(L, -1) : 0;
  if (*rate != 8000 && *rate != 16000) luaL_error(L, "dialtone.media.accept: rate must be 8000 or 16000");
  lua_getfield(L, 2, "start_timeout");
  *start_timeout = lua_isnil(L, -1) ? 10 : lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
  if (!(*start_timeout > 0 && *start_timeout <= 3600))
    luaL_error(L, "dialtone.media.accept: start_timeout must be a number of seconds, at most 3600");
  lua_pop(L, 2);
}

static void release_adapter(const dt_media_adapter *ad)
{
  if (ad->release) ad->release(ad);
}

/* dialtone.media.accept(req, {protocol = "twilio" | "vonage" | description, rate, start_timeout})
 * -> call, or nil, err. Accepts the stream and waits for the carrier's start, so the call is
 * ready to use. First half: the started call, or nil, err; or the call and the seconds to wait
 * for its start. */
static int l_accept(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  int rate;
  double start_timeout;
  read_accept_options(L, &rate, &start_timeout);
  call_ud *c = lua_newuserdata(L, sizeof *c);
  memset(c, 0, sizeof *c);
  lua_newtable(L);
  lua_setfenv(L, -2);
  lua_getfield(L, 2, "protocol");
  const dt_media_adapter *ad = dt_lapi_media_protocol(L, -1, "dialtone.media.accept");
  lua_pop(L, 1);
  dt_http_conn *conn;
  const dt_http_request *req;
  if (dt_serve_take_connection(&conn, &req) != 0) {
    release_adapter(ad);
    return luaL_error(L, "dialtone.media.accept: only inside a WebSocket route handler, once");
  }
  c->m = dt_media_accept(conn, req, ad, rate);
  if (!c->m) {
    release_adapter(ad);
    lua_pushnil(L);
    lua_pushliteral(L, "websocket handshake refused");
    return 2;
  }
  luaL_getmetatable(L, CALL_MT);
  lua_setmetatable(L, -2);
  if (dt_media_started(c->m)) return 1;
  dt_media_subscribe(c->m, 0, on_media_event, c);
  lua_pushnumber(L, start_timeout);
  return 2;
}

/* accept: waits (at most the seconds given) for the call's start. */
static int l_wait_start(lua_State *L)
{
  return wait_for_media(L, check_call(L), luaL_checknumber(L, 2), WAIT_START, "dialtone.media.accept");
}

/* accept, second half (after the wait): the call once started, or nil and why not (hung up). */
static int l_started(lua_State *L)
{
  call_ud *c = check_call(L);
  if (dt_media_started(c->m)) {
    lua_settop(L, 1);
    return 1;
  }
  const char *why = dt_media_ended(c->m) ? "the media stream ended before it started"
                                         : "no start message from the carrier in time";
  dt_media_hangup(c->m);
  lua_pushnil(L);
  lua_pushstring(L, why);
  return 2;
}

/* The waiting bindings' Lua halves (lapi_wait.h). */
static const char recv_chunk[] =
  "local recv, take = ...\n"
  "return function(self, timeout)\n"
  "  local ev, why = recv(self, timeout)\n"
  "  if ev ~= nil then return ev end\n"
  "  if why ~= nil then return nil, why end\n"
  "  return take(self)\n"
  "end\n";

static const char bridge_chunk[] =
  "local bridge, result = ...\n"
  "return function(self, url, opts)\n"
  "  local done, err = bridge(self, url, opts)\n"
  "  if done ~= nil then return done end\n"
  "  if err ~= nil then return nil, err end\n"
  "  return result(self)\n"
  "end\n";

static const char accept_chunk[] =
  "local accept, wait, started = ...\n"
  "return function(req, opts)\n"
  "  local call, x = accept(req, opts)\n"
  "  if call == nil then return nil, x end\n"
  "  if x == nil then return call end\n"
  "  wait(call, x)\n"
  "  return started(call)\n"
  "end\n";

int dt_lapi_media_open(lua_State *L)
{
  static const luaL_Reg methods[] = {
    { "play", l_play }, { "clear", l_clear }, { "mark", l_mark }, { "send_dtmf", l_send_dtmf },
    { "echo", l_echo }, { "record", l_record }, { "hangup", l_hangup }, { "refuse", l_refuse },
    { NULL, NULL },
  };
  luaL_newmetatable(L, CALL_MT);
  lua_pushcfunction(L, l_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, l_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, l_gc);
  lua_setfield(L, -2, "__gc");
  lua_newtable(L);
  luaL_register(L, NULL, methods);
  dt_lapi_push_wait_wrapper(L, recv_chunk, "=call:recv", 2, l_recv, l_recv_take);
  lua_setfield(L, -2, "recv");
  dt_lapi_push_wait_wrapper(L, bridge_chunk, "=call:bridge", 2, l_bridge, l_bridge_result);
  lua_setfield(L, -2, "bridge");
  lua_setfield(L, -2, "methods");
  lua_pop(L, 1);
  lua_newtable(L);
  dt_lapi_push_wait_wrapper(L, accept_chunk, "=dialtone.media.accept", 3, l_accept, l_wait_start, l_started);
  lua_setfield(L, -2, "accept");
  return 1;
}
