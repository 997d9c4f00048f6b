-- A development route for the media path alone: a Twilio Media Streams client (the media
-- tests, the benchmark) runs a workflow module here directly, with no run, no token and no
-- carrier. Loopback clients only; calls go through /api/v1/telephony/ws/... (telephony.lua).
local route = dialtone.route
local flow = require("dialtone.flow")

route.ws("/dev/twilio-media/{workflow}", function(req)
  if not req.loopback then
    return route.error(403, "forbidden", "development route: loopback clients only")
  end
  return flow.serve_twilio(req, req.params.workflow)
end)
