/* The store's queries: workflow runs, call events, webhook nonces. Each call binds, steps and
 * resets one prepared statement. A statement is also reset before use, in case a visitor left
 * it mid-way (a Lua error in a visitor unwinds past the reset after the loop). */
#include "store_priv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define PURGE_INTERVAL 60.0 /* seconds between purges of expired nonces */
#define SQL_MAX 4096

typedef struct {
  char text[SQL_MAX];
  size_t len;
  int overflow;
} sql_buf;

__attribute__((format(printf, 2, 3))) static void add(sql_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->text + b->len, sizeof b->text - b->len, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof b->text - b->len) b->overflow = 1;
  else b->len += (size_t)n;
}

/* Parameters: ?1 and ?2 for the lead columns, then column i of the table at ?(3+i). */
static void build_insert(sql_buf *b, const char *into, const char *lead_values, dt_store_table table)
{
  size_t n;
  const dt_store_column *cols = dt_store_columns(table, &n);
  add(b, "INSERT INTO %s", into);
  for (size_t i = 0; i < n; i++) add(b, ", %s", cols[i].name);
  add(b, ") VALUES(%s", lead_values);
  for (size_t i = 0; i < n; i++) add(b, ", ?%zu", 3 + i);
  add(b, ")");
}

/* ?1 the id, ?2 updated_at; column i is set to ?(4+2i) when the flag ?(3+2i) is true. */
static void build_update(sql_buf *b)
{
  size_t n;
  const dt_store_column *cols = dt_store_columns(DT_STORE_RUNS, &n);
  add(b, "UPDATE workflow_runs SET updated_at = ?2");
  for (size_t i = 0; i < n; i++)
    if (cols[i].allowed & DT_STORE_ON_UPDATE)
      add(b, ", %s = iif(?%zu, ?%zu, %s)", cols[i].name, 3 + 2 * i, 4 + 2 * i, cols[i].name);
  add(b, " WHERE id = ?1");
}

static int prepare(dt_store *s, int which, const char *sql)
{
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[which], NULL) == SQLITE_OK) return 0;
  return dt_store_fail(s, -1, "preparing a statement: %s", sqlite3_errmsg(s->db));
}

int dt_store_prepare(dt_store *s)
{
  static const struct { int id; const char *sql; } fixed[] = {
    { DT_ST_RUN_GET, "SELECT * FROM workflow_runs WHERE id = ?1" },
    { DT_ST_EVENTS, "SELECT id, run_id, received_at, source, raw, raw_status, status, outcome "
      "FROM call_events WHERE run_id = ?1 ORDER BY id" },
    { DT_ST_NONCE_CLAIM, "INSERT INTO webhook_nonces(key, expires_at) VALUES(?1, ?2) ON CONFLICT(key) "
      "DO UPDATE SET expires_at = excluded.expires_at WHERE webhook_nonces.expires_at <= ?3" },
    { DT_ST_NONCE_PURGE, "DELETE FROM webhook_nonces WHERE expires_at <= ?1" },
  };
  sql_buf run_insert = { .len = 0 }, event_insert = { .len = 0 }, run_update = { .len = 0 };
  build_insert(&run_insert, "workflow_runs(id, created_at, updated_at", "?1, ?2, ?2", DT_STORE_RUNS);
  build_insert(&event_insert, "call_events(run_id, received_at", "?1, ?2", DT_STORE_EVENTS);
  build_update(&run_update);
  if (run_insert.overflow || event_insert.overflow || run_update.overflow)
    return dt_store_fail(s, -1, "statement text too long");
  if (prepare(s, DT_ST_RUN_INSERT, run_insert.text) != 0 || prepare(s, DT_ST_EVENT_INSERT, event_insert.text) != 0 ||
      prepare(s, DT_ST_RUN_UPDATE, run_update.text) != 0)
    return -1;
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (prepare(s, fixed[i].id, fixed[i].sql) != 0) return -1;
  return 0;
}

static sqlite3_stmt *use(dt_store *s, int which)
{
  sqlite3_reset(s->st[which]);
  sqlite3_clear_bindings(s->st[which]);
  return s->st[which];
}

static int check_fields(dt_store *s, dt_store_table table, unsigned op, const dt_store_field *f, size_t n)
{
  size_t ncols;
  const dt_store_column *cols = dt_store_columns(table, &ncols);
  for (size_t i = 0; i < n; i++) {
    if (f[i].column >= ncols || !(cols[f[i].column].allowed & op))
      return dt_store_fail(s, DT_STORE_INVALID, "column %zu cannot be set here", f[i].column);
    const dt_store_column *c = &cols[f[i].column];
    const dt_store_value *v = &f[i].value;
    if (v->type != DT_STORE_NULL && v->type != c->type)
      return dt_store_fail(s, DT_STORE_INVALID, "%s: wrong type", c->name);
    if (v->type == DT_STORE_TEXT && v->len > c->max_len)
      return dt_store_fail(s, DT_STORE_INVALID, "%s is longer than %zu bytes", c->name, c->max_len);
    if (v->type == DT_STORE_REAL && !isfinite(v->real))
      return dt_store_fail(s, DT_STORE_INVALID, "%s must be a finite number", c->name);
  }
  return DT_STORE_OK;
}

