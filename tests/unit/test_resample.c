/* 8k <-> 16k resampling: tone levels, anti-aliasing, and frame-size independence. */
#include "resample.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "testlib.h"

#define SECONDS 2

static void sine(int16_t *out, size_t n, double freq, int rate, double amplitude)
{
  for (size_t i = 0; i < n; i++)
    out[i] = (int16_t)lrint(amplitude * 32767.0 * sin(2.0 * M_PI * freq * (double)i / rate));
}

/* RMS over the second half of the signal: far past the filter delay, whole periods or many. */
static double rms_tail(const int16_t *x, size_t n)
{
  double sum = 0;
  for (size_t i = n / 2; i < n; i++) sum += (double)x[i] * x[i];
  return sqrt(sum / (double)(n - n / 2));
}

/* Converts a whole signal in one call. */
static size_t convert(int from, int to, const int16_t *in, size_t n, int16_t *out, size_t cap)
{
  dt_resampler r;
  size_t len = 0;
  CHECK_EQ_INT(dt_resampler_init(&r, from, to), 0);
  CHECK_EQ_INT(dt_resampler_out_len(&r, n), from < to ? 2 * n : n / 2);
  CHECK_EQ_INT(dt_resampler_process(&r, in, n, out, cap, &len), 0);
  return len;
}

static double gain_db(int from, int to, double freq)
{
  size_t n = (size_t)from * SECONDS, cap = 2 * n;
  int16_t *in = malloc(n * sizeof *in), *out = malloc(cap * sizeof *out);
  sine(in, n, freq, from, 0.5);
  size_t len = convert(from, to, in, n, out, cap);
  double db = 20.0 * log10(rms_tail(out, len) / rms_tail(in, n));
  free(in);
  free(out);
  return db;
}

static void test_1khz_level_both_ways(void)
{
  double up = gain_db(8000, 16000, 1000), down = gain_db(16000, 8000, 1000);
  printf("  1 kHz tone level: 8k->16k %+.4f dB, 16k->8k %+.4f dB\n", up, down);
  CHECK(fabs(up) <= 0.5);
  CHECK(fabs(down) <= 0.5);
  double up3 = gain_db(8000, 16000, 3000), down3 = gain_db(16000, 8000, 3000);
  printf("  3 kHz tone level: 8k->16k %+.4f dB, 16k->8k %+.4f dB\n", up3, down3);
  CHECK(fabs(up3) <= 0.5);
  CHECK(fabs(down3) <= 0.5);
}

static void test_5khz_removed_going_down(void)
{
  double att = -gain_db(16000, 8000, 5000);
  double att6 = -gain_db(16000, 8000, 4600);
  printf("  16k->8k attenuation: 5 kHz %.1f dB, 4.6 kHz %.1f dB\n", att, att6);
  CHECK(att >= 40.0);
  CHECK(att6 >= 40.0);
}

/* Going up, the image of a 1 kHz tone (at 7 kHz) must be suppressed too. */
static void test_image_removed_going_up(void)
{
  size_t n = 8000, cap = 2 * n;
  int16_t *in = malloc(n * sizeof *in), *out = malloc(cap * sizeof *out);
  sine(in, n, 1000, 8000, 0.5);
  size_t len = convert(8000, 16000, in, n, out, cap);
  /* Correlate with 7 kHz over the tail. */
  double re = 0, im = 0;
  for (size_t i = len / 2; i < len; i++) {
    re += out[i] * cos(2 * M_PI * 7000.0 * (double)i / 16000);
    im += out[i] * sin(2 * M_PI * 7000.0 * (double)i / 16000);
  }
  double amp = 2 * sqrt(re * re + im * im) / (double)(len - len / 2);
  double db = 20 * log10(amp / (0.5 * 32767));
  printf("  8k->16k image of 1 kHz at 7 kHz: %.1f dB\n", db);
  CHECK(db <= -40.0);
  free(in);
  free(out);
}

