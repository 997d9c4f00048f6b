/* Telephony configurations: several per organisation, one the default; the secret fields
 * sealed with AES-256-GCM under the master key, bound to the row by the AAD
 * "telephony_configs:<id>" so sealed secrets copied onto another row do not open. */
#include "store_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "config_fields.h"
#include "crypto.h"

#define COLUMNS "SELECT id, organization_id, name, provider, settings, secrets, is_default, created_at," \
                " updated_at FROM telephony_configs"
enum { C_ID, C_ORG, C_NAME, C_PROVIDER, C_SETTINGS, C_SECRETS, C_DEFAULT, C_CREATED, C_UPDATED };

static const char SQL_GET[] = COLUMNS " WHERE organization_id = ?1 AND id = ?2";
static const char SQL_DEFAULT[] = COLUMNS " WHERE organization_id = ?1 AND is_default = 1";
static const char SQL_LIST[] = COLUMNS " WHERE organization_id = ?1 ORDER BY created_at, rowid";
static const char SQL_INSERT[] =
  "INSERT INTO telephony_configs(id, organization_id, name, provider, settings, secrets, is_default,"
  " created_at, updated_at) VALUES(?2, ?1, ?3, ?4, ?5, ?6,"
  " ?7 OR NOT EXISTS(SELECT 1 FROM telephony_configs WHERE organization_id = ?1), ?8, ?8)";
static const char SQL_UPDATE[] =
  "UPDATE telephony_configs SET name = ?3, provider = ?4, settings = ?5, secrets = ?6, updated_at = ?7"
  " WHERE organization_id = ?1 AND id = ?2";
static const char SQL_CLEAR_DEFAULT[] =
  "UPDATE telephony_configs SET is_default = 0 WHERE organization_id = ?1 AND is_default = 1";
static const char SQL_SET_DEFAULT[] = "UPDATE telephony_configs SET is_default = 1 WHERE organization_id = ?1 AND id = ?2";
static const char SQL_DELETE[] = "DELETE FROM telephony_configs WHERE organization_id = ?1 AND id = ?2";
static const char SQL_DEFAULT_OLDEST[] =
  "UPDATE telephony_configs SET is_default = 1 WHERE id = (SELECT id FROM telephony_configs"
  " WHERE organization_id = ?1 ORDER BY created_at, rowid LIMIT 1)"
  " AND NOT EXISTS(SELECT 1 FROM telephony_configs WHERE organization_id = ?1 AND is_default = 1)";
static const char SQL_ANY_SEALED[] = "SELECT EXISTS(SELECT 1 FROM telephony_configs WHERE secrets IS NOT NULL)";

/* A configuration in memory: its texts and its fields merged (secrets decrypted). */
typedef struct {
  char id[DT_STORE_ID_SIZE];
  char name[DT_STORE_NAME_SIZE], provider[DT_STORE_NAME_SIZE];
  cJSON *settings; /* every field */
  cJSON *names;    /* of the secret fields */
} config;

static void config_free(config *c)
{
  cJSON_Delete(c->settings);
  cJSON_Delete(c->names);
}

static void aad_of(const char *id, char aad[64])
{
  snprintf(aad, 64, "telephony_configs:%s", id);
}

static int need_key(dt_store *s)
{
  return s->has_master_key ? DT_STORE_OK : dt_store_fail(s, DT_STORE_ERROR, "no master key is loaded");
}

/* Opens the secrets of row id into a parsed object. */
static int open_secrets(dt_store *s, const char *id, const void *sealed, size_t len, cJSON **out)
{
  char aad[64];
  aad_of(id, aad);
  size_t plain_len = 0, cap = len >= DT_GCM_OVERHEAD ? len - DT_GCM_OVERHEAD : 0;
  char *plain = malloc(cap + 1);
  if (!plain) return dt_store_fail(s, DT_STORE_ERROR, "out of memory");
  int rc = need_key(s);
  if (rc == DT_STORE_OK && dt_aes256_gcm_open(s->master_key, aad, strlen(aad), sealed, len, (uint8_t *)plain, cap,
                                              &plain_len) != 0)
    rc = dt_store_fail(s, DT_STORE_ERROR, "cannot decrypt the secrets of configuration %s: wrong master key?", id);
  char why[128];
  if (rc == DT_STORE_OK && !(*out = dt_config_fields_parse(plain, plain_len, 1, why, sizeof why)))
    rc = dt_store_fail(s, DT_STORE_ERROR, "configuration %s: sealed secrets: %s", id, why);
  OPENSSL_cleanse(plain, cap + 1);
  free(plain);
  return rc;
}

