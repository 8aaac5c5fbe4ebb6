/* ms-account-window.c: the account settings window (the setup form)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ms-account-window.h"
#include "ms-goa-row.h"
#include "ms-a11y.h"

struct _MsAccountWindow
{
  AdwPreferencesWindow  parent_instance;

  MsAccount            *account;
  GSettings            *settings;
  GCancellable         *cancellable;
  GPtrArray            *hint_rows;
  guint                 shown_warnings;
  gboolean              close_after_store;
  gboolean              storing_password;
  gboolean              quit_after_close;
  gboolean              disposed;
  AdwMessageDialog     *close_dialog;     /* weak */

  AdwPreferencesGroup  *provider_group;
  AdwExpanderRow       *provider_expander;
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
  MsGoaRow             *goa_row;
  GtkButton            *oauth2_sign_in_button;
  GCancellable         *sign_in_cancellable;   /* while the browser has not come back */
  guint                 sign_in_check;         /* the latest look for a kept sign-in */
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
  if (g_str_equal (key, "goa-account-id"))
    return GTK_WIDGET (self->goa_row);
  if (g_str_equal (key, "oauth2-sign-in"))
    return GTK_WIDGET (self->oauth2_sign_in_row);
  return NULL;
}

static GtkWidget *
find_toast_overlay (GtkWidget *widget)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = ADW_IS_TOAST_OVERLAY (c) ? c : find_toast_overlay (c);

      if (found != NULL)
        return found;
    }
  return NULL;
}

static void
add_toast (MsAccountWindow *self,
           AdwToast        *toast)
{
  /* The preferences window's own overlay, so that the toast's close button
   * gets its name (libadwaita 1.2 leaves it nameless, read as "GtkImage"). */
  GtkWidget *overlay = find_toast_overlay (GTK_WIDGET (self));

  if (overlay != NULL)
    ms_a11y_add_toast (ADW_TOAST_OVERLAY (overlay), toast);
  else
    adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), toast);
}

/* A toast of plain text: libadwaita 1.2 reads a toast's title as markup, and
 * an error or an address with “&” or “<” in it showed nothing but a warning. */
static void
add_text_toast (MsAccountWindow *self,
                const char      *text)
{
  g_autofree char *escaped = g_markup_escape_text (text, -1);

  add_toast (self, adw_toast_new (escaped));
}

/* The GtkText inside an entry row is what a screen reader lands on. */
static GtkAccessible *
row_accessible (GtkWidget *row)
{
  if (GTK_IS_EDITABLE (row) && gtk_editable_get_delegate (GTK_EDITABLE (row)) != NULL)
    return GTK_ACCESSIBLE (gtk_editable_get_delegate (GTK_EDITABLE (row)));
  return GTK_ACCESSIBLE (row);
}

/* A title without its mnemonic underline. */
static char *
strip_mnemonic (const char *title)
{
  GString *label = g_string_new (NULL);

  for (const char *p = title != NULL ? title : ""; *p != '\0'; p++)
    if (*p != '_' || p[1] == '_')
      g_string_append_c (label, *p == '_' ? *++p : *p);
  return g_string_free (label, FALSE);
}

static void
label_entry_row (GtkWidget *row)
{
  g_autofree char *label = strip_mnemonic (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));

  gtk_accessible_update_property (row_accessible (row),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, label,
                                  -1);
}

/* What a text row shows beside its text: nothing yet, typed but not saved,
 * saved, or refused (the reason then shows in full on the row below). */
typedef enum {
  ROW_IDLE,
  ROW_UNSAVED,
  ROW_SAVED,
  ROW_REFUSED,
} RowState;

static RowState
get_row_state (GtkWidget *row)
{
  return GPOINTER_TO_INT (g_object_get_data (G_OBJECT (row), "ms-state"));
}

