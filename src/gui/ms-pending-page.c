/* ms-pending-page.c: every message that did not go out, across batches, and what to do about it
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ms-a11y.h"
#include "ms-pending-page.h"

/* How often the journal is asked whether it changed, while the page shows. */
#define POLL_MS 1500

/* What did not go out and may still need the user (as `mailshot-cli pending`). */
static const MsRecipientState pending_states[] = {
  MS_STATE_QUEUED, MS_STATE_SENDING, MS_STATE_DEFERRED, MS_STATE_FAILED, MS_STATE_UNCERTAIN,
};

/* The state filter's choices, in the order of its list. */
static const MsRecipientState state_choices[] = {
  MS_N_STATES, MS_STATE_FAILED, MS_STATE_UNCERTAIN, MS_STATE_DEFERRED, MS_STATE_QUEUED,
};

/* ------------------------------------------------------------ a pending row */

/* One row for the list models: the journal's row, its advice and its batch
 * in words. Private to this page. */
#define MS_TYPE_PENDING_ROW (ms_pending_row_get_type ())
G_DECLARE_FINAL_TYPE (MsPendingRow, ms_pending_row, MS, PENDING_ROW, GObject)

struct _MsPendingRow
{
  GObject       parent_instance;
  MsJournalRow *row;
  char         *advice;
  char         *batch_text;
};

G_DEFINE_FINAL_TYPE (MsPendingRow, ms_pending_row, G_TYPE_OBJECT)

static void
ms_pending_row_finalize (GObject *object)
{
  MsPendingRow *self = MS_PENDING_ROW (object);

  g_clear_pointer (&self->row, ms_journal_row_free);
  g_clear_pointer (&self->advice, g_free);
  g_clear_pointer (&self->batch_text, g_free);
  G_OBJECT_CLASS (ms_pending_row_parent_class)->finalize (object);
}

static void
ms_pending_row_class_init (MsPendingRowClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_pending_row_finalize;
}

static void
ms_pending_row_init (MsPendingRow *self)
{
}

enum {
  COL_RECIPIENT,
  COL_BATCH,
  COL_STATE,
  COL_ATTEMPTS,
  COL_REPLY,
  COL_ADVICE,
};

/* ------------------------------------------------------------------ page */

struct _MsPendingPage
{
  AdwBin              parent_instance;

  MsBlastRunner      *runner;
  MsJournal          *journal;       /* for reading */
  gint64              stamp;
  guint               poll_id;
  GListStore         *store;         /* MsPendingRow */
  GtkCustomFilter    *filter;
  GtkMultiSelection  *selection;
  MsRecipientState    state;         /* MS_N_STATES: every state */
  gint64              batch;         /* 0: every batch */
  char               *cause;         /* NULL: every cause */
  GArray             *batch_ids;     /* gint64, parallel to batch_list (0 first) */
  gboolean            updating;
  AdwMessageDialog   *dialog;        /* weak */

  GtkStack           *stack;
  AdwStatusPage      *empty_page;
  GtkDropDown        *state_dropdown;
  GtkDropDown        *batch_dropdown;
  GtkStringList      *batch_list;
  GtkToggleButton    *cause_toggle;
  GtkRevealer        *cause_revealer;
  GtkLabel           *cause_label;
  GtkColumnView      *column_view;
  GtkColumnViewColumn *recipient_column;
  GtkColumnViewColumn *batch_column;
  GtkColumnViewColumn *state_column;
  GtkColumnViewColumn *attempts_column;
  GtkColumnViewColumn *reply_column;
  GtkColumnViewColumn *advice_column;
  GtkListBox         *cause_list;
  GtkLabel           *selection_label;
};

G_DEFINE_FINAL_TYPE (MsPendingPage, ms_pending_page, ADW_TYPE_BIN)

static void update_actions (MsPendingPage *self);
static void on_runner_changed (MsPendingPage *self);

