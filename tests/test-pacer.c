/* test-pacer.c: sending budgets, even spacing, rolling windows, rate-limit waits, retry schedule
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "mailshot-core.h"

#define SEC    G_USEC_PER_SEC
#define MINUTE (G_GINT64_CONSTANT (60) * SEC)
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)

/* A realistic epoch: the windows are aligned on absolute time. */
#define T0 (G_GINT64_CONSTANT (1795000000) * SEC + 123457)

static void
test_spacing (void)
{
  struct {
    MsPacerLimits limits;
    gint64 spacing;
  } cases[] = {
    { { .per_minute = 60, .connections = 1 }, SEC },
    { { .per_hour = 900, .connections = 4 }, 4 * SEC },
    { { .per_day = 1440, .connections = 2 }, MINUTE },
    /* The tightest budget wins. */
    { { .per_minute = 100, .per_hour = 1200, .per_day = 100000, .connections = 1 }, 3 * SEC },
    { { .per_minute = 30, .per_hour = 3600, .per_day = 86400, .connections = 1 }, 2 * SEC },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MsPacer) pacer = ms_pacer_new (&cases[i].limits);
      gint64 now = T0;

      g_assert_cmpint (ms_pacer_delay (pacer, now), ==, 0);
      g_assert_cmpuint (ms_pacer_available (pacer, now), ==, 1);
      ms_pacer_record_send (pacer, now);

      /* The next start waits one spacing, whatever the connection count. */
      g_assert_cmpint (ms_pacer_delay (pacer, now), ==, cases[i].spacing);
      g_assert_cmpuint (ms_pacer_available (pacer, now), ==, 0);
      g_assert_cmpint (ms_pacer_delay (pacer, now + cases[i].spacing / 2), ==, cases[i].spacing / 2);
      g_assert_cmpint (ms_pacer_delay (pacer, now + cases[i].spacing), ==, 0);
      g_assert_cmpuint (ms_pacer_available (pacer, now + cases[i].spacing), ==, 1);
    }
}

static void
test_unlimited (void)
{
  MsPacerLimits limits = { .connections = 4 };
  g_autoptr(MsPacer) pacer = ms_pacer_new (&limits);
  MsPacerLimits zero = { 0 };
  g_autoptr(MsPacer) zero_pacer = ms_pacer_new (&zero);

  for (guint i = 0; i < 1000; i++)
    ms_pacer_record_send (pacer, T0);
  g_assert_cmpint (ms_pacer_delay (pacer, T0), ==, 0);
  g_assert_cmpuint (ms_pacer_available (pacer, T0), ==, 4);
  /* At least one connection. */
  g_assert_cmpuint (ms_pacer_available (zero_pacer, T0), ==, 1);
}

