#include "vm.h"

#include <lauxlib.h>
#include <luajit.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DT_VM_KEY "dialtone.vm"

static void *capped_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
  dt_vm *vm = ud;
  if (nsize == 0) {
    free(ptr);
    vm->used -= osize;
    return NULL;
  }
  if (nsize > osize && vm->used - osize + nsize > vm->limit) {
    vm->limit_hit = 1;
    return NULL;
  }
  void *p = realloc(ptr, nsize);
  if (p) vm->used = vm->used - osize + nsize;
  return p;
}

dt_vm *dt_vm_from(lua_State *L)
{
  lua_getfield(L, LUA_REGISTRYINDEX, DT_VM_KEY);
  dt_vm *vm = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return vm;
}

int dt_vm_loadfile(lua_State *L, const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    lua_pushfstring(L, "%s: cannot open file", path);
    return LUA_ERRFILE;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  size_t n;
  char chunk[4096];
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, n);
  int failed = ferror(f);
  fclose(f);
  luaL_pushresult(&b);
  if (failed) {
    lua_pop(L, 1);
    lua_pushfstring(L, "%s: read error", path);
    return LUA_ERRFILE;
  }
  size_t len;
  const char *src = lua_tolstring(L, -1, &len);
  /* "@path" makes error messages read path:line; mode "t" refuses bytecode. */
  lua_pushfstring(L, "@%s", path);
  int rc = luaL_loadbufferx(L, src, len, lua_tostring(L, -1), "t");
  lua_remove(L, -2);
  lua_remove(L, -2);
  if (rc == 0) luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
  return rc;
}

/* load(string [, chunkname]) for scripts: source text only, JIT off like every chunk. */
static int sandbox_load(lua_State *L)
{
  size_t len;
  const char *src = luaL_checklstring(L, 1, &len);
  const char *name = luaL_optstring(L, 2, "=(load)");
  if (luaL_loadbufferx(L, src, len, name, "t") != 0) {
    lua_pushnil(L);
    lua_insert(L, -2);
    return 2;
  }
  luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
  return 1;
}

/* Module names are dotted identifiers: nothing that could walk out of the roots. */
static int valid_module_name(const char *name)
{
  if (!*name || *name == '.') return 0;
  for (const char *p = name; *p; p++) {
    if (!(*p == '_' || *p == '.' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9')))
      return 0;
    if (p[0] == '.' && p[1] == '.') return 0;
  }
  return 1;
}

static int find_module(dt_vm *vm, const char *name, char *path, size_t size)
{
  static const char *const dirs[] = { "lua", "scripts", "providers" };
  char rel[512];
  if (snprintf(rel, sizeof rel, "%s", name) >= (int)sizeof rel) return -1;
  for (char *p = rel; *p; p++)
    if (*p == '.') *p = '/';
  for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    if (snprintf(path, size, "%s/%s/%s.lua", vm->root, dirs[i], rel) >= (int)size) return -1;
    FILE *f = fopen(path, "rb");
    if (f) {
      fclose(f);
      return 0;
    }
  }
  return -1;
}

/* require(name): modules from lua/, scripts/ or providers/ under the root, cached per state. */
static int sandbox_require(lua_State *L)
{
  const char *name = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, 2, name);
  if (lua_toboolean(L, -1)) {
    if (lua_islightuserdata(L, -1)) return luaL_error(L, "circular require of module '%s'", name);
    return 1;
  }
  lua_pop(L, 1);
  if (!valid_module_name(name)) return luaL_error(L, "invalid module name '%s'", name);
  char path[1400];
  if (find_module(dt_vm_from(L), name, path, sizeof path) != 0)
    return luaL_error(L, "module '%s' not found under lua/, scripts/ or providers/", name);
  lua_pushlightuserdata(L, (void *)sandbox_require); /* marks "loading" to catch cycles */
  lua_setfield(L, 2, name);
  if (dt_vm_loadfile(L, path) != 0) {
    lua_pushnil(L);
    lua_setfield(L, 2, name);
    return lua_error(L);
  }
  lua_pushstring(L, name);
  lua_call(L, 1, 1);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_pushboolean(L, 1);
  }
  lua_pushvalue(L, -1);
  lua_setfield(L, 2, name);
  return 1;
}

static void remove_fields(lua_State *L, const char *lib, const char *const *names)
{
  lua_getglobal(L, lib);
  for (; *names; names++) {
    lua_pushnil(L);
    lua_setfield(L, -2, *names);
  }
  lua_pop(L, 1);
}

/* os keeps only time, clock and date. */
static void restrict_os(lua_State *L)
{
  static const char *const keep[] = { "time", "clock", "date" };
  lua_getglobal(L, "os");
  lua_createtable(L, 0, 3);
  for (int i = 0; i < 3; i++) {
    lua_getfield(L, -2, keep[i]);
    lua_setfield(L, -2, keep[i]);
  }
  lua_setglobal(L, "os");
  lua_pop(L, 1);
}

static void open_sandbox(lua_State *L)
{
  static const lua_CFunction libs[] = { luaopen_base, luaopen_string, luaopen_table,
                                        luaopen_math, luaopen_os, luaopen_bit };
  for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    lua_pushcfunction(L, libs[i]);
    lua_call(L, 0, 0);
  }
  static const char *const base_removed[] = { "dofile", "loadfile", "loadstring", "getfenv",
                                              "setfenv", "module", "gcinfo", "newproxy", NULL };
  lua_pushvalue(L, LUA_GLOBALSINDEX);
  for (const char *const *n = base_removed; *n; n++) {
    lua_pushnil(L);
    lua_setfield(L, -2, *n);
  }
  lua_pop(L, 1);
  static const char *const string_removed[] = { "dump", NULL };
  remove_fields(L, "string", string_removed);
  restrict_os(L);
  lua_pushcfunction(L, sandbox_load);
  lua_setglobal(L, "load");
  lua_pushcfunction(L, sandbox_require);
  lua_setglobal(L, "require");
  lua_newtable(L);
  lua_setfield(L, LUA_REGISTRYINDEX, "_LOADED");
}

static int strict_index(lua_State *L)
{
  return luaL_error(L, "unknown global '%s'", lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

static int strict_newindex(lua_State *L)
{
  return luaL_error(L, "assignment to unknown global '%s' (use local)",
                    lua_tostring(L, 2) ? lua_tostring(L, 2) : "?");
}

void dt_vm_seal_globals(lua_State *L)
{
  lua_newtable(L);
  lua_pushcfunction(L, strict_index);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, strict_newindex);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, LUA_GLOBALSINDEX);
}

dt_vm *dt_vm_new(const char *root, size_t memory_limit)
{
  dt_vm *vm = calloc(1, sizeof *vm);
  if (!vm) return NULL;
  vm->limit = memory_limit;
  snprintf(vm->root, sizeof vm->root, "%s", root);
  vm->L = lua_newstate(capped_alloc, vm);
  if (!vm->L) {
    free(vm);
    return NULL;
  }
  lua_pushlightuserdata(vm->L, vm);
  lua_setfield(vm->L, LUA_REGISTRYINDEX, DT_VM_KEY);
  open_sandbox(vm->L);
  return vm;
}

void dt_vm_free(dt_vm *vm)
{
  if (!vm) return;
  lua_close(vm->L);
  free(vm);
}
