#ifndef BALLOOND_AGENT_API_SERVICE_CONTEXT_H_
#define BALLOOND_AGENT_API_SERVICE_CONTEXT_H_

#include <google/protobuf/message.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/api/call_limits.h"
#include "agent/base/clock.h"
#include "agent/base/worker_pool.h"
#include "agent/qom/qom_gate.h"

namespace balloond {

// A unary call's reactor. It holds the call's place in its listener's limits, and counts its
// answer against the client's unread bytes, until gRPC is done with the call (OnDone): an answer a
// client never reads keeps counting, so no client can make balloond hold answers past its share.
class UnaryCall final : public grpc::ServerUnaryReactor {
 public:
  // A call already refused with `status`.
  static UnaryCall* Refused(const absl::Status& status);
  // A call admitted under `ticket`, answered into `response` (gRPC's, alive until OnDone).
  UnaryCall(CallLimits::Ticket ticket, google::protobuf::Message* response)
      : ticket_(std::move(ticket)), response_(response) {}

  bool admitted() const { return admitted_; }
  // Finishes the call with `status`. A success's answer is first counted against the client's
  // unread bytes (what it holds in balloond: four times its size, and the call's state); past
  // them, it is dropped and the call fails with RESOURCE_EXHAUSTED instead.
  // Returns this, for a handler's return.
  UnaryCall* Complete(const absl::Status& status);

 private:
  UnaryCall() : admitted_(false) {}
  void OnDone() override { delete this; }

  CallLimits::Ticket ticket_;
  google::protobuf::Message* response_ = nullptr;
  bool admitted_ = true;
};

// What one listener (a socket, or the TLS port) gives its calls: limits counted per listener and
// threads of its own for work that waits on libvirt or QEMU, so that clients saturating one
// listener never hold up another's. Readers' lookups and operators' changes have separate workers:
// no reader can queue ahead of an operator.
class ListenerContext {
 public:
  struct Settings {
    CallLimitSettings calls;
    QomGateSettings qom;
    int threads_per_pool = 2;
    size_t queue_per_pool = 64;
  };
  // Who is behind a call, e.g. "uid 1000" or a certificate's identity.
  using Identifier = std::function<std::string(const grpc::CallbackServerContext&)>;
  // Whether a call's connection may carry calls at all (OK), or why not: a listener that shares
  // its connections among clients closes one past its client's share.
  using ConnectionCheck = std::function<absl::Status(const grpc::CallbackServerContext&)>;
  ListenerContext(std::string name, Settings settings, Clock& clock, Identifier identify,
                  ConnectionCheck check_connection = nullptr)
      : name_(std::move(name)),
        limits_(settings.calls),
        qom_(settings.qom, clock),
        lookups_(name_ + " lookup", settings.threads_per_pool, settings.queue_per_pool),
        changes_(name_ + " control", settings.threads_per_pool, settings.queue_per_pool),
        identify_(std::move(identify)),
        check_connection_(std::move(check_connection)) {}

  const std::string& name() const { return name_; }
  // A unary call let in under this listener's limits, answered into `response`; one refused is
  // already complete (`admitted()` is false): the handler returns it.
  UnaryCall* Begin(const grpc::CallbackServerContext& ctx, google::protobuf::Message* response);
  // The same for a call about one domain, whose reference (name or UUID) must be well formed.
  UnaryCall* Begin(const grpc::CallbackServerContext& ctx, absl::string_view domain,
                   google::protobuf::Message* response);
  // A watch stream's place: the call's, and one of its client's watches.
  absl::StatusOr<CallLimits::Ticket> AdmitWatch(const grpc::CallbackServerContext& ctx);
  CallLimits& limits() { return limits_; }
  QomGate& qom() { return qom_; }
  // For reads that wait on libvirt (a lookup of a domain that is not running).
  WorkerPool& lookups() { return lookups_; }
  // For changes, which wait on QEMU (targets) or the disk (policy changes).
  WorkerPool& changes() { return changes_; }
  std::string Identify(const grpc::CallbackServerContext& ctx) const { return identify_(ctx); }
  // Runs what the workers still have queued (work for calls gRPC has already ended), then stops
  // them: before the services their tasks call go away.
  void StopWorkers() {
    qom_.Stop();
    lookups_.Stop();
    changes_.Stop();
  }

 private:
  absl::StatusOr<CallLimits::Ticket> Admit(const grpc::CallbackServerContext& ctx, bool watch);

  const std::string name_;
  CallLimits limits_;
  QomGate qom_;
  WorkerPool lookups_;
  WorkerPool changes_;
  Identifier identify_;
  ConnectionCheck check_connection_;
};

// The client's deadline, or now + `fallback` when it set none; never later than now + `cap`.
absl::Time RequestDeadline(Clock& clock, const grpc::CallbackServerContext& ctx,
                           absl::Duration fallback, absl::Duration cap = absl::Minutes(5));

// Completes `call` with what `work` returns, or with INTERNAL if `work` throws: a call never
// hangs.
void FinishWith(UnaryCall* call, const std::function<absl::Status()>& work);

// FinishWith on `pool`; RESOURCE_EXHAUSTED at once when the pool's queue is full. Returns `call`.
UnaryCall* FinishOnPool(WorkerPool& pool, UnaryCall* call, std::function<absl::Status()> work);

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_SERVICE_CONTEXT_H_
