#include "server/background_executor.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/synchronization/notification.h"

namespace custra::server {

namespace {
thread_local bool on_background_thread = false;
}  // namespace

bool LowerThisThreadsPriority(int nice) {
  if (nice <= 0) return true;
  // On Linux the nice value is a property of the thread (its tid).
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);
  if (current == -1 && errno != 0) return false;
  return setpriority(PRIO_PROCESS, tid, std::min(current + nice, 19)) == 0;
}

bool OnBackgroundThread() { return on_background_thread; }
void MarkBackgroundThread() { on_background_thread = true; }

BackgroundExecutor::BackgroundExecutor(int max_threads, int nice)
    : max_threads_(std::max(max_threads, 1)), nice_(std::clamp(nice, 0, 19)) {}

BackgroundExecutor::~BackgroundExecutor() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

int BackgroundExecutor::threads() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(threads_.size());
}

void BackgroundExecutor::Run(absl::FunctionRef<void()> work) {
  if (OnBackgroundThread()) {
    work();
    return;
  }
  absl::Notification done;
  Post([work, &done] {
    work();
    done.Notify();
  });
  done.WaitForNotification();
}

void BackgroundExecutor::Post(absl::AnyInvocable<void() &&> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
  const size_t waiting = queue_.size() - queue_head_;
  if (static_cast<size_t>(idle_) < waiting &&
      static_cast<int>(threads_.size()) < max_threads_) {
    threads_.emplace_back([this] { Loop(); });
  }
}

void BackgroundExecutor::Loop() {
  LowerThisThreadsPriority(nice_);
  MarkBackgroundThread();
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return queue_head_ < queue_.size() || stopping_;
  };
  while (true) {
    absl::AnyInvocable<void() &&> work;
    {
      absl::MutexLock lock(&mu_);
      ++idle_;
      mu_.Await(absl::Condition(&has_work));
      --idle_;
      if (queue_head_ == queue_.size()) return;  // Stopping, nothing left.
      work = std::move(queue_[queue_head_++]);
      if (queue_head_ == queue_.size()) {
        queue_.clear();
        queue_head_ = 0;
      }
    }
    std::move(work)();
  }
}

}  // namespace custra::server