static void
set_row_state (GtkWidget  *row,
               RowState    state,
               const char *saved_text)
{
  GtkWidget *icon = g_object_get_data (G_OBJECT (row), "ms-status");
  const char *icon_name = NULL;
  const char *style = NULL;
  const char *text = NULL;

  g_object_set_data (G_OBJECT (row), "ms-state", GINT_TO_POINTER (state));
  if (icon == NULL)
    return;

  switch (state)
    {
    case ROW_UNSAVED:
      icon_name = "document-edit-symbolic";
      style = "dim-label";
      text = _("Not saved yet: press Enter or go to another field");
      break;
    case ROW_SAVED:
      icon_name = "emblem-ok-symbolic";
      style = "success";
      text = saved_text != NULL ? saved_text : _("Saved");
      break;
    case ROW_REFUSED:
      icon_name = "dialog-error-symbolic";
      style = "error";
      text = _("Not saved: the reason is below");
      break;
    case ROW_IDLE:
    default:
      break;
    }

  gtk_widget_remove_css_class (icon, "dim-label");
  gtk_widget_remove_css_class (icon, "success");
  gtk_widget_remove_css_class (icon, "error");
  gtk_widget_set_visible (icon, icon_name != NULL);
  if (icon_name == NULL)
    return;
  gtk_image_set_from_icon_name (GTK_IMAGE (icon), icon_name);
  gtk_widget_add_css_class (icon, style);
  gtk_widget_set_tooltip_text (icon, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (icon), GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
}

static void
mark_row (GtkWidget  *row,
          const char *reason)
{
  GtkWidget *message = g_object_get_data (G_OBJECT (row), "ms-message");

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
      /* In full, where the eye is: a toast cut the sentence off and went away. */
      if (message != NULL)
        {
          adw_preferences_row_set_title (ADW_PREFERENCES_ROW (message), reason);
          gtk_widget_set_visible (message, TRUE);
        }
      set_row_state (row, ROW_REFUSED, NULL);
    }
  else if (gtk_widget_has_css_class (row, "error"))
    {
      gtk_widget_remove_css_class (row, "error");
      gtk_widget_set_tooltip_text (row, NULL);
      gtk_accessible_reset_state (row_accessible (row), GTK_ACCESSIBLE_STATE_INVALID);
      gtk_accessible_reset_property (row_accessible (row), GTK_ACCESSIBLE_PROPERTY_DESCRIPTION);
      if (message != NULL)
        gtk_widget_set_visible (message, FALSE);
      if (get_row_state (row) == ROW_REFUSED)
        set_row_state (row, ROW_UNSAVED, NULL);
    }
}

/* Returns FALSE when the row holds a value that may not be stored. */
static gboolean
store_text_row (MsAccountWindow *self,
                GtkWidget       *row)
{
  const char *key = g_object_get_data (G_OBJECT (row), "ms-key");
  const char *text = gtk_editable_get_text (GTK_EDITABLE (row));
  g_autofree char *current = NULL;
  g_autoptr(GError) error = NULL;

  if (self->disposed)
    return TRUE;

  current = g_settings_get_string (self->settings, key);
  if (g_strcmp0 (text, current) == 0)
    {
      mark_row (row, NULL);
      if (get_row_state (row) == ROW_UNSAVED)
        set_row_state (row, ROW_IDLE, NULL);
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
      return FALSE;
    }

  mark_row (row, NULL);
  set_row_state (row, ROW_SAVED, NULL);
  return TRUE;
}

static void
on_text_row_apply (MsAccountWindow *self,
                   AdwEntryRow     *row)
{
  store_text_row (self, GTK_WIDGET (row));
}

static void
on_text_row_changed (MsAccountWindow *self,
                     GtkEditable     *row)
{
  const char *key = g_object_get_data (G_OBJECT (row), "ms-key");
  const char *text = gtk_editable_get_text (row);
  g_autofree char *stored = NULL;

  if (self->disposed || key == NULL)
    return;

  stored = g_settings_get_string (self->settings, key);
  if (g_strcmp0 (text, stored) == 0)
    {
      /* Back to what is stored (or the stored value shown again). */
      mark_row (GTK_WIDGET (row), NULL);
      if (get_row_state (GTK_WIDGET (row)) != ROW_SAVED)
        set_row_state (GTK_WIDGET (row), ROW_IDLE, NULL);
      return;
    }

  /* A mark goes away as soon as the value is fixed; a new mark waits for
   * Enter or leaving the field, so that typing is not met by red at the
   * first key. */
  if (get_row_state (GTK_WIDGET (row)) == ROW_REFUSED)
    {
      if (ms_account_check_value (key, text, NULL, NULL))
        mark_row (GTK_WIDGET (row), NULL);
      return;
    }
  set_row_state (GTK_WIDGET (row), ROW_UNSAVED, NULL);
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
  gboolean signs_in = g_settings_get_enum (self->settings, "auth-method") == MS_AUTH_METHOD_OAUTH2;
  g_autofree char *goa_id = g_settings_get_string (self->settings, "goa-account-id");
  /* With an Online Accounts account, GOA signs in: its own row says so, and
   * our client ID and Sign In would only mislead. */
  gboolean oauth2 = signs_in && goa_id[0] == '\0';
  int provider = g_settings_get_enum (self->settings, "oauth2-provider");

  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_provider_row), oauth2);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_client_id_row), oauth2);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_sign_in_row), oauth2);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_tenant_row), oauth2 && provider == MS_OAUTH2_PROVIDER_MICROSOFT);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_auth_endpoint_row), oauth2 && provider == MS_OAUTH2_PROVIDER_CUSTOM);
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_token_endpoint_row), oauth2 && provider == MS_OAUTH2_PROVIDER_CUSTOM);
  /* No password is stored for an OAuth2 account. */
  gtk_widget_set_visible (GTK_WIDGET (self->password_row), !signs_in);
}

