/* ms-test-dialog.c: the staged test e-mail, step by step, with the transcript
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-test-dialog.h"

struct _MsTestDialog
{
  AdwWindow      parent_instance;

  MsAccount     *account;
  MsProbe       *probe;
  GCancellable  *cancellable;
  char          *outcome;
  char          *settings_key;
  char          *fingerprint;
  gboolean       running;

  AdwActionRow  *step_rows[MS_PROBE_N_STEPS];
  GtkStack      *step_icons[MS_PROBE_N_STEPS];

  GtkLabel      *heading_label;
  GtkLabel      *summary_label;
  GtkListBox    *steps_list;
  AdwPreferencesGroup *failure_group;
  AdwActionRow  *advice_row;
  GtkLinkButton *help_button;
  AdwPreferencesGroup *certificate_group;
  AdwActionRow  *fingerprint_row;
  GtkButton     *settings_button;
  GtkButton     *cancel_button;
  GtkButton     *retry_button;
  GtkExpander   *transcript_expander;
  GtkTextView   *transcript_view;
};

G_DEFINE_FINAL_TYPE (MsTestDialog, ms_test_dialog, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_ACCOUNT,
  PROP_RUNNING,
  N_PROPS
};

enum {
  OPEN_SETTINGS,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

MsTestDialog *
ms_test_dialog_new (GtkWindow *parent,
                    MsAccount *account)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);

  return g_object_new (MS_TYPE_TEST_DIALOG,
                       "transient-for", parent,
                       "account", account,
                       NULL);
}

gboolean
ms_test_dialog_get_running (MsTestDialog *self)
{
  g_return_val_if_fail (MS_IS_TEST_DIALOG (self), FALSE);

  return self->running;
}

MsProbe *
ms_test_dialog_get_probe (MsTestDialog *self)
{
  g_return_val_if_fail (MS_IS_TEST_DIALOG (self), NULL);

  return self->probe;
}

const char *
ms_test_dialog_get_outcome (MsTestDialog *self)
{
  g_return_val_if_fail (MS_IS_TEST_DIALOG (self), NULL);

  return self->outcome;
}

const char *
ms_test_dialog_get_settings_key (MsTestDialog *self)
{
  g_return_val_if_fail (MS_IS_TEST_DIALOG (self), NULL);

  return self->settings_key;
}

GtkWidget *
ms_test_dialog_get_step_row (MsTestDialog *self,
                             MsProbeStep   step)
{
  g_return_val_if_fail (MS_IS_TEST_DIALOG (self), NULL);
  g_return_val_if_fail (step < MS_PROBE_N_STEPS, NULL);

  return GTK_WIDGET (self->step_rows[step]);
}

static void
set_running (MsTestDialog *self,
             gboolean      running)
{
  if (self->running == running)
    return;

  self->running = running;
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), running);
  gtk_widget_set_visible (GTK_WIDGET (self->retry_button), !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.cancel", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.retry", !running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.copy-transcript", !running);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RUNNING]);
}

static void
set_heading (MsTestDialog *self,
             const char   *heading,
             const char   *summary)
{
  g_free (self->outcome);
  self->outcome = g_strdup (heading);
  gtk_label_set_text (self->heading_label, heading);
  gtk_label_set_text (self->summary_label, summary != NULL ? summary : "");
  gtk_widget_set_visible (GTK_WIDGET (self->summary_label), summary != NULL && summary[0] != '\0');
}

static const char *
state_to_icon_page (MsProbeState state)
{
  switch (state)
    {
    case MS_PROBE_STATE_RUNNING: return "running";
    case MS_PROBE_STATE_PASSED:  return "passed";
    case MS_PROBE_STATE_FAILED:  return "failed";
    case MS_PROBE_STATE_SKIPPED: return "skipped";
    case MS_PROBE_STATE_PENDING:
    default:                     return "pending";
    }
}

static const char *
state_to_label (MsProbeState state)
{
  switch (state)
    {
    case MS_PROBE_STATE_RUNNING: return _("In progress");
    case MS_PROBE_STATE_PASSED:  return _("Passed");
    case MS_PROBE_STATE_FAILED:  return _("Failed");
    case MS_PROBE_STATE_SKIPPED: return _("Skipped");
    case MS_PROBE_STATE_PENDING:
    default:                     return _("Waiting");
    }
}

static void
show_step (MsTestDialog *self,
           MsProbeStep   step,
           MsProbeState  state,
           const char   *detail)
{
  GtkWidget *row = GTK_WIDGET (self->step_rows[step]);

  /* A step appears when it starts: the list grows as the test goes. */
  gtk_widget_set_visible (row, state != MS_PROBE_STATE_PENDING);
  gtk_stack_set_visible_child_name (self->step_icons[step], state_to_icon_page (state));
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), detail != NULL ? detail : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (row),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, state_to_label (state),
                                  -1);
}

