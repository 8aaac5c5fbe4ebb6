/* ms-probe.c: the staged test e-mail (resolve, connect, TLS, EHLO, AUTH, MAIL/RCPT, DATA)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>

#include "ms-core-enums.h"
#include "ms-error.h"
#include "ms-message.h"
#include "ms-probe.h"

/*
 * The probe walks the steps a user can act on. Resolving is done with GIO
 * first, so that "the name does not resolve" is told apart crisply before
 * libcurl is involved. The rest, the connection included, is one real
 * libcurl session (the same code that sends e-blasts), whose stages are
 * reported live through ms_smtp_set_stage_func() and then reconciled with
 * the final reply, so a failure lands on the step it belongs to. The probe
 * opens no connection of its own: a server sees one connection per test
 * (a bare one to an SMTPS port would be logged as a failed TLS handshake).
 */

struct _MsProbe
{
  GObject        parent_instance;

  MsSmtpConfig  *config;
  char          *to;

  MsProbeState   states[MS_PROBE_N_STEPS];
  char          *details[MS_PROBE_N_STEPS];
  MsProbeStep    failed_step;
  MsReply       *reply;
  MsTranscript  *transcript;
  GStrv          capabilities;
  gboolean       starttls_offered;
  char          *peer_fingerprint;
  gboolean       running;
};

G_DEFINE_FINAL_TYPE (MsProbe, ms_probe, G_TYPE_OBJECT)

