/* A Lua error raised while dialtone.store turns rows into Lua values (out of memory at the
 * state's memory limit) must not unwind through the store: the script gets the error, the
 * store's statement is reset so the connection sees later writes (a SELECT left stepping
 * would pin its read snapshot: a rotated API key would keep working), and what the store held
 * (decrypted settings) is freed, which the ASan build's LeakSanitizer checks. */
#include "store.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <unistd.h>

#include "lapi.h"
#include "testlib.h"
#include "vm.h"

#define RUNS 60
#define ORGS 30
#define CONFIGS 20
#define NUMBERS 100
#define NO_LIMIT ((size_t)1 << 30)

static char dir[64];
static const uint8_t KEY[32] = { 7, 1, 7 };

typedef struct {
  dt_store *s;     /* the bindings' store */
  dt_store *other; /* a second connection to the same file: another process */
  dt_vm *vm;
  dt_store_org org;
  char cfg[DT_STORE_ID_SIZE];
  int fresh; /* runs written through other */
} fixture;

static void seed_runs_and_orgs(fixture *f)
{
  char id[32], key[DT_API_KEY_LEN + 1];
  for (int i = 0; i < RUNS; i++) {
    snprintf(id, sizeof id, "run_%d", i);
    CHECK_EQ_INT(dt_store_run_create(f->s, id, strlen(id), NULL, 0, 100 + i), DT_STORE_OK);
    CHECK(dt_store_event_add(f->s, "run_0", 5, NULL, 0, 200 + i, &(int64_t){ 0 }) == DT_STORE_OK);
  }
  for (int i = 0; i < ORGS; i++) {
    dt_store_org org;
    snprintf(id, sizeof id, "Org %d", i);
    CHECK_EQ_INT(dt_store_org_create(f->s, id, strlen(id), 10 + i, &org, key), DT_STORE_OK);
    if (i == 0) f->org = org;
  }
}

static void seed_configs(fixture *f)
{
  const char *org = f->org.id;
  char name[32], settings[256], cfg[DT_STORE_ID_SIZE], wf[DT_STORE_ID_SIZE];
  dt_store_str secret = { "auth_token", 10 };
  for (int i = 0; i < CONFIGS; i++) {
    snprintf(name, sizeof name, "config %d", i);
    snprintf(settings, sizeof settings,
             "{\"account_sid\":\"AC%d\",\"auth_token\":\"tok-secret-%d\",\"numbers\":[\"+1555%07d\"]}", i, i, i);
    dt_store_config_in in = { { name, strlen(name) }, { "twilio", 6 }, { settings, strlen(settings) }, &secret, 1, 0 };
    CHECK_EQ_INT(dt_store_config_create(f->s, org, strlen(org), &in, 300 + i, cfg), DT_STORE_OK);
    if (i == 0) memcpy(f->cfg, cfg, sizeof cfg);
    snprintf(name, sizeof name, "workflow %d", i);
    dt_store_str wf_name = { name, strlen(name) }, flow = { "echo", 4 }, wf_settings = { "{\"a\":\"b\"}", 9 };
    CHECK_EQ_INT(dt_store_workflow_create(f->s, org, strlen(org), wf_name, flow, wf_settings, 400 + i, wf), DT_STORE_OK);
  }
  static char texts[NUMBERS][16];
  dt_store_str numbers[NUMBERS];
  for (int i = 0; i < NUMBERS; i++) {
    snprintf(texts[i], sizeof texts[i], "+1666%07d", i);
    numbers[i] = (dt_store_str){ texts[i], strlen(texts[i]) };
  }
  CHECK_EQ_INT(dt_store_numbers_set(f->s, org, strlen(org), f->cfg, strlen(f->cfg), numbers, NUMBERS, 500), DT_STORE_OK);
}

static int setup(fixture *f)
{
  char path[128], err[512] = "";
  memset(f, 0, sizeof *f);
  snprintf(path, sizeof path, "%s/t.db", dir);
  if (dt_store_open(path, &f->s, err, sizeof err) != 0 || dt_store_open(path, &f->other, err, sizeof err) != 0) {
    fprintf(stderr, "  open: %s\n", err);
    return -1;
  }
  dt_store_set_master_key(f->s, KEY);
  dt_store_set_current(f->s);
  seed_runs_and_orgs(f);
  seed_configs(f);
  f->vm = dt_vm_new(dir, NO_LIMIT);
  if (!f->vm) return -1;
  lua_settop(f->vm->L, 0);
  dt_lapi_store_open(f->vm->L); /* the module at index 1 */
  return 0;
}

