-- The web UI's static files (scripts/web/): GET / is the page, GET /web/{file} its assets.
-- Only plain file names with a known extension are served, so nothing outside scripts/web/ is
-- reachable. Responses carry an ETag and `no-cache`: browsers revalidate (a 304 when unchanged),
-- so an edited file is picked up at once without fingerprinted names.
local route = dialtone.route
local crypto = dialtone.crypto

local CONTENT_TYPES = {
  html = "text/html; charset=utf-8",
  js = "text/javascript; charset=utf-8",
  css = "text/css; charset=utf-8",
  svg = "image/svg+xml",
  png = "image/png",
  ico = "image/x-icon",
  json = "application/json",
}

-- The page loads only its own files and talks only to this server.
local PAGE_POLICY = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
  .. "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

--- The extension of a servable file name (letters, digits, `_`, `-`, one dot), or nil.
---@param name string
---@return string|nil
local function servable_extension(name)
  local ext = name:match("^[%w_-]+%.(%w+)$")
  if ext and CONTENT_TYPES[ext] then return ext end
  return nil
end

--- Whether the request's If-None-Match names this ETag.
---@param req table
---@param etag string
---@return boolean
local function not_modified(req, etag)
  local header = req.headers["if-none-match"]
  if not header then return false end
  for tag in header:gmatch("[^,%s]+") do
    if tag == etag or tag == "W/" .. etag or tag == "*" then return true end
  end
  return false
end

--- The response for one file of scripts/web/.
---@param req table
---@param name string
---@return table
local function serve(req, name)
  local ext = servable_extension(name)
  if not ext then return route.error(404, "not_found", "no such file") end
  local body = dialtone.assets.read("web/" .. name)
  if not body then return route.error(404, "not_found", "no such file") end
  local etag = '"' .. crypto.hex(crypto.sha256(body)):sub(1, 32) .. '"'
  local headers = {
    ["content-type"] = CONTENT_TYPES[ext],
    ["cache-control"] = "no-cache",
    ["etag"] = etag,
    ["x-content-type-options"] = "nosniff",
  }
  if ext == "html" then
    headers["content-security-policy"] = PAGE_POLICY
    headers["referrer-policy"] = "no-referrer"
    headers["x-frame-options"] = "DENY"
  end
  if not_modified(req, etag) then return { status = 304, headers = headers, body = "" } end
  return { status = 200, headers = headers, body = body }
end

route.get("/", function(req) return serve(req, "index.html") end)
route.get("/web/{file}", function(req) return serve(req, req.params.file) end)
