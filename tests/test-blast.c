/* test-blast.c: the e-blast job and `mailshot-cli blast`/`pending` against the real harness server
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <sqlite3.h>

#include "mailshot-core.h"
#include "ms-test-support.h"

/* ------------------------------------------------------------------ helpers */

static void
cli_ok (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;

static void
cli_ok (const char *first_arg,
        ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  va_list ap;
  int status;

  va_start (ap, first_arg);
  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  status = ms_test_run_cliv (NULL, &out, &err, (const char * const *) args->pdata);
  if (status != 0)
    g_error ("mailshot-cli %s: exit %d\n%s%s", first_arg, status, out, err);
}

static MsTestServer *
start_plain_server (void)
{
  const char * const none[] = { NULL };

  return ms_test_server_startv (none);
}

/* Points the default account at @port, plain SMTP without AUTH. */
static void
configure_account (guint16 port)
{
  g_autofree char *p = g_strdup_printf ("%u", port);

  cli_ok ("config", "set", "smtp-server", "127.0.0.1", NULL);
  cli_ok ("config", "set", "smtp-port", p, NULL);
  cli_ok ("config", "set", "email-address", "sender@example.org", NULL);
  cli_ok ("config", "set", "needs-authentication", "false", NULL);
  cli_ok ("config", "set", "timeout", "10", NULL);
  /* A blast over STARTTLS arms the downgrade check for the account; the
   * tests share one account and point it at a new server each time. */
  cli_ok ("config", "reset", "starttls-seen", NULL);
}

/* A CSV of @n recipients rcpt<i>@example.net with a name column. */
static char *
write_csv (const char *name,
           guint       n,
           const char *extra)
{
  g_autofree char *path = ms_test_tmp_path (name);
  g_autoptr(GString) s = g_string_new ("name,email\n");

  for (guint i = 1; i <= n; i++)
    g_string_append_printf (s, "Person %u,rcpt%u@example.net\n", i, i);
  if (extra != NULL)
    g_string_append (s, extra);
  g_assert_true (g_file_set_contents (path, s->str, -1, NULL));
  return g_steal_pointer (&path);
}

static char *
write_file (const char *name,
            const char *contents)
{
  char *path = ms_test_tmp_path (name);

  g_assert_true (g_file_set_contents (path, contents, -1, NULL));
  return path;
}

static gint64
first_line_id (const char *out)
{
  guint64 id = 0;
  g_auto(GStrv) lines = g_strsplit (out, "\n", 2);

  g_assert_nonnull (lines[0]);
  g_assert_true (g_ascii_string_to_unsigned (lines[0], 10, 1, G_MAXINT64, &id, NULL));
  return (gint64) id;
}

/* address -> how many accepted messages the server got for it. */
static GHashTable *
server_counts (MsTestServer *server)
{
  g_autoptr(GPtrArray) envelopes = ms_test_server_get_envelopes (server);
  GHashTable *counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < envelopes->len; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_ptr_array_index (envelopes, i), " ", 3);
      g_auto(GStrv) rcpts = NULL;

      g_assert_cmpuint (g_strv_length (parts), ==, 3);
      rcpts = g_strsplit (parts[2], ",", -1);
      for (guint j = 0; rcpts[j] != NULL; j++)
        {
          char *key = g_ascii_strdown (g_strstrip (rcpts[j]), -1);
          guint c = GPOINTER_TO_UINT (g_hash_table_lookup (counts, key));

          g_hash_table_replace (counts, key, GUINT_TO_POINTER (c + 1));
        }
    }
  return counts;
}

/* One line of `report ID --csv`: the fixed columns, then the merge fields. */
typedef struct {
  char *address, *state, *attempts, *time, *code, *text, *message_id, *enhanced, *line;
  char **fields;   /* the batch's CSV columns, in its order */
} ReportLine;

static void
report_line_free (gpointer data)
{
  ReportLine *l = data;

  g_free (l->address); g_free (l->state); g_free (l->attempts); g_free (l->time);
  g_free (l->code); g_free (l->text); g_free (l->message_id); g_free (l->enhanced); g_free (l->line);
  g_strfreev (l->fields);
  g_free (l);
}

/* A small RFC 4180 reader for the report. */
static GPtrArray *
parse_csv_fields (const char **p)
{
  GPtrArray *fields = g_ptr_array_new_with_free_func (g_free);
  GString *f = g_string_new (NULL);
  const char *s = *p;
  gboolean quoted = FALSE;

  while (*s)
    {
      if (quoted)
        {
          if (*s == '"' && s[1] == '"')
            { g_string_append_c (f, '"'); s += 2; continue; }
          if (*s == '"')
            { quoted = FALSE; s++; continue; }
          g_string_append_c (f, *s++);
          continue;
        }
      if (*s == '"')
        { quoted = TRUE; s++; continue; }
      if (*s == ',')
        { g_ptr_array_add (fields, g_string_free (f, FALSE)); f = g_string_new (NULL); s++; continue; }
      if (*s == '\n')
        { s++; break; }
      g_string_append_c (f, *s++);
    }
  g_ptr_array_add (fields, g_string_free (f, FALSE));
  *p = s;
  return fields;
}

static GHashTable *
report (gint64 batch)
{
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  GHashTable *lines = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, report_line_free);
  const char *p;
  guint n_columns;
  int status;

  status = ms_test_run_cli (NULL, &out, &err, "blast", "report", id, "--csv", NULL);
  g_assert_cmpint (status, ==, 0);
  p = out;
  {
    g_autoptr(GPtrArray) header = parse_csv_fields (&p);

    /* The fixed columns, then the list's own (these tests' lists have two or more). */
    g_assert_cmpuint (header->len, >=, 9 + 2);
    g_assert_cmpstr (g_ptr_array_index (header, 0), ==, "address");
    g_assert_cmpstr (g_ptr_array_index (header, 1), ==, "state");
    g_assert_cmpstr (g_ptr_array_index (header, 7), ==, "enhanced_code");
    g_assert_cmpstr (g_ptr_array_index (header, 8), ==, "line");
    n_columns = header->len;
  }
  while (*p)
    {
      g_autoptr(GPtrArray) f = parse_csv_fields (&p);
      ReportLine *l;

      g_assert_cmpuint (f->len, ==, n_columns);
      l = g_new0 (ReportLine, 1);
      l->enhanced = g_strdup (g_ptr_array_index (f, 7));
      l->line = g_strdup (g_ptr_array_index (f, 8));
      l->fields = g_new0 (char *, n_columns - 9 + 1);
      for (guint i = 9; i < n_columns; i++)
        l->fields[i - 9] = g_strdup (g_ptr_array_index (f, i));
      l->address = g_strdup (g_ptr_array_index (f, 0));
      l->state = g_strdup (g_ptr_array_index (f, 1));
      l->attempts = g_strdup (g_ptr_array_index (f, 2));
      l->time = g_strdup (g_ptr_array_index (f, 3));
      l->code = g_strdup (g_ptr_array_index (f, 4));
      l->text = g_strdup (g_ptr_array_index (f, 5));
      l->message_id = g_strdup (g_ptr_array_index (f, 6));
      g_hash_table_replace (lines, l->address, l);
    }
  return lines;
}

static guint
count_state (GHashTable *lines,
             const char *state)
{
  GHashTableIter iter;
  ReportLine *l;
  guint n = 0;

  g_hash_table_iter_init (&iter, lines);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l))
    if (g_strcmp0 (l->state, state) == 0)
      n++;
  return n;
}

static char *
batch_status (gint64 batch)
{
  g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  char *out = NULL;

  g_assert_cmpint (ms_test_run_cli (NULL, &out, NULL, "blast", "status", id, NULL), ==, 0);
  return out;
}

/* Runs `blast send` with the usual template files plus @extra args. */
static int
blast_send (const char  *csv,
            char       **out,
            char       **err,
            const char  *first_extra,
            ...);

