/* test-harness.c: self-test of the SMTP test harness (aiosmtpd server, smtp-sink, CLI runner) with plain libcurl
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <curl/curl.h>
#include <string.h>

#include "ms-test-support.h"

/* Carries a dot-leading line and CRLF endings: the saved copy must match byte for byte. */
static const char message_text[] =
  "From: Sender <sender@example.org>\r\n"
  "To: <rcpt@example.net>\r\n"
  "Subject: harness\r\n"
  "\r\n"
  "Hello.\r\n"
  ".leading dot\r\n"
  "Bye.\r\n";

typedef struct
{
  const char *url;         /* without the EHLO path */
  const char *rcpt;        /* default rcpt@example.net */
  const char *user;
  const char *password;
  const char *mech;        /* AUTH=<mech> */
  const char *cainfo;
  gboolean    require_tls; /* CURLUSESSL_ALL */
  long        response_timeout;
} SendOpts;

typedef struct
{
  const char *data;
  size_t      len;
  size_t      pos;
} Upload;

static size_t
read_cb (char   *buf,
         size_t  size,
         size_t  nitems,
         void   *user_data)
{
  Upload *up = user_data;
  size_t n = MIN (size * nitems, up->len - up->pos);

  memcpy (buf, up->data + up->pos, n);
  up->pos += n;
  return n;
}

/* Sends message_text on @curl (kept for reuse by the caller) and returns the
 * libcurl result; @code gets CURLINFO_RESPONSE_CODE. */
static CURLcode
send_on (CURL           *curl,
         const SendOpts *o,
         long           *code)
{
  g_autofree char *url = g_strdup_printf ("%s/client.test", o->url);
  struct curl_slist *rcpts = NULL;
  Upload up = { message_text, strlen (message_text), 0 };
  CURLcode rc;

  rcpts = curl_slist_append (rcpts, o->rcpt ? o->rcpt : "<rcpt@example.net>");
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt (curl, CURLOPT_MAIL_FROM, "<sender@example.org>");
  curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, rcpts);
  curl_easy_setopt (curl, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt (curl, CURLOPT_READDATA, &up);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, 20L);
  if (o->response_timeout > 0)
    curl_easy_setopt (curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, o->response_timeout);
  if (o->user != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_USERNAME, o->user);
      curl_easy_setopt (curl, CURLOPT_PASSWORD, o->password);
    }
  if (o->mech != NULL)
    {
      g_autofree char *opt = g_strdup_printf ("AUTH=%s", o->mech);
      curl_easy_setopt (curl, CURLOPT_LOGIN_OPTIONS, opt);
    }
  if (o->cainfo != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, o->cainfo);
  if (o->require_tls)
    curl_easy_setopt (curl, CURLOPT_USE_SSL, (long) CURLUSESSL_ALL);

  rc = curl_easy_perform (curl);
  if (code != NULL)
    {
      *code = 0;
      curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, code);
    }
  curl_easy_setopt (curl, CURLOPT_MAIL_RCPT, NULL);
  curl_slist_free_all (rcpts);
  return rc;
}

static CURLcode
send_once (const SendOpts *o,
           long           *code)
{
  CURL *curl = curl_easy_init ();
  CURLcode rc = send_on (curl, o, code);

  curl_easy_cleanup (curl);
  return rc;
}

static void
assert_saved_message (MsTestServer *server,
                      guint         index)
{
  g_autoptr(GPtrArray) messages = ms_test_server_get_messages (server);
  gsize len = 0;
  const char *data;

  g_assert_cmpuint (messages->len, >, index);
  data = g_bytes_get_data (messages->pdata[index], &len);
  g_assert_cmpmem (data, len, message_text, strlen (message_text));
}

static void
test_plain (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_startv (NULL);
  g_autofree char *url = ms_test_server_get_url (server);
  g_autofree char *data_line = g_strdup_printf ("data %zu", strlen (message_text));
  g_autoptr(GPtrArray) envelopes = NULL;
  SendOpts o = { .url = url };
  long code = 0;

  g_assert_cmpuint (ms_test_server_get_port (server), >, 0);
  g_assert_true (g_str_has_prefix (url, "smtp://127.0.0.1:"));
  g_assert_null (ms_test_server_get_cert_path (server));

  g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
  g_assert_cmpint (code, ==, 250);

  g_assert_true (ms_test_server_log_contains (server, "connect"));
  g_assert_true (ms_test_server_log_contains (server, "ehlo client.test"));
  g_assert_true (ms_test_server_log_contains (server, "mail sender@example.org"));
  g_assert_true (ms_test_server_log_contains (server, "rcpt rcpt@example.net"));
  g_assert_true (ms_test_server_log_contains (server, data_line));
  g_assert_true (ms_test_server_wait_log (server, "quit", 5000));
  g_assert_false (ms_test_server_log_contains (server, "tls"));
  g_assert_false (ms_test_server_log_contains (server, "starttls"));
  /* Whole lines only. */
  g_assert_false (ms_test_server_log_contains (server, "ehlo"));

  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);
  assert_saved_message (server, 0);
  envelopes = ms_test_server_get_envelopes (server);
  g_assert_cmpuint (envelopes->len, ==, 1);
  g_assert_cmpstr (envelopes->pdata[0], ==, "1 sender@example.org rcpt@example.net");
}

static gboolean
fingerprint_ok (const char *fp)
{
  return g_regex_match_simple ("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", fp, 0, 0);
}

static void
test_starttls_auth (void)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--tls=starttls", "--auth=PLAIN,LOGIN,CRAM-MD5",
                          "--user=u@example.org", "--password=s3cret",
                          "--auth-require-tls", "--require-auth", NULL);
  g_autofree char *url = ms_test_server_get_url (server);
  const char *mechs[] = { "PLAIN", "LOGIN", "CRAM-MD5" };
  g_autofree char *log = NULL;
  long code = 0;

  g_assert_nonnull (ms_test_server_get_cert_path (server));
  g_assert_true (g_file_test (ms_test_server_get_cert_path (server), G_FILE_TEST_EXISTS));
  g_assert_true (fingerprint_ok (ms_test_server_get_cert_fingerprint (server)));

  for (guint i = 0; i < G_N_ELEMENTS (mechs); i++)
    {
      SendOpts o = { .url = url, .user = "u@example.org", .password = "s3cret",
                     .mech = mechs[i], .cainfo = ms_test_server_get_cert_path (server),
                     .require_tls = TRUE };
      g_autofree char *ok_line = g_strdup_printf ("auth %s u@example.org ok", mechs[i]);

      g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
      g_assert_cmpint (code, ==, 250);
      g_assert_true (ms_test_server_log_contains (server, ok_line));
    }
  g_assert_cmpuint (ms_test_server_log_count (server, "starttls"), ==, 3);
  g_assert_cmpuint (ms_test_server_log_count (server, "tls"), ==, 3);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 3);
  assert_saved_message (server, 2);

  /* A wrong password: 535, and the failure is recorded. */
  {
    SendOpts o = { .url = url, .user = "u@example.org", .password = "wrong",
                   .mech = "PLAIN", .cainfo = ms_test_server_get_cert_path (server),
                   .require_tls = TRUE };

    g_assert_cmpint (send_once (&o, &code), ==, CURLE_LOGIN_DENIED);
    g_assert_cmpint (code, ==, 535);
    g_assert_true (ms_test_server_log_contains (server, "auth PLAIN u@example.org fail"));
  }

  /* The certificate is not trusted without CAINFO. */
  {
    SendOpts o = { .url = url, .user = "u@example.org", .password = "s3cret",
                   .cainfo = "/dev/null", .require_tls = TRUE };
    CURLcode rc = send_once (&o, &code);

    g_assert_true (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CACERT_BADFILE);
  }

  /* In clear text no AUTH is offered (auth-require-tls): libcurl goes on
   * without it and MAIL gets the 530 of --require-auth. */
  {
    SendOpts o = { .url = url, .user = "u@example.org", .password = "s3cret" };

    g_assert_cmpint (send_once (&o, &code), !=, CURLE_OK);
    g_assert_cmpint (code, ==, 530);
    g_assert_true (ms_test_server_log_contains (server, "reply 530 5.7.0 Authentication required"));
  }
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 3);

  /* Never a password in the log. */
  log = ms_test_server_get_log (server);
  g_assert_null (strstr (log, "s3cret"));
}

