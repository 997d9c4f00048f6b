/* WAV round trips in the three formats, and hostile headers. */
#include "wav.h"

#include <stdlib.h>

#include "g711.h"
#include "testlib.h"

/* Parses an exact-size heap copy, so ASan catches any read past the end. The copy (which
 * info->data points into) lives until the next call. */
static int parse(const uint8_t *buf, size_t len, dt_wav_info *info)
{
  static uint8_t *copy;
  free(copy);
  copy = malloc(len ? len : 1);
  if (!copy) return -99;
  memcpy(copy, buf, len);
  return dt_wav_parse(copy, len, info);
}

static void put32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *p, unsigned v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}

/* A minimal PCM16 mono file: header fields at fixed offsets (fmt at 12, data at 36). */
static size_t make_pcm(uint8_t *buf, unsigned channels, unsigned align, uint32_t data_size,
                       size_t data_bytes)
{
  memcpy(buf, "RIFF\0\0\0\0WAVEfmt ", 16);
  put32(buf + 16, 16);
  put16(buf + 20, 1);
  put16(buf + 22, channels);
  put32(buf + 24, 8000);
  put32(buf + 28, 16000);
  put16(buf + 32, align);
  put16(buf + 34, 16);
  memcpy(buf + 36, "data", 4);
  put32(buf + 40, data_size);
  for (size_t i = 0; i < data_bytes; i++) buf[44 + i] = (uint8_t)(i * 37);
  put32(buf + 4, (uint32_t)(36 + data_bytes));
  return 44 + data_bytes;
}

static void round_trip(dt_wav_format format, uint32_t rate, size_t n)
{
  int16_t *pcm = malloc((n + 1) * sizeof *pcm), *back = malloc((n + 1) * sizeof *back);
  for (size_t i = 0; i < n; i++) pcm[i] = (int16_t)((i * 2654435761u) >> 16);
  size_t size = dt_wav_size(format, n), len = 0;
  uint8_t *file = malloc(size);
  CHECK_EQ_INT(dt_wav_write(pcm, n, rate, format, file, size - 1, &len), DT_WAV_ESPACE);
  CHECK_EQ_INT(dt_wav_write(pcm, n, rate, format, file, size, &len), 0);
  CHECK_EQ_INT(len, size);
  CHECK_EQ_INT(len % 2, 0);
  dt_wav_info info;
  CHECK_EQ_INT(dt_wav_parse(file, len, &info), 0);
  CHECK_EQ_INT(info.format, format);
  CHECK_EQ_INT(info.rate, rate);
  CHECK_EQ_INT(info.channels, 1);
  CHECK_EQ_INT(info.samples, n);
  dt_wav_decode(&info, back);
  for (size_t i = 0; i < n; i++) {
    int16_t want = format == DT_WAV_ULAW ? dt_ulaw_decode_sample(dt_ulaw_encode_sample(pcm[i]))
                 : format == DT_WAV_ALAW ? dt_alaw_decode_sample(dt_alaw_encode_sample(pcm[i]))
                 : pcm[i];
    if (back[i] != want) {
      CHECK_EQ_INT(back[i], want);
      break;
    }
  }
  free(file);
  free(pcm);
  free(back);
}

static void test_round_trips(void)
{
  round_trip(DT_WAV_PCM16, 8000, 1600);
  round_trip(DT_WAV_PCM16, 16000, 0);
  round_trip(DT_WAV_ULAW, 8000, 161); /* odd: the data chunk gets a pad byte */
  round_trip(DT_WAV_ALAW, 8000, 160);
  round_trip(DT_WAV_ALAW, 44100, 7);
}

static void test_write_errors(void)
{
  int16_t pcm[4] = { 0 };
  uint8_t out[128];
  size_t len;
  CHECK_EQ_INT(dt_wav_write(pcm, 4, 0, DT_WAV_PCM16, out, sizeof out, &len), DT_WAV_ERATE);
  CHECK_EQ_INT(dt_wav_write(pcm, 4, 8000, (dt_wav_format)3, out, sizeof out, &len), DT_WAV_EFORMAT);
  CHECK_EQ_INT(dt_wav_write(pcm, (size_t)DT_WAV_MAX_SAMPLES + 1, 8000, DT_WAV_PCM16, out,
                            sizeof out, &len), DT_WAV_ETOOBIG);
  CHECK_EQ_INT(dt_wav_size(DT_WAV_PCM16, 10), 64);
  CHECK_EQ_INT(dt_wav_size(DT_WAV_ULAW, 10), 68);
}

