-- lua/dialtone/provider.lua: the provider contract, and the registry's handling of bad files.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq = t.check, t.eq

local provider = require("dialtone.provider")
local providers = require("dialtone.providers")

--- A complete, valid provider spec; each call returns a fresh copy to break.
local function valid()
  local p = {
    name = "acme", title = "Acme Telecom",
    fields = {
      { name = "account_sid", label = "Account SID", type = "string", required = true },
      { name = "auth_token", label = "Auth token", type = "string", secret = true, required = true },
      { name = "base_url", label = "REST base URL", type = "url", default = "https://api.acme.test" },
      { name = "from_numbers", label = "From numbers", type = "phone_list" },
      { name = "private_key", label = "Private key", type = "pem", secret = true },
      { name = "notes", label = "Notes", type = "text" },
    },
    audio = { encoding = "mulaw", rate = 8000 },
  }
  for _, m in ipairs(provider.METHODS) do p[m] = function() end end
  return p
end

--- Asserts that p is refused with a problem containing each of the given texts.
local function refused(p, ...)
  local ok, problems = provider.validate(p)
  eq(ok, false, "validate")
  local all = table.concat(problems, "\n")
  for _, want in ipairs({ ... }) do
    assert(all:find(want, 1, true), ("no problem mentions %q; got:\n%s"):format(want, all))
  end
end

check("METHODS lists the nine methods of DESIGN.md §4", function()
  eq(#provider.METHODS, 9, "count")
  local expected = { "initiate_call", "get_call_status", "get_available_phone_numbers",
    "validate_config", "verify_webhook_signature", "get_webhook_response", "get_call_cost",
    "parse_status_callback", "handle_websocket" }
  for i, m in ipairs(expected) do eq(provider.METHODS[i], m, "method " .. i) end
end)

check("a complete spec is valid, and define returns it", function()
  local p = valid()
  local ok, problems = provider.validate(p)
  eq(ok, true, "validate")
  eq(problems, nil, "problems")
  eq(provider.define(p), p, "define")
end)

check("optional field attributes and an empty field list are fine", function()
  local p = valid()
  p.fields = {}
  eq(provider.validate(p), true, "no fields")
  p.fields = { { name = "k", label = "K", type = "string" } }
  eq(provider.validate(p), true, "no secret/required/default")
end)

check("each missing method is named", function()
  for _, m in ipairs(provider.METHODS) do
    local p = valid()
    p[m] = nil
    refused(p, "missing method " .. m)
  end
end)

check("a method that is not a function is named", function()
  local p = valid()
  p.get_call_cost = "free"
  refused(p, "method get_call_cost must be a function, got string")
end)

check("all problems are reported at once", function()
  local p = valid()
  p.initiate_call, p.handle_websocket, p.title = nil, nil, nil
  local ok, problems = provider.validate(p)
  eq(ok, false, "validate")
  eq(#problems, 3, "problem count")
end)

check("a bad name is refused", function()
  for _, name in ipairs({ "Acme", "1acme", "ac-me", "", 7 }) do
    local p = valid()
    p.name = name
    refused(p, "name must be a lowercase identifier")
  end
  local p = valid()
  p.name = nil
  refused(p, "got nil")
end)

check("a bad title is refused", function()
  for _, title in ipairs({ "", 3 }) do
    local p = valid()
    p.title = title
    refused(p, "title must be a non-empty string")
  end
end)

check("bad fields are refused, each saying which and what", function()
  local p = valid()
  p.fields = "api_key"
  refused(p, "fields must be a list")
  p = valid()
  p.fields = { "api_key" }
  refused(p, "fields[1] must be a table")
  p = valid()
  p.fields[1].name = "Account SID"
  refused(p, "fields[1].name must be an identifier")
  p = valid()
  p.fields[2].name = "account_sid"
  refused(p, "fields[2].name 'account_sid' is repeated")
  p = valid()
  p.fields[1].label = nil
  refused(p, "field 'account_sid' needs a label")
  p = valid()
  p.fields[1].type = "password"
  refused(p, "field 'account_sid' has type password")
  p = valid()
  p.fields[2].secret = "yes"
  refused(p, "field 'auth_token'.secret must be a boolean")
  p = valid()
  p.fields[1].required = 1
  refused(p, "field 'account_sid'.required must be a boolean")
  p = valid()
  p.fields[3].default = 443
  refused(p, "field 'base_url'.default must be a string")
end)

check("a bad audio format is refused", function()
  local p = valid()
  p.audio = nil
  refused(p, "audio must be a table")
  p = valid()
  p.audio.encoding = "opus"
  refused(p, "audio.encoding is opus")
  p = valid()
  p.audio.rate = 44100
  refused(p, "audio.rate is 44100")
  for _, enc in ipairs({ "mulaw", "alaw", "l16" }) do
    for _, rate in ipairs({ 8000, 16000, 24000 }) do
      p = valid()
      p.audio = { encoding = enc, rate = rate }
      eq(provider.validate(p), true, enc .. "/" .. rate)
    end
  end
end)

check("a provider that is not a table is refused", function()
  refused("acme", "a provider must be a table, got string")
end)

check("define raises listing every problem", function()
  local p = valid()
  p.get_call_status, p.title = nil, ""
  local ok, err = pcall(provider.define, p)
  eq(ok, false, "define raises")
  assert(tostring(err):find("missing method get_call_status", 1, true), tostring(err))
  assert(tostring(err):find("title must be", 1, true), tostring(err))
end)

check("the registry refuses files it cannot load and offers nothing for them", function()
  providers.load_all({ "/nowhere/providers/no_such_provider_file.lua", "/nowhere/providers/bad-name.lua" })
  eq(#providers.list(), 0, "nothing offered")
  eq(providers.get("no_such_provider_file"), nil, "get")
  local problems = providers.problems()
  eq(#problems, 2, "problem count")
  assert(problems[1]:find("no_such_provider_file.lua: module 'no_such_provider_file' not found", 1, true),
    problems[1])
  assert(problems[2]:find("bad-name.lua: file name must be an identifier", 1, true), problems[2])
end)

check("dialtone.telephony lists the registry's providers", function()
  eq(dialtone.telephony.providers, providers.list, "providers")
  eq(dialtone.telephony.provider, providers.get, "provider")
end)

return t.finish()
