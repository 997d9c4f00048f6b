/* jwt: RS256 tokens checked with OpenSSL's verifier against keys generated here (no key is
 * committed), and the HS256 verifier against valid, tampered, confused, expired, early,
 * mismatched and malformed tokens, plus the signed-webhook vector of spec/vonage.md §4.1. */
#include "jwt.h"

#include <math.h>
#include <stdlib.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "base64.h"
#include "crypto.h"
#include "testlib.h"

#define SECRET "test-signature-secret-0123456789abcdef"
#define NOW 1704110400.0
#define TOKEN_BUF (2 * DT_JWT_MAX_TOKEN) /* room for every token built here */

/* ---- RS256 ---- */

static EVP_PKEY *generate(const char *type, unsigned bits)
{
  EVP_PKEY *pkey = NULL;
  EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
  int ok = ctx && EVP_PKEY_keygen_init(ctx) == 1;
  if (ok && !strcmp(type, "RSA")) ok = EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1;
  if (ok && !strcmp(type, "EC")) ok = EVP_PKEY_CTX_set_group_name(ctx, "P-256") == 1;
  if (ok) EVP_PKEY_keygen(ctx, &pkey);
  EVP_PKEY_CTX_free(ctx);
  return pkey;
}

enum { PKCS8, PKCS1, PKCS8_ENCRYPTED };

/* The key as PEM in a malloc'ed string. */
static char *to_pem(EVP_PKEY *pkey, int form)
{
  BIO *bio = BIO_new(BIO_s_mem());
  char *data = NULL, *out = NULL;
  int ok = bio != NULL;
  if (ok && form == PKCS8) ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
  if (ok && form == PKCS1) ok = PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0,
                                                                     NULL, NULL);
  if (ok && form == PKCS8_ENCRYPTED)
    ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_256_cbc(), "pw", 2, NULL, NULL);
  long len = ok ? BIO_get_mem_data(bio, &data) : 0;
  if (len > 0 && (out = malloc((size_t)len + 1))) {
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
  }
  BIO_free(bio);
  return out;
}

static int sign(const char *header, const char *claims, const char *pem, char *out, size_t cap,
                size_t *len)
{
  return dt_jwt_sign_rs256(header, strlen(header), claims, strlen(claims), pem, strlen(pem), out,
                           cap, len);
}

static int part_decodes_to(const char *s, size_t n, const char *expected)
{
  uint8_t buf[512];
  size_t len;
  return dt_base64_decode(s, n, buf, sizeof buf, DT_BASE64_URL, &len) == 0 &&
         len == strlen(expected) && memcmp(buf, expected, len) == 0;
}

/* Checks the token's parts and its signature with EVP_DigestVerify. */
static int rs256_verifies(const char *token, size_t len, EVP_PKEY *pkey, const char *header,
                          const char *claims)
{
  const char *dot1 = memchr(token, '.', len);
  const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
  if (!dot2 || memchr(token, '=', len) || strlen(token) != len) return 0;
  if (!part_decodes_to(token, (size_t)(dot1 - token), header) ||
      !part_decodes_to(dot1 + 1, (size_t)(dot2 - dot1 - 1), claims))
    return 0;
  uint8_t sig[DT_RSA_MAX_SIG];
  size_t sig_len;
  if (dt_base64_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof sig,
                       DT_BASE64_URL, &sig_len) != 0)
    return 0;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
           EVP_DigestVerify(ctx, sig, sig_len, (const uint8_t *)token,
                            (size_t)(dot2 - token)) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

