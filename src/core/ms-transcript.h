/* ms-transcript.h: the labelled SMTP dialog, with secrets blanked
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
  MS_TRANSCRIPT_CLIENT,   /* C: what we sent */
  MS_TRANSCRIPT_SERVER,   /* S: what the server answered */
  MS_TRANSCRIPT_INFO,     /* *: a note (connected to, TLS started, ...) */
} MsTranscriptDirection;

/* What stands in for a blanked secret or AUTH payload. */
#define MS_TRANSCRIPT_BLANK "********"
/* The note ms_transcript_mark_tls() adds. */
#define MS_TRANSCRIPT_TLS_MARK "TLS started: everything below is encrypted"

#define MS_TYPE_TRANSCRIPT (ms_transcript_get_type ())
G_DECLARE_FINAL_TYPE (MsTranscript, ms_transcript, MS, TRANSCRIPT, GObject)

MsTranscript *ms_transcript_new        (void);

/* @data may hold several lines or a partial line; it is split on CRLF/LF.
 * AUTH payloads (the argument of AUTH PLAIN, and every client line while an
 * AUTH exchange is open) are replaced by a fixed placeholder before storage.
 * @secret, when given, is blanked wherever it occurs, raw or in base64. */
void          ms_transcript_add        (MsTranscript          *self,
                                        MsTranscriptDirection  direction,
                                        const char            *data,
                                        gsize                  len,
                                        const char            *secret);
void          ms_transcript_add_info   (MsTranscript          *self,
                                        const char            *format,
                                        ...) G_GNUC_PRINTF (2, 3);
void          ms_transcript_mark_tls   (MsTranscript          *self);
/* Stands in for the message body (never recorded): "C: (N bytes of message)". */
void          ms_transcript_add_message_size (MsTranscript    *self,
                                        gsize                  size);
void          ms_transcript_clear      (MsTranscript          *self);

guint         ms_transcript_get_n_lines (MsTranscript         *self);
MsTranscriptDirection ms_transcript_get_direction (MsTranscript *self, guint i);
const char   *ms_transcript_get_line   (MsTranscript          *self,
                                        guint                  i);
/* "C: EHLO host\nS: 250-..." with "* TLS started" markers; transfer full. */
char         *ms_transcript_to_string  (MsTranscript          *self);

G_END_DECLS
