/* test-provider.c: provider detection by host name, settings hints, published limits and pacing warnings
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "ms-provider.h"

static void
test_detect (void)
{
  static const struct {
    const char *host;
    MsProvider  provider;
  } cases[] = {
    { "smtp.gmail.com",                           MS_PROVIDER_GMAIL },
    { "SMTP.Gmail.COM",                           MS_PROVIDER_GMAIL },
    { "smtp.gmail.com.",                          MS_PROVIDER_GMAIL },
    { "  smtp.gmail.com  ",                       MS_PROVIDER_GMAIL },
    { "smtp-relay.gmail.com",                     MS_PROVIDER_GMAIL },
    { "smtp.googlemail.com",                      MS_PROVIDER_GMAIL },
    { "aspmx.l.google.com",                       MS_PROVIDER_GMAIL },
    { "ALT1.ASPMX.L.GOOGLE.COM.",                 MS_PROVIDER_GMAIL },
    { "smtp.office365.com",                       MS_PROVIDER_OFFICE365 },
    { "SMTP.OFFICE365.COM.",                      MS_PROVIDER_OFFICE365 },
    { "smtp-mail.outlook.com",                    MS_PROVIDER_OFFICE365 },
    { "contoso-com.mail.protection.outlook.com",  MS_PROVIDER_OFFICE365 },
    { "Contoso-Com.Mail.Protection.Outlook.Com.", MS_PROVIDER_OFFICE365 },
    /* look-alikes and others */
    { "notgmail.com",                             MS_PROVIDER_OTHER },
    { "smtp.gmail.com.evil.example",              MS_PROVIDER_OTHER },
    { "gmail.co",                                 MS_PROVIDER_OTHER },
    { "myoffice365.com",                          MS_PROVIDER_OTHER },
    { "outlook.com.example.org",                  MS_PROVIDER_OTHER },
    { "mail.example.org",                         MS_PROVIDER_OTHER },
    { "127.0.0.1",                                MS_PROVIDER_OTHER },
    { "::1",                                      MS_PROVIDER_OTHER },
    { "",                                         MS_PROVIDER_OTHER },
    { ".",                                        MS_PROVIDER_OTHER },
    { "...",                                      MS_PROVIDER_OTHER },
    { "\xff\xfe",                                 MS_PROVIDER_OTHER },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *shown = g_strescape (cases[i].host, NULL);

      g_test_message ("%s", shown);
      g_assert_cmpint (ms_provider_detect (cases[i].host), ==, cases[i].provider);
    }
  g_assert_cmpint (ms_provider_detect (NULL), ==, MS_PROVIDER_OTHER);
}

static void
test_names (void)
{
  g_assert_cmpstr (ms_provider_get_name (MS_PROVIDER_GMAIL), ==, "Gmail");
  g_assert_cmpstr (ms_provider_get_name (MS_PROVIDER_OFFICE365), ==, "Microsoft 365");
  g_assert_cmpstr (ms_provider_get_name (MS_PROVIDER_OTHER), ==, "Other");
}

static gboolean
any_contains (char * const *hints,
              const char   *word)
{
  for (guint i = 0; hints[i] != NULL; i++)
    if (strstr (hints[i], word) != NULL)
      return TRUE;
  return FALSE;
}

static void
assert_sentences (char * const *hints)
{
  for (guint i = 0; hints[i] != NULL; i++)
    {
      g_assert_true (g_utf8_validate (hints[i], -1, NULL));
      g_assert_true (g_unichar_isupper (g_utf8_get_char (hints[i])));
      g_assert_true (g_str_has_suffix (hints[i], "."));
    }
}

static void
test_hints_gmail (void)
{
  g_auto(GStrv) good_465 = ms_provider_get_hints ("smtp.gmail.com", 465, TRUE);
  g_auto(GStrv) good_587 = ms_provider_get_hints ("smtp.gmail.com", 587, FALSE);
  g_auto(GStrv) bad_smtps = ms_provider_get_hints ("smtp.gmail.com", 587, TRUE);
  g_auto(GStrv) bad_plain = ms_provider_get_hints ("smtp.gmail.com", 465, FALSE);
  g_auto(GStrv) bad_port = ms_provider_get_hints ("SMTP.GMAIL.COM.", 2525, FALSE);

  assert_sentences (good_465);
  g_assert_cmpuint (g_strv_length (good_465), ==, 3);
  /* recommend against, with the limits */
  g_assert_true (any_contains (good_465, "500"));
  g_assert_true (any_contains (good_465, "2,000"));
  g_assert_true (any_contains (good_465, "not meant for e-blasts"));
  /* the app password */
  g_assert_true (any_contains (good_465, "app password"));
  g_assert_true (any_contains (good_465, "2-Step Verification"));
  /* the ports, without saying they are wrong */
  g_assert_true (any_contains (good_465, "465"));
  g_assert_true (any_contains (good_465, "587"));
  g_assert_false (any_contains (good_465, "do not fit"));
  g_assert_false (any_contains (good_587, "do not fit"));
  g_assert_cmpuint (g_strv_length (good_587), ==, 3);

  char **mismatched[] = { bad_smtps, bad_plain, bad_port };

  for (guint i = 0; i < G_N_ELEMENTS (mismatched); i++)
    {
      char **hints = mismatched[i];

      assert_sentences (hints);
      g_assert_cmpuint (g_strv_length (hints), ==, 3);
      g_assert_true (any_contains (hints, "do not fit Gmail"));
      g_assert_true (any_contains (hints, "“Use SMTPS”"));
      g_assert_true (any_contains (hints, "app password"));
    }
}

