/* The store's organisations, API keys, telephony configurations (secrets sealed under the
 * master key), phone numbers and workflows; migration 2 applied to an issue-4 database;
 * hostile values. Each case works on its own database file in a temporary directory. */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "first_start.h"
#include "store_stopper.h"
#include "testlib.h"

#define MAX_ROWS 8
#define MAX_CELLS 12

static char dir[64];
static int db_count;
static const uint8_t KEY_A[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
static const uint8_t KEY_B[32] = { 9, 9, 9 };

/* Rows as "name" -> text (numbers printed with %.17g). */
typedef struct {
  char names[MAX_ROWS][MAX_CELLS][32];
  char values[MAX_ROWS][MAX_CELLS][512];
  size_t ncells[MAX_ROWS];
  size_t rows;
} rows_copy;

static int begin_row(void *ud)
{
  rows_copy *r = ud;
  if (r->rows < MAX_ROWS) r->ncells[r->rows] = 0;
  return 0;
}

static int cell(void *ud, const char *name, const dt_store_value *v)
{
  rows_copy *r = ud;
  if (r->rows >= MAX_ROWS || r->ncells[r->rows] >= MAX_CELLS) return 0;
  size_t i = r->ncells[r->rows]++;
  snprintf(r->names[r->rows][i], sizeof r->names[0][0], "%s", name);
  char *out = r->values[r->rows][i];
  if (v->type == DT_STORE_TEXT) snprintf(out, sizeof r->values[0][0], "%.*s", (int)v->len, v->text);
  else if (v->type == DT_STORE_REAL) snprintf(out, sizeof r->values[0][0], "%.17g", v->real);
  else snprintf(out, sizeof r->values[0][0], "%lld", (long long)v->integer);
  return 0;
}

static int end_row(void *ud)
{
  ((rows_copy *)ud)->rows++;
  return 0;
}

static const dt_store_visitor collect = { begin_row, cell, end_row };

static const char *val(const rows_copy *r, size_t row, const char *name)
{
  for (size_t j = 0; row < r->rows && j < r->ncells[row]; j++)
    if (strcmp(r->names[row][j], name) == 0) return r->values[row][j];
  return NULL;
}

static void new_path(char *out, size_t size) { snprintf(out, size, "%s/t%d.db", dir, ++db_count); }

static dt_store *open_ok(const char *path, const uint8_t *key)
{
  char err[512] = "";
  dt_store *s = NULL;
  if (dt_store_open(path, &s, err, sizeof err) != 0) fprintf(stderr, "  open: %s\n", err);
  CHECK(s != NULL);
  if (s && key) dt_store_set_master_key(s, key);
  return s;
}

/* 1 when the bytes of the database file and its WAL contain needle. */
static int file_contains(const char *path, const char *needle)
{
  char wal[160];
  const char *files[] = { path, wal };
  snprintf(wal, sizeof wal, "%s-wal", path);
  for (int i = 0; i < 2; i++) {
    FILE *f = fopen(files[i], "rb");
    if (!f) continue;
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    if (memmem(buf, n, needle, strlen(needle))) return 1;
  }
  return 0;
}

static long long query_int(const char *path, const char *sql)
{
  sqlite3 *db;
  sqlite3_stmt *st;
  long long v = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

static int exec_sql(const char *path, const char *sql)
{
  sqlite3 *db;
  int rc = sqlite3_open(path, &db) == SQLITE_OK ? sqlite3_exec(db, sql, NULL, NULL, NULL) : -1;
  sqlite3_close(db);
  return rc;
}

static dt_store_org make_org(dt_store *s, const char *name, char key[DT_API_KEY_LEN + 1])
{
  dt_store_org org;
  char spare[DT_API_KEY_LEN + 1];
  memset(&org, 0, sizeof org);
  CHECK_EQ_INT(dt_store_org_create(s, name, strlen(name), 1000, &org, key ? key : spare), DT_STORE_OK);
  return org;
}

static void test_setup(void)
{
  snprintf(dir, sizeof dir, "/tmp/dt-store-orgs-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
}

/* An issue-4 database (migration 1 only, with a run and an event) is brought to the current
 * schema at open and keeps its rows. */
static void test_migrates_issue4_database(void)
{
  char path[128], sql[4096];
  new_path(path, sizeof path);
  snprintf(sql, sizeof sql,
           "PRAGMA journal_mode=WAL; CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL) STRICT;"
           "%s INSERT INTO schema_migrations VALUES(1, 1.0);"
           "INSERT INTO workflow_runs(id, organization_id, status, created_at, updated_at) VALUES('old-run', 'acme', 'completed', 5, 6);"
           "INSERT INTO call_events(run_id, received_at, status) VALUES('old-run', 5.5, 'completed');",
           dt_store_schema[0].sql);
  CHECK_EQ_INT(exec_sql(path, sql), SQLITE_OK);
  dt_store *s = open_ok(path, KEY_A);
  if (!s) return;
  CHECK_EQ_INT(dt_store_version(s), 2);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM schema_migrations"), 2);
  rows_copy r = { .rows = 0 };
  CHECK_EQ_INT(dt_store_run_get(s, "old-run", 7, &collect, &r), DT_STORE_OK);
  CHECK_EQ_STR(val(&r, 0, "status"), "completed");
  CHECK(val(&r, 0, "config_id") == NULL);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(dt_store_events_list(s, "old-run", 7, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 1);
  /* The new column takes values; the old run is found by its organisation. */
  size_t c;
  CHECK(dt_store_find_column(DT_STORE_RUNS, "config_id", 9, &c) != NULL);
  dt_store_field f[] = { { c, { DT_STORE_TEXT, "cfg_1", 5, 0, 0 } } };
  CHECK_EQ_INT(dt_store_run_create(s, "new-run", 7, f, 1, 10), DT_STORE_OK);
  dt_store_run_filter acme = { NULL, 0, "acme", 4 };
  int64_t n = -1;
  CHECK_EQ_INT(dt_store_runs_count(s, &acme, &n), DT_STORE_OK);
  CHECK_EQ_INT(n, 1);
  dt_store_org org = make_org(s, "Acme", NULL);
  CHECK(strncmp(org.id, "org_", 4) == 0);
  dt_store_close(s);
  /* Opened again: nothing re-applied, everything still there. */
  s = open_ok(path, NULL);
  CHECK_EQ_INT(dt_store_version(s), 2);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM workflow_runs"), 2);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM organizations"), 1);
  dt_store_close(s);
}

static void test_organizations_and_keys(void)
{
  char path[128], key[DT_API_KEY_LEN + 1], key2[DT_API_KEY_LEN + 1];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, NULL);
  dt_store_org acme = make_org(s, "Acme", key), other = make_org(s, "Other Corp", NULL), got;
  CHECK_EQ_INT(strlen(acme.id), 20);
  CHECK(strcmp(acme.id, other.id) != 0);
  CHECK_EQ_INT(strlen(key), DT_API_KEY_LEN);
  CHECK(strncmp(key, "dt_", 3) == 0 && strspn(key + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 40);
  CHECK_EQ_INT(dt_store_org_create(s, "Acme", 4, 1, &got, key2), DT_STORE_EXISTS);
  CHECK_EQ_INT(dt_store_org_get(s, acme.id, strlen(acme.id), &got), DT_STORE_OK);
  CHECK_EQ_STR(got.name, "Acme");
  CHECK_EQ_INT(dt_store_org_get(s, "Acme", 4, &got), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(dt_store_org_find(s, "Other Corp", 10, &got), DT_STORE_OK);
  CHECK_EQ_STR(got.id, other.id);
  CHECK_EQ_INT(dt_store_org_find(s, acme.id, strlen(acme.id), &got), DT_STORE_OK);
  CHECK_EQ_STR(got.name, "Acme");
  /* The key finds its organisation; the store holds only its hash and its first 8 characters. */
  CHECK_EQ_INT(dt_store_org_for_key(s, key, strlen(key), &got), DT_STORE_OK);
  CHECK_EQ_STR(got.id, acme.id);
  CHECK_EQ_INT(dt_store_org_for_key(s, key, strlen(key) - 1, &got), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(dt_store_org_for_key(s, "", 0, &got), DT_STORE_NOT_FOUND);
  uint8_t digest[32];
  char hex[65], sql[256];
  CHECK_EQ_INT(dt_sha256(key, strlen(key), digest), 0);
  for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM api_keys WHERE key_hash = '%s' AND prefix = '%.8s'", hex, key);
  CHECK_EQ_INT(query_int(path, sql), 1);
  CHECK(!file_contains(path, key) && !file_contains(path, key + 8));
  /* Rotation: a new key works, every earlier one stops. */
  CHECK_EQ_INT(dt_store_key_rotate(s, acme.id, strlen(acme.id), 2000, key2), DT_STORE_OK);
  CHECK(strcmp(key, key2) != 0);
  CHECK_EQ_INT(dt_store_org_for_key(s, key, strlen(key), &got), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(dt_store_org_for_key(s, key2, strlen(key2), &got), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_key_rotate(s, "org_nope", 8, 2000, key2), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM api_keys"), 3);
  dt_store_close(s);
}

static int count_org(void *ud, const dt_store_org *org)
{
  (void)org;
  return ++*(int *)ud >= 100;
}

static void test_names_hostile(void)
{
  char path[128], key[DT_API_KEY_LEN + 1], name[512];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, NULL);
  dt_store_org org;
  const char *bad[] = { "", "tab\there", "new\nline", "del\x7f", "\xff\xfe", "\xc3", "nul" };
  size_t lens[] = { 0, 8, 8, 4, 2, 1, 4 };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    CHECK_EQ_INT(dt_store_org_create(s, bad[i], lens[i], 1, &org, key), DT_STORE_INVALID);
  memset(name, 'x', 101);
  CHECK_EQ_INT(dt_store_org_create(s, name, 101, 1, &org, key), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_org_create(s, name, 100, 1, &org, key), DT_STORE_OK);
  /* 100 characters of two bytes each are 100 characters. */
  for (int i = 0; i < 101; i++) memcpy(name + 2 * i, "\xc3\xa9", 2);
  CHECK_EQ_INT(dt_store_org_create(s, name, 202, 1, &org, key), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_org_create(s, name, 200, 1, &org, key), DT_STORE_OK);
  CHECK_EQ_INT(strlen(org.name), 200);
  const char *sql = "x'); DROP TABLE organizations; --";
  CHECK_EQ_INT(dt_store_org_create(s, sql, strlen(sql), 1, &org, key), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_org_find(s, sql, strlen(sql), &org), DT_STORE_OK);
  int n = 0;
  CHECK_EQ_INT(dt_store_orgs_list(s, count_org, &n), DT_STORE_OK);
  CHECK_EQ_INT(n, 3);
  dt_store_close(s);
}

static dt_store_config_in config_in(const char *name, const char *settings, const dt_store_str *secret, size_t nsecret)
{
  dt_store_config_in in;
  memset(&in, 0, sizeof in);
  in.name = (dt_store_str){ name, name ? strlen(name) : 0 };
  in.provider = (dt_store_str){ "twilio", 6 };
  in.settings = (dt_store_str){ settings, settings ? strlen(settings) : 0 };
  in.secret_fields = secret;
  in.nsecret = nsecret;
  return in;
}

static const dt_store_str AUTH[] = { { "auth_token", 10 } };
#define SETTINGS "{\"account_sid\":\"AC123\",\"auth_token\":\"tok-SECRET-1\",\"numbers\":[\"+15550001\",\"+15550002\"]}"

static int get_config(dt_store *s, const dt_store_org *org, const char *id, rows_copy *r)
{
  memset(r, 0, sizeof *r);
  return dt_store_config_get(s, org->id, strlen(org->id), id, strlen(id), &collect, r);
}

static void test_config_secrets_sealed(void)
{
  char path[128], id[DT_STORE_ID_SIZE];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, NULL);
  dt_store_org org = make_org(s, "Acme", NULL), other = make_org(s, "Other", NULL);
  dt_store_config_in in = config_in("main", SETTINGS, AUTH, 1);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 100, id), DT_STORE_ERROR);
  CHECK(strstr(dt_store_error(s), "master key") != NULL);
  dt_store_set_master_key(s, KEY_A);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 100, id), DT_STORE_OK);
  CHECK(strncmp(id, "cfg_", 4) == 0 && strlen(id) == 20);
  rows_copy r;
  CHECK_EQ_INT(get_config(s, &org, id, &r), DT_STORE_OK);
  /* Every field comes back (the decrypted ones after the others). */
  const char *merged = val(&r, 0, "settings");
  CHECK(merged && strlen(merged) == strlen(SETTINGS) && strstr(merged, "\"auth_token\":\"tok-SECRET-1\"") &&
        strstr(merged, "\"account_sid\":\"AC123\"") && strstr(merged, "\"numbers\":[\"+15550001\",\"+15550002\"]"));
  CHECK_EQ_STR(val(&r, 0, "secret_fields"), "[\"auth_token\"]");
  CHECK_EQ_STR(val(&r, 0, "is_default"), "1");
  CHECK_EQ_STR(val(&r, 0, "provider"), "twilio");
  CHECK_EQ_STR(val(&r, 0, "organization_id"), org.id);
  CHECK_EQ_STR(val(&r, 0, "created_at"), "100");
  /* On disk: the public fields in clear, the secret nowhere. */
  CHECK(file_contains(path, "AC123"));
  CHECK(!file_contains(path, "tok-SECRET-1"));
  char sql[256];
  snprintf(sql, sizeof sql, "SELECT length(secrets) FROM telephony_configs WHERE id = '%s'", id);
  CHECK_EQ_INT(query_int(path, sql), (long long)strlen("{\"auth_token\":\"tok-SECRET-1\"}") + DT_GCM_OVERHEAD);
  /* Another organisation sees nothing. */
  CHECK_EQ_INT(get_config(s, &other, id, &r), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(dt_store_configs_list(s, other.id, strlen(other.id), &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 0);
  CHECK_EQ_INT(dt_store_config_delete(s, other.id, strlen(other.id), id, strlen(id)), DT_STORE_NOT_FOUND);
  in = config_in("x", "{}", NULL, 0);
  CHECK_EQ_INT(dt_store_config_update(s, other.id, strlen(other.id), id, strlen(id), &in, 1), DT_STORE_NOT_FOUND);
  /* Another master key: the secrets do not open and the call says why, without the secret. */
  dt_store_set_master_key(s, KEY_B);
  CHECK_EQ_INT(get_config(s, &org, id, &r), DT_STORE_ERROR);
  CHECK(strstr(dt_store_error(s), "cannot decrypt the secrets of configuration cfg_") != NULL);
  CHECK(strstr(dt_store_error(s), "wrong master key?") != NULL);
  dt_store_set_master_key(s, KEY_A);
  /* Sealed secrets copied onto another row do not open there (the AAD names the row). */
  char id2[DT_STORE_ID_SIZE];
  in = config_in("second", "{\"auth_token\":\"other\"}", AUTH, 1);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 101, id2), DT_STORE_OK);
  snprintf(sql, sizeof sql, "UPDATE telephony_configs SET secrets = (SELECT secrets FROM telephony_configs WHERE id = '%s') "
           "WHERE id = '%s'", id, id2);
  CHECK_EQ_INT(exec_sql(path, sql), SQLITE_OK);
  CHECK_EQ_INT(get_config(s, &org, id2, &r), DT_STORE_ERROR);
  CHECK_EQ_INT(get_config(s, &org, id, &r), DT_STORE_OK);
  dt_store_close(s);
}

