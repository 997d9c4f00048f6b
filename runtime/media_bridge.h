/* call:bridge: a call's audio streamed to an external agent over a WebSocket, and the agent's
 * audio played back to the caller, in C both ways (no Lua per frame). The protocol is in
 * README.md ("Call flows"): a JSON start message, binary PCM16 frames both ways, JSON events
 * (dtmf, mark, stop to the agent; clear, mark, hangup from it). */
#ifndef DT_MEDIA_BRIDGE_H
#define DT_MEDIA_BRIDGE_H

#include <stddef.h>
#include <stdint.h>

#include "media.h"

typedef struct dt_media_bridge dt_media_bridge;

/* The bridge is over: result "agent_closed" or "call_ended"; or result NULL and an error
 * when the connection could not be made. Runs once, never from inside dt_media_bridge_start. */
typedef void (*dt_media_bridge_done)(void *ud, const char *result, const char *error);

typedef struct {
  const char *url;               /* ws:// */
  const dt_http_header *headers; /* extra request headers */
  size_t nheaders;
  uint64_t timeout_ms;           /* for connecting */
} dt_media_bridge_options;

/* Connects to the agent and runs the bridge on m (which must have started and not ended)
 * until either side ends. Returns 0 with *out, or -1 with a message in err. */
int dt_media_bridge_start(dt_media *m, const dt_media_bridge_options *o, dt_media_bridge_done done,
                          void *ud, dt_media_bridge **out, char *err, size_t errlen);
/* Ends the bridge without calling done (whoever waited went away). */
void dt_media_bridge_stop(dt_media_bridge *b);
#endif
