/* Vonage WebSocket framing (spec/vonage.md §6): binary frames of raw 16-bit little-endian PCM
 * at 16 kHz, one 20 ms frame each, and JSON text messages for everything else. */
#include "media_vonage.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define WIRE_RATE 16000
#define FRAME_SAMPLES 320   /* 20 ms at 16 kHz */
#define MAX_TEXT 8192       /* bytes in one inbound text message */
#define CONTENT_TYPE "audio/l16;rate=16000"

typedef struct {
  int connected;
} vonage_state;

static vonage_state *state(dt_media *m) { return dt_media_adapter_state(m); }

static int on_audio(dt_media *m, const unsigned char *data, size_t len)
{
  if (!state(m)->connected || len % 2 || len > 2 * FRAME_SAMPLES) return -1;
  int16_t pcm[FRAME_SAMPLES];
  size_t n = len / 2;
  for (size_t i = 0; i < n; i++) pcm[i] = (int16_t)(uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
  dt_media_in_audio(m, pcm, n);
  return 0;
}

/* The headers: every top-level string but event and content-type. Names and values that do
 * not fit are refused rather than cut, since they may carry a token. */
static int copy_params(const cJSON *root, dt_media_start *info)
{
  const cJSON *p;
  cJSON_ArrayForEach(p, root) {
    if (!cJSON_IsString(p) || strcmp(p->string, "event") == 0 || strcmp(p->string, "content-type") == 0)
      continue;
    if (info->nparams == DT_MEDIA_MAX_PARAMS || strlen(p->string) >= sizeof info->params[0].name ||
        strlen(p->valuestring) >= sizeof info->params[0].value)
      return -1;
    snprintf(info->params[info->nparams].name, sizeof info->params[0].name, "%s", p->string);
    snprintf(info->params[info->nparams].value, sizeof info->params[0].value, "%s", p->valuestring);
    info->nparams++;
  }
  return 0;
}

static int on_connected(dt_media *m, const cJSON *root)
{
  if (state(m)->connected) return 0;
  const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "content-type");
  if (!cJSON_IsString(type) || strcmp(type->valuestring, CONTENT_TYPE) != 0) return -1;
  dt_media_start info = { 0 };
  if (copy_params(root, &info) != 0) return -1;
  state(m)->connected = 1;
  dt_media_in_start(m, &info);
  return 0;
}

static int on_event(dt_media *m, const cJSON *root, const char *event)
{
  if (strcmp(event, "websocket:connected") == 0) return on_connected(m, root);
  if (strcmp(event, "websocket:dtmf") == 0) {
    const cJSON *digit = cJSON_GetObjectItemCaseSensitive(root, "digit");
    if (!cJSON_IsString(digit) || strlen(digit->valuestring) != 1) return -1;
    dt_media_in_dtmf(m, digit->valuestring[0]);
  } else if (strcmp(event, "websocket:notify") == 0) {
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(root, "payload");
    const cJSON *mark = cJSON_GetObjectItemCaseSensitive(payload, "mark");
    if (cJSON_IsString(mark)) dt_media_in_mark(m, mark->valuestring);
  }
  return 0; /* websocket:cleared and events added later need nothing */
}

static int vonage_message(dt_media *m, int kind, const char *data, size_t len)
{
  if (kind == DT_WS_BINARY) return on_audio(m, (const unsigned char *)data, len);
  if (len > MAX_TEXT) return -1;
  cJSON *root = cJSON_ParseWithLength(data, len);
  const cJSON *event = cJSON_GetObjectItemCaseSensitive(root, "event");
  int rc = -1;
  if (cJSON_IsObject(root)) rc = cJSON_IsString(event) ? on_event(m, root, event->valuestring) : 0;
  cJSON_Delete(root);
  return rc;
}

/* One binary message per 20 ms frame; a short last frame is padded with silence. */
static int vonage_send_audio(dt_media *m, const int16_t *pcm, size_t n)
{
  for (size_t off = 0; off < n; off += FRAME_SAMPLES) {
    unsigned char frame[2 * FRAME_SAMPLES] = { 0 };
    size_t k = n - off < FRAME_SAMPLES ? n - off : FRAME_SAMPLES;
    for (size_t i = 0; i < k; i++) {
      uint16_t s = (uint16_t)pcm[off + i];
      frame[2 * i] = (unsigned char)(s & 0xff);
      frame[2 * i + 1] = (unsigned char)(s >> 8);
    }
    if (dt_ws_send(dt_media_ws(m), DT_WS_BINARY, (const char *)frame, sizeof frame) != 0) return -1;
  }
  return 0;
}

static int send_json(dt_media *m, cJSON *msg)
{
  char *text = msg ? cJSON_PrintUnformatted(msg) : NULL;
  cJSON_Delete(msg);
  if (!text) return -1;
  int rc = dt_ws_send(dt_media_ws(m), DT_WS_TEXT, text, strlen(text));
  cJSON_free(text);
  return rc;
}

static int vonage_send_mark(dt_media *m, const char *name)
{
  cJSON *msg = cJSON_CreateObject();
  if (!cJSON_AddStringToObject(msg, "action", "notify") ||
      !cJSON_AddStringToObject(cJSON_AddObjectToObject(msg, "payload"), "mark", name)) {
    cJSON_Delete(msg);
    return -1;
  }
  return send_json(m, msg);
}

static int vonage_send_clear(dt_media *m)
{
  static const char clear[] = "{\"action\":\"clear\"}";
  return dt_ws_send(dt_media_ws(m), DT_WS_TEXT, clear, sizeof clear - 1);
}

const dt_media_adapter dt_media_vonage = {
  .name = "vonage",
  .wire_rate = WIRE_RATE,
  .state_size = sizeof(vonage_state),
  .on_message = vonage_message,
  .send_audio = vonage_send_audio,
  .send_mark = vonage_send_mark,
  .send_clear = vonage_send_clear,
};
