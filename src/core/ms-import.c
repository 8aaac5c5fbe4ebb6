/* ms-import.c: a CSV recipient list into a new batch, the import rules shared by the CLI and the GUI
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ms-core.h"
#include "ms-error.h"
#include "ms-import.h"
#include "ms-message.h"

#include <sqlite3.h>

/* The import commits this many rows at a time: its memory (the duplicate
 * keys of the rows not yet committed, the pages SQLite holds for the
 * transaction) stays the same for any size of list. */
#define IMPORT_CHUNK_ROWS 50000
/* An import that sends while it goes on (ms_import_start()) commits much
 * smaller chunks: the connections start after the first, and each chunk
 * holds the journal's write lock, which the claims and the records of the
 * messages on the wire wait for (a few milliseconds at this size). */
#define OVERLAP_CHUNK_ROWS 1000
/* …whose duplicate keys go in every this many rows (the keys of the rows
 * in between wait in memory, 16 bytes and an index slot each): half the
 * import's, since the job's own memory is held beside it. */
#define OVERLAP_KEY_ROWS 25000

/* MS_IMPORT_CHUNK overrides it, for tests of the overlap with small lists. */
static guint
overlap_chunk_rows (void)
{
  static gsize rows = 0;

  if (g_once_init_enter (&rows))
    g_once_init_leave (&rows, ms_core_env_uint ("MS_IMPORT_CHUNK", OVERLAP_CHUNK_ROWS, 1000000));
  return (guint) rows;
}

struct _MsImportJob
{
  MsJournal              *journal;
  MsBatchSpec            *spec;           /* the caller's */
  char                   *csv_path;
  MsRecipients           *recipients;
  MsImportBadRowFunc      bad_row_func;
  MsImportDuplicateFunc   duplicate_func;
  gpointer                user_data;
  MsImportSummary         summary;
  gint64                  batch;
  guint                   last_line;      /* of the last row read */
  gboolean                locked;
  gboolean                committed;      /* a chunk is in */
  gboolean                sending;        /* the batch may be sent while the rest goes in */
  gint                    done;           /* the whole list is in; atomic: a window's progress asks */
  guint                   n_records;      /* of the whole file, from the structure check */
  gboolean                failed;
  MsBatchSpec            *owned_spec;     /* a resume's */
  gint64                  source_size;    /* what identified the file at the start: */
  gint64                  source_mtime;   /* see file_identity() */
  char                   *source_sha256;
  void                  (*done_func) (MsImportJob *job, gpointer user_data);
  gpointer                done_data;
};

static void
count_problem (MsImportSummary    *summary,
               MsRecipientProblem  problem)
{
  summary->left_out++;
  switch (problem)
    {
    case MS_RECIPIENT_BAD_ADDRESS: summary->bad_address++; break;
    case MS_RECIPIENT_EMPTY_ADDRESS: summary->empty_address++; break;
    case MS_RECIPIENT_FIELD_COUNT: summary->field_count++; break;
    case MS_RECIPIENT_BAD_UTF8: summary->bad_utf8++; break;
    case MS_RECIPIENT_NUL_BYTE: summary->nul_byte++; break;
    case MS_RECIPIENT_OK:
    default: break;
    }
}

/* What identifies the list's file, for a resume that imports its rest: its
 * size, its modification time, and the SHA-256 of all its bytes (a file
 * edited in place may keep its size and even its mtime). The whole file is
 * read once more beside the structure check: about 0.1 s for a million
 * rows (46 MB) from the page cache, against 9 s for their import. */
static gboolean
file_identity (const char  *path,
               gint64      *size,
               gint64      *mtime,
               char       **sha256,
               GError     **error)
{
  g_autoptr(GChecksum) checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_autofree guchar *buffer = g_malloc (64 * 1024);
  struct stat st;
  ssize_t n;
  int fd;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0 || fstat (fd, &st) < 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT, _("Could not read the recipient list %s: %s"), path,
                   g_strerror (saved));
      return FALSE;
    }
  while ((n = read (fd, buffer, 64 * 1024)) != 0)
    {
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int saved = errno;

          close (fd);
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT, _("Could not read the recipient list %s: %s"), path,
                       g_strerror (saved));
          return FALSE;
        }
      g_checksum_update (checksum, buffer, n);
    }
  close (fd);
  *size = st.st_size;
  *mtime = st.st_mtime;
  *sha256 = g_strdup (g_checksum_get_string (checksum));
  return TRUE;
}

/* Reads rows into the open transaction until @until rows are imported (then
 * the caller commits) or the file ends (*eof), committing every @chunk
 * imported rows and calling @chunk_func after each such commit. */