/* Where the sign-in row stands: its title says it, its button does the next
 * thing (Sign In, Cancel while the browser has not come back). */
typedef enum {
  SIGN_IN_IDLE,
  SIGN_IN_WAITING,
  SIGN_IN_DONE,
  SIGN_IN_FAILED,
} SignInState;

static void
set_sign_in_state (MsAccountWindow *self,
                   SignInState      state,
                   const char      *text)
{
  GtkWidget *row = GTK_WIDGET (self->oauth2_sign_in_row);
  const char *title = _("Sign in with OAuth2");
  const char *label = _("_Sign In");

  switch (state)
    {
    case SIGN_IN_WAITING:
      title = text != NULL ? text : _("Waiting for the sign-in in your web browser …");
      label = _("_Cancel");
      break;
    case SIGN_IN_DONE:
      title = text;
      label = _("Sign In _Again");
      break;
    case SIGN_IN_FAILED:
      title = text;
      break;
    case SIGN_IN_IDLE:
    default:
      break;
    }
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), title);
  gtk_button_set_label (self->oauth2_sign_in_button, label);
  /* For a screen reader: the row keeps its short name and says the outcome
   * as its description; the button is named by its own words. GTK 4.8 would
   * read the button as its raw label (with the underscore) and then the
   * row's whole title, an address included. */
  {
    g_autofree char *button_name = strip_mnemonic (label);

    gtk_accessible_reset_relation (GTK_ACCESSIBLE (self->oauth2_sign_in_button),
                                   GTK_ACCESSIBLE_RELATION_LABELLED_BY);
    gtk_accessible_update_property (GTK_ACCESSIBLE (self->oauth2_sign_in_button),
                                    GTK_ACCESSIBLE_PROPERTY_LABEL, button_name, -1);
    gtk_accessible_reset_relation (GTK_ACCESSIBLE (row), GTK_ACCESSIBLE_RELATION_LABELLED_BY);
    gtk_accessible_update_property (GTK_ACCESSIBLE (row),
                                    GTK_ACCESSIBLE_PROPERTY_LABEL, _("Sign in with OAuth2"),
                                    GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, text != NULL ? text : "",
                                    -1);
  }
  if (state == SIGN_IN_FAILED)
    gtk_widget_add_css_class (row, "error");
  else
    gtk_widget_remove_css_class (row, "error");
  if (state == SIGN_IN_DONE)
    gtk_widget_add_css_class (row, "success");
  else
    gtk_widget_remove_css_class (row, "success");
  g_object_set_data (G_OBJECT (row), "ms-sign-in-state", GINT_TO_POINTER (state));
}

/* Tests only: a program that stands in for the web browser, run with the
 * address as its one argument, so that a test can do the browser's part on
 * loopback. Unset, the system browser opens it. */
#define MS_TEST_BROWSER_ENV "MAILSHOT_TEST_BROWSER"

static gboolean
open_uri (const char  *uri,
          GError     **error)
{
  const char *test_browser = g_getenv (MS_TEST_BROWSER_ENV);

  if (test_browser != NULL && *test_browser != '\0')
    {
      const char *argv[] = { test_browser, uri, NULL };

      return g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, error);
    }
  /* The system browser (through the portal under Flatpak). */
  return g_app_info_launch_default_for_uri (uri, NULL, error);
}

static void
open_sign_in_page (const char *uri,
                   gpointer    user_data)
{
  MsAccountWindow *self = user_data;
  g_autoptr(GError) error = NULL;

  if (!open_uri (uri, &error))
    {
      g_autofree char *text = g_strdup_printf (_("No web browser could be opened (%s). Open this address "
                                                 "yourself: %s"), error->message, uri);

      /* On the row too, for as long as the wait lasts: a toast goes away. */
      set_sign_in_state (self, SIGN_IN_WAITING, text);
      add_text_toast (self, text);
    }
}

