/* ms-blast-page.c: the E-blast page: recipients, message with merge fields, Send
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>

#include "ms-a11y.h"
#include "ms-blast-page.h"
#include "ms-preview.h"

#define LARGE_ATTACHMENTS (10 * 1000 * 1000)

struct _MsBlastPage
{
  AdwBin            parent_instance;

  MsAccount        *account;
  MsBlastRunner    *runner;
  char             *draft_path;
  GCancellable     *cancellable;
  GFile            *recipients;
  char             *email_column;  /* chosen by the user, or NULL */
  MsImportPreview  *preview;      /* the list as the import will read it */
  gboolean          loading;
  GFile            *html;
  GPtrArray        *attachments;   /* GFile */
  guint             save_id;
  gboolean          restoring;
  GtkTextTag       *unknown_tag;
  AdwMessageDialog *dialog;        /* weak */
  MsPreview        *preview_window; /* weak */

  AdwActionRow     *recipients_row;
  AdwActionRow     *summary_row;
  GtkSpinner       *summary_spinner;
  GtkButton        *problems_button;
  AdwComboRow      *column_row;
  GtkStringList    *column_list;
  GtkMenuButton    *merge_button;
  AdwEntryRow      *subject_row;
  GtkTextView      *body_view;
  GtkTextBuffer    *body_buffer;
  GtkLabel         *fields_label;
  AdwActionRow     *html_row;
  AdwActionRow     *attach_row;
  GtkListBox       *attachments_list;
  AdwEntryRow      *unsubscribe_row;
  GtkButton        *send_button;
};

G_DEFINE_FINAL_TYPE (MsBlastPage, ms_blast_page, ADW_TYPE_BIN)

enum {
  PROP_0,
  PROP_ACCOUNT,
  PROP_RUNNER,
  PROP_DRAFT_PATH,
  PROP_LOADING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void update_fields (MsBlastPage *self);
static void update_actions (MsBlastPage *self);
static void schedule_save (MsBlastPage *self);
static gboolean read_html (MsBlastPage *self, char **html);

MsBlastPage *
ms_blast_page_new (MsAccount     *account,
                   MsBlastRunner *runner,
                   const char    *draft_path)
{
  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (MS_IS_BLAST_RUNNER (runner), NULL);

  return g_object_new (MS_TYPE_BLAST_PAGE,
                       "account", account,
                       "runner", runner,
                       "draft-path", draft_path,
                       NULL);
}

gboolean
ms_blast_page_get_loading (MsBlastPage *self)
{
  g_return_val_if_fail (MS_IS_BLAST_PAGE (self), FALSE);
  return self->loading;
}

guint
ms_blast_page_get_valid_count (MsBlastPage *self)
{
  g_return_val_if_fail (MS_IS_BLAST_PAGE (self), 0);
  return self->preview != NULL && ms_import_preview_get_email_index (self->preview) >= 0
         ? ms_import_preview_get_summary (self->preview)->imported : 0;
}

AdwMessageDialog *
ms_blast_page_get_dialog (MsBlastPage *self)
{
  g_return_val_if_fail (MS_IS_BLAST_PAGE (self), NULL);
  return self->dialog;
}

static void
toast (MsBlastPage *self,
       const char  *text)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "win.show-toast", "s", text);
}

static AdwMessageDialog *
new_dialog (MsBlastPage *self,
            const char  *heading,
            const char  *body)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  GtkWidget *dialog = adw_message_dialog_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, heading, body);

  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));
  self->dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  return self->dialog;
}

static void
show_error (MsBlastPage *self,
            const char  *heading,
            const char  *body)
{
  AdwMessageDialog *dialog = new_dialog (self, heading, body);

  adw_message_dialog_add_response (dialog, "close", _("_Close"));
  adw_message_dialog_set_close_response (dialog, "close");
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ------------------------------------------------------------ the list */

typedef struct {
  char *path;
  char *email_column;
} LoadData;

static void
load_data_free (LoadData *data)
{
  g_free (data->path);
  g_free (data->email_column);
  g_free (data);
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  LoadData *data = task_data;
  GError *error = NULL;
  MsImportPreview *preview = ms_import_preview (data->path, data->email_column, &error);

  if (preview == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, preview, (GDestroyNotify) ms_import_preview_free);
}

static void
set_loading (MsBlastPage *self,
             gboolean     loading)
{
  if (self->loading == loading)
    return;
  self->loading = loading;
  gtk_widget_set_visible (GTK_WIDGET (self->summary_spinner), loading);
  gtk_spinner_set_spinning (self->summary_spinner, loading);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
show_preview (MsBlastPage *self)
{
  MsImportPreview *preview = self->preview;
  const char * const *fields = ms_import_preview_get_columns (preview);
  int email_index = ms_import_preview_get_email_index (preview);
  const MsImportSummary *summary = ms_import_preview_get_summary (preview);
  guint rows = ms_import_preview_get_rows (preview);
  guint n_problems = 0;
  g_autoptr(GMenu) menu = g_menu_new ();
  g_autofree char *title = NULL;
  g_autoptr(GString) subtitle = g_string_new (NULL);
  gboolean choose = email_index < 0 || self->email_column != NULL;

  ms_import_preview_get_problems (preview, &n_problems);

  /* The column list only when the address was not found by its name (or
   * the user chose one already, to change it again). */
  self->restoring = TRUE;
  gtk_string_list_splice (self->column_list, 0, g_list_model_get_n_items (G_LIST_MODEL (self->column_list)),
                          fields);
  adw_combo_row_set_selected (self->column_row, email_index >= 0 ? (guint) email_index : GTK_INVALID_LIST_POSITION);
  self->restoring = FALSE;
  gtk_widget_set_visible (GTK_WIDGET (self->column_row), choose);

  gtk_widget_set_visible (GTK_WIDGET (self->summary_row), TRUE);
  if (email_index < 0)
    {
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->summary_row),
                                     _("Which column holds the e-mail addresses?"));
      adw_action_row_set_subtitle (self->summary_row, _("Choose it below to see how many recipients there are."));
      gtk_widget_set_visible (GTK_WIDGET (self->problems_button), FALSE);
    }
  else
    {
      title = g_strdup_printf (ngettext ("%'u recipient", "%'u recipients", summary->imported), summary->imported);
      adw_preferences_row_set_title (ADW_PREFERENCES_ROW (self->summary_row), title);
      g_string_append_printf (subtitle, ngettext ("%'u row", "%'u rows", rows), rows);
      if (summary->left_out > 0)
        g_string_append_printf (subtitle, ngettext (" · %'u left out", " · %'u left out", summary->left_out),
                                summary->left_out);
      if (summary->duplicates > 0)
        g_string_append_printf (subtitle, ngettext (" · %'u duplicate", " · %'u duplicates", summary->duplicates),
                                summary->duplicates);
      adw_action_row_set_subtitle (self->summary_row, subtitle->str);
      gtk_widget_set_visible (GTK_WIDGET (self->problems_button), n_problems > 0);
    }

  for (guint i = 0; fields[i] != NULL; i++)
    {
      g_autoptr(GMenuItem) item = g_menu_item_new (fields[i], NULL);

      g_menu_item_set_action_and_target_value (item, "blast.insert-field", g_variant_new_string (fields[i]));
      g_menu_append_item (menu, item);
    }
  gtk_menu_button_set_menu_model (self->merge_button, G_MENU_MODEL (menu));
  gtk_widget_set_sensitive (GTK_WIDGET (self->merge_button), TRUE);
  update_fields (self);
  update_actions (self);
}

