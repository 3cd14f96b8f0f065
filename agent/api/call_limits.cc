#include "agent/api/call_limits.h"

#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"

namespace balloond {
namespace {

absl::Status Exhausted(const std::string& message, absl::string_view setting) {
  return WithReason(absl::ResourceExhaustedError(message), "LIMIT_EXCEEDED",
                    {{"setting", std::string(setting)}});
}

}  // namespace

CallLimits::Ticket& CallLimits::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    Release();
    limits_ = other.limits_;
    connection_ = std::move(other.connection_);
    client_ = std::move(other.client_);
    watch_ = other.watch_;
    charged_ = other.charged_;
    other.limits_ = nullptr;
    other.charged_ = 0;
  }
  return *this;
}

CallLimits::Ticket::~Ticket() { Release(); }

void CallLimits::Ticket::Release() {
  if (limits_ != nullptr) limits_->Release(*this);
  limits_ = nullptr;
  charged_ = 0;
}

absl::Status CallLimits::Ticket::ChargeAnswer(int64_t bytes) {
  if (limits_ == nullptr || bytes <= 0) return absl::OkStatus();
  if (absl::Status s = limits_->Charge(client_, bytes); !s.ok()) return s;
  charged_ += bytes;
  return absl::OkStatus();
}

absl::StatusOr<CallLimits::Ticket> CallLimits::AdmitCall(absl::string_view connection,
                                                         absl::string_view client) {
  return Admit(connection, client, /*watch=*/false);
}

absl::StatusOr<CallLimits::Ticket> CallLimits::AdmitWatch(absl::string_view connection,
                                                          absl::string_view client) {
  return Admit(connection, client, /*watch=*/true);
}

absl::StatusOr<CallLimits::Ticket> CallLimits::Admit(absl::string_view connection,
                                                     absl::string_view client, bool watch) {
  absl::MutexLock lock(&mu_);
  auto it = calls_by_connection_.find(connection);
  const int on_connection = it == calls_by_connection_.end() ? 0 : it->second;
  if (on_connection >= settings_.max_calls_per_connection) {
    return Exhausted(
        absl::StrCat(
            "this connection already has ", on_connection,
            " calls in flight, balloond's limit (limits.max_calls_per_connection in its config); "
            "end some (close unused watches, read the answers waiting) before starting more"),
        "limits.max_calls_per_connection");
  }
  auto share = clients_.find(client);
  if (watch) {
    const int of_client = share == clients_.end() ? 0 : share->second.watches;
    if (of_client >= settings_.max_watches_per_client) {
      return Exhausted(absl::StrCat(client, " already has ", of_client,
                                    " watch streams open on this socket, its share "
                                    "(limits.max_watches_per_client in balloond's config); close "
                                    "unused watches first"),
                       "limits.max_watches_per_client");
    }
    if (watches_ >= settings_.max_watches) {
      return Exhausted(absl::StrCat("balloond already serves ", watches_,
                                    " watch streams on this socket, its limit (limits.max_watches "
                                    "in its config); close unused watches or raise the limit"),
                       "limits.max_watches");
    }
  }
  if (it == calls_by_connection_.end()) {
    it = calls_by_connection_.emplace(std::string(connection), 0).first;
  }
  if (share == clients_.end()) share = clients_.emplace(std::string(client), ClientShare()).first;
  ++it->second;
  ++calls_;
  ++share->second.calls;
  if (watch) {
    ++watches_;
    ++share->second.watches;
  }
  return Ticket(this, it->first, share->first, watch);
}

absl::Status CallLimits::Charge(const std::string& client, int64_t bytes) {
  absl::MutexLock lock(&mu_);
  auto share = clients_.find(client);
  if (share == clients_.end()) return absl::OkStatus();  // not admitted here: nothing to bound
  if (share->second.unread_bytes + bytes > settings_.max_unread_bytes_per_client) {
    return Exhausted(
        absl::StrCat(client, " has ", share->second.unread_bytes,
                     " bytes of answers it has not read yet; this one (", bytes,
                     " bytes) would pass its share (limits.max_unread_bytes_per_client in "
                     "balloond's config): read the answers waiting, or ask for smaller pages"),
        "limits.max_unread_bytes_per_client");
  }
  if (unread_bytes_ + bytes > settings_.max_unread_bytes) {
    return Exhausted(absl::StrCat("balloond holds ", unread_bytes_,
                                  " bytes of answers its clients on this socket have not read "
                                  "yet, its limit (limits.max_unread_bytes in its config); retry "
                                  "shortly"),
                     "limits.max_unread_bytes");
  }
  share->second.unread_bytes += bytes;
  unread_bytes_ += bytes;
  return absl::OkStatus();
}

void CallLimits::Release(const Ticket& ticket) {
  absl::MutexLock lock(&mu_);
  auto it = calls_by_connection_.find(ticket.connection_);
  if (it != calls_by_connection_.end() && --it->second <= 0) calls_by_connection_.erase(it);
  --calls_;
  unread_bytes_ -= ticket.charged_;
  if (ticket.watch_) --watches_;
  auto share = clients_.find(ticket.client_);
  if (share == clients_.end()) return;
  share->second.unread_bytes -= ticket.charged_;
  if (ticket.watch_) --share->second.watches;
  if (--share->second.calls <= 0) clients_.erase(share);  // nothing in flight: forgotten
}

int CallLimits::open_watches() const {
  absl::MutexLock lock(&mu_);
  return watches_;
}

int CallLimits::calls_in_flight() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

int64_t CallLimits::unread_bytes() const {
  absl::MutexLock lock(&mu_);
  return unread_bytes_;
}

}  // namespace balloond
