/* test-oauth2.c: OAuth2 sign-in against a real authorization server on 127.0.0.1, and sending with its tokens
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <gio/gunixinputstream.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mailshot-core.h"
#include "ms-test-support.h"

#define CLIENT_ID "test-client"
#define USER      "sender@example.org"

/* ---- the authorization server (tests/oauth2-server.py, in ms-test-support) */

static char *
read_text (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

static MsTestAuthServer *
auth_server_start (const char *first_arg, ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  MsTestAuthServer *self;
  g_autofree char *ca = NULL;
  gsize length;
  va_list ap;

  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  self = ms_test_auth_server_startv ((const char * const *) args->pdata);
  /* The test CA, honoured for loopback endpoints only, where main() pointed
   * MS_OAUTH2_TEST_CA_ENV: the environment changes only before any thread. */
  g_assert_true (g_file_get_contents (ms_test_auth_server_get_ca (self), &ca, &length, NULL));
  g_assert_true (g_file_set_contents (g_getenv (MS_OAUTH2_TEST_CA_ENV), ca, length, NULL));
  return self;
}

/* ---- the browser: a thread that follows the redirect -------------------- */

typedef struct {
  MsTestAuthServer *server;
  char       *uri;
  gboolean    forge_state;    /* first comes back with a wrong state */
  GThread    *thread;
  long        final_status;
  GString    *final_body;
  long        forged_status;
} Browser;

static gpointer
browser_thread (gpointer data)
{
  Browser *browser = data;
  g_autofree char *location = NULL;

  /* The sign-in page answers at once with a 302 to the loopback redirect. */
  g_assert_cmpint (ms_test_auth_server_request (browser->server, browser->uri, FALSE, &location, NULL), ==, 302);
  g_assert_nonnull (location);
  g_assert_true (g_str_has_prefix (location, "http://127.0.0.1:"));
  if (browser->forge_state)
    {
      g_autoptr(GString) forged = g_string_new (location);

      g_assert_cmpuint (g_string_replace (forged, "state=", "state=forged", 1), ==, 1);
      browser->forged_status = ms_test_http_get (forged->str, NULL);
    }
  browser->final_status = ms_test_http_get (location, browser->final_body);
  return NULL;
}

static void
open_uri_cb (const char *uri,
             gpointer    user_data)
{
  Browser *browser = user_data;

  g_assert_null (browser->uri);
  browser->uri = g_strdup (uri);
  browser->thread = g_thread_new ("browser", browser_thread, browser);
}

static void
result_cb (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  *(GAsyncResult **) user_data = g_object_ref (result);
}

static MsOAuth2 *
new_oauth2 (MsTestAuthServer *server,
            const char *account)
{
  g_autofree char *auth = ms_test_auth_server_url (server, "/authorize");
  g_autofree char *token = ms_test_auth_server_url (server, "/token");
  MsOAuth2Params params = {
    .account = account,
    .provider = MS_OAUTH2_PROVIDER_CUSTOM,
    .user = USER,
    .client_id = CLIENT_ID,
    .auth_endpoint = auth,
    .token_endpoint = token,
    .scope = "smtp offline_access",
  };
  g_autoptr(GError) error = NULL;
  MsOAuth2 *oauth2 = ms_oauth2_new (&params, &error);

  g_assert_no_error (error);
  return oauth2;
}

/* Runs a whole sign-in, the browser following the redirect. */
static gboolean
sign_in (MsTestAuthServer  *server,
         MsOAuth2    *oauth2,
         gboolean     forge_state,
         Browser     *out,
         GError     **error)
{
  Browser browser = { server, NULL, forge_state, NULL, 0, g_string_new (NULL), 0 };
  g_autoptr(GAsyncResult) result = NULL;
  gboolean ok;

  ms_oauth2_sign_in_async (oauth2, open_uri_cb, &browser, NULL, result_cb, &result);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  ok = ms_oauth2_sign_in_finish (oauth2, result, error);
  if (browser.thread != NULL)
    g_thread_join (browser.thread);
  if (out != NULL)
    *out = browser;
  else
    {
      g_free (browser.uri);
      g_string_free (browser.final_body, TRUE);
    }
  return ok;
}

static char *
get_token (MsOAuth2    *oauth2,
           const char  *stale,
           GError     **error)
{
  return ms_oauth2_get_access_token (oauth2, stale, NULL, error);
}

static gboolean
token_is_valid (MsTestAuthServer *server,
                const char *token)
{
  g_autofree char *path = ms_test_auth_server_path (server, "tokens.json");
  g_autofree char *text = read_text (path);
  g_autofree char *quoted = g_strdup_printf ("\"%s\"", token);

  return strstr (text, quoted) != NULL;
}

static char *
stored_refresh_token (MsOAuth2 *oauth2,
                      MsTestAuthServer *server)
{
  g_autofree char *endpoint = ms_test_auth_server_url (server, "/token");
  g_autofree char *provider = g_strconcat ("custom:", endpoint, NULL);
  g_autoptr(GError) error = NULL;
  char *token = ms_secret_lookup_token_sync ("t-oauth2", provider, USER, NULL, &error);

  return token;
}

/* ---- sign-in ------------------------------------------------------------ */

static void
test_sign_in (void)
{
  g_autoptr(MsTestAuthServer) server = auth_server_start (NULL);
  g_autoptr(MsOAuth2) oauth2 = new_oauth2 (server, "t-oauth2");
  g_autoptr(GError) error = NULL;
  g_autoptr(GUri) uri = NULL;
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GUri) redirect = NULL;
  g_autofree char *token = NULL;
  g_autofree char *again = NULL;
  char *refresh;
  Browser browser;

  g_assert_true (sign_in (server, oauth2, FALSE, &browser, &error));
  g_assert_no_error (error);

  /* The address the browser opened: PKCE S256, a loopback redirect with a port. */
  uri = g_uri_parse (browser.uri, G_URI_FLAGS_ENCODED_QUERY, NULL);
  g_assert_nonnull (uri);
  params = g_uri_parse_params (g_uri_get_query (uri), -1, "&", G_URI_PARAMS_WWW_FORM, NULL);
  g_assert_cmpstr (g_hash_table_lookup (params, "response_type"), ==, "code");
  g_assert_cmpstr (g_hash_table_lookup (params, "client_id"), ==, CLIENT_ID);
  g_assert_cmpstr (g_hash_table_lookup (params, "code_challenge_method"), ==, "S256");
  g_assert_cmpuint (strlen (g_hash_table_lookup (params, "code_challenge")), ==, 43);
  g_assert_cmpuint (strlen (g_hash_table_lookup (params, "state")), >=, 22);
  g_assert_cmpstr (g_hash_table_lookup (params, "login_hint"), ==, USER);
  g_assert_cmpstr (g_hash_table_lookup (params, "scope"), ==, "smtp offline_access");
  redirect = g_uri_parse (g_hash_table_lookup (params, "redirect_uri"), G_URI_FLAGS_NONE, NULL);
  g_assert_cmpstr (g_uri_get_scheme (redirect), ==, "http");
  g_assert_cmpstr (g_uri_get_host (redirect), ==, "127.0.0.1");
  g_assert_cmpint (g_uri_get_port (redirect), >, 0);

  /* The browser's tab says it is done. */
  g_assert_cmpint (browser.final_status, ==, 200);
  g_assert_nonnull (strstr (browser.final_body->str, "You can close this tab"));
  g_free (browser.uri);
  g_string_free (browser.final_body, TRUE);

  /* The server checked the verifier against the challenge. */
  g_assert_cmpuint (ms_test_auth_server_log_count (server, "authorize " USER), ==, 1);
  g_assert_cmpuint (ms_test_auth_server_log_count (server, "token authorization_code ok"), ==, 1);

  /* The refresh token is in the keyring; the access token in memory, reused. */
  refresh = stored_refresh_token (oauth2, server);
  g_assert_nonnull (refresh);
  g_assert_true (g_str_has_prefix (refresh, "rt-"));
  ms_secret_free (refresh);
  token = get_token (oauth2, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (token_is_valid (server, token));
  again = get_token (oauth2, NULL, &error);
  g_assert_cmpstr (again, ==, token);
  g_assert_cmpuint (ms_test_auth_server_log_count (server, "token refresh_token ok"), ==, 0);

  /* The redirect listener is gone once the sign-in is done. */
  {
    g_autofree char *late = g_strdup (g_hash_table_lookup (params, "redirect_uri"));
    g_assert_cmpint (ms_test_http_get (late, NULL), ==, -1);
  }

  /* Signing out forgets both. */
  g_assert_true (ms_oauth2_sign_out (oauth2, NULL, &error));
  g_assert_no_error (error);
  g_assert_null (get_token (oauth2, NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED);
  g_assert_nonnull (strstr (error->message, "is not signed in"));
  g_assert_nonnull (strstr (error->message, "mailshot-cli --account t-oauth2 oauth2 sign-in"));
}

static void
test_forged_state (void)
{
  g_autoptr(MsTestAuthServer) server = auth_server_start (NULL);
  g_autoptr(MsOAuth2) oauth2 = new_oauth2 (server, "t-oauth2-forged");
  g_autoptr(GError) error = NULL;
  Browser browser;

  /* A request without our state is refused, and the sign-in goes on
   * waiting for the real one. */
  g_assert_true (sign_in (server, oauth2, TRUE, &browser, &error));
  g_assert_no_error (error);
  g_assert_cmpint (browser.forged_status, ==, 400);
  g_assert_cmpint (browser.final_status, ==, 200);
  g_free (browser.uri);
  g_string_free (browser.final_body, TRUE);
  g_assert_true (ms_oauth2_sign_out (oauth2, NULL, NULL));
}

static void
test_denied (void)
{
  g_autoptr(MsTestAuthServer) server = auth_server_start (NULL);
  g_autoptr(MsOAuth2) oauth2 = new_oauth2 (server, "t-oauth2-denied");
  g_autoptr(GError) error = NULL;

  ms_test_auth_server_admin (server, "deny");
  g_assert_false (sign_in (server, oauth2, FALSE, NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_AUTH);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "was declined: The user declined."));
  g_assert_nonnull (strstr (error->message, "sign in again"));
  g_assert_cmpuint (ms_test_auth_server_log_count (server, "authorize-denied"), ==, 1);
}

static void
test_wrong_client (void)
{
  g_autoptr(MsTestAuthServer) server = auth_server_start ("--client-id=other-client", NULL);
  g_autoptr(MsOAuth2) oauth2 = new_oauth2 (server, "t-oauth2-client");
  g_autoptr(GError) error = NULL;

  g_assert_false (sign_in (server, oauth2, FALSE, NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_AUTH);
  g_assert_nonnull (strstr (error->message, "unauthorized_client"));
  g_assert_nonnull (strstr (error->message, "OAuth2 client ID"));
}

static void
never_open (const char *uri,
            gpointer    user_data)
{
  *(char **) user_data = g_strdup (uri);
}

static gboolean
cancel_later (gpointer data)
{
  g_cancellable_cancel (data);
  return G_SOURCE_REMOVE;
}

static void
test_cancel (void)
{
  g_autoptr(MsTestAuthServer) server = auth_server_start (NULL);
  g_autoptr(MsOAuth2) oauth2 = new_oauth2 (server, "t-oauth2-cancel");
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *uri = NULL;

  ms_oauth2_sign_in_async (oauth2, never_open, &uri, cancellable, result_cb, &result);
  g_assert_nonnull (uri);
  g_timeout_add (100, cancel_later, cancellable);
  while (result == NULL)
    g_main_context_iteration (NULL, TRUE);
  g_assert_false (ms_oauth2_sign_in_finish (oauth2, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ---- tokens ------------------------------------------------------------- */

static void
test_refresh_on_expiry (void)
{
  g_autoptr(MsTestAuthServer) server = auth_server_start ("--access-lifetime=2", NULL);
  g_autoptr(MsOAuth2) oauth2 = new_oauth2 (server, "t-oauth2");
  g_autoptr(GError) error = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  char *refresh_before, *refresh_after;

  g_assert_true (sign_in (server, oauth2, FALSE, NULL, &error));
  first = get_token (oauth2, NULL, &error);
  g_assert_no_error (error);
  refresh_before = stored_refresh_token (oauth2, server);

  /* A 2-second token is renewed after half its life, before it expires. */
  g_usleep (1200 * 1000);
  second = get_token (oauth2, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (second, !=, first);
  g_assert_true (token_is_valid (server, second));
  g_assert_cmpuint (ms_test_auth_server_log_count (server, "token refresh_token ok"), ==, 1);
  /* The server rotated the refresh token; the new one is kept. */
  refresh_after = stored_refresh_token (oauth2, server);
  g_assert_nonnull (refresh_after);
  g_assert_cmpstr (refresh_after, !=, refresh_before);
  ms_secret_free (refresh_before);
  ms_secret_free (refresh_after);

  /* A token the server refused is never handed out again. */
  third = get_token (oauth2, second, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (third, !=, second);
  g_assert_cmpuint (ms_test_auth_server_log_count (server, "token refresh_token ok"), ==, 2);
  g_assert_true (ms_oauth2_sign_out (oauth2, NULL, NULL));
}

static void
test_revoked (void)
{
  g_autoptr(MsTestAuthServer) server = auth_server_start (NULL);
  g_autoptr(MsOAuth2) oauth2 = new_oauth2 (server, "t-oauth2-revoked");
  g_autoptr(GError) error = NULL;
  g_autofree char *token = NULL;
  char *none;

  g_assert_true (sign_in (server, oauth2, FALSE, NULL, &error));
  token = get_token (oauth2, NULL, &error);
  g_assert_no_error (error);

  ms_test_auth_server_admin (server, "revoke");
  none = get_token (oauth2, token, &error);
  g_assert_null (none);
  g_assert_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "has expired or was revoked: sign in again"));
  g_assert_nonnull (strstr (error->message, "mailshot-cli oauth2 sign-in"));
  g_assert_nonnull (strstr (error->message, "invalid_grant"));
  g_assert_cmpuint (ms_test_auth_server_log_count (server, "token refresh_token invalid_grant"), ==, 1);
  g_assert_true (ms_oauth2_sign_out (oauth2, NULL, NULL));
}

static void
test_not_configured (void)
{
  MsOAuth2Params params = { .account = "t", .provider = MS_OAUTH2_PROVIDER_MICROSOFT, .user = USER };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsOAuth2) oauth2 = NULL;

  g_assert_null (ms_oauth2_new (&params, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED);
  g_assert_nonnull (strstr (error->message, "oauth2-client-id"));
  g_clear_error (&error);

  params.client_id = "id";
  params.provider = MS_OAUTH2_PROVIDER_CUSTOM;
  g_assert_null (ms_oauth2_new (&params, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED);
  g_assert_nonnull (strstr (error->message, "oauth2-token-endpoint"));
  g_clear_error (&error);

  params.provider = MS_OAUTH2_PROVIDER_MICROSOFT;
  oauth2 = ms_oauth2_new (&params, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (ms_oauth2_get_provider_name (oauth2), ==, "Microsoft");
}

static void
test_provider_endpoints (void)
{
  MsProviderOAuth2 p;

  g_assert_true (ms_provider_get_oauth2 (MS_OAUTH2_PROVIDER_MICROSOFT, NULL, &p));
  g_assert_cmpstr (p.auth_endpoint, ==, "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize");
  g_assert_cmpstr (p.token_endpoint, ==, "https://login.microsoftonline.com/organizations/oauth2/v2.0/token");
  g_assert_cmpstr (p.scope, ==, "https://outlook.office.com/SMTP.Send offline_access");
  ms_provider_oauth2_clear (&p);
  g_assert_true (ms_provider_get_oauth2 (MS_OAUTH2_PROVIDER_MICROSOFT, "contoso.onmicrosoft.com", &p));
  g_assert_cmpstr (p.token_endpoint, ==, "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  ms_provider_oauth2_clear (&p);
  g_assert_true (ms_provider_get_oauth2 (MS_OAUTH2_PROVIDER_GOOGLE, NULL, &p));
  g_assert_cmpstr (p.auth_endpoint, ==, "https://accounts.google.com/o/oauth2/v2/auth");
  g_assert_cmpstr (p.token_endpoint, ==, "https://oauth2.googleapis.com/token");
  g_assert_cmpstr (p.scope, ==, "https://mail.google.com/");
  ms_provider_oauth2_clear (&p);
  g_assert_false (ms_provider_get_oauth2 (MS_OAUTH2_PROVIDER_CUSTOM, NULL, &p));
}

/* ---- sending with the token -------------------------------------------- */

/* An account whose custom provider is the test server, and a harness SMTP
 * server that checks bearer tokens against it. */
static MsAccount *
oauth2_account (const char   *name,
                MsTestAuthServer   *auth,
                MsTestServer *smtp)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *auth_url = ms_test_auth_server_url (auth, "/authorize");
  g_autofree char *token_url = ms_test_auth_server_url (auth, "/token");
  g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (smtp));
  MsAccount *account = ms_account_new (name, &error);
  const char *settings[][2] = {
    { "smtp-server", "127.0.0.1" },
    { "smtp-port", port },
    { "email-address", USER },
    { "user-id", "" },
    { "auth-method", "oauth2" },
    { "oauth2-provider", "custom" },
    { "oauth2-client-id", CLIENT_ID },
    { "oauth2-auth-endpoint", auth_url },
    { "oauth2-token-endpoint", token_url },
    { "trusted-certificate", ms_test_server_get_cert_fingerprint (smtp) },
  };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      g_assert_true (ms_account_set_from_string (account, settings[i][0], settings[i][1], &error));
      g_assert_no_error (error);
    }
  return account;
}

static MsTestServer *
bearer_smtp_server (MsTestAuthServer *auth,
                    const char *mechs)
{
  g_autofree char *tokens = ms_test_auth_server_path (auth, "tokens.json");
  g_autofree char *tokens_arg = g_strconcat ("--oauth2-tokens=", tokens, NULL);
  g_autofree char *auth_arg = g_strconcat ("--auth=", mechs, NULL);

  return ms_test_server_start ("--tls=starttls", auth_arg, tokens_arg, "--user=" USER,
                               "--require-auth", NULL);
}

static GBytes *
test_message (void)
{
  const char *text = "From: " USER "\r\nTo: rcpt@example.org\r\nSubject: OAuth2\r\n\r\nHello.\r\n";
  return g_bytes_new_static (text, strlen (text));
}

static gboolean
send_one (MsSmtpConfig *config,
          gboolean      bulk,
          MsSmtp      **out,
          GError      **error)
{
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GBytes) message = test_message ();
  gboolean ok;

  ok = bulk ? ms_smtp_send_bulk (smtp, USER, "rcpt@example.org", message, NULL, error)
            : ms_smtp_send (smtp, USER, "rcpt@example.org", message, NULL, error);
  if (out != NULL)
    *out = g_steal_pointer (&smtp);
  return ok;
}

static void
assert_not_in (const char *text,
               const char *token)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) token, strlen (token));
  g_autofree char *xoauth2 = g_strdup_printf ("user=%s\001auth=Bearer %s\001\001", USER, token);
  g_autofree char *xoauth2_b64 = g_base64_encode ((const guchar *) xoauth2, strlen (xoauth2));

  g_assert_null (strstr (text, token));
  g_assert_null (strstr (text, b64));
  g_assert_null (strstr (text, xoauth2_b64));
}

typedef struct {
  const char *offered;    /* what the SMTP server offers */
  const char *used;       /* what must be used */
  gboolean    bulk;
} SendCase;

static void
test_send (gconstpointer data)
{
  const SendCase *c = data;
  g_autoptr(MsTestAuthServer) auth = auth_server_start (NULL);
  g_autoptr(MsTestServer) smtp = bearer_smtp_server (auth, c->offered);
  g_autoptr(MsAccount) account = oauth2_account ("t-oauth2-send", auth, smtp);
  g_autoptr(MsOAuth2) oauth2 = ms_account_create_oauth2 (account, NULL);
  g_autoptr(MsSmtpConfig) config = NULL;
  g_autoptr(MsSmtp) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *transcript = NULL;
  g_autofree char *log_line = g_strdup_printf ("auth %s " USER " ok", c->used);
  g_autofree char *token = NULL;

  /* Not signed in yet: the snapshot says so. */
  g_assert_null (ms_account_load_config_sync (account, NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED);
  g_clear_error (&error);

  g_assert_true (sign_in (auth, oauth2, FALSE, NULL, &error));
  g_assert_no_error (error);

  config = ms_account_load_config_sync (account, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (config->auth_method, ==, MS_AUTH_METHOD_OAUTH2);
  g_assert_cmpstr (config->user, ==, USER);
  g_assert_true (token_is_valid (auth, config->password));
  token = g_strdup (config->password);

  g_assert_true (send_one (config, c->bulk, &session, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (ms_smtp_get_auth_mechanism (session), ==, c->used);
  g_assert_true (ms_test_server_log_contains (smtp, log_line));
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 1);

  /* The token is blanked in the transcript, raw and in base64. */
  if (!c->bulk)
    {
      transcript = ms_transcript_to_string (ms_smtp_get_transcript (session));
      g_test_message ("%s", transcript);
      g_assert_nonnull (strstr (transcript, c->used));
      assert_not_in (transcript, token);
    }
  g_assert_true (ms_oauth2_sign_out (oauth2, NULL, NULL));
}

typedef struct {
  gboolean  done;
  gboolean  ok;
  GError   *error;
} ProbeWait;

static void
probe_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  ProbeWait *w = user_data;

  w->ok = ms_probe_run_finish (MS_PROBE (source), result, &w->error);
  w->done = TRUE;
}

/* The server refuses a token that has expired on its side (before we
 * thought): one renewal with the refresh token, and the message goes. */
static void
test_send_renews (gconstpointer data)
{
  const SendCase *c = data;
  g_autoptr(MsTestAuthServer) auth = auth_server_start (NULL);
  g_autoptr(MsTestServer) smtp = bearer_smtp_server (auth, c->offered);
  g_autoptr(MsAccount) account = oauth2_account ("t-oauth2-renew", auth, smtp);
  g_autoptr(MsOAuth2) oauth2 = ms_account_create_oauth2 (account, NULL);
  g_autoptr(MsSmtpConfig) config = NULL;
  g_autoptr(MsSmtp) session = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *fail = g_strdup_printf ("auth %s " USER " fail", c->used);
  g_autofree char *ok = g_strdup_printf ("auth %s " USER " ok", c->used);

  g_assert_true (sign_in (auth, oauth2, FALSE, NULL, &error));
  config = ms_account_load_config_sync (account, NULL, &error);
  g_assert_no_error (error);

  ms_test_auth_server_admin (auth, "expire");
  g_assert_true (send_one (config, c->bulk, &session, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ms_test_server_log_count (smtp, fail), ==, 1);
  g_assert_cmpuint (ms_test_server_log_count (smtp, ok), ==, 1);
  g_assert_cmpuint (ms_test_auth_server_log_count (auth, "token refresh_token ok"), ==, 1);
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 1);

  /* Revoked as well: no new token, and the error says to sign in again. */
  ms_test_auth_server_admin (auth, "expire");
  ms_test_auth_server_admin (auth, "revoke");
  g_clear_object (&session);
  g_assert_false (send_one (config, c->bulk, &session, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "sign in again"));
  g_test_message ("reply %d %s: %s", ms_smtp_get_reply (session)->code, ms_smtp_get_reply (session)->text, ms_smtp_get_reply (session)->advice);
  g_assert_cmpint (ms_smtp_get_reply (session)->klass, ==, MS_REPLY_CLASS_AUTH_FAILED);
  /* The advice too (what mailshot-cli test and the test dialog show): the
   * sign-in, carried in the outcome, not the password. */
  g_assert_nonnull (strstr (ms_smtp_get_reply (session)->advice, "sign in again"));
  g_assert_null (strstr (ms_smtp_get_reply (session)->advice, "password"));
  g_assert_nonnull (ms_smtp_get_outcome (session)->sign_in);
  g_assert_nonnull (strstr (ms_smtp_get_outcome (session)->sign_in, "sign in again"));
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 1);

  /* The test (mailshot-cli test, the test dialog) with the refused token:
   * its advice is to sign in again, at the Authenticate step. */
  if (!c->bulk)
    {
      g_autoptr(MsProbe) probe = ms_probe_new (config, "rcpt@example.org");
      g_autoptr(MsProbeFailure) failure = NULL;
      ProbeWait w = { 0 };

      ms_probe_run_async (probe, NULL, probe_done, &w);
      while (!w.done)
        g_main_context_iteration (NULL, TRUE);
      g_assert_false (w.ok);
      g_assert_error (w.error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED);
      failure = ms_probe_get_failure (probe, w.error);
      g_test_message ("probe: %s / %s", failure->reply, failure->advice);
      g_assert_cmpint (failure->step, ==, MS_PROBE_STEP_AUTH);
      g_assert_nonnull (strstr (failure->advice, "sign in again"));
      g_assert_null (strstr (failure->advice, "store the password again"));
      g_clear_error (&w.error);
    }
  g_assert_true (ms_oauth2_sign_out (oauth2, NULL, NULL));
}

/* ---- the command line ---------------------------------------------------- */

#define CLI_ACCOUNT "cli-oauth2"

static GString *cli_output;   /* everything every CLI run printed, for the leak check */
static const char * const debug_env[] = { "G_MESSAGES_DEBUG=all", NULL };

static int
cli (char **out,
     char **err,
     const char *first_arg,
     ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *o = NULL;
  g_autofree char *e = NULL;
  va_list ap;
  int status;

  g_ptr_array_add (args, (gpointer) "--account");
  g_ptr_array_add (args, (gpointer) CLI_ACCOUNT);
  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  /* Every debug message too: none may carry a token. Set for the child
   * only: g_unsetenv() here, with threads running, is not thread-safe (and
   * GLib says so on standard output, which is TAP). */
  status = ms_test_run_cli_envv (debug_env, NULL, &o, &e, (const char * const *) args->pdata);
  g_string_append (cli_output, o);
  g_string_append (cli_output, e);
  if (out != NULL)
    *out = g_steal_pointer (&o);
  if (err != NULL)
    *err = g_steal_pointer (&e);
  return status;
}

static void
cli_set (const char *key,
         const char *value)
{
  g_autofree char *err = NULL;

  if (cli (NULL, &err, "config", "set", key, value, NULL) != 0)
    g_error ("config set %s %s: %s", key, value, err);
}

static void
cli_point_at (MsTestServer *smtp)
{
  g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (smtp));

  cli_set ("smtp-port", port);
  cli_set ("trusted-certificate", ms_test_server_get_cert_fingerprint (smtp));
  cli_set ("starttls-seen", "false");
}

/* `mailshot-cli oauth2 sign-in`, with this test as the browser. */
static GSubprocess *
cli_sign_in_start (char **uri)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GDataInputStream) out = NULL;
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", "all", TRUE);
  proc = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("MS_CLI"), "--account", CLI_ACCOUNT,
                                      "oauth2", "sign-in", NULL);
  g_assert_no_error (error);
  out = g_data_input_stream_new (g_subprocess_get_stdout_pipe (proc));
  g_filter_input_stream_set_close_base_stream (G_FILTER_INPUT_STREAM (out), FALSE);
  *uri = g_data_input_stream_read_line (out, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (*uri);
  return proc;
}

