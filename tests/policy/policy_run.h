#ifndef BALLOOND_TESTS_POLICY_POLICY_RUN_H_
#define BALLOOND_TESTS_POLICY_POLICY_RUN_H_

// The policy run over simulated time on test guests (tests/policy/test_guest.h), and the hosts the
// policy's tests run it on.

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "policy/policy.h"
#include "tests/policy/test_guest.h"

namespace balloond::policy {

// Runs the policy over simulated time: every 2 s the guests report, the policy decides, and (in
// enforce mode) balloons reach their targets at once unless `stuck`.
class PolicyRun {
 public:
  PolicyRun(balloon::v1::Policy policy, HostInput host) : policy_(std::move(policy)), host_(host) {
    guests_.reserve(16);  // Add hands out references
  }

  FakeGuest& Add(FakeGuest g) {
    EXPECT_LT(guests_.size(), guests_.capacity());
    guests_.push_back(std::move(g));
    return guests_.back();
  }
  FakeGuest& guest(size_t i) { return guests_[i]; }

  std::vector<Decision> Cycle(bool stuck = false) {
    now_ += absl::Seconds(2);
    std::vector<DomainInput> inputs;
    for (FakeGuest& g : guests_) {
      if (g.reports && !g.frozen) g.reported_at = now_;
      inputs.push_back(g.Input());
    }
    Outcome out = Decide(policy_, host_, inputs, state_, now_);
    state_ = out.state;
    host_condition_ = out.host;
    plan_ = out.collect_every;
    if (policy_.mode() == balloon::v1::POLICY_MODE_ENFORCE && !stuck) {
      for (const Decision& d : out.decisions) {
        for (FakeGuest& g : guests_) {
          if (g.name == d.name) g.actual = d.target_bytes;
        }
      }
    }
    all_.insert(all_.end(), out.decisions.begin(), out.decisions.end());
    return out.decisions;
  }
  std::vector<Decision> CycleUntilQuiet(int max_cycles = 50) {
    std::vector<Decision> seen;
    for (int i = 0; i < max_cycles; ++i) {
      auto d = Cycle();
      if (d.empty()) return seen;
      seen.insert(seen.end(), d.begin(), d.end());
    }
    ADD_FAILURE() << "the policy never settled";
    return seen;
  }
  HostInput& host() { return host_; }
  HostCondition host_condition() const { return host_condition_; }
  // The last cycle's plan for the guest: how many periods until its statistics are needed again.
  int CollectEvery(const std::string& name) const {
    auto it = plan_.find("uuid-" + name);
    return it == plan_.end() ? 0 : it->second;
  }
  absl::Time now() const { return now_; }
  void Advance(absl::Duration d) { now_ += d; }
  balloon::v1::Policy& policy() { return policy_; }

 private:
  balloon::v1::Policy policy_;
  HostInput host_;
  State state_;
  absl::Time now_ = kStart;
  std::vector<FakeGuest> guests_;
  std::vector<Decision> all_;
  HostCondition host_condition_ = HostCondition::kNeutral;
  std::map<std::string, int> plan_;
};

// A 24 GiB host whose reserve is set above its memory: always short, so guests shrink to floors.
inline PolicyRun ShortHost(balloon::v1::Policy policy = Enforce()) {
  policy.mutable_host()->set_reserve_bytes(100 * kGiB);
  return PolicyRun(policy, Host(24 * kGiB, 20 * kGiB));
}

// One cycle's decisions by domain name.
inline std::map<std::string, Decision> ByName(const std::vector<Decision>& decisions) {
  std::map<std::string, Decision> out;
  for (const Decision& d : decisions) out[d.name] = d;
  return out;
}

// A 24 GiB host with `lendable` above its 256 MiB minimum available and a reserve of `reserve`
// (short when under it): relief can pay for only so much.
inline PolicyRun TightHost(balloon::v1::Policy policy, int64_t lendable, int64_t reserve) {
  policy.mutable_host()->set_reserve_bytes(reserve);
  policy.mutable_host()->set_reserve_fraction(0.01);
  return PolicyRun(policy, Host(24 * kGiB, 256 * kMiB + lendable));
}

// A 24 GiB host using 50%: neither short nor comfortable (target 0.4 used).
inline PolicyRun NeutralHost(balloon::v1::Policy policy = Enforce()) {
  policy.mutable_host()->set_target_used_fraction(0.4);
  return PolicyRun(policy, Host(24 * kGiB, 12 * kGiB));
}

}  // namespace balloond::policy

#endif  // BALLOOND_TESTS_POLICY_POLICY_RUN_H_
