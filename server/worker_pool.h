#ifndef CUSTRA_SERVER_WORKER_POOL_H_
#define CUSTRA_SERVER_WORKER_POOL_H_

// Two classes of work share the server's cores: unary reads, which a user
// or a dashboard waits on and which take well under a millisecond, and the
// calls that may take longer (writes with their fsync, imports, segmentation
// runs, scoring, model fits). Reads run on a WorkerPool at normal priority;
// writes and heavy calls each on a WorkerPool of a few threads at lower CPU
// priority, so that a read never queues for a core behind them: the kernel
// hands the core to the read at once and the background work uses what the
// reads leave, and a backlog of writes waits in its pool's queues rather
// than as runnable threads. The priority is the thread's nice value and,
// by default, the SCHED_IDLE policy: a nice value alone still leaves the
// background threads whole time slices that a woken read waits behind,
// while the kernel preempts a SCHED_IDLE thread as soon as a normal one
// can run. An unprivileged process can lower a thread's priority but, in
// general, not raise it again (RLIMIT_NICE is usually 0), so background
// work keeps threads of its own instead of lowering the gRPC threads'.

#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace custra::server {

// How much lower than its creator's a thread's CPU priority is.
struct BackgroundPriority {
  int nice = 0;       // Added to the nice value (the result is capped at 19).
  bool idle = false;  // Also the SCHED_IDLE policy.
};

// Lowers the calling thread's priority by `priority` (a zero nice and no
// idle: leaves it). Returns false if the kernel refused.
bool LowerThisThreadsPriority(BackgroundPriority priority);

// Whether the calling thread runs pooled work (one of a WorkerPool's
// threads, or one lowered by the import stream).
bool OnPoolThread();
// Marks the calling thread as one that runs pooled work.
void MarkPoolThread();

// Starts a thread named `name` (at most 15 characters, as shown by top -H
// and ps) that runs `body` as pooled work at `priority` (for work with
// threads of its own, such as an import stream's stages, and for the
// pools' threads).
std::thread StartLoweredThread(const char* name, BackgroundPriority priority,
                               absl::AnyInvocable<void() &&> body);

// A pool of threads that runs work for callers, at a lowered priority (or
// the caller's). Threads are started as work arrives, up to
// `max_threads`, and then kept. Beyond them work waits in queues named by
// the caller (the server names them by tenant): the threads take the
// queues in turn, one task each, so that a tenant with many calls waiting
// delays another tenant's call by about one of its calls, not by all of
// them. Within a queue, work runs in arrival order. Thread-safe.
//
// The server has three: unary reads (served through gRPC's callback API,
// whose own threads must not block) at normal priority, and writes and
// heavy calls each on a few threads of lower priority.
class WorkerPool {
 public:
  // `name`: the threads' name (at most 15 characters); `priority`: how
  // much lower than the caller's their priority is.
  WorkerPool(const char* name, int max_threads,
             BackgroundPriority priority = {});
  // Waits for queued work and joins the threads.
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `work` on a pool thread, after the work queued before it in
  // `queue`, and returns when it has run. Called from a pool thread (of
  // any pool), runs it there at once: no pool thread waits for another.
  void Run(absl::string_view queue, absl::FunctionRef<void()> work)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `work` in `queue` and returns at once.
  void Post(absl::string_view queue, absl::AnyInvocable<void() &&> work)
      ABSL_LOCKS_EXCLUDED(mu_);

  BackgroundPriority priority() const { return priority_; }
  // Threads started so far (for tests and metrics).
  int threads() const ABSL_LOCKS_EXCLUDED(mu_);
  // Work queued and not started yet (for metrics).
  int64_t queued() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Work = absl::AnyInvocable<void() &&>;
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // The next task: the first of the queue whose turn it is.
  Work TakeNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const char* const name_;
  const int max_threads_;
  const BackgroundPriority priority_;
  mutable absl::Mutex mu_;
  // Queues with work waiting; a queue is dropped when it empties.
  absl::flat_hash_map<std::string, std::deque<Work>> queues_
      ABSL_GUARDED_BY(mu_);
  // Names of the queues with work waiting, the next turn first.
  std::deque<std::string> turns_ ABSL_GUARDED_BY(mu_);
  size_t waiting_ ABSL_GUARDED_BY(mu_) = 0;
  int idle_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace custra::server

#endif  // CUSTRA_SERVER_WORKER_POOL_H_
