/* Organisations and their API keys. A key is "dt_" + base64url of 30 random bytes, returned
 * once; the store keeps only its SHA-256 (lowercase hex) and its first characters. */
#include "store_priv.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base64.h"
#include "crypto.h"

#define KEY_RANDOM 30
#define KEY_MAX 256 /* bytes of anything offered as a key */

static const char SQL_ORG_INSERT[] = "INSERT INTO organizations(id, name, created_at) VALUES(?1, ?2, ?3)";
static const char SQL_KEY_INSERT[] =
  "INSERT INTO api_keys(organization_id, key_hash, prefix, created_at) VALUES(?1, ?2, ?3, ?4)";
static const char SQL_KEYS_REVOKE[] =
  "UPDATE api_keys SET revoked_at = ?2 WHERE organization_id = ?1 AND revoked_at IS NULL";
static const char SQL_ORG_GET[] = "SELECT id, name, created_at FROM organizations WHERE id = ?1";
static const char SQL_ORG_BY_NAME[] = "SELECT id, name, created_at FROM organizations WHERE name = ?1";
static const char SQL_ORGS[] = "SELECT id, name, created_at FROM organizations ORDER BY created_at, rowid";
static const char SQL_ORG_FOR_KEY[] =
  "SELECT o.id, o.name, o.created_at FROM api_keys k JOIN organizations o ON o.id = k.organization_id"
  " WHERE k.key_hash = ?1 AND k.revoked_at IS NULL";

static void hash_hex(const char *key, size_t len, char hex[2 * DT_SHA256_LEN + 1])
{
  uint8_t digest[DT_SHA256_LEN];
  if (dt_sha256(key, len, digest) != 0) memset(digest, 0, sizeof digest);
  for (size_t i = 0; i < sizeof digest; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
}

static int new_key(dt_store *s, char key[DT_API_KEY_LEN + 1])
{
  uint8_t raw[KEY_RANDOM];
  size_t len = 0;
  memcpy(key, "dt_", 3);
  int rc = dt_random_bytes(raw, sizeof raw) == 0 &&
           dt_base64_encode(raw, sizeof raw, key + 3, DT_API_KEY_LEN - 3, DT_BASE64_URL, &len) == 0 &&
           len == DT_API_KEY_LEN - 3;
  OPENSSL_cleanse(raw, sizeof raw);
  key[DT_API_KEY_LEN] = '\0';
  return rc ? DT_STORE_OK : dt_store_fail(s, DT_STORE_ERROR, "cannot make an API key");
}

/* Makes a key for the organisation and records its hash. */
static int add_key(dt_store *s, const char *org_id, size_t org_len, double now, char key[DT_API_KEY_LEN + 1])
{
  char hex[2 * DT_SHA256_LEN + 1];
  int rc = new_key(s, key);
  if (rc != DT_STORE_OK) return rc;
  hash_hex(key, DT_API_KEY_LEN, hex);
  sqlite3_stmt *st = dt_store_sql(s, SQL_KEY_INSERT);
  if (!st) return DT_STORE_ERROR;
  rc = dt_store_bind_text(st, 1, org_id, org_len);
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 2, hex, strlen(hex));
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 3, key, DT_API_KEY_PREFIX_LEN);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(st, 4, now);
  return dt_store_done(s, st, rc == SQLITE_OK ? sqlite3_step(st) : rc);
}

static int insert_org(dt_store *s, const dt_store_org *org)
{
  sqlite3_stmt *st = dt_store_sql(s, SQL_ORG_INSERT);
  if (!st) return DT_STORE_ERROR;
  int rc = dt_store_bind_text(st, 1, org->id, strlen(org->id));
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 2, org->name, strlen(org->name));
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(st, 3, org->created_at);
  return dt_store_done(s, st, rc == SQLITE_OK ? sqlite3_step(st) : rc);
}

int dt_store_org_create(dt_store *s, const char *name, size_t len, double now, dt_store_org *org,
                        char key[DT_API_KEY_LEN + 1])
{
  if (!dt_store_valid_name(name, len))
    return dt_store_fail(s, DT_STORE_INVALID, "the name must be 1..%d characters, no control characters",
                         DT_STORE_MAX_NAME);
  memset(org, 0, sizeof *org);
  memcpy(org->name, name, len);
  org->created_at = now;
  int rc = dt_store_new_id(s, "org_", org->id);
  if (rc == DT_STORE_OK) rc = dt_store_begin(s);
  if (rc != DT_STORE_OK) return rc;
  rc = insert_org(s, org);
  if (rc == DT_STORE_OK) rc = add_key(s, org->id, strlen(org->id), now, key);
  return dt_store_end(s, rc);
}

