/* test-journal.c: the SQLite journal: schema, import, claim/record, crash recovery, locks
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE 1   /* unshare() */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "mailshot-core.h"
#include "ms-test-support.h"

static char *
tmp_db (const char *name)
{
  g_autofree char *file = g_strdup_printf ("%s-%u.sqlite", name, g_random_int ());

  return ms_test_tmp_path (file);
}

static int
raw_int (const char *path,
         const char *sql)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *stmt = NULL;
  int value = -1;

  g_assert_cmpint (sqlite3_open_v2 (path, &db, SQLITE_OPEN_READONLY, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    value = sqlite3_column_int (stmt, 0);
  sqlite3_finalize (stmt);
  sqlite3_close (db);
  return value;
}

static void
raw_exec (const char *path,
          const char *sql)
{
  sqlite3 *db = NULL;

  g_assert_cmpint (sqlite3_open (path, &db), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  sqlite3_close (db);
}

static MsBatchSpec *
make_spec (void)
{
  static const char *fields[] = { "email", "name", "note", NULL };
  static const char *attachments[] = { "/tmp/a.pdf", "/tmp/été.png", NULL };
  MsBatchSpec spec = {
    .account = (char *) "default",
    .from_address = (char *) "sender@example.org",
    .from_name = (char *) "Sender Ñame",
    .subject = (char *) "Hello {{name}}",
    .text = (char *) "Dear {{name}},\nhi.\n",
    .html = NULL,
    .attachments = (char **) attachments,
    .unsubscribe = (char *) "mailto:unsub@example.org",
    .fields = (char **) fields,
    .email_index = 0,
    .source = (char *) "list.csv",
  };

  return ms_batch_spec_copy (&spec);
}

/* A batch of @n rows: rNNN@example.org. */
static gint64
make_batch (MsJournal *journal,
            guint      n)
{
  g_autoptr(MsBatchSpec) spec = make_spec ();
  g_autoptr(GError) error = NULL;
  gint64 batch;

  batch = ms_journal_create_batch (journal, spec, &error);
  g_assert_no_error (error);
  g_assert_cmpint (batch, >, 0);

  g_assert_true (ms_journal_begin (journal, &error));
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *address = g_strdup_printf ("r%u@example.org", i);
      g_autofree char *name = g_strdup_printf ("Name %u", i);
      const char *values[] = { address, name, "", NULL };
      gboolean duplicate = TRUE;

      g_assert_true (ms_journal_add_recipient (journal, batch, address, values, i + 2,
                                               &duplicate, &error));
      g_assert_no_error (error);
      g_assert_false (duplicate);
    }
  g_assert_true (ms_journal_commit (journal, &error));
  g_assert_no_error (error);
  return batch;
}

static MsJournal *
open_journal (const char *path)
{
  g_autoptr(GError) error = NULL;
  MsJournal *journal = ms_journal_open (path, &error);

  g_assert_no_error (error);
  g_assert_nonnull (journal);
  return journal;
}

/* Schema --------------------------------------------------------------------- */

static void
test_schema (void)
{
  g_autofree char *path = tmp_db ("schema");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsJournal) again = NULL;
  g_autoptr(MsJournal) default_journal = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  GStatBuf st;

  g_assert_cmpstr (ms_journal_get_path (journal), ==, path);
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, 5);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM sqlite_master WHERE name IN ('batches', 'recipients')"), ==, 2);
  g_assert_cmpint (raw_int (path, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), ==, 1);

  make_batch (journal, 3);
  g_clear_object (&journal);

  /* Reopening keeps the data and does not migrate again. */
  again = open_journal (path);
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, 5);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipients"), ==, 3);

  /* The default place is under the user data dir, in a private folder. */
  default_journal = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  expected = g_build_filename (g_get_user_data_dir (), "mailshot", "journal.sqlite", NULL);
  g_assert_cmpstr (ms_journal_get_path (default_journal), ==, expected);
  g_assert_true (g_file_test (expected, G_FILE_TEST_IS_REGULAR));
  {
    g_autofree char *dir = g_path_get_dirname (expected);

    g_assert_cmpint (g_stat (dir, &st), ==, 0);
    g_assert_cmpint (st.st_mode & 0777, ==, 0700);
  }
}

static void
test_migration (void)
{
  g_autofree char *v0 = tmp_db ("v0");
  g_autofree char *future = tmp_db ("future");
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GError) error = NULL;

  /* A version-0 file (created by hand, no schema yet) is migrated. */
  raw_exec (v0, "PRAGMA user_version = 0; CREATE TABLE notes (x);");
  journal = open_journal (v0);
  g_assert_cmpint (raw_int (v0, "PRAGMA user_version"), ==, 5);
  g_assert_cmpint (raw_int (v0, "SELECT count(*) FROM sqlite_master WHERE name = 'recipients_claim'"), ==, 1);
  make_batch (journal, 2);
  g_clear_object (&journal);

  /* A journal from a newer Mailshot is refused with a sentence, untouched. */
  raw_exec (future, "PRAGMA user_version = 99;");
  journal = ms_journal_open (future, &error);
  g_assert_null (journal);
  g_assert_error (error, MS_ERROR, MS_ERROR_JOURNAL);
  g_assert_nonnull (strstr (error->message, "newer version"));
  g_assert_nonnull (strstr (error->message, future));
  g_assert_cmpint (raw_int (future, "PRAGMA user_version"), ==, 99);
}

/* Schema 1, as released: the duplicate keys were a UNIQUE constraint of
 * the recipients table. */
static const char recipients_v1[] =
  "CREATE TABLE recipients_1 ("
  "  id INTEGER PRIMARY KEY,"
  "  batch INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,"
  "  address TEXT NOT NULL,"
  "  address_key INTEGER NOT NULL,"
  "  vals BLOB,"
  "  line INTEGER NOT NULL DEFAULT 0,"
  "  state INTEGER NOT NULL DEFAULT 0,"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  reply_code INTEGER NOT NULL DEFAULT 0,"
  "  reply_text TEXT,"
  "  reply_class TEXT,"
  "  advice TEXT,"
  "  message_id TEXT,"
  "  queued_at INTEGER NOT NULL DEFAULT 0,"
  "  first_attempt_at INTEGER NOT NULL DEFAULT 0,"
  "  sent_at INTEGER NOT NULL DEFAULT 0,"
  "  next_due INTEGER NOT NULL DEFAULT 0,"
  "  updated_at INTEGER NOT NULL DEFAULT 0,"
  "  UNIQUE (batch, address_key)"
  ");"
  "INSERT INTO recipients_1 SELECT id, batch, address, address_key, vals, line, state, attempts, reply_code,"
  "  reply_text, reply_class, advice, message_id, queued_at, first_attempt_at, sent_at, next_due, updated_at"
  "  FROM recipients;"
  "DROP TABLE recipients;"
  "DROP TABLE recipient_keys;"
  "DROP TABLE left_out;"         /* schema 3's */
  "ALTER TABLE batches DROP COLUMN import_unfinished;"   /* schema 4's */
  "ALTER TABLE batches DROP COLUMN source_size;"         /* schema 5's */
  "ALTER TABLE batches DROP COLUMN source_mtime;"
  "ALTER TABLE batches DROP COLUMN source_sha256;"
  "ALTER TABLE recipients_1 RENAME TO recipients;"
  "CREATE INDEX recipients_claim ON recipients (batch, state, next_due);"
  "CREATE INDEX recipients_batch ON recipients (batch);"
  "CREATE INDEX recipients_sent ON recipients (sent_at) WHERE state = 2;"
  "PRAGMA user_version = 1;";

static void
add_one (MsJournal  *journal,
         gint64      batch,
         const char *address,
         gboolean    expect_duplicate)
{
  g_autoptr(GError) error = NULL;
  const char *values[] = { address, "", "", NULL };
  gboolean duplicate = !expect_duplicate;

  g_assert_true (ms_journal_add_recipient (journal, batch, address, values, 9, &duplicate, &error));
  g_assert_no_error (error);
  g_assert_cmpint (duplicate, ==, expect_duplicate);
}

/* An import left open: the batch created inside its transaction, then
 * p0@example.org to p2999@example.org, none a duplicate. */
static gint64
begin_import_3000 (MsJournal   *journal,
                   MsBatchSpec *spec)
{
  g_autoptr(GError) error = NULL;
  gint64 batch;

  g_assert_true (ms_journal_begin (journal, &error));
  batch = ms_journal_create_batch (journal, spec, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < 3000; i++)
    {
      g_autofree char *address = g_strdup_printf ("p%u@example.org", i);

      add_one (journal, batch, address, FALSE);
    }
  return batch;
}

/* Duplicates inside one import (whose keys wait in memory until the commit),
 * against an earlier import, and in a journal migrated from schema 1. */
