#ifndef BALLOOND_AGENT_QOM_QOM_GATE_H_
#define BALLOOND_AGENT_QOM_QOM_GATE_H_

#include <deque>
#include <functional>
#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"
#include "agent/base/worker_pool.h"

namespace balloond {

struct QomGateSettings {
  // Per client: queries started per second, and at once after a quiet spell (a token bucket).
  double queries_per_second = 10;
  int burst = 20;
  // Per domain: one client query runs at a time; this many wait behind it.
  int queue_per_domain = 4;
  // Threads that run clients' queries (each may wait on a slow QEMU until its deadline).
  int workers = 4;
};

// Lets clients' QOM queries through without letting any of them crowd out the collector or other
// clients: each client (a local user, or a TLS certificate's identity) has a rate, each domain runs
// one client query at a time with a short queue behind it, and the queries run on workers of their
// own, never on gRPC's threads. (The collector's own calls go ahead of clients' in each domain's
// monitor lane: see Hypervisor::RunQmp.)
class QomGate {
 public:
  QomGate(QomGateSettings settings, Clock& clock);

  // Runs `query` on a worker once no other client query to `domain` runs, or returns
  // RESOURCE_EXHAUSTED (and never runs it) when `client` is over its rate or the domain's queue is
  // full. The message names the limit and its setting.
  absl::Status Submit(const std::string& client, const std::string& domain,
                      std::function<void()> query);
  // Runs the queries already started, then stops the workers.
  void Stop() { workers_.Stop(); }

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };
  struct DomainQueue {
    bool running = false;
    std::deque<std::function<void()>> waiting;
  };

  absl::Status TakeToken(const std::string& client) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Start(const std::string& domain, std::function<void()> query);
  void Finished(const std::string& domain);

  const QomGateSettings settings_;
  Clock& clock_;
  absl::Mutex mu_;
  std::map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, DomainQueue> domains_ ABSL_GUARDED_BY(mu_);
  WorkerPool workers_;  // last: its threads stop before the maps go
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_QOM_GATE_H_
