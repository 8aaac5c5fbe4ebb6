/* ms-window.c: the main window: E-blast, Batches and Pending, the running blast, the account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-a11y.h"
#include "ms-account-window.h"
#include "ms-batches-page.h"
#include "ms-blast-page.h"
#include "ms-pending-page.h"
#include "ms-setup-assistant.h"
#include "ms-window.h"

struct _MsWindow
{
  AdwApplicationWindow  parent_instance;

  MsAccount            *account;
  MsBlastRunner        *runner;
  GSettings            *app_settings;
  MsBlastPage          *blast_page;
  MsBatchesPage        *batches_page;
  MsPendingPage        *pending_page_widget;
  MsJournal            *badge_journal;    /* for reading the badge's count */
  gint64                badge_stamp;
  guint                 badge_poll_id;
  AdwMessageDialog     *cancel_dialog;    /* weak */
  GtkWindow            *account_window;   /* weak */
  MsTestDialog         *test_dialog;      /* weak */

  AdwToastOverlay      *toast_overlay;
  GtkStack             *stack;
  AdwViewStack         *view_stack;
  AdwViewSwitcherTitle *switcher_title;
  AdwViewSwitcherBar   *switcher_bar;
  AdwViewStackPage     *pending_page;
  AdwBin               *blast_bin;
  AdwBin               *batches_bin;
  AdwBin               *pending_bin;
  GtkRevealer          *progress_revealer;
  GtkLabel             *progress_label;
  GtkProgressBar       *progress_bar;
  GtkLabel             *detail_label;
  GtkButton            *pause_button;
  GtkButton            *resume_button;
  GtkButton            *cancel_button;
  GtkPopover           *account_popover;
  GtkLabel             *account_title;
  GtkLabel             *account_description;
  AdwActionRow         *server_row;
  AdwActionRow         *security_row;
  AdwActionRow         *auth_row;
  AdwActionRow         *limits_row;
  GtkRevealer          *resume_revealer;
  GtkLabel             *resume_title;
  GtkLabel             *resume_label;
  GtkCheckButton       *resend_check;
  GtkRevealer          *limit_revealer;
  GtkLabel             *limit_label;
  GtkRevealer          *test_revealer;
  GtkImage             *test_icon;
  GtkLabel             *test_label;

  MsJournal            *journal;          /* for reading: what other processes do */
  GFileMonitor         *journal_monitor;
  guint                 journal_refresh_id;
  gint64                unfinished;       /* the batch offered for resuming, 0 = none */
  GArray               *dismissed;        /* gint64: batches the user said "not now" to */
  gint64                external;         /* a batch another process sends now, 0 = none */
  MsBatchInfo          *external_info;
  gint64                limit_until;      /* the wait the banner shows, its reply cached */
  char                 *limit_reply;
  guint                 limit_tick_id;
};

G_DEFINE_FINAL_TYPE (MsWindow, ms_window, ADW_TYPE_APPLICATION_WINDOW)

static void ms_window_setup (MsWindow *self, MsAccount *account, MsBlastRunner *runner);
static void update_limit (MsWindow *self);
static void on_test_running (MsWindow *self, GParamSpec *pspec, MsTestDialog *dialog);

MsWindow *
ms_window_new (GtkApplication *application,
               MsAccount      *account,
               MsBlastRunner  *runner)
{
  MsWindow *self;

  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (runner), NULL);

  self = g_object_new (MS_TYPE_WINDOW, "application", application, NULL);
  ms_window_setup (self, account, runner);
  return self;
}

MsBlastPage *
ms_window_get_blast_page (MsWindow *self)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), NULL);

  return self->blast_page;
}

AdwMessageDialog *
ms_window_get_cancel_dialog (MsWindow *self)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), NULL);

  return self->cancel_dialog;
}

void
ms_window_show_page (MsWindow   *self,
                     const char *name)
{
  g_return_if_fail (MS_IS_WINDOW (self));

  if (ms_account_is_configured (self->account))
    adw_view_stack_set_visible_child_name (self->view_stack, name);
}

gboolean
ms_window_show_batch (MsWindow *self,
                      gint64    batch)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), FALSE);

  ms_window_show_page (self, "batches");
  return ms_batches_page_open_batch (self->batches_page, batch);
}

MsAccount *
ms_window_get_account (MsWindow *self)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), NULL);

  return self->account;
}

MsTestDialog *
ms_window_get_test_dialog (MsWindow *self)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), NULL);

  return self->test_dialog;
}

