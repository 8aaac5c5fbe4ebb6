/* test-account.c: MsAccount, its GSettings binding and its validation rules
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "mailshot-core.h"

static MsAccount *
open_account (const char *name)
{
  g_autoptr(GError) error = NULL;
  MsAccount *account = ms_account_new (name, &error);

  g_assert_no_error (error);
  g_assert_nonnull (account);
  /* Each test starts from the schema's defaults. */
  {
    g_auto(GStrv) keys = ms_account_list_keys ();
    for (guint i = 0; keys[i] != NULL; i++)
      ms_account_reset (account, keys[i]);
  }
  return account;
}

static char *
get_string (MsAccount  *account,
            const char *key)
{
  g_autoptr(GError) error = NULL;
  char *value = ms_account_get_as_string (account, key, &error);

  g_assert_no_error (error);
  g_assert_nonnull (value);
  return value;
}

/* The property's value in the form `config get` prints. */
static char *
property_as_string (MsAccount  *account,
                    const char *key)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (account), key);
  g_auto(GValue) value = G_VALUE_INIT;

  g_assert_nonnull (pspec);
  g_value_init (&value, pspec->value_type);
  g_object_get_property (G_OBJECT (account), key, &value);

  if (G_VALUE_HOLDS_STRING (&value))
    return g_value_dup_string (&value);
  if (G_VALUE_HOLDS_INT (&value))
    return g_strdup_printf ("%d", g_value_get_int (&value));
  if (G_VALUE_HOLDS_INT64 (&value))
    return g_strdup_printf ("%" G_GINT64_FORMAT, g_value_get_int64 (&value));
  if (G_VALUE_HOLDS_BOOLEAN (&value))
    return g_strdup (g_value_get_boolean (&value) ? "true" : "false");
  if (G_VALUE_HOLDS_ENUM (&value))
    {
      g_autoptr(GEnumClass) klass = g_type_class_ref (pspec->value_type);
      return g_strdup (g_enum_get_value (klass, g_value_get_enum (&value))->value_nick);
    }
  g_assert_not_reached ();
}

static void
test_defaults (void)
{
  MsAccount *account = open_account ("t-defaults");
  static const struct { const char *key, *value; } defaults[] = {
    { "email-address", "" },
    { "smtp-server", "" },
    { "smtp-port", "587" },
    { "timeout", "30" },
    { "needs-authentication", "true" },
    { "auth-method", "automatic" },
    { "oauth2-provider", "microsoft" },
    { "oauth2-client-id", "" },
    { "oauth2-tenant", "organizations" },
    { "oauth2-auth-endpoint", "" },
    { "oauth2-token-endpoint", "" },
    { "goa-account-id", "" },
    { "use-smtps", "false" },
    { "allow-plaintext-password", "false" },
    { "rate-limited-until", "0" },
    { "max-connections", "1" },
    { "max-per-day", "0" },
    { "trusted-certificate", "" },
    { "starttls-seen", "false" },
  };

  g_assert_cmpstr (ms_account_get_name (account), ==, "t-defaults");
  for (guint i = 0; i < G_N_ELEMENTS (defaults); i++)
    {
      g_autofree char *stored = get_string (account, defaults[i].key);
      g_autofree char *property = property_as_string (account, defaults[i].key);

      g_assert_cmpstr (stored, ==, defaults[i].value);
      g_assert_cmpstr (property, ==, defaults[i].value);
    }
  g_assert_false (ms_account_is_configured (account));

  g_assert_finalize_object (account);
}

static void
test_names (void)
{
  static const char * const bad[] = { "", "bad name", "a/b", "../up", "ä", "x.y" };
  g_autoptr(GError) error = NULL;
  MsAccount *account;

  account = ms_account_new (NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ms_account_get_name (account), ==, "default");
  {
    g_autoptr(GSettings) settings = NULL;
    g_autofree char *path = NULL;

    g_object_get (ms_account_get_settings (account), "path", &path, NULL);
    g_assert_cmpstr (path, ==, "/io/github/mailshot/Mailshot/accounts/default/");
  }
  g_assert_finalize_object (account);

  account = ms_account_new ("Office_365-b", &error);
  g_assert_no_error (error);
  g_assert_finalize_object (account);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      g_assert_null (ms_account_new (bad[i], &error));
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
      g_assert_nonnull (strstr (error->message, "letters, digits"));
    }
}

