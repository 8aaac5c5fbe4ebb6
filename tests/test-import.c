/* test-import.c: the import preview and the dry run (ms-import), against real files
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <sys/wait.h>

#include "mailshot-core.h"
#include "ms-test-support.h"

static char *
write_csv (const char *name,
           const char *contents)
{
  g_autofree char *file = g_strdup_printf ("%s-%u.csv", name, g_random_int ());
  char *path = ms_test_tmp_path (file);

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

/* Lines: 1 header, 2 good, 3 bad address, 4 wrong field count, 5 duplicate
 * of 2 (other case), 6 empty address, 7 good, 8 good. */
static const char mixed[] =
  "name,email\n"
  "Ann,ann@example.net\n"
  "Bob,not-an-address\n"
  "Cid,cid@example.net,extra\n"
  "Ann again,ANN@Example.net\n"
  "Dee,\n"
  "Eve,eve@example.net\n"
  "\"Fay, Jr.\",fay@example.net\n";

static void
test_preview_counts (void)
{
  g_autofree char *path = write_csv ("mixed", mixed);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsImportPreview) preview = ms_import_preview (path, NULL, &error);
  const MsImportSummary *summary;
  const MsImportProblem *problems;
  const char * const *columns;
  guint n = 0;

  g_assert_no_error (error);
  g_assert_nonnull (preview);
  columns = ms_import_preview_get_columns (preview);
  g_assert_cmpuint (g_strv_length ((char **) columns), ==, 2);
  g_assert_cmpstr (columns[0], ==, "name");
  g_assert_cmpstr (columns[1], ==, "email");
  g_assert_cmpint (ms_import_preview_get_email_index (preview), ==, 1);
  g_assert_cmpuint (ms_import_preview_get_rows (preview), ==, 7);

  summary = ms_import_preview_get_summary (preview);
  g_assert_cmpuint (summary->imported, ==, 3);         /* ann, eve, fay */
  g_assert_cmpuint (summary->left_out, ==, 3);
  g_assert_cmpuint (summary->bad_address, ==, 1);
  g_assert_cmpuint (summary->field_count, ==, 1);
  g_assert_cmpuint (summary->empty_address, ==, 1);
  g_assert_cmpuint (summary->duplicates, ==, 1);

  /* Each problem with its line and a reason a person can act on. */
  problems = ms_import_preview_get_problems (preview, &n);
  g_assert_cmpuint (n, ==, 4);
  g_assert_cmpuint (problems[0].line, ==, 3);
  g_assert_cmpint (problems[0].problem, ==, MS_RECIPIENT_BAD_ADDRESS);
  g_assert_nonnull (strstr (problems[0].reason, "not-an-address"));
  g_assert_cmpuint (problems[1].line, ==, 4);
  g_assert_cmpint (problems[1].problem, ==, MS_RECIPIENT_FIELD_COUNT);
  g_assert_nonnull (strstr (problems[1].reason, "expected 2 fields, got 3"));
  g_assert_cmpuint (problems[2].line, ==, 5);
  g_assert_true (problems[2].duplicate);
  g_assert_nonnull (strstr (problems[2].reason, "ANN@Example.net"));
  g_assert_cmpuint (problems[3].line, ==, 6);
  g_assert_cmpint (problems[3].problem, ==, MS_RECIPIENT_EMPTY_ADDRESS);
  g_assert_false (problems[3].duplicate);
}

/* The preview says what the import then does: the same numbers. */
static void
test_preview_matches_import (void)
{
  g_autofree char *path = write_csv ("same", mixed);
  g_autofree char *db = ms_test_tmp_path ("import-same.sqlite");
  g_autoptr(GError) error = NULL;
  g_autoptr(MsImportPreview) preview = ms_import_preview (path, NULL, &error);
  g_autoptr(MsJournal) journal = ms_journal_open (db, &error);
  g_autoptr(MsBatchInfo) info = NULL;
  const MsImportSummary *p;
  MsImportSummary imported = { 0 };
  MsBatchSpec spec = { 0 };
  gint64 batch;

  g_assert_no_error (error);
  spec.account = (char *) "default";
  spec.from_address = (char *) "sender@example.org";
  spec.subject = (char *) "Hello {{name}}";
  spec.text = (char *) "Hi {{name}}\n";
  batch = ms_import_csv (journal, &spec, path, NULL, NULL, NULL, NULL, &imported, &error);
  g_assert_no_error (error);
  g_assert_cmpint (batch, >, 0);
  g_strfreev (spec.fields);
  g_free (spec.source);

  p = ms_import_preview_get_summary (preview);
  g_assert_cmpmem (p, sizeof *p, &imported, sizeof imported);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpuint (info->total, ==, p->imported);
}

/* No column is recognised as the address: the columns come back, for the
 * user to pick one, and no counts; with the column named, the counts. */
