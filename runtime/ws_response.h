/* The client side of the WebSocket opening handshake: parses the server's response head
 * (status line and headers) with no I/O, for dt_ws_client_verify. */
#ifndef DT_WS_RESPONSE_H
#define DT_WS_RESPONSE_H

#include <stddef.h>

#include "ws_handshake.h"

/* Parses the response head at the start of buf (len bytes). Returns the head's length
 * (through the blank line; what follows belongs to the first frames), 0 when the head is not
 * complete yet, or -1 when it is malformed: not "HTTP/1.x NNN", a header line that is not
 * "name: value" with CRLF endings, a NUL byte, or a repeated Upgrade, Connection,
 * Sec-WebSocket-Accept, -Protocol or -Extensions header. The header values in *res point into
 * buf, which is modified (values are NUL-terminated in place). The caller bounds len. */
int dt_ws_response_parse(char *buf, size_t len, dt_ws_upgrade_response *res);
#endif
