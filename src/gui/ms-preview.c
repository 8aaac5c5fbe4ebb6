/* ms-preview.c: the preview per recipient: the merged message as each recipient gets it, and "Send test to me"
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>

#ifdef MS_HAVE_WEBKIT
#include <webkit/webkit.h>
#endif

#include "ms-a11y.h"
#include "ms-preview.h"

/* Enough to step through and search; a larger list shows its first rows. */
#define MAX_ROWS 100000

/* What a mail program does by default: nothing from the web, no scripts.
 * Images embedded in the message (data:, cid:) and its own styles load. */
#define PREVIEW_CSP "default-src 'none'; img-src data: cid:; style-src 'unsafe-inline' data:; font-src data:"

struct _MsPreview
{
  AdwWindow          parent_instance;

  MsAccount         *account;
  MsBatchSpec       *spec;
  char              *csv_path;
  char              *email_column;
  GCancellable      *cancellable;
  GPtrArray         *rows;          /* GStrv, the recipients in list order */
  MsMessageBuilder  *builder;
  gboolean           loading;
  guint              position;
  gboolean           sending;
  char              *outcome;
  char              *html;          /* the merged HTML shown, or NULL */
  GtkWidget         *html_view;     /* a WebKitWebView, or a GtkTextView with the source */
  AdwMessageDialog  *dialog;        /* weak */

  AdwToastOverlay   *toast_overlay;
  AdwWindowTitle    *window_title;
  GtkSearchEntry    *search_entry;
  GtkStack          *stack;
  GtkSpinner        *spinner;
  AdwStatusPage     *error_page;
  GtkLabel          *from_label;
  GtkLabel          *to_label;
  GtkLabel          *subject_label;
  GtkLabel          *attachments_caption;
  GtkLabel          *attachments_label;
  AdwViewSwitcher   *switcher;
  AdwViewStack      *body_stack;
  GtkLabel          *html_note;
  AdwBin            *html_bin;
  GtkTextView       *text_view;
};

G_DEFINE_FINAL_TYPE (MsPreview, ms_preview, ADW_TYPE_WINDOW)

enum {
  PROP_0,
  PROP_LOADING,
  PROP_POSITION,
  PROP_SENDING,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void show_current (MsPreview *self);

/* ------------------------------------------------------------ the HTML view */

#ifdef MS_HAVE_WEBKIT
static gboolean
on_decide_policy (WebKitWebView            *view,
                  WebKitPolicyDecision     *decision,
                  WebKitPolicyDecisionType  type,
                  MsPreview                *self)
{
  WebKitNavigationAction *action;
  const char *uri;

  if (type == WEBKIT_POLICY_DECISION_TYPE_RESPONSE)
    return FALSE;
  /* The message itself (loaded as about:blank) and nothing else: a link
   * clicked in a preview does not open the web inside it. */
  action = webkit_navigation_policy_decision_get_navigation_action (WEBKIT_NAVIGATION_POLICY_DECISION (decision));
  uri = webkit_uri_request_get_uri (webkit_navigation_action_get_request (action));
  if (type == WEBKIT_POLICY_DECISION_TYPE_NAVIGATION_ACTION && uri != NULL &&
      (g_str_has_prefix (uri, "about:") || g_str_has_prefix (uri, "data:")))
    webkit_policy_decision_use (decision);
  else
    webkit_policy_decision_ignore (decision);
  return TRUE;
}

static GtkWidget *
new_html_view (MsPreview *self)
{
  g_autoptr(WebKitSettings) settings = NULL;
  GtkWidget *view;

  settings = webkit_settings_new_with_settings ("enable-javascript", FALSE,
                                                "enable-javascript-markup", FALSE,
                                                "enable-developer-extras", FALSE,
                                                "enable-page-cache", FALSE,
                                                "enable-html5-database", FALSE,
                                                "enable-html5-local-storage", FALSE,
                                                "auto-load-images", TRUE,
                                                NULL);
  /* Remote content is blocked by a Content-Security-Policy that WebKit
   * applies as if the page came with it (2.38+), before any request. */
  view = g_object_new (WEBKIT_TYPE_WEB_VIEW,
                       "settings", settings,
                       "default-content-security-policy", PREVIEW_CSP,
                       "vexpand", TRUE,
                       "hexpand", TRUE,
                       NULL);
  g_signal_connect_object (view, "decide-policy", G_CALLBACK (on_decide_policy), self, 0);
  return view;
}

static void
show_html (MsPreview  *self,
           const char *html)
{
  webkit_web_view_load_html (WEBKIT_WEB_VIEW (self->html_view), html, NULL);
}
#else
static GtkWidget *
new_html_view (MsPreview *self)
{
  GtkWidget *scroller = gtk_scrolled_window_new ();
  GtkWidget *view = gtk_text_view_new ();

  gtk_text_view_set_editable (GTK_TEXT_VIEW (view), FALSE);
  gtk_text_view_set_monospace (GTK_TEXT_VIEW (view), TRUE);
  gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (view), GTK_WRAP_WORD_CHAR);
  gtk_widget_set_vexpand (scroller, TRUE);
  gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scroller), view);
  return scroller;
}

