#include "agent/api/request_ledger.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"

namespace balloond {
namespace {

// The same request always has the same digest: its bytes are serialized deterministically (maps in
// key order).
std::string Digest(const google::protobuf::Message& request) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    request.SerializeToCodedStream(&coded);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  return std::string(reinterpret_cast<const char*>(digest), sizeof(digest));
}

size_t KeyBytes(absl::string_view call, absl::string_view client, absl::string_view id) {
  return call.size() + client.size() + id.size() + SHA256_DIGEST_LENGTH;
}

}  // namespace

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
  const std::string digest = Digest(request);
  absl::MutexLock lock(&mu_);
  Expire(clock_.Now(), std::nullopt);
  Key key{std::string(call), std::string(client), std::string(request_id)};
  auto it = records_.find(key);
  if (it != records_.end()) {
    if (it->second.request_digest != digest) {
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
  const size_t bytes = KeyBytes(call, client, request_id);
  Expire(clock_.Now(), bytes);
  if (records_.size() >= settings_.max_entries || bytes_ + bytes > settings_.max_bytes) {
    entry.action = Entry::Action::kRefuse;
    entry.refusal = absl::ResourceExhaustedError(absl::StrCat(
        "balloond remembers at most ", settings_.max_entries, " requests (",
        settings_.max_bytes >> 20, " MiB) by request_id and all are in use; retry shortly"));
    return entry;
  }
  Record record;
  record.request_digest = digest;
  record.bytes = bytes;
  bytes_ += bytes;
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
  const size_t answer_bytes = response.ByteSizeLong();
  // A failure changed nothing; an answer past the whole budget could not be kept anyway.
  if (!status.ok() || it->second.bytes + answer_bytes > settings_.max_bytes) {
    Erase(it);
    return;
  }
  Expire(clock_.Now(), answer_bytes);
  std::shared_ptr<google::protobuf::Message> kept(response.New());
  kept->CopyFrom(response);
  it->second.response = std::move(kept);
  it->second.finished = clock_.Now();
  it->second.bytes += answer_bytes;
  bytes_ += answer_bytes;
  finished_order_.emplace_back(it->second.finished, std::move(key));
}

void RequestLedger::Erase(std::map<Key, Record>::iterator it) {
  bytes_ -= it->second.bytes;
  records_.erase(it);
}

void RequestLedger::Expire(absl::Time now, std::optional<size_t> room_for) {
  // The oldest answers go when they are older than `keep`, or to make room for a new request.
  auto full = [&] {
    return room_for &&
           (records_.size() >= settings_.max_entries || bytes_ + *room_for > settings_.max_bytes);
  };
  while (!finished_order_.empty() &&
         (now - finished_order_.front().first >= settings_.keep || full())) {
    const auto& [finished, key] = finished_order_.front();
    auto it = records_.find(key);
    if (it != records_.end() && it->second.response != nullptr && it->second.finished == finished) {
      Erase(it);
    }
    finished_order_.pop_front();
  }
}

size_t RequestLedger::size() const {
  absl::MutexLock lock(&mu_);
  return records_.size();
}

size_t RequestLedger::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

}  // namespace balloond