static void
test_hints_office365 (void)
{
  g_auto(GStrv) good = ms_provider_get_hints ("smtp.office365.com", 587, FALSE);
  g_auto(GStrv) smtps = ms_provider_get_hints ("smtp.office365.com", 465, TRUE);
  g_auto(GStrv) smtps_587 = ms_provider_get_hints ("smtp.office365.com", 587, TRUE);
  g_auto(GStrv) port_25 = ms_provider_get_hints ("smtp-mail.outlook.com", 25, FALSE);

  assert_sentences (good);
  g_assert_cmpuint (g_strv_length (good), ==, 4);
  g_assert_true (any_contains (good, "not meant for e-blasts"));
  g_assert_true (any_contains (good, "30 messages a minute"));
  g_assert_true (any_contains (good, "10,000 recipients a day"));
  g_assert_true (any_contains (good, "3 connections"));
  g_assert_true (any_contains (good, "SMTP AUTH"));
  g_assert_true (any_contains (good, "Sent Items"));
  g_assert_false (any_contains (good, "do not fit"));
  g_assert_false (any_contains (good, "app password"));

  char **mismatched[] = { smtps, smtps_587, port_25 };

  for (guint i = 0; i < G_N_ELEMENTS (mismatched); i++)
    {
      char **hints = mismatched[i];

      assert_sentences (hints);
      g_assert_cmpuint (g_strv_length (hints), ==, 4);
      g_assert_true (any_contains (hints, "do not fit Microsoft 365"));
      g_assert_true (any_contains (hints, "turn “Use SMTPS” off"));
      g_assert_true (any_contains (hints, "port 587"));
      g_assert_true (any_contains (hints, "SMTP AUTH"));
    }
}

static void
test_hints_other (void)
{
  static const char *const hosts[] = { "mail.example.org", "smtp.mailgun.org", "", "gmail.com.example", NULL };

  for (guint i = 0; i < G_N_ELEMENTS (hosts); i++)
    {
      g_auto(GStrv) hints = ms_provider_get_hints (hosts[i], 587, FALSE);

      g_assert_nonnull (hints);
      g_assert_cmpuint (g_strv_length (hints), ==, 0);
    }
}

static void
test_limits (void)
{
  MsProviderLimits limits;

  g_assert_true (ms_provider_get_limits (MS_PROVIDER_OFFICE365, &limits));
  g_assert_cmpuint (limits.per_minute, ==, 30);
  g_assert_cmpuint (limits.per_hour, ==, 0);
  g_assert_cmpuint (limits.per_day, ==, 10000);
  g_assert_cmpuint (limits.connections, ==, 3);

  g_assert_true (ms_provider_get_limits (MS_PROVIDER_GMAIL, &limits));
  g_assert_cmpuint (limits.per_minute, ==, 0);
  g_assert_cmpuint (limits.per_day, ==, 500);
  g_assert_cmpuint (limits.per_day_max, ==, 2000);
  g_assert_cmpuint (limits.connections, ==, 0);

  memset (&limits, 0xff, sizeof limits);
  g_assert_false (ms_provider_get_limits (MS_PROVIDER_OTHER, &limits));
  g_assert_cmpuint (limits.per_minute, ==, 0);
  g_assert_cmpuint (limits.per_hour, ==, 0);
  g_assert_cmpuint (limits.per_day, ==, 0);
  g_assert_cmpuint (limits.per_day_max, ==, 0);
  g_assert_cmpuint (limits.connections, ==, 0);
}

