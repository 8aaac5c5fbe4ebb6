/* ms-journal.h: the SQLite journal of batches and recipients, the source of truth
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ms-reply.h"

G_BEGIN_DECLS

/* Stored as integers in the journal: never reorder, only append. */
typedef enum {
  MS_STATE_QUEUED,
  MS_STATE_SENDING,
  MS_STATE_SENT,
  MS_STATE_DEFERRED,
  MS_STATE_FAILED,
  MS_STATE_UNCERTAIN,
  MS_STATE_CANCELLED,
  MS_STATE_SKIPPED,
  MS_N_STATES
} MsRecipientState;

const char       *ms_recipient_state_to_string   (MsRecipientState state);  /* "queued" ... stable */
gboolean          ms_recipient_state_from_string (const char *str, MsRecipientState *state);
const char       *ms_recipient_state_get_label   (MsRecipientState state);  /* translated */

/* Stored as integers in the journal: never reorder, only append. */
typedef enum {
  MS_BATCH_READY,      /* imported, not started */
  MS_BATCH_RUNNING,
  MS_BATCH_PAUSED,     /* by the user, Ctrl-C, or a stop-class reply (see pause_reason) */
  MS_BATCH_FINISHED,   /* nothing left queued/deferred/sending */
  MS_BATCH_CANCELLED,
} MsBatchStatus;

const char *ms_batch_status_to_string (MsBatchStatus status);

/* What a batch needs to be sent, stored with it so that resume is exact. */
typedef struct {
  char   *account;
  char   *from_address;
  char   *from_name;
  char   *subject;
  char   *text;
  char   *html;
  char  **attachments;     /* paths */
  char   *unsubscribe;
  char  **fields;          /* CSV header */
  guint   email_index;
  char   *source;          /* the CSV path, for people */
} MsBatchSpec;

MsBatchSpec *ms_batch_spec_copy (const MsBatchSpec *spec);
void         ms_batch_spec_free (MsBatchSpec *spec);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsBatchSpec, ms_batch_spec_free)

typedef struct {
  gint64        id;
  gint64        created;        /* unix seconds */
  MsBatchStatus status;
  char         *subject;
  char         *account;
  char         *pause_reason;   /* advice when paused by a stop-class reply, or NULL */
  guint         counts[MS_N_STATES];
  guint         total;
  gboolean      import_unfinished;   /* sent while its list went in, and the list is not all in:
                                      * a resume imports the rest (the counts are of the rows in) */
} MsBatchInfo;

void ms_batch_info_free (MsBatchInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsBatchInfo, ms_batch_info_free)

/* One recipient row, as claimed for sending or listed. */
typedef struct {
  gint64            id;
  gint64            batch;
  char             *address;
  char            **values;      /* the CSV row */
  guint             line;        /* line in the CSV */
  MsRecipientState  state;
  guint             attempts;
  int               reply_code;
  char             *reply_text;
  MsReplyClass      reply_class;
  char             *advice;
  char             *message_id;
  gint64            queued_at, sent_at, next_due, updated_at;   /* unix seconds, 0 = never */
  gint64            first_attempt_at;  /* unix seconds, 0 = never; for ms_pacer_retry_delay() */
} MsJournalRow;

void ms_journal_row_free (MsJournalRow *row);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsJournalRow, ms_journal_row_free)

/* A row of the CSV that the import left out (a bad or empty address, a
 * wrong number of fields, text that is not UTF-8): never a recipient, but
 * part of the batch's report, where its state reads MS_JOURNAL_LEFT_OUT. */
typedef struct {
  gint64   batch;
  guint    line;        /* where the row starts in the CSV (1 = header) */
  char    *address;     /* as written, or NULL when the row was not read as one */
  char   **values;      /* the CSV row, or NULL (a wrong number of fields) */
  char    *reason;      /* translated at import: "Line 7: “ann@” is not a valid e-mail address." */
} MsJournalLeftOut;

/* The state word of a left-out row in `report --csv` and `blast report`:
 * not one of MsRecipientState, which are the states of a recipient. */
#define MS_JOURNAL_LEFT_OUT "left-out"

void ms_journal_left_out_free (MsJournalLeftOut *left_out);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsJournalLeftOut, ms_journal_left_out_free)

/* An outcome to record; recorded in short transactions of several outcomes. */
typedef struct {
  gint64            row_id;
  MsRecipientState  state;        /* SENT, DEFERRED, FAILED, QUEUED (lost connection: retry now) */
  int               reply_code;
  const char       *reply_text;
  MsReplyClass      reply_class;
  const char       *advice;
  const char       *message_id;
  gint64            next_due;     /* DEFERRED only */
} MsJournalOutcome;

#define MS_TYPE_JOURNAL (ms_journal_get_type ())
G_DECLARE_FINAL_TYPE (MsJournal, ms_journal, MS, JOURNAL, GObject)

/* @path NULL = $XDG_DATA_HOME/mailshot/journal.sqlite. WAL, versioned schema
 * with migrations. Opening also turns rows left in `sending` by a crash into
 * `uncertain` (a batch that is running in another process is not touched:
 * see ms_journal_lock_batch).
 * Threads: an MsJournal belongs to one thread at a time (the connection is
 * opened SQLITE_OPEN_NOMUTEX and caches its statements); a worker thread
 * opens its own. Several processes may open the same file. */
