#ifndef BALLOOND_AGENT_QOM_QOM_TRAFFIC_H_
#define BALLOOND_AGENT_QOM_QOM_TRAFFIC_H_

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {

// Clients' QOM queries in flight, across every listener, so that the collector goes first: while
// libvirt reads the statistics, a domain whose monitor a client's query holds would be skipped, and
// a steady flood of queries could make its statistics late. The collector pauses the queries for
// the length of a collection; a query that would start meanwhile waits for it to end.
class QomTraffic {
 public:
  explicit QomTraffic(Clock& clock) : clock_(clock) {}

  // A client's query in flight: it counts until the pass is destroyed, however its query ends
  // (an exception included).
  class Pass {
   public:
    Pass(Pass&& other) noexcept : traffic_(std::exchange(other.traffic_, nullptr)) {}
    Pass& operator=(Pass&&) = delete;
    ~Pass() {
      if (traffic_ != nullptr) traffic_->Exit();
    }

   private:
    friend class QomTraffic;
    explicit Pass(QomTraffic* traffic) : traffic_(traffic) {}
    QomTraffic* traffic_;
  };

  // A client's query may start once no collection runs; nullopt when `deadline` comes first.
  std::optional<Pass> Enter(absl::Time deadline);
  // Queries in flight now.
  int running();

  // No new query starts until Resume; the ones running get up to `wait` to finish (a query stuck
  // on a hung QEMU is not waited for longer).
  void Pause(absl::Duration wait);
  void Resume();

 private:
  void Exit();

  Clock& clock_;
  absl::Mutex mu_;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  bool paused_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_QOM_QOM_TRAFFIC_H_
