/* test-gui.c: the desktop app under Xvfb: templates, the settings form, the keyring, the test dialog
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#ifdef GDK_WINDOWING_X11
#include <gdk/x11/gdkx.h>
#endif
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <locale.h>
#include <signal.h>
#include <stdlib.h>
#ifdef MS_HAVE_WEBKIT
#include <webkit/webkit.h>
#endif

#include "mailshot-core.h"
#include "ms-account-window.h"
#include "ms-application.h"
#include "ms-test-dialog.h"
#include "ms-test-gui-support.h"
#include "ms-test-support.h"
#include "ms-window.h"

static MsApplication *app;

static gboolean
notification_arrived (gpointer data)
{
  const char *notified = ms_test_gui_get_notification ();

  return notified != NULL && strstr (notified, data) != NULL;
}

static MsAccount *
get_account (void)
{
  return ms_application_get_account (app);
}

static GSettings *
get_settings (void)
{
  return ms_account_get_settings (get_account ());
}

static MsAccountWindow *
open_settings (void)
{
  GtkWindow *window = ms_window_show_account_settings (ms_test_gui_get_window (app));

  g_assert_true (MS_IS_ACCOUNT_WINDOW (window));
  return MS_ACCOUNT_WINDOW (window);
}

#define SETTINGS_CHILD(win, name) ms_test_gui_child ((win), MS_TYPE_ACCOUNT_WINDOW, (name))
#define DIALOG_CHILD(dlg, name) ms_test_gui_child ((dlg), MS_TYPE_TEST_DIALOG, (name))

static void
close_settings (MsAccountWindow *win)
{
  GtkWidget *password = ms_account_window_get_row (win, "password");

  /* Nothing pending: closing stores text rows, and a password too. */
  gtk_editable_set_text (GTK_EDITABLE (password), "");
  gtk_window_destroy (GTK_WINDOW (win));
}

static void
set_row_text (MsAccountWindow *win,
              const char      *key,
              const char      *text)
{
  GtkWidget *row = ms_account_window_get_row (win, key);

  g_assert_true (ADW_IS_ENTRY_ROW (row));
  gtk_editable_set_text (GTK_EDITABLE (row), text);
  g_signal_emit_by_name (row, "apply");
}

static const char *
row_text (MsAccountWindow *win,
          const char      *key)
{
  return gtk_editable_get_text (GTK_EDITABLE (ms_account_window_get_row (win, key)));
}

/* A TLS handshake with the harness took over 5 s under ASan on a loaded
 * machine; no test here is about the account's timeout itself. */
#ifdef MS_TEST_SANITIZER
#define TEST_TIMEOUT "30"
#else
#define TEST_TIMEOUT "5"
#endif

static void
configure_account (const char *server,
                   int         port)
{
  MsAccount *account = get_account ();
  g_autofree char *port_text = g_strdup_printf ("%d", port);

  g_assert_true (ms_account_set_from_string (account, "email-address", "sender@example.org", NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-server", server, NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-port", port_text, NULL));
  g_assert_true (ms_account_set_from_string (account, "user-id", "u", NULL));
  g_assert_true (ms_account_set_from_string (account, "timeout", TEST_TIMEOUT, NULL));
}

/* ---------------------------------------------------------------- templates */

static void
test_templates (void)
{
  MsWindow *window;
  MsAccountWindow *settings;
  g_autoptr(MsTestDialog) dialog = NULL;
  GtkStack *stack;

  ms_test_gui_reset_account (get_account ());
  window = ms_test_gui_get_window (app);

  /* Not configured: the setup page, and no test e-mail. */
  stack = ms_test_gui_child (window, MS_TYPE_WINDOW, "stack");
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "setup");
  g_assert_false (gtk_widget_activate_action (GTK_WIDGET (window), "win.send-test", NULL) &&
                  ms_window_get_test_dialog (window) != NULL);

  g_assert_nonnull (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window)));
  /* Dialogs and pages tell the window through this action, not by its type. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-toast", "s", "Saved"));

  /* The shortcuts and About windows open, and every app action has its keys. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL));
  ms_test_gui_spin_for (50);
  gtk_window_close (GTK_WINDOW (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window))));
  g_action_group_activate_action (G_ACTION_GROUP (app), "about", NULL);
  ms_test_gui_spin_for (50);
  for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
    if (ADW_IS_ABOUT_WINDOW (l->data))
      gtk_window_destroy (l->data);
  for (guint i = 0; i < 4; i++)
    {
      const char *action = (const char *[]) { "app.quit", "app.preferences", "win.send-test", "window.close" }[i];
      g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), action);

      g_assert_nonnull (accels[0]);
    }

  settings = open_settings ();
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (settings)));
  /* Screen readers hear what each text field is. */
  for (guint i = 0; i < 7; i++)
    {
      GtkWidget *row = ms_account_window_get_row (settings, (const char *[]) {
        "email-address", "sender-name", "smtp-server", "ehlo-host", "user-id", "trusted-certificate", "password" }[i]);
      GtkEditable *text = gtk_editable_get_delegate (GTK_EDITABLE (row));

      g_assert_nonnull (text);
      g_assert_true (gtk_test_accessible_has_property (GTK_ACCESSIBLE (text), GTK_ACCESSIBLE_PROPERTY_LABEL));
    }
  /* So does each number field and switch. */
  for (guint i = 0; i < 10; i++)
    {
      const char *name = (const char *[]) { "port_spin", "timeout_spin", "smtps_switch", "needs_auth_switch",
                                            "plaintext_switch", "per_minute_spin", "per_hour_spin",
                                            "per_day_spin", "connections_spin", "auth_method_row" }[i];
      GtkAccessible *input = SETTINGS_CHILD (settings, name);

      g_test_message ("%s", name);
      g_assert_true (gtk_test_accessible_has_property (input, GTK_ACCESSIBLE_PROPERTY_LABEL) ||
                     gtk_test_accessible_has_relation (input, GTK_ACCESSIBLE_RELATION_LABELLED_BY));
    }
  /* Advice and `mailshot-cli config --help` name settings as the window
   * shows them (“Messages per rolling day”): each row must carry that name. */
  {
    g_auto(GStrv) keys = ms_account_list_keys ();

    for (guint i = 0; keys[i] != NULL; i++)
      {
        GtkWidget *row = ms_account_window_get_row (settings, keys[i]);
        g_autoptr(GString) title = NULL;

        g_assert_nonnull (row);
        title = g_string_new (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
        g_string_replace (title, "_", "", 0);
        g_test_message ("%s: %s", keys[i], title->str);
        g_assert_true (g_str_has_prefix (title->str, ms_account_get_key_label (keys[i])));
      }
  }
  ms_test_gui_spin_for (100);
  close_settings (settings);

  dialog = g_object_ref_sink (ms_test_dialog_new (GTK_WINDOW (window), get_account ()));
  g_assert_false (ms_test_dialog_get_running (dialog));
  gtk_window_destroy (GTK_WINDOW (dialog));

  /* Configured: the summary and the action. */
  configure_account ("smtp.example.org", 587);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "main");
  g_assert_cmpstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "account_title")), ==,
                   "sender@example.org");
  /* Three pages to switch between. */
  {
    g_autoptr(GtkSelectionModel) pages = adw_view_stack_get_pages (ms_test_gui_child (window, MS_TYPE_WINDOW, "view_stack"));

    g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (pages)), ==, 3);
  }
  g_assert_cmpstr (adw_action_row_get_subtitle (ms_test_gui_child (window, MS_TYPE_WINDOW, "server_row")), ==,
                   "smtp.example.org:587");
  g_assert_cmpstr (adw_action_row_get_subtitle (ms_test_gui_child (window, MS_TYPE_WINDOW, "limits_row")), ==, "No limit");
  g_assert_true (ms_account_set_from_string (get_account (), "max-per-minute", "1", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-per-day", "2000", NULL));
  g_assert_cmpstr (adw_action_row_get_subtitle (ms_test_gui_child (window, MS_TYPE_WINDOW, "limits_row")), ==,
                   "1 message a minute, 2000 messages a day");

  ms_test_gui_reset_account (get_account ());
  g_assert_cmpstr (gtk_stack_get_visible_child_name (stack), ==, "setup");
}

/* ------------------------------------------------------- settings → widgets */

static void
test_settings_to_widgets (void)
{
  MsAccountWindow *win;
  GSettings *settings = get_settings ();
  g_autofree char *subtitle = NULL;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (SETTINGS_CHILD (win, "per_minute_spin"))), ==, "No limit");

  /* As mailshot-cli would: straight into GSettings. */
  g_settings_set_string (settings, "email-address", "news@example.org");
  g_settings_set_string (settings, "sender-name", "Example News");
  g_settings_set_string (settings, "smtp-server", "mail.example.net");
  g_settings_set_string (settings, "ehlo-host", "client.example.org");
  g_settings_set_string (settings, "user-id", "newsuser");
  g_settings_set_string (settings, "trusted-certificate", "");
  g_settings_set_int (settings, "smtp-port", 2525);
  g_settings_set_int (settings, "timeout", 45);
  g_settings_set_boolean (settings, "use-smtps", TRUE);
  g_settings_set_boolean (settings, "needs-authentication", TRUE);
  g_settings_set_enum (settings, "auth-method", MS_AUTH_METHOD_LOGIN);
  g_settings_set_boolean (settings, "allow-plaintext-password", TRUE);
  g_settings_set_int (settings, "max-per-minute", 30);
  g_settings_set_int (settings, "max-per-hour", 500);
  g_settings_set_int (settings, "max-per-day", 2000);
  g_settings_set_int (settings, "max-connections", 3);
  g_settings_set_int64 (settings, "rate-limited-until", 1900000000);
  g_settings_set_boolean (settings, "starttls-seen", TRUE);

  g_assert_cmpstr (row_text (win, "email-address"), ==, "news@example.org");
  g_assert_cmpstr (row_text (win, "sender-name"), ==, "Example News");
  g_assert_cmpstr (row_text (win, "smtp-server"), ==, "mail.example.net");
  g_assert_cmpstr (row_text (win, "ehlo-host"), ==, "client.example.org");
  g_assert_cmpstr (row_text (win, "user-id"), ==, "newsuser");
  g_assert_cmpfloat (gtk_spin_button_get_value (SETTINGS_CHILD (win, "port_spin")), ==, 2525);
  g_assert_cmpfloat (gtk_spin_button_get_value (SETTINGS_CHILD (win, "timeout_spin")), ==, 45);
  g_assert_true (gtk_switch_get_active (SETTINGS_CHILD (win, "smtps_switch")));
  g_assert_true (gtk_switch_get_active (SETTINGS_CHILD (win, "needs_auth_switch")));
  g_assert_cmpuint (adw_combo_row_get_selected (SETTINGS_CHILD (win, "auth_method_row")), ==, 3);
  g_assert_true (gtk_switch_get_active (SETTINGS_CHILD (win, "plaintext_switch")));
  g_assert_cmpfloat (gtk_spin_button_get_value (SETTINGS_CHILD (win, "per_minute_spin")), ==, 30);
  g_assert_cmpfloat (gtk_spin_button_get_value (SETTINGS_CHILD (win, "per_hour_spin")), ==, 500);
  g_assert_cmpfloat (gtk_spin_button_get_value (SETTINGS_CHILD (win, "per_day_spin")), ==, 2000);
  g_assert_cmpfloat (gtk_spin_button_get_value (SETTINGS_CHILD (win, "connections_spin")), ==, 3);
  g_settings_set_int (settings, "max-per-day", 0);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (SETTINGS_CHILD (win, "per_day_spin"))), ==, "No limit");
  g_settings_set_int (settings, "max-per-day", 2000);

  /* Rate limit: shown while set, in local time (the year is enough to know it is a date). */
  g_assert_true (gtk_widget_get_visible (ms_account_window_get_row (win, "rate-limited-until")));
  subtitle = g_strdup (adw_action_row_get_subtitle (ADW_ACTION_ROW (ms_account_window_get_row (win, "rate-limited-until"))));
  g_assert_nonnull (strstr (subtitle, "2030"));
  g_assert_true (gtk_widget_get_visible (ms_account_window_get_row (win, "starttls-seen")));

  /* Clear and Forget act on the settings. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "account.clear-rate-limit", NULL));
  g_assert_cmpint (g_settings_get_int64 (settings, "rate-limited-until"), ==, 0);
  g_assert_false (gtk_widget_get_visible (ms_account_window_get_row (win, "rate-limited-until")));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "account.forget-starttls", NULL));
  g_assert_false (g_settings_get_boolean (settings, "starttls-seen"));
  g_assert_false (gtk_widget_get_visible (ms_account_window_get_row (win, "starttls-seen")));

  /* Authentication off: its rows are insensitive. */
  g_settings_set_boolean (settings, "needs-authentication", FALSE);
  g_assert_false (gtk_widget_get_sensitive (ms_account_window_get_row (win, "auth-method")));
  g_assert_false (gtk_widget_get_sensitive (ms_account_window_get_row (win, "user-id")));
  g_assert_false (gtk_widget_get_sensitive (ms_account_window_get_row (win, "password")));
  g_settings_set_boolean (settings, "needs-authentication", TRUE);
  g_assert_true (gtk_widget_get_sensitive (ms_account_window_get_row (win, "auth-method")));

  close_settings (win);
  ms_test_gui_reset_account (get_account ());
}

