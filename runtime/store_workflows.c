/* Workflows: an organisation's named uses of a flow module (scripts/workflows/<flow>.lua)
 * with their settings. */
#include "store_priv.h"

#include <string.h>

#include "config_fields.h"

#define COLUMNS "SELECT id, organization_id, name, flow, settings, created_at FROM workflows"
static const char SQL_INSERT[] =
  "INSERT INTO workflows(id, organization_id, name, flow, settings, created_at) VALUES(?2, ?1, ?3, ?4, ?5, ?6)";
static const char SQL_GET[] = COLUMNS " WHERE organization_id = ?1 AND id = ?2";
static const char SQL_LIST[] = COLUMNS " WHERE organization_id = ?1 ORDER BY created_at, rowid";

int dt_store_valid_flow(const char *flow, size_t len)
{
  if (len == 0 || len > DT_STORE_MAX_FLOW) return 0;
  for (size_t i = 0; i < len; i++) {
    char c = flow[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return 0;
  }
  return 1;
}

static int check(dt_store *s, dt_store_str name, dt_store_str flow, dt_store_str settings)
{
  char why[160];
  if (!name.text || !dt_store_valid_name(name.text, name.len))
    return dt_store_fail(s, DT_STORE_INVALID, "name must be 1..%d characters, no control characters", DT_STORE_MAX_NAME);
  if (!flow.text || !dt_store_valid_flow(flow.text, flow.len))
    return dt_store_fail(s, DT_STORE_INVALID, "flow must be 1..%d characters of [A-Za-z0-9_]", DT_STORE_MAX_FLOW);
  if (!settings.text) return DT_STORE_OK;
  cJSON *obj = dt_config_fields_parse(settings.text, settings.len, 0, why, sizeof why);
  cJSON_Delete(obj);
  return obj ? DT_STORE_OK : dt_store_fail(s, DT_STORE_INVALID, "%s", why);
}

int dt_store_workflow_create(dt_store *s, const char *org, size_t org_len, dt_store_str name, dt_store_str flow,
                             dt_store_str settings, double now, char id[DT_STORE_ID_SIZE])
{
  int rc = check(s, name, flow, settings);
  if (rc == DT_STORE_OK && (org_len == 0 || org_len > DT_STORE_MAX_TEXT)) rc = dt_store_fail(s, DT_STORE_NOT_FOUND, "not found");
  if (rc == DT_STORE_OK) rc = dt_store_new_id(s, "wf_", id);
  if (rc != DT_STORE_OK) return rc;
  if (!settings.text) settings = (dt_store_str){ "{}", 2 };
  sqlite3_stmt *st = dt_store_sql(s, SQL_INSERT);
  if (!st) return DT_STORE_ERROR;
  int b = dt_store_bind_text(st, 1, org, org_len);
  if (b == SQLITE_OK) b = dt_store_bind_text(st, 2, id, strlen(id));
  if (b == SQLITE_OK) b = dt_store_bind_text(st, 3, name.text, name.len);
  if (b == SQLITE_OK) b = dt_store_bind_text(st, 4, flow.text, flow.len);
  if (b == SQLITE_OK) b = dt_store_bind_text(st, 5, settings.text, settings.len);
  if (b == SQLITE_OK) b = sqlite3_bind_double(st, 6, now);
  return dt_store_done(s, st, b == SQLITE_OK ? sqlite3_step(st) : b);
}

static int visit_by(dt_store *s, const char *sql, const char *org, size_t org_len, const char *id, size_t id_len,
                    const dt_store_visitor *v, void *ud, size_t *rows)
{
  *rows = 0;
  if (org_len > DT_STORE_MAX_TEXT || id_len > DT_STORE_MAX_TEXT) return DT_STORE_OK;
  sqlite3_stmt *st = dt_store_sql(s, sql);
  if (!st) return DT_STORE_ERROR;
  int b = dt_store_bind_text(st, 1, org, org_len);
  if (b == SQLITE_OK && id) b = dt_store_bind_text(st, 2, id, id_len);
  return b == SQLITE_OK ? dt_store_visit(s, st, v, ud, rows) : dt_store_sqlite_fail(s, b);
}

int dt_store_workflow_get(dt_store *s, const char *org, size_t org_len, const char *id, size_t id_len,
                          const dt_store_visitor *v, void *ud)
{
  size_t rows;
  int rc = visit_by(s, SQL_GET, org, org_len, id, id_len, v, ud, &rows);
  return rc == DT_STORE_OK && rows == 0 ? dt_store_fail(s, DT_STORE_NOT_FOUND, "not found") : rc;
}

int dt_store_workflows_list(dt_store *s, const char *org, size_t org_len, const dt_store_visitor *v, void *ud)
{
  size_t rows;
  return visit_by(s, SQL_LIST, org, org_len, NULL, 0, v, ud, &rows);
}
