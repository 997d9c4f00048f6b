#include "first_start.h"

#include <openssl/crypto.h>
#include <string.h>

#include "base64.h"
#include "clock.h"
#include "crypto.h"

#define ORG_NAME "default"

static char api_key[DT_API_KEY_LEN + 1];
#define WORKFLOW_NAME "Echo"
#define WORKFLOW_FLOW "echo"

static int count_org(void *ud, const dt_store_org *org)
{
  (void)org;
  ++*(int *)ud;
  return 1; /* one is enough */
}

/* {"webhook_secret":"<32 random base64url characters>"}: the only field sim requires. */
static int sim_settings(char *out, size_t cap)
{
  uint8_t raw[24];
  char secret[33];
  size_t n;
  if (dt_random_bytes(raw, sizeof raw) != 0 ||
      dt_base64_encode(raw, sizeof raw, secret, sizeof secret, DT_BASE64_URL, &n) != 0)
    return -1;
  OPENSSL_cleanse(raw, sizeof raw);
  int len = snprintf(out, cap, "{\"webhook_secret\":\"%.*s\"}", (int)n, secret);
  OPENSSL_cleanse(secret, sizeof secret);
  return len > 0 && (size_t)len < cap ? len : -1;
}

static int create_defaults(dt_store *s, dt_store_org *org, char key[DT_API_KEY_LEN + 1], char wf[DT_STORE_ID_SIZE])
{
  double now = dt_wall_clock();
  char settings[128], cfg[DT_STORE_ID_SIZE];
  int len = sim_settings(settings, sizeof settings);
  if (len < 0) return DT_STORE_ERROR;
  static const dt_store_str secret = { "webhook_secret", sizeof "webhook_secret" - 1 };
  dt_store_config_in in = {
    .name = { "Simulated carrier", sizeof "Simulated carrier" - 1 }, .provider = { "sim", 3 },
    .settings = { settings, (size_t)len }, .secret_fields = &secret, .nsecret = 1, .is_default = 1,
  };
  int rc = dt_store_org_create(s, ORG_NAME, sizeof ORG_NAME - 1, now, org, key);
  if (rc == 0) rc = dt_store_config_create(s, org->id, strlen(org->id), &in, now, cfg);
  if (rc == 0)
    rc = dt_store_workflow_create(s, org->id, strlen(org->id), (dt_store_str){ WORKFLOW_NAME, sizeof WORKFLOW_NAME - 1 },
                                  (dt_store_str){ WORKFLOW_FLOW, sizeof WORKFLOW_FLOW - 1 }, (dt_store_str){ NULL, 0 },
                                  now, wf);
  OPENSSL_cleanse(settings, sizeof settings);
  return rc;
}

/* One transaction for the check and the three rows: two servers starting on a new data
 * directory make one default organisation, and a failure part way leaves none (so the next
 * start tries again) rather than an organisation whose key was never shown. */
int dt_first_start(dt_store *s, const char *public_url, FILE *out, char *err, size_t errlen)
{
  int orgs = 0;
  dt_store_org org;
  char key[DT_API_KEY_LEN + 1], wf[DT_STORE_ID_SIZE];
  int rc = dt_store_batch_begin(s);
  if (rc == DT_STORE_OK && dt_store_orgs_list(s, count_org, &orgs) != 0) rc = DT_STORE_ERROR;
  if (rc == DT_STORE_OK && orgs == 0) rc = create_defaults(s, &org, key, wf);
  if (dt_store_batch_end(s, rc) != DT_STORE_OK) {
    snprintf(err, errlen, "cannot create the default organisation: %s", dt_store_error(s));
    OPENSSL_cleanse(key, sizeof key);
    return -1;
  }
  if (orgs > 0) return 0;
  fprintf(out,
          "dialtone: new data directory: created the organisation \"%s\" (%s), which calls through the\n"
          "simulated carrier, and its workflow \"%s\" (%s).\n"
          "  API key (shown only this once; `dialtone key rotate %s` makes a new one): %s\n"
          "  Web UI: %s/\n",
          org.name, org.id, WORKFLOW_NAME, wf, ORG_NAME, key, public_url);
  fflush(out);
  memcpy(api_key, key, sizeof api_key);
  OPENSSL_cleanse(key, sizeof key);
  return 1;
}

const char *dt_first_start_api_key(void) { return api_key[0] ? api_key : NULL; }
