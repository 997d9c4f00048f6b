-- dialtone.store's organisations, API keys, telephony configurations, phone numbers and
-- workflows, and dialtone.assets.read, as a script sees them (run by `dialtone run` on a fresh
-- data directory, so the master key file is made for it). Names carry a random prefix.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local store, assets, crypto, json = dialtone.store, dialtone.assets, dialtone.crypto, dialtone.json
local P = crypto.hex(crypto.random_bytes(6)) .. "-"

local function fails(what, expected_err, v, err)
  eq(v, nil, what .. " value")
  if expected_err then eq(err, expected_err, what .. " error") else eq(type(err), "string", what .. " error") end
end

local acme, acme_key = store.create_organization(P .. "Acme")
local other = assert(store.create_organization(P .. "Other"))

check("create_organization returns the organisation and its key, once", function()
  assert(acme.id:match("^org_%x+$") and #acme.id == 20, "id " .. acme.id)
  eq(acme.name, P .. "Acme", "name")
  eq(type(acme.created_at), "number", "created_at")
  assert(acme_key:match("^dt_[%w_-]+$") and #acme_key == 43, "key format")
  fails("same name", "exists", store.create_organization(P .. "Acme"))
  fails("empty name", nil, store.create_organization(""))
  fails("101 characters", nil, store.create_organization(("x"):rep(101)))
  fails("a newline", nil, store.create_organization("a\nb"))
  raises("not a string", "dialtone.store.create_organization: name", store.create_organization, 5)
end)

check("get_organization, list_organizations and organization_for_key", function()
  eq(store.get_organization(acme.id).name, acme.name, "get")
  eq(store.get_organization("org_0000000000000000"), nil, "unknown")
  local names = {}
  for _, org in ipairs(store.list_organizations()) do names[org.name] = org.id end
  eq(names[acme.name], acme.id, "listed")
  eq(names[other.name], other.id, "other listed")
  eq(store.organization_for_key(acme_key).id, acme.id, "the key finds its organisation")
  eq(store.organization_for_key(acme_key .. "x"), nil, "a longer key")
  eq(store.organization_for_key("dt_" .. ("A"):rep(40)), nil, "a made-up key")
  eq(store.organization_for_key(""), nil, "empty")
  raises("nil key", "organization_for_key: api_key", store.organization_for_key, nil)
end)

check("rotate_api_key revokes every earlier key", function()
  local new_key = assert(store.rotate_api_key(acme.id))
  assert(new_key ~= acme_key and #new_key == 43, "a new key")
  eq(store.organization_for_key(acme_key), nil, "the old key stopped working")
  eq(store.organization_for_key(new_key).id, acme.id, "the new key works")
  local newer = assert(store.rotate_api_key(acme.id))
  eq(store.organization_for_key(new_key), nil, "the second key stopped too")
  eq(store.organization_for_key(newer).id, acme.id, "newest")
  fails("unknown organisation", "not found", store.rotate_api_key("org_0000000000000000"))
end)

local settings = { account_sid = "AC" .. P, auth_token = "secret-" .. P, api_base_url = "http://127.0.0.1:1",
                   numbers = { "+15550001", "+15550002" } }

check("configs: secrets merged back, the first one is the default, scoped to the organisation", function()
  local cfg = assert(store.create_config(acme.id, { name = "main", provider = "twilio", settings = settings,
                                                    secret_fields = { "auth_token" } }))
  assert(cfg.id:match("^cfg_%x+$"), "id")
  eq(cfg.organization_id, acme.id, "organization_id")
  eq(cfg.provider, "twilio", "provider")
  eq(cfg.is_default, true, "the first config is the default")
  for k, v in pairs(settings) do eq(json.encode(cfg.settings[k]), json.encode(v), "settings." .. k) end
  eq(#cfg.secret_fields, 1, "one secret field")
  eq(cfg.secret_fields[1], "auth_token", "secret field")
  eq(cfg.created_at, cfg.updated_at, "times")
  eq(json.encode(store.get_config(acme.id, cfg.id)), json.encode(cfg), "get_config")
  eq(store.get_config(other.id, cfg.id), nil, "another organisation's id is not found")
  eq(#store.list_configs(other.id), 0, "another organisation lists nothing")
  eq(store.default_config(acme.id).id, cfg.id, "default_config")
  eq(store.default_config(other.id), nil, "no default")
  fails("same name", "exists", store.create_config(acme.id, { name = "main", provider = "twilio", settings = {} }))
  fails("no such organisation", "not found",
        store.create_config("org_0000000000000000", { name = "x", provider = "twilio", settings = {} }))
  local second = assert(store.create_config(acme.id, { name = "second", provider = "sim", is_default = true }))
  eq(second.is_default, true, "is_default takes over")
  eq(store.get_config(acme.id, cfg.id).is_default, false, "the first is no longer the default")
  eq(#store.list_configs(acme.id), 2, "two")
  eq(store.set_default_config(acme.id, cfg.id), true, "set_default_config")
  eq(store.default_config(acme.id).id, cfg.id, "back to the first")
  fails("set_default_config elsewhere", "not found", store.set_default_config(other.id, second.id))
  eq(store.delete_config(acme.id, cfg.id), true, "delete the default")
  eq(store.default_config(acme.id).id, second.id, "the remaining one became the default")
  fails("deleted", "not found", store.delete_config(acme.id, cfg.id))
  fails("delete elsewhere", "not found", store.delete_config(other.id, second.id))
end)

check("update_config: rename, replace settings, change the secret fields", function()
  local cfg = assert(store.create_config(acme.id, { name = "u", provider = "twilio", settings = settings,
                                                    secret_fields = { "auth_token" } }))
  assert(store.create_config(acme.id, { name = "taken", provider = "twilio" }))
  fails("rename onto a taken name", "exists", store.update_config(acme.id, cfg.id, { name = "taken" }))
  fails("another organisation", "not found", store.update_config(other.id, cfg.id, { name = "x" }))
  local got = assert(store.update_config(acme.id, cfg.id, { name = "u2", settings = { auth_token = "new", region = "ie1" } }))
  eq(got.name, "u2", "renamed")
  eq(got.provider, "twilio", "provider kept")
  eq(got.settings.auth_token, "new", "secret replaced")
  eq(got.settings.account_sid, nil, "settings replaced every field")
  eq(got.secret_fields[1], "auth_token", "secret fields kept")
  got = assert(store.update_config(acme.id, cfg.id, { secret_fields = { "auth_token", "region" } }))
  eq(#got.secret_fields, 2, "two secret fields")
  eq(got.settings.region, "ie1", "values kept")
end)

check("config values are checked: strings or lists of strings, 64 fields, names", function()
  local function bad(what, fields)
    fails(what, nil, store.create_config(acme.id, fields))
  end
  bad("a number", { name = "b1", provider = "twilio", settings = { port = 5 } })
  bad("nested", { name = "b2", provider = "twilio", settings = { a = { b = "c" } } })
  bad("a list", { name = "b3", provider = "twilio", settings = { "x", "y" } })
  local many = {}
  for i = 1, 65 do many["f" .. i] = "v" end
  bad("65 fields", { name = "b4", provider = "twilio", settings = many })
  bad("empty name", { name = "", provider = "twilio" })
  bad("long name", { name = ("n"):rep(101), provider = "twilio" })
  bad("long field name", { name = "b5", provider = "twilio", settings = { [("k"):rep(101)] = "v" } })
  bad("64 KiB", { name = "b6", provider = "twilio", settings = { big = ("x"):rep(65536) } })
  many.f65 = nil
  assert(store.create_config(acme.id, { name = "b7", provider = "twilio", settings = many }), "64 fields are fine")
  local fn = "dialtone.store.create_config"
  raises("no table", fn, store.create_config, acme.id, "x")
  raises("unknown field", "unknown field 'colour'", store.create_config, acme.id, { name = "x", provider = "p", colour = 1 })
  raises("no name", fn .. ": name", store.create_config, acme.id, { provider = "p" })
  raises("secret_fields not a list", "secret_fields", store.create_config, acme.id,
         { name = "x", provider = "p", secret_fields = "auth_token" })
  raises("is_default not a boolean", "is_default", store.create_config, acme.id,
         { name = "x", provider = "p", is_default = "yes" })
  raises("org_id", fn .. ": org_id", store.create_config, nil, { name = "x", provider = "p" })
end)

check("phone numbers: replaced, scoped, listed in order", function()
  local cfg = assert(store.create_config(acme.id, { name = "numbers", provider = "sim" }))
  eq(store.set_phone_numbers(acme.id, cfg.id, { "+15550001", "+15550002" }), true, "set")
  eq(table.concat(store.phone_numbers(acme.id, cfg.id), ","), "+15550001,+15550002", "listed")
  eq(store.set_phone_numbers(acme.id, cfg.id, { "+15550003" }), true, "replace")
  eq(table.concat(store.phone_numbers(acme.id, cfg.id), ","), "+15550003", "replaced")
  fails("another organisation", "not found", store.set_phone_numbers(other.id, cfg.id, { "+1" }))
  eq(#store.phone_numbers(other.id, cfg.id), 0, "another organisation sees none")
  fails("empty number", nil, store.set_phone_numbers(acme.id, cfg.id, { "" }))
  raises("not strings", "list of strings", store.set_phone_numbers, acme.id, cfg.id, { 5 })
end)

check("workflows: created, scoped, listed; flow names checked", function()
  local wf = assert(store.create_workflow(acme.id, { name = "Echo", flow = "echo", settings = { greeting = "hi", turns = 3 } }))
  assert(wf.id:match("^wf_%x+$"), "id")
  eq(wf.flow, "echo", "flow")
  eq(wf.settings.turns, 3, "settings")
  eq(json.encode(store.get_workflow(acme.id, wf.id)), json.encode(wf), "get_workflow")
  eq(store.get_workflow(other.id, wf.id), nil, "another organisation")
  fails("same name", "exists", store.create_workflow(acme.id, { name = "Echo", flow = "echo" }))
  fails("bad flow", nil, store.create_workflow(acme.id, { name = "x", flow = "../echo" }))
  local plain = assert(store.create_workflow(acme.id, { name = "Plain", flow = "echo" }))
  eq(next(plain.settings), nil, "settings default to {}")
  eq(#store.list_workflows(acme.id), 2, "listed")
  eq(#store.list_workflows(other.id), 0, "scoped")
  raises("no flow", "dialtone.store.create_workflow: flow", store.create_workflow, acme.id, { name = "x" })
end)

check("runs carry config_id; list_runs and count_runs filter by organisation", function()
  assert(store.create_run({ id = P .. "run1", organization_id = acme.id, config_id = "cfg_x", status = "completed" }))
  assert(store.create_run({ id = P .. "run2", organization_id = acme.id, status = "ringing" }))
  assert(store.create_run({ id = P .. "run3", organization_id = other.id, status = "completed" }))
  eq(store.get_run(P .. "run1").config_id, "cfg_x", "config_id")
  eq(store.count_runs({ organization_id = acme.id }), 2, "count by organisation")
  eq(store.count_runs({ organization_id = acme.id, status = "completed" }), 1, "and status")
  local runs = store.list_runs({ organization_id = other.id })
  eq(#runs, 1, "one run")
  eq(runs[1].id, P .. "run3", "the other organisation's")
  raises("paging options for count_runs", "unknown option 'limit'", store.count_runs, { limit = 5 })
end)

check("assets.read reads files under scripts/ only", function()
  local text = assert(assets.read("workflows/echo.lua"))
  assert(#text > 0, "contents")
  fails("missing", "not found", assets.read("no-such-file.txt"))
  for _, path in ipairs({ "../CMakeLists.txt", "/etc/passwd", "workflows/../../CMakeLists.txt", "", "./hello.lua",
                          "workflows//echo.lua", "a\0b" }) do
    fails("path " .. path, nil, assets.read(path))
  end
  fails("a directory", nil, assets.read("workflows"))
  raises("not a string", "dialtone.assets.read: path", assets.read, nil)
end)

return t.finish()
