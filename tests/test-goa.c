/* test-goa.c: GNOME Online Accounts as the token source, with the real goa-daemon on a private bus and network
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <libsecret/secret.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-goa.h"
#include "ms-test-support.h"

/* tests/goa-netns.sh runs this in a network namespace of its own with only
 * lo up: goa-daemon checks each account with Google at start, and must reach
 * nothing. ms-test-env.sh (suite smtp) gives it a private session bus and a
 * real, unlocked gnome-keyring; goa-daemon is D-Bus-activated on that bus and
 * reads $XDG_CONFIG_HOME/goa-1.0/accounts.conf and its credentials from that
 * keyring, as in a desktop session. */

#define ADDRESS     "news@example.org"
#define OTHER       "other@example.org"
#define GOOD_ID     "account_1700000000_0"
#define ATTENTION_ID "account_1700000000_1"
#define MAIL_OFF_ID "account_1700000000_2"
#define TOKEN       "ya29.goa-test-access-token-7f3a9c"

static GString *cli_output;

/* The accounts Settings → Online Accounts would have written. */
static const char accounts_conf[] =
  "[Account " GOOD_ID "]\n"
  "Provider=google\nIdentity=" ADDRESS "\nPresentationIdentity=" ADDRESS "\n"
  "MailEnabled=true\nCalendarEnabled=false\nContactsEnabled=false\nFilesEnabled=false\n"
  "\n"
  /* No credentials in the keyring: goa-daemon marks it as needing attention. */
  "[Account " ATTENTION_ID "]\n"
  "Provider=google\nIdentity=" OTHER "\nPresentationIdentity=" OTHER "\n"
  "MailEnabled=true\nCalendarEnabled=false\nContactsEnabled=false\nFilesEnabled=false\n"
  "\n"
  /* The same address with Mail turned off: never offered. */
  "[Account " MAIL_OFF_ID "]\n"
  "Provider=google\nIdentity=" ADDRESS "\nPresentationIdentity=" ADDRESS "\n"
  "MailEnabled=false\nCalendarEnabled=false\nContactsEnabled=false\nFilesEnabled=false\n";

/* goa-daemon's keyring entry (goautils.c in 3.46): schema org.gnome.OnlineAccounts,
 * goa-identity "PROVIDER:genN:ID" (Google's credentials generation is 11), the
 * secret a printed a{sv}. The access token has two hours left, so GetAccessToken
 * answers from the keyring without asking Google. */
static const SecretSchema goa_schema = {
  "org.gnome.OnlineAccounts", SECRET_SCHEMA_DONT_MATCH_NAME,
  { { "goa-identity", SECRET_SCHEMA_ATTRIBUTE_STRING }, { "NULL", 0 } }
};

/* Ours, as ms-secret.c names them: nothing may be stored in either. */
static const SecretSchema our_schemas[] = {
  { "io.github.mailshot.Mailshot.Password", SECRET_SCHEMA_NONE, { { "account", SECRET_SCHEMA_ATTRIBUTE_STRING } } },
  { "io.github.mailshot.Mailshot.OAuth2", SECRET_SCHEMA_NONE, { { "account", SECRET_SCHEMA_ATTRIBUTE_STRING } } },
};

static char *
goa_conf_path (void)
{
  return g_build_filename (g_get_user_config_dir (), "goa-1.0", "accounts.conf", NULL);
}

