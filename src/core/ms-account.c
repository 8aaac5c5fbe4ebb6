/* ms-account.c: the account form as a GObject, bound to its GSettings path
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#define G_SETTINGS_ENABLE_BACKEND
#include <gio/gsettingsbackend.h>
#include <glib/gi18n-lib.h>
#include <string.h>

#include "ms-account.h"
#include "ms-core-enums.h"
#include "ms-error.h"
#include "ms-oauth2.h"
#include "ms-recipients.h"
#include "ms-secret.h"

/* How a key's text is checked; the rule's wording lives in check_value(). */
typedef enum {
  KIND_ADDRESS,
  KIND_TEXT,
  KIND_HOST,
  KIND_EHLO,
  KIND_INT,
  KIND_BOOL,
  KIND_AUTH,
  KIND_TIME,
  KIND_FINGERPRINT,
  KIND_OAUTH2_PROVIDER,
  KIND_CLIENT_ID,
  KIND_TENANT,
  KIND_HTTPS_URL,
  KIND_GOA_ID,
} KeyKind;

typedef struct {
  const char *key;
  KeyKind     kind;
  gint64      min;
  gint64      max;
  const char *label;   /* the name advice gives the setting (“Use SMTPS”) */
} KeyInfo;

/* Form order; the same order as the properties below (PROP_FIRST_KEY + i).
 * The integer ranges repeat the schema's; test-account checks they agree. */
static const KeyInfo keys[] = {
  { "email-address",            KIND_ADDRESS,     0, 0, N_("E-mail address") },
  { "sender-name",              KIND_TEXT,        0, 0, N_("Sender name") },
  { "smtp-server",              KIND_HOST,        0, 0, N_("SMTP server") },
  { "smtp-port",                KIND_INT,         1, 65535, N_("SMTP port") },
  { "use-smtps",                KIND_BOOL,        0, 0, N_("Use SMTPS") },
  { "ehlo-host",                KIND_EHLO,        0, 0, N_("EHLO host name") },
  { "needs-authentication",     KIND_BOOL,        0, 0, N_("Needs authentication") },
  { "user-id",                  KIND_TEXT,        0, 0, N_("User ID") },
  { "auth-method",              KIND_AUTH,        0, 0, N_("Authentication method") },
  { "oauth2-provider",          KIND_OAUTH2_PROVIDER, 0, 0, N_("OAuth2 provider") },
  { "oauth2-client-id",         KIND_CLIENT_ID,   0, 0, N_("OAuth2 client ID") },
  { "oauth2-tenant",            KIND_TENANT,      0, 0, N_("Microsoft tenant") },
  { "oauth2-auth-endpoint",     KIND_HTTPS_URL,   0, 0, N_("OAuth2 authorization endpoint") },
  { "oauth2-token-endpoint",    KIND_HTTPS_URL,   0, 0, N_("OAuth2 token endpoint") },
  { "goa-account-id",           KIND_GOA_ID,      0, 0, N_("Signed in through Online Accounts") },
  { "allow-plaintext-password", KIND_BOOL,        0, 0, N_("Send the password unencrypted") },
  { "timeout",                  KIND_INT,         1, 600, N_("Timeout in seconds") },
  { "trusted-certificate",      KIND_FINGERPRINT, 0, 0, N_("Trusted certificate") },
  { "max-connections",          KIND_INT,         1, 64, N_("Connections at once") },
  { "max-per-minute",           KIND_INT,         0, 1000000, N_("Messages per minute") },
  { "max-per-hour",             KIND_INT,         0, 10000000, N_("Messages per hour") },
  { "max-per-day",              KIND_INT,         0, 100000000, N_("Messages per rolling day") },
  { "rate-limited-until",       KIND_TIME,        0, G_MAXINT64, N_("Rate limited until") },
  { "starttls-seen",            KIND_BOOL,        0, 0, N_("The server has offered STARTTLS") },
};

/* Free text (user-id, sender-name) is bounded so a pasted file cannot end up in dconf. */
#define MAX_TEXT_LENGTH 1024
/* Client IDs are GUIDs (Microsoft) or about 75 characters (Google). */
#define MAX_CLIENT_ID_LENGTH 256
#define MAX_URL_LENGTH 2048

struct _MsAccount
{
  GObject       parent_instance;

  char         *name;
  GSettings    *settings;

  char         *email_address;
  char         *sender_name;
  char         *smtp_server;
  int           smtp_port;
  gboolean      use_smtps;
  char         *ehlo_host;
  gboolean      needs_authentication;
  char         *user_id;
  MsAuthMethod  auth_method;
  MsOAuth2Provider oauth2_provider;
  char         *oauth2_client_id;
  char         *oauth2_tenant;
  char         *oauth2_auth_endpoint;
  char         *oauth2_token_endpoint;
  char         *goa_account_id;
  gboolean      allow_plaintext_password;
  int           timeout;
  char         *trusted_certificate;
  int           max_connections;
  int           max_per_minute;
  int           max_per_hour;
  int           max_per_day;
  gint64        rate_limited_until;
  gboolean      starttls_seen;
};

G_DEFINE_FINAL_TYPE (MsAccount, ms_account, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_NAME,
  PROP_SETTINGS,
  /* One per key, in the order of keys[]. */
  PROP_EMAIL_ADDRESS,
  PROP_SENDER_NAME,
  PROP_SMTP_SERVER,
  PROP_SMTP_PORT,
  PROP_USE_SMTPS,
  PROP_EHLO_HOST,
  PROP_NEEDS_AUTHENTICATION,
  PROP_USER_ID,
  PROP_AUTH_METHOD,
  PROP_OAUTH2_PROVIDER,
  PROP_OAUTH2_CLIENT_ID,
  PROP_OAUTH2_TENANT,
  PROP_OAUTH2_AUTH_ENDPOINT,
  PROP_OAUTH2_TOKEN_ENDPOINT,
  PROP_GOA_ACCOUNT_ID,
  PROP_ALLOW_PLAINTEXT_PASSWORD,
  PROP_TIMEOUT,
  PROP_TRUSTED_CERTIFICATE,
  PROP_MAX_CONNECTIONS,
  PROP_MAX_PER_MINUTE,
  PROP_MAX_PER_HOUR,
  PROP_MAX_PER_DAY,
  PROP_RATE_LIMITED_UNTIL,
  PROP_STARTTLS_SEEN,
  N_PROPS
};

#define PROP_FIRST_KEY PROP_EMAIL_ADDRESS

G_STATIC_ASSERT (G_N_ELEMENTS (keys) == N_PROPS - PROP_FIRST_KEY);

static GParamSpec *properties[N_PROPS];

static const KeyInfo *
find_key (const char *key)
{
  if (key == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].key, key) == 0)
      return &keys[i];
  return NULL;
}

/* Setters: return early when nothing changed, so the GSettings binding and
 * the GUI only hear about real changes. */
