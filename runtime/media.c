#include "media.h"

#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "log.h"
#include "resample.h"

#define FRAME_MS 20
#define QUEUE_EVENTS 32      /* 640 ms of audio waiting for a flow that reads slowly */
#define MAX_CATCH_UP 3       /* frames sent in one tick when the clock fell behind */

typedef struct {
  size_t at;                 /* playback position (samples) the mark follows */
  char name[DT_MEDIA_MAX_TEXT];
} pending_mark;

struct dt_media {
  const dt_media_adapter *ad;
  dt_ws *ws;
  int refs;
  int rate;
  int ended, stopped, echo, queue_audio;
  dt_resampler in_rs, out_rs; /* wire -> flow and flow -> wire when the rates differ */
  dt_media_start *start;      /* NULL until the carrier starts the stream */
  dt_media_event *queue;      /* ring of QUEUE_EVENTS */
  size_t q_head, q_len;
  dt_media_notify notify;
  void *notify_ud;
  uint64_t dropped;
  int16_t *play;              /* flow-rate PCM waiting to be paced out */
  size_t play_len, play_pos, play_cap;
  pending_mark *marks;
  size_t nmarks, marks_cap;
  struct {
    const dt_media_tap *tap;
    void *ud;
  } taps[DT_MEDIA_TAPS];
  uint64_t next_due;          /* loop time (ms) of the next frame */
  struct dt_media *pnext, *pprev;
  int pacing;
  _Alignas(max_align_t) unsigned char state[]; /* the adapter's */
};

/* ---- the shared 20 ms playback clock ---- */

static struct {
  uv_timer_t timer;
  int ready;
  dt_media *head;
} pacer;

static void pacer_tick(uv_timer_t *t);

static void pacer_add(dt_media *m)
{
  if (m->pacing || !m->start) return; /* nothing goes out before the stream has started */
  if (!pacer.ready) {
    uv_timer_init(uv_default_loop(), &pacer.timer);
    uv_unref((uv_handle_t *)&pacer.timer); /* the clock alone does not keep the loop alive */
    pacer.ready = 1;
  }
  m->pacing = 1;
  m->pprev = NULL;
  m->pnext = pacer.head;
  if (pacer.head) pacer.head->pprev = m;
  pacer.head = m;
  /* Audio that trickles in (a bridge's agent) is paced too: no frame before the last one's slot. */
  uint64_t now = uv_now(uv_default_loop());
  if (m->next_due < now) m->next_due = now;
  if (!uv_is_active((uv_handle_t *)&pacer.timer)) uv_timer_start(&pacer.timer, pacer_tick, 0, FRAME_MS);
}

static void pacer_remove(dt_media *m)
{
  if (!m->pacing) return;
  m->pacing = 0;
  if (m->pprev) m->pprev->pnext = m->pnext;
  else pacer.head = m->pnext;
  if (m->pnext) m->pnext->pprev = m->pprev;
  if (!pacer.head) uv_timer_stop(&pacer.timer);
}

/* ---- events for the flow ---- */

static dt_media_event *queued(dt_media *m, size_t i) { return &m->queue[(m->q_head + i) % QUEUE_EVENTS]; }

/* Makes room in a full queue: the oldest audio goes (live audio beats stale), while DTMF, marks
 * and the stop stay for the flow; only a queue with no audio in it loses its oldest event. */
static void drop_one(dt_media *m)
{
  size_t victim = 0;
  while (victim < m->q_len && queued(m, victim)->kind != DT_MEDIA_AUDIO) victim++;
  if (victim == m->q_len) victim = 0;
  for (size_t i = victim; i > 0; i--) *queued(m, i) = *queued(m, i - 1);
  m->q_head = (m->q_head + 1) % QUEUE_EVENTS;
  m->q_len--;
  m->dropped++;
}

/* The queue is made on first use: an echo call that never gets an event never pays for it. */
static dt_media_event *push_event(dt_media *m, dt_media_event_kind kind)
{
  if (!m->queue && !(m->queue = calloc(QUEUE_EVENTS, sizeof *m->queue))) return NULL;
  if (m->q_len == QUEUE_EVENTS) drop_one(m);
  dt_media_event *ev = queued(m, m->q_len);
  m->q_len++;
  ev->kind = kind;
  ev->text[0] = '\0';
  ev->samples = 0;
  return ev;
}

