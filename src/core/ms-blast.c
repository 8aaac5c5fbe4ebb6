/* ms-blast.c: the e-blast job, a GTask worker driving N connections
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ms-blast.h"
#include "ms-core.h"
#include "ms-error.h"
#include "ms-import.h"
#include "ms-message.h"
#include "ms-sidelog.h"

/* Claimed rows per connection: enough to keep every connection busy between
 * two claims. A kill leaves none of them `uncertain` (the side log says which
 * went out); a power cut leaves the unanswered rows of the last group so. */
#define CLAIM_PER_CONNECTION   4
/* A claim is synced to disk before its first message goes out (one fsync,
 * about 0.25 ms here): claiming at least this many at once keeps that off
 * the per-message path. bench/README has the trade-off; MS_BLAST_CLAIM_GROUP
 * overrides it for measuring. */
#define CLAIM_GROUP            64
/* Outcomes are written in short transactions: every 256, or every 100 ms.
 * A commit costs about as much as the updates of a dozen rows, and each
 * page of rows is written once for all its rows, so fewer commits is the
 * cheapest cut of the journal's share of a message (256 against 64: 3 %
 * less CPU, 4 connections 1.01–1.03× smtp-source → 1.01–1.09×). Neither
 * promise depends on it: after a kill the side log holds every answer, and
 * after a power cut an unrecorded row is one of the claimed groups (whose
 * rows without an outcome become uncertain) whatever this number. Other
 * processes (the window's poll, `blast status`) see the outcomes at most
 * 100 ms late, as before. MS_BLAST_RECORD_BATCH overrides it for measuring. */
#define RECORD_BATCH           256
#define RECORD_INTERVAL_USEC   (100 * G_USEC_PER_SEC / 1000)
#define PROGRESS_INTERVAL_USEC (100 * G_USEC_PER_SEC / 1000)
/* Counts are re-read from the journal now and then, to stay the truth. */
#define COUNTS_INTERVAL_USEC   (2 * G_USEC_PER_SEC)
/* Transport failures in a row (no message got through in between) before
 * the batch pauses with the advice. */
#define MAX_TRANSPORT_FAILURES 5
/* Wait longer than this and the claimed rows go back to `queued`, so that a
 * crash during the wait does not turn them `uncertain`. */
#define RELEASE_WAIT_USEC      (2 * G_USEC_PER_SEC)
#define RATE_SAMPLES           50
/* Messages in flight on one connection (MS_BLAST_WINDOW overrides it): with
 * PIPELINING two give one round trip per message, with CHUNKING each more is
 * one more message per round trip. It bounds the uncertain rows of a drop or
 * a kill: at most this many per connection. */
#define WINDOW_PER_CONNECTION  4
/* Messages rendered and handed to each connection ahead of its window
 * (MS_BLAST_QUEUE overrides it): the coordinator then wakes once for several
 * results instead of once for each, which was the main cost at 4 connections
 * on two cores (one context switch and one render pass per message). The
 * rows are claimed, not sent: a kill or a pause gives them back as they were. */
#define JOBS_PER_CONNECTION    16

typedef struct {
  gint64 when;   /* monotonic µs */
  guint  done;
} RateSample;

struct _MsBlast
{
  GObject parent_instance;

  MsSmtpConfig  *config;
  MsPacerLimits  limits;
  char          *journal_path;
  gint64         batch;
  gboolean       wait_for_deferred;

  MsBlastProgressFunc progress_func;
  gpointer            progress_data;
  GDestroyNotify      progress_destroy;
  void              (*rate_limit_func) (gint64 until, gpointer user_data);
  gpointer            rate_limit_data;
  MsBlastSessionFunc  session_func;
  gpointer            session_data;
  MsImportJob        *import;      /* the rest of the list, imported while it is sent */
  gint                list_records; /* atomic: the records of its file, while a run imports (0 = none) */

  gboolean       running;
  MsBatchStatus  status;

  /* Shared with the worker. */
  GMutex         lock;
  int            wake_fd;          /* eventfd: pause/abort/cancel wake the loop */
  gint           pause_requested;  /* atomic */
  gint           abort_requested;  /* atomic */
  MsBlastProgress latest;
  char          *latest_status;
  char          *latest_reply;     /* the rate-limit reply behind waiting_until */
  gboolean       progress_scheduled;
};

G_DEFINE_FINAL_TYPE (MsBlast, ms_blast, G_TYPE_OBJECT)

static void
ms_blast_finalize (GObject *object)
{
  MsBlast *self = MS_BLAST (object);

  if (self->progress_destroy != NULL)
    self->progress_destroy (self->progress_data);
  g_clear_pointer (&self->config, ms_smtp_config_free);
  g_clear_pointer (&self->journal_path, g_free);
  g_clear_pointer (&self->latest_status, g_free);
  g_clear_pointer (&self->latest_reply, g_free);
  if (self->wake_fd >= 0)
    close (self->wake_fd);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (ms_blast_parent_class)->finalize (object);
}

static void
ms_blast_class_init (MsBlastClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_blast_finalize;
}

static void
ms_blast_init (MsBlast *self)
{
  g_mutex_init (&self->lock);
  self->wake_fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
  self->wait_for_deferred = TRUE;
  self->status = MS_BATCH_READY;
}

/**
 * ms_blast_new:
 * @config: the account snapshot, copied with its password
 * @limits: the account's sending limits (and its rate-limited-until)
 * @journal_path: (nullable): the journal, NULL = the default one
 * @batch: the batch to send
 *
 * Returns: (transfer full): a job for one batch; run it with ms_blast_run_async().
 */
MsBlast *
ms_blast_new (const MsSmtpConfig  *config,
              const MsPacerLimits *limits,
              const char          *journal_path,
              gint64               batch)
{
  MsBlast *self;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (limits != NULL, NULL);
  g_return_val_if_fail (batch > 0, NULL);

  self = g_object_new (MS_TYPE_BLAST, NULL);
  self->config = ms_smtp_config_copy (config);
  self->limits = *limits;
  if (self->limits.connections < 1)
    self->limits.connections = 1;
  self->journal_path = g_strdup (journal_path);
  self->batch = batch;
  return self;
}

void
ms_blast_set_progress_func (MsBlast             *self,
                            MsBlastProgressFunc  func,
                            gpointer             user_data,
                            GDestroyNotify       destroy)
{
  g_return_if_fail (MS_IS_BLAST (self));
  g_return_if_fail (!self->running);

  if (self->progress_destroy != NULL)
    self->progress_destroy (self->progress_data);
  self->progress_func = func;
  self->progress_data = user_data;
  self->progress_destroy = destroy;
}

void
ms_blast_set_rate_limit_func (MsBlast  *self,
                              void    (*func) (gint64 until, gpointer),
                              gpointer  user_data)
{
  g_return_if_fail (MS_IS_BLAST (self));
  g_return_if_fail (!self->running);

  self->rate_limit_func = func;
  self->rate_limit_data = user_data;
}

/**
 * ms_blast_set_session_func:
 * @func: (nullable): called in the thread-default context of the caller of
 *   ms_blast_run_async(), at most once a run
 *
 * Tells the caller what a connection learnt about the server that the
 * account keeps: that it offered STARTTLS (the downgrade check needs it).
 */
void
ms_blast_set_session_func (MsBlast            *self,
                           MsBlastSessionFunc  func,
                           gpointer            user_data)
{
  g_return_if_fail (MS_IS_BLAST (self));
  g_return_if_fail (!self->running);

  self->session_func = func;
  self->session_data = user_data;
}

/**
 * ms_blast_set_import:
 * @import: (transfer none): an import started with ms_import_start() for
 *   this batch; it must outlive the run
 *
 * Sends the batch while the rest of its list is imported: the run adds it
 * (ms_import_job_run()) in a thread of its own, claims each chunk as it is
 * committed, and ends only once the whole list is in. The batch's lock
 * stays with the import's journal (free the import after the run). An
 * import that fails half way pauses the batch with its error; what was in
 * may have been sent and stays.
 */
void
ms_blast_set_import (MsBlast     *self,
                     MsImportJob *import)
{
  g_return_if_fail (MS_IS_BLAST (self));
  g_return_if_fail (!self->running);
  g_return_if_fail (import == NULL || ms_import_job_get_batch (import) == self->batch);

  self->import = import;
}

/**
 * ms_blast_get_list_records:
 *
 * Thread-safe. The records of the batch's whole list file (rows left out
 * and duplicates included), from the structure check of the import a run
 * goes on with: ms_blast_set_import()'s, or the one a resume starts by
 * itself for a batch whose list is not all in. While a progress says
 * `importing`, its total is of the rows in so far; the batch's total will
 * be at most this, so a front end shows "of about N" against it and its bar
 * never moves back. 0 when no run has imported anything.
 */
guint
ms_blast_get_list_records (MsBlast *self)
{
  g_return_val_if_fail (MS_IS_BLAST (self), 0);
  return (guint) g_atomic_int_get (&self->list_records);
}

void
ms_blast_set_wait_for_deferred (MsBlast  *self,
                                gboolean  wait)
{
  g_return_if_fail (MS_IS_BLAST (self));
  self->wait_for_deferred = !!wait;
}

MsBatchStatus
ms_blast_get_status (MsBlast *self)
{
  g_return_val_if_fail (MS_IS_BLAST (self), MS_BATCH_READY);
  return self->status;
}

gint64
ms_blast_get_batch (MsBlast *self)
{
  g_return_val_if_fail (MS_IS_BLAST (self), 0);
  return self->batch;
}

static void
wake (MsBlast *self)
{
  guint64 one = 1;

  if (self->wake_fd >= 0 && write (self->wake_fd, &one, sizeof one) < 0)
    g_debug ("blast: could not wake the worker: %s", g_strerror (errno));
}

/**
 * ms_blast_pause:
 *
 * Thread-safe. The messages in flight finish, nothing new starts; the run
 * then completes with the batch PAUSED.
 */
void
ms_blast_pause (MsBlast *self)
{
  g_return_if_fail (MS_IS_BLAST (self));
  g_atomic_int_set (&self->pause_requested, 1);
  wake (self);
}

