/* A media protocol compiled from a description (media_json.h): inbound JSON text messages are
 * parsed with cJSON and their fields found by dotted paths; outbound messages are templates
 * rendered once to JSON text with slots, filled per message without building a tree. */
#include "media_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "g711.h"

#define MAX_MESSAGE 16384   /* bytes in one inbound message */
#define MAX_PAYLOAD 4096    /* base64 characters of inbound audio in one message */
#define MAX_PATH_PARTS 8
#define MAX_WORD 64         /* bytes in an event name, an event key or a path */
#define MAX_TEMPLATE 4096   /* bytes of a rendered template, slots not counted */
#define MAX_DEPTH 8
#define OUT_FRAME 320       /* samples in 20 ms at 16 kHz */

enum { K_START, K_MEDIA, K_DTMF, K_MARK, K_STOP, KINDS };
static const char *const kind_names[KINDS] = { "start", "media", "dtmf", "mark", "stop" };

enum { SLOT_TEXT, SLOT_PAYLOAD, SLOT_NAME, SLOT_STREAM };

typedef struct {
  size_t n;
  const char *part[MAX_PATH_PARTS]; /* into buf */
  char *buf;
} path;

typedef struct {
  int slot;
  size_t off, len; /* SLOT_TEXT: a span of text */
} segment;

typedef struct {
  char *text;
  size_t text_len, text_cap;
  segment *segs;
  size_t nsegs, segs_cap;
} tmpl;

typedef struct {
  dt_media_adapter ad; /* first: a session's adapter pointer is a pointer to this */
  char name[32];
  dt_media_json_encoding encoding;
  char *event_key;
  char *event[KINDS];
  path stream_id, call_id, params, payload, digit, mark_name;
  tmpl out_media, out_mark, out_clear;
} proto;

static const proto *proto_of(dt_media *m) { return (const proto *)(const void *)dt_media_adapter_of(m); }

/* ---- JSON strings ---- */

/* Escapes s as the inside of a JSON string into out (NULL: only counts). Returns the length. */
static size_t escape(char *out, const char *s, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t len = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    char e[6] = { (char)c };
    size_t k = 1;
    if (c == '"' || c == '\\') {
      e[0] = '\\';
      e[1] = (char)c;
      k = 2;
    } else if (c < 0x20) {
      memcpy(e, "\\u00", 4);
      e[4] = hex[c >> 4];
      e[5] = hex[c & 15];
      k = 6;
    }
    if (out) memcpy(out + len, e, k);
    len += k;
  }
  return len;
}

/* ---- paths ---- */

static int compile_path(path *p, const char *s)
{
  size_t len = strlen(s);
  if (len == 0 || len > MAX_WORD || !(p->buf = strdup(s))) return -1;
  for (char *part = p->buf;; part++) {
    char *dot = strchr(part, '.');
    if (dot) *dot = '\0';
    if (!*part || p->n == MAX_PATH_PARTS) return -1;
    p->part[p->n++] = part;
    if (!dot) return 0;
    part = dot;
  }
}

/* The value at p, or NULL (also for a path that is not set). */
static const cJSON *lookup(const cJSON *v, const path *p)
{
  if (!p->n) return NULL;
  for (size_t i = 0; i < p->n && v; i++)
    v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, p->part[i]) : NULL;
  return v;
}

static const char *string_at(const cJSON *root, const path *p)
{
  const cJSON *v = lookup(root, p);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- templates ---- */

typedef struct {
  tmpl *t;
  unsigned allowed;  /* bit per slot */
  unsigned used;
  const char *error;
} builder;

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
  if (need <= *cap) return 0;
  size_t cap2 = *cap ? *cap : 8;
  while (cap2 < need) cap2 *= 2;
  void *q = realloc(*p, cap2 * size);
  if (!q) return -1;
  *p = q;
  *cap = cap2;
  return 0;
}

static int add_segment(builder *b, int slot, size_t len)
{
  tmpl *t = b->t;
  segment *last = t->nsegs ? &t->segs[t->nsegs - 1] : NULL;
  if (slot == SLOT_TEXT && last && last->slot == SLOT_TEXT) {
    last->len += len;
    return 0;
  }
  if (grow((void **)&t->segs, &t->segs_cap, t->nsegs + 1, sizeof *t->segs) != 0) return -1;
  t->segs[t->nsegs++] = (segment){ slot, t->text_len - len, len };
  return 0;
}

