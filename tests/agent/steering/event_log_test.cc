// The event log: numbered in order, replayed from a client's cursor, and honest about what a
// client missed (past its history, across a restart).
#include "agent/steering/event_log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::balloond::testing::FakeClock;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Heard final : public EventListener {
  bool OnEvent(const std::shared_ptr<const v1::Event>& event) override {
    events.push_back(*event);
    return true;
  }
  void OnClose(const absl::Status& why) override { closed = why; }
  std::vector<uint64_t> Sequences() const {
    std::vector<uint64_t> out;
    for (const auto& e : events) out.push_back(e.sequence());
    return out;
  }
  std::vector<v1::Event> events;
  absl::Status closed;
};

class EventLogTest : public ::testing::Test {
 protected:
  void AppendStarted(int n) {
    for (int i = 0; i < n; ++i) {
      log_.Append(DomainEvent(v1::EVENT_KIND_DOMAIN_STARTED, "web1", "u-1", "started"));
    }
  }
  FakeClock clock_;
  EventLog log_{clock_, "e1", /*capacity=*/5};
};

TEST_F(EventLogTest, ANewWatcherReadsTheHistoryThenEachNewEventInOrder) {
  AppendStarted(3);
  Heard heard;
  ASSERT_TRUE(log_.Subscribe(&heard, EventCursor()).ok());
  AppendStarted(1);
  EXPECT_THAT(heard.Sequences(), ElementsAre(1, 2, 3, 4));
  EXPECT_EQ(heard.events[3].epoch(), "e1");
  EXPECT_EQ(heard.events[3].domain(), "web1");
  EXPECT_TRUE(heard.events[3].has_time());
  log_.Unsubscribe(&heard);
  AppendStarted(1);
  EXPECT_EQ(heard.events.size(), 4u);
}

TEST_F(EventLogTest, AReconnectingClientResumesAfterItsLastSequenceAndMissesNone) {
  AppendStarted(4);
  Heard heard;
  ASSERT_TRUE(log_.Subscribe(&heard, {2, "e1", false}).ok());
  EXPECT_THAT(heard.Sequences(), ElementsAre(3, 4));
  log_.Unsubscribe(&heard);
  Heard at_newest;
  ASSERT_TRUE(log_.Subscribe(&at_newest, {4, "", false}).ok());
  EXPECT_TRUE(at_newest.events.empty());
  log_.Unsubscribe(&at_newest);
}

TEST_F(EventLogTest, OnlyNewSkipsTheHistory) {
  AppendStarted(2);
  Heard heard;
  ASSERT_TRUE(log_.Subscribe(&heard, {0, "", true}).ok());
  AppendStarted(1);
  EXPECT_THAT(heard.Sequences(), ElementsAre(3));
  log_.Unsubscribe(&heard);
}

TEST_F(EventLogTest, ResumingPastTheHistorySaysHowManyWereLost) {
  AppendStarted(8);  // 1-3 are no longer kept
  Heard heard;
  ASSERT_TRUE(log_.Subscribe(&heard, {1, "e1", false}).ok());
  ASSERT_EQ(heard.events.size(), 6u);
  EXPECT_EQ(heard.events[0].kind(), v1::EVENT_KIND_EVENTS_LOST);
  EXPECT_EQ(heard.events[0].lost(), 2u);      // 2 and 3
  EXPECT_EQ(heard.events[0].sequence(), 3u);  // resuming from it loses nothing more
  EXPECT_THAT(heard.events[0].message(), HasSubstr("keeps the newest 5"));
  EXPECT_EQ(heard.events[1].sequence(), 4u);
  log_.Unsubscribe(&heard);
}

TEST_F(EventLogTest, ACursorOfAnotherRunGetsAllThatIsKeptBehindALostEvent) {
  AppendStarted(2);
  Heard heard;
  ASSERT_TRUE(log_.Subscribe(&heard, {900, "e0", false}).ok());
  ASSERT_EQ(heard.events.size(), 3u);
  EXPECT_EQ(heard.events[0].kind(), v1::EVENT_KIND_EVENTS_LOST);
  EXPECT_EQ(heard.events[0].lost(), 0u);  // unknown
  EXPECT_THAT(heard.events[0].message(), HasSubstr("restarted"));
  EXPECT_EQ(heard.events[1].sequence(), 1u);
  log_.Unsubscribe(&heard);
}

TEST_F(EventLogTest, ACursorPastTheNewestEventIsRefusedAndSubscribesNothing) {
  AppendStarted(2);
  Heard heard;
  absl::Status s = log_.Subscribe(&heard, {7, "e1", false});
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(s.message(), HasSubstr("newest event of epoch e1 (2)"));
  AppendStarted(1);
  EXPECT_TRUE(heard.events.empty());
}

