/* The SQLite store: migrations, runs, events, nonces, persistence, hostile values. Each case
 * works on its own database file in a temporary directory. */
#include "store.h"

#include <dirent.h>
#include <lauxlib.h>
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lapi.h"
#include "store_stopper.h"
#include "testlib.h"

#define MAX_ROWS 16
#define MAX_CELLS 32

static char dir[64];
static int db_count;

typedef struct {
  char name[32];
  dt_store_value v; /* text: a malloc'd copy */
} cell_copy;

typedef struct {
  cell_copy cells[MAX_ROWS][MAX_CELLS];
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
  cell_copy *c = &r->cells[r->rows][r->ncells[r->rows]++];
  snprintf(c->name, sizeof c->name, "%s", name);
  c->v = *v;
  if (v->type == DT_STORE_TEXT) {
    char *copy = malloc(v->len + 1);
    if (copy) {
      memcpy(copy, v->text, v->len);
      copy[v->len] = '\0';
    }
    c->v.text = copy;
  }
  return 0;
}

static int end_row(void *ud)
{
  ((rows_copy *)ud)->rows++;
  return 0;
}

static const dt_store_visitor collect = { begin_row, cell, end_row };

static void rows_free(rows_copy *r)
{
  for (size_t i = 0; i < r->rows && i < MAX_ROWS; i++)
    for (size_t j = 0; j < r->ncells[i]; j++)
      if (r->cells[i][j].v.type == DT_STORE_TEXT) free((char *)r->cells[i][j].v.text);
  memset(r, 0, sizeof *r);
}

static const dt_store_value *find(const rows_copy *r, size_t row, const char *name)
{
  for (size_t j = 0; row < r->rows && j < r->ncells[row]; j++)
    if (strcmp(r->cells[row][j].name, name) == 0) return &r->cells[row][j].v;
  return NULL;
}

static const char *text_of(const rows_copy *r, size_t row, const char *name)
{
  const dt_store_value *v = find(r, row, name);
  return v && v->type == DT_STORE_TEXT ? v->text : NULL;
}

static double real_of(const rows_copy *r, size_t row, const char *name)
{
  const dt_store_value *v = find(r, row, name);
  return v && v->type == DT_STORE_REAL ? v->real : NAN;
}

static void new_path(char *out, size_t size)
{
  snprintf(out, size, "%s/t%d.db", dir, ++db_count);
}

static dt_store *open_ok(const char *path)
{
  char err[512] = "";
  dt_store *s = NULL;
  if (dt_store_open(path, &s, err, sizeof err) != 0) fprintf(stderr, "  open: %s\n", err);
  CHECK(s != NULL);
  return s;
}

static size_t col(dt_store_table t, const char *name)
{
  size_t i = 99;
  CHECK(dt_store_find_column(t, name, strlen(name), &i) != NULL);
  return i;
}

static dt_store_field text_field(dt_store_table t, const char *name, const char *text, size_t len)
{
  dt_store_field f = { col(t, name), { DT_STORE_TEXT, text, len, 0, 0 } };
  return f;
}

static dt_store_field str_field(dt_store_table t, const char *name, const char *text)
{
  return text_field(t, name, text, strlen(text));
}

static dt_store_field real_field(const char *name, double x)
{
  dt_store_field f = { col(DT_STORE_RUNS, name), { DT_STORE_REAL, NULL, 0, x, 0 } };
  return f;
}

static int create(dt_store *s, const char *id, const dt_store_field *f, size_t n, double now)
{
  return dt_store_run_create(s, id, strlen(id), f, n, now);
}

static int get(dt_store *s, const char *id, rows_copy *r)
{
  rows_free(r);
  return dt_store_run_get(s, id, strlen(id), &collect, r);
}

