#include "agent/api/tcp_connection_cap.h"

#include <arpa/inet.h>
#include <grpc/support/sync.h>
#include <grpcpp/impl/server_builder_option.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/version_info.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "agent/api/loopback_peer.h"
#include "agent/base/error_reason.h"
#include "agent/base/log.h"

// gRPC's socket mutator interface. Its definition is in a header of gRPC's core that Debian does
// not install (src/core/lib/iomgr/socket_mutator.h); these declarations follow the layout of the
// gRPC this is built against, and the functions are exported by libgrpc with C++ linkage.
static_assert(GRPC_CPP_VERSION_MAJOR == 1 && GRPC_CPP_VERSION_MINOR == 51,
              "check the socket mutator declarations below against this gRPC's socket_mutator.h");
enum grpc_fd_usage {
  GRPC_FD_CLIENT_CONNECTION_USAGE,
  GRPC_FD_SERVER_LISTENER_USAGE,
  GRPC_FD_SERVER_CONNECTION_USAGE,
};
struct grpc_mutate_socket_info {
  int fd;
  grpc_fd_usage usage;
};
struct grpc_socket_mutator_vtable {
  bool (*mutate_fd)(int fd, grpc_socket_mutator* mutator);
  int (*compare)(grpc_socket_mutator* a, grpc_socket_mutator* b);
  void (*destroy)(grpc_socket_mutator* mutator);
  bool (*mutate_fd_2)(const grpc_mutate_socket_info* info, grpc_socket_mutator* mutator);
};
struct grpc_socket_mutator {
  const grpc_socket_mutator_vtable* vtable;
  gpr_refcount refcount;
};
void grpc_socket_mutator_init(grpc_socket_mutator* mutator,
                              const grpc_socket_mutator_vtable* vtable);

namespace balloond {
namespace {

constexpr absl::Duration kRefusalLogInterval = absl::Seconds(10);

// The mutator gRPC calls with each socket: the cap decides on accepted connections. A refused one
// is shut down, not failed: gRPC stops listening altogether when a mutator fails on a connection.
struct CapMutator {
  grpc_socket_mutator base;  // first: gRPC hands back a pointer to it
  std::shared_ptr<TcpConnectionCap> cap;
};

bool MutateFd(const grpc_mutate_socket_info* info, grpc_socket_mutator* mutator) {
  if (info->usage != GRPC_FD_SERVER_CONNECTION_USAGE) return true;
  auto* self = reinterpret_cast<CapMutator*>(mutator);
  if (!self->cap->Admit(info->fd)) shutdown(info->fd, SHUT_RDWR);
  return true;
}

bool MutateFdWithoutUsage(int, grpc_socket_mutator*) { return true; }

int Compare(grpc_socket_mutator* a, grpc_socket_mutator* b) { return (a > b) - (a < b); }

void Destroy(grpc_socket_mutator* mutator) { delete reinterpret_cast<CapMutator*>(mutator); }

const grpc_socket_mutator_vtable kCapVtable = {MutateFdWithoutUsage, Compare, Destroy, MutateFd};

class CapOption final : public grpc::ServerBuilderOption {
 public:
  explicit CapOption(std::shared_ptr<TcpConnectionCap> cap) : cap_(std::move(cap)) {}
  void UpdateArguments(grpc::ChannelArguments* args) override {
    auto* mutator = new CapMutator{{}, cap_};
    grpc_socket_mutator_init(&mutator->base, &kCapVtable);
    args->SetSocketMutator(&mutator->base);  // the arguments own it from here
  }
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>*) override {}

 private:
  std::shared_ptr<TcpConnectionCap> cap_;
};

// An address as text, an IPv4 client of a dual-stack listener (::ffff:a.b.c.d) named as itself.
std::string AddressText(const sockaddr_storage& addr, int* port) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(addr);
    *port = ntohs(in.sin_port);
    inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    return text;
  }
  if (addr.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(addr);
    *port = ntohs(in6.sin6_port);
    inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text));
    absl::string_view name = text;
    absl::ConsumePrefix(&name, "::ffff:");
    return std::string(name);
  }
  *port = 0;
  return "local";
}

bool IsLoopback(absl::string_view address) {
  return absl::StartsWith(address, "127.") || address == "::1" || address == "local";
}

// gRPC's name of a peer ("ipv4:10.0.0.7:51234", "ipv6:[::1]:51234", "ipv6:%5B::1%5D:51234") as an
// address and a port.
bool ParsePeer(absl::string_view peer, std::string* address, int* port) {
  if (!absl::ConsumePrefix(&peer, "ipv4:") && !absl::ConsumePrefix(&peer, "ipv6:")) return false;
  std::string text = absl::StrReplaceAll(peer, {{"%5B", "["}, {"%5D", "]"}});
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || !absl::SimpleAtoi(text.substr(colon + 1), port)) return false;
  absl::string_view host(text.data(), colon);
  absl::ConsumePrefix(&host, "[");
  absl::ConsumeSuffix(&host, "]");
  absl::ConsumePrefix(&host, "::ffff:");
  *address = std::string(host);
  return true;
}

int DescriptorLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1 << 20;
  return static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 1 << 20));
}

}  // namespace

TcpConnectionCap::TcpConnectionCap(Options options, Clock& clock)
    : options_(options), clock_(clock) {}

void TcpConnectionCap::Install(std::shared_ptr<TcpConnectionCap> cap,
                               grpc::ServerBuilder& builder) {
  builder.SetOption(std::make_unique<CapOption>(std::move(cap)));
}

