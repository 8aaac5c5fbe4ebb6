/* ms-reply.c: turns SMTP replies and transport failures into a class and one sentence of advice
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "ms-error.h"
#include "ms-provider.h"
#include "ms-reply.h"

/* Work on at most this much of any input: a hostile server can send
 * megabytes, and nothing useful is that long. */
#define MAX_SCAN (64 * 1024)

/* A parsed "try again after" further away than this is garbage or hostile;
 * the rule's own wait is used instead. */
#define MAX_PARSED_WAIT (7 * 24 * 3600)

typedef enum {
  WAIT_BACKOFF = 0,   /* until = 0: the pacer picks an increasing backoff */
  WAIT_MINUTE,
  WAIT_TEN_MINUTES,
  WAIT_HOUR,
  WAIT_DAY,           /* daily quotas are counted over a rolling 24 h */
} Wait;

enum {
  F_NEW_CONNECTION = 1 << 0,
  F_PERMANENT      = 1 << 1,
  F_GMAIL          = 1 << 2,  /* only when the server is Gmail */
  F_OFFICE365      = 1 << 3,  /* only when the server is Microsoft 365 */
  F_WITH_AUTH      = 1 << 4,  /* only when the account logs in */
  F_WITHOUT_AUTH   = 1 << 5,  /* only when it does not */
  F_SESSION_LIMIT  = 1 << 6,  /* a per-connection message limit: a new connection at once */
  F_EHLO_NAME      = 1 << 7,  /* about the EHLO name: the advice names one that would work */
};

/*
 * One rule. The first rule that matches wins, so specific rules come before
 * general ones: quotas before "mailbox full" (both say "quota"), Gmail's
 * "Daily SMTP relay sending limit" (5.7.1) before "relaying denied" (also
 * 5.7.1), and every text rule before the fallbacks on the enhanced code.
 *
 * code:     0 any, 4 any 4xx, 5 any 5xx, otherwise the exact reply code.
 * enhanced: '|'-separated globs over the enhanced status code ("5.1.*",
 *           "5.7.7??"); NULL matches any code, or none.
 * any:      '|'-separated lower-case substrings, one of which must occur in
 *           the text; NULL = no condition.
 * also:     a second such list that must match as well.
 */
typedef struct {
  int           code;
  const char   *enhanced;
  const char   *any;
  const char   *also;
  MsReplyClass  klass;
  Wait          wait;
  guint         flags;
  const char   *advice;
} Rule;

#define DAILY_TERMS "quota|limit"