/* Appends text (escaped as a JSON string's inside when quoted). */
static int add_text(builder *b, const char *s, size_t n, int quoted)
{
  tmpl *t = b->t;
  size_t len = quoted ? escape(NULL, s, n) + 2 : n;
  if (t->text_len + len > MAX_TEMPLATE) {
    b->error = "too large";
    return -1;
  }
  if (grow((void **)&t->text, &t->text_cap, t->text_len + len, 1) != 0) return -1;
  char *out = t->text + t->text_len;
  if (quoted) {
    out[0] = '"';
    escape(out + 1, s, n);
    out[len - 1] = '"';
  } else {
    memcpy(out, s, n);
  }
  t->text_len += len;
  return add_segment(b, SLOT_TEXT, len);
}

static int add_string(builder *b, const char *s)
{
  static const char *const names[] = { NULL, "$payload", "$name", "$stream_id" };
  for (int slot = SLOT_PAYLOAD; slot <= SLOT_STREAM; slot++) {
    if (strcmp(s, names[slot]) != 0) continue;
    if (!(b->allowed & 1u << slot)) {
      b->error = slot == SLOT_PAYLOAD ? "$payload belongs in outbound.media only" : "$name belongs in outbound.mark only";
      return -1;
    }
    b->used |= 1u << slot;
    return add_segment(b, slot, 0);
  }
  return add_text(b, s, strlen(s), 1);
}

static int add_leaf(builder *b, const cJSON *v)
{
  char *text = cJSON_PrintUnformatted(v);
  if (!text) return -1;
  int rc = add_text(b, text, strlen(text), 0);
  cJSON_free(text);
  return rc;
}

static int render(builder *b, const cJSON *v, int depth)
{
  if (depth > MAX_DEPTH) {
    b->error = "nested too deeply";
    return -1;
  }
  if (cJSON_IsString(v)) return add_string(b, v->valuestring);
  if (!cJSON_IsObject(v) && !cJSON_IsArray(v)) {
    if (cJSON_IsNumber(v) || cJSON_IsBool(v) || cJSON_IsNull(v)) return add_leaf(b, v);
    b->error = "not JSON";
    return -1;
  }
  int object = cJSON_IsObject(v);
  if (add_text(b, object ? "{" : "[", 1, 0) != 0) return -1;
  const cJSON *c;
  cJSON_ArrayForEach(c, v) {
    if (c != v->child && add_text(b, ",", 1, 0) != 0) return -1;
    if (object && (add_text(b, c->string, strlen(c->string), 1) != 0 || add_text(b, ":", 1, 0) != 0)) return -1;
    if (render(b, c, depth + 1) != 0) return -1;
  }
  return add_text(b, object ? "}" : "]", 1, 0);
}

/* needed: the slot the template must contain (SLOT_TEXT for none). */
static const char *compile_template(tmpl *t, const cJSON *v, unsigned allowed, int needed)
{
  builder b = { t, allowed | 1u << SLOT_STREAM, 0, NULL };
  if (!cJSON_IsObject(v)) return "must be a JSON object";
  if (render(&b, v, 0) != 0) return b.error ? b.error : "out of memory";
  if (needed != SLOT_TEXT && !(b.used & 1u << needed))
    return needed == SLOT_PAYLOAD ? "needs a \"$payload\" value" : "needs a \"$name\" value";
  return NULL;
}

/* Writes the template's text with its slots filled (as JSON strings) into out (NULL: only
 * counts). Returns the length. */
static size_t fill(const tmpl *t, char *out, const char *payload, size_t payload_len, const char *name,
                   const char *sid)
{
  size_t at = 0;
  for (size_t i = 0; i < t->nsegs; i++) {
    const segment *s = &t->segs[i];
    if (s->slot == SLOT_TEXT) {
      if (out) memcpy(out + at, t->text + s->off, s->len);
      at += s->len;
      continue;
    }
    if (out) out[at] = '"';
    at++;
    if (s->slot == SLOT_NAME) at += escape(out ? out + at : NULL, name, strlen(name));
    else if (s->slot == SLOT_STREAM) at += escape(out ? out + at : NULL, sid, strlen(sid));
    else {
      if (out) memcpy(out + at, payload, payload_len);
      at += payload_len;
    }
    if (out) out[at] = '"';
    at++;
  }
  return at;
}

