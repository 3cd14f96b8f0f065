// What operators do to balloond, without gRPC: each action carried out, announced once (an event
// and its log line), and a reservation counted in the host's capacity at once.
#include "agent/steering/operator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/base/error_reason.h"
#include "agent/collect/collector.h"
#include "agent/libvirt/policy_metadata.h"
#include "policy/durations.h"
#include "policy/sizes.h"
#include "tests/agent/base/temp_dir.h"
#include "tests/agent/libvirt/fake_hypervisor.h"
#include "tests/agent/steering/event_recorder.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::balloond::testing::FakeHypervisor;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class OperatorTest : public ::testing::Test {
 protected:
  OperatorTest() : collector_(hypervisor_, snapshots_, clock_, CollectorOptions()) {
    policy_ = *PolicyStore::Open(dir_, {});
    holds_ = *HoldStore::Open(dir_);
    reservations_ = *ReservationStore::Open(dir_);
    operator_ = std::make_unique<Operator>(
        Operator::Parts{snapshots_, hypervisor_, clock_, *policy_, *holds_, *reservations_,
                        capacity_, events_, domain_changes_, collector_});
    uuid_ = hypervisor_.AddDomain("web1");
    collector_.CollectOnce();
    collector_.WaitForCalls();
  }
  // A cycle's capacity: 20 GiB available, a reserve of 4 GiB, nothing else on the host.
  void PublishCapacity() {
    policy::HostCapacity c;
    c.total_bytes = 24 * kGiB;
    c.available_bytes = c.standing.available_bytes = 20 * kGiB;
    c.reserve_bytes = c.standing.reserve_bytes = 4 * kGiB;
    CapacityReading reading;
    reading.capacity = policy::WithReserved(c, 0);
    reading.mode = v1::POLICY_MODE_ENFORCE;
    reading.time = clock_.Now();
    capacity_.Publish(std::move(reading));
  }

  FakeHypervisor hypervisor_;
  SnapshotStore snapshots_;
  FakeClock clock_;
  Collector collector_;
  CapacityStore capacity_;
  EventLog events_{clock_, "test"};
  ::balloond::testing::EventRecorder recorder_{events_};
  KeyedLocks domain_changes_{clock_};
  testing::TempDir temp_{"operator-test"};
  std::string dir_ = temp_.path();
  std::unique_ptr<PolicyStore> policy_;
  std::unique_ptr<HoldStore> holds_;
  std::unique_ptr<ReservationStore> reservations_;
  std::unique_ptr<Operator> operator_;
  std::string uuid_;
};

TEST_F(OperatorTest, ATargetIsSetHeldAndAnnouncedOnceInTheEventsAndTheLog) {
  v1::SetBalloonTargetRequest req;
  req.set_domain("web1");
  req.set_target_bytes(384 * kMiB);
  *req.mutable_hold() = ToProtoDuration(absl::Minutes(10));
  ::testing::internal::CaptureStderr();
  auto set = operator_->SetTarget(req, clock_.Now() + absl::Seconds(5), "uid 0");
  const std::string log = ::testing::internal::GetCapturedStderr();
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->domain.info.name, "web1");
  ASSERT_TRUE(set->hold.has_value());
  EXPECT_EQ(holds_->Find(uuid_, clock_.Now())->target_bytes(), 384 * kMiB);
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_TARGET_SET));
  const std::string said = "balloon target set to 384 MiB (was 512 MiB) by uid 0, held for 10m";
  EXPECT_EQ(recorder_.last()[0].message(), said);
  EXPECT_THAT(log, HasSubstr("web1: " + said));
}

TEST_F(OperatorTest, AFailedTargetTakesItsHoldBackAndIsNotAnnounced) {
  v1::SetBalloonTargetRequest req;
  req.set_domain("web1");
  req.set_target_bytes(384 * kMiB);
  hypervisor_.FailNextTargets(1);
  EXPECT_FALSE(operator_->SetTarget(req, clock_.Now() + absl::Seconds(5), "uid 0").ok());
  EXPECT_FALSE(holds_->Find(uuid_, clock_.Now()).has_value());
  EXPECT_TRUE(recorder_.Heard().empty());
}

// The typo `set web1 512` (KiB) left a guest 31 MiB: below its floor a target needs force.
TEST_F(OperatorTest, ATargetBelowTheFloorIsRefusedNamingItUnlessForced) {
  v1::SetBalloonTargetRequest req;
  req.set_domain("web1");
  req.set_target_bytes(512 * kKiB);
  auto refused = operator_->SetTarget(req, clock_.Now() + absl::Seconds(5), "uid 0");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("balloon target 512 KiB (524288 bytes) is below the floor of domain "
                        "'web1', 128 MiB (its min_bytes)"));
  const auto [reason, metadata] = ReasonOf(refused.status());
  EXPECT_EQ(reason, "TARGET_BELOW_FLOOR");
  EXPECT_EQ(metadata.at("floor_bytes"), std::to_string(128 * kMiB));
  EXPECT_FALSE(holds_->Find(uuid_, clock_.Now()).has_value());
  EXPECT_TRUE(recorder_.Heard().empty());
  hypervisor_.WithDomain(uuid_, [](testing::FakeDomain& d) { EXPECT_TRUE(d.targets_set.empty()); });

  req.set_force(true);
  ASSERT_TRUE(operator_->SetTarget(req, clock_.Now() + absl::Seconds(5), "uid 0").ok());
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_TARGET_SET));
  EXPECT_THAT(recorder_.last()[0].message(), HasSubstr("forced below its floor of 128 MiB"));
}