/* A visitor that stops anywhere in a configuration row (begin, any cell, end) fails the call
 * with nothing more visited; the statement is reset (another connection's later write is
 * seen) and what the row held is freed (LeakSanitizer in the ASan build). */
static void test_config_visitor_stops(void)
{
  char path[128], id[DT_STORE_ID_SIZE], name[16];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, KEY_A), *other = open_ok(path, KEY_A);
  dt_store_org org = make_org(s, "Acme", NULL);
  size_t ol = strlen(org.id);
  for (int i = 0; i < 2; i++) {
    snprintf(name, sizeof name, "c%d", i);
    dt_store_config_in in = config_in(name, SETTINGS, AUTH, 1);
    CHECK_EQ_INT(dt_store_config_create(s, org.id, ol, &in, 100 + i, id), DT_STORE_OK);
  }
  for (int at = 1; at <= 24; at++) { /* two rows of begin, 9 cells, end */
    stopper p = { 0, at };
    CHECK_EQ_INT(dt_store_configs_list(s, org.id, ol, &stopping, &p), DT_STORE_ERROR);
    CHECK_EQ_INT(p.calls, at);
    CHECK_EQ_STR(dt_store_error(s), "stopped by the row visitor");
    snprintf(name, sizeof name, "n%d", at);
    dt_store_config_in in = config_in(name, SETTINGS, AUTH, 1);
    CHECK_EQ_INT(dt_store_config_create(other, org.id, ol, &in, 200 + at, id), DT_STORE_OK);
    CHECK_EQ_INT(dt_store_config_get(s, org.id, ol, id, strlen(id), &stopping, &(stopper){ 0, 1 }), DT_STORE_ERROR);
    rows_copy r;
    CHECK_EQ_INT(get_config(s, &org, id, &r), DT_STORE_OK); /* the new one is seen */
    CHECK_EQ_STR(val(&r, 0, "name"), name);
  }
  dt_store_close(other);
  dt_store_close(s);
}

