/* ms-transcript.c: the labelled SMTP dialog, with AUTH payloads and the password blanked
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "ms-transcript.h"

typedef struct {
  MsTranscriptDirection direction;
  char                 *text;
} Line;

struct _MsTranscript
{
  GObject    parent_instance;

  GMutex     lock;
  GArray    *lines;          /* of Line */
  GString   *partial[2];     /* CLIENT, SERVER: bytes after the last line end */
  gboolean   auth_open;      /* an AUTH exchange is running: client lines are secret */
  char      *secret;         /* the last secret given, for lines completed later */
};

G_DEFINE_FINAL_TYPE (MsTranscript, ms_transcript, G_TYPE_OBJECT)

static void
line_clear (gpointer data)
{
  Line *line = data;

  g_clear_pointer (&line->text, g_free);
}

static void
set_secret_locked (MsTranscript *self,
                   const char   *secret)
{
  if (g_strcmp0 (self->secret, secret) == 0)
    return;
  if (self->secret != NULL)
    memset (self->secret, 0, strlen (self->secret));
  g_free (self->secret);
  self->secret = g_strdup (secret);
}

static void
ms_transcript_finalize (GObject *object)
{
  MsTranscript *self = MS_TRANSCRIPT (object);

  g_clear_pointer (&self->lines, g_array_unref);
  for (guint i = 0; i < G_N_ELEMENTS (self->partial); i++)
    if (self->partial[i] != NULL)
      g_string_free (g_steal_pointer (&self->partial[i]), TRUE);
  set_secret_locked (self, NULL);
  g_mutex_clear (&self->lock);

  G_OBJECT_CLASS (ms_transcript_parent_class)->finalize (object);
}

static void
ms_transcript_class_init (MsTranscriptClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_transcript_finalize;
}

static void
ms_transcript_init (MsTranscript *self)
{
  g_mutex_init (&self->lock);
  self->lines = g_array_new (FALSE, FALSE, sizeof (Line));
  g_array_set_clear_func (self->lines, line_clear);
  self->partial[0] = g_string_new (NULL);
  self->partial[1] = g_string_new (NULL);
}

/**
 * ms_transcript_new:
 *
 * Returns: (transfer full): an empty transcript
 */
MsTranscript *
ms_transcript_new (void)
{
  return g_object_new (MS_TYPE_TRANSCRIPT, NULL);
}

static gboolean
is_base64_char (char c)
{
  return g_ascii_isalnum (c) || c == '+' || c == '/' || c == '=';
}

static gboolean
memmem_found (const guchar *hay, gsize hay_len, const char *needle, gsize needle_len)
{
  if (needle_len == 0 || hay == NULL || hay_len < needle_len)
    return FALSE;
  for (gsize i = 0; i + needle_len <= hay_len; i++)
    if (hay[i] == (guchar) needle[0] && memcmp (hay + i, needle, needle_len) == 0)
      return TRUE;
  return FALSE;
}

/* Puts @out in the place of @str's text, wiping the old text: it held the secret. */
static void
take_blanked (GString *str,
              GString *out)
{
  memset (str->str, 0, str->len);
  g_string_truncate (str, 0);
  g_string_append_len (str, out->str, out->len);
}

/* Replaces every occurrence of @needle in @str by the placeholder. One pass
 * into a new string: erasing in place moved the rest of the line for every
 * hit, seconds of work on a long line full of hits. The search is bounded by
 * the known length, never by strstr(): strstr() on the rest of the line is
 * linear per hit in a sanitizer's interceptor (it measures the whole rest
 * with strlen), so a long line full of hits took minutes under ASan. */
static void
blank_substring (GString *str, const char *needle)
{
  gsize needle_len = strlen (needle);
  g_autoptr(GString) out = NULL;
  const char *p = str->str;
  const char *end = str->str + str->len;
  const char *hit;

  if (needle_len == 0)
    return;

  while ((hit = g_strstr_len (p, end - p, needle)) != NULL)
    {
      if (out == NULL)
        out = g_string_sized_new (str->len);
      g_string_append_len (out, p, hit - p);
      g_string_append (out, MS_TRANSCRIPT_BLANK);
      p = hit + needle_len;
    }
  if (out == NULL)
    return;
  g_string_append_len (out, p, end - p);
  take_blanked (str, out);
}

/* The part of base64 (prefix + secret + anything) that depends on the secret
 * alone, for each of the three alignments: a secret embedded anywhere in a
 * base64 string shows up as one of these, whatever surrounds it. */
