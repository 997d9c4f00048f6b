/* crypto: RFC 2202 HMAC-SHA1, RFC 4231 HMAC-SHA256, NIST SHA-256, comparison, randomness,
 * RFC 8032 Ed25519 with the Telnyx vector of spec/telnyx-plivo.md A.2, AES-256-GCM with the
 * GCM specification's test cases (McGrew & Viega, as published by NIST) and a NIST CAVP
 * vector, and every X-Twilio-Signature vector of spec/twilio.md §6. */
#include "crypto.h"

#include <stdlib.h>

#include "base64.h"
#include "testlib.h"

static void to_hex(const uint8_t *in, size_t n, char *out)
{
  static const char digits[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = digits[in[i] >> 4];
    out[2 * i + 1] = digits[in[i] & 15];
  }
  out[2 * n] = '\0';
}

/* hex of the first `truncate` bytes (0 = all) of the HMAC. */
static int hmac_is(dt_hash hash, const uint8_t *key, size_t key_len, const char *msg,
                   size_t msg_len, size_t truncate, const char *expected)
{
  uint8_t mac[DT_HMAC_MAX_LEN];
  char hex[2 * DT_HMAC_MAX_LEN + 1];
  size_t len = 0;
  if (dt_hmac(hash, key, key_len, msg, msg_len, mac, &len) != 0) return 0;
  if (len != (hash == DT_HASH_SHA1 ? DT_SHA1_LEN : DT_SHA256_LEN)) return 0;
  to_hex(mac, truncate ? truncate : len, hex);
  if (strcmp(hex, expected) != 0) fprintf(stderr, "  got %s\n  expected %s\n", hex, expected);
  return strcmp(hex, expected) == 0;
}

/* The RFC 2202 / RFC 4231 test cases share keys and data. */
typedef struct {
  uint8_t key[131];
  size_t key_len;
  char data[160];
  size_t data_len;
} hmac_case;

static void fill(hmac_case *c, uint8_t key_byte, size_t key_len, const char *data)
{
  memset(c->key, key_byte, key_len);
  c->key_len = key_len;
  c->data_len = strlen(data);
  memcpy(c->data, data, c->data_len);
}

static void fill_bytes(hmac_case *c, uint8_t key_byte, size_t key_len, char data_byte, size_t n)
{
  memset(c->key, key_byte, key_len);
  c->key_len = key_len;
  memset(c->data, data_byte, n);
  c->data_len = n;
}

static void counting_key(hmac_case *c)
{
  for (int i = 0; i < 25; i++) c->key[i] = (uint8_t)(i + 1);
  c->key_len = 25;
  memset(c->data, 0xcd, 50);
  c->data_len = 50;
}

#define HMAC_OK(hash, c, trunc, hex) \
  CHECK(hmac_is(hash, (c).key, (c).key_len, (c).data, (c).data_len, trunc, hex))

