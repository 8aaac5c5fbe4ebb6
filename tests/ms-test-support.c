/* ms-test-support.c: shared test helpers: the harness SMTP server, smtp-sink, the CLI
 * SPDX-License-Identifier: GPL-3.0-or-later */
#define _GNU_SOURCE 1   /* unshare() */
#include "config.h"

#include "ms-test-support.h"

#include "ms-import.h"
#include "ms-journal.h"

#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include <gio/gunixinputstream.h>
#include <curl/curl.h>

#define READY_TIMEOUT_US (10 * G_USEC_PER_SEC)
#define STOP_TIMEOUT_MS 5000

struct _MsTestServer
{
  GSubprocess *proc;
  char        *state_dir;
  char        *cert_path;
  char        *fingerprint;
  gboolean     smtps;
  guint16      port;
};

struct _MsTestSink
{
  GSubprocess *proc;
  char        *state_dir;
  char        *dump_dir;
  guint16      port;
};

static char *tmp_root;

static const char *
test_tmpdir (void)
{
  const char *env = g_getenv ("MS_TEST_TMPDIR");
  g_autoptr(GError) error = NULL;

  if (env != NULL && *env != '\0')
    return env;
  if (tmp_root == NULL)
    {
      tmp_root = g_dir_make_tmp ("mailshot-test-XXXXXX", &error);
      if (tmp_root == NULL)
        g_error ("cannot make a temporary directory: %s", error->message);
    }
  return tmp_root;
}

char *
ms_test_tmp_path (const char *name)
{
  g_return_val_if_fail (name != NULL, NULL);

  return g_build_filename (test_tmpdir (), name, NULL);
}

static char *
make_state_dir (const char *prefix)
{
  g_autofree char *tmpl = g_strdup_printf ("%s-XXXXXX", prefix);
  g_autofree char *path = g_build_filename (test_tmpdir (), tmpl, NULL);

  if (g_mkdtemp (path) == NULL)
    g_error ("cannot create %s: %s", path, g_strerror (errno));
  return g_steal_pointer (&path);
}

