/* dialtone.task.spawn(fn, ...): runs fn(...) as a task of its own, on the caller's generation
 * (held until the task ends), with the same CPU budget between waits as a request. It starts
 * on the next turn of the loop, not inside the caller. Its results are dropped and its errors
 * logged. For work that must go on after a response has been sent, such as fetching a call's
 * cost once the callback that ended the call has been answered.
 *
 * Background tasks still waiting when the server stops are abandoned (dt_spawn_abandon_all),
 * so a pending sleep does not keep the process alive. */
#include "lapi.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <uv.h>

#include "gen.h"
#include "log.h"
#include "spawn.h"
#include "task.h"

typedef struct background {
  uv_timer_t start_timer;
  dt_task *task;
  dt_gen *gen;
  struct background *prev, *next;
} background;

static background *running;

static void unlink_background(background *b)
{
  if (b->prev) b->prev->next = b->next;
  else running = b->next;
  if (b->next) b->next->prev = b->prev;
  b->prev = b->next = NULL;
}

static void free_background(uv_handle_t *h) { free(h->data); }

static void background_released(void *ud)
{
  background *b = ud;
  dt_gen_release(b->gen);
  uv_close((uv_handle_t *)&b->start_timer, free_background);
}

static void background_done(dt_task *task, lua_State *co, dt_task_outcome outcome, const char *message, void *ud)
{
  (void)task;
  (void)co;
  unlink_background(ud);
  if (outcome == DT_TASK_ERROR) dt_log(DT_LOG_ERROR, "background task failed", "error", message, NULL);
  else if (outcome == DT_TASK_KILLED) dt_log(DT_LOG_WARN, "background task stopped", "reason", message, NULL);
}

static void start_background(uv_timer_t *t)
{
  background *b = t->data;
  dt_task_start(b->task);
}

static int l_spawn(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TFUNCTION);
  lua_getfield(L, LUA_REGISTRYINDEX, DT_GEN_KEY);
  dt_gen *gen = lua_touserdata(L, -1);
  lua_pop(L, 1);
  if (!gen) return luaL_error(L, "dialtone.task.spawn: no generation");
  background *b = calloc(1, sizeof *b);
  if (!b) return luaL_error(L, "dialtone.task.spawn: out of memory");
  dt_task *parent = dt_task_current();
  b->task = dt_task_new(L, lua_gettop(L) - 1, gen->cpu_budget_ms, 1, background_done, b);
  if (!b->task) {
    free(b);
    return luaL_error(L, "dialtone.task.spawn: out of memory");
  }
  if (parent && *dt_task_label_key(parent))
    dt_task_set_label(b->task, dt_task_label_key(parent), dt_task_label_value(parent));
  b->gen = gen;
  dt_gen_hold(gen);
  dt_task_on_released(b->task, background_released);
  uv_timer_init(uv_default_loop(), &b->start_timer);
  b->start_timer.data = b;
  uv_timer_start(&b->start_timer, start_background, 0, 0);
  b->next = running;
  if (running) running->prev = b;
  running = b;
  return 0;
}

void dt_spawn_abandon_all(void)
{
  while (running) {
    uv_timer_stop(&running->start_timer);
    dt_task_abandon(running->task, "the server is stopping");
  }
}

int dt_lapi_spawn_open(lua_State *L)
{
  lua_newtable(L);
  lua_pushcfunction(L, l_spawn);
  lua_setfield(L, -2, "spawn");
  return 1;
}