/* The store says whether it holds sealed configurations (the master key must then exist). */
static void test_configs_sealed(void)
{
  char path[128], id[DT_STORE_ID_SIZE];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, KEY_A);
  int sealed = -1;
  CHECK_EQ_INT(dt_store_configs_sealed(s, &sealed), DT_STORE_OK);
  CHECK_EQ_INT(sealed, 0);
  dt_store_org org = make_org(s, "Acme", NULL);
  CHECK_EQ_INT(dt_store_configs_sealed(s, &sealed), DT_STORE_OK);
  CHECK_EQ_INT(sealed, 0);
  dt_store_config_in in = config_in("a", "{\"account_sid\":\"AC1\"}", NULL, 0); /* no secret field */
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 100, id), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_configs_sealed(s, &sealed), DT_STORE_OK);
  CHECK_EQ_INT(sealed, 1); /* sealed all the same: the key opens it */
  CHECK_EQ_INT(dt_store_config_delete(s, org.id, strlen(org.id), id, strlen(id)), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_configs_sealed(s, &sealed), DT_STORE_OK);
  CHECK_EQ_INT(sealed, 0);
  dt_store_close(s);
}

static void test_config_defaults_update_delete(void)
{
  char sql[256], path[128], a[DT_STORE_ID_SIZE], b[DT_STORE_ID_SIZE], c[DT_STORE_ID_SIZE];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, KEY_A);
  dt_store_org org = make_org(s, "Acme", NULL);
  const char *o = org.id;
  size_t ol = strlen(o);
  rows_copy r;
  dt_store_config_in in = config_in("a", SETTINGS, AUTH, 1);
  CHECK_EQ_INT(dt_store_config_create(s, o, ol, &in, 100, a), DT_STORE_OK);
  in = config_in("b", "{}", NULL, 0);
  CHECK_EQ_INT(dt_store_config_create(s, o, ol, &in, 101, b), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_config_create(s, o, ol, &in, 102, c), DT_STORE_EXISTS);
  CHECK_EQ_INT(dt_store_config_create(s, "org_none", 8, &in, 102, c), DT_STORE_NOT_FOUND);
  in = config_in("c", "{}", NULL, 0);
  in.is_default = 1;
  CHECK_EQ_INT(dt_store_config_create(s, o, ol, &in, 102, c), DT_STORE_OK);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(dt_store_config_default(s, o, ol, &collect, &r), DT_STORE_OK);
  CHECK_EQ_STR(val(&r, 0, "id"), c);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM telephony_configs WHERE is_default = 1"), 1);
  CHECK_EQ_INT(dt_store_config_set_default(s, o, ol, b, strlen(b)), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_config_set_default(s, o, ol, "cfg_none", 8), DT_STORE_NOT_FOUND);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(dt_store_configs_list(s, o, ol, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 3);
  CHECK(strcmp(val(&r, 0, "id"), a) == 0 && strcmp(val(&r, 1, "is_default"), "1") == 0 &&
        strcmp(val(&r, 2, "is_default"), "0") == 0);
  /* Update: a rename onto a taken name is refused; settings replace the fields and keep the
   * list of secret fields; a new list re-splits them. */
  in = config_in("b", NULL, NULL, 0);
  in.provider.text = NULL;
  CHECK_EQ_INT(dt_store_config_update(s, o, ol, a, strlen(a), &in, 200), DT_STORE_EXISTS);
  in = config_in("renamed", "{\"account_sid\":\"AC9\",\"auth_token\":\"tok-NEW-2\"}", NULL, 0);
  in.provider.text = NULL;
  CHECK_EQ_INT(dt_store_config_update(s, o, ol, a, strlen(a), &in, 200), DT_STORE_OK);
  CHECK_EQ_INT(get_config(s, &org, a, &r), DT_STORE_OK);
  CHECK_EQ_STR(val(&r, 0, "name"), "renamed");
  CHECK_EQ_STR(val(&r, 0, "provider"), "twilio");
  CHECK_EQ_STR(val(&r, 0, "settings"), "{\"account_sid\":\"AC9\",\"auth_token\":\"tok-NEW-2\"}");
  CHECK_EQ_STR(val(&r, 0, "secret_fields"), "[\"auth_token\"]");
  CHECK_EQ_STR(val(&r, 0, "updated_at"), "200");
  CHECK(!file_contains(path, "tok-NEW-2"));
  const dt_store_str both[] = { { "auth_token", 10 }, { "account_sid", 11 } };
  in = config_in(NULL, NULL, both, 2);
  in.provider.text = NULL;
  CHECK_EQ_INT(dt_store_config_update(s, o, ol, a, strlen(a), &in, 201), DT_STORE_OK);
  CHECK_EQ_INT(get_config(s, &org, a, &r), DT_STORE_OK);
  CHECK_EQ_STR(val(&r, 0, "secret_fields"), "[\"account_sid\",\"auth_token\"]");
  snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM telephony_configs WHERE id = '%s' AND settings = '{}'", a);
  CHECK_EQ_INT(query_int(path, sql), 1);
  /* Deleting the default makes the oldest remaining one the default. */
  CHECK_EQ_INT(dt_store_config_delete(s, o, ol, b, strlen(b)), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_config_delete(s, o, ol, b, strlen(b)), DT_STORE_NOT_FOUND);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(dt_store_config_default(s, o, ol, &collect, &r), DT_STORE_OK);
  CHECK_EQ_STR(val(&r, 0, "id"), a);
  CHECK_EQ_INT(dt_store_config_delete(s, o, ol, a, strlen(a)), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_config_delete(s, o, ol, c, strlen(c)), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_config_default(s, o, ol, &collect, &r), DT_STORE_NOT_FOUND);
  dt_store_close(s);
}