static void
blank_base64_alignments (GString *str, const char *secret)
{
  gsize secret_len = strlen (secret);

  for (guint shift = 0; shift < 3; shift++)
    {
      g_autofree guchar *buf = g_malloc0 (shift + secret_len);
      g_autofree char *enc = NULL;
      gsize enc_len, start, end;

      memcpy (buf + shift, secret, secret_len);
      enc = g_base64_encode (buf, shift + secret_len);
      enc_len = strlen (enc);
      /* The first group mixes in the prefix, the last one the suffix. */
      start = shift == 0 ? 0 : 4;
      end = enc_len >= 4 ? enc_len - 4 : 0;
      if (end <= start || end - start < 4)
        continue;
      enc[end] = '\0';
      blank_substring (str, enc + start);
    }
}

/* Any base64-looking word that decodes to something holding the secret is
 * blanked whole: that covers the PLAIN blob "\0user\0password". */
static void
blank_base64_words (GString *str, const char *secret)
{
  gsize secret_len = strlen (secret);
  g_autoptr(GString) out = NULL;   /* built only once a word is blanked */
  gsize i = 0, copied = 0;

  while (i < str->len)
    {
      gsize start, len;

      while (i < str->len && !is_base64_char (str->str[i]))
        i++;
      start = i;
      while (i < str->len && is_base64_char (str->str[i]))
        i++;
      len = i - start;

      if (len >= 4)
        {
          g_autofree char *word = g_strndup (str->str + start, len);
          g_autofree guchar *decoded = NULL;
          gsize decoded_len = 0;

          decoded = g_base64_decode (word, &decoded_len);
          if (memmem_found (decoded, decoded_len, secret, secret_len))
            {
              if (out == NULL)
                out = g_string_sized_new (str->len);
              g_string_append_len (out, str->str + copied, start - copied);
              g_string_append (out, MS_TRANSCRIPT_BLANK);
              copied = i;
            }
          if (decoded != NULL)
            memset (decoded, 0, decoded_len);
        }
    }
  if (out == NULL)
    return;
  g_string_append_len (out, str->str + copied, str->len - copied);
  take_blanked (str, out);
}

static gboolean
starts_with_word (const char *line, const char *word)
{
  gsize len = strlen (word);

  return g_ascii_strncasecmp (line, word, len) == 0 &&
         (line[len] == '\0' || line[len] == ' ');
}

/* Applies the AUTH rules to one complete line, with the lock held. */
static char *
redact_line (MsTranscript          *self,
             MsTranscriptDirection  direction,
             const char            *line,
             const char            *secret)
{
  g_autoptr(GString) str = NULL;

  if (direction == MS_TRANSCRIPT_CLIENT)
    {
      if (self->auth_open)
        return g_strdup (MS_TRANSCRIPT_BLANK);

      if (starts_with_word (line, "AUTH"))
        {
          const char *mech = line + 4;
          const char *arg;

          self->auth_open = TRUE;
          while (*mech == ' ')
            mech++;
          arg = strchr (mech, ' ');
          /* "AUTH PLAIN <b64>", "AUTH LOGIN <b64 user>": the initial
           * response is a credential, the mechanism name is not. */
          if (arg != NULL)
            return g_strdup_printf ("AUTH %.*s %s", (int) (arg - mech), mech,
                                    MS_TRANSCRIPT_BLANK);
        }
    }
  else if (direction == MS_TRANSCRIPT_SERVER && self->auth_open)
    {
      /* 334 continues the exchange; any final reply ends it. A multi-line
       * reply ("235-...") is final only on its last line, but no client line
       * can come in between, so ending on the first is the same. */
      if (!g_str_has_prefix (line, "334"))
        self->auth_open = FALSE;
    }

  str = g_string_new (line);
  if (secret != NULL && *secret != '\0')
    {
      blank_substring (str, secret);
      blank_base64_words (str, secret);
      blank_base64_alignments (str, secret);
    }

  return g_string_free (g_steal_pointer (&str), FALSE);
}

static gboolean
is_control (gunichar c)
{
  return (c < 0x20 && c != '\t') || c == 0x7f || (c >= 0x80 && c < 0xa0);
}

/* Lines go to a terminal (mailshot-cli test --transcript) and into a GTK text
 * view, which refuses text that is not UTF-8 (a server greeting in Latin-1 hid
 * the whole dialog). Bytes that are not UTF-8 become U+FFFD and control
 * characters their pictures (ESC as U+241B), so that a server cannot send
 * terminal escapes either. Runs after the redaction, on @text it takes. */
