/* test-gui-account.c: the settings window and the test dialog without traps, under Xvfb and AT-SPI
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#ifdef GDK_WINDOWING_X11
#include <gdk/x11/gdkx.h>
#endif
#include <glib/gi18n.h>
#include <locale.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mailshot-core.h"
#include "ms-account-window.h"
#include "ms-application.h"
#include "ms-batches-page.h"
#include "ms-blast-page.h"
#include "ms-pending-page.h"
#include "ms-preview.h"
#include "ms-test-dialog.h"
#include "ms-test-gui-support.h"
#include "ms-test-support.h"
#include "ms-window.h"

static MsApplication *app;

static MsWindow *
get_window (void)
{
  GtkWindow *window = NULL;

  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    if (MS_IS_WINDOW (l->data))
      window = l->data;
  if (window == NULL)
    {
      g_application_activate (G_APPLICATION (app));
      window = gtk_application_get_active_window (GTK_APPLICATION (app));
    }
  g_assert_true (MS_IS_WINDOW (window));
  return MS_WINDOW (window);
}

static MsAccount *
get_account (void)
{
  return ms_application_get_account (app);
}

static GSettings *
get_settings (void)
{
  return ms_account_get_settings (get_account ());
}

static void
configure_account (const char *server,
                   int         port)
{
  MsAccount *account = get_account ();
  g_autofree char *port_text = g_strdup_printf ("%d", port);

  g_assert_true (ms_account_set_from_string (account, "email-address", "sender@example.org", NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-server", server, NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-port", port_text, NULL));
  g_assert_true (ms_account_set_from_string (account, "user-id", "u", NULL));
  g_assert_true (ms_account_set_from_string (account, "timeout", "5", NULL));
}

#define SETTINGS_CHILD(win, name) ms_test_gui_child ((win), MS_TYPE_ACCOUNT_WINDOW, (name))
#define DIALOG_CHILD(dlg, name) ms_test_gui_child ((dlg), MS_TYPE_TEST_DIALOG, (name))

static MsAccountWindow *
open_settings (void)
{
  GtkWindow *window = ms_window_show_account_settings (get_window ());

  g_assert_true (MS_IS_ACCOUNT_WINDOW (window));
  ms_test_gui_spin_for (50);
  return MS_ACCOUNT_WINDOW (window);
}

/* Gone without a question: the rows hold what is stored. */
static gboolean weak_is_null (gpointer data);

static void
destroy_settings (MsAccountWindow *win)
{
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  gtk_window_destroy (GTK_WINDOW (win));
  /* Gone for good before the next one opens (the main window keeps it until then). */
  ms_test_gui_wait_until (weak_is_null, &win, 5000);
}

/* ------------------------------------------------------------------ AT-SPI */

/* What a screen reader gets: the AT-SPI tree of this process's window
 * @title, read by pyatspi over the session's accessibility bus while this
 * process keeps answering. One line per showing node: role, TAB, name,
 * TAB, "focusable" or "-". */
static const char a11y_dump_py[] =
  "import sys, pyatspi\n"
  "pid, title = int(sys.argv[1]), sys.argv[2]\n"
  /* A node that goes away while it is read (a toast's parts as it leaves)
   * is no longer on screen: left out, not an error of the reader. */
  "from gi.repository import GLib\n"
  "def walk(acc, depth):\n"
  "    try: walk_node(acc, depth)\n"
  "    except GLib.Error as e:\n"
  "        if 'no longer exists' not in str(e): raise\n"
  "def walk_node(acc, depth):\n"
  "    if depth > 60: return\n"
  "    st = acc.getState()\n"
  "    if depth > 0 and not st.contains(pyatspi.STATE_VISIBLE): return\n"
  "    focusable = 'focusable' if st.contains(pyatspi.STATE_FOCUSABLE) else '-'\n"
  "    name = (acc.name or '').replace('\\t', ' ').replace('\\n', ' ')\n"
  "    print('%s\\t%s\\t%s' % (acc.getRoleName(), name, focusable))\n"
  "    for i in range(acc.childCount):\n"
  "        c = acc.getChildAtIndex(i)\n"
  "        if c is not None: walk(c, depth + 1)\n"
  "import time\n"
  "def find():\n"
  "    for a in pyatspi.Registry.getDesktop(0):\n"
  "        if a is None: continue\n"
  "        try:\n"
  "            if a.get_process_id() != pid: continue\n"
  "        except Exception: continue\n"
  "        for w in a:\n"
  "            if w is not None and w.name == title: return w\n"
  "    return None\n"
  /* The registry may only now be starting, and the app registering with it. */
  "for attempt in range(40):\n"
  "    w = find()\n"
  "    if w is not None: break\n"
  "    time.sleep(0.25)\n"
  "if w is None: sys.exit(3)\n"
  /* Only the part around a named node (a pop-over's list), when asked. */
  "def find_named(acc, name, depth):\n"
  "    if acc.name == name: return acc\n"
  "    if depth > 60: return None\n"
  "    for i in range(acc.childCount):\n"
  "        c = acc.getChildAtIndex(i)\n"
  "        f = find_named(c, name, depth + 1) if c is not None else None\n"
  "        if f is not None: return f\n"
  "    return None\n"
  "if len(sys.argv) > 3:\n"
  "    n = find_named(w, sys.argv[3], 0)\n"
  "    if n is None: sys.exit(4)\n"
  "    w = n.parent\n"
  "walk(w, 1)\n";

typedef struct {
  gboolean  done;
  char     *out;
  char     *err;
  int       status;
} Dump;

static void
dump_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Dump *dump = user_data;
  g_autoptr(GError) error = NULL;

  g_subprocess_communicate_utf8_finish (G_SUBPROCESS (source), result, &dump->out, &dump->err, &error);
  g_assert_no_error (error);
  dump->status = g_subprocess_get_if_exited (G_SUBPROCESS (source)) ?
                 g_subprocess_get_exit_status (G_SUBPROCESS (source)) : 128 + g_subprocess_get_term_sig (G_SUBPROCESS (source));
  dump->done = TRUE;
}

static gboolean
dump_finished (gpointer data)
{
  return ((Dump *) data)->done;
}

static GSubprocess *a11y_bus;

static gboolean
a11y_bus_owned (gpointer data)
{
  g_autoptr(GDBusConnection) bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, NULL);
  g_autoptr(GVariant) reply = NULL;
  gboolean owned = FALSE;

  reply = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                       "NameHasOwner", g_variant_new ("(s)", "org.a11y.Bus"),
                                       G_VARIANT_TYPE ("(b)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, NULL);
  if (reply != NULL)
    g_variant_get (reply, "(b)", &owned);
  return owned;
}

/* The accessibility bus, started before GTK asks for it: D-Bus activation
 * would hand it the test's standard output, which is TAP, and the registry
 * writes there. */
static void
start_a11y_bus (void)
{
  g_autoptr(GError) error = NULL;

  /* Nothing of it may hold the test's output open once the test is done. */
  a11y_bus = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_SILENCE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error,
                               "/usr/libexec/at-spi-bus-launcher", NULL);
  g_assert_no_error (error);
  ms_test_gui_wait_until (a11y_bus_owned, NULL, 10000);
}

static char **
a11y_dump (const char *title,
           const char *part)
{
  g_autofree char *pid = g_strdup_printf ("%d", (int) getpid ());
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  Dump dump = { 0 };
  char **lines;

  /* The tree must be up to date: let GTK lay out and tell the bus. */
  ms_test_gui_spin_for (300);
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
  /* The reader's own GLib warnings are not this test's failures. */
  g_subprocess_launcher_unsetenv (launcher, "G_DEBUG");
  process = g_subprocess_launcher_spawn (launcher, &error,
                                         "/usr/bin/python3", "-c", a11y_dump_py, pid, title, part, NULL);
  g_assert_no_error (error);
  g_subprocess_communicate_utf8_async (process, NULL, NULL, dump_done, &dump);
  ms_test_gui_wait_until (dump_finished, &dump, 60000);
  if (dump.status != 0)
    g_error ("reading the AT-SPI tree of “%s” failed (%d): %s", title, dump.status, dump.err);
  lines = g_strsplit (dump.out, "\n", -1);
  g_free (dump.out);
  g_free (dump.err);
  return lines;
}

/* A name a screen reader may read out: not empty for a control, no
 * mnemonic underline, no widget type, not the same words twice. */
