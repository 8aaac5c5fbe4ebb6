/* ms-cli-password.c: `mailshot-cli password set | clear`, the keyring entry of an account
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "mailshot-core.h"
#include "ms-cli.h"

#define PASSWORD_USAGE "mailshot-cli [--account NAME] password set | clear"
#define MAX_PASSWORD   4096

/* ------------------------------------------------------------------ */
/* Echo off on the terminal, and back on whatever happens              */

static struct termios saved_termios;
static volatile sig_atomic_t echo_is_off = 0;
static const int restore_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
static struct sigaction saved_actions[G_N_ELEMENTS (restore_signals)];

static void
echo_off_now (void)
{
  struct termios t = saved_termios;

  t.c_lflag &= ~(ECHO | ECHOE | ECHOK);
  t.c_lflag |= ECHONL;   /* the Enter key still moves to the next line */
  tcsetattr (STDIN_FILENO, TCSAFLUSH, &t);
  echo_is_off = 1;
}

/* Only async-signal-safe calls in here. */
static void
on_signal (int sig)
{
  int saved_errno = errno;

  if (echo_is_off)
    tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved_termios);

  if (sig == SIGTSTP)
    {
      /* Stop with the terminal usable, then hide the typing again on resume. */
      signal (SIGTSTP, SIG_DFL);
      raise (SIGTSTP);
      {
        struct sigaction sa;
        memset (&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset (&sa.sa_mask);
        sigaction (SIGTSTP, &sa, NULL);
      }
      if (echo_is_off)
        {
          struct termios t = saved_termios;
          t.c_lflag &= ~(ECHO | ECHOE | ECHOK);
          t.c_lflag |= ECHONL;
          tcsetattr (STDIN_FILENO, TCSAFLUSH, &t);
        }
      errno = saved_errno;
      return;
    }

  /* Die of the same signal, so the shell sees what happened. */
  signal (sig, SIG_DFL);
  raise (sig);
  errno = saved_errno;
}

static gboolean
echo_off (void)
{
  struct sigaction sa;

  if (tcgetattr (STDIN_FILENO, &saved_termios) != 0)
    return FALSE;

  memset (&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset (&sa.sa_mask);
  for (guint i = 0; i < G_N_ELEMENTS (restore_signals); i++)
    sigaction (restore_signals[i], &sa, &saved_actions[i]);

  echo_off_now ();
  return TRUE;
}

static void
echo_on (void)
{
  if (echo_is_off)
    {
      tcsetattr (STDIN_FILENO, TCSAFLUSH, &saved_termios);
      echo_is_off = 0;
    }
  for (guint i = 0; i < G_N_ELEMENTS (restore_signals); i++)
    sigaction (restore_signals[i], &saved_actions[i], NULL);
}

/* ------------------------------------------------------------------ */

/* Reads one line into @buf with read(2): no stdio buffer keeps a copy.
 * Returns the length, or -1 when the line is longer than the buffer. */
static gssize
read_line (char  *buf,
           gsize  size)
{
  gsize len = 0;
  gboolean too_long = FALSE;

  for (;;)
    {
      char c;
      gssize n = read (STDIN_FILENO, &c, 1);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0 || c == '\n')
        break;
      if (len + 1 >= size)
        {
          too_long = TRUE;   /* keep reading, so the rest does not reach the shell */
          continue;
        }
      buf[len++] = c;
    }
  if (len > 0 && buf[len - 1] == '\r')
    len--;
  buf[len] = '\0';
  return too_long ? -1 : (gssize) len;
}

static int
password_set (const MsCliContext *ctx,
              MsAccount          *account)
{
  g_autoptr(GError) error = NULL;
  const char *server = ms_account_get_smtp_server (account);
  const char *user = ms_account_get_user_id (account);
  char password[MAX_PASSWORD + 1];
  gboolean on_tty = isatty (STDIN_FILENO);
  gssize len;
  gboolean ok;

  /* The keyring entry is keyed by server and user: without them it could
   * never be found again. */
  if (*server == '\0')
    return ms_cli_fail (MS_CLI_USAGE,
                        _("set smtp-server first (mailshot-cli config set smtp-server HOST): "
                          "the password is stored for a server and a user"));
  if (*user == '\0')
    return ms_cli_fail (MS_CLI_USAGE,
                        _("set user-id first (mailshot-cli config set user-id NAME): "
                          "the password is stored for a server and a user"));

  if (on_tty)
    {
      /* Echo goes off before the prompt shows, so nothing typed at once is echoed. */
      gboolean silent = echo_off ();

      g_printerr (_("Password for %s on %s: "), user, server);
      on_tty = silent;
    }
  len = read_line (password, sizeof password);
  if (on_tty)
    echo_on ();

  if (len < 0)
    {
      explicit_bzero (password, sizeof password);
      return ms_cli_fail (MS_CLI_USAGE, _("the password is longer than %d bytes; nothing was stored"),
                          MAX_PASSWORD);
    }
  if (len == 0)
    {
      explicit_bzero (password, sizeof password);
      return ms_cli_fail (MS_CLI_USAGE, _("the password is empty; nothing was stored "
                                          "(give it on standard input, one line)"));
    }

  ok = ms_secret_store_sync (ms_account_get_name (account), server, user, password, NULL, &error);
  explicit_bzero (password, sizeof password);
  if (!ok)
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);

  g_print (_("The password for %s on %s is stored in the keyring.\n"), user, server);
  return MS_CLI_OK;
}

static int
password_clear (const MsCliContext *ctx,
                MsAccount          *account)
{
  g_autoptr(GError) error = NULL;

  /* Every server and user of the account: a password left behind by an
   * earlier server is just as unwanted. */
  if (!ms_secret_clear_sync (ms_account_get_name (account), NULL, NULL, NULL, &error))
    return ms_cli_fail (MS_CLI_FAILED, "%s", error->message);

  g_print (_("No password of account “%s” is left in the keyring.\n"), ms_account_get_name (account));
  return MS_CLI_OK;
}

int
ms_cli_password (const MsCliContext *ctx,
                 int                 argc,
                 char              **argv)
{
  g_autoptr(MsAccount) account = NULL;
  g_autoptr(GError) error = NULL;

  if (argc == 2 && (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0))
    {
      g_print (_("Usage: %s\n\n"
                 "set    reads one line from standard input (without echo on a terminal)\n"
                 "       and stores it in the keyring for the account’s user-id on its smtp-server\n"
                 "clear  removes the account’s password from the keyring\n"), PASSWORD_USAGE);
      return MS_CLI_OK;
    }

  /* The password never comes on the command line, where `ps` would show it. */
  if (argc != 2 || (strcmp (argv[1], "set") != 0 && strcmp (argv[1], "clear") != 0))
    {
      if (argc > 2 && strcmp (argv[1], "set") == 0)
        g_printerr (_("mailshot-cli: password set takes no arguments: give the password on standard input\n"));
      else
        g_printerr (_("mailshot-cli: password needs “set” or “clear”\n"));
      g_printerr (_("Usage: %s\n"), PASSWORD_USAGE);
      return MS_CLI_USAGE;
    }

  account = ms_account_new (ctx->account, &error);
  if (account == NULL)
    return ms_cli_fail (ms_account_name_is_valid (ctx->account) ? MS_CLI_FAILED : MS_CLI_USAGE,
                        "%s", error->message);

  if (strcmp (argv[1], "set") == 0)
    return password_set (ctx, account);
  return password_clear (ctx, account);
}
