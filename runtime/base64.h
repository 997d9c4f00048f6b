/* Base64 (RFC 4648 §4) and base64url (§5) with explicit lengths and caller buffers.
 * Encoding pads with '=' for the standard alphabet and writes no padding for url.
 * Decoding is strict: only alphabet characters, no whitespace, canonical trailing bits;
 * the standard alphabet needs its padding, url accepts input with or without it. */
#ifndef DT_BASE64_H
#define DT_BASE64_H

#include <stddef.h>
#include <stdint.h>

#define DT_BASE64_STD 0
#define DT_BASE64_URL 1

/* Exact encoded length (no NUL is written); SIZE_MAX if it would overflow. */
size_t dt_base64_encoded_len(size_t n, int alphabet);
/* An upper bound on the decoded length of n characters. */
size_t dt_base64_decoded_max(size_t n);

/* Return 0 with the output length in *out_len; -1 when cap is too small; decode returns
 * -2 for invalid input. */
int dt_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap, int alphabet,
                     size_t *out_len);
int dt_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, int alphabet,
                     size_t *out_len);
#endif
