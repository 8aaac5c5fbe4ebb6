/* test-crash.c: kill -9 in the middle of e-blasts, resume, and check what the server received
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-test-support.h"

#define N_RECIPIENTS 5000
#define MIN_KILLS    5
#define CONNECTIONS  2
#define CONNECTIONS_TEXT "2"
/* Messages in flight per connection (MS_BLAST_WINDOW): a kill leaves at most
 * this many uncertain on each, the ones whose end went out unanswered. */
#define WINDOW       4
#define WINDOW_TEXT  "4"

static void
cli_ok (const char * const *args)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status = ms_test_run_cliv (NULL, &out, &err, args);

  if (status != 0)
    g_error ("mailshot-cli %s %s: exit %d\n%s%s", args[0], args[1], status, out, err);
}

static GSubprocess *
spawn_cli (const char         *out_path,
           const char         *err_path,
           const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  GSubprocess *proc;

  g_ptr_array_add (argv, (gpointer) g_getenv ("MS_CLI"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
  g_subprocess_launcher_set_stderr_file_path (launcher, err_path);
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  g_assert_no_error (error);
  return proc;
}

static gboolean
proc_running (GSubprocess *proc)
{
  /* The identifier goes once the child has been reaped. */
  return g_subprocess_get_identifier (proc) != NULL;
}

static gint64
wait_batch_id (GSubprocess *proc,
               const char  *out_path)
{
  gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *out = NULL;
      guint64 id;

      if (g_file_get_contents (out_path, &out, NULL, NULL) && strchr (out, '\n') != NULL)
        {
          *strchr (out, '\n') = '\0';
          g_assert_true (g_ascii_string_to_unsigned (out, 10, 1, G_MAXINT64, &id, NULL));
          return (gint64) id;
        }
      g_usleep (10 * 1000);
    }
  g_error ("no batch ID from blast send");
  return 0;
}

static GHashTable *
server_counts (MsTestServer *server)
{
  g_autoptr(GPtrArray) envelopes = ms_test_server_get_envelopes (server);
  GHashTable *counts = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < envelopes->len; i++)
    {
      g_auto(GStrv) parts = g_strsplit (g_ptr_array_index (envelopes, i), " ", 3);
      char *key;

      g_assert_cmpuint (g_strv_length (parts), ==, 3);
      key = g_ascii_strdown (g_strstrip (parts[2]), -1);
      g_hash_table_replace (counts, key, GUINT_TO_POINTER (GPOINTER_TO_UINT (g_hash_table_lookup (counts, key)) + 1));
    }
  return counts;
}

/* address -> state from `blast report ID --csv` (addresses here need no quoting). */
static GHashTable *
report_states (const char *id)
{
  g_autofree char *out = NULL;
  g_auto(GStrv) lines = NULL;
  GHashTable *states = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  g_assert_cmpint (ms_test_run_cli (NULL, &out, NULL, "blast", "report", id, "--csv", NULL), ==, 0);
  lines = g_strsplit (out, "\n", -1);
  g_assert_true (g_str_has_prefix (lines[0], "address,state,"));
  for (guint i = 1; lines[i] != NULL; i++)
    {
      g_auto(GStrv) f = NULL;

      if (*lines[i] == '\0')
        continue;
      f = g_strsplit (lines[i], ",", 3);
      g_assert_nonnull (f[1]);
      g_hash_table_replace (states, g_ascii_strdown (f[0], -1), g_strdup (f[1]));
    }
  return states;
}

/* Rows uncertain now (opening the journal settles what a kill left). */
static guint
count_uncertain (const char *id,
                 GHashTable *into)
{
  g_autoptr(GHashTable) states = report_states (id);
  GHashTableIter iter;
  gpointer key, value;
  guint n = 0;

  g_hash_table_iter_init (&iter, states);
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (g_str_equal (value, "uncertain"))
      {
        n++;
        if (into != NULL)
          g_hash_table_add (into, g_strdup (key));
      }
  return n;
}

