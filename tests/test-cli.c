/* test-cli.c: `mailshot-cli config` and `mailshot-cli password`, run as a user would
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE 1   /* posix_openpt() and friends */
#include "config.h"

/* For secret_service_encode_dbus_secret(), to unlock the keyring again. */
#define SECRET_WITH_UNSTABLE 1
#define SECRET_API_SUBJECT_TO_CHANGE 1
#include <libsecret/secret.h>
#include <errno.h>
#include <fcntl.h>
#include <glib-unix.h>
#include <glib/gstdio.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mailshot-core.h"
#include "ms-test-support.h"
#include "ms-test-autoconfig.h"

/* Everything the CLI printed in this run: no password may appear in it. */
static GString *all_output;

/* The CLI with @env added to the environment (NULL: none), its output kept
 * for the report of a failure. */
static int
run_va (const char * const *env,
        const char         *stdin_text,
        char              **out,
        char              **err,
        const char         *first_arg,
        va_list             ap)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *o = NULL;
  g_autofree char *e = NULL;
  int status;

  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  g_ptr_array_add (args, NULL);

  status = ms_test_run_cli_envv (env, stdin_text, &o, &e, (const char * const *) args->pdata);
  g_string_append (all_output, o);
  g_string_append (all_output, e);
  g_test_message ("exit %d; stdout: %s; stderr: %s", status, o, e);
  if (out != NULL)
    *out = g_steal_pointer (&o);
  if (err != NULL)
    *err = g_steal_pointer (&e);
  return status;
}

static int
run (const char  *stdin_text,
     char       **out,
     char       **err,
     const char  *first_arg,
     ...)
{
  va_list ap;
  int status;

  va_start (ap, first_arg);
  status = run_va (NULL, stdin_text, out, err, first_arg, ap);
  va_end (ap);
  return status;
}

static void
assert_contains (const char *haystack,
                 const char *needle)
{
  if (haystack == NULL || strstr (haystack, needle) == NULL)
    g_error ("“%s” does not contain “%s”", haystack ? haystack : "(null)", needle);
}

static void
assert_get (const char *account,
            const char *key,
            const char *expected)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *line = g_strconcat (expected, "\n", NULL);

  g_assert_cmpint (run (NULL, &out, &err, "--account", account, "config", "get", key, NULL), ==, 0);
  g_assert_cmpstr (out, ==, line);
  g_assert_cmpstr (err, ==, "");
}

static void
set_ok (const char *account,
        const char *key,
        const char *value)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (run (NULL, &out, &err, "--account", account, "config", "set", key, value, NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, ==, "");
}

static void
test_config_list (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) keys = ms_account_list_keys ();
  gssize value_column = -1;

  set_ok ("cli-list", "smtp-server", "smtp.example.org");
  g_assert_cmpint (run (NULL, &out, &err, "--account", "cli-list", "config", "list", NULL), ==, 0);
  g_assert_cmpstr (err, ==, "");

  lines = g_strsplit (out, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, g_strv_length (keys) + 1);   /* trailing "" */
  for (guint i = 0; keys[i] != NULL; i++)
    {
      const char *line = lines[i];
      const char *value;

      /* One key per line, in form order; the values line up in one column. */
      g_assert_true (g_str_has_prefix (line, keys[i]));
      if (line[strlen (keys[i])] == '\0')
        continue;   /* empty value: the key alone */
      g_assert_cmpint (line[strlen (keys[i])], ==, ' ');
      value = line + strlen (keys[i]);
      while (*value == ' ')
        value++;
      if (value_column < 0)
        value_column = value - line;
      g_assert_cmpint (value - line, ==, value_column);
    }
  assert_contains (out, "\nsmtp-server ");
  assert_contains (out, " smtp.example.org\n");
  assert_contains (out, " 587\nuse-smtps ");
  assert_contains (out, "\nauth-method ");
  assert_contains (out, " automatic\n");

  /* Extra arguments are a usage error. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (NULL, NULL, &err, "config", "list", "extra", NULL), ==, 2);
  assert_contains (err, "Usage:");
}

static void
test_config_set_get (void)
{
  g_autofree char *keyfile = NULL;
  g_autofree char *path = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", "keyfile", NULL);

  set_ok ("cli-set", "smtp-port", "465");
  assert_get ("cli-set", "smtp-port", "465");
  set_ok ("cli-set", "use-smtps", "yes");
  assert_get ("cli-set", "use-smtps", "true");
  set_ok ("cli-set", "email-address", "sender@example.org");
  assert_get ("cli-set", "email-address", "sender@example.org");
  set_ok ("cli-set", "auth-method", "CRAM-MD5");
  assert_get ("cli-set", "auth-method", "cram-md5");
  set_ok ("cli-set", "trusted-certificate", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  assert_get ("cli-set", "trusted-certificate",
              "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF");
  set_ok ("cli-set", "rate-limited-until", "2023-11-14T22:13:20Z");
  assert_get ("cli-set", "rate-limited-until", "1700000000");
  set_ok ("cli-set", "sender-name", "Åsa Example");
  assert_get ("cli-set", "sender-name", "Åsa Example");
  /* A value may start with a dash: it is not an option. */
  set_ok ("cli-set", "user-id", "-user-");
  assert_get ("cli-set", "user-id", "-user-");

  /* Accounts are separate; "default" is the default. */
  assert_get ("cli-set-other", "smtp-port", "587");
  set_ok ("default", "max-connections", "4");
  {
    g_autofree char *out = NULL;
    g_assert_cmpint (run (NULL, &out, NULL, "config", "get", "max-connections", NULL), ==, 0);
    g_assert_cmpstr (out, ==, "4\n");
  }

  /* The values really are in the settings store, at the account's path. */
  g_assert_true (g_file_get_contents (path, &keyfile, NULL, NULL));
  assert_contains (keyfile, "[io/github/mailshot/Mailshot/accounts/cli-set]");
  assert_contains (keyfile, "smtp-port=465");
}

static void
test_config_invalid (void)
{
  static const struct { const char *key, *value, *message; } cases[] = {
    { "smtp-port", "70000", "smtp-port: must be a whole number from 1 to 65535 (got “70000”)" },
    { "timeout", "0", "timeout: must be a whole number of seconds from 1 to 600" },
    { "email-address", "not-an-address", "email-address: must be a single e-mail address" },
    { "smtp-server", "smtp_relay.example.org", "smtp-server: must be a host name" },
    { "auth-method", "ntlm", "auth-method: NTLM is not supported" },
    { "use-smtps", "maybe", "use-smtps: must be true or false" },
    { "max-connections", "65", "max-connections: must be a whole number from 1 to 64" },
    { "trusted-certificate", "abcd", "trusted-certificate: must be empty or a SHA-256 fingerprint" },
  };

  set_ok ("cli-invalid", "smtp-port", "2525");
  set_ok ("cli-invalid", "smtp-server", "keep.example.org");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      g_autofree char *before = NULL;
      g_autofree char *after = NULL;

      g_assert_cmpint (run (NULL, &before, NULL, "--account", "cli-invalid", "config", "get", cases[i].key, NULL), ==, 0);
      g_assert_cmpint (run (NULL, &out, &err, "--account", "cli-invalid", "config", "set",
                            cases[i].key, cases[i].value, NULL), ==, 2);
      g_assert_cmpstr (out, ==, "");
      assert_contains (err, cases[i].message);
      g_assert_cmpint (run (NULL, &after, NULL, "--account", "cli-invalid", "config", "get", cases[i].key, NULL), ==, 0);
      g_assert_cmpstr (after, ==, before);
    }
  assert_get ("cli-invalid", "smtp-port", "2525");
}

static void
test_config_unknown_key (void)
{
  const char *subcommands[][2] = { { "get", NULL }, { "set", "587" }, { "reset", NULL } };

  for (guint i = 0; i < G_N_ELEMENTS (subcommands); i++)
    {
      g_autofree char *err = NULL;
      int status;

      if (subcommands[i][1] != NULL)
        status = run (NULL, NULL, &err, "config", subcommands[i][0], "smtp-prot", subcommands[i][1], NULL);
      else
        status = run (NULL, NULL, &err, "config", subcommands[i][0], "smtp-prot", NULL);
      g_assert_cmpint (status, ==, 2);
      assert_contains (err, "“smtp-prot”");
      assert_contains (err, "smtp-port");
      assert_contains (err, "trusted-certificate");
    }

  /* The password is not a setting. */
  {
    g_autofree char *err = NULL;
    g_assert_cmpint (run (NULL, NULL, &err, "config", "set", "password", "hunter2", NULL), ==, 2);
    assert_contains (err, "unknown key “password”");
  }
}

