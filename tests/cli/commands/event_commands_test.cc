// events on mock stubs (command_test.h).
#include <gmock/gmock.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/cli/commands/command_test.h"

namespace balloond::cli {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::SaveArg;

using testing::CommandTest;
using testing::StreamOf;
namespace v1 = balloon::v1;

v1::Event Started(uint64_t sequence, const std::string& domain) {
  v1::Event e;
  e.set_sequence(sequence);
  e.set_epoch("18a2f");
  e.set_kind(v1::EVENT_KIND_DOMAIN_STARTED);
  e.set_domain(domain);
  e.set_message("it started");
  *e.mutable_time() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(testing::TestNow()));
  return e;
}

class EventCommandsTest : public CommandTest {};

TEST_F(EventCommandsTest, EventsAsksForTheDomainKindsAndCursorAndPrintsEachLine) {
  v1::WatchEventsRequest asked;
  EXPECT_CALL(read_, WatchEventsRaw(_, _))
      .WillOnce(DoAll(SaveArg<1>(&asked),
                      Return(StreamOf<v1::Event>({Started(41, "web1"), Started(42, "web1")},
                                                 grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                                              "Deadline Exceeded")))));
  Result r = Run({"events", "web1", "--kind", "domain-started", "--kind", "relief", "--after", "40",
                  "--epoch", "18a2f", "--timeout", "1s"});
  EXPECT_EQ(r.exit_code, 0) << "reaching the --timeout asked for is success: " << r.err;
  EXPECT_EQ(asked.domain(), "web1");
  EXPECT_THAT(asked.kinds(), ElementsAre(v1::EVENT_KIND_DOMAIN_STARTED, v1::EVENT_KIND_RELIEF));
  EXPECT_EQ(asked.after_sequence(), 40u);
  EXPECT_EQ(asked.epoch(), "18a2f");
  EXPECT_FALSE(asked.only_new());
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 4) << r.out;
  EXPECT_THAT(r.out, ::testing::StartsWith("epoch 18a2f (resume with --after=SEQ --epoch=18a2f)\n"
                                           "SEQ  TIME      KIND  DOMAIN OR RESERVATION  SIZE  "
                                           "WHAT\n41  "));
  EXPECT_THAT(r.out, HasSubstr("it started"));
}

TEST_F(EventCommandsTest, AnUnknownKindIsAUsageErrorThatNamesSomeKinds) {
  EXPECT_CALL(read_, WatchEventsRaw(_, _)).Times(0);
  Result r = Run({"events", "--kind", "explosion"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--kind 'explosion' is not an event kind. The kinds: "));
  EXPECT_THAT(r.err, HasSubstr("domain-started"));
}

TEST_F(EventCommandsTest, AKindWrittenAsTheEnumIsAnsweredWithItsName) {
  EXPECT_CALL(read_, WatchEventsRaw(_, _)).Times(0);
  Result r = Run({"events", "--kind=target_set"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--kind 'target_set' is not an event kind. Did you mean "
                               "'target-set'?"));
}

TEST_F(EventCommandsTest, AResumeFromALostEpochIsExplained) {
  EXPECT_CALL(read_, WatchEventsRaw(_, _))
      .WillOnce(Return(StreamOf<v1::Event>(
          {}, grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                           "events after 40 of epoch 18a2f are gone: balloond restarted"))));
  Result r = Run({"events", "--after", "40", "--epoch", "18a2f", "--new"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("balloond restarted"));
}

}  // namespace
}  // namespace balloond::cli
