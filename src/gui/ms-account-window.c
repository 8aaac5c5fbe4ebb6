/* ms-account-window.c: the account settings window (the setup form)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ms-account-window.h"

struct _MsAccountWindow
{
  AdwPreferencesWindow  parent_instance;

  MsAccount            *account;
  GSettings            *settings;
  GCancellable         *cancellable;
  GPtrArray            *hint_rows;
  gboolean              close_after_store;
  gboolean              storing_password;

  AdwPreferencesGroup  *provider_group;
  AdwEntryRow          *email_row;
  AdwEntryRow          *sender_name_row;
  AdwEntryRow          *server_row;
  AdwActionRow         *port_row;
  GtkSpinButton        *port_spin;
  AdwActionRow         *smtps_row;
  GtkSwitch            *smtps_switch;
  AdwActionRow         *timeout_row;
  GtkSpinButton        *timeout_spin;
  AdwActionRow         *needs_auth_row;
  GtkSwitch            *needs_auth_switch;
  AdwComboRow          *auth_method_row;
  AdwComboRow          *oauth2_provider_row;
  AdwEntryRow          *oauth2_client_id_row;
  AdwEntryRow          *oauth2_tenant_row;
  AdwEntryRow          *oauth2_auth_endpoint_row;
  AdwEntryRow          *oauth2_token_endpoint_row;
  AdwActionRow         *oauth2_sign_in_row;
  GtkButton            *oauth2_sign_in_button;
  GCancellable         *sign_in_cancellable;   /* while the browser has not come back */
  AdwEntryRow          *user_row;
  AdwPasswordEntryRow  *password_row;
  AdwActionRow         *per_minute_row;
  GtkSpinButton        *per_minute_spin;
  AdwActionRow         *per_hour_row;
  GtkSpinButton        *per_hour_spin;
  AdwActionRow         *per_day_row;
  GtkSpinButton        *per_day_spin;
  AdwActionRow         *connections_row;
  GtkSpinButton        *connections_spin;
  AdwActionRow         *rate_limit_row;
  AdwEntryRow          *ehlo_row;
  AdwActionRow         *plaintext_row;
  GtkSwitch            *plaintext_switch;
  AdwEntryRow          *certificate_row;
  AdwActionRow         *starttls_seen_row;
};

G_DEFINE_FINAL_TYPE (MsAccountWindow, ms_account_window, ADW_TYPE_PREFERENCES_WINDOW)