void
ms_blast_abort (MsBlast *self)
{
  g_return_if_fail (MS_IS_BLAST (self));
  g_atomic_int_set (&self->pause_requested, 1);
  g_atomic_int_set (&self->abort_requested, 1);
  wake (self);
}

/* ------------------------------------------------------------------ progress */

static gboolean
progress_dispatch (gpointer data)
{
  MsBlast *self = data;
  MsBlastProgress copy;
  g_autofree char *status = NULL;
  g_autofree char *reply = NULL;

  g_mutex_lock (&self->lock);
  copy = self->latest;
  status = g_strdup (self->latest_status);
  reply = g_strdup (self->latest_reply);
  self->progress_scheduled = FALSE;
  g_mutex_unlock (&self->lock);

  copy.status_text = status != NULL ? status : "";
  copy.waiting_reply = copy.waiting_until > 0 ? reply : NULL;
  if (self->progress_func != NULL)
    self->progress_func (&copy, self->progress_data);
  return G_SOURCE_REMOVE;
}

typedef struct {
  MsBlast *self;
  gint64   until;
} RateLimitCall;

static gboolean
rate_limit_dispatch (gpointer data)
{
  RateLimitCall *call = data;

  if (call->self->rate_limit_func != NULL)
    call->self->rate_limit_func (call->until, call->self->rate_limit_data);
  return G_SOURCE_REMOVE;
}

static void
rate_limit_call_free (gpointer data)
{
  RateLimitCall *call = data;

  g_object_unref (call->self);
  g_free (call);
}

static gboolean
session_dispatch (gpointer data)
{
  MsBlast *self = data;

  if (self->session_func != NULL)
    self->session_func (TRUE, self->session_data);
  return G_SOURCE_REMOVE;
}

/* ------------------------------------------------------------------ the run */

/* One message handed to a connection's thread. */
typedef struct {
  MsJournalRow *row;
  GBytes       *message;
  char         *message_id;
  gint64        handed_at;   /* monotonic µs */
  gboolean      end_logged;  /* its "end sent" line is in the side log */
  gboolean      resent;      /* sent again after a per-connection limit */
} Job;

typedef struct _Run Run;

/* Claims the next group ahead in its own thread, on its own journal: a claim
 * is synced to disk (0.25 ms on a quiet disk, several on a busy one), and the
 * coordinator must not wait for that while the connections run dry. Used
 * when the account has no sending limits (with limits, the pacer decides how
 * many to claim, a few at a time). */
typedef struct {
  Run          *run;
  GThread      *thread;
  MsJournal    *journal;     /* the thread's own while it runs */
  GMutex        lock;
  GCond         cond;
  GQueue        ready;       /* MsJournalRow*, claimed, not taken yet */
  guint         group;
  gboolean      refill;      /* the coordinator asks for the next group */
  gboolean      busy;        /* a claim is under way */
  gboolean      exhausted;   /* the last claim found nothing due */
  gboolean      stop;
  GError       *error;
} Claimer;

/* One connection: a thread that sends the jobs of its queue on its own
 * MsSmtp session, a window of them in flight at once (ms_smtp_bulk_*). A
 * thread each keeps the connections from waiting for each other. */
typedef struct {
  Run          *run;
  guint         index;
  GThread      *thread;
  GAsyncQueue  *jobs;        /* Job*, or the stop marker */
  guint         queued;      /* jobs handed over and not yet reported back */
  MsSmtp       *smtp;        /* owned by the thread while it runs */
  GMutex        lock;        /* guards fd */
  int           fd;          /* the connection's socket, -1 = none */
  GHashTable   *open;        /* row id → Result*: submitted, not answered (the thread's own) */
  GQueue        resend;      /* Result*: refused by the server's per-connection limit, to go again */
  gboolean      fresh;       /* a connection-level failure: a new session once the window is answered */
  GString      *log;         /* side-log lines of the thread's, written with its next end or before it waits */
} Slot;

/* What a connection's thread reports for a job. */
typedef struct {
  Slot     *slot;
  Job      *job;
  gboolean  started;         /* FALSE: handed back unsent (after a failure) */
  gboolean  ok;
  gboolean  uncertain;       /* the body went out, no final reply came */
  gboolean  cancelled;
  MsReply  *reply;
  char     *error_message;
  int       final_code;      /* after success: the reply to the end of the message */
  char     *final_text;      /* its text after the code, for the journal */
} Result;

typedef struct {
  gint64            row_id;
  MsRecipientState  state;
  int               code;
  char             *text;
  MsReplyClass      klass;
  char             *advice;
  char             *message_id;
  gint64            next_due;
} Outcome;

typedef enum {
  WAIT_NONE,
  WAIT_RATE_LIMIT,
  WAIT_PACER,
  WAIT_DEFERRED,
  WAIT_RECONNECT,
} WaitKind;

struct _Run {
  MsBlast          *self;
  GTask            *task;
  GCancellable     *cancellable;
  MsJournal        *journal;
  MsBatchSpec      *spec;
  MsMessageBuilder *builder;
  MsPacer          *pacer;
  const char       *from;
  MsReplyContext    reply_context;

  int               epfd;
  MsSidelog        *sidelog;          /* what went out, for recovery after a kill */
  GCancellable     *abort;            /* cuts the transfers in flight short */
  GAsyncQueue      *results;          /* Result*, from the connections' threads */

  gint              eager;            /* atomic: report every result at once */
  gint              starttls_noted;   /* atomic: STARTTLS offered, told the caller */
  gint              starttls_seen;    /* atomic: a connection of this run saw STARTTLS offered */
  gint              conn_limit;       /* atomic: messages the server takes per connection, 0 = none seen */
  gint              importing;        /* atomic: the rest of the list is still going in */
  gint              new_rows;         /* atomic: a chunk of the list went in since the last look */
  gboolean          import_counted;   /* the counts were read after the whole list was in */
  MsImportJob      *import;           /* the rest of the list: the caller's, or a resume's own */
  MsImportJob      *own_import;
  GThread          *import_thread;
  GError           *import_error;     /* the import stopped half way */
  Slot             *slots;
  guint             n_slots;
  guint             in_flight;
  GQueue            claimed;          /* MsJournalRow*, claimed, not started */
  gboolean          exhausted;        /* the last claim found nothing due */
  Claimer          *claimer;          /* NULL: claims made here, as the pacer allows */

  GArray           *outcomes;         /* Outcome */
  gint64            last_record;

  guint             counts[MS_N_STATES];
  guint             total;
  guint             done;             /* messages finished in this run */
  gint64            last_counts;

  WaitKind          wait;
  gint64            wait_until_usec;  /* real time */
  gint64            rate_limited_until; /* unix seconds, 0 = none */
  char             *rate_limited_reply; /* "451 4.7.0 …" that set it, or NULL */
  guint             transport_failures;
  gint64            last_transport_failure;   /* monotonic µs */
  gint64            reconnect_at;     /* real µs */

  GError           *stop_error;       /* a stop-class reply */
  gboolean          only_deferred_left;
  gint64            deferred_due;     /* unix seconds */

  RateSample        samples[RATE_SAMPLES];
  double            sending_rate;     /* msg/s, the recent rate outside rate-limit waits */
  guint             n_samples, sample_head;
  gint64            last_progress;
};

/* Tells a connection's thread to end. */
static Job stop_job;

static void
outcome_clear (gpointer data)
{
  Outcome *o = data;

  g_free (o->text);
  g_free (o->advice);
  g_free (o->message_id);
}

static gboolean
is_cancelled (Run *run)
{
  return g_cancellable_is_cancelled (run->cancellable);
}

static gboolean
is_stopping (Run *run)
{
  return is_cancelled (run) ||
         g_atomic_int_get (&run->self->pause_requested) ||
         run->stop_error != NULL;
}

static gboolean
flush_outcomes (Run     *run,
                GError **error)
{
  g_autofree MsJournalOutcome *list = NULL;
  guint n = run->outcomes->len;

  run->last_record = g_get_monotonic_time ();
  if (n == 0)
    return TRUE;

  list = g_new0 (MsJournalOutcome, n);
  for (guint i = 0; i < n; i++)
    {
      Outcome *o = &g_array_index (run->outcomes, Outcome, i);

      list[i].row_id = o->row_id;
      list[i].state = o->state;
      list[i].reply_code = o->code;
      list[i].reply_text = o->text;
      list[i].reply_class = o->klass;
      list[i].advice = o->advice;
      list[i].message_id = o->message_id;
      list[i].next_due = o->next_due;
    }
  if (!ms_journal_record (run->journal, list, n, error))
    return FALSE;
  g_array_set_size (run->outcomes, 0);
  return TRUE;
}

static void
push_outcome (Run     *run,
              Outcome *o)
{
  g_array_append_val (run->outcomes, *o);

  run->counts[MS_STATE_SENDING] = run->counts[MS_STATE_SENDING] > 0 ? run->counts[MS_STATE_SENDING] - 1 : 0;
  run->counts[o->state]++;
}

/* A sent row keeps the server's answer to its end ("250 2.0.0 Ok: queued
 * as …"): the provider's reference when someone asks where it went. */
static void
add_sent_outcome (Run    *run,
                  gint64  row_id,
                  int     code,
                  char   *text,         /* transfer full */
                  char   *message_id)   /* transfer full */
{
  Outcome o = { 0 };

  o.row_id = row_id;
  o.state = MS_STATE_SENT;
  o.code = code;
  o.text = text;
  o.klass = MS_REPLY_CLASS_NONE;
  o.message_id = message_id;
  push_outcome (run, &o);
}

