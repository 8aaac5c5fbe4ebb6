/* ms-journal.c: the SQLite journal of batches and recipients, the source of truth
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <sqlite3.h>

#include "ms-error.h"
#include "ms-journal.h"
#include "ms-recipients.h"
#include "ms-sidelog.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3, sqlite3_close_v2)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (sqlite3_stmt, sqlite3_finalize)

/* A cached statement borrowed for one call: the cleanup resets it instead of
 * finalizing it, so that it is ready for the next caller. */
typedef sqlite3_stmt MsCachedStmt;

static void
cached_stmt_reset (MsCachedStmt *stmt)
{
  sqlite3_reset (stmt);
  sqlite3_clear_bindings (stmt);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsCachedStmt, cached_stmt_reset)

/* Other processes (the GUI and the CLI) may hold the write lock for the
 * length of an import; wait for them rather than fail. */
#define BUSY_TIMEOUT_MS 15000
/* The page cache: small, so that memory stays flat from ten thousand to a
 * million rows (it fills up either way: the counts walk a batch's index
 * every few seconds). A run has two journals and its import a third. 1 MiB
 * (2 MiB before) took a million-row `blast send` from 25.7 to 24.6 MB, and
 * no figure of bench/ got slower. An import only appends, and its
 * duplicate keys go in sorted at each chunk's commit, so it needs no more. */
#define CACHE_KIB        1024
/* The filter of an import's duplicate keys (see Bloom): bits per key, and
 * the 64-byte blocks of its first layer. About 6 % false positives, each
 * one a lookup in recipient_keys (a microsecond or two): at 8 bits and 7
 * probes it was 2 %, and the filter of a million keys 1.4 MB larger, the
 * last of what made the job's peak grow with the list. */
#define BLOOM_BITS_PER_KEY 6
#define BLOOM_FIRST_BLOCKS 1024
/* Below this much free space, a journal that failed to write is on a full
 * disk: SQLite needs up to 32 KiB for the -shm file and a few pages of WAL,
 * and ext4 keeps a reserve that root may still use. */
#define FULL_DISK_BYTES (1024 * 1024)
/* Times a contended batch lock is retried: recovery in another process holds
 * it for a few milliseconds only. */
#define LOCK_RETRIES 10

/* Schema migrations: migrations[n] takes the journal from user_version n to
 * n + 1. A new version is one more entry; never edit a released one. */
static const char * const migrations[] = {
  /* 0 → 1 */
  "CREATE TABLE batches ("
  "  id INTEGER PRIMARY KEY,"
  "  created INTEGER NOT NULL,"
  "  account TEXT NOT NULL,"
  "  from_address TEXT,"
  "  from_name TEXT,"
  "  subject TEXT,"
  "  text TEXT,"
  "  html TEXT,"
  "  attachments BLOB,"          /* paths, each NUL-terminated */
  "  unsubscribe TEXT,"
  "  fields BLOB NOT NULL,"      /* the CSV header, each NUL-terminated */
  "  email_index INTEGER NOT NULL,"
  "  source TEXT,"
  "  status INTEGER NOT NULL DEFAULT 0,"
  "  pause_reason TEXT,"
  "  locked_by TEXT,"            /* for people: the lock file is the lock */
  "  updated_at INTEGER NOT NULL DEFAULT 0"
  ");"
  "CREATE TABLE recipients ("
  "  id INTEGER PRIMARY KEY,"
  "  batch INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,"
  "  address TEXT NOT NULL,"
  "  address_key INTEGER NOT NULL," /* hash of the lower-case address: see hash_key() */
  "  vals BLOB,"                 /* the CSV row, each value NUL-terminated */
  "  line INTEGER NOT NULL DEFAULT 0,"
  "  state INTEGER NOT NULL DEFAULT 0,"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  reply_code INTEGER NOT NULL DEFAULT 0,"
  "  reply_text TEXT,"
  "  reply_class TEXT,"
  "  advice TEXT,"
  "  message_id TEXT,"
  "  queued_at INTEGER NOT NULL DEFAULT 0,"
  "  first_attempt_at INTEGER NOT NULL DEFAULT 0,"
  "  sent_at INTEGER NOT NULL DEFAULT 0,"
  "  next_due INTEGER NOT NULL DEFAULT 0,"
  "  updated_at INTEGER NOT NULL DEFAULT 0,"
  "  UNIQUE (batch, address_key)"
  ");"
  /* Claiming walks (batch, state, next_due) in index order, without a sort. */
  "CREATE INDEX recipients_claim ON recipients (batch, state, next_due);"
  /* Rows of one batch in id order, for streaming reports without a sort. */
  "CREATE INDEX recipients_batch ON recipients (batch);"
  /* Seeding the pacer's rolling day; partial, so imports do not pay for it. */
  "CREATE INDEX recipients_sent ON recipients (sent_at) WHERE state = 2;",

  /* 1 → 2: the duplicate keys move out of the recipients table into their
   * own, which an import fills in key order at its commit: a UNIQUE index
   * on random hashes, kept up to date row by row, was half of the CPU time
   * of a million-row import. recipients.address_key stays, as the row's own
   * copy of its key. (SQLite drops a constraint only by copying the table.) */
  "CREATE TABLE recipient_keys ("
  "  batch INTEGER NOT NULL,"
  "  key INTEGER NOT NULL,"
  "  row INTEGER NOT NULL,"
  "  PRIMARY KEY (batch, key)"
  ") WITHOUT ROWID;"
  "INSERT INTO recipient_keys (batch, key, row) SELECT batch, address_key, id FROM recipients"
  "  ORDER BY batch, address_key;"
  "CREATE TABLE recipients_2 ("
  "  id INTEGER PRIMARY KEY,"
  "  batch INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,"
  "  address TEXT NOT NULL,"
  "  address_key INTEGER NOT NULL,"
  "  vals BLOB,"
  "  line INTEGER NOT NULL DEFAULT 0,"
  "  state INTEGER NOT NULL DEFAULT 0,"
  "  attempts INTEGER NOT NULL DEFAULT 0,"
  "  reply_code INTEGER NOT NULL DEFAULT 0,"
  "  reply_text TEXT,"
  "  reply_class TEXT,"
  "  advice TEXT,"
  "  message_id TEXT,"
  "  queued_at INTEGER NOT NULL DEFAULT 0,"
  "  first_attempt_at INTEGER NOT NULL DEFAULT 0,"
  "  sent_at INTEGER NOT NULL DEFAULT 0,"
  "  next_due INTEGER NOT NULL DEFAULT 0,"
  "  updated_at INTEGER NOT NULL DEFAULT 0"
  ");"
  "INSERT INTO recipients_2 SELECT id, batch, address, address_key, vals, line, state, attempts, reply_code,"
  "  reply_text, reply_class, advice, message_id, queued_at, first_attempt_at, sent_at, next_due, updated_at"
  "  FROM recipients;"
  "DROP TABLE recipients;"
  "ALTER TABLE recipients_2 RENAME TO recipients;"
  "CREATE INDEX recipients_claim ON recipients (batch, state, next_due);"
  "CREATE INDEX recipients_batch ON recipients (batch);"
  "CREATE INDEX recipients_sent ON recipients (sent_at) WHERE state = 2;",

  /* 2 → 3: the rows an import left out (a bad address, a wrong number of
   * fields...), which never become recipients, kept with their line and
   * why, so that the batch's report lists them. */
  "CREATE TABLE left_out ("
  "  batch INTEGER NOT NULL REFERENCES batches (id) ON DELETE CASCADE,"
  "  line INTEGER NOT NULL,"
  "  vals BLOB,"                 /* the CSV row, NULL when it was not one (wrong field count) */
  "  reason TEXT NOT NULL,"      /* translated at import: ms_recipients_get_problem_detail() */
  "  PRIMARY KEY (batch, line)"
  ") WITHOUT ROWID;",

  /* 3 → 4: a batch sent while its list is imported (ms_import_start())
   * keeps this set until the whole list is in, so that a resume after a
   * crash imports the rest. */
  "ALTER TABLE batches ADD COLUMN import_unfinished INTEGER NOT NULL DEFAULT 0;",

  /* 4 → 5: what identified the list's file when such an import began
   * (ms_journal_set_source_identity()), so that a resume refuses to import
   * the rest of another file, or of this one changed. NULL: not recorded. */
  "ALTER TABLE batches ADD COLUMN source_size INTEGER;"
  "ALTER TABLE batches ADD COLUMN source_mtime INTEGER;"
  "ALTER TABLE batches ADD COLUMN source_sha256 TEXT;",
};

#define ROW_COLUMNS \
  "id, batch, address, vals, line, state, attempts, reply_code, reply_text, " \
  "reply_class, advice, message_id, queued_at, sent_at, next_due, updated_at, " \
  "first_attempt_at"

#define BATCH_INFO_COLUMNS "id, created, status, subject, account, pause_reason, import_unfinished"

typedef enum {
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_SAVEPOINT,
  STMT_RELEASE,
  STMT_ROLLBACK_TO,
  STMT_INSERT_BATCH,
  STMT_INSERT_ROW,
  STMT_INSERT_KEY,
  STMT_DELETE_KEY,
  STMT_ROW_ADDRESS,
  STMT_GET_SPEC,
  STMT_GET_INFO,
  STMT_LIST_BATCHES,
  STMT_COUNTS,
  STMT_SET_STATUS,
  STMT_CLAIM_DEFERRED,
  STMT_CLAIM_QUEUED,
  STMT_MARK_SENDING,
  STMT_RECORD,
  STMT_RELEASE_ROW,
  STMT_NEXT_DUE,
  STMT_NEXT_DUE_ALL,
  STMT_GET_ROW,
  STMT_RETRY_ROW,
  STMT_SKIP_ROW,
  STMT_SET_ADDRESS,
  STMT_FIND_KEY,
  STMT_CANCEL_ROWS,
  STMT_SENT_TIMES,
  STMT_RECOVERABLE_BATCHES,
  STMT_SET_LOCKED_BY,
  STMT_INSERT_LEFT_OUT,
  STMT_SENDING_ROWS,
  STMT_RECOVER_ROW,
  STMT_RECOVER_SENT,
  STMT_SYNC_FULL,
  STMT_SYNC_NORMAL,
  N_STMTS
} StmtId;

