/* ms-import.h: a CSV recipient list into a new batch, the import rules shared by the CLI and the GUI
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ms-journal.h"
#include "ms-message.h"
#include "ms-recipients.h"
#include "ms-smtp.h"

G_BEGIN_DECLS

typedef struct {
  guint  imported;           /* rows added to the batch */
  guint  duplicates;         /* addresses seen before (sent once) */
  guint  left_out;           /* bad rows, by problem below */
  guint  bad_address, empty_address, field_count, bad_utf8, nul_byte;
} MsImportSummary;

/* Called for each row left out: its line, the problem, the address as
 * written (NULL when the row has none to trust: wrong field count, bad
 * UTF-8), and a translated detail or NULL: "expected 3 fields, got 2". */
typedef void (*MsImportBadRowFunc) (guint line, MsRecipientProblem problem, const char *address,
                                    const char *detail, gpointer user_data);
typedef void (*MsImportDuplicateFunc) (guint line, const char *address, gpointer user_data);

/**
 * ms_import_csv:
 * @spec: the batch to create; fields and email_index are filled in from the
 *   CSV header, so leave them unset
 *
 * Reads @csv_path with MsRecipients, checks the templates and attachments
 * against its columns before anything is stored (a missing field is an
 * MS_ERROR_INVALID_INPUT naming the field and where it was used), then adds
 * every usable row to a new batch, committed in chunks of 50,000 (the memory
 * stays flat for any size); an error on the way removes what was committed,
 * and the batch is locked until it is whole. Blocking.
 *
 * Returns: the new batch ID, 0 on error (nothing stored then).
 */
gint64    ms_import_csv       (MsJournal              *journal,
                               MsBatchSpec            *spec,
                               const char             *csv_path,
                               const char             *email_column,
                               MsImportBadRowFunc      bad_row_func,
                               MsImportDuplicateFunc   duplicate_func,
                               gpointer                user_data,
                               MsImportSummary        *summary,
                               GError                **error);
/* ---- An import sent while it goes on (`blast send`) ---- */

typedef struct _MsImportJob MsImportJob;

MsImportJob           *ms_import_start                   (MsJournal              *journal,
                                                          MsBatchSpec            *spec,
                                                          const char             *csv_path,
                                                          const char             *email_column,
                                                          MsImportBadRowFunc      bad_row_func,
                                                          MsImportDuplicateFunc   duplicate_func,
                                                          gpointer                user_data,
                                                          MsImportSummary        *summary,
                                                          GError                **error);
MsImportJob           *ms_import_resume                  (const char            *journal_path,
                                                          gint64                 batch,
                                                          guint                  line,
                                                          GError               **error);
gint64                 ms_import_job_get_batch           (MsImportJob           *job);
gboolean               ms_import_job_is_done             (MsImportJob           *job);
guint                  ms_import_job_get_n_records       (MsImportJob           *job);
const MsImportSummary *ms_import_job_get_summary         (MsImportJob           *job);
gboolean               ms_import_job_run                 (MsImportJob           *job,
                                                          void                 (*chunk_func) (gpointer),
                                                          gpointer               chunk_data,
                                                          GError               **error);
void                   ms_import_job_set_done_func       (MsImportJob           *job,
                                                          void                 (*func) (MsImportJob *job,
                                                                                        gpointer     user_data),
                                                          gpointer               user_data);
/* Unlocks the batch (after the run that sent it). */
void                   ms_import_job_free                (MsImportJob           *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsImportJob, ms_import_job_free)

/* "Imported 5 recipients; left out 3: 2 invalid address, 1 wrong field count; 1 duplicate sent once" */
char     *ms_import_summary_to_string (const MsImportSummary *summary);

/* ---- Preview: what an import would give, nothing stored ---- */

typedef struct {
  guint               line;        /* where the row starts in the file (1 = header) */
  MsRecipientProblem  problem;     /* why it is left out; MS_RECIPIENT_OK for a duplicate */
  gboolean            duplicate;   /* an address seen before: sent once, not left out */
  char               *reason;      /* translated: "Invalid address “x”", "Wrong number of fields (…)" */
} MsImportProblem;

typedef struct _MsImportPreview MsImportPreview;

MsImportPreview       *ms_import_preview                 (const char            *path,
                                                          const char            *email_column,
                                                          GError               **error);
void                   ms_import_preview_free            (MsImportPreview       *preview);
const char * const    *ms_import_preview_get_columns     (const MsImportPreview *preview);
int                    ms_import_preview_get_email_index (const MsImportPreview *preview);
guint                  ms_import_preview_get_rows        (const MsImportPreview *preview);
const MsImportSummary *ms_import_preview_get_summary     (const MsImportPreview *preview);
const MsImportProblem *ms_import_preview_get_problems    (const MsImportPreview *preview,
                                                          guint                 *n_problems);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsImportPreview, ms_import_preview_free)

/* `blast send --dry-run`: one row merged into its message, and the counts. */
GBytes                *ms_import_dry_run                 (MsBatchSpec           *spec,
                                                          const char            *csv_path,
                                                          const char            *email_column,
                                                          guint                  row,
                                                          guint                 *line,
                                                          MsImportSummary       *summary,
                                                          GError               **error);

/* ---- Preview per recipient, and "Send test to me" ---- */

MsMessageBuilder      *ms_import_new_builder             (const MsBatchSpec     *spec,
                                                          GError               **error);
/* The rows an import would add (usable, each address once), in order; GStrv each. */
GPtrArray             *ms_import_read_recipients         (const char            *path,
                                                          const char            *email_column,
                                                          guint                  max,
                                                          char                ***fields,
                                                          guint                 *email_index,
                                                          GError               **error);
void                   ms_import_send_test_async         (const MsSmtpConfig    *config,
                                                          const MsBatchSpec     *spec,
                                                          const char * const    *values,
                                                          const char            *to,
                                                          GCancellable          *cancellable,
                                                          GAsyncReadyCallback    callback,
                                                          gpointer               user_data);
gboolean               ms_import_send_test_finish        (GAsyncResult          *result,
                                                          GError               **error);

G_END_DECLS
