/* WAV parsing of arbitrary bytes: every accepted file must decode within its bounds and
 * survive a write/parse round trip with the same samples. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  dt_wav_info info;
  int rc = dt_wav_parse(data, size, &info);
  if (rc != 0) {
    if (rc > 0 || dt_wav_strerror(rc) == NULL) abort();
    return 0;
  }
  size_t bytes = info.samples * (info.format == DT_WAV_PCM16 ? 2 : 1);
  if (info.channels != 1 || info.data < data || (size_t)(info.data - data) + bytes > size) abort();
  int16_t *pcm = malloc(info.samples ? info.samples * sizeof *pcm : 1);
  if (!pcm) return 0;
  dt_wav_decode(&info, pcm);
  size_t cap = dt_wav_size(info.format, info.samples), len = 0;
  uint8_t *out = malloc(cap);
  if (out && dt_wav_write(pcm, info.samples, info.rate, info.format, out, cap, &len) == 0) {
    dt_wav_info again;
    if (len != cap || dt_wav_parse(out, len, &again) != 0 || again.samples != info.samples ||
        again.rate != info.rate || again.format != info.format)
      abort();
    int16_t *back = malloc(info.samples ? info.samples * sizeof *back : 1);
    if (back) {
      dt_wav_decode(&again, back);
      if (memcmp(back, pcm, info.samples * sizeof *pcm) != 0) abort();
    }
    free(back);
  }
  free(out);
  free(pcm);
  return 0;
}