static void
test_config_usage (void)
{
  static const char * const cases[][6] = {
    { "config", NULL },
    { "config", "get", NULL },
    { "config", "get", "smtp-port", "extra", NULL },
    { "config", "set", "smtp-port", NULL },
    { "config", "set", "smtp-port", "1", "2", NULL },
    { "config", "reset", NULL },
    { "config", "frobnicate", NULL },
    { "--account", "bad name", "config", "list", NULL },
    { "--account", "../x", "config", "get", "smtp-port", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (ms_test_run_cliv (NULL, &out, &err, cases[i]), ==, 2);
      g_string_append (all_output, err);
      g_assert_cmpstr (out, ==, "");
      g_assert_true (g_str_has_prefix (err, "mailshot-cli: "));
    }

  {
    g_autofree char *out = NULL;
    g_assert_cmpint (run (NULL, &out, NULL, "config", "--help", NULL), ==, 0);
    assert_contains (out, "config list | get KEY | set KEY VALUE | reset KEY");
    assert_contains (out, "starttls-seen");
  }
}

static void
test_config_reset (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  set_ok ("cli-reset", "smtp-port", "465");
  set_ok ("cli-reset", "email-address", "a@example.org");
  g_assert_cmpint (run (NULL, &out, &err, "--account", "cli-reset", "config", "reset", "smtp-port", NULL), ==, 0);
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpstr (err, ==, "");
  assert_get ("cli-reset", "smtp-port", "587");
  /* Reset is the way to empty a required field; `set` refuses "". */
  g_assert_cmpint (run (NULL, NULL, NULL, "--account", "cli-reset", "config", "set", "email-address", "", NULL), ==, 2);
  assert_get ("cli-reset", "email-address", "a@example.org");
  g_assert_cmpint (run (NULL, NULL, NULL, "--account", "cli-reset", "config", "reset", "email-address", NULL), ==, 0);
  assert_get ("cli-reset", "email-address", "");
}

/* The settings backends: memory keeps nothing, dconf without a bus loses everything. */
static void
test_config_backends (void)
{
  g_autofree char *saved_backend = g_strdup (g_getenv ("GSETTINGS_BACKEND"));
  g_autofree char *saved_bus = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));

  g_setenv ("GSETTINGS_BACKEND", "memory", TRUE);
  {
    g_autofree char *err = NULL;
    g_assert_cmpint (run (NULL, NULL, &err, "config", "set", "timeout", "60", NULL), ==, 0);
    assert_contains (err, "warning: settings are kept in memory only");
  }

  g_setenv ("GSETTINGS_BACKEND", "dconf", TRUE);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/mailshot/bus", TRUE);
  {
    g_autofree char *err = NULL;
    g_assert_cmpint (run (NULL, NULL, &err, "config", "set", "timeout", "60", NULL), ==, 1);
    assert_contains (err, "dconf needs a session bus");
    assert_contains (err, "GSETTINGS_BACKEND=keyfile");
  }

  g_setenv ("GSETTINGS_BACKEND", saved_backend, TRUE);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", saved_bus, TRUE);
  assert_get ("default", "timeout", "30");
}

static void
assert_keyring_has (const char *account,
                    const char *server,
                    const char *user,
                    const char *expected)
{
  g_autoptr(GError) error = NULL;
  char *password = ms_secret_lookup_sync (account, server, user, NULL, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (password, ==, expected);
  ms_secret_free (password);
}

static void
test_password_set (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  /* The entry is keyed by server and user: both must be set first. */
  g_assert_cmpint (run ("Pw-Canary-0001\n", &out, &err, "--account", "cli-pw", "password", "set", NULL), ==, 2);
  assert_contains (err, "set smtp-server first");
  set_ok ("cli-pw", "smtp-server", "smtp.example.org");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run ("Pw-Canary-0001\n", NULL, &err, "--account", "cli-pw", "password", "set", NULL), ==, 2);
  assert_contains (err, "set user-id first");
  set_ok ("cli-pw", "user-id", "user@example.org");

  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run ("Pw-Canary-0001\n", &out, &err, "--account", "cli-pw", "password", "set", NULL), ==, 0);
  assert_contains (out, "user@example.org on smtp.example.org");
  /* No prompt when standard input is not a terminal. */
  g_assert_cmpstr (err, ==, "");
  assert_keyring_has ("cli-pw", "smtp.example.org", "user@example.org", "Pw-Canary-0001");

  /* Only the first line counts; CRLF and a missing newline are fine. */
  g_assert_cmpint (run ("Pw-Canary-0002\r\nsecond line\n", NULL, NULL, "--account", "cli-pw", "password", "set", NULL), ==, 0);
  assert_keyring_has ("cli-pw", "smtp.example.org", "user@example.org", "Pw-Canary-0002");
  g_assert_cmpint (run ("Pw Canary 0003 with spaces", NULL, NULL, "--account", "cli-pw", "password", "set", NULL), ==, 0);
  assert_keyring_has ("cli-pw", "smtp.example.org", "user@example.org", "Pw Canary 0003 with spaces");

  /* Empty input stores nothing and keeps the old password. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run ("\n", NULL, &err, "--account", "cli-pw", "password", "set", NULL), ==, 2);
  assert_contains (err, "the password is empty");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run ("", NULL, &err, "--account", "cli-pw", "password", "set", NULL), ==, 2);
  assert_contains (err, "the password is empty");
  assert_keyring_has ("cli-pw", "smtp.example.org", "user@example.org", "Pw Canary 0003 with spaces");

  /* Never on the command line. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (NULL, NULL, &err, "--account", "cli-pw", "password", "set", "Pw-Canary-0004", NULL), ==, 2);
  assert_contains (err, "standard input");
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run (NULL, NULL, &err, "password", NULL), ==, 2);
  assert_contains (err, "Usage:");
}

static void
test_password_clear (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  char *password;

  set_ok ("cli-clear", "smtp-server", "smtp.example.org");
  set_ok ("cli-clear", "user-id", "clear-user");
  g_assert_cmpint (run ("Pw-Canary-0005\n", NULL, NULL, "--account", "cli-clear", "password", "set", NULL), ==, 0);
  assert_keyring_has ("cli-clear", "smtp.example.org", "clear-user", "Pw-Canary-0005");

  g_assert_cmpint (run (NULL, &out, NULL, "--account", "cli-clear", "password", "clear", NULL), ==, 0);
  assert_contains (out, "cli-clear");
  password = ms_secret_lookup_sync ("cli-clear", "smtp.example.org", "clear-user", NULL, &error);
  g_assert_null (password);
  g_assert_error (error, MS_ERROR, MS_ERROR_NO_PASSWORD);

  /* Twice is fine. */
  g_assert_cmpint (run (NULL, NULL, NULL, "--account", "cli-clear", "password", "clear", NULL), ==, 0);
}

static void
test_password_no_bus (void)
{
  g_autofree char *saved_bus = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));
  g_autofree char *err = NULL;

  set_ok ("cli-nobus", "smtp-server", "smtp.example.org");
  set_ok ("cli-nobus", "user-id", "nobus-user");

  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/mailshot/bus", TRUE);
  g_assert_cmpint (run ("Pw-Canary-0006\n", NULL, &err, "--account", "cli-nobus", "password", "set", NULL), ==, 1);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", saved_bus, TRUE);
  assert_contains (err, "No session bus");
}

