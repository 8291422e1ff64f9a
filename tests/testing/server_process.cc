#include "tests/testing/server_process.h"

#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace custra::testing {

std::string ServerBinaryPath() { return CUSTRA_SERVER_BINARY; }
std::string CliBinaryPath() { return CUSTRA_CLI_BINARY; }

absl::StatusOr<std::unique_ptr<ServerProcess>> ServerProcess::Start(
    Options options) {
  std::filesystem::create_directories(options.data_dir);
  const std::string key_file = (options.data_dir / "admin.key.test").string();
  std::ofstream(key_file) << options.admin_key << "\n";

  std::vector<std::string> args = {ServerBinaryPath(),
                                   "--listen=" + options.listen,
                                   "--data-dir=" + options.data_dir.string(),
                                   "--admin-key-file=" + key_file};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());

  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  for (int cpu : options.cpus) {
    if (cpu < 0 || cpu >= CPU_SETSIZE) {
      return absl::InvalidArgumentError(absl::StrCat("no CPU ", cpu));
    }
    CPU_SET(cpu, &cpus);
  }

  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return absl::InternalError("pipe failed");
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    // Never outlive the test, even if it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(pipe_fds[1], STDOUT_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    unsetenv("CUSTRA_ADMIN_KEY");
    if (!options.cpus.empty() && sched_setaffinity(0, sizeof(cpus), &cpus)) {
      _exit(126);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  auto process =
      std::unique_ptr<ServerProcess>(new ServerProcess(std::move(options)));
  process->pid_ = pid;
  process->stdout_fd_ = pipe_fds[0];

  // Read until the "listening on HOST:PORT" line (or EOF if it died).
  std::string line;
  char c;
  while (read(process->stdout_fd_, &c, 1) == 1) {
    if (c != '\n') {
      line += c;
      continue;
    }
    const std::string kMarker = "listening on 127.0.0.1:";
    if (auto pos = line.find(kMarker); pos != std::string::npos) {
      std::string rest = line.substr(pos + kMarker.size());
      rest = rest.substr(0, rest.find(' '));
      if (absl::SimpleAtoi(rest, &process->port_)) {
        process->address_ = absl::StrCat("127.0.0.1:", process->port_);
        return process;
      }
    }
    line.clear();
  }
  const int status = process->Wait();
  return absl::InternalError(absl::StrCat(
      "custra-server exited before listening (wait status ", status, ")"));
}

std::vector<int> AllowedCpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

ServerProcess::~ServerProcess() {
  if (!exited_ && pid_ > 0) {
    kill(pid_, SIGKILL);
    Wait();
  }
  if (stdout_fd_ >= 0) close(stdout_fd_);
}

void ServerProcess::Signal(int signal) { kill(pid_, signal); }

int ServerProcess::Wait() {
  if (!exited_) {
    waitpid(pid_, &exit_status_, 0);
    exited_ = true;
  }
  return exit_status_;
}

int ServerProcess::SignalAndWait(int signal) {
  Signal(signal);
  return Wait();
}

}  // namespace custra::testing
