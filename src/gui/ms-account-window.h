/* ms-account-window.h: the account settings window (the setup form)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"

G_BEGIN_DECLS

#define MS_TYPE_ACCOUNT_WINDOW (ms_account_window_get_type ())
G_DECLARE_FINAL_TYPE (MsAccountWindow, ms_account_window, MS, ACCOUNT_WINDOW, AdwPreferencesWindow)

MsAccountWindow *ms_account_window_new         (GtkWindow       *parent,
                                                MsAccount       *account);
MsAccount       *ms_account_window_get_account (MsAccountWindow *self);
/* The row that edits @key (an account key), for tests and for focusing a
 * field from elsewhere ("Open account settings" after a failed test). */
GtkWidget       *ms_account_window_get_row     (MsAccountWindow *self,
                                                const char      *key);
/* Moves the keyboard to the control of @key's row (scrolling it into
 * view); returns the row, or NULL for an unknown key. */
GtkWidget       *ms_account_window_focus_row   (MsAccountWindow *self,
                                                const char      *key);

G_END_DECLS