static void
test_preview_no_address_column (void)
{
  g_autofree char *path = write_csv ("contact", "name;contact\nAnn;ann@example.net\nBob;bob@example.net\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(MsImportPreview) preview = ms_import_preview (path, NULL, &error);
  g_autoptr(MsImportPreview) picked = NULL;
  const char * const *columns;
  guint n = 99;

  g_assert_no_error (error);
  g_assert_nonnull (preview);
  columns = ms_import_preview_get_columns (preview);
  g_assert_cmpuint (g_strv_length ((char **) columns), ==, 2);
  g_assert_cmpstr (columns[1], ==, "contact");
  g_assert_cmpint (ms_import_preview_get_email_index (preview), ==, -1);
  g_assert_cmpuint (ms_import_preview_get_rows (preview), ==, 0);
  g_assert_cmpuint (ms_import_preview_get_summary (preview)->imported, ==, 0);
  ms_import_preview_get_problems (preview, &n);
  g_assert_cmpuint (n, ==, 0);

  picked = ms_import_preview (path, "contact", &error);
  g_assert_no_error (error);
  g_assert_cmpint (ms_import_preview_get_email_index (picked), ==, 1);
  g_assert_cmpuint (ms_import_preview_get_summary (picked)->imported, ==, 2);
}

/* What stays an error: a column named that is not there, a header that
 * cannot be used, a file that cannot be read. */
static void
test_preview_errors (void)
{
  g_autofree char *contact = write_csv ("err-contact", "name,contact\nAnn,ann@example.net\n");
  g_autofree char *twice = write_csv ("err-twice", "email,Email\nann@example.net,x\n");
  g_autofree char *empty = write_csv ("err-empty", "");
  g_autofree char *missing = ms_test_tmp_path ("no-such-list.csv");
  g_autoptr(GError) error = NULL;
  MsImportPreview *preview;

  preview = ms_import_preview (contact, "mail", &error);
  g_assert_null (preview);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "contact"));   /* the columns it has */
  g_clear_error (&error);

  preview = ms_import_preview (twice, NULL, &error);
  g_assert_null (preview);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_clear_error (&error);

  preview = ms_import_preview (empty, NULL, &error);
  g_assert_null (preview);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);

  preview = ms_import_preview (missing, NULL, &error);
  g_assert_null (preview);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "does not exist"));
}

/* The dry run merges one row as the batch would, and stores nothing. */
static void
test_dry_run (void)
{
  g_autofree char *path = write_csv ("dry", mixed);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autofree char *text = NULL;
  MsImportSummary summary = { 0 };
  MsBatchSpec spec = { 0 };
  guint line = 0;

  spec.account = (char *) "default";
  spec.from_address = (char *) "sender@example.org";
  spec.subject = (char *) "Hello {{name}}";
  spec.text = (char *) "Hi {{name}}\n";

  message = ms_import_dry_run (&spec, path, NULL, 6, &line, &summary, &error);   /* line 7: Eve */
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpuint (line, ==, 7);
  g_assert_cmpuint (summary.imported, ==, 3);
  g_assert_cmpuint (summary.left_out, ==, 3);
  text = g_strndup (g_bytes_get_data (message, NULL), g_bytes_get_size (message));
  g_assert_nonnull (strstr (text, "Subject: Hello Eve\r\n"));
  g_assert_nonnull (strstr (text, "eve@example.net"));
  g_assert_nonnull (strstr (text, "Hi Eve"));

  /* A row the import would leave out, and one past the end. */
  g_clear_pointer (&message, g_bytes_unref);
  message = ms_import_dry_run (&spec, path, NULL, 2, &line, NULL, &error);
  g_assert_null (message);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "line 3"));
  g_clear_error (&error);
  message = ms_import_dry_run (&spec, path, NULL, 8, NULL, NULL, &error);
  g_assert_null (message);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "from 1 to 7"));
  g_clear_error (&error);

  /* A template field the list lacks fails as the import would. */
  spec.subject = (char *) "Hello {{nickname}}";
  message = ms_import_dry_run (&spec, path, NULL, 1, NULL, NULL, &error);
  g_assert_null (message);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "nickname"));
  g_strfreev (spec.fields);
}

/* Preview per recipient: the rows the import adds, in order, and each one's
 * message read back as its recipient sees it. */
