/* ms-cli-config.c: `mailshot-cli config list | get KEY | set KEY VALUE | reset KEY`
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-cli.h"

#define CONFIG_USAGE "mailshot-cli [--account NAME] config list | get KEY | set KEY VALUE | reset KEY | detect ADDRESS [--apply]"

static int
usage (const char *problem)
{
  g_printerr ("mailshot-cli: %s\n", problem);
  g_printerr (_("Usage: %s\n"), CONFIG_USAGE);
  return MS_CLI_USAGE;
}

static int
unknown_key (const char *key)
{
  g_auto(GStrv) keys = ms_account_list_keys ();
  g_autofree char *valid = g_strjoinv (", ", keys);

  return ms_cli_fail (MS_CLI_USAGE, _("unknown key “%s”; the keys are: %s"), key, valid);
}

/* With no dconf (a minimal server), GLib keeps settings in memory and says so
 * in words a user of this command will not connect to it. dconf without a
 * session bus loses every change: that is an error, before anything changes. */
static gboolean
check_backend (int *code)
{
  g_autoptr(GError) error = NULL;

  if (!ms_account_check_backend (&error))
    {
      *code = ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
      return FALSE;
    }
  if (ms_account_settings_are_persistent ())
    return TRUE;
  g_printerr (_("mailshot-cli: warning: settings are kept in memory only and will be lost when this "
                "command ends; install dconf-gsettings-backend (package dconf-gsettings-backend) to keep them\n"));
  return TRUE;
}

/* Exit code for an account that cannot be opened: a bad name is the user's
 * input; a missing schema is a broken installation. */
static MsAccount *
open_account (const MsCliContext  *ctx,
              int                 *code)
{
  g_autoptr(GError) error = NULL;
  MsAccount *account;

  account = ms_account_new (ctx->account, &error);
  if (account == NULL)
    *code = ms_cli_fail (ms_account_name_is_valid (ctx->account) ? MS_CLI_FAILED : MS_CLI_USAGE,
                         "%s", error->message);
  return account;
}

static int
config_list (MsAccount *account)
{
  g_auto(GStrv) keys = ms_account_list_keys ();
  int width = 0;

  for (guint i = 0; keys[i] != NULL; i++)
    width = MAX (width, (int) strlen (keys[i]));

  for (guint i = 0; keys[i] != NULL; i++)
    {
      g_autofree char *value = ms_account_get_as_string (account, keys[i], NULL);
      /* No trailing blanks after a key whose value is empty. */
      if (*value == '\0')
        g_print ("%s\n", keys[i]);
      else
        g_print ("%-*s %s\n", width, keys[i], value);
    }
  /* Beside the keys, on standard error: who provides the OAuth2 token. */
  if (*ms_account_get_goa_account_id (account) != '\0')
    g_printerr (_("The OAuth2 access token comes from GNOME Online Accounts (goa-account-id); Mailshot stores "
                  "no token of its own.\n"));
  return MS_CLI_OK;
}

static void
on_detected (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  GTask *wait = user_data;
  GError *error = NULL;
  MsAutoconfigResult *r = ms_autoconfig_detect_finish (result, &error);

  if (r == NULL)
    g_task_return_error (wait, error);
  else
    g_task_return_pointer (wait, r, (GDestroyNotify) ms_autoconfig_result_free);
  g_object_unref (wait);
}

static const char *
describe_auth (const MsAutoconfigResult *r)
{
  switch (r->auth)
    {
    case MS_PROVIDER_AUTH_NONE:
      return _("none");
    case MS_PROVIDER_AUTH_CRAM_MD5:
      return _("password, through CRAM-MD5");
    case MS_PROVIDER_AUTH_OAUTH2:
      return _("OAuth2 sign-in (the provider takes no password)");
    case MS_PROVIDER_AUTH_PASSWORD:
    default:
      return _("password");
    }
}

/* `config detect ADDRESS [--apply]`: what was found, where, and the keys
 * --apply stores, as `config list` prints them. Every value is checked before
 * any is stored, so a refused one leaves the account as it was. */
