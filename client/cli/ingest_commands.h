#ifndef CUSTRA_CLIENT_CLI_INGEST_COMMANDS_H_
#define CUSTRA_CLIENT_CLI_INGEST_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "client/cli/cli_context.h"

namespace custra::cli {

// `custra import customers|transactions|interactions` and
// `custra customers list|get|delete`.
void AddIngestCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                       int& exit_code);

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_INGEST_COMMANDS_H_
