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
/* The header line is found before the delimiter is known; a header longer
 * than this is not a recipient list. */
#define MAX_HEADER_SIZE (4 * 1024 * 1024)

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
      if (self->buf_size >= MAX_HEADER_SIZE)
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

/* Reads one record into rec/offsets. Blank lines are skipped.
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
      else
        break;
    }
  self->after_cr = FALSE;
  *start_line = self->line;

  for (;;)
    {
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

                for (const char *s = p; s < stop; s++)
                  if (*s == '\r' || *s == '\n' || self->after_cr)
                    count_newline_byte (self, *s);
                rec_append (self, p, stop - p);
                self->pos += stop - p;
                if (q == NULL)
                  continue;
              }
              /* A quote: doubled means a literal quote, else the field's end. */
              self->pos++;
              self->after_cr = FALSE;
              if (fill (self) && self->buf[self->pos] == '"')
                {
                  rec_append_byte (self, '"');
                  self->pos++;
                  continue;
                }
              break;
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

static char *
column_list (char **fields)
{
  return g_strjoinv (", ", fields);
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
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("Columns %u and %u of %s are both called “%s”. "
                         "Give each column its own name."), earlier, i + 1, self->name, name);
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

      for (guint i = 0; i < self->n_fields; i++)
        if (name_matches (self->fields[i], wanted))
          {
            self->email_index = i;
            return TRUE;
          }
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The recipient list %s has no column “%s”. Its columns are: %s."),
                   self->name, wanted, columns);
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
  fill_values (self, self->n_fields);

  for (guint i = 0; i < self->n_offsets; i++)
    if (!g_utf8_validate (self->values[i], -1, NULL))
      {
        p = MS_RECIPIENT_BAD_UTF8;
        break;
      }

  if (p == MS_RECIPIENT_BAD_UTF8)
    {
      /* Callers print these values: hand them valid text. */
      for (guint i = 0; i < self->n_offsets; i++)
        {
          char *fixed = g_utf8_make_valid (self->values[i], -1);

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
      self->detail = g_strdup_printf (_("Line %u: “%s” is not a valid e-mail address."),
                                      self->last_line, self->values[self->email_index]);
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

static gboolean
domain_is_valid (const char *domain)
{
  gsize len = strlen (domain);

  if (len == 0)
    return FALSE;
  /* An address literal: [192.0.2.1] or [IPv6:...]. */
  if (domain[0] == '[')
    return len > 2 && domain[len - 1] == ']';
  if (strchr (domain, '.') == NULL || domain[0] == '.' || domain[len - 1] == '.'
      || strstr (domain, "..") != NULL)
    return FALSE;
  for (const char *s = domain; *s; s++)
    if (*s == '[' || *s == ']' || *s == '@')
      return FALSE;
  return TRUE;
}

/**
 * ms_recipients_address_is_valid:
 * @address: a bare address (no display name, no angle brackets)
 *
 * Validates with GMime in strict mode: exactly one mailbox whose address is
 * local@domain, the domain with a dot (or an address literal), no spaces.
 */
gboolean
ms_recipients_address_is_valid (const char *address)
{
  InternetAddressList *list;
  InternetAddress *ia;
  const char *addr;
  const char *at;
  gboolean valid = FALSE;

  g_return_val_if_fail (address != NULL, FALSE);

  /* Cheap rejections first: GMime would accept a display name or brackets,
   * but a recipient column holds bare addresses. */
  if (*address == '\0' || strchr (address, '@') == NULL)
    return FALSE;
  for (const char *s = address; *s; s++)
    if (g_ascii_isspace (*s) || *s == '<' || *s == '>' || *s == ',' || (guchar) *s < 0x20)
      return FALSE;

  /* GMime is lenient about dots (it drops a trailing one): check the
   * dot-atoms of the input itself too. */
  at = strrchr (address, '@');
  if (at == address || !domain_is_valid (at + 1)
      || (at - address == 2 && address[0] == '"'))   /* an empty quoted local part */
    return FALSE;
  if (address[0] != '"'
      && (address[0] == '.' || at[-1] == '.' || g_strstr_len (address, at - address, "..")))
    return FALSE;

  /* GMime 3.2 has no autoptr cleanups for its types. */
  list = internet_address_list_parse (strict_options (), address);
  if (list == NULL)
    return FALSE;
  if (internet_address_list_length (list) == 1)
    {
      ia = internet_address_list_get_address (list, 0);
      if (INTERNET_ADDRESS_IS_MAILBOX (ia))
        {
          addr = internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (ia));
          at = addr ? strrchr (addr, '@') : NULL;
          valid = at != NULL && at != addr && strchr (addr, ' ') == NULL
                  && domain_is_valid (at + 1);
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
