/* test-gui-oauth2.c: the settings window's OAuth2 sign-in rows against the local authorization server, under Xvfb
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#include <glib/gstdio.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-account-window.h"
#include "ms-application.h"
#include "ms-test-dialog.h"
#include "ms-test-gui-support.h"
#include "ms-test-support.h"
#include "ms-window.h"

#define CLIENT_ID "test-client"
#define USER      "sender@example.org"

static MsApplication *app;
/* Where the stand-in browser writes each address it is asked to open. */
static char *opened_path;

static MsAccount *
get_account (void)
{
  return ms_application_get_account (app);
}

/* The test CA, where main() pointed the app (the environment is only
 * changed before any thread starts). */
static MsTestAuthServer *
start_auth_server (void)
{
  MsTestAuthServer *auth = ms_test_auth_server_start ("--access-lifetime=3600", NULL);
  g_autofree char *ca = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (ms_test_auth_server_get_ca (auth), &ca, &length, NULL));
  g_assert_true (g_file_set_contents (g_getenv (MS_OAUTH2_TEST_CA_ENV), ca, length, NULL));
  return auth;
}

/* The harness SMTP server, checking bearer tokens against @auth. */
static MsTestServer *
start_smtp_server (MsTestAuthServer *auth)
{
  g_autofree char *tokens = ms_test_auth_server_path (auth, "tokens.json");
  g_autofree char *tokens_arg = g_strconcat ("--oauth2-tokens=", tokens, NULL);

  return ms_test_server_start ("--tls=starttls", "--auth=XOAUTH2", tokens_arg, "--user=" USER,
                               "--require-auth", NULL);
}

/* An OAuth2 account with the custom provider at @auth and no user ID: the
 * address is the user for XOAUTH2. */
static void
configure_account (MsTestAuthServer *auth,
                   MsTestServer     *smtp)
{
  g_autofree char *auth_url = ms_test_auth_server_url (auth, "/authorize");
  g_autofree char *token_url = ms_test_auth_server_url (auth, "/token");
  g_autofree char *port = g_strdup_printf ("%u", smtp != NULL ? ms_test_server_get_port (smtp) : 9);
  const char *settings[][2] = {
    { "smtp-server", "127.0.0.1" },
    { "smtp-port", port },
    { "email-address", USER },
    { "user-id", "" },
    { "timeout", "10" },
    { "needs-authentication", "true" },
    { "auth-method", "oauth2" },
    { "oauth2-provider", "custom" },
    { "oauth2-client-id", CLIENT_ID },
    { "oauth2-auth-endpoint", auth_url },
    { "oauth2-token-endpoint", token_url },
    { "trusted-certificate", smtp != NULL ? ms_test_server_get_cert_fingerprint (smtp) : "" },
  };

  ms_test_gui_reset_account (get_account ());
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      g_autoptr(GError) error = NULL;

      ms_account_set_from_string (get_account (), settings[i][0], settings[i][1], &error);
      g_assert_no_error (error);
    }
  g_unlink (opened_path);
}

static gboolean
weak_is_null (gpointer data)
{
  return *(gpointer *) data == NULL;
}

static MsAccountWindow *
open_settings (void)
{
  GtkWindow *window = ms_window_show_account_settings (ms_test_gui_get_window (app));

  g_assert_true (MS_IS_ACCOUNT_WINDOW (window));
  ms_test_gui_spin_for (50);
  return MS_ACCOUNT_WINDOW (window);
}

static void
destroy_settings (MsAccountWindow *win)
{
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  gtk_window_destroy (GTK_WINDOW (win));
  ms_test_gui_wait_until (weak_is_null, &win, 5000);
}

static GtkButton *
sign_in_button (MsAccountWindow *win)
{
  return ms_test_gui_child (win, MS_TYPE_ACCOUNT_WINDOW, "oauth2_sign_in_button");
}

static const char *
sign_in_title (MsAccountWindow *win)
{
  return adw_preferences_row_get_title (ADW_PREFERENCES_ROW (ms_account_window_get_row (win, "oauth2-sign-in")));
}