static void
write_accounts (const char *text)
{
  g_autofree char *path = goa_conf_path ();
  g_autofree char *dir = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
store_goa_credentials (void)
{
  g_autoptr(GError) error = NULL;
  gint64 expires_at = g_get_real_time () + 2 * G_TIME_SPAN_HOUR;
  g_autofree char *secret =
    g_strdup_printf ("{'access_token': <'" TOKEN "'>, 'access_token_expires_at': <int64 %" G_GINT64_FORMAT ">, "
                     "'refresh_token': <'1//goa-test-refresh-token'>}", expires_at);

  g_assert_true (secret_password_store_sync (&goa_schema, SECRET_COLLECTION_DEFAULT, "GOA google credentials",
                                             secret, NULL, &error,
                                             "goa-identity", "google:gen11:" GOOD_ID, NULL));
  g_assert_no_error (error);
}

/* $MS_CLI with every debug message on (none may carry the token), set for
 * the child only: setenv() here would race the test's own threads. */
static gboolean without_bus;   /* the next cli() runs with no session bus at all */

static int
cli (char **out,
     char **err,
     ...)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                                                       G_SUBPROCESS_FLAGS_STDERR_PIPE);
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *o = NULL;
  g_autofree char *e = NULL;
  const char *a;
  va_list ap;

  g_assert_nonnull (g_getenv ("MS_CLI"));
  g_ptr_array_add (args, (gpointer) g_getenv ("MS_CLI"));
  va_start (ap, err);
  while ((a = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  g_subprocess_launcher_setenv (launcher, "G_MESSAGES_DEBUG", "all", TRUE);
  if (without_bus)
    {
      g_subprocess_launcher_setenv (launcher, "DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus", TRUE);
      g_subprocess_launcher_unsetenv (launcher, "DISPLAY");
      without_bus = FALSE;
    }
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) args->pdata, &error);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8 (proc, NULL, NULL, &o, &e, &error);
  g_assert_no_error (error);
  g_string_append (cli_output, o);
  g_string_append (cli_output, e);
  if (out != NULL)
    *out = g_steal_pointer (&o);
  if (err != NULL)
    *err = g_steal_pointer (&e);
  g_assert_true (g_subprocess_get_if_exited (proc));
  return g_subprocess_get_exit_status (proc);
}

static void
assert_contains (const char *text,
                 const char *part)
{
  if (strstr (text, part) == NULL)
    g_error ("“%s” not found in:\n%s", part, text);
}

static void
cli_set (const char *key,
         const char *value)
{
  g_autofree char *err = NULL;

  if (cli (NULL, &err, "config", "set", key, value, NULL) != 0)
    g_error ("config set %s %s: %s", key, value, err);
}

/* Only lo, and nothing but loopback on it: goa-daemon can reach no one. */
static void
assert_loopback_only (void)
{
  g_autofree char *dev = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_get_contents ("/proc/net/dev", &dev, NULL, NULL));
  lines = g_strsplit (dev, "\n", -1);
  for (guint i = 2; lines[i] != NULL; i++)
    {
      g_autofree char *name = g_strstrip (g_strndup (lines[i], strcspn (lines[i], ":")));

      if (*name != '\0' && strcmp (name, "lo") != 0)
        g_error ("network interface %s in the test's namespace: run it through tests/goa-netns.sh", name);
    }
}

/* goa-daemon reloads accounts.conf a moment after it changes. */
static void
wait_until_gone (const char *id)
{
  for (guint i = 0; i < 100; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsGoaAccount) found = ms_goa_lookup_sync (id, ADDRESS, NULL, &error);

      if (found == NULL)
        return;
      g_usleep (100 * 1000);
    }
  g_error ("goa-daemon still lists %s", id);
}

/* ---- the tests ------------------------------------------------------------ */

