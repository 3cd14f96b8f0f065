#include "policy/sizes.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace balloond {

std::string FormatBytes(int64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while ((value >= 1024 || value <= -1024) && unit < 6) value /= 1024, ++unit;
  if (unit == 0) return absl::StrCat(bytes, " B");
  std::string out = absl::StrFormat("%.1f", value);
  if (absl::EndsWith(out, ".0")) out.resize(out.size() - 2);
  return absl::StrCat(out, " ", kUnits[unit]);
}

uint64_t MemoryUnitBytes(absl::string_view unit) {
  const std::string u = absl::AsciiStrToLower(unit);
  if (u == "b" || u == "byte" || u == "bytes") return 1;
  static constexpr char kPowers[] = "kmgtpe";
  uint64_t binary = 1, decimal = 1;
  for (int i = 0; kPowers[i] != '\0'; ++i) {
    binary *= 1024;
    decimal *= 1000;
    const std::string p(1, kPowers[i]);
    if (u == p || u == p + "ib") return binary;
    if (u == p + "b") return decimal;
  }
  return 0;
}

}  // namespace balloond
