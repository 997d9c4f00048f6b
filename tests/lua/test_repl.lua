-- lua/dialtone/repl.lua: the REPL's pretty printer.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq = t.check, t.eq

local repl = require("dialtone.repl")
local pretty = repl.pretty

check("scalars: nil, booleans, integers, fractions, huge values", function()
  eq(pretty(nil), "nil", "nil")
  eq(pretty(true), "true", "true")
  eq(pretty(42), "42", "integer")
  eq(pretty(-7), "-7", "negative")
  eq(pretty(1.5), "1.5", "fraction")
  eq(pretty(0.1), "0.1", "shortest text that reads back")
  eq(tonumber(pretty(1 / 3)), 1 / 3, "a fraction reads back exactly")
  eq(pretty(2 ^ 60), "1.152921504606847e+18", "beyond exact integers, still exact")
  eq(pretty(math.huge), "inf", "infinity")
end)

check("strings are quoted with escapes; long ones are cut and say how long they were", function()
  eq(pretty("hi"), '"hi"', "plain")
  eq(pretty('a"b\\c\n\t\r'), '"a\\"b\\\\c\\n\\t\\r"', "escapes")
  eq(pretty("\0\27"), '"\\000\\027"', "control bytes")
  eq(pretty("héllo"), '"héllo"', "UTF-8 kept")
  local long = ("x"):rep(3000)
  eq(pretty(long), '"' .. ("x"):rep(2000) .. '"... (3000 bytes)', "cut at max_string")
  eq(pretty(long, { max_string = 3 }), '"xxx"... (3000 bytes)', "max_string option")
end)

check("tables: sorted keys, sequences without keys, short ones on one line", function()
  eq(pretty({}), "{}", "empty")
  eq(pretty({ 1, 2, 3 }), "{ 1, 2, 3 }", "sequence")
  eq(pretty({ b = 2, a = 1, [10] = "x", [2] = true }), '{ [2] = true, [10] = "x", a = 1, b = 2 }',
    "numbers first in order, then names")
  eq(pretty({ ["a b"] = 1, ["end"] = 2, _ok = 3 }), '{ _ok = 3, ["a b"] = 1, ["end"] = 2 }',
    "keys that are not identifiers are quoted")
  eq(pretty({ [true] = 1 }), "{ [true] = 1 }", "a boolean key")
end)

check("nested tables are indented, one entry per line", function()
  eq(pretty({ a = { b = { 1, 2 } }, c = "s" }),
    '{\n  a = {\n    b = { 1, 2 },\n  },\n  c = "s",\n}', "two levels")
  eq(pretty({ { x = 1 }, { x = 2 } }), "{\n  { x = 1 },\n  { x = 2 },\n}", "a list of records")
  local wide = {}
  for i = 1, 30 do wide[i] = i * 1000 end
  local text = pretty(wide)
  eq(text:sub(1, 9), "{\n  1000,", "too wide for one line")
  eq(select(2, text:gsub("\n", "")), 31, "one line per value")
end)

check("cycles print as <cycle>; a table seen twice but not in a cycle is printed both times", function()
  local a = { name = "a" }
  a.self = a
  eq(pretty(a), '{\n  name = "a",\n  self = <cycle>,\n}', "self reference")
  local b = { child = {} }
  b.child.parent = b
  eq(pretty(b), "{\n  child = {\n    parent = <cycle>,\n  },\n}", "through a child")
  local shared = { 1 }
  eq(pretty({ shared, shared }), "{\n  { 1 },\n  { 1 },\n}", "shared, no cycle")
end)

check("depth and size limits", function()
  local deep = { { { { { { { "bottom" } } } } } } }
  local text = pretty(deep)
  eq(text:find("{...}", 1, true) ~= nil, true, "deep tables stop at max_depth")
  eq(text:find("bottom", 1, true), nil, "nothing printed past the limit")
  eq(pretty({ { 1 } }, { max_depth = 1 }), "{\n  {...},\n}", "max_depth option")
  local many = {}
  for i = 1, 250 do many["k" .. ("%03d"):format(i)] = i end
  local listed = pretty(many)
  eq(listed:find("k100 = 100", 1, true) ~= nil, true, "the first max_items")
  eq(listed:find("k101", 1, true), nil, "no more than max_items")
  eq(listed:find("... (150 more)", 1, true) ~= nil, true, "says how many were left out")
end)

check("functions of the API are named; other functions and userdata show their type", function()
  eq(pretty(dialtone.time.sleep), "<function dialtone.time.sleep>", "a binding")
  eq(pretty(print):find("^<function: ") ~= nil, true, "a built-in function")
  eq(pretty(function() end):find("^<function: ") ~= nil, true, "a Lua function")
  eq(pretty(coroutine.create(function() end)):find("^<thread: ") ~= nil, true, "a thread")
  eq(pretty(dialtone.json.null):find("^<userdata") ~= nil, true, "json.null")
end)

check("a table's metatable does not change how it prints", function()
  local hidden = setmetatable({}, { __index = function() return "ghost" end, __tostring = function() return "x" end })
  hidden.real = 1
  eq(pretty(hidden), "{ real = 1 }", "only its own fields")
end)

return t.finish()