static gint
compare_int64 (gconstpointer a,
               gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* Sends as fast as the pacer allows for @duration, keeping every send time,
 * then checks every window exactly: no (t - W, t] holds more than its limit. */
static void
simulate (const MsPacerLimits *limits,
          gint64               start,
          gint64               duration,
          GArray              *seed,
          guint               *n_sent)
{
  g_autoptr(MsPacer) pacer = ms_pacer_new (limits);
  g_autoptr(GArray) sends = g_array_new (FALSE, FALSE, sizeof (gint64));
  const gint64 widths[] = { MINUTE, HOUR, DAY };
  const guint limit_of[] = { limits->per_minute, limits->per_hour, limits->per_day };
  gint64 now = start;
  guint seeded = 0;

  if (seed != NULL)
    {
      for (guint i = 0; i < seed->len; i++)
        ms_pacer_add_history (pacer, g_array_index (seed, gint64, i));
      g_array_append_vals (sends, seed->data, seed->len);
      seeded = seed->len;
      g_array_sort (sends, compare_int64);
    }

  while (now < start + duration)
    {
      gint64 delay = ms_pacer_delay (pacer, now);

      g_assert_cmpint (delay, >=, 0);
      if (delay > 0)
        {
          /* Wake up at the time asked, sometimes a little late, as a real loop does. */
          now += delay + (g_test_rand_bit () ? g_test_rand_int_range (0, 2000) : 0);
          continue;
        }
      ms_pacer_record_send (pacer, now);
      g_array_append_val (sends, now);
    }

  for (guint w = 0; w < G_N_ELEMENTS (widths); w++)
    {
      guint tail = 0;

      if (limit_of[w] == 0)
        continue;
      /* Sends are in time order (the seed is older than the start). */
      for (guint head = 0; head < sends->len; head++)
        {
          gint64 t = g_array_index (sends, gint64, head);

          while (g_array_index (sends, gint64, tail) <= t - widths[w])
            tail++;
          if (head >= seeded)
            g_assert_cmpuint (head - tail + 1, <=, limit_of[w]);
        }
    }

  /* Evenly spread: consecutive starts are at least the spacing apart, so a
   * budget is never spent in a burst at the start of its window. */
  {
    gint64 spacing = 0;

    if (limits->per_minute)
      spacing = MAX (spacing, MINUTE / limits->per_minute);
    if (limits->per_hour)
      spacing = MAX (spacing, HOUR / limits->per_hour);
    if (limits->per_day)
      spacing = MAX (spacing, DAY / limits->per_day);
    for (guint i = MAX (seeded, 1); i < sends->len; i++)
      g_assert_cmpint (g_array_index (sends, gint64, i) - g_array_index (sends, gint64, i - 1), >=, spacing);
  }

  *n_sent = sends->len - seeded;
}

static void
test_windows (void)
{
  MsPacerLimits minute = { .per_minute = 120, .connections = 4 };
  MsPacerLimits hour = { .per_hour = 3000, .per_minute = 100, .connections = 2 };
  MsPacerLimits day = { .per_day = 2000, .per_hour = 500, .connections = 1 };
  guint sent;

  /* Over 10 minutes at 120/min: nearly the whole budget, never more. */
  simulate (&minute, T0, 10 * MINUTE, NULL, &sent);
  g_assert_cmpuint (sent, <=, 1200 + 1);
  g_assert_cmpuint (sent, >=, 1200 * 97 / 100);

  /* 3000/h is the tighter one: 1.2 s apart. */
  simulate (&hour, T0, 2 * HOUR, NULL, &sent);
  g_assert_cmpuint (sent, <=, 6000 + 1);
  g_assert_cmpuint (sent, >=, 6000 * 97 / 100);

  /* Two simulated days at 2000 a day. */
  simulate (&day, T0, 2 * DAY, NULL, &sent);
  g_assert_cmpuint (sent, <=, 4000 + 1);
  g_assert_cmpuint (sent, >=, 4000 * 97 / 100);
}

/* Sends recorded without asking (a burst) are held against the windows. */
static void
test_burst_guard (void)
{
  MsPacerLimits limits = { .per_minute = 10, .connections = 10 };
  g_autoptr(MsPacer) pacer = ms_pacer_new (&limits);
  gint64 delay;

  for (guint i = 0; i < 10; i++)
    ms_pacer_record_send (pacer, T0);

  /* The minute is spent: wait until the burst leaves the window, not just
   * one spacing. */
  delay = ms_pacer_delay (pacer, T0 + 6 * SEC);
  g_assert_cmpint (delay, >=, 54 * SEC);
  g_assert_cmpint (delay, <=, 54 * SEC + 200000);
  g_assert_cmpint (ms_pacer_delay (pacer, T0 + MINUTE + 200000), ==, 0);

  /* A clock that steps back does not open a window either. */
  ms_pacer_record_send (pacer, T0 + MINUTE + 200000);
  ms_pacer_record_send (pacer, T0 - HOUR);
  g_assert_cmpint (ms_pacer_delay (pacer, T0 + MINUTE + 300000), >, 0);
}

static void
test_history (void)
{
  MsPacerLimits limits = { .per_day = 1000, .connections = 1 };
  g_autoptr(GArray) seed = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(MsPacer) pacer = NULL;
  gint64 now = T0 + DAY;
  guint sent;

  /* A previous run sent the whole day's budget in its first hour, ending
   * 23 h ago; and older sends that no longer count. */
  for (guint i = 0; i < 200; i++)
    {
      gint64 t = now - 2 * DAY + i * SEC;
      g_array_append_val (seed, t);
    }
  for (guint i = 0; i < 1000; i++)
    {
      gint64 t = now - 24 * HOUR + 3 * SEC * i + SEC;
      g_array_append_val (seed, t);
    }

  pacer = ms_pacer_new (&limits);
  /* In any order, as a query might return them. */
  for (guint i = seed->len; i > 0; i--)
    ms_pacer_add_history (pacer, g_array_index (seed, gint64, i - 1));

  /* A restart must not send before the first of those leaves the day. */
  g_assert_cmpint (ms_pacer_delay (pacer, now), >, 0);
  g_assert_cmpint (ms_pacer_delay (pacer, now), <=, 2 * MINUTE);
  g_assert_cmpuint (ms_pacer_available (pacer, now), ==, 0);

  /* And over the next day, the window holds with the history in it. */
  simulate (&limits, now, DAY, seed, &sent);
  g_assert_cmpuint (sent, <=, 1000);
  g_assert_cmpuint (sent, >=, 900);
}

static void
test_rate_limited (void)
{
  MsPacerLimits limits = { .connections = 2, .rate_limited_until = T0 / SEC + 30 };
  g_autoptr(MsPacer) pacer = ms_pacer_new (&limits);
  gint64 now = T0;
  const gint64 expected[] = { 60, 120, 240, 480, 960, 1920, 3600, 3600 };

  /* The persisted wait from the settings holds at start. */
  g_assert_cmpint (ms_pacer_get_rate_limited_until (pacer), ==, T0 / SEC + 30);
  g_assert_cmpint (ms_pacer_delay (pacer, now), ==, (T0 / SEC + 30) * SEC - now);
  g_assert_cmpuint (ms_pacer_available (pacer, now), ==, 0);
  g_assert_cmpint (ms_pacer_delay (pacer, (T0 / SEC + 30) * SEC), ==, 0);
  ms_pacer_clear_rate_limit (pacer);
  g_assert_cmpint (ms_pacer_get_rate_limited_until (pacer), ==, 0);

  /* A time from the server is used as it is. */
  g_assert_cmpint (ms_pacer_rate_limited (pacer, now / SEC + 600, now), ==, now / SEC + 600);
  g_assert_cmpint (ms_pacer_delay (pacer, now), ==, (now / SEC + 600) * SEC - now);
  /* A second connection reporting a shorter wait does not shorten it. */
  g_assert_cmpint (ms_pacer_rate_limited (pacer, now / SEC + 10, now), ==, now / SEC + 600);
  ms_pacer_clear_rate_limit (pacer);
  g_assert_cmpint (ms_pacer_delay (pacer, now), ==, 0);

  /* Without a time: 1, 2, 4 … minutes, capped at an hour, each reply
   * without a success in between escalating. */
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      gint64 until = ms_pacer_rate_limited (pacer, 0, now);

      g_assert_cmpint (until, ==, now / SEC + expected[i]);
      g_assert_cmpint (ms_pacer_get_rate_limited_until (pacer), ==, until);
      g_assert_cmpint (ms_pacer_delay (pacer, now), ==, until * SEC - now);
      now = until * SEC + 1;
      g_assert_cmpint (ms_pacer_delay (pacer, now), ==, 0);
    }

  /* A success starts over at one minute. */
  ms_pacer_clear_rate_limit (pacer);
  g_assert_cmpint (ms_pacer_rate_limited (pacer, 0, now), ==, now / SEC + 60);

  /* A time already past counts as none. */
  ms_pacer_clear_rate_limit (pacer);
  g_assert_cmpint (ms_pacer_rate_limited (pacer, now / SEC - 5, now), ==, now / SEC + 60);
}

