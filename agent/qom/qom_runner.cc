#include "agent/qom/qom_runner.h"

#include <utility>

#include "agent/base/error_reason.h"
#include "agent/qom/balloon_path.h"

namespace balloond {

absl::Status QomRunner::Submit(QomGate& gate, const std::string& client, const Target& target,
                               absl::Time deadline, Query query,
                               std::function<void(absl::Status)> done) {
  return gate.Submit(client, target.uuid,
                     [this, target, deadline, query = std::move(query), done = std::move(done)] {
                       done(StatusOfWork([&] { return Run(target, deadline, query); }));
                     });
}

absl::Status QomRunner::Run(const Target& target, absl::Time deadline, const Query& query) {
  const auto pass = traffic_.Enter(deadline);
  if (!pass) return absl::DeadlineExceededError("the QOM query waited in line past its deadline");
  const std::string process = ProcessKey(target.uuid, target.id);
  DomainMonitor monitor(hypervisor_, target.uuid, deadline);
  const QomLister list = [&](const std::string& p) { return monitor.QomList(p); };
  if (absl::Status allowed = guard_.Check(process, target.path, list); !allowed.ok()) {
    return allowed;
  }
  absl::Status status = query(monitor);
  // The domain is tainted by now: the balloon's path costs it nothing more (ListDomains shows it).
  if (status.ok() && !balloon_paths_.Get(process)) {
    auto found = FindBalloonPath(list);
    if (found.ok() || found.status().code() == absl::StatusCode::kNotFound) {
      balloon_paths_.Set(process, found.ok() ? *found : "");
    }
  }
  return status;
}

}  // namespace balloond