static gboolean
import_rows (MsImportJob  *job,
             guint         until,
             guint         chunk,
             void        (*chunk_func) (gpointer),
             gpointer      chunk_data,
             gboolean     *eof,
             GError      **error)
{
  MsImportSummary *summary = &job->summary;
  const char * const *values;
  MsRecipientProblem problem;
  g_autoptr(GError) local_error = NULL;
  guint line;

  *eof = FALSE;
  while (summary->imported < until)
    {
      const char *address;
      gboolean duplicate = FALSE;

      if (!ms_recipients_next (job->recipients, &values, &line, &problem, &local_error))
        {
          if (local_error != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local_error));
              return FALSE;
            }
          *eof = TRUE;
          return TRUE;
        }
      job->last_line = line;
      address = values != NULL ? values[job->spec->email_index] : NULL;

      if (problem != MS_RECIPIENT_OK)
        {
          count_problem (summary, problem);
          if (job->bad_row_func != NULL)
            {
              g_autofree char *detail = NULL;

              /* A row split on a delimiter inside an unquoted value: the
               * counts show which way it went wrong. */
              if (problem == MS_RECIPIENT_FIELD_COUNT)
                detail = g_strdup_printf (_("expected %u fields, got %u"),
                                          ms_recipients_get_n_fields (job->recipients),
                                          ms_recipients_get_row_field_count (job->recipients));
              job->bad_row_func (line, problem, problem == MS_RECIPIENT_FIELD_COUNT ||
                                                problem == MS_RECIPIENT_BAD_UTF8 ? NULL : address,
                                 detail, job->user_data);
            }
          /* The batch's report lists it too, with its line and why. */
          if (!ms_journal_add_left_out (job->journal, job->batch, line,
                                        problem == MS_RECIPIENT_FIELD_COUNT ? NULL : values,
                                        ms_recipients_get_problem_detail (job->recipients), error))
            return FALSE;
          continue;
        }
      if (!ms_journal_add_recipient (job->journal, job->batch, address, values, line, &duplicate, error))
        return FALSE;
      if (duplicate)
        {
          summary->duplicates++;
          if (job->duplicate_func != NULL)
            job->duplicate_func (line, address, job->user_data);
        }
      else if (++summary->imported % chunk == 0 && summary->imported < until)
        {
          /* Small chunks keep their keys pending until a whole import
           * chunk's worth is in (see ms_journal_commit_rows()). */
          gboolean keys = chunk >= IMPORT_CHUNK_ROWS || summary->imported % OVERLAP_KEY_ROWS == 0;

          if (!(keys ? ms_journal_commit (job->journal, error) : ms_journal_commit_rows (job->journal, error)) ||
              !ms_journal_begin (job->journal, error))
            return FALSE;
          job->committed = TRUE;
          if (chunk_func != NULL)
            chunk_func (chunk_data);
        }
    }
  return TRUE;
}

/* The reader, the spec's columns, the pre-flight, and the new batch locked
 * for its import, in an open transaction. */
static MsImportJob *
job_open (MsJournal              *journal,
          MsBatchSpec            *spec,
          const char             *csv_path,
          const char             *email_column,
          MsImportBadRowFunc      bad_row_func,
          MsImportDuplicateFunc   duplicate_func,
          gpointer                user_data,
          gboolean                check_first,
          GError                **error)
{
  g_autoptr(MsImportJob) job = g_new0 (MsImportJob, 1);
  g_autoptr(MsMessageBuilder) builder = NULL;

  job->journal = g_object_ref (journal);
  job->spec = spec;
  job->csv_path = g_strdup (csv_path);
  job->bad_row_func = bad_row_func;
  job->duplicate_func = duplicate_func;
  job->user_data = user_data;

  job->recipients = ms_recipients_new_for_path (csv_path, email_column, error);
  if (job->recipients == NULL)
    return NULL;

  g_strfreev (spec->fields);
  spec->fields = g_strdupv ((char **) ms_recipients_get_fields (job->recipients));
  spec->email_index = ms_recipients_get_email_index (job->recipients);
  if (spec->source == NULL)
    spec->source = g_strdup (csv_path);

  /* Pre-flight: every field the templates use must be a column, and the
   * attachments must be readable, before anything is stored. */
  builder = ms_import_new_builder (spec, error);
  if (builder == NULL)
    return NULL;

  /* What would stop the import as a whole (a quote never closed, a value
   * over 64 KiB...) is found before the batch exists, with the error the
   * import itself would give: the rows themselves are read later. */
  if (check_first)
    {
      g_autoptr(MsRecipients) scan = ms_recipients_new_for_path (csv_path, email_column, error);

      if (scan == NULL || !ms_recipients_check_rest (scan, &job->n_records, error) ||
          !file_identity (csv_path, &job->source_size, &job->source_mtime, &job->source_sha256, error))
        return NULL;
    }

  if (!ms_journal_begin (journal, error))
    return NULL;
  job->batch = ms_journal_create_batch (journal, spec, error);
  /* Locked while the chunks go in: no other process sends or resumes a
   * batch that is not whole yet, and one whose import dies half way is
   * removed by the next recovery. */
  if (job->batch <= 0 || !ms_journal_lock_batch_for_import (journal, job->batch, error))
    {
      ms_journal_rollback (journal);
      return NULL;
    }
  job->locked = TRUE;
  return g_steal_pointer (&job);
}

/* An error before sending began: as if nothing had been read, the chunks
 * already in go too. */
static void
job_discard (MsImportJob *job)
{
  g_autoptr(GError) discard_error = NULL;

  ms_journal_rollback (job->journal);
  if (job->committed && !ms_journal_discard_batch (job->journal, job->batch, &discard_error))
    g_debug ("import: could not remove batch %" G_GINT64_FORMAT ": %s", job->batch, discard_error->message);
  ms_journal_unlock_batch (job->journal, job->batch);
  job->locked = FALSE;
  job->batch = 0;
}

static gboolean
check_some_imported (MsImportJob  *job,
                     GError      **error)
{
  if (job->summary.imported > 0)
    return TRUE;
  g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
               _("%s: no usable recipients; check the address column and the rows listed above."),
               job->csv_path);
  return FALSE;
}

void
ms_import_job_free (MsImportJob *job)
{
  if (job == NULL)
    return;
  if (job->locked)
    ms_journal_unlock_batch (job->journal, job->batch);
  g_clear_object (&job->recipients);
  g_clear_object (&job->journal);
  g_clear_pointer (&job->owned_spec, ms_batch_spec_free);
  g_free (job->source_sha256);
  g_free (job->csv_path);
  g_free (job);
}