static void
add_outcome (Run              *run,
             gint64            row_id,
             MsRecipientState  state,
             const MsReply    *reply,
             const char       *text,
             char             *message_id,   /* transfer full */
             gint64            next_due)
{
  Outcome o = { 0 };

  o.row_id = row_id;
  o.state = state;
  if (reply != NULL)
    {
      o.code = reply->code;
      /* Stored as the server wrote it after the code, with the enhanced
       * status code ms-reply took off to classify it ("5.1.1 <ann@…>: User
       * unknown"), as a sent row keeps its "2.0.0 Ok": it is what a user
       * quotes to the provider, and the report's enhanced_code column. */
      if (reply->enhanced != NULL && reply->text != NULL && reply->text[0] != '\0')
        o.text = g_strdup_printf ("%s %s", reply->enhanced, reply->text);
      else if (reply->enhanced != NULL)
        o.text = g_strdup (reply->enhanced);
      else
        o.text = g_strdup (reply->text);
      o.klass = reply->klass;
      o.advice = g_strdup (reply->advice);
    }
  else
    o.text = g_strdup (text);
  o.message_id = message_id;
  o.next_due = next_due;
  push_outcome (run, &o);
}

static gboolean
refresh_counts (Run     *run,
                GError **error)
{
  guint counts[MS_N_STATES] = { 0 };

  if (!flush_outcomes (run, error) ||
      !ms_journal_get_counts (run->journal, run->self->batch, counts, error))
    return FALSE;
  memcpy (run->counts, counts, sizeof counts);
  run->total = 0;
  for (guint i = 0; i < MS_N_STATES; i++)
    run->total += counts[i];
  run->last_counts = g_get_monotonic_time ();
  return TRUE;
}

static char *
format_clock (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (unix_seconds);
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();

  if (dt == NULL)
    return g_strdup ("?");
  if (g_date_time_get_day_of_year (dt) != g_date_time_get_day_of_year (now) ||
      g_date_time_get_year (dt) != g_date_time_get_year (now))
    return g_date_time_format (dt, "%a %H:%M");
  if (unix_seconds - g_date_time_to_unix (now) < 600)
    return g_date_time_format (dt, "%H:%M:%S");
  return g_date_time_format (dt, "%H:%M");
}

static char *
describe_status (Run           *run,
                 MsBatchStatus  final_status,
                 gboolean       final)
{
  g_autofree char *clock = NULL;

  if (final)
    {
      switch (final_status)
        {
        case MS_BATCH_FINISHED:
          return g_strdup (_("Finished"));
        case MS_BATCH_CANCELLED:
          return g_strdup (_("Cancelled"));
        case MS_BATCH_PAUSED:
          if (run->stop_error != NULL)
            return g_strdup_printf (_("Paused: %s"), run->stop_error->message);
          if (run->only_deferred_left)
            {
              clock = format_clock (run->deferred_due);
              return g_strdup_printf (_("Paused: deferred messages are due at %s"), clock);
            }
          return g_strdup (_("Paused"));
        case MS_BATCH_READY:
        case MS_BATCH_RUNNING:
        default:
          return g_strdup (_("Stopped"));
        }
    }

  if (is_cancelled (run))
    return g_strdup (_("Cancelling…"));
  if (is_stopping (run))
    return g_strdup (_("Pausing…"));

  switch (run->wait)
    {
    case WAIT_RATE_LIMIT:
      if (run->rate_limited_until <= 0)
        return g_strdup (_("Waiting for the rate limit"));
      clock = format_clock (run->rate_limited_until);
      return g_strdup_printf (_("Waiting for the rate limit until %s"), clock);
    case WAIT_DEFERRED:
      clock = format_clock (run->wait_until_usec / G_USEC_PER_SEC);
      return g_strdup_printf (_("Waiting until %s to retry deferred messages"), clock);
    case WAIT_RECONNECT:
      clock = format_clock (run->wait_until_usec / G_USEC_PER_SEC);
      return g_strdup_printf (_("Could not reach the server; trying again at %s"), clock);
    case WAIT_PACER:
      if (run->wait_until_usec - g_get_real_time () > G_USEC_PER_SEC)
        return g_strdup (_("Sending within the account’s limits"));
      return g_strdup (_("Sending"));
    case WAIT_NONE:
    default:
      return g_strdup (_("Sending"));
    }
}

static void
publish_progress (Run           *run,
                  gboolean       final,
                  MsBatchStatus  final_status)
{
  MsBlast *self = run->self;
  gint64 mono = g_get_monotonic_time ();
  MsBlastProgress p = { 0 };
  RateSample *oldest;
  gboolean schedule;
  guint left;

  run->last_progress = mono;

  /* A window of the last few seconds gives the recent rate. */
  run->samples[run->sample_head].when = mono;
  run->samples[run->sample_head].done = run->done;
  run->sample_head = (run->sample_head + 1) % RATE_SAMPLES;
  if (run->n_samples < RATE_SAMPLES)
    run->n_samples++;
  oldest = &run->samples[(run->sample_head + RATE_SAMPLES - run->n_samples) % RATE_SAMPLES];

  p.batch = self->batch;
  memcpy (p.counts, run->counts, sizeof p.counts);
  p.total = run->total;
  p.importing = run->import_thread != NULL && !run->import_counted;
  if (mono - oldest->when > G_USEC_PER_SEC / 5)
    p.rate = (double) (run->done - oldest->done) * G_USEC_PER_SEC / (double) (mono - oldest->when);
  left = run->counts[MS_STATE_QUEUED] + run->counts[MS_STATE_DEFERRED] + run->counts[MS_STATE_SENDING];
  p.waiting_until = run->wait == WAIT_RATE_LIMIT && !final ? run->rate_limited_until : 0;
  if (p.waiting_until == 0 && p.rate > 0.01)
    run->sending_rate = p.rate;
  if (left == 0)
    p.eta = 0;
  else if (p.waiting_until > 0)
    {
      /* The recent rate falls to nothing during the wait: the rest goes at
       * the rate of before, once the wait is over. */
      gint64 wait = MAX (p.waiting_until - g_get_real_time () / G_USEC_PER_SEC, 0);

      p.eta = run->sending_rate > 0.01 ? wait + (gint64) (left / run->sending_rate + 0.5) : -1;
    }
  else if (p.rate > 0.01)
    p.eta = (gint64) (left / p.rate + 0.5);
  else
    p.eta = -1;

  g_mutex_lock (&self->lock);
  self->latest = p;
  g_free (self->latest_status);
  self->latest_status = describe_status (run, final_status, final);
  g_free (self->latest_reply);
  self->latest_reply = g_strdup (run->rate_limited_reply);
  schedule = !self->progress_scheduled;
  self->progress_scheduled = TRUE;
  g_mutex_unlock (&self->lock);

  if (schedule && self->progress_func != NULL)
    g_main_context_invoke_full (g_task_get_context (run->task), G_PRIORITY_DEFAULT,
                                progress_dispatch, g_object_ref (self), g_object_unref);
  else if (schedule)
    {
      g_mutex_lock (&self->lock);
      self->progress_scheduled = FALSE;
      g_mutex_unlock (&self->lock);
    }
}

static void
notify_rate_limit (Run    *run,
                   gint64  until)
{
  RateLimitCall *call;

  if (run->self->rate_limit_func == NULL)
    return;
  call = g_new0 (RateLimitCall, 1);
  call->self = g_object_ref (run->self);
  call->until = until;
  g_main_context_invoke_full (g_task_get_context (run->task), G_PRIORITY_DEFAULT,
                              rate_limit_dispatch, call, rate_limit_call_free);
}

/* ------------------------------------------------------------ connections */

static void
job_free (Job *job)
{
  if (job == NULL || job == &stop_job)
    return;
  g_clear_pointer (&job->row, ms_journal_row_free);
  g_clear_pointer (&job->message, g_bytes_unref);
  g_free (job->message_id);
  g_free (job);
}

static void
result_free (Result *r)
{
  job_free (r->job);
  g_clear_pointer (&r->reply, ms_reply_free);
  g_free (r->error_message);
  g_free (r->final_text);
  g_free (r);
}

/* Hands @r to the coordinator, which may free it at once: nothing of it is
 * read after the push. */
static void
post_result (Run    *run,
             Result *r)
{
  Slot *slot = r->slot;
  gboolean ok = r->ok;

  g_async_queue_push (run->results, g_steal_pointer (&r));
  /* The coordinator comes by at least every 100 ms; wake it early only when
   * this connection is about to run dry, on a failure, or when it waits. */
  if (!ok || g_async_queue_length (slot->jobs) < 2 || g_atomic_int_get (&run->eager))
    wake (run->self);
}

/* The connection's socket is tracked so that an abort can shut it down:
 * libcurl 7.88 waits for the end-of-DATA reply in a blocking loop that does
 * not call the progress callback, so a cancellable alone would wait for the
 * server's timeout. */
static curl_socket_t
open_socket_cb (void                 *data,
                curlsocktype          purpose,
                struct curl_sockaddr *address)
{
  Slot *slot = data;
  curl_socket_t fd = socket (address->family, address->socktype | SOCK_CLOEXEC, address->protocol);

  if (fd != CURL_SOCKET_BAD)
    {
      g_mutex_lock (&slot->lock);
      slot->fd = fd;
      g_mutex_unlock (&slot->lock);
    }
  return fd;
}

static int
close_socket_cb (void          *data,
                 curl_socket_t  fd)
{
  Slot *slot = data;
  int rc;

  /* Closed under the lock, so that an abort never shuts down a reused fd. */
  g_mutex_lock (&slot->lock);
  if (slot->fd == fd)
    slot->fd = -1;
  rc = close (fd);
  g_mutex_unlock (&slot->lock);
  return rc;
}

/* The ends of messages are about to go out: the side log must say so first,
 * with the answers read since the last write (one write for all). A line
 * that cannot be written stops the connection before the ends are sent, so
 * that a crash never hides a message that went out. With no ids the
 * session is about to wait: the answers go out then. */
static gboolean
on_end (MsSmtp        *smtp,
        const guint64 *ids,
        guint          n_ids,
        gpointer       data)
{
  Slot *slot = data;

  for (guint i = 0; i < n_ids; i++)
    ms_sidelog_add_end (slot->log, (gint64) ids[i]);
  if (!ms_sidelog_flush (slot->run->sidelog, slot->log))
    return FALSE;
  for (guint i = 0; i < n_ids; i++)
    {
      gint64 row_id = (gint64) ids[i];
      Result *r = g_hash_table_lookup (slot->open, &row_id);

      if (r != NULL)
        r->job->end_logged = TRUE;
    }
  return TRUE;
}

