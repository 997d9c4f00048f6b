/* `dialtone repl`: the server of `dialtone serve` (or --connect to another one) and a Lua
 * prompt on the same loop. Each statement runs as a task in a script generation of the REPL's
 * own; Ctrl-C abandons the running statement, Ctrl-D (end of input) exits. */
#include "commands.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "first_start.h"
#include "gen.h"
#include "host.h"
#include "http_client.h"
#include "repl_eval.h"
#include "repl_input.h"
#include "settings.h"
#include "spawn.h"

#define PROMPT "> "
#define PROMPT_MORE ">> "

static struct {
  dt_gen *gen;
  dt_repl_eval eval;
  uv_signal_t sigint, sigterm;
  int connected, exiting;
  char url[1100];
} R;

static int take_value(int argc, char **argv, int *i, const char *name, const char **out, char *err, size_t errlen)
{
  size_t n = strlen(name);
  if (strncmp(argv[*i], name, n) != 0) return 0;
  if (argv[*i][n] == '=') {
    *out = argv[*i] + n + 1;
    return 1;
  }
  if (argv[*i][n] != '\0') return 0;
  if (*i + 1 >= argc) {
    snprintf(err, errlen, "%s needs a value", name);
    return -1;
  }
  *out = argv[++*i];
  return 1;
}

int dt_repl_take_flags(int argc, char **argv, int first, dt_repl_flags *flags, char *err, size_t errlen)
{
  int out = first;
  for (int i = first; i < argc; i++) {
    int c = take_value(argc, argv, &i, "--connect", &flags->connect, err, errlen);
    int k = c ? 0 : take_value(argc, argv, &i, "--api-key", &flags->api_key, err, errlen);
    if (c < 0 || k < 0) return -1;
    if (!c && !k) argv[out++] = argv[i];
  }
  argv[out] = NULL;
  return out;
}

static void close_handle(uv_handle_t *h)
{
  if (h->loop && !uv_is_closing(h)) uv_close(h, NULL);
}

/* Ctrl-D, the end of piped input, or the server stopping. */
static void leave(void)
{
  if (R.exiting) return;
  R.exiting = 1;
  if (dt_repl_input_is_tty()) fputs("\n", stdout);
  fflush(stdout);
  dt_repl_input_close();
  close_handle((uv_handle_t *)&R.sigint);
  close_handle((uv_handle_t *)&R.sigterm);
  dt_repl_eval_free(&R.eval);
  dt_spawn_abandon_all();
  if (R.gen) dt_gen_release(R.gen);
  R.gen = NULL;
  if (R.connected) dt_http_client_shutdown();
  else dt_serving_stop();
}

static void on_server_stopped(void *ud)
{
  (void)ud;
  leave();
}

static void statement_finished(void *ud)
{
  (void)ud;
  if (!R.exiting) dt_repl_input_read(PROMPT);
}

static void on_line(const char *line, void *ud)
{
  (void)ud;
  if (!line) {
    leave();
    return;
  }
  dt_repl_status s = dt_repl_eval_line(&R.eval, line);
  if (s == DT_REPL_MORE) dt_repl_input_read(PROMPT_MORE);
  else if (s == DT_REPL_REJECTED) dt_repl_input_read(PROMPT);
}

static void on_sigint(uv_signal_t *h, int signum)
{
  (void)h;
  (void)signum;
  if (dt_repl_eval_interrupt(&R.eval)) return; /* its end prompts again */
  dt_repl_eval_reset(&R.eval);
  dt_repl_input_discard();
  dt_repl_input_read(PROMPT);
}

static void on_sigterm(uv_signal_t *h, int signum)
{
  (void)h;
  (void)signum;
  leave();
}

/* reload() in-process: a new generation for the server; true, or nil and the error. */
static int l_reload(lua_State *L)
{
  if (dt_host_reload("repl") == 0) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushstring(L, dt_host_last_error());
  return 2;
}

