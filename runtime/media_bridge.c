#include "media_bridge.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "log.h"

#define FRAME_MS 20
#define MAX_QUEUED_SECONDS 10 /* agent audio queued beyond this is dropped */
#define CHUNK 1024            /* samples copied at a time from a message to the queue */

struct dt_media_bridge {
  dt_media *m;          /* not touched once finished */
  dt_ws *ws;            /* the agent, once connected */
  int connecting, finished, dropping;
  int depth;            /* callbacks of this bridge on the stack: it is freed at depth 0 */
  dt_media_bridge_done done;
  void *ud;
};

static const dt_ws_handlers detached = { NULL, NULL };

/* A send or a close can end the agent's connection synchronously, and done resumes a flow
 * that may do anything: every entry point holds the bridge until it returns. */
static void enter(dt_media_bridge *b) { b->depth++; }

static void leave(dt_media_bridge *b)
{
  if (--b->depth == 0 && b->finished) free(b);
}

static void send_json(dt_media_bridge *b, cJSON *msg)
{
  char *text = msg ? cJSON_PrintUnformatted(msg) : NULL;
  cJSON_Delete(msg);
  if (!text) {
    dt_log(DT_LOG_WARN, "call:bridge: out of memory for a message to the agent", NULL);
    return;
  }
  if (b->ws) dt_ws_send(b->ws, DT_WS_TEXT, text, strlen(text));
  cJSON_free(text);
}

static cJSON *event_msg(const char *event)
{
  cJSON *msg = cJSON_CreateObject();
  if (msg && !cJSON_AddStringToObject(msg, "event", event)) {
    cJSON_Delete(msg);
    return NULL;
  }
  return msg;
}

/* Detaches from the call and the agent, then reports (done may start anything new). */
static void finish(dt_media_bridge *b, const char *result, const char *error, int send_stop)
{
  if (b->finished) return;
  enter(b);
  b->finished = 1;
  dt_media_set_tap(b->m, DT_MEDIA_TAP_BRIDGE, NULL, NULL);
  if (b->connecting) {
    b->connecting = 0;
    dt_ws_connect_cancel(b);
  }
  if (b->ws) {
    if (send_stop) send_json(b, event_msg("stop"));
    dt_ws *ws = b->ws;
    b->ws = NULL;
    if (ws) {
      dt_ws_set_handlers(ws, &detached, NULL);
      dt_ws_close(ws, 1000, NULL);
    }
  }
  if (b->done) b->done(b->ud, result, error);
  leave(b);
}

/* ---- the call to the agent ---- */

static void call_audio(void *ud, dt_media *m, const int16_t *pcm, size_t n)
{
  (void)m;
  dt_media_bridge *b = ud;
  if (b->ws) dt_ws_send(b->ws, DT_WS_BINARY, (const char *)pcm, n * sizeof *pcm);
}

static void call_event(void *ud, dt_media *m, dt_media_event_kind kind, const char *text)
{
  (void)m;
  dt_media_bridge *b = ud;
  enter(b);
  if (kind == DT_MEDIA_STOP) {
    finish(b, "call_ended", NULL, 1);
  } else if (b->ws && (kind == DT_MEDIA_DTMF || kind == DT_MEDIA_MARK)) {
    int dtmf = kind == DT_MEDIA_DTMF;
    cJSON *msg = event_msg(dtmf ? "dtmf" : "mark");
    if (msg && !cJSON_AddStringToObject(msg, dtmf ? "digit" : "name", text)) {
      cJSON_Delete(msg);
      msg = NULL;
    }
    send_json(b, msg);
  }
  leave(b);
}

static const dt_media_tap bridge_tap = { call_audio, call_event };

static void send_start(dt_media_bridge *b)
{
  const dt_media_start *s = dt_media_started(b->m);
  cJSON *msg = event_msg("start"), *params = NULL;
  int ok = msg && cJSON_AddStringToObject(msg, "call_id", s->call_id) &&
           cJSON_AddStringToObject(msg, "stream_id", s->stream_id) &&
           cJSON_AddNumberToObject(msg, "rate", dt_media_rate(b->m)) &&
           cJSON_AddStringToObject(msg, "encoding", "pcm_s16le") &&
           cJSON_AddNumberToObject(msg, "frame_ms", FRAME_MS) && (params = cJSON_AddObjectToObject(msg, "params"));
  for (size_t i = 0; ok && i < s->nparams; i++)
    ok = cJSON_AddStringToObject(params, s->params[i].name, s->params[i].value) != NULL;
  if (!ok) {
    cJSON_Delete(msg);
    msg = NULL;
  }
  send_json(b, msg);
}

