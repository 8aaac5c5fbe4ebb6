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
  g_autofree char *where = g_strdup_printf ("%" G_GINT64_FORMAT ":%u", row->batch, row->line);
  g_autofree char *advice = NULL;

  if (p->n++ == 0)
    g_print ("%-8s %-11s %-10s %-8s %-32s %s\n", _("ROW"), _("BATCH:LINE"), _("STATE"), _("ATTEMPTS"),
             _("ADDRESS"), _("REPLY"));
  g_string_append_printf (line, "%-8" G_GINT64_FORMAT " %-11s %-10s %-8u %-32s ", row->id, where,
                          ms_recipient_state_to_string (row->state), row->attempts, row->address);
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
  /* The journal's advice, as the Pending page shows it. */
  advice = ms_journal_row_dup_advice (row);
  if (advice != NULL && *advice != '\0')
    g_print ("         %s\n", advice);
  g_string_free (line, TRUE);
  return TRUE;
}

/* A row as the user names it: its ROW number, or BATCH:LINE, the line of
 * their own CSV file it came from. */
static gboolean
parse_row_ref (const char *text,
               gint64     *row,
               gint64     *batch,
               guint      *line)
{
  g_auto(GStrv) parts = NULL;
  guint64 value;

  *row = *batch = 0;
  *line = 0;
  if (text == NULL)
    return FALSE;
  if (strchr (text, ':') == NULL)
    return ms_cli_parse_id (text, row);
  parts = g_strsplit (text, ":", -1);
  if (g_strv_length (parts) != 2 || !ms_cli_parse_id (parts[0], batch) ||
      !g_ascii_string_to_unsigned (parts[1], 10, 1, G_MAXUINT, &value, NULL))
    return FALSE;
  *line = (guint) value;
  return TRUE;
}

static gint64
resolve_row_ref (MsJournal   *journal,
                 const char  *text,
                 GError     **error)
{
  gint64 row, batch;
  guint line;

  parse_row_ref (text, &row, &batch, &line);
  if (row > 0)
    return row;
  return ms_journal_find_row (journal, batch, line, error);
}

/* What --retry, --skip and --mark-sent asked for, in order. --retry and
 * --skip without a row act on every row --state (and --batch) select. */
typedef enum { ACTION_RETRY, ACTION_SKIP, ACTION_MARK_SENT } ActionKind;

typedef struct {
  ActionKind  kind;
  char       *ref;    /* NULL: the rows --state selects */
} Action;

static void
action_free (gpointer data)
{
  Action *a = data;

  g_free (a->ref);
  g_free (a);
}

static const char *
action_option (ActionKind kind)
{
  switch (kind)
    {
    case ACTION_RETRY: return "--retry";
    case ACTION_SKIP: return "--skip";
    case ACTION_MARK_SENT:
    default: return "--mark-sent";
    }
}

static gboolean
on_action_option (const char  *option_name,
                  const char  *value,
                  gpointer     data,
                  GError     **error)
{
  GPtrArray *actions = data;
  Action *a = g_new0 (Action, 1);
  gint64 row, batch;
  guint line;

  if (strcmp (option_name, "--retry") == 0)
    a->kind = ACTION_RETRY;
  else if (strcmp (option_name, "--skip") == 0)
    a->kind = ACTION_SKIP;
  else
    a->kind = ACTION_MARK_SENT;
  if (value != NULL && !parse_row_ref (value, &row, &batch, &line))
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   _("%s: “%s” is not a row: give its ROW number (such as 1207) or its BATCH:LINE "
                     "(such as 3:17), as “mailshot-cli pending” lists them"), option_name, value);
      action_free (a);
      return FALSE;
    }
  a->ref = g_strdup (value);
  g_ptr_array_add (actions, a);
  return TRUE;
}

static gboolean
apply_one (MsJournal   *journal,
           ActionKind   kind,
           gint64       row,
           GError     **error)
{
  switch (kind)
    {
    case ACTION_RETRY: return ms_journal_retry_row (journal, row, error);
    case ACTION_SKIP: return ms_journal_skip_row (journal, row, error);
    case ACTION_MARK_SENT:
    default: return ms_journal_mark_sent (journal, row, error);
    }
}