gint64
ms_import_csv (MsJournal              *journal,
               MsBatchSpec            *spec,
               const char             *csv_path,
               const char             *email_column,
               MsImportBadRowFunc      bad_row_func,
               MsImportDuplicateFunc   duplicate_func,
               gpointer                user_data,
               MsImportSummary        *summary,
               GError                **error)
{
  g_autoptr(MsImportJob) job = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean eof;
  gint64 batch;

  g_return_val_if_fail (MS_IS_JOURNAL (journal), 0);
  g_return_val_if_fail (spec != NULL, 0);
  g_return_val_if_fail (csv_path != NULL, 0);

  if (summary != NULL)
    memset (summary, 0, sizeof *summary);

  job = job_open (journal, spec, csv_path, email_column, bad_row_func, duplicate_func, user_data, FALSE, error);
  if (job == NULL)
    return 0;

  if (import_rows (job, G_MAXUINT, IMPORT_CHUNK_ROWS, NULL, NULL, &eof, &local_error) &&
      check_some_imported (job, &local_error))
    ms_journal_commit (journal, &local_error);
  if (summary != NULL)
    *summary = job->summary;
  if (local_error != NULL)
    {
      job_discard (job);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return 0;
    }
  batch = job->batch;
  return batch;
}

/**
 * ms_import_start:
 * @spec: as for ms_import_csv()
 *
 * The start of an import that is sent while it goes on: reads the whole
 * file once for what would stop the import as a whole (a quote never
 * closed, a value over 64 KiB: the same errors as ms_import_csv(), and
 * then nothing is stored), creates the batch, and commits its first rows
 * (a thousand usable ones, or all of a shorter list). From then on the
 * batch can be sent (its lock stays with @journal: see ms_blast_set_import())
 * while ms_import_job_run() adds the rest. The rows left out and the
 * duplicates are reported through the callbacks as they are read, in both
 * parts. Blocking.
 *
 * Returns: (transfer full): the job, whose batch ID is
 *   ms_import_job_get_batch(), or %NULL with the errors of ms_import_csv()
 *   (nothing stored then)
 */
MsImportJob *
ms_import_start (MsJournal              *journal,
                 MsBatchSpec            *spec,
                 const char             *csv_path,
                 const char             *email_column,
                 MsImportBadRowFunc      bad_row_func,
                 MsImportDuplicateFunc   duplicate_func,
                 gpointer                user_data,
                 MsImportSummary        *summary,
                 GError                **error)
{
  g_autoptr(MsImportJob) job = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean eof;

  g_return_val_if_fail (MS_IS_JOURNAL (journal), NULL);
  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (csv_path != NULL, NULL);

  if (summary != NULL)
    memset (summary, 0, sizeof *summary);

  job = job_open (journal, spec, csv_path, email_column, bad_row_func, duplicate_func, user_data, TRUE, error);
  if (job == NULL)
    return NULL;

  /* A list whose first thousand rows have no usable one may still have
   * some: read on until one chunk of usable rows is in, or to the end. */
  if (import_rows (job, overlap_chunk_rows (), overlap_chunk_rows (), NULL, NULL, &eof, &local_error) &&
      /* Whole at once or not, its lock is a run's from this commit on: the
       * batch may be sent before the job is freed. */
      (eof ? (check_some_imported (job, &local_error) &&
              ms_journal_set_import_unfinished (journal, job->batch, FALSE, &local_error))
           : (ms_journal_set_import_unfinished (journal, job->batch, TRUE, &local_error) &&
              ms_journal_set_source_identity (journal, job->batch, job->source_size, job->source_mtime,
                                              job->source_sha256, &local_error))))
    {
      if (eof)
        ms_journal_commit (journal, &local_error);
      else
        ms_journal_commit_rows (journal, &local_error);
    }
  if (summary != NULL)
    *summary = job->summary;
  if (local_error != NULL)
    {
      job_discard (job);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  /* Unless the list is whole, a dead importer's batch is kept from here
   * on (it may have been sent), and a resume imports the rest. */
  job->committed = TRUE;
  g_atomic_int_set (&job->done, eof);
  job->sending = !eof;
  return g_steal_pointer (&job);
}

/* Whether the file of a resume is the one its batch's import began with
 * (ms_journal_set_source_identity()); a batch that did not record it (an
 * older version's) is taken on trust, as the columns were. */
static gboolean
check_same_file (MsImportJob  *job,
                 GError      **error)
{
  g_autofree char *was_sha256 = NULL;
  g_autofree char *was_time = NULL;
  g_autofree char *batch_text = NULL;
  g_autofree char *kept = NULL;
  g_autoptr(GDateTime) was = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  gint64 was_size, was_mtime;

  if (!ms_journal_get_source_identity (job->journal, job->batch, &was_size, &was_mtime, &was_sha256, error))
    return FALSE;
  if (was_sha256 == NULL)
    return TRUE;
  if (!file_identity (job->csv_path, &job->source_size, &job->source_mtime, &job->source_sha256, error))
    return FALSE;
  /* Touched or copied with its bytes the same: the same list. */
  if (job->source_size == was_size && g_str_equal (job->source_sha256, was_sha256))
    return TRUE;

  info = ms_journal_get_batch_info (job->journal, job->batch, error);
  if (info == NULL)
    return FALSE;
  was = g_date_time_new_from_unix_local (was_mtime);
  was_time = was != NULL ? g_date_time_format (was, "%c") : g_strdup ("?");
  kept = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE, "The %u message already sent stays sent, and none is sent "
                                       "twice.", "The %u messages already sent stay sent, and none is sent twice.",
                                       info->counts[MS_STATE_SENT]), info->counts[MS_STATE_SENT]);
  /* Translators: the first %s is the CSV file; then a batch number; then
   * when the file was last modified before that import; then the sentence
   * "The 10 messages already sent stay sent, and none is sent twice." */
  /* The number goes in as a string: xgettext cannot see through G_GINT64_FORMAT. */
  batch_text = g_strdup_printf ("%" G_GINT64_FORMAT, job->batch);
  g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
               _("The recipient list %s has changed since batch %s began to be imported from it "
                 "(it was last modified %s then), so the rest of the list cannot be read from it. Put the file back "
                 "as it was and resume again, or send the rows that are not in the batch yet as a new batch. %s"),
               job->csv_path, batch_text, was_time, kept);
  return FALSE;
}

