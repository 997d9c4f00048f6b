/* The script host: the current generation, reloads (file watch, SIGHUP, admin endpoint) and
 * what /admin/status reports about them. */
#ifndef DT_HOST_H
#define DT_HOST_H

#include "gen.h"

/* Builds the first generation. Returns 0, or -1 with "file:line: message" in err. */
int dt_host_start(const dt_gen_options *opts, char *err, size_t errlen);
dt_gen *dt_host_current(void);
/* Builds a new generation; on success it serves new requests, on failure the running one
 * stays and the error is logged and kept for the status. Returns 0 or -1. */
int dt_host_reload(const char *reason);
/* Last reload error ("" if the last reload succeeded). */
const char *dt_host_last_error(void);
/* Appends the status as a JSON object to buf. Returns the length written. */
int dt_host_status_json(char *buf, size_t size);
/* Lets go of the current generation (at shutdown). */
void dt_host_stop(void);
#endif
