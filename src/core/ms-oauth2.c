/* ms-oauth2.c: OAuth2 sign-in (authorization code + PKCE, loopback redirect) and access tokens
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <glib/gi18n-lib.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/random.h>

#include "ms-error.h"
#include "ms-goa.h"
#include "ms-http.h"
#include "ms-oauth2.h"
#include "ms-reply.h"
#include "ms-secret.h"

/* A token endpoint answers in well under a kilobyte; anything much larger
 * is not a token response. */
#define MAX_RESPONSE_BYTES   (64 * 1024)
#define HTTP_TIMEOUT_SECONDS 30
/* The browser's request to the loopback redirect: one line and headers. */
#define MAX_REQUEST_BYTES    (16 * 1024)
#define REQUEST_TIMEOUT_SECONDS 10
/* An access token is renewed this long before it expires (at most half its
 * life, so a short-lived token is still used more than once). */
#define RENEW_MARGIN_USEC    (60 * G_USEC_PER_SEC)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (CURL, curl_easy_cleanup)

struct _MsOAuth2
{
  GObject           parent_instance;

  char             *account;
  MsOAuth2Provider  provider;
  char             *provider_key;     /* keyring attribute: never mixes two issuers */
  char             *provider_name;
  char             *user;
  char             *client_id;
  char             *auth_endpoint;
  char             *token_endpoint;
  char             *scope;
  char             *cache_key;
  char             *goa_account_id;   /* GOA provides the token; nothing of ours in the keyring */
};

G_DEFINE_FINAL_TYPE (MsOAuth2, ms_oauth2, G_TYPE_OBJECT)

/* ------------------------------------------------------------------ */
/* Access tokens in memory, shared by every MsOAuth2 of the process    */

typedef struct {
  char   *token;
  gint64  renew_at;   /* monotonic */
} CachedToken;

static GMutex      cache_lock;
static GHashTable *cache;          /* cache_key -> CachedToken */
/* One refresh at a time: the connections of a blast that all see their
 * token refused at once must not each spend (and rotate) the refresh token. */
static GMutex      refresh_lock;

void
ms_oauth2_token_free (char *token)
{
  if (token != NULL)
    {
      memset (token, 0, strlen (token));
      g_free (token);
    }
}

static void
cached_token_free (CachedToken *cached)
{
  ms_oauth2_token_free (cached->token);
  g_free (cached);
}

/* A copy of the cached token when it has time left and is not @stale. */
static char *
cache_lookup (const char *key,
              const char *stale)
{
  CachedToken *cached;
  char *token = NULL;

  g_mutex_lock (&cache_lock);
  cached = cache != NULL ? g_hash_table_lookup (cache, key) : NULL;
  if (cached != NULL && g_get_monotonic_time () < cached->renew_at &&
      (stale == NULL || strcmp (stale, cached->token) != 0))
    token = g_strdup (cached->token);
  g_mutex_unlock (&cache_lock);
  return token;
}

static void
cache_store (const char *key,
             const char *token,
             gint64      expires_in)
{
  CachedToken *cached = g_new0 (CachedToken, 1);
  gint64 life = expires_in * G_USEC_PER_SEC;

  cached->token = g_strdup (token);
  cached->renew_at = g_get_monotonic_time () + life - MIN (RENEW_MARGIN_USEC, life / 2);
  g_mutex_lock (&cache_lock);
  if (cache == NULL)
    cache = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) cached_token_free);
  g_hash_table_replace (cache, g_strdup (key), cached);
  g_mutex_unlock (&cache_lock);
}

static void
cache_forget (const char *key)
{
  g_mutex_lock (&cache_lock);
  if (cache != NULL)
    g_hash_table_remove (cache, key);
  g_mutex_unlock (&cache_lock);
}

/* ------------------------------------------------------------------ */
/* The object                                                          */

static void
ms_oauth2_finalize (GObject *object)
{
  MsOAuth2 *self = MS_OAUTH2 (object);

  g_free (self->account);
  g_free (self->provider_key);
  g_free (self->provider_name);
  g_free (self->user);
  g_free (self->client_id);
  g_free (self->auth_endpoint);
  g_free (self->token_endpoint);
  g_free (self->scope);
  g_free (self->cache_key);
  g_free (self->goa_account_id);

  G_OBJECT_CLASS (ms_oauth2_parent_class)->finalize (object);
}

static void
ms_oauth2_class_init (MsOAuth2Class *klass)
{
  G_OBJECT_CLASS (klass)->finalize = ms_oauth2_finalize;
}

static void
ms_oauth2_init (MsOAuth2 *self)
{
}

static gboolean
is_set (const char *text)
{
  return text != NULL && *text != '\0';
}

/* GNOME Online Accounts holds the sign-in: no client ID, no endpoints,
 * no refresh token of ours. */
