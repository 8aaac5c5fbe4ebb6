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

/**
 * MsProviderNoteKind:
 * @MS_PROVIDER_NOTE_INFO: a fact or advice worth knowing
 * @MS_PROVIDER_NOTE_OK: a confirmation: the settings fit the provider
 * @MS_PROVIDER_NOTE_WARNING: a setting that does not fit: change it
 */
typedef enum {
  MS_PROVIDER_NOTE_INFO,
  MS_PROVIDER_NOTE_OK,
  MS_PROVIDER_NOTE_WARNING,
} MsProviderNoteKind;

typedef struct {
  MsProviderNoteKind  kind;
  char               *text;   /* one translated paragraph */
} MsProviderNote;

/**
 * MsProviderSettings:
 * @server: the SMTP server host name
 * @port: the configured port
 * @use_smtps: the "Use SMTPS" setting
 * @needs_auth: the "Needs authentication" setting
 * @per_minute: max-per-minute (0 = no limit)
 * @per_hour: max-per-hour (0 = no limit)
 * @per_day: max-per-day (0 = no limit)
 * @connections: max-connections
 *
 * What ms_provider_get_notes() looks at.
 */
typedef struct {
  const char *server;
  int         port;
  gboolean    use_smtps;
  gboolean    needs_auth;
  guint       per_minute;
  guint       per_hour;
  guint       per_day;
  guint       connections;
} MsProviderSettings;

/**
 * ms_provider_get_notes:
 * @settings: the account's settings
 *
 * What the settings window says about the provider, each fact once: the
 * general advice against Gmail and Microsoft 365 for bulk mail (with their
 * daily caps), their other limits, whether the port and security fit, the
 * sign-in rules, and a warning per sending limit set above the provider's.
 * Numbers are formatted for the locale. Exchange hosts other than
 * Microsoft 365 get the note that NTLM is not supported.
 *
 * Returns: (transfer full) (element-type MsProviderNote): the notes, in the
 *   order to show them; empty for other servers
 */
GPtrArray  *ms_provider_get_notes       (const MsProviderSettings *settings);
/* The heading of those notes ("Microsoft 365", "Microsoft Exchange"), or NULL when there are none. */
const char *ms_provider_get_notes_title (const char *server);
void        ms_provider_note_free      (MsProviderNote *note);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsProviderNote, ms_provider_note_free)

G_END_DECLS