static int
cli_sign_in_finish (GSubprocess *proc,
                    char       **out,
                    char       **err)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *o = NULL;
  g_autofree char *e = NULL;

  g_subprocess_communicate_utf8 (proc, NULL, NULL, &o, &e, &error);
  g_assert_no_error (error);
  g_string_append (cli_output, o);
  g_string_append (cli_output, e);
  if (out != NULL)
    *out = g_steal_pointer (&o);
  if (err != NULL)
    *err = g_steal_pointer (&e);
  return g_subprocess_get_if_exited (proc) ? g_subprocess_get_exit_status (proc) : -1;
}

static void
cli_sign_in (MsTestAuthServer *auth)
{
  g_autoptr(GSubprocess) proc = NULL;
  g_autofree char *uri = NULL;
  g_autofree char *location = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  proc = cli_sign_in_start (&uri);
  g_assert_true (g_str_has_prefix (uri, "https://127.0.0.1:"));
  g_assert_cmpint (ms_test_auth_server_request (auth, uri, FALSE, &location, NULL), ==, 302);
  g_assert_cmpint (ms_test_http_get (location, NULL), ==, 200);
  g_assert_cmpint (cli_sign_in_finish (proc, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "Signed in as " USER " with 127.0.0.1"));
}

static void
assert_contains (const char *text,
                 const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("“%s” not found in:\n%s", part, text);
}

