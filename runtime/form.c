#include "form.h"

#include <stdlib.h>
#include <string.h>

static int hex_value(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes in[0..len) into out; returns the decoded length (never more than len). */
static size_t decode(const char *in, size_t len, char *out, int plus_is_space)
{
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '%' && len - i > 2) {
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out[o++] = (char)(hi << 4 | lo);
        i += 2;
        continue;
      }
    }
    out[o++] = (plus_is_space && c == '+') ? ' ' : c;
  }
  return o;
}

int dt_percent_decode(const char *in, size_t len, char *out, size_t *out_len)
{
  *out_len = decode(in, len, out, 0);
  return 0;
}

/* Decodes one "name[=value]" pair into buf (room for len bytes) and reports it. */
static int emit_pair(const char *pair, size_t len, char *buf, dt_form_cb cb, void *ud)
{
  const char *eq = memchr(pair, '=', len);
  size_t raw_name_len = eq ? (size_t)(eq - pair) : len;
  size_t name_len = decode(pair, raw_name_len, buf, 1);
  size_t value_len = 0;
  if (eq) value_len = decode(eq + 1, len - raw_name_len - 1, buf + name_len, 1);
  return cb(ud, buf, name_len, buf + name_len, value_len);
}

int dt_form_parse(const char *s, size_t len, size_t max_pairs, dt_form_cb cb, void *ud)
{
  if (len == 0) return 0;
  char *buf = malloc(len);
  if (!buf) return -2;
  size_t pairs = 0;
  int rc = 0;
  for (size_t start = 0; start < len && rc == 0;) {
    const char *amp = memchr(s + start, '&', len - start);
    size_t end = amp ? (size_t)(amp - s) : len;
    if (end > start) {
      if (++pairs > max_pairs) rc = -1;
      else rc = emit_pair(s + start, end - start, buf, cb, ud);
    }
    start = end + 1;
  }
  free(buf);
  return rc;
}