enum {
  PROP_0,
  PROP_ACCOUNT,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* Text keys are validated before they are stored, so their rows are bound
 * one way (settings → row) and written through ms_account_set_from_string. */
static const struct {
  const char *key;
  gsize       offset;
} text_rows[] = {
  { "email-address",       G_STRUCT_OFFSET (MsAccountWindow, email_row) },
  { "sender-name",         G_STRUCT_OFFSET (MsAccountWindow, sender_name_row) },
  { "smtp-server",         G_STRUCT_OFFSET (MsAccountWindow, server_row) },
  { "user-id",             G_STRUCT_OFFSET (MsAccountWindow, user_row) },
  { "ehlo-host",           G_STRUCT_OFFSET (MsAccountWindow, ehlo_row) },
  { "trusted-certificate", G_STRUCT_OFFSET (MsAccountWindow, certificate_row) },
  { "oauth2-client-id",    G_STRUCT_OFFSET (MsAccountWindow, oauth2_client_id_row) },
  { "oauth2-tenant",       G_STRUCT_OFFSET (MsAccountWindow, oauth2_tenant_row) },
  { "oauth2-auth-endpoint", G_STRUCT_OFFSET (MsAccountWindow, oauth2_auth_endpoint_row) },
  { "oauth2-token-endpoint", G_STRUCT_OFFSET (MsAccountWindow, oauth2_token_endpoint_row) },
};

/* Numbers and switches cannot hold a bad value (the adjustments carry the
 * schema's ranges), so they are bound both ways. */
static const struct {
  const char *key;
  gsize       widget_offset;
  const char *property;
  gsize       row_offset;
} direct_rows[] = {
  { "smtp-port",                G_STRUCT_OFFSET (MsAccountWindow, port_spin),         "value",  G_STRUCT_OFFSET (MsAccountWindow, port_row) },
  { "timeout",                  G_STRUCT_OFFSET (MsAccountWindow, timeout_spin),      "value",  G_STRUCT_OFFSET (MsAccountWindow, timeout_row) },
  { "use-smtps",                G_STRUCT_OFFSET (MsAccountWindow, smtps_switch),      "active", G_STRUCT_OFFSET (MsAccountWindow, smtps_row) },
  { "needs-authentication",     G_STRUCT_OFFSET (MsAccountWindow, needs_auth_switch), "active", G_STRUCT_OFFSET (MsAccountWindow, needs_auth_row) },
  { "allow-plaintext-password", G_STRUCT_OFFSET (MsAccountWindow, plaintext_switch),  "active", G_STRUCT_OFFSET (MsAccountWindow, plaintext_row) },
  { "max-per-minute",           G_STRUCT_OFFSET (MsAccountWindow, per_minute_spin),   "value",  G_STRUCT_OFFSET (MsAccountWindow, per_minute_row) },
  { "max-per-hour",             G_STRUCT_OFFSET (MsAccountWindow, per_hour_spin),     "value",  G_STRUCT_OFFSET (MsAccountWindow, per_hour_row) },
  { "max-per-day",              G_STRUCT_OFFSET (MsAccountWindow, per_day_spin),      "value",  G_STRUCT_OFFSET (MsAccountWindow, per_day_row) },
  { "max-connections",          G_STRUCT_OFFSET (MsAccountWindow, connections_spin),  "value",  G_STRUCT_OFFSET (MsAccountWindow, connections_row) },
};

static const char * const auth_method_nicks[] = { "automatic", "cram-md5", "plain", "login", "oauth2", NULL };
static const char * const oauth2_provider_nicks[] = { "microsoft", "google", "custom", NULL };

#define MEMBER(self, offset) (*(GtkWidget **) G_STRUCT_MEMBER_P ((self), (offset)))

MsAccountWindow *
ms_account_window_new (GtkWindow *parent,
                       MsAccount *account)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);

  return g_object_new (MS_TYPE_ACCOUNT_WINDOW,
                       "transient-for", parent,
                       "account", account,
                       NULL);
}

MsAccount *
ms_account_window_get_account (MsAccountWindow *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT_WINDOW (self), NULL);

  return self->account;
}

GtkWidget *
ms_account_window_get_row (MsAccountWindow *self,
                           const char      *key)
{
  g_return_val_if_fail (MS_IS_ACCOUNT_WINDOW (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (text_rows); i++)
    if (g_str_equal (key, text_rows[i].key))
      return MEMBER (self, text_rows[i].offset);
  for (guint i = 0; i < G_N_ELEMENTS (direct_rows); i++)
    if (g_str_equal (key, direct_rows[i].key))
      return MEMBER (self, direct_rows[i].row_offset);
  if (g_str_equal (key, "auth-method"))
    return GTK_WIDGET (self->auth_method_row);
  if (g_str_equal (key, "oauth2-provider"))
    return GTK_WIDGET (self->oauth2_provider_row);
  if (g_str_equal (key, "password"))
    return GTK_WIDGET (self->password_row);
  if (g_str_equal (key, "rate-limited-until"))
    return GTK_WIDGET (self->rate_limit_row);
  if (g_str_equal (key, "starttls-seen"))
    return GTK_WIDGET (self->starttls_seen_row);
  return NULL;
}

static void
add_toast (MsAccountWindow *self,
           AdwToast        *toast)
{
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), toast);
}

/* The GtkText inside an entry row is what a screen reader lands on. */
static GtkAccessible *
row_accessible (GtkWidget *row)
{
  if (GTK_IS_EDITABLE (row) && gtk_editable_get_delegate (GTK_EDITABLE (row)) != NULL)
    return GTK_ACCESSIBLE (gtk_editable_get_delegate (GTK_EDITABLE (row)));
  return GTK_ACCESSIBLE (row);
}