static gboolean
row_shows_cli_server (gpointer win)
{
  return g_strcmp0 (row_text (win, "smtp-server"), "cli.example.org") == 0;
}

/* Another process (mailshot-cli) changes the account: the open window follows. */
static void
test_cli_change_shows_live (void)
{
  MsAccountWindow *win;
  g_autofree char *err = NULL;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "config", "set", "smtp-server", "cli.example.org", NULL), ==, 0);
  ms_test_gui_wait_until (row_shows_cli_server, win, 10000);
  close_settings (win);
  ms_test_gui_reset_account (get_account ());
}

/* ------------------------------------------------------- widgets → settings */

static void
test_widgets_to_settings (void)
{
  MsAccountWindow *win;
  GSettings *settings = get_settings ();
  g_autofree char *email = NULL;
  g_autofree char *server = NULL;
  g_autofree char *ehlo = NULL;
  g_autofree char *user = NULL;
  g_autofree char *name = NULL;
  g_autofree char *cert = NULL;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();

  set_row_text (win, "email-address", "office@example.org");
  set_row_text (win, "sender-name", "The Office");
  set_row_text (win, "smtp-server", "smtp.example.com");
  set_row_text (win, "ehlo-host", "host.example.org");
  set_row_text (win, "user-id", "office");
  set_row_text (win, "trusted-certificate",
                "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99");
  email = g_settings_get_string (settings, "email-address");
  name = g_settings_get_string (settings, "sender-name");
  server = g_settings_get_string (settings, "smtp-server");
  ehlo = g_settings_get_string (settings, "ehlo-host");
  user = g_settings_get_string (settings, "user-id");
  cert = g_settings_get_string (settings, "trusted-certificate");
  g_assert_cmpstr (email, ==, "office@example.org");
  g_assert_cmpstr (name, ==, "The Office");
  g_assert_cmpstr (server, ==, "smtp.example.com");
  g_assert_cmpstr (ehlo, ==, "host.example.org");
  g_assert_cmpstr (user, ==, "office");
  g_assert_cmpint (strlen (cert), >=, 64);
  for (guint i = 0; i < 6; i++)
    g_assert_false (gtk_widget_has_css_class (ms_account_window_get_row (win, (const char *[]) {
      "email-address", "sender-name", "smtp-server", "ehlo-host", "user-id", "trusted-certificate" }[i]), "error"));

  gtk_spin_button_set_value (SETTINGS_CHILD (win, "port_spin"), 2587);
  gtk_spin_button_set_value (SETTINGS_CHILD (win, "timeout_spin"), 90);
  gtk_spin_button_set_value (SETTINGS_CHILD (win, "per_minute_spin"), 10);
  gtk_spin_button_set_value (SETTINGS_CHILD (win, "per_hour_spin"), 100);
  gtk_spin_button_set_value (SETTINGS_CHILD (win, "per_day_spin"), 1000);
  gtk_spin_button_set_value (SETTINGS_CHILD (win, "connections_spin"), 4);
  gtk_switch_set_active (SETTINGS_CHILD (win, "needs_auth_switch"), FALSE);
  gtk_switch_set_active (SETTINGS_CHILD (win, "plaintext_switch"), TRUE);
  adw_combo_row_set_selected (SETTINGS_CHILD (win, "auth_method_row"), 1);
  g_assert_cmpint (g_settings_get_int (settings, "smtp-port"), ==, 2587);
  g_assert_cmpint (g_settings_get_int (settings, "timeout"), ==, 90);
  g_assert_cmpint (g_settings_get_int (settings, "max-per-minute"), ==, 10);
  g_assert_cmpint (g_settings_get_int (settings, "max-per-hour"), ==, 100);
  g_assert_cmpint (g_settings_get_int (settings, "max-per-day"), ==, 1000);
  g_assert_cmpint (g_settings_get_int (settings, "max-connections"), ==, 4);
  g_assert_false (g_settings_get_boolean (settings, "needs-authentication"));
  g_assert_true (g_settings_get_boolean (settings, "allow-plaintext-password"));
  g_assert_cmpint (g_settings_get_enum (settings, "auth-method"), ==, MS_AUTH_METHOD_CRAM_MD5);

  /* A limit of 0 reads “No limit”; a number typed over it is stored, and so
   * is “No limit” typed back. */
  {
    GtkSpinButton *spin = SETTINGS_CHILD (win, "per_hour_spin");

    gtk_spin_button_set_value (spin, 0);
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (spin)), ==, "No limit");
    gtk_editable_set_text (GTK_EDITABLE (spin), "250");
    gtk_spin_button_update (spin);
    g_assert_cmpint (g_settings_get_int (settings, "max-per-hour"), ==, 250);
    g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (spin)), ==, "250");
    gtk_editable_set_text (GTK_EDITABLE (spin), "No limit");
    gtk_spin_button_update (spin);
    g_assert_cmpint (g_settings_get_int (settings, "max-per-hour"), ==, 0);
    gtk_spin_button_set_value (spin, 100);
  }

  /* The well-known ports come with their security. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "account.set-port", "i", 465));
  g_assert_cmpint (g_settings_get_int (settings, "smtp-port"), ==, 465);
  g_assert_true (g_settings_get_boolean (settings, "use-smtps"));
  g_assert_true (gtk_switch_get_active (SETTINGS_CHILD (win, "smtps_switch")));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (win), "account.set-port", "i", 587));
  g_assert_false (g_settings_get_boolean (settings, "use-smtps"));
  g_assert_cmpfloat (gtk_spin_button_get_value (SETTINGS_CHILD (win, "port_spin")), ==, 587);
  /* What the account learns after a port button still reaches the disk,
   * where mailshot-cli reads it (the button once left the account's
   * GSettings in delay-apply mode for good). */
  {
    g_autofree char *keyfile = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", "keyfile", NULL);
    g_autofree char *contents = NULL;

    ms_account_set_rate_limited_until (get_account (), 1900000123);
    g_settings_sync ();
    g_assert_true (g_file_get_contents (keyfile, &contents, NULL, NULL));
    g_assert_nonnull (strstr (contents, "rate-limited-until=1900000123"));
    g_assert_nonnull (strstr (contents, "smtp-port=587"));
    ms_account_set_rate_limited_until (get_account (), 0);
  }

  /* Switching SMTPS on port 587 offers a change rather than making it. */
  gtk_switch_set_active (SETTINGS_CHILD (win, "smtps_switch"), TRUE);
  g_assert_true (g_settings_get_boolean (settings, "use-smtps"));
  g_assert_cmpint (g_settings_get_int (settings, "smtp-port"), ==, 587);

  /* Text typed but not applied is kept when the window closes. */
  gtk_editable_set_text (GTK_EDITABLE (ms_account_window_get_row (win, "user-id")), "typed-then-closed");
  gtk_window_close (GTK_WINDOW (win));
  g_free (user);
  user = g_settings_get_string (settings, "user-id");
  g_assert_cmpstr (user, ==, "typed-then-closed");

  ms_test_gui_reset_account (get_account ());
}

/* --------------------------------------------------------------- validation */

static void
test_validation (void)
{
  MsAccountWindow *win;
  GSettings *settings = get_settings ();
  static const struct {
    const char *key;
    const char *bad;
  } cases[] = {
    { "email-address", "not an address" },
    { "smtp-server", "bad host name!" },
    { "ehlo-host", "bad ehlo name!" },
    { "trusted-certificate", "not-a-fingerprint" },
  };

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GtkWidget *row = ms_account_window_get_row (win, cases[i].key);
      g_autofree char *before = g_settings_get_string (settings, cases[i].key);
      g_autofree char *after = NULL;

      g_test_message ("%s = %s", cases[i].key, cases[i].bad);
      set_row_text (win, cases[i].key, cases[i].bad);
      after = g_settings_get_string (settings, cases[i].key);
      g_assert_cmpstr (after, ==, before);
      g_assert_true (gtk_widget_has_css_class (row, "error"));
      /* The reason is on the row. */
      g_assert_nonnull (gtk_widget_get_tooltip_text (row));
      g_test_message ("reason: %s", gtk_widget_get_tooltip_text (row));
      /* Named as the row is, not by its GSettings key. */
      g_assert_true (g_str_has_prefix (gtk_widget_get_tooltip_text (row), ms_account_get_key_label (cases[i].key)));

      /* Back to the stored value: the mark goes. */
      gtk_editable_set_text (GTK_EDITABLE (row), before);
      g_assert_false (gtk_widget_has_css_class (row, "error"));
    }

  /* A bad value is not stored on close either. */
  gtk_editable_set_text (GTK_EDITABLE (ms_account_window_get_row (win, "email-address")), "still bad");
  gtk_window_close (GTK_WINDOW (win));
  {
    g_autofree char *email = g_settings_get_string (settings, "email-address");
    g_assert_cmpstr (email, ==, "");
  }
  ms_test_gui_reset_account (get_account ());
}

/* ----------------------------------------------------------- provider hints */

static gboolean
group_mentions (GtkWidget  *group,
                const char *text)
{
  gboolean found = FALSE;
  GtkWidget *widget;

  /* The rows are somewhere below the group: walk the whole tree. */
  for (widget = gtk_widget_get_first_child (group); widget != NULL && !found; )
    {
      if (ADW_IS_PREFERENCES_ROW (widget) &&
          strstr (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (widget)), text) != NULL)
        found = TRUE;
      if (gtk_widget_get_first_child (widget) != NULL)
        widget = gtk_widget_get_first_child (widget);
      else
        {
          while (widget != group && gtk_widget_get_next_sibling (widget) == NULL)
            widget = gtk_widget_get_parent (widget);
          widget = widget == group ? NULL : gtk_widget_get_next_sibling (widget);
        }
    }
  return found;
}

static void
test_provider_hints (void)
{
  MsAccountWindow *win;
  GtkWidget *group;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();
  group = SETTINGS_CHILD (win, "provider_group");
  g_assert_false (gtk_widget_get_visible (group));

  g_settings_set_string (get_settings (), "smtp-server", "smtp.gmail.com");
  g_assert_true (gtk_widget_get_visible (group));
  g_assert_nonnull (adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group)));
  g_assert_cmpstr (adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group)), !=, "");

  g_settings_set_string (get_settings (), "smtp-server", "smtp.office365.com");
  g_assert_true (gtk_widget_get_visible (group));

  /* With the limits unset, the window says which to set; set as advised,
   * that line goes. */
  g_assert_true (group_mentions (group, "“Messages per minute”"));
  g_settings_set_int (get_settings (), "max-per-minute", 30);
  g_settings_set_int (get_settings (), "max-per-day", 10000);
  g_settings_set_int (get_settings (), "max-connections", 3);
  g_assert_false (group_mentions (group, "“Messages per minute”"));

  g_settings_set_string (get_settings (), "smtp-server", "mail.example.org");
  g_assert_false (gtk_widget_get_visible (group));

  close_settings (win);
  ms_test_gui_reset_account (get_account ());
}

/* ----------------------------------------------------------------- password */

static gboolean
row_is_empty (gpointer row)
{
  return gtk_editable_get_text (GTK_EDITABLE (row))[0] == '\0';
}

