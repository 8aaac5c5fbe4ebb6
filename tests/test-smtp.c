/* test-smtp.c: MsSmtp against the real aiosmtpd harness: security, auth, certificates, faults, timeouts
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <curl/curl.h>

#include "mailshot-core.h"
#include "ms-test-support.h"

#define USER "user"
#define PASSWORD "Corr3ct-h0rse!"
#define FROM "sender@example.org"
#define TO "rcpt@example.net"
#define EHLO "client.example.net"
/* libcurl checks its timers about once a second, and ends a timed-out
 * connection with a QUIT that we cut short at its next check. */
#define MARGIN 2.5

typedef enum { MODE_PLAIN, MODE_STARTTLS, MODE_SMTPS } Mode;

/* "none" = the account does not sign in */
typedef enum { METHOD_AUTOMATIC, METHOD_CRAM_MD5, METHOD_PLAIN, METHOD_LOGIN, METHOD_NONE } Method;

static const char * const mode_names[] = { "plain", "starttls", "smtps" };
static const char * const method_names[] = { "automatic", "cram-md5", "plain", "login", "none" };

static GBytes *
test_message (void)
{
  /* A leading dot must survive dot-stuffing; CRLF is sent as is. */
  static const char text[] =
    "From: Sender <" FROM ">\r\n"
    "To: <" TO ">\r\n"
    "Subject: Mailshot unit test\r\n"
    "Message-ID: <test.1@example.org>\r\n"
    "\r\n"
    "Hello,\r\n"
    ".a line that starts with a dot\r\n"
    "..two dots\r\n"
    "Bye.\r\n";

  return g_bytes_new_static (text, sizeof text - 1);
}

static MsTestServer *
start_server (Mode        mode,
              const char *first_extra,
              ...)
{
  g_autoptr(GPtrArray) args = g_ptr_array_new ();
  va_list ap;

  g_ptr_array_add (args, (gpointer) (mode == MODE_PLAIN ? "--tls=none" :
                                     mode == MODE_STARTTLS ? "--tls=starttls" : "--tls=smtps"));
  g_ptr_array_add (args, (gpointer) "--user=" USER);
  g_ptr_array_add (args, (gpointer) "--password=" PASSWORD);
  va_start (ap, first_extra);
  for (const char *arg = first_extra; arg != NULL; arg = va_arg (ap, const char *))
    g_ptr_array_add (args, (gpointer) arg);
  va_end (ap);
  g_ptr_array_add (args, NULL);

  return ms_test_server_startv ((const char * const *) args->pdata);
}

static MsSmtpConfig *
make_config (MsTestServer *srv,
             Mode          mode,
             Method        method)
{
  MsSmtpConfig *config = ms_smtp_config_new ();

  config->server = g_strdup ("127.0.0.1");
  config->port = ms_test_server_get_port (srv);
  config->use_smtps = mode == MODE_SMTPS;
  config->ehlo_host = g_strdup (EHLO);
  config->timeout = 5;
  config->needs_auth = method != METHOD_NONE;
  config->auth_method = method == METHOD_CRAM_MD5 ? MS_AUTH_METHOD_CRAM_MD5 :
                        method == METHOD_PLAIN ? MS_AUTH_METHOD_PLAIN :
                        method == METHOD_LOGIN ? MS_AUTH_METHOD_LOGIN : MS_AUTH_METHOD_AUTOMATIC;
  config->user = g_strdup (USER);
  config->password = g_strdup (PASSWORD);
  config->from_address = g_strdup (FROM);
  if (mode != MODE_PLAIN)
    config->ca_file = g_strdup (ms_test_server_get_cert_path (srv));

  return config;
}

static gboolean
send_one (MsSmtp  *smtp,
          GError **error)
{
  g_autoptr(GBytes) message = test_message ();

  return ms_smtp_send (smtp, FROM, TO, message, NULL, error);
}

static gboolean
log_has_prefix (MsTestServer *srv,
                const char   *prefix)
{
  g_autofree char *log = ms_test_server_get_log (srv);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);

  for (guint i = 0; lines[i] != NULL; i++)
    if (g_str_has_prefix (lines[i], prefix))
      return TRUE;
  return FALSE;
}

/* The password must not be in a transcript, raw or base64, alone or in the
 * PLAIN blob. */
static void
assert_transcript_clean (MsSmtp *smtp)
{
  g_autofree char *text = ms_transcript_to_string (ms_smtp_get_transcript (smtp));
  g_autofree char *pw64 = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));
  static const char blob[] = "\0" USER "\0" PASSWORD;
  g_autofree char *blob64 = g_base64_encode ((const guchar *) blob, sizeof blob - 1);
  static const char blob_authzid[] = USER "\0" USER "\0" PASSWORD;
  g_autofree char *blob2_64 = g_base64_encode ((const guchar *) blob_authzid, sizeof blob_authzid - 1);

  g_assert_null (strstr (text, PASSWORD));
  g_assert_null (strstr (text, pw64));
  g_assert_null (strstr (text, blob64));
  g_assert_null (strstr (text, blob2_64));
  /* Nor the body. */
  g_assert_null (strstr (text, "starts with a dot"));
}