static const Rule rules[] = {
  /* ---- The recipient's mailbox is full: says "quota" but is not ours ---- */
  { 5, "5.2.2", NULL, NULL, MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, F_PERMANENT,
    N_("The recipient’s mailbox is full: the message is tried again a few times, then given up.") },
  { 4, "4.2.2", NULL, NULL, MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, 0,
    N_("The recipient’s mailbox is full for now: the message is tried again later.") },

  /* ---- Daily quotas: the account waits a (rolling) day ---- */
  { 0, NULL, "daily smtp relay|daily relay", NULL, MS_REPLY_CLASS_RATE_LIMITED, WAIT_DAY, 0,
    N_("The daily relay limit of this account is used up: sending resumes by itself after a day, and a "
       "lower “Messages per rolling day” keeps you under it.") },
  { 0, NULL, "daily", DAILY_TERMS, MS_REPLY_CLASS_RATE_LIMITED, WAIT_DAY, F_GMAIL,
    N_("Gmail’s daily sending limit (about 500 messages, or 2,000 with Google Workspace, counted over a "
       "rolling 24 hours) is used up: sending resumes by itself after a day, and a lower “Messages per "
       "rolling day” keeps you under it.") },
  { 0, NULL, "daily", DAILY_TERMS, MS_REPLY_CLASS_RATE_LIMITED, WAIT_DAY, F_OFFICE365,
    N_("Microsoft 365’s daily limit (10,000 recipients, counted over a rolling 24 hours) is used up: "
       "sending resumes by itself after a day, and a lower “Messages per rolling day” keeps you under it.") },
  { 0, NULL, "daily", DAILY_TERMS, MS_REPLY_CLASS_RATE_LIMITED, WAIT_DAY, 0,
    N_("The account’s daily sending limit is used up: sending resumes by itself after a day, and a lower "
       "“Messages per rolling day” keeps you under it.") },
  { 0, NULL, "submissionquotaexceeded", NULL, MS_REPLY_CLASS_RATE_LIMITED, WAIT_DAY, 0,
    N_("Microsoft 365’s daily limit (10,000 recipients, counted over a rolling 24 hours) is used up: "
       "sending resumes by itself after a day, and a lower “Messages per rolling day” keeps you under it.") },
  { 0, NULL, "refusequota", NULL, MS_REPLY_CLASS_RATE_LIMITED, WAIT_DAY, 0,
    N_("Outlook.com’s sending quota for this account is used up: sending resumes by itself after a day; "
       "Outlook.com is not meant for bulk mail.") },

  /* ---- Hourly: Microsoft's per-recipient receive limit ---- */
  { 0, "?.2.121|?.2.122", NULL, NULL, MS_REPLY_CLASS_RATE_LIMITED, WAIT_HOUR, 0,
    N_("The receiving side takes only so many messages an hour: sending waits an hour, then carries on.") },
  { 0, NULL, "per hour message receive limit|hourly message receive limit", NULL,
    MS_REPLY_CLASS_RATE_LIMITED, WAIT_HOUR, 0,
    N_("The receiving side takes only so many messages an hour: sending waits an hour, then carries on.") },

  /* ---- Short rate limits ---- */
  { 0, NULL, "submission rate", NULL, MS_REPLY_CLASS_RATE_LIMITED, WAIT_MINUTE, 0,
    N_("The server takes only so many messages a minute: sending pauses for a minute; set “Messages per "
       "minute” lower (Microsoft 365 allows 30).") },
  { 0, NULL, "thread limit|too many connections|too many concurrent|too many simultaneous|"
             "connection limit|concurrent connections", NULL,
    MS_REPLY_CLASS_RATE_LIMITED, WAIT_MINUTE, F_NEW_CONNECTION,
    N_("The server refuses this many connections at once: set “Connections at once” to 3 or fewer "
       "(the limit of Microsoft 365).") },
  { 0, NULL, "maximum sending rate|sending rate exceeded", NULL,
    MS_REPLY_CLASS_RATE_LIMITED, WAIT_MINUTE, 0,
    N_("The server’s maximum sending rate was exceeded: sending pauses briefly; set “Messages per minute” lower.") },
  { 0, NULL, "too many login|login attempts", NULL,
    MS_REPLY_CLASS_RATE_LIMITED, WAIT_TEN_MINUTES, 0,
    N_("The server saw too many logins in a short time: sending waits a few minutes and then keeps one "
       "connection for many messages; fewer “Connections at once” means fewer logins.") },
  { 0, NULL, "[tss04]", NULL, MS_REPLY_CLASS_RATE_LIMITED, WAIT_BACKOFF, 0,
    N_("Yahoo is deferring this mail because of its volume or recipients’ complaints: sending slows "
       "down and tries again later; send only to people who asked for it.") },

  /* ---- Spent session: the message is fine, the connection is not ----
   * OpenSMTPD: "452 4.5.3 Too many messages sent" (4.5.3 is also Gmail's
   * "too many recipients", so the words decide); Exim: "421 … too many
   * messages in this connection"; Stalwart: "452 4.4.5 Maximum number of
   * messages per session exceeded". Before the rate limits, which also say
   * "too many messages" ("421 4.7.0 Too many messages, try again in 2
   * seconds" is one: it names no connection). */
  /* A rate counted per connection is still a rate ("451 4.7.1 … per
   * connection rate limit"): a new connection at once would only meet it
   * again, so it waits like any rate limit. */
  { 0, NULL, "rate limit|ratelimit|rate-limit|rate exceeded|message rate|sending rate", NULL,
    MS_REPLY_CLASS_RATE_LIMITED, WAIT_BACKOFF, 0,
    N_("The server says this account is sending too fast: sending pauses and then carries on by itself; "
       "lower the sending limits in the account if this repeats.") },
  { 452, "4.5.3", "too many messages|too many mails|too many transactions", NULL,
    MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, F_NEW_CONNECTION | F_SESSION_LIMIT,
    N_("The server takes only so many messages on one connection: the message is sent again on a new connection.") },
  { 0, NULL, "per session|per connection|this session|this connection|one session|one connection",
             "message|transaction",
    MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, F_NEW_CONNECTION | F_SESSION_LIMIT,
    N_("The server takes only so many messages on one connection: the message is sent again on a new connection.") },

  /* ---- Too many recipients / message too big: before "limit exceeded" ---- */
  { 4, "4.5.3", NULL, NULL, MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, 0,
    N_("The server refused this many recipients for now: the message is tried again later.") },
  { 4, NULL, "too many recipients", NULL, MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, 0,
    N_("The server refused this many recipients for now: the message is tried again later.") },
  { 5, "5.3.4|5.2.3", NULL, NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The message is larger than the server accepts: make the attachments smaller or fewer.") },
  { 5, NULL, "message size|too large|too big|size limit|message length exceeds|exceeds fixed maximum", NULL,
    MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The message is larger than the server accepts: make the attachments smaller or fewer.") },

  /* ---- Other rate limits (Mailgun, mailcow, MailerSend, Gmail relay) ---- */
  { 0, NULL, "rate limit|ratelimit|rate-limit|request limit|relay limit|sending limit|limit exceeded|"
             "too many requests|too many messages|throttl|exceeded the rate|sending too fast", NULL,
    MS_REPLY_CLASS_RATE_LIMITED, WAIT_BACKOFF, 0,
    N_("The server says this account is sending too fast: sending pauses and then carries on by itself; "
       "lower the sending limits in the account if this repeats.") },

  /* ---- Authentication ---- */
  /* Passwords retired: Exchange Online once a tenant turns basic
   * authentication off, Google with 2-Step Verification on. */
  { 5, "5.7.30", NULL, NULL, MS_REPLY_CLASS_OAUTH2_REQUIRED, WAIT_BACKOFF, 0,
    N_("Microsoft 365 no longer accepts a password for this mailbox (basic authentication is off): switch "
       "“Authentication method” to OAuth2 with “OAuth2 provider” Microsoft and your organisation’s "
       "“OAuth2 client ID”, then sign in (mailshot-cli oauth2 sign-in, or Sign In in Account settings).") },
  { 5, NULL, "basic authentication is not supported|basic authentication is disabled|"
             "basic auth is disabled", NULL,
    MS_REPLY_CLASS_OAUTH2_REQUIRED, WAIT_BACKOFF, 0,
    N_("Microsoft 365 no longer accepts a password for this mailbox (basic authentication is off): switch "
       "“Authentication method” to OAuth2 with “OAuth2 provider” Microsoft and your organisation’s "
       "“OAuth2 client ID”, then sign in (mailshot-cli oauth2 sign-in, or Sign In in Account settings).") },
  { 0, NULL, "application-specific password|app password", NULL,
    MS_REPLY_CLASS_OAUTH2_REQUIRED, WAIT_BACKOFF, 0,
    N_("Google does not accept your normal password here: switch “Authentication method” to OAuth2 with "
       "“OAuth2 provider” Google and an “OAuth2 client ID”, then sign in (mailshot-cli oauth2 sign-in, "
       "or Sign In in Account settings); or create an app password in your Google account (Security, "
       "2-Step Verification, App passwords) and store it instead of your normal password.") },
  { 0, NULL, "smtpclientauthentication|smtp auth is disabled|smtp authentication is disabled", NULL,
    MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("SMTP AUTH is turned off for this mailbox: an administrator must enable “Authenticated SMTP” for it "
       "in the Microsoft 365 admin center.") },
  { 0, NULL, "security defaults", NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The Microsoft 365 security defaults block SMTP AUTH: an administrator must allow “Authenticated "
       "SMTP” for this mailbox.") },
  { 535, NULL, NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, F_GMAIL,
    N_("Gmail refused the user ID or password: check the user ID (your full address) and use an app "
       "password, which Gmail needs when 2-Step Verification is on.") },
  { 5, "5.7.8", NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, F_GMAIL,
    N_("Gmail refused the user ID or password: check the user ID (your full address) and use an app "
       "password, which Gmail needs when 2-Step Verification is on.") },
  { 535, NULL, NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, F_OFFICE365,
    N_("Microsoft 365 refused the login: check the user ID and password, and ask an administrator "
       "whether SMTP AUTH is enabled for this mailbox (basic authentication may be turned off).") },
  { 5, NULL, "must issue a starttls|starttls first|starttls required|encryption required|"
             "must use tls|requires tls|tls required", NULL,
    MS_REPLY_CLASS_TLS, WAIT_BACKOFF, 0,
    N_("The server wants an encrypted connection first: use port 587 (STARTTLS is used automatically) "
       "or port 465 with “Use SMTPS” on.") },
  { 538, NULL, NULL, NULL, MS_REPLY_CLASS_TLS, WAIT_BACKOFF, 0,
    N_("The server wants an encrypted connection first: use port 587 (STARTTLS is used automatically) "
       "or port 465 with “Use SMTPS” on.") },
  { 534, NULL, NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server finds this authentication method too weak: choose “Automatic” or another "
       "“Authentication method”.") },
  { 5, "5.7.9", NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server finds this authentication method too weak: choose “Automatic” or another "
       "“Authentication method”.") },
  { 535, NULL, NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server refused the user ID or password: check “User ID”, and store the password again.") },
  { 5, "5.7.8", NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server refused the user ID or password: check “User ID”, and store the password again.") },
  { 5, NULL, "authentication not enabled|auth not enabled|authentication not available|"
             "auth not available|authentication is disabled|auth command not", NULL,
    MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server offers no login here: turn off “Needs authentication” if it takes mail without one, "
       "or use port 587.") },
  { 5, NULL, "authentication required|authentication is required|must authenticate|not authenticated|"
             "authenticate first|auth required|login required", NULL,
    MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, F_WITHOUT_AUTH,
    N_("The server takes mail only after a login: turn on “Needs authentication” and store the user ID "
       "and password.") },
  { 5, NULL, "authentication required|authentication is required|must authenticate|not authenticated|"
             "authenticate first|auth required|login required", NULL,
    MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server wanted a login that did not succeed: check the user ID, the password and "
       "“Authentication method”.") },
  { 530, NULL, NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, F_WITHOUT_AUTH,
    N_("The server takes mail only after a login: turn on “Needs authentication” and store the user ID "
       "and password.") },
  { 530, NULL, NULL, NULL, MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server wanted a login that did not succeed: check the user ID, the password and "
       "“Authentication method”.") },
  { 5, NULL, "authentication unsuccessful|authentication failed|invalid credentials|bad credentials|"
             "username and password not accepted|incorrect password|wrong password", NULL,
    MS_REPLY_CLASS_AUTH_FAILED, WAIT_BACKOFF, 0,
    N_("The server refused the user ID or password: check “User ID”, and store the password again.") },

  /* ---- The From address ---- */
  { 0, NULL, "sendasdenied", NULL, MS_REPLY_CLASS_SENDER_NOT_ALLOWED, WAIT_BACKOFF, 0,
    N_("The From address is not the mailbox you log in with, and that mailbox may not send as it: use "
       "the mailbox’s own address, or have an administrator grant it “Send As” permission.") },
  { 5, "5.7.60", NULL, NULL, MS_REPLY_CLASS_SENDER_NOT_ALLOWED, WAIT_BACKOFF, 0,
    N_("The From address is not the mailbox you log in with, and that mailbox may not send as it: use "
       "the mailbox’s own address, or have an administrator grant it “Send As” permission.") },

  /* ---- Blocked accounts, tenants and networks: stop ---- */
  { 0, NULL, "[tss06]|permanently deferred", NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The receiving side has blocked mail from this account or its network: stop sending, and ask the "
       "provider (for Yahoo, its postmaster site) to lift the block first.") },
  { 5, "5.7.7??", NULL, NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("Microsoft has blocked this organisation from sending: stop, and have an administrator contact "
       "Microsoft support before sending again.") },
  { 0, NULL, "exceeded threshold|tenant has exceeded|tenant exceeded", NULL,
    MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("Microsoft has blocked this organisation from sending: stop, and have an administrator contact "
       "Microsoft support before sending again.") },
  { 5, NULL, "bad outbound sender|banned sender|banned from sending|account has been blocked|"
             "account is blocked|account has been suspended|account suspended", NULL,
    MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The provider has blocked this account from sending, usually after it sent mail seen as spam: "
       "stop, and ask the provider to unblock it.") },

  /* ---- This computer's network address: every message alike, whatever
   *      step the server says it at (Postfix's "Client host rejected") ---- */
  { 5, NULL, "client host rejected|client host blocked|client host [|your ip address|your ip |"
             "ip address is blocked|ip address has been blocked|ip is blocked|ip blocked|"
             "no smtp service|not accepting connections|refuses connections from|"
             "connections from your|not allowed to connect", NULL,
    MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The server refuses mail from this computer’s network address: no message can go from here "
       "until the provider lifts the block; ask it, or send through your provider’s own server.") },

  /* ---- Relaying: after the daily relay limits above ---- */
  { 5, NULL, "relay", "denied|not permitted|not allowed|prohibited|refused|unable|disallowed|"
                      "do not|don't|not authori|rejected",
    MS_REPLY_CLASS_RELAY_DENIED, WAIT_BACKOFF, F_WITHOUT_AUTH,
    N_("The server does not pass mail on for you: turn on “Needs authentication” with your user ID and "
       "password, or use your provider’s outgoing server.") },
  { 5, NULL, "relay", "denied|not permitted|not allowed|prohibited|refused|unable|disallowed|"
                      "do not|don't|not authori|rejected",
    MS_REPLY_CLASS_RELAY_DENIED, WAIT_BACKOFF, 0,
    N_("The server does not pass mail on for this account: use your provider’s outgoing (submission) "
       "server, and check that the From address belongs to the account.") },

  /* ---- More about the sender ---- */
  { 5, NULL, "dmarc|spf|dkim|unauthenticated email|unauthenticated mail|sender is unauthenticated", NULL,
    MS_REPLY_CLASS_SENDER_NOT_ALLOWED, WAIT_BACKOFF, 0,
    N_("The From address’s domain does not allow this server to send for it (SPF, DKIM or DMARC): send "
       "from an address whose domain lists this server.") },
  { 5, NULL, "not owned by user|sender address rejected|sender not allowed|sender rejected|"
             "not authorized to send|not authorised to send|not allowed to send|not permitted to send|"
             "sender verify failed|send as|send on behalf", NULL,
    MS_REPLY_CLASS_SENDER_NOT_ALLOWED, WAIT_BACKOFF, 0,
    N_("The server does not let this account send from this address: set “E-mail address” to an "
       "address that belongs to the account.") },
  { 5, "5.1.7|5.1.8", NULL, NULL, MS_REPLY_CLASS_SENDER_NOT_ALLOWED, WAIT_BACKOFF, 0,
    N_("The server refused the From address: check “E-mail address” in the account.") },

  /* ---- The recipient ---- */
  { 5, "5.1.*", NULL, NULL, MS_REPLY_CLASS_RECIPIENT_REJECTED, WAIT_BACKOFF, 0,
    N_("This recipient’s address does not exist or is mistyped: correct or remove it; the other recipients "
       "are not affected.") },
  { 5, "5.2.1", NULL, NULL, MS_REPLY_CLASS_RECIPIENT_REJECTED, WAIT_BACKOFF, 0,
    N_("This recipient’s mailbox is disabled and takes no mail: remove it from the list.") },
  /* ---- Reputation: continuing would make it worse ---- */
  { 5, NULL, "spam|blocklist|blacklist|block list|black list|reputation|spamhaus|listed at|listed in|"
             "blocked using", NULL,
    MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The server refused the mail as spam or because of the sender’s reputation: stop, and check the "
       "content and the sending address before sending more.") },

  /* ---- The EHLO name ---- */
  { 5, NULL, "helo|ehlo", NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, F_EHLO_NAME,
    N_("The server refused the name this computer introduced itself with: set “EHLO host name” to this "
       "computer’s full public name, or leave it blank.") },

  { 5, NULL, "mailbox full|mailbox is full|over quota|quota exceeded|exceeded storage|insufficient storage", NULL,
    MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, F_PERMANENT,
    N_("The recipient’s mailbox is full: the message is tried again a few times, then given up.") },
  { 4, NULL, "mailbox full|mailbox is full|over quota|quota exceeded", NULL,
    MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, 0,
    N_("The recipient’s mailbox is full for now: the message is tried again later.") },
  { 5, NULL, "user unknown|unknown user|no such user|does not exist|doesn't exist|not exist|no such recipient|"
             "recipient address rejected|invalid recipient|recipient rejected|recipient not found|"
             "mailbox unavailable|mailbox not found|no mailbox|address rejected|bad address|unrouteable|"
             "unroutable|invalid address|user not found|address not found|undeliverable", NULL,
    MS_REPLY_CLASS_RECIPIENT_REJECTED, WAIT_BACKOFF, 0,
    N_("This recipient’s address does not exist or is mistyped: correct or remove it; the other recipients "
       "are not affected.") },

  /* ---- Protocol trouble: every message would fail the same way ---- */
  { 500, NULL, NULL, NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The server did not understand the conversation: check “SMTP server” and “SMTP port” (this may not "
       "be a port for sending mail).") },
  { 502, NULL, NULL, NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The server did not understand the conversation: check “SMTP server” and “SMTP port” (this may not "
       "be a port for sending mail).") },
  { 503, NULL, NULL, NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The server did not understand the conversation: check “SMTP server” and “SMTP port” (this may not "
       "be a port for sending mail).") },
  { 504, NULL, NULL, NULL, MS_REPLY_CLASS_MISCONFIGURED, WAIT_BACKOFF, 0,
    N_("The server did not understand the conversation: check “SMTP server” and “SMTP port” (this may not "
       "be a port for sending mail).") },

  /* ---- Temporary, then the fallbacks ---- */
  { 4, NULL, "greylist|graylist|grey-list|gray-list", NULL, MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, 0,
    N_("The receiving side delays mail from new senders (greylisting): the message is tried again in a "
       "few minutes.") },
  { 421, NULL, NULL, NULL, MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, F_NEW_CONNECTION,
    N_("The server is busy or closing the connection: the message is tried again later on a new connection.") },
  { 4, NULL, NULL, NULL, MS_REPLY_CLASS_TEMPORARY, WAIT_BACKOFF, 0,
    N_("The server could not take the message right now: it is tried again later.") },
  { 5, "5.7.*", NULL, NULL, MS_REPLY_CLASS_RECIPIENT_REJECTED, WAIT_BACKOFF, 0,
    N_("The server’s policy refused this message: it is not sent to this recipient, and the server’s "
       "reply says why.") },
  { 5, NULL, NULL, NULL, MS_REPLY_CLASS_RECIPIENT_REJECTED, WAIT_BACKOFF, 0,
    N_("The server refused this message for good: it is not sent to this recipient, and the server’s "
       "reply says why.") },
};

