/* ms-test-support.h: shared test helpers: the harness SMTP server, smtp-sink, the CLI
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _MsTestServer MsTestServer;

/**
 * ms_test_server_start:
 * @first_arg: NULL-terminated list of options for tests/smtp-server.py, e.g.
 *   "--tls=starttls", "--auth=PLAIN,LOGIN,CRAM-MD5", "--user=u", "--password=p",
 *   "--fault=RCPT:550 5.1.1 User unknown", "--reject-rcpt=.*@bad\\.example",
 *   "--drop-after-data", "--stall=DATA" (see smtp-server.py --help).
 *
 * Starts the real aiosmtpd harness on 127.0.0.1 with a free port, waits until
 * it listens. Aborts the test if it cannot start.
 */
MsTestServer *ms_test_server_start        (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
MsTestServer *ms_test_server_startv       (const char * const *args);
guint16       ms_test_server_get_port     (MsTestServer *self);
/* The generated certificate (TLS modes): PEM path and SHA-256 fingerprint (hex, colons). */
const char   *ms_test_server_get_cert_path        (MsTestServer *self);
const char   *ms_test_server_get_cert_fingerprint (MsTestServer *self);
/* What crossed the wire: one GBytes per accepted message, in order. */
GPtrArray    *ms_test_server_get_messages (MsTestServer *self);
/* The event log, one line per event: "connect", "ehlo NAME", "starttls",
 * "auth MECH USER ok|fail", "mail FROM", "rcpt TO", "data N", "quit". */
char         *ms_test_server_get_log      (MsTestServer *self);
gboolean      ms_test_server_log_contains (MsTestServer *self, const char *line);
void          ms_test_server_stop         (MsTestServer *self);

/* Postfix smtp-sink on a free port of 127.0.0.1 for volume tests; NULL if
 * smtp-sink is missing (the test is then skipped with a message). */
typedef struct _MsTestSink MsTestSink;
MsTestSink   *ms_test_sink_start          (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
guint16       ms_test_sink_get_port       (MsTestSink *self);
void          ms_test_sink_stop           (MsTestSink *self);

/**
 * ms_test_run_cli:
 * @stdin_text: (nullable): fed to standard input
 * @out: (out) (optional): standard output
 * @err: (out) (optional): standard error
 *
 * Runs $MS_CLI with the NULL-terminated arguments. Returns its exit status.
 */
int           ms_test_run_cli             (const char  *stdin_text,
                                           char       **out,
                                           char       **err,
                                           const char  *first_arg,
                                           ...) G_GNUC_NULL_TERMINATED;
int           ms_test_run_cliv            (const char  *stdin_text,
                                           char       **out,
                                           char       **err,
                                           const char * const *args);

/* A file under $MS_TEST_TMPDIR (or a new temp dir); transfer full. */
char         *ms_test_tmp_path            (const char *name);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTestServer, ms_test_server_stop)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTestSink, ms_test_sink_stop)

G_END_DECLS
