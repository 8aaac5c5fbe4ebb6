/* ms-smtp.c: one SMTP session on a libcurl easy handle: security policy, auth, timeouts, reply capture
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * One connection per session at a time, opened by libcurl
 * (CURLOPT_CONNECT_ONLY): TCP, TLS under SMTPS, the greeting, EHLO, and
 * STARTTLS whenever the server offers it (CURLUSESSL_TRY). On that same
 * connection, before anything of the account's goes out, the session takes
 * the security decision (check_security(): a clear connection only when
 * the server offers no STARTTLS and was never seen offering it, and then no
 * password in clear, CRAM-MD5 aside, unless the account allows it), signs in itself
 * (session_auth()), and moves bytes between the socket and the no-I/O codec
 * (ms-smtp-codec) for a window of messages in flight.
 *
 * Every session ends with QUIT and a brief wait for its answer: after the
 * last message, after a refused AUTH, MAIL or security decision, and after
 * a refusal in libcurl's own connection step, which libcurl 7.88 drops
 * without one (close_socket_cb()). Not where no QUIT is possible or none
 * would be heard: over TLS that libcurl has ended, after a failed handshake,
 * a 421, a drop, a timeout or an endless reply. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <unistd.h>
#include <string.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <glib/gi18n-lib.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ms-error.h"
#include "ms-smtp.h"
#include "ms-smtp-codec.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CURL, curl_easy_cleanup)

#define SHA256_LEN 32

/* A reply longer than this is given up on (a hostile or broken server could
 * go on forever); a real one is a few lines. Below libcurl 7.88's own limit
 * (300 KiB of replies per transfer, which it reports as a failure to
 * receive), so that the user learns what happened. */
#define MAX_REPLY_BYTES        (256 * 1024)
#define MAX_REPLY_LINES        1000
/* What is kept of one reply: the failure text (ms-reply keeps about 1 KB of
 * it), the EHLO keywords, the lines shown in the transcript. */
#define MAX_FAIL_TEXT          (8 * 1024)
#define MAX_CAPABILITIES       100
#define MAX_TRANSCRIPT_LINES   40
#define MAX_TRANSCRIPT_LINE    2048

/* How the session protects the connection; decided once per session. */
typedef enum {
  SECURITY_TLS,     /* SMTPS, or no clear connection allowed (yet): a connection without TLS is checked */
  SECURITY_CLEAR,   /* STARTTLS not offered and the policy allows going on in clear */
} Security;

/* The last command we sent, to know what a reply answers. */
typedef enum {
  CMD_NONE,
  CMD_EHLO,
  CMD_HELO,         /* after a refused EHLO: its refusal is the failure */
  CMD_STARTTLS,
  CMD_AUTH,
  CMD_MAIL,
  CMD_RCPT,
  CMD_DATA,
  CMD_QUIT,
  CMD_OTHER,
} Command;

struct _MsSmtp
{
  GObject          parent_instance;

  MsSmtpConfig    *config;
  CURL            *curl;
  char             errbuf[CURL_ERROR_SIZE];
  MsTranscript    *transcript;
  gboolean         record_transcript;
  MsSmtpStageFunc  stage_func;
  gpointer         stage_data;
  guint8           pin[SHA256_LEN];
  gboolean         pin_valid;

  /* The security decision, kept for the whole session. */
  Security         security;
  char            *login_options;

  /* What this session has seen on any connection. */
  gboolean         starttls_offered;

  /* The connection this session opened last. */
  GPtrArray       *caps;             /* char*, NULL-terminated; NULL before any EHLO */
  GPtrArray       *caps_building;
  gboolean         ehlo_first_line;
  gboolean         tcp_connected;
  gboolean         server_spoke;
  gboolean         tls_active;
  char            *auth_mechanism;
  char            *peer_fingerprint; /* "AB:CD:…" of the last certificate presented */

  /* The transfer in progress or last finished. */
  MsSmtpStage      stage;
  gboolean         stage_held;       /* a pipelined command failed: the stage stays at it */
  Command          last_command;
  Command          fail_command;     /* what the failure reply answered */
  gsize            reply_bytes;      /* of the reply being read */
  guint            reply_lines;
  gboolean         reply_overflow;   /* it went past the limits: given up */
  Command          overflow_command;
  Command          reply_command;    /* what the reply being read answers */
  curl_socket_t    curl_fd;          /* the socket libcurl opened last */
  gboolean         retried;          /* a failed message is tried again (a blast), not a test */
  gboolean         auth_open;
  gboolean         auth_ok;          /* a 235 answered AUTH in this transfer */
  gboolean         new_connection;   /* EHLO was sent in this transfer */
  gboolean         gate_tripped;
  gboolean         token_refused;    /* OAuth2: a 334 error challenge said the token is invalid */
  gboolean         token_renewed;    /* OAuth2: this message already got a new token */
  gboolean         abandon;          /* timed out: no point in a polite QUIT */
  gboolean         body_done;
  int              eom_code;         /* the reply to the end of the message */
  GString         *eom_line;         /* its last line, "250 2.0.0 Ok: queued as …" */
  int              fail_code;        /* the first 4xx/5xx reply */
  GString         *fail_text;
  gboolean         fail_collecting;  /* the failure reply has more lines */
  MsReply         *reply;
  gboolean         delivery_uncertain;
  gboolean         retry_now;
  gboolean         fresh_connect;    /* the server is closing the connection (421) */
  guint            conn_messages;    /* accepted on the connection open now */
  char            *ehlo_name;        /* what the URL makes libcurl say in EHLO */
  char            *ehlo_suggestion;  /* after a refused EHLO: another name that would pass */
  int              ehlo_refused_code; /* this connection's refused EHLO, when HELO took its place */
  char            *ehlo_refused_text;
  gboolean         quitting;         /* waiting for the answer to QUIT: briefly */
  gboolean         connecting;       /* in libcurl's connection step (curl_easy_perform) */
  GBytes          *message;
  GCancellable    *cancellable;

  /* Bulk mode (ms_smtp_send_bulk): the connection libcurl opened with
   * CURLOPT_CONNECT_ONLY, and what is buffered on it. */
  gboolean         bulk;
  gboolean         bulk_open;
  gint64           bulk_last_use;    /* monotonic µs */
  curl_socket_t    bulk_fd;
  GByteArray      *bulk_in;
  MsSmtpCodec     *codec;            /* the transactions of the open connection */
  guint            window;           /* messages in flight at most */
  gboolean         bulk_close_after; /* a refusal wants the connection ended, once its window is answered */
  gboolean         bulk_heard;       /* the server said something since the window was last empty */
  gboolean         bulk_connect_failed; /* no connection: nothing more is submitted until its answer is popped */
  GQueue           answers;          /* Answer*, ready for ms_smtp_bulk_pop() */
  GHashTable      *subs;             /* id → Sub, submitted and not answered */
  MsSmtpEndFunc    end_func;
  GArray          *end_ids;          /* guint64: the ends in the write about to go out */
  gpointer         end_data;
  MsSmtpOutcome   *outcome;          /* of the last ms_smtp_send() or ms_smtp_send_bulk() */
  MsSmtpOutcome   *connect_outcome;  /* of the last failed connection step, for its message */
  curl_opensocket_callback  open_socket_func;
  curl_closesocket_callback close_socket_func;
  gpointer         socket_data;
};

G_DEFINE_FINAL_TYPE (MsSmtp, ms_smtp, G_TYPE_OBJECT)

static int ssl_ex_index = -1;

/* ------------------------------------------------------------------------ */
/* MsSmtpConfig                                                             */

/**
 * ms_smtp_config_new:
 *
 * Returns: (transfer full): a config with the account defaults (port 587,
 *   timeout 30 s, automatic authentication, STARTTLS when offered)
 */
MsSmtpConfig *
ms_smtp_config_new (void)
{
  MsSmtpConfig *config = g_new0 (MsSmtpConfig, 1);

  config->port = 587;
  config->timeout = 30;
  config->auth_method = MS_AUTH_METHOD_AUTOMATIC;

  return config;
}

/**
 * ms_smtp_config_copy:
 *
 * Returns: (transfer full): a deep copy, password included
 */
MsSmtpConfig *
ms_smtp_config_copy (const MsSmtpConfig *config)
{
  MsSmtpConfig *copy;

  g_return_val_if_fail (config != NULL, NULL);

  copy = g_memdup2 (config, sizeof *config);
  copy->server = g_strdup (config->server);
  copy->ehlo_host = g_strdup (config->ehlo_host);
  copy->user = g_strdup (config->user);
  copy->password = g_strdup (config->password);
  copy->trusted_certificate = g_strdup (config->trusted_certificate);
  copy->from_address = g_strdup (config->from_address);
  copy->from_name = g_strdup (config->from_name);
  copy->ca_file = g_strdup (config->ca_file);
  copy->oauth2 = config->oauth2 != NULL ? g_object_ref (config->oauth2) : NULL;

  return copy;
}

static void
wipe (void   *data,
      gsize   len)
{
  if (data == NULL)
    return;
  memset (data, 0, len);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 25))
  /* memset alone may be optimised away before a free. */
  explicit_bzero (data, len);
#endif
}

/**
 * ms_smtp_config_free:
 *
 * Frees @config, overwriting the password first.
 */