/* ------------------------------------------------------------------------ */
/* Text clean-up                                                            */

static gboolean
parse_code_prefix (const char *p,
                   int        *code)
{
  if (!g_ascii_isdigit (p[0]) || !g_ascii_isdigit (p[1]) || !g_ascii_isdigit (p[2]))
    return FALSE;
  if (p[3] != '\0' && p[3] != ' ' && p[3] != '-' && p[3] != '\t')
    return FALSE;
  *code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
  return TRUE;
}

/* Reads an RFC 3463 enhanced status code ("5.4.5", "5.7.139") at @p.
 * Returns the bytes consumed, 0 when there is none. */
static gsize
parse_enhanced (const char *p,
                char        out[16])
{
  const char *q = p;
  guint n;

  if (*q != '2' && *q != '4' && *q != '5')
    return 0;
  q++;
  for (guint part = 0; part < 2; part++)
    {
      if (*q++ != '.')
        return 0;
      for (n = 0; g_ascii_isdigit (*q) && n < 4; n++)
        q++;
      if (n == 0 || n > 3)
        return 0;
    }
  if (*q != '\0' && !g_ascii_isspace (*q))
    return 0;

  memcpy (out, p, q - p);
  out[q - p] = '\0';
  return q - p;
}

/* Keeps at most @max bytes of valid UTF-8, cutting at a character boundary
 * and marking the cut. */
static void
truncate_utf8 (GString *s,
               gsize    max)
{
  static const char ellipsis[] = "…";
  gsize cut;

  if (s->len <= max)
    return;
  cut = max - (sizeof ellipsis - 1);
  while (cut > 0 && ((guchar) s->str[cut] & 0xC0) == 0x80)
    cut--;
  g_string_truncate (s, cut);
  g_string_append (s, ellipsis);
}

/* Turns any bytes into one line of valid UTF-8 without control characters
 * (a server must not be able to send terminal escapes to our CLI), at most
 * MS_REPLY_MAX_TEXT bytes. */
static char *
sanitize_len (const char *raw,
              gsize       len)
{
  g_autofree char *valid = NULL;
  GString *out;
  gboolean space = TRUE;   /* drops leading blanks */

  if (raw == NULL)
    return g_strdup ("");

  /* The common case, once per message in a blast ("250 2.0.0 Ok: queued as
   * …"): printable ASCII with single inner spaces is its own sanitized form,
   * and the walk below would cost more than the rest of the reply's path. */
  if (len > 0 && len <= MS_REPLY_MAX_TEXT && raw[0] != ' ' && raw[len - 1] != ' ')
    {
      gsize i;

      for (i = 0; i < len; i++)
        {
          guchar c = raw[i];

          if (c < 0x20 || c >= 0x7f || (c == ' ' && raw[i + 1] == ' '))
            break;
        }
      if (i == len)
        return g_strndup (raw, len);
    }

  valid = g_utf8_make_valid (raw, MIN (len, MAX_SCAN));
  out = g_string_sized_new (MIN (strlen (valid), MS_REPLY_MAX_TEXT + 8));

  for (const char *p = valid; *p && out->len <= MS_REPLY_MAX_TEXT; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0) || c == ' ')
        {
          if (!space)
            g_string_append_c (out, ' ');
          space = TRUE;
          continue;
        }
      g_string_append_unichar (out, c);
      space = FALSE;
    }

  while (out->len > 0 && out->str[out->len - 1] == ' ')
    g_string_truncate (out, out->len - 1);
  truncate_utf8 (out, MS_REPLY_MAX_TEXT);

  return g_string_free (out, FALSE);
}

static char *
sanitize_line (const char *raw)
{
  return sanitize_len (raw, raw != NULL ? strnlen (raw, MAX_SCAN) : 0);
}

/**
 * ms_reply_sanitize_text:
 * @raw: (nullable): bytes from a server, not necessarily UTF-8 or terminated
 * @len: the length of @raw, or -1 when it is NUL-terminated
 *
 * The sanitizer every server string goes through where it enters the
 * program (failure replies, the answer to the end of a message, the EHLO
 * capabilities): invalid UTF-8 replaced, control characters (ESC, BEL, C1)
 * turned into single spaces, at most %MS_REPLY_MAX_TEXT bytes.
 *
 * Returns: (transfer full): one line of valid UTF-8, never %NULL
 */
