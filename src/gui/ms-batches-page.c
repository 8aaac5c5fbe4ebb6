/* ms-batches-page.c: every batch, newest first, and the report of one
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ms-a11y.h"
#include "ms-batches-page.h"

/* How often the journal is asked whether it changed, while the page shows. */
#define POLL_MS 1500

/* ------------------------------------------------------------ a report row */

/* One line of the report, for the list models: a GObject that owns
 * the journal's recipient row, or a row the import left out (exactly one
 * of the two). Private to this page. */
#define MS_TYPE_REPORT_ROW (ms_report_row_get_type ())
G_DECLARE_FINAL_TYPE (MsReportRow, ms_report_row, MS, REPORT_ROW, GObject)

struct _MsReportRow
{
  GObject           parent_instance;
  MsJournalRow     *row;
  MsJournalLeftOut *left_out;
};

G_DEFINE_FINAL_TYPE (MsReportRow, ms_report_row, G_TYPE_OBJECT)

static void
ms_report_row_finalize (GObject *object)
{
  g_clear_pointer (&MS_REPORT_ROW (object)->row, ms_journal_row_free);
  g_clear_pointer (&MS_REPORT_ROW (object)->left_out, ms_journal_left_out_free);
  G_OBJECT_CLASS (ms_report_row_parent_class)->finalize (object);
}

static void
ms_report_row_class_init (MsReportRowClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_report_row_finalize;
}

static void
ms_report_row_init (MsReportRow *self)
{
}

/* The columns; a merge field's column is FIELD_BASE + its index in the CSV. */
enum {
  COL_ADDRESS,
  COL_STATE,
  COL_ATTEMPTS,
  COL_TIME,
  COL_REPLY,
  COL_MESSAGE_ID,
  FIELD_BASE = 1000,
};

/* ------------------------------------------------------------------ page */

struct _MsBatchesPage
{
  AdwBin             parent_instance;

  MsBlastRunner     *runner;
  MsJournal         *journal;       /* for reading; NULL until it opens */
  gint64             stamp;         /* ms_journal_check_changed() */
  guint              poll_id;
  GPtrArray         *batches;       /* MsBatchInfo, newest first */
  gint64             open_batch;
  MsBatchSpec       *open_spec;
  GListStore        *report_store;  /* MsReportRow */
  GtkCustomFilter   *search_filter;
  GtkSortListModel  *report_sorted;
  GPtrArray         *field_columns; /* GtkColumnViewColumn of the merge fields */
  AdwMessageDialog  *dialog;        /* weak */

  GtkStack          *stack;
  AdwStatusPage     *empty_page;
  GtkListBox        *batch_list;
  GtkLabel          *report_title;
  GtkLabel          *report_subtitle;
  GtkLabel          *report_counts;
  GtkButton         *resume_button;
  GtkButton         *cancel_button;
  GtkSearchEntry    *search_entry;
  GtkColumnView     *column_view;
  GtkColumnViewColumn *address_column;
  GtkColumnViewColumn *state_column;
  GtkColumnViewColumn *attempts_column;
  GtkColumnViewColumn *time_column;
  GtkColumnViewColumn *reply_column;
  GtkColumnViewColumn *message_id_column;
};

G_DEFINE_FINAL_TYPE (MsBatchesPage, ms_batches_page, ADW_TYPE_BIN)

static void on_runner_changed  (MsBatchesPage *self);
static void on_runner_finished (MsBatchesPage *self);