static int copy_text(sqlite3_stmt *st, int col, char *out, size_t size)
{
  const char *text = (const char *)sqlite3_column_text(st, col);
  return text && snprintf(out, size, "%s", text) < (int)size ? 0 : -1;
}

/* Reads the current row of st into c (merged fields). */
static int read_config(dt_store *s, sqlite3_stmt *st, config *c)
{
  memset(c, 0, sizeof *c);
  if (copy_text(st, C_ID, c->id, sizeof c->id) || copy_text(st, C_NAME, c->name, sizeof c->name) ||
      copy_text(st, C_PROVIDER, c->provider, sizeof c->provider))
    return dt_store_fail(s, DT_STORE_ERROR, "malformed configuration row");
  char why[128];
  const char *settings = (const char *)sqlite3_column_text(st, C_SETTINGS);
  c->settings = settings ? dt_config_fields_parse(settings, (size_t)sqlite3_column_bytes(st, C_SETTINGS), 1, why, sizeof why) : NULL;
  if (!c->settings) return dt_store_fail(s, DT_STORE_ERROR, "configuration %s: malformed settings", c->id);
  cJSON *secrets = NULL;
  int rc = DT_STORE_OK;
  if (sqlite3_column_type(st, C_SECRETS) != SQLITE_NULL)
    rc = open_secrets(s, c->id, sqlite3_column_blob(st, C_SECRETS), (size_t)sqlite3_column_bytes(st, C_SECRETS), &secrets);
  if (rc == DT_STORE_OK && !secrets) secrets = cJSON_CreateObject();
  if (rc == DT_STORE_OK && (!secrets || !(c->names = dt_config_fields_merge(c->settings, secrets))))
    rc = dt_store_fail(s, DT_STORE_ERROR, "out of memory");
  cJSON_Delete(secrets);
  return rc;
}

static int text_cell(const dt_store_visitor *v, void *ud, const char *name, const char *text)
{
  dt_store_value val = { .type = DT_STORE_TEXT, .text = text, .len = strlen(text) };
  return v->cell(ud, name, &val);
}

static int real_cell(const dt_store_visitor *v, void *ud, const char *name, sqlite3_stmt *st, int col)
{
  dt_store_value val = { .type = DT_STORE_REAL, .real = sqlite3_column_double(st, col) };
  return v->cell(ud, name, &val);
}

/* Gives v the row of c (settings and names: its fields and secret names as JSON text), up to
 * the first callback that stops. */
static int emit_config(dt_store *s, sqlite3_stmt *st, const config *c, const char *org, const char *settings,
                       const char *names, const dt_store_visitor *v, void *ud)
{
  dt_store_value is_default = { .type = DT_STORE_INTEGER, .integer = sqlite3_column_int64(st, C_DEFAULT) };
  int stop = v->begin_row(ud) || text_cell(v, ud, "id", c->id) || text_cell(v, ud, "organization_id", org) ||
             text_cell(v, ud, "name", c->name) || text_cell(v, ud, "provider", c->provider) ||
             text_cell(v, ud, "settings", settings) || text_cell(v, ud, "secret_fields", names) ||
             v->cell(ud, "is_default", &is_default) || real_cell(v, ud, "created_at", st, C_CREATED) ||
             real_cell(v, ud, "updated_at", st, C_UPDATED) || v->end_row(ud);
  return stop ? dt_store_stopped(s) : DT_STORE_OK;
}

/* Visits the current row of st as one configuration. */
static int visit_config(dt_store *s, sqlite3_stmt *st, const dt_store_visitor *v, void *ud)
{
  config c;
  int rc = read_config(s, st, &c);
  char *settings = rc == DT_STORE_OK ? cJSON_PrintUnformatted(c.settings) : NULL;
  char *names = rc == DT_STORE_OK ? cJSON_PrintUnformatted(c.names) : NULL;
  const char *org = (const char *)sqlite3_column_text(st, C_ORG);
  if (rc == DT_STORE_OK && (!settings || !names || !org)) rc = dt_store_fail(s, DT_STORE_ERROR, "out of memory");
  if (rc == DT_STORE_OK) rc = emit_config(s, st, &c, org, settings, names, v, ud);
  if (settings) OPENSSL_cleanse(settings, strlen(settings));
  cJSON_free(settings);
  cJSON_free(names);
  config_free(&c);
  return rc;
}