static void
load_done (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(MsBlastPage) self = user_data;
  g_autoptr(GError) error = NULL;
  MsImportPreview *preview = g_task_propagate_pointer (G_TASK (result), &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_loading (self, FALSE);
  g_clear_pointer (&self->preview, ms_import_preview_free);
  if (preview == NULL)
    {
      gtk_widget_set_visible (GTK_WIDGET (self->summary_row), FALSE);
      gtk_widget_set_visible (GTK_WIDGET (self->column_row), FALSE);
      update_actions (self);
      show_error (self, _("The Recipient List Cannot Be Used"), error->message);
      return;
    }
  self->preview = preview;
  show_preview (self);
}

static void
start_loading (MsBlastPage *self)
{
  g_autoptr(GTask) task = NULL;
  LoadData *data;

  g_cancellable_cancel (self->cancellable);
  g_clear_object (&self->cancellable);
  self->cancellable = g_cancellable_new ();
  if (self->recipients == NULL)
    return;

  data = g_new0 (LoadData, 1);
  data->path = g_file_get_path (self->recipients);
  data->email_column = g_strdup (self->email_column);
  task = g_task_new (self, self->cancellable, load_done, g_object_ref (self));
  g_task_set_source_tag (task, start_loading);
  g_task_set_task_data (task, data, (GDestroyNotify) load_data_free);
  set_loading (self, TRUE);
  update_actions (self);
  g_task_run_in_thread (task, load_thread);
}

void
ms_blast_page_load_recipients (MsBlastPage *self,
                               GFile       *file)
{
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;

  g_return_if_fail (MS_IS_BLAST_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  path = g_file_get_path (file);
  if (path == NULL)
    {
      toast (self, _("Only files on this computer can be used as a recipient list"));
      return;
    }
  g_set_object (&self->recipients, file);
  if (!self->restoring)
    g_clear_pointer (&self->email_column, g_free);
  g_clear_pointer (&self->preview, ms_import_preview_free);
  name = g_file_get_basename (file);
  adw_action_row_set_subtitle (self->recipients_row, name);
  start_loading (self);
  schedule_save (self);
}

static void
on_column_selected (MsBlastPage *self,
                    GParamSpec  *pspec,
                    AdwComboRow *row)
{
  guint selected = adw_combo_row_get_selected (row);

  if (self->restoring || self->preview == NULL || selected == GTK_INVALID_LIST_POSITION ||
      (ms_import_preview_get_email_index (self->preview) >= 0 &&
       selected == (guint) ms_import_preview_get_email_index (self->preview)))
    return;
  g_free (self->email_column);
  self->email_column = g_strdup (ms_import_preview_get_columns (self->preview)[selected]);
  start_loading (self);
  schedule_save (self);
}

/* ------------------------------------------------------------ merge fields */

static char *
get_body (MsBlastPage *self)
{
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (self->body_buffer, &start, &end);
  return gtk_text_buffer_get_text (self->body_buffer, &start, &end, FALSE);
}

/* Whether the list has @name: asked of the template code, which knows how
 * names are matched (spaces, case). */
static gboolean
field_is_known (MsBlastPage *self,
                const char  *name)
{
  g_autofree char *source = g_strdup_printf ("{{%s}}", name);
  g_autoptr(MsTemplate) template = ms_template_new (source, MS_TEMPLATE_PLAIN, "", NULL);

  return template != NULL && ms_template_bind (template, ms_import_preview_get_columns (self->preview), NULL);
}

static void
underline_field (MsBlastPage *self,
                 const char  *text,
                 const char  *name)
{
  const char *p = text;

  /* Each {{ name }}, {{{ name }}} of that name; only for the underline, the
   * merge itself is the template code's. */
  while ((p = strstr (p, "{{")) != NULL)
    {
      const char *close = strstr (p + 2, "}}");
      g_autofree char *inside = NULL;
      GtkTextIter start, end;

      if (close == NULL)
        break;
      inside = g_strstrip (g_strndup (p + 2, close - p - 2));
      if (g_str_equal (g_strstrip (inside[0] == '{' ? inside + 1 : inside), name))
        {
          gtk_text_buffer_get_iter_at_offset (self->body_buffer, &start, g_utf8_pointer_to_offset (text, p));
          gtk_text_buffer_get_iter_at_offset (self->body_buffer, &end, g_utf8_pointer_to_offset (text, close + 2));
          gtk_text_buffer_apply_tag (self->body_buffer, self->unknown_tag, &start, &end);
        }
      p = close + 2;
    }
}

static void
update_fields (MsBlastPage *self)
{
  g_autofree char *body = get_body (self);
  g_autoptr(GPtrArray) unknown = g_ptr_array_new_with_free_func (g_free);
  const char *subject = gtk_editable_get_text (GTK_EDITABLE (self->subject_row));
  GtkTextIter start, end;

  gtk_text_buffer_get_bounds (self->body_buffer, &start, &end);
  gtk_text_buffer_remove_tag (self->body_buffer, self->unknown_tag, &start, &end);

  if (self->preview != NULL)
    for (guint part = 0; part < 2; part++)
      {
        g_autoptr(MsTemplate) template = ms_template_new (part == 0 ? subject : body, MS_TEMPLATE_PLAIN, "", NULL);
        g_auto(GStrv) names = template != NULL ? ms_template_get_field_names (template) : NULL;

        for (guint i = 0; names != NULL && names[i] != NULL; i++)
          if (!field_is_known (self, names[i]))
            {
              if (part == 1)
                underline_field (self, body, names[i]);
              if (!g_ptr_array_find_with_equal_func (unknown, names[i], g_str_equal, NULL))
                g_ptr_array_add (unknown, g_strdup_printf ("{{%s}}", names[i]));
            }
      }

  if (unknown->len > 0)
    {
      g_autofree char *list = NULL;
      g_autofree char *text = NULL;

      g_ptr_array_add (unknown, NULL);
      list = g_strjoinv (", ", (char **) unknown->pdata);
      text = g_strdup_printf (ngettext ("The recipient list has no column for %s: check the spelling, or insert "
                                        "a field from Merge Fields.",
                                        "The recipient list has no columns for %s: check the spelling, or insert "
                                        "fields from Merge Fields.", unknown->len - 1), list);
      gtk_label_set_text (self->fields_label, text);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->fields_label), unknown->len > 0);
}

static void
insert_field_action (GtkWidget  *widget,
                     const char *action_name,
                     GVariant   *parameter)
{
  MsBlastPage *self = MS_BLAST_PAGE (widget);
  g_autofree char *field = g_strdup_printf ("{{%s}}", g_variant_get_string (parameter, NULL));
  GtkWidget *focus = gtk_root_get_focus (gtk_widget_get_root (widget));

  /* Into the subject when that is where the cursor is, else the text. */
  if (focus != NULL && gtk_widget_is_ancestor (focus, GTK_WIDGET (self->subject_row)))
    {
      int position = gtk_editable_get_position (GTK_EDITABLE (self->subject_row));

      gtk_editable_insert_text (GTK_EDITABLE (self->subject_row), field, -1, &position);
      gtk_editable_set_position (GTK_EDITABLE (self->subject_row), position);
      return;
    }
  gtk_text_buffer_insert_at_cursor (self->body_buffer, field, -1);
  gtk_widget_grab_focus (GTK_WIDGET (self->body_view));
}

/* ------------------------------------------------------------ extras */

static void
show_html (MsBlastPage *self)
{
  g_autofree char *name = self->html != NULL ? g_file_get_basename (self->html) : NULL;

  adw_action_row_set_subtitle (self->html_row, name != NULL ? name : _("None: the text above is sent as it is"));
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "blast.clear-html", self->html != NULL);
}

