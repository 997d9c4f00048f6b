/* dialtone.store: workflow runs, their call events and webhook nonces, in the process's store
 * (dt_store_current; `dialtone serve` and `dialtone run` open <data_dir>/dialtone.db).
 *
 *   create_run(fields) -> run, or nil, "exists" (id taken), or nil, err
 *     fields.id is required: 1..128 characters of [A-Za-z0-9_.:-]; optional strings
 *     organization_id, workflow_id, user_id, provider, config_name, config_id, to_number, from_number,
 *     media_token, status, media_state. created_at = updated_at = now.
 *   get_run(id) -> run (every non-NULL column; times, duration and cost as numbers), or nil
 *   update_run(id, fields) -> true, or nil, "not found", or nil, err
 *     strings: status, call_id, from_number, error, media_state, currency, cost_state; numbers:
 *     initiated_at, ringing_at, answered_at, ended_at, duration, cost. A field set to
 *     dialtone.json.null becomes NULL (absent from the run). updated_at = now.
 *   add_event(run_id, {source=, raw=, raw_status=, status=, outcome=}) -> event id, or
 *     nil, "not found" (no such run), or nil, err. received_at = now.
 *   events(run_id) -> list of {id, run_id, received_at, source, raw, raw_status, status,
 *     outcome}, in the order they were added
 *   list_runs([{organization_id=, status=, limit=, offset=}]) -> list of runs, newest first
 *     (limit 1..500, default 50; offset default 0)
 *   count_runs([{organization_id=, status=}]) -> how many runs the filter covers
 *   claim_nonce(key, ttl_seconds) -> true when key was not recorded (it now is, for ttl
 *     seconds), false while it is; or nil, err
 *
 * Text values hold any bytes; each is at most 4096 bytes, raw at most 1 MiB: a longer one is
 * nil, err. Misuse (a wrong type, an unknown field) raises an error naming the function.
 *
 * Organisations, API keys and workflows: lapi_store_orgs.c; configurations and phone numbers:
 * lapi_store_configs.c.
 *
 * These calls never yield and all Lua runs on one thread, so a script's read-then-update
 * (get_run, then update_run from what it read) is atomic: no other handler runs in between. */
#include "lapi.h"
#include "lapi_store.h"

#include <lauxlib.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "lapi_json.h"

#define DEFAULT_LIMIT 50
#define MAX_FIELDS 32
#define MAX_OFFSET 9007199254740991.0 /* 2^53 - 1: every integer below is exact */

double dt_lapi_store_now(void) { return dt_wall_clock(); }

dt_store *dt_lapi_store(lua_State *L)
{
  dt_store *s = dt_store_current();
  if (!s) luaL_error(L, "dialtone.store: no store is open");
  return s;
}

static int push_fail(lua_State *L, const char *err)
{
  lua_pushnil(L);
  lua_pushstring(L, err);
  return 2;
}

int dt_lapi_store_fail(lua_State *L, dt_store *s, int rc)
{
  if (rc == DT_STORE_NOT_FOUND) return push_fail(L, "not found");
  if (rc == DT_STORE_EXISTS) return push_fail(L, "exists");
  return push_fail(L, dt_store_error(s));
}

const char *dt_lapi_store_arg_string(lua_State *L, int idx, const char *fn, const char *what, size_t *len)
{
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "%s: %s must be a string, not %s", fn, what, luaL_typename(L, idx));
  return lua_tolstring(L, idx, len);
}

void dt_lapi_store_arg_table(lua_State *L, int idx, const char *fn, const char *what)
{
  if (lua_type(L, idx) != LUA_TTABLE) luaL_error(L, "%s: %s must be a table, not %s", fn, what, luaL_typename(L, idx));
}

/* The string field of the table at idx (raises unless it is a string, or absent when optional). */
dt_store_str dt_lapi_store_string_field(lua_State *L, int idx, const char *fn, const char *field, int optional)
{
  dt_store_str v = { NULL, 0 };
  lua_getfield(L, idx, field);
  if (lua_type(L, -1) == LUA_TSTRING) v.text = lua_tolstring(L, -1, &v.len);
  else if (!(optional && lua_isnil(L, -1))) luaL_error(L, "%s: %s must be a string, not %s", fn, field, luaL_typename(L, -1));
  lua_pop(L, 1); /* the table still holds the string */
  return v;
}