/* Binds the organisation at ?1 (and the id at ?2 when id is not NULL) to sql's statement. */
static int bound(dt_store *s, const char *sql, const char *org, size_t org_len, const char *id, size_t id_len,
                 sqlite3_stmt **out)
{
  if (org_len == 0 || org_len > DT_STORE_MAX_TEXT || (id && (id_len == 0 || id_len > DT_STORE_MAX_TEXT)))
    return dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  sqlite3_stmt *st = dt_store_sql(s, sql);
  if (!st) return DT_STORE_ERROR;
  int rc = dt_store_bind_text(st, 1, org, org_len);
  if (rc == SQLITE_OK && id) rc = dt_store_bind_text(st, 2, id, id_len);
  if (rc != SQLITE_OK) return dt_store_sqlite_fail(s, rc);
  *out = st;
  return DT_STORE_OK;
}

/* Visits every row of st; DT_STORE_NOT_FOUND for none when one is expected. */
static int visit_configs(dt_store *s, sqlite3_stmt *st, int one, const dt_store_visitor *v, void *ud)
{
  int rc, out = DT_STORE_OK;
  size_t rows = 0;
  while (out == DT_STORE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    out = visit_config(s, st, v, ud);
    rows++;
  }
  if (out == DT_STORE_OK && rc != SQLITE_DONE) out = dt_store_sqlite_fail(s, rc);
  if (out == DT_STORE_OK && one && rows == 0) out = dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

int dt_store_config_get(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len,
                        const dt_store_visitor *v, void *ud)
{
  sqlite3_stmt *st = NULL;
  int rc = bound(s, SQL_GET, org, org_len, id, id_len, &st);
  return rc == DT_STORE_OK ? visit_configs(s, st, 1, v, ud) : rc;
}

int dt_store_config_default(dt_store *s, const char *org, size_t org_len, const dt_store_visitor *v, void *ud)
{
  sqlite3_stmt *st = NULL;
  int rc = bound(s, SQL_DEFAULT, org, org_len, NULL, 0, &st);
  return rc == DT_STORE_OK ? visit_configs(s, st, 1, v, ud) : rc;
}

int dt_store_configs_list(dt_store *s, const char *org, size_t org_len, const dt_store_visitor *v, void *ud)
{
  sqlite3_stmt *st = NULL;
  int rc = bound(s, SQL_LIST, org, org_len, NULL, 0, &st);
  if (rc == DT_STORE_NOT_FOUND) return DT_STORE_OK;
  return rc == DT_STORE_OK ? visit_configs(s, st, 0, v, ud) : rc;
}

int dt_store_configs_sealed(dt_store *s, int *sealed)
{
  sqlite3_stmt *st = dt_store_sql(s, SQL_ANY_SEALED);
  if (!st) return DT_STORE_ERROR;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *sealed = sqlite3_column_int(st, 0) != 0;
  int out = rc == SQLITE_ROW ? DT_STORE_OK : dt_store_sqlite_fail(s, rc);
  sqlite3_reset(st);
  return out;
}

/* The row to write for c: public settings text and sealed secrets (both malloc'd). */
typedef struct {
  char *settings;
  uint8_t *sealed;
  size_t sealed_len;
} sealed_row;

static void sealed_free(sealed_row *r)
{
  cJSON_free(r->settings);
  free(r->sealed);
  r->settings = NULL;
  r->sealed = NULL;
}

/* Splits c's fields (c->settings keeps the public ones) and seals the secret ones. */
static int seal(dt_store *s, config *c, sealed_row *out)
{
  memset(out, 0, sizeof *out);
  char aad[64];
  cJSON *secrets = dt_config_fields_take(c->settings, c->names);
  char *plain = secrets ? cJSON_PrintUnformatted(secrets) : NULL;
  cJSON_Delete(secrets);
  out->settings = plain ? cJSON_PrintUnformatted(c->settings) : NULL;
  size_t len = plain ? strlen(plain) : 0;
  out->sealed = out->settings ? malloc(len + DT_GCM_OVERHEAD) : NULL;
  int rc = out->sealed ? DT_STORE_OK : dt_store_fail(s, DT_STORE_ERROR, "out of memory");
  aad_of(c->id, aad);
  if (rc == DT_STORE_OK && dt_aes256_gcm_seal(s->master_key, aad, strlen(aad), plain, len, out->sealed,
                                              len + DT_GCM_OVERHEAD, &out->sealed_len) != 0)
    rc = dt_store_fail(s, DT_STORE_ERROR, "cannot encrypt the secrets");
  if (plain) OPENSSL_cleanse(plain, len);
  cJSON_free(plain);
  if (rc != DT_STORE_OK) sealed_free(out);
  return rc;
}

static int copy_name(dt_store *s, dt_store_str in, const char *what, char *out)
{
  if (!dt_store_valid_name(in.text, in.len))
    return dt_store_fail(s, DT_STORE_INVALID, "%s must be 1..%d characters, no control characters", what, DT_STORE_MAX_NAME);
  memcpy(out, in.text, in.len);
  out[in.len] = '\0';
  return DT_STORE_OK;
}

/* Applies what in gives to c. */
static int apply_input(dt_store *s, const dt_store_config_in *in, config *c)
{
  char why[160];
  int rc = DT_STORE_OK;
  if (in->name.text) rc = copy_name(s, in->name, "name", c->name);
  if (rc == DT_STORE_OK && in->provider.text) rc = copy_name(s, in->provider, "provider", c->provider);
  if (rc != DT_STORE_OK) return rc;
  if (in->settings.text) {
    cJSON *settings = dt_config_fields_parse(in->settings.text, in->settings.len, 1, why, sizeof why);
    if (!settings) return dt_store_fail(s, DT_STORE_INVALID, "%s", why);
    cJSON_Delete(c->settings);
    c->settings = settings;
  }
  if (in->secret_fields) {
    cJSON *names = dt_config_fields_names(in->secret_fields, in->nsecret, why, sizeof why);
    if (!names) return dt_store_fail(s, DT_STORE_INVALID, "%s", why);
    cJSON_Delete(c->names);
    c->names = names;
  }
  return DT_STORE_OK;
}

/* Binds c's row to an insert or update (?1 org, ?2 id, ?3 name, ?4 provider, ?5 settings, ?6 secrets). */
static int bind_row(sqlite3_stmt *st, const char *org, size_t org_len, const config *c, const sealed_row *r)
{
  int rc = dt_store_bind_text(st, 1, org, org_len);
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 2, c->id, strlen(c->id));
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 3, c->name, strlen(c->name));
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 4, c->provider, strlen(c->provider));
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 5, r->settings, strlen(r->settings));
  if (rc == SQLITE_OK) rc = sqlite3_bind_blob(st, 6, r->sealed, (int)r->sealed_len, SQLITE_STATIC);
  return rc;
}

