/* dialtone.json: JSON encoding and decoding for Lua, decoding with cJSON.
 *
 *   encode(value [, {pretty = true}]) -> string; raises on values JSON cannot hold
 *   decode(text) -> value, or nil + message (never raises on bad input)
 *   null      -> the sentinel decode returns for JSON null and encode writes as null
 *   array(t)  -> t, marked so that it encodes as a JSON array even when empty
 *
 * Decoded arrays carry the array mark, so `[]` round-trips. Nesting deeper than 128 is
 * refused both ways. Strings are bytes: encode escapes '"', '\\' and control characters and
 * passes every other byte through unchanged (invalid UTF-8 stays invalid); decode keeps
 * bytes as they are but refuses "\u0000" and raw NUL bytes (Lua strings from cJSON would be
 * cut there) and lone UTF-16 surrogates (cJSON rejects them). For duplicate object keys the
 * last one wins. */
#ifndef DT_LAPI_JSON_H
#define DT_LAPI_JSON_H

#include <stddef.h>

#include <lua.h>

/* Pushes the module table. Returns 1. */
int dt_lapi_json_open(lua_State *L);

/* Decodes len bytes of s (need not be NUL-terminated): pushes the value and returns 1, or
 * pushes nil and an error message and returns 2. Raises only when Lua is out of memory. */
int dt_json_push_decoded(lua_State *L, const char *s, size_t len);
#endif
