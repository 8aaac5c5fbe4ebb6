/* ms-oauth2.h: OAuth2 sign-in (authorization code + PKCE, loopback redirect) and access tokens
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ms-provider.h"

G_BEGIN_DECLS

#define MS_TYPE_OAUTH2 (ms_oauth2_get_type ())
G_DECLARE_FINAL_TYPE (MsOAuth2, ms_oauth2, MS, OAUTH2, GObject)

/* Tests only: a PEM bundle trusted instead of the system store, and only
 * for a token endpoint on a loopback address (127.0.0.1, ::1, localhost),
 * so it can never vouch for a real provider. */
#define MS_OAUTH2_TEST_CA_ENV "MAILSHOT_TEST_OAUTH2_CA_FILE"

/**
 * MsOAuth2Params:
 * @account: the account's name (keyring attribute)
 * @provider: who signs in
 * @user: the user (keyring attribute, login hint, SASL user)
 * @client_id: the client ID registered with the provider
 * @tenant: (nullable): Microsoft only
 * @auth_endpoint: (nullable): custom only
 * @token_endpoint: (nullable): custom only
 * @scope: (nullable): custom only; the built-in providers have their own
 * @goa_account_id: (nullable): a GNOME Online Accounts account ID: GOA
 *   then provides the access token, nothing is kept in our keyring, and
 *   @client_id, @tenant and the endpoints are not used
 */
typedef struct {
  const char       *account;
  MsOAuth2Provider  provider;
  const char       *user;
  const char       *client_id;
  const char       *tenant;
  const char       *auth_endpoint;
  const char       *token_endpoint;
  const char       *scope;
  const char       *goa_account_id;
} MsOAuth2Params;

/* Fails with MS_ERROR_NOT_CONFIGURED (no client ID, no user, a custom
 * provider without endpoints), saying which key to set. */
MsOAuth2    *ms_oauth2_new               (const MsOAuth2Params *params,
                                          GError              **error);
const char  *ms_oauth2_get_user          (MsOAuth2             *self);
/* "Microsoft", "Google" or the custom endpoint's host: for messages. */
const char  *ms_oauth2_get_provider_name (MsOAuth2             *self);
/* The GNOME Online Accounts account that provides the token, or NULL when
 * this app signs in by itself. */
const char  *ms_oauth2_get_goa_account_id (MsOAuth2            *self);

/* Called once, in the caller's context, with the address to open in a
 * browser; the sign-in then waits for the browser to come back. */
typedef void (*MsOAuth2UriFunc) (const char *uri,
                                 gpointer    user_data);

/**
 * ms_oauth2_sign_in_async:
 * @uri_func: called with the authorization address to open
 *
 * The authorization code flow with PKCE (RFC 7636, S256) and a loopback
 * redirect to http://127.0.0.1:PORT/ on a random port (RFC 8252). Waits
 * (without a time limit: cancel it) for the browser, exchanges the code,
 * keeps the refresh token in the keyring and the access token in memory.
 * Errors: MS_ERROR_AUTH (the user or provider refused: the message quotes
 * the provider), MS_ERROR_CONNECT, MS_ERROR_TIMEOUT, MS_ERROR_TLS (the
 * token endpoint), MS_ERROR_FAILED, the keyring's errors; G_IO_ERROR_CANCELLED.
 */
void         ms_oauth2_sign_in_async     (MsOAuth2             *self,
                                          MsOAuth2UriFunc       uri_func,
                                          gpointer              uri_data,
                                          GCancellable         *cancellable,
                                          GAsyncReadyCallback   callback,
                                          gpointer              user_data);
gboolean     ms_oauth2_sign_in_finish    (MsOAuth2             *self,
                                          GAsyncResult         *result,
                                          GError              **error);

/**
 * ms_oauth2_get_access_token:
 * @stale: (nullable): a token the server refused: never returned again
 *
 * A valid access token: the one in memory while it has time left, else a
 * new one from the refresh token in the keyring (and a rotated refresh
 * token is stored). Blocking; any thread. A missing, expired or revoked
 * sign-in is MS_ERROR_SIGN_IN_REQUIRED, whose message says to sign in again.
 *
 * Returns: (transfer full): the token; free it with ms_oauth2_token_free()
 */
char        *ms_oauth2_get_access_token  (MsOAuth2             *self,
                                          const char           *stale,
                                          GCancellable         *cancellable,
                                          GError              **error);
void         ms_oauth2_get_access_token_async  (MsOAuth2           *self,
                                                GCancellable       *cancellable,
                                                GAsyncReadyCallback callback,
                                                gpointer            user_data);
char        *ms_oauth2_get_access_token_finish (MsOAuth2           *self,
                                                GAsyncResult       *result,
                                                GError            **error);

/* Whether a sign-in is kept (a refresh token in the keyring, or Online
 * Accounts), without asking the provider. */
void         ms_oauth2_has_sign_in_async  (MsOAuth2            *self,
                                           GCancellable        *cancellable,
                                           GAsyncReadyCallback  callback,
                                           gpointer             user_data);
gboolean     ms_oauth2_has_sign_in_finish (MsOAuth2            *self,
                                           GAsyncResult        *result,
                                           GError             **error);

/* Forgets the refresh token (keyring) and the access token (memory). */
gboolean     ms_oauth2_sign_out          (MsOAuth2             *self,
                                          GCancellable         *cancellable,
                                          GError              **error);

/* Wipes and frees a token. */
void         ms_oauth2_token_free        (char                 *token);

G_END_DECLS