static void
set_string (MsAccount  *self,
            char      **field,
            const char *value,
            guint       prop)
{
  if (value == NULL)
    value = "";
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_int (MsAccount *self,
         int       *field,
         int        value,
         guint      prop)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_bool (MsAccount *self,
          gboolean  *field,
          gboolean   value,
          guint      prop)
{
  value = !!value;
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_auth_method (MsAccount    *self,
                 MsAuthMethod  value)
{
  if (self->auth_method == value)
    return;
  self->auth_method = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_AUTH_METHOD]);
}

static void
set_oauth2_provider (MsAccount        *self,
                     MsOAuth2Provider  value)
{
  if (self->oauth2_provider == value)
    return;
  self->oauth2_provider = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_OAUTH2_PROVIDER]);
}

static void
set_rate_limited_until (MsAccount *self,
                        gint64     value)
{
  if (self->rate_limited_until == value)
    return;
  self->rate_limited_until = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_RATE_LIMITED_UNTIL]);
}

static void
ms_account_constructed (GObject *object)
{
  MsAccount *self = MS_ACCOUNT (object);

  G_OBJECT_CLASS (ms_account_parent_class)->constructed (object);

  g_assert (self->settings != NULL);

  /* Key by key, both ways: the GUI's widgets bind to the properties, and a
   * change made elsewhere (the CLI, dconf-editor) shows up at once. The enum
   * key maps to the MsAuthMethod property by nick, which GSettings does itself. */
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_settings_bind (self->settings, keys[i].key, self, keys[i].key, G_SETTINGS_BIND_DEFAULT);
}

static void
ms_account_dispose (GObject *object)
{
  MsAccount *self = MS_ACCOUNT (object);

  if (self->settings != NULL)
    for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
      g_settings_unbind (self, keys[i].key);
  g_clear_object (&self->settings);

  G_OBJECT_CLASS (ms_account_parent_class)->dispose (object);
}

static void
ms_account_finalize (GObject *object)
{
  MsAccount *self = MS_ACCOUNT (object);

  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->email_address, g_free);
  g_clear_pointer (&self->sender_name, g_free);
  g_clear_pointer (&self->smtp_server, g_free);
  g_clear_pointer (&self->ehlo_host, g_free);
  g_clear_pointer (&self->user_id, g_free);
  g_clear_pointer (&self->oauth2_client_id, g_free);
  g_clear_pointer (&self->oauth2_tenant, g_free);
  g_clear_pointer (&self->oauth2_auth_endpoint, g_free);
  g_clear_pointer (&self->oauth2_token_endpoint, g_free);
  g_clear_pointer (&self->goa_account_id, g_free);
  g_clear_pointer (&self->trusted_certificate, g_free);

  G_OBJECT_CLASS (ms_account_parent_class)->finalize (object);
}

