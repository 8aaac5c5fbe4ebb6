/* ms-goa.c: GNOME Online Accounts: the accounts that can send as an address, and their access tokens
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#define GOA_API_IS_SUBJECT_TO_CHANGE
#include <goa/goa.h>
#include <gio/gdesktopappinfo.h>
#include <glib/gi18n-lib.h>
#include <string.h>

#include "ms-error.h"
#include "ms-goa.h"

/* The GOA providers whose OAuth2 token may sign in to SMTP. GOA 3.46 (Debian
 * 12) asks Google for https://mail.google.com/, which XOAUTH2 needs. Its
 * "windows_live" provider asks for Live Connect scopes (wl.imap), not
 * https://outlook.office.com/SMTP.Send, and it has no "ms_graph" provider
 * (3.50 and later, for files): neither can send, so neither is offered. */
static const char * const smtp_providers[] = { "google" };

void
ms_goa_account_free (MsGoaAccount *account)
{
  if (account == NULL)
    return;
  g_free (account->id);
  g_free (account->provider_type);
  g_free (account->provider_name);
  g_free (account->identity);
  g_free (account->address);
  g_free (account);
}

gboolean
ms_goa_is_supported (void)
{
  return TRUE;
}

/**
 * ms_goa_get_settings_panel:
 *
 * Returns: (transfer full) (nullable): GNOME Settings' Online Accounts
 *   panel, or %NULL when GNOME Settings is not installed
 */
GAppInfo *
ms_goa_get_settings_panel (void)
{
  /* GNOME Settings installs one desktop file per panel. */
  GDesktopAppInfo *panel = g_desktop_app_info_new ("gnome-online-accounts-panel.desktop");

  return panel != NULL ? G_APP_INFO (panel) : NULL;
}

static gboolean
can_send (GoaAccount *account)
{
  return g_strv_contains (smtp_providers, goa_account_get_provider_type (account));
}

static const char *
or_address (const char *address)
{
  return address != NULL && *address != '\0' ? address : _("this account");
}

/* A client on its own main context: a worker thread owns it whole, and
 * nothing of it reaches the caller's loop. Everything taken from the client
 * is released before client_close(). */
typedef struct {
  GMainContext *context;
  GoaClient    *client;
} Client;

static void
client_close (Client *c)
{
  g_clear_object (&c->client);
  if (c->context != NULL)
    {
      /* Let the object manager's last signal subscriptions go. */
      while (g_main_context_iteration (c->context, FALSE))
        ;
      g_main_context_pop_thread_default (c->context);
      g_main_context_unref (c->context);
      c->context = NULL;
    }
}

/* FALSE without a session bus or without goa-daemon (g_debug says which). */
static gboolean
client_open (Client       *c,
             GCancellable *cancellable,
             GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  GDBusObjectManager *manager;
  g_autofree char *owner = NULL;

  /* Its errors come back in GOA_ERROR, not as remote-error strings. */
  (void) goa_error_quark ();

  c->context = g_main_context_new ();
  g_main_context_push_thread_default (c->context);
  c->client = goa_client_new_sync (cancellable, &local_error);
  if (c->client == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("GOA: no client: %s", local_error->message);
      return FALSE;
    }
  /* A missing goa-daemon is no error to the object manager: it has no owner. */
  manager = goa_client_get_object_manager (c->client);
  owner = g_dbus_object_manager_client_get_name_owner (G_DBUS_OBJECT_MANAGER_CLIENT (manager));
  if (owner == NULL)
    {
      g_debug ("GOA: org.gnome.OnlineAccounts has no owner: goa-daemon is not installed or not running");
      return FALSE;
    }
  return TRUE;
}

static gboolean
same_address (const char *a,
              const char *b)
{
  return a != NULL && b != NULL && *a != '\0' && g_ascii_strcasecmp (a, b) == 0;
}

static MsGoaAccount *
describe (GoaObject  *object,
          const char *address)
{
  GoaAccount *account = goa_object_peek_account (object);
  GoaMail *mail = goa_object_peek_mail (object);
  MsGoaAccount *out = g_new0 (MsGoaAccount, 1);

  out->id = g_strdup (goa_account_get_id (account));
  out->provider_type = g_strdup (goa_account_get_provider_type (account));
  out->provider_name = g_strdup (goa_account_get_provider_name (account));
  out->identity = g_strdup (goa_account_get_presentation_identity (account));
  if (address != NULL)
    out->address = g_strdup (address);
  else if (mail != NULL && goa_mail_get_email_address (mail) != NULL)
    out->address = g_strdup (goa_mail_get_email_address (mail));
  else
    out->address = g_strdup (out->identity);
  out->attention_needed = goa_account_get_attention_needed (account);
  return out;
}

