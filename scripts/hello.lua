-- A first route, so a fresh `dialtone serve` answers something beyond /healthz.
local route = dialtone.route

route.get("/api/v1/hello", function(req)
  return route.json(200, { message = "hello from dialtone", version = 1 })
end)
