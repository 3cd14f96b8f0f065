// WatchEvents and `balloonctl events` against a real libvirtd and real guests: what happens to the
// domains and what operators do arrives as typed events, promptly; a client that reconnects from
// its last sequence misses none, and one whose balloond restarted is told so.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/sizes.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

namespace v1 = balloon::v1;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;

// One client's stream of events, read on the test's thread.
class EventStream {
 public:
  EventStream(v1::BalloonReadService::Stub& stub, const v1::WatchEventsRequest& request) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(3));
    reader_ = stub.WatchEvents(&ctx_, request);
  }
  ~EventStream() { ctx_.TryCancel(); }

  // Reads until an event of `kind` (about `domain`, if given) arrives, or the stream ends; every
  // event read goes to `read` with when it arrived.
  std::optional<v1::Event> Until(v1::EventKind kind, const std::string& domain = "") {
    v1::Event e;
    while (reader_->Read(&e)) {
      read.push_back({e, absl::Now()});
      if (e.kind() == kind && (domain.empty() || e.domain() == domain)) return e;
    }
    return std::nullopt;
  }
  absl::Time ArrivalOf(uint64_t sequence) const {
    for (const auto& [e, at] : read) {
      if (e.sequence() == sequence) return at;
    }
    return absl::InfiniteFuture();
  }

  std::vector<std::pair<v1::Event, absl::Time>> read;

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::Event>> reader_;
};

TEST(EventsIntegrationTest, WhatHappensArrivesPromptlyAndAReconnectingClientMissesNothing) {
  DestroyLeftoverGuests();
  Guest before(BootedGuest("ev-before", 512));
  auto agent = std::make_unique<Agent>();
  const std::string state_dir = agent->state_dir();
  ASSERT_TRUE(agent->WaitServing()) << agent->Log();

  // The read-only socket serves events: the domain running at start comes first.
  EventStream stream(agent->read_only(), v1::WatchEventsRequest());
  auto found = stream.Until(v1::EVENT_KIND_DOMAIN_STARTED, before.name());
  ASSERT_TRUE(found.has_value()) << agent->Log();
  EXPECT_THAT(found->message(), HasSubstr("running when balloond started"));
  const std::string epoch = found->epoch();

  // A domain starts and stops: each is told within a second of libvirt's event.
  auto started_at = absl::Now();
  auto later = std::make_unique<Guest>(PausedGuest("ev-later"));
  found = stream.Until(v1::EVENT_KIND_DOMAIN_STARTED, later->name());
  ASSERT_TRUE(found.has_value());
  const absl::Duration start_latency = stream.ArrivalOf(found->sequence()) - started_at;
  EXPECT_EQ(found->message(), "the domain started");
  const std::string later_name = later->name();
  const absl::Time destroyed_at = absl::Now();
  later->Destroy();
  const absl::Time destroy_returned = absl::Now();
  found = stream.Until(v1::EVENT_KIND_DOMAIN_STOPPED, later_name);
  ASSERT_TRUE(found.has_value());
  const absl::Duration stop_latency = stream.ArrivalOf(found->sequence()) - destroy_returned;
  std::cout << "domain-started arrived " << absl::FormatDuration(start_latency)
            << " after virsh create began; domain-stopped " << absl::FormatDuration(stop_latency)
            << " after virsh destroy returned ("
            << absl::FormatDuration(destroy_returned - destroyed_at) << " in virsh)\n";
  EXPECT_LT(stop_latency, absl::Seconds(5)) << "libvirt's event should bring it at once";

  // What an operator does is told too, with its size.
  ASSERT_EQ(agent->Ctl({"set", before.name(), "400M"}).exit_code, 0);
  found = stream.Until(v1::EVENT_KIND_TARGET_SET, before.name());
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->bytes(), 400 * kMiB);
  EXPECT_THAT(found->message(), HasSubstr("uid 0"));
  CommandResult reserved = agent->Ctl({"reserve", "64M", "--ttl=1m"});
  ASSERT_EQ(reserved.exit_code, 0) << reserved.out << reserved.err;
  found = stream.Until(v1::EVENT_KIND_RESERVATION_CREATED);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->reservation_id(), "r-1");
  EXPECT_EQ(found->bytes(), 64 * kMiB);
  const uint64_t last_read = found->sequence();

  // The client goes away; meanwhile things happen; it comes back from its last sequence and gets
  // each of them, in order, without a gap.
  ASSERT_EQ(agent->Ctl({"unreserve", "r-1"}).exit_code, 0);
  ASSERT_EQ(agent->Ctl({"release", before.name()}).exit_code, 0);
  Guest third(PausedGuest("ev-third"));
  {
    v1::WatchEventsRequest resume;
    resume.set_after_sequence(last_read);
    resume.set_epoch(epoch);
    EventStream again(agent->read(), resume);
    ASSERT_TRUE(again.Until(v1::EVENT_KIND_DOMAIN_STARTED, third.name()).has_value());
    uint64_t expected = last_read + 1;
    std::vector<v1::EventKind> kinds;
    for (const auto& [e, at] : again.read) {
      EXPECT_EQ(e.sequence(), expected++) << e.ShortDebugString();
      kinds.push_back(e.kind());
    }
    EXPECT_THAT(kinds, ::testing::IsSupersetOf({v1::EVENT_KIND_RESERVATION_RELEASED,
                                                v1::EVENT_KIND_HOLD_RELEASED,
                                                v1::EVENT_KIND_DOMAIN_STARTED}));
  }

  // `balloonctl events` prints them, a line each, filtered by domain and kind.
  std::cout << agent->Ctl({"events", "--timeout=2s"}).out;
  CommandResult printed =
      agent->Ctl({"events", before.name(), "--kind=target-set", "--timeout=2s"});
  EXPECT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_THAT(printed.out,
              ContainsRegex(absl::StrCat("[0-9]+  [0-9:]+  target-set  ", before.name(),
                                         "  400 MiB  balloon target set")));
  EXPECT_THAT(printed.out, ::testing::Not(HasSubstr("domain-started")));
  CommandResult bad = agent->Ctl({"events", "--kind=nonsense"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("is not an event kind"));

  // balloond restarts: a client of the old epoch is told that it lost events, then gets what the
  // new run has seen.
  agent.reset();
  agent = std::make_unique<Agent>(std::vector<std::string>{}, state_dir);
  ASSERT_TRUE(agent->WaitServing()) << agent->Log();
  v1::WatchEventsRequest stale;
  stale.set_after_sequence(last_read);
  stale.set_epoch(epoch);
  EventStream after_restart(agent->read(), stale);
  found = after_restart.Until(v1::EVENT_KIND_DOMAIN_STARTED, before.name());
  ASSERT_TRUE(found.has_value());
  ASSERT_FALSE(after_restart.read.empty());
  EXPECT_EQ(after_restart.read.front().first.kind(), v1::EVENT_KIND_EVENTS_LOST);
  EXPECT_THAT(after_restart.read.front().first.message(), HasSubstr("restarted"));
  EXPECT_NE(found->epoch(), epoch);
}

