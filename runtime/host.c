#include "host.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"

static struct {
  dt_gen_options opts;
  char root[1024];
  dt_gen *current;
  unsigned next_id;
  unsigned reloads, failures;
  char last_error[4096];
  char last_reason[32];
  time_t last_reload_at;
} host;

int dt_host_start(const dt_gen_options *opts, char *err, size_t errlen)
{
  host.opts = *opts;
  snprintf(host.root, sizeof host.root, "%s", opts->root);
  host.opts.root = host.root;
  host.next_id = 1;
  host.current = dt_gen_build(&host.opts, host.next_id++, err, errlen);
  return host.current ? 0 : -1;
}

dt_gen *dt_host_current(void) { return host.current; }
const char *dt_host_last_error(void) { return host.last_error; }

int dt_host_reload(const char *reason)
{
  char err[4096];
  unsigned id = host.next_id++;
  char idtext[16];
  snprintf(idtext, sizeof idtext, "%u", id);
  snprintf(host.last_reason, sizeof host.last_reason, "%s", reason);
  host.last_reload_at = time(NULL);
  dt_gen *gen = dt_gen_build(&host.opts, id, err, sizeof err);
  if (!gen) {
    host.failures++;
    snprintf(host.last_error, sizeof host.last_error, "%s", err);
    dt_metrics_counter_add("dialtone_reload_failures_total", "Reloads rejected because a script failed to load", NULL, 0, 1);
    dt_log(DT_LOG_ERROR, "reload failed; the running scripts stay", "reason", reason, "error", err, NULL);
    return -1;
  }
  host.reloads++;
  host.last_error[0] = '\0';
  dt_metrics_counter_add("dialtone_reloads_total", "Successful script reloads", NULL, 0, 1);
  dt_gen *old = host.current;
  host.current = gen;
  dt_gen_release(old);
  dt_log(DT_LOG_INFO, "scripts reloaded", "reason", reason, "gen", idtext, NULL);
  return 0;
}

int dt_host_status_json(char *buf, size_t size)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "generation", host.current ? host.current->id : 0);
  cJSON_AddNumberToObject(o, "live_generations", dt_gen_live_count());
  cJSON_AddNumberToObject(o, "lua_memory_bytes", (double)dt_gen_live_bytes());
  cJSON *r = cJSON_AddObjectToObject(o, "reload");
  cJSON_AddNumberToObject(r, "succeeded", host.reloads);
  cJSON_AddNumberToObject(r, "failed", host.failures);
  cJSON_AddBoolToObject(r, "last_ok", host.last_error[0] == '\0');
  if (host.last_error[0]) cJSON_AddStringToObject(r, "last_error", host.last_error);
  if (host.last_reason[0]) {
    cJSON_AddStringToObject(r, "last_reason", host.last_reason);
    cJSON_AddNumberToObject(r, "last_at", (double)host.last_reload_at);
  }
  cJSON_AddStringToObject(o, "script_dir", host.root);
  int n = cJSON_PrintPreallocated(o, buf, (int)size, 0) ? (int)strlen(buf) : -1;
  cJSON_Delete(o);
  return n;
}

void dt_host_stop(void)
{
  if (host.current) dt_gen_release(host.current);
  host.current = NULL;
}
