#include "repl_input.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#define HISTORY_LINES 1000
#define READ_CHUNK 4096

static struct {
  uv_poll_t poll;
  uv_timer_t kick;     /* delivers an already buffered line outside the caller's stack */
  int tty, pollable, reading, eof, skipping, started;
  dt_repl_line_fn on_line;
  void *ud;
  char prompt[32];
  char history[1100];
  char *buf;           /* pipe mode: bytes read but not yet delivered */
  size_t len;
} I;

static void deliver(const char *line)
{
  I.reading = 0;
  if (I.pollable) uv_poll_stop(&I.poll);
  I.on_line(line, I.ud);
}

/* ---- terminal: libedit's callback interface ---- */

static void on_edited_line(char *line)
{
  rl_callback_handler_remove();
  if (line && *line) add_history(line);
  deliver(line);
  free(line);
}

static void on_tty_readable(uv_poll_t *h, int status, int events)
{
  (void)h;
  (void)events;
  int pending = 0;
  /* Readable with nothing to read: the terminal is gone. */
  if (status < 0 || ioctl(0, FIONREAD, &pending) != 0 || pending == 0) {
    rl_callback_handler_remove();
    deliver(NULL);
    return;
  }
  rl_callback_read_char();
}

/* ---- pipe or file: newline-separated lines ---- */

/* Delivers the next buffered line if there is one (or the end); returns 1 if it did. */
static int deliver_buffered(void)
{
  char *nl = I.len ? memchr(I.buf, '\n', I.len) : NULL;
  if (!nl && !I.eof) return 0;
  size_t n = nl ? (size_t)(nl - I.buf) : I.len;
  if (!nl && n == 0) {
    deliver(NULL);
    return 1;
  }
  char *line = malloc(n + 1);
  if (!line) {
    fputs("dialtone repl: out of memory reading input\n", stderr);
    I.eof = 1;
    I.len = 0;
    deliver(NULL);
    return 1;
  }
  memcpy(line, I.buf, n);
  line[n] = '\0';
  if (n && line[n - 1] == '\r') line[n - 1] = '\0';
  size_t used = nl ? n + 1 : n;
  memmove(I.buf, I.buf + used, I.len - used);
  I.len -= used;
  deliver(line);
  free(line);
  return 1;
}

/* Drops an over-long line up to its newline. */
static void skip_long_line(void)
{
  char *nl = memchr(I.buf, '\n', I.len);
  if (!I.skipping) fprintf(stderr, "dialtone repl: input line longer than %d bytes; skipped\n", DT_REPL_MAX_LINE);
  I.skipping = !nl;
  size_t used = nl ? (size_t)(nl - I.buf) + 1 : I.len;
  memmove(I.buf, I.buf + used, I.len - used);
  I.len -= used;
}

static void fill(void)
{
  ssize_t n = read(0, I.buf + I.len, READ_CHUNK);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    I.eof = 1;
    I.skipping = 0;
    return;
  }
  I.len += (size_t)n;
  if (I.skipping || (I.len > DT_REPL_MAX_LINE && !memchr(I.buf, '\n', I.len))) skip_long_line();
}

static void on_pipe_readable(uv_poll_t *h, int status, int events)
{
  (void)h;
  (void)events;
  if (status < 0) I.eof = 1;
  else fill();
  deliver_buffered();
}

static void on_kick(uv_timer_t *t)
{
  (void)t;
  if (!I.reading) return;
  if (deliver_buffered()) return;
  if (I.pollable) {
    uv_poll_start(&I.poll, UV_READABLE, on_pipe_readable);
    return;
  }
  fill(); /* a regular file: reading never blocks */
  if (!deliver_buffered()) uv_timer_start(&I.kick, on_kick, 0, 0);
}

/* ---- both ---- */

int dt_repl_input_start(uv_loop_t *loop, const char *history_file, dt_repl_line_fn on_line, void *ud)
{
  memset(&I, 0, sizeof I);
  I.on_line = on_line;
  I.ud = ud;
  I.tty = isatty(0) && isatty(1);
  I.pollable = uv_poll_init(loop, &I.poll, 0) == 0;
  uv_timer_init(loop, &I.kick);
  I.started = 1;
  if (I.tty) {
    if (!I.pollable) return -1;
    using_history();
    stifle_history(HISTORY_LINES);
    if (history_file && snprintf(I.history, sizeof I.history, "%s", history_file) < (int)sizeof I.history)
      read_history(I.history);
    else
      I.history[0] = '\0';
    return 0;
  }
  I.buf = malloc(DT_REPL_MAX_LINE + READ_CHUNK);
  return I.buf ? 0 : -1;
}

int dt_repl_input_is_tty(void) { return I.tty; }

void dt_repl_input_read(const char *prompt)
{
  I.reading = 1;
  if (!I.tty) {
    uv_timer_start(&I.kick, on_kick, 0, 0);
    return;
  }
  snprintf(I.prompt, sizeof I.prompt, "%s", prompt);
  rl_callback_handler_install(I.prompt, on_edited_line);
  uv_poll_start(&I.poll, UV_READABLE, on_tty_readable);
}

void dt_repl_input_discard(void)
{
  if (!I.tty || !I.reading) return;
  rl_replace_line("", 0);
  rl_callback_handler_remove();
  fputs("\n", stdout);
  fflush(stdout);
  I.reading = 0;
  uv_poll_stop(&I.poll);
}

static void close_handle(uv_handle_t *h)
{
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

void dt_repl_input_close(void)
{
  if (!I.started) return;
  I.started = 0;
  if (I.tty) {
    if (I.reading) rl_callback_handler_remove();
    /* Typed lines may hold secrets (API keys): the file is the user's only, from its creation
     * (umask) and if it already existed (chmod). */
    if (I.history[0]) {
      mode_t mask = umask(077);
      if (write_history(I.history) == 0) chmod(I.history, 0600);
      umask(mask);
    }
  }
  I.reading = 0;
  if (I.pollable) close_handle((uv_handle_t *)&I.poll);
  close_handle((uv_handle_t *)&I.kick);
  free(I.buf);
  I.buf = NULL;
}
