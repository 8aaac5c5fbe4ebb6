/* ms-recipients.c: a streaming reader of recipient lists (CSV, RFC 4180)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>
#include <gmime/gmime.h>

#include "ms-error.h"
#include "ms-recipients.h"
#include "ms-user-file.h"

/* Large reads keep the syscall count negligible next to the parse itself. */
#define CHUNK_SIZE (128 * 1024)
/* Limits on what one row may hold. They bound memory (a single 50 MB field
 * peaked at 679 MB) and turn a stray quote, which swallows the rows after
 * it, into an error instead of a silent guess.
 * A value longer than 64 KiB is no name, address or note: it is rows
 * swallowed by a quote, or not a recipient list at all. */
#define MAX_FIELD_SIZE (64 * 1024)
/* A whole row, the header included (the header line is also read before the
 * delimiter is known, with no more than this in memory). */
#define MAX_RECORD_SIZE (1024 * 1024)
/* RFC 4180 allows line breaks inside quotes, and a postal address or a short
 * note takes a few lines. A stray quote swallows rows up to the next quote in
 * the file, usually many lines later: a value with more line breaks than this
 * stops the import rather than being taken for one long value. */
#define MAX_QUOTED_LINES 10
/* Error messages quote at most this many characters of the input: a 50 MB
 * header line made a 52 MB message. */
#define EXCERPT_CHARS 80

struct _MsRecipients
{
  GObject parent_instance;

  GInputStream *stream;
  char *name;
  char delimiter;
  char **fields;
  guint n_fields;
  guint email_index;

  /* Input buffer: bytes [pos, len) are not consumed yet. */
  char *buf;
  gsize buf_size;
  gsize pos;
  gsize len;
  gboolean eof;
  GError *read_error;

  /* The physical line of the read position, and whether the last byte was a
   * CR (so that the LF of a CRLF does not count twice). */
  guint line;
  gboolean after_cr;

  /* The current record: fields NUL-terminated one after another, reused. */
  char *rec;
  gsize rec_len;
  gsize rec_size;
  gsize *offsets;
  guint n_offsets;
  guint offsets_size;
  const char **values;
  guint values_size;
  GPtrArray *repaired;     /* valid UTF-8 copies for a row that had none */

  guint last_count;
  MsRecipientProblem last_problem;
  guint last_line;
  guint nul_column;        /* 1 + the column of the first NUL byte */
  char *detail;
};

G_DEFINE_FINAL_TYPE (MsRecipients, ms_recipients, G_TYPE_OBJECT)

static const char *address_column_names[] = {
  "email", "e-mail", "email address", "e-mail address", "mail", NULL
};

const char *
ms_recipient_problem_get_label (MsRecipientProblem problem)
{
  switch (problem)
    {
    case MS_RECIPIENT_OK:
      return _("OK");
    case MS_RECIPIENT_BAD_ADDRESS:
      return _("Invalid address");
    case MS_RECIPIENT_EMPTY_ADDRESS:
      return _("Empty address");
    case MS_RECIPIENT_FIELD_COUNT:
      return _("Wrong number of fields");
    case MS_RECIPIENT_BAD_UTF8:
      return _("Not valid UTF-8");
    case MS_RECIPIENT_NUL_BYTE:
      return _("Contains a NUL byte");
    default:
      g_return_val_if_reached (NULL);
    }
}

static void
ms_recipients_finalize (GObject *object)
{
  MsRecipients *self = MS_RECIPIENTS (object);

  g_clear_object (&self->stream);
  g_clear_pointer (&self->name, g_free);
  g_clear_pointer (&self->fields, g_strfreev);
  g_clear_pointer (&self->buf, g_free);
  g_clear_error (&self->read_error);
  g_clear_pointer (&self->rec, g_free);
  g_clear_pointer (&self->offsets, g_free);
  g_clear_pointer (&self->values, g_free);
  g_clear_pointer (&self->repaired, g_ptr_array_unref);
  g_clear_pointer (&self->detail, g_free);

  G_OBJECT_CLASS (ms_recipients_parent_class)->finalize (object);
}

static void
ms_recipients_class_init (MsRecipientsClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_recipients_finalize;
}

static void
ms_recipients_init (MsRecipients *self)
{
  self->buf_size = CHUNK_SIZE;
  self->buf = g_malloc (self->buf_size);
  self->rec_size = 4096;
  self->rec = g_malloc (self->rec_size);
  self->offsets_size = 16;
  self->offsets = g_new (gsize, self->offsets_size);
  self->values_size = 16;
  self->values = g_new0 (const char *, self->values_size);
  self->repaired = g_ptr_array_new_with_free_func (g_free);
  self->line = 1;
}

/* At most EXCERPT_CHARS characters of @text (@len bytes, or -1), as valid
 * UTF-8 on one line, with "…" when cut: what a message may quote of the input. */
static char *
excerpt (const char *text,
         gssize      len)
{
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  gsize cut = MIN (n, EXCERPT_CHARS * 4);   /* a character is at most 4 bytes */
  g_autofree char *bytes = g_memdup2 (text, cut + 1);
  g_autofree char *valid = NULL;
  gboolean truncated = cut < n;

  bytes[cut] = '\0';
  /* Line breaks, tabs and NUL bytes would break the message's line. */
  for (gsize i = 0; i < cut; i++)
    if ((guchar) bytes[i] < 0x20 || bytes[i] == 0x7f)
      bytes[i] = ' ';
  valid = g_utf8_make_valid (bytes, cut);
  if (g_utf8_strlen (valid, -1) > EXCERPT_CHARS)
    {
      *g_utf8_offset_to_pointer (valid, EXCERPT_CHARS) = '\0';
      truncated = TRUE;
    }
  return truncated ? g_strconcat (valid, "…", NULL) : g_steal_pointer (&valid);
}

