/* Line input for `dialtone repl` on the libuv loop: libedit line editing and history on a
 * terminal, plain lines from a pipe or file otherwise. Input is read only while a line is
 * asked for, so the loop goes on serving while the prompt waits or a statement runs. */
#ifndef DT_REPL_INPUT_H
#define DT_REPL_INPUT_H

#include <uv.h>

/* Longest line accepted from a pipe; a longer one is skipped with a message. */
#define DT_REPL_MAX_LINE (1024 * 1024)

/* line: the text without its newline, valid during the call; NULL at the end of input. */
typedef void (*dt_repl_line_fn)(const char *line, void *ud);

/* Starts on fd 0; history_file (may be NULL) is read now and written by dt_repl_input_close.
 * Returns 0 or -1. */
int dt_repl_input_start(uv_loop_t *loop, const char *history_file, dt_repl_line_fn on_line, void *ud);
int dt_repl_input_is_tty(void);
/* Asks for one line: shows the prompt (on a terminal) and calls on_line once. */
void dt_repl_input_read(const char *prompt);
/* Ctrl-C at the prompt: drops the line being typed; the caller asks again. */
void dt_repl_input_discard(void);
/* Stops reading, restores the terminal, saves the history. */
void dt_repl_input_close(void);
#endif
