/* ms-sidelog.c: the append-only side log of a blast run, what went out and what the server answered
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>

#include "ms-error.h"
#include "ms-sidelog.h"

/* Lines, each one write():
 *   mailshot-sidelog 1 BOOT-ID          the header, synced when the log is made
 *   E ROW                               the end of ROW's message is about to go out
 *   A ROW UNIX CODE MESSAGE-ID\tTEXT    the server accepted it with CODE TEXT
 *   R ROW                               the server refused it (not delivered)
 * A line without its newline, or with a NUL byte, is a torn write: skipped. */
#define HEADER_MAGIC "mailshot-sidelog 1 "
/* The reply text kept: replies are bounded where they are read anyway. */
#define MAX_TEXT 900

struct _MsSidelog
{
  int    fd;
  char  *path;
  gint   failed;     /* atomic: a write failed */
  char  *error;      /* the first failure, set once under failed */
};

static char *boot_id_override;

void
ms_sidelog_set_boot_id (const char *boot_id)
{
  g_free (boot_id_override);
  boot_id_override = g_strdup (boot_id);
}

static char *
current_boot_id (void)
{
  char *id = NULL;

  if (boot_id_override != NULL)
    return g_strdup (boot_id_override);
  if (!g_file_get_contents ("/proc/sys/kernel/random/boot_id", &id, NULL, NULL))
    return g_strdup ("-");
  return g_strstrip (id);
}

/* The folder's entry for a new file is durable only once the folder is
 * synced too. */
static void
sync_dir (const char *path)
{
  g_autofree char *dir = g_path_get_dirname (path);
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return;
  if (fsync (fd) < 0)
    g_debug ("sidelog: fsync of %s: %s", dir, g_strerror (errno));
  close (fd);
}

/**
 * ms_sidelog_create:
 * @path: the log's file; an old one is replaced
 *
 * Makes an empty log whose header (with the machine's boot ID) is on disk
 * before it returns: the one fsync of a run.
 *
 * Returns: (transfer full): the log, or %NULL with %MS_ERROR_JOURNAL
 */
MsSidelog *
ms_sidelog_create (const char  *path,
                   GError     **error)
{
  g_autofree char *boot = current_boot_id ();
  g_autofree char *header = g_strdup_printf (HEADER_MAGIC "%s\n", boot);
  MsSidelog *self;
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0 || write (fd, header, strlen (header)) != (ssize_t) strlen (header) || fsync (fd) < 0)
    {
      int saved = errno;

      if (fd >= 0)
        close (fd);
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The side log %s could not be written: %s. Check the disk space and the permissions "
                     "of the journal’s folder."),
                   path, g_strerror (saved));
      return NULL;
    }
  sync_dir (path);

  self = g_new0 (MsSidelog, 1);
  self->fd = fd;
  self->path = g_strdup (path);
  return self;
}

void
ms_sidelog_free (MsSidelog *self)
{
  if (self == NULL)
    return;
  close (self->fd);
  g_free (self->path);
  g_free (self->error);
  g_free (self);
}

static gboolean
put (MsSidelog  *self,
     const char *line,
     gsize       len)
{
  ssize_t n = write (self->fd, line, len);

  if (n == (ssize_t) len)
    return TRUE;
  if (g_atomic_int_compare_and_exchange (&self->failed, 0, 1))
    self->error = g_strdup (n < 0 ? g_strerror (errno) : _("the disk is full"));
  return FALSE;
}

/* The decimal digits of @v at the end of @buf; returns where they start. */
static char *
put_int (char   *end,
         gint64  v)
{
  guint64 u = v < 0 ? (guint64) -v : (guint64) v;

  do
    *--end = '0' + (char) (u % 10);
  while ((u /= 10) != 0);
  if (v < 0)
    *--end = '-';
  return end;
}

static void
add_row_line (GString *lines,
              char     kind,
              gint64   row)
{
  char buf[32];
  char *end = buf + sizeof buf;
  char *p;

  *--end = '\n';
  p = put_int (end, row);
  *--p = ' ';
  *--p = kind;
  g_string_append_len (lines, p, buf + sizeof buf - p);
}

void
ms_sidelog_add_end (GString *lines,
                    gint64   row)
{
  g_return_if_fail (lines != NULL);
  add_row_line (lines, 'E', row);
}

void
ms_sidelog_add_refused (GString *lines,
                        gint64   row)
{
  g_return_if_fail (lines != NULL);
  add_row_line (lines, 'R', row);
}