void
ms_blast_page_set_html_file (MsBlastPage *self,
                             GFile       *file)
{
  g_return_if_fail (MS_IS_BLAST_PAGE (self));
  g_return_if_fail (file == NULL || G_IS_FILE (file));

  g_set_object (&self->html, file);
  show_html (self);
  schedule_save (self);
}

static guint64
file_size (GFile *file)
{
  g_autoptr(GFileInfo) info = g_file_query_info (file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE,
                                                 NULL, NULL);

  return info != NULL ? (guint64) g_file_info_get_size (info) : 0;
}

static guint64
attachments_size (MsBlastPage *self)
{
  guint64 total = 0;

  for (guint i = 0; i < self->attachments->len; i++)
    total += file_size (g_ptr_array_index (self->attachments, i));
  return total;
}

static void
on_remove_attachment (GtkButton   *button,
                      MsBlastPage *self)
{
  GFile *file = g_object_get_data (G_OBJECT (button), "ms-file");
  GtkWidget *row = gtk_widget_get_ancestor (GTK_WIDGET (button), ADW_TYPE_ACTION_ROW);
  guint index;

  if (g_ptr_array_find (self->attachments, file, &index))
    g_ptr_array_remove_index (self->attachments, index);
  gtk_list_box_remove (self->attachments_list, row);
  gtk_widget_set_visible (GTK_WIDGET (self->attachments_list), self->attachments->len > 0);
  {
    g_autofree char *size = g_format_size (attachments_size (self));
    g_autofree char *text = g_strdup_printf (ngettext ("%u file, %s", "%u files, %s", self->attachments->len),
                                             self->attachments->len, size);

    adw_action_row_set_subtitle (self->attach_row, self->attachments->len > 0 ? text : _("None"));
  }
  schedule_save (self);
}