MsPendingPage *
ms_pending_page_new (MsBlastRunner *runner)
{
  MsPendingPage *self;

  g_return_val_if_fail (MS_IS_BLAST_RUNNER (runner), NULL);

  self = g_object_new (MS_TYPE_PENDING_PAGE, NULL);
  self->runner = g_object_ref (runner);
  g_signal_connect_object (runner, "notify::active", G_CALLBACK (on_runner_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (runner, "finished", G_CALLBACK (on_runner_changed), self, G_CONNECT_SWAPPED);
  return self;
}

static void
show_toast (MsPendingPage *self,
            const char    *message)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", message);
}

/* ------------------------------------------------------------- the view */

static char *
cell_text (MsPendingRow *item,
           int           column)
{
  const MsJournalRow *row = item->row;

  switch (column)
    {
    case COL_RECIPIENT:
      return g_strdup (row->address);
    case COL_BATCH:
      return g_strdup (item->batch_text);
    case COL_STATE:
      return g_strdup (ms_recipient_state_get_label (row->state));
    case COL_ATTEMPTS:
      return g_strdup_printf ("%u", row->attempts);
    case COL_REPLY:
      if (row->reply_code > 0)
        return g_strdup_printf ("%d %s", row->reply_code, row->reply_text != NULL ? row->reply_text : "");
      return g_strdup (row->reply_text != NULL ? row->reply_text : "");
    case COL_ADVICE:
    default:
      return g_strdup (item->advice != NULL ? item->advice : "");
    }
}

static void
setup_cell (GtkSignalListItemFactory *factory,
            GtkListItem              *item,
            gpointer                  user_data)
{
  GtkWidget *label = gtk_label_new (NULL);

  int column = GPOINTER_TO_INT (user_data);
  /* Readable widths even on a narrow window: the table scrolls sideways
   * rather than cutting every cell to a few letters. */
  int chars = column == COL_RECIPIENT ? 22 : column == COL_BATCH ? 18 : column == COL_REPLY ? 24 :
              column == COL_ADVICE ? 36 : column == COL_ATTEMPTS ? 3 : 8;

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_width_chars (GTK_LABEL (label), chars);
  gtk_label_set_max_width_chars (GTK_LABEL (label), column == COL_ADVICE ? 60 : 32);
  gtk_list_item_set_child (item, label);
}

static void
bind_cell (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  int column = GPOINTER_TO_INT (user_data);
  GtkWidget *label = gtk_list_item_get_child (item);
  g_autofree char *text = cell_text (gtk_list_item_get_item (item), column);

  gtk_label_set_text (GTK_LABEL (label), text);
  /* Replies and advice are cut on screen; the whole sentence is a hover away. */
  gtk_widget_set_tooltip_text (label, (column == COL_REPLY || column == COL_ADVICE || column == COL_BATCH) &&
                                      text[0] != '\0' ? text : NULL);
}

static int
compare_cells (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  MsPendingRow *ia = MS_PENDING_ROW ((gpointer) a);
  MsPendingRow *ib = MS_PENDING_ROW ((gpointer) b);
  int column = GPOINTER_TO_INT (user_data);
  int result;

  switch (column)
    {
    case COL_ATTEMPTS:
      result = (ia->row->attempts > ib->row->attempts) - (ia->row->attempts < ib->row->attempts);
      break;
    case COL_STATE:
      result = (ia->row->state > ib->row->state) - (ia->row->state < ib->row->state);
      break;
    case COL_BATCH:
      /* Newest batch first, as on the Batches page. */
      result = (ia->row->batch < ib->row->batch) - (ia->row->batch > ib->row->batch);
      break;
    default:
      {
        g_autofree char *ta = cell_text (ia, column);
        g_autofree char *tb = cell_text (ib, column);

        result = g_utf8_collate (ta, tb);
      }
      break;
    }
  if (result == 0)
    result = (ia->row->id > ib->row->id) - (ia->row->id < ib->row->id);
  return result < 0 ? GTK_ORDERING_SMALLER : result > 0 ? GTK_ORDERING_LARGER : GTK_ORDERING_EQUAL;
}

static void
set_up_column (GtkColumnViewColumn *column,
               int                  id)
{
  g_autoptr(GtkListItemFactory) factory = gtk_signal_list_item_factory_new ();
  g_autoptr(GtkSorter) sorter = GTK_SORTER (gtk_custom_sorter_new (compare_cells, GINT_TO_POINTER (id), NULL));

  g_signal_connect (factory, "setup", G_CALLBACK (setup_cell), GINT_TO_POINTER (id));
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cell), GINT_TO_POINTER (id));
  gtk_column_view_column_set_factory (column, factory);
  gtk_column_view_column_set_sorter (column, sorter);
  gtk_column_view_column_set_resizable (column, TRUE);
}

/* State and batch: what both the rows and the groups show. */
static gboolean
matches_state_and_batch (MsPendingPage *self,
                         MsPendingRow  *item)
{
  if (self->state != MS_N_STATES && item->row->state != self->state)
    return FALSE;
  return self->batch == 0 || item->row->batch == self->batch;
}

static gboolean
row_matches (gpointer item,
             gpointer user_data)
{
  MsPendingPage *self = user_data;
  MsPendingRow *row = MS_PENDING_ROW (item);

  if (!matches_state_and_batch (self, row))
    return FALSE;
  return self->cause == NULL || g_strcmp0 (row->advice, self->cause) == 0;
}

/* ------------------------------------------------------------ by cause */

typedef struct {
  char  *cause;
  guint  count;
} Cause;

static void
cause_free (gpointer data)
{
  Cause *cause = data;

  g_free (cause->cause);
  g_free (cause);
}

static int
compare_causes (gconstpointer a,
                gconstpointer b)
{
  const Cause *ca = *(const Cause **) a;
  const Cause *cb = *(const Cause **) b;

  if (ca->count != cb->count)
    return ca->count > cb->count ? -1 : 1;
  return g_utf8_collate (ca->cause, cb->cause);
}

/* Rows with the same advice share a cause: 300 "mailbox full" rows are one
 * group. Biggest first. */
