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
  /* Organisations (API keys hashed), telephony configurations (secrets sealed under the master
   * key, at most one default per organisation), phone numbers, workflows; runs name their
   * configuration. */
  { 2,
    "CREATE TABLE organizations ("
    " id TEXT PRIMARY KEY NOT NULL, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL) STRICT;"
    "CREATE TABLE api_keys ("
    " id INTEGER PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " key_hash TEXT NOT NULL UNIQUE, prefix TEXT NOT NULL, created_at REAL NOT NULL, revoked_at REAL) STRICT;"
    "CREATE INDEX api_keys_org ON api_keys(organization_id);"
    "CREATE TABLE telephony_configs ("
    " id TEXT PRIMARY KEY NOT NULL, organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " name TEXT NOT NULL, provider TEXT NOT NULL, settings TEXT NOT NULL, secrets BLOB,"
    " is_default INTEGER NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
    " UNIQUE(organization_id, name)) STRICT;"
    "CREATE UNIQUE INDEX telephony_configs_default ON telephony_configs(organization_id) WHERE is_default = 1;"
    "CREATE TABLE phone_numbers ("
    " id INTEGER PRIMARY KEY, organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " config_id TEXT NOT NULL REFERENCES telephony_configs(id) ON DELETE CASCADE,"
    " number TEXT NOT NULL, created_at REAL NOT NULL, UNIQUE(config_id, number)) STRICT;"
    "CREATE TABLE workflows ("
    " id TEXT PRIMARY KEY NOT NULL, organization_id TEXT NOT NULL REFERENCES organizations(id),"
    " name TEXT NOT NULL, flow TEXT NOT NULL, settings TEXT NOT NULL DEFAULT '{}',"
    " created_at REAL NOT NULL, UNIQUE(organization_id, name)) STRICT;"
    "ALTER TABLE workflow_runs ADD COLUMN config_id TEXT;"
    "CREATE INDEX workflow_runs_org ON workflow_runs(organization_id, created_at);" },
};

const size_t dt_store_schema_count = sizeof dt_store_schema / sizeof dt_store_schema[0];