MsBatchesPage *
ms_batches_page_new (MsBlastRunner *runner)
{
  MsBatchesPage *self;

  g_return_val_if_fail (MS_IS_BLAST_RUNNER (runner), NULL);

  self = g_object_new (MS_TYPE_BATCHES_PAGE, NULL);
  self->runner = g_object_ref (runner);
  g_signal_connect_object (runner, "notify::active", G_CALLBACK (on_runner_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (runner, "notify::paused", G_CALLBACK (on_runner_changed), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (runner, "finished", G_CALLBACK (on_runner_finished), self, G_CONNECT_SWAPPED);
  return self;
}

static char *
format_local_time (gint64 unix_seconds)
{
  g_autoptr(GDateTime) dt = NULL;

  if (unix_seconds <= 0)
    return g_strdup ("");
  dt = g_date_time_new_from_unix_local (unix_seconds);
  return dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M") : g_strdup ("");
}

static const char *
batch_status_label (MsBatchStatus status)
{
  switch (status)
    {
    case MS_BATCH_READY: return _("Not started");
    case MS_BATCH_RUNNING: return _("Sending");
    case MS_BATCH_PAUSED: return _("Paused");
    case MS_BATCH_FINISHED: return _("Finished");
    case MS_BATCH_CANCELLED: return _("Cancelled");
    default: return "";
    }
}

/* "1,234 sent · 12 failed · 3 uncertain": whole phrases, so that each
 * language puts the number where it goes. */
static char *
format_counts (const MsBatchInfo *info)
{
  GString *s = g_string_new (NULL);

  g_string_printf (s, ngettext ("%'u of %'u sent", "%'u of %'u sent", info->total),
                   info->counts[MS_STATE_SENT], info->total);
  g_string_append (s, " · ");
  g_string_append_printf (s, ngettext ("%'u failed", "%'u failed", info->counts[MS_STATE_FAILED]),
                          info->counts[MS_STATE_FAILED]);
  g_string_append (s, " · ");
  g_string_append_printf (s, ngettext ("%'u uncertain", "%'u uncertain", info->counts[MS_STATE_UNCERTAIN]),
                          info->counts[MS_STATE_UNCERTAIN]);
  return g_string_free (s, FALSE);
}

static gboolean
ensure_journal (MsBatchesPage *self)
{
  g_autoptr(GError) error = NULL;

  if (self->journal != NULL)
    return TRUE;
  /* Shown on a full disk and on a read-only journal too. */
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

static MsBatchInfo *
find_batch (MsBatchesPage *self,
            gint64         batch)
{
  for (guint i = 0; self->batches != NULL && i < self->batches->len; i++)
    {
      MsBatchInfo *info = g_ptr_array_index (self->batches, i);

      if (info->id == batch)
        return info;
    }
  return NULL;
}

static GtkWidget *
create_batch_row (MsBatchInfo *info)
{
  GtkWidget *row = adw_action_row_new ();
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, info->id);
  g_autofree char *created = format_local_time (info->created);
  g_autofree char *counts = format_counts (info);
  g_autofree char *subject = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *escaped = NULL;

  subject = info->subject != NULL && info->subject[0] != '\0' ? g_strdup (info->subject) : g_strdup (_("(no subject)"));
  escaped = g_markup_escape_text (subject, -1);
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), escaped);
  adw_action_row_set_title_lines (ADW_ACTION_ROW (row), 1);
  /* Translators: a batch's status, when it was created, its account and ID,
   * then a line of counts: "Finished · 2026-12-04 20:47 · default · batch 3". */
  subtitle = g_strdup_printf (_("%s · %s · %s · batch %s\n%s"), batch_status_label (info->status), created,
                              info->account != NULL ? info->account : "", id, counts);
  g_free (escaped);
  escaped = g_markup_escape_text (subtitle, -1);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), escaped);
  adw_action_row_set_subtitle_lines (ADW_ACTION_ROW (row), 0);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), gtk_image_new_from_icon_name ("go-next-symbolic"));
  gtk_list_box_row_set_activatable (GTK_LIST_BOX_ROW (row), TRUE);
  g_object_set_data (G_OBJECT (row), "batch", GSIZE_TO_POINTER ((gsize) info->id));
  return row;
}

/* ---------------------------------------------------------------- report */

/* A row the import left out: never tried, its reason where a reply goes. */
static char *
left_out_cell_text (const MsJournalLeftOut *left_out,
                    int                     column)
{
  switch (column)
    {
    case COL_ADDRESS:
      return g_strdup (left_out->address != NULL ? left_out->address : "");
    case COL_STATE:
      return g_strdup (C_("recipient state", "Left out"));
    case COL_REPLY:
      return g_strdup (left_out->reason != NULL ? left_out->reason : "");
    case COL_ATTEMPTS:
    case COL_TIME:
    case COL_MESSAGE_ID:
      return g_strdup ("");
    default:
      if (column >= FIELD_BASE && left_out->values != NULL &&
          (guint) (column - FIELD_BASE) < g_strv_length (left_out->values))
        return g_strdup (left_out->values[column - FIELD_BASE]);
      return g_strdup ("");
    }
}

