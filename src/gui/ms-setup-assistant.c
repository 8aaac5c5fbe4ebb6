/* ms-setup-assistant.c: the first-run assistant: the address, the settings found for it, the password
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-goa.h"
#include "ms-setup-assistant.h"

struct _MsSetupAssistant
{
  AdwWindow           parent_instance;

  MsAccount          *account;
  GCancellable       *cancellable;
  MsAutoconfigResult *result;       /* NULL when entered by hand */
  gboolean            busy;
  gboolean            oauth2_supported;
  GCancellable       *goa_cancellable;
  /* The GNOME Online Accounts account offered for the address, if any. */
  char               *goa_id;
  char               *goa_provider_type;
  char               *goa_identity;

  GtkStack           *stack;
  GtkButton          *back_button;
  AdwEntryRow        *address_row;
  GtkLabel           *error_label;
  GtkButton          *find_button;
  GtkSpinner         *spinner;
  GtkLabel           *provider_label;
  GtkLabel           *source_label;
  AdwEntryRow        *server_row;
  GtkSpinButton      *port_spin;
  GtkSwitch          *smtps_switch;
  AdwEntryRow        *user_row;
  GtkSwitch          *auth_switch;
  AdwComboRow        *method_row;
  AdwPasswordEntryRow *password_row;
  GtkLabel           *oauth2_label;
  AdwActionRow       *goa_row;
  GtkSwitch          *goa_switch;
  GtkLabel           *save_error_label;
};

G_DEFINE_FINAL_TYPE (MsSetupAssistant, ms_setup_assistant, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_ACCOUNT,
  PROP_PAGE,
  PROP_BUSY,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* The auth-method values in the order of the combo row; "oauth2" only when
 * this account knows it. */
static const char * const methods[] = { "automatic", "cram-md5", "plain", "login", "oauth2" };

MsSetupAssistant *
ms_setup_assistant_new (GtkWindow *parent,
                        MsAccount *account)
{
  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);

  return g_object_new (MS_TYPE_SETUP_ASSISTANT,
                       "transient-for", parent,
                       "account", account,
                       NULL);
}

const char *
ms_setup_assistant_get_page (MsSetupAssistant *self)
{
  g_return_val_if_fail (MS_IS_SETUP_ASSISTANT (self), NULL);

  return gtk_stack_get_visible_child_name (self->stack);
}

gboolean
ms_setup_assistant_get_busy (MsSetupAssistant *self)
{
  g_return_val_if_fail (MS_IS_SETUP_ASSISTANT (self), FALSE);

  return self->busy;
}

static void
set_page (MsSetupAssistant *self,
          const char       *page)
{
  gtk_stack_set_visible_child_name (self->stack, page);
  gtk_widget_set_visible (GTK_WIDGET (self->back_button), g_str_equal (page, "settings"));
  /* The first field of the page, not a selectable label, gets the keyboard. */
  if (g_str_equal (page, "settings"))
    gtk_widget_grab_focus (GTK_WIDGET (self->server_row));
  else if (g_str_equal (page, "address"))
    gtk_widget_grab_focus (GTK_WIDGET (self->address_row));
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_PAGE]);
}

static void
set_busy (MsSetupAssistant *self,
          gboolean          busy)
{
  if (self->busy == busy)
    return;
  self->busy = busy;
  gtk_widget_set_visible (GTK_WIDGET (self->spinner), busy);
  gtk_spinner_set_spinning (self->spinner, busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "setup.find", !busy);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "setup.save", !busy);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BUSY]);
}

static void
show_error (GtkLabel   *label,
            const char *message)
{
  gtk_label_set_text (label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (label), message != NULL);
}

static guint
method_index (const char *method)
{
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    if (g_str_equal (methods[i], method))
      return i;
  return 0;
}

static const char *
selected_method (MsSetupAssistant *self)
{
  guint i = adw_combo_row_get_selected (self->method_row);

  return i < G_N_ELEMENTS (methods) ? methods[i] : methods[0];
}

static gboolean
uses_goa (MsSetupAssistant *self)
{
  return self->goa_id != NULL && gtk_widget_get_visible (GTK_WIDGET (self->goa_row)) &&
         gtk_switch_get_active (self->goa_switch);
}