static gboolean
name_is_clean (const char *role,
               const char *name,
               gboolean    control)
{
  g_auto(GStrv) words = NULL;
  guint n;

  if (control && name[0] == '\0')
    return FALSE;
  if (strchr (name, '_') != NULL && strstr (name, "__") == NULL)
    return FALSE;
  if (g_str_has_prefix (name, "Gtk") || g_str_has_prefix (name, "Adw"))
    return FALSE;
  words = g_strsplit (name, " ", -1);
  n = g_strv_length (words);
  if (n >= 2 && n % 2 == 0)
    {
      gboolean doubled = TRUE;

      for (guint i = 0; i < n / 2; i++)
        doubled = doubled && g_str_equal (words[i], words[i + n / 2]);
      if (doubled)
        return FALSE;
    }
  return TRUE;
}

static guint
check_a11y_names (const char *title,
                  const char *part)
{
  static const char *const spoken_roles[] = {
    "push button", "toggle button", "check box", "switch", "spin button", "text", "entry",
    "password text", "combo box", "page tab", "link", "menu item", "radio button", NULL
  };
  g_auto(GStrv) lines = a11y_dump (title, part);
  guint controls = 0;
  guint bad = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = g_strsplit (lines[i], "\t", 3);
      gboolean control;

      if (g_strv_length (f) != 3)
        continue;
      /* What a screen reader announces: the controls, and the images and
       * buttons among them; panels and fillers are layout it passes over. */
      /* A list item without a name of its own is left to its list (GTK 4.8
       * does not name the items of a combo row's closed pop-up). */
      control = g_str_has_prefix (f[2], "focusable") && !g_str_equal (f[0], "scroll pane") &&
                !g_str_equal (f[0], "list item");
      if (!g_strv_contains (spoken_roles, f[0]) && !g_str_has_prefix (f[0], "list"))
        continue;
      g_test_message ("%s: %s “%s”", f[2], f[0], f[1]);
      controls += control;
      if (!name_is_clean (f[0], f[1], control))
        {
          g_test_message ("  ^ not a clean name");
          bad++;
        }
    }
  g_assert_cmpuint (controls, >, 0);
  return bad;
}

/* The items of an open pop-up around the node named @part: a list item
 * named by each of @items, and every list item there (the pop-up's, the
 * row's own display of its value, the rows beside it) with a clean name;
 * returns the count of items wrong or missing. */
static guint
check_a11y_popup_items (const char         *title,
                        const char         *part,
                        const char * const *items)
{
  g_auto(GStrv) lines = a11y_dump (title, part);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint bad = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = g_strsplit (lines[i], "\t", 3);

      if (g_strv_length (f) != 3 || !g_str_equal (f[0], "list item"))
        continue;
      g_test_message ("%s: %s “%s”", f[2], f[0], f[1]);
      g_ptr_array_add (names, g_strdup (f[1]));
    }
  for (guint i = 0; items[i] != NULL; i++)
    {
      gboolean found = FALSE;

      for (guint j = 0; j < names->len; j++)
        found = found || g_str_equal (names->pdata[j], items[i]);
      if (!found)
        {
          g_test_message ("no list item named “%s”", items[i]);
          bad++;
        }
    }
  for (guint j = 0; j < names->len; j++)
    if (!name_is_clean ("list item", names->pdata[j], TRUE))
      {
        g_test_message ("list item “%s”: not a clean name", (char *) names->pdata[j]);
        bad++;
      }
  return bad;
}

/* ------------------------------------------------------------------ helpers */

typedef struct {
  GtkButton  *button;
  const char *label;
} LabelWait;

static gboolean
button_has_label (gpointer data)
{
  LabelWait *wait = data;

  return g_strcmp0 (gtk_button_get_label (wait->button), wait->label) == 0;
}

/* A button clicks at the end of its activation (a quarter second), and what
 * the click starts may take longer under a sanitizer. */
static void
wait_for_label (GtkButton  *button,
                const char *label)
{
  LabelWait wait = { button, label };

  ms_test_gui_wait_until (button_has_label, &wait, 10000);
}

static void
xdotool_done (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) user_data = TRUE;
}

static gboolean
flag_is_set (gpointer data)
{
  return *(gboolean *) data;
}

/* Real keys through the X server (XTEST), as a user types them: xdotool
 * gives the window the X focus and sends @args ("key", "Tab", "type", …). */
static void
xdotool (GtkWidget  *widget,
         const char *first,
         ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  gboolean done = FALSE;
  const char *arg;
  va_list ap;

#ifdef GDK_WINDOWING_X11
  g_ptr_array_add (argv, g_strdup ("xdotool"));
  g_ptr_array_add (argv, g_strdup ("windowfocus"));
  g_ptr_array_add (argv, g_strdup_printf ("0x%lx", (unsigned long) gdk_x11_surface_get_xid (
                                            gtk_native_get_surface (gtk_widget_get_native (widget)))));
#else
  g_assert_not_reached ();
#endif
  va_start (ap, first);
  for (arg = first; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (argv, g_strdup (arg));
  va_end (ap);
  g_ptr_array_add (argv, NULL);

  process = g_subprocess_newv ((const char * const *) argv->pdata, G_SUBPROCESS_FLAGS_NONE, &error);
  g_assert_no_error (error);
  /* GTK must keep handling events while the keys arrive. */
  g_subprocess_wait_async (process, NULL, xdotool_done, &done);
  ms_test_gui_wait_until (flag_is_set, &done, 10000);
  g_assert_true (g_subprocess_get_successful (process));
  ms_test_gui_spin_for (250);
}

static void
press (GtkWidget  *widget,
       const char *keys)
{
  xdotool (widget, "key", "--clearmodifiers", keys, NULL);
}

static void
type (GtkWidget  *widget,
      const char *text)
{
  xdotool (widget, "type", "--delay", "15", text, NULL);
}

static GtkWidget *
focus_of (gpointer window)
{
  return gtk_root_get_focus (GTK_ROOT (window));
}

static gboolean
focus_in (gpointer   window,
          GtkWidget *row)
{
  GtkWidget *focus = focus_of (window);

  return focus != NULL && (focus == row || gtk_widget_is_ancestor (focus, row));
}

/* The first mapped widget below @root for which @match says yes. */
static GtkWidget *
find_mapped (GtkWidget *root,
             gboolean (*match) (GtkWidget *widget, gconstpointer data),
             gconstpointer data)
{
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found;

      if (!gtk_widget_get_mapped (c))
        continue;
      if (match (c, data))
        return c;
      if ((found = find_mapped (c, match, data)) != NULL)
        return found;
    }
  return NULL;
}

/* The same, mapped or not. */
static GtkWidget *
find_any (GtkWidget *root,
          gboolean (*match) (GtkWidget *widget, gconstpointer data),
          gconstpointer data)
{
  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found;

      if (match (c, data))
        return c;
      if ((found = find_any (c, match, data)) != NULL)
        return found;
    }
  return NULL;
}

static gboolean
is_icon (GtkWidget     *widget,
         gconstpointer  icon_name)
{
  return GTK_IS_IMAGE (widget) && g_strcmp0 (gtk_image_get_icon_name (GTK_IMAGE (widget)), icon_name) == 0;
}

static gboolean
is_label_with (GtkWidget     *widget,
               gconstpointer  text)
{
  return GTK_IS_LABEL (widget) && g_strcmp0 (gtk_label_get_text (GTK_LABEL (widget)), text) == 0;
}

static gboolean
is_popover (GtkWidget     *widget,
            gconstpointer  data)
{
  return GTK_IS_POPOVER (widget);
}

static gboolean
is_search_entry (GtkWidget     *widget,
                 gconstpointer  data)
{
  return GTK_IS_SEARCH_ENTRY (widget);
}

/* The visible message dialog above @parent, or NULL. */
static AdwMessageDialog *
find_message_dialog (gpointer parent)
{
  AdwMessageDialog *found = NULL;

  for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
    if (ADW_IS_MESSAGE_DIALOG (l->data) && gtk_widget_get_visible (l->data) &&
        gtk_window_get_transient_for (l->data) == parent)
      found = l->data;
  return found;
}

/* As a click on a response button: the response, then the dialog goes. */
static void
choose (AdwMessageDialog *dialog,
        const char       *response)
{
  adw_message_dialog_response (dialog, response);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ms_test_gui_spin_for (100);
}

static char *
settings_string (const char *key)
{
  return g_settings_get_string (get_settings (), key);
}

static gboolean
weak_is_null (gpointer data)
{
  return *(gpointer *) data == NULL;
}

/* ------------------------------------------------------------------ saving */