enum {
  STEP_CHANGED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

typedef struct
{
  MsSmtpConfig *config;
  char         *to;
  GMainContext *context;
  MsProbe      *probe;          /* a ref, only touched in the caller's context */

  /* Worker-side view of the steps; the result carries it back. */
  MsProbeState  states[MS_PROBE_N_STEPS];
  char         *details[MS_PROBE_N_STEPS];
  MsProbeStep   failed_step;
  MsReply      *reply;
  MsTranscript *transcript;
  GStrv         capabilities;
  gboolean      starttls_offered;
  char         *peer_fingerprint;
} ProbeJob;

static void
probe_job_free (ProbeJob *job)
{
  g_clear_pointer (&job->config, ms_smtp_config_free);
  g_clear_pointer (&job->to, g_free);
  g_clear_pointer (&job->context, g_main_context_unref);
  g_clear_object (&job->probe);
  for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
    g_clear_pointer (&job->details[i], g_free);
  g_clear_pointer (&job->reply, ms_reply_free);
  g_clear_object (&job->transcript);
  g_clear_pointer (&job->capabilities, g_strfreev);
  g_clear_pointer (&job->peer_fingerprint, g_free);
  g_free (job);
}

typedef struct
{
  MsProbe      *probe;
  MsProbeStep   step;
  MsProbeState  state;
  char         *detail;
} StepEvent;

static void
step_event_free (gpointer data)
{
  StepEvent *event = data;

  g_clear_object (&event->probe);
  g_free (event->detail);
  g_free (event);
}

static void
ms_probe_apply (MsProbe      *self,
                MsProbeStep   step,
                MsProbeState  state,
                const char   *detail)
{
  if (self->states[step] == state && g_strcmp0 (self->details[step], detail) == 0)
    return;

  self->states[step] = state;
  g_free (self->details[step]);
  self->details[step] = g_strdup (detail);
  g_signal_emit (self, signals[STEP_CHANGED], 0, step, state, detail);
}

static gboolean
step_event_dispatch (gpointer data)
{
  StepEvent *event = data;

  ms_probe_apply (event->probe, event->step, event->state, event->detail);
  return G_SOURCE_REMOVE;
}

/* Worker thread: record the step and post it to the caller's context. */
static void
job_set_step (ProbeJob     *job,
              MsProbeStep   step,
              MsProbeState  state,
              const char   *detail)
{
  StepEvent *event;

  if (job->states[step] == state && g_strcmp0 (job->details[step], detail) == 0)
    return;

  job->states[step] = state;
  g_free (job->details[step]);
  job->details[step] = g_strdup (detail);

  event = g_new0 (StepEvent, 1);
  event->probe = g_object_ref (job->probe);
  event->step = step;
  event->state = state;
  event->detail = g_strdup (detail);
  g_main_context_invoke_full (job->context, G_PRIORITY_DEFAULT,
                              step_event_dispatch, event, step_event_free);
}

const char *
ms_probe_step_get_label (MsProbeStep step)
{
  switch (step)
    {
    case MS_PROBE_STEP_RESOLVE:  return _("Find the server");
    case MS_PROBE_STEP_CONNECT:  return _("Connect");
    case MS_PROBE_STEP_TLS:      return _("Encrypt the connection");
    case MS_PROBE_STEP_EHLO:     return _("Greeting and capabilities (EHLO)");
    case MS_PROBE_STEP_AUTH:     return _("Authenticate");
    case MS_PROBE_STEP_ENVELOPE: return _("Sender and recipient");
    case MS_PROBE_STEP_DATA:     return _("Send the message");
    case MS_PROBE_N_STEPS:
    default:
      g_return_val_if_reached (NULL);
    }
}

const char *
ms_probe_step_get_nick (MsProbeStep step)
{
  static const char * const nicks[] = {
    "resolve", "connect", "tls", "ehlo", "auth", "envelope", "data",
  };

  g_return_val_if_fail (step < MS_PROBE_N_STEPS, NULL);
  return nicks[step];
}

/* The probe step a session stage belongs to. */
static MsProbeStep
step_for_stage (MsSmtpStage stage)
{
  switch (stage)
    {
    case MS_SMTP_STAGE_NONE:
    case MS_SMTP_STAGE_RESOLVE:
      return MS_PROBE_STEP_RESOLVE;
    case MS_SMTP_STAGE_CONNECT:
      return MS_PROBE_STEP_CONNECT;
    case MS_SMTP_STAGE_GREETING:
    case MS_SMTP_STAGE_EHLO:
      return MS_PROBE_STEP_EHLO;
    case MS_SMTP_STAGE_TLS:
      return MS_PROBE_STEP_TLS;
    case MS_SMTP_STAGE_AUTH:
      return MS_PROBE_STEP_AUTH;
    case MS_SMTP_STAGE_MAIL:
    case MS_SMTP_STAGE_RCPT:
      return MS_PROBE_STEP_ENVELOPE;
    case MS_SMTP_STAGE_DATA:
    case MS_SMTP_STAGE_DONE:
    default:
      return MS_PROBE_STEP_DATA;
    }
}

/* The step a failure belongs to: the class says more than the stage for
 * TLS and authentication (libcurl may fail TLS while still "connecting"). */
static MsProbeStep
step_for_failure (const MsReply *reply,
                  MsSmtpStage    stage)
{
  if (reply != NULL)
    {
      /* Found before any AUTH command went out, but about signing in. */
      if (reply->transport == MS_TRANSPORT_MECH_UNSUPPORTED ||
          reply->transport == MS_TRANSPORT_NO_AUTH_ADVERTISED)
        return MS_PROBE_STEP_AUTH;
      switch (reply->klass)
        {
        case MS_REPLY_CLASS_TLS:
          return MS_PROBE_STEP_TLS;
        case MS_REPLY_CLASS_AUTH_FAILED:
        case MS_REPLY_CLASS_OAUTH2_REQUIRED:
          return MS_PROBE_STEP_AUTH;
        case MS_REPLY_CLASS_SENDER_NOT_ALLOWED:
        case MS_REPLY_CLASS_RELAY_DENIED:
        case MS_REPLY_CLASS_RECIPIENT_REJECTED:
          /* Before MAIL no sender or recipient was named: the stage says
           * where it failed (a refused greeting is the greeting's). */
          if (stage >= MS_SMTP_STAGE_MAIL && stage < MS_SMTP_STAGE_DATA)
            return MS_PROBE_STEP_ENVELOPE;
          break;
        case MS_REPLY_CLASS_NONE:
        case MS_REPLY_CLASS_TEMPORARY:
        case MS_REPLY_CLASS_RATE_LIMITED:
        case MS_REPLY_CLASS_CANNOT_CONNECT:
        case MS_REPLY_CLASS_TIMEOUT:
        case MS_REPLY_CLASS_MISCONFIGURED:
        case MS_REPLY_CLASS_CONNECTION_LOST:
        default:
          break;
        }
    }

  return step_for_stage (stage);
}

static char *
describe_connect (const MsSmtpConfig *config)
{
  return g_strdup_printf (_("Port %d of %s is open"), config->port, config->server);
}

static char *
describe_tls (const MsSmtpConfig *config)
{
  if (config->use_smtps)
    return g_strdup (_("Encrypted from the first byte (SMTPS)"));
  return g_strdup (_("Encrypted with STARTTLS"));
}

static char *
describe_capabilities (const char * const *caps)
{
  return caps != NULL ? g_strjoinv (", ", (char **) caps) : NULL;
}

static char *
describe_auth (const MsSmtpConfig *config,
               MsSmtp             *smtp)
{
  const char *mechanism = ms_smtp_get_auth_mechanism (smtp);

  return g_strdup_printf (_("Signed in as %s with %s"), config->user,
                          mechanism != NULL ? mechanism : _("the server’s method"));
}

static char *
describe_envelope (ProbeJob *job)
{
  return g_strdup_printf (_("From %s to %s"), job->config->from_address, job->to);
}

typedef struct
{
  ProbeJob    *job;
  int          last;   /* stage_rank() of the furthest stage seen */
} StageWatch;

/* Where a stage falls in the session. With SMTPS the handshake comes before
 * the greeting; with STARTTLS it comes after the first EHLO, which is the
 * order of MsSmtpStage. */
static int
stage_rank (MsSmtpStage  stage,
            gboolean     use_smtps)
{
  if (use_smtps && stage == MS_SMTP_STAGE_TLS)
    return 2 * MS_SMTP_STAGE_GREETING - 1;
  return 2 * (int) stage;
}

/* Session thread: show each stage as it starts. Everything before it passed. */
static void
on_smtp_stage (MsSmtp      *smtp,
               MsSmtpStage  stage,
               gpointer     user_data)
{
  StageWatch *watch = user_data;
  ProbeJob *job = watch->job;
  MsProbeStep step;

  if (stage_rank (stage, job->config->use_smtps) <= watch->last)
    return;
  watch->last = stage_rank (stage, job->config->use_smtps);

  /* Anything after CONNECT means libcurl's connection is up. */
  if (job->states[MS_PROBE_STEP_CONNECT] == MS_PROBE_STATE_RUNNING)
    {
      g_autofree char *connected = describe_connect (job->config);
      job_set_step (job, MS_PROBE_STEP_CONNECT, MS_PROBE_STATE_PASSED, connected);
    }

  if (stage == MS_SMTP_STAGE_TLS)
    {
      job_set_step (job, MS_PROBE_STEP_TLS, MS_PROBE_STATE_RUNNING, NULL);
      return;
    }
  if (stage == MS_SMTP_STAGE_DONE)
    return;

  step = step_for_stage (stage);
  /* STARTTLS comes after a first EHLO; when the session moves past TLS the
   * TLS step has passed. */
  if (step > MS_PROBE_STEP_TLS && job->states[MS_PROBE_STEP_TLS] == MS_PROBE_STATE_RUNNING)
    {
      g_autofree char *tls = describe_tls (job->config);
      job_set_step (job, MS_PROBE_STEP_TLS, MS_PROBE_STATE_PASSED, tls);
    }
  /* Settle each step with the same detail the final view will have, so a
   * front end that prints steps as they pass prints each once. */
  if (step > MS_PROBE_STEP_EHLO && job->states[MS_PROBE_STEP_EHLO] == MS_PROBE_STATE_RUNNING)
    {
      g_autofree char *ehlo = describe_capabilities (ms_smtp_get_capabilities (smtp));
      job_set_step (job, MS_PROBE_STEP_EHLO, MS_PROBE_STATE_PASSED, ehlo);
    }
  if (step > MS_PROBE_STEP_AUTH && job->states[MS_PROBE_STEP_AUTH] == MS_PROBE_STATE_RUNNING)
    {
      g_autofree char *auth = describe_auth (job->config, smtp);
      job_set_step (job, MS_PROBE_STEP_AUTH, MS_PROBE_STATE_PASSED, auth);
    }
  if (step > MS_PROBE_STEP_ENVELOPE && job->states[MS_PROBE_STEP_ENVELOPE] == MS_PROBE_STATE_RUNNING)
    {
      g_autofree char *envelope = describe_envelope (job);
      job_set_step (job, MS_PROBE_STEP_ENVELOPE, MS_PROBE_STATE_PASSED, envelope);
    }

  if (step >= MS_PROBE_STEP_EHLO && job->states[step] == MS_PROBE_STATE_PENDING)
    job_set_step (job, step, MS_PROBE_STATE_RUNNING, NULL);
}

static MsReplyContext
reply_context (const MsSmtpConfig *config)
{
  MsReplyContext context = {
    .server = config->server,
    .port = config->port,
    .use_smtps = config->use_smtps,
    .needs_auth = config->needs_auth,
  };

  return context;
}

static void
job_fail (ProbeJob           *job,
          MsProbeStep         step,
          MsTransportFailure  failure,
          const char         *detail)
{
  MsReplyContext context = reply_context (job->config);

  g_clear_pointer (&job->reply, ms_reply_free);
  job->reply = ms_reply_classify_transport (failure, detail, &context, g_get_real_time () / G_USEC_PER_SEC);
  job->failed_step = step;
  job_set_step (job, step, MS_PROBE_STATE_FAILED, job->reply->advice);
}

typedef struct
{
  GMainLoop    *loop;
  GCancellable *cancellable;
  GList        *addresses;
  GError       *error;
  gboolean      timed_out;
} ResolveWait;

static void
on_resolved (GObject      *object,
             GAsyncResult *result,
             gpointer      user_data)
{
  ResolveWait *wait = user_data;

  wait->addresses = g_resolver_lookup_by_name_finish (G_RESOLVER (object), result, &wait->error);
  g_main_loop_quit (wait->loop);
}

static gboolean
on_resolve_timeout (gpointer user_data)
{
  ResolveWait *wait = user_data;

  wait->timed_out = TRUE;
  g_cancellable_cancel (wait->cancellable);
  return G_SOURCE_REMOVE;
}

static void
on_resolve_cancelled (GCancellable *cancellable,
                      gpointer      user_data)
{
  g_cancellable_cancel (user_data);
}

/* A name server that does not answer would hold the system resolver for
 * its own retries (tens of seconds): the account's timeout bounds this step
 * like every other. Runs in the worker thread, on a context of its own. */
static GList *
lookup_with_timeout (const char    *host,
                     guint          timeout,
                     GCancellable  *cancellable,
                     gboolean      *timed_out,
                     GError       **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GResolver) resolver = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (context, FALSE);
  g_autoptr(GCancellable) inner = g_cancellable_new ();
  g_autoptr(GSource) timer = g_timeout_source_new_seconds (MAX (timeout, 1));
  ResolveWait wait = { loop, inner, NULL, NULL, FALSE };
  gulong handler = 0;

