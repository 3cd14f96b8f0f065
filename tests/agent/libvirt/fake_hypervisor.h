#ifndef BALLOOND_TESTS_AGENT_LIBVIRT_FAKE_HYPERVISOR_H_
#define BALLOOND_TESTS_AGENT_LIBVIRT_FAKE_HYPERVISOR_H_

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "agent/base/clock.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/libvirt/libvirt_stats.h"
#include "tests/agent/base/fake_clock.h"
#include "tests/testdata.h"

namespace balloond::testing {

// libvirt's statistics parameters as `virsh domstats` printed them (tests/testdata/libvirt-9.0).
inline std::vector<StatParam> RecordedStats(const std::string& file) {
  std::vector<StatParam> params;
  for (absl::string_view line :
       absl::StrSplit(ReadTestData("libvirt-9.0/" + file), '\n', absl::SkipWhitespace())) {
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    uint64_t value = 0;
    if (absl::SimpleAtoi(kv.second, &value)) params.emplace_back(kv.first, value);
  }
  return params;
}

// One domain as libvirt and its QEMU would answer for it: statistics recorded from libvirt 9.0,
// QOM replies recorded from QEMU 7.2, and what it was asked to do.
struct FakeDomain {
  DomainInfo info;
  // `virsh domstats` recording its statistics come from; balloon.current follows actual_bytes.
  std::string stats_file = "domstats-booted.txt";
  int64_t actual_bytes = 536870912;
  // Its definition, as libvirt's XML says (tests/testdata/libvirt-9.0/dumpxml-*).
  DomainConfig config = *ParseDomainXml(ReadTestData("libvirt-9.0/dumpxml-no-period.xml"));
  // A QEMU that does not answer: its statistics are skipped, and calls to it time out.
  bool hung = false;
  bool job_active = false;
  // A recorded QOM tree (e.g. "qemu-7.2/rng-layout") that qom-list answers from instead of the
  // default replies.
  std::string qom_tree;
  std::vector<int64_t> targets_set;
  // Requested sizes its virtio-mem devices were given; the guest unplugs none below unplug_floor.
  std::vector<int64_t> requests_set;
  int64_t unplug_floor = 0;
  std::vector<int> periods_set;
  std::vector<std::string> qmp;  // "execute" of each QMP command received
  int config_reads = 0;
  int job_checks = 0;
  int stats_reads = 0;      // collections that read its statistics (not skipped)
  int64_t cpu_time_ns = 0;  // what its QEMU process used so far

  int CountQmp(const std::string& execute) const {
    return static_cast<int>(std::count(qmp.begin(), qmp.end(), execute));
  }

  DomainStats Stats() const {
    std::vector<StatParam> params =
        hung ? RecordedStats("domstats-busy.txt") : RecordedStats(stats_file);
    for (auto& [name, value] : params) {
      if (name == "balloon.current") value = static_cast<uint64_t>(actual_bytes / 1024);
      if (name == "balloon.maximum") value = static_cast<uint64_t>(info.max_memory_bytes / 1024);
    }
    DomainStats d = ParseDomainStats(params);
    d.info = info;
    return d;
  }

  std::string AnswerQmp(const nlohmann::json& cmd) {
    const std::string execute = cmd.value("execute", "");
    qmp.push_back(execute);
    const nlohmann::json args = cmd.value("arguments", nlohmann::json::object());
    const std::string path = args.value("path", "");
    if (execute == "qom-list" && !qom_tree.empty()) {
      std::string file = path == "/" ? "_" : path.substr(1);
      std::replace(file.begin(), file.end(), '/', '_');
      try {
        return ReadTestData(qom_tree + "/" + file + ".json");
      } catch (const std::exception&) {
        return ReadTestData("qemu-7.2/qom-get-no-path.json");
      }
    }
    if (execute == "qom-list") {
      if (path == "/machine/peripheral") {
        return ReadTestData(config.has_balloon ? "qemu-7.2/qom-list-peripheral.json"
                                               : "qemu-7.2/qom-list-peripheral-no-balloon.json");
      }
      if (path == "/machine/peripheral/balloon0" && config.has_balloon) {
        return ReadTestData("qemu-7.2/qom-list-balloon0.json");
      }
      if (path == "/") return ReadTestData("qemu-7.2/qom-list-root.json");
      if (path == "/machine") return ReadTestData("qemu-7.2/qom-list-machine.json");
      return ReadTestData("qemu-7.2/qom-get-no-path.json");
    }
    if (execute == "qom-get" && args.value("property", "") == "guest-stats") {
      return ReadTestData("qemu-7.2/guest-stats.json");
    }
    if (execute == "qom-get" && args.value("property", "") == "guest-stats-polling-interval") {
      return nlohmann::json{{"return", config.stats_period_seconds}}.dump();
    }
    return ReadTestData("qemu-7.2/qom-get-no-property.json");
  }
};

class FakeHypervisor final : public Hypervisor {
 public:
  // `changes`, if given, hears of the events a test raises.
  explicit FakeHypervisor(DomainChangeListener* changes = nullptr) : changes_(changes) {}

