/* ms-secret.c: the account password in the system keyring (libsecret)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <libsecret/secret.h>
#include <string.h>

#include "ms-error.h"
#include "ms-secret.h"

static const SecretSchema password_schema = {
  "io.github.mailshot.Mailshot.Password", SECRET_SCHEMA_NONE,
  {
    { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  },
  /* reserved */
  0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* The OAuth2 refresh token, beside the password: never in GSettings. The
 * provider attribute is "microsoft", "google", or "custom:" and the token
 * endpoint, so that a token is never sent to another server than the one
 * that issued it. */
static const SecretSchema token_schema = {
  "io.github.mailshot.Mailshot.OAuth2", SECRET_SCHEMA_NONE,
  {
    { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "provider", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  },
  /* reserved */
  0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

typedef enum {
  OP_STORE,
  OP_LOOKUP,
  OP_CLEAR,
} Operation;

typedef struct {
  Operation    op;
  const SecretSchema *schema;   /* password_schema or token_schema */
  char        *account;
  char        *server;
  char        *user;
  GHashTable  *attributes;
  SecretValue *value;        /* store only: in libsecret's non-pageable memory */
} SecretData;

static void
secret_data_free (SecretData *data)
{
  g_free (data->account);
  g_free (data->server);
  g_free (data->user);
  g_clear_pointer (&data->attributes, g_hash_table_unref);
  g_clear_pointer (&data->value, secret_value_unref);
  g_free (data);
}

/* Each failure libsecret can give becomes its own sentence (PLATFORM.md lists
 * them). The low-level error goes to the debug log only: it never carries a
 * secret, but it means nothing to a user. */
static GError *
translate_error (const GError *error,
                 Operation     op)
{
  g_debug ("keyring: %s error: %s (%s %d)",
           op == OP_STORE ? "store" : op == OP_LOOKUP ? "lookup" : "clear",
           error->message, g_quark_to_string (error->domain), error->code);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);

  if (g_error_matches (error, SECRET_ERROR, SECRET_ERROR_IS_LOCKED))
    return g_error_new (MS_ERROR, MS_ERROR_KEYRING_LOCKED,
                        _("The keyring is locked: unlock it (in Passwords and Keys, or by logging in "
                          "to the desktop again), then try again."));

  if (error->domain == G_DBUS_ERROR)
    {
      switch (error->code)
        {
        case G_DBUS_ERROR_SERVICE_UNKNOWN:
        case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
        case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
        case G_DBUS_ERROR_SPAWN_FORK_FAILED:
        case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
        case G_DBUS_ERROR_SPAWN_CHILD_SIGNALED:
        case G_DBUS_ERROR_SPAWN_FAILED:
        case G_DBUS_ERROR_SPAWN_SERVICE_NOT_FOUND:
        case G_DBUS_ERROR_SPAWN_SERVICE_INVALID:
        case G_DBUS_ERROR_SPAWN_FILE_INVALID:
        case G_DBUS_ERROR_SPAWN_NO_MEMORY:
        case G_DBUS_ERROR_SPAWN_PERMISSIONS_INVALID:
        case G_DBUS_ERROR_SPAWN_CONFIG_INVALID:
        case G_DBUS_ERROR_SPAWN_SETUP_FAILED:
          return g_error_new (MS_ERROR, MS_ERROR_KEYRING_UNAVAILABLE,
                              _("No keyring service is running in this session, so the password cannot be kept. "
                                "Install and start gnome-keyring (or KeePassXC’s Secret Service)."));
        case G_DBUS_ERROR_NO_REPLY:
        case G_DBUS_ERROR_TIMEOUT:
        case G_DBUS_ERROR_TIMED_OUT:
          return g_error_new (MS_ERROR, MS_ERROR_KEYRING_UNAVAILABLE,
                              _("The keyring service did not answer. Check that gnome-keyring (or KeePassXC’s "
                                "Secret Service) is running and not waiting for you in another window, then try again."));
        default:
          break;
        }
    }

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_error_new (MS_ERROR, MS_ERROR_KEYRING_UNAVAILABLE,
                        _("The keyring service did not answer. Check that gnome-keyring (or KeePassXC’s "
                          "Secret Service) is running and not waiting for you in another window, then try again."));

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return g_error_new (MS_ERROR, MS_ERROR_KEYRING_UNAVAILABLE,
                        _("The connection to the session bus was lost, so the keyring cannot be reached. "
                          "Log in to the desktop again, then try again."));

  if (g_error_matches (error, SECRET_ERROR, SECRET_ERROR_NO_SUCH_OBJECT))
    return g_error_new (MS_ERROR, MS_ERROR_KEYRING_UNAVAILABLE,
                        _("The keyring has no default collection to keep the password in. "
                          "Create one in Passwords and Keys (or in KeePassXC), then try again."));

  return g_error_new (MS_ERROR, MS_ERROR_FAILED,
                      _("The keyring could not be used (%s). Check that the keyring service works, then try again."),
                      error->message);
}

static GError *
no_session_bus_error (const GError *error)
{
  g_debug ("keyring: no session bus: %s (%s %d)",
           error->message, g_quark_to_string (error->domain), error->code);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return g_error_copy (error);

  return g_error_new (MS_ERROR, MS_ERROR_KEYRING_UNAVAILABLE,
                      _("No session bus: the keyring is reached over D-Bus, and this program is not running "
                        "inside a desktop session. Run it inside a desktop session, or under "
                        "“dbus-run-session” with gnome-keyring-daemon started and unlocked."));
}

static GError *
no_password_error (const SecretData *data)
{
  if (data->schema == &token_schema)
    {
      /* The command as the user must type it for this account. */
      g_autofree char *command = g_strcmp0 (data->account, "default") == 0
                                 ? g_strdup ("mailshot-cli oauth2 sign-in")
                                 : g_strdup_printf ("mailshot-cli --account %s oauth2 sign-in", data->account);

      return g_error_new (MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED,
                          _("Account “%s” is not signed in (user “%s”): run “%s” or sign in from "
                            "Account settings."),
                          data->account, data->user ? data->user : "", command);
    }
  return g_error_new (MS_ERROR, MS_ERROR_NO_PASSWORD,
                      _("No password is stored for account “%s” (user “%s” on %s): "
                        "run “mailshot-cli password set” or enter it in Account settings."),
                      data->account, data->user ? data->user : "", data->server ? data->server : "");
}

static GError *
locked_error (void)
{
  return g_error_new (MS_ERROR, MS_ERROR_KEYRING_LOCKED,
                      _("The keyring is locked, so the password cannot be read: unlock it (in Passwords "
                        "and Keys, or by logging in to the desktop again), then try again."));
}

/* ------------------------------------------------------------------ */
/* Lookup: a NULL answer is either "nothing stored" or "locked"          */

static void
lookup_check_collection_cb (GObject      *object,
                            GAsyncResult *result,
                            gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SecretData *data = g_task_get_task_data (task);
  g_autoptr(SecretCollection) collection = NULL;
  g_autoptr(GError) error = NULL;

  collection = secret_collection_for_alias_finish (result, &error);
  if (error != NULL)
    g_debug ("keyring: cannot read the default collection: %s", error->message);

  /* A Secret Service that hides the items of a locked collection (KeePassXC
   * does) can still hold our password there. */
  if (collection != NULL && secret_collection_get_locked (collection))
    g_task_return_error (task, locked_error ());
  else
    g_task_return_error (task, no_password_error (data));
}

static void
lookup_search_cb (GObject      *object,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SecretService *service = SECRET_SERVICE (object);
  GCancellable *cancellable;
  GList *items;
  g_autoptr(GError) error = NULL;
  gboolean locked = FALSE;
  gboolean found;

  items = secret_service_search_finish (service, result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, translate_error (error, OP_LOOKUP));
      return;
    }

  found = items != NULL;
  for (GList *l = items; l != NULL; l = l->next)
    if (secret_item_get_locked (l->data))
      locked = TRUE;
  g_list_free_full (items, g_object_unref);

  if (locked)
    {
      g_task_return_error (task, locked_error ());
      return;
    }
  if (found)
    {
      /* Unlocked and present, yet the lookup gave nothing: a race with a
       * clear, or an empty secret. Either way there is no password. */
      g_task_return_error (task, no_password_error (g_task_get_task_data (task)));
      return;
    }

  cancellable = g_task_get_cancellable (task);
  secret_collection_for_alias (service, SECRET_COLLECTION_DEFAULT, SECRET_COLLECTION_NONE,
                               cancellable, lookup_check_collection_cb, g_steal_pointer (&task));
}

