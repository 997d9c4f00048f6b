/* dialtone.codec: G.711, 8k <-> 16k resampling, WAV, tones and DTMF for scripts (base64 is
 * dialtone.crypto's). PCM strings are 16-bit little-endian mono. The work is done by g711,
 * resample, wav and dtmf; this file converts between Lua strings and sample buffers. */
#include "lapi.h"

#include <lauxlib.h>
#include <string.h>

#include "dtmf.h"
#include "g711.h"
#include "resample.h"
#include "wav.h"

#define RESAMPLER_MT "dialtone.codec.resampler"
#define DETECTOR_MT "dialtone.codec.dtmf_detector"
#define CHUNK 1024                /* samples converted per step */
#define STACK_OUT 4096            /* outputs up to this many bytes need no allocation */
#define MAX_GEN_MS (10 * 60 * 1000) /* generated audio: at most 10 minutes */

/* Room for n bytes of output: buf when it fits, else a userdata left on the stack. */
static char *out_buffer(lua_State *L, size_t n, char *buf)
{
  return n <= STACK_OUT ? buf : lua_newuserdata(L, n);
}

static const char *check_pcm(lua_State *L, int idx, const char *fn, size_t *samples)
{
  size_t len;
  const char *s = luaL_checklstring(L, idx, &len);
  if (len % 2)
    luaL_error(L, "dialtone.codec.%s: PCM has an odd number of bytes (%d)", fn, (int)len);
  *samples = len / 2;
  return s;
}

static void load_pcm(const char *s, size_t n, int16_t *out)
{
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n; i++) out[i] = (int16_t)(p[2 * i] | p[2 * i + 1] << 8);
}

static void store_pcm(const int16_t *pcm, size_t n, char *out)
{
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = (char)(pcm[i] & 0xFF);
    out[2 * i + 1] = (char)((uint16_t)pcm[i] >> 8);
  }
}

typedef void (*g711_encoder)(const int16_t *, size_t, uint8_t *);
typedef void (*g711_decoder)(const uint8_t *, size_t, int16_t *);

static int encode_g711(lua_State *L, const char *fn, g711_encoder encode)
{
  size_t n;
  const char *s = check_pcm(L, 1, fn, &n);
  char stack[STACK_OUT], *out = out_buffer(L, n, stack);
  int16_t pcm[CHUNK];
  for (size_t done = 0; done < n; done += CHUNK) {
    size_t k = n - done < CHUNK ? n - done : CHUNK;
    load_pcm(s + 2 * done, k, pcm);
    encode(pcm, k, (uint8_t *)out + done);
  }
  lua_pushlstring(L, out, n);
  return 1;
}

static int decode_g711(lua_State *L, g711_decoder decode)
{
  size_t n;
  const uint8_t *s = (const uint8_t *)luaL_checklstring(L, 1, &n);
  if (n > ((size_t)-1) / 2) return luaL_error(L, "dialtone.codec: input too large");
  char stack[STACK_OUT], *out = out_buffer(L, 2 * n, stack);
  int16_t pcm[CHUNK];
  for (size_t done = 0; done < n; done += CHUNK) {
    size_t k = n - done < CHUNK ? n - done : CHUNK;
    decode(s + done, k, pcm);
    store_pcm(pcm, k, out + 2 * done);
  }
  lua_pushlstring(L, out, 2 * n);
  return 1;
}

static int l_ulaw_encode(lua_State *L) { return encode_g711(L, "ulaw_encode", dt_ulaw_encode); }
static int l_alaw_encode(lua_State *L) { return encode_g711(L, "alaw_encode", dt_alaw_encode); }
static int l_ulaw_decode(lua_State *L) { return decode_g711(L, dt_ulaw_decode); }
static int l_alaw_decode(lua_State *L) { return decode_g711(L, dt_alaw_decode); }

