/* ms-blast-runner.h: the e-blast the app runs in the background, and its progress in words
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "mailshot-core.h"

G_BEGIN_DECLS

#define MS_TYPE_BLAST_RUNNER (ms_blast_runner_get_type ())
G_DECLARE_FINAL_TYPE (MsBlastRunner, ms_blast_runner, MS, BLAST_RUNNER, GObject)

/* One runner per application: it outlives the windows, so that a blast goes
 * on with the window closed. Properties (all notify): "active" (a batch is
 * running or paused by the user), "paused", "batch", "fraction" (0–1),
 * "text" ("1,234 of 5,000 sent · 12 failed · 3 waiting to retry") and
 * "detail" (the rate and the time left, or the wait). Signal "finished"
 * (batch, sent, failed, uncertain, message-or-NULL) when a run ends other
 * than by a pause. */
MsBlastRunner *ms_blast_runner_new          (MsAccount           *account);

/* Looks the password up, imports @csv_path into a new batch (in a thread),
 * then starts sending it; completes once sending has started (or the import
 * failed, nothing sent then). @spec: transfer full. */
void           ms_blast_runner_start_async  (MsBlastRunner       *self,
                                             MsBatchSpec         *spec,
                                             const char          *csv_path,
                                             const char          *email_column,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
/* Returns: the new batch ID, 0 with @error set. */
gint64         ms_blast_runner_start_finish (MsBlastRunner       *self,
                                             GAsyncResult        *result,
                                             GError             **error);
/* Carries on with @batch (paused, or left by a crash); with
 * @resend_uncertain its uncertain rows are queued again first (the user's
 * choice). Completes once sending has started. */
void           ms_blast_runner_resume_batch_async (MsBlastRunner *self,
                                             gint64               batch,
                                             gboolean             resend_uncertain,
                                             GCancellable        *cancellable,
                                             GAsyncReadyCallback  callback,
                                             gpointer             user_data);
gint64         ms_blast_runner_resume_batch_finish (MsBlastRunner *self,
                                             GAsyncResult        *result,
                                             GError             **error);
void           ms_blast_runner_pause        (MsBlastRunner       *self);
void           ms_blast_runner_resume       (MsBlastRunner       *self);
void           ms_blast_runner_cancel       (MsBlastRunner       *self);

gboolean       ms_blast_runner_get_active   (MsBlastRunner       *self);
gboolean       ms_blast_runner_get_paused   (MsBlastRunner       *self);
gint64         ms_blast_runner_get_batch    (MsBlastRunner       *self);
double         ms_blast_runner_get_fraction (MsBlastRunner       *self);
const char    *ms_blast_runner_get_text     (MsBlastRunner       *self);
const char    *ms_blast_runner_get_detail   (MsBlastRunner       *self);
/* A rate-limit wait under way: its end (unix seconds, 0 = none, "waiting-until")
 * and the server's reply that set it, or NULL ("waiting-reply"). */
gint64         ms_blast_runner_get_waiting_until (MsBlastRunner  *self);
const char    *ms_blast_runner_get_waiting_reply (MsBlastRunner  *self);

G_END_DECLS
