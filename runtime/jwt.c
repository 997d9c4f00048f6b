/* Compact JWTs: RS256 signing and strict HS256 verification (rules in jwt.h). */
#include "jwt.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base64.h"
#include "crypto.h"

#define URL DT_BASE64_URL

typedef struct {
  const char *s;
  size_t n;
} span;

static int append_b64(const void *in, size_t n, char *out, size_t cap, size_t *pos)
{
  size_t len;
  if (dt_base64_encode(in, n, out + *pos, cap - *pos, URL, &len) != 0) return DT_CRYPTO_TOO_LARGE;
  *pos += len;
  return 0;
}

size_t dt_jwt_sign_cap(size_t header_len, size_t claims_len)
{
  if (header_len > DT_JWT_MAX_SIGN_JSON || claims_len > DT_JWT_MAX_SIGN_JSON) return 0;
  return dt_base64_encoded_len(header_len, URL) + dt_base64_encoded_len(claims_len, URL) +
         dt_base64_encoded_len(DT_RSA_MAX_SIG, URL) + 3;
}

int dt_jwt_sign_rs256(const char *header_json, size_t header_len, const char *claims_json,
                      size_t claims_len, const char *pem, size_t pem_len, char *out, size_t cap,
                      size_t *token_len)
{
  size_t need = dt_jwt_sign_cap(header_len, claims_len);
  if (need == 0 || cap < need) return DT_CRYPTO_TOO_LARGE;
  uint8_t sig[DT_RSA_MAX_SIG];
  size_t n = 0, sig_len = 0;
  int rc = append_b64(header_json, header_len, out, cap, &n);
  if (rc == 0) {
    out[n++] = '.';
    rc = append_b64(claims_json, claims_len, out, cap, &n);
  }
  if (rc == 0) rc = dt_rs256_sign(pem, pem_len, out, n, sig, sizeof sig, &sig_len);
  if (rc == 0) {
    out[n++] = '.';
    rc = append_b64(sig, sig_len, out, cap - 1, &n);
  }
  if (rc != 0) return rc;
  out[n] = '\0';
  *token_len = n;
  return 0;
}

/* Three parts, header and payload non-empty; '=' is refused since JWS base64url has no
 * padding. An empty signature ("alg":"none" tokens) fails later, after the alg check. */
static int split(const char *t, size_t len, span parts[3])
{
  if (len > DT_JWT_MAX_TOKEN) return DT_JWT_MALFORMED;
  size_t start = 0, k = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i < len && t[i] == '=') return DT_JWT_MALFORMED;
    if (i < len && t[i] != '.') continue;
    if (k == 3 || (k < 2 && i == start)) return DT_JWT_MALFORMED;
    parts[k++] = (span){ t + start, i - start };
    start = i + 1;
  }
  return k == 3 ? 0 : DT_JWT_MALFORMED;
}

/* A NUL byte or a "\u0000" escape (skipping escaped pairs, so "\\u0000" is text). */
static int has_nul(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    if (s[i] == '\0') return 1;
    if (s[i] != '\\' || i + 1 >= n) continue;
    if (s[i + 1] == 'u' && n - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0) return 1;
    i++;
  }
  return 0;
}

static int has_duplicate_keys(const cJSON *obj)
{
  for (const cJSON *a = obj->child; a; a = a->next)
    for (const cJSON *b = a->next; b; b = b->next)
      if (strcmp(a->string, b->string) == 0) return 1;
  return 0;
}

/* Decodes a part into buf (room for one more byte than dt_base64_decoded_max) and parses it
 * as a JSON object. */
static int decode_object(span p, char *buf, size_t cap, cJSON **out)
{
  size_t len;
  if (dt_base64_decode(p.s, p.n, (uint8_t *)buf, cap - 1, URL, &len) != 0 || has_nul(buf, len))
    return DT_JWT_MALFORMED;
  buf[len] = '\0';
  cJSON *root = cJSON_ParseWithLengthOpts(buf, len + 1, NULL, 1);
  if (!root) return DT_JWT_MALFORMED;
  if (!cJSON_IsObject(root) || has_duplicate_keys(root)) {
    cJSON_Delete(root);
    return DT_JWT_MALFORMED;
  }
  *out = root;
  return 0;
}

static int check_header(span p)
{
  char buf[DT_JWT_MAX_TOKEN];
  cJSON *h = NULL;
  int rc = decode_object(p, buf, sizeof buf, &h);
  if (rc != 0) return rc;
  const cJSON *alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
  if (cJSON_GetObjectItemCaseSensitive(h, "crit")) rc = DT_JWT_MALFORMED;
  else if (!cJSON_IsString(alg) || strcmp(alg->valuestring, "HS256") != 0) rc = DT_JWT_ALG;
  cJSON_Delete(h);
  return rc;
}

