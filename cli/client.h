#ifndef BALLOOND_CLI_CLIENT_H_
#define BALLOOND_CLI_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/status.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "agent/base/tls_files.h"

namespace balloond {

// Where balloonctl finds balloond: a UNIX socket on this host, or a TLS listener on another.
struct ConnectionOptions {
  std::string socket;  // --socket
  std::string server;  // --server HOST:PORT (with the three below)
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
};

inline constexpr const char* kDefaultSocket = "/run/balloond/balloond.sock";
inline constexpr const char* kDefaultReadOnlySocket = "/run/balloond/balloond-ro.sock";

// `options` with every unset remote option taken from BALLOONCTL_SERVER, BALLOONCTL_TLS_CA,
// BALLOONCTL_TLS_CERT and BALLOONCTL_TLS_KEY (through `getenv`). --socket wins over
// BALLOONCTL_SERVER: a flag given beats the environment.
ConnectionOptions WithEnvironment(ConnectionOptions options,
                                  const std::function<const char*(const char*)>& getenv);

// A channel to balloond, and what to tell a person when a call on it fails.
class Connection {
 public:
  // For a socket: --socket, or the default read-only socket (read-write when `needs_write`). For a
  // server: the TLS files are read and checked first. INVALID_ARGUMENT, NOT_FOUND or
  // PERMISSION_DENIED for options or files that cannot work (a usage error); FAILED_PRECONDITION
  // for a client certificate balloond would refuse (expired, not yet valid).
  static absl::StatusOr<Connection> Open(const ConnectionOptions& options, bool needs_write);

  std::shared_ptr<grpc::Channel> channel() const { return channel_; }
  // "balloond's socket /run/balloond/balloond-ro.sock", "balloond at host:7443".
  std::string Describe() const;
  // A failed call's message, with what to check: "<message>; <hint> [CODE]".
  std::string Explain(const grpc::Status& status) const;

 private:
  Connection() = default;

  std::shared_ptr<grpc::Channel> channel_;
  std::string socket_;
  std::string server_;
  std::string tls_ca_;
  std::optional<CertificateInfo> client_certificate_;
};

// Every page of a list call (AIP-158) in one response: the entries of each page in order, no
// next_page_token. `call` makes one call with a fresh context; the first failure is returned.
template <typename Request, typename Response>
grpc::Status ListAllPages(const std::function<grpc::Status(const Request&, Response*)>& call,
                          Request request, Response* all) {
  // A server that kept answering with tokens would loop for ever: a host has far fewer pages.
  constexpr int kMaxPages = 10000;
  for (int page_number = 0; page_number < kMaxPages; ++page_number) {
    Response page;
    if (grpc::Status s = call(request, &page); !s.ok()) return s;
    const std::string next = page.next_page_token();
    all->MergeFrom(page);
    if (next.empty()) break;
    request.set_page_token(next);
  }
  all->clear_next_page_token();
  return grpc::Status::OK;
}

}  // namespace balloond

#endif  // BALLOOND_CLI_CLIENT_H_