/* A noisy signal in 20 ms frames, or in uneven pieces, equals one call on the whole. */
static void check_framing(int from, int to, size_t frame)
{
  size_t n = (size_t)from * 3 + 7, cap = 2 * n + 2;
  int16_t *in = malloc(n * sizeof *in), *whole = malloc(cap * sizeof *whole),
          *framed = malloc(cap * sizeof *framed);
  unsigned seed = 12345;
  for (size_t i = 0; i < n; i++) {
    seed = seed * 1103515245u + 12345u;
    in[i] = (int16_t)(16000 * sin((double)i * 0.05) + (int)((seed >> 16) & 0x1FFF) - 4096);
  }
  size_t whole_len = convert(from, to, in, n, whole, cap);
  dt_resampler r;
  dt_resampler_init(&r, from, to);
  size_t done = 0, out_total = 0, piece = 0;
  while (done < n) {
    size_t k = frame ? frame : 1 + (piece++ * 37) % 101; /* 0: uneven pieces */
    if (k > n - done) k = n - done;
    size_t len;
    int rc = dt_resampler_process(&r, in + done, k, framed + out_total, cap - out_total, &len);
    CHECK_EQ_INT(rc, 0);
    done += k;
    out_total += len;
  }
  CHECK_EQ_INT(out_total, whole_len);
  CHECK(memcmp(whole, framed, whole_len * sizeof *whole) == 0);
  free(in);
  free(whole);
  free(framed);
}

static void test_frames_equal_one_call(void)
{
  check_framing(8000, 16000, 160);
  check_framing(16000, 8000, 320);
  check_framing(8000, 16000, 0);
  check_framing(16000, 8000, 0);
  check_framing(16000, 8000, 1);
}

static void test_delay_and_dc(void)
{
  /* A step: constant group delay means the output reaches the DC level and stays there. */
  int16_t in[400], out[800];
  for (int i = 0; i < 400; i++) in[i] = 10000;
  size_t len = convert(8000, 16000, in, 400, out, 800);
  CHECK_EQ_INT(len, 800);
  CHECK_EQ_INT(out[28], 0);
  CHECK_EQ_INT(out[29], 5000);
  CHECK_EQ_INT(out[30], 10000); /* the 15-sample delay: y[2m] = x[m - 15] */
  for (size_t i = 100; i < len; i++) CHECK(abs(out[i] - 10000) <= 1);
  len = convert(16000, 8000, in, 400, out, 800);
  CHECK_EQ_INT(len, 200);
  for (size_t i = 40; i < len; i++) CHECK(abs(out[i] - 10000) <= 1);
}

static void test_errors_and_saturation(void)
{
  dt_resampler r;
  CHECK_EQ_INT(dt_resampler_init(&r, 8000, 8000), -1);
  CHECK_EQ_INT(dt_resampler_init(&r, 16000, 24000), -1);
  CHECK_EQ_INT(dt_resampler_init(&r, 0, 16000), -1);
  CHECK_EQ_INT(dt_resampler_init(&r, 8000, 16000), 0);
  int16_t in[64], out[128];
  size_t len = 99;
  CHECK_EQ_INT(dt_resampler_process(&r, in, 0, out, 0, &len), 0);
  CHECK_EQ_INT(len, 0);
  for (int i = 0; i < 64; i++) in[i] = (i & 1) ? 32767 : -32768; /* overshoots: saturates */
  CHECK_EQ_INT(dt_resampler_process(&r, in, 64, out, 127, &len), -1);
  CHECK_EQ_INT(dt_resampler_process(&r, in, 64, out, 128, &len), 0);
  CHECK_EQ_INT(len, 128);
  dt_resampler_init(&r, 16000, 8000);
  CHECK_EQ_INT(dt_resampler_process(&r, in, 3, out, 1, &len), 0);
  CHECK_EQ_INT(len, 1);
  CHECK_EQ_INT(dt_resampler_out_len(&r, 3), 2); /* odd count carried */
}

static void test_speed(void)
{
  int16_t in[320], up[640], down[160];
  sine(in, 160, 440, 8000, 0.5);
  dt_resampler u, d;
  dt_resampler_init(&u, 8000, 16000);
  dt_resampler_init(&d, 16000, 8000);
  size_t len;
  enum { FRAMES = 50000 };
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int f = 0; f < FRAMES; f++) {
    dt_resampler_process(&u, in, 160, up, 640, &len);
    dt_resampler_process(&d, up, 320, down, 160, &len);
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / FRAMES;
  printf("  20 ms frame up + down: %.0f ns\n", ns);
  CHECK(down[0] != 12345);
}

TEST_MAIN(TEST(test_1khz_level_both_ways), TEST(test_5khz_removed_going_down),
          TEST(test_image_removed_going_up), TEST(test_frames_equal_one_call),
          TEST(test_delay_and_dc), TEST(test_errors_and_saturation), TEST(test_speed))
