/* call:record: the caller's audio (flow-rate PCM16 mono) written to a WAV file under
 * <data dir>/recordings/, as it arrives, in C. The file is written incrementally: a header
 * with placeholder sizes, then about a second of audio at a time; the sizes are patched when
 * the recording stops (by the flow, by a new recording, or when the call ends). */
#ifndef DT_MEDIA_RECORD_H
#define DT_MEDIA_RECORD_H

#include <stddef.h>

#include "media.h"

/* Where recordings go: <dir>/recordings/. Until it is set, recording is refused. */
void dt_media_set_data_dir(const char *dir);
/* Starts recording m's caller audio to recordings/<name>, replacing (and finalising) a
 * recording already in progress on m; an existing file of that name is overwritten. name:
 * [A-Za-z0-9_.-]+ ending in .wav, without "..". Returns 0, or -1 with a message in err. */
int dt_media_record_start(dt_media *m, const char *name, char *err, size_t errlen);
/* Stops and finalises m's recording, if any. */
void dt_media_record_stop(dt_media *m);
#endif
