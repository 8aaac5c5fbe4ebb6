/* test-secret.c: the password in a real gnome-keyring, and each way the keyring can fail
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

/* For secret_service_encode_dbus_secret(), to unlock the keyring again. */
#define SECRET_WITH_UNSTABLE 1
#define SECRET_API_SUBJECT_TO_CHANGE 1
#include <libsecret/secret.h>
#include <glib/gstdio.h>
#include <string.h>

#include "mailshot-core.h"

/* The schema as another program (seahorse, secret-tool) sees it. */
static const SecretSchema schema = {
  "io.github.mailshot.Mailshot.Password", SECRET_SCHEMA_NONE,
  {
    { "account", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "server", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { "user", SECRET_SCHEMA_ATTRIBUTE_STRING },
    { NULL, 0 },
  },
  0, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
};

/* ms-test-env.sh unlocks the login keyring with this password. */
#define KEYRING_PASSWORD "mailshot-test"

static void
assert_lookup (const char *account,
               const char *server,
               const char *user,
               const char *expected)
{
  g_autoptr(GError) error = NULL;
  char *password = ms_secret_lookup_sync (account, server, user, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, expected);
  ms_secret_free (password);
}

static void
assert_no_password (const char *account,
                    const char *server,
                    const char *user)
{
  g_autoptr(GError) error = NULL;
  char *password = ms_secret_lookup_sync (account, server, user, NULL, &error);

  g_assert_null (password);
  g_assert_error (error, MS_ERROR, MS_ERROR_NO_PASSWORD);
  g_assert_nonnull (strstr (error->message, "No password is stored"));
  g_assert_nonnull (strstr (error->message, account));
  g_assert_nonnull (strstr (error->message, "mailshot-cli password set"));
}

static void
store (const char *account,
       const char *server,
       const char *user,
       const char *password)
{
  g_autoptr(GError) error = NULL;

  gboolean ok = ms_secret_store_sync (account, server, user, password, NULL, &error);

  g_assert_no_error (error);
  g_assert_true (ok);
}

static guint
count_items (const char *account)
{
  g_autoptr(GError) error = NULL;
  GList *items = secret_password_search_sync (&schema, SECRET_SEARCH_ALL, NULL, &error,
                                              "account", account, NULL);
  guint n = g_list_length (items);

  g_assert_no_error (error);
  g_list_free_full (items, g_object_unref);
  return n;
}

static void
test_round_trip (void)
{
  g_autoptr(GError) error = NULL;
  const char *password = "s3cret pässwörd with spaces";
  GList *items;

  store ("t-round", "smtp.example.org", "user@example.org", password);
  assert_lookup ("t-round", "smtp.example.org", "user@example.org", password);

  /* Other programs see a labelled item in our schema. */
  items = secret_password_search_sync (&schema, SECRET_SEARCH_ALL, NULL, &error,
                                       "account", "t-round", NULL);
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_length (items), ==, 1);
  {
    g_autofree char *label = secret_item_get_label (items->data);
    g_autofree char *schema_name = secret_item_get_schema_name (items->data);
    g_assert_cmpstr (label, ==, "Mailshot password for user@example.org on smtp.example.org");
    g_assert_cmpstr (schema_name, ==, "io.github.mailshot.Mailshot.Password");
  }
  g_list_free_full (items, g_object_unref);

  /* Storing again replaces, it does not add. */
  store ("t-round", "smtp.example.org", "user@example.org", "second");
  assert_lookup ("t-round", "smtp.example.org", "user@example.org", "second");
  g_assert_cmpuint (count_items ("t-round"), ==, 1);

  g_assert_true (ms_secret_clear_sync ("t-round", "smtp.example.org", "user@example.org", NULL, &error));
  g_assert_no_error (error);
  assert_no_password ("t-round", "smtp.example.org", "user@example.org");
  g_assert_cmpuint (count_items ("t-round"), ==, 0);

  /* Clearing what is not there is no error. */
  g_assert_true (ms_secret_clear_sync ("t-round", "smtp.example.org", "user@example.org", NULL, &error));
  g_assert_no_error (error);
}