static char *
make_printable (char *text)
{
  g_autofree char *valid = NULL;
  GString *out;
  gboolean clean = g_utf8_validate (text, -1, NULL);

  for (const char *p = text; clean && *p; p = g_utf8_next_char (p))
    clean = !is_control (g_utf8_get_char (p));
  if (clean)
    return text;

  valid = g_utf8_make_valid (text, -1);
  g_free (text);
  out = g_string_sized_new (strlen (valid) + 16);
  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (!is_control (c))
        g_string_append_unichar (out, c);
      else if (c < 0x20)
        g_string_append_unichar (out, 0x2400 + c);   /* SYMBOL FOR NULL + c */
      else if (c == 0x7f)
        g_string_append_unichar (out, 0x2421);       /* SYMBOL FOR DELETE */
      else
        g_string_append_unichar (out, 0xfffd);
    }
  return g_string_free (out, FALSE);
}

static void
append_line_locked (MsTranscript          *self,
                    MsTranscriptDirection  direction,
                    char                  *text)
{
  Line line = { direction, make_printable (text) };

  g_array_append_val (self->lines, line);
}

static void
flush_partial_locked (MsTranscript *self)
{
  for (guint i = 0; i < G_N_ELEMENTS (self->partial); i++)
    {
      GString *partial = self->partial[i];

      if (partial->len > 0)
        {
          MsTranscriptDirection direction = i == 0 ? MS_TRANSCRIPT_CLIENT : MS_TRANSCRIPT_SERVER;

          append_line_locked (self, direction, redact_line (self, direction, partial->str, self->secret));
          memset (partial->str, 0, partial->len);
          g_string_truncate (partial, 0);
        }
    }
}

/**
 * ms_transcript_add:
 * @data: (array length=len): bytes as they crossed the wire
 * @secret: (nullable): the password, blanked raw and in base64
 *
 * Adds what one side said. See the header for the redaction rules.
 * A partial line waits for its end (or for the next line of the other
 * side, a note, or a read of the transcript).
 */
void
ms_transcript_add (MsTranscript          *self,
                   MsTranscriptDirection  direction,
                   const char            *data,
                   gsize                  len,
                   const char            *secret)
{
  GString *partial;
  gsize i = 0;

  g_return_if_fail (MS_IS_TRANSCRIPT (self));
  g_return_if_fail (data != NULL || len == 0);

  if (direction == MS_TRANSCRIPT_INFO)
    {
      g_autofree char *text = g_strndup (data, len);

      g_strchomp (text);
      g_mutex_lock (&self->lock);
      if (secret != NULL)
        set_secret_locked (self, secret);
      flush_partial_locked (self);
      append_line_locked (self, MS_TRANSCRIPT_INFO, redact_line (self, MS_TRANSCRIPT_INFO, text, self->secret));
      g_mutex_unlock (&self->lock);
      return;
    }

  g_return_if_fail (direction == MS_TRANSCRIPT_CLIENT || direction == MS_TRANSCRIPT_SERVER);

  g_mutex_lock (&self->lock);
  if (secret != NULL)
    set_secret_locked (self, secret);

  /* Lines of the other side that lack their end are complete by now. */
  {
    GString *other = self->partial[direction == MS_TRANSCRIPT_CLIENT ? 1 : 0];

    if (other->len > 0)
      {
        MsTranscriptDirection other_dir = direction == MS_TRANSCRIPT_CLIENT ? MS_TRANSCRIPT_SERVER : MS_TRANSCRIPT_CLIENT;

        append_line_locked (self, other_dir, redact_line (self, other_dir, other->str, self->secret));
        memset (other->str, 0, other->len);
        g_string_truncate (other, 0);
      }
  }

  partial = self->partial[direction == MS_TRANSCRIPT_CLIENT ? 0 : 1];
  while (i < len)
    {
      const char *nl = memchr (data + i, '\n', len - i);
      gsize end = nl != NULL ? (gsize) (nl - data) : len;

      g_string_append_len (partial, data + i, end - i);
      if (nl == NULL)
        break;

      if (partial->len > 0 && partial->str[partial->len - 1] == '\r')
        g_string_truncate (partial, partial->len - 1);
      append_line_locked (self, direction, redact_line (self, direction, partial->str, self->secret));
      memset (partial->str, 0, partial->len);
      g_string_truncate (partial, 0);
      i = end + 1;
    }

  g_mutex_unlock (&self->lock);
}

/**
 * ms_transcript_add_info:
 * @format: printf-style format of a note ("Connected to …")
 *
 * Adds a note of Mailshot's own, shown with a "*" label.
 */
void
ms_transcript_add_info (MsTranscript *self,
                        const char   *format,
                        ...)
{
  g_autofree char *text = NULL;
  va_list args;

  g_return_if_fail (MS_IS_TRANSCRIPT (self));
  g_return_if_fail (format != NULL);

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);

  ms_transcript_add (self, MS_TRANSCRIPT_INFO, text, strlen (text), NULL);
}