static gboolean
row_says_signed_in (gpointer win)
{
  return g_strcmp0 (sign_in_title (win), "Signed in as " USER " with 127.0.0.1") == 0;
}

/* No longer waiting for the browser. */
static gboolean
sign_in_settled (gpointer win)
{
  return g_strcmp0 (gtk_button_get_label (sign_in_button (win)), "_Cancel") != 0;
}

static gboolean
browser_was_opened (gpointer data)
{
  return g_file_test (opened_path, G_FILE_TEST_EXISTS);
}

/* Presses the row's button and returns the address the app gave the browser. */
static char *
press_sign_in (MsAccountWindow *win)
{
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (sign_in_button (win))));
  gtk_widget_activate (GTK_WIDGET (sign_in_button (win)));
  ms_test_gui_wait_until (browser_was_opened, NULL, 10000);
  ms_test_gui_spin_for (50);
  g_assert_true (g_file_get_contents (opened_path, &text, NULL, NULL));
  lines = g_strsplit (text, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);   /* one address, one line */
  g_assert_true (g_str_has_prefix (lines[0], "https://127.0.0.1:"));
  return g_strdup (lines[0]);
}

/* The browser: follows the redirect from a thread, as the app's loopback
 * listener answers on this thread's main loop. */
typedef struct {
  MsTestAuthServer *auth;
  char             *uri;
  long              status;
  GString          *page;
  gboolean          done;
} Browser;

static gpointer
browser_thread (gpointer data)
{
  Browser *browser = data;

  browser->status = ms_test_auth_server_follow (browser->auth, browser->uri, browser->page);
  g_atomic_int_set (&browser->done, TRUE);
  return NULL;
}

static gboolean
browser_done (gpointer data)
{
  return g_atomic_int_get (&((Browser *) data)->done);
}

static gboolean
dialog_finished (gpointer data)
{
  MsTestDialog *dialog = ms_window_get_test_dialog (data);

  return dialog != NULL && !ms_test_dialog_get_running (dialog);
}

static MsTestDialog *
run_test_dialog (void)
{
  MsWindow *window = ms_test_gui_get_window (app);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send-test", NULL));
  g_assert_nonnull (ms_window_get_test_dialog (window));
  ms_test_gui_wait_until (dialog_finished, window, 30000);
  ms_test_gui_spin_for (100);
  return ms_window_get_test_dialog (window);
}

static void
close_test_dialog (MsTestDialog *dialog)
{
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ms_test_gui_wait_until (weak_is_null, &dialog, 5000);
}

/* Sign In opens the browser at the server's page; once it comes back the row
 * says who is signed in; a test e-mail then signs in with XOAUTH2 as the
 * address (no user ID); revoked, the test says to sign in again and opens
 * the settings at that row. */
