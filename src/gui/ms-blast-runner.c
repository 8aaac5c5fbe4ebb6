/* ms-blast-runner.c: the e-blast the app runs in the background, and its progress in words
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-blast-runner.h"

struct _MsBlastRunner
{
  GObject        parent_instance;

  MsAccount     *account;
  MsSmtpConfig  *config;         /* with the password, for a resume */
  MsPacerLimits  limits;
  MsBlast       *blast;
  MsImportJob   *import;         /* the list still going in beside the first run; it holds the batch's lock */
  MsBatchSpec   *import_spec;    /* the import's */
  GCancellable  *cancellable;
  gint64         batch;
  gboolean       active;
  gboolean       paused;
  gboolean       pausing;
  double         fraction;
  char          *text;
  char          *detail;
  gint64         waiting_until;
  char          *waiting_reply;
  guint          countdown_id;
};

G_DEFINE_FINAL_TYPE (MsBlastRunner, ms_blast_runner, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_ACTIVE,
  PROP_PAUSED,
  PROP_BATCH,
  PROP_FRACTION,
  PROP_TEXT,
  PROP_DETAIL,
  PROP_WAITING_UNTIL,
  PROP_WAITING_REPLY,
  N_PROPS
};

enum {
  FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

static void run_batch (MsBlastRunner *self);

MsBlastRunner *
ms_blast_runner_new (MsAccount *account)
{
  MsBlastRunner *self;

  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);

  self = g_object_new (MS_TYPE_BLAST_RUNNER, NULL);
  self->account = g_object_ref (account);
  return self;
}

static void
set_string (MsBlastRunner  *self,
            char          **field,
            const char     *value,
            guint           prop)
{
  if (g_strcmp0 (*field, value) == 0)
    return;
  g_free (*field);
  *field = g_strdup (value);
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

static void
set_boolean (MsBlastRunner *self,
             gboolean      *field,
             gboolean       value,
             guint          prop)
{
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), properties[prop]);
}

/* ------------------------------------------------------------- progress */

static char *
format_duration (gint64 seconds)
{
  if (seconds >= 3600)
    /* Translators: hours and minutes left, e.g. "2 h 05 min". */
    return g_strdup_printf (_("%d h %02d min"), (int) (seconds / 3600), (int) (seconds / 60 % 60));
  if (seconds >= 60)
    /* Translators: minutes and seconds left, e.g. "4 min 10 s". */
    return g_strdup_printf (_("%d min %02d s"), (int) (seconds / 60), (int) (seconds % 60));
  return g_strdup_printf (ngettext ("%d second", "%d seconds", (int) seconds), (int) seconds);
}

static void
update_wait_detail (MsBlastRunner *self)
{
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;
  g_autoptr(GDateTime) until = g_date_time_new_from_unix_local (self->waiting_until);
  g_autofree char *clock = until != NULL ? g_date_time_format (until, "%H:%M") : g_strdup ("");
  g_autofree char *left = format_duration (MAX (self->waiting_until - now, 0));
  g_autofree char *detail = NULL;

  /* Translators: %s is a time of day (14:10), then how long is left. */
  detail = g_strdup_printf (_("Paused by the server’s limit until %s — resumes by itself (%s left)"), clock, left);
  set_string (self, &self->detail, detail, PROP_DETAIL);
}

static gboolean
countdown_tick (gpointer user_data)
{
  MsBlastRunner *self = user_data;

  if (self->waiting_until <= g_get_real_time () / G_USEC_PER_SEC)
    {
      self->countdown_id = 0;
      return G_SOURCE_REMOVE;
    }
  update_wait_detail (self);
  return G_SOURCE_CONTINUE;
}

/* The records of the list's file while it still goes in: the run's (its
 * import's, or a resume's own when the list was not all in), or the
 * import's the runner holds. */
static guint
list_records (MsBlastRunner *self)
{
  guint records = self->blast != NULL ? ms_blast_get_list_records (self->blast) : 0;

  if (records == 0 && self->import != NULL)
    records = ms_import_job_get_n_records (self->import);
  return records;
}

