/* WAV parsing and serialisation. Layout: "RIFF" size "WAVE", then chunks of id (4), size
 * (4, little-endian) and data padded to an even length. */
#include "wav.h"

#include <string.h>

#include "g711.h"

#define FMT_EXTENSIBLE 0xFFFE
#define PCM_HEADER 44 /* RIFF + fmt (16) + data header */
#define G711_HEADER 58 /* RIFF + fmt (18, cbSize 0) + fact (4) + data header */

static uint32_t get32(const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned get16(const uint8_t *p) { return (unsigned)p[0] | (unsigned)p[1] << 8; }

static uint8_t *put32(uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
  return p + 4;
}

static uint8_t *put16(uint8_t *p, unsigned v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  return p + 2;
}

static uint8_t *put_id(uint8_t *p, const char *id)
{
  memcpy(p, id, 4);
  return p + 4;
}

static unsigned bits_for(dt_wav_format f) { return f == DT_WAV_PCM16 ? 16 : 8; }

/* Reads the fmt chunk body (len bytes) into info. */
static int parse_fmt(const uint8_t *p, size_t len, dt_wav_info *info)
{
  if (len < 16) return DT_WAV_ETRUNCATED;
  unsigned tag = get16(p), channels = get16(p + 2), align = get16(p + 12), bits = get16(p + 14);
  uint32_t rate = get32(p + 4);
  if (tag == FMT_EXTENSIBLE) {
    if (len < 26) return DT_WAV_ETRUNCATED;
    tag = get16(p + 24); /* the sub-format GUID starts with the format tag */
  }
  if (tag != DT_WAV_PCM16 && tag != DT_WAV_ALAW && tag != DT_WAV_ULAW) return DT_WAV_EFORMAT;
  if (channels != 1) return DT_WAV_ECHANNELS;
  if (bits != bits_for((dt_wav_format)tag)) return DT_WAV_EBITS;
  if (align != bits / 8) return DT_WAV_EALIGN;
  if (rate == 0 || rate > DT_WAV_MAX_RATE) return DT_WAV_ERATE;
  info->format = (dt_wav_format)tag;
  info->channels = channels;
  info->rate = rate;
  return 0;
}

int dt_wav_parse(const uint8_t *buf, size_t len, dt_wav_info *info)
{
  memset(info, 0, sizeof *info);
  if (len < 12) return DT_WAV_ETRUNCATED;
  if (memcmp(buf, "RIFF", 4) != 0 || memcmp(buf + 8, "WAVE", 4) != 0) return DT_WAV_ENOTWAV;
  /* A RIFF size beyond the buffer is common (streamed writers): the buffer bounds the walk. */
  uint32_t riff = get32(buf + 4);
  size_t end = riff >= 4 && riff <= len - 8 ? (size_t)riff + 8 : len;
  const uint8_t *data = NULL;
  size_t data_len = 0, pos = 12;
  int have_fmt = 0;
  while (end - pos >= 8) {
    const uint8_t *id = buf + pos;
    size_t size = get32(buf + pos + 4);
    pos += 8;
    if (size > end - pos) return DT_WAV_ETRUNCATED;
    if (memcmp(id, "fmt ", 4) == 0) {
      if (have_fmt) return DT_WAV_EDUP;
      int rc = parse_fmt(buf + pos, size, info);
      if (rc != 0) return rc;
      have_fmt = 1;
    } else if (memcmp(id, "data", 4) == 0) {
      if (data) return DT_WAV_EDUP;
      data = buf + pos;
      data_len = size;
    }
    pos += size + (size & 1 && size < end - pos); /* pad byte; may be missing at the end */
  }
  if (!have_fmt) return DT_WAV_ENOFMT;
  if (!data) return DT_WAV_ENODATA;
  size_t samples = data_len / (bits_for(info->format) / 8);
  if (samples > DT_WAV_MAX_SAMPLES) return DT_WAV_ETOOBIG;
  info->data = data;
  info->samples = samples;
  return 0;
}

void dt_wav_decode(const dt_wav_info *info, int16_t *out)
{
  const uint8_t *d = info->data;
  if (info->format == DT_WAV_ULAW) dt_ulaw_decode(d, info->samples, out);
  else if (info->format == DT_WAV_ALAW) dt_alaw_decode(d, info->samples, out);
  else
    for (size_t i = 0; i < info->samples; i++) out[i] = (int16_t)get16(d + 2 * i);
}

size_t dt_wav_size(dt_wav_format format, size_t n)
{
  if (n > DT_WAV_MAX_SAMPLES) return 0;
  return format == DT_WAV_PCM16 ? PCM_HEADER + 2 * n : G711_HEADER + n + (n & 1);
}

int dt_wav_write(const int16_t *pcm, size_t n, uint32_t rate, dt_wav_format format,
                 uint8_t *out, size_t cap, size_t *out_len)
{
  if (format != DT_WAV_PCM16 && format != DT_WAV_ALAW && format != DT_WAV_ULAW)
    return DT_WAV_EFORMAT;
  if (rate == 0 || rate > DT_WAV_MAX_RATE) return DT_WAV_ERATE;
  size_t total = dt_wav_size(format, n);
  if (total == 0) return DT_WAV_ETOOBIG;
  if (cap < total) return DT_WAV_ESPACE;
  unsigned bits = bits_for(format), bytes = bits / 8;
  uint8_t *p = put32(put_id(out, "RIFF"), (uint32_t)(total - 8));
  p = put32(put_id(put_id(p, "WAVE"), "fmt "), format == DT_WAV_PCM16 ? 16 : 18);
  p = put32(put16(put16(p, format), 1), rate);
  p = put16(put16(put32(p, rate * bytes), bytes), bits);
  if (format != DT_WAV_PCM16) /* non-PCM: cbSize, and a fact chunk with the sample count */
    p = put32(put32(put_id(put16(p, 0), "fact"), 4), (uint32_t)n);
  p = put32(put_id(p, "data"), (uint32_t)(n * bytes));
  if (format == DT_WAV_ULAW) dt_ulaw_encode(pcm, n, p);
  else if (format == DT_WAV_ALAW) dt_alaw_encode(pcm, n, p);
  else
    for (size_t i = 0; i < n; i++) put16(p + 2 * i, (uint16_t)pcm[i]);
  if (format != DT_WAV_PCM16 && (n & 1)) p[n] = 0; /* chunks are padded to an even size */
  *out_len = total;
  return 0;
}

const char *dt_wav_strerror(int err)
{
  switch (err) {
  case 0: return "ok";
  case DT_WAV_ETRUNCATED: return "truncated WAV (a chunk runs past the end of the data)";
  case DT_WAV_ENOTWAV: return "not a RIFF/WAVE file";
  case DT_WAV_ENOFMT: return "WAV has no fmt chunk";
  case DT_WAV_EFORMAT: return "unsupported WAV format (PCM 16-bit, A-law and mu-law only)";
  case DT_WAV_ECHANNELS: return "unsupported WAV channel count (mono only)";
  case DT_WAV_EBITS: return "unsupported WAV sample size (16-bit PCM or 8-bit G.711)";
  case DT_WAV_EALIGN: return "WAV block align does not match the sample size";
  case DT_WAV_ERATE: return "WAV sample rate out of range";
  case DT_WAV_ENODATA: return "WAV has no data chunk";
  case DT_WAV_ETOOBIG: return "WAV data is too long";
  case DT_WAV_ESPACE: return "output buffer too small for the WAV file";
  case DT_WAV_EDUP: return "WAV has a duplicate fmt or data chunk";
  default: return "WAV error";
  }
}