static void
on_step_changed (MsProbe      *probe,
                 MsProbeStep   step,
                 MsProbeState  state,
                 const char   *detail,
                 MsTestDialog *self)
{
  if (probe != self->probe || step >= MS_PROBE_N_STEPS)
    return;
  /* A failed step's detail is the advice, which gets its own place below;
   * the row says what happened once the probe is done. */
  show_step (self, step, state, state == MS_PROBE_STATE_FAILED ? NULL : detail);
}

static void
reset_view (MsTestDialog *self)
{
  for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
    show_step (self, i, MS_PROBE_STATE_PENDING, NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->failure_group), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->certificate_group), FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->settings_button), FALSE);
  g_clear_pointer (&self->fingerprint, g_free);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.trust-certificate", FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->transcript_expander), FALSE);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->transcript_view), "", -1);
}

static void
show_transcript (MsTestDialog *self)
{
  MsTranscript *transcript = self->probe != NULL ? ms_probe_get_transcript (self->probe) : NULL;
  g_autofree char *text = NULL;

  /* Read only once the worker is done with it. */
  if (transcript == NULL || ms_transcript_get_n_lines (transcript) == 0)
    return;
  text = ms_transcript_to_string (transcript);
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->transcript_view), text, -1);
  gtk_widget_set_visible (GTK_WIDGET (self->transcript_expander), TRUE);
}

/* The heading names the step; the advice goes below it, with a way to the
 * settings it usually points at. */
/* The setting the advice names first (“User ID”), as mailshot-cli test
 * points at its key: “Open Account Settings” lands there. */
static char *
find_settings_key (const char *advice,
                   const char *fallback)
{
  g_auto(GStrv) keys = ms_account_list_keys ();
  const char *found = fallback;
  const char *first = NULL;

  for (guint i = 0; advice != NULL && keys[i] != NULL; i++)
    {
      g_autofree char *quoted = g_strdup_printf ("“%s”", ms_account_get_key_label (keys[i]));
      const char *at = strstr (advice, quoted);

      if (at != NULL && (first == NULL || at < first))
        {
          first = at;
          found = keys[i];
        }
    }
  return g_strdup (found);
}

static void
show_problem (MsTestDialog *self,
              const char   *heading,
              const char   *advice,
              const char   *fallback_key)
{
  const MsReply *reply = self->probe != NULL ? ms_probe_get_reply (self->probe) : NULL;
  g_autofree char *help_uri = NULL;

  g_free (self->settings_key);
  /* The sign-in's own message names no field but the row it asks for. */
  self->settings_key = g_str_equal (fallback_key, "oauth2-sign-in") ? g_strdup (fallback_key)
                                                                   : find_settings_key (advice, fallback_key);
  set_heading (self, heading, NULL);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->advice_row), advice != NULL ? advice : "");
  /* The help page about this step, or about the account when the test
   * stopped before its first step (no probe then). */
  help_uri = g_strconcat ("help:mailshot/",
                          ms_probe_step_get_help_page (self->probe != NULL ? ms_probe_get_failed_step (self->probe)
                                                                           : MS_PROBE_N_STEPS,
                                                       reply != NULL ? reply->klass : MS_REPLY_CLASS_NONE),
                          NULL);
  gtk_link_button_set_uri (self->help_button, help_uri);
  gtk_widget_set_visible (GTK_WIDGET (self->failure_group), advice != NULL && advice[0] != '\0');
  gtk_widget_set_visible (GTK_WIDGET (self->settings_button), TRUE);
}

