#include "startup.h"

#include <lauxlib.h>

#include "gen.h"
#include "host.h"
#include "log.h"
#include "task.h"

static const struct {
  const char *module, *function;
} hooks[] = {
  /* cost fetches a previous process left unfinished (it stopped or was killed meanwhile) */
  { "dialtone.runs", "resume_cost_fetches" },
};

static void hook_done(dt_task *task, lua_State *co, dt_task_outcome outcome, const char *message, void *ud)
{
  (void)task;
  (void)co;
  if (outcome != DT_TASK_OK) dt_log(DT_LOG_ERROR, "startup hook failed", "hook", (const char *)ud, "error", message, NULL);
}

/* Pushes require(module)[function], or logs why it cannot and pushes nothing. Returns 0 or -1. */
static int push_hook(lua_State *L, const char *module, const char *function)
{
  lua_getglobal(L, "require");
  lua_pushstring(L, module);
  if (lua_pcall(L, 1, 1, 0) != 0) {
    dt_log(DT_LOG_ERROR, "startup hook failed", "hook", module, "error", lua_tostring(L, -1), NULL);
    lua_pop(L, 1);
    return -1;
  }
  lua_getfield(L, -1, function);
  lua_remove(L, -2);
  if (lua_isfunction(L, -1)) return 0;
  dt_log(DT_LOG_ERROR, "startup hook failed", "hook", module, "error", "no such function", "function", function, NULL);
  lua_pop(L, 1);
  return -1;
}

void dt_startup_run(void)
{
  dt_gen *gen = dt_host_current();
  lua_State *L = gen->vm->L;
  for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) {
    if (push_hook(L, hooks[i].module, hooks[i].function) != 0) continue;
    if (dt_task_spawn(L, 0, gen->cpu_budget_ms, 0, hook_done, (void *)hooks[i].module) != 0)
      dt_log(DT_LOG_ERROR, "startup hook failed", "hook", hooks[i].module, "error", "out of memory", NULL);
  }
}
