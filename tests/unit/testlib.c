#include "testlib.h"

int dt_test_failures;

void dt_test_fail(const char *file, int line, const char *expr)
{
  fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, expr);
  dt_test_failures++;
}

int dt_test_run(const dt_test_case *cases)
{
  int passed = 0, failed = 0;
  for (const dt_test_case *c = cases; c->name; c++) {
    int before = dt_test_failures;
    c->fn();
    if (dt_test_failures == before) {
      passed++;
    } else {
      failed++;
      fprintf(stderr, "not ok %s\n", c->name);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
