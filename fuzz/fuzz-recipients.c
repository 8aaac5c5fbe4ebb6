/* fuzz-recipients.c: fuzz target for ms_recipients_new_for_stream and ms_recipients_next
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: a flags byte (address column choice, read size), then the CSV bytes.
 * The file is read twice: in one go, and through a stream that hands out a few
 * bytes per read, so that every chunk boundary crosses the parser. Both reads
 * must give the same header and the same rows, and every row keeps the
 * promises of ms-recipients.h.
 */
#include "config.h"

#include <gio/gio.h>

#include "fuzz-common.h"

#include "mailshot-core.h"
#include "ms-recipients.h"

/* At most this many rows per input, so one input stays fast. */
#define MAX_ROWS 20000
/* ms-recipients.c's limit on one value (issue 8). */
#define MAX_FIELD_SIZE (64 * 1024)
/* A message quotes at most about 80 characters of the input; with the
 * sentence, the file's name and the advice it stays well under this. */
#define MAX_MESSAGE 1024

/* A stream that returns at most @step bytes per read. */
#define FUZZ_TYPE_TRICKLE_STREAM (fuzz_trickle_stream_get_type ())
G_DECLARE_FINAL_TYPE (FuzzTrickleStream, fuzz_trickle_stream, FUZZ, TRICKLE_STREAM, GInputStream)

struct _FuzzTrickleStream
{
  GInputStream  parent_instance;
  const guint8 *data;
  gsize         size;
  gsize         pos;
  gsize         step;
};

G_DEFINE_FINAL_TYPE (FuzzTrickleStream, fuzz_trickle_stream, G_TYPE_INPUT_STREAM)

static gssize
fuzz_trickle_stream_read (GInputStream  *stream,
                          void          *buffer,
                          gsize          count,
                          GCancellable  *cancellable,
                          GError       **error)
{
  FuzzTrickleStream *self = FUZZ_TRICKLE_STREAM (stream);
  gsize n = MIN (count, MIN (self->step, self->size - self->pos));

  if (n > 0)
    memcpy (buffer, self->data + self->pos, n);
  self->pos += n;
  return n;
}

static gboolean
fuzz_trickle_stream_close (GInputStream  *stream,
                           GCancellable  *cancellable,
                           GError       **error)
{
  return TRUE;
}

static void
fuzz_trickle_stream_class_init (FuzzTrickleStreamClass *klass)
{
  G_INPUT_STREAM_CLASS (klass)->read_fn = fuzz_trickle_stream_read;
  G_INPUT_STREAM_CLASS (klass)->close_fn = fuzz_trickle_stream_close;
}

static void
fuzz_trickle_stream_init (FuzzTrickleStream *self)
{
}

static GInputStream *
fuzz_trickle_stream_new (const guint8 *data,
                         gsize         size,
                         gsize         step)
{
  FuzzTrickleStream *self = g_object_new (FUZZ_TYPE_TRICKLE_STREAM, NULL);

  self->data = data;
  self->size = size;
  self->step = MAX (step, 1);
  return G_INPUT_STREAM (self);
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  ms_core_init ();
  return 0;
}

static gboolean
is_blank (char c)
{
  return c == ' ' || c == '\t';
}

/* Reads the whole list, checking each row; returns what it saw, one string per
 * row, for comparing two reads. NULL when the header was refused (@error set). */