/* Every regular file under @dir, skipping @skip (the servers' own records). */
static void
collect_files (const char *dir,
               const char * const *skip,
               GPtrArray  *files)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_strv_contains (skip, path))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        collect_files (path, skip, files);
      else if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (files, g_steal_pointer (&path));
    }
}

static void
assert_no_token_anywhere (MsTestAuthServer   *auth,
                          MsTestServer *smtp)
{
  g_autofree char *issued_path = ms_test_auth_server_path (auth, "issued");
  g_autofree char *issued = read_text (issued_path);
  g_auto(GStrv) tokens = g_strsplit (issued, "\n", -1);
  const char *skip[] = { ms_test_auth_server_get_state_dir (auth), ms_test_server_get_state_dir (smtp), NULL };
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  guint checked = 0;

  collect_files (g_getenv ("MS_TEST_TMPDIR"), skip, files);
  g_assert_cmpuint (files->len, >, 0);
  for (guint f = 0; f < files->len; f++)
    {
      g_autofree char *text = NULL;
      gsize len = 0;

      if (!g_file_get_contents (files->pdata[f], &text, &len, NULL))
        continue;
      /* Binary files (the journal, the keyring) as text up to their first NUL is not enough. */
      for (gsize i = 0; i < len; i++)
        if (text[i] == '\0')
          text[i] = '\n';
      g_test_message ("checking %s (%" G_GSIZE_FORMAT " bytes)", (char *) files->pdata[f], len);
      for (guint t = 0; tokens[t] != NULL; t++)
        if (*tokens[t] != '\0')
          assert_not_in (text, tokens[t]);
      checked++;
    }
  for (guint t = 0; tokens[t] != NULL; t++)
    if (*tokens[t] != '\0')
      assert_not_in (cli_output->str, tokens[t]);
  g_test_message ("%u files and %" G_GSIZE_FORMAT " bytes of output checked for %u tokens",
                  checked, cli_output->len, g_strv_length (tokens) - 1);
}

