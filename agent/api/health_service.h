#ifndef BALLOOND_AGENT_API_HEALTH_SERVICE_H_
#define BALLOOND_AGENT_API_HEALTH_SERVICE_H_

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/api/service_context.h"
#include "agent/api/watch_hub.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace balloond {

// gRPC's health protocol (grpc.health.v1.Health), served by balloond itself rather than gRPC's
// default service, so that its calls and watches count against the listener's limits like every
// other: a client cannot hold more health streams than watches. "" is the server as a whole; each
// of `services` has a status of its own (all the same here: SERVING while libvirt answers).
class HealthService final : public grpc::health::v1::Health::CallbackService {
 public:
  HealthService(ListenerContext& listener, const std::vector<std::string>& services);
  ~HealthService() override;

  // Every status, and every watcher told.
  void SetServing(bool serving);
  // Ends every watch (with `status`): the server is going away.
  void CloseWatches(const grpc::Status& status);

  grpc::ServerUnaryReactor* Check(grpc::CallbackServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* req,
                                  grpc::health::v1::HealthCheckResponse* resp) override;
  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req) override;

 private:
  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;
  // SERVICE_UNKNOWN for a service this listener does not serve.
  Status StatusOf(const std::string& service);

  ListenerContext& listener_;
  absl::Mutex mu_;
  std::map<std::string, Status> statuses_ ABSL_GUARDED_BY(mu_);
  WatchHub<grpc::health::v1::HealthCheckResponse> hub_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_HEALTH_SERVICE_H_