/**
 * ms_transcript_add_message_size:
 * @size: the number of bytes of the message
 *
 * Stands in for the message body, which is never recorded:
 * adds the client line "(N bytes of message)".
 */
void
ms_transcript_add_message_size (MsTranscript *self,
                                gsize         size)
{
  g_return_if_fail (MS_IS_TRANSCRIPT (self));

  g_mutex_lock (&self->lock);
  flush_partial_locked (self);
  append_line_locked (self, MS_TRANSCRIPT_CLIENT,
                      g_strdup_printf ("(%" G_GSIZE_FORMAT " bytes of message)", size));
  g_mutex_unlock (&self->lock);
}

/**
 * ms_transcript_mark_tls:
 *
 * Marks the point where the connection became encrypted.
 */
void
ms_transcript_mark_tls (MsTranscript *self)
{
  g_return_if_fail (MS_IS_TRANSCRIPT (self));

  ms_transcript_add_info (self, "%s", MS_TRANSCRIPT_TLS_MARK);
}

/**
 * ms_transcript_clear:
 *
 * Forgets every line, and any AUTH exchange in progress.
 */
void
ms_transcript_clear (MsTranscript *self)
{
  g_return_if_fail (MS_IS_TRANSCRIPT (self));

  g_mutex_lock (&self->lock);
  g_array_set_size (self->lines, 0);
  for (guint i = 0; i < G_N_ELEMENTS (self->partial); i++)
    {
      memset (self->partial[i]->str, 0, self->partial[i]->len);
      g_string_truncate (self->partial[i], 0);
    }
  self->auth_open = FALSE;
  set_secret_locked (self, NULL);
  g_mutex_unlock (&self->lock);
}

guint
ms_transcript_get_n_lines (MsTranscript *self)
{
  guint n;

  g_return_val_if_fail (MS_IS_TRANSCRIPT (self), 0);

  g_mutex_lock (&self->lock);
  flush_partial_locked (self);
  n = self->lines->len;
  g_mutex_unlock (&self->lock);

  return n;
}

MsTranscriptDirection
ms_transcript_get_direction (MsTranscript *self,
                             guint         i)
{
  MsTranscriptDirection direction = MS_TRANSCRIPT_INFO;
  gboolean found = FALSE;

  g_return_val_if_fail (MS_IS_TRANSCRIPT (self), MS_TRANSCRIPT_INFO);

  g_mutex_lock (&self->lock);
  flush_partial_locked (self);
  if (i < self->lines->len)
    {
      direction = g_array_index (self->lines, Line, i).direction;
      found = TRUE;
    }
  g_mutex_unlock (&self->lock);

  g_return_val_if_fail (found, MS_TRANSCRIPT_INFO);

  return direction;
}

/**
 * ms_transcript_get_line:
 * @i: the line number, from 0
 *
 * Returns: (transfer none): the redacted text of line @i, without its label;
 *   valid until the transcript is cleared
 */
const char *
ms_transcript_get_line (MsTranscript *self,
                        guint         i)
{
  const char *text = NULL;

  g_return_val_if_fail (MS_IS_TRANSCRIPT (self), NULL);

  g_mutex_lock (&self->lock);
  flush_partial_locked (self);
  if (i < self->lines->len)
    text = g_array_index (self->lines, Line, i).text;
  g_mutex_unlock (&self->lock);

  g_return_val_if_fail (text != NULL, NULL);

  return text;
}

/**
 * ms_transcript_to_string:
 *
 * Returns: (transfer full): every line with its label ("C: ", "S: ", "* "),
 *   one per line, each ending in "\n"
 */
char *
ms_transcript_to_string (MsTranscript *self)
{
  GString *out;

  g_return_val_if_fail (MS_IS_TRANSCRIPT (self), NULL);

  out = g_string_new (NULL);
  g_mutex_lock (&self->lock);
  flush_partial_locked (self);
  for (guint i = 0; i < self->lines->len; i++)
    {
      const Line *line = &g_array_index (self->lines, Line, i);
      const char *label;

      switch (line->direction)
        {
        case MS_TRANSCRIPT_CLIENT: label = "C: "; break;
        case MS_TRANSCRIPT_SERVER: label = "S: "; break;
        case MS_TRANSCRIPT_INFO:
        default:                   label = "* "; break;
        }
      g_string_append (out, label);
      g_string_append (out, line->text);
      g_string_append_c (out, '\n');
    }
  g_mutex_unlock (&self->lock);

  return g_string_free (out, FALSE);
}