static void
show_html (MsPreview  *self,
           const char *html)
{
  GtkWidget *view = gtk_scrolled_window_get_child (GTK_SCROLLED_WINDOW (self->html_view));

  gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (view)), html, -1);
}
#endif

/* Whether the HTML asks for something from the web (an image, a style
 * sheet, a background), which the preview does not load. */
static gboolean
refers_to_web (const char *html)
{
  static GRegex *regex;

  if (g_once_init_enter (&regex))
    g_once_init_leave (&regex, g_regex_new ("(src|href|background|srcset)\\s*=\\s*[\"']?\\s*(https?:)?//"
                                                    "|url\\(\\s*[\"']?\\s*(https?:)?//",
                                                    G_REGEX_CASELESS | G_REGEX_OPTIMIZE, 0, NULL));
  return g_regex_match (regex, html, 0, NULL);
}

/* ------------------------------------------------------------ loading */

typedef struct {
  GPtrArray         *rows;
  char             **fields;
  guint              email_index;
  MsMessageBuilder  *builder;
} LoadResult;

static void
load_result_free (LoadResult *result)
{
  g_clear_pointer (&result->rows, g_ptr_array_unref);
  g_strfreev (result->fields);
  g_clear_object (&result->builder);
  g_free (result);
}

static void
load_thread (GTask        *task,
             gpointer      source,
             gpointer      task_data,
             GCancellable *cancellable)
{
  MsPreview *self = source;
  g_autoptr(MsBatchSpec) spec = ms_batch_spec_copy (self->spec);
  LoadResult *result = g_new0 (LoadResult, 1);
  GError *error = NULL;

  /* The rows as the import reads them, then the builder as the blast makes
   * it: what is shown is what is sent. */
  result->rows = ms_import_read_recipients (self->csv_path, self->email_column, MAX_ROWS, &result->fields,
                                            &result->email_index, &error);
  if (result->rows != NULL)
    {
      g_strfreev (spec->fields);
      spec->fields = g_strdupv (result->fields);
      spec->email_index = result->email_index;
      result->builder = ms_import_new_builder (spec, &error);
    }
  if (error != NULL)
    {
      load_result_free (result);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_pointer (task, result, (GDestroyNotify) load_result_free);
}

static void
set_loading (MsPreview *self,
             gboolean   loading)
{
  if (self->loading == loading)
    return;
  self->loading = loading;
  gtk_spinner_set_spinning (self->spinner, loading);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_LOADING]);
}

static void
show_error (MsPreview  *self,
            const char *text)
{
  adw_status_page_set_description (self->error_page, text);
  gtk_stack_set_visible_child_name (self->stack, "error");
}

static void
update_actions (MsPreview *self)
{
  guint n = self->rows != NULL ? self->rows->len : 0;

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "preview.first", n > 0 && self->position > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "preview.previous", n > 0 && self->position > 0);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "preview.next", n > 0 && self->position + 1 < n);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "preview.send-test", n > 0 && !self->sending);
  gtk_widget_set_sensitive (GTK_WIDGET (self->search_entry), n > 1);
}

static void
load_done (GObject      *source,
           GAsyncResult *res,
           gpointer      user_data)
{
  g_autoptr(MsPreview) self = user_data;
  g_autoptr(GError) error = NULL;
  LoadResult *result = g_task_propagate_pointer (G_TASK (res), &error);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  set_loading (self, FALSE);
  if (result == NULL)
    {
      show_error (self, error->message);
      update_actions (self);
      return;
    }
  self->rows = g_steal_pointer (&result->rows);
  self->builder = g_steal_pointer (&result->builder);
  g_strfreev (self->spec->fields);
  self->spec->fields = g_steal_pointer (&result->fields);
  self->spec->email_index = result->email_index;
  load_result_free (result);
  if (self->rows->len == 0)
    {
      show_error (self, _("The list has no usable recipient: every row is left out."));
      update_actions (self);
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "message");
  show_current (self);
}