/**
 * ms_import_resume:
 * @journal_path: the journal (the job opens its own)
 * @batch: a batch whose import stopped half way (a crash, a read error)
 * @line: where its rows end: ms_journal_get_import_line()
 *
 * The rest of @batch's list, for a run that resumes it: the file it was
 * imported from, read from the row after @line, once its header is checked
 * against the batch's columns and its structure as ms_import_start() checks
 * it. Run it with ms_import_job_run(); the rows left out are stored with
 * the batch, no callback is called. Blocking.
 *
 * Returns: (transfer full): the job, or %NULL with an MS_ERROR saying why
 *   the rest cannot be imported (the file is gone, or is another one)
 */
MsImportJob *
ms_import_resume (const char  *journal_path,
                  gint64       batch,
                  guint        line,
                  GError     **error)
{
  g_autoptr(MsImportJob) job = g_new0 (MsImportJob, 1);
  g_autoptr(MsRecipients) scan = NULL;
  const char * const *fields;
  const char *column;

  g_return_val_if_fail (batch > 0, NULL);
  g_return_val_if_fail (line >= 1, NULL);

  job->journal = ms_journal_open (journal_path, error);
  if (job->journal == NULL)
    return NULL;
  job->owned_spec = ms_journal_get_batch_spec (job->journal, batch, error);
  if (job->owned_spec == NULL)
    return NULL;
  job->spec = job->owned_spec;
  job->batch = batch;
  job->committed = TRUE;
  job->sending = TRUE;
  job->last_line = line;
  job->csv_path = g_strdup (job->spec->source);
  if (job->csv_path == NULL || job->spec->fields == NULL ||
      job->spec->email_index >= g_strv_length (job->spec->fields))
    {
      g_autofree char *batch_text = g_strdup_printf ("%" G_GINT64_FORMAT, batch);

      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("Batch %s does not say which file its list came from: its rest cannot be "
                     "imported."), batch_text);
      return NULL;
    }
  column = job->spec->fields[job->spec->email_index];
  job->recipients = ms_recipients_new_for_path (job->csv_path, column, error);
  if (job->recipients == NULL)
    return NULL;
  fields = ms_recipients_get_fields (job->recipients);
  if (!g_strv_equal (fields, (const char * const *) job->spec->fields))
    {
      g_autofree char *batch_text = g_strdup_printf ("%" G_GINT64_FORMAT, batch);

      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The recipient list %s has other columns than when batch %s was imported "
                     "from it: its rest cannot be imported."), job->csv_path, batch_text);
      return NULL;
    }
  /* Same columns, but other rows would put the rows after @line out of
   * step with those in: some sent twice, some never. */
  if (!check_same_file (job, error))
    return NULL;
  scan = ms_recipients_new_for_path (job->csv_path, column, error);
  /* The keys its importer held pending when it died, before any row is
   * checked against them. */
  /* Its record count too, as at the start: the progress reads "of about
   * N" against it while the rest goes in (ms_blast_get_list_records()). */
  if (scan == NULL || !ms_recipients_check_rest (scan, &job->n_records, error) ||
      !ms_recipients_skip_through (job->recipients, line, error) ||
      !ms_journal_restore_keys (job->journal, batch, error))
    return NULL;
  return g_steal_pointer (&job);
}

gint64
ms_import_job_get_batch (MsImportJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->batch;
}

/* Whether the whole list is in. */
gboolean
ms_import_job_is_done (MsImportJob *job)
{
  g_return_val_if_fail (job != NULL, FALSE);
  return g_atomic_int_get (&job->done);
}

/* The records of the whole file (rows left out and duplicates included),
 * from the structure check of ms_import_start() or ms_import_resume():
 * what the batch's count will be at most, before the list is all in. */
guint
ms_import_job_get_n_records (MsImportJob *job)
{
  g_return_val_if_fail (job != NULL, 0);
  return job->n_records;
}

/* The counts so far; final once ms_import_job_run() returned TRUE. */
const MsImportSummary *
ms_import_job_get_summary (MsImportJob *job)
{
  g_return_val_if_fail (job != NULL, NULL);
  return &job->summary;
}

/**
 * ms_import_job_run:
 * @chunk_func: (nullable): called (in this thread) after each chunk is
 *   committed, and once more at the end
 *
 * Adds the rest of the list to the batch of ms_import_start(), in chunks of
 * a thousand rows. Blocking; it may run in another thread than the start
 * (the journal must then be used by nobody else until it returns). An error
 * here (a read error, a full disk: the structure was checked at the start)
 * keeps what is in, since it may have been sent, and says from which line
 * the list is missing.
 *
 * Returns: %TRUE when the whole list is in.
 */
