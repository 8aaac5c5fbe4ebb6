/* ms-smtp-codec.c: the SMTP mail transaction as a codec that does no I/O
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "ms-error.h"
#include "ms-smtp-codec.h"

/* What is kept of one reply's text: ms-reply keeps about 1 KB of it. */
#define MAX_TEXT 8192

typedef enum {
  CMD_MAIL,
  CMD_RCPT,
  CMD_DATA,
  CMD_END,          /* the message and its final "." */
  CMD_BDAT,         /* "BDAT n LAST" and the message */
  CMD_EMPTY_END,    /* a "." after a 354 the failed transaction did not want */
  CMD_RSET,
  CMD_QUIT,
} Cmd;

typedef enum {
  STEP_MAIL,
  STEP_RCPT,
  STEP_DATA,        /* DATA, or BDAT with the message */
  STEP_BODY,        /* after the 354 */
} Step;

typedef struct {
  guint64        id;
  guint          seq;          /* order of submission */
  char          *from;
  char          *to;
  GBytes        *message;
  gboolean       utf8;         /* MAIL … SMTPUTF8 */
  Step           step;         /* the next one to send (one command at a time) */
  guint          pending;      /* replies awaited */
  gboolean       mail_ok;
  gboolean       failed;       /* refused: the outcome has its code */
  gboolean       ended;        /* the server closed the transaction (answered the end) */
  gboolean       tainted;      /* sent behind a failed transaction, before its RSET */
  gboolean       requeue;      /* refused only because of that: sent again after the RSET */
  gboolean       has_end;
  guint64        end_offset;   /* in the output stream, just past the end */
  gboolean       end_announced;
  gboolean       stopped;      /* the connection ended: its stage is where */
  MsSmtpOutcome *outcome;
} Msg;

typedef struct {
  Cmd  cmd;
  Msg *msg;                    /* NULL for RSET and QUIT */
} Pending;

struct _MsSmtpCodec
{
  gboolean            pipelining;
  gboolean            chunking;
  gboolean            smtputf8;
  gboolean            has_size;
  guint64             max_size;    /* 0: no limit given */
  guint               window;
  guint               seq;

  GQueue              queued;      /* Msg*, not sent yet, by seq */
  GQueue              flight;      /* Msg*, sent and not finished, in sending order */
  GQueue              pending;     /* Pending*, in sending order */
  GQueue              done;        /* MsSmtpOutcome* */
  Msg                *awaiting_354;
  gboolean            need_rset;
  gboolean            hold_on_failure;
  gboolean            held;        /* a message failed: no new transaction until resumed */

  GByteArray         *out;
  guint64             out_base;    /* stream offset of out->data[0]: bytes written so far */

  gboolean            closed;
  MsTransportFailure  failure;
  gboolean            quit_sent;
  gboolean            quit_answered;

  /* The reply being read. */
  GByteArray         *line;
  gsize               reply_bytes;
  guint               reply_lines;
  int                 reply_code;
  GString            *reply_text;
};

static void
msg_free (Msg *m)
{
  g_free (m->from);
  g_free (m->to);
  g_bytes_unref (m->message);
  ms_smtp_outcome_free (m->outcome);
  g_free (m);
}

static gboolean
has_cap (const char * const *caps,
         const char         *keyword,
         const char        **arg)
{
  gsize klen = strlen (keyword);

  for (guint i = 0; caps != NULL && caps[i] != NULL; i++)
    if (g_ascii_strncasecmp (caps[i], keyword, klen) == 0 &&
        (caps[i][klen] == '\0' || caps[i][klen] == ' '))
      {
        if (arg != NULL)
          *arg = caps[i][klen] == ' ' ? caps[i] + klen + 1 : NULL;
        return TRUE;
      }
  return FALSE;
}

/**
 * ms_smtp_codec_new:
 * @capabilities: (nullable) (array zero-terminated=1): the EHLO keywords of
 *   the connection ("PIPELINING", "SIZE 10240000", …)
 *
 * Returns: (transfer full): a codec for the connection, with a window of one
 *   message
 */
