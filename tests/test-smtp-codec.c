/* test-smtp-codec.c: the SMTP transaction codec driven with byte strings, cut at every point
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "ms-error.h"
#include "ms-smtp-codec.h"

static const char *caps_plain[] = { "SIZE 10240000", NULL };
static const char *caps_pipe[] = { "PIPELINING", "SIZE 10240000", "8BITMIME", NULL };
static const char *caps_chunk[] = { "PIPELINING", "CHUNKING", "SIZE 10240000", NULL };
static const char *caps_utf8[] = { "PIPELINING", "SMTPUTF8", NULL };

#define MSG "Subject: hi\r\n\r\nHello\r\n"

/* Takes everything the codec wants sent (reporting the ends it holds into
 * @ends when given) and says it went out. */
static char *
take_output (MsSmtpCodec *codec,
             GString     *ends)
{
  const guint8 *data;
  gsize len;
  guint64 id;
  char *copy;

  data = ms_smtp_codec_get_output (codec, &len);
  while (ms_smtp_codec_next_end (codec, len, &id))
    if (ends != NULL)
      g_string_append_printf (ends, "%" G_GUINT64_FORMAT ";", id);
  copy = data != NULL ? g_strndup ((const char *) data, len) : g_strdup ("");
  ms_smtp_codec_output_written (codec, len);
  return copy;
}

static void
feed (MsSmtpCodec *codec,
      const char  *text)
{
  ms_smtp_codec_feed (codec, (const guint8 *) text, strlen (text));
}

static void
submit (MsSmtpCodec *codec,
        guint64      id,
        const char  *to,
        const char  *message)
{
  g_autoptr(GBytes) bytes = g_bytes_new (message, strlen (message));
  g_autoptr(GError) error = NULL;

  g_assert_true (ms_smtp_codec_submit (codec, id, "me@example.org", to, bytes, &error));
  g_assert_no_error (error);
}

/* The outcomes, one per line: "id accepted|code@stage end_code [uncertain] [transport]". */
static char *
outcomes (MsSmtpCodec *codec)
{
  GString *s = g_string_new (NULL);
  MsSmtpOutcome *o;

  while ((o = ms_smtp_codec_pop_outcome (codec)) != NULL)
    {
      g_string_append_printf (s, "%" G_GUINT64_FORMAT " ", o->id);
      if (o->accepted)
        g_string_append (s, "ok");
      else if (o->code != 0)
        g_string_append_printf (s, "%d@%d", o->code, o->failed_at);
      else
        g_string_append_printf (s, "none@%d", o->stage);
      g_string_append_printf (s, " %d", o->end_code);
      if (o->uncertain)
        g_string_append (s, " uncertain");
      if (o->transport != MS_TRANSPORT_NONE)
        g_string_append_printf (s, " t%d", o->transport);
      g_string_append_c (s, '\n');
      ms_smtp_outcome_free (o);
    }
  return g_string_free (s, FALSE);
}

/* A whole exchange: the codec's output after each server chunk. */
typedef struct {
  const char *const *caps;
  guint              window;
  guint              n_messages;
  const char        *messages[4];   /* NULL: MSG to rcpt<i>@example.net */
  const char        *to[4];
  const char        *first_out;     /* what goes out after submitting all */
  const char        *replies[10];    /* server chunks; each is followed by ... */
  const char        *outputs[10];    /* ... what goes out after it */
  const char        *outcome;       /* once every reply is fed */
} Script;

static char *
run_script (const Script *script,
            gsize         cut,          /* every reply chunk is fed in pieces of this size; 0 = whole */
            gboolean      check)
{
  g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new ((const char * const *) script->caps);
  g_autofree char *out = NULL;

  ms_smtp_codec_set_window (codec, script->window);
  for (guint i = 0; i < script->n_messages; i++)
    {
      g_autofree char *to = g_strdup_printf ("rcpt%u@example.net", i + 1);

      submit (codec, i + 1, script->to[i] != NULL ? script->to[i] : to,
              script->messages[i] != NULL ? script->messages[i] : MSG);
    }
  out = take_output (codec, NULL);
  if (check)
    g_assert_cmpstr (out, ==, script->first_out);
  for (guint r = 0; script->replies[r] != NULL; r++)
    {
      const char *reply = script->replies[r];
      gsize len = strlen (reply);
      g_autofree char *next = NULL;

      if (cut == 0)
        feed (codec, reply);
      else
        for (gsize at = 0; at < len; at += cut)
          ms_smtp_codec_feed (codec, (const guint8 *) reply + at, MIN (cut, len - at));
      next = take_output (codec, NULL);
      if (check)
        g_assert_cmpstr (next, ==, script->outputs[r] != NULL ? script->outputs[r] : "");
    }
  return outcomes (codec);
}