/* OAuth2 needs no password here: the sign-in happens in the browser, or
 * GNOME Online Accounts holds it. */
static void
update_sign_in (MsSetupAssistant *self)
{
  gboolean oauth2 = g_str_equal (selected_method (self), "oauth2");
  const char *provider = self->result ? self->result->provider_name : NULL;
  gboolean wants_oauth2 = self->result && self->result->auth == MS_PROVIDER_AUTH_OAUTH2;
  gboolean goa = uses_goa (self);

  gtk_widget_set_visible (GTK_WIDGET (self->password_row), !oauth2);
  gtk_widget_set_sensitive (GTK_WIDGET (self->method_row), !goa && gtk_switch_get_active (self->auth_switch));
  if (goa)
    {
      /* TRANSLATORS: %s is the account in Online Accounts, e.g. news@example.org */
      g_autofree char *text =
        g_strdup_printf (_("Online Accounts signs %s in: Mailshot stores no password or token. If it asks you to "
                           "sign in again, do so in Settings → Online Accounts."), self->goa_identity);
      gtk_label_set_text (self->oauth2_label, text);
    }
  else if (oauth2)
    {
      g_autofree char *text =
        g_strdup_printf (_("%s signs in with OAuth2, not with a password: after saving, "
                           "sign in from Account Settings."), provider ? provider : _("This provider"));
      gtk_label_set_text (self->oauth2_label, text);
    }
  else if (wants_oauth2 && !self->oauth2_supported)
    {
      g_autofree char *text =
        g_strdup_printf (_("%s signs in only with OAuth2, which this version of Mailshot cannot do. "
                           "If the provider offers app passwords, type one as the password."), provider);
      gtk_label_set_text (self->oauth2_label, text);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->oauth2_label), oauth2 || (wants_oauth2 && !self->oauth2_supported));
}

static void
on_method_changed (MsSetupAssistant *self)
{
  update_sign_in (self);
}

/* With Online Accounts the method is OAuth2, and nothing else to choose. */
static void
on_goa_toggled (MsSetupAssistant *self)
{
  if (uses_goa (self))
    {
      gtk_switch_set_active (self->auth_switch, TRUE);
      adw_combo_row_set_selected (self->method_row, method_index ("oauth2"));
    }
  update_sign_in (self);
}

static void
forget_goa (MsSetupAssistant *self)
{
  g_cancellable_cancel (self->goa_cancellable);
  g_clear_object (&self->goa_cancellable);
  g_clear_pointer (&self->goa_id, g_free);
  g_clear_pointer (&self->goa_provider_type, g_free);
  g_clear_pointer (&self->goa_identity, g_free);
  gtk_widget_set_visible (GTK_WIDGET (self->goa_row), FALSE);
}

#ifdef MS_HAVE_GOA
static void
goa_found (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(MsSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = ms_goa_find_finish (result, &error);
  MsGoaAccount *offer = NULL;

  if (found == NULL)
    return;   /* cancelled: another address was typed */
  /* One that works now before one that needs the user's attention. */
  for (guint i = 0; i < found->len && (offer == NULL || offer->attention_needed); i++)
    offer = found->pdata[i];
  if (offer == NULL)
    return;

  self->goa_id = g_strdup (offer->id);
  self->goa_provider_type = g_strdup (offer->provider_type);
  self->goa_identity = g_strdup (offer->identity);
  {
    /* TRANSLATORS: %s is the provider, "Google" */
    g_autofree char *title = g_strdup_printf (_("_Use the %s account from Online Accounts"), offer->provider_name);
    g_autofree char *subtitle = offer->attention_needed
      ? g_strdup_printf (_("%s: Online Accounts needs you to sign in again first (Settings → Online Accounts)"),
                         offer->identity)
      : g_strdup_printf (_("%s, already signed in in GNOME Settings: no client ID or password needed"),
                         offer->identity);

    adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->goa_row), title);
    adw_action_row_set_subtitle (self->goa_row, subtitle);
  }
  gtk_widget_set_visible (GTK_WIDGET (self->goa_row), TRUE);
  /* Offered switched on: it spares the user a client ID and a password. */
  gtk_switch_set_active (self->goa_switch, TRUE);
  on_goa_toggled (self);
}
#endif

