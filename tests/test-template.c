/* test-template.c: {{field}} merge: escaping, raw values, header safety, errors with where/line/column
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include <gmime/gmime.h>

#include "mailshot-core.h"

static const char *fields[] = { "email", "name", "first name", "Company", NULL };

static char *
expand (const char         *source,
        MsTemplateKind      kind,
        const char * const *values)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsTemplate) t = ms_template_new (source, kind, "text body", &error);
  GString *out = g_string_new (NULL);

  g_assert_no_error (error);
  g_assert_true (ms_template_bind (t, fields, &error));
  g_assert_no_error (error);
  ms_template_expand (t, values, out);
  return g_string_free (out, FALSE);
}

static void
test_plain (void)
{
  const char *values[] = { "a@example.org", "Ada <Lovelace> & co", "Ada", "ACME", NULL };
  struct {
    const char *source;
    const char *expected;
  } cases[] = {
    { "Hello {{name}}!", "Hello Ada <Lovelace> & co!" },
    { "{{ name }}|{{name}}|{{  first name  }}", "Ada <Lovelace> & co|Ada <Lovelace> & co|Ada" },
    { "{{email}}", "a@example.org" },
    { "no fields at all", "no fields at all" },
    { "", "" },
    { "{{{name}}}", "Ada <Lovelace> & co" },
    /* Case-insensitive binding when no exact column exists. */
    { "{{company}} {{NAME}}", "ACME Ada <Lovelace> & co" },
    /* Escaped braces and lone braces stay literal. */
    { "\\{{name}} costs {5} or }} or { {", "{{name}} costs {5} or }} or { {" },
    { "back\\slash \\n {{first name}}", "back\\slash \\n Ada" },
    { "multi\nline {{first name}}\nend", "multi\nline Ada\nend" },
    { "ünïcödé {{first name}} ✓", "ünïcödé Ada ✓" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = expand (cases[i].source, MS_TEMPLATE_PLAIN, values);

      g_assert_cmpstr (out, ==, cases[i].expected);
    }
}

static void
test_html (void)
{
  const char *values[] = { "a@example.org", "<b>Tom & \"Jerry\"</b> it's", "Tom", "R&D", NULL };
  g_autofree char *escaped = expand ("<p>{{name}}</p>", MS_TEMPLATE_HTML, values);
  g_autofree char *raw = expand ("<p>{{{name}}}</p>", MS_TEMPLATE_HTML, values);
  g_autofree char *both = expand ("{{Company}}/{{{ Company }}}", MS_TEMPLATE_HTML, values);
  /* Literal markup in the template itself is never touched. */
  g_autofree char *literal = expand ("<a href=\"x?a=1&b=2\">{{first name}}</a>", MS_TEMPLATE_HTML, values);

  g_assert_cmpstr (escaped, ==, "<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt; it&#39;s</p>");
  g_assert_cmpstr (raw, ==, "<p><b>Tom & \"Jerry\"</b> it's</p>");
  g_assert_cmpstr (both, ==, "R&amp;D/R&D");
  g_assert_cmpstr (literal, ==, "<a href=\"x?a=1&b=2\">Tom</a>");
}

static void
test_header_kind (void)
{
  const char *values[] = { "a@example.org", "Bob\r\nBcc: victim@example.org", "Tab\there\x01\x7f" "end", "x", NULL };
  g_autofree char *out = expand ("Hi {{name}} / {{first name}}", MS_TEMPLATE_HEADER, values);
  /* A literal line break in the subject template itself is folded too. */
  g_autofree char *literal = expand ("Line one\r\nBcc: x@example.org {{Company}}", MS_TEMPLATE_HEADER, values);

  g_assert_cmpstr (out, ==, "Hi Bob Bcc: victim@example.org / Tab here end");
  g_assert_cmpstr (literal, ==, "Line one Bcc: x@example.org x");
  g_assert_null (strpbrk (out, "\r\n\t"));
}