/* ---- the agent to the call ---- */

static void agent_audio(dt_media_bridge *b, const char *data, size_t len)
{
  if (len % 2) {
    dt_log(DT_LOG_WARN, "call:bridge: agent audio must be whole 16-bit samples; message dropped", NULL);
    return;
  }
  size_t n = len / 2, cap = (size_t)MAX_QUEUED_SECONDS * (size_t)dt_media_rate(b->m);
  size_t queued = dt_media_queued(b->m), room = queued < cap ? cap - queued : 0;
  if (n > room) {
    if (!b->dropping)
      dt_log(DT_LOG_WARN, "call:bridge: agent sends audio faster than real time; dropping beyond 10 s queued", NULL);
    n = room;
  }
  b->dropping = n < len / 2;
  int16_t chunk[CHUNK];
  for (size_t off = 0; off < n;) {
    size_t k = n - off < CHUNK ? n - off : CHUNK;
    memcpy(chunk, data + 2 * off, k * sizeof *chunk);
    if (dt_media_play(b->m, chunk, k) != 0) return;
    off += k;
  }
}

static void agent_event(dt_media_bridge *b, const char *data, size_t len)
{
  cJSON *root = cJSON_ParseWithLength(data, len);
  const cJSON *ev = cJSON_GetObjectItemCaseSensitive(root, "event");
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
  const char *event = cJSON_IsString(ev) ? ev->valuestring : "";
  if (strcmp(event, "clear") == 0) {
    dt_media_clear(b->m);
  } else if (strcmp(event, "mark") == 0 && cJSON_IsString(name) && name->valuestring[0] &&
             strlen(name->valuestring) < DT_MEDIA_MAX_TEXT) {
    dt_media_mark(b->m, name->valuestring);
  } else if (strcmp(event, "hangup") == 0) {
    dt_media_hangup(b->m); /* the call's stop ends the bridge */
  } else {
    dt_log(DT_LOG_WARN, "call:bridge: agent message ignored (expected clear, mark with a name, or hangup)", NULL);
  }
  cJSON_Delete(root);
}

static void agent_message(void *ud, dt_ws *ws, int kind, const char *data, size_t len)
{
  (void)ws;
  dt_media_bridge *b = ud;
  enter(b);
  if (kind == DT_WS_BINARY) agent_audio(b, data, len);
  else agent_event(b, data, len);
  leave(b);
}

static void agent_closed(void *ud, dt_ws *ws, int code, const char *reason)
{
  (void)ws;
  (void)code;
  (void)reason;
  dt_media_bridge *b = ud;
  b->ws = NULL;
  finish(b, "agent_closed", NULL, 0);
}

static const dt_ws_handlers agent_handlers = { agent_message, agent_closed };

static void agent_open(void *ud, dt_ws *ws, const char *error)
{
  dt_media_bridge *b = ud;
  if (b->finished) return; /* cancelled by finish */
  b->connecting = 0;
  if (!ws) {
    finish(b, NULL, error, 0);
    return;
  }
  enter(b);
  b->ws = ws;
  send_start(b);
  leave(b);
}

int dt_media_bridge_start(dt_media *m, const dt_media_bridge_options *o, dt_media_bridge_done done,
                          void *ud, dt_media_bridge **out, char *err, size_t errlen)
{
  if (!dt_media_started(m) || dt_media_ended(m)) {
    snprintf(err, errlen, "the call is not in progress");
    return -1;
  }
  dt_media_bridge *b = calloc(1, sizeof *b);
  if (!b) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  b->m = m;
  b->done = done;
  b->ud = ud;
  dt_ws_options opts;
  dt_ws_options_default(&opts);
  int rc = dt_ws_connect(uv_default_loop(), o->url, o->headers, o->nheaders, NULL, o->timeout_ms, &opts,
                         &agent_handlers, b, agent_open);
  if (rc != 0) {
    snprintf(err, errlen, "%s", dt_ws_connect_error(rc));
    free(b);
    return -1;
  }
  b->connecting = 1;
  dt_media_set_tap(m, DT_MEDIA_TAP_BRIDGE, &bridge_tap, b);
  *out = b;
  return 0;
}

void dt_media_bridge_stop(dt_media_bridge *b)
{
  b->done = NULL;
  finish(b, NULL, NULL, 0);
}