gboolean
ms_import_job_run (MsImportJob  *job,
                   void        (*chunk_func) (gpointer),
                   gpointer      chunk_data,
                   GError      **error)
{
  g_autoptr(GError) local_error = NULL;
  gboolean eof = FALSE;

  g_return_val_if_fail (job != NULL, FALSE);
  g_return_val_if_fail (job->batch > 0, FALSE);

  if (g_atomic_int_get (&job->done) || job->failed)
    return g_atomic_int_get (&job->done);

  if (ms_journal_begin (job->journal, &local_error) &&
      import_rows (job, G_MAXUINT, overlap_chunk_rows (), chunk_func, chunk_data, &eof, &local_error) &&
      ms_journal_set_import_unfinished (job->journal, job->batch, FALSE, &local_error))
    ms_journal_commit (job->journal, &local_error);
  if (local_error != NULL)
    {
      ms_journal_rollback (job->journal);
      job->failed = TRUE;
      /* What is in stays (it may have been sent); the batch remembers that
       * its list is not whole, and a resume tries the rest again.
       * Translators: the first %s is the CSV file, the last one the error. */
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The list %s could not be imported to its end: the rows after line %u are not in the batch "
                     "yet (%s). Resume imports and sends them once the file can be read again."),
                   job->csv_path, job->last_line, local_error->message);
      if (chunk_func != NULL)
        chunk_func (chunk_data);
      return FALSE;
    }
  g_atomic_int_set (&job->done, TRUE);
  if (job->done_func != NULL)
    job->done_func (job, job->done_data);
  if (chunk_func != NULL)
    chunk_func (chunk_data);
  return TRUE;
}

/* @func is called in the thread of ms_import_job_run() once the whole list
 * is in (the summary is final then), before the run learns it. */
void
ms_import_job_set_done_func (MsImportJob  *job,
                             void        (*func) (MsImportJob *job, gpointer user_data),
                             gpointer      user_data)
{
  g_return_if_fail (job != NULL);
  job->done_func = func;
  job->done_data = user_data;
}

char *
ms_import_summary_to_string (const MsImportSummary *s)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (s != NULL, NULL);

  g_string_append_printf (out, g_dngettext (GETTEXT_PACKAGE, "Imported %u recipient", "Imported %u recipients",
                                            s->imported), s->imported);
  if (s->left_out > 0)
    {
      const struct { guint n; const char *what; } parts[] = {
        { s->bad_address, N_("invalid address") },
        { s->empty_address, N_("empty address") },
        { s->field_count, N_("wrong field count") },
        { s->bad_utf8, N_("invalid UTF-8") },
        { s->nul_byte, N_("NUL byte") },
      };
      gboolean first = TRUE;

      g_string_append_printf (out, _("; left out %u: "), s->left_out);
      for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
        if (parts[i].n > 0)
          {
            g_string_append_printf (out, "%s%u %s", first ? "" : ", ", parts[i].n, _(parts[i].what));
            first = FALSE;
          }
    }
  if (s->duplicates > 0)
    g_string_append_printf (out, g_dngettext (GETTEXT_PACKAGE, "; %u duplicate sent once",
                                              "; %u duplicates sent once", s->duplicates), s->duplicates);
  return g_string_free (out, FALSE);
}

/* ------------------------------------------------------------------ preview */

/* Problems kept for "Show problems": a list of a million bad rows is the
 * wrong file, and its first ten thousand say so; the counts stay exact. */
#define MAX_PROBLEMS 10000

struct _MsImportPreview
{
  char            **columns;
  int               email_index;
  guint             rows;
  MsImportSummary   summary;
  GArray           *problems;     /* MsImportProblem */
};

static void
problem_clear (gpointer data)
{
  MsImportProblem *p = data;

  g_free (p->reason);
}

static MsImportPreview *
preview_new (void)
{
  MsImportPreview *preview = g_new0 (MsImportPreview, 1);

  preview->email_index = -1;
  preview->problems = g_array_new (FALSE, TRUE, sizeof (MsImportProblem));
  g_array_set_clear_func (preview->problems, problem_clear);
  return preview;
}

void
ms_import_preview_free (MsImportPreview *preview)
{
  if (preview == NULL)
    return;
  g_strfreev (preview->columns);
  g_array_unref (preview->problems);
  g_free (preview);
}

static void
add_problem (MsImportPreview    *preview,
             guint               line,
             MsRecipientProblem  problem,
             gboolean            duplicate,
             char               *reason)
{
  MsImportProblem p = { line, problem, duplicate, reason };

  if (preview->problems->len < MAX_PROBLEMS)
    g_array_append_val (preview->problems, p);
  else
    g_free (reason);
}

/* The addresses a preview has seen, to find the duplicates as the import
 * does (ms_recipients_address_key()). A hash table up to SEEN_IN_MEMORY of
 * them (about 1.6 MB); past that they move to a temporary SQLite file with a 2 MB page
 * cache, so that the preview of a million rows stays within a few MB like
 * the import (the hash table held 181 MB then). */
#define SEEN_IN_MEMORY 10000

typedef struct {
  GHashTable   *small;
  sqlite3      *db;
  sqlite3_stmt *insert;
} SeenSet;

static void
seen_clear (SeenSet *seen)
{
  g_clear_pointer (&seen->small, g_hash_table_unref);
  g_clear_pointer (&seen->insert, sqlite3_finalize);
  g_clear_pointer (&seen->db, sqlite3_close);
}

