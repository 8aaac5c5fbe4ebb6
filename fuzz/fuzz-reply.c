/* fuzz-reply.c: fuzz target for ms_reply_classify, _classify_transport and _parse_retry_after
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: code (2 bytes, big-endian), flags (1), port (2), transport failure (1;
 * from 0xF0 on the text is also repeated to 80 KiB), then the reply text;
 * after a NUL, the server name; after another NUL, one byte: the step the
 * reply answered (MsReplyTo; none: unknown). A hostile server chooses every
 * byte of the text. The whole input also goes through ms_reply_sanitize_text.
 */
#include "config.h"

#include "fuzz-common.h"

#include "ms-error.h"
#include "ms-reply.h"

enum {
  FLAG_CONTEXT    = 1 << 0,
  FLAG_SMTPS      = 1 << 1,
  FLAG_AUTH       = 1 << 2,
  FLAG_NOW_REAL   = 1 << 3,   /* now = 0: the current time */
  FLAG_SINGLE     = 1 << 4,   /* a test's one message */
  FLAG_NEGATIVE   = 1 << 5,   /* codes a caller should never pass */
};

#define N_REPLY_TO (MS_REPLY_TO_END_OF_DATA + 1)

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

static void
check_text (const char *text,
            gsize       max)
{
  fuzz_check (text != NULL);
  fuzz_check (g_utf8_validate (text, -1, NULL));
  fuzz_check (strlen (text) <= max);
}

/* One line as the sanitizer promises it: valid UTF-8, no control characters
 * (no terminal escapes), no blank at either end nor two in a row, bounded;
 * and sanitizing it again changes nothing. */
static void
check_clean_line (const char *text)
{
  g_autofree char *again = NULL;

  check_text (text, MS_REPLY_MAX_TEXT);
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      fuzz_check (c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0));
    }
  fuzz_check (text[0] != ' ');
  fuzz_check (text[0] == '\0' || text[strlen (text) - 1] != ' ');
  fuzz_check (strstr (text, "  ") == NULL);
  again = ms_reply_sanitize_text (text, -1);
  fuzz_check (g_strcmp0 (again, text) == 0);
}

/* RFC 3463: class.subject.detail, "5.7.139" at most. */
static void
check_enhanced (const char *enhanced)
{
  const char *p = enhanced;

  fuzz_check (strchr ("245", p[0]) != NULL && p[1] == '.');
  p += 2;
  for (guint part = 0; part < 2; part++)
    {
      guint digits = 0;

      while (g_ascii_isdigit (*p))
        {
          p++;
          digits++;
        }
      fuzz_check (digits >= 1 && digits <= 3);
      if (part == 0)
        fuzz_check (*p++ == '.');
    }
  fuzz_check (*p == '\0');
}

/* What the flags promise the blast engine, whatever the text:
 * - a per-connection message limit is a temporary refusal of a fine
 *   message, sent again at once on a new connection: no wait, not
 *   permanent, never before MAIL (no message has gone on the connection);
 * - success asks for nothing;
 * - a 421 closes the channel (RFC 5321 3.8): always a new connection. */
static void
check_flags (const MsReply *reply,
             MsReplyTo      answering)
{
  if (reply->session_limit)
    {
      fuzz_check (reply->new_connection);
      fuzz_check (reply->klass == MS_REPLY_CLASS_TEMPORARY);
      fuzz_check (reply->until == 0);
      fuzz_check (!reply->permanent);
      /* A refusal, or words alone when no code was given (code 0). */
      fuzz_check (reply->code == 0 || reply->code >= 400);
      fuzz_check (answering != MS_REPLY_TO_GREETING && answering != MS_REPLY_TO_EHLO &&
                  answering != MS_REPLY_TO_STARTTLS && answering != MS_REPLY_TO_AUTH);
    }
  if (reply->klass == MS_REPLY_CLASS_NONE)
    {
      fuzz_check (!reply->session_limit && !reply->new_connection && !reply->permanent);
      fuzz_check (reply->until == 0);
    }
  if (reply->code == 421 && reply->klass != MS_REPLY_CLASS_NONE)
    fuzz_check (reply->new_connection);
  if (reply->klass != MS_REPLY_CLASS_RATE_LIMITED)
    fuzz_check (reply->until == 0);
}

