/* ms-secret.h: the account password in the system keyring (libsecret)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Schema "io.github.mailshot.Mailshot.Password", attributes account, server, user.
 * Every error is in MS_ERROR with a sentence for the user:
 * MS_ERROR_KEYRING_UNAVAILABLE (no session bus / no Secret Service),
 * MS_ERROR_KEYRING_LOCKED, MS_ERROR_NO_PASSWORD (lookup found nothing; a locked
 * keyring is told apart from an empty one). Cancelling gives G_IO_ERROR_CANCELLED. */

void      ms_secret_store_async   (const char          *account,
                                   const char          *server,
                                   const char          *user,
                                   const char          *password,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
gboolean  ms_secret_store_finish  (GAsyncResult        *result,
                                   GError             **error);

void      ms_secret_lookup_async  (const char          *account,
                                   const char          *server,
                                   const char          *user,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
/* Returns: (transfer full): the password; free it with ms_secret_free(). */
char     *ms_secret_lookup_finish (GAsyncResult        *result,
                                   GError             **error);

/* Clearing: @server and @user may be NULL, meaning every server / user of the
 * account. Nothing stored is success. */
void      ms_secret_clear_async   (const char          *account,
                                   const char          *server,
                                   const char          *user,
                                   GCancellable        *cancellable,
                                   GAsyncReadyCallback  callback,
                                   gpointer             user_data);
gboolean  ms_secret_clear_finish  (GAsyncResult        *result,
                                   GError             **error);

/* Blocking versions for the CLI. */
gboolean  ms_secret_store_sync    (const char *account, const char *server, const char *user,
                                   const char *password, GCancellable *cancellable, GError **error);
char     *ms_secret_lookup_sync   (const char *account, const char *server, const char *user,
                                   GCancellable *cancellable, GError **error);
gboolean  ms_secret_clear_sync    (const char *account, const char *server, const char *user,
                                   GCancellable *cancellable, GError **error);

/* The OAuth2 refresh token: schema "io.github.mailshot.Mailshot.OAuth2",
 * attributes account, provider, user. Blocking, any thread. Nothing stored
 * on lookup is MS_ERROR_SIGN_IN_REQUIRED. */
gboolean  ms_secret_store_token_sync  (const char *account, const char *provider, const char *user,
                                       const char *token, GCancellable *cancellable, GError **error);
char     *ms_secret_lookup_token_sync (const char *account, const char *provider, const char *user,
                                       GCancellable *cancellable, GError **error);
gboolean  ms_secret_clear_token_sync  (const char *account, const char *provider, const char *user,
                                       GCancellable *cancellable, GError **error);

/* Wipes and frees a password. */
void      ms_secret_free          (char *password);

G_END_DECLS
