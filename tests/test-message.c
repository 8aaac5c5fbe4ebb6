/* test-message.c: MIME output: headers, encodings, wire rules, render vs a full GMime build, Python's parser
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>
#include <sys/stat.h>

#include <glib/gstdio.h>
#include <gmime/gmime.h>

#include "mailshot-core.h"

static char *tmp_dir;

static char *
tmp_file (const char   *name,
          const char   *contents,
          gssize        len)
{
  char *path = g_build_filename (tmp_dir, name, NULL);

  g_assert_true (g_file_set_contents (path, contents, len, NULL));
  return path;
}

/* Wire rules: CRLF only, no line over 998 bytes, ASCII only. */
static void
assert_wire_ok (GBytes *bytes)
{
  gsize len;
  const guchar *data = g_bytes_get_data (bytes, &len);
  gsize line = 0;

  g_assert_cmpuint (len, >, 2);
  g_assert_true (data[len - 2] == '\r' && data[len - 1] == '\n');
  for (gsize i = 0; i < len; i++)
    {
      if (data[i] == '\r')
        {
          g_assert_cmpuint (i + 1, <, len);
          g_assert_cmpint (data[i + 1], ==, '\n');
          g_assert_cmpuint (line, <=, 998);
          line = 0;
          i++;
          continue;
        }
      g_assert_cmpint (data[i], !=, '\n');
      g_assert_cmpint (data[i], <, 0x80);
      g_assert_cmpint (data[i], !=, 0);
      line++;
    }
}

static GMimeMessage *
parse (GBytes *bytes)
{
  gsize len;
  const char *data = g_bytes_get_data (bytes, &len);
  GMimeStream *stream = g_mime_stream_mem_new_with_buffer (data, len);
  GMimeParser *parser = g_mime_parser_new_with_stream (stream);
  GMimeMessage *message = g_mime_parser_construct_message (parser, NULL);

  g_object_unref (parser);
  g_object_unref (stream);
  g_assert_nonnull (message);
  return message;
}

/* The decoded content of a leaf part, line ends back to LF. */
static char *
decoded (GMimeObject *object)
{
  GMimeDataWrapper *content = g_mime_part_get_content (GMIME_PART (object));
  GByteArray *array = g_byte_array_new ();
  GMimeStream *stream = g_mime_stream_mem_new_with_byte_array (array);
  g_autoptr(GString) s = NULL;

  g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);
  g_mime_data_wrapper_write_to_stream (content, stream);
  g_object_unref (stream);
  s = g_string_new_len ((const char *) array->data, array->len);
  g_byte_array_unref (array);
  g_string_replace (s, "\r\n", "\n", 0);
  return g_strdup (s->str);
}

static const char *
header (GMimeMessage *message,
        const char   *name)
{
  return g_mime_object_get_header (GMIME_OBJECT (message), name);
}

static void
test_simple (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autoptr(GBytes) bytes = ms_message_build_simple ("me@Example.ORG", "Équipe Test", "you@example.net",
                                                     "Test from Mailshot – ça marche",
                                                     "Hello,\nthis is a test.\n", &id, &error);
  GMimeMessage *message;
  InternetAddress *from;
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  assert_wire_ok (bytes);
  g_assert_true (g_str_has_suffix (id, "@example.org"));

  message = parse (bytes);
  g_assert_nonnull (header (message, "Date"));
  g_assert_nonnull (g_mime_message_get_date (message));
  g_assert_cmpstr (header (message, "MIME-Version"), ==, "1.0");
  g_assert_cmpstr (g_mime_message_get_message_id (message), ==, id);
  g_assert_cmpstr (g_mime_message_get_subject (message), ==, "Test from Mailshot – ça marche");
  from = internet_address_list_get_address (g_mime_message_get_from (message), 0);
  g_assert_cmpstr (internet_address_get_name (from), ==, "Équipe Test");
  g_assert_cmpstr (internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (from)), ==, "me@Example.ORG");
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "=?UTF-8?"));

  text = decoded (g_mime_message_get_mime_part (message));
  g_assert_cmpstr (text, ==, "Hello,\nthis is a test.\n");
  g_assert_cmpstr (g_mime_object_get_content_type_parameter (g_mime_message_get_mime_part (message), "charset"),
                   ==, "utf-8");
  g_object_unref (message);
}