static MsOAuth2 *
new_goa (const MsOAuth2Params  *params,
         GError               **error)
{
  g_autoptr(MsOAuth2) self = NULL;

  if (!ms_goa_is_supported ())
    {
      g_set_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                   _("The account “%s” gets its sign-in from GNOME Online Accounts, which this build of "
                     "Mailshot cannot use: let Mailshot sign in by itself (mailshot-cli config reset "
                     "goa-account-id, then mailshot-cli oauth2 sign-in)."),
                   params->account);
      return NULL;
    }
  if (!is_set (params->user))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                   _("The account “%s” signs in with OAuth2 but has no user: set “User ID” or “E-mail address”."),
                   params->account);
      return NULL;
    }

  self = g_object_new (MS_TYPE_OAUTH2, NULL);
  self->account = g_strdup (params->account);
  self->provider = params->provider;
  self->user = g_strdup (params->user);
  self->goa_account_id = g_strdup (params->goa_account_id);
  self->provider_name = g_strdup (_("GNOME Online Accounts"));
  self->provider_key = g_strdup ("goa");
  self->client_id = g_strdup ("");
  self->scope = g_strdup ("");
  self->cache_key = g_strjoin ("\x1f", self->account, self->provider_key, self->goa_account_id, self->user, NULL);
  return g_steal_pointer (&self);
}

/**
 * ms_oauth2_new:
 * @params: what the account says
 * @error: return location for a #GError
 *
 * Returns: (transfer full): the sign-in of one account and user, or %NULL
 *   with %MS_ERROR_NOT_CONFIGURED
 */
MsOAuth2 *
ms_oauth2_new (const MsOAuth2Params  *params,
               GError               **error)
{
  g_autoptr(MsOAuth2) self = NULL;
  MsProviderOAuth2 builtin;

  g_return_val_if_fail (params != NULL && params->account != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (is_set (params->goa_account_id))
    return new_goa (params, error);

  if (!is_set (params->client_id))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                   _("The account “%s” signs in with OAuth2 but has no client ID: set “OAuth2 client ID” "
                     "(mailshot-cli config set oauth2-client-id ID) to the ID your organisation registered "
                     "with the provider."),
                   params->account);
      return NULL;
    }
  if (!is_set (params->user))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                   _("The account “%s” signs in with OAuth2 but has no user: set “User ID” or “E-mail address”."),
                   params->account);
      return NULL;
    }

  self = g_object_new (MS_TYPE_OAUTH2, NULL);
  self->account = g_strdup (params->account);
  self->provider = params->provider;
  self->user = g_strdup (params->user);
  self->client_id = g_strdup (params->client_id);

  if (ms_provider_get_oauth2 (params->provider, params->tenant, &builtin))
    {
      self->auth_endpoint = g_steal_pointer (&builtin.auth_endpoint);
      self->token_endpoint = g_steal_pointer (&builtin.token_endpoint);
      self->scope = g_steal_pointer (&builtin.scope);
      self->provider_name = g_strdup (builtin.name);
      self->provider_key = g_strdup (params->provider == MS_OAUTH2_PROVIDER_GOOGLE ? "google" : "microsoft");
      ms_provider_oauth2_clear (&builtin);
    }
  else
    {
      g_autoptr(GUri) uri = NULL;

      if (!is_set (params->auth_endpoint) || !is_set (params->token_endpoint))
        {
          g_set_error (error, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                       _("The account “%s” uses a custom OAuth2 provider but lacks its addresses: set "
                         "“OAuth2 authorization endpoint” and “OAuth2 token endpoint” (the keys "
                         "oauth2-auth-endpoint and oauth2-token-endpoint)."),
                       params->account);
          return NULL;
        }
      self->auth_endpoint = g_strdup (params->auth_endpoint);
      self->token_endpoint = g_strdup (params->token_endpoint);
      self->scope = g_strdup (is_set (params->scope) ? params->scope : "");
      uri = g_uri_parse (self->token_endpoint, G_URI_FLAGS_NONE, NULL);
      self->provider_name = g_strdup (uri != NULL && g_uri_get_host (uri) != NULL
                                        ? g_uri_get_host (uri) : self->token_endpoint);
      self->provider_key = g_strconcat ("custom:", self->token_endpoint, NULL);
    }

  self->cache_key = g_strjoin ("\x1f", self->account, self->provider_key, self->user, self->client_id, NULL);
  return g_steal_pointer (&self);
}

const char *
ms_oauth2_get_user (MsOAuth2 *self)
{
  g_return_val_if_fail (MS_IS_OAUTH2 (self), NULL);
  return self->user;
}

const char *
ms_oauth2_get_provider_name (MsOAuth2 *self)
{
  g_return_val_if_fail (MS_IS_OAUTH2 (self), NULL);
  return self->provider_name;
}

const char *
ms_oauth2_get_goa_account_id (MsOAuth2 *self)
{
  g_return_val_if_fail (MS_IS_OAUTH2 (self), NULL);
  return self->goa_account_id;
}

/* ------------------------------------------------------------------ */
/* PKCE and state: random, base64url without padding                   */

static char *
base64url (const guint8 *data,
           gsize         len)
{
  char *text = g_base64_encode (data, len);
  gsize n = strlen (text);

  for (gsize i = 0; i < n; i++)
    if (text[i] == '+')
      text[i] = '-';
    else if (text[i] == '/')
      text[i] = '_';
  while (n > 0 && text[n - 1] == '=')
    text[--n] = '\0';
  return text;
}

static gboolean
random_bytes (guint8  *buf,
              gsize    len,
              GError **error)
{
  gsize done = 0;

  while (done < len)
    {
      ssize_t n = getrandom (buf + done, len - done, 0);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                       _("The system gave no random numbers for the sign-in (%s)."), g_strerror (errno));
          return FALSE;
        }
      done += n;
    }
  return TRUE;
}