static void test_config_settings_hostile(void)
{
  char path[128], id[DT_STORE_ID_SIZE], big[DT_STORE_MAX_SETTINGS + 64];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, KEY_A);
  dt_store_org org = make_org(s, "Acme", NULL);
  const char *bad[] = { "[]", "\"x\"", "{\"a\":1}", "{\"a\":{\"b\":\"c\"}}", "{\"a\":[\"x\",2]}", "{\"a\":null}",
                        "{\"a\":\"x\",\"a\":\"y\"}", "{\"\":\"x\"}", "{\"a\":\"x\"} trailing", "{\"a\":", "" };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    dt_store_config_in in = config_in("n", bad[i], NULL, 0);
    CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  }
  /* 64 fields are fine, 65 are not. */
  size_t n = (size_t)snprintf(big, sizeof big, "{");
  for (int i = 0; i < 65; i++) n += (size_t)snprintf(big + n, sizeof big - n, "%s\"f%d\":\"v\"", i ? "," : "", i);
  snprintf(big + n, sizeof big - n, "}");
  dt_store_config_in in = config_in("n", big, NULL, 0);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  char *cut = strstr(big, ",\"f64\"");
  memcpy(cut, "}", 2);
  in = config_in("n", big, NULL, 0);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_OK);
  /* More than 64 KiB of JSON; a field name of 101 bytes; 65 secret names; bad config names. */
  memset(big, ' ', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  memcpy(big, "{\"a\":\"b\"}", 9);
  in = config_in("m", big, NULL, 0);
  in.settings.len = DT_STORE_MAX_SETTINGS + 1;
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  snprintf(big, sizeof big, "{\"%0101d\":\"x\"}", 0);
  in = config_in("m", big, NULL, 0);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  dt_store_str names[65];
  for (int i = 0; i < 65; i++) names[i] = (dt_store_str){ "x", 1 };
  in = config_in("m", "{}", names, 65);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  in = config_in("m", "{}", (dt_store_str[]){ { "", 0 } }, 1);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  in = config_in("", "{}", NULL, 0);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  in = config_in("m", "{}", NULL, 0);
  in.provider = (dt_store_str){ "bad\nprovider", 12 };
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_INVALID);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM telephony_configs"), 1);
  dt_store_close(s);
}

