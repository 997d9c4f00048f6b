/* Protocols described as data (media_json.c): the description checks, and the inbound parser
 * on a session without a socket, with Telnyx-like messages (spec/telnyx-plivo.md A.3) and
 * hostile ones. */
#include <stdlib.h>

#include "g711.h"
#include "media.h"
#include "media_json.h"
#include "testlib.h"

static cJSON *out_media, *out_mark, *out_clear;

/* The Telnyx description of the README. */
static dt_media_json_desc telnyx(void)
{
  dt_media_json_desc d = {
    .name = "telnyx", .encoding = DT_MEDIA_JSON_MULAW, .rate = 8000, .event_key = "event",
    .start = { "start", "stream_id", "start.call_control_id", "start.custom_parameters" },
    .media = { "media", "media.payload" },
    .dtmf = { "dtmf", "dtmf.digit" },
    .mark = { "mark", "mark.name" },
    .stop = { "stop" },
    .out_media = out_media, .out_mark = out_mark, .out_clear = out_clear,
  };
  return d;
}

/* Compiles d; returns the error message ("" when it compiled). */
static const char *compile_error(const dt_media_json_desc *d)
{
  static char err[160];
  err[0] = '\0';
  dt_media_adapter *ad = dt_media_json_new(d, err, sizeof err);
  if (ad) {
    CHECK_EQ_STR(err, "");
    dt_media_json_free(ad);
  }
  return err;
}

static void test_description_checks(void)
{
  dt_media_json_desc d = telnyx();
  CHECK_EQ_STR(compile_error(&d), "");
  d.name = "tel nyx";
  CHECK_EQ_STR(compile_error(&d), "name: 1 to 31 letters, digits, '-' or '_'");
  d = telnyx();
  d.rate = 12000;
  CHECK_EQ_STR(compile_error(&d), "rate: 8000 or 16000");
  d = telnyx();
  d.media.payload = NULL;
  CHECK_EQ_STR(compile_error(&d), "inbound.media.payload: required");
  d.media.payload = "media..payload";
  CHECK_EQ_STR(compile_error(&d), "inbound.media.payload: a dotted path of 1 to 64 bytes, at most 8 names");
  d.media.payload = "a.b.c.d.e.f.g.h.i";
  CHECK_EQ_STR(compile_error(&d), "inbound.media.payload: a dotted path of 1 to 64 bytes, at most 8 names");
  d.media.payload = "";
  CHECK_EQ_STR(compile_error(&d), "inbound.media.payload: a dotted path of 1 to 64 bytes, at most 8 names");
  d = telnyx();
  d.start.event = NULL;
  CHECK_EQ_STR(compile_error(&d), "inbound.start.event: required");
  d = telnyx();
  d.stop.event = "media";
  CHECK_EQ_STR(compile_error(&d), "inbound.stop.event: the same as inbound.media.event");
  d = telnyx();
  d.dtmf.digit = NULL;
  CHECK_EQ_STR(compile_error(&d), "inbound.dtmf.digit: required");
  d.dtmf.event = NULL;
  CHECK_EQ_STR(compile_error(&d), "");
}