static void
signed_in (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GWeakRef *weak = user_data;
  g_autoptr(MsAccountWindow) self = g_weak_ref_get (weak);
  g_autoptr(GError) error = NULL;
  gboolean ok = ms_oauth2_sign_in_finish (MS_OAUTH2 (source), result, &error);

  g_weak_ref_clear (weak);
  g_free (weak);
  if (self == NULL)
    return;   /* the window is gone */
  g_clear_object (&self->sign_in_cancellable);
  if (g_cancellable_is_cancelled (self->cancellable))
    return;   /* the window is going */
  if (ok)
    {
      g_autofree char *text = g_strdup_printf (_("Signed in as %s with %s"), ms_oauth2_get_user (MS_OAUTH2 (source)),
                                               ms_oauth2_get_provider_name (MS_OAUTH2 (source)));

      /* On the row, where the eye is, not only in a toast that goes away. */
      set_sign_in_state (self, SIGN_IN_DONE, text);
      add_text_toast (self, text);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    set_sign_in_state (self, SIGN_IN_IDLE, NULL);
  else
    {
      set_sign_in_state (self, SIGN_IN_FAILED, error->message);
      add_text_toast (self, error->message);
    }
}

typedef struct {
  GWeakRef weak;
  guint    check;
} SignInCheck;

static void
kept_sign_in_cb (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  SignInCheck *check = user_data;
  g_autoptr(MsAccountWindow) self = g_weak_ref_get (&check->weak);
  g_autoptr(GError) error = NULL;
  gboolean kept = ms_oauth2_has_sign_in_finish (MS_OAUTH2 (source), result, &error);
  guint number = check->check;

  g_weak_ref_clear (&check->weak);
  g_free (check);
  if (error != NULL)
    g_debug ("account window: no kept sign-in: %s", error->message);
  /* Gone, superseded by a later look (the settings changed), or a sign-in
   * under way: this answer is stale. */
  if (self == NULL || !kept || number != self->sign_in_check || self->sign_in_cancellable != NULL ||
      g_cancellable_is_cancelled (self->cancellable))
    return;
  {
    g_autofree char *text = g_strdup_printf (_("Signed in as %s with %s"), ms_oauth2_get_user (MS_OAUTH2 (source)),
                                             ms_oauth2_get_provider_name (MS_OAUTH2 (source)));

    set_sign_in_state (self, SIGN_IN_DONE, text);
  }
}

/* A window opened after a sign-in says so, as the one that signed in did:
 * the refresh token in the keyring is looked up (not the provider). */
static void
check_kept_sign_in (MsAccountWindow *self)
{
  g_autoptr(MsOAuth2) oauth2 = NULL;
  SignInCheck *check;

  self->sign_in_check++;
  if (g_settings_get_enum (self->settings, "auth-method") != MS_AUTH_METHOD_OAUTH2)
    return;
  oauth2 = ms_account_create_oauth2 (self->account, NULL);
  if (oauth2 == NULL)
    return;   /* not set up enough to have signed in */
  check = g_new0 (SignInCheck, 1);
  g_weak_ref_init (&check->weak, self);
  check->check = self->sign_in_check;
  ms_oauth2_has_sign_in_async (oauth2, self->cancellable, kept_sign_in_cb, check);
}

/* Sign In, or Cancel while the browser has not come back. */
static void
on_oauth2_sign_in_clicked (MsAccountWindow *self,
                           GtkButton       *button)
{
  g_autoptr(MsOAuth2) oauth2 = NULL;
  g_autoptr(GError) error = NULL;
  GWeakRef *weak;

  if (self->sign_in_cancellable != NULL)
    {
      g_cancellable_cancel (self->sign_in_cancellable);
      return;
    }
  oauth2 = ms_account_create_oauth2 (self->account, &error);
  if (oauth2 == NULL)
    {
      add_text_toast (self, error->message);
      return;
    }
  self->sign_in_cancellable = g_cancellable_new ();
  set_sign_in_state (self, SIGN_IN_WAITING, NULL);
  /* A weak reference: the wait may last for ever, and a window closed in the
   * meantime must go (its dispose then ends the wait). */
  weak = g_new0 (GWeakRef, 1);
  g_weak_ref_init (weak, self);
  ms_oauth2_sign_in_async (oauth2, open_sign_in_page, self, self->sign_in_cancellable,
                           signed_in, weak);
}

static GtkWidget *
make_note_row (const MsProviderNote *note)
{
  GtkWidget *row = adw_action_row_new ();
  GtkWidget *icon;

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), note->text);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
  /* Warning colours only where a setting must change; a confirmation or a
   * fact reads as normal text. */
  if (note->kind == MS_PROVIDER_NOTE_WARNING)
    {
      icon = gtk_image_new_from_icon_name ("dialog-warning-symbolic");
      gtk_widget_add_css_class (icon, "warning");
      gtk_accessible_update_property (GTK_ACCESSIBLE (icon),
                                      GTK_ACCESSIBLE_PROPERTY_LABEL, _("Warning"),
                                      -1);
    }
  else
    icon = g_object_new (GTK_TYPE_IMAGE,
                         "icon-name", note->kind == MS_PROVIDER_NOTE_OK ? "emblem-ok-symbolic"
                                                                         : "dialog-information-symbolic",
                         "accessible-role", GTK_ACCESSIBLE_ROLE_PRESENTATION,
                         NULL);
  adw_action_row_add_prefix (ADW_ACTION_ROW (row), icon);
  return row;
}

static void fix_accessible_names (GtkWidget *widget, const char *name);

