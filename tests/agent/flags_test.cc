// balloond's command line over its config file.
#include "agent/flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

namespace balloond {
namespace {

using ::testing::HasSubstr;

std::string ConfigFile(const std::string& text) {
  const std::string path =
      ::testing::TempDir() + "/flags-test-" + std::to_string(getpid()) + ".textproto";
  std::ofstream(path) << text;
  return path;
}

absl::StatusOr<AgentSettings> Parse(std::vector<std::string> args,
                                    balloon::v1::AgentConfig* loaded = nullptr) {
  CLI::App app;
  AgentFlags flags;
  AddFlags(app, flags);
  std::vector<const char*> argv = {"balloond"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  app.parse(static_cast<int>(argv.size()), argv.data());
  balloon::v1::AgentConfig ignored;
  return SettingsFrom(flags, loaded != nullptr ? *loaded : ignored);
}

TEST(FlagsTest, FlagsWinOverTheConfigFile) {
  const std::string file = ConfigFile(
      "connect_uri: \"qemu:///session\"\nstats_period { seconds: 5 }\nlog_level: \"debug\"\n");
  balloon::v1::AgentConfig loaded;
  auto settings =
      Parse({"--config=" + file, "--stats-period=1s", "--policy-mode=enforce"}, &loaded);
  ASSERT_TRUE(settings.ok()) << settings.status();
  EXPECT_EQ(settings->connect_uri, "qemu:///session");
  EXPECT_EQ(settings->stats_period, absl::Seconds(1));
  EXPECT_EQ(settings->log_level, LogLevel::kDebug);
  EXPECT_FALSE(settings->log_level_from_flag);
  EXPECT_EQ(settings->mode_override, balloon::v1::POLICY_MODE_ENFORCE);
  EXPECT_EQ(settings->config_file, file);
  EXPECT_EQ(loaded.stats_period().seconds(), 5) << "the file as read, for reloads";
}

TEST(FlagsTest, ABadValueIsAUsageErrorNamingTheFlag) {
  try {
    (void)Parse({"--stats-period=5h"});
    ADD_FAILURE() << "accepted";
  } catch (const CLI::ValidationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--stats-period"));
  }
}

TEST(FlagsTest, TlsFilesWithoutAListenerAreAUsageErrorAndABrokenFileIsNot) {
  auto tls = Parse({"--tls-cert=/x.crt"});
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  auto file = Parse({"--config=" + ConfigFile("stats_period { seconds: -3 }\n")});
  EXPECT_EQ(file.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("stats_period"));
}

}  // namespace
}  // namespace balloond
