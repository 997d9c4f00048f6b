/* A minimal test harness for C unit tests: CHECK records failures, TEST_MAIN runs the cases
 * and prints "N passed, N failed", which is also the exit status. */
#ifndef DT_TESTLIB_H
#define DT_TESTLIB_H
#include <stdio.h>
#include <string.h>

extern int dt_test_failures;
void dt_test_fail(const char *file, int line, const char *expr);

#define CHECK(expr) do { if (!(expr)) dt_test_fail(__FILE__, __LINE__, #expr); } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
  if (a_ != b_) { fprintf(stderr, "  %s = %lld, expected %lld\n", #a, a_, b_); \
  dt_test_fail(__FILE__, __LINE__, #a " == " #b); } } while (0)
#define CHECK_EQ_STR(a, b) do { const char *a_ = (a), *b_ = (b); \
  if (!a_ || !b_ || strcmp(a_, b_) != 0) { fprintf(stderr, "  %s = \"%s\", expected \"%s\"\n", \
  #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); dt_test_fail(__FILE__, __LINE__, #a " == " #b); } } while (0)

typedef struct { const char *name; void (*fn)(void); } dt_test_case;
int dt_test_run(const dt_test_case *cases);

#define TEST_MAIN(...) int main(void) { \
  static const dt_test_case cases_[] = { __VA_ARGS__, { NULL, NULL } }; return dt_test_run(cases_); }
#define TEST(fn) { #fn, fn }
#endif
