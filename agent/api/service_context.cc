#include "agent/api/service_context.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "agent/api/proto_convert.h"
#include "agent/base/error_reason.h"
#include "agent/libvirt/domain_ref.h"

namespace balloond {

UnaryCall* UnaryCall::Refused(const absl::Status& status) {
  auto* call = new UnaryCall();
  call->Finish(ToGrpcStatus(status));
  return call;
}

UnaryCall* UnaryCall::Complete(const absl::Status& status) {
  // What an answer holds until its client reads it: the message, its serialized copy, gRPC's
  // buffers and the call's own state (measured: 82 to 108 KiB of RSS per unread page of 25 KiB).
  constexpr int64_t kCopies = 4;
  constexpr int64_t kCallBytes = 16 << 10;
  absl::Status outcome = status;
  if (outcome.ok() && response_ != nullptr) {
    outcome = ticket_.ChargeAnswer(kCopies * static_cast<int64_t>(response_->ByteSizeLong()) +
                                   kCallBytes);
    if (!outcome.ok()) response_->Clear();
  }
  Finish(ToGrpcStatus(outcome));
  return this;
}

absl::StatusOr<CallLimits::Ticket> ListenerContext::Admit(const grpc::CallbackServerContext& ctx,
                                                          bool watch) {
  if (check_connection_) {
    if (absl::Status s = check_connection_(ctx); !s.ok()) return s;
  }
  const std::string client = Identify(ctx);
  return watch ? limits_.AdmitWatch(ctx.peer(), client) : limits_.AdmitCall(ctx.peer(), client);
}

UnaryCall* ListenerContext::Begin(const grpc::CallbackServerContext& ctx,
                                  google::protobuf::Message* response) {
  auto ticket = Admit(ctx, /*watch=*/false);
  if (!ticket.ok()) return UnaryCall::Refused(ticket.status());
  return new UnaryCall(std::move(*ticket), response);
}

UnaryCall* ListenerContext::Begin(const grpc::CallbackServerContext& ctx, absl::string_view domain,
                                  google::protobuf::Message* response) {
  if (absl::Status s = ValidateDomainRef(domain); !s.ok()) return UnaryCall::Refused(s);
  return Begin(ctx, response);
}

absl::StatusOr<CallLimits::Ticket> ListenerContext::AdmitWatch(
    const grpc::CallbackServerContext& ctx) {
  return Admit(ctx, /*watch=*/true);
}

absl::Time RequestDeadline(Clock& clock, const grpc::CallbackServerContext& ctx,
                           absl::Duration fallback, absl::Duration cap) {
  const absl::Time now = clock.Now();
  const auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max())
    return now + std::min(fallback, cap);
  return std::min(absl::FromChrono(deadline), now + cap);
}

void FinishWith(UnaryCall* call, const std::function<absl::Status()>& work) {
  call->Complete(StatusOfWork(work));
}

UnaryCall* FinishOnPool(WorkerPool& pool, UnaryCall* call, std::function<absl::Status()> work) {
  absl::Status queued = pool.TrySubmit([call, work = std::move(work)] { FinishWith(call, work); });
  if (!queued.ok()) call->Complete(queued);
  return call;
}

}  // namespace balloond