/* A checked field's value (text, real or NULL), bound SQLITE_STATIC: every statement is reset
 * before its caller returns. */
static int bind(sqlite3_stmt *st, int index, const dt_store_value *v)
{
  switch (v->type) {
  case DT_STORE_TEXT: return sqlite3_bind_text(st, index, v->text, (int)v->len, SQLITE_STATIC);
  case DT_STORE_REAL: return sqlite3_bind_double(st, index, v->real);
  default: return sqlite3_bind_null(st, index);
  }
}

/* Binds column i of each field at ?(base + stride * i) (and 1 at ?(base + stride * i - 1)
 * when flagged, for the update statement). */
static int bind_fields(sqlite3_stmt *st, const dt_store_field *f, size_t n, int base, int stride, int flagged)
{
  for (size_t i = 0; i < n; i++) {
    int at = base + stride * (int)f[i].column;
    int rc = bind(st, at, &f[i].value);
    if (rc == SQLITE_OK && flagged) rc = sqlite3_bind_int(st, at - 1, 1);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

int dt_store_valid_id(const char *id, size_t len)
{
  if (len == 0 || len > DT_STORE_MAX_ID) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = id[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '.' || c == ':' || c == '-'))
      return 0;
  }
  return 1;
}

int dt_store_run_create(dt_store *s, const char *id, size_t id_len, const dt_store_field *fields,
                        size_t n, double now)
{
  if (!dt_store_valid_id(id, id_len)) return dt_store_fail(s, DT_STORE_INVALID, "invalid run id");
  int rc = check_fields(s, DT_STORE_RUNS, DT_STORE_ON_CREATE, fields, n);
  if (rc != DT_STORE_OK) return rc;
  sqlite3_stmt *st = use(s, DT_ST_RUN_INSERT);
  rc = dt_store_bind_text(st, 1, id, id_len);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(st, 2, now);
  if (rc == SQLITE_OK) rc = bind_fields(st, fields, n, 3, 1, 0);
  return dt_store_done(s, st, rc == SQLITE_OK ? sqlite3_step(st) : rc);
}

int dt_store_run_get(dt_store *s, const char *id, size_t id_len, const dt_store_visitor *v, void *ud)
{
  if (!dt_store_valid_id(id, id_len)) return dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  sqlite3_stmt *st = use(s, DT_ST_RUN_GET);
  size_t rows = 0;
  int rc = dt_store_bind_text(st, 1, id, id_len);
  rc = rc == SQLITE_OK ? dt_store_visit(s, st, v, ud, &rows) : dt_store_sqlite_fail(s, rc);
  if (rc == DT_STORE_OK && rows == 0) rc = dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  return rc;
}

int dt_store_run_update(dt_store *s, const char *id, size_t id_len, const dt_store_field *fields,
                        size_t n, double now)
{
  if (!dt_store_valid_id(id, id_len)) return dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  int rc = check_fields(s, DT_STORE_RUNS, DT_STORE_ON_UPDATE, fields, n);
  if (rc != DT_STORE_OK) return rc;
  sqlite3_stmt *st = use(s, DT_ST_RUN_UPDATE);
  rc = dt_store_bind_text(st, 1, id, id_len);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(st, 2, now);
  if (rc == SQLITE_OK) rc = bind_fields(st, fields, n, 4, 2, 1);
  rc = dt_store_done(s, st, rc == SQLITE_OK ? sqlite3_step(st) : rc);
  if (rc == DT_STORE_OK && sqlite3_changes(s->db) == 0) rc = dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  return rc;
}

/* The listing and the count for each combination of filters: bit 1 status, bit 2 organisation. */
#define RUNS_WHERE_STATUS " WHERE status = ?1"
#define RUNS_WHERE_ORG " WHERE organization_id = ?4"
#define RUNS_WHERE_BOTH " WHERE status = ?1 AND organization_id = ?4"
#define RUNS_PAGE " ORDER BY created_at DESC, rowid DESC LIMIT ?2 OFFSET ?3"
static const char *const runs_list_sql[4] = {
  "SELECT * FROM workflow_runs" RUNS_PAGE, "SELECT * FROM workflow_runs" RUNS_WHERE_STATUS RUNS_PAGE,
  "SELECT * FROM workflow_runs" RUNS_WHERE_ORG RUNS_PAGE, "SELECT * FROM workflow_runs" RUNS_WHERE_BOTH RUNS_PAGE,
};
static const char *const runs_count_sql[4] = {
  "SELECT COUNT(*) FROM workflow_runs", "SELECT COUNT(*) FROM workflow_runs" RUNS_WHERE_STATUS,
  "SELECT COUNT(*) FROM workflow_runs" RUNS_WHERE_ORG, "SELECT COUNT(*) FROM workflow_runs" RUNS_WHERE_BOTH,
};