static void
test_find (void)
{
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  MsGoaAccount *a;

  assert_loopback_only ();

  /* Core: one match for the address, in any case; Mail turned off is not offered. */
  found = ms_goa_find_sync ("News@Example.ORG", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);
  a = found->pdata[0];
  g_assert_cmpstr (a->id, ==, GOOD_ID);
  g_assert_cmpstr (a->provider_type, ==, "google");
  g_assert_cmpstr (a->provider_name, ==, "Google");
  g_assert_cmpstr (a->identity, ==, ADDRESS);
  g_assert_false (a->attention_needed);
  g_clear_pointer (&found, g_ptr_array_unref);
  found = ms_goa_find_sync ("nobody@example.org", NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 0);

  /* The CLI: one line per account, the ID first. */
  cli_set ("email-address", ADDRESS);
  g_assert_cmpint (cli (&out, &err, "oauth2", "goa", NULL), ==, 0);
  lines = g_strsplit (g_strchomp (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  g_assert_cmpstr (lines[0], ==, GOOD_ID "\tGoogle\t" ADDRESS);
  assert_contains (err, "mailshot-cli oauth2 goa --use ID");

  /* No session bus (so no goa-daemon) is no error: nothing to offer. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  without_bus = TRUE;
  g_assert_cmpint (cli (&out, &err, "oauth2", "goa", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  assert_contains (err, "GNOME Online Accounts holds no Google account for " ADDRESS " (or it is not running)");

  /* --use with an ID that cannot send as the address is bad input. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (NULL, &err, "oauth2", "goa", "--use", MAIL_OFF_ID, NULL), ==, 2);
  assert_contains (err, "is not an account of GNOME Online Accounts that can send as " ADDRESS);
}

static void
test_send (void)
{
  g_autofree char *tokens = ms_test_tmp_path ("goa-tokens.json");
  g_autofree char *tokens_arg = g_strconcat ("--oauth2-tokens=", tokens, NULL);
  g_autofree char *tokens_json = g_strdup_printf ("{\"" TOKEN "\": {\"user\": \"" ADDRESS "\", \"exp\": %" G_GINT64_FORMAT "}}",
                                                  g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_autoptr(MsTestServer) smtp = NULL;
  g_autofree char *port = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *csv = ms_test_tmp_path ("goa-members.csv");
  g_autofree char *letter = ms_test_tmp_path ("goa-letter.txt");

  g_assert_true (g_file_set_contents (tokens, tokens_json, -1, NULL));
  g_assert_true (g_file_set_contents (csv, "email,name\na@example.org,A\nb@example.org,B\nc@example.org,C\n", -1, NULL));
  g_assert_true (g_file_set_contents (letter, "Hello {{name}}.\n", -1, NULL));
  smtp = ms_test_server_start ("--tls=starttls", "--auth=XOAUTH2", tokens_arg, "--user=" ADDRESS,
                               "--require-auth", NULL);
  port = g_strdup_printf ("%u", ms_test_server_get_port (smtp));
  cli_set ("smtp-server", "127.0.0.1");
  cli_set ("smtp-port", port);
  cli_set ("trusted-certificate", ms_test_server_get_cert_fingerprint (smtp));
  cli_set ("user-id", ADDRESS);

  /* Switched to the GOA account: OAuth2 without a client ID of ours. */
  g_assert_cmpint (cli (&out, &err, "oauth2", "goa", "--use", GOOD_ID, NULL), ==, 0);
  assert_contains (out, "now gets its access token from the Google account " ADDRESS " in GNOME Online Accounts");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (&out, &err, "config", "get", "goa-account-id", NULL), ==, 0);
  g_assert_cmpstr (out, ==, GOOD_ID "\n");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (&out, &err, "config", "list", NULL), ==, 0);
  assert_contains (out, "auth-method");
  assert_contains (err, "The OAuth2 access token comes from GNOME Online Accounts");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (&out, &err, "oauth2", "goa", NULL), ==, 0);
  assert_contains (out, GOOD_ID "\tGoogle\t" ADDRESS "  (in use)");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* The test e-mail signs in with GOA's token. */
  if (cli (&out, &err, "test", "--to", "rcpt@example.org", "--transcript", NULL) != 0)
    g_error ("mailshot-cli test failed:\n%s\n%s", out, err);
  g_assert_true (ms_test_server_log_contains (smtp, "auth XOAUTH2 " ADDRESS " ok"));
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 1);
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* A blast on two connections: the token is asked of GOA, not re-stored. */
  g_assert_cmpint (cli (&out, &err, "blast", "send", "--recipients", csv, "--subject", "Hi {{name}}",
                        "--text", letter, "--connections", "2", NULL), ==, 0);
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 4);
  g_assert_cmpuint (ms_test_server_log_count (smtp, "auth XOAUTH2 " ADDRESS " fail"), ==, 0);

  /* Signing in ourselves is refused with the way to GOA's sign-in. */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (&out, &err, "oauth2", "sign-in", NULL), ==, 1);
  assert_contains (err, "signs in through GNOME Online Accounts");
}