/* A real terminal: the prompt shows, the typing does not. */
static void
test_password_tty (void)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) screen = g_string_new (NULL);
  const char *cli = g_getenv ("MS_CLI");
  const char *argv[] = { cli, "--account", "cli-tty", "password", "set", NULL };
  const char *typed = "Tty-Canary-0007\n";
  gboolean sent = FALSE;
  gint64 deadline;
  int master, slave;

  set_ok ("cli-tty", "smtp-server", "smtp.example.org");
  set_ok ("cli-tty", "user-id", "tty-user");

  master = posix_openpt (O_RDWR | O_NOCTTY);
  g_assert_cmpint (master, >=, 0);
  g_assert_cmpint (grantpt (master), ==, 0);
  g_assert_cmpint (unlockpt (master), ==, 0);
  slave = open (ptsname (master), O_RDWR | O_NOCTTY);
  g_assert_cmpint (slave, >=, 0);
  g_unix_set_fd_nonblocking (master, TRUE, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  g_subprocess_launcher_take_stdin_fd (launcher, slave);
  g_subprocess_launcher_take_stderr_fd (launcher, dup (slave));
  proc = g_subprocess_launcher_spawnv (launcher, argv, &error);
  g_assert_no_error (error);
  g_clear_object (&launcher);   /* closes our copies of the slave */

  deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;
  for (;;)
    {
      char buf[256];
      gssize n = read (master, buf, sizeof buf);

      if (n > 0)
        g_string_append_len (screen, buf, n);
      else if (n < 0 && errno != EAGAIN)
        break;   /* EIO: the child is gone and the terminal closed */
      else
        g_usleep (10000);

      if (!sent && strstr (screen->str, "Password for tty-user on smtp.example.org: ") != NULL)
        {
          g_assert_cmpint (write (master, typed, strlen (typed)), ==, (gssize) strlen (typed));
          sent = TRUE;
        }
      if (g_get_monotonic_time () > deadline)
        g_error ("no end of `password set` on a terminal; screen so far: %s", screen->str);
    }
  close (master);

  g_subprocess_wait_check (proc, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (sent);
  g_string_append (all_output, screen->str);
  g_test_message ("terminal: %s", screen->str);
  g_assert_null (strstr (screen->str, "Tty-Canary"));
  assert_keyring_has ("cli-tty", "smtp.example.org", "tty-user", "Tty-Canary-0007");
}

static guint
count_of (const char *text,
          const char *part)
{
  guint n = 0;

  for (const char *at = strstr (text, part); at != NULL; at = strstr (at + 1, part))
    n++;
  return n;
}

/* `test --check-settings` shows the provider hints and checks the keyring
 * without any network action, so the hints for Gmail and Microsoft 365 can
 * be tested here: their hosts are never resolved or contacted. */
static void
test_check_settings_hints (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *out2 = NULL;
  g_autofree char *out3 = NULL;

  set_ok ("cli-gmail", "smtp-server", "smtp.gmail.com");
  set_ok ("cli-gmail", "email-address", "someone@gmail.com");
  set_ok ("cli-gmail", "user-id", "someone@gmail.com");
  set_ok ("cli-gmail", "smtp-port", "25");

  /* No password yet: the hints still show, then the keyring says what is missing. */
  g_assert_cmpint (run (NULL, &out, &err, "--account", "cli-gmail", "test", "--check-settings", NULL), ==, 1);
  assert_contains (out, "Hint: ");
  assert_contains (out, "app password");
  assert_contains (out, "port 465 with “Use SMTPS” on, or port 587");
  assert_contains (out, "is the key use-smtps: mailshot-cli --account cli-gmail config set use-smtps VALUE");
  assert_contains (err, "No password is stored");
  assert_contains (err, "mailshot-cli --account cli-gmail password set");
  g_assert_null (strstr (out, "Find the server"));

  g_assert_cmpint (run ("Pw-Canary-0008\n", NULL, NULL, "--account", "cli-gmail", "password", "set", NULL), ==, 0);
  set_ok ("cli-gmail", "smtp-port", "587");
  g_assert_cmpint (run (NULL, &out2, NULL, "--account", "cli-gmail", "test", "--check-settings", NULL), ==, 0);
  assert_contains (out2, "app password");
  assert_contains (out2, "500");                   /* the daily limit, with max-per-day unset */
  assert_contains (out2, "Nothing was sent");
  g_assert_null (strstr (out2, "do not fit Gmail"));

  set_ok ("cli-o365", "smtp-server", "smtp.office365.com");
  set_ok ("cli-o365", "email-address", "someone@contoso.example");
  set_ok ("cli-o365", "needs-authentication", "false");
  set_ok ("cli-o365", "use-smtps", "true");
  set_ok ("cli-o365", "smtp-port", "465");
  set_ok ("cli-o365", "max-connections", "5");
  g_assert_cmpint (run (NULL, &out3, NULL, "--account", "cli-o365", "test", "--check-settings", NULL), ==, 0);
  assert_contains (out3, "poor choices for bulk mail");
  assert_contains (out3, "turn “Use SMTPS” off and use port 587");
  assert_contains (out3, "3 connections at once");
  assert_contains (out3, "is the key max-connections");
  assert_contains (out3, "SMTP AUTH");
  /* Each fact once: the hints are the settings window's notes, not the
   * provider's summary and then each limit again. */
  g_assert_cmpuint (count_of (out3, "30 messages a minute"), ==, 1);
  g_assert_cmpuint (count_of (out3, "3 connections"), ==, 1);
  g_assert_cmpuint (count_of (out3, "10000 recipients a day"), ==, 1);
  g_assert_cmpuint (count_of (out2, "500 messages a day"), ==, 1);

  /* An account that signs in with OAuth2 is not told about SMTP AUTH with a password. */
  {
    g_autofree char *out4 = NULL;

    set_ok ("cli-o365", "auth-method", "oauth2");
    set_ok ("cli-o365", "oauth2-client-id", "00000000-0000-0000-0000-000000000000");
    set_ok ("cli-o365", "needs-authentication", "true");
    run (NULL, &out4, NULL, "--account", "cli-o365", "test", "--check-settings", NULL);
    assert_contains (out4, "poor choices for bulk mail");
    g_assert_null (strstr (out4, "SMTP AUTH"));
    /* The mailbox's switch holds for OAuth2 too, said once. */
    g_assert_cmpuint (count_of (out4, "signing in with OAuth2 needs it too"), ==, 1);
  }
}

static SecretCollection *
default_collection (SecretService *service)
{
  g_autoptr(GError) error = NULL;
  SecretCollection *collection = secret_collection_for_alias_sync (service, SECRET_COLLECTION_DEFAULT,
                                                                   SECRET_COLLECTION_NONE, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (collection);
  return collection;
}

static void
set_keyring_locked (gboolean locked)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(SecretService) service = secret_service_get_sync (SECRET_SERVICE_OPEN_SESSION, NULL, &error);
  g_autoptr(SecretCollection) collection = NULL;

  g_assert_no_error (error);
  collection = default_collection (service);
  if (locked)
    {
      GList *objects = g_list_append (NULL, collection);

      g_assert_cmpint (secret_service_lock_sync (service, objects, NULL, NULL, &error), ==, 1);
      g_list_free (objects);
      g_assert_no_error (error);
    }
  else
    {
      /* gnome-keyring cannot prompt without a display; its internal
       * interface takes the password ms-test-env.sh unlocked it with. */
      g_autoptr(SecretValue) master = secret_value_new ("mailshot-test", -1, "text/plain");
      g_autoptr(GVariant) reply = NULL;
      GVariant *encoded = secret_service_encode_dbus_secret (service, master);

      reply = g_dbus_proxy_call_sync (G_DBUS_PROXY (service),
                                      "org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword",
                                      g_variant_new ("(o@(oayays))",
                                                     g_dbus_proxy_get_object_path (G_DBUS_PROXY (collection)), encoded),
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
      g_assert_no_error (error);
    }
}

/* `test` cannot get the password: a clear sentence and exit 1, before any
 * network action. The server is a closed loopback port, so even a broken
 * check would contact nothing else. */
static void
test_test_keyring_errors (void)
{
  g_autofree char *saved_bus = g_strdup (g_getenv ("DBUS_SESSION_BUS_ADDRESS"));
  g_autofree char *err1 = NULL;
  g_autofree char *err2 = NULL;
  g_autofree char *err3 = NULL;
  g_autofree char *err4 = NULL;
  g_autofree char *out = NULL;

  set_ok ("cli-kr", "smtp-server", "127.0.0.1");
  set_ok ("cli-kr", "smtp-port", "1");
  set_ok ("cli-kr", "email-address", "kr@example.org");

  /* Authentication on, but no user: the message names the key. */
  g_assert_cmpint (run (NULL, NULL, &err1, "--account", "cli-kr", "test", NULL), ==, 2);
  assert_contains (err1, "user-id");
  set_ok ("cli-kr", "user-id", "kr-user");

  g_assert_cmpint (run (NULL, &out, &err2, "--account", "cli-kr", "test", NULL), ==, 1);
  assert_contains (err2, "No password is stored for account “cli-kr”");
  g_assert_null (strstr (out, "Find the server"));

  g_assert_cmpint (run ("Pw-Canary-0009\n", NULL, NULL, "--account", "cli-kr", "password", "set", NULL), ==, 0);
  set_keyring_locked (TRUE);
  g_assert_cmpint (run (NULL, NULL, &err3, "--account", "cli-kr", "test", NULL), ==, 1);
  set_keyring_locked (FALSE);
  assert_contains (err3, "The keyring is locked");

  g_setenv ("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/mailshot/bus", TRUE);
  g_assert_cmpint (run (NULL, NULL, &err4, "--account", "cli-kr", "test", NULL), ==, 1);
  g_setenv ("DBUS_SESSION_BUS_ADDRESS", saved_bus, TRUE);
  assert_contains (err4, "No session bus");

  /* Unlocked again, the password is there. */
  assert_keyring_has ("cli-kr", "127.0.0.1", "kr-user", "Pw-Canary-0009");
}

/* ms_account_load_config: the snapshot with its password, the one way every
 * front end gets it, sync and async alike; and the account's pacer limits. */
typedef struct {
  GMainLoop    *loop;
  MsSmtpConfig *config;
  GError       *error;
} LoadRun;

static void
load_config_done (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  LoadRun *run = user_data;

  run->config = ms_account_load_config_finish (MS_ACCOUNT (source), result, &run->error);
  g_main_loop_quit (run->loop);
}

static MsSmtpConfig *
load_config_async (MsAccount  *account,
                   GError    **error)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  LoadRun run = { loop, NULL, NULL };

  ms_account_load_config_async (account, NULL, load_config_done, &run);
  g_main_loop_run (loop);
  if (run.error != NULL)
    g_propagate_error (error, run.error);
  return run.config;
}

static void
assert_load_fails (MsAccount  *account,
                   int         code,
                   const char *message_part)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) async_error = NULL;
  g_autoptr(MsSmtpConfig) config = ms_account_load_config_sync (account, NULL, &error);
  g_autoptr(MsSmtpConfig) async_config = load_config_async (account, &async_error);

  g_assert_null (config);
  g_assert_error (error, MS_ERROR, code);
  assert_contains (error->message, message_part);
  g_assert_null (async_config);
  g_assert_error (async_error, MS_ERROR, code);
  g_assert_cmpstr (async_error->message, ==, error->message);
}

