/* ms-recipients.c: placeholder until implemented (see ms-recipients.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-recipients.h"