static GPtrArray *
collect_causes (MsPendingPage *self)
{
  g_autoptr(GHashTable) by_cause = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *causes = g_ptr_array_new_with_free_func (cause_free);
  guint n = g_list_model_get_n_items (G_LIST_MODEL (self->store));

  for (guint i = 0; i < n; i++)
    {
      g_autoptr(MsPendingRow) item = g_list_model_get_item (G_LIST_MODEL (self->store), i);
      const char *key = item->advice != NULL ? item->advice : "";
      Cause *cause;

      if (!matches_state_and_batch (self, item))
        continue;
      cause = g_hash_table_lookup (by_cause, key);
      if (cause == NULL)
        {
          cause = g_new0 (Cause, 1);
          cause->cause = g_strdup (key);
          g_ptr_array_add (causes, cause);
          g_hash_table_insert (by_cause, cause->cause, cause);
        }
      cause->count++;
    }
  g_ptr_array_sort (causes, compare_causes);
  return causes;
}

static void
update_causes (MsPendingPage *self)
{
  g_autoptr(GPtrArray) causes = collect_causes (self);

  /* gtk_list_box_remove_all() is GTK 4.12. */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self->cause_list))) != NULL; )
    gtk_list_box_remove (self->cause_list, child);
  for (guint i = 0; i < causes->len; i++)
    {
      Cause *cause = g_ptr_array_index (causes, i);
      GtkWidget *row = adw_action_row_new ();
      GtkWidget *count;
      g_autofree char *escaped = g_markup_escape_text (cause->cause[0] != '\0' ? cause->cause : _("No advice"), -1);
      g_autofree char *number = g_strdup_printf ("%'u", cause->count);

      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
      adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 0);
      count = gtk_label_new (number);
      gtk_widget_set_valign (count, GTK_ALIGN_CENTER);
      gtk_widget_add_css_class (count, "numeric");
      gtk_widget_add_css_class (count, "heading");
      gtk_widget_set_tooltip_text (count, g_dngettext (GETTEXT_PACKAGE, "message", "messages", cause->count));
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), count);
      adw_action_row_add_suffix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("go-next-symbolic"));
      gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
      g_object_set_data_full (G_OBJECT (row), "cause", g_strdup (cause->cause), g_free);
      gtk_list_box_append (self->cause_list, row);
    }
}

GStrv
ms_pending_page_dup_causes (MsPendingPage *self)
{
  g_autoptr(GPtrArray) causes = NULL;
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  g_return_val_if_fail (MS_IS_PENDING_PAGE (self), NULL);

  causes = collect_causes (self);
  for (guint i = 0; i < causes->len; i++)
    {
      Cause *cause = g_ptr_array_index (causes, i);
      g_autofree char *line = g_strdup_printf ("%u\t%s", cause->count, cause->cause);

      g_strv_builder_add (builder, line);
    }
  return g_strv_builder_end (builder);
}

/* ------------------------------------------------------------ showing */

static void
update_view (MsPendingPage *self)
{
  guint total = g_list_model_get_n_items (G_LIST_MODEL (self->store));
  gboolean by_cause = gtk_toggle_button_get_active (self->cause_toggle);

  gtk_revealer_set_reveal_child (self->cause_revealer, self->cause != NULL && !by_cause);
  if (self->cause != NULL)
    gtk_label_set_text (self->cause_label, self->cause[0] != '\0' ? self->cause : _("No advice"));
  if (total == 0)
    gtk_stack_set_visible_child_name (self->stack, "empty");
  else
    gtk_stack_set_visible_child_name (self->stack, by_cause ? "causes" : "rows");
  if (by_cause)
    update_causes (self);
  update_actions (self);
}

static void
refilter (MsPendingPage *self)
{
  gtk_filter_changed (GTK_FILTER (self->filter), GTK_FILTER_CHANGE_DIFFERENT);
  update_view (self);
}

void
ms_pending_page_set_filter (MsPendingPage    *self,
                            MsRecipientState  state,
                            gint64            batch,
                            const char       *cause)
{
  g_return_if_fail (MS_IS_PENDING_PAGE (self));
  g_return_if_fail (state <= MS_N_STATES);

  self->state = state;
  self->batch = batch;
  g_free (self->cause);
  self->cause = g_strdup (cause);
  /* The drop-downs follow, without filtering twice. */
  self->updating = TRUE;
  for (guint i = 0; i < G_N_ELEMENTS (state_choices); i++)
    if (state_choices[i] == state)
      gtk_drop_down_set_selected (self->state_dropdown, i);
  for (guint i = 0; i < self->batch_ids->len; i++)
    if (g_array_index (self->batch_ids, gint64, i) == batch)
      gtk_drop_down_set_selected (self->batch_dropdown, i);
  self->updating = FALSE;
  refilter (self);
}

static void
on_filter_changed (MsPendingPage *self)
{
  guint state = gtk_drop_down_get_selected (self->state_dropdown);
  guint batch = gtk_drop_down_get_selected (self->batch_dropdown);

  if (self->updating)
    return;
  self->state = state < G_N_ELEMENTS (state_choices) ? state_choices[state] : MS_N_STATES;
  self->batch = batch < self->batch_ids->len ? g_array_index (self->batch_ids, gint64, batch) : 0;
  refilter (self);
}

