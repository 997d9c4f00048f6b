/* Background tasks started by scripts with dialtone.task.spawn (runtime/lapi_spawn.c). */
#ifndef DT_SPAWN_H
#define DT_SPAWN_H

/* Ends every background task that has not finished (at shutdown). */
void dt_spawn_abandon_all(void);
#endif
