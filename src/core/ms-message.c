/* ms-message.c: placeholder until implemented (see ms-message.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-message.h"