static void
ms_account_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MsAccount *self = MS_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, self->name); break;
    case PROP_SETTINGS: g_value_set_object (value, self->settings); break;
    case PROP_EMAIL_ADDRESS: g_value_set_string (value, self->email_address); break;
    case PROP_SENDER_NAME: g_value_set_string (value, self->sender_name); break;
    case PROP_SMTP_SERVER: g_value_set_string (value, self->smtp_server); break;
    case PROP_SMTP_PORT: g_value_set_int (value, self->smtp_port); break;
    case PROP_USE_SMTPS: g_value_set_boolean (value, self->use_smtps); break;
    case PROP_EHLO_HOST: g_value_set_string (value, self->ehlo_host); break;
    case PROP_NEEDS_AUTHENTICATION: g_value_set_boolean (value, self->needs_authentication); break;
    case PROP_USER_ID: g_value_set_string (value, self->user_id); break;
    case PROP_AUTH_METHOD: g_value_set_enum (value, self->auth_method); break;
    case PROP_OAUTH2_PROVIDER: g_value_set_enum (value, self->oauth2_provider); break;
    case PROP_OAUTH2_CLIENT_ID: g_value_set_string (value, self->oauth2_client_id); break;
    case PROP_OAUTH2_TENANT: g_value_set_string (value, self->oauth2_tenant); break;
    case PROP_OAUTH2_AUTH_ENDPOINT: g_value_set_string (value, self->oauth2_auth_endpoint); break;
    case PROP_OAUTH2_TOKEN_ENDPOINT: g_value_set_string (value, self->oauth2_token_endpoint); break;
    case PROP_GOA_ACCOUNT_ID: g_value_set_string (value, self->goa_account_id); break;
    case PROP_ALLOW_PLAINTEXT_PASSWORD: g_value_set_boolean (value, self->allow_plaintext_password); break;
    case PROP_TIMEOUT: g_value_set_int (value, self->timeout); break;
    case PROP_TRUSTED_CERTIFICATE: g_value_set_string (value, self->trusted_certificate); break;
    case PROP_MAX_CONNECTIONS: g_value_set_int (value, self->max_connections); break;
    case PROP_MAX_PER_MINUTE: g_value_set_int (value, self->max_per_minute); break;
    case PROP_MAX_PER_HOUR: g_value_set_int (value, self->max_per_hour); break;
    case PROP_MAX_PER_DAY: g_value_set_int (value, self->max_per_day); break;
    case PROP_RATE_LIMITED_UNTIL: g_value_set_int64 (value, self->rate_limited_until); break;
    case PROP_STARTTLS_SEEN: g_value_set_boolean (value, self->starttls_seen); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_account_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  MsAccount *self = MS_ACCOUNT (object);

  switch (prop_id)
    {
    case PROP_NAME: self->name = g_value_dup_string (value); break;
    case PROP_SETTINGS: self->settings = g_value_dup_object (value); break;
    case PROP_EMAIL_ADDRESS: set_string (self, &self->email_address, g_value_get_string (value), prop_id); break;
    case PROP_SENDER_NAME: set_string (self, &self->sender_name, g_value_get_string (value), prop_id); break;
    case PROP_SMTP_SERVER: set_string (self, &self->smtp_server, g_value_get_string (value), prop_id); break;
    case PROP_SMTP_PORT: set_int (self, &self->smtp_port, g_value_get_int (value), prop_id); break;
    case PROP_USE_SMTPS: set_bool (self, &self->use_smtps, g_value_get_boolean (value), prop_id); break;
    case PROP_EHLO_HOST: set_string (self, &self->ehlo_host, g_value_get_string (value), prop_id); break;
    case PROP_NEEDS_AUTHENTICATION: set_bool (self, &self->needs_authentication, g_value_get_boolean (value), prop_id); break;
    case PROP_USER_ID: set_string (self, &self->user_id, g_value_get_string (value), prop_id); break;
    case PROP_AUTH_METHOD: set_auth_method (self, g_value_get_enum (value)); break;
    case PROP_OAUTH2_PROVIDER: set_oauth2_provider (self, g_value_get_enum (value)); break;
    case PROP_OAUTH2_CLIENT_ID: set_string (self, &self->oauth2_client_id, g_value_get_string (value), prop_id); break;
    case PROP_OAUTH2_TENANT: set_string (self, &self->oauth2_tenant, g_value_get_string (value), prop_id); break;
    case PROP_OAUTH2_AUTH_ENDPOINT: set_string (self, &self->oauth2_auth_endpoint, g_value_get_string (value), prop_id); break;
    case PROP_OAUTH2_TOKEN_ENDPOINT: set_string (self, &self->oauth2_token_endpoint, g_value_get_string (value), prop_id); break;
    case PROP_GOA_ACCOUNT_ID: set_string (self, &self->goa_account_id, g_value_get_string (value), prop_id); break;
    case PROP_ALLOW_PLAINTEXT_PASSWORD: set_bool (self, &self->allow_plaintext_password, g_value_get_boolean (value), prop_id); break;
    case PROP_TIMEOUT: set_int (self, &self->timeout, g_value_get_int (value), prop_id); break;
    case PROP_TRUSTED_CERTIFICATE: set_string (self, &self->trusted_certificate, g_value_get_string (value), prop_id); break;
    case PROP_MAX_CONNECTIONS: set_int (self, &self->max_connections, g_value_get_int (value), prop_id); break;
    case PROP_MAX_PER_MINUTE: set_int (self, &self->max_per_minute, g_value_get_int (value), prop_id); break;
    case PROP_MAX_PER_HOUR: set_int (self, &self->max_per_hour, g_value_get_int (value), prop_id); break;
    case PROP_MAX_PER_DAY: set_int (self, &self->max_per_day, g_value_get_int (value), prop_id); break;
    case PROP_RATE_LIMITED_UNTIL: set_rate_limited_until (self, g_value_get_int64 (value)); break;
    case PROP_STARTTLS_SEEN: set_bool (self, &self->starttls_seen, g_value_get_boolean (value), prop_id); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_account_class_init (MsAccountClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;
  const GParamFlags co = G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS;

  object_class->constructed = ms_account_constructed;
  object_class->dispose = ms_account_dispose;
  object_class->finalize = ms_account_finalize;
  object_class->get_property = ms_account_get_property;
  object_class->set_property = ms_account_set_property;

  properties[PROP_NAME] =
    g_param_spec_string ("name", NULL, "The account's name, the last element of its settings path",
                         MS_ACCOUNT_DEFAULT, co);
  properties[PROP_SETTINGS] =
    g_param_spec_object ("settings", NULL, "The account's relocatable GSettings",
                         G_TYPE_SETTINGS, co);

  /* Defaults and ranges repeat the schema; the binding sets the real values at once. */
  properties[PROP_EMAIL_ADDRESS] =
    g_param_spec_string ("email-address", NULL, NULL, "", rw);
  properties[PROP_SENDER_NAME] =
    g_param_spec_string ("sender-name", NULL, NULL, "", rw);
  properties[PROP_SMTP_SERVER] =
    g_param_spec_string ("smtp-server", NULL, NULL, "", rw);
  properties[PROP_SMTP_PORT] =
    g_param_spec_int ("smtp-port", NULL, NULL, 1, 65535, 587, rw);
  properties[PROP_USE_SMTPS] =
    g_param_spec_boolean ("use-smtps", NULL, NULL, FALSE, rw);
  properties[PROP_EHLO_HOST] =
    g_param_spec_string ("ehlo-host", NULL, NULL, "", rw);
  properties[PROP_NEEDS_AUTHENTICATION] =
    g_param_spec_boolean ("needs-authentication", NULL, NULL, TRUE, rw);
  properties[PROP_USER_ID] =
    g_param_spec_string ("user-id", NULL, NULL, "", rw);
  properties[PROP_AUTH_METHOD] =
    g_param_spec_enum ("auth-method", NULL, NULL, MS_TYPE_AUTH_METHOD, MS_AUTH_METHOD_AUTOMATIC, rw);
  properties[PROP_OAUTH2_PROVIDER] =
    g_param_spec_enum ("oauth2-provider", NULL, NULL, MS_TYPE_OAUTH2_PROVIDER, MS_OAUTH2_PROVIDER_MICROSOFT, rw);
  properties[PROP_OAUTH2_CLIENT_ID] =
    g_param_spec_string ("oauth2-client-id", NULL, NULL, "", rw);
  properties[PROP_OAUTH2_TENANT] =
    g_param_spec_string ("oauth2-tenant", NULL, NULL, "organizations", rw);
  properties[PROP_OAUTH2_AUTH_ENDPOINT] =
    g_param_spec_string ("oauth2-auth-endpoint", NULL, NULL, "", rw);
  properties[PROP_OAUTH2_TOKEN_ENDPOINT] =
    g_param_spec_string ("oauth2-token-endpoint", NULL, NULL, "", rw);
  properties[PROP_GOA_ACCOUNT_ID] =
    g_param_spec_string ("goa-account-id", NULL, NULL, "", rw);
  properties[PROP_ALLOW_PLAINTEXT_PASSWORD] =
    g_param_spec_boolean ("allow-plaintext-password", NULL, NULL, FALSE, rw);
  properties[PROP_TIMEOUT] =
    g_param_spec_int ("timeout", NULL, NULL, 1, 600, 30, rw);
  properties[PROP_TRUSTED_CERTIFICATE] =
    g_param_spec_string ("trusted-certificate", NULL, NULL, "", rw);
  properties[PROP_MAX_CONNECTIONS] =
    g_param_spec_int ("max-connections", NULL, NULL, 1, 64, 1, rw);
  properties[PROP_MAX_PER_MINUTE] =
    g_param_spec_int ("max-per-minute", NULL, NULL, 0, 1000000, 0, rw);
  properties[PROP_MAX_PER_HOUR] =
    g_param_spec_int ("max-per-hour", NULL, NULL, 0, 10000000, 0, rw);
  properties[PROP_MAX_PER_DAY] =
    g_param_spec_int ("max-per-day", NULL, NULL, 0, 100000000, 0, rw);
  properties[PROP_RATE_LIMITED_UNTIL] =
    g_param_spec_int64 ("rate-limited-until", NULL, NULL, 0, G_MAXINT64, 0, rw);
  properties[PROP_STARTTLS_SEEN] =
    g_param_spec_boolean ("starttls-seen", NULL, NULL, FALSE, rw);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ms_account_init (MsAccount *self)
{
  self->email_address = g_strdup ("");
  self->sender_name = g_strdup ("");
  self->smtp_server = g_strdup ("");
  self->ehlo_host = g_strdup ("");
  self->user_id = g_strdup ("");
  self->trusted_certificate = g_strdup ("");
  self->oauth2_client_id = g_strdup ("");
  self->oauth2_tenant = g_strdup ("organizations");
  self->oauth2_auth_endpoint = g_strdup ("");
  self->oauth2_token_endpoint = g_strdup ("");
  self->goa_account_id = g_strdup ("");
  self->smtp_port = 587;
  self->timeout = 30;
  self->needs_authentication = TRUE;
  self->max_connections = 1;
}

/**
 * ms_account_name_is_valid:
 * @name: an account name
 *
 * Returns: whether @name is usable as an account name ([A-Za-z0-9_-]+).
 */
gboolean
ms_account_name_is_valid (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

/**
 * ms_account_new:
 * @name: (nullable): the account's name; %NULL for "default"
 * @error: return location for a #GError
 *
 * Opens the account stored at /io/github/mailshot/Mailshot/accounts/@name/.
 *
 * Returns: (transfer full): the account, or %NULL when the name is not
 *   usable or the settings schema is not installed.
 */
MsAccount *
ms_account_new (const char  *name,
                GError     **error)
{
  GSettingsSchemaSource *source;
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettings) settings = NULL;
  g_autofree char *path = NULL;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (name == NULL)
    name = MS_ACCOUNT_DEFAULT;

  if (!ms_account_name_is_valid (name))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("“%s” cannot be an account name: use letters, digits, “-” and “_” only"),
                   name);
      return NULL;
    }

  source = g_settings_schema_source_get_default ();
  if (source != NULL)
    schema = g_settings_schema_source_lookup (source, MS_ACCOUNT_SCHEMA_ID, TRUE);
  if (schema == NULL)
    {
      /* g_settings_new() would abort the program here; explain the fix instead. */
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                   _("The settings schema %s is not installed. Install Mailshot "
                     "(“meson install” runs glib-compile-schemas), or set GSETTINGS_SCHEMA_DIR "
                     "to a directory holding the compiled schema, such as the build tree’s “data” directory."),
                   MS_ACCOUNT_SCHEMA_ID);
      return NULL;
    }

  path = g_strconcat (MS_ACCOUNT_PATH_PREFIX, name, "/", NULL);
  settings = g_settings_new_full (schema, NULL, path);

  return g_object_new (MS_TYPE_ACCOUNT,
                       "name", name,
                       "settings", settings,
                       NULL);
}

