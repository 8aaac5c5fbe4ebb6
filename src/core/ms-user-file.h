/* ms-user-file.h: the files a user names (recipient list, bodies, attachments), opened without blocking
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

GInputStream *ms_user_file_open (const char  *path,
                                 GError     **error);
gboolean      ms_user_file_load (const char  *path,
                                 char       **contents,
                                 gsize       *length,
                                 GError     **error);

G_END_DECLS
