/* ms-preview.h: the preview per recipient: the merged message as each recipient gets it, and "Send test to me"
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "mailshot-core.h"

G_BEGIN_DECLS

#define MS_TYPE_PREVIEW (ms_preview_get_type ())
G_DECLARE_FINAL_TYPE (MsPreview, ms_preview, MS, PREVIEW, AdwWindow)

/* @spec: transfer full; its fields and email_index are filled in from
 * @csv_path. The rows are read in a thread ("loading" until then). */
MsPreview   *ms_preview_new             (GtkWindow   *parent,
                                         MsAccount   *account,
                                         MsBatchSpec *spec,
                                         const char  *csv_path,
                                         const char  *email_column);
gboolean     ms_preview_get_loading     (MsPreview   *self);
guint        ms_preview_get_n_recipients (MsPreview  *self);
/* 0-based; clamped to the list. */
guint        ms_preview_get_position    (MsPreview   *self);
void         ms_preview_set_position    (MsPreview   *self,
                                         guint        position);
/* Moves to the next recipient (from the current one, wrapping) whose
 * address contains @text, without case; FALSE when none has it. */
gboolean     ms_preview_find            (MsPreview   *self,
                                         const char  *text);
/* "Send test to me" is under way ("sending"); the last outcome said, or NULL. */
gboolean     ms_preview_get_sending     (MsPreview   *self);
const char  *ms_preview_get_outcome     (MsPreview   *self);
/* Whether the HTML is rendered (WebKitGTK), else shown as source. */
gboolean     ms_preview_get_renders_html (MsPreview  *self);

G_END_DECLS
