// host, health, top, version on mock stubs (command_test.h).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/cli/commands/command_test.h"

namespace balloond::cli {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::SetArgPointee;

using grpc::health::v1::HealthCheckResponse;
using testing::CommandTest;
namespace v1 = balloon::v1;

class HostCommandsTest : public CommandTest {};

TEST_F(HostCommandsTest, HostShowsTheHostsMemoryAndPressure) {
  v1::HostStats host;
  host.set_mem_total_bytes(int64_t{16} << 30);
  host.set_mem_available_bytes(int64_t{12} << 30);
  EXPECT_CALL(read_, GetHostStats(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(host), Return(grpc::Status::OK)));
  Result r = Run({"host"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("16 GiB"));
  EXPECT_THAT(r.out, HasSubstr("12 GiB"));
}

TEST_F(HostCommandsTest, HealthExitsZeroOnlyWhileServing) {
  HealthCheckResponse not_serving;
  not_serving.set_status(HealthCheckResponse::NOT_SERVING);
  EXPECT_CALL(health_, Check(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(not_serving), Return(grpc::Status::OK)));
  Result r = Run({"health"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "NOT_SERVING: balloond cannot reach libvirt; see its log\n");
}

TEST_F(HostCommandsTest, HealthServing) {
  HealthCheckResponse serving;
  serving.set_status(HealthCheckResponse::SERVING);
  EXPECT_CALL(health_, Check(_, _, _))
      .WillOnce(DoAll(SetArgPointee<2>(serving), Return(grpc::Status::OK)));
  Result r = Run({"health", "-o", "json"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "{\"status\":\"SERVING\"}\n");
}

// balloonctl's own version whatever happens; balloond's is read from its health answer (the
// integration tests read it from a real one).
TEST_F(HostCommandsTest, VersionWithoutABalloondStillSaysBalloonctls) {
  EXPECT_CALL(health_, Check(_, _, _))
      .WillOnce(Return(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                                    "failed to connect to all addresses; No such file")));
  Result r = Run({"version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_THAT(r.out, ::testing::StartsWith("balloonctl "));
  EXPECT_THAT(r.err, HasSubstr("balloonctl: balloond did not answer: is balloond running"));
  EXPECT_FALSE(read_write_);
}

TEST_F(HostCommandsTest, TopRefusesARefreshTooFastToRead) {
  Result r = Run({"top", "--refresh", "10ms"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("--refresh '10ms' is not a duration of at least 100ms"));
}

TEST_F(HostCommandsTest, NoCommandIsAUsageError) {
  Result none = Run({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_THAT(none.err, HasSubstr("A subcommand is required"));
  EXPECT_FALSE(connected_);
}

TEST_F(HostCommandsTest, AMistypedCommandIsAnsweredWithTheNearestOnes) {
  Result lsit = Run({"lsit"});
  EXPECT_EQ(lsit.exit_code, 2);
  EXPECT_THAT(lsit.err, HasSubstr("balloonctl: unknown command 'lsit'. Did you mean 'list'? The "
                                  "commands are list, stats, set, release, "));
  EXPECT_FALSE(connected_);
}

TEST_F(HostCommandsTest, AMistypedCommandAfterGlobalFlagsOrWithinAFamily) {
  EXPECT_THAT(Run({"--socket", "/tmp/x.sock", "-o", "json", "stat", "web1"}).err,
              HasSubstr("unknown command 'stat'. Did you mean 'stats'?"));
}

TEST_F(HostCommandsTest, AMistypedFamilyAndSubcommand) {
  EXPECT_THAT(Run({"polcy", "show"}).err,
              HasSubstr("unknown command 'polcy'. Did you mean 'policy'?"));
}

TEST_F(HostCommandsTest, AMistypedSubcommandOfAFamily) {
  Result r = Run({"policy", "shwo"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("unknown command 'policy shwo'. Did you mean 'show'? The commands "
                               "of policy are show, set, "));
}

// (Moved here from the integration tests, which needed a libvirtd and a guest to check them.)
class UsageErrorTest : public CommandTest,
                       public ::testing::WithParamInterface<std::vector<std::string>> {};

TEST_P(UsageErrorTest, ExitsTwoBeforeAnyCall) {
  Result r = Run(GetParam());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_FALSE(r.err.empty());
  EXPECT_FALSE(connected_);
}

INSTANTIATE_TEST_SUITE_P(Lines, UsageErrorTest,
                         ::testing::Values(std::vector<std::string>{"frobnicate"},
                                           std::vector<std::string>{"set", "web1"},
                                           std::vector<std::string>{"-o", "yaml", "list"},
                                           std::vector<std::string>{"list", "-o", "yaml"},
                                           std::vector<std::string>{"stats"},
                                           std::vector<std::string>{"reserve", "1G", "--frob"}));

TEST_F(HostCommandsTest, ABadTimeoutIsAUsageError) {
  Result r = Run({"host", "--timeout", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "balloonctl: --timeout 'soon' is not a duration; write e.g. 10s or 2m\n");
}

TEST_F(HostCommandsTest, HelpExitsZero) {
  Result r = Run({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const char* command :
       {"list", "stats", "set", "release", "qom", "host", "capacity", "reserve", "reservations",
        "health", "version", "policy", "top", "decisions", "events"}) {
    EXPECT_THAT(r.out, HasSubstr(command)) << command;
  }
}

}  // namespace
}  // namespace balloond::cli