static int
blast_send (const char  *csv,
            char       **out,
            char       **err,
            const char  *first_extra,
            ...)
{
  g_autofree char *text = write_file ("body.txt", "Hello {{name}},\n\nthis is the news.\n");
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  g_ptr_array_add (args, "blast");
  g_ptr_array_add (args, "send");
  g_ptr_array_add (args, "--recipients");
  g_ptr_array_add (args, (gpointer) csv);
  g_ptr_array_add (args, "--subject");
  g_ptr_array_add (args, "News for {{name}}");
  g_ptr_array_add (args, "--text");
  g_ptr_array_add (args, text);
  va_start (ap, first_extra);
  for (const char *a = first_extra; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  va_end (ap);
  g_ptr_array_add (args, NULL);
  return ms_test_run_cliv (NULL, out, err, (const char * const *) args->pdata);
}

/* ------------------------------------------------------------------ tests */

static void
test_send_basic (void)
{
  g_autoptr(MsTestServer) server = start_plain_server ();
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autofree char *list = NULL;
  g_autofree char *status_text = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("basic.csv", 20,
                   "Bad One,not-an-address\n"
                   "Too,many,fields\n"
                   "Dup,RCPT3@example.net\n");
  g_assert_cmpint (blast_send (csv, &out, &err, NULL), ==, 0);
  batch = first_line_id (out);

  /* Bad rows named with their lines, and the summary. */
  g_assert_nonnull (strstr (err, ":22:"));
  g_assert_nonnull (strstr (err, ":23: Wrong number of fields (expected 2 fields, got 3): left out"));
  g_assert_nonnull (strstr (err, ":24:"));
  g_assert_nonnull (strstr (err, "Imported 20 recipients; left out 2"));
  g_assert_nonnull (strstr (err, "1 duplicate sent once"));

  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 20);
  for (guint i = 1; i <= 20; i++)
    {
      g_autofree char *a = g_strdup_printf ("rcpt%u@example.net", i);
      g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, a)), ==, 1);
    }

  /* The merge reached the wire. */
  messages = ms_test_server_get_messages (server);
  g_assert_cmpuint (messages->len, ==, 20);
  {
    gsize len;
    const char *data = g_bytes_get_data (g_ptr_array_index (messages, 0), &len);
    g_autofree char *text = g_strndup (data, len);

    g_assert_nonnull (strstr (text, "Subject: News for Person"));
    g_assert_nonnull (strstr (text, "Hello Person"));
  }

  /* The report: one line per recipient, sent, with its Message-ID; and
   * one per row left out (the duplicate was sent once: it is no row). */
  lines = report (batch);
  g_assert_cmpuint (g_hash_table_size (lines), ==, 20 + 2);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 20);
  g_assert_cmpuint (count_state (lines, "left-out"), ==, 2);
  {
    ReportLine *l = g_hash_table_lookup (lines, "rcpt7@example.net");

    g_assert_nonnull (l);
    g_assert_cmpstr (l->attempts, ==, "1");
    g_assert_cmpstr (l->time, !=, "");
    g_assert_nonnull (strchr (l->message_id, '@'));
    /* The same Message-ID went out in the message. */
    for (guint i = 0; i < messages->len; i++)
      {
        gsize len;
        const char *data = g_bytes_get_data (g_ptr_array_index (messages, i), &len);
        g_autofree char *text = g_strndup (data, len);

        if (strstr (text, "rcpt7@example.net") != NULL)
          g_assert_nonnull (strstr (text, l->message_id));
      }
  }

  g_assert_cmpint (ms_test_run_cli (NULL, &list, NULL, "blast", "list", NULL), ==, 0);
  {
    /* Newest first, each line starting with the batch ID. */
    g_autofree char *prefix = g_strdup_printf ("%" G_GINT64_FORMAT "\t", batch);
    g_assert_true (g_str_has_prefix (list, prefix));
  }
  status_text = batch_status (batch);
  g_assert_nonnull (strstr (status_text, "finished"));

  /* Not on a terminal: progress comes as whole lines, never rewritten in place. */
  g_assert_null (strchr (err, '\r'));

  /* A finished batch cannot be cancelled: it stays finished. */
  {
    g_autofree char *id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
    g_autofree char *cancel_err = NULL;
    g_autofree char *status_after = NULL;

    g_assert_cmpint (ms_test_run_cli (NULL, NULL, &cancel_err, "blast", "cancel", id, NULL), ==, 1);
    g_assert_nonnull (strstr (cancel_err, "finished"));
    status_after = batch_status (batch);
    g_assert_nonnull (strstr (status_after, "finished"));
  }
}

/* On a terminal the progress is one line rewritten in place ("\r", no new
 * line per update) with the counts, the rate and the ETA. script(1) gives
 * the CLI a pseudo-terminal. */
static void
test_tty_progress (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--delay=EOM:0.01", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *text = write_file ("tty.txt", "Hello {{name}}\n");
  g_autofree char *script = g_find_program_in_path ("script");
  g_autofree char *command = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;
  guint rewrites = 0, newlines = 0;
  int status = -1;

  if (script == NULL)
    {
      g_test_skip ("script(1) is not installed");
      return;
    }
  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("tty.csv", 300, NULL);
  command = g_strdup_printf ("'%s' blast send --recipients '%s' --subject 'Hi {{name}}' --text '%s' 2>&1",
                             g_getenv ("MS_CLI"), csv, text);
  {
    const char *argv[] = { script, "-qec", command, "/dev/null", NULL };

    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out,
                                 NULL, &status, &error));
  }
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 300);

  /* The terminal turns "\n" into "\r\n": a lone "\r" is a rewrite. */
  for (const char *p = out; *p; p++)
    {
      if (*p == '\r' && p[1] != '\n')
        rewrites++;
      if (*p == '\n')
        newlines++;
    }
  g_assert_cmpuint (rewrites, >=, 2);
  g_assert_cmpuint (newlines, <=, 4);   /* the ID, "Batch N created. Imported", the last progress, "Finished" */
  g_assert_nonnull (strstr (out, "/300 sent"));
  g_assert_nonnull (strstr (out, "msg/s"));
  g_assert_nonnull (strstr (out, "ETA"));
  g_assert_nonnull (strstr (out, "Finished: 300 sent."));
}

/* A subject with a line break or a tab still lists as one line of six
 * tab-separated fields (the message itself folds them). */
static void
test_list_one_line (void)
{
  g_autoptr(MsTestServer) server = start_plain_server ();
  g_autofree char *csv = write_csv ("oneline.csv", 2, NULL);
  g_autofree char *text = write_file ("oneline.txt", "Hello\n");
  g_autofree char *out = NULL;
  g_autofree char *list = NULL;
  g_autofree char *status_text = NULL;
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) fields = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  g_assert_cmpint (ms_test_run_cli (NULL, &out, NULL, "blast", "send", "--recipients", csv,
                                    "--subject", "Two\nlines\tand a tab", "--text", text, NULL), ==, 0);
  batch = first_line_id (out);
  g_assert_cmpint (ms_test_run_cli (NULL, &list, NULL, "blast", "list", NULL), ==, 0);
  lines = g_strsplit (list, "\n", -1);
  for (guint i = 0; lines[i] != NULL && *lines[i] != '\0'; i++)
    g_assert_true (g_ascii_isdigit (lines[i][0]));
  fields = g_strsplit (lines[0], "\t", -1);
  g_assert_cmpuint (g_strv_length (fields), ==, 6);
  g_assert_cmpint (g_ascii_strtoll (fields[0], NULL, 10), ==, batch);
  g_assert_cmpstr (fields[5], ==, "Two lines and a tab");
  status_text = batch_status (batch);
  g_assert_nonnull (strstr (status_text, "Subject: Two lines and a tab\n"));
}

/* Every command explains itself: --help exits 0 with a usage line naming the
 * command, a summary and examples. */
static void
test_help (void)
{
  const char *subs[] = { "send", "list", "status", "resume", "cancel", "report" };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  g_assert_cmpint (ms_test_run_cli (NULL, &out, &err, "blast", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "blast COMMAND"));
  for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
    g_assert_nonnull (strstr (out, subs[i]));
  g_assert_nonnull (strstr (out, "Examples:"));
  g_assert_cmpstr (err, ==, "");

  for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      g_autofree char *sub_out = NULL;
      g_autofree char *sub_err = NULL;
      g_autofree char *usage = g_strdup_printf ("mailshot-cli blast %s [OPTION", subs[i]);
      g_autofree char *example = g_strdup_printf ("  mailshot-cli blast %s", subs[i]);

      g_assert_cmpint (ms_test_run_cli (NULL, &sub_out, &sub_err, "blast", subs[i], "--help", NULL), ==, 0);
      g_assert_nonnull (strstr (sub_out, usage));
      g_assert_nonnull (strstr (sub_out, "Examples:"));
      g_assert_nonnull (strstr (sub_out, example));
    }

  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ms_test_run_cli (NULL, &out, NULL, "blast", "help", "report", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "address,state,attempts,time,reply_code,reply_text,message_id"));

  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ms_test_run_cli (NULL, &out, NULL, "pending", "--help", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "mailshot-cli pending [OPTION"));
  g_assert_nonnull (strstr (out, "--retry"));
  g_assert_nonnull (strstr (out, "Examples:"));

  /* No command: usage error, pointing at --help. */
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "blast", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "blast --help"));
}

static void
test_missing_field (void)
{
  g_autoptr(MsTestServer) server = start_plain_server ();
  g_autofree char *csv = NULL;
  g_autofree char *text = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *list = NULL;
  int status;

  g_autofree char *list_before = NULL;

  configure_account (ms_test_server_get_port (server));
  g_assert_cmpint (ms_test_run_cli (NULL, &list_before, NULL, "blast", "list", NULL), ==, 0);
  csv = write_csv ("missing.csv", 3, NULL);
  text = write_file ("missing.txt", "Dear {{title}} {{name}}\n");
  status = ms_test_run_cli (NULL, &out, &err, "blast", "send", "--recipients", csv, "--subject", "Hi",
                            "--text", text, NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "title"));
  g_assert_nonnull (strstr (err, "text"));
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, &list, NULL, "blast", "list", NULL), ==, 0);
  g_assert_cmpstr (list, ==, list_before);

  /* A missing argument is named. */
  g_clear_pointer (&err, g_free);
  status = ms_test_run_cli (NULL, NULL, &err, "blast", "send", "--recipients", csv, "--text", text, NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "--subject"));
}

static void
test_connections (void)
{
  /* STARTTLS with the account trusting the certificate: one TCP connection
   * per session, so the log counts sessions. */
  g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GHashTable) counts = NULL;

  configure_account (ms_test_server_get_port (server));
  cli_ok ("config", "set", "trusted-certificate", ms_test_server_get_cert_fingerprint (server), NULL);
  csv = write_csv ("conn.csv", 120, NULL);
  g_assert_cmpint (blast_send (csv, &out, NULL, "--connections", "3", NULL), ==, 0);
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 120);
  /* Three connections, each reused for many messages. */
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), ==, 3);
  g_assert_cmpuint (ms_test_server_log_count (server, "starttls"), ==, 3);
  cli_ok ("config", "reset", "trusted-certificate", NULL);
}

/* A blast of @n generated recipients to @server, which must exit 0, and
 * its report. */
static GHashTable *
blast_and_report (MsTestServer *server,
                  const char   *csv_name,
                  guint         n)
{
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv (csv_name, n, NULL);
  g_assert_cmpint (blast_send (csv, &out, &err, NULL), ==, 0);
  return report (first_line_id (out));
}

/* A sent row keeps the server's answer to the end of its message (the
 * provider's queue id), in bulk mode where no transcript is recorded. */