MsJournal   *ms_journal_open            (const char        *path,
                                         GError           **error);
/* For showing the journal: falls back to a read-only connection when it
 * cannot be written (full disk, read-only file or folder). */
MsJournal   *ms_journal_open_for_reading (const char       *path,
                                          GError          **error);
gboolean     ms_journal_is_read_only    (MsJournal         *self);
char        *ms_journal_dup_read_only_reason (MsJournal    *self);
const char  *ms_journal_get_path        (MsJournal         *self);

/* Import: begin, add rows, commit (one transaction). */
gint64       ms_journal_create_batch    (MsJournal         *self,
                                         const MsBatchSpec *spec,
                                         GError           **error);
gboolean     ms_journal_begin           (MsJournal *self, GError **error);
gboolean     ms_journal_commit          (MsJournal *self, GError **error);
void         ms_journal_rollback        (MsJournal *self);
/* An import's chunk: committed, its duplicate keys kept pending for the next
 * ms_journal_commit(); ms_journal_restore_keys() after its importer died. */
gboolean     ms_journal_commit_rows     (MsJournal *self, GError **error);
gboolean     ms_journal_restore_keys    (MsJournal *self, gint64 batch, GError **error);
/* Duplicates (address compared without case, per batch) are not added:
 * *duplicate is set and TRUE is returned. */
gboolean     ms_journal_add_recipient   (MsJournal          *self,
                                         gint64              batch,
                                         const char         *address,
                                         const char * const *values,
                                         guint               line,
                                         gboolean           *duplicate,
                                         GError            **error);
/* A row the import left out, with why (see MsJournalLeftOut); in the
 * import's transaction. @values: (nullable). */
gboolean     ms_journal_add_left_out    (MsJournal          *self,
                                         gint64              batch,
                                         guint               line,
                                         const char * const *values,
                                         const char         *reason,
                                         GError            **error);
/* Returns: (transfer full) (element-type MsJournalLeftOut): in line order. */
GPtrArray   *ms_journal_list_left_out   (MsJournal *self, gint64 batch, GError **error);

/* An import that failed after committing some of its rows leaves nothing. */
gboolean     ms_journal_discard_batch   (MsJournal *self, gint64 batch, GError **error);

MsBatchSpec *ms_journal_get_batch_spec  (MsJournal *self, gint64 batch, GError **error);
MsBatchInfo *ms_journal_get_batch_info  (MsJournal *self, gint64 batch, GError **error);
GPtrArray   *ms_journal_list_batches    (MsJournal *self, GError **error);   /* MsBatchInfo*, newest first */
gboolean     ms_journal_set_batch_status (MsJournal *self, gint64 batch, MsBatchStatus status,
                                          const char *pause_reason, GError **error);

/* Claims up to @max rows that are due (queued, or deferred with next_due <= @now),
 * marks them `sending` and counts an attempt, in one transaction.
 * Returns: (transfer full) (element-type MsJournalRow). */
GPtrArray   *ms_journal_claim           (MsJournal *self, gint64 batch, guint max, gint64 now, GError **error);
gboolean     ms_journal_record          (MsJournal *self, const MsJournalOutcome *outcomes, guint n,
                                         GError **error);
/* Rows still `sending` go back to `queued` (a clean pause: they were not sent). */
gboolean     ms_journal_release         (MsJournal *self, const gint64 *row_ids, guint n, GError **error);
/* Earliest next_due among deferred rows, 0 if none. */
gint64       ms_journal_next_due        (MsJournal *self, gint64 batch, GError **error);
gboolean     ms_journal_get_counts      (MsJournal *self, gint64 batch, guint counts[MS_N_STATES],
                                         GError **error);

/* The user's decisions in Pending e-mails and `cancel`. */
gboolean     ms_journal_retry_row       (MsJournal *self, gint64 row, GError **error);  /* -> queued */
gboolean     ms_journal_skip_row        (MsJournal *self, gint64 row, GError **error);  /* -> skipped */
gboolean     ms_journal_set_row_address (MsJournal *self, gint64 row, const char *address, GError **error);
gboolean     ms_journal_cancel_batch    (MsJournal *self, gint64 batch, GError **error); /* queued/deferred -> cancelled */

/* Rows of @batch (0 = all batches) whose state is in @states (NULL = all),
 * ordered by batch then id. Returns: (element-type MsJournalRow). */
GPtrArray   *ms_journal_list_rows       (MsJournal *self, gint64 batch, const MsRecipientState *states,
                                         guint n_states, GError **error);
typedef gboolean (*MsJournalRowFunc) (const MsJournalRow *row, gpointer user_data);
/* Streams rows without holding them all (report --csv on 1M rows). */
gboolean     ms_journal_foreach_row     (MsJournal *self, gint64 batch, const MsRecipientState *states,
                                         guint n_states, MsJournalRowFunc func, gpointer user_data,
                                         GError **error);

