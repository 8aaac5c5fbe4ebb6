/* ms-cli-oauth2.c: `mailshot-cli oauth2 sign-in | sign-out | goa`, the OAuth2 sign-in of an account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-cli.h"
#include "ms-goa.h"

#define OAUTH2_USAGE "mailshot-cli [--account NAME] oauth2 sign-in | sign-out | goa [--use ID | --stop]"

typedef struct {
  GMainLoop    *loop;
  GCancellable *cancellable;
  gboolean      ok;
  GError       *error;
} SignIn;

static void
print_uri (const char *uri,
           gpointer    user_data)
{
  /* Standard output, alone on its line: a script can pick it up. */
  g_printerr (_("Open this address in a web browser and sign in; Mailshot waits for the browser to come "
                "back (Ctrl-C cancels):\n"));
  g_print ("%s\n", uri);
  fflush (stdout);
}

static gboolean
on_sigint (gpointer user_data)
{
  SignIn *sign_in = user_data;

  g_cancellable_cancel (sign_in->cancellable);
  return G_SOURCE_CONTINUE;
}

static void
signed_in (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  SignIn *sign_in = user_data;

  sign_in->ok = ms_oauth2_sign_in_finish (MS_OAUTH2 (source), result, &sign_in->error);
  g_main_loop_quit (sign_in->loop);
}

static int
oauth2_sign_in (MsAccount *account,
                MsOAuth2  *oauth2)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  SignIn sign_in = { loop, cancellable, FALSE, NULL };
  guint sigint, sigterm;

  if (ms_account_get_auth_method (account) != MS_AUTH_METHOD_OAUTH2)
    g_printerr (_("Note: the account does not sign in with OAuth2 yet; "
                  "“mailshot-cli config set auth-method oauth2” makes it.\n"));

  sigint = g_unix_signal_add (SIGINT, on_sigint, &sign_in);
  sigterm = g_unix_signal_add (SIGTERM, on_sigint, &sign_in);
  ms_oauth2_sign_in_async (oauth2, print_uri, NULL, cancellable, signed_in, &sign_in);
  g_main_loop_run (loop);
  g_source_remove (sigint);
  g_source_remove (sigterm);

  if (!sign_in.ok)
    {
      int rc = ms_cli_fail (MS_CLI_FAILED, "%s", sign_in.error->message);

      g_error_free (sign_in.error);
      return rc;
    }
  g_print (_("Signed in as %s with %s; the sign-in is kept in the keyring.\n"),
           ms_oauth2_get_user (oauth2), ms_oauth2_get_provider_name (oauth2));
  return MS_CLI_OK;
}

