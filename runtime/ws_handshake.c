/* WebSocket opening handshake: see ws_handshake.h. */
#include "ws_handshake.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base64.h"

static const char GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int is_ows(char c) { return c == ' ' || c == '\t'; }

/* A header value without surrounding spaces and tabs ("" when absent): returns the start,
 * sets *len. */
static const char *trim(const char *s, size_t *len)
{
  if (!s) s = "";
  while (is_ows(*s)) s++;
  size_t n = strlen(s);
  while (n && is_ows(s[n - 1])) n--;
  *len = n;
  return s;
}

/* The next element of a comma-separated list (empty elements skipped): sets *tok and *len and
 * returns where to continue, or NULL at the end. */
static const char *next_element(const char *s, const char **tok, size_t *len)
{
  while (is_ows(*s) || *s == ',') s++;
  if (!*s) return NULL;
  const char *end = s;
  while (*end && *end != ',') end++;
  size_t n = (size_t)(end - s);
  while (n && is_ows(s[n - 1])) n--;
  *tok = s;
  *len = n;
  return end;
}

static int list_has(const char *list, const char *want, size_t wlen, int nocase)
{
  const char *tok;
  size_t len;
  for (const char *s = list; s && (s = next_element(s, &tok, &len));) {
    if (len == wlen && (nocase ? strncasecmp(tok, want, len) : strncmp(tok, want, len)) == 0)
      return 1;
  }
  return 0;
}

const char *dt_ws_select_protocol(const char *offered, const char *const *supported, size_t n)
{
  const char *tok;
  size_t len;
  for (const char *s = offered; s && (s = next_element(s, &tok, &len));) {
    for (size_t i = 0; i < n; i++)
      if (strlen(supported[i]) == len && strncmp(tok, supported[i], len) == 0) return supported[i];
  }
  return NULL;
}

int dt_ws_accept_value(const char *key, size_t key_len, char out[DT_WS_ACCEPT_LEN + 1])
{
  uint8_t md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  size_t n = 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) &&
           EVP_DigestUpdate(ctx, key, key_len) &&
           EVP_DigestUpdate(ctx, GUID, sizeof GUID - 1) &&
           EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 20;
  EVP_MD_CTX_free(ctx);
  if (!ok || dt_base64_encode(md, 20, out, DT_WS_ACCEPT_LEN, DT_BASE64_STD, &n) != 0)
    return DT_WS_HS_EINTERNAL;
  out[n] = '\0';
  return 0;
}

static int key_valid(const char *key, size_t len)
{
  uint8_t raw[18];
  size_t n = 0;
  return len == DT_WS_KEY_LEN &&
         dt_base64_decode(key, len, raw, sizeof raw, DT_BASE64_STD, &n) == 0 && n == 16;
}

static int reject(dt_ws_upgrade_result *res, int rc, int status, const char *error)
{
  res->status = status;
  res->error = error;
  return rc;
}

/* Everything but the key and version: whether this is a WebSocket upgrade at all. */
static int check_request_line(const dt_ws_upgrade_request *req, dt_ws_upgrade_result *res)
{
  if (!req->method || strcmp(req->method, "GET") != 0)
    return reject(res, DT_WS_HS_EMETHOD, 400, "WebSocket upgrade needs GET");
  if ((req->http_major || req->http_minor) && req->http_major * 10 + req->http_minor < 11)
    return reject(res, DT_WS_HS_EHTTP, 400, "WebSocket upgrade needs HTTP/1.1");
  if (!req->host || !*req->host) return reject(res, DT_WS_HS_EHOST, 400, "missing Host");
  if (!list_has(req->upgrade, "websocket", 9, 1))
    return reject(res, DT_WS_HS_EUPGRADE, 400, "Upgrade: websocket expected");
  if (!list_has(req->connection, "upgrade", 7, 1))
    return reject(res, DT_WS_HS_ECONNECTION, 400, "Connection: Upgrade expected");
  return 0;
}

int dt_ws_server_handshake(const dt_ws_upgrade_request *req, const char *const *supported,
                           size_t n, dt_ws_upgrade_result *res)
{
  memset(res, 0, sizeof *res);
  int rc = check_request_line(req, res);
  if (rc) return rc;
  size_t len = 0;
  const char *v = trim(req->version, &len);
  if (len != 2 || memcmp(v, "13", 2) != 0)
    return reject(res, DT_WS_HS_EVERSION, 426, "unsupported Sec-WebSocket-Version (13 expected)");
  const char *key = trim(req->key, &len);
  if (!key_valid(key, len))
    return reject(res, DT_WS_HS_EKEY, 400, "missing or invalid Sec-WebSocket-Key");
  if (dt_ws_accept_value(key, len, res->accept) != 0)
    return reject(res, DT_WS_HS_EINTERNAL, 500, "internal error");
  res->protocol = dt_ws_select_protocol(req->protocol, supported, n);
  res->status = 101;
  return 0;
}

int dt_ws_server_response(const dt_ws_upgrade_result *res, char *out, size_t cap)
{
  int n = snprintf(out, cap,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
                   res->accept, res->protocol ? "Sec-WebSocket-Protocol: " : "",
                   res->protocol ? res->protocol : "", res->protocol ? "\r\n" : "");
  return n < 0 || (size_t)n >= cap ? -1 : n;
}

int dt_ws_client_key(char out[DT_WS_KEY_LEN + 1])
{
  uint8_t raw[16];
  size_t n = 0;
  if (RAND_bytes(raw, sizeof raw) != 1 ||
      dt_base64_encode(raw, sizeof raw, out, DT_WS_KEY_LEN, DT_BASE64_STD, &n) != 0)
    return DT_WS_HS_EINTERNAL;
  out[n] = '\0';
  return 0;
}

static int verify_fail(const char **error, int rc, const char *msg)
{
  *error = msg;
  return rc;
}

int dt_ws_client_verify(const dt_ws_upgrade_response *res, const char *key, const char *offered,
                        const char **error)
{
  char want[DT_WS_ACCEPT_LEN + 1];
  size_t len = 0;
  *error = NULL;
  if (res->status != 101)
    return verify_fail(error, DT_WS_HS_ESTATUS, "server did not switch protocols (101 expected)");
  if (!list_has(res->upgrade, "websocket", 9, 1))
    return verify_fail(error, DT_WS_HS_EUPGRADE, "Upgrade: websocket missing in the response");
  if (!list_has(res->connection, "upgrade", 7, 1))
    return verify_fail(error, DT_WS_HS_ECONNECTION, "Connection: Upgrade missing in the response");
  if (dt_ws_accept_value(key, strlen(key), want) != 0)
    return verify_fail(error, DT_WS_HS_EINTERNAL, "internal error");
  const char *acc = trim(res->accept, &len);
  if (len != DT_WS_ACCEPT_LEN || memcmp(acc, want, len) != 0)
    return verify_fail(error, DT_WS_HS_EACCEPT, "wrong Sec-WebSocket-Accept");
  const char *proto = trim(res->protocol, &len);
  if (len && (memchr(proto, ',', len) || !offered || !list_has(offered, proto, len, 0)))
    return verify_fail(error, DT_WS_HS_EPROTOCOL, "server chose a subprotocol not offered");
  trim(res->extensions, &len);
  if (len)
    return verify_fail(error, DT_WS_HS_EEXTENSION, "server chose an extension none was offered");
  return 0;
}