static void
test_smtps (void)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--tls=smtps", "--auth=PLAIN", "--user=u", "--password=p", NULL);
  g_autofree char *url = ms_test_server_get_url (server);
  SendOpts o = { .url = url, .user = "u", .password = "p",
                 .cainfo = ms_test_server_get_cert_path (server) };
  long code = 0;

  g_assert_true (g_str_has_prefix (url, "smtps://127.0.0.1:"));
  g_assert_true (fingerprint_ok (ms_test_server_get_cert_fingerprint (server)));
  g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
  g_assert_cmpint (code, ==, 250);
  g_assert_true (ms_test_server_log_contains (server, "tls"));
  g_assert_true (ms_test_server_log_contains (server, "auth PLAIN u ok"));
  g_assert_false (ms_test_server_log_contains (server, "starttls"));
  assert_saved_message (server, 0);
}

static void
test_faults (void)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--fault=EOM:421 4.4.2 rate limited:count=2",
                          "--reject-rcpt=^bad@", NULL);
  g_autofree char *url = ms_test_server_get_url (server);
  SendOpts o = { .url = url };
  SendOpts bad = { .url = url, .rcpt = "<bad@example.net>" };
  long code = 0;

  for (int i = 0; i < 2; i++)
    {
      g_assert_cmpint (send_once (&o, &code), !=, CURLE_OK);
      g_assert_cmpint (code, ==, 421);
    }
  g_assert_cmpuint (ms_test_server_log_count (server, "fault EOM 421"), ==, 2);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);

  g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
  g_assert_cmpint (code, ==, 250);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);

  g_assert_cmpint (send_once (&bad, &code), ==, CURLE_SEND_ERROR);
  g_assert_cmpint (code, ==, 550);
  g_assert_true (ms_test_server_log_contains (server,
                 "reply 550 5.1.1 <bad@example.net>: Recipient address rejected: User unknown"));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);
}

static void
test_greeting_cert (void)
{
  long code = 0;

  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--fault=GREETING:554 5.7.1 go away", NULL);
    g_autofree char *url = ms_test_server_get_url (server);
    SendOpts o = { .url = url };

    g_assert_cmpint (send_once (&o, &code), !=, CURLE_OK);
    g_assert_cmpint (code, ==, 554);
    g_assert_true (ms_test_server_log_contains (server, "fault GREETING 554"));
  }

  {
    /* Trusted, but issued for another name. */
    g_autoptr(MsTestServer) server = ms_test_server_start ("--tls=starttls", "--cert-name=other.example", NULL);
    g_autofree char *url = ms_test_server_get_url (server);
    SendOpts o = { .url = url, .cainfo = ms_test_server_get_cert_path (server), .require_tls = TRUE };

    g_assert_cmpint (send_once (&o, &code), ==, CURLE_PEER_FAILED_VERIFICATION);
    /* The client hangs up during or right after the handshake, before any MAIL. */
    g_assert_true (ms_test_server_wait_log (server, "disconnect", 5000));
    g_assert_false (ms_test_server_log_contains (server, "mail sender@example.org"));
    g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
  }
}

static void
test_drop_stall (void)
{
  long code = 0;

  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--drop-after-data=1", NULL);
    g_autofree char *url = ms_test_server_get_url (server);
    SendOpts o = { .url = url };
    CURLcode rc = send_once (&o, &code);

    /* The body went out, the reply never came. */
    g_assert_true (rc == CURLE_RECV_ERROR || rc == CURLE_WEIRD_SERVER_REPLY);
    g_assert_true (ms_test_server_log_contains (server, "drop 1"));
    g_assert_cmpuint (ms_test_server_count_messages (server), ==, 0);
    g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
    g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);
  }

  {
    g_autoptr(MsTestServer) server = ms_test_server_start ("--stall=EOM", NULL);
    g_autofree char *url = ms_test_server_get_url (server);
    SendOpts o = { .url = url, .response_timeout = 1 };
    gint64 start = g_get_monotonic_time ();

    g_assert_cmpint (send_once (&o, &code), ==, CURLE_OPERATION_TIMEDOUT);
    g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
    g_assert_true (ms_test_server_log_contains (server, "stall EOM"));
  }
}

static void
test_max_per_session (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--max-per-session=2", NULL);
  g_autofree char *url = ms_test_server_get_url (server);
  SendOpts o = { .url = url };
  CURL *curl = curl_easy_init ();
  long code = 0;

  /* One handle, one connection: the third message hits the limit. */
  g_assert_cmpint (send_on (curl, &o, &code), ==, CURLE_OK);
  g_assert_cmpint (send_on (curl, &o, &code), ==, CURLE_OK);
  g_assert_cmpint (send_on (curl, &o, &code), !=, CURLE_OK);
  g_assert_cmpint (code, ==, 452);
  curl_easy_cleanup (curl);
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), ==, 1);
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 2);
}

/* ------------------------------------------------------------------------ */
/* A raw client, for what libcurl does not do: several commands in one write. */

typedef struct
{
  GSocketConnection *conn;
  GDataInputStream  *in;
  GOutputStream     *out;
} Raw;

static void
raw_open (Raw          *raw,
          MsTestServer *server)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GError) error = NULL;

  g_socket_client_set_timeout (client, 10);
  raw->conn = g_socket_client_connect_to_host (client, "127.0.0.1", ms_test_server_get_port (server), NULL, &error);
  g_assert_no_error (error);
  raw->in = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (raw->conn)));
  g_data_input_stream_set_newline_type (raw->in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
  raw->out = g_io_stream_get_output_stream (G_IO_STREAM (raw->conn));
}

static void
raw_close (Raw *raw)
{
  g_clear_object (&raw->in);
  if (raw->conn != NULL)
    g_io_stream_close (G_IO_STREAM (raw->conn), NULL, NULL);
  g_clear_object (&raw->conn);
}

/* Everything in one write, as a pipelining client does. */
static void
raw_write (Raw        *raw,
           const char *text)
{
  g_autoptr(GError) error = NULL;

  g_output_stream_write_all (raw->out, text, strlen (text), NULL, NULL, &error);
  g_assert_no_error (error);
}

