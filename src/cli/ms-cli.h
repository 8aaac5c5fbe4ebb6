/* ms-cli.h: the commands of mailshot-cli, one file each
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "ms-journal.h"

G_BEGIN_DECLS

/* Exit codes of the CLI contract (DESIGN.md). */
enum {
  MS_CLI_OK = 0,
  MS_CLI_FAILED = 1,   /* the job failed; the diagnosis is on stderr */
  MS_CLI_USAGE = 2,    /* bad usage or bad input; the message names the argument, line or field */
};

typedef struct {
  const char *account;   /* --account, default "default" */
  const char *prgname;
} MsCliContext;

/* Each command gets argv with argv[0] = the command name ("config"). */
int ms_cli_config   (const MsCliContext *ctx, int argc, char **argv);
int ms_cli_password (const MsCliContext *ctx, int argc, char **argv);
int ms_cli_oauth2   (const MsCliContext *ctx, int argc, char **argv);
int ms_cli_test     (const MsCliContext *ctx, int argc, char **argv);
int ms_cli_blast    (const MsCliContext *ctx, int argc, char **argv);
int ms_cli_pending  (const MsCliContext *ctx, int argc, char **argv);

/* Prints "mailshot-cli: MESSAGE" to stderr and returns @code. */
int ms_cli_fail     (int code, const char *format, ...) G_GNUC_PRINTF (2, 3);

/* A batch or row ID as the user types it: a whole number from 1. */
gboolean ms_cli_parse_id         (const char *text, gint64 *id);
/* For the commands that only show the journal: on stderr, that it is shown
 * as last saved when it cannot be written (a full disk, a read-only file). */
void     ms_cli_note_read_only   (MsJournal *journal);

G_END_DECLS