static void
rm_rf (const char *path)
{
  GStatBuf st;

  if (g_lstat (path, &st) != 0)
    return;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          rm_rf (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

static char *
read_file_or_empty (const char *path)
{
  char *text = NULL;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

static GPtrArray *
collect_args (const char *first_arg, va_list ap)
{
  GPtrArray *args = g_ptr_array_new ();

  for (const char *a = first_arg; a != NULL; a = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) a);
  g_ptr_array_add (args, NULL);
  return args;
}

/* Waits for a child we asked to stop; a stuck one is killed. GSubprocess
 * reaps in GLib's worker thread and then drops the identifier. */
static void
wait_or_kill (GSubprocess *proc)
{
  gint64 deadline = g_get_monotonic_time () + STOP_TIMEOUT_MS * 1000;

  while (g_subprocess_get_identifier (proc) != NULL &&
         g_get_monotonic_time () < deadline)
    g_usleep (2000);
  if (g_subprocess_get_identifier (proc) != NULL)
    g_subprocess_force_exit (proc);
  g_subprocess_wait (proc, NULL, NULL);
}

/* ---- the python harness server ---------------------------------------- */

static char *
server_script (void)
{
  const char *env = g_getenv ("MS_TEST_SERVER");
  const char *srcdir = g_getenv ("MS_TEST_SRCDIR");

  if (env != NULL && *env != '\0')
    return g_strdup (env);
  if (srcdir != NULL)
    return g_build_filename (srcdir, "smtp-server.py", NULL);
  g_error ("MS_TEST_SERVER is not set: run the tests through meson (meson test -C BUILDDIR)");
  return NULL;
}

/* Reads one line from @stream within the deadline; NULL on EOF or timeout. */
static char *
read_line_deadline (GInputStream *stream,
                    gint64        deadline)
{
  g_autoptr(GString) line = g_string_new (NULL);
  int fd = g_unix_input_stream_get_fd (G_UNIX_INPUT_STREAM (stream));

  while (g_get_monotonic_time () < deadline)
    {
      GPollFD pfd = { fd, G_IO_IN | G_IO_HUP | G_IO_ERR, 0 };
      int timeout_ms = (int) ((deadline - g_get_monotonic_time ()) / 1000) + 1;
      char c;
      ssize_t n;

      if (g_poll (&pfd, 1, timeout_ms) <= 0)
        continue;
      n = read (fd, &c, 1);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return NULL;
      if (c == '\n')
        return g_string_free (g_steal_pointer (&line), FALSE);
      g_string_append_c (line, c);
    }
  return NULL;
}

/* ---- the helper servers (tests/NAME.py) ------------------------------------ */

GSubprocess *
ms_test_helper_start (const char          *script,
                      const char          *prefix,
                      const char * const  *args,
                      char               **state_dir,
                      guint16             *port)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = make_state_dir (prefix);
  g_autofree char *stderr_path = g_build_filename (dir, "stderr.log", NULL);
  g_autofree char *line = NULL;
  GSubprocess *proc;
  guint64 number = 0;

  g_return_val_if_fail (script != NULL && prefix != NULL && port != NULL, NULL);

  g_ptr_array_add (argv, g_strdup ("/usr/bin/python3"));
  g_ptr_array_add (argv, g_strdup (script));
  g_ptr_array_add (argv, g_strdup_printf ("--state-dir=%s", dir));
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup (args[i]));
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  /* A file, not a pipe: nobody drains stderr while the test runs. */
  g_subprocess_launcher_set_stderr_file_path (launcher, stderr_path);
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  if (proc == NULL)
    g_error ("cannot start %s: %s", script, error->message);

  line = read_line_deadline (g_subprocess_get_stdout_pipe (proc),
                             g_get_monotonic_time () + READY_TIMEOUT_US);
  if (line == NULL || !g_str_has_prefix (line, "READY ") ||
      !g_ascii_string_to_unsigned (line + 6, 10, 1, 65535, &number, NULL))
    {
      g_autofree char *cmdline = g_strjoinv (" ", (char **) argv->pdata);
      g_autofree char *err = NULL;

      g_subprocess_force_exit (proc);
      g_subprocess_wait (proc, NULL, NULL);
      err = read_file_or_empty (stderr_path);
      g_error ("%s did not start (%s): got %s\n%s",
               script, cmdline, line ? line : "no READY line", err);
    }
  *port = (guint16) number;
  if (state_dir != NULL)
    *state_dir = g_steal_pointer (&dir);
  return proc;
}

void
ms_test_helper_stop (GSubprocess *proc)
{
  if (proc == NULL)
    return;
  /* Closing its standard input ends a helper started with
   * --exit-on-stdin-eof; SIGTERM ends the others. */
  g_output_stream_close (g_subprocess_get_stdin_pipe (proc), NULL, NULL);
  g_subprocess_send_signal (proc, SIGTERM);
  wait_or_kill (proc);
  g_object_unref (proc);
}

MsTestServer *
ms_test_server_startv (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *script = server_script ();
  MsTestServer *self;

  self = g_new0 (MsTestServer, 1);
  g_ptr_array_add (argv, (gpointer) "--exit-on-stdin-eof");
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    {
      g_ptr_array_add (argv, (gpointer) args[i]);
      if (g_str_equal (args[i], "--tls=smtps"))
        self->smtps = TRUE;
    }
  g_ptr_array_add (argv, NULL);
  self->proc = ms_test_helper_start (script, "smtp-server", (const char * const *) argv->pdata,
                                     &self->state_dir, &self->port);

  self->cert_path = g_build_filename (self->state_dir, "cert.pem", NULL);
  if (g_file_test (self->cert_path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *fp_path = g_build_filename (self->state_dir, "fingerprint", NULL);
      g_autofree char *fp = read_file_or_empty (fp_path);

      self->fingerprint = g_strdup (g_strstrip (fp));
    }
  else
    g_clear_pointer (&self->cert_path, g_free);

  g_debug ("SMTP harness on 127.0.0.1:%u, state in %s", self->port, self->state_dir);
  return self;
}

MsTestServer *
ms_test_server_start (const char *first_arg,
                      ...)
{
  g_autoptr(GPtrArray) args = NULL;
  va_list ap;

  va_start (ap, first_arg);
  args = collect_args (first_arg, ap);
  va_end (ap);
  return ms_test_server_startv ((const char * const *) args->pdata);
}

guint16
ms_test_server_get_port (MsTestServer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->port;
}

const char *
ms_test_server_get_cert_path (MsTestServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->cert_path;
}

const char *
ms_test_server_get_cert_fingerprint (MsTestServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->fingerprint;
}

const char *
ms_test_server_get_state_dir (MsTestServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->state_dir;
}

char *
ms_test_server_get_url (MsTestServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_strdup_printf ("%s://127.0.0.1:%u", self->smtps ? "smtps" : "smtp", self->port);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return g_strcmp0 (*(const char * const *) a, *(const char * const *) b);
}

static GPtrArray *
message_names (const char *dir_path)
{
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, "msg-") && g_str_has_suffix (name, ".eml"))
      g_ptr_array_add (names, g_strdup (name));
  /* Zero-padded numbers: name order is arrival order. */
  g_ptr_array_sort (names, compare_strings);
  return names;
}

