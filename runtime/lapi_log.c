/* dialtone.log: debug/info/warn/error(message [, fields]) as logfmt lines tagged with the
 * script generation and the running task's context (e.g. the request id). */
#include "lapi.h"

#include <lauxlib.h>
#include <string.h>

#include "log.h"
#include "task.h"

#define MAX_FIELDS 32

/* logfmt keys must be bare words; anything else in a script's key becomes '_'. */
static const char *clean_key(lua_State *L, int idx)
{
  size_t len;
  const char *k = lua_tolstring(L, idx, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < len && i < 64; i++) {
    char c = k[i];
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    luaL_addchar(&b, ok ? c : '_');
  }
  luaL_pushresult(&b);
  return lua_tostring(L, -1);
}

/* Appends the fields table's string keys and their values (as text) to kv. The strings are
 * kept in a scratch table left on the stack so the pointers stay valid until the call ends. */
static int collect_fields(lua_State *L, const char **kv, int n)
{
  if (lua_isnoneornil(L, 2)) return n;
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_newtable(L);
  int scratch = lua_gettop(L), stored = 0;
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING && stored < MAX_FIELDS) {
      clean_key(L, -2);
      lua_rawseti(L, scratch, 2 * stored + 1);
      lua_getglobal(L, "tostring");
      lua_pushvalue(L, -2);
      lua_call(L, 1, 1);
      lua_rawseti(L, scratch, 2 * stored + 2);
      stored++;
    }
    lua_pop(L, 1);
  }
  for (int i = 0; i < 2 * stored; i++) {
    lua_rawgeti(L, scratch, i + 1);
    kv[2 * n + i] = lua_tostring(L, -1);
    lua_pop(L, 1);
  }
  return n + stored;
}

static int log_at(lua_State *L, dt_log_level level)
{
  if (level < dt_log_get_level()) return 0;
  const char *msg = luaL_checkstring(L, 1);
  const char *kv[2 * (MAX_FIELDS + 2)];
  int n = 0;
  lua_getfield(L, LUA_REGISTRYINDEX, DT_GEN_ID_KEY);
  kv[0] = "gen";
  kv[1] = lua_tostring(L, -1) ? lua_tostring(L, -1) : "?";
  n++;
  dt_task *task = dt_task_current();
  if (task && *dt_task_label_key(task)) {
    kv[2] = dt_task_label_key(task);
    kv[3] = dt_task_label_value(task);
    n++;
  }
  n = collect_fields(L, kv, n);
  dt_log_fields(level, msg, kv, (size_t)n);
  return 0;
}

static int l_debug(lua_State *L) { return log_at(L, DT_LOG_DEBUG); }
static int l_info(lua_State *L) { return log_at(L, DT_LOG_INFO); }
static int l_warn(lua_State *L) { return log_at(L, DT_LOG_WARN); }
static int l_error(lua_State *L) { return log_at(L, DT_LOG_ERROR); }

int dt_lapi_log_open(lua_State *L)
{
  static const luaL_Reg fns[] = { { "debug", l_debug }, { "info", l_info }, { "warn", l_warn },
                                  { "error", l_error }, { NULL, NULL } };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
