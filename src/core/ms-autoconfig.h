/* ms-autoconfig.h: the SMTP settings found from an e-mail address (table, autoconfig file, MX)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ms-provider.h"

G_BEGIN_DECLS

/**
 * MsAutoconfigSource:
 * @MS_AUTOCONFIG_SOURCE_TABLE: the built-in table of providers (ms-provider)
 * @MS_AUTOCONFIG_SOURCE_FILE: the domain's autoconfig file (Thunderbird's format, HTTPS)
 * @MS_AUTOCONFIG_SOURCE_MX: the domain's MX records point to Google or Microsoft
 *
 * Where detected settings came from, in the order the sources are tried.
 */
typedef enum {
  MS_AUTOCONFIG_SOURCE_TABLE,
  MS_AUTOCONFIG_SOURCE_FILE,
  MS_AUTOCONFIG_SOURCE_MX,
} MsAutoconfigSource;

/**
 * MsAutoconfigResult:
 * @email_address: the address the settings were found for (trimmed)
 * @provider_name: a display name of the provider ("Gmail", or the file's displayName)
 * @server: the SMTP submission host
 * @port: its port
 * @use_smtps: %TRUE for implicit TLS (SMTPS), %FALSE for STARTTLS
 * @auth: how to sign in
 * @oauth2_provider: (nullable): "microsoft" or "google" when OAuth2 is known to work
 * @user_id_pattern: the user ID with Thunderbird's placeholders (%EMAILADDRESS%,
 *   %EMAILLOCALPART%, %EMAILDOMAIN%); "" when the provider issues one
 * @user_id: the pattern filled in with @email_address
 * @source: where the settings came from
 * @source_detail: (nullable): the file's URL, or the MX host; %NULL for the table
 */
typedef struct {
  char              *email_address;
  char              *provider_name;
  char              *server;
  int                port;
  gboolean           use_smtps;
  MsProviderAuth     auth;
  char              *oauth2_provider;
  char              *user_id_pattern;
  char              *user_id;
  MsAutoconfigSource source;
  char              *source_detail;
} MsAutoconfigResult;

#define MS_TYPE_AUTOCONFIG_RESULT (ms_autoconfig_result_get_type ())
GType               ms_autoconfig_result_get_type   (void) G_GNUC_CONST;
MsAutoconfigResult *ms_autoconfig_result_copy       (const MsAutoconfigResult *result);
void                ms_autoconfig_result_free       (MsAutoconfigResult       *result);

/* Where the settings came from, translated: "the built-in table of providers",
 * "the autoconfig file at https://…", "MX records point to Google (aspmx.l.google.com)".
 * Transfer full. */
char               *ms_autoconfig_result_describe_source (const MsAutoconfigResult *result);
/* The account's auth-method value for @result: "automatic", "cram-md5" or "oauth2". */
const char         *ms_autoconfig_result_get_auth_method (const MsAutoconfigResult *result);
/* Whether the account's needs-authentication goes on. */
gboolean            ms_autoconfig_result_needs_authentication (const MsAutoconfigResult *result);

/* A pattern with %EMAILADDRESS%, %EMAILLOCALPART% and %EMAILDOMAIN% filled in; transfer full. */
char               *ms_autoconfig_expand           (const char *pattern,
                                                    const char *address);

/* Settings from the built-in table alone: no network. NULL when the domain
 * is not in it (no error) or @address is not an address (@error set). */
MsAutoconfigResult *ms_autoconfig_lookup_table     (const char  *address,
                                                    GError     **error);

/**
 * ms_autoconfig_detect_async:
 * @address: an e-mail address
 *
 * Finds SMTP settings for @address: the built-in table, then the domain's
 * autoconfig file (https://autoconfig.DOMAIN/mail/config-v1.1.xml, then
 * https://DOMAIN/.well-known/autoconfig/mail/config-v1.1.xml; HTTPS with a
 * verified certificate only, 10 seconds and 64 KiB at most each), then the
 * domain's MX records (Google or Microsoft).
 *
 * Errors: MS_ERROR_INVALID_VALUE for something that is not an address;
 * MS_ERROR_NOT_FOUND when no source knows the domain, naming the domain and
 * what was tried; G_IO_ERROR_CANCELLED.
 *
 * For tests only, three environment variables make the lookups total and
 * local: MS_AUTOCONFIG_CONNECT_TO (libcurl CONNECT_TO entries, comma-separated;
 * a URL whose host has no entry is not fetched), MS_AUTOCONFIG_CAINFO (the
 * CA file), MS_AUTOCONFIG_MX ("domain=host,host;domain2=", used instead of
 * the resolver).
 */
void                ms_autoconfig_detect_async     (const char          *address,
                                                    GCancellable        *cancellable,
                                                    GAsyncReadyCallback  callback,
                                                    gpointer             user_data);
/* Returns: (transfer full): the settings; free with ms_autoconfig_result_free(). */
MsAutoconfigResult *ms_autoconfig_detect_finish    (GAsyncResult        *result,
                                                    GError             **error);

/* Parses a Thunderbird autoconfig file (exposed for the tests and the fuzzer):
 * the first outgoingServer of type smtp. MS_ERROR_INVALID_INPUT with the
 * reason when it is malformed, hostile or has no usable SMTP server. */
MsAutoconfigResult *ms_autoconfig_parse            (const char  *xml,
                                                    gssize       length,
                                                    const char  *address,
                                                    GError     **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsAutoconfigResult, ms_autoconfig_result_free)

G_END_DECLS
