/* ms-provider.c: recognises Gmail and Microsoft 365 and knows their rules and limits
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "ms-provider.h"

/* A host matches a domain when it is the domain or a name below it, so that
 * "smtp.gmail.com" is Gmail but "notgmail.com" is not. */
static const struct {
  const char *domain;
  MsProvider  provider;
} provider_domains[] = {
  { "gmail.com",       MS_PROVIDER_GMAIL },      /* smtp., smtp-relay. */
  { "googlemail.com",  MS_PROVIDER_GMAIL },
  { "l.google.com",    MS_PROVIDER_GMAIL },      /* aspmx.l., altN.aspmx.l., gmail-smtp-in.l. */
  { "smtp.google.com", MS_PROVIDER_GMAIL },
  { "office365.com",   MS_PROVIDER_OFFICE365 },  /* smtp., outlook. */
  { "outlook.com",     MS_PROVIDER_OFFICE365 },  /* smtp-mail., *.mail.protection. */
};

static gboolean
host_in_domain (const char *host,
                const char *domain)
{
  size_t hl = strlen (host);
  size_t dl = strlen (domain);

  if (hl == dl)
    return strcmp (host, domain) == 0;
  if (hl > dl)
    return host[hl - dl - 1] == '.' && strcmp (host + hl - dl, domain) == 0;
  return FALSE;
}

/**
 * ms_provider_detect:
 * @server: (nullable): the SMTP server host name
 *
 * Recognises a provider by its host name, ignoring case, surrounding blanks
 * and a trailing dot.
 *
 * Returns: the provider, or %MS_PROVIDER_OTHER
 */
MsProvider
ms_provider_detect (const char *server)
{
  g_autofree char *host = NULL;
  size_t len;

  if (server == NULL)
    return MS_PROVIDER_OTHER;

  host = g_ascii_strdown (server, -1);
  g_strstrip (host);
  len = strlen (host);
  while (len > 0 && host[len - 1] == '.')
    host[--len] = '\0';
  if (len == 0)
    return MS_PROVIDER_OTHER;

  for (guint i = 0; i < G_N_ELEMENTS (provider_domains); i++)
    if (host_in_domain (host, provider_domains[i].domain))
      return provider_domains[i].provider;

  return MS_PROVIDER_OTHER;
}

/**
 * ms_provider_get_name:
 * @provider: a provider
 *
 * Returns: the provider's brand name, or a translated "Other"
 */
const char *
ms_provider_get_name (MsProvider provider)
{
  switch (provider)
    {
    case MS_PROVIDER_GMAIL:
      return "Gmail";
    case MS_PROVIDER_OFFICE365:
      return "Microsoft 365";
    case MS_PROVIDER_OTHER:
    default:
      return _("Other");
    }
}

char **
ms_provider_get_hints (const char *server,
                       int         port,
                       gboolean    use_smtps)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();

  switch (ms_provider_detect (server))
    {
    case MS_PROVIDER_GMAIL:
      g_strv_builder_add (builder,
                          _("Gmail is not meant for e-blasts: it sends about 500 messages a day "
                            "(2,000 with Google Workspace, counted over a rolling 24 hours), "
                            "so use a bulk-mail service for large lists."));
      if ((port == 465 && use_smtps) || (port == 587 && !use_smtps))
        g_strv_builder_add (builder,
                            _("Gmail takes mail on port 465 with “Use SMTPS” on, "
                              "or on port 587 with “Use SMTPS” off."));
      else
        g_strv_builder_add (builder,
                            _("These settings do not fit Gmail: use port 465 with “Use SMTPS” on, "
                              "or port 587 with “Use SMTPS” off."));
      g_strv_builder_add (builder,
                          _("Gmail needs an app password, not your Google password: turn on 2-Step "
                            "Verification in your Google account, then create an app password "
                            "and store it as the account’s password."));
      break;

    case MS_PROVIDER_OFFICE365:
      g_strv_builder_add (builder,
                          _("Microsoft 365 is not meant for e-blasts: it sends at most 30 messages "
                            "a minute and 10,000 recipients a day, on at most 3 connections at once, "
                            "so use a bulk-mail service for large lists."));
      if (port == 587 && !use_smtps)
        g_strv_builder_add (builder,
                            _("Microsoft 365 takes mail on port 587 with STARTTLS, "
                              "which is what these settings use."));
      else
        g_strv_builder_add (builder,
                            _("These settings do not fit Microsoft 365: turn “Use SMTPS” off and "
                              "use port 587 (STARTTLS is used automatically)."));
      g_strv_builder_add (builder,
                          _("An administrator must enable SMTP AUTH (“Authenticated SMTP”) for this "
                            "mailbox in the Microsoft 365 admin center, or every login is refused."));
      g_strv_builder_add (builder,
                          _("Every message sent through Microsoft 365 is also saved in the mailbox’s "
                            "Sent Items folder."));
      break;

    case MS_PROVIDER_OTHER:
    default:
      break;
    }

  return g_strv_builder_end (builder);
}