static void
on_cause_toggled (MsPendingPage *self)
{
  /* Grouping starts from every cause again. */
  if (gtk_toggle_button_get_active (self->cause_toggle))
    g_clear_pointer (&self->cause, g_free);
  refilter (self);
}

static void
on_cause_activated (MsPendingPage *self,
                    GtkListBoxRow *row)
{
  g_free (self->cause);
  self->cause = g_strdup (g_object_get_data (G_OBJECT (row), "cause"));
  gtk_toggle_button_set_active (self->cause_toggle, FALSE);
  refilter (self);
}

static void
on_show_all_causes (MsPendingPage *self)
{
  g_clear_pointer (&self->cause, g_free);
  refilter (self);
}

/* ------------------------------------------------------------ reloading */

static gboolean
ensure_journal (MsPendingPage *self)
{
  g_autoptr(GError) error = NULL;

  if (self->journal != NULL)
    return TRUE;
  self->journal = ms_journal_open_for_reading (NULL, &error);
  if (self->journal == NULL)
    {
      adw_status_page_set_title (self->empty_page, _("The Journal Cannot Be Read"));
      adw_status_page_set_description (self->empty_page, error->message);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return FALSE;
    }
  return TRUE;
}

static char *
describe_batch (const MsBatchInfo *info)
{
  g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local (info->created);
  g_autofree char *date = dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("");
  const char *subject = info->subject != NULL && info->subject[0] != '\0' ? info->subject : _("(no subject)");

  /* Translators: a batch in the Pending list: its subject, then when it was created. */
  return g_strdup_printf (_("%s — %s"), subject, date);
}

static void
update_batch_choices (MsPendingPage *self,
                      GPtrArray     *batches)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  guint selected = 0;

  g_ptr_array_add (names, g_strdup (_("All batches")));
  g_array_set_size (self->batch_ids, 1);
  for (guint i = 0; i < batches->len; i++)
    {
      const MsBatchInfo *info = g_ptr_array_index (batches, i);

      g_ptr_array_add (names, describe_batch (info));
      g_array_append_val (self->batch_ids, info->id);
      if (info->id == self->batch)
        selected = self->batch_ids->len - 1;
    }
  g_ptr_array_add (names, NULL);
  /* The choice stays on the same batch across reloads. */
  self->updating = TRUE;
  gtk_string_list_splice (self->batch_list, 0, g_list_model_get_n_items (G_LIST_MODEL (self->batch_list)),
                          (const char * const *) names->pdata);
  gtk_drop_down_set_selected (self->batch_dropdown, selected);
  self->updating = FALSE;
  if (selected == 0)
    self->batch = 0;
}

void
ms_pending_page_reload (MsPendingPage *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GPtrArray) items = NULL;
  g_autoptr(GHashTable) batch_text = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, g_free);
  g_autoptr(GHashTable) selected = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GtkBitset) selection = NULL;
  g_autoptr(GtkBitset) reselect = gtk_bitset_new_empty ();
  GtkBitsetIter iter;
  guint position;
  GListModel *shown;

  g_return_if_fail (MS_IS_PENDING_PAGE (self));

  if (!ensure_journal (self))
    return;
  ms_journal_check_changed (self->journal, &self->stamp);
  batches = ms_journal_list_batches (self->journal, &error);
  rows = batches != NULL ? ms_journal_list_rows (self->journal, 0, pending_states, G_N_ELEMENTS (pending_states),
                                                 &error)
                         : NULL;
  if (rows == NULL)
    {
      adw_status_page_set_title (self->empty_page, _("The Journal Cannot Be Read"));
      adw_status_page_set_description (self->empty_page, error->message);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }

  for (guint i = 0; i < batches->len; i++)
    {
      const MsBatchInfo *info = g_ptr_array_index (batches, i);

      g_hash_table_insert (batch_text, g_memdup2 (&info->id, sizeof info->id), describe_batch (info));
    }
  update_batch_choices (self, batches);

  /* The selection survives a reload, row by row. */
  shown = G_LIST_MODEL (self->selection);
  selection = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  for (gboolean ok = gtk_bitset_iter_init_first (&iter, selection, &position); ok;
       ok = gtk_bitset_iter_next (&iter, &position))
    {
      g_autoptr(MsPendingRow) item = g_list_model_get_item (shown, position);

      if (item != NULL)
        g_hash_table_add (selected, g_memdup2 (&item->row->id, sizeof item->row->id));
    }

  g_ptr_array_set_free_func (rows, NULL);
  items = g_ptr_array_new_full (rows->len, g_object_unref);
  for (guint i = 0; i < rows->len; i++)
    {
      MsPendingRow *item = g_object_new (MS_TYPE_PENDING_ROW, NULL);

      item->row = g_ptr_array_index (rows, i);
      item->advice = ms_journal_row_dup_advice (item->row);
      item->batch_text = g_strdup (g_hash_table_lookup (batch_text, &item->row->batch));
      g_ptr_array_add (items, item);
    }
  g_list_store_splice (self->store, 0, g_list_model_get_n_items (G_LIST_MODEL (self->store)),
                       items->pdata, items->len);

  for (guint i = 0; g_hash_table_size (selected) > 0 && i < g_list_model_get_n_items (shown); i++)
    {
      g_autoptr(MsPendingRow) item = g_list_model_get_item (shown, i);

      if (g_hash_table_contains (selected, &item->row->id))
        gtk_bitset_add (reselect, i);
    }
  {
    g_autoptr(GtkBitset) every = gtk_bitset_new_range (0, g_list_model_get_n_items (shown));

    gtk_selection_model_set_selection (GTK_SELECTION_MODEL (self->selection), reselect, every);
  }

  adw_status_page_set_title (self->empty_page, _("Nothing Pending"));
  adw_status_page_set_description (self->empty_page,
                                   _("Every message went out, or you decided what to do about it. Messages "
                                     "that fail, wait for a retry or may not have arrived are listed here."));
  update_view (self);
}