void TcpConnectionCap::Describe(int fd, Connection& connection) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) addr.ss_family = AF_UNSPEC;
  connection.address = AddressText(addr, &connection.port);
  connection.source = connection.address;
  if (IsLoopback(connection.address)) {
    if (auto uid = LoopbackPeerUid(fd)) {
      connection.source = absl::StrCat("uid ", *uid);
    }
  }
}

bool TcpConnectionCap::Admit(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  Connection connection;
  connection.inode = st.st_ino;
  Describe(fd, connection);
  absl::MutexLock lock(&mu_);
  Sweep();
  if (fd >= DescriptorLimit() - options_.reserved_descriptors) {
    Refuse(connection, absl::StrCat("balloond's descriptors are nearly all in use (descriptor ", fd,
                                    " of ", DescriptorLimit(), "; raise LimitNOFILE?)"));
    return false;
  }
  if (static_cast<int>(connections_.size()) >= options_.max_connections) {
    // Connections refused a call make room first.
    for (auto& [other_fd, other] : connections_) {
      if (other.refused_at) shutdown(other_fd, SHUT_RDWR);
    }
    Refuse(connection, absl::StrCat(options_.max_connections,
                                    " are open, the limit limits.max_tls_connections"));
    return false;
  }
  const auto unknown_of_source =
      std::count_if(connections_.begin(), connections_.end(), [&](const auto& c) {
        return c.second.identity.empty() && !c.second.refused_at &&
               c.second.source == connection.source;
      });
  if (unknown_of_source >= options_.max_per_source) {
    Refuse(connection, absl::StrCat(unknown_of_source,
                                    " of its connections have made no call yet, the limit "
                                    "limits.max_tls_connections_per_source"));
    return false;
  }
  connections_[fd] = std::move(connection);
  return true;
}

absl::Status TcpConnectionCap::AdmitCall(absl::string_view peer, const std::string& identity,
                                         bool is_operator) {
  std::string address;
  int port = 0;
  if (!ParsePeer(peer, &address, &port)) return absl::OkStatus();
  absl::MutexLock lock(&mu_);
  Sweep();
  auto it = std::find_if(connections_.begin(), connections_.end(), [&](const auto& c) {
    return c.second.port == port && c.second.address == address;
  });
  if (it == connections_.end()) return absl::OkStatus();  // closed meanwhile
  Connection& connection = it->second;
  if (connection.refused_at) {
    shutdown(it->first, SHUT_RDWR);
    return RefuseCall(connection, "this connection was refused already", "");
  }
  if (!connection.identity.empty()) return absl::OkStatus();
  int of_identity = 0, readers = 0;
  for (const auto& [fd, c] : connections_) {
    if (c.refused_at || c.identity.empty()) continue;
    if (c.identity == identity) ++of_identity;
    if (!c.is_operator) ++readers;
  }
  if (of_identity >= options_.max_per_identity) {
    return RefuseCall(connection,
                      absl::StrCat("certificate ", identity, " already holds ", of_identity,
                                   " connections to this listener, its share"),
                      "limits.max_tls_connections_per_identity");
  }
  const int readers_room = options_.max_connections - options_.operator_connections;
  if (!is_operator && readers >= readers_room) {
    return RefuseCall(connection,
                      absl::StrCat("readers hold ", readers,
                                   " connections to this listener, all of theirs: the other ",
                                   options_.operator_connections, " are kept for operators"),
                      "limits.tls_operator_connections");
  }
  connection.identity = identity;
  connection.is_operator = is_operator;
  return absl::OkStatus();
}

absl::Status TcpConnectionCap::RefuseCall(Connection& connection, const std::string& why,
                                          absl::string_view setting) {
  if (!connection.refused_at) connection.refused_at = clock_.Now();
  Refuse(connection, why);
  if (setting.empty()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(why, "; this connection is closed: use the ones already open"));
  }
  return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                        why, " (", setting,
                        " in balloond's config); this connection is closed: use the ones "
                        "already open")),
                    "LIMIT_EXCEEDED", {{"setting", std::string(setting)}});
}

int TcpConnectionCap::open_connections() {
  absl::MutexLock lock(&mu_);
  Sweep();
  return static_cast<int>(connections_.size());
}

void TcpConnectionCap::Sweep() {
  // A connection refused a call had a moment to read why; then it goes.
  constexpr absl::Duration kRefusedGrace = absl::Seconds(1);
  const absl::Time now = clock_.Now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    struct stat st;
    const bool open = fstat(it->first, &st) == 0 && st.st_ino == it->second.inode;
    if (open && it->second.refused_at && now - *it->second.refused_at >= kRefusedGrace) {
      shutdown(it->first, SHUT_RDWR);
    }
    it = open ? std::next(it) : connections_.erase(it);
  }
}

void TcpConnectionCap::Refuse(const Connection& connection, const std::string& why) {
  ++refused_since_log_;
  const absl::Time now = clock_.Now();
  if (now - last_refusal_log_ < kRefusalLogInterval) return;
  const std::string from = connection.source == connection.address
                               ? connection.address
                               : absl::StrCat(connection.source, " at ", connection.address);
  Log(LogLevel::kWarning,
      absl::StrCat("refused ", refused_since_log_, " TLS connection(s) or calls (last from ", from,
                   "): ", why));
  last_refusal_log_ = now;
  refused_since_log_ = 0;
}

}  // namespace balloond
