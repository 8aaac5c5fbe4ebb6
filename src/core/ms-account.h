/* ms-account.h: the account form as a GObject, bound to its GSettings path
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ms-pacer.h"
#include "ms-probe.h"
#include "ms-provider.h"
#include "ms-reply.h"
#include "ms-smtp.h"

G_BEGIN_DECLS

#define MS_ACCOUNT_SCHEMA_ID   "io.github.mailshot.Mailshot.Account"
#define MS_ACCOUNT_PATH_PREFIX "/io/github/mailshot/Mailshot/accounts/"
#define MS_ACCOUNT_DEFAULT     "default"

#define MS_TYPE_ACCOUNT (ms_account_get_type ())
G_DECLARE_FINAL_TYPE (MsAccount, ms_account, MS, ACCOUNT, GObject)

/* NULL name = "default". Fails (MS_ERROR_INVALID_VALUE) on a name that is not [A-Za-z0-9_-]+
 * or when the schema is not installed (the message says how to fix it). */
MsAccount   *ms_account_new                 (const char  *name,
                                             GError     **error);
const char  *ms_account_get_name            (MsAccount   *self);
GSettings   *ms_account_get_settings        (MsAccount   *self);

/* Properties, one per key, named as the key: "email-address", "smtp-server",
 * "ehlo-host", "user-id", "smtp-port", "timeout", "needs-authentication",
 * "auth-method" (MsAuthMethod), "oauth2-provider" (MsOAuth2Provider),
 * "oauth2-client-id", "oauth2-tenant", "oauth2-auth-endpoint",
 * "oauth2-token-endpoint", "goa-account-id", "use-smtps", "rate-limited-until",
 * "allow-plaintext-password", "max-per-minute", "max-per-hour", "max-per-day",
 * "max-connections", "trusted-certificate", "sender-name", "starttls-seen". */
const char  *ms_account_get_email_address   (MsAccount *self);
const char  *ms_account_get_smtp_server     (MsAccount *self);
int          ms_account_get_smtp_port       (MsAccount *self);
gboolean     ms_account_get_use_smtps       (MsAccount *self);
gint64       ms_account_get_rate_limited_until (MsAccount *self);
void         ms_account_set_rate_limited_until (MsAccount *self, gint64 until);
gboolean     ms_account_is_configured       (MsAccount *self);   /* server and address set */
const char  *ms_account_get_sender_name     (MsAccount *self);
const char  *ms_account_get_ehlo_host       (MsAccount *self);
gboolean     ms_account_get_needs_authentication (MsAccount *self);
const char  *ms_account_get_user_id         (MsAccount *self);
MsAuthMethod ms_account_get_auth_method     (MsAccount *self);
MsOAuth2Provider ms_account_get_oauth2_provider (MsAccount *self);
const char  *ms_account_get_oauth2_client_id (MsAccount *self);
const char  *ms_account_get_oauth2_tenant   (MsAccount *self);
const char  *ms_account_get_oauth2_auth_endpoint (MsAccount *self);
const char  *ms_account_get_oauth2_token_endpoint (MsAccount *self);
const char  *ms_account_get_goa_account_id  (MsAccount *self);   /* "": the app signs in by itself */
gboolean     ms_account_get_allow_plaintext_password (MsAccount *self);
int          ms_account_get_timeout         (MsAccount *self);
const char  *ms_account_get_trusted_certificate (MsAccount *self);   /* "" or AA:BB:… upper case */
int          ms_account_get_max_connections (MsAccount *self);
int          ms_account_get_max_per_minute  (MsAccount *self);
int          ms_account_get_max_per_hour    (MsAccount *self);
int          ms_account_get_max_per_day     (MsAccount *self);
gboolean     ms_account_get_starttls_seen   (MsAccount *self);
/* Writes the key; call it when a session saw STARTTLS offered. */
void         ms_account_set_starttls_seen   (MsAccount *self, gboolean seen);
/* After a test or a batch: STARTTLS seen, and a rate limit's end (never earlier). */
void         ms_account_note_session        (MsAccount     *self,
                                             gboolean       starttls_offered,
                                             const MsReply *reply);