static gunichar find_invisible (const char *text);

/* Input ------------------------------------------------------------------ */

/* Makes at least one unread byte available. FALSE at the end of the input
 * or on a read error (kept in read_error). */
static gboolean
fill (MsRecipients *self)
{
  gssize n;

  if (self->pos < self->len)
    return TRUE;
  if (self->eof)
    return FALSE;

  self->pos = 0;
  self->len = 0;
  n = g_input_stream_read (self->stream, self->buf, self->buf_size, NULL, &self->read_error);
  if (n <= 0)
    {
      self->eof = TRUE;
      return FALSE;
    }
  self->len = n;
  return TRUE;
}

/* Reads more bytes while keeping the unread ones, growing the buffer when it
 * is full; used only for the header line. */
static gboolean
fill_more (MsRecipients *self)
{
  gssize n;

  if (self->eof)
    return FALSE;
  if (self->pos > 0)
    {
      memmove (self->buf, self->buf + self->pos, self->len - self->pos);
      self->len -= self->pos;
      self->pos = 0;
    }
  if (self->len == self->buf_size)
    {
      if (self->buf_size >= MAX_RECORD_SIZE)
        return FALSE;
      self->buf_size *= 2;
      self->buf = g_realloc (self->buf, self->buf_size);
    }
  n = g_input_stream_read (self->stream, self->buf + self->len, self->buf_size - self->len,
                           NULL, &self->read_error);
  if (n <= 0)
    {
      self->eof = TRUE;
      return FALSE;
    }
  self->len += n;
  return TRUE;
}

/* The record buffer --------------------------------------------------------- */

static inline void
rec_append (MsRecipients *self,
            const char   *data,
            gsize         n)
{
  if (G_UNLIKELY (self->rec_len + n + 1 > self->rec_size))
    {
      while (self->rec_len + n + 1 > self->rec_size)
        self->rec_size *= 2;
      self->rec = g_realloc (self->rec, self->rec_size);
    }
  memcpy (self->rec + self->rec_len, data, n);
  self->rec_len += n;
}

static inline void
rec_append_byte (MsRecipients *self,
                 char          c)
{
  rec_append (self, &c, 1);
}

static inline void
field_begin (MsRecipients *self)
{
  if (G_UNLIKELY (self->n_offsets == self->offsets_size))
    {
      self->offsets_size *= 2;
      self->offsets = g_renew (gsize, self->offsets, self->offsets_size);
    }
  self->offsets[self->n_offsets++] = self->rec_len;
}

static inline void
field_end (MsRecipients *self)
{
  rec_append_byte (self, '\0');
}

/* Counts line breaks inside quoted fields: LF, CRLF and a lone CR are one each. */
static inline void
count_newline_byte (MsRecipients *self,
                    char          c)
{
  if (c == '\r')
    {
      self->line++;
      self->after_cr = TRUE;
    }
  else
    {
      if (c == '\n' && !self->after_cr)
        self->line++;
      self->after_cr = FALSE;
    }
}

typedef enum {
  READ_RECORD,
  READ_EOF,
  READ_ERROR,
} ReadResult;

/* The name of column @index for a message: its header name once the header
 * is read, else its number. */
static char *
column_label (MsRecipients *self,
              guint         index)
{
  if (self->fields != NULL && index < self->n_fields)
    {
      g_autofree char *name = excerpt (self->fields[index], -1);
      return g_strdup_printf (_("column “%s”"), name);
    }
  return g_strdup_printf (_("column %u"), index + 1);
}

/* Checks that @n more bytes fit in the current field and record: a value
 * past MAX_FIELD_SIZE or a row past MAX_RECORD_SIZE stops the import. */
static gboolean
room_for (MsRecipients  *self,
          gsize          n,
          guint          field_line,
          GError       **error)
{
  guint index = self->n_offsets - 1;
  gsize field_len = self->rec_len - self->offsets[index];

  if (G_LIKELY (field_len + n <= MAX_FIELD_SIZE && self->rec_len + n <= MAX_RECORD_SIZE))
    return TRUE;

  if (field_len + n > MAX_FIELD_SIZE)
    {
      g_autofree char *column = column_label (self, index);

      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("Line %u of %s: the value in %s is longer than %u KiB, more than any name or "
                     "address. Look for a quote that is not closed, or check that this is the recipient list."),
                   field_line, self->name, column, MAX_FIELD_SIZE / 1024);
    }
  else
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                 _("Line %u of %s is longer than %u MiB, more than any recipient’s row. "
                   "Check that this is the recipient list."),
                 field_line, self->name, MAX_RECORD_SIZE / (1024 * 1024));
  return FALSE;
}

/* How many more bytes the current field may take. */
static gsize
room_left (MsRecipients *self)
{
  gsize field_len = self->rec_len - self->offsets[self->n_offsets - 1];

  return MIN (MAX_FIELD_SIZE - field_len, MAX_RECORD_SIZE - self->rec_len);
}

/* Watches a quoted value as it is read, for the signs of a stray quote: more
 * than MAX_QUOTED_LINES line breaks, or a line after a break that reads like
 * a row of its own (the delimiter, and an address where the address column
 * is). It walks the value in the record buffer once, whatever the reads. */
typedef struct {
  gsize    start;      /* the value's offset in rec */
  gsize    line_from;  /* where the current line of the value starts */
  gsize    scanned;    /* how far the value has been walked */
  guint    breaks;     /* line breaks so far */
  gboolean after_cr;
  guint    row_line;   /* set: the line that reads like a row */
  char    *row_text;   /* its start, for the message */
} QuoteWatch;