void
ms_window_add_toast (MsWindow *self,
                     AdwToast *toast)
{
  g_return_if_fail (MS_IS_WINDOW (self));
  g_return_if_fail (ADW_IS_TOAST (toast));

  ms_a11y_add_toast (self->toast_overlay, toast);
}

GtkWindow *
ms_window_show_account_settings (MsWindow *self)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), NULL);

  if (self->account_window == NULL)
    {
      self->account_window = GTK_WINDOW (ms_account_window_new (GTK_WINDOW (self), self->account));
      g_object_add_weak_pointer (G_OBJECT (self->account_window), (gpointer *) &self->account_window);
    }
  gtk_window_present (self->account_window);
  return self->account_window;
}


static void
ms_window_update (MsWindow *self)
{
  GSettings *settings = ms_account_get_settings (self->account);
  g_autofree char *address = g_settings_get_string (settings, "email-address");
  g_autofree char *name = g_settings_get_string (settings, "sender-name");
  g_autofree char *server = g_settings_get_string (settings, "smtp-server");
  g_autofree char *user = g_settings_get_string (settings, "user-id");
  g_autofree char *title = NULL;
  g_autofree char *server_text = NULL;
  g_autofree char *auth_text = NULL;
  g_autoptr(GPtrArray) limits = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *limits_text = NULL;
  gboolean configured = ms_account_is_configured (self->account);
  int port = g_settings_get_int (settings, "smtp-port");
  int limit;

  gtk_stack_set_visible_child_name (self->stack, configured ? "main" : "setup");
  /* The switcher only where there is something to switch. */
  gtk_widget_set_visible (GTK_WIDGET (self->switcher_title), configured);
  gtk_widget_set_visible (GTK_WIDGET (self->switcher_bar), configured);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.send-test", configured);
  if (!configured)
    return;

  gtk_label_set_text (self->account_title, name[0] != '\0' ? name : address);
  if (name[0] != '\0')
    {
      /* Translators: %s is the sender's e-mail address. */
      title = g_strdup_printf (_("Messages go out from %s through this account."), address);
      gtk_label_set_text (self->account_description, title);
    }
  else
    gtk_label_set_text (self->account_description, _("Messages go out through this account."));

  server_text = g_strdup_printf ("%s:%d", server, port);
  adw_action_row_set_subtitle (self->server_row, server_text);

  if (g_settings_get_boolean (settings, "use-smtps"))
    adw_action_row_set_subtitle (self->security_row, _("Encrypted from the first byte (SMTPS)"));
  else if (g_settings_get_boolean (settings, "allow-plaintext-password"))
    adw_action_row_set_subtitle (self->security_row,
                                 _("STARTTLS when offered; the password may be sent unencrypted"));
  else
    adw_action_row_set_subtitle (self->security_row, _("STARTTLS when offered"));

  if (!g_settings_get_boolean (settings, "needs-authentication"))
    auth_text = g_strdup (_("None"));
  else if (user[0] != '\0')
    /* Translators: %s is the login name of the SMTP account. */
    auth_text = g_strdup_printf (_("As %s"), user);
  else
    auth_text = g_strdup (_("Required, but no user ID is set"));
  adw_action_row_set_subtitle (self->auth_row, auth_text);

  /* Whole phrases, so that each language can put the number where it goes. */
  if ((limit = g_settings_get_int (settings, "max-per-minute")) > 0)
    g_ptr_array_add (limits, g_strdup_printf (ngettext ("%d message a minute", "%d messages a minute", limit), limit));
  if ((limit = g_settings_get_int (settings, "max-per-hour")) > 0)
    g_ptr_array_add (limits, g_strdup_printf (ngettext ("%d message an hour", "%d messages an hour", limit), limit));
  if ((limit = g_settings_get_int (settings, "max-per-day")) > 0)
    g_ptr_array_add (limits, g_strdup_printf (ngettext ("%d message a day", "%d messages a day", limit), limit));
  g_ptr_array_add (limits, NULL);
  if (limits->len > 1)
    limits_text = g_strjoinv (", ", (char **) limits->pdata);
  else
    limits_text = g_strdup (_("No limit"));
  adw_action_row_set_subtitle (self->limits_row, limits_text);
}

static void
on_account_changed (GSettings  *settings,
                    const char *key,
                    MsWindow   *self)
{
  ms_window_update (self);
  if (key == NULL || g_str_equal (key, "rate-limited-until"))
    update_limit (self);
}

