/* The SQLite store: one database file in WAL mode, its schema as numbered migrations
 * (store_schema.c) applied at open, and the workflow runs, call events and webhook nonces the
 * telephony endpoints keep; organisations and their API keys (store_orgs.c), telephony
 * configurations with encrypted secrets (store_configs.c) and their phone numbers
 * (store_numbers.c), workflows (store_workflows.c).
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
#define DT_STORE_MAX_NAME 100          /* characters of a name (organisation, config, workflow) */
#define DT_STORE_NAME_SIZE (4 * DT_STORE_MAX_NAME + 1) /* bytes holding one, NUL included */
#define DT_STORE_MAX_SETTINGS (64 * 1024) /* bytes of a settings JSON object */
#define DT_STORE_MAX_FIELDS 64         /* fields of a settings object, names of secret fields */
#define DT_STORE_MAX_NUMBERS 1000      /* phone numbers of a configuration */
#define DT_STORE_MAX_NUMBER 64         /* bytes of a phone number */
#define DT_STORE_ID_SIZE 24            /* "org_" / "cfg_" / "wf_" + 16 hex digits, NUL included */
#define DT_API_KEY_LEN 43              /* "dt_" + 40 base64url characters of 30 random bytes */
#define DT_API_KEY_PREFIX_LEN 8        /* characters of a key kept for display */

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
/* Makes the calls up to dt_store_batch_end one transaction (BEGIN IMMEDIATE, so no other
 * process writes in between): each call's own transaction joins it, and dt_store_batch_end
 * commits them all when rc is DT_STORE_OK, else rolls them all back. Not nestable. Both return
 * rc, or the failure to begin or commit. */
int dt_store_batch_begin(dt_store *s);
int dt_store_batch_end(dt_store *s, int rc);
/* The key (32 bytes) that encrypts configuration secrets; copied, wiped at close. */
void dt_store_set_master_key(dt_store *s, const uint8_t key[32]);

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
 * call only), then end_row. Each returns 0 to go on, or nonzero to stop: the call then resets
 * its statement, frees what it holds and fails with DT_STORE_ERROR. A visitor must return,
 * never unwind out of the store (longjmp): a statement left unreset would keep the
 * connection's read snapshot open. */