void
ms_blast_page_add_attachment (MsBlastPage *self,
                              GFile       *file)
{
  GtkWidget *row;
  GtkWidget *remove;
  g_autofree char *name = NULL;
  g_autofree char *size = NULL;
  g_autofree char *total = NULL;
  g_autofree char *text = NULL;

  g_return_if_fail (MS_IS_BLAST_PAGE (self));
  g_return_if_fail (G_IS_FILE (file));

  for (guint i = 0; i < self->attachments->len; i++)
    if (g_file_equal (g_ptr_array_index (self->attachments, i), file))
      return;
  g_ptr_array_add (self->attachments, g_object_ref (file));

  name = g_file_get_basename (file);
  size = g_format_size (file_size (file));
  row = adw_action_row_new ();
  adw_preferences_row_set_title (ADW_PREFERENCES_ROW (row), name);
  adw_preferences_row_set_use_markup (ADW_PREFERENCES_ROW (row), FALSE);
  adw_action_row_set_subtitle (ADW_ACTION_ROW (row), size);
  remove = gtk_button_new_from_icon_name ("user-trash-symbolic");
  gtk_widget_set_valign (remove, GTK_ALIGN_CENTER);
  gtk_widget_add_css_class (remove, "flat");
  /* Translators: %s is the attachment's file name. */
  text = g_strdup_printf (_("Remove %s"), name);
  gtk_widget_set_tooltip_text (remove, text);
  gtk_accessible_update_property (GTK_ACCESSIBLE (remove), GTK_ACCESSIBLE_PROPERTY_LABEL, text, -1);
  g_object_set_data_full (G_OBJECT (remove), "ms-file", g_object_ref (file), g_object_unref);
  g_signal_connect (remove, "clicked", G_CALLBACK (on_remove_attachment), self);
  adw_action_row_add_suffix (ADW_ACTION_ROW (row), remove);
  gtk_list_box_append (self->attachments_list, row);
  gtk_widget_set_visible (GTK_WIDGET (self->attachments_list), TRUE);

  total = g_format_size (attachments_size (self));
  g_free (text);
  text = g_strdup_printf (ngettext ("%u file, %s", "%u files, %s", self->attachments->len),
                          self->attachments->len, total);
  adw_action_row_set_subtitle (self->attach_row, text);
  schedule_save (self);
}

/* ------------------------------------------------------------ file choosers */

typedef enum { CHOOSE_RECIPIENTS, CHOOSE_HTML, CHOOSE_ATTACHMENTS } ChooseWhat;

