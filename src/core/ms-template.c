/* ms-template.c: {{field}} merge (HTML-escaped in HTML, {{{field}}} raw)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <glib/gi18n-lib.h>

#include "ms-error.h"
#include "ms-template.h"

/*
 * Syntax, kept small on purpose:
 *   {{ name }}    the value of column "name" (HTML-escaped in an HTML template)
 *   {{{ name }}}  the value unescaped (HTML only; elsewhere the same as {{ }})
 *   \{{           a literal "{{" (the backslash is dropped); a backslash
 *                 anywhere else is an ordinary character
 * Spaces around the name are ignored; the name may contain inner spaces
 * ("first name") but no braces and no line break.
 *
 * The source is compiled once into literal chunks and field slots, so that
 * expanding a row is a few appends.
 */

typedef struct {
  gsize  literal_offset;   /* into self->literals */
  gsize  literal_len;
  int    slot;             /* index into self->names, -1 for the trailing literal */
  gboolean raw;
  guint  line;
  guint  column;
} Chunk;

struct _MsTemplate
{
  GObject parent_instance;

  MsTemplateKind kind;
  char *where;
  GString *literals;
  GArray *chunks;          /* Chunk */
  GPtrArray *names;        /* unique field names, in order of first use */
  GHashTable *name_slots;  /* name (owned by names) → 1 + its index */
  int *indexes;            /* slot → column, after bind */
  gboolean bound;
};

G_DEFINE_FINAL_TYPE (MsTemplate, ms_template, G_TYPE_OBJECT)

static void
ms_template_finalize (GObject *object)
{
  MsTemplate *self = MS_TEMPLATE (object);

  g_clear_pointer (&self->where, g_free);
  if (self->literals)
    g_string_free (self->literals, TRUE);
  g_clear_pointer (&self->chunks, g_array_unref);
  g_clear_pointer (&self->name_slots, g_hash_table_unref);
  g_clear_pointer (&self->names, g_ptr_array_unref);
  g_clear_pointer (&self->indexes, g_free);

  G_OBJECT_CLASS (ms_template_parent_class)->finalize (object);
}

static void
ms_template_class_init (MsTemplateClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_template_finalize;
}

static void
ms_template_init (MsTemplate *self)
{
  self->literals = g_string_new (NULL);
  self->chunks = g_array_new (FALSE, FALSE, sizeof (Chunk));
  self->names = g_ptr_array_new_with_free_func (g_free);
  self->name_slots = g_hash_table_new (g_str_hash, g_str_equal);
}

/* Where a placeholder is, as a 1-based line and a 1-based column in
 * characters. It moves forward from the previous placeholder: counting from
 * the start each time made a template with many placeholders quadratic
 * (fuzz-template: 512 KiB of them took 14 s). */
typedef struct {
  const char *pos;
  guint       line;
  guint       column;
} Locator;

static void
locate (Locator    *loc,
        const char *p)
{
  g_assert (p >= loc->pos);

  for (const char *s = loc->pos; s < p; s++)
    {
      if (*s == '\n')
        {
          loc->line++;
          loc->column = 1;
        }
      else if (((guchar) *s & 0xC0) != 0x80)   /* not a UTF-8 continuation byte */
        loc->column++;
    }
  loc->pos = p;
}

/* Values in a header can never start a new line: every control character
 * (CR, LF, TAB, the rest of C0, DEL) becomes a space, runs of them one space. */
static void
append_header_safe (GString    *out,
                    const char *value,
                    gsize       len)
{
  const char *p = value, *end = value + len;

  while (p < end)
    {
      const char *s = p;

      while (s < end && (guchar) *s >= 0x20 && *s != 0x7f)
        s++;
      g_string_append_len (out, p, s - p);
      if (s == end)
        break;
      g_string_append_c (out, ' ');
      while (s < end && ((guchar) *s < 0x20 || *s == 0x7f))
        s++;
      p = s;
    }
}