static gboolean
poll_journal (gpointer user_data)
{
  MsPendingPage *self = user_data;

  if (self->journal == NULL || ms_journal_check_changed (self->journal, &self->stamp))
    ms_pending_page_reload (self);
  return G_SOURCE_CONTINUE;
}

static void
ms_pending_page_map (GtkWidget *widget)
{
  MsPendingPage *self = MS_PENDING_PAGE (widget);

  GTK_WIDGET_CLASS (ms_pending_page_parent_class)->map (widget);
  ms_pending_page_reload (self);
  /* Only while shown: a hidden page costs nothing. */
  if (self->poll_id == 0)
    self->poll_id = g_timeout_add (POLL_MS, poll_journal, self);
}

static void
ms_pending_page_unmap (GtkWidget *widget)
{
  MsPendingPage *self = MS_PENDING_PAGE (widget);

  g_clear_handle_id (&self->poll_id, g_source_remove);
  GTK_WIDGET_CLASS (ms_pending_page_parent_class)->unmap (widget);
}

GtkSelectionModel *
ms_pending_page_get_selection (MsPendingPage *self)
{
  g_return_val_if_fail (MS_IS_PENDING_PAGE (self), NULL);

  return GTK_SELECTION_MODEL (self->selection);
}

const MsJournalRow *
ms_pending_page_get_row (MsPendingPage *self,
                         guint          position)
{
  g_autoptr(MsPendingRow) item = NULL;

  g_return_val_if_fail (MS_IS_PENDING_PAGE (self), NULL);

  /* The store keeps the item (and its row) alive. */
  item = g_list_model_get_item (G_LIST_MODEL (self->selection), position);
  return item != NULL ? item->row : NULL;
}

const char *
ms_pending_page_get_advice (MsPendingPage *self,
                            guint          position)
{
  g_autoptr(MsPendingRow) item = NULL;

  g_return_val_if_fail (MS_IS_PENDING_PAGE (self), NULL);

  item = g_list_model_get_item (G_LIST_MODEL (self->selection), position);
  return item != NULL ? item->advice : NULL;
}

AdwMessageDialog *
ms_pending_page_get_dialog (MsPendingPage *self)
{
  g_return_val_if_fail (MS_IS_PENDING_PAGE (self), NULL);

  return self->dialog;
}

/* ------------------------------------------------------------ actions */

/* The selected rows, in the order shown; (element-type MsPendingRow). */
static GPtrArray *
get_selected (MsPendingPage *self)
{
  GPtrArray *items = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GtkBitset) selection = gtk_selection_model_get_selection (GTK_SELECTION_MODEL (self->selection));
  GtkBitsetIter iter;
  guint position;

  for (gboolean ok = gtk_bitset_iter_init_first (&iter, selection, &position); ok;
       ok = gtk_bitset_iter_next (&iter, &position))
    {
      MsPendingRow *item = g_list_model_get_item (G_LIST_MODEL (self->selection), position);

      if (item != NULL)
        g_ptr_array_add (items, item);
    }
  return items;
}

static void
update_actions (MsPendingPage *self)
{
  g_autoptr(GPtrArray) items = get_selected (self);
  gboolean all_uncertain = items->len > 0;
  gboolean none_sending = TRUE;
  guint shown = g_list_model_get_n_items (G_LIST_MODEL (self->selection));
  g_autofree char *text = NULL;

  for (guint i = 0; i < items->len; i++)
    {
      MsPendingRow *item = g_ptr_array_index (items, i);

      all_uncertain &= item->row->state == MS_STATE_UNCERTAIN;
      none_sending &= item->row->state != MS_STATE_SENDING;
    }
  /* A row being sent right now cannot be changed (the journal refuses it too). */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pending.retry", items->len > 0 && none_sending);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pending.skip", items->len > 0 && none_sending);
  /* Only for a message that may have arrived: the journal's rule, shown before it is asked. */
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pending.mark-sent", all_uncertain);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pending.edit-address", items->len == 1 && none_sending);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "pending.export", shown > 0);

  if (items->len > 0)
    text = g_strdup_printf (ngettext ("%'u of %'u selected", "%'u of %'u selected", shown), items->len, shown);
  else
    text = g_strdup_printf (ngettext ("%'u message", "%'u messages", shown), shown);
  gtk_label_set_text (self->selection_label, text);
}

static void
on_selection_changed (MsPendingPage *self)
{
  update_actions (self);
}