/* Everything logged, to prove the password never reaches a log. */
static GMutex log_lock;
static GString *log_text;

static GLogWriterOutput
capture_writer (GLogLevelFlags   level,
                const GLogField *fields,
                gsize            n_fields,
                gpointer         user_data)
{
  g_mutex_lock (&log_lock);
  for (gsize i = 0; i < n_fields; i++)
    if (g_str_equal (fields[i].key, "MESSAGE") && fields[i].length < 0)
      {
        g_string_append (log_text, fields[i].value);
        g_string_append_c (log_text, '\n');
      }
  g_mutex_unlock (&log_lock);

  return g_log_writer_default (level, fields, n_fields, user_data);
}

static void
assert_log_clean (void)
{
  g_autofree char *pw64 = g_base64_encode ((const guchar *) PASSWORD, strlen (PASSWORD));
  static const char blob[] = "\0" USER "\0" PASSWORD;
  g_autofree char *blob64 = g_base64_encode ((const guchar *) blob, sizeof blob - 1);

  g_mutex_lock (&log_lock);
  g_assert_null (strstr (log_text->str, PASSWORD));
  g_assert_null (strstr (log_text->str, pw64));
  g_assert_null (strstr (log_text->str, blob64));
  g_mutex_unlock (&log_lock);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  Mode   mode;
  Method method;
} MatrixCase;

static void
test_matrix (gconstpointer data)
{
  const MatrixCase *mc = data;
  g_autoptr(MsTestServer) srv = start_server (mc->mode, "--auth=PLAIN,LOGIN,CRAM-MD5", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, mc->mode, mc->method);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GBytes) expected = test_message ();
  g_autofree char *transcript = NULL;
  gboolean ok;

  ok = send_one (smtp, &error);
  transcript = ms_transcript_to_string (ms_smtp_get_transcript (smtp));
  g_test_message ("transcript:\n%s", transcript);
  assert_transcript_clean (smtp);
  assert_log_clean ();
  if (error != NULL)
    g_assert_null (strstr (error->message, PASSWORD));
  g_assert_true (ms_test_server_log_contains (srv, "ehlo " EHLO));

  /* On a clear connection PLAIN and LOGIN would show the password. */
  if (mc->mode == MODE_PLAIN && (mc->method == METHOD_PLAIN || mc->method == METHOD_LOGIN))
    {
      g_assert_error (error, MS_ERROR, MS_ERROR_INSECURE);
      g_assert_nonnull (ms_smtp_get_reply (smtp));
      g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_STARTTLS_REQUIRED);
      g_assert_false (log_has_prefix (srv, "auth "));
      g_assert_false (log_has_prefix (srv, "mail "));
      g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
      return;
    }

  g_assert_no_error (error);
  g_assert_true (ok);
  g_assert_null (ms_smtp_get_reply (smtp));
  g_assert_cmpint (ms_smtp_get_stage (smtp), ==, MS_SMTP_STAGE_DONE);
  g_assert_false (ms_smtp_get_delivery_uncertain (smtp));

  messages = ms_test_server_get_messages (srv);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_true (g_bytes_equal (messages->pdata[0], expected));
  g_assert_true (ms_test_server_log_contains (srv, "mail " FROM));
  g_assert_true (ms_test_server_log_contains (srv, "rcpt " TO));

  /* Encryption: as the mode says, and what the server saw. */
  g_assert_cmpint (ms_smtp_get_tls_active (smtp), ==, mc->mode != MODE_PLAIN);
  g_assert_cmpint (ms_test_server_log_contains (srv, "tls"), ==, mc->mode != MODE_PLAIN);
  g_assert_cmpint (ms_smtp_get_starttls_offered (smtp), ==, mc->mode == MODE_STARTTLS);
  if (mc->mode != MODE_PLAIN)
    g_assert_nonnull (strstr (transcript, MS_TRANSCRIPT_TLS_MARK));
  g_assert_nonnull (strstr (transcript, "bytes of message)"));

  /* Authentication: the chosen mechanism, or CRAM-MD5 on a clear line. */
  if (mc->method == METHOD_NONE)
    {
      g_assert_false (log_has_prefix (srv, "auth "));
      g_assert_null (ms_smtp_get_auth_mechanism (smtp));
    }
  else
    {
      const char *want = mc->method == METHOD_CRAM_MD5 ? "CRAM-MD5" :
                         mc->method == METHOD_PLAIN ? "PLAIN" :
                         mc->method == METHOD_LOGIN ? "LOGIN" : NULL;
      const char *used = ms_smtp_get_auth_mechanism (smtp);
      g_autofree char *line = NULL;

      g_assert_nonnull (used);
      if (mc->mode == MODE_PLAIN)
        g_assert_cmpstr (used, ==, "CRAM-MD5");
      else if (want != NULL)
        g_assert_cmpstr (used, ==, want);
      line = g_strdup_printf ("auth %s " USER " ok", used);
      g_assert_true (ms_test_server_log_contains (srv, line));
      g_assert_cmpuint (ms_test_server_log_count (srv, line), ==, 1);
    }
}