static void
check_reply (const MsReply *reply)
{
  g_autoptr(MsReply) copy = NULL;
  g_autoptr(GError) error = NULL;
  const char *nick;

  fuzz_check (reply != NULL);
  fuzz_check (reply->klass >= MS_REPLY_CLASS_NONE && reply->klass <= MS_REPLY_CLASS_OAUTH2_REQUIRED);
  nick = ms_reply_class_to_string (reply->klass);
  fuzz_check (nick != NULL);
  fuzz_check (ms_reply_class_from_string (nick) == reply->klass);
  fuzz_check (ms_reply_class_get_label (reply->klass) != NULL);
  fuzz_check (reply->code == 0 || (reply->code >= 100 && reply->code <= 599));

  /* The text reaches the CLI and the journal: one line of valid UTF-8 with no
   * control characters (no terminal escapes from a server), bounded. */
  check_clean_line (reply->text);

  if (reply->enhanced != NULL)
    check_enhanced (reply->enhanced);

  fuzz_check (reply->advice != NULL && reply->advice[0] != '\0');
  check_text (reply->advice, G_MAXSIZE);
  fuzz_check (reply->until >= 0);

  copy = ms_reply_copy (reply);
  fuzz_check (copy->klass == reply->klass && copy->code == reply->code);
  fuzz_check (g_strcmp0 (copy->enhanced, reply->enhanced) == 0);
  fuzz_check (g_strcmp0 (copy->text, reply->text) == 0);
  fuzz_check (g_strcmp0 (copy->advice, reply->advice) == 0);
  fuzz_check (copy->until == reply->until && copy->transport == reply->transport);
  fuzz_check (copy->new_connection == reply->new_connection && copy->permanent == reply->permanent);
  fuzz_check (copy->session_limit == reply->session_limit);

  error = ms_reply_to_error (reply);
  fuzz_check (error != NULL && error->domain == MS_ERROR);
  fuzz_check (g_strcmp0 (error->message, reply->advice) == 0);
  (void) ms_reply_class_stops_batch (reply->klass);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  FuzzInput in = { data, size };
  MsReplyContext context = { 0, };
  g_autofree char *text = NULL;
  g_autofree char *server = NULL;
  g_autoptr(MsReply) reply = NULL;
  g_autoptr(MsReply) transport = NULL;
  g_autofree char *sanitized = NULL;
  MsTransportFailure failure;
  MsReplyTo answering;
  guint16 raw_code;
  int code;
  guint8 flags, failure_byte;
  gint64 now, until;

  raw_code = fuzz_u16 (&in);
  flags = fuzz_byte (&in);
  context.port = fuzz_u16 (&in);
  failure_byte = fuzz_byte (&in);
  failure = (MsTransportFailure) (failure_byte % (MS_TRANSPORT_REPLY_TOO_LONG + 1));
  text = fuzz_take_until (&in, 0, NULL);
  server = fuzz_take_until (&in, 0, NULL);
  answering = (MsReplyTo) (fuzz_byte (&in) % N_REPLY_TO);

  code = (flags & FLAG_NEGATIVE) ? (gint16) raw_code : raw_code % 1000;
  /* Some fixed instant (2023-11-14), so that a crash reproduces the same way. */
  now = (flags & FLAG_NOW_REAL) ? 0 : 1700000000;
  context.server = server[0] != '\0' ? server : NULL;
  context.use_smtps = (flags & FLAG_SMTPS) != 0;
  context.needs_auth = (flags & FLAG_AUTH) != 0;
  context.single_message = (flags & FLAG_SINGLE) != 0;
  context.answering = answering;
  if (!(flags & FLAG_CONTEXT))
    answering = MS_REPLY_TO_UNKNOWN;

  /* Any bytes, NULs included, as a server string enters the program. */
  sanitized = ms_reply_sanitize_text ((const char *) data, size);
  check_clean_line (sanitized);

  /* Rarely: huge texts are slow under ASan, and one is enough to cover the limits. */
  if (failure_byte >= 0xF0 && text[0] != '\0')
    {
      gsize len = strlen (text);
      GString *big = g_string_sized_new (96 * 1024);

      while (big->len < 80 * 1024)   /* past ms-reply's 64 KiB scan limit */
        g_string_append_len (big, text, len);
      g_free (text);
      text = g_string_free (big, FALSE);
    }

  reply = ms_reply_classify (code, text, (flags & FLAG_CONTEXT) ? &context : NULL, now);
  check_reply (reply);
  check_flags (reply, answering);
  fuzz_check (reply->transport == MS_TRANSPORT_NONE);

  transport = ms_reply_classify_transport (failure, text, (flags & FLAG_CONTEXT) ? &context : NULL, now);
  check_reply (transport);
  check_flags (transport, answering);
  fuzz_check (transport->transport == failure);
  /* Below the reply level nothing says how many messages a session takes. */
  fuzz_check (!transport->session_limit);
  fuzz_check (transport->new_connection == (transport->klass != MS_REPLY_CLASS_NONE));

  /* A date may lie anywhere after 1970; a wait is capped at a month. */
  until = ms_reply_parse_retry_after (text, now);
  fuzz_check (until >= 0);
  if (reply->klass == MS_REPLY_CLASS_RATE_LIMITED && reply->until != 0)
    fuzz_check (reply->until > 0);

  return 0;
}
