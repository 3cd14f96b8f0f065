#include "agent/steering/policy_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

class PolicyStoreTest : public ::testing::Test {
 protected:
  PolicyStoreTest() {}

  std::unique_ptr<PolicyStore> Open(const v1::Policy& initial = {}) {
    auto store = PolicyStore::Open(dir_, initial);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  static google::protobuf::FieldMask Mask(std::initializer_list<const char*> paths) {
    google::protobuf::FieldMask m;
    for (const char* p : paths) m.add_paths(p);
    return m;
  }

  testing::TempDir temp_{"policy-store-test"};
  std::string dir_ = temp_.path();
};

TEST_F(PolicyStoreTest, AnUpdateSurvivesARestart) {
  v1::Policy initial;
  initial.mutable_defaults()->set_headroom_bytes(100);
  auto store = Open(initial);
  v1::Policy update;
  update.set_mode(v1::POLICY_MODE_ENFORCE);
  update.mutable_host()->set_reserve_bytes(2LL << 30);
  ASSERT_TRUE(store->Update(update, Mask({"mode", "host.reserve_bytes"})).ok());

  auto reopened = Open(initial);  // the config file's policy no longer wins
  EXPECT_EQ(reopened->Get().mode(), v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(reopened->Get().host().reserve_bytes(), 2LL << 30);
  EXPECT_EQ(reopened->Get().defaults().headroom_bytes(), 100);
}

TEST_F(PolicyStoreTest, OnlyTheMaskedFieldsChange) {
  v1::Policy initial;
  initial.mutable_defaults()->set_shares(500);
  initial.mutable_defaults()->set_headroom_bytes(7);
  auto store = Open(initial);
  v1::Policy update;
  update.mutable_defaults()->set_shares(2000);
  update.mutable_defaults()->set_min_bytes(99);  // not in the mask: ignored
  auto after = store->Update(update, Mask({"defaults.shares", "defaults.headroom_bytes"}));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->defaults().shares(), 2000);
  EXPECT_EQ(after->defaults().headroom_bytes(), 7);  // in the mask, unset: the config's value
  EXPECT_FALSE(after->defaults().has_min_bytes());

  // A field the API set and then unset goes back to the config's value, or the default.
  update.mutable_defaults()->set_headroom_bytes(99);
  ASSERT_TRUE(store->Update(update, Mask({"defaults.headroom_bytes"})).ok());
  EXPECT_EQ(store->Get().defaults().headroom_bytes(), 99);
  ASSERT_TRUE(
      store->Update(v1::Policy(), Mask({"defaults.headroom_bytes", "defaults.shares"})).ok());
  EXPECT_EQ(store->Get().defaults().headroom_bytes(), 7);
  EXPECT_EQ(store->Get().defaults().shares(), 500);
}

TEST_F(PolicyStoreTest, AMaskNamingNoFieldOrAWholeMapChangesNothing) {
  auto store = Open();
  v1::Policy update;
  update.mutable_host()->set_reserve_bytes(1LL << 30);
  absl::StatusOr<v1::Policy> r = store->Update(update, Mask({"host.reserve_bytes", "host.nope"}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("'host.nope' is not a field of balloon.v1.Policy"));
  r = store->Update(update, Mask({"domains"}));
  EXPECT_THAT(r.status().message(), HasSubstr("cannot be updated as a whole"));
  EXPECT_FALSE(store->Get().host().has_reserve_bytes());
}

TEST_F(PolicyStoreTest, AReloadedConfigCountsUnderTheApisChangesAndABadOneChangesNothing) {
  v1::Policy config;
  config.mutable_defaults()->set_headroom_bytes(100);
  config.mutable_host()->set_reserve_bytes(1LL << 30);
  auto store = Open(config);
  v1::Policy update;
  update.mutable_host()->set_reserve_bytes(2LL << 30);
  ASSERT_TRUE(store->Update(update, Mask({"host.reserve_bytes"})).ok());
  store->OverrideMode(v1::POLICY_MODE_ENFORCE);

  v1::Policy edited;
  edited.mutable_defaults()->set_headroom_bytes(300);
  edited.mutable_host()->set_reserve_bytes(3LL << 30);
  ASSERT_TRUE(store->ReplaceConfig(edited).ok());
  EXPECT_EQ(store->Get().defaults().headroom_bytes(), 300);
  EXPECT_EQ(store->Get().host().reserve_bytes(), 2LL << 30);  // the API's change stays
  EXPECT_EQ(store->Get().mode(), v1::POLICY_MODE_ENFORCE);    // and this run's mode

  v1::Policy broken;
  broken.mutable_defaults()->set_headroom_bytes(-1);
  absl::Status refused = store->ReplaceConfig(broken);
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("headroom"));
  EXPECT_EQ(store->Get().defaults().headroom_bytes(), 300);
}

TEST_F(PolicyStoreTest, OnlyTheApisChangesAreSavedSoTheConfigStillCounts) {
  v1::Policy config;
  config.mutable_defaults()->set_headroom_bytes(100);
  auto store = Open(config);
  v1::Policy update;
  update.mutable_host()->set_reserve_bytes(2LL << 30);
  update.mutable_cooperation_timeout()->set_nanos(500000000);
  ASSERT_TRUE(store->Update(update, Mask({"host.reserve_bytes", "cooperation_timeout"})).ok());
  std::ifstream saved(store->saved_path());
  const std::string text((std::istreambuf_iterator<char>(saved)), {});
  EXPECT_THAT(text, HasSubstr("reserve_bytes"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("headroom_bytes")));

  // The next start has a new config file: its fields count, the API's change stays over it.
  v1::Policy edited;
  edited.mutable_defaults()->set_headroom_bytes(300);
  edited.mutable_cooperation_timeout()->set_seconds(20);
  auto reopened = Open(edited);
  EXPECT_EQ(reopened->Get().defaults().headroom_bytes(), 300);
  EXPECT_EQ(reopened->Get().host().reserve_bytes(), 2LL << 30);
  // A duration is replaced whole, never mixed with the config's (20 s + 0.5 s).
  EXPECT_EQ(reopened->Get().cooperation_timeout().seconds(), 0);
  EXPECT_EQ(reopened->Get().cooperation_timeout().nanos(), 500000000);
}

TEST_F(PolicyStoreTest, DomainOverridesMergeWithTheConfigsFieldByField) {
  v1::Policy config;
  (*config.mutable_domains())["db"].set_shares(4000);
  auto store = Open(config);
  v1::DomainPolicy db;
  db.set_min_bytes(1LL << 30);
  ASSERT_TRUE(store->UpdateDomain("db", db, Mask({"min_bytes"})).ok());
  EXPECT_EQ(store->Get().domains().at("db").shares(), 4000);
  EXPECT_EQ(store->Get().domains().at("db").min_bytes(), 1LL << 30);
  ASSERT_TRUE(store->UpdateDomain("db", {}, Mask({})).ok());  // the API's change is dropped
  EXPECT_EQ(store->Get().domains().at("db").shares(), 4000);
  EXPECT_FALSE(store->Get().domains().at("db").has_min_bytes());
}

TEST_F(PolicyStoreTest, InvalidUpdatesChangeNothing) {
  auto store = Open();
  v1::Policy good;
  good.set_mode(v1::POLICY_MODE_ENFORCE);
  ASSERT_TRUE(store->Update(good, Mask({"mode"})).ok());
  std::ifstream before_file(store->saved_path());
  const std::string before((std::istreambuf_iterator<char>(before_file)), {});

  v1::Policy bad;
  bad.mutable_defaults()->set_headroom_fraction(3);
  auto s = store->Update(bad, Mask({"defaults.headroom_fraction"}));
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("defaults.headroom_fraction"));
  EXPECT_EQ(store->Update(bad, Mask({"defaults.no_such_field"})).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Update(bad, Mask({})).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Update(bad, Mask({"domains"})).status().code(),
            absl::StatusCode::kInvalidArgument);