static void
test_account_load_config (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAccount) account = ms_account_new ("cli-load", &error);
  MsPacerLimits limits;

  g_assert_no_error (error);
  assert_load_fails (account, MS_ERROR_NOT_CONFIGURED, "has no SMTP server or e-mail address");

  g_assert_true (ms_account_set_from_string (account, "smtp-server", "127.0.0.1", NULL));
  g_assert_true (ms_account_set_from_string (account, "email-address", "load@example.org", NULL));
  g_assert_true (ms_account_set_from_string (account, "user-id", "load-user", NULL));
  g_assert_true (ms_account_set_from_string (account, "needs-authentication", "true", NULL));
  assert_load_fails (account, MS_ERROR_NO_PASSWORD, "No password is stored for account “cli-load”");

  g_assert_true (ms_secret_store_sync ("cli-load", "127.0.0.1", "load-user", "Pw-Canary-0010", NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(MsSmtpConfig) config = i == 0 ? ms_account_load_config_sync (account, NULL, &error)
                                              : load_config_async (account, &error);

      g_assert_no_error (error);
      g_assert_nonnull (config);
      g_assert_cmpstr (config->server, ==, "127.0.0.1");
      g_assert_cmpstr (config->user, ==, "load-user");
      g_assert_cmpstr (config->from_address, ==, "load@example.org");
      g_assert_true (config->needs_auth);
      g_assert_cmpstr (config->password, ==, "Pw-Canary-0010");
    }

  set_keyring_locked (TRUE);
  assert_load_fails (account, MS_ERROR_KEYRING_LOCKED, "The keyring is locked");
  set_keyring_locked (FALSE);

  /* Without authentication the keyring is not asked at all. */
  g_assert_true (ms_account_set_from_string (account, "needs-authentication", "false", NULL));
  set_keyring_locked (TRUE);
  {
    g_autoptr(MsSmtpConfig) config = load_config_async (account, &error);

    g_assert_no_error (error);
    g_assert_nonnull (config);
    g_assert_null (config->password);
  }
  set_keyring_locked (FALSE);

  /* The pacer's limits: negative or zero connections mean one. */
  g_assert_true (ms_account_set_from_string (account, "max-per-minute", "30", NULL));
  g_assert_true (ms_account_set_from_string (account, "max-per-hour", "0", NULL));
  g_assert_true (ms_account_set_from_string (account, "max-per-day", "500", NULL));
  g_assert_true (ms_account_set_from_string (account, "max-connections", "3", NULL));
  ms_account_set_rate_limited_until (account, 2000000000);
  ms_account_get_pacer_limits (account, &limits);
  g_assert_cmpuint (limits.per_minute, ==, 30);
  g_assert_cmpuint (limits.per_hour, ==, 0);
  g_assert_cmpuint (limits.per_day, ==, 500);
  g_assert_cmpuint (limits.connections, ==, 3);
  g_assert_cmpint (limits.rate_limited_until, ==, 2000000000);
  ms_account_set_rate_limited_until (account, 0);
  g_settings_sync ();
}

/* --version prints the version on standard output and exits 0. */
static void
test_version (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *expected = g_strdup_printf ("mailshot-cli %s\n", PACKAGE_VERSION);

  g_assert_cmpint (run (NULL, &out, &err, "--version", NULL), ==, 0);
  g_assert_cmpstr (out, ==, expected);
  g_assert_cmpstr (err, ==, "");
}

/* A batch imported from a list with bad rows, some recipients failed
 * (550 5.1.1) as a blast records them. Returns the batch ID. */