static void
on_test_dialog_open_settings (MsTestDialog *dialog,
                              MsWindow     *self)
{
  GtkWindow *settings = ms_window_show_account_settings (self);
  const char *key = ms_test_dialog_get_settings_key (dialog);

  /* At the row the advice names (a missing password is the usual one). */
  ms_account_window_focus_row (MS_ACCOUNT_WINDOW (settings), key != NULL ? key : "password");
}

/* A summary row opens the settings at the field it sums up. */
static void
on_summary_row_activated (MsWindow     *self,
                          AdwActionRow *row)
{
  GSettings *settings = ms_account_get_settings (self->account);
  GtkWindow *window;
  const char *key = "smtp-server";

  if (row == self->security_row)
    key = "use-smtps";
  else if (row == self->auth_row)
    key = g_settings_get_boolean (settings, "needs-authentication") ? "user-id" : "needs-authentication";
  else if (row == self->limits_row)
    key = "max-per-minute";

  gtk_popover_popdown (self->account_popover);
  window = ms_window_show_account_settings (self);
  ms_account_window_focus_row (MS_ACCOUNT_WINDOW (window), key);
}

static void
show_toast_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  ms_window_add_toast (MS_WINDOW (widget), adw_toast_new (g_variant_get_string (parameter, NULL)));
}

static void
send_test_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  MsWindow *self = MS_WINDOW (widget);

  if (!ms_account_is_configured (self->account))
    return;

  if (self->test_dialog == NULL)
    {
      self->test_dialog = ms_test_dialog_new (GTK_WINDOW (self), self->account);
      g_object_add_weak_pointer (G_OBJECT (self->test_dialog), (gpointer *) &self->test_dialog);
      g_signal_connect_object (self->test_dialog, "open-settings",
                               G_CALLBACK (on_test_dialog_open_settings), self, 0);
      g_signal_connect_object (self->test_dialog, "notify::running",
                               G_CALLBACK (on_test_running), self, G_CONNECT_SWAPPED);
    }
  gtk_window_present (GTK_WINDOW (self->test_dialog));
  if (!ms_test_dialog_get_running (self->test_dialog))
    ms_test_dialog_start (self->test_dialog);
}

/* The first-run assistant, from the setup page. */
static void
setup_account_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  MsWindow *self = MS_WINDOW (widget);
  MsSetupAssistant *assistant = ms_setup_assistant_new (GTK_WINDOW (self), self->account);

  gtk_window_present (GTK_WINDOW (assistant));
}

/* ---------------------------------------------------------- the running blast */

/* A batch sent by another process (mailshot-cli), as the journal shows it. */
static void
show_external (MsWindow *self)
{
  MsBatchInfo *info = self->external_info;
  guint left = info->counts[MS_STATE_QUEUED] + info->counts[MS_STATE_DEFERRED] + info->counts[MS_STATE_SENDING];
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, info->id);
  g_autofree char *detail = NULL;

  g_string_printf (text, ngettext ("%'u of %'u sent", "%'u of %'u sent", info->total),
                   info->counts[MS_STATE_SENT], info->total);
  if (info->counts[MS_STATE_FAILED] > 0)
    g_string_append_printf (text, ngettext (" · %'u failed", " · %'u failed", info->counts[MS_STATE_FAILED]),
                            info->counts[MS_STATE_FAILED]);
  if (info->counts[MS_STATE_DEFERRED] > 0)
    g_string_append_printf (text, ngettext (" · %'u waiting to retry", " · %'u waiting to retry",
                                            info->counts[MS_STATE_DEFERRED]), info->counts[MS_STATE_DEFERRED]);
  gtk_label_set_text (self->progress_label, text->str);
  gtk_progress_bar_set_fraction (self->progress_bar,
                                 info->total > 0 ? (double) (info->total - MIN (left, info->total)) / info->total : 0);
  /* Translators: %s is a batch number. */
  detail = g_strdup_printf (_("Batch %s is being sent by another Mailshot program, such as mailshot-cli"), id);
  gtk_label_set_text (self->detail_label, detail);
  gtk_widget_set_visible (GTK_WIDGET (self->detail_label), TRUE);
}