static void
test_preview_recipients (void)
{
  g_autofree char *path = write_csv ("per-recipient", mixed);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(MsMessageBuilder) builder = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(MsMessageParts) parts = NULL;
  g_autoptr(MsImportPreview) preview = ms_import_preview (path, NULL, NULL);
  g_auto(GStrv) fields = NULL;
  guint email_index = 0;
  MsBatchSpec spec = { 0 };

  rows = ms_import_read_recipients (path, NULL, 0, &fields, &email_index, &error);
  g_assert_no_error (error);
  /* The same recipients as the import: left-out rows and the duplicate skipped. */
  g_assert_cmpuint (rows->len, ==, ms_import_preview_get_summary (preview)->imported);
  g_assert_cmpuint (email_index, ==, 1);
  g_assert_cmpstr (((char **) g_ptr_array_index (rows, 0))[1], ==, "ann@example.net");
  g_assert_cmpstr (((char **) g_ptr_array_index (rows, 1))[1], ==, "eve@example.net");
  g_assert_cmpstr (((char **) g_ptr_array_index (rows, 2))[0], ==, "Fay, Jr.");
  g_clear_pointer (&rows, g_ptr_array_unref);
  g_clear_pointer (&fields, g_strfreev);
  rows = ms_import_read_recipients (path, NULL, 2, &fields, &email_index, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 2);

  spec.from_address = (char *) "sender@example.org";
  spec.from_name = (char *) "The Committee";
  spec.subject = (char *) "Grüße, {{name}}";
  spec.text = (char *) "Dear {{name}},\nsee you.\n";
  spec.html = (char *) "<p>Dear {{name}} &amp; co</p><img src=\"https://example.org/x.png\">";
  spec.fields = fields;
  spec.email_index = email_index;
  builder = ms_import_new_builder (&spec, &error);
  g_assert_no_error (error);
  message = ms_message_builder_render (builder, g_ptr_array_index (rows, 1), NULL, &error);
  g_assert_no_error (error);
  parts = ms_message_parts_parse (message, &error);
  g_assert_no_error (error);
  g_test_message ("From: %s / To: %s / Subject: %s", parts->from, parts->to, parts->subject);
  g_assert_nonnull (strstr (parts->from, "The Committee"));
  g_assert_nonnull (strstr (parts->from, "sender@example.org"));
  g_assert_nonnull (strstr (parts->to, "eve@example.net"));
  g_assert_cmpstr (parts->subject, ==, "Grüße, Eve");
  g_assert_nonnull (strstr (parts->text, "Dear Eve,\nsee you."));
  g_assert_nonnull (parts->html);
  g_assert_nonnull (strstr (parts->html, "<p>Dear Eve &amp; co</p>"));
  g_assert_cmpuint (g_strv_length (parts->attachments), ==, 0);
}

/* ---- An import sent while it goes on (ms_import_start) ---- */

#include <signal.h>
#include <unistd.h>

/* @n data rows: r1@example.net ...; @extra (lines after them) appended. */
static char *
write_big_csv (const char *name,
               guint       n,
               const char *extra)
{
  g_autoptr(GString) s = g_string_new ("name,email\n");

  for (guint i = 1; i <= n; i++)
    g_string_append_printf (s, "P%u,r%u@example.net\n", i, i);
  if (extra != NULL)
    g_string_append (s, extra);
  return write_csv (name, s->str);
}

static void
init_spec (MsBatchSpec *spec)
{
  memset (spec, 0, sizeof *spec);
  spec->account = g_strdup ("default");
  spec->from_address = g_strdup ("sender@example.org");
  spec->subject = g_strdup ("Hello {{name}}");
  spec->text = g_strdup ("Hi {{name}}\n");
}

static void
clear_spec (MsBatchSpec *spec)
{
  g_free (spec->account);
  g_free (spec->from_address);
  g_free (spec->subject);
  g_free (spec->text);
  g_strfreev (spec->fields);
  g_free (spec->source);
}

typedef struct {
  GString *lines;   /* "B3 D5 " ... what the callbacks heard, in order */
} Heard;

static void
heard_bad_row (guint line, MsRecipientProblem problem, const char *address, const char *detail, gpointer data)
{
  g_string_append_printf (((Heard *) data)->lines, "B%u ", line);
}

static void
heard_duplicate (guint line, const char *address, gpointer data)
{
  g_string_append_printf (((Heard *) data)->lines, "D%u ", line);
}

static guint
count_batches (MsJournal *journal)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) batches = ms_journal_list_batches (journal, &error);

  g_assert_no_error (error);
  return batches->len;
}

/* A list that cannot be imported as a whole (found only near its end) is
 * refused by the start, with the error the import itself gives, before the
 * batch exists: nothing can have been sent. */
