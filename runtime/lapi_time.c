/* dialtone.time: now() and sleep(seconds). */
#include "lapi.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "clock.h"
#include "task.h"
#include "timeout.h"

#define MAX_SLEEP_SECONDS (24.0 * 3600.0)

static void sleep_done(void *task) { dt_task_resume(task, 0); }

static void sleep_cancel(void *timeout) { dt_timeout_cancel(timeout); }

static int l_sleep(lua_State *L)
{
  double seconds = luaL_checknumber(L, 1);
  if (!(seconds >= 0 && seconds <= MAX_SLEEP_SECONDS))
    return luaL_error(L, "dialtone.time.sleep: seconds must be between 0 and %d", (int)MAX_SLEEP_SECONDS);
  dt_task *task = dt_task_wait(L, "dialtone.time.sleep");
  dt_timeout *t = dt_timeout_start((uint64_t)llround(seconds * 1000.0), sleep_done, task);
  if (!t) return luaL_error(L, "dialtone.time.sleep: out of memory");
  dt_task_on_abandon(task, sleep_cancel, t);
  return lua_yield(L, 0);
}

/* Wall-clock time in seconds since the epoch, with sub-millisecond precision. */
static int l_now(lua_State *L)
{
  lua_pushnumber(L, dt_wall_clock());
  return 1;
}

/* Seconds on a clock that never jumps, for measuring intervals. */
static int l_monotonic(lua_State *L)
{
  lua_pushnumber(L, (double)uv_hrtime() / 1e9);
  return 1;
}

int dt_lapi_time_open(lua_State *L)
{
  static const luaL_Reg fns[] = { { "now", l_now }, { "monotonic", l_monotonic },
                                  { "sleep", l_sleep }, { NULL, NULL } };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