static int
oauth2_sign_out (MsAccount *account,
                 MsOAuth2  *oauth2)
{
  g_autoptr(GError) error = NULL;

  if (ms_oauth2_get_goa_account_id (oauth2) != NULL)
    {
      g_print (_("Account “%s” gets its access token from GNOME Online Accounts; Mailshot keeps no sign-in of "
                 "its own. Remove the account in Settings → Online Accounts, or stop using it here with "
                 "“mailshot-cli oauth2 goa --stop”.\n"),
               ms_account_get_name (account));
      return MS_CLI_OK;
    }
  if (!ms_oauth2_sign_out (oauth2, NULL, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  g_print (_("Signed out: no OAuth2 sign-in of %s for account “%s” is left in the keyring.\n"),
           ms_oauth2_get_user (oauth2), ms_account_get_name (account));
  return MS_CLI_OK;
}

#ifdef MS_HAVE_GOA
/* The sign-in of the app's own, if any: once GOA provides the token, no
 * refresh token of ours is left behind in the keyring. */
static gboolean
forget_own_sign_in (MsAccount  *account,
                    GError    **error)
{
  g_autoptr(MsOAuth2) own = NULL;
  MsOAuth2Params params = { 0 };
  const char *user = *ms_account_get_user_id (account) != '\0' ? ms_account_get_user_id (account)
                                                                : ms_account_get_email_address (account);

  params.account = ms_account_get_name (account);
  params.provider = ms_account_get_oauth2_provider (account);
  params.user = user;
  params.client_id = ms_account_get_oauth2_client_id (account);
  params.tenant = ms_account_get_oauth2_tenant (account);
  params.auth_endpoint = ms_account_get_oauth2_auth_endpoint (account);
  params.token_endpoint = ms_account_get_oauth2_token_endpoint (account);
  own = ms_oauth2_new (&params, NULL);
  /* Without a client ID there never was a sign-in of ours. */
  return own == NULL || ms_oauth2_sign_out (own, NULL, error);
}

static int
oauth2_goa_use (MsAccount    *account,
                GPtrArray    *found,
                const char   *id)
{
  g_autoptr(GError) error = NULL;
  MsGoaAccount *chosen = NULL;
  const char *keys[] = { "needs-authentication", "auth-method", "oauth2-provider", "goa-account-id" };
  const char *values[] = { "true", "oauth2", NULL, id };

  for (guint i = 0; i < found->len; i++)
    if (g_strcmp0 (((MsGoaAccount *) found->pdata[i])->id, id) == 0)
      chosen = found->pdata[i];
  if (chosen == NULL)
    return ms_cli_fail (MS_CLI_USAGE,
                        _("--use: “%s” is not an account of GNOME Online Accounts that can send as %s; "
                          "“mailshot-cli oauth2 goa” lists those that can"),
                        id, ms_account_get_email_address (account));
  /* GOA's provider type is our provider's name ("google"). */
  values[2] = chosen->provider_type;

  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (!ms_account_check_value (keys[i], values[i], NULL, &error))
      return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  if (!forget_own_sign_in (account, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
    if (!ms_account_set_from_string (account, keys[i], values[i], &error))
      return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  g_settings_sync ();

  /* TRANSLATORS: “default” gets its access token from the Google account news@example.org … */
  g_print (_("Account “%s” now gets its access token from the %s account %s in GNOME Online Accounts; "
             "Mailshot stores no token of its own.\n"),
           ms_account_get_name (account), chosen->provider_name, chosen->identity);
  if (chosen->attention_needed)
    g_printerr (_("Note: Online Accounts needs you to sign in to it again first (Settings → Online Accounts).\n"));
  return MS_CLI_OK;
}
#endif

/* `oauth2 goa`: the GOA accounts that can send as the account's address,
 * one a line (ID, provider, identity); --use ID switches to one, --stop
 * goes back to the app's own sign-in. */
static int
oauth2_goa (MsAccount  *account,
            int         argc,
            char      **argv)
{
  const char *use = NULL;
  gboolean stop = FALSE;

  for (int i = 2; i < argc; i++)
    {
      if (strcmp (argv[i], "--use") == 0 && i + 1 < argc)
        use = argv[++i];
      else if (g_str_has_prefix (argv[i], "--use="))
        use = argv[i] + strlen ("--use=");
      else if (strcmp (argv[i], "--stop") == 0)
        stop = TRUE;
      else
        {
          g_printerr (_("mailshot-cli: oauth2 goa: unknown argument “%s”\n"), argv[i]);
          g_printerr (_("Usage: %s\n"), OAUTH2_USAGE);
          return MS_CLI_USAGE;
        }
    }
  if (use != NULL && stop)
    return ms_cli_fail (MS_CLI_USAGE, _("oauth2 goa: --use and --stop exclude each other"));
  if (use != NULL || stop)
    {
      g_autoptr(GError) error = NULL;

      /* dconf without a session bus would drop the change silently. */
      if (!ms_account_check_backend (&error))
        return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
    }

  if (stop)
    {
      ms_account_reset (account, "goa-account-id");
      g_settings_sync ();
      g_print (_("Account “%s” no longer uses GNOME Online Accounts; sign in with “mailshot-cli oauth2 sign-in”.\n"),
               ms_account_get_name (account));
      return MS_CLI_OK;
    }

#ifdef MS_HAVE_GOA
  {
    g_autoptr(GPtrArray) found = NULL;
    g_autoptr(GError) error = NULL;
    const char *address = ms_account_get_email_address (account);
    const char *current = ms_account_get_goa_account_id (account);

    if (*address == '\0')
      return ms_cli_fail (MS_CLI_USAGE,
                          _("the account “%s” has no e-mail address to look for in Online Accounts: "
                            "mailshot-cli config set email-address ADDRESS"),
                          ms_account_get_name (account));
    found = ms_goa_find_sync (address, NULL, &error);
    if (found == NULL)
      return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
    if (use != NULL)
      return oauth2_goa_use (account, found, use);

    for (guint i = 0; i < found->len; i++)
      {
        MsGoaAccount *a = found->pdata[i];
        g_autoptr(GString) notes = g_string_new (NULL);

        if (g_strcmp0 (a->id, current) == 0)
          g_string_append_printf (notes, "  %s", _("(in use)"));
        if (a->attention_needed)
          g_string_append_printf (notes, "  %s", _("(sign in again in Settings → Online Accounts)"));
        g_print ("%s\t%s\t%s%s\n", a->id, a->provider_name, a->identity, notes->str);
      }
    if (found->len == 0)
      g_printerr (_("GNOME Online Accounts holds no Google account for %s (or it is not running). Add one in "
                    "Settings → Online Accounts, with Mail turned on.\n"), address);
    else if (*current == '\0')
      g_printerr (_("To send with one: mailshot-cli oauth2 goa --use ID\n"));
    return MS_CLI_OK;
  }
#else
  return ms_cli_fail (MS_CLI_FAILED,
                      _("this build of Mailshot cannot use GNOME Online Accounts (it was built without goa-1.0); "
                        "sign in with “mailshot-cli oauth2 sign-in”"));
#endif
}

int
ms_cli_oauth2 (const MsCliContext *ctx,
               int                 argc,
               char              **argv)
{
  g_autoptr(MsAccount) account = NULL;
  g_autoptr(MsOAuth2) oauth2 = NULL;
  g_autoptr(GError) error = NULL;

  if (argc == 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      g_print (_("Usage: %s\n\n"
                 "sign-in   prints the address of the provider’s sign-in page, waits for the browser\n"
                 "          to come back to 127.0.0.1, and keeps the sign-in in the keyring\n"
                 "sign-out  removes the account’s sign-in from the keyring\n"
                 "goa       lists the Google accounts of GNOME Online Accounts for the account’s\n"
                 "          address (ID, provider, name); --use ID sends with one of them: Online\n"
                 "          Accounts then provides the token and Mailshot stores none; --stop goes\n"
                 "          back to Mailshot’s own sign-in\n\n"
                 "The account needs oauth2-provider (microsoft, google or custom), oauth2-client-id\n"
                 "(the application your organisation registered with the provider), and for custom\n"
                 "oauth2-auth-endpoint and oauth2-token-endpoint; see “mailshot-cli config --help”.\n"),
               OAUTH2_USAGE);
      return MS_CLI_OK;
    }

  if (argc < 2 || (strcmp (argv[1], "goa") != 0 && argc != 2) ||
      (strcmp (argv[1], "sign-in") != 0 && strcmp (argv[1], "sign-out") != 0 && strcmp (argv[1], "goa") != 0))
    {
      g_printerr (_("mailshot-cli: oauth2 needs “sign-in”, “sign-out” or “goa”\n"));
      g_printerr (_("Usage: %s\n"), OAUTH2_USAGE);
      return MS_CLI_USAGE;
    }

  account = ms_account_new (ctx->account, &error);
  if (account == NULL)
    return ms_cli_fail (ms_account_name_is_valid (ctx->account) ? MS_CLI_FAILED : MS_CLI_USAGE,
                        "%s", error->message);
  if (strcmp (argv[1], "goa") == 0)
    return oauth2_goa (account, argc, argv);
  oauth2 = ms_account_create_oauth2 (account, &error);
  if (oauth2 == NULL)
    return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);

  if (strcmp (argv[1], "sign-in") == 0)
    return oauth2_sign_in (account, oauth2);
  return oauth2_sign_out (account, oauth2);
}