static void
on_runner_changed (MsPendingPage *self)
{
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    ms_pending_page_reload (self);
}

/* Sends what was queued again: the application's runner resumes the batch,
 * unless it is busy (a running blast of that batch picks the rows up by itself). */
static void
resume_batches (MsPendingPage *self,
                GArray        *batches)
{
  gint64 first;

  if (batches->len == 0)
    return;
  first = g_array_index (batches, gint64, 0);
  if (ms_blast_runner_get_active (self->runner) && !ms_blast_runner_get_paused (self->runner))
    return;
  gtk_widget_activate_action (GTK_WIDGET (self), "app.resume-batch", "x", first);
}

typedef gboolean (*RowDecision) (MsJournal *journal, gint64 row, GError **error);

/* One decision on every selected row, through a connection of the page's
 * own that writes (the page reads through another). */
static gboolean
decide (MsPendingPage *self,
        RowDecision    decision,
        GArray        *batches,
        guint         *done)
{
  g_autoptr(GPtrArray) items = get_selected (self);
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GError) error = NULL;

  *done = 0;
  journal = ms_journal_open (NULL, &error);
  if (journal == NULL)
    {
      show_toast (self, error->message);
      return FALSE;
    }
  for (guint i = 0; i < items->len; i++)
    {
      MsPendingRow *item = g_ptr_array_index (items, i);
      gboolean seen = FALSE;

      if (!decision (journal, item->row->id, &error))
        {
          show_toast (self, error->message);
          ms_pending_page_reload (self);
          return FALSE;
        }
      (*done)++;
      for (guint j = 0; batches != NULL && j < batches->len; j++)
        seen |= g_array_index (batches, gint64, j) == item->row->batch;
      if (batches != NULL && !seen)
        g_array_append_val (batches, item->row->batch);
    }
  ms_pending_page_reload (self);
  return TRUE;
}

static void
retry_action (GtkWidget  *widget,
              const char *action_name,
              GVariant   *parameter)
{
  MsPendingPage *self = MS_PENDING_PAGE (widget);
  g_autoptr(GArray) batches = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autofree char *message = NULL;
  guint done;

  if (!decide (self, ms_journal_retry_row, batches, &done))
    return;
  message = g_strdup_printf (ngettext ("%'u message is queued again.", "%'u messages are queued again.", done), done);
  show_toast (self, message);
  resume_batches (self, batches);
}

static void
skip_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MsPendingPage *self = MS_PENDING_PAGE (widget);
  g_autofree char *message = NULL;
  guint done;

  if (!decide (self, ms_journal_skip_row, NULL, &done))
    return;
  message = g_strdup_printf (ngettext ("%'u message is skipped: it will not be sent.",
                                       "%'u messages are skipped: they will not be sent.", done), done);
  show_toast (self, message);
}

static void
mark_sent_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  MsPendingPage *self = MS_PENDING_PAGE (widget);
  g_autofree char *message = NULL;
  guint done;

  if (!decide (self, ms_journal_mark_sent, NULL, &done))
    return;
  message = g_strdup_printf (ngettext ("%'u message is marked as sent: it will not be sent again.",
                                       "%'u messages are marked as sent: they will not be sent again.", done), done);
  show_toast (self, message);
}

/* The address is checked as the import checks it, while it is typed: the
 * dialog names the bad value before anything is stored. */
static void
on_address_changed (GtkEditable      *entry,
                    AdwMessageDialog *dialog)
{
  g_autofree char *address = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  GtkLabel *problem = g_object_get_data (G_OBJECT (dialog), "problem");
  gboolean valid = ms_recipients_address_is_valid (address);

  adw_message_dialog_set_response_enabled (dialog, "retry", valid);
  if (valid || address[0] == '\0')
    gtk_label_set_text (problem, "");
  else
    {
      /* Translators: %s is what the user typed. */
      g_autofree char *text = g_strdup_printf (_("“%s” is not a valid e-mail address. Enter one address, "
                                                 "such as name@example.org."), address);

      gtk_label_set_text (problem, text);
    }
  gtk_widget_set_visible (GTK_WIDGET (problem), !valid && address[0] != '\0');
  if (valid)
    gtk_widget_remove_css_class (GTK_WIDGET (entry), "error");
  else
    gtk_widget_add_css_class (GTK_WIDGET (entry), "error");
}

static void
on_edit_response (AdwMessageDialog *dialog,
                  const char       *response,
                  MsPendingPage    *self)
{
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  gint64 row = (gint64) GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "row"));
  gint64 batch = (gint64) GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "batch"));
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) batches = g_array_new (FALSE, FALSE, sizeof (gint64));

  if (!g_str_equal (response, "retry"))
    return;
  journal = ms_journal_open (NULL, &error);
  /* The journal checks the address again, and that no other row of the batch has it. */
  if (journal == NULL || !ms_journal_set_row_address (journal, row, gtk_editable_get_text (entry), &error) ||
      !ms_journal_retry_row (journal, row, &error))
    {
      show_toast (self, error->message);
      ms_pending_page_reload (self);
      return;
    }
  show_toast (self, _("The address is corrected and the message queued again."));
  ms_pending_page_reload (self);
  g_array_append_val (batches, batch);
  resume_batches (self, batches);
}

