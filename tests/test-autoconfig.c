/* test-autoconfig.c: settings found from an address: the table, autoconfig files over local HTTPS, MX from a test resolver
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "mailshot-core.h"
#include "ms-test-autoconfig.h"

/* ---- A resolver that knows only the test's MX records ------------------- */

#define MS_TYPE_TEST_RESOLVER (ms_test_resolver_get_type ())
G_DECLARE_FINAL_TYPE (MsTestResolver, ms_test_resolver, MS, TEST_RESOLVER, GResolver)

struct _MsTestResolver
{
  GResolver   parent_instance;
  GHashTable *mx;        /* domain → "PREF HOST,PREF HOST" */
  GHashTable *asked;     /* domain → number of MX lookups */
  GMutex      lock;
};

G_DEFINE_FINAL_TYPE (MsTestResolver, ms_test_resolver, G_TYPE_RESOLVER)

static GError *
refused (const char *what)
{
  /* Total: anything but the MX answers below is an error, never a real lookup. */
  return g_error_new (G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "test resolver: no %s", what);
}

static GList *
test_lookup_by_name (GResolver *resolver, const char *hostname, GCancellable *c, GError **error)
{
  g_propagate_error (error, refused (hostname));
  return NULL;
}

static char *
test_lookup_by_address (GResolver *resolver, GInetAddress *address, GCancellable *c, GError **error)
{
  g_propagate_error (error, refused ("reverse lookup"));
  return NULL;
}

static GList *
test_lookup_service (GResolver *resolver, const char *rrname, GCancellable *c, GError **error)
{
  g_propagate_error (error, refused (rrname));
  return NULL;
}

static GList *
test_lookup_records (GResolver           *resolver,
                     const char          *rrname,
                     GResolverRecordType  type,
                     GCancellable        *cancellable,
                     GError             **error)
{
  MsTestResolver *self = MS_TEST_RESOLVER (resolver);
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&self->lock);
  const char *answer;
  GList *records = NULL;
  g_auto(GStrv) entries = NULL;

  g_assert_cmpint (type, ==, G_RESOLVER_RECORD_MX);
  g_hash_table_insert (self->asked, g_strdup (rrname),
                       GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (self->asked, rrname)) + 1));
  answer = g_hash_table_lookup (self->mx, rrname);
  if (answer == NULL)
    {
      g_propagate_error (error, refused (rrname));
      return NULL;
    }
  entries = g_strsplit (answer, ",", -1);
  for (guint i = 0; entries[i] != NULL; i++)
    {
      guint pref;
      char host[256];

      g_assert_cmpint (sscanf (entries[i], "%u %255s", &pref, host), ==, 2);
      records = g_list_append (records, g_variant_ref_sink (g_variant_new ("(qs)", (guint16) pref, host)));
    }
  return records;
}

static void
test_async_refused (GResolver *resolver, GCancellable *c, GAsyncReadyCallback cb, gpointer data)
{
  g_task_report_error (resolver, cb, data, NULL, refused ("asynchronous lookup"));
}

static void
test_lookup_by_name_async (GResolver *r, const char *h, GCancellable *c, GAsyncReadyCallback cb, gpointer d)
{
  test_async_refused (r, c, cb, d);
}

static void
test_lookup_by_address_async (GResolver *r, GInetAddress *a, GCancellable *c, GAsyncReadyCallback cb, gpointer d)
{
  test_async_refused (r, c, cb, d);
}

static void
test_lookup_service_async (GResolver *r, const char *n, GCancellable *c, GAsyncReadyCallback cb, gpointer d)
{
  test_async_refused (r, c, cb, d);
}

static void
test_lookup_records_async (GResolver *r, const char *n, GResolverRecordType t, GCancellable *c,
                           GAsyncReadyCallback cb, gpointer d)
{
  test_async_refused (r, c, cb, d);
}

static GList *
test_finish_list (GResolver *r, GAsyncResult *res, GError **error)
{
  return g_task_propagate_pointer (G_TASK (res), error);
}

static char *
test_finish_string (GResolver *r, GAsyncResult *res, GError **error)
{
  return g_task_propagate_pointer (G_TASK (res), error);
}

static void
ms_test_resolver_finalize (GObject *object)
{
  MsTestResolver *self = MS_TEST_RESOLVER (object);

  g_hash_table_unref (self->mx);
  g_hash_table_unref (self->asked);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (ms_test_resolver_parent_class)->finalize (object);
}

static void
ms_test_resolver_class_init (MsTestResolverClass *klass)
{
  GResolverClass *resolver_class = G_RESOLVER_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = ms_test_resolver_finalize;
  resolver_class->lookup_by_name = test_lookup_by_name;
  resolver_class->lookup_by_name_async = test_lookup_by_name_async;
  resolver_class->lookup_by_name_finish = test_finish_list;
  resolver_class->lookup_by_address = test_lookup_by_address;
  resolver_class->lookup_by_address_async = test_lookup_by_address_async;
  resolver_class->lookup_by_address_finish = test_finish_string;
  resolver_class->lookup_service = test_lookup_service;
  resolver_class->lookup_service_async = test_lookup_service_async;
  resolver_class->lookup_service_finish = test_finish_list;
  resolver_class->lookup_records = test_lookup_records;
  resolver_class->lookup_records_async = test_lookup_records_async;
  resolver_class->lookup_records_finish = test_finish_list;
}