static guint
blast_window (void)
{
  static gsize window = 0;

  if (g_once_init_enter (&window))
    g_once_init_leave (&window, ms_core_env_uint ("MS_BLAST_WINDOW", WINDOW_PER_CONNECTION, 1000));
  return (guint) window;
}

/* Never fewer than the window: a connection must be able to fill it. */
static guint
jobs_per_connection (void)
{
  static gsize jobs = 0;

  if (g_once_init_enter (&jobs))
    g_once_init_leave (&jobs, MAX (ms_core_env_uint ("MS_BLAST_QUEUE", JOBS_PER_CONNECTION, 1000), blast_window ()));
  return (guint) jobs;
}

static MsSmtp *
new_session (Slot *slot)
{
  g_autoptr(MsSmtpConfig) config = ms_smtp_config_copy (slot->run->self->config);
  MsSmtp *smtp;

  /* What one connection of this run learnt holds for the next: a reconnect
   * that finds STARTTLS gone is the downgrade DESIGN.md refuses, even
   * before the caller has stored starttls-seen. */
  if (g_atomic_int_get (&slot->run->starttls_seen))
    config->starttls_seen = TRUE;
  smtp = ms_smtp_new (config);

  /* The transcript costs per message; the journal keeps what matters. */
  ms_smtp_set_record_transcript (smtp, FALSE);
  ms_smtp_set_socket_funcs (smtp, (gpointer) open_socket_cb, (gpointer) close_socket_cb, slot);
  ms_smtp_set_end_func (smtp, on_end, slot);
  ms_smtp_set_window (smtp, blast_window ());
  return smtp;
}

static void
shut_down_connections (Run *run)
{
  for (guint i = 0; i < run->n_slots; i++)
    {
      Slot *slot = &run->slots[i];

      g_mutex_lock (&slot->lock);
      if (slot->fd >= 0)
        shutdown (slot->fd, SHUT_RDWR);
      g_mutex_unlock (&slot->lock);
    }
}

/* Once a server was seen offering STARTTLS, a later session without it is
 * an attack (DESIGN.md): the account must learn it from a blast too. Given
 * a higher priority than the task's end, so that it is delivered first. */
static void
note_session (Slot *slot)
{
  Run *run = slot->run;

  if (ms_smtp_get_starttls_offered (slot->smtp))
    g_atomic_int_set (&run->starttls_seen, TRUE);
  if (run->self->session_func == NULL || g_atomic_int_get (&run->starttls_noted) ||
      !ms_smtp_get_starttls_offered (slot->smtp) ||
      !g_atomic_int_compare_and_exchange (&run->starttls_noted, FALSE, TRUE))
    return;
  g_main_context_invoke_full (g_task_get_context (run->task), G_PRIORITY_HIGH,
                              session_dispatch, g_object_ref (run->self), g_object_unref);
}

/* A per-connection message limit (OpenSMTPD's 100, Exim's 1,000): the
 * smallest number of messages a connection carried before the server
 * refused the next is kept for the rest of the run. */
static void
learn_conn_limit (Run   *run,
                  guint  carried)
{
  gint old;

  do
    {
      old = g_atomic_int_get (&run->conn_limit);
      if (old > 0 && (guint) old <= carried)
        return;
    }
  while (!g_atomic_int_compare_and_exchange (&run->conn_limit, old, (gint) carried));
  g_debug ("blast: the server takes %u messages per connection; reconnecting before that", carried);
}

/* One message answered: what the coordinator needs of it, and what the
 * connection must do next (send it again on a new connection, start a new
 * session). Returns FALSE when the result is held back to go again. */
static gboolean
answer_job (Slot          *slot,
            Result        *r,
            MsSmtpOutcome *outcome,
            MsReply       *reply,
            GError        *error)
{
  Run *run = slot->run;
  Job *job = r->job;
  guint carried;

  /* Withdrawn unsent behind a refusal: handed back, first in line again. */
  if (!outcome->accepted && reply == NULL && error == NULL)
    {
      r->started = FALSE;
      return TRUE;
    }
  if (outcome->accepted)
    {
      r->ok = TRUE;
      /* The text as failures keep it: after the code, with the enhanced
       * status. The one allocation per message this costs. */
      r->final_code = outcome->end_code;
      if (outcome->end_text != NULL && strlen (outcome->end_text) > 4)
        r->final_text = g_strdup (outcome->end_text + 4);
      /* The answer survives a kill once written, long before the journal
       * records it with others: with the connection's next end, or before
       * it waits, whichever comes first (microseconds). Until then a kill
       * leaves the row uncertain, as one whose answer had not come. */
      ms_sidelog_add_accepted (slot->log, job->row->id, g_get_real_time () / G_USEC_PER_SEC,
                               r->final_code, r->final_text, job->message_id);
      return TRUE;
    }

  r->uncertain = outcome->uncertain;
  /* Answered, or stopped before its end went out: not delivered. */
  /* Written at once: the row may go again, on another connection, whose
   * lines must come after this one. */
  if (job->end_logged && !r->uncertain)
    {
      ms_sidelog_add_refused (slot->log, job->row->id);
      ms_sidelog_flush (run->sidelog, slot->log);
    }
  job->end_logged = FALSE;
  r->cancelled = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_free (r->error_message);
  r->error_message = g_strdup (error != NULL ? error->message : "");
  g_clear_pointer (&r->reply, ms_reply_free);
  r->reply = reply;
  /* What the refusing connection had carried: the answers come in order,
   * so the messages it accepted before this one. */
  carried = ms_smtp_get_connection_messages (slot->smtp);

  /* The server's limit of messages per connection, not a problem of this
   * message: it goes again at once, on a new connection of the same session
   * (which keeps what it learnt, such as going on without STARTTLS), with no
   * retry wait. Only once, and only when the refusing connection had carried
   * messages: a refusal on a fresh connection is no such limit, whatever it
   * says, and is handled as the reply says. */
  if (!job->resent && !r->cancelled && !r->uncertain && r->reply != NULL && r->reply->session_limit &&
      carried > 0)
    {
      learn_conn_limit (run, carried);
      job->resent = TRUE;
      g_clear_pointer (&r->reply, ms_reply_free);
      g_clear_pointer (&r->error_message, g_free);
      r->uncertain = FALSE;
      r->cancelled = FALSE;
      g_queue_push_tail (&slot->resend, r);
      return FALSE;
    }

  /* A session that failed below the reply level starts afresh, once the
   * messages in flight with this one are answered. */
  if (r->cancelled || r->reply == NULL || r->reply->new_connection ||
      r->reply->klass == MS_REPLY_CLASS_CONNECTION_LOST || r->reply->klass == MS_REPLY_CLASS_TIMEOUT ||
      r->reply->klass == MS_REPLY_CLASS_CANNOT_CONNECT)
    slot->fresh = TRUE;
  return TRUE;
}

static void
submit_job (Slot   *slot,
            Result *r)
{
  Run *run = slot->run;
  Job *job = r->job;

  g_hash_table_insert (slot->open, &job->row->id, r);
  ms_smtp_bulk_submit (slot->smtp, (guint64) job->row->id, run->from, job->row->address, job->message, run->abort);
}

/* After a failure, the jobs queued behind it go back unsent: the
 * coordinator decides (wait, stop, retry) before anything else goes.
 * Returns FALSE when the stop marker was among them. */
static gboolean
hand_back_jobs (Slot *slot)
{
  Job *job;

  while ((job = g_async_queue_try_pop (slot->jobs)) != NULL)
    {
      Result *back;

      if (job == &stop_job)
        return FALSE;
      back = g_new0 (Result, 1);
      back->slot = slot;
      back->job = job;
      post_result (slot->run, back);
    }
  return TRUE;
}

/* One connection's thread: a window of messages in flight on its session
 * (ms_smtp_bulk_submit), each answered on its own; the next ones are
 * submitted as the window makes room, so that they join the same write. */
static gpointer
connection_thread (gpointer data)
{
  Slot *slot = data;
  Run *run = slot->run;
  gboolean stopping = FALSE;

  slot->open = g_hash_table_new (g_int64_hash, g_int64_equal);
  slot->log = g_string_sized_new (256);
  g_queue_init (&slot->resend);

  while (TRUE)
    {
      MsSmtpOutcome *outcome;
      guint n_open = g_hash_table_size (slot->open);

      if (n_open == 0)
        {
          /* Nothing in flight: no end comes to take the answers along, and
           * what follows may block (the next job, a connect, QUIT). */
          ms_sidelog_flush (run->sidelog, slot->log);
          /* Between windows: a new session after a connection-level failure;
           * the messages refused by a per-connection limit go first, on a new
           * connection. */
          if (slot->fresh)
            {
              slot->fresh = FALSE;
              g_clear_object (&slot->smtp);
              slot->smtp = new_session (slot);
            }
          if (slot->resend.length > 0)
            {
              Result *r;

              ms_smtp_close (slot->smtp);
              while ((r = g_queue_pop_head (&slot->resend)) != NULL)
                submit_job (slot, r);
              continue;
            }
          if (stopping)
            break;
        }

      /* Fill the window. */
      while (!stopping && slot->resend.length == 0 && ms_smtp_bulk_has_room (slot->smtp))
        {
          gint limit = g_atomic_int_get (&run->conn_limit);
          Job *job;
          Result *r;

          n_open = g_hash_table_size (slot->open);
          job = n_open == 0 ? g_async_queue_pop (slot->jobs) : g_async_queue_try_pop (slot->jobs);
          if (job == NULL)
            break;
          if (job == &stop_job)
            {
              stopping = TRUE;
              break;
            }
          /* A new connection before the server's limit, once it is known: a
           * refusal costs a round trip and a reconnect anyway. */
          if (limit > 0 && ms_smtp_get_connection_messages (slot->smtp) + n_open >= (guint) limit)
            {
              if (n_open > 0)
                {
                  g_async_queue_push_front (slot->jobs, job);
                  break;
                }
              ms_smtp_close (slot->smtp);
            }
          r = g_new0 (Result, 1);
          r->slot = slot;
          r->job = job;
          r->started = TRUE;
          submit_job (slot, r);
        }

      if (g_hash_table_size (slot->open) == 0)
        continue;

      ms_smtp_bulk_wait (slot->smtp, FALSE);
      note_session (slot);
      while (TRUE)
        {
          MsReply *reply = NULL;
          GError *error = NULL;
          Result *r;
          gint64 row_id;
          gboolean ok;

          outcome = ms_smtp_bulk_pop (slot->smtp, &reply, &error);
          if (outcome == NULL)
            break;
          row_id = (gint64) outcome->id;
          r = g_hash_table_lookup (slot->open, &row_id);
          g_assert (r != NULL);
          g_hash_table_remove (slot->open, &row_id);
          if (answer_job (slot, r, outcome, reply, error))
            {
              /* Read before the hand-over: the coordinator may free r at once. */
              ok = r->ok;
              post_result (run, g_steal_pointer (&r));
              if (!ok && !hand_back_jobs (slot))
                stopping = TRUE;
            }
          ms_smtp_outcome_free (outcome);
          g_clear_error (&error);
        }
    }

  ms_sidelog_flush (run->sidelog, slot->log);
  g_string_free (g_steal_pointer (&slot->log), TRUE);
  g_clear_pointer (&slot->open, g_hash_table_unref);
  return NULL;
}