static int send_template(dt_media *m, const tmpl *t, const char *payload, size_t payload_len, const char *name)
{
  const dt_media_start *start = dt_media_started(m);
  const char *sid = start ? start->stream_id : "";
  if (!name) name = "";
  char stack[8192];
  size_t total = fill(t, NULL, payload, payload_len, name, sid);
  char *buf = total <= sizeof stack ? stack : malloc(total);
  if (!buf) return -1;
  fill(t, buf, payload, payload_len, name, sid);
  int rc = dt_ws_send(dt_media_ws(m), DT_WS_TEXT, buf, total);
  if (buf != stack) free(buf);
  return rc;
}

/* ---- inbound ---- */

/* A call or stream id: absent is empty; present, it is a string of printable ASCII that fits. */
static int copy_id(const cJSON *root, const path *p, char *out, size_t cap)
{
  const cJSON *v = lookup(root, p);
  if (!v) return 0;
  if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) return -1;
  for (const char *c = v->valuestring; *c; c++)
    if (*c <= 0x20 || *c >= 0x7f) return -1;
  snprintf(out, cap, "%s", v->valuestring);
  return 0;
}

/* String values only; names and values that do not fit are refused rather than cut, since they
 * may carry a token. */
static int copy_params(const cJSON *root, const path *p, dt_media_start *info)
{
  const cJSON *params = lookup(root, p), *v;
  if (!params || cJSON_IsNull(params)) return 0;
  if (!cJSON_IsObject(params)) return -1;
  cJSON_ArrayForEach(v, params) {
    if (!cJSON_IsString(v) || info->nparams == DT_MEDIA_MAX_PARAMS || strlen(v->string) >= sizeof info->params[0].name ||
        strlen(v->valuestring) >= sizeof info->params[0].value)
      return -1;
    snprintf(info->params[info->nparams].name, sizeof info->params[0].name, "%s", v->string);
    snprintf(info->params[info->nparams].value, sizeof info->params[0].value, "%s", v->valuestring);
    info->nparams++;
  }
  return 0;
}

static int on_start(dt_media *m, const proto *p, const cJSON *root)
{
  dt_media_start info = { 0 };
  if (copy_id(root, &p->stream_id, info.stream_id, sizeof info.stream_id) != 0 ||
      copy_id(root, &p->call_id, info.call_id, sizeof info.call_id) != 0 || copy_params(root, &p->params, &info) != 0)
    return -1;
  dt_media_in_start(m, &info);
  return 0;
}

static size_t decode(dt_media_json_encoding enc, const uint8_t *in, size_t n, int16_t *pcm)
{
  if (enc == DT_MEDIA_JSON_MULAW) dt_ulaw_decode(in, n, pcm);
  else if (enc == DT_MEDIA_JSON_ALAW) dt_alaw_decode(in, n, pcm);
  else
    for (size_t i = 0; i < n / 2; i++) pcm[i] = (int16_t)(uint16_t)(in[2 * i] | in[2 * i + 1] << 8);
  return enc == DT_MEDIA_JSON_L16 ? n / 2 : n;
}

/* Audio before the start is dropped (by dt_media_in_audio): carriers do not promise the order
 * of their messages. */
static int on_media(dt_media *m, const proto *p, const cJSON *root)
{
  const char *b64 = string_at(root, &p->payload);
  size_t len = b64 ? strlen(b64) : 0, n;
  uint8_t bytes[MAX_PAYLOAD / 4 * 3];
  int16_t pcm[MAX_PAYLOAD / 4 * 3];
  if (!b64 || len > MAX_PAYLOAD || dt_base64_decode(b64, len, bytes, sizeof bytes, DT_BASE64_STD, &n) != 0 ||
      (p->encoding == DT_MEDIA_JSON_L16 && n % 2))
    return -1;
  dt_media_in_audio(m, pcm, decode(p->encoding, bytes, n, pcm));
  return 0;
}

static int on_kind(dt_media *m, const proto *p, const cJSON *root, int kind)
{
  const char *s;
  switch (kind) {
  case K_START: return on_start(m, p, root);
  case K_MEDIA: return on_media(m, p, root);
  case K_DTMF:
    if (!(s = string_at(root, &p->digit)) || strlen(s) != 1) return -1;
    dt_media_in_dtmf(m, s[0]);
    return 0;
  case K_MARK:
    if (!(s = string_at(root, &p->mark_name))) return -1;
    dt_media_in_mark(m, s);
    return 0;
  default:
    dt_media_in_stop(m);
    return 0;
  }
}