static void
ms_test_resolver_init (MsTestResolver *self)
{
  self->mx = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->asked = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&self->lock);
}

static MsTestResolver *resolver;   /* the default resolver of this process */

static guint
mx_asked (const char *domain)
{
  g_autoptr(GMutexLocker) locker = g_mutex_locker_new (&resolver->lock);

  return GPOINTER_TO_UINT (g_hash_table_lookup (resolver->asked, domain));
}

/* ---- Servers and helpers ----------------------------------------------- */

static MsTestHttps *https;      /* the trusted HTTPS server */
static MsTestHttps *plain;      /* plain HTTP where HTTPS is expected */
static MsTestHttps *untrusted;  /* HTTPS with a CA nobody trusts */

#define CONFIG_PATH     "mail/config-v1.1.xml"
#define WELLKNOWN_PATH  ".well-known/autoconfig/mail/config-v1.1.xml"

static const char *good_file =
  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
  "<clientConfig version=\"1.1\">\n"
  "  <emailProvider id=\"example.test\">\n"
  "    <domain>example.test</domain>\n"
  "    <displayName>Example Mail</displayName>\n"
  "    <displayShortName>Example</displayShortName>\n"
  "    <incomingServer type=\"imap\">\n"
  "      <hostname>imap.example.test</hostname><port>993</port><socketType>SSL</socketType>\n"
  "      <username>wrong</username><authentication>password-cleartext</authentication>\n"
  "    </incomingServer>\n"
  "    <outgoingServer type=\"smtp\">\n"
  "      <hostname>smtp.%EMAILDOMAIN%</hostname>\n"
  "      <port>587</port>\n"
  "      <socketType>STARTTLS</socketType>\n"
  "      <username>%EMAILLOCALPART%</username>\n"
  "      <authentication>NTLM</authentication>\n"
  "      <authentication>password-encrypted</authentication>\n"
  "      <authentication>password-cleartext</authentication>\n"
  "    </outgoingServer>\n"
  "    <outgoingServer type=\"smtp\">\n"
  "      <hostname>second.example.test</hostname><port>465</port><socketType>SSL</socketType>\n"
  "    </outgoingServer>\n"
  "  </emailProvider>\n"
  "</clientConfig>\n";

static char *
file_for (const char *host,
          int         port,
          const char *socket_type)
{
  return g_strdup_printf ("<clientConfig version=\"1.1\"><emailProvider id=\"x\">"
                          "<displayName>%s mail</displayName>"
                          "<outgoingServer type=\"smtp\"><hostname>%s</hostname><port>%d</port>"
                          "<socketType>%s</socketType><username>%%EMAILADDRESS%%</username>"
                          "<authentication>password-cleartext</authentication></outgoingServer>"
                          "</emailProvider></clientConfig>", host, host, port, socket_type);
}

static void
on_detected (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GTask *wait = user_data;
  GError *error = NULL;
  MsAutoconfigResult *r = ms_autoconfig_detect_finish (result, &error);

  if (r == NULL)
    g_task_return_error (wait, error);
  else
    g_task_return_pointer (wait, r, (GDestroyNotify) ms_autoconfig_result_free);
  g_object_unref (wait);
}

static MsAutoconfigResult *
detect (const char  *address,
        GError     **error)
{
  g_autoptr(GTask) wait = g_task_new (NULL, NULL, NULL, NULL);
  GTask *ref = g_object_ref (wait);

  ms_autoconfig_detect_async (address, NULL, on_detected, ref);
  while (!g_task_get_completed (wait))
    g_main_context_iteration (NULL, TRUE);
  return g_task_propagate_pointer (wait, error);
}

static void
clear_servers (void)
{
  ms_test_https_clear (https);
  ms_test_https_clear (plain);
  ms_test_https_clear (untrusted);
}

/* ---- The built-in table ------------------------------------------------ */