MsSmtpCodec *
ms_smtp_codec_new (const char * const *capabilities)
{
  MsSmtpCodec *self = g_new0 (MsSmtpCodec, 1);
  const char *size = NULL;

  self->pipelining = has_cap (capabilities, "PIPELINING", NULL);
  self->chunking = has_cap (capabilities, "CHUNKING", NULL);
  self->smtputf8 = has_cap (capabilities, "SMTPUTF8", NULL);
  self->has_size = has_cap (capabilities, "SIZE", &size);
  if (size != NULL)
    self->max_size = g_ascii_strtoull (size, NULL, 10);
  self->window = 1;
  g_queue_init (&self->queued);
  g_queue_init (&self->flight);
  g_queue_init (&self->pending);
  g_queue_init (&self->done);
  self->out = g_byte_array_sized_new (8192);
  self->line = g_byte_array_sized_new (512);
  self->reply_text = g_string_sized_new (256);
  return self;
}

void
ms_smtp_codec_free (MsSmtpCodec *self)
{
  if (self == NULL)
    return;
  g_queue_clear_full (&self->queued, (GDestroyNotify) msg_free);
  g_queue_clear_full (&self->flight, (GDestroyNotify) msg_free);
  g_queue_clear_full (&self->pending, g_free);
  g_queue_clear_full (&self->done, (GDestroyNotify) ms_smtp_outcome_free);
  g_byte_array_unref (self->out);
  g_byte_array_unref (self->line);
  g_string_free (self->reply_text, TRUE);
  g_free (self);
}

/**
 * ms_smtp_codec_set_window:
 * @window: how many messages may be in flight at once (at least 1)
 *
 * Without PIPELINING the window is one message, whatever is asked. With
 * PIPELINING and DATA, two is all it takes for one round trip per message
 * (the end of one, the next one's commands); with CHUNKING, each more is one
 * more message per round trip.
 */
void
ms_smtp_codec_set_window (MsSmtpCodec *self,
                          guint        window)
{
  g_return_if_fail (self != NULL);

  self->window = MAX (window, 1);
}

guint
ms_smtp_codec_get_window (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, 1);

  return self->pipelining ? self->window : 1;
}

gboolean
ms_smtp_codec_get_pipelining (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->pipelining;
}