static int number_count(dt_store *s, const dt_store_org *org, const char *cfg, rows_copy *r)
{
  memset(r, 0, sizeof *r);
  CHECK_EQ_INT(dt_store_numbers_list(s, org->id, strlen(org->id), cfg, strlen(cfg), &collect, r), DT_STORE_OK);
  return (int)r->rows;
}

static void test_phone_numbers(void)
{
  char path[128], id[DT_STORE_ID_SIZE];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, KEY_A);
  dt_store_org org = make_org(s, "Acme", NULL), other = make_org(s, "Other", NULL);
  dt_store_config_in in = config_in("main", "{}", NULL, 0);
  CHECK_EQ_INT(dt_store_config_create(s, org.id, strlen(org.id), &in, 1, id), DT_STORE_OK);
  const dt_store_str nums[] = { { "+15550001", 9 }, { "+15550002", 9 }, { "+15550001", 9 } };
  size_t ol = strlen(org.id), il = strlen(id);
  CHECK_EQ_INT(dt_store_numbers_set(s, org.id, ol, id, il, nums, 3, 5), DT_STORE_OK);
  rows_copy r;
  CHECK_EQ_INT(number_count(s, &org, id, &r), 2);
  CHECK_EQ_STR(val(&r, 0, "number"), "+15550001");
  CHECK_EQ_STR(val(&r, 1, "number"), "+15550002");
  CHECK_EQ_INT(dt_store_numbers_set(s, org.id, ol, id, il, nums + 1, 1, 6), DT_STORE_OK);
  CHECK_EQ_INT(number_count(s, &org, id, &r), 1);
  CHECK_EQ_INT(dt_store_numbers_set(s, other.id, strlen(other.id), id, il, nums, 1, 6), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(number_count(s, &other, id, &r), 0);
  const dt_store_str bad[] = { { "", 0 } };
  CHECK_EQ_INT(dt_store_numbers_set(s, org.id, ol, id, il, bad, 1, 6), DT_STORE_INVALID);
  char longer[DT_STORE_MAX_NUMBER + 1];
  memset(longer, '1', sizeof longer);
  const dt_store_str too_long[] = { { longer, sizeof longer } };
  CHECK_EQ_INT(dt_store_numbers_set(s, org.id, ol, id, il, too_long, 1, 6), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_numbers_set(s, org.id, ol, id, il, nums, DT_STORE_MAX_NUMBERS + 1, 6), DT_STORE_INVALID);
  CHECK_EQ_INT(number_count(s, &org, id, &r), 1); /* refused means unchanged */
  CHECK_EQ_INT(dt_store_config_delete(s, org.id, ol, id, il), DT_STORE_OK);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM phone_numbers"), 0);
  dt_store_close(s);
}

