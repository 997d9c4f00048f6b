--- `dialtone.telephony` for scripts: the providers on offer and the factory that builds an
--- organisation's provider from its configuration.
local telephony = {}

local providers = require("dialtone.providers")
local organizations = require("dialtone.organizations")

telephony.api = {
  providers = providers.list,
  provider = providers.get,
  get_provider = organizations.get_provider,
}

return telephony
