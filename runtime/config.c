#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <strings.h>

#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define DAY_MS 86400000u

typedef enum {
  T_STRING, T_PATH, T_HOSTPORT, T_URL, T_UINT, T_SIZE, T_DURATION, T_BOOL, T_LOG_LEVEL
} setting_type;

typedef struct {
  const char *key;
  setting_type type;
  size_t offset, width;  /* where the value goes in dt_config, and its size */
  uint64_t min, max;     /* numeric types */
  const char *shown;     /* default shown in help when it is not simply the value */
  const char *help;
} setting;

#define FIELD(f) offsetof(dt_config, f), sizeof(((dt_config *)0)->f)

static const setting settings[] = {
  { "listen", T_HOSTPORT, FIELD(listen_host), 0, 0, NULL,
    "address to serve on: IPv4:port, localhost:port or [IPv6]:port (port 0: any free)" },
  { "data_dir", T_PATH, FIELD(data_dir), 0, 0, NULL, "directory for the database and recordings" },
  { "public_url", T_URL, FIELD(public_url), 0, 0, "http://<listen>",
    "base URL carriers use to reach this server" },
  { "script_dir", T_STRING, FIELD(script_dir), 0, 0, "found automatically",
    "root holding lua/, providers/ and scripts/" },
  { "log_level", T_LOG_LEVEL, FIELD(log_level), 0, 0, NULL, "debug, info, warn or error" },
  { "max_header_bytes", T_SIZE, FIELD(http.max_header_bytes), 1, 16 * MIB, NULL,
    "request line and headers, in bytes" },
  { "max_headers", T_UINT, FIELD(http.max_headers), 1, 10000, NULL, "headers per request" },
  { "max_url", T_SIZE, FIELD(http.max_url), 1, 16 * MIB, NULL, "request target length" },
  { "max_body", T_SIZE, FIELD(http.max_body), 1, 4 * GIB, NULL, "request body size" },
  { "max_connections", T_UINT, FIELD(http.max_connections), 1, 1000000, NULL,
    "open client connections" },
  { "header_timeout_ms", T_DURATION, FIELD(http.header_timeout_ms), 1, DAY_MS, NULL,
    "time a client has to send a request's headers" },
  { "idle_timeout_ms", T_DURATION, FIELD(http.idle_timeout_ms), 1, DAY_MS, NULL,
    "idle keep-alive connections are closed after this" },
  { "cpu_budget_ms", T_DURATION, FIELD(cpu_budget_ms), 1, DAY_MS, NULL,
    "CPU time a Lua handler or call flow may use without waiting" },
  { "lua_memory_limit", T_SIZE, FIELD(lua_memory_limit), 8 * MIB, 1024 * GIB, NULL,
    "memory per script generation (at least 8MiB)" },
  { "drain_timeout_ms", T_DURATION, FIELD(drain_timeout_ms), 1, DAY_MS, NULL,
    "graceful shutdown waits this long for requests in flight" },
  { "reload_debounce_ms", T_DURATION, FIELD(reload_debounce_ms), 1, DAY_MS, NULL,
    "quiet time after a script change before reloading" },
  { "watch", T_BOOL, FIELD(watch), 0, 0, NULL, "reload scripts when they change (on/off)" },
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

void dt_config_defaults(dt_config *cfg)
{
  memset(cfg, 0, sizeof *cfg);
  strcpy(cfg->listen_host, "127.0.0.1");
  cfg->listen_port = 8080;
  strcpy(cfg->data_dir, "./data");
  cfg->log_level = DT_LOG_INFO;
  dt_http_limits_default(&cfg->http);
  cfg->cpu_budget_ms = 1000;
  cfg->lua_memory_limit = 256 * MIB;
  cfg->drain_timeout_ms = 10000;
  cfg->reload_debounce_ms = 200;
  cfg->watch = 1;
}

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
  return -1;
}

static const setting *find_setting(const char *key)
{
  for (size_t i = 0; i < NSETTINGS; i++) {
    if (strcmp(settings[i].key, key) == 0) return &settings[i];
  }
  return NULL;
}

