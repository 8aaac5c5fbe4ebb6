/* bench-journal.c: journal import, claim and record rates (run by hand, not a test)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * usage: bench-journal [ROWS] [DB-PATH]   (default 1000000 rows, a temp file)
 * BENCH_GROUP=N claims N rows at a time (16); BENCH_IMPORT_ONLY=1 stops after the import.
 * The claim is synced to disk (one fdatasync a group); the side log's two lines a
 * message are timed at the end.
 */
#include "config.h"

#include <stdio.h>
#include <sys/resource.h>

#include <glib/gstdio.h>

#include "mailshot-core.h"

static double
seconds_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1e6;
}

/* CPU seconds of this process: the wall time on a shared machine mostly
 * measures the neighbours (and fdatasync at checkpoints). */
static double
cpu_seconds (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  const char *fields[] = { "email", "name", "city", NULL };
  MsBatchSpec spec = { .account = (char *) "bench", .subject = (char *) "Hi {{name}}",
                       .text = (char *) "Hello", .fields = (char **) fields };
  guint rows = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 1000000;
  guint group_size = g_getenv ("BENCH_GROUP") ? (guint) g_ascii_strtoull (g_getenv ("BENCH_GROUP"), NULL, 10) : 16;
  double cpu;
  guint claimed, dups = 0;
  gint64 batch, start;
  double t;

  ms_core_init ();
  if (argc > 2)
    path = g_strdup (argv[2]);
  else
    {
      dir = g_dir_make_tmp ("bench-journal-XXXXXX", &error);
      g_assert_no_error (error);
      path = g_build_filename (dir, "journal.sqlite", NULL);
    }

  journal = ms_journal_open (path, &error);
  g_assert_no_error (error);
  batch = ms_journal_create_batch (journal, &spec, &error);
  g_assert_no_error (error);

  /* Import: one transaction, as the CLI does it. */
  start = g_get_monotonic_time ();
  cpu = cpu_seconds ();
  g_assert_true (ms_journal_begin (journal, &error));
  for (guint i = 0; i < rows; i++)
    {
      char address[64], name[32];
      const char *values[] = { address, name, "Lyon", NULL };
      gboolean dup;

      /* Scattered keys, as a real list's are (not in sorted order). */
      g_snprintf (address, sizeof address, "user%08x.%u@example.org", g_random_int (), i);
      g_snprintf (name, sizeof name, "Person %u", i);
      if (!ms_journal_add_recipient (journal, batch, address, values, i + 2, &dup, &error))
        g_error ("%s", error->message);
      dups += dup;
    }
  g_assert_true (ms_journal_commit (journal, &error));
  t = seconds_since (start);
  printf ("import:  %u rows in %.2f s = %.2f µs/row (CPU %.2f µs/row; %u duplicates)\n",
          rows, t, t * 1e6 / rows, (cpu_seconds () - cpu) * 1e6 / rows, dups);

  /* Claim and record in groups, as a blast does: separately (two
   * commits a group), then recording one group and claiming the next in one
   * transaction (one commit a group). */
  for (guint combined = 0; combined < 2 && !g_getenv ("BENCH_IMPORT_ONLY"); combined++)
    {
      g_autoptr(GPtrArray) group = NULL;
      guint limit = MIN (rows / 2, 100000);

      claimed = 0;
      start = g_get_monotonic_time ();
      cpu = cpu_seconds ();
      group = ms_journal_claim (journal, batch, group_size, 1, &error);
      g_assert_no_error (error);
      while (group->len > 0 && claimed < limit)
        {
          g_autofree MsJournalOutcome *outcomes = g_new0 (MsJournalOutcome, group->len);
          guint n = group->len;

          for (guint i = 0; i < n; i++)
            {
              MsJournalRow *row = group->pdata[i];

              outcomes[i].row_id = row->id;
              outcomes[i].state = MS_STATE_SENT;
              outcomes[i].reply_code = 250;
              outcomes[i].reply_text = "2.0.0 Ok: queued as ABCDEF";
              outcomes[i].message_id = "<bench@example.org>";
            }
          claimed += n;
          g_clear_pointer (&group, g_ptr_array_unref);

          if (combined)
            g_assert_true (ms_journal_begin (journal, &error));
          g_assert_true (ms_journal_record (journal, outcomes, n, &error));
          group = ms_journal_claim (journal, batch, group_size, 1, &error);
          g_assert_no_error (error);
          if (combined)
            g_assert_true (ms_journal_commit (journal, &error));
        }
      t = seconds_since (start);
      printf ("claim+record, groups of %u, %s: %u rows in %.2f s = %.2f µs/row (CPU %.2f µs/row)\n",
              group_size, combined ? "one commit a group" : "two commits a group",
              claimed, t, t * 1e6 / claimed, (cpu_seconds () - cpu) * 1e6 / claimed);
      if (group->len > 0)
        {
          g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));

          for (guint i = 0; i < group->len; i++)
            g_array_append_val (ids, ((MsJournalRow *) group->pdata[i])->id);
          g_assert_true (ms_journal_release (journal, (gint64 *) ids->data, ids->len, &error));
        }
    }

  /* The side log: "end sent" before each message's end, the answer after. */
  {
    g_autofree char *log_path = g_strconcat (path, "-bench.log", NULL);
    g_autoptr(MsSidelog) log = ms_sidelog_create (log_path, &error);
    guint n = 200000;

    g_assert_no_error (error);
    start = g_get_monotonic_time ();
    cpu = cpu_seconds ();
    for (guint i = 0; i < n; i++)
      {
        ms_sidelog_note_end (log, i + 1);
        ms_sidelog_note_accepted (log, i + 1, 1700000000, 250, "2.0.0 Ok: queued as ABCDEF0123",
                                  "1700000000.ab12cd34ef56.1@example.org");
      }
    t = seconds_since (start);
    printf ("side log, two lines a message: %u messages in %.2f s = %.2f µs/message (CPU %.2f µs)\n",
            n, t, t * 1e6 / n, (cpu_seconds () - cpu) * 1e6 / n);
    g_unlink (log_path);
  }

  start = g_get_monotonic_time ();
  {
    guint counts[MS_N_STATES];

    g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  }
  printf ("counts over %u rows: %.1f ms\n", rows, seconds_since (start) * 1e3);

  g_clear_object (&journal);
  if (dir != NULL)
    {
      g_autofree char *wal = g_strconcat (path, "-wal", NULL);
      g_autofree char *shm = g_strconcat (path, "-shm", NULL);

      g_unlink (path);
      g_unlink (wal);
      g_unlink (shm);
      g_rmdir (dir);
    }
  return 0;
}