GPtrArray *
ms_test_server_get_messages (MsTestServer *self)
{
  g_autoptr(GPtrArray) names = NULL;
  GPtrArray *messages;

  g_return_val_if_fail (self != NULL, NULL);

  names = message_names (self->state_dir);
  messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (self->state_dir, names->pdata[i], NULL);
      g_autoptr(GError) error = NULL;
      char *data = NULL;
      gsize len = 0;

      if (!g_file_get_contents (path, &data, &len, &error))
        g_error ("cannot read %s: %s", path, error->message);
      g_ptr_array_add (messages, g_bytes_new_take (data, len));
    }
  return messages;
}

guint
ms_test_server_count_messages (MsTestServer *self)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  guint n = 0;

  g_return_val_if_fail (self != NULL, 0);

  /* The envelopes file, not the msg files: it is written with --no-bodies too. */
  path = g_build_filename (self->state_dir, "envelopes", NULL);
  text = read_file_or_empty (path);
  for (const char *p = text; *p != '\0'; p++)
    if (*p == '\n')
      n++;
  return n;
}

GPtrArray *
ms_test_server_get_envelopes (MsTestServer *self)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_auto(GStrv) lines = NULL;
  GPtrArray *out;

  g_return_val_if_fail (self != NULL, NULL);

  path = g_build_filename (self->state_dir, "envelopes", NULL);
  text = read_file_or_empty (path);
  lines = g_strsplit (text, "\n", -1);
  out = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; lines[i] != NULL; i++)
    if (*lines[i] != '\0')
      g_ptr_array_add (out, g_strdup (lines[i]));
  return out;
}

char *
ms_test_server_get_log (MsTestServer *self)
{
  g_autofree char *path = NULL;

  g_return_val_if_fail (self != NULL, NULL);

  path = g_build_filename (self->state_dir, "log", NULL);
  return read_file_or_empty (path);
}

guint
ms_test_server_log_count (MsTestServer *self,
                          const char   *line)
{
  g_autofree char *log = NULL;
  g_auto(GStrv) lines = NULL;
  guint n = 0;

  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (line != NULL, 0);

  log = ms_test_server_get_log (self);
  lines = g_strsplit (log, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_equal (lines[i], line))
      n++;
  return n;
}

gboolean
ms_test_server_log_contains (MsTestServer *self,
                             const char   *line)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (line != NULL, FALSE);

  return ms_test_server_log_count (self, line) > 0;
}

gboolean
ms_test_server_wait_log (MsTestServer *self,
                         const char   *line,
                         guint         timeout_ms)
{
  gint64 deadline;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (line != NULL, FALSE);

  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  for (;;)
    {
      if (ms_test_server_log_contains (self, line))
        return TRUE;
      if (g_get_monotonic_time () >= deadline)
        return FALSE;
      g_usleep (10000);
    }
}