static int l_resampler(lua_State *L)
{
  int from = (int)luaL_checkinteger(L, 1), to = (int)luaL_checkinteger(L, 2);
  dt_resampler *r = lua_newuserdata(L, sizeof *r);
  if (dt_resampler_init(r, from, to) != 0)
    return luaL_error(L, "dialtone.codec.resampler: only 8000 -> 16000 and 16000 -> 8000 are "
                         "supported (got %d -> %d)", from, to);
  luaL_getmetatable(L, RESAMPLER_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static int l_resampler_process(lua_State *L)
{
  dt_resampler *r = luaL_checkudata(L, 1, RESAMPLER_MT);
  size_t n;
  const char *s = check_pcm(L, 2, "resampler:process", &n);
  size_t total = dt_resampler_out_len(r, n), o = 0;
  char stack[STACK_OUT], *out = out_buffer(L, 2 * total, stack);
  int16_t in[CHUNK], res[2 * CHUNK];
  for (size_t done = 0; done < n; done += CHUNK) {
    size_t k = n - done < CHUNK ? n - done : CHUNK, len;
    load_pcm(s + 2 * done, k, in);
    dt_resampler_process(r, in, k, res, 2 * CHUNK, &len);
    store_pcm(res, len, out + 2 * o);
    o += len;
  }
  lua_pushlstring(L, out, 2 * o);
  return 1;
}

static const char *format_name(dt_wav_format f)
{
  return f == DT_WAV_ULAW ? "ulaw" : f == DT_WAV_ALAW ? "alaw" : "pcm16";
}

static int l_wav_read(lua_State *L)
{
  size_t len;
  const uint8_t *buf = (const uint8_t *)luaL_checklstring(L, 1, &len);
  dt_wav_info info;
  int rc = dt_wav_parse(buf, len, &info);
  if (rc != 0) {
    lua_pushnil(L);
    lua_pushstring(L, dt_wav_strerror(rc));
    return 2;
  }
  int16_t *pcm = lua_newuserdata(L, info.samples ? info.samples * sizeof *pcm : 1);
  dt_wav_decode(&info, pcm);
  char *bytes = lua_newuserdata(L, info.samples ? 2 * info.samples : 1);
  store_pcm(pcm, info.samples, bytes);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)info.rate);
  lua_setfield(L, -2, "rate");
  lua_pushstring(L, format_name(info.format));
  lua_setfield(L, -2, "format");
  lua_pushinteger(L, (lua_Integer)info.channels);
  lua_setfield(L, -2, "channels");
  lua_pushlstring(L, bytes, 2 * info.samples);
  lua_setfield(L, -2, "pcm");
  return 1;
}

static int l_wav_write(lua_State *L)
{
  static const char *const names[] = { "pcm16", "ulaw", "alaw", NULL };
  static const dt_wav_format formats[] = { DT_WAV_PCM16, DT_WAV_ULAW, DT_WAV_ALAW };
  size_t n;
  const char *s = check_pcm(L, 1, "wav_write", &n);
  lua_Integer rate = luaL_checkinteger(L, 2);
  dt_wav_format format = formats[luaL_checkoption(L, 3, "pcm16", names)];
  if (rate < 1 || rate > DT_WAV_MAX_RATE)
    return luaL_error(L, "dialtone.codec.wav_write: rate must be between 1 and %d",
                      DT_WAV_MAX_RATE);
  size_t size = dt_wav_size(format, n), len;
  if (size == 0) return luaL_error(L, "dialtone.codec.wav_write: too many samples");
  int16_t *pcm = lua_newuserdata(L, n ? n * sizeof *pcm : 1);
  load_pcm(s, n, pcm);
  uint8_t *out = lua_newuserdata(L, size);
  dt_wav_write(pcm, n, (uint32_t)rate, format, out, size, &len);
  lua_pushlstring(L, (const char *)out, len);
  return 1;
}

static unsigned check_rate(lua_State *L, int idx, const char *fn)
{
  lua_Integer rate = luaL_checkinteger(L, idx);
  if (rate < 8000 || rate > DT_TONE_MAX_RATE)
    luaL_error(L, "dialtone.codec.%s: rate must be between 8000 and %d", fn, DT_TONE_MAX_RATE);
  return (unsigned)rate;
}

static unsigned check_ms(lua_State *L, int idx, lua_Integer dflt, const char *fn)
{
  lua_Integer ms = luaL_optinteger(L, idx, dflt);
  if (ms < 0 || ms > MAX_GEN_MS)
    luaL_error(L, "dialtone.codec.%s: durations must be between 0 and %d ms", fn, MAX_GEN_MS);
  return (unsigned)ms;
}

