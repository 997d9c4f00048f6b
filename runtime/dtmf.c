/* DTMF by the Goertzel algorithm over fixed 102-sample blocks (12.75 ms at 8 kHz). At that
 * length neighbouring DTMF frequencies fall near each other's response nulls, and any 40 ms
 * press covers two whole consecutive blocks (3 * 102 - 1 <= 320). Per block, a key is seen
 * when: both tones are above a floor; the strongest row and column each beat the others in
 * their group by 8 dB; twist is within 8 dB (high group weaker) / 4 dB (stronger); and the
 * two tones hold most of the block's energy (speech spreads its energy over many
 * harmonics). */
#include "dtmf.h"

#include <ctype.h>
#include <math.h>
#include <string.h>

#define NFREQ 8
#define PI 3.14159265358979323846

static const double freqs[NFREQ] = { 697, 770, 852, 941, 1209, 1336, 1477, 1633 };
static const char keypad[4][4] = { { '1', '2', '3', 'A' }, { '4', '5', '6', 'B' },
                                   { '7', '8', '9', 'C' }, { '*', '0', '#', 'D' } };

/* 2 cos(2 pi f / 8000) for each frequency. */
static const float coef[NFREQ] = { 1.70773781f, 1.64528104f, 1.56868698f, 1.47820457f,
                                   1.16410402f, 0.99637021f, 0.79861839f, 0.56853271f };

#define MIN_AMPLITUDE 400.0f /* per tone, of 32767: about -38 dBFS */
#define PEAK_RATIO 6.3f      /* 8 dB over the other tones of the group */
#define TWIST_NORMAL 6.3f    /* high group up to 8 dB weaker */
#define TWIST_REVERSE 2.5f   /* high group up to 4 dB stronger */
#define TONE_SHARE 0.8f      /* of the block's energy in the two tones */

void dt_dtmf_init(dt_dtmf_detector *d) { memset(d, 0, sizeof *d); }

static int strongest(const float *p, float *best)
{
  int k = 0;
  for (int i = 1; i < 4; i++)
    if (p[i] > p[k]) k = i;
  for (int i = 0; i < 4; i++)
    if (i != k && p[i] * PEAK_RATIO > p[k]) return -1;
  *best = p[k];
  return k;
}

/* The key in the finished block, or 0. */
static char classify(const dt_dtmf_detector *d)
{
  float p[NFREQ], row_p, col_p;
  for (int i = 0; i < NFREQ; i++)
    p[i] = d->s1[i] * d->s1[i] + d->s2[i] * d->s2[i] - coef[i] * d->s1[i] * d->s2[i];
  int row = strongest(p, &row_p), col = strongest(p + 4, &col_p);
  if (row < 0 || col < 0) return 0;
  /* A sine of amplitude A gives a power of (A N / 2)^2 and an energy of A^2 N / 2. */
  const float floor_p = MIN_AMPLITUDE * MIN_AMPLITUDE * DT_DTMF_BLOCK * DT_DTMF_BLOCK / 4.0f;
  if (row_p < floor_p || col_p < floor_p) return 0;
  if (col_p * TWIST_NORMAL < row_p || col_p > row_p * TWIST_REVERSE) return 0;
  if ((row_p + col_p) * 2.0f / DT_DTMF_BLOCK < TONE_SHARE * d->energy) return 0;
  return keypad[row][col];
}

/* Updates the press state with a finished block; returns a newly pressed key or 0. */
static char end_block(dt_dtmf_detector *d)
{
  char key = classify(d), pressed = 0;
  memset(d->s1, 0, sizeof d->s1);
  memset(d->s2, 0, sizeof d->s2);
  d->energy = 0.0f;
  d->n = 0;
  if (d->held && key == d->held) d->misses = 0;
  else if (d->held && ++d->misses >= 2) d->held = 0;
  if (key && key == d->prev && !d->held) {
    d->held = pressed = key;
    d->misses = 0;
  }
  d->prev = key;
  return pressed;
}

