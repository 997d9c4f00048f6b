/* dialtone.url: decode(component), encode(component), parse_query(string). */
#include "lapi.h"

#include <lauxlib.h>
#include <stdlib.h>

#include "form.h"

static int l_decode(lua_State *L)
{
  size_t len, out_len;
  const char *s = luaL_checklstring(L, 1, &len);
  char *out = malloc(len + 1);
  if (!out) return luaL_error(L, "dialtone.url.decode: out of memory");
  dt_percent_decode(s, len, out, &out_len);
  lua_pushlstring(L, out, out_len);
  free(out);
  return 1;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static int l_encode(lua_State *L)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (size_t i = 0; i < len; i++) {
    unsigned char c = s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || c == '~') {
      luaL_addchar(&b, (char)c);
    } else {
      luaL_addchar(&b, '%');
      luaL_addchar(&b, hex[c >> 4]);
      luaL_addchar(&b, hex[c & 15]);
    }
  }
  luaL_pushresult(&b);
  return 1;
}

/* parse_query(s) -> first values by name, all values by name. */
static int l_parse_query(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  return dt_form_push(L, s, len);
}

int dt_lapi_url_open(lua_State *L)
{
  static const luaL_Reg fns[] = { { "decode", l_decode }, { "encode", l_encode },
                                  { "parse_query", l_parse_query }, { NULL, NULL } };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