void
ms_smtp_config_free (MsSmtpConfig *config)
{
  if (config == NULL)
    return;

  if (config->password != NULL)
    wipe (config->password, strlen (config->password));
  g_free (config->password);
  g_free (config->server);
  g_free (config->ehlo_host);
  g_free (config->user);
  g_free (config->trusted_certificate);
  g_free (config->from_address);
  g_free (config->from_name);
  g_free (config->ca_file);
  g_clear_object (&config->oauth2);
  g_free (config);
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */

static const char *
stage_nick (MsSmtpStage stage)
{
  static const char * const nicks[] = {
    "none", "resolve", "connect", "greeting", "ehlo", "tls", "auth", "mail", "rcpt", "data", "done",
  };

  return (guint) stage < G_N_ELEMENTS (nicks) ? nicks[stage] : "?";
}

static void
set_stage (MsSmtp      *self,
           MsSmtpStage  stage)
{
  if (self->stage == stage || self->stage_held)
    return;
  self->stage = stage;
  if (self->stage_func != NULL)
    self->stage_func (self, stage, self->stage_data);
}

/* The account's timeout, in seconds: the one value every wait of the
 * session comes from, in libcurl's steps (connect, each reply, a stalled
 * upload) and in the bulk loop's (each step that makes no progress). */
static long
step_timeout (MsSmtp *self)
{
  return MAX (self->config->timeout, 1);
}

static gboolean
recording (MsSmtp *self)
{
  return self->record_transcript;
}

/* A name a strict server takes as fully qualified: with a dot, and none of
 * the names that say nothing (reject_non_fqdn_helo_hostname refuses a
 * dotless one, and "x.localdomain" reaches nobody). */
static gboolean
is_public_fqdn (const char *host)
{
  if (host == NULL || strchr (host, '.') == NULL || host[0] == '.' ||
      g_str_has_suffix (host, ".") || g_str_has_suffix (host, ".localdomain") ||
      g_str_has_suffix (host, ".local"))
    return FALSE;

  for (const char *p = host; *p != '\0'; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return TRUE;
}

/* The machine's fully qualified name: its host name when that is one, else
 * the canonical name the resolver knows for it (what `hostname -f` prints,
 * usually from /etc/hosts); NULL when there is none. */
static char *
fully_qualified_host_name (void)
{
  const char *host = g_get_host_name ();
  struct addrinfo hints = { .ai_flags = AI_CANONNAME, .ai_socktype = SOCK_STREAM };
  struct addrinfo *res = NULL;
  char *fqdn = NULL;

  if (is_public_fqdn (host))
    return g_ascii_strdown (host, -1);
  if (host == NULL || getaddrinfo (host, NULL, &hints, &res) != 0)
    return NULL;
  if (res != NULL && is_public_fqdn (res->ai_canonname))
    fqdn = g_ascii_strdown (res->ai_canonname, -1);
  freeaddrinfo (res);
  return fqdn;
}

/* The address literal of the local address a connection to the server
 * leaves from: "[192.0.2.10]" or "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3), as
 * Thunderbird says when the machine has no fully qualified name.
 * libcurl takes the EHLO name from the URL, fixed before the transfer, and
 * its socket callbacks run before connect(), when the socket has no local
 * address yet. So the kernel is asked the narrowest way: a UDP socket
 * connect()ed to the server's address sends nothing, and getsockname() on
 * it gives the source address of that route, the one TCP will use too. */
static char *
local_address_literal (const MsSmtpConfig *config)
{
  struct addrinfo hints = { .ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICSERV };
  struct addrinfo *res = NULL;
  g_autofree char *host = NULL;
  char port[16];
  char *literal = NULL;

  /* The server as written in the account, without URL brackets. */
  if (config->server[0] == '[')
    host = g_strndup (config->server + 1, strcspn (config->server + 1, "]"));
  else
    host = g_strdup (config->server);
  g_snprintf (port, sizeof port, "%d", config->port);
  if (getaddrinfo (host, port, &hints, &res) != 0)
    return NULL;

  for (struct addrinfo *ai = res; ai != NULL && literal == NULL; ai = ai->ai_next)
    {
      struct sockaddr_storage local;
      socklen_t len = sizeof local;
      char text[INET6_ADDRSTRLEN];
      int fd = socket (ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

      if (fd < 0)
        continue;
      if (connect (fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
          getsockname (fd, (struct sockaddr *) &local, &len) == 0)
        {
          if (local.ss_family == AF_INET &&
              inet_ntop (AF_INET, &((struct sockaddr_in *) &local)->sin_addr, text, sizeof text) != NULL)
            literal = g_strdup_printf ("[%s]", text);
          else if (local.ss_family == AF_INET6 &&
                   inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &local)->sin6_addr, text, sizeof text) != NULL)
            literal = g_strdup_printf ("[IPv6:%s]", text);
        }
      close (fd);
    }
  freeaddrinfo (res);
  return literal;
}

/* The EHLO name when the account leaves it blank: the fully qualified host
 * name, else the address literal of the connection's local address. Never
 * the bare machine name (libcurl's default) nor "localhost", which servers
 * with reject_non_fqdn_helo_hostname refuse. */
static char *
default_ehlo_name (const MsSmtpConfig *config)
{
  char *name = fully_qualified_host_name ();

  if (name == NULL)
    name = local_address_literal (config);
  if (name == NULL)
    name = g_strdup ("localhost");   /* the server cannot be resolved: the connection fails anyway */
  g_debug ("EHLO name for %s: %s", config->server, name);
  return name;
}

static char *
build_url (const MsSmtpConfig  *config,
           char               **ehlo_out)
{
  g_autofree char *host = NULL;
  g_autofree char *ehlo = NULL;
  g_autofree char *ehlo_escaped = NULL;

  /* An IPv6 literal needs brackets in a URL. */
  if (strchr (config->server, ':') != NULL && config->server[0] != '[')
    host = g_strdup_printf ("[%s]", config->server);
  else
    host = g_strdup (config->server);

  if (config->ehlo_host != NULL && *config->ehlo_host != '\0')
    ehlo = g_strdup (config->ehlo_host);
  else
    ehlo = default_ehlo_name (config);
  ehlo_escaped = g_uri_escape_string (ehlo, "[]:", FALSE);
  *ehlo_out = g_steal_pointer (&ehlo);

  return g_strdup_printf ("%s://%s:%d/%s", config->use_smtps ? "smtps" : "smtp",
                          host, config->port, ehlo_escaped);
}

/* "ab:CD…" or "abcd…" (64 hex digits, any case, colons or spaces) */
static gboolean
parse_fingerprint (const char *text,
                   guint8      out[SHA256_LEN])
{
  guint n = 0;
  int high = -1;

  if (text == NULL)
    return FALSE;

  for (const char *p = text; *p != '\0'; p++)
    {
      int v;

      if (*p == ':' || *p == ' ')
        continue;
      v = g_ascii_xdigit_value (*p);
      if (v < 0 || n >= SHA256_LEN)
        return FALSE;
      if (high < 0)
        high = v;
      else
        {
          out[n++] = (guint8) (high << 4 | v);
          high = -1;
        }
    }

  return n == SHA256_LEN && high < 0;
}

static char *
format_fingerprint (const guint8 *digest,
                    gsize         len)
{
  GString *str = g_string_sized_new (len * 3);

  for (gsize i = 0; i < len; i++)
    g_string_append_printf (str, i == 0 ? "%02X" : ":%02X", digest[i]);

  return g_string_free (str, FALSE);
}

static const char *
login_options_for (MsAuthMethod method)
{
  switch (method)
    {
    case MS_AUTH_METHOD_CRAM_MD5: return "AUTH=CRAM-MD5";
    case MS_AUTH_METHOD_PLAIN:    return "AUTH=PLAIN";
    case MS_AUTH_METHOD_LOGIN:    return "AUTH=LOGIN";
    /* Both: OAUTHBEARER (RFC 7628) when the server offers it,
     * else XOAUTH2 (Microsoft 365 offers only that). */
    case MS_AUTH_METHOD_OAUTH2:   return "AUTH=OAUTHBEARER;AUTH=XOAUTH2";
    case MS_AUTH_METHOD_AUTOMATIC:
    default:                      return "AUTH=*";
    }
}

static const char *
mechanism_name (MsAuthMethod method)
{
  switch (method)
    {
    case MS_AUTH_METHOD_CRAM_MD5: return "CRAM-MD5";
    case MS_AUTH_METHOD_PLAIN:    return "PLAIN";
    case MS_AUTH_METHOD_LOGIN:    return "LOGIN";
    case MS_AUTH_METHOD_OAUTH2:   return "XOAUTH2 or OAUTHBEARER";
    case MS_AUTH_METHOD_AUTOMATIC:
    default:                      return NULL;
    }
}

/* The mechanisms of the EHLO "AUTH …" (or old "AUTH=…") line, or NULL when
 * the server advertises none. */
static GStrv
caps_auth_mechanisms (MsSmtp *self)
{
  if (self->caps == NULL)
    return NULL;

  for (guint i = 0; i < self->caps->len && g_ptr_array_index (self->caps, i) != NULL; i++)
    {
      const char *cap = g_ptr_array_index (self->caps, i);

      if (g_ascii_strncasecmp (cap, "AUTH", 4) == 0 && (cap[4] == ' ' || cap[4] == '='))
        {
          g_auto(GStrv) mechs = g_strsplit_set (cap + 5, " ", -1);
          g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

          for (guint j = 0; mechs[j] != NULL; j++)
            if (*mechs[j] != '\0')
              g_strv_builder_add (builder, mechs[j]);
          return g_strv_builder_end (builder);
        }
    }

  return NULL;
}

static gboolean
caps_auth_has (MsSmtp     *self,
               const char *mechanism)
{
  g_auto(GStrv) mechs = caps_auth_mechanisms (self);

  for (guint i = 0; mechs != NULL && mechs[i] != NULL; i++)
    if (g_ascii_strcasecmp (mechs[i], mechanism) == 0)
      return TRUE;

  return FALSE;
}

static gboolean
caps_has_auth (MsSmtp *self)
{
  g_auto(GStrv) mechs = caps_auth_mechanisms (self);

  return mechs != NULL && mechs[0] != NULL;
}

static gboolean
caps_has (MsSmtp     *self,
          const char *keyword)
{
  for (guint i = 0; self->caps != NULL && i < self->caps->len && g_ptr_array_index (self->caps, i) != NULL; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (self->caps, i), keyword) == 0)
      return TRUE;

  return FALSE;
}

/* ------------------------------------------------------------------------ */
/* Reading the dialog from libcurl's debug stream                           */

static void
reset_connection (MsSmtp *self)
{
  g_clear_pointer (&self->caps, g_ptr_array_unref);
  g_clear_pointer (&self->caps_building, g_ptr_array_unref);
  g_clear_pointer (&self->auth_mechanism, g_free);
  g_clear_pointer (&self->peer_fingerprint, g_free);
  g_clear_pointer (&self->ehlo_refused_text, g_free);
  self->ehlo_refused_code = 0;
  self->tcp_connected = FALSE;
  self->conn_messages = 0;
  self->server_spoke = FALSE;
  self->tls_active = FALSE;
}

static void
tls_started (MsSmtp     *self,
             const char *detail)
{
  if (self->tls_active)
    return;
  self->tls_active = TRUE;
  if (recording (self))
    {
      struct curl_tlssessioninfo *info = NULL;
      g_autofree char *what = NULL;

      /* The protocol and cipher, from the TLS session libcurl holds. */
      if (detail == NULL && self->curl != NULL &&
          curl_easy_getinfo (self->curl, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK &&
          info != NULL && info->backend == CURLSSLBACKEND_OPENSSL && info->internals != NULL)
        {
          SSL *ssl = info->internals;

          what = g_strdup_printf ("TLS connection using %s / %s", SSL_get_version (ssl),
                                  SSL_get_cipher_name (ssl));
          detail = what;
        }
      ms_transcript_mark_tls (self->transcript);
      if (detail != NULL)
        ms_transcript_add_info (self->transcript, "%s", detail);
    }
}

static Command
parse_command (const char *line,
               gsize       len)
{
  static const struct { const char *verb; Command command; } verbs[] = {
    { "EHLO", CMD_EHLO }, { "HELO", CMD_HELO }, { "STARTTLS", CMD_STARTTLS },
    { "AUTH", CMD_AUTH }, { "MAIL", CMD_MAIL }, { "RCPT", CMD_RCPT },
    { "DATA", CMD_DATA }, { "QUIT", CMD_QUIT },
  };

  for (guint i = 0; i < G_N_ELEMENTS (verbs); i++)
    {
      gsize vlen = strlen (verbs[i].verb);

      if (len >= vlen && g_ascii_strncasecmp (line, verbs[i].verb, vlen) == 0 &&
          (len == vlen || line[vlen] == ' ' || line[vlen] == ':'))
        return verbs[i].command;
    }

  return CMD_OTHER;
}

static void
on_client_line (MsSmtp     *self,
                const char *line,
                gsize       len)
{
  Command command;

  if (recording (self))
    ms_transcript_add (self->transcript, MS_TRANSCRIPT_CLIENT, line, len, self->config->password);

  if (self->auth_open)
    return;   /* a step of the AUTH exchange, not a command */

  while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  command = parse_command (line, len);
  self->last_command = command;

  switch (command)
    {
    case CMD_EHLO:
    case CMD_HELO:
      self->new_connection = TRUE;
      self->ehlo_first_line = TRUE;
      g_clear_pointer (&self->caps_building, g_ptr_array_unref);
      self->caps_building = g_ptr_array_new_with_free_func (g_free);
      set_stage (self, MS_SMTP_STAGE_EHLO);
      break;

    case CMD_STARTTLS:
      set_stage (self, MS_SMTP_STAGE_TLS);
      break;

    case CMD_AUTH:
      {
        const char *mech = line + 4;
        const char *end = line + len;
        const char *mech_end;

        while (mech < end && *mech == ' ')
          mech++;
        mech_end = mech;
        while (mech_end < end && *mech_end != ' ' && *mech_end != '\r' && *mech_end != '\n')
          mech_end++;
        g_free (self->auth_mechanism);
        self->auth_mechanism = g_ascii_strup (mech, mech_end - mech);
        self->auth_open = TRUE;
        set_stage (self, MS_SMTP_STAGE_AUTH);
      }
      break;

    case CMD_MAIL:
      /* No EHLO in this transfer: libcurl kept the connection. */
      if (!self->new_connection && recording (self))
        ms_transcript_add_info (self->transcript, "Re-using the open connection");
      set_stage (self, MS_SMTP_STAGE_MAIL);
      break;

    case CMD_RCPT:
      set_stage (self, MS_SMTP_STAGE_RCPT);
      break;

    case CMD_DATA:
      set_stage (self, MS_SMTP_STAGE_DATA);
      break;

    case CMD_NONE:
    case CMD_QUIT:
    case CMD_OTHER:
    default:
      break;
    }
}

/* Adds a continuation line of a failure reply, without repeating the
 * enhanced status code the first line had. */
static void
append_fail_text (MsSmtp     *self,
                  const char *text)
{
  const char *first_space = strchr (self->fail_text->str, ' ');

  if (first_space != NULL && first_space > self->fail_text->str &&
      g_ascii_isdigit (self->fail_text->str[0]) && self->fail_text->str[1] == '.')
    {
      gsize elen = first_space - self->fail_text->str + 1;

      if (strncmp (text, self->fail_text->str, elen) == 0)
        text += elen;
    }
  /* Enough to classify and quote; the rest of a long reply is dropped. */
  if (self->fail_text->len >= MAX_FAIL_TEXT)
    return;
  if (self->fail_text->len > 0)
    g_string_append_c (self->fail_text, ' ');
  g_string_append_len (self->fail_text, text, strnlen (text, MAX_FAIL_TEXT - self->fail_text->len));
}

/* What a reply answered, for ms-reply: the same words mean different things
 * in the greeting and in answer to RCPT. */
static MsReplyTo
reply_to_for (MsSmtp  *self,
              Command  command)
{
  switch (command)
    {
    case CMD_NONE:     return MS_REPLY_TO_GREETING;
    case CMD_EHLO:
    case CMD_HELO:     return MS_REPLY_TO_EHLO;
    case CMD_STARTTLS: return MS_REPLY_TO_STARTTLS;
    case CMD_AUTH:     return MS_REPLY_TO_AUTH;
    case CMD_MAIL:     return MS_REPLY_TO_MAIL;
    case CMD_RCPT:     return MS_REPLY_TO_RCPT;
    case CMD_DATA:     return self->body_done ? MS_REPLY_TO_END_OF_DATA : MS_REPLY_TO_DATA;
    case CMD_OTHER:    return self->body_done ? MS_REPLY_TO_END_OF_DATA : MS_REPLY_TO_UNKNOWN;
    case CMD_QUIT:
    default:           return MS_REPLY_TO_UNKNOWN;
    }
}

/* A reply that does not end: stop reading it. The socket is shut down, so
 * that libcurl's own reading loop ends at once (it does not call the
 * progress callback while it waits for the end of a message). */
static void
give_up_on_reply (MsSmtp *self)
{
  self->reply_overflow = TRUE;
  self->overflow_command = self->reply_command;
  self->abandon = TRUE;
  g_debug ("SMTP to %s:%d: gave up on a reply after %u lines, %" G_GSIZE_FORMAT " bytes",
           self->config->server, self->config->port, self->reply_lines, self->reply_bytes);
  if (recording (self))
    ms_transcript_add_info (self->transcript, "Gave up on this reply after %u lines (%" G_GSIZE_FORMAT
                            " bytes): the connection is closed", self->reply_lines, self->reply_bytes);
  if (self->bulk && self->bulk_fd != CURL_SOCKET_BAD)
    shutdown (self->bulk_fd, SHUT_RDWR);
  else if (self->curl_fd != CURL_SOCKET_BAD)
    shutdown (self->curl_fd, SHUT_RDWR);
}

static void
on_server_line (MsSmtp     *self,
                const char *data,
                gsize       len)
{
  g_autofree char *line = NULL;
  gsize raw_len = len;
  gboolean last;
  int code;

  if (self->reply_overflow)
    return;
  self->reply_bytes += raw_len;
  if (self->reply_lines++ == 0)
    self->reply_command = self->last_command;
  if (self->reply_bytes > MAX_REPLY_BYTES || self->reply_lines > MAX_REPLY_LINES)
    {
      give_up_on_reply (self);
      return;
    }

  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;
  line = g_strndup (data, len);

  if (!self->server_spoke)
    {
      self->server_spoke = TRUE;
      self->tcp_connected = TRUE;
    }

  /* The transcript shows the start of a long reply; memory stays bounded. */
  if (recording (self) && self->reply_lines <= MAX_TRANSCRIPT_LINES)
    {
      if (raw_len <= MAX_TRANSCRIPT_LINE)
        ms_transcript_add (self->transcript, MS_TRANSCRIPT_SERVER, data, raw_len, self->config->password);
      else
        {
          g_autofree char *cut = g_strdup_printf ("%.*s…\r\n", MAX_TRANSCRIPT_LINE, data);

          ms_transcript_add (self->transcript, MS_TRANSCRIPT_SERVER, cut, strlen (cut), self->config->password);
        }
    }

  if (len < 3 || !g_ascii_isdigit (line[0]) || !g_ascii_isdigit (line[1]) || !g_ascii_isdigit (line[2]))
    return;
  code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  last = len == 3 || line[3] != '-';

  if (last)
    {
      if (recording (self) && self->reply_lines > MAX_TRANSCRIPT_LINES)
        ms_transcript_add_info (self->transcript, "(%u more lines of this reply not shown)",
                                self->reply_lines - MAX_TRANSCRIPT_LINES);
      self->reply_bytes = 0;
      self->reply_lines = 0;
    }

  if (self->body_done && self->eom_code == 0 && last)
    {
      g_autofree char *clean = ms_reply_sanitize_text (line, len);

      self->eom_code = code;
      /* Kept as every server string is: no terminal escapes, valid UTF-8
       * (blast report and report --csv print it). */
      g_string_truncate (self->eom_line, 0);
      g_string_append (self->eom_line, clean);
      if (code / 100 == 2)
        set_stage (self, MS_SMTP_STAGE_DONE);
    }

  switch (self->last_command)
    {
    case CMD_NONE:
      /* The greeting: the connection is up and the server speaks SMTP. */
      if (code / 100 == 2 && last && !self->config->use_smtps)
        set_stage (self, MS_SMTP_STAGE_GREETING);
      break;

    case CMD_EHLO:
      if (code == 250 && self->caps_building != NULL)
        {
          if (!self->ehlo_first_line && len > 4 && self->caps_building->len < MAX_CAPABILITIES)
            {
              char *cap = ms_reply_sanitize_text (line + 4, len - 4);

              g_ptr_array_add (self->caps_building, cap);
              if (g_ascii_strcasecmp (cap, "STARTTLS") == 0)
                self->starttls_offered = TRUE;
            }
          self->ehlo_first_line = FALSE;
          if (last)
            {
              g_ptr_array_add (self->caps_building, NULL);
              g_clear_pointer (&self->caps, g_ptr_array_unref);
              self->caps = g_steal_pointer (&self->caps_building);
            }
        }
      break;

    case CMD_AUTH:
      if (code == 334)
        {
          /* RFC 7628 and Google's XOAUTH2: a refused token comes back as a
           * base64 JSON challenge, {"status":"invalid_token"} or "401". */
          if (self->config->auth_method == MS_AUTH_METHOD_OAUTH2 && len > 4)
            {
              g_autofree char *b64 = g_strndup (line + 4, len - 4);
              g_autofree guchar *json = NULL;
              gsize json_len = 0;

              g_strstrip (b64);
              json = g_base64_decode (b64, &json_len);
              if (json != NULL && json_len > 0 &&
                  (g_strstr_len ((const char *) json, json_len, "invalid_token") != NULL ||
                   g_strstr_len ((const char *) json, json_len, "\"401\"") != NULL))
                self->token_refused = TRUE;
            }
          break;
        }
      if (last)
        {
          self->auth_open = FALSE;
          if (code == 235)
            self->auth_ok = TRUE;
        }
      break;

    case CMD_HELO:
    case CMD_STARTTLS:
    case CMD_MAIL:
    case CMD_RCPT:
    case CMD_DATA:
    case CMD_QUIT:
    case CMD_OTHER:
    default:
      break;
    }

  /* The first 4xx/5xx is what the failure is about: QUIT's 221 comes last.
   * A refused EHLO is kept too: libcurl falls back to HELO, whose refusal
   * then counts instead. The EHLO's is put aside for the security decision:
   * on a clear connection, a session that has not decided to go on in clear
   * takes it as its failure (HELO cannot offer STARTTLS). */
  if (self->last_command == CMD_HELO && self->fail_command == CMD_EHLO && self->fail_code != 0 &&
      !self->fail_collecting)
    {
      self->ehlo_refused_code = self->fail_code;
      g_free (self->ehlo_refused_text);
      self->ehlo_refused_text = g_strdup (self->fail_text->str);
      self->fail_code = 0;
      self->fail_command = CMD_NONE;
      g_string_truncate (self->fail_text, 0);
    }
  if (self->fail_collecting)
    {
      append_fail_text (self, len > 4 ? line + 4 : "");
      self->fail_collecting = !last;
    }
  else if (self->fail_code == 0 && code >= 400 && self->last_command != CMD_QUIT)
    {
      self->fail_code = code;
      self->fail_command = self->last_command;
      g_string_truncate (self->fail_text, 0);
      append_fail_text (self, len > 4 ? line + 4 : "");
      self->fail_collecting = !last;
    }
}

static gboolean
has_prefix (const char *data,
            gsize       len,
            const char *prefix)
{
  gsize plen = strlen (prefix);

  return len >= plen && strncmp (data, prefix, plen) == 0;
}

static void
on_text (MsSmtp     *self,
         const char *data,
         gsize       len)
{
  while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
    len--;

  /* libcurl 7.88 has no API that says, during a transfer, that one of its
   * steps timed out: it ends the step, still says QUIT to the silent
   * server and waits another timeout for its answer, and only the final
   * CURLcode tells (too late to cut that wait short). Its own message is
   * the one sign in time, so this line of its log is read; the rest comes
   * from CURLINFO_* and the dialog itself (the one other text of libcurl's
   * read is its error buffer on a reply too large, below). */
  if (has_prefix (data, len, "server response timeout") ||
      has_prefix (data, len, "Operation timed out") ||
      has_prefix (data, len, "Operation too slow"))
    self->abandon = TRUE;   /* xferinfo_cb cuts the QUIT's wait short */
}

/* The TCP connection of this session is up: the probe's "Connect" step,
 * taken from libcurl's own connection rather than from one of its own. */
static void
note_connected (MsSmtp *self)
{
  if (self->tcp_connected || self->curl_fd == CURL_SOCKET_BAD)
    return;

  self->tcp_connected = TRUE;
  if (recording (self))
    {
      char *ip = NULL;
      long port = 0;

      curl_easy_getinfo (self->curl, CURLINFO_PRIMARY_IP, &ip);
      curl_easy_getinfo (self->curl, CURLINFO_PRIMARY_PORT, &port);
      ms_transcript_add_info (self->transcript, "Connected to %s port %ld",
                              ip != NULL && *ip != '\0' ? ip : self->config->server,
                              port > 0 ? port : (long) self->config->port);
    }
  set_stage (self, self->config->use_smtps ? MS_SMTP_STAGE_TLS : MS_SMTP_STAGE_GREETING);
}

/* libcurl 7.88 has no callback for the moment its socket connects
 * (CURLOPT_SOCKOPTFUNCTION runs before connect(), CURLOPT_PREREQFUNCTION
 * only after EHLO and AUTH). On a clear connection it sets
 * CURLINFO_CONNECT_TIME_T then, before it reads the greeting: debug_cb and
 * xferinfo_cb look until it does. Under SMTPS that time waits for the
 * handshake too, so ssl_ctx_cb, which libcurl calls only once the socket
 * below TLS is connected, says so instead. */
static void
check_connected (MsSmtp *self)
{
  curl_off_t connect_time = 0;

  if (self->tcp_connected || self->curl_fd == CURL_SOCKET_BAD)
    return;
  if (curl_easy_getinfo (self->curl, CURLINFO_CONNECT_TIME_T, &connect_time) == CURLE_OK && connect_time > 0)
    note_connected (self);
}

static void
for_each_line (MsSmtp     *self,
               const char *data,
               gsize       size,
               void      (*func) (MsSmtp *, const char *, gsize))
{
  gsize start = 0;

  for (gsize i = 0; i < size; i++)
    if (data[i] == '\n')
      {
        func (self, data + start, i + 1 - start);
        start = i + 1;
      }
  if (start < size)
    func (self, data + start, size - start);
}

/* Whether libcurl's connection is encrypted, from its API: the SSL object of
 * the connection, once its handshake is done. libcurl 7.88 answers
 * CURLINFO_TLS_SSL_PTR only while a transfer holds the connection (a
 * CURLOPT_CONNECT_ONLY handle lets go of it when curl_easy_perform()
 * returns), so debug_cb asks at each line of libcurl's dialog: under SMTPS
 * at the greeting, after STARTTLS at the EHLO that follows the handshake.
 * The security decision after the connection reads the answer. */
static void
check_tls (MsSmtp *self,
           CURL   *curl)
{
  struct curl_tlssessioninfo *info = NULL;

  if (self->tls_active)
    return;
  if (curl_easy_getinfo (curl, CURLINFO_TLS_SSL_PTR, &info) == CURLE_OK && info != NULL &&
      info->backend == CURLSSLBACKEND_OPENSSL && info->internals != NULL &&
      SSL_is_init_finished ((SSL *) info->internals))
    tls_started (self, NULL);
}

static int
debug_cb (CURL          *curl,
          curl_infotype  type,
          char          *data,
          size_t         size,
          void          *user_data)
{
  MsSmtp *self = user_data;

  check_connected (self);
  switch (type)
    {
    case CURLINFO_TEXT:
      on_text (self, data, size);
      break;
    case CURLINFO_HEADER_IN:
      check_tls (self, curl);
      for_each_line (self, data, size, on_server_line);
      break;
    case CURLINFO_HEADER_OUT:
      check_tls (self, curl);
      for_each_line (self, data, size, on_client_line);
      break;
    case CURLINFO_DATA_IN:
    case CURLINFO_DATA_OUT:      /* the message body: never recorded */
    case CURLINFO_SSL_DATA_IN:
    case CURLINFO_SSL_DATA_OUT:
    case CURLINFO_END:
    default:
      break;
    }

  return 0;
}

static int
sockopt_cb (void          *user_data,
            curl_socket_t  fd,
            curlsocktype   purpose)
{
  MsSmtp *self = user_data;

  /* A new connection: what we knew about the old one no longer holds. */
  reset_connection (self);
  self->curl_fd = fd;
  set_stage (self, MS_SMTP_STAGE_CONNECT);

  return CURL_SOCKOPT_OK;
}

static int
xferinfo_cb (void       *user_data,
             curl_off_t  dltotal,
             curl_off_t  dlnow,
             curl_off_t  ultotal,
             curl_off_t  ulnow)
{
  MsSmtp *self = user_data;

  check_connected (self);
  if (self->abandon || self->reply_overflow)
    return 1;
  return self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable) ? 1 : 0;
}

/* ------------------------------------------------------------------------ */
/* Certificates                                                             */

/* Accepts what the system store accepts, or the one pinned certificate. */
static int
verify_cb (int             preverify_ok,
           X509_STORE_CTX *store)
{
  SSL *ssl = X509_STORE_CTX_get_ex_data (store, SSL_get_ex_data_X509_STORE_CTX_idx ());
  MsSmtp *self = ssl != NULL ? SSL_CTX_get_ex_data (SSL_get_SSL_CTX (ssl), ssl_ex_index) : NULL;
  X509 *leaf = X509_STORE_CTX_get0_cert (store);
  guint8 digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;

  if (self == NULL || leaf == NULL)
    return preverify_ok;

  if (preverify_ok && self->peer_fingerprint != NULL)
    return preverify_ok;

  if (!X509_digest (leaf, EVP_sha256 (), digest, &digest_len) || digest_len != SHA256_LEN)
    return preverify_ok;

  if (self->peer_fingerprint == NULL)
    self->peer_fingerprint = format_fingerprint (digest, digest_len);

  if (!preverify_ok && self->pin_valid && memcmp (digest, self->pin, SHA256_LEN) == 0)
    {
      /* The user trusts this very certificate: its issuer and its names
       * (the host name check is OpenSSL's here, see ssl_ctx_cb) do not matter. */
      X509_STORE_CTX_set_error (store, X509_V_OK);
      return 1;
    }

  return preverify_ok;
}

static CURLcode
ssl_ctx_cb (CURL *curl,
            void *ssl_ctx,
            void *user_data)
{
  MsSmtp *self = user_data;
  SSL_CTX *ctx = ssl_ctx;

  /* The handshake starts on a connected socket (see check_connected). */
  note_connected (self);
  SSL_CTX_set_ex_data (ctx, ssl_ex_index, self);
  SSL_CTX_set_verify (ctx, SSL_VERIFY_PEER, verify_cb);

  if (self->pin_valid)
    {
      /* libcurl's host name check runs after the handshake and cannot be
       * told about the pin, so it is off (see apply_options) and OpenSSL
       * checks the name inside verification, where verify_cb can excuse it. */
      X509_VERIFY_PARAM *param = SSL_CTX_get0_param (ctx);
      const char *host = self->config->server;
      g_autofree char *bare = NULL;

      if (host[0] == '[')
        host = bare = g_strndup (host + 1, strlen (host) - 2);
      X509_VERIFY_PARAM_set_hostflags (param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
      if (!X509_VERIFY_PARAM_set1_ip_asc (param, host))
        X509_VERIFY_PARAM_set1_host (param, host, 0);
    }

  return CURLE_OK;
}

/* ------------------------------------------------------------------------ */
/* MsSmtp                                                                   */

static void bulk_quit (MsSmtp *self);
static void bulk_collect (MsSmtp *self);

typedef struct {
  MsSmtpOutcome *outcome;
  MsReply       *reply;
  GError        *error;
} Answer;

static void
answer_free (Answer *a)
{
  ms_smtp_outcome_free (a->outcome);
  g_clear_pointer (&a->reply, ms_reply_free);
  g_clear_error (&a->error);
  g_free (a);
}

/* What a bulk session keeps of a message until it is answered: enough to
 * send it again when a reused connection turns out to have died. */
typedef struct {
  char     *from;
  char     *to;
  GBytes   *message;
  gboolean  resent;
} Sub;

static void
sub_free (Sub *sub)
{
  g_free (sub->from);
  g_free (sub->to);
  g_bytes_unref (sub->message);
  g_free (sub);
}


static void
ms_smtp_finalize (GObject *object)
{
  MsSmtp *self = MS_SMTP (object);

  if (self->bulk_open && self->curl != NULL)
    {
      /* Not part of any message's dialog. */
      self->record_transcript = FALSE;
      /* A QUIT in the middle of a window would be read as part of it. */
      if (self->codec == NULL || ms_smtp_codec_get_n_open (self->codec) == 0)
        bulk_quit (self);
      if (self->bulk_fd != CURL_SOCKET_BAD)
        shutdown (self->bulk_fd, SHUT_RDWR);
    }
  if (self->curl != NULL)
    {
      /* The QUIT on cleanup is not part of any message's dialog. */
      curl_easy_setopt (self->curl, CURLOPT_DEBUGFUNCTION, NULL);
      curl_easy_setopt (self->curl, CURLOPT_VERBOSE, 0L);
      curl_easy_setopt (self->curl, CURLOPT_SOCKOPTFUNCTION, NULL);
      g_clear_pointer (&self->curl, curl_easy_cleanup);
    }
  g_clear_pointer (&self->message, g_bytes_unref);
  g_clear_pointer (&self->codec, ms_smtp_codec_free);
  g_clear_pointer (&self->outcome, ms_smtp_outcome_free);
  g_clear_pointer (&self->connect_outcome, ms_smtp_outcome_free);
  g_queue_clear_full (&self->answers, (GDestroyNotify) answer_free);
  g_clear_pointer (&self->subs, g_hash_table_unref);
  g_clear_pointer (&self->bulk_in, g_byte_array_unref);
  g_clear_pointer (&self->end_ids, g_array_unref);
  g_clear_object (&self->cancellable);
  g_clear_object (&self->transcript);
  g_clear_pointer (&self->config, ms_smtp_config_free);
  g_clear_pointer (&self->login_options, g_free);
  g_clear_pointer (&self->ehlo_name, g_free);
  g_clear_pointer (&self->ehlo_suggestion, g_free);
  g_clear_pointer (&self->ehlo_refused_text, g_free);
  g_clear_pointer (&self->caps, g_ptr_array_unref);
  g_clear_pointer (&self->caps_building, g_ptr_array_unref);
  g_clear_pointer (&self->auth_mechanism, g_free);
  g_clear_pointer (&self->peer_fingerprint, g_free);
  if (self->fail_text != NULL)
    g_string_free (g_steal_pointer (&self->fail_text), TRUE);
  if (self->eom_line != NULL)
    g_string_free (g_steal_pointer (&self->eom_line), TRUE);
  g_clear_pointer (&self->reply, ms_reply_free);
  wipe (self->pin, sizeof self->pin);

  G_OBJECT_CLASS (ms_smtp_parent_class)->finalize (object);
}

static void
ms_smtp_class_init (MsSmtpClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_smtp_finalize;

  ssl_ex_index = SSL_CTX_get_ex_new_index (0, (void *) "mailshot", NULL, NULL, NULL);
}

static void
ms_smtp_init (MsSmtp *self)
{
  self->transcript = ms_transcript_new ();
  self->record_transcript = TRUE;
  self->fail_text = g_string_new (NULL);
  self->eom_line = g_string_sized_new (64);
  self->security = SECURITY_TLS;
  self->bulk_fd = CURL_SOCKET_BAD;
  self->curl_fd = CURL_SOCKET_BAD;
  self->retried = TRUE;
  self->window = 1;
  g_queue_init (&self->answers);
}

static int close_socket_cb (void *user_data, curl_socket_t fd);

/* The options that stay the same for every message of the session. */
static void
apply_options (MsSmtp *self)
{
  const MsSmtpConfig *config = self->config;
  g_autofree char *url = NULL;
  long timeout = step_timeout (self);
  CURL *curl = self->curl;

  g_clear_pointer (&self->ehlo_name, g_free);
  url = build_url (config, &self->ehlo_name);
  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, self->errbuf);
  curl_easy_setopt (curl, CURLOPT_PRIVATE, self);
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");

  /* Reply texts only come through the debug stream. */
  curl_easy_setopt (curl, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt (curl, CURLOPT_DEBUGFUNCTION, debug_cb);
  curl_easy_setopt (curl, CURLOPT_DEBUGDATA, self);
  curl_easy_setopt (curl, CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
  curl_easy_setopt (curl, CURLOPT_SOCKOPTDATA, self);
  if (self->open_socket_func != NULL)
    {
      curl_easy_setopt (curl, CURLOPT_OPENSOCKETFUNCTION, self->open_socket_func);
      curl_easy_setopt (curl, CURLOPT_OPENSOCKETDATA, self->socket_data);
    }
  /* The session's, which hands on to ms_smtp_set_socket_funcs()'s. */
  curl_easy_setopt (curl, CURLOPT_CLOSESOCKETFUNCTION, close_socket_cb);
  curl_easy_setopt (curl, CURLOPT_CLOSESOCKETDATA, self);
  /* libcurl opens the connection (TCP, TLS, EHLO, STARTTLS) and stops
   * there; the session signs in, and the mail transactions go over the
   * codec. */
  curl_easy_setopt (curl, CURLOPT_CONNECT_ONLY, 1L);

  curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
  curl_easy_setopt (curl, CURLOPT_XFERINFODATA, self);

  /* CONNECTTIMEOUT covers connect, greeting and EHLO; the response timeout
   * (120 s by default) every later reply, the end of the message included. */
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, timeout);
  curl_easy_setopt (curl, CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout);
  /* A server that stops reading the message in the middle. */
  curl_easy_setopt (curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt (curl, CURLOPT_LOW_SPEED_TIME, timeout);
  curl_easy_setopt (curl, CURLOPT_TCP_KEEPALIVE, 1L);

  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, self->pin_valid ? 0L : 2L);
  curl_easy_setopt (curl, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
  curl_easy_setopt (curl, CURLOPT_SSL_CTX_DATA, self);
  if (config->ca_file != NULL && *config->ca_file != '\0')
    curl_easy_setopt (curl, CURLOPT_CAINFO, config->ca_file);

  /* No credentials for libcurl: the session signs in itself once libcurl
   * has connected (see session_auth()). */
}

/* SMTPS encrypts from the first byte. Otherwise libcurl does STARTTLS when
 * the server offers it and goes on in clear when it does not
 * (CURLUSESSL_TRY): the session then decides, on that same connection and
 * before anything of the account's goes out, whether it may (see
 * check_security()). libcurl signs in to nothing itself, so that a clear
 * connection carries only EHLO until then. */
static void
apply_security (MsSmtp *self)
{
  curl_easy_setopt (self->curl, CURLOPT_USE_SSL,
                    (long) (self->config->use_smtps ? CURLUSESSL_ALL : CURLUSESSL_TRY));
}

/**
 * ms_smtp_new:
 * @config: the account snapshot; copied
 *
 * Creates a session. Nothing is sent before ms_smtp_send() or
 * ms_smtp_bulk_submit(). The session keeps its connection open between
 * messages and opens a new one when the server closed it.
 *
 * Returns: (transfer full): a new session
 */
MsSmtp *
ms_smtp_new (const MsSmtpConfig *config)
{
  g_autoptr(MsSmtp) self = NULL;
  g_autoptr(CURL) curl = NULL;

  g_return_val_if_fail (config != NULL, NULL);
  g_return_val_if_fail (config->server != NULL && *config->server != '\0', NULL);
  g_return_val_if_fail (config->port > 0 && config->port < 65536, NULL);

  curl = curl_easy_init ();
  g_return_val_if_fail (curl != NULL, NULL);

  self = g_object_new (MS_TYPE_SMTP, NULL);
  self->config = ms_smtp_config_copy (config);
  self->curl = g_steal_pointer (&curl);

  if (config->trusted_certificate != NULL && *config->trusted_certificate != '\0')
    {
      self->pin_valid = parse_fingerprint (config->trusted_certificate, self->pin);
      /* An unreadable fingerprint trusts nothing: the system store decides. */
      if (!self->pin_valid)
        g_debug ("Ignoring trusted-certificate of %s: not a SHA-256 fingerprint", config->server);
    }

  apply_options (self);
  apply_security (self);

  return g_steal_pointer (&self);
}

static gboolean
address_is_safe (const char *address)
{
  return address != NULL && *address != '\0' && strpbrk (address, "\r\n<>") == NULL;
}

/* The state of one message, before it starts. */
static void
reset_transfer (MsSmtp       *self,
                GBytes       *message,
                GCancellable *cancellable,
                gboolean      same_message)
{
  if (!same_message && recording (self))
    ms_transcript_clear (self->transcript);

  if (self->message != message)
    {
      g_clear_pointer (&self->message, g_bytes_unref);
      self->message = g_bytes_ref (message);
    }
  g_set_object (&self->cancellable, cancellable);

  self->errbuf[0] = '\0';
  self->stage = MS_SMTP_STAGE_NONE;
  self->stage_held = FALSE;
  self->last_command = CMD_NONE;
  self->fail_command = CMD_NONE;
  self->reply_bytes = 0;
  self->reply_lines = 0;
  self->reply_overflow = FALSE;
  self->overflow_command = CMD_NONE;
  self->reply_command = CMD_NONE;
  self->auth_open = FALSE;
  self->auth_ok = FALSE;
  self->new_connection = FALSE;
  self->gate_tripped = FALSE;
  self->token_refused = FALSE;
  if (!same_message)
    self->token_renewed = FALSE;
  self->abandon = FALSE;
  self->body_done = FALSE;
  self->eom_code = 0;
  g_string_truncate (self->eom_line, 0);
  self->fail_code = 0;
  g_string_truncate (self->fail_text, 0);
  self->fail_collecting = FALSE;
  g_clear_pointer (&self->reply, ms_reply_free);
  self->delivery_uncertain = FALSE;
  self->retry_now = FALSE;
}

/* One message may take the four slow steps of a fresh connection
 * (connect, TLS, AUTH, the end of the message) plus its upload at a
 * slow 16 KiB/s; every single step is bounded by the timeout anyway. */
static void
apply_time_cap (MsSmtp *self,
                gsize   size)
{
  long cap = step_timeout (self) * 4 + (long) (size / 16384);

  curl_easy_setopt (self->curl, CURLOPT_TIMEOUT, cap);
}

/* ------------------------------------------------------------------------ */
/* OAuth2 access tokens                                                     */

static gboolean
uses_oauth2 (MsSmtp *self)
{
  return self->config->needs_auth && self->config->auth_method == MS_AUTH_METHOD_OAUTH2 &&
         self->config->oauth2 != NULL;
}

static void
set_bearer (MsSmtp     *self,
            const char *token)
{
  if (self->config->password != NULL)
    wipe (self->config->password, strlen (self->config->password));
  g_free (self->config->password);
  self->config->password = g_strdup (token);
}

/* Before each message: the token in memory, renewed there before it
 * expires, or renewed by another connection of the same blast. */
static void
sync_token (MsSmtp *self)
{
  g_autoptr(GError) error = NULL;
  char *token;

  if (!uses_oauth2 (self))
    return;
  token = ms_oauth2_get_access_token (self->config->oauth2, NULL, self->cancellable, &error);
  if (token == NULL)
    {
      /* The server's answer to the old token decides; see connect_failed(). */
      g_debug ("OAuth2: keeping the current access token: %s", error->message);
      return;
    }
  if (g_strcmp0 (token, self->config->password) != 0)
    set_bearer (self, token);
  ms_oauth2_token_free (token);
}

/* The server refused the access token (535 to AUTH, or an error challenge):
 * once per message, a new token and another try. */
static gboolean
token_was_refused (MsSmtp *self)
{
  return uses_oauth2 (self) && !self->token_renewed &&
         (self->token_refused || (self->fail_command == CMD_AUTH && self->fail_code == 535));
}

static gboolean
renew_token (MsSmtp  *self,
             GError **error)
{
  char *token;

  self->token_renewed = TRUE;
  token = ms_oauth2_get_access_token (self->config->oauth2, self->config->password, self->cancellable, error);
  if (token == NULL)
    return FALSE;
  set_bearer (self, token);
  ms_oauth2_token_free (token);
  return TRUE;
}

/* @outcome: (nullable): the message's outcome from the codec, whose
 * failure the context is for; NULL for a failure of libcurl's connection
 * step, read from the dialog. */
static MsReplyContext
reply_context (MsSmtp              *self,
               const MsSmtpOutcome *outcome)
{
  int code = outcome != NULL ? outcome->code : self->fail_code;
  const char *text = outcome != NULL ? (outcome->text != NULL ? outcome->text : "") : self->fail_text->str;

  MsReplyContext context = {
    .server = self->config->server,
    .port = self->config->port,
    .use_smtps = self->config->use_smtps,
    .needs_auth = self->config->needs_auth,
    .answering = reply_to_for (self, self->fail_command),
    .single_message = !self->retried,
    .ehlo_name = self->ehlo_name,
    .ehlo_default = self->config->ehlo_host == NULL || *self->config->ehlo_host == '\0',
  };

  /* A refused EHLO name: the advice names one that would pass. Looked up
   * only then (a socket and a lookup). */
  if (code >= 500 && self->ehlo_suggestion == NULL &&
      ((outcome == NULL && (self->fail_command == CMD_EHLO || self->fail_command == CMD_HELO)) ||
       strstr (text, "elo") != NULL || strstr (text, "ELO") != NULL))
    self->ehlo_suggestion = local_address_literal (self->config);
  context.ehlo_suggestion = self->ehlo_suggestion;

  return context;
}

/* A connection without STARTTLS, the session not yet decided: may it go on
 * in clear? Returns MS_TRANSPORT_NONE and sets the new policy when it may. */
static MsTransportFailure
decide_without_starttls (MsSmtp *self)
{
  const MsSmtpConfig *config = self->config;
  MsAuthMethod method = config->auth_method;

  if (config->starttls_seen || self->starttls_offered)
    return MS_TRANSPORT_STARTTLS_MISSING;

  if (!config->needs_auth)
    {
      self->security = SECURITY_CLEAR;
      if (recording (self))
        ms_transcript_add_info (self->transcript,
                                "The server does not offer STARTTLS: sending without encryption "
                                "(the account does not sign in)");
      return MS_TRANSPORT_NONE;
    }

  if (!caps_has_auth (self))
    return MS_TRANSPORT_NO_AUTH_ADVERTISED;

  /* CRAM-MD5 proves the password without revealing it. */
  if ((method == MS_AUTH_METHOD_AUTOMATIC || method == MS_AUTH_METHOD_CRAM_MD5) &&
      caps_auth_has (self, "CRAM-MD5"))
    {
      self->security = SECURITY_CLEAR;
      g_free (self->login_options);
      self->login_options = g_strdup ("AUTH=CRAM-MD5");
      if (recording (self))
        ms_transcript_add_info (self->transcript,
                                "The server does not offer STARTTLS: signing in with CRAM-MD5, "
                                "which does not reveal the password");
      return MS_TRANSPORT_NONE;
    }

  if (config->allow_plaintext_password)
    {
      self->security = SECURITY_CLEAR;
      if (recording (self))
        ms_transcript_add_info (self->transcript,
                                "The server does not offer STARTTLS: the account allows sending "
                                "the password without encryption");
      return MS_TRANSPORT_NONE;
    }

  return MS_TRANSPORT_STARTTLS_REQUIRED;
}

/* The security decision, on the connection libcurl has just opened (TCP,
 * greeting, EHLO, and STARTTLS when offered) and before anything of the
 * account's goes out on it: AUTH, MAIL. Whether TLS is on comes from
 * libcurl (check_tls()), whether STARTTLS was offered from the EHLO
 * capabilities. Returns %FALSE when the session must stop: @own says why,
 * or is MS_TRANSPORT_NONE when a reply is the failure (a refused EHLO). */
static gboolean
check_security (MsSmtp             *self,
                MsTransportFailure *own)
{
  const MsSmtpConfig *config = self->config;
  gboolean offered_before = config->starttls_seen || self->starttls_offered;

  *own = MS_TRANSPORT_NONE;
  /* SMTPS: libcurl fails rather than go on without TLS (CURLUSESSL_ALL). */
  if (config->use_smtps || self->tls_active)
    return TRUE;

  /* Decided on an earlier connection, and still no STARTTLS anywhere. */
  if (self->security == SECURITY_CLEAR && !offered_before)
    return TRUE;

  /* EHLO refused, HELO accepted: whether the server offers STARTTLS is
   * unknown, so the EHLO's refusal is the failure, as it is when
   * encryption is required. */
  if (self->security == SECURITY_TLS && !offered_before && self->ehlo_refused_code != 0)
    {
      self->fail_code = self->ehlo_refused_code;
      self->fail_command = CMD_EHLO;
      g_string_assign (self->fail_text, self->ehlo_refused_text != NULL ? self->ehlo_refused_text : "");
      if (recording (self))
        ms_transcript_add_info (self->transcript,
                                "The server refused EHLO: whether it offers STARTTLS is unknown; stopped");
      return FALSE;
    }

  *own = decide_without_starttls (self);
  if (*own == MS_TRANSPORT_NONE)
    return TRUE;
  if (recording (self))
    {
      /* Offered on this connection, and refused (454): libcurl goes on in
       * clear under CURLUSESSL_TRY. */
      if (self->caps != NULL && caps_has (self, "STARTTLS"))
        ms_transcript_add_info (self->transcript, "The server refused STARTTLS: stopped");
      else
        ms_transcript_add_info (self->transcript, "The server does not offer STARTTLS: stopped");
    }
  return FALSE;
}

static MsTransportFailure
failure_for_code (MsSmtp    *self,
                  CURLcode   rc,
                  char     **detail)
{
  switch ((int) rc)
    {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return MS_TRANSPORT_RESOLVE;

    case CURLE_COULDNT_CONNECT:
      return MS_TRANSPORT_REFUSED;

    case CURLE_OPERATION_TIMEDOUT:
      if (!self->tcp_connected)
        return MS_TRANSPORT_CONNECT_TIMEOUT;
      if (!self->server_spoke)
        return self->config->use_smtps ? MS_TRANSPORT_TLS_HANDSHAKE : MS_TRANSPORT_NO_GREETING;
      return MS_TRANSPORT_RESPONSE_TIMEOUT;

    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
      return MS_TRANSPORT_TLS_HANDSHAKE;

    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
      if (self->peer_fingerprint != NULL)
        *detail = g_strdup_printf (_("The server presented a certificate with the SHA-256 fingerprint %s"),
                                   self->peer_fingerprint);
      return MS_TRANSPORT_TLS_CERTIFICATE;

    case CURLE_USE_SSL_FAILED:
      return MS_TRANSPORT_STARTTLS_REQUIRED;

    case CURLE_ABORTED_BY_CALLBACK:
      if (self->gate_tripped)
        return MS_TRANSPORT_NO_AUTH_ADVERTISED;
      return MS_TRANSPORT_OTHER;

    default:
      break;
    }

  /* Below: failures that may carry a reply, handled by the caller first. */
  switch ((int) rc)
    {
    case CURLE_LOGIN_DENIED:
      {
        const char *mech = mechanism_name (self->config->auth_method);
        g_auto(GStrv) offered = caps_auth_mechanisms (self);
        g_autofree char *list = offered != NULL ? g_strjoinv (" ", offered) : NULL;

        if (list == NULL)
          return MS_TRANSPORT_NO_AUTH_ADVERTISED;
        *detail = g_strdup_printf (_("The account uses %s; the server offers %s"),
                                   mech != NULL ? mech : _("any method"), list);
        return MS_TRANSPORT_MECH_UNSUPPORTED;
      }

    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
      if (self->last_command == CMD_STARTTLS && !self->tls_active)
        return MS_TRANSPORT_TLS_HANDSHAKE;
      return MS_TRANSPORT_CONNECTION_LOST;

    case CURLE_WEIRD_SERVER_REPLY:
      /* libcurl refuses bytes that come with the "go ahead" to STARTTLS,
       * before the handshake (they could be injected in clear). */
      if (self->last_command == CMD_STARTTLS && !self->tls_active)
        {
          *detail = g_strdup (_("The server sent more than its answer to STARTTLS before the encryption "
                                "started; nothing was sent"));
          return MS_TRANSPORT_TLS_HANDSHAKE;
        }
      return MS_TRANSPORT_OTHER;

    default:
      return MS_TRANSPORT_OTHER;
    }
}

static gboolean
failure_is_transport_only (CURLcode rc)
{
  switch ((int) rc)
    {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_USE_SSL_FAILED:
    case CURLE_ABORTED_BY_CALLBACK:
      return TRUE;
    default:
      return FALSE;
    }
}

/* The reply as a sentence for a user, quoting the server. */
static void
reply_error (const MsReply       *reply,
             MsTransportFailure   failure,
             GError             **error)
{
  g_autoptr(GError) base = ms_reply_to_error (reply);
  int code = base != NULL && base->domain == MS_ERROR ? base->code : ms_reply_class_to_error_code (reply->klass);

  if (failure == MS_TRANSPORT_STARTTLS_MISSING || failure == MS_TRANSPORT_STARTTLS_REQUIRED)
    code = MS_ERROR_INSECURE;

  if (reply->code > 0 && reply->text != NULL && *reply->text != '\0' && reply->enhanced != NULL)
    g_set_error (error, MS_ERROR, code, _("%s The server said: “%d %s %s”"),
                 reply->advice, reply->code, reply->enhanced, reply->text);
  else if (reply->code > 0 && reply->text != NULL && *reply->text != '\0')
    g_set_error (error, MS_ERROR, code, _("%s The server said: “%d %s”"),
                 reply->advice, reply->code, reply->text);
  else if (reply->code == 0 && reply->text != NULL && *reply->text != '\0' &&
           (reply->advice == NULL || strstr (reply->advice, reply->text) == NULL))
    g_set_error (error, MS_ERROR, code, "%s (%s)", reply->advice, reply->text);
  else
    g_set_error_literal (error, MS_ERROR, code, reply->advice);
}

static void
set_reply_error (MsSmtp              *self,
                 MsTransportFailure   failure,
                 GError             **error)
{
  reply_error (self->reply, failure, error);
}

/* A refusal in libcurl's connection step, as the outcome of the message
 * that was to go on it, classified by the same code as the codec's
 * outcomes. @renew_error: the access token was refused and no new one could
 * be had; the outcome carries why, so the advice says to sign in again
 * instead of blaming the password. */
static MsReply *
classify_connect_refusal (MsSmtp               *self,
                          int                   code,
                          const char           *text,
                          const MsReplyContext *context,
                          const GError         *renew_error)
{
  MsSmtpOutcome *o = ms_smtp_outcome_new (0);

  o->stage = context->answering;
  o->failed_at = context->answering;
  o->code = code;
  o->text = ms_reply_sanitize_text (text, -1);
  if (renew_error != NULL)
    o->sign_in = g_strdup (renew_error->message);
  g_clear_pointer (&self->connect_outcome, ms_smtp_outcome_free);
  self->connect_outcome = o;
  return ms_reply_classify_outcome (o, context, g_get_real_time () / G_USEC_PER_SEC);
}

/**
 * connect_failed:
 * @rc: the CURLcode libcurl's connection step ended with (CURLE_OK when
 *   it was the session's own check that stopped)
 * @own: the session's own reason to stop after libcurl's success, or
 *   %MS_TRANSPORT_NONE
 *
 * Turns a failed connection step (TCP, TLS, EHLO, STARTTLS, AUTH) into a
 * result: the #GError is in %MS_ERROR (the message says what to do, and
 * quotes the server), or %G_IO_ERROR_CANCELLED, and self->reply holds the
 * classification (except after a cancel). Check self->retry_now after it.
 */
static void
connect_failed (MsSmtp              *self,
                CURLcode             rc,
                MsTransportFailure   own,
                GError             **error)
{
  MsReplyContext context;
  MsTransportFailure failure = own;
  g_autofree char *detail = NULL;
  g_autoptr(GError) renew_error = NULL;
  long response = 0;

  g_return_if_fail (error == NULL || *error == NULL);

  self->retry_now = FALSE;
  g_clear_pointer (&self->connect_outcome, ms_smtp_outcome_free);

  curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &response);
  g_debug ("SMTP to %s:%d failed at %s: CURLcode %d (%s): %s; reply %d, response code %ld; own %d",
           self->config->server, self->config->port, stage_nick (self->stage),
           (int) rc, curl_easy_strerror (rc), self->errbuf, self->fail_code, response, (int) own);

  /* The end of the message went out and no answer came back: the server
   * may have taken it. */
  self->delivery_uncertain = self->body_done && self->eom_code == 0;

  if (((rc == CURLE_ABORTED_BY_CALLBACK && !self->gate_tripped) || own == MS_TRANSPORT_OTHER) &&
      self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable))
    {
      if (recording (self))
        ms_transcript_add_info (self->transcript, "Cancelled");
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The operation was cancelled"));
      return;
    }

  context = reply_context (self, NULL);

  if (token_was_refused (self))
    {
      if (renew_token (self, &renew_error))
        {
          if (recording (self))
            ms_transcript_add_info (self->transcript,
                                    "The server refused the access token: trying again with a new one");
          self->retry_now = TRUE;
          self->fresh_connect = TRUE;
          g_set_error_literal (error, MS_ERROR, MS_ERROR_TEMPORARY,
                               _("The server refused the access token; trying again with a new one"));
          return;
        }
      g_debug ("OAuth2: no new access token: %s", renew_error->message);
      if (g_error_matches (renew_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&renew_error));
          return;
        }
    }

  /* libcurl gives up by itself on replies past 300 KiB in one transfer
   * (the session's own limit, MAX_REPLY_BYTES, normally comes first).
   * 7.88 has no CURLcode of its own for it (CURLE_RECV_ERROR is any failed
   * read) and no CURLINFO, so its error buffer is the one sign: read here,
   * after the transfer, and nowhere else. */
  if (!self->reply_overflow && rc == CURLE_RECV_ERROR && strstr (self->errbuf, "Too large response") != NULL)
    {
      self->reply_overflow = TRUE;
      /* libcurl may have said QUIT since. */
      self->overflow_command = self->reply_lines > 0 ? self->reply_command : self->last_command;
    }
  if (self->reply_overflow)
    {
      /* Given up on: whatever libcurl made of the shut-down socket, this
       * is what happened, and the connection is spent. */
      context.answering = reply_to_for (self, self->overflow_command);
      detail = g_strdup_printf (_("Gave up on the answer to %s after %u lines (%lu bytes)"),
                                ms_reply_to_get_label (context.answering), self->reply_lines,
                                (gulong) self->reply_bytes);
      self->reply = ms_reply_classify_transport (MS_TRANSPORT_REPLY_TOO_LONG, detail, &context,
                                                 g_get_real_time () / G_USEC_PER_SEC);
      self->fresh_connect = TRUE;
      set_reply_error (self, MS_TRANSPORT_REPLY_TOO_LONG, error);
      return;
    }

  if (own == MS_TRANSPORT_MECH_UNSUPPORTED)
    failure = failure_for_code (self, CURLE_LOGIN_DENIED, &detail);
  else if (own == MS_TRANSPORT_REPLY_TOO_LONG)
    {
      /* Handled with the other overflows below. */
    }
  else if (own != MS_TRANSPORT_NONE)
    {
      /* libcurl succeeded; the session's own check stopped: no reply to read. */
    }
  else if (self->token_refused && self->fail_code < 400)
    {
      /* libcurl 7.88 gives up on XOAUTH2 at the error challenge (334), before
       * the 535 that would follow: the server refused the token all the same. */
      context.answering = MS_REPLY_TO_AUTH;
      self->reply = classify_connect_refusal (self, 535, "5.7.8 The server refused the access token", &context,
                                              renew_error);
    }
  else if (!failure_is_transport_only (rc) && self->fail_code >= 400)
    {
      /* A server that echoes what it was sent must not put the password
       * into an error message. */
      if (self->config->password != NULL && *self->config->password != '\0')
        g_string_replace (self->fail_text, self->config->password, MS_TRANSCRIPT_BLANK, 0);
      self->reply = classify_connect_refusal (self, self->fail_code, self->fail_text->str, &context,
                                              renew_error);
    }
  else if (!failure_is_transport_only (rc) && response >= 400)
    {
      context.answering = reply_to_for (self, self->last_command);
      self->reply = ms_reply_classify ((int) response, self->errbuf, &context,
                                       g_get_real_time () / G_USEC_PER_SEC);
    }
  else
    failure = failure_for_code (self, rc, &detail);

  if (self->reply == NULL)
    {
      if (detail == NULL && self->errbuf[0] != '\0')
        detail = g_strdup (self->errbuf);
      if (failure == MS_TRANSPORT_NONE)
        failure = MS_TRANSPORT_OTHER;
      self->reply = ms_reply_classify_transport (failure, detail, &context,
                                                 g_get_real_time () / G_USEC_PER_SEC);
    }

  if (self->connect_outcome == NULL)
    {
      MsSmtpOutcome *o = ms_smtp_outcome_new (0);

      o->stage = context.answering;
      o->code = self->reply->code;
      o->failed_at = context.answering;
      o->transport = self->reply->transport;
      o->text = self->reply->code > 0 ? g_strdup (self->reply->text) : NULL;
      o->detail = self->reply->code == 0 ? g_strdup (self->reply->text) : NULL;
      self->connect_outcome = o;
    }

  if (self->reply->code == 421 || self->reply->new_connection)
    self->fresh_connect = TRUE;

  set_reply_error (self, failure, error);
  /* A revoked sign-in says so ("sign in again"), not "check the password". */
  if (renew_error != NULL && error != NULL)
    {
      g_clear_error (error);
      g_propagate_error (error, g_steal_pointer (&renew_error));
    }
  return;
}