static void
test_field_names (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsTemplate) t = ms_template_new ("{{b}} {{a}} {{ b }} {{{c}}}", MS_TEMPLATE_HTML, "HTML body", &error);
  g_autoptr(MsTemplate) c = ms_template_new ("constant", MS_TEMPLATE_PLAIN, "text body", &error);
  g_auto(GStrv) names = NULL;

  g_assert_no_error (error);
  names = ms_template_get_field_names (t);
  g_assert_cmpuint (g_strv_length (names), ==, 3);
  g_assert_cmpstr (names[0], ==, "b");
  g_assert_cmpstr (names[1], ==, "a");
  g_assert_cmpstr (names[2], ==, "c");
  g_assert_false (ms_template_is_constant (t));
  g_assert_true (ms_template_is_constant (c));
  g_assert_cmpint (ms_template_get_kind (t), ==, MS_TEMPLATE_HTML);
}

static void
test_missing_field (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsTemplate) t = ms_template_new ("<p>Hello</p>\n\n<p>{{ fristname }}, {{name}}</p>",
                                             MS_TEMPLATE_HTML, "HTML body", &error);

  g_assert_no_error (error);
  g_assert_false (ms_template_bind (t, fields, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_cmpstr (error->message, ==,
                   "The HTML body uses {{fristname}} (line 3), but the recipient list has no such "
                   "column. Columns: email, name, first name, Company.");
}

/* Issue 8: a merged header value has a limit. A 64 KiB note merged into
 * the subject made a subject of 64 KiB; now it is an error naming the field. */
static void
test_header_limit (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsTemplate) t = ms_template_new ("News for {{name}} at {{Company}}", MS_TEMPLATE_HEADER, "subject", &error);
  g_autoptr(MsTemplate) body = ms_template_new ("{{name}}", MS_TEMPLATE_PLAIN, "text body", &error);
  g_autofree char *fits = g_strnfill (MS_TEMPLATE_HEADER_MAX_LENGTH - strlen ("News for  at ACME"), 'n');
  g_autofree char *long_name = g_strnfill (64 * 1024, 'n');
  const char *values[] = { "a@example.org", fits, "Ada", "ACME", NULL };
  g_autoptr(GString) out = g_string_new ("kept|");

  g_assert_no_error (error);
  g_assert_true (ms_template_bind (t, fields, &error));
  g_assert_true (ms_template_bind (body, fields, &error));

  /* 998 bytes: the most a header line holds. */
  g_assert_true (ms_template_expand_checked (t, values, out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out->len, ==, strlen ("kept|") + MS_TEMPLATE_HEADER_MAX_LENGTH);

  /* One more: refused, naming the part and the field; @out as it was. */
  g_string_assign (out, "kept|");
  values[1] = long_name;
  g_assert_false (ms_template_expand_checked (t, values, out, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_cmpstr (error->message, ==,
                   "The subject is 65553 bytes long once merged, more than the 998 a mail header may hold: "
                   "{{name}} brings 65536 of them. Shorten that column’s value, or leave it out of the subject.");
  g_assert_cmpstr (out->str, ==, "kept|");
  g_clear_error (&error);

  /* Bodies have no such limit. */
  g_assert_true (ms_template_expand_checked (body, values, out, &error));
  g_assert_cmpuint (out->len, ==, strlen ("kept|") + 64 * 1024);
}

/* Issue 8: the list of columns in a message is cut to about 80 characters. */
static void
test_long_column_list (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(MsTemplate) t = ms_template_new ("{{nope}}", MS_TEMPLATE_PLAIN, "text body", &error);
  g_autoptr(GStrvBuilder) b = g_strv_builder_new ();
  g_auto(GStrv) many = NULL;

  for (guint i = 0; i < 50000; i++)
    {
      g_autofree char *name = g_strdup_printf ("column %u", i);
      g_strv_builder_add (b, name);
    }
  many = g_strv_builder_end (b);
  g_assert_false (ms_template_bind (t, (const char * const *) many, &error));
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_cmpuint (strlen (error->message), <, 300);
  g_assert_nonnull (strstr (error->message, "Columns: column 0, column 1, column 2"));
  g_assert_true (g_str_has_suffix (error->message, "….") );
}

static void
test_parse_errors (void)
{
  struct {
    const char *source;
    const char *where;
    const char *needles[3];
  } cases[] = {
    { "Hello {{name", "subject", { "The subject", "line 1, column 7", "not closed" } },
    { "a\nb\n  ü {{ name }\n", "text body", { "The text body", "line 3, column 5", "not closed" } },
    { "x {{na\nme}}", "HTML body", { "The HTML body", "line 1, column 3", NULL } },
    { "{{}}", "subject", { "empty", "line 1, column 1", NULL } },
    { "ok\n{{   }}", "text body", { "empty", "line 2, column 1", NULL } },
    { "{{{name}}", "HTML body", { "“{{{”", "line 1, column 1", "“}}”" } },
    { "{{{name", "HTML body", { "“{{{”", "not closed", NULL } },
    { "bad \xff utf-8", "text body", { "UTF-8", "text body", NULL } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(MsTemplate) t = ms_template_new (cases[i].source, MS_TEMPLATE_HTML, cases[i].where, &error);

      g_assert_null (t);
      g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
      for (guint k = 0; k < 3 && cases[i].needles[k]; k++)
        if (strstr (error->message, cases[i].needles[k]) == NULL)
          g_error ("case %u: “%s” not in “%s”", i, cases[i].needles[k], error->message);
    }
}

/* Header injection through a merged value, checked on the rendered message
 * as a parser sees it: no new header, the subject keeps the text on one line. */
static void
test_injection (void)
{
  const char *csv_fields[] = { "email", "name", "note", NULL };
  const char *values[] = { "rcpt@example.org", "Bob\r\nBcc: victim@example.net", "x\nReply-To: evil@example.net", NULL };
  MsMessageSpec spec = {
    .from_address = "sender@example.org",
    .subject = "Hello {{name}} {{note}}",
    .text = "Body {{name}}\n",
    .fields = csv_fields,
    .email_index = 0,
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsMessageBuilder) builder = ms_message_builder_new (&spec, &error);

  g_assert_no_error (error);
  for (guint pass = 0; pass < 2; pass++)
    {
      g_autoptr(GBytes) bytes = pass == 0 ? ms_message_builder_render (builder, values, NULL, &error)
                                          : ms_message_builder_render_slow (builder, values, NULL, &error);
      gsize len;
      const char *data = g_bytes_get_data (bytes, &len);
      GMimeStream *stream = g_mime_stream_mem_new_with_buffer (data, len);
      GMimeParser *parser = g_mime_parser_new_with_stream (stream);
      GMimeMessage *message = g_mime_parser_construct_message (parser, NULL);
      GMimeHeaderList *headers;
      InternetAddressList *to;
      g_autofree char *to_string = NULL;

      g_assert_no_error (error);
      g_assert_nonnull (message);
      headers = g_mime_object_get_header_list (GMIME_OBJECT (message));
      g_assert_false (g_mime_header_list_contains (headers, "Bcc"));
      g_assert_false (g_mime_header_list_contains (headers, "Reply-To"));
      g_assert_cmpstr (g_mime_message_get_subject (message), ==,
                       "Hello Bob Bcc: victim@example.net x Reply-To: evil@example.net");
      /* The display name from the "name" column cannot add a header either. */
      to = g_mime_message_get_to (message);
      g_assert_cmpint (internet_address_list_length (to), ==, 1);
      g_assert_cmpstr (internet_address_mailbox_get_addr (INTERNET_ADDRESS_MAILBOX (internet_address_list_get_address (to, 0))),
                       ==, "rcpt@example.org");
      g_assert_cmpstr (internet_address_get_name (internet_address_list_get_address (to, 0)), ==,
                       "Bob Bcc: victim@example.net");
      /* The raw header block has no such line either (the body may say anything). */
      {
        const char *end = g_strstr_len (data, len, "\r\n\r\n");

        g_assert_nonnull (end);
        g_assert_null (g_strstr_len (data, end - data, "\nBcc:"));
        g_assert_null (g_strstr_len (data, end - data, "\nReply-To:"));
      }

      g_object_unref (message);
      g_object_unref (parser);
      g_object_unref (stream);
    }
}

static void
test_speed (void)
{
  const char *values[] = { "a@example.org", "Ada & Co <x>", "Ada", "ACME", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(MsTemplate) t = ms_template_new ("<p>Dear {{first name}},</p><p>{{name}} at {{Company}}</p>"
                                             "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>",
                                             MS_TEMPLATE_HTML, "HTML body", &error);
  GString *out = g_string_sized_new (4096);
  gint64 start;
  const guint n = 200000;

  g_assert_no_error (error);
  g_assert_true (ms_template_bind (t, fields, &error));
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      g_string_truncate (out, 0);
      ms_template_expand (t, values, out);
    }
  g_test_message ("expand: %.3f µs each", (double) (g_get_monotonic_time () - start) / n);
  g_string_free (out, TRUE);
}

/* Many placeholders compile in linear time (counting each one's line and
 * column from the start made 512 KiB of them take 14 s), with the position
 * of an error still exact after multi-byte characters. */
static void
test_many_placeholders (void)
{
  g_autoptr(GString) source = g_string_new (NULL);
  g_autoptr(GString) big = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(MsTemplate) t = NULL;
  g_autoptr(MsTemplate) bad = NULL;
  gint64 start;

  for (guint i = 0; i < 32768; i++)
    g_string_append (source, "<p>{{name}}</p>\n");
  for (guint i = 0; i < 40000; i++)
    g_string_append (big, "é{{a}}");   /* one long line */
  start = g_get_monotonic_time ();
  t = ms_template_new (source->str, MS_TEMPLATE_HTML, "HTML body", &error);
  g_assert_no_error (error);
  g_clear_object (&t);
  t = ms_template_new (big->str, MS_TEMPLATE_PLAIN, "text body", &error);
  g_assert_no_error (error);
#ifdef MS_TEST_SANITIZER
  g_test_message ("parsed in %.1f s", (g_get_monotonic_time () - start) / 1e6);
  g_test_skip ("time not checked under the " MS_TEST_SANITIZER " sanitizer: its string "
               "interceptors make the parse many times slower");
#else
  g_assert_cmpint (g_get_monotonic_time () - start, <, 2 * G_USEC_PER_SEC);
#endif

  /* Line 3, after "äö{{a}}" (7 characters): column 8. */
  bad = ms_template_new ("x{{a}}\n{{b}}\näö{{a}}{{ c", MS_TEMPLATE_PLAIN, "text body", &error);
  g_assert_null (bad);
  g_assert_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT);
  g_assert_nonnull (strstr (error->message, "line 3, column 8"));
}

int
main (int argc, char **argv)
{
  ms_core_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailshot/template/plain", test_plain);
  g_test_add_func ("/mailshot/template/html", test_html);
  g_test_add_func ("/mailshot/template/header-kind", test_header_kind);
  g_test_add_func ("/mailshot/template/field-names", test_field_names);
  g_test_add_func ("/mailshot/template/missing-field", test_missing_field);
  g_test_add_func ("/mailshot/template/parse-errors", test_parse_errors);
  g_test_add_func ("/mailshot/template/header-limit", test_header_limit);
  g_test_add_func ("/mailshot/template/long-column-list", test_long_column_list);
  g_test_add_func ("/mailshot/template/injection", test_injection);
  g_test_add_func ("/mailshot/template/speed", test_speed);
  g_test_add_func ("/mailshot/template/many-placeholders", test_many_placeholders);

  return g_test_run ();
}
