#include "agent/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/policy.h"
#include "policy/settings.h"
#include "tests/paths.h"

namespace balloond {
namespace {

using ::testing::HasSubstr;

TEST(AgentConfigTest, AppliesTheFileOverTheDefaults) {
  auto config = ParseAgentConfig(R"(
    connect_uri: "qemu:///session"
    listen: "unix:/tmp/b/rw.sock"
    stats_period { seconds: 5 }
  )",
                                 "balloond.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  AgentSettings settings;
  ASSERT_TRUE(ApplyAgentConfig(*config, settings).ok());
  EXPECT_EQ(settings.connect_uri, "qemu:///session");
  EXPECT_EQ(settings.server.listen, "unix:/tmp/b/rw.sock");
  EXPECT_EQ(settings.server.listen_ro, "unix:/run/balloond/balloond-ro.sock");
  EXPECT_EQ(settings.stats_period, absl::Seconds(5));
}

TEST(AgentConfigTest, AParseErrorNamesFileAndLine) {
  auto config = ParseAgentConfig("connect_uri: \"qemu:///system\"\nstats_perod { seconds: 5 }\n",
                                 "/etc/balloond/balloond.textproto");
  ASSERT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("/etc/balloond/balloond.textproto:2:"));
  EXPECT_THAT(std::string(config.status().message()), HasSubstr("stats_perod"));
}

TEST(AgentConfigTest, RefusesBadValuesAndChangesNothing) {
  AgentSettings settings;
  balloon::v1::AgentConfig config;
  config.set_listen("tcp:0.0.0.0:1");
  EXPECT_EQ(ApplyAgentConfig(config, settings).code(), absl::StatusCode::kInvalidArgument);
  config.Clear();
  config.mutable_stats_period()->set_seconds(-1);
  EXPECT_EQ(ApplyAgentConfig(config, settings).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(settings.stats_period, absl::Seconds(2));
}

TEST(AgentConfigTest, ClientSharesAreReadAndMustLeaveRoom) {
  auto config = ParseAgentConfig(R"(
    limits {
      max_watches_per_client: 8
      max_unread_bytes_per_client: 2097152
      max_tls_connections_per_source: 4
      max_tls_connections_per_identity: 6
      tls_operator_connections: 10
    }
  )",
                                 "balloond.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  AgentSettings settings;
  ASSERT_TRUE(ApplyAgentConfig(*config, settings).ok());
  EXPECT_EQ(settings.server.limits.max_watches_per_client, 8);
  EXPECT_EQ(settings.server.limits.max_unread_bytes_per_client, 2 << 20);
  EXPECT_EQ(settings.server.limits.max_unread_bytes, 32 << 20) << "the default";
  EXPECT_EQ(settings.server.limits.max_tls_connections_per_source, 4);
  EXPECT_EQ(settings.server.limits.max_tls_connections_per_identity, 6);
  EXPECT_EQ(settings.server.limits.tls_operator_connections, 10);
  for (const char* bad :
       {"limits { max_watches_per_client: 0 }", "limits { max_unread_bytes: 1000 }",
        "limits { max_tls_connections: 16 tls_operator_connections: 16 }"}) {
    auto parsed = ParseAgentConfig(bad, "balloond.textproto");
    ASSERT_TRUE(parsed.ok()) << bad;
    AgentSettings unchanged;
    EXPECT_EQ(ApplyAgentConfig(*parsed, unchanged).code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
}

TEST(AgentConfigTest, TheShippedExampleConfigIsValid) {
  auto config = LoadAgentConfig(std::string(BALLOOND_SOURCE_DIR) + "/deploy/balloond.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  AgentSettings settings;
  ASSERT_TRUE(ApplyAgentConfig(*config, settings).ok());
  EXPECT_TRUE(policy::ValidatePolicy(settings.policy).ok());
  EXPECT_EQ(settings.policy.defaults().min_bytes(), 256LL << 20);
}

TEST(AgentConfigTest, TheShippedTlsConfigIsValid) {
  auto config =
      LoadAgentConfig(std::string(BALLOOND_SOURCE_DIR) + "/deploy/balloond-tls.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  AgentSettings settings;
  ASSERT_TRUE(ApplyAgentConfig(*config, settings).ok());
  EXPECT_EQ(settings.server.tls.listen, "0.0.0.0:7443");
  EXPECT_EQ(settings.server.tls.operators,
            std::vector<std::string>{"spiffe://example.org/balloond/operator"});
}

TEST(AgentConfigTest, ATlsListenerNeedsItsThreeFilesAndAnAddress) {
  TlsSettings tls;
  EXPECT_TRUE(ValidateTlsSettings(tls).ok()) << "off";
  tls.listen = "0.0.0.0:7443";
  EXPECT_THAT(std::string(ValidateTlsSettings(tls).message()), HasSubstr("--tls-cert"));
  tls.cert_file = "c";
  tls.key_file = "k";
  EXPECT_THAT(std::string(ValidateTlsSettings(tls).message()), HasSubstr("--tls-client-ca"));
  tls.client_ca_file = "ca";
  EXPECT_TRUE(ValidateTlsSettings(tls).ok());
  for (const char* bad : {"7443", "host", "host:x", ":7443", "host:70000", "[::1:7443"}) {
    tls.listen = bad;
    EXPECT_EQ(ValidateTlsSettings(tls).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  for (const char* good : {"[::]:7443", "balloond.example.org:7443", "127.0.0.1:0"}) {
    tls.listen = good;
    EXPECT_TRUE(ValidateTlsSettings(tls).ok()) << good;
  }
  TlsSettings files_only;
  files_only.cert_file = "c";
  EXPECT_THAT(std::string(ValidateTlsSettings(files_only).message()), HasSubstr("no --listen-tls"));
}

TEST(AgentConfigTest, SaysWhichChangedFieldsOnlyARestartApplies) {
  auto before = ParseAgentConfig(
      "stats_period { seconds: 2 } policy { mode: POLICY_MODE_OBSERVE } log_level: \"info\"",
      "a.textproto");
  auto after = ParseAgentConfig(
      "stats_period { seconds: 5 } policy { mode: POLICY_MODE_ENFORCE } log_level: \"debug\" "
      "listen: \"unix:/run/other.sock\"",
      "a.textproto");
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_THAT(FieldsReadOnlyAtStart(*before, *after),
              ::testing::ElementsAre("listen", "stats_period"));
  EXPECT_THAT(FieldsReadOnlyAtStart(*before, *before), ::testing::IsEmpty());
}

TEST(ParsePositiveDurationTest, TakesGoStyleDurationsAndPlainSeconds) {
  EXPECT_EQ(ParsePositiveDuration("2s").value(), absl::Seconds(2));
  EXPECT_EQ(ParsePositiveDuration("500ms").value(), absl::Milliseconds(500));
  EXPECT_EQ(ParsePositiveDuration("3").value(), absl::Seconds(3));
  EXPECT_FALSE(ParsePositiveDuration("0s").ok());
  EXPECT_FALSE(ParsePositiveDuration("-2s").ok());
  EXPECT_FALSE(ParsePositiveDuration("soon").ok());
  EXPECT_FALSE(ParsePositiveDuration("inf").ok());
}

TEST(UnixSocketPathTest, NeedsUnixAndAnAbsolutePath) {
  EXPECT_EQ(UnixSocketPath("unix:/run/balloond/balloond.sock").value(),
            "/run/balloond/balloond.sock");
  EXPECT_FALSE(UnixSocketPath("/run/balloond/balloond.sock").ok());
  EXPECT_FALSE(UnixSocketPath("unix:relative.sock").ok());
}

TEST(LoadAgentConfigTest, ADirectoryIsNoConfigFile) {
  auto config = LoadAgentConfig(::testing::TempDir());
  EXPECT_FALSE(config.ok());
  EXPECT_THAT(std::string(config.status().message()), ::testing::HasSubstr("is a directory"));
}

}  // namespace
}  // namespace balloond