/* A text row saves when the focus leaves it and on Enter, then says so;
 * the ✓ apply button no longer stays on a saved row. */
static void
test_save_on_leave_and_enter (void)
{
  MsAccountWindow *win;
  GtkWidget *email, *sender, *server;
  g_autofree char *stored = NULL;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();
  email = ms_account_window_get_row (win, "email-address");
  sender = ms_account_window_get_row (win, "sender-name");
  server = ms_account_window_get_row (win, "smtp-server");

  gtk_widget_grab_focus (email);
  type (GTK_WIDGET (win), "news@example.org");
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (email)), ==, "news@example.org");
  stored = settings_string ("email-address");
  g_assert_cmpstr (stored, ==, "");
  /* Typed but not saved looks different from saved. */
  g_assert_null (find_mapped (email, is_icon, "emblem-ok-symbolic"));
  g_assert_nonnull (find_mapped (email, is_icon, "document-edit-symbolic"));

  /* Tab: saved, and the keyboard is on the next field, not on a button. */
  press (GTK_WIDGET (win), "Tab");
  g_free (stored);
  stored = settings_string ("email-address");
  g_assert_cmpstr (stored, ==, "news@example.org");
  g_assert_true (focus_in (win, sender));
  g_assert_nonnull (find_mapped (email, is_icon, "emblem-ok-symbolic"));
  g_assert_null (find_mapped (email, is_icon, "object-select-symbolic"));

  /* Enter saves and stays. */
  gtk_widget_grab_focus (server);
  type (GTK_WIDGET (win), "smtp.example.net");
  g_assert_null (find_mapped (server, is_icon, "emblem-ok-symbolic"));
  press (GTK_WIDGET (win), "Return");
  g_free (stored);
  stored = settings_string ("smtp-server");
  g_assert_cmpstr (stored, ==, "smtp.example.net");
  g_assert_true (focus_in (win, server));
  g_assert_nonnull (find_mapped (server, is_icon, "emblem-ok-symbolic"));
  g_assert_null (find_mapped (server, is_icon, "object-select-symbolic"));

  /* Typing again: no longer marked as saved. */
  type (GTK_WIDGET (win), "x");
  g_assert_null (find_mapped (server, is_icon, "emblem-ok-symbolic"));

  destroy_settings (win);
  ms_test_gui_reset_account (get_account ());
}

static gboolean
is_list_row (GtkWidget *widget)
{
  return GTK_IS_LIST_BOX_ROW (widget);
}

/* A refused value is explained on the row, in full, right below the field. */
static void
test_refused_in_full (void)
{
  MsAccountWindow *win;
  GtkWidget *server, *label, *message;
  g_autoptr(GError) error = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *stored = NULL;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();
  server = ms_account_window_get_row (win, "smtp-server");
  g_assert_false (ms_account_check_value ("smtp-server", "bad host name!", NULL, &error));
  g_assert_true (g_str_has_prefix (error->message, "smtp-server: "));
  reason = g_strdup_printf ("%s: %s", ms_account_get_key_label ("smtp-server"), error->message + strlen ("smtp-server: "));

  gtk_widget_grab_focus (server);
  type (GTK_WIDGET (win), "bad host name!");
  press (GTK_WIDGET (win), "Tab");
  stored = settings_string ("smtp-server");
  g_assert_cmpstr (stored, ==, "");
  g_assert_true (gtk_widget_has_css_class (server, "error"));

  g_test_message ("reason: %s", reason);
  label = find_mapped (GTK_WIDGET (win), is_label_with, reason);
  g_assert_nonnull (label);
  g_assert_false (pango_layout_is_ellipsized (gtk_label_get_layout (GTK_LABEL (label))));
  /* On the row right below the field, in the same list. */
  message = gtk_widget_get_ancestor (label, GTK_TYPE_LIST_BOX_ROW);
  g_assert_true (is_list_row (message));
  g_assert_true (gtk_widget_get_parent (message) == gtk_widget_get_parent (server));
  g_assert_cmpint (gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (message)), ==,
                   gtk_list_box_row_get_index (GTK_LIST_BOX_ROW (server)) + 1);
  g_assert_nonnull (find_mapped (server, is_icon, "dialog-error-symbolic"));

  /* Fixed: the explanation goes, and leaving saves. */
  gtk_editable_set_text (GTK_EDITABLE (server), "smtp.example.net");
  g_assert_false (gtk_widget_get_mapped (message));
  g_assert_false (gtk_widget_has_css_class (server, "error"));

  destroy_settings (win);
  ms_test_gui_reset_account (get_account ());
}

/* Closing with a refused value asks; a value typed but not saved yet is
 * saved, as leaving the field would. */
static void
test_close_asks (void)
{
  MsAccountWindow *win;
  AdwMessageDialog *dialog;
  GtkWidget *server;
  g_autofree char *stored = NULL;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  server = ms_account_window_get_row (win, "smtp-server");
  /* One value refused (left with Tab), one valid and not saved yet. */
  gtk_widget_grab_focus (server);
  type (GTK_WIDGET (win), "bad host name!");
  press (GTK_WIDGET (win), "Tab");
  gtk_widget_grab_focus (ms_account_window_get_row (win, "sender-name"));
  type (GTK_WIDGET (win), "The Committee");
  g_free (stored);
  stored = settings_string ("sender-name");
  g_assert_cmpstr (stored, ==, "");

  press (GTK_WIDGET (win), "ctrl+w");
  g_assert_nonnull (win);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (win)));
  dialog = find_message_dialog (win);
  g_assert_nonnull (dialog);
  g_test_message ("%s: %s", adw_message_dialog_get_heading (dialog), adw_message_dialog_get_body (dialog));
  g_assert_nonnull (strstr (adw_message_dialog_get_body (dialog), ms_account_get_key_label ("smtp-server")));
  /* The question is about the refused value only; the valid one is saved. */
  g_assert_null (strstr (adw_message_dialog_get_body (dialog), ms_account_get_key_label ("sender-name")));
  g_assert_cmpstr (adw_message_dialog_get_heading (dialog), ==, "A Value Was Not Saved");
  g_free (stored);
  stored = settings_string ("sender-name");
  g_assert_cmpstr (stored, ==, "The Committee");
  g_assert_true (adw_message_dialog_has_response (dialog, "keep"));
  g_assert_true (adw_message_dialog_has_response (dialog, "discard"));

  /* Keep editing: back at the field, with what was typed. */
  choose (dialog, "keep");
  g_assert_nonnull (win);
  g_assert_null (find_message_dialog (win));
  g_assert_cmpstr (gtk_editable_get_text (GTK_EDITABLE (server)), ==, "bad host name!");
  g_assert_true (focus_in (win, server));

  /* Discard: closed, nothing stored. */
  gtk_window_close (GTK_WINDOW (win));
  dialog = find_message_dialog (win);
  g_assert_nonnull (dialog);
  choose (dialog, "discard");
  ms_test_gui_wait_until (weak_is_null, &win, 5000);
  g_free (stored);
  stored = settings_string ("smtp-server");
  g_assert_cmpstr (stored, ==, "");

  /* Refused, then put right in the field: closing saves it, no question. */
  win = open_settings ();
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  server = ms_account_window_get_row (win, "smtp-server");
  gtk_widget_grab_focus (server);
  type (GTK_WIDGET (win), "bad host name!");
  press (GTK_WIDGET (win), "Return");
  g_assert_true (gtk_widget_has_css_class (server, "error"));
  press (GTK_WIDGET (win), "ctrl+a");
  type (GTK_WIDGET (win), "smtp.example.net");
  press (GTK_WIDGET (win), "ctrl+w");
  g_assert_null (win != NULL ? find_message_dialog (win) : NULL);
  ms_test_gui_wait_until (weak_is_null, &win, 5000);
  g_free (stored);
  stored = settings_string ("smtp-server");
  g_assert_cmpstr (stored, ==, "smtp.example.net");

  /* Valid, not saved yet: saved on close, without a question. */
  win = open_settings ();
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  gtk_widget_grab_focus (ms_account_window_get_row (win, "user-id"));
  type (GTK_WIDGET (win), "typed-then-closed");
  press (GTK_WIDGET (win), "ctrl+w");
  ms_test_gui_wait_until (weak_is_null, &win, 5000);
  g_free (stored);
  stored = settings_string ("user-id");
  g_assert_cmpstr (stored, ==, "typed-then-closed");
  ms_test_gui_reset_account (get_account ());
}

/* ---------------------------------------------------------------- keyboard */