/* Every regular file under @dir but @skip (GOA's own keyring, the servers' records). */
static void
collect_files (const char          *dir,
               const char * const  *skip,
               GPtrArray           *files)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (g_strv_contains (skip, path) || g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        collect_files (path, skip, files);
      else if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (files, g_steal_pointer (&path));
    }
}

static void
test_no_token_of_ours (void)
{
  g_autofree char *keyrings = g_build_filename (g_get_user_data_dir (), "keyrings", NULL);
  g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  const char *skip[] = { keyrings, NULL };
  g_autofree char *settings = NULL;
  g_autofree char *settings_path = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", "keyfile", NULL);

  /* Nothing in our keyring schemas: the only copy is GOA's. */
  for (guint s = 0; s < G_N_ELEMENTS (our_schemas); s++)
    {
      g_autoptr(GError) error = NULL;
      GList *items = secret_password_search_sync (&our_schemas[s], SECRET_SEARCH_ALL, NULL, &error, NULL);

      g_assert_no_error (error);
      if (items != NULL)
        g_error ("%u item(s) stored under %s", g_list_length (items), our_schemas[s].name);
    }

  /* No file holds it (the harness's list of the tokens it accepts aside). */
  collect_files (g_getenv ("MS_TEST_TMPDIR"), skip, files);
  g_assert_cmpuint (files->len, >, 0);
  for (guint f = 0; f < files->len; f++)
    {
      g_autofree char *text = NULL;
      gsize len = 0;

      if (strstr (files->pdata[f], "goa-tokens") != NULL || !g_file_get_contents (files->pdata[f], &text, &len, NULL))
        continue;
      for (gsize i = 0; i < len; i++)
        if (text[i] == '\0')
          text[i] = '\n';
      if (strstr (text, TOKEN) != NULL || strstr (text, "goa-test-refresh-token") != NULL)
        g_error ("a GOA token in %s", (char *) files->pdata[f]);
    }
  g_test_message ("%u files checked", files->len);
  /* Nor any output of the CLI, debug messages included. */
  g_assert_null (strstr (cli_output->str, TOKEN));

  g_assert_true (g_file_get_contents (settings_path, &settings, NULL, NULL));
  assert_contains (settings, "goa-account-id='" GOOD_ID "'");
}

