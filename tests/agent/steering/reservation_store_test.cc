#include "agent/steering/reservation_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "policy/durations.h"
#include "policy/settings.h"
#include "policy/sizes.h"
#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

const absl::Time kStart = absl::FromUnixSeconds(1795634560);

// A host with `available` bytes, a 2 GiB reserve, and `reclaimable` bytes in idle guests.
policy::HostCapacity Host(int64_t available, int64_t reclaimable = 0) {
  policy::HostCapacity c;
  c.total_bytes = 16 * kGiB;
  c.available_bytes = available;
  c.reserve_bytes = 2 * kGiB;
  c.reclaimable_bytes = reclaimable;
  return c;
}

v1::ReserveMemoryRequest Request(int64_t bytes, absl::Duration ttl = absl::Minutes(10),
                                 const std::string& domain = "") {
  v1::ReserveMemoryRequest r;
  r.set_bytes(bytes);
  *r.mutable_ttl() = ToProtoDuration(ttl);
  r.set_domain(domain);
  return r;
}

class ReservationStoreTest : public ::testing::Test {
 protected:
  ReservationStoreTest() { store_ = *ReservationStore::Open(dir_); }

  v1::Reservation Create(int64_t bytes, std::optional<policy::HostCapacity> host,
                         absl::Duration ttl = absl::Minutes(10), const std::string& domain = "") {
    auto r = store_->Create(Request(bytes, ttl, domain), "uid 0", host, true, now_);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::Reservation();
  }
  v1::ReservationState StateOf(const std::string& id) { return store_->Get(id)->state(); }

  testing::TempDir temp_{"reservation-store-test"};
  std::string dir_ = temp_.path();
  std::unique_ptr<ReservationStore> store_;
  absl::Time now_ = kStart;
};

TEST_F(ReservationStoreTest, RoomMadeByThePolicyMakesItReadyAndItHoldsItsBytesUntilReleased) {
  // 3 GiB available, 2 of them the reserve: 1 GiB of room, 4 GiB reclaimable.
  const v1::Reservation r = Create(3 * kGiB, Host(3 * kGiB, 4 * kGiB));
  EXPECT_EQ(r.id(), "r-1");
  EXPECT_EQ(r.state(), v1::RESERVATION_STATE_PENDING);
  EXPECT_EQ(r.made_bytes(), kGiB);
  EXPECT_EQ(store_->ReservedBytes(now_), 3 * kGiB);

  now_ += absl::Seconds(2);
  EXPECT_TRUE(store_->Advance(Host(4 * kGiB, 3 * kGiB), {}, true, now_).empty());
  EXPECT_EQ(store_->Get("r-1")->made_bytes(), 2 * kGiB);
  now_ += absl::Seconds(2);
  const auto changed = store_->Advance(Host(5 * kGiB, 2 * kGiB), {}, true, now_);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state(), v1::RESERVATION_STATE_READY);
  EXPECT_THAT(changed[0].explanation(), HasSubstr("room made in 4s"));

  // Relief takes part of its room for a guest about to run out: still READY, and it says so.
  now_ += absl::Seconds(2);
  EXPECT_TRUE(store_->Advance(Host(4 * kGiB), {}, true, now_).empty());
  EXPECT_EQ(StateOf("r-1"), v1::RESERVATION_STATE_READY);
  EXPECT_EQ(store_->Get("r-1")->made_bytes(), 2 * kGiB);
  EXPECT_THAT(store_->Get("r-1")->explanation(), HasSubstr("ready, but only 2 GiB of it is free"));
  now_ += absl::Seconds(2);
  store_->Advance(Host(5 * kGiB), {}, true, now_);
  EXPECT_EQ(store_->Get("r-1")->explanation(), "ready: all of its room is free again");

  // A restart keeps it; a release ends it and frees its bytes.
  store_ = *ReservationStore::Open(dir_);
  EXPECT_EQ(StateOf("r-1"), v1::RESERVATION_STATE_READY);
  EXPECT_EQ(store_->ReservedBytes(now_), 3 * kGiB);
  auto released = store_->Release("r-1", now_);
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(released->state(), v1::RESERVATION_STATE_RELEASED);
  EXPECT_EQ(store_->ReservedBytes(now_), 0);
  EXPECT_EQ(store_->Release("r-1", now_)->state(), v1::RESERVATION_STATE_RELEASED);
  EXPECT_EQ(store_->Release("r-9", now_).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Create(kGiB, std::nullopt).id(), "r-2") << "ids are never reused";
}

