/* test-powercut.c: simulated power cuts under the journal and the side log: no row the server received goes back to queued
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <sqlite3.h>

#include "mailshot-core.h"
#include "ms-test-support.h"

/* The power-cut VFS -----------------------------------------------------------
 *
 * A shim over the default VFS, as SQLite's own crash tests (test6.c) do: every
 * write goes to the file at once, and the shim remembers each one made since
 * the file was last synced (with the bytes it replaced). At a simulated cut,
 * the files go back to what was last synced, and each unsynced write is then
 * replayed in order, kept whole, dropped, or torn (some of its 512-byte
 * sectors kept, the rest not): what a disk with a volatile cache may leave.
 * From the cut on, every write and sync fails, as nothing reaches the disk. */

#define SECTOR 512

typedef struct {
  char    *path;
  gint64   offset;        /* -1: a truncation */
  GBytes  *old_data;      /* what was there (the part inside the old size) */
  GBytes  *new_data;      /* NULL for a truncation */
  gint64   size_before;
  gint64   size_after;
} PendingWrite;

typedef struct {
  sqlite3_file  base;
  sqlite3_file *real;     /* follows this struct */
  char         *path;
} PcFile;

static sqlite3_vfs *real_vfs;
static sqlite3_vfs pc_vfs;
static GPtrArray *pending;       /* PendingWrite*, in order */
static gboolean dead;            /* the power is off */


static void
pending_write_free (PendingWrite *w)
{
  g_free (w->path);
  g_clear_pointer (&w->old_data, g_bytes_unref);
  g_clear_pointer (&w->new_data, g_bytes_unref);
  g_free (w);
}

static gint64
real_size (PcFile *f)
{
  sqlite3_int64 size = 0;

  if (f->real->pMethods->xFileSize (f->real, &size) != SQLITE_OK)
    return 0;
  return size;
}

static GBytes *
read_range (PcFile *f,
            gint64  offset,
            gint64  len)
{
  guint8 *buf;

  if (len <= 0)
    return g_bytes_new (NULL, 0);
  buf = g_malloc0 (len);
  f->real->pMethods->xRead (f->real, buf, (int) len, offset);
  return g_bytes_new_take (buf, len);
}

static int
pc_close (sqlite3_file *file)
{
  PcFile *f = (PcFile *) file;
  int rc = f->real->pMethods->xClose (f->real);

  g_free (f->path);
  return rc;
}

static int
pc_read (sqlite3_file *file, void *buf, int amt, sqlite3_int64 ofst)
{
  PcFile *f = (PcFile *) file;

  return f->real->pMethods->xRead (f->real, buf, amt, ofst);
}

static int
pc_write (sqlite3_file *file, const void *buf, int amt, sqlite3_int64 ofst)
{
  PcFile *f = (PcFile *) file;
  PendingWrite *w;
  gint64 size;

  if (dead)
    return SQLITE_IOERR_WRITE;
  if (f->path == NULL)
    return f->real->pMethods->xWrite (f->real, buf, amt, ofst);

  size = real_size (f);
  w = g_new0 (PendingWrite, 1);
  w->path = g_strdup (f->path);
  w->offset = ofst;
  w->size_before = size;
  w->old_data = read_range (f, ofst, MIN ((gint64) amt, size - ofst));
  w->new_data = g_bytes_new (buf, amt);
  w->size_after = MAX (size, ofst + amt);
  g_ptr_array_add (pending, w);
  return f->real->pMethods->xWrite (f->real, buf, amt, ofst);
}

static int
pc_truncate (sqlite3_file *file, sqlite3_int64 size)
{
  PcFile *f = (PcFile *) file;
  PendingWrite *w;
  gint64 before;

  if (dead)
    return SQLITE_IOERR_TRUNCATE;
  if (f->path == NULL)
    return f->real->pMethods->xTruncate (f->real, size);

  before = real_size (f);
  w = g_new0 (PendingWrite, 1);
  w->path = g_strdup (f->path);
  w->offset = -1;
  w->size_before = before;
  w->size_after = size;
  w->old_data = read_range (f, size, before - size);
  g_ptr_array_add (pending, w);
  return f->real->pMethods->xTruncate (f->real, size);
}