static void
test_cli (void)
{
  g_autoptr(MsTestAuthServer) auth = auth_server_start (NULL);
  g_autofree char *auth_url = ms_test_auth_server_url (auth, "/authorize");
  g_autofree char *token_url = ms_test_auth_server_url (auth, "/token");
  g_autofree char *csv = ms_test_tmp_path ("oauth2-members.csv");
  g_autofree char *letter = ms_test_tmp_path ("oauth2-letter.txt");
  static const char *mechs[] = { "XOAUTH2", "OAUTHBEARER" };

  cli_output = g_string_new (NULL);
  g_assert_true (g_file_set_contents (csv, "email,name\na@example.org,A\nb@example.org,B\nc@example.org,C\n", -1, NULL));
  g_assert_true (g_file_set_contents (letter, "Hello {{name}}.\n", -1, NULL));

  cli_set ("smtp-server", "127.0.0.1");
  cli_set ("email-address", USER);
  /* No user ID: XOAUTH2 and OAUTHBEARER name the address, as core does. */
  cli_set ("user-id", "");
  cli_set ("auth-method", "oauth2");
  cli_set ("oauth2-provider", "custom");
  cli_set ("oauth2-client-id", CLIENT_ID);
  cli_set ("oauth2-auth-endpoint", auth_url);
  cli_set ("oauth2-token-endpoint", token_url);

  for (guint m = 0; m < G_N_ELEMENTS (mechs); m++)
    {
      g_autoptr(MsTestServer) smtp = bearer_smtp_server (auth, mechs[m]);
      g_autofree char *ok_line = g_strdup_printf ("auth %s " USER " ok", mechs[m]);
      g_autofree char *signed_in = g_strdup_printf ("Signed in as " USER " with %s", mechs[m]);
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_test_message ("%s", mechs[m]);
      cli_point_at (smtp);

      /* Not signed in: the test says how to. */
      if (m == 0)
        {
          int status = cli (&out, &err, "test", "--to", "rcpt@example.org", NULL);

          g_test_message ("%s", err);
          g_assert_cmpint (status, ==, 1);
          assert_contains (err, "is not signed in");
          assert_contains (err, "mailshot-cli --account " CLI_ACCOUNT " oauth2 sign-in");
          g_clear_pointer (&out, g_free);
          g_clear_pointer (&err, g_free);
          cli_sign_in (auth);
        }

      /* A test, with the mechanism named at the Authenticate step. */
      g_assert_cmpint (cli (&out, &err, "test", "--to", "rcpt@example.org", "--transcript", NULL), ==, 0);
      assert_contains (out, signed_in);
      assert_contains (out, "AUTH ");
      g_assert_true (ms_test_server_log_contains (smtp, ok_line));
      g_clear_pointer (&out, g_free);
      g_clear_pointer (&err, g_free);

      /* A blast on two connections. */
      g_assert_cmpint (cli (&out, &err, "blast", "send", "--recipients", csv, "--subject", "Hi {{name}}",
                            "--text", letter, "--connections", "2", NULL), ==, 0);
      g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 4);
      g_assert_cmpuint (ms_test_server_log_count (smtp, "auth XOAUTH2 " USER " fail") +
                        ms_test_server_log_count (smtp, "auth OAUTHBEARER " USER " fail"), ==, 0);

      if (m == G_N_ELEMENTS (mechs) - 1)
        {
          /* Revoked (and the token expired): "sign in again", and nothing sent. */
          ms_test_auth_server_admin (auth, "revoke");
          ms_test_auth_server_admin (auth, "expire");
          g_clear_pointer (&out, g_free);
          g_clear_pointer (&err, g_free);
          g_assert_cmpint (cli (&out, &err, "test", "--to", "rcpt@example.org", NULL), ==, 1);
          assert_contains (err, "has expired or was revoked: sign in again");
          /* Nothing about storing a password: the sign-in is the problem. */
          g_assert_null (strstr (err, "store the password again"));
          g_assert_null (strstr (err, "password set"));
          g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 4);

          /* No token in any file or any output, debug messages included. */
          assert_no_token_anywhere (auth, smtp);
        }
    }

  /* Signing out, and Ctrl-C while the sign-in waits. */
  {
    g_autoptr(GSubprocess) proc = NULL;
    g_autofree char *uri = NULL;
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint (cli (&out, NULL, "oauth2", "sign-out", NULL), ==, 0);
    assert_contains (out, "Signed out");
    proc = cli_sign_in_start (&uri);
    g_subprocess_send_signal (proc, SIGINT);
    g_clear_pointer (&out, g_free);
    g_assert_cmpint (cli_sign_in_finish (proc, &out, &err), ==, 1);
    assert_contains (err, "cancelled");
  }
  g_string_free (cli_output, TRUE);
}

