#include "lapi_media_file.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resample.h"
#include "vm.h"
#include "wav.h"

#define MAX_FILE (64u * 1024 * 1024)

int dt_media_file_is_wav(const char *data, size_t len) { return len >= 12 && memcmp(data, "RIFF", 4) == 0; }

int dt_media_file_is_path(const char *data, size_t len)
{
  return len > 4 && len < 512 && memchr(data, '\0', len) == NULL && strcmp(data + len - 4, ".wav") == 0;
}

static int fail(lua_State *L, const char *fmt, const char *arg)
{
  lua_pushnil(L);
  lua_pushfstring(L, fmt, arg);
  return -1;
}

/* Reads a file under the script directory; relative names only, no way out of it. */
static int push_file(lua_State *L, const char *name)
{
  if (name[0] == '/' || strstr(name, "..")) return fail(L, "call:play: '%s' must be a relative path inside the script directory", name);
  char path[2048];
  snprintf(path, sizeof path, "%s/%s", dt_vm_from(L)->root, name);
  FILE *f = fopen(path, "rb");
  if (!f) return fail(L, "call:play: cannot open '%s'", name);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  char chunk[8192];
  size_t n, total = 0;
  while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && (total += n) <= MAX_FILE) luaL_addlstring(&b, chunk, n);
  fclose(f);
  luaL_pushresult(&b);
  if (total > MAX_FILE) return fail(L, "call:play: '%s' is too large", name);
  return 0;
}

/* Decodes a parsed WAV to PCM16 and converts 8 <-> 16 kHz as needed; pushes the result. */
static int push_converted(lua_State *L, const dt_wav_info *info, int rate)
{
  /* The decoded samples, then room for the converted ones (at most twice as many). */
  int16_t *pcm = malloc((3 * info->samples + 2) * sizeof *pcm);
  if (!pcm) return fail(L, "call:play: %s", "out of memory");
  dt_wav_decode(info, pcm);
  size_t n = info->samples;
  if ((int)info->rate != rate) {
    dt_resampler rs;
    int16_t *out = pcm + info->samples;
    size_t out_len;
    if (dt_resampler_init(&rs, (int)info->rate, rate) != 0 ||
        dt_resampler_process(&rs, pcm, n, out, 2 * info->samples + 2, &out_len) != 0) {
      free(pcm);
      return fail(L, "call:play: WAV at %s Hz cannot be converted (8000 or 16000 only)", lua_pushfstring(L, "%d", (int)info->rate));
    }
    memmove(pcm, out, out_len * sizeof *pcm);
    n = out_len;
  }
  lua_pushlstring(L, (const char *)pcm, n * sizeof *pcm);
  free(pcm);
  return 0;
}

int dt_media_file_push_pcm(lua_State *L, const char *data, size_t len, int rate)
{
  if (!dt_media_file_is_wav(data, len)) {
    if (push_file(L, data) != 0) return -1;
    data = lua_tolstring(L, -1, &len);
  }
  dt_wav_info info;
  int rc = dt_wav_parse((const uint8_t *)data, len, &info);
  if (rc != 0) return fail(L, "call:play: not a usable WAV file: %s", dt_wav_strerror(rc));
  return push_converted(L, &info, rate);
}
