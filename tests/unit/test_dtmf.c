/* DTMF detection of generated keys, rejection of speech-like noise, and tone generation. */
#include "dtmf.h"

#include <math.h>
#include <stdlib.h>
#include <time.h>

#include "testlib.h"

static const char all_keys[] = "123A456B789C*0#D";

/* Runs the detector over pcm in frames of `frame` samples; returns the keys found. */
static size_t detect(const int16_t *pcm, size_t n, size_t frame, char *keys, size_t cap)
{
  dt_dtmf_detector d;
  dt_dtmf_init(&d);
  size_t total = 0;
  for (size_t done = 0; done < n; done += frame) {
    size_t k = n - done < frame ? n - done : frame, count;
    char got[DT_DTMF_MAX_KEYS(1024)];
    CHECK_EQ_INT(dt_dtmf_feed(&d, pcm + done, k, got, sizeof got, &count), 0);
    for (size_t i = 0; i < count && total < cap; i++) keys[total++] = got[i];
  }
  return total;
}

/* Keys with the given tone and gap, plus leading and trailing silence. */
static int16_t *generate(const char *keys, unsigned tone_ms, unsigned gap_ms, size_t lead,
                         size_t *n)
{
  size_t len = dt_dtmf_tones_len(strlen(keys), 8000, tone_ms, gap_ms, 1u << 24);
  int16_t *pcm = calloc(len + 2 * lead, sizeof *pcm);
  size_t out_len = 0;
  CHECK_EQ_INT(dt_dtmf_tones(keys, strlen(keys), 8000, tone_ms, gap_ms, DT_DTMF_AMPLITUDE,
                             pcm + lead, len, &out_len), 0);
  CHECK_EQ_INT(out_len, len);
  *n = len + 2 * lead;
  return pcm;
}

/* Every key alone, at every start offset within a block, found exactly once. */
static void check_each_key(unsigned tone_ms)
{
  for (const char *k = all_keys; *k; k++) {
    for (size_t lead = 0; lead < DT_DTMF_BLOCK; lead += 17) {
      char key[2] = { *k, 0 }, found[8];
      size_t n;
      int16_t *pcm = generate(key, tone_ms, 40, 320 + lead, &n);
      size_t count = detect(pcm, n, 160, found, sizeof found);
      if (count != 1 || found[0] != *k)
        fprintf(stderr, "  key %c at %u ms, offset %zu: %zu keys\n", *k, tone_ms, lead, count);
      CHECK(count == 1 && found[0] == *k);
      free(pcm);
    }
  }
}

static void test_each_key_40ms(void) { check_each_key(40); }
static void test_each_key_100ms(void) { check_each_key(100); }

/* All sixteen keys in a row, 40 ms tones and 40 ms gaps, in several frame sizes. */
static void test_all_keys_in_sequence(void)
{
  static const size_t frames[] = { 160, 320, 1, 101, 4000 };
  for (unsigned tone = 40; tone <= 100; tone += 60) {
    size_t n;
    int16_t *pcm = generate(all_keys, tone, 40, 160, &n);
    for (size_t f = 0; f < sizeof frames / sizeof frames[0]; f++) {
      char found[32];
      size_t count = detect(pcm, n, frames[f], found, sizeof found);
      CHECK_EQ_INT(count, 16);
      CHECK(count == 16 && memcmp(found, all_keys, 16) == 0);
    }
    free(pcm);
  }
}

static void test_sequence_in_order(void)
{
  size_t n;
  int16_t *pcm = generate("123#", 100, 50, 400, &n);
  char found[8];
  size_t count = detect(pcm, n, 160, found, sizeof found);
  CHECK_EQ_INT(count, 4);
  CHECK(count == 4 && memcmp(found, "123#", 4) == 0);
  free(pcm);
  /* A repeated key needs the gap to be reported twice. */
  pcm = generate("55", 60, 40, 0, &n);
  count = detect(pcm, n, 160, found, sizeof found);
  CHECK_EQ_INT(count, 2);
  free(pcm);
}