static const struct {
  const char *key;
  const char *input;
  const char *stored;   /* NULL: as typed */
} good_values[] = {
  { "email-address", "sender@example.org", NULL },
  { "email-address", "  first.last+tag@mail.example.co.uk ", "first.last+tag@mail.example.co.uk" },
  { "email-address", "postmaster@[192.0.2.1]", NULL },
  { "sender-name", "Åsa “Mail” Example, Ltd.", NULL },
  { "sender-name", "", NULL },
  { "smtp-server", "smtp.example.org", NULL },
  { "smtp-server", "SMTP.Example.ORG.", NULL },
  { "smtp-server", "192.0.2.10", NULL },
  { "smtp-server", "2001:db8::25", NULL },
  { "smtp-server", "[2001:db8::25]", "2001:db8::25" },
  { "smtp-server", "localhost", NULL },
  { "smtp-server", "bücher.example", "xn--bcher-kva.example" },
  { "smtp-port", "465", NULL },
  { "smtp-port", "1", NULL },
  { "smtp-port", "65535", NULL },
  { "use-smtps", "yes", "true" },
  { "use-smtps", "Off", "false" },
  { "ehlo-host", "client.example.net", NULL },
  { "ehlo-host", "[192.0.2.7]", NULL },
  { "ehlo-host", "[IPv6:2001:db8::7]", NULL },
  { "ehlo-host", "", NULL },
  { "needs-authentication", "0", "false" },
  { "needs-authentication", "TRUE", "true" },
  { "user-id", "user@example.org", NULL },
  { "user-id", "DOMAIN\\user name", NULL },
  { "auth-method", "CRAM-MD5", "cram-md5" },
  { "auth-method", "plain", NULL },
  { "auth-method", "login", NULL },
  { "auth-method", "automatic", NULL },
  { "allow-plaintext-password", "on", "true" },
  { "timeout", "600", NULL },
  { "timeout", "1", NULL },
  { "trusted-certificate",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF" },
  { "trusted-certificate",
    "sha256 Fingerprint=01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef",
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF" },
  { "trusted-certificate", "", NULL },
  { "max-connections", "64", NULL },
  { "max-per-minute", "0", NULL },
  { "max-per-hour", "10000000", NULL },
  { "max-per-day", "2000", NULL },
  { "rate-limited-until", "1700000000", NULL },
  { "rate-limited-until", "2023-11-14T22:13:20Z", "1700000000" },
  { "rate-limited-until", "2023-11-15T00:13:20+02:00", "1700000000" },
  { "rate-limited-until", "1970-01-02", "86400" },
  { "rate-limited-until", "0", NULL },
  { "starttls-seen", "true", NULL },
  { "auth-method", "OAuth2", "oauth2" },
  { "oauth2-provider", "Google", "google" },
  { "oauth2-provider", "custom", NULL },
  { "oauth2-provider", "microsoft", NULL },
  { "oauth2-client-id", "9e5f94bc-e8a4-4e73-b8be-63364c29d753", NULL },
  { "oauth2-client-id", " 123456789-abc.apps.googleusercontent.com ", "123456789-abc.apps.googleusercontent.com" },
  { "oauth2-client-id", "", NULL },
  { "oauth2-tenant", "contoso.onmicrosoft.com", NULL },
  { "oauth2-tenant", "common", NULL },
  { "oauth2-auth-endpoint", "https://login.example.org/oauth2/authorize?prompt=login", NULL },
  { "oauth2-auth-endpoint", "", NULL },
  { "oauth2-token-endpoint", "https://127.0.0.1:8443/token", NULL },
  { "oauth2-token-endpoint", "", NULL },
  { "goa-account-id", " account_1700000000_0 ", "account_1700000000_0" },
  { "goa-account-id", "", NULL },
};

static void
test_round_trip (void)
{
  MsAccount *account = open_account ("t-round-trip");
  g_auto(GStrv) keys = ms_account_list_keys ();
  g_autoptr(GHashTable) covered = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < G_N_ELEMENTS (good_values); i++)
    {
      const char *key = good_values[i].key;
      const char *expected = good_values[i].stored ? good_values[i].stored : good_values[i].input;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) parsed = NULL;
      g_autofree char *stored = NULL;
      g_autofree char *property = NULL;

      g_test_message ("%s = “%s”", key, good_values[i].input);
      g_assert_true (ms_account_check_value (key, good_values[i].input, &parsed, &error));
      g_assert_no_error (error);
      g_assert_nonnull (parsed);

      g_assert_true (ms_account_set_from_string (account, key, good_values[i].input, &error));
      g_assert_no_error (error);

      stored = get_string (account, key);
      property = property_as_string (account, key);
      g_assert_cmpstr (stored, ==, expected);
      g_assert_cmpstr (property, ==, expected);

      /* What `config get` prints is accepted back by `config set`. */
      g_assert_true (ms_account_check_value (key, stored, NULL, &error));
      g_assert_no_error (error);

      g_hash_table_add (covered, (gpointer) key);
    }

  for (guint i = 0; keys[i] != NULL; i++)
    if (!g_hash_table_contains (covered, keys[i]))
      g_error ("key %s has no round-trip case", keys[i]);

  g_assert_finalize_object (account);
}

