/* The Lua bindings: each dialtone.<module> table is built by one lapi_*.c file. */
#ifndef DT_LAPI_H
#define DT_LAPI_H

#include <lua.h>

/* Registry key holding the generation id (a string) of a state, for log lines. */
#define DT_GEN_ID_KEY "dialtone.gen_id"

int dt_lapi_time_open(lua_State *L);
int dt_lapi_log_open(lua_State *L);
int dt_lapi_url_open(lua_State *L);
int dt_lapi_ws_open(lua_State *L);
int dt_lapi_http_open(lua_State *L);
int dt_lapi_codec_open(lua_State *L);
int dt_lapi_media_open(lua_State *L);
int dt_lapi_crypto_open(lua_State *L);
int dt_lapi_store_open(lua_State *L);
int dt_lapi_config_open(lua_State *L);
int dt_lapi_spawn_open(lua_State *L);
int dt_lapi_assets_open(lua_State *L);
/* Adds dialtone.assets.read_file (any file) to a state: for `dialtone run` only. */
void dt_lapi_assets_allow_files(lua_State *L);

/* Creates the global `dialtone` with every binding, then loads the runtime's Lua library
 * (lua/dialtone/router.lua supplies dialtone.route). Returns 0, or pushes an error message
 * and returns -1. */
int dt_lapi_open_all(lua_State *L);
#endif
