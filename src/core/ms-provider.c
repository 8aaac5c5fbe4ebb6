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
