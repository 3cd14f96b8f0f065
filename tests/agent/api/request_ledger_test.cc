#include "agent/api/request_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "balloon/v1/balloon.pb.h"
#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using Action = RequestLedger::Entry::Action;
using ::testing::HasSubstr;

v1::ReleaseHoldRequest Request(const std::string& domain) {
  v1::ReleaseHoldRequest r;
  r.set_domain(domain);
  r.set_request_id("id-1");
  return r;
}

v1::ReleaseHoldResponse Response(const std::string& domain) {
  v1::ReleaseHoldResponse r;
  r.mutable_domain()->set_name(domain);
  return r;
}

class RequestLedgerTest : public ::testing::Test {
 protected:
  testing::FakeClock clock_;
  RequestLedger ledger_{clock_, {absl::Hours(1), 3}};
};

TEST_F(RequestLedgerTest, ARepeatGetsTheFirstAnswerAndARepeatWhileRunningIsAborted) {
  EXPECT_EQ(ledger_.Begin("call", "uid 0", "id-1", Request("a")).action, Action::kRun);
  RequestLedger::Entry running = ledger_.Begin("call", "uid 0", "id-1", Request("a"));
  EXPECT_EQ(running.action, Action::kRefuse);
  EXPECT_EQ(running.refusal.code(), absl::StatusCode::kAborted);
  ledger_.Finish("call", "uid 0", "id-1", absl::OkStatus(), Response("a"));
  RequestLedger::Entry repeat = ledger_.Begin("call", "uid 0", "id-1", Request("a"));
  ASSERT_EQ(repeat.action, Action::kAnswer);
  EXPECT_EQ(repeat.response->SerializeAsString(), Response("a").SerializeAsString());
}

TEST_F(RequestLedgerTest, IdsBelongToOneClientAndOneCall) {
  ASSERT_EQ(ledger_.Begin("call", "uid 0", "id-1", Request("a")).action, Action::kRun);
  ledger_.Finish("call", "uid 0", "id-1", absl::OkStatus(), Response("a"));
  EXPECT_EQ(ledger_.Begin("call", "uid 1000", "id-1", Request("a")).action, Action::kRun);
  EXPECT_EQ(ledger_.Begin("other call", "uid 0", "id-1", Request("a")).action, Action::kRun);
  // The ledger is full now (3 entries): a repeat still finds its answer.
  EXPECT_EQ(ledger_.Begin("call", "uid 0", "id-1", Request("a")).action, Action::kAnswer);
  RequestLedger::Entry reused = ledger_.Begin("call", "uid 0", "id-1", Request("b"));
  EXPECT_EQ(reused.action, Action::kRefuse);
  EXPECT_EQ(reused.refusal.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(reused.refusal.message(), HasSubstr("different request"));
}

TEST_F(RequestLedgerTest, FailuresAreForgottenAndAnswersExpire) {
  ASSERT_EQ(ledger_.Begin("call", "uid 0", "id-1", Request("a")).action, Action::kRun);
  ledger_.Finish("call", "uid 0", "id-1", absl::UnavailableError("no"), Response("a"));
  EXPECT_EQ(ledger_.size(), 0u);
  ASSERT_EQ(ledger_.Begin("call", "uid 0", "id-1", Request("a")).action, Action::kRun);
  ledger_.Finish("call", "uid 0", "id-1", absl::OkStatus(), Response("a"));
  clock_.Advance(absl::Minutes(59));
  EXPECT_EQ(ledger_.Begin("call", "uid 0", "id-1", Request("a")).action, Action::kAnswer);
  clock_.Advance(absl::Minutes(1));
  EXPECT_EQ(ledger_.Begin("call", "uid 0", "id-1", Request("a")).action, Action::kRun);
}

TEST_F(RequestLedgerTest, TheOldestAnswersMakeRoomAndRunningRequestsAreNeverDropped) {
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_EQ(ledger_.Begin("call", "uid 0", id, Request("a")).action, Action::kRun);
    ledger_.Finish("call", "uid 0", id, absl::OkStatus(), Response("a"));
    clock_.Advance(absl::Seconds(1));
  }
  EXPECT_EQ(ledger_.Begin("call", "uid 0", "d", Request("a")).action, Action::kRun);
  EXPECT_EQ(ledger_.size(), 3u);
  EXPECT_EQ(ledger_.Begin("call", "uid 0", "a", Request("a")).action, Action::kRun)
      << "the oldest answer went";
  EXPECT_EQ(ledger_.Begin("call", "uid 0", "c", Request("a")).action, Action::kAnswer);
  // Full of running requests: a new one is refused, not an old one dropped.
  RequestLedger::Entry full = ledger_.Begin("call", "uid 0", "e", Request("a"));
  ASSERT_EQ(full.action, Action::kRun) << full.refusal;
  RequestLedger::Entry refused = ledger_.Begin("call", "uid 0", "f", Request("a"));
  EXPECT_EQ(refused.action, Action::kRefuse);
  EXPECT_EQ(refused.refusal.code(), absl::StatusCode::kResourceExhausted);
}

// The review's finding 8: 10,000 entries could hold gigabytes of requests and answers. Requests
// are kept as digests, answers count against a budget of bytes.
TEST_F(RequestLedgerTest, EntriesAreBoundedInBytesAndRequestsKeptAsDigests) {
  RequestLedger::Settings small;
  small.max_bytes = 64 << 10;
  RequestLedger ledger(clock_, small);
  const std::string big(20 << 10, 'x');
  for (const char* id : {"a", "b", "c", "d"}) {
    ASSERT_EQ(ledger.Begin("call", "uid 0", id, Request(big)).action, Action::kRun);
    ledger.Finish("call", "uid 0", id, absl::OkStatus(), Response(big));
    clock_.Advance(absl::Seconds(1));
    EXPECT_LE(ledger.bytes(), small.max_bytes);
  }
  EXPECT_EQ(ledger.size(), 3u) << "the oldest answer made room for the newest";
  EXPECT_EQ(ledger.Begin("call", "uid 0", "a", Request(big)).action, Action::kRun);
  EXPECT_EQ(ledger.Begin("call", "uid 0", "d", Request(big)).action, Action::kAnswer);
  // A digest still tells a different request under the same id.
  EXPECT_EQ(ledger.Begin("call", "uid 0", "d", Request(big + "y")).action, Action::kRefuse);
  // An answer larger than the whole budget is not kept: its retry runs again.
  ASSERT_EQ(ledger.Begin("call", "uid 0", "huge", Request("h")).action, Action::kRun);
  ledger.Finish("call", "uid 0", "huge", absl::OkStatus(), Response(std::string(80 << 10, 'z')));
  EXPECT_EQ(ledger.Begin("call", "uid 0", "huge", Request("h")).action, Action::kRun);
}

TEST_F(RequestLedgerTest, IdsAreShortAndPlain) {
  EXPECT_TRUE(RequestLedger::ValidateRequestId("0f8fad5b-d9cb-469f-a165-70867728950e").ok());
  EXPECT_TRUE(RequestLedger::ValidateRequestId("job:42.retry_1").ok());
  EXPECT_FALSE(RequestLedger::ValidateRequestId("").ok());
  EXPECT_FALSE(RequestLedger::ValidateRequestId(std::string(129, 'a')).ok());
  EXPECT_FALSE(RequestLedger::ValidateRequestId("a b").ok());
  EXPECT_FALSE(RequestLedger::ValidateRequestId("a\nb").ok());
}

}  // namespace
}  // namespace balloond
