/* test-gui-pages.c: the Batches and Pending pages under Xvfb, against the CLI and the harness server
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <adwaita.h>
#ifdef GDK_WINDOWING_X11
#include <gdk/x11/gdkx.h>
#endif
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mailshot-core.h"
#include "ms-application.h"
#include "ms-batches-page.h"
#include "ms-blast-page.h"
#include "ms-blast-runner.h"
#include "ms-pending-page.h"
#include "ms-test-gui-support.h"
#include "ms-test-support.h"
#include "ms-window.h"

static MsApplication *app;
static MsTestServer *server;

static gpointer
window_child (const char *name)
{
  GObject *object = gtk_widget_get_template_child (GTK_WIDGET (ms_test_gui_get_window (app)), MS_TYPE_WINDOW, name);

  g_assert_nonnull (object);
  return object;
}

static MsBatchesPage *
get_batches_page (void)
{
  return MS_BATCHES_PAGE (adw_bin_get_child (window_child ("batches_bin")));
}

static MsPendingPage *
get_pending_page (void)
{
  return MS_PENDING_PAGE (adw_bin_get_child (window_child ("pending_bin")));
}

/* The account the app and the CLI share, pointed at the harness. */
static void
configure_account (void)
{
  MsAccount *account = ms_application_get_account (app);
  g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (server));

  g_assert_true (ms_account_set_from_string (account, "email-address", "news@example.org", NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-server", "127.0.0.1", NULL));
  g_assert_true (ms_account_set_from_string (account, "smtp-port", port, NULL));
  g_assert_true (ms_account_set_from_string (account, "timeout", "5", NULL));
  g_assert_true (ms_account_set_from_string (account, "needs-authentication", "false", NULL));
  g_settings_sync ();
}

/* A list of @n members; those in @typos are at the misspelt yahho.example,
 * which the harness refuses with 550 5.1.1. */
static char *
write_members (const char *name,
               guint       n,
               const char *typos)
{
  g_autofree char *path = ms_test_tmp_path (name);
  g_autoptr(GString) csv = g_string_new ("name,email,city\n");

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *tag = g_strdup_printf (",%u,", i);
      gboolean typo = typos != NULL && strstr (typos, tag) != NULL;

      g_string_append_printf (csv, "Member %u,member%u@%s,Town %u\n", i, i, typo ? "yahho.example" : "example.org",
                              n - i);
    }
  g_assert_true (g_file_set_contents (path, csv->str, -1, NULL));
  return g_steal_pointer (&path);
}

/* mailshot-cli blast send, as another process; returns the batch ID. */
static gint64
cli_send (const char *csv,
          const char *subject)
{
  g_autofree char *text = ms_test_tmp_path ("letter.txt");
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  gint64 batch;

  g_assert_true (g_file_set_contents (text, "Dear {{name}},\nthe news.\n", -1, NULL));
  ms_test_run_cli (NULL, &out, &err, "blast", "send", "--recipients", csv, "--subject", subject, "--text", text,
                   NULL);
  g_test_message ("blast send: %s", err);
  batch = g_ascii_strtoll (out, NULL, 10);
  g_assert_cmpint (batch, >, 0);
  return batch;
}

static char *
cli_output (const char *first_arg,
            ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL;
  va_list ap;

  va_start (ap, first_arg);
  for (const char *arg = first_arg; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  g_assert_cmpint (ms_test_run_cliv (NULL, &out, NULL, (const char * const *) args->pdata), ==, 0);
  return g_steal_pointer (&out);
}

static char *
id_text (gint64 id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, id);
}

/* The CLI's "Recipients: N (5 sent, 2 failed)" line, made from the page's counts. */
static char *
status_line (const MsBatchInfo *info)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (guint i = 0; i < MS_N_STATES; i++)
    if (info->counts[i] > 0)
      g_string_append_printf (s, "%s%u %s", s->len > 0 ? ", " : "", info->counts[i], ms_recipient_state_to_string (i));
  return g_strdup_printf ("Recipients: %u (%s)", info->total, s->str);
}

static MsBatchInfo *
page_batch (gint64 id)
{
  GPtrArray *batches = ms_batches_page_get_batches (get_batches_page ());

  for (guint i = 0; i < batches->len; i++)
    if (((MsBatchInfo *) batches->pdata[i])->id == id)
      return batches->pdata[i];
  return NULL;
}

static gboolean
page_has_batch (gpointer data)
{
  return page_batch (*(gint64 *) data) != NULL;
}

static gboolean
report_has_n_rows (gpointer data)
{
  return g_list_model_get_n_items (ms_batches_page_get_report_model (get_batches_page ())) == GPOINTER_TO_UINT (data);
}

typedef struct {
  gboolean done;
  gboolean ok;
  GError  *error;
} Result;

static void
on_exported (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Result *r = user_data;

  r->ok = ms_batches_page_export_finish (MS_BATCHES_PAGE (source), result, &r->error);
  r->done = TRUE;
}

static gboolean
result_done (gpointer data)
{
  return ((Result *) data)->done;
}

static gint64 first_batch;   /* made by the batches case, used by the pending one */

/* ------------------------------------------------------------- Batches */

