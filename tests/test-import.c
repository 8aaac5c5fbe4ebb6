/* test-import.c: the import preview and the dry run (ms-import), against real files
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

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
  return g_test_run ();
}
