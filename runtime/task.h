/* Tasks: the one place coroutines are resumed. Every request, load step and script run is a
 * task: a coroutine in a generation's state. A binding that waits calls dt_task_wait() and
 * yields; whoever completes the wait calls dt_task_resume() with no values, and the binding's
 * second half pushes its results from the running task (lapi_wait.h). The CPU budget and the memory cap stop a task from a count hook by
 * yielding it for good, so no pcall inside the script can swallow the stop. */
#ifndef DT_TASK_H
#define DT_TASK_H

#include <stdint.h>
#include <lua.h>

typedef struct dt_task dt_task;

typedef enum {
  DT_TASK_OK,        /* the function returned; its results are on the thread's stack */
  DT_TASK_ERROR,     /* it raised; message holds the error and traceback */
  DT_TASK_KILLED     /* stopped by the CPU budget or the memory cap; message says which */
} dt_task_outcome;

/* Called once when the task ends. co is the task's thread (results on its stack for OK).
 * It must not close the task's state: the task still releases its thread afterwards (use
 * dt_task_on_released for what must happen after that, such as letting go of a generation). */
typedef void (*dt_task_done)(dt_task *task, lua_State *co, dt_task_outcome outcome,
                             const char *message, void *ud);

/* Installs the scheduler's hook on a state. */
void dt_sched_attach(lua_State *L);

/* Creates a task on L's state for the function below the nargs arguments on top of L's
 * stack (all popped). cpu_budget_ms: CPU it may use between two waits (0 = unlimited), which
 * stops a stuck loop without limiting a long call. can_wait 0 makes waiting bindings raise
 * (e.g. while scripts load). Returns NULL if out of memory (the values are popped anyway).
 * dt_task_start runs it; `done` may run before dt_task_start returns. */
dt_task *dt_task_new(lua_State *L, int nargs, uint64_t cpu_budget_ms, int can_wait,
                     dt_task_done done, void *ud);
void dt_task_start(dt_task *task);
/* dt_task_new + dt_task_start. Returns 0, or -1 if out of memory (done is not called). */
int dt_task_spawn(lua_State *L, int nargs, uint64_t cpu_budget_ms, int can_wait,
                  dt_task_done done, void *ud);

/* The task whose coroutine is running now, or NULL. */
dt_task *dt_task_current(void);
/* For a waiting binding: returns the running task if L may yield to the scheduler, else raises
 * a clear error naming what (e.g. "dialtone.time.sleep") cannot wait here. */
dt_task *dt_task_wait(lua_State *L, const char *what);
/* Resumes a waiting task with nresults values already pushed onto its thread. */
void dt_task_resume(dt_task *task, int nresults);
lua_State *dt_task_thread(dt_task *task);

/* Called after the task is completely released (after done), e.g. to close its state. */
void dt_task_on_released(dt_task *task, void (*released)(void *ud));

/* Something tied to a task's lifetime (e.g. a WebSocket its handler opened): fn(arg) runs
 * when the task ends, however it ends, before its done callback. The hook's memory belongs
 * to the caller and must stay valid until it has run or been removed; a task may have any
 * number of hooks. */
typedef struct dt_task_hook {
  void (*fn)(void *arg);
  void *arg;
  dt_task *task; /* NULL when not registered */
  struct dt_task_hook *prev, *next;
} dt_task_hook;

void dt_task_hook_add(dt_task *task, dt_task_hook *hook, void (*fn)(void *arg), void *arg);
/* Unregisters a hook that has not run yet (no effect otherwise). */
void dt_task_hook_remove(dt_task_hook *hook);

/* What a waiting task must undo if it is abandoned (e.g. stop a timer). One per task. */
void dt_task_on_abandon(dt_task *task, void (*cancel)(void *arg), void *arg);
/* Abandons a waiting task: runs its cancel, ends it as KILLED with the reason. */
void dt_task_abandon(dt_task *task, const char *reason);

/* Context for log lines: a label set by the task's creator (e.g. the request id). */
void dt_task_set_label(dt_task *task, const char *key, const char *value);
const char *dt_task_label_key(const dt_task *task);
const char *dt_task_label_value(const dt_task *task);
#endif