static void test_parse_valid_variants(void)
{
  uint8_t buf[256];
  dt_wav_info info;
  size_t len = make_pcm(buf, 1, 2, 7, 7); /* a trailing half sample is ignored */
  CHECK_EQ_INT(parse(buf, len + 1, &info), 0);
  CHECK_EQ_INT(info.samples, 3);
  /* An unknown chunk (odd size, padded) before data is skipped. */
  len = make_pcm(buf, 1, 2, 4, 4);
  uint8_t with_list[256];
  memcpy(with_list, buf, 36);
  memcpy(with_list + 36, "LIST\x03\0\0\0abc\0", 12);
  memcpy(with_list + 48, buf + 36, 12);
  put32(with_list + 4, 52);
  CHECK_EQ_INT(parse(with_list, 60, &info), 0);
  CHECK_EQ_INT(info.samples, 2);
  CHECK_EQ_INT(info.data[0], buf[44]);
  /* A RIFF size past the end (as streaming writers leave it) is bounded by the buffer. */
  put32(buf + 4, 0xFFFFFFFFu);
  CHECK_EQ_INT(parse(buf, len, &info), 0);
  /* Data before fmt. */
  uint8_t swapped[64];
  memcpy(swapped, buf, 12);
  memcpy(swapped + 12, buf + 36, 12);
  memcpy(swapped + 24, buf + 12, 24);
  CHECK_EQ_INT(parse(swapped, 48, &info), 0);
  CHECK_EQ_INT(info.samples, 2);
}

static void test_hostile_headers(void)
{
  uint8_t buf[256];
  dt_wav_info info;
  size_t len = make_pcm(buf, 1, 2, 8, 8);
  for (size_t cut = 0; cut < len; cut++) CHECK(parse(buf, cut, &info) < 0); /* truncated */

  make_pcm(buf, 1, 2, 9, 8); /* data size one past the buffer */
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ETRUNCATED);
  make_pcm(buf, 1, 2, 0xFFFFFFFFu, 8); /* huge data size */
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ETRUNCATED);
  make_pcm(buf, 1, 2, 8, 8);
  put32(buf + 16, 0xFFFFFFF8u); /* huge fmt size */
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ETRUNCATED);
  make_pcm(buf, 1, 2, 8, 8);
  put32(buf + 16, 14); /* fmt too short for its fields */
  CHECK(parse(buf, len, &info) < 0);

  make_pcm(buf, 0, 2, 8, 8);
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ECHANNELS);
  make_pcm(buf, 2, 4, 8, 8);
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ECHANNELS);
  make_pcm(buf, 1, 3, 8, 8);
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_EALIGN);
  make_pcm(buf, 1, 0, 8, 8);
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_EALIGN);
  make_pcm(buf, 1, 2, 8, 8);
  put16(buf + 34, 8);
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_EBITS);
  make_pcm(buf, 1, 2, 8, 8);
  put16(buf + 20, 3); /* IEEE float */
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_EFORMAT);
  make_pcm(buf, 1, 2, 8, 8);
  put32(buf + 24, 0);
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ERATE);
  make_pcm(buf, 1, 2, 8, 8);
  memcpy(buf + 8, "AVI ", 4);
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ENOTWAV);

  make_pcm(buf, 1, 2, 8, 8);
  memcpy(buf + 36, "junk", 4); /* data chunk missing */
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ENODATA);
  make_pcm(buf, 1, 2, 8, 8);
  memcpy(buf + 12, "junk", 4); /* fmt chunk missing */
  CHECK_EQ_INT(parse(buf, len, &info), DT_WAV_ENOFMT);

  /* Two data chunks. */
  make_pcm(buf, 1, 2, 4, 4);
  memcpy(buf + 48, buf + 36, 12);
  put32(buf + 4, 52);
  CHECK_EQ_INT(parse(buf, 60, &info), DT_WAV_EDUP);

  CHECK(strstr(dt_wav_strerror(DT_WAV_ECHANNELS), "mono") != NULL);
}

/* WAVE_FORMAT_EXTENSIBLE carrying PCM is read like PCM. */
static void test_extensible(void)
{
  uint8_t buf[128];
  memcpy(buf, "RIFF\0\0\0\0WAVEfmt ", 16);
  put32(buf + 16, 40);
  put16(buf + 20, 0xFFFE);
  put16(buf + 22, 1);
  put32(buf + 24, 16000);
  put32(buf + 28, 32000);
  put16(buf + 32, 2);
  put16(buf + 34, 16);
  put16(buf + 36, 22);
  put16(buf + 38, 16);
  put32(buf + 40, 4);
  memcpy(buf + 44, "\x01\0\0\0\0\0\x10\0\x80\0\0\xaa\0\x38\x9b\x71", 16);
  memcpy(buf + 60, "data\x04\0\0\0\x01\0\xff\xff", 12);
  put32(buf + 4, 64);
  dt_wav_info info;
  CHECK_EQ_INT(parse(buf, 72, &info), 0);
  CHECK_EQ_INT(info.format, DT_WAV_PCM16);
  CHECK_EQ_INT(info.rate, 16000);
  int16_t out[2];
  dt_wav_decode(&info, out);
  CHECK_EQ_INT(out[0], 1);
  CHECK_EQ_INT(out[1], -1);
}

TEST_MAIN(TEST(test_round_trips), TEST(test_write_errors), TEST(test_parse_valid_variants),
          TEST(test_hostile_headers), TEST(test_extensible))