static void test_hmac_sha1_rfc2202(void)
{
  hmac_case c;
  fill(&c, 0x0b, 20, "Hi There");
  HMAC_OK(DT_HASH_SHA1, c, 0, "b617318655057264e28bc0b6fb378c8ef146be00");
  CHECK(hmac_is(DT_HASH_SHA1, (const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28, 0,
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"));
  fill_bytes(&c, 0xaa, 20, (char)0xdd, 50);
  HMAC_OK(DT_HASH_SHA1, c, 0, "125d7342b9ac11cd91a39af48aa17b4f63f175d3");
  counting_key(&c);
  HMAC_OK(DT_HASH_SHA1, c, 0, "4c9007f4026250c6bc8414f9bf50c86c2d7235da");
  fill(&c, 0x0c, 20, "Test With Truncation");
  HMAC_OK(DT_HASH_SHA1, c, 0, "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04");
  fill(&c, 0xaa, 80, "Test Using Larger Than Block-Size Key - Hash Key First");
  HMAC_OK(DT_HASH_SHA1, c, 0, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
  fill(&c, 0xaa, 80, "Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data");
  HMAC_OK(DT_HASH_SHA1, c, 0, "e8e99d0f45237d786d6bbaa7965c7808bbff1a91");
}

static void test_hmac_sha256_rfc4231(void)
{
  hmac_case c;
  fill(&c, 0x0b, 20, "Hi There");
  HMAC_OK(DT_HASH_SHA256, c, 0, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(hmac_is(DT_HASH_SHA256, (const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28,
                0, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
  fill_bytes(&c, 0xaa, 20, (char)0xdd, 50);
  HMAC_OK(DT_HASH_SHA256, c, 0, "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  counting_key(&c);
  HMAC_OK(DT_HASH_SHA256, c, 0, "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  fill(&c, 0x0c, 20, "Test With Truncation");
  HMAC_OK(DT_HASH_SHA256, c, 16, "a3b6167473100ee06e0c796c2955552b");
  fill(&c, 0xaa, 131, "Test Using Larger Than Block-Size Key - Hash Key First");
  HMAC_OK(DT_HASH_SHA256, c, 0, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  fill(&c, 0xaa, 131, "This is a test using a larger than block-size key and a larger than "
                      "block-size data. The key needs to be hashed before being used by the "
                      "HMAC algorithm.");
  HMAC_OK(DT_HASH_SHA256, c, 0, "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void test_hmac_empty_key_and_message(void)
{
  CHECK(hmac_is(DT_HASH_SHA256, NULL, 0, NULL, 0, 0,
                "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"));
}

static int sha256_is(const char *msg, size_t len, const char *expected)
{
  uint8_t out[DT_SHA256_LEN];
  char hex[2 * DT_SHA256_LEN + 1];
  if (dt_sha256(msg, len, out) != 0) return 0;
  to_hex(out, sizeof out, hex);
  return strcmp(hex, expected) == 0;
}

static void test_sha256_nist(void)
{
  CHECK(sha256_is("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
  CHECK(sha256_is("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  CHECK(sha256_is(two, strlen(two),
                  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"));
  char *million = malloc(1000000);
  CHECK(million != NULL);
  if (!million) return;
  memset(million, 'a', 1000000);
  CHECK(sha256_is(million, 1000000,
                  "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"));
  free(million);
}

static void test_constant_time_equal(void)
{
  CHECK(dt_crypto_equal("abc", 3, "abc", 3));
  CHECK(dt_crypto_equal("", 0, "", 0));
  CHECK(dt_crypto_equal(NULL, 0, "x", 0));
  CHECK(!dt_crypto_equal("abc", 3, "abd", 3));
  CHECK(!dt_crypto_equal("abc", 3, "ab", 2));
  CHECK(!dt_crypto_equal("a\0b", 3, "a\0c", 3));
}

static void test_random_bytes(void)
{
  uint8_t a[32] = { 0 }, b[32] = { 0 }, zero[32] = { 0 };
  CHECK_EQ_INT(dt_random_bytes(a, sizeof a), 0);
  CHECK_EQ_INT(dt_random_bytes(b, sizeof b), 0);
  CHECK(memcmp(a, b, sizeof a) != 0);
  CHECK(memcmp(a, zero, sizeof a) != 0);
  CHECK_EQ_INT(dt_random_bytes(NULL, 0), 0);
}

static void test_hs256_verify(void)
{
  uint8_t mac[DT_HMAC_MAX_LEN];
  size_t len;
  CHECK_EQ_INT(dt_hmac(DT_HASH_SHA256, "k", 1, "m", 1, mac, &len), 0);
  CHECK_EQ_INT(dt_hs256_verify("k", 1, "m", 1, mac, len), 0);
  CHECK_EQ_INT(dt_hs256_verify("k", 1, "m", 1, mac, len - 1), DT_CRYPTO_MISMATCH);
  mac[31] ^= 1;
  CHECK_EQ_INT(dt_hs256_verify("k", 1, "m", 1, mac, len), DT_CRYPTO_MISMATCH);
}

static void test_rs256_rejects_bad_pem(void)
{
  uint8_t sig[DT_RSA_MAX_SIG];
  size_t len;
  const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
  CHECK_EQ_INT(dt_rs256_sign("", 0, "m", 1, sig, sizeof sig, &len), DT_CRYPTO_BAD_PEM);
  CHECK_EQ_INT(dt_rs256_sign(junk, strlen(junk), "m", 1, sig, sizeof sig, &len),
               DT_CRYPTO_BAD_PEM);
  CHECK_EQ_INT(dt_rs256_sign(junk, DT_PEM_MAX + 1, "m", 1, sig, sizeof sig, &len),
               DT_CRYPTO_TOO_LARGE);
  CHECK_EQ_STR(dt_crypto_strerror(DT_CRYPTO_NOT_RSA), "not an RSA private key");
}

/* ---- Ed25519 (RFC 8032 §7.1, spec/telnyx-plivo.md A.2) ---- */

static int from_hex(const char *hex, uint8_t *out, size_t n)
{
  if (strlen(hex) != 2 * n) return 0;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    if (sscanf(hex + 2 * i, "%2x", &v) != 1) return 0;
    out[i] = (uint8_t)v;
  }
  return 1;
}

/* RFC 8032 test 1: the key pair the Telnyx vector below also uses. */
#define RFC8032_KEY1 "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
#define RFC8032_SIG1                                                  \
  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555" \
  "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"

static void test_ed25519_rfc8032(void)
{
  uint8_t key[DT_ED25519_KEY_LEN], sig[DT_ED25519_SIG_LEN];
  CHECK(from_hex(RFC8032_KEY1, key, sizeof key));
  CHECK(from_hex(RFC8032_SIG1, sig, sizeof sig));
  CHECK_EQ_INT(dt_ed25519_verify(key, NULL, 0, sig), 0);
  CHECK_EQ_INT(dt_ed25519_verify(key, "\x72", 1, sig), DT_CRYPTO_MISMATCH);
  /* test 2: one byte, another key */
  CHECK(from_hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", key, sizeof key));
  CHECK(from_hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                 "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00", sig, sizeof sig));
  CHECK_EQ_INT(dt_ed25519_verify(key, "\x72", 1, sig), 0);
  CHECK_EQ_INT(dt_ed25519_verify(key, NULL, 0, sig), DT_CRYPTO_MISMATCH);
}

#define TELNYX_BODY                                                                           \
  "{\"data\":{\"event_type\":\"call.answered\",\"id\":\"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0\"," \
  "\"occurred_at\":\"2024-01-01T00:00:00.000000Z\",\"payload\":{\"call_control_id\":\"v3:abc\","  \
  "\"state\":\"answered\"},\"record_type\":\"event\"}}"

/* The base64 key and signature of the spec, decoded; the signed text is "<timestamp>|<body>". */
static void telnyx_vector(uint8_t key[DT_ED25519_KEY_LEN], uint8_t sig[DT_ED25519_SIG_LEN])
{
  const char *k = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=";
  const char *s = "1EZsZtKroear5W7iJbfFe3zsuuMF4uZJzThD1fjWMaYz/Ef0vsJSTsDIfMd8pkw7nPGdaLMiG24ns64VijABAw==";
  size_t len = 0;
  CHECK_EQ_INT(dt_base64_decode(k, strlen(k), key, DT_ED25519_KEY_LEN, DT_BASE64_STD, &len), 0);
  CHECK_EQ_INT(len, DT_ED25519_KEY_LEN);
  CHECK_EQ_INT(dt_base64_decode(s, strlen(s), sig, DT_ED25519_SIG_LEN, DT_BASE64_STD, &len), 0);
  CHECK_EQ_INT(len, DT_ED25519_SIG_LEN);
}

static void test_ed25519_telnyx_vector(void)
{
  uint8_t key[DT_ED25519_KEY_LEN], sig[DT_ED25519_SIG_LEN], rfc_key[DT_ED25519_KEY_LEN];
  telnyx_vector(key, sig);
  CHECK(from_hex(RFC8032_KEY1, rfc_key, sizeof rfc_key));
  CHECK(memcmp(key, rfc_key, sizeof key) == 0);
  const char *msg = "1700000000|" TELNYX_BODY;
  size_t len = strlen(msg);
  CHECK_EQ_INT(len, 11 + 207);
  CHECK_EQ_INT(dt_ed25519_verify(key, msg, len, sig), 0);
  CHECK_EQ_INT(dt_ed25519_verify(key, msg, len - 1, sig), DT_CRYPTO_MISMATCH);
  CHECK_EQ_INT(dt_ed25519_verify(key, "1700000001|" TELNYX_BODY, len, sig), DT_CRYPTO_MISMATCH);
}

static void test_ed25519_tampering(void)
{
  uint8_t key[DT_ED25519_KEY_LEN], sig[DT_ED25519_SIG_LEN];
  telnyx_vector(key, sig);
  const char *msg = "1700000000|" TELNYX_BODY;
  size_t len = strlen(msg);
  char copy[512];
  memcpy(copy, msg, len);
  copy[len - 3] ^= 0x01;
  CHECK_EQ_INT(dt_ed25519_verify(key, copy, len, sig), DT_CRYPTO_MISMATCH);
  for (size_t i = 0; i < DT_ED25519_SIG_LEN; i += 21) {
    sig[i] ^= 0x40;
    CHECK_EQ_INT(dt_ed25519_verify(key, msg, len, sig), DT_CRYPTO_MISMATCH);
    sig[i] ^= 0x40;
  }
  key[5] ^= 0x01;
  CHECK_EQ_INT(dt_ed25519_verify(key, msg, len, sig), DT_CRYPTO_MISMATCH);
  key[5] ^= 0x01;
  CHECK_EQ_INT(dt_ed25519_verify(key, msg, len, sig), 0);
}

/* Hostile keys and signatures are refusals, never errors: y = 2 is not on the curve, an all-ones
 * S is not below the group order, and zero bytes are the identity and a degenerate R. */
static void test_ed25519_hostile(void)
{
  uint8_t key[DT_ED25519_KEY_LEN], sig[DT_ED25519_SIG_LEN], off_curve[DT_ED25519_KEY_LEN] = { 2 };
  uint8_t zero_key[DT_ED25519_KEY_LEN] = { 0 }, zero_sig[DT_ED25519_SIG_LEN] = { 0 };
  telnyx_vector(key, sig);
  const char *msg = "1700000000|" TELNYX_BODY;
  CHECK_EQ_INT(dt_ed25519_verify(off_curve, msg, strlen(msg), sig), DT_CRYPTO_MISMATCH);
  CHECK_EQ_INT(dt_ed25519_verify(zero_key, msg, strlen(msg), sig), DT_CRYPTO_MISMATCH);
  CHECK_EQ_INT(dt_ed25519_verify(key, msg, strlen(msg), zero_sig), DT_CRYPTO_MISMATCH);
  memset(sig + 32, 0xff, 32);
  CHECK_EQ_INT(dt_ed25519_verify(key, msg, strlen(msg), sig), DT_CRYPTO_MISMATCH);
}

/* ---- X-Twilio-Signature (spec/twilio.md §6) ---- */

typedef struct {
  const char *name, *value;
} param;

static int by_name_then_value(const void *a, const void *b)
{
  const param *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : strcmp(x->value, y->value);
}

/* URL, then name+value for the params sorted by name then value, each distinct pair once. */
static void build_signed_string(const char *url, param *params, size_t n, char *out, size_t cap)
{
  if (n > 1) qsort(params, n, sizeof *params, by_name_then_value);
  snprintf(out, cap, "%s", url);
  for (size_t i = 0; i < n; i++) {
    if (i > 0 && by_name_then_value(&params[i - 1], &params[i]) == 0) continue;
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "%s%s", params[i].name, params[i].value);
  }
}

static int twilio_signature_is(const char *url, param *params, size_t n, const char *expected)
{
  char text[1024], b64[64];
  uint8_t mac[DT_HMAC_MAX_LEN];
  size_t mac_len, b64_len;
  build_signed_string(url, params, n, text, sizeof text);
  if (dt_hmac(DT_HASH_SHA1, "12345", 5, text, strlen(text), mac, &mac_len) != 0 ||
      dt_base64_encode(mac, mac_len, b64, sizeof b64, DT_BASE64_STD, &b64_len) != 0)
    return 0;
  return dt_crypto_equal(b64, b64_len, expected, strlen(expected));
}

#define TWILIO_URL "mycompany.com/myapp.php?foo=1&bar=2"

static void test_twilio_form_post_and_ports(void)
{
  param p[] = {
    { "To", "+18005551212" },   { "From", "+14158675309" }, { "Digits", "1234" },
    { "Caller", "+14158675309" }, { "CallSid", "CA1234567890ABCDE" },
  };
  size_t n = sizeof p / sizeof p[0];
  char text[1024];
  build_signed_string("https://" TWILIO_URL, p, n, text, sizeof text);
  CHECK_EQ_STR(text, "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDE"
                     "Caller+14158675309Digits1234From+14158675309To+18005551212");
  CHECK(twilio_signature_is("https://" TWILIO_URL, p, n, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
  CHECK(twilio_signature_is("https://mycompany.com:443/myapp.php?foo=1&bar=2", p, n,
                            "kvajT1Ptam85bY51eRf/AJRuM3w="));
  CHECK(twilio_signature_is("http://mycompany.com:80/myapp.php?foo=1&bar=2", p, n,
                            "0ZXoZLH/DfblKGATFgpif+LLRf4="));
  CHECK(twilio_signature_is("http://mycompany.com:1234/myapp.php?foo=1&bar=2", p, n,
                            "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="));
  CHECK(!twilio_signature_is("https://" TWILIO_URL, p, n, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
  CHECK(!twilio_signature_is("https://" TWILIO_URL, p, n - 1, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
}

static void test_twilio_repeated_keys(void)
{
  param p[] = { { "Sid", "CA123" }, { "SidAccount", "AC123" }, { "Digits", "5678" },
                { "Digits", "1234" }, { "Digits", "1234" } };
  size_t n = sizeof p / sizeof p[0];
  char text[1024];
  build_signed_string("https://" TWILIO_URL, p, n, text, sizeof text);
  CHECK_EQ_STR(text, "https://" TWILIO_URL "Digits1234Digits5678SidCA123SidAccountAC123");
  CHECK(twilio_signature_is("https://" TWILIO_URL, p, n, "IK+Dwps556ElfBT0I3Rgjkr1wJU="));
}

static void test_twilio_json_body_and_websocket(void)
{
  const char *body = "{\"property\": \"value\", \"boolean\": true}";
  uint8_t hash[DT_SHA256_LEN];
  char hex[2 * DT_SHA256_LEN + 1], url[256];
  CHECK_EQ_INT(dt_sha256(body, strlen(body), hash), 0);
  to_hex(hash, sizeof hash, hex);
  CHECK_EQ_STR(hex, "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620");
  snprintf(url, sizeof url, "https://" TWILIO_URL "&bodySHA256=%s", hex);
  CHECK(twilio_signature_is(url, NULL, 0, "a9nBmqA0ju/hNViExpshrM61xv4="));
  CHECK(twilio_signature_is("wss://mycompany.com/media", NULL, 0, "okykUWKkAOgQseVjzERZh4soLeU="));
}

/* ---- AES-256-GCM ---- */

typedef struct {
  const char *key, *iv, *plain, *aad, *cipher, *tag;
} gcm_vector;

/* GCM spec test cases 13, 14 and 16 (AES-256, 96-bit IV) and CAVP gcmEncryptExtIV256 count 0. */
static const gcm_vector gcm_vectors[] = {
  { "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000", "", "", "",
    "530f8afbc74536b9a963b4f1c4cb738b" },
  { "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
    "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18", "d0d1c8a799996bf0265b98b5d48ab919" },
  { "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    "feedfacedeadbeeffeedfacedeadbeefabaddad2",
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    "76fc6ece0f4e1768cddf8853bb2d551b" },
  { "b52c505a37d78eda5dd34f20c22540ea1b58963cf8e5bf8ffa85f9f2492505b4", "516c33929df5a3284ff463d7", "", "", "",
    "bdc1ac884d332457a1d2664f168c76f0" },
};

static void test_aes_gcm_vectors(void)
{
  for (size_t i = 0; i < sizeof gcm_vectors / sizeof gcm_vectors[0]; i++) {
    const gcm_vector *v = &gcm_vectors[i];
    uint8_t key[32], iv[12], plain[64], aad[32], cipher[64], tag[16], sealed[128], opened[64];
    size_t n = strlen(v->plain) / 2, a = strlen(v->aad) / 2, len = 0;
    char hex[129];
    CHECK(from_hex(v->key, key, 32) && from_hex(v->iv, iv, 12) && from_hex(v->plain, plain, n) &&
          from_hex(v->aad, aad, a));
    CHECK_EQ_INT(dt_aes256_gcm_encrypt(key, iv, aad, a, plain, n, cipher, tag), 0);
    to_hex(cipher, n, hex);
    CHECK_EQ_STR(hex, v->cipher);
    to_hex(tag, 16, hex);
    CHECK_EQ_STR(hex, v->tag);
    /* The sealed layout is nonce || ciphertext || tag: the vector opens. */
    memcpy(sealed, iv, 12);
    memcpy(sealed + 12, cipher, n);
    memcpy(sealed + 12 + n, tag, 16);
    CHECK_EQ_INT(dt_aes256_gcm_open(key, aad, a, sealed, n + DT_GCM_OVERHEAD, opened, sizeof opened, &len), 0);
    CHECK_EQ_INT(len, n);
    CHECK(memcmp(opened, plain, n) == 0);
  }
}

static void test_aes_gcm_seal_open_and_tampering(void)
{
  uint8_t key[32], other[32], sealed[64 + DT_GCM_OVERHEAD], again[64 + DT_GCM_OVERHEAD], out[64];
  const char msg[] = "{\"auth_token\":\"s3cret\"}";
  const char aad[] = "telephony_configs:cfg_1";
  size_t n = strlen(msg), len = 0, len2 = 0;
  memset(key, 7, sizeof key);
  memcpy(other, key, sizeof other);
  other[31] ^= 1;
  CHECK_EQ_INT(dt_aes256_gcm_seal(key, aad, strlen(aad), msg, n, sealed, sizeof sealed, &len), 0);
  CHECK_EQ_INT(len, n + DT_GCM_OVERHEAD);
  CHECK(memmem(sealed, len, "s3cret", 6) == NULL);
  /* A fresh nonce each time: sealing the same text twice gives different bytes. */
  CHECK_EQ_INT(dt_aes256_gcm_seal(key, aad, strlen(aad), msg, n, again, sizeof again, &len2), 0);
  CHECK(memcmp(sealed, again, 12) != 0 && memcmp(sealed, again, len) != 0);
  CHECK_EQ_INT(dt_aes256_gcm_open(key, aad, strlen(aad), sealed, len, out, sizeof out, &len2), 0);
  CHECK(len2 == n && memcmp(out, msg, n) == 0);
  /* Every single flipped bit (nonce, ciphertext or tag), another key, another AAD: refused. */
  for (size_t i = 0; i < len; i++) {
    sealed[i] ^= 0x10;
    CHECK_EQ_INT(dt_aes256_gcm_open(key, aad, strlen(aad), sealed, len, out, sizeof out, &len2), DT_CRYPTO_MISMATCH);
    sealed[i] ^= 0x10;
  }
  CHECK_EQ_INT(dt_aes256_gcm_open(other, aad, strlen(aad), sealed, len, out, sizeof out, &len2), DT_CRYPTO_MISMATCH);
  for (size_t i = 0; i < n; i++) CHECK(out[i] == 0); /* nothing of a refused plaintext is left */
  CHECK_EQ_INT(dt_aes256_gcm_open(key, "telephony_configs:cfg_2", 23, sealed, len, out, sizeof out, &len2),
               DT_CRYPTO_MISMATCH);
  /* Truncated below nonce + tag, or a buffer too small. */
  CHECK_EQ_INT(dt_aes256_gcm_open(key, aad, strlen(aad), sealed, DT_GCM_OVERHEAD - 1, out, sizeof out, &len2),
               DT_CRYPTO_MISMATCH);
  CHECK_EQ_INT(dt_aes256_gcm_open(key, aad, strlen(aad), sealed, len - 1, out, sizeof out, &len2), DT_CRYPTO_MISMATCH);
  CHECK_EQ_INT(dt_aes256_gcm_open(key, aad, strlen(aad), sealed, len, out, n - 1, &len2), DT_CRYPTO_TOO_LARGE);
  CHECK_EQ_INT(dt_aes256_gcm_seal(key, aad, strlen(aad), msg, n, again, n + DT_GCM_OVERHEAD - 1, &len2), DT_CRYPTO_TOO_LARGE);
}

TEST_MAIN(TEST(test_hmac_sha1_rfc2202), TEST(test_hmac_sha256_rfc4231),
          TEST(test_hmac_empty_key_and_message), TEST(test_sha256_nist),
          TEST(test_constant_time_equal), TEST(test_random_bytes), TEST(test_hs256_verify),
          TEST(test_rs256_rejects_bad_pem), TEST(test_ed25519_rfc8032),
          TEST(test_ed25519_telnyx_vector), TEST(test_ed25519_tampering), TEST(test_ed25519_hostile),
          TEST(test_aes_gcm_vectors), TEST(test_aes_gcm_seal_open_and_tampering),
          TEST(test_twilio_form_post_and_ports),
          TEST(test_twilio_repeated_keys), TEST(test_twilio_json_body_and_websocket))
