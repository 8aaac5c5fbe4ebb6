/* ms-smtp.h: one SMTP session on a libcurl easy handle
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ms-oauth2.h"
#include "ms-reply.h"
#include "ms-transcript.h"

G_BEGIN_DECLS

typedef enum {
  MS_AUTH_METHOD_AUTOMATIC,
  MS_AUTH_METHOD_CRAM_MD5,
  MS_AUTH_METHOD_PLAIN,
  MS_AUTH_METHOD_LOGIN,
  MS_AUTH_METHOD_OAUTH2,      /* XOAUTH2 or OAUTHBEARER with an access token */
} MsAuthMethod;

/**
 * MsSmtpConfig:
 *
 * A snapshot of the account for one session, copied into task data before a
 * worker thread starts, so the worker never touches GSettings.
 * @password is wiped when the config is freed.
 */
typedef struct {
  char        *server;
  int          port;
  gboolean     use_smtps;
  char        *ehlo_host;               /* NULL or "" = the fully qualified host name, else the local address literal ("[192.0.2.10]") */
  int          timeout;                 /* seconds */
  gboolean     needs_auth;
  MsAuthMethod auth_method;
  char        *user;
  char        *password;                /* from the keyring; never logged. For MS_AUTH_METHOD_OAUTH2,
                                           the access token (blanked in the transcript the same way) */
  MsOAuth2    *oauth2;                  /* MS_AUTH_METHOD_OAUTH2: renews the token; may be NULL */
  gboolean     allow_plaintext_password;
  char        *trusted_certificate;     /* SHA-256 hex fingerprint, colons optional, or NULL */
  gboolean     starttls_seen;           /* this server offered STARTTLS before */
  char        *from_address;
  char        *from_name;               /* display name, may be NULL */
  char        *ca_file;                 /* tests only: extra CA bundle; NULL = system store */
} MsSmtpConfig;

MsSmtpConfig *ms_smtp_config_new  (void);
MsSmtpConfig *ms_smtp_config_copy (const MsSmtpConfig *config);
void          ms_smtp_config_free (MsSmtpConfig       *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsSmtpConfig, ms_smtp_config_free)

/* How far a session got; the probe turns this into its steps. */
typedef enum {
  MS_SMTP_STAGE_NONE,
  MS_SMTP_STAGE_RESOLVE,
  MS_SMTP_STAGE_CONNECT,
  MS_SMTP_STAGE_GREETING,
  MS_SMTP_STAGE_EHLO,
  MS_SMTP_STAGE_TLS,
  MS_SMTP_STAGE_AUTH,
  MS_SMTP_STAGE_MAIL,
  MS_SMTP_STAGE_RCPT,
  MS_SMTP_STAGE_DATA,
  MS_SMTP_STAGE_DONE,
} MsSmtpStage;

#define MS_TYPE_SMTP (ms_smtp_get_type ())
G_DECLARE_FINAL_TYPE (MsSmtp, ms_smtp, MS, SMTP, GObject)

MsSmtp       *ms_smtp_new            (const MsSmtpConfig *config);

/**
 * ms_smtp_send:
 * @message: the whole message, CRLF line endings
 *
 * Sends one message on this session's connection (opened, or reused when it
 * is still alive), over the codec like the bulk path below, and fills the
 * same #MsSmtpOutcome (ms_smtp_get_outcome()). Blocking: call it from a
 * worker thread. On failure the #GError is in %MS_ERROR and
 * ms_smtp_get_reply() holds the classification.
 */
gboolean      ms_smtp_send           (MsSmtp             *self,
                                      const char         *from,
                                      const char         *to,
                                      GBytes             *message,
                                      GCancellable       *cancellable,
                                      GError            **error);

/* Bulk sending (ms-blast): the same path as ms_smtp_send(), for many
 * messages on one connection. libcurl opens the connection; the mail
 * transactions go through the codec (ms-smtp-codec.h) over
 * curl_easy_send/recv, with PIPELINING and CHUNKING when offered, up to a
 * window of messages in flight. */
gboolean      ms_smtp_send_bulk      (MsSmtp             *self,
                                      const char         *from,
                                      const char         *to,
                                      GBytes             *message,
                                      GCancellable       *cancellable,
                                      GError            **error);

