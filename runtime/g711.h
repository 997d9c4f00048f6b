/* G.711 mu-law and A-law <-> signed 16-bit linear PCM (spec/g711.md §2-5).
 * Decoding is a table lookup; encoding is computed (a few shifts and one 256-byte table).
 * The array functions never allocate: the caller provides both buffers. */
#ifndef DT_G711_H
#define DT_G711_H

#include <stddef.h>
#include <stdint.h>

extern const int16_t dt_ulaw_table[256];
extern const int16_t dt_alaw_table[256];

uint8_t dt_ulaw_encode_sample(int16_t x);
uint8_t dt_alaw_encode_sample(int16_t x);
static inline int16_t dt_ulaw_decode_sample(uint8_t code) { return dt_ulaw_table[code]; }
static inline int16_t dt_alaw_decode_sample(uint8_t code) { return dt_alaw_table[code]; }

/* n samples in, n codes out (and the reverse). */
void dt_ulaw_encode(const int16_t *pcm, size_t n, uint8_t *codes);
void dt_ulaw_decode(const uint8_t *codes, size_t n, int16_t *pcm);
void dt_alaw_encode(const int16_t *pcm, size_t n, uint8_t *codes);
void dt_alaw_decode(const uint8_t *codes, size_t n, int16_t *pcm);
#endif