static void
test_final_reply (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--fault=EOM:250 2.0.0 Ok: queued as ABC", NULL);
    g_autoptr(GHashTable) lines = blast_and_report (server, "final.csv", 8);
    GHashTableIter iter;
    ReportLine *l;

    g_assert_cmpuint (count_state (lines, "sent"), ==, 8);
    g_assert_cmpuint (ms_test_server_count_messages (server), ==, 8);
    g_hash_table_iter_init (&iter, lines);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l))
      {
        g_assert_cmpstr (l->code, ==, "250");
        g_assert_cmpstr (l->text, ==, "2.0.0 Ok: queued as ABC");
      }
  }

  /* A reply of several lines: its last line, each message its own (no
   * text left over from the message before); a refused recipient still
   * shows its refusal. */
  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--multiline-replies", "--reject-rcpt=rcpt3@", NULL);
    g_autoptr(GHashTable) lines = blast_and_report (server, "final-multi.csv", 6);
    GHashTableIter iter;
    ReportLine *l;

    g_assert_cmpuint (count_state (lines, "sent"), ==, 5);
    g_hash_table_iter_init (&iter, lines);
    while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l))
      {
        if (g_strcmp0 (l->address, "rcpt3@example.net") == 0)
          {
            g_assert_cmpstr (l->state, ==, "failed");
            g_assert_cmpstr (l->code, ==, "550");
            g_assert_nonnull (strstr (l->text, "User unknown"));
            continue;
          }
        g_assert_cmpstr (l->state, ==, "sent");
        g_assert_cmpstr (l->code, ==, "250");
        g_assert_true (g_str_has_prefix (l->text, "2.0.0 queued as "));
        g_assert_true (g_hash_table_add (seen, g_strdup (l->text)));
      }
    g_assert_cmpuint (g_hash_table_size (seen), ==, 5);
  }
}

static void
test_recipient_rejected (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--reject-rcpt=rcpt(4|9)@", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *pending = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autofree char *id = NULL;
  ReportLine *l;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  /* Lines 14 and 15 are left out at import. */
  csv = write_csv ("reject.csv", 12, "Bad Row,not-an-address\nA short row\n");
  g_assert_cmpint (blast_send (csv, &out, &err, NULL), ==, 0);
  batch = first_line_id (out);
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 10);
  g_assert_cmpuint (count_state (lines, "failed"), ==, 2);
  l = g_hash_table_lookup (lines, "rcpt4@example.net");
  g_assert_cmpstr (l->state, ==, "failed");
  g_assert_cmpstr (l->code, ==, "550");
  g_assert_nonnull (strstr (l->text, "User unknown"));
  /* The enhanced status code stays, as the server wrote it, and has a column. */
  g_assert_true (g_str_has_prefix (l->text, "5.1.1 <rcpt4@example.net>: "));
  g_assert_cmpstr (l->enhanced, ==, "5.1.1");
  g_assert_cmpstr (l->line, ==, "5");
  g_assert_cmpstr (l->fields[0], ==, "Person 4");
  g_assert_cmpstr (l->fields[1], ==, "rcpt4@example.net");
  l = g_hash_table_lookup (lines, "rcpt5@example.net");
  g_assert_cmpstr (l->enhanced, ==, "2.0.0");   /* the server's "250 2.0.0 Ok" */
  g_assert_cmpstr (l->fields[0], ==, "Person 5");
  /* The rows left out at import, with their line and reason. */
  g_assert_cmpuint (count_state (lines, "left-out"), ==, 2);
  l = g_hash_table_lookup (lines, "not-an-address");
  g_assert_cmpstr (l->state, ==, "left-out");
  g_assert_cmpstr (l->line, ==, "14");
  g_assert_cmpstr (l->text, ==, "Line 14: “not-an-address” is not a valid e-mail address.");
  g_assert_cmpstr (l->fields[0], ==, "Bad Row");
  l = g_hash_table_lookup (lines, "");
  g_assert_cmpstr (l->state, ==, "left-out");
  g_assert_cmpstr (l->line, ==, "15");
  g_assert_true (g_str_has_prefix (l->text, "Line 15: expected 2 fields, got 1."));
  g_assert_cmpstr (l->fields[0], ==, "");
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 10);

  id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_assert_cmpint (ms_test_run_cli (NULL, &pending, NULL, "pending", "--batch", id, NULL), ==, 0);
  g_assert_nonnull (strstr (pending, "rcpt4@example.net"));
  g_assert_nonnull (strstr (pending, "rcpt9@example.net"));
  g_assert_nonnull (strstr (pending, "550 5.1.1 <rcpt4@example.net>: "));
  g_assert_null (strstr (pending, "rcpt5@example.net"));
}

static void
test_temporary (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--fault=RCPT:450 4.2.0 Mailbox busy:count=1:after=2", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *pending = NULL;
  g_autofree char *id = NULL;
  g_autofree char *row = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_auto(GStrv) plines = NULL;
  gint64 batch;
  int status;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("temp.csv", 6, NULL);
  /* --no-wait: the deferred row is due in a minute; the run pauses. */
  status = blast_send (csv, &out, &err, "--no-wait", NULL);
  g_assert_cmpint (status, ==, 1);
  batch = first_line_id (out);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_assert_nonnull (strstr (err, "blast resume"));
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 5);
  g_assert_cmpuint (count_state (lines, "deferred"), ==, 1);

  g_assert_cmpint (ms_test_run_cli (NULL, &pending, NULL, "pending", "--state", "deferred", "--batch", id, NULL), ==, 0);
  g_assert_nonnull (strstr (pending, "450"));
  g_assert_nonnull (strstr (pending, "next try"));
  /* Retry it now instead of in a minute. */
  plines = g_strsplit (pending, "\n", -1);
  for (guint i = 0; plines[i] != NULL && row == NULL; i++)
    if (g_ascii_isdigit (plines[i][0]))
      row = g_strndup (plines[i], strcspn (plines[i], " "));
  g_assert_nonnull (row);
  cli_ok ("pending", "--retry", row, NULL);
  g_clear_pointer (&out, g_free);
  g_assert_cmpint (ms_test_run_cli (NULL, &out, NULL, "blast", "resume", id, NULL), ==, 0);

  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 6);
  g_hash_table_unref (g_steal_pointer (&lines));
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 6);
}

static void
test_rate_limited (void)
{
  /* The server says how long to wait; the whole account waits, then ends. */
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--fault=MAIL:421 4.7.0 Too many messages, try again in 2 seconds:count=1:after=10", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *until = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autoptr(GHashTable) lines = NULL;
  gint64 start, start_wall, batch;
  guint64 until_value = 0;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("rate.csv", 30, NULL);
  start = g_get_monotonic_time ();
  start_wall = g_get_real_time () / G_USEC_PER_SEC;
  g_assert_cmpint (blast_send (csv, &out, &err, NULL), ==, 0);
  batch = first_line_id (out);
  /* It waited (at least most of the 2 s) and then finished by itself. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, G_USEC_PER_SEC);
  g_assert_nonnull (strstr (err, "Waiting for the rate limit"));

  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 30);
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 30);

  /* The wait was persisted to the account. */
  g_assert_cmpint (ms_test_run_cli (NULL, &until, NULL, "config", "get", "rate-limited-until", NULL), ==, 0);
  g_assert_true (g_ascii_string_to_unsigned (g_strstrip (until), 10, 0, G_MAXINT64, &until_value, NULL));
  g_assert_cmpint ((gint64) until_value, >=, start_wall + 1);
  g_assert_cmpint ((gint64) until_value, <=, g_get_real_time () / G_USEC_PER_SEC + 5);
}

static void
test_auth_stops (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--auth=PLAIN,LOGIN", "--user=u", "--password=right",
                                                         "--require-auth", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *status_text = NULL;
  g_autofree char *pending = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autofree char *log = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  cli_ok ("config", "set", "needs-authentication", "true", NULL);
  cli_ok ("config", "set", "user-id", "u", NULL);
  cli_ok ("config", "set", "auth-method", "plain", NULL);
  cli_ok ("config", "set", "allow-plaintext-password", "true", NULL);
  g_assert_cmpint (ms_test_run_cli ("wrong\n", NULL, NULL, "password", "set", NULL), ==, 0);

  csv = write_csv ("auth.csv", 40, NULL);
  g_assert_cmpint (blast_send (csv, &out, &err, "--connections", "2", NULL), ==, 1);
  batch = first_line_id (out);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_assert_nonnull (strstr (err, "blast resume"));
  /* Issue 9: the server's refusal, whole, with the advice, as `test` shows it. */
  g_test_message ("stderr: %s", err);
  g_assert_nonnull (strstr (err, "check “User ID”, and store the password again."));
  g_assert_nonnull (strstr (err, "535 5.7.8 Authentication credentials invalid"));

  /* It stopped at once instead of burning through the list. */
  log = ms_test_server_get_log (server);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  g_assert_cmpuint (ms_test_server_log_count (server, "auth PLAIN u fail"), <=, 2);
  status_text = batch_status (batch);
  g_assert_nonnull (strstr (status_text, "paused"));
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "queued"), ==, 40);
  g_assert_cmpint (ms_test_run_cli (NULL, &pending, NULL, "pending", "--batch", id, NULL), ==, 0);
  g_assert_nonnull (strstr (pending, "queued"));

  /* Fix the password, resume: everything goes, once. */
  g_assert_cmpint (ms_test_run_cli ("right\n", NULL, NULL, "password", "set", NULL), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, NULL, "blast", "resume", id, NULL), ==, 0);
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 40);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 40);
}

static void
test_drop_after_data (void)
{
  /* The connection drops after the 3rd body: maybe delivered -> uncertain,
   * never resent; the rest go on a new connection. */
  g_autoptr(MsTestServer) server = ms_test_server_start ("--drop-after-data=3", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *pending = NULL;
  g_autoptr(GHashTable) lines = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("drop.csv", 10, NULL);
  g_assert_cmpint (blast_send (csv, &out, NULL, NULL), ==, 0);
  batch = first_line_id (out);
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 9);
  g_assert_cmpuint (count_state (lines, "uncertain"), ==, 1);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 9);
  g_assert_cmpint (ms_test_run_cli (NULL, &pending, NULL, "pending", "--state", "uncertain", NULL), ==, 0);
  g_assert_nonnull (strstr (pending, "uncertain"));
}

static void
test_connection_lost_before_data (void)
{
  /* Dropped at RCPT: nothing was sent, so the message is simply retried. */
  g_autoptr(MsTestServer) server = ms_test_server_start ("--fault=RCPT:DROP:count=1:after=4", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GHashTable) counts = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("lost.csv", 10, NULL);
  g_assert_cmpint (blast_send (csv, &out, NULL, NULL), ==, 0);
  batch = first_line_id (out);
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 10);
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 10);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 10);
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), >=, 2);
}

