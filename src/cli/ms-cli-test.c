/* ms-cli-test.c: `mailshot-cli test`, the staged test e-mail on the command line
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-cli.h"

typedef struct
{
  GMainLoop    *loop;
  gboolean      ok;
  GError       *error;
  gboolean      utf8;
  MsProbeState  printed[MS_PROBE_N_STEPS];   /* PENDING = not printed yet */
} TestRun;

static const char *
state_mark (TestRun      *run,
            MsProbeState  state)
{
  switch (state)
    {
    case MS_PROBE_STATE_PASSED:  return run->utf8 ? "✓" : "ok";
    case MS_PROBE_STATE_FAILED:  return run->utf8 ? "✗" : "FAILED";
    case MS_PROBE_STATE_SKIPPED: return run->utf8 ? "–" : "skip";
    case MS_PROBE_STATE_PENDING:
    case MS_PROBE_STATE_RUNNING:
    default:                     return "";
    }
}

/* One line per step as it settles: the user sees where it stands even when a
 * server stalls for the whole timeout. */
static void
on_step_changed (MsProbe      *probe,
                 MsProbeStep   step,
                 MsProbeState  state,
                 const char   *detail,
                 gpointer      user_data)
{
  TestRun *run = user_data;

  if (state == MS_PROBE_STATE_PENDING || state == MS_PROBE_STATE_RUNNING ||
      run->printed[step] == state)
    return;
  run->printed[step] = state;
  if (state == MS_PROBE_STATE_FAILED)
    g_print ("  %s %s\n", state_mark (run, state), ms_probe_step_get_label (step));
  else if (detail != NULL && *detail != '\0')
    g_print ("  %s %s: %s\n", state_mark (run, state), ms_probe_step_get_label (step), detail);
  else
    g_print ("  %s %s\n", state_mark (run, state), ms_probe_step_get_label (step));
  fflush (stdout);
}

static void
on_probe_done (GObject      *object,
               GAsyncResult *result,
               gpointer      user_data)
{
  TestRun *run = user_data;

  run->ok = ms_probe_run_finish (MS_PROBE (object), result, &run->error);
  g_main_loop_quit (run->loop);
}

/* The advice names settings as the settings page shows them (“Use SMTPS”):
 * tell a command-line user which key each one is and how to change it. */
static void
print_keys_named (const MsCliContext *ctx,
                  const char         *text,
                  gboolean            password,
                  gboolean            to_stderr)
{
  void (*print) (const char *format, ...) = to_stderr ? g_printerr : g_print;

  g_auto(GStrv) keys = ms_account_list_keys ();
  g_autofree char *prefix = NULL;

  if (strcmp (ctx->account, MS_ACCOUNT_DEFAULT) == 0)
    prefix = g_strdup ("mailshot-cli");
  else
    prefix = g_strdup_printf ("mailshot-cli --account %s", ctx->account);

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *quoted = g_strdup_printf ("“%s”", ms_account_get_key_label (keys[i]));

      if (strstr (text, quoted) != NULL)
        /* TRANSLATORS: “Use SMTPS” is the key use-smtps: mailshot-cli config set use-smtps VALUE */
        print (_("  %s is the key %s: %s config set %s VALUE\n"), quoted, keys[i], prefix, keys[i]);
    }
  if (password)
    print (_("  The password: %s password set\n"), prefix);
}

static gboolean
on_sigint (gpointer user_data)
{
  g_cancellable_cancel (user_data);
  return G_SOURCE_CONTINUE;
}

