/* ms-error.h: the one error domain of Mailshot's core
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define MS_ERROR (ms_error_quark ())

/**
 * MsError:
 *
 * Codes that mean something to a caller. The message of every #GError in
 * this domain is a sentence that tells a user what to do.
 * Cancellation is always %G_IO_ERROR_CANCELLED, never one of these.
 */
typedef enum {
  MS_ERROR_FAILED,                /* anything not listed below */
  MS_ERROR_INVALID_VALUE,         /* a setting or argument breaks its rule */
  MS_ERROR_INVALID_INPUT,         /* a file (CSV, template) cannot be used */
  MS_ERROR_NOT_FOUND,             /* a batch, row or account that does not exist */
  MS_ERROR_NOT_CONFIGURED,        /* the account lacks a server or address */
  MS_ERROR_KEYRING_UNAVAILABLE,   /* no session bus, or no Secret Service */
  MS_ERROR_KEYRING_LOCKED,        /* the keyring is locked */
  MS_ERROR_NO_PASSWORD,           /* nothing stored for this account */
  MS_ERROR_RESOLVE,               /* the server name does not resolve */
  MS_ERROR_CONNECT,               /* refused, unreachable, wrong port */
  MS_ERROR_TIMEOUT,               /* the server did not answer in time */
  MS_ERROR_TLS,                   /* handshake or certificate problem */
  MS_ERROR_INSECURE,              /* refused: password in clear, STARTTLS downgrade */
  MS_ERROR_AUTH,                  /* authentication failed or impossible */
  MS_ERROR_RECIPIENT,             /* the recipient was rejected */
  MS_ERROR_SENDER,                /* the sender address is not allowed */
  MS_ERROR_RELAY,                 /* the server does not relay for us */
  MS_ERROR_RATE_LIMITED,          /* the account must wait */
  MS_ERROR_TEMPORARY,             /* try again later */
  MS_ERROR_MISCONFIGURED,         /* the account's settings do not fit the server */
  MS_ERROR_JOURNAL,               /* the journal database failed */
  MS_ERROR_SIGN_IN_REQUIRED,      /* OAuth2: not signed in, or the sign-in expired or was revoked */
} MsError;

GQuark ms_error_quark (void);

G_END_DECLS
