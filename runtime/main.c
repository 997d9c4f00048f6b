/* The dialtone command line: serve, repl, run, check, org, key, workflow, version, help. */
#include <lua.h>
#include <luajit.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "log.h"
#include "paths.h"

extern char **environ;

static void usage(FILE *out)
{
  fputs("usage: dialtone COMMAND [FLAGS]\n\n"
        "commands:\n"
        "  serve               run the HTTP server on the scripts (default 127.0.0.1:8080)\n"
        "  repl                `serve` plus a Lua prompt with the whole API (Ctrl-C cancels, Ctrl-D exits);\n"
        "                      --connect URL --api-key KEY attach to a running server instead\n"
        "                      (the key also from DIALTONE_API_KEY; call(), calls(), events() need it)\n"
        "  run FILE.lua [ARGS] run a Lua script with the dialtone API; its return value is the exit status\n"
        "  check               load every script as a reload would; exit 1 with file:line on error\n"
        "  org create NAME     create an organisation; prints its id and its API key (shown only this once)\n"
        "  org list            list the organisations: id, name, created (ISO 8601)\n"
        "  key rotate ORG      a new API key for the organisation (id or name); earlier keys stop working\n"
        "  workflow add ORG NAME FLOW\n"
        "                      add a workflow running scripts/workflows/FLOW.lua; prints its id\n"
        "  version             print the version\n"
        "  help                print this help\n\n"
        "flags (also DIALTONE_<NAME> environment variables and `name = value` lines in dialtone.conf):\n"
        "  --config FILE       configuration file (default ./dialtone.conf when present)\n",
        out);
  dt_config_print_help(out);
  fputs("\nSecrets at rest are encrypted under the master key: DIALTONE_MASTER_KEY (64 hex digits or\n"
        "base64 of 32 bytes), else <data_dir>/master.key (created on first start, mode 0600).\n",
        out);
}

static int print_version(void)
{
  printf("dialtone %s (%s, %s)\n", DT_VERSION, LUAJIT_VERSION, LUA_RELEASE);
  return 0;
}

/* For `run`, flags come before FILE; everything after FILE belongs to the script. Every
 * flag takes a value, so "--x v" spans two arguments unless written "--x=v". */
static int run_split(int argc, char **argv)
{
  int i = 2;
  while (i < argc && strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i], "--") != 0)
    i += strchr(argv[i], '=') ? 1 : 2;
  if (i < argc && strcmp(argv[i], "--") == 0) i++;
  return i < argc ? i : argc;
}

static int run_command(const char *cmd, dt_config *cfg, char **pos, int npos, int argc, char **argv, int file_at,
                       const dt_repl_flags *repl)
{
  char root[1024], err[1200];
  if (strcmp(cmd, "org") == 0 || strcmp(cmd, "key") == 0) return dt_cmd_org(cfg, NULL, cmd, pos, npos);
  if (dt_paths_script_root(cfg->script_dir, root, sizeof root, err, sizeof err) != 0) {
    fprintf(stderr, "dialtone: %s\n", err);
    return 1;
  }
  if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "check") == 0 || strcmp(cmd, "repl") == 0) {
    if (npos > 0) {
      fprintf(stderr, "dialtone %s: unexpected argument '%s'\n", cmd, pos[0]);
      usage(stderr);
      return 2;
    }
    if (strcmp(cmd, "repl") == 0) return dt_cmd_repl(cfg, root, repl);
    return strcmp(cmd, "serve") == 0 ? dt_cmd_serve(cfg, root) : dt_cmd_check(cfg, root);
  }
  if (strcmp(cmd, "workflow") == 0) return dt_cmd_org(cfg, root, cmd, pos, npos);
  return dt_cmd_run(cfg, root, argv[file_at], argc - file_at - 1, argv + file_at + 1);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    usage(stdout);
    return 0;
  }
  if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) return print_version();
  if (strcmp(cmd, "serve") && strcmp(cmd, "repl") && strcmp(cmd, "run") && strcmp(cmd, "check") &&
      strcmp(cmd, "org") && strcmp(cmd, "key") && strcmp(cmd, "workflow")) {
    fprintf(stderr, "dialtone: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
  }
  char err[1200];
  dt_repl_flags repl = { NULL, NULL };
  if (!strcmp(cmd, "repl") && (argc = dt_repl_take_flags(argc, argv, 2, &repl, err, sizeof err)) < 0) {
    fprintf(stderr, "dialtone repl: %s\n", err);
    usage(stderr);
    return 2;
  }
  int flag_end = !strcmp(cmd, "run") ? run_split(argc, argv) : argc;
  if (!strcmp(cmd, "run") && flag_end >= argc) {
    fprintf(stderr, "dialtone run: missing FILE.lua\n");
    usage(stderr);
    return 2;
  }
  dt_config cfg;
  char *pos[argc > 0 ? argc : 1];
  int npos = 0;
  int rc = dt_config_build(&cfg, flag_end - 2, argv + 2, environ, pos, &npos, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "dialtone: %s\n", err);
    if (rc == -2) usage(stderr);
    return rc == -2 ? 2 : 1;
  }
  dt_log_set_level(cfg.log_level);
  return run_command(cmd, &cfg, pos, npos, argc, argv, flag_end, &repl);
}