static void
test_table (void)
{
  static const struct {
    const char *address;
    const char *name;
    const char *server;
    int         port;
    gboolean    smtps;
    const char *auth_method;
    const char *user_id;
  } cases[] = {
    { "someone@gmail.com",        "Gmail",         "smtp.gmail.com",         465, TRUE,  "automatic", "someone@gmail.com" },
    { " Some.One@GoogleMail.COM ", "Gmail",        "smtp.gmail.com",         465, TRUE,  "automatic", "Some.One@GoogleMail.COM" },
    { "a@hotmail.co.uk",          "Outlook.com",   "smtp-mail.outlook.com",  587, FALSE, "oauth2",    "a@hotmail.co.uk" },
    { "a@outlook.com",            "Outlook.com",   "smtp-mail.outlook.com",  587, FALSE, "oauth2",    "a@outlook.com" },
    { "a@contoso.onmicrosoft.com", NULL,           NULL,                     0,   FALSE, NULL,        NULL },  /* a subdomain */
    { "a@onmicrosoft.com",        "Microsoft 365", "smtp.office365.com",     587, FALSE, "oauth2",    "a@onmicrosoft.com" },
    { "a@yahoo.de",               "Yahoo Mail",    "smtp.mail.yahoo.com",    465, TRUE,  "automatic", "a@yahoo.de" },
    { "a@icloud.com",             "iCloud Mail",   "smtp.mail.me.com",       587, FALSE, "automatic", "a@icloud.com" },
    { "a@gmx.de",                 "GMX",           "mail.gmx.net",           465, TRUE,  "automatic", "a@gmx.de" },
    { "a@gmx.com",                "GMX",           "mail.gmx.com",           465, TRUE,  "automatic", "a@gmx.com" },
    { "hans.meier@web.de",        "WEB.DE",        "smtp.web.de",            465, TRUE,  "automatic", "hans.meier" },
    { "a@t-online.de",            "T-Online",      "securesmtp.t-online.de", 465, TRUE,  "automatic", "a@t-online.de" },
    { "a@fastmail.com",           "Fastmail",      "smtp.fastmail.com",      465, TRUE,  "automatic", "a@fastmail.com" },
    { "a@zohomail.com",           "Zoho Mail",     "smtp.zoho.com",          465, TRUE,  "automatic", "a@zohomail.com" },
    { "a@notgmail.com",           NULL,            NULL,                     0,   FALSE, NULL,        NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsAutoconfigResult) r = ms_autoconfig_lookup_table (cases[i].address, &error);

      g_test_message ("%s", cases[i].address);
      g_assert_no_error (error);
      if (cases[i].name == NULL)
        {
          g_assert_null (r);
          continue;
        }
      g_assert_nonnull (r);
      g_assert_cmpstr (r->provider_name, ==, cases[i].name);
      g_assert_cmpstr (r->server, ==, cases[i].server);
      g_assert_cmpint (r->port, ==, cases[i].port);
      g_assert_cmpint (r->use_smtps, ==, cases[i].smtps);
      g_assert_cmpstr (ms_autoconfig_result_get_auth_method (r), ==, cases[i].auth_method);
      g_assert_true (ms_autoconfig_result_needs_authentication (r));
      g_assert_cmpstr (r->user_id, ==, cases[i].user_id);
      g_assert_cmpint (r->source, ==, MS_AUTOCONFIG_SOURCE_TABLE);
      g_assert_null (r->source_detail);
    }

  /* The relays are offered by name, never found from an address. */
  {
    const MsProviderSettings * const *relays = ms_provider_list_relays ();
    const MsProviderSettings *sendgrid = ms_provider_settings_for_id ("sendgrid");
    g_autofree char *mailgun_user = NULL;

    g_assert_nonnull (relays[0]);
    g_assert_cmpstr (relays[0]->id, ==, "mailgun");
    g_assert_cmpstr (relays[1]->id, ==, "sendgrid");
    g_assert_cmpstr (relays[2]->id, ==, "amazon-ses");
    g_assert_null (relays[3]);
    g_assert_cmpstr (sendgrid->server, ==, "smtp.sendgrid.net");
    g_assert_cmpstr (sendgrid->user_id, ==, "apikey");
    mailgun_user = ms_autoconfig_expand (relays[0]->user_id, "news@lists.example.org");
    g_assert_cmpstr (mailgun_user, ==, "postmaster@lists.example.org");
  }
}

/* The table answers without a request or a lookup. */
static void
test_table_first (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autofree char *log = NULL;
  g_autofree char *source = NULL;

  clear_servers ();
  r = detect ("news@gmail.com", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->server, ==, "smtp.gmail.com");
  g_assert_cmpint (r->source, ==, MS_AUTOCONFIG_SOURCE_TABLE);
  source = ms_autoconfig_result_describe_source (r);
  g_assert_cmpstr (source, ==, "the built-in table of providers");
  log = ms_test_https_get_log (https);
  g_assert_cmpstr (log, ==, "");
  g_assert_cmpuint (mx_asked ("gmail.com"), ==, 0);
}

/* ---- Parsing --------------------------------------------------------------- */

