// balloond's log lines as journald and a terminal get them.
#include "agent/base/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/agent/base/fake_clock.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// What a log line quotes (a domain's metadata, a client's domain name) stays on its line: no second
// line starting with a journald priority, no terminal escape.
TEST(LogTest, ControlCharactersInAMessageAreWrittenOut) {
  ::testing::internal::CaptureStderr();
  Log(LogLevel::kWarning, "metadata of web1: <min>1\n<0>balloond emerg: forged</min>\x1b[2J\tend");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_THAT(out, HasSubstr("<min>1\\n<0>balloond emerg: forged</min>\\x1b[2J\\tend"));
  EXPECT_THAT(out, Not(HasSubstr("\x1b")));
}

TEST(LogTest, LinesBelowTheLevelAreDropped) {
  SetLogLevel(LogLevel::kWarning);
  ::testing::internal::CaptureStderr();
  Log(LogLevel::kInfo, "quiet");
  Log(LogLevel::kError, "loud");
  const std::string out = ::testing::internal::GetCapturedStderr();
  SetLogLevel(LogLevel::kInfo);
  EXPECT_THAT(out, Not(HasSubstr("quiet")));
  EXPECT_THAT(out, HasSubstr("balloond error: loud"));
}

// The review's finding 5: each handshake timeout was an ERROR line, 46,000 an hour. A flood of
// one kind of line is a line a minute, with a count of the rest.
TEST(PacedLogTest, AFloodOfOneLineIsLoggedAsARate) {
  testing::FakeClock clock;
  PacedLog paced(clock, absl::Minutes(1));
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 1300; ++i) {  // 10 a second for 130 s
    paced.Log("handshaker.cc:1", LogLevel::kError, "Handshake timed out");
    clock.Advance(absl::Milliseconds(100));
  }
  paced.Log("server.cc:2", LogLevel::kError, "another kind");
  const std::string out = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 3 + 1) << out;
  EXPECT_THAT(out, HasSubstr("Handshake timed out\n")) << "the first at once";
  EXPECT_THAT(out, HasSubstr("Handshake timed out (and 599 more like it in the last 1m"));
  EXPECT_THAT(out, HasSubstr("another kind"));
}

}  // namespace
}  // namespace balloond