static void
test_duplicate_keys (void)
{
  g_autofree char *path = tmp_db ("keys");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsBatchSpec) spec = make_spec ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  gint64 batch, old_batch;
  guint counts[MS_N_STATES];

  /* An import: the batch is created inside the transaction. */
  batch = begin_import_3000 (journal, spec);
  add_one (journal, batch, "P17@Example.ORG", TRUE);
  add_one (journal, batch, "p2999@example.org", TRUE);
  /* A savepoint in between (a nested begin) keeps what came before it. */
  g_assert_true (ms_journal_begin (journal, &error));
  add_one (journal, batch, "p5@example.org", TRUE);
  add_one (journal, batch, "nested@example.org", FALSE);
  ms_journal_rollback (journal);   /* the whole import goes */
  g_assert_false (ms_journal_get_counts (journal, batch, counts, &error) && counts[MS_STATE_QUEUED] > 0);
  g_clear_error (&error);

  batch = begin_import_3000 (journal, spec);
  add_one (journal, batch, "P17@Example.ORG", TRUE);
  g_assert_true (ms_journal_begin (journal, &error));
  add_one (journal, batch, "p5@example.org", TRUE);
  add_one (journal, batch, "nested@example.org", FALSE);
  g_assert_true (ms_journal_commit (journal, &error));
  add_one (journal, batch, "NESTED@example.org", TRUE);
  add_one (journal, batch, "last@example.org", FALSE);
  g_assert_true (ms_journal_commit (journal, &error));
  g_assert_no_error (error);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipient_keys"), ==, 3002);

  /* After the commit, from the table. */
  add_one (journal, batch, "p2500@EXAMPLE.org", TRUE);
  add_one (journal, batch, "Last@example.org", TRUE);
  add_one (journal, batch, "later@example.org", FALSE);
  old_batch = batch;

  /* Back to schema 1, then opened again: migrated, and the keys still hold. */
  g_clear_object (&journal);
  raw_exec (path, recipients_v1);
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, 1);
  journal = open_journal (path);
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, 5);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipient_keys"), ==, 3003);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM sqlite_master WHERE tbl_name = 'recipients'"
                                  " AND name LIKE 'sqlite_autoindex%'"), ==, 0);
  add_one (journal, old_batch, "P1234@example.org", TRUE);
  add_one (journal, old_batch, "later@example.org", TRUE);
  add_one (journal, old_batch, "new@example.org", FALSE);
  rows = ms_journal_list_rows (journal, old_batch, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 3004);
  /* An edit onto another row's address is refused; onto a free one works. */
  g_assert_false (ms_journal_set_row_address (journal, ((MsJournalRow *) rows->pdata[0])->id,
                                              "p1@example.org", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_true (ms_journal_set_row_address (journal, ((MsJournalRow *) rows->pdata[0])->id,
                                             "fixed@example.org", &error));
  g_assert_no_error (error);
  add_one (journal, old_batch, "p0@example.org", FALSE);   /* its old key is free again */
  add_one (journal, old_batch, "Fixed@example.org", TRUE);
}

/* The rows an import leaves out: a table of schema 3, filled by
 * ms_import_csv() in the import's transaction, listed in line order. */
static void
test_left_out (void)
{
  g_autofree char *path = tmp_db ("left-out");
  g_autofree char *csv = ms_test_tmp_path ("left-out.csv");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsBatchSpec) spec = make_spec ();
  g_autoptr(GPtrArray) list = NULL;
  g_autoptr(GError) error = NULL;
  const char *values[] = { "not-an-address", "Ann", "", NULL };
  MsJournalLeftOut *l;
  MsImportSummary summary;
  gint64 old_batch, batch;

  /* A journal of schema 2, with a batch, is migrated: the batch stays, with none left out. */
  old_batch = make_batch (journal, 2);
  g_clear_object (&journal);
  raw_exec (path, "DROP TABLE left_out; ALTER TABLE batches DROP COLUMN import_unfinished;"
            " ALTER TABLE batches DROP COLUMN source_size; ALTER TABLE batches DROP COLUMN source_mtime;"
            " ALTER TABLE batches DROP COLUMN source_sha256; PRAGMA user_version = 2;");
  journal = open_journal (path);
  g_assert_cmpint (raw_int (path, "PRAGMA user_version"), ==, 5);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM sqlite_master WHERE name = 'left_out'"), ==, 1);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipients"), ==, 2);
  list = ms_journal_list_left_out (journal, old_batch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 0);
  g_clear_pointer (&list, g_ptr_array_unref);

  /* Added in a transaction, they go with it. */
  g_assert_true (ms_journal_begin (journal, &error));
  g_assert_true (ms_journal_add_left_out (journal, old_batch, 9, values, "Line 9: bad.", &error));
  g_assert_no_error (error);
  ms_journal_rollback (journal);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM left_out"), ==, 0);
  g_assert_false (ms_journal_add_left_out (journal, 999, 2, NULL, "Line 2: bad.", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* An import keeps each row it leaves out, with its line and the reason it
   * gave; its values when it read the row as one. */
  g_assert_true (g_file_set_contents (csv,
                                      "email,name,note\n"
                                      "ann@example.org,Ann,\n"             /* 2 */
                                      "not-an-address,Bob,x\n"             /* 3 */
                                      "carl@example.org,Carl\n"            /* 4 */
                                      "dan@example.org,Dan,x,extra\n"      /* 5 */
                                      ",Eve,\n"                            /* 6 */
                                      "ann@example.org,Ann again,\n",      /* 7: a duplicate, not left out */
                                      -1, NULL));
  g_clear_pointer (&spec->fields, g_strfreev);
  g_clear_pointer (&spec->attachments, g_strfreev);   /* not files here */
  batch = ms_import_csv (journal, spec, csv, NULL, NULL, NULL, NULL, &summary, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (summary.left_out, ==, 4);
  g_assert_cmpuint (summary.imported, ==, 1);
  list = ms_journal_list_left_out (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, summary.left_out);

  l = list->pdata[0];
  g_assert_cmpint (l->batch, ==, batch);
  g_assert_cmpuint (l->line, ==, 3);
  g_assert_cmpstr (l->address, ==, "not-an-address");
  g_assert_cmpstr (l->values[1], ==, "Bob");
  g_assert_cmpstr (l->reason, ==, "Line 3: “not-an-address” is not a valid e-mail address.");
  l = list->pdata[1];
  g_assert_cmpuint (l->line, ==, 4);
  g_assert_null (l->address);
  g_assert_null (l->values);
  g_assert_true (g_str_has_prefix (l->reason, "Line 4: expected 3 fields, got 2."));
  l = list->pdata[2];
  g_assert_cmpuint (l->line, ==, 5);
  g_assert_true (g_str_has_prefix (l->reason, "Line 5: expected 3 fields, got 4."));
  l = list->pdata[3];
  g_assert_cmpuint (l->line, ==, 6);
  g_assert_cmpstr (l->address, ==, "");
  g_assert_cmpstr (l->values[1], ==, "Eve");
  g_assert_true (g_str_has_prefix (l->reason, "Line 6: the address"));
}

static void
test_corrupt (void)
{
  g_autofree char *garbage = tmp_db ("garbage");
  g_autofree char *damaged = tmp_db ("damaged");
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  GString *junk = g_string_new (NULL);

  for (guint i = 0; i < 512; i++)
    g_string_append (junk, "not a database! ");
  g_assert_true (g_file_set_contents (garbage, junk->str, junk->len, NULL));
  journal = ms_journal_open (garbage, &error);
  g_assert_null (journal);
  g_assert_error (error, MS_ERROR, MS_ERROR_JOURNAL);
  g_assert_nonnull (strstr (error->message, garbage));
  g_assert_nonnull (strstr (error->message, "Move the file aside"));
  g_clear_error (&error);

  /* A real journal whose pages were overwritten: opening or reading fails
   * with the same kind of error, never a crash. */
  journal = open_journal (damaged);
  make_batch (journal, 2000);
  g_clear_object (&journal);
  {
    g_autofree char *contents = NULL;
    gsize len;

    g_assert_true (g_file_get_contents (damaged, &contents, &len, NULL));
    g_assert_cmpuint (len, >, 16384);
    for (gsize i = 4096; i < len; i++)
      contents[i] = (char) (i * 7);
    g_assert_true (g_file_set_contents (damaged, contents, len, NULL));
  }
  journal = ms_journal_open (damaged, &error);
  if (journal != NULL)
    {
      g_autoptr(GPtrArray) rows = ms_journal_list_rows (journal, 0, NULL, 0, &error);

      g_assert_null (rows);
    }
  g_assert_error (error, MS_ERROR, MS_ERROR_JOURNAL);
  g_assert_nonnull (strstr (error->message, damaged));
  g_string_free (junk, TRUE);
}

/* Import ---------------------------------------------------------------------- */

static void
test_import (void)
{
  g_autofree char *path = tmp_db ("import");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsBatchSpec) spec = make_spec ();
  g_autoptr(MsBatchSpec) back = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  const char *addresses[] = {
    "Ann@Example.org", "bob@example.org", "ann@example.ORG", "BOB@EXAMPLE.ORG",
    "zoë@exämple.org", "ZOË@EXÄMPLE.ORG", "carl@example.org",
  };
  const gboolean expect_dup[] = { FALSE, FALSE, TRUE, TRUE, FALSE, TRUE, FALSE };
  guint duplicates = 0;
  gint64 batch, other;

  batch = ms_journal_create_batch (journal, spec, &error);
  g_assert_no_error (error);

  g_assert_true (ms_journal_begin (journal, &error));
  for (guint i = 0; i < G_N_ELEMENTS (addresses); i++)
    {
      const char *values[] = { addresses[i], "x", "y", NULL };
      gboolean duplicate = FALSE;

      g_assert_true (ms_journal_add_recipient (journal, batch, addresses[i], values, i + 2,
                                               &duplicate, &error));
      g_assert_no_error (error);
      g_assert_cmpint (duplicate, ==, expect_dup[i]);
      duplicates += duplicate;
    }
  g_assert_true (ms_journal_commit (journal, &error));
  g_assert_cmpuint (duplicates, ==, 3);

  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->total, ==, 4);
  g_assert_cmpuint (info->counts[MS_STATE_QUEUED], ==, 4);
  g_assert_cmpint (info->status, ==, MS_BATCH_READY);
  g_assert_cmpstr (info->subject, ==, "Hello {{name}}");
  g_assert_cmpstr (info->account, ==, "default");
  g_assert_null (info->pause_reason);

  /* The first spelling is kept. */
  {
    g_autoptr(GPtrArray) rows = ms_journal_list_rows (journal, batch, NULL, 0, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, 4);
    g_assert_cmpstr (((MsJournalRow *) rows->pdata[0])->address, ==, "Ann@Example.org");
    g_assert_cmpstr (((MsJournalRow *) rows->pdata[2])->address, ==, "zoë@exämple.org");
    g_assert_cmpuint (((MsJournalRow *) rows->pdata[3])->line, ==, 8);
    g_assert_cmpint (((MsJournalRow *) rows->pdata[3])->queued_at, >, 0);
  }

  /* Duplicates are per batch: another batch takes the same address. */
  other = ms_journal_create_batch (journal, spec, &error);
  g_assert_no_error (error);
  {
    const char *values[] = { "ann@example.org", "", "", NULL };
    gboolean duplicate = TRUE;

    g_assert_true (ms_journal_add_recipient (journal, other, "ann@example.org", values, 2,
                                             &duplicate, &error));
    g_assert_false (duplicate);
  }

  /* A row for a batch that does not exist is refused. */
  {
    const char *values[] = { "x@example.org", NULL };

    g_assert_false (ms_journal_add_recipient (journal, 4242, "x@example.org", values, 2, NULL, &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
    g_clear_error (&error);
  }

  /* Two addresses whose duplicate keys collide are still told apart: make
   * carl's key belong to another address, as a hash collision would. */
  g_clear_object (&journal);
  {
    g_autofree char *sql = g_strdup_printf ("UPDATE recipients SET address = 'dora@example.org' "
                                            "WHERE address = 'carl@example.org' AND batch = %" G_GINT64_FORMAT,
                                            batch);
    raw_exec (path, sql);
  }
  journal = open_journal (path);
  {
    const char *values[] = { "carl@example.org", "", "", NULL };
    gboolean duplicate = TRUE;
    g_autoptr(GPtrArray) rows = NULL;

    g_assert_true (ms_journal_add_recipient (journal, batch, "carl@example.org", values, 20,
                                             &duplicate, &error));
    g_assert_false (duplicate);
    g_assert_true (ms_journal_add_recipient (journal, batch, "CARL@example.org", values, 21,
                                             &duplicate, &error));
    g_assert_true (duplicate);
    g_assert_true (ms_journal_add_recipient (journal, batch, "Dora@example.org", values, 22,
                                             &duplicate, &error));
    g_assert_false (duplicate);   /* dora's own key is free */

    rows = ms_journal_list_rows (journal, batch, NULL, 0, &error);
    g_assert_cmpuint (rows->len, ==, 6);
    /* An edit onto an address that probed past a collision is refused too. */
    g_assert_false (ms_journal_set_row_address (journal, ((MsJournalRow *) rows->pdata[0])->id,
                                                "Carl@Example.org", &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
    g_assert_nonnull (strstr (error->message, "already has the recipient"));
    g_clear_error (&error);
  }

  back = ms_journal_get_batch_spec (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (back->account, ==, spec->account);
  g_assert_cmpstr (back->from_address, ==, spec->from_address);
  g_assert_cmpstr (back->from_name, ==, spec->from_name);
  g_assert_cmpstr (back->subject, ==, spec->subject);
  g_assert_cmpstr (back->text, ==, spec->text);
  g_assert_null (back->html);
  g_assert_true (g_strv_equal ((const char * const *) back->attachments,
                               (const char * const *) spec->attachments));
  g_assert_cmpstr (back->unsubscribe, ==, spec->unsubscribe);
  g_assert_true (g_strv_equal ((const char * const *) back->fields,
                               (const char * const *) spec->fields));
  g_assert_cmpuint (back->email_index, ==, 0);
  g_assert_cmpstr (back->source, ==, "list.csv");

  g_assert_null (ms_journal_get_batch_spec (journal, 4242, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "No batch 4242"));
  g_assert_nonnull (strstr (error->message, "blast list"));
  g_clear_error (&error);

  /* A rolled-back import leaves nothing. */
  g_assert_true (ms_journal_begin (journal, &error));
  {
    const char *values[] = { "late@example.org", "", "", NULL };

    g_assert_true (ms_journal_add_recipient (journal, batch, "late@example.org", values, 9, NULL, &error));
  }
  ms_journal_rollback (journal);
  {
    guint counts[MS_N_STATES];

    g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
    g_assert_cmpuint (counts[MS_STATE_QUEUED], ==, 6);
  }
}

static void
test_values (void)
{
  g_autofree char *path = tmp_db ("values");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsBatchSpec) spec = make_spec ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) claimed = NULL;
  const char *rows[][5] = {
    { "a@example.org", "line one\nline two\r\nthree", "", "", NULL },
    { "b@example.org", "", "", "trailing empty ->", NULL },
    { "c@example.org", "Zoë 👋 日本語", "\t tabs and \"quotes\", commas", "\\0 not a nul", NULL },
  };
  const char *empty_row[] = { NULL };
  gint64 batch;

  g_free (spec->fields[2]);
  spec->fields[2] = g_strdup ("");   /* an empty header name round-trips too */
  batch = ms_journal_create_batch (journal, spec, &error);
  g_assert_no_error (error);

  g_assert_true (ms_journal_begin (journal, &error));
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    g_assert_true (ms_journal_add_recipient (journal, batch, rows[i][0], rows[i], i + 2, NULL, &error));
  g_assert_true (ms_journal_add_recipient (journal, batch, "d@example.org", empty_row, 5, NULL, &error));
  g_assert_true (ms_journal_commit (journal, &error));
  g_clear_object (&journal);

  journal = open_journal (path);
  claimed = ms_journal_claim (journal, batch, 10, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 4);
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      MsJournalRow *row = claimed->pdata[i];

      g_assert_cmpuint (g_strv_length (row->values), ==, 4);
      g_assert_true (g_strv_equal ((const char * const *) row->values, rows[i]));
    }
  g_assert_cmpuint (g_strv_length (((MsJournalRow *) claimed->pdata[3])->values), ==, 0);

  {
    g_autoptr(MsBatchSpec) back = ms_journal_get_batch_spec (journal, batch, &error);

    g_assert_cmpuint (g_strv_length (back->fields), ==, 3);
    g_assert_cmpstr (back->fields[2], ==, "");
  }
}

/* Claim and record ------------------------------------------------------------- */

static MsJournalRow *
find_row (MsJournal *journal,
          gint64     batch,
          gint64     id)
{
  g_autoptr(GPtrArray) rows = ms_journal_list_rows (journal, batch, NULL, 0, NULL);

  for (guint i = 0; i < rows->len; i++)
    {
      MsJournalRow *row = rows->pdata[i];

      if (row->id == id)
        return g_ptr_array_steal_index (rows, i);
    }
  g_assert_not_reached ();
}

static void
test_claim_record (void)
{
  g_autofree char *path = tmp_db ("claim");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) first = NULL;
  g_autoptr(GPtrArray) second = NULL;
  g_autoptr(GPtrArray) third = NULL;
  g_autoptr(GPtrArray) fourth = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  guint counts[MS_N_STATES];
  gint64 batch = make_batch (journal, 10);
  gint64 ids[10];

  first = ms_journal_claim (journal, batch, 3, now, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (first->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      MsJournalRow *row = first->pdata[i];

      g_assert_cmpint (row->state, ==, MS_STATE_SENDING);
      g_assert_cmpuint (row->attempts, ==, 1);
      g_assert_cmpint (row->first_attempt_at, ==, now);
      g_assert_cmpstr (row->values[1], ==, ((const char *[]) { "Name 0", "Name 1", "Name 2" })[i]);
      ids[i] = row->id;
      if (i > 0)
        g_assert_cmpint (row->id, >, ((MsJournalRow *) first->pdata[i - 1])->id);
    }

  /* Claimed rows are `sending` in the file already. */
  g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 3);
  g_assert_cmpuint (counts[MS_STATE_QUEUED], ==, 7);

  {
    MsJournalOutcome outcomes[] = {
      { .row_id = ids[0], .state = MS_STATE_SENT, .reply_code = 250, .reply_text = "2.0.0 Ok: queued",
        .message_id = "<1@example.org>" },
      { .row_id = ids[1], .state = MS_STATE_DEFERRED, .reply_code = 451,
        .reply_text = "4.7.1 Greylisted", .reply_class = MS_REPLY_CLASS_TEMPORARY,
        .advice = "Try later.", .message_id = "<2@example.org>", .next_due = now + 60 },
      { .row_id = ids[2], .state = MS_STATE_FAILED, .reply_code = 550,
        .reply_text = "5.1.1 User unknown", .reply_class = MS_REPLY_CLASS_RECIPIENT_REJECTED,
        .advice = "Check the address." },
    };

    g_assert_true (ms_journal_record (journal, outcomes, G_N_ELEMENTS (outcomes), &error));
    g_assert_no_error (error);
  }

  {
    g_autoptr(MsJournalRow) sent = find_row (journal, batch, ids[0]);
    g_autoptr(MsJournalRow) deferred = find_row (journal, batch, ids[1]);
    g_autoptr(MsJournalRow) failed = find_row (journal, batch, ids[2]);

    g_assert_cmpint (sent->state, ==, MS_STATE_SENT);
    g_assert_cmpint (sent->reply_code, ==, 250);
    g_assert_cmpstr (sent->message_id, ==, "<1@example.org>");
    g_assert_cmpint (sent->sent_at, >=, now);
    g_assert_cmpint (sent->reply_class, ==, MS_REPLY_CLASS_NONE);
    g_assert_cmpint (deferred->state, ==, MS_STATE_DEFERRED);
    g_assert_cmpint (deferred->next_due, ==, now + 60);
    g_assert_cmpint (deferred->reply_class, ==, MS_REPLY_CLASS_TEMPORARY);
    g_assert_cmpstr (deferred->reply_text, ==, "4.7.1 Greylisted");
    g_assert_cmpint (deferred->sent_at, ==, 0);
    g_assert_cmpint (failed->state, ==, MS_STATE_FAILED);
    g_assert_cmpint (failed->reply_class, ==, MS_REPLY_CLASS_RECIPIENT_REJECTED);
    g_assert_cmpstr (failed->advice, ==, "Check the address.");
    g_assert_null (failed->message_id);
  }

  g_assert_cmpint (ms_journal_next_due (journal, batch, &error), ==, now + 60);
  g_assert_cmpint (ms_journal_next_due (journal, 0, &error), ==, now + 60);

  /* Not due yet: the deferred row waits, queued rows go on in order. */
  second = ms_journal_claim (journal, batch, 3, now + 59, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (second->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      MsJournalRow *row = second->pdata[i];

      g_assert_cmpint (row->id, !=, ids[1]);
      g_assert_cmpstr (row->address, ==, ((const char *[]) { "r3@example.org", "r4@example.org", "r5@example.org" })[i]);
      ids[3 + i] = row->id;
    }

  /* A clean pause gives these back, attempt and all. */
  g_assert_true (ms_journal_release (journal, &ids[3], 3, &error));
  {
    g_autoptr(MsJournalRow) back = find_row (journal, batch, ids[3]);

    g_assert_cmpint (back->state, ==, MS_STATE_QUEUED);
    g_assert_cmpuint (back->attempts, ==, 0);
    g_assert_cmpint (back->first_attempt_at, ==, 0);
  }

  /* Due now: the deferred row comes with the group, which is sorted by id. */
  third = ms_journal_claim (journal, batch, 2, now + 60, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (third->len, ==, 2);
  g_assert_cmpint (((MsJournalRow *) third->pdata[0])->id, ==, ids[1]);
  g_assert_cmpuint (((MsJournalRow *) third->pdata[0])->attempts, ==, 2);
  g_assert_cmpint (((MsJournalRow *) third->pdata[0])->first_attempt_at, ==, now);
  g_assert_cmpint (((MsJournalRow *) third->pdata[1])->id, ==, ids[3]);
  g_assert_cmpint (ms_journal_next_due (journal, batch, &error), ==, 0);

  /* A lost connection: back to queued, due now. */
  {
    MsJournalOutcome outcomes[] = {
      { .row_id = ids[1], .state = MS_STATE_QUEUED, .reply_class = MS_REPLY_CLASS_CONNECTION_LOST },
      { .row_id = ids[3], .state = MS_STATE_SENT, .reply_code = 250 },
    };

    g_assert_true (ms_journal_record (journal, outcomes, 2, &error));
  }
  fourth = ms_journal_claim (journal, batch, 100, now + 61, &error);
  g_assert_cmpuint (fourth->len, ==, 7);
  g_assert_cmpint (((MsJournalRow *) fourth->pdata[0])->id, ==, ids[1]);
  g_assert_cmpuint (((MsJournalRow *) fourth->pdata[0])->attempts, ==, 3);

  g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 7);
  g_assert_cmpuint (counts[MS_STATE_SENT], ==, 2);
  g_assert_cmpuint (counts[MS_STATE_FAILED], ==, 1);
  g_assert_cmpuint (counts[MS_STATE_QUEUED], ==, 0);

  /* Nothing left to claim. */
  {
    g_autoptr(GPtrArray) none = ms_journal_claim (journal, batch, 5, now + 100000, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (none->len, ==, 0);
  }

  /* The pacer's history: sent rows of the account. */
  {
    g_autoptr(GArray) times = ms_journal_get_sent_times (journal, "default", now - 10, &error);
    g_autoptr(GArray) none = ms_journal_get_sent_times (journal, "other", 0, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (times->len, ==, 2);
    g_assert_cmpint (g_array_index (times, gint64, 0), >=, now);
    g_assert_cmpuint (none->len, ==, 0);
  }
}

/* A claim inside a caller's transaction is undone with it. */
static void
test_nested (void)
{
  g_autofree char *path = tmp_db ("nested");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  gint64 batch = make_batch (journal, 5);
  guint counts[MS_N_STATES];

  g_assert_true (ms_journal_begin (journal, &error));
  {
    g_autoptr(GPtrArray) rows = ms_journal_claim (journal, batch, 2, 1000, &error);

    g_assert_cmpuint (rows->len, ==, 2);
  }
  ms_journal_rollback (journal);

  g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_QUEUED], ==, 5);

  g_assert_true (ms_journal_begin (journal, &error));
  {
    g_autoptr(GPtrArray) rows = ms_journal_claim (journal, batch, 2, 1000, &error);

    g_assert_cmpuint (rows->len, ==, 2);
  }
  g_assert_true (ms_journal_commit (journal, &error));
  g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 2);
}

/* Crash recovery, for real: another process claims rows, then dies -------------- */

/* The child: open, lock, mark running, claim, say so, then die (crash) or
 * wait for its stdin to close (hold). */
static void
die_at_bad_row (guint              line,
                MsRecipientProblem problem,
                const char        *address,
                const char        *detail,
                gpointer           user_data)
{
  kill (getpid (), SIGKILL);
}

static int
child_main (const char *mode,
            const char *path,
            gint64      batch,
            guint       n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = ms_journal_open (path, &error);
  g_autoptr(GPtrArray) rows = NULL;
  char buf[16];

  /* Imports PATH.csv and dies at its first bad row. */
  if (g_str_equal (mode, "import-die"))
    {
      g_autoptr(MsBatchSpec) spec = make_spec ();
      g_autofree char *csv = g_strconcat (path, ".csv", NULL);

      ms_core_init ();
      g_clear_pointer (&spec->fields, g_strfreev);
      g_clear_pointer (&spec->attachments, g_strfreev);
      ms_import_csv (journal, spec, csv, NULL, die_at_bad_row, NULL, NULL, NULL, &error);
      return 1;
    }

  if (journal == NULL ||
      !ms_journal_lock_batch (journal, batch, &error) ||
      !ms_journal_set_batch_status (journal, batch, MS_BATCH_RUNNING, NULL, &error))
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  rows = ms_journal_claim (journal, batch, n, g_get_real_time () / G_USEC_PER_SEC, &error);
  if (rows == NULL)
    {
      g_printerr ("child: %s\n", error->message);
      return 1;
    }
  printf ("claimed %u\n", rows->len);
  fflush (stdout);

  if (g_str_equal (mode, "crash"))
    kill (getpid (), SIGKILL);

  while (read (STDIN_FILENO, buf, sizeof buf) > 0)
    ;
  /* Dies without recording or unlocking, like a crash after a while. */
  _exit (0);
}

static GSubprocess *
spawn_child (const char  *mode,
             const char  *path,
             gint64       batch,
             guint        n,
             char       **first_line)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);
  g_autofree char *batch_str = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_autofree char *n_str = g_strdup_printf ("%u", n);
  g_autoptr(GDataInputStream) in = NULL;
  GSubprocess *child;

  child = g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_PIPE, &error,
                            exe, "--child", mode, path, batch_str, n_str, NULL);
  g_assert_no_error (error);
  in = g_data_input_stream_new (g_subprocess_get_stdout_pipe (child));
  *first_line = g_data_input_stream_read_line_utf8 (in, NULL, NULL, &error);
  g_assert_no_error (error);
  return child;
}