int
ms_cli_test (const MsCliContext  *ctx,
             int                  argc,
             char               **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsAccount) account = NULL;
  g_autoptr(MsSmtpConfig) config = NULL;
  g_autoptr(MsProbe) probe = NULL;
  g_autoptr(GCancellable) cancellable = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  g_autofree char *to = NULL;
  gboolean transcript = FALSE;
  gboolean check_only = FALSE;
  TestRun run = { 0 };
  const MsReply *reply;
  guint sigint_id;
  gboolean ok;
  const GOptionEntry entries[] = {
    { "to", 0, 0, G_OPTION_ARG_STRING, &to, N_("Send the test message to ADDR (default: the account’s own address)"), N_("ADDR") },
    { "transcript", 0, 0, G_OPTION_ARG_NONE, &transcript, N_("Print the SMTP dialog, with secrets blanked"), NULL },
    { "check-settings", 0, 0, G_OPTION_ARG_NONE, &check_only,
      N_("Only check the settings and the stored password and show the provider hints; connect to nothing, send nothing"), NULL },
    { NULL }
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context,
                                _("Send a test e-mail, step by step: find the server, connect, encrypt, "
                                  "greet, sign in, give sender and recipient, send. Each step is printed "
                                  "as it passes; on a failure the step, the server’s reply and what to "
                                  "change go to standard error."));
  g_option_context_set_description (context,
                                    _("Exit status: 0 the server accepted the message, 1 a step failed, "
                                      "2 bad usage or an incomplete account."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_help_enabled (context, TRUE);
  /* The usage line of --help names the command: "mailshot-cli test [OPTION…]". */
  g_set_prgname ("mailshot-cli test");
  ok = g_option_context_parse (context, &argc, &argv, &error);
  g_set_prgname (ctx->prgname);
  if (!ok)
    return ms_cli_fail (MS_CLI_USAGE, "test: %s", error->message);
  if (argc > 1)
    return ms_cli_fail (MS_CLI_USAGE, _("test: unexpected argument “%s”"), argv[1]);

  account = ms_account_new (ctx->account, &error);
  if (account == NULL)
    return ms_cli_fail (ms_account_name_is_valid (ctx->account) ? MS_CLI_FAILED : MS_CLI_USAGE,
                        "%s", error->message);
  if (!ms_account_is_configured (account))
    return ms_cli_fail (MS_CLI_USAGE,
                        _("account “%s” has no SMTP server or e-mail address: set them with "
                          "“mailshot-cli config set smtp-server HOST” and “mailshot-cli config set email-address ADDR”"),
                        ms_account_get_name (account));
  if (to != NULL && !ms_recipients_address_is_valid (to))
    return ms_cli_fail (MS_CLI_USAGE, _("--to: “%s” is not a valid e-mail address"), to);

  /* With OAuth2 the user is the e-mail address unless a user ID is set, as
   * the account's snapshot and sign-in take it (ms_account_make_smtp_config). */
  if (ms_account_get_needs_authentication (account) && *ms_account_get_user_id (account) == '\0' &&
      ms_account_get_auth_method (account) != MS_AUTH_METHOD_OAUTH2)
    return ms_cli_fail (MS_CLI_USAGE,
                        _("account “%s” needs authentication but has no user-id: set it with "
                          "“mailshot-cli config set user-id NAME”, or turn authentication off with "
                          "“mailshot-cli config set needs-authentication false”"),
                        ms_account_get_name (account));

  /* Hints come from the settings alone: they show before anything is
   * looked up or sent, so a wrong port for Gmail is pointed out at once.
   * They are the settings window's notes, each fact once (the general
   * advice gives the daily caps; a limit set too high is then pointed at). */
  {
    MsProviderAccountSettings settings = {
      .server = ms_account_get_smtp_server (account),
      .port = ms_account_get_smtp_port (account),
      .use_smtps = ms_account_get_use_smtps (account),
      .needs_auth = ms_account_get_needs_authentication (account),
      .per_minute = ms_account_get_max_per_minute (account),
      .per_hour = ms_account_get_max_per_hour (account),
      .per_day = ms_account_get_max_per_day (account),
      .connections = ms_account_get_max_connections (account),
      .oauth2 = ms_account_get_auth_method (account) == MS_AUTH_METHOD_OAUTH2,
    };
    g_autoptr(GPtrArray) notes = ms_provider_get_notes (&settings);
    g_autoptr(GString) all = g_string_new (NULL);

    for (guint i = 0; i < notes->len; i++)
      {
        const MsProviderNote *note = g_ptr_array_index (notes, i);

        g_print (_("Hint: %s\n"), note->text);
        g_string_append_printf (all, "%s ", note->text);
      }
    if (notes->len > 0)
      print_keys_named (ctx, all->str, FALSE, FALSE);
  }

  config = ms_account_load_config_sync (account, NULL, &error);
  if (config == NULL && g_error_matches (error, MS_ERROR, MS_ERROR_NO_PASSWORD) &&
      strcmp (ctx->account, MS_ACCOUNT_DEFAULT) != 0)
    return ms_cli_fail (MS_CLI_FAILED,
                        _("No password is stored for account “%s” (user “%s” on %s): "
                          "run “mailshot-cli --account %s password set”."),
                        ctx->account, ms_account_get_user_id (account), ms_account_get_smtp_server (account),
                        ctx->account);
  if (config == NULL)
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);

  if (check_only)
    {
      gint64 until = ms_account_get_rate_limited_until (account);

      if (until > g_get_real_time () / G_USEC_PER_SEC)
        {
          g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (until);
          g_autofree char *text = g_date_time_format (when, "%c");
          g_print (_("The server asked this account to wait until %s (rate-limited-until); e-blasts "
                     "start sending after that.\n"), text);
        }
      if (config->needs_auth)
        g_print (_("The settings are complete and the password for %s is in the keyring. "
                   "Nothing was sent: run “mailshot-cli test” to try them with the server.\n"),
                 config->user);
      else
        g_print (_("The settings are complete (no authentication). "
                   "Nothing was sent: run “mailshot-cli test” to try them with the server.\n"));
      return MS_CLI_OK;
    }

  g_print (_("Testing account “%s”: %s port %d, %s\n"),
           ms_account_get_name (account), config->server, config->port,
           config->use_smtps ? _("SMTPS") : _("STARTTLS when offered"));
  fflush (stdout);

  probe = ms_probe_new (config, to);
  cancellable = g_cancellable_new ();
  loop = g_main_loop_new (NULL, FALSE);
  run.loop = loop;
  run.utf8 = g_get_charset (NULL);
  g_signal_connect (probe, "step-changed", G_CALLBACK (on_step_changed), &run);
  sigint_id = g_unix_signal_add (SIGINT, on_sigint, cancellable);
  ms_probe_run_async (probe, cancellable, on_probe_done, &run);
  g_main_loop_run (loop);
  g_source_remove (sigint_id);

  /* What the server told us is worth keeping for the next session. */
  reply = ms_probe_get_reply (probe);
  ms_account_note_test (account, probe);

  if (transcript)
    {
      g_autofree char *text = ms_transcript_to_string (ms_probe_get_transcript (probe));
      g_print ("\n%s\n", _("SMTP dialog (secrets blanked):"));
      g_print ("%s", text);
      if (text[0] != '\0' && !g_str_has_suffix (text, "\n"))
        g_print ("\n");
    }
  g_settings_sync ();

  if (run.ok)
    {
      g_print (_("The server accepted the test message for %s: check that it arrives.\n"), to != NULL ? to : ms_account_get_email_address (account));
      return MS_CLI_OK;
    }

  if (g_error_matches (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&run.error);
      return ms_cli_fail (MS_CLI_FAILED, _("The test was cancelled."));
    }

  {
    g_autoptr(MsProbeFailure) failure = ms_probe_get_failure (probe, run.error);

    if (failure->step_label != NULL)
      g_printerr (_("Failed at step: %s\n"), failure->step_label);
    if (failure->reply != NULL)
      g_printerr ("%s\n", failure->reply);
    else if (failure->detail != NULL)
      g_printerr (_("Detail: %s\n"), failure->detail);
    if (reply != NULL && reply->klass == MS_REPLY_CLASS_RATE_LIMITED && reply->until > 0)
      {
        g_autoptr(GDateTime) when = g_date_time_new_from_unix_local (reply->until);
        g_autofree char *text = g_date_time_format (when, "%c");

        g_printerr (_("The account now waits until %s (rate-limited-until): e-blasts send nothing "
                      "before then; “mailshot-cli config reset rate-limited-until” clears it.\n"), text);
      }
    if (failure->advice != NULL)
      {
        g_printerr (_("What to change: %s\n"), failure->advice);
        print_keys_named (ctx, failure->advice,
                          /* An OAuth2 account has no password to store: its advice says to sign in again. */
                          reply != NULL && reply->advice != NULL && reply->klass == MS_REPLY_CLASS_AUTH_FAILED &&
                          ms_account_get_auth_method (account) != MS_AUTH_METHOD_OAUTH2,
                          TRUE);
      }
  }
  g_clear_error (&run.error);
  return MS_CLI_FAILED;
}
