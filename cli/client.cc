#include "cli/client.h"

#include <grp.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <sys/stat.h>

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace balloond {
namespace {

std::string When(absl::Time t) {
  return absl::FormatTime("%Y-%m-%d %H:%M UTC", t, absl::UTCTimeZone());
}

// "its group 'balloond' (sudo usermod -aG balloond $USER, then log in again)", or "its group" when
// the socket cannot be read.
std::string GroupOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "its group";
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  if (::getgrgid_r(st.st_gid, &entry, buffer.data(), buffer.size(), &found) != 0 ||
      found == nullptr) {
    return absl::StrCat("its group (gid ", st.st_gid, ")");
  }
  return absl::StrCat("its group '", found->gr_name, "' (sudo usermod -aG ", found->gr_name,
                      " $USER, then log in again)");
}

}  // namespace

ConnectionOptions WithEnvironment(ConnectionOptions options,
                                  const std::function<const char*(const char*)>& getenv) {
  auto fill = [&](std::string& field, const char* variable) {
    const char* value = getenv(variable);
    if (field.empty() && value != nullptr) field = value;
  };
  if (options.socket.empty()) fill(options.server, "BALLOONCTL_SERVER");
  fill(options.tls_ca, "BALLOONCTL_TLS_CA");
  fill(options.tls_cert, "BALLOONCTL_TLS_CERT");
  fill(options.tls_key, "BALLOONCTL_TLS_KEY");
  return options;
}

absl::StatusOr<Connection> Connection::Open(const ConnectionOptions& options, bool needs_write) {
  Connection c;
  if (options.server.empty()) {
    // Read commands default to the read-only socket, which any user may open; control commands
    // need the read-write one.
    c.socket_ = !options.socket.empty() ? options.socket
                : needs_write           ? kDefaultSocket
                                        : kDefaultReadOnlySocket;
    c.channel_ = grpc::CreateChannel("unix:" + c.socket_, grpc::InsecureChannelCredentials());
    return c;
  }
  if (!options.socket.empty()) {
    return absl::InvalidArgumentError("give --socket or --server, not both");
  }
  for (auto [value, flag, variable] :
       {std::tuple{&options.tls_ca, "--tls-ca", "BALLOONCTL_TLS_CA"},
        std::tuple{&options.tls_cert, "--tls-cert", "BALLOONCTL_TLS_CERT"},
        std::tuple{&options.tls_key, "--tls-key", "BALLOONCTL_TLS_KEY"}}) {
    if (value->empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--server needs ", flag, " (or ", variable,
          "): balloond's TCP listener takes only clients with a certificate from its CA"));
    }
  }
  grpc::SslCredentialsOptions tls;
  auto ca = ReadCertificates("--tls-ca", options.tls_ca, &tls.pem_root_certs);
  if (!ca.ok()) return ca.status();
  auto pair = ReadKeyPair("--tls-cert", options.tls_cert, "--tls-key", options.tls_key);
  if (!pair.ok()) return pair.status();
  if (absl::Status s = CheckValidity("--tls-cert", pair->leaf, absl::Now()); !s.ok()) {
    return s;  // balloond would refuse it
  }
  tls.pem_cert_chain = pair->certificate_pem;
  tls.pem_private_key = pair->key_pem;
  c.server_ = options.server;
  c.tls_ca_ = options.tls_ca;
  c.client_certificate_ = pair->leaf;
  c.channel_ = grpc::CreateChannel(options.server, grpc::SslCredentials(tls));
  return c;
}

std::string Connection::Describe() const {
  return server_.empty() ? absl::StrCat("balloond's socket ", socket_)
                         : absl::StrCat("balloond at ", server_);
}

std::string Connection::Explain(const grpc::Status& status) const {
  const std::string& m = status.error_message();
  std::string hint;
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      if (!server_.empty()) {
        if (absl::StrContains(m, "Connection refused")) {
          hint = absl::StrCat("nothing answers at ", server_,
                              "; is balloond running there with --listen-tls?");
        } else if (absl::StrContains(m, "DNS resolution failed")) {
          hint = absl::StrCat("cannot resolve the host of ", server_, "; check --server");
        } else if (absl::StrContains(m, "is not in peer certificate")) {
          hint = absl::StrCat("balloond's certificate is not for the name in --server ", server_,
                              "; connect by a name its certificate lists (its subjectAltName)");
        } else if (absl::StrContains(m, "certificate verify failed")) {
          hint = absl::StrCat("balloond's certificate is not signed by a CA in --tls-ca ", tls_ca_,
                              ", or has expired; check that file, or balloond's --tls-cert");
        } else if (absl::StrContains(m, "Socket closed") ||
                   absl::StrContains(m, "Connection reset")) {
          hint = absl::StrCat(
              "balloond closed the connection during the TLS handshake: it did not accept the "
              "client certificate (",
              client_certificate_->Describe(), ", issued by ", client_certificate_->issuer,
              ", valid until ", When(client_certificate_->not_after),
              "); check that balloond trusts its issuer (its --tls-client-ca)");
        }
      } else if (absl::StrContains(m, "ermission denied")) {
        hint = absl::StrCat("you may not open ", socket_, ": run as root or as a member of ",
                            GroupOf(socket_));
      } else if (absl::StrContains(m, "connect") || absl::StrContains(m, "No such file")) {
        hint = absl::StrCat("is balloond running and listening on ", socket_,
                            "? (systemctl status balloond, or --socket=PATH)");
      }
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      hint = "raise --timeout, or check the domain's QEMU process";
      break;
    default:
      break;
  }
  const std::string code =
      absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
  // balloond's reason, where it names more than the code does (scripts grep for it).
  std::string reason;
  google::rpc::Status details;
  google::rpc::ErrorInfo info;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details()) &&
      details.details_size() > 0 && details.details(0).UnpackTo(&info) && info.reason() != code) {
    reason = absl::StrCat(" ", info.reason());
  }
  // balloonctl's sentence first; gRPC's words after it, for whoever debugs the connection.
  if (hint.empty()) return absl::StrCat(m, " [", code, reason, "]");
  return absl::StrCat(hint, " [", code, reason, "] (gRPC: ", m, ")");
}

}  // namespace balloond
