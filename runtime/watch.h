/* Recursive directory watching for hot reload, on libuv fs events (inotify on Linux).
 *
 * Every directory of each root tree is watched; directories created later are added and
 * removed ones dropped. Hidden subdirectories (".git", ...) are not watched, and events for
 * editor droppings (names starting with '.', ending in '~', ".swp" or ".swx") are ignored.
 * A root that is removed stops being watched, even if it comes back.
 * on_change runs once per burst of changes, debounce_ms after the last event of the burst.
 * Use from the loop thread only. */
#ifndef DT_WATCH_H
#define DT_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

/* Upper bound on watched directories per watch; more are skipped with a warning. */
#define DT_WATCH_MAX_DIRS 4096

typedef struct dt_watch dt_watch;

/* Roots that do not exist (or are not directories) are skipped and logged at debug level;
 * directories that cannot be watched are skipped with a warning. Returns NULL on error
 * (logged); its handles are then released once the loop runs. */
dt_watch *dt_watch_start(uv_loop_t *loop, const char *const *roots, size_t nroots,
                         uint64_t debounce_ms, void (*on_change)(void *ud), void *ud);

/* Closes all handles; no callback runs afterwards. Memory is released once the loop has run
 * the close callbacks. Safe to call from on_change. */
void dt_watch_stop(dt_watch *w);

#endif
