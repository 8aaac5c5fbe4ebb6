/* ms-import.c: a CSV recipient list into a new batch, the import rules shared by the CLI and the GUI
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "ms-error.h"
#include "ms-import.h"
#include "ms-message.h"

gint64
ms_import_csv (MsJournal              *journal,
               MsBatchSpec            *spec,
               const char             *csv_path,
               const char             *email_column,
               MsImportBadRowFunc      bad_row_func,
               MsImportDuplicateFunc   duplicate_func,
               gpointer                user_data,
               MsImportSummary        *summary,
               GError                **error)
{
  g_autoptr(MsRecipients) recipients = NULL;
  g_autoptr(MsMessageBuilder) builder = NULL;
  MsImportSummary local = { 0 };
  MsMessageSpec mspec = { 0 };
  const char * const *values;
  MsRecipientProblem problem;
  g_autoptr(GError) local_error = NULL;
  guint line;
  gint64 batch;

  g_return_val_if_fail (MS_IS_JOURNAL (journal), 0);
  g_return_val_if_fail (spec != NULL, 0);
  g_return_val_if_fail (csv_path != NULL, 0);

  if (summary == NULL)
    summary = &local;
  memset (summary, 0, sizeof *summary);

  recipients = ms_recipients_new_for_path (csv_path, email_column, error);
  if (recipients == NULL)
    return 0;

  g_strfreev (spec->fields);
  spec->fields = g_strdupv ((char **) ms_recipients_get_fields (recipients));
  spec->email_index = ms_recipients_get_email_index (recipients);
  if (spec->source == NULL)
    spec->source = g_strdup (csv_path);

  /* Pre-flight: every field the templates use must be a column, and the
   * attachments must be readable, before anything is stored. */
  mspec.from_address = spec->from_address;
  mspec.from_name = spec->from_name;
  mspec.subject = spec->subject;
  mspec.text = spec->text;
  mspec.html = spec->html;
  mspec.attachments = (const char * const *) spec->attachments;
  mspec.unsubscribe = spec->unsubscribe;
  mspec.fields = (const char * const *) spec->fields;
  mspec.email_index = spec->email_index;
  builder = ms_message_builder_new (&mspec, error);
  if (builder == NULL)
    return 0;

  if (!ms_journal_begin (journal, error))
    return 0;
  batch = ms_journal_create_batch (journal, spec, error);
  if (batch <= 0)
    {
      ms_journal_rollback (journal);
      return 0;
    }

  while (ms_recipients_next (recipients, &values, &line, &problem, &local_error))
    {
      const char *address = values != NULL ? values[spec->email_index] : NULL;
      gboolean duplicate = FALSE;

      if (problem != MS_RECIPIENT_OK)
        {
          summary->left_out++;
          switch (problem)
            {
            case MS_RECIPIENT_BAD_ADDRESS: summary->bad_address++; break;
            case MS_RECIPIENT_EMPTY_ADDRESS: summary->empty_address++; break;
            case MS_RECIPIENT_FIELD_COUNT: summary->field_count++; break;
            case MS_RECIPIENT_BAD_UTF8: summary->bad_utf8++; break;
            case MS_RECIPIENT_OK:
            default: break;
            }
          if (bad_row_func != NULL)
            {
              g_autofree char *detail = NULL;

              /* A row split on a delimiter inside an unquoted value: the
               * counts show which way it went wrong. */
              if (problem == MS_RECIPIENT_FIELD_COUNT)
                detail = g_strdup_printf (_("expected %u fields, got %u"),
                                          ms_recipients_get_n_fields (recipients),
                                          ms_recipients_get_row_field_count (recipients));
              bad_row_func (line, problem, problem == MS_RECIPIENT_FIELD_COUNT ||
                                           problem == MS_RECIPIENT_BAD_UTF8 ? NULL : address,
                            detail, user_data);
            }
          continue;
        }
      if (!ms_journal_add_recipient (journal, batch, address, values, line, &duplicate, &local_error))
        break;
      if (duplicate)
        {
          summary->duplicates++;
          if (duplicate_func != NULL)
            duplicate_func (line, address, user_data);
        }
      else
        summary->imported++;
    }
  if (local_error != NULL)
    {
      ms_journal_rollback (journal);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return 0;
    }
  if (summary->imported == 0)
    {
      ms_journal_rollback (journal);
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("%s: no usable recipients; check the address column and the rows listed above."),
                   csv_path);
      return 0;
    }
  if (!ms_journal_commit (journal, error))
    {
      ms_journal_rollback (journal);
      return 0;
    }
  return batch;
}

char *
ms_import_summary_to_string (const MsImportSummary *s)
{
  GString *out = g_string_new (NULL);

  g_return_val_if_fail (s != NULL, NULL);

  g_string_append_printf (out, g_dngettext (GETTEXT_PACKAGE, "Imported %u recipient", "Imported %u recipients",
                                            s->imported), s->imported);
  if (s->left_out > 0)
    {
      const struct { guint n; const char *what; } parts[] = {
        { s->bad_address, N_("invalid address") },
        { s->empty_address, N_("empty address") },
        { s->field_count, N_("wrong field count") },
        { s->bad_utf8, N_("invalid UTF-8") },
      };
      gboolean first = TRUE;

      g_string_append_printf (out, _("; left out %u: "), s->left_out);
      for (guint i = 0; i < G_N_ELEMENTS (parts); i++)
        if (parts[i].n > 0)
          {
            g_string_append_printf (out, "%s%u %s", first ? "" : ", ", parts[i].n, _(parts[i].what));
            first = FALSE;
          }
    }
  if (s->duplicates > 0)
    g_string_append_printf (out, g_dngettext (GETTEXT_PACKAGE, "; %u duplicate sent once",
                                              "; %u duplicates sent once", s->duplicates), s->duplicates);
  return g_string_free (out, FALSE);
}
