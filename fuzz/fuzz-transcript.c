/* fuzz-transcript.c: fuzz target for ms_transcript_add and ms_transcript_to_string
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: a flags byte; with FLAG_SECRET, the secret up to a NUL; then pieces,
 * each an op byte, a length (1 or 2 bytes) and that many bytes of dialog
 * (see the OP_ values for the other calls and for repeats).
 * The check that matters: the secret never shows in a line, raw or inside any
 * base64 word, whichever way the server and the client cut their bytes.
 */
#include "config.h"

#include "fuzz-common.h"

#include "ms-transcript.h"

enum {
  FLAG_SECRET = 1 << 0,
};

enum {
  OP_DIRECTION_MASK = 0x03,   /* 0 client, 1 server, 2 info, 3 (OP_OTHER) another call */
  OP_OTHER          = 0x03,   /* length % 4 picks mark_tls, add_message_size, get_n_lines, clear;
                               * with OP_LONG: the length is a repeat count, then a
                               * 1-byte length and a piece the server sends that often */
  OP_LONG           = 0x80,   /* a 2-byte length */
  OP_PASS_SECRET    = 0x40,   /* give the secret again with this piece */
};

/* At most this many bytes from one repeat op. */
#define MAX_REPEAT_BYTES (1024 * 1024)

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

static gboolean
is_base64_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/' || c == '=';
}

/* A secret the placeholder or the fixed texts could themselves spell out is not
 * something a line can be blamed for holding. */
static gboolean
secret_is_checkable (const char *secret)
{
  return secret != NULL && secret[0] != '\0' &&
         /* a password is text (libsecret stores UTF-8); a stray byte such as
          * 0x90 would "match" inside the lines' own UTF-8 characters */
         g_utf8_validate (secret, -1, NULL) &&
         strchr (secret, '*') == NULL &&
         /* what stands in for bytes that are no UTF-8 (U+FFFD) and for control
          * characters (U+2400...U+2421) */
         strstr (secret, "\xEF\xBF\xBD") == NULL && strstr (secret, "\xE2\x90") == NULL &&
         strstr (MS_TRANSCRIPT_TLS_MARK, secret) == NULL &&
         strstr ("(0123456789 bytes of message)", secret) == NULL;
}

/* Lines go to a terminal (mailshot-cli test --transcript) and into a GTK text
 * view: valid UTF-8 (GTK refuses anything else) without control characters
 * (a server must not send terminal escapes), whatever the server sent. */
static void
check_printable (const char *line)
{
  if (!g_utf8_validate (line, -1, NULL))
    {
      g_autofree char *l = g_strescape (line, NULL);

      fuzz_fail ("line “%s” is not valid UTF-8", l);
    }
  for (const char *p = line; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if ((c < 0x20 && c != '\t') || c == 0x7f || (c >= 0x80 && c < 0xa0))
        {
          g_autofree char *l = g_strescape (line, NULL);

          fuzz_fail ("line “%s” holds the control character U+%04X", l, c);
        }
    }
}

/* ms_transcript_add_message_size()'s own line, the one line never redacted. */
static gboolean
is_message_size_line (const char *line)
{
  const char *p = line;

  if (*p++ != '(' || !g_ascii_isdigit (*p))
    return FALSE;
  while (g_ascii_isdigit (*p))
    p++;
  return strcmp (p, " bytes of message)") == 0;
}

