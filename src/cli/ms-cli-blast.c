/* ms-cli-blast.c: mailshot-cli blast send|list|status|resume|cancel|report
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gio/gunixoutputstream.h>
#include <glib-unix.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mailshot-core.h"
#include "ms-cli.h"

/* ------------------------------------------------------------------ helpers */

static char *
format_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = NULL;

  if (unix_seconds <= 0)
    return g_strdup ("");
  dt = g_date_time_new_from_unix_local (unix_seconds);
  return dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S") : g_strdup ("");
}

static char *
format_duration (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup ("?");
  if (seconds >= 3600)
    return g_strdup_printf ("%" G_GINT64_FORMAT ":%02d:%02d", seconds / 3600,
                            (int) (seconds / 60 % 60), (int) (seconds % 60));
  return g_strdup_printf ("%d:%02d", (int) (seconds / 60), (int) (seconds % 60));
}

/* A subject may hold a tab or a line break (the message folds them): the
 * list keeps one batch per line, the fields separated by tabs. */
static char *
one_line (const char *text)
{
  char *copy = g_strdup (text != NULL ? text : "");

  for (char *p = copy; *p; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return copy;
}

/* "5 sent, 2 queued, 1 failed" in state order, leaving out zeros. */
static char *
format_counts (const guint counts[MS_N_STATES])
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < MS_N_STATES; i++)
    if (counts[i] > 0)
      g_string_append_printf (s, "%s%u %s", s->len > 0 ? ", " : "", counts[i],
                              ms_recipient_state_to_string (i));
  if (s->len == 0)
    g_string_append (s, _("no recipients"));
  return g_string_free (s, FALSE);
}

static MsJournal *
open_journal (int *status)
{
  g_autoptr(GError) error = NULL;
  MsJournal *journal = ms_journal_open (NULL, &error);

  if (journal == NULL)
    *status = ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  return journal;
}

/* For the commands that only show the journal: they work on a full disk
 * and on a read-only journal too, and say that it is shown as saved. */
static MsJournal *
open_journal_for_reading (int *status)
{
  g_autoptr(GError) error = NULL;
  MsJournal *journal = ms_journal_open_for_reading (NULL, &error);

  if (journal == NULL)
    {
      *status = ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
      return NULL;
    }
  ms_cli_note_read_only (journal);
  return journal;
}

static MsBatchInfo *
get_batch (MsJournal  *journal,
           const char *arg,
           const char *command,
           int        *status)
{
  g_autoptr(GError) error = NULL;
  MsBatchInfo *info;
  gint64 id;

  if (arg == NULL)
    {
      *status = ms_cli_fail (MS_CLI_USAGE, _("blast %s: give the batch ID (see “mailshot-cli blast list”)"),
                             command);
      return NULL;
    }
  if (!ms_cli_parse_id (arg, &id))
    {
      *status = ms_cli_fail (MS_CLI_USAGE, _("blast %s: “%s” is not a batch ID (a whole number; see "
                                             "“mailshot-cli blast list”)"), command, arg);
      return NULL;
    }
  info = ms_journal_get_batch_info (journal, id, &error);
  if (info == NULL)
    *status = ms_cli_fail (g_error_matches (error, MS_ERROR, MS_ERROR_NOT_FOUND) ? MS_CLI_USAGE : MS_CLI_FAILED,
                           "blast %s: %s", command, error->message);
  return info;
}

/* Parses the options of `blast SUB`. The usage line of --help names the
 * subcommand ("mailshot-cli blast send [OPTION…]"): GOption takes it from the
 * program name. */
static gboolean
parse_options (const char          *sub,
               const char          *parameters,
               const char          *summary,
               const char          *description,
               const GOptionEntry  *entries,
               int                 *argc,
               char              ***argv,
               int                 *status)
{
  g_autoptr(GOptionContext) context = g_option_context_new (parameters);
  g_autoptr(GError) error = NULL;
  g_autofree char *prgname = g_strdup_printf ("mailshot-cli blast %s", sub);
  gboolean ok;

  g_option_context_set_summary (context, summary);
  if (description != NULL)
    g_option_context_set_description (context, description);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_set_prgname (prgname);
  ok = g_option_context_parse (context, argc, argv, &error);
  g_set_prgname ("mailshot-cli");
  if (!ok)
    *status = ms_cli_fail (MS_CLI_USAGE, "blast %s: %s", sub, error->message);
  return ok;
}

/* ------------------------------------------------------------------ running */

typedef struct {
  GMainLoop     *loop;
  MsBlast       *blast;
  MsAccount     *account;
  gint64         batch;
  gboolean       tty;
  guint          sigint_count;
  gboolean       done;
  gboolean       ok;
  GError        *error;
  /* progress printing */
  gint64         last_print;      /* monotonic µs */
  guint          last_printed_done;
  char          *last_status;
  gsize          line_width;
  gboolean       last_printed_importing;
  MsBlastProgress last;
  gboolean       have_last;
} RunState;

static guint
progress_done (const MsBlastProgress *p)
{
  return p->total - p->counts[MS_STATE_QUEUED] - p->counts[MS_STATE_DEFERRED] - p->counts[MS_STATE_SENDING];
}