  g_main_context_push_thread_default (context);
  resolver = g_resolver_get_default ();
  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (on_resolve_cancelled), inner, NULL);
  g_source_set_callback (timer, on_resolve_timeout, &wait, NULL);
  g_source_attach (timer, context);
  g_resolver_lookup_by_name_async (resolver, host, inner, on_resolved, &wait);
  g_main_loop_run (loop);
  g_source_destroy (timer);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, handler);
  g_main_context_pop_thread_default (context);

  *timed_out = wait.timed_out && !g_cancellable_is_cancelled (cancellable);
  if (wait.addresses != NULL)
    return wait.addresses;

  /* The inner cancellable says CANCELLED for a timeout too: tell them apart. */
  if (*timed_out)
    {
      g_clear_error (&wait.error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "no answer from the name server within %u s", MAX (timeout, 1));
    }
  else
    g_propagate_error (error, wait.error);
  return NULL;
}

static gboolean
run_resolve (ProbeJob      *job,
             GCancellable  *cancellable,
             GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GString) detail = g_string_new (NULL);
  GList *addresses;
  const char *host = job->config->server;
  gboolean timed_out = FALSE;
  guint n = 0;

  job_set_step (job, MS_PROBE_STEP_RESOLVE, MS_PROBE_STATE_RUNNING, NULL);

  if (g_hostname_is_ip_address (host))
    {
      g_string_append_printf (detail, _("%s is an IP address"), host);
      job_set_step (job, MS_PROBE_STEP_RESOLVE, MS_PROBE_STATE_PASSED, detail->str);
      return TRUE;
    }

  addresses = lookup_with_timeout (host, job->config->timeout, cancellable, &timed_out, &local_error);
  if (addresses == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local_error));
          return FALSE;
        }
      g_debug ("Resolving %s failed: %s", host, local_error->message);
      job_fail (job, MS_PROBE_STEP_RESOLVE, MS_TRANSPORT_RESOLVE, local_error->message);
      g_set_error (error, MS_ERROR, MS_ERROR_RESOLVE, "%s", job->reply->advice);
      return FALSE;
    }

  g_string_append_printf (detail, "%s →", host);
  for (GList *l = addresses; l != NULL && n < 4; l = l->next, n++)
    {
      g_autofree char *text = g_inet_address_to_string (l->data);
      g_string_append_printf (detail, "%s %s", n > 0 ? "," : "", text);
    }
  g_resolver_free_addresses (addresses);
  job_set_step (job, MS_PROBE_STEP_RESOLVE, MS_PROBE_STATE_PASSED, detail->str);
  return TRUE;
}

