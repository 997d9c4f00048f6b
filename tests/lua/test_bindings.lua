-- The bindings as a script sees them, run inside the binary by `dialtone run`.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq = t.check, t.eq

local json, url, time = dialtone.json, dialtone.url, dialtone.time

check("json round trip keeps types, arrays and null", function()
  local text = json.encode({ n = 3, f = 0.5, s = "a\"b", list = { 1, 2, 3 }, empty = json.array({}), none = json.null })
  local back = json.decode(text)
  eq(back.n, 3, "n")
  eq(back.f, 0.5, "f")
  eq(back.s, 'a"b', "s")
  eq(#back.list, 3, "list length")
  eq(json.encode(back.empty), "[]", "empty array")
  eq(back.none, json.null, "null")
  eq(json.encode({}), "{}", "empty table is an object")
  eq(json.encode(9007199254740992), "9007199254740992", "2^53 exactly")
end)

check("json decode of bad input returns nil and a message", function()
  local v, err = json.decode("{\"a\": ")
  eq(v, nil, "value")
  assert(type(err) == "string" and #err > 0, "an error message")
  local ok = pcall(json.encode, { f = print })
  eq(ok, false, "functions cannot be encoded")
  local t = {}
  t.self = t
  local ok2, err2 = pcall(json.encode, t)
  eq(ok2, false, "cycles cannot be encoded")
  assert(tostring(err2):find("cycle"), "the error names the cycle")
end)

check("url encode/decode and parse_query with repeated keys", function()
  eq(url.encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9", "encode")
  eq(url.decode("a%20b%2"), "a b%2", "decode keeps a truncated escape")
  local first, all = url.parse_query("a=1&a=2&b=x+y&c")
  eq(first.a, "1", "first a")
  eq(#all.a, 2, "all a")
  eq(all.a[2], "2", "second a")
  eq(first.b, "x y", "plus is space")
  eq(first.c, "", "name without value")
end)

check("time.now is wall-clock seconds, sleep waits and monotonic measures", function()
  assert(math.abs(time.now() - os.time()) < 2, "now is close to os.time")
  local t0 = time.monotonic()
  time.sleep(0.02)
  assert(time.monotonic() - t0 >= 0.019, "slept at least 20 ms")
  eq(pcall(time.sleep, -1), false, "negative sleep is refused")
end)

check("sandbox refuses what scripts must not have", function()
  eq(pcall(function() return io end), false, "io")
  eq(pcall(require, "ffi"), false, "ffi")
  eq(os.execute, nil, "os.execute")
  eq(string.dump, nil, "string.dump")
  local f = load("\27LJ\2")
  eq(f, nil, "bytecode is refused")
end)

check("dialtone.config: the published settings; any other field raises", function()
  eq(type(dialtone.config.data_dir), "string", "data_dir")
  eq(dialtone.config.public_url:sub(-1) ~= "/", true, "public_url without a trailing slash")
  t.raises("a misspelt field", "dialtone.config has no field 'public_ur'", function() return dialtone.config.public_ur end)
end)

return t.finish()
