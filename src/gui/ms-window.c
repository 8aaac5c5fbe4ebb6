/* ms-window.c: the main window: E-blast, Batches and Pending, the running blast, the account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-account-window.h"
#include "ms-blast-page.h"
#include "ms-window.h"

struct _MsWindow
{
  AdwApplicationWindow  parent_instance;

  MsAccount            *account;
  MsBlastRunner        *runner;
  GSettings            *app_settings;
  MsBlastPage          *blast_page;
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
  GtkPopover           *account_popover;
  GtkLabel             *account_title;
  GtkLabel             *account_description;
  AdwActionRow         *server_row;
  AdwActionRow         *security_row;
  AdwActionRow         *auth_row;
  AdwActionRow         *limits_row;
};

G_DEFINE_FINAL_TYPE (MsWindow, ms_window, ADW_TYPE_APPLICATION_WINDOW)

static void ms_window_setup (MsWindow *self, MsAccount *account, MsBlastRunner *runner);

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

  adw_toast_overlay_add_toast (self->toast_overlay, toast);
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
    }
  gtk_window_present (GTK_WINDOW (self->test_dialog));
  if (!ms_test_dialog_get_running (self->test_dialog))
    ms_test_dialog_start (self->test_dialog);
}

/* ---------------------------------------------------------- the running blast */

static void
update_progress (MsWindow *self)
{
  gboolean active = ms_blast_runner_get_active (self->runner);
  gboolean paused = ms_blast_runner_get_paused (self->runner);

  gtk_revealer_set_reveal_child (self->progress_revealer, active);
  gtk_label_set_text (self->progress_label, ms_blast_runner_get_text (self->runner));
  gtk_progress_bar_set_fraction (self->progress_bar, ms_blast_runner_get_fraction (self->runner));
  gtk_label_set_text (self->detail_label, ms_blast_runner_get_detail (self->runner));
  gtk_widget_set_visible (GTK_WIDGET (self->detail_label), ms_blast_runner_get_detail (self->runner)[0] != '\0');
  gtk_widget_set_visible (GTK_WIDGET (self->pause_button), !paused);
  gtk_widget_set_visible (GTK_WIDGET (self->resume_button), paused);
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
}

/* TODO(core7): a journal count of the rows that need the user (failed and
 * uncertain; deferred ones retry by themselves), as the Pending page lists them. */
static guint
count_needing_attention (void)
{
  g_autoptr(MsJournal) journal = ms_journal_open (NULL, NULL);
  g_autoptr(GPtrArray) batches = journal != NULL ? ms_journal_list_batches (journal, NULL) : NULL;
  guint count = 0;

  for (guint i = 0; batches != NULL && i < batches->len; i++)
    {
      MsBatchInfo *info = g_ptr_array_index (batches, i);

      count += info->counts[MS_STATE_FAILED] + info->counts[MS_STATE_UNCERTAIN];
    }
  return count;
}

static void
update_badge (MsWindow *self)
{
  adw_view_stack_page_set_badge_number (self->pending_page, count_needing_attention ());
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
static GtkWidget *
placeholder (const char *icon,
             const char *title,
             const char *description)
{
  GtkWidget *page = adw_status_page_new ();

  adw_status_page_set_icon_name (ADW_STATUS_PAGE (page), icon);
  adw_status_page_set_title (ADW_STATUS_PAGE (page), title);
  adw_status_page_set_description (ADW_STATUS_PAGE (page), description);
  return page;
}

static void
ms_window_setup (MsWindow      *self,
                 MsAccount     *account,
                 MsBlastRunner *runner)
{
  self->account = g_object_ref (account);
  self->runner = g_object_ref (runner);
  self->blast_page = ms_blast_page_new (account, runner, NULL);
  adw_bin_set_child (self->blast_bin, GTK_WIDGET (self->blast_page));
  /* TODO(gui): the Batches and Pending pages (report, retry, skip). */
  adw_bin_set_child (self->batches_bin,
                     placeholder ("view-list-symbolic", _("Batches"),
                                  _("Every e-blast sent from this computer will be listed here with its report.")));
  adw_bin_set_child (self->pending_bin,
                     placeholder ("mail-unread-symbolic", _("Pending E-mails"),
                                  _("Messages that did not go out will be listed here, with what to do.")));
  g_signal_connect_object (runner, "notify", G_CALLBACK (on_runner_notify), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (runner, "finished", G_CALLBACK (on_runner_finished), self, G_CONNECT_SWAPPED);
  update_progress (self);
  update_badge (self);
  self->app_settings = g_settings_new (APP_ID);

  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->app_settings, "window-width"),
                               g_settings_get_int (self->app_settings, "window-height"));
  if (g_settings_get_boolean (self->app_settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));

  g_signal_connect_object (ms_account_get_settings (self->account), "changed",
                           G_CALLBACK (on_account_changed), self, 0);
  ms_window_update (self);
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
  gtk_widget_class_bind_template_child (widget_class, MsWindow, account_popover);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, account_title);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, account_description);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, security_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, auth_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, limits_row);

  gtk_widget_class_bind_template_callback (widget_class, on_summary_row_activated);

  gtk_widget_class_install_action (widget_class, "win.send-test", NULL, send_test_action);
  /* For the windows and pages below: a quiet confirmation, without knowing this class. */
  gtk_widget_class_install_action (widget_class, "win.show-toast", "s", show_toast_action);
  gtk_widget_class_install_action (widget_class, "win.pause-blast", NULL, pause_action);
  gtk_widget_class_install_action (widget_class, "win.resume-blast", NULL, resume_action);
  gtk_widget_class_install_action (widget_class, "win.cancel-blast", NULL, cancel_action);
}

/* GTK 4.8 names a button with a mnemonic twice ("_Edit Account Edit
 * Account"): in the account summary, one clean name each. */
static void
fix_button_names (GtkWidget *widget)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      if (GTK_IS_BUTTON (c) && gtk_button_get_use_underline (GTK_BUTTON (c)))
        gtk_accessible_reset_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL);
      fix_button_names (c);
    }
}

static void
ms_window_init (MsWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  fix_button_names (gtk_popover_get_child (self->account_popover));
  /* Narrow: the switcher moves from the header bar to the bottom. */
  g_object_bind_property (self->switcher_title, "title-visible", self->switcher_bar, "reveal",
                          G_BINDING_SYNC_CREATE);
}
