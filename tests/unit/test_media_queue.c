/* The call's event queue and playback marks (media.c), on sessions without a socket: audio
 * before the start is dropped (Twilio's adapter), a full queue loses stale audio but keeps
 * DTMF, and a flow woken by a mark may clear the playback at once. */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "media.h"
#include "media_json.h"
#include "media_twilio.h"
#include "testlib.h"

#define TWILIO_START "{\"event\":\"start\",\"streamSid\":\"MZ1\",\"start\":{\"streamSid\":\"MZ1\",\"callSid\":\"CA1\"}}"
/* one 20 ms mu-law frame of 0xff (silence), base64 */
#define FRAME_B64 "////////////////////////////////////////////////////////////////////////////////" \
                  "////////////////////////////////////////////////////////////////////////////////" \
                  "/////////////////////////////////////////////////////w=="
#define TWILIO_MEDIA "{\"event\":\"media\",\"streamSid\":\"MZ1\",\"media\":{\"track\":\"inbound\",\"payload\":\"" FRAME_B64 "\"}}"
#define TWILIO_DTMF "{\"event\":\"dtmf\",\"streamSid\":\"MZ1\",\"dtmf\":{\"track\":\"inbound_track\",\"digit\":\"7\"}}"

static int text(dt_media *m, const char *s)
{
  return dt_media_adapter_of(m)->on_message(m, DT_WS_TEXT, s, strlen(s));
}

static dt_media *open_twilio(void)
{
  dt_media *m = dt_media_open(&dt_media_twilio, 8000);
  if (m) dt_media_subscribe(m, 1, NULL, NULL);
  return m;
}

static void test_audio_before_start_is_dropped(void)
{
  dt_media *m = open_twilio();
  CHECK(m != NULL);
  if (!m) return;
  dt_media_event ev;
  CHECK_EQ_INT(text(m, TWILIO_MEDIA), 0);
  CHECK(dt_media_next_event(m, &ev) != 0);
  CHECK_EQ_INT(text(m, TWILIO_START), 0);
  CHECK_EQ_INT(text(m, TWILIO_MEDIA), 0);
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_AUDIO);
  CHECK_EQ_INT(ev.samples, 160);
  dt_media_release(m);
}

static void test_full_queue_keeps_dtmf(void)
{
  dt_media *m = open_twilio();
  CHECK(m != NULL);
  if (!m) return;
  CHECK_EQ_INT(text(m, TWILIO_START), 0);
  CHECK_EQ_INT(text(m, TWILIO_DTMF), 0);
  const int frames = 100; /* far more than the queue holds: the flow is busy elsewhere */
  for (int i = 0; i < frames; i++) CHECK_EQ_INT(text(m, TWILIO_MEDIA), 0);
  dt_media_event ev;
  CHECK_EQ_INT(dt_media_next_event(m, &ev), 0);
  CHECK_EQ_INT(ev.kind, DT_MEDIA_DTMF);
  CHECK_EQ_STR(ev.text, "7");
  int audio = 0;
  while (dt_media_next_event(m, &ev) == 0) {
    CHECK_EQ_INT(ev.kind, DT_MEDIA_AUDIO);
    audio++;
  }
  CHECK(audio > 0);
  CHECK_EQ_INT((int)dt_media_dropped(m), frames - audio);
  dt_media_release(m);
}

/* ---- marks: a flow woken by a mark clears the playback ---- */

static struct {
  char seen[8][DT_MEDIA_MAX_TEXT];
  int n, cleared;
} flow;

/* What a flow does in its recv loop: reads every event; on mark "a", barge-in (clear). */
static void flow_woken(void *ud, dt_media *m)
{
  (void)ud;
  dt_media_event ev;
  while (dt_media_next_event(m, &ev) == 0) {
    if (ev.kind != DT_MEDIA_MARK || flow.n == 8) continue;
    snprintf(flow.seen[flow.n++], sizeof flow.seen[0], "%s", ev.text);
    if (strcmp(ev.text, "a") == 0 && !flow.cleared) {
      flow.cleared = 1;
      dt_media_clear(m);
    }
  }
}

static void stop_loop(uv_timer_t *t) { uv_stop(t->loop); }

static void test_clear_from_a_reached_mark(void)
{
  char err[160];
  dt_media_json_desc d = {
    .name = "nomarks", .encoding = DT_MEDIA_JSON_MULAW, .rate = 8000, .event_key = "event",
    .start = { "start", "stream_id", NULL, NULL },
    .media = { "media", "media.payload" },
    .stop = { "stop" },
  }; /* no outbound mark: marks are reported by dialtone itself when their audio is sent */
  cJSON *out_media = cJSON_Parse("{\"event\":\"media\",\"media\":{\"payload\":\"$payload\"}}");
  d.out_media = out_media;
  dt_media_adapter *ad = dt_media_json_new(&d, err, sizeof err); /* compiles it to text */
  cJSON_Delete(out_media);
  CHECK_EQ_STR(err, "");
  dt_media *m = ad ? dt_media_open(ad, 8000) : NULL;
  if (!m) {
    dt_media_json_free(ad);
    return;
  }
  memset(&flow, 0, sizeof flow);
  dt_media_subscribe(m, 1, flow_woken, NULL);
  CHECK_EQ_INT(text(m, "{\"event\":\"start\",\"stream_id\":\"S\"}"), 0);
  int16_t frame[160] = { 0 };
  CHECK_EQ_INT(dt_media_play(m, frame, 160), 0);
  CHECK_EQ_INT(dt_media_mark(m, "a"), 0);
  CHECK_EQ_INT(dt_media_mark(m, "b"), 0);
  CHECK_EQ_INT(dt_media_play(m, frame, 160), 0);
  CHECK_EQ_INT(dt_media_mark(m, "c"), 0);
  uv_timer_t limit; /* the playback clock does not hold the loop: this does, for 300 ms */
  uv_timer_init(uv_default_loop(), &limit);
  uv_timer_start(&limit, stop_loop, 300, 0);
  uv_run(uv_default_loop(), UV_RUN_DEFAULT);
  CHECK_EQ_INT(flow.n, 3);
  CHECK_EQ_STR(flow.seen[0], "a");
  CHECK_EQ_STR(flow.seen[1], "b"); /* reported by the clear, as a carrier does */
  CHECK_EQ_STR(flow.seen[2], "c");
  CHECK_EQ_INT((int)dt_media_queued(m), 0);
  uv_close((uv_handle_t *)&limit, NULL);
  uv_run(uv_default_loop(), UV_RUN_NOWAIT);
  dt_media_release(m);
}

TEST_MAIN(TEST(test_audio_before_start_is_dropped), TEST(test_full_queue_keeps_dtmf),
          TEST(test_clear_from_a_reached_mark))