static gint64
make_report_batch (void)
{
  g_autofree char *csv = ms_test_tmp_path ("report-cli.csv");
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  MsBatchSpec spec = {
    .account = (char *) "default", .from_address = (char *) "news@example.org", .subject = (char *) "Report",
    .text = (char *) "Hello {{name}}\n",
  };
  gint64 batch;

  g_assert_true (g_file_set_contents (csv,
                                      "email,name\n"
                                      "ann@example.org,Ann\n"         /* 2 */
                                      "not-an-address,Bob\n"          /* 3: left out */
                                      "carl@example.org,Carl\n"       /* 4 */
                                      "dan@example.org,Dan,extra\n",  /* 5: left out */
                                      -1, NULL));
  journal = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  batch = ms_import_csv (journal, &spec, csv, NULL, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_strfreev (spec.fields);
  g_free (spec.source);
  rows = ms_journal_claim (journal, batch, 2, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 2);
  {
    MsJournalOutcome outcomes[] = {
      { .row_id = ((MsJournalRow *) rows->pdata[0])->id, .state = MS_STATE_SENT, .reply_code = 250,
        .reply_text = "2.0.0 Ok: queued as A1" },
      { .row_id = ((MsJournalRow *) rows->pdata[1])->id, .state = MS_STATE_FAILED, .reply_code = 550,
        .reply_text = "5.1.1 <carl@example.org>: User unknown",
        .reply_class = MS_REPLY_CLASS_RECIPIENT_REJECTED },
    };
    g_assert_true (ms_journal_record (journal, outcomes, G_N_ELEMENTS (outcomes), &error));
    g_assert_no_error (error);
  }
  return batch;
}

/* blast report lists the rows left out at import among the recipients, in
 * the order of the list, with their reason; its --help says what left-out is. */
static void
test_blast_report_left_out (void)
{
  gint64 batch = make_report_batch ();
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_autofree char *out = NULL;
  g_autofree char *help = NULL;
  g_auto(GStrv) lines = NULL;
  guint first = 0;

  g_assert_cmpint (run (NULL, &out, NULL, "blast", "report", id, NULL), ==, 0);
  g_test_message ("%s", out);
  assert_contains (out, "Left out at import: 2 rows of the list");
  lines = g_strsplit (out, "\n", -1);
  while (lines[first] != NULL && !g_str_has_prefix (lines[first], "sent "))
    first++;
  g_assert_nonnull (lines[first]);
  g_assert_true (g_str_has_prefix (lines[first], "sent       ann@example.org "));
  g_assert_true (g_str_has_prefix (lines[first + 1], "left-out   not-an-address "));
  g_assert_true (g_str_has_suffix (lines[first + 1],
                                   "  Line 3: “not-an-address” is not a valid e-mail address."));
  g_assert_true (g_str_has_prefix (lines[first + 2], "failed     carl@example.org "));
  g_assert_true (g_str_has_suffix (lines[first + 2], " 550 5.1.1 <carl@example.org>: User unknown"));
  g_assert_true (g_str_has_prefix (lines[first + 3], "left-out   "));
  assert_contains (lines[first + 3], "  Line 5: expected 2 fields, got 3.");
  g_assert_cmpstr (lines[first + 4], ==, "");

  g_assert_cmpint (run (NULL, &help, NULL, "blast", "report", "--help", NULL), ==, 0);
  assert_contains (help, "address,state,attempts,time,reply_code,reply_text,message_id,enhanced_code,line,");
  assert_contains (help, "left-out for a row the import left out");
}

/* pending prints each row's advice as the journal gives it (the Pending
 * page's): a failed row recorded without advice gets its reply's. */
static void
test_pending_advice (void)
{
  gint64 batch = make_report_batch ();
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_autofree char *out = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (run (NULL, &out, NULL, "pending", "--batch", id, NULL), ==, 0);
  journal = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  rows = ms_journal_list_rows (journal, batch, NULL, 0, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < rows->len; i++)
    {
      const MsJournalRow *row = rows->pdata[i];
      g_autofree char *advice = ms_journal_row_dup_advice (row);

      if (row->state == MS_STATE_SENT)
        continue;
      g_assert_nonnull (advice);
      g_test_message ("%s: %s", row->address, advice);
      assert_contains (out, advice);
    }
}

/* Nothing the CLI printed, and nothing in the settings file, holds a password
 * or its base64. Run last, it also covers what every other test printed; it
 * stores a password of its own and runs the commands that read the account
 * first, so that it checks something when it runs alone (-p): it used to find
 * no settings file then. */
static void
test_no_password_leak (void)
{
  static const char * const canaries[] = {
    "Pw-Canary-0001", "Pw-Canary-0002", "Pw Canary 0003 with spaces", "Pw-Canary-0005",
    "Pw-Canary-0006", "Tty-Canary-0007", "Pw-Canary-0008", "Pw-Canary-0009",
    "Pw-Canary-0010",
  };
  g_autofree char *path = g_build_filename (g_get_user_config_dir (), "glib-2.0", "settings", "keyfile", NULL);
  g_autofree char *keyfile = NULL;

  set_ok ("cli-leak", "smtp-server", "smtp.example.org");
  set_ok ("cli-leak", "email-address", "leak@example.org");
  set_ok ("cli-leak", "user-id", "leak-user");
  g_assert_cmpint (run ("Pw-Canary-0010\n", NULL, NULL, "--account", "cli-leak", "password", "set", NULL), ==, 0);
  assert_keyring_has ("cli-leak", "smtp.example.org", "leak-user", "Pw-Canary-0010");
  g_assert_cmpint (run (NULL, NULL, NULL, "--account", "cli-leak", "config", "list", NULL), ==, 0);
  /* Reads the password from the keyring, and contacts nothing. */
  g_assert_cmpint (run (NULL, NULL, NULL, "--account", "cli-leak", "test", "--check-settings", NULL), ==, 0);

  g_assert_true (g_file_get_contents (path, &keyfile, NULL, NULL));
  assert_contains (keyfile, "accounts/cli-leak]");
  g_assert_cmpuint (all_output->len, >, 0);

  for (guint i = 0; i < G_N_ELEMENTS (canaries); i++)
    {
      g_autofree char *b64 = g_base64_encode ((const guchar *) canaries[i], strlen (canaries[i]));
      /* The canary's base64 shifted by one and two bytes, as inside AUTH PLAIN. */
      g_autofree char *shifted1 = g_strconcat ("\1", canaries[i], NULL);
      g_autofree char *shifted2 = g_strconcat ("\1\1", canaries[i], NULL);
      g_autofree char *b64_1 = g_base64_encode ((const guchar *) shifted1, strlen (shifted1));
      g_autofree char *b64_2 = g_base64_encode ((const guchar *) shifted2, strlen (shifted2));
      /* Only the stable middle of a shifted encoding can be searched for. */
      const char *needles[] = { canaries[i], b64, b64_1 + 4, b64_2 + 4 };

      for (guint j = 0; j < G_N_ELEMENTS (needles); j++)
        {
          g_autofree char *needle = g_strndup (needles[j], MIN (strlen (needles[j]), 16));

          g_assert_null (strstr (keyfile, needle));
          g_assert_null (strstr (all_output->str, needle));
        }
    }
}

/* A full disk and a read-only journal ------------------------------------------ */

/* The CLI's journal folder on a private 1 MiB tmpfs, holding batch 1 of
 * six recipients: two sent, one failed, three queued. Returns the journal's path. */
static char *
journal_on_tmpfs (void)
{
  static const char *fields[] = { "email", "name", NULL };
  g_autofree char *dir = g_build_filename (g_get_user_data_dir (), "mailshot", NULL);
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GError) error = NULL;
  MsBatchSpec spec = {
    .account = (char *) "default", .from_address = (char *) "sender@example.org",
    .subject = (char *) "Full {{name}}", .text = (char *) "Hello {{name}}\n",
    .fields = (char **) fields, .email_index = 0, .source = (char *) "list.csv",
  };
  gint64 batch;

  ms_test_mount_private_tmpfs (dir, 1024);

  journal = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  batch = ms_journal_create_batch (journal, &spec, &error);
  g_assert_cmpint (batch, ==, 1);
  g_assert_true (ms_journal_begin (journal, &error));
  for (guint i = 0; i < 6; i++)
    {
      g_autofree char *address = g_strdup_printf ("full%u@example.org", i);
      g_autofree char *name = g_strdup_printf ("N%u", i);
      const char *values[] = { address, name, NULL };
      gboolean duplicate = FALSE;

      g_assert_true (ms_journal_add_recipient (journal, batch, address, values, i + 2, &duplicate, &error));
    }
  g_assert_true (ms_journal_commit (journal, &error));
  rows = ms_journal_claim (journal, batch, 3, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  {
    MsJournalOutcome outcomes[] = {
      { .row_id = ((MsJournalRow *) rows->pdata[0])->id, .state = MS_STATE_SENT, .reply_code = 250,
        .reply_text = "2.0.0 Ok: queued as F0" },
      { .row_id = ((MsJournalRow *) rows->pdata[1])->id, .state = MS_STATE_SENT, .reply_code = 250,
        .reply_text = "2.0.0 Ok: queued as F1" },
      { .row_id = ((MsJournalRow *) rows->pdata[2])->id, .state = MS_STATE_FAILED, .reply_code = 550,
        .reply_text = "5.1.1 User unknown", .reply_class = MS_REPLY_CLASS_RECIPIENT_REJECTED },
    };
    g_assert_true (ms_journal_record (journal, outcomes, G_N_ELEMENTS (outcomes), &error));
    g_assert_no_error (error);
  }
  return g_strdup (ms_journal_get_path (journal));
}

/* The reading commands work and say why the journal is shown as saved;
 * the changing ones fail with exit 1, naming the journal, what is wrong
 * and what to do. */
static void
assert_cli_reads_not_writes (const char *path,
                             const char *why,
                             const char *what_to_do)
{
  g_autofree char *csv = ms_test_tmp_path ("full.csv");
  g_autofree char *text = ms_test_tmp_path ("full.txt");
  const char *reading[][5] = {
    { "blast", "list", NULL },
    { "blast", "status", "1", NULL },
    { "blast", "report", "1", NULL },
    { "blast", "report", "1", "--csv", NULL },
    { "pending", NULL },
  };
  const char *writing[][12] = {
    { "blast", "cancel", "1", NULL },
    { "blast", "resume", "1", NULL },
    { "pending", "--retry", "3", NULL },
    { "pending", "--skip", "4", NULL },
    { "blast", "send", "--recipients", csv, "--subject", "S", "--text", text, "--no-wait", NULL },
  };

  g_assert_true (g_file_set_contents (csv, "email\nnew@example.org\n", -1, NULL));
  g_assert_true (g_file_set_contents (text, "Hello\n", -1, NULL));

  for (guint i = 0; i < G_N_ELEMENTS (reading); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (ms_test_run_cliv (NULL, &out, &err, reading[i]), ==, 0);
      g_test_message ("%s %s: %s%s", reading[i][0], reading[i][1] ? reading[i][1] : "", out, err);
      assert_contains (err, "note: the journal at ");
      assert_contains (err, path);
      assert_contains (err, why);
      if (g_str_equal (reading[i][0], "pending"))
        {
          assert_contains (out, "full3@example.org");
          assert_contains (out, "failed");
          assert_contains (out, "5.1.1 User unknown");
        }
      else if (g_str_equal (reading[i][1], "list"))
        g_assert_true (g_str_has_prefix (out, "1\tready\t"));
      else if (g_str_equal (reading[i][1], "status"))
        assert_contains (out, "Recipients: 6 (3 queued, 2 sent, 1 failed)");
      else if (reading[i][3] != NULL)   /* --csv */
        {
          g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

          g_assert_cmpuint (g_strv_length (lines), ==, 8);   /* header, 6 rows, "" */
          assert_contains (out, "full0@example.org,sent,1,");
          assert_contains (out, "2.0.0 Ok: queued as F0");
        }
      else
        assert_contains (out, "full5@example.org");
    }

  for (guint i = 0; i < G_N_ELEMENTS (writing); i++)
    {
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;

      g_assert_cmpint (ms_test_run_cliv (NULL, &out, &err, writing[i]), ==, 1);
      g_test_message ("%s %s: %s", writing[i][0], writing[i][1], err);
      assert_contains (err, path);
      assert_contains (err, why);
      assert_contains (err, what_to_do);
      g_assert_null (strstr (out, "cancelled"));
    }
}

static void
config_unreachable_account (void)
{
  set_ok ("default", "smtp-server", "127.0.0.1");
  set_ok ("default", "smtp-port", "9");
  set_ok ("default", "email-address", "sender@example.org");
  set_ok ("default", "needs-authentication", "false");
}

static void
test_journal_full_disk (void)
{
  ms_test_run_tmpfs_subprocess ("/mailshot/cli/journal/full-disk");
}

static void
test_journal_full_disk_subprocess (void)
{
  g_autofree char *path = journal_on_tmpfs ();
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *filler = g_build_filename (dir, "filler", NULL);
  const char *dd[] = { "sh", "-c", "dd if=/dev/zero of=\"$1\" bs=16k; dd if=/dev/zero bs=1 >> \"$1\"; true",
                       "sh", filler, NULL };
  GStatBuf st;

  config_unreachable_account ();
  g_assert_true (g_spawn_sync (NULL, (char **) dd, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, NULL, NULL, NULL, NULL));
  g_assert_cmpint (g_stat (filler, &st), ==, 0);
  g_assert_cmpint (st.st_size, >, 512 * 1024);
  assert_cli_reads_not_writes (path, "the disk that holds it is full", "Free some space on that disk");
}

static void
test_journal_read_only (void)
{
  ms_test_run_tmpfs_subprocess ("/mailshot/cli/journal/read-only");
}

static void
test_journal_read_only_subprocess (void)
{
  g_autofree char *path = journal_on_tmpfs ();
  g_autofree char *dir = g_path_get_dirname (path);

  config_unreachable_account ();
  if (mount (NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
    g_error ("remount read-only: %s", g_strerror (errno));
  assert_cli_reads_not_writes (path, "it is on a read-only file system", "Make that file system writable");
}

/* ---- config detect --------------------------------------------------------- */

/* Keeps `config detect` off the network: no host but the local server's is
 * fetched, and MX answers come from @mx ("domain=host;…"). */
static MsTestHttps *
detect_server_start (const char *mx)
{
  static const char * const names[] = { "autoconfig.cli-detect.test", "cli-detect.test", NULL };
  MsTestHttps *https = ms_test_https_start (FALSE, names);

  ms_test_https_export (https);
  g_setenv ("MS_AUTOCONFIG_MX", mx, TRUE);
  return https;
}

static void
detect_server_stop (MsTestHttps *https)
{
  g_unsetenv ("MS_AUTOCONFIG_CONNECT_TO");
  g_unsetenv ("MS_AUTOCONFIG_CAINFO");
  g_unsetenv ("MS_AUTOCONFIG_MX");
  ms_test_https_stop (https);
}

static void
test_config_detect_table (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  MsTestHttps *https = detect_server_start ("");
  g_autofree char *log = NULL;

  g_assert_cmpint (run (NULL, &out, &err, "--account", "cli-detect", "config", "detect", "hans@web.de", NULL), ==, 0);
  g_assert_cmpstr (out, ==,
                   "Provider: WEB.DE\n"
                   "Found in: the built-in table of providers\n"
                   "Security: SMTPS (TLS from the first byte)\n"
                   "Sign-in: password\n"
                   "smtp-server           smtp.web.de\n"
                   "smtp-port             465\n"
                   "use-smtps             true\n"
                   "email-address         hans@web.de\n"
                   "user-id               hans\n"
                   "needs-authentication  true\n"
                   "auth-method           automatic\n");
  assert_contains (err, "config detect hans@web.de --apply");
  /* Without --apply, nothing is stored; the table needs no request. */
  assert_get ("cli-detect", "smtp-server", "");
  log = ms_test_https_get_log (https);
  g_assert_cmpstr (log, ==, "");
  detect_server_stop (https);
}

static void
test_config_detect_apply (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  MsTestHttps *https = detect_server_start ("");

  ms_test_https_put (https, "autoconfig.cli-detect.test", "mail/config-v1.1.xml",
                     "<clientConfig version=\"1.1\"><emailProvider id=\"cli-detect.test\">"
                     "<displayName>CLI Detect Mail</displayName>"
                     "<outgoingServer type=\"smtp\"><hostname>submit.cli-detect.test</hostname>"
                     "<port>2525</port><socketType>STARTTLS</socketType>"
                     "<username>%EMAILLOCALPART%</username>"
                     "<authentication>password-encrypted</authentication></outgoingServer>"
                     "</emailProvider></clientConfig>", -1);
  set_ok ("cli-detect-apply", "use-smtps", "true");
  g_assert_cmpint (run (NULL, &out, &err, "--account", "cli-detect-apply", "config", "detect",
                        "news@cli-detect.test", "--apply", NULL), ==, 0);
  assert_contains (out, "Provider: CLI Detect Mail\n");
  assert_contains (out, "Found in: the autoconfig file at "
                   "https://autoconfig.cli-detect.test/mail/config-v1.1.xml?emailaddress=news%40cli-detect.test\n");
  assert_contains (err, "Stored in account “cli-detect-apply”.");
  assert_contains (err, "password set");
  assert_get ("cli-detect-apply", "smtp-server", "submit.cli-detect.test");
  assert_get ("cli-detect-apply", "smtp-port", "2525");
  assert_get ("cli-detect-apply", "use-smtps", "false");
  assert_get ("cli-detect-apply", "email-address", "news@cli-detect.test");
  assert_get ("cli-detect-apply", "user-id", "news");
  assert_get ("cli-detect-apply", "needs-authentication", "true");
  assert_get ("cli-detect-apply", "auth-method", "cram-md5");
  detect_server_stop (https);
}

static void
test_config_detect_mx (void)
{
  g_autofree char *out = NULL;
  MsTestHttps *https = detect_server_start ("cli-detect.test=alt2.aspmx.l.google.com");

  g_assert_cmpint (run (NULL, &out, NULL, "config", "detect", "office@cli-detect.test", NULL), ==, 0);
  assert_contains (out, "Provider: Google Workspace\n");
  assert_contains (out, "Found in: MX records point to Google (alt2.aspmx.l.google.com)\n");
  assert_contains (out, "smtp-server           smtp.gmail.com\n");
  detect_server_stop (https);
}

static void
test_config_detect_errors (void)
{
  g_autofree char *err = NULL;
  g_autofree char *err2 = NULL;
  g_autofree char *out = NULL;
  MsTestHttps *https = detect_server_start ("cli-detect.test=mx.cli-detect.test");

  g_assert_cmpint (run (NULL, &out, &err, "--account", "cli-detect-none", "config", "detect",
                        "a@cli-detect.test", "--apply", NULL), ==, 1);
  g_assert_cmpstr (out, ==, "");
  assert_contains (err, "mailshot-cli: No SMTP settings found for cli-detect.test. Tried: the built-in table of providers; ");
  assert_contains (err, "(HTTP status 404)");
  assert_contains (err, "its MX records (mx.cli-detect.test), which are not Google’s or Microsoft’s");
  assert_get ("cli-detect-none", "smtp-server", "");

  g_assert_cmpint (run (NULL, NULL, &err2, "config", "detect", "not an address", NULL), ==, 2);
  assert_contains (err2, "is not an e-mail address");
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "detect", NULL), ==, 2);
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "detect", "a@b.test", "c@d.test", NULL), ==, 2);
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "detect", "a@gmail.com", "--force", NULL), ==, 2);
  detect_server_stop (https);
}