/* ------------------------------------------------------------------------ */

static void
test_ehlo_default (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *log = NULL;
  const char *line;

  g_clear_pointer (&config->ehlo_host, g_free);
  smtp = ms_smtp_new (config);
  g_assert_true (send_one (smtp, &error));
  g_assert_no_error (error);

  /* Without a setting: a fully qualified host name, or "localhost". */
  log = ms_test_server_get_log (srv);
  line = strstr (log, "ehlo ");
  g_assert_nonnull (line);
  line += 5;
  g_assert_true (g_str_has_prefix (line, "localhost\n") || strchr (line, '.') < strchr (line, '\n'));
}

static void
test_wrong_password (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--auth=PLAIN,LOGIN", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_PLAIN);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  const MsReply *reply;

  g_free (config->password);
  config->password = g_strdup ("wrong-password");
  smtp = ms_smtp_new (config);

  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_AUTH);
  reply = ms_smtp_get_reply (smtp);
  g_assert_nonnull (reply);
  g_assert_cmpint (reply->klass, ==, MS_REPLY_CLASS_AUTH_FAILED);
  g_assert_cmpint (reply->code, ==, 535);
  g_assert_nonnull (strstr (reply->text, "credentials invalid"));
  g_assert_nonnull (strstr (error->message, "535"));
  g_assert_cmpint (ms_smtp_get_stage (smtp), ==, MS_SMTP_STAGE_AUTH);
  g_assert_true (ms_test_server_log_contains (srv, "auth PLAIN " USER " fail"));
  assert_log_clean ();
  g_assert_false (log_has_prefix (srv, "mail "));
}

static void
test_mechanism_not_advertised (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--auth=PLAIN", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_CRAM_MD5);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;
  const MsReply *reply;

  g_assert_false (send_one (smtp, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == MS_ERROR);
  reply = ms_smtp_get_reply (smtp);
  g_assert_cmpint (reply->transport, ==, MS_TRANSPORT_MECH_UNSUPPORTED);
  g_assert_nonnull (strstr (reply->text, "PLAIN"));
  g_assert_false (log_has_prefix (srv, "auth "));
  g_assert_false (log_has_prefix (srv, "mail "));
}

/* libcurl alone would send without signing in and call it a success. */
static void
test_no_auth_advertised (gconstpointer data)
{
  Mode mode = GPOINTER_TO_INT (data);
  g_autoptr(MsTestServer) srv = start_server (mode, NULL);   /* no --auth: no AUTH line */
  g_autoptr(MsSmtpConfig) config = make_config (srv, mode, METHOD_AUTOMATIC);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;
  const MsReply *reply;

  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_AUTH);
  reply = ms_smtp_get_reply (smtp);
  g_assert_cmpint (reply->transport, ==, MS_TRANSPORT_NO_AUTH_ADVERTISED);
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
  g_assert_false (log_has_prefix (srv, "data "));
  assert_transcript_clean (smtp);
}

static void
test_plaintext_allowed (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--auth=PLAIN,LOGIN", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_PLAIN);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;

  config->allow_plaintext_password = TRUE;
  smtp = ms_smtp_new (config);
  g_assert_true (send_one (smtp, &error));
  g_assert_no_error (error);
  g_assert_true (ms_test_server_log_contains (srv, "auth PLAIN " USER " ok"));
  g_assert_false (ms_test_server_log_contains (srv, "tls"));
  g_assert_false (ms_smtp_get_tls_active (smtp));
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 1);
  /* The transcript still hides what went in clear. */
  assert_transcript_clean (smtp);
  assert_log_clean ();
}

/* Automatic with no CRAM-MD5 on a clear server: refused, not PLAIN. */
static void
test_plaintext_refused_automatic (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--auth=PLAIN,LOGIN", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_AUTOMATIC);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;

  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INSECURE);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_STARTTLS_REQUIRED);
  g_assert_false (log_has_prefix (srv, "auth "));
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
}

static void
test_starttls_downgrade (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--auth=PLAIN,LOGIN,CRAM-MD5", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_CRAM_MD5);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;

  /* Even CRAM-MD5, or no auth at all, would be allowed in clear: the point
   * is that this server offered STARTTLS before. */
  config->starttls_seen = TRUE;
  config->allow_plaintext_password = TRUE;
  smtp = ms_smtp_new (config);
  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INSECURE);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_STARTTLS_MISSING);
  g_assert_false (log_has_prefix (srv, "auth "));
  g_assert_false (log_has_prefix (srv, "mail "));
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
}

/* ------------------------------------------------------------------------ */