static int
pc_sync (sqlite3_file *file, int flags)
{
  PcFile *f = (PcFile *) file;

  if (dead)
    return SQLITE_IOERR_FSYNC;

  /* What this file wrote is on the disk now. */
  if (f->path != NULL)
    for (guint i = pending->len; i-- > 0;)
      if (g_str_equal (((PendingWrite *) pending->pdata[i])->path, f->path))
        g_ptr_array_remove_index (pending, i);
  return f->real->pMethods->xSync (f->real, flags);
}

static int
pc_file_size (sqlite3_file *file, sqlite3_int64 *size)
{
  PcFile *f = (PcFile *) file;

  return f->real->pMethods->xFileSize (f->real, size);
}

static int pc_lock (sqlite3_file *file, int l) { return ((PcFile *) file)->real->pMethods->xLock (((PcFile *) file)->real, l); }
static int pc_unlock (sqlite3_file *file, int l) { return ((PcFile *) file)->real->pMethods->xUnlock (((PcFile *) file)->real, l); }
static int pc_check_reserved (sqlite3_file *file, int *out) { return ((PcFile *) file)->real->pMethods->xCheckReservedLock (((PcFile *) file)->real, out); }
static int pc_file_control (sqlite3_file *file, int op, void *arg) { return ((PcFile *) file)->real->pMethods->xFileControl (((PcFile *) file)->real, op, arg); }
static int pc_sector_size (sqlite3_file *file) { return ((PcFile *) file)->real->pMethods->xSectorSize (((PcFile *) file)->real); }
static int pc_device_characteristics (sqlite3_file *file) { return ((PcFile *) file)->real->pMethods->xDeviceCharacteristics (((PcFile *) file)->real); }
/* The -shm file is memory shared between connections, not data on the disk;
 * after a cut the first connection rebuilds it from the WAL. */
static int pc_shm_map (sqlite3_file *file, int pg, int sz, int extend, void volatile **p) { return ((PcFile *) file)->real->pMethods->xShmMap (((PcFile *) file)->real, pg, sz, extend, p); }
static int pc_shm_lock (sqlite3_file *file, int offset, int n, int flags) { return ((PcFile *) file)->real->pMethods->xShmLock (((PcFile *) file)->real, offset, n, flags); }
static void pc_shm_barrier (sqlite3_file *file) { ((PcFile *) file)->real->pMethods->xShmBarrier (((PcFile *) file)->real); }
static int pc_shm_unmap (sqlite3_file *file, int del) { return ((PcFile *) file)->real->pMethods->xShmUnmap (((PcFile *) file)->real, dead ? 0 : del); }
/* No memory-mapped I/O: every write must go through pc_write. */
static int pc_fetch (sqlite3_file *file, sqlite3_int64 ofst, int amt, void **pp) { *pp = NULL; return SQLITE_OK; }
static int pc_unfetch (sqlite3_file *file, sqlite3_int64 ofst, void *p) { return SQLITE_OK; }

static const sqlite3_io_methods pc_io_methods = {
  3, pc_close, pc_read, pc_write, pc_truncate, pc_sync, pc_file_size, pc_lock, pc_unlock,
  pc_check_reserved, pc_file_control, pc_sector_size, pc_device_characteristics,
  pc_shm_map, pc_shm_lock, pc_shm_barrier, pc_shm_unmap, pc_fetch, pc_unfetch,
};