static gboolean
looks_like_row (MsRecipients *self,
                const char   *line,
                gsize         len)
{
  const char *p = line, *end = line + len;
  guint index = 0;

  /* Only data rows: the header's address column is not known yet. */
  if (self->fields == NULL)
    return FALSE;
  if (self->n_fields > 1 && memchr (line, self->delimiter, len) == NULL)
    return FALSE;
  for (;;)
    {
      const char *d = memchr (p, self->delimiter, end - p);
      const char *e = d ? d : end;

      if (index == self->email_index)
        {
          g_autofree char *piece = NULL;

          while (p < e && (g_ascii_isspace (*p) || *p == '"'))
            p++;
          while (e > p && (g_ascii_isspace (e[-1]) || e[-1] == '"'))
            e--;
          if (e - p > 254)   /* longer than any address */
            return FALSE;
          piece = g_strndup (p, e - p);
          return ms_recipients_address_is_valid (piece);
        }
      if (d == NULL)
        return FALSE;
      p = d + 1;
      index++;
    }
}

static gboolean
quote_watch (MsRecipients *self,
             QuoteWatch   *w,
             guint         quote_line,
             gboolean      closed)
{
  for (gsize i = w->scanned; i < self->rec_len; i++)
    {
      char c = self->rec[i];

      if (c == '\n' && w->after_cr)
        {
          w->after_cr = FALSE;
          w->line_from = i + 1;
          continue;
        }
      w->after_cr = FALSE;
      if (c != '\r' && c != '\n')
        continue;
      if (w->breaks > 0 && looks_like_row (self, self->rec + w->line_from, i - w->line_from))
        {
          w->row_line = quote_line + w->breaks;
          w->row_text = excerpt (self->rec + w->line_from, i - w->line_from);
          return FALSE;
        }
      w->breaks++;
      w->after_cr = c == '\r';
      w->line_from = i + 1;
      if (w->breaks > MAX_QUOTED_LINES)
        return FALSE;
    }
  w->scanned = self->rec_len;

  /* The last line of the value, up to the closing quote. */
  if (closed && w->breaks > 0 && w->line_from < self->rec_len
      && looks_like_row (self, self->rec + w->line_from, self->rec_len - w->line_from))
    {
      w->row_line = quote_line + w->breaks;
      w->row_text = excerpt (self->rec + w->line_from, self->rec_len - w->line_from);
      return FALSE;
    }
  return TRUE;
}

/* After a stray quote is seen: reads on, keeping nothing, to the quote that
 * closes the value. Returns its line, or 0 when it is never closed. */
static guint
find_closing_quote (MsRecipients *self)
{
  for (;;)
    {
      const char *p, *q, *end;

      if (!fill (self))
        return 0;
      p = self->buf + self->pos;
      end = self->buf + self->len;
      q = memchr (p, '"', end - p);
      for (const char *s = p; s < (q ? q : end); s++)
        if (*s == '\r' || *s == '\n' || self->after_cr)
          count_newline_byte (self, *s);
      if (q == NULL)
        {
          self->pos = self->len;
          continue;
        }
      self->pos += q - p + 1;
      self->after_cr = FALSE;
      if (fill (self) && self->buf[self->pos] == '"')
        {
          self->pos++;   /* a doubled quote: a quote inside the value */
          continue;
        }
      return self->line;
    }
}

/* @closed: the value's closing quote was just read (else it is looked for). */
static void
set_stray_quote_error (MsRecipients  *self,
                       QuoteWatch    *w,
                       guint          quote_line,
                       gboolean       closed,
                       GError       **error)
{
  guint close_line = closed ? self->line : find_closing_quote (self);
  const char *advice = _("A stray quote swallows the rows after it: remove it, or write a quote inside "
                         "a value as two quotes (\"\").");

  if (self->read_error != NULL)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("Could not read the recipient list %s: %s"),
                   self->name, self->read_error->message);
      return;
    }
  if (w->row_line > 0 && close_line > 0)
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                 _("The quote opened on line %u of %s closes only on line %u, and the value it "
                   "holds reads like rows of their own (line %u: “%s”). %s"),
                 quote_line, self->name, close_line, w->row_line, w->row_text, advice);
  else if (w->row_line > 0)
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                 _("The quote opened on line %u of %s is never closed, and the value it "
                   "holds reads like rows of their own (line %u: “%s”). %s"),
                 quote_line, self->name, w->row_line, w->row_text, advice);
  else if (close_line > 0)
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                 _("The quote opened on line %u of %s closes only on line %u: a value may span "
                   "at most %u lines. %s"),
                 quote_line, self->name, close_line, MAX_QUOTED_LINES + 1, advice);
  else
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                 _("The quote opened on line %u of %s is never closed (a value may span at most "
                   "%u lines). %s"),
                 quote_line, self->name, MAX_QUOTED_LINES + 1, advice);
}

/* Reads one record into rec/offsets. Blank lines are skipped, and so is a
 * byte order mark at the start of a line: two exported lists joined with
 * `cat` carry the second one's BOM into the middle of the file, where it
 * would become an invisible first character of the row.
 * The record's first line goes to @start_line. */
