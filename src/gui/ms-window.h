/* ms-window.h: the main window: account summary, setup page, test e-mail
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"
#include "ms-test-dialog.h"

G_BEGIN_DECLS

#define MS_TYPE_WINDOW (ms_window_get_type ())
G_DECLARE_FINAL_TYPE (MsWindow, ms_window, MS, WINDOW, AdwApplicationWindow)

MsWindow     *ms_window_new                    (GtkApplication *application,
                                                MsAccount     *account);
MsAccount    *ms_window_get_account            (MsWindow      *self);
/* Opens (or raises) the account settings window; transfer none. */
GtkWindow    *ms_window_show_account_settings  (MsWindow      *self);
/* The test e-mail dialog while it is open, else NULL; transfer none. */
MsTestDialog *ms_window_get_test_dialog        (MsWindow      *self);
void          ms_window_add_toast              (MsWindow      *self,
                                                AdwToast      *toast);

G_END_DECLS