/* The same outcome whatever pieces the replies arrive in. */
static void
check_script (const Script *script)
{
  g_autofree char *whole = run_script (script, 0, TRUE);

  g_assert_cmpstr (whole, ==, script->outcome);
  for (gsize cut = 1; cut < 40; cut++)
    {
      g_autofree char *cut_up = run_script (script, cut, TRUE);

      g_assert_cmpstr (cut_up, ==, script->outcome);
    }
}

static void
test_one_command_at_a_time (void)
{
  /* No PIPELINING: every command waits for the previous reply. */
  const Script script = {
    (const char *const *) caps_plain, 8, 2, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\n",
    { "250 2.1.0 Ok\r\n", "250 2.1.5 Ok\r\n", "354 End data with <CR><LF>.<CR><LF>\r\n",
      "250 2.0.0 Ok: queued as 1\r\n", "250 Ok\r\n", "250 Ok\r\n", "354 go\r\n", "250 queued as 2\r\n" },
    { "RCPT TO:<rcpt1@example.net>\r\n", "DATA\r\n", MSG ".\r\n",
      "MAIL FROM:<me@example.org> SIZE=22\r\n", "RCPT TO:<rcpt2@example.net>\r\n", "DATA\r\n", MSG ".\r\n", "" },
    "1 ok 250\n2 ok 250\n",
  };

  check_script (&script);
}

static void
test_pipelining_across_messages (void)
{
  /* One round trip per message: the end of one and the next one's
   * commands in one write, one reply group back. */
  const Script script = {
    (const char *const *) caps_pipe, 2, 3, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nDATA\r\n",
    { "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 End data\r\n",
      "250 2.0.0 queued as 1\r\n250 Ok\r\n250 Ok\r\n354 go\r\n",
      "250 2.0.0 queued as 2\r\n250 Ok\r\n250 Ok\r\n354 go\r\n",
      "250 2.0.0 queued as 3\r\n" },
    { MSG ".\r\nMAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt2@example.net>\r\nDATA\r\n",
      MSG ".\r\nMAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt3@example.net>\r\nDATA\r\n",
      MSG ".\r\n", "" },
    "1 ok 250\n2 ok 250\n3 ok 250\n",
  };

  check_script (&script);
}

static void
test_refusal_mid_window_data (void)
{
  /* The second message's recipient is refused: its DATA gets a 503, the
   * transaction is reset, the third goes on. */
  const Script script = {
    (const char *const *) caps_pipe, 2, 3, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nDATA\r\n",
    { "250 Ok\r\n250 Ok\r\n354 go\r\n",
      "250 queued as 1\r\n250 Ok\r\n550 5.1.1 <rcpt2@example.net>: no such user\r\n503 5.5.1 No valid recipients\r\n",
      "250 2.0.0 Ok\r\n250 Ok\r\n250 Ok\r\n354 go\r\n",
      "250 queued as 3\r\n" },
    { MSG ".\r\nMAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt2@example.net>\r\nDATA\r\n",
      "RSET\r\nMAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt3@example.net>\r\nDATA\r\n",
      MSG ".\r\n", "" },
    "1 ok 250\n2 550@6 0\n3 ok 250\n",
  };

  check_script (&script);
}

