/* `dialtone run FILE [ARGS]` and `dialtone check`. */
#include "commands.h"

#include <lauxlib.h>
#include <stdio.h>
#include <uv.h>

#include "gen.h"
#include "lapi.h"
#include "settings.h"
#include "store.h"
#include "store_unlock.h"
#include "task.h"
#include "vm.h"

typedef struct {
  int exit_status;
} run_result;

/* The script's return value is the exit status: a number, false (1) or anything else (0). */
static void run_done(dt_task *task, lua_State *co, dt_task_outcome outcome, const char *message, void *ud)
{
  (void)task;
  run_result *r = ud;
  if (outcome != DT_TASK_OK) {
    fprintf(stderr, "%s\n", message);
    r->exit_status = 1;
  } else if (lua_gettop(co) >= 1 && lua_type(co, 1) == LUA_TNUMBER) {
    r->exit_status = (int)lua_tointeger(co, 1);
  } else {
    r->exit_status = lua_gettop(co) >= 1 && lua_type(co, 1) == LUA_TBOOLEAN && !lua_toboolean(co, 1);
  }
}

static void set_arg_table(lua_State *L, const char *file, int argc, char **argv)
{
  lua_createtable(L, argc, 1);
  lua_pushstring(L, file);
  lua_rawseti(L, -2, 0);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setglobal(L, "arg");
}

int dt_cmd_run(const dt_config *cfg, const char *script_root, const char *file, int argc, char **argv)
{
  char err[4096];
  dt_settings_publish(cfg);
  dt_store *store;
  if (dt_store_open_data_dir(cfg->data_dir, &store, err, sizeof err) != 0) {
    fprintf(stderr, "dialtone run: %s\n", err);
    return 1;
  }
  if (dt_store_unlock(store, cfg->data_dir, err, sizeof err) != 0) {
    fprintf(stderr, "dialtone run: %s\n", err);
    dt_store_close(store);
    return 1;
  }
  dt_gen_options opts = { script_root, cfg->lua_memory_limit, 0 };
  dt_gen *gen = dt_gen_bare(&opts, 1, err, sizeof err);
  if (!gen) {
    fprintf(stderr, "dialtone run: %s\n", err);
    dt_store_close(store);
    return 1;
  }
  lua_State *L = gen->vm->L;
  set_arg_table(L, file, argc, argv);
  dt_lapi_assets_allow_files(L);
  dt_vm_seal_globals(L);
  run_result r = { 1 };
  if (dt_vm_loadfile(L, file) != 0) {
    fprintf(stderr, "dialtone run: %s\n", lua_tostring(L, -1));
  } else {
    for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
    if (dt_task_spawn(L, argc, 0, 1, run_done, &r) == 0) uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  }
  dt_gen_release(gen);
  uv_loop_close(uv_default_loop());
  dt_store_close(store);
  return r.exit_status;
}

/* Pushes require("dialtone.providers").problems(); run under lua_pcall. */
static int push_provider_problems(lua_State *L)
{
  lua_getglobal(L, "require");
  lua_pushliteral(L, "dialtone.providers");
  lua_call(L, 1, 1);
  lua_getfield(L, -1, "problems");
  lua_call(L, 0, 1);
  return 1;
}

/* Prints what the provider registry refused ("file: problem" lines) to stderr; returns how
 * many there were (1 when they cannot be listed, said why). */
static int report_provider_problems(lua_State *L)
{
  lua_pushcfunction(L, push_provider_problems);
  if (lua_pcall(L, 0, 1, 0) != 0 || !lua_istable(L, -1)) {
    fprintf(stderr, "cannot list the providers' problems: %s\n", lua_isstring(L, -1) ? lua_tostring(L, -1) : "no list");
    lua_pop(L, 1);
    return 1;
  }
  int n = (int)lua_objlen(L, -1);
  for (int i = 1; i <= n; i++) {
    lua_rawgeti(L, -1, i);
    fprintf(stderr, "provider not offered: %s\n", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return n;
}

/* Strict: a provider that is not offered fails the check, though a reload would go ahead. */
int dt_cmd_check(const dt_config *cfg, const char *script_root)
{
  char err[4096];
  dt_settings_publish(cfg);
  dt_gen_options opts = { script_root, cfg->lua_memory_limit, cfg->cpu_budget_ms };
  dt_gen *gen = dt_gen_build(&opts, 1, err, sizeof err);
  if (!gen) {
    fprintf(stderr, "%s\n", err);
    return 1;
  }
  int bad = report_provider_problems(gen->vm->L);
  if (!bad) printf("ok: scripts in %s load\n", script_root);
  dt_gen_release(gen);
  return bad ? 1 : 0;
}
