/* fuzz-autoconfig.c: fuzz target for ms_autoconfig_parse (Thunderbird's config-v1.1.xml)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: an address byte (one of the addresses below, or from 0xF0 on an
 * address read from the input up to a newline), then the file's bytes. The
 * file comes from any web server that answers for the domain: everything in
 * it is hostile. The file is parsed twice, with its length and, when it holds
 * no NUL, as a C string: both must give the same answer. A result keeps the
 * promises of ms-autoconfig.h: a host name, a port, TLS, text that is safe to
 * show, and the user ID filled in once from the address.
 */
#include "config.h"

#include "fuzz-common.h"

#include "mailshot-core.h"
#include "ms-autoconfig.h"
#include "ms-error.h"
#include "ms-recipients.h"

/* Parsing 64 KiB takes milliseconds, even under ASan on a busy machine; far
 * longer shows something quadratic (libFuzzer's -timeout catches worse). */
#define MAX_PARSE_USEC (3 * G_USEC_PER_SEC)

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  ms_core_init ();
  return 0;
}

/* Cc characters: no terminal escapes or line breaks from a web server into the
 * CLI, the setup assistant or the account. */
static void
check_text (const char *text)
{
  fuzz_check (text != NULL);
  fuzz_check (g_utf8_validate (text, -1, NULL));
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      fuzz_check (c >= 0x20 && c != 0x7f && !(c >= 0x80 && c < 0xa0));
    }
}

/* Thunderbird's placeholders filled in once, left to right: a placeholder that
 * comes in with the address (a local part may hold "%") stays as it is. */