/* In parallel with the settings search: a Google account of GNOME Online
 * Accounts for the same address is offered on the settings page. */
static void
look_for_goa (MsSetupAssistant *self,
              const char       *address)
{
  forget_goa (self);
  gtk_switch_set_active (self->goa_switch, FALSE);
  if (!self->oauth2_supported || !ms_goa_is_supported () || address[0] == '\0')
    return;
#ifdef MS_HAVE_GOA
  self->goa_cancellable = g_cancellable_new ();
  ms_goa_find_async (address, self->goa_cancellable, goa_found, g_object_ref (self));
#endif
}

static void
fill_in (MsSetupAssistant         *self,
         const MsAutoconfigResult *r)
{
  g_autofree char *source = ms_autoconfig_result_describe_source (r);
  /* TRANSLATORS: %s is where the settings came from: "the built-in table of
   * providers", "the autoconfig file at https://…", "MX records point to Google (…)" */
  g_autofree char *text = g_strdup_printf (_("Found in %s. Check them and change what your provider says otherwise."),
                                           source);
  const char *method = ms_autoconfig_result_get_auth_method (r);

  g_clear_pointer (&self->result, ms_autoconfig_result_free);
  self->result = ms_autoconfig_result_copy (r);

  gtk_label_set_text (self->provider_label, r->provider_name);
  gtk_label_set_text (self->source_label, text);
  gtk_editable_set_text (GTK_EDITABLE (self->server_row), r->server);
  gtk_spin_button_set_value (self->port_spin, r->port);
  gtk_switch_set_active (self->smtps_switch, r->use_smtps);
  gtk_editable_set_text (GTK_EDITABLE (self->user_row), r->user_id);
  gtk_switch_set_active (self->auth_switch, ms_autoconfig_result_needs_authentication (r));
  if (g_str_equal (method, "oauth2") && !self->oauth2_supported)
    method = "automatic";
  adw_combo_row_set_selected (self->method_row, method_index (method));
  on_goa_toggled (self);
  show_error (self->save_error_label, NULL);
}

static void
detected (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(MsSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = ms_autoconfig_detect_finish (result, &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_busy (self, FALSE);
  if (r == NULL)
    {
      show_error (self->error_label, error->message);
      return;
    }
  fill_in (self, r);
  set_page (self, "settings");
}

static void
find_settings (MsSetupAssistant *self)
{
  g_autofree char *address = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->address_row))));

  if (self->busy)
    return;
  if (address[0] == '\0')
    {
      show_error (self->error_label, _("Type the e-mail address first."));
      return;
    }
  show_error (self->error_label, NULL);
  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  set_busy (self, TRUE);
  look_for_goa (self, address);
  ms_autoconfig_detect_async (address, self->cancellable, detected, g_object_ref (self));
}

static void
find_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  find_settings (MS_SETUP_ASSISTANT (widget));
}

static void
on_address_activated (MsSetupAssistant *self)
{
  find_settings (self);
}

static void
manual_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsSetupAssistant *self = MS_SETUP_ASSISTANT (widget);
  const char *address = gtk_editable_get_text (GTK_EDITABLE (self->address_row));
  g_autofree char *stripped = g_strstrip (g_strdup (address));

  look_for_goa (self, stripped);
  g_clear_pointer (&self->result, ms_autoconfig_result_free);
  gtk_label_set_text (self->provider_label, _("Your Provider’s Settings"));
  gtk_label_set_text (self->source_label, _("Type what your provider gives as its SMTP settings."));
  gtk_editable_set_text (GTK_EDITABLE (self->server_row), ms_account_get_smtp_server (self->account));
  gtk_spin_button_set_value (self->port_spin, ms_account_get_smtp_port (self->account));
  gtk_switch_set_active (self->smtps_switch, ms_account_get_use_smtps (self->account));
  gtk_editable_set_text (GTK_EDITABLE (self->user_row),
                         ms_account_get_user_id (self->account)[0] ? ms_account_get_user_id (self->account) : address);
  gtk_switch_set_active (self->auth_switch, TRUE);
  adw_combo_row_set_selected (self->method_row, 0);
  update_sign_in (self);
  show_error (self->save_error_label, NULL);
  set_page (self, "settings");
}