/* ------------------------------------------------------------- blast progress */

/* The default account pointed at the harness: plain SMTP, no AUTH. */
static void
point_account_at (MsTestServer *server)
{
  g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (server));

  g_assert_cmpint (run (NULL, NULL, NULL, "config", "set", "smtp-server", "127.0.0.1", NULL), ==, 0);
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "set", "smtp-port", port, NULL), ==, 0);
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "set", "email-address", "news@example.org", NULL), ==, 0);
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "set", "needs-authentication", "false", NULL), ==, 0);
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "set", "timeout", "10", NULL), ==, 0);
  g_assert_cmpint (run (NULL, NULL, NULL, "config", "reset", "starttls-seen", NULL), ==, 0);
}

static void
reset_account (void)
{
  const char *keys[] = { "smtp-server", "smtp-port", "email-address", "needs-authentication", "timeout",
                         "starttls-seen" };

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    g_assert_cmpint (run (NULL, NULL, NULL, "config", "reset", keys[i], NULL), ==, 0);
}

/* @n members, then a row left out and a duplicate: n + 2 records in the
 * file, n recipients once the list is in. */
static char *
write_progress_list (const char *name,
                     guint       n)
{
  g_autofree char *path = ms_test_tmp_path (name);
  g_autoptr(GString) csv = g_string_new ("name,email\n");

  for (guint i = 0; i < n; i++)
    g_string_append_printf (csv, "Member %u,member%u@example.net\n", i, i);
  g_string_append (csv, "Bad Row,not-an-address\nAgain,MEMBER7@example.net\n");
  g_assert_true (g_file_set_contents (path, csv->str, -1, NULL));
  return g_steal_pointer (&path);
}