static void
test_distinct (void)
{
  g_autoptr(GError) error = NULL;

  store ("t-one", "smtp.example.org", "alice", "pw-one");
  store ("t-two", "smtp.example.org", "alice", "pw-two");
  store ("t-one", "smtp.example.org", "bob", "pw-bob");
  store ("t-one", "relay.example.net", "alice", "pw-relay");

  assert_lookup ("t-one", "smtp.example.org", "alice", "pw-one");
  assert_lookup ("t-two", "smtp.example.org", "alice", "pw-two");
  assert_lookup ("t-one", "smtp.example.org", "bob", "pw-bob");
  assert_lookup ("t-one", "relay.example.net", "alice", "pw-relay");
  assert_no_password ("t-two", "smtp.example.org", "bob");
  assert_no_password ("t-three", "smtp.example.org", "alice");

  /* Clearing one leaves the others. */
  g_assert_true (ms_secret_clear_sync ("t-one", "smtp.example.org", "bob", NULL, &error));
  g_assert_no_error (error);
  assert_no_password ("t-one", "smtp.example.org", "bob");
  assert_lookup ("t-one", "smtp.example.org", "alice", "pw-one");

  /* Without server and user: every password of the account, and no other. */
  g_assert_true (ms_secret_clear_sync ("t-one", NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (count_items ("t-one"), ==, 0);
  assert_lookup ("t-two", "smtp.example.org", "alice", "pw-two");

  g_assert_true (ms_secret_clear_sync ("t-two", NULL, NULL, NULL, &error));
  g_assert_no_error (error);
}

typedef struct {
  GMainLoop    *loop;
  GAsyncResult *result;
} AsyncData;

static void
got_result (GObject      *object,
            GAsyncResult *result,
            gpointer      user_data)
{
  AsyncData *data = user_data;

  g_assert_null (object);
  data->result = g_object_ref (result);
  g_main_loop_quit (data->loop);
}

static GAsyncResult *
wait_result (AsyncData *data)
{
  g_main_loop_run (data->loop);
  g_assert_nonnull (data->result);
  return data->result;
}

static void
test_async (void)
{
  AsyncData data = { g_main_loop_new (NULL, FALSE), NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  char *password;

  ms_secret_store_async ("t-async", "smtp.example.org", "carol", "pw-async", NULL, got_result, &data);
  g_assert_true (ms_secret_store_finish (wait_result (&data), &error));
  g_assert_no_error (error);
  g_clear_object (&data.result);

  ms_secret_lookup_async ("t-async", "smtp.example.org", "carol", NULL, got_result, &data);
  password = ms_secret_lookup_finish (wait_result (&data), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, "pw-async");
  ms_secret_free (password);
  g_clear_object (&data.result);

  /* Cancellation is G_IO_ERROR_CANCELLED, never a keyring error. */
  g_cancellable_cancel (cancelled);
  ms_secret_lookup_async ("t-async", "smtp.example.org", "carol", cancelled, got_result, &data);
  password = ms_secret_lookup_finish (wait_result (&data), &error);
  g_assert_null (password);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_clear_object (&data.result);

  ms_secret_clear_async ("t-async", "smtp.example.org", "carol", NULL, got_result, &data);
  g_assert_true (ms_secret_clear_finish (wait_result (&data), &error));
  g_assert_no_error (error);
  g_clear_object (&data.result);

  ms_secret_lookup_async ("t-async", "smtp.example.org", "carol", NULL, got_result, &data);
  password = ms_secret_lookup_finish (wait_result (&data), &error);
  g_assert_null (password);
  g_assert_error (error, MS_ERROR, MS_ERROR_NO_PASSWORD);
  g_clear_object (&data.result);

  g_main_loop_unref (data.loop);
}

/* In a child: every operation fails with @code and a message containing @words. */
static void
assert_all_fail (int         code,
                 const char *words)
{
  g_autoptr(GError) error = NULL;
  char *password;

  g_assert_false (ms_secret_store_sync ("t-fail", "smtp.example.org", "dave", "never-seen-pw", NULL, &error));
  g_assert_error (error, MS_ERROR, code);
  g_assert_nonnull (strstr (error->message, words));
  g_print ("store: %s\n", error->message);
  g_clear_error (&error);

  password = ms_secret_lookup_sync ("t-fail", "smtp.example.org", "dave", NULL, &error);
  g_assert_null (password);
  g_assert_error (error, MS_ERROR, code);
  g_assert_nonnull (strstr (error->message, words));
  g_print ("lookup: %s\n", error->message);
  g_clear_error (&error);

  g_assert_false (ms_secret_clear_sync ("t-fail", "smtp.example.org", "dave", NULL, &error));
  g_assert_error (error, MS_ERROR, code);
  g_assert_nonnull (strstr (error->message, words));
}

static void
test_no_bus_unset (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *run = g_dir_make_tmp ("mailshot-nobus-XXXXXX", NULL);

      /* GLib would try $XDG_RUNTIME_DIR/bus, then X11 autolaunch. */
      g_unsetenv ("DBUS_SESSION_BUS_ADDRESS");
      g_unsetenv ("DISPLAY");
      g_setenv ("XDG_RUNTIME_DIR", run, TRUE);
      g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
      assert_all_fail (MS_ERROR_KEYRING_UNAVAILABLE, "No session bus");
      g_rmdir (run);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*No session bus*dbus-run-session*");
  g_test_trap_assert_stdout_unmatched ("*never-seen-pw*");
  g_test_trap_assert_stderr_unmatched ("*never-seen-pw*");
}

static void
test_no_bus_dead_socket (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/mailshot/bus", TRUE);
      assert_all_fail (MS_ERROR_KEYRING_UNAVAILABLE, "No session bus");
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*No session bus*");
}

static void
test_no_service (void)
{
  if (g_test_subprocess ())
    {
      /* A bus of our own whose daemon knows no .service files: nothing can
       * be activated as org.freedesktop.secrets. */
      GTestDBus *bus = g_test_dbus_new (G_TEST_DBUS_NONE);

      g_test_dbus_up (bus);
      g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
      assert_all_fail (MS_ERROR_KEYRING_UNAVAILABLE, "No keyring service");
      /* The child exits with the bus still in use; GTestDBus's watcher stops the daemon. */
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*No keyring service*gnome-keyring*");
  g_test_trap_assert_stdout_unmatched ("*never-seen-pw*");
  g_test_trap_assert_stderr_unmatched ("*never-seen-pw*");
}

static SecretCollection *
default_collection (SecretService *service)
{
  g_autoptr(GError) error = NULL;
  SecretCollection *collection;

  collection = secret_collection_for_alias_sync (service, SECRET_COLLECTION_DEFAULT,
                                                 SECRET_COLLECTION_NONE, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (collection);
  return collection;
}

static void
lock_keyring (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretService) service = secret_service_get_sync (SECRET_SERVICE_NONE, NULL, &error);
  g_autoptr(SecretCollection) collection = NULL;
  GList *objects;
  int n;

  g_assert_no_error (error);
  collection = default_collection (service);
  objects = g_list_append (NULL, collection);
  n = secret_service_lock_sync (service, objects, NULL, NULL, &error);
  g_list_free (objects);
  g_assert_no_error (error);
  g_assert_cmpint (n, ==, 1);
}

/* gnome-keyring cannot show an unlock prompt without a display; its
 * internal interface takes the password directly. */
static void
unlock_keyring (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretService) service = secret_service_get_sync (SECRET_SERVICE_OPEN_SESSION, NULL, &error);
  g_autoptr(SecretCollection) collection = NULL;
  g_autoptr(SecretCollection) after = NULL;
  g_autoptr(SecretValue) master = NULL;
  g_autoptr(GVariant) reply = NULL;
  GVariant *encoded;

  g_assert_no_error (error);
  collection = default_collection (service);
  master = secret_value_new (KEYRING_PASSWORD, -1, "text/plain");
  encoded = secret_service_encode_dbus_secret (service, master);
  reply = g_dbus_proxy_call_sync (G_DBUS_PROXY (service), "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword",
                                  g_variant_new ("(o@(oayays))", g_dbus_proxy_get_object_path (G_DBUS_PROXY (collection)), encoded),
                                  G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);

  after = default_collection (service);
  g_assert_false (secret_collection_get_locked (after));
}

static void
test_locked (void)
{
  g_autoptr(GError) error = NULL;
  char *password;

  store ("t-locked", "smtp.example.org", "erin", "pw-locked");
  assert_lookup ("t-locked", "smtp.example.org", "erin", "pw-locked");

  lock_keyring ();

  /* libsecret answers NULL without an error here, like "nothing stored". */
  password = ms_secret_lookup_sync ("t-locked", "smtp.example.org", "erin", NULL, &error);
  g_assert_null (password);
  g_assert_error (error, MS_ERROR, MS_ERROR_KEYRING_LOCKED);
  g_assert_nonnull (strstr (error->message, "The keyring is locked"));
  g_assert_nonnull (strstr (error->message, "unlock it"));
  g_clear_error (&error);

  /* Nothing of this account may be in there either: still "locked", since
   * the user cannot tell until they unlock it. */
  password = ms_secret_lookup_sync ("t-locked-other", "smtp.example.org", "erin", NULL, &error);
  g_assert_null (password);
  g_assert_error (error, MS_ERROR, MS_ERROR_KEYRING_LOCKED);
  g_clear_error (&error);

  g_assert_false (ms_secret_store_sync ("t-locked", "smtp.example.org", "erin", "pw-new", NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_KEYRING_LOCKED);
  g_assert_nonnull (strstr (error->message, "The keyring is locked"));
  g_clear_error (&error);

  unlock_keyring ();

  /* The failed store changed nothing. */
  assert_lookup ("t-locked", "smtp.example.org", "erin", "pw-locked");
  g_assert_true (ms_secret_clear_sync ("t-locked", NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_no_password ("t-locked", "smtp.example.org", "erin");
}

/* The debug log may name the keyring's low-level errors, never the password. */
static void
test_no_password_in_log (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      char *password;

      g_setenv ("G_MESSAGES_DEBUG", "all", TRUE);
      store ("t-log", "smtp.example.org", "frank", "Log-Canary-7f3a");
      password = ms_secret_lookup_sync ("t-log", "smtp.example.org", "frank", NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (password, ==, "Log-Canary-7f3a");
      ms_secret_free (password);
      g_assert_true (ms_secret_clear_sync ("t-log", NULL, NULL, NULL, &error));
      password = ms_secret_lookup_sync ("t-log", "smtp.example.org", "frank", NULL, &error);
      g_assert_null (password);
      g_assert_error (error, MS_ERROR, MS_ERROR_NO_PASSWORD);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout_unmatched ("*Log-Canary-7f3a*");
  g_test_trap_assert_stderr_unmatched ("*Log-Canary-7f3a*");
  /* base64 of the canary */
  g_test_trap_assert_stdout_unmatched ("*TG9nLUNhbmFyeS03ZjNh*");
  g_test_trap_assert_stderr_unmatched ("*TG9nLUNhbmFyeS03ZjNh*");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL)
    {
      g_test_skip ("needs the keyring suite's session bus (tests/ms-test-env.sh keyring)");
      return g_test_run ();
    }

  g_test_add_func ("/mailshot/secret/round-trip", test_round_trip);
  g_test_add_func ("/mailshot/secret/distinct", test_distinct);
  g_test_add_func ("/mailshot/secret/async", test_async);
  g_test_add_func ("/mailshot/secret/no-bus/unset", test_no_bus_unset);
  g_test_add_func ("/mailshot/secret/no-bus/dead-socket", test_no_bus_dead_socket);
  g_test_add_func ("/mailshot/secret/no-service", test_no_service);
  g_test_add_func ("/mailshot/secret/locked", test_locked);
  g_test_add_func ("/mailshot/secret/no-password-in-log", test_no_password_in_log);

  return g_test_run ();
}