gboolean
ms_smtp_codec_get_chunking (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->chunking;
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                 */

static gboolean
is_ascii (const char *s)
{
  for (; *s != '\0'; s++)
    if ((guchar) *s >= 0x80)
      return FALSE;
  return TRUE;
}

static void
append_str (GByteArray *out,
            const char *s)
{
  g_byte_array_append (out, (const guint8 *) s, strlen (s));
}

/* The address as it goes into MAIL/RCPT: an international domain in its
 * ASCII form unless the server takes UTF-8. */
static void
append_address (GByteArray *out,
                const char *address,
                gboolean    utf8)
{
  const char *at = strrchr (address, '@');
  g_autofree char *ace = NULL;

  if (!utf8 && at != NULL && !is_ascii (at + 1))
    ace = g_hostname_to_ascii (at + 1);
  append_str (out, "<");
  if (ace != NULL)
    {
      g_byte_array_append (out, (const guint8 *) address, at + 1 - address);
      append_str (out, ace);
    }
  else
    append_str (out, address);
  append_str (out, ">");
}

static void
expect (MsSmtpCodec *self,
        Cmd          cmd,
        Msg         *m)
{
  Pending *p = g_new0 (Pending, 1);

  p->cmd = cmd;
  p->msg = m;
  g_queue_push_tail (&self->pending, p);
  if (m != NULL)
    m->pending++;
}

static void
emit_mail (MsSmtpCodec *self,
           Msg         *m)
{
  append_str (self->out, "MAIL FROM:");
  append_address (self->out, m->from, m->utf8);
  if (self->has_size)
    {
      char num[32];

      g_snprintf (num, sizeof num, " SIZE=%" G_GSIZE_FORMAT, g_bytes_get_size (m->message));
      append_str (self->out, num);
    }
  if (m->utf8)
    append_str (self->out, " SMTPUTF8");
  append_str (self->out, "\r\n");
  expect (self, CMD_MAIL, m);
  m->outcome->stage = MS_REPLY_TO_MAIL;
  m->step = STEP_RCPT;
}

static void
emit_rcpt (MsSmtpCodec *self,
           Msg         *m)
{
  append_str (self->out, "RCPT TO:");
  append_address (self->out, m->to, m->utf8);
  append_str (self->out, "\r\n");
  expect (self, CMD_RCPT, m);
  m->outcome->stage = MS_REPLY_TO_RCPT;
  m->step = STEP_DATA;
}

static void
mark_end (MsSmtpCodec *self,
          Msg         *m)
{
  m->has_end = TRUE;
  m->end_announced = FALSE;
  m->end_offset = self->out_base + self->out->len;
  m->outcome->stage = MS_REPLY_TO_END_OF_DATA;
  m->step = STEP_BODY + 1;
}

/* The message dot-stuffed, and its final ".", in one piece. */
static void
emit_body (MsSmtpCodec *self,
           Msg         *m)
{
  gsize size;
  const char *data = g_bytes_get_data (m->message, &size);
  const char *p = data;
  const char *end = data + size;

  if (size > 0 && data[0] == '.')
    append_str (self->out, ".");
  while (p < end)
    {
      const char *nl = memchr (p, '\n', end - p);

      if (nl == NULL)
        {
          g_byte_array_append (self->out, (const guint8 *) p, end - p);
          break;
        }
      g_byte_array_append (self->out, (const guint8 *) p, nl + 1 - p);
      p = nl + 1;
      if (p < end && *p == '.')
        append_str (self->out, ".");
    }
  if (size >= 2 && data[size - 2] == '\r' && data[size - 1] == '\n')
    append_str (self->out, ".\r\n");
  else
    append_str (self->out, "\r\n.\r\n");
  mark_end (self, m);
  expect (self, CMD_END, m);
}

static void
emit_data (MsSmtpCodec *self,
           Msg         *m)
{
  if (self->chunking)
    {
      gsize size;
      const char *data = g_bytes_get_data (m->message, &size);
      gboolean crlf = size >= 2 && data[size - 2] == '\r' && data[size - 1] == '\n';
      char cmd[64];

      /* No dot-stuffing: the size says where the message ends. It still
       * ends with a line break, as every message must. */
      g_snprintf (cmd, sizeof cmd, "BDAT %" G_GSIZE_FORMAT " LAST\r\n", size + (crlf ? 0 : 2));
      append_str (self->out, cmd);
      g_byte_array_append (self->out, (const guint8 *) data, size);
      if (!crlf)
        append_str (self->out, "\r\n");
      mark_end (self, m);
      expect (self, CMD_BDAT, m);
      return;
    }
  append_str (self->out, "DATA\r\n");
  expect (self, CMD_DATA, m);
  m->outcome->stage = MS_REPLY_TO_DATA;
  m->step = STEP_BODY;
  self->awaiting_354 = m;
}

static void
emit_rset (MsSmtpCodec *self)
{
  append_str (self->out, "RSET\r\n");
  expect (self, CMD_RSET, NULL);
  self->need_rset = FALSE;
}

/* Puts out what may go now. */
static void
fill (MsSmtpCodec *self)
{
  if (self->closed || self->quit_sent)
    return;

  if (!self->pipelining)
    {
      Msg *m;

      /* One command, one reply. */
      if (self->pending.length > 0)
        return;
      m = g_queue_peek_head (&self->flight);
      if (m != NULL)
        {
          switch (m->step)
            {
            case STEP_MAIL: emit_mail (self, m); break;
            case STEP_RCPT: emit_rcpt (self, m); break;
            case STEP_DATA: emit_data (self, m); break;
            case STEP_BODY:
            default:        break;   /* the body goes out on the 354 */
            }
          return;
        }
      if (self->need_rset)
        {
          emit_rset (self);
          return;
        }
      if (self->held)
        return;
      m = g_queue_pop_head (&self->queued);
      if (m == NULL)
        return;
      g_queue_push_tail (&self->flight, m);
      emit_mail (self, m);
      return;
    }

  while (TRUE)
    {
      Msg *m;

      /* After DATA the server reads the message: nothing else may follow
       * until its 354 (RFC 2920 §3.1). */
      if (self->awaiting_354 != NULL)
        return;
      /* A failed transaction is reset before the next one starts. Between
       * two whole transactions an RSET disturbs nothing. */
      if (self->need_rset)
        emit_rset (self);
      if (self->held || self->flight.length >= self->window)
        return;
      m = g_queue_pop_head (&self->queued);
      if (m == NULL)
        return;
      g_queue_push_tail (&self->flight, m);
      emit_mail (self, m);
      emit_rcpt (self, m);
      emit_data (self, m);
    }
}

/**
 * ms_smtp_codec_submit:
 * @id: the caller's id for the message, in its #MsSmtpOutcome
 * @from: the envelope sender (bare address)
 * @to: the one recipient (bare address)
 * @message: the whole message, CRLF line endings (dot-stuffed here)
 *
 * Queues one message. It goes out when the window has room.
 *
 * Returns: %FALSE, with @error, when this server cannot take it (too big
 *   for its SIZE, or an address that needs SMTPUTF8); nothing is queued
 */
gboolean
ms_smtp_codec_submit (MsSmtpCodec *self,
                      guint64      id,
                      const char  *from,
                      const char  *to,
                      GBytes      *message,
                      GError     **error)
{
  gsize size;
  Msg *m;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (from != NULL && to != NULL && message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < 2; i++)
    {
      const char *address = i == 0 ? from : to;
      const char *at = strrchr (address, '@');

      if (strpbrk (address, "\r\n<>") != NULL || !g_utf8_validate (address, -1, NULL))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                       _("“%s” cannot be used as an e-mail address."), address);
          return FALSE;
        }
      /* A domain has an ASCII form; a mailbox name does not. */
      if (!self->smtputf8 && !is_ascii (address))
        {
          gboolean local_ascii = at != NULL;

          for (const char *c = address; at != NULL && c < at; c++)
            if ((guchar) *c >= 0x80)
              local_ascii = FALSE;
          if (!local_ascii)
            {
              g_set_error (error, MS_ERROR, i == 0 ? MS_ERROR_SENDER : MS_ERROR_RECIPIENT,
                           _("The server cannot take the address “%s”: it does not offer SMTPUTF8, "
                             "which an address with non-ASCII characters before the @ needs."), address);
              return FALSE;
            }
        }
    }
  size = g_bytes_get_size (message);
  if (size == 0)
    {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_INVALID_INPUT, _("The message is empty."));
      return FALSE;
    }
  if (self->max_size > 0 && size > self->max_size)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The message is %lu bytes, and the server takes at most %lu: make it smaller "
                     "(fewer or smaller attachments)."), (gulong) size, (gulong) self->max_size);
      return FALSE;
    }

  m = g_new0 (Msg, 1);
  m->id = id;
  m->seq = self->seq++;
  m->from = g_strdup (from);
  m->to = g_strdup (to);
  m->message = g_bytes_ref (message);
  m->utf8 = self->smtputf8 && (!is_ascii (from) || !is_ascii (to));
  m->outcome = ms_smtp_outcome_new (id);
  g_queue_push_tail (&self->queued, m);
  if (self->closed)
    {
      /* Nothing can go on this connection: the outcome says so at once. */
      g_queue_remove (&self->queued, m);
      m->outcome->transport = self->failure != MS_TRANSPORT_NONE ? self->failure : MS_TRANSPORT_CONNECTION_LOST;
      g_queue_push_tail (&self->done, g_steal_pointer (&m->outcome));
      msg_free (m);
      return TRUE;
    }
  fill (self);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                   */

