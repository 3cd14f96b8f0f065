#include "agent/api/request_ledger.h"

#include <google/protobuf/util/message_differencer.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"

namespace balloond {

absl::Status RequestLedger::ValidateRequestId(absl::string_view id) {
  constexpr size_t kMaxLength = 128;
  if (id.empty() || id.size() > kMaxLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("request_id must be 1 to ", kMaxLength, " characters, got ", id.size()));
  }
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.' &&
        c != ':') {
      return absl::InvalidArgumentError(
          "request_id may hold only letters, digits and \"-_.:\" (a UUID fits)");
    }
  }
  return absl::OkStatus();
}

RequestLedger::Entry RequestLedger::Begin(absl::string_view call, absl::string_view client,
                                          absl::string_view request_id,
                                          const google::protobuf::Message& request) {
  Entry entry;
  if (absl::Status s = ValidateRequestId(request_id); !s.ok()) {
    entry.action = Entry::Action::kRefuse;
    entry.refusal = s;
    return entry;
  }
  absl::MutexLock lock(&mu_);
  Expire(clock_.Now(), /*make_room=*/false);
  Key key{std::string(call), std::string(client), std::string(request_id)};
  auto it = records_.find(key);
  if (it != records_.end()) {
    if (!google::protobuf::util::MessageDifferencer::Equals(*it->second.request, request)) {
      entry.action = Entry::Action::kRefuse;
      entry.refusal =
          WithReason(absl::InvalidArgumentError(absl::StrCat(
                         "request_id \"", request_id,
                         "\" was already used for a different request; a retry must repeat the "
                         "request unchanged, and a new request needs a new id")),
                     "REQUEST_ID_REUSED", {{"request_id", std::string(request_id)}});
    } else if (it->second.response == nullptr) {
      entry.action = Entry::Action::kRefuse;
      entry.refusal = WithReason(absl::AbortedError(absl::StrCat(
                                     "the request with request_id \"", request_id,
                                     "\" is still being carried out; retry it to get its answer")),
                                 "REQUEST_IN_PROGRESS", {{"request_id", std::string(request_id)}});
    } else {
      entry.action = Entry::Action::kAnswer;
      entry.response = it->second.response;
    }
    return entry;
  }
  Expire(clock_.Now(), /*make_room=*/true);
  if (records_.size() >= settings_.max_entries) {
    entry.action = Entry::Action::kRefuse;
    entry.refusal = absl::ResourceExhaustedError(
        absl::StrCat("balloond remembers at most ", settings_.max_entries,
                     " requests by request_id and all are in use; retry shortly"));
    return entry;
  }
  Record record;
  record.request.reset(request.New());
  record.request->CopyFrom(request);
  records_.emplace(std::move(key), std::move(record));
  return entry;
}

void RequestLedger::Finish(absl::string_view call, absl::string_view client,
                           absl::string_view request_id, const absl::Status& status,
                           const google::protobuf::Message& response) {
  absl::MutexLock lock(&mu_);
  Key key{std::string(call), std::string(client), std::string(request_id)};
  auto it = records_.find(key);
  if (it == records_.end() || it->second.response != nullptr) return;
  if (!status.ok()) {
    records_.erase(it);
    return;
  }
  std::shared_ptr<google::protobuf::Message> kept(response.New());
  kept->CopyFrom(response);
  it->second.response = std::move(kept);
  it->second.finished = clock_.Now();
  finished_order_.emplace_back(it->second.finished, std::move(key));
}

void RequestLedger::Expire(absl::Time now, bool make_room) {
  // The oldest answers go when they are older than `keep`, or to make room for a new request.
  while (!finished_order_.empty() && (now - finished_order_.front().first >= settings_.keep ||
                                      (make_room && records_.size() >= settings_.max_entries))) {
    const auto& [finished, key] = finished_order_.front();
    auto it = records_.find(key);
    if (it != records_.end() && it->second.response != nullptr && it->second.finished == finished) {
      records_.erase(it);
    }
    finished_order_.pop_front();
  }
}

size_t RequestLedger::size() const {
  absl::MutexLock lock(&mu_);
  return records_.size();
}

}  // namespace balloond