static void
test_message_id (void)
{
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < 10000; i++)
    {
      char *id = ms_message_make_id ("someone@Mail.Example.com");

      g_assert_true (g_str_has_suffix (id, "@mail.example.com"));
      g_assert_null (strpbrk (id, "<> \r\n"));
      g_assert_true (g_hash_table_add (seen, id));
    }
  {
    g_autofree char *idn = ms_message_make_id ("x@bücher.example");

    g_assert_true (g_str_has_suffix (idn, "@xn--bcher-kva.example"));
  }
}

typedef struct {
  const char *subject;
  const char *text;
  const char *html;
  gboolean attachments;
  const char *unsubscribe;
} Shape;

static const char *row_fields[] = { "Email", "name", "note", "city", NULL };

/* The PDF attachment's bytes: its length comes from sizeof, not a count by hand
 * (25 read two bytes past the 23-byte literal). */
static const char pdf_bytes[] = "%PDF-1.4\n\x01\x02\x03 binary \xff\xfe";

static MsMessageBuilder *
builder_for (const Shape *shape,
             GError     **error)
{
  g_autofree char *pdf = tmp_file ("rapport annuel é.pdf", pdf_bytes, sizeof pdf_bytes - 1);
  g_autofree char *png = tmp_file ("pixel.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
  g_autofree char *txt = tmp_file ("notes.txt", "plain\nnotes\n", -1);
  const char *attachments[] = { pdf, png, txt, NULL };
  MsMessageSpec spec = {
    .from_address = "news@example.org",
    .from_name = "Les Nouvelles",
    .subject = shape->subject,
    .text = shape->text,
    .html = shape->html,
    .attachments = shape->attachments ? attachments : NULL,
    .unsubscribe = shape->unsubscribe,
    .fields = row_fields,
    .email_index = 0,
  };

  return ms_message_builder_new (&spec, error);
}

static void
test_structure (void)
{
  Shape shape = {
    "Offre pour {{name}}", "Bonjour {{name}},\n{{note}}\n", "<p>Bonjour {{name}}</p><p>{{note}}</p>", TRUE,
    "mailto:unsubscribe@example.org?subject=stop",
  };
  const char *values[] = { "ana@example.net", "Ana & <Bo>", "Réduction de 20 %", "Paris", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);
  g_autoptr(GBytes) bytes = NULL;
  g_autofree char *id = NULL;
  GMimeMessage *message;
  GMimeMultipart *mixed, *alternative;
  g_autofree char *text = NULL;
  g_autofree char *html = NULL;
  g_autofree char *pdf = NULL;
  const char *names[] = { "rapport annuel é.pdf", "pixel.png", "notes.txt" };
  const char *types[] = { "application/pdf", "image/png", "text/plain" };

  g_assert_no_error (error);
  bytes = ms_message_builder_render (builder, values, &id, &error);
  g_assert_no_error (error);
  assert_wire_ok (bytes);
  g_assert_true (g_str_has_suffix (id, "@example.org"));

  message = parse (bytes);
  g_assert_cmpstr (g_mime_message_get_message_id (message), ==, id);
  g_assert_cmpstr (header (message, "List-Unsubscribe"), ==, "<mailto:unsubscribe@example.org?subject=stop>");
  g_assert_null (header (message, "List-Unsubscribe-Post"));
  g_assert_cmpstr (g_mime_message_get_subject (message), ==, "Offre pour Ana & <Bo>");

  g_assert_true (GMIME_IS_MULTIPART (g_mime_message_get_mime_part (message)));
  mixed = GMIME_MULTIPART (g_mime_message_get_mime_part (message));
  g_assert_true (g_mime_content_type_is_type (g_mime_object_get_content_type (GMIME_OBJECT (mixed)), "multipart", "mixed"));
  g_assert_cmpint (g_mime_multipart_get_count (mixed), ==, 4);
  alternative = GMIME_MULTIPART (g_mime_multipart_get_part (mixed, 0));
  g_assert_true (g_mime_content_type_is_type (g_mime_object_get_content_type (GMIME_OBJECT (alternative)),
                                              "multipart", "alternative"));
  g_assert_cmpint (g_mime_multipart_get_count (alternative), ==, 2);
  text = decoded (g_mime_multipart_get_part (alternative, 0));
  html = decoded (g_mime_multipart_get_part (alternative, 1));
  g_assert_cmpstr (text, ==, "Bonjour Ana & <Bo>,\nRéduction de 20 %\n");
  g_assert_cmpstr (html, ==, "<p>Bonjour Ana &amp; &lt;Bo&gt;</p><p>Réduction de 20 %</p>\n");

  for (guint i = 0; i < 3; i++)
    {
      GMimeObject *part = g_mime_multipart_get_part (mixed, i + 1);
      g_autofree char *type = g_mime_content_type_get_mime_type (g_mime_object_get_content_type (part));

      g_assert_cmpstr (g_mime_part_get_filename (GMIME_PART (part)), ==, names[i]);
      g_assert_cmpstr (type, ==, types[i]);
      g_assert_cmpint (g_mime_part_get_content_encoding (GMIME_PART (part)), ==, GMIME_CONTENT_ENCODING_BASE64);
      g_assert_true (g_mime_part_is_attachment (GMIME_PART (part)));
    }
  /* Binary attachment bytes survive. */
  {
    GMimeDataWrapper *content = g_mime_part_get_content (GMIME_PART (g_mime_multipart_get_part (mixed, 1)));
    GByteArray *array = g_byte_array_new ();
    GMimeStream *stream = g_mime_stream_mem_new_with_byte_array (array);

    g_mime_stream_mem_set_owner (GMIME_STREAM_MEM (stream), FALSE);
    g_mime_data_wrapper_write_to_stream (content, stream);
    g_object_unref (stream);
    g_assert_cmpmem (array->data, array->len, pdf_bytes, sizeof pdf_bytes - 1);
    g_byte_array_unref (array);
  }
  /* The non-ASCII file name goes as RFC 2231 in UTF-8. */
  g_assert_nonnull (g_strstr_len (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                  "filename*=UTF-8''rapport%20annuel%20%C3%A9.pdf"));
  g_object_unref (message);
}

static void
test_unsubscribe (void)
{
  const char *values[] = { "a@example.net", "A", "n", "c", NULL };
  struct {
    const char *input;
    const char *header;
    gboolean post;
  } cases[] = {
    { "https://example.org/u/123?t=abc", "<https://example.org/u/123?t=abc>", TRUE },
    { "<https://example.org/u>", "<https://example.org/u>", TRUE },
    { "mailto:leave@example.org", "<mailto:leave@example.org>", FALSE },
    { "leave@example.org", "<mailto:leave@example.org>", FALSE },
  };
  const char *bad[] = { "http://example.org/u", "ftp://x", "https://exa mple.org", "https://x\r\nBcc: y@z", "nothing" };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Shape shape = { "S", "T\n", NULL, FALSE, cases[i].input };
      g_autoptr(GError) error = NULL;
      g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);
      g_autoptr(GBytes) bytes = NULL;
      GMimeMessage *message;

      g_assert_no_error (error);
      bytes = ms_message_builder_render (builder, values, NULL, &error);
      g_assert_no_error (error);
      message = parse (bytes);
      g_assert_cmpstr (header (message, "List-Unsubscribe"), ==, cases[i].header);
      if (cases[i].post)
        g_assert_cmpstr (header (message, "List-Unsubscribe-Post"), ==, "List-Unsubscribe=One-Click");
      else
        g_assert_null (header (message, "List-Unsubscribe-Post"));
      g_object_unref (message);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      Shape shape = { "S", "T\n", NULL, FALSE, bad[i] };
      g_autoptr(GError) error = NULL;
      g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);

      g_assert_null (builder);
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE);
    }
  /* None: no header at all. */
  {
    Shape shape = { "S", "T\n", NULL, FALSE, NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);
    g_autoptr(GBytes) bytes = ms_message_builder_render (builder, values, NULL, &error);

    g_assert_null (g_strstr_len (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), "List-Unsubscribe"));
  }
}

