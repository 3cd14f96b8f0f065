#ifndef BALLOOND_TESTS_FAKE_HYPERVISOR_H_
#define BALLOOND_TESTS_FAKE_HYPERVISOR_H_

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "agent/clock.h"
#include "agent/hypervisor.h"
#include "tests/testdata.h"

namespace balloond::testing {

class FakeClock final : public Clock {
 public:
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1795612933);
};

// A QEMU that answers QMP with replies recorded from QEMU 7.2 (tests/testdata/qemu-7.2), and
// remembers what it was sent.
struct FakeQemu {
  bool has_balloon = true;
  bool hung = false;
  int64_t actual_bytes = 536870912;
  int64_t polling_interval = 2;
  std::string guest_stats_file = "guest-stats.json";
  std::string migration_status;  // query-migrate's "status"; empty: never migrated
  uint64_t balloon_changes = 0;  // what libvirt's BALLOON_CHANGE events would have counted
  std::vector<std::string> commands;  // "execute" of each command received
  // A recorded QOM tree (e.g. "qemu-7.2/rng-layout"; files named as its README says) that
  // qom-list answers from instead of the default replies.
  std::string qom_tree;

  std::string Answer(const nlohmann::json& cmd) {
    const std::string execute = cmd.value("execute", "");
    commands.push_back(execute);
    const nlohmann::json args = cmd.value("arguments", nlohmann::json::object());
    auto ok = [&](const nlohmann::json& ret) { return nlohmann::json{{"return", ret}}.dump(); };
    if (execute == "qom-list" && !qom_tree.empty()) {
      const std::string path = args.value("path", "");
      std::string file = path == "/" ? "_" : path.substr(1);
      std::replace(file.begin(), file.end(), '/', '_');
      try {
        return ReadTestData(qom_tree + "/" + file + ".json");
      } catch (const std::exception&) {
        return ReadTestData("qemu-7.2/qom-get-no-path.json");
      }
    }
    if (execute == "qom-list") {
      const std::string path = args.value("path", "");
      if (path == "/machine/peripheral") {
        return ReadTestData(has_balloon ? "qemu-7.2/qom-list-peripheral.json"
                                        : "qemu-7.2/qom-list-peripheral-no-balloon.json");
      }
      if (path == "/machine/peripheral/balloon0" && has_balloon) {
        return ReadTestData("qemu-7.2/qom-list-balloon0.json");
      }
      if (path == "/") return ReadTestData("qemu-7.2/qom-list-root.json");
      if (path == "/machine") return ReadTestData("qemu-7.2/qom-list-machine.json");
      return ReadTestData("qemu-7.2/qom-get-no-path.json");
    }
    if (!has_balloon) return ReadTestData("qemu-7.2/query-balloon-no-device.json");
    if (execute == "query-balloon") return ok({{"actual", actual_bytes}});
    if (execute == "query-migrate") return ok(migration_status.empty() ? nlohmann::json::object()
                                                                        : nlohmann::json{{"status", migration_status}});
    if (execute == "balloon") {
      actual_bytes = args.value("value", int64_t{0});
      ++balloon_changes;  // the guest follows at once here, and QEMU reports it
      return ok(nlohmann::json::object());
    }
    if (execute == "qom-get" && args.value("property", "") == "guest-stats-polling-interval") {
      return ok(polling_interval);
    }
    if (execute == "qom-get" && args.value("property", "") == "guest-stats") {
      return ReadTestData("qemu-7.2/" + guest_stats_file);
    }
    if (execute == "qom-set") {
      polling_interval = args.value("value", int64_t{0});
      return ok(nlohmann::json::object());
    }
    return ReadTestData("qemu-7.2/qom-get-no-property.json");
  }

  int Count(const std::string& execute) const {
    int n = 0;
    for (const auto& c : commands) n += c == execute;
    return n;
  }
};

class FakeHypervisor final : public Hypervisor {
 public:
  // Adds a running domain whose QEMU is `qemu`; returns its UUID.
  std::string AddDomain(const std::string& name, int id = 1) {
    absl::MutexLock lock(&mu_);
    DomainInfo info;
    info.name = name;
    info.uuid = "00000000-0000-0000-0000-" + std::string(12 - std::min<size_t>(12, name.size()), '0') +
                name.substr(0, 12);
    info.id = id;
    info.active = true;
    info.state = DomainRunState::kRunning;
    info.max_memory_bytes = 536870912;
    domains_[info.uuid] = info;
    qemus_[info.uuid] = FakeQemu();
    return info.uuid;
  }
  void RemoveDomain(const std::string& uuid) {
    absl::MutexLock lock(&mu_);
    domains_.erase(uuid);
  }
  void Restart(const std::string& uuid) {
    absl::MutexLock lock(&mu_);
    domains_[uuid].id += 1;
    const bool has_balloon = qemus_[uuid].has_balloon;
    qemus_[uuid] = FakeQemu();
    qemus_[uuid].has_balloon = has_balloon;
  }
  void SetReachable(bool reachable) {
    absl::MutexLock lock(&mu_);
    reachable_ = reachable;
  }
  // Runs `edit` on the domain's QEMU under the fake's lock.
  template <typename F>
  void WithQemu(const std::string& uuid, F edit) {
    absl::MutexLock lock(&mu_);
    edit(qemus_[uuid]);
  }

  absl::StatusOr<std::vector<DomainInfo>> ListActiveDomains() override {
    absl::MutexLock lock(&mu_);
    if (!reachable_) return absl::UnavailableError("cannot connect to libvirt");
    std::vector<DomainInfo> out;
    for (const auto& [uuid, info] : domains_) {
      out.push_back(info);
      out.back().balloon_changes = qemus_[uuid].balloon_changes;
    }
    return out;
  }
  absl::StatusOr<DomainInfo> LookupDomain(absl::string_view ref) override {
    absl::MutexLock lock(&mu_);
    for (const auto& [uuid, info] : domains_) {
      if (info.name == ref || uuid == ref) return info;
    }
    return absl::NotFoundError("no domain named '" + std::string(ref) + "'");
  }
  absl::StatusOr<std::string> RunQmp(const std::string& uuid, const std::string& command,
                                     absl::Time, QmpCaller) override {
    absl::MutexLock lock(&mu_);
    if (domains_.count(uuid) == 0) return absl::NotFoundError("domain not running");
    FakeQemu& qemu = qemus_[uuid];
    if (qemu.hung) return absl::DeadlineExceededError("QEMU did not answer the QMP command in time");
    return qemu.Answer(nlohmann::json::parse(command));
  }
  void SetChangeCallback(std::function<void()>) override {}

 private:
  absl::Mutex mu_;
  bool reachable_ = true;
  std::map<std::string, DomainInfo> domains_;
  std::map<std::string, FakeQemu> qemus_;
};

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_FAKE_HYPERVISOR_H_