static void
test_batches (void)
{
  g_autofree char *members = write_members ("members.csv", 12, ",2,5,9,");
  g_autofree char *others = write_members ("others.csv", 5, NULL);
  g_autofree char *list = NULL;
  g_autofree char *export_path = ms_test_tmp_path ("report.csv");
  g_autoptr(GFile) export_file = g_file_new_for_path (export_path);
  g_autofree char *exported = NULL;
  g_autofree char *cli_csv = NULL;
  g_autofree char *a_id = NULL;
  g_autofree char *b_id = NULL;
  MsBatchesPage *page;
  GPtrArray *batches;
  GListModel *report;
  g_auto(GStrv) lines = NULL;
  Result r = { 0 };
  gint64 a, b, c;
  guint failed = 0;

  configure_account ();
  {
    /* Line 14 is left out at import: it is part of the report. */
    g_autofree char *contents = NULL;
    g_autofree char *more = NULL;

    g_assert_true (g_file_get_contents (members, &contents, NULL, NULL));
    more = g_strconcat (contents, "Bad Member,not-an-address,Atown\n", NULL);
    g_assert_true (g_file_set_contents (members, more, -1, NULL));
  }
  a = cli_send (members, "Spring news for {{name}}");
  b = cli_send (others, "Committee meeting");
  first_batch = a;
  a_id = id_text (a);
  b_id = id_text (b);

  ms_window_show_page (ms_test_gui_get_window (app), "batches");
  gtk_window_present (GTK_WINDOW (ms_test_gui_get_window (app)));
  page = get_batches_page ();
  ms_test_gui_spin_for (200);

  /* Newest first, in the CLI's order, with the counts `blast status` gives. */
  batches = ms_batches_page_get_batches (page);
  list = cli_output ("blast", "list", NULL);
  lines = g_strsplit (list, "\n", -1);
  g_assert_cmpuint (batches->len, ==, 2);
  for (guint i = 0; i < batches->len; i++)
    {
      MsBatchInfo *info = batches->pdata[i];
      g_autofree char *id = id_text (info->id);
      g_autofree char *status = cli_output ("blast", "status", id, NULL);
      g_autofree char *line = status_line (info);

      g_assert_true (g_str_has_prefix (lines[i], id));
      g_test_message ("batch %s: %s", id, line);
      g_assert_nonnull (strstr (status, line));
    }
  g_assert_cmpint (((MsBatchInfo *) batches->pdata[0])->id, ==, b);
  g_assert_cmpuint (page_batch (a)->counts[MS_STATE_SENT], ==, 9);
  g_assert_cmpuint (page_batch (a)->counts[MS_STATE_FAILED], ==, 3);
  {
    /* What a person reads: the row of the batch says the same. */
    GtkWidget *row = GTK_WIDGET (gtk_list_box_get_row_at_index (
      GTK_LIST_BOX (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "batch_list")), 1));
    const char *subtitle = adw_action_row_get_subtitle (ADW_ACTION_ROW (row));

    g_test_message ("row: %s", subtitle);
    g_assert_nonnull (strstr (subtitle, "9 of 12 sent · 3 failed · 0 uncertain"));
  }

  /* The report: every recipient, the merge fields, the reply; the row
   * left out at import, in its place, with its reason. */
  g_assert_true (ms_batches_page_open_batch (page, a));
  report = ms_batches_page_get_report_model (page);
  g_assert_cmpuint (g_list_model_get_n_items (report), ==, 12 + 1);
  g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "report_counts")),
                            "9 of 12 sent · 3 failed · 0 uncertain · 1 left out at import"));
  for (guint i = 0; i < 12 + 1; i++)
    {
      g_autofree char *address = ms_batches_page_dup_report_cell (page, i, "address");
      g_autofree char *state = ms_batches_page_dup_report_cell (page, i, "state");
      g_autofree char *reply = ms_batches_page_dup_report_cell (page, i, "reply");
      g_autofree char *city = ms_batches_page_dup_report_cell (page, i, "city");
      g_autofree char *name = ms_batches_page_dup_report_cell (page, i, "name");

      g_test_message ("%s: %s, %s", address, state, reply);
      if (i == 12)
        {
          g_autofree char *attempts = ms_batches_page_dup_report_cell (page, i, "attempts");

          g_assert_cmpstr (address, ==, "not-an-address");
          g_assert_cmpstr (state, ==, "Left out");
          g_assert_cmpstr (reply, ==, "Line 14: “not-an-address” is not a valid e-mail address.");
          g_assert_cmpstr (name, ==, "Bad Member");
          g_assert_cmpstr (city, ==, "Atown");
          g_assert_cmpstr (attempts, ==, "");
          continue;
        }
      g_assert_true (g_str_has_prefix (name, "Member "));
      g_assert_true (g_str_has_prefix (city, "Town "));
      if (strstr (address, "yahho") != NULL)
        {
          failed++;
          g_assert_cmpstr (state, ==, "Failed");
          /* The code, the enhanced code and the server's text as the journal stores them. */
          g_assert_true (g_str_has_prefix (reply, "550 5.1.1 <member"));
          g_assert_nonnull (strstr (reply, "User unknown"));
        }
      else
        {
          g_autofree char *message_id = ms_batches_page_dup_report_cell (page, i, "message-id");

          g_assert_cmpstr (state, ==, "Sent");
          g_assert_cmpstr (message_id, !=, "");
        }
    }
  g_assert_cmpuint (failed, ==, 3);

  /* Sorting by a column header, then a search. */
  {
    GtkColumnView *view = ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "column_view");
    GtkColumnViewColumn *city = NULL;
    GListModel *columns = gtk_column_view_get_columns (view);
    g_autofree char *first = NULL;
    g_autofree char *last = NULL;

    for (guint i = 0; i < g_list_model_get_n_items (columns); i++)
      {
        g_autoptr(GtkColumnViewColumn) column = g_list_model_get_item (columns, i);

        if (g_strcmp0 (gtk_column_view_column_get_title (column), "city") == 0)
          city = column;
      }
    g_assert_nonnull (city);
    gtk_column_view_sort_by_column (view, city, GTK_SORT_DESCENDING);
    first = ms_batches_page_dup_report_cell (page, 0, "city");
    last = ms_batches_page_dup_report_cell (page, 11, "city");
    g_assert_cmpstr (first, ==, "Town 9");   /* "Town 9" > "Town 12" > "Town 1" > "Atown" as text */
    g_assert_cmpstr (last, ==, "Town 1");
    g_clear_pointer (&last, g_free);
    last = ms_batches_page_dup_report_cell (page, 12, "city");
    g_assert_cmpstr (last, ==, "Atown");
    gtk_editable_set_text (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "search_entry"),
                           "YAHHO");
    ms_test_gui_wait_until (report_has_n_rows, GUINT_TO_POINTER (3), 5000);
    gtk_editable_set_text (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "search_entry"),
                           "user unknown");
    ms_test_gui_wait_until (report_has_n_rows, GUINT_TO_POINTER (3), 5000);
    gtk_editable_set_text (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "search_entry"), "not a valid");
    ms_test_gui_wait_until (report_has_n_rows, GUINT_TO_POINTER (1), 5000);
    gtk_editable_set_text (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "search_entry"), "");
    ms_test_gui_wait_until (report_has_n_rows, GUINT_TO_POINTER (12 + 1), 5000);
  }

  /* Export CSV writes what blast report --csv writes, byte for byte. */
  ms_batches_page_export_async (page, export_file, NULL, on_exported, &r);
  ms_test_gui_wait_until (result_done, &r, 10000);
  g_assert_no_error (r.error);
  g_assert_true (r.ok);
  g_assert_true (g_file_get_contents (export_path, &exported, NULL, NULL));
  cli_csv = cli_output ("blast", "report", a_id, "--csv", NULL);
  g_assert_cmpstr (exported, ==, cli_csv);
  g_assert_nonnull (strstr (exported, "\nnot-an-address,left-out,0,,,"));

  /* A finished batch cannot be cancelled: the journal's rule greys it out. */
  g_assert_false (gtk_widget_get_sensitive (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "cancel_button")));
  g_assert_nonnull (strstr (gtk_widget_get_tooltip_text (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "cancel_button")),
                            "has finished"));
  g_assert_true (gtk_widget_get_sensitive (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "resume_button")));

  /* The notification's action opens the batch's report, from another page. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "batches.back", NULL));
  ms_window_show_page (ms_test_gui_get_window (app), "pending");
  g_action_group_activate_action (G_ACTION_GROUP (app), "show-batch", g_variant_new_int64 (b));
  g_assert_cmpstr (adw_view_stack_get_visible_child_name (window_child ("view_stack")), ==, "batches");
  g_assert_cmpint (ms_batches_page_get_open_batch (page), ==, b);
  g_assert_cmpstr (gtk_stack_get_visible_child_name (ms_test_gui_child (page, MS_TYPE_BATCHES_PAGE, "stack")), ==, "report");
  g_assert_cmpuint (g_list_model_get_n_items (report), ==, 5);

  /* A batch made by mailshot-cli shows up without a restart, while the page shows. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "batches.back", NULL));
  c = cli_send (others, "A third one");
  ms_test_gui_wait_until (page_has_batch, &c, 10000);
  g_assert_cmpint (((MsBatchInfo *) ms_batches_page_get_batches (page)->pdata[0])->id, ==, c);
}

/* ------------------------------------------------------------- Pending */

