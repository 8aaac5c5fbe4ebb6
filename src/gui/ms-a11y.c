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

/* ---- the items of a combo row's pop-up ---------------------------------- */

/* The item's text: a GtkStringObject's string (the models of this app's
 * combo rows), or the row's expression. */
static char *
combo_item_text (AdwComboRow *row,
                 gpointer     item)
{
  GtkExpression *expression = adw_combo_row_get_expression (row);
  GValue value = G_VALUE_INIT;
  char *text = NULL;

  if (GTK_IS_STRING_OBJECT (item))
    return g_strdup (gtk_string_object_get_string (item));
  if (expression != NULL && gtk_expression_evaluate (expression, item, &value))
    {
      text = g_value_dup_string (&value);
      g_value_unset (&value);
    }
  return text;
}

static void
combo_item_update_selected (GtkListItem *list_item,
                            GParamSpec  *pspec,
                            AdwComboRow *row)
{
  GtkWidget *box = gtk_list_item_get_child (list_item);
  GtkWidget *check = box != NULL && gtk_widget_get_last_child (box) != gtk_widget_get_first_child (box)
                     ? gtk_widget_get_last_child (box) : NULL;
  GtkWidget *item_widget = box != NULL ? gtk_widget_get_parent (box) : NULL;
  gboolean selected = gtk_list_item_get_item (list_item) != NULL &&
                      gtk_list_item_get_item (list_item) == adw_combo_row_get_selected_item (row);

  if (check == NULL)
    return;
  gtk_widget_set_opacity (check, selected ? 1 : 0);
  if (item_widget != NULL)
    gtk_accessible_update_state (GTK_ACCESSIBLE (item_widget), GTK_ACCESSIBLE_STATE_SELECTED, selected, -1);
}

static void
combo_item_setup (GtkSignalListItemFactory *factory,
                  GtkListItem              *list_item,
                  AdwComboRow              *row)
{
  gboolean in_popup = GPOINTER_TO_INT (g_object_get_data (G_OBJECT (factory), "ms-in-popup"));
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_HORIZONTAL, 6);
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_widget_set_hexpand (label, TRUE);
  gtk_box_append (GTK_BOX (box), label);
  gtk_list_item_set_child (list_item, box);
  /* The row shows the selected item on one line; the pop-up lists them all
   * and marks the selected one. */
  if (!in_popup)
    {
      gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
      return;
    }
  gtk_label_set_wrap (GTK_LABEL (label), TRUE);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  gtk_box_append (GTK_BOX (box), g_object_new (GTK_TYPE_IMAGE,
                                               "icon-name", "object-select-symbolic",
                                               "accessible-role", GTK_ACCESSIBLE_ROLE_PRESENTATION,
                                               NULL));
  g_signal_connect_object (row, "notify::selected-item", G_CALLBACK (combo_item_update_selected), list_item,
                           G_CONNECT_SWAPPED);
}

static void
combo_item_bind (GtkSignalListItemFactory *factory,
                 GtkListItem              *list_item,
                 AdwComboRow              *row)
{
  GtkWidget *box = gtk_list_item_get_child (list_item);
  GtkWidget *item_widget = gtk_widget_get_parent (box);
  g_autofree char *text = combo_item_text (row, gtk_list_item_get_item (list_item));

  gtk_label_set_text (GTK_LABEL (gtk_widget_get_first_child (box)), text != NULL ? text : "");
  /* GTK 4.8 leaves the item itself nameless (GtkListItem has no accessible
   * label before 4.12): the widget that holds it takes the text. */
  if (item_widget != NULL)
    gtk_accessible_update_property (GTK_ACCESSIBLE (item_widget), GTK_ACCESSIBLE_PROPERTY_LABEL,
                                    text != NULL ? text : "", -1);
  combo_item_update_selected (list_item, NULL, row);
}

/**
 * ms_a11y_name_combo_items:
 * @row: a combo row
 *
 * Gives the items of @row's pop-up, and the selected one the row shows,
 * their text as their accessible name, with the check mark on the selected
 * one in the pop-up that libadwaita's own list shows (and the selected state
 * for a screen reader). libadwaita's own items are nameless list items, with
 * an image read as "GtkImage".
 */
void
ms_a11y_name_combo_items (AdwComboRow *row)
{
  g_return_if_fail (ADW_IS_COMBO_ROW (row));

  /* The row's own display of the selected item, then its pop-up. */
  for (guint in_popup = 0; in_popup <= 1; in_popup++)
    {
      g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();

      g_object_set_data (G_OBJECT (factory), "ms-in-popup", GINT_TO_POINTER (in_popup));
      g_signal_connect_object (factory, "setup", G_CALLBACK (combo_item_setup), row, 0);
      g_signal_connect_object (factory, "bind", G_CALLBACK (combo_item_bind), row, 0);
      if (in_popup)
        adw_combo_row_set_list_factory (row, factory);
      else
        adw_combo_row_set_factory (row, factory);
    }
}
