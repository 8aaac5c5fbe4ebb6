/* ms-goa-row.c: the row that says GNOME Online Accounts signs the account in, with a way to its settings
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "mailshot-core.h"
#include "ms-goa.h"
#include "ms-goa-row.h"

struct _MsGoaRow
{
  AdwActionRow  parent_instance;

  GSettings    *settings;
  GCancellable *cancellable;
  char         *status;

  GtkButton    *settings_button;
};

G_DEFINE_FINAL_TYPE (MsGoaRow, ms_goa_row, ADW_TYPE_ACTION_ROW)

static void
set_status (MsGoaRow   *self,
            const char *title,
            const char *status,
            gboolean    problem)
{
  g_free (self->status);
  self->status = g_strdup (status);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self), title);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (self), status);
  if (problem)
    gtk_widget_add_css_class (GTK_WIDGET (self), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (self), "error");
}

#ifdef MS_HAVE_GOA
static void
looked_up (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(MsGoaRow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsGoaAccount) account = ms_goa_lookup_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (account == NULL)
    {
      /* The title stays the setting's name (advice names it so); the
       * subtitle says what is wrong. */
      set_status (self, _("Signed in through Online Accounts"), error->message, TRUE);
      return;
    }
  {
    /* TRANSLATORS: %s is the account's name in Online Accounts, e.g. news@example.org */
    g_autofree char *title = g_strdup_printf (_("Signed in through Online Accounts (%s)"), account->identity);
    g_autofree char *status = NULL;

    if (account->attention_needed)
      status = g_strdup_printf (_("Online Accounts needs you to sign in to the %s account again: open Online "
                                  "Accounts."), account->provider_name);
    else
      status = g_strdup_printf (_("The %s account provides the sign-in; Mailshot stores no password or token."),
                                account->provider_name);
    set_status (self, title, status, account->attention_needed);
  }
}
#endif

static void
update (MsGoaRow *self)
{
  g_autofree char *id = NULL;
  g_autofree char *address = NULL;
  gboolean shown;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->settings == NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
      return;
    }
  id = g_settings_get_string (self->settings, "goa-account-id");
  shown = *id != '\0' && g_settings_get_enum (self->settings, "auth-method") == MS_AUTH_METHOD_OAUTH2;
  gtk_widget_set_visible (GTK_WIDGET (self), shown);
  if (!shown)
    return;

#ifdef MS_HAVE_GOA
  self->cancellable = g_cancellable_new ();
  set_status (self, _("Signed in through Online Accounts"), _("Looking the account up in Online Accounts…"), FALSE);
  address = g_settings_get_string (self->settings, "email-address");
  ms_goa_lookup_async (id, address, self->cancellable, looked_up, g_object_ref (self));
#else
  set_status (self, _("Signed in through Online Accounts"),
              _("This build of Mailshot cannot use GNOME Online Accounts: choose another way to sign in."), TRUE);
#endif
}

void
ms_goa_row_set_settings (MsGoaRow  *self,
                         GSettings *settings)
{
  g_return_if_fail (MS_IS_GOA_ROW (self));
  g_return_if_fail (settings == NULL || G_IS_SETTINGS (settings));

  if (self->settings == settings)
    return;
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_set_object (&self->settings, settings);
  if (settings != NULL)
    {
      g_signal_connect_swapped (settings, "changed::goa-account-id", G_CALLBACK (update), self);
      g_signal_connect_swapped (settings, "changed::auth-method", G_CALLBACK (update), self);
    }
  update (self);
}

const char *
ms_goa_row_get_status (MsGoaRow *self)
{
  g_return_val_if_fail (MS_IS_GOA_ROW (self), NULL);

  return self->status;
}

static void
open_settings_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  g_autoptr(GAppInfo) panel = ms_goa_get_settings_panel ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkAppLaunchContext) context = NULL;

  if (panel == NULL)
    return;
  context = gdk_display_get_app_launch_context (gtk_widget_get_display (widget));
  if (!g_app_info_launch (panel, NULL, G_APP_LAUNCH_CONTEXT (context), &error))
    g_warning ("Could not open Online Accounts in GNOME Settings: %s", error->message);
}

static void
ms_goa_row_dispose (GObject *object)
{
  MsGoaRow *self = MS_GOA_ROW (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  if (self->settings != NULL)
    g_signal_handlers_disconnect_by_data (self->settings, self);
  g_clear_object (&self->settings);
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_GOA_ROW);

  G_OBJECT_CLASS (ms_goa_row_parent_class)->dispose (object);
}

static void
ms_goa_row_finalize (GObject *object)
{
  MsGoaRow *self = MS_GOA_ROW (object);

  g_free (self->status);

  G_OBJECT_CLASS (ms_goa_row_parent_class)->finalize (object);
}

static void
ms_goa_row_class_init (MsGoaRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ms_goa_row_dispose;
  object_class->finalize = ms_goa_row_finalize;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-goa-row.ui");
  gtk_widget_class_bind_template_child (widget_class, MsGoaRow, settings_button);
  gtk_widget_class_install_action (widget_class, "goa-row.open-settings", NULL, open_settings_action);
}

static void
ms_goa_row_init (MsGoaRow *self)
{
  g_autoptr(GAppInfo) panel = ms_goa_get_settings_panel ();

  gtk_widget_init_template (GTK_WIDGET (self));
  /* Only where GNOME Settings is installed (not inside a Flatpak sandbox). */
  gtk_widget_set_visible (GTK_WIDGET (self->settings_button), panel != NULL);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "goa-row.open-settings", panel != NULL);
}
