#include "lapi_wait.h"

#include <lauxlib.h>
#include <stdarg.h>
#include <string.h>

void dt_lapi_push_wait_wrapper(lua_State *L, const char *chunk, const char *name, int n, ...)
{
  if (luaL_loadbuffer(L, chunk, strlen(chunk), name) != 0) lua_error(L);
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) lua_pushcfunction(L, va_arg(ap, lua_CFunction));
  va_end(ap);
  lua_call(L, n, 1);
}