static void
test_parse (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = ms_autoconfig_parse (good_file, -1, "jo@example.test", &error);
  g_autoptr(MsAutoconfigResult) oauth = NULL;
  g_autoptr(MsAutoconfigResult) none = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (r->provider_name, ==, "Example Mail");
  g_assert_cmpstr (r->server, ==, "smtp.example.test");     /* the first SMTP server, expanded */
  g_assert_cmpint (r->port, ==, 587);
  g_assert_false (r->use_smtps);
  g_assert_cmpint (r->auth, ==, MS_PROVIDER_AUTH_CRAM_MD5);  /* NTLM skipped: not supported */
  g_assert_cmpstr (r->user_id_pattern, ==, "%EMAILLOCALPART%");
  g_assert_cmpstr (r->user_id, ==, "jo");
  g_assert_cmpint (r->source, ==, MS_AUTOCONFIG_SOURCE_FILE);

  oauth = ms_autoconfig_parse ("<clientConfig><emailProvider id='m'><displayShortName>M</displayShortName>"
                               "<outgoingServer type='smtp'><hostname>SMTP.M.TEST</hostname><port>465</port>"
                               "<socketType>SSL</socketType><authentication>OAuth2</authentication>"
                               "<authentication>password-cleartext</authentication></outgoingServer>"
                               "</emailProvider></clientConfig>", -1, "a@m.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (oauth->provider_name, ==, "M");
  g_assert_cmpstr (oauth->server, ==, "smtp.m.test");
  g_assert_true (oauth->use_smtps);
  g_assert_cmpstr (ms_autoconfig_result_get_auth_method (oauth), ==, "oauth2");
  g_assert_cmpstr (oauth->user_id, ==, "a@m.test");          /* no username: the address */

  none = ms_autoconfig_parse ("<clientConfig><emailProvider id='n'>"
                              "<outgoingServer type='smtp'><hostname>relay.n.test</hostname><port>587</port>"
                              "<socketType>STARTTLS</socketType><authentication>none</authentication>"
                              "</outgoingServer></emailProvider></clientConfig>", -1, "a@n.test", &error);
  g_assert_no_error (error);
  g_assert_false (ms_autoconfig_result_needs_authentication (none));
  g_assert_cmpstr (none->provider_name, ==, "n.test");
}

static void
test_parse_hostile (void)
{
  g_autofree char *deep = NULL;
  g_autofree char *huge = NULL;
  g_autofree char *long_text = NULL;
  g_autoptr(GString) nest = g_string_new ("<clientConfig><emailProvider>");
  const char *cases[] = {
    "",
    "not xml at all",
    "<clientConfig><emailProvider><outgoingServer type='smtp'>",                 /* truncated */
    "<html><body>It works!</body></html>",                                       /* a web page */
    "<clientConfig/>",                                                           /* nothing */
    "<clientConfig><emailProvider><outgoingServer type='ews'><hostname>h.test</hostname>"
      "<port>443</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    /* entities: GMarkup reads no DTD, so none is ever expanded or fetched */
    "<!DOCTYPE clientConfig [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
      "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>&b;</hostname>"
      "<port>25</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    "<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><clientConfig><emailProvider>"
      "<outgoingServer type='smtp'><hostname>&x;</hostname><port>25</port><socketType>SSL</socketType>"
      "</outgoingServer></emailProvider></clientConfig>",
    /* plain: the password in the clear */
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test</hostname>"
      "<port>25</port><socketType>plain</socketType></outgoingServer></emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test</hostname>"
      "<port>25</port></outgoingServer></emailProvider></clientConfig>",
    /* host names that are not one */
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>evil host</hostname>"
      "<port>25</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>user@h.test</hostname>"
      "<port>25</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test:25</hostname>"
      "<port>25</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>-h.test</hostname>"
      "<port>25</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    /* ports */
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test</hostname>"
      "<port>0</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test</hostname>"
      "<port>70000</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test</hostname>"
      "<port>-25</port><socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test</hostname>"
      "<socketType>SSL</socketType></outgoingServer></emailProvider></clientConfig>",
    /* control characters (an escape sequence for a terminal) */
    "<clientConfig><emailProvider><displayName>&#27;[2J</displayName><outgoingServer type='smtp'>"
      "<hostname>h.test</hostname><port>465</port><socketType>SSL</socketType></outgoingServer>"
      "</emailProvider></clientConfig>",
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>h.test</hostname><port>465</port>"
      "<socketType>SSL</socketType><username>a&#10;b</username></outgoingServer></emailProvider></clientConfig>",
    /* invalid UTF-8 */
    "<clientConfig><emailProvider><displayName>\xff\xfe</displayName></emailProvider></clientConfig>",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsAutoconfigResult) r = ms_autoconfig_parse (cases[i], -1, "a@h.test", &error);

      g_test_message ("case %u", i);
      g_assert_null (r);
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
      g_assert_true (g_str_has_prefix (error->message, "The autoconfig file "));
    }

  for (guint i = 0; i < 100; i++)
    g_string_append (nest, "<x>");
  deep = g_string_free (g_steal_pointer (&nest), FALSE);
  huge = g_strnfill (70 * 1024, ' ');
  long_text = g_strdup_printf ("<clientConfig><emailProvider><displayName>%s</displayName></emailProvider></clientConfig>",
                               huge + 60 * 1024);
  {
    g_autoptr(GError) e1 = NULL, e2 = NULL, e3 = NULL;

    g_assert_null (ms_autoconfig_parse (deep, -1, "a@h.test", &e1));
    g_assert_error (e1, MS_ERROR, MS_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (e1->message, "nested"));
    g_assert_null (ms_autoconfig_parse (huge, -1, "a@h.test", &e2));
    g_assert_error (e2, MS_ERROR, MS_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (e2->message, "64 KiB"));
    g_assert_null (ms_autoconfig_parse (long_text, -1, "a@h.test", &e3));
    g_assert_error (e3, MS_ERROR, MS_ERROR_INVALID_INPUT);
  }
}

/* A file in another encoding (or with a NUL) is refused with a message that
 * is itself valid UTF-8: GMarkup's own message quotes the bad bytes. Found by
 * fuzz-autoconfig (fuzz/corpus/autoconfig/non-utf8). */
