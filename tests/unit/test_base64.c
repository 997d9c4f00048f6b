/* Base64 against RFC 4648 §10, the url alphabet, and strict rejection of bad input. */
#include "base64.h"

#include <stdlib.h>

#include "testlib.h"

/* Encodes into an exact-size heap buffer (so ASan sees any overrun) and compares. */
static int encodes_to(const char *in, int alphabet, const char *expected)
{
  size_t n = strlen(in), need = dt_base64_encoded_len(n, alphabet), len = 0;
  char *out = malloc(need ? need : 1);
  int ok = out && dt_base64_encode((const uint8_t *)in, n, out, need, alphabet, &len) == 0 &&
           len == strlen(expected) && memcmp(out, expected, len) == 0;
  if (need > 0 && out) /* one byte short is refused */
    ok = ok && dt_base64_encode((const uint8_t *)in, n, out, need - 1, alphabet, &len) == -1;
  free(out);
  return ok;
}

/* Decodes from an exact-size heap copy; returns the rc and the text in out. */
static int decode(const char *in, int alphabet, char *out, size_t cap, size_t *len)
{
  size_t n = strlen(in);
  char *copy = malloc(n ? n : 1);
  if (!copy) return -99;
  memcpy(copy, in, n);
  int rc = dt_base64_decode(copy, n, (uint8_t *)out, cap, alphabet, len);
  free(copy);
  return rc;
}

static int decodes_to(const char *in, int alphabet, const char *expected)
{
  char out[64];
  size_t len = 0;
  return decode(in, alphabet, out, sizeof out, &len) == 0 && len == strlen(expected) &&
         memcmp(out, expected, len) == 0 && len <= dt_base64_decoded_max(strlen(in));
}

static void test_rfc4648_vectors(void)
{
  static const char *v[][2] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" } };
  for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
    CHECK(encodes_to(v[i][0], DT_BASE64_STD, v[i][1]));
    CHECK(decodes_to(v[i][1], DT_BASE64_STD, v[i][0]));
    CHECK(decodes_to(v[i][1], DT_BASE64_URL, v[i][0]));
  }
}

static void test_url_alphabet(void)
{
  CHECK(encodes_to("\xfb\xff\xbf", DT_BASE64_STD, "+/+/"));
  CHECK(encodes_to("\xfb\xff\xbf", DT_BASE64_URL, "-_-_"));
  CHECK(encodes_to("f", DT_BASE64_URL, "Zg"));
  CHECK(encodes_to("fo", DT_BASE64_URL, "Zm8"));
  CHECK(decodes_to("-_-_", DT_BASE64_URL, "\xfb\xff\xbf"));
  CHECK(decodes_to("Zg", DT_BASE64_URL, "f"));
  CHECK(decodes_to("Zm8", DT_BASE64_URL, "fo"));
  CHECK(!decodes_to("-_-_", DT_BASE64_STD, "\xfb\xff\xbf"));
  CHECK(!decodes_to("+/+/", DT_BASE64_URL, "\xfb\xff\xbf"));
}

static void test_invalid_rejected(void)
{
  static const char *bad_std[] = { "Zg", "Zm8", "Z", "Zg=", "Zg===", "Zm9v Yg==", "Zm9v\nYg==",
    "Zh==", "Zm9=", "=Zg=", "Zg==Zg==", "Zm9vYg=a", "====", "Zm9v*mFy", "Zm9\x80" };
  char out[64];
  size_t len;
  for (size_t i = 0; i < sizeof bad_std / sizeof bad_std[0]; i++) {
    int rc = decode(bad_std[i], DT_BASE64_STD, out, sizeof out, &len);
    if (rc != -2) fprintf(stderr, "  accepted \"%s\" (rc %d)\n", bad_std[i], rc);
    CHECK_EQ_INT(rc, -2);
  }
  CHECK_EQ_INT(dt_base64_decode("Zm9v\0Zm9v", 9, (uint8_t *)out, sizeof out, 0, &len), -2);
  static const char *bad_url[] = { "Z", "Zm9vY", "Zh", "Zm9", "Zg=", "Zm9v+mFy", "Zm9v/mFy" };
  for (size_t i = 0; i < sizeof bad_url / sizeof bad_url[0]; i++)
    CHECK_EQ_INT(decode(bad_url[i], DT_BASE64_URL, out, sizeof out, &len), -2);
}

static void test_buffer_sizes(void)
{
  char out[8];
  size_t len;
  CHECK_EQ_INT(decode("Zm9vYmFy", DT_BASE64_STD, out, 5, &len), -1);
  CHECK_EQ_INT(decode("Zm9vYmFy", DT_BASE64_STD, out, 6, &len), 0);
  CHECK_EQ_INT(len, 6);
  CHECK_EQ_INT(decode("Zm9vYg==", DT_BASE64_STD, out, 4, &len), 0);
  CHECK_EQ_INT(decode("Zm9vYg==", DT_BASE64_STD, out, 3, &len), -1);
  CHECK_EQ_INT(dt_base64_encoded_len(160, DT_BASE64_STD), 216); /* a 20 ms G.711 frame */
  CHECK_EQ_INT(dt_base64_encoded_len(SIZE_MAX, DT_BASE64_STD), SIZE_MAX);
  CHECK_EQ_INT(dt_base64_decoded_max(216), 162);
  CHECK_EQ_INT(dt_base64_decoded_max(3), 2);
}

/* Every byte value at every position of a block survives a round trip in both alphabets. */
static void test_round_trip(void)
{
  uint8_t data[300], back[300];
  char text[400];
  for (int i = 0; i < 300; i++) data[i] = (uint8_t)(i * 7 + 3);
  for (size_t n = 0; n <= 300; n += 1 + n / 10) {
    for (int alphabet = 0; alphabet <= 1; alphabet++) {
      size_t tlen, blen;
      CHECK_EQ_INT(dt_base64_encode(data, n, text, sizeof text, alphabet, &tlen), 0);
      CHECK_EQ_INT(tlen, dt_base64_encoded_len(n, alphabet));
      CHECK_EQ_INT(dt_base64_decode(text, tlen, back, sizeof back, alphabet, &blen), 0);
      CHECK_EQ_INT(blen, n);
      CHECK(memcmp(data, back, n) == 0);
    }
  }
}

TEST_MAIN(TEST(test_rfc4648_vectors), TEST(test_url_alphabet), TEST(test_invalid_rejected),
          TEST(test_buffer_sizes), TEST(test_round_trip))
