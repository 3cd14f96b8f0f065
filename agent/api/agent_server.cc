#include "agent/api/agent_server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/server_builder.h>

#include <filesystem>
#include <optional>

#include "absl/strings/str_cat.h"
#include "agent/api/tls_access.h"
#include "agent/base/log.h"

namespace balloond {
namespace {

// gRPC's own threads for its synchronous services (reflection): a bound, not a pool per client.
constexpr int kMaxGrpcThreadsPerServer = 8;
// The memory gRPC may use for one listener's connections and calls (buffers, requests held by
// streams); past it, gRPC reads less and accepts no new connection. Three listeners and balloond's
// own ~40 MiB stay under the unit's MemoryMax.
constexpr size_t kMemoryQuotaPerServer = size_t{64} << 20;
// Requests are small; anything bigger is refused before it is read. Reads are tiny; the largest
// change is a policy with many domains, which operators send over the read-write socket (or TLS).
// A watch keeps its request for the stream's life: the read-only socket's cap bounds what its
// 1024 watches can hold.
constexpr int kMaxReadOnlyRequestBytes = 16 << 10;
constexpr int kMaxTlsRequestBytes = 64 << 10;
constexpr int kMaxReadWriteRequestBytes = 1 << 20;
constexpr int kMaxMetadataBytes = 16 << 10;
// Answers are pages of lists and single objects, far smaller; one that is not is refused rather
// than held for a reader. The read-write socket's operators may read a policy of any size.
constexpr int kMaxReadOnlyAnswerBytes = 1 << 20;
// Pings find peers that vanished without closing (the far side of a dead TCP connection).
constexpr absl::Duration kKeepaliveTime = absl::Minutes(2);
constexpr absl::Duration kKeepaliveTimeout = absl::Seconds(20);
constexpr absl::Duration kHandshakeTimeout = absl::Seconds(10);
// A TLS connection past limits.tls_max_connection_age gets this long (at most its age) to end its
// calls.
constexpr absl::Duration kConnectionAgeGrace = absl::Minutes(1);

int Millis(absl::Duration d) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(d), INT32_MAX));
}

// What every listener's server is built with: bounds on threads, memory, streams and idle time.
void ApplyServerLimits(const ServingLimits& limits, int max_request_bytes,
                       std::optional<int> max_answer_bytes, grpc::ServerBuilder& builder) {
  grpc::ResourceQuota quota("balloond");
  quota.SetMaxThreads(kMaxGrpcThreadsPerServer);
  quota.Resize(kMemoryQuotaPerServer);
  builder.SetResourceQuota(quota);
  // HTTP/2's own cap is a backstop above balloond's, which refuses with a message that says why.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, limits.max_calls_per_connection + 16);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, Millis(limits.idle_timeout));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, Millis(kKeepaliveTime));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, Millis(kKeepaliveTimeout));
  builder.SetMaxReceiveMessageSize(max_request_bytes);
  if (max_answer_bytes) builder.SetMaxSendMessageSize(*max_answer_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, kMaxMetadataBytes);
}

ListenerContext::Settings ContextSettings(const ServingLimits& limits) {
  ListenerContext::Settings s;
  s.calls.max_calls_per_connection = limits.max_calls_per_connection;
  s.calls.max_watches = limits.max_watches;
  s.calls.max_watches_per_client = limits.max_watches_per_client;
  s.calls.max_unread_bytes_per_client = limits.max_unread_bytes_per_client;
  s.calls.max_unread_bytes = limits.max_unread_bytes;
  s.qom.queries_per_second = limits.qom_queries_per_second;
  s.qom.burst = limits.qom_burst;
  s.qom.queue_per_domain = limits.qom_queue_per_domain;
  return s;
}

}  // namespace

AgentServer::AgentServer(const ServerSettings& settings, ServiceParts& parts)
    : settings_(settings), parts_(parts) {}