static int
pc_open (sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
  PcFile *f = (PcFile *) file;
  int rc;

  memset (f, 0, sizeof *f);
  f->real = (sqlite3_file *) (f + 1);
  rc = real_vfs->xOpen (real_vfs, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK || f->real->pMethods == NULL)
    {
      f->base.pMethods = NULL;
      return rc;
    }
  /* The database and its WAL are what a cut can damage. */
  if (name != NULL && (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL)))
    f->path = g_strdup (name);
  f->base.pMethods = &pc_io_methods;
  return SQLITE_OK;
}

static int
pc_delete (sqlite3_vfs *vfs, const char *name, int sync_dir)
{
  if (dead)
    return SQLITE_IOERR_DELETE;
  /* A deleted WAL takes its unsynced writes along. */
  for (guint i = pending->len; i-- > 0;)
    if (g_str_equal (((PendingWrite *) pending->pdata[i])->path, name))
      g_ptr_array_remove_index (pending, i);
  return real_vfs->xDelete (real_vfs, name, sync_dir);
}

static int pc_access (sqlite3_vfs *vfs, const char *name, int flags, int *out) { return real_vfs->xAccess (real_vfs, name, flags, out); }
static int pc_full_pathname (sqlite3_vfs *vfs, const char *name, int n, char *out) { return real_vfs->xFullPathname (real_vfs, name, n, out); }
static void *pc_dl_open (sqlite3_vfs *vfs, const char *name) { return real_vfs->xDlOpen (real_vfs, name); }
static void pc_dl_error (sqlite3_vfs *vfs, int n, char *msg) { real_vfs->xDlError (real_vfs, n, msg); }
static void (*pc_dl_sym (sqlite3_vfs *vfs, void *h, const char *sym)) (void) { return real_vfs->xDlSym (real_vfs, h, sym); }
static void pc_dl_close (sqlite3_vfs *vfs, void *h) { real_vfs->xDlClose (real_vfs, h); }
static int pc_randomness (sqlite3_vfs *vfs, int n, char *out) { return real_vfs->xRandomness (real_vfs, n, out); }
static int pc_sleep (sqlite3_vfs *vfs, int us) { return real_vfs->xSleep (real_vfs, us); }
static int pc_current_time (sqlite3_vfs *vfs, double *t) { return real_vfs->xCurrentTime (real_vfs, t); }
static int pc_get_last_error (sqlite3_vfs *vfs, int n, char *msg) { return real_vfs->xGetLastError (real_vfs, n, msg); }
static int pc_current_time_int64 (sqlite3_vfs *vfs, sqlite3_int64 *t) { return real_vfs->xCurrentTimeInt64 (real_vfs, t); }

static void
pc_install (void)
{
  real_vfs = sqlite3_vfs_find (NULL);
  g_assert_nonnull (real_vfs);
  pc_vfs.iVersion = 2;
  pc_vfs.szOsFile = sizeof (PcFile) + real_vfs->szOsFile;
  pc_vfs.mxPathname = real_vfs->mxPathname;
  pc_vfs.zName = "mailshot-powercut";
  pc_vfs.xOpen = pc_open;
  pc_vfs.xDelete = pc_delete;
  pc_vfs.xAccess = pc_access;
  pc_vfs.xFullPathname = pc_full_pathname;
  pc_vfs.xDlOpen = pc_dl_open;
  pc_vfs.xDlError = pc_dl_error;
  pc_vfs.xDlSym = pc_dl_sym;
  pc_vfs.xDlClose = pc_dl_close;
  pc_vfs.xRandomness = pc_randomness;
  pc_vfs.xSleep = pc_sleep;
  pc_vfs.xCurrentTime = pc_current_time;
  pc_vfs.xGetLastError = pc_get_last_error;
  pc_vfs.xCurrentTimeInt64 = pc_current_time_int64;
  /* The default: the journal opens through it without knowing. */
  g_assert_cmpint (sqlite3_vfs_register (&pc_vfs, 1), ==, SQLITE_OK);
  pending = g_ptr_array_new_with_free_func ((GDestroyNotify) pending_write_free);
}