static void
lookup_service_cb (GObject      *object,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SecretData *data = g_task_get_task_data (task);
  GCancellable *cancellable;
  g_autoptr(SecretService) service = NULL;
  g_autoptr(GError) error = NULL;

  service = secret_service_get_finish (result, &error);
  if (service == NULL)
    {
      g_task_return_error (task, translate_error (error, OP_LOOKUP));
      return;
    }

  /* Without SECRET_SEARCH_UNLOCK, locked items are listed, not prompted for. */
  cancellable = g_task_get_cancellable (task);
  secret_service_search (service, data->schema, data->attributes,
                         SECRET_SEARCH_ALL, cancellable,
                         lookup_search_cb, g_steal_pointer (&task));
}

static void
lookup_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable;
  char *password;

  password = secret_password_lookup_nonpageable_finish (result, &error);
  if (error != NULL)
    {
      g_task_return_error (task, translate_error (error, OP_LOOKUP));
      return;
    }
  if (password != NULL)
    {
      g_task_return_pointer (task, password, (GDestroyNotify) secret_password_free);
      return;
    }

  cancellable = g_task_get_cancellable (task);
  secret_service_get (SECRET_SERVICE_NONE, cancellable, lookup_service_cb, g_steal_pointer (&task));
}

/* ------------------------------------------------------------------ */
/* Store and clear                                                     */