typedef struct {
  int (*begin_row)(void *ud);
  int (*cell)(void *ud, const char *column, const dt_store_value *v);
  int (*end_row)(void *ud);
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
/* Which runs a listing or count covers: a NULL text means any. */
typedef struct {
  const char *status;
  size_t status_len;
  const char *organization_id;
  size_t organization_id_len;
} dt_store_run_filter;

/* Visits the runs the filter covers, newest first (created_at); 1 <= limit <=
 * DT_STORE_MAX_LIST, offset >= 0. */
int dt_store_runs_list(dt_store *s, const dt_store_run_filter *f, int limit, int64_t offset,
                       const dt_store_visitor *v, void *ud);
/* How many runs the filter covers, in *count. */
int dt_store_runs_count(dt_store *s, const dt_store_run_filter *f, int64_t *count);

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

/* 1 when text is 1..DT_STORE_MAX_NAME characters of valid UTF-8 without control characters. */
int dt_store_valid_name(const char *text, size_t len);

/* ---- organisations and API keys (store_orgs.c) ----
 * An API key is shown once, when made; the store keeps its SHA-256 (hex) and its first
 * DT_API_KEY_PREFIX_LEN characters only. */
typedef struct {
  char id[DT_STORE_ID_SIZE];
  char name[DT_STORE_NAME_SIZE];
  double created_at;
} dt_store_org;

/* A new organisation called name and its first API key (NUL-terminated) in key.
 * DT_STORE_INVALID for a bad name, DT_STORE_EXISTS when the name is taken. */
int dt_store_org_create(dt_store *s, const char *name, size_t len, double now, dt_store_org *org,
                        char key[DT_API_KEY_LEN + 1]);
/* The organisation with that id, or DT_STORE_NOT_FOUND. */
int dt_store_org_get(dt_store *s, const char *id, size_t len, dt_store_org *org);
/* The organisation with that id or else that name, or DT_STORE_NOT_FOUND. */
int dt_store_org_find(dt_store *s, const char *id_or_name, size_t len, dt_store_org *org);
/* Calls each for every organisation, oldest first; stops at the first nonzero it returns. */
int dt_store_orgs_list(dt_store *s, int (*each)(void *ud, const dt_store_org *org), void *ud);
/* The organisation a key that is not revoked belongs to, or DT_STORE_NOT_FOUND. */
int dt_store_org_for_key(dt_store *s, const char *key, size_t len, dt_store_org *org);
/* Revokes every key of the organisation and makes a new one. DT_STORE_NOT_FOUND when there
 * is no such organisation. */
int dt_store_key_rotate(dt_store *s, const char *org_id, size_t len, double now, char key[DT_API_KEY_LEN + 1]);

/* ---- telephony configurations (store_configs.c) ----
 * settings is a JSON object of every field, secret or not: names 1..100 bytes, values strings
 * or arrays of strings, at most DT_STORE_MAX_FIELDS fields and DT_STORE_MAX_SETTINGS bytes.
 * The fields named in secret_fields are stored apart, sealed with AES-256-GCM under the
 * master key (AAD "telephony_configs:" + id). Rows are visited with the cells id,
 * organization_id, name, provider, settings (every field, secrets decrypted), secret_fields
 * (a JSON array of the names of the fields stored sealed), is_default (integer 0 or 1),
 * created_at, updated_at. A row whose secrets do not open fails the call (DT_STORE_ERROR,
 * "cannot decrypt the secrets of configuration cfg_...: wrong master key?"). */
typedef struct {
  const char *text; /* NULL: not given */
  size_t len;
} dt_store_str;

typedef struct {
  dt_store_str name, provider, settings; /* not given: unchanged (update); required (create) */
  const dt_store_str *secret_fields;     /* not given (NULL): none (create), unchanged (update) */
  size_t nsecret;
  int is_default;                        /* create only */
} dt_store_config_in;

/* A new configuration of the organisation, its id in id. The organisation's first
 * configuration, or one with is_default set, becomes its default. DT_STORE_EXISTS when the
 * organisation has one with that name; DT_STORE_NOT_FOUND when there is no organisation. */
int dt_store_config_create(dt_store *s, const char *org, size_t org_len, const dt_store_config_in *in,
                           double now, char id[DT_STORE_ID_SIZE]);
int dt_store_config_get(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len,
                        const dt_store_visitor *v, void *ud);
/* The organisation's default configuration, or DT_STORE_NOT_FOUND. */
int dt_store_config_default(dt_store *s, const char *org, size_t org_len, const dt_store_visitor *v, void *ud);
/* Every configuration of the organisation, oldest first. */
int dt_store_configs_list(dt_store *s, const char *org, size_t org_len, const dt_store_visitor *v, void *ud);
/* Changes the fields given (settings replaces every field). DT_STORE_NOT_FOUND, DT_STORE_EXISTS. */
int dt_store_config_update(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len,
                           const dt_store_config_in *in, double now);
/* Deletes it and its phone numbers; when it was the default, the oldest remaining one
 * becomes the default. */
int dt_store_config_delete(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len);
int dt_store_config_set_default(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len);
/* *sealed = 1 when some configuration holds secrets sealed under the master key, else 0. */
int dt_store_configs_sealed(dt_store *s, int *sealed);

/* ---- phone numbers of a configuration (store_numbers.c) ---- */
/* Replaces the configuration's numbers (each 1..DT_STORE_MAX_NUMBER bytes, at most
 * DT_STORE_MAX_NUMBERS, duplicates kept once). DT_STORE_NOT_FOUND for another
 * organisation's configuration. */
int dt_store_numbers_set(dt_store *s, const char *org, size_t org_len, const char *config_id, size_t config_len,
                         const dt_store_str *numbers, size_t n, double now);
/* Visits {number} rows in the order they were set (none for an unknown configuration). */
int dt_store_numbers_list(dt_store *s, const char *org, size_t org_len, const char *config_id, size_t config_len,
                          const dt_store_visitor *v, void *ud);

/* ---- workflows (store_workflows.c) ----
 * Rows: id, organization_id, name, flow, settings (JSON object text), created_at. */
#define DT_STORE_MAX_FLOW 100 /* bytes of a flow module name: [A-Za-z0-9_]+ */
/* 1 when flow is 1..DT_STORE_MAX_FLOW characters of [A-Za-z0-9_]. */
int dt_store_valid_flow(const char *flow, size_t len);
/* settings: a JSON object of at most DT_STORE_MAX_SETTINGS bytes and DT_STORE_MAX_FIELDS fields
 * (NULL text: {}). DT_STORE_EXISTS when the organisation has a workflow with that name. */
int dt_store_workflow_create(dt_store *s, const char *org, size_t org_len, dt_store_str name, dt_store_str flow,
                             dt_store_str settings, double now, char id[DT_STORE_ID_SIZE]);
int dt_store_workflow_get(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len,
                          const dt_store_visitor *v, void *ud);
/* The organisation's workflows, oldest first. */
int dt_store_workflows_list(dt_store *s, const char *org, size_t org_len, const dt_store_visitor *v, void *ud);
#endif