static int
find_position (const char *address)
{
  MsPendingPage *page = get_pending_page ();
  GListModel *model = G_LIST_MODEL (ms_pending_page_get_selection (page));

  for (guint i = 0; i < g_list_model_get_n_items (model); i++)
    if (g_strcmp0 (ms_pending_page_get_row (page, i)->address, address) == 0)
      return (int) i;
  return -1;
}

static gboolean
row_listed (gpointer address)
{
  return find_position (address) >= 0;
}

static gboolean
row_gone (gpointer address)
{
  return find_position (address) < 0;
}

static void
select_only (const char *address)
{
  int position = find_position (address);

  g_assert_cmpint (position, >=, 0);
  g_assert_true (gtk_selection_model_select_item (ms_pending_page_get_selection (get_pending_page ()),
                                                  position, TRUE));
}

typedef struct {
  guint  finished;
  char  *message;
} Finished;

static void
on_finished (MsBlastRunner *runner,
             gint64         batch,
             guint          sent,
             guint          failed,
             guint          uncertain,
             const char    *message,
             Finished      *f)
{
  f->finished++;
  g_free (f->message);
  f->message = g_strdup (message);
}

static gboolean
finished_once (gpointer data)
{
  return ((Finished *) data)->finished > 0;
}

static gboolean
badge_is (gpointer data)
{
  return adw_view_stack_page_get_badge_number (window_child ("pending_page")) == GPOINTER_TO_UINT (data);
}

/* An uncertain row, as a crash leaves one: claimed for sending, never recorded. */
static gint64
make_uncertain_batch (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsJournal) journal = ms_journal_open (NULL, &error);
  g_autoptr(MsJournal) again = NULL;
  g_autoptr(GPtrArray) claimed = NULL;
  static const char *fields[] = { "email", NULL };
  MsBatchSpec spec = {
    .account = (char *) "default", .from_address = (char *) "news@example.org", .subject = (char *) "Interrupted",
    .text = (char *) "Hello\n", .fields = (char **) fields, .email_index = 0, .source = (char *) "crash.csv",
  };
  const char *values[] = { "maybe@example.org", NULL };
  gboolean duplicate;
  gint64 batch;

  g_assert_no_error (error);
  batch = ms_journal_create_batch (journal, &spec, &error);
  g_assert_true (ms_journal_begin (journal, &error));
  g_assert_true (ms_journal_add_recipient (journal, batch, values[0], values, 2, &duplicate, &error));
  g_assert_true (ms_journal_commit (journal, &error));
  claimed = ms_journal_claim (journal, batch, 1, g_get_real_time () / G_USEC_PER_SEC, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (claimed->len, ==, 1);
  g_clear_object (&journal);
  /* Opening again finds the row left `sending`: uncertain now. */
  again = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  return batch;
}