static void
test_certificate_untrusted (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  const char *fingerprint = ms_test_server_get_cert_fingerprint (srv);

  g_clear_pointer (&config->ca_file, g_free);
  smtp = ms_smtp_new (config);
  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_TLS);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->klass, ==, MS_REPLY_CLASS_TLS);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_TLS_CERTIFICATE);
  /* What the server presented, so that the user can compare and trust it. */
  g_assert_cmpstr (ms_smtp_get_peer_fingerprint (smtp), ==, fingerprint);
  g_assert_nonnull (strstr (error->message, fingerprint));
  g_assert_false (ms_smtp_get_tls_active (smtp));
  g_assert_false (log_has_prefix (srv, "mail "));
}

static char *
strip_colons_lower (const char *fingerprint)
{
  GString *out = g_string_new (NULL);

  for (const char *p = fingerprint; *p != '\0'; p++)
    if (*p != ':')
      g_string_append_c (out, g_ascii_tolower (*p));
  return g_string_free (out, FALSE);
}

static void
test_certificate_pinned (gconstpointer data)
{
  const char *variant = data;
  gboolean other_name = g_str_equal (variant, "other-name");
  g_autoptr(MsTestServer) srv = other_name
    ? start_server (MODE_SMTPS, "--cert-name=mail.example.com", NULL)
    : start_server (MODE_STARTTLS, NULL);
  Mode mode = other_name ? MODE_SMTPS : MODE_STARTTLS;
  g_autoptr(MsSmtpConfig) config = make_config (srv, mode, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  const char *fingerprint = ms_test_server_get_cert_fingerprint (srv);

  g_clear_pointer (&config->ca_file, g_free);
  if (g_str_equal (variant, "no-colons"))
    config->trusted_certificate = strip_colons_lower (fingerprint);
  else
    config->trusted_certificate = g_strdup (fingerprint);

  smtp = ms_smtp_new (config);
  g_assert_true (send_one (smtp, &error));
  g_assert_no_error (error);
  g_assert_true (ms_smtp_get_tls_active (smtp));
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 1);
}

/* A pin trusts that one certificate, not another one, and does not switch
 * off the host name check of certificates that are not pinned. */
static void
test_certificate_pin_mismatch (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_SMTPS, "--cert-name=mail.example.com", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_SMTPS, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;

  /* The CA file makes the chain valid; only the name is wrong. */
  config->trusted_certificate = g_strdup ("00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:"
                                          "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
  smtp = ms_smtp_new (config);
  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_TLS);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_TLS_CERTIFICATE);
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
  g_clear_error (&error);
  g_clear_object (&smtp);

  /* Without a pin, the same name mismatch fails too. */
  g_clear_pointer (&config->trusted_certificate, g_free);
  smtp = ms_smtp_new (config);
  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_TLS);
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
}

/* ------------------------------------------------------------------------ */

static void
assert_quick_failure (MsTestServer       *srv,
                      Mode                mode,
                      MsTransportFailure  want,
                      double              max_seconds)
{
  g_autoptr(MsSmtpConfig) config = make_config (srv, mode, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;
  double elapsed;

  config->timeout = 2;
  smtp = ms_smtp_new (config);
  timer = g_timer_new ();
  g_assert_false (send_one (smtp, &error));
  elapsed = g_timer_elapsed (timer, NULL);
  g_test_message ("failed after %.2f s: %s", elapsed, error->message);
  g_assert_nonnull (error);
  g_assert_true (error->domain == MS_ERROR);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, want);
  g_assert_cmpfloat (elapsed, <, max_seconds);
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
}

static void
test_stalled_greeting (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--stall=GREETING", NULL);

  assert_quick_failure (srv, MODE_PLAIN, MS_TRANSPORT_NO_GREETING, 2 + MARGIN);
}

static void
test_stalled_mail (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--stall=MAIL", NULL);

  assert_quick_failure (srv, MODE_STARTTLS, MS_TRANSPORT_RESPONSE_TIMEOUT, 2 + MARGIN);
}

/* A stall after the final ".": bounded by the response timeout (120 s in
 * libcurl otherwise), and the message may have been delivered. */
static void
test_stalled_end_of_message (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--stall=EOM", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;

  config->timeout = 2;
  smtp = ms_smtp_new (config);
  timer = g_timer_new ();
  g_assert_false (send_one (smtp, &error));
  g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 2 + MARGIN);
  g_assert_error (error, MS_ERROR, MS_ERROR_TIMEOUT);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_RESPONSE_TIMEOUT);
  g_assert_true (ms_smtp_get_delivery_uncertain (smtp));
}

static guint16
closed_port (void)
{
  struct sockaddr_in addr = { 0 };
  socklen_t len = sizeof addr;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &addr, &len), ==, 0);
  close (fd);   /* nobody listens there now */
  return ntohs (addr.sin_port);
}

