/* ms-pacer.c: sending budgets and the "rate limited until" wait
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "ms-pacer.h"

#define MINUTE_USEC (G_GINT64_CONSTANT (60) * G_USEC_PER_SEC)
#define HOUR_USEC   (60 * MINUTE_USEC)
#define DAY_USEC    (24 * HOUR_USEC)

/* Rate-limit backoff without a time from the server: 1 min, 2, 4 … 1 h. */
#define BACKOFF_FIRST_SEC 60
#define BACKOFF_MAX_SEC   3600
/* A deferred row is retried for about a day, then failed. */
#define RETRY_GIVE_UP_SEC (24 * 3600)

/*
 * A rolling window as a ring of counters, one per bucket. Memory is flat
 * (independent of the limit and of the batch), and the count is
 * conservative: the oldest bucket is counted whole although part of it may
 * have left the window, so the limit is never exceeded; the cost is at most
 * one bucket's width of waiting per window (1/1440 of a day, 1/3600 of an
 * hour, 1/600 of a minute).
 */
typedef struct {
  guint   limit;         /* sends allowed in any window of @width */
  gint64  width;         /* usec */
  gint64  bucket;        /* usec per bucket; width is a multiple */
  guint   n;             /* buckets: width / bucket + 1, the +1 is the partial oldest one */
  gint64  head;          /* absolute index (time / bucket) of the newest bucket */
  guint64 total;         /* sum of counts */
  guint32 *counts;
} Window;

struct _MsPacer
{
  MsPacerLimits limits;
  gint64 spacing;          /* usec between message starts; 0 = as fast as possible */
  gint64 last_start;       /* usec; G_MININT64 = never */
  Window windows[3];       /* minute, hour, day; a zero limit is no window */
  gint64 rate_limited_until;  /* unix seconds */
  guint consecutive_limits;   /* rate-limit replies since the last success */
};

static void
window_init (Window *w,
             guint   limit,
             gint64  width,
             gint64  bucket)
{
  w->limit = limit;
  if (limit == 0)
    return;
  w->width = width;
  w->bucket = bucket;
  w->n = width / bucket + 1;
  w->head = G_MININT64;
  w->total = 0;
  w->counts = g_new0 (guint32, w->n);
}

static inline guint
slot (const Window *w,
      gint64        k)
{
  gint64 m = k % (gint64) w->n;

  return m < 0 ? m + w->n : m;
}

static inline gint64
bucket_index (const Window *w,
              gint64        t)
{
  /* Floor division: times before 1970 do not happen, but be exact anyway. */
  return t >= 0 ? t / w->bucket : -((-t + w->bucket - 1) / w->bucket);
}

/* Moves the ring forward so that its newest bucket holds @t; buckets that
 * leave the window are emptied. */
static void
window_advance (Window *w,
                gint64  t)
{
  gint64 idx = bucket_index (w, t);

  if (w->head == G_MININT64 || idx - w->head >= (gint64) w->n)
    {
      memset (w->counts, 0, sizeof (guint32) * w->n);
      w->total = 0;
      w->head = idx;
      return;
    }

  while (w->head < idx)
    {
      guint32 *count;

      w->head++;
      count = &w->counts[slot (w, w->head)];
      w->total -= *count;
      *count = 0;
    }
}

static void
window_add (Window *w,
            gint64  t)
{
  gint64 idx;

  if (w->limit == 0)
    return;

  idx = bucket_index (w, t);
  if (w->head == G_MININT64 || idx > w->head)
    window_advance (w, t);
  else if (idx <= w->head - (gint64) w->n)
    return;   /* older than the window: irrelevant */

  w->counts[slot (w, idx)]++;
  w->total++;
}

/* The earliest time >= @now at which one more send keeps the window within
 * its limit. */
static gint64
window_earliest (Window *w,
                 gint64  now)
{
  guint64 total;
  gint64 oldest;

  if (w->limit == 0 || w->head == G_MININT64)
    return now;

  if (bucket_index (w, now) > w->head)
    window_advance (w, now);
  if (w->total < w->limit)
    return now;

  /* Drop the oldest buckets one by one until one more send fits. A bucket k
   * stops overlapping the window (t - width, t] once t >= (k + 1) * bucket + width. */
  total = w->total;
  oldest = w->head - (gint64) w->n + 1;
  for (gint64 k = oldest; k <= w->head; k++)
    {
      total -= w->counts[slot (w, k)];
      if (total < w->limit)
        return MAX (now, (k + 1) * w->bucket + w->width);
    }
  /* Unreachable with limit >= 1: everything has left the window by then. */
  return MAX (now, (w->head + 1) * w->bucket + w->width);
}