TEST_F(EventLogTest, ClosingTellsEveryListener) {
  Heard heard;
  ASSERT_TRUE(log_.Subscribe(&heard, EventCursor()).ok());
  log_.CloseAll(absl::UnavailableError("stopping"));
  EXPECT_EQ(heard.closed.code(), absl::StatusCode::kUnavailable);
  log_.Unsubscribe(&heard);
}

// A client's stream: it takes one event, and the next only once it has written it. It holds one
// event and its place, never a queue of the history (the review's finding 4: each watcher queued
// its whole replay).
struct OneAtATime final : public EventListener {
  bool Wants(const v1::Event& event) const override { return event.domain() != "skip"; }
  bool OnEvent(const std::shared_ptr<const v1::Event>& event) override {
    held.push_back(event);
    return false;
  }
  void OnClose(const absl::Status& why) override { closed = why; }
  std::vector<std::shared_ptr<const v1::Event>> held;
  absl::Status closed;
};

TEST_F(EventLogTest, AStreamIsGivenTheNextEventOnlyWhenItIsReadyAndSkipsWhatItDoesNotWant) {
  AppendStarted(2);
  log_.Append(DomainEvent(v1::EVENT_KIND_DOMAIN_STARTED, "skip", "u-2", "not wanted"));
  AppendStarted(1);
  OneAtATime reader;
  ASSERT_TRUE(log_.Subscribe(&reader, EventCursor()).ok());
  ASSERT_EQ(reader.held.size(), 1u) << "one at a time, however much history there is";
  EXPECT_EQ(reader.held[0]->sequence(), 1u);
  AppendStarted(1);
  EXPECT_EQ(reader.held.size(), 1u) << "a new event waits while the first is being written";
  log_.Ready(&reader);
  ASSERT_EQ(reader.held.size(), 2u);
  EXPECT_EQ(reader.held[1]->sequence(), 2u);
  log_.Ready(&reader);
  ASSERT_EQ(reader.held.size(), 3u);
  EXPECT_EQ(reader.held[2]->sequence(), 4u) << "3 is another domain's";
  log_.Ready(&reader);
  log_.Ready(&reader);
  EXPECT_EQ(reader.held.back()->sequence(), 5u);
  log_.Ready(&reader);  // caught up: the next event comes as it is appended
  AppendStarted(1);
  EXPECT_EQ(reader.held.back()->sequence(), 6u);
  log_.Unsubscribe(&reader);
}

TEST_F(EventLogTest, AStreamWhoseNextEventLeftTheHistoryIsClosedAsTooSlow) {
  OneAtATime reader;
  ASSERT_TRUE(log_.Subscribe(&reader, EventCursor()).ok());
  AppendStarted(7);  // the reader holds 1; 2 falls out of the 5 kept
  ASSERT_EQ(reader.held.size(), 1u);
  log_.Ready(&reader);
  EXPECT_EQ(reader.closed.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(reader.closed.message(), HasSubstr("events after 1 are no longer kept"));
  EXPECT_EQ(reader.held.size(), 1u);
  log_.Unsubscribe(&reader);
}

TEST(ReservationEventTest, NamesTheKindByTheReservationsState) {
  v1::Reservation r;
  r.set_id("r-3");
  r.set_bytes(1 << 30);
  r.set_state(v1::RESERVATION_STATE_READY);
  EXPECT_EQ(ReservationEvent(r).kind(), v1::EVENT_KIND_RESERVATION_READY);
  EXPECT_EQ(ReservationEvent(r).reservation_id(), "r-3");
  EXPECT_EQ(ReservationEvent(r).bytes(), 1 << 30);
  r.set_state(v1::RESERVATION_STATE_CLAIMED);
  EXPECT_EQ(ReservationEvent(r).kind(), v1::EVENT_KIND_RESERVATION_CLAIMED);
  r.set_created_by("uid 0");
  r.set_domain("vm-to-come");
  const v1::Event created = ReservationEvent(r, v1::EVENT_KIND_RESERVATION_CREATED);
  EXPECT_EQ(created.kind(), v1::EVENT_KIND_RESERVATION_CREATED);
  EXPECT_EQ(created.message(), "reserved by uid 0 for domain vm-to-come");
}

TEST(EventLogEpochTest, TwoRunsHaveDifferentEpochs) {
  FakeClock clock;
  const std::string first = EventLog::NewEpoch(clock);
  clock.Advance(absl::Microseconds(1));
  EXPECT_NE(first, EventLog::NewEpoch(clock));
}

}  // namespace
}  // namespace balloond