static void
test_pending (void)
{
  MsPendingPage *page;
  MsBlastRunner *runner = ms_application_get_runner (app);
  AdwMessageDialog *dialog;
  GtkEditable *entry;
  g_autofree char *a_id = id_text (first_batch);
  g_autofree char *status = NULL;
  g_autofree char *pending = NULL;
  g_auto(GStrv) causes = NULL;
  Finished f = { 0 };
  gint64 uncertain_batch;
  gulong id;

  g_assert_cmpint (first_batch, >, 0);
  configure_account ();
  ms_window_show_page (ms_test_gui_get_window (app), "pending");
  page = get_pending_page ();
  ms_test_gui_spin_for (200);

  /* The three refused recipients, each with the advice for its stored reply. */
  ms_pending_page_set_filter (page, MS_STATE_FAILED, first_batch, NULL);
  g_assert_cmpuint (g_list_model_get_n_items (G_LIST_MODEL (ms_pending_page_get_selection (page))), ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      const MsJournalRow *row = ms_pending_page_get_row (page, i);
      g_autofree char *advice = ms_journal_row_dup_advice (row);

      g_assert_nonnull (strstr (row->address, "@yahho.example"));
      g_assert_cmpint (row->reply_code, ==, 550);
      g_assert_cmpstr (ms_pending_page_get_advice (page, i), ==, advice);
      g_assert_cmpuint (strlen (advice), >, 20);
      g_test_message ("%s: %s", row->address, advice);
    }
  /* Grouped by cause: one line, three messages. */
  causes = ms_pending_page_dup_causes (page);
  g_assert_cmpuint (g_strv_length (causes), ==, 1);
  g_assert_true (g_str_has_prefix (causes[0], "3\t"));
  g_assert_cmpuint (adw_view_stack_page_get_badge_number (window_child ("pending_page")), ==, 3);

  /* Mark as sent is only for an uncertain row. */
  select_only ("member2@yahho.example");
  gtk_widget_activate_action (GTK_WIDGET (page), "pending.mark-sent", NULL);
  g_assert_cmpint (ms_pending_page_get_row (page, find_position ("member2@yahho.example"))->state, ==,
                   MS_STATE_FAILED);

  /* Edit the address: a bad value is named, a good one is stored, retried and arrives. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "pending.edit-address", NULL));
  dialog = ms_pending_page_get_dialog (page);
  g_assert_nonnull (dialog);
  entry = GTK_EDITABLE (gtk_widget_get_first_child (adw_message_dialog_get_extra_child (dialog)));
  gtk_editable_set_text (entry, "member2@yahoo");
  g_assert_false (adw_message_dialog_get_response_enabled (dialog, "retry"));
  {
    GtkWidget *problem = gtk_widget_get_next_sibling (GTK_WIDGET (entry));

    g_assert_true (gtk_widget_get_visible (problem));
    g_assert_nonnull (strstr (gtk_label_get_text (GTK_LABEL (problem)), "“member2@yahoo”"));
  }
  gtk_editable_set_text (entry, "member2@yahoo.example");
  g_assert_true (adw_message_dialog_get_response_enabled (dialog, "retry"));
  id = g_signal_connect (runner, "finished", G_CALLBACK (on_finished), &f);
  adw_message_dialog_response (dialog, "retry");
  ms_test_gui_wait_until (finished_once, &f, 30000);
  g_signal_handler_disconnect (runner, id);
  g_assert_null (f.message);
  g_assert_true (ms_test_server_log_contains (server, "rcpt member2@yahoo.example"));
  ms_test_gui_wait_until (row_gone, (gpointer) "member2@yahoo.example", 5000);
  status = cli_output ("blast", "status", a_id, NULL);
  g_assert_nonnull (strstr (status, "Recipients: 12 (10 sent, 2 failed)"));
  ms_test_gui_wait_until (badge_is, GUINT_TO_POINTER (2), 5000);

  /* Skip: the CLI then shows the row skipped. */
  select_only ("member5@yahho.example");
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "pending.skip", NULL));
  g_assert_cmpint (find_position ("member5@yahho.example"), <, 0);
  pending = cli_output ("pending", "--batch", a_id, "--state", "skipped", NULL);
  g_assert_nonnull (strstr (pending, "member5@yahho.example"));
  g_clear_pointer (&pending, g_free);
  ms_test_gui_wait_until (badge_is, GUINT_TO_POINTER (1), 5000);

  /* Mark as sent: an uncertain row (a crash's) appears by itself, is marked, and the CLI agrees. */
  ms_pending_page_set_filter (page, MS_N_STATES, 0, NULL);
  uncertain_batch = make_uncertain_batch ();
  ms_test_gui_wait_until (row_listed, (gpointer) "maybe@example.org", 10000);
  select_only ("maybe@example.org");
  g_assert_cmpint (ms_pending_page_get_row (page, find_position ("maybe@example.org"))->state, ==, MS_STATE_UNCERTAIN);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "pending.mark-sent", NULL));
  g_assert_cmpint (find_position ("maybe@example.org"), <, 0);
  {
    g_autofree char *u_id = id_text (uncertain_batch);

    g_free (status);
    status = cli_output ("blast", "status", u_id, NULL);
    g_assert_nonnull (strstr (status, "Recipients: 1 (1 sent)"));
  }

  /* Export CSV: the rows shown, one line each. */
  {
    g_autofree char *path = ms_test_tmp_path ("pending.csv");
    g_autoptr(GFile) file = g_file_new_for_path (path);
    g_autoptr(GError) error = NULL;
    g_autofree char *csv = NULL;

    ms_pending_page_set_filter (page, MS_STATE_FAILED, 0, NULL);
    g_assert_true (ms_pending_page_export (page, file, &error));
    g_assert_no_error (error);
    g_assert_true (g_file_get_contents (path, &csv, NULL, NULL));
    g_assert_true (g_str_has_prefix (csv, "batch,line,address,state,attempts,time,reply_code,reply_text,advice\n"));
    g_assert_nonnull (strstr (csv, "member9@yahho.example,failed,1,"));
    g_assert_null (strstr (csv, "member5@"));
  }
  g_free (f.message);
}