/* Encodes the table field of the table at idx with dialtone.json.encode, leaving the text on
 * the stack; absent: text NULL. */
dt_store_str dt_lapi_store_json_field(lua_State *L, int idx, const char *fn, const char *field)
{
  dt_store_str v = { NULL, 0 };
  lua_getfield(L, idx, field);
  if (lua_isnil(L, -1)) return v;
  if (lua_type(L, -1) != LUA_TTABLE) luaL_error(L, "%s: %s must be a table, not %s", fn, field, luaL_typename(L, -1));
  lua_getglobal(L, "dialtone");
  lua_getfield(L, -1, "json");
  lua_getfield(L, -1, "encode");
  lua_pushvalue(L, -4);
  lua_call(L, 1, 1);
  v.text = lua_tolstring(L, -1, &v.len);
  return v;
}

static int is_json_null(lua_State *L, int idx)
{
  return lua_type(L, idx) == LUA_TLIGHTUSERDATA && lua_touserdata(L, idx) == NULL;
}

/* Converts the value on top of the stack for column c; raises on a wrong type. */
static void to_value(lua_State *L, const char *fn, const dt_store_column *c, unsigned op, dt_store_value *v)
{
  memset(v, 0, sizeof *v);
  if (op == DT_STORE_ON_UPDATE && is_json_null(L, -1)) {
    v->type = DT_STORE_NULL;
  } else if (c->type == DT_STORE_TEXT && lua_type(L, -1) == LUA_TSTRING) {
    v->type = DT_STORE_TEXT;
    v->text = lua_tolstring(L, -1, &v->len);
  } else if (c->type == DT_STORE_REAL && lua_type(L, -1) == LUA_TNUMBER) {
    v->type = DT_STORE_REAL;
    v->real = lua_tonumber(L, -1);
  } else {
    luaL_error(L, "%s: field '%s' must be a %s, not %s", fn, c->name,
               c->type == DT_STORE_TEXT ? "string" : "number", luaL_typename(L, -1));
  }
}

/* Reads the fields of the table at idx (but the key `skip`). The text values point into
 * strings the table holds, so they stay valid while it is on the stack, unchanged. */
static size_t read_fields(lua_State *L, const char *fn, int idx, dt_store_table table, unsigned op,
                          const char *skip, dt_store_field *fields)
{
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "%s: field names must be strings", fn);
    size_t len, column;
    const char *name = lua_tolstring(L, -2, &len);
    if (skip && len == strlen(skip) && memcmp(name, skip, len) == 0) {
      lua_pop(L, 1);
      continue;
    }
    const dt_store_column *c = dt_store_find_column(table, name, len, &column);
    if (!c || !(c->allowed & op)) luaL_error(L, "%s: unknown field '%s'", fn, name);
    if (n == MAX_FIELDS) luaL_error(L, "%s: too many fields", fn);
    fields[n].column = column;
    to_value(L, fn, c, op, &fields[n].value);
    n++;
    lua_pop(L, 1);
  }
  return n;
}

typedef dt_lapi_row_sink row_sink;

static int is_json_cell(const char *column)
{
  return strcmp(column, "settings") == 0 || strcmp(column, "secret_fields") == 0;
}

static void push_cell(lua_State *L, const row_sink *sink, const char *column, const dt_store_value *v)
{
  int json = sink->mode == DT_LAPI_ROWS_JSON;
  if (json && v->type == DT_STORE_TEXT && is_json_cell(column)) {
    if (dt_json_push_decoded(L, v->text, v->len) == 2) {
      lua_pop(L, 2);
      lua_newtable(L);
    }
  } else if (json && v->type == DT_STORE_INTEGER && strcmp(column, "is_default") == 0) {
    lua_pushboolean(L, v->integer != 0);
  } else if (v->type == DT_STORE_TEXT) {
    lua_pushlstring(L, v->text, v->len);
  } else if (v->type == DT_STORE_REAL) {
    lua_pushnumber(L, v->real);
  } else {
    lua_pushnumber(L, (lua_Number)v->integer);
  }
}

/* One step of making a row, for run_step. */
typedef struct {
  enum { STEP_BEGIN, STEP_CELL, STEP_END } op;
  const row_sink *sink;
  const char *column;
  const dt_store_value *value;
} row_step;

