/* ms-autoconfig.c: the SMTP settings found from an e-mail address (table, autoconfig file, MX)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <curl/curl.h>
#include <glib/gi18n-lib.h>
#include <string.h>

#include "ms-autoconfig.h"
#include "ms-error.h"
#include "ms-http.h"
#include "ms-recipients.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CURL, curl_easy_cleanup)

/* A real autoconfig file is one or two KiB; anything past this is not one. */
#define MAX_FILE_SIZE   (64 * 1024)
#define FETCH_TIMEOUT_S 10L
#define CONNECT_TIMEOUT_S 5L
/* Thunderbird's format nests four deep; a deeper file is hostile or not ours. */
#define MAX_DEPTH       16
#define MAX_TEXT        1024

G_DEFINE_BOXED_TYPE (MsAutoconfigResult, ms_autoconfig_result,
                     ms_autoconfig_result_copy, ms_autoconfig_result_free)

MsAutoconfigResult *
ms_autoconfig_result_copy (const MsAutoconfigResult *result)
{
  MsAutoconfigResult *copy;

  g_return_val_if_fail (result != NULL, NULL);

  copy = g_new0 (MsAutoconfigResult, 1);
  *copy = *result;
  copy->email_address = g_strdup (result->email_address);
  copy->provider_name = g_strdup (result->provider_name);
  copy->server = g_strdup (result->server);
  copy->oauth2_provider = g_strdup (result->oauth2_provider);
  copy->user_id_pattern = g_strdup (result->user_id_pattern);
  copy->user_id = g_strdup (result->user_id);
  copy->source_detail = g_strdup (result->source_detail);
  return copy;
}

void
ms_autoconfig_result_free (MsAutoconfigResult *result)
{
  if (result == NULL)
    return;
  g_free (result->email_address);
  g_free (result->provider_name);
  g_free (result->server);
  g_free (result->oauth2_provider);
  g_free (result->user_id_pattern);
  g_free (result->user_id);
  g_free (result->source_detail);
  g_free (result);
}

char *
ms_autoconfig_result_describe_source (const MsAutoconfigResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);

  switch (result->source)
    {
    case MS_AUTOCONFIG_SOURCE_FILE:
      return g_strdup_printf (_("the autoconfig file at %s"), result->source_detail);
    case MS_AUTOCONFIG_SOURCE_MX:
      /* TRANSLATORS: "MX records point to Google (aspmx.l.google.com)" */
      return g_strdup_printf (_("MX records point to %s (%s)"),
                              g_strcmp0 (result->oauth2_provider, "microsoft") == 0 ? "Microsoft" : "Google",
                              result->source_detail);
    case MS_AUTOCONFIG_SOURCE_TABLE:
    default:
      return g_strdup (_("the built-in table of providers"));
    }
}

const char *
ms_autoconfig_result_get_auth_method (const MsAutoconfigResult *result)
{
  g_return_val_if_fail (result != NULL, NULL);

  switch (result->auth)
    {
    case MS_PROVIDER_AUTH_CRAM_MD5:
      return "cram-md5";
    case MS_PROVIDER_AUTH_OAUTH2:
      return "oauth2";
    case MS_PROVIDER_AUTH_NONE:
    case MS_PROVIDER_AUTH_PASSWORD:
    default:
      return "automatic";
    }
}

gboolean
ms_autoconfig_result_needs_authentication (const MsAutoconfigResult *result)
{
  g_return_val_if_fail (result != NULL, FALSE);
  return result->auth != MS_PROVIDER_AUTH_NONE;
}

char *
ms_autoconfig_expand (const char *pattern,
                      const char *address)
{
  const char *at;
  g_autofree char *local = NULL;
  GString *out;

  g_return_val_if_fail (pattern != NULL, NULL);
  g_return_val_if_fail (address != NULL, NULL);

  at = strrchr (address, '@');
  local = at ? g_strndup (address, at - address) : g_strdup (address);
  /* One pass over the pattern: a local part may hold "%", and a placeholder
   * that comes in with the address is text, not filled in again. */
  out = g_string_sized_new (strlen (pattern));
  for (const char *p = pattern; *p != '\0'; )
    {
      if (g_str_has_prefix (p, "%EMAILADDRESS%"))
        {
          g_string_append (out, address);
          p += strlen ("%EMAILADDRESS%");
        }
      else if (g_str_has_prefix (p, "%EMAILLOCALPART%"))
        {
          g_string_append (out, local);
          p += strlen ("%EMAILLOCALPART%");
        }
      else if (g_str_has_prefix (p, "%EMAILDOMAIN%"))
        {
          g_string_append (out, at ? at + 1 : "");
          p += strlen ("%EMAILDOMAIN%");
        }
      else
        g_string_append_c (out, *p++);
    }
  return g_string_free (out, FALSE);
}

