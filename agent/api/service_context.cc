#include "agent/api/service_context.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "agent/api/proto_convert.h"
#include "agent/base/log.h"
#include "agent/libvirt/domain_ref.h"

namespace balloond {

absl::StatusOr<CallLimits::Ticket> ListenerContext::Admit(const grpc::CallbackServerContext& ctx,
                                                          absl::string_view domain) {
  if (absl::Status s = ValidateDomainRef(domain); !s.ok()) return s;
  return Admit(ctx);
}

absl::Time RequestDeadline(Clock& clock, const grpc::CallbackServerContext& ctx,
                           absl::Duration fallback, absl::Duration cap) {
  const absl::Time now = clock.Now();
  const auto deadline = ctx.deadline();
  if (deadline == std::chrono::system_clock::time_point::max())
    return now + std::min(fallback, cap);
  return std::min(absl::FromChrono(deadline), now + cap);
}

void FinishWith(grpc::ServerUnaryReactor* reactor, const std::function<absl::Status()>& work) {
  absl::Status status;
  try {
    status = work();
  } catch (const std::exception& e) {
    Log(LogLevel::kError, absl::StrCat("a request failed with an exception: ", e.what()));
    status = absl::InternalError(absl::StrCat("balloond failed: ", e.what()));
  } catch (...) {
    Log(LogLevel::kError, "a request failed with an unknown exception");
    status = absl::InternalError("balloond failed with an unknown exception");
  }
  reactor->Finish(ToGrpcStatus(status));
}

void FinishOnPool(WorkerPool& pool, grpc::ServerUnaryReactor* reactor,
                  std::function<absl::Status()> work) {
  absl::Status queued =
      pool.TrySubmit([reactor, work = std::move(work)] { FinishWith(reactor, work); });
  if (!queued.ok()) reactor->Finish(ToGrpcStatus(queued));
}

grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* ctx, const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

}  // namespace balloond
