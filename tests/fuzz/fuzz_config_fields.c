/* Configuration settings as they arrive from the API (JSON text): whatever parses is a
 * checked object whose split into public and secret fields merges back to the same fields;
 * the names of the secret fields come from the input's first line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config_fields.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t count(const cJSON *obj)
{
  size_t n = 0;
  for (const cJSON *f = obj ? obj->child : NULL; f; f = f->next) n++;
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *text = (const char *)data, *nl = memchr(data, '\n', size);
  dt_store_str names[DT_STORE_MAX_FIELDS + 1];
  size_t n = 0, head = nl ? (size_t)(nl - text) + 1 : 0;
  for (size_t i = 0, start = 0; nl && i <= (size_t)(nl - text) && n <= DT_STORE_MAX_FIELDS; i++) {
    if (i == (size_t)(nl - text) || text[i] == ',') {
      names[n++] = (dt_store_str){ text + start, i - start };
      start = i + 1;
    }
  }
  char err[256];
  cJSON *settings = dt_config_fields_parse(text + head, size - head, 1, err, sizeof err);
  cJSON *list = dt_config_fields_names(names, n, err, sizeof err);
  if (settings && list) {
    size_t before = count(settings);
    if (before > DT_STORE_MAX_FIELDS) abort();
    char *original = cJSON_PrintUnformatted(settings);
    cJSON *secrets = dt_config_fields_take(settings, list);
    if (secrets && count(settings) + count(secrets) != before) abort();
    cJSON *merged_names = secrets ? dt_config_fields_merge(settings, secrets) : NULL;
    if (merged_names && count(settings) != before) abort();
    if (original && merged_names) {
      /* Every original field is back with its value. */
      cJSON *again = cJSON_Parse(original);
      for (const cJSON *f = again ? again->child : NULL; f; f = f->next)
        if (!cJSON_Compare(f, cJSON_GetObjectItemCaseSensitive(settings, f->string), 1)) abort();
      cJSON_Delete(again);
    }
    cJSON_Delete(merged_names);
    cJSON_Delete(secrets);
    cJSON_free(original);
  }
  cJSON_Delete(list);
  cJSON_Delete(settings);
  return 0;
}
