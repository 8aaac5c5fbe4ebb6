/* fuzz-replay.c: runs a fuzz target once over every file of its corpus, without libFuzzer
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Linked with each fuzz-<target>.c into fuzz-<target>-replay, a plain executable
 * that any compiler builds: the test suite replays the seeds and every crash
 * reproducer on each run.
 *
 * usage: fuzz-<target>-replay FILE-OR-DIRECTORY...
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "fuzz-common.h"

/* An input that takes longer than this (even at -O0 on a busy machine, a
 * corpus file takes milliseconds) shows something quadratic: a failure. */
#define MAX_SECONDS_PER_INPUT 5

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

static void
run_file (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *contents = NULL;
  g_autofree guint8 *exact = NULL;
  gsize len = 0;
  gint64 start;
  double elapsed;

  if (!g_file_get_contents (path, &contents, &len, &error))
    {
      fprintf (stderr, "fuzz-replay: %s\n", error->message);
      exit (EXIT_FAILURE);
    }
  /* An allocation of exactly the input's size, as libFuzzer gives: a read past
   * the end is then a heap overflow under ASan or valgrind. */
  exact = g_malloc (MAX (len, 1));
  if (len > 0)
    memcpy (exact, contents, len);
  printf ("# %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
  fflush (stdout);
  start = g_get_monotonic_time ();
  LLVMFuzzerTestOneInput (exact, len);
  elapsed = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  if (elapsed > MAX_SECONDS_PER_INPUT)
    {
      fprintf (stderr, "fuzz-replay: %s took %.1f s (at most %d s): something is too slow on it\n",
               path, elapsed, MAX_SECONDS_PER_INPUT);
      exit (EXIT_FAILURE);
    }
}

static guint
run_path (const char *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = NULL;
  g_autoptr(GPtrArray) names = NULL;
  const char *name;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      run_file (path);
      return 1;
    }

  dir = g_dir_open (path, 0, &error);
  if (dir == NULL)
    {
      fprintf (stderr, "fuzz-replay: %s\n", error->message);
      exit (EXIT_FAILURE);
    }
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.')
      g_ptr_array_add (names, g_build_filename (path, name, NULL));
  /* The same order on every machine, so a failure names the same file. */
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    run_file (g_ptr_array_index (names, i));
  return names->len;
}

int
main (int    argc,
      char **argv)
{
  guint n = 0;

  LLVMFuzzerInitialize (&argc, &argv);
  if (argc < 2)
    {
      fprintf (stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
      return 2;
    }
  for (int i = 1; i < argc; i++)
    n += run_path (argv[i]);
  /* An empty corpus would pass while testing nothing. */
  if (n == 0)
    {
      fprintf (stderr, "fuzz-replay: no inputs in the given paths\n");
      return EXIT_FAILURE;
    }
  printf ("# %u inputs ran cleanly\n", n);
  return EXIT_SUCCESS;
}