static int json_message(dt_media *m, int kind, const char *data, size_t len)
{
  const proto *p = proto_of(m);
  if (kind != DT_WS_TEXT || len > MAX_MESSAGE) return -1;
  cJSON *root = cJSON_ParseWithLength(data, len);
  const cJSON *event = cJSON_GetObjectItemCaseSensitive(root, p->event_key);
  int rc = -1;
  if (cJSON_IsObject(root) && cJSON_IsString(event)) {
    rc = 0; /* kinds the description does not name are ignored */
    for (int k = 0; k < KINDS; k++)
      if (p->event[k] && strcmp(p->event[k], event->valuestring) == 0) {
        rc = on_kind(m, p, root, k);
        break;
      }
  }
  cJSON_Delete(root);
  return rc;
}

/* ---- outbound ---- */

static size_t encode(dt_media_json_encoding enc, const int16_t *pcm, size_t n, uint8_t *out)
{
  if (enc == DT_MEDIA_JSON_MULAW) dt_ulaw_encode(pcm, n, out);
  else if (enc == DT_MEDIA_JSON_ALAW) dt_alaw_encode(pcm, n, out);
  else
    for (size_t i = 0; i < n; i++) {
      out[2 * i] = (uint8_t)((uint16_t)pcm[i] & 0xff);
      out[2 * i + 1] = (uint8_t)((uint16_t)pcm[i] >> 8);
    }
  return enc == DT_MEDIA_JSON_L16 ? 2 * n : n;
}

/* One message per 20 ms frame. */
static int json_send_audio(dt_media *m, const int16_t *pcm, size_t n)
{
  const proto *p = proto_of(m);
  size_t frame = (size_t)p->ad.wire_rate / 50;
  for (size_t off = 0; off < n; off += frame) {
    size_t k = n - off < frame ? n - off : frame, b64_len;
    uint8_t bytes[2 * OUT_FRAME];
    char b64[(2 * OUT_FRAME + 2) / 3 * 4];
    size_t nb = encode(p->encoding, pcm + off, k, bytes);
    if (dt_base64_encode(bytes, nb, b64, sizeof b64, DT_BASE64_STD, &b64_len) != 0 ||
        send_template(m, &p->out_media, b64, b64_len, NULL) != 0)
      return -1;
  }
  return 0;
}

static int json_send_mark(dt_media *m, const char *name)
{
  return send_template(m, &proto_of(m)->out_mark, NULL, 0, name);
}

static int json_send_clear(dt_media *m) { return send_template(m, &proto_of(m)->out_clear, NULL, 0, NULL); }

/* ---- building ---- */

static void free_path(path *p) { free(p->buf); }

static void free_tmpl(tmpl *t)
{
  free(t->text);
  free(t->segs);
}

void dt_media_json_free(const dt_media_adapter *ad)
{
  if (!ad) return;
  proto *p = (proto *)(void *)ad;
  free(p->event_key);
  for (int k = 0; k < KINDS; k++) free(p->event[k]);
  path *paths[] = { &p->stream_id, &p->call_id, &p->params, &p->payload, &p->digit, &p->mark_name };
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) free_path(paths[i]);
  free_tmpl(&p->out_media);
  free_tmpl(&p->out_mark);
  free_tmpl(&p->out_clear);
  free(p);
}

static int fail(char *err, size_t cap, const char *field, const char *msg)
{
  snprintf(err, cap, "%s: %s", field, msg);
  return -1;
}

static int valid_name(const char *s)
{
  size_t n = s ? strlen(s) : 0;
  if (n == 0 || n > 31) return 0;
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
          s[i] == '-' || s[i] == '_'))
      return 0;
  return 1;
}

static int copy_word(char **out, const char *s)
{
  size_t n = strlen(s);
  return n == 0 || n > MAX_WORD || !(*out = strdup(s)) ? -1 : 0;
}

