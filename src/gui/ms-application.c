/* ms-application.c: the Mailshot application: actions, the current account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-application.h"
#include "ms-window.h"

struct _MsApplication
{
  AdwApplication  parent_instance;

  GSettings      *settings;
  MsAccount      *account;
  GError         *account_error;
  MsBlastRunner  *runner;
  gboolean        held;
  char           *last_notification;
  AdwMessageDialog *quit_dialog;    /* weak */
  gboolean        quit_when_stopped;
};

G_DEFINE_FINAL_TYPE (MsApplication, ms_application, ADW_TYPE_APPLICATION)

MsApplication *
ms_application_new (void)
{
  return g_object_new (MS_TYPE_APPLICATION,
                       "application-id", APP_ID,
                       "flags", G_APPLICATION_DEFAULT_FLAGS,
                       "resource-base-path", "/io/github/mailshot/Mailshot",
                       NULL);
}

MsAccount *
ms_application_get_account (MsApplication *self)
{
  g_return_val_if_fail (MS_IS_APPLICATION (self), NULL);

  return self->account;
}

GSettings *
ms_application_get_settings (MsApplication *self)
{
  g_return_val_if_fail (MS_IS_APPLICATION (self), NULL);

  return self->settings;
}

MsBlastRunner *
ms_application_get_runner (MsApplication *self)
{
  g_return_val_if_fail (MS_IS_APPLICATION (self), NULL);

  return self->runner;
}

const char *
ms_application_get_last_notification (MsApplication *self)
{
  g_return_val_if_fail (MS_IS_APPLICATION (self), NULL);

  return self->last_notification;
}

/* A blast goes on with every window closed: the app stays while it runs. */
static void
on_runner_active (MsApplication *self)
{
  gboolean active = ms_blast_runner_get_active (self->runner);

  if (active && !self->held)
    g_application_hold (G_APPLICATION (self));
  else if (!active && self->held)
    g_application_release (G_APPLICATION (self));
  self->held = active;
}

static void
on_runner_finished (MsApplication *self,
                    gint64         batch,
                    guint          sent,
                    guint          failed,
                    guint          uncertain,
                    const char    *message)
{
  g_autoptr(GNotification) notification = NULL;
  g_autoptr(GString) body = g_string_new (NULL);
  const char *title = message == NULL ? _("E-blast sent") : _("E-blast stopped");

  if (message != NULL)
    g_string_append_printf (body, "%s\n", message);
  g_string_append_printf (body, ngettext ("%'u sent", "%'u sent", sent), sent);
  if (failed > 0)
    g_string_append_printf (body, ngettext (", %'u failed", ", %'u failed", failed), failed);
  if (uncertain > 0)
    g_string_append_printf (body, ngettext (", %'u uncertain", ", %'u uncertain", uncertain), uncertain);

  notification = g_notification_new (title);
  g_notification_set_body (notification, body->str);
  g_notification_set_default_action_and_target_value (notification, "app.show-batch", g_variant_new_int64 (batch));
  g_notification_add_button_with_target_value (notification, _("Show Batch"), "app.show-batch",
                                               g_variant_new_int64 (batch));
  g_application_send_notification (G_APPLICATION (self), "blast-finished", notification);
  g_free (self->last_notification);
  self->last_notification = g_strdup_printf ("%s\n%s", title, body->str);
}

static void
close_windows (MsApplication *self)
{
  GList *windows = gtk_application_get_windows (GTK_APPLICATION (self));

  /* Closing the windows (rather than g_application_quit) lets each one save
   * its size and cancel what it runs. */
  for (GList *l = windows; l != NULL; )
    {
      GtkWindow *window = l->data;

      l = l->next;
      gtk_window_close (window);
    }
}

static gboolean
close_windows_idle (gpointer user_data)
{
  close_windows (user_data);
  return G_SOURCE_REMOVE;
}

/* Pause and quit, cancel and quit: once the runner has stopped. */
static void
on_runner_stopped (MsApplication *self)
{
  if (!self->quit_when_stopped ||
      (ms_blast_runner_get_active (self->runner) && !ms_blast_runner_get_paused (self->runner)))
    return;
  self->quit_when_stopped = FALSE;
  g_idle_add_full (G_PRIORITY_DEFAULT, close_windows_idle, g_object_ref (self), g_object_unref);
  g_application_quit (G_APPLICATION (self));
}

static void
on_quit_response (AdwMessageDialog *dialog,
                  const char       *response,
                  MsApplication    *self)
{
  /* Not from inside the dialog's own response: its parent is one of the
   * windows that close. */
  if (g_str_equal (response, "background"))
    /* The runner holds the app: the windows go, the blast goes on, and
     * a notification says when it is done. */
    g_idle_add_full (G_PRIORITY_DEFAULT, close_windows_idle, g_object_ref (self), g_object_unref);
  else if (g_str_equal (response, "pause"))
    {
      self->quit_when_stopped = TRUE;
      ms_blast_runner_pause (self->runner);
      on_runner_stopped (self);
    }
  else if (g_str_equal (response, "cancel-blast"))
    {
      self->quit_when_stopped = TRUE;
      ms_blast_runner_cancel (self->runner);
      on_runner_stopped (self);
    }
}