// The floor is the domain's min_bytes as the policy applies it: its metadata, then overrides.
TEST_F(OperatorTest, TheFloorIsTheDomainsOwnMinimum) {
  hypervisor_.WithDomain(uuid_, [](testing::FakeDomain& d) {
    v1::DomainPolicy settings;
    settings.set_min_bytes(300 * kMiB);
    d.config.policy_metadata = *FormatPolicyMetadata(settings);
  });
  collector_.RequestRefresh(uuid_);  // libvirt's metadata-change event
  collector_.CollectOnce();
  collector_.WaitForCalls();
  v1::SetBalloonTargetRequest req;
  req.set_domain("web1");
  req.set_target_bytes(256 * kMiB);
  EXPECT_THAT(
      operator_->SetTarget(req, clock_.Now() + absl::Seconds(5), "uid 0").status().message(),
      HasSubstr("below the floor of domain 'web1', 300 MiB"));
  v1::DomainPolicy lower;
  lower.set_min_bytes(200 * kMiB);
  google::protobuf::FieldMask mask;
  mask.add_paths("min_bytes");
  ASSERT_TRUE(policy_->UpdateDomain("web1", lower, mask).ok());
  EXPECT_TRUE(operator_->SetTarget(req, clock_.Now() + absl::Seconds(5), "uid 0").ok());
}

TEST_F(OperatorTest, AnOverrideForANameLibvirtDoesNotKnowNeedsAllowing) {
  v1::UpdateDomainPolicyRequest req;
  req.set_domain("wbe1");
  req.mutable_policy()->set_min_bytes(256 * kMiB);
  req.mutable_update_mask()->add_paths("min_bytes");
  auto refused = operator_->UpdateDomainPolicy(req, clock_.Now() + absl::Seconds(5), "uid 0");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(refused.status().message(), HasSubstr("libvirt knows no domain 'wbe1'"));
  EXPECT_EQ(ReasonOf(refused.status()).first, "DOMAIN_NOT_FOUND");
  EXPECT_EQ(policy_->Get().domains().count("wbe1"), 0u);
  EXPECT_TRUE(recorder_.Heard().empty());

  req.set_allow_unknown_domain(true);  // a VM not defined yet
  ASSERT_TRUE(operator_->UpdateDomainPolicy(req, clock_.Now() + absl::Seconds(5), "uid 0").ok());
  EXPECT_EQ(policy_->Get().domains().at("wbe1").min_bytes(), 256 * kMiB);
  req.clear_update_mask();  // removing it never needs allowing
  req.set_allow_unknown_domain(false);
  ASSERT_TRUE(operator_->UpdateDomainPolicy(req, clock_.Now() + absl::Seconds(5), "uid 0").ok());
  EXPECT_EQ(policy_->Get().domains().count("wbe1"), 0u);
}

// The 12-06 review: right after a reservation was READY, the capacity still showed it unreserved
// until the next cycle. It counts at once, and its release too.
TEST_F(OperatorTest, AReservationCountsInTheCapacityAtOnceAndItsReleaseToo) {
  PublishCapacity();
  const int64_t placeable = capacity_.Latest()->capacity.placeable_bytes;
  v1::ReserveMemoryRequest req;
  req.set_bytes(2 * kGiB);
  auto made = operator_->Reserve(req, "uid 0");
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->state(), v1::RESERVATION_STATE_READY);
  EXPECT_EQ(capacity_.Latest()->capacity.reserved_bytes, 2 * kGiB);
  EXPECT_EQ(capacity_.Latest()->capacity.placeable_bytes, placeable - 2 * kGiB);
  EXPECT_THAT(recorder_.Heard(),
              ElementsAre(v1::EVENT_KIND_RESERVATION_CREATED, v1::EVENT_KIND_RESERVATION_READY));
  ASSERT_TRUE(operator_->ReleaseReservation(made->id(), "uid 0").ok());
  EXPECT_EQ(capacity_.Latest()->capacity.reserved_bytes, 0);
  EXPECT_EQ(capacity_.Latest()->capacity.placeable_bytes, placeable);
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_RESERVATION_RELEASED));
  EXPECT_THAT(recorder_.last()[0].message(), HasSubstr("released by uid 0"));
}

TEST_F(OperatorTest, APolicyChangeIsSavedAndAnnouncedWithItsFields) {
  v1::UpdatePolicyRequest req;
  req.mutable_policy()->mutable_defaults()->set_headroom_bytes(256 * kMiB);
  req.mutable_update_mask()->add_paths("defaults.headroom_bytes");
  auto updated = operator_->UpdatePolicy(req, "uid 0");
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_EQ(updated->defaults().headroom_bytes(), 256 * kMiB);
  EXPECT_FALSE(updated->etag().empty());
  EXPECT_THAT(recorder_.Heard(), ElementsAre(v1::EVENT_KIND_POLICY_CHANGED));
  EXPECT_EQ(recorder_.last()[0].message(), "policy changed (defaults.headroom_bytes) by uid 0");
}

}  // namespace
}  // namespace balloond