static void
test_overlap_late_error (void)
{
  g_autofree char *db = ms_test_tmp_path ("overlap-late.sqlite");
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = ms_journal_open (db, &error);
  g_autofree char *big = g_strnfill (70 * 1024, 'x');
  g_autofree char *long_row = g_strdup_printf ("%s,long@example.net\n", big);
  const struct { const char *what; const char *extra; const char *says; } cases[] = {
    { "never closed", "Zed,zed@example.net\n\"Unclosed,u@example.net\n", "is never closed" },
    { "over 64 KiB", long_row, "longer than 64 KiB" },
  };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *csv = write_big_csv ("overlap-late", 3000, cases[i].extra);
      g_autoptr(GError) import_error = NULL;
      g_autoptr(GError) start_error = NULL;
      g_autoptr(MsImportJob) job = NULL;
      MsImportSummary summary = { 0 };
      MsBatchSpec spec;
      Heard heard = { g_string_new (NULL) };

      g_test_message ("a row %s after 3,000 good ones", cases[i].what);
      init_spec (&spec);
      g_assert_cmpint (ms_import_csv (journal, &spec, csv, NULL, NULL, NULL, NULL, NULL, &import_error), ==, 0);
      g_assert_nonnull (import_error);
      clear_spec (&spec);

      init_spec (&spec);
      job = ms_import_start (journal, &spec, csv, NULL, heard_bad_row, heard_duplicate, &heard, &summary,
                             &start_error);
      g_assert_null (job);
      g_assert_error (start_error, MS_ERROR, MS_ERROR_INVALID_INPUT);
      g_assert_cmpstr (start_error->message, ==, import_error->message);
      g_assert_nonnull (strstr (start_error->message, cases[i].says));
      /* Refused before a single row was read as a recipient. */
      g_assert_cmpuint (summary.imported, ==, 0);
      g_assert_cmpstr (heard.lines->str, ==, "");
      g_assert_cmpuint (count_batches (journal), ==, 0);
      clear_spec (&spec);
      g_string_free (heard.lines, TRUE);
    }
}

/* The first chunk is in (and can be claimed) when the start returns; the
 * rest goes in with ms_import_job_run(); rows left out and duplicates are
 * reported in both parts, in line order, and the counts are those of the
 * import in one piece. */
static void
test_overlap_counts (void)
{
  g_autofree char *db = ms_test_tmp_path ("overlap-counts.sqlite");
  g_autofree char *db2 = ms_test_tmp_path ("overlap-counts-2.sqlite");
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = ms_journal_open (db, &error);
  g_autoptr(MsJournal) whole = ms_journal_open (db2, &error);
  g_autoptr(MsJournal) sender = NULL;
  g_autoptr(MsImportJob) job = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GPtrArray) claimed = NULL;
  g_autoptr(GString) s = g_string_new ("name,email\n");
  g_autofree char *csv = NULL;
  MsImportSummary summary = { 0 }, expected = { 0 };
  MsBatchSpec spec;
  Heard heard = { g_string_new (NULL) }, heard_whole = { g_string_new (NULL) };
  guint line = 0;
  gint64 batch;

  g_assert_no_error (error);
  /* Line n + 1 holds row n. A bad address in the first chunk and in the
   * rest, duplicates of row 2 in both, and a wrong field count at the end. */
  for (guint i = 1; i <= 2500; i++)
    {
      if (i == 10 || i == 1800)
        g_string_append_printf (s, "Bad%u,not-an-address\n", i);
      else if (i == 20 || i == 2400)
        g_string_append (s, "Again,R2@Example.net\n");
      else
        g_string_append_printf (s, "P%u,r%u@example.net\n", i, i);
    }
  g_string_append (s, "Too,many,fields\n");
  csv = write_csv ("overlap-counts", s->str);

  init_spec (&spec);
  g_assert_cmpint (ms_import_csv (whole, &spec, csv, NULL, heard_bad_row, heard_duplicate, &heard_whole,
                                  &expected, &error), >, 0);
  g_assert_no_error (error);
  clear_spec (&spec);

  init_spec (&spec);
  job = ms_import_start (journal, &spec, csv, NULL, heard_bad_row, heard_duplicate, &heard, &summary, &error);
  g_assert_no_error (error);
  g_assert_nonnull (job);
  batch = ms_import_job_get_batch (job);
  g_assert_cmpint (batch, >, 0);
  g_assert_false (ms_import_job_is_done (job));
  g_assert_cmpuint (summary.imported, ==, 1000);
  g_assert_cmpstr (heard.lines->str, ==, "B11 D21 ");
  /* The batch knows its list is not whole yet, and where it ends. */
  g_assert_true (ms_journal_get_import_line (journal, batch, &line, &error));
  g_assert_cmpuint (line, ==, 1003);   /* row 1002, the 1,000th usable one */

  /* Another journal (the run's claimer) can claim the first chunk now. */
  sender = ms_journal_open (db, &error);
  g_assert_no_error (error);
  claimed = ms_journal_claim (sender, batch, 5000, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 1000);

  g_assert_true (ms_import_job_run (job, NULL, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ms_import_job_is_done (job));
  g_assert_cmpmem (ms_import_job_get_summary (job), sizeof summary, &expected, sizeof expected);
  g_assert_cmpstr (heard.lines->str, ==, heard_whole.lines->str);
  g_assert_cmpstr (heard.lines->str, ==, "B11 D21 B1801 D2401 B2502 ");
  g_assert_true (ms_journal_get_import_line (journal, batch, &line, &error));
  g_assert_cmpuint (line, ==, 0);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->total, ==, expected.imported);
  g_assert_cmpuint (info->counts[MS_STATE_SENDING], ==, 1000);
  {
    g_autoptr(GPtrArray) left_out = ms_journal_list_left_out (journal, batch, &error);

    g_assert_cmpuint (left_out->len, ==, 3);
  }
  clear_spec (&spec);
  g_string_free (heard.lines, TRUE);
  g_string_free (heard_whole.lines, TRUE);
}