static void
test_password (void)
{
  MsAccountWindow *win;
  GtkWidget *row;
  g_autoptr(GError) error = NULL;
  char *stored;
  g_autofree char *keyfile = NULL;
  g_autofree char *contents = NULL;

  ms_test_gui_reset_account (get_account ());
  configure_account ("smtp.example.org", 587);
  win = open_settings ();
  row = ms_account_window_get_row (win, "password");
  g_assert_true (ADW_IS_PASSWORD_ENTRY_ROW (row));

  gtk_editable_set_text (GTK_EDITABLE (row), "s3cret-from-the-gui");
  g_signal_emit_by_name (row, "apply");
  /* Stored asynchronously; the row empties on success. */
  ms_test_gui_wait_until (row_is_empty, row, 10000);
  g_assert_false (gtk_widget_has_css_class (row, "error"));

  stored = ms_secret_lookup_sync (MS_ACCOUNT_DEFAULT, "smtp.example.org", "u", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (stored, ==, "s3cret-from-the-gui");
  ms_secret_free (stored);

  /* Never in the settings. */
  g_settings_sync ();
  keyfile = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", "keyfile", NULL);
  if (g_file_get_contents (keyfile, &contents, NULL, NULL))
    g_assert_null (strstr (contents, "s3cret-from-the-gui"));

  /* A password typed, then the window closed: stored before it goes. */
  gtk_editable_set_text (GTK_EDITABLE (row), "second-s3cret");
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  gtk_window_close (GTK_WINDOW (win));
  while (win != NULL)
    g_main_context_iteration (NULL, TRUE);
  stored = ms_secret_lookup_sync (MS_ACCOUNT_DEFAULT, "smtp.example.org", "u", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (stored, ==, "second-s3cret");
  ms_secret_free (stored);

  g_assert_true (ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "smtp.example.org", "u", NULL, NULL));
  ms_test_gui_reset_account (get_account ());
}

/* -------------------------------------------------------------- test dialog */

static gboolean
dialog_finished (gpointer data)
{
  MsWindow *window = data;
  MsTestDialog *dialog = ms_window_get_test_dialog (window);

  return dialog != NULL && !ms_test_dialog_get_running (dialog);
}

static MsTestDialog *
run_test_dialog (void)
{
  MsWindow *window = ms_test_gui_get_window (app);
  MsTestDialog *dialog;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send-test", NULL));
  dialog = ms_window_get_test_dialog (window);
  g_assert_nonnull (dialog);
  /* The window stays responsive: we are iterating its main loop here. */
  ms_test_gui_wait_until (dialog_finished, window, 30000);
  return dialog;
}

static void
close_dialog (MsTestDialog *dialog)
{
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_assert_null (ms_window_get_test_dialog (ms_test_gui_get_window (app)));
}

static MsTestServer *
start_server_and_account (const char *password_in_keyring)
{
  MsTestServer *server = ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN",
                                               "--user=u", "--password=right-password", NULL);

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "trusted-certificate",
                                             ms_test_server_get_cert_fingerprint (server), NULL));
  if (password_in_keyring != NULL)
    g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", password_in_keyring, NULL, NULL));
  else
    ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);
  return server;
}

static void
test_dialog_passes (void)
{
  g_autoptr(MsTestServer) server = start_server_and_account ("right-password");
  MsTestDialog *dialog;
  MsProbe *probe;
  GtkTextBuffer *buffer;
  GtkTextIter start, end;
  g_autofree char *transcript = NULL;

  /* A rate limit left from an earlier blast: the accepted test message
   * shows the server takes mail again, as `mailshot-cli test` concludes. */
  ms_account_set_rate_limited_until (get_account (), g_get_real_time () / G_USEC_PER_SEC + 3600);
  dialog = run_test_dialog ();
  probe = ms_test_dialog_get_probe (dialog);
  g_test_message ("outcome: %s", ms_test_dialog_get_outcome (dialog));
  g_assert_nonnull (probe);
  g_assert_cmpint (ms_probe_get_failed_step (probe), ==, MS_PROBE_N_STEPS);
  g_assert_cmpstr (ms_test_dialog_get_outcome (dialog), ==, "The test e-mail was sent");
  g_assert_false (gtk_widget_get_visible (DIALOG_CHILD (dialog, "failure_group")));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);
  g_assert_true (ms_test_server_log_contains (server, "auth PLAIN u ok") ||
                 ms_test_server_log_contains (server, "auth LOGIN u ok"));
  /* The test message went out in CRLF, body lines included. */
  {
    g_autoptr(GPtrArray) messages = ms_test_server_get_messages (server);
    gsize size;
    const char *data = g_bytes_get_data (g_ptr_array_index (messages, 0), &size);
    g_autofree char *text = g_strndup (data, size);

    g_assert_nonnull (strstr (text, "\r\nSent: "));
    for (gsize i = 0; i < size; i++)
      if (data[i] == '\n')
        g_assert_true (i > 0 && data[i - 1] == '\r');
  }
  /* The account keeps that this server offers STARTTLS (the downgrade check). */
  g_assert_true (g_settings_get_boolean (get_settings (), "starttls-seen"));
  g_assert_cmpint (g_settings_get_int64 (get_settings (), "rate-limited-until"), ==, 0);

  /* The transcript is there, without the password. */
  g_assert_true (gtk_widget_get_visible (DIALOG_CHILD (dialog, "transcript_expander")));
  buffer = gtk_text_view_get_buffer (DIALOG_CHILD (dialog, "transcript_view"));
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  transcript = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_nonnull (strstr (transcript, "EHLO"));
  g_assert_null (strstr (transcript, "right-password"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.copy-transcript", NULL));
  {
    GdkContentProvider *content = gdk_clipboard_get_content (gtk_widget_get_clipboard (GTK_WIDGET (dialog)));
    g_auto(GValue) value = G_VALUE_INIT;

    /* What Copy put there is the transcript, secrets blanked. */
    g_assert_nonnull (content);
    g_value_init (&value, G_TYPE_STRING);
    g_assert_true (gdk_content_provider_get_value (content, &value, NULL));
    g_assert_cmpstr (g_value_get_string (&value), ==, transcript);
  }

  close_dialog (dialog);
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);
  ms_test_gui_reset_account (get_account ());
}

static void
test_dialog_wrong_password (void)
{
  g_autoptr(MsTestServer) server = start_server_and_account ("wrong-password");
  MsTestDialog *dialog = run_test_dialog ();
  MsProbe *probe = ms_test_dialog_get_probe (dialog);
  const MsReply *reply;
  const char *advice;
  const char *reply_text;
  GtkWidget *step_row;

  g_test_message ("outcome: %s", ms_test_dialog_get_outcome (dialog));
  g_assert_cmpint (ms_probe_get_failed_step (probe), ==, MS_PROBE_STEP_AUTH);
  reply = ms_probe_get_reply (probe);
  g_assert_nonnull (reply);
  g_assert_cmpint (reply->klass, ==, MS_REPLY_CLASS_AUTH_FAILED);

  /* The step, what the server said there, and the advice, each once. */
  g_assert_nonnull (strstr (ms_test_dialog_get_outcome (dialog), ms_probe_step_get_label (MS_PROBE_STEP_AUTH)));
  step_row = ms_test_dialog_get_step_row (dialog, MS_PROBE_STEP_AUTH);
  g_assert_true (gtk_widget_get_visible (step_row));
  reply_text = adw_action_row_get_subtitle (ADW_ACTION_ROW (step_row));
  g_assert_nonnull (strstr (reply_text, "535 5.7.8"));
  g_assert_false (gtk_widget_get_visible (ms_test_dialog_get_step_row (dialog, MS_PROBE_STEP_ENVELOPE)));
  g_assert_true (gtk_widget_get_visible (DIALOG_CHILD (dialog, "failure_group")));
  advice = adw_preferences_row_get_title (DIALOG_CHILD (dialog, "advice_row"));
  g_assert_cmpstr (advice, ==, reply->advice);
  g_assert_cmpstr (reply_text, !=, advice);
  g_assert_true (gtk_widget_get_visible (DIALOG_CHILD (dialog, "settings_button")));
  /* Cancel went away with the focus: the keyboard lands on the next step. */
  g_assert_true (gtk_root_get_focus (GTK_ROOT (dialog)) == DIALOG_CHILD (dialog, "settings_button"));

  /* The window keeps the last test result after the dialog has gone. */
  close_dialog (dialog);
  {
    MsWindow *window = ms_test_gui_get_window (app);

    g_assert_true (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "test_revealer")));
    g_test_message ("banner: %s", gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "test_label")));
    g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "test_label")), "Last test e-mail"));
    g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "test_label")),
                              ms_probe_step_get_label (MS_PROBE_STEP_AUTH)));
    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.dismiss-test", NULL));
    g_assert_false (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "test_revealer")));
  }
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);
  ms_test_gui_reset_account (get_account ());
}

/* A rate limit met by the test is kept on the account, so that a blast
 * started next waits too, and the settings window shows it. */
static void
test_dialog_rate_limited (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=none",
                                                         "--fault=MAIL:421 4.4.2 Message submission rate for this "
                                                         "client has exceeded the configured limit", NULL);
  gint64 before = g_get_real_time () / G_USEC_PER_SEC;
  MsTestDialog *dialog;
  MsProbe *probe;
  MsAccountWindow *win;
  gint64 until;

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));

  dialog = run_test_dialog ();
  probe = ms_test_dialog_get_probe (dialog);
  g_test_message ("outcome: %s", ms_test_dialog_get_outcome (dialog));
  g_assert_cmpint (ms_probe_get_failed_step (probe), ==, MS_PROBE_STEP_ENVELOPE);
  g_assert_cmpint (ms_probe_get_reply (probe)->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (ms_test_dialog_get_step_row (dialog, MS_PROBE_STEP_ENVELOPE))),
                            "421 4.4.2"));

  until = g_settings_get_int64 (get_settings (), "rate-limited-until");
  g_assert_cmpint (until, >=, before + 50);
  g_assert_cmpint (until, <=, g_get_real_time () / G_USEC_PER_SEC + 70);
  /* No STARTTLS on this server: nothing to remember. */
  g_assert_false (g_settings_get_boolean (get_settings (), "starttls-seen"));
  close_dialog (dialog);

  win = open_settings ();
  g_assert_true (gtk_widget_get_visible (ms_account_window_get_row (win, "rate-limited-until")));
  close_settings (win);
  ms_test_gui_reset_account (get_account ());
}

/* A server that never answers: the failed step says so in seconds, not in
 * libcurl's words, and the advice follows. */
static void
test_dialog_no_answer (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--stall=GREETING", NULL);
  MsTestDialog *dialog;
  MsProbeStep failed;
  const char *what;

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "timeout", "1", NULL));

  dialog = run_test_dialog ();
  failed = ms_probe_get_failed_step (ms_test_dialog_get_probe (dialog));
  g_test_message ("outcome: %s", ms_test_dialog_get_outcome (dialog));
  g_assert_cmpint (failed, <, MS_PROBE_N_STEPS);
  what = adw_action_row_get_subtitle (ADW_ACTION_ROW (ms_test_dialog_get_step_row (dialog, failed)));
  g_test_message ("step %s: %s", ms_probe_step_get_nick (failed), what);
  g_assert_cmpstr (what, ==, "No answer from the server within 1 second");
  g_assert_true (gtk_widget_get_visible (DIALOG_CHILD (dialog, "failure_group")));

  close_dialog (dialog);
  ms_test_gui_reset_account (get_account ());
}

static void
test_dialog_wrong_port (void)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  MsTestDialog *dialog;
  MsProbe *probe;
  int port;

  /* A port nobody listens on: bind, then close. */
  socket = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
  g_assert_true (g_socket_bind (socket, any, TRUE, NULL));
  bound = g_socket_get_local_address (socket, NULL);
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  g_socket_close (socket, NULL);

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", port);
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));

  dialog = run_test_dialog ();
  probe = ms_test_dialog_get_probe (dialog);
  g_test_message ("outcome: %s", ms_test_dialog_get_outcome (dialog));
  g_assert_cmpint (ms_probe_get_failed_step (probe), ==, MS_PROBE_STEP_CONNECT);
  g_test_message ("connect: %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (ms_test_dialog_get_step_row (dialog, MS_PROBE_STEP_CONNECT))));
  g_test_message ("advice: %s", adw_preferences_row_get_title (DIALOG_CHILD (dialog, "advice_row")));
  g_assert_true (gtk_widget_get_visible (DIALOG_CHILD (dialog, "failure_group")));
  g_assert_cmpstr (adw_preferences_row_get_title (DIALOG_CHILD (dialog, "advice_row")), !=, "");

  close_dialog (dialog);
  ms_test_gui_reset_account (get_account ());
}

