#include "form.h"

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define MAX_SEEN 8

typedef struct {
  int calls;
  int stop_at; /* return 7 on this call (1-based), 0 = never */
  char name[MAX_SEEN][32], value[MAX_SEEN][32];
  size_t name_len[MAX_SEEN], value_len[MAX_SEEN];
} seen;

static int collect(void *ud, const char *name, size_t name_len, const char *value,
                   size_t value_len)
{
  seen *s = ud;
  int i = s->calls++;
  if (i < MAX_SEEN && name_len < 32 && value_len < 32) {
    memcpy(s->name[i], name, name_len);
    memcpy(s->value[i], value, value_len);
    s->name_len[i] = name_len;
    s->value_len[i] = value_len;
  }
  return s->calls == s->stop_at ? 7 : 0;
}

/* Parses an exact-size heap copy, so ASan catches any read past the end. */
static int parse(const char *text, size_t max_pairs, seen *s)
{
  size_t len = strlen(text);
  char *copy = malloc(len ? len : 1);
  CHECK(copy != NULL);
  if (!copy) return -99;
  memcpy(copy, text, len);
  int rc = dt_form_parse(copy, len, max_pairs, collect, s);
  free(copy);
  return rc;
}

static int pair_is(const seen *s, int i, const char *name, size_t nlen, const char *value,
                   size_t vlen)
{
  return s->name_len[i] == nlen && memcmp(s->name[i], name, nlen) == 0 &&
         s->value_len[i] == vlen && memcmp(s->value[i], value, vlen) == 0;
}
#define PAIR_IS(s, i, n, v) pair_is(s, i, n, sizeof(n) - 1, v, sizeof(v) - 1)