/* The address trimmed, and its domain in lower case and ASCII (IDN). */
static gboolean
split_address (const char  *address,
               char       **trimmed,
               char       **domain,
               GError     **error)
{
  g_autofree char *a = g_strstrip (g_strdup (address));
  g_autofree char *d = NULL;
  const char *at = strrchr (a, '@');

  if (at == NULL || at == a || at[1] == '\0' || !ms_recipients_address_is_valid (a))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("“%s” is not an e-mail address: type it as name@example.org."), a);
      return FALSE;
    }

  d = g_hostname_to_ascii (at + 1);
  if (d == NULL)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_VALUE,
                   _("The domain of “%s” is not a valid host name: check the part after the @."), a);
      return FALSE;
    }
  *domain = g_ascii_strdown (d, -1);
  *trimmed = g_steal_pointer (&a);
  return TRUE;
}

static MsAutoconfigResult *
result_from_settings (const MsProviderSettings *s,
                      const char               *address,
                      const char               *name)
{
  MsAutoconfigResult *r = g_new0 (MsAutoconfigResult, 1);

  r->email_address = g_strdup (address);
  r->provider_name = g_strdup (name ? name : s->name);
  r->server = g_strdup (s->server);
  r->port = s->port;
  r->use_smtps = s->use_smtps;
  r->auth = s->auth;
  r->oauth2_provider = g_strdup (s->oauth2_provider);
  r->user_id_pattern = g_strdup (s->user_id);
  r->user_id = ms_autoconfig_expand (s->user_id, address);
  r->source = MS_AUTOCONFIG_SOURCE_TABLE;
  return r;
}

MsAutoconfigResult *
ms_autoconfig_lookup_table (const char  *address,
                            GError     **error)
{
  g_autofree char *trimmed = NULL;
  g_autofree char *domain = NULL;
  const MsProviderSettings *s;

  g_return_val_if_fail (address != NULL, NULL);

  if (!split_address (address, &trimmed, &domain, error))
    return NULL;
  s = ms_provider_settings_for_domain (domain);
  if (s == NULL || s->relay)
    return NULL;
  return result_from_settings (s, trimmed, NULL);
}

/* ---- The autoconfig file ------------------------------------------------ */

typedef struct {
  int         depth;
  gboolean    in_provider;
  gboolean    have_smtp;       /* the first smtp server has been read */
  gboolean    in_smtp;
  int         smtp_depth;
  GString    *text;
  const char *element;         /* the element whose text is collected */
  char       *display_name;
  char       *short_name;
  char       *hostname;
  char       *port;
  char       *socket_type;
  char       *username;
  MsProviderAuth auth;
  gboolean    auth_seen;
} ParseData;

static void
parse_data_clear (ParseData *d)
{
  if (d->text)
    g_string_free (d->text, TRUE);
  g_free (d->display_name);
  g_free (d->short_name);
  g_free (d->hostname);
  g_free (d->port);
  g_free (d->socket_type);
  g_free (d->username);
}

static void
on_start (GMarkupParseContext  *context,
          const char           *element,
          const char          **names,
          const char          **values,
          gpointer              user_data,
          GError              **error)
{
  ParseData *d = user_data;

  if (++d->depth > MAX_DEPTH)
    {
      g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                   "nested more than %d deep", MAX_DEPTH);
      return;
    }

  if (d->depth == 1 && strcmp (element, "clientConfig") != 0)
    {
      g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                   "the root element is <%s>, not <clientConfig>", element);
      return;
    }

  g_string_truncate (d->text, 0);
  d->element = NULL;

  if (d->depth == 2 && strcmp (element, "emailProvider") == 0)
    d->in_provider = TRUE;
  else if (d->in_provider && d->depth == 3 && !d->have_smtp &&
           strcmp (element, "outgoingServer") == 0)
    {
      for (guint i = 0; names[i] != NULL; i++)
        if (strcmp (names[i], "type") == 0 && strcmp (values[i], "smtp") == 0)
          {
            d->in_smtp = TRUE;
            d->smtp_depth = d->depth;
          }
    }
  else if (d->in_provider && d->depth == 3 &&
           (strcmp (element, "displayName") == 0 || strcmp (element, "displayShortName") == 0))
    d->element = element;
  else if (d->in_smtp && d->depth == d->smtp_depth + 1 &&
           (strcmp (element, "hostname") == 0 || strcmp (element, "port") == 0 ||
            strcmp (element, "socketType") == 0 || strcmp (element, "username") == 0 ||
            strcmp (element, "authentication") == 0))
    d->element = element;
}