char *
ms_reply_sanitize_text (const char *raw,
                        gssize      len)
{
  if (raw == NULL)
    return g_strdup ("");
  return sanitize_len (raw, len < 0 ? strnlen (raw, MAX_SCAN) : (gsize) len);
}

/* Joins a (possibly multi-line) reply into one line, taking the reply code
 * and the enhanced code off every line: "550-5.4.5 Daily ...\r\n550 5.4.5 more". */
static char *
normalize_reply_text (const char  *raw,
                      int         *code,
                      char       **enhanced)
{
  g_autofree char *valid = NULL;
  g_auto(GStrv) lines = NULL;
  g_autoptr(GString) joined = g_string_new (NULL);

  if (raw == NULL)
    return g_strdup ("");

  valid = g_utf8_make_valid (raw, strnlen (raw, MAX_SCAN));
  lines = g_strsplit (valid, "\n", -1);

  for (guint i = 0; lines[i] != NULL && joined->len <= MS_REPLY_MAX_TEXT; i++)
    {
      char *line = g_strstrip (lines[i]);
      char buf[16];
      int c;
      gsize n;

      if (parse_code_prefix (line, &c) &&
          ((*code == 0 && c >= 200 && c < 600) || c == *code))
        {
          if (*code == 0)
            *code = c;
          line = g_strchug (line + 3 + (line[3] != '\0'));
        }

      n = parse_enhanced (line, buf);
      if (n > 0)
        {
          if (*enhanced == NULL)
            *enhanced = g_strdup (buf);
          line = g_strchug (line + n);
        }

      if (*line == '\0')
        continue;
      if (joined->len > 0)
        g_string_append_c (joined, ' ');
      g_string_append (joined, line);
    }

  return sanitize_line (joined->str);
}

/* ------------------------------------------------------------------------ */
/* Rule matching                                                            */