static void
label_entry_row (GtkWidget *row)
{
  const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row));
  g_autoptr(GString) label = g_string_new (NULL);

  /* The title without its mnemonic underline. */
  for (const char *p = title; *p != '\0'; p++)
    if (*p != '_' || p[1] == '_')
      g_string_append_c (label, *p == '_' ? *++p : *p);
  gtk_accessible_update_property (row_accessible (row),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label->str,
                                  -1);
}

static void
mark_row (GtkWidget  *row,
          const char *reason)
{
  if (reason != NULL)
    {
      gtk_widget_add_css_class (row, "error");
      gtk_widget_set_tooltip_text (row, reason);
      gtk_accessible_update_state (row_accessible (row),
                                   GTK_ACCESSIBLE_STATE_INVALID, GTK_ACCESSIBLE_INVALID_TRUE,
                                   -1);
      gtk_accessible_update_property (row_accessible (row),
                                      GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, reason,
                                      -1);
    }
  else if (gtk_widget_has_css_class (row, "error"))
    {
      gtk_widget_remove_css_class (row, "error");
      gtk_widget_set_tooltip_text (row, NULL);
      gtk_accessible_reset_state (row_accessible (row), GTK_ACCESSIBLE_STATE_INVALID);
      gtk_accessible_reset_property (row_accessible (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
    }
}

/* Returns FALSE when the row holds a value that may not be stored. */
static gboolean
store_text_row (MsAccountWindow *self,
                GtkWidget       *row,
                gboolean         tell)
{
  const char *key = g_object_get_data (G_OBJECT (row), "ms-key");
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));
  g_autofree char *current = g_settings_get_string (self->settings, key);
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (text, current) == 0)
    {
      mark_row (row, NULL);
      return TRUE;
    }

  if (!ms_account_set_from_string (self->account, key, text, &error))
    {
      g_autofree char *key_prefix = g_strconcat (key, ": ", NULL);
      g_autofree char *reason = NULL;

      g_debug ("Not storing %s: %s", key, error->message);
      /* Core names the GSettings key, as the command line needs; here the
       * row's own name says which field it is. */
      if (g_str_has_prefix (error->message, key_prefix))
        reason = g_strdup_printf ("%s: %s", ms_account_get_key_label (key), error->message + strlen (key_prefix));
      else
        reason = g_strdup (error->message);
      mark_row (row, reason);
      if (tell)
        add_toast (self, adw_toast_new (reason));
      return FALSE;
    }

  mark_row (row, NULL);
  return TRUE;
}

static void
on_text_row_apply (MsAccountWindow *self,
                   AdwEntryRow     *row)
{
  store_text_row (self, GTK_WIDGET (row), TRUE);
}

static void
on_text_row_changed (MsAccountWindow *self,
                     GtkEditable     *row)
{
  const char *key = g_object_get_data (G_OBJECT (row), "ms-key");
  const char *text = gtk_editable_get_text (row);
  g_autofree char *stored = NULL;

  /* A mark goes away as soon as the value is fixed (or back to what is
   * stored); a new mark waits for apply, so that typing is not met by red
   * at the first key. */
  if (!gtk_widget_has_css_class (GTK_WIDGET (row), "error"))
    return;
  stored = g_settings_get_string (self->settings, key);
  if (g_strcmp0 (text, stored) == 0 || ms_account_check_value (key, text, NULL, NULL))
    mark_row (GTK_WIDGET (row), NULL);
}

/* A limit of 0 reads "No limit" rather than a number that looks like
 * "send nothing"; typing a number replaces it. */
static gboolean
on_limit_output (GtkSpinButton *spin,
                 gpointer       user_data)
{
  if (gtk_adjustment_get_value (gtk_spin_button_get_adjustment (spin)) != 0)
    return FALSE;
  gtk_editable_set_text (GTK_EDITABLE (spin), _("No limit"));
  return TRUE;
}

static int
on_limit_input (GtkSpinButton *spin,
                double        *new_value,
                gpointer       user_data)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (spin));
  g_autofree char *stripped = g_strstrip (g_strdup (text));

  if (stripped[0] != '\0' && g_utf8_collate (stripped, _("No limit")) != 0)
    return FALSE;
  *new_value = 0;
  return TRUE;
}