/* One whole reply, its lines joined with "|". */
static char *
raw_reply (Raw *raw)
{
  g_autoptr(GString) reply = g_string_new (NULL);

  while (TRUE)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *line = g_data_input_stream_read_line (raw->in, NULL, NULL, &error);

      g_assert_no_error (error);
      g_assert_nonnull (line);
      if (reply->len > 0)
        g_string_append_c (reply, '|');
      g_string_append (reply, line);
      g_assert_cmpuint (strlen (line), >=, 3);
      if (line[3] != '-')
        return g_string_free (g_steal_pointer (&reply), FALSE);
    }
}

static void
assert_reply (Raw        *raw,
              const char *prefix)
{
  g_autofree char *reply = raw_reply (raw);

  g_test_message ("reply: %s", reply);
  if (!g_str_has_prefix (reply, prefix))
    g_error ("expected a reply starting with “%s”, got “%s”", prefix, reply);
}

/* From the greeting to the first message accepted, pipelined: the
 * session that --max-per-session tests start with. */
static void
raw_greet_and_send_one (Raw *raw)
{
  assert_reply (raw, "220 ");
  raw_write (raw, "EHLO client.example.org\r\n");
  assert_reply (raw, "250-");
  raw_write (raw, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
  assert_reply (raw, "250 ");
  assert_reply (raw, "250 ");
  assert_reply (raw, "354 ");
  raw_write (raw, "Subject: x\r\n\r\nx\r\n.\r\n");
  assert_reply (raw, "250 ");
}

/* The log lines that are not "connect"/"disconnect" etc., in order, joined with "|". */
static char *
log_events (MsTestServer *server)
{
  g_autofree char *log = ms_test_server_get_log (server);
  g_auto(GStrv) lines = g_strsplit (log, "\n", -1);
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (*lines[i] == '\0' || g_str_equal (lines[i], "connect") || g_str_equal (lines[i], "disconnect"))
        continue;
      if (out->len > 0)
        g_string_append_c (out, '|');
      g_string_append (out, lines[i]);
    }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static gboolean
ehlo_offers_pipelining (MsTestServer *server)
{
  Raw raw = { 0 };
  g_autofree char *reply = NULL;

  raw_open (&raw, server);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "EHLO client.test\r\n");
  reply = raw_reply (&raw);
  raw_close (&raw);
  g_assert_true (g_str_has_prefix (reply, "250-"));
  return strstr (reply, "250-PIPELINING|") != NULL || g_str_has_suffix (reply, "250 PIPELINING");
}

/* --pipelining: offered in EHLO; commands sent in one write are each
 * answered, in order, multi-line replies whole, and each is logged. */
static void
test_pipelining (void)
{
  g_autoptr(MsTestServer) plain = ms_test_server_startv (NULL);
  g_autoptr(MsTestServer) server = ms_test_server_start ("--pipelining", "--reject-rcpt=^bad@",
                                                         "--fault=MAIL:550 5.4.5 Daily user sending quota exceeded.\\n5.4.5 See the help page:after=1:count=1",
                                                         NULL);
  g_autoptr(GPtrArray) messages = NULL;
  g_autofree char *events = NULL;
  Raw raw = { 0 };

  g_assert_false (ehlo_offers_pipelining (plain));
  g_assert_true (ehlo_offers_pipelining (server));

  raw_open (&raw, server);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "EHLO client.test\r\n");
  assert_reply (&raw, "250-");

  /* A refused recipient in the middle of the batch. */
  raw_write (&raw, "MAIL FROM:<a@example.org>\r\nRCPT TO:<bad@example.net>\r\nRCPT TO:<good@example.net>\r\nDATA\r\n");
  assert_reply (&raw, "250 ");
  assert_reply (&raw, "550 5.1.1 <bad@example.net>");
  assert_reply (&raw, "250 ");
  assert_reply (&raw, "354 ");

  /* The end of the message and the next transaction in one write; its
   * MAIL gets a two-line refusal, so RCPT and DATA are refused too. */
  raw_write (&raw, "Subject: x\r\n\r\n..dot\r\n.\r\n"
                   "MAIL FROM:<b@example.org>\r\nRCPT TO:<good@example.net>\r\nDATA\r\n");
  assert_reply (&raw, "250 2.0.0 Ok: queued as 1");
  assert_reply (&raw, "550-5.4.5 Daily user sending quota exceeded.|550 5.4.5 See the help page");
  assert_reply (&raw, "503 ");
  assert_reply (&raw, "503 ");

  raw_write (&raw, "RSET\r\nNOOP\r\nQUIT\r\n");
  assert_reply (&raw, "250 ");
  assert_reply (&raw, "250 ");
  assert_reply (&raw, "221 ");
  raw_close (&raw);

  messages = ms_test_server_get_messages (server);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (messages->pdata[0], NULL), g_bytes_get_size (messages->pdata[0]),
                   "Subject: x\r\n\r\n.dot\r\n", 20);

  g_assert_true (ms_test_server_wait_log (server, "quit", 5000));
  events = log_events (server);
  g_test_message ("log: %s", events);
  /* The first EHLO is ehlo_offers_pipelining()'s. */
  g_assert_cmpstr (events, ==,
                   "ehlo client.test|ehlo client.test|"
                   "mail a@example.org|rcpt bad@example.net|"
                   "reply 550 5.1.1 <bad@example.net>: Recipient address rejected: User unknown|"
                   "rcpt good@example.net|data-command|data 20|"
                   "mail b@example.org|fault MAIL 550|reply 550-5.4.5 Daily user sending quota exceeded.|"
                   "rcpt good@example.net|reply 503 Error: need MAIL command|"
                   "data-command|reply 503 Error: need RCPT command|"
                   "rset|noop|quit");
}

/* --read-rate: the body arrives slowly, whole; --drop-during-data: the
 * connection is cut while the client still writes. */
static void
test_slow_and_cut_body (void)
{
  g_autoptr(MsTestServer) slow = ms_test_server_start ("--pipelining", "--read-rate=200000", NULL);
  g_autoptr(MsTestServer) cut = ms_test_server_start ("--drop-during-data=65536", NULL);
  g_autoptr(GString) body = g_string_new ("Subject: big\r\n\r\n");
  g_autoptr(GPtrArray) messages = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;
  Raw raw = { 0 };

  while (body->len < 400 * 1000)
    g_string_append (body, "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n");

  raw_open (&raw, slow);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "EHLO client.test\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n");
  assert_reply (&raw, "250-");
  assert_reply (&raw, "250 ");
  assert_reply (&raw, "250 ");
  assert_reply (&raw, "354 ");
  start = g_get_monotonic_time ();
  raw_write (&raw, body->str);
  raw_write (&raw, ".\r\n");
  assert_reply (&raw, "250 ");
  g_test_message ("400 kB at 200 kB/s took %.2f s", (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - start, >, G_USEC_PER_SEC);
  raw_close (&raw);
  messages = ms_test_server_get_messages (slow);
  g_assert_cmpuint (messages->len, ==, 1);
  g_assert_cmpmem (g_bytes_get_data (messages->pdata[0], NULL), g_bytes_get_size (messages->pdata[0]),
                   body->str, body->len);

  /* Much more than the socket buffers hold: a write fails. */
  while (body->len < 24 * 1000 * 1000)
    g_string_append_len (body, body->str + 16, 64 * 1000);
  raw_open (&raw, cut);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "EHLO client.test\r\n");
  assert_reply (&raw, "250-");
  raw_write (&raw, "MAIL FROM:<a@example.org>\r\n");
  assert_reply (&raw, "250 ");
  raw_write (&raw, "RCPT TO:<b@example.net>\r\n");
  assert_reply (&raw, "250 ");
  raw_write (&raw, "DATA\r\n");
  assert_reply (&raw, "354 ");
  g_output_stream_write_all (raw.out, body->str, body->len, NULL, NULL, &error);
  g_assert_nonnull (error);
  g_test_message ("write: %s", error->message);
  raw_close (&raw);
  g_assert_true (ms_test_server_wait_log (cut, "disconnect", 5000));
  g_assert_cmpuint (ms_test_server_count_messages (cut), ==, 0);
  {
    g_autofree char *log = ms_test_server_get_log (cut);
    g_assert_nonnull (strstr (log, "\ndrop-body "));
  }
}