/* Runs a statement with ?1 org and ?2 id; DT_STORE_NOT_FOUND when it changed no row. */
static int run_on(dt_store *s, const char *sql, const char *org, size_t org_len, const char *id, size_t id_len)
{
  sqlite3_stmt *st = NULL;
  int rc = bound(s, sql, org, org_len, id, id_len, &st);
  if (rc == DT_STORE_OK) rc = dt_store_done(s, st, sqlite3_step(st));
  if (rc == DT_STORE_OK && id && sqlite3_changes(s->db) == 0) rc = dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  return rc;
}

static int insert(dt_store *s, const char *org, size_t org_len, const config *c, const sealed_row *r,
                  int is_default, double now)
{
  int rc = is_default ? run_on(s, SQL_CLEAR_DEFAULT, org, org_len, NULL, 0) : DT_STORE_OK;
  if (rc != DT_STORE_OK) return rc;
  sqlite3_stmt *st = dt_store_sql(s, SQL_INSERT);
  if (!st) return DT_STORE_ERROR;
  int b = bind_row(st, org, org_len, c, r);
  if (b == SQLITE_OK) b = sqlite3_bind_int(st, 7, is_default != 0);
  if (b == SQLITE_OK) b = sqlite3_bind_double(st, 8, now);
  return dt_store_done(s, st, b == SQLITE_OK ? sqlite3_step(st) : b);
}

