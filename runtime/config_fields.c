#include "config_fields.h"

#include <stdio.h>
#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static int string_list(const cJSON *v)
{
  if (cJSON_IsString(v)) return 1;
  if (!cJSON_IsArray(v)) return 0;
  for (const cJSON *e = v->child; e; e = e->next)
    if (!cJSON_IsString(e)) return 0;
  return 1;
}

static int check_fields(const cJSON *obj, int strings_only, char *err, size_t errlen)
{
  size_t n = 0;
  for (const cJSON *f = obj->child; f; f = f->next, n++) {
    size_t len = strlen(f->string);
    if (n == DT_STORE_MAX_FIELDS) return snprintf(err, errlen, "more than %d fields", DT_STORE_MAX_FIELDS), -1;
    if (len == 0 || len > DT_STORE_MAX_NAME)
      return snprintf(err, errlen, "field names must be 1..%d bytes", DT_STORE_MAX_NAME), -1;
    for (const cJSON *g = obj->child; g != f; g = g->next)
      if (strcmp(g->string, f->string) == 0) return snprintf(err, errlen, "field '%s' given twice", f->string), -1;
    if (strings_only && !string_list(f))
      return snprintf(err, errlen, "field '%s' must be a string or a list of strings", f->string), -1;
  }
  return 0;
}

cJSON *dt_config_fields_parse(const char *text, size_t len, int strings_only, char *err, size_t errlen)
{
  if (len > DT_STORE_MAX_SETTINGS) {
    snprintf(err, errlen, "settings are longer than %d bytes", DT_STORE_MAX_SETTINGS);
    return NULL;
  }
  const char *end = NULL;
  cJSON *obj = cJSON_ParseWithLengthOpts(text, len, &end, 0);
  while (obj && end < text + len && is_space(*end)) end++;
  if (!obj || end != text + len || !cJSON_IsObject(obj)) {
    snprintf(err, errlen, "settings must be a JSON object");
    cJSON_Delete(obj);
    return NULL;
  }
  if (check_fields(obj, strings_only, err, errlen) != 0) {
    cJSON_Delete(obj);
    return NULL;
  }
  return obj;
}

cJSON *dt_config_fields_names(const dt_store_str *names, size_t n, char *err, size_t errlen)
{
  if (n > DT_STORE_MAX_FIELDS) {
    snprintf(err, errlen, "more than %d secret fields", DT_STORE_MAX_FIELDS);
    return NULL;
  }
  cJSON *list = cJSON_CreateArray();
  char name[DT_STORE_MAX_NAME + 1];
  for (size_t i = 0; list && i < n; i++) {
    if (names[i].len == 0 || names[i].len > DT_STORE_MAX_NAME || memchr(names[i].text, '\0', names[i].len)) {
      snprintf(err, errlen, "secret field names must be 1..%d bytes", DT_STORE_MAX_NAME);
      cJSON_Delete(list);
      return NULL;
    }
    memcpy(name, names[i].text, names[i].len);
    name[names[i].len] = '\0';
    cJSON *s = cJSON_CreateString(name);
    if (!s || !cJSON_AddItemToArray(list, s)) {
      cJSON_Delete(s);
      cJSON_Delete(list);
      list = NULL;
    }
  }
  if (!list) snprintf(err, errlen, "out of memory");
  return list;
}

static int named(const cJSON *names, const char *name)
{
  for (const cJSON *e = names->child; e; e = e->next)
    if (cJSON_IsString(e) && strcmp(e->valuestring, name) == 0) return 1;
  return 0;
}

cJSON *dt_config_fields_take(cJSON *settings, const cJSON *names)
{
  cJSON *secrets = cJSON_CreateObject();
  cJSON *f = settings->child;
  while (secrets && f) {
    cJSON *next = f->next;
    if (named(names, f->string)) {
      cJSON *item = cJSON_DetachItemViaPointer(settings, f);
      if (!cJSON_AddItemToObject(secrets, item->string, item)) {
        cJSON_Delete(item);
        cJSON_Delete(secrets);
        return NULL;
      }
    }
    f = next;
  }
  return secrets;
}

cJSON *dt_config_fields_merge(cJSON *settings, cJSON *secrets)
{
  cJSON *names = cJSON_CreateArray();
  while (names && secrets->child) {
    cJSON *f = cJSON_DetachItemViaPointer(secrets, secrets->child);
    cJSON *name = cJSON_CreateString(f->string);
    cJSON_DeleteItemFromObjectCaseSensitive(settings, f->string);
    if (!name || !cJSON_AddItemToArray(names, name)) {
      cJSON_Delete(name);
      name = NULL;
    }
    if (!name || !cJSON_AddItemToObject(settings, f->string, f)) {
      cJSON_Delete(f);
      cJSON_Delete(names);
      return NULL;
    }
  }
  return names;
}