static char *
cell_text (const MsReportRow *item,
           int                column)
{
  const MsJournalRow *row = item->row;

  if (item->left_out != NULL)
    return left_out_cell_text (item->left_out, column);
  switch (column)
    {
    case COL_ADDRESS:
      return g_strdup (row->address);
    case COL_STATE:
      return g_strdup (ms_recipient_state_get_label (row->state));
    case COL_ATTEMPTS:
      return g_strdup_printf ("%u", row->attempts);
    case COL_TIME:
      {
        gint64 when = row->sent_at > 0 ? row->sent_at : row->updated_at;
        g_autoptr(GDateTime) dt = when > 0 ? g_date_time_new_from_unix_local (when) : NULL;

        return dt != NULL ? g_date_time_format (dt, "%Y-%m-%d %H:%M:%S") : g_strdup ("");
      }
    case COL_REPLY:
      /* The code and the text as stored: the enhanced code (5.1.1) stays. */
      if (row->reply_code > 0)
        return g_strdup_printf ("%d %s", row->reply_code, row->reply_text != NULL ? row->reply_text : "");
      return g_strdup (row->reply_text != NULL ? row->reply_text : "");
    case COL_MESSAGE_ID:
      return g_strdup (row->message_id != NULL ? row->message_id : "");
    default:
      if (column >= FIELD_BASE && row->values != NULL &&
          (guint) (column - FIELD_BASE) < g_strv_length (row->values))
        return g_strdup (row->values[column - FIELD_BASE]);
      return g_strdup ("");
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
  int chars = column == COL_ADDRESS ? 22 : column == COL_REPLY ? 28 : column == COL_MESSAGE_ID ? 20 :
              column == COL_TIME ? 17 : column == COL_ATTEMPTS ? 3 : column == COL_STATE ? 8 : 10;

  gtk_label_set_xalign (GTK_LABEL (label), 0);
  gtk_label_set_ellipsize (GTK_LABEL (label), PANGO_ELLIPSIZE_END);
  gtk_label_set_width_chars (GTK_LABEL (label), chars);
  gtk_label_set_max_width_chars (GTK_LABEL (label), 40);
  gtk_list_item_set_child (item, label);
}

static void
bind_cell (GtkSignalListItemFactory *factory,
           GtkListItem              *item,
           gpointer                  user_data)
{
  MsReportRow *row = gtk_list_item_get_item (item);
  GtkWidget *label = gtk_list_item_get_child (item);
  g_autofree char *text = cell_text (row, GPOINTER_TO_INT (user_data));

  gtk_label_set_text (GTK_LABEL (label), text);
  /* Long replies are cut on screen; the whole text is a hover away. */
  gtk_widget_set_tooltip_text (label, GPOINTER_TO_INT (user_data) == COL_REPLY && text[0] != '\0' ? text : NULL);
}

static int
compare_cells (gconstpointer a,
               gconstpointer b,
               gpointer      user_data)
{
  const MsReportRow *ia = MS_REPORT_ROW ((gpointer) a);
  const MsReportRow *ib = MS_REPORT_ROW ((gpointer) b);
  const MsJournalRow *ra = ia->row;
  const MsJournalRow *rb = ib->row;
  int column = GPOINTER_TO_INT (user_data);
  g_autofree char *ta = NULL;
  g_autofree char *tb = NULL;
  guint la, lb;
  int result;

  /* A left-out row was never tried: no attempts, no time; its state sorts last. */
  if (ra == NULL || rb == NULL)
    {
      switch (column)
        {
        case COL_ATTEMPTS:
          result = (ra != NULL && ra->attempts > 0) - (rb != NULL && rb->attempts > 0);
          break;
        case COL_TIME:
          result = (ra != NULL) - (rb != NULL);
          break;
        case COL_STATE:
          result = (ra == NULL) - (rb == NULL);
          break;
        default:
          ta = cell_text (ia, column);
          tb = cell_text (ib, column);
          result = g_utf8_collate (ta, tb);
          break;
        }
    }
  else switch (column)
    {
    case COL_ATTEMPTS:
      result = (ra->attempts > rb->attempts) - (ra->attempts < rb->attempts);
      break;
    case COL_TIME:
      {
        gint64 wa = ra->sent_at > 0 ? ra->sent_at : ra->updated_at;
        gint64 wb = rb->sent_at > 0 ? rb->sent_at : rb->updated_at;

        result = (wa > wb) - (wa < wb);
      }
      break;
    case COL_STATE:
      result = (ra->state > rb->state) - (ra->state < rb->state);
      break;
    default:
      ta = cell_text (ia, column);
      tb = cell_text (ib, column);
      result = g_utf8_collate (ta, tb);
      break;
    }
  /* Then in the order of the list's lines, as the report comes. */
  la = ra != NULL ? ra->line : ia->left_out->line;
  lb = rb != NULL ? rb->line : ib->left_out->line;
  if (result == 0)
    result = (la > lb) - (la < lb);
  if (result == 0 && ra != NULL && rb != NULL)
    result = (ra->id > rb->id) - (ra->id < rb->id);
  return result < 0 ? GTK_ORDERING_SMALLER : result > 0 ? GTK_ORDERING_LARGER : GTK_ORDERING_EQUAL;
}

static void
set_up_column (GtkColumnViewColumn *column,
               int                  id)
{
  GtkListItemFactory *factory = gtk_signal_list_item_factory_new ();
  g_autoptr(GtkSorter) sorter = GTK_SORTER (gtk_custom_sorter_new (compare_cells, GINT_TO_POINTER (id), NULL));

  g_signal_connect (factory, "setup", G_CALLBACK (setup_cell), GINT_TO_POINTER (id));
  g_signal_connect (factory, "bind", G_CALLBACK (bind_cell), GINT_TO_POINTER (id));
  gtk_column_view_column_set_factory (column, factory);
  gtk_column_view_column_set_sorter (column, sorter);
  gtk_column_view_column_set_resizable (column, TRUE);
  g_object_unref (factory);
}

static gboolean
search_matches (gpointer item,
                gpointer user_data)
{
  MsBatchesPage *self = user_data;
  const MsJournalRow *row = MS_REPORT_ROW (item)->row;
  const MsJournalLeftOut *left_out = MS_REPORT_ROW (item)->left_out;
  const char *query = gtk_editable_get_text (GTK_EDITABLE (self->search_entry));
  g_autofree char *needle = NULL;
  g_autofree char *reply = NULL;

  if (query[0] == '\0')
    return TRUE;
  needle = g_utf8_casefold (query, -1);
  if (left_out != NULL)
    {
      const char *texts[3] = { left_out->address, left_out->reason, C_("recipient state", "Left out") };

      for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
        {
          g_autofree char *folded = texts[i] != NULL ? g_utf8_casefold (texts[i], -1) : NULL;

          if (folded != NULL && strstr (folded, needle) != NULL)
            return TRUE;
        }
      for (guint i = 0; left_out->values != NULL && left_out->values[i] != NULL; i++)
        {
          g_autofree char *folded = g_utf8_casefold (left_out->values[i], -1);

          if (strstr (folded, needle) != NULL)
            return TRUE;
        }
      return FALSE;
    }
  {
    const char *texts[4] = { row->address, row->reply_text, row->message_id,
                             ms_recipient_state_get_label (row->state) };

    for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
      {
        g_autofree char *folded = texts[i] != NULL ? g_utf8_casefold (texts[i], -1) : NULL;

        if (folded != NULL && strstr (folded, needle) != NULL)
          return TRUE;
      }
  }
  for (guint i = 0; row->values != NULL && row->values[i] != NULL; i++)
    {
      g_autofree char *folded = g_utf8_casefold (row->values[i], -1);

      if (strstr (folded, needle) != NULL)
        return TRUE;
    }
  reply = g_strdup_printf ("%d", row->reply_code);
  return row->reply_code > 0 && strstr (reply, needle) != NULL;
}

static void
on_search_changed (MsBatchesPage *self)
{
  gtk_filter_changed (GTK_FILTER (self->search_filter), GTK_FILTER_CHANGE_DIFFERENT);
}

static void
remove_field_columns (MsBatchesPage *self)
{
  for (guint i = 0; i < self->field_columns->len; i++)
    gtk_column_view_remove_column (self->column_view, g_ptr_array_index (self->field_columns, i));
  g_ptr_array_set_size (self->field_columns, 0);
}

/* One column per merge field, after the address; the address field itself
 * is the address column. */
static void
add_field_columns (MsBatchesPage *self)
{
  guint position = 1;

  for (guint i = 0; self->open_spec->fields != NULL && self->open_spec->fields[i] != NULL; i++)
    {
      g_autoptr(GtkColumnViewColumn) column = NULL;

      if (i == self->open_spec->email_index)
        continue;
      column = gtk_column_view_column_new (self->open_spec->fields[i], NULL);
      set_up_column (column, FIELD_BASE + (int) i);
      g_object_set_data_full (G_OBJECT (column), "field", g_strdup (self->open_spec->fields[i]), g_free);
      gtk_column_view_insert_column (self->column_view, position++, column);
      g_ptr_array_add (self->field_columns, g_object_ref (column));
    }
}

static void
update_report_actions (MsBatchesPage *self)
{
  g_autoptr(GError) resume_error = NULL;
  g_autoptr(GError) cancel_error = NULL;
  gboolean mine = ms_blast_runner_get_active (self->runner) && ms_blast_runner_get_batch (self->runner) == self->open_batch;
  gboolean can_resume = FALSE, can_cancel = FALSE;

  if (self->open_batch > 0 && self->journal != NULL)
    {
      /* The rules are the journal's, as for mailshot-cli blast resume/cancel. */
      can_resume = ms_journal_check_can_resume (self->journal, self->open_batch, &resume_error);
      can_cancel = ms_journal_check_can_cancel (self->journal, self->open_batch, &cancel_error);
    }
  /* This app is sending it: pause, resume and cancel are in the progress bar above. */
  if (mine && !ms_blast_runner_get_paused (self->runner))
    can_resume = can_cancel = FALSE;
  else if (mine)
    can_cancel = FALSE;
  /* One e-blast at a time. */
  if (ms_blast_runner_get_active (self->runner) && !mine)
    can_resume = FALSE;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "batches.resume", can_resume);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "batches.cancel", can_cancel);
  /* A greyed button says why, in the journal's words. */
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->resume_button),
                               resume_error != NULL ? resume_error->message : _("Resume the Batch"));
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->cancel_button),
                               cancel_error != NULL ? cancel_error->message : _("Cancel the Batch"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "batches.export", self->open_batch > 0);
}

