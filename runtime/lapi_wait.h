/* Bindings that wait (dialtone.http.request, dialtone.ws, call:recv, call:bridge,
 * dialtone.media.accept) are a little Lua around C halves: the first half returns its results
 * or waits; the task is resumed with no values, and a second half pushes the results from the
 * running coroutine itself (in protected mode), never onto a suspended thread from a callback. */
#ifndef DT_LAPI_WAIT_H
#define DT_LAPI_WAIT_H

#include <lua.h>

/* Runs chunk (named name) with the n C functions that follow as its arguments; leaves the
 * function it returns on the stack. */
void dt_lapi_push_wait_wrapper(lua_State *L, const char *chunk, const char *name, int n, ...);
#endif
