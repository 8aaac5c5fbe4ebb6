/* test-gui-goa.c: the setup assistant and the account window with a Google account of the real goa-daemon, under Xvfb
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <libsecret/secret.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-account-window.h"
#include "ms-application.h"
#include "ms-goa-row.h"
#include "ms-setup-assistant.h"
#include "ms-test-gui-support.h"
#include "ms-window.h"

/* Run through tests/goa-netns.sh (a network namespace with only lo) and
 * ms-test-env.sh gui (Xvfb, a private bus and keyring): goa-daemon is
 * D-Bus-activated there and reaches nothing. A Gmail address: the provider
 * table answers, so no lookup leaves the machine either. */

#define ADDRESS "club.news@gmail.com"
#define GOA_ID  "account_1700000000_0"

static MsApplication *app;

static const SecretSchema goa_schema = {
  "org.gnome.OnlineAccounts", SECRET_SCHEMA_DONT_MATCH_NAME,
  { { "goa-identity", SECRET_SCHEMA_ATTRIBUTE_STRING }, { "NULL", 0 } }
};

#define SETUP_CHILD(a, name) ms_test_gui_child ((a), MS_TYPE_SETUP_ASSISTANT, (name))

static void
set_up_goa (void)
{
  g_autofree char *dir = g_build_filename (g_get_user_config_dir (), "goa-1.0", NULL);
  g_autofree char *conf = g_build_filename (dir, "accounts.conf", NULL);
  g_autofree char *secret =
    g_strdup_printf ("{'access_token': <'ya29.gui-goa-token'>, 'access_token_expires_at': <int64 %" G_GINT64_FORMAT ">}",
                     g_get_real_time () + 2 * G_TIME_SPAN_HOUR);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (conf,
                                      "[Account " GOA_ID "]\nProvider=google\nIdentity=" ADDRESS "\n"
                                      "PresentationIdentity=" ADDRESS "\nMailEnabled=true\n", -1, NULL));
  g_assert_true (secret_password_store_sync (&goa_schema, SECRET_COLLECTION_DEFAULT, "GOA google credentials",
                                             secret, NULL, &error, "goa-identity", "google:gen11:" GOA_ID, NULL));
  g_assert_no_error (error);
}

static gboolean
not_busy (gpointer data)
{
  return !ms_setup_assistant_get_busy (data);
}

static gboolean
is_visible (gpointer data)
{
  return gtk_widget_get_visible (data);
}

static MsSetupAssistant *
find_assistant (void)
{
  MsSetupAssistant *found = NULL;
  GList *toplevels = gtk_window_list_toplevels ();

  for (GList *l = toplevels; l != NULL; l = l->next)
    if (MS_IS_SETUP_ASSISTANT (l->data) && gtk_widget_get_visible (l->data))
      found = l->data;
  g_list_free (toplevels);
  return found;
}

