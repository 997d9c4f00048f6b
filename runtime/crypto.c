/* HMAC, SHA-256, comparison, randomness, RS256 signing, Ed25519 verification and AES-256-GCM
 * on OpenSSL 3's EVP layer. Every failure path clears OpenSSL's error queue so a later,
 * unrelated call never sees it. */
#include "crypto.h"

#include <limits.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

int dt_hmac(dt_hash hash, const void *key, size_t key_len, const void *msg, size_t msg_len,
            uint8_t out[DT_HMAC_MAX_LEN], size_t *out_len)
{
  const char *digest = hash == DT_HASH_SHA1 ? "SHA1" : "SHA256";
  /* OpenSSL wants non-NULL pointers even for empty inputs. */
  if (!EVP_Q_mac(NULL, "HMAC", NULL, digest, NULL, key_len ? key : "", key_len,
                 (const unsigned char *)(msg_len ? msg : ""), msg_len, out, DT_HMAC_MAX_LEN,
                 out_len)) {
    ERR_clear_error();
    return DT_CRYPTO_ERR;
  }
  return 0;
}

int dt_sha256(const void *msg, size_t len, uint8_t out[DT_SHA256_LEN])
{
  unsigned int n = 0;
  if (EVP_Digest(len ? msg : "", len, out, &n, EVP_sha256(), NULL) != 1 || n != DT_SHA256_LEN) {
    ERR_clear_error();
    return DT_CRYPTO_ERR;
  }
  return 0;
}

int dt_crypto_equal(const void *a, size_t a_len, const void *b, size_t b_len)
{
  if (a_len != b_len) return 0;
  return a_len == 0 || CRYPTO_memcmp(a, b, a_len) == 0;
}

int dt_random_bytes(void *out, size_t n)
{
  if (n == 0) return 0;
  if (n > INT_MAX) return DT_CRYPTO_TOO_LARGE;
  if (RAND_bytes(out, (int)n) != 1) {
    ERR_clear_error();
    return DT_CRYPTO_ERR;
  }
  return 0;
}

int dt_hs256_verify(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    const uint8_t *sig, size_t sig_len)
{
  uint8_t mac[DT_HMAC_MAX_LEN];
  size_t mac_len;
  int rc = dt_hmac(DT_HASH_SHA256, key, key_len, msg, msg_len, mac, &mac_len);
  if (rc == 0 && !dt_crypto_equal(mac, mac_len, sig, sig_len)) rc = DT_CRYPTO_MISMATCH;
  OPENSSL_cleanse(mac, sizeof mac);
  return rc;
}

/* Refuses encrypted keys instead of prompting on the terminal (OpenSSL's default). */
static int no_password(char *buf, int size, int rwflag, void *u)
{
  (void)buf, (void)size, (void)rwflag, (void)u;
  return -1;
}

static int load_rsa_key(const char *pem, size_t pem_len, EVP_PKEY **out)
{
  if (pem_len > DT_PEM_MAX) return DT_CRYPTO_TOO_LARGE;
  BIO *bio = BIO_new_mem_buf(pem_len ? pem : "", (int)pem_len);
  if (!bio) {
    ERR_clear_error();
    return DT_CRYPTO_ERR;
  }
  EVP_PKEY *pkey = PEM_read_bio_PrivateKey(bio, NULL, no_password, NULL);
  BIO_free(bio);
  ERR_clear_error();
  if (!pkey) return DT_CRYPTO_BAD_PEM;
  int rc = 0;
  if (!EVP_PKEY_is_a(pkey, "RSA")) rc = DT_CRYPTO_NOT_RSA;
  else if (EVP_PKEY_get_bits(pkey) < DT_RSA_MIN_BITS) rc = DT_CRYPTO_WEAK_KEY;
  if (rc != 0) {
    EVP_PKEY_free(pkey);
    return rc;
  }
  *out = pkey;
  return 0;
}

static int sign_with(EVP_PKEY *pkey, const void *msg, size_t msg_len, uint8_t *sig, size_t cap,
                     size_t *sig_len)
{
  int size = EVP_PKEY_get_size(pkey);
  if (size <= 0) return DT_CRYPTO_ERR;
  if ((size_t)size > cap) return DT_CRYPTO_TOO_LARGE;
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  if (!ctx) return DT_CRYPTO_ERR;
  size_t len = cap;
  int ok = EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
           EVP_DigestSign(ctx, sig, &len, msg_len ? msg : (const void *)"", msg_len) == 1;
  EVP_MD_CTX_free(ctx);
  if (!ok) return DT_CRYPTO_ERR;
  *sig_len = len;
  return 0;
}

int dt_rs256_sign(const char *pem, size_t pem_len, const void *msg, size_t msg_len,
                  uint8_t *sig, size_t cap, size_t *sig_len)
{
  EVP_PKEY *pkey = NULL;
  int rc = load_rsa_key(pem, pem_len, &pkey);
  if (rc != 0) return rc;
  rc = sign_with(pkey, msg, msg_len, sig, cap, sig_len);
  EVP_PKEY_free(pkey);
  ERR_clear_error();
  return rc;
}