static gboolean send_one (MsSmtp *self, const char *from, const char *to, GBytes *message,
                          GCancellable *cancellable, GError **error);

/**
 * ms_smtp_send:
 * @from: the envelope sender (bare address)
 * @to: the one recipient (bare address)
 * @message: the whole message, CRLF line endings (dot-stuffed here)
 * @cancellable: (nullable): stops the transfer within about a second
 *
 * Sends one message on this session's connection (opened, or reused when it
 * is still alive). libcurl opens the connection (TCP, TLS, EHLO), the
 * session signs in, and the mail transaction goes over the codec, as every
 * message of a blast does, filling the same #MsSmtpOutcome. Blocking: call it from a worker
 * thread. On failure the #GError is in %MS_ERROR (or
 * %G_IO_ERROR_CANCELLED) and ms_smtp_get_reply() holds the classification.
 *
 * Returns: %TRUE when the server accepted the message
 */
gboolean
ms_smtp_send (MsSmtp       *self,
              const char   *from,
              const char   *to,
              GBytes       *message,
              GCancellable *cancellable,
              GError      **error)
{
  g_return_val_if_fail (MS_IS_SMTP (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* Each message's transcript starts afresh, on a reused connection too. */
  if (recording (self))
    ms_transcript_clear (self->transcript);
  return send_one (self, from, to, message, cancellable, error);
}

/* ------------------------------------------------------------------------ */
/* Bulk mode                                                                */

/* A connection idle for longer than this is checked before it is used:
 * servers close idle connections, often with an unsolicited 421. */
#define BULK_IDLE_CHECK_USEC G_USEC_PER_SEC
#define BULK_SEND_CHUNK      (64 * 1024)
/* How long a goodbye waits for the server's 221: the connection is done
 * either way, and a blast may be closing several. */
#define BULK_QUIT_WAIT_USEC  (2 * G_USEC_PER_SEC)

typedef enum {
  BULK_IO_OK,
  BULK_IO_CLOSED,      /* EOF or a socket error */
  BULK_IO_TIMEOUT,
  BULK_IO_CANCELLED,
} BulkIo;

static gboolean
pipelining_allowed (void)
{
  static gsize once = 0;
  static gboolean allowed;

  if (g_once_init_enter (&once))
    {
      allowed = g_getenv ("MS_SMTP_NO_PIPELINING") == NULL;
      g_once_init_leave (&once, 1);
    }
  return allowed;
}

/* Waits for the socket within the deadline, looking at the cancellable
 * every second (an abort also shuts the socket down, which ends it at once). */
static BulkIo
bulk_wait (MsSmtp *self,
           short   events,
           gint64  deadline)
{
  struct pollfd pfd = { .fd = self->bulk_fd, .events = events };

  while (TRUE)
    {
      gint64 left = deadline - g_get_monotonic_time ();
      int n;

      if (self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable))
        return BULK_IO_CANCELLED;
      if (left <= 0)
        return BULK_IO_TIMEOUT;
      n = poll (&pfd, 1, (int) MIN ((left + 999) / 1000, 1000));
      if (n > 0)
        return BULK_IO_OK;   /* errors and hang-ups show in the next send or receive */
      if (n < 0 && errno != EINTR)
        return BULK_IO_CLOSED;
    }
}

static gint64
bulk_deadline (MsSmtp *self)
{
  gint64 wait = (gint64) step_timeout (self) * G_USEC_PER_SEC;

  return g_get_monotonic_time () + (self->quitting ? MIN (wait, BULK_QUIT_WAIT_USEC) : wait);
}

static BulkIo
bulk_send_all (MsSmtp     *self,
               const char *data,
               gsize       len)
{
  gint64 deadline = bulk_deadline (self);

  while (len > 0)
    {
      size_t sent = 0;
      /* In pieces: over TLS, curl_easy_send() of the whole buffer reports
       * nothing until all of it is out (OpenSSL without partial writes),
       * so the deadline could not tell a slow reader from a stalled one. */
      CURLcode rc = curl_easy_send (self->curl, data, MIN (len, BULK_SEND_CHUNK), &sent);

      if (rc == CURLE_AGAIN)
        {
          BulkIo io = bulk_wait (self, POLLOUT, deadline);

          if (io != BULK_IO_OK)
            return io;
          continue;
        }
      if (rc != CURLE_OK)
        return BULK_IO_CLOSED;
      data += sent;
      len -= sent;
      /* The timeout is for a server that stops reading, as
       * CURLOPT_LOW_SPEED_TIME is for ms_smtp_send(): a large message to a
       * slow reader may take far longer as a whole. */
      if (sent > 0)
        deadline = bulk_deadline (self);
    }
  return BULK_IO_OK;
}

/* Says QUIT on the open bulk connection and waits briefly for the 221, so
 * the server logs a clean end rather than "lost connection". libcurl does
 * not do it for a CURLOPT_CONNECT_ONLY connection: it never learns that the
 * transfer is over. */
static void
bulk_quit (MsSmtp *self)
{
  gint64 deadline;

  if (!self->bulk_open || self->bulk_fd == CURL_SOCKET_BAD)
    return;
  self->quitting = TRUE;
  deadline = bulk_deadline (self);
  if (bulk_send_all (self, "QUIT\r\n", 6) == BULK_IO_OK)
    {
      if (recording (self))
        ms_transcript_add (self->transcript, MS_TRANSCRIPT_CLIENT, "QUIT\r\n", 6, NULL);
      /* The answer is not read for its words: the goodbye is what counts. */
      while (TRUE)
        {
          guint8 chunk[512];
          size_t got = 0;
          CURLcode rc = curl_easy_recv (self->curl, chunk, sizeof chunk, &got);

          if (rc == CURLE_AGAIN)
            {
              if (bulk_wait (self, POLLIN, deadline) != BULK_IO_OK)
                break;
              continue;
            }
          if (rc != CURLE_OK || got == 0 || memchr (chunk, '\n', got) != NULL)
            break;
        }
    }
  self->quitting = FALSE;
}

/* libcurl 7.88 says no QUIT after a failure in its own connection step: it
 * takes the connection for dead (a failure while connecting ends the
 * transfer as premature, multi_done() → Curl_disconnect(dead_connection),
 * and smtp_disconnect() says QUIT only on a live one), also when the server
 * refused in a proper reply and waits for QUIT (RFC 5321 3.1). It hands the
 * socket back to CURLOPT_CLOSESOCKETFUNCTION still open, though: when the
 * last thing on a clear connection was such a refusal (the greeting; EHLO
 * and then HELO), the session says QUIT there and waits briefly for the
 * answer, as it does everywhere else.
 *
 * No QUIT where none is possible or none would be heard:
 * - on TLS (SMTPS, or after STARTTLS): libcurl has ended TLS (close_notify,
 *   SSL_free()) before it closes the socket, so a QUIT could only go in clear;
 * - after a TLS handshake that failed (a certificate refused, say): there is
 *   no channel;
 * - after a 421, or when the server closed the connection or cut it: the
 *   server is gone (the send fails, or the wait ends at once);
 * - after a timeout: the server does not answer, so a QUIT would only wait in
 *   vain (the session's own timeouts end the same way);
 * - after a reply that went on past the limits: its end never comes, so
 *   neither would the answer to QUIT (the session shut the socket down). */
static gboolean
quit_on_close_wanted (MsSmtp        *self,
                      curl_socket_t  fd)
{
  return self->connecting && fd == self->curl_fd && !self->config->use_smtps && !self->tls_active &&
         !self->abandon && !self->reply_overflow &&
         self->fail_code >= 400 && self->fail_code != 421 && !self->fail_collecting &&
         self->fail_command == self->last_command && self->reply_lines == 0 &&
         (self->fail_command == CMD_NONE || self->fail_command == CMD_EHLO ||
          self->fail_command == CMD_HELO || self->fail_command == CMD_STARTTLS) &&
         (self->cancellable == NULL || !g_cancellable_is_cancelled (self->cancellable));
}

static int
close_socket_cb (void          *user_data,
                 curl_socket_t  fd)
{
  MsSmtp *self = user_data;

  if (quit_on_close_wanted (self, fd) &&
      send (fd, "QUIT\r\n", 6, MSG_NOSIGNAL) == 6)
    {
      gint64 deadline = g_get_monotonic_time () + MIN ((gint64) step_timeout (self) * G_USEC_PER_SEC,
                                                       BULK_QUIT_WAIT_USEC);

      g_debug ("SMTP to %s:%d: QUIT after libcurl's connection step failed", self->config->server,
               self->config->port);
      if (recording (self))
        ms_transcript_add (self->transcript, MS_TRANSCRIPT_CLIENT, "QUIT\r\n", 6, NULL);
      /* The answer is not read for its words: the goodbye is what counts. */
      while (TRUE)
        {
          struct pollfd pfd = { .fd = fd, .events = POLLIN };
          gint64 left = deadline - g_get_monotonic_time ();
          char chunk[512];
          ssize_t got;

          if (left <= 0 || poll (&pfd, 1, (int) ((left + 999) / 1000)) <= 0)
            break;
          got = recv (fd, chunk, sizeof chunk, 0);
          if (got <= 0 || memchr (chunk, '\n', got) != NULL)
            break;
        }
    }
  self->curl_fd = fd == self->curl_fd ? CURL_SOCKET_BAD : self->curl_fd;

  if (self->close_socket_func != NULL)
    return self->close_socket_func (self->socket_data, fd);
  return close (fd);
}

/* Ends the connection and readies a fresh handle for the next one:
 * politely (QUIT, and a brief wait for its answer) when the connection is
 * sound; without a goodbye when it is broken, timed out, cancelled or
 * closed by the server (a QUIT would only wait in vain). */
static void
bulk_close_full (MsSmtp   *self,
                 gboolean  polite)
{
  if (self->codec != NULL)
    {
      /* Whatever is still open ends with the connection. */
      if (ms_smtp_codec_get_n_open (self->codec) > 0)
        {
          polite = FALSE;
          ms_smtp_codec_close (self->codec, MS_TRANSPORT_CONNECTION_LOST, NULL);
        }
      bulk_collect (self);
      g_clear_pointer (&self->codec, ms_smtp_codec_free);
    }
  self->bulk_close_after = FALSE;
  if (polite)
    bulk_quit (self);
  /* Shut down in either case: libcurl's own cleanup must not try again. */
  if (self->bulk_fd != CURL_SOCKET_BAD)
    shutdown (self->bulk_fd, SHUT_RDWR);
  curl_easy_setopt (self->curl, CURLOPT_DEBUGFUNCTION, NULL);
  curl_easy_setopt (self->curl, CURLOPT_VERBOSE, 0L);
  curl_easy_setopt (self->curl, CURLOPT_SOCKOPTFUNCTION, NULL);
  g_clear_pointer (&self->curl, curl_easy_cleanup);
  self->curl = curl_easy_init ();
  apply_options (self);
  self->bulk_open = FALSE;
  self->bulk_fd = CURL_SOCKET_BAD;
  g_byte_array_set_size (self->bulk_in, 0);
}

static void
bulk_close (MsSmtp *self)
{
  bulk_close_full (self, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Signing in                                                               */

/* libcurl 7.88 takes a refused AUTH for a dead connection and closes it
 * without QUIT (the server logs "lost connection"). So libcurl connects
 * (TCP, TLS, EHLO, STARTTLS) and the session signs in itself over
 * curl_easy_send/recv: a refusal then ends with QUIT like any other. The
 * dialog goes through the same readers as libcurl's (on_client_line,
 * on_server_line): transcript, stages, the failure reply, a refused token. */

/* The mechanisms the account allows, in libcurl's order of preference. */
static const char *
choose_mechanism (MsSmtp *self)
{
  static const char * const automatic[] = { "CRAM-MD5", "PLAIN", "LOGIN", NULL };
  static const char * const oauth2[] = { "OAUTHBEARER", "XOAUTH2", NULL };
  const char *options = self->login_options != NULL ? self->login_options
                                                    : login_options_for (self->config->auth_method);
  g_auto(GStrv) allowed = g_strsplit (options, ";", -1);
  const char * const *order = self->config->auth_method == MS_AUTH_METHOD_OAUTH2 ? oauth2 : automatic;

  for (guint i = 0; order[i] != NULL; i++)
    for (guint j = 0; allowed[j] != NULL; j++)
      {
        const char *mech = g_str_has_prefix (allowed[j], "AUTH=") ? allowed[j] + 5 : allowed[j];

        if ((g_str_equal (mech, "*") || g_ascii_strcasecmp (mech, order[i]) == 0) &&
            caps_auth_has (self, order[i]))
          return order[i];
      }
  return NULL;
}

/* Reads one whole reply, each line through on_server_line(): its code, and
 * its last line's text in @text (base64 of a challenge, say). */
static BulkIo
auth_read_reply (MsSmtp  *self,
                 int     *code,
                 char   **text)
{
  gint64 deadline = bulk_deadline (self);

  *code = 0;
  while (TRUE)
    {
      guint8 *nl;
      guint8 chunk[4096];
      size_t got = 0;
      CURLcode rc;

      while ((nl = memchr (self->bulk_in->data, '\n', self->bulk_in->len)) != NULL)
        {
          gsize n = nl - self->bulk_in->data + 1;
          g_autofree char *line = g_strndup ((const char *) self->bulk_in->data, n);
          gsize len = n;

          g_byte_array_remove_range (self->bulk_in, 0, n);
          on_server_line (self, line, n);
          if (self->reply_overflow)
            return BULK_IO_CLOSED;
          while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
          if (len >= 3 && g_ascii_isdigit (line[0]) && g_ascii_isdigit (line[1]) && g_ascii_isdigit (line[2]) &&
              (len == 3 || line[3] == ' '))
            {
              *code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
              *text = g_strdup (len > 4 ? line + 4 : "");
              return BULK_IO_OK;
            }
        }
      if (self->bulk_in->len > MAX_REPLY_BYTES)
        {
          if (self->reply_lines == 0)
            self->reply_command = self->last_command;
          give_up_on_reply (self);
          return BULK_IO_CLOSED;
        }
      rc = curl_easy_recv (self->curl, chunk, sizeof chunk, &got);
      if (rc == CURLE_AGAIN)
        {
          BulkIo io = bulk_wait (self, POLLIN, deadline);

          if (io != BULK_IO_OK)
            return io;
          continue;
        }
      if (rc != CURLE_OK || got == 0)
        return BULK_IO_CLOSED;
      g_byte_array_append (self->bulk_in, chunk, got);
      deadline = bulk_deadline (self);
    }
}

static BulkIo
auth_send (MsSmtp     *self,
           const char *line)
{
  on_client_line (self, line, strlen (line));
  return bulk_send_all (self, line, strlen (line));
}

static BulkIo
auth_send_b64 (MsSmtp     *self,
               const char *data,
               gsize       len)
{
  g_autofree char *b64 = g_base64_encode ((const guchar *) data, len);
  g_autofree char *line = g_strconcat (b64, "\r\n", NULL);
  BulkIo io = auth_send (self, line);

  wipe (b64, strlen (b64));
  wipe (line, strlen (line));
  return io;
}

/* The next step's answer, after a 334 challenge (decoded into @challenge). */
static char *
auth_response (MsSmtp     *self,
               const char *mech,
               guint       step,
               const char *challenge,
               gsize       challenge_len,
               gsize      *len)
{
  const char *user = self->config->user != NULL ? self->config->user : "";
  const char *secret = self->config->password != NULL ? self->config->password : "";
  char *out = NULL;

  if (g_str_equal (mech, "PLAIN") && step == 0)
    {
      gsize u = strlen (user), p = strlen (secret);

      *len = 1 + u + 1 + p;
      out = g_malloc (*len + 1);
      out[0] = '\0';
      memcpy (out + 1, user, u);
      out[1 + u] = '\0';
      memcpy (out + 2 + u, secret, p);
      out[*len] = '\0';
      return out;
    }
  if (g_str_equal (mech, "LOGIN") && step <= 1)
    out = g_strdup (step == 0 ? user : secret);
  else if (g_str_equal (mech, "CRAM-MD5") && step == 0)
    {
      g_autofree char *digest = g_compute_hmac_for_data (G_CHECKSUM_MD5, (const guchar *) secret, strlen (secret),
                                                         (const guchar *) challenge, challenge_len);

      out = g_strdup_printf ("%s %s", user, digest);
    }
  else if (g_str_equal (mech, "XOAUTH2") && step == 0)
    out = g_strdup_printf ("user=%s\001auth=Bearer %s\001\001", user, secret);
  else if (g_str_equal (mech, "OAUTHBEARER") && step == 0)
    out = g_strdup_printf ("n,a=%s,\001host=%s\001port=%d\001auth=Bearer %s\001\001", user,
                           self->config->server, self->config->port, secret);
  else if (g_str_equal (mech, "OAUTHBEARER"))
    out = g_strdup ("\001");   /* RFC 7628: the answer to an error challenge */
  else
    out = g_strdup ("");       /* XOAUTH2's, and anything unexpected */
  *len = strlen (out);
  return out;
}

/* Signs in on the connection libcurl opened. Returns %FALSE with the reason
 * in @own (MS_TRANSPORT_NONE: the server refused, its reply is the failure). */
static gboolean
session_auth (MsSmtp             *self,
              MsTransportFailure *own)
{
  const char *mech = choose_mechanism (self);
  g_autofree char *command = NULL;
  BulkIo io;
  int code = 0;

  *own = MS_TRANSPORT_NONE;
  if (mech == NULL)
    {
      *own = MS_TRANSPORT_MECH_UNSUPPORTED;
      return FALSE;
    }
  command = g_strdup_printf ("AUTH %s\r\n", mech);
  io = auth_send (self, command);
  for (guint step = 0; io == BULK_IO_OK && step < 8; step++)
    {
      g_autofree char *text = NULL;
      g_autofree guchar *challenge = NULL;
      g_autofree char *answer = NULL;
      gsize challenge_len = 0;
      gsize len = 0;

      io = auth_read_reply (self, &code, &text);
      if (io != BULK_IO_OK || code != 334)
        break;
      challenge = g_base64_decode (text, &challenge_len);
      answer = auth_response (self, mech, step, (const char *) challenge, challenge_len, &len);
      io = len > 0 ? auth_send_b64 (self, answer, len) : auth_send (self, "\r\n");
      wipe (answer, len);
    }
  /* The exchange is over whatever happened: later lines are commands. */
  self->auth_open = FALSE;
  g_byte_array_set_size (self->bulk_in, 0);
  switch (io)
    {
    case BULK_IO_OK:
      if (code == 235)
        return TRUE;
      return FALSE;
    case BULK_IO_TIMEOUT:
      self->abandon = TRUE;
      *own = MS_TRANSPORT_RESPONSE_TIMEOUT;
      return FALSE;
    case BULK_IO_CANCELLED:
      *own = MS_TRANSPORT_OTHER;
      return FALSE;
    case BULK_IO_CLOSED:
    default:
      *own = self->reply_overflow ? MS_TRANSPORT_REPLY_TOO_LONG : MS_TRANSPORT_CONNECTION_LOST;
      return FALSE;
    }
}

/* libcurl opens the connection: TCP, greeting, EHLO, STARTTLS; then AUTH, with
 * the same policy and the same reading of the dialog for every message.
 * Returns libcurl's own result in @rc, and in @own the session's reason to
 * stop after libcurl's success. */
static gboolean
bulk_connect (MsSmtp             *self,
              CURLcode           *rc,
              MsTransportFailure *own)
{
  curl_socket_t fd = CURL_SOCKET_BAD;

  *own = MS_TRANSPORT_NONE;
  apply_security (self);
  apply_time_cap (self, g_bytes_get_size (self->message));
  /* libcurl keeps a connection that the server said goodbye on (421). */
  curl_easy_setopt (self->curl, CURLOPT_FRESH_CONNECT, self->fresh_connect ? 1L : 0L);
  self->fresh_connect = FALSE;
  self->connecting = TRUE;
  *rc = curl_easy_perform (self->curl);
  self->connecting = FALSE;
  if (*rc != CURLE_OK)
    return FALSE;
  if (curl_easy_getinfo (self->curl, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK || fd == CURL_SOCKET_BAD)
    {
      /* libcurl said it was connected and has no socket left: lost. */
      bulk_close (self);
      *own = MS_TRANSPORT_CONNECTION_LOST;
      return FALSE;
    }
  self->bulk_fd = fd;
  self->bulk_open = TRUE;
  g_byte_array_set_size (self->bulk_in, 0);

  /* Not to go on in clear (a refused downgrade, a password that would go
   * in clear): the connection is sound, so QUIT. */
  if (!check_security (self, own))
    {
      bulk_close_full (self, TRUE);
      return FALSE;
    }
  if (!self->config->needs_auth)
    return TRUE;
  /* No AUTH offered: nothing is sent unauthenticated. */
  if (!caps_has_auth (self))
    {
      self->gate_tripped = TRUE;
      if (recording (self))
        ms_transcript_add_info (self->transcript,
                                "Not signed in (the server offers no authentication): the message is not sent");
      bulk_close_full (self, TRUE);
      *own = MS_TRANSPORT_NO_AUTH_ADVERTISED;
      return FALSE;
    }
  if (session_auth (self, own))
    return TRUE;
  /* Refused (or no common mechanism): the connection is sound, so QUIT;
   * not after a 421 (the server is closing), a timeout or a drop. */
  bulk_close_full (self, (*own == MS_TRANSPORT_NONE || *own == MS_TRANSPORT_MECH_UNSUPPORTED) &&
                         self->fail_code != 421);
  return FALSE;
}

/* Turns one finished message into its answer: the outcome, classified. */
static void
bulk_answer (MsSmtp        *self,
             MsSmtpOutcome *outcome)
{
  Answer *a = g_new0 (Answer, 1);

  a->outcome = outcome;
  if (outcome->accepted)
    {
      self->conn_messages++;
      set_stage (self, MS_SMTP_STAGE_DONE);
    }
  else if (outcome->stage == MS_REPLY_TO_UNKNOWN && outcome->code == 0)
    {
      /* Nothing of it went out (withdrawn after a refusal, or the
       * connection ended before its turn): no reply, no error. */
    }
  else if (self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable))
    g_set_error_literal (&a->error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The operation was cancelled"));
  else
    {
      MsReplyContext context = reply_context (self, outcome);

      a->reply = ms_reply_classify_outcome (outcome, &context, g_get_real_time () / G_USEC_PER_SEC);
      reply_error (a->reply, outcome->transport, &a->error);
      /* A refused recipient says nothing about the session: the codec
       * resets the transaction and the connection goes on (a new one would
       * cost a TLS handshake and a sign-in per bad address, and providers
       * throttle sign-ins). Anything else ends it politely once the
       * messages already sent are answered. */
      if (a->reply->klass != MS_REPLY_CLASS_RECIPIENT_REJECTED || a->reply->new_connection)
        {
          /* The messages not sent yet come back unsent. */
          self->bulk_close_after = TRUE;
          if (self->codec != NULL)
            ms_smtp_codec_withdraw (self->codec);
        }
      else if (self->codec != NULL)
        ms_smtp_codec_resume (self->codec);
    }
  g_hash_table_remove (self->subs, &outcome->id);
  g_queue_push_tail (&self->answers, a);
}

static void
bulk_collect (MsSmtp *self)
{
  MsSmtpOutcome *outcome;

  if (self->codec == NULL)
    return;
  while ((outcome = ms_smtp_codec_pop_outcome (self->codec)) != NULL)
    bulk_answer (self, outcome);
}

/* The answer for a message that could not be put on a connection. */
static void
bulk_answer_now (MsSmtp        *self,
                 guint64        id,
                 MsSmtpOutcome *outcome,
                 MsReply       *reply,
                 GError        *error)
{
  Answer *a = g_new0 (Answer, 1);

  a->outcome = outcome != NULL ? outcome : ms_smtp_outcome_new (id);
  a->outcome->id = id;
  a->reply = reply;
  a->error = error;
  if (reply != NULL && outcome == NULL)
    {
      a->outcome->code = reply->code;
      a->outcome->transport = reply->transport;
    }
  g_hash_table_remove (self->subs, &id);
  g_queue_push_tail (&self->answers, a);
}

static void submit_now (MsSmtp *self, guint64 id, Sub *sub);

/* A reused connection that died before the server said anything: it had
 * closed while idle, and nothing of the window reached it. Those messages
 * go again at once on a new connection, once each, as libcurl does. */
static gboolean
bulk_resend_after_idle_death (MsSmtp *self)
{
  g_autoptr(GPtrArray) again = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_smtp_outcome_free);
  MsSmtpOutcome *outcome;

  if (self->bulk_heard || self->conn_messages == 0 ||
      ms_smtp_codec_get_failure (self->codec) != MS_TRANSPORT_CONNECTION_LOST)
    return FALSE;
  while ((outcome = ms_smtp_codec_pop_outcome (self->codec)) != NULL)
    {
      Sub *sub = g_hash_table_lookup (self->subs, &outcome->id);

      if (sub != NULL && !sub->resent && !outcome->uncertain)
        {
          sub->resent = TRUE;
          g_ptr_array_add (again, outcome);
        }
      else
        bulk_answer (self, outcome);
    }
  bulk_close (self);
  for (guint i = 0; i < again->len; i++)
    {
      MsSmtpOutcome *o = again->pdata[i];

      submit_now (self, o->id, g_hash_table_lookup (self->subs, &o->id));
    }
  return TRUE;
}

/* Moves bytes between the socket and the codec until an answer is ready
 * (or, with @drain, until every message is answered), or nothing is left
 * to do. The output is written only when no answer is waiting, so that the
 * caller can first add messages to the same write. One timeout, the
 * account's, for any step that makes no progress. */
static void
bulk_pump (MsSmtp   *self,
           gboolean  drain)
{
  gint64 deadline = bulk_deadline (self);

  while (self->codec != NULL)
    {
      MsSmtpCodec *codec = self->codec;
      const guint8 *data;
      gsize len;
      guint64 id;
      short events = 0;
      BulkIo io;

      if (ms_smtp_codec_is_closed (codec))
        {
          if (!bulk_resend_after_idle_death (self))
            {
              bulk_collect (self);
              bulk_close (self);
            }
          continue;
        }
      bulk_collect (self);
      if (ms_smtp_codec_get_n_open (codec) == 0)
        {
          if (self->bulk_close_after)
            bulk_close_full (self, TRUE);
          return;
        }
      if (self->answers.length > 0 && !drain)
        return;
      if (self->cancellable != NULL && g_cancellable_is_cancelled (self->cancellable))
        {
          ms_smtp_codec_close (codec, MS_TRANSPORT_OTHER, _("Cancelled"));
          continue;
        }

      data = ms_smtp_codec_get_output (codec, &len);
      if (len > 0)
        {
          size_t sent = 0;
          CURLcode rc;

          /* The caller notes the ends before they can reach the server:
           * all those of this write at once. */
          g_array_set_size (self->end_ids, 0);
          while (ms_smtp_codec_next_end (codec, len, &id))
            {
              Sub *sub = g_hash_table_lookup (self->subs, &id);

              set_stage (self, MS_SMTP_STAGE_DATA);
              if (recording (self) && sub != NULL)
                ms_transcript_add_message_size (self->transcript, g_bytes_get_size (sub->message));
              g_array_append_val (self->end_ids, id);
            }
          if (self->end_ids->len > 0 && self->end_func != NULL &&
              !self->end_func (self, (const guint64 *) self->end_ids->data, self->end_ids->len, self->end_data))
            {
              ms_smtp_codec_close (codec, MS_TRANSPORT_OTHER, NULL);
              continue;
            }
          /* In pieces: over TLS, curl_easy_send() of the whole buffer
           * reports nothing until all of it is out (OpenSSL without partial
           * writes), so the deadline could not tell a slow reader from a
           * stalled one. */
          rc = curl_easy_send (self->curl, data, MIN (len, BULK_SEND_CHUNK), &sent);
          if (rc == CURLE_OK)
            {
              ms_smtp_codec_output_written (codec, sent);
              if (sent > 0)
                deadline = bulk_deadline (self);
              continue;
            }
          if (rc != CURLE_AGAIN)
            {
              ms_smtp_codec_close (codec, MS_TRANSPORT_CONNECTION_LOST, _("Connection lost"));
              continue;
            }
          events |= POLLOUT;
        }

      if (ms_smtp_codec_wants_input (codec))
        {
          guint8 chunk[16384];
          size_t got = 0;
          CURLcode rc = curl_easy_recv (self->curl, chunk, sizeof chunk, &got);

          if (rc == CURLE_OK && got > 0)
            {
              if (recording (self))
                ms_transcript_add (self->transcript, MS_TRANSCRIPT_SERVER, (const char *) chunk,
                                   MIN (got, (gsize) MAX_TRANSCRIPT_LINE), self->config->password);
              self->bulk_heard = TRUE;
              ms_smtp_codec_feed (codec, chunk, got);
              if (ms_smtp_codec_get_failure (codec) == MS_TRANSPORT_REPLY_TOO_LONG)
                self->abandon = TRUE;
              deadline = bulk_deadline (self);
              continue;
            }
          if (rc != CURLE_AGAIN)
            {
              ms_smtp_codec_close (codec, MS_TRANSPORT_CONNECTION_LOST, _("Connection lost"));
              continue;
            }
          events |= POLLIN;
        }
      if (events == 0)
        return;
      /* What the caller keeps to write with the next end goes before a wait. */
      if (self->end_func != NULL)
        self->end_func (self, NULL, 0, self->end_data);
      io = bulk_wait (self, events, deadline);
      if (io == BULK_IO_TIMEOUT)
        {
          self->abandon = TRUE;
          ms_smtp_codec_close (codec, MS_TRANSPORT_RESPONSE_TIMEOUT, _("server response timeout"));
        }
      else if (io == BULK_IO_CANCELLED)
        ms_smtp_codec_close (codec, MS_TRANSPORT_OTHER, _("Cancelled"));
      else if (io == BULK_IO_CLOSED)
        ms_smtp_codec_close (codec, MS_TRANSPORT_CONNECTION_LOST, _("Connection lost"));
    }
}

/* Opens the connection when none is open: libcurl does TCP, TLS and EHLO,
 * the session AUTH, and the security decision is taken once per session. */
static gboolean
bulk_open_connection (MsSmtp   *self,
                      guint64   id,
                      GBytes   *message)
{
  guint retries = 0;

  if (self->bulk_open && self->codec != NULL &&
      ms_smtp_codec_get_n_open (self->codec) == 0 &&
      g_get_monotonic_time () - self->bulk_last_use > BULK_IDLE_CHECK_USEC)
    {
      struct pollfd pfd = { .fd = self->bulk_fd, .events = POLLIN };

      /* Readable while idle: closed, or a 421 goodbye. */
      if (poll (&pfd, 1, 0) != 0)
        bulk_close (self);
    }
  if (self->bulk_open && self->codec != NULL && !ms_smtp_codec_is_closed (self->codec))
    return TRUE;
  if (self->bulk_open)
    bulk_close (self);

  for (guint attempt = 0; attempt < 4; attempt++)
    {
      g_autoptr(GError) error = NULL;
      CURLcode rc = CURLE_OK;
      MsTransportFailure own = MS_TRANSPORT_NONE;

      reset_transfer (self, message, self->cancellable, attempt > 0);
      if (attempt == 0)
        sync_token (self);
      set_stage (self, MS_SMTP_STAGE_RESOLVE);
      self->conn_messages = 0;
      if (bulk_connect (self, &rc, &own))
        {
          g_autoptr(GPtrArray) caps = g_ptr_array_new ();

          /* MS_SMTP_NO_PIPELINING=1: one command per round trip, for comparisons. */
          for (guint i = 0; self->caps != NULL && i + 1 < self->caps->len; i++)
            if (pipelining_allowed () ||
                (g_ascii_strcasecmp (self->caps->pdata[i], "PIPELINING") != 0 &&
                 g_ascii_strcasecmp (self->caps->pdata[i], "CHUNKING") != 0))
              g_ptr_array_add (caps, self->caps->pdata[i]);
          g_ptr_array_add (caps, NULL);
          self->codec = ms_smtp_codec_new ((const char * const *) caps->pdata);
          ms_smtp_codec_set_window (self->codec, self->window);
          ms_smtp_codec_set_hold_on_failure (self->codec, TRUE);
          self->bulk_heard = FALSE;
          return TRUE;
        }
      /* The connection step's failure, as ms_smtp_send() reads it. */
      connect_failed (self, rc, own, &error);
      if (self->retry_now && retries < 2)
        {
          retries++;
          continue;
        }
      bulk_answer_now (self, id, g_steal_pointer (&self->connect_outcome),
                       self->reply != NULL ? ms_reply_copy (self->reply) : NULL,
                       g_steal_pointer (&error));
      /* One failed sign-in per connection attempt, not one per message. */
      self->bulk_connect_failed = TRUE;
      return FALSE;
    }
  return FALSE;
}

static void
submit_now (MsSmtp  *self,
            guint64  id,
            Sub     *sub)
{
  g_autoptr(GError) error = NULL;

  if (!bulk_open_connection (self, id, sub->message))
    return;
  if (ms_smtp_codec_get_n_open (self->codec) == 0)
    self->bulk_heard = FALSE;
  /* MAIL and RCPT go out together, or one after the other: the steps
   * are reported as the message starts. */
  set_stage (self, MS_SMTP_STAGE_MAIL);
  set_stage (self, MS_SMTP_STAGE_RCPT);
  if (!ms_smtp_codec_submit (self->codec, id, sub->from, sub->to, sub->message, &error))
    {
      /* This server cannot take this message (SIZE, SMTPUTF8): the message
       * fails, the connection goes on. */
      if (recording (self))
        ms_transcript_add_info (self->transcript, "%s", error->message);
      MsReply *reply = g_new0 (MsReply, 1);

      reply->klass = MS_REPLY_CLASS_RECIPIENT_REJECTED;
      reply->permanent = TRUE;
      reply->text = g_strdup (error->message);
      reply->advice = g_strdup (error->message);
      bulk_answer_now (self, id, NULL, reply, g_steal_pointer (&error));
      return;
    }
  if (recording (self))
    {
      /* What the codec sends, in short: the message itself as its size. */
      g_autofree char *mail = g_strdup_printf ("MAIL FROM:<%s>\r\n", sub->from);
      g_autofree char *rcpt = g_strdup_printf ("RCPT TO:<%s>\r\n", sub->to);
      const char *data = ms_smtp_codec_get_chunking (self->codec) ? "BDAT … LAST\r\n" : "DATA\r\n";

      ms_transcript_add (self->transcript, MS_TRANSCRIPT_CLIENT, mail, strlen (mail), NULL);
      ms_transcript_add (self->transcript, MS_TRANSCRIPT_CLIENT, rcpt, strlen (rcpt), NULL);
      ms_transcript_add (self->transcript, MS_TRANSCRIPT_CLIENT, data, strlen (data), NULL);
    }
}

/**
 * ms_smtp_set_window:
 * @window: messages in flight at most on one connection (at least 1)
 *
 * With PIPELINING, two are enough for one round trip per message (the end
 * of one goes with the next one's commands); with CHUNKING each more is one
 * more message per round trip. A drop leaves at most this many uncertain.
 */
void
ms_smtp_set_window (MsSmtp *self,
                    guint   window)
{
  g_return_if_fail (MS_IS_SMTP (self));

  self->window = MAX (window, 1);
  if (self->codec != NULL)
    ms_smtp_codec_set_window (self->codec, self->window);
}

/**
 * ms_smtp_set_end_func:
 * @func: (nullable): called before a write that carries the end of messages
 *   (their ids, in order) can reach the server; returning %FALSE stops the
 *   connection before it does. Called with no ids before the session waits
 *   for the server (its result is then not looked at): notes the caller
 *   keeps to write with the next end must not wait longer than that.
 *
 * For ms_smtp_bulk_submit(): the blast notes "end" in its side log there,
 * with the answers read since, in one write.
 */
void
ms_smtp_set_end_func (MsSmtp        *self,
                      MsSmtpEndFunc  func,
                      gpointer       user_data)
{
  g_return_if_fail (MS_IS_SMTP (self));

  self->end_func = func;
  self->end_data = user_data;
}

static void
bulk_init (MsSmtp *self)
{
  if (self->bulk)
    return;
  self->bulk = TRUE;
  self->bulk_in = g_byte_array_sized_new (4096);
  self->end_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  self->subs = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, (GDestroyNotify) sub_free);
}

/**
 * ms_smtp_bulk_has_room:
 *
 * Returns: %TRUE when another message may be submitted without waiting
 */
gboolean
ms_smtp_bulk_has_room (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), FALSE);

  if (self->bulk_close_after || self->bulk_connect_failed)
    return FALSE;
  if (self->codec == NULL || ms_smtp_codec_is_closed (self->codec))
    return self->subs == NULL || g_hash_table_size (self->subs) < self->window;
  return ms_smtp_codec_has_room (self->codec);
}