/* Jobs not taken by their thread yet come back (pause, stop). */
static void
take_back_jobs (Run *run)
{
  for (guint i = 0; i < run->n_slots; i++)
    {
      Slot *slot = &run->slots[i];
      Job *job;

      while ((job = g_async_queue_try_pop (slot->jobs)) != NULL)
        {
          g_assert (job != &stop_job);
          slot->queued--;
          run->in_flight--;
          g_queue_push_head (&run->claimed, g_steal_pointer (&job->row));
          job_free (job);
        }
    }
}

static guint
record_batch (void)
{
  static gsize batch = 0;

  if (g_once_init_enter (&batch))
    g_once_init_leave (&batch, ms_core_env_uint ("MS_BLAST_RECORD_BATCH", RECORD_BATCH, 100000));
  return (guint) batch;
}

static guint
claim_group (void)
{
  static gsize group = 0;

  if (g_once_init_enter (&group))
    g_once_init_leave (&group, ms_core_env_uint ("MS_BLAST_CLAIM_GROUP", CLAIM_GROUP, 100000));
  return (guint) group;
}

static gpointer
claimer_thread (gpointer data)
{
  Claimer *c = data;
  MsBlast *self = c->run->self;

  g_mutex_lock (&c->lock);
  while (!c->stop)
    {
      g_autoptr(GPtrArray) rows = NULL;
      g_autoptr(GError) error = NULL;

      if (!c->refill || c->error != NULL)
        {
          g_cond_wait (&c->cond, &c->lock);
          continue;
        }
      c->refill = FALSE;
      c->busy = TRUE;
      g_mutex_unlock (&c->lock);

      rows = ms_journal_claim (c->journal, self->batch, c->group, g_get_real_time () / G_USEC_PER_SEC, &error);

      g_mutex_lock (&c->lock);
      c->busy = FALSE;
      if (rows == NULL)
        c->error = g_steal_pointer (&error);
      else if (rows->len == 0)
        c->exhausted = TRUE;
      else
        {
          for (guint i = 0; i < rows->len; i++)
            g_queue_push_tail (&c->ready, rows->pdata[i]);
          g_ptr_array_set_free_func (rows, NULL);
        }
      wake (self);
    }
  g_mutex_unlock (&c->lock);
  return NULL;
}

static gboolean
claimer_start (Run     *run,
               GError **error)
{
  Claimer *c = g_new0 (Claimer, 1);

  c->run = run;
  c->group = MAX (run->self->limits.connections * CLAIM_PER_CONNECTION, claim_group ());
  g_mutex_init (&c->lock);
  g_cond_init (&c->cond);
  g_queue_init (&c->ready);
  c->journal = ms_journal_open (run->self->journal_path, error);
  if (c->journal == NULL)
    {
      g_mutex_clear (&c->lock);
      g_cond_clear (&c->cond);
      g_free (c);
      return FALSE;
    }
  run->claimer = c;
  c->thread = g_thread_new ("ms-blast-claim", claimer_thread, c);
  return TRUE;
}

/* Ends the thread; the rows it claimed and nobody took go back to the
 * coordinator's queue, to be released with the others. */
static void
claimer_stop (Run *run)
{
  Claimer *c = run->claimer;
  MsJournalRow *row;

  if (c == NULL)
    return;
  if (c->thread != NULL)
    {
      g_mutex_lock (&c->lock);
      c->stop = TRUE;
      g_cond_signal (&c->cond);
      g_mutex_unlock (&c->lock);
      g_thread_join (c->thread);
      c->thread = NULL;
    }
  while ((row = g_queue_pop_head (&c->ready)) != NULL)
    g_queue_push_tail (&run->claimed, row);
  g_clear_object (&c->journal);
  g_clear_error (&c->error);
  g_mutex_clear (&c->lock);
  g_cond_clear (&c->cond);
  g_clear_pointer (&run->claimer, g_free);
}

/* Takes the group the claimer has ready and asks for the next one, so that
 * one is always being claimed while the other is sent. Returns how many
 * rows it took. */
static guint
claimer_take (Run     *run,
              GError **error)
{
  Claimer *c = run->claimer;
  guint n = 0;
  MsJournalRow *row;

  g_mutex_lock (&c->lock);
  if (c->error != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&c->error));
      g_mutex_unlock (&c->lock);
      return 0;
    }
  while ((row = g_queue_pop_head (&c->ready)) != NULL)
    {
      g_queue_push_tail (&run->claimed, row);
      n++;
    }
  if (n == 0 && c->exhausted && !c->busy)
    {
      /* Reported once; the next call claims again. */
      c->exhausted = FALSE;
      run->exhausted = TRUE;
    }
  else if (!c->busy && !c->refill)
    {
      c->exhausted = FALSE;
      c->refill = TRUE;
      g_cond_signal (&c->cond);
    }
  g_mutex_unlock (&c->lock);
  return n;
}

static MsJournalRow *
next_row (Run     *run,
          gint64   now_usec,
          GError **error)
{
  if (g_queue_is_empty (&run->claimed) && !run->exhausted && run->claimer != NULL)
    {
      g_autoptr(GError) local_error = NULL;
      guint n = claimer_take (run, &local_error);

      if (local_error != NULL)
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return NULL;
        }
      /* The counts as for a claim made here (see below). */
      for (GList *l = g_queue_peek_tail_link (&run->claimed); l != NULL && n > 0; l = l->prev, n--)
        {
          MsJournalRow *row = l->data;
          MsRecipientState from = row->attempts > 1 && run->counts[MS_STATE_DEFERRED] > 0
                                  ? MS_STATE_DEFERRED : MS_STATE_QUEUED;

          if (run->counts[from] > 0)
            run->counts[from]--;
          run->counts[MS_STATE_SENDING]++;
        }
    }
  else if (g_queue_is_empty (&run->claimed) && !run->exhausted)
    {
      g_autoptr(GPtrArray) rows = NULL;
      guint want = MAX (run->n_slots * CLAIM_PER_CONNECTION, claim_group ());
      guint avail = ms_pacer_available (run->pacer, now_usec);

      /* The pacer hands out at most one per connection; when it is not
       * holding back, claim a few per connection to save transactions. */
      if (avail < run->n_slots)
        want = MAX (avail, 1);
      rows = ms_journal_claim (run->journal, run->self->batch, want, now_usec / G_USEC_PER_SEC, error);
      if (rows == NULL)
        return NULL;
      if (rows->len == 0)
        run->exhausted = TRUE;
      for (guint i = 0; i < rows->len; i++)
        {
          MsJournalRow *row = g_ptr_array_index (rows, i);
          /* A row tried before most likely comes from `deferred`; the counts
           * are re-read from the journal every few seconds anyway. */
          MsRecipientState from = row->attempts > 1 && run->counts[MS_STATE_DEFERRED] > 0
                                  ? MS_STATE_DEFERRED : MS_STATE_QUEUED;

          if (run->counts[from] > 0)
            run->counts[from]--;
          run->counts[MS_STATE_SENDING]++;
          g_queue_push_tail (&run->claimed, row);
        }
      /* The queue owns the rows now, in the journal's order. */
      g_ptr_array_set_free_func (rows, NULL);
    }
  return g_queue_pop_head (&run->claimed);
}

static gboolean
release_claimed (Run     *run,
                 GError **error)
{
  g_autoptr(GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint64));
  MsJournalRow *row;

  /* The group claimed ahead goes back too (a long wait; the end). */
  if (run->claimer != NULL)
    {
      g_mutex_lock (&run->claimer->lock);
      while ((row = g_queue_pop_head (&run->claimer->ready)) != NULL)
        g_queue_push_tail (&run->claimed, row);
      g_mutex_unlock (&run->claimer->lock);
    }
  while ((row = g_queue_pop_head (&run->claimed)) != NULL)
    {
      g_array_append_val (ids, row->id);
      ms_journal_row_free (row);
    }
  run->exhausted = FALSE;
  if (ids->len == 0)
    return TRUE;
  if (run->counts[MS_STATE_SENDING] >= ids->len)
    run->counts[MS_STATE_SENDING] -= ids->len;
  run->counts[MS_STATE_QUEUED] += ids->len;
  return ms_journal_release (run->journal, (const gint64 *) ids->data, ids->len, error);
}