/* Parses decimal digits only (no sign, no spaces). Returns 0, or -1 on junk or overflow. */
static int parse_u64(const char *s, size_t len, uint64_t *out)
{
  uint64_t v = 0;
  if (len == 0) return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    unsigned d = (unsigned)(s[i] - '0');
    if (v > (UINT64_MAX - d) / 10) return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

/* Bytes, or a number with a K/KiB/M/MiB/G/GiB suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
  static const struct { const char *suffix; int shift; } units[] = {
    { "", 0 }, { "k", 10 }, { "kib", 10 }, { "m", 20 }, { "mib", 20 }, { "g", 30 }, { "gib", 30 },
  };
  size_t digits = strspn(s, "0123456789");
  uint64_t v;
  if (parse_u64(s, digits, &v) < 0) return -1;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcasecmp(s + digits, units[i].suffix) != 0) continue;
    if (v > UINT64_MAX >> units[i].shift) return -1;
    *out = v << units[i].shift;
    return 0;
  }
  return -1;
}

static int parse_bool(const char *s, int *out)
{
  static const char *const names[] = { "false", "true", "0", "1", "no", "yes", "off", "on" };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcasecmp(s, names[i]) == 0) {
      *out = (int)(i % 2);
      return 0;
    }
  }
  return -1;
}

static void store_uint(void *field, size_t width, uint64_t v)
{
  if (width == sizeof(uint64_t)) {
    memcpy(field, &v, sizeof v);
  } else {
    size_t z = (size_t)v;
    memcpy(field, &z, sizeof z);
  }
}

static uint64_t load_uint(const void *field, size_t width)
{
  if (width == sizeof(uint64_t)) {
    uint64_t v;
    memcpy(&v, field, sizeof v);
    return v;
  }
  size_t z;
  memcpy(&z, field, sizeof z);
  return z;
}

static void format_size(uint64_t v, char *out, size_t n)
{
  if (v && v % GIB == 0) snprintf(out, n, "%lluGiB", (unsigned long long)(v / GIB));
  else if (v && v % MIB == 0) snprintf(out, n, "%lluMiB", (unsigned long long)(v / MIB));
  else if (v && v % 1024 == 0) snprintf(out, n, "%lluKiB", (unsigned long long)(v / 1024));
  else snprintf(out, n, "%llu", (unsigned long long)v);
}

static void format_number(const setting *s, uint64_t v, char *out, size_t n)
{
  if (s->type == T_SIZE) format_size(v, out, n);
  else snprintf(out, n, "%llu", (unsigned long long)v);
}

static int set_number(const setting *s, void *field, const char *value, char *err, size_t errlen)
{
  uint64_t v;
  int rc = s->type == T_SIZE ? parse_size(value, &v) : parse_u64(value, strlen(value), &v);
  if (rc < 0) {
    const char *what = s->type == T_SIZE ? "a size in bytes (suffixes K, KiB, M, MiB, G, GiB)"
                     : s->type == T_DURATION ? "a whole number of milliseconds"
                                             : "a whole number";
    return fail(err, errlen, "'%s' is not %s", value, what);
  }
  if (v < s->min || v > s->max || (s->width < sizeof(uint64_t) && v > SIZE_MAX)) {
    char lo[32], hi[32];
    format_number(s, s->min, lo, sizeof lo);
    format_number(s, s->max, hi, sizeof hi);
    return fail(err, errlen, "%s is out of range (%s to %s)", value, lo, hi);
  }
  store_uint(field, s->width, v);
  return 0;
}

static int set_text(const setting *s, char *field, const char *value, char *err, size_t errlen)
{
  size_t len = strlen(value);
  if (len >= s->width) return fail(err, errlen, "too long (at most %zu bytes)", s->width - 1);
  if (s->type == T_PATH && len == 0) return fail(err, errlen, "must not be empty");
  memcpy(field, value, len + 1);
  return 0;
}

/* host:port where host is an IPv4 literal, "localhost" or a bracketed IPv6 literal. */
static int set_listen(dt_config *cfg, const char *value, char *err, size_t errlen)
{
  const char *colon = strrchr(value, ':');
  uint64_t port;
  if (!colon || parse_u64(colon + 1, strlen(colon + 1), &port) < 0 || port > 65535) {
    return fail(err, errlen, "'%s' is not host:port with a port from 0 to 65535", value);
  }
  char host[sizeof cfg->listen_host];
  size_t hlen = (size_t)(colon - value);
  int v6 = hlen >= 2 && value[0] == '[' && value[hlen - 1] == ']';
  const char *start = value + v6;
  if (v6) hlen -= 2;
  if (hlen == 0 || hlen >= sizeof host) return fail(err, errlen, "bad host in '%s'", value);
  memcpy(host, start, hlen);
  host[hlen] = '\0';
  unsigned char addr[16];
  int ok = v6 ? inet_pton(AF_INET6, host, addr) == 1
              : strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, addr) == 1;
  if (!ok) {
    return fail(err, errlen, "host '%s' must be an IPv4 address, localhost or [IPv6]", host);
  }
  memcpy(cfg->listen_host, host, hlen + 1);
  cfg->listen_port = (int)port;
  return 0;
}

