#ifndef CUSTRA_CLIENT_CLI_CLI_CONTEXT_H_
#define CUSTRA_CLIENT_CLI_CLI_CONTEXT_H_

// What every `custra` command shares: global flags, connecting, output
// format, error reporting, and the callbacks and common options of the
// command groups.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/strip.h"
#include "client/cli/output.h"
#include "custra/client.h"

namespace custra::cli {

struct GlobalFlags {
  std::string server = "localhost:50051";
  std::string tenant;
  std::string api_key;
  std::string admin_key;
  std::string admin_key_file;
  std::string output = "table";
  bool tls = false;
  std::string tls_ca;
  double timeout_seconds = 30;
};

inline std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? std::string(value) : fallback;
}

// Prints a failed status the way every command does: code, message, field
// violations, reason and the reason's metadata. Returns the process exit
// code.
inline int ReportError(const absl::Status& status) {
  std::cerr << "error: " << absl::StatusCodeToString(status.code()) << ": "
            << status.message() << "\n";
  const ErrorDetails details = ErrorDetailsOf(status);
  for (const auto& v : details.field_violations) {
    std::cerr << "  field " << v.field << ": " << v.description << "\n";
  }
  if (!details.reason.empty())
    std::cerr << "  reason: " << details.reason << "\n";
  for (const auto& [key, value] : details.metadata) {
    std::cerr << "  " << key << ": " << value << "\n";
  }
  return 1;
}

// Flags of the import commands.
struct ImportFlags {
  std::vector<std::string> inputs;
  std::string format = "csv";
  std::vector<std::string> map;
  std::string time_format;
  std::string currency;
  std::string rejects_path;
  std::string resume_id;
  int batch_size = 10000;
  bool quiet = false;
};

// Where CLI11 stores the arguments of the subcommands. One instance lives in
// main() for the whole run, so the references CLI11 binds stay valid.
struct CommandArgs {
  std::string id;
  std::string name;
  std::string tenant;
  std::string key_id;
  std::string file;
  std::string filter;
  bool quiet = false;
  double wait_seconds = 0;
  int64_t limit = 0;
  ImportFlags import;
};

class Cli {
 public:
  explicit Cli(GlobalFlags* flags) : flags_(flags) {}

  // Connects with the admin key (admin commands) or the tenant API key.
  absl::StatusOr<std::unique_ptr<Client>> Connect(bool admin) {
    ClientOptions options;
    options.target = flags_->server;
    options.tenant_id = flags_->tenant;
    options.default_deadline = absl::Seconds(flags_->timeout_seconds);
    options.use_tls = flags_->tls || !flags_->tls_ca.empty();
    if (!flags_->tls_ca.empty()) {
      std::ifstream in(flags_->tls_ca);
      std::stringstream pem;
      pem << in.rdbuf();
      if (!in)
        return absl::NotFoundError("cannot read --tls-ca " + flags_->tls_ca);
      options.tls_root_certs_pem = pem.str();
    }
    if (admin) {
      std::string key = flags_->admin_key;
      if (key.empty() && !flags_->admin_key_file.empty()) {
        std::ifstream in(flags_->admin_key_file);
        std::stringstream content;
        content << in.rdbuf();
        if (!in) {
          return absl::NotFoundError("cannot read --admin-key-file " +
                                     flags_->admin_key_file);
        }
        key = std::string(absl::StripAsciiWhitespace(content.str()));
      }
      if (key.empty()) {
        return absl::UnauthenticatedError(
            "no admin key: set CUSTRA_ADMIN_KEY or pass --admin-key / "
            "--admin-key-file");
      }
      options.api_key = key;
    } else {
      if (flags_->api_key.empty()) {
        return absl::UnauthenticatedError(
            "no API key: set CUSTRA_API_KEY or pass --api-key");
      }
      if (flags_->tenant.empty()) {
        return absl::InvalidArgumentError(
            "no tenant: set CUSTRA_TENANT or pass --tenant");
      }
      options.api_key = flags_->api_key;
    }
    return Client::Create(options);
  }

  OutputFormat format() const {
    OutputFormat format = OutputFormat::kTable;
    ParseOutputFormat(flags_->output, &format);
    return format;
  }

  // Runs `body(client)` with an admin connection (the admin key) or a
  // tenant one (the API key) and maps its status to the exit code.
  int WithAdmin(const std::function<absl::Status(Client&)>& body) {
    return With(/*admin=*/true, body);
  }
  int WithTenant(const std::function<absl::Status(Client&)>& body) {
    return With(/*admin=*/false, body);
  }

 private:
  int With(bool admin, const std::function<absl::Status(Client&)>& body) {
    auto client = Connect(admin);
    if (!client.ok()) return ReportError(client.status());
    absl::Status status = body(**client);
    return status.ok() ? 0 : ReportError(status);
  }

  GlobalFlags* flags_;
};

// A group of commands run with a tenant connection, whose flags live in
// one `Flags` instance. The callbacks share it, so it lives as long as the
// commands whose options point into it.
template <typename Flags>
class TenantCommands {
 public:
  // `cli` and `exit_code` must outlive the commands (they live in main()).
  TenantCommands(Cli& cli, int& exit_code)
      : cli_(&cli), exit_code_(&exit_code), flags_(std::make_shared<Flags>()) {}

  Flags* flags() const { return flags_.get(); }

  // A callback running `command(client, flags, format)` and storing its
  // exit code.
  template <typename Command>
  std::function<void()> Run(Command command) const {
    return [cli = cli_, exit_code = exit_code_, flags = flags_, command] {
      *exit_code = cli->WithTenant(
          [&](Client& c) { return command(c, *flags, cli->format()); });
    };
  }

  // A callback for a command that makes a request of the flags first:
  // `build(flags)` returns it, or an error about a flag, which is reported
  // before connecting. Then it runs `command(client, request, format)` and
  // stores its exit code.
  template <typename Build, typename Command>
  std::function<void()> RunRequest(Build build, Command command) const {
    return
        [cli = cli_, exit_code = exit_code_, flags = flags_, build, command] {
          auto request = build(*flags);
          if (!request.ok()) {
            *exit_code = ReportError(request.status());
            return;
          }
          *exit_code = cli->WithTenant(
              [&](Client& c) { return command(c, *request, cli->format()); });
        };
  }

  // Adds --limit, stored in `flags()->limit`.
  void AddLimit(CLI::App* command, const std::string& help) const {
    command->add_option("--limit", flags_->limit, help)
        ->check(CLI::NonNegativeNumber);
  }

 private:
  Cli* cli_;
  int* exit_code_;
  std::shared_ptr<Flags> flags_;
};

// Adds --request-id, the idempotency key of the call a command makes;
// `retry` says what a retry with the same id does ("returns the run already
// stored").
inline void AddRequestId(CLI::App* command, std::string* request_id,
                         const std::string& retry) {
  command->add_option("--request-id", *request_id,
                      "Idempotency key: a retry with the same id " + retry);
}

// Adds the positional ids of the two runs a comparison takes, both
// required.
inline void AddRunPair(CLI::App* command, std::string* base_run_id,
                       std::string* target_run_id) {
  command->add_option("base", *base_run_id, "The earlier run's id")->required();
  command->add_option("target", *target_run_id, "The later run's id")
      ->required();
}

}  // namespace custra::cli

#endif  // CUSTRA_CLIENT_CLI_CLI_CONTEXT_H_