static void test_rs256_sign_pkcs8_and_pkcs1(void)
{
  const char *header = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
  const char *claims = "{\"application_id\":\"aaaaaaaa-bbbb-cccc-dddd-0123456789ab\","
                       "\"iat\":1704110400,\"jti\":\"c5ba8f24\"}";
  EVP_PKEY *pkey = generate("RSA", 2048), *other = generate("RSA", 2048);
  CHECK(pkey && other);
  if (!pkey || !other) return;
  size_t cap = dt_jwt_sign_cap(strlen(header), strlen(claims)), len = 0;
  char *token = malloc(cap);
  for (int form = PKCS8; form <= PKCS1; form++) {
    char *pem = to_pem(pkey, form);
    CHECK(pem && token);
    if (!pem || !token) break;
    CHECK(strstr(pem, form == PKCS8 ? "BEGIN PRIVATE KEY" : "BEGIN RSA PRIVATE KEY"));
    CHECK_EQ_INT(sign(header, claims, pem, token, cap, &len), 0);
    CHECK(rs256_verifies(token, len, pkey, header, claims));
    CHECK(!rs256_verifies(token, len, other, header, claims));
    CHECK_EQ_INT(sign(header, claims, pem, token, cap - 1, &len), DT_CRYPTO_TOO_LARGE);
    free(pem);
  }
  free(token);
  EVP_PKEY_free(pkey);
  EVP_PKEY_free(other);
}

static int sign_rc(EVP_PKEY *pkey, int form)
{
  char *pem = pkey ? to_pem(pkey, form) : NULL, token[TOKEN_BUF];
  size_t len;
  int rc = pem ? sign("{}", "{}", pem, token, sizeof token, &len) : 1;
  free(pem);
  EVP_PKEY_free(pkey);
  return rc;
}

static void test_rs256_refuses_unusable_keys(void)
{
  CHECK_EQ_INT(sign_rc(generate("EC", 0), PKCS8), DT_CRYPTO_NOT_RSA);
  CHECK_EQ_INT(sign_rc(generate("ED25519", 0), PKCS8), DT_CRYPTO_NOT_RSA);
  CHECK_EQ_INT(sign_rc(generate("RSA", 1024), PKCS8), DT_CRYPTO_WEAK_KEY);
  CHECK_EQ_INT(sign_rc(generate("RSA", 2048), PKCS8_ENCRYPTED), DT_CRYPTO_BAD_PEM);
  char token[TOKEN_BUF];
  size_t len;
  CHECK_EQ_INT(sign("{}", "{}", "not a key", token, sizeof token, &len), DT_CRYPTO_BAD_PEM);
  CHECK_EQ_INT(dt_jwt_sign_cap(DT_JWT_MAX_SIGN_JSON + 1, 2), 0);
  CHECK_EQ_STR(dt_jwt_strerror(DT_CRYPTO_BAD_PEM),
               "not a PEM private key (PKCS#1 or PKCS#8, unencrypted)");
}

/* ---- HS256 ---- */

static size_t b64url(const char *in, size_t n, char *out)
{
  size_t len = 0;
  dt_base64_encode((const uint8_t *)in, n, out, DT_JWT_MAX_TOKEN, DT_BASE64_URL, &len);
  return len;
}

/* header.payload.HMAC-SHA256(secret) in out (TOKEN_BUF bytes). */
static void make_token(const char *header, const char *payload, const char *secret, char *out)
{
  size_t n = b64url(header, strlen(header), out);
  out[n++] = '.';
  n += b64url(payload, strlen(payload), out + n);
  uint8_t mac[DT_HMAC_MAX_LEN];
  size_t mac_len = 0;
  dt_hmac(DT_HASH_SHA256, secret, strlen(secret), out, n, mac, &mac_len);
  out[n++] = '.';
  n += b64url((const char *)mac, mac_len, out + n);
  out[n] = '\0';
}

static const dt_jwt_verify_opts plain = { .now = NOW, .leeway = 30 };

static int verify_opts(const char *token, const dt_jwt_verify_opts *opts, dt_jwt_result *res)
{
  return dt_jwt_verify_hs256(token, strlen(token), SECRET, strlen(SECRET), opts, res);
}

static int verify(const char *token)
{
  static dt_jwt_result res;
  return verify_opts(token, &plain, &res);
}

