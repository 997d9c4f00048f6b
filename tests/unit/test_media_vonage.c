/* The Vonage media adapter's inbound parser (spec/vonage.md §6) on a session without a socket:
 * the websocket:connected start and its headers, binary L16 frames, DTMF and notify marks, and
 * the messages that break the protocol. */
#include <stdlib.h>

#include "media.h"
#include "media_vonage.h"
#include "testlib.h"

#define CONNECTED "{\"event\":\"websocket:connected\",\"content-type\":\"audio/l16;rate=16000\""

static dt_media *open_at(int rate)
{
  dt_media *m = dt_media_open(&dt_media_vonage, rate);
  if (m) dt_media_subscribe(m, 1, NULL, NULL);
  return m;
}

static int text(dt_media *m, const char *s) { return dt_media_vonage.on_message(m, DT_WS_TEXT, s, strlen(s)); }

static int binary(dt_media *m, const unsigned char *b, size_t n)
{
  return dt_media_vonage.on_message(m, DT_WS_BINARY, (const char *)b, n);
}

static int no_event(dt_media *m)
{
  dt_media_event ev;
  return dt_media_next_event(m, &ev) != 0;
}

static void test_connected_headers_become_params(void)
{
  dt_media *m = open_at(16000);
  CHECK(!dt_media_started(m));
  CHECK_EQ_INT(text(m, CONNECTED ",\"token\":\"t-1\",\"session\":\"s-42\",\"n\":5,\"o\":{\"x\":\"y\"}}"), 0);
  const dt_media_start *s = dt_media_started(m);
  CHECK(s != NULL);
  if (s) {
    CHECK_EQ_INT(s->nparams, 2);
    CHECK_EQ_STR(s->params[0].name, "token");
    CHECK_EQ_STR(s->params[0].value, "t-1");
    CHECK_EQ_STR(s->params[1].name, "session");
    CHECK_EQ_STR(s->params[1].value, "s-42");
    CHECK_EQ_STR(s->call_id, "");
    CHECK_EQ_STR(s->stream_id, "");
  }
  CHECK_EQ_INT(text(m, CONNECTED ",\"token\":\"other\"}"), 0); /* a repeat changes nothing */
  CHECK_EQ_STR(dt_media_started(m)->params[0].value, "t-1");
  dt_media_release(m);
}

static void test_frames_are_little_endian_pcm(void)
{
  dt_media *m = open_at(16000);
  CHECK_EQ_INT(text(m, CONNECTED "}"), 0);
  unsigned char frame[640];
  for (int i = 0; i < 320; i++) {
    uint16_t v = (uint16_t)(int16_t)(i * 97 - 16000);
    frame[2 * i] = (unsigned char)(v & 0xff);
    frame[2 * i + 1] = (unsigned char)(v >> 8);
  }
  CHECK_EQ_INT(binary(m, frame, sizeof frame), 0);
  dt_media_event ev;
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_AUDIO);
  CHECK_EQ_INT(ev.samples, 320);
  int same = 1;
  for (int i = 0; i < 320; i++) same = same && ev.pcm[i] == (int16_t)(i * 97 - 16000);
  CHECK(same);
  CHECK_EQ_INT(binary(m, frame, 6), 0); /* a short even frame is taken as it is */
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.samples, 3);
  CHECK_EQ_INT(ev.pcm[2], 2 * 97 - 16000);
  CHECK_EQ_INT(binary(m, frame, 0), 0);
  CHECK(no_event(m));
  dt_media_release(m);
}

static void test_flow_at_8k_gets_resampled_frames(void)
{
  dt_media *m = open_at(8000);
  unsigned char frame[640] = { 0 };
  CHECK_EQ_INT(text(m, CONNECTED "}"), 0);
  CHECK_EQ_INT(binary(m, frame, sizeof frame), 0);
  dt_media_event ev;
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.samples, 160);
  dt_media_release(m);
}

static void test_dtmf_notify_and_ignored_events(void)
{
  dt_media *m = open_at(16000);
  CHECK_EQ_INT(text(m, CONNECTED "}"), 0);
  dt_media_event ev;
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:dtmf\",\"digit\":\"5\",\"duration\":260}"), 0);
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_DTMF);
  CHECK_EQ_STR(ev.text, "5");
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:notify\",\"payload\":{\"mark\":\"greeting\"}}"), 0);
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_MARK);
  CHECK_EQ_STR(ev.text, "greeting");
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:notify\",\"payload\":{\"other\":1}}"), 0);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:notify\"}"), 0);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:cleared\"}"), 0);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:new-thing\",\"x\":[1,2]}"), 0);
  CHECK_EQ_INT(text(m, "{\"no_event\":true}"), 0);
  CHECK(no_event(m));
  dt_media_release(m);
}

static void test_refusals(void)
{
  unsigned char frame[642] = { 0 };
  dt_media *m = open_at(16000);
  CHECK_EQ_INT(binary(m, frame, 640), -1); /* audio before websocket:connected */
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:connected\",\"content-type\":\"audio/l16;rate=8000\"}"), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:connected\"}"), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:connected\",\"content-type\":7}"), -1);
  CHECK_EQ_INT(text(m, CONNECTED ",\"k\":\"" "0123456789012345678901234567890123456789012345678901234567890123"
                               "0123456789012345678901234567890123456789012345678901234567890123\"}"), -1);
  CHECK_EQ_INT(text(m, CONNECTED ",\"0123456789012345678901234567890123\":\"v\"}"), -1);
  CHECK_EQ_INT(text(m, CONNECTED ",\"a\":\"1\",\"b\":\"2\",\"c\":\"3\",\"d\":\"4\",\"e\":\"5\",\"f\":\"6\",\"g\":\"7\",\"h\":\"8\",\"i\":\"9\"}"), -1);
  CHECK(!dt_media_started(m)); /* every refusal above left the stream unstarted */
  CHECK_EQ_INT(text(m, "not json"), -1);
  CHECK_EQ_INT(text(m, "[\"websocket:connected\"]"), -1);
  CHECK_EQ_INT(text(m, CONNECTED "}"), 0);
  CHECK_EQ_INT(binary(m, frame, 639), -1);
  CHECK_EQ_INT(binary(m, frame, 642), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:dtmf\"}"), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:dtmf\",\"digit\":\"12\"}"), -1);
  CHECK_EQ_INT(text(m, "{\"event\":\"websocket:dtmf\",\"digit\":5}"), -1);
  char *big = malloc(9000);
  if (big) {
    memset(big, ' ', 9000);
    memcpy(big, "{\"event\":\"websocket:cleared\"}", 29);
    CHECK_EQ_INT(dt_media_vonage.on_message(m, DT_WS_TEXT, big, 9000), -1);
    free(big);
  }
  CHECK(no_event(m));
  dt_media_release(m);
}

TEST_MAIN(TEST(test_connected_headers_become_params), TEST(test_frames_are_little_endian_pcm),
          TEST(test_flow_at_8k_gets_resampled_frames), TEST(test_dtmf_notify_and_ignored_events), TEST(test_refusals))
