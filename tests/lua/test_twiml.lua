-- lua/dialtone/twiml.lua: exact documents (spec/twilio.md §7), escaping and refusals.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local twiml = require("dialtone.twiml")
local HEAD = '<?xml version="1.0" encoding="UTF-8"?>'

check("the spec's example document, exactly", function()
  eq(twiml.connect_stream{ url = "wss://app.example/twilio/media",
                           status_callback = "https://app.example/twilio/stream-status",
                           parameters = { session = "s-42" } },
     '<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://app.example/twilio/media" statusCallback="https://app.example/twilio/stream-status"><Parameter name="session" value="s-42"/></Stream></Connect></Response>',
     "document")
end)

check("parameters are sorted by name; numbers are written as text", function()
  eq(twiml.connect_stream{ url = "wss://a.example/m",
                           parameters = { workflow_run_id = 7, b = "2", a = "1", B = "0" } },
     HEAD .. '<Response><Connect><Stream url="wss://a.example/m"><Parameter name="B" value="0"/>' ..
     '<Parameter name="a" value="1"/><Parameter name="b" value="2"/>' ..
     '<Parameter name="workflow_run_id" value="7"/></Stream></Connect></Response>', "sorted")
end)

check("no parameters: an empty Stream element", function()
  local want = HEAD .. '<Response><Connect><Stream url="wss://a.example/m"/></Connect></Response>'
  eq(twiml.connect_stream{ url = "wss://a.example/m" }, want, "nil")
  eq(twiml.connect_stream{ url = "wss://a.example/m", parameters = {} }, want, "empty")
end)

check("hostile values are escaped", function()
  eq(twiml.connect_stream{ url = "wss://a.example/m/a&b",
                           status_callback = "https://a.example/cb?x=1&y=\"2\"",
                           parameters = { ['n"><Hangup/>'] = "v' & <Say>x</Say>\tz\r\n" } },
     HEAD .. '<Response><Connect><Stream url="wss://a.example/m/a&amp;b" ' ..
     'statusCallback="https://a.example/cb?x=1&amp;y=&quot;2&quot;">' ..
     '<Parameter name="n&quot;&gt;&lt;Hangup/&gt;" ' ..
     'value="v&apos; &amp; &lt;Say&gt;x&lt;/Say&gt;&#9;z&#13;&#10;"/></Stream></Connect></Response>',
     "escaped")
  eq(twiml.say("Tom & Jerry's <b>\"show\"</b>"),
     HEAD .. "<Response><Say>Tom &amp; Jerry&apos;s &lt;b&gt;&quot;show&quot;&lt;/b&gt;</Say></Response>",
     "say")
  eq(twiml.say("&amp;"), HEAD .. "<Response><Say>&amp;amp;</Say></Response>", "already escaped text")
  eq(twiml.say("héllo ✓"), HEAD .. "<Response><Say>héllo ✓</Say></Response>", "UTF-8 kept")
end)

check("say and hangup", function()
  eq(twiml.say("Hello"), HEAD .. "<Response><Say>Hello</Say></Response>", "say")
  eq(twiml.hangup(), HEAD .. "<Response><Hangup/></Response>", "hangup")
  eq(twiml.CONTENT_TYPE, "text/xml", "content type")
end)

check("the stream url must be wss:// (or ws://) without a query string", function()
  local bad = { "wsx://a.example/m", "https://a.example/m", "wss://", "wss:///m", "ws://", "a.example/m", "" }
  for _, u in ipairs(bad) do
    raises(u, "twiml.connect_stream: url must be a wss:// or ws:// URL, got " .. u, twiml.connect_stream, { url = u })
  end
  raises("nil url", "twiml.connect_stream: url must be a wss:// or ws:// URL, got nil", twiml.connect_stream, {})
  eq(twiml.connect_stream{ url = "ws://127.0.0.1:8080/m" },
     HEAD .. '<Response><Connect><Stream url="ws://127.0.0.1:8080/m"/></Connect></Response>', "ws:// for local use")
  raises("query", "twiml.connect_stream: url must not have a query string (Twilio drops it)",
         twiml.connect_stream, { url = "wss://a.example/m?run=1" })
  raises("empty query", "must not have a query string", twiml.connect_stream, { url = "wss://a.example/m?" })
  eq(twiml.connect_stream{ url = "WSS://a.example:8443/m" },
     HEAD .. '<Response><Connect><Stream url="WSS://a.example:8443/m"/></Connect></Response>',
     "scheme case and a port are fine")
end)

check("other refusals", function()
  raises("no options", "twiml.connect_stream: expects a table of options", twiml.connect_stream, "wss://a/m")
  raises("bad callback", "twiml.connect_stream: status_callback must be an http(s):// URL, got ftp://x/y",
         twiml.connect_stream, { url = "wss://a.example/m", status_callback = "ftp://x/y" })
  raises("parameters not a table", "twiml.connect_stream: parameters must be a table",
         twiml.connect_stream, { url = "wss://a.example/m", parameters = "a=b" })
  raises("array parameters", "twiml.connect_stream: parameter names must be non-empty strings",
         twiml.connect_stream, { url = "wss://a.example/m", parameters = { "x" } })
  raises("empty name", "parameter names must be non-empty strings",
         twiml.connect_stream, { url = "wss://a.example/m", parameters = { [""] = "x" } })
  raises("table value", "twiml.connect_stream: parameter a must be a string or a number",
         twiml.connect_stream, { url = "wss://a.example/m", parameters = { a = {} } })
  raises("control character in a value", "twiml.connect_stream: parameter a contains a control character",
         twiml.connect_stream, { url = "wss://a.example/m", parameters = { a = "x\0y" } })
  raises("control character in the url", "twiml.connect_stream: url contains a control character",
         twiml.connect_stream, { url = "wss://a.example/m\27" })
  raises("control character in text", "twiml.say: text contains a control character", twiml.say, "a\8b")
  raises("empty text", "twiml.say: text must be a non-empty string", twiml.say, "")
  raises("no text", "twiml.say: text must be a non-empty string", twiml.say)
end)

check("errors point at the caller", function()
  local ok, err = pcall(function() twiml.connect_stream{ url = "wss://a.example/m", parameters = { a = "\1" } } end)
  eq(ok, false, "raises")
  assert(err:find("test_twiml.lua:", 1, true), "position of the caller: " .. err)
  ok, err = pcall(function() twiml.say("\1") end)
  assert(not ok and err:find("test_twiml.lua:", 1, true), "say: " .. tostring(err))
end)

return t.finish()
