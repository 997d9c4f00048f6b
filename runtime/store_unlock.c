#include "store_unlock.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <openssl/crypto.h>

#include "master_key.h"

int dt_store_unlock(dt_store *s, const char *data_dir, char *err, size_t errlen)
{
  int sealed = 0;
  uint8_t key[DT_MASTER_KEY_LEN];
  if (dt_store_configs_sealed(s, &sealed) != DT_STORE_OK) {
    snprintf(err, errlen, "%s", dt_store_error(s));
    return -1;
  }
  int rc = dt_master_key_load(getenv(DT_MASTER_KEY_ENV), data_dir, sealed, key, err, errlen);
  if (rc == 0) dt_store_set_master_key(s, key);
  OPENSSL_cleanse(key, sizeof key);
  return rc;
}
