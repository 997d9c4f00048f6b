/* JSON decoding of arbitrary bytes into Lua, then re-encoding: whatever decodes must encode
 * (unless it holds an infinity) to text that decodes again. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>

#include "lapi_json.h"

static lua_State *L;

static int init(void)
{
  L = luaL_newstate();
  if (!L) return -1;
  dt_lapi_json_open(L);
  lua_setglobal(L, "json");
  return 0;
}

/* Stack: the decoded value. Returns the encoded text, or NULL if encoding raised. */
static const char *encode_top(size_t *len)
{
  lua_getglobal(L, "json");
  lua_getfield(L, -1, "encode");
  lua_pushvalue(L, -3);
  if (lua_pcall(L, 1, 1, 0) != 0) return NULL;
  return lua_tolstring(L, -1, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!L && init() < 0) return 0;
  lua_settop(L, 0);
  int n = dt_json_push_decoded(L, (const char *)data, size);
  if (n == 2) {
    if (!lua_isnil(L, -2) || !lua_isstring(L, -1)) abort();
  } else if (n == 1) {
    size_t len;
    const char *text = encode_top(&len);
    if (text && dt_json_push_decoded(L, text, len) != 1) abort();
  } else {
    abort();
  }
  lua_settop(L, 0);
  return 0;
}