  EXPECT_FALSE(store->Get().defaults().has_headroom_fraction());
  std::ifstream after_file(store->saved_path());
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(after_file)), {}), before);
}

TEST_F(PolicyStoreTest, DomainOverridesAreSetAndRemoved) {
  auto store = Open();
  v1::DomainPolicy db;
  db.set_min_bytes(1LL << 30);
  db.set_enabled(false);
  ASSERT_TRUE(store->UpdateDomain("db", db, Mask({"min_bytes"})).ok());
  EXPECT_EQ(store->Get().domains().at("db").min_bytes(), 1LL << 30);
  EXPECT_FALSE(store->Get().domains().at("db").has_enabled());
  ASSERT_TRUE(store->UpdateDomain("db", {}, Mask({})).ok());
  EXPECT_EQ(store->Get().domains().count("db"), 0u);
}

TEST_F(PolicyStoreTest, ACorruptSavedPolicyStopsTheStartNamingTheFile) {
  Open();
  std::ofstream(dir_ + "/policy.textproto") << "mode: POLICY_MODE_ENFORCE\nheadroom: 3\n";
  auto store = PolicyStore::Open(dir_, {});
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(dir_ + "/policy.textproto:"));
}

TEST_F(PolicyStoreTest, ASavedPolicyThatCannotBeReadStopsTheStart) {
  std::filesystem::create_directories(dir_ + "/policy.textproto");  // unreadable, not ENOENT
  auto store = PolicyStore::Open(dir_, {});
  ASSERT_FALSE(store.ok()) << "not taken for no changes, to be overwritten at the next one";
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("policy.textproto"));
  std::filesystem::remove(dir_ + "/policy.textproto");
}