#define N_THREADS 4
#define PER_THREAD 5

static gpointer
sender_thread (gpointer data)
{
  const char *url = data;
  CURL *curl = curl_easy_init ();

  for (int i = 0; i < PER_THREAD; i++)
    {
      SendOpts o = { .url = url };
      long code = 0;

      if (send_on (curl, &o, &code) != CURLE_OK || code != 250)
        {
          curl_easy_cleanup (curl);
          return GINT_TO_POINTER (FALSE);
        }
    }
  curl_easy_cleanup (curl);
  return GINT_TO_POINTER (TRUE);
}

static void
test_concurrent (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--no-bodies", NULL);
  g_autofree char *url = ms_test_server_get_url (server);
  g_autoptr(GPtrArray) envelopes = NULL;
  g_autoptr(GPtrArray) messages = NULL;
  GThread *threads[N_THREADS];
  g_autoptr(GHashTable) seen = g_hash_table_new (g_direct_hash, g_direct_equal);

  for (int i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("sender", sender_thread, url);
  for (int i = 0; i < N_THREADS; i++)
    g_assert_true (GPOINTER_TO_INT (g_thread_join (threads[i])));

  g_assert_cmpuint (ms_test_server_count_messages (server), ==, N_THREADS * PER_THREAD);
  envelopes = ms_test_server_get_envelopes (server);
  g_assert_cmpuint (envelopes->len, ==, N_THREADS * PER_THREAD);
  for (guint i = 0; i < envelopes->len; i++)
    {
      guint n = (guint) g_ascii_strtoull (envelopes->pdata[i], NULL, 10);

      g_assert_cmpuint (n, >=, 1);
      g_assert_cmpuint (n, <=, N_THREADS * PER_THREAD);
      g_assert_false (g_hash_table_contains (seen, GUINT_TO_POINTER (n)));
      g_hash_table_add (seen, GUINT_TO_POINTER (n));
    }
  g_assert_cmpuint (ms_test_server_log_count (server, "connect"), ==, N_THREADS);
  messages = ms_test_server_get_messages (server);
  g_assert_cmpuint (messages->len, ==, 0);
}

static void
test_sink (void)
{
  g_autoptr(MsTestSink) sink = ms_test_sink_startv (NULL);
  g_autofree char *url = NULL;
  SendOpts o = { 0 };
  long code = 0;

  if (sink == NULL)
    {
      g_test_skip ("smtp-sink (package postfix) is not installed");
      return;
    }
  g_assert_cmpuint (ms_test_sink_get_count (sink), ==, 0);
  url = g_strdup_printf ("smtp://127.0.0.1:%u", ms_test_sink_get_port (sink));
  o.url = url;
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
  g_assert_cmpuint (ms_test_sink_wait_count (sink, 3, 5000), ==, 3);
}

static void
test_sink_capture (void)
{
  g_autoptr(MsTestSink) sink = ms_test_sink_start_capturev (NULL);
  g_autoptr(GPtrArray) rcpts = NULL;
  g_autofree char *url = NULL;
  const char *to[] = { "<c@example.net>", "<a@example.net>", "<b@example.net>", "<a@example.net>" };
  long code = 0;

  if (sink == NULL)
    {
      g_test_skip ("smtp-sink (package postfix) is not installed");
      return;
    }
  url = g_strdup_printf ("smtp://127.0.0.1:%u", ms_test_sink_get_port (sink));
  for (guint i = 0; i < G_N_ELEMENTS (to); i++)
    {
      SendOpts o = { .url = url, .rcpt = to[i] };

      g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
    }
  g_assert_cmpuint (ms_test_sink_wait_count (sink, 4, 5000), ==, 4);
  rcpts = ms_test_sink_get_rcpts (sink);
  g_assert_cmpuint (rcpts->len, ==, 4);
  g_assert_cmpstr (rcpts->pdata[0], ==, "a@example.net");
  g_assert_cmpstr (rcpts->pdata[1], ==, "a@example.net");
  g_assert_cmpstr (rcpts->pdata[2], ==, "b@example.net");
  g_assert_cmpstr (rcpts->pdata[3], ==, "c@example.net");
}

static void
test_cli (void)
{
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *path = ms_test_tmp_path ("x");
  int status;

  status = ms_test_run_cli (NULL, &out, &err, "no-such-command", NULL);
  g_assert_cmpint (status, ==, 2);
  g_assert_nonnull (strstr (err, "no-such-command"));
  g_assert_true (g_path_is_absolute (path));
}

/* ------------------------------------------------------------------------ */
/* Issue 9: the modes that check a client's manners                        */

/* --strict-helo: Postfix's reject_non_fqdn_helo_hostname, at EHLO or (as
 * its default smtpd_delay_reject does) at RCPT. */
static void
test_strict_helo (void)
{
  g_autoptr(MsTestServer) at_ehlo = ms_test_server_start ("--strict-helo", NULL);
  g_autoptr(MsTestServer) at_rcpt = ms_test_server_start ("--strict-helo=rcpt", NULL);
  Raw raw = { 0 };

  raw_open (&raw, at_ehlo);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "EHLO localhost\r\n");
  assert_reply (&raw, "504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname");
  raw_write (&raw, "HELO mybox\r\n");
  assert_reply (&raw, "504 5.5.2 <mybox>: Helo command rejected: need fully-qualified hostname");
  raw_write (&raw, "EHLO client.example.org\r\n");
  assert_reply (&raw, "250-");
  raw_write (&raw, "EHLO [127.0.0.1]\r\n");
  assert_reply (&raw, "250-");
  raw_write (&raw, "QUIT\r\n");
  assert_reply (&raw, "221 ");
  raw_close (&raw);
  g_assert_true (ms_test_server_log_contains (at_ehlo,
                                              "reply 504 5.5.2 <localhost>: Helo command rejected: need fully-qualified hostname"));

  raw_open (&raw, at_rcpt);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "EHLO localhost\r\n");
  assert_reply (&raw, "250-");
  raw_write (&raw, "MAIL FROM:<a@example.org>\r\n");
  assert_reply (&raw, "250 ");
  raw_write (&raw, "RCPT TO:<b@example.net>\r\n");
  assert_reply (&raw, "504 5.5.2 <localhost>: Helo command rejected");
  raw_write (&raw, "QUIT\r\n");
  assert_reply (&raw, "221 ");
  raw_close (&raw);
}

/* --max-per-session-reply: OpenSMTPD's 452 4.5.3, or Exim's 421 that also
 * closes the connection. */