static void
on_text (GMarkupParseContext  *context,
         const char           *text,
         gsize                 len,
         gpointer              user_data,
         GError              **error)
{
  ParseData *d = user_data;

  if (d->element == NULL)
    return;
  if (d->text->len + len > MAX_TEXT)
    {
      g_set_error (error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                   "<%s> is longer than %d bytes", d->element, MAX_TEXT);
      return;
    }
  g_string_append_len (d->text, text, len);
}

static void
take_text (ParseData  *d,
           char      **field)
{
  /* The first value wins, as Thunderbird reads it. */
  if (*field == NULL)
    *field = g_strstrip (g_strdup (d->text->str));
}

static void
on_end (GMarkupParseContext  *context,
        const char           *element,
        gpointer              user_data,
        GError              **error)
{
  ParseData *d = user_data;

  if (d->element != NULL && strcmp (element, d->element) == 0)
    {
      if (strcmp (element, "displayName") == 0)
        take_text (d, &d->display_name);
      else if (strcmp (element, "displayShortName") == 0)
        take_text (d, &d->short_name);
      else if (strcmp (element, "hostname") == 0)
        take_text (d, &d->hostname);
      else if (strcmp (element, "port") == 0)
        take_text (d, &d->port);
      else if (strcmp (element, "socketType") == 0)
        take_text (d, &d->socket_type);
      else if (strcmp (element, "username") == 0)
        take_text (d, &d->username);
      else if (strcmp (element, "authentication") == 0 && !d->auth_seen)
        {
          g_autofree char *v = g_strstrip (g_strdup (d->text->str));

          /* The first method we can use, in the file's order of preference. */
          d->auth_seen = TRUE;
          if (g_ascii_strcasecmp (v, "password-cleartext") == 0 || g_ascii_strcasecmp (v, "plain") == 0)
            d->auth = MS_PROVIDER_AUTH_PASSWORD;
          else if (g_ascii_strcasecmp (v, "password-encrypted") == 0 || g_ascii_strcasecmp (v, "secure") == 0)
            d->auth = MS_PROVIDER_AUTH_CRAM_MD5;
          else if (g_ascii_strcasecmp (v, "OAuth2") == 0)
            d->auth = MS_PROVIDER_AUTH_OAUTH2;
          else if (g_ascii_strcasecmp (v, "none") == 0 || g_ascii_strcasecmp (v, "client-IP-address") == 0)
            d->auth = MS_PROVIDER_AUTH_NONE;
          else
            d->auth_seen = FALSE;   /* NTLM, GSSAPI, a client certificate: not ours */
        }
      d->element = NULL;
    }

  if (d->in_smtp && d->depth == d->smtp_depth && strcmp (element, "outgoingServer") == 0)
    {
      d->in_smtp = FALSE;
      d->have_smtp = TRUE;
    }
  if (d->depth == 2 && strcmp (element, "emailProvider") == 0)
    d->in_provider = FALSE;
  d->depth--;
}

/* A host name as DNS has it: letters, digits, hyphens, dots; no IP literal
 * tricks, no user info, no port. */
