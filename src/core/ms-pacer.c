/* ms-pacer.c: placeholder until implemented (see ms-pacer.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-pacer.h"
