/* ms-a11y.h: one clean accessible name per control, where GTK 4.8 gives none or two
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

void ms_a11y_fix_names (GtkWidget *root);

G_END_DECLS