static gboolean
hostname_is_sane (const char *host)
{
  size_t len = strlen (host);

  if (len == 0 || len > 253 || host[0] == '.' || host[0] == '-')
    return FALSE;
  for (const char *p = host; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.')
      return FALSE;
  return strstr (host, "..") == NULL;
}

static gboolean
text_is_sane (const char *text)
{
  for (const char *p = text; *p; p = g_utf8_next_char (p))
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return FALSE;
  return TRUE;
}

MsAutoconfigResult *
ms_autoconfig_parse (const char  *xml,
                     gssize       length,
                     const char  *address,
                     GError     **error)
{
  static const GMarkupParser parser = { on_start, on_end, on_text, NULL, NULL };
  g_autoptr(GMarkupParseContext) context = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *expanded = NULL;
  g_autofree char *hostname = NULL;
  ParseData d = { 0, };
  MsAutoconfigResult *r;
  guint64 port;
  const char *name;
  const char *bad;

  g_return_val_if_fail (xml != NULL, NULL);
  g_return_val_if_fail (address != NULL, NULL);

  if (length < 0)
    length = strlen (xml);
  if (length > MAX_FILE_SIZE)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file is larger than %d KiB, so it is not one."), MAX_FILE_SIZE / 1024);
      return NULL;
    }
  /* Checked before GMarkup sees it: GMarkup refuses such a file too, but its
   * message quotes the offending bytes, and a GError message must be UTF-8. */
  if (!g_utf8_validate_len (xml, length, &bad))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file is not valid: it is not UTF-8 text (byte %lu)."),
                   (gulong) (bad - xml) + 1);
      return NULL;
    }

  d.text = g_string_new (NULL);
  d.auth = MS_PROVIDER_AUTH_PASSWORD;
  /* GMarkup knows no DTD and expands no entity but the five of XML: an
   * entity bomb or an external entity is a parse error, never a fetch. */
  context = g_markup_parse_context_new (&parser, G_MARKUP_PREFIX_ERROR_POSITION, &d, NULL);
  if (!g_markup_parse_context_parse (context, xml, length, &local_error) ||
      !g_markup_parse_context_end_parse (context, &local_error))
    {
      /* Even for UTF-8 input, GMarkup's message may quote a character cut
       * after its first byte ("“\xc2” is not a valid name"). */
      g_autofree char *why = g_utf8_make_valid (local_error->message, -1);

      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file is not valid: %s."), why);
      parse_data_clear (&d);
      return NULL;
    }

  if (!d.have_smtp || d.hostname == NULL)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file names no SMTP server."));
      parse_data_clear (&d);
      return NULL;
    }

  /* The address keeps its domain as typed, so smtp.%EMAILDOMAIN% of
   * jörg@bücher.test is in Unicode: the host name is its ASCII form (IDNA),
   * as the URLs use. A name longer than 253 ASCII letters can be in no
   * script: IDNA is not run over a long hostile text. */
  expanded = ms_autoconfig_expand (d.hostname, address);
  if (strlen (expanded) <= 4 * 253)
    hostname = g_hostname_to_ascii (expanded);
  if (hostname == NULL || !hostname_is_sane (hostname))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file names an SMTP server that is not a host name."));
      parse_data_clear (&d);
      return NULL;
    }

  if (d.port == NULL || !g_ascii_string_to_unsigned (d.port, 10, 1, 65535, &port, NULL))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file gives no valid port for its SMTP server."));
      parse_data_clear (&d);
      return NULL;
    }

  /* "plain" would carry the password in the clear: such a file does not set
   * up an account, the user does, knowingly. */
  if (d.socket_type == NULL ||
      (g_ascii_strcasecmp (d.socket_type, "SSL") != 0 && g_ascii_strcasecmp (d.socket_type, "STARTTLS") != 0))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file offers an SMTP server without encryption (socket type “%s”)."),
                   d.socket_type ? d.socket_type : "");
      parse_data_clear (&d);
      return NULL;
    }

  if ((d.username && !text_is_sane (d.username)) ||
      (d.display_name && !text_is_sane (d.display_name)) ||
      (d.short_name && !text_is_sane (d.short_name)))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_INVALID_INPUT,
                   _("The autoconfig file holds control characters."));
      parse_data_clear (&d);
      return NULL;
    }

  r = g_new0 (MsAutoconfigResult, 1);
  r->email_address = g_strdup (address);
  name = d.display_name && *d.display_name ? d.display_name : d.short_name && *d.short_name ? d.short_name : NULL;
  r->provider_name = g_strdup (name ? name : strrchr (address, '@') + 1);
  r->server = g_ascii_strdown (hostname, -1);
  r->port = (int) port;
  r->use_smtps = g_ascii_strcasecmp (d.socket_type, "SSL") == 0;
  r->auth = d.auth;
  r->user_id_pattern = g_strdup (d.username ? d.username : "%EMAILADDRESS%");
  r->user_id = ms_autoconfig_expand (r->user_id_pattern, address);
  r->source = MS_AUTOCONFIG_SOURCE_FILE;
  parse_data_clear (&d);
  return r;
}

/* ---- The worker ---------------------------------------------------------- */