/**
 * ms_smtp_bulk_get_n_open:
 *
 * Returns: messages submitted and not popped with ms_smtp_bulk_pop() yet
 */
guint
ms_smtp_bulk_get_n_open (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), 0);

  return (self->subs != NULL ? g_hash_table_size (self->subs) : 0) + self->answers.length;
}

/**
 * ms_smtp_bulk_submit:
 * @id: the caller's id, in the message's #MsSmtpOutcome
 * @from: the envelope sender (bare address)
 * @to: the one recipient (bare address)
 * @message: the whole message, CRLF line endings (dot-stuffed here)
 * @cancellable: (nullable): stops the connection within about a second
 *
 * Puts one more message in the window of the session's connection (opened
 * first when none is: libcurl does TCP, TLS and EHLO, the session AUTH, with the same
 * security policy as ms_smtp_send()). Nothing is written until
 * ms_smtp_bulk_wait(): the messages submitted before it go in one write.
 * Every message submitted gets exactly one answer from ms_smtp_bulk_pop().
 */
void
ms_smtp_bulk_submit (MsSmtp       *self,
                     guint64       id,
                     const char   *from,
                     const char   *to,
                     GBytes       *message,
                     GCancellable *cancellable)
{
  Sub *sub;
  guint64 *key;

  g_return_if_fail (MS_IS_SMTP (self));
  g_return_if_fail (message != NULL);

  bulk_init (self);
  g_set_object (&self->cancellable, cancellable);
  sub = g_new0 (Sub, 1);
  sub->from = g_strdup (from != NULL ? from : "");
  sub->to = g_strdup (to != NULL ? to : "");
  sub->message = g_bytes_ref (message);
  key = g_new (guint64, 1);
  *key = id;
  g_hash_table_replace (self->subs, key, sub);

  if (!address_is_safe (from) || !address_is_safe (to) || g_bytes_get_size (message) == 0)
    {
      GError *error = NULL;

      if (g_bytes_get_size (message) == 0)
        g_set_error_literal (&error, MS_ERROR, MS_ERROR_INVALID_INPUT, _("The message is empty."));
      else
        g_set_error (&error, MS_ERROR, MS_ERROR_INVALID_VALUE, _("“%s” cannot be used as an e-mail address."),
                     address_is_safe (from) ? sub->to : sub->from);
      bulk_answer_now (self, id, NULL, NULL, error);
      return;
    }
  if (g_cancellable_is_cancelled (cancellable))
    {
      GError *error = NULL;

      g_set_error_literal (&error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The operation was cancelled"));
      bulk_answer_now (self, id, NULL, NULL, error);
      return;
    }
  submit_now (self, id, sub);
}

/**
 * ms_smtp_bulk_wait:
 * @drain: wait until every message submitted is answered
 *
 * Writes what the window holds and reads the replies until an answer is
 * ready for ms_smtp_bulk_pop() (or all are, with @drain). Blocking: call it
 * from a worker thread.
 */
void
ms_smtp_bulk_wait (MsSmtp   *self,
                   gboolean  drain)
{
  g_return_if_fail (MS_IS_SMTP (self));

  bulk_pump (self, drain);
  self->bulk_last_use = g_get_monotonic_time ();
}

/**
 * ms_smtp_bulk_pop:
 * @reply: (out) (transfer full) (optional): the classification of a
 *   failure; %NULL after success or a cancel
 * @error: the failure as a sentence for a user, or %G_IO_ERROR_CANCELLED
 *
 * A message withdrawn unsent (the connection ended after a refusal before
 * its turn) comes back with neither @reply nor @error: send it again.
 *
 * Returns: (transfer full) (nullable): the next answered message's
 *   outcome, in the order they were answered; %NULL when none is ready
 */
MsSmtpOutcome *
ms_smtp_bulk_pop (MsSmtp   *self,
                  MsReply **reply,
                  GError  **error)
{
  Answer *a;
  MsSmtpOutcome *outcome;

  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  if (reply != NULL)
    *reply = NULL;
  a = g_queue_pop_head (&self->answers);
  if (self->answers.length == 0)
    self->bulk_connect_failed = FALSE;
  if (a == NULL)
    return NULL;
  outcome = g_steal_pointer (&a->outcome);
  if (reply != NULL)
    *reply = g_steal_pointer (&a->reply);
  if (a->error != NULL)
    g_propagate_error (error, g_steal_pointer (&a->error));
  answer_free (a);
  return outcome;
}

/**
 * ms_smtp_send_bulk:
 * @from: the envelope sender (bare address)
 * @to: the one recipient (bare address)
 * @message: the whole message, CRLF line endings (dot-stuffed here)
 * @cancellable: (nullable): stops the transfer within about a second
 *
 * Like ms_smtp_send(), with the same results (reply, classification,
 * ms_smtp_get_delivery_uncertain()), for many messages on one connection:
 * one message through ms_smtp_bulk_submit() and its answer. The mail
 * transaction goes over the codec: MAIL, RCPT and DATA in one write when the
 * server offers PIPELINING, BDAT when it offers CHUNKING.
 *
 * Returns: %TRUE when the server accepted the message
 */
gboolean
ms_smtp_send_bulk (MsSmtp       *self,
                   const char   *from,
                   const char   *to,
                   GBytes       *message,
                   GCancellable *cancellable,
                   GError      **error)
{
  g_return_val_if_fail (MS_IS_SMTP (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return send_one (self, from, to, message, cancellable, error);
}

/* One message through the window and its answer: ms_smtp_send() and
 * ms_smtp_send_bulk() alike. */
static gboolean
send_one (MsSmtp       *self,
          const char   *from,
          const char   *to,
          GBytes       *message,
          GCancellable *cancellable,
          GError      **error)
{
  g_autoptr(MsSmtpOutcome) outcome = NULL;
  g_autoptr(GError) local_error = NULL;
  MsReply *reply = NULL;

  g_return_val_if_fail (MS_IS_SMTP (self), FALSE);
  g_return_val_if_fail (message != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint attempt = 0; ; attempt++)
    {
      g_clear_pointer (&outcome, ms_smtp_outcome_free);
      g_clear_error (&local_error);
      g_clear_pointer (&reply, ms_reply_free);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      ms_smtp_bulk_submit (self, 0, from, to, message, cancellable);
      while (self->answers.length == 0 && ms_smtp_bulk_get_n_open (self) > 0)
        ms_smtp_bulk_wait (self, FALSE);
      outcome = ms_smtp_bulk_pop (self, &reply, &local_error);
      g_return_val_if_fail (outcome != NULL, FALSE);
      /* Nothing of it went out: again, on a new connection. */
      if (outcome->accepted || reply != NULL || local_error != NULL)
        break;
      if (attempt >= 2)
        {
          g_set_error_literal (error, MS_ERROR, MS_ERROR_TEMPORARY, _("The connection to the server was lost."));
          return FALSE;
        }
    }

  g_clear_pointer (&self->reply, ms_reply_free);
  self->reply = reply;
  /* The step a failure is about, for ms_smtp_get_stage(). */
  if (!outcome->accepted && outcome->stage != MS_REPLY_TO_UNKNOWN)
    {
      switch (outcome->code > 0 ? outcome->failed_at : outcome->stage)
        {
        case MS_REPLY_TO_MAIL: self->stage = MS_SMTP_STAGE_MAIL; break;
        case MS_REPLY_TO_RCPT: self->stage = MS_SMTP_STAGE_RCPT; break;
        case MS_REPLY_TO_DATA:
        case MS_REPLY_TO_END_OF_DATA: self->stage = MS_SMTP_STAGE_DATA; break;
        default: break;
        }
    }
  self->delivery_uncertain = outcome->uncertain;
  self->eom_code = outcome->end_code;
  g_string_assign (self->eom_line, outcome->end_text != NULL ? outcome->end_text : "");
  self->body_done = outcome->stage == MS_REPLY_TO_END_OF_DATA;
  g_clear_pointer (&self->outcome, ms_smtp_outcome_free);
  self->outcome = g_steal_pointer (&outcome);
  if (self->outcome->accepted)
    return TRUE;
  g_propagate_error (error, g_steal_pointer (&local_error));
  return FALSE;
}

/**
 * ms_smtp_set_socket_funcs:
 *
 * CURLOPT_OPENSOCKETFUNCTION and CURLOPT_CLOSESOCKETFUNCTION for every
 * connection this session opens (ms-blast tracks the socket so that an
 * abort can shut it down).
 */
void
ms_smtp_set_socket_funcs (MsSmtp   *self,
                          gpointer  open_func,
                          gpointer  close_func,
                          gpointer  user_data)
{
  g_return_if_fail (MS_IS_SMTP (self));

  self->open_socket_func = (curl_opensocket_callback) open_func;
  self->close_socket_func = (curl_closesocket_callback) close_func;
  self->socket_data = user_data;
  curl_easy_setopt (self->curl, CURLOPT_OPENSOCKETFUNCTION, self->open_socket_func);
  curl_easy_setopt (self->curl, CURLOPT_OPENSOCKETDATA, user_data);
  /* close_socket_cb() hands on to close_func. */
}

/**
 * ms_smtp_get_outcome:
 *
 * Returns: (transfer none) (nullable): what became of the last message of
 *   ms_smtp_send() or ms_smtp_send_bulk() (id 0), the record ms-reply
 *   classifies; %NULL before any
 */
const MsSmtpOutcome *
ms_smtp_get_outcome (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  return self->outcome;
}

/**
 * ms_smtp_get_reply:
 *
 * Returns: (transfer none) (nullable): the classification of the last
 *   failure, or %NULL after a success or a cancel
 */
const MsReply *
ms_smtp_get_reply (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  return self->reply;
}

/**
 * ms_smtp_get_transcript:
 *
 * The dialog of the last message (both attempts when the session fell back
 * from STARTTLS), secrets blanked. Empty when recording is off.
 *
 * Returns: (transfer none): the transcript
 */
MsTranscript *
ms_smtp_get_transcript (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  return self->transcript;
}

/**
 * ms_smtp_get_stage:
 *
 * Returns: the stage the last message was in when it ended (the step that
 *   failed), %MS_SMTP_STAGE_DONE after a success. A reused connection goes
 *   from %MS_SMTP_STAGE_RESOLVE straight to %MS_SMTP_STAGE_MAIL.
 */
MsSmtpStage
ms_smtp_get_stage (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), MS_SMTP_STAGE_NONE);

  return self->stage;
}

/**
 * ms_smtp_get_capabilities:
 *
 * Returns: (transfer none) (nullable) (array zero-terminated=1): the EHLO
 *   keywords of the last connection this session opened ("AUTH PLAIN LOGIN",
 *   "STARTTLS", "SIZE 1000"), after STARTTLS when it was used; %NULL before
 *   any EHLO reply
 */
const char * const *
ms_smtp_get_capabilities (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  return self->caps != NULL ? (const char * const *) self->caps->pdata : NULL;
}

/**
 * ms_smtp_get_tls_active:
 *
 * Returns: whether the last connection this session opened is encrypted
 */
gboolean
ms_smtp_get_tls_active (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), FALSE);

  return self->tls_active;
}