static gboolean
contains_n (const char *hay,
            const char *needle,
            gsize       n)
{
  for (const char *p = strchr (hay, needle[0]); p != NULL; p = strchr (p + 1, needle[0]))
    if (strncmp (p, needle, n) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
contains_any (const char *hay,
              const char *alternatives)
{
  const char *a = alternatives;

  for (;;)
    {
      const char *bar = strchr (a, '|');
      gsize n = bar ? (gsize) (bar - a) : strlen (a);

      if (n > 0 && contains_n (hay, a, n))
        return TRUE;
      if (bar == NULL)
        return FALSE;
      a = bar + 1;
    }
}

static gboolean
enhanced_matches (const char *globs,
                  const char *enhanced)
{
  const char *a = globs;

  if (enhanced == NULL)
    return FALSE;

  for (;;)
    {
      const char *bar = strchr (a, '|');
      gsize n = bar ? (gsize) (bar - a) : strlen (a);
      char glob[32];

      g_assert (n < sizeof glob);
      memcpy (glob, a, n);
      glob[n] = '\0';
      if (g_pattern_match_simple (glob, enhanced))
        return TRUE;
      if (bar == NULL)
        return FALSE;
      a = bar + 1;
    }
}

static gboolean
code_matches (int rule_code,
              int code)
{
  if (rule_code == 0)
    return TRUE;
  if (rule_code < 10)
    return code / 100 == rule_code;
  return code == rule_code;
}

static const Rule *
find_rule (int                   code,
           const char           *enhanced,
           const char           *lower,
           const MsReplyContext *context)
{
  MsProvider provider = ms_provider_detect (context ? context->server : NULL);

  for (guint i = 0; i < G_N_ELEMENTS (rules); i++)
    {
      const Rule *r = &rules[i];

      if (!code_matches (r->code, code))
        continue;
      if (r->enhanced != NULL && !enhanced_matches (r->enhanced, enhanced))
        continue;
      if (r->any != NULL && !contains_any (lower, r->any))
        continue;
      if (r->also != NULL && !contains_any (lower, r->also))
        continue;
      if ((r->flags & F_GMAIL) && provider != MS_PROVIDER_GMAIL)
        continue;
      if ((r->flags & F_OFFICE365) && provider != MS_PROVIDER_OFFICE365)
        continue;
      if ((r->flags & F_WITH_AUTH) && (context == NULL || !context->needs_auth))
        continue;
      if ((r->flags & F_WITHOUT_AUTH) && (context == NULL || context->needs_auth))
        continue;
      return r;
    }

  return NULL;
}

static gint64
wait_seconds (Wait wait)
{
  switch (wait)
    {
    case WAIT_MINUTE:      return 60;
    case WAIT_TEN_MINUTES: return 600;
    case WAIT_HOUR:        return 3600;
    case WAIT_DAY:         return 24 * 3600;
    case WAIT_BACKOFF:
    default:               return 0;
    }
}

static gint64
resolve_now (gint64 now)
{
  return now > 0 ? now : g_get_real_time () / G_USEC_PER_SEC;
}

/* The rules read the words; the step says whom a refusal is about. Before
 * MAIL no recipient has been named, so nothing said there can be about one:
 * a refused greeting (554 "no SMTP service here", a blocklisted address)
 * refuses the connection, and every message would fail the same way. A 421
 * anywhere closes the channel: the server is busy, the recipient is fine.
 * A rate limit stays a rate limit wherever it comes. */
static void
refine_for_step (MsReply              *reply,
                 const MsReplyContext *context)
{
  MsReplyTo to = context != NULL ? context->answering : MS_REPLY_TO_UNKNOWN;
  gboolean per_recipient = reply->klass == MS_REPLY_CLASS_RECIPIENT_REJECTED ||
                           reply->klass == MS_REPLY_CLASS_TEMPORARY;
  const char *advice = NULL;

  if (to == MS_REPLY_TO_UNKNOWN || reply->klass == MS_REPLY_CLASS_RATE_LIMITED)
    return;

  /* Before MAIL no message has gone on the connection: whatever the words,
   * no per-connection message limit can have been reached. */
  if (to == MS_REPLY_TO_GREETING || to == MS_REPLY_TO_EHLO || to == MS_REPLY_TO_STARTTLS ||
      to == MS_REPLY_TO_AUTH)
    reply->session_limit = FALSE;

  switch (to)
    {
    case MS_REPLY_TO_GREETING:
    case MS_REPLY_TO_EHLO:
    case MS_REPLY_TO_STARTTLS:
      /* A refused greeting is the end of that connection, whatever it says. */
      if (to == MS_REPLY_TO_GREETING)
        reply->new_connection = TRUE;
      if (reply->code / 100 == 4)
        {
          /* The session could not be set up right now: wait, retry on a
           * new connection, and pause when it keeps happening. */
          reply->klass = MS_REPLY_CLASS_CANNOT_CONNECT;
          reply->new_connection = TRUE;
          reply->permanent = FALSE;
          advice = context->single_message
                   ? N_("The server is not taking mail from this connection right now (it is busy or "
                        "closing down): try again later; the server’s reply may say why.")
                   : N_("The server is not taking mail from this connection right now (it is busy or "
                        "closing down): sending waits and tries again on a new connection, and pauses "
                        "if this keeps happening.");
        }
      else if (per_recipient || reply->klass == MS_REPLY_CLASS_RELAY_DENIED ||
               reply->klass == MS_REPLY_CLASS_SENDER_NOT_ALLOWED ||
               (to == MS_REPLY_TO_GREETING && reply->klass != MS_REPLY_CLASS_MISCONFIGURED))
        {
          reply->klass = MS_REPLY_CLASS_MISCONFIGURED;
          reply->new_connection = TRUE;
          reply->permanent = FALSE;
          advice = to == MS_REPLY_TO_GREETING
                   ? N_("The server refused the connection before any message was sent (it may block this "
                        "computer’s network address, or not take mail on this port): check “SMTP server” "
                        "and “SMTP port”, or ask the provider; the server’s reply may say why.")
                   : N_("The server refused this connection before any message was sent: check “SMTP "
                        "server”, “SMTP port” and “EHLO host name”, or ask the provider; the server’s "
                        "reply may say why.");
        }
      break;

    case MS_REPLY_TO_AUTH:
      if (reply->code / 100 == 4)
        {
          reply->klass = MS_REPLY_CLASS_CANNOT_CONNECT;
          reply->new_connection = TRUE;
          reply->permanent = FALSE;
          advice = context->single_message
                   ? N_("The server could not check the login right now: try again later; the server’s "
                        "reply may say why.")
                   : N_("The server could not check the login right now: sending waits and tries again on "
                        "a new connection, and pauses if this keeps happening.");
        }
      else if (per_recipient || reply->klass == MS_REPLY_CLASS_RELAY_DENIED ||
               reply->klass == MS_REPLY_CLASS_SENDER_NOT_ALLOWED)
        {
          reply->klass = MS_REPLY_CLASS_AUTH_FAILED;
          reply->permanent = FALSE;
          advice = N_("The server refused the login: check the user ID, the password and “Authentication "
                      "method”; the server’s reply may say why.");
        }
      break;

    case MS_REPLY_TO_MAIL:
      /* Only the sender, the account or this computer is named yet. */
      if (reply->code == 421)
        break;
      if (reply->klass == MS_REPLY_CLASS_RECIPIENT_REJECTED)
        {
          reply->klass = MS_REPLY_CLASS_MISCONFIGURED;
          advice = N_("The server refused to take mail from this account or this computer before any "
                      "recipient was named, so every message would fail alike: check “E-mail address” and "
                      "the login; the server’s reply says why.");
        }
      break;

    case MS_REPLY_TO_RCPT:
    case MS_REPLY_TO_DATA:
    case MS_REPLY_TO_END_OF_DATA:
    case MS_REPLY_TO_UNKNOWN:
    default:
      break;
    }

  /* The server closes the channel: a busy server, not this recipient. The
   * message goes again on a new connection, uncharged, and the batch pauses
   * when it keeps happening. */
  if (reply->code == 421 && reply->klass == MS_REPLY_CLASS_TEMPORARY && !reply->session_limit)
    {
      reply->klass = MS_REPLY_CLASS_CONNECTION_LOST;
      reply->new_connection = TRUE;
      advice = context->single_message
               ? N_("The server is busy or closing the connection: try again later; the server’s reply may "
                    "say why.")
               : N_("The server is busy or closing the connection: the message is tried again on a new "
                    "connection, and sending pauses if this keeps happening.");
    }

  if (advice != NULL)
    {
      g_free (reply->advice);
      reply->advice = g_strdup (_(advice));
    }
}

/* A refused EHLO name: the advice names a value that would work. "Leave it
 * blank" only when the refused name was the user's own, since a blank field
 * is what produced Mailshot's default. */
static void
ehlo_advice (MsReply              *reply,
             const MsReplyContext *context)
{
  const char *suggestion = context != NULL ? context->ehlo_suggestion : NULL;
  const char *sent = context != NULL ? context->ehlo_name : NULL;
  char *advice;

  if (context == NULL || sent == NULL)
    return;
  if (suggestion != NULL && g_ascii_strcasecmp (suggestion, sent) == 0)
    suggestion = NULL;

  if (!context->ehlo_default)
    advice = suggestion != NULL
             ? g_strdup_printf (_("The server refused the name this computer introduced itself with (“%s”): "
                                  "leave “EHLO host name” blank, and Mailshot says %s, this computer’s "
                                  "address; or set it to this computer’s full public name."), sent, suggestion)
             : g_strdup_printf (_("The server refused the name this computer introduced itself with (“%s”): "
                                  "leave “EHLO host name” blank, or set it to this computer’s full public "
                                  "name."), sent);
  else
    advice = suggestion != NULL
             ? g_strdup_printf (_("The server refused the name this computer introduced itself with (“%s”): "
                                  "set “EHLO host name” to %s, this computer’s address, or to its full public "
                                  "name (such as mail.example.org)."), sent, suggestion)
             : g_strdup_printf (_("The server refused the name this computer introduced itself with (“%s”): "
                                  "set “EHLO host name” to this computer’s full public name (such as "
                                  "mail.example.org), or ask the provider which name it expects."), sent);
  g_free (reply->advice);
  reply->advice = advice;
}

/**
 * ms_reply_classify:
 * @code: the SMTP reply code, or 0 when it is only in @text
 * @text: (nullable): the reply text, with or without the code; any bytes
 * @context: (nullable): the account's settings, for provider- and
 *   setting-specific advice
 * @now: unix seconds, or 0 for the current time
 *
 * Classifies a reply on its enhanced status code and its text together,
 * never on the first digit alone: Gmail's "550 5.4.5 Daily user sending
 * quota exceeded" is a rate limit, not a bad address.
 *
 * Returns: (transfer full): the classification; %MS_REPLY_CLASS_NONE for
 *   a 2xx or 3xx reply
 */
MsReply *
ms_reply_classify (int                   code,
                   const char           *text,
                   const MsReplyContext *context,
                   gint64                now)
{
  g_autoptr(MsReply) reply = g_new0 (MsReply, 1);
  g_autofree char *lower = NULL;
  const Rule *rule;

  now = resolve_now (now);
  if (code < 100 || code > 599)
    code = 0;

  reply->text = normalize_reply_text (text, &code, &reply->enhanced);
  reply->code = code;
  lower = g_ascii_strdown (reply->text, -1);

  if (code >= 200 && code < 400)
    {
      reply->klass = MS_REPLY_CLASS_NONE;
      reply->advice = g_strdup (_("The server accepted it: nothing needs to change."));
      return g_steal_pointer (&reply);
    }

  rule = find_rule (code, reply->enhanced, lower, context);
  if (rule == NULL)
    {
      /* No code at all: not a reply Mailshot understands; retrying is the
       * only safe thing to do. */
      reply->klass = MS_REPLY_CLASS_TEMPORARY;
      reply->advice = g_strdup (_("The server gave an answer Mailshot does not understand: the message is "
                                  "tried again later, and the server’s reply may say more."));
      return g_steal_pointer (&reply);
    }

  reply->klass = rule->klass;
  reply->advice = g_strdup (_(rule->advice));
  reply->permanent = (rule->flags & F_PERMANENT) != 0;
  /* 421 means the server is closing the channel, whatever else it says. */
  reply->new_connection = (rule->flags & F_NEW_CONNECTION) != 0 || code == 421;
  reply->session_limit = (rule->flags & F_SESSION_LIMIT) != 0;
  refine_for_step (reply, context);
  if (reply->session_limit)
    {
      /* "554 5.7.0 Too many messages in this connection": a 5xx that names
       * the connection's count is still that connection's limit (the blast
       * sends the message again at once on a new one when the refusing
       * connection had carried messages). Kept as a permanent failure
       * otherwise: on a fresh connection it cannot be that limit, and the
       * message gets a few tries, not endless ones. */
      reply->permanent = code >= 500;
      /* A test sends one message on a new connection and never again. */
      if (context != NULL && context->single_message)
        {
          g_free (reply->advice);
          reply->advice = g_strdup (_("The server says this connection has carried as many messages as it "
                                      "takes, though the test sent only one: its limit may count more than "
                                      "one connection; try again later, and the server’s reply may say more."));
        }
    }
  if ((rule->flags & F_EHLO_NAME) && reply->klass == MS_REPLY_CLASS_MISCONFIGURED)
    ehlo_advice (reply, context);

  if (reply->klass == MS_REPLY_CLASS_RATE_LIMITED)
    {
      gint64 parsed = ms_reply_parse_retry_after (reply->text, now);
      gint64 wait = wait_seconds (rule->wait);

      if (parsed > now && parsed - now <= MAX_PARSED_WAIT)
        reply->until = parsed;
      else if (wait > 0)
        reply->until = now + wait;
    }

  g_debug ("Reply %d %s classified as %s", code,
           reply->enhanced ? reply->enhanced : "-",
           ms_reply_class_to_string (reply->klass));

  return g_steal_pointer (&reply);
}

/* ------------------------------------------------------------------------ */
/* Transport failures                                                       */

static char *
transport_advice (MsTransportFailure    failure,
                  const MsReplyContext *context,
                  MsReplyClass         *klass)
{
  const char *server = context && context->server && *context->server ? context->server : NULL;
  int port = context ? context->port : 0;
  gboolean use_smtps = context ? context->use_smtps : FALSE;
  /* A test sends one message and never tries again: its advice says what to do, not what happens next. */
  gboolean single = context ? context->single_message : FALSE;
  g_autofree char *host = server ? sanitize_line (server) : NULL;

  switch (failure)
    {
    case MS_TRANSPORT_NONE:
      *klass = MS_REPLY_CLASS_NONE;
      return g_strdup (_("The server accepted it: nothing needs to change."));

    case MS_TRANSPORT_RESOLVE:
      *klass = MS_REPLY_CLASS_CANNOT_CONNECT;
      if (host == NULL)
        return g_strdup (_("No SMTP server is set: enter the server name in “SMTP server”."));
      return g_strdup_printf (_("The server name “%s” could not be found: check “SMTP server” for typos, "
                                "and that this computer is online."), host);

    case MS_TRANSPORT_REFUSED:
      *klass = MS_REPLY_CLASS_CANNOT_CONNECT;
      if (port > 0)
        return g_strdup_printf (_("Could not connect to port %d of the server: check “SMTP server” and "
                                  "“SMTP port”, or a firewall is in the way."), port);
      return g_strdup (_("Could not connect to the server: check “SMTP server” and “SMTP port”, or a "
                         "firewall is in the way."));

    case MS_TRANSPORT_CONNECT_TIMEOUT:
      /* libcurl hangs until the timeout when plain SMTP meets an implicit
       * TLS port, so this may well be the wrong-port case. */
      if (!use_smtps && port == 465)
        {
          *klass = MS_REPLY_CLASS_MISCONFIGURED;
          return g_strdup (_("The server did not greet us: port 465 usually expects implicit TLS. "
                             "Turn on “Use SMTPS”, or use port 587."));
        }
      *klass = MS_REPLY_CLASS_CANNOT_CONNECT;
      return g_strdup (_("The server did not answer in time: check “SMTP server” and “SMTP port”, or a "
                         "firewall is silently dropping the connection."));

    case MS_TRANSPORT_NO_GREETING:
      if (!use_smtps && port == 465)
        {
          *klass = MS_REPLY_CLASS_MISCONFIGURED;
          return g_strdup (_("The server did not greet us: port 465 usually expects implicit TLS. "
                             "Turn on “Use SMTPS”, or use port 587."));
        }
      if (!use_smtps)
        {
          *klass = MS_REPLY_CLASS_MISCONFIGURED;
          return g_strdup (_("The server did not greet us: this port may expect implicit TLS. "
                             "Turn on “Use SMTPS”, or use port 587."));
        }
      *klass = MS_REPLY_CLASS_TIMEOUT;
      return g_strdup (_("The server set up encryption but did not greet us: it may be overloaded; try "
                         "again later, or check “SMTP port”."));

    case MS_TRANSPORT_TLS_HANDSHAKE:
      if (use_smtps && port != 465)
        {
          *klass = MS_REPLY_CLASS_MISCONFIGURED;
          return g_strdup (_("This port does not speak implicit TLS: turn off “Use SMTPS” (STARTTLS is "
                             "used automatically), or use port 465."));
        }
      *klass = MS_REPLY_CLASS_TLS;
      if (use_smtps)
        return g_strdup (_("The encrypted connection could not be set up: if the server does not speak "
                           "implicit TLS on this port, turn off “Use SMTPS” and use port 587; otherwise "
                           "its encryption may be outdated."));
      return g_strdup (_("The STARTTLS handshake failed: the server’s encryption may be outdated; try port "
                         "465 with “Use SMTPS” on, or ask the provider."));

    case MS_TRANSPORT_TLS_CERTIFICATE:
      *klass = MS_REPLY_CLASS_TLS;
      return g_strdup (_("The server’s certificate is not trusted: check that “SMTP server” is the name on "
                         "its certificate, or, if you know this server, trust its certificate fingerprint "
                         "in “Trusted certificate”."));

    case MS_TRANSPORT_STARTTLS_MISSING:
      *klass = MS_REPLY_CLASS_TLS;
      return g_strdup (_("The server offered STARTTLS before but not now, so someone may be intercepting the "
                         "connection and nothing was sent; if the server really changed, reset “The server "
                         "has offered STARTTLS” (mailshot-cli config reset starttls-seen)."));

    case MS_TRANSPORT_STARTTLS_REQUIRED:
      *klass = MS_REPLY_CLASS_TLS;
      return g_strdup (_("The server offers no encryption, and the password is never sent unencrypted "
                         "without your consent: choose CRAM-MD5 as “Authentication method”, or turn on "
                         "“Send the password unencrypted” if you trust the network."));

    case MS_TRANSPORT_NO_AUTH_ADVERTISED:
      *klass = MS_REPLY_CLASS_AUTH_FAILED;
      return g_strdup (_("The server offers no login on this connection: turn off “Needs authentication” "
                         "if it takes mail without one, or check “SMTP port” (port 25 often offers none; "
                         "try 587)."));

    case MS_TRANSPORT_MECH_UNSUPPORTED:
      /* A setting that does not fit the server, not a refused login: the
       * password is not the problem, and no advice should send a user to
       * store it again. */
      *klass = MS_REPLY_CLASS_MISCONFIGURED;
      return g_strdup (_("The server does not offer the chosen authentication method: choose “Automatic” "
                         "or another “Authentication method”."));

    case MS_TRANSPORT_RESPONSE_TIMEOUT:
      *klass = MS_REPLY_CLASS_TIMEOUT;
      if (single)
        return g_strdup (_("The server stopped answering in the middle of the conversation: try again later, "
                           "and if this keeps happening, raise “Timeout in seconds”."));
      return g_strdup (_("The server stopped answering in the middle of the conversation: the message is "
                         "tried again, and if this keeps happening, raise “Timeout in seconds”."));

    case MS_TRANSPORT_CONNECTION_LOST:
      *klass = MS_REPLY_CLASS_CONNECTION_LOST;
      if (single)
        return g_strdup (_("The connection to the server was lost: try again; if this keeps happening, check "
                           "“SMTP port” and whether a firewall cuts the connection."));
      return g_strdup (_("The connection to the server was lost: the message is tried again on a new "
                         "connection."));

    case MS_TRANSPORT_REPLY_TOO_LONG:
      {
        /* Not a connection that broke: a server that does not stop talking.
         * Retried like a lost connection, so a batch pauses when it repeats. */
        MsReplyTo to = context ? context->answering : MS_REPLY_TO_UNKNOWN;
        g_autofree char *what = to != MS_REPLY_TO_UNKNOWN
                                ? g_strdup_printf (_("its answer to %s"), ms_reply_to_get_label (to))
                                : g_strdup (_("an answer"));

        *klass = MS_REPLY_CLASS_CONNECTION_LOST;
        if (single)
          return g_strdup_printf (_("The server %s did not end %s (it went on far longer than any real reply), so Mailshot gave up "
                                    "and closed the connection: check “SMTP server” and “SMTP port”; if "
                                    "they are right, the server is misbehaving: tell its administrator."),
                                  host != NULL ? host : "", what);
        return g_strdup_printf (_("The server %s did not end %s (it went on far longer than any real reply), so Mailshot gave up and "
                                  "closed the connection: the message is tried again on a new connection, "
                                  "and sending pauses if this keeps happening; tell the server’s "
                                  "administrator."),
                                host != NULL ? host : "", what);
      }

    case MS_TRANSPORT_OTHER:
    default:
      *klass = MS_REPLY_CLASS_TEMPORARY;
      if (single)
        return g_strdup (_("Something went wrong talking to the server: try again later; the details may "
                           "say more."));
      return g_strdup (_("Something went wrong talking to the server: the message is tried again later, "
                         "and the details may say more."));
    }
}

/**
 * ms_reply_classify_transport:
 * @failure: what went wrong below the SMTP replies
 * @detail: (nullable): a detail to keep as the text (libcurl's message)
 * @context: (nullable): the account's settings; the wrong-port cases need
 *   the port and "Use SMTPS"
 * @now: unix seconds, or 0 for the current time
 *
 * Returns: (transfer full): the classification
 */
MsReply *
ms_reply_classify_transport (MsTransportFailure    failure,
                             const char           *detail,
                             const MsReplyContext *context,
                             gint64                now)
{
  MsReply *reply = g_new0 (MsReply, 1);

  (void) now;   /* no transport failure carries a wait */

  reply->transport = failure;
  reply->text = sanitize_line (detail);
  reply->advice = transport_advice (failure, context, &reply->klass);
  reply->new_connection = reply->klass != MS_REPLY_CLASS_NONE;

  g_debug ("Transport failure %d classified as %s", failure,
           ms_reply_class_to_string (reply->klass));

  return reply;
}

MsReply *
ms_reply_copy (const MsReply *reply)
{
  MsReply *copy;

  g_return_val_if_fail (reply != NULL, NULL);

  copy = g_memdup2 (reply, sizeof *reply);
  copy->enhanced = g_strdup (reply->enhanced);
  copy->text = g_strdup (reply->text);
  copy->advice = g_strdup (reply->advice);
  return copy;
}

void
ms_reply_free (MsReply *reply)
{
  if (reply == NULL)
    return;
  g_free (reply->enhanced);
  g_free (reply->text);
  g_free (reply->advice);
  g_free (reply);
}

/**
 * ms_reply_to_get_label:
 * @answering: what a reply answered
 *
 * Returns: the step for people ("the greeting", "RCPT TO"), translated
 */
const char *
ms_reply_to_get_label (MsReplyTo answering)
{
  switch (answering)
    {
    case MS_REPLY_TO_GREETING:    return _("the greeting");
    case MS_REPLY_TO_EHLO:        return _("EHLO");
    case MS_REPLY_TO_STARTTLS:    return _("STARTTLS");
    case MS_REPLY_TO_AUTH:        return _("the login (AUTH)");
    case MS_REPLY_TO_MAIL:        return _("MAIL FROM");
    case MS_REPLY_TO_RCPT:        return _("RCPT TO");
    case MS_REPLY_TO_DATA:        return _("DATA");
    case MS_REPLY_TO_END_OF_DATA: return _("the end of the message");
    case MS_REPLY_TO_UNKNOWN:
    default:                      return _("a command");
    }
}

/* ------------------------------------------------------------------------ */
/* Classes                                                                  */

static const struct {
  MsReplyClass klass;
  const char  *nick;
  const char  *label;
  int          error;
  gboolean     stops;
} classes[] = {
  { MS_REPLY_CLASS_NONE,               "none",               N_("No problem"),                MS_ERROR_FAILED,        FALSE },
  { MS_REPLY_CLASS_RECIPIENT_REJECTED, "recipient-rejected", N_("Recipient rejected"),        MS_ERROR_RECIPIENT,     FALSE },
  { MS_REPLY_CLASS_TEMPORARY,          "temporary",          N_("Temporary failure"),         MS_ERROR_TEMPORARY,     FALSE },
  { MS_REPLY_CLASS_RATE_LIMITED,       "rate-limited",       N_("Rate limited"),              MS_ERROR_RATE_LIMITED,  FALSE },
  { MS_REPLY_CLASS_AUTH_FAILED,        "auth-failed",        N_("Authentication failed"),     MS_ERROR_AUTH,          TRUE },
  { MS_REPLY_CLASS_TLS,                "tls",                N_("Encryption problem"),        MS_ERROR_TLS,           TRUE },
  /* A server that cannot be reached fails every message the same way:
   * pausing keeps the list intact instead of churning through it, and
   * resuming retries. */
  { MS_REPLY_CLASS_CANNOT_CONNECT,     "cannot-connect",     N_("Cannot connect"),            MS_ERROR_CONNECT,       TRUE },
  { MS_REPLY_CLASS_TIMEOUT,            "timeout",            N_("Timed out"),                 MS_ERROR_TIMEOUT,       FALSE },
  { MS_REPLY_CLASS_RELAY_DENIED,       "relay-denied",       N_("Relaying denied"),           MS_ERROR_RELAY,         TRUE },
  { MS_REPLY_CLASS_SENDER_NOT_ALLOWED, "sender-not-allowed", N_("Sender not allowed"),        MS_ERROR_SENDER,        TRUE },
  { MS_REPLY_CLASS_MISCONFIGURED,      "misconfigured",      N_("Settings do not fit the server"), MS_ERROR_MISCONFIGURED, TRUE },
  { MS_REPLY_CLASS_CONNECTION_LOST,    "connection-lost",    N_("Connection lost"),           MS_ERROR_TEMPORARY,     FALSE },
  { MS_REPLY_CLASS_OAUTH2_REQUIRED,    "oauth2-required",    N_("Password sign-in refused: use OAuth2"), MS_ERROR_AUTH, TRUE },
};

static guint
class_index (MsReplyClass klass)
{
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    if (classes[i].klass == klass)
      return i;
  return 0;
}

/**
 * ms_reply_class_to_string:
 * @klass: a class
 *
 * Returns: a stable lower-case nick for the journal ("rate-limited")
 */
const char *
ms_reply_class_to_string (MsReplyClass klass)
{
  return classes[class_index (klass)].nick;
}

/**
 * ms_reply_class_from_string:
 * @str: (nullable): a nick from ms_reply_class_to_string()
 *
 * Returns: the class, or %MS_REPLY_CLASS_NONE for an unknown nick
 */
MsReplyClass
ms_reply_class_from_string (const char *str)
{
  if (str == NULL)
    return MS_REPLY_CLASS_NONE;
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    if (g_ascii_strcasecmp (classes[i].nick, str) == 0)
      return classes[i].klass;
  return MS_REPLY_CLASS_NONE;
}

/**
 * ms_reply_class_get_label:
 * @klass: a class
 *
 * Returns: a short translated label for people
 */
const char *
ms_reply_class_get_label (MsReplyClass klass)
{
  return _(classes[class_index (klass)].label);
}

/**
 * ms_reply_class_to_error_code:
 * @klass: a class
 *
 * Returns: the #MsError code for errors of this class
 */
int
ms_reply_class_to_error_code (MsReplyClass klass)
{
  return classes[class_index (klass)].error;
}

/**
 * ms_reply_class_stops_batch:
 * @klass: a class
 *
 * Whether a blast should pause rather than go on to the next recipient:
 * authentication, TLS, relaying, the sender, settings that do not fit the
 * server, and a server that cannot be reached fail every message alike.
 *
 * Returns: %TRUE when the batch should stop
 */
gboolean
ms_reply_class_stops_batch (MsReplyClass klass)
{
  return classes[class_index (klass)].stops;
}

GError *
ms_reply_to_error (const MsReply *reply)
{
  int code;

  g_return_val_if_fail (reply != NULL, NULL);

  code = ms_reply_class_to_error_code (reply->klass);
  switch (reply->transport)
    {
    case MS_TRANSPORT_RESOLVE:
      code = MS_ERROR_RESOLVE;
      break;
    case MS_TRANSPORT_STARTTLS_MISSING:
    case MS_TRANSPORT_STARTTLS_REQUIRED:
      code = MS_ERROR_INSECURE;
      break;
    default:
      break;
    }

  return g_error_new_literal (MS_ERROR, code, reply->advice ? reply->advice : "");
}

/* ------------------------------------------------------------------------ */
/* "Try again after <date>"                                                 */

static const char *
skip_blanks (const char *p)
{
  while (*p == ' ' || *p == '\t')
    p++;
  return p;
}

static gboolean
read_number (const char **pp,
             guint        min_digits,
             guint        max_digits,
             guint       *out)
{
  const char *p = *pp;
  guint v = 0, n = 0;

  while (g_ascii_isdigit (*p) && n < max_digits)
    {
      v = v * 10 + (guint) (*p - '0');
      p++;
      n++;
    }
  if (n < min_digits || g_ascii_isdigit (*p))
    return FALSE;
  *out = v;
  *pp = p;
  return TRUE;
}

/* Reads a run of letters (lower case, since the text was lowered). */
static gsize
read_word (const char *p,
           char        out[16])
{
  gsize n = 0;

  while (g_ascii_isalpha (p[n]))
    {
      if (n >= 15)
        return 0;
      out[n] = p[n];
      n++;
    }
  out[n] = '\0';
  return n;
}

static int
month_from_word (const char *w)
{
  static const char *const months[] = {
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
  };
  gsize len = strlen (w);

  if (len < 3)
    return 0;
  for (int i = 0; i < 12; i++)
    if (strncmp (months[i], w, 3) == 0 &&
        (len == 3 || strcmp (months[i], w) == 0 || (i == 8 && strcmp (w, "sept") == 0)))
      return i + 1;
  return 0;
}

static gboolean
is_weekday (const char *w)
{
  static const char *const days[] = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
  };
  gsize len = strlen (w);

  for (guint i = 0; i < G_N_ELEMENTS (days); i++)
    if (len >= 3 && strncmp (days[i], w, 3) == 0 && (len == 3 || strcmp (days[i], w) == 0))
      return TRUE;
  return FALSE;
}

/* A zone after a time: "Z", "+0100", "-07:00", "UTC", "MST", "+0000 UTC",
 * "+0000 (UTC)". Unknown or missing means UTC. */
static int
read_zone (const char **pp)
{
  static const struct { const char *name; int hours; } names[] = {
    { "ut", 0 }, { "utc", 0 }, { "gmt", 0 }, { "z", 0 },
    { "est", -5 }, { "edt", -4 }, { "cst", -6 }, { "cdt", -5 },
    { "mst", -7 }, { "mdt", -6 }, { "pst", -8 }, { "pdt", -7 },
    { "cet", 1 }, { "cest", 2 }, { "eet", 2 }, { "eest", 3 },
  };
  const char *p = skip_blanks (*pp);
  gboolean have_offset = FALSE;
  int offset = 0;
  char word[16];
  gsize n;

  if (*p == '+' || *p == '-')
    {
      const char *q = p + 1;
      guint hh, mm = 0;

      if (read_number (&q, 2, 2, &hh) || (q = p + 1, read_number (&q, 4, 4, &hh)))
        {
          if (q - p == 5)   /* "+0100" was read as one number */
            {
              mm = hh % 100;
              hh /= 100;
            }
          else if (*q == ':')
            {
              q++;
              if (!read_number (&q, 2, 2, &mm))
                return 0;
            }
          else
            {
              /* "+01" alone */
            }
          if (hh <= 14 && mm < 60)
            {
              offset = (int) (hh * 3600 + mm * 60) * (*p == '-' ? -1 : 1);
              have_offset = TRUE;
              p = skip_blanks (q);
            }
        }
    }

  if (*p == '(')
    p++;
  n = read_word (p, word);
  if (n > 0)
    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      if (strcmp (word, names[i].name) == 0)
        {
          if (!have_offset)
            offset = names[i].hours * 3600;
          have_offset = TRUE;
          p += n;
          if (*p == ')')
            p++;
          break;
        }

  *pp = p;
  return offset;
}

static gboolean
read_time (const char **pp,
           guint       *hh,
           guint       *mm,
           guint       *ss)
{
  const char *p = *pp;

  *ss = 0;
  if (!read_number (&p, 1, 2, hh) || *p != ':')
    return FALSE;
  p++;
  if (!read_number (&p, 2, 2, mm))
    return FALSE;
  if (*p == ':')
    {
      p++;
      if (!read_number (&p, 2, 2, ss))
        return FALSE;
      if (*p == '.' || *p == ',')   /* fractions of a second */
        {
          p++;
          while (g_ascii_isdigit (*p))
            p++;
        }
    }
  if (*hh > 23 || *mm > 59 || *ss > 60)
    return FALSE;
  if (*ss == 60)
    *ss = 59;
  *pp = p;
  return TRUE;
}

static gint64
make_time (guint year,
           guint month,
           guint day,
           guint hh,
           guint mm,
           guint ss,
           int   offset)
{
  g_autoptr(GTimeZone) tz = NULL;
  g_autoptr(GDateTime) dt = NULL;

  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31)
    return 0;
  tz = g_time_zone_new_offset (offset);
  if (tz == NULL)
    return 0;
  dt = g_date_time_new (tz, (int) year, (int) month, (int) day, (int) hh, (int) mm, (gdouble) ss);
  if (dt == NULL)
    return 0;
  return g_date_time_to_unix (dt);
}