/* Runs a row_step (light userdata, argument 1) under lua_pcall. BEGIN returns a new row
 * table; CELL sets the cell in the row (argument 2), or returns its value (DT_LAPI_ROWS_VALUE);
 * END appends the row (argument 3) to the list (argument 2). */
static int run_step(lua_State *L)
{
  const row_step *p = lua_touserdata(L, 1);
  if (p->op == STEP_BEGIN) {
    lua_newtable(L);
    return 1;
  }
  if (p->op == STEP_END) {
    lua_rawseti(L, 2, p->sink->n + 1);
    return 0;
  }
  push_cell(L, p->sink, p->column, p->value);
  if (p->sink->mode == DT_LAPI_ROWS_VALUE) return 1;
  lua_setfield(L, 2, p->column);
  return 0;
}

/* Pushes the step function and its step; the caller then pushes nargs more arguments. */
static void start_step(row_sink *sink, row_step *p)
{
  lua_pushvalue(sink->L, sink->step);
  lua_pushlightuserdata(sink->L, p);
}

/* Calls the step; on a Lua error keeps it on the stack and returns 1 (stop the store call). */
static int finish_step(row_sink *sink, int nargs, int nresults)
{
  if (lua_pcall(sink->L, nargs + 1, nresults, 0) == 0) return 0;
  sink->error = lua_gettop(sink->L);
  return 1;
}

static int begin_row(void *ud)
{
  row_sink *sink = ud;
  if (sink->mode == DT_LAPI_ROWS_VALUE) {
    lua_pushnil(sink->L); /* the row until its cell replaces it */
    return 0;
  }
  row_step p = { STEP_BEGIN, sink, NULL, NULL };
  start_step(sink, &p);
  return finish_step(sink, 0, 1);
}

static int cell(void *ud, const char *column, const dt_store_value *v)
{
  row_sink *sink = ud;
  row_step p = { STEP_CELL, sink, column, v };
  start_step(sink, &p);
  if (sink->mode != DT_LAPI_ROWS_VALUE) {
    lua_pushvalue(sink->L, -3); /* the row */
    return finish_step(sink, 1, 0);
  }
  if (finish_step(sink, 0, 1)) return 1;
  lua_replace(sink->L, -2);
  return 0;
}

static int end_row(void *ud)
{
  row_sink *sink = ud;
  if (!sink->list) return 0;
  row_step p = { STEP_END, sink, NULL, NULL };
  start_step(sink, &p);
  lua_pushvalue(sink->L, sink->list);
  lua_pushvalue(sink->L, -4); /* the row */
  if (finish_step(sink, 2, 0)) return 1;
  sink->n++;
  lua_pop(sink->L, 1);
  return 0;
}

const dt_store_visitor dt_lapi_row_visitor = { begin_row, cell, end_row };

/* Room for a row, a step call and an error above what the binding pushed. */
#define ROW_STACK 8

/* Raises the error a row step raised, if one did. */
static void raise_step_error(const row_sink *sink)
{
  if (!sink->error) return;
  lua_pushvalue(sink->L, sink->error);
  lua_error(sink->L);
}

int dt_lapi_store_push_one(lua_State *L, dt_store *s, int one(dt_store *, void *, dt_lapi_row_sink *),
                           void *arg, int mode)
{
  int top = lua_gettop(L);
  luaL_checkstack(L, ROW_STACK, "dialtone.store");
  lua_pushcfunction(L, run_step);
  row_sink sink = { L, 0, 0, mode, lua_gettop(L), 0 };
  int rc = one(s, arg, &sink);
  raise_step_error(&sink);
  if (rc == DT_STORE_OK) return 1;
  lua_settop(L, top);
  if (rc != DT_STORE_NOT_FOUND) return dt_lapi_store_fail(L, s, rc);
  lua_pushnil(L);
  return 1;
}

static int get_run(dt_store *s, void *arg, row_sink *sink)
{
  const dt_store_str *id = arg;
  return dt_store_run_get(s, id->text, id->len, &dt_lapi_row_visitor, sink);
}

static int push_run(lua_State *L, dt_store *s, const char *id, size_t len)
{
  dt_store_str key = { id, len };
  return dt_lapi_store_push_one(L, s, get_run, &key, DT_LAPI_ROWS_PLAIN);
}

