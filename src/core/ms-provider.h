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

/**
 * MsProviderLimits:
 * @per_minute: messages a minute, 0 = no published limit
 * @per_hour: messages an hour, 0 = no published limit
 * @per_day: messages (or recipients) a rolling day on the basic plan, 0 = none
 * @per_day_max: the same on the provider's largest plan (Workspace), 0 = same as @per_day
 * @connections: connections at once, 0 = no published limit
 *
 * The provider's published sending limits. They are the real ceilings:
 * pacing defaults should leave headroom below them (about 10 %).
 */
typedef struct {
  guint per_minute;
  guint per_hour;
  guint per_day;
  guint per_day_max;
  guint connections;
} MsProviderLimits;

gboolean    ms_provider_get_limits (MsProvider        provider,
                                    MsProviderLimits *limits);

/**
 * ms_provider_check_pacing:
 * @server: the SMTP server host name
 * @per_minute: the account's max-per-minute (0 = no limit)
 * @per_hour: the account's max-per-hour (0 = no limit)
 * @per_day: the account's max-per-day (0 = no limit)
 * @connections: the account's max-connections
 *
 * Compares the account's pacing with the provider's published limits.
 *
 * Returns: (transfer full): a %NULL-terminated array of translated warnings,
 *   one per setting that exceeds (or leaves unlimited) what the provider
 *   allows; empty when all is well or the provider is unknown; never %NULL.
 */
char      **ms_provider_check_pacing (const char *server,
                                      guint       per_minute,
                                      guint       per_hour,
                                      guint       per_day,
                                      guint       connections);

G_END_DECLS