static const char * const stmt_sql[N_STMTS] = {
  [STMT_BEGIN] = "BEGIN IMMEDIATE",
  [STMT_COMMIT] = "COMMIT",
  [STMT_ROLLBACK] = "ROLLBACK",
  [STMT_SAVEPOINT] = "SAVEPOINT ms_nested",
  [STMT_RELEASE] = "RELEASE ms_nested",
  [STMT_ROLLBACK_TO] = "ROLLBACK TO ms_nested",
  [STMT_INSERT_BATCH] =
    "INSERT INTO batches (created, account, from_address, from_name, subject, text, html,"
    " attachments, unsubscribe, fields, email_index, source, status, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 0, ?1)",
  [STMT_INSERT_ROW] =
    "INSERT INTO recipients (batch, address, address_key, vals, line, queued_at, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
  [STMT_INSERT_KEY] = "INSERT INTO recipient_keys (batch, key, row) VALUES (?1, ?2, ?3)",
  [STMT_DELETE_KEY] =
    "DELETE FROM recipient_keys WHERE batch = ?1 AND row = ?2"
    " AND key = (SELECT address_key FROM recipients WHERE id = ?2)",
  [STMT_GET_SPEC] =
    "SELECT account, from_address, from_name, subject, text, html, attachments, unsubscribe,"
    " fields, email_index, source FROM batches WHERE id = ?1",
  [STMT_GET_INFO] = "SELECT " BATCH_INFO_COLUMNS " FROM batches WHERE id = ?1",
  [STMT_LIST_BATCHES] = "SELECT " BATCH_INFO_COLUMNS " FROM batches ORDER BY id DESC",
  [STMT_COUNTS] = "SELECT state, count(*) FROM recipients WHERE batch = ?1 GROUP BY state",
  [STMT_SET_STATUS] =
    "UPDATE batches SET status = ?2, pause_reason = ?3, updated_at = ?4 WHERE id = ?1",
  [STMT_CLAIM_DEFERRED] =
    "SELECT " ROW_COLUMNS " FROM recipients"
    " WHERE batch = ?1 AND state = 3 AND next_due <= ?2 ORDER BY next_due, id LIMIT ?3",
  [STMT_CLAIM_QUEUED] =
    "SELECT " ROW_COLUMNS " FROM recipients"
    " WHERE batch = ?1 AND state = 0 ORDER BY next_due, id LIMIT ?2",
  [STMT_MARK_SENDING] =
    "UPDATE recipients SET state = 1, attempts = attempts + 1,"
    " first_attempt_at = CASE first_attempt_at WHEN 0 THEN ?2 ELSE first_attempt_at END,"
    " next_due = 0, updated_at = ?2 WHERE id = ?1",
  [STMT_RECORD] =
    "UPDATE recipients SET state = ?2, reply_code = ?3, reply_text = ?4, reply_class = ?5,"
    " advice = ?6, message_id = coalesce (?7, message_id), next_due = ?8,"
    " sent_at = CASE WHEN ?2 = 2 THEN ?9 ELSE sent_at END, updated_at = ?9 WHERE id = ?1",
  /* The attempt did not happen: give it back. */
  [STMT_RELEASE_ROW] =
    "UPDATE recipients SET state = 0, next_due = 0, attempts = max (attempts - 1, 0),"
    " first_attempt_at = CASE WHEN attempts <= 1 THEN 0 ELSE first_attempt_at END,"
    " updated_at = ?2 WHERE id = ?1 AND state = 1",
  [STMT_NEXT_DUE] = "SELECT min (next_due) FROM recipients WHERE batch = ?1 AND state = 3",
  [STMT_NEXT_DUE_ALL] = "SELECT min (next_due) FROM recipients WHERE state = 3",
  [STMT_GET_ROW] = "SELECT " ROW_COLUMNS " FROM recipients WHERE id = ?1",
  /* A retry is the user's fresh decision: the backoff and the day of trying start over. */
  [STMT_RETRY_ROW] =
    "UPDATE recipients SET state = 0, next_due = 0, attempts = 0, first_attempt_at = 0,"
    " updated_at = ?2 WHERE id = ?1",
  [STMT_SKIP_ROW] =
    "UPDATE recipients SET state = 7, next_due = 0, updated_at = ?2 WHERE id = ?1",
  [STMT_SET_ADDRESS] =
    "UPDATE recipients SET address = ?2, address_key = ?3, vals = ?4, updated_at = ?5 WHERE id = ?1",
  [STMT_FIND_KEY] =
    "SELECT k.row, r.address FROM recipient_keys AS k JOIN recipients AS r ON r.id = k.row"
    " WHERE k.batch = ?1 AND k.key = ?2",
  [STMT_ROW_ADDRESS] = "SELECT address FROM recipients WHERE id = ?1",
  [STMT_CANCEL_ROWS] =
    "UPDATE recipients SET state = 6, next_due = 0, updated_at = ?2"
    " WHERE batch = ?1 AND state IN (0, 3)",
  [STMT_SENT_TIMES] =
    "SELECT r.sent_at FROM recipients AS r JOIN batches AS b ON b.id = r.batch"
    " WHERE r.state = 2 AND r.sent_at >= ?1 AND (?2 IS NULL OR b.account = ?2)"
    " ORDER BY r.sent_at",
  [STMT_RECOVERABLE_BATCHES] =
    "SELECT id, locked_by LIKE 'import %' FROM batches WHERE status = 1 OR locked_by LIKE 'import %'"
    " OR EXISTS (SELECT 1 FROM recipients WHERE batch = batches.id AND state = 1)",
  [STMT_SET_LOCKED_BY] = "UPDATE batches SET locked_by = ?2 WHERE id = ?1",
  [STMT_INSERT_LEFT_OUT] = "INSERT OR REPLACE INTO left_out (batch, line, vals, reason) VALUES (?1, ?2, ?3, ?4)",
  [STMT_SENDING_ROWS] = "SELECT id FROM recipients WHERE batch = ?1 AND state = 1",
  [STMT_RECOVER_ROW] =
    "UPDATE recipients SET state = 5, advice = ?3, updated_at = ?2 WHERE id = ?1 AND state = 1",
  /* The side log saw the server accept it: as ms_journal_record() would. */
  [STMT_RECOVER_SENT] =
    "UPDATE recipients SET state = 2, reply_code = ?3, reply_text = ?4, reply_class = NULL, advice = NULL,"
    " message_id = coalesce (?5, message_id), next_due = 0, sent_at = ?6, updated_at = ?2"
    " WHERE id = ?1 AND state = 1",
  [STMT_SYNC_FULL] = "PRAGMA synchronous = FULL",
  [STMT_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
};

/* The left-out rows of a batch in line order (the primary key's), with the
 * batch's address column to find their address in. */
#define LEFT_OUT_SQL \
  "SELECT l.batch, l.line, l.vals, l.reason, b.email_index FROM left_out AS l" \
  " JOIN batches AS b ON b.id = l.batch WHERE l.batch = ?1 ORDER BY l.line"


typedef struct {
  int   fd;
  char *path;
} BatchLock;

struct _MsJournal
{
  GObject parent_instance;

  char *path;
  sqlite3 *db;
  sqlite3_stmt *stmts[N_STMTS];
  /* Opened by ms_journal_open_for_reading() without write access: no
   * migration, no recovery, every change refused. */
  gboolean read_only;
  int unwritable;           /* an Unwritable: why, when known */
  /* 0 = no transaction; 1 = BEGIN IMMEDIATE; deeper levels are savepoints. */
  guint txn_depth;
  GHashTable *locks;      /* gint64* batch → BatchLock* */

  /* Reused by ms_journal_add_recipient() so an import does not allocate per row. */
  GByteArray *blob;
  GString *key;

  /* The duplicate keys of the rows the outermost transaction added to one
   * batch, not yet in recipient_keys: written in key order before it
   * commits (flush_pending_keys), which makes that a run of appends. An
   * open-addressing index (1 + position in pending_keys, 0 = free) finds
   * them meanwhile. 24 bytes a row at most: 24 MB for a million. */
  gint64 pending_batch;
  GArray *pending_keys;          /* PendingKey */
  guint32 *pending_index;
  gsize pending_mask;            /* index size - 1; 0 = no index yet */
  /* A batch created by this transaction has no keys in the table yet. */
  gint64 fresh_batch;
  /* The batch this journal is importing, committed in chunks: every key it
   * has in recipient_keys went in through this journal, so a key the
   * filter has never seen needs no lookup. Bloom layers of doubling size:
   * 1.2 MB for a million keys, where the keys themselves took 24 MB. */
  gint64 import_batch;
  GArray *bloom;                 /* BloomLayer */
  gboolean small_cache;          /* an import sent while it goes on */
};

typedef struct {
  guint64 *bits;
  guint64  mask;                 /* blocks - 1, a power of two */
  guint    count, capacity;
} BloomLayer;

typedef struct {
  gint64 key;
  gint64 row;
} PendingKey;

G_DEFINE_FINAL_TYPE (MsJournal, ms_journal, G_TYPE_OBJECT)

enum {
  PROP_0,
  PROP_PATH,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

/* States and statuses ---------------------------------------------------- */

static const char * const state_names[MS_N_STATES] = {
  "queued", "sending", "sent", "deferred", "failed", "uncertain", "cancelled", "skipped",
};

/**
 * ms_recipient_state_to_string:
 *
 * Returns: the stable lower-case word for @state, as `report --csv` prints it.
 */
const char *
ms_recipient_state_to_string (MsRecipientState state)
{
  g_return_val_if_fail (state < MS_N_STATES, NULL);
  return state_names[state];
}

/**
 * ms_recipient_state_from_string:
 *
 * Parses a word from ms_recipient_state_to_string(), ignoring case.
 */
gboolean
ms_recipient_state_from_string (const char       *str,
                                MsRecipientState *state)
{
  g_return_val_if_fail (str != NULL, FALSE);

  for (guint i = 0; i < MS_N_STATES; i++)
    if (g_ascii_strcasecmp (str, state_names[i]) == 0)
      {
        if (state)
          *state = i;
        return TRUE;
      }
  return FALSE;
}

/**
 * ms_recipient_state_get_label:
 *
 * Returns: @state in words for people, translated.
 */
const char *
ms_recipient_state_get_label (MsRecipientState state)
{
  switch (state)
    {
    case MS_STATE_QUEUED:
      return C_("recipient state", "Queued");
    case MS_STATE_SENDING:
      return C_("recipient state", "Sending");
    case MS_STATE_SENT:
      return C_("recipient state", "Sent");
    case MS_STATE_DEFERRED:
      return C_("recipient state", "Deferred");
    case MS_STATE_FAILED:
      return C_("recipient state", "Failed");
    case MS_STATE_UNCERTAIN:
      return C_("recipient state", "Uncertain");
    case MS_STATE_CANCELLED:
      return C_("recipient state", "Cancelled");
    case MS_STATE_SKIPPED:
      return C_("recipient state", "Skipped");
    case MS_N_STATES:
    default:
      break;
    }
  g_return_val_if_reached (NULL);
}

/**
 * ms_batch_status_to_string:
 *
 * Returns: the stable lower-case word for @status.
 */
const char *
ms_batch_status_to_string (MsBatchStatus status)
{
  switch (status)
    {
    case MS_BATCH_READY:
      return "ready";
    case MS_BATCH_RUNNING:
      return "running";
    case MS_BATCH_PAUSED:
      return "paused";
    case MS_BATCH_FINISHED:
      return "finished";
    case MS_BATCH_CANCELLED:
      return "cancelled";
    default:
      break;
    }
  g_return_val_if_reached (NULL);
}

/* Boxed-ish structs ------------------------------------------------------ */

/**
 * ms_batch_spec_copy:
 *
 * Returns: (transfer full): a deep copy of @spec.
 */
MsBatchSpec *
ms_batch_spec_copy (const MsBatchSpec *spec)
{
  MsBatchSpec *copy;

  g_return_val_if_fail (spec != NULL, NULL);

  copy = g_new0 (MsBatchSpec, 1);
  copy->account = g_strdup (spec->account);
  copy->from_address = g_strdup (spec->from_address);
  copy->from_name = g_strdup (spec->from_name);
  copy->subject = g_strdup (spec->subject);
  copy->text = g_strdup (spec->text);
  copy->html = g_strdup (spec->html);
  copy->attachments = g_strdupv (spec->attachments);
  copy->unsubscribe = g_strdup (spec->unsubscribe);
  copy->fields = g_strdupv (spec->fields);
  copy->email_index = spec->email_index;
  copy->source = g_strdup (spec->source);
  return copy;
}

void
ms_batch_spec_free (MsBatchSpec *spec)
{
  if (spec == NULL)
    return;
  g_free (spec->account);
  g_free (spec->from_address);
  g_free (spec->from_name);
  g_free (spec->subject);
  g_free (spec->text);
  g_free (spec->html);
  g_strfreev (spec->attachments);
  g_free (spec->unsubscribe);
  g_strfreev (spec->fields);
  g_free (spec->source);
  g_free (spec);
}

void
ms_batch_info_free (MsBatchInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->subject);
  g_free (info->account);
  g_free (info->pause_reason);
  g_free (info);
}

void
ms_journal_row_free (MsJournalRow *row)
{
  if (row == NULL)
    return;
  g_free (row->address);
  g_strfreev (row->values);
  g_free (row->reply_text);
  g_free (row->advice);
  g_free (row->message_id);
  g_free (row);
}

void
ms_journal_left_out_free (MsJournalLeftOut *left_out)
{
  if (left_out == NULL)
    return;
  g_free (left_out->address);
  g_strfreev (left_out->values);
  g_free (left_out->reason);
  g_free (left_out);
}

/* Helpers ----------------------------------------------------------------- */

static gint64
now_seconds (void)
{
  return g_get_real_time () / G_USEC_PER_SEC;
}

/* A string list as one BLOB: each value NUL-terminated, so that empty values,
 * newlines and any UTF-8 round-trip, and an empty list is an empty BLOB. */
static void
encode_strv (GByteArray         *blob,
             const char * const *strv)
{
  g_byte_array_set_size (blob, 0);
  for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
    g_byte_array_append (blob, (const guint8 *) strv[i], strlen (strv[i]) + 1);
}

static char **
decode_strv (const void *data,
             int         len)
{
  const char *p = data;
  const char *end = p + (len > 0 ? len : 0);
  GPtrArray *out = g_ptr_array_new ();

  while (p < end)
    {
      const char *nul = memchr (p, '\0', end - p);
      gsize n = nul ? (gsize) (nul - p) : (gsize) (end - p);

      g_ptr_array_add (out, g_strndup (p, n));
      p += n + 1;
    }
  g_ptr_array_add (out, NULL);
  return (char **) g_ptr_array_free (out, FALSE);
}

static char **
column_strv (sqlite3_stmt *stmt,
             int           col)
{
  return decode_strv (sqlite3_column_blob (stmt, col), sqlite3_column_bytes (stmt, col));
}

static char *
column_dup (sqlite3_stmt *stmt,
            int           col)
{
  return g_strdup ((const char *) sqlite3_column_text (stmt, col));
}

/* Duplicates are found on a lower-case key; ASCII (nearly every address)
 * avoids an allocation. */
static const char *
address_key (GString    *key,
             const char *address)
{
  gboolean ascii = TRUE;

  g_string_truncate (key, 0);
  for (const char *p = address; *p; p++)
    {
      if ((guchar) *p >= 0x80)
        {
          ascii = FALSE;
          break;
        }
      g_string_append_c (key, g_ascii_tolower (*p));
    }

  if (!ascii)
    {
      g_autofree char *lower = NULL;

      g_string_truncate (key, 0);
      if (g_utf8_validate (address, -1, NULL))
        lower = g_utf8_strdown (address, -1);
      else
        lower = g_ascii_strdown (address, -1);
      g_string_append (key, lower);
    }
  return key->str;
}

/* The duplicate key is a 64-bit hash of the lower-case address, not the
 * text: the key index is then a third of the size, and random inserts
 * into a text index were most of the cost of a million-row import. Two
 * different addresses with one hash (about 1 in 10^7 for a million rows)
 * are still told apart: the second probes on to the next free key (see
 * probe_key()). FNV-1a, then a finaliser so that nearby addresses scatter. */
static gint64
hash_key (const char *key,
          gsize       len)
{
  guint64 h = G_GUINT64_CONSTANT (0xcbf29ce484222325);

  for (gsize i = 0; i < len; i++)
    {
      h ^= (guchar) key[i];
      h *= G_GUINT64_CONSTANT (0x100000001b3);
    }
  h ^= h >> 33;
  h *= G_GUINT64_CONSTANT (0xff51afd7ed558ccd);
  h ^= h >> 33;
  h *= G_GUINT64_CONSTANT (0xc4ceb9fe1a85ec53);
  h ^= h >> 33;
  return (gint64) h;
}

static void
bind_text_or_null (sqlite3_stmt *stmt,
                   int           col,
                   const char   *text)
{
  if (text != NULL)
    sqlite3_bind_text (stmt, col, text, -1, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null (stmt, col);
}

/* Why the journal cannot be written, when a failure says it may be so. */
typedef enum {
  UNWRITABLE_UNKNOWN,
  UNWRITABLE_FULL,
  UNWRITABLE_READ_ONLY_FS,
  UNWRITABLE_PERMISSION,
} Unwritable;

/* Looks at the disk instead of trusting the SQLite code alone: a full
 * tmpfs fails the -shm file with SQLITE_IOERR, not SQLITE_FULL, and a
 * read-only mount looks like SQLITE_READONLY or SQLITE_CANTOPEN. */
static Unwritable
diagnose_unwritable (const char *path,
                     int         rc)
{
  g_autofree char *dir = g_path_get_dirname (path);
  const char *where = g_file_test (path, G_FILE_TEST_EXISTS) ? path : dir;
  struct statvfs vfs;

  if (statvfs (where, &vfs) == 0)
    {
      if (vfs.f_flag & ST_RDONLY)
        return UNWRITABLE_READ_ONLY_FS;
      /* Some file systems (btrfs) count no inodes at all: f_files is 0. */
      if ((guint64) vfs.f_bavail * vfs.f_frsize < FULL_DISK_BYTES || (vfs.f_files > 0 && vfs.f_favail == 0))
        return UNWRITABLE_FULL;
    }
  /* Over quota shows as ENOSPC/EDQUOT, which SQLite reports as FULL. */
  if ((rc & 0xff) == SQLITE_FULL)
    return UNWRITABLE_FULL;
  if ((g_file_test (path, G_FILE_TEST_EXISTS) && access (path, W_OK) != 0) || access (dir, W_OK | X_OK) != 0)
    return UNWRITABLE_PERMISSION;
  return UNWRITABLE_UNKNOWN;
}

/* Why, in words, for the note of a journal opened read-only. */
static char *
unwritable_reason (Unwritable why)
{
  switch (why)
    {
    case UNWRITABLE_FULL:
      return g_strdup (_("the disk that holds it is full"));
    case UNWRITABLE_READ_ONLY_FS:
      return g_strdup (_("it is on a read-only file system"));
    case UNWRITABLE_PERMISSION:
      return g_strdup (_("there is no permission to change the file or its folder"));
    case UNWRITABLE_UNKNOWN:
    default:
      return g_strdup (_("it could not be opened for writing"));
    }
}

/* What is wrong, what to do, and that reading still works. */
static gboolean
set_unwritable_error (const char  *path,
                      Unwritable   why,
                      GError     **error)
{
  switch (why)
    {
    case UNWRITABLE_FULL:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s cannot be written: the disk that holds it is full. Free some space "
                     "on that disk, then try again. Until then, Mailshot can show the journal but not change it."),
                   path);
      return TRUE;
    case UNWRITABLE_READ_ONLY_FS:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s cannot be written: it is on a read-only file system. Make that file "
                     "system writable, then try again. Until then, Mailshot can show the journal but not "
                     "change it."),
                   path);
      return TRUE;
    case UNWRITABLE_PERMISSION:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s cannot be written: there is no permission to change the file or its "
                     "folder. Check their owner and permissions, then try again. Until then, Mailshot can show "
                     "the journal but not change it."),
                   path);
      return TRUE;
    case UNWRITABLE_UNKNOWN:
    default:
      return FALSE;
    }
}

static void
set_sqlite_error (const char  *path,
                  int          rc,
                  const char  *detail,
                  GError     **error)
{
  g_debug ("journal %s: sqlite error %d: %s", path, rc, detail ? detail : sqlite3_errstr (rc));

  if (detail == NULL)
    detail = sqlite3_errstr (rc);

  switch (rc & 0xff)
    {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      if (set_unwritable_error (path, diagnose_unwritable (path, rc), error))
        return;
      break;
    default:
      break;
    }

  switch (rc & 0xff)
    {
    case SQLITE_FULL:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The disk that holds the journal at %s is full. Free some space, then try again."),
                   path);
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s is kept busy by another Mailshot process. Try again in a moment."),
                   path);
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s is damaged or is not a Mailshot journal (%s). "
                     "Move the file aside to start a new journal."),
                   path, detail);
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s could not be opened for writing (%s). "
                     "Check the permissions of the file and of its folder."),
                   path, detail);
      break;
    default:
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s could not be used: %s. Check the disk space and permissions."),
                   path, detail);
      break;
    }
}

static gboolean
fail (MsJournal  *self,
      int         rc,
      GError    **error)
{
  /* A read-only journal refuses every change with SQLITE_READONLY (see
   * PRAGMA query_only): say why it cannot be written, as the open found. */
  if (self->read_only && (rc & 0xff) == SQLITE_READONLY &&
      set_unwritable_error (self->path, self->unwritable, error))
    return FALSE;
  set_sqlite_error (self->path, rc, sqlite3_errmsg (self->db), error);
  return FALSE;
}

/* Numbers go into translatable messages as strings: xgettext cuts a string
 * at a G_GINT64_FORMAT, since that is a macro. */
static char *
id_string (gint64 id)
{
  return g_strdup_printf ("%" G_GINT64_FORMAT, id);
}

static void
set_batch_not_found (gint64   batch,
                     GError **error)
{
  g_autofree char *id = id_string (batch);

  g_set_error (error, MS_ERROR, MS_ERROR_NOT_FOUND,
               _("No batch %s. “mailshot-cli blast list” shows the batches."), id);
}

static void
set_row_not_found (gint64   row,
                   GError **error)
{
  g_autofree char *id = id_string (row);

  g_set_error (error, MS_ERROR, MS_ERROR_NOT_FOUND,
               _("No recipient row %s. “mailshot-cli pending” lists the rows."), id);
}

/* Statements are prepared once, on first use, and kept for the life of the
 * connection. */
static MsCachedStmt *
get_stmt (MsJournal  *self,
          StmtId      id,
          GError    **error)
{
  g_assert (id < N_STMTS);

  if (self->stmts[id] == NULL)
    {
      int rc = sqlite3_prepare_v3 (self->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
                                   &self->stmts[id], NULL);
      if (rc != SQLITE_OK)
        {
          fail (self, rc, error);
          return NULL;
        }
    }
  return self->stmts[id];
}

/* Runs a statement that returns no rows. */
static gboolean
run_stmt (MsJournal     *self,
          MsCachedStmt  *stmt,
          GError       **error)
{
  int rc = sqlite3_step (stmt);

  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    return fail (self, rc, error);
  return TRUE;
}

/* Steps @id, bound to @key, to the one row it selects and leaves it there
 * for the caller to read (the caller's g_autoptr resets it). No row is the
 * user's mistake, told by @not_found, not a SQLite failure. */
static MsCachedStmt *
step_one (MsJournal  *self,
          StmtId      id,
          gint64      key,
          void      (*not_found) (gint64 key, GError **error),
          GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = get_stmt (self, id, error);
  int rc;

  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, key);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_DONE)
    {
      not_found (key, error);
      return NULL;
    }
  if (rc != SQLITE_ROW)
    {
      fail (self, rc, error);
      return NULL;
    }
  return g_steal_pointer (&stmt);
}

/* Pending keys (see MsJournal) ------------------------------------------- */

static gint64
pending_lookup (MsJournal *self,
                gint64     batch,
                gint64     key)
{
  if (self->pending_mask == 0 || batch != self->pending_batch)
    return 0;
  /* The keys are hashes already: their low bits are a good slot. */
  for (gsize i = (guint64) key & self->pending_mask; self->pending_index[i] != 0;
       i = (i + 1) & self->pending_mask)
    {
      const PendingKey *p = &g_array_index (self->pending_keys, PendingKey, self->pending_index[i] - 1);

      if (p->key == key)
        return p->row;
    }
  return 0;
}

static void
pending_index_insert (MsJournal *self,
                      guint32    position)   /* 1-based */
{
  gint64 key = g_array_index (self->pending_keys, PendingKey, position - 1).key;
  gsize i = (guint64) key & self->pending_mask;

  while (self->pending_index[i] != 0)
    i = (i + 1) & self->pending_mask;
  self->pending_index[i] = position;
}

static void
pending_add (MsJournal *self,
             gint64     batch,
             gint64     key,
             gint64     row)
{
  PendingKey p = { key, row };

  self->pending_batch = batch;
  g_array_append_val (self->pending_keys, p);
  /* At most half full, so that a probe stays short. */
  if ((gsize) self->pending_keys->len * 2 > self->pending_mask)
    {
      gsize size = self->pending_mask != 0 ? (self->pending_mask + 1) * 2 : 1024;

      g_free (self->pending_index);
      self->pending_index = g_new0 (guint32, size);
      self->pending_mask = size - 1;
      for (guint32 i = 1; i <= self->pending_keys->len; i++)
        pending_index_insert (self, i);
    }
  else
    pending_index_insert (self, self->pending_keys->len);
}

static void
pending_clear (MsJournal *self)
{
  if (self->pending_mask == 0 && self->pending_keys->len == 0)
    return;
  /* Give the memory back: a million rows held 24 MB. */
  g_array_unref (self->pending_keys);
  self->pending_keys = g_array_new (FALSE, FALSE, sizeof (PendingKey));
  g_clear_pointer (&self->pending_index, g_free);
  self->pending_mask = 0;
  self->pending_batch = 0;
}

/* Bloom filter of an import's committed keys --------------------------------- */

static void
bloom_layer_clear (gpointer data)
{
  g_free (((BloomLayer *) data)->bits);
}

static void
bloom_free (MsJournal *self)
{
  g_clear_pointer (&self->bloom, g_array_unref);
  self->import_batch = 0;
}

/* Blocked: every probe of a key falls in one 64-byte block (one cache miss
 * per layer instead of one per probe). The keys are hashes already: the low
 * bits pick the block, the rest the bits within it. */
#define BLOOM_PROBES 4
#define BLOOM_BLOCK_WORDS 8

static gboolean
bloom_layer_has (const BloomLayer *layer,
                 guint64           key)
{
  const guint64 *block = layer->bits + ((key & layer->mask) * BLOOM_BLOCK_WORDS);
  guint64 h = key >> 20 | key << 44;

  for (guint i = 0; i < BLOOM_PROBES; i++, h >>= 9)
    if (!(block[(h >> 6) & 7] & (G_GUINT64_CONSTANT (1) << (h & 63))))
      return FALSE;
  return TRUE;
}

static gboolean
bloom_maybe_has (MsJournal *self,
                 gint64     key)
{
  for (guint i = 0; self->bloom != NULL && i < self->bloom->len; i++)
    if (bloom_layer_has (&g_array_index (self->bloom, BloomLayer, i), (guint64) key))
      return TRUE;
  return FALSE;
}

