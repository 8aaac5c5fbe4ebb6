/* ms-setup-assistant.h: the first-run assistant: the address, the settings found for it, the password
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"

G_BEGIN_DECLS

#define MS_TYPE_SETUP_ASSISTANT (ms_setup_assistant_get_type ())
G_DECLARE_FINAL_TYPE (MsSetupAssistant, ms_setup_assistant, MS, SETUP_ASSISTANT, AdwWindow)

MsSetupAssistant *ms_setup_assistant_new      (GtkWindow        *parent,
                                               MsAccount        *account);
/* "address", "settings" or "done" (notify::page). */
const char       *ms_setup_assistant_get_page (MsSetupAssistant *self);
/* TRUE while settings are being looked up or saved (notify::busy). */
gboolean          ms_setup_assistant_get_busy (MsSetupAssistant *self);

G_END_DECLS