static void
test_dialog_no_password (void)
{
  g_autoptr(MsTestServer) server = start_server_and_account (NULL);
  MsTestDialog *dialog = run_test_dialog ();
  gboolean opened = FALSE;
  GtkWindow *settings = NULL;

  g_assert_null (ms_test_dialog_get_probe (dialog));
  g_assert_cmpstr (ms_test_dialog_get_outcome (dialog), ==, "No password is stored for this account");
  g_assert_true (gtk_widget_get_visible (DIALOG_CHILD (dialog, "settings_button")));
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), ==, 0);

  /* The button opens the settings. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.open-settings", NULL));
  for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
    if (MS_IS_ACCOUNT_WINDOW (l->data) && gtk_widget_get_visible (l->data))
      {
        opened = TRUE;
        settings = l->data;
      }
  g_assert_true (opened);
  close_settings (MS_ACCOUNT_WINDOW (settings));
  close_dialog (dialog);
  ms_test_gui_reset_account (get_account ());
}

static gboolean
some_step_running (gpointer data)
{
  MsTestDialog *dialog = data;
  MsProbe *probe = ms_test_dialog_get_probe (dialog);

  if (probe == NULL)
    return FALSE;
  for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
    if (ms_probe_get_state (probe, i) == MS_PROBE_STATE_RUNNING &&
        i >= MS_PROBE_STEP_CONNECT)
      return TRUE;
  return FALSE;
}

static gboolean
not_running (gpointer data)
{
  return !ms_test_dialog_get_running (data);
}

static void
test_dialog_cancel (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--stall=GREETING", NULL);
  MsWindow *window;
  MsTestDialog *dialog;
  gint64 cancelled_at;

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "timeout", "60", NULL));

  window = ms_test_gui_get_window (app);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send-test", NULL));
  dialog = ms_window_get_test_dialog (window);
  g_assert_true (ms_test_dialog_get_running (dialog));
  ms_test_gui_wait_until (some_step_running, dialog, 10000);
  /* The steps show as they happen: the one in progress has its spinner,
   * the ones to come are not there yet. */
  {
    MsProbe *probe = ms_test_dialog_get_probe (dialog);

    for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
      {
        GtkWidget *row = ms_test_dialog_get_step_row (dialog, i);
        MsProbeState state = ms_probe_get_state (probe, i);

        g_assert_true (gtk_widget_get_visible (row) == (state != MS_PROBE_STATE_PENDING));
        if (state == MS_PROBE_STATE_RUNNING)
          g_assert_null (gtk_test_accessible_check_property (GTK_ACCESSIBLE (row),
                                                             GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "In progress"));
        else if (state == MS_PROBE_STATE_PASSED)
          g_assert_null (gtk_test_accessible_check_property (GTK_ACCESSIBLE (row),
                                                             GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "Passed"));
      }
    g_assert_false (gtk_widget_get_visible (ms_test_dialog_get_step_row (dialog, MS_PROBE_STEP_DATA)));
  }

  /* The server stalls; Cancel ends the step within a few seconds, far from the 60 s timeout. */
  cancelled_at = g_get_monotonic_time ();
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.cancel", NULL));
  ms_test_gui_wait_until (not_running, dialog, 5000);
  g_assert_cmpint (g_get_monotonic_time () - cancelled_at, <, 5 * G_USEC_PER_SEC);
  g_assert_cmpstr (ms_test_dialog_get_outcome (dialog), ==, "The test was cancelled");

  close_dialog (dialog);
  ms_test_gui_reset_account (get_account ());
}


/* ------------------------------------------------------------- e-blasts */

typedef struct {
  guint  finished;
  gint64 batch;
  guint  sent, failed, uncertain;
  char  *message;
} Finished;

static void
on_finished (MsBlastRunner *runner,
             gint64         batch,
             guint          sent,
             guint          failed,
             guint          uncertain,
             const char    *message,
             Finished      *f)
{
  f->finished++;
  f->batch = batch;
  f->sent = sent;
  f->failed = failed;
  f->uncertain = uncertain;
  g_free (f->message);
  f->message = g_strdup (message);
}

static gboolean
finished_once (gpointer data)
{
  return ((Finished *) data)->finished > 0;
}

static gboolean
page_loaded (gpointer data)
{
  return !ms_blast_page_get_loading (data);
}

static MsTestServer *
start_blast_server (const char *fault)
{
  MsTestServer *server = ms_test_server_start (fault != NULL ? fault : "--hostname=mail.harness.test", NULL);

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
  return server;
}

/* A list of @n members, plus one bad row and one duplicate. */
static GFile *
write_members (guint n)
{
  g_autofree char *path = ms_test_tmp_path ("members.csv");
  g_autoptr(GString) csv = g_string_new ("name,email\n");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (csv, "Member %u,member%u@example.org\n", i, i);
  g_string_append (csv, "Nobody,not-an-address\n");
  g_string_append (csv, "Again,MEMBER0@example.org\n");
  g_assert_true (g_file_set_contents (path, csv->str, -1, NULL));
  return g_file_new_for_path (path);
}

static MsBlastPage *
compose (guint       n,
         const char *subject,
         const char *text)
{
  MsWindow *window = ms_test_gui_get_window (app);
  MsBlastPage *page = ms_window_get_blast_page (window);
  g_autoptr(GFile) members = write_members (n);

  ms_window_show_page (window, "blast");
  ms_blast_page_load_recipients (page, members);
  ms_test_gui_wait_until (page_loaded, page, 10000);
  gtk_editable_set_text (GTK_EDITABLE (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "subject_row")), subject);
  gtk_text_buffer_set_text (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "body_buffer"), text, -1);
  return page;
}

static AdwMessageDialog *
press_send (MsBlastPage *page)
{
  AdwMessageDialog *dialog;

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "blast.send", NULL));
  dialog = ms_blast_page_get_dialog (page);
  g_assert_nonnull (dialog);
  return dialog;
}

static void
test_blast_compose_and_send (void)
{
  g_autoptr(MsTestServer) server = start_blast_server (NULL);
  MsBlastRunner *runner = ms_application_get_runner (app);
  Finished f = { 0 };
  MsBlastPage *page;
  AdwMessageDialog *dialog;
  MsWindow *window;
  GtkLabel *fields_label;
  const char *summary;
  gulong id;

  page = compose (200, "News for {{name}}", "Dear {{nmae}},\nthe news.\n");
  window = ms_test_gui_get_window (app);

  /* What the list holds, before anything is sent. */
  g_assert_cmpuint (ms_blast_page_get_valid_count (page), ==, 200);
  summary = adw_action_row_get_subtitle (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "summary_row"));
  g_test_message ("summary: %s", summary);
  g_assert_nonnull (strstr (summary, "202 rows"));
  g_assert_nonnull (strstr (summary, "1 left out"));
  g_assert_nonnull (strstr (summary, "1 duplicate"));
  g_assert_true (gtk_widget_get_visible (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "problems_button")));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "blast.show-problems", NULL));
  dialog = ms_blast_page_get_dialog (page);
  g_assert_nonnull (dialog);
  adw_message_dialog_response (dialog, "close");
  ms_test_gui_spin_for (50);

  /* An unknown field is pointed out, and stops Send with the reason. */
  fields_label = ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "fields_label");
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (fields_label)));
  g_assert_nonnull (strstr (gtk_label_get_text (fields_label), "{{nmae}}"));
  dialog = press_send (page);
  g_test_message ("unknown field: %s", adw_message_dialog_get_body (dialog));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), "nmae"));
  g_assert_false (ms_blast_runner_get_active (runner));
  adw_message_dialog_response (dialog, "close");

  /* Merge Fields inserts at the cursor. */
  gtk_text_buffer_set_text (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "body_buffer"), "Dear ", -1);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "blast.insert-field", "s", "name"));
  gtk_text_buffer_insert_at_cursor (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "body_buffer"), ",\nthe news.\n", -1);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (fields_label)));

  /* The confirmation says how many, then the blast runs in the background. */
  dialog = press_send (page);
  g_test_message ("confirm: %s / %s", adw_message_dialog_get_heading (dialog), adw_message_dialog_get_body (dialog));
  g_assert_nonnull (strstr (adw_message_dialog_get_heading (dialog), "200"));
  id = g_signal_connect (runner, "finished", G_CALLBACK (on_finished), &f);
  adw_message_dialog_response (dialog, "send");
  g_assert_true (ms_blast_runner_get_active (runner));
  g_assert_true (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_revealer")));
  ms_test_gui_wait_until (finished_once, &f, 60000);
  g_signal_handler_disconnect (runner, id);

  /* The counts shown match what the server received. */
  g_assert_null (f.message);
  g_assert_cmpuint (f.sent, ==, 200);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 200);
  g_assert_cmpfloat (ms_blast_runner_get_fraction (runner), ==, 1.0);
  g_assert_cmpstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_label")), ==, "200 of 200 sent");
  g_assert_false (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_revealer")));
  g_assert_nonnull (strstr (ms_application_get_last_notification (app), "200 sent"));
  /* …and the desktop got it. */
  ms_test_gui_wait_until (notification_arrived, (gpointer) "200 sent", 10000);
  {
    g_autoptr(GPtrArray) messages = ms_test_server_get_messages (server);
    gsize size;
    const char *data = g_bytes_get_data (g_ptr_array_index (messages, 0), &size);
    g_autofree char *text = g_strndup (data, size);

    g_assert_nonnull (strstr (text, "Dear Member"));
  }
  g_free (f.message);
  ms_test_gui_reset_account (get_account ());
}

/* What was composed is there again in a new window (and a new app run). */
static void
test_blast_draft (void)
{
  g_autofree char *path = ms_test_tmp_path ("draft.ini");
  g_autofree char *attachment = ms_test_tmp_path ("agenda.txt");
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFile) members = write_members (3);
  MsBlastRunner *runner = ms_application_get_runner (app);
  MsBlastPage *page;
  GtkTextBuffer *buffer;
  GtkTextIter start, end;
  g_autofree char *text = NULL;

  g_assert_true (g_file_set_contents (attachment, "Agenda", -1, NULL));
  file = g_file_new_for_path (attachment);
  g_unlink (path);
  page = g_object_ref_sink (ms_blast_page_new (get_account (), runner, path));
  ms_blast_page_load_recipients (page, members);
  ms_test_gui_wait_until (page_loaded, page, 10000);
  gtk_editable_set_text (GTK_EDITABLE (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "subject_row")), "Kept");
  gtk_text_buffer_set_text (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "body_buffer"), "Kept text {{name}}", -1);
  ms_blast_page_add_attachment (page, file);
  g_object_run_dispose (G_OBJECT (page));
  g_object_unref (page);

  page = g_object_ref_sink (ms_blast_page_new (get_account (), runner, path));
  ms_test_gui_wait_until (page_loaded, page, 10000);
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "subject_row"))), ==, "Kept");
  buffer = ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "body_buffer");
  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  g_assert_cmpstr (text, ==, "Kept text {{name}}");
  g_assert_cmpuint (ms_blast_page_get_valid_count (page), ==, 3);
  g_assert_true (gtk_widget_get_visible (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "attachments_list")));
  g_object_run_dispose (G_OBJECT (page));
  g_object_unref (page);
}

static gboolean
runner_waiting_for_limit (gpointer data)
{
  return strstr (ms_blast_runner_get_detail (data), "Paused by the server") != NULL;
}