/* @user_data: the nicks, in the order of the combo row's items. */
static gboolean
auth_method_get_mapping (GValue   *value,
                         GVariant *variant,
                         gpointer  user_data)
{
  const char * const *nicks = user_data;
  const char *nick = g_variant_get_string (variant, NULL);

  for (guint i = 0; nicks[i] != NULL; i++)
    if (g_str_equal (nick, nicks[i]))
      {
        g_value_set_uint (value, i);
        return TRUE;
      }
  return FALSE;
}

static GVariant *
auth_method_set_mapping (const GValue       *value,
                         const GVariantType *expected_type,
                         gpointer            user_data)
{
  const char * const *nicks = user_data;
  guint i = g_value_get_uint (value);

  if (i >= g_strv_length ((char **) nicks))
    return NULL;
  return g_variant_new_string (nicks[i]);
}

/* The OAuth2 rows show only for an account that signs in with OAuth2, and
 * the tenant and endpoints only for the provider that has them. */
static void
update_oauth2_rows (MsAccountWindow *self)
{
  gboolean oauth2 = g_settings_get_enum (self->settings, "auth-method") == MS_AUTH_METHOD_OAUTH2;
  int provider = g_settings_get_enum (self->settings, "oauth2-provider");

  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_provider_row), oauth2);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_client_id_row), oauth2);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_sign_in_row), oauth2);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_tenant_row), oauth2 && provider == MS_OAUTH2_PROVIDER_MICROSOFT);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_auth_endpoint_row), oauth2 && provider == MS_OAUTH2_PROVIDER_CUSTOM);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_token_endpoint_row), oauth2 && provider == MS_OAUTH2_PROVIDER_CUSTOM);
  /* No password is stored for an OAuth2 account. */
  gtk_widget_set_visible (GTK_WIDGET (self->password_row), !oauth2);
}

static void
open_sign_in_page (const char *uri,
                   gpointer    user_data)
{
  MsAccountWindow *self = user_data;
  g_autoptr(GError) error = NULL;

  /* The system browser (through the portal under Flatpak). */
  if (!g_app_info_launch_default_for_uri (uri, NULL, &error))
    {
      g_autofree char *text = g_strdup_printf (_("No web browser could be opened (%s). Open this address "
                                                 "yourself: %s"), error->message, uri);
      add_toast (self, adw_toast_new (text));
    }
}

