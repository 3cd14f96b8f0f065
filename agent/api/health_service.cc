#include "agent/api/health_service.h"

#include <memory>

#include "agent/api/proto_convert.h"
#include "agent/api/stream_sender.h"

namespace balloond {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One client's watch of one service's status.
class HealthWatch final : public StreamSender<HealthCheckResponse>,
                          public WatchHub<HealthCheckResponse>::Watcher {
 public:
  HealthWatch(WatchHub<HealthCheckResponse>& hub, std::string service, CallLimits::Ticket ticket)
      : StreamSender(Backlog::kNewestOnly),
        hub_(hub),
        service_(std::move(service)),
        ticket_(std::move(ticket)) {}

  void Subscribe() { hub_.Subscribe(service_, this); }
  void Deliver(const std::shared_ptr<const HealthCheckResponse>& status) override { Send(status); }
  void Close(const grpc::Status& status) override { End(status); }

 private:
  void OnFinished() override {
    hub_.Unsubscribe(service_, this);
    ticket_ = CallLimits::Ticket();
  }

  WatchHub<HealthCheckResponse>& hub_;
  const std::string service_;
  CallLimits::Ticket ticket_;
};

std::shared_ptr<const HealthCheckResponse> Response(HealthCheckResponse::ServingStatus status) {
  auto response = std::make_shared<HealthCheckResponse>();
  response->set_status(status);
  return response;
}

}  // namespace

HealthService::HealthService(ListenerContext& listener, const std::vector<std::string>& services)
    : listener_(listener) {
  absl::MutexLock lock(&mu_);
  statuses_[""] = HealthCheckResponse::NOT_SERVING;
  for (const std::string& s : services) statuses_[s] = HealthCheckResponse::NOT_SERVING;
}

HealthService::~HealthService() {
  CloseWatches(grpc::Status(grpc::StatusCode::UNAVAILABLE, "balloond is shutting down"));
}

void HealthService::SetServing(bool serving) {
  const Status status = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
  absl::MutexLock lock(&mu_);
  for (auto& [service, current] : statuses_) {
    if (current == status) continue;
    current = status;
    hub_.Publish(service, Response(status));
  }
}

void HealthService::CloseWatches(const grpc::Status& status) { hub_.CloseAll(status); }

HealthService::Status HealthService::StatusOf(const std::string& service) {
  absl::MutexLock lock(&mu_);
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second;
}

grpc::ServerUnaryReactor* HealthService::Check(grpc::CallbackServerContext* ctx,
                                               const HealthCheckRequest* req,
                                               HealthCheckResponse* resp) {
  UnaryCall* call = listener_.Begin(*ctx, resp);
  if (!call->admitted()) return call;
  const Status status = StatusOf(req->service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return call->Complete(absl::NotFoundError("this listener serves no service of that name"));
  }
  resp->set_status(status);
  // Which balloond answered: `balloonctl version` shows it beside its own.
  ctx->AddInitialMetadata("balloond-version", BALLOOND_VERSION);
  return call->Complete(absl::OkStatus());
}

grpc::ServerWriteReactor<HealthCheckResponse>* HealthService::Watch(
    grpc::CallbackServerContext* ctx, const HealthCheckRequest* req) {
  auto ticket = listener_.AdmitWatch(*ctx);
  if (!ticket.ok()) {
    auto refused = HealthWatch::Make<HealthWatch>(hub_, "", CallLimits::Ticket());
    refused->End(ToGrpcStatus(ticket.status()));
    return refused.get();
  }
  auto watch = HealthWatch::Make<HealthWatch>(hub_, req->service(), std::move(*ticket));
  // Subscribed and told the current status under the lock that SetServing publishes under: no
  // change falls between the two, and none arrives out of order.
  absl::MutexLock lock(&mu_);
  watch->Subscribe();
  auto it = statuses_.find(req->service());
  watch->Send(Response(it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN : it->second));
  return watch.get();
}

}  // namespace balloond
