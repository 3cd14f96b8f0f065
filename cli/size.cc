#include "cli/size.h"

#include <cctype>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace balloond {
namespace {

// The multiplier of a unit as virsh spells it, or 0 if unknown.
uint64_t UnitMultiplier(const std::string& unit) {
  if (unit.empty()) return 1024;  // virsh setmem's default unit is KiB
  if (unit == "b" || unit == "byte" || unit == "bytes") return 1;
  static const char kPowers[] = "kmgtpe";
  for (int i = 0; kPowers[i] != '\0'; ++i) {
    uint64_t binary = 1, decimal = 1;
    for (int j = 0; j <= i; ++j) binary *= 1024, decimal *= 1000;
    const std::string p(1, kPowers[i]);
    if (unit == p || unit == p + "ib") return binary;
    if (unit == p + "b") return decimal;
  }
  return 0;
}

}  // namespace

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
  const uint64_t multiplier = UnitMultiplier(unit);
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
