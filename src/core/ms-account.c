/* ms-account.c: placeholder until implemented (see ms-account.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-account.h"
