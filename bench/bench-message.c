/* bench-message.c: µs per merged message, render() (layout once) against render_slow() (full GMime build)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * usage: bench-message [COUNT]   (default 100000; render_slow runs COUNT/10)
 * Prints one line per case: the message size and the median of 3 runs.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "mailshot-core.h"

static const char lorem[] =
  "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore\n"
  "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\n"
  "aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse\n"
  "cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in\n";

static const char lorem_fr[] =
  "Le cœur a ses raisons que la raison ne connaît point ; on le sait en mille choses. Je dis que le\n"
  "cœur aime l'être universel naturellement, et soi-même naturellement, selon qu'il s'y adonne ; et il\n"
  "se durcit contre l'un ou l'autre, à son choix. Vous avez rejeté l'un et conservé l'autre : est-ce\n"
  "par raison que vous vous aimez ? C'est le cœur qui sent Dieu, et non la raison. Voilà ce que c'est.\n";

typedef struct {
  const char *label;
  const char *subject;
  const char *paragraph;
  gboolean html;
  gboolean attachment;
} Case;

static int
compare_double (const void *a,
                const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

static double
time_render (MsMessageBuilder   *builder,
             const char * const *values,
             guint               count,
             gboolean            slow,
             gsize              *size)
{
  double runs[3];

  for (guint r = 0; r < 3; r++)
    {
      gint64 start = g_get_monotonic_time ();

      for (guint i = 0; i < count; i++)
        {
          GBytes *bytes = slow ? ms_message_builder_render_slow (builder, values, NULL, NULL)
                               : ms_message_builder_render (builder, values, NULL, NULL);

          *size = g_bytes_get_size (bytes);
          g_bytes_unref (bytes);
        }
      runs[r] = (double) (g_get_monotonic_time () - start) / count;
    }
  qsort (runs, 3, sizeof (double), compare_double);
  return runs[1];
}

int
main (int argc, char **argv)
{
  const char *fields[] = { "email", "name", "city", "code", NULL };
  const char *values[] = { "reader.number.42@example.net", "Jane Reader", "Lyon", "X7-42", NULL };
  const Case cases[] = {
    { "2 KB text, ASCII", "Your {{city}} newsletter, {{name}}", lorem, FALSE, FALSE },
    { "2 KB text, accents (QP)", "Votre lettre de {{city}}, {{name}} – édition spéciale", lorem_fr, FALSE, FALSE },
    { "2 KB text + HTML", "Your {{city}} newsletter, {{name}}", lorem, TRUE, FALSE },
    { "2 KB text + 20 KB attachment", "Your {{city}} newsletter, {{name}}", lorem, FALSE, TRUE },
  };
  guint count = argc > 1 ? (guint) g_ascii_strtoull (argv[1], NULL, 10) : 100000;
  g_autofree char *dir = g_dir_make_tmp ("bench-message-XXXXXX", NULL);
  g_autofree char *attachment = g_build_filename (dir, "brochure.pdf", NULL);
  g_autofree char *blob = g_malloc (20 * 1024);

  ms_core_init ();
  if (count < 10)
    count = 10;
  for (guint i = 0; i < 20 * 1024; i++)
    blob[i] = (char) (i * 7919 % 251);
  g_file_set_contents (attachment, blob, 20 * 1024, NULL);

  printf ("%-30s %8s %12s %14s %8s\n", "case", "bytes", "render µs", "render_slow µs", "speedup");
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(GString) text = g_string_new ("Dear {{name}},\n\n");
      g_autoptr(GString) html = g_string_new ("<html><body><p>Dear {{name}},</p>\n");
      g_autoptr(GError) error = NULL;
      g_autoptr(MsMessageBuilder) builder = NULL;
      const char *attachments[] = { attachment, NULL };
      MsMessageSpec spec = { 0, };
      double fast, slow;
      gsize size = 0, slow_size = 0;

      /* About 2 KB of merged text with a few fields spread through it. */
      while (text->len < 1900)
        {
          g_string_append (text, cases[c].paragraph);
          g_string_append (text, "Your code is {{code}}.\n\n");
        }
      g_string_append (text, "Regards,\nThe team in {{city}}\n");
      g_string_append (html, "<p>Your code is <b>{{code}}</b> for {{city}}.</p></body></html>\n");

      spec.from_address = "news@example.org";
      spec.from_name = "The Newsletter";
      spec.subject = cases[c].subject;
      spec.text = text->str;
      spec.html = cases[c].html ? html->str : NULL;
      spec.attachments = cases[c].attachment ? attachments : NULL;
      spec.unsubscribe = "https://example.org/unsubscribe?list=1";
      spec.fields = fields;
      spec.email_index = 0;

      builder = ms_message_builder_new (&spec, &error);
      if (builder == NULL)
        {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
      fast = time_render (builder, values, count, FALSE, &size);
      slow = time_render (builder, values, count / 10, TRUE, &slow_size);
      printf ("%-30s %8zu %12.2f %14.2f %7.1f×\n", cases[c].label, size, fast, slow, slow / fast);
    }

  g_unlink (attachment);
  g_rmdir (dir);
  return 0;
}
