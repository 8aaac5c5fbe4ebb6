/* ms-cli-pending.c: mailshot-cli pending, the e-mails that have not gone out
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-cli.h"

/* Everything that has not gone out, and may still need the user. */
static const MsRecipientState default_states[] = {
  MS_STATE_QUEUED, MS_STATE_SENDING, MS_STATE_DEFERRED, MS_STATE_FAILED, MS_STATE_UNCERTAIN,
};

typedef struct {
  guint n;
} PendingPrint;

static gboolean
print_row (const MsJournalRow *row,
           gpointer            user_data)
{
  PendingPrint *p = user_data;
  GString *line = g_string_new (NULL);

  if (p->n++ == 0)
    g_print ("%-8s %-6s %-10s %-8s %-32s %s\n", _("ROW"), _("BATCH"), _("STATE"), _("ATTEMPTS"), _("ADDRESS"),
             _("REPLY"));
  g_string_append_printf (line, "%-8" G_GINT64_FORMAT " %-6" G_GINT64_FORMAT " %-10s %-8u %-32s ", row->id,
                          row->batch, ms_recipient_state_to_string (row->state), row->attempts, row->address);
  if (row->reply_code > 0)
    g_string_append_printf (line, "%d ", row->reply_code);
  if (row->reply_text != NULL)
    g_string_append (line, row->reply_text);
  if (row->state == MS_STATE_DEFERRED && row->next_due > 0)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (row->next_due);
      g_autofree char *when = dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S") : NULL;

      if (when != NULL)
        g_string_append_printf (line, _(" (next try %s)"), when);
    }
  g_print ("%s\n", line->str);
  if (row->advice != NULL && *row->advice != '\0')
    g_print ("         %s\n", row->advice);
  else if (row->state == MS_STATE_UNCERTAIN)
    g_print ("         %s\n", _("The connection ended after the message was sent: it may have been delivered. "
                                  "Retry it only if the recipient did not get it."));
  g_string_free (line, TRUE);
  return TRUE;
}

/* Listing works on a full disk and on a read-only journal too: it says
 * that the journal is shown as saved. */
static void
note_read_only (MsJournal *journal)
{
  g_autofree char *reason = ms_journal_dup_read_only_reason (journal);

  if (reason != NULL)
    g_printerr (_("mailshot-cli: note: the journal at %s cannot be written (%s); it is shown as it was last "
                  "saved, and commands that change it will fail until that is fixed.\n"),
                ms_journal_get_path (journal), reason);
}

static gboolean
parse_id (const char *text,
          gint64     *id)
{
  guint64 value;

  if (text == NULL || !g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &value, NULL))
    return FALSE;
  *id = (gint64) value;
  return TRUE;
}