static void
test_lenient_354 (void)
{
  /* A server that says 354 to a transaction without recipients gets an
   * empty message at once, and an RSET after it (between two whole
   * transactions) in case that did not close it. */
  const Script script = {
    (const char *const *) caps_pipe, 2, 2, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nDATA\r\n",
    { "250 Ok\r\n550 no\r\n354 go\r\n", "554 no valid recipients\r\n", "250 Ok\r\n250 Ok\r\n354 go\r\n",
      "250 queued\r\n" },
    { ".\r\nMAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt2@example.net>\r\nDATA\r\n", "", MSG ".\r\nRSET\r\n", "" },
    "1 550@6 0\n2 ok 250\n",
  };

  check_script (&script);
}

static void
test_chunking_window (void)
{
  /* BDAT … LAST needs no 354: the whole window goes in one write, one
   * reply group comes back. */
  const Script script = {
    (const char *const *) caps_chunk, 3, 4, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt2@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt3@example.net>\r\nBDAT 22 LAST\r\n" MSG,
    { "250 Ok\r\n250 Ok\r\n250 queued 1\r\n",
      "250 Ok\r\n250 Ok\r\n250 queued 2\r\n250 Ok\r\n250 Ok\r\n250 queued 3\r\n"
      "250 Ok\r\n250 Ok\r\n250 queued 4\r\n" },
    { "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt4@example.net>\r\nBDAT 22 LAST\r\n" MSG, "" },
    "1 ok 250\n2 ok 250\n3 ok 250\n4 ok 250\n",
  };

  check_script (&script);
}

static void
test_chunking_refusal_mid_window (void)
{
  /* The second recipient is refused in the middle of the window; the third
   * meets a "nested MAIL" (the failed transaction was still open), so it
   * goes again after an RSET, and keeps its own outcome. */
  const Script script = {
    (const char *const *) caps_chunk, 3, 3, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt2@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt3@example.net>\r\nBDAT 22 LAST\r\n" MSG,
    { "250 Ok\r\n250 Ok\r\n250 queued 1\r\n"
      "250 Ok\r\n550-5.1.1 no such\r\n550 5.1.1 user\r\n554 5.5.1 no valid recipients\r\n"
      "503 5.5.1 nested MAIL\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need RCPT\r\n",
      "250 reset\r\n250 Ok\r\n250 Ok\r\n250 queued 3\r\n" },
    { "RSET\r\nMAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt3@example.net>\r\nBDAT 22 LAST\r\n" MSG, "" },
    "1 ok 250\n2 550@6 0\n3 ok 250\n",
  };

  check_script (&script);
}

static void
test_chunking_server_resets (void)
{
  /* A server that closes the failed transaction by itself takes the third
   * message at once; the RSET after it does no harm. */
  const Script script = {
    (const char *const *) caps_chunk, 3, 3, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt2@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt3@example.net>\r\nBDAT 22 LAST\r\n" MSG,
    { "250 Ok\r\n250 Ok\r\n250 queued 1\r\n250 Ok\r\n450 4.2.0 greylisted\r\n554 no recipients\r\n",
      "250 Ok\r\n250 Ok\r\n250 queued 3\r\n250 reset\r\n" },
    { "RSET\r\n", "" },
    "1 ok 250\n2 450@6 0\n3 ok 250\n",
  };

  check_script (&script);
}

static void
test_421_mid_window (void)
{
  /* A 421 in the middle: the message it answered keeps it, the one whose
   * end went out unanswered is uncertain, nothing else is. */
  const Script script = {
    (const char *const *) caps_chunk, 3, 4, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt2@example.net>\r\nBDAT 22 LAST\r\n" MSG
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt3@example.net>\r\nBDAT 22 LAST\r\n" MSG,
    { "250 Ok\r\n421 4.7.0 Too many messages, closing\r\n" },
    { "" },
    "1 421@6 0 t12\n2 none@8 0 uncertain t12\n3 none@8 0 uncertain t12\n4 none@0 0 t12\n",
  };

  check_script (&script);
}