const char *
ms_account_get_name (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->name;
}

/**
 * ms_account_get_settings:
 *
 * Returns: (transfer none): the account's GSettings
 */
GSettings *
ms_account_get_settings (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->settings;
}

const char *
ms_account_get_email_address (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->email_address;
}

const char *
ms_account_get_sender_name (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->sender_name;
}

const char *
ms_account_get_smtp_server (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->smtp_server;
}

int
ms_account_get_smtp_port (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), 0);
  return self->smtp_port;
}

gboolean
ms_account_get_use_smtps (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), FALSE);
  return self->use_smtps;
}

const char *
ms_account_get_ehlo_host (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->ehlo_host;
}

gboolean
ms_account_get_needs_authentication (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), FALSE);
  return self->needs_authentication;
}

const char *
ms_account_get_user_id (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->user_id;
}

MsAuthMethod
ms_account_get_auth_method (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), MS_AUTH_METHOD_AUTOMATIC);
  return self->auth_method;
}

MsOAuth2Provider
ms_account_get_oauth2_provider (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), MS_OAUTH2_PROVIDER_MICROSOFT);
  return self->oauth2_provider;
}

const char *
ms_account_get_oauth2_client_id (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->oauth2_client_id;
}

const char *
ms_account_get_oauth2_tenant (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->oauth2_tenant;
}

const char *
ms_account_get_oauth2_auth_endpoint (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->oauth2_auth_endpoint;
}

const char *
ms_account_get_oauth2_token_endpoint (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->oauth2_token_endpoint;
}

/* "" when this app signs in by itself; else GNOME Online Accounts' ID of
 * the account that provides the OAuth2 token. */
const char *
ms_account_get_goa_account_id (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->goa_account_id;
}

gboolean
ms_account_get_allow_plaintext_password (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), FALSE);
  return self->allow_plaintext_password;
}

int
ms_account_get_timeout (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), 0);
  return self->timeout;
}

const char *
ms_account_get_trusted_certificate (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  return self->trusted_certificate;
}

int
ms_account_get_max_connections (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), 1);
  return self->max_connections;
}

int
ms_account_get_max_per_minute (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), 0);
  return self->max_per_minute;
}

int
ms_account_get_max_per_hour (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), 0);
  return self->max_per_hour;
}

int
ms_account_get_max_per_day (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), 0);
  return self->max_per_day;
}

gint64
ms_account_get_rate_limited_until (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), 0);
  return self->rate_limited_until;
}

/**
 * ms_account_set_rate_limited_until:
 * @until: a Unix time in seconds; 0 when the server no longer limits us
 *
 * Writes the "rate-limited-until" key (the property follows through the
 * binding). Call it in the thread that owns the account.
 */
void
ms_account_set_rate_limited_until (MsAccount *self,
                                   gint64     until)
{
  g_return_if_fail (MS_IS_ACCOUNT (self));
  g_return_if_fail (until >= 0);

  if (g_settings_get_int64 (self->settings, "rate-limited-until") != until)
    g_settings_set_int64 (self->settings, "rate-limited-until", until);
  set_rate_limited_until (self, until);
}

gboolean
ms_account_get_starttls_seen (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), FALSE);
  return self->starttls_seen;
}

/**
 * ms_account_set_starttls_seen:
 *
 * Remembers that the server offered STARTTLS, so that a later session
 * without it is refused as a possible downgrade attack.
 */
void
ms_account_set_starttls_seen (MsAccount *self,
                              gboolean   seen)
{
  g_return_if_fail (MS_IS_ACCOUNT (self));

  if (g_settings_get_boolean (self->settings, "starttls-seen") != !!seen)
    g_settings_set_boolean (self->settings, "starttls-seen", seen);
  set_bool (self, &self->starttls_seen, seen, PROP_STARTTLS_SEEN);
}

/**
 * ms_account_note_session:
 * @starttls_offered: whether the server offered STARTTLS in the session
 * @reply: (nullable): how the session failed, %NULL when it did not
 *
 * Keeps what a session (a test or a batch) learnt about the server, the same
 * way for every front end: that it offers STARTTLS, for the downgrade check,
 * and until when a rate limit holds. A limit is never moved earlier, and a
 * session without STARTTLS does not forget that one offered it.
 */
void
ms_account_note_session (MsAccount     *self,
                         gboolean       starttls_offered,
                         const MsReply *reply)
{
  g_return_if_fail (MS_IS_ACCOUNT (self));

  if (starttls_offered && !self->starttls_seen)
    ms_account_set_starttls_seen (self, TRUE);
  if (reply != NULL && reply->klass == MS_REPLY_CLASS_RATE_LIMITED &&
      reply->until > self->rate_limited_until)
    ms_account_set_rate_limited_until (self, reply->until);
}

gboolean
ms_account_is_configured (MsAccount *self)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), FALSE);
  return self->smtp_server[0] != '\0' && self->email_address[0] != '\0';
}

/* ------------------------------------------------------------------ */
/* Validation                                                          */