/**
 * ms_provider_get_limits:
 * @provider: a provider
 * @limits: (out): where to put its published limits
 *
 * Returns: %TRUE when the provider publishes limits; otherwise @limits is
 *   zeroed and %FALSE is returned
 */
gboolean
ms_provider_get_limits (MsProvider        provider,
                        MsProviderLimits *limits)
{
  g_return_val_if_fail (limits != NULL, FALSE);

  memset (limits, 0, sizeof *limits);

  switch (provider)
    {
    case MS_PROVIDER_GMAIL:
      limits->per_day = 500;
      limits->per_day_max = 2000;
      return TRUE;

    case MS_PROVIDER_OFFICE365:
      limits->per_minute = 30;
      limits->per_day = 10000;
      limits->per_day_max = 10000;
      limits->connections = 3;
      return TRUE;

    case MS_PROVIDER_OTHER:
    default:
      return FALSE;
    }
}

char **
ms_provider_check_pacing (const char *server,
                          guint       per_minute,
                          guint       per_hour,
                          guint       per_day,
                          guint       connections)
{
  g_autoptr(GStrvBuilder) builder = g_strv_builder_new ();
  MsProvider provider = ms_provider_detect (server);
  MsProviderLimits limits;
  const char *name;

  if (!ms_provider_get_limits (provider, &limits))
    return g_strv_builder_end (builder);

  name = ms_provider_get_name (provider);

  if (limits.per_minute > 0 && (per_minute == 0 || per_minute > limits.per_minute))
    {
      g_autofree char *s =
        g_strdup_printf (_("%s accepts at most %u messages a minute: set “Messages per minute” to %u or less."),
                         name, limits.per_minute, limits.per_minute);
      g_strv_builder_add (builder, s);
    }

  if (limits.per_hour > 0 && (per_hour == 0 || per_hour > limits.per_hour))
    {
      g_autofree char *s =
        g_strdup_printf (_("%s accepts at most %u messages an hour: set “Messages per hour” to %u or less."),
                         name, limits.per_hour, limits.per_hour);
      g_strv_builder_add (builder, s);
    }

  /* The highest plan's figure is the ceiling: a Workspace account may
   * legitimately be set above the consumer figure. */
  if (limits.per_day > 0)
    {
      guint ceiling = MAX (limits.per_day, limits.per_day_max);

      if (per_day == 0 || per_day > ceiling)
        {
          g_autofree char *s = NULL;

          if (ceiling != limits.per_day)
            s = g_strdup_printf (_("%s sends at most %u messages a day (%u on its larger plans): "
                                   "set “Messages per rolling day” to what your plan allows."),
                                 name, limits.per_day, ceiling);
          else
            s = g_strdup_printf (_("%s sends at most %u messages a day: "
                                   "set “Messages per rolling day” to %u or less."),
                                 name, limits.per_day, limits.per_day);
          g_strv_builder_add (builder, s);
        }
    }

  if (limits.connections > 0 && connections > limits.connections)
    {
      g_autofree char *s =
        g_strdup_printf (_("%s accepts at most %u connections at once: set “Connections at once” to %u or less."),
                         name, limits.connections, limits.connections);
      g_strv_builder_add (builder, s);
    }

  return g_strv_builder_end (builder);
}