static void
test_session_limit (void)
{
  /* OpenSMTPD's limit: 452 4.5.3 to MAIL; RCPT and DATA are refused
   * behind it. The message is not uncertain: its end never went out. */
  const Script script = {
    (const char *const *) caps_pipe, 2, 1, { NULL }, { NULL },
    "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<rcpt1@example.net>\r\nDATA\r\n",
    { "452 4.5.3 Too many messages sent\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n" },
    { "" },
    "1 452@5 0\n",
  };
  g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (caps_pipe);
  g_autoptr(MsSmtpOutcome) outcome = NULL;
  g_autoptr(MsReply) reply = NULL;
  g_autofree char *out = NULL;

  check_script (&script);

  /* ms-reply reads it as the connection's limit. */
  submit (codec, 7, "a@example.net", MSG);
  out = take_output (codec, NULL);
  feed (codec, "452 4.5.3 Too many messages sent\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n");
  outcome = ms_smtp_codec_pop_outcome (codec);
  g_assert_nonnull (outcome);
  g_assert_cmpuint (outcome->id, ==, 7);
  g_assert_cmpstr (outcome->text, ==, "4.5.3 Too many messages sent");
  reply = ms_reply_classify_outcome (outcome, NULL, 1700000000);
  g_assert_nonnull (reply);
  g_assert_true (reply->session_limit);
}

/* A drop after everything went out: only the unanswered ends are uncertain. */
static void
test_drop_mid_window (void)
{
  for (guint partial = 0; partial < 2; partial++)
    {
      g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (caps_chunk);
      g_autofree char *out = NULL;
      g_autofree char *result = NULL;
      const guint8 *data;
      gsize len;

      ms_smtp_codec_set_window (codec, 3);
      for (guint i = 1; i <= 3; i++)
        submit (codec, i, "x@example.net", MSG);
      data = ms_smtp_codec_get_output (codec, &len);
      g_assert_nonnull (data);
      /* partial: the last message's final bytes never went out. */
      ms_smtp_codec_output_written (codec, partial ? len - 1 : len);
      feed (codec, "250 Ok\r\n250 Ok\r\n250 queued 1\r\n250 Ok\r\n25");
      ms_smtp_codec_close (codec, MS_TRANSPORT_CONNECTION_LOST, "Connection lost");
      g_assert_true (ms_smtp_codec_is_closed (codec));
      g_assert_false (ms_smtp_codec_wants_input (codec));
      result = outcomes (codec);
      g_assert_cmpstr (result, ==, partial ? "1 ok 250\n2 none@8 0 uncertain t12\n3 none@5 0 t12\n"
                                           : "1 ok 250\n2 none@8 0 uncertain t12\n3 none@8 0 uncertain t12\n");
    }
}

static void
test_drop_before_354 (void)
{
  g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (caps_pipe);
  g_autofree char *out = NULL;
  g_autofree char *result = NULL;
  g_autoptr(MsReply) reply = NULL;
  MsSmtpOutcome *o;

  ms_smtp_codec_set_window (codec, 2);
  submit (codec, 1, "x@example.net", MSG);
  submit (codec, 2, "y@example.net", MSG);
  out = take_output (codec, NULL);
  feed (codec, "250 Ok\r\n250 Ok\r\n354 go\r\n");
  g_free (out);
  out = take_output (codec, NULL);
  /* The end of 1 went out with the commands of 2; the connection drops. */
  ms_smtp_codec_close (codec, MS_TRANSPORT_CONNECTION_LOST, NULL);
  o = ms_smtp_codec_pop_outcome (codec);
  g_assert_true (o->uncertain);
  reply = ms_reply_classify_outcome (o, NULL, 1700000000);
  g_assert_cmpint (reply->klass, ==, MS_REPLY_CLASS_CONNECTION_LOST);
  ms_smtp_outcome_free (o);
  result = outcomes (codec);
  g_assert_cmpstr (result, ==, "2 none@5 0 t12\n");
}