static void
store_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  if (!secret_password_store_finish (result, &error))
    {
      if (error == NULL)
        /* A prompt (unlock, or create a keyring) was dismissed. */
        g_task_return_error (task, g_error_new (MS_ERROR, MS_ERROR_KEYRING_LOCKED,
                                                _("The keyring stayed locked, so the password was not stored: "
                                                  "unlock it (in Passwords and Keys), then try again.")));
      else
        g_task_return_error (task, translate_error (error, OP_STORE));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
clear_cb (GObject      *object,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;

  /* FALSE without an error means there was nothing to remove: clearing is
   * idempotent, as a user who runs it twice expects. */
  if (!secret_password_clear_finish (result, &error) && error != NULL)
    {
      g_task_return_error (task, translate_error (error, OP_CLEAR));
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
bus_cb (GObject      *object,
        GAsyncResult *result,
        gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  SecretData *data = g_task_get_task_data (task);
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GError) error = NULL;
  GCancellable *cancellable = g_task_get_cancellable (task);

  /* libsecret's own error for a missing bus is a bare G_IO_ERROR that
   * looks like any other I/O failure; asking for the bus first tells them apart. */
  bus = g_bus_get_finish (result, &error);
  if (bus == NULL)
    {
      g_task_return_error (task, no_session_bus_error (error));
      return;
    }

  switch (data->op)
    {
    case OP_STORE:
      {
        g_autofree char *label = NULL;

        if (data->schema == &token_schema)
          label = g_strdup_printf (_("Mailshot OAuth2 sign-in for %s (%s)"), data->user, data->server);
        else
          label = g_strdup_printf (_("Mailshot password for %s on %s"), data->user, data->server);
        secret_password_storev_binary (data->schema, data->attributes, SECRET_COLLECTION_DEFAULT,
                                       label, data->value, cancellable, store_cb,
                                       g_steal_pointer (&task));
      }
      break;

    case OP_LOOKUP:
      /* The _nonpageable_finish of this call keeps the password out of swap. */
      secret_password_lookupv (data->schema, data->attributes, cancellable,
                               lookup_cb, g_steal_pointer (&task));
      break;

    case OP_CLEAR:
      secret_password_clearv (data->schema, data->attributes, cancellable,
                              clear_cb, g_steal_pointer (&task));
      break;

    default:
      g_assert_not_reached ();
    }
}

static GTask *
start_task (Operation            op,
            const char          *account,
            const char          *server,
            const char          *user,
            GCancellable        *cancellable,
            GAsyncReadyCallback  callback,
            gpointer             user_data,
            gpointer             source_tag)
{
  GTask *task;
  SecretData *data = g_new0 (SecretData, 1);

  data->op = op;
  data->schema = &password_schema;
  data->account = g_strdup (account);
  data->server = g_strdup (server);
  data->user = g_strdup (user);
  data->attributes = g_hash_table_new (g_str_hash, g_str_equal);
  /* The hash table borrows the strings owned by @data. */
  g_hash_table_insert (data->attributes, (char *) "account", data->account);
  if (data->server != NULL)
    g_hash_table_insert (data->attributes, (char *) "server", data->server);
  if (data->user != NULL)
    g_hash_table_insert (data->attributes, (char *) "user", data->user);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, source_tag);
  g_task_set_task_data (task, data, (GDestroyNotify) secret_data_free);
  return task;
}

/**
 * ms_secret_store_async:
 * @account: the account's name
 * @server: the SMTP server the password is for
 * @user: the user ID the password is for
 * @password: the password; copied into non-pageable memory at once
 *
 * Stores the password in the default keyring collection, labelled
 * "Mailshot password for USER on SERVER", replacing any earlier one.
 */
void
ms_secret_store_async (const char          *account,
                       const char          *server,
                       const char          *user,
                       const char          *password,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  GTask *task;
  SecretData *data;

  g_return_if_fail (account != NULL);
  g_return_if_fail (server != NULL);
  g_return_if_fail (user != NULL);
  g_return_if_fail (password != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = start_task (OP_STORE, account, server, user, cancellable, callback, user_data,
                     ms_secret_store_async);
  data = g_task_get_task_data (task);
  data->value = secret_value_new (password, -1, "text/plain");

  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_cb, task);
}

gboolean
ms_secret_store_finish (GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_secret_store_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ms_secret_lookup_async:
 *
 * Looks the password up. When nothing comes back, finds out whether that is
 * because the keyring is locked (%MS_ERROR_KEYRING_LOCKED) or because no
 * password is stored (%MS_ERROR_NO_PASSWORD).
 */
void
ms_secret_lookup_async (const char          *account,
                        const char          *server,
                        const char          *user,
                        GCancellable        *cancellable,
                        GAsyncReadyCallback  callback,
                        gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (account != NULL);
  g_return_if_fail (server != NULL);
  g_return_if_fail (user != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = start_task (OP_LOOKUP, account, server, user, cancellable, callback, user_data,
                     ms_secret_lookup_async);
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_cb, task);
}

char *
ms_secret_lookup_finish (GAsyncResult  *result,
                         GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_secret_lookup_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ms_secret_clear_async:
 * @server: (nullable): the server, or %NULL for every server
 * @user: (nullable): the user, or %NULL for every user
 *
 * Removes the account's password; with %NULL @server or @user, every
 * password of the account that matches the rest. Nothing stored is success.
 */
void
ms_secret_clear_async (const char          *account,
                       const char          *server,
                       const char          *user,
                       GCancellable        *cancellable,
                       GAsyncReadyCallback  callback,
                       gpointer             user_data)
{
  GTask *task;

  g_return_if_fail (account != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = start_task (OP_CLEAR, account, server, user, cancellable, callback, user_data,
                     ms_secret_clear_async);
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_cb, task);
}

gboolean
ms_secret_clear_finish (GAsyncResult  *result,
                        GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_secret_clear_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ------------------------------------------------------------------ */
/* Blocking versions: the async code in a private main context, so the
 * caller's context does not run meanwhile (as libsecret's own _sync do). */

typedef struct {
  GMainContext *context;
  GAsyncResult *result;
} SyncData;

static void
sync_cb (GObject      *object,
         GAsyncResult *result,
         gpointer      user_data)
{
  SyncData *sync = user_data;

  sync->result = g_object_ref (result);
  g_main_context_wakeup (sync->context);
}

static void
sync_begin (SyncData *sync)
{
  sync->context = g_main_context_new ();
  sync->result = NULL;
  g_main_context_push_thread_default (sync->context);
}

static void
sync_wait_and_end (SyncData *sync)
{
  while (sync->result == NULL)
    g_main_context_iteration (sync->context, TRUE);
  /* Let libsecret's own clean-up callbacks run before the context goes. */
  while (g_main_context_iteration (sync->context, FALSE))
    ;
  g_main_context_pop_thread_default (sync->context);
  g_main_context_unref (sync->context);
}

/* The end of every blocking store or clear: waits, then hands the result
 * to @finish, which sets @error. */
static gboolean
sync_end_boolean (SyncData  *sync,
                  gboolean (*finish) (GAsyncResult *, GError **),
                  GError   **error)
{
  gboolean ok;

  sync_wait_and_end (sync);
  ok = finish (sync->result, error);
  g_object_unref (sync->result);
  return ok;
}

/* The same for a lookup (password or token). */
static char *
sync_end_lookup (SyncData  *sync,
                 GError   **error)
{
  char *secret;

  sync_wait_and_end (sync);
  secret = ms_secret_lookup_finish (sync->result, error);
  g_object_unref (sync->result);
  return secret;
}

gboolean
ms_secret_store_sync (const char    *account,
                      const char    *server,
                      const char    *user,
                      const char    *password,
                      GCancellable  *cancellable,
                      GError       **error)
{
  SyncData sync;

  g_return_val_if_fail (account != NULL, FALSE);
  g_return_val_if_fail (server != NULL, FALSE);
  g_return_val_if_fail (user != NULL, FALSE);
  g_return_val_if_fail (password != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_begin (&sync);
  ms_secret_store_async (account, server, user, password, cancellable, sync_cb, &sync);
  return sync_end_boolean (&sync, ms_secret_store_finish, error);
}

char *
ms_secret_lookup_sync (const char    *account,
                       const char    *server,
                       const char    *user,
                       GCancellable  *cancellable,
                       GError       **error)
{
  SyncData sync;

  g_return_val_if_fail (account != NULL, NULL);
  g_return_val_if_fail (server != NULL, NULL);
  g_return_val_if_fail (user != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sync_begin (&sync);
  ms_secret_lookup_async (account, server, user, cancellable, sync_cb, &sync);
  return sync_end_lookup (&sync, error);
}

gboolean
ms_secret_clear_sync (const char    *account,
                      const char    *server,
                      const char    *user,
                      GCancellable  *cancellable,
                      GError       **error)
{
  SyncData sync;

  g_return_val_if_fail (account != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_begin (&sync);
  ms_secret_clear_async (account, server, user, cancellable, sync_cb, &sync);
  return sync_end_boolean (&sync, ms_secret_clear_finish, error);
}

/**
 * ms_secret_free:
 * @password: (nullable): a password from ms_secret_lookup_finish()
 *
 * Overwrites the password, then frees it. It works for passwords in
 * libsecret's non-pageable memory and for ordinary heap strings alike.
 */
void
ms_secret_free (char *password)
{
  if (password != NULL)
    secret_password_free (password);
}

/* ------------------------------------------------------------------ */
/* The OAuth2 refresh token                                            */

/* The same machinery with the token schema: "server" holds the provider. */
static GTask *
start_token_task (Operation            op,
                  const char          *account,
                  const char          *provider,
                  const char          *user,
                  GCancellable        *cancellable,
                  GAsyncReadyCallback  callback,
                  gpointer             user_data,
                  gpointer             source_tag)
{
  GTask *task = start_task (op, account, NULL, user, cancellable, callback, user_data, source_tag);
  SecretData *data = g_task_get_task_data (task);

  data->schema = &token_schema;
  data->server = g_strdup (provider);
  if (data->server != NULL)
    g_hash_table_insert (data->attributes, (char *) "provider", data->server);
  return task;
}

static void
token_store_async (const char *account, const char *provider, const char *user, const char *token,
                   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = start_token_task (OP_STORE, account, provider, user, cancellable, callback, user_data,
                                  ms_secret_store_async);
  SecretData *data = g_task_get_task_data (task);

  data->value = secret_value_new (token, -1, "text/plain");
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_cb, task);
}

/**
 * ms_secret_store_token_sync:
 * @account: the account's name
 * @provider: "microsoft", "google" or "custom:" and the token endpoint
 * @user: the user the token is for
 * @token: the refresh token
 *
 * Stores an OAuth2 refresh token (schema io.github.mailshot.Mailshot.OAuth2),
 * replacing any earlier one. Blocking; any thread.
 */
gboolean
ms_secret_store_token_sync (const char    *account,
                            const char    *provider,
                            const char    *user,
                            const char    *token,
                            GCancellable  *cancellable,
                            GError       **error)
{
  SyncData sync;

  g_return_val_if_fail (account != NULL && provider != NULL && user != NULL, FALSE);
  g_return_val_if_fail (token != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_begin (&sync);
  token_store_async (account, provider, user, token, cancellable, sync_cb, &sync);
  return sync_end_boolean (&sync, ms_secret_store_finish, error);
}

/**
 * ms_secret_lookup_token_sync:
 *
 * The stored refresh token. Nothing stored is %MS_ERROR_SIGN_IN_REQUIRED;
 * a locked keyring is %MS_ERROR_KEYRING_LOCKED, as for the password.
 *
 * Returns: (transfer full): the token; free it with ms_secret_free()
 */
char *
ms_secret_lookup_token_sync (const char    *account,
                             const char    *provider,
                             const char    *user,
                             GCancellable  *cancellable,
                             GError       **error)
{
  SyncData sync;
  GTask *task;

  g_return_val_if_fail (account != NULL && provider != NULL && user != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  sync_begin (&sync);
  task = start_token_task (OP_LOOKUP, account, provider, user, cancellable, sync_cb, &sync,
                           ms_secret_lookup_async);
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_cb, task);
  return sync_end_lookup (&sync, error);
}

/**
 * ms_secret_clear_token_sync:
 * @provider: (nullable): the provider, or %NULL for every provider
 * @user: (nullable): the user, or %NULL for every user
 *
 * Removes the account's refresh tokens that match. Nothing stored is success.
 */
gboolean
ms_secret_clear_token_sync (const char    *account,
                            const char    *provider,
                            const char    *user,
                            GCancellable  *cancellable,
                            GError       **error)
{
  SyncData sync;
  GTask *task;

  g_return_val_if_fail (account != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  sync_begin (&sync);
  task = start_token_task (OP_CLEAR, account, provider, user, cancellable, sync_cb, &sync,
                           ms_secret_clear_async);
  g_bus_get (G_BUS_TYPE_SESSION, cancellable, bus_cb, task);
  return sync_end_boolean (&sync, ms_secret_clear_finish, error);
}
