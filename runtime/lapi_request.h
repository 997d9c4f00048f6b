#ifndef DT_LAPI_REQUEST_H
#define DT_LAPI_REQUEST_H

#include <stddef.h>
#include <lua.h>

#include "http_server.h"

/* Pushes the request object for an HTTP request (see lapi_request.c for its fields). */
void dt_request_push(lua_State *L, const dt_http_request *r);
/* Sets t[name], t[name.."_all"] (and t[name.."_error"] on hostile input) from urlencoded text. */
void dt_request_set_pairs(lua_State *L, int t, const char *text, size_t len, const char *name);
#endif
