/* Shared by the store's files (store.c lifecycle, store_sql.c helpers, store_*.c queries);
 * not for other modules. */
#ifndef DT_STORE_PRIV_H
#define DT_STORE_PRIV_H

#include <sqlite3.h>

#include "store.h"

enum {
  DT_ST_RUN_INSERT, DT_ST_RUN_GET, DT_ST_RUN_UPDATE,
  DT_ST_EVENT_INSERT, DT_ST_EVENTS, DT_ST_NONCE_CLAIM, DT_ST_NONCE_PURGE, DT_ST_COUNT
};

#define DT_STORE_SQL_CACHE 64 /* statements prepared on first use (dt_store_sql) */

typedef struct {
  const char *sql; /* a string constant: the cache is keyed by its address */
  sqlite3_stmt *st;
} dt_store_cached;

struct dt_store {
  sqlite3 *db;
  sqlite3_stmt *st[DT_ST_COUNT]; /* prepared once at open */
  dt_store_cached cache[DT_STORE_SQL_CACHE];
  int version;
  double next_purge; /* of expired nonces */
  unsigned char master_key[32];
  int has_master_key;
  int in_batch; /* dt_store_batch_begin: the calls' transactions join the batch's */
  char err[512];
};

/* Formats the message of a failure into s->err; returns code. */
int dt_store_fail(dt_store *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const dt_store_column *dt_store_columns(dt_store_table table, size_t *count);
/* Prepares every statement of s->st. Returns 0 or -1 (message in s->err). */
int dt_store_prepare(dt_store *s);

/* ---- store_sql.c ---- */
/* The statement for sql (a string constant), prepared on first use (so a database opened
 * with an older schema list still opens), reset with no bindings. NULL on failure. */
sqlite3_stmt *dt_store_sql(dt_store *s, const char *sql);
/* Finalizes the cached statements (at close). */
void dt_store_sql_free(dt_store *s);
/* Records SQLite's message for the failure rc; returns DT_STORE_ERROR. */
int dt_store_sqlite_fail(dt_store *s, int rc);
/* Maps the result of stepping a write statement (or of binding it), then resets it: a
 * primary key or unique conflict is DT_STORE_EXISTS, a foreign key one DT_STORE_NOT_FOUND. */
int dt_store_done(dt_store *s, sqlite3_stmt *st, int rc);
/* Records that a visitor stopped the call; returns DT_STORE_ERROR. */
int dt_store_stopped(dt_store *s);
/* Steps st, visiting each row (every non-NULL column); *rows is how many; resets it. */
int dt_store_visit(dt_store *s, sqlite3_stmt *st, const dt_store_visitor *v, void *ud, size_t *rows);
/* Reads column i of the current row; returns 1 with *v set, 0 for NULL, -1 out of memory. */
int dt_store_cell_value(sqlite3_stmt *st, int i, dt_store_value *v);
int dt_store_bind_text(sqlite3_stmt *st, int index, const char *text, size_t len);
/* BEGIN IMMEDIATE; dt_store_end commits when rc is DT_STORE_OK, else rolls back; returns rc
 * (or the commit's failure). Inside a batch both leave the transaction to the batch. */
int dt_store_begin(dt_store *s);
int dt_store_end(dt_store *s, int rc);
/* prefix + 16 random hex digits into id. */
int dt_store_new_id(dt_store *s, const char *prefix, char id[DT_STORE_ID_SIZE]);
#endif