static void
on_chooser_response (GtkNativeDialog *chooser,
                     int              response,
                     MsBlastPage     *self)
{
  ChooseWhat what = GPOINTER_TO_UINT (g_object_get_data (G_OBJECT (chooser), "ms-what"));
  g_autoptr(GListModel) files = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      files = gtk_file_chooser_get_files (GTK_FILE_CHOOSER (chooser));
      for (guint i = 0; i < g_list_model_get_n_items (files); i++)
        {
          g_autoptr(GFile) file = g_list_model_get_item (files, i);

          if (what == CHOOSE_RECIPIENTS)
            ms_blast_page_load_recipients (self, file);
          else if (what == CHOOSE_HTML)
            ms_blast_page_set_html_file (self, file);
          else
            ms_blast_page_add_attachment (self, file);
        }
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

static void
choose (MsBlastPage *self,
        ChooseWhat   what)
{
  GtkRoot *root = gtk_widget_get_root (GTK_WIDGET (self));
  const char *titles[] = { N_("Choose the Recipient List"), N_("Choose the HTML Version"), N_("Add Attachments") };
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) filter = NULL;

  chooser = gtk_file_chooser_native_new (_(titles[what]), GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL,
                                         GTK_FILE_CHOOSER_ACTION_OPEN, what == CHOOSE_ATTACHMENTS ? _("_Add") : _("_Open"),
                                         NULL);
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_chooser_set_select_multiple (GTK_FILE_CHOOSER (chooser), what == CHOOSE_ATTACHMENTS);
  if (what != CHOOSE_ATTACHMENTS)
    {
      filter = gtk_file_filter_new ();
      if (what == CHOOSE_RECIPIENTS)
        {
          gtk_file_filter_set_name (filter, _("CSV files"));
          gtk_file_filter_add_mime_type (filter, "text/csv");
          gtk_file_filter_add_suffix (filter, "csv");
          gtk_file_filter_add_suffix (filter, "txt");
        }
      else
        {
          gtk_file_filter_set_name (filter, _("HTML files"));
          gtk_file_filter_add_mime_type (filter, "text/html");
          gtk_file_filter_add_suffix (filter, "html");
          gtk_file_filter_add_suffix (filter, "htm");
        }
      gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), filter);
    }
  g_object_set_data (G_OBJECT (chooser), "ms-what", GUINT_TO_POINTER (what));
  g_signal_connect (chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
choose_action (GtkWidget  *widget,
               const char *action_name,
               GVariant   *parameter)
{
  MsBlastPage *self = MS_BLAST_PAGE (widget);

  if (g_str_equal (action_name, "blast.choose-recipients"))
    choose (self, CHOOSE_RECIPIENTS);
  else if (g_str_equal (action_name, "blast.choose-html"))
    choose (self, CHOOSE_HTML);
  else
    choose (self, CHOOSE_ATTACHMENTS);
}

static void
clear_html_action (GtkWidget  *widget,
                   const char *action_name,
                   GVariant   *parameter)
{
  ms_blast_page_set_html_file (MS_BLAST_PAGE (widget), NULL);
}

static gboolean
on_drop (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         MsBlastPage   *self)
{
  GFile *file = g_value_get_object (value);

  if (file == NULL)
    return FALSE;
  ms_blast_page_load_recipients (self, file);
  return TRUE;
}

static void
show_problems_action (GtkWidget  *widget,
                      const char *action_name,
                      GVariant   *parameter)
{
  MsBlastPage *self = MS_BLAST_PAGE (widget);
  const MsImportProblem *problems = NULL;
  guint n_problems = 0;
  AdwMessageDialog *dialog;
  GtkWidget *scroller;
  GtkWidget *list;
  g_autofree char *body = NULL;

  if (self->preview != NULL)
    problems = ms_import_preview_get_problems (self->preview, &n_problems);
  if (n_problems == 0)
    return;
  body = g_strdup_printf (ngettext ("These %u row is not sent to. Fix it in the file and choose it again, or send "
                                    "without it.",
                                    "These %u rows are not sent to. Fix them in the file and choose it again, or "
                                    "send without them.", n_problems),
                          n_problems);
  dialog = new_dialog (self, _("Problems in the Recipient List"), body);
  list = gtk_list_box_new ();
  gtk_list_box_set_selection_mode (GTK_LIST_BOX (list), GTK_SELECTION_NONE);
  gtk_widget_add_css_class (list, "boxed-list");
  /* A list of thousands of bad rows would not help anyone read it. */
  for (guint i = 0; i < MIN (n_problems, 500); i++)
    {
      /* Translators: a row of the list that is not sent as it is: its line, then why. */
      g_autofree char *text = g_strdup_printf (_("Line %u: %s"), problems[i].line, problems[i].reason);
      GtkWidget *label = gtk_label_new (text);

      gtk_label_set_wrap (GTK_LABEL (label), TRUE);
      gtk_label_set_xalign (GTK_LABEL (label), 0);
      gtk_label_set_selectable (GTK_LABEL (label), TRUE);
      gtk_widget_set_margin_start (label, 12);
      gtk_widget_set_margin_end (label, 12);
      gtk_widget_set_margin_top (label, 8);
      gtk_widget_set_margin_bottom (label, 8);
      gtk_list_box_append (GTK_LIST_BOX (list), label);
    }
  scroller = gtk_scrolled_window_new ();
  gtk_scrolled_window_set_policy (GTK_SCROLLED_WINDOW (scroller), GTK_POLICY_NEVER, GTK_POLICY_AUTOMATIC);
  gtk_scrolled_window_set_max_content_height (GTK_SCROLLED_WINDOW (scroller), 320);
  gtk_scrolled_window_set_propagate_natural_height (GTK_SCROLLED_WINDOW (scroller), TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), list);
  adw_message_dialog_set_extra_child (dialog, scroller);
  adw_message_dialog_add_response (dialog, "close", _("_Close"));
  adw_message_dialog_set_close_response (dialog, "close");
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ------------------------------------------------------------ sending */

static char *
describe_duration (gint64 seconds)
{
  if (seconds < 0)
    return g_strdup (_("The account has no sending limit: it goes as fast as the server takes it."));
  if (seconds < 120)
    return g_strdup (_("It takes about a minute under the account’s limits."));
  if (seconds < 2 * 3600)
    return g_strdup_printf (ngettext ("It takes about %d minute under the account’s limits.",
                                      "It takes about %d minutes under the account’s limits.",
                                      (int) ((seconds + 59) / 60)), (int) ((seconds + 59) / 60));
  if (seconds < 2 * 86400)
    return g_strdup_printf (ngettext ("It takes about %d hour under the account’s limits.",
                                      "It takes about %d hours under the account’s limits.",
                                      (int) ((seconds + 1799) / 3600)), (int) ((seconds + 1799) / 3600));
  return g_strdup_printf (ngettext ("It takes about %d day under the account’s limits.",
                                    "It takes about %d days under the account’s limits.",
                                    (int) ((seconds + 43199) / 86400)), (int) ((seconds + 43199) / 86400));
}

/* The templates as the import will check them: a missing field stops here,
 * said in words, before anything is stored. */
static gboolean
check_templates (MsBlastPage  *self,
                 const char   *html,
                 GError      **error)
{
  g_autofree char *body = get_body (self);
  const char *subject = gtk_editable_get_text (GTK_EDITABLE (self->subject_row));
  const struct { const char *source; MsTemplateKind kind; const char *where; } parts[] = {
    { subject, MS_TEMPLATE_HEADER, _("subject") },
    { body, MS_TEMPLATE_PLAIN, _("text") },
    { html, MS_TEMPLATE_HTML, _("HTML version") },
  };

  for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
    {
      g_autoptr(MsTemplate) template = NULL;

      if (parts[i].source == NULL)
        continue;
      template = ms_template_new (parts[i].source, parts[i].kind, parts[i].where, error);
      if (template == NULL || !ms_template_bind (template, ms_import_preview_get_columns (self->preview), error))
        return FALSE;
    }
  return TRUE;
}

static MsBatchSpec *
make_spec (MsBlastPage  *self,
           const char   *html)
{
  MsBatchSpec *spec = g_new0 (MsBatchSpec, 1);
  const char *unsubscribe = gtk_editable_get_text (GTK_EDITABLE (self->unsubscribe_row));

  spec->account = g_strdup (ms_account_get_name (self->account));
  spec->from_address = g_strdup (ms_account_get_email_address (self->account));
  spec->from_name = g_strdup (ms_account_get_sender_name (self->account));
  spec->subject = g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->subject_row)));
  spec->text = get_body (self);
  spec->html = g_strdup (html);
  spec->unsubscribe = unsubscribe[0] != '\0' ? g_strdup (unsubscribe) : NULL;
  if (self->attachments->len > 0)
    {
      spec->attachments = g_new0 (char *, self->attachments->len + 1);
      for (guint i = 0; i < self->attachments->len; i++)
        spec->attachments[i] = g_file_get_path (g_ptr_array_index (self->attachments, i));
    }
  return spec;
}

static void
started (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(MsBlastPage) self = user_data;
  g_autoptr(GError) error = NULL;
  gint64 batch = ms_blast_runner_start_finish (MS_BLAST_RUNNER (source), result, &error);

  if (batch <= 0)
    {
      if (gtk_widget_get_root (GTK_WIDGET (self)) != NULL)
        show_error (self, _("The E-blast Was Not Sent"), error->message);
      return;
    }
  {
    /* Translators: %s is the batch number. */
    g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
    g_autofree char *text = g_strdup_printf (_("Batch %s is on its way"), id);

    toast (self, text);
  }
}

