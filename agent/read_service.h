#ifndef BALLOOND_AGENT_READ_SERVICE_H_
#define BALLOOND_AGENT_READ_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/time/time.h"
#include "agent/clock.h"
#include "agent/decision_log.h"
#include "agent/policy_store.h"
#include "agent/hypervisor.h"
#include "agent/snapshot_store.h"
#include "balloon/v1/balloon.grpc.pb.h"

namespace balloond {

struct ReadServiceOptions {
  std::string proc_root = "/proc";
  // Deadline for QOM queries from clients that set none.
  absl::Duration default_qmp_timeout = absl::Seconds(5);
};

// The read service, served on both sockets. Everything but the QOM queries answers from the
// SnapshotStore; QOM queries reach QEMU only as qom-list and qom-get.
class ReadService final : public balloon::v1::BalloonReadService::Service {
 public:
  ReadService(const SnapshotStore& store, Hypervisor& hypervisor, Clock& clock,
              const PolicyStore& policy, const DecisionLog& decisions, ReadServiceOptions options);

  // Ends open watches (they return UNAVAILABLE) so the server can shut down.
  void Shutdown() { shutting_down_ = true; }

  grpc::Status ListDomains(grpc::ServerContext* ctx, const balloon::v1::ListDomainsRequest* req,
                           balloon::v1::ListDomainsResponse* resp) override;
  grpc::Status GetMemoryStats(grpc::ServerContext* ctx,
                              const balloon::v1::GetMemoryStatsRequest* req,
                              balloon::v1::MemoryStats* resp) override;
  grpc::Status WatchMemoryStats(grpc::ServerContext* ctx,
                                const balloon::v1::WatchMemoryStatsRequest* req,
                                grpc::ServerWriter<balloon::v1::MemoryStats>* writer) override;
  grpc::Status GetHostStats(grpc::ServerContext* ctx, const balloon::v1::GetHostStatsRequest* req,
                            balloon::v1::HostStats* resp) override;
  grpc::Status ListQomProperties(grpc::ServerContext* ctx,
                                 const balloon::v1::ListQomPropertiesRequest* req,
                                 balloon::v1::ListQomPropertiesResponse* resp) override;
  grpc::Status GetQomProperty(grpc::ServerContext* ctx,
                              const balloon::v1::GetQomPropertyRequest* req,
                              balloon::v1::GetQomPropertyResponse* resp) override;
  grpc::Status GetPolicy(grpc::ServerContext* ctx, const balloon::v1::GetPolicyRequest* req,
                         balloon::v1::Policy* resp) override;
  grpc::Status ListDecisions(grpc::ServerContext* ctx, const balloon::v1::ListDecisionsRequest* req,
                             balloon::v1::ListDecisionsResponse* resp) override;
  grpc::Status WatchDecisions(grpc::ServerContext* ctx, const balloon::v1::WatchDecisionsRequest* req,
                              grpc::ServerWriter<balloon::v1::Decision>* writer) override;

 private:
  const SnapshotStore& store_;
  Hypervisor& hypervisor_;
  Clock& clock_;
  const PolicyStore& policy_;
  const DecisionLog& decisions_;
  const ReadServiceOptions options_;
  std::atomic<bool> shutting_down_{false};
};

// The client's deadline, or now + `fallback` when it set none.
absl::Time RequestDeadline(const grpc::ServerContext& ctx, absl::Duration fallback);

}  // namespace balloond

#endif  // BALLOOND_AGENT_READ_SERVICE_H_