static void
test_parse_not_utf8 (void)
{
  static const char latin1[] =
    "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><clientConfig><emailProvider id=\"l\">"
    "<displayName>M\xfcller Mail</displayName><outgoingServer type=\"smtp\"><hostname>smtp.latin.test</hostname>"
    "<port>587</port><socketType>STARTTLS</socketType></outgoingServer></emailProvider></clientConfig>";
  static const char with_nul[] =
    "<clientConfig><emailProvider><displayName>A\0B</displayName><outgoingServer type=\"smtp\">"
    "<hostname>smtp.nul.test</hostname><port>587</port><socketType>STARTTLS</socketType>"
    "</outgoingServer></emailProvider></clientConfig>";
  const struct { const char *xml; gssize len; } cases[] = {
    { latin1, -1 },
    { with_nul, sizeof with_nul - 1 },
    { "<clientConfig><emailProvider><outgoingServer type=\"smtp\"><hostname>smtp.\xc3(.test</hostname>", -1 },
    { "<clientConfig \xe2\x82=\"x\"/>", -1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsAutoconfigResult) r = ms_autoconfig_parse (cases[i].xml, cases[i].len, "a@h.test", &error);

      g_test_message ("case %u", i);
      g_assert_null (r);
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      g_assert_nonnull (strstr (error->message, "UTF-8"));
    }

  /* Valid UTF-8 that GMarkup refuses: its message quoted only the first byte
   * of the character it stopped at (fuzz/corpus/autoconfig/crash-name-cut-char). */
  {
    const char *names[] = {
      "<clientConfig><emailProvider><username\xc2\x88></username></emailProvider></clientConfig>",
      "<clientConfig><emailProvider x\xe2\x82\xac=\"1\"/></clientConfig>",
      "<clientConfig\xf0\x9f\x98\x80/>",
    };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autoptr(GError) error = NULL;
        g_autoptr(MsAutoconfigResult) r = ms_autoconfig_parse (names[i], -1, "a@h.test", &error);

        g_test_message ("name %u", i);
        g_assert_null (r);
        g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
        g_test_message ("%s", error->message);
        g_assert_true (g_utf8_validate (error->message, -1, NULL));
      }
  }
}

/* "%" is allowed in a local part: a placeholder that comes in with the address
 * is not filled in again. Found by fuzz-autoconfig
 * (fuzz/corpus/autoconfig/placeholder-in-address). */