static void
append_html_escaped (GString    *out,
                     const char *value)
{
  const char *p = value;

  for (;;)
    {
      const char *s = p + strcspn (p, "&<>\"'");

      g_string_append_len (out, p, s - p);
      switch (*s)
        {
        case '\0':
          return;
        case '&':
          g_string_append_len (out, "&amp;", 5);
          break;
        case '<':
          g_string_append_len (out, "&lt;", 4);
          break;
        case '>':
          g_string_append_len (out, "&gt;", 4);
          break;
        case '"':
          g_string_append_len (out, "&quot;", 6);
          break;
        case '\'':
          g_string_append_len (out, "&#39;", 5);
          break;
        default:
          g_assert_not_reached ();
        }
      p = s + 1;
    }
}

static void
add_literal (MsTemplate *self,
             GString    *pending,
             const char *text,
             gsize       len)
{
  g_string_append_len (pending, text, len);
}

static void
flush_chunk (MsTemplate *self,
             GString    *pending,
             int         slot,
             gboolean    raw,
             guint       line,
             guint       column)
{
  Chunk chunk = { 0, };

  chunk.literal_offset = self->literals->len;
  if (self->kind == MS_TEMPLATE_HEADER)
    append_header_safe (self->literals, pending->str, pending->len);
  else
    g_string_append_len (self->literals, pending->str, pending->len);
  chunk.literal_len = self->literals->len - chunk.literal_offset;
  chunk.slot = slot;
  chunk.raw = raw;
  chunk.line = line;
  chunk.column = column;
  g_array_append_val (self->chunks, chunk);
  g_string_truncate (pending, 0);
}

static int
slot_for_name (MsTemplate *self,
               const char *name)
{
  guint slot = GPOINTER_TO_UINT (g_hash_table_lookup (self->name_slots, name));
  char *copy;

  if (slot > 0)
    return slot - 1;
  copy = g_strdup (name);
  g_ptr_array_add (self->names, copy);
  g_hash_table_insert (self->name_slots, copy, GUINT_TO_POINTER (self->names->len));
  return self->names->len - 1;
}

static gboolean
compile (MsTemplate  *self,
         const char  *source,
         GError     **error)
{
  g_autoptr(GString) pending = g_string_new (NULL);
  const char *p = source;
  /* Searched within the known length: strstr () may measure the rest of the
   * text on every call (ASan's does), which made many placeholders quadratic. */
  const char *end = source + strlen (source);
  Locator loc = { source, 1, 1 };

  for (;;)
    {
      const char *open = g_strstr_len (p, end - p, "{{");
      const char *name_start, *name_end, *close;
      g_autofree char *name = NULL;
      gboolean triple;
      guint line, column;

      if (open == NULL)
        {
          add_literal (self, pending, p, end - p);
          flush_chunk (self, pending, -1, FALSE, 0, 0);
          return TRUE;
        }

      if (open > p && open[-1] == '\\')
        {
          add_literal (self, pending, p, open - 1 - p);
          add_literal (self, pending, "{{", 2);
          p = open + 2;
          continue;
        }

      add_literal (self, pending, p, open - p);
      locate (&loc, open);
      line = loc.line;
      column = loc.column;
      triple = open[2] == '{';
      name_start = open + (triple ? 3 : 2);
      close = name_start + strcspn (name_start, "{}\n");
      if (*close != '}' || close[1] != '}' || (triple && close[2] != '}'))
        {
          if (*close == '}' && close[1] == '}' && triple)
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                         _("The %s opens “{{{” at line %u, column %u but closes it with “}}”. "
                           "Use “{{{name}}}” for a raw value or “{{name}}” for an escaped one."),
                         self->where, line, column);
          else
            g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                         _("The %s has a “%s” at line %u, column %u that is not closed. "
                           "Write “%sname%s”, or “\\{{” for literal braces."),
                         self->where, triple ? "{{{" : "{{", line, column,
                         triple ? "{{{" : "{{", triple ? "}}}" : "}}");
          return FALSE;
        }
      name_end = close;
      while (name_start < name_end && g_ascii_isspace (*name_start))
        name_start++;
      while (name_end > name_start && g_ascii_isspace (name_end[-1]))
        name_end--;
      if (name_start == name_end)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("The %s has an empty “%s” at line %u, column %u. "
                         "Put a column name between the braces."),
                       self->where, triple ? "{{{ }}}" : "{{ }}", line, column);
          return FALSE;
        }
      name = g_strndup (name_start, name_end - name_start);
      flush_chunk (self, pending, slot_for_name (self, name), triple, line, column);
      p = close + (triple ? 3 : 2);
    }
}

