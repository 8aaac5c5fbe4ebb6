/* ms-cli-oauth2.c: `mailshot-cli oauth2 sign-in | sign-out`, the OAuth2 sign-in of an account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-cli.h"

#define OAUTH2_USAGE "mailshot-cli [--account NAME] oauth2 sign-in | sign-out"

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

  if (!ms_oauth2_sign_out (oauth2, NULL, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
  g_print (_("Signed out: no OAuth2 sign-in of %s for account “%s” is left in the keyring.\n"),
           ms_oauth2_get_user (oauth2), ms_account_get_name (account));
  return MS_CLI_OK;
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
                 "sign-out  removes the account’s sign-in from the keyring\n\n"
                 "The account needs oauth2-provider (microsoft, google or custom), oauth2-client-id\n"
                 "(the application your organisation registered with the provider), and for custom\n"
                 "oauth2-auth-endpoint and oauth2-token-endpoint; see “mailshot-cli config --help”.\n"),
               OAUTH2_USAGE);
      return MS_CLI_OK;
    }

  if (argc != 2 || (strcmp (argv[1], "sign-in") != 0 && strcmp (argv[1], "sign-out") != 0))
    {
      g_printerr (_("mailshot-cli: oauth2 needs “sign-in” or “sign-out”\n"));
      g_printerr (_("Usage: %s\n"), OAUTH2_USAGE);
      return MS_CLI_USAGE;
    }

  account = ms_account_new (ctx->account, &error);
  if (account == NULL)
    return ms_cli_fail (ms_account_name_is_valid (ctx->account) ? MS_CLI_FAILED : MS_CLI_USAGE,
                        "%s", error->message);
  oauth2 = ms_account_create_oauth2 (account, &error);
  if (oauth2 == NULL)
    return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);

  if (strcmp (argv[1], "sign-in") == 0)
    return oauth2_sign_in (account, oauth2);
  return oauth2_sign_out (account, oauth2);
}
