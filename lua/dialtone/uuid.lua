--- Random UUIDs (RFC 4122 §4.4, version 4), for run ids and JWT ids.
local uuid = {}

local crypto = dialtone.crypto

--- A random UUID v4: 16 random bytes with the version and variant bits set, in the 8-4-4-4-12 form.
---@return string
function uuid.v4()
  local b = { crypto.random_bytes(16):byte(1, 16) }
  b[7] = b[7] % 16 + 0x40
  b[9] = b[9] % 64 + 0x80
  local hex = string.format(string.rep("%02x", 16), unpack(b))
  return hex:sub(1, 8) .. "-" .. hex:sub(9, 12) .. "-" .. hex:sub(13, 16) .. "-" .. hex:sub(17, 20) .. "-" .. hex:sub(21)
end

return uuid