static void
on_progress (const MsBlastProgress *p,
             gpointer               user_data)
{
  MsBlastRunner *self = user_data;
  guint left = p->counts[MS_STATE_QUEUED] + p->counts[MS_STATE_DEFERRED] + p->counts[MS_STATE_SENDING];
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *detail = NULL;
  gboolean importing = p->importing;
  guint done = 0;
  /* While the list still goes in beside the sending, the rows in are not
   * the whole count: the bar and the words are against the records of the
   * whole file (known from the check before the first row went in), "of
   * about N". A total that grew as the rows came in would pull the bar
   * back at every chunk; this one only shrinks, to the exact count, once
   * the rows left out and the duplicates are known, so the bar only moves
   * forward, as a person expects of it. */
  guint total = importing ? MAX (p->total, list_records (self)) : p->total;
  gint64 eta = p->eta;
  double fraction;

  /* The rows dealt with, whatever the total read with them. */
  for (guint i = 0; i < MS_N_STATES; i++)
    if (i != MS_STATE_QUEUED && i != MS_STATE_DEFERRED && i != MS_STATE_SENDING)
      done += p->counts[i];
  fraction = total > 0 ? (double) MIN (done, total) / total : 0;
  /* The run's time left is of the rows in so far: while the rest goes in,
   * it is the whole file's at the recent rate (unknown during a wait). */
  if (importing)
    eta = p->waiting_until == 0 && p->rate > 0.01 && total > done ? (gint64) ((total - done) / p->rate + 0.5) : -1;

  /* Whole phrases, so that each language puts the numbers where they go;
   * %'u groups the thousands as the language does. */
  if (importing)
    /* Translators: the list is still being read in while it is sent: the second number is an upper bound. */
    g_string_printf (text, ngettext ("%'u of about %'u sent", "%'u of about %'u sent", total),
                     p->counts[MS_STATE_SENT], total);
  else
    g_string_printf (text, ngettext ("%'u of %'u sent", "%'u of %'u sent", p->total),
                     p->counts[MS_STATE_SENT], p->total);
  if (p->counts[MS_STATE_FAILED] > 0)
    g_string_append_printf (text, ngettext (" · %'u failed", " · %'u failed", p->counts[MS_STATE_FAILED]),
                            p->counts[MS_STATE_FAILED]);
  if (p->counts[MS_STATE_DEFERRED] > 0)
    g_string_append_printf (text, ngettext (" · %'u waiting to retry", " · %'u waiting to retry",
                                            p->counts[MS_STATE_DEFERRED]),
                            p->counts[MS_STATE_DEFERRED]);
  if (p->counts[MS_STATE_UNCERTAIN] > 0)
    g_string_append_printf (text, ngettext (" · %'u uncertain", " · %'u uncertain", p->counts[MS_STATE_UNCERTAIN]),
                            p->counts[MS_STATE_UNCERTAIN]);
  set_string (self, &self->text, text->str, PROP_TEXT);

  if (self->fraction != fraction)
    {
      self->fraction = fraction;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
    }

  if (self->waiting_until != p->waiting_until)
    {
      self->waiting_until = p->waiting_until;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAITING_UNTIL]);
    }
  set_string (self, &self->waiting_reply, p->waiting_until > 0 ? p->waiting_reply : NULL, PROP_WAITING_REPLY);
  if (p->waiting_until > 0)
    {
      update_wait_detail (self);
      if (self->countdown_id == 0)
        self->countdown_id = g_timeout_add_seconds (1, countdown_tick, self);
      return;
    }
  g_clear_handle_id (&self->countdown_id, g_source_remove);

  if (left == 0 && !importing)
    detail = g_strdup ("");
  else if (p->rate < 0.5)
    /* A slow server, not a stopped job: never "0 messages a second". */
    detail = g_strdup (p->status_text != NULL && g_strcmp0 (p->status_text, _("Sending")) != 0
                       ? p->status_text : _("Waiting for the server"));
  else if (eta > 0)
    {
      g_autofree char *eta_text = format_duration (eta);

      /* Translators: the sending rate, then the time left, e.g. "12 messages a second · about 4 min 10 s left". */
      detail = g_strdup_printf (ngettext ("%.0f message a second · about %s left",
                                          "%.0f messages a second · about %s left", (gulong) (p->rate + 0.5)),
                                p->rate, eta_text);
    }
  else
    detail = g_strdup_printf (ngettext ("%.0f message a second", "%.0f messages a second", (gulong) (p->rate + 0.5)),
                              p->rate);
  set_string (self, &self->detail, detail, PROP_DETAIL);
}

