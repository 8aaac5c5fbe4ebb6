/* ms-application.h: the Mailshot application: actions, the current account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"
#include "ms-blast-runner.h"

G_BEGIN_DECLS

#define MS_APP_SCHEMA_ID APP_ID

#define MS_TYPE_APPLICATION (ms_application_get_type ())
G_DECLARE_FINAL_TYPE (MsApplication, ms_application, MS, APPLICATION, AdwApplication)

MsApplication *ms_application_new             (void);
/* The account the app works with (app setting "current-account"); NULL only
 * when the account schema is missing. */
MsAccount     *ms_application_get_account     (MsApplication *self);
GSettings     *ms_application_get_settings    (MsApplication *self);
/* The e-blast the app sends, with or without a window; NULL without an account. */
MsBlastRunner *ms_application_get_runner      (MsApplication *self);
/* "Title\nbody" of the last notification sent, for tests; NULL before any. */
const char    *ms_application_get_last_notification (MsApplication *self);

/* The "Quit while an e-blast is being sent?" question while it is open, else NULL. */
AdwMessageDialog *ms_application_get_quit_dialog (MsApplication *self);

G_END_DECLS