/* Typing where no field has the focus does not open a search. */
static void
test_no_search_trap (void)
{
  MsAccountWindow *win;
  g_autofree char *server = NULL;

  ms_test_gui_reset_account (get_account ());
  win = open_settings ();
  gtk_widget_grab_focus (SETTINGS_CHILD (win, "smtps_switch"));
  type (GTK_WIDGET (win), "smtp");
  g_assert_null (find_mapped (GTK_WIDGET (win), is_search_entry, NULL));
  server = settings_string ("smtp-server");
  g_assert_cmpstr (server, ==, "");
  destroy_settings (win);
  ms_test_gui_reset_account (get_account ());
}

/* A number or switch row is one Tab stop: its number or its switch. */
static void
test_one_tab_stop (void)
{
  MsAccountWindow *win;
  g_autoptr(GPtrArray) stops = g_ptr_array_new ();
  static const char *const direct[] = {
    "smtp-port", "timeout", "use-smtps", "needs-authentication", "allow-plaintext-password",
    "max-per-minute", "max-per-hour", "max-per-day", "max-connections",
  };

  ms_test_gui_reset_account (get_account ());
  g_settings_set_boolean (get_settings (), "needs-authentication", TRUE);
  win = open_settings ();
  gtk_widget_grab_focus (ms_account_window_get_row (win, "email-address"));
  /* What the Tab key runs, once per stop, round the whole window. */
  for (guint i = 0; i < 120; i++)
    {
      g_signal_emit_by_name (win, "move-focus", GTK_DIR_TAB_FORWARD);
      g_ptr_array_add (stops, focus_of (win));
    }

  for (guint k = 0; k < G_N_ELEMENTS (direct); k++)
    {
      GtkWidget *row = ms_account_window_get_row (win, direct[k]);
      g_autoptr(GHashTable) seen = g_hash_table_new (NULL, NULL);

      for (guint i = 0; i < stops->len; i++)
        {
          GtkWidget *focus = g_ptr_array_index (stops, i);

          /* A button beside the number (Common Ports) is a control of its own. */
          if (focus != NULL && (focus == row || gtk_widget_is_ancestor (focus, row)) &&
              gtk_widget_get_ancestor (focus, GTK_TYPE_MENU_BUTTON) == NULL)
            g_hash_table_add (seen, focus);
        }
      g_test_message ("%s: %u stops", direct[k], g_hash_table_size (seen));
      g_assert_cmpuint (g_hash_table_size (seen), ==, 1);
      g_assert_false (g_hash_table_contains (seen, row));
    }
  destroy_settings (win);
  ms_test_gui_reset_account (get_account ());
}

static gboolean
main_window_gone (gpointer data)
{
  for (GList *l = gtk_application_get_windows (GTK_APPLICATION (app)); l != NULL; l = l->next)
    if (MS_IS_WINDOW (l->data))
      return FALSE;
  return TRUE;
}

static gboolean
dialog_finished (gpointer data)
{
  MsTestDialog *dialog = ms_window_get_test_dialog (data);

  return dialog != NULL && !ms_test_dialog_get_running (dialog);
}

static MsTestDialog *
run_test_dialog (void)
{
  MsWindow *window = get_window ();

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.send-test", NULL));
  g_assert_nonnull (ms_window_get_test_dialog (window));
  ms_test_gui_wait_until (dialog_finished, window, 30000);
  ms_test_gui_spin_for (100);
  return ms_window_get_test_dialog (window);
}

/* Ctrl+W closes Account Settings and the Test dialog, Ctrl+Q quits from
 * either, as the shortcuts window says. */
static void
test_shortcuts (void)
{
  MsAccountWindow *win;
  MsTestDialog *dialog;

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", 9);
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);

  win = open_settings ();
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  press (GTK_WIDGET (win), "ctrl+w");
  ms_test_gui_wait_until (weak_is_null, &win, 5000);

  dialog = run_test_dialog ();
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  press (GTK_WIDGET (dialog), "ctrl+w");
  ms_test_gui_wait_until (weak_is_null, &dialog, 5000);

  win = open_settings ();
  g_object_add_weak_pointer (G_OBJECT (win), (gpointer *) &win);
  press (GTK_WIDGET (win), "ctrl+q");
  ms_test_gui_wait_until (weak_is_null, &win, 5000);
  ms_test_gui_wait_until (main_window_gone, NULL, 5000);

  dialog = run_test_dialog ();
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &dialog);
  press (GTK_WIDGET (dialog), "ctrl+q");
  ms_test_gui_wait_until (weak_is_null, &dialog, 5000);
  ms_test_gui_wait_until (main_window_gone, NULL, 5000);

  /* The shortcuts window lists both. */
  {
    g_auto(GStrv) close_accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "window.close");
    g_auto(GStrv) quit_accels = gtk_application_get_accels_for_action (GTK_APPLICATION (app), "app.quit");

    g_assert_cmpstr (close_accels[0], ==, "<Control>w");
    g_assert_cmpstr (quit_accels[0], ==, "<Control>q");
  }
  ms_test_gui_reset_account (get_account ());
}

/* The summary rows open the settings at their field. */
static void
test_summary_rows (void)
{
  MsWindow *window;
  static const struct {
    const char *row;
    const char *key;
  } rows[] = {
    { "server_row",   "smtp-server" },
    { "security_row", "use-smtps" },
    { "auth_row",     "user-id" },
    { "limits_row",   "max-per-minute" },
  };

  ms_test_gui_reset_account (get_account ());
  configure_account ("smtp.example.org", 587);
  g_settings_set_boolean (get_settings (), "needs-authentication", TRUE);
  window = get_window ();
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      GtkWidget *row = ms_test_gui_child (window, MS_TYPE_WINDOW, rows[i].row);
      MsAccountWindow *win;

      g_test_message ("%s", rows[i].row);
      if (!gtk_widget_get_focusable (row))
        continue;
      /* Focusable, so it must do something: Enter or a click activates it. */
      g_assert_true (gtk_list_box_row_get_activatable (GTK_LIST_BOX_ROW (row)));
      gtk_widget_activate (row);
      ms_test_gui_spin_for (100);
      win = NULL;
      for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
        if (MS_IS_ACCOUNT_WINDOW (l->data) && gtk_widget_get_visible (l->data))
          win = l->data;
      g_assert_nonnull (win);
      g_assert_true (focus_in (win, ms_account_window_get_row (win, rows[i].key)));
      destroy_settings (win);
    }
  ms_test_gui_reset_account (get_account ());
}

/* ---------------------------------------------------------- provider hints */

typedef struct {
  GtkWidget *row;
  const char *text;
  gboolean    warning;
} Note;

static gboolean
has_warning_icon (GtkWidget     *widget,
                  gconstpointer  data)
{
  return GTK_IS_IMAGE (widget) && gtk_widget_has_css_class (widget, "warning");
}

/* The rows inside the group's one expander, in order. */
static GArray *
collect_notes (GtkWidget *group)
{
  GArray *notes = g_array_new (FALSE, TRUE, sizeof (Note));
  GtkWidget *expander = NULL;
  guint expanders = 0;

  for (GtkWidget *w = gtk_widget_get_first_child (group); w != NULL; )
    {
      if (ADW_IS_EXPANDER_ROW (w))
        {
          expander = w;
          expanders++;
        }
      else if (expander != NULL && ADW_IS_ACTION_ROW (w) && gtk_widget_is_ancestor (w, expander) &&
               gtk_widget_get_visible (w) && gtk_widget_get_ancestor (w, GTK_TYPE_REVEALER) != NULL)
        {
          Note note = { w, adw_preferences_row_get_title (ADW_PREFERENCES_ROW (w)), FALSE };

          note.warning = find_any (w, has_warning_icon, NULL) != NULL;
          g_array_append_val (notes, note);
        }
      if (gtk_widget_get_first_child (w) != NULL)
        w = gtk_widget_get_first_child (w);
      else
        {
          while (w != group && gtk_widget_get_next_sibling (w) == NULL)
            w = gtk_widget_get_parent (w);
          w = w == group ? NULL : gtk_widget_get_next_sibling (w);
        }
    }
  g_assert_cmpuint (expanders, ==, 1);
  return notes;
}

static guint
notes_mentioning (GArray     *notes,
                  const char *text)
{
  guint n = 0;

  for (guint i = 0; i < notes->len; i++)
    n += strstr (g_array_index (notes, Note, i).text, text) != NULL;
  return n;
}

/* One collapsible group; warnings look like warnings and nothing else does;
 * each fact once, numbers as the locale writes them; the general advice;
 * NTLM where it matters. */
