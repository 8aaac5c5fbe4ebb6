/* ms-pending-page.h: every message that did not go out, across batches, and what to do about it
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"
#include "ms-blast-runner.h"

G_BEGIN_DECLS

#define MS_TYPE_PENDING_PAGE (ms_pending_page_get_type ())
G_DECLARE_FINAL_TYPE (MsPendingPage, ms_pending_page, MS, PENDING_PAGE, AdwBin)

/* @runner: the application's, read only to know whether it is sending; the
 * page resumes a batch through the action app.resume-batch(x). */
MsPendingPage    *ms_pending_page_new            (MsBlastRunner  *runner);
/* Reads the journal again now; done by itself while shown when the journal
 * changed (this app's blast, or mailshot-cli's). */
void              ms_pending_page_reload         (MsPendingPage  *self);
/* The rows as shown (filtered, sorted), with the selection the actions
 * work on; transfer none. */
GtkSelectionModel *ms_pending_page_get_selection (MsPendingPage  *self);
/* The journal row behind position @position of the selection model; transfer none. */
const MsJournalRow *ms_pending_page_get_row      (MsPendingPage  *self,
                                                  guint           position);
/* Its advice as shown; transfer none. */
const char       *ms_pending_page_get_advice     (MsPendingPage  *self,
                                                  guint           position);
/* Filters: @state MS_N_STATES = every state; @batch 0 = every batch;
 * @cause NULL = every cause (a cause is an advice, as the groups show it). */
void              ms_pending_page_set_filter     (MsPendingPage  *self,
                                                  MsRecipientState state,
                                                  gint64          batch,
                                                  const char     *cause);
/* The groups "By cause" shows, biggest first: the cause (its advice) and
 * the count of rows, as "count\tcause" strings; transfer full. */
GStrv             ms_pending_page_dup_causes     (MsPendingPage  *self);
/* The "Edit address" question while it is open, else NULL; transfer none. */
AdwMessageDialog *ms_pending_page_get_dialog     (MsPendingPage  *self);
/* What Export CSV writes (the rows shown), into @file (replaced). */
gboolean          ms_pending_page_export         (MsPendingPage  *self,
                                                  GFile          *file,
                                                  GError        **error);

G_END_DECLS
