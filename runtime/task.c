#include "task.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vm.h"

/* How many VM instructions run between budget checks: often enough to stop a loop within
 * about a millisecond, rarely enough to cost nothing measurable. */
#define HOOK_INSTRUCTIONS 1000

struct dt_task {
  lua_State *co;
  int co_ref;            /* keeps the coroutine alive in the registry */
  dt_vm *vm;
  uint64_t budget_ns;
  uint64_t slice_start_ns;
  int can_wait;
  int nargs;
  const char *kill_reason;
  int hit_limit;         /* its last slice met the memory cap */
  dt_task_done done;
  void *ud;
  void (*released)(void *ud);
  void (*cancel)(void *arg);
  void *cancel_arg;
  dt_task_hook *hooks;
  char label_key[32];
  char label_value[64];
};

static dt_task *running;

static uint64_t thread_cpu_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void budget_hook(lua_State *L, lua_Debug *ar)
{
  (void)ar;
  dt_task *t = running;
  if (!t) return;
  if (!t->kill_reason) {
    if (t->vm->limit_hit) t->kill_reason = "memory limit exceeded";
    else if (t->budget_ns && thread_cpu_ns() - t->slice_start_ns > t->budget_ns)
      t->kill_reason = "CPU budget exceeded";
    else return;
  }
  /* Yielding the task's own coroutine ends it for good: the scheduler never resumes it. Where
   * it cannot yield (a coroutine the script made, or inside a C call such as require), raise
   * instead; the hook fires again once the task can yield. */
  if (L == t->co && lua_isyieldable(L)) lua_yield(L, 0);
  else luaL_error(L, "%s", t->kill_reason);
}

void dt_sched_attach(lua_State *L)
{
  lua_sethook(L, budget_hook, LUA_MASKCOUNT, HOOK_INSTRUCTIONS);
}

dt_task *dt_task_current(void) { return running; }
lua_State *dt_task_thread(dt_task *task) { return task->co; }

/* Runs the end hooks; a hook may add or remove others while this runs. */
static void run_hooks(dt_task *t)
{
  while (t->hooks) {
    dt_task_hook *h = t->hooks;
    dt_task_hook_remove(h);
    h->fn(h->arg);
  }
}

static void task_finish(dt_task *t, dt_task_outcome outcome, const char *message)
{
  if (t->cancel) t->cancel(t->cancel_arg);
  run_hooks(t);
  t->done(t, t->co, outcome, message, t->ud);
  lua_State *L = t->vm->L;
  luaL_unref(L, LUA_REGISTRYINDEX, t->co_ref);
  if (t->hit_limit) lua_gc(L, LUA_GCCOLLECT, 0); /* the next task starts under the cap */
  void (*released)(void *ud) = t->released;
  void *ud = t->ud;
  free(t);
  if (released) released(ud);
}

static void finish_with_error(dt_task *t)
{
  const char *msg = lua_tostring(t->co, -1);
  luaL_traceback(t->co, t->co, msg ? msg : "(error object is not a string)", 0);
  task_finish(t, DT_TASK_ERROR, lua_tostring(t->co, -1));
}

/* The memory cap is met by whichever task is running: the VM's flag is this slice's alone (an
 * outer task's, when this one runs inside it, is put back afterwards), so a task that caught
 * the error and ended before the hook saw it does not get the next task stopped. A task that
 * met the cap is stopped at its next wait, and its error, whatever it became, is that. */
static void run_slice(dt_task *t, int nargs)
{
  dt_task *outer = running; /* a task may complete another's wait synchronously */
  int outer_hit = outer && outer->vm == t->vm ? t->vm->limit_hit : 0;
  t->vm->limit_hit = 0;
  running = t;
  t->slice_start_ns = thread_cpu_ns();
  int rc = lua_resume(t->co, nargs);
  running = outer;
  t->hit_limit = t->vm->limit_hit;
  t->vm->limit_hit = outer_hit;
  if (t->hit_limit && !t->kill_reason && rc != 0) t->kill_reason = "memory limit exceeded";
  if (rc == LUA_YIELD && t->kill_reason) task_finish(t, DT_TASK_KILLED, t->kill_reason);
  else if (rc == LUA_YIELD) return; /* waiting: a binding will resume it */
  else if (rc == 0) task_finish(t, DT_TASK_OK, NULL);
  else if (rc == LUA_ERRMEM || t->kill_reason)
    task_finish(t, DT_TASK_KILLED, t->kill_reason ? t->kill_reason : "memory limit exceeded");
  else finish_with_error(t);
}

dt_task *dt_task_new(lua_State *L, int nargs, uint64_t cpu_budget_ms, int can_wait,
                     dt_task_done done, void *ud)
{
  dt_task *t = calloc(1, sizeof *t);
  if (!t) {
    lua_pop(L, nargs + 1);
    return NULL;
  }
  t->vm = dt_vm_from(L);
  t->budget_ns = cpu_budget_ms * 1000000u;
  t->can_wait = can_wait;
  t->done = done;
  t->ud = ud;
  t->nargs = nargs;
  t->co = lua_newthread(L);
  t->co_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_xmove(L, t->co, nargs + 1);
  return t;
}

void dt_task_start(dt_task *task) { run_slice(task, task->nargs); }

int dt_task_spawn(lua_State *L, int nargs, uint64_t cpu_budget_ms, int can_wait,
                  dt_task_done done, void *ud)
{
  dt_task *t = dt_task_new(L, nargs, cpu_budget_ms, can_wait, done, ud);
  if (!t) return -1;
  dt_task_start(t);
  return 0;
}

dt_task *dt_task_wait(lua_State *L, const char *what)
{
  dt_task *t = running;
  if (!t || !t->can_wait) {
    luaL_error(L, "%s cannot wait here: waiting is only possible inside a request handler, "
                  "call flow or `dialtone run` script, not while scripts load", what);
  } else if (L != t->co) {
    luaL_error(L, "%s cannot wait inside a coroutine created by the script", what);
  }
  return t;
}

void dt_task_resume(dt_task *task, int nresults)
{
  task->cancel = NULL;
  run_slice(task, nresults);
}

void dt_task_on_released(dt_task *task, void (*released)(void *ud)) { task->released = released; }

void dt_task_hook_add(dt_task *task, dt_task_hook *hook, void (*fn)(void *arg), void *arg)
{
  hook->fn = fn;
  hook->arg = arg;
  hook->task = task;
  hook->prev = NULL;
  hook->next = task->hooks;
  if (task->hooks) task->hooks->prev = hook;
  task->hooks = hook;
}

void dt_task_hook_remove(dt_task_hook *hook)
{
  dt_task *t = hook->task;
  if (!t) return;
  if (hook->prev) hook->prev->next = hook->next;
  else t->hooks = hook->next;
  if (hook->next) hook->next->prev = hook->prev;
  hook->task = NULL;
  hook->prev = hook->next = NULL;
}

void dt_task_on_abandon(dt_task *task, void (*cancel)(void *arg), void *arg)
{
  task->cancel = cancel;
  task->cancel_arg = arg;
}

void dt_task_abandon(dt_task *task, const char *reason)
{
  task_finish(task, DT_TASK_KILLED, reason);
}

void dt_task_set_label(dt_task *task, const char *key, const char *value)
{
  snprintf(task->label_key, sizeof task->label_key, "%s", key);
  snprintf(task->label_value, sizeof task->label_value, "%s", value);
}

const char *dt_task_label_key(const dt_task *task) { return task->label_key; }
const char *dt_task_label_value(const dt_task *task) { return task->label_value; }