static int l_create_run(lua_State *L)
{
  static const char fn[] = "dialtone.store.create_run";
  dt_store *s = dt_lapi_store(L);
  dt_lapi_store_arg_table(L, 1, fn, "fields");
  lua_getfield(L, 1, "id");
  size_t id_len;
  const char *id = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &id_len) : NULL;
  if (!id || !dt_store_valid_id(id, id_len))
    return luaL_error(L, "%s: id must be 1..%d characters of [A-Za-z0-9_.:-]", fn, DT_STORE_MAX_ID);
  dt_store_field fields[MAX_FIELDS];
  size_t n = read_fields(L, fn, 1, DT_STORE_RUNS, DT_STORE_ON_CREATE, "id", fields);
  int rc = dt_store_run_create(s, id, id_len, fields, n, dt_lapi_store_now());
  return rc == DT_STORE_OK ? push_run(L, s, id, id_len) : dt_lapi_store_fail(L, s, rc);
}

static int l_get_run(lua_State *L)
{
  dt_store *s = dt_lapi_store(L);
  size_t len;
  const char *id = dt_lapi_store_arg_string(L, 1, "dialtone.store.get_run", "id", &len);
  return push_run(L, s, id, len);
}

static int l_update_run(lua_State *L)
{
  static const char fn[] = "dialtone.store.update_run";
  dt_store *s = dt_lapi_store(L);
  size_t len;
  const char *id = dt_lapi_store_arg_string(L, 1, fn, "id", &len);
  dt_lapi_store_arg_table(L, 2, fn, "fields");
  dt_store_field fields[MAX_FIELDS];
  size_t n = read_fields(L, fn, 2, DT_STORE_RUNS, DT_STORE_ON_UPDATE, NULL, fields);
  int rc = dt_store_run_update(s, id, len, fields, n, dt_lapi_store_now());
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_add_event(lua_State *L)
{
  static const char fn[] = "dialtone.store.add_event";
  dt_store *s = dt_lapi_store(L);
  size_t len;
  const char *run_id = dt_lapi_store_arg_string(L, 1, fn, "run_id", &len);
  dt_lapi_store_arg_table(L, 2, fn, "event");
  dt_store_field fields[MAX_FIELDS];
  size_t n = read_fields(L, fn, 2, DT_STORE_EVENTS, DT_STORE_ON_CREATE, NULL, fields);
  int64_t id;
  int rc = dt_store_event_add(s, run_id, len, fields, n, dt_lapi_store_now(), &id);
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  lua_pushnumber(L, (lua_Number)id);
  return 1;
}

int dt_lapi_store_push_list(lua_State *L, dt_store *s, int list(dt_store *, void *, dt_lapi_row_sink *),
                            void *arg, int mode)
{
  int top = lua_gettop(L);
  luaL_checkstack(L, ROW_STACK, "dialtone.store");
  lua_pushcfunction(L, run_step);
  lua_newtable(L);
  row_sink sink = { L, lua_gettop(L), 0, mode, lua_gettop(L) - 1, 0 };
  int rc = list(s, arg, &sink);
  raise_step_error(&sink);
  if (rc == DT_STORE_OK) return 1;
  lua_settop(L, top);
  return dt_lapi_store_fail(L, s, rc);
}

static int list_events(dt_store *s, void *arg, row_sink *sink)
{
  const dt_store_str *run_id = arg;
  return dt_store_events_list(s, run_id->text, run_id->len, &dt_lapi_row_visitor, sink);
}

static int l_events(lua_State *L)
{
  dt_store *s = dt_lapi_store(L);
  dt_store_str run_id;
  run_id.text = dt_lapi_store_arg_string(L, 1, "dialtone.store.events", "run_id", &run_id.len);
  return dt_lapi_store_push_list(L, s, list_events, &run_id, DT_LAPI_ROWS_PLAIN);
}

typedef struct {
  dt_store_run_filter filter;
  int limit;
  lua_Number offset;
} list_opts;

static int list_runs(dt_store *s, void *arg, row_sink *sink)
{
  const list_opts *o = arg;
  return dt_store_runs_list(s, &o->filter, o->limit, (int64_t)o->offset, &dt_lapi_row_visitor, sink);
}

/* The integer on top of the stack, lo..hi; raises with the rule otherwise. */
static lua_Number int_option(lua_State *L, const char *fn, const char *rule, lua_Number lo, lua_Number hi)
{
  lua_Number v = lua_tonumber(L, -1);
  if (lua_type(L, -1) != LUA_TNUMBER || v != floor(v) || v < lo || v > hi) luaL_error(L, "%s: %s", fn, rule);
  return v;
}

static const char *string_option(lua_State *L, const char *fn, const char *key, size_t *len)
{
  if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: %s must be a string", fn, key);
  return lua_tolstring(L, -1, len);
}

/* Reads the options of the table at index 1; paging ones only when o is a listing. */
static void read_list_opts(lua_State *L, const char *fn, list_opts *o, int paged)
{
  dt_store_run_filter *f = &o->filter;
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    if (strcmp(key, "status") == 0) {
      f->status = string_option(L, fn, key, &f->status_len);
    } else if (strcmp(key, "organization_id") == 0) {
      f->organization_id = string_option(L, fn, key, &f->organization_id_len);
    } else if (paged && strcmp(key, "limit") == 0) {
      o->limit = (int)int_option(L, fn, "limit must be an integer from 1 to 500", 1, DT_STORE_MAX_LIST);
    } else if (paged && strcmp(key, "offset") == 0) {
      o->offset = int_option(L, fn, "offset must be a non-negative integer", 0, MAX_OFFSET);
    } else {
      luaL_error(L, "%s: unknown option '%s'", fn, key);
    }
    lua_pop(L, 1);
  }
}

