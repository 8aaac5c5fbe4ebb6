/* ms-test-dialog.h: the staged test e-mail, step by step, with the transcript
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"

G_BEGIN_DECLS

#define MS_TYPE_TEST_DIALOG (ms_test_dialog_get_type ())
G_DECLARE_FINAL_TYPE (MsTestDialog, ms_test_dialog, MS, TEST_DIALOG, AdwWindow)

MsTestDialog *ms_test_dialog_new          (GtkWindow    *parent,
                                           MsAccount    *account);
/* Looks the password up, then runs the probe; a second call restarts. */
void          ms_test_dialog_start        (MsTestDialog *self);
void          ms_test_dialog_cancel       (MsTestDialog *self);
/* TRUE from start until the test has an outcome (notify::running). */
gboolean      ms_test_dialog_get_running  (MsTestDialog *self);
/* The probe of the last run, or NULL before the keyring lookup is done. */
MsProbe      *ms_test_dialog_get_probe    (MsTestDialog *self);
/* The sentence shown as the outcome (success, failure, no password...). */
const char   *ms_test_dialog_get_outcome  (MsTestDialog *self);
/* The row of @step in the list of steps (an AdwActionRow). */
GtkWidget    *ms_test_dialog_get_step_row (MsTestDialog *self,
                                           MsProbeStep   step);
/* The account key of the setting the advice names first ("user-id",
 * "password", "trusted-certificate"): where “Open Account Settings” goes. */
const char   *ms_test_dialog_get_settings_key (MsTestDialog *self);

G_END_DECLS