static gboolean
seen_spill (SeenSet  *seen,
            GError  **error)
{
  GHashTableIter iter;
  gpointer key;
  int rc;

  /* "": a private file in the temporary folder, removed when closed. */
  rc = sqlite3_open_v2 ("", &seen->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_exec (seen->db,
                       "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -2048;"
                       "CREATE TABLE seen (key TEXT PRIMARY KEY) WITHOUT ROWID; BEGIN",
                       NULL, NULL, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2 (seen->db, "INSERT OR IGNORE INTO seen (key) VALUES (?1)", -1, &seen->insert, NULL);
  g_hash_table_iter_init (&iter, seen->small);
  while (rc == SQLITE_OK && g_hash_table_iter_next (&iter, &key, NULL))
    {
      sqlite3_bind_text (seen->insert, 1, key, -1, SQLITE_STATIC);
      rc = sqlite3_step (seen->insert) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode (seen->db);
      sqlite3_reset (seen->insert);
    }
  if (rc != SQLITE_OK)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                   _("The duplicate check of the list needs a temporary file, which could not be written (%s). "
                     "Free some space in the temporary folder."),
                   seen->db != NULL ? sqlite3_errmsg (seen->db) : sqlite3_errstr (rc));
      return FALSE;
    }
  g_clear_pointer (&seen->small, g_hash_table_unref);
  return TRUE;
}

/* TRUE in *added when @key (transfer full) was not seen before. */
static gboolean
seen_add (SeenSet   *seen,
          char      *key,
          gboolean  *added,
          GError   **error)
{
  int rc;

  if (seen->db == NULL)
    {
      *added = g_hash_table_add (seen->small, key);
      if (g_hash_table_size (seen->small) > SEEN_IN_MEMORY)
        return seen_spill (seen, error);
      return TRUE;
    }
  sqlite3_bind_text (seen->insert, 1, key, -1, g_free);
  rc = sqlite3_step (seen->insert);
  sqlite3_reset (seen->insert);
  if (rc != SQLITE_DONE)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                   _("The duplicate check of the list needs a temporary file, which could not be written (%s). "
                     "Free some space in the temporary folder."), sqlite3_errmsg (seen->db));
      return FALSE;
    }
  *added = sqlite3_changes (seen->db) > 0;
  return TRUE;
}

/* Reads every row as ms_import_csv() would, counting and listing what it
 * would leave out, without storing anything. The values of data row
 * @want_row (1 = the first after the header), when asked for, are copied
 * out with its line and problem. */
static gboolean
walk (MsRecipients        *recipients,
      MsImportPreview     *preview,
      guint                want_row,
      char              ***want_values,
      guint               *want_line,
      MsRecipientProblem  *want_problem,
      GError             **error)
{
  SeenSet seen = { g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL), NULL, NULL };
  g_autoptr(GError) local_error = NULL;
  gboolean added = FALSE;
  gboolean ok;
  guint email_index = ms_recipients_get_email_index (recipients);
  const char * const *values;
  MsRecipientProblem problem;
  guint line;
  MsImportSummary *summary = &preview->summary;

  while (ms_recipients_next (recipients, &values, &line, &problem, &local_error))
    {
      const char *address = values != NULL ? values[email_index] : NULL;

      preview->rows++;
      if (want_values != NULL && preview->rows == want_row)
        {
          *want_values = values != NULL ? g_strdupv ((char **) values) : g_new0 (char *, 1);
          *want_line = line;
          *want_problem = problem;
        }
      if (problem != MS_RECIPIENT_OK)
        {
          g_autofree char *detail = NULL;
          char *reason;

          /* The same counts as the import (a NUL byte was not counted here). */
          count_problem (summary, problem);
          if (problem == MS_RECIPIENT_FIELD_COUNT)
            detail = g_strdup_printf (_("expected %u fields, got %u"), ms_recipients_get_n_fields (recipients),
                                      ms_recipients_get_row_field_count (recipients));
          if (detail != NULL)
            reason = g_strdup_printf ("%s (%s)", ms_recipient_problem_get_label (problem), detail);
          else if (problem != MS_RECIPIENT_BAD_UTF8 && address != NULL && *address != '\0')
            reason = g_strdup_printf ("%s “%s”", ms_recipient_problem_get_label (problem), address);
          else
            reason = g_strdup (ms_recipient_problem_get_label (problem));
          add_problem (preview, line, problem, FALSE, reason);
          continue;
        }
      if (!seen_add (&seen, ms_recipients_address_key (address), &added, &local_error))
        break;
      if (!added)
        {
          summary->duplicates++;
          /* Translators: %s is an e-mail address that came earlier in the list. */
          add_problem (preview, line, MS_RECIPIENT_OK, TRUE,
                       g_strdup_printf (_("Duplicate address “%s”"), address));
        }
      else
        summary->imported++;
    }
  seen_clear (&seen);
  ok = local_error == NULL;
  if (local_error != NULL)
    g_propagate_error (error, g_steal_pointer (&local_error));
  return ok;
}

/**
 * ms_import_preview:
 * @path: a CSV file
 * @email_column: (nullable): the address column's name; %NULL to find it
 *   by name
 *
 * What importing @path would give, without storing anything: its columns,
 * the address column, the counts and the problems with their lines. When
 * @email_column is %NULL and no column is recognised as the address, that
 * is not an error: the preview has the columns, an email index of -1 and no
 * counts, so that the user can pick the column (then preview again with it).
 * Blocking; run it in a thread for a large file.
 *
 * Returns: (transfer full): the preview, or %NULL with @error
 *   (%MS_ERROR_INVALID_INPUT: the file cannot be read, its header is
 *   unusable, or @email_column is not one of its columns)
 */