/* The settings each provider documents for sending, checked against the
 * provider's help pages and Thunderbird's ISPDB (github.com/thunderbird/autoconfig,
 * March 2026). Where a provider offers both, the table keeps the port its own
 * documentation leads with. */

static const char * const gmail_domains[] = { "gmail.com", "googlemail.com", NULL };

/* Outlook.com's consumer domains: Thunderbird's hotmail.com entry, the common part. */
static const char * const outlook_domains[] = {
  "outlook.com", "hotmail.com", "live.com", "msn.com", "windowslive.com", "passport.com",
  "outlook.at", "outlook.be", "outlook.cl", "outlook.cz", "outlook.de", "outlook.dk",
  "outlook.es", "outlook.fr", "outlook.hu", "outlook.ie", "outlook.in", "outlook.it",
  "outlook.jp", "outlook.kr", "outlook.pt", "outlook.sa", "outlook.sg", "outlook.sk",
  "outlook.com.ar", "outlook.com.au", "outlook.com.br", "outlook.com.tr",
  "hotmail.be", "hotmail.ca", "hotmail.ch", "hotmail.de", "hotmail.dk", "hotmail.es",
  "hotmail.fi", "hotmail.fr", "hotmail.gr", "hotmail.it", "hotmail.nl", "hotmail.no",
  "hotmail.se", "hotmail.co.uk", "hotmail.co.jp", "hotmail.com.au", "hotmail.com.br",
  "live.at", "live.be", "live.ca", "live.de", "live.dk", "live.fr", "live.it", "live.nl",
  "live.no", "live.se", "live.co.uk", "live.com.au",
  NULL
};
/* Microsoft 365 tenants' own domains are found through their MX; this is the
 * one domain every tenant has. */
static const char * const office365_domains[] = { "onmicrosoft.com", NULL };
static const char * const yahoo_domains[] = {
  "yahoo.com", "yahoo.ca", "yahoo.de", "yahoo.it", "yahoo.fr", "yahoo.es", "yahoo.se",
  "yahoo.co.in", "yahoo.co.uk", "yahoo.co.nz", "yahoo.com.au", "yahoo.com.ar",
  "yahoo.com.br", "yahoo.com.mx", "ymail.com", "myyahoo.com", "rocketmail.com", NULL
};
static const char * const icloud_domains[] = { "icloud.com", "me.com", "mac.com", NULL };
static const char * const gmx_domains[] = {
  "gmx.de", "gmx.net", "gmx.at", "gmx.ch", "gmx.eu", "gmx.biz", "gmx.org", "gmx.info", NULL
};
static const char * const gmx_com_domains[] = {
  "gmx.com", "gmx.us", "gmx.co.uk", "gmx.es", "gmx.fr", "gmx.ca", "gmx.it", "gmx.pt", NULL
};
static const char * const webde_domains[] = { "web.de", NULL };
static const char * const tonline_domains[] = { "t-online.de", "magenta.de", NULL };
static const char * const fastmail_domains[] = {
  "fastmail.com", "fastmail.fm", "fastmail.net", "fastmail.org", "fastmail.de",
  "fastmail.co.uk", "fastmail.to", "fastmail.us", "fastmail.in", "fastmail.jp",
  "fastmail.cn", "fastmail.es", "fastmail.mx", "fastmail.se", "fastmail.nl",
  "messagingengine.com", NULL
};
static const char * const zoho_domains[] = { "zoho.com", "zohomail.com", NULL };
static const char * const no_domains[] = { NULL };

