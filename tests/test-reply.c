/* test-reply.c: every reference reply, the transport failures, hostile input and the class nicks
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <string.h>

#include "ms-core-enums.h"
#include "ms-error.h"
#include "ms-reply.h"

/* 2023-11-14 22:13:20 UTC */
#define NOW ((gint64) 1700000000)
#define DAY ((gint64) 86400)

#define BACKOFF (-1)   /* until must be 0: the pacer picks the wait */
#define NO_WAIT (-2)   /* not rate limited: until must be 0 */

typedef struct {
  const char  *name;
  int          code;
  const char  *text;
  const char  *server;
  gboolean     needs_auth;
  MsReplyClass klass;
  gint64       wait;            /* seconds after NOW, or BACKOFF / NO_WAIT */
  gboolean     new_connection;
  gboolean     permanent;
  const char  *advice_has;      /* a word the advice must contain, or NULL */
  const char  *advice_lacks;    /* a word it must not contain, or NULL */
} ReplyCase;

/* Every reply of shared/reference/smtp-replies.md, with its class as that file gives it. */
static const ReplyCase reference_cases[] = {
  /* Rate limits and quotas */
  { "gmail-daily-quota", 550, "5.4.5 Daily user sending quota exceeded.", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, "Gmail", NULL },
  { "gmail-daily-limit-multiline", 0,
    "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\r\n"
    "550-5.4.5 sending limits go to\r\n"
    "550 5.4.5  https://support.google.com/a/answer/166852 - gsmtp", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, "500", NULL },
  { "gmail-daily-no-provider", 550, "5.4.5 Daily user sending quota exceeded.", "mail.example.org", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, "day", "Gmail" },
  { "gmail-relay-daily", 550, "5.4.5 Daily SMTP relay limit exceeded for user", "smtp-relay.gmail.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, NULL, NULL },
  { "gmail-relay-daily-5.7.1", 550, "5.7.1 Daily SMTP relay sending limit exceeded for customer C01abc",
    "smtp-relay.gmail.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, NULL, NULL },
  { "gmail-relay-peak", 450, "4.2.1 Peak SMTP relay limit exceeded for customer C01abc", "smtp-relay.gmail.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, BACKOFF, FALSE, FALSE, NULL, NULL },
  { "gmail-login-attempts", 454, "4.7.0 Too many login attempts, please try again later.", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 600, FALSE, FALSE, "connection", NULL },
  { "gmail-too-many-recipients", 452, "4.5.3 Your message has too many recipients", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_TEMPORARY, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "gmail-temporary-system-problem", 421, "4.3.0 Temporary System Problem. Try again later (10).", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_TEMPORARY, NO_WAIT, TRUE, FALSE, NULL, NULL },
  { "m365-submission-rate", 421,
    "4.4.2 Message submission rate for this client has exceeded the configured limit", "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 60, TRUE, FALSE, "30", NULL },
  { "m365-sender-thread-limit", 432, "4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded", "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 60, TRUE, FALSE, "“Connections at once” to 3", NULL },
  { "m365-submission-quota", 554,
    "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a "
    "permanent exception with message [BeginDiagnosticData]", "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, "10,000", NULL },
  { "m365-daily-recipients", 550,
    "5.1.90 Your message can't be sent because you've reached your daily limit for message recipients",
    "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, NULL, NULL },
  { "m365-hourly-5.2.121", 550, "5.2.121 Recipient's per hour message receive limit from specific sender exceeded.",
    "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 3600, FALSE, FALSE, "hour", NULL },
  { "m365-hourly-5.2.122", 550, "5.2.122 Recipient's per hour message receive limit exceeded.",
    "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 3600, FALSE, FALSE, "hour", NULL },
  { "outlook-refuse-quota", 554,
    "5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; Failed to process message due to a permanent "
    "exception with message WASCL UserAction verdict is not None. Actual verdict is RefuseQuota. "
    "OutboundSpamException: WASCL UserAction verdict is not None.", "smtp-mail.outlook.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, NULL, NULL },
  { "yahoo-tss04", 421,
    "4.7.0 [TSS04] Messages from 192.0.2.1 temporarily deferred due to unexpected volume or user complaints - "
    "4.16.55.1; see https://postmaster.yahooinc.com/error-codes", "smtp.mail.yahoo.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, BACKOFF, TRUE, FALSE, NULL, NULL },
  { "ses-rate", 454, "Throttling failure: Maximum sending rate exceeded.", "email-smtp.eu-west-1.amazonaws.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 60, FALSE, FALSE, NULL, NULL },
  { "ses-daily", 454, "Throttling failure: Daily message quota exceeded.", "email-smtp.eu-west-1.amazonaws.com", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, NULL, NULL },
  /* Tue, 14 Nov 2023 16:30:00 MST is 23:30:00 UTC: 4600 s after NOW. */
  { "mailgun-try-again-after", 421,
    "Domain example.com is not allowed to send: request limit exceeded, try again after "
    "Tue, 14 Nov 2023 16:30:00 MST", "smtp.mailgun.org", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 4600, TRUE, FALSE, NULL, NULL },
  { "mailgun-iso-date", 421,
    "Domain example.com is not allowed to send: request limit exceeded, try again after 2023-11-14 23:30:00 UTC",
    "smtp.mailgun.org", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 4600, TRUE, FALSE, NULL, NULL },
  { "mailersend", 450, "Too many requests. Try again later.", "smtp.mailersend.net", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, BACKOFF, FALSE, FALSE, NULL, NULL },
  { "mailcow", 451, "4.7.1 Ratelimit \"user\" exceeded", "mail.example.org", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, BACKOFF, FALSE, FALSE, NULL, NULL },
  { "stalwart-per-session", 452, "4.4.5 Maximum number of messages per session exceeded.", "mail.example.org", TRUE,
    MS_REPLY_CLASS_TEMPORARY, NO_WAIT, TRUE, FALSE, "new connection", NULL },

  /* Configuration problems */
  { "gmail-bad-credentials", 535,
    "5.7.8 Username and Password not accepted. Learn more at\r\n"
    "535 5.7.8  https://support.google.com/mail/?p=BadCredentials a1-20020a05 - gsmtp", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_AUTH_FAILED, NO_WAIT, FALSE, FALSE, "app password", NULL },
  { "bad-credentials-elsewhere", 535, "5.7.8 Error: authentication failed: authentication failure",
    "mail.example.org", TRUE,
    MS_REPLY_CLASS_AUTH_FAILED, NO_WAIT, FALSE, FALSE, "password", "app password" },
  { "gmail-app-password-required", 534,
    "5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor",
    "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_OAUTH2_REQUIRED, NO_WAIT, FALSE, FALSE, "app password", NULL },
  /* The same, for the OAuth2 half of the advice and its keys. */
  { "gmail-app-password-oauth2", 534,
    "5.7.9 Application-specific password required. Learn more at https://support.google.com/mail/?p=InvalidSecondFactor",
    "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_OAUTH2_REQUIRED, NO_WAIT, FALSE, FALSE, "“Authentication method” to OAuth2", NULL },
  { "m365-basic-auth-retired", 550, "5.7.30 Basic authentication is not supported for Client Submission.",
    "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_OAUTH2_REQUIRED, NO_WAIT, FALSE, FALSE, "mailshot-cli oauth2 sign-in", "app password" },
  { "m365-basic-auth-retired-text", 535, "5.7.139 Authentication unsuccessful, basic authentication is disabled.",
    "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_OAUTH2_REQUIRED, NO_WAIT, FALSE, FALSE, "“OAuth2 client ID”", NULL },
  { "m365-smtp-auth-disabled", 535,
    "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
    "Visit https://aka.ms/smtp_auth_disabled for more information.", "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_AUTH_FAILED, NO_WAIT, FALSE, FALSE, "administrator must enable", NULL },
  { "m365-auth-unsuccessful", 535, "5.7.3 Authentication unsuccessful [AM0PR01CA0001.eurprd01.prod.exchangelabs.com]",
    "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_AUTH_FAILED, NO_WAIT, FALSE, FALSE, "SMTP AUTH", NULL },
  { "m365-send-as-denied", 554,
    "5.2.0 STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied; Failed to process "
    "message due to a permanent exception with message Cannot submit message.", "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_SENDER_NOT_ALLOWED, NO_WAIT, FALSE, FALSE, "Send As", NULL },
  { "relaying-denied", 550, "5.7.1 Relaying denied", "mx.example.org", FALSE,
    MS_REPLY_CLASS_RELAY_DENIED, NO_WAIT, FALSE, FALSE, "Needs authentication", NULL },
  { "relay-not-permitted", 550, "5.7.1 <someone@example.net>... relay not permitted", "mx.example.org", TRUE,
    MS_REPLY_CLASS_RELAY_DENIED, NO_WAIT, FALSE, FALSE, "server", NULL },
  { "yahoo-tss06", 553,
    "5.7.2 [TSS06] Messages from 192.0.2.1 permanently deferred; Retrying will NOT succeed. "
    "See https://postmaster.yahooinc.com/error-codes", "smtp.mail.yahoo.com", TRUE,
    MS_REPLY_CLASS_MISCONFIGURED, NO_WAIT, FALSE, FALSE, "stop", NULL },
  { "m365-tenant-threshold", 550, "5.7.705 Access denied, tenant has exceeded threshold", "smtp.office365.com", TRUE,
    MS_REPLY_CLASS_MISCONFIGURED, NO_WAIT, FALSE, FALSE, "stop", NULL },

  /* Recipient problems */
  { "user-unknown", 550,
    "5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table",
    "mail.example.org", TRUE,
    MS_REPLY_CLASS_RECIPIENT_REJECTED, NO_WAIT, FALSE, FALSE, "other recipients", NULL },
  { "does-not-exist", 550,
    "5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient's "
    "email address for typos or unnecessary spaces.", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_RECIPIENT_REJECTED, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "bad-address-syntax", 553, "5.1.3 The recipient address <foo@> is not a valid RFC 5321 address.",
    "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_RECIPIENT_REJECTED, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "mailbox-full", 552, "5.2.2 The email account that you tried to reach is over quota.", "smtp.gmail.com", TRUE,
    MS_REPLY_CLASS_TEMPORARY, NO_WAIT, FALSE, TRUE, "full", NULL },

  /* The classic advice and the fallbacks */
  { "classic-535", 535, "Authentication failed", "mail.example.org", TRUE,
    MS_REPLY_CLASS_AUTH_FAILED, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "classic-550-relay", 550, "Requested action not taken: relaying denied", "mail.example.org", FALSE,
    MS_REPLY_CLASS_RELAY_DENIED, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "421-at-connect", 421, "mail.example.org Service not available, closing transmission channel",
    "mail.example.org", TRUE,
    MS_REPLY_CLASS_TEMPORARY, NO_WAIT, TRUE, FALSE, "new connection", NULL },
  { "generic-4xx", 451, "4.3.0 Requested action aborted: local error in processing", "mail.example.org", TRUE,
    MS_REPLY_CLASS_TEMPORARY, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "generic-5xx", 554, "Transaction failed", "mail.example.org", TRUE,
    MS_REPLY_CLASS_RECIPIENT_REJECTED, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "greylisting-is-not-a-rate-limit", 451, "4.7.1 Greylisted, please try again in 300 seconds", "mail.example.org", TRUE,
    MS_REPLY_CLASS_TEMPORARY, NO_WAIT, FALSE, FALSE, "greylisting", NULL },
  { "message-too-big", 552, "5.3.4 Message size exceeds fixed maximum message size", "mail.example.org", TRUE,
    MS_REPLY_CLASS_MISCONFIGURED, NO_WAIT, FALSE, FALSE, "attachments", NULL },
  { "upper-case-text", 550, "5.4.5 DAILY USER SENDING QUOTA EXCEEDED", "SMTP.GMAIL.COM.", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, DAY, FALSE, FALSE, "Gmail", NULL },
  { "try-again-in-seconds", 421, "4.7.0 Rate limit exceeded, try again in 90 seconds", "mail.example.org", TRUE,
    MS_REPLY_CLASS_RATE_LIMITED, 90, TRUE, FALSE, NULL, NULL },
  { "auth-required-without-login", 530, "5.7.0 Authentication required", "mail.example.org", FALSE,
    MS_REPLY_CLASS_AUTH_FAILED, NO_WAIT, FALSE, FALSE, "Needs authentication", NULL },
  { "must-issue-starttls", 530, "5.7.0 Must issue a STARTTLS command first", "mail.example.org", TRUE,
    MS_REPLY_CLASS_TLS, NO_WAIT, FALSE, FALSE, "Use SMTPS", NULL },
  { "spam-blocklist", 554, "5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org",
    "mail.example.org", TRUE,
    MS_REPLY_CLASS_MISCONFIGURED, NO_WAIT, FALSE, FALSE, NULL, NULL },
  { "sender-not-owned", 553, "5.7.1 <ceo@example.com>: Sender address rejected: not owned by user me@example.org",
    "mail.example.org", TRUE,
    MS_REPLY_CLASS_SENDER_NOT_ALLOWED, NO_WAIT, FALSE, FALSE, "E-mail address", NULL },
};

static void
test_reference_reply (gconstpointer data)
{
  const ReplyCase *c = data;
  MsReplyContext context = { c->server, 587, FALSE, c->needs_auth };
  g_autoptr(MsReply) reply = ms_reply_classify (c->code, c->text, &context, NOW);

  g_assert_nonnull (reply);
  g_test_message ("%s: %s / %s", c->name, ms_reply_class_to_string (reply->klass), reply->advice);
  g_assert_cmpstr (ms_reply_class_to_string (reply->klass), ==, ms_reply_class_to_string (c->klass));
  g_assert_cmpint (reply->klass, ==, c->klass);

  if (c->wait >= 0)
    g_assert_cmpint (reply->until, ==, NOW + c->wait);
  else
    g_assert_cmpint (reply->until, ==, 0);

  g_assert_cmpint (reply->new_connection, ==, c->new_connection);
  g_assert_cmpint (reply->permanent, ==, c->permanent);
  g_assert_cmpint (reply->transport, ==, MS_TRANSPORT_NONE);

  g_assert_nonnull (reply->advice);
  g_assert_true (g_utf8_validate (reply->advice, -1, NULL));
  g_assert_cmpuint (strlen (reply->advice), >, 20);
  if (c->advice_has)
    g_assert_nonnull (strstr (reply->advice, c->advice_has));
  if (c->advice_lacks)
    g_assert_null (strstr (reply->advice, c->advice_lacks));

  /* The code and the enhanced code never stay in the text. */
  g_assert_cmpint (reply->code, >=, 400);
  g_assert_nonnull (reply->text);
  g_assert_false (g_str_has_prefix (reply->text, "5."));
  g_assert_false (g_str_has_prefix (reply->text, "4."));
  g_assert_null (strstr (reply->text, "\n"));
  g_assert_null (strstr (reply->text, "\r"));
}

static void
test_multiline_parsing (void)
{
  g_autoptr(MsReply) reply =
    ms_reply_classify (0,
                       "550-5.4.5 Daily user sending limit exceeded. For more information on Gmail\r\n"
                       "550-5.4.5 sending limits go to\r\n"
                       "550 5.4.5  https://support.google.com/a/answer/166852 - gsmtp",
                       NULL, NOW);

  g_assert_cmpint (reply->code, ==, 550);
  g_assert_cmpstr (reply->enhanced, ==, "5.4.5");
  g_assert_cmpstr (reply->text, ==,
                   "Daily user sending limit exceeded. For more information on Gmail sending limits go to "
                   "https://support.google.com/a/answer/166852 - gsmtp");
  g_assert_cmpint (reply->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (reply->until, ==, NOW + DAY);
}

/* 550 alone would be "recipient rejected"; the enhanced code and the text decide. */
static void
test_not_first_digit (void)
{
  g_autoptr(MsReply) quota = ms_reply_classify (550, "5.4.5 Daily user sending quota exceeded.", NULL, NOW);
  g_autoptr(MsReply) relay = ms_reply_classify (550, "5.7.1 Relaying denied", NULL, NOW);
  g_autoptr(MsReply) relay_limit = ms_reply_classify (550, "5.7.1 Daily SMTP relay sending limit exceeded", NULL, NOW);
  g_autoptr(MsReply) unknown = ms_reply_classify (550, "5.1.1 User unknown", NULL, NOW);
  g_autoptr(MsReply) ok = ms_reply_classify (250, "2.0.0 OK queued as 12345", NULL, NOW);

  g_assert_cmpint (quota->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (relay->klass, ==, MS_REPLY_CLASS_RELAY_DENIED);
  g_assert_cmpint (relay_limit->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (unknown->klass, ==, MS_REPLY_CLASS_RECIPIENT_REJECTED);
  g_assert_cmpint (ok->klass, ==, MS_REPLY_CLASS_NONE);
  g_assert_cmpint (ok->until, ==, 0);
}

/* A date that has passed, or absurdly far away, is not trusted: the rule's own wait applies. */
static void
test_untrusted_dates (void)
{
  g_autoptr(MsReply) past =
    ms_reply_classify (421, "Domain x is not allowed to send: request limit exceeded, try again after "
                            "Mon, 02 Jan 2006 15:04:05 MST", NULL, NOW);
  g_autoptr(MsReply) far =
    ms_reply_classify (550, "5.4.5 Daily user sending quota exceeded, try again after 2090-01-01 00:00:00 UTC",
                       NULL, NOW);

  g_assert_cmpint (past->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (past->until, ==, 0);
  g_assert_cmpint (far->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (far->until, ==, NOW + DAY);
}

static void
test_parse_retry_after (void)
{
  static const struct {
    const char *text;
    gint64      expected;   /* absolute, or NOW + n when relative */
  } cases[] = {
    /* Go's RFC 1123 with a zone name; MST is UTC-7 */
    { "request limit exceeded, try again after Mon, 02 Jan 2006 15:04:05 MST", 1136239445 },
    { "try again after Mon, 02 Jan 2006 15:04:05 -0700", 1136239445 },
    { "try again after 02 Jan 2006 22:04:05 GMT", 1136239445 },
    { "retry after Monday, 2 January 2006 22:04:05 +0000", 1136239445 },
    { "try again after 02 Jan 06 22:04:05 UT", 1136239445 },
    /* Go's String() format */
    { "try again after 2006-01-02 15:04:05.123456789 -0700 MST", 1136239445 },
    /* Unix date(1) */
    { "blocked until Mon Jan  2 15:04:05 MST 2006", 1136239445 },
    /* ISO 8601 */
    { "try again after 2024-01-02 15:04:05 UTC", 1704207845 },
    { "try again after 2024-01-02T15:04:05Z", 1704207845 },
    { "TRY AGAIN AFTER 2024-01-02T15:04:05Z.", 1704207845 },
    { "try again after 2024-01-02T15:04:05+01:00", 1704204245 },
    { "try again after 2024-01-02T15:04:05.250+0100", 1704204245 },
    { "try again after 2024-01-02 15:04:05", 1704207845 },
    { "quota resets at 2024-01-02T15:04:05Z", 1704207845 },
    { "Retry-After: 2024-01-02T15:04:05Z", 1704207845 },
    /* relative */
    { "try again in 30 seconds", NOW + 30 },
    { "Try again in 5 minutes.", NOW + 300 },
    { "please retry in 2 hours", NOW + 7200 },
    { "wait 10s and retry", NOW + 10 },
    { "try again in an hour", NOW + 3600 },
    { "retry after 120 seconds", NOW + 120 },
    { "try again after 1 day", NOW + DAY },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].text);
      g_assert_cmpint (ms_reply_parse_retry_after (cases[i].text, NOW), ==, cases[i].expected);
    }
}

static void
test_parse_retry_after_none (void)
{
  static const char *const texts[] = {
    "",
    "Try again later.",
    "Daily user sending quota exceeded.",
    "locked after 3 failures",
    "try again after Mon, 31 Feb 2006 15:04:05 GMT",   /* no such day */
    "try again after 2024-13-02T15:04:05Z",             /* no such month */
    "try again after 2024-01-02T25:04:05Z",
    "try again after Funday, 02 Jan 2006 15:04:05 GMT",
    "try again in 99999999999999999999 seconds",
    "try again after 1969-12-31 23:59:59 UTC",
    "try again in seconds",
    "afterwards, try in",
  };

  for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
    {
      g_test_message ("%s", texts[i]);
      g_assert_cmpint (ms_reply_parse_retry_after (texts[i], NOW), ==, 0);
    }
  g_assert_cmpint (ms_reply_parse_retry_after (NULL, NOW), ==, 0);
}

/* ---- Transport failures ---- */

static MsReply *
transport (MsTransportFailure failure,
           const char        *server,
           int                port,
           gboolean           use_smtps)
{
  MsReplyContext context = { server, port, use_smtps, TRUE };

  return ms_reply_classify_transport (failure, "libcurl said something", &context, NOW);
}

static void
test_transport_wrong_port (void)
{
  g_autoptr(MsReply) plain_on_465 = transport (MS_TRANSPORT_NO_GREETING, "mail.example.org", 465, FALSE);
  g_autoptr(MsReply) plain_timeout_465 = transport (MS_TRANSPORT_CONNECT_TIMEOUT, "mail.example.org", 465, FALSE);
  g_autoptr(MsReply) plain_other = transport (MS_TRANSPORT_NO_GREETING, "mail.example.org", 2465, FALSE);
  g_autoptr(MsReply) smtps_on_587 = transport (MS_TRANSPORT_TLS_HANDSHAKE, "mail.example.org", 587, TRUE);
  g_autoptr(MsReply) smtps_on_other = transport (MS_TRANSPORT_TLS_HANDSHAKE, "127.0.0.1", 40123, TRUE);

  g_assert_cmpint (plain_on_465->klass, ==, MS_REPLY_CLASS_MISCONFIGURED);
  g_assert_cmpstr (plain_on_465->advice, ==,
                   "The server did not greet us: port 465 usually expects implicit TLS. "
                   "Turn on “Use SMTPS”, or use port 587.");
  g_assert_cmpstr (plain_timeout_465->advice, ==, plain_on_465->advice);
  g_assert_cmpint (plain_timeout_465->klass, ==, MS_REPLY_CLASS_MISCONFIGURED);
  g_assert_nonnull (strstr (plain_other->advice, "“Use SMTPS”"));
  g_assert_cmpint (plain_other->klass, ==, MS_REPLY_CLASS_MISCONFIGURED);

  g_assert_cmpint (smtps_on_587->klass, ==, MS_REPLY_CLASS_MISCONFIGURED);
  g_assert_cmpstr (smtps_on_587->advice, ==,
                   "This port does not speak implicit TLS: turn off “Use SMTPS” (STARTTLS is used "
                   "automatically), or use port 465.");
  g_assert_cmpstr (smtps_on_other->advice, ==, smtps_on_587->advice);
  g_assert_true (ms_reply_class_stops_batch (smtps_on_587->klass));
  g_assert_cmpstr (smtps_on_587->text, ==, "libcurl said something");
  g_assert_cmpint (smtps_on_587->code, ==, 0);
  g_assert_null (smtps_on_587->enhanced);
}

static void
test_transport_failures (void)
{
  static const struct {
    MsTransportFailure failure;
    int                port;
    gboolean           use_smtps;
    MsReplyClass       klass;
    int                error;
    const char        *advice_has;
  } cases[] = {
    { MS_TRANSPORT_RESOLVE,            587, FALSE, MS_REPLY_CLASS_CANNOT_CONNECT,  MS_ERROR_RESOLVE,  "“mail.example.org”" },
    { MS_TRANSPORT_REFUSED,            587, FALSE, MS_REPLY_CLASS_CANNOT_CONNECT,  MS_ERROR_CONNECT,  "firewall" },
    { MS_TRANSPORT_CONNECT_TIMEOUT,    587, FALSE, MS_REPLY_CLASS_CANNOT_CONNECT,  MS_ERROR_CONNECT,  "“SMTP port”" },
    { MS_TRANSPORT_NO_GREETING,        465, TRUE,  MS_REPLY_CLASS_TIMEOUT,         MS_ERROR_TIMEOUT,  "greet" },
    { MS_TRANSPORT_TLS_HANDSHAKE,      587, FALSE, MS_REPLY_CLASS_TLS,             MS_ERROR_TLS,      "STARTTLS" },
    { MS_TRANSPORT_TLS_CERTIFICATE,    465, TRUE,  MS_REPLY_CLASS_TLS,             MS_ERROR_TLS,      "fingerprint" },
    { MS_TRANSPORT_STARTTLS_MISSING,   587, FALSE, MS_REPLY_CLASS_TLS,             MS_ERROR_INSECURE, "starttls-seen" },
    { MS_TRANSPORT_STARTTLS_REQUIRED,  25,  FALSE, MS_REPLY_CLASS_TLS,             MS_ERROR_INSECURE, "CRAM-MD5" },
    { MS_TRANSPORT_NO_AUTH_ADVERTISED, 25,  FALSE, MS_REPLY_CLASS_AUTH_FAILED,     MS_ERROR_AUTH,     "“Needs authentication”" },
    { MS_TRANSPORT_MECH_UNSUPPORTED,   587, FALSE, MS_REPLY_CLASS_MISCONFIGURED,   MS_ERROR_MISCONFIGURED, "“Automatic”" },
    { MS_TRANSPORT_RESPONSE_TIMEOUT,   587, FALSE, MS_REPLY_CLASS_TIMEOUT,         MS_ERROR_TIMEOUT,  "“Timeout in seconds”" },
    { MS_TRANSPORT_CONNECTION_LOST,    587, FALSE, MS_REPLY_CLASS_CONNECTION_LOST, MS_ERROR_TEMPORARY, "new connection" },
    { MS_TRANSPORT_OTHER,              587, FALSE, MS_REPLY_CLASS_TEMPORARY,       MS_ERROR_TEMPORARY, "again" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(MsReply) reply = transport (cases[i].failure, "mail.example.org", cases[i].port, cases[i].use_smtps);
      g_autoptr(GError) error = ms_reply_to_error (reply);

      g_test_message ("failure %d: %s", cases[i].failure, reply->advice);
      g_assert_cmpint (reply->klass, ==, cases[i].klass);
      g_assert_cmpint (reply->transport, ==, cases[i].failure);
      g_assert_nonnull (strstr (reply->advice, cases[i].advice_has));
      g_assert_true (reply->new_connection);
      g_assert_cmpint (reply->until, ==, 0);
      g_assert_error (error, MS_ERROR, cases[i].error);
      g_assert_cmpstr (error->message, ==, reply->advice);
    }

  {
    g_autoptr(MsReply) none = ms_reply_classify_transport (MS_TRANSPORT_NONE, NULL, NULL, NOW);
    g_autoptr(MsReply) nameless = ms_reply_classify_transport (MS_TRANSPORT_RESOLVE, NULL, NULL, NOW);

    g_assert_cmpint (none->klass, ==, MS_REPLY_CLASS_NONE);
    g_assert_cmpstr (none->text, ==, "");
    g_assert_cmpint (nameless->klass, ==, MS_REPLY_CLASS_CANNOT_CONNECT);
    g_assert_nonnull (strstr (nameless->advice, "“SMTP server”"));
  }
}

/* ---- Hostile input ---- */

static void
assert_sane (const MsReply *reply)
{
  g_assert_nonnull (reply);
  g_assert_nonnull (reply->text);
  g_assert_nonnull (reply->advice);
  g_assert_true (g_utf8_validate (reply->text, -1, NULL));
  g_assert_true (g_utf8_validate (reply->advice, -1, NULL));
  g_assert_cmpuint (strlen (reply->text), <=, MS_REPLY_MAX_TEXT);
  for (const char *p = reply->text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      g_assert_false (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0));
    }
  if (reply->enhanced)
    g_assert_cmpuint (strlen (reply->enhanced), <=, 9);
  g_assert_cmpint (reply->klass, >=, MS_REPLY_CLASS_NONE);
  g_assert_cmpint (reply->klass, <=, MS_REPLY_CLASS_CONNECTION_LOST);
}

static void
test_hostile_basic (void)
{
  static const int codes[] = { 0, -1, 1, 99, 199, 250, 421, 550, 600, 999, 99999, G_MININT, G_MAXINT };

  for (guint i = 0; i < G_N_ELEMENTS (codes); i++)
    {
      g_autoptr(MsReply) a = ms_reply_classify (codes[i], NULL, NULL, NOW);
      g_autoptr(MsReply) b = ms_reply_classify (codes[i], "", NULL, 0);
      g_autoptr(MsReply) c = ms_reply_classify (codes[i], "\r\n\r\n", NULL, NOW);
      g_autoptr(MsReply) d = ms_reply_classify (codes[i], "550", NULL, NOW);
      g_autoptr(MsReply) e = ms_reply_classify (codes[i], "5.", NULL, NOW);
      g_autoptr(MsReply) f = ms_reply_classify (codes[i], "5.1.1111111 x", NULL, NOW);

      assert_sane (a);
      assert_sane (b);
      assert_sane (c);
      assert_sane (d);
      assert_sane (e);
      assert_sane (f);
      g_assert_cmpint (a->code >= 0 && a->code < 600, ==, TRUE);
    }

  /* Not UTF-8, control characters and a terminal escape. */
  {
    g_autoptr(MsReply) r =
      ms_reply_classify (550, "5.4.5 \xff\xfe Daily\x1b[31m quota\x07 exceeded \xc3", NULL, NOW);

    assert_sane (r);
    g_assert_cmpint (r->klass, ==, MS_REPLY_CLASS_RATE_LIMITED);
    g_assert_null (strchr (r->text, '\x1b'));
  }

  /* Transport details are people's input too. */
  {
    MsReplyContext context = { "bad\xff\x1bhost", 465, FALSE, TRUE };
    g_autoptr(MsReply) r = ms_reply_classify_transport (MS_TRANSPORT_RESOLVE, "\xc0\xaf" "detail\x1b", &context, NOW);

    assert_sane (r);
    g_assert_null (strchr (r->advice, '\x1b'));
  }
}

static void
test_hostile_huge (void)
{
  gsize size = 4 * 1024 * 1024;
  g_autofree char *huge = g_malloc (size + 1);
  g_autofree char *accents = NULL;
  g_autoptr(GString) lines = g_string_new (NULL);
  gint64 start = g_get_monotonic_time ();

  /* Megabytes of one line, ending in something that would match. */
  memset (huge, 'A', size);
  huge[size] = '\0';
  memcpy (huge + size - 30, " daily quota exceeded ", 22);
  {
    g_autoptr(MsReply) r = ms_reply_classify (550, huge, NULL, NOW);
    assert_sane (r);
    g_assert_true (g_str_has_suffix (r->text, "…"));
  }
  g_assert_cmpint (ms_reply_parse_retry_after (huge, NOW), ==, 0);

  /* Megabytes of "after after after ..." must not be slow. */
  for (gsize i = 0; i + 6 < size; i += 6)
    memcpy (huge + i, "after ", 6);
  {
    g_autoptr(MsReply) r = ms_reply_classify (421, huge, NULL, NOW);
    assert_sane (r);
  }

  /* A multi-byte character across the cut. */
  {
    GString *s = g_string_new ("5.1.1 ");
    for (guint i = 0; i < 2000; i++)
      g_string_append (s, "é");
    accents = g_string_free (s, FALSE);
  }
  for (guint shift = 0; shift < 4; shift++)
    {
      g_autofree char *t = g_strdup_printf ("%.*s%s", shift, "xyz", accents);
      g_autoptr(MsReply) r = ms_reply_classify (550, t, NULL, NOW);

      assert_sane (r);
      g_assert_cmpint (r->klass, ==, MS_REPLY_CLASS_RECIPIENT_REJECTED);
    }

  /* Thousands of continuation lines. */
  for (guint i = 0; i < 100000; i++)
    g_string_append (lines, "550-5.7.1 relaying denied\r\n");
  {
    g_autoptr(MsReply) r = ms_reply_classify (0, lines->str, NULL, NOW);
    assert_sane (r);
    g_assert_cmpint (r->code, ==, 550);
    g_assert_cmpint (r->klass, ==, MS_REPLY_CLASS_RELAY_DENIED);
  }

  /* Bounded work: well under a second on any machine this runs on. */
#ifdef MS_TEST_SANITIZER
  g_test_message ("classified in %.1f s", (g_get_monotonic_time () - start) / 1e6);
  g_test_skip ("time not checked under the " MS_TEST_SANITIZER " sanitizer: it slows "
               "the parsers several times");
#else
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
#endif
}

/* Random bytes, and random sequences of the tokens the parsers look for. */
static void
test_hostile_random (void)
{
  static const char *const tokens[] = {
    "550", "550-", "421 ", "5.4.5", "4.7.0", "5.7.", ".", "-", ":", "+", " ", "\r\n", "\n", "after ", "until ",
    "again in ", "wait ", "Mon,", "Jan", "2006", "02", "15:04:05", "T", "Z", "MST", "+0100", "+01:", "(UTC)",
    "daily", "quota", "relay", "denied", "\xff", "\xc3", "\x1b", "é", "seconds", "an", "99999999999", "1970-",
  };

  for (guint round = 0; round < 20000; round++)
    {
      GString *s = g_string_new (NULL);
      guint n = g_test_rand_int_range (0, 40);
      g_autofree char *text = NULL;
      gint64 t;

      for (guint i = 0; i < n; i++)
        {
          if (g_test_rand_bit ())
            g_string_append (s, tokens[g_test_rand_int_range (0, G_N_ELEMENTS (tokens))]);
          else
            g_string_append_c (s, (char) g_test_rand_int_range (1, 256));
        }
      text = g_string_free (s, FALSE);

      {
        MsReplyContext context = { text, g_test_rand_int (), g_test_rand_bit (), g_test_rand_bit () };
        g_autoptr(MsReply) r = ms_reply_classify (g_test_rand_int_range (-1, 700), text, &context, NOW);
        g_autoptr(MsReply) copy = ms_reply_copy (r);
        g_autoptr(MsReply) tr = ms_reply_classify_transport (g_test_rand_int_range (0, MS_TRANSPORT_OTHER + 2),
                                                             text, &context, NOW);

        assert_sane (r);
        assert_sane (copy);
        assert_sane (tr);
        g_assert_cmpstr (copy->text, ==, r->text);
        if (r->klass == MS_REPLY_CLASS_RATE_LIMITED && r->until != 0)
          {
            g_assert_cmpint (r->until, >, NOW);
            g_assert_cmpint (r->until, <=, NOW + 7 * DAY);
          }
        else if (r->klass != MS_REPLY_CLASS_RATE_LIMITED)
          g_assert_cmpint (r->until, ==, 0);
      }

      t = ms_reply_parse_retry_after (text, NOW);
      g_assert_cmpint (t, >=, 0);
    }
}

/* ---- Classes ---- */

static void
test_class_nicks (void)
{
  static const struct {
    MsReplyClass klass;
    const char  *nick;
    gboolean     stops;
    int          error;
  } classes[] = {
    { MS_REPLY_CLASS_NONE,               "none",               FALSE, MS_ERROR_FAILED },
    { MS_REPLY_CLASS_RECIPIENT_REJECTED, "recipient-rejected", FALSE, MS_ERROR_RECIPIENT },
    { MS_REPLY_CLASS_TEMPORARY,          "temporary",          FALSE, MS_ERROR_TEMPORARY },
    { MS_REPLY_CLASS_RATE_LIMITED,       "rate-limited",       FALSE, MS_ERROR_RATE_LIMITED },
    { MS_REPLY_CLASS_AUTH_FAILED,        "auth-failed",        TRUE,  MS_ERROR_AUTH },
    { MS_REPLY_CLASS_TLS,                "tls",                TRUE,  MS_ERROR_TLS },
    { MS_REPLY_CLASS_CANNOT_CONNECT,     "cannot-connect",     TRUE,  MS_ERROR_CONNECT },
    { MS_REPLY_CLASS_TIMEOUT,            "timeout",            FALSE, MS_ERROR_TIMEOUT },
    { MS_REPLY_CLASS_RELAY_DENIED,       "relay-denied",       TRUE,  MS_ERROR_RELAY },
    { MS_REPLY_CLASS_SENDER_NOT_ALLOWED, "sender-not-allowed", TRUE,  MS_ERROR_SENDER },
    { MS_REPLY_CLASS_MISCONFIGURED,      "misconfigured",      TRUE,  MS_ERROR_MISCONFIGURED },
    { MS_REPLY_CLASS_CONNECTION_LOST,    "connection-lost",    FALSE, MS_ERROR_TEMPORARY },
    { MS_REPLY_CLASS_OAUTH2_REQUIRED,    "oauth2-required",    TRUE,  MS_ERROR_AUTH },
  };
  GEnumClass *enum_class = g_type_class_ref (MS_TYPE_REPLY_CLASS);

  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    {
      const char *nick = ms_reply_class_to_string (classes[i].klass);
      GEnumValue *value = g_enum_get_value (enum_class, classes[i].klass);

      g_assert_cmpstr (nick, ==, classes[i].nick);
      g_assert_cmpint (ms_reply_class_from_string (nick), ==, classes[i].klass);
      {
        g_autofree char *upper = g_ascii_strup (nick, -1);
        g_assert_cmpint (ms_reply_class_from_string (upper), ==, classes[i].klass);
      }
      /* The journal's nicks agree with the GType's. */
      g_assert_nonnull (value);
      g_assert_cmpstr (value->value_nick, ==, nick);
      g_assert_cmpint (ms_reply_class_stops_batch (classes[i].klass), ==, classes[i].stops);
      g_assert_cmpint (ms_reply_class_to_error_code (classes[i].klass), ==, classes[i].error);
      g_assert_nonnull (ms_reply_class_get_label (classes[i].klass));
      g_assert_cmpuint (strlen (ms_reply_class_get_label (classes[i].klass)), >, 0);
    }
  g_assert_cmpuint (enum_class->n_values, ==, G_N_ELEMENTS (classes));

  g_assert_cmpint (ms_reply_class_from_string ("RATE-LIMITED"), ==, MS_REPLY_CLASS_RATE_LIMITED);
  g_assert_cmpint (ms_reply_class_from_string ("no-such-class"), ==, MS_REPLY_CLASS_NONE);
  g_assert_cmpint (ms_reply_class_from_string (""), ==, MS_REPLY_CLASS_NONE);
  g_assert_cmpint (ms_reply_class_from_string (NULL), ==, MS_REPLY_CLASS_NONE);
  g_assert_cmpstr (ms_reply_class_to_string ((MsReplyClass) 1234), ==, "none");
  g_assert_cmpstr (ms_reply_class_get_label (MS_REPLY_CLASS_RATE_LIMITED), ==, "Rate limited");

  g_type_class_unref (enum_class);
}

static void
test_copy (void)
{
  MsReplyContext context = { "smtp.gmail.com", 465, TRUE, TRUE };
  g_autoptr(MsReply) reply = ms_reply_classify (550, "5.4.5 Daily user sending quota exceeded.", &context, NOW);
  g_autoptr(MsReply) copy = ms_reply_copy (reply);
  g_autoptr(GError) error = ms_reply_to_error (reply);

  g_assert_true (copy != reply);
  g_assert_cmpint (copy->klass, ==, reply->klass);
  g_assert_cmpint (copy->code, ==, 550);
  g_assert_cmpstr (copy->enhanced, ==, "5.4.5");
  g_assert_true (copy->enhanced != reply->enhanced);
  g_assert_cmpstr (copy->text, ==, "Daily user sending quota exceeded.");
  g_assert_cmpstr (copy->advice, ==, reply->advice);
  g_assert_cmpint (copy->until, ==, NOW + DAY);
  g_assert_error (error, MS_ERROR, MS_ERROR_RATE_LIMITED);

  ms_reply_free (NULL);
}

/* What a refusal is about depends on what it answered: before MAIL nothing
 * can be about a recipient, and a 421 anywhere is the server closing the
 * channel. Each case also reads differently without the step. */
typedef struct {
  int           code;
  const char   *text;
  MsReplyTo     answering;
  MsReplyClass  klass;
  gboolean      new_connection;
} StepCase;

static const StepCase step_cases[] = {
  /* The greeting refuses the connection, not a recipient. */
  { 554, "5.7.1 Go away", MS_REPLY_TO_GREETING, MS_REPLY_CLASS_MISCONFIGURED, TRUE },
  { 554, "5.7.1 Go away", MS_REPLY_TO_UNKNOWN, MS_REPLY_CLASS_RECIPIENT_REJECTED, FALSE },
  { 554, "No SMTP service here", MS_REPLY_TO_GREETING, MS_REPLY_CLASS_MISCONFIGURED, TRUE },
  { 421, "4.3.2 Service shutting down", MS_REPLY_TO_GREETING, MS_REPLY_CLASS_CANNOT_CONNECT, TRUE },
  { 450, "Try later", MS_REPLY_TO_GREETING, MS_REPLY_CLASS_CANNOT_CONNECT, TRUE },
  /* A limit stays a limit wherever it comes. */
  { 421, "4.7.0 Too many connections from your host", MS_REPLY_TO_GREETING, MS_REPLY_CLASS_RATE_LIMITED, TRUE },
  { 421, "4.4.2 Message submission rate for this client has exceeded the configured limit",
    MS_REPLY_TO_END_OF_DATA, MS_REPLY_CLASS_RATE_LIMITED, TRUE },
  /* 421 closes the channel at any step: retried uncharged, not deferred. */
  { 421, "4.3.0 Temporary System Problem. Try again later (10).", MS_REPLY_TO_MAIL,
    MS_REPLY_CLASS_CONNECTION_LOST, TRUE },
  { 421, "4.3.0 Temporary System Problem. Try again later (10).", MS_REPLY_TO_RCPT,
    MS_REPLY_CLASS_CONNECTION_LOST, TRUE },
  { 421, "4.3.0 Temporary System Problem. Try again later (10).", MS_REPLY_TO_END_OF_DATA,
    MS_REPLY_CLASS_CONNECTION_LOST, TRUE },
  { 421, "4.3.0 Temporary System Problem. Try again later (10).", MS_REPLY_TO_UNKNOWN,
    MS_REPLY_CLASS_TEMPORARY, TRUE },
  /* EHLO and MAIL name no recipient. */
  { 554, "5.7.1 Access denied", MS_REPLY_TO_EHLO, MS_REPLY_CLASS_MISCONFIGURED, TRUE },
  { 554, "5.7.1 Access denied", MS_REPLY_TO_MAIL, MS_REPLY_CLASS_MISCONFIGURED, FALSE },
  { 550, "5.1.1 Unknown", MS_REPLY_TO_MAIL, MS_REPLY_CLASS_MISCONFIGURED, FALSE },
  { 554, "5.7.1 Access denied", MS_REPLY_TO_RCPT, MS_REPLY_CLASS_RECIPIENT_REJECTED, FALSE },
  /* About this computer, even when said to RCPT (Postfix). */
  { 554, "5.7.1 <unknown[192.0.2.7]>: Client host rejected: Access denied", MS_REPLY_TO_RCPT,
    MS_REPLY_CLASS_MISCONFIGURED, FALSE },
  /* Relaying and a missing login stop the batch at RCPT and MAIL. */
  { 550, "5.7.1 <x@example.net>: Relay access denied", MS_REPLY_TO_RCPT, MS_REPLY_CLASS_RELAY_DENIED, FALSE },
  { 530, "5.7.0 Authentication required", MS_REPLY_TO_MAIL, MS_REPLY_CLASS_AUTH_FAILED, FALSE },
  /* The login step. */
  { 554, "5.7.0 Go away", MS_REPLY_TO_AUTH, MS_REPLY_CLASS_AUTH_FAILED, FALSE },
  { 454, "4.7.0 Temporary authentication failure", MS_REPLY_TO_AUTH, MS_REPLY_CLASS_CANNOT_CONNECT, TRUE },
  /* A recipient's own problems stay its own. */
  { 550, "5.1.1 User unknown", MS_REPLY_TO_RCPT, MS_REPLY_CLASS_RECIPIENT_REJECTED, FALSE },
  { 451, "4.3.0 Temporary local problem", MS_REPLY_TO_DATA, MS_REPLY_CLASS_TEMPORARY, FALSE },
};

static void
test_step_audit (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (step_cases); i++)
    {
      const StepCase *c = &step_cases[i];
      MsReplyContext context = { .server = "mail.example.org", .port = 587, .needs_auth = TRUE,
                                 .answering = c->answering };
      g_autoptr(MsReply) reply = ms_reply_classify (c->code, c->text, &context, 1700000000);

      g_test_message ("%d %s to %s: %s, %s", c->code, c->text, ms_reply_to_get_label (c->answering),
                      ms_reply_class_to_string (reply->klass), reply->advice);
      g_assert_cmpstr (ms_reply_class_to_string (reply->klass), ==, ms_reply_class_to_string (c->klass));
      g_assert_cmpint (reply->new_connection, ==, c->new_connection);
      g_assert_cmpint (reply->code, ==, c->code);
    }
}

/* Per-connection message limits (issue 9): the message is fine, the session is
 * spent, and it goes again at once on a new connection (no retry wait). Only
 * a reply after MAIL can say so: before it, no message has gone on the
 * connection. Look-alikes (too many recipients, a rate limit, a busy server
 * closing) must not read as one, or a blast would reconnect in a loop. */
typedef struct {
  const char  *name;
  int          code;
  const char  *text;
  MsReplyTo    answering;
  gboolean     session_limit;
  MsReplyClass klass;
  gboolean     new_connection;
  const char  *enhanced;
} SessionCase;

static const SessionCase session_cases[] = {
  /* OpenSMTPD, at MAIL once the limit is reached. */
  { "opensmtpd", 452, "4.5.3 Too many messages sent", MS_REPLY_TO_MAIL,
    TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, "4.5.3" },
  /* The same words at the end of a message (a pipelined window), or with
   * the step unknown: the words decide, 4.5.3 alone would be recipients. */
  { "452-4.5.3-end-of-data", 452, "4.5.3 Too many messages", MS_REPLY_TO_END_OF_DATA,
    TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, "4.5.3" },
  { "452-4.5.3-unknown-step", 452, "4.5.3 Too many messages", MS_REPLY_TO_UNKNOWN,
    TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, "4.5.3" },
  /* Exim's smtp_accept_max_per_connection: a 421 after messages stays a
   * session limit, not a lost connection (which would wait and count). */
  { "exim-after-messages", 421, "4.7.0 Too many messages in this connection", MS_REPLY_TO_MAIL,
    TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, "4.7.0" },
  { "exim-no-enhanced-code", 421, "mail.example.org too many messages in this connection", MS_REPLY_TO_MAIL,
    TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, NULL },
  { "stalwart-end-of-data", 452, "4.4.5 Maximum number of messages per session exceeded.",
    MS_REPLY_TO_END_OF_DATA, TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, "4.4.5" },
  /* A permanent code with the same words (OpenSMTPD-like wording): still
   * the connection's limit, marked permanent (few tries when it comes on a
   * fresh connection, where it cannot be that limit). */
  { "554-5.7.0-this-connection", 554, "5.7.0 Too many messages in this connection", MS_REPLY_TO_MAIL,
    TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, "5.7.0" },
  { "554-5.7.0-end-of-data", 554, "5.7.0 Too many messages in this connection", MS_REPLY_TO_END_OF_DATA,
    TRUE, MS_REPLY_CLASS_TEMPORARY, TRUE, "5.7.0" },

  /* The same words on a fresh connection: no message went on it, so no
   * limit can have been reached; the server is not taking mail now. */
  { "exim-greeting", 421, "4.7.0 Too many messages in this connection", MS_REPLY_TO_GREETING,
    FALSE, MS_REPLY_CLASS_CANNOT_CONNECT, TRUE, "4.7.0" },
  { "exim-ehlo", 421, "4.7.0 Too many messages in this connection", MS_REPLY_TO_EHLO,
    FALSE, MS_REPLY_CLASS_CANNOT_CONNECT, TRUE, "4.7.0" },
  { "stalwart-auth", 452, "4.4.5 Maximum number of messages per session exceeded.", MS_REPLY_TO_AUTH,
    FALSE, MS_REPLY_CLASS_CANNOT_CONNECT, TRUE, "4.4.5" },

  /* Look-alikes. */
  { "gmail-too-many-recipients", 452, "4.5.3 Your message has too many recipients", MS_REPLY_TO_RCPT,
    FALSE, MS_REPLY_CLASS_TEMPORARY, FALSE, "4.5.3" },
  { "too-many-messages-rate", 421, "4.7.0 Too many messages, try again in 2 seconds", MS_REPLY_TO_MAIL,
    FALSE, MS_REPLY_CLASS_RATE_LIMITED, TRUE, "4.7.0" },
  { "too-many-messages-today", 550, "5.7.1 Too many messages from this sender today", MS_REPLY_TO_MAIL,
    FALSE, MS_REPLY_CLASS_RATE_LIMITED, FALSE, "5.7.1" },
  /* A rate counted per connection: wait, do not reconnect at once. */
  { "per-connection-rate-limit", 451, "4.7.1 Too many messages, per connection rate limit exceeded",
    MS_REPLY_TO_MAIL, FALSE, MS_REPLY_CLASS_RATE_LIMITED, FALSE, "4.7.1" },
  { "per-connection-rate-limit-eom", 451, "4.7.1 Message rate limit exceeded for this connection",
    MS_REPLY_TO_END_OF_DATA, FALSE, MS_REPLY_CLASS_RATE_LIMITED, FALSE, "4.7.1" },
  { "too-many-connections", 421, "4.7.0 Too many connections from your IP", MS_REPLY_TO_GREETING,
    FALSE, MS_REPLY_CLASS_RATE_LIMITED, TRUE, "4.7.0" },
  { "closing-this-connection", 421, "4.3.2 Service shutting down, closing this connection", MS_REPLY_TO_MAIL,
    FALSE, MS_REPLY_CLASS_CONNECTION_LOST, TRUE, "4.3.2" },
  { "insufficient-storage", 452, "4.3.1 Insufficient system storage", MS_REPLY_TO_MAIL,
    FALSE, MS_REPLY_CLASS_TEMPORARY, FALSE, "4.3.1" },
  { "gmail-receiving-rate", 450,
    "4.2.1 The user you are trying to contact is receiving mail at a rate that prevents additional messages "
    "from being delivered.", MS_REPLY_TO_RCPT, FALSE, MS_REPLY_CLASS_TEMPORARY, FALSE, "4.2.1" },
};

static void
test_session_limit (gconstpointer data)
{
  const SessionCase *c = data;
  MsReplyContext context = { .server = "mail.example.org", .port = 587, .needs_auth = TRUE,
                             .answering = c->answering };
  g_autoptr(MsReply) reply = ms_reply_classify (c->code, c->text, &context, NOW);
  g_autoptr(MsReply) copy = ms_reply_copy (reply);

  g_test_message ("%d %s to %s: %s, session_limit %d, new_connection %d: %s", c->code, c->text,
                  ms_reply_to_get_label (c->answering), ms_reply_class_to_string (reply->klass),
                  reply->session_limit, reply->new_connection, reply->advice);
  g_assert_cmpint (reply->session_limit, ==, c->session_limit);
  g_assert_cmpstr (ms_reply_class_to_string (reply->klass), ==, ms_reply_class_to_string (c->klass));
  g_assert_cmpint (reply->new_connection, ==, c->new_connection);
  g_assert_cmpint (reply->code, ==, c->code);
  g_assert_cmpstr (reply->enhanced, ==, c->enhanced);
  if (c->session_limit)
    {
      /* At once, on a new connection: no wait, nothing for the pacer. */
      g_assert_cmpint (reply->until, ==, 0);
      g_assert_cmpint (reply->permanent, ==, c->code >= 500);
      g_assert_nonnull (strstr (reply->advice, "new connection"));
    }

  /* A test sends one message and never resends it: no promise of a new
   * connection in its advice. */
  if (c->session_limit)
    {
      MsReplyContext test = context;
      g_autoptr(MsReply) in_test = NULL;

      test.single_message = TRUE;
      in_test = ms_reply_classify (c->code, c->text, &test, NOW);
      g_test_message ("in a test: %s", in_test->advice);
      g_assert_true (in_test->session_limit);
      g_assert_null (strstr (in_test->advice, "sent again"));
      g_assert_null (strstr (in_test->advice, "new connection"));
    }
  g_assert_cmpint (copy->session_limit, ==, reply->session_limit);
  g_assert_cmpint (copy->new_connection, ==, reply->new_connection);
}

/* A test sends one message and never retries: its advice must not say
 * "the message is tried again". */
static void
test_single_message_advice (void)
{
  static const MsTransportFailure failures[] = {
    MS_TRANSPORT_REPLY_TOO_LONG, MS_TRANSPORT_RESPONSE_TIMEOUT, MS_TRANSPORT_CONNECTION_LOST, MS_TRANSPORT_OTHER,
  };

  for (guint i = 0; i < G_N_ELEMENTS (failures); i++)
    {
      MsReplyContext blast = { .server = "mail.example.org", .port = 587, .answering = MS_REPLY_TO_EHLO };
      MsReplyContext test = blast;
      g_autoptr(MsReply) in_blast = NULL;
      g_autoptr(MsReply) in_test = NULL;

      test.single_message = TRUE;
      in_blast = ms_reply_classify_transport (failures[i], NULL, &blast, 0);
      in_test = ms_reply_classify_transport (failures[i], NULL, &test, 0);
      g_test_message ("%d: %s | %s", failures[i], in_blast->advice, in_test->advice);
      g_assert_nonnull (strstr (in_blast->advice, "tried again"));
      g_assert_null (strstr (in_test->advice, "tried again"));
      g_assert_null (strstr (in_test->advice, "new connection"));
      g_assert_cmpint (in_test->klass, ==, in_blast->klass);
    }

  {
    MsReplyContext test = { .server = "mail.example.org", .port = 587, .answering = MS_REPLY_TO_EHLO,
                            .single_message = TRUE };
    g_autoptr(MsReply) reply = ms_reply_classify_transport (MS_TRANSPORT_REPLY_TOO_LONG, NULL, &test, 0);

    /* Names the server and the step. */
    g_assert_nonnull (strstr (reply->advice, "mail.example.org"));
    g_assert_nonnull (strstr (reply->advice, "EHLO"));
  }
}

/* The one sanitizer every kept server string goes through. */
static void
test_sanitize_text (void)
{
  static const char raw[] = "250 Ok \x1b[31mred\x1b[0m \x1b]0;title\x07 \xc2\x9b c1 \xff\xfe bad\rcr\0after";
  g_autofree char *clean = ms_reply_sanitize_text (raw, sizeof raw - 1);
  g_autofree char *huge_raw = g_strnfill (100000, 'x');
  g_autofree char *huge = ms_reply_sanitize_text (huge_raw, -1);

  g_test_message ("%s", clean);
  g_assert_true (g_utf8_validate (clean, -1, NULL));
  for (const char *p = clean; *p != '\0'; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      g_assert_false (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0));
    }
  g_assert_true (g_str_has_prefix (clean, "250 Ok"));
  g_assert_nonnull (strstr (clean, "after"));
  g_assert_cmpuint (strlen (huge), <=, MS_REPLY_MAX_TEXT);
  g_free (ms_reply_sanitize_text (NULL, -1));
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (reference_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mailshot/reply/reference/%s", reference_cases[i].name);
      g_test_add_data_func (path, &reference_cases[i], test_reference_reply);
    }
  g_test_add_func ("/mailshot/reply/multiline", test_multiline_parsing);
  g_test_add_func ("/mailshot/reply/not-first-digit", test_not_first_digit);
  g_test_add_func ("/mailshot/reply/untrusted-dates", test_untrusted_dates);
  g_test_add_func ("/mailshot/reply/retry-after", test_parse_retry_after);
  g_test_add_func ("/mailshot/reply/retry-after-none", test_parse_retry_after_none);
  g_test_add_func ("/mailshot/reply/transport-wrong-port", test_transport_wrong_port);
  g_test_add_func ("/mailshot/reply/transport", test_transport_failures);
  g_test_add_func ("/mailshot/reply/hostile-basic", test_hostile_basic);
  g_test_add_func ("/mailshot/reply/hostile-huge", test_hostile_huge);
  g_test_add_func ("/mailshot/reply/hostile-random", test_hostile_random);
  g_test_add_func ("/mailshot/reply/class-nicks", test_class_nicks);
  g_test_add_func ("/mailshot/reply/copy", test_copy);
  g_test_add_func ("/mailshot/reply/step-audit", test_step_audit);
  g_test_add_func ("/mailshot/reply/single-message-advice", test_single_message_advice);
  g_test_add_func ("/mailshot/reply/sanitize-text", test_sanitize_text);
  for (guint i = 0; i < G_N_ELEMENTS (session_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/mailshot/reply/session-limit/%s", session_cases[i].name);

      g_test_add_data_func (path, &session_cases[i], test_session_limit);
    }

  return g_test_run ();
}