MsImportPreview *
ms_import_preview (const char  *path,
                   const char  *email_column,
                   GError     **error)
{
  g_autoptr(MsImportPreview) preview = NULL;
  g_autoptr(MsRecipients) recipients = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  preview = preview_new ();
  recipients = ms_recipients_new_for_path (path, email_column, &local_error);
  if (recipients == NULL)
    {
      g_autoptr(GFile) file = NULL;
      g_autoptr(GFileInputStream) stream = NULL;

      /* Maybe only the address column is missing: then the columns are
       * what the user needs, to pick it. */
      if (email_column == NULL)
        {
          file = g_file_new_for_path (path);
          stream = g_file_read (file, NULL, NULL);
        }
      if (stream != NULL)
        preview->columns = ms_recipients_read_header (G_INPUT_STREAM (stream), path, &preview->email_index, NULL);
      if (preview->columns == NULL || preview->email_index >= 0)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      return g_steal_pointer (&preview);
    }

  preview->columns = g_strdupv ((char **) ms_recipients_get_fields (recipients));
  preview->email_index = (int) ms_recipients_get_email_index (recipients);
  if (!walk (recipients, preview, 0, NULL, NULL, NULL, error))
    return NULL;
  return g_steal_pointer (&preview);
}

/* Returns: (transfer none) (array zero-terminated=1): the CSV's column names */
const char * const *
ms_import_preview_get_columns (const MsImportPreview *preview)
{
  g_return_val_if_fail (preview != NULL, NULL);
  return (const char * const *) preview->columns;
}

/* The address column, -1 when none was recognised. */
int
ms_import_preview_get_email_index (const MsImportPreview *preview)
{
  g_return_val_if_fail (preview != NULL, -1);
  return preview->email_index;
}

/* The data rows read (the header not counted), usable or not. */
guint
ms_import_preview_get_rows (const MsImportPreview *preview)
{
  g_return_val_if_fail (preview != NULL, 0);
  return preview->rows;
}

/* The counts ms_import_csv() would report: imported is the number of
 * recipients (valid addresses, each once). */
const MsImportSummary *
ms_import_preview_get_summary (const MsImportPreview *preview)
{
  g_return_val_if_fail (preview != NULL, NULL);
  return &preview->summary;
}

/* Returns: (transfer none): the problems in line order, at most 10,000 */
const MsImportProblem *
ms_import_preview_get_problems (const MsImportPreview *preview,
                                guint                 *n_problems)
{
  g_return_val_if_fail (preview != NULL, NULL);
  g_return_val_if_fail (n_problems != NULL, NULL);

  *n_problems = preview->problems->len;
  return (const MsImportProblem *) preview->problems->data;
}

/* ------------------------------------------------------------------ dry run */

/**
 * ms_import_dry_run:
 * @spec: as for ms_import_csv(): its fields and email_index are filled in
 * @row: the data row to merge, 1 = the first after the header
 * @line: (out) (optional): the line @row starts on
 * @summary: (out) (optional): the counts the import would report
 *
 * `blast send --dry-run`: checks the list, the templates and the attachments
 * exactly as ms_import_csv() would, and merges one row into the message its
 * recipient would get. Nothing is stored, nothing is sent.
 *
 * Returns: (transfer full): the message (CRLF), or %NULL with @error: those
 *   of ms_import_csv(), or %MS_ERROR_INVALID_VALUE when @row is past the end
 *   of the list or is a row the import would leave out (the message says why)
 */
GBytes *
ms_import_dry_run (MsBatchSpec      *spec,
                   const char       *csv_path,
                   const char       *email_column,
                   guint             row,
                   guint            *line,
                   MsImportSummary  *summary,
                   GError          **error)
{
  g_autoptr(MsRecipients) recipients = NULL;
  g_autoptr(MsMessageBuilder) builder = NULL;
  g_autoptr(MsImportPreview) preview = preview_new ();
  g_auto(GStrv) values = NULL;
  MsRecipientProblem problem = MS_RECIPIENT_OK;
  guint row_line = 0;

  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (csv_path != NULL, NULL);
  g_return_val_if_fail (row >= 1, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  recipients = ms_recipients_new_for_path (csv_path, email_column, error);
  if (recipients == NULL)
    return NULL;
  g_strfreev (spec->fields);
  spec->fields = g_strdupv ((char **) ms_recipients_get_fields (recipients));
  spec->email_index = ms_recipients_get_email_index (recipients);

  builder = ms_import_new_builder (spec, error);
  if (builder == NULL)
    return NULL;

  if (!walk (recipients, preview, row, &values, &row_line, &problem, error))
    return NULL;
  if (summary != NULL)
    *summary = preview->summary;
  if (line != NULL)
    *line = row_line;

  if (values == NULL)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   g_dngettext (GETTEXT_PACKAGE, "%s has only %u row after its header: choose a row from 1 to %u.",
                                "%s has only %u rows after its header: choose a row from 1 to %u.", preview->rows),
                   csv_path, preview->rows, preview->rows);
      return NULL;
    }
  if (problem != MS_RECIPIENT_OK)
    {
      /* Translators: %u is a row of the list, the second one its line; the last %s why it is left out. */
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("Row %u (line %u of %s) would be left out: %s. Choose another row."),
                   row, row_line, csv_path, ms_recipient_problem_get_label (problem));
      return NULL;
    }
  return ms_message_builder_render (builder, (const char * const *) values, NULL, error);
}

/* ------------------------------------------------------------------ preview per recipient */

/**
 * ms_import_new_builder:
 * @spec: a batch spec with its fields and email_index set (by
 *   ms_import_read_recipients() or ms_import_csv())
 *
 * The message builder of @spec, as the blast makes it: the templates bound
 * to the columns, the attachments read. Blocking (the attachments).
 *
 * Returns: (transfer full): the builder, or %NULL with the errors of
 *   ms_message_builder_new()
 */