TEST_F(PolicyStoreTest, TheModeFlagIsNotSaved) {
  auto store = Open();
  store->OverrideMode(v1::POLICY_MODE_OFF);
  EXPECT_EQ(store->Get().mode(), v1::POLICY_MODE_OFF);
  EXPECT_FALSE(std::filesystem::exists(store->saved_path()));
}

TEST_F(PolicyStoreTest, TheModeFlagStaysOutOfTheFileWhenOtherSettingsChange) {
  v1::Policy config;
  config.set_mode(v1::POLICY_MODE_OBSERVE);
  auto store = Open(config);
  store->OverrideMode(v1::POLICY_MODE_ENFORCE);  // balloond --policy-mode=enforce
  v1::Policy update;
  update.mutable_defaults()->set_shares(2000);
  auto after = store->Update(update, Mask({"defaults.shares"}));
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->mode(), v1::POLICY_MODE_ENFORCE);  // for this run
  EXPECT_EQ(store->Get().mode(), v1::POLICY_MODE_ENFORCE);

  auto restarted = Open(config);  // without the flag
  EXPECT_EQ(restarted->Get().mode(), v1::POLICY_MODE_OBSERVE);
  EXPECT_EQ(restarted->Get().defaults().shares(), 2000);
}

TEST_F(PolicyStoreTest, AModeSetThroughTheApiEndsTheFlagsAndIsSaved) {
  auto store = Open();
  store->OverrideMode(v1::POLICY_MODE_ENFORCE);
  v1::Policy update;
  update.set_mode(v1::POLICY_MODE_OFF);
  ASSERT_TRUE(store->Update(update, Mask({"mode"})).ok());
  EXPECT_EQ(store->Get().mode(), v1::POLICY_MODE_OFF);
  EXPECT_EQ(Open()->Get().mode(), v1::POLICY_MODE_OFF);
}

TEST_F(PolicyStoreTest, ASavedFilesErrorNamesItsOwnLine) {
  Open();
  std::ofstream(dir_ + "/policy.textproto") << "mode: POLICY_MODE_ENFORCE\n\nheadroom: 3\n";
  auto store = PolicyStore::Open(dir_, {});
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(dir_ + "/policy.textproto:3:"));
}

TEST_F(PolicyStoreTest, TheEtagFollowsTheSettingsAcrossRestartsAndGuardsUpdates) {
  auto store = Open();
  const std::string before = PolicyEtag(store->Get());
  EXPECT_EQ(before.size(), 16u);
  v1::Policy update;
  update.mutable_defaults()->set_shares(2000);
  ASSERT_TRUE(store->Update(update, Mask({"defaults.shares"}), before).ok());
  const std::string after = PolicyEtag(store->Get());
  EXPECT_NE(after, before);
  EXPECT_EQ(PolicyEtag(Open()->Get()), after) << "the same settings, the same etag, next run too";

  // A writer holding the old etag changes nothing.
  update.mutable_defaults()->set_shares(10);
  absl::StatusOr<v1::Policy> stale = store->Update(update, Mask({"defaults.shares"}), before);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store->UpdateDomain("web", {}, Mask({}), before).status().code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store->Get().defaults().shares(), 2000);
  // The etag is balloond's: it is no setting.
  EXPECT_EQ(store->Update(update, Mask({"etag"})).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Map order does not change it.
  v1::Policy a, b;
  (*a.mutable_domains())["x"].set_shares(1);
  (*a.mutable_domains())["y"].set_shares(2);
  (*b.mutable_domains())["y"].set_shares(2);
  (*b.mutable_domains())["x"].set_shares(1);
  EXPECT_EQ(PolicyEtag(a), PolicyEtag(b));
}

}  // namespace
}  // namespace balloond
