/* ms-blast.c: placeholder until implemented (see ms-blast.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-blast.h"