static void
test_max_per_session_reply (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--max-per-session=1", "--log-sessions",
                                                         "--max-per-session-reply=421 4.7.0 Too many messages in this connection",
                                                         NULL);
  g_autoptr(MsTestServer) opensmtpd = ms_test_server_start ("--max-per-session=1",
                                                            "--max-per-session-reply=452 4.5.3 Too many messages sent",
                                                            NULL);
  Raw raw = { 0 };
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;

  raw_open (&raw, server);
  raw_greet_and_send_one (&raw);
  raw_write (&raw, "MAIL FROM:<a@example.org>\r\n");
  assert_reply (&raw, "421 4.7.0 Too many messages in this connection");
  /* ... and the server hangs up. */
  line = g_data_input_stream_read_line (raw.in, NULL, NULL, &error);
  g_assert_null (line);
  raw_close (&raw);
  g_assert_true (ms_test_server_wait_log (server, "disconnect", 5000));
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 1);

  raw_open (&raw, opensmtpd);
  raw_greet_and_send_one (&raw);
  raw_write (&raw, "MAIL FROM:<a@example.org>\r\n");
  assert_reply (&raw, "452 4.5.3 Too many messages sent");
  raw_write (&raw, "QUIT\r\n");
  assert_reply (&raw, "221 ");
  raw_close (&raw);
}

/* --log-sessions: every TCP connection ("accept", also one that never
 * finishes its TLS handshake), a handshake that fails ("tls-error"), and
 * a session that ends without QUIT ("lost-connection"). */
static void
test_log_sessions (void)
{
  g_autoptr(MsTestServer) plain = ms_test_server_start ("--log-sessions", NULL);
  g_autoptr(MsTestServer) smtps = ms_test_server_start ("--log-sessions", "--tls=smtps", NULL);
  g_autoptr(MsTestServer) quiet = ms_test_server_startv (NULL);
  g_autofree char *url = ms_test_server_get_url (smtps);
  SendOpts o = { .url = url, .cainfo = ms_test_server_get_cert_path (smtps) };
  g_autofree char *log = NULL;
  Raw raw = { 0 };
  long code = 0;

  /* Dropped, then polite. */
  raw_open (&raw, plain);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "EHLO client.example.org\r\n");
  assert_reply (&raw, "250-");
  raw_close (&raw);
  g_assert_true (ms_test_server_wait_log (plain, "disconnect", 5000));
  raw_open (&raw, plain);
  assert_reply (&raw, "220 ");
  raw_write (&raw, "QUIT\r\n");
  assert_reply (&raw, "221 ");
  raw_close (&raw);
  for (guint i = 0; i < 500 && ms_test_server_log_count (plain, "disconnect") < 2; i++)
    g_usleep (10 * 1000);
  log = ms_test_server_get_log (plain);
  g_test_message ("log: %s", log);
  g_assert_cmpstr (log, ==,
                   "accept\nconnect\nehlo client.example.org\nlost-connection\ndisconnect\n"
                   "accept\nconnect\nquit\ndisconnect\n");

  /* A bare TCP connection to the SMTPS port: accepted, a failed handshake,
   * no session. A real one: accepted once, no TLS error. */
  raw_open (&raw, smtps);
  raw_close (&raw);
  g_assert_true (ms_test_server_wait_log (smtps, "tls-error", 5000));
  g_assert_cmpuint (ms_test_server_log_count (smtps, "accept"), ==, 1);
  g_assert_false (ms_test_server_log_contains (smtps, "connect"));
  g_assert_cmpint (send_once (&o, &code), ==, CURLE_OK);
  g_assert_cmpuint (ms_test_server_log_count (smtps, "accept"), ==, 2);
  g_assert_cmpuint (ms_test_server_log_count (smtps, "connect"), ==, 1);
  g_assert_cmpuint (ms_test_server_log_count (smtps, "tls-error"), ==, 1);

  /* Without the option the log stays as it was. */
  raw_open (&raw, quiet);
  assert_reply (&raw, "220 ");
  raw_close (&raw);
  g_assert_true (ms_test_server_wait_log (quiet, "disconnect", 5000));
  g_assert_false (ms_test_server_log_contains (quiet, "accept"));
  g_assert_false (ms_test_server_log_contains (quiet, "lost-connection"));
}

/* ------------------------------------------------------------------------ */
/* Issue 9: CHUNKING and replies out of step                                */

/* Greeting and EHLO; returns the EHLO reply, its lines joined with "|". */
static char *
raw_ehlo (Raw *raw)
{
  assert_reply (raw, "220 ");
  raw_write (raw, "EHLO client.example.org\r\n");
  return raw_reply (raw);
}

static gboolean
reply_offers (const char *ehlo,
              const char *keyword)
{
  g_autofree char *mid = g_strdup_printf ("|250-%s|", keyword);
  g_autofree char *end = g_strdup_printf ("|250 %s", keyword);

  return strstr (ehlo, mid) != NULL || g_str_has_suffix (ehlo, end);
}

/* One whole transaction with BDAT ... LAST, for a pipelined write. */
static char *
bdat_transaction (const char *from,
                  const char *to,
                  const char *body)
{
  return g_strdup_printf ("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nBDAT %zu LAST\r\n%s",
                          from, to, strlen (body), body);
}

/* A window of @n messages in one write, each "Subject: N", with BDAT if
 * @bdat, else with DATA (whose 354 the caller reads). */
static void
raw_write_window (Raw     *raw,
                  guint    n,
                  gboolean bdat)
{
  g_autoptr(GString) out = g_string_new (NULL);

  for (guint i = 1; i <= n; i++)
    {
      g_autofree char *body = g_strdup_printf ("Subject: %u\r\n\r\nbody %u\r\n", i, i);
      g_autofree char *to = g_strdup_printf ("r%u@example.net", i);

      if (bdat)
        {
          g_autofree char *t = bdat_transaction ("a@example.org", to, body);

          g_string_append (out, t);
        }
      else
        g_string_append_printf (out, "MAIL FROM:<a@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n%s.\r\n", to, body);
    }
  raw_write (raw, out->str);
}

/* The replies to one message of raw_write_window(): MAIL, RCPT, (354,)
 * and the end; the end's is returned. */
static char *
raw_window_reply (Raw     *raw,
                  gboolean bdat)
{
  assert_reply (raw, "250 2.1.0");
  assert_reply (raw, "250 2.1.5");
  if (!bdat)
    assert_reply (raw, "354 ");
  return raw_reply (raw);
}

static void
assert_subjects (MsTestServer *server,
                 const char   *want)
{
  g_autoptr(GPtrArray) messages = ms_test_server_get_messages (server);
  g_autoptr(GString) got = g_string_new (NULL);

  for (guint i = 0; i < messages->len; i++)
    {
      gsize len = 0;
      const char *data = g_bytes_get_data (messages->pdata[i], &len);
      g_autofree char *text = g_strndup (data, len);
      g_auto(GStrv) lines = g_strsplit (text, "\r\n", 2);

      if (got->len > 0)
        g_string_append_c (got, ',');
      g_string_append (got, lines[0]);
    }
  g_assert_cmpstr (got->str, ==, want);
}

/* --chunking: CHUNKING offered (beside PIPELINING or alone), BDAT's
 * chunks read by their exact size whatever the writes, the message stored
 * byte for byte (no dot-unstuffing), in step with pipelined commands. */
