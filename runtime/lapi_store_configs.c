/* dialtone.store: telephony configurations and their phone numbers.
 *
 *   create_config(org_id, {name=, provider=, settings={field=value}, secret_fields={names},
 *     is_default=bool}) -> config; nil, "exists" (the name is taken); nil, "not found" (no such
 *     organisation); nil, err. Values are strings or lists of strings; at most 64 fields and
 *     64 KiB as JSON; names 1..100 characters. The fields named in secret_fields are stored
 *     encrypted. The organisation's first configuration becomes its default.
 *   get_config(org_id, id) -> config {id, organization_id, name, provider, settings (every
 *     field, secrets decrypted), secret_fields (the names of the encrypted fields that are set),
 *     is_default, created_at, updated_at}, or nil; nil, err when the secrets do not decrypt
 *   list_configs(org_id) -> list, oldest first;  default_config(org_id) -> config, or nil
 *   update_config(org_id, id, {name=, provider=, settings=, secret_fields=}) -> config; nil,
 *     "not found"; nil, "exists". settings replaces every field; secret_fields, when given,
 *     replaces the list of encrypted fields.
 *   delete_config(org_id, id) -> true, or nil, "not found" (the oldest remaining one becomes
 *     the default when it was)
 *   set_default_config(org_id, id) -> true, or nil, "not found"
 *   set_phone_numbers(org_id, config_id, {numbers}) -> true (replaces them), or nil, "not found"
 *   phone_numbers(org_id, config_id) -> list of numbers */
#include "lapi_store.h"

#include <lauxlib.h>
#include <string.h>

static int get_config(dt_store *s, void *arg, dt_lapi_row_sink *sink)
{
  const dt_lapi_scope *k = arg;
  return dt_store_config_get(s, k->org.text, k->org.len, k->id.text, k->id.len, &dt_lapi_row_visitor, sink);
}

static int default_config(dt_store *s, void *arg, dt_lapi_row_sink *sink)
{
  const dt_lapi_scope *k = arg;
  return dt_store_config_default(s, k->org.text, k->org.len, &dt_lapi_row_visitor, sink);
}

static int list_configs(dt_store *s, void *arg, dt_lapi_row_sink *sink)
{
  const dt_lapi_scope *k = arg;
  return dt_store_configs_list(s, k->org.text, k->org.len, &dt_lapi_row_visitor, sink);
}

/* Reads the list of strings at stack index list into out (at most max); the list keeps them. */
static size_t read_strings(lua_State *L, int list, const char *fn, const char *field, dt_store_str *out, size_t max)
{
  if (lua_type(L, list) != LUA_TTABLE) luaL_error(L, "%s: %s must be a list of strings", fn, field);
  size_t n = lua_objlen(L, list);
  if (n > max) luaL_error(L, "%s: %s: more than %d entries", fn, field, (int)max);
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, list, (int)i + 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: %s must be a list of strings", fn, field);
    out[i].text = lua_tolstring(L, -1, &out[i].len);
    lua_pop(L, 1);
  }
  return n;
}

static void check_keys(lua_State *L, int idx, const char *fn, int creating)
{
  static const char *const allowed[] = { "name", "provider", "settings", "secret_fields", "is_default" };
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
    size_t i = 0, n = creating ? 5 : 4;
    while (i < n && strcmp(key, allowed[i]) != 0) i++;
    if (i == n) luaL_error(L, "%s: unknown field '%s'", fn, key);
    lua_pop(L, 1);
  }
}

/* Reads the configuration table at idx into in; secret names go to names. */
static void read_config_in(lua_State *L, int idx, const char *fn, int creating, dt_store_config_in *in,
                           dt_store_str names[DT_STORE_MAX_FIELDS])
{
  dt_lapi_store_arg_table(L, idx, fn, "configuration");
  check_keys(L, idx, fn, creating);
  memset(in, 0, sizeof *in);
  in->name = dt_lapi_store_string_field(L, idx, fn, "name", !creating);
  in->provider = dt_lapi_store_string_field(L, idx, fn, "provider", !creating);
  in->settings = dt_lapi_store_json_field(L, idx, fn, "settings");
  if (creating && !in->settings.text) in->settings = (dt_store_str){ "{}", 2 };
  lua_getfield(L, idx, "secret_fields"); /* left on the stack: it holds the names */
  if (!lua_isnil(L, -1)) {
    in->nsecret = read_strings(L, lua_gettop(L), fn, "secret_fields", names, DT_STORE_MAX_FIELDS);
    in->secret_fields = names;
  }
  lua_getfield(L, idx, "is_default");
  if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) luaL_error(L, "%s: is_default must be a boolean", fn);
  in->is_default = lua_toboolean(L, -1);
  lua_pop(L, 1);
}

