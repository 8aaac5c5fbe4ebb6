/* test-transcript.c: the SMTP transcript labels lines and never keeps a secret
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "ms-transcript.h"

#define PASSWORD "s3cr3t-Pa55w0rd"
#define USER "user@example.org"

static void
add_str (MsTranscript          *t,
         MsTranscriptDirection  direction,
         const char            *str,
         const char            *secret)
{
  ms_transcript_add (t, direction, str, strlen (str), secret);
}

static char *
b64 (const void *data, gsize len)
{
  return g_base64_encode (data, len);
}

/* The password must not appear raw, nor as the base64 of itself, nor of the
 * PLAIN blob, nor inside any longer base64 text. */
static void
assert_no_secret (const char *text,
                  const char *user,
                  const char *password)
{
  g_autofree char *pw64 = b64 (password, strlen (password));
  g_autoptr(GByteArray) blob = g_byte_array_new ();
  g_autofree char *blob64 = NULL;

  g_byte_array_append (blob, (const guint8 *) "\0", 1);
  g_byte_array_append (blob, (const guint8 *) user, strlen (user));
  g_byte_array_append (blob, (const guint8 *) "\0", 1);
  g_byte_array_append (blob, (const guint8 *) password, strlen (password));
  blob64 = b64 (blob->data, blob->len);

  g_assert_null (strstr (text, password));
  g_assert_null (strstr (text, pw64));
  g_assert_null (strstr (text, blob64));
}

static void
test_labels (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();
  g_autofree char *str = NULL;

  add_str (t, MS_TRANSCRIPT_SERVER, "220 mx.example.org ESMTP\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_CLIENT, "EHLO client.example.net\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_SERVER, "250-mx.example.org\r\n250-STARTTLS\r\n250 SIZE 1000\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_CLIENT, "STARTTLS\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_SERVER, "220 go ahead\r\n", NULL);
  ms_transcript_mark_tls (t);
  ms_transcript_add_info (t, "Connected to %s port %d", "127.0.0.1", 25);

  g_assert_cmpuint (ms_transcript_get_n_lines (t), ==, 9);
  g_assert_cmpint (ms_transcript_get_direction (t, 0), ==, MS_TRANSCRIPT_SERVER);
  g_assert_cmpint (ms_transcript_get_direction (t, 1), ==, MS_TRANSCRIPT_CLIENT);
  g_assert_cmpstr (ms_transcript_get_line (t, 1), ==, "EHLO client.example.net");
  g_assert_cmpstr (ms_transcript_get_line (t, 3), ==, "250-STARTTLS");
  g_assert_cmpint (ms_transcript_get_direction (t, 7), ==, MS_TRANSCRIPT_INFO);

  str = ms_transcript_to_string (t);
  g_assert_cmpstr (str, ==,
                   "S: 220 mx.example.org ESMTP\n"
                   "C: EHLO client.example.net\n"
                   "S: 250-mx.example.org\n"
                   "S: 250-STARTTLS\n"
                   "S: 250 SIZE 1000\n"
                   "C: STARTTLS\n"
                   "S: 220 go ahead\n"
                   "* " MS_TRANSCRIPT_TLS_MARK "\n"
                   "* Connected to 127.0.0.1 port 25\n");

  ms_transcript_clear (t);
  g_assert_cmpuint (ms_transcript_get_n_lines (t), ==, 0);
  g_clear_pointer (&str, g_free);
  str = ms_transcript_to_string (t);
  g_assert_cmpstr (str, ==, "");
}

static void
test_partial_lines (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();

  add_str (t, MS_TRANSCRIPT_SERVER, "250-first", NULL);
  add_str (t, MS_TRANSCRIPT_SERVER, " half\r\n250 sec", NULL);
  add_str (t, MS_TRANSCRIPT_SERVER, "ond\n", NULL);
  /* A bare LF also ends a line; a pending line is complete on read. */
  add_str (t, MS_TRANSCRIPT_CLIENT, "QUIT", NULL);

  g_assert_cmpuint (ms_transcript_get_n_lines (t), ==, 3);
  g_assert_cmpstr (ms_transcript_get_line (t, 0), ==, "250-first half");
  g_assert_cmpstr (ms_transcript_get_line (t, 1), ==, "250 second");
  g_assert_cmpstr (ms_transcript_get_line (t, 2), ==, "QUIT");
}