static int check_signature(const char *token, const span parts[3], const void *secret,
                           size_t secret_len)
{
  uint8_t sig[DT_JWT_MAX_TOKEN];
  size_t sig_len;
  if (dt_base64_decode(parts[2].s, parts[2].n, sig, sizeof sig, URL, &sig_len) != 0)
    return DT_JWT_MALFORMED;
  size_t signed_len = (size_t)(parts[1].s + parts[1].n - token);
  int rc = dt_hs256_verify(secret, secret_len, token, signed_len, sig, sig_len);
  return rc == DT_CRYPTO_MISMATCH ? DT_JWT_BAD_SIGNATURE : rc;
}

/* A NumericDate member: absent, or a finite number. */
static int get_time(const cJSON *obj, const char *name, int *present, double *value)
{
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
  *present = it != NULL;
  if (!it) return 0;
  if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble)) return DT_JWT_MALFORMED;
  *value = it->valuedouble;
  return 0;
}

static int check_times(const cJSON *claims, const dt_jwt_verify_opts *o, dt_jwt_result *res)
{
  double exp = 0, nbf = 0, iat = 0;
  int has_exp, has_nbf, has_iat, rc;
  if ((rc = get_time(claims, "exp", &has_exp, &exp)) != 0 ||
      (rc = get_time(claims, "nbf", &has_nbf, &nbf)) != 0 ||
      (rc = get_time(claims, "iat", &has_iat, &iat)) != 0)
    return rc;
  if (has_exp && o->now >= exp + o->leeway) return DT_JWT_EXPIRED;
  if (has_nbf && nbf > o->now + o->leeway) return DT_JWT_NOT_YET_VALID;
  if (has_iat && iat > o->now + o->leeway) return DT_JWT_NOT_YET_VALID;
  if (o->max_age > 0 && !has_iat) {
    res->bad_claim = "iat";
    return DT_JWT_CLAIM_MISMATCH;
  }
  if (o->max_age > 0 && o->now > iat + o->max_age + o->leeway) return DT_JWT_EXPIRED;
  return 0;
}

static int claim_matches(const cJSON *it, const dt_jwt_claim *c)
{
  switch (c->type) {
  case DT_JWT_STRING:
    return cJSON_IsString(it) && strlen(it->valuestring) == c->str_len &&
           memcmp(it->valuestring, c->str, c->str_len) == 0;
  case DT_JWT_NUMBER: return cJSON_IsNumber(it) && it->valuedouble == c->num;
  case DT_JWT_BOOL: return cJSON_IsBool(it) && !cJSON_IsTrue(it) == !c->boolean;
  }
  return 0;
}

static int check_claims(const cJSON *claims, const dt_jwt_verify_opts *o, dt_jwt_result *res)
{
  int rc = check_times(claims, o, res);
  for (size_t i = 0; rc == 0 && i < o->nclaims; i++) {
    const dt_jwt_claim *c = &o->claims[i];
    if (!claim_matches(cJSON_GetObjectItemCaseSensitive(claims, c->name), c)) {
      res->bad_claim = c->name;
      rc = DT_JWT_CLAIM_MISMATCH;
    }
  }
  return rc;
}

static int valid_opts(const dt_jwt_verify_opts *o)
{
  return isfinite(o->now) && isfinite(o->leeway) && o->leeway >= 0 && isfinite(o->max_age) &&
         o->max_age >= 0 && (o->nclaims == 0 || o->claims);
}

static int check_payload(span p, const dt_jwt_verify_opts *opts, dt_jwt_result *res)
{
  cJSON *claims = NULL;
  int rc = decode_object(p, res->payload, sizeof res->payload, &claims);
  if (rc != 0) return rc;
  rc = check_claims(claims, opts, res);
  cJSON_Delete(claims);
  if (rc == 0) res->payload_len = strlen(res->payload);
  return rc;
}

int dt_jwt_verify_hs256(const char *token, size_t len, const void *secret, size_t secret_len,
                        const dt_jwt_verify_opts *opts, dt_jwt_result *res)
{
  res->payload[0] = '\0';
  res->payload_len = 0;
  res->bad_claim = NULL;
  if (!valid_opts(opts)) return DT_JWT_BAD_OPTIONS;
  if (secret_len == 0) return DT_JWT_NO_SECRET;
  span parts[3];
  int rc = split(token, len, parts);
  if (rc == 0) rc = check_header(parts[0]);
  if (rc == 0) rc = check_signature(token, parts, secret, secret_len);
  if (rc == 0) rc = check_payload(parts[1], opts, res);
  return rc;
}

const char *dt_jwt_strerror(int rc)
{
  switch (rc) {
  case DT_JWT_MALFORMED: return "malformed";
  case DT_JWT_ALG: return "alg not allowed";
  case DT_JWT_BAD_SIGNATURE: return "bad signature";
  case DT_JWT_EXPIRED: return "expired";
  case DT_JWT_NOT_YET_VALID: return "not yet valid";
  case DT_JWT_CLAIM_MISMATCH: return "claim mismatch";
  case DT_JWT_NO_SECRET: return "empty secret";
  case DT_JWT_BAD_OPTIONS: return "invalid verification options";
  default: return dt_crypto_strerror(rc);
  }
}