static int l_tone(lua_State *L)
{
  double freq = luaL_checknumber(L, 1);
  luaL_checkinteger(L, 2); /* required, unlike dtmf_tones' durations */
  unsigned ms = check_ms(L, 2, 0, "tone"), rate = check_rate(L, 3, "tone");
  double amplitude = luaL_optnumber(L, 4, 0.5);
  size_t n = (size_t)ms * rate / 1000;
  int16_t *pcm = lua_newuserdata(L, n ? n * sizeof *pcm : 1);
  if (dt_tone(freq, amplitude, rate, pcm, n) != 0)
    return luaL_error(L, "dialtone.codec.tone: frequency must be above 0 and below rate / 2, "
                         "amplitude between 0 and 1");
  char *out = lua_newuserdata(L, n ? 2 * n : 1);
  store_pcm(pcm, n, out);
  lua_pushlstring(L, out, 2 * n);
  return 1;
}

static int l_dtmf_tones(lua_State *L)
{
  size_t nkeys;
  const char *keys = luaL_checklstring(L, 1, &nkeys);
  unsigned rate = check_rate(L, 2, "dtmf_tones");
  unsigned tone_ms = check_ms(L, 3, 100, "dtmf_tones"), gap_ms = check_ms(L, 4, 50, "dtmf_tones");
  size_t max = (size_t)MAX_GEN_MS * rate / 1000;
  size_t n = dt_dtmf_tones_len(nkeys, rate, tone_ms, gap_ms, max), len = 0;
  if (n > max)
    return luaL_error(L, "dialtone.codec.dtmf_tones: longer than %d minutes", MAX_GEN_MS / 60000);
  int16_t *pcm = lua_newuserdata(L, n ? n * sizeof *pcm : 1);
  if (dt_dtmf_tones(keys, nkeys, rate, tone_ms, gap_ms, DT_DTMF_AMPLITUDE, pcm, n, &len) != 0)
    return luaL_error(L, "dialtone.codec.dtmf_tones: keys must be 0-9, *, #, A-D");
  char *out = lua_newuserdata(L, len ? 2 * len : 1);
  store_pcm(pcm, len, out);
  lua_pushlstring(L, out, 2 * len);
  return 1;
}

static int l_dtmf_detector(lua_State *L)
{
  dt_dtmf_detector *d = lua_newuserdata(L, sizeof *d);
  dt_dtmf_init(d);
  luaL_getmetatable(L, DETECTOR_MT);
  lua_setmetatable(L, -2);
  return 1;
}

static int l_detector_feed(lua_State *L)
{
  dt_dtmf_detector *d = luaL_checkudata(L, 1, DETECTOR_MT);
  size_t n;
  const char *s = check_pcm(L, 2, "dtmf_detector:feed", &n);
  int16_t pcm[CHUNK];
  char keys[DT_DTMF_MAX_KEYS(CHUNK)];
  int found = 0;
  lua_newtable(L);
  for (size_t done = 0; done < n; done += CHUNK) {
    size_t k = n - done < CHUNK ? n - done : CHUNK, count;
    load_pcm(s + 2 * done, k, pcm);
    dt_dtmf_feed(d, pcm, k, keys, sizeof keys, &count);
    for (size_t i = 0; i < count; i++) {
      lua_pushlstring(L, keys + i, 1);
      lua_rawseti(L, -2, ++found);
    }
  }
  return 1;
}

static void new_class(lua_State *L, const char *name, const char *method, lua_CFunction fn)
{
  luaL_newmetatable(L, name);
  lua_newtable(L);
  lua_pushcfunction(L, fn);
  lua_setfield(L, -2, method);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

int dt_lapi_codec_open(lua_State *L)
{
  static const luaL_Reg fns[] = {
    { "ulaw_encode", l_ulaw_encode }, { "ulaw_decode", l_ulaw_decode },
    { "alaw_encode", l_alaw_encode }, { "alaw_decode", l_alaw_decode },
    { "resampler", l_resampler },     { "wav_read", l_wav_read },
    { "wav_write", l_wav_write },     { "tone", l_tone },
    { "dtmf_tones", l_dtmf_tones },   { "dtmf_detector", l_dtmf_detector },
    { NULL, NULL },
  };
  new_class(L, RESAMPLER_MT, "process", l_resampler_process);
  new_class(L, DETECTOR_MT, "feed", l_detector_feed);
  lua_newtable(L);
  luaL_register(L, NULL, fns);
  return 1;
}
