/* fuzz-codec.c: fuzz target for the SMTP transaction codec (ms-smtp-codec)
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Input: capabilities (1 byte: PIPELINING, CHUNKING, SIZE, small SIZE,
 * SMTPUTF8, and 0x20: hold after a failure), window (1), then operations,
 * one byte each:
 *   0x00-0x7f  feed the next (op + 1) bytes of the input as server bytes
 *   0x80-0x9f  write (op & 0x1f) / 31 of the pending output
 *   0xa0-0xaf  submit a message (op & 0x0f picks the message and addresses)
 *   0xb0       QUIT
 *   0xb1       resume after a failure
 *   0xb2       withdraw the messages not sent yet
 *   0xb3-0xff  write everything pending
 * At the end the connection drops. A hostile server chooses every byte fed.
 */
#include "config.h"

#include "fuzz-common.h"

#include "ms-error.h"
#include "ms-smtp-codec.h"

#define MAX_MESSAGES 64

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_init_glib ();
  return 0;
}

static const char *bodies[] = {
  "Subject: a\r\n\r\nHello\r\n",
  ".\r\n..\r\n.x\r\n",
  "no line break",
  "x\r\n.",
};

static const char *recipients[] = {
  "a@example.net", "jörg@example.net", "b@bücher.example", "c@example.net",
};

static void
check_outcome (const MsSmtpOutcome *o)
{
  fuzz_check (o->text == NULL || g_utf8_validate (o->text, -1, NULL));
  fuzz_check (o->end_text == NULL || g_utf8_validate (o->end_text, -1, NULL));
  fuzz_check (o->detail == NULL || g_utf8_validate (o->detail, -1, NULL));
  if (o->accepted)
    fuzz_check (o->code == 0 && o->end_code / 100 == 2 && !o->uncertain);
  if (o->uncertain)
    fuzz_check (!o->accepted && o->code == 0 && o->stage == MS_REPLY_TO_END_OF_DATA &&
                o->transport != MS_TRANSPORT_NONE);
  if (o->code != 0)
    fuzz_check (o->code >= 0 && o->code <= 999 && o->text != NULL);
}

/* The outcomes ready: each checked, each a message submitted and not yet
 * answered, each one line into @log. */
static void
take_outcomes (MsSmtpCodec    *codec,
               const gboolean *submitted,
               gboolean       *seen,
               GString        *log)
{
  MsSmtpOutcome *o;

  while ((o = ms_smtp_codec_pop_outcome (codec)) != NULL)
    {
      check_outcome (o);
      fuzz_check (o->id < MAX_MESSAGES && submitted[o->id] && !seen[o->id]);
      seen[o->id] = TRUE;
      g_string_append_printf (log, "%u %d %d %d %d %d\n", (guint) o->id, o->accepted, o->code,
                              o->end_code, o->uncertain, o->transport);
      ms_smtp_outcome_free (o);
    }
}

/* Runs the input; every outcome, one line each, into @log. With @bytewise
 * the server's bytes are fed one at a time. */
static void
run (const uint8_t *data,
     size_t         size,
     gboolean       bytewise,
     GString       *log)
{
  FuzzInput in = { data, size };
  guint8 caps_bits = fuzz_byte (&in);
  guint8 window = fuzz_byte (&in);
  const char *caps[6] = { NULL };
  guint n_caps = 0;
  g_autoptr(MsSmtpCodec) codec = NULL;
  gboolean seen[MAX_MESSAGES] = { FALSE };
  gboolean submitted[MAX_MESSAGES] = { FALSE };
  guint n_submitted = 0;

  if (caps_bits & 1)
    caps[n_caps++] = "PIPELINING";
  if (caps_bits & 2)
    caps[n_caps++] = "CHUNKING";
  if (caps_bits & 4)
    caps[n_caps++] = (caps_bits & 8) ? "SIZE 20" : "SIZE";
  if (caps_bits & 16)
    caps[n_caps++] = "SMTPUTF8";
  codec = ms_smtp_codec_new (caps);
  ms_smtp_codec_set_window (codec, window % 9);
  ms_smtp_codec_set_hold_on_failure (codec, (caps_bits & 0x20) != 0);

  while (in.size > 0)
    {
      guint8 op = fuzz_byte (&in);

      if (op < 0x80)
        {
          gsize n = MIN ((gsize) op + 1, in.size);

          if (bytewise)
            for (gsize i = 0; i < n; i++)
              ms_smtp_codec_feed (codec, in.data + i, 1);
          else
            ms_smtp_codec_feed (codec, in.data, n);
          in.data += n;
          in.size -= n;
        }
      else if (op < 0xa0 || op > 0xb2)
        {
          gsize len;
          guint64 id;
          guint ends = 0;
          const guint8 *out = ms_smtp_codec_get_output (codec, &len);

          if (op < 0xa0)
            len = len * (op & 0x1f) / 31;
          fuzz_check (out != NULL || len == 0);
          while (ms_smtp_codec_next_end (codec, len, &id))
            {
              fuzz_check (id < MAX_MESSAGES && submitted[id]);
              ends++;
            }
          fuzz_check (ends <= ms_smtp_codec_get_window (codec));
          ms_smtp_codec_output_written (codec, len);
        }
      else if (op < 0xb0)
        {
          g_autoptr(GBytes) body = g_bytes_new_static (bodies[op & 3], strlen (bodies[op & 3]));
          g_autoptr(GError) error = NULL;

          if (n_submitted >= MAX_MESSAGES)
            continue;
          if (ms_smtp_codec_submit (codec, n_submitted, "me@example.org", recipients[(op >> 2) & 3], body, &error))
            {
              fuzz_check (error == NULL);
              submitted[n_submitted] = TRUE;
            }
          else
            fuzz_check (error != NULL && error->domain == MS_ERROR);
          n_submitted++;
        }
      else if (op == 0xb0)
        ms_smtp_codec_quit (codec);
      else if (op == 0xb1)
        ms_smtp_codec_resume (codec);
      else
        ms_smtp_codec_withdraw (codec);

      fuzz_check (ms_smtp_codec_get_n_open (codec) <= MAX_MESSAGES);
      take_outcomes (codec, submitted, seen, log);
    }

  ms_smtp_codec_close (codec, MS_TRANSPORT_CONNECTION_LOST, NULL);
  fuzz_check (!ms_smtp_codec_wants_input (codec));
  take_outcomes (codec, submitted, seen, log);
  /* Every message accepted by submit has exactly one outcome. */
  for (guint i = 0; i < MAX_MESSAGES; i++)
    fuzz_check (seen[i] == submitted[i]);
  fuzz_check (ms_smtp_codec_get_n_open (codec) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(GString) whole = g_string_new (NULL);
  g_autoptr(GString) bytewise = g_string_new (NULL);

  if (size > 64 * 1024)
    return 0;
  run (data, size, FALSE, whole);
  run (data, size, TRUE, bytewise);
  /* The pieces the bytes arrive in change nothing. */
  if (strcmp (whole->str, bytewise->str) != 0)
    fuzz_fail ("fed whole:\n%sfed byte by byte:\n%s", whole->str, bytewise->str);
  return 0;
}