static const MsProviderSettings provider_settings[] = {
  /* support.google.com/mail/answer/7126229: SSL on 465, or STARTTLS on 587.
   * Passwords work as app passwords, so OAuth2 is not required. */
  { "gmail", "Gmail", "smtp.gmail.com", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, "google", "%EMAILADDRESS%", FALSE, gmail_domains },
  /* Outlook.com: smtp-mail.outlook.com 587 STARTTLS; basic authentication is
   * gone for consumer accounts, only OAuth2 signs in. */
  { "outlook", "Outlook.com", "smtp-mail.outlook.com", 587, FALSE,
    MS_PROVIDER_AUTH_OAUTH2, "microsoft", "%EMAILADDRESS%", FALSE, outlook_domains },
  /* Exchange Online: smtp.office365.com 587 STARTTLS; SMTP AUTH with a
   * password is being retired, OAuth2 is what keeps working. */
  { "office365", "Microsoft 365", "smtp.office365.com", 587, FALSE,
    MS_PROVIDER_AUTH_OAUTH2, "microsoft", "%EMAILADDRESS%", FALSE, office365_domains },
  /* help.yahoo.com: smtp.mail.yahoo.com, 465 SSL (or 587), an app password. */
  { "yahoo", "Yahoo Mail", "smtp.mail.yahoo.com", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILADDRESS%", FALSE, yahoo_domains },
  /* support.apple.com/102525: smtp.mail.me.com, 587 STARTTLS, an app-specific password. */
  { "icloud", "iCloud Mail", "smtp.mail.me.com", 587, FALSE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILADDRESS%", FALSE, icloud_domains },
  /* GMX (1&1's own entries in the ISPDB): mail.gmx.net, 465 SSL. */
  { "gmx", "GMX", "mail.gmx.net", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILADDRESS%", FALSE, gmx_domains },
  { "gmx-com", "GMX", "mail.gmx.com", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILADDRESS%", FALSE, gmx_com_domains },
  /* WEB.DE: smtp.web.de, 465 SSL, signed in with the part before the @. */
  { "webde", "WEB.DE", "smtp.web.de", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILLOCALPART%", FALSE, webde_domains },
  /* Telekom: securesmtp.t-online.de, 465 SSL, the e-mail password. */
  { "t-online", "T-Online", "securesmtp.t-online.de", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILADDRESS%", FALSE, tonline_domains },
  /* fastmail.com/help/technical/servernamesandports.html: 465 SSL, an app password. */
  { "fastmail", "Fastmail", "smtp.fastmail.com", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILADDRESS%", FALSE, fastmail_domains },
  /* Zoho Mail: smtp.zoho.com, 465 SSL (or 587 TLS). */
  { "zoho", "Zoho Mail", "smtp.zoho.com", 465, TRUE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "%EMAILADDRESS%", FALSE, zoho_domains },
  /* Sending services. Mailgun: smtp.mailgun.org, 587 recommended, signed in
   * with the domain's SMTP login (postmaster@ by default). */
  { "mailgun", "Mailgun", "smtp.mailgun.org", 587, FALSE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "postmaster@%EMAILDOMAIN%", TRUE, no_domains },
  /* SendGrid: smtp.sendgrid.net 587, user "apikey", the API key as password. */
  { "sendgrid", "SendGrid", "smtp.sendgrid.net", 587, FALSE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "apikey", TRUE, no_domains },
  /* Amazon SES: email-smtp.REGION.amazonaws.com, 587 STARTTLS, with the SMTP
   * credentials made in the SES console; the first region is the default. */
  { "amazon-ses", "Amazon SES", "email-smtp.us-east-1.amazonaws.com", 587, FALSE,
    MS_PROVIDER_AUTH_PASSWORD, NULL, "", TRUE, no_domains },
};

/**
 * ms_provider_settings_for_domain:
 * @domain: the domain of an e-mail address
 *
 * Looks the domain up in the built-in table, ignoring case and a trailing
 * dot. Only the exact domain matches: a subdomain may be anyone's.
 *
 * Returns: (transfer none) (nullable): the provider's settings
 */
const MsProviderSettings *
ms_provider_settings_for_domain (const char *domain)
{
  g_autofree char *d = NULL;
  size_t len;

  g_return_val_if_fail (domain != NULL, NULL);

  d = g_ascii_strdown (domain, -1);
  len = strlen (d);
  while (len > 0 && d[len - 1] == '.')
    d[--len] = '\0';

  for (guint i = 0; i < G_N_ELEMENTS (provider_settings); i++)
    for (guint j = 0; provider_settings[i].domains[j] != NULL; j++)
      if (strcmp (d, provider_settings[i].domains[j]) == 0)
        return &provider_settings[i];
  return NULL;
}

/**
 * ms_provider_settings_for_id:
 * @id: an identifier from the table ("office365")
 *
 * Returns: (transfer none) (nullable): the provider's settings
 */
const MsProviderSettings *
ms_provider_settings_for_id (const char *id)
{
  g_return_val_if_fail (id != NULL, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (provider_settings); i++)
    if (strcmp (id, provider_settings[i].id) == 0)
      return &provider_settings[i];
  return NULL;
}

const MsProviderSettings * const *
ms_provider_list_relays (void)
{
  static const MsProviderSettings *relays[G_N_ELEMENTS (provider_settings) + 1];
  static gsize done = 0;

  if (g_once_init_enter (&done))
    {
      guint n = 0;

      for (guint i = 0; i < G_N_ELEMENTS (provider_settings); i++)
        if (provider_settings[i].relay)
          relays[n++] = &provider_settings[i];
      relays[n] = NULL;
      g_once_init_leave (&done, 1);
    }
  return relays;
}

/* ------------------------------------------------------------------ */
/* OAuth2: the built-in providers' endpoints and scopes                */

/**
 * ms_provider_get_oauth2:
 * @provider: a built-in provider
 * @tenant: (nullable): the Microsoft tenant; "organizations" when %NULL or empty
 * @out: (out caller-allocates): the endpoints and scopes
 *
 * No client secret is part of this: the app is a public client and signs
 * in with PKCE. "offline_access" makes Microsoft issue a refresh token;
 * Google issues one for access_type=offline, which ms-oauth2 asks for.
 *
 * Returns: %FALSE for %MS_OAUTH2_PROVIDER_CUSTOM (its endpoints are keys)
 */
gboolean
ms_provider_get_oauth2 (MsOAuth2Provider  provider,
                        const char       *tenant,
                        MsProviderOAuth2 *out)
{
  g_return_val_if_fail (out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  switch (provider)
    {
    case MS_OAUTH2_PROVIDER_MICROSOFT:
      {
        g_autofree char *escaped = NULL;

        if (tenant == NULL || *tenant == '\0')
          tenant = "organizations";
        escaped = g_uri_escape_string (tenant, NULL, FALSE);
        out->name = "Microsoft";
        out->auth_endpoint = g_strdup_printf ("https://login.microsoftonline.com/%s/oauth2/v2.0/authorize", escaped);
        out->token_endpoint = g_strdup_printf ("https://login.microsoftonline.com/%s/oauth2/v2.0/token", escaped);
        out->scope = g_strdup ("https://outlook.office.com/SMTP.Send offline_access");
        return TRUE;
      }

    case MS_OAUTH2_PROVIDER_GOOGLE:
      out->name = "Google";
      out->auth_endpoint = g_strdup ("https://accounts.google.com/o/oauth2/v2/auth");
      out->token_endpoint = g_strdup ("https://oauth2.googleapis.com/token");
      out->scope = g_strdup ("https://mail.google.com/");
      return TRUE;

    case MS_OAUTH2_PROVIDER_CUSTOM:
    default:
      return FALSE;
    }
}

/**
 * ms_provider_oauth2_clear:
 *
 * Frees the strings of @oauth2 and zeroes it.
 */
void
ms_provider_oauth2_clear (MsProviderOAuth2 *oauth2)
{
  g_return_if_fail (oauth2 != NULL);

  g_free (oauth2->auth_endpoint);
  g_free (oauth2->token_endpoint);
  g_free (oauth2->scope);
  memset (oauth2, 0, sizeof *oauth2);
}

/* ------------------------------------------------------------------ */
/* The settings window's notes: grouped, each fact once                */

void
ms_provider_note_free (MsProviderNote *note)
{
  if (note == NULL)
    return;
  g_free (note->text);
  g_free (note);
}

static void
add_note (GPtrArray          *notes,
          MsProviderNoteKind  kind,
          char               *text)
{
  MsProviderNote *note = g_new0 (MsProviderNote, 1);

  note->kind = kind;
  note->text = text;
  g_ptr_array_add (notes, note);
}

/* Exchange servers of one's own (not Microsoft 365) often offer NTLM only:
 * recognised by a host label such as "exchange", "exch01" or "owa". */
static gboolean
is_exchange_host (const char *server)
{
  g_autofree char *host = NULL;
  g_auto(GStrv) labels = NULL;

  if (server == NULL)
    return FALSE;
  host = g_ascii_strdown (server, -1);
  g_strstrip (host);
  labels = g_strsplit (host, ".", -1);
  /* A bare word is not a host anyone sends through. */
  if (g_strv_length (labels) < 2)
    return FALSE;
  for (guint i = 0; labels[i] != NULL && labels[i + 1] != NULL; i++)
    if (g_str_has_prefix (labels[i], "exch") || g_str_equal (labels[i], "owa"))
      return TRUE;
  return FALSE;
}

const char *
ms_provider_get_notes_title (const char *server)
{
  MsProvider provider = ms_provider_detect (server);

  if (provider != MS_PROVIDER_OTHER)
    return ms_provider_get_name (provider);
  if (is_exchange_host (server))
    return "Microsoft Exchange";
  return NULL;
}

/* A count in the locale's digits and grouping ("10,000", "10.000"). */
static char *
format_count (guint n)
{
  return g_strdup_printf ("%'u", n);
}

static void
add_limit_warning (GPtrArray  *notes,
                   const char *field,
                   const char *provider)
{
  /* Translators: the first %s is a setting (“Messages per minute”), the
   * second the provider (“Microsoft 365”); the limit itself is said in a
   * note above this one. */
  add_note (notes, MS_PROVIDER_NOTE_WARNING,
            g_strdup_printf (_("Set “%s” to fit %s’s limit above."), field, provider));
}

GPtrArray *
ms_provider_get_notes (const MsProviderAccountSettings *settings)
{
  GPtrArray *notes = g_ptr_array_new_with_free_func ((GDestroyNotify) ms_provider_note_free);
  MsProvider provider;
  MsProviderLimits limits, gmail, microsoft;
  const char *name;

  g_return_val_if_fail (settings != NULL, notes);

  provider = ms_provider_detect (settings->server);
  if (provider == MS_PROVIDER_OTHER)
    {
      if (is_exchange_host (settings->server) && settings->needs_auth)
        add_note (notes, MS_PROVIDER_NOTE_INFO,
                  g_strdup (_("Mailshot signs in with CRAM-MD5, PLAIN or LOGIN, not NTLM: if this Exchange server "
                              "offers only NTLM, ask its administrator to allow LOGIN or PLAIN over an "
                              "encrypted connection.")));
      return notes;
    }

  name = ms_provider_get_name (provider);
  ms_provider_get_limits (provider, &limits);
  ms_provider_get_limits (MS_PROVIDER_GMAIL, &gmail);
  ms_provider_get_limits (MS_PROVIDER_OFFICE365, &microsoft);

  /* The general advice, with the reason in numbers. */
  {
    g_autofree char *gmail_day = format_count (gmail.per_day);
    g_autofree char *gmail_max = format_count (gmail.per_day_max);
    g_autofree char *microsoft_day = format_count (microsoft.per_day);

    add_note (notes, MS_PROVIDER_NOTE_INFO,
              g_strdup_printf (_("Gmail and Microsoft 365 are poor choices for bulk mail: Gmail sends at most %s "
                                 "messages a day (%s with Google Workspace) and Microsoft 365 at most %s recipients "
                                 "a day, and both may block an account that sends more. For large lists, use a "
                                 "bulk-mail service."),
                               gmail_day, gmail_max, microsoft_day));
  }

  /* The limits the advice did not give. */
  if (limits.per_minute > 0 && limits.connections > 0)
    {
      g_autofree char *minute = format_count (limits.per_minute);
      g_autofree char *connections = format_count (limits.connections);

      /* Translators: the first %s is the provider, then a number of messages and of connections. */
      add_note (notes, MS_PROVIDER_NOTE_INFO,
                g_strdup_printf (_("%s also takes at most %s messages a minute, on at most %s connections at once."),
                                 name, minute, connections));
    }

  if (limits.per_minute > 0 && (settings->per_minute == 0 || settings->per_minute > limits.per_minute))
    add_limit_warning (notes, _("Messages per minute"), name);
  if (limits.per_hour > 0 && (settings->per_hour == 0 || settings->per_hour > limits.per_hour))
    add_limit_warning (notes, _("Messages per hour"), name);
  if (limits.per_day > 0 && (settings->per_day == 0 || settings->per_day > MAX (limits.per_day, limits.per_day_max)))
    add_limit_warning (notes, _("Messages per rolling day"), name);
  if (limits.connections > 0 && settings->connections > limits.connections)
    add_limit_warning (notes, _("Connections at once"), name);

  switch (provider)
    {
    case MS_PROVIDER_GMAIL:
      if ((settings->port == 465 && settings->use_smtps) || (settings->port == 587 && !settings->use_smtps))
        add_note (notes, MS_PROVIDER_NOTE_OK,
                  g_strdup (_("Gmail takes mail on port 465 with “Use SMTPS” on, "
                              "or on port 587 with “Use SMTPS” off.")));
      else
        add_note (notes, MS_PROVIDER_NOTE_WARNING,
                  g_strdup (_("These settings do not fit Gmail: use port 465 with “Use SMTPS” on, "
                              "or port 587 with “Use SMTPS” off.")));
      if (!settings->oauth2)
        add_note (notes, MS_PROVIDER_NOTE_INFO,
                  g_strdup (_("Gmail needs an app password, not your Google password: turn on 2-Step "
                              "Verification in your Google account, then create an app password "
                              "and store it as the account’s password.")));
      break;

    case MS_PROVIDER_OFFICE365:
      if (settings->port == 587 && !settings->use_smtps)
        add_note (notes, MS_PROVIDER_NOTE_OK,
                  g_strdup (_("Microsoft 365 takes mail on port 587 with STARTTLS, "
                              "which is what these settings use.")));
      else
        add_note (notes, MS_PROVIDER_NOTE_WARNING,
                  g_strdup (_("These settings do not fit Microsoft 365: turn “Use SMTPS” off and "
                              "use port 587 (STARTTLS is used automatically).")));
      /* The mailbox's switch holds for OAuth2 too (Microsoft refuses the
       * token with 535 5.7.139 when it is off); only the words about
       * passwords are not for an account that signs in with OAuth2. */
      if (!settings->oauth2)
        add_note (notes, MS_PROVIDER_NOTE_INFO,
                  g_strdup (_("An administrator must enable SMTP AUTH (“Authenticated SMTP”) for this "
                              "mailbox in the Microsoft 365 admin center, or every login is refused. Mailshot "
                              "signs in with LOGIN or PLAIN, not NTLM.")));
      else
        add_note (notes, MS_PROVIDER_NOTE_INFO,
                  g_strdup (_("An administrator must turn on “Authenticated SMTP” for this mailbox in the "
                              "Microsoft 365 admin center: signing in with OAuth2 needs it too.")));
      add_note (notes, MS_PROVIDER_NOTE_INFO,
                g_strdup (_("Every message sent through Microsoft 365 is also saved in the mailbox’s "
                            "Sent Items folder.")));
      break;

    case MS_PROVIDER_OTHER:
    default:
      break;
    }

  return notes;
}
