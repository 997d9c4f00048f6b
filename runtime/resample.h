/* Streaming 2x sample-rate conversion between 8 kHz and 16 kHz for PCM16 mono.
 * The state is a small struct (the filter history); process() never allocates, and splitting
 * a signal into calls of any sizes gives exactly the output of one call on the whole signal.
 * Constant group delay: 8k -> 16k delays by 15 input samples (30 output samples, 1.875 ms);
 * 16k -> 8k delays by 28 input samples (14 output samples, 1.75 ms). */
#ifndef DT_RESAMPLE_H
#define DT_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#define DT_RESAMPLE_HIST 43

typedef struct {
  int up;             /* 1: 8k -> 16k, 0: 16k -> 8k */
  int has_pending;    /* down: an even-indexed input waits for its odd partner */
  float pending;
  float hist[DT_RESAMPLE_HIST]; /* up: the last 29 inputs; down: the last 29 odd-indexed
                                   inputs, then the last 14 even-indexed ones */
} dt_resampler;

/* Returns 0, or -1 unless the rates are 8000 -> 16000 or 16000 -> 8000. */
int dt_resampler_init(dt_resampler *r, int from_rate, int to_rate);

/* How many samples the next process() call with n input samples writes. */
size_t dt_resampler_out_len(const dt_resampler *r, size_t n);

/* Converts n samples. Returns 0 with the count in *out_len, or -1 (nothing consumed) when
 * out_cap < dt_resampler_out_len(r, n). in and out must not overlap. */
int dt_resampler_process(dt_resampler *r, const int16_t *in, size_t n, int16_t *out,
                         size_t out_cap, size_t *out_len);
#endif
