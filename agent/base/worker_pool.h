#ifndef BALLOOND_AGENT_BASE_WORKER_POOL_H_
#define BALLOOND_AGENT_BASE_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace balloond {

// A fixed set of threads running queued tasks. A task that throws is logged and the worker carries
// on: nothing a task does can end the daemon.
class WorkerPool {
 public:
  // `name` appears in log lines; at most `max_queued` tasks wait (TrySubmit refuses more).
  WorkerPool(std::string name, int threads, size_t max_queued = std::numeric_limits<size_t>::max());
  ~WorkerPool();  // Stop
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task);
  // Queues `task` unless max_queued tasks already wait (RESOURCE_EXHAUSTED) or the pool is stopping
  // (UNAVAILABLE); then `task` never runs.
  absl::Status TrySubmit(std::function<void()> task);
  // Runs the tasks already queued, then joins the threads. Call it before anything the tasks use
  // goes away; tasks submitted afterwards never run.
  void Stop();
  // Blocks until the queue is empty and no task is running.
  void WaitIdle();
  // The same, for at most `timeout`; false if the pool is still busy then.

 private:
  void Run();

  const std::string name_;
  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// Runs `body`, logging what it throws instead of letting it end the thread (and the daemon).
void RunGuarded(absl::string_view what, const std::function<void()>& body);

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_WORKER_POOL_H_