static void notify(dt_media *m)
{
  if (m->notify) m->notify(m->notify_ud, m);
}

/* A tap may remove itself (or others) from its callback: slots are read afresh each time. */
static void tap_audio(dt_media *m, const int16_t *pcm, size_t n)
{
  for (int i = 0; i < DT_MEDIA_TAPS; i++)
    if (m->taps[i].tap) m->taps[i].tap->audio(m->taps[i].ud, m, pcm, n);
}

static void tap_event(dt_media *m, dt_media_event_kind kind, const char *text)
{
  for (int i = 0; i < DT_MEDIA_TAPS; i++)
    if (m->taps[i].tap) m->taps[i].tap->event(m->taps[i].ud, m, kind, text);
}

static void push_text_event(dt_media *m, dt_media_event_kind kind, const char *text)
{
  tap_event(m, kind, text);
  dt_media_event *ev = push_event(m, kind);
  if (!ev) return;
  snprintf(ev->text, sizeof ev->text, "%s", text);
  notify(m);
}

/* ---- output ---- */

static void send_flow_pcm(dt_media *m, const int16_t *pcm, size_t n)
{
  if (!m->ws) return;
  if (m->rate == m->ad->wire_rate) {
    m->ad->send_audio(m, pcm, n);
    return;
  }
  int16_t wire[2 * DT_MEDIA_MAX_FRAME];
  size_t wn;
  if (dt_resampler_process(&m->out_rs, pcm, n, wire, sizeof wire / sizeof *wire, &wn) == 0 && wn)
    m->ad->send_audio(m, wire, wn);
}

static void reach_mark(dt_media *m, const char *name)
{
  if (m->ad->send_mark && m->ws) m->ad->send_mark(m, name);
  else push_text_event(m, DT_MEDIA_MARK, name);
}

/* Marks whose audio has been sent go to the carrier (which reports them when played). Each is
 * taken off the list before it is reported: reporting can wake the flow at once, and the flow
 * may then clear the playback (and its marks) or place new ones. */
static void pass_marks(dt_media *m)
{
  while (m->nmarks && m->marks[0].at <= m->play_pos) {
    char name[sizeof m->marks[0].name];
    memcpy(name, m->marks[0].name, sizeof name);
    m->nmarks--;
    memmove(m->marks, m->marks + 1, m->nmarks * sizeof *m->marks);
    reach_mark(m, name);
  }
}

static void compact_playback(dt_media *m)
{
  if (m->play_pos < m->play_cap / 2) return;
  size_t left = m->play_len - m->play_pos;
  memmove(m->play, m->play + m->play_pos, left * sizeof *m->play);
  for (size_t i = 0; i < m->nmarks; i++) m->marks[i].at -= m->play_pos;
  m->play_len = left;
  m->play_pos = 0;
}

/* One 20 ms frame of queued audio (the last one padded with silence). */
static void send_frame(dt_media *m)
{
  size_t frame = (size_t)m->rate / (1000 / FRAME_MS);
  size_t avail = m->play_len - m->play_pos, n = avail < frame ? avail : frame;
  int16_t pcm[DT_MEDIA_MAX_FRAME] = { 0 };
  memcpy(pcm, m->play + m->play_pos, n * sizeof *pcm);
  m->play_pos += n;
  if (n) send_flow_pcm(m, pcm, frame);
  pass_marks(m);
  compact_playback(m);
}

static void pacer_tick(uv_timer_t *t)
{
  uint64_t now = uv_now(t->loop);
  dt_media *next;
  for (dt_media *m = pacer.head; m; m = next) {
    next = m->pnext;
    for (int i = 0; i < MAX_CATCH_UP && m->next_due <= now && m->play_pos < m->play_len; i++) {
      send_frame(m);
      m->next_due += FRAME_MS;
    }
    if (m->next_due + FRAME_MS * MAX_CATCH_UP < now) m->next_due = now; /* far behind: resync */
    if (m->play_pos >= m->play_len) pass_marks(m);
    if (m->play_pos >= m->play_len) pacer_remove(m); /* unless a flow woken by a mark played more */
  }
}

/* ---- input from the carrier ---- */

