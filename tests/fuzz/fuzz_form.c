/* Form / query-string parsing and percent-decoding on arbitrary bytes. */
#include <lauxlib.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "form.h"

/* Touches every reported byte (so ASan checks the spans) and checks the lengths. */
static int check_pair(void *ud, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
  size_t input_len = *(const size_t *)ud;
  if (name_len + value_len > input_len) abort();
  unsigned sum = 0;
  for (size_t i = 0; i < name_len; i++) sum += (unsigned char)name[i];
  for (size_t i = 0; i < value_len; i++) sum += (unsigned char)value[i];
  return sum == UINT32_MAX; /* never true; keeps the reads */
}

static int push_form(lua_State *L)
{
  size_t len;
  const char *s = lua_tolstring(L, 1, &len);
  return dt_form_push(L, s, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static lua_State *L;
  const char *s = (const char *)data;
  int rc = dt_form_parse(s, size, 50, check_pair, &size);
  if (rc != 0 && rc != -1) abort();
  if (dt_form_parse(s, size, SIZE_MAX, check_pair, &size) != 0) abort();

  char *out = malloc(size ? size : 1);
  if (!out) return 0;
  size_t n = 0;
  if (dt_percent_decode(s, size, out, &n) != 0 || n > size) abort();
  free(out);

  if (!L && !(L = luaL_newstate())) return 0;
  lua_settop(L, 0);
  lua_pushcfunction(L, push_form);
  lua_pushlstring(L, s, size);
  lua_pcall(L, 1, 2, 0);
  lua_settop(L, 0);
  return 0;
}
