/* Twilio Media Streams framing (spec/twilio.md §8): JSON text messages, mu-law 8 kHz in
 * base64. Media messages, one every 20 ms per call, take a fast path that finds the payload
 * without building a JSON tree; the rare other events are parsed with cJSON. */
#include "media_twilio.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "g711.h"

#define MAX_PAYLOAD 4096   /* base64 characters in one inbound media message */
#define OUT_SAMPLES 320

typedef struct {
  char stream_sid[65];
} twilio_state;

static twilio_state *state(dt_media *m) { return dt_media_adapter_state(m); }

/* Finds the value of "payload":"..." in a media message. */
static int find_payload(const char *data, size_t len, const char **b64, size_t *b64_len)
{
  static const char key[] = "\"payload\":\"";
  const char *p = memmem(data, len, key, sizeof key - 1);
  if (!p) return -1;
  p += sizeof key - 1;
  const char *end = memchr(p, '"', (size_t)(data + len - p));
  if (!end || (size_t)(end - p) > MAX_PAYLOAD) return -1;
  *b64 = p;
  *b64_len = (size_t)(end - p);
  return 0;
}

static int on_media(dt_media *m, const char *data, size_t len)
{
  const char *b64;
  size_t b64_len, n;
  uint8_t ulaw[MAX_PAYLOAD / 4 * 3];
  int16_t pcm[MAX_PAYLOAD / 4 * 3];
  if (find_payload(data, len, &b64, &b64_len) != 0 ||
      dt_base64_decode(b64, b64_len, ulaw, sizeof ulaw, DT_BASE64_STD, &n) != 0)
    return -1;
  dt_ulaw_decode(ulaw, n, pcm);
  dt_media_in_audio(m, pcm, n);
  return 0;
}

static const char *string_at(const cJSON *root, const char *object, const char *field)
{
  const cJSON *o = object ? cJSON_GetObjectItemCaseSensitive(root, object) : root;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int valid_sid(const char *sid)
{
  size_t n = sid ? strlen(sid) : 0;
  if (n == 0 || n > 64) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((sid[i] >= 'A' && sid[i] <= 'Z') || (sid[i] >= 'a' && sid[i] <= 'z') || (sid[i] >= '0' && sid[i] <= '9')))
      return 0;
  return 1;
}

/* start.customParameters: string values only; names and values that do not fit are refused
 * rather than cut, since they may carry a token. */
static int copy_params(const cJSON *start, dt_media_start *info)
{
  const cJSON *p;
  cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(start, "customParameters")) {
    if (!cJSON_IsString(p) || info->nparams == DT_MEDIA_MAX_PARAMS ||
        strlen(p->string) >= sizeof info->params[0].name || strlen(p->valuestring) >= sizeof info->params[0].value)
      return -1;
    snprintf(info->params[info->nparams].name, sizeof info->params[0].name, "%s", p->string);
    snprintf(info->params[info->nparams].value, sizeof info->params[0].value, "%s", p->valuestring);
    info->nparams++;
  }
  return 0;
}

static int on_start(dt_media *m, const cJSON *root)
{
  const char *sid = string_at(root, "start", "streamSid");
  if (!sid) sid = string_at(root, NULL, "streamSid");
  const cJSON *start = cJSON_GetObjectItemCaseSensitive(root, "start");
  const char *encoding = string_at(start, "mediaFormat", "encoding");
  const char *call_sid = string_at(root, "start", "callSid");
  if (!valid_sid(sid) || (call_sid && !valid_sid(call_sid)) || (encoding && strcmp(encoding, "audio/x-mulaw") != 0))
    return -1;
  dt_media_start info = { 0 };
  if (copy_params(start, &info) != 0) return -1;
  snprintf(info.stream_id, sizeof info.stream_id, "%s", sid);
  snprintf(info.call_id, sizeof info.call_id, "%s", call_sid ? call_sid : "");
  snprintf(state(m)->stream_sid, sizeof state(m)->stream_sid, "%s", sid);
  dt_media_in_start(m, &info);
  return 0;
}

static int on_event(dt_media *m, const cJSON *root, const char *event)
{
  if (strcmp(event, "start") == 0) return on_start(m, root);
  if (strcmp(event, "dtmf") == 0) {
    const char *digit = string_at(root, "dtmf", "digit");
    if (!digit || strlen(digit) != 1) return -1;
    dt_media_in_dtmf(m, digit[0]);
  } else if (strcmp(event, "mark") == 0) {
    const char *name = string_at(root, "mark", "name");
    if (!name) return -1;
    dt_media_in_mark(m, name);
  } else if (strcmp(event, "stop") == 0) {
    dt_media_in_stop(m);
  }
  return 0; /* "connected" and events added later need nothing */
}

static int twilio_message(dt_media *m, int kind, const char *data, size_t len)
{
  if (kind != DT_WS_TEXT) return -1; /* Twilio sends JSON text only */
  if (memmem(data, len, "\"event\":\"media\"", 15)) return on_media(m, data, len);
  cJSON *root = cJSON_ParseWithLength(data, len);
  const char *event = string_at(root, NULL, "event");
  int rc = event ? on_event(m, root, event) : -1;
  cJSON_Delete(root);
  return rc;
}

static int twilio_send_audio(dt_media *m, const int16_t *pcm, size_t n)
{
  uint8_t ulaw[OUT_SAMPLES];
  char b64[(OUT_SAMPLES + 2) / 3 * 4 + 1], msg[sizeof b64 + 160];
  size_t b64_len;
  if (n > OUT_SAMPLES) return -1;
  dt_ulaw_encode(pcm, n, ulaw);
  if (dt_base64_encode(ulaw, n, b64, sizeof b64, DT_BASE64_STD, &b64_len) != 0) return -1;
  int len = snprintf(msg, sizeof msg, "{\"event\":\"media\",\"streamSid\":\"%s\",\"media\":{\"payload\":\"%.*s\"}}",
                     state(m)->stream_sid, (int)b64_len, b64);
  return dt_ws_send(dt_media_ws(m), DT_WS_TEXT, msg, (size_t)len);
}

static int send_json(dt_media *m, cJSON *msg)
{
  cJSON_AddStringToObject(msg, "streamSid", state(m)->stream_sid);
  char *text = cJSON_PrintUnformatted(msg);
  cJSON_Delete(msg);
  if (!text) return -1;
  int rc = dt_ws_send(dt_media_ws(m), DT_WS_TEXT, text, strlen(text));
  cJSON_free(text);
  return rc;
}

static int twilio_send_mark(dt_media *m, const char *name)
{
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "event", "mark");
  cJSON_AddStringToObject(cJSON_AddObjectToObject(msg, "mark"), "name", name);
  return send_json(m, msg);
}

static int twilio_send_clear(dt_media *m)
{
  cJSON *msg = cJSON_CreateObject();
  cJSON_AddStringToObject(msg, "event", "clear");
  return send_json(m, msg);
}

const dt_media_adapter dt_media_twilio = {
  .name = "twilio",
  .wire_rate = 8000,
  .state_size = sizeof(twilio_state),
  .on_message = twilio_message,
  .send_audio = twilio_send_audio,
  .send_mark = twilio_send_mark,
  .send_clear = twilio_send_clear,
};