GPtrArray *
ms_goa_find_sync (const char    *address,
                  GCancellable  *cancellable,
                  GError       **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_goa_account_free);
  g_autolist(GoaObject) objects = NULL;
  Client c = { NULL, NULL };

  g_return_val_if_fail (address != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!client_open (&c, cancellable, error))
    {
      client_close (&c);
      return error != NULL && *error != NULL ? NULL : g_steal_pointer (&found);
    }

  objects = goa_client_get_accounts (c.client);
  for (GList *l = objects; l != NULL; l = l->next)
    {
      GoaObject *object = l->data;
      GoaAccount *account = goa_object_peek_account (object);
      GoaMail *mail = goa_object_peek_mail (object);
      const char *mail_address = mail != NULL ? goa_mail_get_email_address (mail) : NULL;

      if (account == NULL || !can_send (account))
        continue;
      /* Mail turned off for the account in Settings: the user said no. */
      if (goa_account_get_mail_disabled (account))
        {
          g_debug ("GOA: %s has mail turned off", goa_account_get_id (account));
          continue;
        }
      if (same_address (mail_address, address) ||
          same_address (goa_account_get_presentation_identity (account), address))
        g_ptr_array_add (found, describe (object, address));
    }
  /* The objects hold the object manager: they go before its context does,
   * or its signal subscriptions' last callbacks never run (and leak). */
  g_clear_list (&objects, g_object_unref);
  client_close (&c);
  return g_steal_pointer (&found);
}

static void
find_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  GError *error = NULL;
  GPtrArray *found = ms_goa_find_sync (task_data, cancellable, &error);

  if (found == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, found, (GDestroyNotify) g_ptr_array_unref);
}

/**
 * ms_goa_find_async:
 *
 * ms_goa_find_sync() in a worker thread.
 */
void
ms_goa_find_async (const char          *address,
                   GCancellable        *cancellable,
                   GAsyncReadyCallback  callback,
                   gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (address != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_goa_find_async);
  g_task_set_task_data (task, g_strdup (address), g_free);
  g_task_run_in_thread (task, find_thread);
}

/**
 * ms_goa_find_finish:
 *
 * Returns: (transfer full) (element-type MsGoaAccount): the matches
 */
GPtrArray *
ms_goa_find_finish (GAsyncResult  *result,
                    GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_goa_find_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
set_not_running (const char  *address,
                 GError     **error)
{
  g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
               _("The sign-in of %s comes from GNOME Online Accounts, which is not running here: sign in to a "
                 "GNOME session (or install gnome-online-accounts), or let Mailshot sign in by itself "
                 "(mailshot-cli config reset goa-account-id)."),
               or_address (address));
}

static void
set_gone (const char  *id,
          const char  *address,
          GError     **error)
{
  g_set_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED,
               _("The account for %s is no longer in Online Accounts (its ID was %s): sign in again in "
                 "Settings → Online Accounts, then choose it again (mailshot-cli oauth2 goa), or let Mailshot "
                 "sign in by itself (mailshot-cli config reset goa-account-id)."),
               or_address (address), id);
}

static void
set_attention (GoaAccount  *account,
               GError     **error)
{
  /* TRANSLATORS: the first %s is the provider ("Google"), the second the account ("news@example.org") */
  g_set_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED,
               _("Online Accounts needs you to sign in again to the %s account %s: sign in again in "
                 "Settings → Online Accounts, then send again."),
               goa_account_get_provider_name (account), goa_account_get_presentation_identity (account));
}

/* The account's object, checked: there, able to send, not waiting for the user. */
static GoaObject *
find_object (Client      *c,
             const char  *id,
             const char  *address,
             gboolean     attention_is_error,
             GError     **error)
{
  g_autoptr(GoaObject) object = goa_client_lookup_by_id (c->client, id);
  GoaAccount *account = object != NULL ? goa_object_peek_account (object) : NULL;

  if (account == NULL || !can_send (account) || goa_object_peek_oauth2_based (object) == NULL)
    {
      g_debug ("GOA: account %s: %s", id, account == NULL ? "gone" : "not a provider that can send mail");
      set_gone (id, address, error);
      return NULL;
    }
  if (attention_is_error && goa_account_get_attention_needed (account))
    {
      set_attention (account, error);
      return NULL;
    }
  return g_steal_pointer (&object);
}

