/* WebSocket opening handshake (RFC 6455 §4), server and client side, with no I/O: checks on
 * the header values the HTTP layer parsed, Sec-WebSocket-Accept, the subprotocol choice and
 * client keys. Extensions (permessage-deflate included) are never negotiated. Header values
 * are NUL-terminated, NULL when absent; a repeated header is passed joined with ", ". */
#ifndef DT_WS_HANDSHAKE_H
#define DT_WS_HANDSHAKE_H

#include <stddef.h>

#define DT_WS_KEY_LEN 24    /* base64 of 16 bytes */
#define DT_WS_ACCEPT_LEN 28 /* base64 of a SHA-1 digest */

enum {
  DT_WS_HS_EMETHOD = -1,     /* not GET */
  DT_WS_HS_EHTTP = -2,       /* HTTP older than 1.1 */
  DT_WS_HS_EHOST = -3,       /* no Host */
  DT_WS_HS_EUPGRADE = -4,    /* Upgrade lacks the token websocket */
  DT_WS_HS_ECONNECTION = -5, /* Connection lacks the token Upgrade */
  DT_WS_HS_EVERSION = -6,    /* Sec-WebSocket-Version is not 13 (answer 426) */
  DT_WS_HS_EKEY = -7,        /* Sec-WebSocket-Key missing or not base64 of 16 bytes */
  DT_WS_HS_EINTERNAL = -8,   /* SHA-1 or the random generator failed */
  DT_WS_HS_ESTATUS = -9,     /* client: the response is not 101 */
  DT_WS_HS_EACCEPT = -10,    /* client: Sec-WebSocket-Accept missing or wrong */
  DT_WS_HS_EPROTOCOL = -11,  /* client: a subprotocol that was not offered */
  DT_WS_HS_EEXTENSION = -12, /* client: the server chose an extension */
};

typedef struct {
  const char *method;
  int http_major, http_minor; /* 0.0 when the caller does not know: not checked */
  const char *host, *upgrade, *connection;
  const char *key;      /* Sec-WebSocket-Key */
  const char *version;  /* Sec-WebSocket-Version */
  const char *protocol; /* Sec-WebSocket-Protocol: the client's offers */
} dt_ws_upgrade_request;

typedef struct {
  int status;           /* 101, or the status to answer without upgrading: 400, 426 (with
                           "Sec-WebSocket-Version: 13"), 500 */
  const char *error;    /* NULL when accepted; otherwise a short message for the client */
  char accept[DT_WS_ACCEPT_LEN + 1]; /* Sec-WebSocket-Accept */
  const char *protocol; /* the chosen subprotocol (an element of supported), or NULL */
} dt_ws_upgrade_result;

/* Checks an upgrade request and fills *res. supported: the server's subprotocols (n of them,
 * may be NULL when n is 0); the first one the client offers that the server supports is
 * chosen (exact match). Returns 0, or a DT_WS_HS_E* code with res->status and res->error. */
int dt_ws_server_handshake(const dt_ws_upgrade_request *req, const char *const *supported,
                           size_t n, dt_ws_upgrade_result *res);

/* The first element of the comma-separated offered list that is in supported, or NULL. */
const char *dt_ws_select_protocol(const char *offered, const char *const *supported, size_t n);

/* base64(SHA-1(key + the RFC 6455 GUID)), NUL-terminated. Returns 0 or DT_WS_HS_EINTERNAL. */
int dt_ws_accept_value(const char *key, size_t key_len, char out[DT_WS_ACCEPT_LEN + 1]);

/* Writes the complete 101 response head (ending with the blank line) for an accepted
 * request. Returns its length, or -1 when cap is too small. */
int dt_ws_server_response(const dt_ws_upgrade_result *res, char *out, size_t cap);

/* Client: a fresh Sec-WebSocket-Key (16 random bytes, base64), NUL-terminated.
 * Returns 0 or DT_WS_HS_EINTERNAL. */
int dt_ws_client_key(char out[DT_WS_KEY_LEN + 1]);

typedef struct {
  int status;
  const char *upgrade, *connection, *accept, *protocol, *extensions;
} dt_ws_upgrade_response;

/* Client: checks the server's response to a request sent with key and offering the
 * comma-separated subprotocols in offered (NULL for none). Returns 0, or a DT_WS_HS_E* code
 * with *error set to a short message. The chosen subprotocol is res->protocol. */
int dt_ws_client_verify(const dt_ws_upgrade_response *res, const char *key, const char *offered,
                        const char **error);
#endif