/**
 * ms_pacer_new:
 * @limits: the account's budgets; copied
 *
 * Returns: (transfer full): a pacer with no history.
 */
MsPacer *
ms_pacer_new (const MsPacerLimits *limits)
{
  MsPacer *self;

  g_return_val_if_fail (limits != NULL, NULL);

  self = g_new0 (MsPacer, 1);
  self->limits = *limits;
  self->limits.connections = MAX (limits->connections, 1);
  self->last_start = G_MININT64;
  self->rate_limited_until = limits->rate_limited_until;

  /* Spread evenly: the tightest budget sets the gap between two starts.
   * With every start at least that far apart, no window can overflow; the
   * windows guard the history and the starts that did not ask. */
  if (limits->per_minute)
    self->spacing = MAX (self->spacing, MINUTE_USEC / limits->per_minute);
  if (limits->per_hour)
    self->spacing = MAX (self->spacing, HOUR_USEC / limits->per_hour);
  if (limits->per_day)
    self->spacing = MAX (self->spacing, DAY_USEC / limits->per_day);

  window_init (&self->windows[0], limits->per_minute, MINUTE_USEC, 100 * 1000);
  window_init (&self->windows[1], limits->per_hour, HOUR_USEC, G_USEC_PER_SEC);
  window_init (&self->windows[2], limits->per_day, DAY_USEC, MINUTE_USEC);

  return self;
}

void
ms_pacer_free (MsPacer *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (self->windows); i++)
    g_free (self->windows[i].counts);
  g_free (self);
}

/**
 * ms_pacer_add_history:
 * @sent_at_usec: when an earlier message started (g_get_real_time() scale;
 *   the journal's seconds times G_USEC_PER_SEC)
 *
 * Seeds the windows, in any order, so that a restart keeps the day's budget.
 */
void
ms_pacer_add_history (MsPacer *self,
                      gint64   sent_at_usec)
{
  g_return_if_fail (self != NULL);

  for (guint i = 0; i < G_N_ELEMENTS (self->windows); i++)
    window_add (&self->windows[i], sent_at_usec);
  self->last_start = MAX (self->last_start, sent_at_usec);
}

/**
 * ms_pacer_delay:
 * @now_usec: g_get_real_time()
 *
 * Returns: microseconds until the next message may start; 0 = now.
 */
gint64
ms_pacer_delay (MsPacer *self,
                gint64   now_usec)
{
  gint64 earliest = now_usec;

  g_return_val_if_fail (self != NULL, 0);

  if (self->rate_limited_until > 0)
    earliest = MAX (earliest, self->rate_limited_until * G_USEC_PER_SEC);
  if (self->spacing > 0 && self->last_start != G_MININT64)
    earliest = MAX (earliest, self->last_start + self->spacing);
  for (guint i = 0; i < G_N_ELEMENTS (self->windows); i++)
    earliest = MAX (earliest, window_earliest (&self->windows[i], now_usec));

  return earliest - now_usec;
}

/**
 * ms_pacer_available:
 *
 * Returns: how many messages may start now, at most the connection count:
 *   one at a time while a spacing applies (that is the even spread), 0 when
 *   ms_pacer_delay() is not 0.
 */
guint
ms_pacer_available (MsPacer *self,
                    gint64   now_usec)
{
  guint available;

  g_return_val_if_fail (self != NULL, 0);

  if (ms_pacer_delay (self, now_usec) > 0)
    return 0;
  if (self->spacing > 0)
    return 1;

  available = self->limits.connections;
  for (guint i = 0; i < G_N_ELEMENTS (self->windows); i++)
    {
      const Window *w = &self->windows[i];

      if (w->limit > 0)
        available = MIN (available, w->limit - MIN (w->total, w->limit));
    }
  return available;
}

/**
 * ms_pacer_record_send:
 *
 * Counts a message that starts at @now_usec.
 */
void
ms_pacer_record_send (MsPacer *self,
                      gint64   now_usec)
{
  g_return_if_fail (self != NULL);

  /* A clock that steps back must not let a burst through: count the send
   * where the ring already is. */
  for (guint i = 0; i < G_N_ELEMENTS (self->windows); i++)
    {
      Window *w = &self->windows[i];

      if (w->limit > 0 && w->head != G_MININT64 && bucket_index (w, now_usec) < w->head)
        window_add (w, w->head * w->bucket);
      else
        window_add (w, now_usec);
    }
  self->last_start = MAX (self->last_start, now_usec);
}

/**
 * ms_pacer_rate_limited:
 * @until: unix seconds from the reply, or 0 when it gave none
 * @now_usec: g_get_real_time()
 *
 * The account must wait. Without a time (or with one already past), the
 * wait doubles with each rate-limit reply since the last success: 1 min,
 * 2, 4 … capped at 1 h.
 *
 * Returns: the until time chosen (unix seconds), to persist.
 */