/* RFC 1123 host name: dot-separated labels of letters, digits and hyphens,
 * 1–63 characters each, no hyphen at either end, at most 253 in all. An
 * all-digit last label is refused: that is a mistyped IPv4 address, not a name. */
static gboolean
is_host_name (const char *text)
{
  gsize len = strlen (text);
  const char *label = text;
  gboolean last_all_digits = TRUE;

  if (len > 0 && text[len - 1] == '.')
    len--;
  if (len == 0 || len > 253)
    return FALSE;

  for (gsize i = 0; i <= len; i++)
    {
      if (i == len || text[i] == '.')
        {
          gsize label_len = (text + i) - label;

          if (label_len == 0 || label_len > 63)
            return FALSE;
          if (label[0] == '-' || label[label_len - 1] == '-')
            return FALSE;
          if (i == len && last_all_digits)
            return FALSE;
          label = text + i + 1;
          last_all_digits = TRUE;
          continue;
        }
      if (!g_ascii_isalnum (text[i]) && text[i] != '-')
        return FALSE;
      if (!g_ascii_isdigit (text[i]))
        last_all_digits = FALSE;
    }
  return TRUE;
}

/* A bare IPv4/IPv6 address, or an IPv6 one in brackets as in a URL. */
static gboolean
is_ip_literal (const char *text)
{
  gsize len = strlen (text);

  if (len > 2 && text[0] == '[' && text[len - 1] == ']')
    {
      g_autofree char *inner = g_strndup (text + 1, len - 2);
      return strchr (inner, ':') != NULL && g_hostname_is_ip_address (inner);
    }
  return g_hostname_is_ip_address (text);
}

/* An SMTP address literal (RFC 5321 4.1.3): [192.0.2.1] or [IPv6:2001:db8::1]. */
static gboolean
is_address_literal (const char *text)
{
  gsize len = strlen (text);
  g_autofree char *inner = NULL;

  if (len < 3 || text[0] != '[' || text[len - 1] != ']')
    return FALSE;
  inner = g_strndup (text + 1, len - 2);
  if (g_ascii_strncasecmp (inner, "IPv6:", 5) == 0)
    return strchr (inner + 5, ':') != NULL && g_hostname_is_ip_address (inner + 5);
  return strchr (inner, ':') == NULL && g_hostname_is_ip_address (inner);
}

/* A host name given in another script is kept in its ASCII (punycode) form,
 * the one that goes on the wire. Returns NULL when @text is no usable host. */
static char *
normalise_host (const char *text)
{
  g_autofree char *ascii = NULL;

  if (is_ip_literal (text))
    return g_strdup (text);
  if (g_hostname_is_non_ascii (text))
    {
      ascii = g_hostname_to_ascii (text);
      if (ascii == NULL)
        return NULL;
      text = ascii;
    }
  if (!is_host_name (text))
    return NULL;
  return g_strdup (text);
}

static gboolean
has_control_characters (const char *text)
{
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return TRUE;
  return FALSE;
}

/* One rule for every e-mail address, the recipients' and the account's own:
 * this one and ms-recipients.c used to disagree (a@1.2.3.4, a@exa_mple.org,
 * a@example.org; were accepted by one and refused by the other). */
static gboolean
is_email_address (const char *text)
{
  return ms_recipients_address_is_valid (text);
}

static gboolean
parse_bool (const char *text,
            gboolean   *out)
{
  static const char * const yes[] = { "true", "yes", "on", "1" };
  static const char * const no[] = { "false", "no", "off", "0" };

  for (guint i = 0; i < G_N_ELEMENTS (yes); i++)
    {
      if (g_ascii_strcasecmp (text, yes[i]) == 0)
        {
          *out = TRUE;
          return TRUE;
        }
      if (g_ascii_strcasecmp (text, no[i]) == 0)
        {
          *out = FALSE;
          return TRUE;
        }
    }
  return FALSE;
}

static gboolean
parse_time (const char *text,
            gint64     *out)
{
  g_autoptr(GTimeZone) utc = g_time_zone_new_utc ();
  g_autoptr(GDateTime) dt = NULL;

  if (g_ascii_isdigit (text[0]) &&
      g_ascii_string_to_signed (text, 10, 0, G_MAXINT64, out, NULL))
    return TRUE;

  /* ISO 8601 with a time (without a zone it is taken as UTC), or a bare date. */
  dt = g_date_time_new_from_iso8601 (text, utc);
  if (dt == NULL && strlen (text) == 10)
    {
      g_autofree char *midnight = g_strconcat (text, "T00:00:00Z", NULL);
      dt = g_date_time_new_from_iso8601 (midnight, utc);
    }
  if (dt == NULL || g_date_time_to_unix (dt) < 0)
    return FALSE;
  *out = g_date_time_to_unix (dt);
  return TRUE;
}

/* Upper-case pairs joined by colons, the form browsers and openssl print. */
static char *
normalise_fingerprint (const char *text)
{
  g_autoptr(GString) hex = g_string_new (NULL);
  GString *out;
  const char *p = text;

  /* Pasted straight from `openssl x509 -fingerprint -sha256`. */
  if (g_ascii_strncasecmp (p, "sha256 fingerprint=", 19) == 0)
    p += 19;

  for (; *p; p++)
    {
      if (*p == ':')
        continue;
      if (!g_ascii_isxdigit (*p))
        return NULL;
      g_string_append_c (hex, g_ascii_toupper (*p));
    }
  if (hex->len != 64)
    return NULL;

  out = g_string_sized_new (95);
  for (gsize i = 0; i < hex->len; i += 2)
    {
      if (i > 0)
        g_string_append_c (out, ':');
      g_string_append_len (out, hex->str + i, 2);
    }
  return g_string_free (out, FALSE);
}

/* A client ID is an opaque token the provider issued: a GUID at Microsoft,
 * "NNN-xxx.apps.googleusercontent.com" at Google. Only URL-safe characters,
 * so it goes into a query string as it is. */
static gboolean
is_client_id (const char *text)
{
  if (strlen (text) > MAX_CLIENT_ID_LENGTH)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isalnum (*p) && strchr ("-._~", *p) == NULL)
      return FALSE;
  return TRUE;
}

