/* The phone numbers of a telephony configuration, as the carrier last listed them. */
#include "store_priv.h"

#include <string.h>

static const char SQL_OWNED[] = "SELECT 1 FROM telephony_configs WHERE organization_id = ?1 AND id = ?2";
static const char SQL_CLEAR[] = "DELETE FROM phone_numbers WHERE config_id = ?1";
static const char SQL_ADD[] =
  "INSERT INTO phone_numbers(organization_id, config_id, number, created_at) VALUES(?1, ?2, ?3, ?4)"
  " ON CONFLICT(config_id, number) DO NOTHING";
static const char SQL_LIST[] =
  "SELECT number FROM phone_numbers WHERE organization_id = ?1 AND config_id = ?2 ORDER BY id";

static int bind_pair(dt_store *s, sqlite3_stmt *st, const char *a, size_t a_len, const char *b, size_t b_len)
{
  int rc = dt_store_bind_text(st, 1, a, a_len);
  if (rc == SQLITE_OK) rc = dt_store_bind_text(st, 2, b, b_len);
  return rc == SQLITE_OK ? DT_STORE_OK : dt_store_sqlite_fail(s, rc);
}

static int check_numbers(dt_store *s, const dt_store_str *numbers, size_t n)
{
  if (n > DT_STORE_MAX_NUMBERS) return dt_store_fail(s, DT_STORE_INVALID, "more than %d numbers", DT_STORE_MAX_NUMBERS);
  for (size_t i = 0; i < n; i++)
    if (numbers[i].len == 0 || numbers[i].len > DT_STORE_MAX_NUMBER)
      return dt_store_fail(s, DT_STORE_INVALID, "a phone number must be 1..%d bytes", DT_STORE_MAX_NUMBER);
  return DT_STORE_OK;
}

/* DT_STORE_NOT_FOUND unless the configuration belongs to the organisation. */
static int owned(dt_store *s, const char *org, size_t org_len, const char *config_id, size_t config_len)
{
  if (org_len == 0 || org_len > DT_STORE_MAX_TEXT || config_len == 0 || config_len > DT_STORE_MAX_TEXT)
    return dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  sqlite3_stmt *st = dt_store_sql(s, SQL_OWNED);
  if (!st) return DT_STORE_ERROR;
  int rc = bind_pair(s, st, org, org_len, config_id, config_len);
  if (rc != DT_STORE_OK) return rc;
  int step = sqlite3_step(st);
  rc = step == SQLITE_ROW ? DT_STORE_OK
     : step == SQLITE_DONE ? dt_store_fail(s, DT_STORE_NOT_FOUND, "not found") : dt_store_sqlite_fail(s, step);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc;
}

static int replace(dt_store *s, const char *org, size_t org_len, const char *config_id, size_t config_len,
                   const dt_store_str *numbers, size_t n, double now)
{
  sqlite3_stmt *st = dt_store_sql(s, SQL_CLEAR);
  if (!st) return DT_STORE_ERROR;
  int b = dt_store_bind_text(st, 1, config_id, config_len);
  int rc = dt_store_done(s, st, b == SQLITE_OK ? sqlite3_step(st) : b);
  for (size_t i = 0; rc == DT_STORE_OK && i < n; i++) {
    if (!(st = dt_store_sql(s, SQL_ADD))) return DT_STORE_ERROR;
    rc = bind_pair(s, st, org, org_len, config_id, config_len);
    if (rc != DT_STORE_OK) return rc;
    b = dt_store_bind_text(st, 3, numbers[i].text, numbers[i].len);
    if (b == SQLITE_OK) b = sqlite3_bind_double(st, 4, now);
    rc = dt_store_done(s, st, b == SQLITE_OK ? sqlite3_step(st) : b);
  }
  return rc;
}

int dt_store_numbers_set(dt_store *s, const char *org, size_t org_len, const char *config_id, size_t config_len,
                         const dt_store_str *numbers, size_t n, double now)
{
  int rc = check_numbers(s, numbers, n);
  if (rc == DT_STORE_OK) rc = dt_store_begin(s);
  if (rc != DT_STORE_OK) return rc;
  rc = owned(s, org, org_len, config_id, config_len);
  if (rc == DT_STORE_OK) rc = replace(s, org, org_len, config_id, config_len, numbers, n, now);
  return dt_store_end(s, rc);
}

int dt_store_numbers_list(dt_store *s, const char *org, size_t org_len, const char *config_id, size_t config_len,
                          const dt_store_visitor *v, void *ud)
{
  if (org_len > DT_STORE_MAX_TEXT || config_len > DT_STORE_MAX_TEXT) return DT_STORE_OK;
  sqlite3_stmt *st = dt_store_sql(s, SQL_LIST);
  if (!st) return DT_STORE_ERROR;
  int rc = bind_pair(s, st, org, org_len, config_id, config_len);
  size_t rows;
  return rc == DT_STORE_OK ? dt_store_visit(s, st, v, ud, &rows) : rc;
}