static void
test_retry_delay (void)
{
  const gint64 first = 1795000000;
  const gint64 expected[] = { 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600 };
  gint64 now = first;
  guint attempts = 0;

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpint (ms_pacer_retry_delay (i + 1, first, first), ==, expected[i]);
  g_assert_cmpint (ms_pacer_retry_delay (1000, first, first), ==, 3600);
  /* Unknown first attempt: the schedule still applies. */
  g_assert_cmpint (ms_pacer_retry_delay (2, 0, first), ==, 120);

  /* Follow the schedule: it gives up after about a day, never before 23 h
   * and never much after 24 h, with the last try at the day's end. */
  for (;;)
    {
      gint64 delay;

      attempts++;
      delay = ms_pacer_retry_delay (attempts, first, now);
      if (delay == 0)
        break;
      g_assert_cmpint (delay, >, 0);
      now += delay;
      g_assert_cmpint (now - first, <=, 24 * 3600);
    }
  g_assert_cmpint (now - first, >=, 23 * 3600);
  g_assert_cmpint (now - first, ==, 24 * 3600);
  g_assert_cmpuint (attempts, >, 20);
  g_assert_cmpuint (attempts, <, 40);
  g_assert_cmpint (ms_pacer_retry_delay (3, first, first + 25 * 3600), ==, 0);
}