const guint8 *
ms_smtp_codec_get_output (MsSmtpCodec *self,
                          gsize       *len)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (len != NULL, NULL);

  *len = self->out->len;
  return self->out->len > 0 ? self->out->data : NULL;
}

void
ms_smtp_codec_output_written (MsSmtpCodec *self,
                              gsize        n)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (n <= self->out->len);

  g_byte_array_remove_range (self->out, 0, n);
  self->out_base += n;
}

gboolean
ms_smtp_codec_next_end (MsSmtpCodec *self,
                        gsize        len,
                        guint64     *id)
{
  g_return_val_if_fail (self != NULL, FALSE);

  for (GList *l = self->flight.head; l != NULL; l = l->next)
    {
      Msg *m = l->data;

      if (m->has_end && !m->end_announced && m->end_offset <= self->out_base + len)
        {
          m->end_announced = TRUE;
          if (id != NULL)
            *id = m->id;
          return TRUE;
        }
    }
  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                  */

static void
refuse (Msg        *m,
        MsReplyTo   at,
        int         code,
        const char *text)
{
  if (m->failed)
    return;
  m->failed = TRUE;
  m->outcome->code = code;
  m->outcome->failed_at = at;
  g_free (m->outcome->text);
  m->outcome->text = g_strdup (text);
}

static void
finish_all (MsSmtpCodec        *self,
            MsTransportFailure  failure,
            const char         *detail)
{
  Msg *m;

  self->closed = TRUE;
  if (self->failure == MS_TRANSPORT_NONE)
    self->failure = failure;
  self->awaiting_354 = NULL;
  /* Where each message stopped: its first step without an answer. */
  for (GList *l = self->pending.head; l != NULL; l = l->next)
    {
      Pending *p = l->data;

      if (p->msg != NULL && !p->msg->stopped)
        {
          p->msg->stopped = TRUE;
          p->msg->outcome->stage = p->cmd == CMD_MAIL ? MS_REPLY_TO_MAIL :
                                   p->cmd == CMD_RCPT ? MS_REPLY_TO_RCPT :
                                   p->cmd == CMD_DATA ? MS_REPLY_TO_DATA : MS_REPLY_TO_END_OF_DATA;
        }
    }
  g_queue_clear_full (&self->pending, g_free);
  g_byte_array_set_size (self->out, 0);

  while ((m = g_queue_pop_head (&self->flight)) != NULL)
    {
      MsSmtpOutcome *o = m->outcome;

      /* The end went out and nothing answered it: the server may have
       * taken the message. Anything short of that was not delivered. */
      o->uncertain = m->has_end && !m->ended && !m->failed && !m->requeue && m->end_offset <= self->out_base;
      if (o->uncertain)
        o->stage = MS_REPLY_TO_END_OF_DATA;
      if (m->requeue)
        {
          /* It was refused only for its place behind a failed transaction. */
          o->stage = MS_REPLY_TO_UNKNOWN;
          o->code = 0;
          g_clear_pointer (&o->text, g_free);
        }
      o->transport = failure;
      g_free (o->detail);
      o->detail = g_strdup (detail);
      g_queue_push_tail (&self->done, g_steal_pointer (&m->outcome));
      msg_free (m);
    }
  while ((m = g_queue_pop_head (&self->queued)) != NULL)
    {
      m->outcome->transport = failure;
      m->outcome->detail = g_strdup (detail);
      g_queue_push_tail (&self->done, g_steal_pointer (&m->outcome));
      msg_free (m);
    }
}

static void
taint_behind (MsSmtpCodec *self)
{
  for (GList *l = self->flight.head; l != NULL; l = l->next)
    {
      Msg *m = l->data;

      if (m->step != STEP_MAIL && !m->mail_ok && !m->failed)
        m->tainted = TRUE;
    }
}

static void
insert_queued (MsSmtpCodec *self,
               Msg         *m)
{
  GList *l = self->queued.head;

  while (l != NULL && ((Msg *) l->data)->seq < m->seq)
    l = l->next;
  if (l == NULL)
    g_queue_push_tail (&self->queued, m);
  else
    g_queue_insert_before (&self->queued, l, m);
}

static void
maybe_finish (MsSmtpCodec *self,
              Msg         *m)
{
  if (m->pending > 0 || !(m->failed || m->requeue || m->ended))
    return;
  g_queue_remove (&self->flight, m);
  if (m->requeue)
    {
      MsSmtpOutcome *fresh = ms_smtp_outcome_new (m->id);

      ms_smtp_outcome_free (m->outcome);
      m->outcome = fresh;
      m->step = STEP_MAIL;
      m->mail_ok = m->failed = m->ended = m->tainted = m->requeue = FALSE;
      m->has_end = FALSE;
      insert_queued (self, m);
      return;
    }
  /* MAIL opened a transaction that failed: reset it before the next one
   * (a lenient server's empty message may not have closed it), and the
   * ones already sent behind it may meet a "nested MAIL". */
  if (m->mail_ok && (!m->ended || m->failed) && !self->need_rset)
    {
      self->need_rset = TRUE;
      taint_behind (self);
    }
  m->outcome->accepted = m->ended && !m->failed && m->outcome->end_code / 100 == 2;
  if (!m->outcome->accepted && self->hold_on_failure)
    self->held = TRUE;
  g_queue_push_tail (&self->done, g_steal_pointer (&m->outcome));
  msg_free (m);
}

static void
on_reply (MsSmtpCodec *self,
          int          code,
          const char  *text,
          const char  *last_line)
{
  Pending *p = g_queue_pop_head (&self->pending);
  gboolean ok = code / 100 == 2;
  Cmd cmd;
  Msg *m;

  if (p == NULL)
    {
      /* Unasked: only a 421 means something here (the server is going). */
      if (code == 421)
        {
          g_autofree char *detail = g_strdup_printf (_("The server closed the connection: “%s”"), last_line);

          finish_all (self, MS_TRANSPORT_CONNECTION_LOST, detail);
        }
      return;
    }
  cmd = p->cmd;
  m = p->msg;
  g_free (p);
  if (m != NULL)
    m->pending--;

  switch (cmd)
    {
    case CMD_QUIT:
      self->quit_answered = TRUE;
      break;

    case CMD_RSET:
      break;

    case CMD_MAIL:
      if (ok)
        m->mail_ok = TRUE;
      else if (m->tainted && code != 421)
        m->requeue = TRUE;
      else
        refuse (m, MS_REPLY_TO_MAIL, code, text);
      break;

    case CMD_RCPT:
      if (!ok && !m->requeue)
        refuse (m, MS_REPLY_TO_RCPT, code, text);
      break;

    case CMD_DATA:
      self->awaiting_354 = NULL;
      if (code == 354)
        {
          /* A lenient server took DATA for a failed transaction: end an
           * empty message at once. */
          if (m->failed || m->requeue)
            {
              append_str (self->out, ".\r\n");
              expect (self, CMD_EMPTY_END, m);
            }
          else
            emit_body (self, m);
        }
      else if (!m->requeue)
        refuse (m, MS_REPLY_TO_DATA, code, text);
      break;

    case CMD_END:
    case CMD_BDAT:
      /* A "." ends the transaction whatever the answer; a refused BDAT
       * may leave it open (RFC 3030 §4.2): an RSET follows then. */
      if (cmd == CMD_END || ok)
        m->ended = TRUE;
      if (m->failed || m->requeue)
        break;
      m->outcome->end_code = code;
      g_free (m->outcome->end_text);
      m->outcome->end_text = g_strdup (last_line);
      if (!ok)
        refuse (m, MS_REPLY_TO_END_OF_DATA, code, text);
      break;

    case CMD_EMPTY_END:
    default:
      m->ended = TRUE;
      break;
    }

  if (m != NULL)
    maybe_finish (self, m);

  if (code == 421)
    {
      /* The server is closing the channel: nothing behind gets an answer. */
      g_autofree char *detail = g_strdup_printf (_("The server closed the connection: “%s”"), last_line);

      finish_all (self, MS_TRANSPORT_CONNECTION_LOST, detail);
      return;
    }
  fill (self);
}

/* A continuation line without the enhanced status code the first line had. */
static void
append_text (GString    *text,
             const char *line)
{
  const char *first_space = strchr (text->str, ' ');

  if (first_space != NULL && first_space > text->str &&
      g_ascii_isdigit (text->str[0]) && text->str[1] == '.')
    {
      gsize elen = first_space - text->str + 1;

      if (strncmp (line, text->str, elen) == 0)
        line += elen;
    }
  if (text->len >= MAX_TEXT)
    return;
  if (text->len > 0)
    g_string_append_c (text, ' ');
  g_string_append_len (text, line, strnlen (line, MAX_TEXT - text->len));
}

static void
give_up (MsSmtpCodec *self)
{
  g_autofree char *detail = g_strdup_printf (_("Gave up on a reply after %u lines (%lu bytes)"),
                                             self->reply_lines, (gulong) self->reply_bytes);

  finish_all (self, MS_TRANSPORT_REPLY_TOO_LONG, detail);
}

static void
on_line (MsSmtpCodec *self,
         const char  *data,
         gsize        len)
{
  g_autofree char *line = NULL;
  gboolean last;
  int code;

  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;
  if (len < 3 || !g_ascii_isdigit (data[0]) || !g_ascii_isdigit (data[1]) || !g_ascii_isdigit (data[2]))
    return;   /* not a reply line: counted against the limits, otherwise ignored */
  code = (data[0] - '0') * 100 + (data[1] - '0') * 10 + (data[2] - '0');
  last = len == 3 || data[3] != '-';
  line = ms_reply_sanitize_text (len > 4 ? data + 4 : "", len > 4 ? (gssize) len - 4 : 0);

  if (self->reply_code == 0)
    {
      self->reply_code = code;
      g_string_truncate (self->reply_text, 0);
    }
  append_text (self->reply_text, line);
  if (last)
    {
      g_autofree char *text = ms_reply_sanitize_text (self->reply_text->str, self->reply_text->len);
      g_autofree char *last_line = ms_reply_sanitize_text (data, len);
      int first = self->reply_code;

      self->reply_code = 0;
      self->reply_bytes = 0;
      self->reply_lines = 0;
      on_reply (self, first, text, last_line);
    }
}

void
ms_smtp_codec_feed (MsSmtpCodec  *self,
                    const guint8 *data,
                    gsize         len)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (data != NULL || len == 0);

  while (len > 0 && !self->closed)
    {
      const guint8 *nl = memchr (data, '\n', len);
      gsize take = nl != NULL ? (gsize) (nl + 1 - data) : len;

      if (self->reply_bytes + self->line->len + take > MS_SMTP_MAX_REPLY_BYTES)
        {
          self->reply_bytes += self->line->len + take;
          give_up (self);
          return;
        }
      g_byte_array_append (self->line, data, take);
      data += take;
      len -= take;
      if (nl == NULL)
        break;
      self->reply_bytes += self->line->len;
      if (++self->reply_lines > MS_SMTP_MAX_REPLY_LINES)
        {
          give_up (self);
          return;
        }
      on_line (self, (const char *) self->line->data, self->line->len);
      g_byte_array_set_size (self->line, 0);
    }
}

