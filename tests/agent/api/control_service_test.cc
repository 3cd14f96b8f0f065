// The control service as an operator's client sees it, over an in-process gRPC channel with the
// fake hypervisor: targets and their holds (taken back when the target fails), validate-only,
// metadata writes, and each refusal.
#include "agent/api/control_service.h"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <thread>

#include "agent/api/proto_convert.h"
#include "agent/libvirt/policy_metadata.h"
#include "policy/durations.h"
#include "policy/sizes.h"
#include "tests/agent/api/service_fixture.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeDomain;
using ::balloond::testing::FakeHypervisor;
using ::testing::HasSubstr;

class ControlServiceTest : public ::balloond::testing::ServiceFixture {
 protected:
  ControlServiceTest() : service_(services_.control(), listener_) {
    Serve({&service_});
    stub_ = v1::BalloonControlService::NewStub(Channel());
    uuid_ = hypervisor_.AddDomain("web1");
    Collect();
  }
  ~ControlServiceTest() override { Shutdown(); }

  grpc::Status Set(int64_t target, std::optional<absl::Duration> hold = std::nullopt,
                   v1::SetBalloonTargetResponse* resp = nullptr, bool validate_only = false) {
    v1::SetBalloonTargetRequest req;
    req.set_domain("web1");
    req.set_target_bytes(target);
    req.set_validate_only(validate_only);
    if (hold) *req.mutable_hold() = ToProtoDuration(*hold);
    v1::SetBalloonTargetResponse ignored;
    return stub_->SetBalloonTarget(Context().get(), req, resp ? resp : &ignored);
  }
  std::vector<int64_t> TargetsSet() {
    std::vector<int64_t> out;
    hypervisor_.WithDomain(uuid_, [&](FakeDomain& d) { out = d.targets_set; });
    return out;
  }
  std::optional<v1::Hold> HoldOf() { return holds_->Find(uuid_, clock_.Now()); }

  ControlService service_;
  std::unique_ptr<v1::BalloonControlService::Stub> stub_;
  std::string uuid_;
};

TEST_F(ControlServiceTest, ATargetIsSetAndHeldForThePolicysDefaultHold) {
  v1::SetBalloonTargetResponse resp;
  ASSERT_TRUE(Set(256 * kMiB, std::nullopt, &resp).ok());
  EXPECT_EQ(TargetsSet(), std::vector<int64_t>{256 * kMiB});
  EXPECT_EQ(resp.target_bytes(), 256 * kMiB);
  ASSERT_TRUE(HoldOf().has_value());
  EXPECT_EQ(HoldOf()->target_bytes(), 256 * kMiB);
  EXPECT_EQ(FromProtoTimestamp(HoldOf()->until()), clock_.Now() + absl::Hours(1));
  EXPECT_EQ(HoldOf()->set_by(), "uid 1000");

  // A hold of 0 sets the target and lets the policy move it again.
  ASSERT_TRUE(Set(300 * kMiB, absl::ZeroDuration()).ok());
  EXPECT_FALSE(HoldOf().has_value());
}

TEST_F(ControlServiceTest, AFailedTargetTakesBackItsHoldAndRestoresTheOneBefore) {
  ASSERT_TRUE(Set(256 * kMiB, absl::Minutes(10)).ok());
  hypervisor_.FailNextTargets(1);
  grpc::Status s = Set(200 * kMiB, absl::Hours(2));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(HoldOf().has_value());
  EXPECT_EQ(HoldOf()->target_bytes(), 256 * kMiB) << "the earlier hold is back";
  EXPECT_EQ(FromProtoTimestamp(HoldOf()->until()), clock_.Now() + absl::Minutes(10));
}

TEST_F(ControlServiceTest, ValidateOnlyChangesNothing) {
  v1::SetBalloonTargetResponse resp;
  ASSERT_TRUE(Set(256 * kMiB, absl::Hours(1), &resp, /*validate_only=*/true).ok());
  EXPECT_TRUE(resp.validated_only());
  EXPECT_TRUE(TargetsSet().empty());
  EXPECT_FALSE(HoldOf().has_value());
}

