--- Signatures of the simulated carrier's requests (providers/sim.lua). Every request the carrier
--- makes is a POST of a JSON object carrying `event_id` (unique) and `timestamp` (Unix seconds),
--- signed in the `X-Sim-Signature` header:
---
---     base64(HMAC-SHA256(webhook_secret, url .. body))
---
--- where url is the URL requested and body the raw body. The signature covers the event id, so
--- the id is a sound replay key; the timestamp bounds how long a replay must be remembered.
local signature = {}

local crypto, json = dialtone.crypto, dialtone.json

signature.HEADER = "x-sim-signature"
signature.MAX_SKEW = 300                    -- seconds between timestamp and now
signature.REPLAY_TTL = 2 * signature.MAX_SKEW -- a replay is refused as long as its timestamp passes
signature.MAX_EVENT_ID = 64

--- The signature of a request.
---@param secret string
---@param url string
---@param body string
---@return string base64
function signature.sign(secret, url, body)
  return crypto.base64_encode(crypto.hmac_sha256(secret, url .. body))
end

--- A fresh event id: "EV" and 32 hex digits.
---@return string
function signature.event_id()
  return "EV" .. crypto.hex(crypto.random_bytes(16))
end

--- Checks a request's signature, then its event id and timestamp.
---@param secret string|nil the configured webhook_secret
---@param url string the URL requested (public_url + request target)
---@param body string|nil the raw body
---@param sig string|nil the X-Sim-Signature header
---@param now number Unix seconds
---@return boolean, {replay_key: string, ttl: number}|string|nil
function signature.verify(secret, url, body, sig, now)
  if type(secret) ~= "string" or secret == "" then return false, "sim: webhook_secret is not configured" end
  if type(sig) ~= "string" or sig == "" then return false, "missing " .. signature.HEADER .. " header" end
  if type(url) ~= "string" then return false, "no URL to check the signature against" end
  body = type(body) == "string" and body or ""
  if not crypto.constant_time_equal(signature.sign(secret, url, body), sig) then return false, "bad signature" end
  local ok, event = pcall(json.decode, body)
  if not ok or type(event) ~= "table" then return false, "signed body is not a JSON object" end
  local id = event.event_id
  if type(id) ~= "string" or #id > signature.MAX_EVENT_ID or not id:find("^[%w_%-]+$") then
    return false, "signed body has no valid event_id"
  end
  local stamp = event.timestamp
  if type(stamp) ~= "number" or math.abs(now - stamp) > signature.MAX_SKEW then return false, "stale timestamp" end
  return true, { replay_key = "sim:" .. id, ttl = signature.REPLAY_TTL }
end

return signature