/* RFC 7636: 32 random bytes make a 43-character verifier; the challenge
 * is base64url(SHA-256(verifier)). */
static char *
make_random_token (gsize    bytes,
                   GError **error)
{
  guint8 buf[64];

  g_assert (bytes <= sizeof buf);
  if (!random_bytes (buf, bytes, error))
    return NULL;
  return base64url (buf, bytes);
}

static char *
pkce_challenge (const char *verifier)
{
  g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize len = sizeof digest;

  g_checksum_update (sha, (const guchar *) verifier, strlen (verifier));
  g_checksum_get_digest (sha, digest, &len);
  return base64url (digest, len);
}

/* ------------------------------------------------------------------ */
/* The token endpoint over HTTPS                                       */

static gboolean
host_is_loopback (const char *url)
{
  g_autoptr(GUri) uri = g_uri_parse (url, G_URI_FLAGS_NONE, NULL);
  const char *host = uri != NULL ? g_uri_get_host (uri) : NULL;

  if (host == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (host, "localhost") == 0)
    return TRUE;
  if (g_hostname_is_ip_address (host))
    {
      g_autoptr(GInetAddress) address = g_inet_address_new_from_string (host);
      return address != NULL && g_inet_address_get_is_loopback (address);
    }
  return FALSE;
}

static void
form_add (GString    *form,
          const char *name,
          const char *value)
{
  g_autofree char *escaped = g_uri_escape_string (value, NULL, FALSE);

  if (form->len > 0)
    g_string_append_c (form, '&');
  g_string_append (form, name);
  g_string_append_c (form, '=');
  g_string_append (form, escaped);
}

static void
wipe_string (GString *str)
{
  memset (str->str, 0, str->len);
}

/* POSTs @form to the token endpoint and parses the JSON object it answers,
 * whatever the HTTP status (errors come as JSON with status 400). */
static JsonObject *
post_form (MsOAuth2      *self,
           const char    *form,
           long          *status,
           GCancellable  *cancellable,
           GError       **error)
{
  g_autoptr(CURL) curl = curl_easy_init ();
  g_autoptr(GByteArray) body = g_byte_array_new ();
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) json_error = NULL;
  MsHttpSink http = { body, MAX_RESPONSE_BYTES, FALSE, cancellable };
  struct curl_slist *headers = NULL;
  char errbuf[CURL_ERROR_SIZE] = "";
  const char *ca_file = g_getenv (MS_OAUTH2_TEST_CA_ENV);
  JsonNode *root;
  CURLcode rc;

  if (curl == NULL)
    {
      g_set_error_literal (error, MS_ERROR, MS_ERROR_FAILED, _("Out of memory."));
      return NULL;
    }

  headers = curl_slist_append (headers, "Accept: application/json");
  ms_http_setup (curl, self->token_endpoint, errbuf, &http);
  curl_easy_setopt (curl, CURLOPT_POSTFIELDS, form);
  curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt (curl, CURLOPT_CONNECTTIMEOUT, (long) HTTP_TIMEOUT_SECONDS);
  curl_easy_setopt (curl, CURLOPT_TIMEOUT, (long) HTTP_TIMEOUT_SECONDS);
  /* The test CA vouches for loopback test servers only. */
  if (ca_file != NULL && *ca_file != '\0' && host_is_loopback (self->token_endpoint))
    curl_easy_setopt (curl, CURLOPT_CAINFO, ca_file);

  rc = curl_easy_perform (curl);
  curl_slist_free_all (headers);
  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, status);
  g_debug ("OAuth2: POST to %s: CURLcode %d (%s), HTTP %ld, %u bytes",
           self->provider_name, (int) rc, errbuf, *status, body->len);

  switch ((int) rc)
    {
    case CURLE_OK:
      break;
    case CURLE_ABORTED_BY_CALLBACK:
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The operation was cancelled"));
      return NULL;
    case CURLE_COULDNT_RESOLVE_HOST:
      g_set_error (error, MS_ERROR, MS_ERROR_RESOLVE,
                   _("The sign-in server of %s could not be found: check the network connection and try again."),
                   self->provider_name);
      return NULL;
    case CURLE_COULDNT_CONNECT:
      g_set_error (error, MS_ERROR, MS_ERROR_CONNECT,
                   _("The sign-in server of %s refused the connection: check the network connection and try again."),
                   self->provider_name);
      return NULL;
    case CURLE_OPERATION_TIMEDOUT:
      g_set_error (error, MS_ERROR, MS_ERROR_TIMEOUT,
                   _("The sign-in server of %s did not answer within %d seconds: try again later."),
                   self->provider_name, HTTP_TIMEOUT_SECONDS);
      return NULL;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
      g_set_error (error, MS_ERROR, MS_ERROR_TLS,
                   _("The sign-in server of %s could not prove who it is (%s): the network may be intercepting "
                     "the connection. Try again on another network."),
                   self->provider_name, errbuf);
      return NULL;
    case CURLE_WRITE_ERROR:
      if (http.too_big)
        {
          g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                       _("The sign-in server of %s sent an answer of more than %d KiB, which is not a token: "
                         "check the OAuth2 token endpoint."),
                       self->provider_name, MAX_RESPONSE_BYTES / 1024);
          return NULL;
        }
      G_GNUC_FALLTHROUGH;
    default:
      g_set_error (error, MS_ERROR, MS_ERROR_CONNECT,
                   _("The sign-in server of %s could not be reached (%s): try again later."),
                   self->provider_name, errbuf[0] ? errbuf : curl_easy_strerror (rc));
      return NULL;
    }

  if (!json_parser_load_from_data (parser, (const char *) body->data, body->len, &json_error) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_debug ("OAuth2: the answer is not a JSON object: %s", json_error ? json_error->message : "");
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                   _("The sign-in server of %s answered with HTTP status %ld and no token: check the OAuth2 "
                     "token endpoint."),
                   self->provider_name, *status);
      return NULL;
    }
  return json_object_ref (json_node_get_object (root));
}