static void test_template_checks(void)
{
  static const struct {
    int which;
    const char *json, *err;
  } cases[] = {
    { 0, "{\"event\":\"media\"}", "outbound.media: needs a \"$payload\" value" },
    { 0, "{\"event\":\"media\",\"n\":\"$name\",\"p\":\"$payload\"}", "outbound.media: $name belongs in outbound.mark only" },
    { 0, "[\"$payload\"]", "outbound.media: must be a JSON object" },
    { 0, "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":\"$payload\"}}}}}}}}}", "outbound.media: nested too deeply" },
    { 1, "{\"event\":\"mark\"}", "outbound.mark: needs a \"$name\" value" },
    { 1, "{\"event\":\"mark\",\"p\":\"$payload\",\"n\":\"$name\"}", "outbound.mark: $payload belongs in outbound.media only" },
    { 2, "{\"event\":\"clear\",\"n\":\"$name\"}", "outbound.clear: $name belongs in outbound.mark only" },
    { 0, "{\"event\":\"media\",\"media\":{\"payload\":\"$payload\"},\"sid\":\"$stream_id\",\"x\":[1,true,null,2.5]}", "" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cJSON *t = cJSON_Parse(cases[i].json);
    dt_media_json_desc d = telnyx();
    if (cases[i].which == 0) d.out_media = t;
    else if (cases[i].which == 1) d.out_mark = t;
    else d.out_clear = t;
    CHECK_EQ_STR(compile_error(&d), cases[i].err);
    cJSON_Delete(t);
  }
  char *big = malloc(5000);
  if (big) {
    snprintf(big, 5000, "{\"p\":\"$payload\",\"x\":\"%04100d\"}", 0);
    cJSON *t = cJSON_Parse(big);
    dt_media_json_desc d = telnyx();
    d.out_media = t;
    CHECK_EQ_STR(compile_error(&d), "outbound.media: too large");
    cJSON_Delete(t);
    free(big);
  }
}

static dt_media *open_proto(dt_media_json_desc d, int rate)
{
  char err[160];
  dt_media_adapter *ad = dt_media_json_new(&d, err, sizeof err);
  dt_media *m = ad ? dt_media_open(ad, rate) : NULL;
  if (!m) {
    dt_media_json_free(ad);
    return NULL;
  }
  dt_media_subscribe(m, 1, NULL, NULL);
  return m;
}

static int text(dt_media *m, const char *s)
{
  return dt_media_adapter_of(m)->on_message(m, DT_WS_TEXT, s, strlen(s));
}

static int no_event(dt_media *m)
{
  dt_media_event ev;
  return dt_media_next_event(m, &ev) != 0;
}

#define START "{\"event\":\"start\",\"sequence_number\":\"1\",\"stream_id\":\"S-1\",\"start\":{\"call_control_id\":\"v3:CC-1\""

static void test_start(void)
{
  dt_media *m = open_proto(telnyx(), 8000);
  CHECK(m != NULL);
  if (!m) return;
  CHECK_EQ_INT(text(m, "{\"event\":\"connected\",\"version\":\"1.0.0\"}"), 0);
  CHECK_EQ_INT(text(m, START ",\"custom_parameters\":{\"token\":\"t-1\",\"n\":5}}}"), -1);
  CHECK_EQ_INT(text(m, START ",\"custom_parameters\":\"token\"}}"), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"start\",\"stream_id\":7}"), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"start\",\"stream_id\":\"has space\"}"), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"start\",\"stream_id\":\"0123456789012345678901234567890123456789012345678901234567890123x\"}"), -1);
  CHECK(!dt_media_started(m));
  CHECK_EQ_INT(text(m, START ",\"custom_parameters\":{\"token\":\"t-1\",\"user\":\"u\"}}}"), 0);
  const dt_media_start *s = dt_media_started(m);
  CHECK(s != NULL);
  if (s) {
    CHECK_EQ_STR(s->stream_id, "S-1");
    CHECK_EQ_STR(s->call_id, "v3:CC-1");
    CHECK_EQ_INT(s->nparams, 2);
    CHECK_EQ_STR(s->params[0].name, "token");
    CHECK_EQ_STR(s->params[0].value, "t-1");
  }
  dt_media_release(m);
  m = open_proto(telnyx(), 8000);
  CHECK_EQ_INT(text(m, "{\"event\":\"start\"}"), 0); /* ids and params absent: empty */
  CHECK_EQ_STR(dt_media_started(m)->stream_id, "");
  CHECK_EQ_INT(dt_media_started(m)->nparams, 0);
  dt_media_release(m);
}

static void test_media_and_events(void)
{
  dt_media *m = open_proto(telnyx(), 8000);
  if (!m) return;
  dt_media_event ev;
  CHECK_EQ_INT(text(m, "{\"event\":\"media\",\"media\":{\"payload\":\"AAEC\"}}"), 0);
  CHECK(no_event(m)); /* before the start: dropped */
  CHECK_EQ_INT(text(m, START "}}"), 0);
  CHECK_EQ_INT(text(m, "{\"event\":\"media\",\"media\":{\"track\":\"inbound\",\"payload\":\"AAH/\"}}"), 0);
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_AUDIO);
  CHECK_EQ_INT(ev.samples, 3);
  CHECK_EQ_INT(ev.pcm[0], dt_ulaw_decode_sample(0x00));
  CHECK_EQ_INT(ev.pcm[1], dt_ulaw_decode_sample(0x01));
  CHECK_EQ_INT(ev.pcm[2], dt_ulaw_decode_sample(0xff));
  CHECK_EQ_INT(text(m, "{\"event\":\"dtmf\",\"dtmf\":{\"digit\":\"#\"}}"), 0);
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_DTMF);
  CHECK_EQ_STR(ev.text, "#");
  CHECK_EQ_INT(text(m, "{\"event\":\"mark\",\"mark\":{\"name\":\"greeting\"}}"), 0);
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_MARK);
  CHECK_EQ_STR(ev.text, "greeting");
  CHECK_EQ_INT(text(m, "{\"event\":\"error\",\"payload\":{\"code\":1}}"), 0);
  CHECK(no_event(m));
  CHECK_EQ_INT(text(m, "{\"event\":\"stop\",\"stop\":{}}"), 0);
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_STOP);
  CHECK(dt_media_ended(m));
  dt_media_release(m);
}

