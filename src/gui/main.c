/* main.c: mailshot, the desktop app
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "mailshot-core.h"
#include "ms-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr(MsApplication) app = NULL;

  setlocale (LC_ALL, "");
  /* Before any thread exists: curl_global_init is not thread-safe. */
  ms_core_init ();
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Mailshot"));
  app = ms_application_new ();
  return g_application_run (G_APPLICATION (app), argc, argv);
}
