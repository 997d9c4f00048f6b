/* G.711 against spec/g711.md: decode of all 256 codes, encode of every 16-bit input against
 * reference implementations written here from the spec's text, and the spec's vectors. */
#include "g711.h"

#include <stdlib.h>

#include "testlib.h"

/* §3, written out with plain arithmetic. */
static int ref_ulaw_decode(int code)
{
  int u = ~code & 0xFF;
  int exp = (u >> 4) & 7, mant = u & 15;
  int mag = ((mant * 8) + 132) * (1 << exp);
  return (u & 0x80) ? 132 - mag : mag - 132;
}

/* §5. */
static int ref_alaw_decode(int code)
{
  int a = code ^ 0x55;
  int t = (a & 15) * 16, seg = (a >> 4) & 7;
  if (seg == 0) t += 8;
  else if (seg == 1) t += 0x108;
  else t = (t + 0x108) * (1 << (seg - 1));
  return (a & 0x80) ? t : -t;
}

/* §2, with the exponent found by a search instead of a table. */
static int ref_ulaw_encode(int x)
{
  int sign = x < 0 ? 0x80 : 0;
  int m = x < 0 ? -x : x;
  if (m > 32635) m = 32635;
  m += 132;
  int v = (m >> 7) & 0xFF, exp = 0;
  while (v > 1) {
    v >>= 1;
    exp++;
  }
  int mant = (m >> (exp + 3)) & 15;
  return ~(sign | (exp << 4) | mant) & 0xFF;
}

/* The classic 14-bit variant (§3 "Variant warning"): shift right by 2 first, bias 0x21,
 * clip 8159, segment end points 0x3F .. 0x1FFF. */
static int ref_ulaw14_encode(int x)
{
  static const int end[8] = { 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF };
  int v = x >> 2, mask = 0xFF;
  if (v < 0) {
    v = -v;
    mask = 0x7F;
  }
  if (v > 8159) v = 8159;
  v += 0x21;
  int seg = 0;
  while (seg < 8 && v > end[seg]) seg++;
  if (seg == 8) return 0x7F ^ mask;
  return ((seg << 4) | ((v >> (seg + 1)) & 15)) ^ mask;
}

/* §4. */
static int ref_alaw_encode(int x)
{
  static const int end[8] = { 0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF };
  int p = x >> 3, mask = 0xD5;
  if (p < 0) {
    mask = 0x55;
    p = -p - 1;
  }
  int seg = 0;
  while (seg < 8 && p > end[seg]) seg++;
  if (seg == 8) return 0x7F ^ mask;
  int a = seg << 4;
  a |= (seg < 2) ? ((p >> 1) & 15) : ((p >> seg) & 15);
  return a ^ mask;
}

static void test_decode_all_codes(void)
{
  for (int c = 0; c < 256; c++) {
    CHECK_EQ_INT(dt_ulaw_decode_sample((uint8_t)c), ref_ulaw_decode(c));
    CHECK_EQ_INT(dt_alaw_decode_sample((uint8_t)c), ref_alaw_decode(c));
  }
}

static void test_decode_anchors(void)
{
  static const struct { int code, value; } ulaw[] = {
    { 0x00, -32124 }, { 0x0F, -16764 }, { 0x70, -120 }, { 0x7F, 0 },
    { 0x80, 32124 }, { 0xEF, 132 }, { 0xFF, 0 },
  };
  static const struct { int code, value; } alaw[] = {
    { 0x00, -5504 }, { 0x80, 5504 }, { 0x2A, -32256 }, { 0xAA, 32256 },
    { 0x55, -8 }, { 0xD5, 8 }, { 0x7F, -848 }, { 0xFF, 848 },
  };
  for (size_t i = 0; i < sizeof ulaw / sizeof ulaw[0]; i++)
    CHECK_EQ_INT(dt_ulaw_decode_sample((uint8_t)ulaw[i].code), ulaw[i].value);
  for (size_t i = 0; i < sizeof alaw / sizeof alaw[0]; i++)
    CHECK_EQ_INT(dt_alaw_decode_sample((uint8_t)alaw[i].code), alaw[i].value);
}

static void test_spec_vectors(void)
{
  static const struct { int x, ulaw, ulaw_dec, alaw, alaw_dec; } v[] = {
    { 0, 0xFF, 0, 0xD5, 8 },          { 1, 0xFF, 0, 0xD5, 8 },
    { -1, 0x7F, 0, 0x55, -8 },        { 8, 0xFE, 8, 0xD5, 8 },
    { -8, 0x7E, -8, 0x55, -8 },       { 100, 0xF2, 104, 0xD3, 104 },
    { -100, 0x72, -104, 0x53, -104 }, { 1000, 0xCE, 988, 0xFA, 1008 },
    { -1000, 0x4E, -988, 0x7A, -1008 }, { 4000, 0xAF, 4092, 0x9A, 4032 },
    { -4000, 0x2F, -4092, 0x1A, -4032 }, { 12345, 0x97, 12412, 0xBD, 12544 },
    { -12345, 0x17, -12412, 0x3D, -12544 }, { 32635, 0x80, 32124, 0xAA, 32256 },
    { 32767, 0x80, 32124, 0xAA, 32256 }, { -32768, 0x00, -32124, 0x2A, -32256 },
  };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    uint8_t u = dt_ulaw_encode_sample((int16_t)v[i].x), a = dt_alaw_encode_sample((int16_t)v[i].x);
    CHECK_EQ_INT(u, v[i].ulaw);
    CHECK_EQ_INT(dt_ulaw_decode_sample(u), v[i].ulaw_dec);
    CHECK_EQ_INT(a, v[i].alaw);
    CHECK_EQ_INT(dt_alaw_decode_sample(a), v[i].alaw_dec);
  }
  CHECK_EQ_INT(ref_ulaw14_encode(-1), 0x7E);
  CHECK_EQ_INT(ref_ulaw14_encode(-31611), 0x00);
  CHECK_EQ_INT(dt_ulaw_encode_sample(-31611), 0x01);
}