/* A stop-class reply pauses the batch with the advice after at most a try or
 * two per connection: an untrusted certificate, and a sender the server
 * refuses (a misconfigured account). Nothing is failed, nothing is sent. */
static void
check_stops (MsTestServer *server,
             const char   *csv_name,
             const char   *advice_word)
{
  g_autofree char *csv = write_csv (csv_name, 30, NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *status_text = NULL;
  g_autoptr(GHashTable) lines = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  g_assert_cmpint (blast_send (csv, &out, &err, "--connections", "2", NULL), ==, 1);
  batch = first_line_id (out);
  g_assert_nonnull (strstr (err, advice_word));
  g_assert_nonnull (strstr (err, "blast resume"));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  /* At most the jobs queued on the two connections were tried (typically
   * one each), not the 30 rows; connections count the STARTTLS decision's
   * reconnect too. */
  g_assert_cmpuint (ms_test_server_log_count (server, "mail sender@example.org"), <=, 8);
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), <=, 12);
  status_text = batch_status (batch);
  g_assert_nonnull (strstr (status_text, "paused"));
  g_assert_nonnull (strstr (status_text, advice_word));
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "queued"), ==, 30);
}

static void
test_tls_and_sender_stop (void)
{
  {
    /* Self-signed and not trusted in the account. */
    g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", NULL);

    check_stops (server, "tls.csv", "certificate");
  }
  {
    g_autoptr(MsTestServer) server =
      ms_test_server_start ("--fault=MAIL:553 5.7.1 Sender address rejected: not owned by user", NULL);

    check_stops (server, "sender.csv", "E-mail address");
  }
}

/* A server that refuses the connection in its greeting refuses every
 * message alike: the batch pauses with the advice (exit 1), every row
 * stays queued for resume, none is failed. */
static void
test_greeting_refused (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--fault=GREETING:554 5.7.1 Go away", NULL);

  check_stops (server, "greeting.csv", "before any message was sent");
  /* With the server's own words. */
  check_stops (server, "greeting2.csv", "554 5.7.1 Go away");
}

static void
assert_printable_utf8 (const char *what,
                       const char *text)
{
  g_test_message ("%s:\n%s", what, text);
  g_assert_true (g_utf8_validate (text, -1, NULL));
  for (const char *p = text; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_assert_false ((c < 0x20 && c != '\n') || c == 0x7f || (c >= 0x80 && c < 0xa0));
    }
}

/* The server's answer to the end of each message is full of terminal
 * escapes and invalid UTF-8: `blast report` and `report --csv` print none
 * of it, and the CSV is valid UTF-8. */
static void
test_escape_reply (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--escape-reply", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *text = NULL;
  g_autofree char *csv_out = NULL;
  g_autofree char *id = NULL;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("escape.csv", 3, NULL);
  g_assert_cmpint (blast_send (csv, &out, NULL, NULL), ==, 0);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, first_line_id (out));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 3);
  g_assert_cmpint (ms_test_run_cli (NULL, &text, NULL, "blast", "report", id, NULL), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, &csv_out, NULL, "blast", "report", id, "--csv", NULL), ==, 0);
  assert_printable_utf8 ("report", text);
  assert_printable_utf8 ("report --csv", csv_out);
  g_assert_nonnull (strstr (csv_out, "queued as"));
}

/* A blast arms the downgrade check: once it has seen the server offer
 * STARTTLS, a session without it (here: a plain server that would take
 * CRAM-MD5 in clear) is refused before any AUTH or message. */
static void
test_starttls_seen (void)
{
  g_autofree char *seen = NULL;
  g_autofree char *csv = write_csv ("seen.csv", 10, NULL);

  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN,CRAM-MD5",
                                                           "--user=u", "--password=p", NULL);
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;

    configure_account (ms_test_server_get_port (server));
    cli_ok ("config", "set", "needs-authentication", "true", NULL);
    cli_ok ("config", "set", "user-id", "u", NULL);
    cli_ok ("config", "set", "trusted-certificate", ms_test_server_get_cert_fingerprint (server), NULL);
    g_assert_cmpint (ms_test_run_cli ("p\n", NULL, NULL, "password", "set", NULL), ==, 0);
    g_assert_cmpint (ms_test_run_cli (NULL, &seen, NULL, "config", "get", "starttls-seen", NULL), ==, 0);
    g_assert_cmpstr (g_strstrip (seen), ==, "false");
    g_clear_pointer (&seen, g_free);

    if (blast_send (csv, &out, &err, "--connections", "2", NULL) != 0)
      g_error ("blast over STARTTLS failed:\n%s%s", out, err);
    g_assert_cmpuint (ms_test_server_count_messages (server), ==, 10);
    g_assert_true (ms_test_server_log_contains (server, "tls"));
    g_assert_cmpint (ms_test_run_cli (NULL, &seen, NULL, "config", "get", "starttls-seen", NULL), ==, 0);
    g_assert_cmpstr (g_strstrip (seen), ==, "true");
  }
  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--auth=PLAIN,LOGIN,CRAM-MD5", "--user=u",
                                                           "--password=p", NULL);
    g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (server));
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    g_autofree char *log = NULL;
    g_autofree char *status_text = NULL;
    gint64 batch;

    cli_ok ("config", "set", "smtp-port", port, NULL);
    g_assert_cmpint (blast_send (csv, &out, &err, "--connections", "2", NULL), ==, 1);
    batch = first_line_id (out);
    g_assert_nonnull (strstr (err, "offered STARTTLS before"));
    g_assert_nonnull (strstr (err, "blast resume"));
    status_text = batch_status (batch);
    g_assert_nonnull (strstr (status_text, "paused"));
    log = ms_test_server_get_log (server);
    g_assert_null (strstr (log, "\nauth "));
    g_assert_null (strstr (log, "\nmail "));
    g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  }
  cli_ok ("config", "reset", "trusted-certificate", NULL);
}

/* Starts `blast send` in the background. */
static GSubprocess *
spawn_send (const char *csv,
            const char *connections)
{
  g_autofree char *text = write_file ("bg.txt", "Hello {{name}}\n");
  g_autofree char *out = ms_test_tmp_path ("bg.out");
  g_autofree char *err = ms_test_tmp_path ("bg.err");
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_subprocess_launcher_set_stdout_file_path (launcher, out);
  g_subprocess_launcher_set_stderr_file_path (launcher, err);
  proc = g_subprocess_launcher_spawn (launcher, &error, g_getenv ("MS_CLI"), "blast", "send", "--recipients", csv,
                                      "--subject", "Hi {{name}}", "--text", text, "--connections", connections,
                                      NULL);
  g_assert_no_error (error);
  return proc;
}

static void
wait_messages (MsTestServer *server,
               guint         n)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_USEC_PER_SEC;

  while (ms_test_server_count_messages (server) < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
}

static void
test_pause_resume_cancel (void)
{
  /* Slow the server down so the blast is still running when we interrupt it. */
  g_autoptr(MsTestServer) server = ms_test_server_start ("--delay=EOM:0.02", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *out_path = ms_test_tmp_path ("bg.out");
  g_autofree char *err_path = ms_test_tmp_path ("bg.err");
  g_autofree char *id = NULL;
  g_autofree char *status_text = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GHashTable) counts = NULL;
  GHashTableIter iter;
  gpointer value;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("pause.csv", 400, NULL);
  proc = spawn_send (csv, "2");
  wait_messages (server, 20);
  g_subprocess_send_signal (proc, SIGINT);
  g_assert_true (g_subprocess_wait (proc, NULL, NULL));
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);
  g_assert_true (g_file_get_contents (out_path, &out, NULL, NULL));
  g_assert_true (g_file_get_contents (err_path, &err, NULL, NULL));
  batch = first_line_id (out);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_assert_nonnull (strstr (err, "Paused: “mailshot-cli blast resume"));

  /* Consistent: nothing left sending, every delivered message recorded. */
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sending"), ==, 0);
  g_assert_cmpuint (count_state (lines, "uncertain"), ==, 0);
  g_assert_cmpuint (count_state (lines, "sent"), ==, ms_test_server_count_messages (server));
  g_assert_cmpuint (count_state (lines, "sent"), <, 400);
  status_text = batch_status (batch);
  g_assert_nonnull (strstr (status_text, "paused"));

  /* Resume sends the rest, each exactly once. */
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, NULL, "blast", "resume", id, NULL), ==, 0);
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 400);
  g_hash_table_iter_init (&iter, counts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_assert_cmpuint (GPOINTER_TO_UINT (value), ==, 1);

  /* Cancel a second batch half-way. */
  {
    g_autofree char *out2 = NULL;
    g_autofree char *id2 = NULL;
    g_autofree char *cancel_out = NULL;
    g_autofree char *resume_err = NULL;
    g_autoptr(GSubprocess) proc2 = NULL;
    g_autoptr(GHashTable) lines2 = NULL;
    guint before = ms_test_server_count_messages (server);
    gint64 batch2;

    g_clear_pointer (&csv, g_free);
    csv = write_csv ("cancel.csv", 300, NULL);
    proc2 = spawn_send (csv, "1");
    wait_messages (server, before + 10);
    g_subprocess_send_signal (proc2, SIGINT);
    g_assert_true (g_subprocess_wait (proc2, NULL, NULL));
    g_assert_true (g_file_get_contents (out_path, &out2, NULL, NULL));
    batch2 = first_line_id (out2);
    id2 = g_strdup_printf ("%" G_GINT64_FORMAT, batch2);
    g_assert_cmpint (ms_test_run_cli (NULL, &cancel_out, NULL, "blast", "cancel", id2, NULL), ==, 0);
    lines2 = report (batch2);
    g_assert_cmpuint (count_state (lines2, "queued"), ==, 0);
    g_assert_cmpuint (count_state (lines2, "cancelled") + count_state (lines2, "sent"), ==, 300);
    g_assert_cmpuint (count_state (lines2, "cancelled"), >, 0);
    g_assert_cmpint (ms_test_run_cli (NULL, NULL, &resume_err, "blast", "resume", id2, NULL), ==, 1);
    g_assert_nonnull (strstr (resume_err, "cancelled"));
  }
}