/* A run that died with nothing uncertain is not sent to look for any. */
static void
test_recovery_nothing_uncertain (void)
{
  g_autofree char *path = tmp_db ("crash-clean");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  gint64 batch = make_batch (journal, 5);

  g_assert_true (ms_journal_set_batch_status (journal, batch, MS_BATCH_RUNNING, NULL, &error));
  g_assert_no_error (error);
  g_clear_object (&journal);

  journal = open_journal (path);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->status, ==, MS_BATCH_PAUSED);
  g_assert_cmpuint (info->counts[MS_STATE_UNCERTAIN], ==, 0);
  g_assert_cmpstr (info->pause_reason, ==, "Mailshot stopped while sending this batch. Resume it to send the rest.");
}

static void
test_recovery_crash (void)
{
  g_autofree char *path = tmp_db ("crash");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  gint64 batch = make_batch (journal, 20);
  gint64 other = make_batch (journal, 3);
  g_autofree char *lock_path = NULL;

  g_clear_object (&journal);

  child = spawn_child ("crash", path, batch, 4, &line);
  g_assert_cmpstr (line, ==, "claimed 4");
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_signaled (child));
  g_assert_cmpint (g_subprocess_get_term_sig (child), ==, SIGKILL);

  /* Before any recovery the file shows what the child committed. */
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipients WHERE state = 1"), ==, 4);

  journal = open_journal (path);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (info->counts[MS_STATE_SENDING], ==, 0);
  g_assert_cmpuint (info->counts[MS_STATE_UNCERTAIN], ==, 4);
  g_assert_cmpuint (info->counts[MS_STATE_QUEUED], ==, 16);
  g_assert_cmpint (info->status, ==, MS_BATCH_PAUSED);
  g_assert_cmpstr (info->pause_reason, ==,
                   "Mailshot stopped while sending this batch. Check the uncertain recipients, then resume it.");

  {
    MsRecipientState uncertain = MS_STATE_UNCERTAIN;
    g_autoptr(GPtrArray) rows = ms_journal_list_rows (journal, batch, &uncertain, 1, &error);

    g_assert_cmpuint (rows->len, ==, 4);
    g_assert_cmpstr (((MsJournalRow *) rows->pdata[0])->address, ==, "r0@example.org");
    g_assert_cmpuint (((MsJournalRow *) rows->pdata[0])->attempts, ==, 1);
    g_assert_nonnull (((MsJournalRow *) rows->pdata[0])->advice);
  }

  /* The other batch was never touched. */
  g_clear_pointer (&info, ms_batch_info_free);
  info = ms_journal_get_batch_info (journal, other, &error);
  g_assert_cmpuint (info->counts[MS_STATE_QUEUED], ==, 3);
  g_assert_cmpint (info->status, ==, MS_BATCH_READY);

  /* The dead child's lock is gone: this process can take the batch. */
  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  g_assert_no_error (error);
  lock_path = g_strdup_printf ("%s-batch-%" G_GINT64_FORMAT ".lock", path, batch);
  g_assert_true (g_file_test (lock_path, G_FILE_TEST_EXISTS));
  ms_journal_unlock_batch (journal, batch);
  g_assert_false (g_file_test (lock_path, G_FILE_TEST_EXISTS));
}