/* Parses a date at @p (lower case): ISO 8601 ("2024-01-02T15:04:05Z",
 * "2024-01-02 15:04:05 UTC"), RFC 2822 ("Mon, 02 Jan 2006 15:04:05 -0700",
 * "... MST"), and Unix date(1) ("Mon Jan  2 15:04:05 MST 2006"). */
static gint64
parse_date (const char *p)
{
  guint year, month, day, hh, mm, ss;
  char word[16];
  gsize n;
  int offset;

  p = skip_blanks (p);

  /* ISO 8601 */
  {
    const char *q = p;

    if (read_number (&q, 4, 4, &year) && *q == '-' && (q++, read_number (&q, 1, 2, &month)) &&
        *q == '-' && (q++, read_number (&q, 1, 2, &day)) &&
        (*q == 't' || *q == ' ') && (q = skip_blanks (q + 1), read_time (&q, &hh, &mm, &ss)))
      {
        offset = read_zone (&q);
        return make_time (year, month, day, hh, mm, ss, offset);
      }
  }

  n = read_word (p, word);
  if (n > 0 && is_weekday (word))
    {
      p += n;
      if (*p == ',')
        p++;
      p = skip_blanks (p);
      n = read_word (p, word);
    }

  if (n > 0)
    {
      /* Unix date: "jan  2 15:04:05 mst 2006" */
      const char *q = p + n;

      month = (guint) month_from_word (word);
      if (month == 0)
        return 0;
      q = skip_blanks (q);
      if (!read_number (&q, 1, 2, &day))
        return 0;
      if (*q == ',')
        q++;
      q = skip_blanks (q);
      /* "jan 2, 2006 15:04:05" */
      {
        const char *r = q;

        if (read_number (&r, 4, 4, &year))
          {
            r = skip_blanks (r);
            if (!read_time (&r, &hh, &mm, &ss))
              return 0;
            offset = read_zone (&r);
            return make_time (year, month, day, hh, mm, ss, offset);
          }
      }
      if (!read_time (&q, &hh, &mm, &ss))
        return 0;
      offset = read_zone (&q);
      q = skip_blanks (q);
      if (!read_number (&q, 4, 4, &year))
        return 0;
      return make_time (year, month, day, hh, mm, ss, offset);
    }

  /* RFC 2822: "02 jan 2006 15:04:05 -0700", also "02-jan-2006" */
  if (!read_number (&p, 1, 2, &day))
    return 0;
  if (*p == '-')
    p++;
  p = skip_blanks (p);
  n = read_word (p, word);
  month = n > 0 ? (guint) month_from_word (word) : 0;
  if (month == 0)
    return 0;
  p += n;
  if (*p == '-')
    p++;
  p = skip_blanks (p);
  {
    const char *q = p;

    if (read_number (&q, 4, 4, &year))
      p = q;
    else if (q = p, read_number (&q, 2, 2, &year))
      {
        /* RFC 2822's obsolete two-digit year */
        year += year < 50 ? 2000 : 1900;
        p = q;
      }
    else
      return 0;
  }
  p = skip_blanks (p);
  if (!read_time (&p, &hh, &mm, &ss))
    return 0;
  offset = read_zone (&p);
  return make_time (year, month, day, hh, mm, ss, offset);
}

