/* ms-recipients.h: a streaming reader of recipient lists (CSV, RFC 4180)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  MS_RECIPIENT_OK,
  MS_RECIPIENT_BAD_ADDRESS,
  MS_RECIPIENT_EMPTY_ADDRESS,
  MS_RECIPIENT_FIELD_COUNT,
  MS_RECIPIENT_BAD_UTF8,
  MS_RECIPIENT_NUL_BYTE,     /* a NUL inside a value (it used to cut the value short) */
} MsRecipientProblem;

const char *ms_recipient_problem_get_label (MsRecipientProblem problem);  /* translated */

#define MS_TYPE_RECIPIENTS (ms_recipients_get_type ())
G_DECLARE_FINAL_TYPE (MsRecipients, ms_recipients, MS, RECIPIENTS, GObject)

/* Opens and reads the header row; detects the delimiter (, ; tab) and a BOM.
 * @email_column NULL = find it by name (email, e-mail, email address, mail).
 * Errors (MS_ERROR_INVALID_INPUT) name the file and, where it applies, the line. */
MsRecipients *ms_recipients_new_for_path (const char    *path,
                                          const char    *email_column,
                                          GError       **error);
MsRecipients *ms_recipients_new_for_stream (GInputStream *stream,
                                          const char    *name,       /* for messages */
                                          const char    *email_column,
                                          GError       **error);

const char * const *ms_recipients_get_fields      (MsRecipients *self);
guint               ms_recipients_get_email_index (MsRecipients *self);
char                ms_recipients_get_delimiter   (MsRecipients *self);

/**
 * ms_recipients_next:
 * @values: (out) (transfer none): the row's fields, valid until the next call
 * @line: (out): the line number the row starts on (1 = header)
 * @problem: (out): why the row is unusable, or MS_RECIPIENT_OK
 *
 * Returns: %FALSE at the end of the file or on an I/O error (set in @error).
 * Bad rows are returned with @problem set so the caller can list them.
 * The address (values[email_index]) is normalised (trimmed).
 */
gboolean ms_recipients_next (MsRecipients         *self,
                             const char * const  **values,
                             guint                *line,
                             MsRecipientProblem   *problem,
                             GError              **error);

/* Reads the rest of the file checking only its structure: the errors that
 * stop an import as a whole, as ms_recipients_next() gives them. */
gboolean ms_recipients_check_rest (MsRecipients  *self,
                                   guint         *n_records,
                                   GError       **error);

/* Skips the records through the one starting on @line (structure only). */
gboolean ms_recipients_skip_through (MsRecipients  *self,
                                     guint          line,
                                     GError       **error);

/* Additions (after the first API): the header's column count; the field count of
 * the last row (differs on MS_RECIPIENT_FIELD_COUNT); and a translated sentence
 * about the last row's problem naming its line ("Line 7: expected 3 fields, got 2…"),
 * NULL for a good row, valid until the next call. Rows returned by next() always
 * have at least get_n_fields() values (short rows are padded with ""), NULL-terminated. */
guint               ms_recipients_get_n_fields        (MsRecipients *self);
guint               ms_recipients_get_row_field_count (MsRecipients *self);
const char         *ms_recipients_get_problem_detail  (MsRecipients *self);

/* Added: the key duplicates are compared by (the address in lower case, so
 * "Ann@Example.org" and "ann@example.org" are one recipient). Transfer full. */
char               *ms_recipients_address_key         (const char   *address);

/* Added: the header's column names even when no column is recognised as the
 * address (*email_index is then -1), for the import preview. Transfer full. */
char              **ms_recipients_read_header         (GInputStream *stream,
                                                       const char   *name,
                                                       int          *email_index,
                                                       GError      **error);

/* The one address rule (recipients and the account's own address): GMime
 * reads exactly one bare mailbox, plus the checks listed in the .c file. */
gboolean ms_recipients_address_is_valid (const char *address);

G_END_DECLS