static void
test_provider_hints (void)
{
  MsAccountWindow *win;
  GtkWidget *group;
  g_autoptr(GArray) notes = NULL;
  g_autofree char *ten_thousand = g_strdup_printf ("%'u", 10000u);
  g_autofree char *two_thousand = g_strdup_printf ("%'u", 2000u);

  ms_test_gui_reset_account (get_account ());
  configure_account ("smtp.office365.com", 587);
  g_settings_set_boolean (get_settings (), "needs-authentication", TRUE);
  win = open_settings ();
  group = SETTINGS_CHILD (win, "provider_group");
  g_assert_true (gtk_widget_get_visible (group));
  ms_test_gui_spin_for (200);
  notes = collect_notes (group);
  g_assert_cmpuint (notes->len, >=, 4);
  for (guint i = 0; i < notes->len; i++)
    {
      Note *note = &g_array_index (notes, Note, i);
      gboolean asks = g_str_has_prefix (note->text, "Set “") || strstr (note->text, "do not fit") != NULL;

      g_test_message ("%s %s", note->warning ? "WARNING" : "note", note->text);
      g_assert_true (note->warning == asks);
    }
  /* The general advice, with the reason in numbers. */
  g_assert_cmpuint (notes_mentioning (notes, "poor choices for bulk mail"), ==, 1);
  g_assert_cmpuint (notes_mentioning (notes, "Gmail"), >=, 1);
  /* Each fact once: Microsoft 365's daily cap, its per-minute cap. */
  g_assert_cmpuint (notes_mentioning (notes, ten_thousand), ==, 1);
  g_assert_cmpuint (notes_mentioning (notes, "30 messages a minute"), ==, 1);
  g_assert_cmpuint (notes_mentioning (notes, two_thousand), ==, 1);
  if (!g_str_equal (ten_thousand, "10,000"))
    g_assert_cmpuint (notes_mentioning (notes, "10,000"), ==, 0);
  /* The unlimited settings are named, without repeating the numbers. */
  g_assert_cmpuint (notes_mentioning (notes, "“Messages per minute”"), ==, 1);
  /* The confirmation of a fitting port is plain. */
  g_assert_cmpuint (notes_mentioning (notes, "which is what these settings use"), ==, 1);
  /* Microsoft: NTLM is not supported, said where it matters. */
  g_assert_cmpuint (notes_mentioning (notes, "NTLM"), ==, 1);
  g_assert_cmpuint (notes_mentioning (notes, "SMTP AUTH"), ==, 1);
  g_clear_pointer (&notes, g_array_unref);

  /* Signing in with OAuth2: nothing about SMTP AUTH with a password. */
  g_settings_set_enum (get_settings (), "auth-method", MS_AUTH_METHOD_OAUTH2);
  notes = collect_notes (group);
  g_assert_cmpuint (notes_mentioning (notes, "SMTP AUTH"), ==, 0);
  g_assert_cmpuint (notes_mentioning (notes, "NTLM"), ==, 0);
  g_assert_cmpuint (notes_mentioning (notes, "signing in with OAuth2 needs it too"), ==, 1);
  g_assert_cmpuint (notes_mentioning (notes, "poor choices for bulk mail"), ==, 1);
  g_clear_pointer (&notes, g_array_unref);
  g_settings_set_enum (get_settings (), "auth-method", MS_AUTH_METHOD_AUTOMATIC);

  /* Gmail: no NTLM note; a mismatched port is a warning. */
  g_settings_set_string (get_settings (), "smtp-server", "smtp.gmail.com");
  g_settings_set_int (get_settings (), "smtp-port", 25);
  notes = collect_notes (group);
  g_assert_cmpuint (notes_mentioning (notes, "NTLM"), ==, 0);
  g_assert_cmpuint (notes_mentioning (notes, "do not fit Gmail"), ==, 1);
  for (guint i = 0; i < notes->len; i++)
    if (strstr (g_array_index (notes, Note, i).text, "do not fit Gmail") != NULL)
      g_assert_true (g_array_index (notes, Note, i).warning);
  g_clear_pointer (&notes, g_array_unref);

  /* An Exchange server of one's own: the NTLM note alone. */
  g_settings_set_string (get_settings (), "smtp-server", "exchange.example.org");
  g_assert_true (gtk_widget_get_visible (group));
  notes = collect_notes (group);
  g_assert_cmpuint (notes->len, ==, 1);
  g_assert_cmpuint (notes_mentioning (notes, "NTLM"), ==, 1);
  g_clear_pointer (&notes, g_array_unref);

  /* Another server: no group, but picking a method says it. */
  g_settings_set_string (get_settings (), "smtp-server", "mail.example.org");
  g_assert_false (gtk_widget_get_visible (group));
  g_assert_null (strstr (adw_action_row_get_subtitle (SETTINGS_CHILD (win, "auth_method_row")), "NTLM"));
  g_settings_set_enum (get_settings (), "auth-method", MS_AUTH_METHOD_PLAIN);
  g_assert_nonnull (strstr (adw_action_row_get_subtitle (SETTINGS_CHILD (win, "auth_method_row")), "NTLM"));

  destroy_settings (win);
  ms_test_gui_reset_account (get_account ());
}

/* ------------------------------------------------- an untrusted certificate */

static void
test_certificate_exception (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN", "--user=u",
                                                         "--password=right-password", NULL);
  MsTestDialog *dialog;
  AdwMessageDialog *question;
  MsAccountWindow *win = NULL;
  GtkWidget *fingerprint_row;
  g_autofree char *trusted = NULL;

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", "right-password", NULL, NULL));

  dialog = run_test_dialog ();
  g_test_message ("outcome: %s", ms_test_dialog_get_outcome (dialog));
  g_assert_cmpint (ms_probe_get_failed_step (ms_test_dialog_get_probe (dialog)), ==, MS_PROBE_STEP_TLS);

  /* The fingerprint the server presented, to compare, selectable. */
  g_assert_true (gtk_widget_get_mapped (DIALOG_CHILD (dialog, "certificate_group")));
  fingerprint_row = DIALOG_CHILD (dialog, "fingerprint_row");
  g_assert_cmpint (g_ascii_strcasecmp (adw_preferences_row_get_title (ADW_PREFERENCES_ROW (fingerprint_row)),
                                       ms_test_server_get_cert_fingerprint (server)), ==, 0);
  g_assert_true (adw_preferences_row_get_title_selectable (ADW_PREFERENCES_ROW (fingerprint_row)));

  /* “Open Account Settings” lands on the row the advice names first
   * (check the server's name; trusting is the button here). */
  g_assert_true (g_str_has_prefix (strstr (adw_preferences_row_get_title (DIALOG_CHILD (dialog, "advice_row")), "“"),
                                   "“SMTP server”"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.open-settings", NULL));
  ms_test_gui_spin_for (100);
  for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
    if (MS_IS_ACCOUNT_WINDOW (l->data) && gtk_widget_get_visible (l->data))
      win = l->data;
  g_assert_nonnull (win);
  g_assert_true (focus_in (win, ms_account_window_get_row (win, "smtp-server")));
  destroy_settings (win);

  /* Trusting asks first; Cancel stores nothing. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.trust-certificate", NULL));
  question = find_message_dialog (dialog);
  g_assert_nonnull (question);
  g_assert_nonnull (strstr (adw_message_dialog_get_body (question), ms_probe_get_peer_fingerprint (ms_test_dialog_get_probe (dialog))));
  choose (question, "cancel");
  trusted = settings_string ("trusted-certificate");
  g_assert_cmpstr (trusted, ==, "");

  /* Trust: stored, and the test runs again, through. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.trust-certificate", NULL));
  question = find_message_dialog (dialog);
  g_assert_nonnull (question);
  adw_message_dialog_response (question, "trust");
  gtk_window_destroy (GTK_WINDOW (question));
  g_assert_true (ms_test_dialog_get_running (dialog));
  ms_test_gui_wait_until (dialog_finished, get_window (), 30000);
  g_free (trusted);
  trusted = settings_string ("trusted-certificate");
  g_assert_cmpint (g_ascii_strcasecmp (trusted, ms_test_server_get_cert_fingerprint (server)), ==, 0);
  g_assert_cmpstr (ms_test_dialog_get_outcome (dialog), ==, "The test e-mail was sent");
  g_assert_false (gtk_widget_get_visible (DIALOG_CHILD (dialog, "certificate_group")));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);

  gtk_window_destroy (GTK_WINDOW (dialog));
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);
  ms_test_gui_reset_account (get_account ());
}

/* A wrong password: the advice names “User ID” first, and the settings open there. */
static void
test_open_settings_at_advice (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN", "--user=u",
                                                         "--password=right-password", NULL);
  MsTestDialog *dialog;
  MsAccountWindow *win = NULL;

  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "trusted-certificate",
                                             ms_test_server_get_cert_fingerprint (server), NULL));
  g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", "wrong-password", NULL, NULL));
  dialog = run_test_dialog ();
  g_assert_cmpint (ms_probe_get_failed_step (ms_test_dialog_get_probe (dialog)), ==, MS_PROBE_STEP_AUTH);
  g_assert_false (gtk_widget_get_visible (DIALOG_CHILD (dialog, "certificate_group")));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (dialog), "test.open-settings", NULL));
  ms_test_gui_spin_for (100);
  for (GList *l = gtk_window_list_toplevels (); l != NULL; l = g_list_delete_link (l, l))
    if (MS_IS_ACCOUNT_WINDOW (l->data) && gtk_widget_get_visible (l->data))
      win = l->data;
  g_assert_nonnull (win);
  g_assert_true (focus_in (win, ms_account_window_get_row (win, "user-id")));
  destroy_settings (win);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);
  ms_test_gui_reset_account (get_account ());
}