/* [A-Za-z0-9_-]+, at most 64 characters. */
gboolean     ms_account_name_is_valid       (const char *name);
/* Whether @key is one of ms_account_list_keys(). */
gboolean     ms_account_is_key              (const char *key);
/* The translated name advice gives @key (“Use SMTPS”); NULL for an unknown key. */
const char  *ms_account_get_key_label       (const char *key);
/* FALSE when GLib fell back to the memory backend: nothing set will be kept. */
gboolean     ms_account_settings_are_persistent (void);
/* FALSE with a sentence when changes cannot be saved (dconf without a session bus). */
gboolean     ms_account_check_backend       (GError **error);

/**
 * ms_account_check_value:
 * @key: a key of the account schema
 * @text: the value as a user typed it ("587", "true", "cram-md5")
 * @value: (out) (optional) (transfer full): the parsed value
 *
 * Validates without storing. The error (MS_ERROR_INVALID_VALUE) names the key
 * and the rule, e.g. "smtp-port: must be a whole number from 1 to 65535".
 */
gboolean     ms_account_check_value         (const char  *key,
                                             const char  *text,
                                             GVariant   **value,
                                             GError     **error);
/* Validates, then stores. Nothing is stored on error. */
gboolean     ms_account_set_from_string     (MsAccount   *self,
                                             const char  *key,
                                             const char  *text,
                                             GError     **error);
/* The bare value as `config get` prints it: 587, true, sender@example.org. */
char        *ms_account_get_as_string       (MsAccount   *self,
                                             const char  *key,
                                             GError     **error);
void         ms_account_reset               (MsAccount   *self,
                                             const char  *key);
/* Keys the user may see and set, in form order; transfer full. */
char       **ms_account_list_keys           (void);

/* The OAuth2 sign-in of the account (its oauth2-* keys, the user ID or else
 * the address); MS_ERROR_NOT_CONFIGURED names the key that is missing. */
MsOAuth2     *ms_account_create_oauth2      (MsAccount   *self,
                                             GError     **error);

/* A snapshot for a worker thread; @password may be NULL. */
MsSmtpConfig *ms_account_make_smtp_config   (MsAccount   *self,
                                             const char  *password);

/**
 * ms_account_load_config_async:
 *
 * The snapshot a session needs, with the password from the keyring when the
 * account needs authentication (with auth-method oauth2: a valid access
 * token, renewed with the refresh token in the keyring when needed, and
 * config->oauth2 to renew it again): the one way every front end gets it.
 * Errors: MS_ERROR_NOT_CONFIGURED (no server or address), and ms-secret's
 * MS_ERROR_NO_PASSWORD, MS_ERROR_KEYRING_LOCKED, MS_ERROR_KEYRING_UNAVAILABLE,
 * each with a sentence that says what to do; for oauth2 MS_ERROR_SIGN_IN_REQUIRED
 * (not signed in, or the sign-in was revoked) and ms-oauth2's errors;
 * G_IO_ERROR_CANCELLED.
 */
void          ms_account_load_config_async  (MsAccount            *self,
                                             GCancellable         *cancellable,
                                             GAsyncReadyCallback   callback,
                                             gpointer              user_data);
/* Returns: (transfer full): the snapshot; ms_smtp_config_free() wipes the password. */
MsSmtpConfig *ms_account_load_config_finish (MsAccount            *self,
                                             GAsyncResult         *result,
                                             GError              **error);
/* Blocking twin, for the command line. */
MsSmtpConfig *ms_account_load_config_sync   (MsAccount            *self,
                                             GCancellable         *cancellable,
                                             GError              **error);

/* The sending budgets of the account (max-per-*, max-connections, at least 1,
 * and rate-limited-until), for ms_blast_new() and the pre-flight estimate. */
void          ms_account_get_pacer_limits   (MsAccount            *self,
                                             MsPacerLimits        *out);

/* After a test: ms_account_note_session() with what the probe saw, and when
 * the server accepted the test message, a rate limit is cleared: the server
 * has just shown that it takes mail again. */
void          ms_account_note_test          (MsAccount            *self,
                                             MsProbe              *probe);

G_END_DECLS
