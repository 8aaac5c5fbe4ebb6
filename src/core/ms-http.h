/* ms-http.h: what the core's HTTPS clients (autoconfig, the OAuth2 token endpoint) share
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <curl/curl.h>
#include <gio/gio.h>

G_BEGIN_DECLS

/* Where a transfer's body goes: at most @max bytes, then the transfer
 * stops (CURLE_WRITE_ERROR) with @too_big set; @cancellable stops it
 * at once (CURLE_ABORTED_BY_CALLBACK). */
typedef struct {
  GByteArray   *body;
  gsize         max;
  gboolean      too_big;
  GCancellable *cancellable;
} MsHttpSink;

void ms_http_setup (CURL       *curl,
                    const char *url,
                    char       *errbuf,
                    MsHttpSink *sink);

G_END_DECLS