static void
test_kill_resume (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--no-bodies", "--pipelining", "--chunking", NULL);
  g_autofree char *port = g_strdup_printf ("%u", ms_test_server_get_port (server));
  g_autofree char *csv = ms_test_tmp_path ("crash.csv");
  g_autofree char *text = ms_test_tmp_path ("crash.txt");
  g_autofree char *out_path = ms_test_tmp_path ("crash.out");
  g_autofree char *err_path = ms_test_tmp_path ("crash.err");
  g_autoptr(GString) s = g_string_new ("name,email\n");
  g_autoptr(GHashTable) states = NULL;
  g_autoptr(GHashTable) final_states = NULL;
  g_autoptr(GHashTable) counts = NULL;
  g_autoptr(GHashTable) ever_uncertain = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) retry = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *id = NULL;
  g_autofree char *pending = NULL;
  g_auto(GStrv) plines = NULL;
  GHashTableIter iter;
  gpointer key, value;
  guint kills = 0, runs = 0, extra = 0, uncertain_before = 0, worst = 0;
  gint64 batch = 0;
  gboolean finished = FALSE;

  {
    const char *c1[] = { "config", "set", "smtp-server", "127.0.0.1", NULL };
    const char *c2[] = { "config", "set", "smtp-port", port, NULL };
    const char *c3[] = { "config", "set", "email-address", "sender@example.org", NULL };
    const char *c4[] = { "config", "set", "needs-authentication", "false", NULL };
    cli_ok (c1); cli_ok (c2); cli_ok (c3); cli_ok (c4);
  }
  for (guint i = 1; i <= N_RECIPIENTS; i++)
    g_string_append_printf (s, "P%u,r%u@example.net\n", i, i);
  g_assert_true (g_file_set_contents (csv, s->str, -1, NULL));
  g_assert_true (g_file_set_contents (text, "Hello {{name}}\n", -1, NULL));

  /* Kill -9 at random points, resume, again, until it finishes. */
  while (!finished)
    {
      g_autoptr(GSubprocess) proc = NULL;
      guint target;

      g_assert_cmpuint (runs, <, 40);
      if (runs++ == 0)
        {
          const char *args[] = { "blast", "send", "--recipients", csv, "--subject", "Crash {{name}}",
                                 "--text", text, "--connections", CONNECTIONS_TEXT, NULL };
          proc = spawn_cli (out_path, err_path, args);
          batch = wait_batch_id (proc, out_path);
          id = g_strdup_printf ("%" G_GINT64_FORMAT, batch);
        }
      else
        {
          const char *args[] = { "blast", "resume", id, "--connections", CONNECTIONS_TEXT, NULL };
          proc = spawn_cli (out_path, err_path, args);
        }

      /* A random point: after some more messages reached the server (or
       * right away, now and then, while the run is still starting). */
      target = ms_test_server_count_messages (server) +
               (g_test_rand_int_range (0, 5) == 0 ? 0 : (guint) g_test_rand_int_range (50, 600));
      if (kills < MIN_KILLS + 2)
        {
          gint64 deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;

          while (proc_running (proc) && ms_test_server_count_messages (server) < target &&
                 g_get_monotonic_time () < deadline)
            g_usleep (2 * 1000);   /* GLib reaps the child by itself */
        }

      if (kills < MIN_KILLS + 2 && proc_running (proc))
        {
          g_subprocess_force_exit (proc);   /* SIGKILL */
          g_subprocess_wait (proc, NULL, NULL);
          g_assert_true (g_subprocess_get_if_signaled (proc));
          g_assert_cmpint (g_subprocess_get_term_sig (proc), ==, SIGKILL);
          kills++;
          if (id != NULL)
            {
              /* The side log settles every row but the messages whose end
               * went out and whose answer was not logged: one per
               * connection at most. */
              guint now = count_uncertain (id, NULL);

              g_assert_cmpuint (now - uncertain_before, <=, CONNECTIONS * WINDOW);
              worst = MAX (worst, now - uncertain_before);
              uncertain_before = now;
            }
          continue;
        }

      g_subprocess_wait (proc, NULL, NULL);
      if (g_subprocess_get_if_signaled (proc))
        {
          kills++;
          continue;
        }
      g_assert_true (g_subprocess_get_if_exited (proc));
      if (g_subprocess_get_exit_status (proc) != 0)
        {
          g_autofree char *err = NULL;

          g_file_get_contents (err_path, &err, NULL, NULL);
          g_error ("run %u ended with %d:\n%s", runs, g_subprocess_get_exit_status (proc), err);
        }
      finished = TRUE;
    }
  g_test_message ("%u runs, %u kills", runs, kills);
  g_assert_cmpuint (kills, >=, MIN_KILLS);

  /* Every row ended sent or uncertain; nothing was lost. */
  states = report_states (id);
  g_assert_cmpuint (g_hash_table_size (states), ==, N_RECIPIENTS);
  g_hash_table_iter_init (&iter, states);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      g_assert_true (g_str_equal (value, "sent") || g_str_equal (value, "uncertain"));
      if (g_str_equal (value, "uncertain"))
        g_hash_table_add (ever_uncertain, g_strdup (key));
    }
  g_test_message ("%u uncertain after %u kills (at most %u after one)", g_hash_table_size (ever_uncertain),
                  kills, worst);
  /* At most the message on the wire of each connection, per kill. */
  g_assert_cmpuint (g_hash_table_size (ever_uncertain), <=, kills * CONNECTIONS * WINDOW);

  /* The user retries the uncertain rows; they may arrive twice. */
  g_assert_cmpint (ms_test_run_cli (NULL, &pending, NULL, "pending", "--state", "uncertain", "--batch", id, NULL), ==, 0);
  plines = g_strsplit (pending, "\n", -1);
  for (guint i = 0; plines[i] != NULL; i++)
    if (g_ascii_isdigit (plines[i][0]))
      g_ptr_array_add (retry, g_strndup (plines[i], strcspn (plines[i], " ")));
  g_assert_cmpuint (retry->len, ==, g_hash_table_size (ever_uncertain));
  if (retry->len > 0)
    {
      g_autoptr(GPtrArray) args = g_ptr_array_new ();

      g_ptr_array_add (args, "pending");
      for (guint i = 0; i < retry->len; i++)
        {
          g_ptr_array_add (args, "--retry");
          g_ptr_array_add (args, g_ptr_array_index (retry, i));
        }
      g_ptr_array_add (args, NULL);
      cli_ok ((const char * const *) args->pdata);
      {
        const char *resume[] = { "blast", "resume", id, NULL };
        cli_ok (resume);
      }
    }

  /* What the server got: exactly once, or at most twice for the uncertain. */
  final_states = report_states (id);
  counts = server_counts (server);
  for (guint i = 1; i <= N_RECIPIENTS; i++)
    {
      g_autofree char *address = g_strdup_printf ("r%u@example.net", i);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (counts, address));

      g_assert_cmpstr (g_hash_table_lookup (final_states, address), ==, "sent");
      if (g_hash_table_contains (ever_uncertain, address))
        {
          g_assert_cmpuint (n, >=, 1);
          g_assert_cmpuint (n, <=, 2);
          extra += n - 1;
        }
      else if (n != 1)
        g_error ("%s was delivered %u times but never reported uncertain", address, n);
    }
  g_assert_cmpuint (g_hash_table_size (counts), ==, N_RECIPIENTS);
  g_test_message ("%u extra copies, all of rows reported uncertain", extra);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  ms_core_init ();
  /* The blasts run in subprocesses, with this window. */
  g_setenv ("MS_BLAST_WINDOW", WINDOW_TEXT, TRUE);

  g_test_add_func ("/mailshot/crash/kill-resume", test_kill_resume);
  return g_test_run ();
}
