/* fuzz-recipients.c: libFuzzer target for the CSV reader and the template parser
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Built only with clang (see bench/meson.build):
 *   CC=clang meson setup _build-fuzz && ninja -C _build-fuzz bench/fuzz-recipients
 *   _build-fuzz/bench/fuzz-recipients -max_total_time=60
 * The first byte picks the target: even = CSV, odd = template.
 */
#include "config.h"

#include <string.h>

#include <gmime/gmime.h>

#include "ms-recipients.h"
#include "ms-template.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
fuzz_csv (const guint8 *data,
          size_t        size,
          gboolean      tiny)
{
  g_autoptr(GInputStream) in = g_memory_input_stream_new ();
  g_autoptr(MsRecipients) r = NULL;
  g_autoptr(GError) error = NULL;
  const char * const *values;
  MsRecipientProblem problem;
  guint line, last_line = 0, n_fields;

  /* Tiny reads move every chunk boundary through the parser. */
  for (size_t off = 0; off < size; off += tiny ? 3 : size)
    {
      size_t n = MIN (size - off, tiny ? (size_t) 3 : size);

      g_memory_input_stream_add_data (G_MEMORY_INPUT_STREAM (in), g_memdup2 (data + off, n), n, g_free);
    }

  r = ms_recipients_new_for_stream (in, "fuzz.csv", NULL, &error);
  if (r == NULL)
    return;
  n_fields = ms_recipients_get_n_fields (r);
  g_assert (ms_recipients_get_email_index (r) < n_fields);
  while (ms_recipients_next (r, &values, &line, &problem, &error))
    {
      g_assert (line > last_line);
      last_line = line;
      g_assert (g_strv_length ((char **) values) >= n_fields);
      for (guint i = 0; values[i]; i++)
        g_assert (g_utf8_validate (values[i], -1, NULL));
      if (problem != MS_RECIPIENT_OK)
        g_assert (ms_recipients_get_problem_detail (r) != NULL);
      else
        g_assert (ms_recipients_address_is_valid (values[ms_recipients_get_email_index (r)]));
    }
}

static void
fuzz_template (const guint8 *data,
               size_t        size)
{
  static const char *fields[] = { "email", "name", "x", NULL };
  static const char *values[] = { "a@example.org", "<Bob & \"Al\">\r\nBcc: x", "{{name}}", NULL };
  g_autofree char *source = g_strndup ((const char *) data, size);

  for (MsTemplateKind kind = MS_TEMPLATE_PLAIN; kind <= MS_TEMPLATE_HEADER; kind++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsTemplate) t = ms_template_new (source, kind, "fuzz", &error);
      g_autoptr(GString) out = g_string_new (NULL);

      if (t == NULL)
        {
          g_assert (error != NULL);
          continue;
        }
      if (!ms_template_bind (t, fields, &error))
        continue;
      ms_template_expand (t, values, out);
      g_assert (g_utf8_validate (out->str, out->len, NULL));
      if (kind == MS_TEMPLATE_HEADER)
        for (gsize i = 0; i < out->len; i++)
          g_assert ((guchar) out->str[i] >= 0x20 && out->str[i] != 0x7f);
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static gboolean initialised = FALSE;

  if (!initialised)
    {
      g_mime_init ();
      initialised = TRUE;
    }
  if (size == 0)
    return 0;
  if (data[0] & 1)
    fuzz_template (data + 1, size - 1);
  else
    fuzz_csv (data + 1, size - 1, (data[0] & 2) != 0);
  return 0;
}
