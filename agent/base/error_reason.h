#ifndef BALLOOND_AGENT_BASE_ERROR_REASON_H_
#define BALLOOND_AGENT_BASE_ERROR_REASON_H_

// A machine-readable reason beside an error's message: set where the error is made, and sent by
// the API as google.rpc.ErrorInfo (agent/api/proto_convert.h). Clients branch on the reason, not on
// the words.

#include <functional>
#include <map>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace balloond {

// `status` with `reason` (UPPER_SNAKE_CASE, stable across releases; see balloon.proto's list) and
// what more there is to say about it, e.g. {{"domain", "web1"}}. An OK status stays OK.
absl::Status WithReason(absl::Status status, absl::string_view reason,
                        const std::map<std::string, std::string>& metadata = {});

// The reason and metadata set by WithReason; an empty reason for a status without one.
std::pair<std::string, std::map<std::string, std::string>> ReasonOf(const absl::Status& status);

// What `work` returns, or INTERNAL (logged) when it throws: a request's work never takes its
// caller down, and its client always gets an answer.
absl::Status StatusOfWork(const std::function<absl::Status()>& work);

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_ERROR_REASON_H_