static const struct {
  const char *key;
  const char *input;
  const char *rule;     /* a phrase the message must contain */
} bad_values[] = {
  { "smtp-port", "70000", "smtp-port: must be a whole number from 1 to 65535 (got “70000”)" },
  { "smtp-port", "0", "from 1 to 65535" },
  { "smtp-port", "-25", "from 1 to 65535" },
  { "smtp-port", "abc", "from 1 to 65535" },
  { "smtp-port", "", "from 1 to 65535" },
  { "smtp-port", "5 87", "from 1 to 65535" },
  { "smtp-port", "587.0", "from 1 to 65535" },
  { "smtp-port", "0x24b", "from 1 to 65535" },
  { "timeout", "0", "timeout: must be a whole number of seconds from 1 to 600 (got “0”)" },
  { "timeout", "601", "from 1 to 600" },
  { "timeout", "1.5", "from 1 to 600" },
  { "email-address", "", "email-address: must not be empty" },
  { "email-address", "not-an-address", "email-address: must be a single e-mail address" },
  { "email-address", "user@localhost", "e-mail address" },
  { "email-address", "@example.org", "e-mail address" },
  { "email-address", "user@", "e-mail address" },
  { "email-address", "Sender <sender@example.org>", "without a display name" },
  { "email-address", "a@example.org, b@example.org", "single e-mail address" },
  { "email-address", "a b@example.org", "e-mail address" },
  { "email-address", "user@-bad.example.org", "e-mail address" },
  { "email-address", "user@exa_mple.org", "e-mail address" },
  { "email-address", "user@exam\nple.org", "e-mail address" },
  { "smtp-server", "", "smtp-server: must not be empty" },
  { "smtp-server", "smtp_relay.example.org", "smtp-server: must be a host name" },
  { "smtp-server", "-smtp.example.org", "host name" },
  { "smtp-server", "smtp-.example.org", "host name" },
  { "smtp-server", "smtp..example.org", "host name" },
  { "smtp-server", "smtp example.org", "host name" },
  { "smtp-server", "999.1.1.1", "host name" },
  { "smtp-server", "192.0.2.300", "host name" },
  { "smtp-server", "[192.0.2.1]", "host name" },
  { "smtp-server", "smtp.example.org:587", "host name" },
  { "smtp-server", "smtp://smtp.example.org", "host name" },
  { "smtp-server", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example.org", "host name" },
  { "ehlo-host", "my host", "ehlo-host: must be empty" },
  { "ehlo-host", "[999.1.1.1]", "address literal" },
  { "ehlo-host", "[IPv6:not-an-address]", "address literal" },
  { "auth-method", "ntlm", "auth-method: NTLM is not supported" },
  { "auth-method", "NTLM", "NTLM is not supported" },
  { "auth-method", "gssapi", "auth-method: must be one of automatic, cram-md5, plain, login or oauth2 (got “gssapi”)" },
  { "oauth2-provider", "yahoo", "oauth2-provider: must be one of microsoft, google or custom (got “yahoo”)" },
  { "oauth2-client-id", "my client", "oauth2-client-id: must be the client ID your provider issued" },
  { "oauth2-client-id", "id&redirect_uri=https://evil.example", "oauth2-client-id: must be the client ID" },
  { "oauth2-tenant", "", "oauth2-tenant: must be organizations, common, consumers" },
  { "oauth2-tenant", "../common", "oauth2-tenant: must be organizations" },
  { "oauth2-auth-endpoint", "http://login.example.org/authorize", "oauth2-auth-endpoint: must be empty or an https:// address" },
  { "oauth2-token-endpoint", "https://user:secret@login.example.org/token", "oauth2-token-endpoint: must be empty or an https:// address" },
  { "oauth2-token-endpoint", "https:///token", "https:// address" },
  { "oauth2-token-endpoint", "https://login.example.org/token#x", "https:// address" },
  { "oauth2-token-endpoint", "login.example.org/token", "https:// address" },
  { "goa-account-id", "account 1", "goa-account-id: must be empty or the ID of an account in GNOME Online Accounts" },
  { "goa-account-id", "../../x", "mailshot-cli oauth2 goa" },
  { "auth-method", "", "must be one of" },
  { "use-smtps", "maybe", "use-smtps: must be true or false (got “maybe”)" },
  { "needs-authentication", "2", "must be true or false" },
  { "allow-plaintext-password", "", "must be true or false" },
  { "starttls-seen", "seen", "must be true or false" },
  { "rate-limited-until", "-5", "rate-limited-until: must be a Unix time" },
  { "rate-limited-until", "tomorrow", "ISO 8601" },
  { "rate-limited-until", "1969-12-31", "not before 1970" },
  { "rate-limited-until", "2026-13-40", "ISO 8601" },
  { "max-per-minute", "-1", "max-per-minute: must be a whole number from 0 to 1000000, where 0 means no limit" },
  { "max-per-minute", "1000001", "from 0 to 1000000" },
  { "max-per-hour", "10000001", "from 0 to 10000000" },
  { "max-per-day", "100000001", "from 0 to 100000000" },
  { "max-per-day", "lots", "no limit" },
  { "max-connections", "0", "max-connections: must be a whole number from 1 to 64 (got “0”)" },
  { "max-connections", "65", "from 1 to 64" },
  { "trusted-certificate", "abc", "trusted-certificate: must be empty or a SHA-256 fingerprint" },
  { "trusted-certificate", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", "64 hexadecimal digits" },
  { "trusted-certificate", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00", "64 hexadecimal digits" },
  { "trusted-certificate", "g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64 hexadecimal digits" },
  { "user-id", "user\nname", "user-id: must be one line of text" },
  { "user-id", "user\tname", "control characters" },
  { "sender-name", "Name\x01", "sender-name: must be one line of text" },
  { "sender-name", "\xff\xfe", "sender-name: the value is not valid UTF-8" },
};

/* Issue 8: the account's address check and the recipient list's disagreed.
 * These are the addresses on which they differed (the second column is what
 * the recipient list said, the third what the account said); now both give
 * the first column's answer, through the one rule in ms-recipients.c. */
static void
test_one_address_rule (void)
{
  const struct {
    gboolean valid;
    const char *address;
  } cases[] = {
    { FALSE, "a@1.2.3.4" },              /* recipients: yes, account: no */
    { FALSE, "a@example.123" },          /* yes, no */
    { FALSE, "a@exa_mple.org" },         /* yes, no */
    { FALSE, "a@-example.org" },         /* yes, no */
    { FALSE, "a@example-.org" },         /* yes, no */
    { FALSE, "a@example.-org" },         /* yes, no */
    { FALSE, "a@[1.2.3]" },              /* yes, no */
    { FALSE, "a@[foo]" },                /* yes, no */
    { FALSE, "a(comment)@example.org" }, /* yes, no */
    { FALSE, "a@example.org(c)" },       /* yes, no */
    { FALSE, "a@example.org;" },         /* yes, no */
    { FALSE, "a\xC2\x85@example.org" },  /* yes, no: a C1 control */
    { TRUE, "a@xn--bcher-kva.example" }, /* yes, no: the ASCII form of a@bücher.example */
    /* Both said yes before; both say no now. */
    { FALSE, "a\xEF\xBB\xBF@example.org" },
    { FALSE, "\xEF\xBB\xBF" "a@example.org" },
    { FALSE, "a\xE2\x80\x8B@example.org" },
    { FALSE, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.org" },
    /* Both yes, still. */
    { TRUE, "a@example.org" },
    { TRUE, "a@bücher.example" },
    { TRUE, "a@[192.0.2.1]" },
    { TRUE, "a@[IPv6:2001:db8::1]" },
    { TRUE, "\"john\"@example.org" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      gboolean account = ms_account_check_value ("email-address", cases[i].address, NULL, &error);
      gboolean recipients = ms_recipients_address_is_valid (cases[i].address);

      if (account != cases[i].valid || recipients != cases[i].valid)
        g_error ("“%s”: expected %s, the account says %s, the recipient list %s", cases[i].address,
                 cases[i].valid ? "valid" : "invalid", account ? "valid" : "invalid",
                 recipients ? "valid" : "invalid");
      if (!account)
        g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
    }
}

static void
test_validation (void)
{
  MsAccount *account = open_account ("t-validation");

  /* A recognisable value in every key, so "nothing stored" is visible. */
  g_assert_true (ms_account_set_from_string (account, "email-address", "keep@example.org", NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-server", "keep.example.org", NULL));
  g_assert_true (ms_account_set_from_string (account, "ehlo-host", "keep.example.net", NULL));
  g_assert_true (ms_account_set_from_string (account, "trusted-certificate",
                                             "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99", NULL));
  g_assert_true (ms_account_set_from_string (account, "rate-limited-until", "42", NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-port", "2525", NULL));

  for (guint i = 0; i < G_N_ELEMENTS (bad_values); i++)
    {
      const char *key = bad_values[i].key;
      g_autoptr(GError) error = NULL;
      g_autoptr(GVariant) parsed = NULL;
      g_autofree char *before = get_string (account, key);
      g_autofree char *after = NULL;
      g_autofree char *prefix = g_strconcat (key, ": ", NULL);

      g_autofree char *shown = g_strescape (bad_values[i].input, NULL);

      g_test_message ("%s = “%s”", key, shown);
      g_assert_false (ms_account_check_value (key, bad_values[i].input, &parsed, &error));
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
      g_assert_null (parsed);
      g_clear_error (&error);

      g_assert_false (ms_account_set_from_string (account, key, bad_values[i].input, &error));
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
      /* The message names the key and the rule. */
      g_assert_true (g_str_has_prefix (error->message, prefix));
      if (strstr (error->message, bad_values[i].rule) == NULL)
        g_error ("message “%s” lacks “%s”", error->message, bad_values[i].rule);

      after = get_string (account, key);
      g_assert_cmpstr (after, ==, before);
    }

  g_assert_finalize_object (account);
}

static void
test_unknown_key (void)
{
  g_autoptr(GError) error = NULL;
  MsAccount *account = open_account ("t-unknown");

  g_assert_false (ms_account_is_key ("smtp-prot"));
  g_assert_true (ms_account_is_key ("smtp-port"));
  g_assert_false (ms_account_is_key ("password"));

  g_assert_false (ms_account_check_value ("smtp-prot", "587", NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "“smtp-prot”"));
  g_assert_nonnull (strstr (error->message, "smtp-port"));
  g_assert_nonnull (strstr (error->message, "trusted-certificate"));
  g_clear_error (&error);

  g_assert_null (ms_account_get_as_string (account, "password", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);

  /* The password is never a property. */
  g_assert_null (g_object_class_find_property (G_OBJECT_GET_CLASS (account), "password"));

  g_assert_finalize_object (account);
}

static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_binding (void)
{
  MsAccount *account = open_account ("t-binding");
  MsAccount *other;
  GSettings *settings = ms_account_get_settings (account);
  guint port_notifies = 0;
  guint auth_notifies = 0;
  g_autofree char *auth = NULL;

  g_signal_connect (account, "notify::smtp-port", G_CALLBACK (count_notify), &port_notifies);
  g_signal_connect (account, "notify::auth-method", G_CALLBACK (count_notify), &auth_notifies);

  /* GSettings → property */
  g_settings_set_int (settings, "smtp-port", 2525);
  g_assert_cmpint (ms_account_get_smtp_port (account), ==, 2525);
  g_assert_cmpuint (port_notifies, ==, 1);

  /* property → GSettings; an unchanged value is no change */
  g_object_set (account, "smtp-port", 465, NULL);
  g_assert_cmpint (g_settings_get_int (settings, "smtp-port"), ==, 465);
  g_assert_cmpuint (port_notifies, ==, 2);
  g_object_set (account, "smtp-port", 465, NULL);
  g_assert_cmpuint (port_notifies, ==, 2);

  /* the enum key maps to MsAuthMethod by nick, both ways */
  g_settings_set_string (settings, "auth-method", "login");
  g_assert_cmpint (ms_account_get_auth_method (account), ==, MS_AUTH_METHOD_LOGIN);
  g_assert_cmpuint (auth_notifies, ==, 1);
  g_object_set (account, "auth-method", MS_AUTH_METHOD_CRAM_MD5, NULL);
  auth = g_settings_get_string (settings, "auth-method");
  g_assert_cmpstr (auth, ==, "cram-md5");
  g_assert_cmpint (g_settings_get_enum (settings, "auth-method"), ==, MS_AUTH_METHOD_CRAM_MD5);

  /* strings, booleans and the 64-bit time */
  g_object_set (account, "smtp-server", "relay.example.org", "use-smtps", TRUE,
                "rate-limited-until", (gint64) 5000000000, NULL);
  {
    g_autofree char *server = g_settings_get_string (settings, "smtp-server");
    g_assert_cmpstr (server, ==, "relay.example.org");
  }
  g_assert_true (g_settings_get_boolean (settings, "use-smtps"));
  g_assert_cmpint (g_settings_get_int64 (settings, "rate-limited-until"), ==, 5000000000);

  /* A second object on the same path (the CLI while the GUI runs) agrees. */
  other = open_account ("t-binding-other");
  g_assert_finalize_object (other);
  {
    g_autoptr(GError) error = NULL;
    other = ms_account_new ("t-binding", &error);
    g_assert_no_error (error);
  }
  g_assert_cmpint (ms_account_get_smtp_port (other), ==, 465);
  g_assert_true (ms_account_set_from_string (other, "smtp-port", "2587", NULL));
  g_assert_cmpint (ms_account_get_smtp_port (account), ==, 2587);
  g_assert_cmpuint (port_notifies, ==, 3);
  g_assert_finalize_object (other);

  /* Different accounts do not share values. */
  other = open_account ("t-binding-other");
  g_assert_cmpint (ms_account_get_smtp_port (other), ==, 587);
  g_assert_finalize_object (other);

  g_assert_finalize_object (account);
}

static void
test_reset (void)
{
  MsAccount *account = open_account ("t-reset");
  guint notifies = 0;

  g_assert_true (ms_account_set_from_string (account, "smtp-port", "465", NULL));
  g_assert_true (ms_account_set_from_string (account, "email-address", "a@example.org", NULL));
  g_signal_connect (account, "notify::smtp-port", G_CALLBACK (count_notify), &notifies);

  ms_account_reset (account, "smtp-port");
  ms_account_reset (account, "email-address");
  g_assert_cmpint (ms_account_get_smtp_port (account), ==, 587);
  g_assert_cmpuint (notifies, ==, 1);
  g_assert_cmpstr (ms_account_get_email_address (account), ==, "");
  {
    g_autofree char *port = get_string (account, "smtp-port");
    g_assert_cmpstr (port, ==, "587");
  }
  g_assert_null (g_settings_get_user_value (ms_account_get_settings (account), "smtp-port"));

  g_assert_finalize_object (account);
}

static void
test_setters (void)
{
  MsAccount *account = open_account ("t-setters");
  GSettings *settings = ms_account_get_settings (account);
  guint notifies = 0;

  g_signal_connect (account, "notify::rate-limited-until", G_CALLBACK (count_notify), &notifies);
  ms_account_set_rate_limited_until (account, 1800000000);
  g_assert_cmpint (g_settings_get_int64 (settings, "rate-limited-until"), ==, 1800000000);
  g_assert_cmpint (ms_account_get_rate_limited_until (account), ==, 1800000000);
  g_assert_cmpuint (notifies, ==, 1);
  ms_account_set_rate_limited_until (account, 1800000000);
  g_assert_cmpuint (notifies, ==, 1);
  ms_account_set_rate_limited_until (account, 0);
  g_assert_cmpint (g_settings_get_int64 (settings, "rate-limited-until"), ==, 0);

  ms_account_set_starttls_seen (account, TRUE);
  g_assert_true (g_settings_get_boolean (settings, "starttls-seen"));
  g_assert_true (ms_account_get_starttls_seen (account));

  g_assert_false (ms_account_is_configured (account));
  g_assert_true (ms_account_set_from_string (account, "smtp-server", "smtp.example.org", NULL));
  g_assert_false (ms_account_is_configured (account));
  g_assert_true (ms_account_set_from_string (account, "email-address", "me@example.org", NULL));
  g_assert_true (ms_account_is_configured (account));

  g_assert_finalize_object (account);
}

/* What a test or a batch learnt is kept the same way for every front end. */
static void
test_note_session (void)
{
  MsAccount *account = open_account ("t-note-session");
  GSettings *settings = ms_account_get_settings (account);
  MsReplyContext context = { "mail.example.org", 587, FALSE, TRUE };
  g_autoptr(MsReply) limited = ms_reply_classify (421, "4.4.2 Message submission rate for this client has exceeded "
                                                  "the configured limit", &context, 1800000000);
  g_autoptr(MsReply) earlier = ms_reply_classify (421, "4.4.2 Message submission rate for this client has exceeded "
                                                  "the configured limit", &context, 1700000000);
  g_autoptr(MsReply) refused = ms_reply_classify (535, "5.7.8 Authentication credentials invalid", &context, 1800000000);

  g_assert_cmpint (limited->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (limited->until, >, 1800000000);

  ms_account_note_session (account, FALSE, NULL);
  g_assert_false (g_settings_get_boolean (settings, "starttls-seen"));
  g_assert_cmpint (g_settings_get_int64 (settings, "rate-limited-until"), ==, 0);

  ms_account_note_session (account, TRUE, limited);
  g_assert_true (g_settings_get_boolean (settings, "starttls-seen"));
  g_assert_cmpint (g_settings_get_int64 (settings, "rate-limited-until"), ==, limited->until);

  /* Never earlier; never forgotten by a session without STARTTLS; other
   * failures leave the limit alone. */
  ms_account_note_session (account, FALSE, earlier);
  ms_account_note_session (account, FALSE, refused);
  g_assert_true (g_settings_get_boolean (settings, "starttls-seen"));
  g_assert_cmpint (ms_account_get_rate_limited_until (account), ==, limited->until);

  g_assert_finalize_object (account);
}

/* keys[] in ms-account.c repeats the schema's ranges; they must agree. */
static void
test_schema_agrees (void)
{
  GSettingsSchemaSource *source = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = g_settings_schema_source_lookup (source, MS_ACCOUNT_SCHEMA_ID, TRUE);
  g_auto(GStrv) schema_keys = NULL;
  g_auto(GStrv) keys = ms_account_list_keys ();

  g_assert_nonnull (schema);
  schema_keys = g_settings_schema_list_keys (schema);
  g_assert_cmpuint (g_strv_length (schema_keys), ==, g_strv_length (keys));
  for (guint i = 0; schema_keys[i] != NULL; i++)
    g_assert_true (g_strv_contains ((const char * const *) keys, schema_keys[i]));
  /* The form order ends with the advanced, resettable starttls-seen. */
  g_assert_cmpstr (keys[0], ==, "email-address");
  g_assert_cmpstr (keys[g_strv_length (keys) - 1], ==, "starttls-seen");

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autoptr(GSettingsSchemaKey) key = g_settings_schema_get_key (schema, keys[i]);
      g_autoptr(GVariant) range = g_settings_schema_key_get_range (key);
      const char *kind;
      g_autoptr(GVariant) bounds = NULL;
      gint32 min, max;

      g_variant_get (range, "(&sv)", &kind, &bounds);
      if (strcmp (kind, "range") != 0 || !g_variant_is_of_type (bounds, G_VARIANT_TYPE ("(ii)")))
        continue;
      g_variant_get (bounds, "(ii)", &min, &max);

      {
        g_autofree char *at_min = g_strdup_printf ("%d", min);
        g_autofree char *at_max = g_strdup_printf ("%d", max);
        g_autofree char *below = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) min - 1);
        g_autofree char *above = g_strdup_printf ("%" G_GINT64_FORMAT, (gint64) max + 1);

        g_test_message ("%s: %d..%d", keys[i], min, max);
        g_assert_true (ms_account_check_value (keys[i], at_min, NULL, NULL));
        g_assert_true (ms_account_check_value (keys[i], at_max, NULL, NULL));
        g_assert_false (ms_account_check_value (keys[i], below, NULL, NULL));
        g_assert_false (ms_account_check_value (keys[i], above, NULL, NULL));
      }
    }
}

static void
test_missing_schema (void)
{
  if (g_test_subprocess ())
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *empty = g_dir_make_tmp ("mailshot-noschema-XXXXXX", NULL);

      g_setenv ("GSETTINGS_SCHEMA_DIR", empty, TRUE);
      g_setenv ("XDG_DATA_DIRS", empty, TRUE);
      g_setenv ("XDG_DATA_HOME", empty, TRUE);
      g_assert_null (ms_account_new ("default", &error));
      g_assert_error (error, MS_ERROR, MS_ERROR_FAILED);
      g_print ("%s\n", error->message);
      g_rmdir (empty);
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("*io.github.mailshot.Mailshot.Account is not installed*");
  g_test_trap_assert_stdout ("*GSETTINGS_SCHEMA_DIR*");
}

static void
test_persistent (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
      g_assert_false (ms_account_settings_are_persistent ());
      return;
    }

  /* The test environment uses the keyfile backend, which keeps values. */
  g_assert_true (ms_account_settings_are_persistent ());
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  g_test_add_func ("/mailshot/account/defaults", test_defaults);
  g_test_add_func ("/mailshot/account/names", test_names);
  g_test_add_func ("/mailshot/account/round-trip", test_round_trip);
  g_test_add_func ("/mailshot/account/validation", test_validation);
  g_test_add_func ("/mailshot/account/one-address-rule", test_one_address_rule);
  g_test_add_func ("/mailshot/account/unknown-key", test_unknown_key);
  g_test_add_func ("/mailshot/account/binding", test_binding);
  g_test_add_func ("/mailshot/account/reset", test_reset);
  g_test_add_func ("/mailshot/account/setters", test_setters);
  g_test_add_func ("/mailshot/account/note-session", test_note_session);
  g_test_add_func ("/mailshot/account/schema-agrees", test_schema_agrees);
  g_test_add_func ("/mailshot/account/missing-schema", test_missing_schema);
  g_test_add_func ("/mailshot/account/persistent", test_persistent);

  return g_test_run ();
}
