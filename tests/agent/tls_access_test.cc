#include "agent/tls_access.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

using ::testing::HasSubstr;

PeerIdentity Reader() {
  PeerIdentity p;
  p.common_name = "reader1";
  p.uris = {"spiffe://example.org/reader"};
  p.dns_names = {"reader.example.org"};
  return p;
}

TEST(AuthorizeTest, EveryAuthenticatedClientReadsAndUsesHealthAndReflection) {
  for (const char* method :
       {"/balloon.v1.BalloonReadService/ListDomains",
        "/balloon.v1.BalloonReadService/WatchMemoryStats", "/grpc.health.v1.Health/Check",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"}) {
    EXPECT_TRUE(Authorize(method, Reader(), {}).ok()) << method;
  }
}

TEST(AuthorizeTest, OnlyOperatorsChangeMatchedByUriDnsOrCommonName) {
  const char* set = "/balloon.v1.BalloonControlService/SetBalloonTarget";
  EXPECT_TRUE(Authorize(set, Reader(), {"spiffe://example.org/reader"}).ok());
  EXPECT_TRUE(Authorize(set, Reader(), {"reader.example.org"}).ok());
  EXPECT_TRUE(Authorize(set, Reader(), {"other", "reader1"}).ok());

  absl::Status denied = Authorize(set, Reader(), {"spiffe://example.org/operator"});
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  // It names the identity balloond saw and the setting that would allow it.
  EXPECT_THAT(std::string(denied.message()), HasSubstr("CN reader1"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("SAN URI spiffe://example.org/reader"));
  EXPECT_THAT(std::string(denied.message()),
              HasSubstr("--tls-operator=spiffe://example.org/reader"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("tls { operators:"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("SetBalloonTarget"));
}

TEST(AuthorizeTest, AnEmptyNameNeverMatches) {
  PeerIdentity nameless;
  EXPECT_EQ(Authorize("/balloon.v1.BalloonControlService/UpdatePolicy", nameless, {""}).code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace balloond
