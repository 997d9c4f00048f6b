/* WAV (RIFF/WAVE) read and write for mono PCM16, A-law and mu-law, from and to memory.
 * Parsing is bounded by the given length everywhere; unknown chunks are skipped. */
#ifndef DT_WAV_H
#define DT_WAV_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DT_WAV_PCM16 = 1, DT_WAV_ALAW = 6, DT_WAV_ULAW = 7 } dt_wav_format;

#define DT_WAV_MAX_RATE 192000
#define DT_WAV_MAX_SAMPLES (64u * 1024 * 1024) /* about 70 minutes at 16 kHz */

enum {
  DT_WAV_ETRUNCATED = -1, DT_WAV_ENOTWAV = -2, DT_WAV_ENOFMT = -3, DT_WAV_EFORMAT = -4,
  DT_WAV_ECHANNELS = -5, DT_WAV_EBITS = -6, DT_WAV_EALIGN = -7, DT_WAV_ERATE = -8,
  DT_WAV_ENODATA = -9, DT_WAV_ETOOBIG = -10, DT_WAV_ESPACE = -11, DT_WAV_EDUP = -12,
};

typedef struct {
  dt_wav_format format;
  uint32_t rate;
  unsigned channels;
  const uint8_t *data; /* inside the parsed buffer */
  size_t samples;      /* whole samples in data (a trailing partial sample is ignored) */
} dt_wav_info;

/* Parses a WAV file held in buf. Returns 0, or a DT_WAV_E* code (see dt_wav_strerror). */
int dt_wav_parse(const uint8_t *buf, size_t len, dt_wav_info *info);
/* Decodes the parsed samples to PCM16; out has room for info->samples. */
void dt_wav_decode(const dt_wav_info *info, int16_t *out);
/* The file size dt_wav_write produces for n samples, or 0 when n is over the cap. */
size_t dt_wav_size(dt_wav_format format, size_t n);
/* Writes a WAV file of n PCM16 samples, encoded as format. Returns 0 with *out_len, or
 * DT_WAV_ESPACE / DT_WAV_ETOOBIG / DT_WAV_ERATE / DT_WAV_EFORMAT. */
int dt_wav_write(const int16_t *pcm, size_t n, uint32_t rate, dt_wav_format format,
                 uint8_t *out, size_t cap, size_t *out_len);
const char *dt_wav_strerror(int err);
#endif