static void
signed_in (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(MsAccountWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  gboolean ok = ms_oauth2_sign_in_finish (MS_OAUTH2 (source), result, &error);

  g_clear_object (&self->sign_in_cancellable);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;   /* the window is gone */
  gtk_button_set_label (self->oauth2_sign_in_button, _("_Sign In"));
  if (ok)
    {
      g_autofree char *text = g_strdup_printf (_("Signed in as %s with %s"), ms_oauth2_get_user (MS_OAUTH2 (source)),
                                               ms_oauth2_get_provider_name (MS_OAUTH2 (source)));
      add_toast (self, adw_toast_new (text));
    }
  else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    add_toast (self, adw_toast_new (error->message));
}

/* Sign In, or Cancel while the browser has not come back. */
static void
on_oauth2_sign_in_clicked (MsAccountWindow *self,
                           GtkButton       *button)
{
  g_autoptr(MsOAuth2) oauth2 = NULL;
  g_autoptr(GError) error = NULL;

  if (self->sign_in_cancellable != NULL)
    {
      g_cancellable_cancel (self->sign_in_cancellable);
      return;
    }
  oauth2 = ms_account_create_oauth2 (self->account, &error);
  if (oauth2 == NULL)
    {
      add_toast (self, adw_toast_new (error->message));
      return;
    }
  self->sign_in_cancellable = g_cancellable_new ();
  gtk_button_set_label (button, _("_Cancel"));
  ms_oauth2_sign_in_async (oauth2, open_sign_in_page, self, self->sign_in_cancellable,
                           signed_in, g_object_ref (self));
}

static void
update_provider_hints (MsAccountWindow *self)
{
  g_autofree char *server = g_settings_get_string (self->settings, "smtp-server");
  int port = g_settings_get_int (self->settings, "smtp-port");
  gboolean smtps = g_settings_get_boolean (self->settings, "use-smtps");
  g_auto(GStrv) provider_hints = ms_provider_get_hints (server, port, smtps);
  /* The sending limits against the provider's, as `mailshot-cli test
   * --check-settings` says them: they follow the limits as they are typed. */
  g_auto(GStrv) pacing = ms_provider_check_pacing (server,
                                                   g_settings_get_int (self->settings, "max-per-minute"),
                                                   g_settings_get_int (self->settings, "max-per-hour"),
                                                   g_settings_get_int (self->settings, "max-per-day"),
                                                   g_settings_get_int (self->settings, "max-connections"));
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  g_auto(GStrv) hints = NULL;
  MsProvider provider = ms_provider_detect (server);

  g_strv_builder_addv (builder, (const char **) provider_hints);
  g_strv_builder_addv (builder, (const char **) pacing);
  hints = g_strv_builder_end (builder);

  for (guint i = 0; i < self->hint_rows->len; i++)
    adw_preferences_group_remove (self->provider_group, g_ptr_array_index (self->hint_rows, i));
  g_ptr_array_set_size (self->hint_rows, 0);

  if (hints == NULL || hints[0] == NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->provider_group), FALSE);
      return;
    }

  adw_preferences_group_set_title (self->provider_group, ms_provider_get_name (provider));
  for (guint i = 0; hints[i] != NULL; i++)
    {
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *icon = gtk_image_new_from_icon_name ("dialog-warning-symbolic");

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), hints[i]);
      adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
      gtk_widget_add_css_class (icon, "warning");
      gtk_accessible_update_property (GTK_ACCESSIBLE (icon),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, _("Warning"),
                                      -1);
      adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
      adw_preferences_group_add (self->provider_group, row);
      g_ptr_array_add (self->hint_rows, row);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->provider_group), TRUE);
}

static void
update_rate_limit (MsAccountWindow *self)
{
  gint64 until = g_settings_get_int64 (self->settings, "rate-limited-until");
  g_autoptr(GDateTime) local = NULL;
  g_autofree char *when = NULL;

  gtk_widget_set_visible (GTK_WIDGET (self->rate_limit_row), until != 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "account.clear-rate-limit", until != 0);
  if (until == 0)
    return;

  local = g_date_time_new_from_unix_local (until);
  /* Translators: how the end of a rate limit is shown: date and time, see strftime(3). */
  when = local != NULL ? g_date_time_format (local, _("%A %e %B %Y, %H:%M:%S")) : NULL;
  adw_action_row_set_subtitle (self->rate_limit_row, when != NULL ? when : "");
}

static void
password_looked_up (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  g_autoptr(MsAccountWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  char *password = ms_secret_lookup_finish (result, &error);

  /* Cancelled in dispose: the rows are gone. */
  if (g_cancellable_is_cancelled (self->cancellable))
    {
      if (password != NULL)
        ms_secret_free (password);
      return;
    }

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->password_row),
                                 password != NULL ? _("Pass_word (saved in the keyring)") : _("Pass_word"));
  if (password != NULL)
    ms_secret_free (password);
  else if (error != NULL && !g_error_matches (error, MS_ERROR, MS_ERROR_NO_PASSWORD))
    g_debug ("Password lookup: %s", error->message);
}

static void
update_password_title (MsAccountWindow *self)
{
  g_autofree char *server = g_settings_get_string (self->settings, "smtp-server");
  g_autofree char *user = g_settings_get_string (self->settings, "user-id");

  ms_secret_lookup_async (ms_account_get_name (self->account), server, user,
                          self->cancellable, password_looked_up, g_object_ref (self));
}