static ReadResult
read_record (MsRecipients  *self,
             guint         *start_line,
             GError       **error)
{
  const char delim = self->delimiter;

  self->rec_len = 0;
  self->n_offsets = 0;

  /* Skip the LF of a CRLF that ended the previous record, and blank lines. */
  for (;;)
    {
      char c;

      if (!fill (self))
        goto eof;
      c = self->buf[self->pos];
      if (c == '\n')
        {
          if (!self->after_cr)
            self->line++;
          self->after_cr = FALSE;
          self->pos++;
        }
      else if (c == '\r')
        {
          self->line++;
          self->after_cr = TRUE;
          self->pos++;
        }
      else if (c == '\xEF')
        {
          /* The three bytes of a BOM may straddle two reads. */
          while (self->len - self->pos < 3 && fill_more (self))
            ;
          if (self->len - self->pos >= 3 && memcmp (self->buf + self->pos, "\xEF\xBB\xBF", 3) == 0)
            {
              self->pos += 3;
              self->after_cr = FALSE;
              continue;
            }
          break;
        }
      else
        break;
    }
  self->after_cr = FALSE;
  *start_line = self->line;

  for (;;)
    {
      guint field_line = self->line;

      /* At the start of a field. */
      field_begin (self);

      if (!fill (self))
        {
          field_end (self);
          goto record_done_eof;
        }

      if (self->buf[self->pos] == '"')
        {
          guint quote_line = self->line;
          QuoteWatch watch = { 0, };

          watch.start = watch.line_from = watch.scanned = self->rec_len;
          self->pos++;
          for (;;)
            {
              const char *p, *end;

              if (!fill (self))
                {
                  if (self->read_error)
                    goto read_failed;
                  g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                               _("The quote opened on line %u of %s is never closed. "
                                 "Close it, or write a quote inside a quoted field as two quotes (\"\")."),
                               quote_line, self->name);
                  return READ_ERROR;
                }
              p = self->buf + self->pos;
              end = self->buf + self->len;
              {
                const char *q = memchr (p, '"', end - p);
                const char *stop = q ? q : end;
                gsize room = room_left (self);
                gboolean full = FALSE;

                /* Take what fits, and watch it first: past the limit, a
                 * stray quote is the better diagnosis than the length. */
                if ((gsize) (stop - p) > room)
                  {
                    stop = p + room;
                    q = NULL;
                    full = TRUE;
                  }
                for (const char *s = p; s < stop; s++)
                  if (*s == '\r' || *s == '\n' || self->after_cr)
                    count_newline_byte (self, *s);
                rec_append (self, p, stop - p);
                self->pos += stop - p;
                if (!quote_watch (self, &watch, quote_line, FALSE))
                  {
                    set_stray_quote_error (self, &watch, quote_line, FALSE, error);
                    g_free (watch.row_text);
                    return READ_ERROR;
                  }
                if (full)
                  {
                    room_for (self, 1, field_line, error);
                    return READ_ERROR;
                  }
                if (q == NULL)
                  continue;
              }
              /* A quote: doubled means a literal quote, else the field's end. */
              self->pos++;
              self->after_cr = FALSE;
              if (fill (self) && self->buf[self->pos] == '"')
                {
                  if (!room_for (self, 1, field_line, error))
                    return READ_ERROR;
                  rec_append_byte (self, '"');
                  self->pos++;
                  continue;
                }
              break;
            }
          if (!quote_watch (self, &watch, quote_line, TRUE))
            {
              /* Closed already: its last line read like a row. */
              set_stray_quote_error (self, &watch, quote_line, TRUE, error);
              g_free (watch.row_text);
              return READ_ERROR;
            }
          /* Anything between the closing quote and the delimiter is kept as
           * is: lenient, as spreadsheets are. Falls through to unquoted. */
        }

      /* Unquoted content up to the delimiter or the end of the line. */
      for (;;)
        {
          const char *p, *s, *end;

          if (!fill (self))
            {
              field_end (self);
              goto record_done_eof;
            }
          p = s = self->buf + self->pos;
          end = self->buf + self->len;
          while (s < end && *s != delim && *s != '\n' && *s != '\r')
            s++;
          if (!room_for (self, s - p, field_line, error))
            return READ_ERROR;
          rec_append (self, p, s - p);
          self->pos += s - p;
          if (s == end)
            continue;

          self->pos++;
          if (*s == delim)
            {
              field_end (self);
              break;   /* next field */
            }
          /* End of the record. */
          self->line++;
          self->after_cr = (*s == '\r');
          field_end (self);
          return READ_RECORD;
        }
    }

record_done_eof:
  if (self->read_error)
    goto read_failed;
  return READ_RECORD;

eof:
  if (self->read_error)
    goto read_failed;
  return READ_EOF;

read_failed:
  g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
               _("Could not read the recipient list %s: %s"),
               self->name, self->read_error->message);
  return READ_ERROR;
}

/* The length of field @i of the current record, NUL bytes inside included. */
static gsize
field_len (MsRecipients *self,
           guint         i)
{
  gsize end = i + 1 < self->n_offsets ? self->offsets[i + 1] : self->rec_len;

  return end - 1 - self->offsets[i];   /* without its terminator */
}

static void
fill_values (MsRecipients *self,
             guint         min_count)
{
  guint n = MAX (self->n_offsets, min_count);

  if (n + 1 > self->values_size)
    {
      self->values_size = n + 1;
      self->values = g_renew (const char *, self->values, self->values_size);
    }
  for (guint i = 0; i < self->n_offsets; i++)
    self->values[i] = self->rec + self->offsets[i];
  for (guint i = self->n_offsets; i < n; i++)
    self->values[i] = "";
  self->values[n] = NULL;
}

/* The header ------------------------------------------------------------- */

/* Picks the delimiter that occurs most often outside quotes in the first line. */
static char
detect_delimiter (MsRecipients *self)
{
  guint comma = 0, semicolon = 0, tab = 0;
  gboolean quoted = FALSE;
  gsize i = self->pos;

  for (;;)
    {
      char c;

      if (i >= self->len)
        {
          gsize consumed = i - self->pos;

          if (!fill_more (self))
            break;
          i = self->pos + consumed;
          continue;
        }
      c = self->buf[i++];
      if (c == '"')
        quoted = !quoted;
      else if (quoted)
        continue;
      else if (c == '\n' || c == '\r')
        break;
      else if (c == ',')
        comma++;
      else if (c == ';')
        semicolon++;
      else if (c == '\t')
        tab++;
    }

  if (semicolon > comma && semicolon >= tab)
    return ';';
  if (tab > comma && tab > semicolon)
    return '\t';
  return ',';
}