static int l_list_runs(lua_State *L)
{
  static const char fn[] = "dialtone.store.list_runs";
  dt_store *s = dt_lapi_store(L);
  list_opts o = { { NULL, 0, NULL, 0 }, DEFAULT_LIMIT, 0 };
  if (!lua_isnoneornil(L, 1)) {
    dt_lapi_store_arg_table(L, 1, fn, "options");
    read_list_opts(L, fn, &o, 1);
  }
  return dt_lapi_store_push_list(L, s, list_runs, &o, DT_LAPI_ROWS_PLAIN);
}

static int l_count_runs(lua_State *L)
{
  static const char fn[] = "dialtone.store.count_runs";
  dt_store *s = dt_lapi_store(L);
  list_opts o = { { NULL, 0, NULL, 0 }, DEFAULT_LIMIT, 0 };
  if (!lua_isnoneornil(L, 1)) {
    dt_lapi_store_arg_table(L, 1, fn, "options");
    read_list_opts(L, fn, &o, 0);
  }
  int64_t n = 0;
  int rc = dt_store_runs_count(s, &o.filter, &n);
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  lua_pushnumber(L, (lua_Number)n);
  return 1;
}

static int l_claim_nonce(lua_State *L)
{
  static const char fn[] = "dialtone.store.claim_nonce";
  dt_store *s = dt_lapi_store(L);
  size_t len;
  const char *key = dt_lapi_store_arg_string(L, 1, fn, "key", &len);
  lua_Number ttl = lua_tonumber(L, 2);
  if (lua_type(L, 2) != LUA_TNUMBER || !(ttl > 0) || !isfinite(ttl))
    return luaL_error(L, "%s: ttl must be a positive number of seconds", fn);
  int rc = dt_store_nonce_claim(s, key, len, ttl, dt_lapi_store_now());
  if (rc < 0) return dt_lapi_store_fail(L, s, rc);
  lua_pushboolean(L, rc);
  return 1;
}

int dt_lapi_store_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    { "create_run", l_create_run }, { "get_run", l_get_run }, { "update_run", l_update_run },
    { "add_event", l_add_event }, { "events", l_events }, { "list_runs", l_list_runs },
    { "count_runs", l_count_runs }, { "claim_nonce", l_claim_nonce }, { NULL, NULL },
  };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  dt_lapi_store_orgs_register(L);
  dt_lapi_store_configs_register(L);
  return 1;
}

dt_lapi_scope dt_lapi_store_read_scope(lua_State *L, const char *fn, int with_id)
{
  dt_lapi_scope k = { { NULL, 0 }, { NULL, 0 } };
  k.org.text = dt_lapi_store_arg_string(L, 1, fn, "org_id", &k.org.len);
  if (with_id) k.id.text = dt_lapi_store_arg_string(L, 2, fn, "id", &k.id.len);
  return k;
}
