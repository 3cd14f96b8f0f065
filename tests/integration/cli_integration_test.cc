// balloonctl as operators use it at a terminal: `top` driven in a real pseudo-terminal (tmux) and
// piped, and bash completion of commands, flags and domain names.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "policy/enum_names.h"
#include "tests/integration/testbed.h"

namespace balloond::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    DestroyLeftoverGuests();
    guest_ = new Guest(BootedGuest("cli"));
    agent_ = new Agent({"--stats-period=1s"});
    ASSERT_TRUE(agent_->WaitServing()) << agent_->Log();
  }
  static void TearDownTestSuite() {
    delete agent_;
    delete guest_;
  }
  static Guest* guest_;
  static Agent* agent_;
};
Guest* CliIntegrationTest::guest_ = nullptr;
Agent* CliIntegrationTest::agent_ = nullptr;

CommandResult Tmux(std::vector<std::string> args) {
  args.insert(args.begin(), {"tmux", "-L", absl::StrCat("bdtest-", getpid())});
  return RunCommand(args);
}

// `balloonctl top` in a tmux pane of `columns` x `rows`, on a server of its own (killed when this
// goes away); when top exits, the pane shows "top-exited=<its status>".
class TopInTmux {
 public:
  TopInTmux(const std::string& socket, int columns, int rows) {
    const std::string command =
        absl::StrCat(BALLOONCTL_BIN, " --socket=", socket, " top; echo top-exited=$?; sleep 30");
    started_ = Tmux({"new-session", "-d", "-s", "top", "-x", absl::StrCat(columns), "-y",
                     absl::StrCat(rows), "bash", "-c", command})
                   .exit_code == 0;
  }
  ~TopInTmux() { Tmux({"kill-server"}); }
  bool started() const { return started_; }
  std::string Screen() const { return Tmux({"capture-pane", "-p", "-t", "top"}).out; }
  void Keys(const std::string& keys) const { Tmux({"send-keys", "-t", "top", keys}); }
  bool Exited() const {
    return WaitFor([&] { return absl::StrContains(Screen(), "top-exited=0"); }, absl::Seconds(10));
  }

 private:
  bool started_ = false;
};

TEST_F(CliIntegrationTest, TopDrawsEveryDomainFullScreenAndQuitsOnQ) {
  TopInTmux top(agent_->rw_socket(), 160, 30);
  ASSERT_TRUE(top.started());
  // The guest's row fills in from the watch streams: its balloon and what it has available.
  ASSERT_TRUE(WaitFor(
      [&] {
        const std::string s = top.Screen();
        return absl::StrContains(s, guest_->name()) && absl::StrContains(s, "AVAILABLE") &&
               absl::StrContains(s, "%)");
      },
      absl::Seconds(40)))
      << top.Screen();
  const std::string shown = top.Screen();
  EXPECT_THAT(shown, HasSubstr("host: "));
  EXPECT_THAT(shown, HasSubstr("(q to quit)"));

  top.Keys("q");
  // Back on the normal screen, with the exit status printed after it.
  EXPECT_TRUE(top.Exited()) << top.Screen();
  EXPECT_THAT(top.Screen(), Not(HasSubstr("(q to quit)")));
}

TEST_F(CliIntegrationTest, TopQuitsOnCtrlC) {
  TopInTmux top(agent_->rw_socket(), 120, 20);
  ASSERT_TRUE(top.started());
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(top.Screen(), guest_->name()); }, absl::Seconds(30)))
      << top.Screen();
  top.Keys("C-c");
  EXPECT_TRUE(top.Exited()) << top.Screen();
}

TEST_F(CliIntegrationTest, TopWritesPlainLinesWhenPiped) {
  CommandResult r = RunCommand({"timeout", "--preserve-status", "-s", "INT", "6", BALLOONCTL_BIN,
                                "--socket=" + agent_->rw_socket(), "top"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("NAME=", guest_->name())));
  EXPECT_THAT(r.out, HasSubstr("AVAILABLE="));
  EXPECT_THAT(r.out, Not(HasSubstr("\x1b[")));  // no terminal codes in a pipe
}

// What bash offers after `balloonctl ` + `words`, with the completion script the package installs.
std::string Complete(const std::string& line, const std::string& socket) {
  const std::string script = absl::StrCat(
      "export PATH=", std::string(BALLOONCTL_BIN).substr(0, std::string(BALLOONCTL_BIN).rfind('/')),
      ":$PATH; source ", BALLOOND_SOURCE_DIR, "/deploy/bash-completion/balloonctl; ",
      "COMP_LINE='balloonctl --socket=", socket, " ", line, "'; ",
      "read -ra COMP_WORDS <<< \"$COMP_LINE\"; ",
      // a trailing space starts a new, empty word
      "[[ $COMP_LINE == *' ' ]] && COMP_WORDS+=(''); ",
      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _balloonctl; printf '%s\\n' \"${COMPREPLY[@]}\"");
  return RunCommand({"bash", "-c", script}).out;
}

