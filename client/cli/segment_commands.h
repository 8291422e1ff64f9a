#ifndef CUSTRA_CLIENT_CLI_SEGMENT_COMMANDS_H_
#define CUSTRA_CLIENT_CLI_SEGMENT_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "client/cli/cli_context.h"

namespace custra::cli {

// `custra segment abc|rfm|matrix|lifecycle|man`, `custra structure`,
// `custra runs list|show|members|compare|transition|delete` and
// `custra customers segments`. Call after AddIngestCommands, which creates
// the `customers` command this adds `segments` to.
void AddSegmentCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                        int& exit_code);

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_SEGMENT_COMMANDS_H_