static void
test_expand_once (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autofree char *a = ms_autoconfig_expand ("%EMAILADDRESS%", "%EMAILDOMAIN%@percent.test");
  g_autofree char *b = ms_autoconfig_expand ("%EMAILADDRESS%|%EMAILLOCALPART%|%EMAILDOMAIN%",
                                             "x%EMAILLOCALPART%y@percent.test");
  g_autofree char *c = ms_autoconfig_expand ("%EMAILLOCALPART%%EMAILDOMAIN%%", "a%@p.test");

  g_assert_cmpstr (a, ==, "%EMAILDOMAIN%@percent.test");
  g_assert_cmpstr (b, ==, "x%EMAILLOCALPART%y@percent.test|x%EMAILLOCALPART%y|percent.test");
  g_assert_cmpstr (c, ==, "a%p.test%");

  r = ms_autoconfig_parse ("<clientConfig><emailProvider><outgoingServer type='smtp'>"
                           "<hostname>smtp.percent.test</hostname><port>465</port><socketType>SSL</socketType>"
                           "<username>%EMAILADDRESS%</username></outgoingServer></emailProvider></clientConfig>",
                           -1, "%EMAILDOMAIN%@percent.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->user_id, ==, "%EMAILDOMAIN%@percent.test");
}

/* An internationalised domain: smtp.%EMAILDOMAIN% for jörg@bücher.test, or a
 * host name written in Unicode, is the host name in ASCII (IDNA), not refused. */
static void
test_parse_idn (void)
{
  static const char file[] =
    "<clientConfig><emailProvider><outgoingServer type='smtp'><hostname>%s</hostname>"
    "<port>587</port><socketType>STARTTLS</socketType><username>%%EMAILADDRESS%%</username>"
    "</outgoingServer></emailProvider></clientConfig>";
  g_autofree char *by_domain = g_strdup_printf (file, "smtp.%EMAILDOMAIN%");
  g_autofree char *in_unicode = g_strdup_printf (file, "SMTP.B\xc3\x9c" "CHER.test");
  g_autofree char *too_long = NULL;
  g_autofree char *long_label = g_strnfill (300, 'a');
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autoptr(MsAutoconfigResult) r2 = NULL;
  g_autoptr(MsAutoconfigResult) r3 = NULL;

  r = ms_autoconfig_parse (by_domain, -1, "j\xc3\xb6rg@b\xc3\xbc" "cher.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->server, ==, "smtp.xn--bcher-kva.test");
  g_assert_cmpstr (r->user_id, ==, "j\xc3\xb6rg@b\xc3\xbc" "cher.test");   /* the address as typed */

  r2 = ms_autoconfig_parse (in_unicode, -1, "a@b.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r2->server, ==, "smtp.xn--bcher-kva.test");

  /* Still refused: what is no host name in any script. */
  too_long = g_strdup_printf (file, long_label);
  g_assert_null (ms_autoconfig_parse (too_long, -1, "a@b.test", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_clear_error (&error);
  r3 = ms_autoconfig_parse (by_domain, -1, "a@b.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r3->server, ==, "smtp.b.test");
}

/* ---- Autoconfig files over HTTPS ---------------------------------------- */

static void
test_file_first_url (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autofree char *log = NULL;
  g_autofree char *source = NULL;

  clear_servers ();
  ms_test_https_put (https, "autoconfig.example.test", CONFIG_PATH, good_file, -1);
  r = detect ("Jo+News@Example.Test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->server, ==, "smtp.example.test");
  g_assert_cmpint (r->port, ==, 587);
  g_assert_cmpstr (r->user_id, ==, "Jo+News");
  g_assert_cmpint (r->source, ==, MS_AUTOCONFIG_SOURCE_FILE);
  g_assert_cmpstr (r->source_detail, ==,
                   "https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=Jo%2BNews%40Example.Test");
  source = ms_autoconfig_result_describe_source (r);
  g_assert_cmpstr (source, ==, "the autoconfig file at "
                   "https://autoconfig.example.test/mail/config-v1.1.xml?emailaddress=Jo%2BNews%40Example.Test");
  log = ms_test_https_get_log (https);
  g_assert_cmpstr (log, ==, "GET autoconfig.example.test /mail/config-v1.1.xml?emailaddress=Jo%2BNews%40Example.Test\n");
  g_assert_cmpuint (mx_asked ("example.test"), ==, 0);
}

static void
test_file_well_known (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autofree char *log = NULL;
  g_autofree char *file = file_for ("smtp.well.test", 465, "SSL");

  clear_servers ();
  ms_test_https_put (https, "well.test", WELLKNOWN_PATH, file, -1);
  r = detect ("a@well.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->server, ==, "smtp.well.test");
  g_assert_true (r->use_smtps);
  g_assert_cmpstr (r->source_detail, ==, "https://well.test/.well-known/autoconfig/mail/config-v1.1.xml");
  log = ms_test_https_get_log (https);
  g_assert_cmpstr (log, ==,
                   "GET autoconfig.well.test /mail/config-v1.1.xml?emailaddress=a%40well.test\n"
                   "GET well.test /.well-known/autoconfig/mail/config-v1.1.xml\n");
}

/* autoconfig.DOMAIN before DOMAIN/.well-known, and a file before the MX. */
static void
test_order (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autoptr(MsAutoconfigResult) r2 = NULL;
  g_autofree char *first = file_for ("first.both.test", 587, "STARTTLS");
  g_autofree char *second = file_for ("second.both.test", 465, "SSL");

  clear_servers ();
  ms_test_https_put (https, "autoconfig.both.test", CONFIG_PATH, first, -1);
  ms_test_https_put (https, "both.test", WELLKNOWN_PATH, second, -1);
  r = detect ("a@both.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->server, ==, "first.both.test");
  g_assert_cmpuint (mx_asked ("both.test"), ==, 0);

  /* Without the first, the second; still no MX lookup although Google's MX waits. */
  clear_servers ();
  ms_test_https_put (https, "both.test", WELLKNOWN_PATH, second, -1);
  r2 = detect ("a@both.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r2->server, ==, "second.both.test");
  g_assert_cmpuint (mx_asked ("both.test"), ==, 0);
}

static void
test_mx (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) google = NULL;
  g_autoptr(MsAutoconfigResult) microsoft = NULL;
  g_autoptr(MsAutoconfigResult) both = NULL;
  g_autofree char *google_source = NULL;
  g_autofree char *microsoft_source = NULL;
  g_autofree char *log = NULL;

  clear_servers ();
  google = detect ("office@mxgoogle.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (google->provider_name, ==, "Google Workspace");
  g_assert_cmpstr (google->server, ==, "smtp.gmail.com");
  g_assert_cmpint (google->port, ==, 465);
  g_assert_true (google->use_smtps);
  g_assert_cmpstr (google->user_id, ==, "office@mxgoogle.test");
  g_assert_cmpint (google->source, ==, MS_AUTOCONFIG_SOURCE_MX);
  g_assert_cmpstr (google->source_detail, ==, "aspmx.l.google.com");   /* the preferred one */
  google_source = ms_autoconfig_result_describe_source (google);
  g_assert_cmpstr (google_source, ==, "MX records point to Google (aspmx.l.google.com)");
  /* Both files were asked for first. */
  log = ms_test_https_get_log (https);
  g_assert_cmpstr (log, ==,
                   "GET autoconfig.mxgoogle.test /mail/config-v1.1.xml?emailaddress=office%40mxgoogle.test\n"
                   "GET mxgoogle.test /.well-known/autoconfig/mail/config-v1.1.xml\n");
  g_assert_cmpuint (mx_asked ("mxgoogle.test"), ==, 1);

  microsoft = detect ("office@mxms.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (microsoft->provider_name, ==, "Microsoft 365");
  g_assert_cmpstr (microsoft->server, ==, "smtp.office365.com");
  g_assert_cmpint (microsoft->port, ==, 587);
  g_assert_false (microsoft->use_smtps);
  g_assert_cmpstr (ms_autoconfig_result_get_auth_method (microsoft), ==, "oauth2");
  g_assert_cmpstr (microsoft->oauth2_provider, ==, "microsoft");
  microsoft_source = ms_autoconfig_result_describe_source (microsoft);
  g_assert_cmpstr (microsoft_source, ==, "MX records point to Microsoft (mxms-test.mail.protection.outlook.com)");

  /* googlemail.com MX hosts too */
  both = detect ("a@mxgooglemail.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (both->server, ==, "smtp.gmail.com");
}

/* ---- What is refused --------------------------------------------------- */

static void
assert_not_found (const char *address,
                  const char *domain,
                  const char *why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = detect (address, &error);
  g_autofree char *expect = g_strdup_printf ("No SMTP settings found for %s.", domain);

  g_assert_null (r);
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_test_message ("%s", error->message);
  g_assert_true (g_str_has_prefix (error->message, expect));
  g_assert_nonnull (strstr (error->message, why));
}

static void
test_http_refused (void)
{
  g_autofree char *file = file_for ("smtp.plain.test", 587, "STARTTLS");
  g_autofree char *log = NULL;
  g_autofree char *redirect_log = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;

  clear_servers ();
  /* A server that answers in plain HTTP where HTTPS is asked for. */
  ms_test_https_put (plain, "autoconfig.plain.test", CONFIG_PATH, file, -1);
  ms_test_https_put (plain, "plain.test", WELLKNOWN_PATH, file, -1);
  assert_not_found ("a@plain.test", "plain.test", "?emailaddress=a%40plain.test (no secure connection)");

  /* An HTTPS answer that redirects to http:// is not followed. */
  ms_test_https_put (https, "autoconfig.redirect.test", CONFIG_PATH ".redirect",
                     "http://autoconfig.redirect.test/mail/plain.xml", -1);
  ms_test_https_put (https, "autoconfig.redirect.test", "mail/plain.xml", file, -1);
  assert_not_found ("a@redirect.test", "redirect.test", "(redirected away from HTTPS)");
  redirect_log = ms_test_https_get_log (https);
  g_assert_null (strstr (redirect_log, "plain.xml"));

  /* A certificate from a CA the system does not trust. */
  ms_test_https_put (untrusted, "autoconfig.untrusted.test", CONFIG_PATH, file, -1);
  assert_not_found ("a@untrusted.test", "untrusted.test", "?emailaddress=a%40untrusted.test (no secure connection)");

  /* An HTTPS redirect to HTTPS is followed (up to three). */
  ms_test_https_put (https, "autoconfig.redirect.test", CONFIG_PATH ".redirect",
                     "https://autoconfig.redirect.test/mail/good.xml", -1);
  ms_test_https_put (https, "autoconfig.redirect.test", "mail/good.xml", file, -1);
  r = detect ("a@redirect.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->server, ==, "smtp.plain.test");
}

static void
test_oversized (void)
{
  g_autofree char *padding = g_strnfill (200 * 1024, ' ');
  g_autofree char *file = file_for ("smtp.big.test", 587, "STARTTLS");
  g_autofree char *big = g_strconcat (file, padding, NULL);
  gint64 start;

  clear_servers ();
  ms_test_https_put (https, "autoconfig.big.test", CONFIG_PATH, big, -1);
  assert_not_found ("a@big.test", "big.test", "(larger than 64 KiB)");

  /* No length announced, and it never ends: stopped at the cap, not at the timeout. */
  ms_test_https_put (https, "autoconfig.big.test", CONFIG_PATH ".stream", "", -1);
  start = g_get_monotonic_time ();
  assert_not_found ("a@big.test", "big.test", "(larger than 64 KiB)");
  g_assert_cmpint (g_get_monotonic_time () - start, <, 8 * G_USEC_PER_SEC);
}

static void
test_malformed_falls_through (void)
{
  g_autofree char *good = file_for ("smtp.bad.test", 465, "SSL");
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;

  clear_servers ();
  ms_test_https_put (https, "autoconfig.bad.test", CONFIG_PATH, "<clientConfig><emailProvider>", -1);
  ms_test_https_put (https, "bad.test", WELLKNOWN_PATH, good, -1);
  r = detect ("a@bad.test", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (r->source_detail, ==, "https://bad.test/.well-known/autoconfig/mail/config-v1.1.xml");
}

static void
test_not_found (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;

  clear_servers ();
  r = detect ("a@mxother.test", &error);
  g_assert_null (r);
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==,
                   "No SMTP settings found for mxother.test. Tried: the built-in table of providers; "
                   "https://autoconfig.mxother.test/mail/config-v1.1.xml?emailaddress=a%40mxother.test (HTTP status 404); "
                   "https://mxother.test/.well-known/autoconfig/mail/config-v1.1.xml (HTTP status 404); "
                   "its MX records (mx.mxother.test), which are not Google’s or Microsoft’s. "
                   "Ask your provider for the SMTP server and port and type them in.");
  g_clear_error (&error);

  /* No server at all for the names, no MX. */
  r = detect ("a@nothing.test", &error);
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "(not reachable)"));
  g_assert_nonnull (strstr (error->message, "its MX records (none found)"));
  g_clear_error (&error);

  r = detect ("not an address", &error);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  r = detect ("a@", &error);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
}

static void
test_cancel (void)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GTask) wait = g_task_new (NULL, NULL, NULL, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  gint64 start;

  clear_servers ();
  ms_test_https_put (https, "autoconfig.big.test", CONFIG_PATH ".stream", "", -1);
  g_cancellable_cancel (cancellable);
  start = g_get_monotonic_time ();
  ms_autoconfig_detect_async ("a@big.test", cancellable, on_detected, g_object_ref (wait));
  while (!g_task_get_completed (wait))
    g_main_context_iteration (NULL, TRUE);
  r = g_task_propagate_pointer (wait, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
}

int
main (int argc, char *argv[])
{
  static const char * const names[] = {
    "autoconfig.example.test", "example.test", "autoconfig.well.test", "well.test",
    "autoconfig.both.test", "both.test", "autoconfig.mxgoogle.test", "mxgoogle.test",
    "autoconfig.mxgooglemail.test", "mxgooglemail.test",
    "autoconfig.mxms.test", "mxms.test", "autoconfig.mxother.test", "mxother.test",
    "autoconfig.redirect.test", "redirect.test", "autoconfig.big.test", "big.test",
    "autoconfig.bad.test", "bad.test", NULL
  };
  static const char * const plain_names[] = { "autoconfig.plain.test", "plain.test", NULL };
  static const char * const untrusted_names[] = { "autoconfig.untrusted.test", "untrusted.test", NULL };
  g_autofree char *connect_to = NULL;
  g_autofree char *c1 = NULL, *c2 = NULL, *c3 = NULL, *ca = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  resolver = g_object_new (MS_TYPE_TEST_RESOLVER, NULL);
  g_hash_table_insert (resolver->mx, g_strdup ("mxgoogle.test"),
                       g_strdup ("20 alt1.aspmx.l.google.com,10 aspmx.l.google.com"));
  g_hash_table_insert (resolver->mx, g_strdup ("mxgooglemail.test"), g_strdup ("5 gmail-smtp-in.l.googlemail.com"));
  g_hash_table_insert (resolver->mx, g_strdup ("both.test"), g_strdup ("1 smtp.google.com"));
  g_hash_table_insert (resolver->mx, g_strdup ("mxms.test"), g_strdup ("0 mxms-test.mail.protection.outlook.com"));
  g_hash_table_insert (resolver->mx, g_strdup ("mxother.test"), g_strdup ("10 mx.mxother.test"));
  g_resolver_set_default (G_RESOLVER (resolver));

  https = ms_test_https_start (FALSE, names);
  plain = ms_test_https_start (TRUE, plain_names);
  untrusted = ms_test_https_start (FALSE, untrusted_names);
  /* Every name the tests use goes to one of the three; only the first's CA is trusted. */
  c1 = ms_test_https_connect_to (https);
  c2 = ms_test_https_connect_to (plain);
  c3 = ms_test_https_connect_to (untrusted);
  connect_to = g_strjoin (",", c1, c2, c3, NULL);
  ca = ms_test_https_get_ca (https);
  g_setenv ("MS_AUTOCONFIG_CONNECT_TO", connect_to, TRUE);
  g_setenv ("MS_AUTOCONFIG_CAINFO", ca, TRUE);
  g_unsetenv ("MS_AUTOCONFIG_MX");

  g_test_add_func ("/mailshot/autoconfig/table", test_table);
  g_test_add_func ("/mailshot/autoconfig/table-first", test_table_first);
  g_test_add_func ("/mailshot/autoconfig/parse", test_parse);
  g_test_add_func ("/mailshot/autoconfig/parse-hostile", test_parse_hostile);
  g_test_add_func ("/mailshot/autoconfig/parse-not-utf8", test_parse_not_utf8);
  g_test_add_func ("/mailshot/autoconfig/expand-once", test_expand_once);
  g_test_add_func ("/mailshot/autoconfig/parse-idn", test_parse_idn);
  g_test_add_func ("/mailshot/autoconfig/file-first-url", test_file_first_url);
  g_test_add_func ("/mailshot/autoconfig/file-well-known", test_file_well_known);
  g_test_add_func ("/mailshot/autoconfig/order", test_order);
  g_test_add_func ("/mailshot/autoconfig/mx", test_mx);
  g_test_add_func ("/mailshot/autoconfig/http-refused", test_http_refused);
  g_test_add_func ("/mailshot/autoconfig/oversized", test_oversized);
  g_test_add_func ("/mailshot/autoconfig/malformed-falls-through", test_malformed_falls_through);
  g_test_add_func ("/mailshot/autoconfig/not-found", test_not_found);
  g_test_add_func ("/mailshot/autoconfig/cancel", test_cancel);
  ret = g_test_run ();

  ms_test_https_stop (https);
  ms_test_https_stop (plain);
  ms_test_https_stop (untrusted);
  return ret;
}