/* -------------------------------------------------------- narrow and long */

static gboolean
is_ellipsized_label (GtkWidget     *widget,
                     gconstpointer  data)
{
  return GTK_IS_LABEL (widget) && gtk_label_get_ellipsize (GTK_LABEL (widget)) != PANGO_ELLIPSIZE_NONE &&
         pango_layout_is_ellipsized (gtk_label_get_layout (GTK_LABEL (widget)));
}

/* When the window is too wide, say which widgets make it so: the deepest
 * ones wider than @limit, with their type and text. */
static void
report_wide (GtkWidget *widget,
             int        limit)
{
  gboolean child_wide = FALSE;

  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      int min = 0;

      gtk_widget_measure (c, GTK_ORIENTATION_HORIZONTAL, -1, &min, NULL, NULL, NULL);
      if (min > limit)
        {
          child_wide = TRUE;
          report_wide (c, limit);
        }
    }
  if (!child_wide)
    {
      int min = 0;

      gtk_widget_measure (widget, GTK_ORIENTATION_HORIZONTAL, -1, &min, NULL, NULL, NULL);
      g_test_message ("too wide: %s %s (%d px)%s%s", G_OBJECT_TYPE_NAME (widget),
                      gtk_widget_get_name (widget), min, GTK_IS_LABEL (widget) ? ": " : "",
                      GTK_IS_LABEL (widget) ? gtk_label_get_text (GTK_LABEL (widget)) : "");
      for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
        {
          GtkWidget *leaf = c;

          gtk_widget_measure (c, GTK_ORIENTATION_HORIZONTAL, -1, &min, NULL, NULL, NULL);
          while (gtk_widget_get_first_child (leaf) != NULL && !GTK_IS_LABEL (leaf))
            leaf = gtk_widget_get_first_child (leaf);
          g_test_message ("  part: %s (%d px)%s%s", G_OBJECT_TYPE_NAME (c), min, GTK_IS_LABEL (leaf) ? ": " : "",
                          GTK_IS_LABEL (leaf) ? gtk_label_get_text (GTK_LABEL (leaf)) : "");
        }
    }
}

/* OAuth2 with a provider of its own, whose endpoints nobody answers: the
 * rows are what is looked at. */
static void
use_custom_oauth2 (void)
{
  g_settings_set_enum (get_settings (), "auth-method", MS_AUTH_METHOD_OAUTH2);
  g_settings_set_enum (get_settings (), "oauth2-provider", MS_OAUTH2_PROVIDER_CUSTOM);
  g_assert_true (ms_account_set_from_string (get_account (), "oauth2-client-id", "test-client", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "oauth2-auth-endpoint",
                                             "https://127.0.0.1:9/authorize", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "oauth2-token-endpoint",
                                             "https://127.0.0.1:9/token", NULL));
}

/* A new default size is taken at the next layout, which a loaded machine
 * may not reach in a fixed time. */
static gboolean
is_narrow (gpointer data)
{
  return gtk_widget_get_width (GTK_WIDGET (data)) > 0 && gtk_widget_get_width (GTK_WIDGET (data)) <= 360;
}

/* The main window goes down to 360 px, and at that width the settings'
 * field titles are whole, in whatever language runs (and in German, run
 * again in a child process). */
static void
test_narrow (void)
{
  MsWindow *window;
  MsAccountWindow *win;
  int min_width;

  ms_test_gui_reset_account (get_account ());
  configure_account ("smtp.office365.com", 587);
  g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "smtp.office365.com", "u", "app-password", NULL, NULL));
  window = get_window ();
  gtk_window_set_default_size (GTK_WINDOW (window), 360, 640);
  ms_test_gui_spin_for (300);
  gtk_widget_measure (GTK_WIDGET (window), GTK_ORIENTATION_HORIZONTAL, -1, &min_width, NULL, NULL, NULL);
  g_test_message ("main window: at least %d px, now %d px", min_width, gtk_widget_get_width (GTK_WIDGET (window)));
  if (min_width > 360)
    report_wide (GTK_WIDGET (window), 360 - 24);
  g_assert_cmpint (min_width, <=, 360);
  ms_test_gui_wait_until (is_narrow, window, 10000);

  win = open_settings ();
  gtk_window_set_default_size (GTK_WINDOW (win), 360, 640);
  ms_test_gui_wait_until (is_narrow, win, 10000);
  for (guint i = 0; i < 7; i++)
    {
      const char *key = (const char *[]) { "email-address", "sender-name", "smtp-server", "user-id", "password",
                                           "ehlo-host", "trusted-certificate" }[i];
      GtkWidget *row = ms_account_window_get_row (win, key);

      gtk_widget_grab_focus (row);
      ms_test_gui_spin_for (100);
      g_test_message ("%s: %s", key, adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
      g_assert_null (find_mapped (row, is_ellipsized_label, NULL));
    }
  destroy_settings (win);

  /* Signing in with OAuth2: its rows, and the Sign In row while it waits
   * with the whole address to open on it (no browser here). */
  use_custom_oauth2 ();
  win = open_settings ();
  gtk_window_set_default_size (GTK_WINDOW (win), 360, 640);
  gtk_widget_activate (SETTINGS_CHILD (win, "oauth2_sign_in_button"));
  wait_for_label (SETTINGS_CHILD (win, "oauth2_sign_in_button"), _("_Cancel"));
  g_test_message ("settings with OAuth2: %d px", gtk_widget_get_width (GTK_WIDGET (win)));
  g_assert_cmpint (gtk_widget_get_width (GTK_WIDGET (win)), <=, 360);
  for (guint i = 0; i < 4; i++)
    {
      const char *key = (const char *[]) { "oauth2-client-id", "oauth2-auth-endpoint", "oauth2-token-endpoint",
                                           "oauth2-sign-in" }[i];
      GtkWidget *row = ms_account_window_get_row (win, key);

      g_test_message ("%s: %s", key, adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)));
      g_assert_null (find_mapped (row, is_ellipsized_label, NULL));
    }
  gtk_widget_activate (SETTINGS_CHILD (win, "oauth2_sign_in_button"));
  wait_for_label (SETTINGS_CHILD (win, "oauth2_sign_in_button"), _("_Sign In"));
  destroy_settings (win);
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "smtp.office365.com", "u", NULL, NULL);
  ms_test_gui_reset_account (get_account ());
}

