#include "lapi_json.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

static lua_State *new_lua(void)
{
  lua_State *L = luaL_newstate();
  CHECK(L != NULL);
  if (!L) return NULL;
  luaL_openlibs(L);
  dt_lapi_json_open(L);
  lua_setglobal(L, "json");
  return L;
}

#define RUN(code) run(__FILE__, __LINE__, code)

/* Runs one Lua chunk in a fresh state; any error (a failed assert) fails the test. */
static void run(const char *file, int line, const char *code)
{
  lua_State *L = new_lua();
  if (!L) return;
  if (luaL_dostring(L, code) != 0) {
    fprintf(stderr, "  lua: %s\n", lua_tostring(L, -1));
    dt_test_fail(file, line, "lua chunk");
  }
  lua_close(L);
}

static void test_scalars(void)
{
  RUN("assert(json.encode(1) == '1')\n"
      "assert(json.encode(-3) == '-3')\n"
      "assert(json.encode(0.5) == '0.5')\n"
      "assert(json.encode(0.1) == '0.1')\n"
      "assert(json.encode(1/3) == '0.3333333333333333')\n"
      "assert(json.encode(2^53) == '9007199254740992')\n"
      "assert(json.encode(-2^53) == '-9007199254740992')\n"
      "assert(json.encode(12345678901234) == '12345678901234')\n"
      "assert(json.decode(json.encode(1e300)) == 1e300)\n"
      "assert(json.decode(json.encode(2^60)) == 2^60)\n"
      "assert(json.encode(true) == 'true' and json.encode(false) == 'false')\n"
      "assert(json.encode(nil) == 'null' and json.encode(json.null) == 'null')\n"
      "assert(json.encode('') == '\"\"')");
}

static void test_string_escapes(void)
{
  RUN("assert(json.encode('a\"b\\\\c') == [[\"a\\\"b\\\\c\"]])\n"
      "assert(json.encode('\\n\\r\\t\\b\\f') == [[\"\\n\\r\\t\\b\\f\"]])\n"
      "assert(json.encode('\\1\\9\\11\\31\\127') == [[\"\\u0001\\t\\u000b\\u001f]] .. '\\127\"')\n"
      "assert(json.encode('a\\0b') == [[\"a\\u0000b\"]])\n"
      "assert(json.encode('/\\226\\130\\172') == '\"/\\226\\130\\172\"')\n"
      /* invalid UTF-8 passes through unchanged, both ways */
      "assert(json.encode('\\255\\192') == '\"\\255\\192\"')\n"
      "assert(json.decode('\"\\255\"') == '\\255')\n"
      "assert(json.decode([[\"\\u00e9\\ud83d\\ude00\"]]) == '\\195\\169\\240\\159\\152\\128')\n"
      "local s = ''\n"
      "for i = 0, 255 do s = s .. string.char(i) end\n"
      "assert(json.decode(json.encode(s:sub(2))) == s:sub(2))");
}

static void test_arrays_and_objects(void)
{
  RUN("assert(json.encode({1, 2, 'x'}) == '[1,2,\"x\"]')\n"
      "assert(json.encode({}) == '{}')\n"
      "local t = {}\n"
      "assert(json.array(t) == t and json.encode(t) == '[]')\n"
      "assert(json.encode(json.array({7})) == '[7]')\n"
      "assert(json.encode({a = 1}) == '{\"a\":1}')\n"
      "assert(json.encode({[2] = true}) == '{\"2\":true}')\n"
      "assert(json.encode({[1.5] = 1}) == '{\"1.5\":1}')\n"
      "local sparse = json.decode(json.encode({[1] = 'a', [3] = 'c'}))\n"
      "assert(sparse['1'] == 'a' and sparse['3'] == 'c' and sparse[1] == nil)\n"
      "local mixed = json.decode(json.encode({1, 2, x = 3}))\n"
      "assert(mixed['1'] == 1 and mixed['2'] == 2 and mixed.x == 3)\n"
      "local nested = json.decode(json.encode({a = {b = {1, {c = json.null}}}}))\n"
      "assert(nested.a.b[1] == 1 and nested.a.b[2].c == json.null)\n"
      "assert(json.encode({{}, json.array({})}) == '[{},[]]')");
}

static void test_pretty(void)
{
  RUN("assert(json.encode({a = {1, 2}}, {pretty = true}) == '{\\n  \"a\": [\\n    1,\\n    2\\n  ]\\n}')\n"
      "assert(json.encode({}, {pretty = true}) == '{}')\n"
      "assert(json.encode(json.array({}), {pretty = true}) == '[]')\n"
      "assert(json.encode({1}, {pretty = false}) == '[1]')");
}

static void test_encode_errors(void)
{
  RUN("local function fails(v, pattern)\n"
      "  local ok, err = pcall(json.encode, v)\n"
      "  assert(not ok, 'expected an error for ' .. tostring(v))\n"
      "  assert(err:find(pattern, 1, true), err)\n"
      "end\n"
      "fails(print, 'function')\n"
      "fails({f = print}, 'function')\n"
      "fails(coroutine.create(print), 'thread')\n"
      "fails(io.stdout, 'userdata')\n"
      "fails(0/0, 'NaN')\n"
      "fails(math.huge, 'infinity')\n"
      "fails({-math.huge}, 'infinity')\n"
      "fails({[true] = 1}, 'key of type boolean')\n"
      "fails({[{}] = 1}, 'key of type table')\n"
      "fails({[math.huge] = 1}, 'infinite key')\n"
      "local cyc = {}\n"
      "cyc.self = cyc\n"
      "fails(cyc, 'cycle')\n"
      "local a, b = {}, {}\n"
      "a[1], b[1] = b, a\n"
      "fails(a, 'cycle')\n"
      "local arr = json.array({1})\n"
      "arr.x = 1\n"
      "fails(arr, 'marked as array')\n"
      "local ok, err = pcall(json.array, setmetatable({}, {}))\n"
      "assert(not ok and err:find('metatable'), err)\n"
      "ok, err = pcall(json.encode, 1, 'pretty')\n"
      "assert(not ok)\n"
      /* the same table twice (not a cycle) is fine */
      "local shared = {1}\n"
      "assert(json.encode({shared, shared}) == '[[1],[1]]')");
}

