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

/* Who signs an account in with OAuth2 (the oauth2-provider key). */
typedef enum {
  MS_OAUTH2_PROVIDER_MICROSOFT,
  MS_OAUTH2_PROVIDER_GOOGLE,
  MS_OAUTH2_PROVIDER_CUSTOM,
} MsOAuth2Provider;

/**
 * MsProviderOAuth2:
 * @name: the provider's name for messages ("Microsoft"), not translated
 * @auth_endpoint: the authorization endpoint (transfer full)
 * @token_endpoint: the token endpoint (transfer full)
 * @scope: the scopes to ask for, space-separated (transfer full)
 *
 * The OAuth2 endpoints and scopes of a built-in provider.
 */
typedef struct {
  const char *name;
  char       *auth_endpoint;
  char       *token_endpoint;
  char       *scope;
} MsProviderOAuth2;

/* Fills @out for Microsoft (with @tenant, "organizations" when NULL or
 * empty) or Google; FALSE for the custom provider, whose endpoints are keys.
 * Free the strings with ms_provider_oauth2_clear(). */
gboolean    ms_provider_get_oauth2   (MsOAuth2Provider  provider,
                                      const char       *tenant,
                                      MsProviderOAuth2 *out);
void        ms_provider_oauth2_clear (MsProviderOAuth2 *oauth2);

/**
 * ms_provider_get_hints:
 * @server: the SMTP server host name
 * @port: the configured port
 * @use_smtps: the "Use SMTPS" setting
 *
 * The provider's summary in sentences. What the settings window and
 * `mailshot-cli test` show is ms_provider_get_notes(), which says each fact
 * once with the account's limits and sign-in method in view.
 *
 * Returns: (transfer full): a %NULL-terminated array of translated sentences
 *   (recommend-against, port/SMTPS advice, app password). Empty for other
 *   providers; never %NULL.
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
 * MsProviderAuth:
 * @MS_PROVIDER_AUTH_NONE: no sign-in (a relay that trusts the address)
 * @MS_PROVIDER_AUTH_PASSWORD: a password (or app password); the mechanism is negotiated
 * @MS_PROVIDER_AUTH_CRAM_MD5: a password, through CRAM-MD5 only
 * @MS_PROVIDER_AUTH_OAUTH2: OAuth2 sign-in; the provider no longer takes passwords
 *
 * How a provider's SMTP server wants the user to sign in.
 */
typedef enum {
  MS_PROVIDER_AUTH_NONE,
  MS_PROVIDER_AUTH_PASSWORD,
  MS_PROVIDER_AUTH_CRAM_MD5,
  MS_PROVIDER_AUTH_OAUTH2,
} MsProviderAuth;

/**
 * MsProviderSettings:
 * @id: a stable identifier ("gmail", "mailgun")
 * @name: the provider's brand name ("Gmail")
 * @server: the documented submission host
 * @port: the documented submission port
 * @use_smtps: %TRUE for implicit TLS (465), %FALSE for STARTTLS
 * @auth: how to sign in
 * @oauth2_provider: (nullable): "microsoft" or "google" when the provider
 *   signs in with OAuth2 (the account's oauth2-provider value)
 * @user_id: the user ID pattern, in Thunderbird's placeholders:
 *   %EMAILADDRESS%, %EMAILLOCALPART%, %EMAILDOMAIN%; "" when the provider
 *   issues one (Amazon SES)
 * @relay: %TRUE for a sending service that hosts no mailboxes (Mailgun,
 *   SendGrid, Amazon SES): never found from an address, offered by name
 * @domains: (array zero-terminated=1): the address domains served
 *
 * The SMTP settings the provider documents for sending.
 */
typedef struct {
  const char         *id;
  const char         *name;
  const char         *server;
  int                 port;
  gboolean            use_smtps;
  MsProviderAuth      auth;
  const char         *oauth2_provider;
  const char         *user_id;
  gboolean            relay;
  const char * const *domains;
} MsProviderSettings;

const MsProviderSettings  *ms_provider_settings_for_domain (const char *domain);
const MsProviderSettings  *ms_provider_settings_for_id     (const char *id);
/* The sending services (@relay), NULL-terminated, in the table's order. */
const MsProviderSettings * const *ms_provider_list_relays (void);

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
 * MsProviderAccountSettings:
 * @server: the SMTP server host name
 * @port: the configured port
 * @use_smtps: the "Use SMTPS" setting
 * @needs_auth: the "Needs authentication" setting
 * @per_minute: max-per-minute (0 = no limit)
 * @per_hour: max-per-hour (0 = no limit)
 * @per_day: max-per-day (0 = no limit)
 * @connections: max-connections
 * @oauth2: the account signs in with OAuth2 (auth-method oauth2): the notes
 *   about passwords (an app password, SMTP AUTH with LOGIN or PLAIN) do not
 *   apply to it
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
  gboolean    oauth2;
} MsProviderAccountSettings;

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
GPtrArray  *ms_provider_get_notes       (const MsProviderAccountSettings *settings);
/* The heading of those notes ("Microsoft 365", "Microsoft Exchange"), or NULL when there are none. */
const char *ms_provider_get_notes_title (const char *server);
void        ms_provider_note_free      (MsProviderNote *note);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsProviderNote, ms_provider_note_free)

G_END_DECLS