static const char *
member_string (JsonObject *object,
               const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* expires_in is a number, or a string of digits at some providers. */
static gint64
member_seconds (JsonObject *object,
                const char *name,
                gint64      fallback)
{
  JsonNode *node = json_object_get_member (object, name);
  gint64 value = fallback;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return fallback;
  if (json_node_get_value_type (node) == G_TYPE_INT64)
    value = json_node_get_int (node);
  else if (json_node_get_value_type (node) == G_TYPE_DOUBLE)
    value = (gint64) json_node_get_double (node);
  else if (json_node_get_value_type (node) == G_TYPE_STRING &&
           !g_ascii_string_to_signed (json_node_get_string (node), 10, 0, G_MAXINT32, &value, NULL))
    value = fallback;
  return CLAMP (value, 1, G_MAXINT32);
}

/* The error of a token response as a sentence; invalid_grant while
 * refreshing means the sign-in itself is gone. */
static void
set_token_error (MsOAuth2    *self,
                 JsonObject  *object,
                 long         status,
                 gboolean     refreshing,
                 GError     **error)
{
  const char *code = member_string (object, "error");
  const char *description = member_string (object, "error_description");
  g_autofree char *clean = description != NULL ? ms_reply_sanitize_text (description, -1) : NULL;
  g_autofree char *said = NULL;

  g_debug ("OAuth2: %s answered HTTP %ld, error %s", self->provider_name, status, code ? code : "(none)");
  said = g_strdup_printf ("%s%s%s", code != NULL ? code : "", clean != NULL ? ": " : "", clean != NULL ? clean : "");

  if (refreshing && g_strcmp0 (code, "invalid_grant") == 0)
    g_set_error (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED,
                 _("The sign-in with %s for “%s” has expired or was revoked: sign in again "
                   "(mailshot-cli oauth2 sign-in, or Sign In in Account settings). %s said: %s"),
                 self->provider_name, self->user, self->provider_name, said);
  else if (g_strcmp0 (code, "invalid_client") == 0 || g_strcmp0 (code, "unauthorized_client") == 0)
    g_set_error (error, MS_ERROR, MS_ERROR_MISCONFIGURED,
                 _("%s does not accept the client ID of this account: check “OAuth2 client ID” with the "
                   "person who registered the application. %s said: %s"),
                 self->provider_name, self->provider_name, said);
  else if (code != NULL)
    g_set_error (error, MS_ERROR, MS_ERROR_AUTH,
                 _("%s refused the sign-in: %s"), self->provider_name, said);
  else
    g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                 _("The sign-in server of %s answered with HTTP status %ld and no token: check the OAuth2 "
                   "token endpoint."),
                 self->provider_name, status);
}

/* Takes the access token out of a token response, keeps it in memory and
 * stores a new refresh token. */
static char *
take_tokens (MsOAuth2      *self,
             JsonObject    *object,
             long           status,
             gboolean       refreshing,
             GCancellable  *cancellable,
             GError       **error)
{
  const char *access = member_string (object, "access_token");
  const char *refresh = member_string (object, "refresh_token");
  const char *type = member_string (object, "token_type");

  if (status != 200 || access == NULL || *access == '\0')
    {
      set_token_error (self, object, status, refreshing, error);
      return NULL;
    }
  if (type != NULL && g_ascii_strcasecmp (type, "Bearer") != 0)
    {
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                   _("%s issued a token of type “%s”; SMTP needs a Bearer token: check the OAuth2 token endpoint."),
                   self->provider_name, type);
      return NULL;
    }
  if (!refreshing && (refresh == NULL || *refresh == '\0'))
    {
      g_set_error (error, MS_ERROR, MS_ERROR_FAILED,
                   _("%s signed you in but issued no refresh token, so the sign-in would end within the hour. "
                     "Check that the application may ask for offline access, then sign in again."),
                   self->provider_name);
      return NULL;
    }
  /* Providers may rotate the refresh token; the new one replaces the old. */
  if (refresh != NULL && *refresh != '\0' &&
      !ms_secret_store_token_sync (self->account, self->provider_key, self->user, refresh, cancellable, error))
    return NULL;

  cache_store (self->cache_key, access, member_seconds (object, "expires_in", 3600));
  g_debug ("OAuth2: new access token from %s for %s, valid %" G_GINT64_FORMAT " s",
           self->provider_name, self->user, member_seconds (object, "expires_in", 3600));
  return g_strdup (access);
}

/* ------------------------------------------------------------------ */
/* Access tokens                                                       */

