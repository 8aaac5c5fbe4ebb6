/* ms-test-autoconfig.h: the local HTTPS server for autoconfig files (tests/autoconfig-server.py)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Header-only, for the tests of settings detection (core, CLI, GUI). The
 * server answers for the names given, on 127.0.0.1; ms_test_https_export()
 * points ms-autoconfig at it through MS_AUTOCONFIG_CONNECT_TO and
 * MS_AUTOCONFIG_CAINFO, which also keep every other lookup off the network. */
#pragma once

#include <gio/gio.h>
#include <glib/gstdio.h>

#include "ms-test-support.h"

typedef struct {
  GSubprocess *proc;
  char        *state_dir;
  char        *root;
  char       **names;
  guint16      port;
} MsTestHttps;

G_GNUC_UNUSED static MsTestHttps *
ms_test_https_start (gboolean            plain,
                     const char * const *names)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *script = g_build_filename (g_getenv ("MS_TEST_SRCDIR"), "autoconfig-server.py", NULL);
  MsTestHttps *self = g_new0 (MsTestHttps, 1);

  /* The files it serves, beside its state directory. */
  self->root = ms_test_tmp_path ("autoconfig-root-XXXXXX");
  g_assert_nonnull (g_mkdtemp (self->root));
  self->names = g_strdupv ((char **) names);

  g_ptr_array_add (argv, g_strdup_printf ("--root=%s", self->root));
  if (plain)
    g_ptr_array_add (argv, g_strdup ("--plain"));
  for (guint i = 0; names[i] != NULL; i++)
    g_ptr_array_add (argv, g_strdup_printf ("--name=%s", names[i]));
  g_ptr_array_add (argv, NULL);
  self->proc = ms_test_helper_start (script, "autoconfig", (const char * const *) argv->pdata,
                                     &self->state_dir, &self->port);
  return self;
}

/* Serves @contents at https://HOST/PATH (PATH without the query). */
G_GNUC_UNUSED static void
ms_test_https_put (MsTestHttps *self,
                   const char  *host,
                   const char  *path,
                   const char  *contents,
                   gssize       length)
{
  g_autofree char *file = g_build_filename (self->root, host, path, NULL);
  g_autofree char *dir = g_path_get_dirname (file);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (dir, 0700), ==, 0);
  g_file_set_contents (file, contents, length, &error);
  g_assert_no_error (error);
}

G_GNUC_UNUSED static void
ms_test_https_clear (MsTestHttps *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *log = g_build_filename (self->state_dir, "log", NULL);
  const char *argv[] = { "rm", "-rf", self->root, NULL };
  int status = -1;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL, &status, &error);
  g_assert_no_error (error);
  g_assert_cmpint (status, ==, 0);
  g_assert_cmpint (g_mkdir (self->root, 0700), ==, 0);
  g_unlink (log);
}

/* Everything requested so far, one "GET HOST PATH?QUERY" per line. */
G_GNUC_UNUSED static char *
ms_test_https_get_log (MsTestHttps *self)
{
  g_autofree char *log = g_build_filename (self->state_dir, "log", NULL);
  char *text = NULL;

  if (!g_file_get_contents (log, &text, NULL, NULL))
    return g_strdup ("");
  return text;
}

G_GNUC_UNUSED static char *
ms_test_https_get_ca (MsTestHttps *self)
{
  return g_build_filename (self->state_dir, "ca.pem", NULL);
}

/* The CONNECT_TO list: each name's port 443 goes to this server. */
G_GNUC_UNUSED static char *
ms_test_https_connect_to (MsTestHttps *self)
{
  g_autoptr(GString) s = g_string_new (NULL);

  for (guint i = 0; self->names[i] != NULL; i++)
    g_string_append_printf (s, "%s%s:443:127.0.0.1:%u", i ? "," : "", self->names[i], self->port);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

/* Points ms-autoconfig of this process and its children at the server. */
G_GNUC_UNUSED static void
ms_test_https_export (MsTestHttps *self)
{
  g_autofree char *connect_to = ms_test_https_connect_to (self);
  g_autofree char *ca = ms_test_https_get_ca (self);

  g_setenv ("MS_AUTOCONFIG_CONNECT_TO", connect_to, TRUE);
  g_setenv ("MS_AUTOCONFIG_CAINFO", ca, TRUE);
}

G_GNUC_UNUSED static void
ms_test_https_stop (MsTestHttps *self)
{
  if (self == NULL)
    return;
  ms_test_helper_stop (g_steal_pointer (&self->proc));
  g_free (self->state_dir);
  g_free (self->root);
  g_strfreev (self->names);
  g_free (self);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTestHttps, ms_test_https_stop)
