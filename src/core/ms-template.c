/* ms-template.c: placeholder until implemented (see ms-template.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-template.h"