void
ms_test_server_stop (MsTestServer *self)
{
  if (self == NULL)
    return;

  if (self->proc != NULL)
    {
      ms_test_helper_stop (g_steal_pointer (&self->proc));
    }
  if (g_getenv ("MS_TEST_KEEP") == NULL)
    rm_rf (self->state_dir);
  else
    g_test_message ("harness state kept in %s", self->state_dir);
  g_free (self->state_dir);
  g_free (self->cert_path);
  g_free (self->fingerprint);
  g_free (self);
}

/* ---- Postfix smtp-sink -------------------------------------------------- */

#define SMTP_SINK "/usr/sbin/smtp-sink"

static guint16
free_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  guint16 port;

  if (fd < 0)
    g_error ("socket: %s", g_strerror (errno));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (bind (fd, (struct sockaddr *) &addr, sizeof addr) != 0 ||
      getsockname (fd, (struct sockaddr *) &addr, &len) != 0)
    g_error ("cannot find a free port: %s", g_strerror (errno));
  port = ntohs (addr.sin_port);
  close (fd);
  return port;
}

/* Looks for a listening socket in /proc/net/tcp: probing with connect()
 * would show up in smtp-sink's session counter. */
static gboolean
port_listening (guint16 port)
{
  g_autofree char *text = NULL;
  g_autofree char *needle = g_strdup_printf ("0100007F:%04X 00000000:0000 0A", port);

  if (!g_file_get_contents ("/proc/net/tcp", &text, NULL, NULL))
    return FALSE;
  return strstr (text, needle) != NULL;
}

static MsTestSink *
sink_start (const char * const *args,
            gboolean            capture)
{
  g_autoptr(MsTestSink) self = NULL;
  g_autofree char *out_path = NULL;
  g_autofree char *err_path = NULL;

  if (!g_file_test (SMTP_SINK, G_FILE_TEST_IS_EXECUTABLE))
    return NULL;

  self = g_new0 (MsTestSink, 1);
  self->state_dir = make_state_dir ("smtp-sink");
  out_path = g_build_filename (self->state_dir, "counters", NULL);
  err_path = g_build_filename (self->state_dir, "stderr.log", NULL);
  if (capture)
    {
      g_autoptr(GError) error = NULL;

      /* smtp-sink drops to "nobody", which cannot enter the test's private
       * temp dir: the dumps live in a world-writable dir of their own. */
      self->dump_dir = g_dir_make_tmp ("mailshot-sink-XXXXXX", &error);
      if (self->dump_dir == NULL)
        g_error ("cannot make the smtp-sink dump dir: %s", error->message);
      g_chmod (self->dump_dir, 0777);
    }

  /* A free port can be taken between our probe and smtp-sink's bind: retry. */
  for (int attempt = 0; attempt < 5; attempt++)
    {
      g_autoptr(GSubprocessLauncher) launcher = NULL;
      g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GError) error = NULL;
      gint64 deadline;

      self->port = free_port ();
      g_ptr_array_add (argv, g_strdup (SMTP_SINK));
      if (geteuid () == 0)
        {
          g_ptr_array_add (argv, g_strdup ("-u"));
          g_ptr_array_add (argv, g_strdup ("nobody"));
        }
      g_ptr_array_add (argv, g_strdup ("-c"));
      if (capture)
        {
          g_ptr_array_add (argv, g_strdup ("-d"));
          g_ptr_array_add (argv, g_build_filename (self->dump_dir, "m.", NULL));
        }
      for (gsize i = 0; args != NULL && args[i] != NULL; i++)
        g_ptr_array_add (argv, g_strdup (args[i]));
      g_ptr_array_add (argv, g_strdup_printf ("127.0.0.1:%u", self->port));
      g_ptr_array_add (argv, g_strdup ("1024"));
      g_ptr_array_add (argv, NULL);

      launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
      /* The -c counters go to a file: a pipe nobody reads would fill up and
       * stall smtp-sink after a few thousand messages. */
      g_subprocess_launcher_set_stdout_file_path (launcher, out_path);
      g_subprocess_launcher_set_stderr_file_path (launcher, err_path);
      self->proc = g_subprocess_launcher_spawnv (launcher,
                                                 (const char * const *) argv->pdata,
                                                 &error);
      if (self->proc == NULL)
        g_error ("cannot start smtp-sink: %s", error->message);

      deadline = g_get_monotonic_time () + READY_TIMEOUT_US;
      while (g_get_monotonic_time () < deadline)
        {
          if (port_listening (self->port))
            {
              g_debug ("smtp-sink on 127.0.0.1:%u", self->port);
              return g_steal_pointer (&self);
            }
          if (g_subprocess_get_identifier (self->proc) == NULL)
            break;
          g_usleep (5000);
        }
      g_subprocess_force_exit (self->proc);
      g_subprocess_wait (self->proc, NULL, NULL);
      g_clear_object (&self->proc);
    }

  {
    g_autofree char *err = read_file_or_empty (err_path);
    g_error ("smtp-sink did not start listening: %s", err);
  }
  return NULL;
}