static void test_basic_pairs(void)
{
  seen s = { 0 };
  CHECK_EQ_INT(parse("a=1&bb=two&a=3", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 3);
  CHECK(PAIR_IS(&s, 0, "a", "1"));
  CHECK(PAIR_IS(&s, 1, "bb", "two"));
  CHECK(PAIR_IS(&s, 2, "a", "3"));
}

static void test_plus_and_percent(void)
{
  seen s = { 0 };
  CHECK_EQ_INT(parse("first+name=J%C3%B6rg+M%2b&x%3Dy=a%26b", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 2);
  CHECK(PAIR_IS(&s, 0, "first name", "J\xc3\xb6rg M+"));
  CHECK(PAIR_IS(&s, 1, "x=y", "a&b"));
}

static void test_invalid_percent_kept(void)
{
  seen s = { 0 };
  CHECK_EQ_INT(parse("a=%zz&b=%4&c=%&d=%%41&e=%g1&f=100%", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 6);
  CHECK(PAIR_IS(&s, 0, "a", "%zz"));
  CHECK(PAIR_IS(&s, 1, "b", "%4"));
  CHECK(PAIR_IS(&s, 2, "c", "%"));
  CHECK(PAIR_IS(&s, 3, "d", "%A"));
  CHECK(PAIR_IS(&s, 4, "e", "%g1"));
  CHECK(PAIR_IS(&s, 5, "f", "100%"));
}

static void test_nul_bytes(void)
{
  seen s = { 0 };
  CHECK_EQ_INT(parse("%00=a%00b", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 1);
  CHECK(PAIR_IS(&s, 0, "\0", "a\0b"));
}

static void test_truncated_input_is_bounded(void)
{
  /* Only the first 4 bytes count: "a=%4" must not see the "1" after it. */
  const char text[] = "a=%41";
  char *copy = malloc(4);
  CHECK(copy != NULL);
  if (!copy) return;
  memcpy(copy, text, 4);
  seen s = { 0 };
  CHECK_EQ_INT(dt_form_parse(copy, 4, 10, collect, &s), 0);
  free(copy);
  CHECK_EQ_INT(s.calls, 1);
  CHECK(PAIR_IS(&s, 0, "a", "%4"));
}

static void test_empty_pairs_and_names(void)
{
  seen s = { 0 };
  CHECK_EQ_INT(parse("&&&", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 0);
  CHECK_EQ_INT(parse("", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 0);
  CHECK_EQ_INT(parse("&flag&&=v&==&=", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 4);
  CHECK(PAIR_IS(&s, 0, "flag", ""));
  CHECK(PAIR_IS(&s, 1, "", "v"));
  CHECK(PAIR_IS(&s, 2, "", "="));
  CHECK(PAIR_IS(&s, 3, "", ""));
}

static void test_only_ampersand_separates(void)
{
  seen s = { 0 };
  CHECK_EQ_INT(parse("a=1;b=2", 10, &s), 0);
  CHECK_EQ_INT(s.calls, 1);
  CHECK(PAIR_IS(&s, 0, "a", "1;b=2"));
}

static void test_pair_limit(void)
{
  seen s = { 0 };
  CHECK_EQ_INT(parse("a&b&c", 3, &s), 0);
  CHECK_EQ_INT(s.calls, 3);
  s.calls = 0;
  CHECK_EQ_INT(parse("a&b&c&d", 3, &s), -1);
  CHECK_EQ_INT(s.calls, 3);
  s.calls = 0;
  CHECK_EQ_INT(parse("a", 0, &s), -1);
  CHECK_EQ_INT(s.calls, 0);
}

static void test_huge_count(void)
{
  size_t n = 200000;
  char *big = malloc(2 * n);
  CHECK(big != NULL);
  if (!big) return;
  for (size_t i = 0; i < n; i++) memcpy(big + 2 * i, "x&", 2);
  seen s = { 0 };
  CHECK_EQ_INT(dt_form_parse(big, 2 * n, 1000, collect, &s), -1);
  CHECK_EQ_INT(s.calls, 1000);
  free(big);
}

static void test_callback_stops(void)
{
  seen s = { 0 };
  s.stop_at = 2;
  CHECK_EQ_INT(parse("a=1&b=2&c=3", 10, &s), 7);
  CHECK_EQ_INT(s.calls, 2);
}

static void test_percent_decode(void)
{
  char out[64];
  size_t n = 99;
  const char in[] = "a+b%20c%2Fd%zz%4";
  CHECK_EQ_INT(dt_percent_decode(in, sizeof(in) - 1, out, &n), 0);
  CHECK_EQ_INT(n, 12);
  CHECK(memcmp(out, "a+b c/d%zz%4", 12) == 0);
  char buf[] = "%41%00%42";
  CHECK_EQ_INT(dt_percent_decode(buf, sizeof(buf) - 1, buf, &n), 0);
  CHECK_EQ_INT(n, 3);
  CHECK(memcmp(buf, "A\0B", 3) == 0);
  CHECK_EQ_INT(dt_percent_decode("", 0, out, &n), 0);
  CHECK_EQ_INT(n, 0);
}

static int push_form(lua_State *L)
{
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  return dt_form_push(L, s, len);
}

static lua_State *new_lua(void)
{
  lua_State *L = luaL_newstate();
  CHECK(L != NULL);
  if (!L) return NULL;
  luaL_openlibs(L);
  lua_register(L, "form", push_form);
  return L;
}

static void check_lua(lua_State *L, const char *code)
{
  if (luaL_dostring(L, code) != 0) {
    fprintf(stderr, "  lua: %s\n", lua_tostring(L, -1));
    dt_test_fail(__FILE__, __LINE__, code);
    lua_pop(L, 1);
  }
}

static void test_lua_tables(void)
{
  lua_State *L = new_lua();
  if (!L) return;
  check_lua(L, "local first, all = form('a=1&b=x+y&a=3&c&a=%00')\n"
               "assert(first.a == '1' and first.b == 'x y' and first.c == '')\n"
               "assert(#all.a == 3 and all.a[1] == '1' and all.a[2] == '3')\n"
               "assert(all.a[3] == '\\0' and #all.a[3] == 1)\n"
               "assert(#all.b == 1 and all.b[1] == 'x y')\n"
               "local f2, a2 = form('')\n"
               "assert(next(f2) == nil and next(a2) == nil)");
  check_lua(L, "local ok = form(string.rep('k&', 1000))\n"
               "assert(ok.k == '')\n"
               "local ok2, err = pcall(form, string.rep('k&', 1001))\n"
               "assert(not ok2 and err:find('too many form fields (limit 1000)', 1, true), err)");
  lua_close(L);
}

TEST_MAIN(TEST(test_basic_pairs), TEST(test_plus_and_percent), TEST(test_invalid_percent_kept),
          TEST(test_nul_bytes), TEST(test_truncated_input_is_bounded),
          TEST(test_empty_pairs_and_names), TEST(test_only_ampersand_separates),
          TEST(test_pair_limit), TEST(test_huge_count), TEST(test_callback_stops),
          TEST(test_percent_decode), TEST(test_lua_tables))