/* GOA's token, kept in memory like ours: a blast asks before every message. */
static char *
get_goa_token (MsOAuth2      *self,
               const char    *stale,
               GCancellable  *cancellable,
               GError       **error)
{
#ifdef MS_HAVE_GOA
  int expires_in = 0;
  char *token = ms_goa_get_access_token_sync (self->goa_account_id, self->user, stale, &expires_in,
                                              cancellable, error);

  if (token != NULL)
    cache_store (self->cache_key, token, MAX (expires_in, 1));
  return token;
#else
  g_assert_not_reached ();
  return NULL;
#endif
}

char *
ms_oauth2_get_access_token (MsOAuth2      *self,
                            const char    *stale,
                            GCancellable  *cancellable,
                            GError       **error)
{
  g_autoptr(JsonObject) answer = NULL;
  g_autoptr(GString) form = NULL;
  char *refresh_token = NULL;
  char *token;
  long status = 0;

  g_return_val_if_fail (MS_IS_OAUTH2 (self), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  token = cache_lookup (self->cache_key, stale);
  if (token != NULL)
    return token;

  g_mutex_lock (&refresh_lock);
  /* Another thread may have refreshed while this one waited. */
  token = cache_lookup (self->cache_key, stale);
  if (token != NULL)
    goto out;

  if (self->goa_account_id != NULL)
    {
      token = get_goa_token (self, stale, cancellable, error);
      goto out;
    }

  refresh_token = ms_secret_lookup_token_sync (self->account, self->provider_key, self->user, cancellable, error);
  if (refresh_token == NULL)
    goto out;

  form = g_string_new (NULL);
  form_add (form, "grant_type", "refresh_token");
  form_add (form, "refresh_token", refresh_token);
  form_add (form, "client_id", self->client_id);
  if (*self->scope != '\0')
    form_add (form, "scope", self->scope);
  ms_secret_free (refresh_token);

  answer = post_form (self, form->str, &status, cancellable, error);
  wipe_string (form);
  if (answer != NULL)
    token = take_tokens (self, answer, status, TRUE, cancellable, error);

out:
  g_mutex_unlock (&refresh_lock);
  return token;
}

static void
get_token_thread (GTask        *task,
                  gpointer      source,
                  gpointer      task_data,
                  GCancellable *cancellable)
{
  GError *error = NULL;
  char *token = ms_oauth2_get_access_token (source, NULL, cancellable, &error);

  if (token == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, token, (GDestroyNotify) ms_oauth2_token_free);
}

/**
 * ms_oauth2_get_access_token_async:
 *
 * ms_oauth2_get_access_token() in a worker thread.
 */
void
ms_oauth2_get_access_token_async (MsOAuth2            *self,
                                  GCancellable        *cancellable,
                                  GAsyncReadyCallback  callback,
                                  gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MS_IS_OAUTH2 (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_oauth2_get_access_token_async);
  g_task_run_in_thread (task, get_token_thread);
}

/**
 * ms_oauth2_get_access_token_finish:
 *
 * Returns: (transfer full): the token; free it with ms_oauth2_token_free()
 */
char *
ms_oauth2_get_access_token_finish (MsOAuth2      *self,
                                   GAsyncResult  *result,
                                   GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_oauth2_get_access_token_async, NULL);

  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
has_sign_in_thread (GTask        *task,
                    gpointer      source,
                    gpointer      task_data,
                    GCancellable *cancellable)
{
  MsOAuth2 *self = source;
  g_autoptr(GError) error = NULL;
  char *token;

  /* Online Accounts keeps the sign-in: whether it still holds is its to say. */
  if (self->goa_account_id != NULL)
    {
      g_task_return_boolean (task, TRUE);
      return;
    }
  token = ms_secret_lookup_token_sync (self->account, self->provider_key, self->user, cancellable, &error);
  if (token != NULL)
    {
      ms_secret_free (token);
      g_task_return_boolean (task, TRUE);
    }
  else if (error != NULL && !g_error_matches (error, MS_ERROR, MS_ERROR_SIGN_IN_REQUIRED) &&
           !g_error_matches (error, MS_ERROR, MS_ERROR_NO_PASSWORD))
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, FALSE);
}

/**
 * ms_oauth2_has_sign_in_async:
 *
 * Whether this app keeps a sign-in for these settings (a refresh token in
 * the keyring), without asking the provider: what the settings window says
 * when it opens. A token the provider has revoked since still counts; the
 * next send finds out and says to sign in again.
 */
void
ms_oauth2_has_sign_in_async (MsOAuth2            *self,
                             GCancellable        *cancellable,
                             GAsyncReadyCallback  callback,
                             gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;

  g_return_if_fail (MS_IS_OAUTH2 (self));

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_oauth2_has_sign_in_async);
  g_task_run_in_thread (task, has_sign_in_thread);
}