typedef gboolean (*MsSmtpEndFunc) (MsSmtp         *self,
                                   const guint64  *ids,
                                   guint           n_ids,
                                   gpointer        user_data);
void          ms_smtp_set_end_func   (MsSmtp             *self,
                                      MsSmtpEndFunc       func,
                                      gpointer            user_data);
void          ms_smtp_set_window     (MsSmtp             *self,
                                      guint               window);
gboolean      ms_smtp_bulk_has_room  (MsSmtp             *self);
guint         ms_smtp_bulk_get_n_open (MsSmtp            *self);
void          ms_smtp_bulk_submit    (MsSmtp             *self,
                                      guint64             id,
                                      const char         *from,
                                      const char         *to,
                                      GBytes             *message,
                                      GCancellable       *cancellable);
void          ms_smtp_bulk_wait      (MsSmtp             *self,
                                      gboolean            drain);
MsSmtpOutcome *ms_smtp_bulk_pop      (MsSmtp             *self,
                                      MsReply           **reply,
                                      GError            **error);

/* Socket callbacks (curl_opensocket_callback, curl_closesocket_callback)
 * for every connection the session opens. */
void          ms_smtp_set_socket_funcs (MsSmtp           *self,
                                        gpointer          open_func,
                                        gpointer          close_func,
                                        gpointer          user_data);

/* Everything below describes the last ms_smtp_send()/ms_smtp_send_bulk(). */
const MsReply *ms_smtp_get_reply       (MsSmtp           *self);   /* NULL after success */
const MsSmtpOutcome *ms_smtp_get_outcome (MsSmtp         *self);   /* the record both paths fill */
MsTranscript  *ms_smtp_get_transcript  (MsSmtp           *self);
MsSmtpStage    ms_smtp_get_stage       (MsSmtp           *self);   /* last stage reached */
const char * const *ms_smtp_get_capabilities (MsSmtp     *self);   /* EHLO keywords, e.g. "AUTH PLAIN LOGIN" */
gboolean       ms_smtp_get_tls_active  (MsSmtp           *self);
gboolean       ms_smtp_get_starttls_offered (MsSmtp      *self);   /* persist into starttls-seen */
const char    *ms_smtp_get_auth_mechanism (MsSmtp        *self);   /* mechanism used, or NULL */
void           ms_smtp_set_record_transcript (MsSmtp     *self,    /* off in bulk mode: cost */
                                              gboolean    record);
/* TRUE (the default): a failed message is tried again, as a blast does; FALSE
 * for a test, whose advice then promises no retry. */
void           ms_smtp_set_retried     (MsSmtp           *self,
                                        gboolean          retried);

/* Called in the thread that runs the session each time it enters a stage
 * (the probe shows its steps live from this). Must be cheap and must not call
 * back into @self. */
typedef void (*MsSmtpStageFunc) (MsSmtp      *self,
                                 MsSmtpStage  stage,
                                 gpointer     user_data);
void           ms_smtp_set_stage_func  (MsSmtp           *self,
                                        MsSmtpStageFunc   func,
                                        gpointer          user_data);

/* TRUE when the last message failed after its end went out and before the
 * server answered (e.g. dropped after "."): it may have been delivered, so
 * the blast marks it uncertain instead of resending silently. */
gboolean       ms_smtp_get_delivery_uncertain (MsSmtp    *self);
/* SHA-256 fingerprint "AB:CD:…" of the certificate the server presented on
 * the last TLS connection, or NULL: lets a user compare and trust it. */
const char    *ms_smtp_get_peer_fingerprint (MsSmtp      *self);
/* The last line of the server's answer to the end of the last message
 * ("250 2.0.0 Ok: queued as 4F2A1"), sanitized (ms_reply_sanitize_text),
 * and its code, or NULL / 0 when the message ended before that answer.
 * Recorded without the transcript. */
const char    *ms_smtp_get_final_reply (MsSmtp           *self);
int            ms_smtp_get_final_code  (MsSmtp           *self);

/* Messages the server accepted on the connection open now (0: none yet). */
guint          ms_smtp_get_connection_messages (MsSmtp   *self);
/* Bulk mode: ends the connection with QUIT (a brief wait for its answer);
 * the next message opens a new one. */
void           ms_smtp_close           (MsSmtp           *self);

G_END_DECLS