static void
test_multiline (void)
{
  const char *reply = "550-5.1.1 The email account that you tried to reach does not exist.\r\n"
                      "550-5.1.1 Please try double-checking the recipient's email\r\n"
                      "550 5.1.1 address. x1si - gsmtp\r\n";
  gsize len = strlen (reply);

  /* Cut anywhere, in two and in three. */
  for (gsize a = 0; a <= len; a++)
    for (gsize b = a; b <= len; b += (a % 7) + 1)
      {
        g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (NULL);
        g_autoptr(MsSmtpOutcome) o = NULL;
        g_autofree char *out = NULL;

        submit (codec, 1, "x@example.net", MSG);
        out = take_output (codec, NULL);
        feed (codec, "250 Ok\r\n");
        g_free (out);
        out = take_output (codec, NULL);
        g_assert_cmpstr (out, ==, "RCPT TO:<x@example.net>\r\n");
        ms_smtp_codec_feed (codec, (const guint8 *) reply, a);
        ms_smtp_codec_feed (codec, (const guint8 *) reply + a, b - a);
        g_assert_null (b < len ? ms_smtp_codec_pop_outcome (codec) : NULL);
        ms_smtp_codec_feed (codec, (const guint8 *) reply + b, len - b);
        o = ms_smtp_codec_pop_outcome (codec);
        g_assert_nonnull (o);
        g_assert_cmpint (o->code, ==, 550);
        g_assert_cmpint (o->failed_at, ==, MS_REPLY_TO_RCPT);
        g_assert_cmpstr (o->text, ==, "5.1.1 The email account that you tried to reach does not exist. "
                                      "Please try double-checking the recipient's email address. x1si - gsmtp");
        g_assert_false (o->uncertain);
      }
}

static void
test_end_reply (void)
{
  g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (NULL);
  g_autoptr(MsSmtpOutcome) o = NULL;
  g_autofree char *out = NULL;
  g_autoptr(GString) ends = g_string_new (NULL);

  submit (codec, 42, "x@example.net", MSG);
  g_free (take_output (codec, ends));
  feed (codec, "250 Ok\r\n");
  g_free (take_output (codec, ends));
  feed (codec, "250 Ok\r\n");
  g_free (take_output (codec, ends));
  g_assert_cmpstr (ends->str, ==, "");
  feed (codec, "354 go\r\n");
  out = take_output (codec, ends);
  g_assert_cmpstr (ends->str, ==, "42;");
  /* Reported once. */
  g_assert_false (ms_smtp_codec_next_end (codec, 0, NULL));
  feed (codec, "550-5.7.1 Message rejected\r\n550 5.7.1 \x1b[31mspam\r\n");
  o = ms_smtp_codec_pop_outcome (codec);
  g_assert_false (o->accepted);
  g_assert_cmpint (o->failed_at, ==, MS_REPLY_TO_END_OF_DATA);
  g_assert_cmpint (o->end_code, ==, 550);
  g_assert_null (strchr (o->end_text, '\x1b'));
  g_assert_true (g_str_has_prefix (o->end_text, "550 5.7.1 "));
  /* The failed transaction is reset before anything else. */
  g_free (out);
  out = take_output (codec, NULL);
  g_assert_cmpstr (out, ==, "RSET\r\n");
  feed (codec, "250 Ok\r\n");
  g_assert_false (ms_smtp_codec_wants_input (codec));

  ms_smtp_codec_quit (codec);
  g_free (out);
  out = take_output (codec, NULL);
  g_assert_cmpstr (out, ==, "QUIT\r\n");
  g_assert_true (ms_smtp_codec_wants_input (codec));
  feed (codec, "221 Bye\r\n");
  g_assert_true (ms_smtp_codec_quit_answered (codec));
}

