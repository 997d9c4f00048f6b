#include "serve.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "admin.h"
#include "gen.h"
#include "host.h"
#include "lapi_request.h"
#include "log.h"
#include "metrics.h"
#include "task.h"

#define MAX_RESPONSE_HEADERS 64

typedef struct request_ctx {
  dt_http_conn *conn;
  const dt_http_request *req; /* valid until answered or upgraded: logs use the copies below */
  char id[24];
  char method[16];
  char path[256];
  dt_gen *gen;
  dt_task *task;
  int req_ref;
  int taken;              /* the connection was upgraded: no HTTP response follows */
  uint64_t start_ns;
  struct request_ctx *prev, *next;
} request_ctx;

static request_ctx *running_head;

static void link_ctx(request_ctx *c)
{
  c->next = running_head;
  if (running_head) running_head->prev = c;
  running_head = c;
}

static void unlink_ctx(request_ctx *c)
{
  if (c->prev) c->prev->next = c->next;
  else running_head = c->next;
  if (c->next) c->next->prev = c->prev;
}

static void respond_error(request_ctx *c, int status, const char *code, const char *message)
{
  char body[512];
  int n = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\",\"request_id\":%s}}",
                   code, message, c->id);
  dt_http_header h = { "content-type", "application/json" };
  dt_http_respond(c->conn, status, &h, 1, body, (size_t)n);
}

static int valid_header_name(const char *s)
{
  if (!*s) return 0;
  for (; *s; s++)
    if (!(*s == '-' || *s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
      return 0;
  return 1;
}

/* The server owns framing: a script may not set these. */
static int reserved_header(const char *name)
{
  static const char *const reserved[] = { "content-length", "connection", "date", "transfer-encoding" };
  for (size_t i = 0; i < 4; i++)
    if (strcasecmp(name, reserved[i]) == 0) return 1;
  return 0;
}

/* Reads {status, headers, body} from the top of co; returns an error string if malformed. */
static const char *read_response(lua_State *co, int *status, dt_http_header *headers, size_t *nheaders,
                                 const char **body, size_t *body_len)
{
  int res = lua_gettop(co);
  if (!lua_istable(co, res)) return "response is not a table";
  lua_getfield(co, res, "status");
  lua_Number s = lua_tonumber(co, -1);
  if (!lua_isnumber(co, -1) || s != (int)s || s < 100 || s > 599) return "response status must be an integer 100-599";
  *status = (int)s;
  lua_getfield(co, res, "body");
  if (!lua_isstring(co, -1)) return "response body must be a string";
  *body = lua_tolstring(co, -1, body_len);
  lua_getfield(co, res, "headers");
  int ht = lua_gettop(co);
  *nheaders = 0;
  if (!lua_istable(co, ht)) return lua_isnil(co, ht) ? NULL : "response headers must be a table";
  lua_pushnil(co);
  while (lua_next(co, ht) != 0) {
    if (lua_type(co, -2) != LUA_TSTRING || !lua_isstring(co, -1)) return "response header names and values must be strings";
    const char *name = lua_tostring(co, -2), *value = lua_tostring(co, -1);
    if (!valid_header_name(name) || strpbrk(value, "\r\n")) return "response header contains invalid characters";
    if (*nheaders >= MAX_RESPONSE_HEADERS) return "too many response headers";
    if (!reserved_header(name)) headers[(*nheaders)++] = (dt_http_header){ name, value };
    lua_pop(co, 1); /* the value; strings stay anchored in the headers table */
  }
  return NULL;
}

/* Sends the handler's response (or a 500 if it is malformed); returns the status sent. */
static int send_lua_response(request_ctx *c, lua_State *co)
{
  int status;
  dt_http_header headers[MAX_RESPONSE_HEADERS];
  size_t nheaders, body_len;
  const char *body;
  const char *problem = read_response(co, &status, headers, &nheaders, &body, &body_len);
  if (problem) {
    dt_log(DT_LOG_ERROR, "invalid response from handler", "request_id", c->id, "path", c->path, "problem", problem, NULL);
    respond_error(c, 500, "internal_error", "the handler returned an invalid response; see the server log");
    return 500;
  }
  dt_http_respond(c->conn, status, headers, nheaders, body, body_len);
  return status;
}

static const char *route_label(request_ctx *c, lua_State *L, char *buf, size_t size)
{
  snprintf(buf, size, "unmatched");
  if (c->req_ref == LUA_NOREF) return buf;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->req_ref);
  lua_getfield(L, -1, "route");
  if (lua_isstring(L, -1)) snprintf(buf, size, "%s", lua_tostring(L, -1));
  lua_pop(L, 2);
  return buf;
}

static void count_script_error(const char *kind)
{
  dt_metric_label l = { "kind", kind };
  dt_metrics_counter_add("dialtone_script_errors_total", "Handler errors and stopped handlers", &l, 1, 1);
}

/* How a stopped task is reported: its reason maps to a status, code and message. */
static const struct {
  const char *reason, *metric_kind, *code, *message;
  int status;
} stop_kinds[] = {
  { "CPU budget exceeded", "cpu_budget", "cpu_budget_exceeded", "the handler used up its CPU budget and was stopped", 500 },
  { "memory limit exceeded", "memory_limit", "memory_limit_exceeded", "the handler exceeded the memory limit and was stopped", 500 },
  { "server shutting down", "shutdown", "shutting_down", "the server is shutting down", 503 },
};

static void report_failure(request_ctx *c, dt_task_outcome outcome, const char *message)
{
  char gen[16];
  snprintf(gen, sizeof gen, "%u", c->gen->id);
  for (size_t i = 0; outcome == DT_TASK_KILLED && i < sizeof stop_kinds / sizeof stop_kinds[0]; i++) {
    if (strcmp(message, stop_kinds[i].reason) != 0) continue;
    count_script_error(stop_kinds[i].metric_kind);
    dt_log(DT_LOG_ERROR, "handler stopped", "request_id", c->id, "gen", gen, "method", c->method,
           "path", c->path, "reason", message, NULL);
    respond_error(c, stop_kinds[i].status, stop_kinds[i].code, stop_kinds[i].message);
    return;
  }
  count_script_error("error");
  dt_log(DT_LOG_ERROR, "handler error", "request_id", c->id, "gen", gen, "method", c->method,
         "path", c->path, "error", message, NULL);
  respond_error(c, 500, "internal_error", "the handler failed; see the server log");
}

static void log_upgraded_failure(request_ctx *c, const char *message)
{
  count_script_error("error");
  dt_log(DT_LOG_ERROR, "websocket handler error", "request_id", c->id, "path", c->path, "error", message, NULL);
}

static void observe(request_ctx *c, lua_State *L, int status)
{
  char route[128], code[8];
  route_label(c, L, route, sizeof route);
  snprintf(code, sizeof code, "%d", status);
  dt_metric_label labels[] = { { "route", route }, { "method", c->method }, { "status", code } };
  dt_metrics_counter_add("dialtone_http_requests_total", "HTTP requests by route, method and status", labels, 3, 1);
  double seconds = (double)(uv_hrtime() - c->start_ns) / 1e9;
  dt_metrics_histogram_observe("dialtone_http_request_duration_seconds", "HTTP request latency", labels, 1, seconds);
}

static void request_done(dt_task *task, lua_State *co, dt_task_outcome outcome, const char *message, void *ud)
{
  (void)task;
  request_ctx *c = ud;
  int status = 500;
  if (c->taken) {
    status = 101;
    if (outcome != DT_TASK_OK) log_upgraded_failure(c, message);
  } else if (outcome == DT_TASK_OK) {
    status = send_lua_response(c, co);
  } else {
    report_failure(c, outcome, message);
  }
  lua_State *L = c->gen->vm->L;
  observe(c, L, status);
  luaL_unref(L, LUA_REGISTRYINDEX, c->req_ref);
  unlink_ctx(c);
}

/* After the task has let go of its thread: the generation may now close. */
static void request_released(void *ud)
{
  request_ctx *c = ud;
  dt_gen_release(c->gen);
  free(c);
}

/* Builds the request object in protected mode (it allocates); pushes it or an error. */
static int push_request(lua_State *L)
{
  dt_request_push(L, lua_touserdata(L, 1));
  return 1;
}

/* Starts the router's dispatch(req) as the request's task. Returns 0 or -1 (out of memory). */
static int start_dispatch(request_ctx *c)
{
  lua_State *L = c->gen->vm->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->gen->dispatch_ref);
  lua_pushcfunction(L, push_request);
  lua_pushlightuserdata(L, (void *)c->req);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    lua_pop(L, 2);
    return -1;
  }
  lua_pushvalue(L, -1);
  c->req_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  c->task = dt_task_new(L, 1, c->gen->cpu_budget_ms, 1, request_done, c);
  if (!c->task) {
    luaL_unref(L, LUA_REGISTRYINDEX, c->req_ref);
    return -1;
  }
  dt_task_set_label(c->task, "request_id", c->id);
  dt_task_on_released(c->task, request_released);
  dt_task_start(c->task);
  return 0;
}