/* Starts messages on idle connections as far as the pacer allows. */
static gboolean
start_messages (Run     *run,
                GError **error)
{
  gint64 now = g_get_real_time ();

  if (run->wait == WAIT_RECONNECT || run->wait == WAIT_RATE_LIMIT)
    {
      if (now < run->wait_until_usec)
        return TRUE;
      run->wait = WAIT_NONE;
    }

  /* A round per depth, so that every connection gets its next message
   * before any gets a deeper one. */
  for (guint depth = 1; depth <= jobs_per_connection (); depth++)
    for (guint i = 0; i < run->n_slots && !is_stopping (run); i++)
      {
        Slot *slot = &run->slots[i];
        g_autoptr(GError) local_error = NULL;
        MsJournalRow *row;
        Job *job;
        gint64 delay;

        if (slot->queued >= depth)
          continue;

        delay = ms_pacer_delay (run->pacer, now);
        if (delay > 0)
          {
            gint64 until = ms_pacer_get_rate_limited_until (run->pacer);

            if (until > 0 && until * G_USEC_PER_SEC > now)
              {
                run->wait = WAIT_RATE_LIMIT;
                run->rate_limited_until = until;
              }
            else
              run->wait = WAIT_PACER;
            run->wait_until_usec = now + delay;
            if (delay > RELEASE_WAIT_USEC && !release_claimed (run, error))
              return FALSE;
            return TRUE;
          }
        if (run->wait == WAIT_PACER)
          run->wait = WAIT_NONE;

        row = next_row (run, now, &local_error);
        if (row == NULL)
          {
            if (local_error != NULL)
              {
                g_propagate_error (error, g_steal_pointer (&local_error));
                return FALSE;
              }
            return TRUE;
          }

        job = g_new0 (Job, 1);
        job->row = row;
        /* Rendered just before it goes: per-recipient work only. */
        job->message = ms_message_builder_render (run->builder, (const char * const *) row->values,
                                                  &job->message_id, &local_error);
        if (job->message == NULL)
          {
            /* The templates were checked against the columns, so this row's
             * own values are at fault: fail it, and go on. */
            add_outcome (run, row->id, MS_STATE_FAILED, NULL, local_error->message, NULL, 0);
            job_free (job);
            i--;
            continue;
          }
        slot->queued++;
        run->in_flight++;
        job->handed_at = g_get_monotonic_time ();
        ms_pacer_record_send (run->pacer, now);
        g_async_queue_push (slot->jobs, job);
      }
  return TRUE;
}

static gint64
first_attempt (const MsJournalRow *row,
               gint64              now)
{
  return row->first_attempt_at > 0 ? row->first_attempt_at : now;
}

static void
enter_stop (Run           *run,
            const MsReply *reply)
{
  if (run->stop_error != NULL)
    return;
  run->stop_error = ms_reply_to_error (reply);
  /* The pause reason quotes the server, as a failed test does: its words
   * are what a user shows the provider. */
  if (reply->code > 0 && reply->text != NULL && *reply->text != '\0')
    {
      g_autofree char *advice = g_steal_pointer (&run->stop_error->message);

      /* With the enhanced status code, as the test shows it ("535 5.7.8 …"):
       * providers document their refusals by it. */
      if (reply->enhanced != NULL)
        run->stop_error->message = g_strdup_printf (_("%s The server said: “%d %s %s”"),
                                                    advice, reply->code, reply->enhanced, reply->text);
      else
        run->stop_error->message = g_strdup_printf (_("%s The server said: “%d %s”"),
                                                    advice, reply->code, reply->text);
    }
}

/* A transport failure without a reply at the end of DATA: back off, retry,
 * and after a few in a row, pause with the advice. */
static void
transport_failure (Run           *run,
                   const Job     *job,
                   const MsReply *reply,
                   gboolean       immediate_retry_ok)
{
  gint64 now = g_get_real_time ();

  /* N connections that fail together are one failed try, not N: only a
   * job handed out after the last failure counts again. */
  if (job->handed_at <= run->last_transport_failure)
    return;
  run->last_transport_failure = g_get_monotonic_time ();
  run->transport_failures++;
  if (run->transport_failures >= MAX_TRANSPORT_FAILURES)
    {
      enter_stop (run, reply);
      return;
    }
  if (immediate_retry_ok && run->transport_failures <= 2)
    return;
  run->wait = WAIT_RECONNECT;
  run->wait_until_usec = now + (G_USEC_PER_SEC << MIN (run->transport_failures - 1, 5));
}

static void
handle_result (Run    *run,
               Result *r)
{
  Slot *slot = r->slot;
  Job *job = r->job;
  MsJournalRow *row = job->row;
  gboolean body_sent = r->uncertain;
  const MsReply *reply;
  gint64 now;

  slot->queued--;
  run->in_flight--;

  if (!r->started)
    {
      /* Handed back unsent behind a failure: first in line again. */
      g_queue_push_head (&run->claimed, g_steal_pointer (&job->row));
      return;
    }

  if (r->ok)
    {
      run->done++;
      run->transport_failures = 0;
      /* The wait is over; the account keeps the (past) time it waited
       * until, which means "not limited" to every reader. A message that
       * was already in flight on another connection when the limit came
       * says nothing about the limit: until the wait has ended, its time
       * stays (progress shows it, the pacer holds every connection). */
      if (run->rate_limited_until != 0 && run->wait != WAIT_RATE_LIMIT &&
          g_get_real_time () >= run->rate_limited_until * G_USEC_PER_SEC)
        {
          run->rate_limited_until = 0;
          ms_pacer_clear_rate_limit (run->pacer);
        }
      add_sent_outcome (run, row->id, r->final_code, g_steal_pointer (&r->final_text),
                        g_steal_pointer (&job->message_id));
      return;
    }

  reply = r->reply;
  now = g_get_real_time ();

  if (r->cancelled)
    {
      /* Cut short by abort/cancel: the server may have the message. */
      if (body_sent)
        add_outcome (run, row->id, MS_STATE_UNCERTAIN, NULL,
                     _("Interrupted after the message was sent; the server may have accepted it."),
                     g_steal_pointer (&job->message_id), 0);
      else
        g_queue_push_head (&run->claimed, g_steal_pointer (&job->row));
      return;
    }

  if (reply == NULL)
    {
      /* No classification: treat it as a temporary failure of this row. */
      MsReply fallback = { .klass = MS_REPLY_CLASS_TEMPORARY,
                           .text = r->error_message };
      gint64 delay = ms_pacer_retry_delay (row->attempts, first_attempt (row, now / G_USEC_PER_SEC),
                                           now / G_USEC_PER_SEC);

      run->done++;
      add_outcome (run, row->id, delay > 0 ? MS_STATE_DEFERRED : MS_STATE_FAILED, &fallback, NULL,
                   NULL, delay > 0 ? now / G_USEC_PER_SEC + delay : 0);
      return;
    }

  g_debug ("blast: row %" G_GINT64_FORMAT ": %s (%d)", row->id,
           ms_reply_class_to_string (reply->klass), reply->code);

  switch (reply->klass)
    {
    case MS_REPLY_CLASS_NONE:
    case MS_REPLY_CLASS_TEMPORARY:
      {
        gint64 first = first_attempt (row, now / G_USEC_PER_SEC);
        gint64 delay = ms_pacer_retry_delay (row->attempts, first, now / G_USEC_PER_SEC);

        run->done++;
        run->transport_failures = 0;
        if (delay > 0)
          add_outcome (run, row->id, MS_STATE_DEFERRED, reply, NULL, NULL, now / G_USEC_PER_SEC + delay);
        else
          add_outcome (run, row->id, MS_STATE_FAILED, reply, NULL, NULL, 0);
      }
      break;

    case MS_REPLY_CLASS_RECIPIENT_REJECTED:
      run->done++;
      run->transport_failures = 0;
      add_outcome (run, row->id, MS_STATE_FAILED, reply, NULL, NULL, 0);
      break;

    case MS_REPLY_CLASS_RATE_LIMITED:
      {
        gint64 until = ms_pacer_rate_limited (run->pacer, reply->until, now);

        /* Not the row's fault: it goes back to the queue, and the whole
         * account waits; the caller persists the time. The jobs the other
         * connections have not started yet wait too. */
        add_outcome (run, row->id, MS_STATE_QUEUED, reply, NULL, NULL, 0);
        take_back_jobs (run);
        if (until > run->rate_limited_until)
          {
            run->rate_limited_until = until;
            g_free (run->rate_limited_reply);
            run->rate_limited_reply = reply->code == 0 ? g_strdup (reply->text)
                                      : g_strdup_printf ("%d%s%s %s", reply->code, reply->enhanced ? " " : "",
                                                         reply->enhanced ? reply->enhanced : "",
                                                         reply->text ? reply->text : "");
            notify_rate_limit (run, until);
          }
        run->wait = WAIT_RATE_LIMIT;
        run->wait_until_usec = MAX (run->wait_until_usec, until * G_USEC_PER_SEC);
        run->exhausted = FALSE;
      }
      break;

    case MS_REPLY_CLASS_CONNECTION_LOST:
    case MS_REPLY_CLASS_TIMEOUT:
      if (body_sent)
        {
          /* Dropped after the final dot: it may have been delivered. */
          run->done++;
          add_outcome (run, row->id, MS_STATE_UNCERTAIN, reply, NULL,
                       g_steal_pointer (&job->message_id), 0);
          transport_failure (run, job, reply, TRUE);
        }
      else
        {
          /* Not delivered: retry on a fresh connection, unclaimed. */
          g_queue_push_head (&run->claimed, g_steal_pointer (&job->row));
          transport_failure (run, job, reply, reply->klass == MS_REPLY_CLASS_CONNECTION_LOST);
        }
      break;

    case MS_REPLY_CLASS_CANNOT_CONNECT:
      g_queue_push_head (&run->claimed, g_steal_pointer (&job->row));
      transport_failure (run, job, reply, FALSE);
      break;

    case MS_REPLY_CLASS_AUTH_FAILED:
    case MS_REPLY_CLASS_TLS:
    case MS_REPLY_CLASS_RELAY_DENIED:
    case MS_REPLY_CLASS_SENDER_NOT_ALLOWED:
    case MS_REPLY_CLASS_MISCONFIGURED:
    default:
      /* The account or the server is at fault, not this recipient: keep the
       * row for resume, with the reply so that pending shows why. */
      add_outcome (run, row->id, MS_STATE_QUEUED, reply, NULL, NULL, 0);
      enter_stop (run, reply);
      break;
    }
}

