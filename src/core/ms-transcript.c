/* ms-transcript.c: placeholder until implemented (see ms-transcript.h)
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-transcript.h"