/* ------------------------------------------------------------ showing */

static void
show_current (MsPreview *self)
{
  const char * const *values = g_ptr_array_index (self->rows, self->position);
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) message = NULL;
  g_autoptr(MsMessageParts) parts = NULL;
  g_autofree char *subtitle = NULL;
  g_autofree char *attachments = NULL;

  /* Translators: which recipient the preview shows, e.g. "Recipient 3 of 1,234". */
  subtitle = g_strdup_printf (_("Recipient %'u of %'u"), self->position + 1, self->rows->len);
  adw_window_title_set_subtitle (self->window_title, subtitle);
  update_actions (self);

  message = ms_message_builder_render (self->builder, values, NULL, &error);
  if (message != NULL)
    parts = ms_message_parts_parse (message, &error);
  if (parts == NULL)
    {
      show_error (self, error->message);
      return;
    }
  gtk_stack_set_visible_child_name (self->stack, "message");
  gtk_label_set_text (self->from_label, parts->from);
  gtk_label_set_text (self->to_label, parts->to);
  gtk_label_set_text (self->subject_label, parts->subject);
  attachments = g_strjoinv (", ", parts->attachments);
  gtk_label_set_text (self->attachments_label, attachments);
  gtk_widget_set_visible (GTK_WIDGET (self->attachments_caption), attachments[0] != '\0');
  gtk_widget_set_visible (GTK_WIDGET (self->attachments_label), attachments[0] != '\0');
  gtk_text_buffer_set_text (gtk_text_view_get_buffer (self->text_view), parts->text, -1);

  g_free (self->html);
  self->html = g_steal_pointer (&parts->html);
  /* Without an HTML version there is nothing to switch between. */
  gtk_widget_set_visible (GTK_WIDGET (self->switcher), self->html != NULL);
  adw_view_stack_page_set_visible (adw_view_stack_get_page (self->body_stack, adw_view_stack_get_child_by_name (
                                     self->body_stack, "html")), self->html != NULL);
  if (self->html == NULL)
    {
      adw_view_stack_set_visible_child_name (self->body_stack, "text");
      g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POSITION]);
      return;
    }
  show_html (self, self->html);
#ifdef MS_HAVE_WEBKIT
  gtk_label_set_text (self->html_note, _("Images and styles from the web were not loaded, as many mail programs "
                                         "do until the reader allows them."));
  gtk_widget_set_visible (GTK_WIDGET (self->html_note), refers_to_web (self->html));
#else
  gtk_label_set_text (self->html_note, _("The HTML version is shown as its source: this copy of Mailshot was built "
                                         "without WebKitGTK, which draws it as a mail program would."));
  gtk_widget_set_visible (GTK_WIDGET (self->html_note), TRUE);
  (void) refers_to_web;
#endif
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_POSITION]);
}

void
ms_preview_set_position (MsPreview *self,
                         guint      position)
{
  g_return_if_fail (MS_IS_PREVIEW (self));

  if (self->rows == NULL || self->rows->len == 0)
    return;
  position = MIN (position, self->rows->len - 1);
  if (position == self->position && self->html_view != NULL && gtk_stack_get_visible_child_name (self->stack) != NULL &&
      g_str_equal (gtk_stack_get_visible_child_name (self->stack), "message"))
    return;
  self->position = position;
  show_current (self);
}

static gboolean
find_from (MsPreview  *self,
           const char *text,
           guint       start)
{
  g_autofree char *needle = g_utf8_casefold (text, -1);
  guint n = self->rows != NULL ? self->rows->len : 0;

  if (n == 0 || needle[0] == '\0')
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      guint k = (start + i) % n;
      const char * const *values = g_ptr_array_index (self->rows, k);
      g_autofree char *address = g_utf8_casefold (values[self->spec->email_index], -1);

      if (strstr (address, needle) != NULL)
        {
          ms_preview_set_position (self, k);
          return TRUE;
        }
    }
  return FALSE;
}

gboolean
ms_preview_find (MsPreview  *self,
                 const char *text)
{
  g_return_val_if_fail (MS_IS_PREVIEW (self), FALSE);
  g_return_val_if_fail (text != NULL, FALSE);

  return find_from (self, text, self->position);
}

