#ifndef BALLOOND_AGENT_API_PROTO_CONVERT_H_
#define BALLOOND_AGENT_API_PROTO_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/api/grpc_status.h"
#include "agent/collect/host_stats.h"
#include "agent/collect/snapshot_store.h"
#include "agent/qom/qmp.h"
#include "agent/steering/capacity_store.h"
#include "agent/steering/policy_store.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

void ToProto(const DomainSnapshot& snapshot, balloon::v1::Domain* out);
void ToProto(const GuestStats& stats, balloon::v1::GuestMemoryStats* out);
void ToProto(const DomainSnapshot& snapshot, absl::Time now, balloon::v1::MemoryStats* out);
void ToProto(const HostMemory& host, absl::Time read_time, balloon::v1::HostStats* out);
void ToProto(const CapacityReading& reading, balloon::v1::HostCapacity* out);
// The policy as the API serves it: every default filled in, and its etag.

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_PROTO_CONVERT_H_
