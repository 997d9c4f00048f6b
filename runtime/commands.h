/* The commands of the dialtone binary; each returns the process exit status. */
#ifndef DT_COMMANDS_H
#define DT_COMMANDS_H

#include "config.h"

int dt_cmd_serve(const dt_config *cfg, const char *script_root);
int dt_cmd_run(const dt_config *cfg, const char *script_root, const char *file, int argc, char **argv);
int dt_cmd_check(const dt_config *cfg, const char *script_root);
/* `org create|list`, `key rotate`, `workflow add` (cmd is "org", "key" or "workflow"; pos the
 * words after it). script_root is needed by `workflow add` only. */
int dt_cmd_org(const dt_config *cfg, const char *script_root, const char *cmd, char **pos, int npos);
#endif