// The 12-06 review: `virsh setmem` moved a held balloon and nobody said so. Now it is an event, a
// PROBLEM in `list`, and the hold is re-applied (or released, as the policy says).
TEST(OutsideChangesIntegrationTest, VirshSetmemIsSeenAndABrokenHoldIsReappliedOrReleased) {
  DestroyLeftoverGuests();
  Guest guest(BootedGuest("outside", 512));
  const absl::Time booted = absl::Now();
  Agent agent;
  ASSERT_TRUE(agent.WaitServing()) << agent.Log();
  CommandResult r = agent.Ctl({"set", guest.name(), "400M", "--wait", "--timeout=60s"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  v1::WatchEventsRequest only_new;
  only_new.set_only_new(true);
  EventStream stream(agent.read_only(), only_new);
  // A domain just started settles first (its driver inflating is libvirt's doing).
  absl::SleepFor(booted + absl::Seconds(21) - absl::Now());

  ASSERT_EQ(Virsh({"setmem", guest.name(), "471040", "--live"}).exit_code, 0);  // 460 MiB
  auto seen = stream.Until(v1::EVENT_KIND_BALLOON_CHANGED_OUTSIDE, guest.name());
  ASSERT_TRUE(seen.has_value()) << agent.Log();
  EXPECT_THAT(seen->message(), HasSubstr("(balloond last set 400 MiB)"));
  EXPECT_THAT(seen->message(), HasSubstr("it broke the hold at 400 MiB set by uid 0"));
  EXPECT_THAT(agent.Ctl({"list"}).out, HasSubstr("balloon changed from outside balloond at"));
  // The default: the hold is set again, and the balloon goes back.
  auto reapplied = stream.Until(v1::EVENT_KIND_TARGET_SET, guest.name());
  ASSERT_TRUE(reapplied.has_value());
  EXPECT_THAT(reapplied->message(), HasSubstr("was broken from outside and is re-applied"));
  EXPECT_TRUE(WaitFor([&] { return guest.UsedMemoryKiB() == 400 * 1024; }, absl::Seconds(20)))
      << guest.UsedMemoryKiB();
  EXPECT_THAT(agent.Log(), HasSubstr("balloon changed from outside balloond: "));

  // Released instead, when the operator says whoever moved it wins.
  ASSERT_EQ(agent.Ctl({"policy", "set", "on_hold_broken=release"}).exit_code, 0);
  ASSERT_EQ(Virsh({"setmem", guest.name(), "491520", "--live"}).exit_code, 0);  // 480 MiB
  auto released = stream.Until(v1::EVENT_KIND_HOLD_RELEASED, guest.name());
  ASSERT_TRUE(released.has_value()) << agent.Log();
  EXPECT_THAT(released->message(), HasSubstr("released: broken from outside"));
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(guest.UsedMemoryKiB(), 480 * 1024) << "observe mode: nothing moves it back";
}

}  // namespace
}  // namespace balloond::testing
