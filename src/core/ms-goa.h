/* ms-goa.h: GNOME Online Accounts: the accounts that can send as an address, and their access tokens
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/**
 * MsGoaAccount:
 * @id: GOA's account ID, the value of the account key goa-account-id
 * @provider_type: GOA's provider type ("google")
 * @provider_name: the provider as GNOME Settings names it ("Google")
 * @identity: the presentation identity Settings shows (usually the address)
 * @address: the mail address that matched
 * @attention_needed: GOA needs the user to sign in again in Settings
 *
 * A GOA account whose token can send mail as an address.
 */
typedef struct {
  char     *id;
  char     *provider_type;
  char     *provider_name;
  char     *identity;
  char     *address;
  gboolean  attention_needed;
} MsGoaAccount;

void          ms_goa_account_free (MsGoaAccount *account);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsGoaAccount, ms_goa_account_free)

#ifdef MS_HAVE_GOA

/* TRUE: this build can use GNOME Online Accounts (meson -Dgoa). */
gboolean      ms_goa_is_supported          (void);

/* GNOME Settings' Online Accounts panel, when it is installed here. */
GAppInfo     *ms_goa_get_settings_panel    (void);

/**
 * ms_goa_find_sync:
 * @address: the account's from address
 *
 * The GOA accounts that can send as @address: a provider whose token is
 * good for SMTP (Google), mail not turned off in Settings, and @address
 * as its mail address or its presentation identity (any case). No session
 * bus and no goa-daemon are no error: the list is then empty.
 *
 * Returns: (transfer full) (element-type MsGoaAccount): the matches, or
 *   %NULL with %G_IO_ERROR_CANCELLED
 */
GPtrArray    *ms_goa_find_sync             (const char          *address,
                                            GCancellable        *cancellable,
                                            GError             **error);
void          ms_goa_find_async            (const char          *address,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
GPtrArray    *ms_goa_find_finish           (GAsyncResult        *result,
                                            GError             **error);

/**
 * ms_goa_lookup_sync:
 * @id: a GOA account ID
 * @address: (nullable): the address the account sends as, for messages
 *
 * Returns: (transfer full): the account; %NULL with %MS_ERROR_SIGN_IN_REQUIRED
 *   when it is gone (or is not a provider that can send), with
 *   %MS_ERROR_FAILED when GNOME Online Accounts is not running
 */
MsGoaAccount *ms_goa_lookup_sync           (const char          *id,
                                            const char          *address,
                                            GCancellable        *cancellable,
                                            GError             **error);
void          ms_goa_lookup_async          (const char          *id,
                                            const char          *address,
                                            GCancellable        *cancellable,
                                            GAsyncReadyCallback  callback,
                                            gpointer             user_data);
MsGoaAccount *ms_goa_lookup_finish         (GAsyncResult        *result,
                                            GError             **error);

/**
 * ms_goa_get_access_token_sync:
 * @id: a GOA account ID
 * @address: (nullable): the address the account sends as, for messages
 * @stale: (nullable): a token the server refused: GOA is asked to check and
 *   renew its credentials first (EnsureCredentials), and @stale is never
 *   returned again
 * @expires_in: (out): seconds the token has left
 *
 * The access token GOA holds for the account. Blocking; any thread.
 * A missing account, one that needs attention, or credentials GOA cannot
 * renew are %MS_ERROR_SIGN_IN_REQUIRED, whose message names the account and
 * says to sign in again in Settings → Online Accounts.
 *
 * Returns: (transfer full): the token
 */
char         *ms_goa_get_access_token_sync (const char          *id,
                                            const char          *address,
                                            const char          *stale,
                                            int                 *expires_in,
                                            GCancellable        *cancellable,
                                            GError             **error);

#else /* !MS_HAVE_GOA: built without goa-1.0; the front ends never offer it */

static inline gboolean
ms_goa_is_supported (void)
{
  return FALSE;
}

static inline GAppInfo *
ms_goa_get_settings_panel (void)
{
  return NULL;
}

#endif /* MS_HAVE_GOA */

G_END_DECLS