/* One integer from a query run on the file with a separate connection. */
static long long query_int(const char *path, const char *sql)
{
  sqlite3 *db;
  sqlite3_stmt *st;
  long long v = -1;
  CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

static void setup(void)
{
  strcpy(dir, "/tmp/dt-store-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
}

static void test_migrations_applied_once(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  CHECK_EQ_INT(dt_store_version(s), dt_store_schema[dt_store_schema_count - 1].version);
  dt_store_close(s);
  long long applied = query_int(path, "SELECT COUNT(*) FROM schema_migrations");
  long long first_at = query_int(path, "SELECT CAST(applied_at AS INTEGER) FROM schema_migrations WHERE version = 1");
  CHECK_EQ_INT(applied, (long long)dt_store_schema_count);
  CHECK(first_at > 1600000000);
  s = open_ok(path);
  CHECK_EQ_INT(dt_store_version(s), (long long)dt_store_schema_count);
  dt_store_close(s);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM schema_migrations"), applied);
  CHECK_EQ_INT(query_int(path, "SELECT CAST(applied_at AS INTEGER) FROM schema_migrations WHERE version = 1"), first_at);
  CHECK_EQ_INT(query_int(path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);
}

/* Processes starting together on a new file: each opens it, the schema is applied once. */
static void test_concurrent_first_open(void)
{
  char path[128];
  new_path(path, sizeof path);
  pid_t pids[8];
  int gate[2];
  CHECK_EQ_INT(pipe(gate), 0);
  for (int i = 0; i < 8; i++) {
    pids[i] = fork();
    CHECK(pids[i] >= 0);
    if (pids[i] == 0) {
      char err[512], c;
      dt_store *s;
      close(gate[1]);
      while (read(gate[0], &c, 1) > 0) continue; /* until the parent opens the gate */
      int rc = dt_store_open(path, &s, err, sizeof err);
      if (rc != 0) fprintf(stderr, "  child: %s\n", err);
      dt_store_close(s);
      _exit(rc == 0 ? 0 : 1);
    }
  }
  close(gate[0]);
  close(gate[1]);
  for (int i = 0; i < 8; i++) {
    int status = -1;
    if (pids[i] > 0) waitpid(pids[i], &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM schema_migrations"), (long long)dt_store_schema_count);
}

static void test_newer_schema_refused(void)
{
  char path[128], err[512] = "";
  new_path(path, sizeof path);
  dt_store_close(open_ok(path));
  dt_store_migration later[64];
  memcpy(later, dt_store_schema, dt_store_schema_count * sizeof later[0]);
  later[dt_store_schema_count] = (dt_store_migration){ (int)dt_store_schema_count + 1, "CREATE TABLE later(x TEXT)" };
  dt_store *s = NULL;
  CHECK_EQ_INT(dt_store_open_with(path, later, dt_store_schema_count + 1, &s, err, sizeof err), 0);
  CHECK_EQ_INT(dt_store_version(s), (long long)dt_store_schema_count + 1);
  dt_store_close(s);
  s = NULL;
  CHECK_EQ_INT(dt_store_open(path, &s, err, sizeof err), -1);
  CHECK(s == NULL);
  CHECK(strstr(err, "newer") != NULL);
  CHECK(strstr(err, path) != NULL);
  /* Refused means untouched: the later schema is still recorded. */
  CHECK_EQ_INT(query_int(path, "SELECT MAX(version) FROM schema_migrations"), (long long)dt_store_schema_count + 1);
}

static void test_failed_migration_rolls_back(void)
{
  char path[128], err[512] = "";
  new_path(path, sizeof path);
  dt_store_close(open_ok(path));
  dt_store_migration bad[64];
  memcpy(bad, dt_store_schema, dt_store_schema_count * sizeof bad[0]);
  bad[dt_store_schema_count] = (dt_store_migration){ (int)dt_store_schema_count + 1,
    "CREATE TABLE half(x TEXT); INSERT INTO no_such_table VALUES(1)" };
  dt_store *s = NULL;
  CHECK_EQ_INT(dt_store_open_with(path, bad, dt_store_schema_count + 1, &s, err, sizeof err), -1);
  CHECK(strstr(err, "migration") != NULL && strstr(err, "no_such_table") != NULL);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'"), 0);
  CHECK_EQ_INT(query_int(path, "SELECT MAX(version) FROM schema_migrations"), (long long)dt_store_schema_count);
  /* A list that skips a version is a programming error, refused before touching anything. */
  dt_store_migration gap[] = { { 2, "CREATE TABLE g(x TEXT)" } };
  CHECK_EQ_INT(dt_store_open_with(path, gap, 1, &s, err, sizeof err), -1);
}

static void test_not_a_database(void)
{
  char path[128], err[512] = "";
  new_path(path, sizeof path);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs("this is not an SQLite database, just some text that is long enough to have a header", f);
  fclose(f);
  dt_store *s = NULL;
  CHECK_EQ_INT(dt_store_open(path, &s, err, sizeof err), -1);
  CHECK(strstr(err, "cannot open database") != NULL);
  CHECK_EQ_INT(dt_store_open("/nonexistent-dir/x/y.db", &s, err, sizeof err), -1);
}

static void test_runs(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  rows_copy r = { .rows = 0 };
  dt_store_field f[] = { str_field(DT_STORE_RUNS, "to_number", "+15550001"),
                         str_field(DT_STORE_RUNS, "status", "initiated") };
  CHECK_EQ_INT(create(s, "run-1", f, 2, 1000.25), DT_STORE_OK);
  CHECK_EQ_INT(create(s, "run-1", NULL, 0, 1001), DT_STORE_EXISTS);
  CHECK_EQ_INT(get(s, "run-1", &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 1);
  CHECK_EQ_STR(text_of(&r, 0, "id"), "run-1");
  CHECK_EQ_STR(text_of(&r, 0, "to_number"), "+15550001");
  CHECK_EQ_STR(text_of(&r, 0, "status"), "initiated");
  CHECK(real_of(&r, 0, "created_at") == 1000.25 && real_of(&r, 0, "updated_at") == 1000.25);
  CHECK(find(&r, 0, "call_id") == NULL); /* NULL columns are left out */
  CHECK_EQ_INT(get(s, "run-2", &r), DT_STORE_NOT_FOUND);

  dt_store_field u[] = { str_field(DT_STORE_RUNS, "status", "ringing"), real_field("ringing_at", 1002.5),
                         str_field(DT_STORE_RUNS, "call_id", "CA1") };
  CHECK_EQ_INT(dt_store_run_update(s, "run-1", 5, u, 3, 1003), DT_STORE_OK);
  CHECK_EQ_INT(get(s, "run-1", &r), DT_STORE_OK);
  CHECK_EQ_STR(text_of(&r, 0, "status"), "ringing");
  CHECK_EQ_STR(text_of(&r, 0, "call_id"), "CA1");
  CHECK_EQ_STR(text_of(&r, 0, "to_number"), "+15550001"); /* untouched */
  CHECK(real_of(&r, 0, "ringing_at") == 1002.5 && real_of(&r, 0, "updated_at") == 1003);
  CHECK(real_of(&r, 0, "created_at") == 1000.25);

  dt_store_field clear = { col(DT_STORE_RUNS, "call_id"), { DT_STORE_NULL, NULL, 0, 0, 0 } };
  CHECK_EQ_INT(dt_store_run_update(s, "run-1", 5, &clear, 1, 1004), DT_STORE_OK);
  CHECK_EQ_INT(get(s, "run-1", &r), DT_STORE_OK);
  CHECK(find(&r, 0, "call_id") == NULL);
  CHECK_EQ_STR(text_of(&r, 0, "status"), "ringing");

  CHECK_EQ_INT(dt_store_run_update(s, "run-9", 5, u, 1, 1005), DT_STORE_NOT_FOUND);
  /* to_number is set at creation only; call_id only by an update; types must match. */
  dt_store_field ro = str_field(DT_STORE_RUNS, "to_number", "+1");
  CHECK_EQ_INT(dt_store_run_update(s, "run-1", 5, &ro, 1, 1006), DT_STORE_INVALID);
  CHECK_EQ_INT(create(s, "run-3", &u[2], 1, 1006), DT_STORE_INVALID);
  dt_store_field wrong = { col(DT_STORE_RUNS, "cost"), { DT_STORE_TEXT, "1", 1, 0, 0 } };
  CHECK_EQ_INT(dt_store_run_update(s, "run-1", 5, &wrong, 1, 1006), DT_STORE_INVALID);
  dt_store_field inf = real_field("cost", INFINITY);
  CHECK_EQ_INT(dt_store_run_update(s, "run-1", 5, &inf, 1, 1006), DT_STORE_INVALID);
  CHECK_EQ_INT(get(s, "run-3", &r), DT_STORE_NOT_FOUND);
  rows_free(&r);
  dt_store_close(s);
}

static void test_list_runs(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  rows_copy r = { .rows = 0 };
  const dt_store_run_filter any = { NULL, 0, NULL, 0 }, completed = { "completed", 9, NULL, 0 };
  const char *ids[] = { "a", "b", "c", "d", "e" };
  for (int i = 0; i < 5; i++) {
    dt_store_field st = str_field(DT_STORE_RUNS, "status", i % 2 ? "completed" : "ringing");
    CHECK_EQ_INT(create(s, ids[i], &st, 1, 2000 + i), DT_STORE_OK);
  }
  CHECK_EQ_INT(dt_store_runs_list(s, &any, 50, 0, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 5);
  CHECK_EQ_STR(text_of(&r, 0, "id"), "e");
  CHECK_EQ_STR(text_of(&r, 4, "id"), "a");
  rows_free(&r);
  CHECK_EQ_INT(dt_store_runs_list(s, &any, 2, 1, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 2);
  CHECK_EQ_STR(text_of(&r, 0, "id"), "d");
  CHECK_EQ_STR(text_of(&r, 1, "id"), "c");
  rows_free(&r);
  CHECK_EQ_INT(dt_store_runs_list(s, &completed, 50, 0, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 2);
  CHECK_EQ_STR(text_of(&r, 0, "id"), "d");
  CHECK_EQ_STR(text_of(&r, 1, "id"), "b");
  rows_free(&r);
  /* Same second: the one created last comes first. */
  CHECK_EQ_INT(create(s, "f", NULL, 0, 2004), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_runs_list(s, &any, 1, 0, &collect, &r), DT_STORE_OK);
  CHECK_EQ_STR(text_of(&r, 0, "id"), "f");
  rows_free(&r);
  CHECK_EQ_INT(dt_store_runs_list(s, &any, 0, 0, &collect, &r), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_runs_list(s, &any, DT_STORE_MAX_LIST + 1, 0, &collect, &r), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_runs_list(s, &any, 10, -1, &collect, &r), DT_STORE_INVALID);
  dt_store_close(s);
}

static void test_events(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  rows_copy r = { .rows = 0 };
  int64_t id1 = 0, id2 = 0, id3 = 0;
  CHECK_EQ_INT(create(s, "run-e", NULL, 0, 1), DT_STORE_OK);
  CHECK_EQ_INT(create(s, "run-other", NULL, 0, 1), DT_STORE_OK);
  dt_store_field e1[] = { str_field(DT_STORE_EVENTS, "source", "status-callback"),
                          str_field(DT_STORE_EVENTS, "raw_status", "ringing"),
                          str_field(DT_STORE_EVENTS, "outcome", "applied") };
  CHECK_EQ_INT(dt_store_event_add(s, "run-e", 5, e1, 3, 10.5, &id1), DT_STORE_OK);
  dt_store_field other = str_field(DT_STORE_EVENTS, "source", "other");
  CHECK_EQ_INT(dt_store_event_add(s, "run-other", 9, &other, 1, 11, &id2), DT_STORE_OK);
  dt_store_field e2 = str_field(DT_STORE_EVENTS, "status", "completed");
  CHECK_EQ_INT(dt_store_event_add(s, "run-e", 5, &e2, 1, 9, &id3), DT_STORE_OK);
  CHECK(id1 < id2 && id2 < id3);
  CHECK_EQ_INT(dt_store_events_list(s, "run-e", 5, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 2);
  /* In the order added, even when the clock went back. */
  const dt_store_value *v = find(&r, 0, "id");
  CHECK(v && v->type == DT_STORE_INTEGER && v->integer == id1);
  CHECK_EQ_STR(text_of(&r, 0, "run_id"), "run-e");
  CHECK_EQ_STR(text_of(&r, 0, "source"), "status-callback");
  CHECK_EQ_STR(text_of(&r, 0, "outcome"), "applied");
  CHECK(real_of(&r, 0, "received_at") == 10.5);
  CHECK(find(&r, 0, "raw") == NULL);
  v = find(&r, 1, "id");
  CHECK(v && v->integer == id3);
  CHECK_EQ_STR(text_of(&r, 1, "status"), "completed");
  rows_free(&r);

  int64_t none = -7;
  CHECK_EQ_INT(dt_store_event_add(s, "run-missing", 11, &e2, 1, 12, &none), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(none, -7);
  CHECK_EQ_INT(dt_store_events_list(s, "run-missing", 11, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 0);
  /* raw up to 1 MiB; every other text up to 4096 bytes. */
  char *big = malloc(DT_STORE_MAX_RAW + 1);
  CHECK(big != NULL);
  if (!big) return;
  memset(big, 'x', DT_STORE_MAX_RAW + 1);
  dt_store_field raw = text_field(DT_STORE_EVENTS, "raw", big, DT_STORE_MAX_RAW);
  CHECK_EQ_INT(dt_store_event_add(s, "run-e", 5, &raw, 1, 13, &id1), DT_STORE_OK);
  raw.value.len++;
  CHECK_EQ_INT(dt_store_event_add(s, "run-e", 5, &raw, 1, 13, &id1), DT_STORE_INVALID);
  CHECK(strstr(dt_store_error(s), "raw") != NULL);
  dt_store_field src = text_field(DT_STORE_EVENTS, "source", big, DT_STORE_MAX_TEXT + 1);
  CHECK_EQ_INT(dt_store_event_add(s, "run-e", 5, &src, 1, 13, &id1), DT_STORE_INVALID);
  free(big);
  CHECK_EQ_INT(dt_store_events_list(s, "run-e", 5, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 3);
  v = find(&r, 2, "raw");
  CHECK(v && v->len == DT_STORE_MAX_RAW);
  rows_free(&r);
  dt_store_close(s);
}

static void test_nonces(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k1", 2, 60, 1000), 1);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k1", 2, 60, 1001), 0);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k2", 2, 60, 1001), 1);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k1", 2, 60, 1059.9), 0);
  /* Expired: the key is fresh again, recorded anew for its ttl. */
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k1", 2, 60, 1060), 1);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k1", 2, 60, 1100), 0);
  /* Much later every old key is purged, not merely ignored. */
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k3", 2, 5, 5000), 1);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM webhook_nonces"), 1);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "", 0, 5, 5000), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k4", 2, 0, 5000), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "k4", 2, NAN, 5000), DT_STORE_INVALID);
  dt_store_close(s);
}

static void test_persists_across_reopen(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  rows_copy r = { .rows = 0 };
  int64_t id;
  dt_store_field st = str_field(DT_STORE_RUNS, "status", "answered");
  CHECK_EQ_INT(create(s, "keep", &st, 1, 50), DT_STORE_OK);
  dt_store_field cost = real_field("cost", 0.0125);
  CHECK_EQ_INT(dt_store_run_update(s, "keep", 4, &cost, 1, 51), DT_STORE_OK);
  dt_store_field src = str_field(DT_STORE_EVENTS, "source", "initiate");
  CHECK_EQ_INT(dt_store_event_add(s, "keep", 4, &src, 1, 52, &id), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "n", 1, 1e6, 52), 1);
  /* A second connection (another process) sees committed writes at once. */
  dt_store *other = open_ok(path);
  CHECK_EQ_INT(get(other, "keep", &r), DT_STORE_OK);
  CHECK_EQ_STR(text_of(&r, 0, "status"), "answered");
  CHECK_EQ_INT(dt_store_nonce_claim(other, "n", 1, 10, 53), 0);
  dt_store_close(other);
  dt_store_close(s);

  s = open_ok(path);
  CHECK_EQ_INT(get(s, "keep", &r), DT_STORE_OK);
  CHECK_EQ_STR(text_of(&r, 0, "status"), "answered");
  CHECK(real_of(&r, 0, "cost") == 0.0125);
  rows_free(&r);
  CHECK_EQ_INT(dt_store_events_list(s, "keep", 4, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 1);
  CHECK_EQ_STR(text_of(&r, 0, "source"), "initiate");
  rows_free(&r);
  CHECK_EQ_INT(dt_store_nonce_claim(s, "n", 1, 10, 54), 0);
  dt_store_close(s);
}

static void test_hostile_values(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  rows_copy r = { .rows = 0 };
  static const char nul[] = "a\0b\0\0c";
  const char *sql = "x'); DROP TABLE workflow_runs; --";
  dt_store_field f[] = { text_field(DT_STORE_RUNS, "from_number", nul, sizeof nul - 1),
                         str_field(DT_STORE_RUNS, "provider", sql) };
  CHECK_EQ_INT(create(s, "h-1", f, 2, 1), DT_STORE_OK);
  CHECK_EQ_INT(get(s, "h-1", &r), DT_STORE_OK);
  const dt_store_value *v = find(&r, 0, "from_number");
  CHECK(v && v->len == sizeof nul - 1 && memcmp(v->text, nul, sizeof nul - 1) == 0);
  CHECK_EQ_STR(text_of(&r, 0, "provider"), sql);
  CHECK_EQ_INT(query_int(path, "SELECT COUNT(*) FROM workflow_runs"), 1);
  /* A status that looks like SQL matches only itself. */
  rows_free(&r);
  const dt_store_run_filter injection = { "' OR '1'='1", 11, NULL, 0 };
  CHECK_EQ_INT(dt_store_runs_list(s, &injection, 10, 0, &collect, &r), DT_STORE_OK);
  CHECK_EQ_INT(r.rows, 0);

  char big[DT_STORE_MAX_TEXT + 2];
  memset(big, 'y', sizeof big);
  dt_store_field at_limit = text_field(DT_STORE_RUNS, "workflow_id", big, DT_STORE_MAX_TEXT);
  CHECK_EQ_INT(create(s, "h-2", &at_limit, 1, 2), DT_STORE_OK);
  at_limit.value.len++;
  CHECK_EQ_INT(create(s, "h-3", &at_limit, 1, 2), DT_STORE_INVALID);
  CHECK(strstr(dt_store_error(s), "workflow_id") != NULL);
  CHECK_EQ_INT(get(s, "h-3", &r), DT_STORE_NOT_FOUND);

  char id[DT_STORE_MAX_ID + 2];
  memset(id, 'i', sizeof id);
  CHECK_EQ_INT(dt_store_run_create(s, id, DT_STORE_MAX_ID, NULL, 0, 3), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_run_create(s, id, DT_STORE_MAX_ID + 1, NULL, 0, 3), DT_STORE_INVALID);
  static const char *const bad_ids[] = { "", "a b", "a/b", "a'b", "é", "a\nb" };
  for (size_t i = 0; i < sizeof bad_ids / sizeof bad_ids[0]; i++)
    CHECK_EQ_INT(create(s, bad_ids[i], NULL, 0, 3), DT_STORE_INVALID);
  CHECK_EQ_INT(dt_store_run_create(s, "a\0b", 3, NULL, 0, 3), DT_STORE_INVALID);
  CHECK_EQ_INT(create(s, "Az09_.:-", NULL, 0, 3), DT_STORE_OK);
  /* Lookups of ids that cannot exist are simply not found. */
  CHECK_EQ_INT(get(s, "a b", &r), DT_STORE_NOT_FOUND);
  CHECK_EQ_INT(dt_store_run_update(s, "", 0, NULL, 0, 4), DT_STORE_NOT_FOUND);
  rows_free(&r);
  dt_store_close(s);
}

static void test_current(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path);
  CHECK(dt_store_current() == NULL);
  dt_store_set_current(s);
  CHECK(dt_store_current() == s);
  dt_store_close(s);
  CHECK(dt_store_current() == NULL);
  /* dt_store_open_data_dir creates the directory, the file, and sets the current store. */
  char data[128], file[160];
  snprintf(data, sizeof data, "%s/data/nested", dir);
  CHECK_EQ_INT(dt_store_open_data_dir(data, &s, path, sizeof path), 0);
  CHECK(s != NULL && dt_store_current() == s);
  dt_store_close(s);
  snprintf(file, sizeof file, "%s/" DT_STORE_FILE, data);
  CHECK_EQ_INT(access(file, R_OK | W_OK), 0);
  CHECK_EQ_INT(unlink(file), 0);
  CHECK_EQ_INT(rmdir(data), 0);
  snprintf(data, sizeof data, "%s/data", dir);
  CHECK_EQ_INT(rmdir(data), 0);
}



/* A visitor that stops fails the call at once, and the statement is reset: a write made
 * through another connection afterwards is seen (a statement left stepping would keep the
 * connection's read snapshot). */
static void test_visitor_stops(void)
{
  char path[128];
  new_path(path, sizeof path);
  dt_store *s = open_ok(path), *other = open_ok(path);
  const dt_store_run_filter any = { NULL, 0, NULL, 0 };
  for (int i = 0; i < 3; i++) {
    char id[8];
    snprintf(id, sizeof id, "r%d", i);
    CHECK_EQ_INT(create(s, id, NULL, 0, 3000 + i), DT_STORE_OK);
  }
  int64_t n = 0, ev;
  for (int at = 1; at <= 8; at++) {
    stopper p = { 0, at };
    CHECK_EQ_INT(dt_store_runs_list(s, &any, 10, 0, &stopping, &p), DT_STORE_ERROR);
    CHECK_EQ_INT(p.calls, at);
    CHECK_EQ_STR(dt_store_error(s), "stopped by the row visitor");
    char id[8];
    snprintf(id, sizeof id, "n%d", at);
    CHECK_EQ_INT(create(other, id, NULL, 0, 4000 + at), DT_STORE_OK);
    CHECK_EQ_INT(dt_store_runs_count(s, &any, &n), DT_STORE_OK);
    CHECK_EQ_INT(n, 3 + at);
  }
  CHECK_EQ_INT(dt_store_event_add(s, "r0", 2, NULL, 0, 5000, &ev), DT_STORE_OK);
  stopper p = { 0, 1 };
  CHECK_EQ_INT(dt_store_events_list(s, "r0", 2, &stopping, &p), DT_STORE_ERROR);
  CHECK_EQ_INT(p.calls, 1);
  CHECK_EQ_INT(create(other, "late", NULL, 0, 6000), DT_STORE_OK);
  CHECK_EQ_INT(dt_store_runs_count(s, &any, &n), DT_STORE_OK);
  CHECK_EQ_INT(n, 12);
  dt_store_close(other);
  dt_store_close(s);
}

/* Without a current store every binding raises, naming the module. */
static void test_binding_without_store(void)
{
  lua_State *L = luaL_newstate();
  CHECK(L != NULL);
  if (!L) return;
  dt_lapi_store_open(L);
  lua_getfield(L, -1, "get_run");
  lua_pushstring(L, "x");
  CHECK_EQ_INT(lua_pcall(L, 1, 1, 0), LUA_ERRRUN);
  CHECK(strstr(lua_tostring(L, -1), "dialtone.store: no store is open") != NULL);
  lua_close(L);
}

static void cleanup(void)
{
  DIR *d = opendir(dir);
  CHECK(d != NULL);
  if (!d) return;
  struct dirent *e;
  char path[400];
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    CHECK_EQ_INT(unlink(path), 0);
  }
  closedir(d);
  CHECK_EQ_INT(rmdir(dir), 0);
}

TEST_MAIN(TEST(setup), TEST(test_migrations_applied_once), TEST(test_concurrent_first_open),
          TEST(test_newer_schema_refused),
          TEST(test_failed_migration_rolls_back), TEST(test_not_a_database), TEST(test_runs),
          TEST(test_list_runs), TEST(test_events), TEST(test_nonces), TEST(test_persists_across_reopen),
          TEST(test_hostile_values), TEST(test_current), TEST(test_visitor_stops), TEST(test_binding_without_store), TEST(cleanup))