static int read_org(dt_store *s, sqlite3_stmt *st, dt_store_org *org)
{
  int rc = sqlite3_step(st);
  int out = DT_STORE_OK;
  if (rc == SQLITE_ROW) {
    const char *id = (const char *)sqlite3_column_text(st, 0), *name = (const char *)sqlite3_column_text(st, 1);
    if (!id || !name || snprintf(org->id, sizeof org->id, "%s", id) >= (int)sizeof org->id ||
        snprintf(org->name, sizeof org->name, "%s", name) >= (int)sizeof org->name)
      out = dt_store_fail(s, DT_STORE_ERROR, "malformed organisation row");
    org->created_at = sqlite3_column_double(st, 2);
  } else {
    out = rc == SQLITE_DONE ? dt_store_fail(s, DT_STORE_NOT_FOUND, "not found") : dt_store_sqlite_fail(s, rc);
  }
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

/* The organisation the statement sql finds for its one text parameter. */
static int org_by(dt_store *s, const char *sql, const char *text, size_t len, dt_store_org *org)
{
  if (len == 0 || len > DT_STORE_MAX_TEXT) return dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  sqlite3_stmt *st = dt_store_sql(s, sql);
  if (!st) return DT_STORE_ERROR;
  int rc = dt_store_bind_text(st, 1, text, len);
  return rc == SQLITE_OK ? read_org(s, st, org) : dt_store_sqlite_fail(s, rc);
}

int dt_store_org_get(dt_store *s, const char *id, size_t len, dt_store_org *org)
{
  return org_by(s, SQL_ORG_GET, id, len, org);
}

int dt_store_org_find(dt_store *s, const char *id_or_name, size_t len, dt_store_org *org)
{
  int rc = org_by(s, SQL_ORG_GET, id_or_name, len, org);
  return rc == DT_STORE_NOT_FOUND ? org_by(s, SQL_ORG_BY_NAME, id_or_name, len, org) : rc;
}

int dt_store_orgs_list(dt_store *s, int (*each)(void *ud, const dt_store_org *org), void *ud)
{
  sqlite3_stmt *st = dt_store_sql(s, SQL_ORGS);
  if (!st) return DT_STORE_ERROR;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    dt_store_org org;
    const char *id = (const char *)sqlite3_column_text(st, 0), *name = (const char *)sqlite3_column_text(st, 1);
    if (!id || !name) break;
    snprintf(org.id, sizeof org.id, "%s", id);
    snprintf(org.name, sizeof org.name, "%s", name);
    org.created_at = sqlite3_column_double(st, 2);
    if (each(ud, &org) != 0) {
      rc = SQLITE_DONE;
      break;
    }
  }
  int out = rc == SQLITE_DONE ? DT_STORE_OK : dt_store_sqlite_fail(s, rc == SQLITE_ROW ? SQLITE_NOMEM : rc);
  sqlite3_reset(st);
  return out;
}

int dt_store_org_for_key(dt_store *s, const char *key, size_t len, dt_store_org *org)
{
  char hex[2 * DT_SHA256_LEN + 1];
  if (len == 0 || len > KEY_MAX) return dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  hash_hex(key, len, hex);
  return org_by(s, SQL_ORG_FOR_KEY, hex, strlen(hex), org);
}

int dt_store_key_rotate(dt_store *s, const char *org_id, size_t len, double now, char key[DT_API_KEY_LEN + 1])
{
  dt_store_org org;
  int rc = dt_store_begin(s);
  if (rc != DT_STORE_OK) return rc;
  rc = dt_store_org_get(s, org_id, len, &org);
  sqlite3_stmt *st = rc == DT_STORE_OK ? dt_store_sql(s, SQL_KEYS_REVOKE) : NULL;
  if (rc == DT_STORE_OK && !st) rc = DT_STORE_ERROR;
  if (rc == DT_STORE_OK) {
    int b = dt_store_bind_text(st, 1, org_id, len);
    if (b == SQLITE_OK) b = sqlite3_bind_double(st, 2, now);
    rc = dt_store_done(s, st, b == SQLITE_OK ? sqlite3_step(st) : b);
  }
  if (rc == DT_STORE_OK) rc = add_key(s, org_id, len, now, key);
  return dt_store_end(s, rc);
}
