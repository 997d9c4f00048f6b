/* The settings scripts may read (dialtone.config), published by the command that runs them.
 * The public URL is only known once the server listens (port 0 means any free port), so it
 * is published separately. */
#ifndef DT_SETTINGS_H
#define DT_SETTINGS_H

#include "config.h"

/* Keeps a pointer to cfg (it must outlive every script) and takes cfg->public_url. */
void dt_settings_publish(const dt_config *cfg);
void dt_settings_set_public_url(const char *url);
/* NULL before dt_settings_publish. */
const dt_config *dt_settings_config(void);
const char *dt_settings_public_url(void);
#endif