static int
config_detect (const MsCliContext  *ctx,
               int                  argc,
               char               **argv)
{
  g_autoptr(MsAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) wait = NULL;
  g_autoptr(MsAutoconfigResult) r = NULL;
  g_autofree char *source = NULL;
  const char *address = NULL;
  gboolean apply = FALSE;
  int code = MS_CLI_OK;

  for (int i = 2; i < argc; i++)
    {
      if (strcmp (argv[i], "--apply") == 0)
        apply = TRUE;
      else if (argv[i][0] == '-' && argv[i][1] != '\0')
        {
          g_autofree char *problem = g_strdup_printf (_("config detect: unknown option “%s”"), argv[i]);
          return usage (problem);
        }
      else if (address == NULL)
        address = argv[i];
      else
        return usage (_("config detect takes one ADDRESS"));
    }
  if (address == NULL)
    return usage (_("config detect needs an e-mail ADDRESS"));

  wait = g_task_new (NULL, NULL, NULL, NULL);
  ms_autoconfig_detect_async (address, NULL, on_detected, g_object_ref (wait));
  while (!g_task_get_completed (wait))
    g_main_context_iteration (NULL, TRUE);
  r = g_task_propagate_pointer (wait, &error);
  if (r == NULL)
    return ms_cli_fail (g_error_matches (error, MS_ERROR, MS_ERROR_INVALID_VALUE) ? MS_CLI_USAGE : MS_CLI_FAILED,
                        "%s", error->message);

  {
    g_autofree char *port = g_strdup_printf ("%d", r->port);
    const char *keys[] = {
      "smtp-server", "smtp-port", "use-smtps", "email-address", "user-id",
      "needs-authentication", "auth-method",
    };
    const char *values[] = {
      r->server, port, r->use_smtps ? "true" : "false", r->email_address, r->user_id,
      ms_autoconfig_result_needs_authentication (r) ? "true" : "false",
      ms_autoconfig_result_get_auth_method (r),
    };
    gboolean set_oauth2_provider;

    source = ms_autoconfig_result_describe_source (r);
    g_print (_("Provider: %s\n"), r->provider_name);
    g_print (_("Found in: %s\n"), source);
    g_print (_("Security: %s\n"), r->use_smtps ? _("SMTPS (TLS from the first byte)") : _("STARTTLS"));
    g_print (_("Sign-in: %s\n"), describe_auth (r));
    for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
      g_print ("%-21s %s\n", keys[i], values[i]);

    /* The OAuth2 provider is stored too where this version knows the key. */
    set_oauth2_provider = r->auth == MS_PROVIDER_AUTH_OAUTH2 && r->oauth2_provider != NULL &&
                          ms_account_is_key ("oauth2-provider");
    if (set_oauth2_provider)
      g_print ("%-21s %s\n", "oauth2-provider", r->oauth2_provider);

    if (!apply)
      {
        g_printerr (_("To store these settings: mailshot-cli --account %s config detect %s --apply\n"),
                    ctx->account, r->email_address);
        return MS_CLI_OK;
      }

    for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
      if (!ms_account_check_value (keys[i], values[i], NULL, &error))
        {
          if (r->auth == MS_PROVIDER_AUTH_OAUTH2)
            return ms_cli_fail (MS_CLI_FAILED,
                                _("%s signs in only with OAuth2, which this version of Mailshot cannot "
                                  "store (%s). Nothing was stored; set the account up with “config set” "
                                  "if the provider offers app passwords."),
                                r->provider_name, error->message);
          return ms_cli_fail (MS_CLI_FAILED, _("%s. Nothing was stored."), error->message);
        }
    if (set_oauth2_provider && !ms_account_check_value ("oauth2-provider", r->oauth2_provider, NULL, &error))
      return ms_cli_fail (MS_CLI_FAILED, _("%s. Nothing was stored."), error->message);

    if ((account = open_account (ctx, &code)) == NULL)
      return code;
    if (!check_backend (&code))
      return code;
    for (guint i = 0; i < G_N_ELEMENTS (keys); i++)
      if (!ms_account_set_from_string (account, keys[i], values[i], &error))
        return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
    if (set_oauth2_provider &&
        !ms_account_set_from_string (account, "oauth2-provider", r->oauth2_provider, &error))
      return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
    g_settings_sync ();

    g_printerr (_("Stored in account “%s”.\n"), ctx->account);
    if (r->auth == MS_PROVIDER_AUTH_OAUTH2)
      g_printerr (_("%s signs in with OAuth2: sign in before the first test.\n"), r->provider_name);
    else if (ms_autoconfig_result_needs_authentication (r))
      g_printerr (_("Next, store the password: mailshot-cli --account %s password set\n"), ctx->account);
    return MS_CLI_OK;
  }
}