static char *
format_progress (const MsBlastProgress *p,
                 guint                  list_records)
{
  g_autofree char *eta_text = NULL;
  GString *s = g_string_new (NULL);
  gint64 eta = p->eta;

  if (p->importing)
    {
      /* The rows in so far are not the whole count while the rest of the
       * list goes in: the total is the file's records (from the check
       * before the first row went in), "about" since the rows left out and
       * the duplicates are in it, as the window says it; the exact count
       * once the list is in. The run's time left is of the rows in: this
       * one is of the whole file, at the recent rate. */
      guint total = MAX (p->total, list_records);
      guint done = progress_done (p);

      eta = p->waiting_until == 0 && p->rate > 0.01 && total > done ? (gint64) ((total - done) / p->rate + 0.5) : -1;
      /* Translators: the list is still being read in while it is sent: the second number is an upper bound. */
      g_string_append_printf (s, ngettext ("%u of about %u sent", "%u of about %u sent", total),
                              p->counts[MS_STATE_SENT], total);
    }
  else
    g_string_append_printf (s, _("%u/%u sent"), p->counts[MS_STATE_SENT], p->total);
  eta_text = format_duration (eta);
  if (p->counts[MS_STATE_FAILED] > 0)
    g_string_append_printf (s, _(", %u failed"), p->counts[MS_STATE_FAILED]);
  if (p->counts[MS_STATE_DEFERRED] > 0)
    g_string_append_printf (s, _(", %u deferred"), p->counts[MS_STATE_DEFERRED]);
  if (p->counts[MS_STATE_UNCERTAIN] > 0)
    g_string_append_printf (s, _(", %u uncertain"), p->counts[MS_STATE_UNCERTAIN]);
  g_string_append_printf (s, _(" · %.0f msg/s"), p->rate);
  if (eta > 0)
    g_string_append_printf (s, _(" · ETA %s"), eta_text);
  if (p->status_text != NULL && *p->status_text != '\0' && strcmp (p->status_text, _("Sending")) != 0)
    g_string_append_printf (s, " · %s", p->status_text);
  return g_string_free (s, FALSE);
}

static void
on_progress (const MsBlastProgress *p,
             gpointer               user_data)
{
  RunState *state = user_data;
  g_autofree char *line = format_progress (p, ms_blast_get_list_records (state->blast));
  gint64 now = g_get_monotonic_time ();
  guint done = progress_done (p);

  state->last = *p;
  state->last.status_text = NULL;
  state->have_last = TRUE;

  if (state->tty)
    {
      struct winsize ws = { 0 };
      glong width;

      /* A line longer than the terminal wraps, and "\r" would then rewrite
       * only its last row: cut it to fit. */
      if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10 &&
          g_utf8_strlen (line, -1) > ws.ws_col - 1)
        {
          const char *end = g_utf8_offset_to_pointer (line, ws.ws_col - 2);
          char *cut = g_strdup_printf ("%.*s…", (int) (end - line), line);

          g_free (line);
          line = cut;
        }
      width = g_utf8_strlen (line, -1);

      /* One line, rewritten in place; pad to wipe a longer previous one. */
      g_printerr ("\r%s%*s", line, (int) (state->line_width > (gsize) width ? state->line_width - width : 0), "");
      state->line_width = width;
      return;
    }

  /* Logs and pipes: a line now and then, whenever the status changes, and
   * once the list is all in (the exact total). */
  if (g_strcmp0 (state->last_status, p->status_text) != 0 || !!p->importing != state->last_printed_importing ||
      done >= state->last_printed_done + 1000 ||
      (done != state->last_printed_done && now - state->last_print >= 5 * G_USEC_PER_SEC) ||
      now - state->last_print >= 60 * G_USEC_PER_SEC)
    {
      g_printerr ("%s\n", line);
      state->last_print = now;
      state->last_printed_done = done;
      state->last_printed_importing = !!p->importing;
      g_free (state->last_status);
      state->last_status = g_strdup (p->status_text);
    }
}

static void
on_rate_limited (gint64   until,
                 gpointer user_data)
{
  RunState *state = user_data;

  /* Persisted, so that the GUI, another run and the test see the wait. */
  ms_account_set_rate_limited_until (state->account, until);
}

static void
on_session (gboolean starttls_offered,
            gpointer user_data)
{
  RunState *state = user_data;

  /* Arms the downgrade check for the next session of this account. */
  ms_account_note_session (state->account, starttls_offered, NULL);
}