static void
on_rate_limited (gint64   until,
                 gpointer user_data)
{
  MsBlastRunner *self = user_data;

  /* Kept on the account, so that the settings, a test and the CLI see it. */
  ms_account_set_rate_limited_until (self->account, until);
}

static void
on_session (gboolean starttls_offered,
            gpointer user_data)
{
  MsBlastRunner *self = user_data;

  ms_account_note_session (self->account, starttls_offered, NULL);
}

/* ------------------------------------------------------------- running */

static void
end_run (MsBlastRunner *self,
         const char    *message)
{
  g_autoptr(MsJournal) journal = ms_journal_open (NULL, NULL);
  g_autoptr(MsBatchInfo) info = journal != NULL ? ms_journal_get_batch_info (journal, self->batch, NULL) : NULL;
  guint sent = info != NULL ? info->counts[MS_STATE_SENT] : 0;
  guint failed = info != NULL ? info->counts[MS_STATE_FAILED] : 0;
  guint uncertain = info != NULL ? info->counts[MS_STATE_UNCERTAIN] : 0;

  g_clear_handle_id (&self->countdown_id, g_source_remove);
  g_clear_pointer (&self->config, ms_smtp_config_free);
  if (self->waiting_until != 0)
    {
      self->waiting_until = 0;
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_WAITING_UNTIL]);
    }
  set_boolean (self, &self->paused, FALSE, PROP_PAUSED);
  set_boolean (self, &self->active, FALSE, PROP_ACTIVE);
  g_signal_emit (self, signals[FINISHED], 0, self->batch, sent, failed, uncertain, message);
}

static void
clear_import (MsBlastRunner *self)
{
  g_clear_pointer (&self->import, ms_import_job_free);
  g_clear_pointer (&self->import_spec, ms_batch_spec_free);
}

static void
run_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  g_autoptr(MsBlastRunner) self = user_data;
  g_autoptr(MsBlast) blast = g_object_ref (MS_BLAST (source));
  g_autoptr(GError) error = NULL;
  gboolean ok = ms_blast_run_finish (blast, result, &error);

  if (blast != self->blast)
    return;
  g_clear_object (&self->blast);
  /* Its run is over, and with it the import (a pause waits for the whole
   * list): the batch's lock goes, and a resume is a run like any other. */
  clear_import (self);

  if (ok && ms_blast_get_status (blast) == MS_BATCH_PAUSED && self->pausing)
    {
      self->pausing = FALSE;
      g_clear_handle_id (&self->countdown_id, g_source_remove);
      set_string (self, &self->detail, _("Paused"), PROP_DETAIL);
      set_boolean (self, &self->paused, TRUE, PROP_PAUSED);
      return;
    }
  self->pausing = FALSE;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    end_run (self, _("The e-blast was cancelled."));
  else if (error != NULL)
    end_run (self, error->message);
  else if (ms_blast_get_status (blast) == MS_BATCH_PAUSED)
    {
      g_autoptr(MsJournal) journal = ms_journal_open (NULL, NULL);
      g_autoptr(MsBatchInfo) info = journal != NULL ? ms_journal_get_batch_info (journal, self->batch, NULL) : NULL;

      end_run (self, info != NULL && info->pause_reason != NULL ? info->pause_reason : _("The e-blast paused."));
    }
  else
    end_run (self, NULL);
}

static void
run_batch (MsBlastRunner *self)
{
  g_assert (self->blast == NULL);

  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  self->blast = ms_blast_new (self->config, &self->limits, NULL, self->batch);
  ms_blast_set_progress_func (self->blast, on_progress, self, NULL);
  ms_blast_set_rate_limit_func (self->blast, on_rate_limited, self);
  ms_blast_set_session_func (self->blast, on_session, self);
  /* The first run of a new batch sends while the rest of its list goes in. */
  ms_blast_set_import (self->blast, self->import);
  set_boolean (self, &self->paused, FALSE, PROP_PAUSED);
  set_string (self, &self->detail, _("Waiting for the server"), PROP_DETAIL);
  ms_blast_run_async (self->blast, self->cancellable, run_done, g_object_ref (self));
}

