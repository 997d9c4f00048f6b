/* The SQLite store: one database file in WAL mode, its schema as numbered migrations
 * (store_schema.c) applied at open, and the workflow runs, call events and webhook nonces the
 * telephony endpoints keep.
 *
 * Every statement is prepared once per store and is short, because it runs on the event loop
 * thread. synchronous=FULL: a write that returned has reached the disk, so a 2xx answered to a
 * carrier after it survives kill -9 and power loss.
 *
 * Calls return DT_STORE_OK (0) or a negative DT_STORE_* code; dt_store_error() then says why.
 * Times are Unix seconds (sub-second) passed in by the caller, so tests can choose them. */
#ifndef DT_STORE_H
#define DT_STORE_H

#include <stddef.h>
#include <stdint.h>

#define DT_STORE_FILE "dialtone.db"    /* inside data_dir */
#define DT_STORE_MAX_ID 128            /* run ids: 1..128 of [A-Za-z0-9_.:-] */
#define DT_STORE_MAX_TEXT 4096         /* bytes of any text column but call_events.raw */
#define DT_STORE_MAX_RAW ((size_t)1 << 20) /* bytes of call_events.raw */
#define DT_STORE_MAX_LIST 500          /* runs per dt_store_runs_list page */
#define DT_STORE_BUSY_TIMEOUT_MS 2000  /* waiting for another process holding the lock */

enum {
  DT_STORE_OK = 0,
  DT_STORE_ERROR = -1,     /* SQLite failed, or out of memory */
  DT_STORE_NOT_FOUND = -2, /* no run with that id */
  DT_STORE_EXISTS = -3,    /* a run with that id already exists */
  DT_STORE_INVALID = -4,   /* a value too long, not finite, a bad id or a column not allowed */
};

typedef struct dt_store dt_store;

/* One numbered schema step: SQL run in one transaction, recorded in schema_migrations. */
typedef struct {
  int version; /* 1, 2, 3, ... in order */
  const char *sql;
} dt_store_migration;

extern const dt_store_migration dt_store_schema[];
extern const size_t dt_store_schema_count;

/* Opens (creating it if needed) the database at path and applies the schema's migrations not
 * yet applied. A database recording a version newer than the schema knows is refused. Returns
 * 0 and sets *out, or -1 with a message in err. */
int dt_store_open(const char *path, dt_store **out, char *err, size_t errlen);
/* The same with another migration list (tests: a later release, a failing step). */
int dt_store_open_with(const char *path, const dt_store_migration *migrations, size_t count,
                       dt_store **out, char *err, size_t errlen);
/* Opens <data_dir>/DT_STORE_FILE, creating data_dir if needed, and makes it the current
 * store. Returns 0, or -1 with a message in err. */
int dt_store_open_data_dir(const char *data_dir, dt_store **out, char *err, size_t errlen);
/* Closes s (NULL is ignored); the current store when it was s becomes none. */
void dt_store_close(dt_store *s);
/* The highest migration version applied. */
int dt_store_version(const dt_store *s);
/* The message of the last failed call. */
const char *dt_store_error(const dt_store *s);

/* The store the Lua bindings use (NULL: none open). The caller keeps ownership. */
void dt_store_set_current(dt_store *s);
dt_store *dt_store_current(void);

/* 1 when id is 1..DT_STORE_MAX_ID characters of [A-Za-z0-9_.:-]. */
int dt_store_valid_id(const char *id, size_t len);

typedef enum { DT_STORE_NULL, DT_STORE_TEXT, DT_STORE_REAL, DT_STORE_INTEGER } dt_store_type;

typedef struct {
  dt_store_type type;
  const char *text; /* DT_STORE_TEXT: len bytes, may hold NUL bytes */
  size_t len;
  double real;      /* DT_STORE_REAL: finite */
  int64_t integer;  /* DT_STORE_INTEGER (read only: event ids) */
} dt_store_value;

/* A column of workflow_runs or call_events and what a caller may set in it. */
typedef struct {
  const char *name;
  dt_store_type type;    /* DT_STORE_TEXT or DT_STORE_REAL */
  unsigned allowed;      /* DT_STORE_ON_CREATE | DT_STORE_ON_UPDATE */
  size_t max_len;        /* text bytes */
} dt_store_column;

#define DT_STORE_ON_CREATE 1u
#define DT_STORE_ON_UPDATE 2u

typedef enum { DT_STORE_RUNS, DT_STORE_EVENTS } dt_store_table;

/* The column called name (len bytes) of table, or NULL; *index is its index for a field. */
const dt_store_column *dt_store_find_column(dt_store_table table, const char *name, size_t len,
                                            size_t *index);

typedef struct {
  size_t column;        /* index from dt_store_find_column */
  dt_store_value value; /* DT_STORE_NULL clears the column (updates) */
} dt_store_field;

/* Receives rows: begin_row, then cell for every non-NULL column (name, value valid during the
 * call only), then end_row. */
typedef struct {
  void (*begin_row)(void *ud);
  void (*cell)(void *ud, const char *column, const dt_store_value *v);
  void (*end_row)(void *ud);
} dt_store_visitor;

/* A new run with the DT_STORE_ON_CREATE fields given (others NULL); created_at = updated_at
 * = now. DT_STORE_EXISTS when the id is taken. */
int dt_store_run_create(dt_store *s, const char *id, size_t id_len, const dt_store_field *fields,
                        size_t n, double now);
/* Visits the run's row. DT_STORE_NOT_FOUND when there is none. */
int dt_store_run_get(dt_store *s, const char *id, size_t id_len, const dt_store_visitor *v, void *ud);
/* Sets the DT_STORE_ON_UPDATE fields given and updated_at = now. */
int dt_store_run_update(dt_store *s, const char *id, size_t id_len, const dt_store_field *fields,
                        size_t n, double now);
/* Visits runs newest first (created_at), those with the status when status is not NULL;
 * 1 <= limit <= DT_STORE_MAX_LIST, offset >= 0. */
int dt_store_runs_list(dt_store *s, const char *status, size_t status_len, int limit, int64_t offset,
                       const dt_store_visitor *v, void *ud);

/* Appends an event (DT_STORE_EVENTS fields) received at now to the run; *event_id is its id.
 * DT_STORE_NOT_FOUND when the run does not exist. */
int dt_store_event_add(dt_store *s, const char *run_id, size_t run_id_len, const dt_store_field *fields,
                       size_t n, double now, int64_t *event_id);
/* Visits the run's events in the order they were added (none for an unknown run). */
int dt_store_events_list(dt_store *s, const char *run_id, size_t run_id_len, const dt_store_visitor *v,
                         void *ud);

/* Records key until now + ttl if it is not recorded (or its record expired): returns 1; 0 when
 * it is still recorded; negative on error. Expired keys are purged now and then. */
int dt_store_nonce_claim(dt_store *s, const char *key, size_t key_len, double ttl, double now);
#endif