/* Writes a run through the other connection; the bindings' connection must see it. */
static void check_sees_new_writes(fixture *f, const char *call)
{
  char id[32];
  snprintf(id, sizeof id, "fresh_%d", ++f->fresh);
  CHECK_EQ_INT(dt_store_run_create(f->other, id, strlen(id), NULL, 0, 1000 + f->fresh), DT_STORE_OK);
  dt_store_run_filter all = { NULL, 0, NULL, 0 };
  int64_t n = -1;
  CHECK_EQ_INT(dt_store_runs_count(f->s, &all, &n), DT_STORE_OK);
  if (n != RUNS + f->fresh) fprintf(stderr, "  after %s: a stale read snapshot\n", call);
  CHECK_EQ_INT(n, RUNS + f->fresh);
}

/* Runs `return store.<call>` (store, org and cfg are its locals) with the state allowed budget
 * more bytes; the garbage collector is stopped so the same call needs the same memory, which
 * goes to *used. Returns lua_pcall's status with the result or the error on top of the stack. */
static int call_within(fixture *f, const char *call, size_t budget, size_t *used)
{
  lua_State *L = f->vm->L;
  char chunk[256];
  snprintf(chunk, sizeof chunk, "local store, org, cfg = ...; return store.%s", call);
  lua_settop(L, 1);
  if (luaL_loadstring(L, chunk) != 0) return -1;
  lua_pushvalue(L, 1);
  lua_pushstring(L, f->org.id);
  lua_pushstring(L, f->cfg);
  lua_gc(L, LUA_GCCOLLECT, 0);
  lua_gc(L, LUA_GCSTOP, 0);
  size_t before = f->vm->used;
  f->vm->limit = budget == NO_LIMIT ? NO_LIMIT : before + budget;
  int rc = lua_pcall(L, 3, 1, 0);
  f->vm->limit = NO_LIMIT;
  *used = f->vm->used - before;
  lua_gc(L, LUA_GCRESTART, 0);
  return rc;
}

/* Each call fails at several points short of the memory it needs (most of them while rows
 * are being made): the error is the script's, and the store is left as it must be. */
static void test_out_of_memory_mid_rows(void)
{
  static const struct {
    const char *call;
    size_t rows;
  } calls[] = {
    { "list_runs({ limit = 500 })", RUNS }, { "events('run_0')", RUNS }, { "list_configs(org)", CONFIGS },
    { "phone_numbers(org, cfg)", NUMBERS }, { "list_workflows(org)", CONFIGS }, { "list_organizations()", ORGS },
    { "get_config(org, cfg)", 0 }, { "get_run('run_1')", 0 },
  };
  fixture f;
  if (setup(&f) != 0) {
    CHECK(!"setup");
    return;
  }
  lua_State *L = f.vm->L;
  for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
    size_t need = 0;
    CHECK_EQ_INT(call_within(&f, calls[i].call, NO_LIMIT, &need), 0); /* warming up */
    CHECK_EQ_INT(call_within(&f, calls[i].call, NO_LIMIT, &need), 0);
    CHECK(lua_istable(L, -1));
    if (calls[i].rows) CHECK_EQ_INT(lua_objlen(L, -1), calls[i].rows);
    for (size_t eighths = 1; eighths < 8; eighths++) {
      size_t used;
      int rc = call_within(&f, calls[i].call, need * eighths / 8, &used);
      CHECK(rc != 0);
      const char *msg = lua_tostring(L, -1);
      if (rc == 0 || !msg || !strstr(msg, "not enough memory"))
        fprintf(stderr, "  %s at %zu/8: %s\n", calls[i].call, eighths, msg ? msg : "(no message)");
      CHECK(rc != 0 && msg && strstr(msg, "not enough memory"));
      check_sees_new_writes(&f, calls[i].call);
    }
    size_t used;
    CHECK_EQ_INT(call_within(&f, calls[i].call, NO_LIMIT, &used), 0); /* and it works again */
  }
  dt_vm_free(f.vm);
  dt_store_close(f.other);
  dt_store_close(f.s);
}

static void test_setup(void)
{
  snprintf(dir, sizeof dir, "/tmp/dt-store-lua-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
}

static void test_cleanup(void)
{
  const char *files[] = { "t.db", "t.db-wal", "t.db-shm" };
  char path[128];
  for (size_t i = 0; i < 3; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, files[i]);
    unlink(path);
  }
  CHECK_EQ_INT(rmdir(dir), 0);
}

TEST_MAIN(TEST(test_setup), TEST(test_out_of_memory_mid_rows), TEST(test_cleanup))