static void
test_recovery_live (void)
{
  g_autofree char *path = tmp_db ("live");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsJournal) second = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  g_autofree char *pid_text = NULL;
  gint64 batch = make_batch (journal, 10);
  guint counts[MS_N_STATES];

  g_clear_object (&journal);

  child = spawn_child ("hold", path, batch, 3, &line);
  g_assert_cmpstr (line, ==, "claimed 3");
  pid_text = g_strdup_printf ("pid %s ", g_subprocess_get_identifier (child));

  /* The child is alive: opening does not recover its rows... */
  journal = open_journal (path);
  g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 3);
  g_assert_cmpuint (counts[MS_STATE_UNCERTAIN], ==, 0);

  /* ...and the batch cannot be run twice. */
  g_assert_false (ms_journal_lock_batch (journal, batch, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_FAILED);
  g_assert_nonnull (strstr (error->message, "is being sent by another Mailshot process"));
  g_assert_nonnull (strstr (error->message, pid_text));
  g_clear_error (&error);

  /* The child dies without recording: the next open recovers. */
  g_output_stream_close (g_subprocess_get_stdin_pipe (child), NULL, NULL);
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_subprocess_get_exit_status (child), ==, 0);

  second = open_journal (path);
  g_assert_true (ms_journal_get_counts (second, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 0);
  g_assert_cmpuint (counts[MS_STATE_UNCERTAIN], ==, 3);
  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  g_assert_no_error (error);
}

/* An import committed in chunks ------------------------------------------------ */

static void
count_duplicate (guint       line,
                 const char *address,
                 gpointer    user_data)
{
  (*(guint *) user_data)++;
}

/* Duplicates are found across the chunks' commits (the later ones check the
 * keys the earlier ones committed), and the counts stay exact. */
static void
test_import_chunks (void)
{
  g_autofree char *path = tmp_db ("chunks");
  g_autofree char *csv = ms_test_tmp_path ("chunks.csv");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsBatchSpec) spec = make_spec ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = g_string_new ("email,name,note\n");
  MsImportSummary summary = { 0 };
  guint counts[MS_N_STATES];
  guint duplicates = 0;
  gint64 batch;

  /* 120,000 addresses, then the first 1,000 again in another case, spread
   * over the later chunks. */
  for (guint i = 0; i < 120000; i++)
    {
      g_string_append_printf (text, "r%u@example.org,N%u,\n", i, i);
      if (i >= 60000 && i % 60 == 0)
        g_string_append_printf (text, "R%u@Example.org,again,\n", (i - 60000) / 60);
    }
  g_assert_true (g_file_set_contents (csv, text->str, text->len, NULL));

  g_clear_pointer (&spec->fields, g_strfreev);
  g_clear_pointer (&spec->attachments, g_strfreev);
  batch = ms_import_csv (journal, spec, csv, NULL, NULL, count_duplicate, &duplicates, &summary, &error);
  g_assert_no_error (error);
  g_assert_cmpint (batch, >, 0);
  g_assert_cmpuint (summary.imported, ==, 120000);
  g_assert_cmpuint (summary.duplicates, ==, 1000);
  g_assert_cmpuint (duplicates, ==, 1000);
  g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_QUEUED], ==, 120000);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipient_keys"), ==, 120000);

  /* The batch is whole: another journal may take it now. */
  {
    g_autoptr(MsJournal) other = open_journal (path);

    g_assert_true (ms_journal_lock_batch (other, batch, &error));
    g_assert_no_error (error);
  }
}

/* A list that turns out bad after some chunks went in leaves nothing, as an
 * import in one transaction did. */
static void
test_import_chunks_fail (void)
{
  g_autofree char *path = tmp_db ("chunks-fail");
  g_autofree char *csv = ms_test_tmp_path ("chunks-fail.csv");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsBatchSpec) spec = make_spec ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = g_string_new ("email,name,note\n");
  g_autoptr(GPtrArray) batches = NULL;
  MsImportSummary summary = { 0 };

  for (guint i = 0; i < 110000; i++)
    g_string_append_printf (text, "r%u@example.org,N%u,\n", i, i);
  g_string_append (text, "last@example.org,\"never closed,\n");
  g_assert_true (g_file_set_contents (csv, text->str, text->len, NULL));

  g_clear_pointer (&spec->fields, g_strfreev);
  g_clear_pointer (&spec->attachments, g_strfreev);
  g_assert_cmpint (ms_import_csv (journal, spec, csv, NULL, NULL, NULL, NULL, &summary, &error), ==, 0);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  batches = ms_journal_list_batches (journal, NULL);
  g_assert_cmpuint (batches->len, ==, 0);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipients"), ==, 0);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipient_keys"), ==, 0);
}

/* An import killed after its first chunks went in: the next open removes
 * the batch, whose list is not whole. */
static void
test_import_killed (void)
{
  g_autofree char *path = tmp_db ("import-killed");
  g_autofree char *csv = g_strconcat (path, ".csv", NULL);
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) text = g_string_new ("email,name,note\n");
  g_autoptr(GPtrArray) batches = NULL;
  g_autofree char *exe = g_file_read_link ("/proc/self/exe", NULL);

  for (guint i = 0; i < 70000; i++)
    g_string_append_printf (text, i == 60000 ? "not an address,N%u,\n" : "r%u@example.org,N%u,\n", i, i);
  g_assert_true (g_file_set_contents (csv, text->str, text->len, NULL));
  /* The schema first, so that the child only imports. */
  g_clear_object (&journal);
  journal = open_journal (path);
  g_clear_object (&journal);

  child = g_subprocess_new (G_SUBPROCESS_FLAGS_NONE, &error, exe, "--child", "import-die", path, "0", "0", NULL);
  g_assert_no_error (error);
  g_subprocess_wait (child, NULL, &error);
  g_assert_true (g_subprocess_get_if_signaled (child));

  /* The first chunk is in the file, marked as being imported. */
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipients"), ==, 50000);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM batches WHERE locked_by LIKE 'import %'"), ==, 1);

  journal = open_journal (path);
  batches = ms_journal_list_batches (journal, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (batches->len, ==, 0);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipients"), ==, 0);
  g_assert_cmpint (raw_int (path, "SELECT count(*) FROM recipient_keys"), ==, 0);
}