static void
back_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  set_page (MS_SETUP_ASSISTANT (widget), "address");
}

static void
password_stored (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(MsSetupAssistant) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!ms_secret_store_finish (result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      set_busy (self, FALSE);
      /* The settings are saved; only the password is missing. */
      show_error (self->save_error_label, error->message);
      return;
    }
  set_busy (self, FALSE);
  gtk_editable_set_text (GTK_EDITABLE (self->password_row), "");
  set_page (self, "done");
}

/* Every value is checked before any is stored, as `config detect --apply`
 * does: a refused one leaves the account as it was. */
static void
save_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MsSetupAssistant *self = MS_SETUP_ASSISTANT (widget);
  g_autoptr(GError) error = NULL;
  g_autofree char *address = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->address_row))));
  g_autofree char *server = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->server_row))));
  g_autofree char *user = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->user_row))));
  g_autofree char *port = NULL;
  const char *password = gtk_editable_get_text (GTK_EDITABLE (self->password_row));
  gboolean needs_auth = gtk_switch_get_active (self->auth_switch);
  const char *method = selected_method (self);
  gboolean goa = uses_goa (self);
  const char *keys[] = {
    "email-address", "smtp-server", "smtp-port", "use-smtps", "user-id",
    "needs-authentication", "auth-method", "goa-account-id",
  };
  const char *values[G_N_ELEMENTS (keys)];

  gtk_spin_button_update (self->port_spin);
  port = g_strdup_printf ("%d", gtk_spin_button_get_value_as_int (self->port_spin));
  values[0] = address;
  values[1] = server;
  values[2] = port;
  values[3] = gtk_switch_get_active (self->smtps_switch) ? "true" : "false";
  values[4] = user;
  values[5] = needs_auth ? "true" : "false";
  values[6] = method;
  /* Online Accounts provides the token, or the app signs in by itself. */
  values[7] = goa ? self->goa_id : "";
  if (goa)
    {
      values[5] = "true";
      values[6] = method = "oauth2";
    }

  if (server[0] == '\0')
    {
      show_error (self->save_error_label, _("Type the SMTP server your provider gives."));
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (!ms_account_check_value (keys[i], values[i], NULL, &error))
      {
        show_error (self->save_error_label, error->message);
        return;
      }
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (!ms_account_set_from_string (self->account, keys[i], values[i], &error))
      {
        show_error (self->save_error_label, error->message);
        return;
      }
  if (goa)
    ms_account_set_from_string (self->account, "oauth2-provider", self->goa_provider_type, NULL);
  else if (g_str_equal (method, "oauth2") && self->result && self->result->oauth2_provider &&
      ms_account_is_key ("oauth2-provider"))
    ms_account_set_from_string (self->account, "oauth2-provider", self->result->oauth2_provider, NULL);
  show_error (self->save_error_label, NULL);

  if (needs_auth && !g_str_equal (method, "oauth2") && password[0] != '\0')
    {
      set_busy (self, TRUE);
      ms_secret_store_async (ms_account_get_name (self->account), server, user, password,
                             self->cancellable, password_stored, g_object_ref (self));
      return;
    }
  set_page (self, "done");
}

/* Up through actions: the window that opened this one does the rest. */
static void
send_test_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (widget));

  if (parent != NULL)
    gtk_widget_activate_action (GTK_WIDGET (parent), "win.send-test", NULL);
  gtk_window_destroy (GTK_WINDOW (widget));
}

static void
open_settings_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  GtkWindow *parent = gtk_window_get_transient_for (GTK_WINDOW (widget));

  if (parent != NULL)
    gtk_widget_activate_action (GTK_WIDGET (parent), "app.preferences", NULL);
  gtk_window_destroy (GTK_WINDOW (widget));
}

