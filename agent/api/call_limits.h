#ifndef BALLOOND_AGENT_API_CALL_LIMITS_H_
#define BALLOOND_AGENT_API_CALL_LIMITS_H_

#include <cstdint>
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
  // A client's share of the listener's watches: no one user (or certificate) can take them all.
  int max_watches_per_client = 64;
  // Answers made and not yet taken by their client (an HTTP/2 window of 0 keeps them in balloond),
  // per client and for the whole listener.
  int64_t max_unread_bytes_per_client = int64_t{8} << 20;
  int64_t max_unread_bytes = int64_t{32} << 20;
};

// Counts what the clients of one listener hold: calls in flight by connection, watch streams by
// client and in all, and the bytes of answers they have not read yet, so that no client can make
// balloond hold more than the limits. A call holds its place until gRPC is done with it (not
// when its handler returns): an answer its client never reads still counts. Past a limit, a call is
// refused with RESOURCE_EXHAUSTED naming the limit and the setting that raises it.
class CallLimits {
 public:
  // A call's place within the limits, and the bytes its answer holds; given back when destroyed.
  class Ticket {
   public:
    Ticket() = default;
    Ticket(Ticket&& other) noexcept { *this = std::move(other); }
    Ticket& operator=(Ticket&& other) noexcept;
    ~Ticket();

    // Counts an answer of `bytes` against its client's and the listener's unread bytes, until the
    // ticket goes; RESOURCE_EXHAUSTED (counting nothing) past either.
    absl::Status ChargeAnswer(int64_t bytes);

   private:
    friend class CallLimits;
    Ticket(CallLimits* limits, std::string connection, std::string client, bool watch)
        : limits_(limits),
          connection_(std::move(connection)),
          client_(std::move(client)),
          watch_(watch) {}
    void Release();
    CallLimits* limits_ = nullptr;
    std::string connection_;
    std::string client_;
    bool watch_ = false;
    int64_t charged_ = 0;
  };

  explicit CallLimits(CallLimitSettings settings) : settings_(settings) {}

  // A call on `connection` (gRPC's peer name for it) by `client` (who is behind it: "uid 1000").
  absl::StatusOr<Ticket> AdmitCall(absl::string_view connection, absl::string_view client);
  // A watch stream: counts as a call, and toward the client's and the listener's watches.
  absl::StatusOr<Ticket> AdmitWatch(absl::string_view connection, absl::string_view client);

  int open_watches() const;
  int calls_in_flight() const;
  int64_t unread_bytes() const;

 private:
  struct ClientShare {
    int calls = 0;
    int watches = 0;
    int64_t unread_bytes = 0;
  };
  absl::StatusOr<Ticket> Admit(absl::string_view connection, absl::string_view client, bool watch);
  absl::Status Charge(const std::string& client, int64_t bytes);
  void Release(const Ticket& ticket);

  const CallLimitSettings settings_;
  mutable absl::Mutex mu_;
  std::map<std::string, int, std::less<>> calls_by_connection_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ClientShare, std::less<>> clients_ ABSL_GUARDED_BY(mu_);
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  int watches_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t unread_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_CALL_LIMITS_H_