static int
run_with_chunk (const char  *chunk,
                char       **out,
                char       **err,
                const char  *first_arg,
                ...) G_GNUC_NULL_TERMINATED;

/* The CLI with MS_IMPORT_CHUNK set in its environment only. */
static int
run_with_chunk (const char  *chunk,
                char       **out,
                char       **err,
                const char  *first_arg,
                ...)
{
  g_autofree char *env_chunk = g_strdup_printf ("MS_IMPORT_CHUNK=%s", chunk);
  const char *env[] = { env_chunk, NULL };
  va_list ap;
  int status;

  va_start (ap, first_arg);
  status = run_va (env, NULL, out, err, first_arg, ap);
  va_end (ap);
  return status;
}

/* The progress lines a run printed on a pipe: while the list goes in,
 * "N of about R sent" against the file's @records, with a time left that
 * is of the whole file at the rate shown; once it is in, "N/T sent" with
 * the exact @total. Returns how many lines said "about". */
static guint
check_progress_lines (const char *err,
                      guint       records,
                      guint       total)
{
  g_auto(GStrv) lines = g_strsplit (err, "\n", -1);
  guint about = 0, exact = 0, first = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      const char *line = lines[i];
      const char *rate_text = strstr (line, " msg/s");
      const char *eta_text = strstr (line, " · ETA ");
      guint sent = 0, shown = 0, minutes = 0, seconds = 0;

      if (rate_text == NULL)
        continue;
      if (first == 0)
        first = i + 1;
      if (strstr (line, " of about ") != NULL)
        {
          g_assert_cmpint (sscanf (line, "%u of about %u sent", &sent, &shown), ==, 2);
          if (shown != records)
            g_error ("“%s”: the total while the list goes in is not the file’s %u records", line, records);
          /* The time left is of what is not sent yet of the whole file. */
          if (eta_text != NULL)
            {
              double rate = 0;

              while (rate_text > line && rate_text[-1] != ' ')
                rate_text--;
              rate = g_ascii_strtod (rate_text, NULL);
              g_assert_cmpint (sscanf (eta_text, " · ETA %u:%u", &minutes, &seconds), ==, 2);
              if (rate >= 1 && (minutes * 60 + seconds + 1) * (rate + 0.5) < records - sent)
                g_error ("“%s”: the time left is not that of the %u records not sent yet", line, records - sent);
            }
          about++;
          g_assert_cmpuint (exact, ==, 0);   /* never "about" again once the exact count was shown */
        }
      else
        {
          g_assert_cmpint (sscanf (line, "%u/%u sent", &sent, &shown), ==, 2);
          if (shown != total)
            g_error ("“%s”: the total is not the batch’s %u recipients", line, total);
          exact++;
        }
    }
  g_assert_cmpuint (first, >, 0);
  g_assert_cmpuint (exact, >=, 1);
  return about;
}

/* `blast send` of a list larger than a chunk sends while the rest goes in:
 * its progress on a pipe says "of about" the file's records, as the window
 * does, never the rows in so far ("0/1 sent", then "1113/5000"), and its
 * time left is of the whole file; then the exact count. */
static void
test_blast_progress_while_importing (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--hostname=mail.harness.test", NULL);
  g_autofree char *csv = write_progress_list ("progress.csv", 5000);
  g_autofree char *text = ms_test_tmp_path ("progress.txt");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_auto(GStrv) lines = NULL;

  g_assert_true (g_file_set_contents (text, "Dear {{name}},\nthe news.\n", -1, NULL));
  point_account_at (server);
  g_assert_cmpint (run_with_chunk ("1", &out, &err, "blast", "send", "--recipients", csv, "--subject",
                                   "News for {{name}}", "--text", text, NULL), ==, 0);
  g_test_message ("blast send: %s", err);
  g_assert_cmpint (g_ascii_strtoll (out, NULL, 10), >, 0);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 5000);
  g_assert_cmpuint (check_progress_lines (err, 5002, 5000), >=, 1);
  /* The first progress line is of the list still going in. */
  lines = g_strsplit (err, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], " msg/s") != NULL)
      {
        assert_contains (lines[i], " of about 5002 sent");
        break;
      }
  assert_contains (err, "Finished: 5000 sent.");
  reset_account ();
}

/* A batch whose import died after its first chunk, once that chunk was
 * sent: `blast list` and `blast status` say its list is not all in, and
 * `blast resume` imports and sends the rest with the same progress as
 * `blast send`: "of about" the file's records (its structure check on
 * resume counts them), never the rows in so far, then the exact count. */