/* kill -9 after the first chunk went in and some of it was sent: the batch
 * is kept with what was sent, and the rest of the list goes in on resume
 * (ms_import_resume), each address once, nothing lost. */
static void
test_overlap_kill (void)
{
  g_autofree char *db = ms_test_tmp_path ("overlap-kill.sqlite");
  g_autofree char *csv = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsImportJob) rest = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(MsImportPreview) preview = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) rows = NULL;
  guint line = 0;
  gint64 batch = 1;
  pid_t pid;
  int status;

  csv = write_big_csv ("overlap-kill", 2600, "Dup,R5@example.net\nLast,last@example.net\n");
  preview = ms_import_preview (csv, NULL, &error);
  g_assert_no_error (error);

  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autoptr(MsJournal) child = ms_journal_open (db, NULL);
      g_autoptr(MsJournal) run = ms_journal_open (db, NULL);
      g_autoptr(GPtrArray) claimed = NULL;
      g_autofree MsJournalOutcome *sent = g_new0 (MsJournalOutcome, 10);
      MsImportJob *job;
      MsBatchSpec spec;

      init_spec (&spec);
      job = ms_import_start (child, &spec, csv, NULL, NULL, NULL, NULL, NULL, NULL);
      if (job == NULL)
        _exit (3);
      /* What a run does meanwhile, on its own journal: 10 sent and
       * recorded, 10 on the wire. The import still holds the keys of its
       * first chunk in memory. */
      claimed = ms_journal_claim (run, ms_import_job_get_batch (job), 20, g_get_real_time () / G_USEC_PER_SEC,
                                  NULL);
      if (claimed == NULL || claimed->len != 20)
        _exit (4);
      for (guint i = 0; i < 10; i++)
        {
          sent[i].row_id = ((MsJournalRow *) g_ptr_array_index (claimed, i))->id;
          sent[i].state = MS_STATE_SENT;
          sent[i].reply_code = 250;
        }
      if (!ms_journal_record (run, sent, 10, NULL))
        _exit (5);
      kill (getpid (), SIGKILL);
      _exit (6);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));

  journal = ms_journal_open (db, &error);
  g_assert_no_error (error);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  /* Kept (not removed as an import that sent nothing), with what was sent. */
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, 10);
  g_assert_cmpuint (info->total, ==, 1000);
  g_assert_true (ms_journal_get_import_line (journal, batch, &line, &error));
  g_assert_cmpuint (line, ==, 1001);
  g_clear_pointer (&info, ms_batch_info_free);

  /* Resume: the rest of the list, from the row after the last one in. */
  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  rest = ms_import_resume (db, batch, line, &error);
  g_assert_no_error (error);
  g_assert_true (ms_import_job_run (rest, NULL, NULL, &error));
  g_assert_no_error (error);
  /* R5 (line 6, in the first chunk) comes again at the end: found, though
   * its key was in the dead importer's memory only. */
  g_assert_cmpuint (ms_import_job_get_summary (rest)->duplicates, ==, 1);
  ms_journal_unlock_batch (journal, batch);
  g_assert_true (ms_journal_get_import_line (journal, batch, &line, &error));
  g_assert_cmpuint (line, ==, 0);

  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpuint (info->total, ==, ms_import_preview_get_summary (preview)->imported);
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, 10);
  rows = ms_journal_list_rows (journal, batch, NULL, 0, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < rows->len; i++)
    g_assert_true (g_hash_table_add (seen, g_ascii_strdown (((MsJournalRow *) rows->pdata[i])->address, -1)));
  g_assert_true (g_hash_table_contains (seen, "last@example.net"));
  g_assert_true (g_hash_table_contains (seen, "r2600@example.net"));

  /* A file that changed since is refused, saying why. */
  {
    g_autofree char *other = NULL;
    g_autoptr(MsBatchSpec) spec = ms_journal_get_batch_spec (journal, batch, &error);
    g_autoptr(MsImportJob) none = NULL;

    other = g_strdup (spec->source);
    g_assert_true (g_file_set_contents (other, "email,nom\nx@example.net,X\n", -1, NULL));
    none = ms_import_resume (db, batch, 1001, &error);
    g_assert_null (none);
    g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
    g_assert_nonnull (strstr (error->message, "other columns"));
  }
}