gboolean
ms_oauth2_has_sign_in_finish (MsOAuth2      *self,
                              GAsyncResult  *result,
                              GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

/**
 * ms_oauth2_sign_out:
 *
 * Returns: %FALSE when the keyring could not be reached
 */
gboolean
ms_oauth2_sign_out (MsOAuth2      *self,
                    GCancellable  *cancellable,
                    GError       **error)
{
  g_return_val_if_fail (MS_IS_OAUTH2 (self), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  cache_forget (self->cache_key);
  /* Online Accounts keeps its own sign-in; there is nothing of ours to remove. */
  if (self->goa_account_id != NULL)
    return TRUE;
  return ms_secret_clear_token_sync (self->account, self->provider_key, self->user, cancellable, error);
}

/* ------------------------------------------------------------------ */
/* Signing in: the loopback redirect                                   */

typedef struct {
  /* Set before the listener starts, read by its threads. */
  char         *state;
  GMainContext *context;
  /* The task's own, in its context only. */
  GTask        *waiting;     /* the task while the browser has not come back (a cycle, broken then) */
  MsOAuth2     *self;
  char         *verifier;
  char         *redirect_uri;
  GSocketService *service;
  GSource      *cancel_source;
  char         *code;
} SignIn;

static void
sign_in_free (gpointer data)
{
  SignIn *sign_in = data;

  g_free (sign_in->state);
  g_main_context_unref (sign_in->context);
  g_assert (sign_in->waiting == NULL);
  g_clear_object (&sign_in->self);
  if (sign_in->verifier != NULL)
    memset (sign_in->verifier, 0, strlen (sign_in->verifier));
  g_free (sign_in->verifier);
  g_free (sign_in->redirect_uri);
  if (sign_in->service != NULL)
    {
      g_socket_service_stop (sign_in->service);
      g_socket_listener_close (G_SOCKET_LISTENER (sign_in->service));
      g_clear_object (&sign_in->service);
    }
  if (sign_in->cancel_source != NULL)
    {
      g_source_destroy (sign_in->cancel_source);
      g_source_unref (sign_in->cancel_source);
    }
  if (sign_in->code != NULL)
    memset (sign_in->code, 0, strlen (sign_in->code));
  g_free (sign_in->code);
}

static SignIn *
sign_in_ref (SignIn *sign_in)
{
  return g_atomic_rc_box_acquire (sign_in);
}

static void
sign_in_unref (SignIn *sign_in)
{
  g_atomic_rc_box_release_full (sign_in, sign_in_free);
}

/* What the browser brought back, handed from a listener thread to the task. */
typedef struct {
  SignIn *sign_in;
  char   *code;
  char   *error;
  char   *description;
} Redirect;

static void
redirect_free (Redirect *redirect)
{
  sign_in_unref (redirect->sign_in);
  if (redirect->code != NULL)
    memset (redirect->code, 0, strlen (redirect->code));
  g_free (redirect->code);
  g_free (redirect->error);
  g_free (redirect->description);
  g_free (redirect);
}

static void
stop_listening (SignIn *sign_in)
{
  if (sign_in->service != NULL)
    {
      g_socket_service_stop (sign_in->service);
      g_socket_listener_close (G_SOCKET_LISTENER (sign_in->service));
      g_clear_object (&sign_in->service);
    }
  if (sign_in->cancel_source != NULL)
    {
      g_source_destroy (sign_in->cancel_source);
      g_clear_pointer (&sign_in->cancel_source, g_source_unref);
    }
}

static void
exchange_thread (GTask        *task,
                 gpointer      source,
                 gpointer      task_data,
                 GCancellable *cancellable)
{
  MsOAuth2 *self = source;
  SignIn *sign_in = task_data;
  g_autoptr(GString) form = g_string_new (NULL);
  g_autoptr(JsonObject) answer = NULL;
  GError *error = NULL;
  char *token = NULL;
  long status = 0;

  form_add (form, "grant_type", "authorization_code");
  form_add (form, "code", sign_in->code);
  form_add (form, "redirect_uri", sign_in->redirect_uri);
  form_add (form, "client_id", self->client_id);
  form_add (form, "code_verifier", sign_in->verifier);
  if (*self->scope != '\0')
    form_add (form, "scope", self->scope);

  g_mutex_lock (&refresh_lock);
  answer = post_form (self, form->str, &status, cancellable, &error);
  wipe_string (form);
  if (answer != NULL)
    token = take_tokens (self, answer, status, FALSE, cancellable, &error);
  g_mutex_unlock (&refresh_lock);

  if (token == NULL)
    {
      g_task_return_error (task, error);
      return;
    }
  ms_oauth2_token_free (token);
  g_debug ("OAuth2: %s signed in with %s", self->user, self->provider_name);
  g_task_return_boolean (task, TRUE);
}

static gboolean
deliver_redirect (gpointer data)
{
  Redirect *redirect = data;
  SignIn *sign_in = redirect->sign_in;
  g_autoptr(GTask) task = g_steal_pointer (&sign_in->waiting);

  /* Only the first answer counts; a second tab finds the task gone. */
  if (task == NULL)
    return G_SOURCE_REMOVE;

  stop_listening (sign_in);

  if (redirect->error != NULL)
    {
      if (strcmp (redirect->error, "access_denied") == 0)
        g_task_return_new_error (task, MS_ERROR, MS_ERROR_AUTH,
                                 _("The sign-in with %s was declined%s%s. To send with this account, sign in "
                                   "again and accept the request; if your organisation must approve the "
                                   "application first, ask its administrator."),
                                 sign_in->self->provider_name,
                                 redirect->description != NULL ? ": " : "",
                                 redirect->description != NULL ? redirect->description : "");
      else
        g_task_return_new_error (task, MS_ERROR, MS_ERROR_AUTH,
                                 _("%s refused the sign-in: %s%s%s. Check “OAuth2 client ID” (and the tenant "
                                   "for Microsoft), then sign in again."),
                                 sign_in->self->provider_name, redirect->error,
                                 redirect->description != NULL ? ": " : "",
                                 redirect->description != NULL ? redirect->description : "");
      return G_SOURCE_REMOVE;
    }

  sign_in->code = g_steal_pointer (&redirect->code);
  g_task_run_in_thread (task, exchange_thread);
  return G_SOURCE_REMOVE;
}

static char *
page (const char *title,
      const char *text)
{
  g_autofree char *t = g_markup_escape_text (title, -1);
  g_autofree char *b = g_markup_escape_text (text, -1);

  return g_strdup_printf ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>%s</title></head>"
                          "<body style=\"font-family: sans-serif; margin: 3em\"><h1>%s</h1><p>%s</p></body></html>\n",
                          t, t, b);
}

static void
respond (GOutputStream *out,
         int            status,
         const char    *reason,
         const char    *html)
{
  g_autofree char *head = g_strdup_printf ("HTTP/1.1 %d %s\r\n"
                                           "Content-Type: text/html; charset=utf-8\r\n"
                                           "Content-Length: %" G_GSIZE_FORMAT "\r\n"
                                           "Cache-Control: no-store\r\n"
                                           "Connection: close\r\n\r\n",
                                           status, reason, strlen (html));

  if (!g_output_stream_write_all (out, head, strlen (head), NULL, NULL, NULL) ||
      !g_output_stream_write_all (out, html, strlen (html), NULL, NULL, NULL))
    g_debug ("OAuth2: the browser went away before the answer");
}

/* One connection from the browser, in a thread of the service: reads the
 * request line, checks the state, answers, and hands the result over. */
static gboolean
on_run (GThreadedSocketService *service,
        GSocketConnection      *connection,
        GObject                *source_object,
        gpointer                user_data)
{
  SignIn *sign_in = user_data;
  GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (connection));
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autoptr(GByteArray) request = g_byte_array_new ();
  g_autoptr(GHashTable) params = NULL;
  g_autoptr(GUri) uri = NULL;
  g_auto(GStrv) words = NULL;
  g_autofree char *line = NULL;
  g_autofree char *html = NULL;
  const char *end = NULL;
  const char *state, *code, *err;
  Redirect *redirect;

  g_socket_set_timeout (g_socket_connection_get_socket (connection), REQUEST_TIMEOUT_SECONDS);
  while (request->len < MAX_REQUEST_BYTES)
    {
      guint8 buf[2048];
      gssize n = g_input_stream_read (in, buf, sizeof buf, NULL, NULL);

      if (n <= 0)
        break;
      g_byte_array_append (request, buf, n);
      end = g_strstr_len ((const char *) request->data, request->len, "\r\n");
      if (end != NULL)
        break;
    }
  if (end == NULL)
    {
      respond (out, 400, "Bad Request", "");
      return TRUE;
    }

  line = g_strndup ((const char *) request->data, end - (const char *) request->data);
  words = g_strsplit (line, " ", 3);
  if (g_strv_length (words) != 3 || strcmp (words[0], "GET") != 0 || words[1][0] != '/')
    {
      respond (out, 400, "Bad Request", "");
      return TRUE;
    }
  {
    g_autofree char *full = g_strconcat ("http://127.0.0.1", words[1], NULL);
    uri = g_uri_parse (full, G_URI_FLAGS_ENCODED_QUERY, NULL);
  }
  if (uri == NULL || strcmp (g_uri_get_path (uri), "/") != 0)
    {
      /* The browser also asks for /favicon.ico. */
      respond (out, 404, "Not Found", "");
      return TRUE;
    }
  if (g_uri_get_query (uri) != NULL)
    params = g_uri_parse_params (g_uri_get_query (uri), -1, "&", G_URI_PARAMS_WWW_FORM, NULL);

  state = params != NULL ? g_hash_table_lookup (params, "state") : NULL;
  code = params != NULL ? g_hash_table_lookup (params, "code") : NULL;
  err = params != NULL ? g_hash_table_lookup (params, "error") : NULL;

  /* Anything without our state did not come from the sign-in we started
   * (RFC 6749 10.12): refused, and the sign-in goes on waiting. */
  if (state == NULL || strcmp (state, sign_in->state) != 0 || (code == NULL && err == NULL))
    {
      g_debug ("OAuth2: a request to the redirect without the expected state");
      html = page (_("Mailshot: not this sign-in"),
                   _("This page does not belong to the sign-in Mailshot is waiting for. Start the sign-in again "
                     "from Mailshot."));
      respond (out, 400, "Bad Request", html);
      return TRUE;
    }

  redirect = g_new0 (Redirect, 1);
  redirect->sign_in = sign_in_ref (sign_in);
  if (err != NULL)
    {
      const char *description = g_hash_table_lookup (params, "error_description");

      redirect->error = ms_reply_sanitize_text (err, -1);
      redirect->description = description != NULL ? ms_reply_sanitize_text (description, -1) : NULL;
      html = page (_("Mailshot: sign-in failed"),
                   _("The sign-in did not succeed. You can close this tab; Mailshot says what happened."));
    }
  else
    {
      redirect->code = g_strdup (code);
      html = page (_("Mailshot: signed in"), _("You can close this tab and return to Mailshot."));
    }
  respond (out, 200, "OK", html);
  g_main_context_invoke_full (sign_in->context, G_PRIORITY_DEFAULT, deliver_redirect, redirect,
                              (GDestroyNotify) redirect_free);
  return TRUE;
}