static void
on_confirm_response (AdwMessageDialog *dialog,
                     const char       *response,
                     MsBlastPage      *self)
{
  const char *html = g_object_get_data (G_OBJECT (dialog), "ms-html");

  if (!g_str_equal (response, "send") || self->preview == NULL)
    return;
  ms_blast_runner_start_async (self->runner, make_spec (self, html), g_file_peek_path (self->recipients),
                               self->email_column, NULL, started, g_object_ref (self));
  update_actions (self);
}

static void
send_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MsBlastPage *self = MS_BLAST_PAGE (widget);
  g_autoptr(GError) error = NULL;
  g_autofree char *html = NULL;
  g_autofree char *heading = NULL;
  g_autofree char *duration = NULL;
  g_autoptr(GString) body = g_string_new (NULL);
  const char *unsubscribe = gtk_editable_get_text (GTK_EDITABLE (self->unsubscribe_row));
  g_autofree char *server = g_strdup (ms_account_get_smtp_server (self->account));
  MsProviderLimits provider_limits = { 0 };
  MsPacerLimits limits = { 0 };
  AdwMessageDialog *dialog;
  guint count = ms_blast_page_get_valid_count (self);
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  if (count == 0 || self->loading || !read_html (self, &html))
    return;
  if (unsubscribe[0] != '\0' && !g_str_has_prefix (unsubscribe, "mailto:") && !g_str_has_prefix (unsubscribe, "https:"))
    {
      show_error (self, _("Check the Unsubscribe Address"),
                  _("It must start with mailto: (an e-mail address) or https: (a web page)."));
      return;
    }
  if (!check_templates (self, html, &error))
    {
      show_error (self, _("Check the Merge Fields"), error->message);
      return;
    }

  heading = g_strdup_printf (ngettext ("Send to %'u Recipient?", "Send to %'u Recipients?", count), count);
  ms_account_get_pacer_limits (self->account, &limits);
  duration = describe_duration (ms_pacer_estimate_seconds (&limits, count, now));
  g_string_append (body, duration);

  /* Warnings: each one a reason to stop and think, none a rule that blocks. */
  if (!ms_account_get_use_smtps (self->account) && !ms_account_get_starttls_seen (self->account))
    g_string_append_printf (body, "\n\n%s", _("⚠ This server has not been seen to encrypt the connection: the "
                                               "messages may travel unencrypted. Send a test e-mail first to see."));
  if (ms_provider_get_limits (ms_provider_detect (server), &provider_limits) && provider_limits.per_day > 0 &&
      count > provider_limits.per_day)
    {
      g_autofree char *text = g_strdup_printf (_("⚠ %s accepts about %'u messages a day from one account: the rest "
                                                 "waits for the next day."),
                                               ms_provider_get_name (ms_provider_detect (server)),
                                               provider_limits.per_day);
      g_string_append_printf (body, "\n\n%s", text);
    }
  if (ms_account_get_rate_limited_until (self->account) > now)
    {
      g_autoptr(GDateTime) until = g_date_time_new_from_unix_local (ms_account_get_rate_limited_until (self->account));
      g_autofree char *clock = g_date_time_format (until, "%H:%M");
      g_autofree char *text = g_strdup_printf (_("⚠ The server asked to wait until %s: sending starts then."), clock);

      g_string_append_printf (body, "\n\n%s", text);
    }
  if (attachments_size (self) > LARGE_ATTACHMENTS)
    {
      g_autofree char *size = g_format_size (attachments_size (self));
      g_autofree char *text = g_strdup_printf (_("⚠ The attachments add up to %s for every recipient: many servers "
                                                 "refuse messages over 10 MB."), size);

      g_string_append_printf (body, "\n\n%s", text);
    }

  dialog = new_dialog (self, heading, body->str);
  adw_message_dialog_add_responses (dialog, "cancel", _("_Cancel"), "send", _("_Send"), NULL);
  adw_message_dialog_set_response_appearance (dialog, "send", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (dialog, "send");
  adw_message_dialog_set_close_response (dialog, "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "ms-html", g_steal_pointer (&html), g_free);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_confirm_response), self, 0);
  gtk_window_present (GTK_WINDOW (dialog));
}

/* The HTML file as sent: UTF-8 text, or an error dialog and FALSE. */
static gboolean
read_html (MsBlastPage  *self,
           char        **html)
{
  g_autoptr(GError) error = NULL;

  *html = NULL;
  if (self->html != NULL && !g_file_load_contents (self->html, NULL, html, NULL, NULL, &error))
    {
      show_error (self, _("The HTML Version Cannot Be Read"), error->message);
      return FALSE;
    }
  if (*html != NULL && !g_utf8_validate (*html, -1, NULL))
    {
      g_clear_pointer (html, g_free);
      show_error (self, _("The HTML Version Cannot Be Read"), _("The file is not UTF-8 text. Save it as UTF-8, "
                                                                 "then choose it again."));
      return FALSE;
    }
  return TRUE;
}

static void
preview_action (GtkWidget  *widget,
                const char *action_name,
                GVariant   *parameter)
{
  MsBlastPage *self = MS_BLAST_PAGE (widget);
  GtkRoot *root = gtk_widget_get_root (widget);
  g_autoptr(GError) error = NULL;
  g_autofree char *html = NULL;

  if (ms_blast_page_get_valid_count (self) == 0 || self->loading || !read_html (self, &html))
    return;
  if (!check_templates (self, html, &error))
    {
      show_error (self, _("Check the Merge Fields"), error->message);
      return;
    }
  if (self->preview_window != NULL)
    gtk_window_destroy (GTK_WINDOW (self->preview_window));
  self->preview_window = ms_preview_new (GTK_IS_WINDOW (root) ? GTK_WINDOW (root) : NULL, self->account,
                                         make_spec (self, html), g_file_peek_path (self->recipients),
                                         self->email_column);
  g_object_add_weak_pointer (G_OBJECT (self->preview_window), (gpointer *) &self->preview_window);
  gtk_window_present (GTK_WINDOW (self->preview_window));
}

MsPreview *
ms_blast_page_get_preview (MsBlastPage *self)
{
  g_return_val_if_fail (MS_IS_BLAST_PAGE (self), NULL);
  return self->preview_window;
}

static void
update_actions (MsBlastPage *self)
{
  g_autofree char *body = get_body (self);
  gboolean ready = ms_blast_page_get_valid_count (self) > 0 && !self->loading &&
                   gtk_editable_get_text (GTK_EDITABLE (self->subject_row))[0] != '\0' && body[0] != '\0' &&
                   !ms_blast_runner_get_active (self->runner) && ms_account_is_configured (self->account);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "blast.send", ready);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "blast.preview",
                                 ms_blast_page_get_valid_count (self) > 0 && !self->loading && body[0] != '\0');
  guint n_problems = 0;

  if (self->preview != NULL)
    ms_import_preview_get_problems (self->preview, &n_problems);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "blast.show-problems", n_problems > 0);
}