gint64
ms_pacer_rate_limited (MsPacer *self,
                       gint64   until,
                       gint64   now_usec)
{
  gint64 now = now_usec / G_USEC_PER_SEC;

  g_return_val_if_fail (self != NULL, 0);

  if (until <= now)
    {
      gint64 backoff = BACKOFF_FIRST_SEC;

      for (guint i = 0; i < self->consecutive_limits && backoff < BACKOFF_MAX_SEC; i++)
        backoff *= 2;
      until = now + MIN (backoff, BACKOFF_MAX_SEC);
    }
  self->consecutive_limits++;

  /* Several connections may report the same limit: keep the longest wait. */
  self->rate_limited_until = MAX (self->rate_limited_until, until);
  return self->rate_limited_until;
}

/**
 * ms_pacer_get_rate_limited_until:
 *
 * Returns: unix seconds until which the account waits, 0 = none.
 */
gint64
ms_pacer_get_rate_limited_until (MsPacer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->rate_limited_until;
}

/**
 * ms_pacer_clear_rate_limit:
 *
 * After a success: no wait, and the next backoff starts at 1 min again.
 */
void
ms_pacer_clear_rate_limit (MsPacer *self)
{
  g_return_if_fail (self != NULL);
  self->rate_limited_until = 0;
  self->consecutive_limits = 0;
}

/**
 * ms_pacer_retry_delay:
 * @attempts: attempts made so far (1 after the first failure)
 * @first_attempt: unix seconds of the first attempt (the row's
 *   first_attempt_at); 0 = unknown, taken as now
 * @now: unix seconds
 *
 * Returns: seconds until a deferred row is due again (1 min, 2, 4 … capped
 *   at 1 h), or 0 once it has been tried for about a day: then fail it.
 */
gint64
ms_pacer_retry_delay (guint  attempts,
                      gint64 first_attempt,
                      gint64 now)
{
  gint64 delay = BACKOFF_FIRST_SEC;

  if (first_attempt > 0 && now - first_attempt >= RETRY_GIVE_UP_SEC)
    return 0;

  for (guint i = 1; i < attempts && delay < BACKOFF_MAX_SEC; i++)
    delay *= 2;
  delay = MIN (delay, BACKOFF_MAX_SEC);

  /* The last try lands at the day's end rather than past it. */
  if (first_attempt > 0 && now + delay - first_attempt > RETRY_GIVE_UP_SEC)
    delay = MAX (first_attempt + RETRY_GIVE_UP_SEC - now, 1);
  return delay;
}

/**
 * ms_pacer_estimate_seconds:
 * @limits: the account's budgets (ms_account_get_pacer_limits())
 * @messages: how many are to go
 * @now: unix seconds, for the rate-limit wait in @limits
 *
 * How long @messages take under @limits, as the pacer will send them: the
 * rest of a rate-limit wait, then the even spread, with what the rolling
 * windows add. The pacer itself is run on a clock that jumps from one
 * allowed start to the next, so the estimate cannot drift from the rule.
 * Earlier sends are not counted (the time on a fresh day), and the server's
 * own speed is not known: an account without limits gives -1.
 *
 * Returns: seconds, rounded up; -1 when neither a limit nor a wait applies.
 */
gint64
ms_pacer_estimate_seconds (const MsPacerLimits *limits,
                           guint                messages,
                           gint64               now)
{
  g_autoptr(MsPacer) pacer = NULL;
  gint64 start, t;
  guint simulated;

  g_return_val_if_fail (limits != NULL, -1);

  if (limits->per_minute == 0 && limits->per_hour == 0 && limits->per_day == 0 &&
      limits->rate_limited_until <= now)
    return -1;
  if (messages == 0)
    return 0;

  pacer = ms_pacer_new (limits);
  start = t = now * G_USEC_PER_SEC;
  /* About 30 ns a message; past a million the pace is steady, so the rest
   * is extrapolated from the last day's worth. */
  simulated = MIN (messages, 1000000);
  for (guint i = 0; i < simulated; i++)
    {
      t += ms_pacer_delay (pacer, t);
      ms_pacer_record_send (pacer, t);
    }
  if (simulated < messages)
    {
      gint64 before = t;
      guint more = MIN (messages - simulated, MAX (limits->per_day, 1000u));

      for (guint i = 0; i < more; i++)
        {
          t += ms_pacer_delay (pacer, t);
          ms_pacer_record_send (pacer, t);
        }
      t += (gint64) ((double) (t - before) / more * (messages - simulated - more));
    }
  return (t - start + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
}