/* The header's names for a message, cut to EXCERPT_CHARS characters. */
static char *
column_list (char **fields)
{
  g_autoptr(GString) list = g_string_new (NULL);

  for (guint i = 0; fields[i] != NULL && list->len <= EXCERPT_CHARS * 4; i++)
    g_string_append_printf (list, "%s%s", i > 0 ? ", " : "", fields[i]);
  return excerpt (list->str, list->len);
}

static gboolean
name_matches (const char *a,
              const char *b)
{
  return g_ascii_strcasecmp (a, b) == 0;
}

static gboolean
read_header (MsRecipients  *self,
             const char    *email_column,
             GError       **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *columns = NULL;
  guint start_line;
  ReadResult r;

  /* A UTF-8 BOM, which spreadsheets like to write. */
  while (self->len - self->pos < 3 && fill_more (self))
    ;
  if (self->read_error)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("Could not read the recipient list %s: %s"),
                   self->name, self->read_error->message);
      return FALSE;
    }
  if (self->len - self->pos >= 3 && memcmp (self->buf + self->pos, "\xEF\xBB\xBF", 3) == 0)
    self->pos += 3;

  self->delimiter = detect_delimiter (self);

  r = read_record (self, &start_line, error);
  if (r == READ_ERROR)
    return FALSE;
  if (r == READ_EOF)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The recipient list %s is empty. Its first line must name the columns, "
                     "for example “email,name”."), self->name);
      return FALSE;
    }

  for (guint i = 0; i < self->n_offsets; i++)
    {
      const char *raw = self->rec + self->offsets[i];
      char *name;
      char *key;
      guint earlier;

      if (memchr (raw, '\0', field_len (self, i)) != NULL)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("Column %u of the header line of %s holds a NUL byte: this is not a text file "
                         "(UTF-16?). Save the file as UTF-8."), i + 1, self->name);
          return FALSE;
        }
      if (!g_utf8_validate (raw, -1, NULL))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("Column %u of the header line of %s is not valid UTF-8. "
                         "Save the file as UTF-8."), i + 1, self->name);
          return FALSE;
        }
      name = g_strstrip (g_strdup (raw));
      if (*name == '\0')
        {
          g_free (name);
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("Column %u of the header line of %s has no name. "
                         "Give every column a name in the first line."), i + 1, self->name);
          return FALSE;
        }
      /* A hash of the names seen, not a scan of them: a header of tens of
       * thousands of columns (a wrong file picked) must not take minutes. */
      key = g_ascii_strdown (name, -1);
      earlier = GPOINTER_TO_UINT (g_hash_table_lookup (seen, key));
      if (earlier != 0)
        {
          g_autofree char *shown = excerpt (name, -1);

          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("Columns %u and %u of %s are both called “%s”. "
                         "Give each column its own name."), earlier, i + 1, self->name, shown);
          g_free (key);
          g_free (name);
          return FALSE;
        }
      g_hash_table_insert (seen, key, GUINT_TO_POINTER (i + 1));
      g_ptr_array_add (names, name);
    }
  g_ptr_array_add (names, NULL);
  self->n_fields = names->len - 1;
  self->fields = (char **) g_ptr_array_free (g_steal_pointer (&names), FALSE);
  columns = column_list (self->fields);

  if (email_column != NULL)
    {
      g_autofree char *wanted = g_strstrip (g_strdup (email_column));
      g_autofree char *shown = NULL;

      for (guint i = 0; i < self->n_fields; i++)
        if (name_matches (self->fields[i], wanted))
          {
            self->email_index = i;
            return TRUE;
          }
      shown = excerpt (wanted, -1);
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The recipient list %s has no column “%s”. Its columns are: %s."),
                   self->name, shown, columns);
      return FALSE;
    }

  for (guint k = 0; address_column_names[k] != NULL; k++)
    for (guint i = 0; i < self->n_fields; i++)
      if (name_matches (self->fields[i], address_column_names[k]))
        {
          self->email_index = i;
          return TRUE;
        }

  g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
               _("The recipient list %s has no address column. Call it “email”, or name it "
                 "with the email column option. Its columns are: %s."),
               self->name, columns);
  return FALSE;
}

/* Public ------------------------------------------------------------------- */

/**
 * ms_recipients_new_for_stream:
 * @stream: the CSV bytes; read in large chunks, never all at once
 * @name: how to call the list in messages (a file name)
 * @email_column: (nullable): the address column's name, or %NULL to find it
 *
 * Returns: (transfer full): a reader positioned after the header line.
 */
MsRecipients *
ms_recipients_new_for_stream (GInputStream *stream,
                              const char   *name,
                              const char   *email_column,
                              GError      **error)
{
  g_autoptr(MsRecipients) self = NULL;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (MS_TYPE_RECIPIENTS, NULL);
  self->stream = g_object_ref (stream);
  self->name = g_strdup (name ? name : _("the recipient list"));
  self->len = 0;

  if (!read_header (self, email_column, error))
    return NULL;

  return g_steal_pointer (&self);
}

/**
 * ms_recipients_new_for_path:
 * @path: a CSV file
 * @email_column: (nullable): the address column's name, or %NULL to find it
 *
 * Returns: (transfer full): a reader positioned after the header line.
 */
MsRecipients *
ms_recipients_new_for_path (const char  *path,
                            const char  *email_column,
                            GError     **error)
{
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Regular files only, checked without blocking: a named pipe with no
   * writer hung the import for ever in open(). */
  stream = ms_user_file_open (path, &local_error);
  if (stream == NULL)
    {
      /* GIO's own message repeats the path and the verb; say it once. */
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                     _("The recipient list %s does not exist: check the file name."), path);
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_IS_DIRECTORY))
        g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                     _("The recipient list %s is a folder: give the CSV file in it."), path);
      else if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_PERMISSION_DENIED))
        g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                     _("The recipient list %s cannot be read: you do not have permission."), path);
      else
        g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                     _("Could not open the recipient list %s: %s"), path, local_error->message);
      return NULL;
    }
  return ms_recipients_new_for_stream (stream, path, email_column, error);
}

