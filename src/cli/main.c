/* main.c: mailshot-cli, the command-line front end
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-cli.h"

static const struct {
  const char *name;
  int (*func) (const MsCliContext *ctx, int argc, char **argv);
  const char *summary;
} commands[] = {
  { "config",   ms_cli_config,   N_("Show or change the account: list | get KEY | set KEY VALUE | reset KEY | detect ADDRESS [--apply]") },
  { "password", ms_cli_password, N_("Store the password in the keyring (set, read from standard input) or remove it (clear)") },
  { "oauth2",   ms_cli_oauth2,   N_("Sign in with OAuth2 in a web browser (sign-in), forget the sign-in (sign-out), or use GNOME Online Accounts (goa)") },
  { "test",     ms_cli_test,     N_("Send a test e-mail step by step: [--to ADDR] [--transcript]") },
  { "blast",    ms_cli_blast,    N_("Send or manage e-blasts: send | list | status ID | resume ID | cancel ID | report ID [--csv]") },
  { "pending",  ms_cli_pending,  N_("List e-mails that have not gone out: [--state STATE]... [--batch ID]") },
};

int
ms_cli_fail (int         code,
             const char *format,
             ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("mailshot-cli: %s\n", message);
  return code;
}

gboolean
ms_cli_parse_id (const char *text,
                 gint64     *id)
{
  guint64 value;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &value, NULL))
    return FALSE;
  *id = (gint64) value;
  return TRUE;
}

void
ms_cli_note_read_only (MsJournal *journal)
{
  g_autofree char *reason = ms_journal_dup_read_only_reason (journal);

  if (reason != NULL)
    g_printerr (_("mailshot-cli: note: the journal at %s cannot be written (%s); it is shown as it was last "
                  "saved, and commands that change it will fail until that is fixed.\n"),
                ms_journal_get_path (journal), reason);
}

static char *
describe_commands (void)
{
  GString *s = g_string_new (_("Commands:"));

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    g_string_append_printf (s, "\n  %-9s %s", commands[i].name, _(commands[i].summary));
  g_string_append (s, "\n\n");
  g_string_append (s, _("Run “mailshot-cli COMMAND --help” for the arguments of a command."));
  g_string_append (s, "\n");
  g_string_append (s, _("Exit status: 0 success, 1 the job failed, 2 bad usage or bad input."));
  return g_string_free (s, FALSE);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *account = NULL;
  g_autofree char *description = NULL;
  MsCliContext ctx = { 0 };
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "account", 'a', 0, G_OPTION_ARG_STRING, &account, N_("The account to use (default: “default”)"), N_("NAME") },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Print the version and exit"), NULL },
    { NULL }
  };

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);
  g_set_prgname ("mailshot-cli");
  /* Standard output is for results scripts read (a batch ID, a value):
   * debug and info messages go to standard error. */
  g_log_writer_default_set_use_stderr (TRUE);
  ms_core_init ();

  context = g_option_context_new (_("COMMAND [ARGUMENT…]"));
  g_option_context_set_summary (context, _("Send your organisation’s mail through its SMTP account."));
  description = describe_commands ();
  g_option_context_set_description (context, description);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  /* Options after the command belong to the command. */
  g_option_context_set_strict_posix (context, TRUE);

  if (!g_option_context_parse (context, &argc, &argv, &error))
    return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);

  if (version)
    {
      g_print ("mailshot-cli %s\n", PACKAGE_VERSION);
      return MS_CLI_OK;
    }

  if (argc < 2)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
      g_printerr ("%s", help);
      return MS_CLI_USAGE;
    }

  ctx.account = account != NULL ? account : "default";
  ctx.prgname = "mailshot-cli";

  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (strcmp (argv[1], commands[i].name) == 0)
      return commands[i].func (&ctx, argc - 1, argv + 1);

  return ms_cli_fail (MS_CLI_USAGE, _("unknown command “%s”; see “mailshot-cli --help”"), argv[1]);
}
