/* Audio a flow hands to call:play(): WAV bytes, or the name of a WAV file under the script
 * directory, converted to the call's PCM. */
#ifndef DT_LAPI_MEDIA_FILE_H
#define DT_LAPI_MEDIA_FILE_H

#include <stddef.h>
#include <lua.h>

int dt_media_file_is_wav(const char *data, size_t len);
int dt_media_file_is_path(const char *data, size_t len);
/* Pushes the audio as PCM16 at rate and returns 0; or pushes nil and an error message and
 * returns -1. */
int dt_media_file_push_pcm(lua_State *L, const char *data, size_t len, int rate);
#endif
