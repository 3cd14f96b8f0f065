#ifndef BALLOOND_AGENT_API_PAGING_H_
#define BALLOOND_AGENT_API_PAGING_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace balloond {

// List calls answer a page at a time (AIP-158): at most kMaxPageSize entries, so that no answer a
// client leaves unread holds more than a page of balloond's memory.
inline constexpr int kMaxPageSize = 100;

// Where a page starts and how long it is, from a request's page_size and page_token.
struct PageRequest {
  int size = kMaxPageSize;
  // Empty on the first page; else what the last page ended after (a name, an id, a sequence).
  std::string after;
};

// `page_size` 0 means kMaxPageSize, and larger ones are taken as kMaxPageSize; a negative one, or a
// token that this call did not return for the same `filter` (another request's, or made up), is
// INVALID_ARGUMENT.
absl::StatusOr<PageRequest> ReadPageRequest(int32_t page_size, absl::string_view page_token,
                                            absl::string_view call, absl::string_view filter = "");

// The next_page_token of a page of `call` (with `filter`) that ended after `after`.
std::string NextPageToken(absl::string_view call, absl::string_view filter,
                          absl::string_view after);

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_PAGING_H_
