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
// than as runnable threads. The priority is the thread's nice value; an
// unprivileged process can raise it but not lower it again, so background
// work keeps threads of its own instead of renicing the gRPC threads.

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

// Raises the calling thread's nice value by `nice` (0: leaves it). Returns
// false if the kernel refused.
bool LowerThisThreadsPriority(int nice);

// Whether the calling thread runs pooled work (one of a WorkerPool's
// threads, or one lowered by the import stream).
bool OnPoolThread();
// Marks the calling thread as one that runs pooled work.
void MarkPoolThread();

// Starts a thread that runs `body` as pooled work whose priority is `nice`
// lower (for work with threads of its own, such as an import stream's
// stages, and for the pools' threads).
std::thread StartLoweredThread(int nice, absl::AnyInvocable<void() &&> body);

// A pool of threads that runs work for callers, at a priority lowered by
// `nice` (0: the caller's). Threads are started as work arrives, up to
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
  // `nice`: how much lower the threads' priority is (0 to 19).
  WorkerPool(int max_threads, int nice);
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

  int nice() const { return nice_; }
  // Threads started so far (for tests and metrics).
  int threads() const ABSL_LOCKS_EXCLUDED(mu_);
  // Work queued and not started yet (for metrics).
  int64_t queued() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  using Work = absl::AnyInvocable<void() &&>;
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  // The next task: the first of the queue whose turn it is.
  Work TakeNext() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int max_threads_;
  const int nice_;
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
