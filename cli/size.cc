#include "cli/size.h"

#include <cctype>
#include <limits>

#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "policy/sizes.h"

namespace balloond {
namespace {

absl::Status BadSize(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("size '", text, "' ", why, "; ", kSizeForms));
}

// The unit a bare number most likely left out: small numbers are MiB, as people think of guests;
// larger ones KiB, as virsh and libvirt's XML count them; the largest bytes.
std::string Guess(absl::string_view number_text, uint64_t number) {
  if (number <= 65536) return absl::StrCat(number_text, "M");
  if (number <= (uint64_t{1} << 32)) {
    return absl::StrCat(number, "K (", FormatBytes(static_cast<int64_t>(number) * kKiB), ")");
  }
  return absl::StrCat(number, "B (", FormatBytes(static_cast<int64_t>(number)), ")");
}

}  // namespace

absl::StatusOr<int64_t> ParseMemorySize(absl::string_view text) {
  const std::string s(absl::StripAsciiWhitespace(text));
  size_t end = 0;
  while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
  const std::string whole_digits = s.substr(0, end);
  std::string fraction_digits;
  if (end < s.size() && s[end] == '.') {
    const size_t start = ++end;
    while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
    fraction_digits = s.substr(start, end - start);
    if (fraction_digits.empty()) return BadSize(text, "has a '.' with no digits after it");
  }
  if (whole_digits.empty()) return BadSize(text, "does not start with a number");
  uint64_t whole = 0;
  if (!absl::SimpleAtoi(whole_digits, &whole)) return BadSize(text, "is too large");
  const std::string unit = s.substr(end);
  if (unit.empty()) {
    if (whole == 0 && fraction_digits.empty()) return 0;
    return absl::InvalidArgumentError(absl::StrCat("size '", text, "' has no unit: did you mean ",
                                                   Guess(s, whole), "? ", kSizeForms));
  }
  const uint64_t multiplier = MemoryUnitBytes(unit);
  if (multiplier == 0) return BadSize(text, absl::StrCat("has an unknown unit '", unit, "'"));
  const absl::uint128 max = std::numeric_limits<int64_t>::max();
  absl::uint128 bytes = absl::uint128(whole) * multiplier;
  // The fraction as a whole number of its last digit's units, then scaled: exact for every unit.
  absl::uint128 fraction = 0, scale = 1;
  for (char digit : fraction_digits.substr(0, 18)) {
    fraction = fraction * 10 + static_cast<unsigned>(digit - '0');
    scale *= 10;
  }
  bytes += fraction * multiplier / scale;
  if (bytes > max) return BadSize(text, "is too large");
  return static_cast<int64_t>(absl::Uint128Low64(bytes));
}

}  // namespace balloond