static void
bloom_add (MsJournal *self,
           gint64     key)
{
  BloomLayer *layer = NULL;
  guint64 *block;
  guint64 h;

  if (self->bloom == NULL)
    {
      self->bloom = g_array_new (FALSE, TRUE, sizeof (BloomLayer));
      g_array_set_clear_func (self->bloom, bloom_layer_clear);
    }
  if (self->bloom->len > 0)
    layer = &g_array_index (self->bloom, BloomLayer, self->bloom->len - 1);
  if (layer == NULL || layer->count >= layer->capacity)
    {
      BloomLayer fresh = { 0 };
      /* A power of two of blocks, each layer twice the one before: the
       * capacity follows from the bits, none is wasted. */
      guint64 blocks = layer == NULL ? BLOOM_FIRST_BLOCKS : (layer->mask + 1) * 2;

      fresh.capacity = (guint) (blocks * BLOOM_BLOCK_WORDS * 64 / BLOOM_BITS_PER_KEY);
      fresh.mask = blocks - 1;
      fresh.bits = g_new0 (guint64, blocks * BLOOM_BLOCK_WORDS);
      g_array_append_val (self->bloom, fresh);
      layer = &g_array_index (self->bloom, BloomLayer, self->bloom->len - 1);
    }
  block = layer->bits + (((guint64) key & layer->mask) * BLOOM_BLOCK_WORDS);
  h = (guint64) key >> 20 | (guint64) key << 44;
  for (guint i = 0; i < BLOOM_PROBES; i++, h >>= 9)
    block[(h >> 6) & 7] |= G_GUINT64_CONSTANT (1) << (h & 63);
  layer->count++;
}

static int
compare_pending (gconstpointer a,
                 gconstpointer b)
{
  gint64 ka = ((const PendingKey *) a)->key;
  gint64 kb = ((const PendingKey *) b)->key;

  return ka < kb ? -1 : ka > kb;
}

static gboolean
insert_key (MsJournal  *self,
            gint64      batch,
            gint64      key,
            gint64      row,
            int        *rc_out,
            GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_INSERT_KEY, error);
  int rc;

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, batch);
  sqlite3_bind_int64 (stmt, 2, key);
  sqlite3_bind_int64 (stmt, 3, row);
  rc = sqlite3_step (stmt);
  if (rc_out != NULL)
    *rc_out = rc;
  if (batch == self->fresh_batch)
    self->fresh_batch = 0;
  if (batch == self->import_batch && rc == SQLITE_DONE)
    bloom_add (self, key);
  if (rc != SQLITE_DONE)
    return rc_out != NULL ? FALSE : fail (self, rc, error);
  return TRUE;
}

/* Writes the pending keys in key order: appends to the index, not random
 * inserts. */
static gboolean
flush_pending_keys (MsJournal  *self,
                    GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = NULL;
  gint64 batch = self->pending_batch;

  if (self->pending_keys->len == 0)
    return TRUE;

  g_array_sort (self->pending_keys, compare_pending);
  stmt = get_stmt (self, STMT_INSERT_KEY, error);
  if (stmt == NULL)
    return FALSE;
  for (guint i = 0; i < self->pending_keys->len; i++)
    {
      const PendingKey *p = &g_array_index (self->pending_keys, PendingKey, i);
      int rc;

      sqlite3_reset (stmt);
      sqlite3_bind_int64 (stmt, 1, batch);
      sqlite3_bind_int64 (stmt, 2, p->key);
      sqlite3_bind_int64 (stmt, 3, p->row);
      rc = sqlite3_step (stmt);
      if (rc != SQLITE_DONE)
        return fail (self, rc, error);
      if (batch == self->import_batch)
        bloom_add (self, p->key);
    }
  if (batch == self->fresh_batch)
    self->fresh_batch = 0;
  pending_clear (self);
  return TRUE;
}

static gboolean
row_address_key_equals (MsJournal   *self,
                        gint64       row,
                        const char  *address,   /* unused when @row_address given */
                        const char  *key,
                        GString     *other,
                        gboolean    *equal,
                        GError     **error)
{
  if (address == NULL)
    {
      g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_ROW_ADDRESS, error);
      int rc;

      if (stmt == NULL)
        return FALSE;
      sqlite3_bind_int64 (stmt, 1, row);
      rc = sqlite3_step (stmt);
      if (rc != SQLITE_ROW)
        return fail (self, rc == SQLITE_DONE ? SQLITE_CORRUPT : rc, error);
      *equal = g_str_equal (address_key (other, (const char *) sqlite3_column_text (stmt, 0)), key);
      return TRUE;
    }
  *equal = g_str_equal (address_key (other, address), key);
  return TRUE;
}

/* Finds the key for @key (a lower-case address) in @batch, starting from
 * its hash: the first that is free, or that holds the same address.
 * *existing is that row's id, or 0 when the key is free. The keys are in
 * recipient_keys, or pending in memory for the rows of this transaction. */
static gboolean
probe_key (MsJournal   *self,
           gint64       batch,
           const char  *key,
           gint64      *slot,
           gint64      *existing,
           GError     **error)
{
  g_autoptr(GString) other = NULL;
  gint64 h = hash_key (key, strlen (key));

  for (;; h = (gint64) ((guint64) h + 1))
    {
      gint64 row = pending_lookup (self, batch, h);
      gboolean equal = FALSE;

      if (row != 0)
        {
          /* Only a taken key needs a comparison: no allocation for the rest. */
          if (other == NULL)
            other = g_string_new (NULL);
          if (!row_address_key_equals (self, row, NULL, key, other, &equal, error))
            return FALSE;
        }
      else if (batch == self->fresh_batch ||
               (batch == self->import_batch && !bloom_maybe_has (self, h)))
        {
          /* Nothing of this batch is in the table yet, or not this key. */
          *slot = h;
          *existing = 0;
          return TRUE;
        }
      else
        {
          g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_FIND_KEY, error);
          int rc;

          if (stmt == NULL)
            return FALSE;
          sqlite3_bind_int64 (stmt, 1, batch);
          sqlite3_bind_int64 (stmt, 2, h);
          rc = sqlite3_step (stmt);
          if (rc == SQLITE_DONE)
            {
              *slot = h;
              *existing = 0;
              return TRUE;
            }
          if (rc != SQLITE_ROW)
            return fail (self, rc, error);
          row = sqlite3_column_int64 (stmt, 0);
          if (other == NULL)
            other = g_string_new (NULL);
          if (!row_address_key_equals (self, row, (const char *) sqlite3_column_text (stmt, 1), key, other,
                                       &equal, error))
            return FALSE;
        }

      if (equal)
        {
          *slot = h;
          *existing = row;
          return TRUE;
        }
      g_debug ("journal: two addresses share a duplicate key in batch %" G_GINT64_FORMAT, batch);
    }
}

static gboolean
run_simple (MsJournal  *self,
            StmtId      id,
            GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = get_stmt (self, id, error);

  return stmt != NULL && run_stmt (self, stmt, error);
}

/* Every statement that changes rows by one key takes (key, updated_at) in
 * that order; release passes one @now for all its rows so that they share a
 * timestamp. */
static gboolean
update_row_at (MsJournal  *self,
               StmtId      id,
               gint64      row_id,
               gint64      now,
               GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = get_stmt (self, id, error);

  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, row_id);
  sqlite3_bind_int64 (stmt, 2, now);
  return run_stmt (self, stmt, error);
}

static gboolean
update_row (MsJournal  *self,
            StmtId      id,
            gint64      row_id,
            GError    **error)
{
  return update_row_at (self, id, row_id, now_seconds (), error);
}

static void
set_cache_size (MsJournal *self,
                int        kib)
{
  g_autofree char *sql = g_strdup_printf ("PRAGMA cache_size = -%d", kib);

  /* Shrinking frees the pages above the new size. */
  if (sqlite3_exec (self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
    g_debug ("journal: %s failed: %s", sql, sqlite3_errmsg (self->db));
}

/* After the outermost transaction, whether it committed or not. */
static void
txn_ended (MsJournal *self)
{
  self->txn_depth = 0;
  self->fresh_batch = 0;
  pending_clear (self);
}

/* Transactions: the outermost level takes the write lock at once (BEGIN
 * IMMEDIATE waits through busy_timeout; a deferred transaction that upgrades
 * would fail with SQLITE_BUSY instead). Inner levels are savepoints, so that
 * claim or record inside a caller's begin/commit undo only their own part. */
static gboolean
txn_begin (MsJournal  *self,
           GError    **error)
{
  /* Pending keys belong to the outer level: a rollback to the savepoint
   * must not take them along. */
  if (self->txn_depth > 0 && !flush_pending_keys (self, error))
    return FALSE;
  if (!run_simple (self, self->txn_depth == 0 ? STMT_BEGIN : STMT_SAVEPOINT, error))
    return FALSE;
  self->txn_depth++;
  return TRUE;
}

static gboolean
txn_commit (MsJournal  *self,
            GError    **error)
{
  g_assert (self->txn_depth > 0);

  if (self->txn_depth > 1)
    {
      if (!run_simple (self, STMT_RELEASE, error))
        return FALSE;
      self->txn_depth--;
      return TRUE;
    }

  if (!flush_pending_keys (self, error) || !run_simple (self, STMT_COMMIT, error))
    {
      ms_journal_rollback (self);
      return FALSE;
    }
  txn_ended (self);
  return TRUE;
}

static void
txn_abort (MsJournal *self)
{
  g_assert (self->txn_depth > 0);

  if (self->txn_depth > 1)
    {
      run_simple (self, STMT_ROLLBACK_TO, NULL);
      run_simple (self, STMT_RELEASE, NULL);
      self->txn_depth--;
    }
  else
    ms_journal_rollback (self);
}

static MsJournalRow *
row_from_stmt (sqlite3_stmt *stmt)
{
  MsJournalRow *row = g_new0 (MsJournalRow, 1);
  const char *klass;

  row->id = sqlite3_column_int64 (stmt, 0);
  row->batch = sqlite3_column_int64 (stmt, 1);
  row->address = column_dup (stmt, 2);
  row->values = column_strv (stmt, 3);
  row->line = sqlite3_column_int (stmt, 4);
  row->state = CLAMP (sqlite3_column_int (stmt, 5), 0, MS_N_STATES - 1);
  row->attempts = sqlite3_column_int (stmt, 6);
  row->reply_code = sqlite3_column_int (stmt, 7);
  row->reply_text = column_dup (stmt, 8);
  klass = (const char *) sqlite3_column_text (stmt, 9);
  row->reply_class = klass ? ms_reply_class_from_string (klass) : MS_REPLY_CLASS_NONE;
  row->advice = column_dup (stmt, 10);
  row->message_id = column_dup (stmt, 11);
  row->queued_at = sqlite3_column_int64 (stmt, 12);
  row->sent_at = sqlite3_column_int64 (stmt, 13);
  row->next_due = sqlite3_column_int64 (stmt, 14);
  row->updated_at = sqlite3_column_int64 (stmt, 15);
  row->first_attempt_at = sqlite3_column_int64 (stmt, 16);
  return row;
}

static MsBatchInfo *
info_from_stmt (sqlite3_stmt *stmt)
{
  MsBatchInfo *info = g_new0 (MsBatchInfo, 1);

  info->id = sqlite3_column_int64 (stmt, 0);
  info->created = sqlite3_column_int64 (stmt, 1);
  info->status = CLAMP (sqlite3_column_int (stmt, 2), MS_BATCH_READY, MS_BATCH_CANCELLED);
  info->subject = column_dup (stmt, 3);
  info->account = column_dup (stmt, 4);
  info->pause_reason = column_dup (stmt, 5);
  info->import_unfinished = sqlite3_column_int (stmt, 6) != 0;
  return info;
}

/* Batch locks ------------------------------------------------------------- */

/* The batch's own row, without the counts (those walk the index). */
static MsBatchInfo *
read_info (MsJournal  *self,
           gint64      batch,
           GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = step_one (self, STMT_GET_INFO, batch, set_batch_not_found, error);

  return stmt != NULL ? info_from_stmt (stmt) : NULL;
}

static char *
batch_lock_path (MsJournal *self,
                 gint64     batch)
{
  return g_strdup_printf ("%s-batch-%" G_GINT64_FORMAT ".lock", self->path, batch);
}

/**
 * ms_journal_dup_sidelog_path:
 *
 * The side log (ms-sidelog.h) of the run that sends @batch, next to its lock
 * file: recovery folds it into the journal.
 *
 * Returns: (transfer full): its path
 */
char *
ms_journal_dup_sidelog_path (MsJournal *self,
                             gint64     batch)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  return g_strdup_printf ("%s-batch-%" G_GINT64_FORMAT ".log", self->path, batch);
}

static char *
lock_owner_description (void)
{
  g_autofree char *boot_id = NULL;

  if (g_file_get_contents ("/proc/sys/kernel/random/boot_id", &boot_id, NULL, NULL))
    g_strstrip (boot_id);
  return g_strdup_printf ("%d %s %s", (int) getpid (), g_get_host_name (),
                          boot_id ? boot_id : "-");
}

static void
batch_lock_free (BatchLock *lock)
{
  /* Unlink while still holding the lock: a contender that opened the old
   * file notices the unlink (see try_lock_batch) and opens the new one. */
  g_unlink (lock->path);
  close (lock->fd);
  g_free (lock->path);
  g_free (lock);
}

/* The lock is an flock() on a file next to the journal. The kernel drops it
 * when the process dies, however it dies, so a lock never outlives its owner.
 * flock (unlike fcntl locks) belongs to the open file, so two journals in
 * one process exclude each other too. O_CLOEXEC keeps spawned helpers from
 * inheriting it. Returns NULL with *busy set when another holder has it. */
static BatchLock *
try_lock_batch (MsJournal  *self,
                gint64      batch,
                gboolean   *busy,
                char      **holder,
                GError    **error)
{
  g_autofree char *path = batch_lock_path (self, batch);

  *busy = FALSE;

  for (guint attempt = 0; attempt < LOCK_RETRIES; attempt++)
    {
      struct stat fd_st, path_st;
      int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

      if (fd < 0)
        {
          int saved = errno;

          g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                       _("The lock file %s could not be created: %s. "
                         "Check the permissions of the journal's folder."),
                       path, g_strerror (saved));
          return NULL;
        }

      if (flock (fd, LOCK_EX | LOCK_NB) < 0)
        {
          int saved = errno;

          if (saved == EWOULDBLOCK || saved == EINTR)
            {
              char buf[256];
              ssize_t n = pread (fd, buf, sizeof buf - 1, 0);

              close (fd);
              *busy = TRUE;
              if (holder)
                {
                  g_clear_pointer (holder, g_free);
                  if (n > 0)
                    *holder = g_strstrip (g_strndup (buf, n));
                }
              g_usleep (20 * 1000);
              continue;
            }

          close (fd);
          g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                       _("The lock file %s could not be locked: %s. "
                         "The journal's folder must be on a local disk."),
                       path, g_strerror (saved));
          return NULL;
        }

      /* The previous holder may have unlinked the file between our open and
       * our flock; a lock on an unlinked file protects nothing. */
      if (fstat (fd, &fd_st) < 0 || g_stat (path, &path_st) < 0 ||
          fd_st.st_ino != path_st.st_ino || fd_st.st_dev != path_st.st_dev)
        {
          close (fd);
          continue;
        }

      {
        g_autofree char *owner = lock_owner_description ();
        BatchLock *lock;

        if (ftruncate (fd, 0) == 0 &&
            pwrite (fd, owner, strlen (owner), 0) < 0)
          g_debug ("journal: could not describe the owner in %s", path);

        lock = g_new0 (BatchLock, 1);
        lock->fd = fd;
        lock->path = g_steal_pointer (&path);
        *busy = FALSE;
        return lock;
      }
    }

  if (!*busy)
    g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                 _("The lock file %s keeps changing. Try again in a moment."), path);
  return NULL;
}

/* synchronous = FULL for the next outermost transaction (SQLite refuses the
 * change inside one): a claim must survive a power cut before its first
 * byte goes out, and a recovery before its side log is removed. Every other
 * commit stays NORMAL (it survives a killed process), off the per-message
 * path. Returns whether it was set, for durable_end(). */
static gboolean
durable_begin (MsJournal *self)
{
  return self->txn_depth == 0 && run_simple (self, STMT_SYNC_FULL, NULL);
}

static void
durable_end (MsJournal *self,
             gboolean   was_set)
{
  if (was_set)
    run_simple (self, STMT_SYNC_NORMAL, NULL);
}

static const char *
uncertain_advice (void)
{
  return _("Mailshot stopped while this message was being sent: it may or may "
           "not have been delivered. Retry it only if the recipient did not get it.");
}

/* Settles the rows a dead run left `sending`, from its side log (see
 * ms-sidelog.h): accepted by the server -> sent, with its reply; its end
 * never went out, or the server refused it -> queued again; its end went out
 * and no answer was logged -> uncertain. After a reboot the log's unsynced
 * tail may be gone, so a row it says nothing about may have gone out: only
 * its answers count then, and the rest of the claimed group is uncertain.
 * Without a log (an older version, or a lost file), every such row is. */
static gboolean
settle_sending_rows (MsJournal  *self,
                     gint64      batch,
                     guint      *changed,
                     GError    **error)
{
  g_autoptr(GHashTable) sending = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  g_autoptr(GHashTable) entries = NULL;
  g_autoptr(GError) log_error = NULL;
  g_autofree char *log_path = ms_journal_dup_sidelog_path (self, batch);
  guint n_sent = 0, n_back = 0, n_uncertain = 0;
  gboolean same_boot = FALSE;
  GHashTableIter iter;
  gpointer key;
  gint64 now = now_seconds ();

  *changed = 0;
  {
    g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_SENDING_ROWS, error);
    int rc;

    if (stmt == NULL)
      return FALSE;
    sqlite3_bind_int64 (stmt, 1, batch);
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      {
        gint64 id = sqlite3_column_int64 (stmt, 0);
        g_hash_table_add (sending, g_memdup2 (&id, sizeof id));
      }
    if (rc != SQLITE_DONE)
      return fail (self, rc, error);
  }
  if (g_hash_table_size (sending) == 0)
    return TRUE;

  entries = ms_sidelog_read (log_path, sending, &same_boot, &log_error);
  if (entries == NULL)
    g_debug ("journal: batch %" G_GINT64_FORMAT ": no side log (%s): every row left sending is uncertain",
             batch, log_error->message);

  g_hash_table_iter_init (&iter, sending);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      gint64 id = *(gint64 *) key;
      MsSidelogEntry *e = entries != NULL ? g_hash_table_lookup (entries, &id) : NULL;
      g_autoptr(MsCachedStmt) stmt = NULL;

      if (e != NULL && e->outcome == MS_SIDELOG_ACCEPTED)
        {
          stmt = get_stmt (self, STMT_RECOVER_SENT, error);
          if (stmt == NULL)
            return FALSE;
          sqlite3_bind_int (stmt, 3, e->code);
          bind_text_or_null (stmt, 4, e->text);
          bind_text_or_null (stmt, 5, e->message_id);
          sqlite3_bind_int64 (stmt, 6, e->when > 0 ? e->when : now);
          n_sent++;
        }
      else if (entries != NULL &&
               ((e != NULL && e->outcome == MS_SIDELOG_REFUSED) || (e == NULL && same_boot)))
        {
          stmt = get_stmt (self, STMT_RELEASE_ROW, error);
          if (stmt == NULL)
            return FALSE;
          n_back++;
        }
      else
        {
          stmt = get_stmt (self, STMT_RECOVER_ROW, error);
          if (stmt == NULL)
            return FALSE;
          sqlite3_bind_text (stmt, 3, uncertain_advice (), -1, SQLITE_STATIC);
          n_uncertain++;
        }
      sqlite3_bind_int64 (stmt, 1, id);
      sqlite3_bind_int64 (stmt, 2, now);
      if (!run_stmt (self, stmt, error))
        return FALSE;
    }
  g_debug ("journal: batch %" G_GINT64_FORMAT ": of the rows left sending, %u sent, %u queued again, "
           "%u uncertain (%s)", batch, n_sent, n_back, n_uncertain,
           entries == NULL ? "no side log" : same_boot ? "side log of this boot" : "side log of an earlier boot");
  *changed = n_sent + n_back + n_uncertain;
  return TRUE;
}

