/* dialtone.config: what scripts may know of the server's settings.
 *
 *   config.public_url      the base URL carriers use to reach this server (no trailing slash)
 *   config.data_dir        the data directory
 *   config.read_organizations() -> table, or nil + err
 *       the organisations file (setting organizations_file) decoded from JSON; nil and
 *       "not found: PATH" when it does not exist. Read on every call, so edits apply at once.
 *
 * Fields are read through __index so a value published after the scripts loaded (the public
 * URL once the server listens) is seen. Secrets in the organisations file never pass through
 * here in a log line. */
#include "lapi.h"

#include <errno.h>
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "lapi_json.h"
#include "settings.h"

#define MAX_ORGANIZATIONS_FILE (1 << 20)

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
    lua_pushnil(L);
  }
  return 1;
}

/* Reads the whole file into a Lua string on the stack. Returns 0, or -1 with nil + err pushed. */
static int push_file(lua_State *L, const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    lua_pushnil(L);
    if (errno == ENOENT) lua_pushfstring(L, "not found: %s", path);
    else lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return -1;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char chunk[4096];
  size_t n, total = 0;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && (total += n) <= MAX_ORGANIZATIONS_FILE)
    luaL_addlstring(&b, chunk, n);
  int failed = ferror(f);
  fclose(f);
  luaL_pushresult(&b);
  if (failed || total > MAX_ORGANIZATIONS_FILE) {
    lua_pop(L, 1);
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, failed ? "read error" : "larger than 1 MiB");
    return -1;
  }
  return 0;
}

static int l_read_organizations(lua_State *L)
{
  const char *path = settings(L)->organizations_file;
  if (push_file(L, path) != 0) return 2;
  size_t len;
  const char *text = lua_tolstring(L, -1, &len);
  if (dt_json_push_decoded(L, text, len) == 1) return 1;
  const char *why = lua_tostring(L, -1);
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, why);
  return 2;
}

int dt_lapi_config_open(lua_State *L)
{
  lua_newtable(L);
  lua_pushcfunction(L, l_read_organizations);
  lua_setfield(L, -2, "read_organizations");
  lua_newtable(L);
  lua_pushcfunction(L, l_index);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  return 1;
}