static void
test_chunking (void)
{
  g_autoptr(MsTestServer) plain = ms_test_server_start ("--pipelining", NULL);
  g_autoptr(MsTestServer) alone = ms_test_server_start ("--chunking", NULL);
  g_autoptr(MsTestServer) server = ms_test_server_start ("--pipelining", "--chunking", "--size=1000", NULL);
  /* Dot-leading lines and a lone dot: data to BDAT, not an end. */
  const char body[] = "Subject: chunked\r\n\r\n.leading dot\r\n.\r\n..two\r\nend\r\n";
  const size_t cut = 25;
  g_autoptr(GPtrArray) messages = NULL;
  g_autofree char *ehlo = NULL;
  g_autofree char *events = NULL;
  g_autofree char *second = NULL;
  g_autofree char *head = NULL;
  g_autofree char *big = NULL;
  Raw raw = { 0 };

  /* Off unless asked for: BDAT is then an unknown command. */
  raw_open (&raw, plain);
  ehlo = raw_ehlo (&raw);
  g_assert_true (reply_offers (ehlo, "PIPELINING"));
  g_assert_false (reply_offers (ehlo, "CHUNKING"));
  raw_write (&raw, "BDAT 0 LAST\r\n");
  assert_reply (&raw, "500 ");
  raw_close (&raw);
  g_clear_pointer (&ehlo, g_free);

  raw_open (&raw, alone);
  ehlo = raw_ehlo (&raw);
  g_assert_true (reply_offers (ehlo, "CHUNKING"));
  g_assert_false (reply_offers (ehlo, "PIPELINING"));
  raw_close (&raw);
  g_clear_pointer (&ehlo, g_free);

  raw_open (&raw, server);
  ehlo = raw_ehlo (&raw);
  g_assert_true (reply_offers (ehlo, "PIPELINING"));
  g_assert_true (reply_offers (ehlo, "CHUNKING"));

  /* A chunk before any MAIL: read whole (it looks like commands), refused. */
  raw_write (&raw, "BDAT 12\r\nNOOP\r\nRSET\r\nNOOP\r\n");
  assert_reply (&raw, "503 5.5.1 Error: need MAIL command");
  assert_reply (&raw, "250 ");

  /* Two chunks, each cut over writes with pauses between: the first in
   * two writes, the second's command with the first bytes, its last
   * bytes with the next transaction. */
  raw_write (&raw, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n");
  {
    g_autofree char *cmd = g_strdup_printf ("BDAT %zu\r\n", cut);
    g_autofree char *piece = g_strndup (body, 10);

    raw_write (&raw, cmd);
    raw_write (&raw, piece);
    g_usleep (100 * 1000);
    piece = (g_free (piece), g_strndup (body + 10, cut - 10));
    raw_write (&raw, piece);
  }
  assert_reply (&raw, "250 2.1.0");
  assert_reply (&raw, "250 2.1.5");
  assert_reply (&raw, "250 2.0.0 Ok: 25 octets received");
  {
    g_autofree char *cmd = g_strdup_printf ("BDAT %zu LAST\r\n", strlen (body) - cut);
    g_autofree char *first = g_strndup (body + cut, 7);
    g_autofree char *rest = g_strconcat (body + cut + 7, "MAIL FROM:<c@example.org>\r\n"
                                         "RCPT TO:<d@example.net>\r\nBDAT 0 LAST\r\n", NULL);
    g_autofree char *with_cmd = g_strconcat (cmd, first, NULL);

    raw_write (&raw, with_cmd);
    g_usleep (100 * 1000);
    raw_write (&raw, rest);
  }
  assert_reply (&raw, "250 2.0.0 Ok: queued as 1");
  /* An empty last chunk ends an empty message. */
  assert_reply (&raw, "250 2.1.0");
  assert_reply (&raw, "250 2.1.5");
  assert_reply (&raw, "250 2.0.0 Ok: queued as 2");

  /* DATA after BDAT in one transaction; a chunk after a refused MAIL
   * (and so RCPT);
   * the size limit, refused at LAST. */
  head = g_strndup (body, 10);
  big = g_strnfill (1200, 'x');
  second = g_strdup_printf ("MAIL FROM:<e@example.org>\r\nRCPT TO:<f@example.net>\r\nBDAT 10\r\n%sDATA\r\nRSET\r\n"
                            "MAIL FROM:<x@example.org> SIZE=5000\r\nRCPT TO:<y@example.net>\r\nBDAT 10 LAST\r\n%s"
                            "MAIL FROM:<g@example.org>\r\nRCPT TO:<h@example.net>\r\nBDAT 600\r\n%.600sBDAT 600 LAST\r\n%.600s"
                            "QUIT\r\n", head, head, big, big);
  raw_write (&raw, second);
  assert_reply (&raw, "250 2.1.0");
  assert_reply (&raw, "250 2.1.5");
  assert_reply (&raw, "250 2.0.0 Ok: 10 octets received");
  assert_reply (&raw, "503 5.5.1 Error: DATA after BDAT");
  assert_reply (&raw, "250 ");
  assert_reply (&raw, "552 ");
  assert_reply (&raw, "503 Error: need MAIL command");
  assert_reply (&raw, "503 5.5.1 Error: need MAIL command");
  assert_reply (&raw, "250 2.1.0");
  assert_reply (&raw, "250 2.1.5");
  assert_reply (&raw, "250 2.0.0 Ok: 600 octets received");
  assert_reply (&raw, "552 ");
  assert_reply (&raw, "221 ");
  raw_close (&raw);

  messages = ms_test_server_get_messages (server);
  g_assert_cmpuint (messages->len, ==, 2);
  g_assert_cmpmem (g_bytes_get_data (messages->pdata[0], NULL), g_bytes_get_size (messages->pdata[0]),
                   body, strlen (body));
  g_assert_cmpuint (g_bytes_get_size (messages->pdata[1]), ==, 0);
  g_assert_true (ms_test_server_wait_log (server, "quit", 5000));
  events = log_events (server);
  g_test_message ("log: %s", events);
  g_assert_cmpstr (events, ==,
                   "ehlo client.example.org|bdat 12|reply 503 5.5.1 Error: need MAIL command|noop|"
                   "mail a@example.org|rcpt b@example.net|bdat 25|bdat 24 last|data 49|"
                   "mail c@example.org|rcpt d@example.net|bdat 0 last|data 0|"
                   "mail e@example.org|rcpt f@example.net|bdat 10|data-command|reply 503 5.5.1 Error: DATA after BDAT|rset|"
                   "mail x@example.org|reply 552 Error: message size exceeds fixed maximum message size|"
                   "rcpt y@example.net|reply 503 Error: need MAIL command|"
                   "bdat 10 last|reply 503 5.5.1 Error: need MAIL command|"
                   "mail g@example.org|rcpt h@example.net|bdat 600|bdat 600 last|"
                   "reply 552 5.3.4 Error: message size exceeds fixed maximum message size|quit");

  /* --fault=BDAT: a chunk refused once read; the transaction ends there, so
   * its LAST chunk, already pipelined, finds no MAIL. */
  {
    g_autoptr(MsTestServer) refusing =
      ms_test_server_start ("--pipelining", "--chunking",
                            "--fault=BDAT:452 4.3.1 Insufficient system storage:session=1", NULL);
    g_autofree char *ehlo2 = NULL;

    raw_open (&raw, refusing);
    ehlo2 = raw_ehlo (&raw);
    raw_write (&raw, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 5\r\nabcdeBDAT 3 LAST\r\nfgh"
                     "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT 5\r\nabcdeBDAT 3 LAST\r\nfgh");
    assert_reply (&raw, "250 2.1.0");
    assert_reply (&raw, "250 2.1.5");
    assert_reply (&raw, "452 4.3.1 Insufficient system storage");
    assert_reply (&raw, "503 5.5.1 Error: need MAIL command");
    assert_reply (&raw, "250 2.1.0");
    assert_reply (&raw, "250 2.1.5");
    assert_reply (&raw, "250 2.0.0 Ok: 5 octets received");
    assert_reply (&raw, "250 2.0.0 Ok: queued as 1");
    raw_close (&raw);
    messages = (g_ptr_array_unref (messages), ms_test_server_get_messages (refusing));
    g_assert_cmpuint (messages->len, ==, 1);
    g_assert_cmpmem (g_bytes_get_data (messages->pdata[0], NULL), g_bytes_get_size (messages->pdata[0]),
                     "abcdefgh", 8);
    g_assert_cmpuint (ms_test_server_log_count (refusing, "fault BDAT 452"), ==, 1);
  }
}

/* --chunking with --read-rate: a big chunk arrives over many small reads
 * (and the client's write blocks meanwhile), and is still taken whole, by
 * its size, with the next transaction right behind it; a chunk is exactly
 * its size, not a byte more. */
static void
test_chunking_slow (void)
{
  g_autoptr(MsTestServer) server = ms_test_server_start ("--pipelining", "--chunking", "--read-rate=400000", NULL);
  g_autoptr(GString) body = g_string_new ("Subject: big\r\n\r\n");
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GPtrArray) messages = NULL;
  g_autofree char *ehlo = NULL;
  gint64 start;
  Raw raw = { 0 };

  while (body->len < 300 * 1000)
    g_string_append (body, ".0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n");
  g_string_append_printf (out, "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\nBDAT %zu LAST\r\n", body->len);
  g_string_append_len (out, body->str, body->len);
  /* Exactly 4 bytes are the chunk: the 5th begins the next command. */
  g_string_append (out, "MAIL FROM:<c@example.org>\r\nRCPT TO:<d@example.net>\r\nBDAT 4 LAST\r\nsmallQUIT\r\nQUIT\r\n");

  raw_open (&raw, server);
  ehlo = raw_ehlo (&raw);
  start = g_get_monotonic_time ();
  raw_write (&raw, out->str);
  assert_reply (&raw, "250 2.1.0");
  assert_reply (&raw, "250 2.1.5");
  assert_reply (&raw, "250 2.0.0 Ok: queued as 1");
  g_test_message ("300 kB at 400 kB/s took %.2f s", (g_get_monotonic_time () - start) / 1e6);
  g_assert_cmpint (g_get_monotonic_time () - start, >, G_USEC_PER_SEC / 2);
  assert_reply (&raw, "250 2.1.0");
  assert_reply (&raw, "250 2.1.5");
  assert_reply (&raw, "250 2.0.0 Ok: queued as 2");
  assert_reply (&raw, "500 Error: command \"LQUIT\" not recognized");
  assert_reply (&raw, "221 ");
  raw_close (&raw);

  messages = ms_test_server_get_messages (server);
  g_assert_cmpuint (messages->len, ==, 2);
  g_assert_cmpmem (g_bytes_get_data (messages->pdata[0], NULL), g_bytes_get_size (messages->pdata[0]),
                   body->str, body->len);
  g_assert_cmpmem (g_bytes_get_data (messages->pdata[1], NULL), g_bytes_get_size (messages->pdata[1]), "smal", 4);
}

