/* Configuration: embedded defaults, then the configuration file, then DIALTONE_* environment
 * variables, then command-line flags, each layer overriding the one before.
 *
 * Every setting has one key (e.g. "max_body"); the same key names it everywhere:
 *   file:  max_body = 1048576        (one "key = value" per line, '#' starts a comment)
 *   env:   DIALTONE_MAX_BODY=1048576
 *   flag:  --max-body 1048576  or  --max-body=1048576 */
#ifndef DT_CONFIG_H
#define DT_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "http_server.h"
#include "log.h"

typedef struct dt_config {
  char listen_host[256];       /* "listen" = host:port, default 127.0.0.1:8080 (port 0: any free) */
  int listen_port;
  char data_dir[1024];         /* default ./data */
  char public_url[1024];       /* base URL carriers use to reach us; default http://<listen> */
  int public_url_derived;      /* public_url was not set: it is http://<listen> */
  char script_dir[1024];       /* root holding lua/, providers/, scripts/; "" = found automatically */
  char config_file[1024];      /* the file that was read, "" if none */
  dt_log_level log_level;      /* default info */
  dt_http_limits http;         /* max_header_bytes, max_headers, max_url, max_body,
                                  header_timeout_ms, idle_timeout_ms, max_connections */
  uint64_t cpu_budget_ms;      /* per handler, default 1000 */
  size_t lua_memory_limit;     /* bytes per script generation, default 256 MiB */
  uint64_t drain_timeout_ms;   /* graceful shutdown, default 10000 */
  uint64_t reload_debounce_ms; /* file watch debounce, default 200 */
  int watch;                   /* file watching on (1, default) or off (0) */
} dt_config;

void dt_config_defaults(dt_config *cfg);

/* Sets one key from its text form, validating it. Returns 0, or -1 with a message in err. */
int dt_config_set(dt_config *cfg, const char *key, const char *value, char *err, size_t errlen);

/* Builds the whole configuration for a command: defaults, then the file (--config FILE,
 * else $DIALTONE_CONFIG, else ./dialtone.conf when it exists), then the environment, then
 * the flags in argv. Arguments that are not flags are returned in order in positional
 * (an array of at least argc entries), their count in *npositional; "--" ends the flags.
 * Returns 0; -1 for a bad value or unreadable file (message in err, exit status 1);
 * -2 for an unknown flag or a flag missing its value (message in err, exit status 2). */
int dt_config_build(dt_config *cfg, int argc, char **argv, char **envp,
                    char **positional, int *npositional, char *err, size_t errlen);

/* "host:port", an IPv6 host in brackets. */
void dt_config_host_port(const char *host, int port, char *out, size_t n);

/* The public URL once the server is bound to bound_port: the one configured, or, when it was
 * derived from "listen", http://<listen> with the port actually bound (listen port 0: any). */
void dt_config_public_url(const dt_config *cfg, int bound_port, char *out, size_t n);

/* Writes the list of settings (flag, default, one-line description) for `dialtone help`. */
void dt_config_print_help(FILE *out);
#endif
