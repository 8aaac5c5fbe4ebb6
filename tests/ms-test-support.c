/* ms-test-support.c: placeholder until the harness is implemented
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-test-support.h"
