// The snapshot store: generations, its listener, lookups by UUID before names.
#include "agent/collect/snapshot_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace balloond {
namespace {

DomainSnapshot Snapshot(const std::string& name, const std::string& uuid) {
  DomainSnapshot s;
  s.info.name = name;
  s.info.uuid = uuid;
  return s;
}

class Heard final : public SnapshotListener {
 public:
  void OnSnapshot(const DomainSnapshot& s) override { puts.push_back(s.generation); }
  void OnRemoved(const DomainSnapshot& last) override { removed.push_back(last.info.name); }
  std::vector<uint64_t> puts;
  std::vector<std::string> removed;
};

TEST(SnapshotStoreTest, EachChangeHasTheNextGenerationAndTheListenerHearsIt) {
  Heard heard;
  SnapshotStore store(&heard);
  store.Put(Snapshot("web1", "uuid-1"));
  store.Put(Snapshot("web2", "uuid-2"));
  store.Put(Snapshot("web1", "uuid-1"));
  EXPECT_EQ(heard.puts, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(store.FindByUuid("uuid-1")->generation, 3u);
  EXPECT_EQ(store.List().size(), 2u);
  store.Remove("uuid-2");
  store.Remove("uuid-2");  // gone already: nothing to tell
  EXPECT_EQ(heard.removed, std::vector<std::string>{"web2"});
  EXPECT_FALSE(store.Find("web2").has_value());
}

TEST(SnapshotStoreTest, AUuidFindsItsDomainBeforeADomainNamedLikeIt) {
  SnapshotStore store;
  const std::string uuid = "391037f5-3b33-45b2-a1ae-e8003355c6ac";
  store.Put(Snapshot(uuid, "00000000-0000-0000-0000-000000000002"));
  store.Put(Snapshot("web1", uuid));
  EXPECT_EQ(store.Find(uuid)->info.name, "web1");
  EXPECT_EQ(store.Find("391037F5-3B33-45B2-A1AE-E8003355C6AC")->info.name, "web1");
  EXPECT_EQ(store.Find("web1")->info.uuid, uuid);
}

}  // namespace
}  // namespace balloond
