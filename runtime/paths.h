/* Where the scripts are: script_dir when set; the source tree for a binary run from its build
 * tree; otherwise the installed data directory. */
#ifndef DT_PATHS_H
#define DT_PATHS_H

#include <stddef.h>

/* Writes the script root to out. Returns 0, or -1 with a message in err. */
int dt_paths_script_root(const char *configured, char *out, size_t size, char *err, size_t errlen);
/* Creates a directory and its parents (like mkdir -p). Returns 0 or -1 (errno set). */
int dt_paths_mkdirs(const char *path);
#endif