static gboolean
on_cancelled (GCancellable *cancellable,
              gpointer      user_data)
{
  SignIn *sign_in = user_data;
  g_autoptr(GTask) task = g_steal_pointer (&sign_in->waiting);

  if (task != NULL)
    {
      stop_listening (sign_in);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CANCELLED, _("The sign-in was cancelled"));
    }
  return G_SOURCE_REMOVE;
}

void
ms_oauth2_sign_in_async (MsOAuth2            *self,
                         MsOAuth2UriFunc      uri_func,
                         gpointer             uri_data,
                         GCancellable        *cancellable,
                         GAsyncReadyCallback  callback,
                         gpointer             user_data)
{
  g_autoptr(GTask) task = NULL;
  g_autoptr(GInetAddress) loopback = NULL;
  g_autoptr(GSocketAddress) any_port = NULL;
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) url = NULL;
  g_autofree char *challenge = NULL;
  SignIn *sign_in;
  guint16 port;

  g_return_if_fail (MS_IS_OAUTH2 (self));
  g_return_if_fail (uri_func != NULL);

  task = g_task_new (self, cancellable, callback, user_data);
  g_task_set_source_tag (task, ms_oauth2_sign_in_async);
  if (self->goa_account_id != NULL)
    {
      g_task_return_new_error (task, MS_ERROR, MS_ERROR_NOT_CONFIGURED,
                               _("The account “%s” signs in through GNOME Online Accounts: sign in there "
                                 "(Settings → Online Accounts). To let Mailshot sign in by itself instead: "
                                 "mailshot-cli config reset goa-account-id."),
                               self->account);
      return;
    }
  /* The exchange must finish once the code is in: a half-done sign-in
   * leaves a refresh token nobody has. */
  g_task_set_return_on_cancel (task, FALSE);

  sign_in = g_atomic_rc_box_new0 (SignIn);
  g_task_set_task_data (task, sign_in, (GDestroyNotify) sign_in_unref);
  sign_in->self = g_object_ref (self);
  sign_in->context = g_main_context_ref_thread_default ();

  sign_in->verifier = make_random_token (32, &error);
  sign_in->state = sign_in->verifier != NULL ? make_random_token (16, &error) : NULL;
  if (sign_in->state == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }

  /* RFC 8252 7.3: the loopback IP literal, any free port, plain HTTP
   * (the code is useless without the verifier). */
  sign_in->service = g_threaded_socket_service_new (2);
  loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  any_port = g_inet_socket_address_new (loopback, 0);
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (sign_in->service), any_port, G_SOCKET_TYPE_STREAM,
                                      G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error))
    {
      g_debug ("OAuth2: cannot listen on 127.0.0.1: %s", error->message);
      g_task_return_new_error (task, MS_ERROR, MS_ERROR_FAILED,
                               _("The sign-in needs to listen on 127.0.0.1 for the browser to come back, and "
                                 "could not (%s)."), error->message);
      return;
    }
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  sign_in->redirect_uri = g_strdup_printf ("http://127.0.0.1:%u/", port);
  g_signal_connect_data (sign_in->service, "run", G_CALLBACK (on_run), sign_in_ref (sign_in),
                         (GClosureNotify) (void (*) (void)) sign_in_unref, 0);

  if (cancellable != NULL)
    {
      sign_in->cancel_source = g_cancellable_source_new (cancellable);
      g_source_set_callback (sign_in->cancel_source, G_SOURCE_FUNC (on_cancelled), sign_in, NULL);
      g_source_attach (sign_in->cancel_source, sign_in->context);
    }

  challenge = pkce_challenge (sign_in->verifier);
  url = g_string_new (self->auth_endpoint);
  g_string_append_c (url, strchr (self->auth_endpoint, '?') != NULL ? '&' : '?');
  {
    g_autoptr(GString) query = g_string_new (NULL);

    form_add (query, "response_type", "code");
    form_add (query, "client_id", self->client_id);
    form_add (query, "redirect_uri", sign_in->redirect_uri);
    if (*self->scope != '\0')
      form_add (query, "scope", self->scope);
    form_add (query, "state", sign_in->state);
    form_add (query, "code_challenge", challenge);
    form_add (query, "code_challenge_method", "S256");
    form_add (query, "login_hint", self->user);
    /* Google issues a refresh token only for offline access, and again
     * only when asked for consent. */
    if (self->provider == MS_OAUTH2_PROVIDER_GOOGLE)
      {
        form_add (query, "access_type", "offline");
        form_add (query, "prompt", "consent");
      }
    g_string_append (url, query->str);
  }

  sign_in->waiting = g_object_ref (task);
  g_socket_service_start (sign_in->service);
  g_debug ("OAuth2: waiting for the browser on 127.0.0.1:%u", port);
  uri_func (url->str, uri_data);
}

gboolean
ms_oauth2_sign_in_finish (MsOAuth2      *self,
                          GAsyncResult  *result,
                          GError       **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == ms_oauth2_sign_in_async, FALSE);

  return g_task_propagate_boolean (G_TASK (result), error);
}
