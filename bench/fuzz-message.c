/* fuzz-message.c: libFuzzer target: render() must equal the full GMime build, and keep the wire rules
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Built only with clang (see bench/meson.build):
 *   _build-fuzz/bench/fuzz-message -max_total_time=60
 * The input is split at NUL bytes into: name, note, city, then an optional
 * subject template and text template.
 */
#include "config.h"

#include <string.h>

#include <gmime/gmime.h>

#include "ms-message.h"

int LLVMFuzzerTestOneInput (const guint8 *data, size_t size);

static void
check_wire (GBytes *bytes)
{
  gsize len, line = 0;
  const guchar *p = g_bytes_get_data (bytes, &len);

  for (gsize i = 0; i < len; i++)
    {
      if (p[i] == '\r')
        {
          g_assert (i + 1 < len && p[i + 1] == '\n');
          g_assert (line <= 998);
          line = 0;
          i++;
          continue;
        }
      g_assert (p[i] != '\n' && p[i] != 0 && p[i] < 0x80);
      line++;
    }
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  static const char *fields[] = { "email", "name", "note", "city", NULL };
  static gboolean initialised = FALSE;
  g_autofree char *copy = g_strndup ((const char *) data, size);
  const char *parts[5] = { "", "", "", "Hello {{name}} from {{city}}", "Dear {{name}},\n{{note}}\n" };
  const char *p = (const char *) data, *end = p + size;
  g_autoptr(MsMessageBuilder) builder = NULL;
  g_autoptr(GBytes) fast = NULL;
  g_autoptr(GBytes) slow = NULL;
  MsMessageSpec spec = { 0, };
  const char *values[5];
  guint n = 0;

  if (!initialised)
    {
      g_mime_init ();
      initialised = TRUE;
    }

  /* Split at NULs; each piece must be UTF-8, as the CSV reader guarantees. */
  while (p <= end && n < 5)
    {
      const char *nul = memchr (p, '\0', end - p);
      const char *stop = nul ? nul : end;

      parts[n] = copy + (p - (const char *) data);
      copy[stop - (const char *) data] = '\0';
      if (!g_utf8_validate (parts[n], -1, NULL))
        return 0;
      n++;
      if (nul == NULL)
        break;
      p = nul + 1;
    }

  spec.from_address = "news@example.org";
  spec.from_name = parts[1];
  spec.subject = parts[3];
  spec.text = parts[4];
  spec.html = "<p>{{name}}</p>{{{note}}}";
  spec.unsubscribe = "https://example.org/u";
  spec.fields = fields;
  spec.email_index = 0;
  builder = ms_message_builder_new (&spec, NULL);
  if (builder == NULL)
    return 0;
  ms_message_builder_set_fixed (builder, 1763800000, "fuzz.1@example.org");

  values[0] = "person@example.net";
  values[1] = parts[0];
  values[2] = parts[1];
  values[3] = parts[2];
  values[4] = NULL;
  fast = ms_message_builder_render (builder, values, NULL, NULL);
  slow = ms_message_builder_render_slow (builder, values, NULL, NULL);
  g_assert (fast != NULL && slow != NULL);
  check_wire (fast);
  g_assert (g_bytes_equal (fast, slow));
  return 0;
}
