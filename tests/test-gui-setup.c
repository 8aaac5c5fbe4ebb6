/* test-gui-setup.c: the first-run assistant under Xvfb: settings found from the table and from a local autoconfig file
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-account-window.h"
#include "ms-application.h"
#include "ms-setup-assistant.h"
#include "ms-test-autoconfig.h"
#include "ms-test-gui-support.h"
#include "ms-window.h"

static MsApplication *app;
static MsTestHttps *https;

static gboolean
not_busy (gpointer data)
{
  return !ms_setup_assistant_get_busy (data);
}

#define SETUP_CHILD(a, name) ms_test_gui_child ((a), MS_TYPE_SETUP_ASSISTANT, (name))

static void
reset_account (void)
{
  MsAccount *account = ms_application_get_account (app);
  g_auto(GStrv) keys = ms_account_list_keys ();

  for (guint i = 0; keys[i] != NULL; i++)
    ms_account_reset (account, keys[i]);
  g_settings_sync ();
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

/* From the setup page's button, as a user starts. */
static MsSetupAssistant *
open_assistant (void)
{
  MsWindow *window = ms_test_gui_get_window (app);
  GtkStack *stack = ms_test_gui_child (window, MS_TYPE_WINDOW, "stack");
  /* The status page's buttons: Set Up Account, then Account Settings. */
  GtkWidget *page = gtk_stack_get_child_by_name (stack, "setup");
  GtkWidget *box = adw_status_page_get_child (ADW_STATUS_PAGE (page));
  GtkWidget *button = gtk_widget_get_first_child (box);
  GtkWidget *settings_button = gtk_widget_get_next_sibling (button);
  MsSetupAssistant *assistant;

  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "setup");
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (button)), ==, "win.setup-account");
  /* Account Settings stays one click away. */
  g_assert_cmpstr (gtk_actionable_get_action_name (GTK_ACTIONABLE (settings_button)), ==, "app.preferences");
  g_assert_null (find_assistant ());
  g_signal_emit_by_name (button, "clicked");
  assistant = find_assistant ();
  g_assert_nonnull (assistant);
  g_assert_true (gtk_window_get_transient_for (GTK_WINDOW (assistant)) == GTK_WINDOW (window));
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "address");
  return assistant;
}

/* Types the address and presses Enter in the field. */
static void
type_address (MsSetupAssistant *assistant,
              const char       *address)
{
  GtkWidget *row = SETUP_CHILD (assistant, "address_row");

  gtk_editable_set_text (GTK_EDITABLE (row), address);
  g_signal_emit_by_name (row, "entry-activated");
  ms_test_gui_wait_until (not_busy, assistant, 20000);
}

static const char *
text_of (MsSetupAssistant *assistant,
         const char       *name)
{
  GObject *object = SETUP_CHILD (assistant, name);

  if (GTK_IS_LABEL (object))
    return gtk_label_get_text (GTK_LABEL (object));
  return gtk_editable_get_text (GTK_EDITABLE (object));
}

static void
test_from_table (void)
{
  MsSetupAssistant *assistant;
  g_autofree char *log = NULL;

  reset_account ();
  ms_test_https_clear (https);
  assistant = open_assistant ();
  type_address (assistant, "club.news@gmail.com");

  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "settings");
  g_assert_cmpstr (text_of (assistant, "provider_label"), ==, "Gmail");
  g_assert_cmpstr (text_of (assistant, "source_label"), ==,
                   "Found in the built-in table of providers. Check them and change what your provider says otherwise.");
  g_assert_cmpstr (text_of (assistant, "server_row"), ==, "smtp.gmail.com");
  g_assert_cmpint (gtk_spin_button_get_value_as_int (SETUP_CHILD (assistant, "port_spin")), ==, 465);
  g_assert_true (gtk_switch_get_active (SETUP_CHILD (assistant, "smtps_switch")));
  g_assert_cmpstr (text_of (assistant, "user_row"), ==, "club.news@gmail.com");
  g_assert_true (gtk_switch_get_active (SETUP_CHILD (assistant, "auth_switch")));
  g_assert_cmpuint (adw_combo_row_get_selected (SETUP_CHILD (assistant, "method_row")), ==, 0);
  g_assert_true (gtk_widget_get_visible (SETUP_CHILD (assistant, "password_row")));
  g_assert_true (gtk_widget_get_visible (SETUP_CHILD (assistant, "back_button")));
  /* The table needs no request. */
  log = ms_test_https_get_log (https);
  g_assert_cmpstr (log, ==, "");

  /* Everything stays editable, and Back returns to the address. */
  g_assert_true (gtk_editable_get_editable (SETUP_CHILD (assistant, "server_row")));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "setup.back", NULL));
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "address");

  /* Nothing is stored before Save. */
  g_assert_cmpstr (ms_account_get_smtp_server (ms_application_get_account (app)), ==, "");
  gtk_window_destroy (GTK_WINDOW (assistant));
}