static void
finish (MsTestDialog *self,
        gboolean      failed)
{
  set_running (self, FALSE);
  /* Sending again is the next step after a failure, not after a success. */
  if (failed)
    gtk_widget_add_css_class (GTK_WIDGET (self->retry_button), "suggested-action");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self->retry_button), "suggested-action");
  /* Cancel, which had the focus, is gone: keep the keyboard somewhere useful. */
  if (gtk_widget_get_visible (GTK_WIDGET (self->settings_button)))
    gtk_widget_grab_focus (GTK_WIDGET (self->settings_button));
  else
    gtk_widget_grab_focus (GTK_WIDGET (self->retry_button));
}

static void
probe_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  MsProbe *probe = MS_PROBE (source);
  g_autoptr(MsTestDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsProbeFailure) failure = NULL;
  g_autofree char *heading = NULL;
  gboolean ok;

  ok = ms_probe_run_finish (probe, result, &error);
  /* What the server showed (STARTTLS offered, a rate limit, or that it takes
   * mail again) is worth keeping for the next session, as `mailshot-cli test`
   * keeps it, even when the window has gone in the meantime. */
  if (self->account != NULL)
    ms_account_note_test (self->account, probe);

  if (probe != self->probe || self->cancellable == NULL)
    return;

  if (ok)
    {
      g_autofree char *address = g_settings_get_string (ms_account_get_settings (self->account), "email-address");
      g_autofree char *summary = g_strdup_printf (_("The server accepted it for %s. Check that it arrives."), address);

      set_heading (self, _("The test e-mail was sent"), summary);
      show_transcript (self);
      finish (self, FALSE);
      return;
    }

  show_transcript (self);
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
        if (ms_probe_get_state (probe, i) == MS_PROBE_STATE_RUNNING)
          show_step (self, i, MS_PROBE_STATE_SKIPPED, _("Cancelled"));
      set_heading (self, _("The test was cancelled"), NULL);
      finish (self, FALSE);
      return;
    }

  /* What happened at the failed step, as mailshot-cli test says it: the
   * server's reply, or the low-level reason when there was none. */
  failure = ms_probe_get_failure (probe, error);
  if (failure->step_label != NULL)
    {
      /* Translators: %s is a step of the test, e.g. "Authenticate". */
      heading = g_strdup_printf (_("The test failed at “%s”"), failure->step_label);
      show_step (self, failure->step, MS_PROBE_STATE_FAILED,
                 failure->reply != NULL ? failure->reply : failure->detail);
    }
  else
    heading = g_strdup (_("The test failed"));

  if (g_error_matches (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED))
    /* The OAuth2 sign-in has expired or was revoked: the reply's advice
     * about a user ID and password does not apply, the sign-in row does. */
    show_problem (self, _("Sign in again"), error->message, "oauth2-sign-in");
  else
    show_problem (self, heading, failure->advice,
                  failure->step == MS_PROBE_STEP_AUTH ? "password" : "smtp-server");

  /* Thunderbird's security exception: the certificate the server showed,
   * to compare and, if it is the right one, to trust. */
  if (ms_probe_get_reply (probe) != NULL &&
      ms_probe_get_reply (probe)->transport == MS_TRANSPORT_TLS_CERTIFICATE &&
      ms_probe_get_peer_fingerprint (probe) != NULL)
    {
      self->fingerprint = g_strdup (ms_probe_get_peer_fingerprint (probe));
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->fingerprint_row), self->fingerprint);
      gtk_widget_set_visible (GTK_WIDGET (self->certificate_group), TRUE);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.trust-certificate", TRUE);
    }
  finish (self, TRUE);
}

