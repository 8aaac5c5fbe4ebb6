/* ms-error.c: the one error domain of Mailshot's core
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-error.h"

G_DEFINE_QUARK (ms-error-quark, ms_error)