static void
test_narrow_german (void)
{
  g_autofree char *localedir = NULL;
  g_autofree char *mo = NULL;
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) process = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *self = NULL;
  g_autofree char *log = NULL;
  gboolean done = FALSE;

  if (g_getenv ("MS_TEST_LOCALEDIR") != NULL)
    {
      g_test_skip ("already in another language");
      return;
    }
  localedir = g_build_filename (g_getenv ("MS_TEST_BUILDDIR"), "..", "po", NULL);
  mo = g_build_filename (localedir, "de", "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
  if (!g_file_test (mo, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("no German catalogue in the build");
      return;
    }
  self = g_file_read_link ("/proc/self/exe", NULL);
  log = ms_test_tmp_path ("narrow-german.log");
  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_subprocess_launcher_set_stdout_file_path (launcher, log);
  g_subprocess_launcher_set_stderr_file_path (launcher, log);
  g_subprocess_launcher_setenv (launcher, "LANGUAGE", "de", TRUE);
  g_subprocess_launcher_setenv (launcher, "MS_TEST_LOCALEDIR", localedir, TRUE);
  process = g_subprocess_launcher_spawn (launcher, &error, self, "-p", "/mailshot/gui-account/narrow", NULL);
  g_assert_no_error (error);
  g_subprocess_wait_async (process, NULL, xdotool_done, &done);
  ms_test_gui_wait_until (flag_is_set, &done, 120000);
  if (!g_subprocess_get_successful (process))
    {
      g_autofree char *output = NULL;

      g_file_get_contents (log, &output, NULL, NULL);
      g_test_message ("German run:\n%s", output);
    }
  g_assert_true (g_subprocess_get_successful (process));
}

/* -------------------------------------------------------------- screen reader */

static void
test_a11y_names (void)
{
  MsAccountWindow *win;
  MsTestDialog *dialog;
  g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN", "--user=u",
                                                         "--password=right-password", NULL);

  ms_test_gui_reset_account (get_account ());
  configure_account ("smtp.office365.com", 587);
  g_settings_set_int64 (get_settings (), "rate-limited-until", 1900000000);
  g_settings_set_boolean (get_settings (), "starttls-seen", TRUE);
  win = open_settings ();
  g_assert_cmpuint (check_a11y_names ("Account Settings", NULL), ==, 0);

  /* The authentication method's pop-up, open: each item by its text. */
  {
    static const char * const items[] = {
      "Automatic", "CRAM-MD5", "PLAIN", "LOGIN", "OAuth2 (sign in on the provider’s web page)", NULL
    };
    GtkWidget *row = ms_account_window_get_row (win, "auth-method");
    GLogLevelFlags always_fatal;

    g_settings_set_boolean (get_settings (), "needs-authentication", TRUE);
    adw_expander_row_set_expanded (SETTINGS_CHILD (win, "provider_expander"), FALSE);
    gtk_widget_grab_focus (row);
    ms_test_gui_spin_for (300);
    /* GTK 4.8 places the pop-up with the monitor of a surface that Xvfb,
     * without a window manager, has not put on one: a critical of GTK's
     * own (gdk_monitor_get_geometry), and the pop-up opens all the same. */
    always_fatal = g_log_set_always_fatal (G_LOG_FATAL_MASK);
    gtk_widget_activate (row);
    ms_test_gui_spin_for (300);
    g_log_set_always_fatal (always_fatal);
    g_assert_nonnull (find_mapped (row, is_popover, NULL));
    g_assert_cmpuint (check_a11y_popup_items ("Account Settings", "Authentication method", items), ==, 0);
    press (GTK_WIDGET (win), "Escape");
  }
  destroy_settings (win);

  /* Signing in with OAuth2: its rows, and the button while it waits (no
   * browser opens here: a toast says so, and the wait goes on). */
  use_custom_oauth2 ();
  win = open_settings ();
  g_assert_cmpuint (check_a11y_names ("Account Settings", NULL), ==, 0);
  {
    GtkWidget *button = SETTINGS_CHILD (win, "oauth2_sign_in_button");
    g_autoptr(GError) error = NULL;
    g_autoptr(MsOAuth2) oauth2 = ms_account_create_oauth2 (get_account (), &error);

    g_assert_no_error (error);
    g_assert_nonnull (oauth2);
    gtk_widget_activate (button);
    wait_for_label (GTK_BUTTON (button), _("_Cancel"));
    /* No browser here: the address to open is on the row, “&” and all (a
     * toast took it as markup and showed nothing but a GTK warning). */
    {
      const char *title = adw_preferences_row_get_title (ADW_PREFERENCES_ROW (ms_account_window_get_row (win, "oauth2-sign-in")));

      g_test_message ("row: %s", title);
      g_assert_true (g_str_has_prefix (title, "No web browser could be opened"));
      g_assert_nonnull (strstr (title, "&client_id=test-client&"));
    }
    g_assert_cmpuint (check_a11y_names ("Account Settings", NULL), ==, 0);
    gtk_widget_activate (button);
    wait_for_label (GTK_BUTTON (button), _("_Sign In"));
  }
  destroy_settings (win);
  ms_test_gui_reset_account (get_account ());
  configure_account ("smtp.office365.com", 587);

  /* The test dialog with an untrusted certificate: every control shown. */
  ms_test_gui_reset_account (get_account ());
  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", "right-password", NULL, NULL));
  dialog = run_test_dialog ();
  gtk_expander_set_expanded (DIALOG_CHILD (dialog, "transcript_expander"), TRUE);
  g_assert_cmpuint (check_a11y_names ("Test E-mail", NULL), ==, 0);
  gtk_window_destroy (GTK_WINDOW (dialog));
  ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);

  /* The main window's account summary, opened (the rest of that window
   * belongs to its pages). */
  gtk_popover_popup (ms_test_gui_child (get_window (), MS_TYPE_WINDOW, "account_popover"));
  ms_test_gui_spin_for (200);
  g_assert_cmpuint (check_a11y_names ("Mailshot", "Account summary"), ==, 0);
  gtk_popover_popdown (ms_test_gui_child (get_window (), MS_TYPE_WINDOW, "account_popover"));
  ms_test_gui_reset_account (get_account ());
}

static gboolean
recipients_loaded (gpointer data)
{
  return !ms_blast_page_get_loading (data) && ms_blast_page_get_valid_count (data) > 0;
}

static gboolean
runner_running (gpointer data)
{
  return ms_blast_runner_get_active (data) && !ms_blast_runner_get_paused (data);
}

static gboolean
runner_paused (gpointer data)
{
  return ms_blast_runner_get_paused (data);
}

static gboolean
runner_idle (gpointer data)
{
  return !ms_blast_runner_get_active (data);
}

static gboolean
preview_loaded (gpointer data)
{
  return !ms_preview_get_loading (data);
}

/* The main window as a screen reader reads it: the first-run page, then
 * each page with something in it (a list loaded, a batch, a failed
 * message), with the banners shown. */
static void
test_a11y_main (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--reject-rcpt=@yahho\\.example",
                                                         "--delay=EOM:0.5", NULL);
  g_autofree char *csv = ms_test_tmp_path ("a11y-members.csv");
  g_autofree char *text = ms_test_tmp_path ("a11y-letter.txt");
  g_autoptr(GFile) members = g_file_new_for_path (csv);
  MsWindow *window;
  MsBlastPage *page;
  MsPreview *preview;
  guint bad = 0;

  ms_test_gui_start_notification_server ();
  ms_test_gui_reset_account (get_account ());
  window = get_window ();
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
  g_test_message ("the first-run page");
  bad += check_a11y_names ("Mailshot", NULL);

  configure_account ("127.0.0.1", ms_test_server_get_port (server));
  g_assert_true (ms_account_set_from_string (get_account (), "needs-authentication", "false", NULL));
  g_assert_true (ms_account_set_from_string (get_account (), "max-connections", "2", NULL));
  g_settings_sync ();
  g_assert_true (g_file_set_contents (csv, "name,email\nAda,ada@example.org\nBob,bob@yahho.example\n", -1, NULL));
  g_assert_true (g_file_set_contents (text, "Dear {{name}},\nthe news.\n", -1, NULL));
  /* One sent, one failed: a batch, and a row on the Pending page. */
  ms_test_run_cli (NULL, NULL, NULL, "blast", "send", "--recipients", csv, "--subject", "News", "--text", text, NULL);

  page = ms_window_get_blast_page (window);
  ms_window_show_page (window, "blast");
  {
    g_autoptr(GString) list = g_string_new ("name,email\n");

    for (guint i = 0; i < 100; i++)
      g_string_append_printf (list, "Member %u,member%u@example.org\n", i, i);
    g_assert_true (g_file_set_contents (csv, list->str, -1, NULL));
  }
  ms_blast_page_load_recipients (page, members);
  ms_test_gui_wait_until (recipients_loaded, page, 10000);
  gtk_editable_set_text (GTK_EDITABLE (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "subject_row")), "News for {{name}}");
  gtk_text_buffer_set_text (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "body_buffer"), "Dear {{name}},\nthe news.\n", -1);

  /* A blast under way (the server takes its time), with its progress,
   * Pause and Cancel, and the resume offer shown beside it. */
  {
    MsBlastRunner *runner = ms_application_get_runner (app);

    g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "blast.send", NULL));
    g_assert_nonnull (ms_blast_page_get_dialog (page));
    adw_message_dialog_response (ms_blast_page_get_dialog (page), "send");
    ms_test_gui_wait_until (runner_running, runner, 20000);
    gtk_revealer_set_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_revealer"), TRUE);
    g_test_message ("the E-blast page, with a blast under way");
    bad += check_a11y_names ("Mailshot", NULL);
    g_assert_true (ms_blast_runner_get_active (runner));
    ms_blast_runner_pause (runner);
    ms_test_gui_wait_until (runner_paused, runner, 20000);
    g_test_message ("the blast paused");
    bad += check_a11y_names ("Mailshot", NULL);
    gtk_revealer_set_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_revealer"), FALSE);
    ms_blast_runner_cancel (runner);
    ms_test_gui_wait_until (runner_idle, runner, 20000);
  }

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "blast.preview", NULL));
  preview = ms_blast_page_get_preview (page);
  g_assert_nonnull (preview);
  ms_test_gui_wait_until (preview_loaded, preview, 10000);
  g_test_message ("the preview");
  bad += check_a11y_names ("Preview", NULL);
  gtk_window_destroy (GTK_WINDOW (preview));

  ms_window_show_page (window, "batches");
  ms_batches_page_reload (MS_BATCHES_PAGE (adw_bin_get_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "batches_bin"))));
  g_test_message ("the Batches page");
  bad += check_a11y_names ("Mailshot", NULL);

  ms_window_show_page (window, "pending");
  ms_pending_page_reload (MS_PENDING_PAGE (adw_bin_get_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "pending_bin"))));
  g_test_message ("the Pending page");
  bad += check_a11y_names ("Mailshot", NULL);

  ms_window_show_page (window, "blast");
  g_assert_cmpuint (bad, ==, 0);
  ms_test_gui_reset_account (get_account ());
}