void
ms_smtp_codec_close (MsSmtpCodec        *self,
                     MsTransportFailure  failure,
                     const char         *detail)
{
  g_return_if_fail (self != NULL);

  if (failure == MS_TRANSPORT_NONE)
    failure = MS_TRANSPORT_CONNECTION_LOST;
  finish_all (self, failure, detail);
}

/**
 * ms_smtp_codec_set_hold_on_failure:
 *
 * After a message fails, start no new transaction until
 * ms_smtp_codec_resume() or ms_smtp_codec_withdraw(): the caller first
 * learns whether the connection is worth going on with (a refused
 * recipient) or not (a limit reached, a refused sender).
 */
void
ms_smtp_codec_set_hold_on_failure (MsSmtpCodec *self,
                                   gboolean     hold)
{
  g_return_if_fail (self != NULL);

  self->hold_on_failure = hold;
  if (!hold)
    ms_smtp_codec_resume (self);
}

void
ms_smtp_codec_resume (MsSmtpCodec *self)
{
  g_return_if_fail (self != NULL);

  self->held = FALSE;
  fill (self);
}

/**
 * ms_smtp_codec_withdraw:
 *
 * The messages not sent yet come back, each with an outcome that has no
 * code, no transport failure and stage %MS_REPLY_TO_UNKNOWN: nothing of
 * them went out. The ones in flight go on.
 *
 * Returns: how many came back
 */