static void test_hostile_messages(void)
{
  dt_media *m = open_proto(telnyx(), 8000);
  if (!m) return;
  CHECK_EQ_INT(text(m, START "}}"), 0);
  static const char *const bad[] = {
    "{\"event\":\"media\",\"media\":{\"payload\":\"AAE\"}}",      /* not canonical base64 */
    "{\"event\":\"media\",\"media\":{\"payload\":\"AA E\"}}",
    "{\"event\":\"media\",\"media\":{\"payload\":5}}",
    "{\"event\":\"media\",\"media\":\"AAEC\"}",
    "{\"event\":\"media\"}",
    "{\"event\":\"dtmf\",\"dtmf\":{\"digit\":\"12\"}}",
    "{\"event\":\"dtmf\",\"dtmf\":{}}",
    "{\"event\":\"mark\",\"mark\":{\"name\":null}}",
    "{\"event\":5}",
    "{\"kind\":\"media\"}",
    "[1,2]",
    "{\"event\":\"media\"",
    "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK_EQ_INT(text(m, bad[i]), -1);
  CHECK_EQ_INT(dt_media_adapter_of(m)->on_message(m, DT_WS_BINARY, "\0\1", 2), -1);
  char *big = malloc(20000);
  if (big) {
    size_t n = (size_t)snprintf(big, 20000, "{\"event\":\"media\",\"media\":{\"payload\":\"");
    memset(big + n, 'A', 4100);
    memcpy(big + n + 4100, "\"}}", 4);
    CHECK_EQ_INT(text(m, big), -1); /* payload over 4096 characters */
    memset(big, ' ', 20000);
    memcpy(big, "{\"event\":\"x\"}", 13);
    CHECK_EQ_INT(dt_media_adapter_of(m)->on_message(m, DT_WS_TEXT, big, 20000), -1); /* message over 16 KiB */
    free(big);
  }
  CHECK(no_event(m));
  dt_media_release(m);
}

static void test_l16_and_event_key(void)
{
  dt_media_json_desc d = telnyx();
  d.encoding = DT_MEDIA_JSON_L16;
  d.rate = 16000;
  d.event_key = "type";
  d.dtmf.event = d.mark.event = d.stop.event = NULL;
  dt_media *m = open_proto(d, 16000);
  if (!m) return;
  dt_media_event ev;
  CHECK_EQ_INT(text(m, "{\"event\":\"start\"}"), -1); /* no "type" */
  CHECK_EQ_INT(text(m, "{\"type\":\"start\"}"), 0);
  CHECK_EQ_INT(text(m, "{\"type\":\"media\",\"media\":{\"payload\":\"AQL/fw==\"}}"), 0); /* 01 02 ff 7f */
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.samples, 2);
  CHECK_EQ_INT(ev.pcm[0], 0x0201);
  CHECK_EQ_INT(ev.pcm[1], 0x7fff);
  CHECK_EQ_INT(text(m, "{\"type\":\"media\",\"media\":{\"payload\":\"AQL/\"}}"), -1); /* odd: 3 bytes */
  CHECK_EQ_INT(text(m, "{\"type\":\"stop\"}"), 0); /* no stop kind in this description */
  CHECK(!dt_media_ended(m));
  dt_media_release(m);
}

int main(void)
{
  out_media = cJSON_Parse("{\"event\":\"media\",\"media\":{\"payload\":\"$payload\"}}");
  out_mark = cJSON_Parse("{\"event\":\"mark\",\"mark\":{\"name\":\"$name\"}}");
  out_clear = cJSON_Parse("{\"event\":\"clear\"}");
  static const dt_test_case cases[] = {
    TEST(test_description_checks), TEST(test_template_checks), TEST(test_start), TEST(test_media_and_events),
    TEST(test_hostile_messages), TEST(test_l16_and_event_key), { NULL, NULL },
  };
  int rc = dt_test_run(cases);
  cJSON_Delete(out_media);
  cJSON_Delete(out_mark);
  cJSON_Delete(out_clear);
  return rc;
}