static void
test_abort (void)
{
  /* The server takes 20 s to answer the end of DATA: a first Ctrl-C waits
   * for it, a second one cuts it short; the message whose body went out is
   * uncertain, the rest stay queued, nothing is left `sending`. */
  g_autoptr(MsTestServer) server = ms_test_server_start ("--delay=EOM:20", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *out_path = ms_test_tmp_path ("bg.out");
  g_autofree char *err_path = ms_test_tmp_path ("bg.err");
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GHashTable) lines = NULL;
  gint64 deadline, start;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("abort.csv", 5, NULL);
  proc = spawn_send (csv, "1");
  deadline = g_get_monotonic_time () + 15 * G_USEC_PER_SEC;
  while (TRUE)
    {
      g_autofree char *log = ms_test_server_get_log (server);

      if (log != NULL && strstr (log, "\ndata ") != NULL)
        break;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_usleep (20 * 1000);
    }
  start = g_get_monotonic_time ();
  g_subprocess_send_signal (proc, SIGINT);
  g_usleep (300 * 1000);
  g_assert_nonnull (g_subprocess_get_identifier (proc));   /* still waiting for the reply */
  g_subprocess_send_signal (proc, SIGINT);
  g_assert_true (g_subprocess_wait (proc, NULL, NULL));
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_assert_true (g_subprocess_get_if_exited (proc));
  g_assert_cmpint (g_subprocess_get_exit_status (proc), ==, 1);
  g_assert_true (g_file_get_contents (out_path, &out, NULL, NULL));
  g_assert_true (g_file_get_contents (err_path, &err, NULL, NULL));
  g_assert_nonnull (strstr (err, "blast resume"));

  lines = report (first_line_id (out));
  g_assert_cmpuint (count_state (lines, "uncertain"), ==, 1);
  g_assert_cmpuint (count_state (lines, "queued"), ==, 4);
  g_assert_cmpuint (count_state (lines, "sending"), ==, 0);
}

static void
test_cannot_connect (void)
{
  /* Nothing listens: a few tries with growing waits, then the batch pauses
   * with the advice instead of failing every recipient. */
  MsTestServer *gone = start_plain_server ();
  guint16 port = ms_test_server_get_port (gone);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *status_text = NULL;
  g_autoptr(GHashTable) lines = NULL;
  gint64 start, elapsed, batch;

  ms_test_server_stop (gone);
  configure_account (port);
  csv = write_csv ("refused.csv", 10, NULL);
  start = g_get_monotonic_time ();
  g_assert_cmpint (blast_send (csv, &out, &err, "--connections", "3", NULL), ==, 1);
  elapsed = g_get_monotonic_time () - start;
  batch = first_line_id (out);
  /* Retried with backoff (1 + 2 + 4 + 8 s), not at once, and not forever. */
  g_assert_cmpint (elapsed, >=, 10 * G_USEC_PER_SEC);
  g_assert_cmpint (elapsed, <, 60 * G_USEC_PER_SEC);
  g_assert_nonnull (strstr (err, "blast resume"));
  status_text = batch_status (batch);
  g_assert_nonnull (strstr (status_text, "paused"));
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "queued"), ==, 10);
}

static void
test_missing_password (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--auth=PLAIN", "--user=nopw", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *list_before = NULL;
  g_autofree char *list_after = NULL;

  configure_account (ms_test_server_get_port (server));
  cli_ok ("config", "set", "needs-authentication", "true", NULL);
  cli_ok ("config", "set", "user-id", "nopw", NULL);
  g_assert_cmpint (ms_test_run_cli (NULL, &list_before, NULL, "blast", "list", NULL), ==, 0);
  csv = write_csv ("nopw.csv", 3, NULL);
  g_assert_cmpint (blast_send (csv, &out, &err, NULL), ==, 1);
  g_assert_cmpstr (out, ==, "");
  g_assert_nonnull (strstr (err, "password"));
  /* Nothing was imported, nothing sent. */
  g_assert_cmpint (ms_test_run_cli (NULL, &list_after, NULL, "blast", "list", NULL), ==, 0);
  g_assert_cmpstr (list_after, ==, list_before);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  cli_ok ("config", "set", "needs-authentication", "false", NULL);
}

static void
test_pacer (void)
{
  /* 120 a minute is one every half second, spread evenly, not a burst. Its
   * own account: the earlier tests' sends count against the default
   * account's rolling minute (the pacer is seeded from the journal). */
  g_autoptr(MsTestServer) server = start_plain_server ();
  g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (server));
  g_autofree char *csv = NULL;
  g_autofree char *text = write_file ("paced.txt", "Hello {{name}}\n");
  g_autoptr(GHashTable) counts = NULL;
  gint64 start, elapsed;

  cli_ok ("--account", "paced", "config", "set", "smtp-server", "127.0.0.1", NULL);
  cli_ok ("--account", "paced", "config", "set", "smtp-port", port, NULL);
  cli_ok ("--account", "paced", "config", "set", "email-address", "sender@example.org", NULL);
  cli_ok ("--account", "paced", "config", "set", "needs-authentication", "false", NULL);
  cli_ok ("--account", "paced", "config", "set", "max-per-minute", "120", NULL);
  csv = write_csv ("paced.csv", 6, NULL);
  start = g_get_monotonic_time ();
  cli_ok ("--account", "paced", "blast", "send", "--recipients", csv, "--subject", "Paced", "--text", text,
          "--connections", "3", NULL);
  elapsed = g_get_monotonic_time () - start;
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 6);
  /* Six at half-second steps: 2.5 s at least, far from a minute. */
  g_assert_cmpint (elapsed, >=, 2 * G_USEC_PER_SEC);
  g_assert_cmpint (elapsed, <, 20 * G_USEC_PER_SEC);
}

/* The API as the GUI uses it: progress in the caller's context, cancel. */
typedef struct {
  GMainLoop *loop;
  guint      events;
  gint64     first, last;
  MsBlastProgress final;
  gboolean   done;
  gboolean   ok;
  GError    *error;
  GCancellable *cancellable;
  GThread   *main_thread;
} ApiState;

static void
api_progress (const MsBlastProgress *p,
              gpointer               user_data)
{
  ApiState *s = user_data;
  gint64 now = g_get_monotonic_time ();

  g_assert_true (g_thread_self () == s->main_thread);
  if (s->events++ == 0)
    s->first = now;
  s->last = now;
  s->final = *p;
  s->final.status_text = NULL;
  if (s->cancellable != NULL && p->counts[MS_STATE_SENT] >= 30)
    g_cancellable_cancel (s->cancellable);
}

static void
api_done (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  ApiState *s = user_data;

  s->ok = ms_blast_run_finish (MS_BLAST (source), result, &s->error);
  s->done = TRUE;
  g_main_loop_quit (s->loop);
}

static gint64
api_import (MsJournal  *journal,
            const char *csv)
{
  g_autoptr(GError) error = NULL;
  MsBatchSpec spec = { 0 };
  MsImportSummary summary;
  gint64 batch;

  spec.account = (char *) "default";
  spec.from_address = (char *) "sender@example.org";
  spec.subject = (char *) "API {{name}}";
  spec.text = (char *) "Hello {{name}}\n";
  batch = ms_import_csv (journal, &spec, csv, NULL, NULL, NULL, NULL, &summary, &error);
  g_assert_no_error (error);
  g_strfreev (spec.fields);
  g_free (spec.source);
  return batch;
}

/* The account snapshot the API tests send with: the harness, no AUTH. */
static MsSmtpConfig *
api_config (MsTestServer *server)
{
  MsSmtpConfig *config = ms_smtp_config_new ();

  config->server = g_strdup ("127.0.0.1");
  config->port = ms_test_server_get_port (server);
  config->timeout = 10;
  config->from_address = g_strdup ("sender@example.org");
  return config;
}

static void
test_api (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--delay=EOM:0.005", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *csv = write_csv ("api.csv", 200, NULL);
  g_autofree char *journal_path = ms_test_tmp_path ("api.sqlite");
  g_autoptr(MsJournal) journal = ms_journal_open (journal_path, &error);
  g_autoptr(MsSmtpConfig) config = api_config (server);
  g_autoptr(MsBlast) blast = NULL;
  g_autoptr(MsBlast) blast2 = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(MsBatchInfo) info = NULL;
  MsPacerLimits limits = { .connections = 2 };
  ApiState s = { 0 };
  gint64 batch, batch2;

  g_assert_no_error (error);

  batch = api_import (journal, csv);
  s.loop = loop;
  s.main_thread = g_thread_self ();
  blast = ms_blast_new (config, &limits, journal_path, batch);
  ms_blast_set_progress_func (blast, api_progress, &s, NULL);
  ms_blast_run_async (blast, NULL, api_done, &s);
  while (!s.done)
    g_main_loop_run (loop);
  g_assert_no_error (s.error);
  g_assert_true (s.ok);
  g_assert_cmpint (ms_blast_get_status (blast), ==, MS_BATCH_FINISHED);
  /* Coalesced: at most ~10 a second (plus the first and the final one). */
  g_assert_cmpuint (s.events, >=, 2);
  g_assert_cmpuint (s.events, <=, 2 + (s.last - s.first) * 10 / G_USEC_PER_SEC + 1);
  g_assert_cmpuint (s.final.counts[MS_STATE_SENT], ==, 200);
  g_assert_cmpuint (s.final.total, ==, 200);
  g_assert_cmpint (s.final.eta, ==, 0);

  /* Cancel through the GCancellable: the rest is cancelled. */
  memset (&s, 0, sizeof s);
  s.loop = loop;
  s.main_thread = g_thread_self ();
  s.cancellable = g_cancellable_new ();
  batch2 = api_import (journal, csv);
  blast2 = ms_blast_new (config, &limits, journal_path, batch2);
  ms_blast_set_progress_func (blast2, api_progress, &s, NULL);
  ms_blast_run_async (blast2, s.cancellable, api_done, &s);
  while (!s.done)
    g_main_loop_run (loop);
  g_assert_error (s.error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&s.error);
  g_clear_object (&s.cancellable);
  info = ms_journal_get_batch_info (journal, batch2, &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->status, ==, MS_BATCH_CANCELLED);
  g_assert_cmpuint (info->counts[MS_STATE_QUEUED] + info->counts[MS_STATE_SENDING], ==, 0);
  g_assert_cmpuint (info->counts[MS_STATE_CANCELLED], >, 0);
  g_assert_cmpuint (info->counts[MS_STATE_SENT] + info->counts[MS_STATE_CANCELLED] +
                    info->counts[MS_STATE_UNCERTAIN], ==, 200);
}