static void respond_unavailable(dt_http_conn *conn)
{
  static const char body[] = "{\"error\":{\"code\":\"unavailable\",\"message\":\"out of memory\"}}";
  dt_http_header h = { "content-type", "application/json" };
  dt_http_respond(conn, 503, &h, 1, body, sizeof body - 1);
}

void dt_serve_request(void *ud, dt_http_conn *conn, const dt_http_request *req)
{
  (void)ud;
  if (dt_admin_handle(conn, req)) return;
  request_ctx *c = calloc(1, sizeof *c);
  if (!c) {
    respond_unavailable(conn);
    return;
  }
  c->conn = conn;
  c->req = req;
  snprintf(c->id, sizeof c->id, "%llu", (unsigned long long)req->id);
  snprintf(c->method, sizeof c->method, "%s", req->method);
  snprintf(c->path, sizeof c->path, "%s", req->path);
  c->req_ref = LUA_NOREF;
  c->start_ns = uv_hrtime();
  c->gen = dt_host_current();
  dt_gen_hold(c->gen);
  link_ctx(c);
  if (start_dispatch(c) != 0) {
    unlink_ctx(c);
    dt_gen_release(c->gen);
    free(c);
    respond_unavailable(conn);
  }
}

int dt_serve_take_connection(dt_http_conn **conn, const dt_http_request **req)
{
  dt_task *task = dt_task_current();
  for (request_ctx *c = running_head; c && task; c = c->next) {
    if (c->task != task) continue;
    if (c->taken) return -1;
    c->taken = 1;
    *conn = c->conn;
    *req = c->req;
    return 0;
  }
  return -1;
}

void dt_serve_abandon_all(void)
{
  while (running_head) {
    dt_task_abandon(running_head->task, "server shutting down");
  }
}