static gboolean
recover_batch (MsJournal  *self,
               gint64      batch,
               GError    **error)
{
  g_autoptr(MsBatchInfo) info = NULL;
  g_autofree char *log_path = ms_journal_dup_sidelog_path (self, batch);
  guint changed = 0;
  gboolean durable = durable_begin (self);

  if (!txn_begin (self, error))
    {
      durable_end (self, durable);
      return FALSE;
    }

  if (!settle_sending_rows (self, batch, &changed, error))
    goto failed;

  info = ms_journal_get_batch_info (self, batch, error);
  if (info == NULL)
    goto failed;
  /* Nobody runs it any more: say so instead of showing it running forever,
   * and what there is to do about it. */
  if (info->status == MS_BATCH_RUNNING &&
      !ms_journal_set_batch_status (self, batch, MS_BATCH_PAUSED,
                                    info->counts[MS_STATE_UNCERTAIN] > 0
                                    ? _("Mailshot stopped while sending this batch. "
                                        "Check the uncertain recipients, then resume it.")
                                    : info->import_unfinished
                                    ? _("Mailshot stopped while reading in and sending this batch’s list. "
                                        "Resume it to read in the rest and send it.")
                                    : _("Mailshot stopped while sending this batch. Resume it to send the rest."),
                                    error))
    goto failed;

  /* The side log goes only once what it said is on disk. */
  if (!txn_commit (self, error))
    {
      durable_end (self, durable);
      return FALSE;
    }
  durable_end (self, durable);
  if (g_unlink (log_path) < 0 && errno != ENOENT)
    g_debug ("journal: could not remove %s: %s", log_path, g_strerror (errno));
  return TRUE;

failed:
  txn_abort (self);
  durable_end (self, durable);
  return FALSE;
}

/* Crash recovery: rows a dead process left in `sending` are settled from its
 * side log (settle_sending_rows); those that may or may not have reached the
 * server become `uncertain` rather than being resent.
 * A batch whose lock is held belongs to a live process and is left alone. */
static gboolean
recover (MsJournal  *self,
         GError    **error)
{
  g_autoptr(GArray) batches = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(GArray) importing = g_array_new (FALSE, FALSE, sizeof (int));

  {
    g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_RECOVERABLE_BATCHES, error);
    int rc;

    if (stmt == NULL)
      return FALSE;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      {
        gint64 id = sqlite3_column_int64 (stmt, 0);
        int import = sqlite3_column_int (stmt, 1);

        g_array_append_val (batches, id);
        g_array_append_val (importing, import);
      }
    if (rc != SQLITE_DONE)
      return fail (self, rc, error);
  }

  for (guint i = 0; i < batches->len; i++)
    {
      gint64 batch = g_array_index (batches, gint64, i);
      g_autoptr(GError) local_error = NULL;
      BatchLock *lock;
      gboolean busy;
      gboolean ok;

      if (g_hash_table_contains (self->locks, &batch))
        continue;

      lock = try_lock_batch (self, batch, &busy, NULL, &local_error);
      if (lock == NULL)
        {
          g_debug ("journal: batch %" G_GINT64_FORMAT " not recovered: %s", batch,
                   busy ? "a live process is sending it" : local_error->message);
          continue;
        }

      /* An import that died half way (its chunks are in, its lock is
       * free): the list is not whole, and nothing of it was sent. */
      if (g_array_index (importing, int, i) == 1)
        {
          g_debug ("journal: batch %" G_GINT64_FORMAT ": its import did not finish; removed", batch);
          ok = ms_journal_discard_batch (self, batch, error);
        }
      else
        ok = recover_batch (self, batch, error);
      batch_lock_free (lock);
      if (!ok)
        return FALSE;
    }

  return TRUE;
}

/* Opening ----------------------------------------------------------------- */

static int
get_user_version (sqlite3 *db,
                  int     *version)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  rc = sqlite3_prepare_v2 (db, "PRAGMA user_version", -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return rc;
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    return rc;
  *version = sqlite3_column_int (stmt, 0);
  return SQLITE_OK;
}

static gboolean
migrate (MsJournal  *self,
         GError    **error)
{
  int version = 0;
  int rc;

  rc = get_user_version (self->db, &version);
  if (rc != SQLITE_OK)
    return fail (self, rc, error);

  if (version > (int) G_N_ELEMENTS (migrations))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The journal at %s was written by a newer version of Mailshot "
                     "(schema %d; this version knows %d). Update Mailshot, or move the file aside."),
                   self->path, version, (int) G_N_ELEMENTS (migrations));
      return FALSE;
    }

  while (version < (int) G_N_ELEMENTS (migrations))
    {
      g_autofree char *set_version = NULL;
      int current = 0;

      if (!txn_begin (self, error))
        return FALSE;

      /* Another process may have migrated while we waited for the lock. */
      rc = get_user_version (self->db, &current);
      if (rc != SQLITE_OK)
        {
          fail (self, rc, error);
          txn_abort (self);
          return FALSE;
        }

      if (current == version)
        {
          g_debug ("journal %s: migrating schema %d -> %d", self->path, version, version + 1);
          set_version = g_strdup_printf ("PRAGMA user_version = %d", version + 1);
          rc = sqlite3_exec (self->db, migrations[version], NULL, NULL, NULL);
          if (rc == SQLITE_OK)
            rc = sqlite3_exec (self->db, set_version, NULL, NULL, NULL);
          if (rc != SQLITE_OK)
            {
              fail (self, rc, error);
              txn_abort (self);
              return FALSE;
            }
          current = version + 1;
        }

      if (!txn_commit (self, error))
        return FALSE;
      version = current;
    }

  return TRUE;
}

static gboolean
configure (MsJournal  *self,
           GError    **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  const char *mode;
  int rc;

  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);

  /* The first statement that reads the file: a damaged one fails here. */
  rc = sqlite3_prepare_v2 (self->db, "PRAGMA journal_mode = WAL", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    return fail (self, rc, error);
  mode = (const char *) sqlite3_column_text (stmt, 0);
  if (mode == NULL || g_ascii_strcasecmp (mode, "wal") != 0)
    g_debug ("journal %s: WAL not available, journal_mode is %s", self->path, mode);

  /* A WAL commit under NORMAL survives a killed process, which is the crash
   * this journal is built for. It can lose the last commits on a power cut
   * (FULL would fsync each commit, ten times slower); a lost `sent` then
   * shows as `sending` and becomes `uncertain`, never as a silent resend
   * unless the whole claim was lost too. */
  rc = sqlite3_exec (self->db,
                     "PRAGMA synchronous = NORMAL;"
                     "PRAGMA foreign_keys = ON;"
                     /* The WAL of a large import shrinks back after the checkpoint. */
                     "PRAGMA journal_size_limit = 16777216;"
                     "PRAGMA temp_store = MEMORY;",
                     NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    return fail (self, rc, error);

  set_cache_size (self, CACHE_KIB);
  return TRUE;
}

/* Opens @path for reading and writing, creating, migrating and recovering
 * as needed. *rc_out is the SQLite code of a failure (SQLITE_CANTOPEN when
 * the folder could not be made). */
static MsJournal *
open_read_write (const char  *path,
                 int         *rc_out,
                 GError     **error)
{
  g_autoptr(MsJournal) self = NULL;
  g_autoptr(sqlite3) db = NULL;
  g_autofree char *dir = g_path_get_dirname (path);
  int rc;

  *rc_out = SQLITE_OK;
  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int saved = errno;

      *rc_out = SQLITE_CANTOPEN;
      g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                   _("The folder %s for the journal could not be created: %s. "
                     "Check the permissions and the disk space."),
                   dir, g_strerror (saved));
      return NULL;
    }

  /* NOMUTEX: one thread per connection (see the header), so SQLite's own
   * per-call mutex would only cost time. */
  rc = sqlite3_open_v2 (path, &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL);
  if (rc != SQLITE_OK)
    {
      *rc_out = rc;
      set_sqlite_error (path, rc, db ? sqlite3_errmsg (db) : sqlite3_errstr (rc), error);
      return NULL;
    }

  self = g_object_new (MS_TYPE_JOURNAL, "path", path, NULL);
  self->db = g_steal_pointer (&db);

  if (!configure (self, error) ||
      !migrate (self, error) ||
      !recover (self, error))
    {
      *rc_out = sqlite3_extended_errcode (self->db);
      return NULL;
    }

  /* SQLite opens a file it may not write read-only, without a word. */
  if (sqlite3_db_readonly (self->db, "main") == 1)
    {
      self->read_only = TRUE;
      self->unwritable = diagnose_unwritable (path, SQLITE_READONLY);
    }
  return g_steal_pointer (&self);
}

static char *
default_path (void)
{
  return g_build_filename (g_get_user_data_dir (), "mailshot", "journal.sqlite", NULL);
}

/**
 * ms_journal_open:
 * @path: (nullable): the database file; %NULL for
 *   `$XDG_DATA_HOME/mailshot/journal.sqlite`
 *
 * Opens (creating or migrating as needed) the journal, and recovers what a
 * crashed process left behind.
 *
 * Returns: (transfer full): the journal, or %NULL with %MS_ERROR_JOURNAL.
 */
MsJournal *
ms_journal_open (const char  *path,
                 GError     **error)
{
  g_autofree char *fallback = NULL;
  int rc;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (path == NULL)
    path = fallback = default_path ();
  return open_read_write (path, &rc, error);
}

/* Settings for a connection that only reads: no journal_mode (setting it
 * writes the header), and query_only so that a change fails instead of
 * landing in a private copy. */
static int
configure_read_only (MsJournal *self)
{
  sqlite3_extended_result_codes (self->db, 1);
  sqlite3_busy_timeout (self->db, BUSY_TIMEOUT_MS);
  set_cache_size (self, CACHE_KIB);
  return sqlite3_exec (self->db, "PRAGMA query_only = ON", NULL, NULL, NULL);
}

/* The schema a reader can use as it is: the current one. An older journal
 * needs a migration, which writes; a newer one is not ours to read. */
static gboolean
check_version_read_only (MsJournal  *self,
                         GError    **error)
{
  int version = 0;
  int rc = get_user_version (self->db, &version);

  if (rc != SQLITE_OK)
    return fail (self, rc, error);
  if (version == (int) G_N_ELEMENTS (migrations))
    return TRUE;
  if (version > (int) G_N_ELEMENTS (migrations))
    g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                 _("The journal at %s was written by a newer version of Mailshot "
                   "(schema %d; this version knows %d). Update Mailshot, or move the file aside."),
                 self->path, version, (int) G_N_ELEMENTS (migrations));
  else if (!set_unwritable_error (self->path, self->unwritable, error))
    g_set_error (error, MS_ERROR, MS_ERROR_JOURNAL,
                 _("The journal at %s must be updated to this version of Mailshot, which needs to write "
                   "to it. Check the disk space and the permissions of the file and its folder."),
                 self->path);
  return FALSE;
}

/* SQLite URIs take the path percent-encoded: a '?' or '#' in it would
 * otherwise start the parameters. */
static char *
file_uri (const char *path,
          const char *params)
{
  g_autofree char *escaped = g_uri_escape_string (path, "/", FALSE);

  return g_strconcat ("file:", escaped, "?", params, NULL);
}

/* A read-only connection to a WAL journal still wants the -wal and -shm
 * files: it creates them when they are missing, and a full disk fails that
 * (a read-only file system does not: SQLite then keeps the index in
 * memory). When the -wal file holds no frame, the main file alone is the
 * whole journal, and `immutable` reads it without those files. Immutable
 * also drops locking: a writer that started meanwhile could be read half
 * done, which only a freed disk allows, for the length of one command. */
static MsJournal *
open_read_only (const char  *path,
                Unwritable   why,
                GError     **error)
{
  static const char * const modes[] = { "mode=ro", "mode=ro&immutable=1" };
  g_autoptr(GError) first_error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (modes); i++)
    {
      g_autoptr(MsJournal) self = NULL;
      g_autoptr(sqlite3) db = NULL;
      g_autoptr(GError) local_error = NULL;
      g_autofree char *uri = file_uri (path, modes[i]);
      int rc;

      if (i > 0)
        {
          g_autofree char *wal = g_strconcat (path, "-wal", NULL);
          GStatBuf st;

          /* 32 bytes is the WAL header: below it there is no frame. */
          if (g_stat (wal, &st) == 0 && st.st_size >= 32)
            break;
          g_debug ("journal %s: no WAL frames, reading the main file alone", path);
        }

      rc = sqlite3_open_v2 (uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
      if (rc != SQLITE_OK)
        {
          set_sqlite_error (path, rc, db ? sqlite3_errmsg (db) : sqlite3_errstr (rc), &local_error);
        }
      else
        {
          self = g_object_new (MS_TYPE_JOURNAL, "path", path, NULL);
          self->db = g_steal_pointer (&db);
          self->read_only = TRUE;
          self->unwritable = why;
          rc = configure_read_only (self);
          if (rc != SQLITE_OK)
            fail (self, rc, &local_error);
          /* The first read: a missing -shm that cannot be made fails here. */
          else if (check_version_read_only (self, &local_error))
            return g_steal_pointer (&self);
        }
      g_debug ("journal %s: read-only open (%s) failed: %s", path, modes[i], local_error->message);
      if (first_error == NULL)
        first_error = g_steal_pointer (&local_error);
    }

  g_propagate_error (error, g_steal_pointer (&first_error));
  return NULL;
}

/* No journal yet: an empty one in memory, so that reading commands write
 * nothing at all (not even the folder). */
static MsJournal *
open_empty (const char  *path,
            GError     **error)
{
  g_autoptr(MsJournal) self = NULL;
  g_autoptr(sqlite3) db = NULL;
  int rc = sqlite3_open_v2 (":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);

  if (rc != SQLITE_OK)
    {
      set_sqlite_error (path, rc, sqlite3_errstr (rc), error);
      return NULL;
    }
  self = g_object_new (MS_TYPE_JOURNAL, "path", path, NULL);
  self->db = g_steal_pointer (&db);
  sqlite3_extended_result_codes (self->db, 1);
  if (!migrate (self, error))
    return NULL;
  rc = sqlite3_exec (self->db, "PRAGMA query_only = ON", NULL, NULL, NULL);
  if (rc != SQLITE_OK)
    {
      fail (self, rc, error);
      return NULL;
    }
  self->read_only = TRUE;
  self->unwritable = UNWRITABLE_UNKNOWN;
  return g_steal_pointer (&self);
}

/**
 * ms_journal_open_for_reading:
 * @path: (nullable): the database file; %NULL for the default
 *
 * Opens the journal to show it (lists, status, reports), also when it
 * cannot be written: on a full disk, a read-only file system, or without
 * permission to change it. It tries ms_journal_open() first, so that what
 * it shows is migrated and recovered; when that fails because the journal
 * cannot be written, it opens the file read-only instead, without
 * migration or recovery (rows a crashed process left `sending` still say
 * so). Then ms_journal_is_read_only() is %TRUE and every change fails with
 * an error that says why. A journal that does not exist yet reads as empty
 * and is not created.
 *
 * Returns: (transfer full): the journal, or %NULL with %MS_ERROR_JOURNAL.
 */
MsJournal *
ms_journal_open_for_reading (const char  *path,
                             GError     **error)
{
  g_autofree char *fallback = NULL;
  g_autoptr(GError) write_error = NULL;
  MsJournal *self;
  Unwritable why;
  int rc;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (path == NULL)
    path = fallback = default_path ();
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return open_empty (path, error);

  self = open_read_write (path, &rc, &write_error);
  if (self != NULL)
    return self;

  /* The code may be lost (a rollback after a failed recovery resets it):
   * the disk has the last word. */
  why = diagnose_unwritable (path, rc);
  switch (rc & 0xff)
    {
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_CANTOPEN:
    case SQLITE_AUTH:
      break;
    default:
      if (why != UNWRITABLE_UNKNOWN)
        break;
      /* Damaged, newer, busy: reading read-only would not help. */
      g_propagate_error (error, g_steal_pointer (&write_error));
      return NULL;
    }

  g_debug ("journal %s: cannot be written (%s), opening it read-only", path, write_error->message);
  self = open_read_only (path, why, error);
  return self;
}

/**
 * ms_journal_is_read_only:
 *
 * Returns: %TRUE when the journal was opened without write access (see
 *   ms_journal_open_for_reading()).
 */
gboolean
ms_journal_is_read_only (MsJournal *self)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  return self->read_only;
}

/**
 * ms_journal_dup_read_only_reason:
 *
 * Returns: (transfer full) (nullable): why the journal cannot be written,
 *   in words ("the disk that holds it is full"), or %NULL when it can be,
 *   or when there is no journal yet.
 */
char *
ms_journal_dup_read_only_reason (MsJournal *self)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);

  if (!self->read_only || !g_file_test (self->path, G_FILE_TEST_EXISTS))
    return NULL;
  return unwritable_reason (self->unwritable);
}

/**
 * ms_journal_get_path:
 *
 * Returns: the database file.
 */
const char *
ms_journal_get_path (MsJournal *self)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  return self->path;
}

/* Import ------------------------------------------------------------------ */

/**
 * ms_journal_create_batch:
 * @spec: what the batch sends; stored so that a resume is exact
 *
 * Returns: the new batch id (status ready), or 0 on error.
 */
