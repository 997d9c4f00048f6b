/* Zero set-up: a fresh data directory gets a default organisation that calls through the
 * simulated carrier, so `dialtone serve`, the web UI's test call and the REPL work at once. */
#ifndef DT_FIRST_START_H
#define DT_FIRST_START_H

#include <stdio.h>

#include "store.h"

/* When the store has no organisation yet: creates "default" with a "sim" telephony
 * configuration (its webhook secret random) and an "Echo" workflow, then writes the API key
 * (shown this once, like `dialtone org create`; never in a log line) and where to sign in to
 * out (the server passes stderr: stdout belongs to the REPL's values).
 * Returns 1 when it created them, 0 when the store already had an organisation, -1 on error
 * (message in err). */
int dt_first_start(dt_store *s, const char *public_url, FILE *out, char *err, size_t errlen);
/* The API key dt_first_start made in this process, or NULL: an in-process REPL acts as the
 * default organisation with it, so a fresh data directory needs no set-up at all. */
const char *dt_first_start_api_key(void);
#endif