/* A rate-limit reply: the wait and its end time show, then it resumes by itself. */
static void
test_blast_rate_limit (void)
{
  g_autoptr(MsTestServer) server =
    start_blast_server ("--fault=MAIL:421 4.7.0 Too many messages, try again in 2 seconds:count=1:after=5");
  MsBlastRunner *runner = ms_application_get_runner (app);
  Finished f = { 0 };
  MsBlastPage *page = compose (20, "Hello {{name}}", "Hello {{name}}\n");
  MsWindow *window = ms_test_gui_get_window (app);
  gulong id = g_signal_connect (runner, "finished", G_CALLBACK (on_finished), &f);

  adw_message_dialog_response (press_send (page), "send");
  ms_test_gui_wait_until (runner_waiting_for_limit, runner, 30000);
  g_test_message ("wait: %s", ms_blast_runner_get_detail (runner));
  g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "detail_label")),
                            "resumes by itself"));
  g_assert_cmpint (g_settings_get_int64 (get_settings (), "rate-limited-until"), >, 0);
  /* The window says so on every page, with the end time and the server's words. */
  g_assert_true (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "limit_revealer")));
  g_test_message ("banner: %s", gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "limit_label")));
  g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "limit_label")), "Rate limited until"));
  g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "limit_label")),
                            "Server reply: 421 4.7.0 Too many messages"));
  ms_test_gui_wait_until (finished_once, &f, 60000);
  g_signal_handler_disconnect (runner, id);
  g_assert_null (f.message);
  g_assert_cmpuint (f.sent, ==, 20);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 20);
  ms_test_gui_spin_for (1500);
  g_assert_false (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "limit_revealer")));
  g_free (f.message);
  ms_test_gui_reset_account (get_account ());
}

static gboolean
runner_sent_some (gpointer data)
{
  return ms_blast_runner_get_fraction (data) > 0;
}

static gboolean
runner_paused (gpointer data)
{
  return ms_blast_runner_get_paused (data);
}

/* Closing the window keeps the blast going; a new window shows it live;
 * pause, resume, and a confirmed cancel; the notification at the end. */
static void
test_blast_background (void)
{
  g_autoptr(MsTestServer) server = start_blast_server (NULL);
  MsBlastRunner *runner = ms_application_get_runner (app);
  Finished f = { 0 };
  MsBlastPage *page;
  MsWindow *window;
  AdwMessageDialog *dialog;
  gulong id;
  guint sent;

  /* One message every 0.2 s: slow enough to act in between. */
  g_assert_true (ms_account_set_from_string (get_account (), "max-per-minute", "300", NULL));
  page = compose (40, "Hello {{name}}", "Hello {{name}}\n");
  id = g_signal_connect (runner, "finished", G_CALLBACK (on_finished), &f);
  adw_message_dialog_response (press_send (page), "send");
  ms_test_gui_wait_until (runner_sent_some, runner, 30000);

  gtk_window_close (GTK_WINDOW (ms_test_gui_get_window (app)));
  ms_test_gui_spin_for (300);
  g_assert_null (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_true (ms_blast_runner_get_active (runner));

  window = ms_test_gui_get_window (app);
  g_assert_true (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_revealer")));
  g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_label")), "of 40 sent"));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.pause-blast", NULL));
  ms_test_gui_wait_until (runner_paused, runner, 30000);
  sent = ms_test_server_count_messages (server);
  ms_test_gui_spin_for (600);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, sent);
  g_assert_true (gtk_widget_get_visible (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_button")));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.resume-blast", NULL));
  g_assert_false (ms_blast_runner_get_paused (runner));
  ms_test_gui_spin_for (600);
  g_assert_cmpuint (ms_test_server_count_messages (server), >, sent);

  /* Cancel asks first; keeping on changes nothing. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel-blast", NULL));
  dialog = ms_window_get_cancel_dialog (window);
  g_assert_nonnull (dialog);
  adw_message_dialog_response (dialog, "keep");
  g_assert_true (ms_blast_runner_get_active (runner));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.cancel-blast", NULL));
  adw_message_dialog_response (ms_window_get_cancel_dialog (window), "cancel-blast");
  ms_test_gui_wait_until (finished_once, &f, 30000);
  g_signal_handler_disconnect (runner, id);

  g_test_message ("cancelled: %u sent, %u uncertain, %s", f.sent, f.uncertain, f.message);
  g_assert_nonnull (f.message);
  g_assert_cmpuint (f.sent, <, 40);
  /* A message cut by the cancel after its end went out is uncertain: it may
   * have arrived. Every other one is counted as the server saw it. */
  g_assert_cmpuint (f.sent, <=, ms_test_server_count_messages (server));
  g_assert_cmpuint (ms_test_server_count_messages (server), <=, f.sent + f.uncertain);
  g_assert_nonnull (strstr (ms_application_get_last_notification (app), "E-blast stopped"));
  ms_test_gui_wait_until (notification_arrived, (gpointer) "E-blast stopped", 10000);
  g_free (f.message);
  ms_test_gui_reset_account (get_account ());
}

/* Quit during a blast asks: keep sending in the background, or pause and
 * quit; the paused batch is offered for resuming in the next window. */
static gboolean
no_window (gpointer data)
{
  return gtk_application_get_active_window (GTK_APPLICATION (app)) == NULL;
}

static void
test_blast_quit (void)
{
  g_autoptr(MsTestServer) server = start_blast_server (NULL);
  MsBlastRunner *runner = ms_application_get_runner (app);
  Finished f = { 0 };
  MsBlastPage *page;
  MsWindow *window;
  AdwMessageDialog *dialog;
  gint64 batch;
  gulong id;
  guint sent;

  g_assert_true (ms_account_set_from_string (get_account (), "max-per-minute", "300", NULL));
  page = compose (40, "Hello {{name}}", "Hello {{name}}\n");
  id = g_signal_connect (runner, "finished", G_CALLBACK (on_finished), &f);
  adw_message_dialog_response (press_send (page), "send");
  ms_test_gui_wait_until (runner_sent_some, runner, 30000);
  batch = ms_blast_runner_get_batch (runner);

  /* Don't quit: nothing changes. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  dialog = ms_application_get_quit_dialog (app);
  g_assert_nonnull (dialog);
  g_test_message ("quit: %s / %s", adw_message_dialog_get_heading (dialog), adw_message_dialog_get_body (dialog));
  g_assert_true (adw_message_dialog_has_response (dialog, "background"));
  g_assert_true (adw_message_dialog_has_response (dialog, "pause"));
  g_assert_true (adw_message_dialog_has_response (dialog, "cancel-blast"));
  adw_message_dialog_response (dialog, "stay");
  ms_test_gui_spin_for (100);
  g_assert_nonnull (gtk_application_get_active_window (GTK_APPLICATION (app)));
  g_assert_true (ms_blast_runner_get_active (runner));

  /* Keep sending in the background: the windows go, the blast does not. */
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  adw_message_dialog_response (ms_application_get_quit_dialog (app), "background");
  ms_test_gui_wait_until (no_window, NULL, 5000);
  g_assert_true (ms_blast_runner_get_active (runner));
  g_assert_false (ms_blast_runner_get_paused (runner));

  /* Pause and quit: it stops with nothing lost, and is paused in the journal. */
  window = ms_test_gui_get_window (app);
  g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
  adw_message_dialog_response (ms_application_get_quit_dialog (app), "pause");
  ms_test_gui_wait_until (runner_paused, runner, 30000);
  ms_test_gui_wait_until (no_window, NULL, 5000);
  sent = ms_test_server_count_messages (server);
  g_assert_cmpuint (sent, <, 40);
  {
    g_autoptr(MsJournal) journal = ms_journal_open (NULL, NULL);
    g_autoptr(MsBatchInfo) info = ms_journal_get_batch_info (journal, batch, NULL);

    g_assert_cmpint (info->status, ==, MS_BATCH_PAUSED);
    g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, sent);
  }

  /* Opened again, the app carries on with it to the end. */
  window = ms_test_gui_get_window (app);
  g_assert_true (gtk_widget_get_visible (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_button")));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.resume-blast", NULL));
  ms_test_gui_wait_until (finished_once, &f, 60000);
  g_signal_handler_disconnect (runner, id);
  g_assert_null (f.message);
  g_assert_cmpuint (f.sent, ==, 40);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 40);
  g_free (f.message);
  ms_test_gui_reset_account (get_account ());
}

/* A crash mid-blast (kill -9 of the app), a restart, and the resume offer
 * with its uncertain count; resending them, every recipient gets the
 * message, and only an uncertain one may get it twice. */
static void
test_blast_crash_resume (void)
{
  g_autoptr(MsTestServer) server = NULL;
  g_autoptr(GHashTable) received = NULL;
  g_autoptr(GPtrArray) envelopes = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  MsBlastRunner *runner = ms_application_get_runner (app);
  Finished f = { 0 };
  MsWindow *window;
  const char *text;
  gint64 batch;
  guint uncertain, twice = 0;
  gulong id;

  if (g_test_subprocess ())
    {
      /* The app, sending: killed once some messages are out and others
       * are on their way (the server answers each body after 0.3 s). */
      MsBlastPage *page;

      ms_test_gui_reset_account (get_account ());
      configure_account ("127.0.0.1", atoi (g_getenv ("MS_CRASH_PORT")));
      g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
      g_assert_true (ms_account_set_from_string (get_account (), "max-connections", "2", NULL));
      page = compose (60, "Crash {{name}}", "Hello {{name}}\n");
      adw_message_dialog_response (press_send (page), "send");
      ms_test_gui_wait_until (runner_sent_some, runner, 30000);
      ms_test_gui_spin_for (1000);
      kill (getpid (), SIGKILL);
      g_assert_not_reached ();
    }

  server = start_blast_server ("--delay=EOM:0.3");
  g_assert_true (ms_account_set_from_string (get_account (), "max-connections", "2", NULL));
  g_settings_sync ();
  {
    g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (server));

    g_setenv ("MS_CRASH_PORT", port, TRUE);
  }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_assert_false (g_test_trap_has_passed ());
  g_unsetenv ("MS_CRASH_PORT");
  /* The child wrote the settings file: let this process take its reload
   * now, then set the account again, so that no late reload undoes what
   * this and later tests set. */
  ms_test_gui_spin_for (1000);
  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-connections", "2", NULL));
  g_test_message ("the server had %u messages at the crash", ms_test_server_count_messages (server));
  g_assert_cmpuint (ms_test_server_count_messages (server), >, 0);
  g_assert_cmpuint (ms_test_server_count_messages (server), <, 60);

  /* The restart: a new window offers the batch, uncertain rows counted. */
  gtk_window_destroy (GTK_WINDOW (ms_test_gui_get_window (app)));
  window = ms_test_gui_get_window (app);
  batch = ms_window_get_unfinished_batch (window);
  g_assert_cmpint (batch, >, 0);
  journal = ms_journal_open (NULL, NULL);
  info = ms_journal_get_batch_info (journal, batch, NULL);
  uncertain = info->counts[MS_STATE_UNCERTAIN];
  g_test_message ("batch %" G_GINT64_FORMAT ": %u sent, %u uncertain, %u queued", batch, info->counts[MS_STATE_SENT],
                  uncertain, info->counts[MS_STATE_QUEUED]);
  g_assert_cmpuint (uncertain, >, 0);
  g_assert_cmpuint (info->counts[MS_STATE_SENDING], ==, 0);
  g_assert_true (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_revealer")));
  text = gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_label"));
  g_test_message ("offer: %s / %s", gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_title")), text);
  {
    g_autofree char *count = g_strdup_printf (uncertain == 1 ? "%u message is uncertain" : "%u messages are uncertain",
                                              uncertain);

    g_assert_nonnull (strstr (text, count));
  }
  g_assert_nonnull (strstr (text, "may or may not have arrived"));
  g_assert_true (gtk_widget_get_visible (ms_test_gui_child (window, MS_TYPE_WINDOW, "resend_check")));
  /* Never resent unless asked. */
  g_assert_false (gtk_check_button_get_active (ms_test_gui_child (window, MS_TYPE_WINDOW, "resend_check")));

  /* Resend them, and resume. */
  gtk_check_button_set_active (ms_test_gui_child (window, MS_TYPE_WINDOW, "resend_check"), TRUE);
  id = g_signal_connect (runner, "finished", G_CALLBACK (on_finished), &f);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.resume-unfinished", NULL));
  g_assert_false (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_revealer")));
  ms_test_gui_wait_until (finished_once, &f, 60000);
  g_signal_handler_disconnect (runner, id);
  g_test_message ("finished: %u sent, %u failed, %u uncertain; the server has %u", f.sent, f.failed, f.uncertain,
                  ms_test_server_count_messages (server));
  g_assert_null (f.message);
  g_assert_cmpint (f.batch, ==, batch);
  g_assert_cmpuint (f.sent, ==, 60);
  g_assert_cmpuint (f.uncertain, ==, 0);

  /* The server's count adds up: everyone once, and a second copy only
   * for what was uncertain. */
  envelopes = ms_test_server_get_envelopes (server);
  received = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint i = 0; i < envelopes->len; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_ptr_array_index (envelopes, i), " ", 3);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (received, parts[2]));

      if (n > 0)
        twice++;
      g_hash_table_insert (received, g_strdup (parts[2]), GUINT_TO_POINTER (n + 1));
    }
  g_assert_cmpuint (g_hash_table_size (received), ==, 60);
  g_assert_cmpuint (twice, <=, uncertain);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 60 + twice);
  g_free (f.message);
  ms_test_gui_reset_account (get_account ());
}

