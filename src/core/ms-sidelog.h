/* ms-sidelog.h: the append-only side log of a blast run, what went out and what the server answered
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A run writes one line per event with a plain write() (no fsync): the page
 * cache keeps it when the process is killed, so recovery knows, row by row,
 * whether the end of a message went out and whether the server took it. The
 * journal's own transactions stay batched. Thread-safe: every line (or
 * gathered lines, below) is one O_APPEND write. */
typedef struct _MsSidelog MsSidelog;

MsSidelog *ms_sidelog_create        (const char  *path,
                                     GError     **error);
void       ms_sidelog_free          (MsSidelog   *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSidelog, ms_sidelog_free)

/* Before the end of a message goes out. FALSE when the line could not be
 * written: the message must not be ended then. */
gboolean   ms_sidelog_note_end      (MsSidelog   *self,
                                     gint64       row);
/* The server accepted the message: its reply and its Message-ID. */
gboolean   ms_sidelog_note_accepted (MsSidelog   *self,
                                     gint64       row,
                                     gint64       when,          /* unix seconds */
                                     int          code,
                                     const char  *text,
                                     const char  *message_id);
/* The server answered the message with a refusal: it was not delivered. */
gboolean   ms_sidelog_note_refused  (MsSidelog   *self,
                                     gint64       row);
/* The same lines gathered by one writer, to go out in one write() with
 * ms_sidelog_flush() (which empties @lines): a connection notes the answers
 * it read and the ends it is about to send together, one system call
 * instead of two a message. A torn write cuts at most its last line. */
void       ms_sidelog_add_end       (GString     *lines,
                                     gint64       row);
void       ms_sidelog_add_accepted  (GString     *lines,
                                     gint64       row,
                                     gint64       when,
                                     int          code,
                                     const char  *text,
                                     const char  *message_id);
void       ms_sidelog_add_refused   (GString     *lines,
                                     gint64       row);
/* FALSE when the lines could not be written (see ms_sidelog_get_error()). */
gboolean   ms_sidelog_flush         (MsSidelog   *self,
                                     GString     *lines);
/* The first write that failed, or NULL. */
const char *ms_sidelog_get_error    (MsSidelog   *self);

/* Reading, for recovery. */
typedef enum {
  MS_SIDELOG_NOTHING,     /* nothing logged: the end of the message never went out */
  MS_SIDELOG_END_SENT,    /* its end went out, no answer recorded: uncertain */
  MS_SIDELOG_ACCEPTED,
  MS_SIDELOG_REFUSED,
} MsSidelogOutcome;

typedef struct {
  MsSidelogOutcome  outcome;
  gint64            when;
  int               code;
  char             *text;
  char             *message_id;
} MsSidelogEntry;

/**
 * ms_sidelog_read:
 * @rows: (element-type gint64 gint64) (nullable): only these rows (keys are
 *   gint64*), or %NULL for all
 * @same_boot: (out): whether the log was written since the machine last
 *   booted. After a reboot (a power cut) its unsynced tail may be gone, so
 *   a row without an entry may still have gone out.
 *
 * Returns: (transfer full) (element-type gint64 MsSidelogEntry): the last
 *   entry of each row, or %NULL with %G_IO_ERROR_NOT_FOUND when there is no
 *   log (or it lost its header).
 */
GHashTable *ms_sidelog_read         (const char  *path,
                                     GHashTable  *rows,
                                     gboolean    *same_boot,
                                     GError     **error);

/* Tests: the boot this process pretends to run in (%NULL = the real one). */
void        ms_sidelog_set_boot_id  (const char  *boot_id);

G_END_DECLS