gint64
ms_journal_create_batch (MsJournal         *self,
                         const MsBatchSpec *spec,
                         GError           **error)
{
  g_autoptr(MsCachedStmt) stmt = NULL;
  g_autoptr(GByteArray) attachments = g_byte_array_new ();
  g_autoptr(GByteArray) fields = g_byte_array_new ();

  g_return_val_if_fail (MS_IS_JOURNAL (self), 0);
  g_return_val_if_fail (spec != NULL, 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  stmt = get_stmt (self, STMT_INSERT_BATCH, error);
  if (stmt == NULL)
    return 0;

  encode_strv (attachments, (const char * const *) spec->attachments);
  encode_strv (fields, (const char * const *) spec->fields);

  sqlite3_bind_int64 (stmt, 1, now_seconds ());
  sqlite3_bind_text (stmt, 2, spec->account ? spec->account : "default", -1, SQLITE_TRANSIENT);
  bind_text_or_null (stmt, 3, spec->from_address);
  bind_text_or_null (stmt, 4, spec->from_name);
  bind_text_or_null (stmt, 5, spec->subject);
  bind_text_or_null (stmt, 6, spec->text);
  bind_text_or_null (stmt, 7, spec->html);
  sqlite3_bind_blob (stmt, 8, attachments->data, attachments->len, SQLITE_TRANSIENT);
  bind_text_or_null (stmt, 9, spec->unsubscribe);
  sqlite3_bind_blob (stmt, 10, fields->data, fields->len, SQLITE_TRANSIENT);
  sqlite3_bind_int (stmt, 11, spec->email_index);
  bind_text_or_null (stmt, 12, spec->source);

  if (!run_stmt (self, stmt, error))
    return 0;
  /* Only at the outermost level: a savepoint rolled back could free the id. */
  if (self->txn_depth == 1)
    {
      self->fresh_batch = sqlite3_last_insert_rowid (self->db);
      bloom_free (self);
      self->import_batch = self->fresh_batch;
    }
  return sqlite3_last_insert_rowid (self->db);
}

/**
 * ms_journal_begin:
 *
 * Starts a transaction (taking the write lock, waiting for other processes
 * up to a few seconds). Nested calls are savepoints. End it with
 * ms_journal_commit(), or ms_journal_rollback() after any error.
 */
gboolean
ms_journal_begin (MsJournal  *self,
                  GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  return txn_begin (self, error);
}

/**
 * ms_journal_commit:
 *
 * Commits the transaction of ms_journal_begin(). Once it returns %TRUE, the
 * changes survive a killed process.
 */
gboolean
ms_journal_commit (MsJournal  *self,
                   GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (self->txn_depth > 0, FALSE);
  return txn_commit (self, error);
}

/**
 * ms_journal_commit_rows:
 *
 * Commits the outermost transaction of an import like ms_journal_commit(),
 * but leaves the duplicate keys of its rows pending in memory, for the next
 * ms_journal_commit() to write in key order: an import that commits small
 * chunks (so that the sending beside it is held up only briefly) would
 * otherwise rewrite most pages of the key index at every chunk. A batch
 * whose importer dies with keys pending gets them back from its rows
 * (ms_journal_restore_keys()) before the rest of its list goes in.
 */
gboolean
ms_journal_commit_rows (MsJournal  *self,
                        GError    **error)
{
  gboolean ok;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (self->txn_depth == 1, FALSE);

  /* Its pages are held beside those of the run that sends the batch, which
   * has two journals of its own: a quarter of the cache keeps the whole
   * job's memory flat (the rows are appended; the keys go in sorted). */
  if (!self->small_cache)
    {
      set_cache_size (self, CACHE_KIB / 4);
      self->small_cache = TRUE;
    }

  /* No checkpoint at a chunk: the next ms_journal_commit() makes one, as
   * often as the import in one piece did. A checkpoint syncs the WAL and
   * the file (tens of ms on a busy disk); at every few chunks it made a
   * million-row import half again as long (14.7 s against 9.5 s). */
  sqlite3_wal_autocheckpoint (self->db, 0);
  ok = run_simple (self, STMT_COMMIT, error);
  sqlite3_wal_autocheckpoint (self->db, 1000);   /* SQLite's default */
  if (!ok)
    {
      ms_journal_rollback (self);
      return FALSE;
    }
  /* Not txn_ended(): the pending keys and fresh_batch stay true. */
  self->txn_depth = 0;
  return TRUE;
}

/**
 * ms_journal_restore_keys:
 *
 * Writes the duplicate keys of @batch's rows that are missing from the key
 * index: those an importer that died held pending (ms_journal_commit_rows()).
 * Each row keeps its own key, so the result is what the import would have
 * written.
 */
gboolean
ms_journal_restore_keys (MsJournal  *self,
                         gint64      batch,
                         GError    **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!txn_begin (self, error))
    return FALSE;
  rc = sqlite3_prepare_v2 (self->db,
                           "INSERT INTO recipient_keys (batch, key, row)"
                           " SELECT batch, address_key, id FROM recipients AS r WHERE batch = ?1 AND NOT EXISTS"
                           " (SELECT 1 FROM recipient_keys AS k WHERE k.batch = ?1 AND k.key = r.address_key)"
                           " ORDER BY address_key", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_int64 (stmt, 1, batch);
      rc = sqlite3_step (stmt);
    }
  if (rc != SQLITE_DONE)
    {
      fail (self, rc, error);
      txn_abort (self);
      return FALSE;
    }
  g_debug ("journal: batch %" G_GINT64_FORMAT ": %d duplicate keys restored", batch, sqlite3_changes (self->db));
  return txn_commit (self, error);
}

/**
 * ms_journal_rollback:
 *
 * Undoes the whole transaction, at every nesting level. Safe to call when
 * there is none.
 */
void
ms_journal_rollback (MsJournal *self)
{
  g_return_if_fail (MS_IS_JOURNAL (self));

  /* SQLite may already have rolled back by itself (SQLITE_FULL, ...). */
  if (!sqlite3_get_autocommit (self->db))
    run_simple (self, STMT_ROLLBACK, NULL);
  txn_ended (self);
}

/**
 * ms_journal_add_recipient:
 * @values: the CSV row; any UTF-8, empty values and newlines included
 * @duplicate: (out) (optional): set when the batch has this address already
 *
 * Adds one `queued` row. Call it between ms_journal_begin() and
 * ms_journal_commit(): a million rows then take well under a second each
 * microsecond.
 */
gboolean
ms_journal_add_recipient (MsJournal          *self,
                          gint64              batch,
                          const char         *address,
                          const char * const *values,
                          guint               line,
                          gboolean           *duplicate,
                          GError            **error)
{
  g_autoptr(MsCachedStmt) stmt = NULL;
  const char *key;
  gint64 slot, existing, row;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (duplicate)
    *duplicate = FALSE;

  stmt = get_stmt (self, STMT_INSERT_ROW, error);
  if (stmt == NULL)
    return FALSE;

  key = address_key (self->key, address);
  if (!probe_key (self, batch, key, &slot, &existing, error))
    return FALSE;
  if (existing != 0)
    {
      if (duplicate)
        *duplicate = TRUE;
      return TRUE;
    }

  encode_strv (self->blob, values);
  sqlite3_bind_int64 (stmt, 1, batch);
  sqlite3_bind_text (stmt, 2, address, -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 3, slot);
  sqlite3_bind_blob (stmt, 4, self->blob->data, self->blob->len, SQLITE_STATIC);
  sqlite3_bind_int (stmt, 5, line);
  sqlite3_bind_int64 (stmt, 6, now_seconds ());

  rc = sqlite3_step (stmt);
  if (rc != SQLITE_DONE)
    {
      if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        {
          set_batch_not_found (batch, error);
          return FALSE;
        }
      return fail (self, rc, error);
    }
  row = sqlite3_last_insert_rowid (self->db);

  /* In an import (the outermost transaction) the key waits for the commit,
   * to go in in key order; anywhere else it goes in now. */
  if (self->txn_depth == 1)
    {
      if (self->pending_batch != 0 && self->pending_batch != batch && !flush_pending_keys (self, error))
        return FALSE;
      pending_add (self, batch, slot, row);
      return TRUE;
    }
  return insert_key (self, batch, slot, row, NULL, error);
}

/**
 * ms_journal_add_left_out:
 * @batch: the batch being imported
 * @line: the line of the CSV the row starts on
 * @values: (nullable) (array zero-terminated=1): the row's values, in the
 *   batch's columns; %NULL when the row could not be read as one (a wrong
 *   number of fields)
 * @reason: why it was left out, for people: a sentence that names the line
 *
 * Keeps a row of the list that the import left out (it never becomes a
 * recipient), so that the batch's report lists it with its line and
 * reason. Call it inside the import's transaction: it goes, or stays, with
 * the batch.
 */
gboolean
ms_journal_add_left_out (MsJournal          *self,
                         gint64              batch,
                         guint               line,
                         const char * const *values,
                         const char         *reason,
                         GError            **error)
{
  g_autoptr(MsCachedStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (reason != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  stmt = get_stmt (self, STMT_INSERT_LEFT_OUT, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, batch);
  sqlite3_bind_int (stmt, 2, line);
  if (values != NULL)
    {
      encode_strv (self->blob, values);
      sqlite3_bind_blob (stmt, 3, self->blob->data, self->blob->len, SQLITE_STATIC);
    }
  sqlite3_bind_text (stmt, 4, reason, -1, SQLITE_STATIC);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
    {
      set_batch_not_found (batch, error);
      return FALSE;
    }
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);
  return TRUE;
}

static MsJournalLeftOut *
left_out_from_stmt (sqlite3_stmt *stmt)
{
  MsJournalLeftOut *left_out = g_new0 (MsJournalLeftOut, 1);
  int email_index = sqlite3_column_int (stmt, 4);

  left_out->batch = sqlite3_column_int64 (stmt, 0);
  left_out->line = sqlite3_column_int (stmt, 1);
  if (sqlite3_column_type (stmt, 2) != SQLITE_NULL)
    left_out->values = column_strv (stmt, 2);
  left_out->reason = column_dup (stmt, 3);
  if (left_out->values != NULL && email_index >= 0 &&
      (guint) email_index < g_strv_length (left_out->values))
    left_out->address = g_strdup (left_out->values[email_index]);
  return left_out;
}

/**
 * ms_journal_list_left_out:
 * @batch: a batch ID
 *
 * The rows the import of @batch left out, in line order.
 *
 * Returns: (transfer full) (element-type MsJournalLeftOut): the rows (none
 *   for a batch without any, or imported before Mailshot kept them), or
 *   %NULL with @error
 */
GPtrArray *
ms_journal_list_left_out (MsJournal  *self,
                          gint64      batch,
                          GError    **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_journal_left_out_free);
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  rc = sqlite3_prepare_v2 (self->db, LEFT_OUT_SQL, -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      fail (self, rc, error);
      return NULL;
    }
  sqlite3_bind_int64 (stmt, 1, batch);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (list, left_out_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    {
      fail (self, rc, error);
      return NULL;
    }
  return g_steal_pointer (&list);
}

/**
 * ms_journal_discard_batch:
 *
 * Removes @batch with its rows and keys, as if it had never been imported:
 * an import committed in chunks that fails later leaves nothing behind.
 * Only for a batch nothing was sent from.
 */
gboolean
ms_journal_discard_batch (MsJournal  *self,
                          gint64      batch,
                          GError    **error)
{
  static const char * const sql[] = {
    "DELETE FROM recipient_keys WHERE batch = ?1",
    "DELETE FROM left_out WHERE batch = ?1",
    "DELETE FROM recipients WHERE batch = ?1",
    "DELETE FROM batches WHERE id = ?1",
  };

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!txn_begin (self, error))
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (sql); i++)
    {
      g_autoptr(sqlite3_stmt) stmt = NULL;
      int rc = sqlite3_prepare_v2 (self->db, sql[i], -1, &stmt, NULL);

      if (rc == SQLITE_OK)
        {
          sqlite3_bind_int64 (stmt, 1, batch);
          rc = sqlite3_step (stmt);
        }
      if (rc != SQLITE_DONE && rc != SQLITE_OK)
        {
          fail (self, rc, error);
          txn_abort (self);
          return FALSE;
        }
    }
  if (batch == self->import_batch)
    bloom_free (self);
  return txn_commit (self, error);
}

/* Batches ----------------------------------------------------------------- */

/**
 * ms_journal_get_batch_spec:
 *
 * Returns: (transfer full): what @batch sends, or %NULL with
 *   %MS_ERROR_NOT_FOUND.
 */
MsBatchSpec *
ms_journal_get_batch_spec (MsJournal  *self,
                           gint64      batch,
                           GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = NULL;
  MsBatchSpec *spec;

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stmt = step_one (self, STMT_GET_SPEC, batch, set_batch_not_found, error);
  if (stmt == NULL)
    return NULL;

  spec = g_new0 (MsBatchSpec, 1);
  spec->account = column_dup (stmt, 0);
  spec->from_address = column_dup (stmt, 1);
  spec->from_name = column_dup (stmt, 2);
  spec->subject = column_dup (stmt, 3);
  spec->text = column_dup (stmt, 4);
  spec->html = column_dup (stmt, 5);
  spec->attachments = column_strv (stmt, 6);
  spec->unsubscribe = column_dup (stmt, 7);
  spec->fields = column_strv (stmt, 8);
  spec->email_index = sqlite3_column_int (stmt, 9);
  spec->source = column_dup (stmt, 10);
  return spec;
}

static gboolean
fill_counts (MsJournal  *self,
             gint64      batch,
             guint       counts[MS_N_STATES],
             guint      *total,
             GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_COUNTS, error);
  int rc;

  if (stmt == NULL)
    return FALSE;

  memset (counts, 0, sizeof (guint) * MS_N_STATES);
  if (total)
    *total = 0;

  sqlite3_bind_int64 (stmt, 1, batch);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      int state = sqlite3_column_int (stmt, 0);
      guint n = sqlite3_column_int (stmt, 1);

      if (state >= 0 && state < MS_N_STATES)
        counts[state] = n;
      if (total)
        *total += n;
    }
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);
  return TRUE;
}

/**
 * ms_journal_get_batch_info:
 *
 * Returns: (transfer full): the batch's status and counts per state, or
 *   %NULL with %MS_ERROR_NOT_FOUND.
 */
MsBatchInfo *
ms_journal_get_batch_info (MsJournal  *self,
                           gint64      batch,
                           GError    **error)
{
  g_autoptr(MsBatchInfo) info = NULL;

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  info = read_info (self, batch, error);
  if (info == NULL)
    return NULL;

  if (!fill_counts (self, batch, info->counts, &info->total, error))
    return NULL;
  return g_steal_pointer (&info);
}

/**
 * ms_journal_list_batches:
 *
 * Returns: (transfer full) (element-type MsBatchInfo): every batch, newest
 *   first, with its counts.
 */
GPtrArray *
ms_journal_list_batches (MsJournal  *self,
                         GError    **error)
{
  g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_batch_info_free);

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  {
    g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_LIST_BATCHES, error);
    int rc;

    if (stmt == NULL)
      return NULL;
    while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
      g_ptr_array_add (list, info_from_stmt (stmt));
    if (rc != SQLITE_DONE)
      {
        fail (self, rc, error);
        return NULL;
      }
  }

  for (guint i = 0; i < list->len; i++)
    {
      MsBatchInfo *info = g_ptr_array_index (list, i);

      if (!fill_counts (self, info->id, info->counts, &info->total, error))
        return NULL;
    }

  return g_steal_pointer (&list);
}

/**
 * ms_journal_set_batch_status:
 * @pause_reason: (nullable): the advice of a stop-class reply, kept with a
 *   paused batch; ignored for other statuses
 *
 * A cancelled batch stays cancelled when the blast reports it finished.
 */
gboolean
ms_journal_set_batch_status (MsJournal      *self,
                             gint64          batch,
                             MsBatchStatus   status,
                             const char     *pause_reason,
                             GError        **error)
{
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(MsCachedStmt) stmt = NULL;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (status <= MS_BATCH_CANCELLED, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  info = read_info (self, batch, error);
  if (info == NULL)
    return FALSE;

  /* `cancel` from another process wins over the blast that then runs dry. */
  if (info->status == MS_BATCH_CANCELLED && status == MS_BATCH_FINISHED)
    return TRUE;

  stmt = get_stmt (self, STMT_SET_STATUS, error);
  if (stmt == NULL)
    return FALSE;
  sqlite3_bind_int64 (stmt, 1, batch);
  sqlite3_bind_int (stmt, 2, status);
  bind_text_or_null (stmt, 3, status == MS_BATCH_PAUSED ? pause_reason : NULL);
  sqlite3_bind_int64 (stmt, 4, now_seconds ());
  return run_stmt (self, stmt, error);
}

/* Sending ----------------------------------------------------------------- */

static gint
compare_row_id (gconstpointer a,
                gconstpointer b)
{
  const MsJournalRow *ra = *(MsJournalRow * const *) a;
  const MsJournalRow *rb = *(MsJournalRow * const *) b;

  return (ra->id > rb->id) - (ra->id < rb->id);
}

static gboolean
collect_rows (MsJournal     *self,
              MsCachedStmt  *stmt,
              GPtrArray     *rows,
              GError       **error)
{
  int rc;

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    g_ptr_array_add (rows, row_from_stmt (stmt));
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);
  return TRUE;
}

/**
 * ms_journal_claim:
 * @max: at most this many rows
 * @now: unix seconds; deferred rows due by then are claimed
 *
 * Claims rows that are due: deferred rows whose time has come first (oldest
 * due first), then queued rows in import order; the group is returned sorted
 * by id. They are marked `sending` with one more attempt, in one transaction:
 * if the process dies before ms_journal_record(), they become `uncertain`.
 *
 * Returns: (transfer full) (element-type MsJournalRow): the rows (possibly
 *   none), or %NULL on error.
 */
GPtrArray *
ms_journal_claim (MsJournal  *self,
                  gint64      batch,
                  guint       max,
                  gint64      now,
                  GError    **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_journal_row_free);
  gboolean durable;

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (max == 0)
    return g_steal_pointer (&rows);
  /* Sending has begun: the import's filter has done its job. */
  bloom_free (self);

  /* On disk before the first byte of these messages goes out: a claim lost
   * in a power cut would send them again silently. One fsync per group. */
  durable = durable_begin (self);
  if (!txn_begin (self, error))
    {
      durable_end (self, durable);
      return NULL;
    }

  {
    g_autoptr(MsCachedStmt) deferred = get_stmt (self, STMT_CLAIM_DEFERRED, error);

    if (deferred == NULL)
      goto failed;
    sqlite3_bind_int64 (deferred, 1, batch);
    sqlite3_bind_int64 (deferred, 2, now);
    sqlite3_bind_int64 (deferred, 3, max);
    if (!collect_rows (self, deferred, rows, error))
      goto failed;
  }

  if (rows->len < max)
    {
      g_autoptr(MsCachedStmt) queued = get_stmt (self, STMT_CLAIM_QUEUED, error);

      if (queued == NULL)
        goto failed;
      sqlite3_bind_int64 (queued, 1, batch);
      sqlite3_bind_int64 (queued, 2, max - rows->len);
      if (!collect_rows (self, queued, rows, error))
        goto failed;
    }

  for (guint i = 0; i < rows->len; i++)
    {
      MsJournalRow *row = g_ptr_array_index (rows, i);
      g_autoptr(MsCachedStmt) mark = get_stmt (self, STMT_MARK_SENDING, error);

      if (mark == NULL)
        goto failed;
      sqlite3_bind_int64 (mark, 1, row->id);
      sqlite3_bind_int64 (mark, 2, now);
      if (!run_stmt (self, mark, error))
        goto failed;

      row->state = MS_STATE_SENDING;
      row->attempts++;
      if (row->first_attempt_at == 0)
        row->first_attempt_at = now;
      row->next_due = 0;
      row->updated_at = now;
    }

  if (!txn_commit (self, error))
    {
      durable_end (self, durable);
      return NULL;
    }
  durable_end (self, durable);

  g_ptr_array_sort (rows, compare_row_id);
  return g_steal_pointer (&rows);