TEST_F(ReservationStoreTest, AReservationTheHostCannotMakeFailsSayingHowMuchItCould) {
  const v1::Reservation at_once = Create(8 * kGiB, Host(3 * kGiB, 2 * kGiB));
  EXPECT_EQ(at_once.state(), v1::RESERVATION_STATE_FAILED);
  EXPECT_EQ(at_once.made_bytes(), 3 * kGiB);
  EXPECT_THAT(at_once.explanation(), HasSubstr("can make only 3 GiB of 8 GiB"));
  EXPECT_EQ(store_->ReservedBytes(now_), 0) << "a failed reservation holds nothing";

  // Possible when made, then a guest comes under pressure and gives nothing: it fails after the
  // grace, not at the first cycle that cannot make it.
  const v1::Reservation later = Create(2 * kGiB, Host(3 * kGiB, 2 * kGiB));
  ASSERT_EQ(later.state(), v1::RESERVATION_STATE_PENDING);
  now_ += absl::Seconds(2);
  EXPECT_TRUE(store_->Advance(Host(3 * kGiB, 0), {}, true, now_).empty());
  now_ += absl::Seconds(10);
  const auto changed = store_->Advance(Host(3 * kGiB, 0), {}, true, now_);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state(), v1::RESERVATION_STATE_FAILED);
  EXPECT_EQ(changed[0].made_bytes(), kGiB);

  // A policy that does not enforce takes nothing back: only room already there counts.
  auto observed = store_->Create(Request(2 * kGiB), "uid 0", Host(3 * kGiB, 8 * kGiB), false, now_);
  ASSERT_TRUE(observed.ok());
  EXPECT_EQ(observed->state(), v1::RESERVATION_STATE_FAILED);
  EXPECT_THAT(observed->explanation(), HasSubstr("does not enforce"));
}

TEST_F(ReservationStoreTest, EarlierReservationsGetTheRoomFirstAndNoRoomIsGrantedTwice) {
  const v1::Reservation first = Create(kGiB, Host(2 * kGiB, 4 * kGiB));
  const v1::Reservation second = Create(kGiB, Host(2 * kGiB, 4 * kGiB));
  now_ += absl::Seconds(2);
  // 1 GiB of room: the first's; the second waits for more.
  auto changed = store_->Advance(Host(3 * kGiB, 3 * kGiB), {}, true, now_);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].id(), first.id());
  EXPECT_EQ(StateOf(second.id()), v1::RESERVATION_STATE_PENDING);
  EXPECT_EQ(store_->Get(second.id())->made_bytes(), 0);
  now_ += absl::Seconds(2);
  changed = store_->Advance(Host(4 * kGiB, 2 * kGiB), {}, true, now_);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].id(), second.id());
  EXPECT_EQ(changed[0].state(), v1::RESERVATION_STATE_READY);
}

TEST_F(ReservationStoreTest, ItExpiresOrIsClaimedByTheDomainItWasFor) {
  Create(kGiB, Host(8 * kGiB), absl::Seconds(30));
  Create(kGiB, Host(8 * kGiB), absl::Minutes(10), "vm-next");
  EXPECT_EQ(StateOf("r-1"), v1::RESERVATION_STATE_READY) << "the room was there";
  now_ += absl::Seconds(30);
  EXPECT_EQ(store_->ReservedBytes(now_), kGiB) << "an expired one holds nothing at once";
  auto changed = store_->Advance(Host(8 * kGiB), {"vm-other"}, true, now_);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state(), v1::RESERVATION_STATE_EXPIRED);
  changed = store_->Advance(Host(8 * kGiB), {"vm-next"}, true, now_);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].state(), v1::RESERVATION_STATE_CLAIMED);
  EXPECT_THAT(changed[0].explanation(), HasSubstr("vm-next started"));
  // Ended ones are listed for an hour, then forgotten.
  EXPECT_EQ(store_->List().size(), 2u);
  now_ += absl::Hours(2);
  Create(kGiB, Host(8 * kGiB));
  EXPECT_EQ(store_->List().size(), 1u);
}