absl::StatusOr<std::unique_ptr<AgentServer>> AgentServer::Start(const ServerSettings& settings,
                                                                ServiceParts& parts) {
  auto rw_path = UnixSocketPath(settings.listen);
  if (!rw_path.ok()) return rw_path.status();
  auto ro_path = UnixSocketPath(settings.listen_ro);
  if (!ro_path.ok()) return ro_path.status();
  if (*rw_path == *ro_path) {
    return absl::InvalidArgumentError("--listen and --listen-ro must be different sockets");
  }
  if (absl::Status s = ValidateTlsSettings(settings.tls); !s.ok()) return s;
  // Health is balloond's own service (HealthService), under the listeners' limits.
  grpc::EnableDefaultHealthCheckService(false);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::unique_ptr<AgentServer> server(new AgentServer(settings, parts));
  // The read-write socket is for the operators' group, like libvirt-sock; anyone may read stats.
  if (absl::Status s = server->StartUnixEndpoint(*rw_path, 0660, true, server->read_write_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = server->StartUnixEndpoint(*ro_path, 0666, false, server->read_only_);
      !s.ok()) {
    return s;
  }
  if (!settings.tls.listen.empty()) {
    if (absl::Status s = server->StartTlsEndpoint(); !s.ok()) return s;
  }
  server->SetServing(false);
  return server;
}

absl::Status AgentServer::BuildServer(const std::string& name, bool control, int max_request_bytes,
                                      std::optional<int> max_answer_bytes,
                                      grpc::ServerBuilder& builder, Endpoint& endpoint) {
  ReadServiceOptions read_options;
  // libvirt taints a domain at a client's QMP command: not for anyone who can open a socket.
  read_options.serve_qom = control || settings_.qom_on_read_only_socket;
  endpoint.read = std::make_unique<ReadService>(parts_.read(), *endpoint.context, read_options);
  std::vector<std::string> served = {balloon::v1::BalloonReadService::service_full_name()};
  if (control) {
    endpoint.control = std::make_unique<ControlService>(parts_.control(), *endpoint.context);
    served.push_back(balloon::v1::BalloonControlService::service_full_name());
    builder.RegisterService(endpoint.control.get());
  } else {
    endpoint.refusal = std::make_unique<ReadOnlySocketRefusal>();
    builder.RegisterCallbackGenericService(endpoint.refusal.get());
  }
  endpoint.health = std::make_unique<HealthService>(*endpoint.context, served);
  ApplyServerLimits(settings_.limits, max_request_bytes, max_answer_bytes, builder);
  builder.RegisterService(endpoint.read.get());
  builder.RegisterService(endpoint.health.get());
  endpoint.server = builder.BuildAndStart();
  if (!endpoint.server) {
    return absl::UnavailableError(absl::StrCat("cannot start the gRPC server for ", name));
  }
  return absl::OkStatus();
}

absl::Status AgentServer::StartUnixEndpoint(const std::string& path, mode_t mode, bool read_write,
                                            Endpoint& endpoint) {
  auto listener = UnixListener::Bind({path, mode, settings_.limits.max_connections_per_socket,
                                      settings_.limits.max_connections_per_uid},
                                     parts_.clock());
  if (!listener.ok()) return listener.status();
  endpoint.listener = std::move(*listener);
  UnixListener* unix_listener = endpoint.listener.get();
  endpoint.context =
      std::make_unique<ListenerContext>(path, ContextSettings(settings_.limits), parts_.clock(),
                                        [unix_listener](const grpc::CallbackServerContext& ctx) {
                                          auto uid = unix_listener->PeerUid(ctx.peer());
                                          return uid ? absl::StrCat("uid ", *uid) : ctx.peer();
                                        });
  grpc::ServerBuilder builder;
  const int max_request_bytes = read_write ? kMaxReadWriteRequestBytes : kMaxReadOnlyRequestBytes;
  const std::optional<int> max_answer_bytes =
      read_write ? std::nullopt : std::optional<int>(kMaxReadOnlyAnswerBytes);
  if (absl::Status s =
          BuildServer(path, read_write, max_request_bytes, max_answer_bytes, builder, endpoint);
      !s.ok()) {
    return s;
  }
  endpoint.listener->Start(endpoint.server.get());
  return absl::OkStatus();
}

absl::Status AgentServer::StartTlsEndpoint() {
  const TlsSettings& tls = settings_.tls;
  // Copies gRPC watches, in a directory of their own beside the read-write socket (a runtime
  // directory: never on disk).
  auto rw_path = UnixSocketPath(settings_.listen);
  if (!rw_path.ok()) return rw_path.status();
  auto staged = StagedTlsFiles::Start(tls, std::filesystem::path(*rw_path).parent_path().string(),
                                      absl::Seconds(kTlsRefreshSeconds), parts_.clock());
  if (!staged.ok()) return staged.status();
  tls_files_ = std::move(*staged);
  auto authorizer = std::make_shared<RoleAuthorizer>(tls.operators);
  auto creds = MakeTlsServerCredentials(*tls_files_, authorizer);
  if (!creds.ok()) return creds.status();
  // A client that connects and never finishes its handshake is dropped soon; no more connections
  // are held than the cap allows, whatever the network sends, and they are shared among sources,
  // identities and roles; and none lives for ever, so that a client whose certificate expired or
  // whose CA was rotated out must connect (and verify) again.
  TcpConnectionCap::Options cap;
  cap.max_connections = settings_.limits.max_tls_connections;
  cap.max_per_source = settings_.limits.max_tls_connections_per_source;
  cap.max_per_identity = settings_.limits.max_tls_connections_per_identity;
  cap.operator_connections = settings_.limits.tls_operator_connections;
  tls_connections_ = std::make_shared<TcpConnectionCap>(cap, parts_.clock());
  tls_.context = std::make_unique<ListenerContext>(
      tls.listen, ContextSettings(settings_.limits), parts_.clock(),
      [](const grpc::CallbackServerContext& ctx) {
        auto auth = ctx.auth_context();
        return auth ? absl::StrCat("certificate ", PeerIdentityOf(*auth).Name()) : ctx.peer();
      },
      [connections = tls_connections_, authorizer](const grpc::CallbackServerContext& ctx) {
        auto auth = ctx.auth_context();
        if (!auth) return absl::OkStatus();
        const PeerIdentity peer = PeerIdentityOf(*auth);
        return connections->AdmitCall(ctx.peer(), peer.Name(),
                                      IsOperator(peer, authorizer->operators()));
      });
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(tls.listen, *creds, &port);
  builder.AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS, Millis(kHandshakeTimeout));
  TcpConnectionCap::Install(tls_connections_, builder);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                             Millis(settings_.limits.tls_max_connection_age));
  builder.AddChannelArgument(
      GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
      Millis(std::min(kConnectionAgeGrace, settings_.limits.tls_max_connection_age)));
  // The role check sits in front of the control service (RoleAuthorizer); the handlers are the
  // same as the read-write socket's.
  if (absl::Status s = BuildServer(tls.listen, /*control=*/true, kMaxTlsRequestBytes,
                                   kMaxReadOnlyAnswerBytes, builder, tls_);
      !s.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", tls.listen,
                                               " (--listen-tls): is the address in use, or not "
                                               "this machine's?"));
  }
  const size_t colon = tls.listen.rfind(':');
  Log(absl::StrCat("TLS listener on ", tls.listen.substr(0, colon), ":", port, " (",
                   tls.operators.size(), " operator identities; certificates re-read every ",
                   kTlsRefreshSeconds, "s)"));
  return absl::OkStatus();
}