static void
read_results (Run *run)
{
  Result *r;

  while ((r = g_async_queue_try_pop (run->results)) != NULL)
    {
      handle_result (run, r);
      result_free (r);
    }
}

static void
seed_pacer (Run *run)
{
  const MsPacerLimits *l = &run->self->limits;
  gint64 since = g_get_real_time () / G_USEC_PER_SEC - 24 * 3600;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) times = NULL;

  if (l->per_minute == 0 && l->per_hour == 0 && l->per_day == 0)
    return;
  /* Earlier batches of the account count against its rolling day. */
  times = ms_journal_get_sent_times (run->journal, run->spec->account, since, &error);
  if (times == NULL)
    {
      g_debug ("blast: could not read earlier sends: %s", error->message);
      return;
    }
  for (guint i = 0; i < times->len; i++)
    ms_pacer_add_history (run->pacer, g_array_index (times, gint64, i) * G_USEC_PER_SEC);
}

/* Ends the connections' threads once their jobs are done (or cut short). */
static void
stop_connections (Run *run)
{
  for (guint i = 0; i < run->n_slots; i++)
    {
      Slot *slot = &run->slots[i];

      if (slot->thread == NULL)
        continue;
      g_async_queue_push (slot->jobs, &stop_job);
      g_thread_join (slot->thread);
      slot->thread = NULL;
      g_clear_object (&slot->smtp);
    }
}

/* Waits for every job in flight to report back (pause, stop): the journal
 * then holds each one's outcome. */
static void
drain_in_flight (Run *run)
{
  take_back_jobs (run);
  while (run->in_flight > 0)
    {
      Result *r = g_async_queue_timeout_pop (run->results, G_USEC_PER_SEC);

      if (r == NULL)
        continue;
      handle_result (run, r);
      result_free (r);
    }
}

static void import_join (Run *run);

static void
run_free (Run *run)
{
  MsJournalRow *row;

  stop_connections (run);
  claimer_stop (run);
  import_join (run);
  g_clear_error (&run->import_error);
  g_clear_pointer (&run->own_import, ms_import_job_free);
  for (guint i = 0; i < run->n_slots; i++)
    {
      g_clear_pointer (&run->slots[i].jobs, g_async_queue_unref);
      g_mutex_clear (&run->slots[i].lock);
    }
  g_free (run->slots);
  while ((row = g_queue_pop_head (&run->claimed)) != NULL)
    ms_journal_row_free (row);
  if (run->results != NULL)
    {
      Result *r;

      while ((r = g_async_queue_try_pop (run->results)) != NULL)
        result_free (r);
      g_async_queue_unref (run->results);
    }
  g_clear_object (&run->abort);
  g_clear_pointer (&run->sidelog, ms_sidelog_free);
  if (run->epfd >= 0)
    close (run->epfd);
  if (run->outcomes != NULL)
    g_array_unref (run->outcomes);
  g_clear_pointer (&run->pacer, ms_pacer_free);
  g_clear_pointer (&run->rate_limited_reply, g_free);
  g_clear_object (&run->builder);
  g_clear_pointer (&run->spec, ms_batch_spec_free);
  g_clear_object (&run->journal);
  g_clear_error (&run->stop_error);
  g_free (run);
}

static void
on_import_chunk (gpointer data)
{
  Run *run = data;

  g_atomic_int_set (&run->new_rows, 1);
  wake (run->self);
}

/* The rest of the list goes in beside the sending, on the other core; the
 * import's own journal commits each chunk, which the claims then see. */
static gpointer
import_thread (gpointer data)
{
  Run *run = data;

  ms_import_job_run (run->import, on_import_chunk, run, &run->import_error);
  /* After the last commit, so that a coordinator that sees 0 here counts
   * every row of the list. */
  g_atomic_int_set (&run->importing, 0);
  wake (run->self);
  return NULL;
}

static void
import_join (Run *run)
{
  if (run->import_thread == NULL)
    return;
  g_thread_join (run->import_thread);
  run->import_thread = NULL;
}

/* The loop: start what the pacer allows, wait on the sockets, record. */
static gboolean
drive (Run     *run,
       GError **error)
{
  struct epoll_event events[4];

  while (TRUE)
    {
      gint64 mono, real, timeout_usec;
      int n, timeout_ms;

      read_results (run);
      if (ms_sidelog_get_error (run->sidelog) != NULL)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                       _("The side log of this batch could not be written (%s). Free some disk space, then "
                         "resume the batch."), ms_sidelog_get_error (run->sidelog));
          return FALSE;
        }
      if ((g_atomic_int_get (&run->self->abort_requested) || is_cancelled (run)) &&
          !g_cancellable_is_cancelled (run->abort))
        {
          g_cancellable_cancel (run->abort);
          shut_down_connections (run);
        }
      /* A chunk of the list went in: there is something to claim again. */
      if (g_atomic_int_get (&run->new_rows) && g_atomic_int_compare_and_exchange (&run->new_rows, 1, 0))
        run->exhausted = FALSE;
      /* The counts are read every 2 s (a count walks the batch's index); the
       * total is final once the list is in, so read them then, at once:
       * the progress shows the right total from there on. */
      if (run->import_thread != NULL && !run->import_counted && !g_atomic_int_get (&run->importing))
        {
          if (!refresh_counts (run, error))
            return FALSE;
          run->import_counted = TRUE;
        }
      g_atomic_int_set (&run->eager, is_stopping (run) || run->exhausted || run->wait != WAIT_NONE);
      if (is_stopping (run))
        take_back_jobs (run);
      else if (!start_messages (run, error))
        return FALSE;

      mono = g_get_monotonic_time ();

      if (run->outcomes->len >= record_batch () ||
          (run->outcomes->len > 0 && mono - run->last_record >= RECORD_INTERVAL_USEC))
        if (!flush_outcomes (run, error))
          return FALSE;
      if (mono - run->last_counts >= COUNTS_INTERVAL_USEC && !refresh_counts (run, error))
        return FALSE;
      if (mono - run->last_progress >= PROGRESS_INTERVAL_USEC)
        publish_progress (run, FALSE, MS_BATCH_RUNNING);

      real = g_get_real_time ();
      if (run->in_flight == 0)
        {
          if (is_stopping (run))
            return TRUE;

          if (run->wait == WAIT_NONE && g_queue_is_empty (&run->claimed) && run->exhausted)
            {
              g_autoptr(GError) local_error = NULL;
              /* Read before the counts: 0 means every row of the list is in them. */
              gboolean importing = g_atomic_int_get (&run->importing);
              gint64 next_due;

              if (!refresh_counts (run, error))
                return FALSE;
              if (run->counts[MS_STATE_QUEUED] + run->counts[MS_STATE_DEFERRED] == 0 && !importing)
                return TRUE;   /* finished */
              next_due = ms_journal_next_due (run->journal, run->self->batch, &local_error);
              if (local_error != NULL)
                {
                  g_propagate_error (error, g_steal_pointer (&local_error));
                  return FALSE;
                }
              if (run->counts[MS_STATE_QUEUED] > 0 || (next_due > 0 && next_due * G_USEC_PER_SEC <= real))
                {
                  run->exhausted = FALSE;
                  continue;
                }
              /* The import is behind the connections: its next chunk wakes us. */
              if (importing)
                goto sleep;
              if (!run->self->wait_for_deferred)
                {
                  run->only_deferred_left = TRUE;
                  run->deferred_due = next_due;
                  return TRUE;
                }
              run->wait = WAIT_DEFERRED;
              run->wait_until_usec = next_due * G_USEC_PER_SEC;
              publish_progress (run, FALSE, MS_BATCH_RUNNING);
            }
          if (run->wait == WAIT_DEFERRED && real >= run->wait_until_usec)
            {
              run->wait = WAIT_NONE;
              run->exhausted = FALSE;
              continue;
            }
        }

    sleep:
      /* Sleep until a result, a wait's end, a record or a progress tick
       * is due; results, pause and cancel wake us through the eventfd. */
      timeout_usec = G_USEC_PER_SEC;
      if (run->wait != WAIT_NONE)
        timeout_usec = MIN (timeout_usec, run->wait_until_usec - real);
      if (run->outcomes->len > 0)
        timeout_usec = MIN (timeout_usec, run->last_record + RECORD_INTERVAL_USEC - mono);
      if (run->in_flight > 0 || run->wait != WAIT_NONE)
        timeout_usec = MIN (timeout_usec, run->last_progress + PROGRESS_INTERVAL_USEC - mono);
      timeout_ms = timeout_usec <= 0 ? 0 : (int) ((timeout_usec + 999) / 1000);

      n = epoll_wait (run->epfd, events, G_N_ELEMENTS (events), timeout_ms);
      if (n < 0 && errno != EINTR)
        {
          int saved = errno;

          g_set_error (error, MS_ERROR, MS_ERROR_FAILED, _("Waiting for the connections failed: %s"),
                       g_strerror (saved));
          return FALSE;
        }
      if (n > 0)
        {
          guint64 value;

          if (read (run->self->wake_fd, &value, sizeof value) < 0 && errno != EAGAIN)
            g_debug ("blast: eventfd read: %s", g_strerror (errno));
        }
    }
}

static void
wake_on_cancel (GCancellable *cancellable,
                gpointer      data)
{
  wake (MS_BLAST (data));
}

