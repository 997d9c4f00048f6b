/* Base64 decoding of arbitrary bytes in both alphabets: accepted input re-encodes to the
 * same text (decoding is strict, so the encoding is canonical), and encode/decode round-trip
 * the raw bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decode_reencode(const uint8_t *data, size_t size, int alphabet)
{
  size_t cap = dt_base64_decoded_max(size), len, tlen;
  uint8_t *out = malloc(cap ? cap : 1);
  if (!out) return;
  int rc = dt_base64_decode((const char *)data, size, out, cap, alphabet, &len);
  if (rc != 0 && rc != -2) abort();
  if (rc == 0) {
    if (len > cap) abort();
    size_t tcap = dt_base64_encoded_len(len, alphabet);
    char *text = malloc(tcap ? tcap : 1);
    if (text && dt_base64_encode(out, len, text, tcap, alphabet, &tlen) != 0) abort();
    /* url input may omit padding or not; compare the unpadded part. */
    size_t cmp = size;
    while (alphabet == DT_BASE64_URL && cmp > 0 && data[cmp - 1] == '=') cmp--;
    if (text && (tlen != cmp || memcmp(text, data, cmp) != 0)) abort();
    free(text);
  }
  free(out);
}

static void round_trip(const uint8_t *data, size_t size, int alphabet)
{
  size_t tcap = dt_base64_encoded_len(size, alphabet), tlen, len;
  char *text = malloc(tcap ? tcap : 1);
  uint8_t *back = malloc(size ? size : 1);
  if (text && back) {
    if (dt_base64_encode(data, size, text, tcap, alphabet, &tlen) != 0 || tlen != tcap) abort();
    if (dt_base64_decode(text, tlen, back, size, alphabet, &len) != 0 || len != size ||
        memcmp(back, data, size) != 0)
      abort();
  }
  free(text);
  free(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  for (int alphabet = DT_BASE64_STD; alphabet <= DT_BASE64_URL; alphabet++) {
    decode_reencode(data, size, alphabet);
    round_trip(data, size, alphabet);
  }
  return 0;
}