typedef struct {
  MsBatchSpec  *spec;
  char         *csv_path;
  char         *email_column;
  MsSmtpConfig *config;
  gint64        batch;           /* a resume: this batch, nothing imported */
  gboolean      resend_uncertain;
  MsImportJob  *import;          /* a new batch: its first chunk is in, the rest goes in as it is sent */
} StartData;

static void
start_data_free (StartData *data)
{
  g_clear_pointer (&data->import, ms_import_job_free);
  g_clear_pointer (&data->spec, ms_batch_spec_free);
  g_free (data->csv_path);
  g_free (data->email_column);
  g_clear_pointer (&data->config, ms_smtp_config_free);
  g_free (data);
}

static void
start_thread (GTask        *task,
              gpointer      source,
              gpointer      task_data,
              GCancellable *cancellable)
{
  StartData *data = task_data;
  g_autoptr(MsJournal) journal = NULL;
  GError *error = NULL;
  gint64 batch;

  journal = ms_journal_open (NULL, &error);
  if (journal == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  if (data->batch > 0)
    {
      /* A resume: the journal says whether it may be, and the user's
       * choice about the uncertain rows is applied before anything goes. */
      if (!ms_journal_check_can_resume (journal, data->batch, &error) ||
          (data->resend_uncertain && !ms_journal_requeue_uncertain (journal, data->batch, NULL, &error)))
        {
          g_task_return_error (task, error);
          return;
        }
      g_task_return_int (task, data->batch);
      return;
    }
  /* The connections start after the first chunk of the list, as with
   * `mailshot-cli blast send`; a list that cannot be imported as a whole is
   * refused before that, with nothing stored or sent. The rows left out go
   * to the batch's report as they are read. */
  data->import = ms_import_start (journal, data->spec, data->csv_path, data->email_column, NULL, NULL, NULL, NULL,
                                  &error);
  if (data->import == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  batch = ms_import_job_get_batch (data->import);
  g_task_return_int (task, batch);
}

static void
start_done (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  MsBlastRunner *self = MS_BLAST_RUNNER (source);
  g_autoptr(GTask) outer = user_data;
  StartData *data = g_task_get_task_data (G_TASK (result));
  GError *error = NULL;
  gint64 batch;

  batch = g_task_propagate_int (G_TASK (result), &error);
  if (batch <= 0)
    {
      /* Nothing was stored or sent. */
      set_boolean (self, &self->active, FALSE, PROP_ACTIVE);
      g_task_return_error (outer, error);
      return;
    }

  self->batch = batch;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_BATCH]);
  /* The import reads its spec (the columns) until the list is in. */
  clear_import (self);
  self->import = g_steal_pointer (&data->import);
  if (self->import != NULL)
    self->import_spec = g_steal_pointer (&data->spec);
  g_clear_pointer (&self->config, ms_smtp_config_free);
  self->config = g_steal_pointer (&data->config);
  ms_account_get_pacer_limits (self->account, &self->limits);
  run_batch (self);
  g_task_return_int (outer, batch);
}

/* The password first: a batch that can never be sent would only clutter the list. */
static void
config_loaded (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(GTask) task = user_data;
  StartData *data = g_task_get_task_data (task);
  GError *error = NULL;

  data->config = ms_account_load_config_finish (MS_ACCOUNT (source), result, &error);
  if (data->config == NULL)
    {
      /* start_done () ends it: nothing stored, nothing sent. */
      g_task_return_error (task, error);
      return;
    }
  g_task_run_in_thread (task, start_thread);
}