static GBytes *
build_test_message (ProbeJob  *job,
                    GError   **error)
{
  g_autoptr(GDateTime) now = g_date_time_new_now_local ();
  g_autofree char *when = g_date_time_format (now, "%c");
  /* Not %c in the subject: GLib pads a one-digit day (%e) with U+2007
   * FIGURE SPACE, which makes the whole subject arrive RFC 2047-encoded
   * ("=?UTF-8?…") for one invisible character. ISO 8601 has no padding
   * and reads the same in every language. */
  g_autofree char *stamp = g_date_time_format (now, "%Y-%m-%d %H:%M");
  g_autofree char *subject = NULL;
  g_autofree char *text = NULL;
  const char *host = g_get_host_name ();

  /* Says what it is, when and from where, so whoever receives it knows. */
  subject = g_strdup_printf (_("Mailshot test message (%s)"), stamp);
  /* Plain "\n" for the translators: ms_message_build_simple() puts the lines
   * in CRLF on the wire. */
  text = g_strdup_printf (_("This is a test message sent by Mailshot to check the SMTP settings of %s.\n"
                            "\n"
                            "Sent: %s\n"
                            "From the computer: %s\n"
                            "Through the server: %s, port %d (%s)\n"
                            "\n"
                            "If you received it, the account can send mail. You can delete this message.\n"),
                          job->config->from_address, when, host,
                          job->config->server, job->config->port,
                          job->config->use_smtps ? _("SMTPS") : _("STARTTLS when offered"));

  return ms_message_build_simple (job->config->from_address, job->config->from_name,
                                  job->to, subject, text, NULL, error);
}