static void
test_sign_in_and_send (void)
{
  g_autoptr(MsTestAuthServer) auth = start_auth_server ();
  g_autoptr(MsTestServer) smtp = start_smtp_server (auth);
  Browser browser = { auth, NULL, 0, g_string_new (NULL), FALSE };
  MsAccountWindow *win;
  MsTestDialog *dialog;
  g_autoptr(GThread) thread = NULL;
  GtkWidget *auth_row;

  configure_account (auth, smtp);
  win = open_settings ();
  g_assert_true (gtk_widget_get_visible (ms_account_window_get_row (win, "oauth2-sign-in")));
  g_assert_false (gtk_widget_get_visible (ms_account_window_get_row (win, "password")));
  g_assert_cmpstr (sign_in_title (win), ==, "Sign in with OAuth2");

  browser.uri = press_sign_in (win);
  /* Waiting: the button cancels. */
  g_assert_cmpstr (gtk_button_get_label (sign_in_button (win)), ==, "_Cancel");
  thread = g_thread_new ("browser", browser_thread, &browser);
  ms_test_gui_wait_until (browser_done, &browser, 30000);
  g_thread_join (g_steal_pointer (&thread));
  g_assert_cmpint (browser.status, ==, 200);
  g_assert_nonnull (strstr (browser.page->str, "You can close this tab"));
  /* The code is then exchanged for the tokens. */
  ms_test_gui_wait_until (sign_in_settled, win, 30000);
  g_assert_cmpuint (ms_test_auth_server_log_count (auth, "authorize " USER), ==, 1);
  g_assert_cmpuint (ms_test_auth_server_log_count (auth, "token authorization_code ok"), ==, 1);

  /* The row says so, and the button signs in anew. */
  g_test_message ("row: %s", sign_in_title (win));
  g_assert_cmpstr (sign_in_title (win), ==, "Signed in as " USER " with 127.0.0.1");
  g_assert_true (gtk_widget_has_css_class (ms_account_window_get_row (win, "oauth2-sign-in"), "success"));
  g_assert_cmpstr (gtk_button_get_label (sign_in_button (win)), ==, "Sign In _Again");
  destroy_settings (win);

  /* Opened again, the window finds the sign-in kept in the keyring. */
  win = open_settings ();
  ms_test_gui_wait_until (row_says_signed_in, win, 10000);
  g_assert_cmpstr (gtk_button_get_label (sign_in_button (win)), ==, "Sign In _Again");
  destroy_settings (win);

  /* A test e-mail through the harness: XOAUTH2, the address as the user. */
  dialog = run_test_dialog ();
  g_test_message ("outcome: %s", ms_test_dialog_get_outcome (dialog));
  g_assert_true (ms_probe_get_state (ms_test_dialog_get_probe (dialog), MS_PROBE_STEP_AUTH) == MS_PROBE_STATE_PASSED);
  g_assert_cmpstr (ms_test_dialog_get_outcome (dialog), ==, "The test e-mail was sent");
  g_assert_true (ms_test_server_log_contains (smtp, "auth XOAUTH2 " USER " ok"));
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 1);
  auth_row = ms_test_dialog_get_step_row (dialog, MS_PROBE_STEP_AUTH);
  g_test_message ("Authenticate: %s", adw_action_row_get_subtitle (ADW_ACTION_ROW (auth_row)));
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (ADW_ACTION_ROW (auth_row)), "XOAUTH2"));
  close_test_dialog (dialog);

  /* Revoked, and the access token expired: "sign in again", nothing sent,
   * and Open Account Settings goes to the sign-in row. */
  ms_test_auth_server_admin (auth, "revoke");
  ms_test_auth_server_admin (auth, "expire");
  dialog = run_test_dialog ();
  g_test_message ("outcome: %s (key %s)", ms_test_dialog_get_outcome (dialog),
                  ms_test_dialog_get_settings_key (dialog));
  g_assert_nonnull (strstr (ms_test_dialog_get_outcome (dialog), "ign in again"));
  g_assert_cmpstr (ms_test_dialog_get_settings_key (dialog), ==, "oauth2-sign-in");
  {
    AdwPreferencesRow *advice = ms_test_gui_child (dialog, MS_TYPE_TEST_DIALOG, "advice_row");

    g_test_message ("advice: %s", adw_preferences_row_get_title (advice));
    g_assert_nonnull (strstr (adw_preferences_row_get_title (advice), "sign in again"));
  }
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 1);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.open-settings", NULL));
  ms_test_gui_spin_for (200);
  win = MS_ACCOUNT_WINDOW (ms_window_show_account_settings (ms_test_gui_get_window (app)));
  g_assert_true (gtk_widget_has_focus (GTK_WIDGET (sign_in_button (win))));
  destroy_settings (win);
  if (ms_window_get_test_dialog (ms_test_gui_get_window (app)) != NULL)
    close_test_dialog (ms_window_get_test_dialog (ms_test_gui_get_window (app)));

  g_free (browser.uri);
  g_string_free (browser.page, TRUE);
  ms_test_gui_reset_account (get_account ());
}