static void
ms_setup_assistant_constructed (GObject *object)
{
  MsSetupAssistant *self = MS_SETUP_ASSISTANT (object);
  g_autoptr(GtkStringList) model = gtk_string_list_new (NULL);

  G_OBJECT_CLASS (ms_setup_assistant_parent_class)->constructed (object);

  self->oauth2_supported = ms_account_check_value ("auth-method", "oauth2", NULL, NULL);
  gtk_string_list_append (model, _("Automatic"));
  gtk_string_list_append (model, "CRAM-MD5");
  gtk_string_list_append (model, "PLAIN");
  gtk_string_list_append (model, "LOGIN");
  if (self->oauth2_supported)
    gtk_string_list_append (model, "OAuth2");
  adw_combo_row_set_model (self->method_row, G_LIST_MODEL (model));
  /* The method row follows the switch (and Online Accounts) in update_sign_in(). */
  g_signal_connect_swapped (self->auth_switch, "notify::active", G_CALLBACK (update_sign_in), self);
  g_object_bind_property (self->auth_switch, "active", self->password_row, "sensitive", G_BINDING_SYNC_CREATE);

  gtk_editable_set_text (GTK_EDITABLE (self->address_row), ms_account_get_email_address (self->account));
  set_page (self, "address");
}

static void
ms_setup_assistant_get_property (GObject    *object,
                                 guint       prop_id,
                                 GValue     *value,
                                 GParamSpec *pspec)
{
  MsSetupAssistant *self = MS_SETUP_ASSISTANT (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      g_value_set_object (value, self->account);
      break;
    case PROP_PAGE:
      g_value_set_string (value, ms_setup_assistant_get_page (self));
      break;
    case PROP_BUSY:
      g_value_set_boolean (value, self->busy);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_setup_assistant_set_property (GObject      *object,
                                 guint         prop_id,
                                 const GValue *value,
                                 GParamSpec   *pspec)
{
  MsSetupAssistant *self = MS_SETUP_ASSISTANT (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:
      self->account = g_value_dup_object (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_setup_assistant_dispose (GObject *object)
{
  MsSetupAssistant *self = MS_SETUP_ASSISTANT (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  g_cancellable_cancel (self->goa_cancellable);
  g_clear_object (&self->goa_cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_SETUP_ASSISTANT);
  g_clear_object (&self->account);

  G_OBJECT_CLASS (ms_setup_assistant_parent_class)->dispose (object);
}

static void
ms_setup_assistant_finalize (GObject *object)
{
  MsSetupAssistant *self = MS_SETUP_ASSISTANT (object);

  g_clear_pointer (&self->result, ms_autoconfig_result_free);
  g_free (self->goa_id);
  g_free (self->goa_provider_type);
  g_free (self->goa_identity);

  G_OBJECT_CLASS (ms_setup_assistant_parent_class)->finalize (object);
}

static void
ms_setup_assistant_class_init (MsSetupAssistantClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = ms_setup_assistant_constructed;
  object_class->get_property = ms_setup_assistant_get_property;
  object_class->set_property = ms_setup_assistant_set_property;
  object_class->dispose = ms_setup_assistant_dispose;
  object_class->finalize = ms_setup_assistant_finalize;

  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL, MS_TYPE_ACCOUNT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  properties[PROP_PAGE] =
    g_param_spec_string ("page", NULL, NULL, NULL,
                         G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  properties[PROP_BUSY] =
    g_param_spec_boolean ("busy", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-setup-assistant.ui");
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, stack);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, back_button);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, address_row);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, error_label);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, find_button);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, spinner);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, provider_label);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, source_label);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, server_row);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, port_spin);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, smtps_switch);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, user_row);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, auth_switch);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, method_row);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, password_row);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, oauth2_label);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, goa_row);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, goa_switch);
  gtk_widget_class_bind_template_child (widget_class, MsSetupAssistant, save_error_label);
  gtk_widget_class_bind_template_callback (widget_class, on_address_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_method_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_goa_toggled);

  gtk_widget_class_install_action (widget_class, "setup.find", NULL, find_action);
  gtk_widget_class_install_action (widget_class, "setup.manual", NULL, manual_action);
  gtk_widget_class_install_action (widget_class, "setup.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "setup.save", NULL, save_action);
  gtk_widget_class_install_action (widget_class, "setup.send-test", NULL, send_test_action);
  gtk_widget_class_install_action (widget_class, "setup.open-settings", NULL, open_settings_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_w, GDK_CONTROL_MASK, "window.close", NULL);
}

static void
ms_setup_assistant_init (MsSetupAssistant *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
}
