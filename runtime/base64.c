/* Base64 codec: table driven, four characters <-> three bytes per step. */
#include "base64.h"

static const char std_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Character -> value + 1 (0 = not in the alphabet), shared except for 62 and 63. */
#define V(c, v) [c] = (v) + 1
#define COMMON V('A', 0), V('B', 1), V('C', 2), V('D', 3), V('E', 4), V('F', 5), V('G', 6), \
  V('H', 7), V('I', 8), V('J', 9), V('K', 10), V('L', 11), V('M', 12), V('N', 13), V('O', 14), \
  V('P', 15), V('Q', 16), V('R', 17), V('S', 18), V('T', 19), V('U', 20), V('V', 21), \
  V('W', 22), V('X', 23), V('Y', 24), V('Z', 25), V('a', 26), V('b', 27), V('c', 28), \
  V('d', 29), V('e', 30), V('f', 31), V('g', 32), V('h', 33), V('i', 34), V('j', 35), \
  V('k', 36), V('l', 37), V('m', 38), V('n', 39), V('o', 40), V('p', 41), V('q', 42), \
  V('r', 43), V('s', 44), V('t', 45), V('u', 46), V('v', 47), V('w', 48), V('x', 49), \
  V('y', 50), V('z', 51), V('0', 52), V('1', 53), V('2', 54), V('3', 55), V('4', 56), \
  V('5', 57), V('6', 58), V('7', 59), V('8', 60), V('9', 61)
static const uint8_t std_values[256] = { COMMON, V('+', 62), V('/', 63) };
static const uint8_t url_values[256] = { COMMON, V('-', 62), V('_', 63) };

size_t dt_base64_encoded_len(size_t n, int alphabet)
{
  if (n / 3 >= SIZE_MAX / 4) return SIZE_MAX;
  size_t full = n / 3 * 4, rest = n % 3;
  if (rest == 0) return full;
  return full + (alphabet == DT_BASE64_URL ? rest + 1 : 4);
}

size_t dt_base64_decoded_max(size_t n) { return n / 4 * 3 + (n % 4 ? 2 : 0); }

int dt_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap, int alphabet,
                     size_t *out_len)
{
  size_t need = dt_base64_encoded_len(n, alphabet);
  if (need == SIZE_MAX || cap < need) return -1;
  const char *chars = alphabet == DT_BASE64_URL ? url_chars : std_chars;
  size_t i = 0, o = 0;
  for (; n - i >= 3; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = chars[v >> 18];
    out[o++] = chars[(v >> 12) & 63];
    out[o++] = chars[(v >> 6) & 63];
    out[o++] = chars[v & 63];
  }
  if (i < n) {
    uint32_t v = (uint32_t)in[i] << 16 | (n - i > 1 ? (uint32_t)in[i + 1] << 8 : 0);
    out[o++] = chars[v >> 18];
    out[o++] = chars[(v >> 12) & 63];
    if (n - i > 1) out[o++] = chars[(v >> 6) & 63];
    while (alphabet != DT_BASE64_URL && o < need) out[o++] = '=';
  }
  *out_len = o;
  return 0;
}

/* The length without padding, or -1 when the padding is malformed for the alphabet. */
static int strip_padding(const char *in, size_t n, int alphabet, size_t *len)
{
  size_t pad = 0;
  while (pad < 2 && pad < n && in[n - 1 - pad] == '=') pad++;
  if (pad > 0 && n % 4 != 0) return -1;
  if (pad == 0 && n % 4 != 0 && alphabet != DT_BASE64_URL) return -1;
  if ((n - pad) % 4 == 1) return -1;
  *len = n - pad;
  return 0;
}

int dt_base64_decode(const char *in, size_t n, uint8_t *out, size_t cap, int alphabet,
                     size_t *out_len)
{
  const uint8_t *values = alphabet == DT_BASE64_URL ? url_values : std_values;
  const unsigned char *s = (const unsigned char *)in;
  size_t len;
  if (strip_padding(in, n, alphabet, &len) != 0) return -2;
  size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
  if (cap < need) return -1;
  size_t i = 0, o = 0;
  for (; len - i >= 4; i += 4) {
    unsigned a = values[s[i]], b = values[s[i + 1]], c = values[s[i + 2]], d = values[s[i + 3]];
    if (!a || !b || !c || !d) return -2;
    uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
    out[o++] = (uint8_t)(v >> 16);
    out[o++] = (uint8_t)(v >> 8);
    out[o++] = (uint8_t)v;
  }
  if (i < len) {
    unsigned a = values[s[i]], b = values[s[i + 1]], c = len - i > 2 ? values[s[i + 2]] : 1;
    if (!a || !b || !c) return -2;
    uint32_t v = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6;
    if (v & (len - i > 2 ? 0xFFu : 0xFFFFu)) return -2; /* non-canonical trailing bits */
    out[o++] = (uint8_t)(v >> 16);
    if (len - i > 2) out[o++] = (uint8_t)(v >> 8);
  }
  *out_len = o;
  return 0;
}