/* A window of three messages in one write, twice on one connection
 * (counted per connection) and again on a new one: --fault ...:session=K
 * refuses only the K-th message's end, the others keep their replies. */
static void
check_refuse_window (gboolean bdat)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--pipelining", "--chunking",
                          "--fault=EOM:550 5.7.1 Message refused:session=2", NULL);
  g_autoptr(MsTestServer) limit =
    ms_test_server_start ("--pipelining", "--chunking",
                          "--fault=EOM:452 4.5.3 Too many messages:session=2+", NULL);
  Raw raw = { 0 };

  for (guint conn = 0; conn < 2; conn++)
    {
      g_autofree char *ehlo = NULL;
      g_autofree char *r1 = NULL;
      g_autofree char *r2 = NULL;
      g_autofree char *r3 = NULL;

      raw_open (&raw, server);
      ehlo = raw_ehlo (&raw);
      raw_write_window (&raw, 3, bdat);
      r1 = raw_window_reply (&raw, bdat);
      r2 = raw_window_reply (&raw, bdat);
      r3 = raw_window_reply (&raw, bdat);
      g_assert_true (g_str_has_prefix (r1, "250 2.0.0 Ok: queued as "));
      g_assert_cmpstr (r2, ==, "550 5.7.1 Message refused");
      g_assert_true (g_str_has_prefix (r3, "250 2.0.0 Ok: queued as "));
      /* The 4th of the connection passes. */
      raw_write_window (&raw, 1, bdat);
      g_clear_pointer (&r1, g_free);
      r1 = raw_window_reply (&raw, bdat);
      g_assert_true (g_str_has_prefix (r1, "250 2.0.0 Ok: queued as "));
      raw_write (&raw, "QUIT\r\n");
      assert_reply (&raw, "221 ");
      raw_close (&raw);
    }
  g_assert_cmpuint (ms_test_server_count_messages (server), ==, 6);
  g_assert_cmpuint (ms_test_server_log_count (server, "fault EOM 550"), ==, 2);
  g_assert_cmpuint (ms_test_server_log_count (server, bdat ? "bdat 22 last" : "data-command"), ==, 8);
  assert_subjects (server, "Subject: 1,Subject: 3,Subject: 1,Subject: 1,Subject: 3,Subject: 1");

  /* session=2+: the 2nd and every later one, as a limit found at the end. */
  {
    g_autofree char *ehlo = NULL;
    g_autofree char *r1 = NULL;
    g_autofree char *r2 = NULL;
    g_autofree char *r3 = NULL;

    raw_open (&raw, limit);
    ehlo = raw_ehlo (&raw);
    raw_write_window (&raw, 3, bdat);
    r1 = raw_window_reply (&raw, bdat);
    r2 = raw_window_reply (&raw, bdat);
    r3 = raw_window_reply (&raw, bdat);
    g_assert_cmpstr (r1, ==, "250 2.0.0 Ok: queued as 1");
    g_assert_cmpstr (r2, ==, "452 4.5.3 Too many messages");
    g_assert_cmpstr (r3, ==, "452 4.5.3 Too many messages");
    raw_close (&raw);
    g_assert_cmpuint (ms_test_server_count_messages (limit), ==, 1);
  }
}

static void
test_out_of_step_refuse (void)
{
  check_refuse_window (TRUE);
  check_refuse_window (FALSE);
}

/* --fault=RCPT:...:session=2: the 2nd RCPT of each connection is refused;
 * its transaction's chunk is still read (554, no valid recipients) and its
 * LAST ends it, so the next, pipelined behind, goes through. */