/* Issue 8: an attachment that is a named pipe with no writer blocked the
 * builder in open() for ever (the GUI has no CLI check in front of it).
 * Run with a time limit, so a regression fails instead of hanging. */
static void
test_attachment_fifo (void)
{
  g_autofree char *fifo = NULL;

  if (g_test_subprocess ())
    {
      /* main() made a new temporary folder in this process: the parent's
       * path comes through the environment. */
      fifo = g_strdup (g_getenv ("MS_TEST_FIFO"));
      const char *attachments[] = { fifo, "/dev/zero", NULL };
      MsMessageSpec spec = {
        .from_address = "news@example.org",
        .subject = "Hi",
        .text = "Hello",
        .attachments = attachments,
        .fields = row_fields,
        .email_index = 0,
      };
      g_autoptr(GError) error = NULL;
      g_autofree char *contents = NULL;

      g_assert_null (ms_message_builder_new (&spec, &error));
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
      g_assert_nonnull (strstr (error->message, "agenda.pdf"));
      g_assert_nonnull (strstr (error->message, "named pipe"));
      g_clear_error (&error);

      /* The same core check serves the bodies (--text, --html) and the GUI. */
      g_assert_false (ms_user_file_load (fifo, &contents, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
      g_clear_error (&error);
      g_assert_false (ms_user_file_load ("/dev/zero", &contents, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_REGULAR_FILE);
      g_assert_nonnull (strstr (error->message, "device"));
      return;
    }

  fifo = g_build_filename (tmp_dir, "agenda.pdf", NULL);
  g_assert_cmpint (mkfifo (fifo, 0600), ==, 0);
  g_setenv ("MS_TEST_FIFO", fifo, TRUE);
  g_test_trap_subprocess (NULL, 10 * G_USEC_PER_SEC, G_TEST_SUBPROCESS_DEFAULT);
  g_unlink (fifo);
  g_test_trap_assert_passed ();
}

/* A regular file loads whole, with a NUL after its bytes. */
static void
test_user_file_load (void)
{
  g_autofree char *path = g_build_filename (tmp_dir, "body.txt", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize len = 0;

  g_assert_true (g_file_set_contents (path, "a\0b", 3, &error));
  g_assert_true (ms_user_file_load (path, &contents, &len, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (len, ==, 3);
  g_assert_cmpmem (contents, 4, "a\0b", 4);
  g_unlink (path);
  g_clear_pointer (&contents, g_free);
  g_assert_false (ms_user_file_load (path, &contents, &len, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
}

/* Issue 8: a merged subject past a header line's 998 bytes fails the row
 * (the blast records the message for it), naming the field. */
static void
test_subject_limit (void)
{
  Shape shape = { "Offre pour {{name}}", "Bonjour\n", NULL, FALSE, NULL };
  g_autofree char *note = g_strnfill (64 * 1024, 'x');
  const char *values[] = { "ana@example.net", note, "n", "Paris", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);
  g_autoptr(GBytes) bytes = NULL;

  g_assert_no_error (error);
  bytes = ms_message_builder_render (builder, values, NULL, &error);
  g_assert_null (bytes);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "The subject is 65547 bytes long"));
  g_assert_nonnull (strstr (error->message, "{{name}}"));
  g_clear_error (&error);
  bytes = ms_message_builder_render_slow (builder, values, NULL, &error);
  g_assert_null (bytes);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
}

static void
test_errors (void)
{
  g_autofree char *missing = g_build_filename (tmp_dir, "no-such-file.pdf", NULL);
  const char *attachments[] = { missing, NULL };
  MsMessageSpec spec = {
    .from_address = "news@example.org",
    .subject = "Hi {{name}}",
    .text = "Hello",
    .attachments = attachments,
    .fields = row_fields,
    .email_index = 0,
  };
  g_autoptr(GError) error = NULL;

  g_assert_null (ms_message_builder_new (&spec, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "no-such-file.pdf"));
  g_clear_error (&error);

  spec.attachments = NULL;
  spec.subject = "Hi {{fristname}}";
  g_assert_null (ms_message_builder_new (&spec, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "{{fristname}}"));
  g_assert_nonnull (strstr (error->message, "subject"));
  g_clear_error (&error);

  spec.subject = "ok";
  spec.html = "<p>{{name</p>";
  g_assert_null (ms_message_builder_new (&spec, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "HTML body"));
  g_clear_error (&error);

  spec.html = NULL;
  spec.from_address = "not an address";
  g_assert_null (ms_message_builder_new (&spec, &error));
  g_assert_nonnull (error);
}

/* Random values that exercise every encoding decision. */
static char *
random_value (GRand *rand,
              guint  kind)
{
  static const char *words[] = {
    "hello", "ça", "naïve", "Grüße", "日本語", "Ελληνικά", "emoji 🎉", "&", "<b>", "\"q\"", "it's",
    "=?utf-8?q?x?=", "From ", "a=b", "\t", "  ", "tab\there", "x", "line\nbreak", "cr\r\nlf", "lone\rcr",
    "Дмитрий", "=3D", ".", "trailing ",
  };
  GString *s = g_string_new (NULL);
  guint n;

  switch (kind % 6)
    {
    case 0: /* short ASCII */
      g_string_append_printf (s, "Name%u", g_rand_int (rand) % 1000);
      break;
    case 1: /* mixed words */
      n = g_rand_int_range (rand, 0, 12);
      for (guint i = 0; i < n; i++)
        {
          g_string_append (s, words[g_rand_int_range (rand, 0, G_N_ELEMENTS (words))]);
          g_string_append_c (s, ' ');
        }
      break;
    case 2: /* one very long word (no spaces): forces QP or folding */
      n = g_rand_int_range (rand, 900, 2500);
      for (guint i = 0; i < n; i++)
        g_string_append_c (s, 'a' + g_rand_int_range (rand, 0, 26));
      break;
    case 3: /* long text with spaces, a little non-ASCII */
      n = g_rand_int_range (rand, 50, 400);
      for (guint i = 0; i < n; i++)
        g_string_append (s, i % 37 == 0 ? "é " : "lorem ");
      break;
    case 4: /* mostly non-ASCII: base64 territory */
      n = g_rand_int_range (rand, 1, 60);
      for (guint i = 0; i < n; i++)
        g_string_append (s, "Ж日");
      break;
    default: /* empty */
      break;
    }
  return g_string_free (s, FALSE);
}

static void
compare_render (MsMessageBuilder   *builder,
                const char * const *values,
                const char         *what)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GBytes) fast = ms_message_builder_render (builder, values, NULL, &error);
  g_autoptr(GBytes) slow = NULL;

  if (fast == NULL)
    {
      /* A merged subject past a header line's 998 bytes (issue 8): both
       * builds refuse it, with the same message. */
      g_autoptr(GError) slow_error = NULL;

      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
      g_assert_true (g_str_has_prefix (error->message, "The subject is "));
      g_assert_null (ms_message_builder_render_slow (builder, values, NULL, &slow_error));
      g_assert_nonnull (slow_error);
      g_assert_cmpstr (slow_error->message, ==, error->message);
      return;
    }
  slow = ms_message_builder_render_slow (builder, values, NULL, &error);
  g_assert_no_error (error);
  assert_wire_ok (fast);
  if (!g_bytes_equal (fast, slow))
    {
      g_autofree char *a = g_strndup (g_bytes_get_data (fast, NULL), g_bytes_get_size (fast));
      g_autofree char *b = g_strndup (g_bytes_get_data (slow, NULL), g_bytes_get_size (slow));
      gsize i = 0;

      while (a[i] && a[i] == b[i])
        i++;
      g_error ("%s: render and render_slow differ at byte %zu:\nfast: …%.200s\nslow: …%.200s",
               what, i, a + (i > 60 ? i - 60 : 0), b + (i > 60 ? i - 60 : 0));
    }
}

static void
test_equivalence (void)
{
  Shape shapes[] = {
    { "{{name}}", "Hello {{name}},\n\n{{note}}\n-- \n{{city}}", NULL, FALSE, NULL },
    { "Re: {{note}} – {{city}}", "{{note}}", "<html><body><p>{{name}}</p>{{{note}}}</body></html>", FALSE,
      "https://example.org/unsubscribe?id=1" },
    { "Constant subject", "Constant text body\n", "<p>Constant {{name}}</p>", TRUE, "mailto:u@example.org" },
    { "   {{name}}   ", "From the desk of {{name}}\r\nline two\r\n", "{{note}}", TRUE, NULL },
    { "Überschrift {{city}} {{note}}", "Text {{city}}", "<p>static html</p>", FALSE, NULL },
  };
  g_autoptr(GRand) rand = g_rand_new_with_seed (20261122);
  guint compared = 0;

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsMessageBuilder) builder = builder_for (&shapes[s], &error);

      g_assert_no_error (error);
      ms_message_builder_set_fixed (builder, 1763800000, "fixed.0123456789abcdef@example.org");
      for (guint r = 0; r < 150; r++)
        {
          g_autofree char *name = random_value (rand, r);
          g_autofree char *note = random_value (rand, r / 6 + g_rand_int (rand));
          g_autofree char *city = random_value (rand, g_rand_int (rand));
          g_autofree char *what = g_strdup_printf ("shape %u row %u", s, r);
          const char *values[] = { "person@example.net", name, note, city, NULL };

          compare_render (builder, values, what);
          compared++;
        }
    }
  /* Values on both sides of the fast paths for plain Subject and To lines. */
  {
    Shape shape = { "{{note}}", "Hi {{name}}\n", NULL, FALSE, NULL };
    const char *names[] = { "", "Jane", "Jane Reader", "Jane  Reader", "Jane-Reader", "J. Reader", "Jane Q Public Junior",
                            "Ünal", "a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e" };
    const char *addresses[] = { "a@example.net", "first.last+tag@sub.example.co.uk", "x_y@example.net",
                                "o'brien@example.ie", "very.long.local.part.for.folding.tests@a-rather-long-domain-name.example.org",
                                "user@[192.0.2.1]", "UPPER@EXAMPLE.NET" };
    g_autoptr(GError) error = NULL;
    g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);

    g_assert_no_error (error);
    ms_message_builder_set_fixed (builder, 1763800000, "fixed.0123456789abcdef@example.org");
    for (guint n = 0; n < G_N_ELEMENTS (names); n++)
      for (guint a = 0; a < G_N_ELEMENTS (addresses); a++)
        for (guint len = 40; len < 100; len += 3)
          {
            g_autoptr(GString) note = g_string_new (NULL);
            g_autofree char *what = g_strdup_printf ("plain values %u/%u/%u", n, a, len);
            const char *values[] = { addresses[a], names[n], NULL, "c", NULL };

            while (note->len < len)
              g_string_append (note, (len / 3) % 4 == 0 ? "word " : (len / 3) % 4 == 1 ? "x" : (len / 3) % 4 == 2 ? "a=?b?= " : "ab.");
            values[2] = note->str;
            compare_render (builder, values, what);
            compared++;
          }
  }
  g_test_message ("%u messages byte-identical to a full GMime build", compared);
}

/* Without fixed values, Message-IDs differ per message and Date is now. */
static void
test_fresh_ids (void)
{
  Shape shape = { "S {{name}}", "T {{name}}\n", NULL, FALSE, NULL };
  const char *values[] = { "a@example.net", "A", "n", "c", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);
  g_autofree char *id1 = NULL;
  g_autofree char *id2 = NULL;
  g_autoptr(GBytes) b1 = ms_message_builder_render (builder, values, &id1, &error);
  g_autoptr(GBytes) b2 = ms_message_builder_render (builder, values, &id2, &error);
  GMimeMessage *message = parse (b1);
  g_autoptr(GDateTime) now = g_date_time_new_now_utc ();
  GDateTime *date = g_mime_message_get_date (message);

  g_assert_no_error (error);
  g_assert_cmpstr (id1, !=, id2);
  g_assert_true (g_str_has_suffix (id1, "@example.org"));
  g_assert_cmpstr (g_mime_message_get_message_id (message), ==, id1);
  g_assert_nonnull (date);
  g_assert_cmpint (ABS (g_date_time_difference (now, date)), <, 5 * G_TIME_SPAN_SECOND);
  g_object_unref (message);
}

/* Python's email package, an independent parser, reads the same message. */
static void
test_python (void)
{
  static const char script[] =
    "import sys, base64, email, email.policy\n"
    "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)\n"
    "def out(k, v): print(k, base64.b64encode(str(v).encode()).decode())\n"
    "out('subject', m['subject'])\n"
    "out('to', m['to'].addresses[0].addr_spec)\n"
    "out('toname', m['to'].addresses[0].display_name)\n"
    "out('from', m['from'].addresses[0].display_name)\n"
    "out('msgid', m['message-id'])\n"
    "out('unsub', m['list-unsubscribe'])\n"
    "out('text', m.get_body(('plain',)).get_content())\n"
    "out('html', m.get_body(('html',)).get_content())\n"
    "for a in m.iter_attachments(): out('attachment', a.get_filename() + '|' + a.get_content_type() + '|' + str(len(a.get_content())))\n"
    "out('defects', len(m.defects))\n";
  Shape shape = {
    "Grüße an {{name}} aus {{city}} — {{note}}",
    "Liebe(r) {{name}},\n\n{{note}}\n\nFrom here on, a line that is long: {{city}}\n",
    "<p>Liebe(r) {{name}}</p><p>{{note}}</p>",
    TRUE,
    "https://example.org/unsub?u=42",
  };
  /* Long enough to fold the subject and the body lines many times, short
   * enough that the merged subject fits the 998 bytes of a header line
   * (longer is refused since issue 8: test_subject_limit). */
  g_autofree char *long_city = g_strnfill (900, 'z');
  const char *rows[][5] = {
    { "ana@example.net", "Ana Ölmez", "Ihr Rabatt: 20 % & mehr <jetzt>", "Köln", NULL },
    { "bo@example.net", "Bo", "plain ascii note", long_city, NULL },
    { "cy@example.net", "Сергей", "Привет мир, это длинное сообщение", "Москва", NULL },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);

  g_assert_no_error (error);
  for (guint r = 0; r < G_N_ELEMENTS (rows); r++)
    for (guint pass = 0; pass < 2; pass++)
      {
        g_autofree char *id = NULL;
        g_autoptr(GBytes) bytes = pass == 0 ? ms_message_builder_render (builder, rows[r], &id, &error)
                                            : ms_message_builder_render_slow (builder, rows[r], &id, &error);
        g_autofree char *path = g_build_filename (tmp_dir, "py.eml", NULL);
        g_autofree char *out = NULL;
        g_autofree char *err = NULL;
        g_autofree char *subject = g_strdup_printf ("Grüße an %s aus %s — %s", rows[r][1], rows[r][3], rows[r][2]);
        g_autofree char *text = g_strdup_printf ("Liebe(r) %s,\n\n%s\n\nFrom here on, a line that is long: %s\n",
                                                 rows[r][1], rows[r][2], rows[r][3]);
        g_autofree char *esc_name = g_markup_escape_text (rows[r][1], -1);
        g_autoptr(GString) esc_note = g_string_new (rows[r][2]);
        g_autofree char *html = NULL;
        g_autofree char *msgid = g_strdup_printf ("<%s>", id);
        const char *argv[] = { "/usr/bin/python3", "-c", script, path, NULL };
        g_auto(GStrv) lines = NULL;
        guint attachments = 0;
        int status = 0;

        g_assert_no_error (error);
        g_string_replace (esc_note, "&", "&amp;", 0);
        g_string_replace (esc_note, "<", "&lt;", 0);
        g_string_replace (esc_note, ">", "&gt;", 0);
        html = g_strdup_printf ("<p>Liebe(r) %s</p><p>%s</p>\n", esc_name, esc_note->str);
        g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), NULL));
        g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                                     &out, &err, &status, &error));
        g_assert_no_error (error);
        if (!g_spawn_check_wait_status (status, NULL))
          g_error ("python failed: %s", err);

        lines = g_strsplit (out, "\n", -1);
        for (guint i = 0; lines[i] && *lines[i]; i++)
          {
            g_auto(GStrv) kv = g_strsplit (lines[i], " ", 2);
            gsize len;
            g_autofree char *value = (char *) g_base64_decode (kv[1] ? kv[1] : "", &len);
            g_autofree char *v = g_strndup (value, len);

            if (g_str_equal (kv[0], "subject"))
              g_assert_cmpstr (v, ==, subject);
            else if (g_str_equal (kv[0], "to"))
              g_assert_cmpstr (v, ==, rows[r][0]);
            else if (g_str_equal (kv[0], "toname"))
              g_assert_cmpstr (v, ==, rows[r][1]);
            else if (g_str_equal (kv[0], "from"))
              g_assert_cmpstr (v, ==, "Les Nouvelles");
            else if (g_str_equal (kv[0], "msgid"))
              g_assert_cmpstr (v, ==, msgid);
            else if (g_str_equal (kv[0], "unsub"))
              g_assert_cmpstr (v, ==, "<https://example.org/unsub?u=42>");
            else if (g_str_equal (kv[0], "text"))
              g_assert_cmpstr (v, ==, text);
            else if (g_str_equal (kv[0], "html"))
              g_assert_cmpstr (v, ==, html);
            else if (g_str_equal (kv[0], "attachment"))
              {
                const char *expected[] = { "rapport annuel é.pdf|application/pdf|22", "pixel.png|image/png|16",
                                           "notes.txt|text/plain|12" };
                g_assert_cmpuint (attachments, <, 3);
                g_assert_cmpstr (v, ==, expected[attachments]);
                attachments++;
              }
            else if (g_str_equal (kv[0], "defects"))
              g_assert_cmpstr (v, ==, "0");
          }
        g_assert_cmpuint (attachments, ==, 3);
      }
}

