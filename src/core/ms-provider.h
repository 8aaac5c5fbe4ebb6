/* ms-provider.h: what we know about well-known providers (Gmail, Office 365)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  MS_PROVIDER_OTHER = 0,
  MS_PROVIDER_GMAIL,
  MS_PROVIDER_OFFICE365,
} MsProvider;

MsProvider  ms_provider_detect     (const char *server);
const char *ms_provider_get_name   (MsProvider  provider);

/**
 * ms_provider_get_hints:
 * @server: the SMTP server host name
 * @port: the configured port
 * @use_smtps: the "Use SMTPS" setting
 *
 * Returns: (transfer full): a %NULL-terminated array of translated sentences
 *   for the settings page and the test (recommend-against, port/SMTPS advice,
 *   app password). Empty for other providers; never %NULL.
 */
char      **ms_provider_get_hints  (const char *server,
                                    int         port,
                                    gboolean    use_smtps);

G_END_DECLS
