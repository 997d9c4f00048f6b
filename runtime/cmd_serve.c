/* `dialtone serve`: the HTTP server on the script host, with reload triggers and a graceful
 * drain on SIGTERM/SIGINT. `dialtone repl` runs the same server through dt_serving_*. */
#include "commands.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <uv.h>

#include "admin.h"
#include "first_start.h"
#include "host.h"
#include "http_client.h"
#include "log.h"
#include "media_record.h"
#include "metrics.h"
#include "paths.h"
#include "serve.h"
#include "settings.h"
#include "spawn.h"
#include "startup.h"
#include "store.h"
#include "store_unlock.h"
#include "watch.h"

static struct {
  const dt_config *cfg;
  char public_url[1024];
  dt_http_server *srv;
  dt_store *store;
  dt_watch *watch;
  uv_signal_t sighup, sigterm, sigint;
  uv_timer_t drain_timer;
  int draining, stopped;
  dt_serving_options opts;
} S;

static void close_handle(uv_handle_t *h)
{
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Stops everything so the loop runs out of handles and uv_run returns. */
static void shutdown_all(void)
{
  if (S.stopped) return;
  S.stopped = 1;
  if (S.opts.stopped) S.opts.stopped(S.opts.ud);
  if (S.watch) dt_watch_stop(S.watch);
  close_handle((uv_handle_t *)&S.sighup);
  close_handle((uv_handle_t *)&S.sigterm);
  if (S.opts.own_sigint) close_handle((uv_handle_t *)&S.sigint);
  close_handle((uv_handle_t *)&S.drain_timer);
  dt_serve_abandon_all();
  dt_spawn_abandon_all();
  dt_http_client_shutdown();
  dt_http_server_close(S.srv);
  dt_host_stop();
}

static void on_drained(void *ud)
{
  (void)ud;
  dt_log(DT_LOG_INFO, "drained; exiting", NULL);
  shutdown_all();
}

static void on_drain_timeout(uv_timer_t *t)
{
  (void)t;
  char n[24];
  snprintf(n, sizeof n, "%zu", dt_http_server_inflight(S.srv));
  dt_log(DT_LOG_WARN, "drain timeout; stopping the requests still running", "inflight", n, NULL);
  shutdown_all();
}

static void start_drain(const char *why)
{
  if (S.draining) {
    dt_log(DT_LOG_WARN, "second stop signal; exiting now", NULL);
    shutdown_all();
    return;
  }
  S.draining = 1;
  dt_log(DT_LOG_INFO, "stop signal; draining", "signal", why, NULL);
  uv_timer_start(&S.drain_timer, on_drain_timeout, S.cfg->drain_timeout_ms, 0);
  dt_http_server_drain(S.srv, on_drained, NULL);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
  (void)h;
  start_drain(signum == SIGTERM ? "TERM" : "INT");
}

void dt_serving_stop(void)
{
  if (!S.stopped) start_drain("repl");
}

static void on_sighup(uv_signal_t *h, int signum)
{
  (void)h;
  (void)signum;
  dt_host_reload("SIGHUP");
}

static void on_files_changed(void *ud)
{
  (void)ud;
  dt_host_reload("file change");
}

static void start_watch(uv_loop_t *loop, const char *root)
{
  char lua[1100], providers[1100], scripts[1100];
  snprintf(lua, sizeof lua, "%s/lua", root);
  snprintf(providers, sizeof providers, "%s/providers", root);
  snprintf(scripts, sizeof scripts, "%s/scripts", root);
  const char *const roots[] = { lua, providers, scripts };
  S.watch = dt_watch_start(loop, roots, 3, S.cfg->reload_debounce_ms, on_files_changed, NULL);
}

static void start_signals(uv_loop_t *loop)
{
  uv_signal_init(loop, &S.sighup);
  uv_signal_start(&S.sighup, on_sighup, SIGHUP);
  uv_signal_init(loop, &S.sigterm);
  uv_signal_start(&S.sigterm, on_stop_signal, SIGTERM);
  if (S.opts.own_sigint) {
    uv_signal_init(loop, &S.sigint);
    uv_signal_start(&S.sigint, on_stop_signal, SIGINT);
  }
  uv_timer_init(loop, &S.drain_timer);
}

static int prepare_data_dir(const char *dir)
{
  if (dt_paths_mkdirs(dir) == 0) return 0;
  dt_log(DT_LOG_ERROR, "cannot create the data directory", "path", dir, "error", strerror(errno), NULL);
  return -1;
}

/* A public_url derived from "listen" on port 0 names the port actually bound. */
static void log_listening(const char *root)
{
  char addr[300], gen[16];
  dt_config_public_url(S.cfg, dt_http_server_port(S.srv), S.public_url, sizeof S.public_url);
  dt_settings_set_public_url(S.public_url);
  dt_config_host_port(S.cfg->listen_host, dt_http_server_port(S.srv), addr, sizeof addr);
  snprintf(gen, sizeof gen, "%u", dt_host_current()->id);
  dt_log(DT_LOG_INFO, "listening", "addr", addr, "public_url", S.public_url, "script_dir", root,
         "data_dir", S.cfg->data_dir, "gen", gen, NULL);
}

/* Every call holds a connection: allow as many open files as the system lets us. */
static void raise_open_files(void)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

int dt_serving_start(const dt_config *cfg, const char *script_root, const dt_serving_options *opts)
{
  memset(&S, 0, sizeof S);
  S.cfg = cfg;
  S.opts = *opts;
  uv_loop_t *loop = uv_default_loop();
  char err[4096];
  raise_open_files();
  if (prepare_data_dir(cfg->data_dir) != 0) return -1;
  dt_media_set_data_dir(cfg->data_dir);
  dt_settings_publish(cfg);
  if (dt_store_open_data_dir(cfg->data_dir, &S.store, err, sizeof err) != 0) {
    dt_log(DT_LOG_ERROR, "cannot open the database", "error", err, NULL);
    return -1;
  }
  if (dt_store_unlock(S.store, cfg->data_dir, err, sizeof err) != 0) {
    dt_log(DT_LOG_ERROR, "cannot load the master key; not starting", "error", err, NULL);
    dt_store_close(S.store);
    return -1;
  }
  dt_gen_options gopts = { script_root, cfg->lua_memory_limit, cfg->cpu_budget_ms };
  if (dt_host_start(&gopts, err, sizeof err) != 0) {
    dt_log(DT_LOG_ERROR, "scripts failed to load", "error", err, NULL);
    dt_store_close(S.store);
    return -1;
  }
  S.srv = dt_http_server_start(loop, cfg->listen_host, cfg->listen_port, &cfg->http, dt_serve_request, NULL);
  if (!S.srv) {
    dt_host_stop();
    dt_store_close(S.store);
    return -1;
  }
  dt_admin_set_server(S.srv);
  start_signals(loop);
  if (cfg->watch) start_watch(loop, script_root);
  log_listening(script_root);
  if (dt_first_start(S.store, S.public_url, stderr, err, sizeof err) < 0)
    dt_log(DT_LOG_ERROR, "first start", "error", err, NULL);
  dt_startup_run();
  return 0;
}

int dt_serving_local_url(char *buf, size_t size)
{
  const char *host = S.cfg->listen_host;
  if (!strcmp(host, "0.0.0.0")) host = "127.0.0.1";
  else if (!strcmp(host, "::")) host = "::1";
  char host_port[300];
  dt_config_host_port(host, dt_http_server_port(S.srv), host_port, sizeof host_port);
  int n = snprintf(buf, size, "http://%s", host_port);
  return n > 0 && (size_t)n < size ? 0 : -1;
}

void dt_serving_finish(void)
{
  uv_loop_close(uv_default_loop());
  dt_store_close(S.store);
  dt_metrics_reset();
}

int dt_cmd_serve(const dt_config *cfg, const char *script_root)
{
  dt_serving_options opts = { 1, NULL, NULL };
  if (dt_serving_start(cfg, script_root, &opts) != 0) return 1;
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  dt_serving_finish();
  return 0;
}