static void
on_search_changed (MsPreview      *self,
                   GtkSearchEntry *entry)
{
  const char *text = gtk_editable_get_text (GTK_EDITABLE (entry));

  if (text[0] != '\0' && !find_from (self, text, self->position))
    gtk_widget_add_css_class (GTK_WIDGET (entry), "error");
  else
    gtk_widget_remove_css_class (GTK_WIDGET (entry), "error");
}

static void
on_search_activate (MsPreview      *self,
                    GtkSearchEntry *entry)
{
  /* Enter: the next one that matches. */
  find_from (self, gtk_editable_get_text (GTK_EDITABLE (entry)), self->position + 1);
}

static void
step_action (GtkWidget  *widget,
             const char *action_name,
             GVariant   *parameter)
{
  MsPreview *self = MS_PREVIEW (widget);

  if (self->rows == NULL || self->rows->len == 0)
    return;
  if (g_str_equal (action_name, "preview.first"))
    ms_preview_set_position (self, 0);
  else if (g_str_equal (action_name, "preview.previous") && self->position > 0)
    ms_preview_set_position (self, self->position - 1);
  else if (g_str_equal (action_name, "preview.next"))
    ms_preview_set_position (self, self->position + 1);
}

/* ------------------------------------------------------------ send test to me */

static void
set_sending (MsPreview  *self,
             gboolean    sending,
             const char *outcome)
{
  g_free (self->outcome);
  self->outcome = g_strdup (outcome);
  self->sending = sending;
  update_actions (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SENDING]);
}

static void
say_failure (MsPreview  *self,
             const char *message)
{
  GtkWidget *dialog;

  set_sending (self, FALSE, message);
  if (self->dialog != NULL)
    gtk_window_destroy (GTK_WINDOW (self->dialog));
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("The Test Was Not Sent"), message);
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "close");
  self->dialog = ADW_MESSAGE_DIALOG (dialog);
  g_object_add_weak_pointer (G_OBJECT (dialog), (gpointer *) &self->dialog);
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
test_sent (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  g_autoptr(MsPreview) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!ms_import_send_test_finish (result, &error))
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        say_failure (self, error->message);
      return;
    }
  /* Translators: %s is the account's own e-mail address. */
  text = g_strdup_printf (_("Test sent to %s"), ms_account_get_email_address (self->account));
  set_sending (self, FALSE, text);
  ms_a11y_add_toast (self->toast_overlay, adw_toast_new (text));
}

static void
config_loaded (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(MsPreview) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(MsSmtpConfig) config = ms_account_load_config_finish (MS_ACCOUNT (source), result, &error);

  if (config == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        say_failure (self, error->message);
      return;
    }
  ms_import_send_test_async (config, self->spec, g_ptr_array_index (self->rows, self->position),
                             ms_account_get_email_address (self->account), self->cancellable, test_sent,
                             g_object_ref (self));
}

static void
send_test_action (GtkWidget  *widget,
                  const char *action_name,
                  GVariant   *parameter)
{
  MsPreview *self = MS_PREVIEW (widget);

  if (self->rows == NULL || self->rows->len == 0 || self->sending)
    return;
  set_sending (self, TRUE, NULL);
  ms_account_load_config_async (self->account, self->cancellable, config_loaded, g_object_ref (self));
}

/* ------------------------------------------------------------ API */

MsPreview *
ms_preview_new (GtkWindow   *parent,
                MsAccount   *account,
                MsBatchSpec *spec,
                const char  *csv_path,
                const char  *email_column)
{
  g_autoptr(GTask) task = NULL;
  MsPreview *self;

  g_return_val_if_fail (parent == NULL || GTK_IS_WINDOW (parent), NULL);
  g_return_val_if_fail (MS_IS_ACCOUNT (account), NULL);
  g_return_val_if_fail (spec != NULL, NULL);
  g_return_val_if_fail (csv_path != NULL, NULL);

  self = g_object_new (MS_TYPE_PREVIEW, "transient-for", parent, NULL);
  self->account = g_object_ref (account);
  self->spec = spec;
  self->csv_path = g_strdup (csv_path);
  self->email_column = g_strdup (email_column);

  set_loading (self, TRUE);
  update_actions (self);
  task = g_task_new (self, self->cancellable, load_done, g_object_ref (self));
  g_task_set_source_tag (task, ms_preview_new);
  g_task_run_in_thread (task, load_thread);
  return self;
}

gboolean
ms_preview_get_loading (MsPreview *self)
{
  g_return_val_if_fail (MS_IS_PREVIEW (self), FALSE);
  return self->loading;
}