static void
ms_application_quit_action (GSimpleAction *action,
                            GVariant      *parameter,
                            gpointer       user_data)
{
  MsApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWidget *dialog;

  if (self->runner == NULL || !ms_blast_runner_get_active (self->runner))
    {
      close_windows (self);
      return;
    }
  if (self->quit_dialog != NULL)
    {
      gtk_window_present (GTK_WINDOW (self->quit_dialog));
      return;
    }
  /* A blast is under way: the user decides what becomes of it. */
  dialog = adw_message_dialog_new (parent, _("Quit While an E-blast Is Being Sent?"),
                                   _("It can go on in the background: Mailshot tells you when it is done. Or pause "
                                     "it and resume it later, or cancel what is not sent yet."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "stay", _("_Don’t Quit"),
                                    "background", _("_Keep Sending in the Background"),
                                    "pause", _("_Pause and Quit"),
                                    "cancel-blast", _("_Cancel E-blast and Quit"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "background", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "cancel-blast",
                                              ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "background");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "stay");
  if (parent == NULL)
    gtk_window_set_application (GTK_WINDOW (dialog), GTK_APPLICATION (self));
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_quit_response), self, 0);
  self->quit_dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->quit_dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

AdwMessageDialog *
ms_application_get_quit_dialog (MsApplication *self)
{
  g_return_val_if_fail (MS_IS_APPLICATION (self), NULL);

  return self->quit_dialog;
}

static void
ms_application_about_action (GSimpleAction *action,
                             GVariant      *parameter,
                             gpointer       user_data)
{
  MsApplication *self = user_data;
  GtkWindow *parent = gtk_application_get_active_window (GTK_APPLICATION (self));
  static const char *developers[] = { "The Mailshot developers", NULL };
  AdwAboutWindow *about;

  about = ADW_ABOUT_WINDOW (adw_about_window_new ());
  adw_about_window_set_application_name (about, _("Mailshot"));
  adw_about_window_set_application_icon (about, APP_ID);
  adw_about_window_set_developer_name (about, _("The Mailshot developers"));
  adw_about_window_set_developers (about, developers);
  adw_about_window_set_version (about, PACKAGE_VERSION);
  adw_about_window_set_comments (about,
                                 _("Send your organisation's mail through its own SMTP account: "
                                   "set the account up, test it step by step, and send e-blasts."));
  adw_about_window_set_website (about, "https://github.com/mailshot/mailshot");
  adw_about_window_set_issue_url (about, "https://github.com/mailshot/mailshot/issues");
  adw_about_window_set_license_type (about, GTK_LICENSE_GPL_3_0);
  adw_about_window_set_copyright (about, "© 2026 The Mailshot developers");
  /* Translators: put your names here, one per line, to be credited in the About window. */
  adw_about_window_set_translator_credits (about, _("translator-credits"));
  if (parent != NULL)
    gtk_window_set_transient_for (GTK_WINDOW (about), parent);
  gtk_window_set_modal (GTK_WINDOW (about), TRUE);
  gtk_window_present (GTK_WINDOW (about));
}

/* Yelp, or whatever handles help: URIs (the portal under Flatpak), shows the
 * index of help/; the test dialog links to its pages itself. */
static void
ms_application_help_action (GSimpleAction *action,
                            GVariant      *parameter,
                            gpointer       user_data)
{
  MsApplication *self = user_data;

  gtk_show_uri (gtk_application_get_active_window (GTK_APPLICATION (self)), "help:mailshot", GDK_CURRENT_TIME);
}

static void
ms_application_preferences_action (GSimpleAction *action,
                                   GVariant      *parameter,
                                   gpointer       user_data)
{
  MsApplication *self = user_data;
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (!MS_IS_WINDOW (window))
    {
      g_application_activate (G_APPLICATION (self));
      window = gtk_application_get_active_window (GTK_APPLICATION (self));
    }
  if (MS_IS_WINDOW (window))
    ms_window_show_account_settings (MS_WINDOW (window));
}

static void
ms_application_show_batch_action (GSimpleAction *action,
                                  GVariant      *parameter,
                                  gpointer       user_data)
{
  MsApplication *self = user_data;
  GtkWindow *window;

  g_application_activate (G_APPLICATION (self));
  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (MS_IS_WINDOW (window))
    ms_window_show_batch (MS_WINDOW (window), g_variant_get_int64 (parameter));
}