/* organizations, common, consumers, a GUID or a domain: one path element. */
static gboolean
is_tenant (const char *text)
{
  if (*text == '\0' || strlen (text) > 253)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

/* An https:// address with a host, no user name or password and no fragment:
 * the tokens go there, so never in clear. */
static gboolean
is_https_url (const char *text)
{
  g_autoptr(GUri) uri = NULL;

  if (strlen (text) > MAX_URL_LENGTH || has_control_characters (text) || strchr (text, ' ') != NULL)
    return FALSE;
  uri = g_uri_parse (text, G_URI_FLAGS_NONE, NULL);
  return uri != NULL &&
         g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") == 0 &&
         g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0' &&
         g_uri_get_userinfo (uri) == NULL &&
         g_uri_get_fragment (uri) == NULL;
}

static char *
describe_keys (void)
{
  g_auto(GStrv) names = ms_account_list_keys ();
  return g_strjoinv (", ", names);
}

/**
 * ms_account_is_key:
 * @key: a name
 *
 * Returns: whether @key is one of ms_account_list_keys().
 */
/**
 * ms_account_get_key_label:
 * @key: a key of the account schema
 *
 * The name the settings page and the advice of a failed test give a key,
 * so a command-line user can find the key the advice means.
 *
 * Returns: (nullable): the translated label, or %NULL for an unknown key
 */
const char *
ms_account_get_key_label (const char *key)
{
  g_return_val_if_fail (key != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (strcmp (keys[i].key, key) == 0)
      return _(keys[i].label);
  return NULL;
}

gboolean
ms_account_is_key (const char *key)
{
  return find_key (key) != NULL;
}

gboolean
ms_account_check_value (const char  *key,
                        const char  *text,
                        GVariant   **value,
                        GError     **error)
{
  const KeyInfo *info;
  g_autofree char *stripped = NULL;
  g_autoptr(GVariant) result = NULL;

  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  info = find_key (key);
  if (info == NULL)
    {
      g_autofree char *valid = describe_keys ();
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("“%s” is not a setting of the account; the settings are: %s"), key, valid);
      return FALSE;
    }

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("%s: the value is not valid UTF-8 text"), key);
      return FALSE;
    }

  /* Free text is kept as typed; everything else forgives stray blanks. */
  stripped = g_strstrip (g_strdup (text));

  switch (info->kind)
    {
    case KIND_TEXT:
      if (has_control_characters (text) || strlen (text) > MAX_TEXT_LENGTH)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("%s: must be one line of text, at most %d bytes, without control characters such as tabs or line breaks"),
                       key, MAX_TEXT_LENGTH);
          return FALSE;
        }
      result = g_variant_new_string (text);
      break;

    case KIND_ADDRESS:
      if (*stripped == '\0')
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("%s: must not be empty; to clear it, reset it (“mailshot-cli config reset %s”)"),
                       key, key);
          return FALSE;
        }
      if (!is_email_address (stripped))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("%s: must be a single e-mail address such as name@example.org, without a display name (got “%s”)"),
                       key, text);
          return FALSE;
        }
      result = g_variant_new_string (stripped);
      break;

    case KIND_HOST:
      {
        g_autofree char *host = NULL;

        if (*stripped == '\0')
          {
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                         _("%s: must not be empty; to clear it, reset it (“mailshot-cli config reset %s”)"),
                         key, key);
            return FALSE;
          }
        host = normalise_host (stripped);
        if (host == NULL)
          {
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                         _("%s: must be a host name such as smtp.example.org (letters, digits and hyphens between dots) "
                           "or an IP address such as 192.0.2.1 or [2001:db8::1] (got “%s”)"),
                         key, text);
            return FALSE;
          }
        /* [2001:db8::1] is kept bare: the keyring entry, the resolver and
         * the URL builder each want the address itself. */
        if (host[0] == '[')
          {
            char *bare = g_strndup (host + 1, strlen (host) - 2);
            g_free (host);
            host = bare;
          }
        result = g_variant_new_string (host);
      }
      break;

    case KIND_EHLO:
      {
        g_autofree char *host = NULL;

        if (*stripped == '\0')
          {
            result = g_variant_new_string ("");
            break;
          }
        if (is_address_literal (stripped))
          host = g_strdup (stripped);
        else
          host = normalise_host (stripped);
        if (host == NULL)
          {
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                         _("%s: must be empty (to use this computer’s name), a host name such as mail.example.org, "
                           "or an address literal such as [192.0.2.1] or [IPv6:2001:db8::1] (got “%s”)"),
                         key, text);
            return FALSE;
          }
        result = g_variant_new_string (host);
      }
      break;

    case KIND_INT:
      {
        gint64 number;

        if (!g_ascii_string_to_signed (stripped, 10, info->min, info->max, &number, NULL))
          {
            /* The bounds go in as strings: xgettext cannot see a
             * G_GINT64_FORMAT inside _(), and would cut the message there. */
            g_autofree char *min = g_strdup_printf ("%" G_GINT64_FORMAT, info->min);
            g_autofree char *max = g_strdup_printf ("%" G_GINT64_FORMAT, info->max);

            if (strcmp (key, "timeout") == 0)
              /* Translators: the first %s is a key, the last the value typed. */
              g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                           _("%s: must be a whole number of seconds from %s to %s (got “%s”)"),
                           key, min, max, text);
            else if (info->min == 0)
              g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                           _("%s: must be a whole number from 0 to %s, where 0 means no limit (got “%s”)"),
                           key, max, text);
            else
              g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                           _("%s: must be a whole number from %s to %s (got “%s”)"),
                           key, min, max, text);
            return FALSE;
          }
        result = g_variant_new_int32 ((gint32) number);
      }
      break;

    case KIND_BOOL:
      {
        gboolean b;

        if (!parse_bool (stripped, &b))
          {
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                         _("%s: must be true or false (got “%s”)"), key, text);
            return FALSE;
          }
        result = g_variant_new_boolean (b);
      }
      break;

    case KIND_AUTH:
      {
        g_autoptr(GEnumClass) klass = g_type_class_ref (MS_TYPE_AUTH_METHOD);
        g_autofree char *lower = g_ascii_strdown (stripped, -1);
        GEnumValue *ev = g_enum_get_value_by_nick (klass, lower);

        if (ev == NULL)
          {
            if (g_str_has_prefix (lower, "ntlm"))
              g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                           _("%s: NTLM is not supported; use automatic, cram-md5, plain, login or oauth2"), key);
            else
              g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                           _("%s: must be one of automatic, cram-md5, plain, login or oauth2 (got “%s”)"), key, text);
            return FALSE;
          }
        result = g_variant_new_string (ev->value_nick);
      }
      break;

    case KIND_OAUTH2_PROVIDER:
      {
        g_autoptr(GEnumClass) klass = g_type_class_ref (MS_TYPE_OAUTH2_PROVIDER);
        g_autofree char *lower = g_ascii_strdown (stripped, -1);
        GEnumValue *ev = g_enum_get_value_by_nick (klass, lower);

        if (ev == NULL)
          {
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                         _("%s: must be one of microsoft, google or custom (got “%s”)"), key, text);
            return FALSE;
          }
        result = g_variant_new_string (ev->value_nick);
      }
      break;

    case KIND_CLIENT_ID:
      if (!is_client_id (stripped))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("%s: must be the client ID your provider issued, such as "
                         "00000000-0000-0000-0000-000000000000: letters, digits, “-”, “.”, “_” and “~”, "
                         "at most %d characters (got “%s”)"),
                       key, MAX_CLIENT_ID_LENGTH, text);
          return FALSE;
        }
      result = g_variant_new_string (stripped);
      break;

    case KIND_TENANT:
      if (!is_tenant (stripped))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("%s: must be organizations, common, consumers, your tenant’s domain "
                         "(example.onmicrosoft.com) or its ID (got “%s”)"),
                       key, text);
          return FALSE;
        }
      result = g_variant_new_string (stripped);
      break;

    case KIND_GOA_ID:
      /* GOA's IDs are "account_1700000000_0": one D-Bus object path element. */
      if (!is_client_id (stripped) || strchr (stripped, '.') != NULL || strchr (stripped, '~') != NULL)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("%s: must be empty or the ID of an account in GNOME Online Accounts, such as "
                         "account_1700000000_0, as “mailshot-cli oauth2 goa” lists them (got “%s”)"),
                       key, text);
          return FALSE;
        }
      result = g_variant_new_string (stripped);
      break;

    case KIND_HTTPS_URL:
      if (*stripped != '\0' && !is_https_url (stripped))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("%s: must be empty or an https:// address such as "
                         "https://login.example.org/oauth2/token, without a user name or a “#” part "
                         "(got “%s”)"),
                       key, text);
          return FALSE;
        }
      result = g_variant_new_string (stripped);
      break;

    case KIND_TIME:
      {
        gint64 when;

        if (!parse_time (stripped, &when))
          {
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                         _("%s: must be a Unix time in seconds (0 = not limited) or an ISO 8601 date "
                           "such as 2026-11-05T14:00:00Z, not before 1970 (got “%s”)"),
                         key, text);
            return FALSE;
          }
        result = g_variant_new_int64 (when);
      }
      break;

    case KIND_FINGERPRINT:
      {
        g_autofree char *fingerprint = NULL;

        if (*stripped == '\0')
          {
            result = g_variant_new_string ("");
            break;
          }
        fingerprint = normalise_fingerprint (stripped);
        if (fingerprint == NULL)
          {
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                         _("%s: must be empty or a SHA-256 fingerprint: 64 hexadecimal digits, "
                           "colons between pairs optional (got “%s”)"),
                         key, text);
            return FALSE;
          }
        result = g_variant_new_string (fingerprint);
      }
      break;

    default:
      g_assert_not_reached ();
    }

  if (value != NULL)
    *value = g_variant_ref_sink (g_steal_pointer (&result));
  return TRUE;
}