static void test_depth_limit(void)
{
  RUN("local function nest(n)\n"
      "  local t = {}\n"
      "  for _ = 2, n do t = {t} end\n"
      "  return t\n"
      "end\n"
      "assert(json.encode(nest(128)) == string.rep('[', 127) .. '{}' .. string.rep(']', 127))\n"
      "local ok, err = pcall(json.encode, nest(129))\n"
      "assert(not ok and err:find('nesting deeper than 128'), err)\n"
      "local v, e = json.decode(string.rep('[', 128) .. string.rep(']', 128))\n"
      "assert(type(v) == 'table' and e == nil)\n"
      "v, e = json.decode(string.rep('[', 129) .. string.rep(']', 129))\n"
      "assert(v == nil and e:find('nesting deeper than 128'), e)\n"
      "v, e = json.decode(string.rep('{\"a\":', 129) .. '1' .. string.rep('}', 129))\n"
      "assert(v == nil and e:find('nesting'), e)\n"
      "v, e = json.decode(string.rep('[', 100000))\n"
      "assert(v == nil and type(e) == 'string')");
}

static void test_decode_values(void)
{
  RUN("local v = json.decode(' {\"a\": [1, 2.5, \"x\", true, false, null], \"b\": {}} \\n')\n"
      "assert(v.a[1] == 1 and v.a[2] == 2.5 and v.a[3] == 'x')\n"
      "assert(v.a[4] == true and v.a[5] == false and v.a[6] == json.null and #v.a == 6)\n"
      "assert(type(v.b) == 'table' and next(v.b) == nil)\n"
      "assert(json.encode(v.b) == '{}')\n"
      "assert(json.encode(json.decode('[]')) == '[]')\n"
      "assert(json.decode('null') == json.null)\n"
      "assert(json.decode('12345678901234') == 12345678901234)\n"
      "assert(json.decode('-0.5e2') == -50)\n"
      "assert(json.decode('{\"k\": 1, \"k\": 2}').k == 2)\n"
      "assert(json.decode([[\"\\\\u0000\"]]) == '\\\\u0000')");
}

static void test_decode_errors(void)
{
  RUN("local bad = { '', ' ', '{', '[1,]', '{\"a\"}', 'tru', '1 2', '[1] x', '\"abc',\n"
      "  '\"\\\\u0000\"', '\"a\\0b\"', '[1]\\0', '\"\\\\ud800\"', '{1: 2}', 'NaN', '\\255' }\n"
      "for i, text in ipairs(bad) do\n"
      "  local ok, v, err = pcall(json.decode, text)\n"
      "  assert(ok, 'decode raised for case ' .. i)\n"
      "  assert(v == nil and type(err) == 'string' and err:find('invalid JSON'),\n"
      "    'case ' .. i .. ': ' .. tostring(err))\n"
      "end\n"
      "local _, err = json.decode('[1, 2, x]')\n"
      "assert(err:find('at byte 7'), err)\n"
      "local ok = pcall(json.decode, {})\n"
      "assert(not ok, 'a non-string argument is misuse and raises')");
}

static void test_push_decoded_from_c(void)
{
  lua_State *L = new_lua();
  if (!L) return;
  /* Exact-size heap buffer, not NUL-terminated: ASan catches any over-read. */
  const char text[] = "[1,\"two\"] ";
  size_t len = sizeof(text) - 1;
  char *buf = malloc(len);
  CHECK(buf != NULL);
  if (!buf) return;
  memcpy(buf, text, len);
  int top = lua_gettop(L);
  CHECK_EQ_INT(dt_json_push_decoded(L, buf, len), 1);
  CHECK_EQ_INT(lua_gettop(L), top + 1);
  CHECK(lua_istable(L, -1));
  lua_rawgeti(L, -1, 2);
  CHECK_EQ_STR(lua_tostring(L, -1), "two");
  lua_settop(L, top);
  memcpy(buf, "[1,\"tw", 6);
  CHECK_EQ_INT(dt_json_push_decoded(L, buf, 6), 2);
  CHECK_EQ_INT(lua_gettop(L), top + 2);
  CHECK(lua_isnil(L, -2));
  CHECK(lua_isstring(L, -1));
  lua_settop(L, top);
  free(buf);
  lua_close(L);
}

static void test_large_round_trip(void)
{
  RUN("local t = {}\n"
      "for i = 1, 20000 do t[i] = {id = i, name = 'n' .. i, tags = json.array({})} end\n"
      "local back = json.decode(json.encode(t))\n"
      "assert(#back == 20000 and back[20000].id == 20000 and back[1].name == 'n1')\n"
      "assert(json.encode(back[5].tags) == '[]')");
}

TEST_MAIN(TEST(test_scalars), TEST(test_string_escapes), TEST(test_arrays_and_objects),
          TEST(test_pretty), TEST(test_encode_errors), TEST(test_depth_limit),
          TEST(test_decode_values), TEST(test_decode_errors), TEST(test_push_decoded_from_c),
          TEST(test_large_round_trip))
