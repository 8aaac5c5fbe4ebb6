/* ms-blast.h: the e-blast job, a GTask worker driving N connections
 * SPDX-License-Identifier: GPL-3.0-or-later */
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

void      ms_blast_run_async    (MsBlast             *self,
                                 GCancellable        *cancellable,
                                 GAsyncReadyCallback  callback,
                                 gpointer             user_data);
/* TRUE when the batch finished. Paused: MS_ERROR_* of the stop-class reply,
 * with its advice. Cancelled: G_IO_ERROR_CANCELLED. */
gboolean  ms_blast_run_finish   (MsBlast             *self,
                                 GAsyncResult        *result,
                                 GError             **error);
/* Thread-safe. Pause: the messages in flight finish, nothing new starts, the
 * run completes with the batch PAUSED. */
void      ms_blast_pause        (MsBlast *self);

G_END_DECLS
