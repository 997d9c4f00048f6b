/* The store's lifecycle: open with pragmas, numbered migrations, the prepared statements, the
 * process-wide current store, the master key. The queries on runs, events and nonces are in
 * store_runs.c; the others in store_orgs.c, store_configs.c, store_numbers.c, store_workflows.c. */
#include "store_priv.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "clock.h"
#include "paths.h"

#define WAL_RETRY_MS 10

static dt_store *current;

static const dt_store_column run_columns[] = {
  { "organization_id", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "workflow_id", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "user_id", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "provider", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "config_name", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "config_id", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "to_number", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "from_number", DT_STORE_TEXT, DT_STORE_ON_CREATE | DT_STORE_ON_UPDATE, DT_STORE_MAX_TEXT }, /* the provider may choose it */
  { "media_token", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "status", DT_STORE_TEXT, DT_STORE_ON_CREATE | DT_STORE_ON_UPDATE, DT_STORE_MAX_TEXT },
  { "media_state", DT_STORE_TEXT, DT_STORE_ON_CREATE | DT_STORE_ON_UPDATE, DT_STORE_MAX_TEXT },
  { "call_id", DT_STORE_TEXT, DT_STORE_ON_UPDATE, DT_STORE_MAX_TEXT },
  { "error", DT_STORE_TEXT, DT_STORE_ON_UPDATE, DT_STORE_MAX_TEXT },
  { "currency", DT_STORE_TEXT, DT_STORE_ON_UPDATE, DT_STORE_MAX_TEXT },
  { "cost_state", DT_STORE_TEXT, DT_STORE_ON_UPDATE, DT_STORE_MAX_TEXT },
  { "initiated_at", DT_STORE_REAL, DT_STORE_ON_UPDATE, 0 },
  { "ringing_at", DT_STORE_REAL, DT_STORE_ON_UPDATE, 0 },
  { "answered_at", DT_STORE_REAL, DT_STORE_ON_UPDATE, 0 },
  { "ended_at", DT_STORE_REAL, DT_STORE_ON_UPDATE, 0 },
  { "duration", DT_STORE_REAL, DT_STORE_ON_UPDATE, 0 },
  { "cost", DT_STORE_REAL, DT_STORE_ON_UPDATE, 0 },
};

static const dt_store_column event_columns[] = {
  { "source", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "raw", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_RAW },
  { "raw_status", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "status", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
  { "outcome", DT_STORE_TEXT, DT_STORE_ON_CREATE, DT_STORE_MAX_TEXT },
};

#define COUNT(a) (sizeof (a) / sizeof (a)[0])

const dt_store_column *dt_store_columns(dt_store_table table, size_t *count)
{
  *count = table == DT_STORE_RUNS ? COUNT(run_columns) : COUNT(event_columns);
  return table == DT_STORE_RUNS ? run_columns : event_columns;
}

const dt_store_column *dt_store_find_column(dt_store_table table, const char *name, size_t len,
                                            size_t *index)
{
  size_t n;
  const dt_store_column *cols = dt_store_columns(table, &n);
  for (size_t i = 0; i < n; i++) {
    if (strlen(cols[i].name) == len && memcmp(cols[i].name, name, len) == 0) {
      *index = i;
      return &cols[i];
    }
  }
  return NULL;
}

int dt_store_fail(dt_store *s, int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, sizeof s->err, fmt, ap);
  va_end(ap);
  return code;
}

const char *dt_store_error(const dt_store *s) { return s->err; }
int dt_store_version(const dt_store *s) { return s->version; }
void dt_store_set_current(dt_store *s) { current = s; }

void dt_store_set_master_key(dt_store *s, const uint8_t key[32])
{
  memcpy(s->master_key, key, sizeof s->master_key);
  s->has_master_key = 1;
}
dt_store *dt_store_current(void) { return current; }

static int exec(dt_store *s, const char *sql)
{
  char *msg = NULL;
  int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) dt_store_fail(s, -1, "%s", msg ? msg : sqlite3_errstr(rc));
  sqlite3_free(msg);
  return rc == SQLITE_OK ? 0 : -1;
}

/* Switching to WAL needs an exclusive lock for which SQLite does not wait (no busy handler),
 * so a process opening a new file while another one does tries again for a while. */
static int enable_wal(dt_store *s)
{
  for (int waited = 0;; waited += WAL_RETRY_MS) {
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
      const char *mode = (const char *)sqlite3_column_text(st, 0);
      int wal = mode && strcmp(mode, "wal") == 0;
      if (!wal) dt_store_fail(s, -1, "WAL journal mode unavailable (got %s)", mode ? mode : "nothing");
      sqlite3_finalize(st);
      return wal ? 0 : -1;
    }
    dt_store_fail(s, -1, "%s", sqlite3_errmsg(s->db));
    sqlite3_finalize(st);
    if ((rc & 0xff) != SQLITE_BUSY || waited >= DT_STORE_BUSY_TIMEOUT_MS) return -1;
    struct timespec pause = { 0, WAL_RETRY_MS * 1000000L };
    nanosleep(&pause, NULL);
  }
}

