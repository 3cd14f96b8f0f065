#include "agent/base/error_reason.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/base/log.h"

namespace balloond {
namespace {

constexpr absl::string_view kReasonUrl = "balloond/error-reason";
constexpr absl::string_view kMetadataUrl = "balloond/error-metadata";

}  // namespace

absl::Status WithReason(absl::Status status, absl::string_view reason,
                        const std::map<std::string, std::string>& metadata) {
  if (status.ok()) return status;
  status.SetPayload(kReasonUrl, absl::Cord(reason));
  // One "key\tvalue" per line: keys are words, values a name or a number (no tabs, no newlines).
  std::string lines;
  for (const auto& [key, value] : metadata) absl::StrAppend(&lines, key, "\t", value, "\n");
  if (!lines.empty()) status.SetPayload(kMetadataUrl, absl::Cord(lines));
  return status;
}

std::pair<std::string, std::map<std::string, std::string>> ReasonOf(const absl::Status& status) {
  std::pair<std::string, std::map<std::string, std::string>> out;
  if (auto reason = status.GetPayload(kReasonUrl)) out.first = std::string(*reason);
  if (auto lines = status.GetPayload(kMetadataUrl)) {
    for (absl::string_view line : absl::StrSplit(std::string(*lines), '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('\t', 1));
      out.second.insert(std::move(kv));
    }
  }
  return out;
}

absl::Status StatusOfWork(const std::function<absl::Status()>& work) {
  try {
    return work();
  } catch (const std::exception& e) {
    Log(LogLevel::kError, absl::StrCat("a request failed with an exception: ", e.what()));
    return absl::InternalError(absl::StrCat("balloond failed: ", e.what()));
  } catch (...) {
    Log(LogLevel::kError, "a request failed with an unknown exception");
    return absl::InternalError("balloond failed with an unknown exception");
  }
}

}  // namespace balloond