/* Every input must match the spec's algorithm exactly. */
static void test_encode_every_input_exact(void)
{
  int ulaw_bad = 0, alaw_bad = 0;
  for (int x = -32768; x <= 32767; x++) {
    if (dt_ulaw_encode_sample((int16_t)x) != ref_ulaw_encode(x)) ulaw_bad++;
    if (dt_alaw_encode_sample((int16_t)x) != ref_alaw_encode(x)) alaw_bad++;
  }
  CHECK_EQ_INT(ulaw_bad, 0);
  CHECK_EQ_INT(alaw_bad, 0);
}

/* Against the 14-bit variant: identical on non-negative inputs; on negative inputs the
 * variant's code may be one step larger in magnitude (one less as a byte), and the spec
 * counts exactly 381 such inputs. */
static void test_encode_vs_14bit_variant(void)
{
  int differ = 0, bad = 0;
  for (int x = -32768; x <= 32767; x++) {
    int ours = dt_ulaw_encode_sample((int16_t)x), theirs = ref_ulaw14_encode(x);
    if (ours == theirs) continue;
    if (x < 0 && theirs == ours - 1) differ++;
    else bad++;
  }
  CHECK_EQ_INT(bad, 0);
  CHECK_EQ_INT(differ, 381);
}

static int cmp_int(const void *a, const void *b)
{
  return *(const int *)a - *(const int *)b;
}

/* Quantiser properties: the decoded value is one of the two levels bracketing the input (the
 * top level above it), and it never decreases as the input grows. */
static int check_quantiser(int16_t (*decode)(uint8_t), uint8_t (*encode)(int16_t))
{
  int levels[256], bad = 0, prev = -(1 << 30);
  for (int c = 0; c < 256; c++) levels[c] = decode((uint8_t)c);
  qsort(levels, 256, sizeof levels[0], cmp_int);
  int i = 0;
  for (int x = -32768; x <= 32767; x++) {
    while (i < 255 && levels[i + 1] <= x) i++;
    int d = decode(encode((int16_t)x));
    int lo = levels[i] <= x ? levels[i] : levels[0], hi = i < 255 ? levels[i + 1] : levels[255];
    if (d != lo && d != hi) bad++;
    if (d < prev) bad++;
    prev = d;
  }
  return bad;
}

static void test_encode_is_a_quantiser(void)
{
  CHECK_EQ_INT(check_quantiser(dt_ulaw_decode_sample, dt_ulaw_encode_sample), 0);
  CHECK_EQ_INT(check_quantiser(dt_alaw_decode_sample, dt_alaw_encode_sample), 0);
}

static void test_round_trip(void)
{
  for (int c = 0; c < 256; c++) {
    CHECK_EQ_INT(dt_alaw_encode_sample(dt_alaw_decode_sample((uint8_t)c)), c);
    int back = dt_ulaw_encode_sample(dt_ulaw_decode_sample((uint8_t)c));
    CHECK_EQ_INT(back, c == 0x7F ? 0xFF : c);
  }
}

static void test_array_functions(void)
{
  int16_t pcm[512], back[512];
  uint8_t codes[512];
  for (int i = 0; i < 512; i++) pcm[i] = (int16_t)(i * 127 - 32768);
  dt_ulaw_encode(pcm, 512, codes);
  for (int i = 0; i < 512; i++) CHECK_EQ_INT(codes[i], dt_ulaw_encode_sample(pcm[i]));
  dt_ulaw_decode(codes, 512, back);
  for (int i = 0; i < 512; i++) CHECK_EQ_INT(back[i], dt_ulaw_table[codes[i]]);
  dt_alaw_encode(pcm, 512, codes);
  for (int i = 0; i < 512; i++) CHECK_EQ_INT(codes[i], dt_alaw_encode_sample(pcm[i]));
  dt_alaw_decode(codes, 512, back);
  for (int i = 0; i < 512; i++) CHECK_EQ_INT(back[i], dt_alaw_table[codes[i]]);
  dt_ulaw_encode(pcm, 0, codes);
}

TEST_MAIN(TEST(test_decode_all_codes), TEST(test_decode_anchors), TEST(test_spec_vectors),
          TEST(test_encode_every_input_exact), TEST(test_encode_vs_14bit_variant),
          TEST(test_encode_is_a_quantiser), TEST(test_round_trip), TEST(test_array_functions))