guint
ms_smtp_codec_withdraw (MsSmtpCodec *self)
{
  guint n = 0;
  Msg *m;

  g_return_val_if_fail (self != NULL, 0);

  while ((m = g_queue_pop_head (&self->queued)) != NULL)
    {
      g_queue_push_tail (&self->done, g_steal_pointer (&m->outcome));
      msg_free (m);
      n++;
    }
  return n;
}

void
ms_smtp_codec_quit (MsSmtpCodec *self)
{
  g_return_if_fail (self != NULL);

  if (self->closed || self->quit_sent)
    return;
  append_str (self->out, "QUIT\r\n");
  expect (self, CMD_QUIT, NULL);
  self->quit_sent = TRUE;
}

MsSmtpOutcome *
ms_smtp_codec_pop_outcome (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return g_queue_pop_head (&self->done);
}

gboolean
ms_smtp_codec_wants_input (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return !self->closed && self->pending.length > 0;
}

guint
ms_smtp_codec_get_n_open (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->queued.length + self->flight.length;
}

gboolean
ms_smtp_codec_has_room (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return !self->closed && !self->quit_sent &&
         self->queued.length + self->flight.length < ms_smtp_codec_get_window (self);
}

gboolean
ms_smtp_codec_is_closed (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, TRUE);

  return self->closed;
}

MsTransportFailure
ms_smtp_codec_get_failure (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, MS_TRANSPORT_OTHER);

  return self->failure;
}

gboolean
ms_smtp_codec_quit_answered (MsSmtpCodec *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->quit_answered;
}