static void
test_closed_port (void)
{
  g_autoptr(MsSmtpConfig) config = ms_smtp_config_new ();
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;

  config->server = g_strdup ("127.0.0.1");
  config->port = closed_port ();
  config->timeout = 2;
  config->from_address = g_strdup (FROM);
  smtp = ms_smtp_new (config);
  timer = g_timer_new ();
  g_assert_false (send_one (smtp, &error));
  g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 2 + MARGIN);
  g_assert_error (error, MS_ERROR, MS_ERROR_CONNECT);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_REFUSED);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->klass, ==, MS_REPLY_CLASS_CANNOT_CONNECT);
}

/* Plain SMTP to an implicit-TLS port: the server waits for a TLS hello,
 * we wait for a greeting. */
static void
test_wrong_port_plain_to_smtps (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_SMTPS, NULL);

  assert_quick_failure (srv, MODE_PLAIN, MS_TRANSPORT_NO_GREETING, 2 + MARGIN);
}

static void
test_wrong_port_smtps_to_plain (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, NULL);

  assert_quick_failure (srv, MODE_SMTPS, MS_TRANSPORT_TLS_HANDSHAKE, 2 + MARGIN);
}

/* ------------------------------------------------------------------------ */

static void
test_recipient_rejected (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--reject-rcpt=rcpt@", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;
  const MsReply *reply;

  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_RECIPIENT);
  reply = ms_smtp_get_reply (smtp);
  g_assert_cmpint (reply->klass, ==, MS_REPLY_CLASS_RECIPIENT_REJECTED);
  g_assert_cmpint (reply->code, ==, 550);
  g_assert_cmpstr (reply->enhanced, ==, "5.1.1");
  g_assert_cmpint (ms_smtp_get_stage (smtp), ==, MS_SMTP_STAGE_RCPT);
  g_assert_false (ms_smtp_get_delivery_uncertain (smtp));
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
}

static void
test_end_of_message_temporary (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--fault=EOM:451 4.3.0 Temporary local problem, try again", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;
  const MsReply *reply;

  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_TEMPORARY);
  reply = ms_smtp_get_reply (smtp);
  g_assert_cmpint (reply->klass, ==, MS_REPLY_CLASS_TEMPORARY);
  g_assert_cmpint (reply->code, ==, 451);
  g_assert_nonnull (strstr (reply->text, "Temporary local problem"));
  /* The server answered: it did not take the message. */
  g_assert_false (ms_smtp_get_delivery_uncertain (smtp));
  g_assert_cmpint (ms_smtp_get_stage (smtp), ==, MS_SMTP_STAGE_DATA);
}

static void
test_rate_limited (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--auth=PLAIN",
                                              "--fault=EOM:421 4.4.2 Message submission rate for this client has exceeded the configured limit",
                                              NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_AUTOMATIC);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;

  g_assert_false (send_one (smtp, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_RATE_LIMITED);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->code, ==, 421);
  g_assert_false (ms_smtp_get_delivery_uncertain (smtp));
}

/* The first 4xx/5xx is the one that counts, with all its lines. */
static void
test_multiline_reply (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN,
                                              "--fault=MAIL:550 5.7.1 Relaying denied\\nfor this sender",
                                              NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;
  const MsReply *reply;

  g_assert_false (send_one (smtp, &error));
  reply = ms_smtp_get_reply (smtp);
  g_test_message ("reply: %d %s", reply->code, reply->text);
  g_assert_cmpint (reply->code, ==, 550);
  g_assert_nonnull (strstr (reply->text, "Relaying denied"));
  g_assert_nonnull (strstr (reply->text, "for this sender"));
  g_assert_cmpint (ms_smtp_get_stage (smtp), ==, MS_SMTP_STAGE_MAIL);
  g_assert_nonnull (strstr (error->message, "Relaying denied"));
}

static void
test_drop_after_data (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--drop-after-data", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;

  g_assert_false (send_one (smtp, &error));
  g_assert_nonnull (error);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->klass, ==, MS_REPLY_CLASS_CONNECTION_LOST);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->transport, ==, MS_TRANSPORT_CONNECTION_LOST);
  g_assert_true (ms_smtp_get_delivery_uncertain (smtp));
}

/* A body without a line to dot-stuff: libcurl, knowing the size, never
 * asks for the empty read at its end. The drop after "." must still leave
 * the delivery uncertain (a blast must not resend it silently). */
static void
test_drop_after_data_no_dots (void)
{
  static const char text[] =
    "From: <" FROM ">\r\nTo: <" TO ">\r\nSubject: plain\r\n\r\nNothing to stuff here.\r\n";
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--drop-after-data", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GBytes) message = g_bytes_new_static (text, sizeof text - 1);
  g_autoptr(GError) error = NULL;
  g_autofree char *transcript = NULL;

  ms_smtp_set_record_transcript (smtp, TRUE);
  g_assert_false (ms_smtp_send (smtp, FROM, TO, message, NULL, &error));
  g_assert_nonnull (error);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->klass, ==, MS_REPLY_CLASS_CONNECTION_LOST);
  g_assert_true (ms_smtp_get_delivery_uncertain (smtp));
  transcript = ms_transcript_to_string (ms_smtp_get_transcript (smtp));
  g_assert_nonnull (strstr (transcript, "bytes of message)"));
}

