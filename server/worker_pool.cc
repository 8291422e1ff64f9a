#include "server/worker_pool.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/synchronization/notification.h"

namespace custra::server {

namespace {
thread_local bool on_pool_thread = false;
}  // namespace

bool LowerThisThreadsPriority(BackgroundPriority priority) {
  bool ok = true;
  if (priority.idle) {
    // The policy of the calling thread (pid 0); the nice value is kept.
    sched_param param{};
    ok = sched_setscheduler(0, SCHED_IDLE, &param) == 0;
  }
  if (priority.nice <= 0) return ok;
  // On Linux the nice value is a property of the thread (its tid).
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);
  if (current == -1 && errno != 0) return false;
  return setpriority(PRIO_PROCESS, tid,
                     std::min(current + priority.nice, 19)) == 0 &&
         ok;
}

bool OnPoolThread() { return on_pool_thread; }
void MarkPoolThread() { on_pool_thread = true; }

std::thread StartLoweredThread(const char* name, BackgroundPriority priority,
                               absl::AnyInvocable<void() &&> body) {
  return std::thread([name, priority, body = std::move(body)]() mutable {
    pthread_setname_np(pthread_self(), name);
    LowerThisThreadsPriority(priority);
    MarkPoolThread();
    std::move(body)();
  });
}

WorkerPool::WorkerPool(const char* name, int max_threads,
                       BackgroundPriority priority)
    : name_(name),
      max_threads_(std::max(max_threads, 1)),
      priority_{std::clamp(priority.nice, 0, 19), priority.idle} {}

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

int64_t WorkerPool::queued() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int64_t>(waiting_);
}

void WorkerPool::Run(absl::string_view queue, absl::FunctionRef<void()> work) {
  if (OnPoolThread()) {
    work();
    return;
  }
  absl::Notification done;
  Post(queue, [work, &done] {
    work();
    done.Notify();
  });
  done.WaitForNotification();
}

void WorkerPool::Post(absl::string_view queue,
                      absl::AnyInvocable<void() &&> work) {
  absl::MutexLock lock(&mu_);
  std::deque<Work>& waiting = queues_[queue];
  if (waiting.empty()) turns_.emplace_back(queue);
  waiting.push_back(std::move(work));
  ++waiting_;
  if (static_cast<size_t>(idle_) < waiting_ &&
      static_cast<int>(threads_.size()) < max_threads_) {
    threads_.push_back(
        StartLoweredThread(name_, priority_, [this] { Loop(); }));
  }
}

WorkerPool::Work WorkerPool::TakeNext() {
  std::string name = std::move(turns_.front());
  turns_.pop_front();
  auto it = queues_.find(name);
  Work work = std::move(it->second.front());
  it->second.pop_front();
  if (it->second.empty()) {
    queues_.erase(it);
  } else {
    turns_.push_back(std::move(name));  // Its next task waits a round.
  }
  --waiting_;
  return work;
}

void WorkerPool::Loop() {
  auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return waiting_ > 0 || stopping_;
  };
  while (true) {
    Work work;
    {
      absl::MutexLock lock(&mu_);
      ++idle_;
      mu_.Await(absl::Condition(&has_work));
      --idle_;
      if (waiting_ == 0) return;  // Stopping, nothing left.
      work = TakeNext();
    }
    std::move(work)();
  }
}

}  // namespace custra::server