static void
run_probe (MsTestDialog       *self,
           const MsSmtpConfig *config)
{
  g_clear_object (&self->probe);
  self->probe = ms_probe_new (config, NULL);
  g_signal_connect_object (self->probe, "step-changed", G_CALLBACK (on_step_changed), self, 0);
  ms_probe_run_async (self->probe, self->cancellable, probe_done, g_object_ref (self));
}

static void
config_loaded (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(MsTestDialog) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsSmtpConfig) config = NULL;

  config = ms_account_load_config_finish (MS_ACCOUNT (source), result, &error);
  if (self->cancellable == NULL)
    return;

  if (config == NULL)
    {
      gboolean cancelled = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

      if (cancelled)
        set_heading (self, _("The test was cancelled"), NULL);
      else if (g_error_matches (error, MS_ERROR, MS_ERROR_NO_PASSWORD))
        show_problem (self, _("No password is stored for this account"),
                      _("Enter the password in the account settings, then send the test again."), "password");
      else if (g_error_matches (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED))
        /* Not a keyring problem: the provider wants the user back. */
        show_problem (self, _("Sign in again"), error->message, "oauth2-sign-in");
      else if (g_error_matches (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED))
        show_problem (self, _("The test failed"), error->message, "smtp-server");
      else
        show_problem (self, _("The password could not be read from the keyring"),
                      error != NULL ? error->message : NULL, "password");
      finish (self, !cancelled);
      return;
    }

  run_probe (self, config);
}

void
ms_test_dialog_start (MsTestDialog *self)
{
  GSettings *settings;
  g_autofree char *address = NULL;
  g_autofree char *server = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *summary = NULL;

  g_return_if_fail (MS_IS_TEST_DIALOG (self));

  if (self->running)
    return;

  settings = ms_account_get_settings (self->account);
  address = g_settings_get_string (settings, "email-address");
  server = g_settings_get_string (settings, "smtp-server");

  g_clear_object (&self->probe);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  reset_view (self);

  /* Translators: %s is the e-mail address the test is sent to. */
  heading = g_strdup_printf (_("Sending a test e-mail to %s"), address);
  /* Translators: %s is the server, %d its port. */
  summary = g_strdup_printf (_("Through %s, port %d"), server, g_settings_get_int (settings, "smtp-port"));
  set_heading (self, heading, summary);
  set_running (self, TRUE);

  ms_account_load_config_async (self->account, self->cancellable, config_loaded, g_object_ref (self));
}

void
ms_test_dialog_cancel (MsTestDialog *self)
{
  g_return_if_fail (MS_IS_TEST_DIALOG (self));

  if (self->running)
    g_cancellable_cancel (self->cancellable);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  ms_test_dialog_cancel (MS_TEST_DIALOG (widget));
}

static void
retry_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  ms_test_dialog_start (MS_TEST_DIALOG (widget));
}

static void
escape_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsTestDialog *self = MS_TEST_DIALOG (widget);

  if (self->running)
    ms_test_dialog_cancel (self);
  else
    gtk_window_close (GTK_WINDOW (self));
}

static void
copy_transcript_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  MsTestDialog *self = MS_TEST_DIALOG (widget);
  GtkTextBuffer *buffer = gtk_text_view_get_buffer (self->transcript_view);
  GtkTextIter start, end;
  g_autofree char *text = NULL;

  gtk_text_buffer_get_bounds (buffer, &start, &end);
  text = gtk_text_buffer_get_text (buffer, &start, &end, FALSE);
  gdk_clipboard_set_text (gtk_widget_get_clipboard (widget), text);
}

