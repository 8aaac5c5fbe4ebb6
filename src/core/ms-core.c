/* ms-core.c: one-time initialisation of the core's libraries
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <curl/curl.h>
#include <glib/gi18n-lib.h>
#include <gmime/gmime.h>

#include "ms-core.h"

void
ms_core_init (void)
{
  static gsize initialised = 0;

  if (g_once_init_enter (&initialised))
    {
      /* curl_global_init is not thread-safe: it must run before any worker. */
      curl_global_init (CURL_GLOBAL_DEFAULT);
      g_mime_init ();
      bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
      bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
      g_once_init_leave (&initialised, 1);
    }
}

/* Tuning values that tests and benchmarks override (MS_BLAST_WINDOW and the
 * like): @fallback unless @name holds a number from 1 to @max. Callers read
 * it once, so that a run never changes its mind half way. */
guint
ms_core_env_uint (const char *name,
                  guint       fallback,
                  guint       max)
{
  const char *env = g_getenv (name);
  guint64 value;

  if (env != NULL && g_ascii_string_to_unsigned (env, 10, 1, max, &value, NULL))
    return (guint) value;
  return fallback;
}