static void
test_out_of_step_rcpt (void)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--pipelining", "--chunking",
                          "--fault=RCPT:550 5.1.1 <r2@example.net>: Recipient address rejected:session=2", NULL);
  g_autofree char *ehlo = NULL;
  Raw raw = { 0 };

  for (guint conn = 0; conn < 2; conn++)
    {
      raw_open (&raw, server);
      g_clear_pointer (&ehlo, g_free);
      ehlo = raw_ehlo (&raw);
      raw_write_window (&raw, 3, TRUE);
      assert_reply (&raw, "250 2.1.0");
      assert_reply (&raw, "250 2.1.5");
      assert_reply (&raw, "250 2.0.0 Ok: queued as ");
      assert_reply (&raw, "250 2.1.0");
      assert_reply (&raw, "550 5.1.1 <r2@example.net>: Recipient address rejected");
      assert_reply (&raw, "554 5.5.1 Error: no valid recipients");
      assert_reply (&raw, "250 2.1.0");
      assert_reply (&raw, "250 2.1.5");
      assert_reply (&raw, "250 2.0.0 Ok: queued as ");
      raw_write (&raw, "QUIT\r\n");
      assert_reply (&raw, "221 ");
      raw_close (&raw);
    }
  assert_subjects (server, "Subject: 1,Subject: 3,Subject: 1,Subject: 3");
  g_assert_cmpuint (ms_test_server_log_count (server, "fault RCPT 550"), ==, 2);
}

/* --fault=EOM:DROP:session=2: the connection is cut right after the 2nd
 * message's end arrives, unanswered; the 1st keeps its reply, the 2nd and
 * 3rd are not stored. Counted per connection: the next one starts anew. */
static void
check_drop_window (gboolean bdat)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--pipelining", "--chunking", "--log-sessions", "--fault=EOM:DROP:session=2", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *line = NULL;
  Raw raw = { 0 };

  for (guint conn = 0; conn < 2; conn++)
    {
      g_autofree char *ehlo = NULL;
      g_autofree char *r1 = NULL;

      raw_open (&raw, server);
      ehlo = raw_ehlo (&raw);
      raw_write_window (&raw, 3, bdat);
      r1 = raw_window_reply (&raw, bdat);
      g_assert_true (g_str_has_prefix (r1, "250 2.0.0 Ok: queued as "));
      /* The 2nd's MAIL and RCPT (and 354) are answered, its end is not. */
      assert_reply (&raw, "250 2.1.0");
      assert_reply (&raw, "250 2.1.5");
      if (!bdat)
        assert_reply (&raw, "354 ");
      line = g_data_input_stream_read_line (raw.in, NULL, NULL, &error);
      g_assert_null (line);
      g_clear_error (&error);
      raw_close (&raw);
    }
  g_assert_true (ms_test_server_wait_log (server, "disconnect", 5000));
  for (guint i = 0; i < 500 && ms_test_server_log_count (server, "disconnect") < 2; i++)
    g_usleep (10 * 1000);
  assert_subjects (server, "Subject: 1,Subject: 1");
  /* Message 2 of the first connection is the server's 2nd body, of the
   * second connection its 4th. */
  g_assert_true (ms_test_server_log_contains (server, "drop 2"));
  g_assert_true (ms_test_server_log_contains (server, "drop 4"));
  /* The server hung up, the client did not just go away. */
  g_assert_false (ms_test_server_log_contains (server, "lost-connection"));
  /* Nothing of the 3rd message was read as a transaction. */
  g_assert_cmpuint (ms_test_server_log_count (server, "mail a@example.org"), ==, 4);
}

static void
test_out_of_step_drop (void)
{
  check_drop_window (TRUE);
  check_drop_window (FALSE);
}

/* --delay=EOM:SECONDS:session=2: the 2nd end is answered late; the 1st
 * before, the 3rd (pipelined behind it) after, each its own. */
static void
test_out_of_step_delay (void)
{
  g_autoptr(MsTestServer) server =
    ms_test_server_start ("--pipelining", "--chunking", "--delay=EOM:1.5:session=2", NULL);
  g_autofree char *ehlo = NULL;
  g_autofree char *r1 = NULL;
  g_autofree char *r2 = NULL;
  g_autofree char *r3 = NULL;
  gint64 start, t1, t2;
  Raw raw = { 0 };

  raw_open (&raw, server);
  ehlo = raw_ehlo (&raw);
  start = g_get_monotonic_time ();
  raw_write_window (&raw, 3, TRUE);
  r1 = raw_window_reply (&raw, TRUE);
  t1 = g_get_monotonic_time () - start;
  r2 = raw_window_reply (&raw, TRUE);
  t2 = g_get_monotonic_time () - start;
  r3 = raw_window_reply (&raw, TRUE);
  g_test_message ("1st end answered after %.2f s, 2nd after %.2f s", t1 / 1e6, t2 / 1e6);
  g_assert_cmpstr (r1, ==, "250 2.0.0 Ok: queued as 1");
  g_assert_cmpstr (r2, ==, "250 2.0.0 Ok: queued as 2");
  g_assert_cmpstr (r3, ==, "250 2.0.0 Ok: queued as 3");
  g_assert_cmpint (t1, <, 3 * G_USEC_PER_SEC / 2);
  g_assert_cmpint (t2, >=, 3 * G_USEC_PER_SEC / 2);
  raw_write (&raw, "QUIT\r\n");
  assert_reply (&raw, "221 ");
  raw_close (&raw);
  assert_subjects (server, "Subject: 1,Subject: 2,Subject: 3");
}

int
main (int   argc,
      char *argv[])
{
  int ret;

  g_test_init (&argc, &argv, NULL);
  curl_global_init (CURL_GLOBAL_DEFAULT);

  g_test_add_func ("/mailshot/harness/plain", test_plain);
  g_test_add_func ("/mailshot/harness/starttls-auth", test_starttls_auth);
  g_test_add_func ("/mailshot/harness/smtps", test_smtps);
  g_test_add_func ("/mailshot/harness/faults", test_faults);
  g_test_add_func ("/mailshot/harness/greeting-cert", test_greeting_cert);
  g_test_add_func ("/mailshot/harness/drop-stall", test_drop_stall);
  g_test_add_func ("/mailshot/harness/max-per-session", test_max_per_session);
  g_test_add_func ("/mailshot/harness/concurrent", test_concurrent);
  g_test_add_func ("/mailshot/harness/pipelining", test_pipelining);
  g_test_add_func ("/mailshot/harness/slow-and-cut-body", test_slow_and_cut_body);
  g_test_add_func ("/mailshot/harness/sink", test_sink);
  g_test_add_func ("/mailshot/harness/sink-capture", test_sink_capture);
  g_test_add_func ("/mailshot/harness/cli", test_cli);
  g_test_add_func ("/mailshot/harness/strict-helo", test_strict_helo);
  g_test_add_func ("/mailshot/harness/max-per-session-reply", test_max_per_session_reply);
  g_test_add_func ("/mailshot/harness/log-sessions", test_log_sessions);
  g_test_add_func ("/mailshot/harness/chunking", test_chunking);
  g_test_add_func ("/mailshot/harness/chunking-slow", test_chunking_slow);
  g_test_add_func ("/mailshot/harness/out-of-step/refuse", test_out_of_step_refuse);
  g_test_add_func ("/mailshot/harness/out-of-step/rcpt", test_out_of_step_rcpt);
  g_test_add_func ("/mailshot/harness/out-of-step/drop", test_out_of_step_drop);
  g_test_add_func ("/mailshot/harness/out-of-step/delay", test_out_of_step_delay);

  ret = g_test_run ();
  curl_global_cleanup ();
  return ret;
}
