#ifndef CUSTRA_TESTS_TESTING_SERVER_PROCESS_H_
#define CUSTRA_TESTS_TESTING_SERVER_PROCESS_H_

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace custra::testing {

// A real custra-server child process on a free loopback port, with its own
// data directory and admin key. Start() returns once the server printed its
// "listening on" line (no sleeping). The destructor kills it (SIGKILL) if
// it is still running.
class ServerProcess {
 public:
  struct Options {
    std::filesystem::path data_dir;  // Required.
    std::string admin_key = "test-admin-key-0123456789";
    // host:port; port 0 picks a free one. A restart can reuse the port of
    // the previous process to keep clients' targets valid.
    std::string listen = "127.0.0.1:0";
    std::vector<std::string> extra_args;
    // The CPUs the server may run on (sched_setaffinity before exec);
    // empty: those of the process that starts it. A benchmark that
    // confines itself to some CPUs gives the server back the others.
    std::vector<int> cpus;
  };

  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(Options options);

  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // "127.0.0.1:<port>".
  const std::string& address() const { return address_; }
  const std::string& admin_key() const { return options_.admin_key; }
  pid_t pid() const { return pid_; }

  // Sends `signal` and waits for the process to exit; returns its exit
  // status as from waitpid (use WIFEXITED / WEXITSTATUS).
  int SignalAndWait(int signal);
  // Sends `signal` without waiting.
  void Signal(int signal);
  // Waits for exit; the waitpid status.
  int Wait();

 private:
  explicit ServerProcess(Options options) : options_(std::move(options)) {}

  Options options_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int port_ = 0;
  std::string address_;
  bool exited_ = false;
  int exit_status_ = 0;
};

// The CPUs the calling thread may run on, ascending (its affinity mask).
std::vector<int> AllowedCpus();

// Path of a built binary, from the build's compile definitions.
std::string ServerBinaryPath();
std::string CliBinaryPath();

}  // namespace custra::testing

#endif  // CUSTRA_TESTS_TESTING_SERVER_PROCESS_H_