MsGoaAccount *
ms_goa_lookup_sync (const char    *id,
                    const char    *address,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_autoptr(GoaObject) object = NULL;
  g_autoptr(GError) local_error = NULL;
  MsGoaAccount *found = NULL;
  Client c = { NULL, NULL };

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!client_open (&c, cancellable, &local_error))
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        set_not_running (address, error);
    }
  /* Needing attention is part of what the caller shows, not an error here. */
  else if ((object = find_object (&c, id, address, FALSE, error)) != NULL)
    found = describe (object, NULL);
  g_clear_object (&object);
  client_close (&c);
  return found;
}

static void
lookup_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GError *error = NULL;
  const char * const *args = task_data;
  MsGoaAccount *found = ms_goa_lookup_sync (args[0], args[1], cancellable, &error);

  if (found == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, found, (GDestroyNotify) ms_goa_account_free);
}

void
ms_goa_lookup_async (const char          *id,
                     const char          *address,
                     GCancellable        *cancellable,
                     GAsyncReadyCallback  callback,
                     gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  char **args;

  g_return_if_fail (id != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_goa_lookup_async);
  args = g_new0 (char *, 3);
  args[0] = g_strdup (id);
  args[1] = g_strdup (address);
  g_task_set_task_data (task, args, (GDestroyNotify) g_strfreev);
  g_task_run_in_thread (task, lookup_thread);
}

MsGoaAccount *
ms_goa_lookup_finish (GAsyncResult  *result,
                      GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_goa_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/* GOA's answer as a sentence: NotAuthorized means the user must act. */
static void
set_goa_error (GoaAccount  *account,
               GError      *goa_error,
               GError     **error)
{
  g_autofree char *detail = NULL;

  if (g_error_matches (goa_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_error_copy (goa_error));
      return;
    }
  if (g_dbus_error_is_remote_error (goa_error))
    g_dbus_error_strip_remote_error (goa_error);
  g_debug ("GOA: %s: %s (%s %d)", goa_account_get_id (account), goa_error->message,
           g_quark_to_string (goa_error->domain), goa_error->code);
  if (g_error_matches (goa_error, GOA_ERROR, GOA_ERROR_NOT_AUTHORIZED))
    {
      set_attention (account, error);
      return;
    }
  detail = g_strdup (goa_error->message);
  /* TRANSLATORS: %s: the provider ("Google"), the account, GOA's own message */
  g_set_error (error, MS_ERROR, MS_ERROR_CONNECT,
               _("Online Accounts could not renew the sign-in of the %s account %s (%s): check the network "
                 "connection and try again; if it goes on, sign in again in Settings → Online Accounts."),
               goa_account_get_provider_name (account), goa_account_get_presentation_identity (account), detail);
}

char *
ms_goa_get_access_token_sync (const char    *id,
                              const char    *address,
                              const char    *stale,
                              int           *expires_in,
                              GCancellable  *cancellable,
                              GError       **error)
{
  g_autoptr(GoaObject) object = NULL;
  g_autoptr(GError) local_error = NULL;
  GoaAccount *account;
  char *token = NULL;
  int seconds = 0;
  Client c = { NULL, NULL };

  g_return_val_if_fail (id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!client_open (&c, cancellable, &local_error))
    {
      if (local_error != NULL)
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        set_not_running (address, error);
      goto out;
    }
  object = find_object (&c, id, address, TRUE, error);
  if (object == NULL)
    goto out;
  account = goa_object_peek_account (object);

  /* The server refused the token: GOA checks it with the provider and
   * renews it (or marks the account as needing attention). */
  if (stale != NULL &&
      !goa_account_call_ensure_credentials_sync (account, NULL, cancellable, &local_error))
    {
      set_goa_error (account, local_error, error);
      goto out;
    }
  if (!goa_oauth2_based_call_get_access_token_sync (goa_object_peek_oauth2_based (object), &token, &seconds,
                                                    cancellable, &local_error))
    {
      set_goa_error (account, local_error, error);
      goto out;
    }
  if (token == NULL || *token == '\0' || (stale != NULL && strcmp (token, stale) == 0))
    {
      g_debug ("GOA: %s: %s", id, token == NULL || *token == '\0' ? "empty token" : "the refused token again");
      set_attention (account, error);
      if (token != NULL)
        memset (token, 0, strlen (token));
      g_clear_pointer (&token, g_free);
      goto out;
    }
  if (expires_in != NULL)
    *expires_in = seconds;
  g_debug ("GOA: access token of %s, valid %d s", id, seconds);

out:
  g_clear_object (&object);
  client_close (&c);
  return token;
}
