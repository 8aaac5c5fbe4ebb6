/* ms-probe.h: the staged test e-mail (resolve, connect, TLS, EHLO, AUTH, MAIL/RCPT, DATA)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "ms-reply.h"
#include "ms-smtp.h"
#include "ms-transcript.h"

G_BEGIN_DECLS

typedef enum {
  MS_PROBE_STEP_RESOLVE,
  MS_PROBE_STEP_CONNECT,
  MS_PROBE_STEP_TLS,
  MS_PROBE_STEP_EHLO,
  MS_PROBE_STEP_AUTH,
  MS_PROBE_STEP_ENVELOPE,   /* MAIL FROM / RCPT TO */
  MS_PROBE_STEP_DATA,
  MS_PROBE_N_STEPS
} MsProbeStep;

typedef enum {
  MS_PROBE_STATE_PENDING,
  MS_PROBE_STATE_RUNNING,
  MS_PROBE_STATE_PASSED,
  MS_PROBE_STATE_FAILED,
  MS_PROBE_STATE_SKIPPED,   /* e.g. TLS when the account uses neither SMTPS nor STARTTLS is offered; AUTH when not needed */
} MsProbeState;

const char *ms_probe_step_get_label (MsProbeStep step);   /* translated: "Resolve the server name" */
const char *ms_probe_step_get_nick  (MsProbeStep step);   /* "resolve", "connect", "tls", "ehlo", "auth", "envelope", "data" */

#define MS_TYPE_PROBE (ms_probe_get_type ())
G_DECLARE_FINAL_TYPE (MsProbe, ms_probe, MS, PROBE, GObject)

/* @config is copied; @to NULL = the account's own address. */
MsProbe      *ms_probe_new          (const MsSmtpConfig  *config,
                                     const char          *to);

/* Emits ::step-changed (MsProbeStep step, MsProbeState state, const char *detail)
 * in the thread-default main context of the caller, as each step happens. */
void          ms_probe_run_async    (MsProbe             *self,
                                     GCancellable        *cancellable,
                                     GAsyncReadyCallback  callback,
                                     gpointer             user_data);
gboolean      ms_probe_run_finish   (MsProbe             *self,
                                     GAsyncResult        *result,
                                     GError             **error);

MsProbeState  ms_probe_get_state          (MsProbe *self, MsProbeStep step);
const char   *ms_probe_get_detail         (MsProbe *self, MsProbeStep step);
MsProbeStep   ms_probe_get_failed_step    (MsProbe *self);   /* MS_PROBE_N_STEPS when none failed */
const MsReply *ms_probe_get_reply         (MsProbe *self);   /* NULL on success */
MsTranscript *ms_probe_get_transcript     (MsProbe *self);   /* redacted */
const char * const *ms_probe_get_capabilities (MsProbe *self);
gboolean      ms_probe_get_starttls_offered (MsProbe *self);
const char   *ms_probe_get_peer_fingerprint (MsProbe *self);   /* "AB:CD:…" or NULL */

/**
 * MsProbeFailure:
 * @step: the failed step, %MS_PROBE_N_STEPS when none failed (e.g. refused before it ran)
 * @step_label: (nullable): its translated label ("Authenticate")
 * @reply: (nullable): "Server reply: 535 5.7.8 …", translated; %NULL when the server said nothing
 * @detail: (nullable): when there was no reply, why: "No answer from the server within 30 seconds",
 *   or what the connection reported
 * @advice: (nullable): what to change, in one sentence
 *
 * A failed test in words, the same for the test dialog and `mailshot-cli test`.
 */
typedef struct {
  MsProbeStep  step;
  const char  *step_label;
  char        *reply;
  char        *detail;
  char        *advice;
} MsProbeFailure;

MsProbeFailure *ms_probe_get_failure    (MsProbe *self, const GError *error);
void            ms_probe_failure_free   (MsProbeFailure *failure);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsProbeFailure, ms_probe_failure_free)

/* The help page (help:mailshot/PAGE) about a failure at @step of class @klass. */
const char     *ms_probe_step_get_help_page (MsProbeStep step, MsReplyClass klass);

G_END_DECLS