static void
test_check_pacing (void)
{
  /* Unlimited everything on Microsoft 365: minute, day and (5 >) connections. */
  {
    g_auto(GStrv) w = ms_provider_check_pacing ("smtp.office365.com", 0, 0, 0, 5);

    assert_sentences (w);
    g_assert_cmpuint (g_strv_length (w), ==, 3);
    g_assert_true (any_contains (w, "“Messages per minute” to 30"));
    g_assert_true (any_contains (w, "“Messages per rolling day” to 10000"));
    g_assert_true (any_contains (w, "“Connections at once” to 3"));
  }
  /* Within the limits. */
  {
    g_auto(GStrv) w = ms_provider_check_pacing ("smtp.office365.com", 30, 0, 9000, 3);
    g_assert_cmpuint (g_strv_length (w), ==, 0);
  }
  {
    g_auto(GStrv) w = ms_provider_check_pacing ("smtp.office365.com", 31, 1800, 10000, 1);
    g_assert_cmpuint (g_strv_length (w), ==, 1);
    g_assert_true (any_contains (w, "30 messages a minute"));
  }
  /* Gmail: Workspace may go to 2,000, no further. */
  {
    g_auto(GStrv) w = ms_provider_check_pacing ("smtp.gmail.com", 0, 0, 1500, 4);
    g_assert_cmpuint (g_strv_length (w), ==, 0);
  }
  {
    g_auto(GStrv) w = ms_provider_check_pacing ("smtp.gmail.com", 0, 0, 3000, 1);

    g_assert_cmpuint (g_strv_length (w), ==, 1);
    g_assert_true (any_contains (w, "500"));
    g_assert_true (any_contains (w, "2000"));
  }
  {
    g_auto(GStrv) w = ms_provider_check_pacing ("smtp.gmail.com", 0, 0, 0, 1);
    g_assert_cmpuint (g_strv_length (w), ==, 1);
  }
  /* Unknown providers: nothing to compare with. */
  {
    g_auto(GStrv) w = ms_provider_check_pacing ("mail.example.org", 0, 0, 0, 50);
    g_assert_nonnull (w);
    g_assert_cmpuint (g_strv_length (w), ==, 0);
  }
  {
    g_auto(GStrv) w = ms_provider_check_pacing (NULL, 0, 0, 0, 50);
    g_assert_nonnull (w);
    g_assert_cmpuint (g_strv_length (w), ==, 0);
  }
}

static gboolean
notes_mention (GPtrArray  *notes,
               const char *text)
{
  for (guint i = 0; i < notes->len; i++)
    if (strstr (((MsProviderNote *) g_ptr_array_index (notes, i))->text, text) != NULL)
      return TRUE;
  return FALSE;
}

/* The notes about passwords are not for an account that signs in with
 * OAuth2: Microsoft 365's SMTP AUTH with LOGIN or PLAIN, Gmail's app password. */
static void
test_notes_oauth2 (void)
{
  MsProviderAccountSettings settings = {
    .server = "smtp.office365.com", .port = 587, .needs_auth = TRUE,
    .per_minute = 25, .per_day = 9000, .connections = 1,
  };
  g_autoptr(GPtrArray) password = ms_provider_get_notes (&settings);
  g_autoptr(GPtrArray) oauth2 = NULL;
  g_autoptr(GPtrArray) gmail_password = NULL;
  g_autoptr(GPtrArray) gmail_oauth2 = NULL;

  g_assert_true (notes_mention (password, "SMTP AUTH"));
  settings.oauth2 = TRUE;
  oauth2 = ms_provider_get_notes (&settings);
  g_assert_false (notes_mention (oauth2, "SMTP AUTH"));
  g_assert_false (notes_mention (oauth2, "LOGIN or PLAIN"));
  /* The rest stays. */
  g_assert_true (notes_mention (oauth2, "poor choices for bulk mail"));
  g_assert_true (notes_mention (oauth2, "port 587 with STARTTLS"));
  g_assert_true (notes_mention (oauth2, "Sent Items"));
  /* The mailbox's switch is said in words for OAuth2. */
  g_assert_true (notes_mention (oauth2, "signing in with OAuth2 needs it too"));
  g_assert_false (notes_mention (password, "signing in with OAuth2 needs it too"));
  g_assert_cmpuint (oauth2->len, ==, password->len);

  settings.server = "smtp.gmail.com";
  settings.oauth2 = FALSE;
  gmail_password = ms_provider_get_notes (&settings);
  g_assert_true (notes_mention (gmail_password, "app password"));
  settings.oauth2 = TRUE;
  gmail_oauth2 = ms_provider_get_notes (&settings);
  g_assert_false (notes_mention (gmail_oauth2, "app password"));
  g_assert_true (notes_mention (gmail_oauth2, "poor choices for bulk mail"));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailshot/provider/detect", test_detect);
  g_test_add_func ("/mailshot/provider/names", test_names);
  g_test_add_func ("/mailshot/provider/hints-gmail", test_hints_gmail);
  g_test_add_func ("/mailshot/provider/hints-office365", test_hints_office365);
  g_test_add_func ("/mailshot/provider/hints-other", test_hints_other);
  g_test_add_func ("/mailshot/provider/limits", test_limits);
  g_test_add_func ("/mailshot/provider/check-pacing", test_check_pacing);
  g_test_add_func ("/mailshot/provider/notes-oauth2", test_notes_oauth2);

  return g_test_run ();
}