int dt_store_config_create(dt_store *s, const char *org, size_t org_len, const dt_store_config_in *in,
                           double now, char id[DT_STORE_ID_SIZE])
{
  config c = { .settings = NULL };
  sealed_row r = { NULL, NULL, 0 };
  int rc = need_key(s);
  if (rc == DT_STORE_OK && (!in->name.text || !in->provider.text || !in->settings.text))
    rc = dt_store_fail(s, DT_STORE_INVALID, "name, provider and settings are required");
  if (rc == DT_STORE_OK && (org_len == 0 || org_len > DT_STORE_MAX_TEXT)) rc = dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  if (rc == DT_STORE_OK && !(c.names = cJSON_CreateArray())) rc = dt_store_fail(s, DT_STORE_ERROR, "out of memory");
  if (rc == DT_STORE_OK) rc = apply_input(s, in, &c);
  if (rc == DT_STORE_OK) rc = dt_store_new_id(s, "cfg_", c.id);
  if (rc == DT_STORE_OK) rc = seal(s, &c, &r);
  if (rc == DT_STORE_OK && (rc = dt_store_begin(s)) == DT_STORE_OK)
    rc = dt_store_end(s, insert(s, org, org_len, &c, &r, in->is_default, now));
  if (rc == DT_STORE_OK) memcpy(id, c.id, sizeof c.id);
  sealed_free(&r);
  config_free(&c);
  return rc;
}

/* Reads the organisation's configuration id into c. */
static int load(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len, config *c)
{
  sqlite3_stmt *st = NULL;
  int rc = bound(s, SQL_GET, org, org_len, id, id_len, &st);
  if (rc != DT_STORE_OK) return rc;
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) rc = read_config(s, st, c);
  else rc = step == SQLITE_DONE ? dt_store_fail(s, DT_STORE_NOT_FOUND, "not found") : dt_store_sqlite_fail(s, step);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int update_row(dt_store *s, const char *org, size_t org_len, const dt_store_config_in *in, config *c, double now)
{
  sealed_row r;
  int rc = apply_input(s, in, c);
  if (rc == DT_STORE_OK) rc = seal(s, c, &r);
  if (rc != DT_STORE_OK) return rc;
  sqlite3_stmt *st = dt_store_sql(s, SQL_UPDATE);
  if (!st) rc = DT_STORE_ERROR;
  if (rc == DT_STORE_OK) {
    int b = bind_row(st, org, org_len, c, &r);
    if (b == SQLITE_OK) b = sqlite3_bind_double(st, 7, now);
    rc = dt_store_done(s, st, b == SQLITE_OK ? sqlite3_step(st) : b);
  }
  sealed_free(&r);
  return rc;
}

int dt_store_config_update(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len,
                           const dt_store_config_in *in, double now)
{
  config c = { .settings = NULL };
  int rc = need_key(s);
  if (rc == DT_STORE_OK) rc = dt_store_begin(s);
  if (rc != DT_STORE_OK) return rc;
  rc = load(s, org, org_len, id, id_len, &c);
  if (rc == DT_STORE_OK) rc = update_row(s, org, org_len, in, &c, now);
  config_free(&c);
  return dt_store_end(s, rc);
}

int dt_store_config_delete(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len)
{
  int rc = dt_store_begin(s);
  if (rc != DT_STORE_OK) return rc;
  rc = run_on(s, SQL_DELETE, org, org_len, id, id_len);
  if (rc == DT_STORE_OK) rc = run_on(s, SQL_DEFAULT_OLDEST, org, org_len, NULL, 0);
  return dt_store_end(s, rc);
}

int dt_store_config_set_default(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len)
{
  int rc = dt_store_begin(s);
  if (rc != DT_STORE_OK) return rc;
  rc = run_on(s, SQL_CLEAR_DEFAULT, org, org_len, NULL, 0);
  if (rc == DT_STORE_OK) rc = run_on(s, SQL_SET_DEFAULT, org, org_len, id, id_len);
  return dt_store_end(s, rc);
}