static void
load_report (MsBatchesPage *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) rows = NULL;
  g_autoptr(GPtrArray) left_out = NULL;
  g_autoptr(GPtrArray) items = NULL;
  MsBatchInfo *info = find_batch (self, self->open_batch);
  g_autofree char *created = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *counts = NULL;

  if (info == NULL)
    return;
  created = format_local_time (info->created);
  gtk_label_set_text (self->report_title, info->subject != NULL && info->subject[0] != '\0'
                                           ? info->subject : _("(no subject)"));
  subtitle = g_strdup_printf ("%s · %s · %s", batch_status_label (info->status), created,
                              info->account != NULL ? info->account : "");
  gtk_label_set_text (self->report_subtitle, subtitle);
  counts = format_counts (info);
  gtk_label_set_text (self->report_counts, counts);

  rows = ms_journal_list_rows (self->journal, self->open_batch, NULL, 0, &error);
  if (rows != NULL)
    left_out = ms_journal_list_left_out (self->journal, self->open_batch, &error);
  if (rows == NULL || left_out == NULL)
    {
      gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", error->message);
      return;
    }
  /* The store takes the rows over: no copy of a large report. The rows
   * left out at import go in among the recipients, in the list's order. */
  g_ptr_array_set_free_func (rows, NULL);
  g_ptr_array_set_free_func (left_out, NULL);
  items = g_ptr_array_new_full (rows->len + left_out->len, g_object_unref);
  for (guint i = 0, j = 0; i < rows->len || j < left_out->len; )
    {
      MsReportRow *item = g_object_new (MS_TYPE_REPORT_ROW, NULL);
      MsJournalRow *row = i < rows->len ? g_ptr_array_index (rows, i) : NULL;
      MsJournalLeftOut *l = j < left_out->len ? g_ptr_array_index (left_out, j) : NULL;

      if (l != NULL && (row == NULL || l->line < row->line))
        item->left_out = l, j++;
      else
        item->row = row, i++;
      g_ptr_array_add (items, item);
    }
  if (left_out->len > 0)
    {
      /* Translators: the report's counts, then how many rows of the list were not imported. */
      g_autofree char *more = g_strdup_printf (ngettext ("%s · %'u left out at import", "%s · %'u left out at import",
                                                         left_out->len), counts, left_out->len);

      gtk_label_set_text (self->report_counts, more);
    }
  g_list_store_splice (self->report_store, 0, g_list_model_get_n_items (G_LIST_MODEL (self->report_store)),
                       items->pdata, items->len);
  update_report_actions (self);
}