static void
edit_address_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  MsPendingPage *self = MS_PENDING_PAGE (widget);
  g_autoptr(GPtrArray) items = get_selected (self);
  GtkRoot *root = gtk_widget_get_root (widget);
  MsPendingRow *item;
  GtkWidget *dialog, *box, *entry, *problem;
  g_autofree char *body = NULL;

  if (items->len != 1 || self->dialog != NULL)
    return;
  item = g_ptr_array_index (items, 0);
  /* Translators: %s is the recipient's address as it is now. */
  body = g_strdup_printf (_("The message to %s did not go out. Correct the address, for example a typo in "
                            "the domain, and it is sent again."), item->row->address);
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, _("Edit the Address"), body);
  box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), item->row->address);
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_entry_set_input_purpose (GTK_ENTRY (entry), GTK_INPUT_PURPOSE_EMAIL);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("E-mail address"), -1);
  problem = gtk_label_new (NULL);
  gtk_label_set_wrap (GTK_LABEL (problem), TRUE);
  gtk_label_set_xalign (GTK_LABEL (problem), 0);
  gtk_widget_add_css_class (problem, "error");
  gtk_widget_set_visible (problem, FALSE);
  gtk_box_append (GTK_BOX (box), entry);
  gtk_box_append (GTK_BOX (box), problem);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), box);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "retry", _("_Save and Retry"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "retry", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "retry");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_object_set_data (G_OBJECT (dialog), "problem", problem);
  g_object_set_data (G_OBJECT (dialog), "row", GSIZE_TO_POINTER ((gsize) item->row->id));
  g_object_set_data (G_OBJECT (dialog), "batch", GSIZE_TO_POINTER ((gsize) item->row->batch));
  g_signal_connect_object (entry, "changed", G_CALLBACK (on_address_changed), dialog, 0);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_edit_response), self, 0);
  on_address_changed (GTK_EDITABLE (entry), ADW_MESSAGE_DIALOG (dialog));
  self->dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  gtk_window_present (GTK_WINDOW (dialog));
  gtk_widget_grab_focus (entry);
}

gboolean
ms_pending_page_export (MsPendingPage  *self,
                        GFile          *file,
                        GError        **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new ();
  g_autoptr(GFileOutputStream) out = NULL;
  GListModel *shown;

  g_return_val_if_fail (MS_IS_PENDING_PAGE (self), FALSE);
  g_return_val_if_fail (G_IS_FILE (file), FALSE);

  /* The rows as shown, filtered and sorted; they are in memory already. */
  shown = G_LIST_MODEL (self->selection);
  for (guint i = 0; i < g_list_model_get_n_items (shown); i++)
    {
      g_autoptr(MsPendingRow) item = g_list_model_get_item (shown, i);

      g_ptr_array_add (rows, item->row);
    }
  out = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, NULL, error);
  return out != NULL && ms_journal_write_rows_csv (rows, G_OUTPUT_STREAM (out), NULL, error) &&
         g_output_stream_close (G_OUTPUT_STREAM (out), NULL, error);
}

static void
on_export_chosen (GtkNativeDialog *chooser,
                  int              response,
                  MsPendingPage   *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      g_autoptr(GFile) file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_file_get_basename (file);
      g_autofree char *message = NULL;

      if (!ms_pending_page_export (self, file, &error))
        /* Translators: %s is a file name, then why it could not be written. */
        message = g_strdup_printf (_("The list could not be saved as %s: %s"), name, error->message);
      else
        /* Translators: %s is a file name. */
        message = g_strdup_printf (_("The list was saved as %s."), name);
      show_toast (self, message);
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsPendingPage *self = MS_PENDING_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();

  chooser = gtk_file_chooser_native_new (_("Export the Pending E-mails"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_filter_set_name (filter, _("CSV files"));
  gtk_file_filter_add_mime_type (filter, "text/csv");
  gtk_file_filter_add_suffix (filter, "csv");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  /* Translators: the suggested file name of the exported pending e-mails. */
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), _("pending-e-mails.csv"));
  g_signal_connect_object (chooser, "response", G_CALLBACK (on_export_chosen), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ------------------------------------------------------------ object */

static void
setup_batch_choice (GtkSignalListItemFactory *factory,
                    GtkListItem              *item,
                    gpointer                  user_data)
{
  GtkWidget *label = gtk_label_new (NULL);

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  /* Long subjects (and German state names) must not widen the bar past a
   * phone's width: at 360 px the two choices and the toggle share 336 px. */
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_width_chars (GTK_LABEL (label), 4);
  gtk_label_set_max_width_chars (GTK_LABEL (label), GPOINTER_TO_INT (user_data));
  gtk_list_item_set_child (item, label);
}

static void
bind_batch_choice (GtkSignalListItemFactory *factory,
                   GtkListItem              *item,
                   gpointer                  user_data)
{
  gtk_label_set_text (GTK_LABEL (gtk_list_item_get_child (item)),
                      gtk_string_object_get_string (gtk_list_item_get_item (item)));
}

static GtkListItemFactory *
batch_choice_factory (int max_chars)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();

  g_signal_connect (factory, "setup", G_CALLBACK (setup_batch_choice), GINT_TO_POINTER (max_chars));
  g_signal_connect (factory, "bind", G_CALLBACK (bind_batch_choice), NULL);
  return factory;
}

static void
ms_pending_page_dispose (GObject *object)
{
  MsPendingPage *self = MS_PENDING_PAGE (object);

  g_clear_handle_id (&self->poll_id, g_source_remove);
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_PENDING_PAGE);
  g_clear_object (&self->runner);
  g_clear_object (&self->journal);
  g_clear_object (&self->store);
  g_clear_object (&self->filter);
  /* Its last unref takes the column view's sorter with it, which emits
   * items-changed on the way out: with the pointer already cleared, the
   * handler would ask a NULL model for its selection. */
  if (self->selection != NULL)
    g_signal_handlers_disconnect_by_data (self->selection, self);
  g_clear_object (&self->selection);

  G_OBJECT_CLASS (ms_pending_page_parent_class)->dispose (object);
}

