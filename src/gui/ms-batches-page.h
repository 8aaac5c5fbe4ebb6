/* ms-batches-page.h: every batch, newest first, and the report of one
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"
#include "ms-blast-runner.h"

G_BEGIN_DECLS

#define MS_TYPE_BATCHES_PAGE (ms_batches_page_get_type ())
G_DECLARE_FINAL_TYPE (MsBatchesPage, ms_batches_page, MS, BATCHES_PAGE, AdwBin)

/* @runner: the application's, read only to know which batch it is sending;
 * the page starts a resume through the action app.resume-batch(x). */
MsBatchesPage *ms_batches_page_new             (MsBlastRunner  *runner);
/* Reads the journal again now. The page also does so by itself while it is
 * shown, when the journal changed (this app's blast, or mailshot-cli's). */
void           ms_batches_page_reload          (MsBatchesPage  *self);
/* The batches as listed, newest first: (element-type MsBatchInfo) (transfer none). */
GPtrArray     *ms_batches_page_get_batches     (MsBatchesPage  *self);
/* Shows the report of @batch; FALSE when there is no such batch. */
gboolean       ms_batches_page_open_batch      (MsBatchesPage  *self,
                                                gint64          batch);
/* The batch whose report is shown, else 0. */
gint64         ms_batches_page_get_open_batch  (MsBatchesPage  *self);
/* The report's rows as shown (searched and sorted); transfer none. */
GListModel    *ms_batches_page_get_report_model (MsBatchesPage *self);
/* The text of column @column ("address", a merge field's name, "state",
 * "attempts", "time", "reply", "message-id") of the report's row @position
 * as shown; transfer full. */
char          *ms_batches_page_dup_report_cell (MsBatchesPage  *self,
                                                guint           position,
                                                const char     *column);
/* What Export CSV writes, into @file (replaced). */
void           ms_batches_page_export_async    (MsBatchesPage       *self,
                                                GFile               *file,
                                                GCancellable        *cancellable,
                                                GAsyncReadyCallback  callback,
                                                gpointer             user_data);
gboolean       ms_batches_page_export_finish   (MsBatchesPage       *self,
                                                GAsyncResult        *result,
                                                GError             **error);

G_END_DECLS