/* ------------------------------------------------------------- screenshots */

static void
screenshot (GtkWidget  *widget,
            const char *name)
{
  const char *dir = g_getenv ("MS_SCREENSHOT_DIR");
  g_autofree char *path = NULL;
  g_autofree char *xid = NULL;
  g_autoptr(GError) error = NULL;
  int status = 0;

  ms_test_gui_spin_for (700);
  path = g_build_filename (dir, name, NULL);
#ifdef GDK_WINDOWING_X11
  xid = g_strdup_printf ("0x%lx", (unsigned long) gdk_x11_surface_get_xid (gtk_native_get_surface (GTK_NATIVE (widget))));
  g_spawn_sync (NULL, (char *[]) { "import", "-window", xid, path, NULL },
                NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error);
#endif
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_test_message ("wrote %s", path);
}

/* @name.png and @name-dark.png: published in data/screenshots when
 * @publish, else written only for a designer's review (review-*.png, with
 * MS_SCREENSHOT_REVIEW set), together with a 360 px shot. */
static void
shots (const char *name,
       gboolean    publish)
{
  MsWindow *window = ms_test_gui_get_window (app);
  gboolean review = g_getenv ("MS_SCREENSHOT_REVIEW") != NULL;
  const char *prefix = publish ? "" : "review-";
  g_autofree char *light = g_strdup_printf ("%s%s.png", prefix, name);
  g_autofree char *dark = g_strdup_printf ("%s%s-dark.png", prefix, name);
  g_autofree char *narrow = g_strdup_printf ("review-%s-narrow.png", name);

  if (!publish && !review)
    return;
  screenshot (GTK_WIDGET (window), light);
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_FORCE_DARK);
  screenshot (GTK_WIDGET (window), dark);
  adw_style_manager_set_color_scheme (adw_style_manager_get_default (), ADW_COLOR_SCHEME_DEFAULT);
  if (review)
    {
      gtk_window_set_default_size (GTK_WINDOW (window), 360, 640);
      screenshot (GTK_WIDGET (window), narrow);
      gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
    }
}

static void
test_screenshots (void)
{
  MsWindow *window;

#ifdef GDK_WINDOWING_X11
  if (!GDK_IS_X11_DISPLAY (gdk_display_get_default ()))
#endif
    {
      g_test_skip ("screenshots need an X11 display (Xvfb)");
      return;
    }
  if (g_getenv ("MS_SCREENSHOT_DIR") == NULL)
    {
      g_test_skip ("set MS_SCREENSHOT_DIR to write screenshots (build-aux/dev screenshots)");
      return;
    }
  /* Every shot shows a settled state, not a row's title half way through
   * its animation. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  g_assert_cmpint (first_batch, >, 0);
  configure_account ();
  {
    /* A list that reads like a real one: a few hundred members, some refused. */
    g_autofree char *members = write_members ("shots.csv", 240, ",3,17,40,41,77,120,121,199,");
    g_autofree char *more = write_members ("more.csv", 60, ",8,");

    cli_send (more, "Garden party on Saturday 14 June");
    cli_send (members, "Spring newsletter for {{name}}");
  }
  /* A fresh window, without the toasts of the cases before (a toast waits
   * for a focused window to time out, and Xvfb has no window manager). */
  gtk_window_destroy (GTK_WINDOW (ms_test_gui_get_window (app)));
  window = ms_test_gui_get_window (app);
  gtk_window_set_default_size (GTK_WINDOW (window), 900, 640);
  ms_window_show_page (window, "batches");
  ms_batches_page_reload (get_batches_page ());
  shots ("batches", FALSE);
  ms_batches_page_open_batch (get_batches_page (),
                              ((MsBatchInfo *) ms_batches_page_get_batches (get_batches_page ())->pdata[0])->id);
  shots ("batch-report", TRUE);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (get_batches_page ()), "batches.back", NULL));

  ms_window_show_page (window, "pending");
  ms_pending_page_set_filter (get_pending_page (), MS_N_STATES, 0, NULL);
  shots ("pending", TRUE);
  gtk_toggle_button_set_active (ms_test_gui_child (get_pending_page (), MS_TYPE_PENDING_PAGE,
                                                   "cause_toggle"), TRUE);
  shots ("pending-by-cause", FALSE);
  gtk_toggle_button_set_active (ms_test_gui_child (get_pending_page (), MS_TYPE_PENDING_PAGE,
                                                   "cause_toggle"), FALSE);
}

/* ------------------------------------------------ Send while importing */