static int l_create_config(lua_State *L)
{
  static const char fn[] = "dialtone.store.create_config";
  dt_store *s = dt_lapi_store(L);
  dt_lapi_scope k = dt_lapi_store_read_scope(L, fn, 0);
  dt_store_config_in in;
  dt_store_str names[DT_STORE_MAX_FIELDS];
  read_config_in(L, 2, fn, 1, &in, names);
  char id[DT_STORE_ID_SIZE];
  int rc = dt_store_config_create(s, k.org.text, k.org.len, &in, dt_lapi_store_now(), id);
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  k.id = (dt_store_str){ id, strlen(id) };
  return dt_lapi_store_push_one(L, s, get_config, &k, DT_LAPI_ROWS_JSON);
}

static int l_get_config(lua_State *L)
{
  dt_lapi_scope k = dt_lapi_store_read_scope(L, "dialtone.store.get_config", 1);
  return dt_lapi_store_push_one(L, dt_lapi_store(L), get_config, &k, DT_LAPI_ROWS_JSON);
}

static int l_default_config(lua_State *L)
{
  dt_lapi_scope k = dt_lapi_store_read_scope(L, "dialtone.store.default_config", 0);
  return dt_lapi_store_push_one(L, dt_lapi_store(L), default_config, &k, DT_LAPI_ROWS_JSON);
}

static int l_list_configs(lua_State *L)
{
  dt_lapi_scope k = dt_lapi_store_read_scope(L, "dialtone.store.list_configs", 0);
  return dt_lapi_store_push_list(L, dt_lapi_store(L), list_configs, &k, DT_LAPI_ROWS_JSON);
}

static int l_update_config(lua_State *L)
{
  static const char fn[] = "dialtone.store.update_config";
  dt_store *s = dt_lapi_store(L);
  dt_lapi_scope k = dt_lapi_store_read_scope(L, fn, 1);
  dt_store_config_in in;
  dt_store_str names[DT_STORE_MAX_FIELDS];
  read_config_in(L, 3, fn, 0, &in, names);
  int rc = dt_store_config_update(s, k.org.text, k.org.len, k.id.text, k.id.len, &in, dt_lapi_store_now());
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  return dt_lapi_store_push_one(L, s, get_config, &k, DT_LAPI_ROWS_JSON);
}

/* Runs op on the configuration (org_id, id): true, or nil, err. */
static int config_op(lua_State *L, const char *fn, int op(dt_store *, const char *, size_t, const char *, size_t))
{
  dt_store *s = dt_lapi_store(L);
  dt_lapi_scope k = dt_lapi_store_read_scope(L, fn, 1);
  int rc = op(s, k.org.text, k.org.len, k.id.text, k.id.len);
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int l_delete_config(lua_State *L)
{
  return config_op(L, "dialtone.store.delete_config", dt_store_config_delete);
}

static int l_set_default_config(lua_State *L)
{
  return config_op(L, "dialtone.store.set_default_config", dt_store_config_set_default);
}

static int l_set_phone_numbers(lua_State *L)
{
  static const char fn[] = "dialtone.store.set_phone_numbers";
  dt_store *s = dt_lapi_store(L);
  dt_lapi_scope k = dt_lapi_store_read_scope(L, fn, 1);
  dt_lapi_store_arg_table(L, 3, fn, "numbers");
  dt_store_str *numbers = lua_newuserdata(L, DT_STORE_MAX_NUMBERS * sizeof *numbers);
  size_t n = read_strings(L, 3, fn, "numbers", numbers, DT_STORE_MAX_NUMBERS);
  int rc = dt_store_numbers_set(s, k.org.text, k.org.len, k.id.text, k.id.len, numbers, n, dt_lapi_store_now());
  if (rc != DT_STORE_OK) return dt_lapi_store_fail(L, s, rc);
  lua_pushboolean(L, 1);
  return 1;
}

static int list_numbers(dt_store *s, void *arg, dt_lapi_row_sink *sink)
{
  const dt_lapi_scope *k = arg;
  return dt_store_numbers_list(s, k->org.text, k->org.len, k->id.text, k->id.len, &dt_lapi_row_visitor, sink);
}

static int l_phone_numbers(lua_State *L)
{
  dt_lapi_scope k = dt_lapi_store_read_scope(L, "dialtone.store.phone_numbers", 1);
  return dt_lapi_store_push_list(L, dt_lapi_store(L), list_numbers, &k, DT_LAPI_ROWS_VALUE);
}

void dt_lapi_store_configs_register(lua_State *L)
{
  static const luaL_Reg fns[] = {
    { "create_config", l_create_config }, { "get_config", l_get_config }, { "list_configs", l_list_configs },
    { "update_config", l_update_config }, { "delete_config", l_delete_config },
    { "set_default_config", l_set_default_config }, { "default_config", l_default_config },
    { "set_phone_numbers", l_set_phone_numbers }, { "phone_numbers", l_phone_numbers }, { NULL, NULL },
  };
  luaL_register(L, NULL, fns);
}
