/* ms-cli-config.c: placeholder until implemented
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-cli.h"

int
ms_cli_config (const MsCliContext *ctx, int argc, char **argv)
{
  return ms_cli_fail (MS_CLI_FAILED, "not implemented yet");
}