typedef struct {
  guint    finished;
  gint64   batch;
  guint    sent;
  char    *message;
  /* What the window showed, polled while the blast ran. */
  gboolean saw_about;
  gboolean went_back;
  double   last_fraction;
  char    *last_about;
  char    *last_text;
} Watch;

static void
on_blast_finished (MsBlastRunner *runner,
                   gint64         batch,
                   guint          sent,
                   guint          failed,
                   guint          uncertain,
                   const char    *message,
                   Watch         *w)
{
  w->finished++;
  w->batch = batch;
  w->sent = sent;
  g_free (w->message);
  w->message = g_strdup (message);
}

static gboolean
watch_window (gpointer data)
{
  Watch *w = data;
  MsWindow *window = ms_test_gui_get_window (app);
  const char *text = gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_label"));
  double fraction = gtk_progress_bar_get_fraction (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_bar"));

  if (g_strcmp0 (text, w->last_text) != 0)
    {
      g_test_message ("window: %s (%.3f)", text, fraction);
      g_free (w->last_text);
      w->last_text = g_strdup (text);
    }
  if (strstr (text, " of about ") != NULL)
    {
      w->saw_about = TRUE;
      g_free (w->last_about);
      w->last_about = g_strdup (text);
    }
  if (fraction + 1e-9 < w->last_fraction)
    w->went_back = TRUE;
  w->last_fraction = MAX (w->last_fraction, fraction);
  return G_SOURCE_CONTINUE;
}

static gboolean
blast_finished (gpointer data)
{
  return ((Watch *) data)->finished > 0;
}

static gboolean
blast_page_loaded (gpointer data)
{
  return !ms_blast_page_get_loading (data);
}

/* The window sends while the list goes in (ms_import_start() and
 * ms_blast_set_import(), as `blast send`), in chunks of 1 row here: the
 * progress says "of about N" (the records of the file) until the list is
 * in, its bar never goes back, every member gets one message, and the row
 * left out and the duplicate are in the report and the counts as before. */
static void
test_send_while_importing (void)
{
  g_autofree char *path = ms_test_tmp_path ("overlap-members.csv");
  g_autoptr(GString) csv = g_string_new ("name,email,city\n");
  g_autoptr(GFile) file = NULL;
  g_autoptr(GPtrArray) envelopes = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GPtrArray) left_out = NULL;
  g_autoptr(GError) error = NULL;
  MsBlastRunner *runner = ms_application_get_runner (app);
  MsWindow *window;
  MsBlastPage *page;
  AdwMessageDialog *dialog;
  const char *summary;
  Watch w = { 0 };
  gulong id;
  guint poll;
  const guint n = 1500;

  /* A row left out late in the list, and a duplicate of an early one at its end. */
  for (guint i = 0; i < n; i++)
    {
      if (i == 1200)
        g_string_append (csv, "Bad Row,not-an-address,Btown\n");
      g_string_append_printf (csv, "Overlap %u,overlap%u@example.org,Town %u\n", i, i, i);
    }
  g_string_append (csv, "Again,OVERLAP7@example.org,Town 7\n");
  g_assert_true (g_file_set_contents (path, csv->str, -1, NULL));
  file = g_file_new_for_path (path);

  g_setenv ("MS_IMPORT_CHUNK", "1", TRUE);
  configure_account ();
  window = ms_test_gui_get_window (app);
  gtk_window_present (GTK_WINDOW (window));
  page = ms_window_get_blast_page (window);
  ms_window_show_page (window, "blast");
  ms_blast_page_load_recipients (page, file);
  ms_test_gui_wait_until (blast_page_loaded, page, 20000);
  gtk_editable_set_text (GTK_EDITABLE (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "subject_row")),
                         "Overlap news for {{name}}");
  gtk_text_buffer_set_text (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "body_buffer"), "Dear {{name}},\nhi.\n", -1);
  summary = adw_action_row_get_subtitle (ms_test_gui_child (page, MS_TYPE_BLAST_PAGE, "summary_row"));
  g_test_message ("summary: %s", summary);
  g_assert_nonnull (strstr (summary, "1 left out"));
  g_assert_nonnull (strstr (summary, "1 duplicate"));
  g_assert_cmpuint (ms_blast_page_get_valid_count (page), ==, n);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (page), "blast.send", NULL));
  dialog = ms_blast_page_get_dialog (page);
  g_assert_nonnull (dialog);
  id = g_signal_connect (runner, "finished", G_CALLBACK (on_blast_finished), &w);
  poll = g_timeout_add (5, watch_window, &w);
  adw_message_dialog_response (dialog, "send");
  /* Hidden while it runs, as in the resume test below: drawing its frames
   * under Xvfb can hold the main loop longer than the whole import takes.
   * Its labels still follow the runner. */
  gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
  ms_test_gui_wait_until (blast_finished, &w, 120000);
  gtk_widget_set_visible (GTK_WIDGET (window), TRUE);
  g_source_remove (poll);
  watch_window (&w);
  g_signal_handler_disconnect (runner, id);
  g_unsetenv ("MS_IMPORT_CHUNK");

  /* Every member once, and the counts shown are the server's. */
  g_test_message ("while importing: %s; at the end: %s", w.last_about,
                  gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_label")));
  g_assert_null (w.message);
  g_assert_cmpuint (w.sent, ==, n);
  envelopes = ms_test_server_get_envelopes (server);
  for (guint i = 0; i < envelopes->len; i++)
    {
      g_auto(GStrv) parts = g_strsplit (envelopes->pdata[i], " ", 3);
      g_auto(GStrv) to = parts[1] != NULL && parts[2] != NULL ? g_strsplit (parts[2], ",", -1) : NULL;

      for (guint j = 0; to != NULL && to[j] != NULL; j++)
        if (g_str_has_prefix (to[j], "overlap"))
          g_assert_true (g_hash_table_add (seen, g_ascii_strdown (to[j], -1)));   /* once each */
    }
  g_assert_cmpuint (g_hash_table_size (seen), ==, n);
  g_assert_true (g_hash_table_contains (seen, "overlap0@example.org"));
  g_assert_true (g_hash_table_contains (seen, "overlap1499@example.org"));

  /* While the list went in: "of about" the file's 1,502 records, the bar
   * only forward; at the end the exact count. */
  g_assert_true (w.saw_about);
  g_assert_nonnull (strstr (w.last_about, " of about 1502 sent"));
  g_assert_false (w.went_back);
  g_assert_cmpfloat (ms_blast_runner_get_fraction (runner), ==, 1.0);
  g_assert_cmpstr (gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "progress_label")), ==,
                   "1500 of 1500 sent");

  /* The batch: whole, the row left out in its report, nothing unfinished. */
  journal = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  info = ms_journal_get_batch_info (journal, w.batch, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->status, ==, MS_BATCH_FINISHED);
  g_assert_cmpuint (info->total, ==, n);
  g_assert_cmpuint (info->counts[MS_STATE_SENT], ==, n);
  g_assert_false (info->import_unfinished);
  left_out = ms_journal_list_left_out (journal, w.batch, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (left_out->len, ==, 1);
  g_assert_cmpuint (((MsJournalLeftOut *) left_out->pdata[0])->line, ==, 1202);
  ms_window_show_page (window, "batches");
  ms_batches_page_reload (get_batches_page ());
  g_assert_true (ms_batches_page_open_batch (get_batches_page (), w.batch));
  g_assert_cmpuint (g_list_model_get_n_items (ms_batches_page_get_report_model (get_batches_page ())), ==, n + 1);
  g_assert_nonnull (strstr (gtk_label_get_text (ms_test_gui_child (get_batches_page (), MS_TYPE_BATCHES_PAGE,
                                                                   "report_counts")),
                            "1500 of 1500 sent · 0 failed · 0 uncertain · 1 left out at import"));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (get_batches_page ()), "batches.back", NULL));
  g_free (w.message);
  g_free (w.last_about);
  g_free (w.last_text);
}