static void
test_from_autoconfig (void)
{
  MsAccount *account = ms_application_get_account (app);
  MsSetupAssistant *assistant;
  char *password = NULL;
  g_autoptr(GError) error = NULL;
  GtkWindow *settings = NULL;

  reset_account ();
  ms_test_https_clear (https);
  ms_test_https_put (https, "autoconfig.gui-setup.test", "mail/config-v1.1.xml",
                     "<clientConfig version=\"1.1\"><emailProvider id=\"gui-setup.test\">"
                     "<displayName>Setup Test Mail</displayName>"
                     "<outgoingServer type=\"smtp\"><hostname>smtp.gui-setup.test</hostname>"
                     "<port>2587</port><socketType>STARTTLS</socketType>"
                     "<username>%EMAILLOCALPART%</username>"
                     "<authentication>password-encrypted</authentication></outgoingServer>"
                     "</emailProvider></clientConfig>", -1);

  assistant = open_assistant ();
  type_address (assistant, "info@gui-setup.test");
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "settings");
  g_assert_cmpstr (text_of (assistant, "provider_label"), ==, "Setup Test Mail");
  g_assert_cmpstr (text_of (assistant, "source_label"), ==,
                   "Found in the autoconfig file at "
                   "https://autoconfig.gui-setup.test/mail/config-v1.1.xml?emailaddress=info%40gui-setup.test. "
                   "Check them and change what your provider says otherwise.");
  g_assert_cmpstr (text_of (assistant, "server_row"), ==, "smtp.gui-setup.test");
  g_assert_cmpint (gtk_spin_button_get_value_as_int (SETUP_CHILD (assistant, "port_spin")), ==, 2587);
  g_assert_false (gtk_switch_get_active (SETUP_CHILD (assistant, "smtps_switch")));
  g_assert_cmpstr (text_of (assistant, "user_row"), ==, "info");
  g_assert_cmpuint (adw_combo_row_get_selected (SETUP_CHILD (assistant, "method_row")), ==, 1);   /* CRAM-MD5 */

  /* The user edits a field, types the password and saves. */
  gtk_editable_set_text (GTK_EDITABLE (SETUP_CHILD (assistant, "user_row")), "info@gui-setup.test");
  gtk_editable_set_text (GTK_EDITABLE (SETUP_CHILD (assistant, "password_row")), "s3cret-setup");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "setup.save", NULL));
  ms_test_gui_wait_until (not_busy, assistant, 20000);
  g_assert_false (gtk_widget_get_visible (SETUP_CHILD (assistant, "save_error_label")));
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "done");

  g_assert_cmpstr (ms_account_get_email_address (account), ==, "info@gui-setup.test");
  g_assert_cmpstr (ms_account_get_smtp_server (account), ==, "smtp.gui-setup.test");
  g_assert_cmpint (ms_account_get_smtp_port (account), ==, 2587);
  g_assert_false (ms_account_get_use_smtps (account));
  g_assert_cmpstr (ms_account_get_user_id (account), ==, "info@gui-setup.test");
  g_assert_true (ms_account_get_needs_authentication (account));
  g_assert_cmpint (ms_account_get_auth_method (account), ==, MS_AUTH_METHOD_CRAM_MD5);
  password = ms_secret_lookup_sync (ms_account_get_name (account), "smtp.gui-setup.test",
                                    "info@gui-setup.test", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, "s3cret-setup");
  ms_secret_free (password);
  g_assert_cmpstr (text_of (assistant, "password_row"), ==, "");

  /* The window leaves its setup page; Account Settings opens from the last page. */
  g_assert_cmpstr (gtk_stack_get_visible_child_name (ms_test_gui_child (ms_test_gui_get_window (app), MS_TYPE_WINDOW,
                                                                       "stack")), ==, "main");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "setup.open-settings", NULL));
  for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
    if (MS_IS_ACCOUNT_WINDOW (l->data))
      settings = l->data;
  g_assert_nonnull (settings);
  gtk_window_destroy (settings);
  g_assert_null (find_assistant ());
  ms_secret_clear_sync (ms_account_get_name (account), "smtp.gui-setup.test", "info@gui-setup.test", NULL, NULL);
}

static void
test_not_found (void)
{
  MsSetupAssistant *assistant;
  GtkWidget *error_label;

  reset_account ();
  ms_test_https_clear (https);
  assistant = open_assistant ();

  /* Nothing typed */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "setup.find", NULL));
  error_label = SETUP_CHILD (assistant, "error_label");
  g_assert_true (gtk_widget_get_visible (error_label));
  g_assert_cmpstr (gtk_label_get_text (GTK_LABEL (error_label)), ==, "Type the e-mail address first.");

  type_address (assistant, "a@gui-none.test");
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "address");
  g_assert_true (gtk_widget_get_visible (error_label));
  g_assert_true (g_str_has_prefix (gtk_label_get_text (GTK_LABEL (error_label)),
                                   "No SMTP settings found for gui-none.test. Tried: "));

  /* By hand, then: the fields are there to fill in. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "setup.manual", NULL));
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "settings");
  g_assert_cmpstr (text_of (assistant, "server_row"), ==, "");
  g_assert_cmpstr (text_of (assistant, "user_row"), ==, "a@gui-none.test");
  /* Saving without a server says what is missing and stores nothing. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (assistant), "setup.save", NULL));
  g_assert_true (gtk_widget_get_visible (SETUP_CHILD (assistant, "save_error_label")));
  g_assert_cmpstr (ms_setup_assistant_get_page (assistant), ==, "settings");
  g_assert_cmpstr (ms_account_get_email_address (ms_application_get_account (app)), ==, "");
  gtk_window_destroy (GTK_WINDOW (assistant));
}

int
main (int   argc,
      char *argv[])
{
  static const char * const names[] = { "autoconfig.gui-setup.test", "gui-setup.test", NULL };
  g_autoptr(GError) error = NULL;
  int status;

  ms_core_init ();
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  /* Loopback only: the autoconfig server for its names, no other host, and MX from the map. */
  https = ms_test_https_start (FALSE, names);
  ms_test_https_export (https);
  g_setenv ("MS_AUTOCONFIG_MX", "", TRUE);

  app = ms_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (app));

  g_test_add_func ("/mailshot/gui-setup/from-table", test_from_table);
  g_test_add_func ("/mailshot/gui-setup/from-autoconfig", test_from_autoconfig);
  g_test_add_func ("/mailshot/gui-setup/not-found", test_not_found);
  status = g_test_run ();

  g_application_release (G_APPLICATION (app));
  ms_test_https_stop (https);
  return status;
}