/* kill -9 in the middle of the import, once every row it got in was sent:
 * nothing is left queued, but the rest of the list is still to send, so the
 * batch is offered for resume (ms_journal_list_unfinished(): blast list,
 * blast resume, the window's offer) and says that its list is not all in. */
static void
test_overlap_kill_all_sent (void)
{
  g_autofree char *db = ms_test_tmp_path ("overlap-kill-all-sent.sqlite");
  g_autofree char *csv = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsImportJob) rest = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GPtrArray) unfinished = NULL;
  MsBatchInfo *offered = NULL;
  guint line = 0;
  gint64 batch = 1;
  pid_t pid;
  int status;

  csv = write_big_csv ("overlap-kill-all-sent", 2600, NULL);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autoptr(MsJournal) child = ms_journal_open (db, NULL);
      g_autoptr(MsJournal) run = ms_journal_open (db, NULL);
      g_autoptr(GPtrArray) claimed = NULL;
      g_autofree MsJournalOutcome *sent = NULL;
      MsImportJob *job;
      MsBatchSpec spec;

      init_spec (&spec);
      job = ms_import_start (child, &spec, csv, NULL, NULL, NULL, NULL, NULL, NULL);
      if (job == NULL)
        _exit (3);
      /* The run sends every row of the first chunk before the import's
       * next chunk goes in, and its status says running. */
      if (!ms_journal_set_batch_status (run, ms_import_job_get_batch (job), MS_BATCH_RUNNING, NULL, NULL))
        _exit (4);
      claimed = ms_journal_claim (run, ms_import_job_get_batch (job), 5000, g_get_real_time () / G_USEC_PER_SEC,
                                  NULL);
      if (claimed == NULL || claimed->len != 1000)
        _exit (5);
      sent = g_new0 (MsJournalOutcome, claimed->len);
      for (guint i = 0; i < claimed->len; i++)
        {
          sent[i].row_id = ((MsJournalRow *) g_ptr_array_index (claimed, i))->id;
          sent[i].state = MS_STATE_SENT;
          sent[i].reply_code = 250;
        }
      if (!ms_journal_record (run, sent, claimed->len, NULL))
        _exit (6);
      kill (getpid (), SIGKILL);
      _exit (7);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));

  journal = ms_journal_open (db, &error);
  g_assert_no_error (error);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, 1000);
  g_assert_cmpuint (info->total, ==, 1000);
  g_assert_true (info->import_unfinished);
  g_clear_pointer (&info, ms_batch_info_free);

  unfinished = ms_journal_list_unfinished (journal, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < unfinished->len; i++)
    if (((MsBatchInfo *) g_ptr_array_index (unfinished, i))->id == batch)
      offered = g_ptr_array_index (unfinished, i);
  g_assert_nonnull (offered);
  g_assert_true (offered->import_unfinished);

  /* The resume it offers imports the rest. */
  g_assert_true (ms_journal_get_import_line (journal, batch, &line, &error));
  g_assert_cmpuint (line, ==, 1001);
  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  rest = ms_import_resume (db, batch, line, &error);
  g_assert_no_error (error);
  g_assert_true (ms_import_job_run (rest, NULL, NULL, &error));
  g_assert_no_error (error);
  ms_journal_unlock_batch (journal, batch);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_false (info->import_unfinished);
  g_assert_cmpuint (info->total, ==, 2600);
  g_assert_cmpuint (info->counts[MS_STATE_QUEUED], ==, 1600);
}

/* In a child: start the import sent while it goes on of @csv into @db,
 * record the first @n_sent rows sent, and die with kill -9. */
static void
import_and_die (const char *db,
                const char *csv,
                guint       n_sent)
{
  pid_t pid = fork ();
  int status;

  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    {
      g_autoptr(MsJournal) child = ms_journal_open (db, NULL);
      g_autoptr(MsJournal) run = ms_journal_open (db, NULL);
      g_autoptr(GPtrArray) claimed = NULL;
      g_autofree MsJournalOutcome *sent = g_new0 (MsJournalOutcome, n_sent);
      MsImportJob *job;
      MsBatchSpec spec;

      init_spec (&spec);
      job = ms_import_start (child, &spec, csv, NULL, NULL, NULL, NULL, NULL, NULL);
      if (job == NULL)
        _exit (3);
      claimed = ms_journal_claim (run, ms_import_job_get_batch (job), n_sent, g_get_real_time () / G_USEC_PER_SEC,
                                  NULL);
      if (claimed == NULL || claimed->len != n_sent)
        _exit (4);
      for (guint i = 0; i < n_sent; i++)
        {
          sent[i].row_id = ((MsJournalRow *) g_ptr_array_index (claimed, i))->id;
          sent[i].state = MS_STATE_SENT;
          sent[i].reply_code = 250;
        }
      if (!ms_journal_record (run, sent, n_sent, NULL))
        _exit (5);
      kill (getpid (), SIGKILL);
      _exit (6);
    }
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  g_assert_true (WIFSIGNALED (status));
}