int
ms_cli_pending (const MsCliContext *ctx,
                int                 argc,
                char              **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GArray) states = g_array_new (FALSE, FALSE, sizeof (MsRecipientState));
  g_auto(GStrv) state_args = NULL;
  g_auto(GStrv) retry_args = NULL;
  g_auto(GStrv) skip_args = NULL;
  g_autofree char *batch_arg = NULL;
  PendingPrint print = { 0 };
  gint64 batch = 0;
  const GOptionEntry entries[] = {
    { "state", 0, 0, G_OPTION_ARG_STRING_ARRAY, &state_args, N_("Only rows in STATE (queued, sending, deferred, failed, uncertain, …); repeatable"), N_("STATE") },
    { "batch", 0, 0, G_OPTION_ARG_STRING, &batch_arg, N_("Only rows of batch ID"), N_("ID") },
    { "retry", 0, 0, G_OPTION_ARG_STRING_ARRAY, &retry_args, N_("Queue row ROW again (“blast resume” sends it); repeatable"), N_("ROW") },
    { "skip", 0, 0, G_OPTION_ARG_STRING_ARRAY, &skip_args, N_("Leave row ROW out for good; repeatable"), N_("ROW") },
    { NULL }
  };

  gboolean ok;

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("List the e-mails that have not gone out, with the server’s last reply "
                                           "and what to do about it; or decide about single rows with --retry "
                                           "and --skip."));
  g_option_context_set_description (context,
    _("Without --state, the list holds the rows that are queued, being sent, deferred (a temporary refusal: "
      "they are tried again later by themselves), failed (refused for good, or given up after a day of "
      "trying) and uncertain (the connection ended after the message went out: it may have been delivered). "
      "Each row starts with its ROW number, which --retry and --skip take.\n"
      "\n"
      "Examples:\n"
      "  mailshot-cli pending\n"
      "  mailshot-cli pending --batch 3 --state failed\n"
      "  mailshot-cli pending --state uncertain\n"
      "  mailshot-cli pending --retry 1207 && mailshot-cli blast resume 3\n"
      "  mailshot-cli pending --skip 1208\n"
      "\n"
      "Exit status: 0 success, 1 the journal could not be read, 2 bad usage or an unknown batch or row."));
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  /* The usage line of --help names the command. */
  g_set_prgname ("mailshot-cli pending");
  ok = g_option_context_parse (context, &argc, &argv, &error);
  g_set_prgname (ctx->prgname);
  if (!ok)
    return ms_cli_fail (MS_CLI_USAGE, "pending: %s", error->message);
  if (argc > 1)
    return ms_cli_fail (MS_CLI_USAGE, _("pending: unexpected argument “%s”"), argv[1]);
  if (batch_arg != NULL && !parse_id (batch_arg, &batch))
    return ms_cli_fail (MS_CLI_USAGE, _("--batch: “%s” is not a batch ID (see “mailshot-cli blast list”)"),
                        batch_arg);
  for (guint i = 0; state_args != NULL && state_args[i] != NULL; i++)
    {
      MsRecipientState state;

      if (!ms_recipient_state_from_string (state_args[i], &state))
        return ms_cli_fail (MS_CLI_USAGE, _("--state: “%s” is not a state; use queued, sending, sent, deferred, "
                                            "failed, uncertain, cancelled or skipped"), state_args[i]);
      g_array_append_val (states, state);
    }
  for (guint i = 0; retry_args != NULL && retry_args[i] != NULL; i++)
    {
      gint64 row;
      if (!parse_id (retry_args[i], &row))
        return ms_cli_fail (MS_CLI_USAGE, _("--retry: “%s” is not a row number (the ROW column)"), retry_args[i]);
    }
  for (guint i = 0; skip_args != NULL && skip_args[i] != NULL; i++)
    {
      gint64 row;
      if (!parse_id (skip_args[i], &row))
        return ms_cli_fail (MS_CLI_USAGE, _("--skip: “%s” is not a row number (the ROW column)"), skip_args[i]);
    }

  /* --retry and --skip change rows: they need a journal that can be written. */
  if (retry_args != NULL || skip_args != NULL)
    journal = ms_journal_open (NULL, &error);
  else
    journal = ms_journal_open_for_reading (NULL, &error);
  if (journal == NULL)
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  note_read_only (journal);

  if (retry_args != NULL || skip_args != NULL)
    {
      for (guint i = 0; retry_args != NULL && retry_args[i] != NULL; i++)
        {
          gint64 row = 0;

          parse_id (retry_args[i], &row);
          if (!ms_journal_retry_row (journal, row, &error))
            return ms_cli_fail (g_error_matches (error, MS_ERROR, MS_ERROR_NOT_FOUND) ? MS_CLI_USAGE : MS_CLI_FAILED,
                                "--retry %s: %s", retry_args[i], error->message);
          {
            g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, row);

            g_print (_("Row %s is queued again; “mailshot-cli blast resume” sends it.\n"), id);
          }
        }
      for (guint i = 0; skip_args != NULL && skip_args[i] != NULL; i++)
        {
          gint64 row = 0;

          parse_id (skip_args[i], &row);
          if (!ms_journal_skip_row (journal, row, &error))
            return ms_cli_fail (g_error_matches (error, MS_ERROR, MS_ERROR_NOT_FOUND) ? MS_CLI_USAGE : MS_CLI_FAILED,
                                "--skip %s: %s", skip_args[i], error->message);
          {
            g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, row);

            g_print (_("Row %s is skipped: it will not be sent.\n"), id);
          }
        }
      return MS_CLI_OK;
    }

  if (batch > 0)
    {
      g_autoptr(MsBatchInfo) info = ms_journal_get_batch_info (journal, batch, &error);

      if (info == NULL)
        return ms_cli_fail (g_error_matches (error, MS_ERROR, MS_ERROR_NOT_FOUND) ? MS_CLI_USAGE : MS_CLI_FAILED,
                            "--batch: %s", error->message);
    }

  if (states->len == 0)
    g_array_append_vals (states, default_states, G_N_ELEMENTS (default_states));
  if (!ms_journal_foreach_row (journal, batch, (const MsRecipientState *) states->data, states->len, print_row,
                               &print, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  if (print.n == 0)
    g_printerr ("%s\n", _("No pending e-mails."));
  return MS_CLI_OK;
}
