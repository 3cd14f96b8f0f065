#include "agent/api/paging.h"

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace balloond {
namespace {

// Tokens name their call and filter, so that one is never taken for another request's place.
constexpr char kSeparator = '\0';
constexpr absl::string_view kVersion = "p1";

absl::Status BadToken(absl::string_view call) {
  return absl::InvalidArgumentError(absl::StrCat(
      "page_token is not one that ", call,
      " returned for this request: pass next_page_token unchanged, with the same other fields"));
}

}  // namespace

std::string NextPageToken(absl::string_view call, absl::string_view filter,
                          absl::string_view after) {
  return absl::WebSafeBase64Escape(absl::StrCat(kVersion, std::string(1, kSeparator), call,
                                                std::string(1, kSeparator), filter,
                                                std::string(1, kSeparator), after));
}

absl::StatusOr<PageRequest> ReadPageRequest(int32_t page_size, absl::string_view page_token,
                                            absl::string_view call, absl::string_view filter) {
  if (page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must not be negative, got ", page_size));
  }
  PageRequest page;
  if (page_size > 0 && page_size < kMaxPageSize) page.size = page_size;
  if (page_token.empty()) return page;
  std::string text;
  if (!absl::WebSafeBase64Unescape(page_token, &text)) return BadToken(call);
  std::vector<absl::string_view> parts = absl::StrSplit(text, kSeparator);
  if (parts.size() != 4 || parts[0] != kVersion || parts[1] != call || parts[2] != filter ||
      parts[3].empty()) {
    return BadToken(call);
  }
  page.after = std::string(parts[3]);
  return page;
}

}  // namespace balloond
