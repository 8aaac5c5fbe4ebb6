/* ms-template.h: {{field}} merge (HTML-escaped in HTML, {{{field}}} raw)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  MS_TEMPLATE_PLAIN,    /* values inserted as they are */
  MS_TEMPLATE_HTML,     /* {{x}} HTML-escaped, {{{x}}} raw */
  MS_TEMPLATE_HEADER,   /* values have CR/LF folded to spaces: can never add a header */
} MsTemplateKind;

#define MS_TYPE_TEMPLATE (ms_template_get_type ())
G_DECLARE_FINAL_TYPE (MsTemplate, ms_template, MS, TEMPLATE, GObject)

/* Syntax: {{ name }} (spaces inside the braces are ignored; case-insensitive
 * match when no column has the exact name), {{{ name }}} raw (HTML only; elsewhere
 * the same as {{ }}), and \{{ for a literal "{{". A backslash elsewhere is literal.
 * @where names the part for messages ("subject", "text body", "HTML body").
 * Parse errors (unclosed braces) say where, with line and column. */
MsTemplate  *ms_template_new     (const char      *source,
                                  MsTemplateKind   kind,
                                  const char      *where,
                                  GError         **error);
/* Resolves field names to column indexes. A field the CSV lacks is an error
 * naming the field and where it was used (MS_ERROR_INVALID_INPUT). */
gboolean     ms_template_bind    (MsTemplate          *self,
                                  const char * const  *fields,
                                  GError             **error);
/* After bind: append the merged text for one row to @out. */
void         ms_template_expand  (MsTemplate          *self,
                                  const char * const  *values,
                                  GString             *out);
/* RFC 5322 2.1.1: a header line holds at most 998 characters. A header
 * template (the subject) longer than that once merged is a merge gone wrong. */
#define MS_TEMPLATE_HEADER_MAX_LENGTH 998
/* ms_template_expand(), and for a header template a check that the merged
 * value is at most MS_TEMPLATE_HEADER_MAX_LENGTH bytes: longer is an error
 * (MS_ERROR_INVALID_INPUT) naming the field that made it long; @out is then
 * left as it was. Added for issue 8. */
gboolean     ms_template_expand_checked (MsTemplate          *self,
                                         const char * const  *values,
                                         GString             *out,
                                         GError             **error);
char       **ms_template_get_field_names (MsTemplate *self);  /* transfer full */
gboolean     ms_template_is_constant     (MsTemplate *self);  /* no fields at all */
MsTemplateKind ms_template_get_kind      (MsTemplate *self);  /* added */

G_END_DECLS
