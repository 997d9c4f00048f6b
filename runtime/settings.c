#include "settings.h"

#include <stdio.h>

static const dt_config *published;
static char public_url[sizeof published->public_url];

void dt_settings_publish(const dt_config *cfg)
{
  published = cfg;
  dt_settings_set_public_url(cfg->public_url);
}

void dt_settings_set_public_url(const char *url) { snprintf(public_url, sizeof public_url, "%s", url); }

const dt_config *dt_settings_config(void) { return published; }

const char *dt_settings_public_url(void) { return public_url; }
