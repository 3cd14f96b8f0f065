#ifndef BALLOOND_AGENT_WORKER_POOL_H_
#define BALLOOND_AGENT_WORKER_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace balloond {

// A fixed set of threads running queued tasks, so calls to different domains' monitors overlap.
class WorkerPool {
 public:
  explicit WorkerPool(int threads);
  ~WorkerPool();  // runs the tasks already queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void Submit(std::function<void()> task);
  // Blocks until the queue is empty and no task is running.
  void WaitIdle();
  // The same, for at most `timeout`; false if the pool is still busy then.
  bool WaitIdleFor(absl::Duration timeout);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_WORKER_POOL_H_