static gboolean
on_signal (gpointer user_data)
{
  RunState *state = user_data;

  state->sigint_count++;
  if (state->tty)
    g_printerr ("\n");
  if (state->sigint_count == 1)
    {
      g_printerr ("%s\n", _("Pausing: the messages in flight finish first (Ctrl-C again to cut them short)…"));
      ms_blast_pause (state->blast);
    }
  else
    {
      g_printerr ("%s\n", _("Stopping the transfers in flight…"));
      ms_blast_abort (state->blast);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_run_done (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  RunState *state = user_data;

  state->ok = ms_blast_run_finish (MS_BLAST (source), result, &state->error);
  state->done = TRUE;
  g_main_loop_quit (state->loop);
}

/* The account must have a server and an address before anything else is
 * looked at: say which keys to set. Then the snapshot with its password. */
static gboolean
check_configured (MsAccount *account,
                  int       *status)
{
  if (ms_account_is_configured (account))
    return TRUE;
  *status = ms_cli_fail (MS_CLI_USAGE,
                         _("account “%s” has no SMTP server or e-mail address: set them with "
                           "“mailshot-cli config set smtp-server HOST” and “mailshot-cli config set "
                           "email-address ADDR”"),
                         ms_account_get_name (account));
  return FALSE;
}

static MsSmtpConfig *
load_config (MsAccount *account,
             int       *status)
{
  g_autoptr(GError) error = NULL;
  MsSmtpConfig *config;

  if (!check_configured (account, status))
    return NULL;
  config = ms_account_load_config_sync (account, NULL, &error);
  if (config == NULL)
    *status = ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  return config;
}

static int
run_batch (MsAccount          *account,
           const MsSmtpConfig *config,
           MsJournal          *journal,
           gint64              batch,
           MsImportJob        *import,
           int                 connections,
           gboolean            no_wait)
{
  g_autoptr(MsBlast) blast = NULL;
  g_autoptr(GMainLoop) loop = NULL;
  MsPacerLimits limits = { 0 };
  RunState state = { 0 };
  guint sigint_id, sigterm_id;
  guint counts[MS_N_STATES] = { 0 };
  g_autofree char *summary = NULL;
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  int status;

  ms_account_get_pacer_limits (account, &limits);
  if (connections > 0)
    limits.connections = connections;

  /* Per message the job allocates and frees a few KB: keep glibc from
   * giving memory back (a brk syscall) and taking it again every time. */
  mallopt (M_TRIM_THRESHOLD, 64 * 1024 * 1024);
  mallopt (M_TOP_PAD, 4 * 1024 * 1024);
  mallopt (M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  /* One arena besides the main one: each thread (the connections, the
   * claimer, the import that runs beside them) would otherwise keep its own
   * high-water mark of freed memory, about 3 MB more at 100,000 recipients;
   * sharing it cost no CPU measurably (4 connections, 20,000 messages). */
  mallopt (M_ARENA_MAX, 2);

  loop = g_main_loop_new (NULL, FALSE);
  blast = ms_blast_new (config, &limits, ms_journal_get_path (journal), batch);
  ms_blast_set_wait_for_deferred (blast, !no_wait);
  ms_blast_set_import (blast, import);

  state.loop = loop;
  state.blast = blast;
  state.account = account;
  state.batch = batch;
  state.tty = isatty (STDERR_FILENO);
  ms_blast_set_progress_func (blast, on_progress, &state, NULL);
  ms_blast_set_rate_limit_func (blast, on_rate_limited, &state);
  ms_blast_set_session_func (blast, on_session, &state);

  sigint_id = g_unix_signal_add (SIGINT, on_signal, &state);
  sigterm_id = g_unix_signal_add (SIGTERM, on_signal, &state);
  ms_blast_run_async (blast, NULL, on_run_done, &state);
  while (!state.done)
    g_main_loop_run (loop);
  g_source_remove (sigint_id);
  g_source_remove (sigterm_id);
  if (state.tty && state.line_width > 0)
    g_printerr ("\n");
  g_free (state.last_status);

  if (ms_journal_get_counts (journal, batch, counts, NULL))
    summary = format_counts (counts);

  if (state.error != NULL)
    {
      status = MS_CLI_FAILED;
      if (g_error_matches (state.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        ms_cli_fail (status, _("The e-blast was cancelled."));
      else
        {
          ms_cli_fail (status, "%s", state.error->message);
          if (ms_blast_get_status (blast) == MS_BATCH_PAUSED)
            g_printerr (_("Paused: “mailshot-cli blast resume %s” carries on.\n"), id);
        }
    }
  else if (ms_blast_get_status (blast) == MS_BATCH_FINISHED)
    {
      status = MS_CLI_OK;
      g_printerr (_("Finished: %s.\n"), summary != NULL ? summary : "");
      if (counts[MS_STATE_FAILED] + counts[MS_STATE_UNCERTAIN] > 0)
        g_printerr (_("See what did not go out with “mailshot-cli pending --batch %s”.\n"), id);
    }
  else if (ms_blast_get_status (blast) == MS_BATCH_CANCELLED)
    {
      status = MS_CLI_FAILED;
      ms_cli_fail (status, _("The e-blast was cancelled."));
    }
  else
    {
      g_autoptr(MsBatchInfo) info = ms_journal_get_batch_info (journal, batch, NULL);

      status = MS_CLI_FAILED;
      if (info != NULL && info->pause_reason != NULL)
        g_printerr ("%s\n", info->pause_reason);
      g_printerr (_("Paused: “mailshot-cli blast resume %s” carries on.\n"), id);
    }
  g_clear_error (&state.error);
  return status;
}

/* ------------------------------------------------------------------ send */

typedef struct {
  const char *source;
  guint       shown;
} ImportPrint;

static void
print_created (gint64                 batch,
               const MsImportSummary *summary)
{
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_autofree char *summary_text = ms_import_summary_to_string (summary);

  /* Standard output holds the bare ID for scripts; a person reads this.
   * Translators: "Batch 3 created. Imported 20 recipients; …" */
  g_printerr (_("Batch %s created. %s\n"), id, summary_text);
}

/* The rest of the list went in while the first messages went out. */
static void
on_import_done (MsImportJob *job,
                gpointer     user_data)
{
  print_created (ms_import_job_get_batch (job), ms_import_job_get_summary (job));
}

static void
on_bad_row (guint              line,
            MsRecipientProblem problem,
            const char        *address,
            const char        *detail,
            gpointer           user_data)
{
  ImportPrint *p = user_data;

  if (detail != NULL)
    g_printerr (_("%s:%u: %s (%s): left out\n"), p->source, line, ms_recipient_problem_get_label (problem),
                detail);
  else if (address != NULL && *address != '\0')
    g_printerr (_("%s:%u: %s “%s”: left out\n"), p->source, line, ms_recipient_problem_get_label (problem),
                address);
  else
    g_printerr (_("%s:%u: %s: left out\n"), p->source, line, ms_recipient_problem_get_label (problem));
}

static void
on_duplicate (guint       line,
              const char *address,
              gpointer    user_data)
{
  ImportPrint *p = user_data;

  g_printerr (_("%s:%u: duplicate address “%s”: sent once\n"), p->source, line, address);
}

static char *
read_text_arg (const char  *option,
               const char  *path,
               int         *status)
{
  g_autoptr(GError) error = NULL;
  char *contents = NULL;
  gsize length;

  /* Regular files only, checked without blocking: a named pipe with no
   * writer hung the command for ever in open(). */
  if (!ms_user_file_load (path, &contents, &length, &error))
    {
      *status = ms_cli_fail (MS_CLI_USAGE, _("%s: cannot read “%s”: %s"), option, path, error->message);
      return NULL;
    }
  if (!g_utf8_validate (contents, length, NULL) || memchr (contents, '\0', length) != NULL)
    {
      g_free (contents);
      *status = ms_cli_fail (MS_CLI_USAGE, _("%s: “%s” is not UTF-8 text"), option, path);
      return NULL;
    }
  return contents;
}

/* --dry-run: the count and one merged message on standard output; nothing
 * is stored, nothing is sent. */
static int
dry_run (MsBatchSpec *spec,
         const char  *recipients,
         const char  *email_column,
         int          row)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GString) text = NULL;
  g_autofree char *row_text = g_strdup_printf ("%d", row);
  MsImportSummary summary = { 0 };
  const char *data;
  gsize len;
  guint line = 0;

  message = ms_import_dry_run (spec, recipients, email_column, (guint) row, &line, &summary, &error);
  if (message == NULL)
    return ms_cli_fail (error->domain == MS_ERROR && error->code == MS_ERROR_JOURNAL ? MS_CLI_FAILED
                        : MS_CLI_USAGE, "%s", error->message);

  g_print ("%s\n", _("Dry run: nothing was sent or stored."));
  g_print (_("Recipients: %u\n"), summary.imported);
  if (summary.left_out > 0)
    g_print (_("Left out: %u (the rows “blast send” would list)\n"), summary.left_out);
  if (summary.duplicates > 0)
    g_print (_("Duplicates, sent once: %u\n"), summary.duplicates);
  /* Translators: "Row 1, line 2 of members.csv:", then the merged message. */
  g_print (_("Row %s, line %u of %s:\n\n"), row_text, line, recipients);

  /* The message goes out with CRLF; a person reads it with plain newlines. */
  data = g_bytes_get_data (message, &len);
  text = g_string_new_len (data, len);
  g_string_replace (text, "\r\n", "\n", 0);
  fwrite (text->str, 1, text->len, stdout);
  if (text->len > 0 && text->str[text->len - 1] != '\n')
    g_print ("\n");
  return MS_CLI_OK;
}

static int
blast_send (const MsCliContext *ctx,
            int                 argc,
            char              **argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *recipients = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *text_path = NULL;
  g_autofree char *html_path = NULL;
  g_auto(GStrv) attachments = NULL;
  g_autofree char *email_column = NULL;
  g_autofree char *unsubscribe = NULL;
  g_autofree char *from_name = NULL;
  g_autoptr(MsAccount) account = NULL;
  g_autoptr(MsSmtpConfig) config = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchSpec) spec = NULL;
  g_autoptr(MsImportJob) import = NULL;
  g_autofree char *summary_text = NULL;
  MsImportSummary summary = { 0 };
  ImportPrint print = { 0 };
  gboolean no_wait = FALSE;
  gboolean dry = FALSE;
  int row = 0;
  int connections = 0;
  int status = MS_CLI_OK;
  gint64 batch;
  const GOptionEntry entries[] = {
    { "recipients", 'r', 0, G_OPTION_ARG_FILENAME, &recipients, N_("The recipient list (CSV with a header row)"), N_("FILE.csv") },
    { "subject", 's', 0, G_OPTION_ARG_STRING, &subject, N_("The subject; {{field}} merges a CSV column"), N_("TEXT") },
    { "text", 't', 0, G_OPTION_ARG_FILENAME, &text_path, N_("The plain-text body (UTF-8)"), N_("FILE") },
    { "html", 0, 0, G_OPTION_ARG_FILENAME, &html_path, N_("An HTML alternative of the body"), N_("FILE") },
    { "attach", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &attachments, N_("Attach a file (repeatable)"), N_("FILE") },
    { "connections", 'c', 0, G_OPTION_ARG_INT, &connections, N_("Connections at once (default: the account’s max-connections)"), N_("N") },
    { "email-column", 0, 0, G_OPTION_ARG_STRING, &email_column, N_("The CSV column with the addresses (default: found by name)"), N_("NAME") },
    { "unsubscribe", 0, 0, G_OPTION_ARG_STRING, &unsubscribe, N_("A List-Unsubscribe address (mailto: or https:)"), N_("URI") },
    { "from-name", 0, 0, G_OPTION_ARG_STRING, &from_name, N_("The sender’s display name (default: the account’s)"), N_("NAME") },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait, N_("Do not wait for deferred messages: pause, and let “resume” send them later"), NULL },
    { "dry-run", 0, 0, G_OPTION_ARG_NONE, &dry, N_("Send nothing, store nothing: print the recipient count and one merged message"), NULL },
    { "row", 0, 0, G_OPTION_ARG_INT, &row, N_("With --dry-run, the row of the list to merge (1 = the first after the header)"), N_("N") },
    { NULL }
  };

  if (!parse_options ("send", NULL,
                      _("Import a recipient list (CSV with a header row) into a new batch and send it, merged per "
                        "recipient, through the account’s SMTP server. The batch ID is the first line of standard "
                        "output; progress and the outcome go to standard error. Ctrl-C pauses (the messages in "
                        "flight finish first); “mailshot-cli blast resume ID” carries on."),
                      _("In the subject and the bodies, {{field}} is replaced by the recipient’s value in that CSV "
                        "column; in the HTML body the value is HTML-escaped, and {{{field}}} inserts it as it is.\n"
                        "The address column is found by its name (email, e-mail, email address, mail) unless "
                        "--email-column names it. Rows with a bad or empty address, a wrong number of fields or "
                        "text that is not UTF-8 are listed with their line numbers and left out; an address that "
                        "comes twice is sent once.\n"
                        "\n"
                        "Examples:\n"
                        "  mailshot-cli blast send --recipients members.csv --subject \"News for {{name}}\" --text news.txt\n"
                        "  mailshot-cli blast send -r members.csv -s \"Spring news\" -t news.txt --html news.html \\\n"
                        "      --attach programme.pdf --connections 4\n"
                        "  mailshot-cli --account office blast send -r staff.csv -s \"Closed on Friday\" -t note.txt\n"
                        "  mailshot-cli blast send -r members.csv -s \"News for {{name}}\" -t news.txt --dry-run --row 3\n"
                        "\n"
                        "Exit status: 0 every recipient was dealt with (see “mailshot-cli blast report ID”), "
                        "1 the batch paused, was cancelled or failed (the reason is on standard error), "
                        "2 bad usage or bad input (nothing was sent)."),
                      entries, &argc, &argv, &status))
    return status;
  if (argc > 1)
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: unexpected argument “%s”"), argv[1]);
  if (recipients == NULL)
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: --recipients FILE.csv is required"));
  if (subject == NULL)
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: --subject TEXT is required"));
  if (text_path == NULL)
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: --text FILE is required"));
  if (connections < 0 || connections > 64)
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: --connections must be a whole number from 1 to 64"));
  if (unsubscribe != NULL && !g_str_has_prefix (unsubscribe, "mailto:") && !g_str_has_prefix (unsubscribe, "https:"))
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: --unsubscribe must be a mailto: or https: address"));
  if (row != 0 && !dry)
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: --row goes with --dry-run"));
  if (dry && row == 0)
    row = 1;
  if (row < 0)
    return ms_cli_fail (MS_CLI_USAGE, _("blast send: --row must be a whole number from 1 (the first row after the header)"));

  account = ms_account_new (ctx->account, &error);
  if (account == NULL)
    return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);
  /* The password is looked up before anything is read or imported: a batch
   * that can never be sent would only clutter the list. A dry run sends
   * nothing: it needs no password. */
  if (dry ? !check_configured (account, &status) : (config = load_config (account, &status)) == NULL)
    return status;

  spec = g_new0 (MsBatchSpec, 1);
  spec->account = g_strdup (ms_account_get_name (account));
  spec->from_address = g_strdup (ms_account_get_email_address (account));
  spec->from_name = g_strdup (from_name != NULL ? from_name : ms_account_get_sender_name (account));
  spec->subject = g_strdup (subject);
  spec->unsubscribe = g_strdup (unsubscribe);
  spec->text = read_text_arg ("--text", text_path, &status);
  if (spec->text == NULL)
    return status;
  if (html_path != NULL)
    {
      spec->html = read_text_arg ("--html", html_path, &status);
      if (spec->html == NULL)
        return status;
    }
  for (guint i = 0; attachments != NULL && attachments[i] != NULL; i++)
    if (!g_file_test (attachments[i], G_FILE_TEST_IS_REGULAR) || access (attachments[i], R_OK) != 0)
      return ms_cli_fail (MS_CLI_USAGE, _("--attach: cannot read “%s”"), attachments[i]);
  if (attachments != NULL)
    {
      spec->attachments = g_new0 (char *, g_strv_length (attachments) + 1);
      for (guint i = 0; attachments[i] != NULL; i++)
        {
          g_autoptr(GFile) file = g_file_new_for_commandline_arg (attachments[i]);
          spec->attachments[i] = g_file_get_path (file);
        }
    }

  if (dry)
    return dry_run (spec, recipients, email_column, row);

  journal = open_journal (&status);
  if (journal == NULL)
    return status;

  print.source = recipients;
  /* The connections start after the first chunk of the list; the rest goes
   * in while they send (a list that cannot be imported as a whole is
   * refused before that, with nothing stored or sent). */
  import = ms_import_start (journal, spec, recipients, email_column, on_bad_row, on_duplicate, &print,
                            &summary, &error);
  if (import == NULL)
    {
      if (summary.left_out > 0 || summary.duplicates > 0)
        {
          summary_text = ms_import_summary_to_string (&summary);
          g_printerr ("%s\n", summary_text);
        }
      return ms_cli_fail (error->domain == MS_ERROR && error->code == MS_ERROR_JOURNAL ? MS_CLI_FAILED
                          : MS_CLI_USAGE, "%s", error->message);
    }

  batch = ms_import_job_get_batch (import);
  g_print ("%" G_GINT64_FORMAT "\n", batch);
  fflush (stdout);
  if (ms_import_job_is_done (import))
    print_created (batch, ms_import_job_get_summary (import));
  else
    ms_import_job_set_done_func (import, on_import_done, NULL);

  /* The import's journal keeps the batch locked until the run is over. */
  return run_batch (account, config, journal, batch, import, connections, no_wait);
}

