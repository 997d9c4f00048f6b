/* opts.protocol of dialtone.media.accept: a carrier's name, or a description table of a JSON
 * protocol (README.md, "Media protocols described in Lua") compiled by media_json.c. */
#ifndef DT_LAPI_MEDIA_PROTOCOL_H
#define DT_LAPI_MEDIA_PROTOCOL_H

#include <lua.h>

#include "media.h"

/* The adapter for the value at idx. Raises (naming fn and the bad key) when it is neither a
 * known name nor a valid description. An adapter with a release function was built for this
 * call: the caller owns it until a session takes it. */
const dt_media_adapter *dt_lapi_media_protocol(lua_State *L, int idx, const char *fn);
#endif