/* What the runner showed of a resume, every change of its text and bar. */
typedef struct {
  guint    changes;
  gboolean saw_about;
  gboolean went_back;
  double   last_fraction;
  char    *first_text;     /* of the run, after "Resuming the e-blast…" */
  char    *last_about;
} ResumeWatch;

static void
on_runner_progress (MsBlastRunner *runner,
                    GParamSpec    *pspec,
                    ResumeWatch   *w)
{
  const char *text = ms_blast_runner_get_text (runner);
  double fraction = ms_blast_runner_get_fraction (runner);

  if (!ms_blast_runner_get_active (runner) || strstr (text, " sent") == NULL)
    return;
  w->changes++;
  if (w->first_text == NULL)
    {
      g_test_message ("runner: first progress %s (%.4f)", text, fraction);
      w->first_text = g_strdup (text);
    }
  if (strstr (text, " of about ") != NULL)
    {
      w->saw_about = TRUE;
      g_free (w->last_about);
      w->last_about = g_strdup (text);
    }
  if (fraction + 1e-9 < w->last_fraction)
    {
      if (!w->went_back)
        g_test_message ("runner: the bar went back from %.4f to %.4f (%s)", w->last_fraction, fraction, text);
      w->went_back = TRUE;
    }
  w->last_fraction = MAX (w->last_fraction, fraction);
}

/* A crash in the middle of the import, once every row that got in was
 * sent: the window still offers the batch, says that its list is not all
 * in, and its resume imports and sends the rest, each member once. While
 * the rest goes in (by chunks of one row), the progress reads "of about"
 * the file's records, known from the check the resume makes of the file,
 * and the bar never moves back (a total of the rows in so far grew with
 * each chunk and pulled it back: 4 of 4, then 5 of 9...). */