/* A resume reads the rest of the list from the file the import began with:
 * the same columns with other rows (an address edited in place, the same
 * size) are refused, naming the file and what to do, and nothing more goes
 * in; the file put back as it was (its mtime newer) is taken. */
static void
test_overlap_kill_changed_file (void)
{
  g_autofree char *db = ms_test_tmp_path ("overlap-changed.sqlite");
  g_autofree char *csv = NULL;
  g_autofree char *original = NULL;
  g_autofree char *changed = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsImportJob) rest = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  gsize length;
  char *at;
  guint line = 0;
  gint64 batch = 1;

  csv = write_big_csv ("overlap-changed", 2600, NULL);
  import_and_die (db, csv, 10);
  g_assert_true (g_file_get_contents (csv, &original, &length, NULL));

  journal = ms_journal_open (db, &error);
  g_assert_no_error (error);
  g_assert_true (ms_journal_get_import_line (journal, batch, &line, &error));
  g_assert_cmpuint (line, ==, 1001);

  /* A row after the import stopped, edited in place: same header, size. */
  changed = g_strdup (original);
  at = strstr (changed, "r2000@example.net");
  g_assert_nonnull (at);
  *at = 'x';
  g_assert_cmpuint (strlen (changed), ==, length);
  g_assert_true (g_file_set_contents (csv, changed, -1, NULL));
  rest = ms_import_resume (db, batch, line, &error);
  g_assert_null (rest);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, csv));
  g_assert_nonnull (strstr (error->message, "has changed since batch 1"));
  g_assert_nonnull (strstr (error->message, "Put the file back"));
  g_assert_nonnull (strstr (error->message, "The 10 messages already sent stay sent"));
  g_clear_error (&error);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpuint (info->total, ==, 1000);
  g_assert_true (info->import_unfinished);
  g_clear_pointer (&info, ms_batch_info_free);

  /* Rows added at the end are another file too. */
  {
    g_autofree char *longer = g_strconcat (original, "New,new@example.net\n", NULL);

    g_assert_true (g_file_set_contents (csv, longer, -1, NULL));
    rest = ms_import_resume (db, batch, line, &error);
    g_assert_null (rest);
    g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
    g_clear_error (&error);
  }

  /* Put back as it was (written again: a newer mtime): taken. */
  g_assert_true (g_file_set_contents (csv, original, -1, NULL));
  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  rest = ms_import_resume (db, batch, line, &error);
  g_assert_no_error (error);
  g_assert_true (ms_import_job_run (rest, NULL, NULL, &error));
  g_assert_no_error (error);
  ms_journal_unlock_batch (journal, batch);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpuint (info->total, ==, 2600);
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, 10);
  g_assert_false (info->import_unfinished);
}

/* A list that is whole after the first chunk is sent with the lock its
 * import took: kill -9 while it is sent keeps the batch and what was sent
 * (recovered, not removed as an import that died half way). */
static void
test_overlap_kill_short_list (void)
{
  g_autofree char *db = ms_test_tmp_path ("overlap-short.sqlite");
  g_autofree char *csv = write_big_csv ("overlap-short", 40, NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;

  import_and_die (db, csv, 10);
  journal = ms_journal_open (db, &error);
  g_assert_no_error (error);
  info = ms_journal_get_batch_info (journal, 1, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->total, ==, 40);
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, 10);
  g_assert_false (info->import_unfinished);
}

/* The preview and the dry run find the duplicates as the import does, also
 * past the 50,000 addresses they keep in memory (the rest go to a temporary
 * file): a late duplicate of an early address and of a late one. */
