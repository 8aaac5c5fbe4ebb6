/* fuzz-common.h: what every fuzz target shares: the libFuzzer entry points and an input cursor
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include <glib.h>
#include <glib/gprintf.h>

int LLVMFuzzerInitialize   (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* A target's checks: g_assert() is compiled in whatever the build type, and
 * G_DISABLE_ASSERT is never defined for the fuzz targets. */
#define fuzz_check(expr) g_assert (expr)

/* Reports a broken promise and aborts: libFuzzer catches SIGABRT (not the
 * SIGTRAP of g_error()) and saves the input. */
G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN static inline void
fuzz_fail (const char *format,
           ...)
{
  va_list args;

  va_start (args, format);
  g_vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
  abort ();
}

/* Takes typed values off the front of the input; past the end everything is 0. */
typedef struct {
  const guint8 *data;
  gsize         size;
} FuzzInput;

static inline guint8
fuzz_byte (FuzzInput *in)
{
  guint8 b;

  if (in->size == 0)
    return 0;
  b = in->data[0];
  in->data++;
  in->size--;
  return b;
}

static inline guint16
fuzz_u16 (FuzzInput *in)
{
  guint16 hi = fuzz_byte (in);

  return (guint16) (hi << 8 | fuzz_byte (in));
}

/* The bytes up to @sep (not included) or the end, consumed with the separator;
 * transfer full, NUL-terminated, *len without the NUL (the bytes may hold NULs
 * when @sep is not 0). */
static inline char *
fuzz_take_until (FuzzInput *in,
                 guint8     sep,
                 gsize     *len)
{
  const guint8 *end = memchr (in->data, sep, in->size);
  gsize n = end != NULL ? (gsize) (end - in->data) : in->size;
  char *out = g_malloc (n + 1);

  if (n > 0)
    memcpy (out, in->data, n);
  out[n] = '\0';
  in->data += n;
  in->size -= n;
  if (end != NULL)
    {
      in->data++;
      in->size--;
    }
  if (len != NULL)
    *len = n;
  return out;
}

/* Warnings and criticals are bugs here, as in the test suite (G_DEBUG=fatal-warnings);
 * GSlice must hand out plain malloc so that ASan sees every block. */
static inline void
fuzz_init_glib (void)
{
  g_setenv ("G_SLICE", "always-malloc", FALSE);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL);
}