/* ---------------------------------------------------------------- reload */

void
ms_batches_page_reload (MsBatchesPage *self)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) batches = NULL;

  g_return_if_fail (MS_IS_BATCHES_PAGE (self));

  if (!ensure_journal (self))
    return;
  /* The stamp moves on with every reload, so that the poll does not reload twice. */
  ms_journal_check_changed (self->journal, &self->stamp);
  batches = ms_journal_list_batches (self->journal, &error);
  if (batches == NULL)
    {
      adw_status_page_set_title (self->empty_page, _("The Journal Cannot Be Read"));
      adw_status_page_set_description (self->empty_page, error->message);
      gtk_stack_set_visible_child_name (self->stack, "empty");
      return;
    }
  g_clear_pointer (&self->batches, g_ptr_array_unref);
  self->batches = g_steal_pointer (&batches);

  /* gtk_list_box_remove_all() is GTK 4.12. */
  for (GtkWidget *child; (child = gtk_widget_get_first_child (GTK_WIDGET (self->batch_list))) != NULL; )
    gtk_list_box_remove (self->batch_list, child);
  for (guint i = 0; i < self->batches->len; i++)
    gtk_list_box_append (self->batch_list, create_batch_row (g_ptr_array_index (self->batches, i)));

  if (self->open_batch > 0 && find_batch (self, self->open_batch) != NULL)
    {
      load_report (self);
      return;
    }
  self->open_batch = 0;
  adw_status_page_set_title (self->empty_page, _("No E-blasts Yet"));
  adw_status_page_set_description (self->empty_page,
                                   _("Every e-blast sent from this computer is listed here, with a report of "
                                     "what happened to each message."));
  gtk_stack_set_visible_child_name (self->stack, self->batches->len > 0 ? "list" : "empty");
  update_report_actions (self);
}