/* ------------------------------------------------------------------ the rest */

static int
blast_list (int    argc,
            char **argv)
{
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(GError) error = NULL;
  int status = MS_CLI_OK;

  if (!parse_options ("list", NULL,
                      _("Print the batches, newest first, one per line: the batch ID, its status, when it was "
                        "created, how many were sent of how many, the account and the subject, separated by tabs."),
                      _("Examples:\n"
                        "  mailshot-cli blast list\n"
                        "  mailshot-cli blast list | head -n 1 | cut -f 1     # the newest batch’s ID"),
                      NULL, &argc, &argv, &status))
    return status;
  if (argc > 1)
    return ms_cli_fail (MS_CLI_USAGE, _("blast list: unexpected argument “%s”"), argv[1]);
  journal = open_journal_for_reading (&status);
  if (journal == NULL)
    return status;
  batches = ms_journal_list_batches (journal, &error);
  if (batches == NULL)
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  for (guint i = 0; i < batches->len; i++)
    {
      MsBatchInfo *info = g_ptr_array_index (batches, i);
      g_autofree char *created = format_time (info->created);
      g_autofree char *account = one_line (info->account);
      g_autofree char *subject = one_line (info->subject);

      g_autofree char *sent = NULL;

      /* Translators: the rows sent of the rows in so far; the rest of the list is still to be read in. */
      sent = info->import_unfinished ? g_strdup_printf (_("%u/%u sent so far, list not all in"),
                                                        info->counts[MS_STATE_SENT], info->total)
                                     : g_strdup_printf ("%u/%u sent", info->counts[MS_STATE_SENT], info->total);
      g_print ("%" G_GINT64_FORMAT "\t%s\t%s\t%s\t%s\t%s\n", info->id,
               ms_batch_status_to_string (info->status), created, sent, account, subject);
    }
  return MS_CLI_OK;
}

