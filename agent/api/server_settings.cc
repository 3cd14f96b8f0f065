#include "agent/api/server_settings.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/api/tls_access.h"

namespace balloond {

absl::Status ValidateHostPort(absl::string_view flag, absl::string_view address) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  const bool ok = colon != absl::string_view::npos && colon > 0 &&
                  absl::SimpleAtoi(address.substr(colon + 1), &port) && port <= 65535 &&
                  (address[0] != '[' || address[colon - 1] == ']');
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " '", address, "' must be HOST:PORT, e.g. 0.0.0.0:7443 or [::]:7443"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTlsSettings(const TlsSettings& tls) {
  const bool any_file = !tls.cert_file.empty() || !tls.key_file.empty() ||
                        !tls.client_ca_file.empty() || !tls.operators.empty();
  if (tls.listen.empty()) {
    if (!any_file) return absl::OkStatus();
    return absl::InvalidArgumentError(
        "TLS files or operators are given but no --listen-tls (tls { listen }) to serve them on");
  }
  if (absl::Status s = ValidateHostPort("--listen-tls", tls.listen); !s.ok()) return s;
  for (auto [flag, value] :
       {std::pair{"--tls-cert (tls { cert_file })", &tls.cert_file},
        std::pair{"--tls-key (tls { key_file })", &tls.key_file},
        std::pair{"--tls-client-ca (tls { client_ca_file })", &tls.client_ca_file}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--listen-tls needs ", flag, ": balloond serves TCP only with mutual TLS"));
    }
  }
  for (const std::string& name : tls.operators) {
    if (auto id = ParseOperatorIdentity(name); !id.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tls-operator (tls { operators }): ", id.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> UnixSocketPath(absl::string_view address) {
  absl::string_view path = address;
  if (!absl::ConsumePrefix(&path, "unix:") || path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("listen address '", address,
                     "' must be unix:/absolute/path, e.g. unix:/run/balloond/balloond.sock"));
  }
  return std::string(path);
}

}  // namespace balloond
