/* ms-http.c: what the core's HTTPS clients (autoconfig, the OAuth2 token endpoint) share
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-http.h"

static size_t
sink_write_cb (char   *ptr,
               size_t  size,
               size_t  nmemb,
               void   *user_data)
{
  MsHttpSink *sink = user_data;
  size_t n = size * nmemb;

  if (sink->body->len + n > sink->max)
    {
      sink->too_big = TRUE;
      return 0;   /* libcurl stops with CURLE_WRITE_ERROR */
    }
  g_byte_array_append (sink->body, (const guint8 *) ptr, n);
  return n;
}

static int
sink_progress_cb (void       *user_data,
                  curl_off_t  dltotal,
                  curl_off_t  dlnow,
                  curl_off_t  ultotal,
                  curl_off_t  ulnow)
{
  MsHttpSink *sink = user_data;

  return g_cancellable_is_cancelled (sink->cancellable) ? 1 : 0;
}

/**
 * ms_http_setup:
 * @curl: a new easy handle
 * @url: the URL to fetch
 * @errbuf: a buffer of CURL_ERROR_SIZE bytes for libcurl's error message
 * @sink: where the body goes; it must outlive the transfer
 *
 * The options every HTTPS request of the core has: HTTPS only, no
 * redirect followed by libcurl (the caller checks any target itself), no
 * signals (it runs in a worker thread), the body into @sink and the
 * transfer stopped by @sink's cancellable. The caller adds its timeouts,
 * its certificates and the rest.
 */
void
ms_http_setup (CURL       *curl,
               const char *url,
               char       *errbuf,
               MsHttpSink *sink)
{
  g_return_if_fail (curl != NULL);
  g_return_if_fail (url != NULL);
  g_return_if_fail (errbuf != NULL);
  g_return_if_fail (sink != NULL && sink->body != NULL);

  curl_easy_setopt (curl, CURLOPT_URL, url);
  curl_easy_setopt (curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt (curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt (curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt (curl, CURLOPT_USERAGENT, "Mailshot/" PACKAGE_VERSION);
  curl_easy_setopt (curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, sink_write_cb);
  curl_easy_setopt (curl, CURLOPT_WRITEDATA, sink);
  curl_easy_setopt (curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt (curl, CURLOPT_XFERINFOFUNCTION, sink_progress_cb);
  curl_easy_setopt (curl, CURLOPT_XFERINFODATA, sink);
}
