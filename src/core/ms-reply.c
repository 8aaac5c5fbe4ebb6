/* ms-reply.c: placeholder until implemented (see ms-reply.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-reply.h"