static void
test_speed (void)
{
  Shape shape = {
    "Your {{city}} newsletter, {{name}}",
    "Dear {{name}},\n\n"
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore\n"
    "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\n"
    "aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse\n"
    "cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in\n"
    "culpa qui officia deserunt mollit anim id est laborum. {{note}}\n\n"
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore\n"
    "et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut\n"
    "aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse\n"
    "cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in\n"
    "culpa qui officia deserunt mollit anim id est laborum.\n\nRegards,\nThe team in {{city}}\n",
    NULL, FALSE, "https://example.org/u",
  };
  const char *values[] = { "reader@example.net", "Jane Reader", "See you soon.", "Lyon", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsMessageBuilder) builder = builder_for (&shape, &error);
  const guint n = 20000;
  gint64 start, fast, slow;

  g_assert_no_error (error);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    g_bytes_unref (ms_message_builder_render (builder, values, NULL, NULL));
  fast = g_get_monotonic_time () - start;
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n / 10; i++)
    g_bytes_unref (ms_message_builder_render_slow (builder, values, NULL, NULL));
  slow = (g_get_monotonic_time () - start) * 10;
  g_test_message ("render %.2f µs, render_slow %.2f µs per message", (double) fast / n, (double) slow / n);
  /* Not a benchmark (bench/bench-message is), but the layout must pay off. */
