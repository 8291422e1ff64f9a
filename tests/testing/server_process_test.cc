// The test harness's server process: it is the real binary, and it runs on
// the CPUs it is given (the load driver confines itself to one core and
// gives the server the others back).

#include "tests/testing/server_process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/temp_dir.h"

namespace custra::testing {
namespace {

// The Cpus_allowed_list line of /proc/<pid>/status, e.g. "0-1" or "1".
std::string CpusAllowed(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    if (absl::StartsWith(line, "Cpus_allowed_list:")) {
      return line.substr(line.find_first_not_of(" \t", 18));
    }
  }
  return "";
}

TEST(ServerProcessTest, RunsOnTheCpusItIsGiven) {
  const std::vector<int> own = AllowedCpus();
  ASSERT_FALSE(own.empty());
  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.cpus = {own.back()};
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(CpusAllowed((*server)->pid()), absl::StrCat(own.back()));
}

TEST(ServerProcessTest, InheritsTheCpusWhenGivenNone) {
  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  auto server = ServerProcess::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(CpusAllowed((*server)->pid()), CpusAllowed(getpid()));
}

TEST(ServerProcessTest, RefusesACpuThatCannotExist) {
  TempDir dir;
  ServerProcess::Options options;
  options.data_dir = dir.path() / "data";
  options.cpus = {-1};
  auto server = ServerProcess::Start(options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(server.status().message()),
              ::testing::HasSubstr("-1"));
}

}  // namespace
}  // namespace custra::testing
