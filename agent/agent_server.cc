#include "agent/agent_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

constexpr const char* kReadServiceName = "balloon.v1.BalloonReadService";
constexpr const char* kControlServiceName = "balloon.v1.BalloonControlService";

// A socket file that still accepts connections belongs to a running balloond; one that does not is
// left over from a crash and may be replaced.
absl::Status PrepareSocketPath(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (ec) {
    return absl::PermissionDeniedError(absl::StrCat("cannot create the directory of ", path, ": ", ec.message()));
  }
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return absl::OkStatus();
  if (!S_ISSOCK(st.st_mode)) {
    return absl::AlreadyExistsError(absl::StrCat(path, " exists and is not a socket; remove it or choose another --listen path"));
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("socket path ", path, " is too long"));
  }
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool live = fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  if (fd >= 0) close(fd);
  if (live) {
    return absl::AlreadyExistsError(absl::StrCat("another process (a running balloond?) is listening on ", path));
  }
  unlink(path.c_str());
  return absl::OkStatus();
}

}  // namespace

AgentServer::AgentServer(std::unique_ptr<ReadService> read, std::unique_ptr<ControlService> control)
    : read_(std::move(read)), control_(std::move(control)) {}

absl::StatusOr<std::unique_ptr<AgentServer>> AgentServer::Start(const AgentSettings& settings,
                                                                Parts parts) {
  auto rw_path = UnixSocketPath(settings.listen);
  if (!rw_path.ok()) return rw_path.status();
  auto ro_path = UnixSocketPath(settings.listen_ro);
  if (!ro_path.ok()) return ro_path.status();
  if (*rw_path == *ro_path) {
    return absl::InvalidArgumentError("--listen and --listen-ro must be different sockets");
  }
  for (const std::string& p : {*rw_path, *ro_path}) {
    if (absl::Status s = PrepareSocketPath(p); !s.ok()) return s;
  }

  std::unique_ptr<AgentServer> server(new AgentServer(
      std::make_unique<ReadService>(parts.snapshots, parts.hypervisor, parts.clock, parts.policy,
                                    parts.decisions, ReadServiceOptions{}),
      std::make_unique<ControlService>(parts.snapshots, parts.hypervisor, parts.policy,
                                       [&collector = parts.collector] { collector.RequestRefresh(); })));

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder rw;
  rw.AddListeningPort(settings.listen, grpc::InsecureServerCredentials());
  rw.RegisterService(server->read_.get());
  rw.RegisterService(server->control_.get());
  server->read_write_ = rw.BuildAndStart();
  if (!server->read_write_) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", settings.listen));
  }
  grpc::ServerBuilder ro;
  ro.AddListeningPort(settings.listen_ro, grpc::InsecureServerCredentials());
  ro.RegisterService(server->read_.get());
  ro.RegisterService(&server->refuse_control_);
  server->read_only_ = ro.BuildAndStart();
  if (!server->read_only_) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", settings.listen_ro));
  }
  // The read-write socket is for the operators' group, like libvirt-sock; anyone may read stats.
  chmod(rw_path->c_str(), 0660);
  chmod(ro_path->c_str(), 0666);
  server->socket_paths_ = {*rw_path, *ro_path};
  server->SetServing(false);
  return server;
}

AgentServer::~AgentServer() { Shutdown(); }

void AgentServer::SetServing(bool serving) {
  for (grpc::Server* s : {read_write_.get(), read_only_.get()}) {
    if (s == nullptr) continue;
    auto* health = s->GetHealthCheckService();
    health->SetServingStatus(serving);
    health->SetServingStatus(kReadServiceName, serving);
    if (s == read_write_.get()) health->SetServingStatus(kControlServiceName, serving);
  }
}

void AgentServer::Shutdown() {
  if (read_) read_->Shutdown();
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(2);
  if (read_write_) read_write_->Shutdown(deadline);
  if (read_only_) read_only_->Shutdown(deadline);
  read_write_.reset();
  read_only_.reset();
  for (const std::string& p : socket_paths_) unlink(p.c_str());
  socket_paths_.clear();
}

}  // namespace balloond
