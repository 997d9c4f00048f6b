/* Helpers every query file of the store shares: statements prepared on first use, result
 * codes, row visits, transactions, new ids. */
#include "store_priv.h"

#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "ws_frame.h"

sqlite3_stmt *dt_store_sql(dt_store *s, const char *sql)
{
  size_t i = 0;
  for (; i < DT_STORE_SQL_CACHE && s->cache[i].sql; i++) {
    if (s->cache[i].sql != sql) continue;
    sqlite3_reset(s->cache[i].st);
    sqlite3_clear_bindings(s->cache[i].st);
    return s->cache[i].st;
  }
  if (i == DT_STORE_SQL_CACHE) {
    dt_store_fail(s, DT_STORE_ERROR, "too many statements");
    return NULL;
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    dt_store_fail(s, DT_STORE_ERROR, "preparing a statement: %s", sqlite3_errmsg(s->db));
    return NULL;
  }
  s->cache[i] = (dt_store_cached){ sql, st };
  return st;
}

void dt_store_sql_free(dt_store *s)
{
  for (size_t i = 0; i < DT_STORE_SQL_CACHE && s->cache[i].sql; i++) sqlite3_finalize(s->cache[i].st);
}

/* SQLite's message for the failure rc: the connection's own when it is about rc. */
int dt_store_sqlite_fail(dt_store *s, int rc)
{
  const char *msg = sqlite3_extended_errcode(s->db) == rc ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
  return dt_store_fail(s, DT_STORE_ERROR, "%s", msg);
}

int dt_store_done(dt_store *s, sqlite3_stmt *st, int rc)
{
  int out = DT_STORE_OK;
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) out = dt_store_fail(s, DT_STORE_EXISTS, "exists");
  else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) out = dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  else if (rc != SQLITE_DONE) out = dt_store_sqlite_fail(s, rc);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

int dt_store_cell_value(sqlite3_stmt *st, int i, dt_store_value *v)
{
  memset(v, 0, sizeof *v);
  switch (sqlite3_column_type(st, i)) {
  case SQLITE_NULL: return 0;
  case SQLITE_INTEGER: v->type = DT_STORE_INTEGER; v->integer = sqlite3_column_int64(st, i); return 1;
  case SQLITE_FLOAT: v->type = DT_STORE_REAL; v->real = sqlite3_column_double(st, i); return 1;
  default:
    v->type = DT_STORE_TEXT;
    v->text = (const char *)sqlite3_column_text(st, i);
    v->len = (size_t)sqlite3_column_bytes(st, i);
    return v->text ? 1 : -1;
  }
}

int dt_store_stopped(dt_store *s)
{
  return dt_store_fail(s, DT_STORE_ERROR, "stopped by the row visitor");
}

static int visit_row(dt_store *s, sqlite3_stmt *st, const dt_store_visitor *v, void *ud)
{
  if (v->begin_row(ud) != 0) return dt_store_stopped(s);
  for (int i = 0, n = sqlite3_column_count(st); i < n; i++) {
    dt_store_value val;
    int has = dt_store_cell_value(st, i, &val);
    const char *name = sqlite3_column_name(st, i);
    if (has < 0 || !name) return dt_store_sqlite_fail(s, SQLITE_NOMEM);
    if (has && v->cell(ud, name, &val) != 0) return dt_store_stopped(s);
  }
  return v->end_row(ud) != 0 ? dt_store_stopped(s) : DT_STORE_OK;
}

int dt_store_visit(dt_store *s, sqlite3_stmt *st, const dt_store_visitor *v, void *ud, size_t *rows)
{
  int rc, out = DT_STORE_OK;
  *rows = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && (out = visit_row(s, st, v, ud)) == DT_STORE_OK) (*rows)++;
  if (out == DT_STORE_OK && rc != SQLITE_DONE) out = dt_store_sqlite_fail(s, rc);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return out;
}

int dt_store_bind_text(sqlite3_stmt *st, int index, const char *text, size_t len)
{
  return sqlite3_bind_text(st, index, text, (int)len, SQLITE_STATIC);
}

int dt_store_begin(dt_store *s)
{
  if (s->in_batch) return DT_STORE_OK;
  int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
  return rc == SQLITE_OK ? DT_STORE_OK : dt_store_sqlite_fail(s, rc);
}

int dt_store_end(dt_store *s, int rc)
{
  if (s->in_batch) return rc; /* a failure is rolled back with the whole batch */
  if (rc == DT_STORE_OK) {
    int c = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (c == SQLITE_OK) return DT_STORE_OK;
    rc = dt_store_sqlite_fail(s, c);
  }
  sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

int dt_store_batch_begin(dt_store *s)
{
  int rc = dt_store_begin(s);
  if (rc == DT_STORE_OK) s->in_batch = 1;
  return rc;
}

int dt_store_batch_end(dt_store *s, int rc)
{
  s->in_batch = 0;
  return dt_store_end(s, rc);
}

int dt_store_new_id(dt_store *s, const char *prefix, char id[DT_STORE_ID_SIZE])
{
  unsigned char raw[8];
  size_t p = strlen(prefix);
  if (p + 2 * sizeof raw >= DT_STORE_ID_SIZE || dt_random_bytes(raw, sizeof raw) != 0)
    return dt_store_fail(s, DT_STORE_ERROR, "cannot make an id");
  memcpy(id, prefix, p);
  for (size_t i = 0; i < sizeof raw; i++) snprintf(id + p + 2 * i, 3, "%02x", raw[i]);
  return DT_STORE_OK;
}

int dt_store_valid_name(const char *text, size_t len)
{
  size_t chars = 0;
  if (len == 0 || len > DT_STORE_NAME_SIZE - 1 || !dt_ws_utf8_valid((const uint8_t *)text, len)) return 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x20 || c == 0x7f) return 0;
    if ((c & 0xc0) != 0x80) chars++;
  }
  return chars <= DT_STORE_MAX_NAME;
}
