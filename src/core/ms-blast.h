/* ms-blast.h: the e-blast job, a GTask worker driving N connections
 * SPDX-License-Identifier: GPL-3.0-or-later */

/* How it runs: the GTask worker (the coordinator) owns its own MsJournal, the
 * pacer and the message builder; it claims rows in small groups, renders each
 * message just before it goes and hands it to one of N connection threads
 * (one MsSmtp session each, two jobs queued ahead), then records the outcomes
 * in short transactions. A thread per connection, not one curl multi handle:
 * libcurl 7.88 waits for the end-of-DATA reply in a blocking loop, which made
 * connections on one multi handle wait for each other. */
#pragma once

#include <gio/gio.h>

#include "ms-journal.h"
#include "ms-pacer.h"
#include "ms-reply.h"
#include "ms-smtp.h"

G_BEGIN_DECLS

typedef struct {
  gint64   batch;
  guint    counts[MS_N_STATES];
  guint    total;
  double   rate;             /* messages per second, recent */
  gint64   eta;              /* seconds, -1 unknown */
  gint64   waiting_until;    /* unix seconds of a rate-limit wait, 0 = none */
  const char *status_text;   /* translated: "Sending", "Waiting for the rate limit until 14:05" */
  const char *waiting_reply; /* the server's reply behind waiting_until ("451 4.7.0 …"), or NULL */
  gboolean importing;        /* the list still goes in (ms_blast_set_import(), a resume): total is of the rows in */
} MsBlastProgress;

typedef void (*MsBlastProgressFunc) (const MsBlastProgress *progress, gpointer user_data);

#define MS_TYPE_BLAST (ms_blast_get_type ())
G_DECLARE_FINAL_TYPE (MsBlast, ms_blast, MS, BLAST, GObject)

/* @config is copied (with the password); @journal_path NULL = default. */
MsBlast  *ms_blast_new          (const MsSmtpConfig  *config,
                                 const MsPacerLimits *limits,
                                 const char          *journal_path,
                                 gint64               batch);
/* Progress is delivered in the caller's thread-default main context, at most
 * ten times a second, and once more at the end. */
void      ms_blast_set_progress_func (MsBlast             *self,
                                      MsBlastProgressFunc  func,
                                      gpointer             user_data,
                                      GDestroyNotify       destroy);
/* Called (in the caller's context) when the account must wait; persist it to
 * `rate-limited-until`. */
void      ms_blast_set_rate_limit_func (MsBlast *self, void (*func) (gint64 until, gpointer), gpointer user_data);
/* Called (in the caller's context, at most once a run) when a connection
 * saw the server offer STARTTLS: persist it with ms_account_note_session (),
 * so that a later session without STARTTLS is refused as a downgrade. */
typedef void (*MsBlastSessionFunc) (gboolean starttls_offered, gpointer user_data);
void      ms_blast_set_session_func (MsBlast *self, MsBlastSessionFunc func, gpointer user_data);

void      ms_blast_run_async    (MsBlast             *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data);
/* TRUE when the run ended without an error: the batch FINISHED, or it was
 * PAUSED by ms_blast_pause()/ms_blast_abort() (ms_blast_get_status() tells
 * which). Paused by a stop-class reply: FALSE with the MS_ERROR_* of the
 * reply and its advice. Cancelled: G_IO_ERROR_CANCELLED (the batch is then
 * CANCELLED: its queued and deferred rows too). */
gboolean  ms_blast_run_finish   (MsBlast             *self,
                                 GAsyncResult        *result,
                                 GError             **error);
/* Thread-safe. Pause: the messages in flight finish, nothing new starts, the
 * run completes with the batch PAUSED. */
void      ms_blast_pause        (MsBlast *self);
/* Thread-safe. Like ms_blast_pause(), but the transfers in flight are cut
 * short too (a second Ctrl-C): a message cut after its body went out
 * becomes `uncertain`, the others go back to `queued`. */
void      ms_blast_abort        (MsBlast *self);
/* The batch status when the run ended (READY before any run). */
MsBatchStatus ms_blast_get_status (MsBlast *self);
gint64    ms_blast_get_batch    (MsBlast *self);
/* Sends the batch while the rest of its list is imported (ms_import_start()). */
struct _MsImportJob;
void      ms_blast_set_import   (MsBlast *self, struct _MsImportJob *import);
/* Thread-safe: the records of the batch's list file while a run imports its
 * rest (set or resumed), for the total of a progress that says importing. */
guint     ms_blast_get_list_records (MsBlast *self);
/* Default TRUE: when only deferred rows due later are left, the job sleeps
 * until they are due. FALSE: the run ends then, with the batch PAUSED and a
 * pause reason saying when they are due (resume sends them). */
void      ms_blast_set_wait_for_deferred (MsBlast *self, gboolean wait);

G_END_DECLS
