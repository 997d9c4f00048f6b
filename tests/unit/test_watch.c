#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "testlib.h"
#include "watch.h"

#define DEBOUNCE_MS 50
#define TIMEOUT_MS 2000
#define QUIET_MS 250

static int calls;
static uint64_t last_call_ms;
static uv_loop_t *test_loop;

static void on_change(void *ud)
{
  (void)ud;
  calls++;
  last_call_ms = uv_now(test_loop);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
  (void)st; (void)flag; (void)ftw;
  return remove(path);
}

static void rm_tree(const char *path)
{
  CHECK(nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static void make_dir(const char *dir, const char *name)
{
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  CHECK(mkdir(path, 0700) == 0);
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

static void check_calls(uv_timer_t *t)
{
  if (calls >= *(int *)t->data) uv_stop(t->loop);
}

/* Runs the loop until at least `want` callbacks have happened or TIMEOUT_MS passed. */
static void wait_calls(uv_loop_t *loop, int want)
{
  uv_timer_t poll, limit;
  uv_timer_init(loop, &poll);
  uv_timer_init(loop, &limit);
  poll.data = &want;
  uv_timer_start(&poll, check_calls, 5, 5);
  uv_timer_start(&limit, stop_loop, TIMEOUT_MS, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&poll, NULL);
  uv_close((uv_handle_t *)&limit, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
  CHECK(calls >= want);
}

static void run_for(uv_loop_t *loop, uint64_t ms)
{
  uv_timer_t t;
  uv_timer_init(loop, &t);
  uv_timer_start(&t, stop_loop, ms, 0);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(loop, UV_RUN_NOWAIT);
}

static void count_watch(uv_handle_t *h, void *arg)
{
  if (h->type == UV_FS_EVENT && uv_is_active(h) && !uv_is_closing(h)) (*(int *)arg)++;
}

static int watched_dirs(uv_loop_t *loop)
{
  int n = 0;
  uv_walk(loop, count_watch, &n);
  return n;
}

typedef struct {
  uv_loop_t loop;
  char dir[64];
  dt_watch *w;
} fixture;

static void setup(fixture *fx)
{
  calls = 0;
  last_call_ms = 0;
  snprintf(fx->dir, sizeof fx->dir, "/tmp/dt_watch_XXXXXX");
  CHECK(mkdtemp(fx->dir) != NULL);
  CHECK(uv_loop_init(&fx->loop) == 0);
  test_loop = &fx->loop;
  fx->w = NULL;
}

static void start(fixture *fx)
{
  const char *roots[] = { fx->dir };
  fx->w = dt_watch_start(&fx->loop, roots, 1, DEBOUNCE_MS, on_change, NULL);
  CHECK(fx->w != NULL);
}

/* Stopping must leave no handle behind: uv_loop_close fails with EBUSY otherwise. */
static void teardown(fixture *fx)
{
  dt_watch_stop(fx->w);
  uv_run(&fx->loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(uv_loop_close(&fx->loop), 0);
  rm_tree(fx->dir);
}

typedef struct {
  const char *dir;
  int left;
  uint64_t last_write_ms;
} burst;

static void burst_write(uv_timer_t *t)
{
  burst *b = t->data;
  write_file(b->dir, "main.lua", "return 1\n");
  b->last_write_ms = uv_now(t->loop);
  if (--b->left == 0) uv_close((uv_handle_t *)t, NULL);
}

static void test_burst_gives_one_call(void)
{
  fixture fx;
  setup(&fx);
  start(&fx);
  burst b = { fx.dir, 10, 0 };
  uv_timer_t t;
  uv_timer_init(&fx.loop, &t);
  t.data = &b;
  uv_timer_start(&t, burst_write, 10, 10);
  wait_calls(&fx.loop, 1);
  run_for(&fx.loop, QUIET_MS);
  CHECK_EQ_INT(b.left, 0);
  CHECK_EQ_INT(calls, 1);
  CHECK(last_call_ms >= b.last_write_ms + DEBOUNCE_MS);
  teardown(&fx);
}

static void test_existing_tree_is_watched(void)
{
  fixture fx;
  setup(&fx);
  make_dir(fx.dir, "a");
  make_dir(fx.dir, "a/b");
  make_dir(fx.dir, ".git");
  make_dir(fx.dir, "old~");
  start(&fx);
  CHECK_EQ_INT(watched_dirs(&fx.loop), 3);
  write_file(fx.dir, "a/b/deep.lua", "x\n");
  wait_calls(&fx.loop, 1);
  run_for(&fx.loop, QUIET_MS);
  CHECK_EQ_INT(calls, 1);
  teardown(&fx);
}

static void test_new_subdir_is_watched_and_dropped(void)
{
  fixture fx;
  setup(&fx);
  start(&fx);
  CHECK_EQ_INT(watched_dirs(&fx.loop), 1);
  make_dir(fx.dir, "sub");
  wait_calls(&fx.loop, 1);
  CHECK_EQ_INT(watched_dirs(&fx.loop), 2);
  run_for(&fx.loop, QUIET_MS);
  calls = 0;
  write_file(fx.dir, "sub/new.lua", "x\n");
  wait_calls(&fx.loop, 1);
  run_for(&fx.loop, QUIET_MS);
  CHECK_EQ_INT(calls, 1);

  char sub[128];
  snprintf(sub, sizeof sub, "%s/sub", fx.dir);
  rm_tree(sub);
  calls = 0;
  wait_calls(&fx.loop, 1);
  CHECK_EQ_INT(watched_dirs(&fx.loop), 1);
  teardown(&fx);
}

static void test_ignored_names(void)
{
  fixture fx;
  setup(&fx);
  start(&fx);
  write_file(fx.dir, ".x.swp", "x");
  write_file(fx.dir, "main.lua~", "x");
  write_file(fx.dir, "4913.swx", "x");
  run_for(&fx.loop, QUIET_MS);
  CHECK_EQ_INT(calls, 0);
  teardown(&fx);
}

static void test_missing_root_is_skipped(void)
{
  fixture fx;
  setup(&fx);
  const char *roots[] = { "/tmp/dt_watch_does_not_exist/nowhere", fx.dir };
  fx.w = dt_watch_start(&fx.loop, roots, 2, DEBOUNCE_MS, on_change, NULL);
  CHECK(fx.w != NULL);
  CHECK_EQ_INT(watched_dirs(&fx.loop), 1);
  write_file(fx.dir, "main.lua", "x\n");
  wait_calls(&fx.loop, 1);
  teardown(&fx);
}

static void stop_on_change(void *ud)
{
  dt_watch **w = ud;
  calls++;
  dt_watch_stop(*w);
  *w = NULL;
}

static void test_stop_from_callback(void)
{
  fixture fx;
  setup(&fx);
  const char *roots[] = { fx.dir };
  fx.w = dt_watch_start(&fx.loop, roots, 1, DEBOUNCE_MS, stop_on_change, &fx.w);
  CHECK(fx.w != NULL);
  write_file(fx.dir, "main.lua", "x\n");
  wait_calls(&fx.loop, 1);
  CHECK_EQ_INT(watched_dirs(&fx.loop), 0);
  write_file(fx.dir, "main.lua", "y\n");
  run_for(&fx.loop, QUIET_MS);
  CHECK_EQ_INT(calls, 1);
  teardown(&fx);
}

TEST_MAIN(TEST(test_burst_gives_one_call), TEST(test_existing_tree_is_watched),
          TEST(test_new_subdir_is_watched_and_dropped), TEST(test_ignored_names),
          TEST(test_missing_root_is_skipped), TEST(test_stop_from_callback))
