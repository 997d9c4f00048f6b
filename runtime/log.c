#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static dt_log_level current_level = DT_LOG_INFO;
static const char *const level_names[] = { "debug", "info", "warn", "error" };

void dt_log_set_level(dt_log_level level) { current_level = level; }
dt_log_level dt_log_get_level(void) { return current_level; }

int dt_log_parse_level(const char *name, dt_log_level *out)
{
  for (int i = 0; i < 4; i++) {
    if (strcmp(name, level_names[i]) == 0) {
      *out = (dt_log_level)i;
      return 0;
    }
  }
  return -1;
}

static int needs_quotes(const char *s)
{
  if (!*s) return 1;
  for (; *s; s++) {
    if (*s <= ' ' || *s == '"' || *s == '=' || *s == '\\' || (unsigned char)*s == 0x7f) return 1;
  }
  return 0;
}

/* Writes a logfmt value, quoted and escaped when needed, so one entry stays one line. */
static void put_value(FILE *f, const char *s)
{
  if (!needs_quotes(s)) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
    else if (c == '\n') fputs("\\n", f);
    else if (c == '\t') fputs("\\t", f);
    else if (c < 0x20 || c == 0x7f) fprintf(f, "\\x%02x", c);
    else fputc(c, f);
  }
  fputc('"', f);
}

static void write_head(FILE *f, dt_log_level level, const char *msg)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char when[40];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(f, "time=%s.%03ldZ level=%s msg=", when, ts.tv_nsec / 1000000, level_names[level]);
  put_value(f, msg);
}

static void write_field(FILE *f, const char *key, const char *value)
{
  fprintf(f, " %s=", key);
  put_value(f, value ? value : "");
}

static void write_tail(FILE *f)
{
  fputc('\n', f);
  funlockfile(f);
  fflush(f);
}

void dt_log(dt_log_level level, const char *msg, ...)
{
  if (level < current_level) return;
  FILE *f = stderr;
  flockfile(f);
  write_head(f, level, msg);
  va_list ap;
  va_start(ap, msg);
  for (const char *key; (key = va_arg(ap, const char *));) write_field(f, key, va_arg(ap, const char *));
  va_end(ap);
  write_tail(f);
}

void dt_log_fields(dt_log_level level, const char *msg, const char *const *kv, size_t npairs)
{
  if (level < current_level) return;
  FILE *f = stderr;
  flockfile(f);
  write_head(f, level, msg);
  for (size_t i = 0; i < npairs; i++) write_field(f, kv[2 * i], kv[2 * i + 1]);
  write_tail(f);
}
