/* 2x polyphase resampling with one half-band low-pass filter (spec/g711.md §7).
 *
 * Filter: 63-tap windowed sinc at fs = 16 kHz, h[n] = 0.5 sinc(n/2) * blackman(n), n = -31..31,
 * cut-off (-6 dB) at 4 kHz, normalised to unity DC gain. Half-band: h[0] = 0.5 and every even
 * offset is 0; the window zeroes n = +-31, so 15 distinct odd taps (n = 1..29) remain.
 * Passband 0-3.4 kHz flat within 0.03 dB; >= 51 dB stopband from 4.6 kHz.
 *
 * With x[] the input, and for down E[j] = x[2j], O[j] = x[2j+1]:
 *   down: y[m]    = 0.5 E[m-14] + sum_i h_i (O[m-15-i] + O[m-14+i])
 *   up:   y[2m]   = x[m-15],  y[2m+1] = 2 sum_i h_i (x[m-15-i] + x[m-14+i])
 * with h_i = h[2i+1], i = 0..14. Both sums are one symmetric 30-tap FIR over a contiguous
 * float buffer, computed tap by tap across a block of outputs so the inner loop vectorises. */
#include "resample.h"

#include <string.h>

#define NTAPS 15
#define SPAN (2 * NTAPS - 1) /* 29 earlier samples in each window */
#define EVEN_DELAY 14
#define BLOCK 160            /* outputs (down) or input samples (up) per inner block */
#define LANES 8              /* BLOCK is a multiple of LANES */

static const float taps[NTAPS] = {
  0.316972235f,  -0.102148960f, 0.057263373f,  -0.036900927f, 0.024969685f,
  -0.017108547f, 0.011639829f,  -0.007761143f, 0.005017222f,  -0.003110170f,
  0.001823257f,  -0.000989039f, 0.000476226f,  -0.000184366f, 0.000041179f,
};

static int16_t saturate(float v)
{
  v = v > 32767.0f ? 32767.0f : v < -32768.0f ? -32768.0f : v;
  return (int16_t)(int)(v < 0.0f ? v - 0.5f : v + 0.5f);
}

/* acc[m] += sum_i h_i (buf[m + 14 - i] + buf[m + 15 + i]) for m < k rounded up to LANES;
 * buf holds SPAN + that many. Fixed-width groups let -O2 vectorise the inner loop. */
static void fir(const float *restrict buf, float *restrict acc, size_t k)
{
  for (int i = 0; i < NTAPS; i++) {
    const float h = taps[i], *a = buf + (NTAPS - 1 - i), *b = buf + (NTAPS + i);
    for (size_t g = 0; g < k; g += LANES) {
      float *o = acc + g;
      const float *pa = a + g, *pb = b + g;
      for (int j = 0; j < LANES; j++) o[j] += h * (pa[j] + pb[j]);
    }
  }
}

static size_t round_up(size_t k) { return (k + LANES - 1) / LANES * LANES; }

int dt_resampler_init(dt_resampler *r, int from_rate, int to_rate)
{
  memset(r, 0, sizeof *r);
  if (from_rate == 8000 && to_rate == 16000) r->up = 1;
  else if (!(from_rate == 16000 && to_rate == 8000)) return -1;
  return 0;
}

size_t dt_resampler_out_len(const dt_resampler *r, size_t n)
{
  return r->up ? 2 * n : (n + (size_t)r->has_pending) / 2;
}

/* k <= BLOCK input samples to 2k outputs. */
static void up_block(dt_resampler *r, const int16_t *in, size_t k, int16_t *out)
{
  float buf[SPAN + BLOCK], acc[BLOCK];
  memcpy(buf, r->hist, SPAN * sizeof *buf);
  for (size_t m = 0; m < round_up(k); m++) {
    buf[SPAN + m] = m < k ? in[m] : 0.0f;
    acc[m] = 0.0f;
  }
  fir(buf, acc, k);
  for (size_t m = 0; m < k; m++) {
    out[2 * m] = (int16_t)buf[m + NTAPS - 1];
    out[2 * m + 1] = saturate(2.0f * acc[m]);
  }
  memcpy(r->hist, buf + k, SPAN * sizeof *buf);
}

/* k <= BLOCK input pairs (even, odd) to k outputs. */
static void down_block(dt_resampler *r, const float *even, const float *odd, size_t k,
                       int16_t *out)
{
  float obuf[SPAN + BLOCK], ebuf[EVEN_DELAY + BLOCK], acc[BLOCK];
  memcpy(obuf, r->hist, SPAN * sizeof *obuf);
  memcpy(ebuf, r->hist + SPAN, EVEN_DELAY * sizeof *ebuf);
  memcpy(obuf + SPAN, odd, k * sizeof *obuf);
  memcpy(ebuf + EVEN_DELAY, even, k * sizeof *ebuf);
  for (size_t m = k; m < round_up(k); m++) obuf[SPAN + m] = ebuf[EVEN_DELAY + m] = 0.0f;
  for (size_t m = 0; m < round_up(k); m++) acc[m] = 0.5f * ebuf[m];
  fir(obuf, acc, k);
  for (size_t m = 0; m < k; m++) out[m] = saturate(acc[m]);
  memcpy(r->hist, obuf + k, SPAN * sizeof *obuf);
  memcpy(r->hist + SPAN, ebuf + k, EVEN_DELAY * sizeof *ebuf);
}

/* Splits the input into even/odd pairs (completing a pending sample first). */
static size_t down(dt_resampler *r, const int16_t *in, size_t n, int16_t *out)
{
  size_t o = 0;
  while (n > 0) {
    float even[BLOCK], odd[BLOCK];
    size_t k = 0;
    if (r->has_pending) {
      even[0] = r->pending;
      odd[0] = *in++;
      n--;
      r->has_pending = 0;
      k = 1;
    }
    for (; k < BLOCK && n >= 2; k++, in += 2, n -= 2) {
      even[k] = in[0];
      odd[k] = in[1];
    }
    if (k < BLOCK && n == 1) {
      r->pending = *in++;
      r->has_pending = 1;
      n = 0;
    }
    down_block(r, even, odd, k, out + o);
    o += k;
  }
  return o;
}

int dt_resampler_process(dt_resampler *r, const int16_t *in, size_t n, int16_t *out,
                         size_t out_cap, size_t *out_len)
{
  if (out_cap < dt_resampler_out_len(r, n)) return -1;
  if (!r->up) {
    *out_len = down(r, in, n, out);
    return 0;
  }
  for (size_t done = 0; done < n; done += BLOCK)
    up_block(r, in + done, n - done < BLOCK ? n - done : BLOCK, out + 2 * done);
  *out_len = 2 * n;
  return 0;
}
