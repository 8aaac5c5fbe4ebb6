/* ms-cli-test.c: `mailshot-cli test`, the staged test e-mail on the command line
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>

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
  g_auto(GStrv) hints = NULL;
  gboolean transcript = FALSE;
  TestRun run = { 0 };
  const MsReply *reply;
  guint sigint_id;
  const GOptionEntry entries[] = {
    { "to", 0, 0, G_OPTION_ARG_STRING, &to, N_("Send the test message to ADDR (default: the account’s own address)"), N_("ADDR") },
    { "transcript", 0, 0, G_OPTION_ARG_NONE, &transcript, N_("Print the SMTP dialog, with secrets blanked"), NULL },
    { NULL }
  };

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("Send a test e-mail, step by step, and explain a failure."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_set_help_enabled (context, TRUE);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ms_cli_fail (MS_CLI_USAGE, "test: %s", error->message);
  if (argc > 1)
    return ms_cli_fail (MS_CLI_USAGE, _("test: unexpected argument “%s”"), argv[1]);

  account = ms_account_new (ctx->account, &error);
  if (account == NULL)
    return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);
  if (!ms_account_is_configured (account))
    return ms_cli_fail (MS_CLI_USAGE,
                        _("account “%s” has no SMTP server or e-mail address: set them with "
                          "“mailshot-cli config set smtp-server HOST” and “mailshot-cli config set email-address ADDR”"),
                        ms_account_get_name (account));
  if (to != NULL && !ms_recipients_address_is_valid (to))
    return ms_cli_fail (MS_CLI_USAGE, _("--to: “%s” is not a valid e-mail address"), to);

  config = ms_account_make_smtp_config (account, NULL);
  if (config->needs_auth)
    {
      g_autoptr(GError) secret_error = NULL;
      char *password = ms_secret_lookup_sync (ms_account_get_name (account), config->server,
                                              config->user, NULL, &secret_error);

      if (password == NULL)
        return ms_cli_fail (MS_CLI_FAILED, "%s", secret_error->message);
      config->password = g_strdup (password);
      ms_secret_free (password);
    }

  hints = ms_provider_get_hints (config->server, config->port, config->use_smtps);
  for (guint i = 0; hints != NULL && hints[i] != NULL; i++)
    g_print (_("Hint: %s\n"), hints[i]);

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
  if (ms_probe_get_starttls_offered (probe))
    g_settings_set_boolean (ms_account_get_settings (account), "starttls-seen", TRUE);
  reply = ms_probe_get_reply (probe);
  if (reply != NULL && reply->klass == MS_REPLY_CLASS_RATE_LIMITED && reply->until > 0)
    ms_account_set_rate_limited_until (account, reply->until);

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
      g_print (_("The test message was sent to %s.\n"), to != NULL ? to : ms_account_get_email_address (account));
      return MS_CLI_OK;
    }

  if (g_error_matches (run.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_clear_error (&run.error);
      return ms_cli_fail (MS_CLI_FAILED, _("The test was cancelled."));
    }

  {
    MsProbeStep failed = ms_probe_get_failed_step (probe);

    if (failed < MS_PROBE_N_STEPS)
      g_printerr (_("Failed at step: %s\n"), ms_probe_step_get_label (failed));
    if (reply != NULL && reply->code > 0)
      g_printerr (_("Server reply: %d %s%s%s\n"), reply->code,
                  reply->enhanced != NULL ? reply->enhanced : "",
                  reply->enhanced != NULL ? " " : "",
                  reply->text != NULL ? reply->text : "");
    else if (reply != NULL && reply->text != NULL && *reply->text != '\0')
      g_printerr (_("Problem: %s\n"), reply->text);
    if (reply != NULL && reply->advice != NULL)
      g_printerr (_("What to change: %s\n"), reply->advice);
    else if (run.error != NULL)
      g_printerr (_("What to change: %s\n"), run.error->message);
  }
  g_clear_error (&run.error);
  return MS_CLI_FAILED;
}