static void
run_session (ProbeJob     *job,
             GCancellable *cancellable,
             GError      **error)
{
  g_autoptr(MsSmtp) smtp = ms_smtp_new (job->config);
  g_autoptr(GBytes) message = NULL;
  g_autoptr(GError) local_error = NULL;
  const char * const *caps;
  StageWatch watch = { job, 2 * MS_SMTP_STAGE_CONNECT };
  MsSmtpStage stage;
  gboolean ok;

  message = build_test_message (job, &local_error);
  if (message == NULL)
    {
      job->failed_step = MS_PROBE_STEP_DATA;
      job_set_step (job, MS_PROBE_STEP_DATA, MS_PROBE_STATE_FAILED, local_error->message);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return;
    }

  /* The session's own connection is the step: it passes once libcurl
   * reports it up (on_smtp_stage). */
  job_set_step (job, MS_PROBE_STEP_CONNECT, MS_PROBE_STATE_RUNNING, NULL);

  ms_smtp_set_record_transcript (smtp, TRUE);
  /* A test sends once: its advice must not promise a retry. */
  ms_smtp_set_retried (smtp, FALSE);
  ms_smtp_set_stage_func (smtp, on_smtp_stage, &watch);
  ok = ms_smtp_send (smtp, job->config->from_address, job->to, message, cancellable, &local_error);
  ms_smtp_set_stage_func (smtp, NULL, NULL);

  job->transcript = g_object_ref (ms_smtp_get_transcript (smtp));
  caps = ms_smtp_get_capabilities (smtp);
  job->capabilities = caps != NULL ? g_strdupv ((char **) caps) : NULL;
  job->starttls_offered = ms_smtp_get_starttls_offered (smtp);
  job->peer_fingerprint = g_strdup (ms_smtp_get_peer_fingerprint (smtp));
  stage = ms_smtp_get_stage (smtp);

  if (!ok && g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return;
    }

  /* Settle every step from what the session really reached. */
  if (ok)
    {
      g_autofree char *ehlo = describe_capabilities ((const char * const *) job->capabilities);
      g_autofree char *connected = describe_connect (job->config);

      job_set_step (job, MS_PROBE_STEP_CONNECT, MS_PROBE_STATE_PASSED, connected);
      if (ms_smtp_get_tls_active (smtp))
        {
          g_autofree char *tls = describe_tls (job->config);
          job_set_step (job, MS_PROBE_STEP_TLS, MS_PROBE_STATE_PASSED, tls);
        }
      else
        job_set_step (job, MS_PROBE_STEP_TLS, MS_PROBE_STATE_SKIPPED,
                      _("The server does not offer STARTTLS: the connection is not encrypted"));

      job_set_step (job, MS_PROBE_STEP_EHLO, MS_PROBE_STATE_PASSED, ehlo);

      if (job->config->needs_auth)
        {
          g_autofree char *auth = describe_auth (job->config, smtp);
          job_set_step (job, MS_PROBE_STEP_AUTH, MS_PROBE_STATE_PASSED, auth);
        }
      else
        job_set_step (job, MS_PROBE_STEP_AUTH, MS_PROBE_STATE_SKIPPED,
                      _("Not needed: the account does not use authentication"));

      {
        g_autofree char *envelope = describe_envelope (job);
        job_set_step (job, MS_PROBE_STEP_ENVELOPE, MS_PROBE_STATE_PASSED, envelope);
      }
      job_set_step (job, MS_PROBE_STEP_DATA, MS_PROBE_STATE_PASSED, _("The server accepted the message"));
      return;
    }

  {
    const MsReply *reply = ms_smtp_get_reply (smtp);
    MsProbeStep failed;

    job->reply = reply != NULL ? ms_reply_copy (reply) : NULL;
    failed = step_for_failure (job->reply, stage);

    /* Steps before the failure passed (or were not needed). */
    for (MsProbeStep s = MS_PROBE_STEP_CONNECT; s < failed; s++)
      {
        if (job->states[s] == MS_PROBE_STATE_PASSED)
          continue;
        if (s == MS_PROBE_STEP_CONNECT)
          {
            g_autofree char *connected = describe_connect (job->config);
            job_set_step (job, s, MS_PROBE_STATE_PASSED, connected);
          }
        else if (s == MS_PROBE_STEP_TLS)
          {
            if (ms_smtp_get_tls_active (smtp))
              {
                g_autofree char *tls = describe_tls (job->config);
                job_set_step (job, s, MS_PROBE_STATE_PASSED, tls);
              }
            else if (job->capabilities != NULL)
              job_set_step (job, s, MS_PROBE_STATE_SKIPPED,
                            _("The server does not offer STARTTLS: the connection is not encrypted"));
            /* Otherwise no EHLO answer came back: whether STARTTLS is
             * offered is unknown, so the step was never reached. */
          }
        else if (s == MS_PROBE_STEP_AUTH && !job->config->needs_auth)
          job_set_step (job, s, MS_PROBE_STATE_SKIPPED, _("Not needed: the account does not use authentication"));
        else if (s == MS_PROBE_STEP_EHLO)
          {
            g_autofree char *ehlo = describe_capabilities ((const char * const *) job->capabilities);
            job_set_step (job, s, MS_PROBE_STATE_PASSED, ehlo);
          }
        else if (s == MS_PROBE_STEP_AUTH)
          {
            g_autofree char *auth = describe_auth (job->config, smtp);
            job_set_step (job, s, MS_PROBE_STATE_PASSED, auth);
          }
        else if (s == MS_PROBE_STEP_ENVELOPE)
          {
            g_autofree char *envelope = describe_envelope (job);
            job_set_step (job, s, MS_PROBE_STATE_PASSED, envelope);
          }
        else
          job_set_step (job, s, MS_PROBE_STATE_PASSED, NULL);
      }
    /* Steps after it never ran. */
    for (MsProbeStep s = failed + 1; s < MS_PROBE_N_STEPS; s++)
      if (job->states[s] == MS_PROBE_STATE_RUNNING)
        job_set_step (job, s, MS_PROBE_STATE_PENDING, NULL);

    job->failed_step = failed;
    job_set_step (job, failed, MS_PROBE_STATE_FAILED,
                  job->reply != NULL ? job->reply->advice : local_error->message);
    g_propagate_error (error, g_steal_pointer (&local_error));
  }
}

