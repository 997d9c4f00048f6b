/* The HS256 verifier on arbitrary tokens. The first byte picks the mode: verify the rest as
 * it is; or treat it as "header.payload" and append the right signature; or as header JSON,
 * a newline and payload JSON, encoded and signed here. The last two reach the header, payload
 * and claim checks behind the signature, the third without having to discover base64. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "crypto.h"
#include "jwt.h"

#define SECRET "fuzz-secret"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const dt_jwt_claim claims[] = {
  { .name = "iss", .type = DT_JWT_STRING, .str = "Vonage", .str_len = 6 },
  { .name = "n", .type = DT_JWT_NUMBER, .num = 1 },
};

static void verify(const char *token, size_t len)
{
  static dt_jwt_result res;
  dt_jwt_verify_opts opts = { .now = 1704110400, .leeway = 30, .max_age = (double)(len % 2) * 300,
                              .claims = claims, .nclaims = len % 3 };
  int rc = dt_jwt_verify_hs256(token, len, SECRET, strlen(SECRET), &opts, &res);
  if (rc == 0 && (len > DT_JWT_MAX_TOKEN || res.payload_len != strlen(res.payload) ||
                  res.payload_len >= sizeof res.payload))
    abort();
  if (rc == DT_JWT_CLAIM_MISMATCH && !res.bad_claim) abort();
  if (rc != 0 && rc != DT_JWT_MALFORMED && rc != DT_JWT_ALG && rc != DT_JWT_BAD_SIGNATURE &&
      rc != DT_JWT_EXPIRED && rc != DT_JWT_NOT_YET_VALID && rc != DT_JWT_CLAIM_MISMATCH)
    abort();
}

static void verify_signed(const uint8_t *data, size_t size)
{
  uint8_t mac[DT_HMAC_MAX_LEN];
  size_t mac_len, sig_len;
  size_t cap = size + 1 + dt_base64_encoded_len(sizeof mac, DT_BASE64_URL);
  char *token = malloc(cap);
  if (!token) return;
  memcpy(token, data, size);
  token[size] = '.';
  if (dt_hmac(DT_HASH_SHA256, SECRET, strlen(SECRET), data, size, mac, &mac_len) == 0 &&
      dt_base64_encode(mac, mac_len, token + size + 1, cap - size - 1, DT_BASE64_URL,
                       &sig_len) == 0)
    verify(token, size + 1 + sig_len);
  free(token);
}

/* b64url(header) "." b64url(payload), then signed by verify_signed. */
static void verify_json(const uint8_t *data, size_t size)
{
  const uint8_t *nl = memchr(data, '\n', size);
  size_t hlen = nl ? (size_t)(nl - data) : size, plen = nl ? size - hlen - 1 : 0, len1, len2;
  size_t cap = dt_base64_encoded_len(hlen, DT_BASE64_URL) +
               dt_base64_encoded_len(plen, DT_BASE64_URL) + 1;
  char *input = malloc(cap);
  if (!input) return;
  if (dt_base64_encode(data, hlen, input, cap, DT_BASE64_URL, &len1) == 0) {
    input[len1] = '.';
    if (dt_base64_encode(data + hlen + !!nl, plen, input + len1 + 1, cap - len1 - 1,
                         DT_BASE64_URL, &len2) == 0)
      verify_signed((const uint8_t *)input, len1 + 1 + len2);
  }
  free(input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size == 0) return 0;
  if (data[0] % 3 == 1) {
    verify_signed(data + 1, size - 1);
  } else if (data[0] % 3 == 2) {
    verify_json(data + 1, size - 1);
  } else {
    /* an exact-size copy so that ASan sees any read past the end */
    char *token = malloc(size - 1 ? size - 1 : 1);
    if (!token) return 0;
    memcpy(token, data + 1, size - 1);
    verify(token, size - 1);
    free(token);
  }
  return 0;
}