static void
put_bytes (int     fd,
           gint64  offset,
           GBytes *bytes,
           gsize   start,
           gsize   len)
{
  const guint8 *data = g_bytes_get_data (bytes, NULL);

  g_assert_cmpint (pwrite (fd, data + start, len, offset + start), ==, (gssize) len);
}

/* The cut: every file back to its synced state, then each unsynced write
 * kept, dropped or torn, in order. Returns how many were not kept whole. */
static guint
pc_cut (void)
{
  g_autoptr(GHashTable) fds = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  guint lost = 0;

  /* Undo, newest first. */
  for (guint i = pending->len; i-- > 0;)
    {
      PendingWrite *w = pending->pdata[i];
      int fd = GPOINTER_TO_INT (g_hash_table_lookup (fds, w->path)) - 1;

      if (fd < 0)
        {
          fd = open (w->path, O_RDWR | O_CLOEXEC);
          if (fd < 0)
            continue;   /* deleted since */
          g_hash_table_insert (fds, g_strdup (w->path), GINT_TO_POINTER (fd + 1));
        }
      if (w->offset < 0)
        {
          g_assert_cmpint (ftruncate (fd, w->size_before), ==, 0);
          put_bytes (fd, w->size_after, w->old_data, 0, g_bytes_get_size (w->old_data));
        }
      else
        {
          put_bytes (fd, w->offset, w->old_data, 0, g_bytes_get_size (w->old_data));
          g_assert_cmpint (ftruncate (fd, w->size_before), ==, 0);
        }
    }

  /* Replay what the disk kept, oldest first. */
  for (guint i = 0; i < pending->len; i++)
    {
      PendingWrite *w = pending->pdata[i];
      int fd = GPOINTER_TO_INT (g_hash_table_lookup (fds, w->path)) - 1;
      int fate = g_test_rand_int_range (0, 10);   /* 0-4 kept, 5-8 dropped, 9 torn */
      struct stat st;

      if (fd < 0)
        continue;
      if (fate >= 5)
        lost++;
      if (w->offset < 0)
        {
          if (fate < 5)
            g_assert_cmpint (ftruncate (fd, w->size_after), ==, 0);
          continue;
        }
      if (fate < 5)
        put_bytes (fd, w->offset, w->new_data, 0, g_bytes_get_size (w->new_data));
      else if (fate == 9)
        {
          gsize len = g_bytes_get_size (w->new_data);

          for (gsize s = 0; s < len; s += SECTOR)
            if (g_test_rand_bit ())
              put_bytes (fd, w->offset, w->new_data, s, MIN (SECTOR, len - s));
        }
      /* A write past the end that was dropped leaves no hole of its own. */
      g_assert_cmpint (fstat (fd, &st), ==, 0);
    }

  {
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init (&iter, fds);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      close (GPOINTER_TO_INT (value) - 1);
  }
  g_ptr_array_set_size (pending, 0);
  return lost;
}

/* The engine, as ms-blast drives it ------------------------------------------- */

typedef struct {
  guint cuts;
  guint received;          /* messages the server received, over all cuts */
  guint uncertain;
  guint received_uncertain;
  guint sent;
  guint writes_lost;
  guint max_uncertain;
} Totals;

#define N_ROWS 120

static gint64
make_batch (MsJournal *journal)
{
  static const char *fields[] = { "email", NULL };
  MsBatchSpec spec = { .account = (char *) "default", .from_address = (char *) "s@example.org",
                       .subject = (char *) "Hi", .text = (char *) "Hi\n", .fields = (char **) fields };
  g_autoptr(GError) error = NULL;
  gint64 batch;

  g_assert_true (ms_journal_begin (journal, &error));
  batch = ms_journal_create_batch (journal, &spec, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < N_ROWS; i++)
    {
      g_autofree char *address = g_strdup_printf ("r%u@example.net", i);
      const char *values[] = { address, NULL };

      g_assert_true (ms_journal_add_recipient (journal, batch, address, values, i + 2, NULL, &error));
    }
  g_assert_true (ms_journal_commit (journal, &error));
  return batch;
}

