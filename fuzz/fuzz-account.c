/* fuzz-account.c: fuzz target for ms_account_check_value
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: a key byte (a key of the schema, or from 0xF0 on a key name read from
 * the input up to a NUL), then the text as a user might type or paste it.
 * check_value needs no GSettings: it validates against the account's own table.
 * A value it accepts must come back unchanged when printed the way
 * `mailshot-cli config get` prints it and checked again.
 */
#include "config.h"

#include "fuzz-common.h"

#include "mailshot-core.h"
#include "ms-account.h"
#include "ms-error.h"

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  ms_core_init ();
  return 0;
}

/* As ms_account_get_as_string() prints a stored value. */
static char *
print_value (GVariant *value)
{
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_variant_dup_string (value, NULL);
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
    return g_strdup_printf ("%d", g_variant_get_int32 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
    return g_strdup_printf ("%" G_GINT64_FORMAT, g_variant_get_int64 (value));
  if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
    return g_strdup (g_variant_get_boolean (value) ? "true" : "false");
  fuzz_fail ("check_value gave a value of type %s", g_variant_get_type_string (value));
  return NULL;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static char **keys = NULL;
  FuzzInput in = { data, size };
  g_autoptr(GVariant) value = NULL;
  g_autoptr(GVariant) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *own_key = NULL;
  g_autofree char *text = NULL;
  g_autofree char *printed = NULL;
  const char *key;
  guint8 choice;

  if (keys == NULL)
    keys = ms_account_list_keys ();   /* kept for the whole run */

  choice = fuzz_byte (&in);
  if (choice >= 0xF0)
    {
      /* A key comes from the command line through GOption, which hands out UTF-8. */
      g_autofree char *raw = fuzz_take_until (&in, 0, NULL);

      key = own_key = g_utf8_make_valid (raw, -1);
    }
  else
    key = keys[choice % g_strv_length (keys)];
  text = fuzz_take_until (&in, 0, NULL);

  if (!ms_account_check_value (key, text, &value, &error))
    {
      fuzz_check (value == NULL);
      fuzz_check (error != NULL && error->domain == MS_ERROR && error->code == MS_ERROR_INVALID_VALUE);
      fuzz_check (g_utf8_validate (error->message, -1, NULL));
      /* Without @value the answer is the same. */
      g_clear_error (&error);
      fuzz_check (!ms_account_check_value (key, text, NULL, &error));
      return 0;
    }

  fuzz_check (error == NULL);
  fuzz_check (value != NULL && !g_variant_is_floating (value));
  fuzz_check (g_strv_contains ((const char * const *) keys, key));

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    {
      const char *s = g_variant_get_string (value, NULL);

      /* Whatever was pasted, a stored string is one line of text. */
      fuzz_check (g_utf8_validate (s, -1, NULL));
      fuzz_check (strchr (s, '\n') == NULL && strchr (s, '\r') == NULL);
      fuzz_check (strlen (s) <= 1024);
    }

  printed = print_value (value);
  if (!ms_account_check_value (key, printed, &again, &error))
    fuzz_fail ("%s: “%s” was accepted as “%s”, which is then refused: %s",
             key, text, printed, error->message);
  if (!g_variant_equal (value, again))
    fuzz_fail ("%s: “%s” was accepted as “%s”, which is read back as something else",
             key, text, printed);

  return 0;
}
