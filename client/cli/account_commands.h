#ifndef CUSTRA_CLIENT_CLI_ACCOUNT_COMMANDS_H_
#define CUSTRA_CLIENT_CLI_ACCOUNT_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "client/cli/cli_context.h"

namespace custra::cli {

// `custra clv fit|show|list|predict|evaluate|curve` (customer-value models)
// and `custra accounts profile|set|assessments|score|runs|top|explain|
// history|compare` (key-account scoring), over KeyAccountService.
void AddAccountCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                        int& exit_code);

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_ACCOUNT_COMMANDS_H_