static void
update_provider_hints (MsAccountWindow *self)
{
  g_autofree char *server = g_settings_get_string (self->settings, "smtp-server");
  /* The sending limits against the provider's: they follow the limits as
   * they are typed. */
  MsProviderAccountSettings settings = {
    .server = server,
    .port = g_settings_get_int (self->settings, "smtp-port"),
    .use_smtps = g_settings_get_boolean (self->settings, "use-smtps"),
    .needs_auth = g_settings_get_boolean (self->settings, "needs-authentication"),
    .per_minute = g_settings_get_int (self->settings, "max-per-minute"),
    .per_hour = g_settings_get_int (self->settings, "max-per-hour"),
    .per_day = g_settings_get_int (self->settings, "max-per-day"),
    .connections = g_settings_get_int (self->settings, "max-connections"),
    .oauth2 = g_settings_get_enum (self->settings, "auth-method") == MS_AUTH_METHOD_OAUTH2,
  };
  g_autoptr(GPtrArray) notes = ms_provider_get_notes (&settings);
  const char *title = ms_provider_get_notes_title (server);
  guint warnings = 0;

  for (guint i = 0; i < self->hint_rows->len; i++)
    adw_expander_row_remove (self->provider_expander, g_ptr_array_index (self->hint_rows, i));
  g_ptr_array_set_size (self->hint_rows, 0);

  if (notes->len == 0)
    {
      self->shown_warnings = 0;
      gtk_widget_set_visible (GTK_WIDGET (self->provider_group), FALSE);
      return;
    }

  for (guint i = 0; i < notes->len; i++)
    {
      const MsProviderNote *note = g_ptr_array_index (notes, i);
      GtkWidget *row = make_note_row (note);

      warnings += note->kind == MS_PROVIDER_NOTE_WARNING;
      adw_expander_row_add_row (self->provider_expander, row);
      g_ptr_array_add (self->hint_rows, row);
    }

  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->provider_expander), title != NULL ? title : "");
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->provider_expander),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, title != NULL ? title : "",
                                  -1);
  fix_accessible_names (GTK_WIDGET (self->provider_expander), title);
  if (warnings > 0)
    {
      g_autofree char *subtitle =
        /* Translators: %u is a count of the notes below that ask for a change. */
        g_strdup_printf (ngettext ("%u setting to change, and what to know",
                                   "%u settings to change, and what to know", warnings), warnings);
      adw_expander_row_set_subtitle (self->provider_expander, subtitle);
    }
  else
    adw_expander_row_set_subtitle (self->provider_expander, _("Its limits and sign-in rules"));
  /* Opened when something new needs changing; otherwise left as the user left it. */
  if (warnings > self->shown_warnings)
    adw_expander_row_set_expanded (self->provider_expander, TRUE);
  self->shown_warnings = warnings;
  gtk_widget_set_visible (GTK_WIDGET (self->provider_group), TRUE);
}

/* NTLM matters once someone picks the method themselves. */
static void
update_auth_method_subtitle (MsAccountWindow *self)
{
  if (g_settings_get_enum (self->settings, "auth-method") == MS_AUTH_METHOD_AUTOMATIC)
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->auth_method_row),
                                 _("Automatic picks the safest one the server offers"));
  else
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->auth_method_row),
                                 _("CRAM-MD5 keeps the password off the wire; PLAIN and LOGIN need encryption. "
                                   "NTLM is not supported."));
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

  /* Said beside the field, not in its title: a longer title was cut off. */
  if (gtk_editable_get_text (GTK_EDITABLE (self->password_row))[0] == '\0')
    set_row_state (GTK_WIDGET (self->password_row), password != NULL ? ROW_SAVED : ROW_IDLE,
                   _("Saved in the keyring"));
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
      g_str_equal (key, "needs-authentication") || g_str_has_prefix (key, "max-") ||
      g_str_equal (key, "auth-method"))
    update_provider_hints (self);
  if (g_str_equal (key, "auth-method"))
    update_auth_method_subtitle (self);
  if (g_str_equal (key, "rate-limited-until"))
    update_rate_limit (self);
  if (g_str_equal (key, "smtp-server") || g_str_equal (key, "user-id"))
    update_password_title (self);
  if (g_str_equal (key, "auth-method") || g_str_equal (key, "oauth2-provider") || g_str_equal (key, "goa-account-id"))
    update_oauth2_rows (self);
  /* Signed in as someone else, or somewhere else, than the row says. */
  if ((g_str_has_prefix (key, "oauth2-") || g_str_equal (key, "auth-method") || g_str_equal (key, "user-id") ||
       g_str_equal (key, "email-address")) && self->sign_in_cancellable == NULL)
    {
      set_sign_in_state (self, SIGN_IN_IDLE, NULL);
      check_kept_sign_in (self);
    }
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
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettingsBackend) backend = NULL;
  g_autofree char *path = NULL;
  g_autoptr(GSettings) batch = NULL;

  /* Port and security change in one step, so that nothing sees port 465
   * without SMTPS in between. Delay-apply mode cannot be left again, so it
   * goes on a GSettings of its own: on the account's shared one, every later
   * write (a rate limit, STARTTLS seen) would stay in memory. */
  g_object_get (self->settings, "settings-schema", &schema, "backend", &backend, "path", &path, NULL);
  batch = g_settings_new_full (schema, backend, path);
  g_settings_delay (batch);
  g_settings_set_int (batch, "smtp-port", port);
  /* The well-known ports imply their security. */
  if (port == 465)
    g_settings_set_boolean (batch, "use-smtps", TRUE);
  else if (port == 587 || port == 25)
    g_settings_set_boolean (batch, "use-smtps", FALSE);
  g_settings_apply (batch);
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

