/* ms-core.h: one-time initialisation of the core's libraries
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Call once in main() of each program (and each test), before any thread:
 * curl_global_init, g_mime_init (the address parser's options), gettext.
 * The core's files rely on it having run; none of them calls it. */
void ms_core_init (void);

/* A positive number from the environment, or @fallback (for tests and
 * benchmarks: MS_BLAST_WINDOW, MS_IMPORT_CHUNK, …). */
guint ms_core_env_uint (const char *name,
                        guint       fallback,
                        guint       max);

G_END_DECLS
