// policy show|set|mode, decisions on mock stubs (command_test.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/cli/commands/command_test.h"

namespace balloond::cli {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::SetArgPointee;

using testing::CommandTest;
using testing::StreamOf;
namespace v1 = balloon::v1;

v1::Policy Enforcing(const std::string& etag) {
  v1::Policy p;
  p.set_mode(v1::POLICY_MODE_ENFORCE);
  p.set_etag(etag);
  return p;
}

v1::Decision Decision(uint64_t sequence, const std::string& domain) {
  v1::Decision d;
  d.set_sequence(sequence);
  d.set_domain(domain);
  d.set_reason(v1::DECISION_REASON_HOST_RECLAIM);
  d.set_target_bytes(int64_t{512} << 20);
  d.set_explanation("the host is short");
  return d;
}

class PolicyCommandsTest : public CommandTest {};

TEST_F(PolicyCommandsTest, ShowPrintsThePolicyOrItsKeys) {
  v1::Policy policy = Enforcing("e1");
  policy.mutable_host()->set_reserve_bytes(int64_t{2} << 30);
  EXPECT_CALL(read_, GetPolicy(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(policy), Return(grpc::Status::OK)));
  Result r = Run({"policy", "show", "-o", "name"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "mode\nhost.reserve_bytes\n");
}

// Global flags go before or after the subcommand, as kubectl users type them. (Moved here from the
// integration tests.)
class GlobalFlagsTest : public CommandTest,
                        public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(GlobalFlagsTest, GoBeforeOrAfterTheSubcommand) {
  EXPECT_CALL(read_, GetPolicy(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(Enforcing("e1")), Return(grpc::Status::OK)));
  Result r = Run(GetParam());
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"mode\":\"POLICY_MODE_ENFORCE\",\"etag\":\"e1\"}\n");
}

INSTANTIATE_TEST_SUITE_P(Lines, GlobalFlagsTest,
                         ::testing::Values(std::vector<std::string>{"-o", "json", "policy", "show"},
                                           std::vector<std::string>{"policy", "show", "-o", "json"},
                                           std::vector<std::string>{
                                               "policy", "show", "--output=json", "--timeout=5s"}));

TEST_F(PolicyCommandsTest, ShowOfADomainAsksForItsSettingsInForce) {
  v1::GetDomainPolicyRequest asked;
  EXPECT_CALL(read_, GetDomainPolicy(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&asked), Return(grpc::Status::OK)));
  Result r = Run({"policy", "show", "web1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(asked.domain(), "web1");
}

TEST_F(PolicyCommandsTest, SetSendsTheAssignmentsAsAMaskWithItsEtagAndSaysOldToNew) {
  v1::UpdatePolicyRequest sent;
  v1::Policy before = Enforcing("e1"), after = Enforcing("e2");
  before.mutable_defaults()->set_headroom_bytes(int64_t{128} << 20);
  before.mutable_host()->set_reserve_bytes(int64_t{2} << 30);
  after.mutable_defaults()->set_headroom_bytes(int64_t{256} << 20);
  after.mutable_host()->set_reserve_bytes(int64_t{2} << 30);
  EXPECT_CALL(read_, GetPolicy(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(before), Return(grpc::Status::OK)));
  EXPECT_CALL(control_, UpdatePolicy(_, _, _))
      .WillOnce(DoAll(SaveArg<1>(&sent), SetArgPointee<2>(after), Return(grpc::Status::OK)));
  Result r = Run({"policy", "set", "defaults.headroom_bytes=256M", "host.reserve_bytes=2G",
                  "--if-etag", "e1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(read_write_);
  EXPECT_THAT(sent.update_mask().paths(),
              ElementsAre("defaults.headroom_bytes", "host.reserve_bytes"));
  EXPECT_EQ(sent.policy().defaults().headroom_bytes(), int64_t{256} << 20);
  EXPECT_EQ(sent.etag(), "e1");
  EXPECT_EQ(r.out,
            "policy updated; mode enforce; etag e2\n"
            "  defaults.headroom_bytes: 128 MiB \u2192 256 MiB\n"
            "  host.reserve_bytes: 2 GiB (unchanged)\n");
}

TEST_F(PolicyCommandsTest, UnsetSendsTheKeysWithoutValues) {
  v1::UpdatePolicyRequest sent;
  EXPECT_CALL(control_, UpdatePolicy(_, _, _))
      .WillOnce(
          DoAll(SaveArg<1>(&sent), SetArgPointee<2>(Enforcing("e2")), Return(grpc::Status::OK)));
  Result r = Run({"policy", "unset", "headroom_bytes", "host.reserve_fraction"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(sent.update_mask().paths(),
              ElementsAre("defaults.headroom_bytes", "host.reserve_fraction"));
  EXPECT_FALSE(sent.policy().defaults().has_headroom_bytes());
  EXPECT_FALSE(sent.policy().host().has_reserve_fraction());
}

TEST_F(PolicyCommandsTest, UnsetOfAMistypedKeySendsNothing) {
  EXPECT_CALL(control_, UpdatePolicy(_, _, _)).Times(0);
  Result r = Run({"policy", "unset", "headrom_bytes"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("Did you mean 'headroom_bytes'?"));
}

TEST_F(PolicyCommandsTest, ResetNamesEverySettingAndSaysOnlyWhatItChanged) {
  v1::UpdatePolicyRequest all;
  EXPECT_CALL(control_, UpdatePolicy(_, _, _))
      .WillOnce(
          DoAll(SaveArg<1>(&all), SetArgPointee<2>(Enforcing("e2")), Return(grpc::Status::OK)));
  Result r = Run({"policy", "reset"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, Not(HasSubstr("(unchanged)"))) << "a reset says only what it changed";
  EXPECT_THAT(r.out, HasSubstr("  mode: unset \u2192 enforce\n"));
  EXPECT_THAT(all.update_mask().paths(), ::testing::Contains("mode"));
  EXPECT_THAT(all.update_mask().paths(), ::testing::Contains("defaults.min_bytes"));
  EXPECT_THAT(all.update_mask().paths(), ::testing::Contains("host.reserve_bytes"));
  EXPECT_EQ(all.policy().ByteSizeLong(), 0u) << "every setting named, none given";
}

TEST_F(PolicyCommandsTest, ResetOfADomainRemovesItsOverrideAndSaysWhatChanged) {
  v1::UpdateDomainPolicyRequest sent;
  v1::DomainPolicyInForce before, after;
  before.set_domain("web1");
  before.mutable_settings()->set_min_bytes(int64_t{512} << 20);
  (*before.mutable_sources())["min_bytes"] = v1::POLICY_SOURCE_API_DOMAIN;
  after.set_domain("web1");
  after.mutable_settings()->set_min_bytes(int64_t{128} << 20);
  EXPECT_CALL(read_, GetDomainPolicy(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(before), Return(grpc::Status::OK)))
      .WillOnce(DoAll(SetArgPointee<2>(after), Return(grpc::Status::OK)));
  EXPECT_CALL(control_, UpdateDomainPolicy(_, _, _))
      .WillOnce(
          DoAll(SaveArg<1>(&sent), SetArgPointee<2>(Enforcing("e3")), Return(grpc::Status::OK)));
  Result r = Run({"policy", "reset", "--domain", "web1"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sent.domain(), "web1");
  EXPECT_TRUE(sent.update_mask().paths().empty());
  EXPECT_EQ(r.out,
            "policy of web1 override removed; mode enforce; etag e3\n"
            "  min_bytes: 512 MiB \u2192 128 MiB\n");
}

TEST_F(PolicyCommandsTest, AnUnknownDomainIsRefusedByBalloondUnlessAllowed) {
  v1::UpdateDomainPolicyRequest sent;
  EXPECT_CALL(control_, UpdateDomainPolicy(_, _, _))
      .WillOnce(Return(testing::WithErrorInfo(
          grpc::StatusCode::NOT_FOUND, "libvirt knows no domain 'wbe1'", "DOMAIN_NOT_FOUND")));
  Result refused = Run({"policy", "set", "--domain", "wbe1", "min_bytes=256M"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err,
              HasSubstr("libvirt knows no domain 'wbe1' [NOT_FOUND DOMAIN_NOT_FOUND]"));
}

TEST_F(PolicyCommandsTest, AllowUnknownAsksForIt) {
  v1::UpdateDomainPolicyRequest sent;
  EXPECT_CALL(control_, UpdateDomainPolicy(_, _, _))
      .WillOnce(
          DoAll(SaveArg<1>(&sent), SetArgPointee<2>(Enforcing("e3")), Return(grpc::Status::OK)));
  Result r = Run({"policy", "set", "--domain", "vm-to-come", "--allow-unknown", "min_bytes=256M"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(sent.allow_unknown_domain());
}

TEST_F(PolicyCommandsTest, ARaceLostOnTheEtagIsExplained) {
  EXPECT_CALL(control_, UpdatePolicy(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::ABORTED,
                                    "the policy changed since it was read (etag e1, now e3)")));
  Result r = Run({"policy", "set", "headroom_bytes=256M", "--if-etag", "e1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("the policy changed since it was read"));
}

TEST_F(PolicyCommandsTest, AnUnknownKeyIsAUsageErrorAndNothingIsSent) {
  EXPECT_CALL(control_, UpdatePolicy(_, _, _)).Times(0);
  Result r = Run({"policy", "set", "no_such_key=1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("no_such_key"));
}

TEST_F(PolicyCommandsTest, AKeyWithoutItsUnitIsAnsweredWithTheKeysItStarts) {
  EXPECT_CALL(control_, UpdatePolicy(_, _, _)).Times(0);
  Result r = Run({"policy", "set", "headroom=256M"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(
      r.err, HasSubstr("unknown setting 'headroom'. Did you mean 'headroom_bytes' or "
                       "'headroom_fraction'? The settings: cooperation_timeout, deadband_bytes, "));
  EXPECT_THAT(r.err, Not(HasSubstr("etag")));
}

TEST_F(PolicyCommandsTest, SetToADomainsMetadataNotesWhatTheConfigFileStillDecides) {
  v1::UpdateDomainPolicyRequest sent;
  EXPECT_CALL(control_, UpdateDomainPolicy(_, _, _))
      .WillOnce(
          DoAll(SaveArg<1>(&sent), SetArgPointee<2>(Enforcing("e4")), Return(grpc::Status::OK)));
  v1::DomainPolicyInForce in_force;
  (*in_force.mutable_sources())["min_bytes"] = v1::POLICY_SOURCE_CONFIG_DOMAIN;
  EXPECT_CALL(read_, GetDomainPolicy(_, _, _))
      .WillRepeatedly(DoAll(SetArgPointee<2>(in_force), Return(grpc::Status::OK)));
  Result r = Run({"policy", "set", "min_bytes=1G", "--domain", "web1", "--persist", "metadata"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(sent.domain(), "web1");
  EXPECT_EQ(sent.persist(), v1::POLICY_PERSISTENCE_METADATA);
  EXPECT_THAT(r.out, HasSubstr("policy written to the libvirt metadata of web1"));
  EXPECT_THAT(r.out, HasSubstr("note: min_bytes stays as balloond's config file sets it for web1"));
}

TEST_F(PolicyCommandsTest, PersistNeedsADomain) {
  Result r = Run({"policy", "set", "min_bytes=1G", "--persist", "metadata"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--domain"));
  EXPECT_FALSE(connected_);
}

TEST_F(PolicyCommandsTest, ModeSetsOnlyTheMode) {
  v1::UpdatePolicyRequest sent;
  EXPECT_CALL(control_, UpdatePolicy(_, _, _))
      .WillOnce(
          DoAll(SaveArg<1>(&sent), SetArgPointee<2>(Enforcing("e5")), Return(grpc::Status::OK)));
  Result r = Run({"policy", "mode", "enforce"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(sent.update_mask().paths(), ElementsAre("mode"));
  EXPECT_EQ(sent.policy().mode(), v1::POLICY_MODE_ENFORCE);
}

TEST_F(PolicyCommandsTest, AModeThatIsNoneIsAUsageError) {
  Result r = Run({"policy", "mode", "aggressive"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(connected_);
}

TEST_F(PolicyCommandsTest, DecisionsListedOrNoneYet) {
  EXPECT_CALL(read_, ListDecisions(_, _, _)).WillOnce(Return(grpc::Status::OK));
  Result r = Run({"decisions"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "no decisions yet\n");
}

TEST_F(PolicyCommandsTest, DecisionsWatchPrintsEachAsItIsMade) {
  v1::WatchDecisionsRequest asked;
  EXPECT_CALL(read_, WatchDecisionsRaw(_, _))
      .WillOnce(DoAll(SaveArg<1>(&asked),
                      Return(StreamOf<v1::Decision>({Decision(1, "web1"), Decision(2, "web1")},
                                                    grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                                                 "balloond is shutting down")))));
  Result r = Run({"decisions", "web1", "--watch"});
  EXPECT_EQ(r.exit_code, 1) << "a stream ended by balloond is a failure";
  EXPECT_EQ(asked.domain(), "web1");
  EXPECT_EQ(r.out,
            "00:00:00  web1  unspecified  0 B -> 512 MiB  host-reclaim\n    the host is short\n"
            "00:00:00  web1  unspecified  0 B -> 512 MiB  host-reclaim\n    the host is short\n");
  EXPECT_THAT(r.err, HasSubstr("balloond is shutting down"));
}

}  // namespace
}  // namespace balloond::cli