static int payload_rc(const char *payload)
{
  char token[TOKEN_BUF];
  make_token("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, SECRET, token);
  return verify(token);
}

static int header_rc(const char *header)
{
  char token[TOKEN_BUF];
  make_token(header, "{\"iss\":\"Vonage\"}", SECRET, token);
  return verify(token);
}

static void test_hs256_valid(void)
{
  char token[TOKEN_BUF];
  const char *payload = "{\"iss\":\"Vonage\",\"iat\":1704110400,\"n\":[1,{\"a\":null}]}";
  make_token("{\"typ\":\"JWT\",\"alg\":\"HS256\"}", payload, SECRET, token);
  static dt_jwt_result res;
  CHECK_EQ_INT(verify_opts(token, &plain, &res), 0);
  CHECK_EQ_STR(res.payload, payload);
  CHECK_EQ_INT(res.payload_len, strlen(payload));
}

static void test_hs256_tampering(void)
{
  char token[TOKEN_BUF], other[TOKEN_BUF];
  make_token("{\"alg\":\"HS256\"}", "{\"admin\":false}", SECRET, token);
  make_token("{\"alg\":\"HS256\"}", "{\"admin\":true}", SECRET, other);
  /* other's payload with token's signature */
  char *dot1 = strchr(token, '.'), *dot2 = strrchr(token, '.');
  char *odot1 = strchr(other, '.'), *odot2 = strrchr(other, '.');
  char mixed[TOKEN_BUF];
  snprintf(mixed, sizeof mixed, "%.*s%.*s%s", (int)(dot1 - token), token,
           (int)(odot2 - odot1), odot1, dot2);
  CHECK_EQ_INT(verify(mixed), DT_JWT_BAD_SIGNATURE);
  dot2[1] = dot2[1] == 'A' ? 'B' : 'A';
  CHECK_EQ_INT(verify(token), DT_JWT_BAD_SIGNATURE);
  make_token("{\"alg\":\"HS256\"}", "{\"admin\":false}", "another secret", token);
  CHECK_EQ_INT(verify(token), DT_JWT_BAD_SIGNATURE);
  /* the signature truncated by one byte */
  make_token("{\"alg\":\"HS256\"}", "{}", SECRET, token);
  token[strlen(token) - 3] = '\0';
  CHECK_EQ_INT(verify(token), DT_JWT_BAD_SIGNATURE);
}

static void test_hs256_alg_confusion(void)
{
  char token[TOKEN_BUF];
  CHECK_EQ_INT(header_rc("{\"alg\":\"none\"}"), DT_JWT_ALG);
  CHECK_EQ_INT(header_rc("{\"alg\":\"RS256\",\"typ\":\"JWT\"}"), DT_JWT_ALG);
  CHECK_EQ_INT(header_rc("{\"alg\":\"hs256\"}"), DT_JWT_ALG);
  CHECK_EQ_INT(header_rc("{\"alg\":\"HS256 \"}"), DT_JWT_ALG);
  CHECK_EQ_INT(header_rc("{\"alg\":\"HS512\"}"), DT_JWT_ALG);
  CHECK_EQ_INT(header_rc("{\"typ\":\"JWT\"}"), DT_JWT_ALG);
  CHECK_EQ_INT(header_rc("{\"alg\":null}"), DT_JWT_ALG);
  CHECK_EQ_INT(header_rc("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(header_rc("{\"alg\":\"none\",\"alg\":\"HS256\"}"), DT_JWT_MALFORMED);
  /* the classic unsigned token: "alg":"none" and an empty signature */
  size_t n = b64url("{\"alg\":\"none\"}", 14, token);
  token[n++] = '.';
  n += b64url("{\"iss\":\"Vonage\"}", 16, token + n);
  strcpy(token + n, ".");
  CHECK_EQ_INT(verify(token), DT_JWT_ALG);
  /* an HS256 header with an empty signature */
  n = b64url("{\"alg\":\"HS256\"}", 15, token);
  token[n++] = '.';
  n += b64url("{}", 2, token + n);
  strcpy(token + n, ".");
  CHECK_EQ_INT(verify(token), DT_JWT_BAD_SIGNATURE);
}

static int time_rc(const char *payload, double leeway, double max_age)
{
  char token[TOKEN_BUF];
  static dt_jwt_result res;
  make_token("{\"alg\":\"HS256\"}", payload, SECRET, token);
  dt_jwt_verify_opts opts = { .now = NOW, .leeway = leeway, .max_age = max_age };
  return verify_opts(token, &opts, &res);
}

static void test_hs256_expiry_and_leeway(void)
{
  CHECK_EQ_INT(time_rc("{\"exp\":1704110300}", 30, 0), DT_JWT_EXPIRED);
  CHECK_EQ_INT(time_rc("{\"exp\":1704110370}", 30, 0), DT_JWT_EXPIRED); /* exp + leeway == now */
  CHECK_EQ_INT(time_rc("{\"exp\":1704110371}", 30, 0), 0);
  CHECK_EQ_INT(time_rc("{\"exp\":1704110400}", 0, 0), DT_JWT_EXPIRED);
  CHECK_EQ_INT(time_rc("{\"exp\":1704110400.5}", 0, 0), 0);
  CHECK_EQ_INT(time_rc("{\"exp\":1704110401}", 0, 0), 0);
  CHECK_EQ_INT(time_rc("{\"nbf\":1704110431}", 30, 0), DT_JWT_NOT_YET_VALID);
  CHECK_EQ_INT(time_rc("{\"nbf\":1704110430}", 30, 0), 0);
  CHECK_EQ_INT(time_rc("{\"nbf\":1704110401}", 0, 0), DT_JWT_NOT_YET_VALID);
  CHECK_EQ_INT(time_rc("{\"iat\":1704110431}", 30, 0), DT_JWT_NOT_YET_VALID);
  CHECK_EQ_INT(time_rc("{\"iat\":1704110430}", 30, 0), 0);
  CHECK_EQ_INT(time_rc("{\"iat\":1704110300}", 30, 60), DT_JWT_EXPIRED);
  CHECK_EQ_INT(time_rc("{\"iat\":1704110310}", 30, 60), 0); /* exactly max_age + leeway old */
  CHECK_EQ_INT(time_rc("{\"iat\":1704110309}", 30, 60), DT_JWT_EXPIRED);
  CHECK_EQ_INT(time_rc("{}", 30, 60), DT_JWT_CLAIM_MISMATCH);
  CHECK_EQ_INT(time_rc("{\"exp\":\"1704110500\"}", 30, 0), DT_JWT_MALFORMED);
  CHECK_EQ_INT(time_rc("{\"nbf\":true}", 30, 0), DT_JWT_MALFORMED);
  CHECK_EQ_INT(time_rc("{\"exp\":1e999}", 30, 0), DT_JWT_MALFORMED);
  CHECK_EQ_INT(time_rc("{\"exp\":1704110500}", -1, 0), DT_JWT_BAD_OPTIONS);
  CHECK_EQ_INT(time_rc("{\"exp\":1704110500}", NAN, 0), DT_JWT_BAD_OPTIONS);
}

static int claims_rc(const char *payload, const dt_jwt_claim *claims, size_t n,
                     const char **bad)
{
  char token[TOKEN_BUF];
  static dt_jwt_result res;
  make_token("{\"alg\":\"HS256\"}", payload, SECRET, token);
  dt_jwt_verify_opts opts = { .now = NOW, .leeway = 30, .claims = claims, .nclaims = n };
  int rc = verify_opts(token, &opts, &res);
  *bad = res.bad_claim;
  return rc;
}

static void test_hs256_claims(void)
{
  const dt_jwt_claim want[] = {
    { .name = "iss", .type = DT_JWT_STRING, .str = "Vonage", .str_len = 6 },
    { .name = "n", .type = DT_JWT_NUMBER, .num = 7 },
    { .name = "ok", .type = DT_JWT_BOOL, .boolean = 1 },
  };
  const char *bad = NULL;
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonage\",\"n\":7,\"ok\":true}", want, 3, &bad), 0);
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonagee\",\"n\":7,\"ok\":true}", want, 3, &bad),
               DT_JWT_CLAIM_MISMATCH);
  CHECK_EQ_STR(bad, "iss");
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonag\",\"n\":7,\"ok\":true}", want, 3, &bad),
               DT_JWT_CLAIM_MISMATCH);
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonage\",\"n\":\"7\",\"ok\":true}", want, 3, &bad),
               DT_JWT_CLAIM_MISMATCH);
  CHECK_EQ_STR(bad, "n");
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonage\",\"n\":7,\"ok\":1}", want, 3, &bad),
               DT_JWT_CLAIM_MISMATCH);
  CHECK_EQ_STR(bad, "ok");
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonage\",\"n\":7}", want, 3, &bad), DT_JWT_CLAIM_MISMATCH);
  CHECK_EQ_STR(bad, "ok");
  CHECK_EQ_INT(claims_rc("{\"ISS\":\"Vonage\",\"n\":7,\"ok\":true}", want, 1, &bad),
               DT_JWT_CLAIM_MISMATCH);
  /* a duplicate claim cannot show one value to the check and another to the caller */
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonage\",\"iss\":\"Evil\"}", want, 1, &bad),
               DT_JWT_MALFORMED);
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonage\\u0000Evil\"}", want, 1, &bad), DT_JWT_MALFORMED);
  CHECK_EQ_INT(claims_rc("{\"iss\":\"Vonage\",\"t\":\"\\\\u0000\"}", want, 1, &bad), 0);
}

