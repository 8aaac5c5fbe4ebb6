/* ms-cli-blast.c: placeholder until implemented
 * SPDX-License-Identifier: GPL-3.0-or-later */
#include "config.h"

#include "ms-cli.h"

int
ms_cli_blast (const MsCliContext *ctx, int argc, char **argv)
{
  return ms_cli_fail (MS_CLI_FAILED, "not implemented yet");
}

int
ms_cli_pending (const MsCliContext *ctx, int argc, char **argv)
{
  return ms_cli_fail (MS_CLI_FAILED, "not implemented yet");
}