static void
on_resume_batch_done (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  g_autoptr(MsApplication) self = user_data;
  g_autoptr(GError) error = NULL;
  GtkWindow *window;

  if (ms_blast_runner_resume_batch_finish (MS_BLAST_RUNNER (source), result, &error))
    return;
  /* Said where the user asked: the window's toast (a page cannot be reached from here). */
  window = gtk_application_get_active_window (GTK_APPLICATION (self));
  if (window != NULL)
    gtk_widget_activate_action (GTK_WIDGET (window), "win.show-toast", "s", error->message);
  else
    g_warning ("Resuming a batch: %s", error->message);
}

/* The Batches and Pending pages resume a batch here: the runner is the
 * application's, so that the blast outlives the window. */
static void
ms_application_resume_batch_action (GSimpleAction *action,
                                    GVariant      *parameter,
                                    gpointer       user_data)
{
  MsApplication *self = user_data;
  gint64 batch = g_variant_get_int64 (parameter);

  if (self->runner == NULL || batch <= 0)
    return;
  ms_blast_runner_resume_batch_async (self->runner, batch, FALSE, NULL, on_resume_batch_done, g_object_ref (self));
}

static const GActionEntry app_actions[] = {
  { .name = "resume-batch", .activate = ms_application_resume_batch_action, .parameter_type = "x" },
  { .name = "show-batch", .activate = ms_application_show_batch_action, .parameter_type = "x" },
  { .name = "quit", .activate = ms_application_quit_action },
  { .name = "about", .activate = ms_application_about_action },
  { .name = "help", .activate = ms_application_help_action },
  { .name = "preferences", .activate = ms_application_preferences_action },
};

static void
ms_application_startup (GApplication *app)
{
  MsApplication *self = MS_APPLICATION (app);
  g_autofree char *account_name = NULL;
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *preferences_accels[] = { "<Control>comma", NULL };
  static const char *send_test_accels[] = { "<Control>t", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };
  static const char *help_accels[] = { "F1", NULL };

  G_APPLICATION_CLASS (ms_application_parent_class)->startup (app);

  self->settings = g_settings_new (MS_APP_SCHEMA_ID);
  account_name = g_settings_get_string (self->settings, "current-account");
  self->account = ms_account_new (account_name[0] != '\0' ? account_name : NULL, &self->account_error);

  if (self->account != NULL)
    {
      self->runner = ms_blast_runner_new (self->account);
      g_signal_connect_object (self->runner, "notify::active", G_CALLBACK (on_runner_active), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->runner, "finished", G_CALLBACK (on_runner_finished), self, G_CONNECT_SWAPPED);
      g_signal_connect_object (self->runner, "notify::paused", G_CALLBACK (on_runner_stopped), self,
                               G_CONNECT_SWAPPED);
      g_signal_connect_object (self->runner, "notify::active", G_CALLBACK (on_runner_stopped), self,
                               G_CONNECT_SWAPPED);
    }

  g_action_map_add_action_entries (G_ACTION_MAP (self), app_actions, G_N_ELEMENTS (app_actions), self);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.preferences", preferences_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "win.send-test", send_test_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "window.close", close_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (self), "app.help", help_accels);
}

static void
ms_application_activate (GApplication *app)
{
  MsApplication *self = MS_APPLICATION (app);
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));
  GtkWidget *dialog;

  if (window != NULL)
    {
      gtk_window_present (window);
      return;
    }

  if (self->account == NULL)
    {
      /* Without the account schema there is nothing to show; say how to fix it. */
      dialog = adw_message_dialog_new (NULL, _("Mailshot Cannot Start"), self->account_error->message);
      adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
      adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
      gtk_window_set_application (GTK_WINDOW (dialog), GTK_APPLICATION (self));
      gtk_window_present (GTK_WINDOW (dialog));
      return;
    }

  window = GTK_WINDOW (ms_window_new (GTK_APPLICATION (self), self->account, self->runner));
  gtk_window_present (window);
}

static void
ms_application_dispose (GObject *object)
{
  MsApplication *self = MS_APPLICATION (object);

  if (self->quit_dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->quit_dialog), (gpointer *) &self->quit_dialog);
      self->quit_dialog = NULL;
    }
  g_clear_object (&self->runner);
  g_clear_object (&self->account);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (ms_application_parent_class)->dispose (object);
}

static void
ms_application_finalize (GObject *object)
{
  MsApplication *self = MS_APPLICATION (object);

  g_clear_error (&self->account_error);
  g_clear_pointer (&self->last_notification, g_free);

  G_OBJECT_CLASS (ms_application_parent_class)->finalize (object);
}

static void
ms_application_class_init (MsApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->dispose = ms_application_dispose;
  object_class->finalize = ms_application_finalize;
  app_class->startup = ms_application_startup;
  app_class->activate = ms_application_activate;
}

static void
ms_application_init (MsApplication *self)
{
}
