#include "server/worker_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/synchronization/notification.h"

namespace custra::server {

namespace {
thread_local bool on_pool_thread = false;
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

bool OnPoolThread() { return on_pool_thread; }
void MarkPoolThread() { on_pool_thread = true; }

std::thread StartLoweredThread(int nice, absl::AnyInvocable<void() &&> body) {
  return std::thread([nice, body = std::move(body)]() mutable {
    LowerThisThreadsPriority(nice);
    MarkPoolThread();
    std::move(body)();
  });
}

WorkerPool::WorkerPool(int max_threads, int nice)
    : max_threads_(std::max(max_threads, 1)), nice_(std::clamp(nice, 0, 19)) {}

WorkerPool::~WorkerPool() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  for (std::thread& t : threads) t.join();
}

int WorkerPool::threads() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(threads_.size());
}

void WorkerPool::Run(absl::FunctionRef<void()> work) {
  if (OnPoolThread()) {
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

void WorkerPool::Post(absl::AnyInvocable<void() &&> work) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(work));
  const size_t waiting = queue_.size() - queue_head_;
  if (static_cast<size_t>(idle_) < waiting &&
      static_cast<int>(threads_.size()) < max_threads_) {
    threads_.push_back(StartLoweredThread(nice_, [this] { Loop(); }));
  }
}

void WorkerPool::Loop() {
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
