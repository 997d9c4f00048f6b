#include "repl_eval.h"

#include <lauxlib.h>
#include <luajit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_NAME "=stdin"

/* Calls require("dialtone.repl").install(settings) with settings on top of the stack, and keeps
 * a reference to its evaluate. */
static int load_module(dt_repl_eval *e, lua_State *L, char *err, size_t errlen)
{
  lua_getglobal(L, "require");
  lua_pushliteral(L, "dialtone.repl");
  if (lua_pcall(L, 1, 1, 0) != 0) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_pop(L, 2);
    return -1;
  }
  lua_getfield(L, -1, "evaluate");
  e->evaluate_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_getfield(L, -1, "install");
  lua_pushvalue(L, -3);
  int rc = lua_pcall(L, 1, 0, 0);
  if (rc != 0) snprintf(err, errlen, "%s", lua_tostring(L, -1));
  lua_pop(L, rc != 0 ? 3 : 2);
  return rc != 0 || e->evaluate_ref == LUA_REFNIL ? -1 : 0;
}

int dt_repl_eval_init(dt_repl_eval *e, dt_gen *gen, void (*finished)(void *ud), void *ud, char *err, size_t errlen)
{
  memset(e, 0, sizeof *e);
  e->gen = gen;
  e->finished = finished;
  e->ud = ud;
  e->evaluate_ref = LUA_NOREF;
  e->chunk = malloc(DT_REPL_MAX_CHUNK + 1);
  if (!e->chunk) {
    lua_pop(gen->vm->L, 1);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  return load_module(e, gen->vm->L, err, errlen);
}

static void statement_done(dt_task *task, lua_State *co, dt_task_outcome outcome, const char *message, void *ud)
{
  (void)task;
  (void)co;
  dt_repl_eval *e = ud;
  e->task = NULL;
  fflush(stdout);
  if (outcome != DT_TASK_OK) {
    fprintf(stderr, "%s\n", message ? message : "error");
    fflush(stderr);
  }
  e->finished(e->ud);
}

/* Runs the compiled chunk on top of the stack. */
static dt_repl_status start(dt_repl_eval *e, lua_State *L)
{
  luaJIT_setmode(L, -1, LUAJIT_MODE_ALLFUNC | LUAJIT_MODE_OFF);
  lua_rawgeti(L, LUA_REGISTRYINDEX, e->evaluate_ref);
  lua_insert(L, -2);
  e->task = dt_task_new(L, 1, e->gen->cpu_budget_ms, 1, statement_done, e);
  if (!e->task) {
    fputs("dialtone repl: out of memory\n", stderr);
    return DT_REPL_REJECTED;
  }
  dt_task_start(e->task);
  return DT_REPL_STARTED;
}

/* An error at the very end of the text means it may go on: ask for more. */
static int incomplete(const char *msg)
{
  static const char eof[] = "'<eof>'";
  size_t n = strlen(msg);
  return n >= sizeof eof - 1 && strcmp(msg + n - (sizeof eof - 1), eof) == 0;
}

static int append(dt_repl_eval *e, const char *text, size_t n)
{
  if (n > DT_REPL_MAX_CHUNK - e->len) return -1;
  memcpy(e->chunk + e->len, text, n);
  e->len += n;
  e->chunk[e->len] = '\0';
  return 0;
}

/* Compiles the statement as an expression list: "return " .. text, with the values passed
 * through a function so a call in it is not a tail call and its errors name stdin:line. The
 * closing parenthesis goes on the same line (so lines stay right), else on the next one (after
 * a trailing comment). */
static int load_expression(dt_repl_eval *e, lua_State *L)
{
  static const char head[] = "return (function(...) return ... end)(";
  static const char *const tails[] = { ")", "\n)" };
  int rc = -1;
  for (size_t i = 0; i < 2 && rc != 0; i++) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addlstring(&b, head, sizeof head - 1);
    luaL_addlstring(&b, e->chunk, e->len);
    luaL_addstring(&b, tails[i]);
    luaL_pushresult(&b);
    size_t n;
    const char *text = lua_tolstring(L, -1, &n);
    rc = luaL_loadbufferx(L, text, n, CHUNK_NAME, "t");
    lua_remove(L, -2);
    if (rc != 0) lua_pop(L, 1);
  }
  return rc;
}

dt_repl_status dt_repl_eval_line(dt_repl_eval *e, const char *line)
{
  /* "=expr" is the Lua 5.1 way to print an expression; "expr" alone works too. */
  int skip = e->len == 0 && line[0] == '=';
  if ((e->len && append(e, "\n", 1) != 0) || append(e, line + skip, strlen(line + skip)) != 0) {
    fprintf(stderr, "dialtone repl: statement longer than %d bytes; dropped\n", DT_REPL_MAX_CHUNK);
    dt_repl_eval_reset(e);
    return DT_REPL_REJECTED;
  }
  lua_State *L = e->gen->vm->L;
  int rc = load_expression(e, L) == 0 ? 0 : luaL_loadbufferx(L, e->chunk, e->len, CHUNK_NAME, "t");
  if (rc == 0) {
    e->len = 0;
    return start(e, L);
  }
  const char *msg = lua_tostring(L, -1);
  dt_repl_status status = DT_REPL_MORE;
  if (rc != LUA_ERRSYNTAX || !msg || !incomplete(msg)) {
    fprintf(stderr, "%s\n", msg ? msg : "cannot compile");
    dt_repl_eval_reset(e);
    status = DT_REPL_REJECTED;
  }
  lua_pop(L, 1);
  return status;
}

void dt_repl_eval_reset(dt_repl_eval *e) { e->len = 0; }

int dt_repl_eval_interrupt(dt_repl_eval *e)
{
  if (!e->task) return 0;
  dt_task_abandon(e->task, "interrupted");
  return 1;
}

void dt_repl_eval_free(dt_repl_eval *e)
{
  dt_repl_eval_interrupt(e);
  if (e->gen && e->evaluate_ref != LUA_NOREF) luaL_unref(e->gen->vm->L, LUA_REGISTRYINDEX, e->evaluate_ref);
  free(e->chunk);
  e->chunk = NULL;
  e->gen = NULL;
}