MsTestSink *
ms_test_sink_startv (const char * const *args)
{
  return sink_start (args, FALSE);
}

MsTestSink *
ms_test_sink_start (const char *first_arg,
                    ...)
{
  g_autoptr(GPtrArray) args = NULL;
  va_list ap;

  va_start (ap, first_arg);
  args = collect_args (first_arg, ap);
  va_end (ap);
  return sink_start ((const char * const *) args->pdata, FALSE);
}

MsTestSink *
ms_test_sink_start_capture (const char *first_arg,
                            ...)
{
  g_autoptr(GPtrArray) args = NULL;
  va_list ap;

  va_start (ap, first_arg);
  args = collect_args (first_arg, ap);
  va_end (ap);
  return sink_start ((const char * const *) args->pdata, TRUE);
}

MsTestSink *
ms_test_sink_start_capturev (const char * const *args)
{
  return sink_start (args, TRUE);
}

guint16
ms_test_sink_get_port (MsTestSink *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->port;
}

guint
ms_test_sink_get_count (MsTestSink *self)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  const char *last;
  guint64 n = 0;

  g_return_val_if_fail (self != NULL, 0);

  /* Lines "sess=N quit=N mesg=N" separated by \r; the last one is current. */
  path = g_build_filename (self->state_dir, "counters", NULL);
  text = read_file_or_empty (path);
  last = g_strrstr (text, "mesg=");
  if (last == NULL)
    return 0;
  n = g_ascii_strtoull (last + 5, NULL, 10);
  return (guint) n;
}

guint
ms_test_sink_wait_count (MsTestSink *self,
                         guint       count,
                         guint       timeout_ms)
{
  gint64 deadline;
  guint n;

  g_return_val_if_fail (self != NULL, 0);

  deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  while ((n = ms_test_sink_get_count (self)) < count && g_get_monotonic_time () < deadline)
    g_usleep (5000);
  return n;
}

GPtrArray *
ms_test_sink_get_rcpts (MsTestSink *self)
{
  g_autoptr(GDir) dir = NULL;
  GPtrArray *rcpts;
  const char *name;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (self->dump_dir != NULL, NULL);

  rcpts = g_ptr_array_new_with_free_func (g_free);
  dir = g_dir_open (self->dump_dir, 0, NULL);
  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (self->dump_dir, name, NULL);
      g_autofree char *text = read_file_or_empty (path);
      g_auto(GStrv) lines = g_strsplit (text, "\n", -1);

      /* smtp-sink's own headers come first and end with its Received:. */
      for (guint i = 0; lines[i] != NULL && !g_str_has_prefix (lines[i], "Received:"); i++)
        {
          const char *v;
          gsize len;

          if (!g_str_has_prefix (lines[i], "X-Rcpt-Args: "))
            continue;
          v = lines[i] + strlen ("X-Rcpt-Args: ");
          if (*v == '<')
            v++;
          len = strcspn (v, ">");
          g_ptr_array_add (rcpts, g_strndup (v, len));
        }
    }
  g_ptr_array_sort (rcpts, compare_strings);
  return rcpts;
}

