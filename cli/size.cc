#include "cli/size.h"

#include <cctype>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "policy/sizes.h"

namespace balloond {
absl::StatusOr<int64_t> ParseMemorySize(absl::string_view text) {
  const std::string s(absl::StripAsciiWhitespace(text));
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "size '", text, "' must start with a whole number, e.g. 512M, 2GiB or 1048576 (KiB)"));
  }
  uint64_t number = 0;
  if (!absl::SimpleAtoi(s.substr(0, digits), &number)) {
    return absl::InvalidArgumentError(absl::StrCat("size '", text, "' is too large"));
  }
  const std::string unit = absl::AsciiStrToLower(s.substr(digits));
  // virsh setmem's default unit is KiB.
  const uint64_t multiplier = unit.empty() ? kKiB : MemoryUnitBytes(unit);
  if (multiplier == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "size '", text, "' has an unknown unit '", s.substr(digits),
        "'; use B, KiB, MiB, GiB, TiB (or k, M, G, T), KB, MB, GB, TB; whole numbers only"));
  }
  if (number > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / multiplier) {
    return absl::InvalidArgumentError(absl::StrCat("size '", text, "' is too large"));
  }
  return static_cast<int64_t>(number * multiplier);
}

}  // namespace balloond