const char * const *
ms_recipients_get_fields (MsRecipients *self)
{
  g_return_val_if_fail (MS_IS_RECIPIENTS (self), NULL);
  return (const char * const *) self->fields;
}

guint
ms_recipients_get_email_index (MsRecipients *self)
{
  g_return_val_if_fail (MS_IS_RECIPIENTS (self), 0);
  return self->email_index;
}

char
ms_recipients_get_delimiter (MsRecipients *self)
{
  g_return_val_if_fail (MS_IS_RECIPIENTS (self), ',');
  return self->delimiter;
}

/**
 * ms_recipients_get_n_fields:
 *
 * Returns: the number of columns in the header line.
 */
guint
ms_recipients_get_n_fields (MsRecipients *self)
{
  g_return_val_if_fail (MS_IS_RECIPIENTS (self), 0);
  return self->n_fields;
}

/**
 * ms_recipients_get_row_field_count:
 *
 * Returns: how many fields the row last returned by ms_recipients_next() had
 * (differs from the header's count when its problem is
 * %MS_RECIPIENT_FIELD_COUNT).
 */
guint
ms_recipients_get_row_field_count (MsRecipients *self)
{
  g_return_val_if_fail (MS_IS_RECIPIENTS (self), 0);
  return self->last_count;
}

/* Trims the address in place: the record buffer is ours until the next row. */
static const char *
trim_in_place (char *s)
{
  char *end;

  while (g_ascii_isspace (*s))
    s++;
  end = s + strlen (s);
  while (end > s && g_ascii_isspace (end[-1]))
    end--;
  *end = '\0';
  return s;
}

