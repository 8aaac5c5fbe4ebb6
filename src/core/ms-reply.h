/* ms-reply.h: what an SMTP reply or a transport failure means, and what to do
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * MsReplyClass:
 *
 * What a failure means for the message and for the account. The blast engine
 * decides on the class alone; the advice is for the user.
 */
typedef enum {
  MS_REPLY_CLASS_NONE = 0,            /* success, nothing to do */
  MS_REPLY_CLASS_RECIPIENT_REJECTED,  /* fail this recipient, go on */
  MS_REPLY_CLASS_TEMPORARY,           /* defer this recipient, retry with backoff */
  MS_REPLY_CLASS_RATE_LIMITED,        /* the whole account waits until @until */
  MS_REPLY_CLASS_AUTH_FAILED,         /* stop: credentials */
  MS_REPLY_CLASS_TLS,                 /* stop: TLS or certificate */
  MS_REPLY_CLASS_CANNOT_CONNECT,      /* stop (or retry later): resolve/connect */
  MS_REPLY_CLASS_TIMEOUT,             /* the server stopped answering */
  MS_REPLY_CLASS_RELAY_DENIED,        /* stop: server won't relay for us */
  MS_REPLY_CLASS_SENDER_NOT_ALLOWED,  /* stop: From address refused */
  MS_REPLY_CLASS_MISCONFIGURED,       /* stop: settings don't fit the server */
  MS_REPLY_CLASS_CONNECTION_LOST,     /* reopen the connection and retry the message */
  MS_REPLY_CLASS_OAUTH2_REQUIRED,     /* stop: the provider no longer takes a password here (use OAuth2) */
} MsReplyClass;

/**
 * MsTransportFailure:
 *
 * A failure below the SMTP reply level, as ms-smtp saw it. ms-smtp maps a
 * CURLcode plus what it saw in the dialog onto one of these, so that ms-reply
 * does not depend on libcurl.
 */
typedef enum {
  MS_TRANSPORT_NONE = 0,
  MS_TRANSPORT_RESOLVE,             /* host name does not resolve */
  MS_TRANSPORT_REFUSED,             /* connection refused or unreachable */
  MS_TRANSPORT_CONNECT_TIMEOUT,     /* no TCP connection within the timeout */
  MS_TRANSPORT_NO_GREETING,         /* connected, but no greeting: likely an implicit-TLS port */
  MS_TRANSPORT_TLS_HANDSHAKE,       /* handshake failed: likely SMTPS against a plain port */
  MS_TRANSPORT_TLS_CERTIFICATE,     /* certificate not trusted */
  MS_TRANSPORT_STARTTLS_MISSING,    /* a server once seen with STARTTLS no longer offers it */
  MS_TRANSPORT_STARTTLS_REQUIRED,   /* STARTTLS not offered and the password may not go in clear */
  MS_TRANSPORT_NO_AUTH_ADVERTISED,  /* the account needs auth, the server offers none */
  MS_TRANSPORT_MECH_UNSUPPORTED,    /* the chosen mechanism is not advertised */
  MS_TRANSPORT_RESPONSE_TIMEOUT,    /* the server stalled in the middle of the dialog */
  MS_TRANSPORT_CONNECTION_LOST,     /* the connection dropped */
  MS_TRANSPORT_OTHER,
  MS_TRANSPORT_REPLY_TOO_LONG,      /* a reply went on past the limit: given up, connection closed */
} MsTransportFailure;

/**
 * MsReplyTo:
 *
 * What a reply answered. The same words mean different things at different
 * steps: a 554 in the greeting refuses the connection (every message alike),
 * a 554 to RCPT refuses one recipient. %MS_REPLY_TO_UNKNOWN classifies on
 * the code and the text alone.
 */
typedef enum {
  MS_REPLY_TO_UNKNOWN = 0,
  MS_REPLY_TO_GREETING,
  MS_REPLY_TO_EHLO,           /* EHLO or HELO */
  MS_REPLY_TO_STARTTLS,
  MS_REPLY_TO_AUTH,
  MS_REPLY_TO_MAIL,
  MS_REPLY_TO_RCPT,
  MS_REPLY_TO_DATA,           /* the DATA command */
  MS_REPLY_TO_END_OF_DATA,    /* the final "." of the message */
} MsReplyTo;

typedef struct {
  MsReplyClass klass;
  int          code;          /* SMTP reply code, 0 when the failure was not a reply */
  char        *enhanced;      /* enhanced status code "5.4.5", or NULL */
  char        *text;          /* the server's reply text (without code), or a transport detail */
  char        *advice;        /* one plain, translated sentence: what to change or expect */
  gint64       until;         /* RATE_LIMITED: unix time to wait until; 0 = caller picks a backoff */
  gboolean     new_connection;/* the session is spent: open a new connection before retrying */
  gboolean     session_limit; /* the server takes only so many messages per connection: the message
                               * goes again at once on a new one (no wait), if the refused connection
                               * had carried some already */
  gboolean     permanent;     /* TEMPORARY that should not be retried much (e.g. 552 mailbox full gets a few tries) */
  MsTransportFailure transport; /* what ms_reply_classify_transport() was given; NONE for a reply */
} MsReply;