TEST_F(ControlServiceTest, BadRequestsAreRefusedAndChangeNothing) {
  EXPECT_EQ(Set(0).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::Status above = Set(4 * kGiB);
  EXPECT_EQ(above.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(above.error_message(), HasSubstr("raise <memory>"));
  grpc::Status long_hold = Set(256 * kMiB, absl::Hours(24 * 8));
  EXPECT_EQ(long_hold.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(long_hold.error_message(), HasSubstr("hold"));
  // A hold so negative that it wrapped around in milliseconds before.
  v1::SetBalloonTargetRequest req;
  req.set_domain("web1");
  req.set_target_bytes(256 * kMiB);
  req.mutable_hold()->set_seconds(-18446744073709551);
  v1::SetBalloonTargetResponse resp;
  EXPECT_EQ(stub_->SetBalloonTarget(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  req.set_domain("nowhere");
  EXPECT_EQ(stub_->SetBalloonTarget(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::NOT_FOUND);
  hypervisor_.WithDomain(uuid_, [](FakeDomain& d) { d.config.has_balloon = false; });
  hypervisor_.RaiseEvent(uuid_);
  collector_.RequestRefresh(uuid_);
  Collect();
  EXPECT_EQ(Set(256 * kMiB).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(TargetsSet().empty());
  EXPECT_FALSE(HoldOf().has_value());
}

// Two operators set one domain's target at once; the first call's target fails. Its rollback must
// not take away the hold of the second, which succeeded: changes of one domain are one at a time.
TEST_F(ControlServiceTest, ConcurrentTargetsOfOneDomainNeverDropTheWinnersHold) {
  hypervisor_.Block(FakeHypervisor::Call::kSetTarget);
  hypervisor_.FailNextTargets(1);
  grpc::Status first, second;
  std::thread a([&] { first = Set(200 * kMiB, absl::Hours(1)); });
  hypervisor_.AwaitBlocked(FakeHypervisor::Call::kSetTarget, 1);
  std::thread b([&] { second = Set(300 * kMiB, absl::Hours(2)); });
  // The second waits for the first's change to end before it touches the hold.
  absl::SleepFor(absl::Milliseconds(100));  // real threads: gives b the chance to run ahead
  ASSERT_TRUE(HoldOf().has_value());
  EXPECT_EQ(HoldOf()->target_bytes(), 200 * kMiB);
  hypervisor_.Unblock(FakeHypervisor::Call::kSetTarget);
  a.join();
  b.join();
  EXPECT_EQ(first.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(second.ok()) << second.error_message();
  ASSERT_TRUE(HoldOf().has_value());
  EXPECT_EQ(HoldOf()->target_bytes(), 300 * kMiB);
  EXPECT_EQ(TargetsSet(), std::vector<int64_t>{300 * kMiB});
}

TEST_F(ControlServiceTest, ReleaseHoldEndsItAndSaysWhatWasReleased) {
  ASSERT_TRUE(Set(256 * kMiB).ok());
  v1::ReleaseHoldRequest req;
  req.set_domain(uuid_);
  v1::ReleaseHoldResponse resp;
  ASSERT_TRUE(stub_->ReleaseHold(Context().get(), req, &resp).ok());
  EXPECT_EQ(resp.released().target_bytes(), 256 * kMiB);
  EXPECT_FALSE(HoldOf().has_value());
  ASSERT_TRUE(stub_->ReleaseHold(Context().get(), req, &resp).ok());
  EXPECT_FALSE(resp.has_released());
}

TEST_F(ControlServiceTest, MetadataIsWrittenIntoTheDomainAndRefusedFieldsAreNamed) {
  v1::UpdateDomainPolicyRequest req;
  req.set_domain("web1");
  req.set_persist(v1::POLICY_PERSISTENCE_METADATA);
  req.mutable_policy()->set_min_bytes(300 * kMiB);
  req.mutable_update_mask()->add_paths("min_bytes");
  v1::Policy resp;
  ASSERT_TRUE(stub_->UpdateDomainPolicy(Context().get(), req, &resp).ok());
  std::string element;
  hypervisor_.WithDomain(uuid_, [&](FakeDomain& d) { element = d.config.policy_metadata; });
  auto parsed = ParsePolicyMetadata(element);
  ASSERT_TRUE(parsed.ok()) << parsed.status() << element;
  EXPECT_EQ(parsed->min_bytes(), 300 * kMiB);

  req.mutable_update_mask()->set_paths(0, "swap_in_bytes_per_second");
  grpc::Status refused = stub_->UpdateDomainPolicy(Context().get(), req, &resp);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(refused.error_message(), HasSubstr("swap_in_bytes_per_second"));
  req.mutable_update_mask()->set_paths(0, "min_bytes");
  req.mutable_policy()->set_max_bytes(100 * kMiB);
  req.mutable_update_mask()->add_paths("max_bytes");
  EXPECT_EQ(stub_->UpdateDomainPolicy(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  std::string after;
  hypervisor_.WithDomain(uuid_, [&](FakeDomain& d) { after = d.config.policy_metadata; });
  EXPECT_EQ(after, element) << "a refused update changed the metadata";
}

TEST_F(ControlServiceTest, APolicyUpdateIsSavedAndABadOneNamesTheField) {
  v1::UpdatePolicyRequest req;
  req.mutable_policy()->mutable_defaults()->set_shares(2000);
  req.mutable_update_mask()->add_paths("defaults.shares");
  v1::Policy resp;
  ASSERT_TRUE(stub_->UpdatePolicy(Context().get(), req, &resp).ok());
  EXPECT_EQ(resp.defaults().shares(), 2000);
  EXPECT_EQ(policy_->Get().defaults().shares(), 2000);
  req.mutable_policy()->mutable_default_hold()->set_seconds(-18446744073709551);
  req.mutable_update_mask()->set_paths(0, "default_hold");
  grpc::Status s = stub_->UpdatePolicy(Context().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("default_hold"));
}

TEST_F(ControlServiceTest, ARetriedTargetWithTheSameRequestIdActsOnceAndAnswersAsTheFirst) {
  v1::SetBalloonTargetRequest req;
  req.set_domain("web1");
  req.set_target_bytes(256 * kMiB);
  req.set_request_id("9b2f0c1e-retry");
  v1::SetBalloonTargetResponse first, second;
  ASSERT_TRUE(stub_->SetBalloonTarget(Context().get(), req, &first).ok());
  clock_.Advance(absl::Minutes(5));
  ASSERT_TRUE(stub_->SetBalloonTarget(Context().get(), req, &second).ok());
  EXPECT_EQ(TargetsSet(), std::vector<int64_t>{256 * kMiB}) << "sent to QEMU once";
  EXPECT_EQ(second.SerializeAsString(), first.SerializeAsString());
  EXPECT_EQ(FromProtoTimestamp(HoldOf()->until()), clock_.Now() - absl::Minutes(5) + absl::Hours(1))
      << "the hold was not set again";

  // The same id for another request is refused; a new id acts.
  req.set_target_bytes(300 * kMiB);
  grpc::Status reused = stub_->SetBalloonTarget(Context().get(), req, &second);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(reused.error_message(), HasSubstr("already used for a different request"));
  req.set_request_id("another");
  ASSERT_TRUE(stub_->SetBalloonTarget(Context().get(), req, &second).ok());
  EXPECT_EQ(TargetsSet(), (std::vector<int64_t>{256 * kMiB, 300 * kMiB}));

  // An hour later the first id is forgotten: the request acts again.
  clock_.Advance(absl::Hours(1));
  req.set_request_id("9b2f0c1e-retry");
  req.set_target_bytes(256 * kMiB);
  ASSERT_TRUE(stub_->SetBalloonTarget(Context().get(), req, &second).ok());
  EXPECT_EQ(TargetsSet().size(), 3u);
}

TEST_F(ControlServiceTest, AFailedRequestIsCarriedOutAgainWhenRetried) {
  v1::SetBalloonTargetRequest req;
  req.set_domain("web1");
  req.set_target_bytes(256 * kMiB);
  req.set_request_id("r1");
  v1::SetBalloonTargetResponse resp;
  hypervisor_.FailNextTargets(1);
  EXPECT_EQ(stub_->SetBalloonTarget(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(stub_->SetBalloonTarget(Context().get(), req, &resp).ok());
  EXPECT_EQ(TargetsSet(), std::vector<int64_t>{256 * kMiB});
  req.set_request_id("not a valid id!");
  grpc::Status bad = stub_->SetBalloonTarget(Context().get(), req, &resp);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("request_id"));
}

TEST_F(ControlServiceTest, AnUpdateWithAStaleEtagIsAbortedAndChangesNothing) {
  // Two writers read the policy; the first changes it, the second's change is then refused.
  const v1::Policy read = WithEtag(policy_->Get());  // what GetPolicy serves
  ASSERT_FALSE(read.etag().empty());
  v1::UpdatePolicyRequest first;
  first.mutable_policy()->mutable_defaults()->set_shares(2000);
  first.mutable_update_mask()->add_paths("defaults.shares");
  first.set_etag(read.etag());
  v1::Policy after_first;
  ASSERT_TRUE(stub_->UpdatePolicy(Context().get(), first, &after_first).ok());
  EXPECT_NE(after_first.etag(), read.etag());

  v1::UpdatePolicyRequest second;
  second.mutable_policy()->mutable_defaults()->set_headroom_bytes(512 * kMiB);
  second.mutable_update_mask()->add_paths("defaults.headroom_bytes");
  second.set_etag(read.etag());
  v1::Policy ignored;
  grpc::Status stale = stub_->UpdatePolicy(Context().get(), second, &ignored);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(stale.error_message(), HasSubstr("changed since it was read"));
  EXPECT_FALSE(policy_->Get().defaults().has_headroom_bytes());

  // Over what it is now, it goes through; so does a domain's override with the fresh etag.
  second.set_etag(after_first.etag());
  v1::Policy after_second;
  ASSERT_TRUE(stub_->UpdatePolicy(Context().get(), second, &after_second).ok());
  EXPECT_EQ(policy_->Get().defaults().headroom_bytes(), 512 * kMiB);
  v1::UpdateDomainPolicyRequest domain;
  domain.set_domain("web1");
  domain.mutable_policy()->set_shares(500);
  domain.mutable_update_mask()->add_paths("shares");
  domain.set_etag(after_first.etag());
  EXPECT_EQ(stub_->UpdateDomainPolicy(Context().get(), domain, &ignored).error_code(),
            grpc::StatusCode::ABORTED);
  domain.set_etag(after_second.etag());
  EXPECT_TRUE(stub_->UpdateDomainPolicy(Context().get(), domain, &ignored).ok());
  EXPECT_EQ(policy_->Get().domains().at("web1").shares(), 500);
}

}  // namespace
}  // namespace balloond