static void test_hs256_malformed(void)
{
  char token[TOKEN_BUF];
  CHECK_EQ_INT(verify(""), DT_JWT_MALFORMED);
  CHECK_EQ_INT(verify("abc"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(verify("abc.def"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(verify(".e30.abc"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(verify("e30..abc"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(payload_rc("not json"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(payload_rc("[1,2]"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(payload_rc("\"str\""), DT_JWT_MALFORMED);
  CHECK_EQ_INT(payload_rc("{} {}"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(payload_rc("{\"a\":1"), DT_JWT_MALFORMED);
  CHECK_EQ_INT(payload_rc(" {\"a\":1} \n"), 0);
  CHECK_EQ_INT(header_rc("HS256"), DT_JWT_MALFORMED);
  make_token("{\"alg\":\"HS256\"}", "{}", SECRET, token);
  size_t n = strlen(token);
  strcat(token, ".x");
  CHECK_EQ_INT(verify(token), DT_JWT_MALFORMED);
  token[n] = '\0';
  CHECK_EQ_INT(verify(token), 0);
  char padded[TOKEN_BUF + 1];
  memcpy(padded, token, n);
  memcpy(padded + n, "=", 2);
  CHECK_EQ_INT(verify(padded), DT_JWT_MALFORMED);
  token[1] = '*';
  CHECK_EQ_INT(verify(token), DT_JWT_MALFORMED);
  token[1] = '+';
  CHECK_EQ_INT(verify(token), DT_JWT_MALFORMED);
}

static void test_hs256_size_cap(void)
{
  static char big[TOKEN_BUF], payload[DT_JWT_MAX_TOKEN];
  /* a valid token just under the cap is accepted; one byte of payload more is not */
  size_t fill = 6000;
  for (;;) {
    snprintf(payload, sizeof payload, "{\"p\":\"%0*d\"}", (int)fill, 0);
    make_token("{\"alg\":\"HS256\"}", payload, SECRET, big);
    if (strlen(big) <= DT_JWT_MAX_TOKEN) break;
    fill--;
  }
  CHECK_EQ_INT(verify(big), 0);
  for (;;) {
    snprintf(payload, sizeof payload, "{\"p\":\"%0*d\"}", (int)++fill, 0);
    make_token("{\"alg\":\"HS256\"}", payload, SECRET, big);
    if (strlen(big) > DT_JWT_MAX_TOKEN) break;
  }
  CHECK_EQ_INT(verify(big), DT_JWT_MALFORMED);
}

static void test_hs256_secret_required(void)
{
  static dt_jwt_result res;
  char token[TOKEN_BUF];
  make_token("{\"alg\":\"HS256\"}", "{}", "", token);
  CHECK_EQ_INT(dt_jwt_verify_hs256(token, strlen(token), "", 0, &plain, &res), DT_JWT_NO_SECRET);
}

static void test_vonage_signed_webhook_vector(void)
{
  const char *token =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJpYXQiOjE3MDQxMTA0MDAsImp0aSI6ImM1YmE4ZjI0LTFhMTQtNGMxMC1iZmRmLTNmYmU4Y2U1MTFiNSIsImlzcy"
    "I6IlZvbmFnZSIsInBheWxvYWRfaGFzaCI6ImVkMDliNzhiYTg2NjEzYzVhMmMzNzBiZmMxMGYxMDBjYjIxZDViYjE3"
    "MzZhYjM4NWM2MmQ3Nzg0OTI0ZTljMTMiLCJhcGlfa2V5IjoiYTFiMmMzZDQiLCJhcHBsaWNhdGlvbl9pZCI6ImFhYW"
    "FhYWFhLWJiYmItY2NjYy1kZGRkLTAxMjM0NTY3ODlhYiJ9."
    "9Rkpsfxs2juFJbUYMn5VgwrwiUljmlENNZxUY8-1gNI";
  const char *body =
    "{\"from\":\"447700900000\",\"to\":\"447700900001\",\"uuid\":\"aaaaaaaa-bbbb-cccc-dddd-"
    "0123456789ab\",\"conversation_uuid\":\"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab\",\"status\":"
    "\"answered\",\"direction\":\"outbound\",\"timestamp\":\"2024-01-01T12:00:00.000Z\"}";
  uint8_t hash[DT_SHA256_LEN];
  char hex[2 * DT_SHA256_LEN + 1];
  CHECK_EQ_INT(dt_sha256(body, strlen(body), hash), 0);
  for (size_t i = 0; i < sizeof hash; i++) snprintf(hex + 2 * i, 3, "%02x", hash[i]);
  CHECK_EQ_STR(hex, "ed09b78ba86613c5a2c370bfc10f100cb21d5bb1736ab385c62d7784924e9c13");
  const dt_jwt_claim want[] = {
    { .name = "iss", .type = DT_JWT_STRING, .str = "Vonage", .str_len = 6 },
    { .name = "api_key", .type = DT_JWT_STRING, .str = "a1b2c3d4", .str_len = 8 },
    { .name = "application_id", .type = DT_JWT_STRING,
      .str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", .str_len = 36 },
    { .name = "payload_hash", .type = DT_JWT_STRING, .str = hex, .str_len = 64 },
  };
  dt_jwt_verify_opts opts = { .now = NOW + 120, .leeway = 30, .max_age = 300, .claims = want,
                              .nclaims = 4 };
  static dt_jwt_result res;
  CHECK_EQ_INT(verify_opts(token, &opts, &res), 0);
  CHECK(strstr(res.payload, "\"jti\":\"c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5\"") != NULL);
  opts.now = NOW + 400;
  CHECK_EQ_INT(verify_opts(token, &opts, &res), DT_JWT_EXPIRED);
  CHECK_EQ_INT(dt_jwt_verify_hs256(token, strlen(token), "wrong", 5, &plain, &res),
               DT_JWT_BAD_SIGNATURE);
}

TEST_MAIN(TEST(test_rs256_sign_pkcs8_and_pkcs1), TEST(test_rs256_refuses_unusable_keys),
          TEST(test_hs256_valid), TEST(test_hs256_tampering), TEST(test_hs256_alg_confusion),
          TEST(test_hs256_expiry_and_leeway), TEST(test_hs256_claims), TEST(test_hs256_malformed),
          TEST(test_hs256_size_cap), TEST(test_hs256_secret_required),
          TEST(test_vonage_signed_webhook_vector))