static int set_url(char *field, size_t width, const char *value, char *err, size_t errlen)
{
  size_t len = strlen(value), scheme;
  if (strncasecmp(value, "http://", 7) == 0) scheme = 7;
  else if (strncasecmp(value, "https://", 8) == 0) scheme = 8;
  else return fail(err, errlen, "'%s' must start with http:// or https://", value);
  while (len > scheme && value[len - 1] == '/') len--;
  if (len == scheme) return fail(err, errlen, "'%s' has no host", value);
  if (len >= width) return fail(err, errlen, "too long (at most %zu bytes)", width - 1);
  for (size_t i = 0; i < len; i++) {
    if ((unsigned char)value[i] <= ' ' || value[i] == 0x7f) {
      return fail(err, errlen, "must not contain spaces or control characters");
    }
  }
  memcpy(field, value, len);
  field[len] = '\0';
  return 0;
}

/* Validates and stores one value; the message in err does not name the setting. */
static int set_value(dt_config *cfg, const setting *s, const char *value, char *err, size_t errlen)
{
  void *field = (char *)cfg + s->offset;
  switch (s->type) {
  case T_STRING:
  case T_PATH: return set_text(s, field, value, err, errlen);
  case T_HOSTPORT: return set_listen(cfg, value, err, errlen);
  case T_URL: return set_url(field, s->width, value, err, errlen);
  case T_UINT:
  case T_SIZE:
  case T_DURATION: return set_number(s, field, value, err, errlen);
  case T_BOOL:
    if (parse_bool(value, field) == 0) return 0;
    return fail(err, errlen, "'%s' is not one of true/false, yes/no, on/off, 1/0", value);
  case T_LOG_LEVEL:
    if (dt_log_parse_level(value, field) == 0) return 0;
    return fail(err, errlen, "'%s' is not debug, info, warn or error", value);
  }
  return fail(err, errlen, "unsupported type");
}

int dt_config_set(dt_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
  const setting *s = find_setting(key);
  char msg[512];
  if (!s) return fail(err, errlen, "unknown setting '%s'", key);
  if (set_value(cfg, s, value, msg, sizeof msg) < 0) return fail(err, errlen, "%s: %s", key, msg);
  return 0;
}

/* ---- layers ---- */

static const char *env_get(char **envp, const char *name)
{
  size_t n = strlen(name);
  for (; envp && *envp; envp++) {
    if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
  }
  return NULL;
}

/* Empty variables count as unset, so `DIALTONE_X= dialtone ...` falls back to the default. */
static int apply_env(dt_config *cfg, char **envp, char *err, size_t errlen)
{
  for (size_t i = 0; i < NSETTINGS; i++) {
    char name[64] = "DIALTONE_";
    size_t p = strlen(name);
    for (const char *k = settings[i].key; *k && p < sizeof name - 1; k++) {
      name[p++] = (char)(*k >= 'a' && *k <= 'z' ? *k - 'a' + 'A' : *k);
    }
    name[p] = '\0';
    const char *value = env_get(envp, name);
    if (!value || !*value) continue;
    char msg[512];
    if (set_value(cfg, &settings[i], value, msg, sizeof msg) < 0) {
      return fail(err, errlen, "%s: %s", name, msg);
    }
  }
  return 0;
}

static char *trim(char *s)
{
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
  s[n] = '\0';
  return s;
}

/* '#' starts a comment at the start of a line or after a blank (so URLs may hold '#'). */
static void strip_comment(char *line)
{
  for (char *c = line; *c; c++) {
    if (*c == '#' && (c == line || c[-1] == ' ' || c[-1] == '\t')) {
      *c = '\0';
      return;
    }
  }
}