static void
test_resume_list_not_all_in (void)
{
  g_autofree char *path = ms_test_tmp_path ("not-all-in.csv");
  g_autoptr(GString) csv = g_string_new ("name,email,city\n");
  g_autoptr(GPtrArray) envelopes = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *last_name = NULL;
  MsBlastRunner *runner = ms_application_get_runner (app);
  MsWindow *window;
  const char *text;
  Watch w = { 0 };
  ResumeWatch rw = { 0 };
  gint64 batch;
  guint first;
  gulong id, text_id, fraction_id;
  const guint n = 10000;

  /* A row left out and a duplicate at the end: n + 2 records, n recipients. */
  for (guint i = 0; i < n; i++)
    g_string_append_printf (csv, "Late %u,late%u@example.org,Town %u\n", i, i, i);
  g_string_append (csv, "Bad Row,not-an-address,Btown\nAgain,LATE7@example.org,Town 7\n");
  g_assert_true (g_file_set_contents (path, csv->str, -1, NULL));
  /* The resume (in this process) imports the rest by chunks of one row:
   * it takes a while, and its progress is seen before the list is in. */
  g_setenv ("MS_IMPORT_CHUNK", "1", TRUE);

  if (g_test_subprocess ())
    ms_test_import_first_chunk_and_die (ms_account_get_name (ms_application_get_account (app)), "Late news for {{name}}", "Dear {{name}},\nhi.\n", path);

  configure_account ();
  g_test_trap_subprocess (NULL, 60 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_assert_false (g_test_trap_has_passed ());
  ms_test_gui_spin_for (500);
  configure_account ();

  /* The restart: a new window offers it, though nothing is left queued. */
  gtk_window_destroy (GTK_WINDOW (ms_test_gui_get_window (app)));
  window = ms_test_gui_get_window (app);
  batch = ms_window_get_unfinished_batch (window);
  g_assert_cmpint (batch, >, 0);
  journal = ms_journal_open (NULL, &error);
  g_assert_no_error (error);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  first = info->counts[MS_STATE_SENT];
  g_assert_cmpuint (first, ==, 4);
  g_assert_cmpuint (info->total, ==, 4);
  g_assert_true (info->import_unfinished);
  g_clear_pointer (&info, ms_batch_info_free);
  g_assert_true (gtk_revealer_get_reveal_child (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_revealer")));
  text = gtk_label_get_text (ms_test_gui_child (window, MS_TYPE_WINDOW, "resume_label"));
  g_test_message ("offer: %s", text);
  g_assert_nonnull (strstr (text, "It stopped while its list was being read in: 0 messages of the part read are "
                                  "still to send, and resuming reads the rest"));

  /* Resume: the rest goes in and out, each member once. */
  id = g_signal_connect (runner, "finished", G_CALLBACK (on_blast_finished), &w);
  text_id = g_signal_connect (runner, "notify::text", G_CALLBACK (on_runner_progress), &rw);
  fraction_id = g_signal_connect (runner, "notify::fraction", G_CALLBACK (on_runner_progress), &rw);
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.resume-unfinished", NULL));
  /* Hidden while it runs: drawing its frames under Xvfb held the main loop
   * for 150 ms or more as the run began, and its first progress came once
   * the whole list was in. What the window shows is the runner's. */
  gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
  ms_test_gui_wait_until (blast_finished, &w, 120000);
  gtk_widget_set_visible (GTK_WIDGET (window), TRUE);
  g_signal_handler_disconnect (runner, id);
  g_signal_handler_disconnect (runner, text_id);
  g_signal_handler_disconnect (runner, fraction_id);
  g_unsetenv ("MS_IMPORT_CHUNK");
  g_assert_null (w.message);

  /* While the rest went in: "of about" the file's 10,002 records from the
   * first progress on, the bar only forward; at the end the exact count. */
  g_test_message ("resume: %u changes; while importing: %s; at the end: %s", rw.changes, rw.last_about,
                  ms_blast_runner_get_text (runner));
  g_assert_nonnull (rw.first_text);
  g_assert_nonnull (strstr (rw.first_text, " of about 10002 sent"));
  g_assert_true (rw.saw_about);
  g_assert_nonnull (strstr (rw.last_about, " of about 10002 sent"));
  g_assert_false (rw.went_back);
  g_assert_cmpfloat (ms_blast_runner_get_fraction (runner), ==, 1.0);
  g_assert_cmpstr (ms_blast_runner_get_text (runner), ==, "10000 of 10000 sent");

  g_assert_cmpint (w.batch, ==, batch);
  g_assert_cmpuint (w.sent, ==, n);
  info = ms_journal_get_batch_info (journal, batch, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->status, ==, MS_BATCH_FINISHED);
  g_assert_cmpuint (info->total, ==, n);
  g_assert_false (info->import_unfinished);
  envelopes = ms_test_server_get_envelopes (server);
  for (guint i = 0; i < envelopes->len; i++)
    {
      g_auto(GStrv) parts = g_strsplit (envelopes->pdata[i], " ", 3);
      g_auto(GStrv) to = parts[1] != NULL && parts[2] != NULL ? g_strsplit (parts[2], ",", -1) : NULL;

      for (guint j = 0; to != NULL && to[j] != NULL; j++)
        if (g_str_has_prefix (to[j], "late"))
          g_assert_true (g_hash_table_add (seen, g_ascii_strdown (to[j], -1)));   /* once each */
    }
  /* The first four were sent before the crash (recorded, not on this server). */
  g_assert_cmpuint (g_hash_table_size (seen), ==, n - first);
  g_assert_false (g_hash_table_contains (seen, "late0@example.org"));
  last_name = g_strdup_printf ("late%u@example.org", n - 1);
  g_assert_true (g_hash_table_contains (seen, last_name));
  g_free (w.message);
  g_free (rw.first_text);
  g_free (rw.last_about);
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GError) error = NULL;
  int status;

  ms_core_init ();
  g_setenv ("GTK_A11Y", "test", TRUE);
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();

  ms_test_gui_start_notification_server ();
  server = ms_test_server_start ("--hostname=mail.harness.test", "--reject-rcpt=@yahho\\.example", NULL);
  app = ms_application_new ();
  /* One test process, no single-instance handover. */
  g_application_set_flags (G_APPLICATION (app), G_APPLICATION_NON_UNIQUE);
  g_assert_true (g_application_register (G_APPLICATION (app), NULL, &error));
  g_assert_no_error (error);
  g_application_hold (G_APPLICATION (app));

  /* In order: the pending case works on the batches case's batch. */
  g_test_add_func ("/mailshot/gui-pages/batches", test_batches);
  g_test_add_func ("/mailshot/gui-pages/pending", test_pending);
  g_test_add_func ("/mailshot/gui-pages/screenshots", test_screenshots);
  g_test_add_func ("/mailshot/gui-pages/send-while-importing", test_send_while_importing);
  g_test_add_func ("/mailshot/gui-pages/resume-list-not-all-in", test_resume_list_not_all_in);

  status = g_test_run ();
  g_application_release (G_APPLICATION (app));
  g_clear_object (&app);
  ms_test_server_stop (server);
  return status;
}