void dt_media_in_start(dt_media *m, const dt_media_start *start)
{
  if (m->start || !(m->start = malloc(sizeof *m->start))) return;
  *m->start = *start;
  if (m->play_pos < m->play_len) pacer_add(m);
  notify(m);
}

const dt_media_start *dt_media_started(const dt_media *m) { return m->start; }

static void deliver_audio(dt_media *m, const int16_t *pcm, size_t n)
{
  if (m->echo) send_flow_pcm(m, pcm, n);
  tap_audio(m, pcm, n);
  if (!m->queue_audio || m->ended) return;
  dt_media_event *ev = push_event(m, DT_MEDIA_AUDIO);
  if (!ev) return;
  memcpy(ev->pcm, pcm, n * sizeof *pcm);
  ev->samples = n;
  notify(m);
}

void dt_media_in_audio(dt_media *m, const int16_t *pcm, size_t n)
{
  if (!m->start) return; /* audio before the stream's start belongs to no one yet */
  size_t chunk = (size_t)m->ad->wire_rate / (1000 / FRAME_MS);
  for (size_t off = 0; off < n && !m->ended; off += chunk) {
    size_t k = n - off < chunk ? n - off : chunk;
    if (m->rate == m->ad->wire_rate) {
      deliver_audio(m, pcm + off, k);
      continue;
    }
    int16_t flow[2 * DT_MEDIA_MAX_FRAME];
    size_t fn;
    if (dt_resampler_process(&m->in_rs, pcm + off, k, flow, sizeof flow / sizeof *flow, &fn) == 0 && fn)
      deliver_audio(m, flow, fn > DT_MEDIA_MAX_FRAME ? DT_MEDIA_MAX_FRAME : fn);
  }
}

void dt_media_in_dtmf(dt_media *m, char digit)
{
  char text[2] = { digit, '\0' };
  push_text_event(m, DT_MEDIA_DTMF, text);
}

void dt_media_in_mark(dt_media *m, const char *name) { push_text_event(m, DT_MEDIA_MARK, name); }

static void end_session(dt_media *m)
{
  if (m->ended) return;
  m->ended = 1;
  m->echo = 0;
  pacer_remove(m);
  tap_event(m, DT_MEDIA_STOP, "");
  memset(m->taps, 0, sizeof m->taps);
  if (push_event(m, DT_MEDIA_STOP)) notify(m);
}

void dt_media_in_stop(dt_media *m)
{
  m->stopped = 1;
  end_session(m);
}

/* ---- the WebSocket ---- */

static void ws_message(void *ud, dt_ws *ws, int kind, const char *data, size_t len)
{
  dt_media *m = ud;
  m->ws = ws;
  if (m->ended) return;
  if (m->ad->on_message(m, kind, data, len) != 0) {
    dt_log(DT_LOG_WARN, "media stream: message breaks the carrier protocol; ending the call",
           "carrier", m->ad->name, NULL);
    dt_media_hangup(m);
  }
}

static void ws_closed(void *ud, dt_ws *ws, int code, const char *reason)
{
  (void)ws;
  (void)code;
  (void)reason;
  dt_media *m = ud;
  m->ws = NULL;
  end_session(m);
  dt_media_release(m);
}

static const dt_ws_handlers media_handlers = { ws_message, ws_closed };

dt_media *dt_media_open(const dt_media_adapter *ad, int rate)
{
  if (rate != 8000 && rate != 16000) return NULL;
  dt_media *m = calloc(1, sizeof *m + ad->state_size);
  if (!m) return NULL;
  m->ad = ad;
  m->rate = rate;
  m->refs = 1;
  if (rate != ad->wire_rate) {
    dt_resampler_init(&m->in_rs, ad->wire_rate, rate);
    dt_resampler_init(&m->out_rs, rate, ad->wire_rate);
  }
  return m;
}

dt_media *dt_media_accept(dt_http_conn *conn, const dt_http_request *req, const dt_media_adapter *ad, int rate)
{
  dt_media *m = dt_media_open(ad, rate);
  if (!m) return NULL;
  m->refs = 2;
  dt_ws_options opts;
  dt_ws_options_default(&opts);
  dt_ws *ws = dt_ws_accept(conn, req, NULL, &opts, &media_handlers, m);
  if (!ws) {
    free(m);
    return NULL;
  }
  if (!m->ended && !m->ws) m->ws = ws;
  return m;
}

