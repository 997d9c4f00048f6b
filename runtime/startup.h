/* Lua work the server does once per process, when it starts serving (not at every reload):
 * each hook is require(module)[function]() run on the current generation as a task that may
 * not wait; it may start background tasks (dialtone.task.spawn). */
#ifndef DT_STARTUP_H
#define DT_STARTUP_H

/* Runs every hook; a hook that fails is logged and the others still run. */
void dt_startup_run(void);
#endif
