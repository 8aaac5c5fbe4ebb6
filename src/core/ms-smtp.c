/* ms-smtp.c: placeholder until implemented (see ms-smtp.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-smtp.h"