/* Cancel while the browser has not come back: the row is as before, the
 * loopback listener is gone, and no error is shown. Closing the window
 * while it waits ends the wait too, and the window goes. */
static char *
redirect_of (const char *uri)
{
  g_autoptr(GUri) parsed = g_uri_parse (uri, G_URI_FLAGS_ENCODED_QUERY, NULL);
  g_autoptr(GHashTable) params = NULL;

  g_assert_nonnull (parsed);
  params = g_uri_parse_params (g_uri_get_query (parsed), -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
  g_assert_nonnull (g_hash_table_lookup (params, "redirect_uri"));
  return g_strdup (g_hash_table_lookup (params, "redirect_uri"));
}

static void
test_cancel (void)
{
  g_autoptr(MsTestAuthServer) auth = start_auth_server ();
  MsAccountWindow *win;
  g_autofree char *uri = NULL;
  g_autofree char *redirect = NULL;

  configure_account (auth, NULL);
  win = open_settings ();
  uri = press_sign_in (win);
  redirect = redirect_of (uri);
  g_assert_cmpstr (gtk_button_get_label (sign_in_button (win)), ==, "_Cancel");
  g_assert_cmpstr (sign_in_title (win), !=, "Sign in with OAuth2");

  gtk_widget_activate (GTK_WIDGET (sign_in_button (win)));
  /* The click comes at the end of the button's activation. */
  ms_test_gui_wait_until (sign_in_settled, win, 10000);
  ms_test_gui_spin_for (100);
  g_assert_cmpstr (gtk_button_get_label (sign_in_button (win)), ==, "_Sign In");
  g_assert_cmpstr (sign_in_title (win), ==, "Sign in with OAuth2");
  g_assert_false (gtk_widget_has_css_class (ms_account_window_get_row (win, "oauth2-sign-in"), "error"));
  g_assert_cmpint (ms_test_http_get (redirect, NULL), ==, -1);
  g_assert_cmpuint (ms_test_auth_server_log_count (auth, "token authorization_code ok"), ==, 0);

  /* It can start again, and closing the window while it waits ends the
   * wait: the window goes (nothing holds it), and so does the listener. */
  g_unlink (opened_path);
  g_free (uri);
  g_free (redirect);
  uri = press_sign_in (win);
  redirect = redirect_of (uri);
  g_assert_cmpstr (gtk_button_get_label (sign_in_button (win)), ==, "_Cancel");
  destroy_settings (win);
  ms_test_gui_spin_for (100);
  g_assert_cmpint (ms_test_http_get (redirect, NULL), ==, -1);
  ms_test_gui_reset_account (get_account ());
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  g_autofree char *ca_path = NULL;
  g_autofree char *browser = NULL;
  g_autofree char *script = NULL;
  int status;

  ms_core_init ();
  /* Set before any thread: the test CA's file (rewritten per server), and
   * the stand-in browser, which only notes the address it was given. */
  ca_path = ms_test_tmp_path ("oauth2-test-ca.pem");
  g_setenv (MS_OAUTH2_TEST_CA_ENV, ca_path, TRUE);
  opened_path = ms_test_tmp_path ("browser-opened");
  browser = ms_test_tmp_path ("browser.sh");
  script = g_strdup_printf ("#!/bin/sh\nprintf '%%s\\n' \"$1\" >> '%s.part' && mv '%s.part' '%s'\n",
                            opened_path, opened_path, opened_path);
  g_assert_true (g_file_set_contents (browser, script, -1, NULL));
  g_assert_cmpint (g_chmod (browser, 0755), ==, 0);
  g_setenv ("MAILSHOT_TEST_BROWSER", browser, TRUE);

  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  app = ms_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (app));

  g_test_add_func ("/mailshot/gui-oauth2/sign-in-and-send", test_sign_in_and_send);
  g_test_add_func ("/mailshot/gui-oauth2/cancel", test_cancel);

  status = g_test_run ();
  g_application_release (G_APPLICATION (app));
  g_clear_object (&app);
  g_free (opened_path);
  return status;
}
