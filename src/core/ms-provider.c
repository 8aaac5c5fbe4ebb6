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
ms_provider_get_notes (const MsProviderSettings *settings)
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
      add_note (notes, MS_PROVIDER_NOTE_INFO,
                g_strdup (_("An administrator must enable SMTP AUTH (“Authenticated SMTP”) for this "
                            "mailbox in the Microsoft 365 admin center, or every login is refused. Mailshot "
                            "signs in with LOGIN or PLAIN, not NTLM.")));
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