/* Drops the side log's unsynced tail: everything after its header may go,
 * and the last line kept may be torn. */
static void
cut_side_log (const char *path)
{
  g_autofree char *contents = NULL;
  gsize len, header;

  if (!g_file_get_contents (path, &contents, &len, NULL))
    return;
  header = strchr (contents, '\n') != NULL ? (gsize) (strchr (contents, '\n') - contents + 1) : len;
  if (len > header)
    {
      gsize keep = header + (gsize) g_test_rand_int_range (0, (gint32) (len - header + 1));

      g_assert_cmpint (truncate (path, keep), ==, 0);
    }
}

static void
one_cut (guint   round,
         guint   group,
         Totals *totals)
{
  g_autofree char *name = g_strdup_printf ("powercut-%u-%u.sqlite", round, g_random_int ());
  g_autofree char *path = ms_test_tmp_path (name);
  g_autofree char *shm = g_strconcat (path, "-shm", NULL);
  g_autofree char *log_path = NULL;
  g_autoptr(MsJournal) journal = NULL;
  g_autoptr(MsSidelog) log = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GHashTable) received = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GArray) outcomes = g_array_new (FALSE, TRUE, sizeof (MsJournalOutcome));
  g_autofree char *boot = g_strdup_printf ("boot-after-cut-%u", round);
  guint steps = 0, cut_at = (guint) g_test_rand_int_range (1, 4 * N_ROWS);
  guint counts[MS_N_STATES];
  gint64 batch;

  /* The batch, imported and on disk (closing checkpoints and syncs). */
  journal = ms_journal_open (path, &error);
  g_assert_no_error (error);
  batch = make_batch (journal);
  g_clear_object (&journal);
  g_ptr_array_set_size (pending, 0);

  journal = ms_journal_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (ms_journal_lock_batch (journal, batch, &error));
  log_path = ms_journal_dup_sidelog_path (journal, batch);
  log = ms_sidelog_create (log_path, &error);
  g_assert_no_error (error);

  /* Claim a group, then for each row: "end sent", the server has it, its
   * answer; outcomes recorded in short batches. The power goes at step
   * cut_at, wherever that is. */
  while (steps < cut_at)
    {
      g_autoptr(GPtrArray) rows = ms_journal_claim (journal, batch, group, g_get_real_time () / G_USEC_PER_SEC,
                                                    &error);

      g_assert_no_error (error);
      if (rows->len == 0)
        break;
      for (guint i = 0; i < rows->len && steps < cut_at; i++)
        {
          MsJournalRow *row = rows->pdata[i];
          gboolean accepted = g_test_rand_int_range (0, 8) != 0;
          MsJournalOutcome o = { .row_id = row->id };

          if (++steps >= cut_at)
            break;
          g_assert_true (ms_sidelog_note_end (log, row->id));
          if (++steps >= cut_at)
            break;
          /* The end of the message went out: the server has it, unless it
           * refuses it in its answer. */
          if (accepted)
            g_hash_table_add (received, g_memdup2 (&row->id, sizeof row->id));
          if (++steps >= cut_at)
            break;
          if (accepted)
            {
              g_assert_true (ms_sidelog_note_accepted (log, row->id, g_get_real_time () / G_USEC_PER_SEC, 250,
                                                       "2.0.0 Ok", "id@x"));
              o.state = MS_STATE_SENT;
              o.reply_code = 250;
              o.reply_text = "2.0.0 Ok";
            }
          else
            {
              g_assert_true (ms_sidelog_note_refused (log, row->id));
              o.state = MS_STATE_FAILED;
              o.reply_code = 550;
              o.reply_text = "5.1.1 No such user";
            }
          g_array_append_val (outcomes, o);
          if (outcomes->len >= 16 || g_test_rand_int_range (0, 10) == 0)
            {
              g_assert_true (ms_journal_record (journal, (MsJournalOutcome *) outcomes->data, outcomes->len,
                                                &error));
              g_assert_no_error (error);
              g_array_set_size (outcomes, 0);
            }
        }
    }

  /* The cut: nothing more reaches the disk; the process goes down. */
  dead = TRUE;
  g_clear_object (&journal);
  g_clear_pointer (&log, ms_sidelog_free);
  dead = FALSE;
  totals->writes_lost += pc_cut ();
  cut_side_log (log_path);
  g_unlink (shm);

  /* The machine boots again; recovery runs at the first open. */
  ms_sidelog_set_boot_id (boot);
  journal = ms_journal_open (path, &error);
  ms_sidelog_set_boot_id (NULL);
  g_assert_no_error (error);
  g_assert_true (ms_journal_get_counts (journal, batch, counts, &error));
  g_assert_cmpuint (counts[MS_STATE_SENDING], ==, 0);

  {
    g_autoptr(GPtrArray) rows = ms_journal_list_rows (journal, batch, NULL, 0, &error);
    guint uncertain = 0;

    g_assert_no_error (error);
    g_assert_cmpuint (rows->len, ==, N_ROWS);
    for (guint i = 0; i < rows->len; i++)
      {
        MsJournalRow *row = rows->pdata[i];
        gboolean got = g_hash_table_contains (received, &row->id);

        /* The promise: a row the server received is never queued again. */
        if (got && (row->state == MS_STATE_QUEUED || row->state == MS_STATE_DEFERRED))
          g_error ("cut %u (group %u, step %u of %u): row %" G_GINT64_FORMAT " reached the server, yet it is %s",
                   round, group, steps, cut_at, row->id, ms_recipient_state_to_string (row->state));
        /* Nor is a row called sent that never got there. */
        if (!got && row->state == MS_STATE_SENT)
          g_error ("cut %u: row %" G_GINT64_FORMAT " is sent, yet the server never got it", round, row->id);
        if (row->state == MS_STATE_UNCERTAIN)
          {
            uncertain++;
            totals->received_uncertain += got;
          }
        totals->sent += row->state == MS_STATE_SENT;
      }
    totals->uncertain += uncertain;
    totals->max_uncertain = MAX (totals->max_uncertain, uncertain);
  }
  totals->received += g_hash_table_size (received);
  totals->cuts++;

  g_clear_object (&journal);
  {
    g_autofree char *wal = g_strconcat (path, "-wal", NULL);

    g_unlink (path);
    g_unlink (wal);
    g_unlink (shm);
    g_unlink (log_path);
  }
}