/* Parses "30 seconds", "5 min", "2h", "an hour" at @p. */
static gint64
parse_duration (const char *p)
{
  static const struct { const char *unit; gint64 seconds; } units[] = {
    { "s", 1 }, { "sec", 1 }, { "secs", 1 }, { "second", 1 }, { "seconds", 1 },
    { "m", 60 }, { "min", 60 }, { "mins", 60 }, { "minute", 60 }, { "minutes", 60 },
    { "h", 3600 }, { "hr", 3600 }, { "hrs", 3600 }, { "hour", 3600 }, { "hours", 3600 },
    { "d", 86400 }, { "day", 86400 }, { "days", 86400 },
  };
  char word[16];
  guint count;
  gsize n;

  p = skip_blanks (p);
  n = read_word (p, word);
  if (n > 0 && (strcmp (word, "a") == 0 || strcmp (word, "an") == 0))
    {
      count = 1;
      p += n;
    }
  else if (!read_number (&p, 1, 6, &count))
    return 0;

  p = skip_blanks (p);
  n = read_word (p, word);
  if (n == 0)
    return 0;
  for (guint i = 0; i < G_N_ELEMENTS (units); i++)
    if (strcmp (word, units[i].unit) == 0)
      return MIN ((gint64) count * units[i].seconds, (gint64) 30 * 86400);
  return 0;
}