/* A blast started by mailshot-cli in another process shows up live, and
 * goes away when it is done. */
static gboolean
external_shown (gpointer data)
{
  return ms_window_get_external_batch (data) > 0 &&
         gtk_revealer_get_reveal_child (ms_test_gui_child (data, MS_TYPE_WINDOW, "progress_revealer"));
}

static gboolean
external_gone (gpointer data)
{
  return ms_window_get_external_batch (data) == 0 &&
         !gtk_revealer_get_reveal_child (ms_test_gui_child (data, MS_TYPE_WINDOW, "progress_revealer"));
}

static void
on_subprocess_done (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_assert_true (g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL));
  *(gboolean *) user_data = TRUE;
}

static gboolean
flag_set (gpointer data)
{
  return *(gboolean *) data;
}

static void
test_blast_from_cli_live (void)
{
  g_autoptr(MsTestServer) server = start_blast_server (NULL);
  g_autoptr(GFile) members = write_members (30);
  g_autofree char *text = ms_test_tmp_path ("cli-letter.txt");
  g_autoptr(GSubprocess) cli = NULL;
  g_autoptr(GError) error = NULL;
  MsWindow *window = ms_test_gui_get_window (app);
  const char *shown;
  gboolean done = FALSE;

  g_assert_true (ms_account_set_from_string (get_account (), "max-per-minute", "600", NULL));
  /* On disk for mailshot-cli. */
  g_settings_sync ();
  g_assert_true (g_file_set_contents (text, "Hello {{name}}\n", -1, NULL));
  cli = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &error,
                          g_getenv ("MS_CLI"), "blast", "send", "--recipients", g_file_peek_path (members),
                          "--subject", "From the terminal", "--text", text, NULL);
  g_assert_no_error (error);

  ms_test_gui_wait_until (external_shown, window, 20000);
  shown = gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "detail_label"));
  g_test_message ("live: %s / %s", gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_label")), shown);
  g_assert_nonnull (strstr (shown, "another Mailshot program"));
  g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_label")), "of 30 sent"));
  /* Its buttons are the other process's business. */
  g_assert_false (gtk_widget_get_visible (ms_test_gui_child (window, MS_TYPE_WINDOW, "pause_button")));
  g_assert_false (gtk_widget_get_visible (ms_test_gui_child (window, MS_TYPE_WINDOW, "cancel_button")));

  g_subprocess_wait_async (cli, NULL, on_subprocess_done, &done);
  ms_test_gui_wait_until (flag_set, &done, 60000);
  g_assert_true (g_subprocess_get_if_exited (cli));
  if (g_subprocess_get_exit_status (cli) != 0)
    {
      g_autoptr(GBytes) err = g_input_stream_read_bytes (g_subprocess_get_stderr_pipe (cli), 65536, NULL, NULL);

      g_test_message ("mailshot-cli: %.*s", err != NULL ? (int) g_bytes_get_size (err) : 0,
                      err != NULL ? (const char *) g_bytes_get_data (err, NULL) : "");
      {
        g_autofree char *kf = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", "keyfile", NULL);
        g_autofree char *contents = NULL;

        g_file_get_contents (kf, &contents, NULL, NULL);
        g_test_message ("app port %d; %s: %s", ms_account_get_smtp_port (get_account ()), kf, contents);
      }
    }
  g_assert_cmpint (g_subprocess_get_exit_status (cli), ==, 0);
  ms_test_gui_wait_until (external_gone, window, 5000);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 30);
  ms_test_gui_reset_account (get_account ());
}

/* ------------------------------------------------------------- preview */

static gboolean
preview_loaded (gpointer data)
{
  return !ms_preview_get_loading (data);
}

static gboolean
preview_idle (gpointer data)
{
  return !ms_preview_get_sending (data);
}

#ifdef MS_HAVE_WEBKIT
static gboolean
web_view_idle (gpointer data)
{
  gboolean loading = TRUE;

  g_object_get (data, "is-loading", &loading, NULL);
  return !loading;
}
#endif

static gboolean
on_web_request (GSocketService     *service,
                GSocketConnection  *connection,
                GObject            *source,
                guint              *count)
{
  (*count)++;
  return FALSE;
}

static const char *
label_text (MsPreview  *preview,
            const char *name)
{
  return gtk_label_get_text (ms_test_gui_child (preview, MS_TYPE_PREVIEW, name));
}

/* Step through the recipients and search one; each shows as it gets it;
 * the HTML drawn with nothing from the web; "Send test to me" sends that
 * recipient's message to the account's own address, and says so. */
static void
test_blast_preview (void)
{
  g_autoptr(MsTestServer) server = start_blast_server ("--reject-rcpt=refused@");
  g_autofree char *html_path = ms_test_tmp_path ("letter.html");
  g_autofree char *html = NULL;
  g_autoptr(GFile) html_file = NULL;
  g_autoptr(GSocketService) web = g_socket_service_new ();
  g_autoptr(GtkTextBuffer) text = NULL;
  GtkTextIter start, end;
  g_autofree char *body = NULL;
  guint web_requests = 0;
  guint16 web_port;
  MsBlastPage *page;
  MsPreview *preview;
  GtkWidget *view;
  g_autoptr(GPtrArray) envelopes = NULL;

  /* A web server on loopback that counts what asks it for anything. */
  web_port = g_socket_listener_add_any_inet_port (G_SOCKET_LISTENER (web), NULL, NULL);
  g_assert_cmpuint (web_port, >, 0);
  g_signal_connect (web, "incoming", G_CALLBACK (on_web_request), &web_requests);
  g_socket_service_start (web);
  html = g_strdup_printf ("<html><body><p>Dear {{name}}, <b>news</b>.</p>"
                          "<img src=\"http://127.0.0.1:%u/logo.png\">"
                          "<div style=\"background: url(http://127.0.0.1:%u/bg.png)\">x</div>"
                          "<script>document.title = 'ran'</script></body></html>", web_port, web_port);
  g_assert_true (g_file_set_contents (html_path, html, -1, NULL));
  html_file = g_file_new_for_path (html_path);

  page = compose (200, "News for {{name}}", "Dear {{name}},\nthe news.\n");
  ms_blast_page_set_html_file (page, html_file);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "blast.preview", NULL));
  preview = ms_blast_page_get_preview (page);
  g_assert_nonnull (preview);
  ms_test_gui_wait_until (preview_loaded, preview, 10000);

  /* The recipients as the import adds them, the first one first. */
  g_assert_cmpuint (ms_preview_get_n_recipients (preview), ==, 200);
  g_assert_cmpuint (ms_preview_get_position (preview), ==, 0);
  g_assert_cmpstr (label_text (preview, "subject_label"), ==, "News for Member 0");
  g_assert_nonnull (strstr (label_text (preview, "to_label"), "member0@example.org"));
  g_assert_nonnull (strstr (label_text (preview, "from_label"), "sender@example.org"));
  text = g_object_ref (gtk_text_view_get_buffer (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "text_view")));
  gtk_text_buffer_get_bounds (text, &start, &end);
  body = gtk_text_buffer_get_text (text, &start, &end, FALSE);
  g_assert_nonnull (strstr (body, "Dear Member 0,\nthe news."));
  g_assert_true (gtk_widget_is_sensitive (GTK_WIDGET (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "search_entry"))));

  /* Next, previous, first, and a search by address. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (preview), "preview.next", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (preview), "preview.next", NULL));
  g_assert_cmpuint (ms_preview_get_position (preview), ==, 2);
  g_assert_nonnull (strstr (label_text (preview, "to_label"), "member2@example.org"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (preview), "preview.previous", NULL));
  g_assert_cmpstr (label_text (preview, "subject_label"), ==, "News for Member 1");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (preview), "preview.first", NULL));
  g_assert_cmpuint (ms_preview_get_position (preview), ==, 0);
  gtk_editable_set_text (GTK_EDITABLE (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "search_entry")), "MEMBER150@");
  g_signal_emit_by_name (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "search_entry"), "search-changed");
  g_assert_cmpuint (ms_preview_get_position (preview), ==, 150);
  g_assert_cmpstr (label_text (preview, "subject_label"), ==, "News for Member 150");
  g_assert_false (ms_preview_find (preview, "nobody@"));
  g_assert_cmpuint (ms_preview_get_position (preview), ==, 150);

  /* The HTML as a mail program draws it: no scripts, nothing from the web,
   * and a note that says so. */
  view = adw_bin_get_child (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "html_bin"));
  g_assert_true (gtk_widget_get_visible (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "switcher")));
  g_assert_true (gtk_widget_get_visible (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "html_note")));
  g_test_message ("html view: %s, note: %s", G_OBJECT_TYPE_NAME (view), label_text (preview, "html_note"));
#ifdef MS_HAVE_WEBKIT
  g_assert_true (ms_preview_get_renders_html (preview));
  {
    g_assert_true (WEBKIT_IS_WEB_VIEW (view));
    g_assert_false (webkit_settings_get_enable_javascript (webkit_web_view_get_settings (WEBKIT_WEB_VIEW (view))));
      g_assert_nonnull (strstr (label_text (preview, "html_note"), "from the web were not loaded"));
      adw_view_stack_set_visible_child_name (ms_test_gui_child (preview, MS_TYPE_PREVIEW, "body_stack"), "html");
      ms_test_gui_spin_for (300);
      ms_test_gui_wait_until (web_view_idle, view, 20000);
      ms_test_gui_spin_for (1000);
      /* It was drawn (the web process ran it to the end), and the script
       * did not run: the page has no title. */
      g_test_message ("load progress %.2f, uri %s", webkit_web_view_get_estimated_load_progress (WEBKIT_WEB_VIEW (view)),
                      webkit_web_view_get_uri (WEBKIT_WEB_VIEW (view)));
      g_assert_cmpfloat (webkit_web_view_get_estimated_load_progress (WEBKIT_WEB_VIEW (view)), ==, 1.0);
      g_assert_null (webkit_web_view_get_title (WEBKIT_WEB_VIEW (view)));
  }
#else
  g_assert_false (ms_preview_get_renders_html (preview));
  g_assert_nonnull (strstr (label_text (preview, "html_note"), "WebKitGTK"));
#endif
  g_assert_cmpuint (web_requests, ==, 0);

  /* Send test to me: that recipient's message, to the account's address. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (preview), "preview.send-test", NULL));
  g_assert_true (ms_preview_get_sending (preview));
  ms_test_gui_wait_until (preview_idle, preview, 30000);
  g_test_message ("send test: %s", ms_preview_get_outcome (preview));
  g_assert_cmpstr (ms_preview_get_outcome (preview), ==, "Test sent to sender@example.org");
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);
  envelopes = ms_test_server_get_envelopes (server);
  g_assert_nonnull (strstr (g_ptr_array_index (envelopes, 0), "sender@example.org sender@example.org"));
  {
    g_autoptr(GPtrArray) messages = ms_test_server_get_messages (server);
    g_autofree char *sent = g_strndup (g_bytes_get_data (g_ptr_array_index (messages, 0), NULL),
                                       g_bytes_get_size (g_ptr_array_index (messages, 0)));

    g_assert_nonnull (strstr (sent, "Subject: News for Member 150"));
  }

  /* A refusal says what the server said and what to do. */
  g_assert_true (ms_account_set_from_string (get_account (), "email-address", "refused@example.org", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (preview), "preview.send-test", NULL));
  ms_test_gui_wait_until (preview_idle, preview, 30000);
  g_test_message ("refused: %s", ms_preview_get_outcome (preview));
  g_assert_nonnull (strstr (ms_preview_get_outcome (preview), "Server reply: 550"));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);

  gtk_window_destroy (GTK_WINDOW (preview));
  g_assert_null (ms_blast_page_get_preview (page));
  ms_blast_page_set_html_file (page, NULL);
  g_socket_service_stop (web);
  ms_test_gui_reset_account (get_account ());
}

