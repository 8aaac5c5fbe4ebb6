/* ms-secret.c: placeholder until implemented (see ms-secret.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-secret.h"
