#include "server/worker_pool.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
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
  WorkerPool executor("test-pool", /*max_threads=*/2, {.nice = 7});
  const int caller_nice = ThisThreadsNice();
  const std::thread::id caller = std::this_thread::get_id();
  std::thread::id ran_on;
  int nice = 0;
  bool background = false;
  executor.Run("tenant-a", [&] {
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
  WorkerPool executor("test-pool", /*max_threads=*/1);
  std::thread::id outer, inner;
  executor.Run("tenant-a", [&] {
    outer = std::this_thread::get_id();
    // With one thread, queueing this would wait for itself forever.
    executor.Run("tenant-b", [&] { inner = std::this_thread::get_id(); });
  });
  EXPECT_EQ(inner, outer);
}

TEST(WorkerPoolTest, CallersBeyondTheThreadsWaitTheirTurn) {
  constexpr int kThreads = 3, kCallers = 24;
  WorkerPool executor("test-pool", kThreads);
  absl::Mutex mu;
  int running = 0, most_running = 0, done = 0;
  absl::Notification go;
  std::vector<std::thread> callers;
  for (int i = 0; i < kCallers; ++i) {
    callers.emplace_back([&, i] {
      go.WaitForNotification();
      executor.Run(i % 2 == 0 ? "tenant-a" : "tenant-b", [&] {
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

TEST(WorkerPoolTest, QueuesTakeTurns) {
  WorkerPool executor("test-pool", /*max_threads=*/1);
  absl::Notification release;
  absl::Mutex mu;
  std::vector<std::string> order;
  auto record = [&](std::string what) {
    return [&, what] {
      absl::MutexLock lock(&mu);
      order.push_back(what);
    };
  };
  // The only thread is busy while the queues fill.
  executor.Post("blocker", [&] { release.WaitForNotification(); });
  for (int i = 1; i <= 4; ++i) {
    executor.Post("tenant-a", record(absl::StrCat("a", i)));
  }
  executor.Post("tenant-b", record("b1"));
  executor.Post("tenant-c", record("c1"));
  executor.Post("tenant-b", record("b2"));
  release.Notify();
  absl::Notification done;
  executor.Post("tenant-a", [&] { done.Notify(); });
  done.WaitForNotification();
  // One task per queue per round, each queue in arrival order: tenant-a's
  // backlog does not hold tenant-b and tenant-c back.
  absl::MutexLock lock(&mu);
  EXPECT_EQ(order, (std::vector<std::string>{"a1", "b1", "c1", "a2", "b2", "a3",
                                             "a4"}));
}

TEST(WorkerPoolTest, IdlePriorityRunsWorkUnderSchedIdleOnNamedThreads) {
  WorkerPool executor("test-idle", /*max_threads=*/1,
                      {.nice = 3, .idle = true});
  const int caller_policy = sched_getscheduler(0);
  int policy = -1;
  int nice = 0;
  char name[16] = {};
  executor.Run("tenant-a", [&] {
    policy = sched_getscheduler(0);
    nice = ThisThreadsNice();
    pthread_getname_np(pthread_self(), name, sizeof(name));
  });
  EXPECT_EQ(policy, SCHED_IDLE);
  EXPECT_EQ(nice, std::min(ThisThreadsNice() + 3, 19));
  EXPECT_STREQ(name, "test-idle");
  EXPECT_EQ(sched_getscheduler(0), caller_policy);  // The caller is untouched.
  EXPECT_NE(caller_policy, SCHED_IDLE);
}

TEST(WorkerPoolTest, LoweringPriorityIsCappedAtNineteen) {
  std::thread t([] {
    EXPECT_TRUE(LowerThisThreadsPriority({.nice = 15}));
    EXPECT_TRUE(LowerThisThreadsPriority({.nice = 15}));
    EXPECT_EQ(ThisThreadsNice(), 19);
    EXPECT_TRUE(LowerThisThreadsPriority({}));  // No change asked.
    EXPECT_EQ(ThisThreadsNice(), 19);
  });
  t.join();
}

}  // namespace
}  // namespace custra::server