int
main (int argc, char **argv)
{
  g_autofree char *ca_path = NULL;

  g_test_init (&argc, &argv, NULL);
  ms_core_init ();
  ca_path = ms_test_tmp_path ("oauth2-test-ca.pem");
  g_setenv (MS_OAUTH2_TEST_CA_ENV, ca_path, TRUE);

  g_test_add_func ("/mailshot/oauth2/provider-endpoints", test_provider_endpoints);
  g_test_add_func ("/mailshot/oauth2/not-configured", test_not_configured);
  g_test_add_func ("/mailshot/oauth2/sign-in", test_sign_in);
  g_test_add_func ("/mailshot/oauth2/forged-state", test_forged_state);
  g_test_add_func ("/mailshot/oauth2/denied", test_denied);
  g_test_add_func ("/mailshot/oauth2/wrong-client", test_wrong_client);
  g_test_add_func ("/mailshot/oauth2/cancel", test_cancel);
  g_test_add_func ("/mailshot/oauth2/refresh-on-expiry", test_refresh_on_expiry);
  g_test_add_func ("/mailshot/oauth2/revoked", test_revoked);

  {
    static const SendCase send_cases[] = {
      { "XOAUTH2", "XOAUTH2", FALSE },
      { "OAUTHBEARER", "OAUTHBEARER", FALSE },
      { "PLAIN,XOAUTH2,OAUTHBEARER", "OAUTHBEARER", FALSE },
      { "XOAUTH2", "XOAUTH2", TRUE },
      { "OAUTHBEARER", "OAUTHBEARER", TRUE },
    };

    for (guint i = 0; i < G_N_ELEMENTS (send_cases); i++)
      {
        g_autofree char *name = g_strdup_printf ("/mailshot/oauth2/send/%s/%s%s",
                                                 send_cases[i].offered, send_cases[i].used,
                                                 send_cases[i].bulk ? "/bulk" : "");
        g_autofree char *renew = g_strdup_printf ("/mailshot/oauth2/renew/%s%s", send_cases[i].used,
                                                  send_cases[i].bulk ? "/bulk" : "");

        g_test_add_data_func (name, &send_cases[i], test_send);
        if (i != 2)
          g_test_add_data_func (renew, &send_cases[i], test_send_renews);
      }
  }
  g_test_add_func ("/mailshot/oauth2/cli", test_cli);

  return g_test_run ();
}