static void
probe_thread (GTask        *task,
              gpointer      source_object,
              gpointer      task_data,
              GCancellable *cancellable)
{
  ProbeJob *job = task_data;
  g_autoptr(GError) error = NULL;

  g_debug ("Probe: %s port %d, %s, authentication %s (method %d), EHLO name %s",
           job->config->server, job->config->port,
           job->config->use_smtps ? "SMTPS" : "STARTTLS when offered",
           job->config->needs_auth ? "on" : "off", job->config->auth_method,
           job->config->ehlo_host != NULL && *job->config->ehlo_host != '\0' ? job->config->ehlo_host : "(default)");

  if (run_resolve (job, cancellable, &error))
    run_session (job, cancellable, &error);

  if (error != NULL)
    {
      g_debug ("Probe failed at %s: %s", ms_probe_step_get_nick (MIN (job->failed_step, MS_PROBE_STEP_DATA)),
               error->message);
      g_task_return_error (task, g_steal_pointer (&error));
    }
  else
    {
      g_debug ("Probe passed every step");
      g_task_return_boolean (task, TRUE);
    }
}

static void
ms_probe_finalize (GObject *object)
{
  MsProbe *self = MS_PROBE (object);

  g_clear_pointer (&self->config, ms_smtp_config_free);
  g_clear_pointer (&self->to, g_free);
  for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
    g_clear_pointer (&self->details[i], g_free);
  g_clear_pointer (&self->reply, ms_reply_free);
  g_clear_pointer (&self->capabilities, g_strfreev);
  g_clear_pointer (&self->peer_fingerprint, g_free);

  G_OBJECT_CLASS (ms_probe_parent_class)->finalize (object);
}

static void
ms_probe_dispose (GObject *object)
{
  MsProbe *self = MS_PROBE (object);

  g_clear_object (&self->transcript);

  G_OBJECT_CLASS (ms_probe_parent_class)->dispose (object);
}

static void
ms_probe_class_init (MsProbeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ms_probe_dispose;
  object_class->finalize = ms_probe_finalize;

  /**
   * MsProbe::step-changed:
   * @step: the #MsProbeStep
   * @state: its new #MsProbeState
   * @detail: (nullable): what was found, or the advice when it failed
   *
   * Emitted in the caller's main context as each step happens.
   */
  signals[STEP_CHANGED] =
    g_signal_new ("step-changed",
                  G_TYPE_FROM_CLASS (klass),
                  G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL,
                  G_TYPE_NONE, 3,
                  MS_TYPE_PROBE_STEP, MS_TYPE_PROBE_STATE, G_TYPE_STRING);
}

static void
ms_probe_init (MsProbe *self)
{
  self->failed_step = MS_PROBE_N_STEPS;
  self->transcript = ms_transcript_new ();
}

/**
 * ms_probe_new:
 * @config: the account snapshot (copied, password included)
 * @to: (nullable): the recipient; %NULL sends to the account's own address
 *
 * Returns: (transfer full): a new probe, ready to run once.
 */
