/* dialtone.config: what scripts may know of the server's settings.
 *
 *   config.public_url      the base URL carriers use to reach this server (no trailing slash)
 *   config.data_dir        the data directory
 *
 * Fields are read through __index so a value published after the scripts loaded (the public
 * URL once the server listens) is seen; reading any other field raises, like a misspelt global. */
#include "lapi.h"

#include <lauxlib.h>
#include <string.h>

#include "settings.h"

static const dt_config *settings(lua_State *L)
{
  const dt_config *cfg = dt_settings_config();
  if (!cfg) luaL_error(L, "dialtone.config: no settings were published");
  return cfg;
}

static void push_without_trailing_slashes(lua_State *L, const char *s)
{
  size_t n = strlen(s);
  while (n > 0 && s[n - 1] == '/') n--;
  lua_pushlstring(L, s, n);
}

static int l_index(lua_State *L)
{
  const char *key = luaL_checkstring(L, 2);
  if (strcmp(key, "public_url") == 0) {
    settings(L);
    push_without_trailing_slashes(L, dt_settings_public_url());
  } else if (strcmp(key, "data_dir") == 0) {
    lua_pushstring(L, settings(L)->data_dir);
  } else {
    return luaL_error(L, "dialtone.config has no field '%s' (public_url, data_dir)", key);
  }
  return 1;
}

int dt_lapi_config_open(lua_State *L)
{
  lua_newtable(L);
  lua_newtable(L);
  lua_pushcfunction(L, l_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}
