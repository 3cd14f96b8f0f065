#ifndef BALLOOND_AGENT_API_CALL_LIMITS_H_
#define BALLOOND_AGENT_API_CALL_LIMITS_H_

#include <map>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace balloond {

struct CallLimitSettings {
  int max_calls_per_connection = 64;
  int max_watches = 1024;
};

// Counts the calls in flight on one listener, by connection, and its watch streams, so that no
// client can make balloond hold more than the limits: past one, a call is refused with
// RESOURCE_EXHAUSTED naming the limit and the setting that raises it.
class CallLimits {
 public:
  // A call's place within the limits, given back when the ticket is destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();

   private:
    friend class CallLimits;
    Ticket(CallLimits* limits, std::string connection, bool watch)
        : limits_(limits), connection_(std::move(connection)), watch_(watch) {}
    CallLimits* limits_ = nullptr;
    std::string connection_;
    bool watch_ = false;
  };

  explicit CallLimits(CallLimitSettings settings) : settings_(settings) {}

  // A call on `connection` (gRPC's peer name for it).
  absl::StatusOr<Ticket> AdmitCall(absl::string_view connection);
  // A watch stream on `connection`: counts as a call, and toward the listener's watches.
  absl::StatusOr<Ticket> AdmitWatch(absl::string_view connection);

  int open_watches() const;
  int calls_in_flight() const;

 private:
  absl::StatusOr<Ticket> Admit(absl::string_view connection, bool watch);
  void Release(const std::string& connection, bool watch);

  const CallLimitSettings settings_;
  mutable absl::Mutex mu_;
  std::map<std::string, int, std::less<>> calls_by_connection_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int watches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_CALL_LIMITS_H_
