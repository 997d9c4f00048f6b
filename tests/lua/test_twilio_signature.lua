-- lua/dialtone/twilio_signature.lua against every vector of spec/twilio.md §6.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local sig = require("dialtone.twilio_signature")

local TOKEN = "12345"
local URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
-- As req.form_all gives them: name → list of values.
local PARAMS = { CallSid = { "CA1234567890ABCDE" }, Caller = { "+14158675309" }, Digits = { "1234" },
                 From = { "+14158675309" }, To = { "+18005551212" } }
local REPEATED = { Sid = { "CA123" }, SidAccount = { "AC123" }, Digits = { "5678", "1234", "1234" } }
local BODY = '{"property": "value", "boolean": true}'
local BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
local JSON_URL = URL .. "&bodySHA256=" .. BODY_HASH

local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

check("spec vector: form post", function()
  eq(sig.compute(TOKEN, URL, PARAMS), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "signature")
  eq(sig.verify(TOKEN, URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="), true, "verify")
end)

check("plain string values (req.form) sign the same as lists", function()
  local flat = {}
  for k, v in pairs(PARAMS) do flat[k] = v[1] end
  eq(sig.compute(TOKEN, URL, flat), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "signature")
end)

check("spec vectors: explicit ports", function()
  eq(sig.compute(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", PARAMS),
     "kvajT1Ptam85bY51eRf/AJRuM3w=", ":443")
  eq(sig.compute(TOKEN, "http://mycompany.com:80/myapp.php?foo=1&bar=2", PARAMS),
     "0ZXoZLH/DfblKGATFgpif+LLRf4=", ":80")
  eq(sig.compute(TOKEN, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", PARAMS),
     "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", ":1234")
end)

check("spec vector: repeated keys, distinct values sorted, Sid before SidAccount", function()
  eq(sig.compute(TOKEN, URL, REPEATED), "IK+Dwps556ElfBT0I3Rgjkr1wJU=", "signature")
  eq(sig.verify(TOKEN, URL, REPEATED, "IK+Dwps556ElfBT0I3Rgjkr1wJU="), true, "verify")
end)

check("spec vector: JSON body", function()
  eq(sig.with_body_hash(URL, BODY), JSON_URL, "with_body_hash")
  eq(sig.compute_body(TOKEN, JSON_URL, BODY), "a9nBmqA0ju/hNViExpshrM61xv4=", "compute_body")
  eq(sig.compute(TOKEN, JSON_URL), "a9nBmqA0ju/hNViExpshrM61xv4=", "the URL alone is signed")
  eq(sig.verify(TOKEN, JSON_URL, BODY, "a9nBmqA0ju/hNViExpshrM61xv4=", true), true, "verify")
end)

check("spec vector: WebSocket upgrade URL", function()
  eq(sig.compute(TOKEN, "wss://mycompany.com/media"), "okykUWKkAOgQseVjzERZh4soLeU=", "compute")
  eq(sig.compute(TOKEN, "wss://mycompany.com/media", {}), "okykUWKkAOgQseVjzERZh4soLeU=", "empty params")
  eq(sig.verify(TOKEN, "wss://mycompany.com/media", nil, "okykUWKkAOgQseVjzERZh4soLeU="), true, "verify")
  eq(sig.verify(TOKEN, "wss://mycompany.com:443/media", {}, "okykUWKkAOgQseVjzERZh4soLeU="), true,
     "verify with the default port")
end)

check("verify accepts either port form", function()
  local with443 = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
  -- Signed without the port, received with it, and the other way round.
  eq(sig.verify(TOKEN, with443, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="), true, "signed without :443")
  eq(sig.verify(TOKEN, URL, PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w="), true, "signed with :443")
  eq(sig.verify(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS,
                "0ZXoZLH/DfblKGATFgpif+LLRf4="), true, "signed with :80")
  eq(sig.verify(TOKEN, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", PARAMS,
                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="), true, "non-default port as received")
  -- A non-default port is removed in the "without port" variant.
  local no_port = sig.compute(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS)
  eq(sig.verify(TOKEN, "http://mycompany.com:1234/myapp.php?foo=1&bar=2", PARAMS, no_port), true,
     "signed without the non-default port")
  eq(sig.verify(TOKEN, URL, PARAMS, "0ZXoZLH/DfblKGATFgpif+LLRf4="), false, "http :80 is not https")
  eq(sig.verify(TOKEN, URL, PARAMS, "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="), false, "the port is not guessed")
end)

check("tampered params, url, signature and token are rejected", function()
  local good = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
  local changed = copy(PARAMS); changed.Digits = { "1235" }
  local added = copy(PARAMS); added.Extra = { "x" }
  local dropped = copy(PARAMS); dropped.To = nil
  local doubled = copy(PARAMS); doubled.Digits = { "1234", "9999" }
  local renamed = copy(PARAMS); renamed.digits, renamed.Digits = renamed.Digits, nil
  for what, p in pairs({ changed = changed, added = added, dropped = dropped, doubled = doubled,
                         renamed = renamed }) do
    local ok, err = sig.verify(TOKEN, URL, p, good)
    eq(ok, false, what); eq(err, "bad signature", what .. " reason")
  end
  for _, u in ipairs({ "https://mycompany.com/myapp.php?foo=1&bar=3",
                       "https://mycompany.com/myapp.php?bar=2&foo=1",
                       "http://mycompany.com/myapp.php?foo=1&bar=2",
                       "https://evil.com/myapp.php?foo=1&bar=2",
                       "https://mycompany.com/myapp.php" }) do
    eq(sig.verify(TOKEN, u, PARAMS, good), false, u)
  end
  eq(sig.verify(TOKEN, URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8"), false, "truncated")
  eq(sig.verify(TOKEN, URL, PARAMS, "rSOYDt4T1cUTdK1PDd93/VVr8B8="), false, "one byte")
  eq(sig.verify("12346", URL, PARAMS, good), false, "other token")
  local ok, err = sig.verify(TOKEN, URL, PARAMS, nil)
  eq(ok, false, "no header"); eq(err, "missing signature", "no header reason")
  eq((sig.verify(TOKEN, URL, PARAMS, "")), false, "empty header")
end)

check("JSON bodies: the body hash is checked", function()
  local good = "a9nBmqA0ju/hNViExpshrM61xv4="
  local ok, err = sig.verify(TOKEN, JSON_URL, BODY .. " ", good, true)
  eq(ok, false, "tampered body"); eq(err, "bodySHA256 does not match the body", "reason")
  ok, err = sig.verify(TOKEN, URL, BODY, sig.compute(TOKEN, URL), true)
  eq(ok, false, "no bodySHA256"); eq(err, "url has no bodySHA256 parameter", "reason")
  eq((sig.verify(TOKEN, JSON_URL, BODY, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", true)), false, "other signature")
  eq((sig.verify(TOKEN, JSON_URL:gsub("mycompany.com", "mycompany.com:443"), BODY, good, true)), true,
     "port variant")
  local v, why = sig.compute_body(TOKEN, JSON_URL, "{}")
  eq(v, nil, "compute_body on a mismatched body"); eq(why, "bodySHA256 does not match the body", "why")
  eq((sig.compute_body(TOKEN, URL, BODY)), nil, "compute_body without bodySHA256")
  -- A parameter merely ending in bodySHA256 is not it.
  eq((sig.verify(TOKEN, URL .. "&xbodySHA256=" .. BODY_HASH, BODY, good, true)), false, "xbodySHA256")
end)

check("with_body_hash on URLs with no query, an open query and a fragment", function()
  eq(sig.with_body_hash("https://a.example/x", BODY), "https://a.example/x?bodySHA256=" .. BODY_HASH, "no query")
  eq(sig.with_body_hash("https://a.example/x?", BODY), "https://a.example/x?bodySHA256=" .. BODY_HASH, "open query")
  eq(sig.with_body_hash("https://a.example/x#f", BODY), "https://a.example/x?bodySHA256=" .. BODY_HASH .. "#f",
     "fragment")
end)

check("misuse raises", function()
  raises("empty token", "twilio_signature.compute: auth_token must be a non-empty string",
         sig.compute, "", URL, PARAMS)
  raises("relative url", "twilio_signature.verify: url must be an absolute", sig.verify, TOKEN,
         "/myapp.php", PARAMS, "x")
  raises("ftp url", "url must be an absolute", sig.compute, TOKEN, "ftp://a.example/x")
  raises("string params", "twilio_signature.verify: params must be a table", sig.verify, TOKEN,
         URL, "a=b", "x")
  raises("table body", "twilio_signature.verify: a JSON body must be a string", sig.verify, TOKEN,
         JSON_URL, {}, "x", true)
  raises("body not a string", "twilio_signature.compute_body: body must be a string",
         sig.compute_body, TOKEN, JSON_URL, nil)
end)

return t.finish()
