/* Assembles the global `dialtone` table from the C bindings and the runtime's Lua library. */
#include "lapi.h"

#include <lauxlib.h>

#include "lapi_json.h"

/* Sets dialtone[field] to the `api` table of the Lua module. */
static void set_module_api(lua_State *L, const char *module, const char *field)
{
  lua_getglobal(L, "require");
  lua_pushstring(L, module);
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "api");
  lua_getglobal(L, "dialtone");
  lua_insert(L, -2);
  lua_setfield(L, -2, field);
  lua_pop(L, 2);
}

static int open_library(lua_State *L)
{
  set_module_api(L, "dialtone.router", "route");
  set_module_api(L, "dialtone.telephony", "telephony");
  return 0;
}

int dt_lapi_open_all(lua_State *L)
{
  static const struct { const char *name; lua_CFunction open; } modules[] = {
    { "json", dt_lapi_json_open }, { "log", dt_lapi_log_open },
    { "time", dt_lapi_time_open }, { "url", dt_lapi_url_open },
    { "ws", dt_lapi_ws_open }, { "http", dt_lapi_http_open },
    { "codec", dt_lapi_codec_open }, { "media", dt_lapi_media_open },
    { "crypto", dt_lapi_crypto_open }, { "store", dt_lapi_store_open }, { "config", dt_lapi_config_open },
    { "task", dt_lapi_spawn_open }, { "assets", dt_lapi_assets_open },
  };
  lua_newtable(L);
  for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
    modules[i].open(L);
    lua_setfield(L, -2, modules[i].name);
  }
  lua_setglobal(L, "dialtone");
  lua_pushcfunction(L, open_library);
  if (lua_pcall(L, 0, 0, 0) != 0) return -1;
  return 0;
}