static void
print_done (ActionKind  kind,
            const char *ref)
{
  switch (kind)
    {
    case ACTION_RETRY:
      g_print (_("Row %s is queued again; “mailshot-cli blast resume” sends it.\n"), ref);
      break;
    case ACTION_SKIP:
      g_print (_("Row %s is skipped: it will not be sent.\n"), ref);
      break;
    case ACTION_MARK_SENT:
    default:
      g_print (_("Row %s is marked as sent: it will not be sent again.\n"), ref);
      break;
    }
}

static int
apply_actions (MsJournal              *journal,
               GPtrArray              *actions,
               gint64                  batch,
               const MsRecipientState *states,
               guint                   n_states)
{
  for (guint i = 0; i < actions->len; i++)
    {
      Action *a = g_ptr_array_index (actions, i);
      const char *option = action_option (a->kind);
      g_autoptr(GError) error = NULL;

      if (a->ref != NULL)
        {
          gint64 row = resolve_row_ref (journal, a->ref, &error);

          if (row <= 0 || !apply_one (journal, a->kind, row, &error))
            return ms_cli_fail (g_error_matches (error, MS_ERROR, MS_ERROR_NOT_FOUND) ? MS_CLI_USAGE : MS_CLI_FAILED,
                                "%s %s: %s", option, a->ref, error->message);
          print_done (a->kind, a->ref);
        }
      else
        {
          g_autoptr(GPtrArray) rows = ms_journal_list_rows (journal, batch, states, n_states, &error);
          g_autofree char *count = NULL;

          if (rows == NULL)
            return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
          for (guint j = 0; j < rows->len; j++)
            {
              const MsJournalRow *row = g_ptr_array_index (rows, j);

              if (!apply_one (journal, a->kind, row->id, &error))
                {
                  g_autofree char *ref = g_strdup_printf ("%" G_GINT64_FORMAT, row->id);

                  return ms_cli_fail (MS_CLI_FAILED, "%s: row %s: %s", option, ref, error->message);
                }
            }
          count = g_strdup_printf ("%u", rows->len);
          if (a->kind == ACTION_RETRY)
            g_print (g_dngettext (GETTEXT_PACKAGE, "%s row is queued again; “mailshot-cli blast resume” sends it.\n",
                                  "%s rows are queued again; “mailshot-cli blast resume” sends them.\n", rows->len),
                     count);
          else
            g_print (g_dngettext (GETTEXT_PACKAGE, "%s row is skipped: it will not be sent.\n",
                                  "%s rows are skipped: they will not be sent.\n", rows->len), count);
        }
    }
  return MS_CLI_OK;
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
  g_autoptr(GPtrArray) actions = g_ptr_array_new_with_free_func (action_free);
  g_auto(GStrv) state_args = NULL;
  g_autofree char *batch_arg = NULL;
  GOptionGroup *group;
  PendingPrint print = { 0 };
  gint64 batch = 0;
  gboolean bulk = FALSE;
  const GOptionEntry entries[] = {
    { "state", 0, 0, G_OPTION_ARG_STRING_ARRAY, &state_args, N_("Only rows in STATE (queued, sending, deferred, failed, uncertain, …); repeatable"), N_("STATE") },
    { "batch", 0, 0, G_OPTION_ARG_STRING, &batch_arg, N_("Only rows of batch ID"), N_("ID") },
    { "retry", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, on_action_option,
      N_("Queue row ROW (or BATCH:LINE) again (“blast resume” sends it); without a row, every row --state selects; repeatable"), N_("[ROW]") },
    { "skip", 0, G_OPTION_FLAG_OPTIONAL_ARG, G_OPTION_ARG_CALLBACK, on_action_option,
      N_("Leave row ROW (or BATCH:LINE) out for good; without a row, every row --state selects; repeatable"), N_("[ROW]") },
    { "mark-sent", 0, 0, G_OPTION_ARG_CALLBACK, on_action_option,
      N_("Mark the uncertain row ROW (or BATCH:LINE) as sent: you know it arrived; repeatable"), N_("ROW") },
    { NULL }
  };

  gboolean ok;

  context = g_option_context_new (NULL);
  g_option_context_set_summary (context, _("List the e-mails that have not gone out, with the server’s last reply "
                                           "and what to do about it; or decide about them with --retry, --skip "
                                           "and --mark-sent."));
  g_option_context_set_description (context,
    _("Without --state, the list holds the rows that are queued, being sent, deferred (a temporary refusal: "
      "they are tried again later by themselves), failed (refused for good, or given up after a day of "
      "trying) and uncertain (the connection ended after the message went out: it may have been delivered). "
      "Each row starts with its ROW number, then BATCH:LINE, the batch and the line of your CSV file it "
      "came from; --retry, --skip and --mark-sent take either.\n"
      "\n"
      "Examples:\n"
      "  mailshot-cli pending\n"
      "  mailshot-cli pending --batch 3 --state failed\n"
      "  mailshot-cli pending --state uncertain\n"
      "  mailshot-cli pending --retry 1207 && mailshot-cli blast resume 3\n"
      "  mailshot-cli pending --retry 3:17     # line 17 of batch 3’s list\n"
      "  mailshot-cli pending --retry --state deferred --batch 3\n"
      "  mailshot-cli pending --skip 1208\n"
      "  mailshot-cli pending --mark-sent 3:40  # uncertain, but you know it arrived\n"
      "\n"
      "Exit status: 0 success, 1 the journal could not be read, 2 bad usage or an unknown batch or row."));
  group = g_option_group_new ("pending", NULL, NULL, actions, NULL);
  g_option_group_add_entries (group, entries);
  g_option_group_set_translation_domain (group, GETTEXT_PACKAGE);
  g_option_context_set_main_group (context, group);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  /* The usage line of --help names the command. */
  g_set_prgname ("mailshot-cli pending");
  ok = g_option_context_parse (context, &argc, &argv, &error);
  g_set_prgname (ctx->prgname);
  if (!ok)
    return ms_cli_fail (MS_CLI_USAGE, "pending: %s", error->message);
  if (argc > 1)
    return ms_cli_fail (MS_CLI_USAGE, _("pending: unexpected argument “%s”"), argv[1]);
  if (batch_arg != NULL && !ms_cli_parse_id (batch_arg, &batch))
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
  for (guint i = 0; i < actions->len; i++)
    {
      Action *a = g_ptr_array_index (actions, i);

      if (a->ref == NULL)
        bulk = TRUE;
      if (a->ref == NULL && states->len == 0)
        return ms_cli_fail (MS_CLI_USAGE, _("%s without a row needs --state, to say which rows: for example "
                                            "“mailshot-cli pending %s --state deferred”"),
                            action_option (a->kind), action_option (a->kind));
    }
  /* Sent and sending rows are refused one by one anyway; asking for all of
   * them is a mistake to point out before anything changes. */
  for (guint i = 0; bulk && i < states->len; i++)
    {
      MsRecipientState state = g_array_index (states, MsRecipientState, i);

      if (state == MS_STATE_SENT || state == MS_STATE_SENDING)
        return ms_cli_fail (MS_CLI_USAGE, _("--state %s: sent messages are never sent again, and those being "
                                            "sent cannot be changed; choose other states"),
                            ms_recipient_state_to_string (state));
    }

  /* --retry, --skip and --mark-sent change rows: they need a journal that can be written. */
  if (actions->len > 0)
    journal = ms_journal_open (NULL, &error);
  else
    journal = ms_journal_open_for_reading (NULL, &error);
  if (journal == NULL)
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  /* Listing works on a full disk and on a read-only journal too. */
  ms_cli_note_read_only (journal);

  if (batch > 0)
    {
      g_autoptr(MsBatchInfo) info = ms_journal_get_batch_info (journal, batch, &error);

      if (info == NULL)
        return ms_cli_fail (g_error_matches (error, MS_ERROR, MS_ERROR_NOT_FOUND) ? MS_CLI_USAGE : MS_CLI_FAILED,
                            "--batch: %s", error->message);
    }

  if (actions->len > 0)
    return apply_actions (journal, actions, batch, (const MsRecipientState *) states->data, states->len);

  if (states->len == 0)
    g_array_append_vals (states, default_states, G_N_ELEMENTS (default_states));
  if (!ms_journal_foreach_row (journal, batch, (const MsRecipientState *) states->data, states->len, print_row,
                               &print, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  if (print.n == 0)
    g_printerr ("%s\n", _("No pending e-mails."));
  return MS_CLI_OK;
}
