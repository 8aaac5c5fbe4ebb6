/* ms-window.h: the main window: E-blast, Batches and Pending, the running blast, the account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"
#include "ms-blast-page.h"
#include "ms-blast-runner.h"
#include "ms-test-dialog.h"

G_BEGIN_DECLS

#define MS_TYPE_WINDOW (ms_window_get_type ())
G_DECLARE_FINAL_TYPE (MsWindow, ms_window, MS, WINDOW, AdwApplicationWindow)

MsWindow     *ms_window_new                    (GtkApplication *application,
                                                MsAccount     *account,
                                                MsBlastRunner *runner);
/* Shows one of the pages "blast", "batches", "pending" (once the account is set up). */
void          ms_window_show_page              (MsWindow      *self,
                                                const char    *name);
/* Shows the Batches page with the report of @batch (the notification's
 * "Show Batch"); FALSE when there is no such batch (the page's list shows). */
gboolean      ms_window_show_batch             (MsWindow      *self,
                                                gint64         batch);
MsBlastPage  *ms_window_get_blast_page         (MsWindow      *self);
/* The "Cancel the e-blast?" question while it is open, else NULL; transfer none. */
AdwMessageDialog *ms_window_get_cancel_dialog  (MsWindow      *self);
MsAccount    *ms_window_get_account            (MsWindow      *self);
/* Opens (or raises) the account settings window; transfer none. */
GtkWindow    *ms_window_show_account_settings  (MsWindow      *self);
/* The test e-mail dialog while it is open, else NULL; transfer none. */
MsTestDialog *ms_window_get_test_dialog        (MsWindow      *self);
/* The batch the window offers to resume (after a crash, a restart, a
 * pause elsewhere), 0 = none; a batch another process sends now, 0 = none. */
gint64        ms_window_get_unfinished_batch   (MsWindow      *self);
gint64        ms_window_get_external_batch     (MsWindow      *self);
void          ms_window_add_toast              (MsWindow      *self,
                                                AdwToast      *toast);

G_END_DECLS