/* The estimate is what the pacer does: simulate it on a clock that jumps
 * from one allowed start to the next, and compare. */
static gint64
simulate_duration (const MsPacerLimits *limits,
          guint                messages,
          gint64               now)
{
  g_autoptr(MsPacer) pacer = ms_pacer_new (limits);
  gint64 t = now * G_USEC_PER_SEC;

  for (guint i = 0; i < messages; i++)
    {
      t += ms_pacer_delay (pacer, t);
      ms_pacer_record_send (pacer, t);
    }
  return (t - now * G_USEC_PER_SEC + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC;
}

static void
test_estimate (void)
{
  const gint64 now = 1795000000;
  MsPacerLimits none = { .connections = 4 };
  MsPacerLimits per_minute = { .per_minute = 60, .connections = 1 };
  MsPacerLimits office = { .per_minute = 30, .per_day = 10000, .connections = 3 };
  MsPacerLimits hourly = { .per_hour = 900, .connections = 2 };
  MsPacerLimits waiting = { .connections = 1, .rate_limited_until = now + 600 };
  MsPacerLimits waited = { .connections = 1, .rate_limited_until = now - 5 };
  MsPacerLimits both = { .per_minute = 60, .connections = 1, .rate_limited_until = now + 90 };

  /* No limit and no wait: the server's speed decides, the pacer cannot say. */
  g_assert_cmpint (ms_pacer_estimate_seconds (&none, 5000, now), ==, -1);
  g_assert_cmpint (ms_pacer_estimate_seconds (&waited, 5000, now), ==, -1);
  /* One a second: the first goes now, the 60th 59 s later; the minute's
   * window then adds its bucket (0.1 s) once a minute. */
  g_assert_cmpint (ms_pacer_estimate_seconds (&per_minute, 60, now), ==, 59);
  g_assert_cmpint (ms_pacer_estimate_seconds (&per_minute, 1, now), ==, 0);
  g_assert_cmpint (ms_pacer_estimate_seconds (&per_minute, 0, now), ==, 0);
  /* 900 an hour is one every 4 s. */
  g_assert_cmpint (ms_pacer_estimate_seconds (&hourly, 900, now), ==, 3596);
  /* The rest of a wait comes first. */
  g_assert_cmpint (ms_pacer_estimate_seconds (&waiting, 5000, now), ==, 600);
  g_assert_cmpint (ms_pacer_estimate_seconds (&both, 60, now), ==, 149);

  /* And it is what the pacer really does. */
  g_assert_cmpint (ms_pacer_estimate_seconds (&per_minute, 500, now), ==, simulate_duration (&per_minute, 500, now));
  g_assert_cmpint (ms_pacer_estimate_seconds (&office, 2000, now), ==, simulate_duration (&office, 2000, now));
  g_assert_cmpint (ms_pacer_estimate_seconds (&hourly, 3000, now), ==, simulate_duration (&hourly, 3000, now));
  g_assert_cmpint (ms_pacer_estimate_seconds (&both, 300, now), ==, simulate_duration (&both, 300, now));
  /* Past a million, extrapolated: within a minute a day of the real thing. */
  {
    gint64 timer = g_get_monotonic_time ();
    gint64 estimate = ms_pacer_estimate_seconds (&office, 1200000, now);
    gint64 real = simulate_duration (&office, 1200000, now);

    g_test_message ("1.2M messages: %" G_GINT64_FORMAT " s estimated, %" G_GINT64_FORMAT " s by the pacer, "
                    "%.0f ms", estimate, real, (g_get_monotonic_time () - timer) / 1000.0);
    g_assert_cmpint (ABS (estimate - real), <=, real / 86400 * 60 + 1);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/mailshot/pacer/spacing", test_spacing);
  g_test_add_func ("/mailshot/pacer/unlimited", test_unlimited);
  g_test_add_func ("/mailshot/pacer/windows", test_windows);
  g_test_add_func ("/mailshot/pacer/burst-guard", test_burst_guard);
  g_test_add_func ("/mailshot/pacer/history", test_history);
  g_test_add_func ("/mailshot/pacer/rate-limited", test_rate_limited);
  g_test_add_func ("/mailshot/pacer/retry-delay", test_retry_delay);
  g_test_add_func ("/mailshot/pacer/estimate", test_estimate);

  return g_test_run ();
}