static void
on_settings_changed (GSettings       *settings,
                     const char      *key,
                     MsAccountWindow *self)
{
  if (g_str_equal (key, "smtp-server") || g_str_equal (key, "smtp-port") || g_str_equal (key, "use-smtps") ||
      g_str_has_prefix (key, "max-"))
    update_provider_hints (self);
  if (g_str_equal (key, "rate-limited-until"))
    update_rate_limit (self);
  if (g_str_equal (key, "smtp-server") || g_str_equal (key, "user-id"))
    update_password_title (self);
  if (g_str_equal (key, "auth-method") || g_str_equal (key, "oauth2-provider"))
    update_oauth2_rows (self);
}

static void
on_smtps_toggled (MsAccountWindow *self,
                  GParamSpec      *pspec,
                  GtkSwitch       *sw)
{
  gboolean smtps = gtk_switch_get_active (sw);
  int port = g_settings_get_int (self->settings, "smtp-port");
  AdwToast *toast;

  /* The two settings only work in their usual pairs; offer the other half
   * rather than changing it behind the user's back. */
  if (smtps && port == 587)
    {
      toast = adw_toast_new (_("SMTPS usually runs on port 465"));
      adw_toast_set_button_label (toast, _("Use Port _465"));
      adw_toast_set_action_name (toast, "account.set-port");
      adw_toast_set_action_target_value (toast, g_variant_new_int32 (465));
    }
  else if (!smtps && port == 465)
    {
      toast = adw_toast_new (_("Without SMTPS, port 587 is usual"));
      adw_toast_set_button_label (toast, _("Use Port _587"));
      adw_toast_set_action_name (toast, "account.set-port");
      adw_toast_set_action_target_value (toast, g_variant_new_int32 (587));
    }
  else
    return;

  adw_toast_set_timeout (toast, 10);
  add_toast (self, toast);
}

static void
set_port_action (GtkWidget  *widget,
                 const char *action_name,
                 GVariant   *parameter)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (widget);
  int port = g_variant_get_int32 (parameter);

  g_settings_delay (self->settings);
  g_settings_set_int (self->settings, "smtp-port", port);
  /* The well-known ports imply their security. */
  if (port == 465)
    g_settings_set_boolean (self->settings, "use-smtps", TRUE);
  else if (port == 587 || port == 25)
    g_settings_set_boolean (self->settings, "use-smtps", FALSE);
  g_settings_apply (self->settings);
}

static void
clear_rate_limit_action (GtkWidget  *widget,
                         const char *action_name,
                         GVariant   *parameter)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (widget);

  ms_account_set_rate_limited_until (self->account, 0);
}

static void
forget_starttls_action (GtkWidget  *widget,
                        const char *action_name,
                        GVariant   *parameter)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (widget);

  ms_account_reset (self->account, "starttls-seen");
}

static void
show_store_failure (MsAccountWindow *self,
                    const GError    *error)
{
  GtkWidget *dialog;

  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Password Not Saved"), error->message);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
password_stored (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(MsAccountWindow) self = user_data;
  g_autoptr(GError) error = NULL;
  GtkWindow *parent;

  self->storing_password = FALSE;
  if (!ms_secret_store_finish (result, &error))
    {
      if (g_cancellable_is_cancelled (self->cancellable))
        return;
      g_debug ("Storing the password failed: %s", error->message);
      self->close_after_store = FALSE;
      gtk_widget_set_visible (GTK_WIDGET (self), TRUE);
      mark_row (GTK_WIDGET (self->password_row), error->message);
      show_store_failure (self, error);
      return;
    }

  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  mark_row (GTK_WIDGET (self->password_row), NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->password_row),
                                 _("Pass_word (saved in the keyring)"));

  parent = gtk_window_get_transient_for (GTK_WINDOW (self));
  if (self->close_after_store)
    {
      /* Up through an action: whichever window opened this one may show it. */
      if (parent != NULL)
        gtk_widget_activate_action (GTK_WIDGET (parent), "win.show-toast", "s", _("Password saved in the keyring"));
      gtk_window_destroy (GTK_WINDOW (self));
    }
  else
    add_toast (self, adw_toast_new (_("Password saved in the keyring")));
}