/**
 * ms_smtp_get_starttls_offered:
 *
 * Returns: whether any EHLO reply of this session offered STARTTLS. Store it
 *   in the account's starttls-seen: a later session without STARTTLS is then
 *   refused as a possible attack.
 */
gboolean
ms_smtp_get_starttls_offered (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), FALSE);

  return self->starttls_offered;
}

/**
 * ms_smtp_get_auth_mechanism:
 *
 * Returns: (nullable): the SASL mechanism of the last AUTH on the current
 *   connection ("PLAIN", "CRAM-MD5"…), or %NULL when it did not sign in
 */
const char *
ms_smtp_get_auth_mechanism (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  return self->auth_mechanism;
}

/**
 * ms_smtp_set_record_transcript:
 * @record: %FALSE in bulk mode
 *
 * Recording every line costs time per message. Without it the session still
 * reads the dialog for the reply code and text, the stage, the capabilities
 * and the AUTH state; it just keeps no transcript.
 */
void
ms_smtp_set_record_transcript (MsSmtp   *self,
                               gboolean  record)
{
  g_return_if_fail (MS_IS_SMTP (self));

  self->record_transcript = !!record;
}

/**
 * ms_smtp_set_stage_func:
 * @func: (nullable): called each time the session enters a stage
 *
 * The callback runs in the thread that runs the transfer, from inside
 * libcurl: keep it cheap and do not call back into @self.
 * Stages: RESOLVE when a message starts, CONNECT when a socket is opened,
 * GREETING once TCP is up (TLS instead with SMTPS), EHLO, TLS (STARTTLS),
 * AUTH, MAIL, RCPT, DATA when each command goes out, DONE when the server
 * accepted the message.
 */