gboolean
ms_account_set_from_string (MsAccount   *self,
                            const char  *key,
                            const char  *text,
                            GError     **error)
{
  g_autoptr(GVariant) value = NULL;

  g_return_val_if_fail (MS_IS_ACCOUNT (self), FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (text != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!ms_account_check_value (key, text, &value, error))
    return FALSE;

  if (!g_settings_is_writable (self->settings, key))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("%s: this setting is locked by the system administrator"), key);
      return FALSE;
    }

  /* The binding carries the new value into the property. */
  if (!g_settings_set_value (self->settings, key, value))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("%s: the settings store refused the value"), key);
      return FALSE;
    }
  return TRUE;
}

char *
ms_account_get_as_string (MsAccount   *self,
                          const char  *key,
                          GError     **error)
{
  g_autoptr(GVariant) value = NULL;

  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (find_key (key) == NULL)
    {
      g_autofree char *valid = describe_keys ();
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("“%s” is not a setting of the account; the settings are: %s"), key, valid);
      return NULL;
    }

  value = g_settings_get_value (self->settings, key);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string (value, NULL);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return g_strdup_printf ("%d", g_variant_get_int32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return g_strdup_printf ("%" G_GINT64_FORMAT, g_variant_get_int64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? "true" : "false");

  g_assert_not_reached ();
}

void
ms_account_reset (MsAccount  *self,
                  const char *key)
{
  g_return_if_fail (MS_IS_ACCOUNT (self));
  g_return_if_fail (find_key (key) != NULL);

  g_settings_reset (self->settings, key);
}

char **
ms_account_list_keys (void)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  char **result;

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_strv_builder_add (builder, keys[i].key);
  result = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return result;
}

/**
 * ms_account_settings_are_persistent:
 *
 * Returns: %FALSE when GLib fell back to its memory backend (no dconf), so
 *   that nothing set now will be there next time. Front ends warn about it.
 */
gboolean
ms_account_settings_are_persistent (void)
{
  GSettingsBackend *backend = g_settings_backend_get_default ();
  gboolean persistent;

  persistent = strcmp (G_OBJECT_TYPE_NAME (backend), "GMemorySettingsBackend") != 0 &&
               strcmp (G_OBJECT_TYPE_NAME (backend), "GNullSettingsBackend") != 0;
  g_object_unref (backend);
  return persistent;
}

static char *
dup_or_null (const char *text)
{
  return text != NULL && *text != '\0' ? g_strdup (text) : NULL;
}

/**
 * ms_account_make_smtp_config:
 * @password: (nullable): the password from the keyring
 *
 * Copies the account into a snapshot that a worker thread may own: the
 * worker never touches GSettings.
 *
 * Returns: (transfer full): the snapshot; free it with ms_smtp_config_free(),
 *   which wipes the copied password.
 */
MsSmtpConfig *
ms_account_make_smtp_config (MsAccount  *self,
                             const char *password)
{
  MsSmtpConfig *config;

  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);

  config = ms_smtp_config_new ();
  config->server = g_strdup (self->smtp_server);
  config->port = self->smtp_port;
  config->use_smtps = self->use_smtps;
  config->ehlo_host = dup_or_null (self->ehlo_host);
  config->timeout = self->timeout;
  config->needs_auth = self->needs_authentication;
  config->auth_method = self->auth_method;
  config->user = g_strdup (self->user_id);
  /* XOAUTH2 names the mailbox; without a user ID it is the address. */
  if (self->auth_method == MS_AUTH_METHOD_OAUTH2 && *self->user_id == '\0')
    {
      g_free (config->user);
      config->user = g_strdup (self->email_address);
    }
  config->password = g_strdup (password);
  config->allow_plaintext_password = self->allow_plaintext_password;
  config->trusted_certificate = dup_or_null (self->trusted_certificate);
  config->starttls_seen = self->starttls_seen;
  config->from_address = g_strdup (self->email_address);
  config->from_name = dup_or_null (self->sender_name);
  config->ca_file = NULL;
  return config;
}

/**
 * ms_account_check_backend:
 * @error: return location for a #GError
 *
 * dconf, the usual settings store, saves through the session bus: without
 * one, every change is lost with only a warning on the terminal. This finds
 * that out before anything is changed.
 *
 * Returns: %FALSE (and %MS_ERROR_FAILED) when changes could not be saved
 */