  // Adds a running 512 MiB domain; returns its UUID.
  std::string AddDomain(const std::string& name, int id = 1) {
    absl::MutexLock lock(&mu_);
    FakeDomain d;
    d.info.name = name;
    d.info.uuid = "00000000-0000-0000-0000-" +
                  std::string(12 - std::min<size_t>(12, name.size()), '0') + name.substr(0, 12);
    d.info.id = id;
    d.info.active = true;
    d.info.state = DomainRunState::kRunning;
    d.info.max_memory_bytes = 536870912;
    domains_[d.info.uuid] = d;
    return d.info.uuid;
  }
  void RemoveDomain(const std::string& uuid) {
    absl::MutexLock lock(&mu_);
    domains_.erase(uuid);
  }
  // A new QEMU process for the domain: a new ID, a fresh definition.
  void Restart(const std::string& uuid) {
    absl::MutexLock lock(&mu_);
    FakeDomain& d = domains_[uuid];
    FakeDomain fresh;
    fresh.info = d.info;
    fresh.info.id += 1;
    fresh.config.has_balloon = d.config.has_balloon;
    d = fresh;
  }
  void SetReachable(bool reachable) {
    absl::MutexLock lock(&mu_);
    reachable_ = reachable;
  }
  // Runs `edit` on the domain under the fake's lock.
  template <typename F>
  void WithDomain(const std::string& uuid, F edit) {
    absl::MutexLock lock(&mu_);
    edit(domains_[uuid]);
  }
  int collections() {
    absl::MutexLock lock(&mu_);
    return collections_;
  }
  // Calls of a kind wait from Block until Unblock (a libvirtd or a QEMU slow to answer).
  enum class Call { kLookup, kSetTarget };
  void Block(Call call) {
    absl::MutexLock lock(&mu_);
    gates_[call].blocked = true;
  }
  void Unblock(Call call) {
    absl::MutexLock lock(&mu_);
    gates_[call].blocked = false;
  }
  // Waits until `n` calls of the kind wait on its block.
  void AwaitBlocked(Call call, int n) {
    absl::MutexLock lock(&mu_);
    Gate& gate = gates_[call];
    std::pair<const int*, int> waiting_and_wanted(&gate.waiting, n);
    mu_.Await(absl::Condition(
        +[](std::pair<const int*, int>* arg) { return *arg->first >= arg->second; },
        &waiting_and_wanted));
  }
  // The next `n` balloon targets set fail with UNAVAILABLE (libvirt lost meanwhile).
  void FailNextTargets(int n) {
    absl::MutexLock lock(&mu_);
    failing_targets_ = n;
  }