void
ms_test_sink_stop (MsTestSink *self)
{
  if (self == NULL)
    return;

  if (self->proc != NULL)
    {
      g_subprocess_send_signal (self->proc, SIGTERM);
      wait_or_kill (self->proc);
      g_clear_object (&self->proc);
    }
  if (self->state_dir != NULL)
    rm_rf (self->state_dir);
  if (self->dump_dir != NULL)
    rm_rf (self->dump_dir);
  g_free (self->state_dir);
  g_free (self->dump_dir);
  g_free (self);
}

/* ---- the CLI ------------------------------------------------------------ */

int
ms_test_run_cliv (const char         *stdin_text,
                  char              **out,
                  char              **err,
                  const char * const *args)
{
  return ms_test_run_cli_envv (NULL, stdin_text, out, err, args);
}

int
ms_test_run_cli_envv (const char * const *env,
                      const char         *stdin_text,
                      char              **out,
                      char              **err,
                      const char * const *args)
{
  g_autoptr(GSubprocessLauncher) launcher = NULL;
  g_autoptr(GSubprocess) proc = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *stdout_buf = NULL;
  g_autofree char *stderr_buf = NULL;
  const char *cli = g_getenv ("MS_CLI");

  if (cli == NULL || *cli == '\0')
    g_error ("MS_CLI is not set: run the tests through meson (meson test -C BUILDDIR)");

  g_ptr_array_add (argv, (gpointer) cli);
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_PIPE |
                                        G_SUBPROCESS_FLAGS_STDOUT_PIPE |
                                        G_SUBPROCESS_FLAGS_STDERR_PIPE);
  for (gsize i = 0; env != NULL && env[i] != NULL; i++)
    {
      g_auto(GStrv) pair = g_strsplit (env[i], "=", 2);

      g_assert_cmpuint (g_strv_length (pair), ==, 2);
      g_subprocess_launcher_setenv (launcher, pair[0], pair[1], TRUE);
    }
  proc = g_subprocess_launcher_spawnv (launcher, (const char * const *) argv->pdata, &error);
  if (proc == NULL)
    g_error ("cannot run %s: %s", cli, error->message);
  if (!g_subprocess_communicate_utf8 (proc, stdin_text ? stdin_text : "", NULL,
                                      &stdout_buf, &stderr_buf, &error))
    g_error ("cannot talk to %s: %s", cli, error->message);

  if (out != NULL)
    *out = g_steal_pointer (&stdout_buf);
  if (err != NULL)
    *err = g_steal_pointer (&stderr_buf);

  if (g_subprocess_get_if_exited (proc))
    return g_subprocess_get_exit_status (proc);
  return 128 + g_subprocess_get_term_sig (proc);
}

int
ms_test_run_cli (const char  *stdin_text,
                 char       **out,
                 char       **err,
                 const char  *first_arg,
                 ...)
{
  g_autoptr(GPtrArray) args = NULL;
  va_list ap;

  va_start (ap, first_arg);
  args = collect_args (first_arg, ap);
  va_end (ap);
  return ms_test_run_cliv (stdin_text, out, err, (const char * const *) args->pdata);
}

/* A full disk and a read-only file system: a tmpfs in a private mount
 * namespace, root only. ------------------------------------------------ */

/* Whether this process may mount a tmpfs in a private mount namespace
 * (root, and unshare allowed); tried in a child, which changes nothing here. */
static gboolean
can_mount_tmpfs (void)
{
  g_autofree char *dir = ms_test_tmp_path ("mount-probe");
  int status = 0;
  pid_t pid;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  pid = fork ();
  g_assert_cmpint (pid, >=, 0);
  if (pid == 0)
    _exit (unshare (CLONE_NEWNS) == 0 &&
           mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
           mount ("tmpfs", dir, "tmpfs", 0, "size=64k") == 0 ? 0 : 1);
  g_assert_cmpint (waitpid (pid, &status, 0), ==, pid);
  return WIFEXITED (status) && WEXITSTATUS (status) == 0;
}

/**
 * ms_test_mount_private_tmpfs:
 * @dir: a folder, made if missing
 * @kib: the size of the file system
 *
 * In a test subprocess: puts this process in a private mount namespace and
 * mounts a tmpfs of @kib KiB (mode 0700) at @dir. Aborts when it cannot.
 */
