#include "agent/qom/qom_request.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/base/error_reason.h"

namespace balloond {
namespace {

constexpr size_t kMaxPathLength = 512;
constexpr size_t kMaxNameLength = 128;

// QEMU's object and property names: letters, digits, and -_.:[] (e.g. "child[4]", "pci.0").
bool IsQomNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == ':' || c == '[' || c == ']';
}

absl::Status ValidateName(absl::string_view what, absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is longer than ", kMaxNameLength, " characters"));
  }
  if (name == "." || name == "..") {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", name, "' is relative; use absolute QOM paths"));
  }
  for (char c : name) {
    if (!IsQomNameChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", name, "' has the character '", absl::CEscape(std::string(1, c)),
                       "'; QOM names use letters, digits and -_.:[]"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateQomPath(absl::string_view path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "QOM path '", path, "' is not absolute; start it with '/', e.g. /machine/peripheral"));
  }
  if (path.size() > kMaxPathLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("QOM path is longer than ", kMaxPathLength, " characters"));
  }
  if (path == "/") return absl::OkStatus();
  absl::string_view rest = path.substr(1);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  for (absl::string_view segment : absl::StrSplit(rest, '/')) {
    if (absl::Status s = ValidateName("QOM path segment", segment); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("QOM path '", path, "': ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckQomPathAllowed(absl::string_view path) {
  if (path == "/objects" || absl::StartsWith(path, "/objects/")) {
    return WithReason(absl::PermissionDeniedError(absl::StrCat(
                          "balloond does not list or read below /objects (", path,
                          "): objects there may hold secrets; balloon statistics are under "
                          "/machine")),
                      "QOM_PATH_REFUSED", {{"path", std::string(path)}});
  }
  return absl::OkStatus();
}

absl::Status ValidateQomProperty(absl::string_view property) {
  return ValidateName("QOM property", property);
}

}  // namespace balloond
