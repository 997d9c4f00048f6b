/* dt_form_push: a parsed form as Lua tables. Lua errors (out of memory) must not unwind
 * through dt_form_parse, which owns a buffer, so each pair is stored in a protected call. */
#include "form.h"

#include <lauxlib.h>

#define FORM_MAX_FIELDS 1000
#define FORM_LUA_ERROR 1

struct pair {
  const char *name, *value;
  size_t name_len, value_len;
};

/* Upvalues: 1 = name -> first value, 2 = name -> { values }. Argument: the pair. */
static int add_pair(lua_State *L)
{
  const struct pair *p = lua_touserdata(L, 1);
  lua_pushlstring(L, p->name, p->name_len);
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(2));
  if (lua_isnil(L, 3)) {
    lua_pop(L, 1);
    lua_createtable(L, 1, 0);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_rawset(L, lua_upvalueindex(2));
    lua_pushvalue(L, 2);
    lua_pushlstring(L, p->value, p->value_len);
    lua_rawset(L, lua_upvalueindex(1));
  }
  lua_pushlstring(L, p->value, p->value_len);
  lua_rawseti(L, 3, (int)lua_objlen(L, 3) + 1);
  return 0;
}

/* The add_pair closure is on top of the stack. */
static int on_pair(void *ud, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
  lua_State *L = ud;
  struct pair p = { name, value, name_len, value_len };
  lua_pushvalue(L, -1);
  lua_pushlightuserdata(L, &p);
  return lua_pcall(L, 1, 0, 0) ? FORM_LUA_ERROR : 0;
}

int dt_form_push(lua_State *L, const char *s, size_t len)
{
  luaL_checkstack(L, 8, "form");
  lua_newtable(L);
  lua_newtable(L);
  lua_pushvalue(L, -2);
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, add_pair, 2);
  int rc = dt_form_parse(s, len, FORM_MAX_FIELDS, on_pair, L);
  if (rc == FORM_LUA_ERROR) return lua_error(L);
  lua_pop(L, 1);
  if (rc == -1) return luaL_error(L, "too many form fields (limit %d)", FORM_MAX_FIELDS);
  if (rc != 0) return luaL_error(L, "out of memory parsing a form");
  return 2;
}