static void
test_blast_resume_progress (void)
{
  g_autofree char *csv = write_progress_list ("resume-progress.csv", 3000);
  g_autoptr(MsTestServer) server = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *list = NULL;
  g_autofree char *status = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *list_line = NULL;
  g_auto(GStrv) lines = NULL;

  if (g_test_subprocess ())
    ms_test_import_first_chunk_and_die ("default", "Resumed news for {{name}}", "Dear {{name}},\nthe news.\n", csv);

  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_assert_false (g_test_trap_has_passed ());

  journal = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  batches = ms_journal_list_batches (journal, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (batches->len, >, 0);
  info = ms_journal_get_batch_info (journal, ((MsBatchInfo *) batches->pdata[0])->id, &error);
  g_assert_no_error (error);
  g_assert_true (info->import_unfinished);
  g_assert_cmpuint (info->total, ==, 4);
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, 4);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, info->id);
  g_clear_object (&journal);

  /* Its lines say what is known: the rows in so far, and that the list is not all in. */
  g_assert_cmpint (run (NULL, &list, NULL, "blast", "list", NULL), ==, 0);
  lines = g_strsplit (list, "\n", -1);
  for (guint i = 0; lines[i] != NULL && list_line == NULL; i++)
    if (g_str_has_prefix (lines[i], id) && lines[i][strlen (id)] == '\t')
      list_line = g_strdup (lines[i]);
  g_assert_nonnull (list_line);
  assert_contains (list_line, "\t4/4 sent so far, list not all in\t");
  g_assert_cmpint (run (NULL, &status, NULL, "blast", "status", id, NULL), ==, 0);
  assert_contains (status, "Recipients so far: 4 (4 sent)\n");
  assert_contains (status, "The list is not all in: it stopped while it was read in. “mailshot-cli blast resume ");

  /* The resume: the rest goes in by chunks of one row while it is sent. */
  server = ms_test_server_start ("--hostname=mail.harness.test", NULL);
  point_account_at (server);
  g_assert_cmpint (run_with_chunk ("1", &out, &err, "blast", "resume", id, NULL), ==, 0);
  g_test_message ("blast resume: %s", err);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 3000 - 4);
  g_assert_cmpuint (check_progress_lines (err, 3002, 3000), >=, 1);
  assert_contains (err, "Finished: 3000 sent.");
  g_clear_pointer (&status, g_free);
  g_assert_cmpint (run (NULL, &status, NULL, "blast", "status", id, NULL), ==, 0);
  assert_contains (status, "Recipients: 3000 (3000 sent)\n");
  g_assert_null (strstr (status, "not all in"));
  reset_account ();
}


/* `blast status` of a batch sent while its list still goes in (another
 * process imports and sends it now) says so, not that its import stopped
 * and wants a resume. */
static void
test_blast_status_while_importing (void)
{
  if (g_test_subprocess ())
    {
      g_autofree char *csv = write_progress_list ("status-importing.csv", 50);
      g_autoptr(MsJournal) importer = ms_journal_open (NULL, NULL);
      g_autoptr(MsJournal) sender = ms_journal_open (NULL, NULL);
      /* The job keeps the caller's spec: it goes after the job (declared first). */
      g_autoptr(MsBatchSpec) spec = g_new0 (MsBatchSpec, 1);
      g_autoptr(MsImportJob) job = NULL;
      g_autofree char *id = NULL;
      g_autofree char *status = NULL;
      g_autofree char *list = NULL;

      spec->account = g_strdup ("default");
      spec->from_address = g_strdup ("news@example.org");
      spec->subject = g_strdup ("Live news for {{name}}");
      spec->text = g_strdup ("Dear {{name}},\nthe news.\n");
      g_setenv ("MS_IMPORT_CHUNK", "4", TRUE);
      /* The import's journal holds the batch's lock, as in `blast send`. */
      job = ms_import_start (importer, spec, csv, NULL, NULL, NULL, NULL, NULL, NULL);
      g_assert_nonnull (job);
      g_assert_false (ms_import_job_is_done (job));
      g_assert_true (ms_journal_set_batch_status (sender, ms_import_job_get_batch (job), MS_BATCH_RUNNING, NULL,
                                                  NULL));
      id = g_strdup_printf ("%" G_GINT64_FORMAT, ms_import_job_get_batch (job));
      g_assert_cmpint (run (NULL, &status, NULL, "blast", "status", id, NULL), ==, 0);
      assert_contains (status, ": running\n");
      assert_contains (status, "Recipients so far: 4 (4 queued)\n");
      assert_contains (status, "The list is not all in yet: the rest is being read in while it is sent.\n");
      g_assert_null (strstr (status, "stopped while"));
      g_assert_cmpint (run (NULL, &list, NULL, "blast", "list", NULL), ==, 0);
      assert_contains (list, "\trunning\t");
      assert_contains (list, "\t0/4 sent so far, list not all in\t");
      /* Not left for the other cases: cancelled, and its import stops. */
      g_assert_true (ms_journal_cancel_batch (sender, ms_import_job_get_batch (job), NULL));
      return;
    }
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

int
main (int   argc,
      char *argv[])
{
  int status;

  g_test_init (&argc, &argv, NULL);
  ms_core_init ();
  all_output = g_string_new (NULL);

  if (g_getenv ("DBUS_SESSION_BUS_ADDRESS") == NULL || g_getenv ("MS_CLI") == NULL)
    {
      g_test_skip ("needs the keyring suite (tests/ms-test-env.sh keyring) and $MS_CLI");
      return g_test_run ();
    }

  g_test_add_func ("/mailshot/cli/config/list", test_config_list);
  g_test_add_func ("/mailshot/cli/config/set-get", test_config_set_get);
  g_test_add_func ("/mailshot/cli/config/invalid", test_config_invalid);
  g_test_add_func ("/mailshot/cli/config/unknown-key", test_config_unknown_key);
  g_test_add_func ("/mailshot/cli/config/usage", test_config_usage);
  g_test_add_func ("/mailshot/cli/config/reset", test_config_reset);
  g_test_add_func ("/mailshot/cli/config/backends", test_config_backends);
  g_test_add_func ("/mailshot/cli/config/detect-table", test_config_detect_table);
  g_test_add_func ("/mailshot/cli/config/detect-apply", test_config_detect_apply);
  g_test_add_func ("/mailshot/cli/config/detect-mx", test_config_detect_mx);
  g_test_add_func ("/mailshot/cli/config/detect-errors", test_config_detect_errors);
  g_test_add_func ("/mailshot/cli/password/set", test_password_set);
  g_test_add_func ("/mailshot/cli/password/clear", test_password_clear);
  g_test_add_func ("/mailshot/cli/password/no-bus", test_password_no_bus);
  g_test_add_func ("/mailshot/cli/password/tty", test_password_tty);
  g_test_add_func ("/mailshot/cli/test/check-settings-hints", test_check_settings_hints);
  g_test_add_func ("/mailshot/cli/test/keyring-errors", test_test_keyring_errors);
  g_test_add_func ("/mailshot/cli/account/load-config", test_account_load_config);
  g_test_add_func ("/mailshot/cli/version", test_version);
  g_test_add_func ("/mailshot/cli/blast/report-left-out", test_blast_report_left_out);
  g_test_add_func ("/mailshot/cli/pending/advice", test_pending_advice);
  g_test_add_func ("/mailshot/cli/leak/no-password", test_no_password_leak);
  g_test_add_func ("/mailshot/cli/journal/full-disk", test_journal_full_disk);
  g_test_add_func ("/mailshot/cli/journal/full-disk/subprocess", test_journal_full_disk_subprocess);
  g_test_add_func ("/mailshot/cli/journal/read-only", test_journal_read_only);
  g_test_add_func ("/mailshot/cli/journal/read-only/subprocess", test_journal_read_only_subprocess);
  g_test_add_func ("/mailshot/cli/blast/progress-while-importing", test_blast_progress_while_importing);
  g_test_add_func ("/mailshot/cli/blast/resume-progress", test_blast_resume_progress);
  g_test_add_func ("/mailshot/cli/blast/status-while-importing", test_blast_status_while_importing);

  status = g_test_run ();
  g_string_free (all_output, TRUE);
  return status;
}