/* Runs the Goertzel filters over k samples (within one block). */
static void goertzel(dt_dtmf_detector *d, const int16_t *pcm, size_t k)
{
  float s1[NFREQ], s2[NFREQ], energy = d->energy;
  memcpy(s1, d->s1, sizeof s1);
  memcpy(s2, d->s2, sizeof s2);
  for (size_t t = 0; t < k; t++) {
    float x = pcm[t];
    energy += x * x;
    for (int i = 0; i < NFREQ; i++) {
      float s0 = x + coef[i] * s1[i] - s2[i];
      s2[i] = s1[i];
      s1[i] = s0;
    }
  }
  memcpy(d->s1, s1, sizeof s1);
  memcpy(d->s2, s2, sizeof s2);
  d->energy = energy;
  d->n += (unsigned)k;
}

int dt_dtmf_feed(dt_dtmf_detector *d, const int16_t *pcm, size_t n, char *keys, size_t cap,
                 size_t *count)
{
  size_t found = 0;
  int rc = 0;
  while (n > 0) {
    size_t k = DT_DTMF_BLOCK - d->n < n ? DT_DTMF_BLOCK - d->n : n;
    goertzel(d, pcm, k);
    pcm += k;
    n -= k;
    if (d->n < DT_DTMF_BLOCK) break;
    char key = end_block(d);
    if (!key) continue;
    if (found < cap) keys[found++] = key;
    else rc = -1;
  }
  *count = found;
  return rc;
}

int dt_tone(double freq, double amplitude, unsigned rate, int16_t *out, size_t n)
{
  if (rate < 8000 || rate > DT_TONE_MAX_RATE || !(freq > 0 && freq < rate / 2.0) ||
      !(amplitude >= 0 && amplitude <= 1))
    return -1;
  double w = 2.0 * PI * freq / rate, a = amplitude * 32767.0;
  for (size_t i = 0; i < n; i++) out[i] = (int16_t)lrint(a * sin(w * (double)i));
  return 0;
}

size_t dt_dtmf_tones_len(size_t nkeys, unsigned rate, unsigned tone_ms, unsigned gap_ms,
                         size_t max_samples)
{
  if (nkeys == 0) return 0;
  double total = ((double)nkeys * tone_ms + (double)(nkeys - 1) * gap_ms) * rate / 1000.0;
  if (total > (double)max_samples) return SIZE_MAX;
  return (size_t)nkeys * ((size_t)tone_ms * rate / 1000) +
         (nkeys - 1) * ((size_t)gap_ms * rate / 1000);
}

static int key_position(char key, int *row, int *col)
{
  char k = (char)toupper((unsigned char)key);
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 4; c++)
      if (k != 0 && keypad[r][c] == k) {
        *row = r;
        *col = c;
        return 0;
      }
  return -1;
}

int dt_dtmf_tones(const char *keys, size_t nkeys, unsigned rate, unsigned tone_ms,
                  unsigned gap_ms, double amplitude, int16_t *out, size_t cap, size_t *out_len)
{
  int row, col;
  for (size_t i = 0; i < nkeys; i++)
    if (key_position(keys[i], &row, &col) != 0) return -1;
  if (rate < 8000 || rate > DT_TONE_MAX_RATE || !(amplitude >= 0 && amplitude <= 0.5)) return -1;
  size_t tone = (size_t)tone_ms * rate / 1000, gap = (size_t)gap_ms * rate / 1000, o = 0;
  if (dt_dtmf_tones_len(nkeys, rate, tone_ms, gap_ms, cap) > cap) return -2;
  double a = amplitude * 32767.0;
  for (size_t i = 0; i < nkeys; i++) {
    key_position(keys[i], &row, &col);
    double wr = 2.0 * PI * freqs[row] / rate, wc = 2.0 * PI * freqs[col + 4] / rate;
    for (size_t t = 0; t < tone; t++)
      out[o++] = (int16_t)lrint(a * (sin(wr * (double)t) + sin(wc * (double)t)));
    for (size_t t = 0; i + 1 < nkeys && t < gap; t++) out[o++] = 0;
  }
  *out_len = o;
  return 0;
}
