/* ms-a11y.c: one clean accessible name per control, where GTK 4.8 gives none or two
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ms-a11y.h"

/* The first child that a screen reader stops at: the button of a drop-down,
 * the list of a column view, the button of a menu button. */
static GtkWidget *
inner_child (GtkWidget *widget,
             GType      type)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    if (G_TYPE_CHECK_INSTANCE_TYPE (c, type))
      return c;
  return NULL;
}

static GtkWidget *
inner_label (GtkWidget *widget)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *label = GTK_IS_LABEL (c) ? c : inner_label (c);

      if (label != NULL)
        return label;
    }
  return NULL;
}

static void
labelled_by (GtkWidget *widget,
             GtkWidget *label)
{
  if (widget != NULL && label != NULL)
    gtk_accessible_update_relation (GTK_ACCESSIBLE (widget), GTK_ACCESSIBLE_RELATION_LABELLED_BY, label, NULL, -1);
}

/**
 * ms_a11y_fix_names:
 * @root: a widget whose descendants are fixed, once they are all there
 *
 * GTK 4.8 reads a button with a mnemonic twice ("_Choose… Choose…": its raw
 * label and then its label widget), a check button with its underscore, an
 * icon button by its widget type ("GtkImage"), and the parts that take the
 * focus inside a drop-down, a column view or a menu button without the
 * name given to the whole. Each gets one clean name here: the label widget
 * GTK already shows, the tooltip, or the name of the whole. Call it again
 * for controls added later (rows made at run time).
 */
void
ms_a11y_fix_names (GtkWidget *root)
{
  g_return_if_fail (GTK_IS_WIDGET (root));

  for (GtkWidget *c = gtk_widget_get_first_child (root); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      if (GTK_IS_BUTTON (c) && gtk_button_get_use_underline (GTK_BUTTON (c)))
        gtk_accessible_reset_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL);
      else if (GTK_IS_BUTTON (c) && gtk_button_get_label (GTK_BUTTON (c)) == NULL &&
               gtk_button_get_icon_name (GTK_BUTTON (c)) != NULL && gtk_widget_get_tooltip_text (c) != NULL)
        gtk_accessible_update_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                        gtk_widget_get_tooltip_text (c), -1);
      else if (GTK_IS_CHECK_BUTTON (c) && gtk_check_button_get_use_underline (GTK_CHECK_BUTTON (c)))
        {
          gtk_accessible_reset_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL);
          labelled_by (c, inner_label (c));
        }
      else if (GTK_IS_MENU_BUTTON (c) && gtk_menu_button_get_label (GTK_MENU_BUTTON (c)) != NULL)
        labelled_by (c, inner_label (c));
      else if (GTK_IS_DROP_DOWN (c))
        labelled_by (inner_child (c, GTK_TYPE_TOGGLE_BUTTON), c);
      else if (GTK_IS_COLUMN_VIEW (c))
        labelled_by (inner_child (c, GTK_TYPE_LIST_VIEW), c);
      ms_a11y_fix_names (c);
    }
}

/* libadwaita 1.2's toast has a close button with an icon and no name: a
 * screen reader reads it as "GtkImage". Name it wherever a toast shows. */
static void
name_toast_buttons (GtkWidget *widget)
{
  for (GtkWidget *c = gtk_widget_get_first_child (widget); c != NULL; c = gtk_widget_get_next_sibling (c))
    {
      if (GTK_IS_BUTTON (c) && gtk_button_get_label (GTK_BUTTON (c)) == NULL &&
          g_strcmp0 (gtk_button_get_icon_name (GTK_BUTTON (c)), "window-close-symbolic") == 0)
        gtk_accessible_update_property (GTK_ACCESSIBLE (c), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Dismiss"), -1);
      name_toast_buttons (c);
    }
}

static gboolean
name_toast_buttons_idle (gpointer data)
{
  GtkWidget *overlay = data;

  name_toast_buttons (overlay);
  return G_SOURCE_REMOVE;
}

static void
on_toast_dismissed (AdwToast  *toast,
                    GtkWidget *overlay)
{
  /* The next queued toast is shown now: name its button too. Not while the
   * overlay goes away (it dismisses what is left as it is disposed). */
  if (!gtk_widget_get_mapped (overlay))
    return;
  g_idle_add_full (G_PRIORITY_DEFAULT, name_toast_buttons_idle, g_object_ref (overlay), g_object_unref);
}

void
ms_a11y_add_toast (AdwToastOverlay *overlay,
                   AdwToast        *toast)
{
  g_return_if_fail (ADW_IS_TOAST_OVERLAY (overlay));
  g_return_if_fail (ADW_IS_TOAST (toast));

  g_signal_connect_object (toast, "dismissed", G_CALLBACK (on_toast_dismissed), overlay, 0);
  adw_toast_overlay_add_toast (overlay, toast);
  name_toast_buttons (GTK_WIDGET (overlay));
}