static char *
expand_once (const char *pattern,
             const char *address)
{
  const char *at = strrchr (address, '@');
  g_autofree char *local = g_strndup (address, at - address);
  GString *out = g_string_new (NULL);
  const char *p = pattern;

  while (*p)
    {
      if (g_str_has_prefix (p, "%EMAILADDRESS%"))
        {
          g_string_append (out, address);
          p += strlen ("%EMAILADDRESS%");
        }
      else if (g_str_has_prefix (p, "%EMAILLOCALPART%"))
        {
          g_string_append (out, local);
          p += strlen ("%EMAILLOCALPART%");
        }
      else if (g_str_has_prefix (p, "%EMAILDOMAIN%"))
        {
          g_string_append (out, at + 1);
          p += strlen ("%EMAILDOMAIN%");
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

static void
check_result (const MsAutoconfigResult *r,
              const char               *address)
{
  g_autoptr(MsAutoconfigResult) copy = NULL;
  g_autofree char *user_id = NULL;
  g_autofree char *source = NULL;
  const char *method;
  gsize len;

  fuzz_check (g_strcmp0 (r->email_address, address) == 0);

  /* A host name as DNS has it, lower case: nothing a URL or a resolver could
   * read as user info, a port or an IP literal in brackets. */
  fuzz_check (r->server != NULL);
  len = strlen (r->server);
  fuzz_check (len >= 1 && len <= 253);
  fuzz_check (r->server[0] != '.' && r->server[0] != '-');
  fuzz_check (strstr (r->server, "..") == NULL);
  for (const char *p = r->server; *p; p++)
    fuzz_check (g_ascii_islower (*p) || g_ascii_isdigit (*p) || *p == '-' || *p == '.');

  fuzz_check (r->port >= 1 && r->port <= 65535);
  /* SSL or STARTTLS: a file never sets up a server without encryption. */
  fuzz_check (r->use_smtps == TRUE || r->use_smtps == FALSE);
  fuzz_check (r->auth >= MS_PROVIDER_AUTH_NONE && r->auth <= MS_PROVIDER_AUTH_OAUTH2);
  /* Only the table and the MX know OAuth2 client IDs. */
  fuzz_check (r->oauth2_provider == NULL);
  fuzz_check (r->source == MS_AUTOCONFIG_SOURCE_FILE);
  fuzz_check (r->source_detail == NULL);

  check_text (r->provider_name);
  fuzz_check (r->provider_name[0] != '\0');
  check_text (r->user_id_pattern);
  check_text (r->user_id);
  user_id = expand_once (r->user_id_pattern, address);
  if (strcmp (user_id, r->user_id) != 0)
    fuzz_fail ("user ID “%s” from “%s” and %s, filled in once: “%s”",
               r->user_id, r->user_id_pattern, address, user_id);

  method = ms_autoconfig_result_get_auth_method (r);
  fuzz_check (g_strcmp0 (method, "automatic") == 0 || g_strcmp0 (method, "cram-md5") == 0 ||
              g_strcmp0 (method, "oauth2") == 0);
  fuzz_check (ms_autoconfig_result_needs_authentication (r) == (r->auth != MS_PROVIDER_AUTH_NONE));
  source = ms_autoconfig_result_describe_source (r);
  fuzz_check (source != NULL && g_utf8_validate (source, -1, NULL));

  copy = ms_autoconfig_result_copy (r);
  fuzz_check (g_strcmp0 (copy->provider_name, r->provider_name) == 0);
  fuzz_check (g_strcmp0 (copy->server, r->server) == 0);
  fuzz_check (g_strcmp0 (copy->user_id, r->user_id) == 0);
  fuzz_check (copy->port == r->port && copy->use_smtps == r->use_smtps && copy->auth == r->auth);
}

static MsAutoconfigResult *
parse_timed (const char  *xml,
             gssize       length,
             const char  *address,
             GError     **error)
{
  MsAutoconfigResult *r;
  gint64 start = g_get_monotonic_time ();
  gint64 elapsed;

  r = ms_autoconfig_parse (xml, length, address, error);
  elapsed = g_get_monotonic_time () - start;
  if (elapsed > MAX_PARSE_USEC)
    fuzz_fail ("parsing %" G_GSSIZE_FORMAT " bytes took %.1f s", length, elapsed / (double) G_USEC_PER_SEC);

  fuzz_check ((r == NULL) == (error == NULL || *error != NULL));
  if (r == NULL && error != NULL)
    {
      fuzz_check ((*error)->domain == MS_ERROR && (*error)->code == MS_ERROR_INVALID_INPUT);
      fuzz_check (g_utf8_validate ((*error)->message, -1, NULL));
    }
  return r;
}

/* As ms_autoconfig_detect_async() hands addresses on: trimmed, with an @
 * neither first nor last, valid. */
static gboolean
is_detect_address (const char *a)
{
  const char *at = strrchr (a, '@');

  return g_utf8_validate (a, -1, NULL) && a[0] != '\0' &&
         !g_ascii_isspace (a[0]) && !g_ascii_isspace (a[strlen (a) - 1]) &&
         at != NULL && at != a && at[1] != '\0' && ms_recipients_address_is_valid (a);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const char * const addresses[] = {
    "jo@example.test",
    "Jo+News@Example.Test",
    "j\xc3\xb6rg@b\xc3\xbc" "cher.test",          /* jörg@bücher.test */
    "%EMAILDOMAIN%@percent.test",                  /* "%" is atext */
    "a%EMAILLOCALPART%b@percent.test",
    "x%EMAILADDRESS%@percent.test",
  };
  FuzzInput in = { data, size };
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autoptr(MsAutoconfigResult) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GError) error_again = NULL;
  g_autofree char *own_address = NULL;
  g_autofree char *terminated = NULL;
  const char *address;
  guint8 choice;

  choice = fuzz_byte (&in);
  address = addresses[choice % G_N_ELEMENTS (addresses)];
  if (choice >= 0xF0)
    {
      own_address = fuzz_take_until (&in, '\n', NULL);
      if (is_detect_address (own_address))
        address = own_address;
    }

  /* The bytes as fetched: not NUL-terminated (libFuzzer's buffer ends there). */
  r = parse_timed ((const char *) in.data, in.size, address, &error);
  if (r != NULL)
    check_result (r, address);

  /* The same bytes as a C string, when they are one: the same answer. */
  if (memchr (in.data, 0, in.size) == NULL)
    {
      terminated = g_strndup ((const char *) in.data, in.size);
      again = parse_timed (terminated, -1, address, &error_again);
      fuzz_check ((r == NULL) == (again == NULL));
      if (r != NULL)
        {
          fuzz_check (strcmp (r->server, again->server) == 0 && r->port == again->port);
          fuzz_check (strcmp (r->user_id, again->user_id) == 0);
          fuzz_check (strcmp (r->provider_name, again->provider_name) == 0);
          fuzz_check (r->use_smtps == again->use_smtps && r->auth == again->auth);
        }
      else
        fuzz_check (strcmp (error->message, error_again->message) == 0);
    }

  /* Without an error pointer, the same answer. */
  {
    g_autoptr(MsAutoconfigResult) quiet = ms_autoconfig_parse ((const char *) in.data, in.size, address, NULL);

    fuzz_check ((quiet == NULL) == (r == NULL));
  }

  return 0;
}
