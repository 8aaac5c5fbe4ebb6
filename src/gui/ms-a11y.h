/* ms-a11y.h: one clean accessible name per control, where GTK 4.8 gives none or two
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

void ms_a11y_fix_names (GtkWidget *root);
/* adw_toast_overlay_add_toast (), with the toast's close button named. */
void ms_a11y_add_toast (AdwToastOverlay *overlay, AdwToast *toast);

/* The items of @row's pop-up named by their text (GTK 4.8 leaves them nameless). */
void ms_a11y_name_combo_items (AdwComboRow *row);

G_END_DECLS
