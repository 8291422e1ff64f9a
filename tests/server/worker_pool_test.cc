#include "server/worker_pool.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace custra::server {
namespace {

int ThisThreadsNice() {
  return getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
}

TEST(WorkerPoolTest, RunsWorkOnALowerPriorityThreadAndWaitsForIt) {
  WorkerPool executor(/*max_threads=*/2, /*nice=*/7);
  const int caller_nice = ThisThreadsNice();
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  int nice = 0;
  bool background = false;
  executor.Run([&] {
    ran_on = std::this_thread::get_id();
    nice = ThisThreadsNice();
    background = OnPoolThread();
  });
  // Run returned, so the work has run.
  EXPECT_NE(ran_on, caller);
  EXPECT_TRUE(background);
  EXPECT_EQ(nice, std::min(caller_nice + 7, 19));
  EXPECT_EQ(ThisThreadsNice(), caller_nice);  // The caller is untouched.
  EXPECT_FALSE(OnPoolThread());
}

TEST(WorkerPoolTest, WorkThatRunsMoreWorkRunsItInPlace) {
  WorkerPool executor(/*max_threads=*/1, /*nice=*/0);
  std::thread::id outer, inner;
  executor.Run([&] {
    outer = std::this_thread::get_id();
    // With one thread, queueing this would wait for itself forever.
    executor.Run([&] { inner = std::this_thread::get_id(); });
  });
  EXPECT_EQ(inner, outer);
}

TEST(WorkerPoolTest, CallersBeyondTheThreadsWaitTheirTurn) {
  constexpr int kThreads = 3, kCallers = 24;
  WorkerPool executor(kThreads, /*nice=*/0);
  absl::Mutex mu;
  int running = 0, most_running = 0, done = 0;
  absl::Notification go;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&] {
      go.WaitForNotification();
      executor.Run([&] {
        {
          absl::MutexLock lock(&mu);
          most_running = std::max(most_running, ++running);
        }
        absl::SleepFor(absl::Milliseconds(2));
        absl::MutexLock lock(&mu);
        --running;
        ++done;
      });
    });
  }
  go.Notify();
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(done, kCallers);
  EXPECT_LE(most_running, kThreads);
  EXPECT_GE(most_running, 2);  // The pool did run work side by side.
  EXPECT_LE(executor.threads(), kThreads);
}

TEST(WorkerPoolTest, LoweringPriorityIsCappedAtNineteen) {
  std::thread t([] {
    EXPECT_TRUE(LowerThisThreadsPriority(15));
    EXPECT_TRUE(LowerThisThreadsPriority(15));
    EXPECT_EQ(ThisThreadsNice(), 19);
    EXPECT_TRUE(LowerThisThreadsPriority(0));  // No change asked.
    EXPECT_EQ(ThisThreadsNice(), 19);
  });
  t.join();
}

}  // namespace
}  // namespace custra::server