static gboolean
poll_journal (gpointer user_data)
{
  MsBatchesPage *self = user_data;

  if (self->journal == NULL || ms_journal_check_changed (self->journal, &self->stamp))
    ms_batches_page_reload (self);
  return G_SOURCE_CONTINUE;
}

static void
ms_batches_page_map (GtkWidget *widget)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (widget);

  GTK_WIDGET_CLASS (ms_batches_page_parent_class)->map (widget);
  ms_batches_page_reload (self);
  /* Only while shown: a hidden page costs nothing. */
  if (self->poll_id == 0)
    self->poll_id = g_timeout_add (POLL_MS, poll_journal, self);
}

static void
ms_batches_page_unmap (GtkWidget *widget)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (widget);

  g_clear_handle_id (&self->poll_id, g_source_remove);
  GTK_WIDGET_CLASS (ms_batches_page_parent_class)->unmap (widget);
}

GPtrArray *
ms_batches_page_get_batches (MsBatchesPage *self)
{
  g_return_val_if_fail (MS_IS_BATCHES_PAGE (self), NULL);

  if (self->batches == NULL)
    ms_batches_page_reload (self);
  return self->batches;
}

gboolean
ms_batches_page_open_batch (MsBatchesPage *self,
                            gint64         batch)
{
  g_autoptr(GError) error = NULL;

  g_return_val_if_fail (MS_IS_BATCHES_PAGE (self), FALSE);

  self->open_batch = 0;
  ms_batches_page_reload (self);
  if (find_batch (self, batch) == NULL)
    return FALSE;
  g_clear_pointer (&self->open_spec, ms_batch_spec_free);
  self->open_spec = ms_journal_get_batch_spec (self->journal, batch, &error);
  if (self->open_spec == NULL)
    {
      gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", error->message);
      return FALSE;
    }
  self->open_batch = batch;
  remove_field_columns (self);
  add_field_columns (self);
  gtk_editable_set_text (GTK_EDITABLE (self->search_entry), "");
  g_list_store_remove_all (self->report_store);
  load_report (self);
  gtk_stack_set_visible_child_name (self->stack, "report");
  return TRUE;
}

gint64
ms_batches_page_get_open_batch (MsBatchesPage *self)
{
  g_return_val_if_fail (MS_IS_BATCHES_PAGE (self), 0);

  return self->open_batch;
}

GListModel *
ms_batches_page_get_report_model (MsBatchesPage *self)
{
  g_return_val_if_fail (MS_IS_BATCHES_PAGE (self), NULL);

  return G_LIST_MODEL (self->report_sorted);
}

char *
ms_batches_page_dup_report_cell (MsBatchesPage *self,
                                 guint          position,
                                 const char    *column)
{
  g_autoptr(MsReportRow) item = NULL;
  static const char *names[] = { "address", "state", "attempts", "time", "reply", "message-id" };

  g_return_val_if_fail (MS_IS_BATCHES_PAGE (self), NULL);
  g_return_val_if_fail (column != NULL, NULL);

  item = g_list_model_get_item (G_LIST_MODEL (self->report_sorted), position);
  if (item == NULL)
    return NULL;
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (column, names[i]))
      return cell_text (item, (int) i);
  for (guint i = 0; self->open_spec != NULL && self->open_spec->fields[i] != NULL; i++)
    if (g_str_equal (column, self->open_spec->fields[i]))
      return cell_text (item, FIELD_BASE + (int) i);
  return NULL;
}

static void
on_batch_activated (MsBatchesPage *self,
                    GtkListBoxRow *row)
{
  ms_batches_page_open_batch (self, (gint64) GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (row), "batch")));
}

