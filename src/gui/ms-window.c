/* ms-window.c: the main window: account summary, setup page, test e-mail
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-account-window.h"
#include "ms-window.h"

struct _MsWindow
{
  AdwApplicationWindow  parent_instance;

  MsAccount            *account;
  GSettings            *app_settings;
  GtkWindow            *account_window;   /* weak */
  MsTestDialog         *test_dialog;      /* weak */

  AdwToastOverlay      *toast_overlay;
  AdwViewStack         *stack;
  AdwStatusPage        *account_page;
  AdwActionRow         *server_row;
  AdwActionRow         *security_row;
  AdwActionRow         *auth_row;
  AdwActionRow         *limits_row;
};

G_DEFINE_FINAL_TYPE (MsWindow, ms_window, ADW_TYPE_APPLICATION_WINDOW)

static void ms_window_setup (MsWindow *self, MsAccount *account);

MsWindow *
ms_window_new (GtkApplication *application,
               MsAccount      *account)
{
  MsWindow *self;

  g_return_val_if_fail (GTK_IS_APPLICATION (application), NULL);
  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);

  self = g_object_new (MS_TYPE_WINDOW, "application", application, NULL);
  ms_window_setup (self, account);
  return self;
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

  adw_view_stack_set_visible_child_name (self->stack, configured ? "account" : "setup");
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.send-test", configured);
  if (!configured)
    return;

  adw_status_page_set_title (self->account_page, name[0] != '\0' ? name : address);
  if (name[0] != '\0')
    {
      /* Translators: %s is the sender's e-mail address. */
      title = g_strdup_printf (_("Messages go out from %s through this account."), address);
      adw_status_page_set_description (self->account_page, title);
    }
  else
    adw_status_page_set_description (self->account_page, _("Messages go out through this account."));

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

  /* A missing or refused password is the usual reason to come here. */
  if (gtk_widget_get_sensitive (ms_account_window_get_row (MS_ACCOUNT_WINDOW (settings), "password")))
    gtk_widget_grab_focus (ms_account_window_get_row (MS_ACCOUNT_WINDOW (settings), "password"));
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
ms_window_setup (MsWindow  *self,
                 MsAccount *account)
{
  self->account = g_object_ref (account);
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
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_WINDOW);
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
  gtk_widget_class_bind_template_child (widget_class, MsWindow, account_page);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, security_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, auth_row);
  gtk_widget_class_bind_template_child (widget_class, MsWindow, limits_row);

  gtk_widget_class_install_action (widget_class, "win.send-test", NULL, send_test_action);
  /* For the windows and pages below: a quiet confirmation, without knowing this class. */
  gtk_widget_class_install_action (widget_class, "win.show-toast", "s", show_toast_action);
}

static void
ms_window_init (MsWindow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}