static void
update_progress (MsWindow *self)
{
  gboolean active = ms_blast_runner_get_active (self->runner);
  gboolean paused = ms_blast_runner_get_paused (self->runner);

  gtk_revealer_set_reveal_child (self->progress_revealer, active || self->external_info != NULL);
  if (!active && self->external_info != NULL)
    show_external (self);
  else
    {
      gtk_label_set_text (self->progress_label, ms_blast_runner_get_text (self->runner));
      gtk_progress_bar_set_fraction (self->progress_bar, ms_blast_runner_get_fraction (self->runner));
      gtk_label_set_text (self->detail_label, ms_blast_runner_get_detail (self->runner));
      gtk_widget_set_visible (GTK_WIDGET (self->detail_label), ms_blast_runner_get_detail (self->runner)[0] != '\0');
    }
  /* The buttons act on this app's own blast only. */
  gtk_widget_set_visible (GTK_WIDGET (self->pause_button), active && !paused);
  gtk_widget_set_visible (GTK_WIDGET (self->resume_button), active && paused);
  gtk_widget_set_visible (GTK_WIDGET (self->cancel_button), active);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.pause-blast", active && !paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.resume-blast", active && paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.cancel-blast", active);
  if (!active && self->cancel_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->cancel_dialog));
}

static void
on_runner_notify (MsWindow   *self,
                  GParamSpec *pspec)
{
  update_progress (self);
  if (pspec == NULL || g_str_equal (pspec->name, "waiting-until") || g_str_equal (pspec->name, "waiting-reply"))
    update_limit (self);
}

/* ---------------------------------------------------------- "Rate Limited Until" */

static char *
format_left (gint64 seconds)
{
  if (seconds >= 3600)
    return g_strdup_printf (_("%d h %02d min"), (int) (seconds / 3600), (int) (seconds / 60 % 60));
  if (seconds >= 60)
    return g_strdup_printf (_("%d min %02d s"), (int) (seconds / 60), (int) (seconds % 60));
  return g_strdup_printf (ngettext ("%d second", "%d seconds", (int) seconds), (int) seconds);
}

static gboolean
limit_tick (gpointer user_data)
{
  MsWindow *self = user_data;

  update_limit (self);
  return self->limit_tick_id != 0 ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

/* An active wait, from this app's blast, the account (a test, another
 * process), with its end time and the server's words, counting down. */
static void
update_limit (MsWindow *self)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 until = MAX (ms_account_get_rate_limited_until (self->account),
                      ms_blast_runner_get_waiting_until (self->runner));
  const char *reply = ms_blast_runner_get_waiting_reply (self->runner);
  g_autoptr(GDateTime) end = NULL;
  g_autofree char *clock = NULL;
  g_autofree char *left = NULL;
  g_autoptr(GString) text = g_string_new (NULL);

  if (until <= now)
    {
      gtk_revealer_set_reveal_child (self->limit_revealer, FALSE);
      if (self->limit_tick_id != 0)
        {
          guint id = self->limit_tick_id;

          self->limit_tick_id = 0;
          g_source_remove (id);
        }
      return;
    }
  if (reply == NULL)
    {
      /* Another process, or before a restart: the journal kept the reply. */
      if (self->limit_until != until && self->journal != NULL)
        {
          g_free (self->limit_reply);
          self->limit_reply = ms_journal_dup_rate_limit_reply (self->journal, ms_account_get_name (self->account),
                                                               now - 2 * 86400);
        }
      reply = self->limit_reply;
    }
  self->limit_until = until;

  end = g_date_time_new_from_unix_local (until);
  clock = g_date_time_format (end, "%H:%M");
  left = format_left (until - now);
  /* Translators: %s is a time of day (14:10), then how long is left. */
  g_string_printf (text, _("Rate limited until %s (%s left): the server asked to wait; sending resumes by itself."),
                   clock, left);
  if (reply != NULL && reply[0] != '\0')
    {
      g_string_append_c (text, '\n');
      /* Translators: %s is the server's reply, e.g. "451 4.7.0 Too many messages". */
      g_string_append_printf (text, _("Server reply: %s"), reply);
    }
  gtk_label_set_text (self->limit_label, text->str);
  gtk_revealer_set_reveal_child (self->limit_revealer, TRUE);
  if (self->limit_tick_id == 0)
    self->limit_tick_id = g_timeout_add_seconds (1, limit_tick, self);
}

/* ---------------------------------------------------------- after a crash or a restart */

static gboolean
was_dismissed (MsWindow *self,
               gint64    batch)
{
  for (guint i = 0; i < self->dismissed->len; i++)
    if (g_array_index (self->dismissed, gint64, i) == batch)
      return TRUE;
  return FALSE;
}