static void
run_cuts (guint group,
          guint n)
{
  Totals totals = { 0 };

  for (guint i = 0; i < n; i++)
    one_cut (i, group, &totals);
  g_test_message ("group %u: %u cuts, %u unsynced writes lost or torn; the server received %u messages: %u sent, "
                  "%u uncertain (%u of them received, at most %u after one cut), 0 queued again",
                  group, totals.cuts, totals.writes_lost, totals.received, totals.sent, totals.uncertain,
                  totals.received_uncertain, totals.max_uncertain);
  /* The cut lost something now and then, or the test proves nothing. */
  g_assert_cmpuint (totals.writes_lost, >, 0);
}

static void
test_cuts_small_groups (void)
{
  run_cuts (4, 120);
}

static void
test_cuts_large_groups (void)
{
  run_cuts (32, 120);
}

/* The group the blast claims at least (CLAIM_GROUP). */
static void
test_cuts_blast_groups (void)
{
  run_cuts (64, 60);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);
  ms_core_init ();
  pc_install ();

  g_test_add_func ("/mailshot/powercut/small-groups", test_cuts_small_groups);
  g_test_add_func ("/mailshot/powercut/large-groups", test_cuts_large_groups);
  g_test_add_func ("/mailshot/powercut/blast-groups", test_cuts_blast_groups);
  return g_test_run ();
}