static void
back_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (widget);

  self->open_batch = 0;
  g_list_store_remove_all (self->report_store);
  ms_batches_page_reload (self);
}

static void
resume_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (widget);

  if (self->open_batch <= 0)
    return;
  /* The application owns the runner: up through its action. */
  gtk_widget_activate_action (widget, "app.resume-batch", "x", self->open_batch);
  update_report_actions (self);
}

static void
on_cancel_response (AdwMessageDialog *dialog,
                    const char       *response,
                    MsBatchesPage    *self)
{
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GError) error = NULL;
  gint64 batch = (gint64) GPOINTER_TO_SIZE (g_object_get_data (G_OBJECT (dialog), "batch"));

  if (!g_str_equal (response, "cancel-batch"))
    return;
  /* Changes go through a connection of their own: the page reads. */
  journal = ms_journal_open (NULL, &error);
  if (journal == NULL || !ms_journal_check_can_cancel (journal, batch, &error) ||
      !ms_journal_cancel_batch (journal, batch, &error))
    {
      gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", error->message);
      return;
    }
  gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", _("The batch was cancelled."));
  ms_batches_page_reload (self);
}

static void
cancel_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkWidget *dialog;

  if (self->open_batch <= 0 || self->dialog != NULL)
    return;
  dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, _("Cancel This Batch?"),
                                   _("Its messages not sent yet will not be sent. Those sent stay sent. "
                                     "A cancelled batch cannot be resumed."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "keep", _("_Keep Batch"),
                                    "cancel-batch", _("_Cancel Batch"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "cancel-batch", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "keep");
  g_object_set_data (G_OBJECT (dialog), "batch", GSIZE_TO_POINTER ((gsize) self->open_batch));
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_cancel_response), self, 0);
  self->dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---------------------------------------------------------------- export */

static void
export_thread (GTask        *task,
               gpointer      source,
               gpointer      task_data,
               GCancellable *cancellable)
{
  GFile *file = g_object_get_data (G_OBJECT (task), "file");
  gint64 batch = *(gint64 *) task_data;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(GFileOutputStream) out = NULL;
  GError *error = NULL;

  /* A journal of the thread's own: a connection belongs to one thread. */
  journal = ms_journal_open_for_reading (NULL, &error);
  if (journal == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  out = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_REPLACE_DESTINATION, cancellable, &error);
  if (out == NULL ||
      !ms_journal_write_report_csv (journal, batch, G_OUTPUT_STREAM (out), cancellable, &error) ||
      !g_output_stream_close (G_OUTPUT_STREAM (out), cancellable, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

void
ms_batches_page_export_async (MsBatchesPage       *self,
                              GFile               *file,
                              GCancellable        *cancellable,
                              GAsyncReadyCallback  callback,
                              gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MS_IS_BATCHES_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_batches_page_export_async);
  if (self->open_batch <= 0)
    {
      g_task_return_new_error (task, MS_ERROR, MS_ERROR_NOT_FOUND, "%s", _("Open a batch first."));
      return;
    }
  g_task_set_task_data (task, g_memdup2 (&self->open_batch, sizeof self->open_batch), g_free);
  g_object_set_data_full (G_OBJECT (task), "file", g_object_ref (file), g_object_unref);
  g_task_run_in_thread (task, export_thread);
}

gboolean
ms_batches_page_export_finish (MsBatchesPage  *self,
                               GAsyncResult   *result,
                               GError        **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_exported (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (source);
  g_autoptr(GFile) file = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *name = g_file_get_basename (file);
  g_autofree char *message = NULL;

  if (!ms_batches_page_export_finish (self, result, &error))
    /* Translators: %s is a file name, then why it could not be written. */
    message = g_strdup_printf (_("The report could not be saved as %s: %s"), name, error->message);
  else
    /* Translators: %s is a file name. */
    message = g_strdup_printf (_("The report was saved as %s."), name);
  gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", message);
}

static void
on_export_chosen (GtkNativeDialog *chooser,
                  int              response,
                  MsBatchesPage   *self)
{
  if (response == GTK_RESPONSE_ACCEPT)
    {
      GFile *file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));

      ms_batches_page_export_async (self, file, NULL, on_exported, file);
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

static void
export_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) filter = gtk_file_filter_new ();
  g_autofree char *name = NULL;

  if (self->open_batch <= 0)
    return;
  chooser = gtk_file_chooser_native_new (_("Export the Report"), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_filter_set_name (filter, _("CSV files"));
  gtk_file_filter_add_mime_type (filter, "text/csv");
  gtk_file_filter_add_suffix (filter, "csv");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
  /* Translators: the suggested file name of a batch's report; %s is its number. */
  {
    g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, self->open_batch);

    name = g_strdup_printf (_("batch-%s-report.csv"), id);
  }
  gtk_file_chooser_set_current_name (GTK_FILE_CHOOSER (chooser), name);
  g_signal_connect_object (chooser, "response", G_CALLBACK (on_export_chosen), self, 0);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

/* ---------------------------------------------------------------- object */

static void
on_runner_changed (MsBatchesPage *self)
{
  update_report_actions (self);
}

/* A run of this app ended: its counts are final now. */
static void
on_runner_finished (MsBatchesPage *self)
{
  if (gtk_widget_get_mapped (GTK_WIDGET (self)))
    ms_batches_page_reload (self);
}

static void
ms_batches_page_dispose (GObject *object)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (object);

  g_clear_handle_id (&self->poll_id, g_source_remove);
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));
  if (self->field_columns != NULL)
    remove_field_columns (self);
  /* The stack is both AdwBin's child and a bound template child: let the
   * bin let go of it first, or both would unparent it. */
  adw_bin_set_child (ADW_BIN (self), NULL);
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_BATCHES_PAGE);
  g_clear_object (&self->runner);
  g_clear_object (&self->journal);
  g_clear_object (&self->report_store);
  g_clear_object (&self->search_filter);
  g_clear_object (&self->report_sorted);

  G_OBJECT_CLASS (ms_batches_page_parent_class)->dispose (object);
}

