// custra: the command-line client of custra-server.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cli/account_commands.h"
#include "client/cli/cli_context.h"
#include "client/cli/ingest_commands.h"
#include "client/cli/opportunity_commands.h"
#include "client/cli/output.h"
#include "client/cli/segment_commands.h"
#include "custra/client.h"

namespace custra::cli {
namespace {

void AddTenantCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                       int& exit_code) {
  CLI::App* tenant = app.add_subcommand(
      "tenant", "Create, list, show and delete tenants (admin key)");
  tenant->require_subcommand(1);

  std::string& id = args.id;
  std::string& name = args.name;
  CLI::App* create =
      tenant->add_subcommand("create", "Create a tenant and its database");
  create->add_option("id", id, "Tenant id: ^[a-z][a-z0-9-]{2,62}$")->required();
  create->add_option("--name", name, "Display name");
  create->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      auto t = c.CreateTenant(id, name);
      if (!t.ok()) return t.status();
      PrintOne(*t, cli.format(), std::cout);
      return absl::OkStatus();
    });
  });

  CLI::App* list = tenant->add_subcommand("list", "List all tenants");
  list->add_option(
      "--shard", args.shards,
      "Behind a proxy that routes by tenant, a call that names no tenant "
      "reaches one shard, which lists the others' tenants only if it was "
      "started with --peer: list each of these servers' own tenants "
      "(host:port, repeatable, queried directly with the same key and TLS "
      "flags) and merge them by id. Fails if any shard cannot answer");
  list->callback([&] {
    if (args.shards.empty()) {
      exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
        auto tenants = c.ListTenants();
        if (!tenants.ok()) return tenants.status();
        std::vector<const google::protobuf::Message*> rows;
        for (const auto& t : *tenants) rows.push_back(&t);
        PrintRows(rows, v1::Tenant::descriptor(), cli.format(), std::cout);
        return absl::OkStatus();
      });
      return;
    }
    absl::Status status = [&]() -> absl::Status {
      std::vector<v1::Tenant> all;
      std::map<std::string, std::string> home;  // Tenant id -> shard.
      for (const std::string& shard : args.shards) {
        auto client = cli.Connect(/*admin=*/true, shard);
        if (!client.ok()) return client.status();
        auto tenants = (*client)->ListTenants(Client::TenantScope::kThisServer);
        if (!tenants.ok()) {
          return absl::Status(
              tenants.status().code(),
              absl::StrCat("shard ", shard, ": ", tenants.status().message()));
        }
        for (v1::Tenant& t : *tenants) {
          auto [it, added] = home.emplace(t.id(), shard);
          if (!added) {
            std::cerr << "warning: tenant " << t.id() << " exists on both "
                      << it->second << " and " << shard << "\n";
            continue;
          }
          all.push_back(std::move(t));
        }
      }
      std::sort(all.begin(), all.end(),
                [](const v1::Tenant& a, const v1::Tenant& b) {
                  return a.id() < b.id();
                });
      std::vector<const google::protobuf::Message*> rows;
      for (const auto& t : all) rows.push_back(&t);
      PrintRows(rows, v1::Tenant::descriptor(), cli.format(), std::cout);
      return absl::OkStatus();
    }();
    exit_code = status.ok() ? 0 : ReportError(status);
  });

  CLI::App* show = tenant->add_subcommand("show", "Show one tenant");
  show->add_option("id", id, "Tenant id")->required();
  show->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      auto t = c.GetTenant(id);
      if (!t.ok()) return t.status();
      PrintOne(*t, cli.format(), std::cout);
      return absl::OkStatus();
    });
  });

  CLI::App* remove = tenant->add_subcommand(
      "delete", "Delete a tenant, its keys and its database (irreversible)");
  remove->add_option("id", id, "Tenant id")->required();
  remove->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      absl::Status status = c.DeleteTenant(id);
      if (status.ok()) std::cerr << "deleted tenant " << id << "\n";
      return status;
    });
  });
}

void AddKeyCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                    int& exit_code) {
  CLI::App* key = app.add_subcommand(
      "key", "Issue, list and revoke tenant API keys (admin key)");
  key->require_subcommand(1);
  std::string& tenant = args.tenant;
  std::string& name = args.name;
  std::string& key_id = args.key_id;
  bool& quiet = args.quiet;

  CLI::App* issue = key->add_subcommand(
      "issue", "Issue an API key; the secret is shown once");
  issue->add_option("tenant", tenant, "Tenant id")->required();
  issue->add_option("--name", name, "What the key is for");
  issue->add_flag("-q,--quiet", quiet, "Print only the secret (for scripts)");
  issue->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      auto issued = c.IssueApiKey(tenant, name);
      if (!issued.ok()) return issued.status();
      if (quiet) {
        std::cout << issued->secret() << "\n";
      } else if (cli.format() == OutputFormat::kTable) {
        std::cout << "API key " << issued->api_key().id() << " for tenant "
                  << tenant << " (shown once, store it now):\n"
                  << issued->secret() << "\n";
      } else {
        PrintOne(*issued, cli.format(), std::cout);
      }
      return absl::OkStatus();
    });
  });

  CLI::App* list =
      key->add_subcommand("list", "List a tenant's keys (never their secrets)");
  list->add_option("tenant", tenant, "Tenant id")->required();
  list->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      auto keys = c.ListApiKeys(tenant);
      if (!keys.ok()) return keys.status();
      std::vector<const google::protobuf::Message*> rows;
      for (const auto& k : *keys) rows.push_back(&k);
      PrintRows(rows, v1::ApiKey::descriptor(), cli.format(), std::cout);
      return absl::OkStatus();
    });
  });

  CLI::App* revoke = key->add_subcommand("revoke", "Revoke a key at once");
  revoke->add_option("tenant", tenant, "Tenant id")->required();
  revoke->add_option("key-id", key_id, "Key id, e.g. k_3f9a0c1b2d4e")
      ->required();
  revoke->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      auto revoked = c.RevokeApiKey(tenant, key_id);
      if (!revoked.ok()) return revoked.status();
      PrintOne(*revoked, cli.format(), std::cout);
      return absl::OkStatus();
    });
  });
}

