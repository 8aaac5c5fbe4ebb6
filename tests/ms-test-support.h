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
 *   "--drop-after-data", "--stall=DATA", "--pipelining" (offer PIPELINING),
 *   "--read-rate=BYTES" (read bodies slowly), "--drop-during-data=BYTES"
 *   (reset while the body comes in) (see smtp-server.py --help).
 *
 * Starts the real aiosmtpd harness on 127.0.0.1 with a free port, waits until
 * it listens. Aborts the test if it cannot start. With no options at all, call
 * ms_test_server_startv (NULL): (NULL) alone trips the sentinel warning.
 */
MsTestServer *ms_test_server_start        (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
MsTestServer *ms_test_server_startv       (const char * const *args);
guint16       ms_test_server_get_port     (MsTestServer *self);
/* The generated certificate (TLS modes): PEM path and SHA-256 fingerprint (hex, colons). */
const char   *ms_test_server_get_cert_path        (MsTestServer *self);
const char   *ms_test_server_get_cert_fingerprint (MsTestServer *self);
/* What crossed the wire: one GBytes per accepted message, in order. */
GPtrArray    *ms_test_server_get_messages (MsTestServer *self);
/* The event log, one line per event: "connect", "tls", "tls-failed", "ehlo NAME",
 * "starttls", "auth MECH USER ok|fail", "mail FROM", "rcpt TO", "data-command"
 * (the DATA command), "data N" (a body of N bytes), "noop", "rset", "quit",
 * "disconnect", "reply CODE TEXT" (each 4xx/5xx sent), "fault CMD CODE",
 * "stall CMD", "drop N", "drop-body N". Commands are logged when received,
 * in order, also when pipelined. */
char         *ms_test_server_get_log      (MsTestServer *self);
gboolean      ms_test_server_log_contains (MsTestServer *self, const char *line);
void          ms_test_server_stop         (MsTestServer *self);
/* How many log lines equal @line exactly. */
guint         ms_test_server_log_count    (MsTestServer *self, const char *line);
/* Waits (up to @timeout_ms) until the log has a line equal to @line; the
 * "quit"/"disconnect" lines may land just after the client has returned. */
gboolean      ms_test_server_wait_log     (MsTestServer *self, const char *line, guint timeout_ms);
/* The number of accepted messages so far (also with --no-bodies). */
guint         ms_test_server_count_messages (MsTestServer *self);
/* One entry per accepted message, in order: "N FROM TO,TO" (the envelopes
 * file). The way to check exactly-once delivery per recipient. */
GPtrArray    *ms_test_server_get_envelopes (MsTestServer *self);
/* Where the log, messages, envelopes, cert.pem and stderr.log live. */
const char   *ms_test_server_get_state_dir (MsTestServer *self);
/* "smtp://127.0.0.1:PORT" (or smtps:// in --tls=smtps mode); transfer full. */
char         *ms_test_server_get_url      (MsTestServer *self);

/* Postfix smtp-sink on a free port of 127.0.0.1 for volume tests; NULL if
 * smtp-sink is missing (the test is then skipped with a message). */
typedef struct _MsTestSink MsTestSink;
MsTestSink   *ms_test_sink_start          (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
MsTestSink   *ms_test_sink_startv         (const char * const *args);
/* Like ms_test_sink_start, and also dumps each delivered message to a file
 * (smtp-sink -d) so ms_test_sink_get_rcpts works. Slower: for tests of up to
 * some thousands of messages. */
MsTestSink   *ms_test_sink_start_capture  (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
MsTestSink   *ms_test_sink_start_capturev (const char * const *args);
guint16       ms_test_sink_get_port       (MsTestSink *self);
/* Messages whose final "." smtp-sink has received (its -c "mesg=" counter),
 * whatever it answered to it. */
guint         ms_test_sink_get_count      (MsTestSink *self);
/* Waits (up to @timeout_ms) until the count reaches @count; returns the last count seen. */
guint         ms_test_sink_wait_count     (MsTestSink *self, guint count, guint timeout_ms);
/* Capture mode only: one entry per RCPT address of each delivered message,
 * without <>, sorted; an address delivered twice appears twice. */
GPtrArray    *ms_test_sink_get_rcpts      (MsTestSink *self);
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
/* The same with @env ("NAME=VALUE", NULL-terminated) added to the child's
 * environment only: g_setenv() in a test with threads is not thread-safe. */
int           ms_test_run_cli_envv        (const char * const *env,
                                           const char  *stdin_text,
                                           char       **out,
                                           char       **err,
                                           const char * const *args);

/**
 * ms_test_helper_start:
 * @script: a helper server of the tests (tests/oauth2-server.py …)
 * @prefix: the name of its state directory under $MS_TEST_TMPDIR
 * @args: (nullable): NULL-terminated options after --state-dir=DIR
 * @state_dir: (out) (optional): the state directory (transfer full)
 * @port: (out): the port of its "READY PORT" line
 *
 * Starts @script with /usr/bin/python3 and waits for its READY line; aborts
 * the test, with its standard error, when it does not come. Stop it with
 * ms_test_helper_stop(), which closes its standard input (for
 * --exit-on-stdin-eof), terminates it and waits.
 */
GSubprocess  *ms_test_helper_start        (const char          *script,
                                           const char          *prefix,
                                           const char * const  *args,
                                           char               **state_dir,
                                           guint16             *port);
void          ms_test_helper_stop         (GSubprocess         *proc);

/* The OAuth2 authorization server of the tests (tests/oauth2-server.py,
 * options such as "--access-lifetime=2", "--client-id=other"), on 127.0.0.1
 * over HTTPS with a CA made at start (ms_test_auth_server_get_ca; the app
 * trusts it through MS_OAUTH2_TEST_CA_ENV, which the caller sets). */
typedef struct _MsTestAuthServer MsTestAuthServer;
MsTestAuthServer *ms_test_auth_server_start  (const char *first_arg, ...) G_GNUC_NULL_TERMINATED;
MsTestAuthServer *ms_test_auth_server_startv (const char * const *args);
void          ms_test_auth_server_stop       (MsTestAuthServer *self);
const char   *ms_test_auth_server_get_ca     (MsTestAuthServer *self);
const char   *ms_test_auth_server_get_state_dir (MsTestAuthServer *self);
/* "https://127.0.0.1:PORT" and @path; transfer full. */
char         *ms_test_auth_server_url        (MsTestAuthServer *self, const char *path);
/* A file of its state directory (tokens.json, issued, log); transfer full. */
char         *ms_test_auth_server_path       (MsTestAuthServer *self, const char *name);
/* How many lines of its log equal @line. */
guint         ms_test_auth_server_log_count  (MsTestAuthServer *self, const char *line);
/* POST /admin/@what ("deny", "revoke", "expire"). */
void          ms_test_auth_server_admin      (MsTestAuthServer *self, const char *what);
/* One HTTPS request to it; the status, the redirect and the body. */
long          ms_test_auth_server_request    (MsTestAuthServer *self, const char *url, gboolean post,
                                              char **location, GString *body);
/* The browser's part of a sign-in: opens @uri (its /authorize page) and
 * follows the redirect to the app's loopback listener; that answer's status
 * (-1 when nothing answered), its page in @body. Blocks: call it from a
 * thread when the listener runs on this thread's main context. */
long          ms_test_auth_server_follow     (MsTestAuthServer *self, const char *uri, GString *body);
/* A plain HTTP GET (the loopback redirect); -1 when nothing answered. */
long          ms_test_http_get               (const char *url, GString *body);

/* A file under $MS_TEST_TMPDIR (or a new temp dir); transfer full. */
char         *ms_test_tmp_path            (const char *name);

/* What `blast send` (or the window) does until a kill -9 in a child process:
 * the batch of @csv_path for @account created, its first chunk of 4 rows
 * in, sent and recorded, the rest of the list not read yet. Never returns:
 * the process kills itself, so its import stays unfinished. */
void          ms_test_import_first_chunk_and_die (const char *account,
                                                  const char *subject,
                                                  const char *text,
                                                  const char *csv_path) G_GNUC_NORETURN;

/* A private tmpfs (root only): mounting one at @dir in a test subprocess. */
void          ms_test_mount_private_tmpfs (const char *dir,
                                           guint       kib);
/* Runs "@test_path/subprocess" (which mounts one) and asserts it passed;
 * skips where no tmpfs can be mounted. */
void          ms_test_run_tmpfs_subprocess (const char *test_path);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTestServer, ms_test_server_stop)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTestSink, ms_test_sink_stop)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (MsTestAuthServer, ms_test_auth_server_stop)

G_END_DECLS
