/* The commands of the dialtone binary; each returns the process exit status. */
#ifndef DT_COMMANDS_H
#define DT_COMMANDS_H

#include <stddef.h>

#include "config.h"

int dt_cmd_serve(const dt_config *cfg, const char *script_root);
int dt_cmd_run(const dt_config *cfg, const char *script_root, const char *file, int argc, char **argv);
int dt_cmd_check(const dt_config *cfg, const char *script_root);
/* `org create|list`, `key rotate`, `workflow add` (cmd is "org", "key" or "workflow"; pos the
 * words after it). script_root is needed by `workflow add` only. */
int dt_cmd_org(const dt_config *cfg, const char *script_root, const char *cmd, char **pos, int npos);

/* `dialtone repl`: flags of its own, taken out of argv before the configuration is built. */
typedef struct {
  const char *connect;  /* --connect URL: attach to a running server instead of starting one */
  const char *api_key;  /* --api-key KEY, else $DIALTONE_API_KEY */
} dt_repl_flags;

/* Removes --connect and --api-key (either "--x v" or "--x=v") from argv[first..argc), compacting
 * it. Returns the new argc, or -1 with a message in err when a flag lacks its value. */
int dt_repl_take_flags(int argc, char **argv, int first, dt_repl_flags *flags, char *err, size_t errlen);
int dt_cmd_repl(const dt_config *cfg, const char *script_root, const dt_repl_flags *flags);

/* The server of `dialtone serve`, shared with `dialtone repl` (which owns SIGINT itself). */
typedef struct {
  int own_sigint;                /* SIGINT drains like SIGTERM */
  void (*stopped)(void *ud);     /* once everything is stopping, so the caller closes its handles */
  void *ud;
} dt_serving_options;

/* Starts the server on the default loop (store, scripts, listener, signals, file watch); the
 * caller then runs the loop and calls dt_serving_finish. Returns 0, or -1 (logged). */
int dt_serving_start(const dt_config *cfg, const char *script_root, const dt_serving_options *opts);
/* A graceful stop, as on SIGTERM. */
void dt_serving_stop(void);
/* The address this process reaches its own listener at ("http://127.0.0.1:PORT"). */
int dt_serving_local_url(char *buf, size_t size);
void dt_serving_finish(void);
#endif
