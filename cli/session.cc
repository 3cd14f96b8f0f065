#include "cli/session.h"

#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"

namespace balloond::cli {

Session::Session(const GlobalOptions& options, Services services, std::ostream& out,
                 std::ostream& err, std::function<absl::Time()> now, absl::TimeZone zone)
    : options_(options),
      services_(std::move(services)),
      out_(out),
      err_(err),
      now_(std::move(now)),
      zone_(zone) {
  if (!options.timeout.empty() && !absl::ParseDuration(options.timeout, &timeout_)) {
    throw UsageError{
        absl::StrCat("--timeout '", options.timeout, "' is not a duration; write e.g. 10s or 2m")};
  }
}

std::unique_ptr<grpc::ClientContext> Session::Context(bool with_deadline) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (with_deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
  return ctx;
}

int Session::Fail(const grpc::Status& status) {
  err_ << "balloonctl: " << Explain(status) << "\n";
  return kExitFailed;
}

int FinishWatch(Session& session, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && session.timeout_given()) {
    return kExitOk;
  }
  return session.Fail(status);
}

std::unique_ptr<Session> ConnectToBalloond(const GlobalOptions& options, bool needs_write,
                                           std::ostream& out, std::ostream& err) {
  auto connection = Connection::Open(
      WithEnvironment(options.connection, [](const char* v) { return std::getenv(v); }),
      needs_write);
  if (!connection.ok()) {
    const std::string message(connection.status().message());
    if (connection.status().code() == absl::StatusCode::kFailedPrecondition) {
      throw CallImpossible{message};
    }
    throw UsageError{message};
  }
  auto shared = std::make_shared<Connection>(std::move(*connection));
  Session::Services services;
  services.channel = shared->channel();
  services.read = balloon::v1::BalloonReadService::NewStub(services.channel);
  services.control = balloon::v1::BalloonControlService::NewStub(services.channel);
  services.health = grpc::health::v1::Health::NewStub(services.channel);
  services.explain = [shared](const grpc::Status& status) { return shared->Explain(status); };
  return std::make_unique<Session>(options, std::move(services), out, err);
}

}  // namespace balloond::cli