gboolean
ms_account_check_backend (GError **error)
{
  GSettingsBackend *backend;
  gboolean is_dconf;

  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  backend = g_settings_backend_get_default ();
  is_dconf = strcmp (G_OBJECT_TYPE_NAME (backend), "DConfSettingsBackend") == 0;
  g_object_unref (backend);

  if (is_dconf)
    {
      g_autoptr(GDBusConnection) bus = NULL;
      g_autoptr(GError) local_error = NULL;

      bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &local_error);
      if (bus == NULL)
        {
          g_debug ("dconf without a session bus: %s", local_error->message);
          g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                       _("Settings cannot be saved: dconf needs a session bus, and there is none. "
                         "Run this inside a desktop session or under “dbus-run-session”, or set "
                         "GSETTINGS_BACKEND=keyfile to keep the settings in ~/.config/glib-2.0/settings/keyfile."));
          return FALSE;
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------ */
/* The snapshot with its password, and the account's limits           */

static gboolean
check_configured (MsAccount  *self,
                  GError    **error)
{
  if (ms_account_is_configured (self))
    return TRUE;
  g_set_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
               _("The account “%s” has no SMTP server or e-mail address: enter both in the account "
                 "settings."), self->name);
  return FALSE;
}

/**
 * ms_account_create_oauth2:
 * @error: return location for a #GError
 *
 * The OAuth2 sign-in of this account, from its oauth2-* keys and its user
 * (the user ID, or the e-mail address without one).
 *
 * Returns: (transfer full): the sign-in, or %NULL with %MS_ERROR_NOT_CONFIGURED
 */
MsOAuth2 *
ms_account_create_oauth2 (MsAccount  *self,
                          GError    **error)
{
  MsOAuth2Params params = { 0 };

  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  params.account = self->name;
  params.provider = self->oauth2_provider;
  params.user = *self->user_id != '\0' ? self->user_id : self->email_address;
  params.client_id = self->oauth2_client_id;
  params.tenant = self->oauth2_tenant;
  params.auth_endpoint = self->oauth2_auth_endpoint;
  params.token_endpoint = self->oauth2_token_endpoint;
  params.goa_account_id = self->goa_account_id;
  return ms_oauth2_new (&params, error);
}

static void
load_config_got_token (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  MsSmtpConfig *config = g_task_get_task_data (task);
  char *token = ms_oauth2_get_access_token_finish (MS_OAUTH2 (source), result, &error);

  if (token == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  config->password = g_strdup (token);
  ms_oauth2_token_free (token);
  g_task_return_pointer (task, ms_smtp_config_copy (config), (GDestroyNotify) ms_smtp_config_free);
}

static void
load_config_looked_up (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  MsSmtpConfig *config = g_task_get_task_data (task);
  char *password = ms_secret_lookup_finish (result, &error);

  if (password == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  config->password = g_strdup (password);
  ms_secret_free (password);
  g_task_return_pointer (task, ms_smtp_config_copy (config), (GDestroyNotify) ms_smtp_config_free);
}

/**
 * ms_account_load_config_async:
 * @cancellable: (nullable): stops the keyring lookup
 *
 * Takes the snapshot now, in the caller's thread (the settings are read
 * here, never later), then looks the password up when it is needed.
 */
void
ms_account_load_config_async (MsAccount           *self,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  MsSmtpConfig *config;

  g_return_if_fail (MS_IS_ACCOUNT (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_account_load_config_async);
  if (!check_configured (self, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  config = ms_account_make_smtp_config (self, NULL);
  if (!config->needs_auth)
    {
      g_task_return_pointer (task, config, (GDestroyNotify) ms_smtp_config_free);
      return;
    }
  g_task_set_task_data (task, config, (GDestroyNotify) ms_smtp_config_free);
  if (config->auth_method == MS_AUTH_METHOD_OAUTH2)
    {
      /* An access token instead of the password: from memory, or renewed
       * with the refresh token in the keyring. */
      config->oauth2 = ms_account_create_oauth2 (self, &error);
      if (config->oauth2 == NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      ms_oauth2_get_access_token_async (config->oauth2, cancellable, load_config_got_token,
                                        g_steal_pointer (&task));
      return;
    }
  ms_secret_lookup_async (self->name, config->server, config->user, cancellable,
                          load_config_looked_up, g_steal_pointer (&task));
}

MsSmtpConfig *
ms_account_load_config_finish (MsAccount     *self,
                               GAsyncResult  *result,
                               GError       **error)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_account_load_config_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

/**
 * ms_account_load_config_sync:
 *
 * Like ms_account_load_config_async(), blocking.
 *
 * Returns: (transfer full): the snapshot, or %NULL with @error set
 */
MsSmtpConfig *
ms_account_load_config_sync (MsAccount     *self,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_autoptr(MsSmtpConfig) config = NULL;
  char *password;

  g_return_val_if_fail (MS_IS_ACCOUNT (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_configured (self, error))
    return NULL;
  config = ms_account_make_smtp_config (self, NULL);
  if (!config->needs_auth)
    return g_steal_pointer (&config);
  if (config->auth_method == MS_AUTH_METHOD_OAUTH2)
    {
      char *token;

      config->oauth2 = ms_account_create_oauth2 (self, error);
      if (config->oauth2 == NULL)
        return NULL;
      token = ms_oauth2_get_access_token (config->oauth2, NULL, cancellable, error);
      if (token == NULL)
        return NULL;
      config->password = g_strdup (token);
      ms_oauth2_token_free (token);
      return g_steal_pointer (&config);
    }
  password = ms_secret_lookup_sync (self->name, config->server, config->user, cancellable, error);
  if (password == NULL)
    return NULL;
  config->password = g_strdup (password);
  ms_secret_free (password);
  return g_steal_pointer (&config);
}

/**
 * ms_account_get_pacer_limits:
 * @out: (out caller-allocates): the limits
 *
 * A negative limit (a hand-edited key) counts as none, and there is always
 * at least one connection.
 */
void
ms_account_get_pacer_limits (MsAccount     *self,
                             MsPacerLimits *out)
{
  g_return_if_fail (MS_IS_ACCOUNT (self));
  g_return_if_fail (out != NULL);

  memset (out, 0, sizeof *out);
  out->per_minute = MAX (self->max_per_minute, 0);
  out->per_hour = MAX (self->max_per_hour, 0);
  out->per_day = MAX (self->max_per_day, 0);
  out->connections = MAX (self->max_connections, 1);
  out->rate_limited_until = self->rate_limited_until;
}

/**
 * ms_account_note_test:
 * @probe: a probe that has run
 */
void
ms_account_note_test (MsAccount *self,
                      MsProbe   *probe)
{
  g_return_if_fail (MS_IS_ACCOUNT (self));
  g_return_if_fail (MS_IS_PROBE (probe));

  ms_account_note_session (self, ms_probe_get_starttls_offered (probe), ms_probe_get_reply (probe));
  /* Only the accepted message proves it: a test that stopped earlier (or
   * was cancelled) says nothing about the server's limit. */
  if (ms_probe_get_state (probe, MS_PROBE_STEP_DATA) == MS_PROBE_STATE_PASSED &&
      self->rate_limited_until != 0)
    ms_account_set_rate_limited_until (self, 0);
}