static GPtrArray *
read_all (GInputStream *stream,
          const char   *email_column,
          GError      **error)
{
  g_autoptr(MsRecipients) r = NULL;
  g_autoptr(GPtrArray) seen = NULL;
  g_autoptr(GError) local_error = NULL;
  const char * const *fields;
  const char * const *values;
  MsRecipientProblem problem;
  guint line = 0, last_line = 1, n_fields, email_index, rows = 0;
  g_autofree char *header = NULL;

  r = ms_recipients_new_for_stream (stream, "fuzz.csv", email_column, error);
  if (r == NULL)
    {
      fuzz_check (error == NULL || *error != NULL);
      fuzz_check (error == NULL || strlen ((*error)->message) < MAX_MESSAGE);
      return NULL;
    }

  fields = ms_recipients_get_fields (r);
  n_fields = ms_recipients_get_n_fields (r);
  email_index = ms_recipients_get_email_index (r);
  fuzz_check (fields != NULL);
  fuzz_check (n_fields >= 1 && g_strv_length ((char **) fields) == n_fields);
  fuzz_check (email_index < n_fields);
  fuzz_check (strchr (",;\t", ms_recipients_get_delimiter (r)) != NULL);
  for (guint i = 0; i < n_fields; i++)
    fuzz_check (g_utf8_validate (fields[i], -1, NULL));

  seen = g_ptr_array_new_with_free_func (g_free);
  header = g_strjoinv ("\x1f", (char **) fields);
  g_ptr_array_add (seen, g_strdup_printf ("header %u %c %s", email_index,
                                          ms_recipients_get_delimiter (r), header));

  while (rows++ < MAX_ROWS &&
         ms_recipients_next (r, &values, &line, &problem, &local_error))
    {
      const char *detail = ms_recipients_get_problem_detail (r);
      const char *address;
      g_autofree char *joined = NULL;
      guint n_values;

      fuzz_check (line > last_line);
      last_line = line;
      fuzz_check (values != NULL);
      n_values = g_strv_length ((char **) values);
      fuzz_check (n_values >= n_fields);
      fuzz_check (problem >= MS_RECIPIENT_OK && problem <= MS_RECIPIENT_NUL_BYTE);
      fuzz_check (ms_recipient_problem_get_label (problem) != NULL);
      /* Callers print every value, good row or bad. */
      for (guint i = 0; i < n_values; i++)
        {
          fuzz_check (g_utf8_validate (values[i], -1, NULL));
          /* No value past the limit; a repaired one (U+FFFD for each bad
           * byte) may be 3 times longer. */
          if (problem == MS_RECIPIENT_BAD_UTF8 || problem == MS_RECIPIENT_NUL_BYTE)
            fuzz_check (strlen (values[i]) <= 3 * MAX_FIELD_SIZE);
          else
            fuzz_check (strlen (values[i]) <= MAX_FIELD_SIZE);
        }
      fuzz_check ((problem == MS_RECIPIENT_OK) == (detail == NULL));
      if (detail != NULL)
        {
          fuzz_check (g_utf8_validate (detail, -1, NULL));
          fuzz_check (strlen (detail) < MAX_MESSAGE);
        }
      if (problem == MS_RECIPIENT_FIELD_COUNT)
        fuzz_check (ms_recipients_get_row_field_count (r) != n_fields);

      address = values[email_index];
      if (problem == MS_RECIPIENT_OK)
        {
          g_autofree char *key = ms_recipients_address_key (address);

          fuzz_check (ms_recipients_get_row_field_count (r) == n_fields);
          fuzz_check (address[0] != '\0');
          fuzz_check (!is_blank (address[0]) && !is_blank (address[strlen (address) - 1]));
          fuzz_check (ms_recipients_address_is_valid (address));
          fuzz_check (key != NULL && g_utf8_validate (key, -1, NULL));
        }

      joined = g_strjoinv ("\x1f", (char **) values);
      g_ptr_array_add (seen, g_strdup_printf ("row %u %d %u %s | %s", line, problem,
                                              ms_recipients_get_row_field_count (r),
                                              detail ? detail : "-", joined));
    }

  if (local_error != NULL)
    {
      fuzz_check (strlen (local_error->message) < MAX_MESSAGE);
      g_ptr_array_add (seen, g_strdup_printf ("error %s", local_error->message));
    }

  return g_steal_pointer (&seen);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const char *columns[] = { NULL, "email", "Name", NULL /* from the input */ };
  FuzzInput in = { data, size };
  g_autoptr(GInputStream) whole = NULL;
  g_autoptr(GInputStream) trickle = NULL;
  g_autoptr(GPtrArray) a = NULL;
  g_autoptr(GPtrArray) b = NULL;
  g_autoptr(GError) error_a = NULL;
  g_autoptr(GError) error_b = NULL;
  g_autofree char *own_column = NULL;
  const char *column;
  guint8 flags;

  flags = fuzz_byte (&in);
  column = columns[flags & 3];
  if ((flags & 3) == 3)
    {
      /* --email-column comes through GOption (UTF-8) or from a GTK entry. */
      g_autofree char *raw = fuzz_take_until (&in, '\n', NULL);

      column = own_column = g_utf8_make_valid (raw, -1);
    }

  whole = g_memory_input_stream_new_from_data (in.data, in.size, NULL);
  trickle = fuzz_trickle_stream_new (in.data, in.size, 1 + (flags >> 2));

  a = read_all (whole, column, &error_a);
  b = read_all (trickle, column, &error_b);

  /* The way the bytes arrive changes nothing. */
  fuzz_check ((a == NULL) == (b == NULL));
  if (a == NULL)
    {
      fuzz_check (error_a != NULL && error_b != NULL);
      fuzz_check (g_utf8_validate (error_a->message, -1, NULL));
      fuzz_check (g_strcmp0 (error_a->message, error_b->message) == 0);
      return 0;
    }
  for (guint i = 0; i < MAX (a->len, b->len); i++)
    {
      const char *sa = i < a->len ? g_ptr_array_index (a, i) : "(nothing)";
      const char *sb = i < b->len ? g_ptr_array_index (b, i) : "(nothing)";

      if (strcmp (sa, sb) != 0)
        {
          g_printerr ("read in one go:   %s\nread %u at a time: %s\n", sa, 1 + (flags >> 2), sb);
          fuzz_fail ("the rows depend on how the bytes arrive");
        }
    }

  return 0;
}
