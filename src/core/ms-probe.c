/* ms-probe.c: placeholder until implemented (see ms-probe.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-probe.h"