void AddBackupCommands(CLI::App& app, Cli& cli, CommandArgs& args,
                       int& exit_code) {
  std::string& tenant = args.tenant;
  std::string& file = args.file;
  CLI::App* backup = app.add_subcommand(
      "backup", "Download a consistent online backup of a tenant (admin key)");
  backup->add_option("tenant", tenant, "Tenant id")->required();
  backup->add_option("file", file, "Where to write the backup")->required();
  backup->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      auto bytes = c.BackupTenant(tenant, file);
      if (!bytes.ok()) return bytes.status();
      std::cerr << "backed up tenant " << tenant << " to " << file << " ("
                << *bytes << " bytes, SHA-256 verified)\n";
      return absl::OkStatus();
    });
  });

  CLI::App* restore = app.add_subcommand(
      "restore",
      "Replace a tenant's data with a backup, creating the tenant if needed "
      "(admin key)");
  restore->add_option("tenant", tenant, "Tenant id")->required();
  restore->add_option("file", file, "Backup file")
      ->required()
      ->check(CLI::ExistingFile);
  restore->callback([&] {
    exit_code = cli.WithAdmin([&](Client& c) -> absl::Status {
      auto t = c.RestoreTenant(tenant, file);
      if (!t.ok()) return t.status();
      PrintOne(*t, cli.format(), std::cout);
      return absl::OkStatus();
    });
  });
}

void AddHealthCommand(CLI::App& app, GlobalFlags& flags, CommandArgs& args,
                      int& exit_code) {
  double& wait_seconds = args.wait_seconds;
  CLI::App* health =
      app.add_subcommand("health", "Check that the server is serving");
  health->add_option("--wait", wait_seconds,
                     "Keep trying for this many seconds");
  health->callback([&] {
    ClientOptions options;
    options.target = flags.server;
    if (absl::Status tls = ApplyTlsFlags(flags, &options); !tls.ok()) {
      exit_code = ReportError(tls);
      return;
    }
    auto client = Client::Create(options);
    if (!client.ok()) {
      exit_code = ReportError(client.status());
      return;
    }
    absl::Status status =
        (*client)->WaitForServing(absl::Seconds(std::max(wait_seconds, 0.5)));
    if (status.ok()) {
      std::cout << "SERVING\n";
      exit_code = 0;
    } else {
      exit_code = ReportError(status);
    }
  });
}

}  // namespace
}  // namespace custra::cli

int main(int argc, char** argv) {
  using namespace custra::cli;
  GlobalFlags flags;
  flags.server = EnvOr("CUSTRA_SERVER", flags.server);
  flags.tenant = EnvOr("CUSTRA_TENANT", "");
  flags.api_key = EnvOr("CUSTRA_API_KEY", "");
  flags.admin_key = EnvOr("CUSTRA_ADMIN_KEY", "");
  flags.admin_key_file = EnvOr("CUSTRA_ADMIN_KEY_FILE", "");

  CLI::App app{
      "custra: command-line client of custra-server (customer structure "
      "analysis).\n\nConnection settings come from flags or the environment: "
      "CUSTRA_SERVER, CUSTRA_TENANT, CUSTRA_API_KEY, CUSTRA_ADMIN_KEY "
      "(or CUSTRA_ADMIN_KEY_FILE)."};
  app.require_subcommand(1);
  // Global options may follow the subcommand: `custra tenant list -o json`.
  app.fallthrough();
  app.set_version_flag("--version", "custra 0.1.0");
  app.add_option("-s,--server", flags.server, "Server address host:port")
      ->capture_default_str();
  app.add_option("-t,--tenant", flags.tenant, "Tenant id for tenant commands");
  app.add_option("--api-key", flags.api_key, "Tenant API key");
  app.add_option("--admin-key", flags.admin_key,
                 "Admin key for admin commands");
  app.add_option("--admin-key-file", flags.admin_key_file,
                 "File holding the admin key");
  app.add_option("-o,--output", flags.output, "Output format")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  app.add_flag("--tls", flags.tls,
               "Connect with TLS, trusting the system's root certificates");
  app.add_option("--tls-ca", flags.tls_ca,
                 "Connect with TLS, trusting the PEM certificate(s) in this "
                 "file: the CA that signed the server's certificate (or that "
                 "certificate itself if self-signed)");
  app.add_option("--timeout", flags.timeout_seconds,
                 "Per-call deadline in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();

  int exit_code = 0;
  Cli cli(&flags);
  CommandArgs args;
  AddTenantCommands(app, cli, args, exit_code);
  AddKeyCommands(app, cli, args, exit_code);
  AddBackupCommands(app, cli, args, exit_code);
  AddHealthCommand(app, flags, args, exit_code);
  AddIngestCommands(app, cli, args, exit_code);
  AddSegmentCommands(app, cli, args, exit_code);
  AddAccountCommands(app, cli, args, exit_code);
  AddOpportunityCommands(app, cli, args, exit_code);
  CLI11_PARSE(app, argc, argv);
  return exit_code;
}