static void
on_trust_response (AdwMessageDialog *dialog,
                   const char       *response,
                   MsTestDialog     *self)
{
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (response, "trust") || self->fingerprint == NULL || self->running)
    return;
  if (!ms_account_set_from_string (self->account, "trusted-certificate", self->fingerprint, &error))
    {
      show_problem (self, _("The certificate could not be trusted"), error->message, "trusted-certificate");
      return;
    }
  /* As Thunderbird does after a security exception: try again at once. */
  ms_test_dialog_start (self);
}

static void
trust_certificate_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  MsTestDialog *self = MS_TEST_DIALOG (widget);
  g_autofree char *server = NULL;
  g_autofree char *body = NULL;
  GtkWidget *dialog;

  if (self->fingerprint == NULL)
    return;

  server = g_settings_get_string (ms_account_get_settings (self->account), "smtp-server");
  /* Translators: %s is the SMTP server, then the certificate's SHA-256 fingerprint. */
  body = g_strdup_printf (_("Mailshot will accept this certificate from %s from now on, although no certificate "
                            "authority vouches for it. Do this only if its fingerprint matches the one your provider "
                            "or administrator gave you:\n\n%s"),
                          server, self->fingerprint);
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Trust This Certificate?"), body);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "trust", _("_Trust and Test Again"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "trust", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_trust_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
quit_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  GApplication *app = g_application_get_default ();

  /* Not one of the application's windows: Ctrl+Q is passed on by hand.
   * Gone first, and no longer pointing at the main window, which the key
   * event holding this dialog may outlive no more. */
  gtk_window_set_transient_for (GTK_WINDOW (widget), NULL);
  gtk_window_destroy (GTK_WINDOW (widget));
  if (app != NULL)
    g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
}

static void
open_settings_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  g_signal_emit (widget, signals[OPEN_SETTINGS], 0);
}

static GtkWidget *
make_step_icons (void)
{
  GtkWidget *stack = gtk_stack_new ();
  GtkWidget *spinner = gtk_spinner_new ();
  GtkWidget *image;

  gtk_widget_set_valign (stack, GTK_ALIGN_CENTER);
  gtk_widget_set_size_request (stack, 16, 16);
  gtk_spinner_set_spinning (GTK_SPINNER (spinner), TRUE);
  gtk_stack_add_named (GTK_STACK (stack), spinner, "running");

  image = gtk_image_new_from_icon_name ("content-loading-symbolic");
  gtk_widget_add_css_class (image, "dim-label");
  gtk_stack_add_named (GTK_STACK (stack), image, "pending");

  image = gtk_image_new_from_icon_name ("emblem-ok-symbolic");
  gtk_widget_add_css_class (image, "success");
  gtk_stack_add_named (GTK_STACK (stack), image, "passed");

  image = gtk_image_new_from_icon_name ("process-stop-symbolic");
  gtk_widget_add_css_class (image, "error");
  gtk_stack_add_named (GTK_STACK (stack), image, "failed");

  image = gtk_image_new_from_icon_name ("action-unavailable-symbolic");
  gtk_widget_add_css_class (image, "dim-label");
  gtk_stack_add_named (GTK_STACK (stack), image, "skipped");

  return stack;
}

