#include "agent/qom/qom_gate.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "agent/base/error_reason.h"

namespace balloond {
namespace {

// Clients whose bucket is full cost nothing to forget; past this many, they are.
constexpr size_t kMaxRememberedClients = 4096;

}  // namespace

QomGate::QomGate(QomGateSettings settings, Clock& clock)
    : settings_(settings), clock_(clock), workers_("QOM query", settings.workers) {}

absl::Status QomGate::TakeToken(const std::string& client) {
  const absl::Time now = clock_.Now();
  if (buckets_.size() > kMaxRememberedClients) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
      const double refilled = it->second.tokens + absl::ToDoubleSeconds(now - it->second.refilled) *
                                                      settings_.queries_per_second;
      it = refilled >= settings_.burst ? buckets_.erase(it) : std::next(it);
    }
  }
  auto [it, fresh] =
      buckets_.try_emplace(client, Bucket{static_cast<double>(settings_.burst), now});
  Bucket& b = it->second;
  if (!fresh) {
    b.tokens =
        std::min<double>(settings_.burst, b.tokens + absl::ToDoubleSeconds(now - b.refilled) *
                                                         settings_.queries_per_second);
    b.refilled = now;
  }
  if (b.tokens < 1) {
    const double wait = (1 - b.tokens) / settings_.queries_per_second;
    return WithReason(
        absl::ResourceExhaustedError(absl::StrFormat(
            "%s has sent QOM queries faster than balloond allows: %g per second, %d at once "
            "(limits.qom_queries_per_second and limits.qom_burst in its config); retry in %.1fs",
            client, settings_.queries_per_second, settings_.burst, std::max(0.1, wait))),
        "LIMIT_EXCEEDED", {{"setting", "limits.qom_queries_per_second"}});
  }
  b.tokens -= 1;
  return absl::OkStatus();
}

absl::Status QomGate::Submit(const std::string& client, const std::string& domain,
                             std::function<void()> query) {
  {
    absl::MutexLock lock(&mu_);
    if (absl::Status s = TakeToken(client); !s.ok()) return s;
    DomainQueue& queue = domains_[domain];
    if (queue.running) {
      if (static_cast<int>(queue.waiting.size()) >= settings_.queue_per_domain) {
        return WithReason(
            absl::ResourceExhaustedError(absl::StrCat(
                "this domain already has a QOM query running and ", queue.waiting.size(),
                " waiting, balloond's limit (limits.qom_queue_per_domain in its config); retry in "
                "a moment")),
            "LIMIT_EXCEEDED", {{"setting", "limits.qom_queue_per_domain"}});
      }
      queue.waiting.push_back(std::move(query));
      return absl::OkStatus();
    }
    queue.running = true;
  }
  Start(domain, std::move(query));
  return absl::OkStatus();
}

void QomGate::Start(const std::string& domain, std::function<void()> query) {
  workers_.Submit([this, domain, query = std::move(query)] {
    RunGuarded("a QOM query", query);
    Finished(domain);
  });
}

void QomGate::Finished(const std::string& domain) {
  std::function<void()> next;
  {
    absl::MutexLock lock(&mu_);
    auto it = domains_.find(domain);
    if (it == domains_.end()) return;
    if (it->second.waiting.empty()) {
      domains_.erase(it);
      return;
    }
    next = std::move(it->second.waiting.front());
    it->second.waiting.pop_front();
  }
  Start(domain, std::move(next));
}

}  // namespace balloond
