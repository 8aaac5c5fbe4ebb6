/* ms-smtp-codec.h: the SMTP mail transaction as a codec that does no I/O
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ms-reply.h"

G_BEGIN_DECLS

/**
 * MsSmtpCodec:
 *
 * The mail transactions of one connection, after EHLO and AUTH: it builds
 * MAIL, RCPT, DATA or BDAT and the dot-stuffed message, reads the replies
 * and knows which reply answers which command. It is fed the server's bytes
 * (ms_smtp_codec_feed()) and asked for the bytes to send next
 * (ms_smtp_codec_get_output()); the session moves them.
 *
 * Several messages may be in flight at once, up to the window: with
 * PIPELINING (RFC 2920) the end of one message and the next message's MAIL,
 * RCPT and DATA go in one write; with CHUNKING (RFC 3030) "BDAT n LAST"
 * needs no 354, so whole transactions stream back to back. Each message has
 * its own id and its own #MsSmtpOutcome: a refusal in the middle of the
 * window does not disturb the messages behind it, and a drop marks
 * uncertain only the messages whose end went out unanswered.
 *
 * Not thread-safe: one connection, one thread.
 */
typedef struct _MsSmtpCodec MsSmtpCodec;

/* A reply longer than this is given up on (a hostile or broken server could
 * go on forever); a real one is a few lines. */
#define MS_SMTP_MAX_REPLY_BYTES (256 * 1024)
#define MS_SMTP_MAX_REPLY_LINES 1000

MsSmtpCodec   *ms_smtp_codec_new          (const char * const *capabilities);
void           ms_smtp_codec_free         (MsSmtpCodec        *self);

void           ms_smtp_codec_set_window   (MsSmtpCodec        *self,
                                           guint               window);
guint          ms_smtp_codec_get_window   (MsSmtpCodec        *self);
gboolean       ms_smtp_codec_get_pipelining (MsSmtpCodec      *self);
gboolean       ms_smtp_codec_get_chunking (MsSmtpCodec        *self);

gboolean       ms_smtp_codec_submit       (MsSmtpCodec        *self,
                                           guint64             id,
                                           const char         *from,
                                           const char         *to,
                                           GBytes             *message,
                                           GError            **error);

/* The bytes to send now (NULL, 0 when there are none); after writing n of
 * them, say so with ms_smtp_codec_output_written(). */
const guint8  *ms_smtp_codec_get_output   (MsSmtpCodec        *self,
                                           gsize              *len);
void           ms_smtp_codec_output_written (MsSmtpCodec      *self,
                                           gsize               n);
/* The id of a message whose end lies in the first @len bytes of the
 * output and was not reported yet: call it until it returns FALSE before
 * writing those bytes (the blast notes "end" in its side log there). */
gboolean       ms_smtp_codec_next_end     (MsSmtpCodec        *self,
                                           gsize               len,
                                           guint64            *id);

/* The server's bytes, in any pieces. */
void           ms_smtp_codec_feed         (MsSmtpCodec        *self,
                                           const guint8       *data,
                                           gsize               len);
/* The connection ended (dropped, timed out, given up): every message still
 * open gets its outcome. */
void           ms_smtp_codec_close        (MsSmtpCodec        *self,
                                           MsTransportFailure  failure,
                                           const char         *detail);
void           ms_smtp_codec_set_hold_on_failure (MsSmtpCodec *self,
                                                  gboolean     hold);
void           ms_smtp_codec_resume       (MsSmtpCodec        *self);
guint          ms_smtp_codec_withdraw     (MsSmtpCodec        *self);
/* After every message: QUIT goes out, and the answer to it is read. */
void           ms_smtp_codec_quit         (MsSmtpCodec        *self);

/* Outcomes in the order the messages were finished; NULL when none. */
MsSmtpOutcome *ms_smtp_codec_pop_outcome  (MsSmtpCodec        *self);

/* Replies are awaited: read from the server. */
gboolean       ms_smtp_codec_wants_input  (MsSmtpCodec        *self);
/* Messages submitted and not finished, in flight or not yet sent. */
guint          ms_smtp_codec_get_n_open   (MsSmtpCodec        *self);
/* The window has room for another message. */
gboolean       ms_smtp_codec_has_room     (MsSmtpCodec        *self);
/* The connection cannot carry more: closed, given up, or the server said
 * 421; submit nothing more. */
gboolean       ms_smtp_codec_is_closed    (MsSmtpCodec        *self);
/* Why it is closed (NONE while open; CONNECTION_LOST after a 421). */
MsTransportFailure ms_smtp_codec_get_failure (MsSmtpCodec     *self);
/* The 221 to QUIT came. */
gboolean       ms_smtp_codec_quit_answered (MsSmtpCodec       *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSmtpCodec, ms_smtp_codec_free)

G_END_DECLS
