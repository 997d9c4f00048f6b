#include "lapi_json.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 128
#define JSON_MAX_SAFE_INTEGER 9007199254740992.0 /* 2^53 */
#define ARRAY_MT "dialtone.json.array"
#define TREE_MT "dialtone.json.tree"
#define TYPE_FIELD "__jsontype"

/* ---- encoding ---- */

/* The output grows in a userdata at a fixed stack slot, so a Lua error anywhere (bad value,
 * out of memory) leaves nothing to free, and the state's memory limit applies. */
typedef struct {
  lua_State *L;
  int buf_idx, seen_idx, pretty;
  char *data;
  size_t len, cap;
} encoder;

static void reserve(encoder *e, size_t n)
{
  if (e->cap - e->len >= n) return;
  if (n > SIZE_MAX / 2 - e->len) luaL_error(e->L, "json.encode: output too large");
  size_t cap = e->cap * 2;
  if (cap < e->len + n) cap = e->len + n;
  char *data = lua_newuserdata(e->L, cap);
  if (e->len) memcpy(data, e->data, e->len);
  lua_replace(e->L, e->buf_idx);
  e->data = data;
  e->cap = cap;
}

static void add(encoder *e, const char *s, size_t n)
{
  reserve(e, n);
  memcpy(e->data + e->len, s, n);
  e->len += n;
}

static void add_char(encoder *e, char c) { add(e, &c, 1); }

static void add_indent(encoder *e, int depth)
{
  if (!e->pretty) return;
  add_char(e, '\n');
  for (int i = 0; i < depth; i++) add(e, "  ", 2);
}

static void add_string(encoder *e, const char *s, size_t n)
{
  add_char(e, '"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char esc[8];
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      add(e, esc, 2);
    } else if (c < 0x20) {
      static const char short_form[] = "btn_fr"; /* \b \t \n \v(none) \f \r */
      if (c >= '\b' && c <= '\r' && c != '\v') {
        esc[0] = '\\';
        esc[1] = short_form[c - '\b'];
        add(e, esc, 2);
      } else {
        snprintf(esc, sizeof esc, "\\u%04x", c);
        add(e, esc, 6);
      }
    } else {
      add_char(e, (char)c);
    }
  }
  add_char(e, '"');
}

/* Integers up to 2^53 print exactly; other numbers in the shortest form that reads back
 * the same. Returns the length, or -1 for NaN and infinities. */
static int format_number(double d, char out[32])
{
  if (!isfinite(d)) return -1;
  if (d == floor(d) && fabs(d) <= JSON_MAX_SAFE_INTEGER) return snprintf(out, 32, "%.0f", d);
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(out, 32, "%.*g", prec, d);
    if (strtod(out, NULL) == d) break;
  }
  return n;
}

static void add_number(encoder *e, double d)
{
  char num[32];
  int n = format_number(d, num);
  if (n < 0) luaL_error(e->L, "json.encode: cannot encode NaN or infinity");
  add(e, num, (size_t)n);
}

static void encode_value(encoder *e, int idx, int depth);

static int is_marked_array(lua_State *L, int idx)
{
  if (!lua_getmetatable(L, idx)) return 0;
  lua_pushliteral(L, TYPE_FIELD);
  lua_rawget(L, -2);
  const char *type = lua_tostring(L, -1);
  int marked = type && strcmp(type, "array") == 0;
  lua_pop(L, 2);
  return marked;
}

/* Decides how a table encodes: an array when its keys are exactly 1..n (n > 0) or when it is
 * marked as one (its keys must then be 1..n or none). Returns 1 for an array, n in *len. */
static int classify(encoder *e, int idx, size_t *len)
{
  lua_State *L = e->L;
  size_t count = 0;
  double max = 0;
  int sequence = 1;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    double k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (k >= 1 && k == floor(k) && k <= JSON_MAX_SAFE_INTEGER) {
      if (k > max) max = k;
    } else {
      sequence = 0;
    }
    count++;
  }
  *len = count;
  if (sequence && count > 0 && max == (double)count) return 1;
  if (!is_marked_array(L, idx)) return 0;
  if (count > 0) luaL_error(L, "json.encode: table marked as array has keys other than 1..n");
  return 1;
}

