/* ms-cli-config.c: `mailshot-cli config list | get KEY | set KEY VALUE | reset KEY`
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "mailshot-core.h"
#include "ms-cli.h"

#define CONFIG_USAGE "mailshot-cli [--account NAME] config list | get KEY | set KEY VALUE | reset KEY"

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
  return MS_CLI_OK;
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
                         "reset KEY     go back to the default value"));
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