int
ms_cli_config (const MsCliContext *ctx,
               int                 argc,
               char              **argv)
{
  g_autoptr(MsAccount) account = NULL;
  g_autoptr(GError) error = NULL;
  const char *sub;
  int code = MS_CLI_OK;

  if (argc < 2)
    return usage (_("config needs a subcommand"));
  sub = argv[1];

  if (strcmp (sub, "--help") == 0 || strcmp (sub, "-h") == 0 || strcmp (sub, "help") == 0)
    {
      g_auto(GStrv) keys = ms_account_list_keys ();
      int width = 0;

      g_print (_("Usage: %s\n\n"), CONFIG_USAGE);
      g_print ("%s\n", _("list          print every key and its value\n"
                         "get KEY       print the value of KEY\n"
                         "set KEY VALUE check VALUE and store it; nothing is stored when it is not valid\n"
                         "reset KEY     go back to the default value\n"
                         "detect ADDRESS [--apply]\n"
                         "              find the settings for ADDRESS (built-in table, the domain’s\n"
                         "              autoconfig file, its MX records) and print them with where\n"
                         "              they came from; --apply stores them"));
      g_print ("\n%s\n", _("Keys, with their name on the settings page:"));
      for (guint i = 0; keys[i] != NULL; i++)
        width = MAX (width, (int) strlen (keys[i]));
      for (guint i = 0; keys[i] != NULL; i++)
        g_print ("  %-*s  %s\n", width, keys[i], ms_account_get_key_label (keys[i]));
      g_print ("\n%s\n", _("The password is not a key: use “mailshot-cli password set”."));
      return MS_CLI_OK;
    }

  if (strcmp (sub, "list") == 0)
    {
      if (argc != 2)
        return usage (_("config list takes no arguments"));
      if ((account = open_account (ctx, &code)) == NULL)
        return code;
      return config_list (account);
    }

  if (strcmp (sub, "get") == 0)
    {
      g_autofree char *value = NULL;

      if (argc != 3)
        return usage (_("config get takes one KEY"));
      if (!ms_account_is_key (argv[2]))
        return unknown_key (argv[2]);
      if ((account = open_account (ctx, &code)) == NULL)
        return code;
      value = ms_account_get_as_string (account, argv[2], &error);
      if (value == NULL)
        return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);
      g_print ("%s\n", value);
      return MS_CLI_OK;
    }

  if (strcmp (sub, "set") == 0)
    {
      if (argc != 4)
        return usage (_("config set takes a KEY and a VALUE (quote a value with spaces; "
                        "to empty a setting, use “config reset KEY”)"));
      if (!ms_account_is_key (argv[2]))
        return unknown_key (argv[2]);
      /* Checked before the account is opened: a bad value is reported the
       * same way whatever the state of the settings store. */
      if (!ms_account_check_value (argv[2], argv[3], NULL, &error))
        return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);
      if ((account = open_account (ctx, &code)) == NULL)
        return code;
      if (!check_backend (&code))
        return code;
      if (!ms_account_set_from_string (account, argv[2], argv[3], &error))
        return ms_cli_fail (MS_CLI_USAGE, "%s", error->message);
      /* dconf writes asynchronously; a process that exits at once would lose it. */
      g_settings_sync ();
      return MS_CLI_OK;
    }

  if (strcmp (sub, "detect") == 0)
    return config_detect (ctx, argc, argv);

  if (strcmp (sub, "reset") == 0)
    {
      if (argc != 3)
        return usage (_("config reset takes one KEY"));
      if (!ms_account_is_key (argv[2]))
        return unknown_key (argv[2]);
      if ((account = open_account (ctx, &code)) == NULL)
        return code;
      if (!check_backend (&code))
        return code;
      ms_account_reset (account, argv[2]);
      g_settings_sync ();
      return MS_CLI_OK;
    }

  {
    g_autofree char *problem = g_strdup_printf (_("unknown config subcommand “%s”"), sub);
    return usage (problem);
  }
}
