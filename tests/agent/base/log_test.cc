// balloond's log lines as journald and a terminal get them.
#include "agent/base/log.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

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

}  // namespace
}  // namespace balloond