void
ms_test_mount_private_tmpfs (const char *dir,
                             guint       kib)
{
  g_autofree char *options = g_strdup_printf ("size=%uk,mode=0700", kib);

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  if (unshare (CLONE_NEWNS) != 0 || mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
    g_error ("unshare: %s", g_strerror (errno));
  if (mount ("tmpfs", dir, "tmpfs", 0, options) != 0)
    g_error ("mount tmpfs: %s", g_strerror (errno));
}

/**
 * ms_test_run_tmpfs_subprocess:
 * @test_path: a test whose "@test_path/subprocess" mounts a tmpfs
 *
 * Runs that subprocess (it may mount, unshare, fill its disk: the test
 * process stays as it was) and asserts that it passed; skips the test where
 * a tmpfs cannot be mounted.
 */
void
ms_test_run_tmpfs_subprocess (const char *test_path)
{
  g_autofree char *sub = g_strconcat (test_path, "/subprocess", NULL);

  if (!can_mount_tmpfs ())
    {
      g_test_skip ("needs root to mount a tmpfs in a private mount namespace (unshare)");
      return;
    }
  g_test_trap_subprocess (sub, 120 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_INHERIT_STDERR);
  g_test_trap_assert_passed ();
}

/* ---- the OAuth2 authorization server (tests/oauth2-server.py) ----------- */

struct _MsTestAuthServer
{
  GSubprocess *proc;
  char        *state_dir;
  char        *ca_path;
  guint16      port;
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CURL, curl_easy_cleanup)

MsTestAuthServer *
ms_test_auth_server_startv (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autofree char *script = NULL;
  const char *srcdir = g_getenv ("MS_TEST_SRCDIR");
  MsTestAuthServer *self = g_new0 (MsTestAuthServer, 1);

  if (srcdir == NULL)
    g_error ("MS_TEST_SRCDIR is not set: run the tests through meson (meson test -C BUILDDIR)");
  script = g_build_filename (srcdir, "oauth2-server.py", NULL);
  g_ptr_array_add (argv, (gpointer) "--exit-on-stdin-eof");
  for (gsize i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  self->proc = ms_test_helper_start (script, "oauth2-server", (const char * const *) argv->pdata,
                                     &self->state_dir, &self->port);
  self->ca_path = g_build_filename (self->state_dir, "ca.pem", NULL);
  return self;
}

MsTestAuthServer *
ms_test_auth_server_start (const char *first_arg,
                           ...)
{
  g_autoptr(GPtrArray) args = NULL;
  va_list ap;

  va_start (ap, first_arg);
  args = collect_args (first_arg, ap);
  va_end (ap);
  return ms_test_auth_server_startv ((const char * const *) args->pdata);
}

void
ms_test_auth_server_stop (MsTestAuthServer *self)
{
  if (self == NULL)
    return;
  ms_test_helper_stop (g_steal_pointer (&self->proc));
  g_free (self->state_dir);
  g_free (self->ca_path);
  g_free (self);
}

const char *
ms_test_auth_server_get_ca (MsTestAuthServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->ca_path;
}

const char *
ms_test_auth_server_get_state_dir (MsTestAuthServer *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->state_dir;
}

char *
ms_test_auth_server_url (MsTestAuthServer *self,
                         const char       *path)
{
  g_return_val_if_fail (self != NULL && path != NULL, NULL);
  return g_strdup_printf ("https://127.0.0.1:%u%s", self->port, path);
}

char *
ms_test_auth_server_path (MsTestAuthServer *self,
                          const char       *name)
{
  g_return_val_if_fail (self != NULL && name != NULL, NULL);
  return g_build_filename (self->state_dir, name, NULL);
}

guint
ms_test_auth_server_log_count (MsTestAuthServer *self,
                               const char       *line)
{
  g_autofree char *path = ms_test_auth_server_path (self, "log");
  g_autofree char *text = read_file_or_empty (path);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i] != NULL; i++)
    if (strcmp (lines[i], line) == 0)
      n++;
  return n;
}

static size_t
collect_body (char   *data,
              size_t  size,
              size_t  nmemb,
              void   *user_data)
{
  GString *body = user_data;

  if (body != NULL)
    g_string_append_len (body, data, size * nmemb);
  return size * nmemb;
}