static void encode_array(encoder *e, int idx, size_t n, int depth)
{
  add_char(e, '[');
  for (size_t i = 1; i <= n; i++) {
    if (i > 1) add_char(e, ',');
    add_indent(e, depth + 1);
    lua_rawgeti(e->L, idx, (int)i);
    encode_value(e, lua_gettop(e->L), depth + 1);
    lua_pop(e->L, 1);
  }
  if (n) add_indent(e, depth);
  add_char(e, ']');
}

static void encode_key(encoder *e, int key_idx)
{
  lua_State *L = e->L;
  int type = lua_type(L, key_idx);
  if (type == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, key_idx, &n);
    add_string(e, s, n);
  } else if (type == LUA_TNUMBER) {
    char num[32];
    int n = format_number(lua_tonumber(L, key_idx), num);
    if (n < 0) luaL_error(L, "json.encode: cannot encode an infinite key");
    add_string(e, num, (size_t)n);
  } else {
    luaL_error(L, "json.encode: cannot encode a table key of type %s", lua_typename(L, type));
  }
  add(e, ": ", e->pretty ? 2 : 1);
}

static void encode_object(encoder *e, int idx, int depth)
{
  lua_State *L = e->L;
  int first = 1;
  add_char(e, '{');
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (!first) add_char(e, ',');
    first = 0;
    add_indent(e, depth + 1);
    encode_key(e, lua_gettop(L) - 1);
    encode_value(e, lua_gettop(L), depth + 1);
    lua_pop(L, 1);
  }
  if (!first) add_indent(e, depth);
  add_char(e, '}');
}

static void encode_table(encoder *e, int idx, int depth)
{
  lua_State *L = e->L;
  if (depth >= JSON_MAX_DEPTH) luaL_error(L, "json.encode: nesting deeper than %d", JSON_MAX_DEPTH);
  luaL_checkstack(L, 8, "json.encode: nesting");
  lua_pushvalue(L, idx);
  lua_rawget(L, e->seen_idx);
  if (lua_toboolean(L, -1)) luaL_error(L, "json.encode: cycle (a table contains itself)");
  lua_pop(L, 1);
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, e->seen_idx);
  size_t n;
  if (classify(e, idx, &n)) encode_array(e, idx, n, depth);
  else encode_object(e, idx, depth);
  lua_pushvalue(L, idx);
  lua_pushnil(L);
  lua_rawset(L, e->seen_idx);
}

static void encode_value(encoder *e, int idx, int depth)
{
  lua_State *L = e->L;
  int type = lua_type(L, idx);
  switch (type) {
  case LUA_TNIL: add(e, "null", 4); return;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) add(e, "true", 4);
    else add(e, "false", 5);
    return;
  case LUA_TNUMBER: add_number(e, lua_tonumber(L, idx)); return;
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    add_string(e, s, n);
    return;
  }
  case LUA_TTABLE: encode_table(e, idx, depth); return;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) {
      add(e, "null", 4);
      return;
    }
    break;
  default: break;
  }
  luaL_error(L, "json.encode: cannot encode a value of type %s", lua_typename(L, type));
}

static int l_encode(lua_State *L)
{
  encoder e = { .L = L };
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_getfield(L, 2, "pretty");
    e.pretty = lua_toboolean(L, -1);
  }
  lua_settop(L, 1);
  lua_newtable(L);
  e.seen_idx = 2;
  e.cap = 256;
  e.data = lua_newuserdata(L, e.cap);
  e.buf_idx = 3;
  encode_value(&e, 1, 0);
  lua_pushlstring(L, e.data, e.len);
  return 1;
}

/* ---- decoding ---- */

typedef struct {
  cJSON *root;
} json_tree;

static int tree_gc(lua_State *L)
{
  json_tree *t = lua_touserdata(L, 1);
  cJSON_Delete(t->root);
  t->root = NULL;
  return 0;
}

