/* test-help.c: every help page the app links to exists, and a failure links to the page about it
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "mailshot-core.h"

/* help/C/PAGE.page in the source tree, checked to be that page: the file
 * name alone is not what Yelp looks up, the page id is. */
static void
assert_page_exists (const char *page)
{
  g_autofree char *file = g_strconcat (page, ".page", NULL);
  g_autofree char *path = g_build_filename (g_getenv ("MS_TEST_SRCDIR"), "..", "help", "C", file, NULL);
  g_autofree char *contents = NULL;
  g_autofree char *id = g_strdup_printf (" id=\"%s\"", page);
  g_autoptr(GError) error = NULL;
  const char *tag;

  g_assert_true (g_file_get_contents (path, &contents, NULL, &error));
  g_assert_no_error (error);
  tag = strstr (contents, "<page ");
  g_assert_nonnull (tag);
  g_assert_true (g_str_has_prefix (strstr (tag, " id=\""), id));
  g_assert_true (strstr (tag, " id=\"") < strchr (tag, '>'));
}

/* Every page a failed test can link to, for every step and every class. */
static void
test_linked_pages_exist (void)
{
  g_autoptr(GEnumClass) classes = g_type_class_ref (MS_TYPE_REPLY_CLASS);
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint step = 0; step <= MS_PROBE_N_STEPS; step++)
    for (guint i = 0; i < classes->n_values; i++)
      {
        const char *page = ms_probe_step_get_help_page (step, classes->values[i].value);

        g_assert_nonnull (page);
        if (g_hash_table_add (seen, (gpointer) page))
          {
            g_test_message ("links to %s", page);
            assert_page_exists (page);
          }
      }
  /* The primary menu's Help (F1) opens help:mailshot, the index. */
  assert_page_exists ("index");
  /* One page for each step, the account and the limits. */
  g_assert_cmpuint (g_hash_table_size (seen), ==, MS_PROBE_N_STEPS + 2);
}

static void
test_page_for_failure (void)
{
  /* Each step has its page, named after the step. */
  for (guint step = 0; step < MS_PROBE_N_STEPS; step++)
    {
      g_autofree char *expected = g_strconcat ("test-", ms_probe_step_get_nick (step), NULL);

      g_assert_cmpstr (ms_probe_step_get_help_page (step, MS_REPLY_CLASS_NONE), ==, expected);
    }
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_STEP_AUTH, MS_REPLY_CLASS_AUTH_FAILED), ==, "test-auth");
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_STEP_TLS, MS_REPLY_CLASS_TLS), ==, "test-tls");
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_STEP_ENVELOPE, MS_REPLY_CLASS_RELAY_DENIED), ==,
                   "test-envelope");
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_STEP_DATA, MS_REPLY_CLASS_MISCONFIGURED), ==, "test-data");
  /* A rate limit, at whatever step, is waited out: the page on limits. */
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_STEP_ENVELOPE, MS_REPLY_CLASS_RATE_LIMITED), ==,
                   "blast-limits");
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_STEP_AUTH, MS_REPLY_CLASS_RATE_LIMITED), ==,
                   "blast-limits");
  /* Refused before the first step (no server, no password): the account. */
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_N_STEPS, MS_REPLY_CLASS_NONE), ==, "account-setup");
  g_assert_cmpstr (ms_probe_step_get_help_page (MS_PROBE_N_STEPS, MS_REPLY_CLASS_AUTH_FAILED), ==,
                   "account-setup");
}

int
main (int   argc,
      char *argv[])
{
  ms_core_init ();
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailshot/help/linked-pages-exist", test_linked_pages_exist);
  g_test_add_func ("/mailshot/help/page-for-failure", test_page_for_failure);

  return g_test_run ();
}