enum { ANCHOR_DATE = 1 << 0, ANCHOR_DURATION = 1 << 1 };

static const struct {
  const char *word;
  guint       what;
} anchors[] = {
  { "after",    ANCHOR_DATE | ANCHOR_DURATION },
  { "until",    ANCHOR_DATE },
  { "till",     ANCHOR_DATE },
  { "again at", ANCHOR_DATE },
  { "retry at", ANCHOR_DATE },
  { "resets at", ANCHOR_DATE },
  { "again in", ANCHOR_DURATION },
  { "retry in", ANCHOR_DURATION },
  { "try in",   ANCHOR_DURATION },
  { "wait",     ANCHOR_DURATION },
};

/**
 * ms_reply_parse_retry_after:
 * @text: (nullable): a reply text, any bytes
 * @now: unix seconds, or 0 for the current time
 *
 * Finds a wait in a reply: "try again after <date>" (RFC 2822, ISO 8601,
 * Unix date and Go's time formats) or "try again in N seconds/minutes/hours".
 *
 * Returns: the unix time to wait until, or 0 when the text names none
 */
gint64
ms_reply_parse_retry_after (const char *text,
                            gint64      now)
{
  g_autofree char *lower = NULL;

  if (text == NULL)
    return 0;

  now = resolve_now (now);
  lower = g_ascii_strdown (text, strnlen (text, MAX_SCAN));

  for (const char *p = lower; *p; p++)
    {
      if (p > lower && g_ascii_isalnum (p[-1]))
        continue;

      for (guint i = 0; i < G_N_ELEMENTS (anchors); i++)
        {
          gsize n = strlen (anchors[i].word);
          const char *arg = p + n;
          gint64 t;

          if (strncmp (p, anchors[i].word, n) != 0 || g_ascii_isalnum (*arg))
            continue;
          if (*arg == ':')
            arg++;

          if ((anchors[i].what & ANCHOR_DATE) && (t = parse_date (arg)) > 0)
            return t;
          if ((anchors[i].what & ANCHOR_DURATION) && (t = parse_duration (arg)) > 0)
            return now + t;
        }
    }

  return 0;
}

/**
 * ms_smtp_outcome_new:
 * @id: the caller's id for the message
 *
 * Returns: (transfer full): an empty outcome: nothing went out yet
 */
MsSmtpOutcome *
ms_smtp_outcome_new (guint64 id)
{
  MsSmtpOutcome *outcome = g_new0 (MsSmtpOutcome, 1);

  outcome->id = id;
  return outcome;
}

void
ms_smtp_outcome_free (MsSmtpOutcome *outcome)
{
  if (outcome == NULL)
    return;
  g_free (outcome->text);
  g_free (outcome->end_text);
  g_free (outcome->detail);
  g_free (outcome->sign_in);
  g_free (outcome);
}

/**
 * ms_reply_classify_outcome:
 * @outcome: what became of one message
 * @context: (nullable): the session's context; its answering is ignored
 *
 * The refusal when there was one (it is what the failure is about, even
 * when the connection dropped afterwards), else the transport failure.
 *
 * Returns: (transfer full) (nullable): %NULL when the message was accepted
 */
MsReply *
ms_reply_classify_outcome (const MsSmtpOutcome  *outcome,
                           const MsReplyContext *context,
                           gint64                now)
{
  MsReplyContext local = { 0 };

  g_return_val_if_fail (outcome != NULL, NULL);

  if (outcome->accepted)
    return NULL;
  if (context != NULL)
    local = *context;
  if (outcome->code > 0)
    {
      MsReply *reply;

      local.answering = outcome->failed_at;
      reply = ms_reply_classify (outcome->code, outcome->text != NULL ? outcome->text : "", &local, now);
      /* The password advice does not apply to a sign-in that has expired
       * or was revoked: the user signs in again. */
      if (outcome->sign_in != NULL && reply->klass == MS_REPLY_CLASS_AUTH_FAILED)
        {
          g_free (reply->advice);
          reply->advice = g_strdup (outcome->sign_in);
        }
      return reply;
    }
  local.answering = outcome->stage;
  return ms_reply_classify_transport (outcome->transport != MS_TRANSPORT_NONE ? outcome->transport
                                                                              : MS_TRANSPORT_OTHER,
                                      outcome->detail, &local, now);
}