TEST_F(ReservationStoreTest, BadRequestsChangeNothing) {
  EXPECT_EQ(store_->Create(Request(0), "uid 0", Host(8 * kGiB), true, now_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->Create(Request(kGiB, absl::Hours(24 * 8)), "uid 0", Host(8 * kGiB), true, now_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      store_->Create(Request(kGiB, absl::Minutes(1), "a\nb"), "uid 0", Host(8 * kGiB), true, now_)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->List().empty());
}

// The review's finding 6: 5000 failed requests were all kept, each rewriting the whole file.
TEST_F(ReservationStoreTest, OneThatFailsAtOnceIsAnsweredNotKeptAndEndedOnesAreCapped) {
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(Create(policy::kMaxMemoryBytes, Host(3 * kGiB)).state(),
              v1::RESERVATION_STATE_FAILED);
  }
  EXPECT_TRUE(store_->List().empty());
  EXPECT_FALSE(std::filesystem::exists(store_->saved_path())) << "nothing was written";
  const v1::Reservation next = Create(kGiB, Host(8 * kGiB));
  EXPECT_EQ(next.id(), "r-301") << "an id answered is not given again";

  for (int i = 0; i < 300; ++i) {
    const v1::Reservation r = Create(kGiB, Host(64 * kGiB));
    ASSERT_TRUE(store_->Release(r.id(), now_).ok());
  }
  const std::vector<v1::Reservation> listed = store_->List();
  EXPECT_EQ(listed.size(), 257u) << "the one alive and the newest 256 that ended";
  EXPECT_EQ(listed.back().id(), "r-601");
  store_ = *ReservationStore::Open(dir_);
  EXPECT_EQ(store_->List().size(), 257u);
}

TEST_F(ReservationStoreTest, ARetryByRequestIdGetsTheReservationItMadeAlsoAfterARestart) {
  v1::ReserveMemoryRequest request = Request(kGiB);
  request.set_request_id("orchestrator-42");
  auto first = store_->Create(request, "certificate spiffe://o/1", Host(8 * kGiB), true, now_);
  ASSERT_TRUE(first.ok());
  store_ = *ReservationStore::Open(dir_);
  bool repeat = false;
  auto again =
      store_->Create(request, "certificate spiffe://o/1", Host(8 * kGiB), true, now_, &repeat);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(repeat);
  EXPECT_EQ(again->id(), first->id());
  EXPECT_EQ(store_->ReservedBytes(now_), kGiB) << "made once";
  auto someone_else = store_->Create(request, "uid 1000", Host(8 * kGiB), true, now_, &repeat);
  ASSERT_TRUE(someone_else.ok());
  EXPECT_FALSE(repeat) << "another client's id is its own";
  EXPECT_NE(someone_else->id(), first->id());
}

TEST_F(ReservationStoreTest, IdsAreValidatedBeforeTheyAreLookedFor) {
  for (const std::string id : {"r-1\tkey\tvalue", "r-", "r-01", "x-1", "r-1234567890123456"}) {
    EXPECT_EQ(store_->Get(id).status().code(), absl::StatusCode::kInvalidArgument) << id;
    EXPECT_EQ(store_->Release(id, now_).status().code(), absl::StatusCode::kInvalidArgument) << id;
  }
  EXPECT_EQ(store_->Get("r-7").status().code(), absl::StatusCode::kNotFound);
}

// The review's finding 9: a saved reservation of 2^63-1 bytes aborted the checked build, and a file
// that could not be read was taken for none (and then overwritten).
TEST_F(ReservationStoreTest, SavedReservationsAreCheckedAsTheApiChecksThem) {
  const std::string ok_one =
      "reservations { id: \"r-1\" bytes: 1073741824 state: RESERVATION_STATE_READY "
      "create_time { seconds: 1795634560 } expire_time { seconds: 1795635160 } "
      "state_time { seconds: 1795634560 } }\n";
  for (const auto& [text, complaint] : std::vector<std::pair<std::string, std::string>>{
           {"next_number: 2\n" + ok_one, ""},
           {"next_number: 2\nreservations { id: \"r-1\" bytes: 9223372036854775807 state: "
            "RESERVATION_STATE_READY }",
            "bytes 9223372036854775807"},
           {"next_number: 9223372036854775807\n" + ok_one, "next_number 9223372036854775807"},
           {"next_number: 1\n" + ok_one, "below next_number 1"},
           {"next_number: 2\nreservations { id: \"r-x\" bytes: 1 state: RESERVATION_STATE_READY }",
            "\"r-x\" is not r-N"},
           {"next_number: 2\nreservations { id: \"r-1\" bytes: 1 }", "state 0 is not one"},
           {"next_number: 2\nreservations { id: \"r-1\" bytes: 1 state: RESERVATION_STATE_READY "
            "create_time { seconds: 0 } expire_time { seconds: 999999999999 } }",
            "expire_time is not a valid time"},
       }) {
    std::ofstream(store_->saved_path(), std::ios::trunc) << text;
    auto reopened = ReservationStore::Open(dir_);
    if (complaint.empty()) {
      EXPECT_TRUE(reopened.ok()) << reopened.status();
      continue;
    }
    ASSERT_FALSE(reopened.ok()) << text;
    EXPECT_THAT(reopened.status().message(), HasSubstr(complaint));
    EXPECT_THAT(reopened.status().message(), HasSubstr("reservations.textproto"));
  }
}

TEST_F(ReservationStoreTest, AFileThatCannotBeReadStopsTheStartInsteadOfBeingTakenForNone) {
  std::filesystem::remove(store_->saved_path());
  std::filesystem::create_directory(store_->saved_path());  // reading it fails, and not ENOENT
  auto reopened = ReservationStore::Open(dir_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(), HasSubstr("reservations.textproto"));
  EXPECT_THAT(reopened.status().message(), HasSubstr("does not start without it"));
}

TEST_F(ReservationStoreTest, ACorruptFileStopsTheStartNamingIt) {
  std::ofstream(store_->saved_path()) << "reservations { bytes: lots }";
  auto reopened = ReservationStore::Open(dir_);
  ASSERT_FALSE(reopened.ok());
  EXPECT_THAT(reopened.status().message(), HasSubstr("reservations.textproto"));
}

}  // namespace
}  // namespace balloond
