/* The fields of a telephony configuration as JSON (cJSON): checked, split into the public
 * and the secret ones before storage, merged back after. */
#ifndef DT_CONFIG_FIELDS_H
#define DT_CONFIG_FIELDS_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "store.h"

/* Parses len bytes of text: a JSON object of at most DT_STORE_MAX_FIELDS fields with distinct
 * names of 1..DT_STORE_MAX_NAME bytes, at most DT_STORE_MAX_SETTINGS bytes; when strings_only,
 * every value a string or an array of strings. Returns the object, or NULL with a message. */
cJSON *dt_config_fields_parse(const char *text, size_t len, int strings_only, char *err, size_t errlen);
/* A JSON array of the n names (each 1..DT_STORE_MAX_NAME bytes, at most DT_STORE_MAX_FIELDS),
 * or NULL with a message. */
cJSON *dt_config_fields_names(const dt_store_str *names, size_t n, char *err, size_t errlen);
/* Moves the fields of settings whose names are in names into a new object, returned (NULL
 * when out of memory). */
cJSON *dt_config_fields_take(cJSON *settings, const cJSON *names);
/* Moves every field of secrets into settings (emptying secrets) and returns the array of
 * their names (NULL when out of memory). */
cJSON *dt_config_fields_merge(cJSON *settings, cJSON *secrets);
#endif