#ifdef MS_TEST_SANITIZER
  g_test_skip ("speeds not compared under the " MS_TEST_SANITIZER " sanitizer: it slows "
               "the instrumented render much more than GMime's own code in render_slow");
#else
  g_assert_cmpint (fast, <, slow);
#endif
}

int
main (int argc, char **argv)
{
  int result;

  ms_core_init ();
  g_test_init (&argc, &argv, NULL);
  tmp_dir = g_dir_make_tmp ("ms-message-XXXXXX", NULL);
  g_assert_nonnull (tmp_dir);

  g_test_add_func ("/mailshot/message/simple", test_simple);
  g_test_add_func ("/mailshot/message/message-id", test_message_id);
  g_test_add_func ("/mailshot/message/structure", test_structure);
  g_test_add_func ("/mailshot/message/unsubscribe", test_unsubscribe);
  g_test_add_func ("/mailshot/message/errors", test_errors);
  g_test_add_func ("/mailshot/message/subject-limit", test_subject_limit);
  g_test_add_func ("/mailshot/message/attachment-fifo", test_attachment_fifo);
  g_test_add_func ("/mailshot/message/user-file-load", test_user_file_load);
  g_test_add_func ("/mailshot/message/equivalence", test_equivalence);
  g_test_add_func ("/mailshot/message/fresh-ids", test_fresh_ids);
  g_test_add_func ("/mailshot/message/python", test_python);
  g_test_add_func ("/mailshot/message/speed", test_speed);

  result = g_test_run ();
  {
    g_autoptr(GDir) dir = g_dir_open (tmp_dir, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name (dir)))
      {
        g_autofree char *path = g_build_filename (tmp_dir, name, NULL);
        g_unlink (path);
      }
    g_rmdir (tmp_dir);
  }
  return result;
}