MsMessageBuilder *
ms_import_new_builder (const MsBatchSpec  *spec,
                       GError            **error)
{
  MsMessageSpec mspec = { 0 };

  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (spec->fields != NULL, NULL);

  mspec.from_address = spec->from_address;
  mspec.from_name = spec->from_name;
  mspec.subject = spec->subject;
  mspec.text = spec->text;
  mspec.html = spec->html;
  mspec.attachments = (const char * const *) spec->attachments;
  mspec.unsubscribe = spec->unsubscribe;
  mspec.fields = (const char * const *) spec->fields;
  mspec.email_index = spec->email_index;
  return ms_message_builder_new (&mspec, error);
}

/**
 * ms_import_read_recipients:
 * @path: a CSV file
 * @email_column: (nullable): as for ms_import_csv()
 * @max: keep at most this many rows (0 = all)
 * @fields: (out) (transfer full): the columns
 * @email_index: (out): the address column
 *
 * The rows an import would add, in order: the rows left out and the
 * duplicates (sent once) are skipped as ms_import_csv() skips them. For
 * stepping through a preview, recipient by recipient.
 *
 * Returns: (transfer full) (element-type GStrv): the rows, or %NULL with the
 *   errors of ms_recipients_new_for_path()
 */
GPtrArray *
ms_import_read_recipients (const char   *path,
                           const char   *email_column,
                           guint         max,
                           char       ***fields,
                           guint        *email_index,
                           GError      **error)
{
  g_autoptr(MsRecipients) recipients = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) g_strfreev);
  const char * const *values;
  MsRecipientProblem problem;
  guint line, index;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (fields != NULL, NULL);
  g_return_val_if_fail (email_index != NULL, NULL);

  recipients = ms_recipients_new_for_path (path, email_column, error);
  if (recipients == NULL)
    return NULL;
  index = ms_recipients_get_email_index (recipients);
  while ((max == 0 || rows->len < max) && ms_recipients_next (recipients, &values, &line, &problem, error))
    if (problem == MS_RECIPIENT_OK && g_hash_table_add (seen, ms_recipients_address_key (values[index])))
      g_ptr_array_add (rows, g_strdupv ((char **) values));
  if (error != NULL && *error != NULL)
    return NULL;
  *fields = g_strdupv ((char **) ms_recipients_get_fields (recipients));
  *email_index = index;
  return g_steal_pointer (&rows);
}

typedef struct {
  MsSmtpConfig  *config;
  MsBatchSpec   *spec;
  char         **values;
  char          *to;
} SendTestData;

static void
send_test_data_free (SendTestData *data)
{
  g_clear_pointer (&data->config, ms_smtp_config_free);
  g_clear_pointer (&data->spec, ms_batch_spec_free);
  g_strfreev (data->values);
  g_free (data->to);
  g_free (data);
}

static void
send_test_thread (GTask        *task,
                  gpointer      source,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  SendTestData *data = task_data;
  g_autoptr(MsMessageBuilder) builder = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(MsSmtp) smtp = NULL;
  GError *error = NULL;
  const MsReply *reply;

  builder = ms_import_new_builder (data->spec, &error);
  if (builder != NULL)
    message = ms_message_builder_render (builder, (const char * const *) data->values, NULL, &error);
  if (message == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  smtp = ms_smtp_new (data->config);
  if (ms_smtp_send (smtp, data->spec->from_address, data->to, message, cancellable, &error))
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  /* The same wording as a failed test e-mail: what the server said, then
   * what to do about it. */
  reply = ms_smtp_get_reply (smtp);
  if (reply != NULL && reply->code > 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *said = g_strdup_printf (_("Server reply: %d %s"), reply->code,
                                               reply->text != NULL ? reply->text : "");
      GError *worded = g_error_new (error->domain, error->code, "%s\n%s", said,
                                    reply->advice != NULL ? reply->advice : error->message);

      g_error_free (error);
      error = worded;
    }
  g_task_return_error (task, error);
}

/**
 * ms_import_send_test_async:
 * @config: the account's snapshot with its password (ms_account_load_config_async())
 * @spec: the batch spec, with fields and email_index
 * @values: one row, as ms_import_read_recipients() gives it
 * @to: where the test goes, usually the account's own address
 *
 * "Send test to me": the message @values's recipient would get, merged and
 * laid out as the blast does it, sent to @to in a worker thread. Nothing is
 * stored in the journal.
 */
void
ms_import_send_test_async (const MsSmtpConfig  *config,
                           const MsBatchSpec   *spec,
                           const char * const  *values,
                           const char          *to,
                           GCancellable        *cancellable,
                           GAsyncReadyCallback  callback,
                           gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  SendTestData *data;

  g_return_if_fail (config != NULL);
  g_return_if_fail (spec != NULL);
  g_return_if_fail (values != NULL);
  g_return_if_fail (to != NULL);

  data = g_new0 (SendTestData, 1);
  data->config = ms_smtp_config_copy (config);
  data->spec = ms_batch_spec_copy (spec);
  data->values = g_strdupv ((char **) values);
  data->to = g_strdup (to);
  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_import_send_test_async);
  g_task_set_task_data (task, data, (GDestroyNotify) send_test_data_free);
  g_task_run_in_thread (task, send_test_thread);
}

/* Returns: %TRUE when the server took the message; else %FALSE with an
 * MS_ERROR whose message gives the server's reply and what to do. */
gboolean
ms_import_send_test_finish (GAsyncResult  *result,
                            GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