/* Pushes a box whose __gc frees the cJSON tree if a Lua error unwinds the decoder. */
static json_tree *push_tree_box(lua_State *L)
{
  json_tree *t = lua_newuserdata(L, sizeof *t);
  t->root = NULL;
  if (luaL_newmetatable(L, TREE_MT)) {
    lua_pushcfunction(L, tree_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return t;
}

static void push_array_mt(lua_State *L)
{
  if (luaL_newmetatable(L, ARRAY_MT)) {
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, TYPE_FIELD);
  }
}

static int push_item(lua_State *L, const cJSON *item, int depth);

static int push_children(lua_State *L, const cJSON *item, int depth)
{
  int is_array = cJSON_IsArray(item), n = 0;
  for (const cJSON *c = item->child; c; c = c->next) n++;
  if (depth >= JSON_MAX_DEPTH) return -1;
  luaL_checkstack(L, 4, "json.decode: nesting");
  lua_createtable(L, is_array ? n : 0, is_array ? 0 : n);
  if (is_array) {
    push_array_mt(L);
    lua_setmetatable(L, -2);
  }
  int i = 0;
  for (const cJSON *c = item->child; c; c = c->next) {
    if (!is_array) lua_pushstring(L, c->string);
    if (push_item(L, c, depth + 1) < 0) return -1;
    if (is_array) lua_rawseti(L, -2, ++i);
    else lua_rawset(L, -3);
  }
  return 0;
}

static int push_item(lua_State *L, const cJSON *item, int depth)
{
  if (cJSON_IsNull(item)) lua_pushlightuserdata(L, NULL);
  else if (cJSON_IsBool(item)) lua_pushboolean(L, cJSON_IsTrue(item));
  else if (cJSON_IsNumber(item)) lua_pushnumber(L, item->valuedouble);
  else if (cJSON_IsString(item)) lua_pushstring(L, item->valuestring);
  else if (cJSON_IsArray(item) || cJSON_IsObject(item)) return push_children(L, item, depth);
  else return -1;
  return 0;
}

/* Refuses what cJSON would silently truncate: NUL bytes and the escape \u0000. */
static const char *find_nul(const char *s, size_t len)
{
  if (memchr(s, '\0', len)) return "NUL byte in input";
  for (size_t i = 0; i + 1 < len; i++) {
    if (s[i] != '\\') continue;
    if (len - i > 5 && memcmp(s + i + 1, "u0000", 5) == 0) return "\\u0000 is not supported";
    i++;
  }
  return NULL;
}

static int is_blank(const char *s, const char *end)
{
  for (; s < end; s++) {
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') return 0;
  }
  return 1;
}

static int push_error(lua_State *L, const char *msg, long pos)
{
  lua_pushnil(L);
  if (pos >= 0) lua_pushfstring(L, "invalid JSON: %s at byte %d", msg, (int)pos);
  else lua_pushfstring(L, "invalid JSON: %s", msg);
  return 2;
}

static void free_tree(json_tree *tree)
{
  cJSON_Delete(tree->root);
  tree->root = NULL;
}

int dt_json_push_decoded(lua_State *L, const char *s, size_t len)
{
  luaL_checkstack(L, 8, "json.decode");
  const char *bad = find_nul(s, len);
  if (bad) return push_error(L, bad, -1);
  int base = lua_gettop(L);
  json_tree *tree = push_tree_box(L);
  const char *end = NULL;
  tree->root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
  long pos = end && end >= s && end <= s + len ? (long)(end - s) : 0;
  if (!tree->root) {
    lua_settop(L, base);
    return push_error(L, "syntax error", pos);
  }
  if (!end || !is_blank(s + pos, s + len)) {
    free_tree(tree);
    lua_settop(L, base);
    return push_error(L, "unexpected data after the value", pos);
  }
  int rc = push_item(L, tree->root, 0);
  free_tree(tree);
  if (rc < 0) {
    lua_settop(L, base);
    lua_pushnil(L);
    lua_pushfstring(L, "invalid JSON: nesting deeper than %d", JSON_MAX_DEPTH);
    return 2;
  }
  lua_remove(L, base + 1);
  return 1;
}

static int l_decode(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  return dt_json_push_decoded(L, s, len);
}

/* ---- module ---- */

static int l_array(lua_State *L)
{
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (is_marked_array(L, 1)) return 1;
  if (lua_getmetatable(L, 1)) return luaL_error(L, "json.array: the table already has a metatable");
  push_array_mt(L);
  lua_setmetatable(L, 1);
  return 1;
}

int dt_lapi_json_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    { "encode", l_encode }, { "decode", l_decode }, { "array", l_array }, { NULL, NULL },
  };
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "null");
  return 1;
}
