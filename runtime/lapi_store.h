/* Shared by the files of the dialtone.store binding (lapi_store.c: runs, events, nonces;
 * lapi_store_orgs.c: organisations, keys, workflows; lapi_store_configs.c: configurations and
 * phone numbers); not for other modules. */
#ifndef DT_LAPI_STORE_H
#define DT_LAPI_STORE_H

#include <lua.h>

#include "store.h"

/* Receives store rows as Lua tables: appended to the list at stack index `list`, or left on
 * the stack (list 0). With json set, the cells settings and secret_fields (JSON text) become
 * tables and is_default a boolean. */
typedef struct {
  lua_State *L;
  int list;
  int n;
  int json;
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
/* Calls list(s, arg, sink) to fill a new list: pushes it and returns 1, or nil, err (2). */
int dt_lapi_store_push_list(lua_State *L, dt_store *s, int list(dt_store *, void *, dt_lapi_row_sink *),
                            void *arg, int json);
/* Calls one(s, arg, sink) to push one row: returns 1 with it pushed, 1 with nil pushed when
 * there is none, or nil, err (2). */
int dt_lapi_store_push_one(lua_State *L, dt_store *s, int one(dt_store *, void *, dt_lapi_row_sink *),
                           void *arg, int json);

/* Add their functions to the table on top of the stack. */
void dt_lapi_store_orgs_register(lua_State *L);
void dt_lapi_store_configs_register(lua_State *L);
#endif