/* The side log settles what a dead run left sending -------------------------- */

typedef enum { LOG_SAME_BOOT, LOG_OTHER_BOOT, LOG_NONE } LogCase;

static void
sidelog_case (LogCase     which,
              const char *expected)   /* one letter per claimed row: s(ent) q(ueued) u(ncertain) */
{
  g_autofree char *path = tmp_db ("sidelog");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autofree char *log_path = NULL;
  gint64 batch = make_batch (journal, 10);
  gint64 id[6];

  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  rows = ms_journal_claim (journal, batch, 6, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, 6);
  for (guint i = 0; i < 6; i++)
    id[i] = ((MsJournalRow *) rows->pdata[i])->id;

  log_path = ms_journal_dup_sidelog_path (journal, batch);
  if (which != LOG_NONE)
    {
      g_autoptr(MsSidelog) log = ms_sidelog_create (log_path, &error);

      g_assert_no_error (error);
      /* 0 accepted; 1 end sent, no answer; 2 refused; 3 never ended;
       * 4 accepted after its end; 5 end sent, no answer. */
      g_assert_true (ms_sidelog_note_end (log, id[0]));
      g_assert_true (ms_sidelog_note_accepted (log, id[0], 1700000000, 250, "2.0.0 Ok: queued as\tA1", "m0@x"));
      g_assert_true (ms_sidelog_note_end (log, id[1]));
      g_assert_true (ms_sidelog_note_end (log, id[2]));
      g_assert_true (ms_sidelog_note_refused (log, id[2]));
      g_assert_true (ms_sidelog_note_end (log, id[4]));
      g_assert_true (ms_sidelog_note_end (log, id[5]));
      g_assert_true (ms_sidelog_note_accepted (log, id[4], 1700000001, 250, "Ok", NULL));
    }
  /* The run dies: its lock goes with it, its rows stay `sending`. */
  g_clear_object (&journal);

  if (which == LOG_OTHER_BOOT)
    ms_sidelog_set_boot_id ("another-boot");
  journal = open_journal (path);
  ms_sidelog_set_boot_id (NULL);

  for (guint i = 0; i < 6; i++)
    {
      g_autoptr(MsJournalRow) row = NULL;
      MsRecipientState want = expected[i] == 's' ? MS_STATE_SENT
                              : expected[i] == 'q' ? MS_STATE_QUEUED : MS_STATE_UNCERTAIN;
      MsRecipientState states[] = { want };
      g_autoptr(GPtrArray) list = ms_journal_list_rows (journal, batch, states, 1, &error);

      for (guint j = 0; j < list->len; j++)
        if (((MsJournalRow *) list->pdata[j])->id == id[i])
          row = g_steal_pointer (&list->pdata[j]);
      if (row == NULL)
        g_error ("row %u is not %s", i, ms_recipient_state_to_string (want));
      if (i == 0 && want == MS_STATE_SENT)
        {
          g_assert_cmpint (row->reply_code, ==, 250);
          g_assert_cmpstr (row->reply_text, ==, "2.0.0 Ok: queued as A1");
          g_assert_cmpstr (row->message_id, ==, "m0@x");
          g_assert_cmpint (row->sent_at, ==, 1700000000);
        }
      if (want == MS_STATE_QUEUED)
        g_assert_cmpuint (row->attempts, ==, 0);
    }
  /* Folded in, the log is gone. */
  g_assert_false (g_file_test (log_path, G_FILE_TEST_EXISTS));
}

static void
test_sidelog_recovery (void)
{
  /* A killed process: the page cache kept every line. */
  sidelog_case (LOG_SAME_BOOT, "suqqsu");
  /* A power cut: the unsynced tail may be gone, so a row without a line
   * may have gone out; its answers still count. */
  sidelog_case (LOG_OTHER_BOOT, "suqusu");
  /* No log (an older version): every row left sending is uncertain. */
  sidelog_case (LOG_NONE, "uuuuuu");
}

/* A batch locked again by a new run after its last one died in this
 * process's lifetime: the lock settles the leftovers first. */