static void
ms_test_dialog_get_property (GObject    *object,
                             guint       prop_id,
                             GValue     *value,
                             GParamSpec *pspec)
{
  MsTestDialog *self = MS_TEST_DIALOG (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      g_value_set_object (value, self->account);
      break;
    case PROP_RUNNING:
      g_value_set_boolean (value, self->running);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_test_dialog_set_property (GObject      *object,
                             guint         prop_id,
                             const GValue *value,
                             GParamSpec   *pspec)
{
  MsTestDialog *self = MS_TEST_DIALOG (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      g_set_object (&self->account, g_value_get_object (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_test_dialog_dispose (GObject *object)
{
  MsTestDialog *self = MS_TEST_DIALOG (object);

  /* The callbacks hold a reference; a NULL cancellable tells them the
   * window is gone. */
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_TEST_DIALOG);
  g_clear_object (&self->probe);

  G_OBJECT_CLASS (ms_test_dialog_parent_class)->dispose (object);
}

static void
ms_test_dialog_finalize (GObject *object)
{
  MsTestDialog *self = MS_TEST_DIALOG (object);

  /* Kept until here: a probe that ends after the window has gone still
   * notes what it learnt on the account. */
  g_clear_object (&self->account);
  g_clear_pointer (&self->outcome, g_free);
  g_clear_pointer (&self->settings_key, g_free);
  g_clear_pointer (&self->fingerprint, g_free);

  G_OBJECT_CLASS (ms_test_dialog_parent_class)->finalize (object);
}

static void
ms_test_dialog_class_init (MsTestDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = ms_test_dialog_get_property;
  object_class->set_property = ms_test_dialog_set_property;
  object_class->dispose = ms_test_dialog_dispose;
  object_class->finalize = ms_test_dialog_finalize;

  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL,
                         MS_TYPE_ACCOUNT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_RUNNING] =
    g_param_spec_boolean ("running", NULL, NULL,
                          FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MsTestDialog::open-settings:
   *
   * The user asked to change the account (e.g. to enter the password).
   */
  signals[OPEN_SETTINGS] =
    g_signal_new ("open-settings",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-test-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, heading_label);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, summary_label);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, steps_list);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, failure_group);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, advice_row);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, help_button);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, certificate_group);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, fingerprint_row);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, settings_button);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, retry_button);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, transcript_expander);
  gtk_widget_class_bind_template_child (widget_class, MsTestDialog, transcript_view);

  gtk_widget_class_install_action (widget_class, "test.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "test.retry", NULL, retry_action);
  gtk_widget_class_install_action (widget_class, "test.escape", NULL, escape_action);
  gtk_widget_class_install_action (widget_class, "test.copy-transcript", NULL, copy_transcript_action);
  gtk_widget_class_install_action (widget_class, "test.open-settings", NULL, open_settings_action);
  gtk_widget_class_install_action (widget_class, "test.trust-certificate", NULL, trust_certificate_action);
  gtk_widget_class_install_action (widget_class, "test.quit", NULL, quit_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "test.escape", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_c, GDK_CONTROL_MASK | GDK_SHIFT_MASK,
                                       "test.copy-transcript", NULL);
  /* Not one of the application's windows: the shortcuts window's keys, here too. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_q, GDK_CONTROL_MASK, "test.quit", NULL);
}

/* GTK 4.8 names a button with a mnemonic twice ("_Send Again Send Again")
 * and an expander not at all ("GtkExpander"): one clean name each. */
static void
fix_accessible_names (GtkWidget *widget)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      if (GTK_IS_BUTTON (c) && gtk_button_get_use_underline (GTK_BUTTON (c)))
        gtk_accessible_reset_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL);
      else if (GTK_IS_EXPANDER (c))
        {
          g_autoptr(GString) label = g_string_new (gtk_expander_get_label (GTK_EXPANDER (c)));

          g_string_replace (label, "_", "", 1);
          gtk_accessible_update_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL, label->str, -1);
          /* Its child is in the tree only while it is open. */
          fix_accessible_names (gtk_expander_get_child (GTK_EXPANDER (c)));
        }
      fix_accessible_names (c);
    }
}

static void
ms_test_dialog_init (MsTestDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));

  for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *icons = make_step_icons ();

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), ms_probe_step_get_label (i));
      adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), icons);
      gtk_widget_set_visible (row, FALSE);
      gtk_list_box_append (self->steps_list, row);
      self->step_rows[i] = ADW_ACTION_ROW (row);
      self->step_icons[i] = GTK_STACK (icons);
    }
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.copy-transcript", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.retry", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "test.trust-certificate", FALSE);
  fix_accessible_names (GTK_WIDGET (self));
}