static void
blast_worker (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  MsBlast *self = source_object;
  g_autoptr(GError) error = NULL;
  MsMessageSpec mspec = { 0 };
  MsBatchStatus final_status = MS_BATCH_READY;   /* unchanged unless the batch was locked */
  struct epoll_event ev = { 0 };
  gboolean locked = FALSE;
  gboolean ok = FALSE;
  gulong cancel_id = 0;
  GMainContext *worker_context;
  Run *run;

  /* With no thread-default context of its own, this thread would count as
   * a user of the global default context, and g_main_context_invoke_full()
   * could then run the caller's callbacks right here in the worker. */
  worker_context = g_main_context_new ();
  g_main_context_push_thread_default (worker_context);

  run = g_new0 (Run, 1);
  run->self = self;
  run->task = task;
  run->cancellable = cancellable;
  run->epfd = -1;
  run->abort = g_cancellable_new ();
  run->results = g_async_queue_new ();
  g_queue_init (&run->claimed);
  run->outcomes = g_array_new (FALSE, TRUE, sizeof (Outcome));
  g_array_set_clear_func (run->outcomes, outcome_clear);

  run->journal = ms_journal_open (self->journal_path, &error);
  if (run->journal == NULL)
    goto out;
  /* Opened before the batch is locked and running: recovery in its open
   * would otherwise wait for the lock. */
  if (self->limits.per_minute == 0 && self->limits.per_hour == 0 && self->limits.per_day == 0 &&
      !claimer_start (run, &error))
    goto out;
  /* A batch still being imported stays locked by its import's journal
   * (ms_blast_set_import()): a new batch, with nothing to recover. */
  if (self->import == NULL && !ms_journal_lock_batch (run->journal, self->batch, &error))
    goto out;
  locked = TRUE;
  run->import = self->import;
  if (run->import == NULL)
    {
      guint line = 0;

      /* A run that sent while its list went in died (or its import failed):
       * this one imports the rest while it sends what is in. */
      if (!ms_journal_get_import_line (run->journal, self->batch, &line, &error))
        goto out;
      if (line > 0)
        {
          run->own_import = ms_import_resume (self->journal_path, self->batch, line, &run->import_error);
          run->import = run->own_import;
        }
    }
  /* Before the first progress, which says importing. */
  g_atomic_int_set (&self->list_records, run->import != NULL ? (gint) ms_import_job_get_n_records (run->import) : 0);
  if (run->import != NULL && !ms_import_job_is_done (run->import))
    {
      g_atomic_int_set (&run->importing, 1);
      run->import_thread = g_thread_new ("ms-blast-import", import_thread, run);
    }
  {
    g_autofree char *log_path = ms_journal_dup_sidelog_path (run->journal, self->batch);

    run->sidelog = ms_sidelog_create (log_path, &error);
    if (run->sidelog == NULL)
      goto out;
  }
  run->spec = ms_journal_get_batch_spec (run->journal, self->batch, &error);
  if (run->spec == NULL)
    goto out;

  run->from = run->spec->from_address != NULL && *run->spec->from_address
              ? run->spec->from_address : self->config->from_address;
  mspec.from_address = run->from;
  mspec.from_name = run->spec->from_name != NULL && *run->spec->from_name
                    ? run->spec->from_name : self->config->from_name;
  mspec.subject = run->spec->subject;
  mspec.text = run->spec->text;
  mspec.html = run->spec->html;
  mspec.attachments = (const char * const *) run->spec->attachments;
  mspec.unsubscribe = run->spec->unsubscribe;
  mspec.fields = (const char * const *) run->spec->fields;
  mspec.email_index = run->spec->email_index;
  run->builder = ms_message_builder_new (&mspec, &error);
  if (run->builder == NULL)
    goto out;

  run->reply_context.server = self->config->server;
  run->reply_context.port = self->config->port;
  run->reply_context.use_smtps = self->config->use_smtps;
  run->reply_context.needs_auth = self->config->needs_auth;

  run->pacer = ms_pacer_new (&self->limits);
  seed_pacer (run);
  if (self->limits.rate_limited_until * G_USEC_PER_SEC > g_get_real_time ())
    run->rate_limited_until = self->limits.rate_limited_until;

  if (!refresh_counts (run, &error))
    goto out;
  if (!ms_journal_set_batch_status (run->journal, self->batch, MS_BATCH_RUNNING, NULL, &error))
    goto out;
  publish_progress (run, FALSE, MS_BATCH_RUNNING);

  run->epfd = epoll_create1 (EPOLL_CLOEXEC);
  if (run->epfd < 0 || self->wake_fd < 0)
    {
      g_set_error (&error, MS_ERROR, MS_ERROR_FAILED, _("Could not start sending: %s"), g_strerror (errno));
      goto out;
    }
  ev.events = EPOLLIN;
  ev.data.fd = self->wake_fd;
  epoll_ctl (run->epfd, EPOLL_CTL_ADD, self->wake_fd, &ev);

  run->n_slots = self->limits.connections;
  run->slots = g_new0 (Slot, run->n_slots);
  for (guint i = 0; i < run->n_slots; i++)
    {
      Slot *slot = &run->slots[i];
      g_autofree char *name = g_strdup_printf ("ms-blast-%u", i);

      slot->run = run;
      slot->index = i;
      slot->fd = -1;
      g_mutex_init (&slot->lock);
      slot->jobs = g_async_queue_new ();
      slot->smtp = new_session (slot);
      slot->thread = g_thread_new (name, connection_thread, slot);
    }

  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable, G_CALLBACK (wake_on_cancel), self, NULL);

  ok = drive (run, &error);

  if (cancel_id != 0)
    g_cancellable_disconnect (cancellable, cancel_id);

out:
  if (run->journal != NULL && locked)
    {
      g_autoptr(GError) local_error = NULL;

      /* Whatever happened, the journal ends consistent: outcomes written,
       * unstarted rows back to queued. */
      if (run->slots != NULL)
        {
          if ((g_atomic_int_get (&self->abort_requested) || is_cancelled (run)) &&
              !g_cancellable_is_cancelled (run->abort))
            {
              g_cancellable_cancel (run->abort);
              shut_down_connections (run);
            }
          drain_in_flight (run);
          /* The threads end before the side log closes: none writes to it
           * any more. */
          stop_connections (run);
        }
      claimer_stop (run);
      /* The list is whole (or its import failed) before the batch's status
       * is decided: a pause or a cancel waits for the rest of the import. */
      import_join (run);
      if (run->import_error != NULL && run->stop_error == NULL)
        run->stop_error = g_error_copy (run->import_error);
      if (!flush_outcomes (run, &local_error) || !release_claimed (run, &local_error))
        {
          g_debug ("blast: could not record the last outcomes: %s", local_error->message);
          if (error == NULL)
            g_propagate_error (&error, g_steal_pointer (&local_error));
          ok = FALSE;
        }
      g_clear_error (&local_error);

      if (is_cancelled (run))
        {
          final_status = MS_BATCH_CANCELLED;
          if (!ms_journal_cancel_batch (run->journal, self->batch, &local_error))
            g_debug ("blast: cancel: %s", local_error->message);
          g_clear_error (&local_error);
          ms_journal_set_batch_status (run->journal, self->batch, MS_BATCH_CANCELLED, NULL, NULL);
        }
      else if (run->stop_error != NULL)
        {
          final_status = MS_BATCH_PAUSED;
          ms_journal_set_batch_status (run->journal, self->batch, MS_BATCH_PAUSED,
                                       run->stop_error->message, NULL);
        }
      else if (ok && run->only_deferred_left)
        {
          g_autofree char *clock = format_clock (run->deferred_due);
          g_autofree char *reason = g_strdup_printf (_("Deferred messages are due at %s; resume sends them."),
                                                     clock);

          final_status = MS_BATCH_PAUSED;
          ms_journal_set_batch_status (run->journal, self->batch, MS_BATCH_PAUSED, reason, NULL);
        }
      else if (ok && !g_atomic_int_get (&self->pause_requested))
        {
          g_autoptr(MsBatchInfo) info = ms_journal_get_batch_info (run->journal, self->batch, NULL);

          /* `blast cancel` from another process wins over our finish. */
          final_status = info != NULL && info->status == MS_BATCH_CANCELLED
                         ? MS_BATCH_CANCELLED : MS_BATCH_FINISHED;
          ms_journal_set_batch_status (run->journal, self->batch, final_status, NULL, NULL);
        }
      else
        {
          final_status = MS_BATCH_PAUSED;
          ms_journal_set_batch_status (run->journal, self->batch, MS_BATCH_PAUSED, NULL, NULL);
        }
      /* Every row this run claimed has its outcome in the journal now,
       * unless a write failed: then the side log stays for recovery. */
      if (refresh_counts (run, NULL) && run->counts[MS_STATE_SENDING] == 0 && run->sidelog != NULL)
        {
          g_autofree char *log_path = ms_journal_dup_sidelog_path (run->journal, self->batch);

          g_clear_pointer (&run->sidelog, ms_sidelog_free);
          if (g_unlink (log_path) < 0)
            g_debug ("blast: could not remove %s: %s", log_path, g_strerror (errno));
        }
      ms_journal_unlock_batch (run->journal, self->batch);
      run->wait = WAIT_NONE;
      publish_progress (run, TRUE, final_status);
    }
  self->status = final_status;

  if (error != NULL)
    g_task_return_error (task, g_steal_pointer (&error));
  else if (final_status == MS_BATCH_CANCELLED)
    g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The e-blast was cancelled."));
  else if (run->stop_error != NULL)
    g_task_return_error (task, g_error_copy (run->stop_error));
  else
    g_task_return_boolean (task, TRUE);
  run_free (run);
  g_main_context_pop_thread_default (worker_context);
  g_main_context_unref (worker_context);
}

/**
 * ms_blast_run_async:
 * @cancellable: (nullable): cancels the batch: in-flight transfers end, the
 *   rows not sent become `cancelled`
 *
 * Sends the batch in a worker thread. Progress and rate-limit callbacks run
 * in the thread-default main context of the caller.
 */
void
ms_blast_run_async (MsBlast             *self,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MS_IS_BLAST (self));
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_blast_run_async);
  /* The worker must finish its journal work even when cancelled. */
  g_task_set_return_on_cancel (task, FALSE);
  g_task_set_check_cancellable (task, FALSE);

  if (self->running)
    {
      g_task_return_new_error (task, MS_ERROR, MS_ERROR_FAILED, _("This e-blast is already running."));
      return;
    }
  self->running = TRUE;
  g_atomic_int_set (&self->pause_requested, 0);
  g_atomic_int_set (&self->abort_requested, 0);
  g_task_run_in_thread (task, blast_worker);
}

gboolean
ms_blast_run_finish (MsBlast       *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  g_return_val_if_fail (MS_IS_BLAST (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  self->running = FALSE;
  return g_task_propagate_boolean (G_TASK (result), error);
}