static void
test_sidelog_on_lock (void)
{
  g_autofree char *path = tmp_db ("sidelog-lock");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(MsJournal) second = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  gint64 batch = make_batch (journal, 4);
  guint counts[MS_N_STATES];

  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  rows = ms_journal_claim (journal, batch, 2, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  {
    g_autofree char *log_path = ms_journal_dup_sidelog_path (journal, batch);
    g_autoptr(MsSidelog) log = ms_sidelog_create (log_path, &error);

    g_assert_true (ms_sidelog_note_end (log, ((MsJournalRow *) rows->pdata[0])->id));
  }
  g_clear_object (&journal);

  g_assert_true (ms_journal_lock_batch (second, batch, &error));
  g_assert_no_error (error);
  g_assert_true (ms_journal_get_counts (second, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 0);
  g_assert_cmpuint (counts[MS_STATE_UNCERTAIN], ==, 1);
  g_assert_cmpuint (counts[MS_STATE_QUEUED], ==, 3);
}

static void
test_lock (void)
{
  g_autofree char *path = tmp_db ("lock");
  g_autoptr(MsJournal) one = open_journal (path);
  g_autoptr(MsJournal) two = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  gint64 batch = make_batch (one, 5);
  guint counts[MS_N_STATES];

  g_assert_true (ms_journal_lock_batch (one, batch, &error));
  g_assert_true (ms_journal_lock_batch (one, batch, &error));   /* again, same journal */
  g_assert_cmpint (raw_int (path, "SELECT locked_by IS NOT NULL FROM batches"), ==, 1);

  /* Two journals in one process (the GUI and its worker) exclude each other. */
  g_assert_false (ms_journal_lock_batch (two, batch, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_FAILED);
  g_clear_error (&error);

  /* A journal opened while the batch is held leaves its rows alone. */
  rows = ms_journal_claim (one, batch, 2, 1, &error);
  g_assert_cmpuint (rows->len, ==, 2);
  {
    g_autoptr(MsJournal) three = open_journal (path);

    g_assert_true (ms_journal_get_counts (three, batch, counts, &error));
    g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 2);
  }

  ms_journal_unlock_batch (one, batch);
  g_assert_cmpint (raw_int (path, "SELECT locked_by IS NULL FROM batches"), ==, 1);
  g_assert_true (ms_journal_lock_batch (two, batch, &error));
  g_assert_no_error (error);

  g_assert_false (ms_journal_lock_batch (one, 999, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Finalizing a journal releases its locks. */
  g_clear_object (&two);
  g_assert_true (ms_journal_lock_batch (one, batch, &error));
}

/* The user's decisions --------------------------------------------------------- */

static void
test_user_actions (void)
{
  g_autofree char *path = tmp_db ("actions");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  gint64 batch = make_batch (journal, 8);
  gint64 id[8];

  rows = ms_journal_claim (journal, batch, 8, 1000, &error);
  g_assert_cmpuint (rows->len, ==, 8);
  for (guint i = 0; i < 8; i++)
    id[i] = ((MsJournalRow *) rows->pdata[i])->id;
  {
    MsJournalOutcome outcomes[] = {
      { .row_id = id[0], .state = MS_STATE_SENT, .reply_code = 250 },
      { .row_id = id[1], .state = MS_STATE_FAILED, .reply_code = 550,
        .reply_class = MS_REPLY_CLASS_RECIPIENT_REJECTED },
      { .row_id = id[2], .state = MS_STATE_DEFERRED, .reply_code = 451, .next_due = 5000 },
      { .row_id = id[3], .state = MS_STATE_FAILED, .reply_code = 553 },
    };

    g_assert_true (ms_journal_record (journal, outcomes, G_N_ELEMENTS (outcomes), &error));
  }
  /* 4 and 5 back to queued; 6 and 7 stay sending. */
  g_assert_true (ms_journal_release (journal, &id[4], 2, &error));

  /* A sent row is never queued again; a sending one neither. */
  g_assert_false (ms_journal_retry_row (journal, id[0], &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "r0@example.org"));
  g_clear_error (&error);
  g_assert_false (ms_journal_skip_row (journal, id[6], &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (ms_journal_retry_row (journal, 123456, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "123456"));
  g_clear_error (&error);

  /* Retry a failed row: queued, due now, a fresh schedule. */
  g_assert_true (ms_journal_retry_row (journal, id[1], &error));
  {
    g_autoptr(MsJournalRow) row = find_row (journal, batch, id[1]);

    g_assert_cmpint (row->state, ==, MS_STATE_QUEUED);
    g_assert_cmpint (row->next_due, ==, 0);
    g_assert_cmpuint (row->attempts, ==, 0);
    g_assert_cmpint (row->reply_code, ==, 550);   /* the last reply stays for people */
  }

  /* Fix a bad address, then retry. */
  g_assert_false (ms_journal_set_row_address (journal, id[3], "not an address", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "not an address"));
  g_clear_error (&error);
  g_assert_false (ms_journal_set_row_address (journal, id[3], "R5@Example.org", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);   /* another row has it */
  g_clear_error (&error);
  g_assert_false (ms_journal_set_row_address (journal, id[0], "new@example.org", &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);   /* sent */
  g_clear_error (&error);
  g_assert_true (ms_journal_set_row_address (journal, id[3], " fixed@example.org ", &error));
  g_assert_no_error (error);
  g_assert_true (ms_journal_retry_row (journal, id[3], &error));
  {
    g_autoptr(MsJournalRow) row = find_row (journal, batch, id[3]);

    g_assert_cmpstr (row->address, ==, "fixed@example.org");
    g_assert_cmpstr (row->values[0], ==, "fixed@example.org");
    g_assert_cmpstr (row->values[1], ==, "Name 3");
    g_assert_cmpint (row->state, ==, MS_STATE_QUEUED);
  }

  /* Skip a queued row. */
  g_assert_true (ms_journal_skip_row (journal, id[4], &error));

  /* Cancel: queued and deferred rows only. */
  g_assert_true (ms_journal_cancel_batch (journal, batch, &error));
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpint (info->status, ==, MS_BATCH_CANCELLED);
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, 1);
  g_assert_cmpuint (info->counts[MS_STATE_SKIPPED], ==, 1);
  g_assert_cmpuint (info->counts[MS_STATE_SENDING], ==, 2);
  g_assert_cmpuint (info->counts[MS_STATE_CANCELLED], ==, 4);   /* 1, 2 (deferred), 3, 5 */
  g_assert_cmpuint (info->counts[MS_STATE_QUEUED] + info->counts[MS_STATE_DEFERRED], ==, 0);
  g_assert_cmpuint (info->total, ==, 8);

  /* The blast that runs dry afterwards does not turn it into "finished". */
  g_assert_true (ms_journal_set_batch_status (journal, batch, MS_BATCH_FINISHED, NULL, &error));
  g_clear_pointer (&info, ms_batch_info_free);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpint (info->status, ==, MS_BATCH_CANCELLED);

  /* Retrying a row of a cancelled batch reopens it, paused. */
  g_assert_true (ms_journal_retry_row (journal, id[2], &error));
  g_clear_pointer (&info, ms_batch_info_free);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpint (info->status, ==, MS_BATCH_PAUSED);
  g_assert_cmpuint (info->counts[MS_STATE_QUEUED], ==, 1);

  g_assert_false (ms_journal_cancel_batch (journal, 777, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (ms_journal_set_batch_status (journal, 777, MS_BATCH_PAUSED, NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* A pause keeps its reason; another status clears it. */
  g_assert_true (ms_journal_set_batch_status (journal, batch, MS_BATCH_PAUSED, "Check the password.", &error));
  g_clear_pointer (&info, ms_batch_info_free);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_cmpstr (info->pause_reason, ==, "Check the password.");
  g_assert_true (ms_journal_set_batch_status (journal, batch, MS_BATCH_RUNNING, "ignored", &error));
  g_clear_pointer (&info, ms_batch_info_free);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_null (info->pause_reason);
}

/* The batch-level rules and "Mark as sent", the same for every front end;
 * BATCH:LINE finds the row a line of the user's file became. */
static void
test_batch_rules (void)
{
  g_autofree char *path = tmp_db ("rules");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  gint64 batch = make_batch (journal, 4);   /* lines 2 to 5 */
  gint64 id[4];

  rows = ms_journal_claim (journal, batch, 4, 1000, &error);
  g_assert_cmpuint (rows->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    id[i] = ((MsJournalRow *) rows->pdata[i])->id;

  /* BATCH:LINE */
  g_assert_cmpint (ms_journal_find_row (journal, batch, 2, &error), ==, id[0]);
  g_assert_cmpint (ms_journal_find_row (journal, batch, 5, &error), ==, id[3]);
  g_assert_no_error (error);
  g_assert_cmpint (ms_journal_find_row (journal, batch, 1, &error), ==, 0);   /* the header */
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "line 1"));
  g_clear_error (&error);
  g_assert_cmpint (ms_journal_find_row (journal, 999, 2, &error), ==, 0);
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* 0 sent, 1 failed, 2 uncertain (interrupted at 1234), 3 still sending. */
  {
    MsJournalOutcome outcomes[] = {
      { .row_id = id[0], .state = MS_STATE_SENT, .reply_code = 250 },
      { .row_id = id[1], .state = MS_STATE_FAILED, .reply_code = 550 },
    };
    g_autofree char *sql = g_strdup_printf ("UPDATE recipients SET state = 5, updated_at = 1234, "
                                            "advice = 'It may have been delivered.' WHERE id = %" G_GINT64_FORMAT,
                                            id[2]);

    g_assert_true (ms_journal_record (journal, outcomes, G_N_ELEMENTS (outcomes), &error));
    raw_exec (path, sql);
  }

  g_assert_true (ms_journal_mark_sent (journal, id[2], &error));
  g_assert_no_error (error);
  {
    g_autoptr(MsJournalRow) row = find_row (journal, batch, id[2]);

    g_assert_cmpint (row->state, ==, MS_STATE_SENT);
    g_assert_cmpint (row->sent_at, ==, 1234);
    g_assert_null (row->advice);
  }
  /* Only an uncertain row: sent, failed and sending ones are refused. */
  g_assert_false (ms_journal_mark_sent (journal, id[2], &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "sent already"));
  g_clear_error (&error);
  g_assert_false (ms_journal_mark_sent (journal, id[1], &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "Failed"));
  g_assert_nonnull (strstr (error->message, "r1@example.org"));
  g_clear_error (&error);
  g_assert_false (ms_journal_mark_sent (journal, id[3], &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_false (ms_journal_mark_sent (journal, 98765, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  {
    g_autoptr(MsJournalRow) row = find_row (journal, batch, id[1]);

    g_assert_cmpint (row->state, ==, MS_STATE_FAILED);
  }

  /* Running: both allowed. Finished: resumable (nothing to do), not cancellable. */
  g_assert_true (ms_journal_check_can_resume (journal, batch, &error));
  g_assert_true (ms_journal_check_can_cancel (journal, batch, &error));
  g_assert_no_error (error);
  g_assert_true (ms_journal_set_batch_status (journal, batch, MS_BATCH_FINISHED, NULL, &error));
  g_assert_true (ms_journal_check_can_resume (journal, batch, &error));
  g_assert_false (ms_journal_check_can_cancel (journal, batch, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "finished"));
  g_clear_error (&error);

  /* Cancelled: not resumable; cancelling again is harmless. */
  g_assert_true (ms_journal_set_batch_status (journal, batch, MS_BATCH_PAUSED, NULL, &error));
  g_assert_true (ms_journal_cancel_batch (journal, batch, &error));
  g_assert_false (ms_journal_check_can_resume (journal, batch, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_assert_nonnull (strstr (error->message, "cancelled"));
  g_clear_error (&error);
  g_assert_true (ms_journal_check_can_cancel (journal, batch, &error));

  g_assert_false (ms_journal_check_can_resume (journal, 777, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_false (ms_journal_check_can_cancel (journal, 777, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
  g_clear_error (&error);
}

static void
test_list_batches (void)
{
  g_autofree char *path = tmp_db ("list");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) list = NULL;
  gint64 a = make_batch (journal, 2);
  gint64 b = make_batch (journal, 5);
  gint64 c = make_batch (journal, 1);

  g_assert_true (ms_journal_set_batch_status (journal, b, MS_BATCH_FINISHED, NULL, &error));
  list = ms_journal_list_batches (journal, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (list->len, ==, 3);
  g_assert_cmpint (((MsBatchInfo *) list->pdata[0])->id, ==, c);
  g_assert_cmpint (((MsBatchInfo *) list->pdata[1])->id, ==, b);
  g_assert_cmpint (((MsBatchInfo *) list->pdata[2])->id, ==, a);
  g_assert_cmpuint (((MsBatchInfo *) list->pdata[1])->total, ==, 5);
  g_assert_cmpuint (((MsBatchInfo *) list->pdata[1])->counts[MS_STATE_QUEUED], ==, 5);
  g_assert_cmpint (((MsBatchInfo *) list->pdata[1])->status, ==, MS_BATCH_FINISHED);
  g_assert_cmpint (((MsBatchInfo *) list->pdata[0])->created, >, 0);
}

typedef struct {
  guint  n;
  gint64 last_batch;
  gint64 last_id;
  guint  stop_after;
} Walk;

static gboolean
walk_row (const MsJournalRow *row,
          gpointer            user_data)
{
  Walk *walk = user_data;

  g_assert_true (row->batch > walk->last_batch ||
                 (row->batch == walk->last_batch && row->id > walk->last_id));
  walk->last_batch = row->batch;
  walk->last_id = row->id;
  walk->n++;
  return walk->stop_after == 0 || walk->n < walk->stop_after;
}

static void
test_foreach (void)
{
  g_autofree char *path = tmp_db ("foreach");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) claimed = NULL;
  MsRecipientState pending[] = { MS_STATE_QUEUED, MS_STATE_SENDING };
  MsRecipientState sending = MS_STATE_SENDING;
  gint64 small = make_batch (journal, 10);
  gint64 big = make_batch (journal, 100000);
  gint64 later = make_batch (journal, 7);
  Walk walk = { 0 };

  claimed = ms_journal_claim (journal, big, 1000, 1, &error);
  g_assert_cmpuint (claimed->len, ==, 1000);

  g_assert_true (ms_journal_foreach_row (journal, big, NULL, 0, walk_row, &walk, &error));
  g_assert_cmpuint (walk.n, ==, 100000);

  memset (&walk, 0, sizeof walk);
  g_assert_true (ms_journal_foreach_row (journal, big, &sending, 1, walk_row, &walk, &error));
  g_assert_cmpuint (walk.n, ==, 1000);

  /* Every batch, in batch then id order. */
  memset (&walk, 0, sizeof walk);
  g_assert_true (ms_journal_foreach_row (journal, 0, pending, 2, walk_row, &walk, &error));
  g_assert_cmpuint (walk.n, ==, 100017);
  g_assert_cmpint (walk.last_batch, ==, later);

  /* The callback stops the walk. */
  memset (&walk, 0, sizeof walk);
  walk.stop_after = 5;
  g_assert_true (ms_journal_foreach_row (journal, small, NULL, 0, walk_row, &walk, &error));
  g_assert_cmpuint (walk.n, ==, 5);
}

/* A full disk and a read-only file system, for real ----------------------------- */

/* The test runs in a subprocess with its own mount namespace, so that the
 * small tmpfs it mounts goes away with it, whatever happens. As root only
 * (CI and the dev machine run the suite as root); chmod would not stop root. */
/* In the test subprocess: a private tmpfs of @kib KiB at a new folder. */
static char *
mount_private_tmpfs (const char *name,
                     guint       kib)
{
  g_autofree char *dir = ms_test_tmp_path (name);

  ms_test_mount_private_tmpfs (dir, kib);
  return g_steal_pointer (&dir);
}

/* Fills the file system of @dir to the last byte; returns the filler. */
static char *
fill_disk (const char *dir)
{
  char *filler = g_build_filename (dir, "filler", NULL);
  static const char zeros[16384];
  int fd = open (filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);

  g_assert_cmpint (fd, >=, 0);
  for (;;)
    {
      ssize_t n = write (fd, zeros, sizeof zeros);

      if (n > 0)
        continue;
      g_assert_cmpint (errno, ==, ENOSPC);
      break;
    }
  /* The tail of a block, too. */
  while (write (fd, zeros, 1) == 1)
    ;
  close (fd);
  return filler;
}

/* A batch of 6 on @path: 2 sent, 1 failed, 3 queued; the journal is closed
 * cleanly, so that no -wal file is left. */
static gint64
make_outcome_batch (const char *path)
{
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  gint64 batch = make_batch (journal, 6);

  rows = ms_journal_claim (journal, batch, 3, now, &error);
  g_assert_no_error (error);
  {
    MsJournalOutcome outcomes[] = {
      { .row_id = ((MsJournalRow *) rows->pdata[0])->id, .state = MS_STATE_SENT, .reply_code = 250,
        .reply_text = "2.0.0 Ok: queued as A1" },
      { .row_id = ((MsJournalRow *) rows->pdata[1])->id, .state = MS_STATE_SENT, .reply_code = 250,
        .reply_text = "2.0.0 Ok: queued as A2" },
      { .row_id = ((MsJournalRow *) rows->pdata[2])->id, .state = MS_STATE_FAILED, .reply_code = 550,
        .reply_text = "5.1.1 User unknown", .reply_class = MS_REPLY_CLASS_RECIPIENT_REJECTED },
    };
    g_assert_true (ms_journal_record (journal, outcomes, G_N_ELEMENTS (outcomes), &error));
    g_assert_no_error (error);
  }
  return batch;
}

/* Reads everything a reading command shows, and checks every change is
 * refused with @why in the message. */
static void
assert_readable_not_writable (const char  *path,
                              gint64       batch,
                              const guint  expected[MS_N_STATES],
                              const char  *why)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autofree char *reason = NULL;
  guint total = 0;

  /* First, as a reading command finds it after the disk filled up. */
  journal = ms_journal_open_for_reading (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (journal);
  g_assert_true (ms_journal_is_read_only (journal));
  reason = ms_journal_dup_read_only_reason (journal);
  g_assert_nonnull (reason);

  batches = ms_journal_list_batches (journal, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (batches->len, ==, 1);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < MS_N_STATES; i++)
    {
      g_assert_cmpuint (info->counts[i], ==, expected[i]);
      total += expected[i];
    }
  g_assert_cmpuint (info->total, ==, total);
  rows = ms_journal_list_rows (journal, batch, NULL, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rows->len, ==, total);
  {
    g_autoptr(MsBatchSpec) spec = ms_journal_get_batch_spec (journal, batch, &error);

    g_assert_no_error (error);
    g_assert_cmpstr (spec->subject, ==, "Hello {{name}}");
  }

  /* Every change is refused, with the reason. */
  g_assert_false (ms_journal_cancel_batch (journal, batch, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_JOURNAL);
  g_test_message ("cancel: %s", error->message);
  g_assert_nonnull (strstr (error->message, why));
  g_assert_nonnull (strstr (error->message, path));
  g_clear_error (&error);
  /* The failed row: retrying it is allowed, were the journal writable. */
  g_assert_cmpint (((MsJournalRow *) rows->pdata[2])->state, ==, MS_STATE_FAILED);
  g_assert_false (ms_journal_retry_row (journal, ((MsJournalRow *) rows->pdata[2])->id, &error));
  g_assert_nonnull (strstr (error->message, why));
  g_clear_error (&error);
  g_assert_false (ms_journal_lock_batch (journal, batch, &error));
  g_assert_nonnull (strstr (error->message, why));
  g_clear_error (&error);
  g_assert_null (ms_journal_claim (journal, batch, 2, g_get_real_time () / G_USEC_PER_SEC, &error));
  g_assert_nonnull (strstr (error->message, why));
  g_clear_error (&error);

  /* Nothing changed. */
  g_clear_pointer (&info, ms_batch_info_free);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < MS_N_STATES; i++)
    g_assert_cmpuint (info->counts[i], ==, expected[i]);
  g_clear_object (&journal);

  /* Opening to write says what is wrong and what to do. */
  journal = ms_journal_open (path, &error);
  if (journal != NULL)
    {
      /* Opening may find room in the -shm file an earlier try made; the
       * first change still fails. */
      g_assert_false (ms_journal_cancel_batch (journal, batch, &error));
      g_clear_object (&journal);
    }
  g_assert_error (error, MS_ERROR, MS_ERROR_JOURNAL);
  g_test_message ("write open: %s", error->message);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_nonnull (strstr (error->message, why));
  g_clear_error (&error);
}

static void
test_full_disk (void)
{
  ms_test_run_tmpfs_subprocess ("/mailshot/journal/full-disk");
}

static void
test_full_disk_subprocess (void)
{
  g_autofree char *dir = mount_private_tmpfs ("full", 1024);
  g_autofree char *path = g_build_filename (dir, "journal.sqlite", NULL);
  g_autofree char *wal = g_strconcat (path, "-wal", NULL);
  g_autofree char *filler = NULL;
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  guint expected[MS_N_STATES] = { 0 };
  gint64 batch = make_outcome_batch (path);

  /* Closed cleanly: the main file alone; a reader must not need to create
   * the -wal and -shm files, which a full disk refuses. */
  g_assert_false (g_file_test (wal, G_FILE_TEST_EXISTS));
  filler = fill_disk (dir);
  expected[MS_STATE_SENT] = 2;
  expected[MS_STATE_FAILED] = 1;
  expected[MS_STATE_QUEUED] = 3;
  assert_readable_not_writable (path, batch, expected, "the disk that holds it is full");

  /* A crash leaves rows `sending` in the -wal file: the reader sees them
   * (recovery needs to write, so it waits for a disk with room). */
  g_assert_cmpint (g_unlink (filler), ==, 0);
  child = spawn_child ("crash", path, batch, 2, &line);
  g_assert_cmpstr (line, ==, "claimed 2");
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_subprocess_get_if_signaled (child));
  g_assert_true (g_file_test (wal, G_FILE_TEST_EXISTS));
  g_free (filler);
  filler = fill_disk (dir);
  expected[MS_STATE_QUEUED] = 1;
  expected[MS_STATE_SENDING] = 2;
  assert_readable_not_writable (path, batch, expected, "the disk that holds it is full");

  /* With room again, the journal opens to write and recovers. */
  g_assert_cmpint (g_unlink (filler), ==, 0);
  {
    g_autoptr(MsJournal) journal = open_journal (path);
    guint counts[MS_N_STATES];

    g_assert_false (ms_journal_is_read_only (journal));
    g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
    g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 0);
    g_assert_cmpuint (counts[MS_STATE_UNCERTAIN], ==, 2);
  }
}

static void
test_read_only_fs (void)
{
  ms_test_run_tmpfs_subprocess ("/mailshot/journal/read-only");
}

static void
test_read_only_fs_subprocess (void)
{
  g_autofree char *dir = mount_private_tmpfs ("ro", 4096);
  g_autofree char *clean = g_build_filename (dir, "clean.sqlite", NULL);
  g_autofree char *crashed = g_build_filename (dir, "crashed.sqlite", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", "journal.sqlite", NULL);
  g_autofree char *crashed_wal = g_strconcat (crashed, "-wal", NULL);
  g_autoptr(GSubprocess) child = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  guint expected[MS_N_STATES] = { 0 };
  gint64 clean_batch = make_outcome_batch (clean);
  gint64 crashed_batch = make_outcome_batch (crashed);

  child = spawn_child ("crash", crashed, crashed_batch, 2, &line);
  g_assert_cmpstr (line, ==, "claimed 2");
  g_subprocess_wait (child, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (crashed_wal, G_FILE_TEST_EXISTS));

  if (mount (NULL, dir, NULL, MS_REMOUNT | MS_RDONLY, NULL) != 0)
    g_error ("remount read-only: %s", g_strerror (errno));

  expected[MS_STATE_SENT] = 2;
  expected[MS_STATE_FAILED] = 1;
  expected[MS_STATE_QUEUED] = 3;
  assert_readable_not_writable (clean, clean_batch, expected, "read-only file system");
  /* The committed frames in the -wal file are read too. */
  expected[MS_STATE_QUEUED] = 1;
  expected[MS_STATE_SENDING] = 2;
  assert_readable_not_writable (crashed, crashed_batch, expected, "read-only file system");

  /* No journal yet: empty, and nothing is created. */
  {
    g_autoptr(MsJournal) journal = ms_journal_open_for_reading (missing, &error);
    g_autoptr(GPtrArray) batches = NULL;

    g_assert_no_error (error);
    g_assert_true (ms_journal_is_read_only (journal));
    g_assert_null (ms_journal_dup_read_only_reason (journal));
    batches = ms_journal_list_batches (journal, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (batches->len, ==, 0);
    g_assert_false (ms_journal_cancel_batch (journal, 1, &error));
    g_assert_nonnull (error);
    g_clear_error (&error);
    g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  }
}

static void
test_open_for_reading (void)
{
  g_autofree char *path = tmp_db ("reading");
  g_autofree char *missing = tmp_db ("reading-missing");
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GError) error = NULL;
  gint64 batch = make_outcome_batch (path);

  /* A journal that can be written opens as usual: migrated and recovered. */
  journal = ms_journal_open_for_reading (path, &error);
  g_assert_no_error (error);
  g_assert_false (ms_journal_is_read_only (journal));
  g_assert_null (ms_journal_dup_read_only_reason (journal));
  g_assert_true (ms_journal_cancel_batch (journal, batch, &error));
  g_assert_no_error (error);
  g_clear_object (&journal);

  /* A missing one is not created by a reader. */
  journal = ms_journal_open_for_reading (missing, &error);
  g_assert_no_error (error);
  g_assert_false (g_file_test (missing, G_FILE_TEST_EXISTS));
  g_clear_object (&journal);

  /* A damaged one is reported as such, not read read-only. */
  g_assert_true (g_file_set_contents (missing, "not a database, not at all, really not", -1, NULL));
  journal = ms_journal_open_for_reading (missing, &error);
  g_assert_null (journal);
  g_assert_error (error, MS_ERROR, MS_ERROR_JOURNAL);
  g_assert_nonnull (strstr (error->message, "damaged"));
}

/* The Batches and Pending views ------------------------------------------------ */

static char *
report_csv (MsJournal *journal,
            gint64     batch)
{
  g_autoptr(GOutputStream) out = g_memory_output_stream_new_resizable ();
  g_autoptr(GError) error = NULL;

  g_assert_true (ms_journal_write_report_csv (journal, batch, out, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_output_stream_close (out, NULL, NULL));
  return g_strndup (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (out)),
                    g_memory_output_stream_get_data_size (G_MEMORY_OUTPUT_STREAM (out)));
}

static void
test_report_csv (void)
{
  g_autofree char *path = tmp_db ("report");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GOutputStream) out = NULL;
  g_autofree char *csv = NULL;
  g_autofree char *big = NULL;
  gint64 batch = make_batch (journal, 3);
  gint64 many = make_batch (journal, 3000);
  g_auto(GStrv) lines = NULL;

  rows = ms_journal_claim (journal, batch, 3, 1000, &error);
  g_assert_cmpuint (rows->len, ==, 3);
  {
    MsJournalOutcome outcomes[] = {
      { .row_id = ((MsJournalRow *) rows->pdata[0])->id, .state = MS_STATE_SENT, .reply_code = 250,
        .message_id = "<1@example.org>" },
      { .row_id = ((MsJournalRow *) rows->pdata[1])->id, .state = MS_STATE_FAILED, .reply_code = 550,
        .reply_text = "5.1.1 <r1@example.org>: user unknown, \"really\"" },
    };

    g_assert_true (ms_journal_record (journal, outcomes, G_N_ELEMENTS (outcomes), &error));
    g_assert_no_error (error);
  }
  raw_exec (path, "UPDATE recipients SET sent_at = 1700000000, updated_at = 1700000000 WHERE state = 2;"
                  "UPDATE recipients SET updated_at = 1700000060 WHERE state = 4;"
                  "UPDATE recipients SET updated_at = 0 WHERE state = 1");

  /* The enhanced code has a column of its own; the merge fields follow the line. */
  csv = report_csv (journal, batch);
  g_assert_cmpstr (csv, ==,
                   "address,state,attempts,time,reply_code,reply_text,message_id,enhanced_code,line,"
                   "email,name,note\n"
                   "r0@example.org,sent,1,2023-11-14T22:13:20Z,250,,<1@example.org>,,2,r0@example.org,Name 0,\n"
                   "r1@example.org,failed,1,2023-11-14T22:14:20Z,550,"
                   "\"5.1.1 <r1@example.org>: user unknown, \"\"really\"\"\",,5.1.1,3,r1@example.org,Name 1,\n"
                   "r2@example.org,sending,1,,,,,,4,r2@example.org,Name 2,\n");

  /* Rows the import left out come in line order among the recipients,
   * with their reason; a merge field's name is quoted as a value is. */
  {
    static const char *fields[] = { "email", "name, full", NULL };
    g_autoptr(MsBatchSpec) spec = make_spec ();
    const char *ann[] = { "ann@example.org", "Ann", NULL };
    const char *bad[] = { "ann@", "Bad", NULL };
    const char *eve[] = { "eve@example.org", "Eve \"E\"", NULL };
    g_autofree char *mixed = NULL;
    gint64 other;

    g_strfreev (spec->fields);
    spec->fields = g_strdupv ((char **) fields);
    g_assert_true (ms_journal_begin (journal, &error));
    other = ms_journal_create_batch (journal, spec, &error);
    g_assert_true (ms_journal_add_recipient (journal, other, ann[0], ann, 2, NULL, &error));
    g_assert_true (ms_journal_add_left_out (journal, other, 3, bad, "Line 3: “ann@” is not a valid e-mail address.",
                                            &error));
    g_assert_true (ms_journal_add_left_out (journal, other, 4, NULL, "Line 4: expected 2 fields, got 3.", &error));
    g_assert_true (ms_journal_add_recipient (journal, other, eve[0], eve, 5, NULL, &error));
    g_assert_true (ms_journal_add_left_out (journal, other, 7, NULL, "Line 7: not UTF-8", &error));
    g_assert_true (ms_journal_commit (journal, &error));
    g_assert_no_error (error);
    raw_exec (path, "UPDATE recipients SET updated_at = 0 WHERE address LIKE '%@example.org'"
                    " AND batch = (SELECT max (id) FROM batches)");
    mixed = report_csv (journal, other);
    g_assert_cmpstr (mixed, ==,
                     "address,state,attempts,time,reply_code,reply_text,message_id,enhanced_code,line,"
                     "email,\"name, full\"\n"
                     "ann@example.org,queued,0,,,,,,2,ann@example.org,Ann\n"
                     "ann@,left-out,0,,,Line 3: “ann@” is not a valid e-mail address.,,,3,ann@,Bad\n"
                     ",left-out,0,,,\"Line 4: expected 2 fields, got 3.\",,,4,,\n"
                     "eve@example.org,queued,0,,,,,,5,eve@example.org,\"Eve \"\"E\"\"\"\n"
                     ",left-out,0,,,Line 7: not UTF-8,,,7,,\n");
  }

  /* Larger than one 64 KB piece: every line, in order. */
  big = report_csv (journal, many);
  lines = g_strsplit (big, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3000 + 2);
  g_assert_true (g_str_has_prefix (lines[3000], "r2999@example.org,queued,0,"));
  g_assert_true (g_str_has_suffix (lines[3000], "Z,,,,,3001,r2999@example.org,Name 2999,"));
  g_assert_cmpstr (lines[3001], ==, "");

  out = g_memory_output_stream_new_resizable ();
  g_assert_false (ms_journal_write_report_csv (journal, 999, out, NULL, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_NOT_FOUND);
}

static void
test_count_needing_attention (void)
{
  g_autofree char *path = tmp_db ("attention");
  g_autoptr(MsJournal) journal = open_journal (path);
  g_autoptr(GError) error = NULL;
  gint64 a = make_batch (journal, 4);
  gint64 b = make_batch (journal, 3);

  g_assert_cmpuint (ms_journal_count_needing_attention (journal, &error), ==, 0);
  g_assert_no_error (error);

  /* Failed and uncertain count, in every batch; deferred, queued and sent do not. */
  raw_exec (path, "UPDATE recipients SET state = 4 WHERE address IN ('r0@example.org', 'r1@example.org');"
                  "UPDATE recipients SET state = 3 WHERE address = 'r2@example.org';"
                  "UPDATE recipients SET state = 2 WHERE address = 'r3@example.org'");
  {
    g_autofree char *sql = g_strdup_printf ("UPDATE recipients SET state = 5 WHERE batch = %" G_GINT64_FORMAT
                                            " AND address = 'r2@example.org'", b);

    raw_exec (path, sql);
  }
  g_assert_cmpuint (ms_journal_count_needing_attention (journal, &error), ==, 5);
  g_assert_no_error (error);

  /* Skipping one and marking the uncertain one sent leave three. */
  {
    g_autoptr(GPtrArray) rows = ms_journal_list_rows (journal, a, (MsRecipientState[]) { MS_STATE_FAILED }, 1,
                                                      &error);
    g_autoptr(GPtrArray) uncertain = ms_journal_list_rows (journal, b,
                                                           (MsRecipientState[]) { MS_STATE_UNCERTAIN }, 1, &error);

    g_assert_cmpuint (rows->len, ==, 2);
    g_assert_cmpuint (uncertain->len, ==, 1);
    g_assert_true (ms_journal_skip_row (journal, ((MsJournalRow *) rows->pdata[0])->id, &error));
    g_assert_true (ms_journal_mark_sent (journal, ((MsJournalRow *) uncertain->pdata[0])->id, &error));
    g_assert_no_error (error);
  }
  g_assert_cmpuint (ms_journal_count_needing_attention (journal, &error), ==, 3);
  g_assert_no_error (error);
}

static void
test_check_changed (void)
{
  g_autofree char *path = tmp_db ("changed");
  g_autoptr(MsJournal) watcher = open_journal (path);
  g_autoptr(MsJournal) writer = open_journal (path);
  g_autoptr(GError) error = NULL;
  gint64 stamp = 0;
  gint64 batch;

  /* The first look always counts as a change; then nothing until a commit. */
  g_assert_true (ms_journal_check_changed (watcher, &stamp));
  g_assert_cmpint (stamp, !=, 0);
  g_assert_false (ms_journal_check_changed (watcher, &stamp));

  /* Another connection (as another process would) commits a batch. */
  batch = make_batch (writer, 2);
  g_assert_true (ms_journal_check_changed (watcher, &stamp));
  g_assert_false (ms_journal_check_changed (watcher, &stamp));
  g_assert_true (ms_journal_set_batch_status (writer, batch, MS_BATCH_PAUSED, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (ms_journal_check_changed (watcher, &stamp));
  /* Also a raw change from outside, as mailshot-cli's own connection. */
  raw_exec (path, "UPDATE recipients SET state = 4");
  g_assert_true (ms_journal_check_changed (watcher, &stamp));
  g_assert_false (ms_journal_check_changed (watcher, &stamp));
}

static void
test_row_advice (void)
{
  MsJournalRow row = { .address = (char *) "a@example.org" };
  g_autofree char *stored = NULL;
  g_autofree char *full = NULL;
  g_autofree char *unknown = NULL;
  g_autofree char *uncertain = NULL;
  g_autofree char *queued = NULL;
  g_autoptr(MsReply) reply = ms_reply_classify (552, "5.2.2 Mailbox full", NULL, 0);

  row.state = MS_STATE_SENT;
  g_assert_null (ms_journal_row_dup_advice (&row));

  /* The advice stored when the reply came wins. */
  row.state = MS_STATE_FAILED;
  row.reply_code = 550;
  row.reply_text = (char *) "5.1.1 User unknown";
  row.advice = (char *) "Stored advice.";
  stored = ms_journal_row_dup_advice (&row);
  g_assert_cmpstr (stored, ==, "Stored advice.");

  /* Without it, the stored reply is classified again: the same words as at sending. */
  row.advice = NULL;
  row.state = MS_STATE_DEFERRED;
  row.reply_code = 552;
  row.reply_text = (char *) "5.2.2 Mailbox full";
  full = ms_journal_row_dup_advice (&row);
  g_assert_cmpstr (full, ==, reply->advice);
  g_assert_nonnull (strstr (full, "mailbox is full"));
  row.state = MS_STATE_FAILED;
  row.reply_code = 550;
  row.reply_text = (char *) "5.1.1 User unknown";
  unknown = ms_journal_row_dup_advice (&row);
  g_assert_nonnull (unknown);
  g_assert_cmpstr (unknown, !=, full);

  /* No reply at all: a sentence for the state. */
  row.reply_code = 0;
  row.reply_text = NULL;
  row.state = MS_STATE_UNCERTAIN;
  uncertain = ms_journal_row_dup_advice (&row);
  g_assert_nonnull (strstr (uncertain, "may have been delivered"));
  row.state = MS_STATE_QUEUED;
  queued = ms_journal_row_dup_advice (&row);
  g_assert_nonnull (strstr (queued, "resumed"));
}

int
main (int    argc,
      char **argv)
{
  if (argc == 6 && g_str_equal (argv[1], "--child"))
    return child_main (argv[2], argv[3], g_ascii_strtoll (argv[4], NULL, 10),
                       (guint) g_ascii_strtoull (argv[5], NULL, 10));

  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  g_test_add_func ("/mailshot/journal/schema", test_schema);
  g_test_add_func ("/mailshot/journal/sidelog-recovery", test_sidelog_recovery);
  g_test_add_func ("/mailshot/journal/import-chunks", test_import_chunks);
  g_test_add_func ("/mailshot/journal/import-chunks-fail", test_import_chunks_fail);
  g_test_add_func ("/mailshot/journal/import-killed", test_import_killed);
  g_test_add_func ("/mailshot/journal/sidelog-on-lock", test_sidelog_on_lock);
  g_test_add_func ("/mailshot/journal/migration", test_migration);
  g_test_add_func ("/mailshot/journal/duplicate-keys", test_duplicate_keys);
  g_test_add_func ("/mailshot/journal/left-out", test_left_out);
  g_test_add_func ("/mailshot/journal/corrupt", test_corrupt);
  g_test_add_func ("/mailshot/journal/import", test_import);
  g_test_add_func ("/mailshot/journal/values", test_values);
  g_test_add_func ("/mailshot/journal/claim-record", test_claim_record);
  g_test_add_func ("/mailshot/journal/nested", test_nested);
  g_test_add_func ("/mailshot/journal/recovery-crash", test_recovery_crash);
  g_test_add_func ("/mailshot/journal/recovery-nothing-uncertain", test_recovery_nothing_uncertain);
  g_test_add_func ("/mailshot/journal/recovery-live", test_recovery_live);
  g_test_add_func ("/mailshot/journal/lock", test_lock);
  g_test_add_func ("/mailshot/journal/user-actions", test_user_actions);
  g_test_add_func ("/mailshot/journal/list-batches", test_list_batches);
  g_test_add_func ("/mailshot/journal/batch-rules", test_batch_rules);
  g_test_add_func ("/mailshot/journal/foreach", test_foreach);
  g_test_add_func ("/mailshot/journal/open-for-reading", test_open_for_reading);
  g_test_add_func ("/mailshot/journal/report-csv", test_report_csv);
  g_test_add_func ("/mailshot/journal/count-needing-attention", test_count_needing_attention);
  g_test_add_func ("/mailshot/journal/check-changed", test_check_changed);
  g_test_add_func ("/mailshot/journal/row-advice", test_row_advice);
  g_test_add_func ("/mailshot/journal/full-disk", test_full_disk);
  g_test_add_func ("/mailshot/journal/full-disk/subprocess", test_full_disk_subprocess);
  g_test_add_func ("/mailshot/journal/read-only", test_read_only_fs);
  g_test_add_func ("/mailshot/journal/read-only/subprocess", test_read_only_fs_subprocess);

  return g_test_run ();
}