static void
test_dot_stuffing (void)
{
  struct { const char *in, *out; } cases[] = {
    { ".starts\r\n", "..starts\r\n.\r\n" },
    { "a\r\n.\r\n..b\r\n", "a\r\n..\r\n...b\r\n.\r\n" },
    { "no end", "no end\r\n.\r\n" },
    { "x\r\n.", "x\r\n..\r\n.\r\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (caps_pipe);
      g_autofree char *out = NULL;

      submit (codec, 1, "x@example.net", cases[i].in);
      g_free (take_output (codec, NULL));
      feed (codec, "250 Ok\r\n250 Ok\r\n354 go\r\n");
      out = take_output (codec, NULL);
      g_assert_cmpstr (out, ==, cases[i].out);
    }

  /* BDAT sends the bytes as they are, with a line break at the end. */
  {
    g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (caps_chunk);
    g_autofree char *out = NULL;

    submit (codec, 1, "x@example.net", ".a\r\n.");
    out = take_output (codec, NULL);
    g_assert_true (g_str_has_suffix (out, "BDAT 7 LAST\r\n.a\r\n.\r\n"));
  }
}

static void
test_size_and_utf8 (void)
{
  const char *small[] = { "SIZE 10", NULL };
  g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (small);
  g_autoptr(MsSmtpCodec) ascii = ms_smtp_codec_new (caps_pipe);
  g_autoptr(MsSmtpCodec) utf8 = ms_smtp_codec_new (caps_utf8);
  g_autoptr(GBytes) big = g_bytes_new_static (MSG, strlen (MSG));
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;

  g_assert_false (ms_smtp_codec_submit (codec, 1, "a@example.org", "b@example.net", big, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_cmpuint (ms_smtp_codec_get_n_open (codec), ==, 0);
  g_clear_error (&error);

  /* A mailbox name in UTF-8 needs SMTPUTF8; a domain has its ASCII form. */
  g_assert_false (ms_smtp_codec_submit (ascii, 1, "a@example.org", "jörg@example.net", big, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_RECIPIENT);
  g_clear_error (&error);
  g_assert_false (ms_smtp_codec_submit (ascii, 1, "a@example.org", "x@y>\r\nRSET", big, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
  g_clear_error (&error);
  g_assert_true (ms_smtp_codec_submit (ascii, 1, "a@example.org", "joerg@bücher.example", big, &error));
  out = take_output (ascii, NULL);
  g_assert_cmpstr (out, ==, "MAIL FROM:<a@example.org> SIZE=22\r\nRCPT TO:<joerg@xn--bcher-kva.example>\r\nDATA\r\n");
  g_free (out);

  g_assert_true (ms_smtp_codec_submit (utf8, 1, "a@example.org", "jörg@bücher.example", big, &error));
  out = take_output (utf8, NULL);
  g_assert_cmpstr (out, ==, "MAIL FROM:<a@example.org> SMTPUTF8\r\nRCPT TO:<jörg@bücher.example>\r\nDATA\r\n");
}

static void
test_reply_limits (void)
{
  /* 1,001 lines of one reply, or 256 KiB without an end: given up on. */
  for (guint kind = 0; kind < 2; kind++)
    {
      g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (NULL);
      g_autoptr(MsSmtpOutcome) o = NULL;
      g_autoptr(GString) flood = g_string_new (NULL);

      submit (codec, 1, "x@example.net", MSG);
      g_free (take_output (codec, NULL));
      if (kind == 0)
        for (guint i = 0; i < MS_SMTP_MAX_REPLY_LINES + 1; i++)
          g_string_append (flood, "250-x\r\n");
      else
        for (guint i = 0; i < MS_SMTP_MAX_REPLY_BYTES / 8 + 1; i++)
          g_string_append (flood, "xxxxxxxx");
      for (gsize at = 0; at < flood->len; at += 999)
        ms_smtp_codec_feed (codec, (const guint8 *) flood->str + at, MIN (999, flood->len - at));
      g_assert_true (ms_smtp_codec_is_closed (codec));
      g_assert_cmpint (ms_smtp_codec_get_failure (codec), ==, MS_TRANSPORT_REPLY_TOO_LONG);
      o = ms_smtp_codec_pop_outcome (codec);
      g_assert_nonnull (o);
      g_assert_cmpint (o->transport, ==, MS_TRANSPORT_REPLY_TOO_LONG);
      g_assert_false (o->uncertain);
    }

  /* 1,000 lines are still a reply. */
  {
    g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (NULL);
    g_autoptr(GString) flood = g_string_new (NULL);

    submit (codec, 1, "x@example.net", MSG);
    g_free (take_output (codec, NULL));
    for (guint i = 0; i < MS_SMTP_MAX_REPLY_LINES - 1; i++)
      g_string_append (flood, "250-x\r\n");
    g_string_append (flood, "250 x\r\n");
    feed (codec, flood->str);
    g_assert_false (ms_smtp_codec_is_closed (codec));
  }
}

static void
test_unsolicited_421 (void)
{
  g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (caps_pipe);
  g_autofree char *result = NULL;

  /* While idle: the connection is done, nothing was lost. */
  feed (codec, "421 4.4.2 Idle timeout\r\n");
  g_assert_true (ms_smtp_codec_is_closed (codec));
  g_assert_false (ms_smtp_codec_has_room (codec));
  submit (codec, 5, "x@example.net", MSG);
  result = outcomes (codec);
  g_assert_cmpstr (result, ==, "5 none@0 0 t12\n");
}

/* Held after a failure: nothing new starts until the caller has read the
 * refusal; then it goes on (a refused recipient) or takes back what was
 * not sent (the connection is ending). */
static void
test_hold_and_withdraw (void)
{
  for (guint withdraw = 0; withdraw < 2; withdraw++)
    {
      g_autoptr(MsSmtpCodec) codec = ms_smtp_codec_new (caps_pipe);
      g_autofree char *out = NULL;
      g_autofree char *result = NULL;
      MsSmtpOutcome *o;

      ms_smtp_codec_set_window (codec, 2);
      ms_smtp_codec_set_hold_on_failure (codec, TRUE);
      for (guint i = 1; i <= 3; i++)
        submit (codec, i, "x@example.net", MSG);
      g_free (take_output (codec, NULL));
      feed (codec, "452 4.5.3 Too many messages\r\n503 need MAIL\r\n503 need MAIL\r\n");
      /* Held: the next message waits. */
      out = take_output (codec, NULL);
      g_assert_cmpstr (out, ==, "");
      o = ms_smtp_codec_pop_outcome (codec);
      g_assert_cmpint (o->code, ==, 452);
      ms_smtp_outcome_free (o);
      if (withdraw)
        {
          g_assert_cmpuint (ms_smtp_codec_withdraw (codec), ==, 2);
          result = outcomes (codec);
          g_assert_cmpstr (result, ==, "2 none@0 0\n3 none@0 0\n");
          g_assert_cmpuint (ms_smtp_codec_get_n_open (codec), ==, 0);
          g_assert_false (ms_smtp_codec_wants_input (codec));
        }
      else
        {
          ms_smtp_codec_resume (codec);
          g_free (out);
          out = take_output (codec, NULL);
          g_assert_cmpstr (out, ==, "MAIL FROM:<me@example.org> SIZE=22\r\nRCPT TO:<x@example.net>\r\nDATA\r\n");
        }
    }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailshot/smtp-codec/one-command-at-a-time", test_one_command_at_a_time);
  g_test_add_func ("/mailshot/smtp-codec/pipelining-across-messages", test_pipelining_across_messages);
  g_test_add_func ("/mailshot/smtp-codec/refusal-mid-window-data", test_refusal_mid_window_data);
  g_test_add_func ("/mailshot/smtp-codec/lenient-354", test_lenient_354);
  g_test_add_func ("/mailshot/smtp-codec/chunking-window", test_chunking_window);
  g_test_add_func ("/mailshot/smtp-codec/chunking-refusal-mid-window", test_chunking_refusal_mid_window);
  g_test_add_func ("/mailshot/smtp-codec/chunking-server-resets", test_chunking_server_resets);
  g_test_add_func ("/mailshot/smtp-codec/421-mid-window", test_421_mid_window);
  g_test_add_func ("/mailshot/smtp-codec/session-limit", test_session_limit);
  g_test_add_func ("/mailshot/smtp-codec/drop-mid-window", test_drop_mid_window);
  g_test_add_func ("/mailshot/smtp-codec/drop-before-354", test_drop_before_354);
  g_test_add_func ("/mailshot/smtp-codec/multiline", test_multiline);
  g_test_add_func ("/mailshot/smtp-codec/end-reply", test_end_reply);
  g_test_add_func ("/mailshot/smtp-codec/dot-stuffing", test_dot_stuffing);
  g_test_add_func ("/mailshot/smtp-codec/size-and-utf8", test_size_and_utf8);
  g_test_add_func ("/mailshot/smtp-codec/reply-limits", test_reply_limits);
  g_test_add_func ("/mailshot/smtp-codec/unsolicited-421", test_unsolicited_421);
  g_test_add_func ("/mailshot/smtp-codec/hold-and-withdraw", test_hold_and_withdraw);

  return g_test_run ();
}
