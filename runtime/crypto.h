/* Cryptographic primitives on OpenSSL's EVP layer: HMAC-SHA1/SHA-256, SHA-256, constant-time
 * comparison, random bytes, RSASSA-PKCS1-v1_5 SHA-256 (RS256) signing with a PEM key and
 * Ed25519 signature verification, AES-256-GCM for secrets at rest.
 * Base64 lives in base64.h; compact JWTs in jwt.h. */
#ifndef DT_CRYPTO_H
#define DT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define DT_SHA1_LEN 20
#define DT_SHA256_LEN 32
#define DT_HMAC_MAX_LEN DT_SHA256_LEN
#define DT_RSA_MIN_BITS 2048  /* RFC 7518 §3.3: RS256 keys of 2048 bits or more */
#define DT_RSA_MAX_SIG 2048   /* signature bytes of a 16384-bit key */
#define DT_PEM_MAX (64 * 1024)
#define DT_ED25519_KEY_LEN 32
#define DT_ED25519_SIG_LEN 64
#define DT_AES256_KEY_LEN 32
#define DT_GCM_NONCE_LEN 12
#define DT_GCM_TAG_LEN 16
#define DT_GCM_OVERHEAD (DT_GCM_NONCE_LEN + DT_GCM_TAG_LEN)
#define DT_GCM_MAX ((size_t)1 << 24) /* plaintext and AAD bytes */

typedef enum { DT_HASH_SHA1, DT_HASH_SHA256 } dt_hash;

enum {
  DT_CRYPTO_ERR = -1,       /* OpenSSL failed (out of memory, ...) */
  DT_CRYPTO_BAD_PEM = -2,   /* not a PEM private key (or an encrypted one) */
  DT_CRYPTO_NOT_RSA = -3,   /* a private key, but not RSA */
  DT_CRYPTO_WEAK_KEY = -4,  /* RSA key shorter than DT_RSA_MIN_BITS */
  DT_CRYPTO_TOO_LARGE = -5, /* an input or output beyond the limits above */
  DT_CRYPTO_MISMATCH = -6,  /* a signature that does not verify */
};

/* HMAC of msg under key into out (DT_SHA1_LEN or DT_SHA256_LEN bytes, *out_len says which). */
int dt_hmac(dt_hash hash, const void *key, size_t key_len, const void *msg, size_t msg_len,
            uint8_t out[DT_HMAC_MAX_LEN], size_t *out_len);
int dt_sha256(const void *msg, size_t len, uint8_t out[DT_SHA256_LEN]);

/* 1 when the two byte strings are equal, else 0. Time depends on the lengths only. */
int dt_crypto_equal(const void *a, size_t a_len, const void *b, size_t b_len);

/* n bytes from OpenSSL's CSPRNG. */
int dt_random_bytes(void *out, size_t n);

/* RS256 signature of msg with an RSA private key in PEM (PKCS#1 "RSA PRIVATE KEY" or PKCS#8
 * "PRIVATE KEY"; encrypted keys are refused). Writes *sig_len (the key's size in bytes) bytes
 * to sig; cap must be at least that (DT_RSA_MAX_SIG always is). */
int dt_rs256_sign(const char *pem, size_t pem_len, const void *msg, size_t msg_len,
                  uint8_t *sig, size_t cap, size_t *sig_len);

/* 0 when sig is the HMAC-SHA256 of msg under key (compared in constant time), else
 * DT_CRYPTO_MISMATCH (or DT_CRYPTO_ERR). */
int dt_hs256_verify(const void *key, size_t key_len, const void *msg, size_t msg_len,
                    const uint8_t *sig, size_t sig_len);

/* 0 when sig (DT_ED25519_SIG_LEN bytes) is a valid Ed25519 (RFC 8032, pure) signature of msg
 * under the raw public key pub (DT_ED25519_KEY_LEN bytes); DT_CRYPTO_MISMATCH when it is not,
 * including for a key that is not a valid curve point; DT_CRYPTO_ERR when OpenSSL fails. */
int dt_ed25519_verify(const uint8_t pub[DT_ED25519_KEY_LEN], const void *msg, size_t msg_len,
                      const uint8_t sig[DT_ED25519_SIG_LEN]);

/* AES-256-GCM encryption of len bytes of plain under key with a 96-bit nonce: len bytes of
 * ciphertext to out, and the tag. The nonce must never be used twice with the same key. */
int dt_aes256_gcm_encrypt(const uint8_t key[DT_AES256_KEY_LEN], const uint8_t nonce[DT_GCM_NONCE_LEN],
                          const void *aad, size_t aad_len, const void *plain, size_t len, uint8_t *out,
                          uint8_t tag[DT_GCM_TAG_LEN]);
/* Seals plain with a fresh random nonce: out = nonce || ciphertext || tag, len +
 * DT_GCM_OVERHEAD bytes (cap must hold them) in *out_len. */
int dt_aes256_gcm_seal(const uint8_t key[DT_AES256_KEY_LEN], const void *aad, size_t aad_len,
                       const void *plain, size_t len, uint8_t *out, size_t cap, size_t *out_len);
/* Opens what dt_aes256_gcm_seal wrote: the plaintext (sealed_len - DT_GCM_OVERHEAD bytes, cap
 * must hold them) to out. DT_CRYPTO_MISMATCH when the tag does not verify: another key,
 * another AAD, or altered bytes; out is then zeroed. */
int dt_aes256_gcm_open(const uint8_t key[DT_AES256_KEY_LEN], const void *aad, size_t aad_len,
                       const uint8_t *sealed, size_t sealed_len, uint8_t *out, size_t cap, size_t *out_len);

/* A short English description of a DT_CRYPTO_* code. */
const char *dt_crypto_strerror(int rc);
#endif