static void
store_password (MsAccountWindow *self)
{
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  g_autofree char *server = g_settings_get_string (self->settings, "smtp-server");
  g_autofree char *user = g_settings_get_string (self->settings, "user-id");

  if (password[0] == '\0' || self->storing_password)
    return;

  /* The keyring entry is found again by server and user: any edit of those
   * still in the rows goes first. */
  store_text_row (self, GTK_WIDGET (self->server_row), FALSE);
  store_text_row (self, GTK_WIDGET (self->user_row), FALSE);
  g_free (server);
  g_free (user);
  server = g_settings_get_string (self->settings, "smtp-server");
  user = g_settings_get_string (self->settings, "user-id");

  self->storing_password = TRUE;
  ms_secret_store_async (ms_account_get_name (self->account), server, user, password,
                         self->cancellable, password_stored, g_object_ref (self));
}

static void
on_password_apply (MsAccountWindow *self,
                   AdwEntryRow     *row)
{
  store_password (self);
}

static gboolean
ms_account_window_close_request (GtkWindow *window)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (window);
  const char *password;

  /* Closing is how most people say "done": keep what they typed, also in
   * a number field that has not been committed with Enter yet. */
  for (guint i = 0; i < G_N_ELEMENTS (text_rows); i++)
    store_text_row (self, MEMBER (self, text_rows[i].offset), FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (direct_rows); i++)
    if (GTK_IS_SPIN_BUTTON (MEMBER (self, direct_rows[i].widget_offset)))
      gtk_spin_button_update (GTK_SPIN_BUTTON (MEMBER (self, direct_rows[i].widget_offset)));

  password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  if (password[0] != '\0' || self->storing_password)
    {
      /* Stay alive, hidden, until the keyring has answered: a failure must
       * be seen. */
      self->close_after_store = TRUE;
      store_password (self);
      gtk_widget_set_visible (GTK_WIDGET (self), FALSE);
      return TRUE;
    }

  return GTK_WINDOW_CLASS (ms_account_window_parent_class)->close_request (window);
}

static void
ms_account_window_constructed (GObject *object)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (object);

  G_OBJECT_CLASS (ms_account_window_parent_class)->constructed (object);

  g_assert (self->account != NULL);
  self->settings = g_object_ref (ms_account_get_settings (self->account));

  for (guint i = 0; i < G_N_ELEMENTS (text_rows); i++)
    {
      GtkWidget *row = MEMBER (self, text_rows[i].offset);

      g_object_set_data (G_OBJECT (row), "ms-key", (gpointer) text_rows[i].key);
      label_entry_row (row);
      g_settings_bind (self->settings, text_rows[i].key, row, "text",
                       G_SETTINGS_BIND_GET | G_SETTINGS_BIND_NO_SENSITIVITY);
    }

  for (guint i = 0; i < G_N_ELEMENTS (direct_rows); i++)
    {
      GObject *target = G_OBJECT (MEMBER (self, direct_rows[i].widget_offset));

      if (GTK_IS_SPIN_BUTTON (target))
        target = G_OBJECT (gtk_spin_button_get_adjustment (GTK_SPIN_BUTTON (target)));
      g_settings_bind (self->settings, direct_rows[i].key, target, direct_rows[i].property,
                       G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_NO_SENSITIVITY);
    }

  g_settings_bind_with_mapping (self->settings, "auth-method", self->auth_method_row, "selected",
                                G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_NO_SENSITIVITY,
                                auth_method_get_mapping, auth_method_set_mapping,
                                (gpointer) auth_method_nicks, NULL);
  g_settings_bind_with_mapping (self->settings, "oauth2-provider", self->oauth2_provider_row, "selected",
                                G_SETTINGS_BIND_DEFAULT | G_SETTINGS_BIND_NO_SENSITIVITY,
                                auth_method_get_mapping, auth_method_set_mapping,
                                (gpointer) oauth2_provider_nicks, NULL);
  update_oauth2_rows (self);
  g_settings_bind (self->settings, "starttls-seen", self->starttls_seen_row, "visible",
                   G_SETTINGS_BIND_GET | G_SETTINGS_BIND_NO_SENSITIVITY);

  g_object_bind_property (self->needs_auth_switch, "active", self->auth_method_row, "sensitive",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->needs_auth_switch, "active", self->user_row, "sensitive",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->needs_auth_switch, "active", self->password_row, "sensitive",
                          G_BINDING_SYNC_CREATE);
  g_object_bind_property (self->needs_auth_switch, "active", self->plaintext_row, "sensitive",
                          G_BINDING_SYNC_CREATE);

  g_signal_connect_object (self->settings, "changed", G_CALLBACK (on_settings_changed), self, 0);
  label_entry_row (GTK_WIDGET (self->password_row));

  {
    GtkSpinButton *limits[] = { self->per_minute_spin, self->per_hour_spin, self->per_day_spin };

    for (guint i = 0; i < G_N_ELEMENTS (limits); i++)
      {
        g_signal_connect (limits[i], "output", G_CALLBACK (on_limit_output), NULL);
        g_signal_connect (limits[i], "input", G_CALLBACK (on_limit_input), NULL);
        /* The value came with the binding, before the handler was there. */
        on_limit_output (limits[i], NULL);
      }
  }

  update_provider_hints (self);
  update_rate_limit (self);
  update_password_title (self);
}

