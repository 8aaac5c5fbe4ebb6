/* fuzz-template.c: fuzz target for ms_template_new, _bind and _expand
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: a kind byte (kind = low nibble % 3; the source is repeated 2^(high
 * nibble) times, up to 1 MiB, to find what is slow on big templates), the
 * template source up to a NUL, the CSV field names (separated by 0x01) up to
 * a NUL, then the row's values (separated by 0x01).
 */
#include "config.h"

#include "fuzz-common.h"

#include "ms-template.h"

/* The longest source made by repeating. */
#define MAX_SOURCE (1024 * 1024)

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

static gsize
count_char (const char *s,
            char        c)
{
  gsize n = 0;

  for (; *s; s++)
    n += *s == c;
  return n;
}

/* Splits on 0x01 into exactly @n strings (padded with "", extra ones dropped),
 * each valid UTF-8 as a recipient list hands them. */
static char **
split_values (const char *text,
              guint       n)
{
  g_auto(GStrv) parts = g_strsplit (text, "\x01", -1);
  char **out = g_new0 (char *, n + 1);
  guint have = g_strv_length (parts);

  for (guint i = 0; i < n; i++)
    out[i] = g_utf8_make_valid (i < have ? parts[i] : "", -1);
  return out;
}

static gboolean
can_bind (char       **names,
          char       **fields)
{
  for (guint i = 0; names[i]; i++)
    {
      gboolean found = FALSE;

      for (guint k = 0; fields[k] && !found; k++)
        found = g_ascii_strcasecmp (names[i], fields[k]) == 0;
      if (!found)
        return FALSE;
    }
  return TRUE;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  FuzzInput in = { data, size };
  g_autoptr(MsTemplate) template = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) out = g_string_new (NULL);
  g_autoptr(GString) twice = g_string_new (NULL);
  g_autoptr(GString) empty_out = g_string_new (NULL);
  g_autofree char *source = NULL;
  g_autofree char *field_text = NULL;
  g_autofree char *value_text = NULL;
  g_auto(GStrv) fields = NULL;
  g_auto(GStrv) values = NULL;
  g_auto(GStrv) empty = NULL;
  g_auto(GStrv) names = NULL;
  MsTemplateKind kind;
  guint8 kind_byte;
  guint n_fields;
  gboolean bound;

  kind_byte = fuzz_byte (&in);
  kind = (MsTemplateKind) ((kind_byte & 0x0f) % 3);
  source = fuzz_take_until (&in, 0, NULL);
  if (kind_byte >> 4 && source[0] != '\0')
    {
      gsize len = strlen (source);
      gsize times = MIN ((gsize) 1 << (kind_byte >> 4), MAX_SOURCE / len);
      GString *big = g_string_sized_new (len * times);

      for (gsize k = 0; k < times; k++)
        g_string_append_len (big, source, len);
      g_free (source);
      source = g_string_free (big, FALSE);
    }
  field_text = fuzz_take_until (&in, 0, NULL);
  value_text = fuzz_take_until (&in, 0, NULL);

  template = ms_template_new (source, kind, "fuzz", &error);
  if (template == NULL)
    {
      fuzz_check (error != NULL && g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  fuzz_check (error == NULL);
  fuzz_check (ms_template_get_kind (template) == kind);

  names = ms_template_get_field_names (template);
  fuzz_check (names != NULL);
  fuzz_check (ms_template_is_constant (template) == (names[0] == NULL));
  for (guint i = 0; names[i]; i++)
    {
      fuzz_check (names[i][0] != '\0');
      fuzz_check (!g_ascii_isspace (names[i][0]) && !g_ascii_isspace (names[i][strlen (names[i]) - 1]));
      fuzz_check (strstr (source, names[i]) != NULL);
      for (guint k = 0; k < i; k++)
        fuzz_check (strcmp (names[i], names[k]) != 0);
    }

  /* Field names come from ms-recipients, which hands out valid UTF-8. */
  n_fields = field_text[0] != '\0' ? count_char (field_text, '\x01') + 1 : 0;
  fields = split_values (field_text, n_fields);
  values = split_values (value_text, n_fields);
  empty = split_values ("", n_fields);

  bound = ms_template_bind (template, (const char * const *) fields, &error);
  fuzz_check (bound == can_bind (names, fields));
  if (!bound)
    {
      fuzz_check (error != NULL && g_utf8_validate (error->message, -1, NULL));
      /* The column list in it is cut to about 80 characters (the field's
       * name comes from the template itself). */
      fuzz_check (strlen (error->message) < 500 + strlen (source));
      return 0;
    }

  ms_template_expand (template, (const char * const *) values, out);
  fuzz_check (g_utf8_validate (out->str, out->len, NULL));
  fuzz_check (strlen (out->str) == out->len);

  /* Expanding appends, and the same row gives the same text. */
  ms_template_expand (template, (const char * const *) values, twice);
  ms_template_expand (template, (const char * const *) values, twice);
  fuzz_check (twice->len == 2 * out->len);
  fuzz_check (memcmp (twice->str, out->str, out->len) == 0);
  fuzz_check (memcmp (twice->str + out->len, out->str, out->len) == 0);

  /* The checked expansion: the same text when it succeeds; a header past
   * one header line is refused, naming the part, and appends nothing. */
  {
    g_autoptr(GString) checked = g_string_new ("x");
    g_autoptr(GError) check_error = NULL;
    gboolean ok = ms_template_expand_checked (template, (const char * const *) values, checked, &check_error);

    if (kind == MS_TEMPLATE_HEADER && out->len > MS_TEMPLATE_HEADER_MAX_LENGTH)
      {
        fuzz_check (!ok && check_error != NULL);
        fuzz_check (g_utf8_validate (check_error->message, -1, NULL));
        fuzz_check (strstr (check_error->message, "fuzz") != NULL);
        fuzz_check (checked->len == 1);
      }
    else
      {
        fuzz_check (ok && check_error == NULL);
        fuzz_check (checked->len == 1 + out->len && memcmp (checked->str + 1, out->str, out->len) == 0);
      }
  }

  ms_template_expand (template, (const char * const *) empty, empty_out);
  if (ms_template_is_constant (template))
    fuzz_check (g_string_equal (out, empty_out));

  switch (kind)
    {
    case MS_TEMPLATE_HEADER:
      /* Nothing can start a new header line, whatever the values hold. */
      for (gsize i = 0; i < out->len; i++)
        fuzz_check ((guchar) out->str[i] >= 0x20 && out->str[i] != 0x7f);
      break;
    case MS_TEMPLATE_HTML:
      /* Escaped fields add no markup: any '<' comes from the template itself. */
      if (strstr (source, "{{{") == NULL)
        {
          fuzz_check (count_char (out->str, '<') <= count_char (source, '<'));
          fuzz_check (count_char (out->str, '"') <= count_char (source, '"'));
        }
      break;
    case MS_TEMPLATE_PLAIN:
    default:
      break;
    }

  /* Binding again (the blast binds once per batch) starts afresh. */
  g_clear_error (&error);
  if (n_fields > 0)
    {
      g_autoptr(GString) again = g_string_new (NULL);

      fuzz_check (ms_template_bind (template, (const char * const *) fields, &error));
      ms_template_expand (template, (const char * const *) values, again);
      fuzz_check (g_string_equal (again, out));
    }

  return 0;
}