static void test_workflows(void)
{
  char path[128], id[DT_STORE_ID_SIZE], id2[DT_STORE_ID_SIZE];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, NULL);
  dt_store_org org = make_org(s, "Acme", NULL), other = make_org(s, "Other", NULL);
  size_t ol = strlen(org.id);
  dt_store_str none = { NULL, 0 }, echo = { "echo", 4 };
  CHECK_EQ_INT(dt_store_workflow_create(s, org.id, ol, (dt_store_str){ "Echo test", 9 }, echo, none, 7, id), DT_STORE_OK);
  CHECK(strncmp(id, "wf_", 3) == 0 && strlen(id) == 19);
  CHECK_EQ_INT(dt_store_workflow_create(s, org.id, ol, (dt_store_str){ "Echo test", 9 }, echo, none, 7, id2), DT_STORE_EXISTS);
  CHECK_EQ_INT(dt_store_workflow_create(s, other.id, strlen(other.id), (dt_store_str){ "Echo test", 9 }, echo, none, 7, id2),
               DT_STORE_OK);
  CHECK_EQ_INT(dt_store_workflow_create(s, "org_none", 8, (dt_store_str){ "x", 1 }, echo, none, 7, id2), DT_STORE_NOT_FOUND);
  const char *flows[] = { "", "a-b", "../x", "a b", "x.lua" };
  for (size_t i = 0; i < sizeof flows / sizeof flows[0]; i++)
    CHECK_EQ_INT(dt_store_workflow_create(s, org.id, ol, (dt_store_str){ "n", 1 },
                 (dt_store_str){ flows[i], strlen(flows[i]) }, none, 7, id2), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_workflow_create(s, org.id, ol, (dt_store_str){ "n", 1 }, echo, (dt_store_str){ "[1]", 3 }, 7, id2),
               DT_STORE_INVALID);
  const char *settings = "{\"greeting\":\"hi\",\"turns\":3,\"voice\":{\"rate\":16000}}";
  CHECK_EQ_INT(dt_store_workflow_create(s, org.id, ol, (dt_store_str){ "n", 1 }, echo,
               (dt_store_str){ settings, strlen(settings) }, 8, id2), DT_STORE_OK);
  rows_copy r;
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(dt_store_workflow_get(s, org.id, ol, id, strlen(id), &collect, &r), DT_STORE_OK);
  CHECK_EQ_STR(val(&r, 0, "flow"), "echo");
  CHECK_EQ_STR(val(&r, 0, "settings"), "{}");
  CHECK_EQ_STR(val(&r, 0, "name"), "Echo test");
  CHECK_EQ_INT(dt_store_workflow_get(s, other.id, strlen(other.id), id, strlen(id), &collect, &r), DT_STORE_NOT_FOUND);
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(dt_store_workflows_list(s, org.id, ol, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 2);
  CHECK_EQ_STR(val(&r, 1, "settings"), settings);
  dt_store_close(s);
}

