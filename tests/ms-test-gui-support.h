/* ms-test-gui-support.h: shared helpers of the GUI tests: the main loop, template children, the window, notifications
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "ms-application.h"
#include "ms-window.h"

G_BEGIN_DECLS

/* Runs the default main context until @done says so, or fails the test
 * after @timeout_ms. */
void        ms_test_gui_wait_until              (gboolean  (*done) (gpointer data),
                                                 gpointer    data,
                                                 guint       timeout_ms);
/* Lets GTK lay out and draw for a moment. */
void        ms_test_gui_spin_for                (guint       ms);

/* The template child @name of @widget, an instance of @type; aborts when
 * there is none. */
gpointer    ms_test_gui_child                   (gpointer    widget,
                                                 GType       type,
                                                 const char *name);

/* The active main window of @app, activating @app first when there is none. */
MsWindow   *ms_test_gui_get_window              (MsApplication *app);

/* Resets every key of @account and the state it keeps beside them. */
void        ms_test_gui_reset_account           (MsAccount  *account);

/* Owns org.freedesktop.Notifications on the test's session bus, so that the
 * app's notifications have somewhere to go; it keeps the last one. */
void        ms_test_gui_start_notification_server (void);
/* The last notification as the desktop would show it, "summary\nbody", or
 * NULL before the first. */
const char *ms_test_gui_get_notification        (void);

G_END_DECLS