  absl::StatusOr<std::vector<DomainStats>> CollectStats(absl::Time,
                                                        const CollectionFilter& filter) override {
    absl::MutexLock lock(&mu_);
    if (!reachable_) return absl::UnavailableError("cannot connect to libvirt");
    ++collections_;
    std::vector<DomainStats> out;
    for (auto& [uuid, d] : domains_) {
      std::optional<int64_t> cpu;
      if (filter.asleep.count(uuid)) {
        DomainStats skipped;
        skipped.info = d.info;
        skipped.skipped = true;
        out.push_back(std::move(skipped));
        continue;
      }
      if (filter.steady.count(uuid)) {
        cpu = d.cpu_time_ns;
        if (!(filter.busy && filter.busy(uuid, d.cpu_time_ns))) {
          DomainStats skipped;
          skipped.info = d.info;
          skipped.skipped = true;
          skipped.cpu_time_ns = cpu;
          out.push_back(std::move(skipped));
          continue;
        }
      }
      ++d.stats_reads;
      out.push_back(d.Stats());
      out.back().cpu_time_ns = cpu;
    }
    return out;
  }
  absl::StatusOr<DomainInfo> LookupDomain(absl::string_view ref, absl::Time) override {
    absl::MutexLock lock(&mu_);
    Pass(Call::kLookup);
    if (auto it = domains_.find(std::string(ref)); it != domains_.end()) return it->second.info;
    for (const auto& [uuid, d] : domains_) {
      if (d.info.name == ref) return d.info;
    }
    return absl::NotFoundError("no domain named '" + std::string(ref) + "'");
  }
  absl::StatusOr<DomainConfig> ReadConfig(const std::string& uuid, absl::Time) override {
    absl::MutexLock lock(&mu_);
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("domain not running");
    ++d->config_reads;
    return d->config;
  }
  absl::Status SetBalloonTarget(const std::string& uuid, int64_t target_bytes,
                                absl::Time) override {
    absl::MutexLock lock(&mu_);
    Pass(Call::kSetTarget);
    if (failing_targets_ > 0) {
      --failing_targets_;
      return absl::UnavailableError("cannot connect to libvirt");
    }
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("domain not running");
    if (d->hung) return absl::DeadlineExceededError("QEMU did not answer in time");
    if (!d->config.has_balloon) {
      return absl::FailedPreconditionError(
          "Unable to change memory of active domain without the balloon device");
    }
    d->targets_set.push_back(target_bytes);
    // The guest follows at once here; libvirt's balloon size counts what virtio-mem plugged.
    d->actual_bytes = target_bytes / 1024 * 1024;
    for (const MemoryDevice& m : d->config.memory_devices) d->actual_bytes += m.current_bytes;
    return absl::OkStatus();
  }
  absl::Status SetMemoryDeviceRequest(const std::string& uuid, const std::string& alias,
                                      int64_t requested_bytes, absl::Time) override {
    absl::MutexLock lock(&mu_);
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("domain not running");
    if (d->hung) return absl::DeadlineExceededError("QEMU did not answer in time");
    for (MemoryDevice& m : d->config.memory_devices) {
      if (m.alias != alias) continue;
      if (requested_bytes < 0 || requested_bytes > m.size_bytes ||
          requested_bytes % m.block_bytes != 0) {
        return absl::InvalidArgumentError("not a whole number of blocks within the device");
      }
      d->requests_set.push_back(requested_bytes);
      m.requested_bytes = requested_bytes;
      // The guest follows at once here, unless it keeps some plugged.
      const int64_t before = m.current_bytes;
      m.current_bytes = std::max(requested_bytes, std::min(m.current_bytes, d->unplug_floor));
      d->actual_bytes += m.current_bytes - before;
      return absl::OkStatus();
    }
    return absl::NotFoundError("no such virtio-mem device");
  }
  absl::Status SetStatsPeriod(const std::string& uuid, int seconds, absl::Time) override {
    absl::MutexLock lock(&mu_);
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("domain not running");
    if (d->hung) return absl::DeadlineExceededError("QEMU did not answer in time");
    d->periods_set.push_back(seconds);
    d->config.stats_period_seconds = seconds;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> JobActive(const std::string& uuid, absl::Time) override {
    absl::MutexLock lock(&mu_);
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("domain not running");
    ++d->job_checks;
    return d->job_active;
  }
  absl::StatusOr<std::string> RunQmp(const std::string& uuid, const std::string& command,
                                     absl::Time) override {
    absl::MutexLock lock(&mu_);
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("domain not running");
    if (d->hung) return absl::DeadlineExceededError("QEMU did not answer in time");
    return d->AnswerQmp(nlohmann::json::parse(command));
  }
  absl::StatusOr<std::string> ReadPolicyMetadata(const std::string& uuid, absl::Time) override {
    absl::MutexLock lock(&mu_);
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("no such domain");
    return d->config.policy_metadata;
  }
  absl::Status WritePolicyMetadata(const std::string& uuid, const std::string& element,
                                   absl::Time) override {
    absl::MutexLock lock(&mu_);
    FakeDomain* d = Find(uuid);
    if (d == nullptr) return absl::NotFoundError("no such domain");
    d->config.policy_metadata = element;
    return absl::OkStatus();
  }
  // What libvirt's event thread does on an event: tells the listener.
  void RaiseEvent(const std::string& uuid) {
    if (changes_ != nullptr) changes_->OnDomainChanged(uuid);
  }

 private:
  struct Gate {
    bool blocked = false;
    int waiting = 0;
  };
  // Waits while calls of `call`'s kind are blocked.
  void Pass(Call call) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Gate& gate = gates_[call];
    ++gate.waiting;
    mu_.Await(absl::Condition(
        +[](Gate* g) { return !g->blocked; }, &gate));
    --gate.waiting;
  }
  FakeDomain* Find(const std::string& uuid) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = domains_.find(uuid);
    return it == domains_.end() ? nullptr : &it->second;
  }

  absl::Mutex mu_;
  bool reachable_ = true;
  int collections_ = 0;
  DomainChangeListener* const changes_;
  std::map<Call, Gate> gates_;
  int failing_targets_ = 0;
  std::map<std::string, FakeDomain> domains_;
};

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_AGENT_LIBVIRT_FAKE_HYPERVISOR_H_