/* ------------------------------------------------------------- responsiveness */

/* The stall probe (bench/gui-stall.sh, MS_BENCH_GUI_STALL=N): a 10 ms timer
 * on the GTK main loop measures how late it fires, while an N-message blast
 * to smtp-sink runs from the window; and how often the progress moves. */
typedef struct {
  gint64  last;
  gint64  max_late, max_late_at, start;
  guint   ticks, late_16, late_50;
  gint64  first_update, last_update;
  guint   updates;
  guint   per_second[4096];
  GMainLoop *loop;
} StallProbe;

static gboolean
stall_tick (gpointer data)
{
  StallProbe *p = data;
  gint64 now = g_get_monotonic_time ();
  gint64 late = now - p->last - 10000;

  if (p->last > 0)
    {
      p->ticks++;
      if (late > p->max_late)
        {
          p->max_late = late;
          p->max_late_at = now - p->start;
        }
      p->late_16 += late > 16000;
      p->late_50 += late > 50000;
    }
  p->last = now;
  return G_SOURCE_CONTINUE;
}

static void
stall_update (StallProbe *p)
{
  gint64 now = g_get_monotonic_time ();

  if (p->first_update == 0)
    p->first_update = now;
  p->last_update = now;
  p->updates++;
  p->per_second[MIN ((guint64) (now - p->first_update) / G_USEC_PER_SEC, G_N_ELEMENTS (p->per_second) - 1)]++;
}

static void
stall_finished (MsBlastRunner *runner,
                gint64         batch,
                guint          sent,
                guint          failed,
                guint          uncertain,
                const char    *message,
                StallProbe    *p)
{
  g_main_loop_quit (p->loop);
}

static void
test_bench_stall (void)
{
  const char *count = g_getenv ("MS_BENCH_GUI_STALL");
  g_autoptr(MsTestSink) sink = NULL;
  g_autofree StallProbe *p = g_new0 (StallProbe, 1);
  MsBlastRunner *runner = ms_application_get_runner (app);
  MsBlastPage *page;
  guint n, timer, max_per_second = 0, seconds;
  gulong id1, id2;
  gint64 start, end;

  if (count == NULL || atoi (count) <= 0)
    {
      g_test_skip ("a benchmark: run bench/gui-stall.sh (MS_BENCH_GUI_STALL=20000)");
      return;
    }
  n = atoi (count);
  sink = ms_test_sink_startv ((const char * const[]) { NULL });
  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_sink_get_port (sink));
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-connections",
                                             g_getenv ("MS_BENCH_CONNECTIONS") ? g_getenv ("MS_BENCH_CONNECTIONS")
                                                                               : "4", NULL));
  page = compose (n, "News for {{name}}", "Dear {{name}},\n\nthe garden party is on Saturday.\n");
  gtk_window_set_default_size (GTK_WINDOW (ms_test_gui_get_window (app)), 900, 640);
  ms_test_gui_spin_for (500);

  p->loop = g_main_loop_new (NULL, FALSE);
  id1 = g_signal_connect_swapped (runner, "notify::text", G_CALLBACK (stall_update), p);
  id2 = g_signal_connect (runner, "finished", G_CALLBACK (stall_finished), p);
  timer = g_timeout_add (10, stall_tick, p);
  p->start = start = g_get_monotonic_time ();
  adw_message_dialog_response (press_send (page), "send");
  g_main_loop_run (p->loop);
  end = g_get_monotonic_time ();
  g_source_remove (timer);
  g_signal_handler_disconnect (runner, id1);
  g_signal_handler_disconnect (runner, id2);
  g_main_loop_unref (p->loop);

  seconds = (p->last_update - p->first_update) / G_USEC_PER_SEC;
  /* Whole seconds only: the last one is cut short. */
  for (guint i = 0; i < seconds && i < G_N_ELEMENTS (p->per_second); i++)
    max_per_second = MAX (max_per_second, p->per_second[i]);
  g_test_message ("stall: messages=%u connections=%s seconds=%.2f msgs_per_s=%.0f sink_count=%u", n,
                  g_getenv ("MS_BENCH_CONNECTIONS") ? g_getenv ("MS_BENCH_CONNECTIONS") : "4",
                  (end - start) / 1e6, n / ((end - start) / 1e6), ms_test_sink_get_count (sink));
  g_test_message ("stall: timer_ticks=%u longest_stall_ms=%.1f at_s=%.2f ticks_late_over_16ms=%u "
                  "ticks_late_over_50ms=%u", p->ticks, p->max_late / 1000.0, p->max_late_at / 1e6, p->late_16,
                  p->late_50);
  g_test_message ("stall: progress_updates=%u updates_per_s=%.1f max_updates_in_one_s=%u",
                  p->updates, p->updates / MAX ((p->last_update - p->first_update) / 1e6, 0.001), max_per_second);
  ms_test_gui_reset_account (get_account ());
}

/* ------------------------------------------------------------- window size */

static void
test_window_size (void)
{
  g_autoptr(GSettings) app_settings = g_settings_new (APP_ID);
  MsWindow *window = ms_window_new (GTK_APPLICATION (app), get_account (), ms_application_get_runner (app));

  gtk_window_set_default_size (GTK_WINDOW (window), 700, 500);
  gtk_window_present (GTK_WINDOW (window));
  ms_test_gui_spin_for (100);
  gtk_window_close (GTK_WINDOW (window));
  g_assert_cmpint (g_settings_get_int (app_settings, "window-width"), ==, 700);
  g_assert_cmpint (g_settings_get_int (app_settings, "window-height"), ==, 500);
  g_assert_false (g_settings_get_boolean (app_settings, "window-maximized"));
}

/* ------------------------------------------------------------- screenshots */

static void
screenshot (GtkWidget  *widget,
            const char *name)
{
  const char *dir = g_getenv ("MS_SCREENSHOT_DIR");
  g_autofree char *path = NULL;
  g_autofree char *xid = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  /* Let it draw, with spinners stopped in place. */
  ms_test_gui_spin_for (700);
  path = g_build_filename (dir, name, NULL);
#ifdef GDK_WINDOWING_X11
  /* The X window of the widget itself: nothing of the windows behind it. */
  xid = g_strdup_printf ("0x%lx", (unsigned long) gdk_x11_surface_get_xid (gtk_native_get_surface (GTK_NATIVE (widget))));
  g_spawn_sync (NULL, (char *[]) { "import", "-window", xid, path, NULL },
                NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error);
#else
  g_assert_not_reached ();
#endif
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_test_message ("wrote %s", path);
}

static void
test_screenshots (void)
{
  MsWindow *window;
  MsAccountWindow *settings;
  MsTestDialog *dialog;

#ifdef GDK_WINDOWING_X11
  if (!GDK_IS_X11_DISPLAY (gdk_display_get_default ()))
#endif
    {
      g_test_skip ("screenshots need an X11 display (Xvfb)");
      return;
    }
  if (g_getenv ("MS_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("set MS_SCREENSHOT_DIR to write screenshots (build-aux/dev screenshots)");
      return;
    }
  /* Every shot shows a settled state, not a row's title half way through
   * its animation. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);

  ms_test_gui_reset_account (get_account ());
  window = ms_test_gui_get_window (app);
  /* The schema's default size: what a newcomer sees. */
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
  if (g_getenv ("MS_SCREENSHOT_REVIEW") != NULL)
    screenshot (GTK_WIDGET (window), "review-setup.png");

  /* What a set-up account looks like, with values a reader recognises. */
  configure_account ("smtp.example.org", 587);
  g_assert_true (ms_account_set_from_string (get_account (), "email-address", "news@example.org", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "user-id", "news@example.org", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "sender-name", "Example Association", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-per-hour", "500", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-per-day", "2000", NULL));

  /* The E-blast page with a list and a message, then the blast under way. */
  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--hostname=smtp.example.org", NULL);
    MsBlastRunner *runner = ms_application_get_runner (app);
    Finished f = { 0 };
    MsBlastPage *page;
    gulong id;

    configure_account ("127.0.0.1", ms_test_server_get_port (server));
    g_assert_true (ms_account_set_from_string (get_account (), "email-address", "news@example.org", NULL));
    g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
    g_assert_true (ms_account_set_from_string (get_account (), "max-per-minute", "120", NULL));
    page = compose (1234, "Spring news for {{name}}",
                    "Dear {{name}},\n\nthe garden party is on Saturday 14 June, from 3 pm.\n\nSee you there!\n");
    screenshot (GTK_WIDGET (window), "blast-compose.png");
    adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
    screenshot (GTK_WIDGET (window), "blast-compose-dark.png");
    adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);
    id = g_signal_connect (runner, "finished", G_CALLBACK (on_finished), &f);
    adw_message_dialog_response (press_send (page), "send");
    ms_test_gui_wait_until (runner_sent_some, runner, 30000);
    ms_test_gui_spin_for (1500);
    /* The running blast, for a designer's review only. */
    if (g_getenv ("MS_SCREENSHOT_REVIEW") != NULL)
      {
        screenshot (GTK_WIDGET (window), "review-blast-progress.png");
        adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
        screenshot (GTK_WIDGET (window), "review-blast-progress-dark.png");
        adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);
        gtk_window_set_default_size (GTK_WINDOW (window), 360, 640);
        screenshot (GTK_WIDGET (window), "review-blast-narrow.png");
        gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
      }
    ms_blast_runner_cancel (runner);
    ms_test_gui_wait_until (finished_once, &f, 30000);
    g_signal_handler_disconnect (runner, id);
    g_free (f.message);
    ms_test_gui_reset_account (get_account ());
  }

  for (guint i = 0; i < 2; i++)
    {
      gboolean pass = i == 0;
      g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN",
                                                             "--user=news@example.org", "--password=right-password",
                                                             "--hostname=smtp.example.org", NULL);

      ms_test_gui_reset_account (get_account ());
      configure_account ("localhost", ms_test_server_get_port (server));
      g_assert_true (ms_account_set_from_string (get_account (), "email-address", "news@example.org", NULL));
      g_assert_true (ms_account_set_from_string (get_account (), "user-id", "news@example.org", NULL));
      g_assert_true (ms_account_set_from_string (get_account (), "trusted-certificate",
                                                 ms_test_server_get_cert_fingerprint (server), NULL));
      g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "localhost", "news@example.org",
                                           pass ? "right-password" : "wrong-password", NULL, NULL));
      dialog = run_test_dialog ();
      g_assert_cmpint (ms_probe_get_failed_step (ms_test_dialog_get_probe (dialog)), ==,
                       pass ? MS_PROBE_N_STEPS : MS_PROBE_STEP_AUTH);
      screenshot (GTK_WIDGET (dialog), pass ? "test-passed.png" : "test-failed.png");
      close_dialog (dialog);
      ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "localhost", "news@example.org", NULL, NULL);
    }

  /* Microsoft 365, limits set as its hints advise, the password in the keyring. */
  ms_test_gui_reset_account (get_account ());
  configure_account ("smtp.office365.com", 587);
  g_assert_true (ms_account_set_from_string (get_account (), "email-address", "office@example.org", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "user-id", "office@example.org", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "timeout", "30", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-per-minute", "30", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-per-day", "10000", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-connections", "3", NULL));
  g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "smtp.office365.com", "office@example.org",
                                       "app-password", NULL, NULL));
  settings = open_settings ();
  screenshot (GTK_WIDGET (settings), "account-settings.png");
  /* Focus scrolls the page down to authentication and the limits. */
  gtk_widget_grab_focus (SETTINGS_CHILD (settings, "connections_spin"));
  screenshot (GTK_WIDGET (settings), "account-settings-limits.png");
  if (g_getenv ("MS_SCREENSHOT_REVIEW") != NULL)
    {
      GtkWindow *overlay = GTK_WINDOW (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window)));

      /* For a designer's review only; not among the published screenshots. */
      close_settings (settings);
      g_settings_set_string (get_settings (), "smtp-server", "smtp.gmail.com");
      g_settings_set_int (get_settings (), "smtp-port", 25);
      settings = open_settings ();
      screenshot (GTK_WIDGET (settings), "review-gmail.png");
      close_settings (settings);
      settings = NULL;

      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-help-overlay", NULL));
      screenshot (GTK_WIDGET (overlay), "review-shortcuts.png");
      gtk_window_close (overlay);
    }
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "smtp.office365.com", "office@example.org", NULL, NULL);
  if (settings != NULL)
    close_settings (settings);
  ms_test_gui_reset_account (get_account ());
}