/* One connection, one EHLO, one AUTH for several messages; a connection
 * the server closed is reopened. */
static void
test_connection_reuse (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--auth=PLAIN,LOGIN", "--max-per-session=2", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_LOGIN);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;

  ms_smtp_set_record_transcript (smtp, FALSE);
  g_assert_true (send_one (smtp, &error));
  g_assert_no_error (error);
  g_assert_true (send_one (smtp, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ms_test_server_log_count (srv, "connect"), ==, 1);
  g_assert_cmpuint (ms_test_server_log_count (srv, "ehlo " EHLO), ==, 2);   /* before and after STARTTLS */
  g_assert_cmpuint (ms_test_server_log_count (srv, "auth LOGIN " USER " ok"), ==, 1);
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 2);
  /* Bulk mode keeps no transcript. */
  g_assert_cmpuint (ms_transcript_get_n_lines (ms_smtp_get_transcript (smtp)), ==, 0);

  /* The third message is refused by the server's per-session limit. */
  g_assert_false (send_one (smtp, &error));
  g_assert_nonnull (error);
  g_assert_cmpint (ms_smtp_get_reply (smtp)->code, ==, 452);
  g_clear_error (&error);

  /* libcurl drops a connection after a failure; the next message opens a
   * new one, with STARTTLS and AUTH again (the gate must see that). */
  g_assert_true (send_one (smtp, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ms_test_server_log_count (srv, "connect"), ==, 2);
  g_assert_cmpuint (ms_test_server_log_count (srv, "auth LOGIN " USER " ok"), ==, 2);
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 3);
}

/* The STARTTLS fallback decision is taken once per session. */
static void
test_fallback_once (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--auth=CRAM-MD5", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_AUTOMATIC);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (send_one (smtp, &error));
      g_assert_no_error (error);
    }
  /* One probing connection refused for want of STARTTLS, then one for all. */
  g_assert_cmpuint (ms_test_server_log_count (srv, "connect"), ==, 2);
  g_assert_cmpuint (ms_test_server_log_count (srv, "auth CRAM-MD5 " USER " ok"), ==, 1);
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 3);
  g_assert_false (ms_smtp_get_starttls_offered (smtp));
}

typedef struct {
  GCancellable *cancellable;
  guint         delay_ms;
} CancelLater;

static gpointer
cancel_later (gpointer data)
{
  CancelLater *cl = data;

  g_usleep (cl->delay_ms * 1000);
  g_cancellable_cancel (cl->cancellable);
  return NULL;
}

static void
test_cancel (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--stall=DATA", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_NONE);
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GBytes) message = test_message ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;
  CancelLater cl = { cancellable, 300 };
  GThread *thread;

  config->timeout = 30;
  smtp = ms_smtp_new (config);
  timer = g_timer_new ();
  thread = g_thread_new ("cancel", cancel_later, &cl);
  g_assert_false (ms_smtp_send (smtp, FROM, TO, message, cancellable, &error));
  g_thread_join (thread);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpfloat (g_timer_elapsed (timer, NULL), <, 2.5);
  g_assert_null (ms_smtp_get_reply (smtp));
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 0);
}

static void
on_stage (MsSmtp      *smtp,
          MsSmtpStage  stage,
          gpointer     user_data)
{
  GArray *stages = user_data;

  g_array_append_val (stages, stage);
}

static void
test_stages (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_STARTTLS, "--auth=PLAIN", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_STARTTLS, METHOD_PLAIN);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GArray) stages = g_array_new (FALSE, FALSE, sizeof (MsSmtpStage));
  g_autoptr(GError) error = NULL;
  const char * const *caps;
  static const MsSmtpStage want[] = {
    MS_SMTP_STAGE_RESOLVE, MS_SMTP_STAGE_CONNECT, MS_SMTP_STAGE_GREETING, MS_SMTP_STAGE_EHLO,
    MS_SMTP_STAGE_TLS, MS_SMTP_STAGE_EHLO, MS_SMTP_STAGE_AUTH, MS_SMTP_STAGE_MAIL,
    MS_SMTP_STAGE_RCPT, MS_SMTP_STAGE_DATA, MS_SMTP_STAGE_DONE,
  };

  ms_smtp_set_stage_func (smtp, on_stage, stages);
  g_assert_true (send_one (smtp, &error));
  g_assert_no_error (error);
  ms_smtp_set_stage_func (smtp, NULL, NULL);

  for (guint i = 0; i < stages->len; i++)
    g_test_message ("stage %u: %d", i, g_array_index (stages, MsSmtpStage, i));
  g_assert_cmpuint (stages->len, ==, G_N_ELEMENTS (want));
  for (guint i = 0; i < G_N_ELEMENTS (want); i++)
    g_assert_cmpint (g_array_index (stages, MsSmtpStage, i), ==, want[i]);

  /* The capabilities are those after STARTTLS. */
  caps = ms_smtp_get_capabilities (smtp);
  g_assert_nonnull (caps);
  g_assert_false (g_strv_contains (caps, "STARTTLS"));
  g_assert_true (g_strv_contains (caps, "AUTH PLAIN"));
  g_assert_true (ms_smtp_get_starttls_offered (smtp));
  g_assert_cmpstr (ms_smtp_get_auth_mechanism (smtp), ==, "PLAIN");
}