MsProbe *
ms_probe_new (const MsSmtpConfig *config,
              const char         *to)
{
  MsProbe *self;

  g_return_val_if_fail (config != NULL, NULL);

  self = g_object_new (MS_TYPE_PROBE, NULL);
  self->config = ms_smtp_config_copy (config);
  self->to = g_strdup (to != NULL && *to != '\0' ? to : config->from_address);
  return self;
}

/**
 * ms_probe_run_async:
 *
 * Runs the steps in a worker thread. ::step-changed is emitted in the
 * thread-default main context of the caller as each step happens.
 */
void
ms_probe_run_async (MsProbe             *self,
                    GCancellable        *cancellable,
                    GAsyncReadyCallback  callback,
                    gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  ProbeJob *job;

  g_return_if_fail (MS_IS_PROBE (self));
  g_return_if_fail (!cancellable || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_probe_run_async);

  if (self->running)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_PENDING, _("The test is already running."));
      return;
    }

  if (self->config->server == NULL || *self->config->server == '\0' ||
      self->config->from_address == NULL || *self->config->from_address == '\0')
    {
      g_task_return_new_error (task, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                               _("The account has no SMTP server or e-mail address yet: fill them in first."));
      return;
    }
  if (self->to == NULL || *self->to == '\0')
    {
      g_task_return_new_error (task, MS_ERROR, MS_ERROR_INVALID_VALUE,
                               _("There is no recipient for the test message: give one."));
      return;
    }

  self->running = TRUE;
  self->failed_step = MS_PROBE_N_STEPS;
  g_clear_pointer (&self->reply, ms_reply_free);

  job = g_new0 (ProbeJob, 1);
  job->config = ms_smtp_config_copy (self->config);
  job->to = g_strdup (self->to);
  job->context = g_main_context_ref_thread_default ();
  job->probe = g_object_ref (self);
  job->failed_step = MS_PROBE_N_STEPS;
  g_task_set_task_data (task, job, (GDestroyNotify) probe_job_free);
  g_task_run_in_thread (task, probe_thread);
}

/**
 * ms_probe_run_finish:
 *
 * Returns: %TRUE when the test message was accepted. On failure the step,
 *   reply and transcript are available from the getters.
 */
gboolean
ms_probe_run_finish (MsProbe       *self,
                     GAsyncResult  *result,
                     GError       **error)
{
  GTask *task = G_TASK (result);
  ProbeJob *job;

  g_return_val_if_fail (MS_IS_PROBE (self), FALSE);
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (task) == ms_probe_run_async, FALSE);

  job = g_task_get_task_data (task);
  if (job != NULL)
    {
      self->running = FALSE;
      /* Events may still be queued behind the result: settle the final view now. */
      for (guint i = 0; i < MS_PROBE_N_STEPS; i++)
        ms_probe_apply (self, i, job->states[i], job->details[i]);
      self->failed_step = job->failed_step;
      g_clear_pointer (&self->reply, ms_reply_free);
      self->reply = g_steal_pointer (&job->reply);
      if (job->transcript != NULL)
        g_set_object (&self->transcript, job->transcript);
      g_clear_pointer (&self->capabilities, g_strfreev);
      self->capabilities = g_steal_pointer (&job->capabilities);
      self->starttls_offered = job->starttls_offered;
      g_free (self->peer_fingerprint);
      self->peer_fingerprint = g_steal_pointer (&job->peer_fingerprint);
    }

  return g_task_propagate_boolean (task, error);
}

MsProbeState
ms_probe_get_state (MsProbe     *self,
                    MsProbeStep  step)
{
  g_return_val_if_fail (MS_IS_PROBE (self), MS_PROBE_STATE_PENDING);
  g_return_val_if_fail (step < MS_PROBE_N_STEPS, MS_PROBE_STATE_PENDING);
  return self->states[step];
}

const char *
ms_probe_get_detail (MsProbe     *self,
                     MsProbeStep  step)
{
  g_return_val_if_fail (MS_IS_PROBE (self), NULL);
  g_return_val_if_fail (step < MS_PROBE_N_STEPS, NULL);
  return self->details[step];
}

MsProbeStep
ms_probe_get_failed_step (MsProbe *self)
{
  g_return_val_if_fail (MS_IS_PROBE (self), MS_PROBE_N_STEPS);
  return self->failed_step;
}

const MsReply *
ms_probe_get_reply (MsProbe *self)
{
  g_return_val_if_fail (MS_IS_PROBE (self), NULL);
  return self->reply;
}

MsTranscript *
ms_probe_get_transcript (MsProbe *self)
{
  g_return_val_if_fail (MS_IS_PROBE (self), NULL);
  return self->transcript;
}