failed:
  txn_abort (self);
  durable_end (self, durable);
  return NULL;
}

/**
 * ms_journal_record:
 * @outcomes: (array length=n): what happened to claimed rows
 *
 * Records several outcomes in one transaction (a commit per outcome would
 * cost ten times more). Durable once it returns %TRUE.
 */
gboolean
ms_journal_record (MsJournal               *self,
                   const MsJournalOutcome  *outcomes,
                   guint                    n,
                   GError                 **error)
{
  gint64 now;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (outcomes != NULL || n == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n == 0)
    return TRUE;

  now = now_seconds ();
  if (!txn_begin (self, error))
    return FALSE;

  for (guint i = 0; i < n; i++)
    {
      const MsJournalOutcome *o = &outcomes[i];
      g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_RECORD, error);

      if (stmt == NULL)
        goto failed;

      sqlite3_bind_int64 (stmt, 1, o->row_id);
      sqlite3_bind_int (stmt, 2, o->state);
      sqlite3_bind_int (stmt, 3, o->reply_code);
      bind_text_or_null (stmt, 4, o->reply_text);
      bind_text_or_null (stmt, 5, o->reply_class != MS_REPLY_CLASS_NONE
                                    ? ms_reply_class_to_string (o->reply_class) : NULL);
      bind_text_or_null (stmt, 6, o->advice);
      bind_text_or_null (stmt, 7, o->message_id);
      sqlite3_bind_int64 (stmt, 8, o->state == MS_STATE_DEFERRED ? o->next_due : 0);
      sqlite3_bind_int64 (stmt, 9, now);
      if (!run_stmt (self, stmt, error))
        goto failed;
    }

  return txn_commit (self, error);

failed:
  txn_abort (self);
  return FALSE;
}

/**
 * ms_journal_release:
 * @row_ids: (array length=n): claimed rows that never started to transfer
 *
 * Puts rows still `sending` back to `queued` and gives their attempt back:
 * a clean pause or cancel, nothing was sent.
 */
gboolean
ms_journal_release (MsJournal     *self,
                    const gint64  *row_ids,
                    guint          n,
                    GError       **error)
{
  gint64 now;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (row_ids != NULL || n == 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n == 0)
    return TRUE;

  now = now_seconds ();
  if (!txn_begin (self, error))
    return FALSE;

  for (guint i = 0; i < n; i++)
    if (!update_row_at (self, STMT_RELEASE_ROW, row_ids[i], now, error))
      goto failed;

  return txn_commit (self, error);

failed:
  txn_abort (self);
  return FALSE;
}

/**
 * ms_journal_next_due:
 * @batch: a batch, or 0 for every batch
 *
 * Returns: the earliest next_due (unix seconds) among deferred rows, or 0
 *   when none is deferred (or on error, which is then set).
 */
gint64
ms_journal_next_due (MsJournal  *self,
                     gint64      batch,
                     GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  stmt = get_stmt (self, batch ? STMT_NEXT_DUE : STMT_NEXT_DUE_ALL, error);
  if (stmt == NULL)
    return 0;
  if (batch)
    sqlite3_bind_int64 (stmt, 1, batch);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      fail (self, rc, error);
      return 0;
    }
  return sqlite3_column_int64 (stmt, 0);
}

/**
 * ms_journal_get_counts:
 * @counts: (out caller-allocates): rows per #MsRecipientState
 *
 * Counting walks the batch's index: fine for status and list, but a blast
 * should keep its own running counts between calls.
 */
gboolean
ms_journal_get_counts (MsJournal  *self,
                       gint64      batch,
                       guint       counts[MS_N_STATES],
                       GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (counts != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return fill_counts (self, batch, counts, NULL, error);
}

/* The user's decisions ------------------------------------------------------ */

static MsJournalRow *
get_row (MsJournal  *self,
         gint64      row_id,
         GError    **error)
{
  g_autoptr(MsCachedStmt) stmt = step_one (self, STMT_GET_ROW, row_id, set_row_not_found, error);

  return stmt != NULL ? row_from_stmt (stmt) : NULL;
}

static gboolean
refuse_row (const MsJournalRow  *row,
            GError             **error)
{
  g_autofree char *id = id_string (row->id);

  if (row->state == MS_STATE_SENT)
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                 _("The message to %s (row %s) was sent already. "
                   "Mailshot does not send it twice."),
                 row->address, id);
  else
    g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                 _("The message to %s (row %s) is being sent right now. "
                   "Pause the batch first."),
                 row->address, id);
  return FALSE;
}

/* Gets a row the user may still change. Sent and sending rows are refused
 * here, once, so that retry, skip and a new address all give the same
 * answer for them. */
static MsJournalRow *
get_changeable_row (MsJournal  *self,
                    gint64      row_id,
                    GError    **error)
{
  g_autoptr(MsJournalRow) row = get_row (self, row_id, error);

  if (row == NULL)
    return NULL;
  if (row->state == MS_STATE_SENT || row->state == MS_STATE_SENDING)
    {
      refuse_row (row, error);
      return NULL;
    }
  return g_steal_pointer (&row);
}

/* Retry and skip are the same decision on one row: refuse a sent or sending
 * row, else run @id on it, all in one transaction. Retry also reopens a
 * finished or cancelled batch, in that same transaction, so that the row is
 * never queued in a batch nothing will resume. */
static gboolean
change_row (MsJournal  *self,
            gint64      row_id,
            StmtId      id,
            gboolean    reopen_batch,
            GError    **error)
{
  g_autoptr(MsJournalRow) row = NULL;
  g_autoptr(MsBatchInfo) info = NULL;

  if (!txn_begin (self, error))
    return FALSE;

  row = get_changeable_row (self, row_id, error);
  if (row == NULL)
    goto failed;

  if (!update_row (self, id, row_id, error))
    goto failed;

  if (reopen_batch)
    {
      info = ms_journal_get_batch_info (self, row->batch, error);
      if (info == NULL)
        goto failed;
      if ((info->status == MS_BATCH_FINISHED || info->status == MS_BATCH_CANCELLED) &&
          !ms_journal_set_batch_status (self, row->batch, MS_BATCH_PAUSED, NULL, error))
        goto failed;
    }

  return txn_commit (self, error);

failed:
  txn_abort (self);
  return FALSE;
}

/**
 * ms_journal_retry_row:
 *
 * Queues a failed, uncertain, deferred, cancelled or skipped row again, due
 * now, with a fresh retry schedule. A finished or cancelled batch becomes
 * paused so that `resume` sends it. A sent or sending row is refused.
 */
gboolean
ms_journal_retry_row (MsJournal  *self,
                      gint64      row_id,
                      GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return change_row (self, row_id, STMT_RETRY_ROW, TRUE, error);
}

/**
 * ms_journal_skip_row:
 *
 * Takes a row out of the batch (`skipped`): it is not sent. A sent or
 * sending row is refused.
 */
gboolean
ms_journal_skip_row (MsJournal  *self,
                     gint64      row_id,
                     GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return change_row (self, row_id, STMT_SKIP_ROW, FALSE, error);
}

/* One message for both ways a new address can clash with another row of the
 * batch: the key probe, and the key insert's constraint. */
static void
set_duplicate_recipient (gint64       batch,
                         const char  *address,
                         GError     **error)
{
  g_autofree char *id = id_string (batch);

  g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
               _("Batch %s already has the recipient %s. "
                 "Skip this row instead."),
               id, address);
}

/**
 * ms_journal_set_row_address:
 *
 * Corrects a row's address (and its value in the CSV row). The state is not
 * changed: follow with ms_journal_retry_row() to send it.
 */
gboolean
ms_journal_set_row_address (MsJournal   *self,
                            gint64       row_id,
                            const char  *address,
                            GError     **error)
{
  g_autoptr(MsJournalRow) row = NULL;
  g_autoptr(MsBatchSpec) spec = NULL;
  g_autofree char *trimmed = NULL;
  gint64 slot, existing;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (address != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  trimmed = g_strstrip (g_strdup (address));
  if (!g_utf8_validate (trimmed, -1, NULL) || !ms_recipients_address_is_valid (trimmed))
    {
      g_autofree char *shown = g_utf8_make_valid (trimmed, -1);

      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("“%s” is not a valid e-mail address. Enter one address, such as name@example.org."),
                   shown);
      return FALSE;
    }

  if (!txn_begin (self, error))
    return FALSE;

  row = get_changeable_row (self, row_id, error);
  if (row == NULL)
    goto failed;

  spec = ms_journal_get_batch_spec (self, row->batch, error);
  if (spec == NULL)
    goto failed;
  /* The merge reads the address field too: keep it in step. */
  if (spec->email_index < g_strv_length (row->values))
    {
      g_free (row->values[spec->email_index]);
      row->values[spec->email_index] = g_strdup (trimmed);
    }

  address_key (self->key, trimmed);
  if (!probe_key (self, row->batch, self->key->str, &slot, &existing, error))
    goto failed;
  if (existing != 0 && existing != row_id)
    {
      set_duplicate_recipient (row->batch, trimmed, error);
      goto failed;
    }

  {
    g_autoptr(MsCachedStmt) del = get_stmt (self, STMT_DELETE_KEY, error);

    if (del == NULL)
      goto failed;
    sqlite3_bind_int64 (del, 1, row->batch);
    sqlite3_bind_int64 (del, 2, row_id);
    if (!run_stmt (self, del, error))
      goto failed;
  }
  {
    g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_SET_ADDRESS, error);

    if (stmt == NULL)
      goto failed;
    encode_strv (self->blob, (const char * const *) row->values);
    sqlite3_bind_int64 (stmt, 1, row_id);
    sqlite3_bind_text (stmt, 2, trimmed, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 3, slot);
    sqlite3_bind_blob (stmt, 4, self->blob->data, self->blob->len, SQLITE_STATIC);
    sqlite3_bind_int64 (stmt, 5, now_seconds ());
    rc = sqlite3_step (stmt);
  }
  if (rc == SQLITE_DONE && !insert_key (self, row->batch, slot, row_id, &rc, error) &&
      rc != SQLITE_CONSTRAINT_PRIMARYKEY)
    {
      fail (self, rc, error);
      goto failed;
    }

  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
    {
      set_duplicate_recipient (row->batch, trimmed, error);
      goto failed;
    }
  if (rc != SQLITE_DONE)
    {
      fail (self, rc, error);
      goto failed;
    }

  return txn_commit (self, error);

failed:
  txn_abort (self);
  return FALSE;
}

/**
 * ms_journal_cancel_batch:
 *
 * Cancels every queued and deferred row and marks the batch cancelled. Rows
 * a running blast is sending finish normally; it then finds nothing to claim.
 */
gboolean
ms_journal_cancel_batch (MsJournal  *self,
                         gint64      batch,
                         GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!txn_begin (self, error))
    return FALSE;

  if (!ms_journal_set_batch_status (self, batch, MS_BATCH_CANCELLED, NULL, error) ||
      !update_row (self, STMT_CANCEL_ROWS, batch, error))
    {
      txn_abort (self);
      return FALSE;
    }

  return txn_commit (self, error);
}

/* Listing ------------------------------------------------------------------- */

/**
 * ms_journal_foreach_row:
 * @batch: a batch, or 0 for every batch
 * @states: (array length=n_states) (nullable): the states to include; %NULL
 *   for all
 * @func: called for each row, in batch then id order; return %FALSE to stop
 *
 * Streams rows one at a time: memory stays flat for a million rows. @func
 * may call other journal functions (it reads a snapshot taken at the start).
 */
gboolean
ms_journal_foreach_row (MsJournal               *self,
                        gint64                   batch,
                        const MsRecipientState  *states,
                        guint                    n_states,
                        MsJournalRowFunc         func,
                        gpointer                 user_data,
                        GError                 **error)
{
  /* Not a cached statement: @func may call back into the journal, even
   * into another foreach. */
  g_autoptr(sqlite3_stmt) stmt = NULL;
  guint mask = 0;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (states != NULL || n_states == 0, FALSE);
  g_return_val_if_fail (func != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (states == NULL)
    mask = (1u << MS_N_STATES) - 1;
  for (guint i = 0; i < n_states; i++)
    {
      g_return_val_if_fail (states[i] < MS_N_STATES, FALSE);
      mask |= 1u << states[i];
    }

  /* Both orders come from the recipients_batch index: no sort, no temp table. */
  rc = sqlite3_prepare_v2 (self->db,
                           batch
                           ? "SELECT " ROW_COLUMNS " FROM recipients"
                             " WHERE batch = ?1 AND ((?2 >> state) & 1) ORDER BY id"
                           : "SELECT " ROW_COLUMNS " FROM recipients"
                             " WHERE ((?2 >> state) & 1) ORDER BY batch, id",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    return fail (self, rc, error);
  if (batch)
    sqlite3_bind_int64 (stmt, 1, batch);
  sqlite3_bind_int (stmt, 2, mask);

  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      g_autoptr(MsJournalRow) row = row_from_stmt (stmt);

      if (!func (row, user_data))
        return TRUE;
    }
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);
  return TRUE;
}

static gboolean
collect_row (const MsJournalRow *row,
             gpointer            user_data)
{
  MsJournalRow *copy = g_memdup2 (row, sizeof *row);

  copy->address = g_strdup (row->address);
  copy->values = g_strdupv (row->values);
  copy->reply_text = g_strdup (row->reply_text);
  copy->advice = g_strdup (row->advice);
  copy->message_id = g_strdup (row->message_id);
  g_ptr_array_add (user_data, copy);
  return TRUE;
}

/**
 * ms_journal_list_rows:
 *
 * As ms_journal_foreach_row(), into an array (for the Pending e-mails view;
 * use foreach for reports on large batches).
 *
 * Returns: (transfer full) (element-type MsJournalRow): the rows, or %NULL
 *   on error.
 */
GPtrArray *
ms_journal_list_rows (MsJournal               *self,
                      gint64                   batch,
                      const MsRecipientState  *states,
                      guint                    n_states,
                      GError                 **error)
{
  g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_journal_row_free);

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!ms_journal_foreach_row (self, batch, states, n_states, collect_row, rows, error))
    return NULL;
  return g_steal_pointer (&rows);
}

/* Locks ----------------------------------------------------------------------- */

static void
set_locked_by (MsJournal  *self,
               gint64      batch,
               const char *owner)
{
  g_autoptr(MsCachedStmt) stmt = get_stmt (self, STMT_SET_LOCKED_BY, NULL);

  /* For people only (the lock file is the lock): a failure is not fatal. */
  if (stmt == NULL)
    return;
  sqlite3_bind_int64 (stmt, 1, batch);
  bind_text_or_null (stmt, 2, owner);
  if (sqlite3_step (stmt) != SQLITE_DONE)
    g_debug ("journal: could not note the owner of batch %" G_GINT64_FORMAT ": %s",
             batch, sqlite3_errmsg (self->db));
}

/**
 * ms_journal_lock_batch:
 *
 * Takes the batch's lock for this journal until ms_journal_unlock_batch(),
 * the journal's finalization or the process's death. Holding it is what
 * keeps recovery in other processes away from the batch's `sending` rows.
 * Taking it again through the same journal succeeds.
 *
 * Returns: %FALSE with %MS_ERROR_FAILED when another process (or another
 *   journal) holds it, %MS_ERROR_NOT_FOUND for an unknown batch.
 */
static gboolean lock_batch (MsJournal *self, gint64 batch, gboolean import, GError **error);

gboolean
ms_journal_lock_batch (MsJournal  *self,
                       gint64      batch,
                       GError    **error)
{
  return lock_batch (self, batch, FALSE, error);
}

/**
 * ms_journal_lock_batch_for_import:
 *
 * As ms_journal_lock_batch(), for an import committed in chunks: until
 * ms_journal_unlock_batch(), the batch is marked as being imported, and the
 * recovery of a journal opened after its importer died removes it (its list
 * is not whole).
 */
gboolean
ms_journal_lock_batch_for_import (MsJournal  *self,
                                  gint64      batch,
                                  GError    **error)
{
  return lock_batch (self, batch, TRUE, error);
}

static gboolean
lock_batch (MsJournal  *self,
            gint64      batch,
            gboolean    import,
            GError    **error)
{
  g_autoptr(MsBatchInfo) info = NULL;
  g_autofree char *holder = NULL;
  g_autofree char *owner = NULL;
  BatchLock *lock;
  gboolean busy;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (g_hash_table_contains (self->locks, &batch))
    return TRUE;

  /* Whoever locks a batch is about to change it; the lock file would be a
   * write too. */
  if (self->read_only)
    return fail (self, SQLITE_READONLY, error);

  info = ms_journal_get_batch_info (self, batch, error);
  if (info == NULL)
    return FALSE;

  lock = try_lock_batch (self, batch, &busy, &holder, error);
  if (lock == NULL)
    {
      if (busy)
        {
          g_auto(GStrv) parts = holder ? g_strsplit (holder, " ", 3) : NULL;

          g_autofree char *id = id_string (batch);

          if (parts != NULL && parts[0] != NULL && parts[1] != NULL)
            g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                         _("Batch %s is being sent by another Mailshot process "
                           "(pid %s on %s). Wait until it stops, or pause it there."),
                         id, parts[0], parts[1]);
          else
            g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                         _("Batch %s is being sent by another Mailshot process. "
                           "Wait until it stops, or pause it there."),
                         id);
        }
      return FALSE;
    }

  g_hash_table_insert (self->locks, g_memdup2 (&batch, sizeof batch), lock);
  owner = lock_owner_description ();
  if (import)
    {
      char *marked = g_strconcat ("import ", owner, NULL);

      g_free (owner);
      owner = marked;
    }
  set_locked_by (self, batch, owner);

  /* A run that died after this journal was opened left rows `sending`
   * (recovery at open could not see them): settle them now. */
  if (!recover_batch (self, batch, error))
    {
      g_hash_table_remove (self->locks, &batch);
      return FALSE;
    }
  return TRUE;
}

/**
 * ms_journal_set_import_unfinished:
 * @unfinished: %TRUE when @batch may be sent before the rest of its list
 *   is in; %FALSE once the whole list is in
 *
 * For an import that sends while it goes on (ms_import_start()). Call it
 * with %TRUE in the transaction of the first chunk (or with %FALSE when
 * that chunk is the whole list, to the same end): from then on the batch
 * is kept when its importer dies (it may have been sent; it was locked with
 * ms_journal_lock_batch_for_import(), which would have it removed), and a
 * resume imports the rest of its list (ms_journal_get_import_line()).
 */