static void
test_preview_many (void)
{
  g_autofree char *csv = write_big_csv ("preview-many", 120000,
                                        "Early,R7@example.net\nLate,r110000@EXAMPLE.net\nNul,x\n");
  static const char nul_row[] = "N\0l,nul@example.net\n";
  g_autoptr(GError) append_error = NULL;
  g_autofree char *db = ms_test_tmp_path ("preview-many.sqlite");
  g_autoptr(GError) error = NULL;
  g_autoptr(MsImportPreview) preview = ms_import_preview (csv, NULL, &error);
  g_autoptr(MsJournal) journal = ms_journal_open (db, &error);
  g_autoptr(GBytes) message = NULL;
  const MsImportProblem *problems;
  MsImportSummary imported = { 0 }, dry = { 0 };
  MsBatchSpec spec;
  guint n = 0;

  /* And a NUL byte in a value: the preview counted it nowhere. */
  {
    g_autofree char *contents = NULL;
    gsize len;
    g_autoptr(GString) all = NULL;

    g_assert_true (g_file_get_contents (csv, &contents, &len, NULL));
    all = g_string_new_len (contents, len);
    g_string_append_len (all, nul_row, sizeof nul_row - 1);
    g_assert_true (g_file_set_contents (csv, all->str, all->len, &append_error));
    g_clear_pointer (&preview, ms_import_preview_free);
    preview = ms_import_preview (csv, NULL, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpuint (ms_import_preview_get_summary (preview)->nul_byte, ==, 1);
  g_assert_cmpuint (ms_import_preview_get_summary (preview)->imported, ==, 120000);
  g_assert_cmpuint (ms_import_preview_get_summary (preview)->duplicates, ==, 2);
  problems = ms_import_preview_get_problems (preview, &n);
  g_assert_cmpuint (n, ==, 4);
  g_assert_cmpuint (problems[0].line, ==, 120002);
  g_assert_true (problems[0].duplicate);
  g_assert_cmpuint (problems[1].line, ==, 120003);
  g_assert_true (problems[1].duplicate);

  init_spec (&spec);
  message = ms_import_dry_run (&spec, csv, NULL, 110000, NULL, &dry, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (&dry, sizeof dry, ms_import_preview_get_summary (preview), sizeof dry);
  clear_spec (&spec);
  init_spec (&spec);
  g_assert_cmpint (ms_import_csv (journal, &spec, csv, NULL, NULL, NULL, NULL, &imported, &error), >, 0);
  g_assert_no_error (error);
  g_assert_cmpmem (&imported, sizeof imported, ms_import_preview_get_summary (preview), sizeof imported);
  clear_spec (&spec);
}

/* `blast send --dry-run` over 600,000 rows, as a user runs it: its peak RSS
 * (by /usr/bin/time) stays that of a small list. It held every address,
 * 181 MB for a million. */
static void
test_dry_run_memory (void)
{
  g_autofree char *csv = write_big_csv ("dry-many", 600000, NULL);
  g_autofree char *text = ms_test_tmp_path ("dry-many.txt");
  g_autofree char *rss = ms_test_tmp_path ("dry-many.rss");
  const char *argv[] = { "/usr/bin/time", "-f", "%M", "-o", rss, g_getenv ("MS_CLI"), "blast", "send",
                         "--recipients", csv, "--subject", "Hi {{name}}", "--text", text, "--dry-run", NULL };
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *peak = NULL;
  int status = 0;
  guint64 peak_kb;

#ifdef MS_TEST_SANITIZER
  g_test_skip ("built with a sanitizer: its shadow memory makes peak RSS meaningless");
  return;
#endif
  if (!g_file_test ("/usr/bin/time", G_FILE_TEST_IS_EXECUTABLE) || g_getenv ("MS_CLI") == NULL)
    {
      g_test_skip ("needs /usr/bin/time and MS_CLI (run through meson)");
      return;
    }
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, NULL, "config", "set", "smtp-server", "127.0.0.1", NULL), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, NULL, "config", "set", "email-address", "news@example.org", NULL), ==, 0);
  g_assert_true (g_file_set_contents (text, "Hello {{name}}\n", -1, NULL));
  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, NULL, &status,
                               &error));
  g_assert_no_error (error);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  g_assert_nonnull (strstr (out, "Recipients: 600000\n"));
  g_assert_true (g_file_get_contents (rss, &peak, NULL, NULL));
  peak_kb = g_ascii_strtoull (peak, NULL, 10);
  g_test_message ("dry run of 600,000 rows: peak RSS %" G_GUINT64_FORMAT " kB", peak_kb);
  g_assert_cmpuint (peak_kb, <, 40 * 1024);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  g_test_add_func ("/mailshot/import/preview-counts", test_preview_counts);
  g_test_add_func ("/mailshot/import/preview-matches-import", test_preview_matches_import);
  g_test_add_func ("/mailshot/import/preview-no-address-column", test_preview_no_address_column);
  g_test_add_func ("/mailshot/import/preview-errors", test_preview_errors);
  g_test_add_func ("/mailshot/import/dry-run", test_dry_run);
  g_test_add_func ("/mailshot/import/preview-recipients", test_preview_recipients);
  g_test_add_func ("/mailshot/import/overlap-late-error", test_overlap_late_error);
  g_test_add_func ("/mailshot/import/overlap-counts", test_overlap_counts);
  g_test_add_func ("/mailshot/import/overlap-kill", test_overlap_kill);
  g_test_add_func ("/mailshot/import/overlap-kill-all-sent", test_overlap_kill_all_sent);
  g_test_add_func ("/mailshot/import/overlap-kill-changed-file", test_overlap_kill_changed_file);
  g_test_add_func ("/mailshot/import/overlap-kill-short-list", test_overlap_kill_short_list);
  g_test_add_func ("/mailshot/import/preview-many", test_preview_many);
  g_test_add_func ("/mailshot/import/dry-run-memory", test_dry_run_memory);
  return g_test_run ();
}