/* Too short, too quiet, too much twist, a single tone: nothing. */
static void test_rejections(void)
{
  char found[8];
  size_t n;
  int16_t *pcm = generate("5", 20, 0, 400, &n);
  CHECK_EQ_INT(detect(pcm, n, 160, found, sizeof found), 0);
  free(pcm);

  int16_t *buf = calloc(8000, sizeof *buf), *col = calloc(8000, sizeof *col);
  CHECK_EQ_INT(dt_tone(770, 0.005, 8000, buf, 8000), 0); /* -46 dBFS */
  CHECK_EQ_INT(dt_tone(1336, 0.005, 8000, col, 8000), 0);
  for (int i = 0; i < 8000; i++) buf[i] = (int16_t)(buf[i] + col[i]);
  CHECK_EQ_INT(detect(buf, 8000, 160, found, sizeof found), 0);

  CHECK_EQ_INT(dt_tone(770, 0.3, 8000, buf, 8000), 0); /* high group 12 dB weaker */
  CHECK_EQ_INT(dt_tone(1336, 0.075, 8000, col, 8000), 0);
  for (int i = 0; i < 8000; i++) buf[i] = (int16_t)(buf[i] + col[i]);
  CHECK_EQ_INT(detect(buf, 8000, 160, found, sizeof found), 0);

  CHECK_EQ_INT(dt_tone(770, 0.3, 8000, buf, 8000), 0); /* row tone alone */
  CHECK_EQ_INT(detect(buf, 8000, 160, found, sizeof found), 0);

  /* 6 dB of twist either way is still a key. */
  CHECK_EQ_INT(dt_tone(770, 0.3, 8000, buf, 8000), 0);
  CHECK_EQ_INT(dt_tone(1336, 0.15, 8000, col, 8000), 0);
  for (int i = 0; i < 8000; i++) buf[i] = (int16_t)(buf[i] + col[i]);
  CHECK_EQ_INT(detect(buf, 8000, 160, found, sizeof found), 1);
  free(buf);
  free(col);
}

static unsigned lcg_state;
static double lcg(void) /* uniform in [0, 1) */
{
  lcg_state = lcg_state * 1664525u + 1013904223u;
  return (double)(lcg_state >> 8) / 16777216.0;
}

/* Magnitude of a second-order resonance at formant f_res with bandwidth bw, at f. */
static double resonance(double f, double f_res, double bw)
{
  double r = f / f_res, d = 1 - r * r, damp = f * bw / (f_res * f_res);
  return 1 / sqrt(d * d + damp * damp);
}

/* Speech-like audio: voiced syllables (harmonics of a gliding pitch with a falling source
 * spectrum, shaped by three moving formant resonances, under a syllable envelope), unvoiced
 * noise bursts, pauses, and background noise. */
static void speech_like(int16_t *out, size_t n, unsigned seed)
{
  enum { HARMONICS = 45 };
  double phase[HARMONICS] = { 0 }, f0 = 140, f0_target = 140, formant[3] = { 500, 1500, 2500 },
         formant_target[3] = { 500, 1500, 2500 };
  static const double bandwidth[3] = { 80, 110, 160 };
  size_t seg_left = 0, seg_len = 1;
  int kind = 0; /* 0 voiced, 1 unvoiced, 2 pause */
  lcg_state = seed;
  for (size_t i = 0; i < n; i++) {
    if (seg_left == 0) {
      double r = lcg();
      kind = r < 0.65 ? 0 : r < 0.85 ? 1 : 2;
      seg_len = seg_left = 400 + (size_t)(lcg() * 2000); /* 50 .. 300 ms */
      f0_target = 85 + lcg() * 180;
      formant_target[0] = 250 + lcg() * 650;
      formant_target[1] = 800 + lcg() * 1700;
      formant_target[2] = 1900 + lcg() * 1300;
    }
    seg_left--;
    f0 += (f0_target - f0) * 0.001;
    for (int k = 0; k < 3; k++) formant[k] += (formant_target[k] - formant[k]) * 0.002;
    double env = sin(M_PI * (double)(seg_len - seg_left) / (double)seg_len), v = 0;
    if (kind == 0) {
      for (int h = 1; h <= HARMONICS && h * f0 < 3800; h++) {
        double f = h * f0, gain = 1.0 / h; /* glottal source: about -6 dB per octave */
        for (int k = 0; k < 3; k++) gain *= resonance(f, formant[k], bandwidth[k]);
        phase[h - 1] += 2 * M_PI * f / 8000;
        v += gain * sin(phase[h - 1]);
      }
      v *= 1200 * env;
    } else if (kind == 1) {
      v = (lcg() - 0.5) * 6000 * env;
    }
    v += (lcg() - 0.5) * 200;
    out[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
  }
}

static void check_speech(unsigned seed)
{
  size_t n = 60 * 8000;
  int16_t *pcm = malloc(n * sizeof *pcm);
  speech_like(pcm, n, seed);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)pcm[i] * pcm[i];
  char found[64];
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  size_t count = detect(pcm, n, 160, found, sizeof found);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  printf("  60 s of speech-like audio, seed %u (%.1f dBFS RMS): %zu keys, detection took "
         "%.2f ms (%.0f ns per 20 ms frame)\n", seed, 20 * log10(sqrt(sum / (double)n) / 32768),
         count, ms, ms * 1e6 / 3000);
  if (count) fprintf(stderr, "  false keys: %.*s\n", (int)count, found);
  CHECK_EQ_INT(count, 0);
  free(pcm);
}

