/* ms-user-file.c: the files a user names (recipient list, bodies, attachments), opened without blocking
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <gio/gunixinputstream.h>

#include "ms-user-file.h"

/*
 * Only regular files are read. A named pipe with no writer blocks a plain
 * open() for ever, and a device (/dev/zero, a terminal) never ends; either
 * hung the CLI and would freeze the GUI. The file is opened with O_NONBLOCK,
 * which returns at once even for a FIFO, and its kind is then checked on the
 * open descriptor (fstat), so nothing can swap the file between the check and
 * the read.
 */

static const char *
kind_sentence (mode_t mode)
{
  if (S_ISFIFO (mode))
    return _("it is a named pipe (FIFO), not a regular file: save what it carries to a file and give that file");
  if (S_ISSOCK (mode))
    return _("it is a socket, not a regular file: give a file saved on disk");
  if (S_ISCHR (mode) || S_ISBLK (mode))
    return _("it is a device, not a regular file: give a file saved on disk");
  if (S_ISDIR (mode))
    return _("it is a folder: give a file in it");
  return _("it is not a regular file: give a file saved on disk");
}

static int
open_regular (const char  *path,
              GError     **error)
{
  struct stat st;
  int fd;
  int saved;

  fd = g_open (path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      saved = errno;
      g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (saved), g_strerror (saved));
      return -1;
    }
  if (fstat (fd, &st) != 0)
    {
      saved = errno;
      close (fd);
      g_set_error_literal (error, G_IO_ERROR, g_io_error_from_errno (saved), g_strerror (saved));
      return -1;
    }
  if (!S_ISREG (st.st_mode))
    {
      close (fd);
      g_set_error_literal (error, G_IO_ERROR,
                           S_ISDIR (st.st_mode) ? G_IO_ERROR_IS_DIRECTORY : G_IO_ERROR_NOT_REGULAR_FILE,
                           kind_sentence (st.st_mode));
      return -1;
    }
  /* Reads of a regular file ignore O_NONBLOCK; clear it all the same, so a
   * reader never sees EAGAIN whatever the file system. */
  fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

/**
 * ms_user_file_open:
 * @path: a file the user named
 *
 * Opens @path for reading if it is a regular file, without ever blocking:
 * a FIFO, a socket, a device or a folder is refused at once. Errors are
 * %G_IO_ERROR codes (%G_IO_ERROR_NOT_FOUND, %G_IO_ERROR_PERMISSION_DENIED,
 * %G_IO_ERROR_IS_DIRECTORY, %G_IO_ERROR_NOT_REGULAR_FILE, …) whose message
 * does not repeat the path, so that the caller can say which argument it was.
 *
 * Returns: (transfer full): a stream on the file, or %NULL.
 */
GInputStream *
ms_user_file_open (const char  *path,
                   GError     **error)
{
  int fd;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  fd = open_regular (path, error);
  if (fd < 0)
    return NULL;
  return g_unix_input_stream_new (fd, TRUE);
}

/**
 * ms_user_file_load:
 * @path: a file the user named
 * @contents: (out) (transfer full): the bytes, with a NUL after them
 * @length: (out) (optional): how many bytes (without that NUL)
 *
 * g_file_get_contents() for a file the user named: regular files only,
 * checked without blocking (see ms_user_file_open() for the errors).
 */
gboolean
ms_user_file_load (const char  *path,
                   char       **contents,
                   gsize       *length,
                   GError     **error)
{
  g_autoptr(GInputStream) stream = NULL;
  g_autoptr(GOutputStream) out = NULL;
  gssize n;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (contents != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  stream = ms_user_file_open (path, error);
  if (stream == NULL)
    return FALSE;
  out = g_memory_output_stream_new_resizable ();
  n = g_output_stream_splice (out, stream, G_OUTPUT_STREAM_SPLICE_CLOSE_SOURCE, NULL, error);
  if (n < 0)
    return FALSE;
  /* The NUL after the bytes, as g_file_get_contents() gives it. */
  if (!g_output_stream_write_all (out, "", 1, NULL, NULL, error)
      || !g_output_stream_close (out, NULL, error))
    return FALSE;
  if (length != NULL)
    *length = n;
  *contents = g_memory_output_stream_steal_data (G_MEMORY_OUTPUT_STREAM (out));
  return TRUE;
}