static void push_settings(lua_State *L, const char *api_key)
{
  lua_createtable(L, 0, 4);
  lua_pushstring(L, R.url);
  lua_setfield(L, -2, "base_url");
  if (api_key && *api_key) {
    lua_pushstring(L, api_key);
    lua_setfield(L, -2, "api_key");
  }
  lua_pushboolean(L, R.connected);
  lua_setfield(L, -2, "connected");
  if (!R.connected) {
    lua_pushcfunction(L, l_reload);
    lua_setfield(L, -2, "reload");
  }
}

static void history_path(char *out, size_t size)
{
  const char *env = getenv("DIALTONE_HISTORY");
  const char *home = getenv("HOME");
  out[0] = '\0';
  if (env && *env) snprintf(out, size, "%s", env);
  else if (home && *home) snprintf(out, size, "%s/.dialtone_history", home);
}

/* The REPL's generation, its helpers and the prompt. Returns 0 or -1 (reported). */
static int start_prompt(const dt_config *cfg, const char *script_root, const dt_repl_flags *flags)
{
  char err[4096], history[1100];
  dt_gen_options opts = { script_root, cfg->lua_memory_limit, cfg->cpu_budget_ms };
  R.gen = dt_gen_build(&opts, 0, err, sizeof err);
  if (!R.gen) {
    fprintf(stderr, "dialtone repl: %s\n", err);
    return -1;
  }
  const char *key = flags->api_key ? flags->api_key : getenv("DIALTONE_API_KEY");
  if (key && !*key) key = NULL; /* an empty variable counts as unset */
  if (!key && !R.connected) key = dt_first_start_api_key(); /* a fresh data directory's default */
  push_settings(R.gen->vm->L, key);
  if (dt_repl_eval_init(&R.eval, R.gen, statement_finished, NULL, err, sizeof err) != 0) {
    fprintf(stderr, "dialtone repl: %s\n", err);
    return -1;
  }
  history_path(history, sizeof history);
  uv_loop_t *loop = uv_default_loop();
  if (dt_repl_input_start(loop, history[0] ? history : NULL, on_line, NULL) != 0) {
    fprintf(stderr, "dialtone repl: cannot read the standard input\n");
    return -1;
  }
  uv_signal_init(loop, &R.sigint);
  uv_signal_start(&R.sigint, on_sigint, SIGINT);
  if (R.connected) {
    uv_signal_init(loop, &R.sigterm);
    uv_signal_start(&R.sigterm, on_sigterm, SIGTERM);
  }
  if (dt_repl_input_is_tty())
    printf("dialtone repl on %s: Lua with the whole API, plus call, calls, events, providers, reload.\n"
           "Ctrl-C cancels a statement, Ctrl-D exits.\n", R.url);
  dt_repl_input_read(PROMPT);
  return 0;
}

static int connect_url(const char *url)
{
  if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
    fprintf(stderr, "dialtone repl: --connect takes an http:// or https:// URL, got '%s'\n", url);
    return -1;
  }
  size_t n = strlen(url);
  while (n > 0 && url[n - 1] == '/') n--;
  if (n >= sizeof R.url) {
    fprintf(stderr, "dialtone repl: --connect URL is too long\n");
    return -1;
  }
  memcpy(R.url, url, n);
  R.url[n] = '\0';
  return 0;
}

int dt_cmd_repl(const dt_config *cfg, const char *script_root, const dt_repl_flags *flags)
{
  memset(&R, 0, sizeof R);
  R.connected = flags->connect != NULL;
  if (R.connected) {
    if (connect_url(flags->connect) != 0) return 1;
    dt_settings_publish(cfg);
  } else {
    dt_serving_options opts = { 0, on_server_stopped, NULL };
    if (dt_serving_start(cfg, script_root, &opts) != 0) return 1;
    dt_serving_local_url(R.url, sizeof R.url);
  }
  int rc = start_prompt(cfg, script_root, flags);
  if (rc != 0) leave();
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  if (R.connected) uv_loop_close(uv_default_loop());
  else dt_serving_finish();
  return rc == 0 ? 0 : 1;
}
