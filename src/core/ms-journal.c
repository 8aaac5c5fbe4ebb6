/* ms-journal.c: placeholder until implemented (see ms-journal.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-journal.h"
