-- GET /api/v1/openapi.json: the API's OpenAPI 3.0 description, scripts/openapi.json as it is.
-- Public, like any API reference: it holds no data of any organisation.
local route = dialtone.route

route.get("/api/v1/openapi.json", function()
  local text, err = dialtone.assets.read("openapi.json")
  if not text then return route.error(500, "openapi_unavailable", "scripts/openapi.json: " .. tostring(err)) end
  return { status = 200, headers = { ["content-type"] = "application/json" }, body = text }
end)