static void
ms_pending_page_finalize (GObject *object)
{
  MsPendingPage *self = MS_PENDING_PAGE (object);

  g_clear_pointer (&self->cause, g_free);
  g_clear_pointer (&self->batch_ids, g_array_unref);

  G_OBJECT_CLASS (ms_pending_page_parent_class)->finalize (object);
}

static void
ms_pending_page_class_init (MsPendingPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ms_pending_page_dispose;
  object_class->finalize = ms_pending_page_finalize;
  widget_class->map = ms_pending_page_map;
  widget_class->unmap = ms_pending_page_unmap;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-pending-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, stack);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, empty_page);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, state_dropdown);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, batch_dropdown);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, batch_list);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, cause_toggle);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, cause_revealer);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, cause_label);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, column_view);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, recipient_column);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, batch_column);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, state_column);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, attempts_column);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, reply_column);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, advice_column);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, cause_list);
  gtk_widget_class_bind_template_child (widget_class, MsPendingPage, selection_label);
  gtk_widget_class_bind_template_callback (widget_class, on_filter_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_cause_toggled);
  gtk_widget_class_bind_template_callback (widget_class, on_cause_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_show_all_causes);

  gtk_widget_class_install_action (widget_class, "pending.retry", NULL, retry_action);
  gtk_widget_class_install_action (widget_class, "pending.skip", NULL, skip_action);
  gtk_widget_class_install_action (widget_class, "pending.mark-sent", NULL, mark_sent_action);
  gtk_widget_class_install_action (widget_class, "pending.edit-address", NULL, edit_address_action);
  gtk_widget_class_install_action (widget_class, "pending.export", NULL, export_action);
}

static void
ms_pending_page_init (MsPendingPage *self)
{
  GtkFilterListModel *filtered;
  GtkSortListModel *sorted;
  g_autoptr(GtkListItemFactory) button_factory = batch_choice_factory (18);
  g_autoptr(GtkListItemFactory) list_factory = batch_choice_factory (48);

  self->state = MS_N_STATES;
  self->batch_ids = g_array_new (FALSE, TRUE, sizeof (gint64));
  g_array_set_size (self->batch_ids, 1);
  gtk_widget_init_template (GTK_WIDGET (self));
  ms_a11y_fix_names (GTK_WIDGET (self));
  gtk_drop_down_set_factory (self->batch_dropdown, button_factory);
  gtk_drop_down_set_list_factory (self->batch_dropdown, list_factory);
  gtk_drop_down_set_factory (self->state_dropdown, button_factory);
  gtk_drop_down_set_list_factory (self->state_dropdown, list_factory);

  set_up_column (self->recipient_column, COL_RECIPIENT);
  set_up_column (self->batch_column, COL_BATCH);
  set_up_column (self->state_column, COL_STATE);
  set_up_column (self->attempts_column, COL_ATTEMPTS);
  set_up_column (self->reply_column, COL_REPLY);
  set_up_column (self->advice_column, COL_ADVICE);

  /* store → state, batch and cause → the column headers' sort → a multiple selection */
  self->store = g_list_store_new (MS_TYPE_PENDING_ROW);
  self->filter = gtk_custom_filter_new (row_matches, self, NULL);
  filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->store)),
                                        GTK_FILTER (g_object_ref (self->filter)));
  sorted = gtk_sort_list_model_new (G_LIST_MODEL (filtered),
                                    g_object_ref (gtk_column_view_get_sorter (self->column_view)));
  self->selection = gtk_multi_selection_new (G_LIST_MODEL (sorted));
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (self->selection));
  /* The newest batch's rows first, as the Batches page lists them. */
  gtk_column_view_sort_by_column (self->column_view, self->batch_column, GTK_SORT_ASCENDING);
  g_signal_connect_object (self->selection, "selection-changed", G_CALLBACK (on_selection_changed), self,
                           G_CONNECT_SWAPPED);
  g_signal_connect_object (self->selection, "items-changed", G_CALLBACK (on_selection_changed), self,
                           G_CONNECT_SWAPPED);
  update_actions (self);
}