gboolean
ms_recipients_next (MsRecipients         *self,
                    const char * const  **values,
                    guint                *line,
                    MsRecipientProblem   *problem,
                    GError              **error)
{
  MsRecipientProblem p = MS_RECIPIENT_OK;
  guint start_line = 0;
  ReadResult r;

  g_return_val_if_fail (MS_IS_RECIPIENTS (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_clear_pointer (&self->detail, g_free);
  if (self->repaired->len > 0)
    g_ptr_array_set_size (self->repaired, 0);

  r = read_record (self, &start_line, error);
  if (r != READ_RECORD)
    return FALSE;

  self->last_count = self->n_offsets;
  self->nul_column = 0;
  fill_values (self, self->n_fields);

  /* With its length, g_utf8_validate() also fails on a NUL byte, which would
   * otherwise cut the value short without a word. */
  for (guint i = 0; i < self->n_offsets; i++)
    if (!g_utf8_validate_len (self->values[i], field_len (self, i), NULL))
      {
        if (memchr (self->values[i], '\0', field_len (self, i)) != NULL)
          {
            p = MS_RECIPIENT_NUL_BYTE;
            self->nul_column = i + 1;
            break;
          }
        p = MS_RECIPIENT_BAD_UTF8;
      }

  if (p == MS_RECIPIENT_BAD_UTF8 || p == MS_RECIPIENT_NUL_BYTE)
    {
      /* Callers print these values: hand them valid text, whole, with
       * U+FFFD where a NUL byte or an invalid sequence was. */
      for (guint i = 0; i < self->n_offsets; i++)
        {
          gsize len = field_len (self, i);
          g_autofree char *copy = g_memdup2 (self->values[i], len + 1);
          char *fixed;

          for (char *z = memchr (copy, '\0', len); z != NULL; z = memchr (z, '\0', copy + len - z))
            *z = '\xff';   /* invalid: make_valid turns it into U+FFFD */
          fixed = g_utf8_make_valid (copy, len);
          g_ptr_array_add (self->repaired, fixed);
          self->values[i] = fixed;
        }
    }
  else
    {
      /* Short rows are padded with a constant "": only trim our own buffer. */
      if (self->email_index < self->n_offsets)
        self->values[self->email_index] =
          trim_in_place ((char *) self->values[self->email_index]);

      if (self->n_offsets != self->n_fields)
        p = MS_RECIPIENT_FIELD_COUNT;
      else if (self->values[self->email_index][0] == '\0')
        p = MS_RECIPIENT_EMPTY_ADDRESS;
      else if (!ms_recipients_address_is_valid (self->values[self->email_index]))
        p = MS_RECIPIENT_BAD_ADDRESS;
    }

  self->last_problem = p;
  self->last_line = start_line;

  if (values)
    *values = (const char * const *) self->values;
  if (line)
    *line = start_line;
  if (problem)
    *problem = p;
  return TRUE;
}

/**
 * ms_recipients_check_rest:
 * @n_records: (out) (optional): the records read
 *
 * Reads the rest of the file as ms_recipients_next() would, checking only
 * what stops an import as a whole (a quote never closed or swallowing rows,
 * a value or a line too long, a read error), with the same errors, but
 * not the rows themselves: no UTF-8 check, no address check. A blast that
 * starts sending before its list is imported (ms_import_start()) runs it
 * first, so that such an error still stops the batch before anything is
 * sent. About a tenth of what reading the rows costs.
 *
 * Returns: %FALSE with the error ms_recipients_next() would give.
 */
gboolean
ms_recipients_check_rest (MsRecipients  *self,
                          guint         *n_records,
                          GError       **error)
{
  guint start_line;
  guint n = 0;
  ReadResult r;

  g_return_val_if_fail (MS_IS_RECIPIENTS (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  while ((r = read_record (self, &start_line, error)) == READ_RECORD)
    n++;
  if (n_records != NULL)
    *n_records = n;
  return r == READ_EOF;
}

/**
 * ms_recipients_skip_through:
 * @line: a line a record starts on
 *
 * Skips the records up to and including the one that starts on @line,
 * reading only their structure: a resume that imports the rest of a list
 * goes on after the last row that went in.
 *
 * Returns: %FALSE on an error (as ms_recipients_next()) or when the file
 *   ends before @line.
 */
gboolean
ms_recipients_skip_through (MsRecipients  *self,
                            guint          line,
                            GError       **error)
{
  guint start_line = 0;

  g_return_val_if_fail (MS_IS_RECIPIENTS (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  while (start_line < line)
    {
      ReadResult r = read_record (self, &start_line, error);

      if (r == READ_ERROR)
        return FALSE;
      if (r == READ_EOF)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("The recipient list %s ends before line %u: it is not the file this batch was "
                         "imported from."), self->name, line);
          return FALSE;
        }
    }
  return TRUE;
}

/**
 * ms_recipients_get_problem_detail:
 *
 * Returns: (nullable): a sentence about the problem of the row last returned
 * by ms_recipients_next(), naming its line, or %NULL when it had none.
 * Valid until the next call to ms_recipients_next().
 */
const char *
ms_recipients_get_problem_detail (MsRecipients *self)
{
  g_return_val_if_fail (MS_IS_RECIPIENTS (self), NULL);

  if (self->detail != NULL || self->last_problem == MS_RECIPIENT_OK)
    return self->detail;

  switch (self->last_problem)
    {
    case MS_RECIPIENT_BAD_ADDRESS:
      {
        const char *address = self->values[self->email_index];
        g_autofree char *shown = excerpt (address, -1);
        gunichar invisible = find_invisible (address);

        if (invisible != 0)
          self->detail = g_strdup_printf (_("Line %u: “%s” is not a valid e-mail address: it holds an "
                                            "invisible character (U+%04X). Delete the address and type it again."),
                                          self->last_line, shown, invisible);
        else
          self->detail = g_strdup_printf (_("Line %u: “%s” is not a valid e-mail address."),
                                          self->last_line, shown);
      }
      break;
    case MS_RECIPIENT_EMPTY_ADDRESS:
      self->detail = g_strdup_printf (_("Line %u: the address (column “%s”) is empty."),
                                      self->last_line, self->fields[self->email_index]);
      break;
    case MS_RECIPIENT_FIELD_COUNT:
      self->detail = g_strdup_printf (_("Line %u: expected %u fields, got %u. "
                                        "Quote values that contain the delimiter."),
                                      self->last_line, self->n_fields, self->last_count);
      break;
    case MS_RECIPIENT_BAD_UTF8:
      self->detail = g_strdup_printf (_("Line %u is not valid UTF-8. Save the file as UTF-8."),
                                      self->last_line);
      break;
    case MS_RECIPIENT_NUL_BYTE:
      {
        g_autofree char *column = column_label (self, self->nul_column - 1);

        self->detail = g_strdup_printf (_("Line %u: the value in %s holds a NUL byte, which no text has. "
                                          "Save the file as UTF-8 text."),
                                        self->last_line, column);
      }
      break;
    case MS_RECIPIENT_OK:
    default:
      break;
    }
  return self->detail;
}

static GMimeParserOptions *
strict_options (void)
{
  static GMimeParserOptions *options = NULL;

  if (g_once_init_enter (&options))
    {
      GMimeParserOptions *o = g_mime_parser_options_new ();

      g_mime_parser_options_set_address_compliance_mode (o, GMIME_RFC_COMPLIANCE_STRICT);
      g_mime_parser_options_set_allow_addresses_without_domain (o, FALSE);
      g_once_init_leave (&options, o);
    }
  return options;
}

/* RFC 5321 domain: dot-separated labels of letters, digits and hyphens,
 * 1–63 characters each, no hyphen at either end, at most 253 in all, at
 * least two labels, and a last label that is not all digits (a mistyped IP
 * address). A name in another script is checked in its ASCII form. */
static gboolean
domain_name_is_valid (const char *domain)
{
  g_autofree char *ascii = NULL;
  const char *label;
  gboolean dotted = FALSE, last_all_digits = TRUE;
  gsize len;

  if (g_hostname_is_non_ascii (domain))
    {
      ascii = g_hostname_to_ascii (domain);
      if (ascii == NULL)
        return FALSE;
      domain = ascii;
    }
  len = strlen (domain);
  if (len == 0 || len > 253)
    return FALSE;
  label = domain;
  for (gsize i = 0; i <= len; i++)
    {
      if (i == len || domain[i] == '.')
        {
          gsize label_len = (domain + i) - label;

          if (label_len == 0 || label_len > 63 || label[0] == '-' || label[label_len - 1] == '-')
            return FALSE;
          if (i == len)
            return dotted && !last_all_digits;
          dotted = TRUE;
          last_all_digits = TRUE;
          label = domain + i + 1;
          continue;
        }
      if (!g_ascii_isalnum (domain[i]) && domain[i] != '-')
        return FALSE;
      if (!g_ascii_isdigit (domain[i]))
        last_all_digits = FALSE;
    }
  g_assert_not_reached ();
}

/* RFC 5321 address literal: [192.0.2.1] or [IPv6:2001:db8::1]. */
static gboolean
address_literal_is_valid (const char *domain)
{
  gsize len = strlen (domain);
  g_autofree char *inner = NULL;

  if (len < 3 || domain[0] != '[' || domain[len - 1] != ']')
    return FALSE;
  inner = g_strndup (domain + 1, len - 2);
  if (g_ascii_strncasecmp (inner, "IPv6:", 5) == 0)
    return strchr (inner + 5, ':') != NULL && g_hostname_is_ip_address (inner + 5);
  return strchr (inner, ':') == NULL && g_hostname_is_ip_address (inner);
}

/* The first character of @text no one can see or that breaks a line
 * (controls, spaces other than U+0020, format characters such as the BOM
 * U+FEFF, zero-width spaces and direction marks), or 0. @text is UTF-8. */
static gunichar
find_invisible (const char *text)
{
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c;

      if ((guchar) *p < 0x80)
        continue;
      c = g_utf8_get_char (p);
      switch (g_unichar_type (c))
        {
        case G_UNICODE_CONTROL:
        case G_UNICODE_FORMAT:
        case G_UNICODE_SPACE_SEPARATOR:
        case G_UNICODE_LINE_SEPARATOR:
        case G_UNICODE_PARAGRAPH_SEPARATOR:
          return c;
        default:
          break;
        }
    }
  return 0;
}

/**
 * ms_recipients_address_is_valid:
 * @address: a bare address (no display name, no angle brackets)
 *
 * The one rule for an e-mail address in Mailshot: a recipient's, and the
 * account's own (ms-account.c uses it too; the two used to disagree, for
 * example on "a@1.2.3.4", "a@exa_mple.org" and "a(comment)@example.org").
 *
 * GMime, in strict mode, must read exactly one mailbox whose address is the
 * input itself, byte for byte (in its Unicode or its ASCII form): so no
 * display name, comment, group, trailing dot or semicolon. Then the project's
 * own checks: at most 254 bytes, a local part of 1–64 bytes with no empty
 * dot-atom, nothing invisible (a BOM or a zero-width space made an address
 * that looked right and went to a mailbox that does not exist), and a domain
 * that is a host name with a dot or an address literal.
 */
gboolean
ms_recipients_address_is_valid (const char *address)
{
  InternetAddressList *list;
  const char *at;
  gsize len;
  gboolean valid = FALSE;

  g_return_val_if_fail (address != NULL, FALSE);

  /* Cheap rejections first: GMime would accept a display name or brackets,
   * but a recipient column holds bare addresses. */
  len = strlen (address);
  if (len == 0 || len > 254 || strchr (address, '@') == NULL)
    return FALSE;
  for (const char *s = address; *s; s++)
    if (g_ascii_isspace (*s) || *s == '<' || *s == '>' || *s == ',' || (guchar) *s < 0x20 || *s == 0x7f)
      return FALSE;
  if (!g_utf8_validate (address, len, NULL) || find_invisible (address) != 0)
    return FALSE;

  /* GMime is lenient about dots (it drops a trailing one): check the
   * dot-atoms of the input itself too. */
  at = strrchr (address, '@');
  if (at == address || at - address > 64
      || (at - address == 2 && address[0] == '"'))   /* an empty quoted local part */
    return FALSE;
  if (address[0] != '"'
      && (address[0] == '.' || at[-1] == '.' || g_strstr_len (address, at - address, "..")))
    return FALSE;
  if (at[1] == '[' ? !address_literal_is_valid (at + 1) : !domain_name_is_valid (at + 1))
    return FALSE;

  /* GMime 3.2 has no autoptr cleanups for its types. */
  list = internet_address_list_parse (strict_options (), address);
  if (list == NULL)
    return FALSE;
  if (internet_address_list_length (list) == 1)
    {
      InternetAddress *ia = internet_address_list_get_address (list, 0);

      if (INTERNET_ADDRESS_IS_MAILBOX (ia))
        {
          InternetAddressMailbox *mailbox = INTERNET_ADDRESS_MAILBOX (ia);
          const char *addr = internet_address_mailbox_get_addr (mailbox);
          const char *idn = internet_address_mailbox_get_idn_addr (mailbox);

          valid = (addr != NULL && strcmp (addr, address) == 0)
                  || (idn != NULL && strcmp (idn, address) == 0);
        }
    }
  g_object_unref (list);
  return valid;
}

/**
 * ms_recipients_address_key:
 * @address: a valid address
 *
 * Returns: (transfer full): the address folded to lower case, the key by
 * which duplicates are found (the issue asks for a case-insensitive match).
 */
char *
ms_recipients_address_key (const char *address)
{
  g_return_val_if_fail (address != NULL, NULL);

  for (const char *p = address; *p; p++)
    if ((guchar) *p >= 0x80)
      return g_utf8_strdown (address, -1);
  return g_ascii_strdown (address, -1);
}

/**
 * ms_recipients_read_header:
 * @stream: the CSV bytes
 * @name: how to call the list in messages
 * @email_index: (out): the address column found by name, or -1 when no
 *   column is recognised as the address
 *
 * The header alone, for a caller that lets the user pick the address column
 * (the import preview): unlike ms_recipients_new_for_stream(), a list whose
 * address column is not recognised is not an error here. Every other problem
 * of the header is, with the same message.
 *
 * Returns: (transfer full): the column names, or %NULL with @error set
 */
char **
ms_recipients_read_header (GInputStream  *stream,
                           const char    *name,
                           int           *email_index,
                           GError       **error)
{
  g_autoptr(MsRecipients) self = NULL;
  g_autoptr(GError) local_error = NULL;

  g_return_val_if_fail (G_IS_INPUT_STREAM (stream), NULL);
  g_return_val_if_fail (email_index != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (MS_TYPE_RECIPIENTS, NULL);
  self->stream = g_object_ref (stream);
  self->name = g_strdup (name ? name : _("the recipient list"));

  if (read_header (self, NULL, &local_error))
    *email_index = (int) self->email_index;
  /* read_header() keeps the names once it has read them all; the only
   * failure after that is the search for the address column. */
  else if (self->fields != NULL)
    *email_index = -1;
  else
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return NULL;
    }
  return g_strdupv (self->fields);
}