/* The newest batch the journal says may be carried on with, offered in
 * the window (not a dialog at startup), its uncertain rows explained. */
static void
check_unfinished (MsWindow *self)
{
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(GError) error = NULL;
  MsBatchInfo *info = NULL;
  g_autofree char *id = NULL;
  g_autofree char *title = NULL;
  g_autoptr(GString) text = g_string_new (NULL);
  guint left, uncertain;

  self->unfinished = 0;
  if (self->journal != NULL && !ms_blast_runner_get_active (self->runner) &&
      ms_account_is_configured (self->account))
    batches = ms_journal_list_unfinished (self->journal, &error);
  if (error != NULL)
    g_debug ("Unfinished batches: %s", error->message);
  for (guint i = 0; batches != NULL && i < batches->len && info == NULL; i++)
    if (!was_dismissed (self, ((MsBatchInfo *) g_ptr_array_index (batches, i))->id))
      info = g_ptr_array_index (batches, i);
  if (info == NULL)
    {
      gtk_revealer_set_reveal_child (self->resume_revealer, FALSE);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.resume-unfinished", FALSE);
      return;
    }

  self->unfinished = info->id;
  left = info->counts[MS_STATE_QUEUED] + info->counts[MS_STATE_DEFERRED] + info->counts[MS_STATE_SENDING];
  uncertain = info->counts[MS_STATE_UNCERTAIN];
  id = g_strdup_printf ("%" G_GINT64_FORMAT, info->id);
  /* Translators: %s is a batch number, then its subject. */
  title = uncertain == 0 && info->status == MS_BATCH_PAUSED
          ? g_strdup_printf (_("Batch %s, “%s”, is paused"), id, info->subject != NULL ? info->subject : "")
          : g_strdup_printf (_("Batch %s, “%s”, stopped before it was finished"), id,
                             info->subject != NULL ? info->subject : "");
  gtk_label_set_text (self->resume_title, title);
  if (info->import_unfinished)
    /* The counts are of the rows read in so far: say that more follow. */
    g_string_printf (text, ngettext ("It stopped while its list was being read in: %'u message of the part read is "
                                     "still to send, and resuming reads the rest of the list and sends it too.",
                                     "It stopped while its list was being read in: %'u messages of the part read are "
                                     "still to send, and resuming reads the rest of the list and sends it too.",
                                     left), left);
  else
    g_string_printf (text, ngettext ("%'u of %'u messages is still to send.", "%'u of %'u messages are still to send.",
                                     left), left, info->total);
  if (uncertain > 0)
    {
      g_string_append_c (text, ' ');
      g_string_append_printf (text, ngettext ("%'u message is uncertain: Mailshot stopped while it was being sent, "
                                              "so it may or may not have arrived. Resend it, or leave it to check "
                                              "on the Pending page.",
                                              "%'u messages are uncertain: Mailshot stopped while they were being "
                                              "sent, so they may or may not have arrived. Resend them, or leave them "
                                              "to check on the Pending page.", uncertain), uncertain);
    }
  gtk_label_set_text (self->resume_label, text->str);
  /* Never resent unless the user says so. */
  gtk_check_button_set_active (self->resend_check, FALSE);
  gtk_widget_set_visible (GTK_WIDGET (self->resend_check), uncertain > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.resume-unfinished", TRUE);
  gtk_revealer_set_reveal_child (self->resume_revealer, TRUE);
}

static void
resumed (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(MsWindow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (ms_blast_runner_resume_batch_finish (MS_BLAST_RUNNER (source), result, &error) <= 0)
    {
      ms_window_add_toast (self, adw_toast_new (error->message));
      check_unfinished (self);
    }
}

static void
resume_unfinished_action (GtkWidget  *widget,
                          const char *action_name,
                          GVariant   *parameter)
{
  MsWindow *self = MS_WINDOW (widget);

  if (self->unfinished == 0)
    return;
  gtk_revealer_set_reveal_child (self->resume_revealer, FALSE);
  gtk_widget_action_set_enabled (widget, "win.resume-unfinished", FALSE);
  ms_blast_runner_resume_batch_async (self->runner, self->unfinished, gtk_check_button_get_active (self->resend_check),
                                      NULL, resumed, g_object_ref (self));
  self->unfinished = 0;
}

static void
dismiss_unfinished_action (GtkWidget  *widget,
                           const char *action_name,
                           GVariant   *parameter)
{
  MsWindow *self = MS_WINDOW (widget);

  if (self->unfinished != 0)
    g_array_append_val (self->dismissed, self->unfinished);
  check_unfinished (self);
}

gint64
ms_window_get_unfinished_batch (MsWindow *self)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), 0);
  return self->unfinished;
}