static void
print_status (const MsBatchInfo *info)
{
  g_autofree char *created = format_time (info->created);
  g_autofree char *counts = format_counts (info->counts);
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, info->id);
  g_autofree char *subject = one_line (info->subject);

  g_print (_("Batch %s: %s\n"), id, ms_batch_status_to_string (info->status));
  g_print (_("Subject: %s\n"), subject);
  g_print (_("Account: %s\n"), info->account != NULL ? info->account : "");
  g_print (_("Created: %s\n"), created);
  if (info->import_unfinished)
    /* Translators: the rows of the list in so far (the rest is still to be read in), then their states. */
    g_print (_("Recipients so far: %u (%s)\n"), info->total, counts);
  else
    g_print (_("Recipients: %u (%s)\n"), info->total, counts);
  if (info->pause_reason != NULL && *info->pause_reason != '\0')
    g_print (_("Paused because: %s\n"), info->pause_reason);
  if (info->counts[MS_STATE_UNCERTAIN] > 0)
    g_print (_("%u uncertain: they may have been delivered; see “mailshot-cli pending --state uncertain --batch %s”\n"),
             info->counts[MS_STATE_UNCERTAIN], id);
  /* Running: another process reads it in and sends it now (a dead one's
   * batch is paused by the recovery of the journal's open). */
  if (info->import_unfinished && info->status == MS_BATCH_RUNNING)
    g_print ("%s\n", _("The list is not all in yet: the rest is being read in while it is sent."));
  else if (info->import_unfinished)
    g_print (_("The list is not all in: it stopped while it was read in. “mailshot-cli blast resume %s” reads the "
               "rest and sends it.\n"), id);
}

