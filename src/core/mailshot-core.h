/* mailshot-core.h: everything the front ends may use
 * SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "ms-core.h"
#include "ms-error.h"
#include "ms-core-enums.h"
#include "ms-account.h"
#include "ms-blast.h"
#include "ms-import.h"
#include "ms-journal.h"
#include "ms-message.h"
#include "ms-pacer.h"
#include "ms-probe.h"
#include "ms-provider.h"
#include "ms-recipients.h"
#include "ms-reply.h"
#include "ms-secret.h"
#include "ms-sidelog.h"
#include "ms-smtp.h"
#include "ms-template.h"
#include "ms-transcript.h"
#include "ms-user-file.h"