typedef struct {
  char         *address;
  char         *domain;
  GResolver    *resolver;
  char        **connect_to;    /* test mode: libcurl CONNECT_TO entries */
  char         *cainfo;
  char         *mx_map;        /* test mode: MX answers */
} DetectData;

static void
detect_data_free (DetectData *data)
{
  g_free (data->address);
  g_free (data->domain);
  g_clear_object (&data->resolver);
  g_strfreev (data->connect_to);
  g_free (data->cainfo);
  g_free (data->mx_map);
  g_free (data);
}

/* In test mode, only hosts with a CONNECT_TO entry are fetched: the real
 * network is never reached from a test. */
static gboolean
host_allowed (const DetectData *data,
              const char       *host)
{
  if (data->connect_to == NULL)
    return TRUE;
  for (guint i = 0; data->connect_to[i] != NULL; i++)
    {
      const char *colon = strchr (data->connect_to[i], ':');

      if (colon != NULL && (size_t) (colon - data->connect_to[i]) == strlen (host) &&
          g_ascii_strncasecmp (data->connect_to[i], host, colon - data->connect_to[i]) == 0)
        return TRUE;
    }
  return FALSE;
}

#define MAX_REDIRECTS 3

/* One GET. Returns the CURLcode; *status is the HTTP status, *location the
 * target of a redirect. */
static CURLcode
fetch_once (DetectData    *data,
            const char    *url,
            MsHttpSink    *st,
            long          *status,
            char         **location)
{
  g_autoptr(CURL) curl = curl_easy_init ();
  struct curl_slist *connect_to = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";
  const char *redirect = NULL;
  CURLcode rc;

  if (curl == NULL)
    return CURLE_FAILED_INIT;

  /* HTTPS only (a file that decides where the password goes must not be
   * readable or replaceable on the way), and redirects followed by hand, so
   * each target is checked like the first URL. */
  ms_http_setup (curl, url, errbuf, st);
  curl_easy_setopt (curl, CURLOPT_REDIR_PROTOCOLS_STR, "https");
  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, FETCH_TIMEOUT_S);
  curl_easy_setopt (curl, CURLOPT_MAXFILESIZE, (long) MAX_FILE_SIZE);
  if (data->connect_to != NULL)
    {
      for (guint i = 0; data->connect_to[i] != NULL; i++)
        connect_to = curl_slist_append (connect_to, data->connect_to[i]);
      curl_easy_setopt (curl, CURLOPT_CONNECT_TO, connect_to);
      /* Nor through a proxy from the environment: the test's server only. */
      curl_easy_setopt (curl, CURLOPT_PROXY, "");
    }
  if (data->cainfo != NULL)
    curl_easy_setopt (curl, CURLOPT_CAINFO, data->cainfo);

  rc = curl_easy_perform (curl);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, status);
  if (rc == CURLE_OK && curl_easy_getinfo (curl, CURLINFO_REDIRECT_URL, &redirect) == CURLE_OK && redirect)
    *location = g_strdup (redirect);
  if (rc != CURLE_OK)
    g_debug ("autoconfig: %s: curl %d: %s", url, rc, errbuf);
  curl_slist_free_all (connect_to);
  return rc;
}

/* Fetches @url over HTTPS only, following at most MAX_REDIRECTS redirects
 * that stay on HTTPS. On failure, *why says what went wrong in a few words
 * for the final error message; @error is set only on cancellation. */
