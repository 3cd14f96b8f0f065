#ifndef BALLOOND_AGENT_LIBVIRT_CALL_LANES_H_
#define BALLOOND_AGENT_LIBVIRT_CALL_LANES_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {

// A blocking call handed to CallLanes: done when it returned, or given up on by its caller.
class PendingCall {
 public:
  // OK once the call has returned; DEADLINE_EXCEEDED if it has not by `deadline` (it goes on, and
  // its lane stays busy until it returns, but the caller is free).
  absl::Status Wait(absl::Time deadline);

 private:
  friend class CallLanes;
  std::function<void()> work_;
  std::string lane_;
  absl::Status refused_;  // set when the call was refused at once (its lane is hung)
  explicit PendingCall(Clock& clock) : clock_(clock) {}
  Clock& clock_;
  absl::Mutex done_mu_;
  bool done_ ABSL_GUARDED_BY(done_mu_) = false;
  bool done() {
    absl::MutexLock lock(&done_mu_);
    return done_;
  }
  void MarkDone() {
    absl::MutexLock lock(&done_mu_);
    done_ = true;
  }
  // Guarded by the lanes' mutex.
  bool abandoned_ = false;
  bool started_ = false;
};

// Runs blocking calls (libvirt's, which cannot be cancelled) on long-lived threads with deadline
// bookkeeping: no thread is created per call, a caller waits on one notification, and leaves at
// its deadline. Calls on one lane (a domain's UUID) run one at a time, so a hung QEMU holds up only
// calls to itself: while a lane's call has gone unanswered longer than `hung_after`, new calls on
// it are refused at once instead of waiting out their deadlines. Threads stuck in such calls are
// replaced, up to `max_threads`, so that hung domains never starve the others.
class CallLanes {
 public:
  struct Options {
    int threads = 4;
    int max_threads = 64;
    absl::Duration hung_after = absl::Seconds(1);
  };
  // `clock` tells how long calls have waited; it must outlive every call (RealClock() does).
  CallLanes(Options options, Clock& clock);
  ~CallLanes();
  CallLanes(const CallLanes&) = delete;
  CallLanes& operator=(const CallLanes&) = delete;

  // Queues `work` on `lane` ("" for a call that needs none). Wait on the result.
  std::shared_ptr<PendingCall> Submit(const std::string& lane, std::function<void()> work);
  // Submit, then Wait; a call still waiting in line at the deadline is dropped.
  absl::Status Run(const std::string& lane, absl::Time deadline, std::function<void()> work);
  // The caller of `call` gives up on it: if it has not started, it never will (false); if it is
  // running, it goes on (true: it is stuck in whatever it waits for).
  bool Abandon(const std::shared_ptr<PendingCall>& call);

  // Threads running now (for tests and metrics), and lanes remembered (busy or waiting).
  int threads() const;
  size_t lanes() const;

 private:
  struct Lane {
    bool busy = false;
    absl::Time since;  // when its running call started
    std::deque<std::shared_ptr<PendingCall>> waiting;
  };
  // Shared with the worker threads, which may outlive the CallLanes object while stuck in a call.
  struct State;

  static void Work(std::shared_ptr<State> state, size_t index);

  std::shared_ptr<State> state_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_CALL_LANES_H_
