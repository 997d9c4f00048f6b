/* The statements of `dialtone repl`: lines gathered into a chunk until it compiles ("return "
 * first, so an expression prints its value), each chunk run as a task in the REPL's own script
 * generation through dialtone.repl.evaluate, which prints what it returns. */
#ifndef DT_REPL_EVAL_H
#define DT_REPL_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "gen.h"
#include "task.h"

/* Longest statement (all its lines); beyond it the statement is dropped with a message. */
#define DT_REPL_MAX_CHUNK (4 * 1024 * 1024)

typedef struct {
  dt_gen *gen;
  dt_task *task;             /* the statement running, or NULL */
  int evaluate_ref;          /* dialtone.repl.evaluate */
  char *chunk;               /* the lines of an incomplete statement */
  size_t len;
  void (*finished)(void *ud);
  void *ud;
} dt_repl_eval;

typedef enum {
  DT_REPL_STARTED,   /* running: finished(ud) is called when it ends (perhaps already) */
  DT_REPL_MORE,      /* incomplete: ask for another line */
  DT_REPL_REJECTED   /* a syntax error or too long: reported on stderr, nothing runs */
} dt_repl_status;

/* Loads dialtone.repl into gen (held by e until dt_repl_eval_free) and calls its install with
 * the table on top of gen's stack (popped). Returns 0, or -1 with a message in err. */
int dt_repl_eval_init(dt_repl_eval *e, dt_gen *gen, void (*finished)(void *ud), void *ud, char *err, size_t errlen);
dt_repl_status dt_repl_eval_line(dt_repl_eval *e, const char *line);
/* Forgets an incomplete statement. */
void dt_repl_eval_reset(dt_repl_eval *e);
/* Abandons the running statement; returns 1 if one was running. */
int dt_repl_eval_interrupt(dt_repl_eval *e);
void dt_repl_eval_free(dt_repl_eval *e);
#endif
