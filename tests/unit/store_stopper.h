/* A store visitor that stops at its `at`-th callback (1: begin_row of the first row) and counts
 * the callbacks it got: for checking that a query stopped by its visitor cleans up. */
#ifndef DT_TEST_STORE_STOPPER_H
#define DT_TEST_STORE_STOPPER_H

#include "store.h"

typedef struct {
  int calls, at;
} stopper;

static int stop_step(void *ud)
{
  stopper *p = ud;
  return ++p->calls == p->at;
}

static int stop_cell(void *ud, const char *name, const dt_store_value *v)
{
  (void)name;
  (void)v;
  return stop_step(ud);
}

static const dt_store_visitor stopping = { stop_step, stop_cell, stop_step };
#endif