static void
test_refused (void)
{
  g_autofree char *tokens = ms_test_tmp_path ("goa-tokens-none.json");
  g_autofree char *tokens_arg = g_strconcat ("--oauth2-tokens=", tokens, NULL);
  g_autoptr(MsTestServer) smtp = NULL;
  g_autofree char *port = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  char *token;
  int expires_in = 0;

  /* Core: a refused token makes GOA check its credentials with Google,
   * which it cannot reach here: said so, and the stale token is not given again. */
  token = ms_goa_get_access_token_sync (GOOD_ID, ADDRESS, TOKEN, &expires_in, NULL, &error);
  g_assert_null (token);
  g_assert_error (error, MS_ERROR, MS_ERROR_CONNECT);
  assert_contains (error->message, "Online Accounts could not renew the sign-in of the Google account " ADDRESS);
  g_clear_error (&error);
  token = ms_goa_get_access_token_sync (GOOD_ID, ADDRESS, NULL, &expires_in, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (token, ==, TOKEN);
  g_assert_cmpint (expires_in, >, 3600);
  g_free (token);

  /* The server refuses it: one more try after asking GOA, then the failure. */
  g_assert_true (g_file_set_contents (tokens, "{}", -1, NULL));
  smtp = ms_test_server_start ("--tls=starttls", "--auth=XOAUTH2", tokens_arg, "--user=" ADDRESS,
                               "--require-auth", NULL);
  port = g_strdup_printf ("%u", ms_test_server_get_port (smtp));
  cli_set ("smtp-port", port);
  cli_set ("trusted-certificate", ms_test_server_get_cert_fingerprint (smtp));
  cli_set ("starttls-seen", "false");
  g_assert_cmpint (cli (&out, &err, "test", "--to", "rcpt@example.org", NULL), ==, 1);
  g_assert_cmpuint (ms_test_server_log_count (smtp, "auth XOAUTH2 " ADDRESS " fail"), >=, 1);
  /* ms-smtp's renewal after a refused token went to GOA (its debug line). */
  assert_contains (err, "OAuth2: no new access token: Online Accounts could not renew the sign-in of the "
                        "Google account " ADDRESS);
  g_assert_cmpuint (ms_test_server_count_messages (smtp), ==, 0);
}

static void
test_attention (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = NULL;

  /* No credentials: goa-daemon sets AttentionNeeded when it checks the
   * accounts, just after it starts. */
  for (guint i = 0; i < 100; i++)
    {
      g_clear_pointer (&found, g_ptr_array_unref);
      found = ms_goa_find_sync (OTHER, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (found->len, ==, 1);
      if (((MsGoaAccount *) found->pdata[0])->attention_needed)
        break;
      g_usleep (100 * 1000);
    }
  g_assert_true (((MsGoaAccount *) found->pdata[0])->attention_needed);

  cli_set ("email-address", OTHER);
  cli_set ("user-id", OTHER);
  g_assert_cmpint (cli (&out, &err, "oauth2", "goa", NULL), ==, 0);
  assert_contains (out, ATTENTION_ID "\tGoogle\t" OTHER "  (sign in again in Settings → Online Accounts)");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (&out, &err, "oauth2", "goa", "--use", ATTENTION_ID, NULL), ==, 0);
  assert_contains (err, "Online Accounts needs you to sign in to it again first");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (&out, &err, "test", "--to", "rcpt@example.org", NULL), ==, 1);
  assert_contains (err, "Online Accounts needs you to sign in again to the Google account " OTHER
                        ": sign in again in Settings → Online Accounts");

  cli_set ("email-address", ADDRESS);
  cli_set ("user-id", ADDRESS);
  g_assert_cmpint (cli (NULL, NULL, "oauth2", "goa", "--use", GOOD_ID, NULL), ==, 0);
}

static void
test_removed (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsGoaAccount) gone = NULL;

  /* Removed in Settings → Online Accounts. */
  write_accounts ("");
  wait_until_gone (GOOD_ID);

  gone = ms_goa_lookup_sync (GOOD_ID, ADDRESS, NULL, &error);
  g_assert_null (gone);
  g_assert_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED);

  g_assert_cmpint (cli (&out, &err, "test", "--to", "rcpt@example.org", NULL), ==, 1);
  assert_contains (err, "The account for " ADDRESS " is no longer in Online Accounts (its ID was " GOOD_ID
                        "): sign in again in Settings → Online Accounts");
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (cli (&out, &err, "oauth2", "goa", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  assert_contains (err, "GNOME Online Accounts holds no Google account for " ADDRESS);

  /* Back to the app's own sign-in. */
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (cli (&out, NULL, "oauth2", "goa", "--stop", NULL), ==, 0);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (cli (&out, NULL, "config", "get", "goa-account-id", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "\n");
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  if (!g_file_test ("/usr/share/dbus-1/services/org.gnome.OnlineAccounts.service", G_FILE_TEST_EXISTS))
    {
      g_test_skip ("goa-daemon is not installed (package gnome-online-accounts)");
      return g_test_run ();
    }

  cli_output = g_string_new (NULL);
  /* Before the first call starts goa-daemon. */
  write_accounts (accounts_conf);
  store_goa_credentials ();

  g_test_add_func ("/mailshot/goa/find", test_find);
  g_test_add_func ("/mailshot/goa/send", test_send);
  g_test_add_func ("/mailshot/goa/no-token-of-ours", test_no_token_of_ours);
  g_test_add_func ("/mailshot/goa/refused", test_refused);
  g_test_add_func ("/mailshot/goa/attention", test_attention);
  g_test_add_func ("/mailshot/goa/removed", test_removed);
  status = g_test_run ();
  g_string_free (cli_output, TRUE);
  return status;
}