/* One request with libcurl; -1 when it could not be made. */
static long
curl_request (const char  *url,
              const char  *ca_path,
              gboolean     post,
              char       **location,
              GString     *body)
{
  g_autoptr(CURL) curl = curl_easy_init ();
  char *redirect = NULL;
  long status = 0;

  curl_easy_setopt (curl, CURLOPT_URL, url);
  if (ca_path != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, ca_path);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, body);
  if (post)
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, "");
  if (curl_easy_perform (curl) != CURLE_OK)
    return -1;
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo (curl, CURLINFO_REDIRECT_URL, &redirect);
  if (location != NULL)
    *location = g_strdup (redirect);
  return status;
}

long
ms_test_auth_server_request (MsTestAuthServer *self,
                             const char       *url,
                             gboolean          post,
                             char            **location,
                             GString          *body)
{
  long status;

  g_return_val_if_fail (self != NULL && url != NULL, -1);
  status = curl_request (url, self->ca_path, post, location, body);
  g_assert_cmpint (status, >, 0);
  return status;
}

void
ms_test_auth_server_admin (MsTestAuthServer *self,
                           const char       *what)
{
  g_autofree char *path = g_strconcat ("/admin/", what, NULL);
  g_autofree char *url = ms_test_auth_server_url (self, path);

  g_assert_cmpint (ms_test_auth_server_request (self, url, TRUE, NULL, NULL), ==, 200);
}

long
ms_test_http_get (const char *url,
                  GString    *body)
{
  g_return_val_if_fail (url != NULL, -1);
  return curl_request (url, NULL, FALSE, NULL, body);
}

long
ms_test_auth_server_follow (MsTestAuthServer *self,
                            const char       *uri,
                            GString          *body)
{
  g_autofree char *location = NULL;

  g_return_val_if_fail (self != NULL && uri != NULL, -1);
  /* The sign-in page answers at once with a 302 to the loopback redirect. */
  g_assert_cmpint (ms_test_auth_server_request (self, uri, FALSE, &location, NULL), ==, 302);
  g_assert_nonnull (location);
  g_assert_true (g_str_has_prefix (location, "http://127.0.0.1:"));
  return ms_test_http_get (location, body);
}

void
ms_test_import_first_chunk_and_die (const char *account,
                                    const char *subject,
                                    const char *text,
                                    const char *csv_path)
{
  g_autoptr(MsJournal) importer = ms_journal_open (NULL, NULL);
  g_autoptr(MsJournal) sender = ms_journal_open (NULL, NULL);
  g_autoptr(GPtrArray) claimed = NULL;
  g_autofree MsJournalOutcome *sent = NULL;
  /* Kept: the job holds it until the kill. */
  MsBatchSpec *spec = g_new0 (MsBatchSpec, 1);
  MsImportJob *job;

  spec->account = g_strdup (account);
  spec->from_address = g_strdup ("news@example.org");
  spec->subject = g_strdup (subject);
  spec->text = g_strdup (text);
  g_setenv ("MS_IMPORT_CHUNK", "4", TRUE);
  job = ms_import_start (importer, spec, csv_path, NULL, NULL, NULL, NULL, NULL, NULL);
  g_assert_nonnull (job);
  g_assert_true (ms_journal_set_batch_status (sender, ms_import_job_get_batch (job), MS_BATCH_RUNNING, NULL, NULL));
  claimed = ms_journal_claim (sender, ms_import_job_get_batch (job), 1000, g_get_real_time () / G_USEC_PER_SEC,
                              NULL);
  g_assert_cmpuint (claimed->len, ==, 4);
  sent = g_new0 (MsJournalOutcome, claimed->len);
  for (guint i = 0; i < claimed->len; i++)
    {
      sent[i].row_id = ((MsJournalRow *) g_ptr_array_index (claimed, i))->id;
      sent[i].state = MS_STATE_SENT;
      sent[i].reply_code = 250;
    }
  g_assert_true (ms_journal_record (sender, sent, claimed->len, NULL));
  kill (getpid (), SIGKILL);
  g_assert_not_reached ();
}
