/* Shared by the files of the dialtone.store binding (lapi_store.c: runs, events, nonces;
 * lapi_store_orgs.c: organisations, keys, workflows; lapi_store_configs.c: configurations and
 * phone numbers); not for other modules. */
#ifndef DT_LAPI_STORE_H
#define DT_LAPI_STORE_H

#include <lua.h>

#include "store.h"

/* How dt_lapi_row_visitor turns a row into a Lua value: a table of its cells; the same with
 * the cells settings and secret_fields (JSON text) as tables and is_default a boolean; or the
 * value of its one cell. */
enum { DT_LAPI_ROWS_PLAIN, DT_LAPI_ROWS_JSON, DT_LAPI_ROWS_VALUE };

/* Receives store rows as Lua values: appended to the list at stack index `list`, or left on
 * the stack (list 0). Every Lua step runs protected (the function at stack index `step`): a
 * Lua error (out of memory) stops the store call instead of unwinding through it, and is kept
 * at stack index `error` for the binding to raise once the store returned. */
typedef struct {
  lua_State *L;
  int list;
  int n;
  int mode; /* DT_LAPI_ROWS_* */
  int step;
  int error; /* 0: none */
} dt_lapi_row_sink;

extern const dt_store_visitor dt_lapi_row_visitor;

double dt_lapi_store_now(void);
/* The current store; raises when none is open. */
dt_store *dt_lapi_store(lua_State *L);
/* Pushes nil and "not found" / "exists" / the store's message for rc; returns 2. */
int dt_lapi_store_fail(lua_State *L, dt_store *s, int rc);
/* Argument checks that raise naming the function fn. */
const char *dt_lapi_store_arg_string(lua_State *L, int idx, const char *fn, const char *what, size_t *len);
void dt_lapi_store_arg_table(lua_State *L, int idx, const char *fn, const char *what);
/* The string field of the table at idx: raises unless it is a string (or absent, text NULL,
 * when optional). The table keeps the string alive. */
dt_store_str dt_lapi_store_string_field(lua_State *L, int idx, const char *fn, const char *field, int optional);
/* The table field of the table at idx encoded with dialtone.json.encode, the text left on the
 * stack; absent: text NULL. Raises for another type or a table JSON cannot hold. */
dt_store_str dt_lapi_store_json_field(lua_State *L, int idx, const char *fn, const char *field);
/* Calls list(s, arg, sink) to fill a new list (rows made as mode says): pushes it and returns
 * 1, or nil, err (2). Raises, after the store call returned, a Lua error a row step raised. */
int dt_lapi_store_push_list(lua_State *L, dt_store *s, int list(dt_store *, void *, dt_lapi_row_sink *),
                            void *arg, int mode);
/* Calls one(s, arg, sink) to push one row: returns 1 with it pushed, 1 with nil pushed when
 * there is none, or nil, err (2). Raises like dt_lapi_store_push_list. */
int dt_lapi_store_push_one(lua_State *L, dt_store *s, int one(dt_store *, void *, dt_lapi_row_sink *),
                           void *arg, int mode);

/* An organisation's id and, for one row, the row's id: the key of every organisation-scoped
 * call. */
typedef struct {
  dt_store_str org, id;
} dt_lapi_scope;

/* Reads org_id (argument 1) and, when with_id, the id (argument 2); raises naming fn. */
dt_lapi_scope dt_lapi_store_read_scope(lua_State *L, const char *fn, int with_id);

/* Add their functions to the table on top of the stack. */
void dt_lapi_store_orgs_register(lua_State *L);
void dt_lapi_store_configs_register(lua_State *L);
#endif