static int set_pragmas(dt_store *s)
{
  sqlite3_extended_result_codes(s->db, 1);
  sqlite3_busy_timeout(s->db, DT_STORE_BUSY_TIMEOUT_MS);
  if (enable_wal(s) != 0) return -1;
  return exec(s, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;");
}

static int read_version(dt_store *s, int *version)
{
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &st, NULL) != SQLITE_OK)
    return dt_store_fail(s, -1, "%s", sqlite3_errmsg(s->db));
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *version = sqlite3_column_int(st, 0);
  else dt_store_fail(s, -1, "%s", sqlite3_errmsg(s->db));
  sqlite3_finalize(st);
  return rc == SQLITE_ROW ? 0 : -1;
}

static int record_version(dt_store *s, int version)
{
  char sql[128];
  snprintf(sql, sizeof sql, "INSERT INTO schema_migrations(version, applied_at) VALUES(%d, %.6f)",
           version, dt_wall_clock());
  return exec(s, sql);
}

/* One migration in its own transaction. The version is read again under the write lock, so
 * two processes opening the same new file apply each step once. */
static int apply(dt_store *s, const dt_store_migration *m)
{
  int version;
  if (s->version >= m->version) return 0;
  if (exec(s, "BEGIN IMMEDIATE") != 0) return -1;
  if (read_version(s, &version) == 0 && (version >= m->version ||
      (exec(s, m->sql) == 0 && record_version(s, m->version) == 0)) && exec(s, "COMMIT") == 0) {
    s->version = version > m->version ? version : m->version;
    return 0;
  }
  char why[sizeof s->err];
  snprintf(why, sizeof why, "%s", s->err);
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return dt_store_fail(s, -1, "migration %d failed: %s", m->version, why);
}

static int migrate(dt_store *s, const dt_store_migration *list, size_t count)
{
  int known = count ? list[count - 1].version : 0;
  for (size_t i = 0; i < count; i++)
    if (list[i].version != (int)i + 1) return dt_store_fail(s, -1, "migration list out of order at %zu", i);
  if (exec(s, "CREATE TABLE IF NOT EXISTS schema_migrations ("
              " version INTEGER PRIMARY KEY, applied_at REAL NOT NULL) STRICT") != 0 ||
      read_version(s, &s->version) != 0)
    return -1;
  if (s->version > known)
    return dt_store_fail(s, -1, "the database has schema version %d, newer than this dialtone knows "
                         "(%d); use a newer dialtone or another data_dir", s->version, known);
  for (size_t i = 0; i < count; i++)
    if (apply(s, &list[i]) != 0) return -1;
  return 0;
}

int dt_store_open_with(const char *path, const dt_store_migration *migrations, size_t count,
                       dt_store **out, char *err, size_t errlen)
{
  *out = NULL;
  dt_store *s = calloc(1, sizeof *s);
  if (!s) {
    snprintf(err, errlen, "cannot open database %s: out of memory", path);
    return -1;
  }
  int rc = sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc != SQLITE_OK) {
    dt_store_fail(s, -1, "%s", s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
  } else if (set_pragmas(s) == 0 && migrate(s, migrations, count) == 0 && dt_store_prepare(s) == 0) {
    *out = s;
    return 0;
  }
  snprintf(err, errlen, "cannot open database %s: %s", path, s->err);
  dt_store_close(s);
  return -1;
}

int dt_store_open(const char *path, dt_store **out, char *err, size_t errlen)
{
  return dt_store_open_with(path, dt_store_schema, dt_store_schema_count, out, err, errlen);
}

void dt_store_close(dt_store *s)
{
  if (!s) return;
  if (current == s) current = NULL;
  for (size_t i = 0; i < DT_ST_COUNT; i++) sqlite3_finalize(s->st[i]);
  dt_store_sql_free(s);
  sqlite3_close(s->db);
  OPENSSL_cleanse(s->master_key, sizeof s->master_key);
  free(s);
}

int dt_store_open_data_dir(const char *data_dir, dt_store **out, char *err, size_t errlen)
{
  char path[PATH_MAX];
  *out = NULL;
  if (dt_paths_mkdirs(data_dir) != 0) {
    snprintf(err, errlen, "cannot create the data directory %s: %s", data_dir, strerror(errno));
    return -1;
  }
  if (snprintf(path, sizeof path, "%s/%s", data_dir, DT_STORE_FILE) >= (int)sizeof path) {
    snprintf(err, errlen, "data directory path too long: %s", data_dir);
    return -1;
  }
  if (dt_store_open(path, out, err, errlen) != 0) return -1;
  dt_store_set_current(*out);
  return 0;
}