/* A rate-limit reply on one connection while the other has messages in
 * flight: their successes must not end the wait early, and every progress
 * during the wait carries its end (time and text) and an ETA beyond it. */
typedef struct {
  ApiState   api;
  guint      waiting;          /* progress events during the wait */
  guint      with_eta;         /* ... that had an ETA */
  char      *bad_until;        /* the first without the end of the wait */
  char      *bad_eta;          /* the first with an ETA before that end */
} WaitState;

static void
wait_progress (const MsBlastProgress *p,
               gpointer               user_data)
{
  WaitState *s = user_data;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  api_progress (p, &s->api);
  if (strstr (p->status_text, "rate limit") == NULL)
    return;
  s->waiting++;
  if (p->waiting_until < now)
    {
      if (s->bad_until == NULL)
        s->bad_until = g_strdup_printf ("waiting_until %" G_GINT64_FORMAT " (now %" G_GINT64_FORMAT "): %s",
                                        p->waiting_until, now, p->status_text);
      return;
    }
  else
    {
      g_autoptr(GDateTime) end = g_date_time_new_from_unix_local (p->waiting_until);
      g_autofree char *hm = g_date_time_format (end, "%H:%M");

      if (strstr (p->status_text, hm) == NULL && s->bad_until == NULL)
        s->bad_until = g_strdup_printf ("status without the end of the wait (%s): %s", hm, p->status_text);
    }
  if (p->eta >= 0 && p->eta < p->waiting_until - now && s->bad_eta == NULL)
    s->bad_eta = g_strdup_printf ("ETA %" G_GINT64_FORMAT " s with %" G_GINT64_FORMAT " s of wait left",
                                  p->eta, p->waiting_until - now);
  if (p->eta >= 0)
    s->with_eta++;
}

static void
test_api_rate_limit_wait (void)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--delay=EOM:0.05",
                          "--fault=MAIL:421 4.7.0 Too many messages, try again in 4 seconds:count=1:after=50", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *csv = write_csv ("wait.csv", 150, NULL);
  g_autofree char *journal_path = ms_test_tmp_path ("wait.sqlite");
  g_autoptr(MsJournal) journal = ms_journal_open (journal_path, &error);
  g_autoptr(MsSmtpConfig) config = api_config (server);
  g_autoptr(MsBlast) blast = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GHashTable) counts = NULL;
  MsPacerLimits limits = { .connections = 2 };
  WaitState s = { 0 };
  gint64 batch, start;

  g_assert_no_error (error);

  batch = api_import (journal, csv);
  s.api.loop = loop;
  s.api.main_thread = g_thread_self ();
  blast = ms_blast_new (config, &limits, journal_path, batch);
  ms_blast_set_progress_func (blast, wait_progress, &s, NULL);
  start = g_get_monotonic_time ();
  ms_blast_run_async (blast, NULL, api_done, &s.api);
  while (!s.api.done)
    g_main_loop_run (loop);
  g_assert_no_error (s.api.error);
  g_assert_true (s.api.ok);
  if (s.bad_until != NULL || s.bad_eta != NULL)
    g_error ("during the rate-limit wait: %s; %s", s.bad_until ? s.bad_until : "end shown",
             s.bad_eta ? s.bad_eta : "ETA fine");
  /* It did wait (most of the 4 s), and showed it all along. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 3 * G_USEC_PER_SEC);
  g_assert_cmpuint (s.waiting, >=, 10);
  g_assert_cmpuint (s.with_eta, >=, 1);
  g_assert_cmpuint (s.api.final.counts[MS_STATE_SENT], ==, 150);
  g_assert_cmpint (s.api.final.waiting_until, ==, 0);
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 150);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 150);
  g_free (s.bad_until);
  g_free (s.bad_eta);
}

static gboolean
collect_row (const MsJournalRow *row,
             gpointer            user_data)
{
  MsJournalRow *copy = g_new0 (MsJournalRow, 1);

  copy->state = row->state;
  copy->reply_code = row->reply_code;
  g_hash_table_replace (user_data, g_strdup (row->address), copy);
  return TRUE;
}

/* A row refused with a 4xx again after a day of tries fails instead of
 * being deferred once more; a fresh row is deferred. The day is simulated by
 * moving the row's first attempt back in the journal. */
static void
test_temporary_gives_up (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--fault=RCPT:450 4.2.0 Mailbox busy", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *csv = write_csv ("old.csv", 2, NULL);
  g_autofree char *journal_path = ms_test_tmp_path ("old.sqlite");
  g_autoptr(MsJournal) journal = ms_journal_open (journal_path, &error);
  g_autoptr(MsSmtpConfig) config = api_config (server);
  g_autoptr(MsBlast) blast = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GHashTable) states = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_autofree char *sql = NULL;
  MsPacerLimits limits = { .connections = 1 };
  MsJournalRow *old_row = NULL;
  ApiState s = { 0 };
  sqlite3 *db = NULL;
  gint64 batch;

  g_assert_no_error (error);
  batch = api_import (journal, csv);

  /* rcpt1 was first tried 25 hours ago, eleven times since. */
  g_assert_cmpint (sqlite3_open (journal_path, &db), ==, SQLITE_OK);
  sqlite3_busy_timeout (db, 5000);
  sql = g_strdup_printf ("UPDATE recipients SET first_attempt_at = %" G_GINT64_FORMAT ", attempts = 11"
                         " WHERE batch = %" G_GINT64_FORMAT " AND address = 'rcpt1@example.net'",
                         g_get_real_time () / G_USEC_PER_SEC - 25 * 3600, batch);
  g_assert_cmpint (sqlite3_exec (db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
  g_assert_cmpint (sqlite3_changes (db), ==, 1);
  sqlite3_close (db);

  s.loop = loop;
  s.main_thread = g_thread_self ();
  blast = ms_blast_new (config, &limits, journal_path, batch);
  ms_blast_set_wait_for_deferred (blast, FALSE);
  ms_blast_set_progress_func (blast, api_progress, &s, NULL);
  ms_blast_run_async (blast, NULL, api_done, &s);
  while (!s.done)
    g_main_loop_run (loop);
  g_clear_error (&s.error);

  g_assert_true (ms_journal_foreach_row (journal, batch, NULL, 0, collect_row, states, &error));
  g_assert_no_error (error);
  old_row = g_hash_table_lookup (states, "rcpt1@example.net");
  g_assert_nonnull (old_row);
  g_assert_cmpint (old_row->state, ==, MS_STATE_FAILED);
  g_assert_cmpint (old_row->reply_code, ==, 450);
  g_assert_cmpint (((MsJournalRow *) g_hash_table_lookup (states, "rcpt2@example.net"))->state, ==,
                   MS_STATE_DEFERRED);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
}

/* A test the server accepted proves it takes mail again: a stale
 * rate-limited-until is cleared. A test that failed before the message was
 * accepted proves nothing and leaves it. */
static void
test_test_clears_rate_limit (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--reject-rcpt=.*@bad\\.example", NULL);
  g_autofree char *future = g_strdup_printf ("%" G_GINT64_FORMAT, g_get_real_time () / G_USEC_PER_SEC + 3600);
  g_autofree char *until1 = NULL;
  g_autofree char *until2 = NULL;
  g_autofree char *line = g_strconcat (future, "\n", NULL);

  configure_account (ms_test_server_get_port (server));
  cli_ok ("config", "set", "rate-limited-until", future, NULL);

  g_assert_cmpint (ms_test_run_cli (NULL, NULL, NULL, "test", "--to", "someone@bad.example", NULL), ==, 1);
  g_assert_cmpint (ms_test_run_cli (NULL, &until1, NULL, "config", "get", "rate-limited-until", NULL), ==, 0);
  g_assert_cmpstr (until1, ==, line);

  g_assert_cmpint (ms_test_run_cli (NULL, NULL, NULL, "test", NULL), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, &until2, NULL, "config", "get", "rate-limited-until", NULL), ==, 0);
  g_assert_cmpstr (until2, ==, "0\n");
}

