/* DTMF detection (Goertzel, 8 kHz PCM16, streaming) and generation of DTMF and pure tones.
 * The detector reports each key once per press; a press must last about 40 ms (two
 * consecutive 12.75 ms blocks), and a key is released after two blocks without it. */
#ifndef DT_DTMF_H
#define DT_DTMF_H

#include <stddef.h>
#include <stdint.h>

#define DT_DTMF_BLOCK 102          /* samples per Goertzel block at 8 kHz */
#define DT_DTMF_AMPLITUDE 0.25     /* default per-tone amplitude of generated keys */
#define DT_TONE_MAX_RATE 48000

typedef struct {
  float s1[8], s2[8];  /* Goertzel state: 4 row then 4 column frequencies */
  float energy;        /* sum of squares over the block so far */
  unsigned n;          /* samples in the block so far */
  char prev;           /* key seen in the previous block, or 0 */
  char held;           /* key reported and not yet released, or 0 */
  unsigned misses;     /* consecutive blocks without the held key */
} dt_dtmf_detector;

void dt_dtmf_init(dt_dtmf_detector *d);

/* At most this many keys can be reported by one dt_dtmf_feed of n samples. */
#define DT_DTMF_MAX_KEYS(n) ((n) / DT_DTMF_BLOCK + 1)

/* Feeds n samples at 8 kHz and writes the keys newly detected (one of 0-9 * # A-D) to keys.
 * Returns 0 with the count in *count; -1 if more than cap keys were found (the first cap
 * are written). */
int dt_dtmf_feed(dt_dtmf_detector *d, const int16_t *pcm, size_t n, char *keys, size_t cap,
                 size_t *count);

/* n samples of a sine of freq Hz at rate (8000..48000), amplitude a fraction of full scale
 * (0..1]. Returns 0, or -1 for a frequency not below rate / 2 or an argument out of range. */
int dt_tone(double freq, double amplitude, unsigned rate, int16_t *out, size_t n);

/* The length of dt_dtmf_tones' output: each key tone_ms long, gap_ms of silence between
 * keys. SIZE_MAX when it would exceed max_samples. */
size_t dt_dtmf_tones_len(size_t nkeys, unsigned rate, unsigned tone_ms, unsigned gap_ms,
                         size_t max_samples);

/* Generates keys (0-9 * # A-D, a-d accepted), each tone of the pair at amplitude [0, 0.5]
 * of full scale. Returns 0 with *out_len, -1 for an invalid key, rate or amplitude, -2 when
 * cap is too small. */
int dt_dtmf_tones(const char *keys, size_t nkeys, unsigned rate, unsigned tone_ms,
                  unsigned gap_ms, double amplitude, int16_t *out, size_t cap, size_t *out_len);
#endif