const char * const *
ms_probe_get_capabilities (MsProbe *self)
{
  g_return_val_if_fail (MS_IS_PROBE (self), NULL);
  return (const char * const *) self->capabilities;
}

gboolean
ms_probe_get_starttls_offered (MsProbe *self)
{
  g_return_val_if_fail (MS_IS_PROBE (self), FALSE);
  return self->starttls_offered;
}

/**
 * ms_probe_get_peer_fingerprint:
 *
 * Returns: (nullable): the SHA-256 fingerprint ("AB:CD:…") of the certificate
 *   the server presented, also when the TLS step failed because it was not
 *   trusted: what the user compares before trusting it (trusted-certificate)
 */
const char *
ms_probe_get_peer_fingerprint (MsProbe *self)
{
  g_return_val_if_fail (MS_IS_PROBE (self), NULL);
  return self->peer_fingerprint;
}

/* ------------------------------------------------------------------ */
/* How a failed test is told, the same in every front end             */

/**
 * ms_probe_get_failure:
 * @error: (nullable): what ms_probe_run_finish() set; its message is the
 *   advice when the reply has none
 *
 * Phrases a failed run: the step, what the server said (or, when it said
 * nothing, why), and what to change.
 *
 * Returns: (transfer full): the wording; free with ms_probe_failure_free()
 */
MsProbeFailure *
ms_probe_get_failure (MsProbe      *self,
                      const GError *error)
{
  MsProbeFailure *failure;
  const MsReply *reply;

  g_return_val_if_fail (MS_IS_PROBE (self), NULL);

  failure = g_new0 (MsProbeFailure, 1);
  failure->step = self->failed_step;
  if (self->failed_step < MS_PROBE_N_STEPS)
    failure->step_label = ms_probe_step_get_label (self->failed_step);

  reply = self->reply;
  if (reply != NULL && reply->code > 0)
    {
      g_autoptr(GString) s = g_string_new (NULL);

      g_string_append_printf (s, "%d ", reply->code);
      if (reply->enhanced != NULL)
        g_string_append_printf (s, "%s ", reply->enhanced);
      if (reply->text != NULL)
        g_string_append (s, reply->text);
      g_strstrip (s->str);
      /* Translators: %s is what the server answered, e.g. "535 5.7.8 Authentication credentials invalid". */
      failure->reply = g_strdup_printf (_("Server reply: %s"), s->str);
    }
  else if (reply != NULL && (reply->transport == MS_TRANSPORT_NO_GREETING ||
                             reply->transport == MS_TRANSPORT_RESPONSE_TIMEOUT ||
                             reply->transport == MS_TRANSPORT_CONNECT_TIMEOUT))
    {
      int timeout = self->config->timeout;

      failure->detail = g_strdup_printf (g_dngettext (GETTEXT_PACKAGE,
                                                      "No answer from the server within %d second",
                                                      "No answer from the server within %d seconds", timeout),
                                         timeout);
    }
  else if (reply != NULL && reply->text != NULL && *reply->text != '\0')
    failure->detail = g_strdup (reply->text);

  if (reply != NULL && reply->advice != NULL)
    failure->advice = g_strdup (reply->advice);
  else if (error != NULL)
    failure->advice = g_strdup (error->message);
  return failure;
}

void
ms_probe_failure_free (MsProbeFailure *failure)
{
  if (failure == NULL)
    return;
  g_free (failure->reply);
  g_free (failure->detail);
  g_free (failure->advice);
  g_free (failure);
}

/* ------------------------------------------------------------------ */
/* Where the user help explains a failure                             */

/**
 * ms_probe_step_get_help_page:
 * @step: the failed step; %MS_PROBE_N_STEPS when the test stopped before
 *   its first step (no server, no password, the keyring)
 * @klass: the class of the failure; %MS_REPLY_CLASS_NONE when unknown
 *
 * The page of the user help (`help:mailshot/PAGE`, from help/C/PAGE.page)
 * that says what a failure at @step means and what to do about it. The ids
 * are stable: the help pages keep them, and a data test checks that each one
 * this returns exists.
 *
 * Returns: a Mallard page id, e.g. "test-auth"
 */
const char *
ms_probe_step_get_help_page (MsProbeStep  step,
                             MsReplyClass klass)
{
  static const char * const pages[] = {
    "test-resolve", "test-connect", "test-tls", "test-ehlo", "test-auth", "test-envelope", "test-data",
  };

  G_STATIC_ASSERT (G_N_ELEMENTS (pages) == MS_PROBE_N_STEPS);

  /* A rate limit is no setting to fix at the step where it came: the page on
   * the providers' limits says how it is waited out and how to stay under it. */
  if (klass == MS_REPLY_CLASS_RATE_LIMITED)
    return "blast-limits";
  if (step < MS_PROBE_N_STEPS)
    return pages[step];
  /* Refused before anything was sent: the account is not complete. */
  return "account-setup";
}
