#include "timeout.h"

#include <stdlib.h>
#include <uv.h>

struct dt_timeout {
  uv_timer_t timer;
  void (*fn)(void *arg);
  void *arg;
};

static void free_timeout(uv_handle_t *h) { free(h->data); }

static void fire(uv_timer_t *timer)
{
  dt_timeout *t = timer->data;
  void (*fn)(void *) = t->fn;
  void *arg = t->arg;
  uv_close((uv_handle_t *)timer, free_timeout);
  fn(arg);
}

dt_timeout *dt_timeout_start(uint64_t ms, void (*fn)(void *arg), void *arg)
{
  dt_timeout *t = malloc(sizeof *t);
  if (!t) return NULL;
  t->fn = fn;
  t->arg = arg;
  uv_timer_init(uv_default_loop(), &t->timer);
  t->timer.data = t;
  /* The loop's cached time is stale after a long stretch of script work: counted from it, the
   * wait would end early. */
  uv_update_time(uv_default_loop());
  uv_timer_start(&t->timer, fire, ms, 0);
  return t;
}

void dt_timeout_cancel(dt_timeout *t)
{
  uv_timer_stop(&t->timer);
  uv_close((uv_handle_t *)&t->timer, free_timeout);
}