static GBytes *
fetch (DetectData   *data,
       const char   *url,
       GCancellable *cancellable,
       char        **why,
       GError      **error)
{
  g_autofree char *current = g_strdup (url);

  for (guint hop = 0; hop <= MAX_REDIRECTS; hop++)
    {
      g_autoptr(GByteArray) body = g_byte_array_new ();
      g_autoptr(GUri) uri = g_uri_parse (current, G_URI_FLAGS_NONE, NULL);
      g_autofree char *location = NULL;
      MsHttpSink st = { body, MAX_FILE_SIZE, FALSE, cancellable };
      long status = 0;
      CURLcode rc;

      if (uri == NULL || g_ascii_strcasecmp (g_uri_get_scheme (uri), "https") != 0)
        {
          g_debug ("autoconfig: refused %s: not HTTPS", current);
          *why = g_strdup (_("redirected away from HTTPS"));
          return NULL;
        }
      if (!host_allowed (data, g_uri_get_host (uri)))
        {
          *why = g_strdup (_("not reachable"));
          return NULL;
        }

      rc = fetch_once (data, current, &st, &status, &location);
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return NULL;

      if (rc != CURLE_OK)
        {
          if (st.too_big || rc == CURLE_FILESIZE_EXCEEDED)
            *why = g_strdup_printf (_("larger than %d KiB"), MAX_FILE_SIZE / 1024);
          else if (rc == CURLE_PEER_FAILED_VERIFICATION || rc == CURLE_SSL_CONNECT_ERROR ||
                   rc == CURLE_SSL_CACERT_BADFILE || rc == CURLE_RECV_ERROR)
            *why = g_strdup (_("no secure connection"));
          else if (rc == CURLE_OPERATION_TIMEDOUT)
            *why = g_strdup (_("no answer in time"));
          else
            *why = g_strdup (_("not reachable"));
          return NULL;
        }

      if (status >= 300 && status < 400 && location != NULL)
        {
          g_debug ("autoconfig: %s redirects to %s", current, location);
          g_free (current);
          current = g_steal_pointer (&location);
          continue;
        }

      if (status != 200)
        {
          g_debug ("autoconfig: %s: HTTP %ld", current, status);
          *why = g_strdup_printf (_("HTTP status %ld"), status);
          return NULL;
        }

      return g_byte_array_free_to_bytes (g_steal_pointer (&body));
    }

  *why = g_strdup (_("too many redirects"));
  return NULL;
}

