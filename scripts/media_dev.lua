-- A development route for the media path before the telephony endpoints exist: a Twilio
-- Media Streams client (a test, the benchmark) connects here and talks to a workflow.
-- Loopback clients only.
local route = dialtone.route
local flow = require("dialtone.flow")

route.ws("/dev/twilio-media/{workflow}", function(req)
  if not req.loopback then
    return route.error(403, "forbidden", "development route: loopback clients only")
  end
  return flow.serve_twilio(req, req.params.workflow)
end)