/* Gone, and the whole app too when Ctrl+Q asked for it here: the main
 * window would otherwise destroy this one without a question. */
static void
finish_close (MsAccountWindow *self)
{
  gboolean quit = self->quit_after_close;
  GApplication *app = g_application_get_default ();

  /* This window may outlive the main window by a moment (the key event
   * that asked holds it): it must not point at it then. */
  if (quit)
    gtk_window_set_transient_for (GTK_WINDOW (self), NULL);
  gtk_window_destroy (GTK_WINDOW (self));
  if (quit && app != NULL)
    g_action_group_activate_action (G_ACTION_GROUP (app), "quit", NULL);
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
      self->quit_after_close = FALSE;
      gtk_widget_set_visible (GTK_WIDGET (self), TRUE);
      mark_row (GTK_WIDGET (self->password_row), error->message);
      show_store_failure (self, error);
      return;
    }

  if (g_cancellable_is_cancelled (self->cancellable))
    return;
  mark_row (GTK_WIDGET (self->password_row), NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  set_row_state (GTK_WIDGET (self->password_row), ROW_SAVED, _("Saved in the keyring"));

  parent = gtk_window_get_transient_for (GTK_WINDOW (self));
  if (self->close_after_store)
    {
      /* Up through an action: whichever window opened this one may show it. */
      if (parent != NULL)
        gtk_widget_activate_action (GTK_WIDGET (parent), "win.show-toast", "s", _("Password saved in the keyring"));
      finish_close (self);
    }
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
  store_text_row (self, GTK_WIDGET (self->server_row));
  store_text_row (self, GTK_WIDGET (self->user_row));
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

static void
on_close_response (AdwMessageDialog *dialog,
                   const char       *response,
                   MsAccountWindow  *self)
{
  GtkWidget *first = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (text_rows); i++)
    {
      GtkWidget *row = MEMBER (self, text_rows[i].offset);

      if (get_row_state (row) != ROW_REFUSED)
        continue;
      if (first == NULL)
        first = row;
      if (g_str_equal (response, "discard"))
        {
          g_autofree char *stored = g_settings_get_string (self->settings, text_rows[i].key);

          gtk_editable_set_text (GTK_EDITABLE (row), stored);
          mark_row (row, NULL);
          set_row_state (row, ROW_IDLE, NULL);
        }
    }

  if (g_str_equal (response, "discard"))
    {
      /* The dialog is still answering: let it close itself, not go down
       * with this window in the middle of its response. */
      gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), FALSE);
      g_object_remove_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->close_dialog);
      self->close_dialog = NULL;
      gtk_window_close (GTK_WINDOW (self));
    }
  else
    {
      self->quit_after_close = FALSE;
      if (first != NULL)
        gtk_widget_grab_focus (first);
    }
}

/* A refused value is not dropped in silence: say which and why, and let
 * the user go back to it. */
static void
ask_before_closing (MsAccountWindow *self,
                    GPtrArray       *refused)
{
  g_autoptr(GString) body = g_string_new (NULL);
  GtkWidget *dialog;

  if (self->close_dialog != NULL)
    {
      gtk_window_present (GTK_WINDOW (self->close_dialog));
      return;
    }

  for (guint i = 0; i < refused->len; i++)
    g_string_append_printf (body, "%s\n", gtk_widget_get_tooltip_text (g_ptr_array_index (refused, i)));
  g_string_append (body, ngettext ("Closing now discards what you typed there; everything else is saved.",
                                   "Closing now discards what you typed in those fields; everything else is saved.",
                                   refused->len));

  dialog = adw_message_dialog_new (GTK_WINDOW (self),
                                   ngettext ("A Value Was Not Saved", "Some Values Were Not Saved", refused->len),
                                   body->str);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "discard", _("_Discard and Close"),
                                    "keep", _("_Keep Editing"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "discard", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  gtk_window_set_destroy_with_parent (GTK_WINDOW (dialog), TRUE);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_close_response), self, 0);
  self->close_dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->close_dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static gboolean
