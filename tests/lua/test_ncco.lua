-- lua/dialtone/ncco.lua against the structure of spec/vonage.md §5.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

--- Deep comparison of decoded JSON values.
local function same(a, b, path)
  if type(a) ~= "table" or type(b) ~= "table" then
    eq(a, b, path)
    return
  end
  for k, v in pairs(b) do same(a[k], v, path .. "." .. tostring(k)) end
  for k in pairs(a) do
    if b[k] == nil then error(path .. ": unexpected key " .. tostring(k), 2) end
  end
end

local json = dialtone.json
local ncco = require("dialtone.ncco")

-- The spec's "recommended outbound-stream NCCO".
local SPEC = '[{"action":"connect","eventType":"synchronous","eventUrl":["https://app.example/vonage/events"],' ..
  '"from":"447700900000","endpoint":[{"type":"websocket","uri":"wss://app.example/vonage/media",' ..
  '"content-type":"audio/l16;rate=16000","headers":{"session":"s-42"}}]}]'

check("the spec's recommended NCCO", function()
  local text = ncco.connect_websocket{ uri = "wss://app.example/vonage/media",
                                       event_url = "https://app.example/vonage/events",
                                       from = "447700900000", headers = { session = "s-42" } }
  same(json.decode(text), json.decode(SPEC), "ncco")
  assert(text:sub(1, 2) == "[{", "an array of objects: " .. text)
end)

check("the minimal NCCO: default content type, no headers", function()
  local text = ncco.connect_websocket{ uri = "wss://a.example/m" }
  same(json.decode(text), json.decode('[{"action":"connect","endpoint":[{"type":"websocket",' ..
       '"uri":"wss://a.example/m","content-type":"audio/l16;rate=16000"}]}]'), "ncco")
  eq(text:sub(1, 1), "[", "top level is an array")
  assert(text:find('"endpoint":[{', 1, true), "endpoint is an array: " .. text)
end)

check("plain ws:// (local development, loopback fakes) is accepted as given", function()
  local d = json.decode(ncco.connect_websocket{ uri = "ws://127.0.0.1:8080/ws/wf/u/run-1" })
  eq(d[1].endpoint[1].uri, "ws://127.0.0.1:8080/ws/wf/u/run-1", "uri")
  eq(json.decode(ncco.connect_websocket{ uri = "WSS://A.example/m" })[1].endpoint[1].uri, "WSS://A.example/m", "case")
end)

check("empty headers are left out, never encoded as an array", function()
  local text = ncco.connect_websocket{ uri = "wss://a.example/m", headers = {} }
  eq(text:find('"headers"', 1, true), nil, "no headers key: " .. text)
  eq(json.decode(text)[1].endpoint[1].headers, nil, "decoded")
end)

check("content types and header values", function()
  for _, ct in ipairs({ "audio/l16;rate=8000", "audio/l16;rate=16000", "audio/l16;rate=24000" }) do
    local d = json.decode(ncco.connect_websocket{ uri = "wss://a.example/m", content_type = ct })
    eq(d[1].endpoint[1]["content-type"], ct, ct)
  end
  local d = json.decode(ncco.connect_websocket{ uri = "wss://a.example/m",
    headers = { run = 42, ok = true, tag = "x\"<&>", list = { "a", "b" } } })
  same(d[1].endpoint[1].headers, { run = 42, ok = true, tag = "x\"<&>", list = { "a", "b" } }, "headers")
end)

check("refusals", function()
  raises("no options", "ncco.connect_websocket: expects a table of options", ncco.connect_websocket)
  for _, u in ipairs({ "https://a.example/m", "wss://", "ws://", "ws:/a.example", "a.example" }) do
    raises(u, "ncco.connect_websocket: uri must be a wss:// or ws:// URL, got " .. u, ncco.connect_websocket, { uri = u })
  end
  raises("nil uri", "uri must be a wss:// or ws:// URL, got nil", ncco.connect_websocket, {})
  raises("content type", "ncco.connect_websocket: content_type must be audio/l16;rate=8000, 16000 or 24000, got audio/pcmu",
         ncco.connect_websocket, { uri = "wss://a.example/m", content_type = "audio/pcmu" })
  raises("event_url", "ncco.connect_websocket: event_url must be an http(s):// URL, got wss://x/y",
         ncco.connect_websocket, { uri = "wss://a.example/m", event_url = "wss://x/y" })
  raises("from", "ncco.connect_websocket: from must be a non-empty string",
         ncco.connect_websocket, { uri = "wss://a.example/m", from = 447700900000 })
  raises("headers not a table", "ncco.connect_websocket: headers must be a table",
         ncco.connect_websocket, { uri = "wss://a.example/m", headers = "a" })
  raises("array headers", "headers must be an object with string names",
         ncco.connect_websocket, { uri = "wss://a.example/m", headers = { "a" } })
  raises("unencodable headers", "ncco.connect_websocket: headers cannot be encoded",
         ncco.connect_websocket, { uri = "wss://a.example/m", headers = { f = print } })
  raises("oversized headers", "more than the 512 Vonage allows",
         ncco.connect_websocket, { uri = "wss://a.example/m", headers = { big = ("x"):rep(600) } })
  eq(ncco.CONTENT_TYPE, "application/json", "content type")
end)

return t.finish()