int dt_ed25519_verify(const uint8_t pub[DT_ED25519_KEY_LEN], const void *msg, size_t msg_len,
                      const uint8_t sig[DT_ED25519_SIG_LEN])
{
  EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, DT_ED25519_KEY_LEN);
  EVP_MD_CTX *ctx = pkey ? EVP_MD_CTX_new() : NULL;
  int rc = DT_CRYPTO_ERR;
  /* Ed25519 is one-shot: no digest (NULL) and a single EVP_DigestVerify over the message. */
  if (ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1) {
    /* Anything but 1 is a refusal: a key off the curve or a malformed signature included. */
    const unsigned char *tbs = msg_len ? msg : (const void *)"";
    rc = EVP_DigestVerify(ctx, sig, DT_ED25519_SIG_LEN, tbs, msg_len) == 1 ? 0 : DT_CRYPTO_MISMATCH;
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  ERR_clear_error();
  return rc;
}

const char *dt_crypto_strerror(int rc)
{
  switch (rc) {
  case 0: return "ok";
  case DT_CRYPTO_BAD_PEM: return "not a PEM private key (PKCS#1 or PKCS#8, unencrypted)";
  case DT_CRYPTO_NOT_RSA: return "not an RSA private key";
  case DT_CRYPTO_WEAK_KEY: return "RSA key shorter than 2048 bits";
  case DT_CRYPTO_TOO_LARGE: return "input too large";
  case DT_CRYPTO_MISMATCH: return "bad signature";
  default: return "OpenSSL failure";
  }
}

/* Feeds n bytes through ctx: AAD when out is NULL. Skipped for n = 0 (OpenSSL wants a buffer). */
static int gcm_update(EVP_CIPHER_CTX *ctx, int encrypt, uint8_t *out, const void *in, size_t n)
{
  int written = 0;
  if (n == 0) return 1;
  return encrypt ? EVP_EncryptUpdate(ctx, out, &written, in, (int)n) == 1
                 : EVP_DecryptUpdate(ctx, out, &written, in, (int)n) == 1;
}

int dt_aes256_gcm_encrypt(const uint8_t key[DT_AES256_KEY_LEN], const uint8_t nonce[DT_GCM_NONCE_LEN],
                          const void *aad, size_t aad_len, const void *plain, size_t len, uint8_t *out,
                          uint8_t tag[DT_GCM_TAG_LEN])
{
  if (len > DT_GCM_MAX || aad_len > DT_GCM_MAX) return DT_CRYPTO_TOO_LARGE;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  uint8_t last[16];
  int n = 0;
  int ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, nonce) == 1 &&
           gcm_update(ctx, 1, NULL, aad, aad_len) && gcm_update(ctx, 1, out, plain, len) &&
           EVP_EncryptFinal_ex(ctx, last, &n) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, DT_GCM_TAG_LEN, tag) == 1;
  EVP_CIPHER_CTX_free(ctx);
  ERR_clear_error();
  return ok ? 0 : DT_CRYPTO_ERR;
}

int dt_aes256_gcm_seal(const uint8_t key[DT_AES256_KEY_LEN], const void *aad, size_t aad_len,
                       const void *plain, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
  if (len > DT_GCM_MAX) return DT_CRYPTO_TOO_LARGE;
  if (cap < len + DT_GCM_OVERHEAD) return DT_CRYPTO_TOO_LARGE;
  int rc = dt_random_bytes(out, DT_GCM_NONCE_LEN);
  if (rc == 0)
    rc = dt_aes256_gcm_encrypt(key, out, aad, aad_len, plain, len, out + DT_GCM_NONCE_LEN,
                               out + DT_GCM_NONCE_LEN + len);
  if (rc == 0) *out_len = len + DT_GCM_OVERHEAD;
  return rc;
}

int dt_aes256_gcm_open(const uint8_t key[DT_AES256_KEY_LEN], const void *aad, size_t aad_len,
                       const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t cap, size_t *out_len)
{
  if (sealed_len < DT_GCM_OVERHEAD) return DT_CRYPTO_MISMATCH;
  size_t len = sealed_len - DT_GCM_OVERHEAD;
  if (len > DT_GCM_MAX || aad_len > DT_GCM_MAX || cap < len) return DT_CRYPTO_TOO_LARGE;
  /* OpenSSL's SET_TAG takes a non-const pointer. */
  uint8_t tag[DT_GCM_TAG_LEN], last[16];
  memcpy(tag, sealed + DT_GCM_NONCE_LEN + len, DT_GCM_TAG_LEN);
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  int n = 0, rc = DT_CRYPTO_ERR;
  if (ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
      gcm_update(ctx, 0, NULL, aad, aad_len) && gcm_update(ctx, 0, out, sealed + DT_GCM_NONCE_LEN, len) &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, DT_GCM_TAG_LEN, tag) == 1)
    rc = EVP_DecryptFinal_ex(ctx, last, &n) == 1 ? 0 : DT_CRYPTO_MISMATCH;
  EVP_CIPHER_CTX_free(ctx);
  ERR_clear_error();
  if (rc != 0) OPENSSL_cleanse(out, len);
  else *out_len = len;
  return rc;
}