void
ms_sidelog_add_accepted (GString    *lines,
                         gint64      row,
                         gint64      when,
                         int         code,
                         const char *text,
                         const char *message_id)
{
  gsize n;

  g_return_if_fail (lines != NULL);

  g_string_append_printf (lines, "A %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %d ", row, when, code);
  /* A Message-ID has no spaces or tabs; one that had would end early. */
  n = 0;
  for (const char *p = message_id; p != NULL && *p != '\0' && n < 250; p++, n++)
    g_string_append_c (lines, (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') ? '_' : *p);
  g_string_append_c (lines, '\t');
  n = 0;
  for (const char *p = text; p != NULL && *p != '\0' && n < MAX_TEXT; p++, n++)
    g_string_append_c (lines, (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p);
  g_string_append_c (lines, '\n');
}

gboolean
ms_sidelog_flush (MsSidelog *self,
                  GString   *lines)
{
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (lines != NULL, FALSE);

  if (lines->len == 0)
    return TRUE;
  ok = put (self, lines->str, lines->len);
  g_string_truncate (lines, 0);
  return ok;
}

gboolean
ms_sidelog_note_end (MsSidelog *self,
                     gint64     row)
{
  g_autoptr(GString) line = g_string_sized_new (32);

  g_return_val_if_fail (self != NULL, FALSE);
  ms_sidelog_add_end (line, row);
  return ms_sidelog_flush (self, line);
}

gboolean
ms_sidelog_note_refused (MsSidelog *self,
                         gint64     row)
{
  g_autoptr(GString) line = g_string_sized_new (32);

  g_return_val_if_fail (self != NULL, FALSE);
  ms_sidelog_add_refused (line, row);
  return ms_sidelog_flush (self, line);
}

gboolean
ms_sidelog_note_accepted (MsSidelog  *self,
                          gint64      row,
                          gint64      when,
                          int         code,
                          const char *text,
                          const char *message_id)
{
  g_autoptr(GString) line = g_string_sized_new (128);

  g_return_val_if_fail (self != NULL, FALSE);
  ms_sidelog_add_accepted (line, row, when, code, text, message_id);
  return ms_sidelog_flush (self, line);
}

const char *
ms_sidelog_get_error (MsSidelog *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_atomic_int_get (&self->failed) ? self->error : NULL;
}

/* Reading --------------------------------------------------------------------- */

static void
entry_free (MsSidelogEntry *entry)
{
  g_free (entry->text);
  g_free (entry->message_id);
  g_free (entry);
}

static gboolean
parse_int (const char **p,
           gint64      *value)
{
  char *end = NULL;
  gint64 v;

  if (!g_ascii_isdigit (**p) && **p != '-')
    return FALSE;
  v = g_ascii_strtoll (*p, &end, 10);
  if (end == *p)
    return FALSE;
  *value = v;
  *p = end;
  return TRUE;
}

GHashTable *
ms_sidelog_read (const char  *path,
                 GHashTable  *rows,
                 gboolean    *same_boot,
                 GError     **error)
{
  g_autoptr(GHashTable) entries = NULL;
  g_autofree char *boot = current_boot_id ();
  g_autofree char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  gboolean first = TRUE;
  gboolean header_ok = FALSE;
  FILE *f;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (same_boot != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  *same_boot = FALSE;
  f = fopen (path, "re");
  if (f == NULL)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "%s: %s", path, g_strerror (saved));
      return NULL;
    }

  entries = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) entry_free);
  while ((len = getline (&line, &cap, f)) > 0)
    {
      const char *p = line + 2;
      MsSidelogEntry *entry;
      gint64 row;

      if (line[len - 1] != '\n' || strlen (line) != (gsize) len)
        continue;   /* torn */
      line[len - 1] = '\0';
      if (first)
        {
          first = FALSE;
          if (!g_str_has_prefix (line, HEADER_MAGIC))
            break;
          header_ok = TRUE;
          *same_boot = g_str_equal (line + strlen (HEADER_MAGIC), boot);
          continue;
        }
      if (len < 3 || line[1] != ' ' || !parse_int (&p, &row))
        continue;
      if (rows != NULL && !g_hash_table_contains (rows, &row))
        continue;

      entry = g_new0 (MsSidelogEntry, 1);
      switch (line[0])
        {
        case 'E':
          if (*p != '\0')
            goto bad;
          entry->outcome = MS_SIDELOG_END_SENT;
          break;
        case 'R':
          if (*p != '\0')
            goto bad;
          entry->outcome = MS_SIDELOG_REFUSED;
          break;
        case 'A':
          {
            gint64 when, code;
            const char *tab;

            if (*p++ != ' ' || !parse_int (&p, &when) || *p++ != ' ' || !parse_int (&p, &code) || *p++ != ' ' ||
                (tab = strchr (p, '\t')) == NULL)
              goto bad;
            entry->outcome = MS_SIDELOG_ACCEPTED;
            entry->when = when;
            entry->code = (int) code;
            entry->message_id = tab > p ? g_strndup (p, tab - p) : NULL;
            entry->text = g_utf8_make_valid (tab + 1, -1);
          }
          break;
        default:
          goto bad;
        }
      /* Lines of one row come in order (E, then A or R; E again for a
       * later attempt): the last one says where it stands. */
      g_hash_table_replace (entries, g_memdup2 (&row, sizeof row), entry);
      continue;
bad:
      entry_free (entry);
    }
  fclose (f);

  /* Without its header (synced when it was made) the log is not ours to read. */
  if (!header_ok)
    {
      *same_boot = FALSE;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s: no header", path);
      return NULL;
    }
  return g_steal_pointer (&entries);
}
