#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static char tmpdir[64];
static char *no_env[] = { NULL };

static void write_file(const char *name, const char *text)
{
  FILE *f = fopen(name, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* Builds from a NULL-terminated argv; returns dt_config_build's result. */
static int build(dt_config *cfg, char **argv, char **envp, char **pos, int *npos, char *err)
{
  int argc = 0;
  while (argv[argc]) argc++;
  return dt_config_build(cfg, argc, argv, envp, pos, npos, err, 256);
}

static int build_args(dt_config *cfg, char **argv, char *err)
{
  char *pos[16];
  int npos;
  return build(cfg, argv, no_env, pos, &npos, err);
}

static void test_defaults(void)
{
  dt_config cfg;
  char err[256] = "", *argv[] = { NULL };
  CHECK_EQ_INT(build_args(&cfg, argv, err), 0);
  dt_http_limits lim;
  dt_http_limits_default(&lim);
  CHECK_EQ_STR(cfg.listen_host, "127.0.0.1");
  CHECK_EQ_INT(cfg.listen_port, 8080);
  CHECK_EQ_STR(cfg.data_dir, "./data");
  CHECK_EQ_STR(cfg.public_url, "http://127.0.0.1:8080");
  CHECK_EQ_STR(cfg.script_dir, "");
  CHECK_EQ_STR(cfg.config_file, "");
  CHECK_EQ_INT(cfg.log_level, DT_LOG_INFO);
  CHECK(memcmp(&cfg.http, &lim, sizeof lim) == 0);
  CHECK_EQ_INT(cfg.http.max_body, 1048576);
  CHECK_EQ_INT(cfg.cpu_budget_ms, 1000);
  CHECK_EQ_INT(cfg.lua_memory_limit, 256 << 20);
  CHECK_EQ_INT(cfg.drain_timeout_ms, 10000);
  CHECK_EQ_INT(cfg.reload_debounce_ms, 200);
  CHECK_EQ_INT(cfg.watch, 1);
}

static void test_layering(void)
{
  write_file("layers.conf", "# test\n"
                            "max_body = 1K\n"
                            "data_dir = /from-file   # trailing comment\n"
                            "idle_timeout_ms=5\n"
                            "\n"
                            "  log_level = debug  \r\n");
  char *env[] = { "PATH=/bin", "DIALTONE_CONFIG=layers.conf", "DIALTONE_MAX_BODY=2K",
                  "DIALTONE_DATA_DIR=/from-env", "DIALTONE_NOT_A_KEY=1", "DIALTONE_WATCH=",
                  NULL };
  char *argv[] = { "--max-body", "3K", NULL };
  char *pos[4], err[256] = "";
  int npos;
  dt_config cfg;
  CHECK_EQ_INT(build(&cfg, argv, env, pos, &npos, err), 0);
  CHECK_EQ_STR(err, "");
  CHECK_EQ_STR(cfg.config_file, "layers.conf");
  CHECK_EQ_INT(cfg.http.max_body, 3072);       /* flag beats env beats file */
  CHECK_EQ_STR(cfg.data_dir, "/from-env");     /* env beats file */
  CHECK_EQ_INT(cfg.http.idle_timeout_ms, 5);   /* file beats default */
  CHECK_EQ_INT(cfg.log_level, DT_LOG_DEBUG);
  CHECK_EQ_INT(cfg.watch, 1);                  /* empty variable = unset */
  CHECK_EQ_INT(npos, 0);

  /* --config beats DIALTONE_CONFIG */
  write_file("other.conf", "max_headers = 7\n");
  char *argv2[] = { "--config=other.conf", NULL };
  CHECK_EQ_INT(build(&cfg, argv2, env, pos, &npos, err), 0);
  CHECK_EQ_STR(cfg.config_file, "other.conf");
  CHECK_EQ_INT(cfg.http.max_headers, 7);
  CHECK_EQ_INT(cfg.http.idle_timeout_ms, 60000);
  CHECK_EQ_INT(cfg.http.max_body, 2048);
  unlink("layers.conf");
  unlink("other.conf");
}

static void test_default_file_only_when_present(void)
{
  dt_config cfg;
  char err[256] = "", *argv[] = { NULL };
  write_file("dialtone.conf", "max_url = 100\n");
  CHECK_EQ_INT(build_args(&cfg, argv, err), 0);
  CHECK_EQ_STR(cfg.config_file, "dialtone.conf");
  CHECK_EQ_INT(cfg.http.max_url, 100);
  unlink("dialtone.conf");
  CHECK_EQ_INT(build_args(&cfg, argv, err), 0);
  CHECK_EQ_STR(cfg.config_file, "");
  char *missing[] = { "--config", "nope.conf", NULL };
  CHECK_EQ_INT(build_args(&cfg, missing, err), -1);
  CHECK(strstr(err, "nope.conf") != NULL);
  char *env[] = { "DIALTONE_CONFIG=nope2.conf", NULL };
  char *pos[2];
  int npos;
  CHECK_EQ_INT(build(&cfg, argv, env, pos, &npos, err), -1);
  CHECK(strstr(err, "nope2.conf") != NULL);
  char *empty_flag[] = { "--config=", NULL };
  CHECK_EQ_INT(build_args(&cfg, empty_flag, err), -1);
  char *empty_env[] = { "DIALTONE_CONFIG=", NULL };
  CHECK_EQ_INT(build(&cfg, argv, empty_env, pos, &npos, err), 0);
}

static void expect_file_error(const char *text, const char *needle1, const char *needle2)
{
  dt_config cfg;
  char err[256] = "", *argv[] = { "--config", "bad.conf", NULL };
  write_file("bad.conf", text);
  CHECK_EQ_INT(build_args(&cfg, argv, err), -1);
  if (!strstr(err, needle1) || !strstr(err, needle2)) {
    fprintf(stderr, "  error was: %s\n", err);
    dt_test_fail(__FILE__, __LINE__, needle1);
  }
  unlink("bad.conf");
}

static void test_file_errors(void)
{
  expect_file_error("# ok\nwatch = on\nbogus_key = 1\n", "bad.conf:3:", "bogus_key");
  expect_file_error("max_body = 1K\nmax_body = lots\n", "bad.conf:2:", "max_body");
  expect_file_error("\n\nlisten 127.0.0.1:80\n", "bad.conf:3:", "key = value");
  expect_file_error("= 5\n", "bad.conf:1:", "unknown setting ''");
  expect_file_error("config = x.conf\n", "bad.conf:1:", "config");
  char longline[5000];
  memset(longline, 'a', sizeof longline - 1);
  longline[sizeof longline - 1] = '\0';
  expect_file_error(longline, "bad.conf:1:", "longer");
}

static void test_env_errors(void)
{
  dt_config cfg;
  char *env[] = { "DIALTONE_MAX_HEADERS=0", NULL }, *argv[] = { NULL }, *pos[1], err[256];
  int npos;
  CHECK_EQ_INT(build(&cfg, argv, env, pos, &npos, err), -1);
  CHECK(strstr(err, "DIALTONE_MAX_HEADERS") != NULL);
}

typedef struct {
  const char *key, *value;
  int ok;
} set_case;

static void test_values(void)
{
  static const set_case cases[] = {
    { "listen", "0.0.0.0:0", 1 }, { "listen", "localhost:65535", 1 },
    { "listen", "[::1]:8080", 1 }, { "listen", "[::]:1", 1 },
    { "listen", "127.0.0.1", 0 }, { "listen", "127.0.0.1:65536", 0 },
    { "listen", "127.0.0.1:-1", 0 }, { "listen", "127.0.0.1:", 0 }, { "listen", ":80", 0 },
    { "listen", "example.com:80", 0 }, { "listen", "::1:80", 0 }, { "listen", "[]:80", 0 },
    { "listen", "[1.2.3.4]:80", 0 }, { "listen", "1.2.3:80", 0 }, { "listen", "[::1]", 0 },
    { "data_dir", "/var/lib/dialtone", 1 }, { "data_dir", "", 0 },
    { "script_dir", "", 1 }, { "script_dir", "/opt/dt", 1 },
    { "public_url", "https://example.com/", 1 }, { "public_url", "HTTP://x", 1 },
    { "public_url", "ftp://x", 0 }, { "public_url", "example.com", 0 },
    { "public_url", "http://", 0 }, { "public_url", "https:///", 0 },
    { "public_url", "http://a b", 0 }, { "public_url", "", 0 },
    { "log_level", "warn", 1 }, { "log_level", "verbose", 0 }, { "log_level", "", 0 },
    { "max_headers", "1", 1 }, { "max_headers", "0", 0 }, { "max_headers", "-1", 0 },
    { "max_headers", "10001", 0 }, { "max_headers", "1K", 0 }, { "max_headers", " 5", 0 },
    { "max_headers", "5 ", 0 }, { "max_headers", "+5", 0 }, { "max_headers", "", 0 },
    { "max_connections", "99999999999999999999999", 0 },
    { "max_body", "10", 1 }, { "max_body", "64k", 1 }, { "max_body", "2MiB", 1 },
    { "max_body", "1G", 1 }, { "max_body", "5G", 0 }, { "max_body", "1.5M", 0 },
    { "max_body", "M", 0 }, { "max_body", "1MB", 0 }, { "max_body", "0", 0 },
    { "max_body", "18446744073709551615K", 0 },
    { "lua_memory_limit", "8M", 1 }, { "lua_memory_limit", "8388607", 0 },
    { "lua_memory_limit", "1GiB", 1 },
    { "header_timeout_ms", "1", 1 }, { "header_timeout_ms", "0", 0 },
    { "idle_timeout_ms", "1s", 0 }, { "drain_timeout_ms", "86400000", 1 },
    { "drain_timeout_ms", "86400001", 0 }, { "cpu_budget_ms", "2.5", 0 },
    { "watch", "off", 1 }, { "watch", "YES", 1 }, { "watch", "0", 1 }, { "watch", "maybe", 0 },
    { "watch", "", 0 }, { "nonexistent", "1", 0 }, { "config", "x", 0 },
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    dt_config cfg;
    char err[256] = "";
    dt_config_defaults(&cfg);
    int rc = dt_config_set(&cfg, cases[i].key, cases[i].value, err, sizeof err);
    if (rc != (cases[i].ok ? 0 : -1) || (!cases[i].ok && !err[0])) {
      fprintf(stderr, "  %s = '%s': rc %d, err '%s'\n", cases[i].key, cases[i].value, rc, err);
      dt_test_fail(__FILE__, __LINE__, "dt_config_set case");
    }
  }
}

static void test_values_stored(void)
{
  dt_config cfg;
  char err[256];
  dt_config_defaults(&cfg);
  CHECK_EQ_INT(dt_config_set(&cfg, "listen", "[::1]:0", err, sizeof err), 0);
  CHECK_EQ_STR(cfg.listen_host, "::1");
  CHECK_EQ_INT(cfg.listen_port, 0);
  CHECK_EQ_INT(dt_config_set(&cfg, "max_body", "2MiB", err, sizeof err), 0);
  CHECK_EQ_INT(cfg.http.max_body, 2 << 20);
  CHECK_EQ_INT(dt_config_set(&cfg, "max_body", "3k", err, sizeof err), 0);
  CHECK_EQ_INT(cfg.http.max_body, 3072);
  CHECK_EQ_INT(dt_config_set(&cfg, "lua_memory_limit", "1G", err, sizeof err), 0);
  CHECK_EQ_INT(cfg.lua_memory_limit, 1 << 30);
  CHECK_EQ_INT(dt_config_set(&cfg, "header_timeout_ms", "250", err, sizeof err), 0);
  CHECK_EQ_INT(cfg.http.header_timeout_ms, 250);
  CHECK_EQ_INT(dt_config_set(&cfg, "public_url", "https://x.example/base///", err, sizeof err), 0);
  CHECK_EQ_STR(cfg.public_url, "https://x.example/base");
  CHECK_EQ_INT(dt_config_set(&cfg, "watch", "no", err, sizeof err), 0);
  CHECK_EQ_INT(cfg.watch, 0);
  CHECK_EQ_INT(dt_config_set(&cfg, "watch", "On", err, sizeof err), 0);
  CHECK_EQ_INT(cfg.watch, 1);
  CHECK_EQ_INT(dt_config_set(&cfg, "log_level", "error", err, sizeof err), 0);
  CHECK_EQ_INT(cfg.log_level, DT_LOG_ERROR);
  /* a rejected value leaves the old one */
  CHECK_EQ_INT(dt_config_set(&cfg, "max_body", "0", err, sizeof err), -1);
  CHECK_EQ_INT(cfg.http.max_body, 3072);
  CHECK_EQ_INT(dt_config_set(&cfg, "listen", "nowhere:1", err, sizeof err), -1);
  CHECK_EQ_STR(cfg.listen_host, "::1");
  char big[2000];
  memset(big, 'd', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  CHECK_EQ_INT(dt_config_set(&cfg, "data_dir", big, err, sizeof err), -1);
  CHECK_EQ_INT(dt_config_set(&cfg, "data_dir", big + sizeof big - 1024, err, sizeof err), 0);
  CHECK_EQ_INT(strlen(cfg.data_dir), 1023);
  /* a tiny error buffer is never overrun */
  char small[8];
  CHECK_EQ_INT(dt_config_set(&cfg, "max_body", "zzzzzzzzzzzzzzzzzzzz", small, sizeof small), -1);
  CHECK_EQ_INT(strlen(small), 7);
}

static void test_flag_errors(void)
{
  dt_config cfg;
  char err[256];
  char *unknown[] = { "serve", "--bogus", "1", NULL };
  CHECK_EQ_INT(build_args(&cfg, unknown, err), -2);
  CHECK(strstr(err, "--bogus") != NULL);
  char *help[] = { "--help", NULL };
  CHECK_EQ_INT(build_args(&cfg, help, err), -2);
  char *h[] = { "-h", NULL };
  CHECK_EQ_INT(build_args(&cfg, h, err), -2);
  char *missing[] = { "--max-body", NULL };
  CHECK_EQ_INT(build_args(&cfg, missing, err), -2);
  CHECK(strstr(err, "--max-body") != NULL);
  char *missing_cfg[] = { "--config", NULL };
  CHECK_EQ_INT(build_args(&cfg, missing_cfg, err), -2);
  char *bad[] = { "--max-body=lots", NULL };
  CHECK_EQ_INT(build_args(&cfg, bad, err), -1);
  CHECK(strstr(err, "--max-body") != NULL);
  /* an unknown flag is reported (-2) before a missing config file (-1) */
  char *both[] = { "--config", "nope.conf", "--nope", "x", NULL };
  CHECK_EQ_INT(build_args(&cfg, both, err), -2);
}

static void test_positional(void)
{
  dt_config cfg;
  char err[256], *pos[16];
  int npos = -1;
  char *argv[] = { "run", "--watch=off", "x.lua", "-", "--max-headers", "9", "--",
                   "--max-body", "y", NULL };
  CHECK_EQ_INT(build(&cfg, argv, no_env, pos, &npos, err), 0);
  CHECK_EQ_INT(npos, 5);
  if (npos == 5) {
    CHECK_EQ_STR(pos[0], "run");
    CHECK_EQ_STR(pos[1], "x.lua");
    CHECK_EQ_STR(pos[2], "-");
    CHECK_EQ_STR(pos[3], "--max-body");
    CHECK_EQ_STR(pos[4], "y");
  }
  CHECK_EQ_INT(cfg.watch, 0);
  CHECK_EQ_INT(cfg.http.max_headers, 9);
  CHECK_EQ_INT(cfg.http.max_body, 1048576);
}

static void test_public_url_default(void)
{
  dt_config cfg;
  char err[256];
  char *v4[] = { "--listen", "0.0.0.0:9000", NULL };
  CHECK_EQ_INT(build_args(&cfg, v4, err), 0);
  CHECK_EQ_STR(cfg.public_url, "http://0.0.0.0:9000");
  char *v6[] = { "--listen=[::1]:9001", NULL };
  CHECK_EQ_INT(build_args(&cfg, v6, err), 0);
  CHECK_EQ_STR(cfg.listen_host, "::1");
  CHECK_EQ_STR(cfg.public_url, "http://[::1]:9001");
  char *set[] = { "--listen=localhost:1", "--public-url", "https://example.com/hooks/", NULL };
  CHECK_EQ_INT(build_args(&cfg, set, err), 0);
  CHECK_EQ_STR(cfg.public_url, "https://example.com/hooks");
}

/* With listen port 0 the derived public URL names the port the server actually bound. */
static void test_public_url_bound(void)
{
  dt_config cfg;
  char err[256], url[1100];
  char *v6[] = { "--listen=[::1]:0", NULL };
  CHECK_EQ_INT(build_args(&cfg, v6, err), 0);
  dt_config_public_url(&cfg, 41234, url, sizeof url);
  CHECK_EQ_STR(url, "http://[::1]:41234");
  char *v4[] = { "--listen", "127.0.0.1:0", NULL };
  CHECK_EQ_INT(build_args(&cfg, v4, err), 0);
  dt_config_public_url(&cfg, 41235, url, sizeof url);
  CHECK_EQ_STR(url, "http://127.0.0.1:41235");
  char *set[] = { "--listen=127.0.0.1:0", "--public-url", "https://example.com/hooks", NULL };
  CHECK_EQ_INT(build_args(&cfg, set, err), 0);
  dt_config_public_url(&cfg, 41236, url, sizeof url);
  CHECK_EQ_STR(url, "https://example.com/hooks");
}

static void test_help(void)
{
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  CHECK(f != NULL);
  if (!f) return;
  dt_config_print_help(f);
  fclose(f);
  CHECK(strstr(text, "--max-body") != NULL);
  CHECK(strstr(text, "default: 1MiB") != NULL);
  CHECK(strstr(text, "default: 127.0.0.1:8080") != NULL);
  CHECK(strstr(text, "--lua-memory-limit") != NULL);
  CHECK(strstr(text, "default: 256MiB") != NULL);
  CHECK(strstr(text, "--config") != NULL);
  free(text);
}

/* Every case runs in a scratch directory, so ./dialtone.conf is under the test's control. */
static void enter_tmpdir(void)
{
  strcpy(tmpdir, "/tmp/dt-config-XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL);
  CHECK_EQ_INT(chdir(tmpdir), 0);
}

static void leave_tmpdir(void)
{
  CHECK_EQ_INT(chdir("/"), 0);
  CHECK_EQ_INT(rmdir(tmpdir), 0);
}

TEST_MAIN(TEST(enter_tmpdir), TEST(test_defaults), TEST(test_layering),
          TEST(test_default_file_only_when_present), TEST(test_file_errors), TEST(test_env_errors),
          TEST(test_values), TEST(test_values_stored), TEST(test_flag_errors), TEST(test_positional),
          TEST(test_public_url_default), TEST(test_public_url_bound), TEST(test_help), TEST(leave_tmpdir))