/* Longest reply text kept, in bytes (a hostile server may send megabytes). */
#define MS_REPLY_MAX_TEXT 1000

/* Context that changes the advice (wrong-port cases, provider-specific words). */
typedef struct {
  const char *server;         /* host name, may be NULL */
  int         port;
  gboolean    use_smtps;
  gboolean    needs_auth;
  MsReplyTo   answering;      /* what the reply answered; UNKNOWN when not known */
  gboolean    single_message; /* a test: one message, never retried, so no advice promises a retry */
  const char *ehlo_name;      /* the EHLO name that was sent, or NULL */
  gboolean    ehlo_default;   /* it is Mailshot's default: "EHLO host name" is blank */
  const char *ehlo_suggestion;/* another name that would pass a strict server (the local address
                               * literal, "[192.0.2.10]"), or NULL */
} MsReplyContext;

/**
 * MsSmtpOutcome:
 *
 * What became of one message, as the session saw it: the one record both
 * the single-message path and the bulk path fill, and that
 * ms_reply_classify_outcome() turns into an #MsReply. Every string is
 * sanitized (ms_reply_sanitize_text()).
 */
typedef struct {
  guint64            id;          /* the caller's, from ms_smtp_codec_submit() */
  MsReplyTo          stage;       /* the last step that went out for it; UNKNOWN: nothing did */
  gboolean           accepted;    /* the server took the message (end_code is 2xx) */
  int                code;        /* the first refusal (4xx/5xx), 0 when none */
  char              *text;        /* its text, every line, enhanced code first ("5.1.1 No such user") */
  MsReplyTo          failed_at;   /* what that refusal answered */
  int                end_code;    /* the reply to the end of the message, 0 when none came */
  char              *end_text;    /* its last line, code included ("250 2.0.0 Ok: queued as 4F2A1") */
  gboolean           uncertain;   /* the end went out and no answer came: it may have been delivered */
  MsTransportFailure transport;   /* a failure below the reply level, or NONE */
  char              *detail;      /* what the transport failure was, for the user, or NULL */
  char              *sign_in;     /* OAuth2: the server refused the access token and no new one could be
                                   * had: why, in words that say to sign in again; NULL otherwise */
} MsSmtpOutcome;

MsSmtpOutcome *ms_smtp_outcome_new   (guint64               id);
void           ms_smtp_outcome_free  (MsSmtpOutcome        *outcome);
/* NULL when the message was accepted; otherwise what the failure means. The
 * context's answering is taken from the outcome. */
MsReply       *ms_reply_classify_outcome (const MsSmtpOutcome  *outcome,
                                          const MsReplyContext *context,
                                          gint64                now);

MsReply     *ms_reply_classify            (int                   code,
                                           const char           *text,
                                           const MsReplyContext *context,
                                           gint64                now);
MsReply     *ms_reply_classify_transport  (MsTransportFailure    failure,
                                           const char           *detail,
                                           const MsReplyContext *context,
                                           gint64                now);
MsReply     *ms_reply_copy                (const MsReply        *reply);
/* Any bytes from a server as one line of valid UTF-8 without control
 * characters (no terminal escapes), at most MS_REPLY_MAX_TEXT bytes: the one
 * sanitizer for every server string the program keeps. */
char        *ms_reply_sanitize_text       (const char           *raw,
                                           gssize                len);
const char  *ms_reply_to_get_label        (MsReplyTo             answering);   /* translated: "the greeting", "RCPT TO" */
void         ms_reply_free                (MsReply              *reply);

const char  *ms_reply_class_to_string     (MsReplyClass          klass);   /* "rate-limited", stable, for the journal */
MsReplyClass ms_reply_class_from_string   (const char           *str);
const char  *ms_reply_class_get_label     (MsReplyClass          klass);   /* translated, for people */
int          ms_reply_class_to_error_code (MsReplyClass          klass);   /* an MsError code */
/* TRUE for auth, TLS, relay, sender, misconfigured and cannot-connect: those
 * fail every message alike, so the batch pauses instead of churning through
 * the list. Timeout and connection-lost are retried. */
gboolean     ms_reply_class_stops_batch   (MsReplyClass          klass);

/* Parses a "try again after <date>"-style wait out of a reply text; 0 if none. */
gint64       ms_reply_parse_retry_after   (const char           *text,
                                           gint64                now);

/* A GError in MS_ERROR whose message is the advice; the code comes from the
 * class, refined by the transport failure (RESOLVE, INSECURE). */
GError      *ms_reply_to_error            (const MsReply        *reply);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsReply, ms_reply_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSmtpOutcome, ms_smtp_outcome_free)

G_END_DECLS
