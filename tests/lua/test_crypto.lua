-- dialtone.crypto as a script sees it, run inside the binary by `dialtone run`.
-- Prints "N passed, N failed" and returns the number of failures as the exit status.
-- RS256 signing with a real key is covered by tests/unit/test_jwt.c and
-- tests/integration/crypto_crosscheck.test.js (keys generated at test time; the sandbox here
-- cannot make one), so this file checks its refusals.
local t = require("dialtone.testing")
local check, eq, raises = t.check, t.eq, t.raises

local function fails(what, expected_err, v, err)
  eq(v, nil, what .. " value")
  eq(err, expected_err, what .. " error")
end

local crypto, json = dialtone.crypto, dialtone.json
local SECRET = "test-signature-secret-0123456789abcdef"
local NOW = 1704110400

-- header.payload.signature made the long way, with the other functions of the module.
local function hs256(header, claims, secret)
  local input = crypto.base64url_encode(json.encode(header)) .. "." ..
                crypto.base64url_encode(json.encode(claims))
  return input .. "." .. crypto.base64url_encode(crypto.hmac_sha256(secret or SECRET, input))
end

check("hashes and HMACs give raw bytes; hex shows them", function()
  eq(crypto.hex(crypto.sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "sha256")
  eq(#crypto.sha256(""), 32, "raw sha256")
  eq(crypto.hex(crypto.hmac_sha1("Jefe", "what do ya want for nothing?")),
     "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", "RFC 2202 case 2")
  eq(crypto.hex(crypto.hmac_sha256("Jefe", "what do ya want for nothing?")),
     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "RFC 4231 case 2")
  eq(crypto.hex("\0\255\16"), "00ff10", "hex")
  eq(crypto.hex(""), "", "empty hex")
  raises("hmac without a message", nil, crypto.hmac_sha256, "key")
end)

check("a Twilio signature from the spec", function()
  local url = "https://mycompany.com/myapp.php?foo=1&bar=2"
  local params = { To = "+18005551212", From = "+14158675309", Digits = "1234",
                   Caller = "+14158675309", CallSid = "CA1234567890ABCDE" }
  local names = {}
  for k in pairs(params) do names[#names + 1] = k end
  table.sort(names)
  local s = url
  for _, k in ipairs(names) do s = s .. k .. params[k] end
  eq(crypto.base64_encode(crypto.hmac_sha1("12345", s)), "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "signature")
end)

check("base64 and base64url round trip; bad input is nil, err", function()
  eq(crypto.base64_encode("foobar"), "Zm9vYmFy", "encode")
  eq(crypto.base64_encode("fo"), "Zm8=", "padded")
  eq(crypto.base64url_encode("fo"), "Zm8", "unpadded url")
  eq(crypto.base64url_encode("\251\255\191"), "-_-_", "url alphabet")
  eq(crypto.base64_decode("Zm9vYmE="), "fooba", "decode")
  eq(crypto.base64url_decode("-_-_"), "\251\255\191", "url decode")
  eq(crypto.base64url_decode("Zm8"), "fo", "url without padding")
  local frame = ("\255"):rep(160)
  eq(#crypto.base64_encode(frame), 216, "a 20 ms ulaw frame")
  eq(crypto.base64_decode(crypto.base64_encode(frame)), frame, "frame round trip")
  local big = ("\1\2\3"):rep(5000)
  eq(crypto.base64_decode(crypto.base64_encode(big)), big, "large round trip")
  fails("bad base64", "invalid base64", crypto.base64_decode("Zm9v!"))
  fails("url alphabet in std", "invalid base64", crypto.base64_decode("-_-_"))
  fails("bad base64url", "invalid base64url", crypto.base64url_decode("Zm9v+"))
end)

check("constant_time_equal and random_bytes", function()
  eq(crypto.constant_time_equal("abc", "abc"), true, "equal")
  eq(crypto.constant_time_equal("abc", "abd"), false, "different")
  eq(crypto.constant_time_equal("abc", "ab"), false, "different lengths")
  eq(crypto.constant_time_equal("", ""), true, "empty")
  local a, b = crypto.random_bytes(32), crypto.random_bytes(32)
  eq(#a, 32, "length")
  assert(a ~= b, "two draws differ")
  eq(crypto.random_bytes(0), "", "zero bytes")
  eq(#crypto.random_bytes(65536), 65536, "the cap")
  raises("over the cap", nil, crypto.random_bytes, 65537)
  raises("negative", nil, crypto.random_bytes, -1)
end)

check("ed25519_verify: RFC 8032 test 1 and the Telnyx vector; tampering is false", function()
  local function unhex(h) return (h:gsub("%x%x", function(b) return string.char(tonumber(b, 16)) end)) end
  local key = crypto.base64_decode("11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
  eq(crypto.hex(key), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "the RFC key")
  local rfc_sig = unhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555" ..
                        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
  eq(crypto.ed25519_verify(key, "", rfc_sig), true, "empty message")
  eq(crypto.ed25519_verify(key, "x", rfc_sig), false, "another message")
  local body = '{"data":{"event_type":"call.answered","id":"0ccc7b54-4df3-4bca-a65a-3da1ecc777f0",' ..
    '"occurred_at":"2024-01-01T00:00:00.000000Z","payload":{"call_control_id":"v3:abc","state":"answered"},' ..
    '"record_type":"event"}}'
  eq(#body, 207, "body length")
  local sig = crypto.base64_decode("1EZsZtKroear5W7iJbfFe3zsuuMF4uZJzThD1fjWMaYz/Ef0vsJSTsDIfMd8pkw7nPGdaLMiG24ns64VijABAw==")
  eq(crypto.ed25519_verify(key, "1700000000|" .. body, sig), true, "Telnyx vector")
  eq(crypto.ed25519_verify(key, "1700000001|" .. body, sig), false, "other timestamp")
  eq(crypto.ed25519_verify(key, "1700000000|" .. body .. " ", sig), false, "body with a space more")
  local flipped = string.char(bit.bxor(sig:byte(1), 1)) .. sig:sub(2)
  eq(crypto.ed25519_verify(key, "1700000000|" .. body, flipped), false, "tampered signature")
  local other_key = key:sub(1, 31) .. string.char(bit.bxor(key:byte(32), 1))
  eq(crypto.ed25519_verify(other_key, "1700000000|" .. body, sig), false, "other key")
  eq(crypto.ed25519_verify("\2" .. ("\0"):rep(31), "1700000000|" .. body, sig), false, "a key off the curve")
end)

check("ed25519_verify raises on wrong lengths and types", function()
  local key, sig = ("k"):rep(32), ("s"):rep(64)
  raises("31-byte key", "public_key must be 32 bytes, got 31", crypto.ed25519_verify, key:sub(2), "m", sig)
  raises("base64 key", "public_key must be 32 bytes", crypto.ed25519_verify, crypto.base64_encode(key), "m", sig)
  raises("65-byte signature", "signature must be 64 bytes, got 65", crypto.ed25519_verify, key, "m", sig .. "s")
  raises("empty signature", "signature must be 64 bytes, got 0", crypto.ed25519_verify, key, "m", "")
  raises("no message", nil, crypto.ed25519_verify, key, nil, sig)
  raises("key not a string", nil, crypto.ed25519_verify, {}, "m", sig)
end)

check("jwt_verify_hs256 accepts the spec's Vonage token and checks claims", function()
  local token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." ..
    "eyJpYXQiOjE3MDQxMTA0MDAsImp0aSI6ImM1YmE4ZjI0LTFhMTQtNGMxMC1iZmRmLTNmYmU4Y2U1MTFiNSIsImlzcyI6IlZvbmFnZSIsInBheWxvYWRfaGFzaCI6ImVkMDliNzhiYTg2NjEzYzVhMmMzNzBiZmMxMGYxMDBjYjIxZDViYjE3MzZhYjM4NWM2MmQ3Nzg0OTI0ZTljMTMiLCJhcGlfa2V5IjoiYTFiMmMzZDQiLCJhcHBsaWNhdGlvbl9pZCI6ImFhYWFhYWFhLWJiYmItY2NjYy1kZGRkLTAxMjM0NTY3ODlhYiJ9." ..
    "9Rkpsfxs2juFJbUYMn5VgwrwiUljmlENNZxUY8-1gNI"
  local body = '{"from":"447700900000","to":"447700900001","uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","conversation_uuid":"CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab","status":"answered","direction":"outbound","timestamp":"2024-01-01T12:00:00.000Z"}'
  local claims, err = crypto.jwt_verify_hs256(token, SECRET, { now = NOW + 60, max_age = 300,
    claims = { iss = "Vonage", api_key = "a1b2c3d4", payload_hash = crypto.hex(crypto.sha256(body)) } })
  assert(claims, err)
  eq(claims.application_id, "aaaaaaaa-bbbb-cccc-dddd-0123456789ab", "application_id")
  eq(claims.iat, NOW, "iat")
  fails("other api_key", "claim api_key mismatch",
        crypto.jwt_verify_hs256(token, SECRET, { now = NOW, claims = { api_key = "other" } }))
  fails("missing claim", "claim sub mismatch",
        crypto.jwt_verify_hs256(token, SECRET, { now = NOW, claims = { sub = "x" } }))
  fails("too old", "expired", crypto.jwt_verify_hs256(token, SECRET, { now = NOW + 400, max_age = 300 }))
  fails("wrong secret", "bad signature", crypto.jwt_verify_hs256(token, "other secret", { now = NOW }))
end)

check("jwt_verify_hs256 refuses alg confusion, tampering and bad times", function()
  local ok_claims = { iss = "me", exp = NOW + 100, flag = true, n = 3 }
  local good = hs256({ alg = "HS256" }, ok_claims)
  local c = assert(crypto.jwt_verify_hs256(good, SECRET, { now = NOW, claims = { iss = "me", flag = true, n = 3 } }))
  eq(c.exp, NOW + 100, "exp")
  fails("number claim", "claim n mismatch", crypto.jwt_verify_hs256(good, SECRET, { now = NOW, claims = { n = 4 } }))
  fails("alg none", "alg not allowed", crypto.jwt_verify_hs256(hs256({ alg = "none" }, ok_claims), SECRET, { now = NOW }))
  fails("alg RS256", "alg not allowed", crypto.jwt_verify_hs256(hs256({ alg = "RS256" }, ok_claims), SECRET, { now = NOW }))
  local unsigned = crypto.base64url_encode('{"alg":"none"}') .. "." .. crypto.base64url_encode('{"iss":"me"}') .. "."
  fails("unsigned", "alg not allowed", crypto.jwt_verify_hs256(unsigned, SECRET, { now = NOW }))
  local h, p, s = good:match("^([^.]+)%.([^.]+)%.([^.]+)$")
  local forged = h .. "." .. crypto.base64url_encode('{"iss":"me","exp":9999999999}') .. "." .. s
  fails("tampered payload", "bad signature", crypto.jwt_verify_hs256(forged, SECRET, { now = NOW }))
  fails("expired", "expired", crypto.jwt_verify_hs256(good, SECRET, { now = NOW + 130 }))
  fails("expired at the leeway edge", "expired", crypto.jwt_verify_hs256(good, SECRET, { now = NOW + 100, leeway = 0 }))
  assert(crypto.jwt_verify_hs256(good, SECRET, { now = NOW + 129 }), "within the default leeway")
  assert(crypto.jwt_verify_hs256(good, SECRET, { now = NOW + 99, leeway = 0 }), "just before exp")
  local early = hs256({ alg = "HS256" }, { nbf = NOW + 60 })
  fails("nbf", "not yet valid", crypto.jwt_verify_hs256(early, SECRET, { now = NOW, leeway = 59 }))
  assert(crypto.jwt_verify_hs256(early, SECRET, { now = NOW, leeway = 60 }), "nbf within leeway")
  fails("expired by wall clock", "expired",
        crypto.jwt_verify_hs256(hs256({ alg = "HS256" }, { exp = 1000 }), SECRET))
  assert(p and h, "three parts")
end)

check("jwt_verify_hs256 refuses malformed tokens; misuse raises", function()
  fails("no dots", "malformed", crypto.jwt_verify_hs256("abc", SECRET))
  fails("two parts", "malformed", crypto.jwt_verify_hs256("abc.def", SECRET))
  fails("bad base64", "malformed", crypto.jwt_verify_hs256("a*c.def.ghi", SECRET))
  local input = crypto.base64url_encode('{"alg":"HS256"}') .. "." .. crypto.base64url_encode("not json")
  fails("non-JSON payload", "malformed",
        crypto.jwt_verify_hs256(input .. "." .. crypto.base64url_encode(crypto.hmac_sha256(SECRET, input)), SECRET))
  fails("oversized", "malformed", crypto.jwt_verify_hs256(hs256({ alg = "HS256" }, { p = ("x"):rep(7000) }), SECRET))
  raises("empty secret", nil, crypto.jwt_verify_hs256, "a.b.c", "")
  raises("unknown option", nil, crypto.jwt_verify_hs256, "a.b.c", SECRET, { claim = { iss = "x" } })
  raises("leeway too large", nil, crypto.jwt_verify_hs256, "a.b.c", SECRET, { leeway = 601 })
  raises("claims of a bad type", nil, crypto.jwt_verify_hs256, "a.b.c", SECRET, { claims = { iss = {} } })
  raises("token not a string", nil, crypto.jwt_verify_hs256, nil, SECRET)
end)

check("jwt_sign_rs256 refuses bad keys with nil, err; misuse raises", function()
  local v, err = crypto.jwt_sign_rs256({ iat = NOW }, "not a pem")
  eq(v, nil, "bad pem")
  assert(err:find("PEM private key"), "the error says why: " .. tostring(err))
  v, err = crypto.jwt_sign_rs256({ iat = NOW }, "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
  eq(v, nil, "bad pem body")
  assert(err:find("PEM private key"), "the error says why")
  raises("claims not a table", nil, crypto.jwt_sign_rs256, "x", "pem")
  raises("claims an array", nil, crypto.jwt_sign_rs256, { 1, 2 }, "pem")
  raises("header changing alg", nil, crypto.jwt_sign_rs256, {}, "pem", { alg = "HS256" })
  raises("unencodable claims", nil, crypto.jwt_sign_rs256, { f = print }, "pem")
end)

return t.finish()