static int apply_line(dt_config *cfg, char *line, const char *path, int lineno, char *err,
                      size_t errlen)
{
  strip_comment(line);
  char *text = trim(line);
  if (!*text) return 0;
  char *eq = strchr(text, '=');
  if (!eq) return fail(err, errlen, "%s:%d: expected key = value", path, lineno);
  *eq = '\0';
  char *key = trim(text), *value = trim(eq + 1);
  const setting *s = find_setting(key);
  if (!s) return fail(err, errlen, "%s:%d: unknown setting '%s'", path, lineno, key);
  char msg[512];
  if (set_value(cfg, s, value, msg, sizeof msg) < 0) {
    return fail(err, errlen, "%s:%d: %s: %s", path, lineno, key, msg);
  }
  return 0;
}

static int read_file(dt_config *cfg, FILE *f, const char *path, char *err, size_t errlen)
{
  char line[4096];
  for (int lineno = 1; fgets(line, sizeof line, f); lineno++) {
    if (!strchr(line, '\n') && !feof(f)) {
      return fail(err, errlen, "%s:%d: line longer than %zu bytes", path, lineno, sizeof line - 2);
    }
    if (apply_line(cfg, line, path, lineno, err, errlen) < 0) return -1;
  }
  if (ferror(f)) return fail(err, errlen, "%s: read error", path);
  return 0;
}