/* An IPv6 literal goes into the URL in brackets: the failure is the
 * connection's, not a malformed URL's. */
static void
test_ipv6_literal (void)
{
  g_autoptr(MsSmtpConfig) config = ms_smtp_config_new ();
  g_autoptr(MsSmtp) smtp = NULL;
  g_autoptr(GError) error = NULL;
  MsTransportFailure failure;

  config->server = g_strdup ("::1");
  config->port = closed_port ();
  config->timeout = 2;
  smtp = ms_smtp_new (config);
  g_assert_false (send_one (smtp, &error));
  failure = ms_smtp_get_reply (smtp)->transport;
  g_assert_true (failure == MS_TRANSPORT_REFUSED || failure == MS_TRANSPORT_CONNECT_TIMEOUT);
}

/* Drives the session through a curl multi handle, as ms-blast does,
 * including the one-time STARTTLS decision. */
static gboolean
multi_send (CURLM   *multi,
            MsSmtp  *smtp,
            GBytes  *message,
            GError **error)
{
  for (guint attempt = 0; attempt < 2; attempt++)
    {
      CURL *easy = ms_smtp_prepare (smtp, FROM, TO, message, NULL);
      CURLcode result = CURLE_OK;
      int running = 1;
      gpointer priv = NULL;
      g_autoptr(GError) local_error = NULL;

      g_assert_nonnull (easy);
      curl_easy_getinfo (easy, CURLINFO_PRIVATE, &priv);
      g_assert_true (priv == smtp);
      g_assert_cmpint (curl_multi_add_handle (multi, easy), ==, CURLM_OK);
      while (running > 0)
        {
          g_assert_cmpint (curl_multi_perform (multi, &running), ==, CURLM_OK);
          if (running > 0)
            curl_multi_poll (multi, NULL, 0, 1000, NULL);
        }
      for (int left = 0;;)
        {
          CURLMsg *msg = curl_multi_info_read (multi, &left);

          if (msg == NULL)
            break;
          if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
            result = msg->data.result;
        }
      curl_multi_remove_handle (multi, easy);

      if (ms_smtp_complete (smtp, result, &local_error))
        return TRUE;
      if (!ms_smtp_get_retry_now (smtp))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_assert_cmpuint (attempt, ==, 0);
    }
  g_assert_not_reached ();
}