static void
test_auth_plain (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();
  g_autoptr(GByteArray) blob = g_byte_array_new ();
  g_autofree char *blob64 = NULL;
  g_autofree char *line = NULL;
  g_autofree char *str = NULL;

  g_byte_array_append (blob, (const guint8 *) "\0" USER "\0" PASSWORD, strlen (USER) + strlen (PASSWORD) + 2);
  blob64 = b64 (blob->data, blob->len);
  line = g_strdup_printf ("AUTH PLAIN %s\r\n", blob64);

  add_str (t, MS_TRANSCRIPT_CLIENT, line, NULL);   /* no secret given: the AUTH rule alone */
  add_str (t, MS_TRANSCRIPT_SERVER, "235 2.7.0 Authentication successful\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_CLIENT, "MAIL FROM:<" USER ">\r\n", NULL);

  g_assert_cmpstr (ms_transcript_get_line (t, 0), ==, "AUTH PLAIN " MS_TRANSCRIPT_BLANK);
  g_assert_cmpstr (ms_transcript_get_line (t, 1), ==, "235 2.7.0 Authentication successful");
  /* The exchange is closed: later client lines are kept. */
  g_assert_cmpstr (ms_transcript_get_line (t, 2), ==, "MAIL FROM:<" USER ">");

  str = ms_transcript_to_string (t);
  assert_no_secret (str, USER, PASSWORD);
}

static void
test_auth_plain_continuation (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();
  g_autofree char *blob64 = b64 ("\0" USER "\0" PASSWORD, strlen (USER) + strlen (PASSWORD) + 2);
  g_autofree char *line = g_strdup_printf ("%s\r\n", blob64);

  add_str (t, MS_TRANSCRIPT_CLIENT, "AUTH PLAIN\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_SERVER, "334 \r\n", NULL);
  add_str (t, MS_TRANSCRIPT_CLIENT, line, NULL);
  add_str (t, MS_TRANSCRIPT_SERVER, "535 5.7.8 Authentication credentials invalid\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_CLIENT, "QUIT\r\n", NULL);

  g_assert_cmpstr (ms_transcript_get_line (t, 0), ==, "AUTH PLAIN");
  g_assert_cmpstr (ms_transcript_get_line (t, 1), ==, "334 ");
  g_assert_cmpstr (ms_transcript_get_line (t, 2), ==, MS_TRANSCRIPT_BLANK);
  g_assert_cmpstr (ms_transcript_get_line (t, 3), ==, "535 5.7.8 Authentication credentials invalid");
  /* A 5xx ends the exchange as a 235 does. */
  g_assert_cmpstr (ms_transcript_get_line (t, 4), ==, "QUIT");
}

static void
test_auth_login (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();
  g_autofree char *user64 = b64 (USER, strlen (USER));
  g_autofree char *pw64 = b64 (PASSWORD, strlen (PASSWORD));
  g_autofree char *first = g_strdup_printf ("AUTH LOGIN %s\r\n", user64);
  g_autofree char *second = g_strdup_printf ("%s\r\n", pw64);
  g_autofree char *str = NULL;

  add_str (t, MS_TRANSCRIPT_CLIENT, first, PASSWORD);
  add_str (t, MS_TRANSCRIPT_SERVER, "334 UGFzc3dvcmQ6\r\n", PASSWORD);
  add_str (t, MS_TRANSCRIPT_CLIENT, second, PASSWORD);
  add_str (t, MS_TRANSCRIPT_SERVER, "235 ok\r\n", PASSWORD);

  g_assert_cmpstr (ms_transcript_get_line (t, 0), ==, "AUTH LOGIN " MS_TRANSCRIPT_BLANK);
  /* The server's challenge is not secret. */
  g_assert_cmpstr (ms_transcript_get_line (t, 1), ==, "334 UGFzc3dvcmQ6");
  g_assert_cmpstr (ms_transcript_get_line (t, 2), ==, MS_TRANSCRIPT_BLANK);
  g_assert_cmpstr (ms_transcript_get_line (t, 3), ==, "235 ok");

  str = ms_transcript_to_string (t);
  assert_no_secret (str, USER, PASSWORD);
}

static void
test_auth_cram_md5 (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();

  add_str (t, MS_TRANSCRIPT_CLIENT, "AUTH CRAM-MD5\r\n", PASSWORD);
  add_str (t, MS_TRANSCRIPT_SERVER, "334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n", PASSWORD);
  add_str (t, MS_TRANSCRIPT_CLIENT, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n", PASSWORD);
  add_str (t, MS_TRANSCRIPT_SERVER, "235 Authentication successful\r\n", PASSWORD);
  add_str (t, MS_TRANSCRIPT_CLIENT, "MAIL FROM:<a@example.org>\r\n", PASSWORD);

  g_assert_cmpstr (ms_transcript_get_line (t, 0), ==, "AUTH CRAM-MD5");
  g_assert_cmpstr (ms_transcript_get_line (t, 2), ==, MS_TRANSCRIPT_BLANK);
  g_assert_cmpstr (ms_transcript_get_line (t, 4), ==, "MAIL FROM:<a@example.org>");
}

/* The secret is blanked wherever it occurs, even outside an AUTH exchange:
 * raw, as base64 of itself, inside any base64 word. */
static void
test_secret_anywhere (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();
  g_autofree char *pw64 = b64 (PASSWORD, strlen (PASSWORD));
  g_autofree char *server_line = g_strdup_printf ("535 5.7.8 bad password %s\r\n", PASSWORD);
  g_autofree char *pw64_line = g_strdup_printf ("XTEST %s\r\n", pw64);
  g_autofree char *str = NULL;
  const char *prefixes[] = { "", "x", "xy", "xyz", "\0user\0", "longer prefix: " };

  add_str (t, MS_TRANSCRIPT_SERVER, server_line, PASSWORD);
  add_str (t, MS_TRANSCRIPT_CLIENT, pw64_line, PASSWORD);
  ms_transcript_add_info (t, "password is %s", PASSWORD);
  g_assert_cmpstr (ms_transcript_get_line (t, 0), ==, "535 5.7.8 bad password " MS_TRANSCRIPT_BLANK);
  g_assert_cmpstr (ms_transcript_get_line (t, 1), ==, "XTEST " MS_TRANSCRIPT_BLANK);
  g_assert_cmpstr (ms_transcript_get_line (t, 2), ==, "password is " MS_TRANSCRIPT_BLANK);

  /* Embedded at every alignment in a longer base64 text, glued to other
   * text so that the word does not decode cleanly on its own. */
  for (guint p = 0; p < G_N_ELEMENTS (prefixes); p++)
    {
      gsize plen = p == 4 ? 6 : strlen (prefixes[p]);
      g_autoptr(GByteArray) buf = g_byte_array_new ();
      g_autofree char *enc = NULL;
      g_autofree char *line = NULL;

      g_byte_array_append (buf, (const guint8 *) prefixes[p], plen);
      g_byte_array_append (buf, (const guint8 *) PASSWORD, strlen (PASSWORD));
      g_byte_array_append (buf, (const guint8 *) " and more after it", 18);
      enc = b64 (buf->data, buf->len);
      /* The second copy is shifted by one character, so it no longer
       * decodes to the password: only the alignment rule catches it. */
      line = g_strdup_printf ("NOOP %s Q%s\r\n", enc, enc);
      add_str (t, MS_TRANSCRIPT_CLIENT, line, PASSWORD);
    }

  str = ms_transcript_to_string (t);
  g_assert_null (strstr (str, PASSWORD));
  g_assert_null (strstr (str, pw64));
  for (guint p = 0; p < G_N_ELEMENTS (prefixes); p++)
    {
      gsize plen = p == 4 ? 6 : strlen (prefixes[p]);
      g_autoptr(GByteArray) buf = g_byte_array_new ();
      g_autofree char *enc = NULL;
      g_autofree char *middle = NULL;

      g_byte_array_append (buf, (const guint8 *) prefixes[p], plen);
      g_byte_array_append (buf, (const guint8 *) PASSWORD, strlen (PASSWORD));
      g_byte_array_append (buf, (const guint8 *) " and more after it", 18);
      enc = b64 (buf->data, buf->len);
      g_assert_null (strstr (str, enc));
      /* Not even the part of the encoding that the password alone decides. */
      middle = g_strndup (enc + ((plen + 2) / 3) * 4, 8);
      g_assert_null (strstr (str, middle));
    }
  assert_no_secret (str, USER, PASSWORD);
}

/* Ordinary lines survive a secret that does not occur in them. */
static void
test_no_false_blanking (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();

  add_str (t, MS_TRANSCRIPT_SERVER, "250-AUTH PLAIN LOGIN CRAM-MD5\r\n250 SIZE 35882577\r\n", PASSWORD);
  add_str (t, MS_TRANSCRIPT_CLIENT, "RCPT TO:<bob@example.org>\r\n", PASSWORD);
  g_assert_cmpstr (ms_transcript_get_line (t, 0), ==, "250-AUTH PLAIN LOGIN CRAM-MD5");
  g_assert_cmpstr (ms_transcript_get_line (t, 1), ==, "250 SIZE 35882577");
  g_assert_cmpstr (ms_transcript_get_line (t, 2), ==, "RCPT TO:<bob@example.org>");
}

/* A secret split across two writes is still blanked. */
static void
test_secret_split (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();
  g_autofree char *str = NULL;

  add_str (t, MS_TRANSCRIPT_CLIENT, "XPASS s3cr3t", PASSWORD);
  add_str (t, MS_TRANSCRIPT_CLIENT, "-Pa55w0rd\r\nXPASS s3cr3t-Pa", PASSWORD);
  /* The last half line is completed by a read. */
  str = ms_transcript_to_string (t);
  g_assert_cmpstr (str, ==, "C: XPASS " MS_TRANSCRIPT_BLANK "\nC: XPASS s3cr3t-Pa\n");
  g_clear_pointer (&str, g_free);

  ms_transcript_clear (t);
  add_str (t, MS_TRANSCRIPT_CLIENT, "XPASS s3cr3t", PASSWORD);
  add_str (t, MS_TRANSCRIPT_CLIENT, "-Pa55w0rd", PASSWORD);
  str = ms_transcript_to_string (t);
  g_assert_cmpstr (str, ==, "C: XPASS " MS_TRANSCRIPT_BLANK "\n");
}

static void
test_message_size (void)
{
  g_autoptr(MsTranscript) t = ms_transcript_new ();
  g_autofree char *str = NULL;

  add_str (t, MS_TRANSCRIPT_CLIENT, "DATA\r\n", NULL);
  add_str (t, MS_TRANSCRIPT_SERVER, "354 go ahead\r\n", NULL);
  ms_transcript_add_message_size (t, 2048);
  add_str (t, MS_TRANSCRIPT_SERVER, "250 OK queued\r\n", NULL);

  str = ms_transcript_to_string (t);
  g_assert_cmpstr (str, ==,
                   "C: DATA\nS: 354 go ahead\nC: (2048 bytes of message)\nS: 250 OK queued\n");
}

static void
test_finalize (void)
{
  MsTranscript *t = ms_transcript_new ();

  add_str (t, MS_TRANSCRIPT_CLIENT, "AUTH PLAIN", PASSWORD);
  g_assert_finalize_object (t);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailshot/transcript/labels", test_labels);
  g_test_add_func ("/mailshot/transcript/partial-lines", test_partial_lines);
  g_test_add_func ("/mailshot/transcript/auth-plain", test_auth_plain);
  g_test_add_func ("/mailshot/transcript/auth-plain-continuation", test_auth_plain_continuation);
  g_test_add_func ("/mailshot/transcript/auth-login", test_auth_login);
  g_test_add_func ("/mailshot/transcript/auth-cram-md5", test_auth_cram_md5);
  g_test_add_func ("/mailshot/transcript/secret-anywhere", test_secret_anywhere);
  g_test_add_func ("/mailshot/transcript/no-false-blanking", test_no_false_blanking);
  g_test_add_func ("/mailshot/transcript/secret-split", test_secret_split);
  g_test_add_func ("/mailshot/transcript/message-size", test_message_size);
  g_test_add_func ("/mailshot/transcript/finalize", test_finalize);

  return g_test_run ();
}