static void test_runs_by_organization(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, NULL);
  size_t org_col, status_col;
  CHECK(dt_store_find_column(DT_STORE_RUNS, "organization_id", 15, &org_col) != NULL);
  CHECK(dt_store_find_column(DT_STORE_RUNS, "status", 6, &status_col) != NULL);
  const char *orgs[] = { "org_a", "org_b", "org_a", "org_a" }, *statuses[] = { "completed", "completed", "ringing", "completed" };
  for (int i = 0; i < 4; i++) {
    char id[8];
    snprintf(id, sizeof id, "r%d", i);
    dt_store_field f[] = { { org_col, { DT_STORE_TEXT, orgs[i], 5, 0, 0 } },
                           { status_col, { DT_STORE_TEXT, statuses[i], strlen(statuses[i]), 0, 0 } } };
    CHECK_EQ_INT(dt_store_run_create(s, id, strlen(id), f, 2, 10 + i), DT_STORE_OK);
  }
  const dt_store_run_filter all = { NULL, 0, NULL, 0 }, a = { NULL, 0, "org_a", 5 },
                            a_done = { "completed", 9, "org_a", 5 }, done = { "completed", 9, NULL, 0 };
  int64_t n = -1;
  CHECK(dt_store_runs_count(s, &all, &n) == DT_STORE_OK && n == 4);
  CHECK(dt_store_runs_count(s, &a, &n) == DT_STORE_OK && n == 3);
  CHECK(dt_store_runs_count(s, &a_done, &n) == DT_STORE_OK && n == 2);
  CHECK(dt_store_runs_count(s, &done, &n) == DT_STORE_OK && n == 3);
  rows_copy r;
  memset(&r, 0, sizeof r);
  CHECK_EQ_INT(dt_store_runs_list(s, &a_done, 1, 1, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 1);
  CHECK_EQ_STR(val(&r, 0, "id"), "r0");
  dt_store_close(s);
}