static void
start (MsBlastRunner       *self,
       StartData           *data,
       GCancellable        *cancellable,
       GAsyncReadyCallback  callback,
       gpointer             user_data)
{
  g_autoptr(GTask) outer = NULL;
  GTask *task;

  outer = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (outer, ms_blast_runner_start_async);
  if (self->active)
    {
      start_data_free (data);
      g_task_return_new_error (outer, MS_ERROR, MS_ERROR_INVALID_INPUT, "%s",
                               _("An e-blast is already being sent. Wait until it has finished, or cancel it."));
      return;
    }

  /* The inner task updates the runner whether or not the caller is still
   * there to hear about it. */
  task = g_task_new (self, cancellable, start_done, g_object_ref (outer));
  g_task_set_task_data (task, data, (GDestroyNotify) start_data_free);

  /* Active from now: a second Send waits, and the app stays up. */
  set_string (self, &self->text, data->batch > 0 ? _("Resuming the e-blast…") : _("Preparing the e-blast…"),
              PROP_TEXT);
  set_string (self, &self->detail, "", PROP_DETAIL);
  self->fraction = 0;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_FRACTION]);
  set_boolean (self, &self->active, TRUE, PROP_ACTIVE);
  ms_account_load_config_async (self->account, cancellable, config_loaded, task);
}

void
ms_blast_runner_start_async (MsBlastRunner       *self,
                             MsBatchSpec         *spec,
                             const char          *csv_path,
                             const char          *email_column,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  StartData *data;

  g_return_if_fail (MS_IS_BLAST_RUNNER (self));
  g_return_if_fail (spec != NULL);
  g_return_if_fail (csv_path != NULL);

  data = g_new0 (StartData, 1);
  data->spec = spec;
  data->csv_path = g_strdup (csv_path);
  data->email_column = g_strdup (email_column);
  start (self, data, cancellable, callback, user_data);
}

void
ms_blast_runner_resume_batch_async (MsBlastRunner       *self,
                                    gint64               batch,
                                    gboolean             resend_uncertain,
                                    GCancellable        *cancellable,
                                    GAsyncReadyCallback  callback,
                                    gpointer             user_data)
{
  StartData *data;

  g_return_if_fail (MS_IS_BLAST_RUNNER (self));
  g_return_if_fail (batch > 0);

  /* The batch paused in this runner simply carries on. */
  if (self->active && self->paused && self->batch == batch && !resend_uncertain)
    {
      g_autoptr(GTask) task = g_task_new (self, cancellable, callback, user_data);

      g_task_set_source_tag (task, ms_blast_runner_start_async);
      ms_blast_runner_resume (self);
      g_task_return_int (task, batch);
      return;
    }

  data = g_new0 (StartData, 1);
  data->batch = batch;
  data->resend_uncertain = resend_uncertain;
  start (self, data, cancellable, callback, user_data);
}

gint64
ms_blast_runner_start_finish (MsBlastRunner  *self,
                              GAsyncResult   *result,
                              GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), 0);

  return g_task_propagate_int (G_TASK (result), error);
}

gint64
ms_blast_runner_resume_batch_finish (MsBlastRunner  *self,
                                     GAsyncResult   *result,
                                     GError        **error)
{
  return ms_blast_runner_start_finish (self, result, error);
}

void
ms_blast_runner_pause (MsBlastRunner *self)
{
  g_return_if_fail (MS_IS_BLAST_RUNNER (self));

  if (self->blast == NULL || self->pausing)
    return;
  self->pausing = TRUE;
  set_string (self, &self->detail, _("Pausing: the messages on their way finish first…"), PROP_DETAIL);
  ms_blast_pause (self->blast);
}

void
ms_blast_runner_resume (MsBlastRunner *self)
{
  g_return_if_fail (MS_IS_BLAST_RUNNER (self));

  if (!self->active || !self->paused || self->blast != NULL)
    return;
  /* A wait that ended during the pause is not waited again. */
  self->limits.rate_limited_until = ms_account_get_rate_limited_until (self->account);
  run_batch (self);
}

void
ms_blast_runner_cancel (MsBlastRunner *self)
{
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GError) error = NULL;

  g_return_if_fail (MS_IS_BLAST_RUNNER (self));

  if (!self->active)
    return;
  if (self->blast != NULL)
    {
      g_cancellable_cancel (self->cancellable);
      return;
    }
  /* Paused: nothing runs to cancel, the journal is told directly, and
   * decides whether it may be. */
  journal = ms_journal_open (NULL, &error);
  if (journal == NULL || !ms_journal_check_can_cancel (journal, self->batch, &error) ||
      !ms_journal_cancel_batch (journal, self->batch, &error))
    {
      g_debug ("Cancelling batch %" G_GINT64_FORMAT ": %s", self->batch, error->message);
      end_run (self, error->message);
      return;
    }
  end_run (self, _("The e-blast was cancelled."));
}