/**
 * ms_template_new:
 * @source: the template text (UTF-8)
 * @kind: how values are inserted
 * @where: the part's name for messages ("subject", "text body", "HTML body")
 *
 * Returns: (transfer full): the compiled template, or %NULL with
 * %MS_ERROR_INVALID_INPUT naming where, the line and the column.
 */
MsTemplate *
ms_template_new (const char      *source,
                 MsTemplateKind   kind,
                 const char      *where,
                 GError         **error)
{
  g_autoptr(MsTemplate) self = NULL;

  g_return_val_if_fail (source != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_object_new (MS_TYPE_TEMPLATE, NULL);
  self->kind = kind;
  self->where = g_strdup (where ? where : _("template"));

  if (!g_utf8_validate (source, -1, NULL))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The %s is not valid UTF-8. Save it as UTF-8."), self->where);
      return NULL;
    }
  if (!compile (self, source, error))
    return NULL;

  return g_steal_pointer (&self);
}

/* The columns for a message: at most about 80 characters of them (a header
 * line of 50 MB made a 52 MB message in the recipient list's errors). */
static char *
column_list (const char * const *fields)
{
  GString *list = g_string_new (NULL);
  guint i;

  for (i = 0; fields[i] != NULL && list->len < 80; i++)
    g_string_append_printf (list, "%s%s", i > 0 ? ", " : "", fields[i]);
  if (list->len > 80 || fields[i] != NULL)
    {
      const char *cut = g_utf8_offset_to_pointer (list->str, MIN (80, g_utf8_strlen (list->str, -1)));

      g_string_truncate (list, cut - list->str);
      g_string_append (list, "…");
    }
  return g_string_free (list, FALSE);
}

static int
find_column (const char * const *fields,
             const char         *name)
{
  /* Exact first; then without regard to ASCII case, since spreadsheets
   * and people capitalise headers as they like. */
  for (guint i = 0; fields[i]; i++)
    if (strcmp (fields[i], name) == 0)
      return i;
  for (guint i = 0; fields[i]; i++)
    if (g_ascii_strcasecmp (fields[i], name) == 0)
      return i;
  return -1;
}

gboolean
ms_template_bind (MsTemplate          *self,
                  const char * const  *fields,
                  GError             **error)
{
  g_return_val_if_fail (MS_IS_TEMPLATE (self), FALSE);
  g_return_val_if_fail (fields != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_clear_pointer (&self->indexes, g_free);
  self->bound = FALSE;
  self->indexes = g_new (int, MAX (self->names->len, 1));

  for (guint i = 0; i < self->names->len; i++)
    {
      const char *name = g_ptr_array_index (self->names, i);
      int column = find_column (fields, name);

      if (column < 0)
        {
          g_autofree char *columns = column_list (fields);
          const Chunk *use = NULL;

          for (guint k = 0; k < self->chunks->len; k++)
            if (g_array_index (self->chunks, Chunk, k).slot == (int) i)
              {
                use = &g_array_index (self->chunks, Chunk, k);
                break;
              }
          g_assert (use != NULL);
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                       _("The %s uses {{%s}} (line %u), but the recipient list has no such "
                         "column. Columns: %s."),
                       self->where, name, use->line, columns);
          return FALSE;
        }
      self->indexes[i] = column;
    }
  self->bound = TRUE;
  return TRUE;
}

