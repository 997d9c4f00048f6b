/* Gives an open store its master key (master_key.h), the same way for every command that
 * opens the data directory. */
#ifndef DT_STORE_UNLOCK_H
#define DT_STORE_UNLOCK_H

#include <stddef.h>

#include "store.h"

/* Loads the master key for the store opened from data_dir and hands it over. The store is asked
 * first whether it holds sealed secrets: then a missing key file is refused rather than replaced
 * by a new key that opens none of them. Returns 0, or -1 with a message in err. */
int dt_store_unlock(dt_store *s, const char *data_dir, char *err, size_t errlen);
#endif