static void
test_multi (void)
{
  g_autoptr(MsTestServer) srv = start_server (MODE_PLAIN, "--auth=PLAIN,CRAM-MD5", "--reject-rcpt=^nobody@", NULL);
  g_autoptr(MsSmtpConfig) config = make_config (srv, MODE_PLAIN, METHOD_AUTOMATIC);
  g_autoptr(MsSmtp) smtp = ms_smtp_new (config);
  g_autoptr(GBytes) message = test_message ();
  g_autoptr(GError) error = NULL;
  CURLM *multi = curl_multi_init ();

  ms_smtp_set_record_transcript (smtp, FALSE);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_true (multi_send (multi, smtp, message, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (ms_test_server_count_messages (srv), ==, 3);
  g_assert_cmpuint (ms_test_server_log_count (srv, "auth CRAM-MD5 " USER " ok"), ==, 1);
  g_assert_cmpuint (ms_test_server_log_count (srv, "connect"), ==, 2);

  /* A failure through the multi is classified the same way, with the
   * server's first error reply even in bulk mode. */
  {
    CURL *easy = ms_smtp_prepare (smtp, FROM, "nobody@example.net", message, NULL);
    int running = 1;
    CURLcode result = CURLE_OK;
    CURLMsg *msg;
    int left;

    curl_multi_add_handle (multi, easy);
    while (running > 0)
      {
        curl_multi_perform (multi, &running);
        if (running > 0)
          curl_multi_poll (multi, NULL, 0, 1000, NULL);
      }
    while ((msg = curl_multi_info_read (multi, &left)) != NULL)
      if (msg->msg == CURLMSG_DONE)
        result = msg->data.result;
    curl_multi_remove_handle (multi, easy);
    g_assert_false (ms_smtp_complete (smtp, result, &error));
    g_assert_error (error, MS_ERROR, MS_ERROR_RECIPIENT);
    g_assert_cmpint (ms_smtp_get_reply (smtp)->code, ==, 550);
    g_assert_false (ms_smtp_get_retry_now (smtp));
  }

  g_clear_object (&smtp);
  curl_multi_cleanup (multi);
}

static void
test_config_copy (void)
{
  g_autoptr(MsSmtpConfig) config = ms_smtp_config_new ();
  g_autoptr(MsSmtpConfig) copy = NULL;

  g_assert_cmpint (config->port, ==, 587);
  g_assert_cmpint (config->timeout, ==, 30);
  config->server = g_strdup ("smtp.example.org");
  config->password = g_strdup (PASSWORD);
  config->trusted_certificate = g_strdup ("ab:cd");
  copy = ms_smtp_config_copy (config);
  g_assert_true (copy->server != config->server);
  g_assert_cmpstr (copy->server, ==, "smtp.example.org");
  g_assert_cmpstr (copy->password, ==, PASSWORD);
  g_assert_cmpstr (copy->trusted_certificate, ==, "ab:cd");
  g_assert_null (copy->ehlo_host);
}

int
main (int argc, char **argv)
{
  static MatrixCase cases[3 * 5];

  log_text = g_string_new (NULL);
  g_log_set_writer_func (capture_writer, NULL, NULL);
  g_test_init (&argc, &argv, NULL);
  ms_core_init ();

  for (guint m = 0; m < 3; m++)
    for (guint a = 0; a < 5; a++)
      {
        MatrixCase *mc = &cases[m * 5 + a];
        g_autofree char *path = NULL;

        mc->mode = m;
        mc->method = a;
        path = g_strdup_printf ("/mailshot/smtp/matrix/%s/%s", mode_names[m], method_names[a]);
        g_test_add_data_func (path, mc, test_matrix);
      }

  g_test_add_func ("/mailshot/smtp/config-copy", test_config_copy);
  g_test_add_func ("/mailshot/smtp/ehlo-default", test_ehlo_default);
  g_test_add_func ("/mailshot/smtp/stages", test_stages);
  g_test_add_func ("/mailshot/smtp/wrong-password", test_wrong_password);
  g_test_add_func ("/mailshot/smtp/mechanism-not-advertised", test_mechanism_not_advertised);
  g_test_add_data_func ("/mailshot/smtp/no-auth-advertised/starttls", GINT_TO_POINTER (MODE_STARTTLS), test_no_auth_advertised);
  g_test_add_data_func ("/mailshot/smtp/no-auth-advertised/smtps", GINT_TO_POINTER (MODE_SMTPS), test_no_auth_advertised);
  g_test_add_data_func ("/mailshot/smtp/no-auth-advertised/plain", GINT_TO_POINTER (MODE_PLAIN), test_no_auth_advertised);
  g_test_add_func ("/mailshot/smtp/plaintext-allowed", test_plaintext_allowed);
  g_test_add_func ("/mailshot/smtp/plaintext-refused-automatic", test_plaintext_refused_automatic);
  g_test_add_func ("/mailshot/smtp/starttls-downgrade", test_starttls_downgrade);
  g_test_add_func ("/mailshot/smtp/fallback-once", test_fallback_once);
  g_test_add_func ("/mailshot/smtp/certificate/untrusted", test_certificate_untrusted);
  g_test_add_data_func ("/mailshot/smtp/certificate/pinned", "colons", test_certificate_pinned);
  g_test_add_data_func ("/mailshot/smtp/certificate/pinned-no-colons", "no-colons", test_certificate_pinned);
  g_test_add_data_func ("/mailshot/smtp/certificate/pinned-other-name", "other-name", test_certificate_pinned);
  g_test_add_func ("/mailshot/smtp/certificate/pin-mismatch", test_certificate_pin_mismatch);
  g_test_add_func ("/mailshot/smtp/timeout/stalled-greeting", test_stalled_greeting);
  g_test_add_func ("/mailshot/smtp/timeout/stalled-mail", test_stalled_mail);
  g_test_add_func ("/mailshot/smtp/timeout/stalled-end-of-message", test_stalled_end_of_message);
  g_test_add_func ("/mailshot/smtp/closed-port", test_closed_port);
  g_test_add_func ("/mailshot/smtp/wrong-port/plain-to-smtps", test_wrong_port_plain_to_smtps);
  g_test_add_func ("/mailshot/smtp/wrong-port/smtps-to-plain", test_wrong_port_smtps_to_plain);
  g_test_add_func ("/mailshot/smtp/recipient-rejected", test_recipient_rejected);
  g_test_add_func ("/mailshot/smtp/end-of-message-temporary", test_end_of_message_temporary);
  g_test_add_func ("/mailshot/smtp/rate-limited", test_rate_limited);
  g_test_add_func ("/mailshot/smtp/multiline-reply", test_multiline_reply);
  g_test_add_func ("/mailshot/smtp/drop-after-data", test_drop_after_data);
  g_test_add_func ("/mailshot/smtp/drop-after-data-no-dots", test_drop_after_data_no_dots);
  g_test_add_func ("/mailshot/smtp/connection-reuse", test_connection_reuse);
  g_test_add_func ("/mailshot/smtp/cancel", test_cancel);
  g_test_add_func ("/mailshot/smtp/ipv6-literal", test_ipv6_literal);
  g_test_add_func ("/mailshot/smtp/multi", test_multi);

  return g_test_run ();
}
