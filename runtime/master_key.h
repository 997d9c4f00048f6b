/* The master key that encrypts secrets at rest (telephony configurations' secret fields).
 * It comes from DIALTONE_MASTER_KEY (64 hex digits, or base64 of 32 bytes) or else from
 * <data_dir>/master.key, created on first use with 32 random bytes written in base64, mode
 * 0600. A key file that group or others may read or write, or that is not a regular file
 * owned by this user, is refused. The key is never stored in the database, never logged:
 * no message here contains it. */
#ifndef DT_MASTER_KEY_H
#define DT_MASTER_KEY_H

#include <stddef.h>
#include <stdint.h>

#define DT_MASTER_KEY_LEN 32
#define DT_MASTER_KEY_FILE "master.key"
#define DT_MASTER_KEY_ENV "DIALTONE_MASTER_KEY"

/* Parses len bytes of text (64 hex digits or base64 of 32 bytes, surrounding whitespace
 * ignored) into key. Returns 0, or -1 when it is neither. */
int dt_master_key_parse(const char *text, size_t len, uint8_t key[DT_MASTER_KEY_LEN]);

/* The key from env_value when it is not NULL or empty, else from the key file in data_dir
 * (an existing directory), created when absent (and the directory synced, so the key survives
 * a power loss) unless sealed is set: when the database holds data sealed under the key, an
 * absent key file is an error and nothing is created, as a new key could open none of that
 * data. Returns 0, or -1 with a message in err. */
int dt_master_key_load(const char *env_value, const char *data_dir, int sealed, uint8_t key[DT_MASTER_KEY_LEN],
                       char *err, size_t errlen);
#endif