void
ms_smtp_set_stage_func (MsSmtp          *self,
                        MsSmtpStageFunc  func,
                        gpointer         user_data)
{
  g_return_if_fail (MS_IS_SMTP (self));

  self->stage_func = func;
  self->stage_data = user_data;
}

/**
 * ms_smtp_get_delivery_uncertain:
 *
 * Returns: %TRUE when the last message failed after its last byte went out
 *   and before the server answered (e.g. the connection dropped after the
 *   final "."): the server may have delivered it. Do not resend silently.
 */
gboolean
ms_smtp_get_delivery_uncertain (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), FALSE);

  return self->delivery_uncertain;
}

/**
 * ms_smtp_get_peer_fingerprint:
 *
 * Returns: (nullable): the SHA-256 fingerprint ("AB:CD:…") of the certificate
 *   the server presented on the last TLS connection this session opened;
 *   what a user compares before trusting it (trusted-certificate)
 */
const char *
ms_smtp_get_peer_fingerprint (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  return self->peer_fingerprint;
}

/**
 * ms_smtp_set_retried:
 * @retried: %FALSE when a failed message is not tried again (a test)
 *
 * The advice of a failure then says what to do rather than promising a
 * retry that will not happen.
 */
void
ms_smtp_set_retried (MsSmtp   *self,
                     gboolean  retried)
{
  g_return_if_fail (MS_IS_SMTP (self));

  self->retried = !!retried;
}

