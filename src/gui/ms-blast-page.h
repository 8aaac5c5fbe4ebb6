/* ms-blast-page.h: the E-blast page: recipients, message with merge fields, Send
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "ms-blast-runner.h"
#include "ms-preview.h"

G_BEGIN_DECLS

#define MS_TYPE_BLAST_PAGE (ms_blast_page_get_type ())
G_DECLARE_FINAL_TYPE (MsBlastPage, ms_blast_page, MS, BLAST_PAGE, AdwBin)

/* The draft (what was composed) is kept in @draft_path, a key file; NULL =
 * $XDG_DATA_HOME/mailshot/draft.ini. It is read at construction. */
MsBlastPage *ms_blast_page_new              (MsAccount     *account,
                                             MsBlastRunner *runner,
                                             const char    *draft_path);
/* As choosing or dropping the file: reads it in a thread (see get_loading). */
void         ms_blast_page_load_recipients  (MsBlastPage   *self,
                                             GFile         *file);
gboolean     ms_blast_page_get_loading      (MsBlastPage   *self);
/* Rows with a usable, new address; 0 before a list is read. */
guint        ms_blast_page_get_valid_count  (MsBlastPage   *self);
void         ms_blast_page_set_html_file    (MsBlastPage   *self,
                                             GFile         *file);
void         ms_blast_page_add_attachment   (MsBlastPage   *self,
                                             GFile         *file);
/* The dialog the page has open (problems, confirmation…), or NULL; transfer none. */
AdwMessageDialog *ms_blast_page_get_dialog  (MsBlastPage   *self);
/* The preview window the page opened ("blast.preview"), or NULL; transfer none. */
MsPreview   *ms_blast_page_get_preview      (MsBlastPage   *self);
/* Writes the draft now (it is otherwise written shortly after each change). */
void         ms_blast_page_save_draft       (MsBlastPage   *self);

G_END_DECLS
