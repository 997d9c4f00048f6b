/* dialtone.store: organisations, API keys and workflows.
 *
 *   create_organization(name) -> org {id, name, created_at}, api_key (shown this once: only its
 *     hash is stored); nil, "exists"; nil, err for a name that is not 1..100 characters
 *   get_organization(id) -> org, or nil;  list_organizations() -> list of orgs, oldest first
 *   organization_for_key(api_key) -> org, or nil (unknown or revoked key)
 *   rotate_api_key(org_id) -> a new api_key, revoking every earlier one; or nil, "not found"
 *   create_workflow(org_id, {name=, flow=, settings=}) -> workflow {id, organization_id, name,
 *     flow, settings, created_at}; nil, "exists"; nil, err (flow: [A-Za-z0-9_]+; settings: a
 *     table, at most 64 fields and 64 KiB as JSON)
 *   get_workflow(org_id, id) -> workflow, or nil;  list_workflows(org_id) -> list, oldest first
 *
 * Organisation-scoped calls never return another organisation's rows. */
#include "lapi_store.h"

#include <lauxlib.h>
#include <string.h>

#include <openssl/crypto.h>

static void push_org(lua_State *L, const dt_store_org *org)
{
  lua_createtable(L, 0, 3);
  lua_pushstring(L, org->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, org->name);
  lua_setfield(L, -2, "name");
  lua_pushnumber(L, org->created_at);
  lua_setfield(L, -2, "created_at");
}

/* Pushes the key and wipes the C copy. */
static void push_key(lua_State *L, char key[DT_API_KEY_LEN + 1])
{
  lua_pushlstring(L, key, DT_API_KEY_LEN);
  OPENSSL_cleanse(key, DT_API_KEY_LEN + 1);
}

static int l_create_organization(lua_State *L)
{
  dt_store *s = dt_lapi_store(L);
  size_t len;
  const char *name = dt_lapi_store_arg_string(L, 1, "dialtone.store.create_organization", "name", &len);
  dt_store_org org;
  char key[DT_API_KEY_LEN + 1];
  int rc = dt_store_org_create(s, name, len, dt_lapi_store_now(), &org, key);
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  push_org(L, &org);
  push_key(L, key);
  return 2;
}

/* Pushes the organisation found by find for the string argument 1, or nil. */
static int push_found(lua_State *L, const char *fn, const char *what,
                      int find(dt_store *, const char *, size_t, dt_store_org *))
{
  dt_store *s = dt_lapi_store(L);
  size_t len;
  const char *text = dt_lapi_store_arg_string(L, 1, fn, what, &len);
  dt_store_org org;
  int rc = find(s, text, len, &org);
  if (rc == DT_STORE_NOT_FOUND) lua_pushnil(L);
  else if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  else push_org(L, &org);
  return 1;
}

static int l_get_organization(lua_State *L)
{
  return push_found(L, "dialtone.store.get_organization", "id", dt_store_org_get);
}

static int l_organization_for_key(lua_State *L)
{
  return push_found(L, "dialtone.store.organization_for_key", "api_key", dt_store_org_for_key);
}

/* Appends the organisation (light userdata, argument 1) to the list (argument 2); runs under
 * lua_pcall, so that a Lua error (out of memory) cannot unwind through the store. */
static int append_org_step(lua_State *L)
{
  push_org(L, lua_touserdata(L, 1));
  lua_rawseti(L, 2, (int)lua_objlen(L, 2) + 1);
  return 0;
}

/* The list, then append_org_step, on top of the stack; error: a step failed, its error on top. */
typedef struct {
  lua_State *L;
  int error;
} org_list;

static int append_org(void *ud, const dt_store_org *org)
{
  org_list *o = ud;
  lua_pushvalue(o->L, -1);
  lua_pushlightuserdata(o->L, (void *)org);
  lua_pushvalue(o->L, -4);
  o->error = lua_pcall(o->L, 2, 0, 0) != 0;
  return o->error;
}

static int l_list_organizations(lua_State *L)
{
  dt_store *s = dt_lapi_store(L);
  luaL_checkstack(L, 6, "dialtone.store");
  lua_newtable(L);
  lua_pushcfunction(L, append_org_step);
  org_list o = { L, 0 };
  int rc = dt_store_orgs_list(s, append_org, &o);
  if (o.error) return lua_error(L);
  lua_pop(L, 1);
  return rc == DT_STORE_OK ? 1 : dt_lapi_store_fail(L, s, rc);
}

static int l_rotate_api_key(lua_State *L)
{
  dt_store *s = dt_lapi_store(L);
  size_t len;
  const char *id = dt_lapi_store_arg_string(L, 1, "dialtone.store.rotate_api_key", "org_id", &len);
  char key[DT_API_KEY_LEN + 1];
  int rc = dt_store_key_rotate(s, id, len, dt_lapi_store_now(), key);
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  push_key(L, key);
  return 1;
}

static int get_workflow(dt_store *s, void *arg, dt_lapi_row_sink *sink)
{
  const dt_lapi_scope *k = arg;
  return dt_store_workflow_get(s, k->org.text, k->org.len, k->id.text, k->id.len, &dt_lapi_row_visitor, sink);
}

static int list_workflows(dt_store *s, void *arg, dt_lapi_row_sink *sink)
{
  const dt_lapi_scope *k = arg;
  return dt_store_workflows_list(s, k->org.text, k->org.len, &dt_lapi_row_visitor, sink);
}

static int l_create_workflow(lua_State *L)
{
  static const char fn[] = "dialtone.store.create_workflow";
  dt_store *s = dt_lapi_store(L);
  dt_lapi_scope k = dt_lapi_store_read_scope(L, fn, 0);
  dt_lapi_store_arg_table(L, 2, fn, "workflow");
  dt_store_str name = dt_lapi_store_string_field(L, 2, fn, "name", 0), flow = dt_lapi_store_string_field(L, 2, fn, "flow", 0);
  dt_store_str settings = dt_lapi_store_json_field(L, 2, fn, "settings");
  char id[DT_STORE_ID_SIZE];
  int rc = dt_store_workflow_create(s, k.org.text, k.org.len, name, flow, settings, dt_lapi_store_now(), id);
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  k.id = (dt_store_str){ id, strlen(id) };
  return dt_lapi_store_push_one(L, s, get_workflow, &k, DT_LAPI_ROWS_JSON);
}

static int l_get_workflow(lua_State *L)
{
  static const char fn[] = "dialtone.store.get_workflow";
  dt_store *s = dt_lapi_store(L);
  dt_lapi_scope k = dt_lapi_store_read_scope(L, fn, 1);
  return dt_lapi_store_push_one(L, s, get_workflow, &k, DT_LAPI_ROWS_JSON);
}

static int l_list_workflows(lua_State *L)
{
  dt_store *s = dt_lapi_store(L);
  dt_lapi_scope k = dt_lapi_store_read_scope(L, "dialtone.store.list_workflows", 0);
  return dt_lapi_store_push_list(L, s, list_workflows, &k, DT_LAPI_ROWS_JSON);
}

void dt_lapi_store_orgs_register(lua_State *L)
{
  static const luaL_Reg fns[] = {
    { "create_organization", l_create_organization }, { "get_organization", l_get_organization },
    { "list_organizations", l_list_organizations }, { "organization_for_key", l_organization_for_key },
    { "rotate_api_key", l_rotate_api_key }, { "create_workflow", l_create_workflow },
    { "get_workflow", l_get_workflow }, { "list_workflows", l_list_workflows }, { NULL, NULL },
  };
  luaL_register(L, NULL, fns);
}
