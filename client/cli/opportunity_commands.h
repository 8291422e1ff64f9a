#ifndef CUSTRA_CLIENT_CLI_OPPORTUNITY_COMMANDS_H_
#define CUSTRA_CLIENT_CLI_OPPORTUNITY_COMMANDS_H_

#include <CLI/CLI.hpp>

#include "client/cli/cli_context.h"

namespace custra::cli {

// `custra opp create|list|show|update|advance|win|lose|reopen|history|
// delete` (opportunities and their stage changes), `custra contacts
// add|list|show|update|delete|link|unlink|trust` (the buying centre and the
// account's trust level), `custra activities log|list`, `custra pipeline
// [show|set|stale|coverage|calibration]` (the pipeline summary, the stage
// definition and the pipeline reports) and `custra forecast`, over
// OpportunityService.
void AddOpportunityCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                            int& exit_code);

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_OPPORTUNITY_COMMANDS_H_
