/* The schema, as numbered migrations. A released migration is never edited: a change is a
 * new one appended with the next version. Tables are STRICT so a value of the wrong type is
 * refused by SQLite itself. */
#include "store.h"

const dt_store_migration dt_store_schema[] = {
  { 1,
    "CREATE TABLE workflow_runs ("
    " id TEXT PRIMARY KEY NOT NULL, organization_id TEXT, workflow_id TEXT, user_id TEXT,"
    " provider TEXT, config_name TEXT, call_id TEXT, to_number TEXT, from_number TEXT,"
    " status TEXT, error TEXT, media_token TEXT, media_state TEXT,"
    " created_at REAL NOT NULL, updated_at REAL NOT NULL,"
    " initiated_at REAL, ringing_at REAL, answered_at REAL, ended_at REAL,"
    " duration REAL, cost REAL, currency TEXT, cost_state TEXT) STRICT;"
    "CREATE INDEX workflow_runs_created ON workflow_runs(created_at);"
    "CREATE INDEX workflow_runs_status ON workflow_runs(status, created_at);"
    "CREATE TABLE call_events ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " run_id TEXT NOT NULL REFERENCES workflow_runs(id),"
    " received_at REAL NOT NULL, source TEXT, raw TEXT, raw_status TEXT, status TEXT,"
    " outcome TEXT) STRICT;"
    "CREATE INDEX call_events_run ON call_events(run_id);"
    "CREATE TABLE webhook_nonces (key TEXT PRIMARY KEY NOT NULL, expires_at REAL NOT NULL) STRICT;"
    "CREATE INDEX webhook_nonces_expiry ON webhook_nonces(expires_at);" },
};

const size_t dt_store_schema_count = sizeof dt_store_schema / sizeof dt_store_schema[0];
