#include "agent/libvirt/domain_ref.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

// libvirt's own limit on names is far shorter than what a request may carry.
constexpr size_t kMaxDomainRefLength = 256;

}  // namespace

absl::Status ValidateDomainRef(absl::string_view ref) {
  if (ref.empty()) {
    return absl::InvalidArgumentError("no domain given; name a domain by its libvirt name or UUID");
  }
  if (ref.size() > kMaxDomainRefLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("domain name is longer than ", kMaxDomainRefLength, " characters"));
  }
  for (char c : ref) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("domain name contains a control character");
    }
  }
  return absl::OkStatus();
}

bool LooksLikeUuid(absl::string_view ref) {
  if (ref.size() != 36) return false;
  for (size_t i = 0; i < ref.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (ref[i] == '-')) return false;
    if (!dash && !absl::ascii_isxdigit(static_cast<unsigned char>(ref[i]))) return false;
  }
  return true;
}

}  // namespace balloond