/* The pending line of @address in `pending` output, or NULL. */
static char *
pending_line (const char *pending,
              const char *address)
{
  g_auto(GStrv) lines = g_strsplit (pending, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (strstr (lines[i], address) != NULL)
      return g_strdup (lines[i]);
  return NULL;
}

/* `pending` names each row by BATCH:LINE too (the line of the user's CSV);
 * --retry, --skip and --mark-sent take it; --retry/--skip without a row act
 * on every row --state selects; --mark-sent settles an uncertain row. */
static void
test_pending_batch_line (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--reject-rcpt=rcpt(4|9)@", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *pending = NULL;
  g_autofree char *line4 = NULL;
  g_autofree char *line9 = NULL;
  g_autofree char *id = NULL;
  g_autofree char *ref4 = NULL;
  g_autofree char *ref9 = NULL;
  g_autofree char *ref_header = NULL;
  g_autoptr(GHashTable) lines = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("pending-line.csv", 12, NULL);
  g_assert_cmpint (blast_send (csv, &out, NULL, NULL), ==, 0);
  batch = first_line_id (out);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  ref4 = g_strdup_printf ("%s:5", id);    /* the header is line 1 */
  ref9 = g_strdup_printf ("%s:10", id);
  ref_header = g_strdup_printf ("%s:1", id);

  g_assert_cmpint (ms_test_run_cli (NULL, &pending, NULL, "pending", "--batch", id, NULL), ==, 0);
  g_assert_nonnull (strstr (pending, "BATCH:LINE"));
  line4 = pending_line (pending, "rcpt4@example.net");
  line9 = pending_line (pending, "rcpt9@example.net");
  g_assert_nonnull (line4);
  g_assert_nonnull (line9);
  g_assert_true (g_ascii_isdigit (line4[0]));     /* ROW first, as before */
  {
    g_autofree char *with_blanks = g_strdup_printf (" %s ", ref4);
    g_autofree char *with_blanks9 = g_strdup_printf (" %s ", ref9);

    g_assert_nonnull (strstr (line4, with_blanks));
    g_assert_nonnull (strstr (line9, with_blanks9));
  }

  /* Rows named by BATCH:LINE. */
  {
    g_autofree char *skip_out = NULL;
    g_autofree char *err = NULL;

    g_assert_cmpint (ms_test_run_cli (NULL, &skip_out, NULL, "pending", "--skip", ref9, NULL), ==, 0);
    g_assert_nonnull (strstr (skip_out, "is skipped"));
    g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "pending", "--retry", ref_header, NULL), ==, 2);
    g_assert_nonnull (strstr (err, "line 1"));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "pending", "--retry", "3:x", NULL), ==, 2);
    g_assert_nonnull (strstr (err, "BATCH:LINE"));
    g_clear_pointer (&err, g_free);
    /* Many at once needs --state, and never sent rows. */
    g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "pending", "--retry", NULL), ==, 2);
    g_assert_nonnull (strstr (err, "--state"));
    g_clear_pointer (&err, g_free);
    g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "pending", "--retry", "--state", "sent", NULL), ==, 2);
    g_clear_pointer (&err, g_free);
    /* Only an uncertain row can be marked as sent. */
    g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "pending", "--mark-sent", ref4, NULL), ==, 1);
    g_assert_nonnull (strstr (err, "not uncertain"));
  }
  {
    g_autofree char *retry_out = NULL;

    g_assert_cmpint (ms_test_run_cli (NULL, &retry_out, NULL, "pending", "--retry", "--state", "failed",
                                      "--batch", id, NULL), ==, 0);
    g_assert_nonnull (strstr (retry_out, "1 row is queued again"));
  }
  lines = report (batch);
  g_assert_cmpstr (((ReportLine *) g_hash_table_lookup (lines, "rcpt4@example.net"))->state, ==, "queued");
  g_assert_cmpstr (((ReportLine *) g_hash_table_lookup (lines, "rcpt9@example.net"))->state, ==, "skipped");
  g_assert_cmpuint (count_state (lines, "sent"), ==, 10);
}

/* Mark as sent: the uncertain row (the connection dropped after its body)
 * becomes sent and is never sent again; a second time is refused. */
static void
test_pending_mark_sent (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--drop-after-data=3", NULL);
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *pending = NULL;
  g_autofree char *id = NULL;
  g_autofree char *row = NULL;
  g_autofree char *mark_out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *resume_err = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_auto(GStrv) plines = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("mark.csv", 10, NULL);
  g_assert_cmpint (blast_send (csv, &out, NULL, NULL), ==, 0);
  batch = first_line_id (out);
  id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
  g_assert_cmpint (ms_test_run_cli (NULL, &pending, NULL, "pending", "--state", "uncertain", "--batch", id, NULL),
                   ==, 0);
  plines = g_strsplit (pending, "\n", -1);
  for (guint i = 0; plines[i] != NULL && row == NULL; i++)
    if (g_ascii_isdigit (plines[i][0]))
      row = g_strndup (plines[i], strcspn (plines[i], " "));
  g_assert_nonnull (row);

  g_assert_cmpint (ms_test_run_cli (NULL, &mark_out, NULL, "pending", "--mark-sent", row, NULL), ==, 0);
  g_assert_nonnull (strstr (mark_out, "marked as sent"));
  lines = report (batch);
  g_assert_cmpuint (count_state (lines, "sent"), ==, 10);
  g_assert_cmpuint (count_state (lines, "uncertain"), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, &err, "pending", "--mark-sent", row, NULL), ==, 1);
  g_assert_nonnull (strstr (err, "sent already"));

  /* Resume has nothing to send: the server got 9 and still has 9. */
  g_assert_cmpint (ms_test_run_cli (NULL, NULL, &resume_err, "blast", "resume", id, NULL), ==, 0);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 9);
}

/* The batch ID alone on standard output's first line, for scripts; standard
 * error tells a person the batch was created, before the progress. */
static void
test_send_announces_batch (void)
{
  g_autoptr(MsTestServer) server = start_plain_server ();
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *announce = NULL;
  g_auto(GStrv) out_lines = NULL;
  gint64 batch;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("announce.csv", 3, NULL);
  g_assert_cmpint (blast_send (csv, &out, &err, NULL), ==, 0);
  batch = first_line_id (out);
  announce = g_strdup_printf ("Batch %" G_GINT64_FORMAT " created. Imported 3 recipients\n", batch);
  g_assert_true (g_str_has_prefix (err, announce));
  out_lines = g_strsplit (out, "\n", -1);
  g_assert_cmpuint (g_strv_length (out_lines), ==, 2);   /* the ID and the trailing "" */
}

/* --dry-run prints the count and one merged message, and neither stores a
 * batch nor sends anything; --row picks the row. */
static void
test_send_dry_run (void)
{
  g_autoptr(MsTestServer) server = start_plain_server ();
  g_autofree char *csv = NULL;
  g_autofree char *out = NULL;
  g_autofree char *out3 = NULL;
  g_autofree char *err = NULL;
  g_autofree char *list_before = NULL;
  g_autofree char *list_after = NULL;

  configure_account (ms_test_server_get_port (server));
  csv = write_csv ("dry.csv", 5, "Bad One,not-an-address\n");
  g_assert_cmpint (ms_test_run_cli (NULL, &list_before, NULL, "blast", "list", NULL), ==, 0);

  g_assert_cmpint (blast_send (csv, &out, NULL, "--dry-run", NULL), ==, 0);
  g_assert_nonnull (strstr (out, "Dry run: nothing was sent or stored."));
  g_assert_nonnull (strstr (out, "Recipients: 5\n"));
  g_assert_nonnull (strstr (out, "Left out: 1"));
  g_assert_nonnull (strstr (out, "Subject: News for Person 1\n"));
  g_assert_nonnull (strstr (out, "rcpt1@example.net"));
  g_assert_nonnull (strstr (out, "Hello Person 1,"));
  g_assert_null (strchr (out, '\r'));

  g_assert_cmpint (blast_send (csv, &out3, NULL, "--dry-run", "--row", "3", NULL), ==, 0);
  g_assert_nonnull (strstr (out3, "Subject: News for Person 3\n"));
  g_assert_nonnull (strstr (out3, "line 4 of"));
  g_assert_cmpint (blast_send (csv, NULL, &err, "--dry-run", "--row", "6", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "left out"));

  /* Nothing went out, and no batch was made. */
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, &list_after, NULL, "blast", "list", NULL), ==, 0);
  g_assert_cmpstr (list_after, ==, list_before);
}

/* Issue 9: a per-connection message limit (OpenSMTPD refuses the 101st
 * message of a connection with 452 4.5.3, Exim closes with a 421) costs no
 * retry wait: the refused message goes again at once on a new connection,
 * and the learnt limit makes every later connection end before it. */
typedef struct {
  const char *reply;
  guint       n;
} LimitCase;

static void
test_connection_limit (gconstpointer data)
{
  const LimitCase *lc = data;
  g_autofree char *reply_arg = g_strdup_printf ("--max-per-session-reply=%s", lc->reply);
  g_autoptr(MsTestServer) server = ms_test_server_start ("--pipelining", "--no-bodies", "--log-sessions",
                                                         "--max-per-session=100", reply_arg, NULL);
  g_autofree char *csv = write_csv ("limit.csv", lc->n, NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GPtrArray) envelopes = NULL;
  g_autofree char *reply_log = g_strdup_printf ("reply %s", lc->reply);
  gint64 start;
  gint64 elapsed;
  int status;

  configure_account (ms_test_server_get_port (server));
  start = g_get_monotonic_time ();
  status = blast_send (csv, &out, &err, "--no-wait", NULL);
  elapsed = g_get_monotonic_time () - start;
  g_test_message ("%u messages in %.1f s; stderr: %s", lc->n, elapsed / 1e6, err);
  g_assert_cmpint (status, ==, 0);

  /* Every message once, none deferred, and no retry wait. */
  lines = report (first_line_id (out));
  g_assert_cmpuint (count_state (lines, "sent"), ==, lc->n);
  envelopes = ms_test_server_get_envelopes (server);
  g_assert_cmpuint (envelopes->len, ==, lc->n);
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, lc->n);
  g_assert_cmpint (elapsed, <, 30 * G_USEC_PER_SEC);

  /* The server refused once; then each connection ended at 100 by itself,
   * with QUIT. The server itself closed the one it answered with a 421.
   * The first connection carries messages too: the session finds on it
   * that the server offers no STARTTLS and goes on. */
  {
    g_autofree char *log = ms_test_server_get_log (server);
    g_autoptr(GRegex) re = g_regex_new ("^(mail|rcpt|data).*\\n", G_REGEX_MULTILINE, 0, NULL);
    g_autofree char *brief = g_regex_replace_literal (re, log, -1, 0, "", 0, NULL);
    g_test_message ("log without transactions:\n%s", brief);
  }
  g_assert_cmpuint (ms_test_server_log_count (server, reply_log), ==, 1);
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), ==, (lc->n + 99) / 100);
  g_assert_true (ms_test_server_wait_log (server, "quit", 5000));
  for (guint i = 0; i < 500 && ms_test_server_log_count (server, "disconnect") < (lc->n + 99) / 100; i++)
    g_usleep (10 * 1000);
  g_assert_cmpuint (ms_test_server_log_count (server, "quit"), ==,
                    (lc->n + 99) / 100 - (g_str_has_prefix (lc->reply, "421") ? 1 : 0));
  g_assert_cmpuint (ms_test_server_log_count (server, "lost-connection"), ==, 0);
}