static void
test_assistant (void)
{
  MsWindow *window = ms_test_gui_get_window (app);
  MsAccount *account = ms_application_get_account (app);
  MsSetupAssistant *assistant;
  GtkWidget *address_row;
  GtkWidget *goa_row;
  g_autoptr(GError) error = NULL;
  char *password;

  ms_test_gui_reset_account (account);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.setup-account", NULL));
  assistant = find_assistant ();
  g_assert_nonnull (assistant);

  address_row = SETUP_CHILD (assistant, "address_row");
  gtk_editable_set_text (GTK_EDITABLE (address_row), ADDRESS);
  g_signal_emit_by_name (address_row, "entry-activated");
  ms_test_gui_wait_until (not_busy, assistant, 20000);
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "settings");

  /* The offer, switched on: OAuth2 without a client ID or password. */
  goa_row = SETUP_CHILD (assistant, "goa_row");
  ms_test_gui_wait_until (is_visible, goa_row, 20000);
  g_assert_cmpstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (goa_row)), ==,
                   "_Use the Google account from Online Accounts");
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (goa_row)), ADDRESS));
  g_assert_true (gtk_switch_get_active (SETUP_CHILD (assistant, "goa_switch")));
  g_assert_cmpuint (adw_combo_row_get_selected (SETUP_CHILD (assistant, "method_row")), ==, 4);   /* OAuth2 */
  g_assert_false (gtk_widget_get_sensitive (SETUP_CHILD (assistant, "method_row")));
  g_assert_false (gtk_widget_get_visible (SETUP_CHILD (assistant, "password_row")));
  g_assert_nonnull (strstr (gtk_label_get_text (SETUP_CHILD (assistant, "oauth2_label")),
                            "Online Accounts signs " ADDRESS " in: Mailshot stores no password or token."));

  /* Turned off, the user may choose again; on again, and saved. */
  gtk_switch_set_active (SETUP_CHILD (assistant, "goa_switch"), FALSE);
  g_assert_true (gtk_widget_get_sensitive (SETUP_CHILD (assistant, "method_row")));
  gtk_switch_set_active (SETUP_CHILD (assistant, "goa_switch"), TRUE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "setup.save", NULL));
  ms_test_gui_wait_until (not_busy, assistant, 20000);
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "done");

  g_assert_cmpstr (ms_account_get_email_address (account), ==, ADDRESS);
  g_assert_cmpint (ms_account_get_auth_method (account), ==, MS_AUTH_METHOD_OAUTH2);
  g_assert_cmpint (ms_account_get_oauth2_provider (account), ==, MS_OAUTH2_PROVIDER_GOOGLE);
  g_assert_cmpstr (ms_account_get_goa_account_id (account), ==, GOA_ID);
  g_assert_cmpstr (ms_account_get_oauth2_client_id (account), ==, "");
  /* No password stored for it. */
  password = ms_secret_lookup_sync (ms_account_get_name (account), ms_account_get_smtp_server (account),
                                    ADDRESS, NULL, &error);
  g_assert_null (password);
  g_assert_error (error, MS_ERROR, MS_ERROR_NO_PASSWORD);
  gtk_window_destroy (GTK_WINDOW (assistant));
}

static gboolean
row_signed_in (gpointer data)
{
  return g_strcmp0 (adw_preferences_row_get_title (data), "Signed in through Online Accounts (" ADDRESS ")") == 0;
}

static void
test_account_window (void)
{
  MsAccount *account = ms_application_get_account (app);
  GtkWindow *win;
  MsGoaRow *row;

  /* As the assistant left it. */
  g_assert_cmpstr (ms_account_get_goa_account_id (account), ==, GOA_ID);
  win = ms_window_show_account_settings (ms_test_gui_get_window (app));
  g_assert_true (MS_IS_ACCOUNT_WINDOW (win));
  row = ms_test_gui_child (win, MS_TYPE_ACCOUNT_WINDOW, "goa_row");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (row)));
  ms_test_gui_wait_until (row_signed_in, row, 20000);
  g_assert_cmpstr (ms_goa_row_get_status (row), ==,
                   "The Google account provides the sign-in; Mailshot stores no password or token.");

  /* Back to the app's own sign-in: the row goes. */
  g_assert_true (ms_account_set_from_string (account, "goa-account-id", "", NULL));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (row)));

  /* An ID Online Accounts does not know: said on the row. */
  g_assert_true (ms_account_set_from_string (account, "goa-account-id", "account_1_9", NULL));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (row)));
  for (guint i = 0; i < 200 && strstr (ms_goa_row_get_status (row), "no longer in Online Accounts") == NULL; i++)
    ms_test_gui_spin_for (50);
  g_assert_nonnull (strstr (ms_goa_row_get_status (row), "The account for " ADDRESS " is no longer in Online Accounts"));
  g_assert_true (gtk_widget_has_css_class (GTK_WIDGET (row), "error"));
  gtk_window_destroy (win);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  ms_core_init ();
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  if (!g_file_test ("/usr/share/dbus-1/services/org.gnome.OnlineAccounts.service", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("goa-daemon is not installed (package gnome-online-accounts)");
      return g_test_run ();
    }
  /* Loopback only, MX answers included. */
  g_setenv ("MS_AUTOCONFIG_MX", "", TRUE);
  set_up_goa ();

  app = ms_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (app));

  g_test_add_func ("/mailshot/gui-goa/assistant", test_assistant);
  g_test_add_func ("/mailshot/gui-goa/account-window", test_account_window);
  status = g_test_run ();

  g_application_release (G_APPLICATION (app));
  return status;
}
