/* Compact JSON Web Tokens (RFC 7519 over RFC 7515 compact serialization): RS256 signing of
 * JSON header and claims, and HS256 verification of tokens that arrive from the network.
 *
 * Verification refuses, in this order: tokens over DT_JWT_MAX_TOKEN bytes; anything but
 * three dot-separated unpadded base64url parts (an empty signature fails as a bad one); a
 * header that is not a JSON object, repeats a key or carries "crit"; any "alg" other than
 * exactly "HS256" (so "none" and RS256/HS256 confusion are refused before a key is used); a
 * signature that does not match (compared in constant time); a payload that is not a JSON
 * object or repeats a key; exp/nbf/iat present but not finite numbers; then expiry,
 * not-before and the expected claims. JSON containing a NUL (raw or "\u0000") is malformed:
 * C strings and dialtone.json would cut it. JSON is parsed with cJSON. */
#ifndef DT_JWT_H
#define DT_JWT_H

#include <stddef.h>

#define DT_JWT_MAX_TOKEN 8192        /* bytes of a token accepted for verification */
#define DT_JWT_MAX_SIGN_JSON (32 * 1024) /* bytes of header or claims JSON accepted for signing */
#define DT_JWT_DEFAULT_LEEWAY 30     /* seconds of clock skew allowed by default */
#define DT_JWT_MAX_LEEWAY 600

enum {
  DT_JWT_MALFORMED = -10,
  DT_JWT_ALG = -11,          /* header alg is not HS256 */
  DT_JWT_BAD_SIGNATURE = -12,
  DT_JWT_EXPIRED = -13,      /* exp passed, or iat older than max_age */
  DT_JWT_NOT_YET_VALID = -14, /* nbf or iat in the future */
  DT_JWT_CLAIM_MISMATCH = -15, /* an expected claim is missing or differs */
  DT_JWT_NO_SECRET = -16,    /* verification with an empty secret */
  DT_JWT_BAD_OPTIONS = -17,  /* now, leeway or max_age not finite, or negative */
};

typedef enum { DT_JWT_STRING, DT_JWT_NUMBER, DT_JWT_BOOL } dt_jwt_type;

/* A claim the caller requires: the payload's member `name` must have this type and value. */
typedef struct {
  const char *name;
  dt_jwt_type type;
  const char *str; /* DT_JWT_STRING: str_len bytes */
  size_t str_len;
  double num;      /* DT_JWT_NUMBER */
  int boolean;     /* DT_JWT_BOOL */
} dt_jwt_claim;

typedef struct {
  double now;      /* current time, Unix seconds */
  double leeway;   /* seconds of skew allowed on exp, nbf, iat and max_age (>= 0) */
  double max_age;  /* > 0: iat is required and must be at most this many seconds old */
  const dt_jwt_claim *claims;
  size_t nclaims;
} dt_jwt_verify_opts;

typedef struct {
  char payload[DT_JWT_MAX_TOKEN]; /* on success: the claims JSON, NUL-terminated */
  size_t payload_len;
  const char *bad_claim;  /* on DT_JWT_CLAIM_MISMATCH: the claim's name */
} dt_jwt_result;

/* Room (with the NUL) for a token signed with any key, or 0 when either JSON text is over
 * DT_JWT_MAX_SIGN_JSON. */
size_t dt_jwt_sign_cap(size_t header_len, size_t claims_len);

/* Writes b64url(header_json) "." b64url(claims_json) "." b64url(RS256 signature), signed
 * with the PEM private key, and a NUL to out. Errors are DT_CRYPTO_* codes; the JSON texts
 * are used as given. */
int dt_jwt_sign_rs256(const char *header_json, size_t header_len, const char *claims_json,
                      size_t claims_len, const char *pem, size_t pem_len, char *out, size_t cap,
                      size_t *token_len);

/* 0 with the claims in res->payload when the token verifies under secret and opts, else a
 * DT_JWT_* code. res is about 8 KiB: keep it static, on the heap or in a Lua userdata. */
int dt_jwt_verify_hs256(const char *token, size_t len, const void *secret, size_t secret_len,
                        const dt_jwt_verify_opts *opts, dt_jwt_result *res);

/* "malformed", "alg not allowed", "bad signature", "expired", "not yet valid", ... and the
 * DT_CRYPTO_* messages. DT_JWT_CLAIM_MISMATCH gives "claim mismatch" (the caller names it). */
const char *dt_jwt_strerror(int rc);
#endif