static void test_cleanup(void)
{
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_EQ_INT(system(cmd), 0);
}

/* First start is one transaction: a failure part way (the workflow refused here) leaves no
 * organisation and prints no key, so the next start creates all three rows. */
static void test_first_start_all_or_nothing(void)
{
  char path[128], err[512] = "", out[2048] = "";
  new_path(path, sizeof path);
  dt_store *s = open_ok(path, KEY_A);
  if (!s) return;
  CHECK_EQ_INT(exec_sql(path, "CREATE TRIGGER refuse_wf BEFORE INSERT ON workflows BEGIN SELECT RAISE(ABORT, 'refused'); END"),
               SQLITE_OK);
  FILE *f = fmemopen(out, sizeof out, "w");
  CHECK_EQ_INT(dt_first_start(s, "http://127.0.0.1:1", f, err, sizeof err), -1);
  fclose(f);
  CHECK(strstr(err, "cannot create the default organisation") != NULL);
  CHECK_EQ_STR(out, "");
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM organizations"), 0);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM telephony_configs"), 0);
  CHECK_EQ_INT(exec_sql(path, "DROP TRIGGER refuse_wf"), SQLITE_OK);
  f = fmemopen(out, sizeof out, "w");
  CHECK_EQ_INT(dt_first_start(s, "http://127.0.0.1:1", f, err, sizeof err), 1);
  fclose(f);
  CHECK(strstr(out, "API key") != NULL);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM organizations"), 1);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM telephony_configs"), 1);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM workflows"), 1);
  CHECK_EQ_INT(dt_first_start(s, "http://127.0.0.1:1", stderr, err, sizeof err), 0); /* once only */
  dt_store_close(s);
}

TEST_MAIN(TEST(test_setup), TEST(test_migrates_issue4_database), TEST(test_organizations_and_keys),
          TEST(test_names_hostile), TEST(test_config_secrets_sealed), TEST(test_config_defaults_update_delete),
          TEST(test_config_settings_hostile), TEST(test_config_visitor_stops), TEST(test_configs_sealed),
          TEST(test_phone_numbers), TEST(test_workflows),
          TEST(test_runs_by_organization), TEST(test_first_start_all_or_nothing), TEST(test_cleanup))
