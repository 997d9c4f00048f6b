/* A call's media session: a carrier's WebSocket media stream turned into the canonical audio
 * of the call-flow API (PCM16 mono, 20 ms frames, 8000 or 16000 Hz as the flow chooses) and
 * back. The carrier's framing lives in an adapter (media_twilio.c, ...); everything per frame
 * is C: parse, base64, G.711, resampling, echo, pacing of playback.
 *
 * Input from the carrier goes to whichever consumers are on: C echo, taps (a recording, a
 * bridge), the flow's event queue (audio frames only once the flow reads them). Output is a
 * playback queue paced at real time by one shared 20 ms clock. */
#ifndef DT_MEDIA_H
#define DT_MEDIA_H

#include <stddef.h>
#include <stdint.h>

#include "ws.h"

typedef struct dt_media dt_media;
typedef struct dt_media_adapter dt_media_adapter;

/* A carrier's media framing. */
struct dt_media_adapter {
  const char *name;
  int wire_rate;        /* sample rate on the wire */
  size_t state_size;    /* bytes of per-session adapter state (dt_media_adapter_state) */
  /* One message from the carrier: calls the dt_media_in_* functions. Returns 0, or -1 for a
   * message that breaks the protocol (the session logs it and ends the call). */
  int (*on_message)(dt_media *m, int kind, const char *data, size_t len);
  /* Sends wire-rate PCM (one 20 ms frame) to the carrier. */
  int (*send_audio)(dt_media *m, const int16_t *pcm, size_t n);
  /* Places a mark after the audio sent so far (the carrier reports it back when played);
   * NULL if the carrier has no marks (then it is reported when sent). */
  int (*send_mark)(dt_media *m, const char *name);
  /* Tells the carrier to drop audio it has buffered; NULL if it cannot. */
  int (*send_clear)(dt_media *m);
  /* NULL for a static adapter. Otherwise the adapter was built for one session (a protocol
   * described in Lua): the session owns it once dt_media_accept/dt_media_open succeeds and
   * calls this when it is freed. */
  void (*release)(const dt_media_adapter *ad);
};

typedef enum { DT_MEDIA_AUDIO, DT_MEDIA_DTMF, DT_MEDIA_MARK, DT_MEDIA_STOP } dt_media_event_kind;

#define DT_MEDIA_MAX_FRAME 320 /* samples in 20 ms at 16 kHz */
#define DT_MEDIA_MAX_TEXT 64

typedef struct {
  dt_media_event_kind kind;
  char text[DT_MEDIA_MAX_TEXT]; /* DTMF digit or mark name */
  size_t samples;
  int16_t pcm[DT_MEDIA_MAX_FRAME];
} dt_media_event;

#define DT_MEDIA_MAX_PARAMS 8

/* What the carrier says about the call when its stream starts. */
typedef struct {
  char call_id[65];
  char stream_id[65];
  struct {
    char name[32];
    char value[128];
  } params[DT_MEDIA_MAX_PARAMS]; /* custom parameters (e.g. the run's media token) */
  size_t nparams;
} dt_media_start;

/* Called when an event is queued for the flow (so a waiting flow can be woken). */
typedef void (*dt_media_notify)(void *ud, dt_media *m);

/* Accepts the media WebSocket on the request's connection. rate: the flow's rate (8000 or
 * 16000). The session holds one reference for its connection and one for its creator
 * (released with dt_media_release). Returns NULL if the handshake was refused (answered). */
dt_media *dt_media_accept(dt_http_conn *conn, const dt_http_request *req, const dt_media_adapter *ad,
                          int rate);
void dt_media_release(dt_media *m);
/* A session with no WebSocket, for unit tests and fuzzers: feed it with ad->on_message and
 * read what it made of the input with dt_media_next_event; output to the carrier is dropped.
 * Holds one reference. Returns NULL for a bad rate or out of memory. */
dt_media *dt_media_open(const dt_media_adapter *ad, int rate);

/* ---- for adapters ---- */
void *dt_media_adapter_state(dt_media *m);
const dt_media_adapter *dt_media_adapter_of(const dt_media *m);
dt_ws *dt_media_ws(dt_media *m);
void dt_media_in_start(dt_media *m, const dt_media_start *start);
void dt_media_in_audio(dt_media *m, const int16_t *pcm, size_t n); /* wire rate, one frame; dropped before the start */
void dt_media_in_dtmf(dt_media *m, char digit);
void dt_media_in_mark(dt_media *m, const char *name);
void dt_media_in_stop(dt_media *m);

/* ---- for the call-flow API ---- */
/* The stream's start, or NULL before the carrier sent it. Audio is held until then. */
const dt_media_start *dt_media_started(const dt_media *m);
int dt_media_rate(const dt_media *m);
int dt_media_ended(const dt_media *m);
/* Events (DTMF, marks, stop) are queued from the start; audio frames only once a flow
 * subscribes with_audio. notify runs on each new event, and when the stream starts. */
void dt_media_subscribe(dt_media *m, int with_audio, dt_media_notify notify, void *ud);
/* Takes the oldest queued event. Returns 0, or -1 when none is queued. */
int dt_media_next_event(dt_media *m, dt_media_event *ev);
/* Queues flow-rate PCM for paced playback. Returns 0 or -1 (out of memory / ended). */
int dt_media_play(dt_media *m, const int16_t *pcm, size_t n);
int dt_media_mark(dt_media *m, const char *name);
void dt_media_clear(dt_media *m);
/* Echoes the caller's audio back in C (no Lua per frame) until the call ends. */
void dt_media_echo(dt_media *m, int on);
/* Samples queued for playback and not yet sent. */
size_t dt_media_queued(const dt_media *m);
/* Something that follows the call in C, without Lua per frame (a recording, a bridge): it
 * sees the caller's audio at the flow's rate and every event (DTMF, marks, stop) before the
 * flow does. Stop is the last event: the tap is removed right after it. */
typedef struct {
  void (*audio)(void *ud, dt_media *m, const int16_t *pcm, size_t n);
  void (*event)(void *ud, dt_media *m, dt_media_event_kind kind, const char *text);
} dt_media_tap;

typedef enum { DT_MEDIA_TAP_RECORD, DT_MEDIA_TAP_BRIDGE, DT_MEDIA_TAPS } dt_media_tap_slot;

/* Puts a tap in a slot (replacing what was there), or removes it with tap NULL. Returns 0, or
 * -1 when adding to a call that has ended. */
int dt_media_set_tap(dt_media *m, dt_media_tap_slot slot, const dt_media_tap *tap, void *ud);
/* The ud of the tap in a slot, or NULL. */
void *dt_media_tap_ud(const dt_media *m, dt_media_tap_slot slot);
/* Ends the call: closes the media stream (normal closure). */
void dt_media_hangup(dt_media *m);
/* Ends the call as refused: closes the media stream with 1008 (policy violation) and the
 * reason (sent only if it is UTF-8 of at most 123 bytes, as a close frame allows). */
void dt_media_refuse(dt_media *m, const char *reason);
/* Events dropped because the flow did not read them in time: audio first; DTMF, marks and
 * the stop only from a queue that holds no audio. */
uint64_t dt_media_dropped(const dt_media *m);
#endif