std::vector<AgentServer::Endpoint*> AgentServer::Endpoints() {
  return {&read_write_, &read_only_, &tls_};
}

AgentServer::~AgentServer() { Shutdown(); }

int AgentServer::OpenWatches() {
  int open = 0;
  for (Endpoint* e : Endpoints()) {
    if (e->context) open += e->context->limits().open_watches();
  }
  return open;
}

void AgentServer::SetServing(bool serving) {
  for (Endpoint* e : Endpoints()) {
    if (e->health) e->health->SetServing(serving);
  }
}

void AgentServer::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  const grpc::Status closing(grpc::StatusCode::UNAVAILABLE, "balloond is shutting down");
  parts_.CloseWatches(closing);
  for (Endpoint* e : Endpoints()) {
    if (e->health) e->health->CloseWatches(closing);
  }
  for (Endpoint* e : Endpoints()) {
    if (e->listener) e->listener->Stop();
  }
  const auto deadline = absl::ToChronoTime(parts_.clock().Now() + absl::Seconds(2));
  for (Endpoint* e : Endpoints()) {
    if (e->server) e->server->Shutdown(deadline);
  }
  // Every call has ended by now, but work queued for a cancelled stream may still wait on the
  // workers: it runs (and finds its stream over) while the services and feeds it calls still exist.
  for (Endpoint* e : Endpoints()) {
    if (e->context) e->context->StopWorkers();
  }
}

}  // namespace balloond
