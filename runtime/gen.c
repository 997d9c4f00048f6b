#include "gen.h"

#include <dirent.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lapi.h"
#include "log.h"
#include "task.h"

#define MAX_SCRIPT_FILES 4096
#define MAX_DIR_DEPTH 16

static unsigned live_count;
static dt_gen *live_head;

typedef struct {
  char **paths;
  size_t count;
} file_list;

static int compare_paths(const void *a, const void *b)
{
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void file_list_free(file_list *fl)
{
  for (size_t i = 0; i < fl->count; i++) free(fl->paths[i]);
  free(fl->paths);
}

static int has_lua_suffix(const char *name)
{
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".lua") == 0 && name[0] != '.';
}

/* Collects .lua files under dir (recursively when depth allows) into fl. */
static int collect_lua_files(const char *dir, int depth, file_list *fl)
{
  DIR *d = opendir(dir);
  if (!d) return 0; /* a missing tree simply has no scripts */
  struct dirent *e;
  int rc = 0;
  while (rc == 0 && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[2048];
    if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      if (depth > 0) rc = collect_lua_files(path, depth - 1, fl);
    } else if (S_ISREG(st.st_mode) && has_lua_suffix(e->d_name)) {
      if (fl->count >= MAX_SCRIPT_FILES) rc = -1;
      char **grown = rc ? NULL : realloc(fl->paths, (fl->count + 1) * sizeof *grown);
      if (!grown || !(grown[fl->count] = strdup(path))) rc = -1;
      if (grown) fl->paths = grown;
      if (rc == 0) fl->count++;
    }
  }
  closedir(d);
  return rc;
}

static int list_tree(const char *root, const char *sub, int depth, file_list *fl, char *err, size_t errlen)
{
  char dir[1100];
  snprintf(dir, sizeof dir, "%s/%s", root, sub);
  memset(fl, 0, sizeof *fl);
  if (collect_lua_files(dir, depth, fl) != 0) {
    snprintf(err, errlen, "%s: too many script files or out of memory", dir);
    file_list_free(fl);
    return -1;
  }
  if (fl->count) qsort(fl->paths, fl->count, sizeof *fl->paths, compare_paths);
  return 0;
}

/* Syntax-checks every Lua file of lua/ and scripts/, so a broken file there fails the build.
 * providers/ is left to load_providers: a broken provider is only not offered. */
static int compile_all(lua_State *L, const char *root, char *err, size_t errlen)
{
  static const char *const trees[] = { "lua", "scripts" };
  for (size_t t = 0; t < sizeof trees / sizeof trees[0]; t++) {
    file_list fl;
    if (list_tree(root, trees[t], MAX_DIR_DEPTH, &fl, err, errlen) != 0) return -1;
    int rc = 0;
    for (size_t i = 0; i < fl.count && rc == 0; i++) {
      if (dt_vm_loadfile(L, fl.paths[i]) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        rc = -1;
      }
      lua_pop(L, 1);
    }
    file_list_free(&fl);
    if (rc) return -1;
  }
  return 0;
}

typedef struct {
  char *err;
  size_t errlen;
  int failed;
  const char *path;
} load_result;

static void load_done(dt_task *task, lua_State *co, dt_task_outcome outcome, const char *message, void *ud)
{
  (void)task;
  (void)co;
  load_result *r = ud;
  if (outcome == DT_TASK_OK) return;
  r->failed = 1;
  if (outcome == DT_TASK_KILLED) snprintf(r->err, r->errlen, "%s: %s while loading", r->path, message);
  else snprintf(r->err, r->errlen, "%s", message);
}

/* Runs each top-level .lua file of scripts/; they register routes and may not wait. */
static int run_scripts(dt_gen *gen, const char *root, char *err, size_t errlen)
{
  lua_State *L = gen->vm->L;
  file_list fl;
  if (list_tree(root, "scripts", 0, &fl, err, errlen) != 0) return -1;
  load_result r = { err, errlen, 0, NULL };
  for (size_t i = 0; i < fl.count && !r.failed; i++) {
    r.path = fl.paths[i];
    if (dt_vm_loadfile(L, fl.paths[i]) != 0) {
      snprintf(err, errlen, "%s", lua_tostring(L, -1));
      lua_pop(L, 1);
      r.failed = 1;
    } else if (dt_task_spawn(L, 0, gen->cpu_budget_ms, 0, load_done, &r) != 0) {
      snprintf(err, errlen, "out of memory loading %s", fl.paths[i]);
      r.failed = 1;
    }
  }
  file_list_free(&fl);
  return r.failed ? -1 : 0;
}

