/* Shared by store.c (lifecycle) and store_runs.c (queries); not for other modules. */
#ifndef DT_STORE_PRIV_H
#define DT_STORE_PRIV_H

#include <sqlite3.h>

#include "store.h"

enum {
  DT_ST_RUN_INSERT, DT_ST_RUN_GET, DT_ST_RUN_UPDATE, DT_ST_RUNS_ALL, DT_ST_RUNS_BY_STATUS,
  DT_ST_EVENT_INSERT, DT_ST_EVENTS, DT_ST_NONCE_CLAIM, DT_ST_NONCE_PURGE, DT_ST_COUNT
};

struct dt_store {
  sqlite3 *db;
  sqlite3_stmt *st[DT_ST_COUNT]; /* prepared once at open */
  int version;
  double next_purge; /* of expired nonces */
  char err[512];
};

/* Formats the message of a failure into s->err; returns code. */
int dt_store_fail(dt_store *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const dt_store_column *dt_store_columns(dt_store_table table, size_t *count);
/* Prepares every statement of s->st. Returns 0 or -1 (message in s->err). */
int dt_store_prepare(dt_store *s);
#endif
