/* RFC 6455 frame codec with no I/O: an incremental, role-aware decoder and the encoder helpers.
 *
 * Decoder: feed bytes split anyhow; each call stops at the first event and says how many bytes
 * it used, so the caller feeds the rest again. Events are whole messages (fragments
 * reassembled, unmasked, text checked as UTF-8), pings, pongs, a validated close, or a protocol
 * error carrying the close code to send (1002, 1007, 1009; 1011 when out of memory).
 *
 * Copying: a control frame or an unfragmented data frame that lies complete in the input is
 * unmasked in place and the event points into the caller's buffer (no copy). Otherwise the
 * payload is unmasked while being copied into the decoder (a reassembly buffer for data, a
 * 125-byte array for control frames) and the event points there. Either way event data is
 * valid until the next dt_ws_decode call or until the caller reuses its buffer, whichever
 * comes first; consumed input bytes may have been modified (unmasked).
 *
 * Strictness: reserved bits, unknown opcodes, a mask bit contrary to the role, fragmented or
 * over-long (> 125) control frames, a 64-bit length with the top bit set, a length not in the
 * minimal form (RFC 6455 §5.2 "MUST"), a continuation with no message open and a new data
 * frame inside an open message all fail with 1002. */
#ifndef DT_WS_FRAME_H
#define DT_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

enum {
  DT_WS_OP_CONT = 0x0,
  DT_WS_OP_TEXT = 0x1,
  DT_WS_OP_BINARY = 0x2,
  DT_WS_OP_CLOSE = 0x8,
  DT_WS_OP_PING = 0x9,
  DT_WS_OP_PONG = 0xA,
};

enum { DT_WS_MAX_HEADER = 14, DT_WS_MAX_CONTROL = 125 };
/* Room for any complete control frame: header with mask key plus a 125-byte payload. */
enum { DT_WS_MAX_CONTROL_FRAME = 6 + DT_WS_MAX_CONTROL };
#define DT_WS_DEFAULT_MAX_MESSAGE ((size_t)1 << 20)

typedef enum {
  DT_WS_ROLE_SERVER, /* decodes client frames: they must be masked */
  DT_WS_ROLE_CLIENT, /* decodes server frames: they must not be masked */
} dt_ws_role;

typedef enum {
  DT_WS_EV_ERROR = -1, /* protocol error: send a close with ev->code, then drop the connection */
  DT_WS_EV_MORE = 0,   /* every byte used, no event yet */
  DT_WS_EV_TEXT = 1,   /* a complete text message (valid UTF-8) */
  DT_WS_EV_BINARY = 2, /* a complete binary message */
  DT_WS_EV_PING = 3,   /* answer with a pong carrying the same payload */
  DT_WS_EV_PONG = 4,
  DT_WS_EV_CLOSE = 5,  /* ev->code (1005 if the frame had none), reason in data/len */
} dt_ws_event_type;

typedef struct {
  const uint8_t *data; /* payload (message, ping/pong data, close reason); never NULL */
  size_t len;
  uint16_t code;       /* CLOSE: the peer's code; ERROR: the code to close with */
  const char *error;   /* ERROR: short description for logs */
} dt_ws_event;

/* Incremental UTF-8 check: continuation bytes still needed and the range of the next one. */
typedef struct {
  uint8_t need, lo, hi;
} dt_ws_utf8;

/* Embeddable decoder state; every field is private to ws_frame.c. */
typedef struct {
  uint8_t role, state, hdr_len, opcode, fin, masked, msg_opcode;
  uint8_t hdr[DT_WS_MAX_HEADER];
  uint8_t mask[4];
  dt_ws_utf8 utf8;
  uint16_t err_code;
  const char *err;
  uint64_t frame_len, frame_done;
  size_t max_message, msg_len, msg_cap;
  uint8_t *msg;
  uint8_t ctrl[DT_WS_MAX_CONTROL];
} dt_ws_decoder;

/* max_message: largest message accepted (0 = DT_WS_DEFAULT_MAX_MESSAGE); larger → 1009. */
void dt_ws_decoder_init(dt_ws_decoder *d, dt_ws_role role, size_t max_message);
/* Releases the reassembly buffer; the decoder may be initialised again. */
void dt_ws_decoder_free(dt_ws_decoder *d);

/* Decodes from buf (len bytes, modified in place by unmasking) until the first event, sets
 * *consumed and fills *ev. Returns the event type. After ERROR every call returns the same
 * error and consumes nothing; after CLOSE further input is discarded (consumed but ignored). */
int dt_ws_decode(dt_ws_decoder *d, uint8_t *buf, size_t len, size_t *consumed, dt_ws_event *ev);

/* Writes a frame header into out (room for DT_WS_MAX_HEADER bytes) with the minimal length
 * form; mask is the 4-byte key, or NULL for an unmasked (server) frame. Returns the header
 * length (2..14), or -1 for an invalid opcode, a control frame that is not final or longer
 * than 125 bytes, or a length of 2^63 or more. */
int dt_ws_write_header(uint8_t *out, int opcode, int fin, uint64_t len, const uint8_t *mask);

/* XORs len bytes of p with the key; offset is the position of p[0] within the frame payload
 * (0 unless masking a payload in pieces). Masking twice unmasks. */
void dt_ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset);

/* Builds a complete ping, pong or close frame with a payload of up to 125 bytes into out
 * (cap bytes; DT_WS_MAX_CONTROL_FRAME always suffices), masked when mask is not NULL.
 * Returns the frame length, or -1 (bad opcode, payload too long, cap too small). */
int dt_ws_build_control(uint8_t *out, size_t cap, int opcode, const uint8_t *payload,
                        size_t len, const uint8_t *mask);

/* Builds a close frame. code 0 sends an empty payload (the peer sees 1005); otherwise code must
 * be valid on the wire (dt_ws_close_code_valid) and reason valid UTF-8 of at most 123 bytes.
 * Returns the frame length, or -1. */
int dt_ws_build_close(uint8_t *out, size_t cap, uint16_t code, const char *reason,
                      size_t reason_len, const uint8_t *mask);

/* Whether a close code may appear in a close frame: 1000-1003, 1007-1014, 3000-4999. */
int dt_ws_close_code_valid(unsigned code);

/* Whether p[0..len) is well-formed UTF-8 (no overlongs, surrogates or code points > U+10FFFF). */
int dt_ws_utf8_valid(const uint8_t *p, size_t len);
#endif
