/* WebSocket handshake response parsing: see ws_response.h. */
#include "ws_response.h"

#include <string.h>
#include <strings.h>

static int is_tchar(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* "HTTP/1.x NNN[ reason]" ending at eol. Returns 0 or -1. */
static int parse_status(const char *p, const char *eol, int *status)
{
  if (eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || !is_digit(p[7]) || p[8] != ' ') return -1;
  if (!is_digit(p[9]) || !is_digit(p[10]) || !is_digit(p[11])) return -1;
  if (eol - p > 12 && p[12] != ' ') return -1;
  *status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
  return 0;
}

/* Where a header's value goes, or NULL for headers the handshake does not look at. */
static const char **field_for(dt_ws_upgrade_response *res, const char *name, size_t len)
{
  static const struct { const char *name; size_t off; } fields[] = {
    { "upgrade", offsetof(dt_ws_upgrade_response, upgrade) },
    { "connection", offsetof(dt_ws_upgrade_response, connection) },
    { "sec-websocket-accept", offsetof(dt_ws_upgrade_response, accept) },
    { "sec-websocket-protocol", offsetof(dt_ws_upgrade_response, protocol) },
    { "sec-websocket-extensions", offsetof(dt_ws_upgrade_response, extensions) },
  };
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
    if (strlen(fields[i].name) == len && strncasecmp(fields[i].name, name, len) == 0)
      return (const char **)((char *)res + fields[i].off);
  }
  return NULL;
}

/* One "name: value" line ending at eol (the CR). Returns 0 or -1. */
static int parse_header(char *p, char *eol, dt_ws_upgrade_response *res)
{
  char *name = p;
  while (p < eol && is_tchar(*p)) p++;
  if (p == name || p == eol || *p != ':') return -1;
  const char **field = field_for(res, name, (size_t)(p - name));
  p++;
  while (p < eol && (*p == ' ' || *p == '\t')) p++;
  char *end = eol;
  while (end > p && (end[-1] == ' ' || end[-1] == '\t')) end--;
  for (const char *c = p; c < end; c++) {
    if ((unsigned char)*c < 0x20 && *c != '\t') return -1;
  }
  if (!field) return 0;
  if (*field) return -1;
  *end = '\0';
  *field = p;
  return 0;
}

int dt_ws_response_parse(char *buf, size_t len, dt_ws_upgrade_response *res)
{
  memset(res, 0, sizeof *res);
  const char *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - buf) + 4;
  if (head > (size_t)0x7fffffff || memchr(buf, '\0', head)) return -1;
  char *p = buf, *last = buf + head - 2; /* the final CRLF */
  char *eol = memchr(p, '\r', (size_t)(last - p) + 1);
  if (!eol || eol[1] != '\n' || memchr(p, '\n', (size_t)(eol - p)) ||
      parse_status(p, eol, &res->status) != 0)
    return -1;
  for (p = eol + 2; p < last; p = eol + 2) {
    eol = memchr(p, '\r', (size_t)(last - p) + 1);
    if (!eol || eol[1] != '\n' || memchr(p, '\n', (size_t)(eol - p)) ||
        parse_header(p, eol, res) != 0)
      return -1;
  }
  return (int)head;
}