gboolean
ms_journal_set_import_unfinished (MsJournal  *self,
                                  gint64      batch,
                                  gboolean    unfinished,
                                  GError    **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  rc = sqlite3_prepare_v2 (self->db, "UPDATE batches SET import_unfinished = ?2 WHERE id = ?1", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_int64 (stmt, 1, batch);
      sqlite3_bind_int (stmt, 2, unfinished ? 1 : 0);
      rc = sqlite3_step (stmt);
    }
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);
  /* No longer an import that recovery removes: a run's lock. Sent while
   * its list goes in, or whole (%FALSE), a batch whose process dies may
   * have been sent, and is recovered, never removed. */
  if (g_hash_table_contains (self->locks, &batch))
    {
      g_autofree char *owner = lock_owner_description ();

      set_locked_by (self, batch, owner);
    }
  return TRUE;
}

/**
 * ms_journal_set_source_identity:
 * @size: the file's size in bytes
 * @mtime: its modification time, unix seconds
 * @sha256: the SHA-256 of its bytes, in hex
 *
 * Records what identified the file of @batch's list when an import that
 * sends while it goes on began (ms_import_start()): a resume that imports
 * the rest checks it (ms_journal_get_source_identity()).
 */
gboolean
ms_journal_set_source_identity (MsJournal   *self,
                                gint64       batch,
                                gint64       size,
                                gint64       mtime,
                                const char  *sha256,
                                GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (sha256 != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  rc = sqlite3_prepare_v2 (self->db,
                           "UPDATE batches SET source_size = ?2, source_mtime = ?3, source_sha256 = ?4 WHERE id = ?1",
                           -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_int64 (stmt, 1, batch);
      sqlite3_bind_int64 (stmt, 2, size);
      sqlite3_bind_int64 (stmt, 3, mtime);
      sqlite3_bind_text (stmt, 4, sha256, -1, SQLITE_TRANSIENT);
      rc = sqlite3_step (stmt);
    }
  if (rc != SQLITE_DONE)
    return fail (self, rc, error);
  return TRUE;
}

/**
 * ms_journal_get_source_identity:
 * @size: (out): as recorded by ms_journal_set_source_identity()
 * @mtime: (out): likewise
 * @sha256: (out) (transfer full) (nullable): likewise; %NULL when nothing
 *   was recorded (a batch imported in one piece, or by an older version)
 */
gboolean
ms_journal_get_source_identity (MsJournal   *self,
                                gint64       batch,
                                gint64      *size,
                                gint64      *mtime,
                                char       **sha256,
                                GError     **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (size != NULL && mtime != NULL && sha256 != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *size = *mtime = 0;
  *sha256 = NULL;
  rc = sqlite3_prepare_v2 (self->db, "SELECT source_size, source_mtime, source_sha256 FROM batches WHERE id = ?1",
                           -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_int64 (stmt, 1, batch);
      rc = sqlite3_step (stmt);
    }
  if (rc == SQLITE_DONE)
    {
      set_batch_not_found (batch, error);
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    return fail (self, rc, error);
  *size = sqlite3_column_int64 (stmt, 0);
  *mtime = sqlite3_column_int64 (stmt, 1);
  *sha256 = column_dup (stmt, 2);
  return TRUE;
}

/**
 * ms_journal_get_import_line:
 * @line: (out): 0 when the whole list of @batch is in; else the line of
 *   its CSV the rows in end with (1, the header, when none is)
 *
 * Where a resume goes on with an import that stopped half way (see
 * ms_journal_set_import_unfinished()): the chunks go in whole and in line
 * order, so the rows after @line are the ones missing (a duplicate after
 * it was not stored, and is found again).
 */
gboolean
ms_journal_get_import_line (MsJournal  *self,
                            gint64      batch,
                            guint      *line,
                            GError    **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (line != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *line = 0;
  rc = sqlite3_prepare_v2 (self->db,
                           "SELECT import_unfinished,"
                           " max (coalesce ((SELECT max (line) FROM recipients WHERE batch = ?1), 1),"
                           "      coalesce ((SELECT max (line) FROM left_out WHERE batch = ?1), 1))"
                           " FROM batches WHERE id = ?1", -1, &stmt, NULL);
  if (rc == SQLITE_OK)
    {
      sqlite3_bind_int64 (stmt, 1, batch);
      rc = sqlite3_step (stmt);
    }
  if (rc == SQLITE_DONE)
    {
      set_batch_not_found (batch, error);
      return FALSE;
    }
  if (rc != SQLITE_ROW)
    return fail (self, rc, error);
  if (sqlite3_column_int (stmt, 0) != 0)
    *line = (guint) sqlite3_column_int64 (stmt, 1);
  return TRUE;
}

/**
 * ms_journal_unlock_batch:
 *
 * Releases the lock taken by ms_journal_lock_batch(). Rows still `sending`
 * should be recorded or released first.
 */
void
ms_journal_unlock_batch (MsJournal *self,
                         gint64     batch)
{
  g_return_if_fail (MS_IS_JOURNAL (self));

  if (g_hash_table_remove (self->locks, &batch))
    set_locked_by (self, batch, NULL);
  if (batch == self->import_batch)
    bloom_free (self);
  if (self->small_cache)
    {
      set_cache_size (self, CACHE_KIB);
      self->small_cache = FALSE;
    }
  /* Done with the batch (an import, a run): its pages need not stay in
   * memory while another journal of this process sends it. */
  sqlite3_db_release_memory (self->db);
}

/**
 * ms_journal_get_sent_times:
 * @account: (nullable): only batches of this account; %NULL for all
 * @since: unix seconds
 *
 * Returns: (transfer full) (element-type gint64): sent_at of the rows sent
 *   since @since, ascending, or %NULL on error.
 */
GArray *
ms_journal_get_sent_times (MsJournal   *self,
                           const char  *account,
                           gint64       since,
                           GError     **error)
{
  g_autoptr(GArray) times = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr(MsCachedStmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  stmt = get_stmt (self, STMT_SENT_TIMES, error);
  if (stmt == NULL)
    return NULL;
  sqlite3_bind_int64 (stmt, 1, since);
  bind_text_or_null (stmt, 2, account);
  while ((rc = sqlite3_step (stmt)) == SQLITE_ROW)
    {
      gint64 t = sqlite3_column_int64 (stmt, 0);
      g_array_append_val (times, t);
    }
  if (rc != SQLITE_DONE)
    {
      fail (self, rc, error);
      return NULL;
    }
  return g_steal_pointer (&times);
}

/* Batch-level rules and the user's other decisions ----------------------- */

/* The rule of both checks below: @batch must exist and must not be
 * @refused. @why is the sentence that says so, with the batch ID as its
 * only %s. */
static gboolean
check_batch_status_is_not (MsJournal      *self,
                           gint64          batch,
                           MsBatchStatus   refused,
                           const char     *why,
                           GError        **error)
{
  g_autoptr(MsBatchInfo) info = NULL;
  g_autofree char *id = NULL;

  info = read_info (self, batch, error);
  if (info == NULL)
    return FALSE;
  if (info->status != refused)
    return TRUE;
  id = id_string (batch);
  g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE, why, id);
  return FALSE;
}

/**
 * ms_journal_check_can_resume:
 * @batch: a batch ID
 *
 * Whether @batch may be sent (again): every front end asks here before it
 * runs a batch. A cancelled batch may not: the user stopped it for good. A
 * finished one may (there is nothing left to do, and the run says so).
 *
 * Returns: %FALSE with %MS_ERROR_NOT_FOUND or %MS_ERROR_INVALID_VALUE and a
 *   sentence that says what to do instead
 */
gboolean
ms_journal_check_can_resume (MsJournal  *self,
                             gint64      batch,
                             GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_batch_status_is_not (self, batch, MS_BATCH_CANCELLED,
                                    _("Batch %s was cancelled, so it cannot be resumed. To send some of its "
                                      "messages after all, retry them from the pending e-mails; to send all of "
                                      "them, send the list again as a new batch."),
                                    error);
}

/**
 * ms_journal_check_can_cancel:
 * @batch: a batch ID
 *
 * Whether @batch may be cancelled. A finished batch may not: every
 * recipient was dealt with, and calling it cancelled would hide that. A
 * batch cancelled already may (it stays cancelled).
 *
 * Returns: %FALSE with %MS_ERROR_NOT_FOUND or %MS_ERROR_INVALID_VALUE
 */
gboolean
ms_journal_check_can_cancel (MsJournal  *self,
                             gint64      batch,
                             GError    **error)
{
  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_batch_status_is_not (self, batch, MS_BATCH_FINISHED,
                                    _("Batch %s has finished: every recipient was dealt with, so nothing is "
                                      "left to cancel. Its report shows what happened to each message."),
                                    error);
}

/**
 * ms_journal_mark_sent:
 * @row: a row ID
 *
 * "Mark as sent": the user knows that an `uncertain` message arrived. The
 * row becomes `sent`, as sent when it was interrupted, and is never sent
 * again. Only uncertain rows: any other state has a surer answer.
 *
 * Returns: %FALSE with %MS_ERROR_NOT_FOUND or %MS_ERROR_INVALID_VALUE
 */
gboolean
ms_journal_mark_sent (MsJournal  *self,
                      gint64      row_id,
                      GError    **error)
{
  g_autoptr(MsJournalRow) row = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  g_autofree char *id = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!txn_begin (self, error))
    return FALSE;
  row = get_row (self, row_id, error);
  if (row == NULL)
    goto failed;
  if (row->state != MS_STATE_UNCERTAIN)
    {
      id = id_string (row_id);
      if (row->state == MS_STATE_SENT || row->state == MS_STATE_SENDING)
        refuse_row (row, error);
      else
        /* Translators: the second %s is a row number, the third a state such as “Failed”. */
        g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                     _("The message to %s (row %s) is not uncertain but “%s”: only a message that may have "
                       "been delivered can be marked as sent. Retry it or skip it instead."),
                     row->address, id, ms_recipient_state_get_label (row->state));
      goto failed;
    }

  /* Not a cached statement: a rare decision, not a hot path. */
  rc = sqlite3_prepare_v2 (self->db,
                           "UPDATE recipients SET state = 2, next_due = 0, advice = NULL,"
                           " sent_at = CASE WHEN updated_at > 0 THEN updated_at ELSE ?2 END,"
                           " updated_at = ?2 WHERE id = ?1 AND state = 5",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      fail (self, rc, error);
      goto failed;
    }
  sqlite3_bind_int64 (stmt, 1, row_id);
  sqlite3_bind_int64 (stmt, 2, now_seconds ());
  if (!run_stmt (self, stmt, error))
    goto failed;
  return txn_commit (self, error);

failed:
  txn_abort (self);
  return FALSE;
}

/**
 * ms_journal_find_row:
 * @batch: a batch ID
 * @line: the line of the recipient list the row came from
 *
 * The row that line @line of @batch's list became: the way a user names a
 * row from their own file (BATCH:LINE).
 *
 * Returns: the row ID, or 0 with %MS_ERROR_NOT_FOUND (a line that was the
 *   header, was left out or a duplicate, or does not exist) or
 *   %MS_ERROR_JOURNAL
 */
gint64
ms_journal_find_row (MsJournal  *self,
                     gint64      batch,
                     guint       line,
                     GError    **error)
{
  g_autoptr(MsBatchInfo) info = NULL;
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  info = read_info (self, batch, error);
  if (info == NULL)
    return 0;
  rc = sqlite3_prepare_v2 (self->db, "SELECT id FROM recipients WHERE batch = ?1 AND line = ?2 ORDER BY id LIMIT 1",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      fail (self, rc, error);
      return 0;
    }
  sqlite3_bind_int64 (stmt, 1, batch);
  sqlite3_bind_int64 (stmt, 2, line);
  rc = sqlite3_step (stmt);
  if (rc == SQLITE_ROW)
    return sqlite3_column_int64 (stmt, 0);
  if (rc != SQLITE_DONE)
    {
      fail (self, rc, error);
      return 0;
    }
  {
    g_autofree char *id = id_string (batch);

    /* Translators: the first %s is a batch ID, %u a line of the CSV file. */
    g_set_error (error, MS_ERROR, MS_ERROR_NOT_FOUND,
                 _("Batch %s has no recipient from line %u of its list: that line is the header, was left "
                   "out when the list was imported, or repeats an earlier address. The pending e-mails show "
                   "each row’s batch and line."),
                 id, line);
  }
  return 0;
}

/* The Batches and Pending views -------------------------------------------- */

/* RFC 4180: quote a field when it holds a comma, a quote or a line break,
 * or starts or ends with a blank (which spreadsheets would trim). */
static void
csv_field (GString    *out,
           const char *value,
           gboolean    last)
{
  if (value == NULL)
    value = "";
  if (strpbrk (value, ",\"\r\n") != NULL || (*value == ' ' || (*value && value[strlen (value) - 1] == ' ')))
    {
      g_string_append_c (out, '"');
      for (const char *p = value; *p; p++)
        {
          if (*p == '"')
            g_string_append_c (out, '"');
          g_string_append_c (out, *p);
        }
      g_string_append_c (out, '"');
    }
  else
    g_string_append (out, value);
  g_string_append_c (out, last ? '\n' : ',');
}

typedef struct {
  GString       *buffer;
  GOutputStream *out;
  GCancellable  *cancellable;
  GError        *error;
  /* The report's own: the merge fields, and the left-out rows read
   * alongside the recipients so that both come in line order. */
  guint          n_fields;
  sqlite3_stmt  *left_out;
  MsJournalLeftOut *next_left_out;   /* read, not written yet; NULL at the end */
  int            left_out_rc;
} ReportCsv;

static gboolean
report_csv_flush (ReportCsv *report)
{
  if (report->error == NULL &&
      !g_output_stream_write_all (report->out, report->buffer->str, report->buffer->len, NULL,
                                  report->cancellable, &report->error))
    return FALSE;
  g_string_truncate (report->buffer, 0);
  return report->error == NULL;
}

/* RFC 3463: the enhanced status code that the server put before the text
 * of its reply, and ms-blast keeps there ("5.1.1 <ann@…>: User unknown").
 * Its class is the reply code's first digit; anything else is text.
 * Returns: the code's length at @text, 0 when it has none. */
static gsize
enhanced_code_length (int         reply_code,
                      const char *text)
{
  const char *p = text;

  if (text == NULL || reply_code < 200 || reply_code > 599 || *p != '0' + reply_code / 100)
    return 0;
  p++;
  for (guint part = 0; part < 2; part++)
    {
      guint n = 0;

      if (*p++ != '.')
        return 0;
      while (g_ascii_isdigit (*p) && n <= 3)
        p++, n++;
      if (n == 0 || n > 3)
        return 0;
    }
  if (*p != '\0' && *p != ' ')
    return 0;
  return p - text;
}

/* The values of a row in the batch's columns, one field each, "" where the
 * row has none. */
static void
report_csv_values (ReportCsv   *report,
                   char       **values)
{
  guint n = values != NULL ? g_strv_length (values) : 0;

  for (guint i = 0; i < report->n_fields; i++)
    csv_field (report->buffer, i < n ? values[i] : NULL, i + 1 == report->n_fields);
}

static void
report_csv_write_left_out (ReportCsv              *report,
                           const MsJournalLeftOut *left_out)
{
  GString *out = report->buffer;

  csv_field (out, left_out->address, FALSE);
  csv_field (out, MS_JOURNAL_LEFT_OUT, FALSE);
  /* Never tried, never answered: its reason goes where a reply's text does. */
  g_string_append (out, "0,,,");
  csv_field (out, left_out->reason, FALSE);
  g_string_append_printf (out, ",,%u%s", left_out->line, report->n_fields > 0 ? "," : "\n");
  report_csv_values (report, left_out->values);
}

static void
report_csv_read_left_out (ReportCsv *report)
{
  g_clear_pointer (&report->next_left_out, ms_journal_left_out_free);
  if (report->left_out == NULL || report->left_out_rc != SQLITE_ROW)
    return;
  report->left_out_rc = sqlite3_step (report->left_out);
  if (report->left_out_rc == SQLITE_ROW)
    report->next_left_out = left_out_from_stmt (report->left_out);
}

/* Writes the left-out rows that come before @line (all of them: G_MAXUINT). */
static void
report_csv_left_out_before (ReportCsv *report,
                            guint      line)
{
  while (report->next_left_out != NULL && report->next_left_out->line < line)
    {
      report_csv_write_left_out (report, report->next_left_out);
      report_csv_read_left_out (report);
    }
}

static gboolean
report_csv_row (const MsJournalRow *row,
                gpointer            user_data)
{
  ReportCsv *report = user_data;
  GString *out = report->buffer;
  g_autofree char *time = NULL;
  char code[16] = "";
  gint64 when = row->sent_at > 0 ? row->sent_at : row->updated_at;
  gsize enhanced = enhanced_code_length (row->reply_code, row->reply_text);

  report_csv_left_out_before (report, row->line);
  if (when > 0)
    {
      g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (when);
      time = dt != NULL ? g_date_time_format_iso8601 (dt) : NULL;
    }
  if (row->reply_code > 0)
    g_snprintf (code, sizeof code, "%d", row->reply_code);

  csv_field (out, row->address, FALSE);
  csv_field (out, ms_recipient_state_to_string (row->state), FALSE);
  g_string_append_printf (out, "%u,", row->attempts);
  csv_field (out, time, FALSE);
  csv_field (out, code, FALSE);
  csv_field (out, row->reply_text, FALSE);
  csv_field (out, row->message_id, FALSE);
  /* A code is digits and dots: it needs no quoting. */
  g_string_append_len (out, row->reply_text, enhanced);
  g_string_append_printf (out, ",%u%s", row->line, report->n_fields > 0 ? "," : "\n");
  report_csv_values (report, row->values);
  /* Memory stays flat for a million rows: written in 64 KB pieces. */
  if (out->len > 64 * 1024)
    return report_csv_flush (report);
  return TRUE;
}

/**
 * ms_journal_write_report_csv:
 * @batch: a batch ID
 * @out: where the CSV goes; not closed
 * @cancellable: (nullable): stops between pieces
 *
 * Writes the report of @batch as CSV: the header line
 * `address,state,attempts,time,reply_code,reply_text,message_id,enhanced_code,line`
 * followed by the batch's CSV columns (the merge fields, named as in its
 * header), then one RFC 4180 line per recipient and per row the import
 * left out, in the order of their lines in the list. The state is the
 * lower-case word of ms_recipient_state_to_string(), or
 * %MS_JOURNAL_LEFT_OUT for a row left out (its reason is in reply_text);
 * the time (sent, else last changed) is in UTC ISO 8601; enhanced_code is
 * the RFC 3463 code the reply text starts with ("5.1.1"), if any. The
 * command line's `blast report --csv` and the desktop app's Export CSV both
 * write this, so that the two files are the same.
 *
 * Returns: %FALSE with @error set (%MS_ERROR_NOT_FOUND for an unknown
 *   batch, the stream's error, or %MS_ERROR_JOURNAL); what was written
 *   before the error stays written.
 */
gboolean
ms_journal_write_report_csv (MsJournal     *self,
                             gint64         batch,
                             GOutputStream *out,
                             GCancellable  *cancellable,
                             GError       **error)
{
  g_autoptr(MsBatchSpec) spec = NULL;
  g_autoptr(GString) buffer = NULL;
  g_autoptr(sqlite3_stmt) left_out = NULL;
  ReportCsv report = { 0 };
  GError *local_error = NULL;
  gboolean ok;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (out), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  spec = ms_journal_get_batch_spec (self, batch, error);
  if (spec == NULL)
    return FALSE;
  /* Not a cached statement: it stays open across the rows' callbacks. */
  rc = sqlite3_prepare_v2 (self->db, LEFT_OUT_SQL, -1, &left_out, NULL);
  if (rc != SQLITE_OK)
    return fail (self, rc, error);
  sqlite3_bind_int64 (left_out, 1, batch);

  buffer = g_string_sized_new (80 * 1024);
  report.n_fields = spec->fields != NULL ? g_strv_length (spec->fields) : 0;
  g_string_append (buffer, "address,state,attempts,time,reply_code,reply_text,message_id,enhanced_code,line");
  g_string_append_c (buffer, report.n_fields > 0 ? ',' : '\n');
  for (guint i = 0; i < report.n_fields; i++)
    csv_field (buffer, spec->fields[i], i + 1 == report.n_fields);
  report.buffer = buffer;
  report.out = out;
  report.cancellable = cancellable;
  report.left_out = left_out;
  report.left_out_rc = SQLITE_ROW;
  report_csv_read_left_out (&report);

  ok = ms_journal_foreach_row (self, batch, NULL, 0, report_csv_row, &report, &local_error);
  if (ok)
    report_csv_left_out_before (&report, G_MAXUINT);
  g_clear_pointer (&report.next_left_out, ms_journal_left_out_free);
  if (ok && report.left_out_rc != SQLITE_DONE)
    ok = fail (self, report.left_out_rc, &local_error);
  if (!ok)
    {
      /* The rows read so far still go out, as a stream of them would. */
      report_csv_flush (&report);
      g_clear_error (&report.error);
      g_propagate_error (error, local_error);
      return FALSE;
    }
  if (!report_csv_flush (&report) || !g_output_stream_flush (out, cancellable, &report.error))
    {
      g_propagate_error (error, report.error);
      return FALSE;
    }
  return TRUE;
}

/**
 * ms_journal_write_rows_csv:
 * @rows: (element-type MsJournalRow): the rows, in the order to write
 * @out: where the CSV goes; not closed
 *
 * Writes rows of any batches as the Pending view lists them: the header
 * `batch,line,address,state,attempts,time,reply_code,reply_text,advice`,
 * then one RFC 4180 line per row, quoted as the report is; the advice is
 * ms_journal_row_dup_advice()'s.
 *
 * Returns: %FALSE with the stream's error
 */
gboolean
ms_journal_write_rows_csv (GPtrArray     *rows,
                           GOutputStream *out,
                           GCancellable  *cancellable,
                           GError       **error)
{
  g_autoptr(GString) buffer = g_string_sized_new (80 * 1024);
  ReportCsv report = { .buffer = buffer, .out = out, .cancellable = cancellable };

  g_return_val_if_fail (rows != NULL, FALSE);
  g_return_val_if_fail (G_IS_OUTPUT_STREAM (out), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  g_string_append (buffer, "batch,line,address,state,attempts,time,reply_code,reply_text,advice\n");
  for (guint i = 0; i < rows->len; i++)
    {
      const MsJournalRow *row = g_ptr_array_index (rows, i);
      g_autofree char *advice = ms_journal_row_dup_advice (row);
      g_autofree char *time = NULL;
      char code[16] = "";
      gint64 when = row->sent_at > 0 ? row->sent_at : row->updated_at;

      if (when > 0)
        {
          g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc (when);
          time = dt != NULL ? g_date_time_format_iso8601 (dt) : NULL;
        }
      if (row->reply_code > 0)
        g_snprintf (code, sizeof code, "%d", row->reply_code);
      g_string_append_printf (buffer, "%" G_GINT64_FORMAT ",%u,", row->batch, row->line);
      csv_field (buffer, row->address, FALSE);
      csv_field (buffer, ms_recipient_state_to_string (row->state), FALSE);
      g_string_append_printf (buffer, "%u,", row->attempts);
      csv_field (buffer, time, FALSE);
      csv_field (buffer, code, FALSE);
      csv_field (buffer, row->reply_text, FALSE);
      csv_field (buffer, advice, TRUE);
      if (buffer->len > 64 * 1024 && !report_csv_flush (&report))
        break;
    }
  if (!report_csv_flush (&report) || !g_output_stream_flush (out, cancellable, &report.error))
    {
      g_propagate_error (error, report.error);
      return FALSE;
    }
  return TRUE;
}

/**
 * ms_journal_count_needing_attention:
 *
 * The rows that wait for the user's decision, in every batch: `failed` (to
 * fix and retry, or skip) and `uncertain` (to retry, or mark as sent).
 * Deferred rows are not counted: they are tried again by themselves.
 *
 * Returns: the count; 0 with @error set when the journal cannot be read
 */
guint
ms_journal_count_needing_attention (MsJournal  *self,
                                    GError    **error)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  int rc;

  g_return_val_if_fail (MS_IS_JOURNAL (self), 0);
  g_return_val_if_fail (error == NULL || *error == NULL, 0);

  /* Per batch and state, so that the (batch, state, next_due) index answers
   * it without reading every row of a million-row batch. */
  rc = sqlite3_prepare_v2 (self->db,
                           "SELECT count(*) FROM recipients WHERE batch IN (SELECT id FROM batches)"
                           " AND state IN (?1, ?2)",
                           -1, &stmt, NULL);
  if (rc != SQLITE_OK)
    {
      fail (self, rc, error);
      return 0;
    }
  sqlite3_bind_int (stmt, 1, MS_STATE_FAILED);
  sqlite3_bind_int (stmt, 2, MS_STATE_UNCERTAIN);
  rc = sqlite3_step (stmt);
  if (rc != SQLITE_ROW)
    {
      fail (self, rc, error);
      return 0;
    }
  return (guint) sqlite3_column_int64 (stmt, 0);
}

/**
 * ms_journal_check_changed:
 * @stamp: (inout): the caller's memory of this journal; 0 at first
 *
 * Whether the journal changed since the last call with @stamp: a commit by
 * any other connection, in this process (a blast's worker) or in another
 * one (mailshot-cli). SQLite's `PRAGMA data_version` answers that from
 * memory, so a window may ask every second or two. Changes made through
 * @self itself are not reported: its caller knows about them.
 *
 * Returns: %TRUE on the first call and after a change; %TRUE also when the
 *   journal cannot be read (a reload then shows the error)
 */
gboolean
ms_journal_check_changed (MsJournal *self,
                          gint64    *stamp)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  gint64 version;

  g_return_val_if_fail (MS_IS_JOURNAL (self), TRUE);
  g_return_val_if_fail (stamp != NULL, TRUE);

  if (sqlite3_prepare_v2 (self->db, "PRAGMA data_version", -1, &stmt, NULL) != SQLITE_OK ||
      sqlite3_step (stmt) != SQLITE_ROW)
    return TRUE;
  /* + 1: a stamp of 0 means "never asked". */
  version = sqlite3_column_int64 (stmt, 0) + 1;
  if (version == *stamp)
    return FALSE;
  *stamp = version;
  return TRUE;
}

/**
 * ms_journal_row_dup_advice:
 * @row: a row as listed
 *
 * What to do about @row, in one sentence: the advice stored when its reply
 * came (in the language of that moment); else the advice of its stored reply,
 * classified again by ms_reply_classify(); else a sentence for its state
 * (an uncertain row has no reply: the connection ended after the message).
 *
 * Returns: (transfer full) (nullable): the advice; %NULL for a sent row
 */
char *
ms_journal_row_dup_advice (const MsJournalRow *row)
{
  g_return_val_if_fail (row != NULL, NULL);

  if (row->state == MS_STATE_SENT)
    return NULL;
  if (row->advice != NULL && row->advice[0] != '\0')
    return g_strdup (row->advice);
  if (row->state == MS_STATE_UNCERTAIN)
    return g_strdup (_("The connection ended after the message was sent: it may have been delivered. "
                       "Retry it only if the recipient did not get it."));
  if (row->reply_code >= 400 || (row->reply_text != NULL && row->reply_text[0] != '\0'))
    {
      g_autoptr(MsReply) reply = ms_reply_classify (row->reply_code, row->reply_text, NULL, 0);

      if (reply->advice != NULL && reply->klass != MS_REPLY_CLASS_NONE)
        return g_strdup (reply->advice);
    }
  switch (row->state)
    {
    case MS_STATE_QUEUED:
      return g_strdup (_("Not sent yet: it goes out when its batch is resumed."));
    case MS_STATE_SENDING:
      return g_strdup (_("Being sent right now."));
    case MS_STATE_DEFERRED:
      return g_strdup (_("The server asked to try again later: it is tried again by itself."));
    case MS_STATE_FAILED:
      return g_strdup (_("The message could not be sent: correct the address and retry it, or skip it."));
    case MS_STATE_CANCELLED:
      return g_strdup (_("Its batch was cancelled: retry it to send it after all."));
    case MS_STATE_SKIPPED:
      return g_strdup (_("Left out: retry it to send it after all."));
    case MS_STATE_SENT:
    case MS_STATE_UNCERTAIN:
    case MS_N_STATES:
    default:
      return NULL;
    }
}

/* GObject ------------------------------------------------------------------- */

static void
ms_journal_finalize (GObject *object)
{
  MsJournal *self = MS_JOURNAL (object);

  if (self->db != NULL)
    {
      if (self->txn_depth > 0)
        ms_journal_rollback (self);
      /* Locks go before the statements that note their release. */
      if (g_hash_table_size (self->locks) > 0)
        {
          g_autoptr(GList) batches = g_hash_table_get_keys (self->locks);

          for (GList *l = batches; l; l = l->next)
            set_locked_by (self, *(gint64 *) l->data, NULL);
        }
    }
  g_clear_pointer (&self->locks, g_hash_table_unref);

  for (guint i = 0; i < N_STMTS; i++)
    g_clear_pointer (&self->stmts[i], sqlite3_finalize);
  g_clear_pointer (&self->db, sqlite3_close_v2);

  g_clear_pointer (&self->path, g_free);
  g_clear_pointer (&self->blob, g_byte_array_unref);
  g_clear_pointer (&self->pending_keys, g_array_unref);
  g_clear_pointer (&self->pending_index, g_free);
  bloom_free (self);
  if (self->key)
    g_string_free (g_steal_pointer (&self->key), TRUE);

  G_OBJECT_CLASS (ms_journal_parent_class)->finalize (object);
}

static void
ms_journal_get_property (GObject    *object,
                         guint       prop_id,
                         GValue     *value,
                         GParamSpec *pspec)
{
  MsJournal *self = MS_JOURNAL (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_value_set_string (value, self->path);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_journal_set_property (GObject      *object,
                         guint         prop_id,
                         const GValue *value,
                         GParamSpec   *pspec)
{
  MsJournal *self = MS_JOURNAL (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_assert (self->path == NULL);
      self->path = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
ms_journal_class_init (MsJournalClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = ms_journal_finalize;
  object_class->get_property = ms_journal_get_property;
  object_class->set_property = ms_journal_set_property;

  /**
   * MsJournal:path:
   *
   * The database file.
   */
  properties[PROP_PATH] =
    g_param_spec_string ("path", NULL, NULL, NULL,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY |
                         G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY);

  g_object_class_install_properties (object_class, N_PROPS, properties);
}

static void
ms_journal_init (MsJournal *self)
{
  self->locks = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free,
                                       (GDestroyNotify) batch_lock_free);
  self->blob = g_byte_array_new ();
  self->key = g_string_new (NULL);
  self->pending_keys = g_array_new (FALSE, FALSE, sizeof (PendingKey));
}

/* ------------------------------------------------------- after a crash */

/**
 * ms_journal_is_batch_busy:
 * @batch: a batch ID
 *
 * Whether another process (or another journal in this one) holds the lock
 * of @batch, that is, sends it right now. Takes no lock and writes nothing.
 */
gboolean
ms_journal_is_batch_busy (MsJournal *self,
                          gint64     batch)
{
  g_autofree char *holder = NULL;
  BatchLock *lock;
  gboolean busy = FALSE;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);

  if (g_hash_table_contains (self->locks, &batch))
    return FALSE;
  lock = try_lock_batch (self, batch, &busy, &holder, NULL);
  if (lock != NULL)
    batch_lock_free (lock);
  return busy;
}

/**
 * ms_journal_list_unfinished:
 *
 * The batches a user may want to carry on with after a crash, a restart or
 * a pause: paused, or left running by a process that stopped, with rows
 * still to send or `uncertain` or a list not all in (see
 * MsBatchInfo.import_unfinished), and not being sent by another process now.
 * A batch whose process died while this journal was open is recovered
 * here, as opening would have done: its `sending` rows become `uncertain`.
 * The same rule for every front end that offers to resume.
 *
 * Returns: (transfer full) (element-type MsBatchInfo): newest first, or
 *   %NULL with @error
 */
GPtrArray *
ms_journal_list_unfinished (MsJournal  *self,
                            GError    **error)
{
  g_autoptr(GPtrArray) batches = NULL;
  g_autoptr(GPtrArray) unfinished = NULL;

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  batches = ms_journal_list_batches (self, error);
  if (batches == NULL)
    return NULL;
  unfinished = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_batch_info_free);
  for (guint i = 0; i < batches->len; i++)
    {
      MsBatchInfo *info = g_ptr_array_index (batches, i);
      guint left = info->counts[MS_STATE_QUEUED] + info->counts[MS_STATE_DEFERRED] +
                   info->counts[MS_STATE_SENDING] + info->counts[MS_STATE_UNCERTAIN];

      /* A list not all in is never done: once the rows its import got in
       * are sent, the rest of the list is still to send (a resume imports
       * it), and nothing else would ever offer it. Its batch may even be
       * still `ready`, when the import died before the run started. */
      if ((info->status != MS_BATCH_PAUSED && info->status != MS_BATCH_RUNNING &&
           !(info->status == MS_BATCH_READY && info->import_unfinished)) ||
          (left == 0 && !info->import_unfinished) || g_hash_table_contains (self->locks, &info->id))
        continue;
      if (info->status == MS_BATCH_RUNNING)
        {
          gboolean busy = FALSE;
          BatchLock *lock;

          /* Running, but nobody holds it: its process died after this
           * journal was opened. Recover it as opening would have. */
          if (self->read_only)
            continue;
          lock = try_lock_batch (self, info->id, &busy, NULL, NULL);
          if (lock == NULL)
            continue;
          if (!recover_batch (self, info->id, error))
            {
              batch_lock_free (lock);
              return NULL;
            }
          batch_lock_free (lock);
          g_ptr_array_index (batches, i) = ms_journal_get_batch_info (self, info->id, error);
          ms_batch_info_free (info);
          if (g_ptr_array_index (batches, i) == NULL)
            return NULL;
        }
      else if (ms_journal_is_batch_busy (self, info->id))
        continue;
      g_ptr_array_add (unfinished, g_steal_pointer (&g_ptr_array_index (batches, i)));
    }
  return g_steal_pointer (&unfinished);
}

/**
 * ms_journal_requeue_uncertain:
 * @batch: a batch ID
 * @n_requeued: (out) (optional): how many rows were queued again
 *
 * "Resend them": every `uncertain` row of @batch is queued again, due now,
 * in one transaction. An uncertain message may have arrived already, so
 * this is the user's decision, never a default; a resume without it leaves
 * them uncertain (Pending e-mails lists them).
 */
gboolean
ms_journal_requeue_uncertain (MsJournal  *self,
                              gint64      batch,
                              guint      *n_requeued,
                              GError    **error)
{
  static const MsRecipientState uncertain[] = { MS_STATE_UNCERTAIN };
  g_autoptr(GPtrArray) rows = NULL;

  g_return_val_if_fail (MS_IS_JOURNAL (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_requeued != NULL)
    *n_requeued = 0;
  rows = ms_journal_list_rows (self, batch, uncertain, G_N_ELEMENTS (uncertain), error);
  if (rows == NULL || !ms_journal_begin (self, error))
    return FALSE;
  for (guint i = 0; i < rows->len; i++)
    if (!ms_journal_retry_row (self, ((MsJournalRow *) g_ptr_array_index (rows, i))->id, error))
      {
        ms_journal_rollback (self);
        return FALSE;
      }
  if (!ms_journal_commit (self, error))
    return FALSE;
  if (n_requeued != NULL)
    *n_requeued = rows->len;
  return TRUE;
}

/**
 * ms_journal_dup_rate_limit_reply:
 * @account: (nullable): only batches of this account
 * @since: unix seconds: only a reply recorded at or after it
 *
 * The server's reply that set the latest rate-limit wait ("451 4.7.0 …"),
 * as recorded with the row it held back, so that every process (the app,
 * the CLI, after a restart) can show why it waits.
 *
 * Returns: (transfer full) (nullable): the reply, or %NULL when none is recorded
 */
char *
ms_journal_dup_rate_limit_reply (MsJournal  *self,
                                 const char *account,
                                 gint64      since)
{
  g_autoptr(sqlite3_stmt) stmt = NULL;
  char *reply = NULL;

  g_return_val_if_fail (MS_IS_JOURNAL (self), NULL);

  if (sqlite3_prepare_v2 (self->db,
                          "SELECT r.reply_code, r.reply_text FROM recipients r JOIN batches b ON b.id = r.batch"
                          " WHERE r.reply_class = ?1 AND r.updated_at >= ?2 AND (?3 IS NULL OR b.account = ?3)"
                          " ORDER BY r.updated_at DESC LIMIT 1", -1, &stmt, NULL) != SQLITE_OK)
    return NULL;
  sqlite3_bind_text (stmt, 1, ms_reply_class_to_string (MS_REPLY_CLASS_RATE_LIMITED), -1, SQLITE_STATIC);
  sqlite3_bind_int64 (stmt, 2, since);
  if (account != NULL)
    sqlite3_bind_text (stmt, 3, account, -1, SQLITE_TRANSIENT);
  if (sqlite3_step (stmt) == SQLITE_ROW)
    {
      int code = sqlite3_column_int (stmt, 0);
      const char *text = (const char *) sqlite3_column_text (stmt, 1);

      reply = code > 0 ? g_strdup_printf ("%d %s", code, text != NULL ? text : "") : g_strdup (text);
    }
  return reply;
}
