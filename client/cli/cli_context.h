#ifndef CUSTRA_CLIENT_CLI_CLI_CONTEXT_H_
#define CUSTRA_CLIENT_CLI_CLI_CONTEXT_H_

// What every `custra` command shares: global flags, connecting, output
// format, error reporting, and the callbacks and common options of the
// command groups.

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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

// What to try when a call could not reach the server for a reason the
// user can fix (a TLS mismatch); empty otherwise.
inline std::string ConnectionHint(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kUnavailable) return "";
  const absl::string_view message = status.message();
  if (absl::StrContains(absl::AsciiStrToLower(message), "handshake failed")) {
    return "the TLS handshake failed: --tls-ca must hold the certificate of "
           "the CA that signed the server's certificate, and that "
           "certificate must name the host given to --server";
  }
  if (absl::StrContains(message, "Socket closed")) {
    return "the server closed the connection; if it serves TLS, pass "
           "--tls-ca FILE (or --tls for a publicly trusted certificate)";
  }
  return "";
}

// Prints a failed status the way every command does: code, message, field
// violations, reason and the reason's metadata, the retry delay the server
// asked for (if any), and for a connection
// failure the user can fix, a hint. Returns the process exit code.
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
  if (details.retry_delay) {
    std::cerr << "  retry after: "
              << absl::FormatDuration(
                     absl::Trunc(*details.retry_delay, absl::Milliseconds(1)))
              << "\n";
  }
  if (const std::string hint = ConnectionHint(status); !hint.empty()) {
    std::cerr << "  hint: " << hint << "\n";
  }
  return 1;
}

// Sets the TLS options of `options` from --tls and --tls-ca. Fails when
// the --tls-ca file cannot be read or holds no PEM certificate (gRPC would
// otherwise fail every call with an unhelpful "empty address list").
inline absl::Status ApplyTlsFlags(const GlobalFlags& flags,
                                  ClientOptions* options) {
  options->use_tls = flags.tls || !flags.tls_ca.empty();
  if (flags.tls_ca.empty()) return absl::OkStatus();
  std::error_code error;
  if (!std::filesystem::is_regular_file(flags.tls_ca, error)) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read --tls-ca ", flags.tls_ca, ": not a readable file"));
  }
  std::ifstream in(flags.tls_ca, std::ios::binary);
  std::string pem((std::istreambuf_iterator<char>(in)), {});
  if (!in.is_open() || in.bad()) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot read --tls-ca ", flags.tls_ca));
  }
  if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-ca ", flags.tls_ca,
        " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  options->tls_root_certs_pem = std::move(pem);
  return absl::OkStatus();
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
  std::vector<std::string> shards;
  bool quiet = false;
  double wait_seconds = 0;
  int64_t limit = 0;
  ImportFlags import;
};

class Cli {
 public:
  explicit Cli(GlobalFlags* flags) : flags_(flags) {}

  // Connects with the admin key (admin commands) or the tenant API key.
  // `target` (host:port) replaces --server when not empty.
  absl::StatusOr<std::unique_ptr<Client>> Connect(
      bool admin, const std::string& target = "") {
    ClientOptions options;
    options.target = target.empty() ? flags_->server : target;
    options.tenant_id = flags_->tenant;
    options.default_deadline = absl::Seconds(flags_->timeout_seconds);
    if (absl::Status tls = ApplyTlsFlags(*flags_, &options); !tls.ok()) {
      return tls;
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