static int compile_events(proto *p, const dt_media_json_desc *d, char *err, size_t cap)
{
  const char *events[KINDS] = { d->start.event, d->media.event, d->dtmf.event, d->mark.event, d->stop.event };
  char field[64];
  for (int k = 0; k < KINDS; k++) {
    snprintf(field, sizeof field, "inbound.%s.event", kind_names[k]);
    if (!events[k]) {
      if (k <= K_MEDIA) return fail(err, cap, field, "required");
      continue;
    }
    if (copy_word(&p->event[k], events[k]) != 0) return fail(err, cap, field, "1 to 64 bytes");
    for (int j = 0; j < k; j++)
      if (p->event[j] && strcmp(p->event[j], p->event[k]) == 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "the same as inbound.%s.event", kind_names[j]);
        return fail(err, cap, field, msg);
      }
  }
  return 0;
}

static int compile_paths(proto *p, const dt_media_json_desc *d, char *err, size_t cap)
{
  const struct {
    path *p;
    const char *s, *field;
    int required;
  } paths[] = {
    { &p->stream_id, d->start.stream_id, "inbound.start.stream_id", 0 },
    { &p->call_id, d->start.call_id, "inbound.start.call_id", 0 },
    { &p->params, d->start.params, "inbound.start.params", 0 },
    { &p->payload, d->media.payload, "inbound.media.payload", 1 },
    { &p->digit, d->dtmf.digit, "inbound.dtmf.digit", d->dtmf.event != NULL },
    { &p->mark_name, d->mark.name, "inbound.mark.name", d->mark.event != NULL },
  };
  for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
    if (!paths[i].s) {
      if (paths[i].required) return fail(err, cap, paths[i].field, "required");
      continue;
    }
    if (compile_path(paths[i].p, paths[i].s) != 0)
      return fail(err, cap, paths[i].field, "a dotted path of 1 to 64 bytes, at most 8 names");
  }
  return 0;
}

static int compile_templates(proto *p, const dt_media_json_desc *d, char *err, size_t cap)
{
  const char *e;
  if (!d->out_media) return fail(err, cap, "outbound.media", "required");
  if ((e = compile_template(&p->out_media, d->out_media, 1u << SLOT_PAYLOAD, SLOT_PAYLOAD)))
    return fail(err, cap, "outbound.media", e);
  if (d->out_mark && (e = compile_template(&p->out_mark, d->out_mark, 1u << SLOT_NAME, SLOT_NAME)))
    return fail(err, cap, "outbound.mark", e);
  if (d->out_clear && (e = compile_template(&p->out_clear, d->out_clear, 0, SLOT_TEXT)))
    return fail(err, cap, "outbound.clear", e);
  return 0;
}

static int compile(proto *p, const dt_media_json_desc *d, char *err, size_t cap)
{
  if (!valid_name(d->name)) return fail(err, cap, "name", "1 to 31 letters, digits, '-' or '_'");
  if (d->encoding != DT_MEDIA_JSON_MULAW && d->encoding != DT_MEDIA_JSON_ALAW && d->encoding != DT_MEDIA_JSON_L16)
    return fail(err, cap, "encoding", "\"mulaw\", \"alaw\" or \"l16\"");
  if (d->rate != 8000 && d->rate != 16000) return fail(err, cap, "rate", "8000 or 16000");
  if (copy_word(&p->event_key, d->event_key ? d->event_key : "event") != 0)
    return fail(err, cap, "event_key", "1 to 64 bytes");
  if (compile_events(p, d, err, cap) != 0 || compile_paths(p, d, err, cap) != 0 || compile_templates(p, d, err, cap) != 0)
    return -1;
  snprintf(p->name, sizeof p->name, "%s", d->name);
  p->encoding = d->encoding;
  p->ad = (dt_media_adapter){
    .name = p->name,
    .wire_rate = d->rate,
    .on_message = json_message,
    .send_audio = json_send_audio,
    .send_mark = d->out_mark ? json_send_mark : NULL,
    .send_clear = d->out_clear ? json_send_clear : NULL,
    .release = dt_media_json_free,
  };
  return 0;
}

dt_media_adapter *dt_media_json_new(const dt_media_json_desc *d, char *err, size_t err_cap)
{
  proto *p = calloc(1, sizeof *p);
  if (!p) {
    fail(err, err_cap, "protocol", "out of memory");
    return NULL;
  }
  if (compile(p, d, err, err_cap) != 0) {
    dt_media_json_free(&p->ad);
    return NULL;
  }
  return &p->ad;
}
