#ifndef BALLOOND_AGENT_API_REQUEST_LEDGER_H_
#define BALLOOND_AGENT_API_REQUEST_LEDGER_H_

#include <google/protobuf/message.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {

// The changes clients asked for by request_id, so that a retry gets the first answer instead of
// acting twice (the way Google's APIs make retries safe, AIP-155). An entry is keyed by the call,
// the client's identity and its id: one client cannot see another's answers. Only successes are
// kept: a request that failed changed nothing, and its retry runs again. A request is kept as a
// digest (a retry is compared by it), an answer whole; both count against a budget of bytes, past
// which the oldest answers are forgotten first.
class RequestLedger {
 public:
  struct Settings {
    absl::Duration keep = absl::Hours(1);
    size_t max_entries = 10000;
    size_t max_bytes = size_t{32} << 20;
  };
  RequestLedger(Clock& clock, Settings settings) : clock_(clock), settings_(settings) {}

  // What a call with a request_id should do.
  struct Entry {
    enum class Action { kRun, kAnswer, kRefuse } action = Action::kRun;
    // kAnswer: the first request's response (fill the call's response from it).
    std::shared_ptr<const google::protobuf::Message> response;
    // kRefuse: why (a repeat while the first runs, or the same id for another request).
    absl::Status refusal;
  };
  // Registers the request under `request_id` (kRun: the caller must then call Finish), or says how
  // to answer its repeat. INVALID_ARGUMENT for an id that is not 1-128 of [A-Za-z0-9._:-].
  Entry Begin(absl::string_view call, absl::string_view client, absl::string_view request_id,
              const google::protobuf::Message& request);
  // The end of a request Begin said to run: a success's response is kept for its repeats; a
  // failure forgets the request.
  void Finish(absl::string_view call, absl::string_view client, absl::string_view request_id,
              const absl::Status& status, const google::protobuf::Message& response);

  static absl::Status ValidateRequestId(absl::string_view request_id);
  size_t size() const;
  // What the entries hold: keys, digests and answers.
  size_t bytes() const;

 private:
  using Key = std::tuple<std::string, std::string, std::string>;
  struct Record {
    std::string request_digest;                                 // SHA-256 of its bytes
    std::shared_ptr<const google::protobuf::Message> response;  // null while running
    absl::Time finished;
    size_t bytes = 0;  // what it counts against max_bytes
  };
  // Drops answers older than `keep`, and with `room_for` the oldest until one more of that many
  // bytes fits.
  void Expire(absl::Time now, std::optional<size_t> room_for) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Erase(std::map<Key, Record>::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const Settings settings_;
  mutable absl::Mutex mu_;
  std::map<Key, Record> records_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Finished requests, oldest first, for expiry (a key may be gone already).
  std::deque<std::pair<absl::Time, Key>> finished_order_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_REQUEST_LEDGER_H_