/* Batch-level rules, the same for every front end: a cancelled batch cannot
 * be resumed, a finished one cannot be cancelled. The errors say what to do. */
gboolean     ms_journal_check_can_resume (MsJournal *self, gint64 batch, GError **error);
gboolean     ms_journal_check_can_cancel (MsJournal *self, gint64 batch, GError **error);
/* "Mark as sent": an `uncertain` row the user knows arrived -> sent. Other states are refused. */
gboolean     ms_journal_mark_sent       (MsJournal *self, gint64 row, GError **error);
/* The row made from line @line of @batch's CSV (BATCH:LINE); 0 and MS_ERROR_NOT_FOUND when none. */
gint64       ms_journal_find_row        (MsJournal *self, gint64 batch, guint line, GError **error);

/* A process that runs a batch holds its lock, so that two processes never send
 * the same batch and recovery never touches a live batch. */
gboolean     ms_journal_lock_batch      (MsJournal *self, gint64 batch, GError **error);
void         ms_journal_unlock_batch    (MsJournal *self, gint64 batch);
/* For an import committed in chunks: a batch whose importer died is removed
 * by the next recovery. */
gboolean     ms_journal_lock_batch_for_import (MsJournal *self, gint64 batch, GError **error);
/* An import that sends while it goes on: from its first chunk on the batch
 * is kept if the importer dies, and a resume imports the rest from the line
 * after the last one in (0 = the whole list is in). */
gboolean     ms_journal_set_import_unfinished (MsJournal *self, gint64 batch, gboolean unfinished,
                                               GError **error);
gboolean     ms_journal_get_import_line (MsJournal *self, gint64 batch, guint *line, GError **error);
/* What identified the list's file when such an import began (size, mtime,
 * SHA-256 in hex; *sha256 NULL when not recorded): a resume refuses another. */
gboolean     ms_journal_set_source_identity (MsJournal *self, gint64 batch, gint64 size, gint64 mtime,
                                             const char *sha256, GError **error);
gboolean     ms_journal_get_source_identity (MsJournal *self, gint64 batch, gint64 *size, gint64 *mtime,
                                             char **sha256, GError **error);
/* The side log (ms-sidelog.h) of the run that sends @batch. Recovery (at
 * open, and when a batch is locked) settles the rows a dead run left
 * `sending` from it: sent, queued again, or uncertain. */
char        *ms_journal_dup_sidelog_path (MsJournal *self, gint64 batch);

/* Added for the pacer: the sent_at times (unix seconds, ascending) of rows
 * sent at or after @since by @account (NULL = every account), to seed
 * ms_pacer_add_history() so that limits hold across restarts.
 * Returns: (transfer full) (element-type gint64). */
GArray      *ms_journal_get_sent_times  (MsJournal *self, const char *account, gint64 since,
                                         GError **error);

/* What the Batches and Pending views need, the same for every front end. */

/* The report of @batch as CSV (RFC 4180): a header line, then one line per
 * recipient: address,state,attempts,time,reply_code,reply_text,message_id.
 * `mailshot-cli blast report --csv` and Export CSV write exactly this. */
gboolean     ms_journal_write_report_csv (MsJournal     *self,
                                          gint64         batch,
                                          GOutputStream *out,
                                          GCancellable  *cancellable,
                                          GError       **error);
/* Rows as the Pending view shows them, as CSV: a header line, then
 * batch,line,address,state,attempts,time,reply_code,reply_text,advice.
 * @rows: (element-type MsJournalRow). */
gboolean     ms_journal_write_rows_csv  (GPtrArray     *rows,
                                         GOutputStream *out,
                                         GCancellable  *cancellable,
                                         GError       **error);
/* The rows that need the user, across batches: failed and uncertain
 * (deferred ones are retried by themselves). The Pending badge. */
guint        ms_journal_count_needing_attention (MsJournal *self, GError **error);
/* TRUE when another connection (another process, or a blast's own) has
 * changed the journal since the last call with the same @stamp, and on the
 * first call (@stamp 0). Cheap: for a poll while a window is shown. */
gboolean     ms_journal_check_changed   (MsJournal *self, gint64 *stamp);
/* What to do about a row: its stored advice, else the advice of its stored
 * reply classified again, else a sentence for its state. Transfer full; NULL
 * for a sent row. */
char        *ms_journal_row_dup_advice  (const MsJournalRow *row);
/* After a crash or a restart: whether another process sends @batch now; the
 * batches to offer for resuming (paused or left running, something left,
 * not busy elsewhere; MsBatchInfo*, newest first); and "resend the
 * uncertain ones", the user's choice before a resume. */
gboolean     ms_journal_is_batch_busy   (MsJournal *self, gint64 batch);
GPtrArray   *ms_journal_list_unfinished (MsJournal *self, GError **error);
gboolean     ms_journal_requeue_uncertain (MsJournal *self, gint64 batch, guint *n_requeued,
                                           GError **error);

/* The reply behind the latest rate-limit wait ("451 4.7.0 …"), recorded at or
 * after @since (unix seconds); NULL when none. */
char        *ms_journal_dup_rate_limit_reply (MsJournal *self, const char *account, gint64 since);

G_END_DECLS