/* --------------------------------------------------------------------- help */

static GtkWidget *
find_widget (GtkWidget *widget,
             gboolean (*match) (GtkWidget *widget))
{
  if (match (widget))
    return widget;
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_widget (c, match);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_primary_menu_button (GtkWidget *widget)
{
  return GTK_IS_MENU_BUTTON (widget) && gtk_menu_button_get_primary (GTK_MENU_BUTTON (widget));
}

static gboolean
is_help_shortcut (GtkWidget *widget)
{
  g_autofree char *action = NULL;

  if (!GTK_IS_SHORTCUTS_SHORTCUT (widget))
    return FALSE;
  g_object_get (widget, "action-name", &action, NULL);
  return g_strcmp0 (action, "app.help") == 0;
}

static gboolean
menu_has_action (GMenuModel *model,
                 const char *action)
{
  for (int i = 0; i < g_menu_model_get_n_items (model); i++)
    {
      g_autofree char *name = NULL;
      g_autoptr(GMenuLinkIter) links = NULL;
      const char *link;
      GMenuModel *sub;

      if (g_menu_model_get_item_attribute (model, i, G_MENU_ATTRIBUTE_ACTION, "s", &name) &&
          g_strcmp0 (name, action) == 0)
        return TRUE;
      links = g_menu_model_iterate_item_links (model, i);
      while (g_menu_link_iter_get_next (links, &link, &sub))
        {
          gboolean found = menu_has_action (sub, action);

          g_object_unref (sub);
          if (found)
            return TRUE;
        }
    }
  return FALSE;
}

/* What a help: URI opens, through the desktop's handler for the scheme: a
 * stand-in for Yelp that writes the URI down. */
static char *
help_uri_file (void)
{
  return g_build_filename (g_getenv ("MS_TEST_TMPDIR"), "help-uri", NULL);
}

static gboolean
help_handler_known (gpointer data)
{
  g_autoptr(GAppInfo) info = g_app_info_get_default_for_uri_scheme ("help");

  return info != NULL && g_strcmp0 (g_app_info_get_id (info), "mailshot-test-help.desktop") == 0;
}

static void
install_help_handler (void)
{
  g_autofree char *apps = g_build_filename (g_get_user_data_dir (), "applications", NULL);
  g_autofree char *desktop = g_build_filename (apps, "mailshot-test-help.desktop", NULL);
  g_autofree char *mimeapps = g_build_filename (g_get_user_config_dir (), "mimeapps.list", NULL);
  g_autofree char *out = help_uri_file ();
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (apps, 0700), ==, 0);
  contents = g_strdup_printf ("[Desktop Entry]\nType=Application\nName=Help stand-in\n"
                              "Exec=sh -c 'printf %%s \"$1\" > \"$0.tmp\" && mv \"$0.tmp\" \"$0\"' %s %%u\n"
                              "MimeType=x-scheme-handler/help;\nNoDisplay=true\n", out);
  g_assert_true (g_file_set_contents (desktop, contents, -1, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (mimeapps,
                                      "[Default Applications]\nx-scheme-handler/help=mailshot-test-help.desktop\n",
                                      -1, &error));
  g_assert_no_error (error);
  /* GIO learns of new desktop files from a file monitor: until it has,
   * a launch finds no handler and the test would wait for nothing (seen
   * under load after the blast cases). */
  ms_test_gui_wait_until (help_handler_known, NULL, 10000);
}

static gboolean
help_uri_written (gpointer data)
{
  g_autofree char *out = help_uri_file ();

  return g_file_test (out, G_FILE_TEST_EXISTS);
}

static char *
opened_help_uri (void)
{
  g_autofree char *out = help_uri_file ();
  char *uri = NULL;

  ms_test_gui_wait_until (help_uri_written, NULL, 10000);
  g_assert_true (g_file_get_contents (out, &uri, NULL, NULL));
  g_unlink (out);
  return uri;
}

/* help:mailshot/PAGE is a page of help/C, and declares that id. */
static void
assert_help_page_exists (const char *uri)
{
  const char *page = uri + strlen ("help:mailshot/");
  g_autofree char *file = g_strconcat (page, ".page", NULL);
  g_autofree char *path = g_build_filename (g_getenv ("MS_TEST_SRCDIR"), "..", "help", "C", file, NULL);
  g_autofree char *contents = NULL;
  g_autofree char *id = g_strdup_printf ("id=\"%s\"", page);

  g_assert_true (g_str_has_prefix (uri, "help:mailshot/"));
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, id));
}

static void
test_help_action (void)
{
  MsWindow *window = ms_test_gui_get_window (app);
  GAction *action = g_action_map_lookup_action (G_ACTION_MAP (app), "help");
  g_auto(GStrv) accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.help");
  GtkWidget *menu_button = find_widget (GTK_WIDGET (window), is_primary_menu_button);
  GtkWidget *overlay = GTK_WIDGET (gtk_application_window_get_help_overlay (GTK_APPLICATION_WINDOW (window)));
  g_autofree char *uri = NULL;

  g_assert_nonnull (action);
  g_assert_true (g_action_get_enabled (action));
  g_assert_null (g_action_get_parameter_type (action));
  g_assert_true (g_strv_contains ((const char * const *) accels, "F1"));
  /* In the primary menu, and in the shortcuts window with its key. */
  g_assert_nonnull (menu_button);
  g_assert_true (menu_has_action (gtk_menu_button_get_menu_model (GTK_MENU_BUTTON (menu_button)), "app.help"));
  g_assert_nonnull (overlay);
  g_assert_nonnull (find_widget (overlay, is_help_shortcut));

  /* It opens the index, through whatever handles help: URIs. */
  install_help_handler ();
  g_action_activate (action, NULL);
  uri = opened_help_uri ();
  g_assert_cmpstr (uri, ==, "help:mailshot");
}

static gboolean
test_dialog_gone (gpointer data)
{
  return ms_window_get_test_dialog (data) == NULL;
}

/* The test dialog's advice links to the page about the failed step. */
static void
test_dialog_help_link (void)
{
  MsTestDialog *dialog;
  GtkLinkButton *link;

  {
    g_autoptr(MsTestServer) server = start_server_and_account ("wrong-password");

    dialog = run_test_dialog ();
    g_assert_cmpint (ms_probe_get_failed_step (ms_test_dialog_get_probe (dialog)), ==, MS_PROBE_STEP_AUTH);
    link = DIALOG_CHILD (dialog, "help_button");
    g_assert_true (gtk_widget_is_visible (GTK_WIDGET (link)));
    g_assert_cmpstr (gtk_link_button_get_uri (link), ==, "help:mailshot/test-auth");
    assert_help_page_exists (gtk_link_button_get_uri (link));

    /* Clicking it opens that page. */
    install_help_handler ();
    g_signal_emit_by_name (link, "clicked");
    {
      g_autofree char *uri = opened_help_uri ();

      g_assert_cmpstr (uri, ==, "help:mailshot/test-auth");
    }
    /* The launch holds the dialog (its parent) until it reports back. */
    gtk_window_destroy (GTK_WINDOW (dialog));
    ms_test_gui_wait_until (test_dialog_gone, ms_test_gui_get_window (app), 10000);
    ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);
  }

  /* Stopped before the first step, for want of a password: the account. */
  {
    g_autoptr(MsTestServer) server = start_server_and_account (NULL);

    dialog = run_test_dialog ();
    g_assert_null (ms_test_dialog_get_probe (dialog));
    link = DIALOG_CHILD (dialog, "help_button");
    g_assert_true (gtk_widget_is_visible (GTK_WIDGET (link)));
    g_assert_cmpstr (gtk_link_button_get_uri (link), ==, "help:mailshot/account-setup");
    assert_help_page_exists (gtk_link_button_get_uri (link));
    close_dialog (dialog);
  }
  ms_test_gui_reset_account (get_account ());
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  ms_core_init ();
  /* An accessibility backend that records, so that labels can be checked
   * (the env script turns the real one off). */
  g_setenv ("GTK_A11Y", "test", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  /* Screenshots in another language, to check that longer words fit:
   * MS_TEST_LOCALEDIR=<prefix>/share/locale LANGUAGE=de (the test cases
   * themselves expect English). */
  if (g_getenv ("MS_TEST_LOCALEDIR") != NULL && g_getenv ("MS_TEST_LOCALEDIR")[0] != '\0')
    {
      /* gtk_test_init() keeps the C locale, where gettext ignores LANGUAGE. */
      setlocale (LC_ALL, "");
      bindtextdomain (GETTEXT_PACKAGE, g_getenv ("MS_TEST_LOCALEDIR"));
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      textdomain (GETTEXT_PACKAGE);
    }
  adw_init ();

  ms_test_gui_start_notification_server ();
  app = ms_application_new ();
  /* One test process, no single-instance handover. */
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (app));

  g_test_add_func ("/mailshot/gui/templates", test_templates);
  g_test_add_func ("/mailshot/gui/settings-to-widgets", test_settings_to_widgets);
  g_test_add_func ("/mailshot/gui/cli-change-shows-live", test_cli_change_shows_live);
  g_test_add_func ("/mailshot/gui/widgets-to-settings", test_widgets_to_settings);
  g_test_add_func ("/mailshot/gui/validation", test_validation);
  g_test_add_func ("/mailshot/gui/provider-hints", test_provider_hints);
  g_test_add_func ("/mailshot/gui/password", test_password);
  g_test_add_func ("/mailshot/gui/test-dialog/passes", test_dialog_passes);
  g_test_add_func ("/mailshot/gui/test-dialog/wrong-password", test_dialog_wrong_password);
  g_test_add_func ("/mailshot/gui/test-dialog/rate-limited", test_dialog_rate_limited);
  g_test_add_func ("/mailshot/gui/test-dialog/no-answer", test_dialog_no_answer);
  g_test_add_func ("/mailshot/gui/test-dialog/wrong-port", test_dialog_wrong_port);
  g_test_add_func ("/mailshot/gui/test-dialog/no-password", test_dialog_no_password);
  g_test_add_func ("/mailshot/gui/test-dialog/cancel", test_dialog_cancel);
  g_test_add_func ("/mailshot/gui/blast/compose-and-send", test_blast_compose_and_send);
  g_test_add_func ("/mailshot/gui/blast/draft", test_blast_draft);
  g_test_add_func ("/mailshot/gui/blast/rate-limit", test_blast_rate_limit);
  g_test_add_func ("/mailshot/gui/blast/background", test_blast_background);
  g_test_add_func ("/mailshot/gui/blast/preview", test_blast_preview);
  g_test_add_func ("/mailshot/gui/blast/quit", test_blast_quit);
  g_test_add_func ("/mailshot/gui/blast/crash-resume", test_blast_crash_resume);
  g_test_add_func ("/mailshot/gui/blast/from-cli-live", test_blast_from_cli_live);
  g_test_add_func ("/mailshot/gui/window-size", test_window_size);
  g_test_add_func ("/mailshot/gui/help/action", test_help_action);
  g_test_add_func ("/mailshot/gui/help/test-dialog-link", test_dialog_help_link);
  g_test_add_func ("/mailshot/gui/bench/stall", test_bench_stall);
  g_test_add_func ("/mailshot/gui/screenshots", test_screenshots);

  status = g_test_run ();
  g_application_release (G_APPLICATION (app));
  g_clear_object (&app);
  return status;
}
