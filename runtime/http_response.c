#include "http_response.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

/* ---- limits, reasons, dates ---- */

void dt_http_limits_default(dt_http_limits *l)
{
  l->max_header_bytes = 16 * 1024;
  l->max_headers = 100;
  l->max_url = 8 * 1024;
  l->max_body = 1024 * 1024;
  l->header_timeout_ms = 10000;
  l->idle_timeout_ms = 60000;
  l->max_connections = 1024;
}

const char *dt_http_reason(int status)
{
  static const struct { int status; const char *reason; } table[] = {
    { 100, "Continue" }, { 101, "Switching Protocols" }, { 200, "OK" }, { 201, "Created" },
    { 202, "Accepted" }, { 204, "No Content" }, { 206, "Partial Content" },
    { 301, "Moved Permanently" }, { 302, "Found" }, { 303, "See Other" },
    { 304, "Not Modified" }, { 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
    { 400, "Bad Request" }, { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
    { 405, "Method Not Allowed" }, { 406, "Not Acceptable" }, { 408, "Request Timeout" },
    { 409, "Conflict" }, { 410, "Gone" }, { 411, "Length Required" },
    { 412, "Precondition Failed" }, { 413, "Content Too Large" }, { 414, "URI Too Long" },
    { 415, "Unsupported Media Type" }, { 417, "Expectation Failed" },
    { 422, "Unprocessable Content" }, { 426, "Upgrade Required" }, { 429, "Too Many Requests" },
    { 431, "Request Header Fields Too Large" }, { 500, "Internal Server Error" },
    { 501, "Not Implemented" }, { 502, "Bad Gateway" }, { 503, "Service Unavailable" },
    { 504, "Gateway Timeout" },
  };
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (table[i].status == status) return table[i].reason;
  }
  return "Unknown";
}

/* IMF-fixdate, built by hand: strftime's names follow the locale. */
static void imf_date(char *out, size_t size)
{
  static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
  static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
  time_t now = time(NULL);
  struct tm tm;
  gmtime_r(&now, &tm);
  snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
           months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ---- response formatting ---- */

static int header_allowed(const dt_http_header *h)
{
  static const char *const reserved[] = { "content-length", "transfer-encoding", "connection",
                                           "date", "server" };
  if (!h->name || !h->value || !*h->name) return 0;
  for (const char *c = h->name; *c; c++) {
    if (*c <= ' ' || *c == ':' || (unsigned char)*c >= 0x7f) return 0;
  }
  if (strpbrk(h->value, "\r\n")) return 0;
  for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
    if (strcasecmp(h->name, reserved[i]) == 0) return 0;
  }
  return 1;
}

/* Bytes the caller's headers take; those not allowed are logged and left out. */
static size_t headers_len(const dt_http_header *headers, size_t count)
{
  size_t total = 0;
  for (size_t i = 0; i < count; i++) {
    if (!header_allowed(&headers[i])) {
      dt_log(DT_LOG_WARN, "http response header dropped", "name",
             headers[i].name ? headers[i].name : "(null)", NULL);
      continue;
    }
    size_t h = strlen(headers[i].name) + strlen(headers[i].value) + 4;
    if (h > SIZE_MAX - total) return SIZE_MAX;
    total += h;
  }
  return total;
}

static int status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

/* Formats the whole response into one write request. Returns NULL when out of memory. */
dt_http_out *dt_http_format_response(int is_head, int status, const dt_http_header *headers,
                                     size_t count, const char *body, size_t body_len, int close)
{
  char head[256], date[64];
  imf_date(date, sizeof date);
  int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nServer: dialtone\r\nDate: %s\r\n",
                   status, dt_http_reason(status), date);
  if (n < 0 || (size_t)n >= sizeof head) return NULL;
  size_t len = (size_t)n;
  char framing[96];
  int m = status == 101 ? snprintf(framing, sizeof framing, "Connection: Upgrade\r\n")
          : status == 204 || status < 200
            ? snprintf(framing, sizeof framing, "Connection: %s\r\n", close ? "close" : "keep-alive")
            : snprintf(framing, sizeof framing, "Content-Length: %zu\r\nConnection: %s\r\n",
                       body_len, close ? "close" : "keep-alive");
  if (m < 0 || (size_t)m >= sizeof framing) return NULL;
  size_t send_len = is_head || !status_has_body(status) ? 0 : body_len;
  size_t total = headers_len(headers, count);
  if (total > SIZE_MAX / 2) return NULL;
  total += len + (size_t)m + 2;
  if (send_len > SIZE_MAX - sizeof(dt_http_out) - total) return NULL;
  dt_http_out *w = malloc(sizeof *w + total + send_len);
  if (!w) return NULL;
  char *p = w->data;
  memcpy(p, head, len);
  p += len;
  memcpy(p, framing, (size_t)m);
  p += m;
  for (size_t i = 0; i < count; i++) {
    if (!header_allowed(&headers[i])) continue;
    p += sprintf(p, "%s: %s\r\n", headers[i].name, headers[i].value);
  }
  memcpy(p, "\r\n", 2);
  p += 2;
  if (send_len) memcpy(p, body, send_len);
  w->len = total + send_len;
  w->conn = NULL;
  w->close_after = close;
  return w;
}