gboolean
ms_blast_runner_get_active (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), FALSE);
  return self->active;
}

gboolean
ms_blast_runner_get_paused (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), FALSE);
  return self->paused;
}

gint64
ms_blast_runner_get_batch (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), 0);
  return self->batch;
}

double
ms_blast_runner_get_fraction (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), 0);
  return self->fraction;
}

const char *
ms_blast_runner_get_text (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), NULL);
  return self->text != NULL ? self->text : "";
}

gint64
ms_blast_runner_get_waiting_until (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), 0);
  return self->waiting_until;
}

const char *
ms_blast_runner_get_waiting_reply (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), NULL);
  return self->waiting_reply;
}

const char *
ms_blast_runner_get_detail (MsBlastRunner *self)
{
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (self), NULL);
  return self->detail != NULL ? self->detail : "";
}

static void
ms_blast_runner_get_property (GObject    *object,
                              guint       prop_id,
                              GValue     *value,
                              GParamSpec *pspec)
{
  MsBlastRunner *self = MS_BLAST_RUNNER (object);

  switch (prop_id)
    {
    case PROP_ACTIVE:   g_value_set_boolean (value, self->active); break;
    case PROP_PAUSED:   g_value_set_boolean (value, self->paused); break;
    case PROP_BATCH:    g_value_set_int64 (value, self->batch); break;
    case PROP_FRACTION: g_value_set_double (value, self->fraction); break;
    case PROP_TEXT:     g_value_set_string (value, ms_blast_runner_get_text (self)); break;
    case PROP_DETAIL:   g_value_set_string (value, ms_blast_runner_get_detail (self)); break;
    case PROP_WAITING_UNTIL: g_value_set_int64 (value, self->waiting_until); break;
    case PROP_WAITING_REPLY: g_value_set_string (value, self->waiting_reply); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_blast_runner_dispose (GObject *object)
{
  MsBlastRunner *self = MS_BLAST_RUNNER (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->countdown_id, g_source_remove);
  g_clear_object (&self->blast);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->account);

  G_OBJECT_CLASS (ms_blast_runner_parent_class)->dispose (object);
}

static void
ms_blast_runner_finalize (GObject *object)
{
  MsBlastRunner *self = MS_BLAST_RUNNER (object);

  clear_import (self);
  g_clear_pointer (&self->config, ms_smtp_config_free);
  g_clear_pointer (&self->text, g_free);
  g_clear_pointer (&self->detail, g_free);
  g_clear_pointer (&self->waiting_reply, g_free);

  G_OBJECT_CLASS (ms_blast_runner_parent_class)->finalize (object);
}

static void
ms_blast_runner_class_init (MsBlastRunnerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = ms_blast_runner_get_property;
  object_class->dispose = ms_blast_runner_dispose;
  object_class->finalize = ms_blast_runner_finalize;

  properties[PROP_ACTIVE] = g_param_spec_boolean ("active", NULL, NULL, FALSE,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_PAUSED] = g_param_spec_boolean ("paused", NULL, NULL, FALSE,
                                                  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_BATCH] = g_param_spec_int64 ("batch", NULL, NULL, 0, G_MAXINT64, 0,
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_FRACTION] = g_param_spec_double ("fraction", NULL, NULL, 0, 1, 0,
                                                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_TEXT] = g_param_spec_string ("text", NULL, NULL, "",
                                               G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_DETAIL] = g_param_spec_string ("detail", NULL, NULL, "",
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_WAITING_UNTIL] = g_param_spec_int64 ("waiting-until", NULL, NULL, 0, G_MAXINT64, 0,
                                                      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_WAITING_REPLY] = g_param_spec_string ("waiting-reply", NULL, NULL, NULL,
                                                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * MsBlastRunner::finished:
   * @batch: the batch ID
   * @sent, @failed, @uncertain: its counts at the end
   * @message: (nullable): why it stopped early (cancelled, a server's refusal), NULL when it finished
   */
  signals[FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                    G_TYPE_NONE, 5, G_TYPE_INT64, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_UINT,
                                    G_TYPE_STRING);
}

static void
ms_blast_runner_init (MsBlastRunner *self)
{
}