/**
 * ms_smtp_get_final_reply:
 *
 * The server's answer to the end of the last message, its last line
 * ("250 2.0.0 Ok: queued as 4F2A1") with control characters and invalid
 * UTF-8 taken out, as every kept server string: after a success, what a user
 * quotes to the provider to trace the message. Kept with or without the
 * transcript, after ms_smtp_send() and ms_smtp_send_bulk() alike.
 *
 * Returns: (nullable): the line, or %NULL when the server did not answer
 *   the end of the last message (it failed earlier, or the connection
 *   dropped); valid until the next message
 */
const char *
ms_smtp_get_final_reply (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), NULL);

  return self->eom_code != 0 ? self->eom_line->str : NULL;
}

/**
 * ms_smtp_get_final_code:
 *
 * Returns: the code of ms_smtp_get_final_reply() (250), or 0 when the
 *   server did not answer the end of the last message
 */
int
ms_smtp_get_final_code (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), 0);

  return self->eom_code;
}

/**
 * ms_smtp_get_connection_messages:
 *
 * Returns: how many messages the server accepted on the connection open
 *   now; 0 on a new connection or when none is open. A blast compares it
 *   with a per-connection limit it has learnt.
 */
guint
ms_smtp_get_connection_messages (MsSmtp *self)
{
  g_return_val_if_fail (MS_IS_SMTP (self), 0);

  return self->conn_messages;
}

/**
 * ms_smtp_close:
 *
 * Ends the connection of a session used with ms_smtp_send_bulk() politely:
 * QUIT, and a brief wait for its answer. The next message opens a new
 * connection. Does nothing when no connection is open.
 */
void
ms_smtp_close (MsSmtp *self)
{
  g_return_if_fail (MS_IS_SMTP (self));

  if (self->bulk && self->bulk_open)
    bulk_close_full (self, TRUE);
  self->conn_messages = 0;
}