/* ---------------------------------------------------------- the journal, live */

static void update_badge (MsWindow *self);

/* What other processes do shows here too: a blast from mailshot-cli, a
 * batch that paused or finished there. */
static void
refresh_from_journal (MsWindow *self)
{
  g_autoptr(GPtrArray) batches = NULL;

  g_clear_pointer (&self->external_info, ms_batch_info_free);
  self->external = 0;
  if (self->journal != NULL && !ms_blast_runner_get_active (self->runner))
    batches = ms_journal_list_batches (self->journal, NULL);
  for (guint i = 0; batches != NULL && i < batches->len; i++)
    {
      MsBatchInfo *info = g_ptr_array_index (batches, i);

      if (info->status == MS_BATCH_RUNNING && ms_journal_is_batch_busy (self->journal, info->id))
        {
          self->external = info->id;
          self->external_info = g_steal_pointer (&g_ptr_array_index (batches, i));
          break;
        }
    }
  update_progress (self);
  update_limit (self);
  if (!ms_blast_runner_get_active (self->runner))
    {
      update_badge (self);
      check_unfinished (self);
    }
}

static gboolean
journal_refresh_timeout (gpointer user_data)
{
  MsWindow *self = user_data;

  self->journal_refresh_id = 0;
  refresh_from_journal (self);
  return G_SOURCE_REMOVE;
}

static void
on_journal_changed (GFileMonitor      *monitor,
                    GFile             *file,
                    GFile             *other,
                    GFileMonitorEvent  event,
                    MsWindow          *self)
{
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *journal = g_path_get_basename (ms_journal_get_path (self->journal));
  g_autofree char *wal = g_strconcat (journal, "-wal", NULL);

  /* The database and its log only: the lock files come and go when a
   * batch is looked at, and looking must not look again. */
  if (!g_str_equal (name, journal) && !g_str_equal (name, wal))
    return;
  /* A sending process writes all the time: look at most twice a second. */
  if (self->journal_refresh_id == 0)
    self->journal_refresh_id = g_timeout_add (500, journal_refresh_timeout, self);
}

gint64
ms_window_get_external_batch (MsWindow *self)
{
  g_return_val_if_fail (MS_IS_WINDOW (self), 0);
  return self->external;
}

/* ---------------------------------------------------------- the last test */

static void
on_test_running (MsWindow     *self,
                 GParamSpec   *pspec,
                 MsTestDialog *dialog)
{
  MsProbe *probe = ms_test_dialog_get_probe (dialog);
  const char *outcome = ms_test_dialog_get_outcome (dialog);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *clock = g_date_time_format (now, "%H:%M");
  g_autofree char *text = NULL;
  gboolean passed = probe != NULL && ms_probe_get_failed_step (probe) == MS_PROBE_N_STEPS;

  if (ms_test_dialog_get_running (dialog) || outcome == NULL)
    return;
  /* Translators: %s is a time of day, then the outcome of the test e-mail. */
  text = g_strdup_printf (_("Last test e-mail, at %s: %s"), clock, outcome);
  gtk_label_set_text (self->test_label, text);
  gtk_image_set_from_icon_name (self->test_icon, passed ? "emblem-ok-symbolic" : "dialog-warning-symbolic");
  gtk_revealer_set_reveal_child (self->test_revealer, TRUE);
  /* A passing test may have cleared a stale wait. */
  update_limit (self);
}

static void
dismiss_test_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  gtk_revealer_set_reveal_child (MS_WINDOW (widget)->test_revealer, FALSE);
}

/* The rows that need the user, from the journal's one count; any process
 * may change them (mailshot-cli too), so a cheap look every two seconds
 * asks whether to count again. */
static void
update_badge (MsWindow *self)
{
  g_autoptr(GError) error = NULL;
  guint count;

  if (self->badge_journal == NULL)
    self->badge_journal = ms_journal_open_for_reading (NULL, &error);
  if (self->badge_journal == NULL)
    {
      g_debug ("The Pending badge: %s", error->message);
      return;
    }
  ms_journal_check_changed (self->badge_journal, &self->badge_stamp);
  count = ms_journal_count_needing_attention (self->badge_journal, &error);
  if (error != NULL)
    g_debug ("The Pending badge: %s", error->message);
  else
    adw_view_stack_page_set_badge_number (self->pending_page, count);
}