static void
on_runner_active (MsBlastPage   *self,
                  GParamSpec    *pspec,
                  MsBlastRunner *runner)
{
  update_actions (self);
}

/* ------------------------------------------------------------ the draft */

static char *
draft_path (MsBlastPage *self)
{
  if (self->draft_path != NULL)
    return g_strdup (self->draft_path);
  return g_build_filename (g_get_user_data_dir (), "mailshot", "draft.ini", NULL);
}

void
ms_blast_page_save_draft (MsBlastPage *self)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *path = draft_path (self);
  g_autofree char *dir = g_path_get_dirname (path);
  g_autofree char *body = get_body (self);
  g_autoptr(GStrvBuilder) attachments = g_strv_builder_new ();
  g_auto(GStrv) list = NULL;

  g_return_if_fail (MS_IS_BLAST_PAGE (self));

  g_clear_handle_id (&self->save_id, g_source_remove);
  if (self->recipients != NULL)
    g_key_file_set_string (keyfile, "draft", "recipients", g_file_peek_path (self->recipients));
  if (self->email_column != NULL)
    g_key_file_set_string (keyfile, "draft", "email-column", self->email_column);
  g_key_file_set_string (keyfile, "draft", "subject", gtk_editable_get_text (GTK_EDITABLE (self->subject_row)));
  g_key_file_set_string (keyfile, "draft", "text", body);
  if (self->html != NULL)
    g_key_file_set_string (keyfile, "draft", "html", g_file_peek_path (self->html));
  for (guint i = 0; i < self->attachments->len; i++)
    g_strv_builder_add (attachments, g_file_peek_path (g_ptr_array_index (self->attachments, i)));
  list = g_strv_builder_end (attachments);
  if (list[0] != NULL)
    g_key_file_set_string_list (keyfile, "draft", "attachments", (const char * const *) list, g_strv_length (list));
  g_key_file_set_string (keyfile, "draft", "unsubscribe", gtk_editable_get_text (GTK_EDITABLE (self->unsubscribe_row)));

  if (g_mkdir_with_parents (dir, 0700) != 0 || !g_key_file_save_to_file (keyfile, path, &error))
    g_warning ("The draft could not be saved in %s: %s", path, error != NULL ? error->message : g_strerror (errno));
}