static void test_speech_like_noise_gives_nothing(void)
{
  check_speech(20240601);
  check_speech(7);
  check_speech(99);
}

static void test_tone_generation(void)
{
  int16_t buf[1000];
  CHECK_EQ_INT(dt_tone(1000, 0.5, 8000, buf, 800), 0);
  CHECK_EQ_INT(buf[0], 0);
  CHECK_EQ_INT(buf[2], 16384); /* a quarter period: 0.5 of full scale */
  double sum = 0;
  for (int i = 0; i < 800; i++) sum += (double)buf[i] * buf[i];
  CHECK(fabs(sqrt(sum / 800) - 0.5 * 32767 / sqrt(2)) < 2);
  CHECK_EQ_INT(dt_tone(4000, 0.5, 8000, buf, 8), -1);
  CHECK_EQ_INT(dt_tone(1000, 1.5, 8000, buf, 8), -1);
  CHECK_EQ_INT(dt_tone(1000, 0.5, 4000, buf, 8), -1);
  CHECK_EQ_INT(dt_tone(7999, 0.5, 16000, buf, 8), 0);

  size_t len;
  CHECK_EQ_INT(dt_dtmf_tones_len(3, 16000, 100, 50, 1u << 20), 3 * 1600 + 2 * 800);
  CHECK(dt_dtmf_tones_len(3, 8000, 100, 50, 100) == SIZE_MAX);
  CHECK_EQ_INT(dt_dtmf_tones_len(3, 8000, 0, 0, 100), 0);
  CHECK_EQ_INT(dt_dtmf_tones("12", 2, 8000, 0, 0, 0.25, buf, 0, &len), 0);
  CHECK_EQ_INT(len, 0);
  CHECK_EQ_INT(dt_dtmf_tones("1x", 2, 8000, 40, 40, 0.25, buf, 800, &len), -1);
  CHECK_EQ_INT(dt_dtmf_tones("1", 1, 8000, 40, 40, 0.6, buf, 800, &len), -1);
  CHECK_EQ_INT(dt_dtmf_tones("12", 2, 8000, 40, 40, 0.25, buf, 959, &len), -2);
  CHECK_EQ_INT(dt_dtmf_tones("1a", 2, 8000, 40, 40, 0.25, buf, 960, &len), 0);
  CHECK_EQ_INT(len, 960);
  CHECK_EQ_INT(dt_dtmf_tones("", 0, 8000, 40, 40, 0.25, buf, 0, &len), 0);
  CHECK_EQ_INT(len, 0);
}

TEST_MAIN(TEST(test_each_key_40ms), TEST(test_each_key_100ms), TEST(test_all_keys_in_sequence),
          TEST(test_sequence_in_order), TEST(test_rejections),
          TEST(test_speech_like_noise_gives_nothing), TEST(test_tone_generation))