/* Calls the registry's load_all with the paths of the top-level .lua files of providers/. It
 * logs and skips a broken provider itself; only a load_all that fails (e.g. a provider file
 * spinning past the CPU budget) fails the build. */
static int load_providers(dt_gen *gen, const char *root, char *err, size_t errlen)
{
  lua_State *L = gen->vm->L;
  file_list fl;
  if (list_tree(root, "providers", 0, &fl, err, errlen) != 0) return -1;
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "dialtone.providers");
  lua_getfield(L, -1, "load_all");
  lua_replace(L, -3);
  lua_pop(L, 1);
  lua_createtable(L, (int)fl.count, 0);
  for (size_t i = 0; i < fl.count; i++) {
    lua_pushstring(L, fl.paths[i]);
    lua_rawseti(L, -2, (int)i + 1);
  }
  load_result r = { err, errlen, 0, "providers/" };
  if (dt_task_spawn(L, 1, gen->cpu_budget_ms, 0, load_done, &r) != 0) {
    snprintf(err, errlen, "out of memory loading providers/");
    r.failed = 1;
  }
  file_list_free(&fl);
  return r.failed ? -1 : 0;
}

static void link_live(dt_gen *gen)
{
  gen->next = live_head;
  if (live_head) live_head->prev = gen;
  live_head = gen;
  live_count++;
}

static void unlink_live(dt_gen *gen)
{
  if (gen->prev) gen->prev->next = gen->next;
  else live_head = gen->next;
  if (gen->next) gen->next->prev = gen->prev;
  live_count--;
}

static dt_gen *gen_new(const dt_gen_options *opts, unsigned id, char *err, size_t errlen)
{
  dt_gen *gen = calloc(1, sizeof *gen);
  if (gen) gen->vm = dt_vm_new(opts->root, opts->memory_limit);
  if (!gen || !gen->vm) {
    free(gen);
    snprintf(err, errlen, "out of memory creating a Lua state");
    return NULL;
  }
  gen->id = id;
  gen->holds = 1;
  gen->cpu_budget_ms = opts->cpu_budget_ms;
  gen->dispatch_ref = LUA_NOREF;
  link_live(gen);
  lua_State *L = gen->vm->L;
  dt_sched_attach(L);
  lua_pushfstring(L, "%d", (int)id);
  lua_setfield(L, LUA_REGISTRYINDEX, DT_GEN_ID_KEY);
  lua_pushlightuserdata(L, gen);
  lua_setfield(L, LUA_REGISTRYINDEX, DT_GEN_KEY);
  if (dt_lapi_open_all(L) != 0) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
    dt_gen_release(gen);
    return NULL;
  }
  return gen;
}

static int find_dispatch(dt_gen *gen)
{
  lua_State *L = gen->vm->L;
  lua_getfield(L, LUA_REGISTRYINDEX, "_LOADED");
  lua_getfield(L, -1, "dialtone.router");
  lua_getfield(L, -1, "dispatch");
  gen->dispatch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 2);
  return gen->dispatch_ref == LUA_REFNIL ? -1 : 0;
}

dt_gen *dt_gen_build(const dt_gen_options *opts, unsigned id, char *err, size_t errlen)
{
  dt_gen *gen = gen_new(opts, id, err, errlen);
  if (!gen) return NULL;
  lua_State *L = gen->vm->L;
  dt_vm_seal_globals(L);
  if (compile_all(L, opts->root, err, errlen) != 0 || load_providers(gen, opts->root, err, errlen) != 0 ||
      run_scripts(gen, opts->root, err, errlen) != 0) {
    dt_gen_release(gen);
    return NULL;
  }
  if (find_dispatch(gen) != 0) {
    snprintf(err, errlen, "lua/dialtone/router.lua has no dispatch function");
    dt_gen_release(gen);
    return NULL;
  }
  return gen;
}

dt_gen *dt_gen_bare(const dt_gen_options *opts, unsigned id, char *err, size_t errlen)
{
  return gen_new(opts, id, err, errlen);
}

void dt_gen_hold(dt_gen *gen) { gen->holds++; }

void dt_gen_release(dt_gen *gen)
{
  if (--gen->holds > 0) return;
  char id[16];
  snprintf(id, sizeof id, "%u", gen->id);
  dt_log(DT_LOG_DEBUG, "generation closed", "gen", id, NULL);
  unlink_live(gen);
  dt_vm_free(gen->vm);
  free(gen);
}

unsigned dt_gen_live_count(void) { return live_count; }

size_t dt_gen_live_bytes(void)
{
  size_t total = 0;
  for (const dt_gen *g = live_head; g; g = g->next) total += g->vm->used;
  return total;
}
