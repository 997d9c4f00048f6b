/* Reads a media protocol description from Lua into a dt_media_json_desc. The table is checked
 * whole (types, unknown keys) before anything is allocated, so a mistake raises without a leak;
 * the strings stay owned by the table, which the caller keeps on its stack. */
#include "lapi_media_protocol.h"

#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "media_json.h"
#include "media_twilio.h"
#include "media_vonage.h"

#define MAX_DEPTH 8

static const char *const top_keys[] = { "name", "encoding", "rate", "event_key", "inbound", "outbound", NULL };
static const char *const inbound_keys[] = { "start", "media", "dtmf", "mark", "stop", NULL };
static const char *const outbound_keys[] = { "media", "mark", "clear", NULL };
static const char *const start_keys[] = { "event", "stream_id", "call_id", "params", NULL };
static const char *const media_keys[] = { "event", "payload", NULL };
static const char *const dtmf_keys[] = { "event", "digit", NULL };
static const char *const mark_keys[] = { "event", "name", NULL };
static const char *const stop_keys[] = { "event", NULL };

/* Raises unless every key of the table at idx is one of the NULL-terminated names. */
static void check_keys(lua_State *L, int idx, const char *fn, const char *where, const char *const *names)
{
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "%s: protocol%s has a key that is not a string", fn, where);
    const char *key = lua_tostring(L, -2);
    size_t i = 0;
    while (names[i] && strcmp(key, names[i]) != 0) i++;
    if (!names[i]) luaL_error(L, "%s: protocol%s.%s is not part of a protocol description", fn, where, key);
    lua_pop(L, 1);
  }
}

/* Pushes t[key] (t at idx), raising unless it is of type `type` (or nil when optional). */
static int field(lua_State *L, int idx, const char *key, int type, int required, const char *fn, const char *where)
{
  lua_getfield(L, idx, key);
  int t = lua_type(L, -1);
  if (t == type || (t == LUA_TNIL && !required)) return t != LUA_TNIL;
  return luaL_error(L, "%s: protocol%s.%s %s", fn, where, key,
                    type == LUA_TTABLE ? "must be a table" : type == LUA_TSTRING ? "must be a string" : "must be a number");
}

static const char *string_field(lua_State *L, int idx, const char *key, int required, const char *fn, const char *where)
{
  const char *s = field(L, idx, key, LUA_TSTRING, required, fn, where) ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1);
  return s;
}

/* Pushes the sub-table t[key] checked against its keys; returns its index, or 0 (nothing
 * pushed) when an optional one is absent. */
static int sub_table(lua_State *L, int idx, const char *key, int required, const char *const *keys, const char *fn,
                     const char *where, char *sub_where, size_t cap)
{
  if (!field(L, idx, key, LUA_TTABLE, required, fn, where)) {
    lua_pop(L, 1);
    return 0;
  }
  snprintf(sub_where, cap, "%s.%s", where, key);
  check_keys(L, lua_gettop(L), fn, sub_where, keys);
  return lua_gettop(L);
}

static void read_inbound(lua_State *L, int in, const char *fn, dt_media_json_desc *d)
{
  char w[64];
  int t;
  if ((t = sub_table(L, in, "start", 1, start_keys, fn, ".inbound", w, sizeof w))) {
    d->start.event = string_field(L, t, "event", 1, fn, w);
    d->start.stream_id = string_field(L, t, "stream_id", 0, fn, w);
    d->start.call_id = string_field(L, t, "call_id", 0, fn, w);
    d->start.params = string_field(L, t, "params", 0, fn, w);
  }
  if ((t = sub_table(L, in, "media", 1, media_keys, fn, ".inbound", w, sizeof w))) {
    d->media.event = string_field(L, t, "event", 1, fn, w);
    d->media.payload = string_field(L, t, "payload", 1, fn, w);
  }
  if ((t = sub_table(L, in, "dtmf", 0, dtmf_keys, fn, ".inbound", w, sizeof w))) {
    d->dtmf.event = string_field(L, t, "event", 1, fn, w);
    d->dtmf.digit = string_field(L, t, "digit", 1, fn, w);
  }
  if ((t = sub_table(L, in, "mark", 0, mark_keys, fn, ".inbound", w, sizeof w))) {
    d->mark.event = string_field(L, t, "event", 1, fn, w);
    d->mark.name = string_field(L, t, "name", 1, fn, w);
  }
  if ((t = sub_table(L, in, "stop", 0, stop_keys, fn, ".inbound", w, sizeof w)))
    d->stop.event = string_field(L, t, "event", 1, fn, w);
}

/* A template value: strings (no NUL bytes), numbers, booleans and tables with string keys. */
static void check_template(lua_State *L, int idx, int depth, const char *fn, const char *where)
{
  if (depth > MAX_DEPTH) luaL_error(L, "%s: protocol%s is nested too deeply", fn, where);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    size_t len;
    int t = lua_type(L, -1);
    if (lua_type(L, -2) != LUA_TSTRING || strlen(lua_tostring(L, -2)) != lua_objlen(L, -2))
      luaL_error(L, "%s: protocol%s must have string keys only (a JSON object)", fn, where);
    if (t == LUA_TTABLE) check_template(L, lua_gettop(L), depth + 1, fn, where);
    else if (t == LUA_TSTRING) {
      const char *s = lua_tolstring(L, -1, &len);
      if (strlen(s) != len) luaL_error(L, "%s: protocol%s has a string with a NUL byte", fn, where);
    } else if (t != LUA_TNUMBER && t != LUA_TBOOLEAN)
      luaL_error(L, "%s: protocol%s values must be strings, numbers, booleans or tables", fn, where);
    lua_pop(L, 1);
  }
}

