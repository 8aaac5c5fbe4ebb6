/* ms-goa-row.h: the row that says GNOME Online Accounts signs the account in, with a way to its settings
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define MS_TYPE_GOA_ROW (ms_goa_row_get_type ())
G_DECLARE_FINAL_TYPE (MsGoaRow, ms_goa_row, MS, GOA_ROW, AdwActionRow)

/* The account's settings: the row shows itself while auth-method is oauth2
 * and goa-account-id names an account, and follows both keys. */
void        ms_goa_row_set_settings (MsGoaRow  *self,
                                     GSettings *settings);
/* What the row says under its title: the account's name, or why it cannot
 * be used (gone, needs attention): for tests and screen readers alike. */
const char *ms_goa_row_get_status   (MsGoaRow  *self);

G_END_DECLS
