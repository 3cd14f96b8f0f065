// What the listeners may be told.
#include "agent/api/server_settings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

using ::testing::HasSubstr;

TEST(ServerSettingsTest, ListenAddressesAreCheckedAndSaySoWhenWrong) {
  EXPECT_EQ(UnixSocketPath("unix:/run/b.sock").value(), "/run/b.sock");
  EXPECT_FALSE(UnixSocketPath("/run/b.sock").ok());
  EXPECT_FALSE(UnixSocketPath("unix:relative.sock").ok());
  EXPECT_TRUE(ValidateHostPort("--listen-tls", "0.0.0.0:7443").ok());
  EXPECT_TRUE(ValidateHostPort("--listen-tls", "[::]:7443").ok());
  absl::Status bad = ValidateHostPort("--listen-tls", "7443");
  EXPECT_THAT(std::string(bad.message()), HasSubstr("--listen-tls '7443' must be HOST:PORT"));
  EXPECT_FALSE(ValidateHostPort("x", "host:70000").ok());
}

TEST(ServerSettingsTest, TlsNeedsItsListenerAndAllThreeFilesAndTypedOperators) {
  TlsSettings tls;
  EXPECT_TRUE(ValidateTlsSettings(tls).ok()) << "no TLS at all";
  tls.cert_file = "/x.crt";
  EXPECT_THAT(std::string(ValidateTlsSettings(tls).message()), HasSubstr("no --listen-tls"));
  tls.listen = "127.0.0.1:7443";
  EXPECT_THAT(std::string(ValidateTlsSettings(tls).message()), HasSubstr("--tls-key"));
  tls.key_file = "/x.key";
  tls.client_ca_file = "/ca.crt";
  EXPECT_TRUE(ValidateTlsSettings(tls).ok());
  tls.operators = {"orchestrator.example.org"};
  EXPECT_THAT(std::string(ValidateTlsSettings(tls).message()),
              HasSubstr("dns:orchestrator.example.org"));
}

}  // namespace
}  // namespace balloond