static gboolean
poll_badge (gpointer user_data)
{
  MsWindow *self = user_data;

  if (self->badge_journal == NULL || ms_journal_check_changed (self->badge_journal, &self->badge_stamp))
    update_badge (self);
  return G_SOURCE_CONTINUE;
}

static void
on_runner_finished (MsWindow   *self,
                    gint64      batch,
                    guint       sent,
                    guint       failed,
                    guint       uncertain,
                    const char *message)
{
  update_badge (self);
  update_limit (self);
  check_unfinished (self);
  if (message != NULL)
    ms_window_add_toast (self, adw_toast_new (message));
}

static void
pause_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  ms_blast_runner_pause (MS_WINDOW (widget)->runner);
}

static void
resume_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  ms_blast_runner_resume (MS_WINDOW (widget)->runner);
}

static void
on_cancel_response (AdwMessageDialog *dialog,
                    const char       *response,
                    MsWindow         *self)
{
  if (g_str_equal (response, "cancel-blast"))
    ms_blast_runner_cancel (self->runner);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsWindow *self = MS_WINDOW (widget);
  GtkWidget *dialog;

  if (!ms_blast_runner_get_active (self->runner) || self->cancel_dialog != NULL)
    return;
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Cancel the E-blast?"),
                                   _("The messages not sent yet will not be sent. Those sent stay sent. "
                                     "A cancelled e-blast cannot be resumed."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep Sending"),
                                    "cancel-blast", _("_Cancel E-blast"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "cancel-blast", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_cancel_response), self, 0);
  self->cancel_dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->cancel_dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static gboolean
ms_window_close_request (GtkWindow *window)
{
  MsWindow *self = MS_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_delay (self->app_settings);
  g_settings_set_boolean (self->app_settings, "window-maximized", gtk_window_is_maximized (window));
  if (!gtk_window_is_maximized (window))
    {
      g_settings_set_int (self->app_settings, "window-width", width);
      g_settings_set_int (self->app_settings, "window-height", height);
    }
  g_settings_apply (self->app_settings);

  return GTK_WINDOW_CLASS (ms_window_parent_class)->close_request (window);
}

/* GtkWindow:application is not a construct property, so this runs once it is set. */
static void
ms_window_setup (MsWindow      *self,
                 MsAccount     *account,
                 MsBlastRunner *runner)
{
  self->account = g_object_ref (account);
  self->runner = g_object_ref (runner);
  self->blast_page = ms_blast_page_new (account, runner, NULL);
  adw_bin_set_child (self->blast_bin, GTK_WIDGET (self->blast_page));
  self->batches_page = ms_batches_page_new (runner);
  adw_bin_set_child (self->batches_bin, GTK_WIDGET (self->batches_page));
  self->pending_page_widget = ms_pending_page_new (runner);
  adw_bin_set_child (self->pending_bin, GTK_WIDGET (self->pending_page_widget));
  g_signal_connect_object (runner, "notify", G_CALLBACK (on_runner_notify), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (runner, "finished", G_CALLBACK (on_runner_finished), self, G_CONNECT_SWAPPED);
  update_progress (self);
  update_badge (self);
  self->badge_poll_id = g_timeout_add_seconds (2, poll_badge, self);
  self->app_settings = g_settings_new (APP_ID);

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->app_settings, "window-width"),
                               g_settings_get_int (self->app_settings, "window-height"));
  if (g_settings_get_boolean (self->app_settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  g_signal_connect_object (ms_account_get_settings (self->account), "changed",
                           G_CALLBACK (on_account_changed), self, 0);
  ms_window_update (self);

  /* The journal, to watch what other processes do. Opening it also turns
   * rows a crash left `sending` into `uncertain`, for the resume offer. */
  {
    g_autoptr(GError) error = NULL;

    self->journal = ms_journal_open (NULL, &error);
    if (self->journal == NULL)
      g_debug ("No journal to watch: %s", error->message);
    else
      {
        g_autofree char *dir = g_path_get_dirname (ms_journal_get_path (self->journal));
        g_autoptr(GFile) folder = g_file_new_for_path (dir);

        self->journal_monitor = g_file_monitor_directory (folder, G_FILE_MONITOR_NONE, NULL, &error);
        if (self->journal_monitor == NULL)
          g_debug ("Not watching %s: %s", dir, error->message);
        else
          g_signal_connect_object (self->journal_monitor, "changed", G_CALLBACK (on_journal_changed), self, 0);
      }
  }
  refresh_from_journal (self);
}

static void
ms_window_dispose (GObject *object)
{
  MsWindow *self = MS_WINDOW (object);

  if (self->test_dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->test_dialog), (gpointer *) &self->test_dialog);
      gtk_window_destroy (GTK_WINDOW (self->test_dialog));
      self->test_dialog = NULL;
    }
  if (self->account_window != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->account_window), (gpointer *) &self->account_window);
      gtk_window_destroy (self->account_window);
      self->account_window = NULL;
    }
  if (self->cancel_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->cancel_dialog));
  g_clear_handle_id (&self->badge_poll_id, g_source_remove);
  g_clear_object (&self->badge_journal);
  g_clear_handle_id (&self->journal_refresh_id, g_source_remove);
  g_clear_handle_id (&self->limit_tick_id, g_source_remove);
  if (self->journal_monitor != NULL)
    g_file_monitor_cancel (self->journal_monitor);
  g_clear_object (&self->journal_monitor);
  g_clear_object (&self->journal);
  g_clear_pointer (&self->external_info, ms_batch_info_free);
  g_clear_pointer (&self->dismissed, g_array_unref);
  g_clear_pointer (&self->limit_reply, g_free);
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_WINDOW);
  g_clear_object (&self->runner);
  g_clear_object (&self->account);
  g_clear_object (&self->app_settings);

  G_OBJECT_CLASS (ms_window_parent_class)->dispose (object);
}