/* A file named explicitly must exist; the default one is read only when present. */
static int load_file(dt_config *cfg, const char *path, int required, char *err, size_t errlen)
{
  FILE *f = fopen(path, "r");
  if (!f) {
    if (!required && errno == ENOENT) return 0;
    return fail(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
  }
  int rc = 0;
  if (strlen(path) >= sizeof cfg->config_file) rc = fail(err, errlen, "config file name too long: %s", path);
  else strcpy(cfg->config_file, path);
  if (rc == 0) rc = read_file(cfg, f, path, err, errlen);
  fclose(f);
  return rc;
}

/* ---- command line ---- */

typedef struct {
  int is_flag;
  char key[64];       /* flag name with '-' turned into '_' */
  const char *name;   /* the flag as written, for messages */
  int name_len;
  const char *value;  /* the flag's value, or the positional argument */
} arg;

/* Reads argv[*i] (and the flag's value after it), advancing *i. Returns 0, or -2 for an
 * unknown flag or a missing value. */
static int read_arg(int argc, char **argv, int *i, int *ended, arg *a, char *err, size_t errlen)
{
  const char *s = argv[(*i)++];
  memset(a, 0, sizeof *a);
  a->value = s;
  if (*ended || s[0] != '-' || s[1] == '\0') return 0;
  if (strcmp(s, "--") == 0) {
    *ended = 1;
    a->value = NULL;
    return 0;
  }
  const char *eq = strchr(s, '=');
  a->is_flag = 1;
  a->name = s;
  a->name_len = eq ? (int)(eq - s) : (int)strlen(s);
  size_t klen = (size_t)a->name_len - 2;
  if (s[1] != '-' || klen == 0 || klen >= sizeof a->key) {
    fail(err, errlen, "unknown option '%.*s'", a->name_len, s);
    return -2;
  }
  for (size_t k = 0; k < klen; k++) a->key[k] = s[2 + k] == '-' ? '_' : s[2 + k];
  if (strcmp(a->key, "config") != 0 && !find_setting(a->key)) {
    fail(err, errlen, "unknown option '%.*s'", a->name_len, s);
    return -2;
  }
  if (eq) {
    a->value = eq + 1;
  } else if (*i < argc) {
    a->value = argv[(*i)++];
  } else {
    fail(err, errlen, "option '%s' needs a value", s);
    return -2;
  }
  return 0;
}

/* Checks every flag, collects the positional arguments and finds --config. */
static int scan_args(int argc, char **argv, char **positional, int *npositional,
                     const char **config, char *err, size_t errlen)
{
  int ended = 0;
  arg a;
  for (int i = 0; i < argc;) {
    if (read_arg(argc, argv, &i, &ended, &a, err, errlen) < 0) return -2;
    if (!a.is_flag && a.value) positional[(*npositional)++] = (char *)a.value;
    else if (a.is_flag && strcmp(a.key, "config") == 0) *config = a.value;
  }
  return 0;
}

static int apply_flags(dt_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
  int ended = 0;
  arg a;
  for (int i = 0; i < argc;) {
    if (read_arg(argc, argv, &i, &ended, &a, err, errlen) < 0) return -2;
    if (!a.is_flag || strcmp(a.key, "config") == 0) continue;
    char msg[512];
    if (set_value(cfg, find_setting(a.key), a.value, msg, sizeof msg) < 0) {
      return fail(err, errlen, "%.*s: %s", a.name_len, a.name, msg);
    }
  }
  return 0;
}

void dt_config_host_port(const char *host, int port, char *out, size_t n)
{
  int v6 = strchr(host, ':') != NULL;
  snprintf(out, n, "%s%s%s:%d", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

void dt_config_public_url(const dt_config *cfg, int bound_port, char *out, size_t n)
{
  if (!cfg->public_url_derived) {
    snprintf(out, n, "%s", cfg->public_url);
    return;
  }
  char listen[sizeof cfg->listen_host + 16];
  dt_config_host_port(cfg->listen_host, bound_port, listen, sizeof listen);
  snprintf(out, n, "http://%s", listen);
}

int dt_config_build(dt_config *cfg, int argc, char **argv, char **envp,
                    char **positional, int *npositional, char *err, size_t errlen)
{
  const char *config = NULL;
  dt_config_defaults(cfg);
  *npositional = 0;
  int rc = scan_args(argc, argv, positional, npositional, &config, err, errlen);
  if (rc < 0) return rc;
  if (!config) {
    config = env_get(envp, "DIALTONE_CONFIG");
    if (config && !*config) config = NULL; /* an empty variable counts as unset */
  }
  if (config) rc = load_file(cfg, config, 1, err, errlen);
  else rc = load_file(cfg, "dialtone.conf", 0, err, errlen);
  if (rc == 0) rc = apply_env(cfg, envp, err, errlen);
  if (rc == 0) rc = apply_flags(cfg, argc, argv, err, errlen);
  if (rc < 0) return rc;
  cfg->public_url_derived = !cfg->public_url[0];
  if (cfg->public_url_derived) dt_config_public_url(cfg, cfg->listen_port, cfg->public_url, sizeof cfg->public_url);
  return 0;
}

/* ---- help ---- */

static void format_default(const dt_config *d, const setting *s, char *out, size_t n)
{
  static const char *const levels[] = { "debug", "info", "warn", "error" };
  const void *field = (const char *)d + s->offset;
  if (s->shown) {
    snprintf(out, n, "%s", s->shown);
    return;
  }
  switch (s->type) {
  case T_STRING:
  case T_PATH:
  case T_URL: snprintf(out, n, "%s", (const char *)field); return;
  case T_HOSTPORT: dt_config_host_port(d->listen_host, d->listen_port, out, n); return;
  case T_UINT:
  case T_SIZE:
  case T_DURATION: format_number(s, load_uint(field, s->width), out, n); return;
  case T_BOOL: snprintf(out, n, "%s", *(const int *)field ? "on" : "off"); return;
  case T_LOG_LEVEL: {
    unsigned level = *(const dt_log_level *)field;
    snprintf(out, n, "%s", level < 4 ? levels[level] : "?");
    return;
  }
  }
}

void dt_config_print_help(FILE *out)
{
  static const char *const metavars[] = { "DIR", "DIR", "HOST:PORT", "URL", "N", "SIZE", "MS",
                                          "BOOL", "LEVEL" };
  dt_config d;
  dt_config_defaults(&d);
  fprintf(out, "Settings: --flag VALUE, DIALTONE_<KEY> in the environment, or key = value in\n"
               "the config file (flags win over the environment, which wins over the file).\n");
  fprintf(out, "  %-24s %-10s %s\n", "--config", "FILE",
          "config file (default: ./dialtone.conf when present; env DIALTONE_CONFIG)");
  for (size_t i = 0; i < NSETTINGS; i++) {
    const setting *s = &settings[i];
    char flag[64] = "--", def[sizeof d.listen_host + 16];
    for (size_t k = 0; s->key[k] && k + 3 < sizeof flag; k++) {
      flag[2 + k] = s->key[k] == '_' ? '-' : s->key[k];
    }
    format_default(&d, s, def, sizeof def);
    fprintf(out, "  %-24s %-10s %s (default: %s)\n", flag, metavars[s->type], s->help, def);
  }
}