/* ------------------------------------------------------------- screenshots */

static void
screenshot (GtkWidget  *widget,
            const char *name)
{
  const char *lang = g_getenv ("LANGUAGE") != NULL && g_getenv ("LANGUAGE")[0] != '\0' ? g_getenv ("LANGUAGE") : "en";
  gboolean dark = adw_style_manager_get_dark (adw_style_manager_get_default ());
  g_autofree char *file = g_strdup_printf ("%s-%s-%s.png", name, lang, dark ? "dark" : "light");
  g_autofree char *path = g_build_filename (g_getenv ("MS_SCREENSHOT_DIR"), file, NULL);
  g_autofree char *xid = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  ms_test_gui_spin_for (700);
#ifdef GDK_WINDOWING_X11
  xid = g_strdup_printf ("0x%lx", (unsigned long) gdk_x11_surface_get_xid (gtk_native_get_surface (GTK_NATIVE (widget))));
#endif
  g_spawn_sync (NULL, (char *[]) { "import", "-window", xid, path, NULL },
                NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_test_message ("wrote %s", path);
}

/* For review, not published: MS_SCREENSHOT_DIR=… (and LANGUAGE=de with
 * MS_TEST_LOCALEDIR for German), light and dark, wide and 360 px. */
static void
test_screenshots (void)
{
  g_autoptr(MsTestServer) server = NULL;

  if (g_getenv ("MS_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("set MS_SCREENSHOT_DIR to write screenshots for review");
      return;
    }
  server = ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN", "--user=u", "--password=right-password", NULL);

  for (guint dark = 0; dark < 2; dark++)
    {
      MsAccountWindow *win;
      MsTestDialog *dialog;
      MsWindow *window;

      adw_style_manager_set_color_scheme (adw_style_manager_get_default (),
                                          dark ? ADW_COLOR_SCHEME_FORCE_DARK : ADW_COLOR_SCHEME_FORCE_LIGHT);
      ms_test_gui_reset_account (get_account ());
      configure_account ("smtp.office365.com", 587);
      g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "smtp.office365.com", "u", "app-password", NULL, NULL));
      win = open_settings ();
      screenshot (GTK_WIDGET (win), "settings");
      gtk_widget_grab_focus (ms_account_window_get_row (win, "email-address"));
      gtk_editable_set_text (GTK_EDITABLE (ms_account_window_get_row (win, "email-address")), "not an address");
      gtk_widget_grab_focus (ms_account_window_get_row (win, "sender-name"));
      gtk_editable_set_text (GTK_EDITABLE (ms_account_window_get_row (win, "sender-name")), "The Office");
      gtk_window_set_default_size (GTK_WINDOW (win), 360, 720);
      screenshot (GTK_WIDGET (win), "settings-narrow-refused");
      gtk_window_close (GTK_WINDOW (win));
      ms_test_gui_spin_for (200);
      if (find_message_dialog (win) != NULL)
        screenshot (GTK_WIDGET (find_message_dialog (win)), "settings-close-asks");
      destroy_settings (win);
      ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "smtp.office365.com", "u", NULL, NULL);

      ms_test_gui_reset_account (get_account ());
      configure_account ("127.0.0.1", ms_test_server_get_port (server));
      g_assert_true (ms_secret_store_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", "right-password", NULL, NULL));
      dialog = run_test_dialog ();
      gtk_window_set_default_size (GTK_WINDOW (dialog), 360, 800);
      screenshot (GTK_WIDGET (dialog), "test-untrusted-certificate");
      gtk_window_destroy (GTK_WINDOW (dialog));
      ms_secret_clear_sync (MS_ACCOUNT_DEFAULT, "127.0.0.1", "u", NULL, NULL);

      configure_account ("smtp.example.org", 587);
      window = get_window ();
      gtk_window_set_default_size (GTK_WINDOW (window), 360, 640);
      gtk_popover_popup (ms_test_gui_child (window, MS_TYPE_WINDOW, "account_popover"));
      screenshot (GTK_WIDGET (window), "main-narrow");
      gtk_popover_popdown (ms_test_gui_child (window, MS_TYPE_WINDOW, "account_popover"));
      gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
    }
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);
  ms_test_gui_reset_account (get_account ());
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  ms_core_init ();
  start_a11y_bus ();
  /* The real accessibility bridge, read back through AT-SPI (the env
   * script turns it off for the other units). */
  g_setenv ("GTK_A11Y", "atspi", TRUE);
  g_unsetenv ("NO_AT_BRIDGE");
  gtk_test_init (&argc, &argv, NULL);
  if (g_getenv ("MS_TEST_LOCALEDIR") != NULL && g_getenv ("MS_TEST_LOCALEDIR")[0] != '\0')
    {
      setlocale (LC_ALL, "");
      bindtextdomain (GETTEXT_PACKAGE, g_getenv ("MS_TEST_LOCALEDIR"));
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      textdomain (GETTEXT_PACKAGE);
    }
  adw_init ();

  app = ms_application_new ();
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (app));

  g_test_add_func ("/mailshot/gui-account/save-on-leave-and-enter", test_save_on_leave_and_enter);
  g_test_add_func ("/mailshot/gui-account/refused-in-full", test_refused_in_full);
  g_test_add_func ("/mailshot/gui-account/close-asks", test_close_asks);
  g_test_add_func ("/mailshot/gui-account/no-search-trap", test_no_search_trap);
  g_test_add_func ("/mailshot/gui-account/one-tab-stop", test_one_tab_stop);
  g_test_add_func ("/mailshot/gui-account/shortcuts", test_shortcuts);
  g_test_add_func ("/mailshot/gui-account/summary-rows", test_summary_rows);
  g_test_add_func ("/mailshot/gui-account/provider-hints", test_provider_hints);
  g_test_add_func ("/mailshot/gui-account/certificate-exception", test_certificate_exception);
  g_test_add_func ("/mailshot/gui-account/open-settings-at-advice", test_open_settings_at_advice);
  g_test_add_func ("/mailshot/gui-account/narrow", test_narrow);
  g_test_add_func ("/mailshot/gui-account/narrow-german", test_narrow_german);
  g_test_add_func ("/mailshot/gui-account/a11y-names", test_a11y_names);
  g_test_add_func ("/mailshot/gui-account/a11y-main", test_a11y_main);
  g_test_add_func ("/mailshot/gui-account/screenshots", test_screenshots);

  status = g_test_run ();
  g_application_release (G_APPLICATION (app));
  g_clear_object (&app);
  /* SIGTERM: the launcher then stops the bus daemon it started. */
  g_subprocess_send_signal (a11y_bus, SIGTERM);
  g_subprocess_wait (a11y_bus, NULL, NULL);
  g_clear_object (&a11y_bus);
  return status;
}