/* Issue 9: a window of messages in flight on one connection, with
 * PIPELINING (the end of one and the next one's commands in one write) or
 * CHUNKING (BDAT … LAST back to back). A refusal in the middle of the window
 * leaves the messages behind it their own replies, on the same connection;
 * a drop in the middle leaves uncertain only the messages whose end went out
 * unanswered (at most the window), and every other one goes once. */
static void
test_window_refusal (gconstpointer data)
{
  gboolean chunking = GPOINTER_TO_INT (data);
  g_autoptr(MsTestServer) server = ms_test_server_start ("--pipelining", chunking ? "--chunking" : "--log-sessions",
                                                         "--fault=RCPT:550 5.1.1 <x>: Recipient address rejected:session=2",
                                                         NULL);
  g_autofree char *csv = write_csv ("window.csv", 12, NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autofree char *log = NULL;
  guint failed_rcpt = 0;

  configure_account (ms_test_server_get_port (server));
  g_assert_cmpint (blast_send (csv, &out, &err, "--connections", "1", "--no-wait", NULL), ==, 0);
  lines = report (first_line_id (out));
  log = ms_test_server_get_log (server);
  g_test_message ("stderr: %s", err);
  /* The second recipient of each connection is refused; there is one. */
  g_assert_cmpuint (count_state (lines, "sent"), ==, 11);
  g_assert_cmpuint (count_state (lines, "failed"), ==, 1);
  for (guint i = 1; i <= 12; i++)
    {
      g_autofree char *address = g_strdup_printf ("rcpt%u@example.net", i);
      ReportLine *l = g_hash_table_lookup (lines, address);

      g_assert_nonnull (l);
      if (g_str_equal (l->state, "failed"))
        {
          g_assert_cmpstr (l->code, ==, "550");
          failed_rcpt = i;
        }
      else
        g_assert_cmpstr (l->code, ==, "250");
    }
  g_assert_cmpuint (failed_rcpt, ==, 2);
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 11);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 11);
  /* One connection (the session finds on it that STARTTLS is not
   * offered): the refused recipient did not cost it. */
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), ==, 1);
  if (chunking)
    g_assert_nonnull (strstr (log, "bdat"));
}

static void
test_window_drop (gconstpointer data)
{
  gboolean chunking = GPOINTER_TO_INT (data);
  g_autoptr(MsTestServer) server = ms_test_server_start ("--pipelining", chunking ? "--chunking" : "--log-sessions",
                                                         "--fault=EOM:DROP:session=3:count=1", NULL);
  g_autofree char *csv = write_csv ("window-drop.csv", 12, NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GHashTable) lines = NULL;
  g_autoptr(GHashTable) counts = NULL;
  GHashTableIter iter;
  ReportLine *l;
  guint uncertain;

  configure_account (ms_test_server_get_port (server));
  g_assert_cmpint (blast_send (csv, &out, &err, "--connections", "1", "--no-wait", NULL), ==, 0);
  lines = report (first_line_id (out));
  g_test_message ("stderr: %s", err);
  uncertain = count_state (lines, "uncertain");
  g_test_message ("%u uncertain", uncertain);
  /* The 3rd message's end went out and was never answered: uncertain. With
   * DATA the next one's end waits for its 354, so it is the only one; with
   * BDAT the ones behind it in the window went out too. */
  g_assert_cmpuint (uncertain, >=, 1);
  g_assert_cmpuint (uncertain, <=, chunking ? 4 : 1);
  l = g_hash_table_lookup (lines, "rcpt3@example.net");
  g_assert_cmpstr (l->state, ==, "uncertain");
  g_assert_cmpuint (count_state (lines, "sent"), ==, 12 - uncertain);
  /* Nothing lost silently, nothing twice: every sent row arrived once, and
   * no uncertain one arrived. */
  counts = server_counts (server);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 12 - uncertain);
  g_hash_table_iter_init (&iter, lines);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &l))
    {
      guint c = GPOINTER_TO_UINT (g_hash_table_lookup (counts, l->address));

      g_assert_cmpuint (c, ==, g_str_equal (l->state, "sent") ? 1 : 0);
    }
}

/* `blast send` sends while the list goes in (chunks of 3 rows here): the
 * rules of the import hold as in one piece. A row left out and a duplicate
 * found after the first messages went out are still reported with their
 * lines and counted; a list that cannot be imported as a whole (a quote
 * never closed near its end) is refused with nothing stored or sent. */
static void
test_send_while_importing (void)
{
  g_autoptr(MsTestServer) server = start_plain_server ();
  g_autofree char *csv = NULL;
  g_autofree char *broken = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *list = NULL;
  g_autofree char *list_before = NULL;
  g_autoptr(GHashTable) counts = NULL;

  g_setenv ("MS_IMPORT_CHUNK", "3", TRUE);
  configure_account (ms_test_server_get_port (server));
  g_assert_cmpint (ms_test_run_cli (NULL, &list_before, NULL, "blast", "list", NULL), ==, 0);
  broken = write_csv ("overlap-broken.csv", 60, "Late,\"late@example.net\nEnd,end@example.net\n");
  g_assert_cmpint (blast_send (broken, &out, &err, "--connections", "2", NULL), ==, 2);
  g_assert_nonnull (strstr (err, "The quote opened on line 62"));
  g_assert_cmpstr (out, ==, "");
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  g_assert_cmpint (ms_test_run_cli (NULL, &list, NULL, "blast", "list", NULL), ==, 0);
  g_assert_cmpstr (list, ==, list_before);   /* no new batch */
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  csv = write_csv ("overlap.csv", 60, "Bad,not-an-address\nDup,RCPT2@example.net\nLast,last@example.net\n");
  g_assert_cmpint (blast_send (csv, &out, &err, "--connections", "2", NULL), ==, 0);
  first_line_id (out);
  g_assert_nonnull (strstr (err, ":62:"));
  g_assert_nonnull (strstr (err, ":63: duplicate address “RCPT2@example.net”: sent once"));
  g_assert_nonnull (strstr (err, "Imported 61 recipients; left out 1: 1 invalid address; 1 duplicate sent once"));
  counts = server_counts (server);
  g_assert_cmpuint (g_hash_table_size (counts), ==, 61);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, "rcpt2@example.net")), ==, 1);
  g_assert_cmpuint (GPOINTER_TO_UINT (g_hash_table_lookup (counts, "last@example.net")), ==, 1);
  g_unsetenv ("MS_IMPORT_CHUNK");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  g_test_add_func ("/mailshot/blast/send-basic", test_send_basic);
  g_test_add_data_func ("/mailshot/blast/window/refusal", GINT_TO_POINTER (FALSE), test_window_refusal);
  g_test_add_data_func ("/mailshot/blast/window/refusal-chunking", GINT_TO_POINTER (TRUE), test_window_refusal);
  g_test_add_data_func ("/mailshot/blast/window/drop", GINT_TO_POINTER (FALSE), test_window_drop);
  g_test_add_data_func ("/mailshot/blast/window/drop-chunking", GINT_TO_POINTER (TRUE), test_window_drop);
  g_test_add_func ("/mailshot/blast/missing-field", test_missing_field);
  g_test_add_func ("/mailshot/blast/connections", test_connections);
  g_test_add_func ("/mailshot/blast/final-reply", test_final_reply);
  g_test_add_func ("/mailshot/blast/recipient-rejected", test_recipient_rejected);
  g_test_add_func ("/mailshot/blast/temporary", test_temporary);
  g_test_add_func ("/mailshot/blast/rate-limited", test_rate_limited);
  g_test_add_func ("/mailshot/blast/auth-stops", test_auth_stops);
  g_test_add_func ("/mailshot/blast/drop-after-data", test_drop_after_data);
  g_test_add_func ("/mailshot/blast/connection-lost", test_connection_lost_before_data);
  g_test_add_func ("/mailshot/blast/pause-resume-cancel", test_pause_resume_cancel);
  g_test_add_func ("/mailshot/blast/pacer", test_pacer);
  g_test_add_func ("/mailshot/blast/abort", test_abort);
  g_test_add_func ("/mailshot/blast/cannot-connect", test_cannot_connect);
  g_test_add_func ("/mailshot/blast/missing-password", test_missing_password);
  g_test_add_func ("/mailshot/blast/api", test_api);
  g_test_add_func ("/mailshot/blast/api-rate-limit-wait", test_api_rate_limit_wait);
  g_test_add_func ("/mailshot/blast/help", test_help);
  g_test_add_func ("/mailshot/blast/list-one-line", test_list_one_line);
  g_test_add_func ("/mailshot/blast/tty-progress", test_tty_progress);
  g_test_add_func ("/mailshot/blast/stop-classes", test_tls_and_sender_stop);
  g_test_add_func ("/mailshot/blast/starttls-seen", test_starttls_seen);
  g_test_add_func ("/mailshot/blast/temporary-gives-up", test_temporary_gives_up);
  g_test_add_func ("/mailshot/blast/test-clears-rate-limit", test_test_clears_rate_limit);
  g_test_add_func ("/mailshot/blast/pending-batch-line", test_pending_batch_line);
  g_test_add_func ("/mailshot/blast/pending-mark-sent", test_pending_mark_sent);
  g_test_add_func ("/mailshot/blast/send-announces-batch", test_send_announces_batch);
  g_test_add_func ("/mailshot/blast/send-dry-run", test_send_dry_run);
  g_test_add_func ("/mailshot/blast/greeting-refused", test_greeting_refused);
  g_test_add_func ("/mailshot/blast/escape-reply", test_escape_reply);
  g_test_add_func ("/mailshot/blast/send-while-importing", test_send_while_importing);
  {
    static const LimitCase opensmtpd = { "452 4.5.3 Too many messages sent", 1000 };
    static const LimitCase exim = { "421 4.7.0 Too many messages in this connection", 300 };

    g_test_add_data_func ("/mailshot/blast/connection-limit-452", &opensmtpd, test_connection_limit);
    g_test_add_data_func ("/mailshot/blast/connection-limit-421", &exim, test_connection_limit);
  }
  return g_test_run ();
}