static void
ms_batches_page_finalize (GObject *object)
{
  MsBatchesPage *self = MS_BATCHES_PAGE (object);

  g_clear_pointer (&self->batches, g_ptr_array_unref);
  g_clear_pointer (&self->field_columns, g_ptr_array_unref);
  g_clear_pointer (&self->open_spec, ms_batch_spec_free);

  G_OBJECT_CLASS (ms_batches_page_parent_class)->finalize (object);
}

static void
ms_batches_page_class_init (MsBatchesPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = ms_batches_page_dispose;
  object_class->finalize = ms_batches_page_finalize;
  widget_class->map = ms_batches_page_map;
  widget_class->unmap = ms_batches_page_unmap;

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-batches-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, stack);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, empty_page);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, batch_list);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, report_title);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, report_subtitle);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, report_counts);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, resume_button);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, cancel_button);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, search_entry);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, column_view);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, address_column);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, state_column);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, attempts_column);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, time_column);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, reply_column);
  gtk_widget_class_bind_template_child (widget_class, MsBatchesPage, message_id_column);
  gtk_widget_class_bind_template_callback (widget_class, on_batch_activated);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);

  gtk_widget_class_install_action (widget_class, "batches.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "batches.resume", NULL, resume_action);
  gtk_widget_class_install_action (widget_class, "batches.cancel", NULL, cancel_action);
  gtk_widget_class_install_action (widget_class, "batches.export", NULL, export_action);
}

static void
ms_batches_page_init (MsBatchesPage *self)
{
  GtkFilterListModel *filtered;
  GtkNoSelection *selection;

  gtk_widget_init_template (GTK_WIDGET (self));
  ms_a11y_fix_names (GTK_WIDGET (self));
  self->field_columns = g_ptr_array_new_with_free_func (g_object_unref);

  set_up_column (self->address_column, COL_ADDRESS);
  set_up_column (self->state_column, COL_STATE);
  set_up_column (self->attempts_column, COL_ATTEMPTS);
  set_up_column (self->time_column, COL_TIME);
  set_up_column (self->reply_column, COL_REPLY);
  set_up_column (self->message_id_column, COL_MESSAGE_ID);

  /* store → search → the column headers' sort → the view */
  self->report_store = g_list_store_new (MS_TYPE_REPORT_ROW);
  self->search_filter = gtk_custom_filter_new (search_matches, self, NULL);
  filtered = gtk_filter_list_model_new (G_LIST_MODEL (g_object_ref (self->report_store)),
                                        GTK_FILTER (g_object_ref (self->search_filter)));
  self->report_sorted = gtk_sort_list_model_new (G_LIST_MODEL (filtered),
                                                 g_object_ref (gtk_column_view_get_sorter (self->column_view)));
  selection = gtk_no_selection_new (G_LIST_MODEL (g_object_ref (self->report_sorted)));
  gtk_column_view_set_model (self->column_view, GTK_SELECTION_MODEL (selection));
  g_object_unref (selection);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "batches.resume", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "batches.cancel", FALSE);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "batches.export", FALSE);
}
