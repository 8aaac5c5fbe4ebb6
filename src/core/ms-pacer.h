/* ms-pacer.h: sending budgets and the "rate limited until" wait
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Not thread-safe: owned by the blast worker. Times are in microseconds of
 * g_get_real_time() so the day window survives restarts when seeded. */
typedef struct _MsPacer MsPacer;

typedef struct {
  guint  per_minute;      /* 0 = no limit */
  guint  per_hour;
  guint  per_day;         /* a rolling 24 h */
  guint  connections;     /* >= 1 */
  gint64 rate_limited_until;  /* unix seconds, 0 = none */
} MsPacerLimits;

MsPacer *ms_pacer_new                (const MsPacerLimits *limits);
void     ms_pacer_free               (MsPacer *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsPacer, ms_pacer_free)

/* Seeds the rolling windows with earlier sends (from the journal). */
void     ms_pacer_add_history        (MsPacer *self, gint64 sent_at_usec);

/* Microseconds from @now_usec until the next message may start; 0 = now.
 * The budget is spread evenly (900/h = one every 4 s), not spent in bursts. */
gint64   ms_pacer_delay              (MsPacer *self, gint64 now_usec);
/* How many may start now (for claiming in groups); 0 when ms_pacer_delay() > 0. */
guint    ms_pacer_available          (MsPacer *self, gint64 now_usec);
void     ms_pacer_record_send        (MsPacer *self, gint64 now_usec);

/* A rate-limit reply: wait until @until (unix seconds); 0 = pick an
 * increasing backoff (1 min, 2, 4 … capped at 1 h). Returns the until time
 * chosen, for the caller to persist to `rate-limited-until`. */
gint64   ms_pacer_rate_limited       (MsPacer *self, gint64 until, gint64 now_usec);
gint64   ms_pacer_get_rate_limited_until (MsPacer *self);   /* unix seconds, 0 = none */
void     ms_pacer_clear_rate_limit   (MsPacer *self);       /* after a success */

/* Exponential backoff for a deferred row: 1 min, 2, 4 … capped at 1 h;
 * returns 0 once the row has been retried for about a day (then fail it). */
gint64   ms_pacer_retry_delay        (guint attempts, gint64 first_attempt, gint64 now);

/* How long @messages take under @limits (the rest of the rate-limit wait, then
 * the even spread), for the confirmation before sending; -1 when the
 * account has no limit and no wait: the server's speed decides. @now in unix
 * seconds. */
gint64   ms_pacer_estimate_seconds   (const MsPacerLimits *limits,
                                      guint                messages,
                                      gint64               now);

G_END_DECLS
