/* ms-provider.c: placeholder until implemented (see ms-provider.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-provider.h"