guint
ms_preview_get_n_recipients (MsPreview *self)
{
  g_return_val_if_fail (MS_IS_PREVIEW (self), 0);
  return self->rows != NULL ? self->rows->len : 0;
}

guint
ms_preview_get_position (MsPreview *self)
{
  g_return_val_if_fail (MS_IS_PREVIEW (self), 0);
  return self->position;
}

gboolean
ms_preview_get_sending (MsPreview *self)
{
  g_return_val_if_fail (MS_IS_PREVIEW (self), FALSE);
  return self->sending;
}

const char *
ms_preview_get_outcome (MsPreview *self)
{
  g_return_val_if_fail (MS_IS_PREVIEW (self), NULL);
  return self->outcome;
}

gboolean
ms_preview_get_renders_html (MsPreview *self)
{
  g_return_val_if_fail (MS_IS_PREVIEW (self), FALSE);
#ifdef MS_HAVE_WEBKIT
  return TRUE;
#else
  return FALSE;
#endif
}

/* ------------------------------------------------------------ GObject */

static void
ms_preview_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MsPreview *self = MS_PREVIEW (object);

  switch (prop_id)
    {
    case PROP_LOADING:  g_value_set_boolean (value, self->loading); break;
    case PROP_POSITION: g_value_set_uint (value, self->position); break;
    case PROP_SENDING:  g_value_set_boolean (value, self->sending); break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_preview_dispose (GObject *object)
{
  MsPreview *self = MS_PREVIEW (object);

  g_cancellable_cancel (self->cancellable);
  if (self->dialog != NULL)
    {
      g_object_remove_weak_pointer (G_OBJECT (self->dialog), (gpointer *) &self->dialog);
      gtk_window_destroy (GTK_WINDOW (self->dialog));
      self->dialog = NULL;
    }
  gtk_widget_dispose_template (GTK_WIDGET (self), MS_TYPE_PREVIEW);
  g_clear_object (&self->builder);
  g_clear_object (&self->account);
  g_clear_object (&self->cancellable);

  G_OBJECT_CLASS (ms_preview_parent_class)->dispose (object);
}

static void
ms_preview_finalize (GObject *object)
{
  MsPreview *self = MS_PREVIEW (object);

  g_clear_pointer (&self->spec, ms_batch_spec_free);
  g_clear_pointer (&self->rows, g_ptr_array_unref);
  g_free (self->csv_path);
  g_free (self->email_column);
  g_free (self->outcome);
  g_free (self->html);

  G_OBJECT_CLASS (ms_preview_parent_class)->finalize (object);
}

static void
ms_preview_class_init (MsPreviewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = ms_preview_get_property;
  object_class->dispose = ms_preview_dispose;
  object_class->finalize = ms_preview_finalize;

  properties[PROP_LOADING] = g_param_spec_boolean ("loading", NULL, NULL, FALSE,
                                                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_POSITION] = g_param_spec_uint ("position", NULL, NULL, 0, G_MAXUINT, 0,
                                                 G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  properties[PROP_SENDING] = g_param_spec_boolean ("sending", NULL, NULL, FALSE,
                                                   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_template_from_resource (widget_class, "/io/github/mailshot/Mailshot/ms-preview.ui");
  gtk_widget_class_bind_template_child (widget_class, MsPreview, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, window_title);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, search_entry);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, stack);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, spinner);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, error_page);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, from_label);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, to_label);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, subject_label);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, attachments_caption);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, attachments_label);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, switcher);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, body_stack);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, html_note);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, html_bin);
  gtk_widget_class_bind_template_child (widget_class, MsPreview, text_view);
  gtk_widget_class_bind_template_callback (widget_class, on_search_changed);
  gtk_widget_class_bind_template_callback (widget_class, on_search_activate);

  gtk_widget_class_install_action (widget_class, "preview.first", NULL, step_action);
  gtk_widget_class_install_action (widget_class, "preview.previous", NULL, step_action);
  gtk_widget_class_install_action (widget_class, "preview.next", NULL, step_action);
  gtk_widget_class_install_action (widget_class, "preview.send-test", NULL, send_test_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Page_Down, GDK_CONTROL_MASK, "preview.next", NULL);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Page_Up, GDK_CONTROL_MASK, "preview.previous", NULL);
}

static void
ms_preview_init (MsPreview *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  ms_a11y_fix_names (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  self->html_view = new_html_view (self);
  adw_bin_set_child (self->html_bin, self->html_view);
  gtk_stack_set_visible_child_name (self->stack, "loading");
}