static void
ms_window_class_init (MsWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = ms_window_dispose;
  window_class->close_request = ms_window_close_request;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MsWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, view_stack);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, switcher_title);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, switcher_bar);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, pending_page);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, blast_bin);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, batches_bin);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, pending_bin);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, progress_revealer);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, progress_label);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, progress_bar);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, detail_label);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, pause_button);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, resume_button);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, resume_revealer);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, resume_title);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, resume_label);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, resend_check);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, limit_revealer);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, limit_label);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, test_revealer);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, test_icon);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, test_label);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, account_popover);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, account_title);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, account_description);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, security_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, auth_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, limits_row);

  gtk_widget_class_bind_template_callback (widget_class, on_summary_row_activated);

  gtk_widget_class_install_action (widget_class, "win.send-test", NULL, send_test_action);
  gtk_widget_class_install_action (widget_class, "win.setup-account", NULL, setup_account_action);
  /* For the windows and pages below: a quiet confirmation, without knowing this class. */
  gtk_widget_class_install_action (widget_class, "win.show-toast", "s", show_toast_action);
  gtk_widget_class_install_action (widget_class, "win.pause-blast", NULL, pause_action);
  gtk_widget_class_install_action (widget_class, "win.resume-blast", NULL, resume_action);
  gtk_widget_class_install_action (widget_class, "win.cancel-blast", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "win.resume-unfinished", NULL, resume_unfinished_action);
  gtk_widget_class_install_action (widget_class, "win.dismiss-unfinished", NULL, dismiss_unfinished_action);
  gtk_widget_class_install_action (widget_class, "win.dismiss-test", NULL, dismiss_test_action);
}

static void
ms_window_init (MsWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->dismissed = g_array_new (FALSE, FALSE, sizeof (gint64));
  ms_a11y_fix_names (GTK_WIDGET (self));
  /* GtkCheckButton has no wrap property in GTK 4.8, and this long choice
   * alone would keep the window wider than a phone: wrap its own label. */
  for (GtkWidget *c = gtk_widget_get_first_child (GTK_WIDGET (self->resend_check)); c != NULL;
       c = gtk_widget_get_next_sibling (c))
    if (GTK_IS_LABEL (c))
      {
        gtk_label_set_wrap (GTK_LABEL (c), TRUE);
        gtk_label_set_wrap_mode (GTK_LABEL (c), PANGO_WRAP_WORD_CHAR);
        gtk_label_set_xalign (GTK_LABEL (c), 0);
      }
  /* Narrow: the switcher moves from the header bar to the bottom. */
  g_object_bind_property (self->switcher_title, "title-visible", self->switcher_bar, "reveal",
                          G_BINDING_SYNC_CREATE);
}