void dt_media_release(dt_media *m)
{
  if (--m->refs > 0) return;
  pacer_remove(m);
  if (m->ad->release) m->ad->release(m->ad);
  free(m->start);
  free(m->queue);
  free(m->play);
  free(m->marks);
  free(m);
}

/* ---- the call-flow API ---- */

void *dt_media_adapter_state(dt_media *m) { return m->state; }
const dt_media_adapter *dt_media_adapter_of(const dt_media *m) { return m->ad; }
dt_ws *dt_media_ws(dt_media *m) { return m->ws; }
int dt_media_rate(const dt_media *m) { return m->rate; }
int dt_media_ended(const dt_media *m) { return m->ended; }
uint64_t dt_media_dropped(const dt_media *m) { return m->dropped; }
size_t dt_media_queued(const dt_media *m) { return m->play_len - m->play_pos; }
void dt_media_echo(dt_media *m, int on) { m->echo = on && !m->ended; }

void dt_media_subscribe(dt_media *m, int with_audio, dt_media_notify fn, void *ud)
{
  m->queue_audio = with_audio;
  m->notify = fn;
  m->notify_ud = ud;
}

int dt_media_next_event(dt_media *m, dt_media_event *ev)
{
  if (!m->q_len) return -1;
  *ev = m->queue[m->q_head];
  m->q_head = (m->q_head + 1) % QUEUE_EVENTS;
  m->q_len--;
  return 0;
}

int dt_media_play(dt_media *m, const int16_t *pcm, size_t n)
{
  if (m->ended) return -1;
  if (n > m->play_cap - m->play_len) {
    size_t cap = m->play_cap ? m->play_cap : (size_t)m->rate; /* start with a second */
    while (cap - m->play_len < n) {
      if (cap > SIZE_MAX / 4) return -1;
      cap *= 2;
    }
    int16_t *p = realloc(m->play, cap * sizeof *p);
    if (!p) return -1;
    m->play = p;
    m->play_cap = cap;
  }
  memcpy(m->play + m->play_len, pcm, n * sizeof *pcm);
  m->play_len += n;
  pacer_add(m);
  return 0;
}

int dt_media_mark(dt_media *m, const char *name)
{
  if (m->ended) return -1;
  if (m->play_pos >= m->play_len) {
    reach_mark(m, name);
    return 0;
  }
  if (m->nmarks == m->marks_cap) {
    size_t cap = m->marks_cap ? 2 * m->marks_cap : 8;
    pending_mark *p = realloc(m->marks, cap * sizeof *p);
    if (!p) return -1;
    m->marks = p;
    m->marks_cap = cap;
  }
  pending_mark *pm = &m->marks[m->nmarks++];
  pm->at = m->play_len;
  snprintf(pm->name, sizeof pm->name, "%s", name);
  return 0;
}

/* Drops queued audio; marks still pending are reported at once, as a carrier does. */
void dt_media_clear(dt_media *m)
{
  m->play_len = m->play_pos = 0;
  pacer_remove(m);
  pending_mark *marks = m->marks; /* detached: a flow woken below may place new marks */
  size_t n = m->nmarks;
  m->marks = NULL;
  m->nmarks = m->marks_cap = 0;
  if (m->ad->send_clear && m->ws) m->ad->send_clear(m);
  for (size_t i = 0; i < n; i++) push_text_event(m, DT_MEDIA_MARK, marks[i].name);
  free(marks);
}

int dt_media_set_tap(dt_media *m, dt_media_tap_slot slot, const dt_media_tap *tap, void *ud)
{
  if (tap && m->ended) return -1;
  m->taps[slot].tap = tap;
  m->taps[slot].ud = tap ? ud : NULL;
  return 0;
}

void *dt_media_tap_ud(const dt_media *m, dt_media_tap_slot slot) { return m->taps[slot].ud; }

void dt_media_hangup(dt_media *m)
{
  end_session(m);
  if (m->ws) dt_ws_close(m->ws, 1000, "hangup");
}

void dt_media_refuse(dt_media *m, const char *reason)
{
  end_session(m);
  if (m->ws) dt_ws_close(m->ws, 1008, reason);
}