void
ms_template_expand (MsTemplate          *self,
                    const char * const  *values,
                    GString             *out)
{
  const char *literals;
  const Chunk *chunks;

  g_return_if_fail (MS_IS_TEMPLATE (self));
  g_return_if_fail (self->bound || self->names->len == 0);
  g_return_if_fail (out != NULL);

  literals = self->literals->str;
  chunks = (const Chunk *) (gpointer) self->chunks->data;
  for (guint i = 0; i < self->chunks->len; i++)
    {
      const Chunk *c = &chunks[i];
      const char *value;

      g_string_append_len (out, literals + c->literal_offset, c->literal_len);
      if (c->slot < 0)
        continue;
      value = values[self->indexes[c->slot]];
      switch (self->kind)
        {
        case MS_TEMPLATE_HTML:
          if (c->raw)
            g_string_append (out, value);
          else
            append_html_escaped (out, value);
          break;
        case MS_TEMPLATE_HEADER:
          append_header_safe (out, value, strlen (value));
          break;
        case MS_TEMPLATE_PLAIN:
        default:
          g_string_append (out, value);
          break;
        }
    }
}

/**
 * ms_template_expand_checked:
 * @values: one row
 * @out: the merged text is appended here
 *
 * Returns: %FALSE when a header template merges to more than
 * %MS_TEMPLATE_HEADER_MAX_LENGTH bytes (a 64 KiB note merged into the
 * subject), with an error naming the part and the field.
 */
gboolean
ms_template_expand_checked (MsTemplate          *self,
                            const char * const  *values,
                            GString             *out,
                            GError             **error)
{
  gsize start;
  gsize longest = 0;
  int longest_slot = -1;

  g_return_val_if_fail (MS_IS_TEMPLATE (self), FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  start = out->len;
  ms_template_expand (self, values, out);
  if (self->kind != MS_TEMPLATE_HEADER || out->len - start <= MS_TEMPLATE_HEADER_MAX_LENGTH)
    return TRUE;

  /* The field with the longest value is the one to name. */
  for (guint i = 0; i < self->names->len; i++)
    {
      gsize len = strlen (values[self->indexes[i]]);

      if (longest_slot < 0 || len > longest)
        {
          longest = len;
          longest_slot = i;
        }
    }
  if (longest_slot >= 0)
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                 _("The %s is %lu bytes long once merged, more than the %u a mail header "
                   "may hold: {{%s}} brings %lu of them. Shorten that column’s value, or "
                   "leave it out of the %s."),
                 self->where, (gulong) (out->len - start), MS_TEMPLATE_HEADER_MAX_LENGTH,
                 (const char *) g_ptr_array_index (self->names, longest_slot), (gulong) longest, self->where);
  else
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                 _("The %s is %lu bytes long, more than the %u a mail header may hold. "
                   "Shorten it."),
                 self->where, (gulong) (out->len - start), MS_TEMPLATE_HEADER_MAX_LENGTH);
  g_string_truncate (out, start);
  return FALSE;
}

char **
ms_template_get_field_names (MsTemplate *self)
{
  GStrvBuilder *b;
  char **names;

  g_return_val_if_fail (MS_IS_TEMPLATE (self), NULL);

  b = g_strv_builder_new ();
  for (guint i = 0; i < self->names->len; i++)
    g_strv_builder_add (b, g_ptr_array_index (self->names, i));
  names = g_strv_builder_end (b);
  g_strv_builder_unref (b);
  return names;
}

gboolean
ms_template_is_constant (MsTemplate *self)
{
  g_return_val_if_fail (MS_IS_TEMPLATE (self), FALSE);
  return self->names->len == 0;
}

/**
 * ms_template_get_kind:
 *
 * Returns: how the template inserts values.
 */
MsTemplateKind
ms_template_get_kind (MsTemplate *self)
{
  g_return_val_if_fail (MS_IS_TEMPLATE (self), MS_TEMPLATE_PLAIN);
  return self->kind;
}