/* The statement of the filter's combination among sql, with the filter bound, in *out. */
static int filtered(dt_store *s, const char *const sql[4], const dt_store_run_filter *f, sqlite3_stmt **out)
{
  if ((f->status && f->status_len > DT_STORE_MAX_TEXT) ||
      (f->organization_id && f->organization_id_len > DT_STORE_MAX_TEXT))
    return dt_store_fail(s, DT_STORE_INVALID, "a filter is longer than %d bytes", DT_STORE_MAX_TEXT);
  sqlite3_stmt *st = dt_store_sql(s, sql[(f->status ? 1 : 0) | (f->organization_id ? 2 : 0)]);
  if (!st) return DT_STORE_ERROR;
  int rc = f->status ? dt_store_bind_text(st, 1, f->status, f->status_len) : SQLITE_OK;
  if (rc == SQLITE_OK && f->organization_id) rc = dt_store_bind_text(st, 4, f->organization_id, f->organization_id_len);
  if (rc != SQLITE_OK) return dt_store_sqlite_fail(s, rc);
  *out = st;
  return DT_STORE_OK;
}

int dt_store_runs_list(dt_store *s, const dt_store_run_filter *f, int limit, int64_t offset,
                       const dt_store_visitor *v, void *ud)
{
  if (limit < 1 || limit > DT_STORE_MAX_LIST || offset < 0)
    return dt_store_fail(s, DT_STORE_INVALID, "limit must be 1..%d and offset >= 0", DT_STORE_MAX_LIST);
  sqlite3_stmt *st = NULL;
  int rc = filtered(s, runs_list_sql, f, &st);
  if (rc != DT_STORE_OK) return rc;
  rc = sqlite3_bind_int(st, 2, limit);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 3, offset);
  size_t rows;
  return rc == SQLITE_OK ? dt_store_visit(s, st, v, ud, &rows) : dt_store_sqlite_fail(s, rc);
}

int dt_store_runs_count(dt_store *s, const dt_store_run_filter *f, int64_t *count)
{
  sqlite3_stmt *st = NULL;
  int rc = filtered(s, runs_count_sql, f, &st);
  if (rc != DT_STORE_OK) return rc;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *count = sqlite3_column_int64(st, 0);
  int out = rc == SQLITE_ROW ? DT_STORE_OK : dt_store_sqlite_fail(s, rc);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

int dt_store_event_add(dt_store *s, const char *run_id, size_t run_id_len, const dt_store_field *fields,
                       size_t n, double now, int64_t *event_id)
{
  if (!dt_store_valid_id(run_id, run_id_len)) return dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  int rc = check_fields(s, DT_STORE_EVENTS, DT_STORE_ON_CREATE, fields, n);
  if (rc != DT_STORE_OK) return rc;
  sqlite3_stmt *st = use(s, DT_ST_EVENT_INSERT);
  rc = dt_store_bind_text(st, 1, run_id, run_id_len);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(st, 2, now);
  if (rc == SQLITE_OK) rc = bind_fields(st, fields, n, 3, 1, 0);
  rc = dt_store_done(s, st, rc == SQLITE_OK ? sqlite3_step(st) : rc);
  if (rc == DT_STORE_OK) *event_id = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int dt_store_events_list(dt_store *s, const char *run_id, size_t run_id_len, const dt_store_visitor *v,
                         void *ud)
{
  if (!dt_store_valid_id(run_id, run_id_len)) return DT_STORE_OK;
  sqlite3_stmt *st = use(s, DT_ST_EVENTS);
  size_t rows;
  int rc = dt_store_bind_text(st, 1, run_id, run_id_len);
  return rc == SQLITE_OK ? dt_store_visit(s, st, v, ud, &rows) : dt_store_sqlite_fail(s, rc);
}

static int purge_nonces(dt_store *s, double now)
{
  if (now < s->next_purge) return DT_STORE_OK;
  sqlite3_stmt *st = use(s, DT_ST_NONCE_PURGE);
  int rc = sqlite3_bind_double(st, 1, now);
  rc = dt_store_done(s, st, rc == SQLITE_OK ? sqlite3_step(st) : rc);
  if (rc == DT_STORE_OK) s->next_purge = now + PURGE_INTERVAL;
  return rc;
}

int dt_store_nonce_claim(dt_store *s, const char *key, size_t key_len, double ttl, double now)
{
  if (key_len == 0 || key_len > DT_STORE_MAX_TEXT)
    return dt_store_fail(s, DT_STORE_INVALID, "nonce key must be 1..%d bytes", DT_STORE_MAX_TEXT);
  if (!(ttl > 0) || !isfinite(ttl) || !isfinite(now))
    return dt_store_fail(s, DT_STORE_INVALID, "ttl must be a positive finite number");
  int rc = purge_nonces(s, now);
  if (rc != DT_STORE_OK) return rc;
  sqlite3_stmt *st = use(s, DT_ST_NONCE_CLAIM);
  rc = dt_store_bind_text(st, 1, key, key_len);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(st, 2, now + ttl);
  if (rc == SQLITE_OK) rc = sqlite3_bind_double(st, 3, now);
  rc = dt_store_done(s, st, rc == SQLITE_OK ? sqlite3_step(st) : rc);
  return rc == DT_STORE_OK ? sqlite3_changes(s->db) == 1 : rc;
}