/* The checked template at idx as cJSON, or NULL when out of memory. */
static cJSON *to_json(lua_State *L, int idx)
{
  cJSON *o = cJSON_CreateObject();
  lua_pushnil(L);
  while (o && lua_next(L, idx) != 0) {
    cJSON *v;
    switch (lua_type(L, -1)) {
    case LUA_TTABLE: v = to_json(L, lua_gettop(L)); break;
    case LUA_TSTRING: v = cJSON_CreateString(lua_tostring(L, -1)); break;
    case LUA_TNUMBER: v = cJSON_CreateNumber(lua_tonumber(L, -1)); break;
    default: v = cJSON_CreateBool(lua_toboolean(L, -1)); break;
    }
    if (!v || !cJSON_AddItemToObject(o, lua_tostring(L, -2), v)) {
      cJSON_Delete(v);
      cJSON_Delete(o);
      o = NULL;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  return o;
}

/* Checks outbound; leaves each template table's index (0 if absent) in tables. */
static void read_outbound(lua_State *L, int out, const char *fn, int tables[3])
{
  static const char *const names[] = { "media", "mark", "clear" };
  char w[64];
  for (int i = 0; i < 3; i++) {
    tables[i] = 0;
    if (!field(L, out, names[i], LUA_TTABLE, i == 0, fn, ".outbound")) {
      lua_pop(L, 1);
      continue;
    }
    snprintf(w, sizeof w, ".outbound.%s", names[i]);
    check_template(L, lua_gettop(L), 1, fn, w);
    tables[i] = lua_gettop(L);
  }
}

static int read_encoding(lua_State *L, int idx, const char *fn)
{
  static const char *const names[] = { "mulaw", "alaw", "l16" };
  static const dt_media_json_encoding codes[] = { DT_MEDIA_JSON_MULAW, DT_MEDIA_JSON_ALAW, DT_MEDIA_JSON_L16 };
  const char *s = string_field(L, idx, "encoding", 1, fn, "");
  for (int i = 0; i < 3; i++)
    if (strcmp(s, names[i]) == 0) return (int)codes[i];
  return luaL_error(L, "%s: protocol.encoding must be \"mulaw\", \"alaw\" or \"l16\"", fn);
}

static int read_rate(lua_State *L, int idx, const char *fn)
{
  int rate = field(L, idx, "rate", LUA_TNUMBER, 0, fn, "") ? (int)lua_tointeger(L, -1) : 8000;
  if (lua_isnumber(L, -1) && lua_tonumber(L, -1) != rate) rate = 0; /* refused below, as any other rate */
  lua_pop(L, 1);
  return rate;
}

/* Compiles the description at idx (a table). Raises on any mistake. */
static const dt_media_adapter *from_description(lua_State *L, int idx, const char *fn)
{
  int top = lua_gettop(L);
  dt_media_json_desc d = { 0 };
  check_keys(L, idx, fn, "", top_keys);
  d.name = string_field(L, idx, "name", 1, fn, "");
  d.encoding = (dt_media_json_encoding)read_encoding(L, idx, fn);
  d.rate = read_rate(L, idx, fn);
  d.event_key = string_field(L, idx, "event_key", 0, fn, "");
  char w[64];
  read_inbound(L, sub_table(L, idx, "inbound", 1, inbound_keys, fn, "", w, sizeof w), fn, &d);
  int tables[3];
  read_outbound(L, sub_table(L, idx, "outbound", 1, outbound_keys, fn, "", w, sizeof w), fn, tables);
  cJSON *json[3] = { NULL, NULL, NULL };
  int oom = 0;
  for (int i = 0; i < 3; i++)
    if (tables[i] && !(json[i] = to_json(L, tables[i]))) oom = 1;
  d.out_media = json[0];
  d.out_mark = json[1];
  d.out_clear = json[2];
  char err[160] = "out of memory";
  dt_media_adapter *ad = oom ? NULL : dt_media_json_new(&d, err, sizeof err);
  for (int i = 0; i < 3; i++) cJSON_Delete(json[i]);
  lua_settop(L, top);
  if (!ad) luaL_error(L, "%s: protocol.%s", fn, err);
  return ad;
}

const dt_media_adapter *dt_lapi_media_protocol(lua_State *L, int idx, const char *fn)
{
  static const struct {
    const char *name;
    const dt_media_adapter *ad;
  } builtin[] = { { "twilio", &dt_media_twilio }, { "vonage", &dt_media_vonage } };
  if (idx < 0) idx = lua_gettop(L) + idx + 1;
  if (lua_type(L, idx) == LUA_TTABLE) return from_description(L, idx, fn);
  if (lua_type(L, idx) == LUA_TSTRING)
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++)
      if (strcmp(lua_tostring(L, idx), builtin[i].name) == 0) return builtin[i].ad;
  luaL_error(L, "%s: protocol must be \"twilio\", \"vonage\" or a protocol description table", fn);
  return NULL;
}
