#include "media_record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "paths.h"
#include "wav.h"

#define MAX_NAME 128
#define HEADER 44          /* a PCM16 WAV header: RIFF size at 4, data size at 40 */
#define MAX_DATA (UINT32_MAX - HEADER) /* the RIFF sizes are 32-bit */

typedef struct {
  int fd;
  char name[MAX_NAME + 1];
  uint64_t data_bytes;     /* written or buffered */
  size_t len, cap;         /* bytes buffered: up to a second of audio */
  uint8_t buf[];
} recorder;

static char data_dir[1024];

void dt_media_set_data_dir(const char *dir) { snprintf(data_dir, sizeof data_dir, "%s", dir); }

static int valid_name(const char *name)
{
  size_t n = strlen(name);
  if (n <= 4 || n > MAX_NAME || strcmp(name + n - 4, ".wav") != 0 || strstr(name, "..")) return 0;
  return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == n;
}

static int write_all(int fd, const uint8_t *p, size_t len, off_t at)
{
  while (len) {
    ssize_t w = pwrite(fd, p, len, at);
    if (w < 0 && errno == EINTR) continue;
    if (w == 0) errno = EIO;
    if (w <= 0) return -1;
    p += w;
    len -= (size_t)w;
    at += w;
  }
  return 0;
}

static int flush(recorder *r)
{
  off_t at = (off_t)(HEADER + r->data_bytes - r->len);
  int rc = write_all(r->fd, r->buf, r->len, at);
  if (rc != 0) r->data_bytes -= r->len; /* the header then counts what the file holds */
  r->len = 0;
  return rc;
}

static void put32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Writes what is buffered, patches the sizes and closes the file. */
static void finalise(recorder *r)
{
  uint8_t size[4];
  int rc = flush(r);
  put32(size, (uint32_t)(HEADER - 8 + r->data_bytes));
  if (rc == 0) rc = write_all(r->fd, size, 4, 4);
  put32(size, (uint32_t)r->data_bytes);
  if (rc == 0) rc = write_all(r->fd, size, 4, 40);
  if (close(r->fd) != 0) rc = -1;
  if (rc != 0)
    dt_log(DT_LOG_WARN, "call:record: could not finish the recording", "file", r->name, "error", strerror(errno), NULL);
  free(r);
}

static void stop_on(dt_media *m, recorder *r, const char *why)
{
  dt_log(DT_LOG_WARN, "call:record: recording stopped", "file", r->name, "reason", why, NULL);
  dt_media_set_tap(m, DT_MEDIA_TAP_RECORD, NULL, NULL);
  finalise(r);
}

static void rec_audio(void *ud, dt_media *m, const int16_t *pcm, size_t n)
{
  recorder *r = ud;
  size_t bytes = 2 * n;
  if (r->data_bytes + bytes > MAX_DATA || bytes > r->cap) {
    stop_on(m, r, "the WAV size limit (4 GiB) was reached");
    return;
  }
  if (bytes > r->cap - r->len && flush(r) != 0) {
    stop_on(m, r, strerror(errno));
    return;
  }
  for (size_t i = 0; i < n; i++) {
    r->buf[r->len++] = (uint8_t)((uint16_t)pcm[i] & 0xff);
    r->buf[r->len++] = (uint8_t)((uint16_t)pcm[i] >> 8);
    r->data_bytes += 2;
  }
}

static void rec_event(void *ud, dt_media *m, dt_media_event_kind kind, const char *text)
{
  (void)m;
  (void)text;
  if (kind == DT_MEDIA_STOP) finalise(ud); /* the call ends; media removes the tap */
}

static const dt_media_tap record_tap = { rec_audio, rec_event };

static int fail(char *err, size_t errlen, const char *msg, const char *detail)
{
  snprintf(err, errlen, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
  return -1;
}

/* Creates the file with a header whose sizes are filled in by finalise. */
static int open_file(const char *name, int rate, char *err, size_t errlen)
{
  char dir[sizeof data_dir + 16], path[sizeof dir + MAX_NAME + 2];
  uint8_t header[HEADER];
  size_t hlen;
  snprintf(dir, sizeof dir, "%s/recordings", data_dir);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (dt_paths_mkdirs(dir) != 0) return fail(err, errlen, "cannot create the recordings directory", strerror(errno));
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return fail(err, errlen, "cannot create the recording", strerror(errno));
  if (dt_wav_write(NULL, 0, (uint32_t)rate, DT_WAV_PCM16, header, sizeof header, &hlen) != 0 || hlen != HEADER ||
      write_all(fd, header, hlen, 0) != 0) {
    close(fd);
    return fail(err, errlen, "cannot write the recording", strerror(errno));
  }
  return fd;
}

int dt_media_record_start(dt_media *m, const char *name, char *err, size_t errlen)
{
  if (!valid_name(name))
    return fail(err, errlen, "name must be [A-Za-z0-9_.-]+ ending in .wav (at most 128 bytes, no \"..\")", NULL);
  if (!data_dir[0]) return fail(err, errlen, "recording needs a data directory (dialtone serve)", NULL);
  if (dt_media_ended(m)) return fail(err, errlen, "ended", NULL);
  dt_media_record_stop(m); /* first: the new file may have the same name */
  size_t cap = 2 * (size_t)dt_media_rate(m); /* one second */
  recorder *r = malloc(sizeof *r + cap);
  if (!r) return fail(err, errlen, "out of memory", NULL);
  r->fd = open_file(name, dt_media_rate(m), err, errlen);
  if (r->fd < 0) {
    free(r);
    return -1;
  }
  snprintf(r->name, sizeof r->name, "%s", name);
  r->data_bytes = 0;
  r->len = 0;
  r->cap = cap;
  dt_media_set_tap(m, DT_MEDIA_TAP_RECORD, &record_tap, r);
  return 0;
}

void dt_media_record_stop(dt_media *m)
{
  recorder *r = dt_media_tap_ud(m, DT_MEDIA_TAP_RECORD);
  if (!r) return;
  dt_media_set_tap(m, DT_MEDIA_TAP_RECORD, NULL, NULL);
  finalise(r);
}