static void
ms_account_window_get_property (GObject    *object,
                                guint       prop_id,
                                GValue     *value,
                                GParamSpec *pspec)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      g_value_set_object (value, self->account);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_account_window_set_property (GObject      *object,
                                guint         prop_id,
                                const GValue *value,
                                GParamSpec   *pspec)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (object);

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
ms_account_window_dispose (GObject *object)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->sign_in_cancellable != NULL)
    g_cancellable_cancel (self->sign_in_cancellable);
  if (self->settings != NULL)
    {
      for (guint i = 0; i < G_N_ELEMENTS (text_rows); i++)
        if (MEMBER (self, text_rows[i].offset) != NULL)
          g_settings_unbind (MEMBER (self, text_rows[i].offset), "text");
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_ACCOUNT_WINDOW);
  g_clear_object (&self->settings);
  g_clear_object (&self->account);
  g_clear_pointer (&self->hint_rows, g_ptr_array_unref);

  G_OBJECT_CLASS (ms_account_window_parent_class)->dispose (object);
}

static void
ms_account_window_finalize (GObject *object)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (object);

  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (ms_account_window_parent_class)->finalize (object);
}

static void
ms_account_window_class_init (MsAccountWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->constructed = ms_account_window_constructed;
  object_class->get_property = ms_account_window_get_property;
  object_class->set_property = ms_account_window_set_property;
  object_class->dispose = ms_account_window_dispose;
  object_class->finalize = ms_account_window_finalize;
  window_class->close_request = ms_account_window_close_request;

  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL,
                         MS_TYPE_ACCOUNT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-account-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, provider_group);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, email_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, sender_name_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, server_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, port_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, port_spin);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, smtps_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, smtps_switch);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, timeout_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, timeout_spin);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, needs_auth_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, needs_auth_switch);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, auth_method_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, oauth2_provider_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, oauth2_client_id_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, oauth2_tenant_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, oauth2_auth_endpoint_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, oauth2_token_endpoint_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, oauth2_sign_in_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, oauth2_sign_in_button);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, user_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, password_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, per_minute_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, per_minute_spin);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, per_hour_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, per_hour_spin);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, per_day_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, per_day_spin);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, connections_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, connections_spin);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, rate_limit_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, ehlo_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, plaintext_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, plaintext_switch);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, certificate_row);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, starttls_seen_row);

  gtk_widget_class_bind_template_callback (widget_class, on_text_row_apply);
  gtk_widget_class_bind_template_callback (widget_class, on_text_row_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_password_apply);
  gtk_widget_class_bind_template_callback (widget_class, on_smtps_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_oauth2_sign_in_clicked);

  gtk_widget_class_install_action (widget_class, "account.set-port", "i", set_port_action);
  gtk_widget_class_install_action (widget_class, "account.clear-rate-limit", NULL, clear_rate_limit_action);
  gtk_widget_class_install_action (widget_class, "account.forget-starttls", NULL, forget_starttls_action);
}

static void
ms_account_window_init (MsAccountWindow *self)
{
  self->cancellable = g_cancellable_new ();
  self->hint_rows = g_ptr_array_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}