ms_account_window_close_request (GtkWindow *window)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (window);
  g_autoptr(GPtrArray) refused = g_ptr_array_new ();
  const char *password;

  /* Closing is how most people say "done": keep what they typed, as leaving
   * the field would, also in a number field not committed with Enter yet. */
  for (guint i = 0; i < G_N_ELEMENTS (text_rows); i++)
    if (!store_text_row (self, MEMBER (self, text_rows[i].offset)))
      g_ptr_array_add (refused, MEMBER (self, text_rows[i].offset));
  for (guint i = 0; i < G_N_ELEMENTS (direct_rows); i++)
    if (GTK_IS_SPIN_BUTTON (MEMBER (self, direct_rows[i].widget_offset)))
      gtk_spin_button_update (GTK_SPIN_BUTTON (MEMBER (self, direct_rows[i].widget_offset)));

  if (refused->len > 0)
    {
      ask_before_closing (self, refused);
      return TRUE;
    }

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

  if (self->quit_after_close)
    {
      finish_close (self);
      return TRUE;
    }
  return GTK_WINDOW_CLASS (ms_account_window_parent_class)->close_request (window);
}

static void
quit_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (widget);

  /* This window first, so that what is typed here is saved or asked about. */
  self->quit_after_close = TRUE;
  gtk_window_close (GTK_WINDOW (self));
}

/* Leaving a field saves it, as Enter does. */
static void
on_row_focus_leave (GtkEventControllerFocus *controller,
                    MsAccountWindow         *self)
{
  GtkWidget *row = gtk_event_controller_get_widget (GTK_EVENT_CONTROLLER (controller));

  if (self->disposed || gtk_widget_in_destruction (GTK_WIDGET (self)))
    return;
  if (row == GTK_WIDGET (self->password_row))
    store_password (self);
  else
    store_text_row (self, row);
}

/* Each text row gets a status icon and, right below it in its list, a row
 * that explains a refused value in full. */
static void
add_row_feedback (MsAccountWindow *self,
                  GtkWidget       *row)
{
  GtkWidget *list = gtk_widget_get_parent (row);
  GtkWidget *icon = gtk_image_new ();
  GtkWidget *message = adw_action_row_new ();
  GtkWidget *message_icon = g_object_new (GTK_TYPE_IMAGE,
                                          "icon-name", "dialog-error-symbolic",
                                          "accessible-role", GTK_ACCESSIBLE_ROLE_PRESENTATION,
                                          NULL);
  GtkEventController *focus = gtk_event_controller_focus_new ();

  gtk_widget_set_valign (icon, GTK_ALIGN_CENTER);
  gtk_widget_set_visible (icon, FALSE);
  adw_entry_row_add_suffix (ADW_ENTRY_ROW (row), icon);
  g_object_set_data (G_OBJECT (row), "ms-status", icon);

  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (message), FALSE);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (message), 0);
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (message), FALSE);
  /* The field itself carries the reason for a screen reader (its
   * description); the row is for the eye and no Tab stop. */
  gtk_widget_set_focusable (message, FALSE);
  gtk_widget_add_css_class (message, "field-message");
  gtk_widget_add_css_class (message_icon, "error");
  adw_action_row_add_prefix (ADW_ACTION_ROW (message), message_icon);
  gtk_widget_set_visible (message, FALSE);
  g_assert (GTK_IS_LIST_BOX (list));
  gtk_list_box_insert (GTK_LIST_BOX (list), message, gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (row)) + 1);
  g_object_set_data (G_OBJECT (row), "ms-message", message);

  g_signal_connect_object (focus, "leave", G_CALLBACK (on_row_focus_leave), self, 0);
  gtk_widget_add_controller (row, focus);
}

/* GTK 4.8 names a button with a mnemonic twice ("_Clear Clear": its raw
 * label, then the label inside it), and libadwaita 1.2 leaves some of its
 * own controls without a name, which AT-SPI then reads as "GtkImage" or
 * "GtkListBox". One clean name each. */
static gboolean
list_has_title (GtkWidget *list)
{
  GtkWidget *group = gtk_widget_get_ancestor (list, ADW_TYPE_PREFERENCES_GROUP);
  const char *title = group != NULL ? adw_preferences_group_get_title (ADW_PREFERENCES_GROUP (group)) : NULL;

  return title != NULL && title[0] != '\0';
}

static void
fix_accessible_names (GtkWidget  *widget,
                      const char *name)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      const char *inner = name;

      if (GTK_IS_BUTTON (c) && gtk_button_get_use_underline (GTK_BUTTON (c)))
        gtk_accessible_reset_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL);
      else if (GTK_IS_BUTTON (c) && gtk_button_get_label (GTK_BUTTON (c)) == NULL &&
               gtk_widget_get_ancestor (c, ADW_TYPE_PASSWORD_ENTRY_ROW) != NULL)
        gtk_accessible_update_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Show Password"), -1);
      else if (GTK_IS_SEARCH_ENTRY (c))
        gtk_accessible_update_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Search"), -1);
      else if ((GTK_IS_LIST_BOX (c) || GTK_IS_LIST_VIEW (c)) && name != NULL)
        gtk_accessible_update_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL, name, -1);
      else if (GTK_IS_LIST_BOX (c) && !list_has_title (c))
        /* The search page's lists (search is off, but they are there). */
        gtk_accessible_update_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Search Results"), -1);

      /* The lists inside a row (an expander's, a combo's pop-up) take its name. */
      if (ADW_IS_EXPANDER_ROW (c) || ADW_IS_COMBO_ROW (c))
        {
          g_autofree char *title = strip_mnemonic (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (c)));

          fix_accessible_names (c, title);
        }
      else
        fix_accessible_names (c, inner);
    }
}

