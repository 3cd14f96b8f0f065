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

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
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

std::string PeerAddress(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  char text[INET6_ADDRSTRLEN] = {};
  const void* ip =
      addr.ss_family == AF_INET6
          ? static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr)
          : static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&addr)->sin_addr);
  if (inet_ntop(addr.ss_family, ip, text, sizeof(text)) == nullptr) return "unknown";
  // An IPv4 client of a dual-stack listener shows as ::ffff:a.b.c.d: named as itself.
  absl::string_view name = text;
  absl::ConsumePrefix(&name, "::ffff:");
  return std::string(name);
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

bool TcpConnectionCap::Admit(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  absl::MutexLock lock(&mu_);
  Sweep();
  if (fd >= DescriptorLimit() - options_.reserved_descriptors) {
    Refuse(fd, absl::StrCat("balloond's descriptors are nearly all in use (descriptor ", fd, " of ",
                            DescriptorLimit(), "; raise LimitNOFILE?)"));
    return false;
  }
  if (static_cast<int>(connections_.size()) >= options_.max_connections) {
    Refuse(fd, absl::StrCat(options_.max_connections,
                            " are open, the limit limits.max_tls_connections"));
    return false;
  }
  connections_[fd] = Connection{st.st_ino};
  return true;
}

int TcpConnectionCap::open_connections() {
  absl::MutexLock lock(&mu_);
  Sweep();
  return static_cast<int>(connections_.size());
}

void TcpConnectionCap::Sweep() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    struct stat st;
    const bool open = fstat(it->first, &st) == 0 && st.st_ino == it->second.inode;
    it = open ? std::next(it) : connections_.erase(it);
  }
}

void TcpConnectionCap::Refuse(int fd, const std::string& why) {
  ++refused_since_log_;
  const absl::Time now = clock_.Now();
  if (now - last_refusal_log_ < kRefusalLogInterval) return;
  const std::string address = PeerAddress(fd);
  Log(LogLevel::kWarning, absl::StrCat("refused ", refused_since_log_,
                                       " TLS connection(s) (last from ", address, "): ", why));
  last_refusal_log_ = now;
  refused_since_log_ = 0;
}

}  // namespace balloond
