/* G.711 codecs. The decode tables are built at compile time from the spec's formulas, so
 * there is no start-up step and nothing to race on. */
#include "g711.h"

#define ULAW_BIAS 0x84
#define ULAW_CLIP 32635

/* mu-law decode (§3) as a constant expression of the code c. */
#define UL_U(c) (~(c) & 0xFF)
#define UL_MAG(c) ((((UL_U(c) & 0x0F) << 3) + ULAW_BIAS) << ((UL_U(c) >> 4) & 0x07))
#define UL(c) ((UL_U(c) & 0x80) ? ULAW_BIAS - UL_MAG(c) : UL_MAG(c) - ULAW_BIAS)

/* A-law decode (§5). */
#define AL_A(c) ((c) ^ 0x55)
#define AL_T(c) ((AL_A(c) & 0x0F) << 4)
#define AL_SEG(c) ((AL_A(c) >> 4) & 0x07)
#define AL_MAG(c) (AL_SEG(c) == 0 ? AL_T(c) + 8 : AL_SEG(c) == 1 ? AL_T(c) + 0x108 \
                   : (AL_T(c) + 0x108) << (AL_SEG(c) > 1 ? AL_SEG(c) - 1 : 0))
#define AL(c) ((AL_A(c) & 0x80) ? AL_MAG(c) : -AL_MAG(c))

#define ROW16(F, b) F(b + 0), F(b + 1), F(b + 2), F(b + 3), F(b + 4), F(b + 5), F(b + 6), \
  F(b + 7), F(b + 8), F(b + 9), F(b + 10), F(b + 11), F(b + 12), F(b + 13), F(b + 14), F(b + 15)
#define ALL256(F) ROW16(F, 0), ROW16(F, 16), ROW16(F, 32), ROW16(F, 48), ROW16(F, 64), \
  ROW16(F, 80), ROW16(F, 96), ROW16(F, 112), ROW16(F, 128), ROW16(F, 144), ROW16(F, 160), \
  ROW16(F, 176), ROW16(F, 192), ROW16(F, 208), ROW16(F, 224), ROW16(F, 240)

const int16_t dt_ulaw_table[256] = { ALL256(UL) };
const int16_t dt_alaw_table[256] = { ALL256(AL) };

/* floor(log2(v)) for v in 1..255, 0 for v = 0. */
#define X2(v) v, v
#define X4(v) X2(v), X2(v)
#define X8(v) X4(v), X4(v)
#define X16(v) X8(v), X8(v)
#define X32(v) X16(v), X16(v)
#define X64(v) X32(v), X32(v)
#define X128(v) X64(v), X64(v)
static const uint8_t top_bit[256] = { X2(0), X2(1), X4(2), X8(3), X16(4), X32(5), X64(6), X128(7) };

uint8_t dt_ulaw_encode_sample(int16_t x)
{
  int sign = x < 0 ? 0x80 : 0x00;
  int m = x < 0 ? -(int)x : x;
  if (m > ULAW_CLIP) m = ULAW_CLIP;
  m += ULAW_BIAS;
  int exp = top_bit[(m >> 7) & 0xFF];
  int mant = (m >> (exp + 3)) & 0x0F;
  return (uint8_t)(~(sign | (exp << 4) | mant) & 0xFF);
}

/* 16-bit input never reaches the A-law clip segment: |x >> 3| <= 0xFFF = END[7]. */
uint8_t dt_alaw_encode_sample(int16_t x)
{
  int p = x >> 3, mask = 0xD5;
  if (p < 0) {
    mask = 0x55;
    p = -p - 1;
  }
  int seg = (p >> 5) ? top_bit[p >> 5] + 1 : 0;
  int a = (seg << 4) | ((p >> (seg < 2 ? 1 : seg)) & 0x0F);
  return (uint8_t)(a ^ mask);
}

void dt_ulaw_encode(const int16_t *pcm, size_t n, uint8_t *codes)
{
  for (size_t i = 0; i < n; i++) codes[i] = dt_ulaw_encode_sample(pcm[i]);
}

void dt_ulaw_decode(const uint8_t *codes, size_t n, int16_t *pcm)
{
  for (size_t i = 0; i < n; i++) pcm[i] = dt_ulaw_table[codes[i]];
}

void dt_alaw_encode(const int16_t *pcm, size_t n, uint8_t *codes)
{
  for (size_t i = 0; i < n; i++) codes[i] = dt_alaw_encode_sample(pcm[i]);
}

void dt_alaw_decode(const uint8_t *codes, size_t n, int16_t *pcm)
{
  for (size_t i = 0; i < n; i++) pcm[i] = dt_alaw_table[codes[i]];
}