static int
blast_status (int    argc,
              char **argv)
{
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  int status = MS_CLI_OK;

  if (!parse_options ("status", _("ID"),
                      _("Show what batch ID is doing: its status, how many recipients are in each state, and why "
                        "it paused."),
                      _("Examples:\n"
                        "  mailshot-cli blast status 3\n"
                        "\n"
                        "The IDs are in “mailshot-cli blast list”."),
                      NULL, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return ms_cli_fail (MS_CLI_USAGE, _("blast status: unexpected argument “%s”"), argv[2]);
  journal = open_journal_for_reading (&status);
  if (journal == NULL)
    return status;
  info = get_batch (journal, argv[1], "status", &status);
  if (info == NULL)
    return status;
  print_status (info);
  return MS_CLI_OK;
}

static int
blast_resume (const MsCliContext *ctx,
              int                 argc,
              char              **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(MsAccount) account = NULL;
  g_autoptr(MsSmtpConfig) config = NULL;
  g_autofree char *id = NULL;
  gboolean no_wait = FALSE;
  int connections = 0;
  int status = MS_CLI_OK;
  const GOptionEntry entries[] = {
    { "connections", 'c', 0, G_OPTION_ARG_INT, &connections, N_("Connections at once (default: the account’s max-connections)"), N_("N") },
    { "no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait, N_("Do not wait for deferred messages"), NULL },
    { NULL }
  };

  if (!parse_options ("resume", _("ID"),
                      _("Carry on with batch ID where it stopped: after a pause, Ctrl-C, a rate limit, a crash or a "
                        "fixed setting. It is sent from the account it was created with. Messages that may have "
                        "gone out when it was interrupted (uncertain) are not sent again unless you retry them "
                        "with “mailshot-cli pending --retry ROW”."),
                      _("Examples:\n"
                        "  mailshot-cli blast resume 3\n"
                        "  mailshot-cli blast resume 3 --connections 2\n"
                        "  mailshot-cli pending --state uncertain --batch 3   # decide about these first\n"
                        "\n"
                        "Exit status: 0 the batch finished, 1 it paused again or failed (the reason is on standard "
                        "error), 2 bad usage."),
                      entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return ms_cli_fail (MS_CLI_USAGE, _("blast resume: unexpected argument “%s”"), argv[2]);
  if (connections < 0 || connections > 64)
    return ms_cli_fail (MS_CLI_USAGE, _("blast resume: --connections must be a whole number from 1 to 64"));

  journal = open_journal (&status);
  if (journal == NULL)
    return status;
  info = get_batch (journal, argv[1], "resume", &status);
  if (info == NULL)
    return status;
  id = g_strdup_printf ("%" G_GINT64_FORMAT, info->id);
  if (!ms_journal_check_can_resume (journal, info->id, &error))
    return ms_cli_fail (MS_CLI_FAILED, "blast resume: %s", error->message);
  if (info->counts[MS_STATE_UNCERTAIN] > 0)
    g_printerr (_("%u messages are uncertain and are not sent again; see “mailshot-cli pending --state uncertain "
                  "--batch %s” and retry them with “mailshot-cli pending --retry ROW”.\n"),
                info->counts[MS_STATE_UNCERTAIN], id);

  /* The batch is sent from the account it was created with. */
  account = ms_account_new (info->account != NULL && *info->account ? info->account : ctx->account, &error);
  if (account == NULL)
    return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);
  config = load_config (account, &status);
  if (config == NULL)
    return status;
  return run_batch (account, config, journal, info->id, NULL, connections, no_wait);
}

static int
blast_cancel (int    argc,
              char **argv)
{
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(MsBatchInfo) after = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  int status = MS_CLI_OK;

  if (!parse_options ("cancel", _("ID"),
                      _("Stop batch ID for good: its queued and deferred messages will not be sent. Messages "
                        "already sent stay sent. When another mailshot-cli is sending the batch, it stops once "
                        "the messages in flight are done."),
                      _("Examples:\n"
                        "  mailshot-cli blast cancel 3\n"
                        "\n"
                        "To leave out a single recipient instead, use “mailshot-cli pending --skip ROW”."),
                      NULL, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return ms_cli_fail (MS_CLI_USAGE, _("blast cancel: unexpected argument “%s”"), argv[2]);
  journal = open_journal (&status);
  if (journal == NULL)
    return status;
  info = get_batch (journal, argv[1], "cancel", &status);
  if (info == NULL)
    return status;
  id = g_strdup_printf ("%" G_GINT64_FORMAT, info->id);
  if (!ms_journal_check_can_cancel (journal, info->id, &error))
    return ms_cli_fail (MS_CLI_FAILED, "blast cancel: %s", error->message);
  if (info->status == MS_BATCH_CANCELLED)
    {
      g_print (_("Batch %s was cancelled already.\n"), id);
      return MS_CLI_OK;
    }
  if (!ms_journal_cancel_batch (journal, info->id, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  after = ms_journal_get_batch_info (journal, info->id, NULL);
  g_print (_("Batch %s cancelled: %u messages will not be sent.\n"), id,
           after != NULL ? after->counts[MS_STATE_CANCELLED] : 0);
  return MS_CLI_OK;
}

typedef struct {
  GPtrArray *left_out;   /* MsJournalLeftOut, in line order */
  guint      next;       /* the first not printed yet */
} ReportText;

/* A row the import left out, in the recipients' columns: its reason
 * (which names its line) where their replies go. */
static void
report_text_left_out_before (ReportText *report,
                             guint       line)
{
  for (; report->next < report->left_out->len; report->next++)
    {
      const MsJournalLeftOut *l = g_ptr_array_index (report->left_out, report->next);

      if (l->line >= line)
        break;
      g_print ("%-10s %-32s %3u  %-19s  %s\n", MS_JOURNAL_LEFT_OUT, l->address != NULL ? l->address : "", 0, "",
               l->reason);
    }
}

static gboolean
report_text_row (const MsJournalRow *row,
                 gpointer            user_data)
{
  g_autofree char *when = format_time (row->sent_at > 0 ? row->sent_at : row->updated_at);
  g_autoptr(GString) line = g_string_new (NULL);

  /* Rows and left-out rows in the order of the list's lines. */
  report_text_left_out_before (user_data, row->line);
  g_string_append_printf (line, "%-10s %-32s %3u  %-19s  ", ms_recipient_state_to_string (row->state),
                          row->address, row->attempts, when);
  if (row->reply_code > 0)
    g_string_append_printf (line, "%d ", row->reply_code);
  if (row->reply_text != NULL)
    g_string_append (line, row->reply_text);
  /* No trailing blanks on rows without a reply. */
  while (line->len > 0 && line->str[line->len - 1] == ' ')
    g_string_truncate (line, line->len - 1);
  g_print ("%s\n", line->str);
  return TRUE;
}

static int
blast_report (int    argc,
              char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GPtrArray) left_out = NULL;
  ReportText report = { 0 };
  gboolean csv = FALSE;
  int status = MS_CLI_OK;
  const GOptionEntry entries[] = {
    { "csv", 0, 0, G_OPTION_ARG_NONE, &csv, N_("One CSV line per recipient and per row left out: address, state, "
                                               "attempts, time, reply code, reply text, Message-ID, enhanced code, "
                                               "line, then the list’s columns"), NULL },
    { NULL }
  };

  if (!parse_options ("report", _("ID"),
                      _("Show every recipient of batch ID with its outcome: the state, the attempts, when, and the "
                        "server’s last reply; and the rows of the list that were left out at import, with their "
                        "line and why."),
                      _("With --csv, standard output is a header line, then one RFC 4180 line per recipient and "
                        "per row left out, in the order of the list:\n"
                        "  address,state,attempts,time,reply_code,reply_text,message_id,enhanced_code,line,…\n"
                        "followed by the columns of the recipient list, named as in its header (the merge fields).\n"
                        "The state is one of queued, sending, sent, deferred, failed, uncertain, cancelled, "
                        "skipped, or left-out for a row the import left out (its reason is in reply_text; it was "
                        "never a recipient, so blast status does not count it). The time is in UTC (ISO 8601); "
                        "enhanced_code is the server’s enhanced status code, such as 5.1.1; line is the row’s "
                        "line in the list (the header is line 1).\n"
                        "\n"
                        "Examples:\n"
                        "  mailshot-cli blast report 3\n"
                        "  mailshot-cli blast report 3 --csv > outcome.csv\n"
                        "  mailshot-cli blast report 3 --csv | grep ',failed,'"),
                      entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return ms_cli_fail (MS_CLI_USAGE, _("blast report: unexpected argument “%s”"), argv[2]);
  journal = open_journal_for_reading (&status);
  if (journal == NULL)
    return status;
  info = get_batch (journal, argv[1], "report", &status);
  if (info == NULL)
    return status;

  if (csv)
    {
      /* The same CSV as the desktop app's Export CSV: the format is core's. */
      g_autoptr(GOutputStream) out = g_unix_output_stream_new (STDOUT_FILENO, FALSE);

      fflush (stdout);
      if (!ms_journal_write_report_csv (journal, info->id, out, NULL, &error))
        return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
      return MS_CLI_OK;
    }

  left_out = ms_journal_list_left_out (journal, info->id, &error);
  if (left_out == NULL)
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  print_status (info);
  if (left_out->len > 0)
    g_print (ngettext ("Left out at import: %u row of the list (see “left-out” below)\n",
                       "Left out at import: %u rows of the list (see “left-out” below)\n", left_out->len),
             left_out->len);
  g_print ("\n");
  report.left_out = left_out;
  if (!ms_journal_foreach_row (journal, info->id, NULL, 0, report_text_row, &report, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  report_text_left_out_before (&report, G_MAXUINT);
  return MS_CLI_OK;
}

static void
print_blast_help (void)
{
  g_print ("%s\n  %s\n\n", _("Usage:"), _("mailshot-cli [--account NAME] blast COMMAND [ARGUMENT…]"));
  g_print ("%s\n\n", _("Send a mailing merged per recipient from a CSV list, and follow it up. Every recipient’s "
                        "outcome is kept in a journal, so a batch survives Ctrl-C, a crash or a rate limit and "
                        "carries on where it stopped."));
  g_print ("%s\n", _("Commands:"));
  g_print ("  %-10s %s\n", "send", _("Import a CSV list into a new batch and send it; prints the batch ID first"));
  g_print ("  %-10s %s\n", "list", _("One batch per line, newest first, starting with its ID"));
  g_print ("  %-10s %s\n", "status ID", _("The batch’s status and its recipients per state"));
  g_print ("  %-10s %s\n", "resume ID", _("Carry on with a paused or interrupted batch"));
  g_print ("  %-10s %s\n", "cancel ID", _("Stop a batch for good: what is not sent yet will not be"));
  g_print ("  %-10s %s\n", "report ID", _("Every recipient’s outcome; --csv for one CSV line each"));
  g_print ("\n%s\n", _("Examples:"));
  g_print ("  %s\n", "mailshot-cli blast send --recipients members.csv --subject \"News for {{name}}\" --text news.txt");
  g_print ("  %s\n", "mailshot-cli blast list");
  g_print ("  %s\n", "mailshot-cli blast resume 3");
  g_print ("  %s\n", "mailshot-cli blast report 3 --csv > outcome.csv");
  g_print ("  %s\n", "mailshot-cli pending --batch 3");
  g_print ("\n%s\n", _("Run “mailshot-cli blast COMMAND --help” for the options of a command, and "
                        "“mailshot-cli pending --help” for the e-mails that have not gone out."));
  g_print ("%s\n", _("Exit status: 0 success, 1 the batch paused or failed (the reason is on standard error), "
                     "2 bad usage or bad input."));
}

int
ms_cli_blast (const MsCliContext *ctx,
              int                 argc,
              char              **argv)
{
  const char *sub = argc > 1 ? argv[1] : NULL;

  if (sub == NULL)
    {
      ms_cli_fail (MS_CLI_USAGE, _("blast: give a command: send, list, status ID, resume ID, cancel ID or "
                                   "report ID [--csv]"));
      g_printerr ("%s\n", _("Run “mailshot-cli blast --help” for what each one does."));
      return MS_CLI_USAGE;
    }
  if (strcmp (sub, "--help") == 0 || strcmp (sub, "-h") == 0 || strcmp (sub, "help") == 0)
    {
      /* "blast help send" is "blast send --help". */
      if (argc > 2 && strcmp (sub, "help") == 0)
        {
          char *help_argv[] = { argv[0], argv[2], (char *) "--help", NULL };

          return ms_cli_blast (ctx, 3, help_argv);
        }
      print_blast_help ();
      return MS_CLI_OK;
    }
  if (strcmp (sub, "send") == 0)
    return blast_send (ctx, argc - 1, argv + 1);
  if (strcmp (sub, "list") == 0)
    return blast_list (argc - 1, argv + 1);
  if (strcmp (sub, "status") == 0)
    return blast_status (argc - 1, argv + 1);
  if (strcmp (sub, "resume") == 0)
    return blast_resume (ctx, argc - 1, argv + 1);
  if (strcmp (sub, "cancel") == 0)
    return blast_cancel (argc - 1, argv + 1);
  if (strcmp (sub, "report") == 0)
    return blast_report (argc - 1, argv + 1);
  return ms_cli_fail (MS_CLI_USAGE, _("blast: unknown command “%s”; use send, list, status, resume, cancel or "
                                      "report"), sub);
}
