#include "agent/api/call_limits.h"

#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"

namespace balloond {

CallLimits::Ticket& CallLimits::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    if (limits_ != nullptr) limits_->Release(connection_, watch_);
    limits_ = other.limits_;
    connection_ = std::move(other.connection_);
    watch_ = other.watch_;
    other.limits_ = nullptr;
  }
  return *this;
}

CallLimits::Ticket::~Ticket() {
  if (limits_ != nullptr) limits_->Release(connection_, watch_);
}

absl::StatusOr<CallLimits::Ticket> CallLimits::AdmitCall(absl::string_view connection) {
  return Admit(connection, /*watch=*/false);
}

absl::StatusOr<CallLimits::Ticket> CallLimits::AdmitWatch(absl::string_view connection) {
  return Admit(connection, /*watch=*/true);
}

absl::StatusOr<CallLimits::Ticket> CallLimits::Admit(absl::string_view connection, bool watch) {
  absl::MutexLock lock(&mu_);
  auto it = calls_by_connection_.find(connection);
  const int on_connection = it == calls_by_connection_.end() ? 0 : it->second;
  if (on_connection >= settings_.max_calls_per_connection) {
    return WithReason(
        absl::ResourceExhaustedError(absl::StrCat(
            "this connection already has ", on_connection,
            " calls in flight, balloond's limit (limits.max_calls_per_connection in its config); "
            "end some (close unused watches) before starting more")),
        "LIMIT_EXCEEDED", {{"setting", "limits.max_calls_per_connection"}});
  }
  if (watch && watches_ >= settings_.max_watches) {
    return WithReason(absl::ResourceExhaustedError(absl::StrCat(
                          "balloond already serves ", watches_,
                          " watch streams on this socket, its limit (limits.max_watches in its "
                          "config); close unused watches or raise the limit")),
                      "LIMIT_EXCEEDED", {{"setting", "limits.max_watches"}});
  }
  if (it == calls_by_connection_.end()) {
    it = calls_by_connection_.emplace(std::string(connection), 0).first;
  }
  ++it->second;
  ++calls_;
  if (watch) ++watches_;
  return Ticket(this, it->first, watch);
}

void CallLimits::Release(const std::string& connection, bool watch) {
  absl::MutexLock lock(&mu_);
  auto it = calls_by_connection_.find(connection);
  if (it != calls_by_connection_.end() && --it->second <= 0) calls_by_connection_.erase(it);
  --calls_;
  if (watch) --watches_;
}

int CallLimits::open_watches() const {
  absl::MutexLock lock(&mu_);
  return watches_;
}

int CallLimits::calls_in_flight() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

}  // namespace balloond