static gboolean
save_timeout (gpointer user_data)
{
  MsBlastPage *self = user_data;

  self->save_id = 0;
  ms_blast_page_save_draft (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_save (MsBlastPage *self)
{
  if (self->restoring)
    return;
  g_clear_handle_id (&self->save_id, g_source_remove);
  self->save_id = g_timeout_add (500, save_timeout, self);
}

static void
on_draft_changed (MsBlastPage *self)
{
  update_fields (self);
  update_actions (self);
  schedule_save (self);
}

static void
restore_draft (MsBlastPage *self)
{
  g_autoptr(GKeyFile) keyfile = g_key_file_new ();
  g_autofree char *path = draft_path (self);
  g_autofree char *recipients = NULL;
  g_autofree char *subject = NULL;
  g_autofree char *text = NULL;
  g_autofree char *html = NULL;
  g_autofree char *unsubscribe = NULL;
  g_auto(GStrv) attachments = NULL;

  if (!g_key_file_load_from_file (keyfile, path, G_KEY_FILE_NONE, NULL))
    return;

  self->restoring = TRUE;
  subject = g_key_file_get_string (keyfile, "draft", "subject", NULL);
  text = g_key_file_get_string (keyfile, "draft", "text", NULL);
  unsubscribe = g_key_file_get_string (keyfile, "draft", "unsubscribe", NULL);
  gtk_editable_set_text (GTK_EDITABLE (self->subject_row), subject != NULL ? subject : "");
  gtk_editable_set_text (GTK_EDITABLE (self->unsubscribe_row), unsubscribe != NULL ? unsubscribe : "");
  /* Restored text is not an edit to undo. */
  gtk_text_buffer_begin_irreversible_action (self->body_buffer);
  gtk_text_buffer_set_text (self->body_buffer, text != NULL ? text : "", -1);
  gtk_text_buffer_end_irreversible_action (self->body_buffer);

  html = g_key_file_get_string (keyfile, "draft", "html", NULL);
  if (html != NULL && g_file_test (html, G_FILE_TEST_IS_REGULAR))
    {
      g_autoptr(GFile) file = g_file_new_for_path (html);
      ms_blast_page_set_html_file (self, file);
    }
  attachments = g_key_file_get_string_list (keyfile, "draft", "attachments", NULL, NULL);
  for (guint i = 0; attachments != NULL && attachments[i] != NULL; i++)
    if (g_file_test (attachments[i], G_FILE_TEST_IS_REGULAR))
      {
        g_autoptr(GFile) file = g_file_new_for_path (attachments[i]);
        ms_blast_page_add_attachment (self, file);
      }
  recipients = g_key_file_get_string (keyfile, "draft", "recipients", NULL);
  self->email_column = g_key_file_get_string (keyfile, "draft", "email-column", NULL);
  if (recipients != NULL && g_file_test (recipients, G_FILE_TEST_IS_REGULAR))
    {
      g_autoptr(GFile) file = g_file_new_for_path (recipients);
      ms_blast_page_load_recipients (self, file);
    }
  self->restoring = FALSE;
}

/* ------------------------------------------------------------ GObject */

static void
ms_blast_page_constructed (GObject *object)
{
  MsBlastPage *self = MS_BLAST_PAGE (object);

  G_OBJECT_CLASS (ms_blast_page_parent_class)->constructed (object);

  g_assert (self->account != NULL && self->runner != NULL);
  g_signal_connect_object (self->runner, "notify::active", G_CALLBACK (on_runner_active), self, G_CONNECT_SWAPPED);
  restore_draft (self);
  show_html (self);
  update_actions (self);
}

static void
ms_blast_page_get_property (GObject    *object,
                            guint       prop_id,
                            GValue     *value,
                            GParamSpec *pspec)
{
  MsBlastPage *self = MS_BLAST_PAGE (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:    g_value_set_object (value, self->account); break;
    case PROP_RUNNER:     g_value_set_object (value, self->runner); break;
    case PROP_DRAFT_PATH: g_value_set_string (value, self->draft_path); break;
    case PROP_LOADING:    g_value_set_boolean (value, self->loading); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_blast_page_set_property (GObject      *object,
                            guint         prop_id,
                            const GValue *value,
                            GParamSpec   *pspec)
{
  MsBlastPage *self = MS_BLAST_PAGE (object);

  switch (prop_id)
    {
    case PROP_ACCOUNT:    g_set_object (&self->account, g_value_get_object (value)); break;
    case PROP_RUNNER:     g_set_object (&self->runner, g_value_get_object (value)); break;
    case PROP_DRAFT_PATH: g_free (self->draft_path); self->draft_path = g_value_dup_string (value); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_blast_page_dispose (GObject *object)
{
  MsBlastPage *self = MS_BLAST_PAGE (object);

  /* What was typed in the last half second is kept too. */
  if (self->save_id != 0)
    ms_blast_page_save_draft (self);
  g_cancellable_cancel (self->cancellable);
  if (self->dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->dialog), (gpointer *) &self->dialog);
      gtk_window_destroy (GTK_WINDOW (self->dialog));
      self->dialog = NULL;
    }
  if (self->preview_window != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->preview_window), (gpointer *) &self->preview_window);
      gtk_window_destroy (GTK_WINDOW (self->preview_window));
      self->preview_window = NULL;
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_BLAST_PAGE);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->recipients);
  g_clear_object (&self->html);
  g_clear_object (&self->runner);
  g_clear_object (&self->account);
  g_clear_pointer (&self->attachments, g_ptr_array_unref);

  G_OBJECT_CLASS (ms_blast_page_parent_class)->dispose (object);
}

static void
ms_blast_page_finalize (GObject *object)
{
  MsBlastPage *self = MS_BLAST_PAGE (object);

  g_clear_pointer (&self->preview, ms_import_preview_free);
  g_clear_pointer (&self->email_column, g_free);
  g_clear_pointer (&self->draft_path, g_free);

  G_OBJECT_CLASS (ms_blast_page_parent_class)->finalize (object);
}

static void
ms_blast_page_class_init (MsBlastPageClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->constructed = ms_blast_page_constructed;
  object_class->get_property = ms_blast_page_get_property;
  object_class->set_property = ms_blast_page_set_property;
  object_class->dispose = ms_blast_page_dispose;
  object_class->finalize = ms_blast_page_finalize;

  properties[PROP_ACCOUNT] =
    g_param_spec_object ("account", NULL, NULL, MS_TYPE_ACCOUNT,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_RUNNER] =
    g_param_spec_object ("runner", NULL, NULL, MS_TYPE_BLAST_RUNNER,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_DRAFT_PATH] =
    g_param_spec_string ("draft-path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_LOADING] =
    g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                          G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-blast-page.ui");
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, recipients_row);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, summary_row);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, summary_spinner);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, problems_button);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, column_row);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, column_list);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, merge_button);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, subject_row);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, body_view);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, body_buffer);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, fields_label);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, html_row);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, attach_row);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, attachments_list);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, unsubscribe_row);
  gtk_widget_class_bind_template_child (widget_class, MsBlastPage, send_button);
  gtk_widget_class_bind_template_callback (widget_class, on_draft_changed);

  gtk_widget_class_install_action (widget_class, "blast.choose-recipients", NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "blast.choose-html", NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "blast.add-attachment", NULL, choose_action);
  gtk_widget_class_install_action (widget_class, "blast.clear-html", NULL, clear_html_action);
  gtk_widget_class_install_action (widget_class, "blast.show-problems", NULL, show_problems_action);
  gtk_widget_class_install_action (widget_class, "blast.insert-field", "s", insert_field_action);
  gtk_widget_class_install_action (widget_class, "blast.send", NULL, send_action);
  gtk_widget_class_install_action (widget_class, "blast.preview", NULL, preview_action);
}

static void
ms_blast_page_init (MsBlastPage *self)
{
  GtkDropTarget *drop;

  self->attachments = g_ptr_array_new_with_free_func (g_object_unref);
  gtk_widget_init_template (GTK_WIDGET (self));
  ms_a11y_fix_names (GTK_WIDGET (self));

  self->unknown_tag = gtk_text_buffer_create_tag (self->body_buffer, "unknown-field",
                                                  "underline", PANGO_UNDERLINE_ERROR,
                                                  NULL);
  g_signal_connect_object (self->column_row, "notify::selected", G_CALLBACK (on_column_selected), self,
                           G_CONNECT_SWAPPED);

  drop = gtk_drop_target_new (G_TYPE_FILE, GDK_ACTION_COPY);
  g_signal_connect (drop, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (drop));
}