TEST_F(CliIntegrationTest, BashCompletesCommandsFlagsAndDomainNames) {
  const std::string socket = agent_->rw_socket();
  EXPECT_THAT(Complete("st", socket), HasSubstr("stats"));
  EXPECT_THAT(Complete("", socket), HasSubstr("top"));
  EXPECT_THAT(Complete("policy ", socket), HasSubstr("show"));
  EXPECT_THAT(Complete("policy mode ", socket), HasSubstr("enforce"));
  EXPECT_THAT(Complete("stats ", socket), HasSubstr(guest_->name()));
  EXPECT_THAT(Complete("set " + guest_->name().substr(0, 8), socket), HasSubstr(guest_->name()));
  EXPECT_THAT(Complete("list --ti", socket), HasSubstr("--timeout="));
  EXPECT_THAT(Complete("list -o ", socket), HasSubstr("json"));
  EXPECT_THAT(Complete("policy set host.res", socket), HasSubstr("host.reserve_bytes="));
  EXPECT_THAT(Complete("policy set et", socket), Not(HasSubstr("etag=")));  // not a setting
  EXPECT_THAT(Complete("policy set --if", socket), HasSubstr("--if-etag="));
  EXPECT_THAT(Complete("res", socket), HasSubstr("reservations"));
  EXPECT_THAT(Complete("reserve 1G --t", socket), HasSubstr("--ttl="));
  // A live reservation's id is offered to unreserve.
  ASSERT_EQ(agent_->Ctl({"reserve", "1M", "--ttl=1m"}).exit_code, 0);
  EXPECT_THAT(Complete("unreserve ", socket), HasSubstr("r-1"));
  // Every event kind, as the API has them.
  EXPECT_THAT(Complete("ev", socket), HasSubstr("events"));
  EXPECT_THAT(Complete("events --n", socket), HasSubstr("--new"));
  const std::string kinds = Complete("events --kind=", socket);
  const auto* type = google::protobuf::GetEnumDescriptor<balloon::v1::EventKind>();
  for (int i = 1; i < type->value_count(); ++i) {
    EXPECT_THAT(kinds, HasSubstr(ShortEnumName(type->value(i)) + "\n"));
  }
}

// Each error says what went wrong in words and, for programs, in a stable reason: the
// google.rpc.ErrorInfo in gRPC's error details, which balloonctl prints beside the code.
TEST_F(CliIntegrationTest, ErrorsCarryAStableReasonBesideTheirMessage) {
  balloon::v1::GetMemoryStatsRequest req;
  req.set_domain("bdtest-no-such-domain");
  balloon::v1::MemoryStats stats;
  const grpc::Status s = agent_->read().GetMemoryStats(Deadline().get(), req, &stats);
  ASSERT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(s.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "DOMAIN_NOT_FOUND");
  EXPECT_EQ(info.domain(), "balloond");
  EXPECT_EQ(info.metadata().at("domain"), "bdtest-no-such-domain");

  CommandResult missing = agent_->Ctl({"stats", "bdtest-no-such-domain"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("[NOT_FOUND DOMAIN_NOT_FOUND]"));
  CommandResult read_only = RunCommand(
      {BALLOONCTL_BIN, "--socket=" + agent_->ro_socket(), "set", guest_->name(), "400M"});
  EXPECT_THAT(read_only.err, HasSubstr("[PERMISSION_DENIED READ_ONLY_SOCKET]"));
  CommandResult stale = agent_->Ctl({"policy", "set", "mode=observe", "--if-etag=stale"});
  EXPECT_THAT(stale.err, HasSubstr("[ABORTED ETAG_MISMATCH]"));
  CommandResult too_big = agent_->Ctl({"set", guest_->name(), "64G"});
  EXPECT_THAT(too_big.err, HasSubstr("[FAILED_PRECONDITION TARGET_ABOVE_MAXIMUM]"));
  CommandResult unknown = agent_->Ctl({"unreserve", "r-404"});
  EXPECT_THAT(unknown.err, HasSubstr("[NOT_FOUND RESERVATION_NOT_FOUND]"));
}

}  // namespace
}  // namespace balloond::testing