static void
check_line (const char *line,
            const char *secret)
{
  gsize secret_len = strlen (secret);
  gsize i = 0, len = strlen (line);

  if (strstr (line, secret) != NULL)
    {
      g_autofree char *l = g_strescape (line, NULL);

      fuzz_fail ("line “%s” holds the secret", l);
    }

  /* Every base64-looking word, decoded, is free of the secret. */
  while (i < len)
    {
      gsize start;

      while (i < len && !is_base64_char (line[i]))
        i++;
      start = i;
      while (i < len && is_base64_char (line[i]))
        i++;
      if (i - start >= 4)
        {
          g_autofree char *word = g_strndup (line + start, i - start);
          g_autofree guchar *decoded = NULL;
          gsize decoded_len = 0;

          decoded = g_base64_decode (word, &decoded_len);
          for (gsize k = 0; k + secret_len <= decoded_len; k++)
            if (memcmp (decoded + k, secret, secret_len) == 0)
              {
                g_autofree char *l = g_strescape (line, NULL);
                g_autofree char *w = g_strescape (word, NULL);

                fuzz_fail ("the base64 word “%s” of line “%s” decodes to bytes holding the secret", w, l);
              }
        }
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  FuzzInput in = { data, size };
  g_autoptr(MsTranscript) transcript = ms_transcript_new ();
  g_autoptr(GString) expected = g_string_new (NULL);
  g_autofree char *secret = NULL;
  g_autofree char *text = NULL;
  guint n_lines;
  guint8 flags;

  flags = fuzz_byte (&in);
  if (flags & FLAG_SECRET)
    secret = fuzz_take_until (&in, 0, NULL);
  /* The session knows the password before the first byte: lines it saw
   * before that could not be blanked, so the check would be meaningless. */
  ms_transcript_add (transcript, MS_TRANSCRIPT_CLIENT, "", 0, secret);

  while (in.size > 0)
    {
      guint8 op = fuzz_byte (&in);
      gsize len = (op & OP_LONG) ? fuzz_u16 (&in) : fuzz_byte (&in);
      const char *piece = (const char *) in.data;
      const char *give = (op & OP_PASS_SECRET) ? secret : NULL;

      if ((op & OP_DIRECTION_MASK) == OP_OTHER)
        {
          if (op & OP_LONG)
            {
              /* A server that sends one piece over and over: a few input
               * bytes make a megabyte, to find what is slow on long lines. */
              gsize n = fuzz_byte (&in);

              n = MIN (n, in.size);

              piece = (const char *) in.data;
              in.data += n;
              in.size -= n;
              for (gsize k = 0; n > 0 && k < MIN (len, MAX_REPEAT_BYTES / n); k++)
                ms_transcript_add (transcript, MS_TRANSCRIPT_SERVER, piece, n, NULL);
              continue;
            }
          switch (len % 4)
            {
            case 0: ms_transcript_mark_tls (transcript); break;
            case 1: ms_transcript_add_message_size (transcript, len); break;
            case 2: (void) ms_transcript_get_n_lines (transcript); break;
            default:
              /* Forgets the secret too, so the session gives it again. */
              ms_transcript_clear (transcript);
              ms_transcript_add (transcript, MS_TRANSCRIPT_CLIENT, "", 0, secret);
              break;
            }
          continue;
        }

      len = MIN (len, in.size);
      in.data += len;
      in.size -= len;

      switch (op & OP_DIRECTION_MASK)
        {
        case 0:
          ms_transcript_add (transcript, MS_TRANSCRIPT_CLIENT, piece, len, give);
          break;
        case 1:
          ms_transcript_add (transcript, MS_TRANSCRIPT_SERVER, piece, len, give);
          break;
        default:
          ms_transcript_add (transcript, MS_TRANSCRIPT_INFO, piece, len, give);
          break;
        }
    }

  /* to_string is each line with its label; the lines themselves are checked
   * (a label next to a line could spell a short secret without any leak). */
  n_lines = ms_transcript_get_n_lines (transcript);
  for (guint i = 0; i < n_lines; i++)
    {
      const char *line = ms_transcript_get_line (transcript, i);
      MsTranscriptDirection direction = ms_transcript_get_direction (transcript, i);

      fuzz_check (line != NULL);
      fuzz_check (direction <= MS_TRANSCRIPT_INFO);
      check_printable (line);
      if (secret_is_checkable (secret) && !is_message_size_line (line))
        {
          const char *checked = line;

          /* "AUTH <mechanism> ********": the mechanism is Mailshot's own word
           * (PLAIN, LOGIN, ...), kept as sent whatever the password. */
          if (direction == MS_TRANSCRIPT_CLIENT && g_str_has_prefix (line, "AUTH "))
            {
              const char *arg = strchr (line + 5, ' ');

              checked = arg != NULL ? arg : "";
            }
          check_line (checked, secret);
        }
      g_string_append (expected, direction == MS_TRANSCRIPT_CLIENT ? "C: " :
                                 direction == MS_TRANSCRIPT_SERVER ? "S: " : "* ");
      g_string_append (expected, line);
      g_string_append_c (expected, '\n');
    }

  text = ms_transcript_to_string (transcript);
  fuzz_check (g_strcmp0 (text, expected->str) == 0);

  return 0;
}