/* The MX hosts of the domain, most preferred first. */
static GList *
lookup_mx (DetectData    *data,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autolist(GVariant) records = NULL;
  g_autoptr(GError) local_error = NULL;
  GList *hosts = NULL;
  guint16 best = G_MAXUINT16;

  if (data->mx_map != NULL)
    {
      g_auto(GStrv) entries = g_strsplit (data->mx_map, ";", -1);

      for (guint i = 0; entries[i] != NULL; i++)
        {
          g_auto(GStrv) kv = g_strsplit (entries[i], "=", 2);

          if (kv[0] && kv[1] && g_ascii_strcasecmp (kv[0], data->domain) == 0)
            {
              g_auto(GStrv) list = g_strsplit (kv[1], ",", -1);

              for (guint j = 0; list[j] != NULL; j++)
                if (*list[j])
                  hosts = g_list_append (hosts, g_strdup (list[j]));
            }
        }
      return hosts;
    }

  records = g_resolver_lookup_records (data->resolver, data->domain, G_RESOLVER_RECORD_MX,
                                       cancellable, &local_error);
  if (records == NULL)
    {
      if (g_error_matches (local_error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        g_propagate_error (error, g_steal_pointer (&local_error));
      else
        g_debug ("autoconfig: MX of %s: %s", data->domain, local_error ? local_error->message : "none");
      return NULL;
    }

  for (GList *l = records; l != NULL; l = l->next)
    {
      guint16 pref;
      const char *host;

      g_variant_get (l->data, "(q&s)", &pref, &host);
      if (pref < best)
        {
          best = pref;
          hosts = g_list_prepend (hosts, g_strdup (host));
        }
      else
        hosts = g_list_append (hosts, g_strdup (host));
    }
  return hosts;
}

static gboolean
host_under (const char *host,
            const char *domain)
{
  g_autofree char *h = g_ascii_strdown (host, -1);
  size_t hl = strlen (h), dl = strlen (domain);

  while (hl > 0 && h[hl - 1] == '.')
    h[--hl] = '\0';
  return hl > dl && h[hl - dl - 1] == '.' && strcmp (h + hl - dl, domain) == 0;
}

static void
detect_thread (GTask        *task,
               gpointer      source_object,
               gpointer      task_data,
               GCancellable *cancellable)
{
  DetectData *data = task_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tried = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *query = g_uri_escape_string (data->address, NULL, FALSE);
  g_autofree char *host1 = g_strconcat ("autoconfig.", data->domain, NULL);
  g_autofree char *url1 = g_strdup_printf ("https://%s/mail/config-v1.1.xml?emailaddress=%s", host1, query);
  g_autofree char *url2 = g_strdup_printf ("https://%s/.well-known/autoconfig/mail/config-v1.1.xml", data->domain);
  const char *urls[] = { url1, url2 };
  GList *mx;
  g_autofree char *tried_text = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (urls); i++)
    {
      g_autoptr(GBytes) body = NULL;
      g_autoptr(MsAutoconfigResult) result = NULL;
      g_autofree char *why = NULL;

      body = fetch (data, urls[i], cancellable, &why, &error);
      if (error != NULL)
        {
          g_task_return_error (task, g_steal_pointer (&error));
          return;
        }
      if (body != NULL)
        {
          gsize len;
          const char *xml = g_bytes_get_data (body, &len);

          result = ms_autoconfig_parse (xml ? xml : "", len, data->address, &error);
          if (result != NULL)
            {
              result->source_detail = g_strdup (urls[i]);
              g_task_return_pointer (task, g_steal_pointer (&result),
                                     (GDestroyNotify) ms_autoconfig_result_free);
              return;
            }
          g_debug ("autoconfig: %s: %s", urls[i], error->message);
          why = g_strdup (_("not a usable autoconfig file"));
          g_clear_error (&error);
        }
      /* TRANSLATORS: "https://autoconfig.example.org/… (not reachable)" */
      g_ptr_array_add (tried, g_strdup_printf (_("%s (%s)"), urls[i], why));
    }

  mx = lookup_mx (data, cancellable, &error);
  if (error != NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (mx != NULL)
    {
      const char *host = mx->data;
      const MsProviderSettings *s = NULL;
      const char *name = NULL;

      if (host_under (host, "google.com") || host_under (host, "googlemail.com"))
        {
          s = ms_provider_settings_for_id ("gmail");
          name = "Google Workspace";
        }
      else if (host_under (host, "mail.protection.outlook.com"))
        {
          s = ms_provider_settings_for_id ("office365");
          name = "Microsoft 365";
        }

      if (s != NULL)
        {
          MsAutoconfigResult *result = result_from_settings (s, data->address, name);

          result->source = MS_AUTOCONFIG_SOURCE_MX;
          result->source_detail = g_strdup (host);
          g_list_free_full (mx, g_free);
          g_task_return_pointer (task, result, (GDestroyNotify) ms_autoconfig_result_free);
          return;
        }
      /* TRANSLATORS: what was tried: "its MX records (mx.example.org), which are not Google’s or Microsoft’s" */
      g_ptr_array_add (tried, g_strdup_printf (_("its MX records (%s), which are not Google’s or Microsoft’s"), host));
      g_list_free_full (mx, g_free);
    }
  else
    g_ptr_array_add (tried, g_strdup (_("its MX records (none found)")));

  g_ptr_array_add (tried, NULL);
  tried_text = g_strjoinv ("; ", (char **) tried->pdata);
  g_task_return_new_error (task, MS_ERROR, MS_ERROR_NOT_FOUND,
                           _("No SMTP settings found for %s. Tried: the built-in table of providers; %s. "
                             "Ask your provider for the SMTP server and port and type them in."),
                           data->domain, tried_text);
}

void
ms_autoconfig_detect_async (const char          *address,
                            GCancellable        *cancellable,
                            GAsyncReadyCallback  callback,
                            gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *trimmed = NULL;
  g_autofree char *domain = NULL;
  const MsProviderSettings *s;
  DetectData *data;
  const char *env;

  g_return_if_fail (address != NULL);
  g_return_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable));

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_autoconfig_detect_async);

  if (!split_address (address, &trimmed, &domain, &error))
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  s = ms_provider_settings_for_domain (domain);
  if (s != NULL && !s->relay)
    {
      g_task_return_pointer (task, result_from_settings (s, trimmed, NULL),
                             (GDestroyNotify) ms_autoconfig_result_free);
      return;
    }

  data = g_new0 (DetectData, 1);
  data->address = g_steal_pointer (&trimmed);
  data->domain = g_steal_pointer (&domain);
  data->resolver = g_resolver_get_default ();
  env = g_getenv ("MS_AUTOCONFIG_CONNECT_TO");
  if (env != NULL)
    data->connect_to = g_strsplit (env, ",", -1);
  data->cainfo = g_strdup (g_getenv ("MS_AUTOCONFIG_CAINFO"));
  data->mx_map = g_strdup (g_getenv ("MS_AUTOCONFIG_MX"));
  g_task_set_task_data (task, data, (GDestroyNotify) detect_data_free);
  g_task_run_in_thread (task, detect_thread);
}

MsAutoconfigResult *
ms_autoconfig_detect_finish (GAsyncResult  *result,
                             GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, NULL), NULL);
  g_return_val_if_fail (g_async_result_is_tagged (result, ms_autoconfig_detect_async), NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}