GtkWidget *
ms_account_window_focus_row (MsAccountWindow *self,
                             const char      *key)
{
  GtkWidget *row;
  GtkWidget *target;

  g_return_val_if_fail (MS_IS_ACCOUNT_WINDOW (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);

  row = ms_account_window_get_row (self, key);
  if (row == NULL)
    return NULL;
  /* Authentication off: its rows wait for the switch that turns it on. */
  if (!gtk_widget_is_sensitive (row) && gtk_widget_is_ancestor (row, GTK_WIDGET (self)))
    row = GTK_WIDGET (self->needs_auth_row);

  target = row;
  if (row == GTK_WIDGET (self->oauth2_sign_in_row))
    target = GTK_WIDGET (self->oauth2_sign_in_button);
  for (guint i = 0; i < G_N_ELEMENTS (direct_rows); i++)
    if (row == MEMBER (self, direct_rows[i].row_offset))
      target = MEMBER (self, direct_rows[i].widget_offset);
  gtk_widget_grab_focus (target);
  return row;
}

static void
ms_account_window_constructed (GObject *object)
{
  MsAccountWindow *self = MS_ACCOUNT_WINDOW (object);

  G_OBJECT_CLASS (ms_account_window_parent_class)->constructed (object);

  g_assert (self->account != NULL);
  self->settings = g_object_ref (ms_account_get_settings (self->account));
  ms_goa_row_set_settings (self->goa_row, self->settings);

  for (guint i = 0; i < G_N_ELEMENTS (text_rows); i++)
    {
      GtkWidget *row = MEMBER (self, text_rows[i].offset);

      g_object_set_data (G_OBJECT (row), "ms-key", (gpointer) text_rows[i].key);
      label_entry_row (row);
      add_row_feedback (self, row);
      g_settings_bind (self->settings, text_rows[i].key, row, "text",
                       G_SETTINGS_BIND_GET | G_SETTINGS_BIND_NO_SENSITIVITY);
    }

  for (guint i = 0; i < G_N_ELEMENTS (direct_rows); i++)
    {
      GObject *target = G_OBJECT (MEMBER (self, direct_rows[i].widget_offset));

      /* One Tab stop per row: the number or the switch, which the row's
       * title names; a click anywhere on the row still reaches it. */
      gtk_widget_set_focusable (MEMBER (self, direct_rows[i].row_offset), FALSE);
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
  check_kept_sign_in (self);
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
  add_row_feedback (self, GTK_WIDGET (self->password_row));
  /* Rows whose only control is a button: the button is the Tab stop. */
  gtk_widget_set_focusable (GTK_WIDGET (self->rate_limit_row), FALSE);
  gtk_widget_set_focusable (GTK_WIDGET (self->starttls_seen_row), FALSE);

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

  ms_a11y_name_combo_items (self->auth_method_row);
  ms_a11y_name_combo_items (self->oauth2_provider_row);
  update_provider_hints (self);
  update_auth_method_subtitle (self);
  update_rate_limit (self);
  update_password_title (self);
  fix_accessible_names (GTK_WIDGET (self), NULL);
  /* After the general fix, which would leave this button without a name. */
  set_sign_in_state (self, SIGN_IN_IDLE, NULL);
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

  self->disposed = TRUE;
  g_cancellable_cancel (self->cancellable);
  if (self->sign_in_cancellable != NULL)
    g_cancellable_cancel (self->sign_in_cancellable);
  if (self->close_dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->close_dialog));
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

  g_type_ensure (MS_TYPE_GOA_ROW);
  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-account-window.ui");
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, provider_group);
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, provider_expander);
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
  gtk_widget_class_bind_template_child (widget_class, MsAccountWindow, goa_row);
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
  gtk_widget_class_install_action (widget_class, "account.quit", NULL, quit_action);

  /* This window is not one of the application's, so its keys are its own,
   * as the shortcuts window promises them. */
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_q, GDK_CONTROL_MASK, "account.quit", NULL);
}

static void
ms_account_window_init (MsAccountWindow *self)
{
  self->cancellable = g_cancellable_new ();
  self->hint_rows = g_ptr_array_new ();
  gtk_widget_init_template (GTK_WIDGET (self));
}
