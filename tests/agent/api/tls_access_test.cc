#include "agent/api/tls_access.h"

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

std::vector<OperatorIdentity> Operators(std::vector<std::string> flags) {
  std::vector<OperatorIdentity> out;
  for (const std::string& f : flags) out.push_back(ParseOperatorIdentity(f).value());
  return out;
}

TEST(AuthorizeTest, OnlyOperatorsChangeMatchedByTheirKindOfName) {
  const char* set = "/balloon.v1.BalloonControlService/SetBalloonTarget";
  EXPECT_TRUE(Authorize(set, Reader(), Operators({"spiffe://example.org/reader"})).ok());
  EXPECT_TRUE(Authorize(set, Reader(), Operators({"uri:spiffe://example.org/reader"})).ok());
  EXPECT_TRUE(Authorize(set, Reader(), Operators({"dns:reader.example.org"})).ok());
  // A name of one kind never matches another kind: a DNS name is not a URI.
  EXPECT_FALSE(Authorize(set, Reader(), Operators({"dns:spiffe://example.org/reader"})).ok());
  EXPECT_FALSE(Authorize(set, Reader(), Operators({"uri:reader.example.org"})).ok());

  absl::Status denied = Authorize(set, Reader(), Operators({"spiffe://example.org/operator"}));
  EXPECT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  // It names the identity balloond saw and the setting that would allow it.
  EXPECT_THAT(std::string(denied.message()), HasSubstr("CN reader1"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("SAN URI spiffe://example.org/reader"));
  EXPECT_THAT(std::string(denied.message()),
              HasSubstr("--tls-operator=spiffe://example.org/reader"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("tls { operators:"));
  EXPECT_THAT(std::string(denied.message()), HasSubstr("SetBalloonTarget"));
}

// A CA that lets requesters choose their CN must not make a reader an operator: with any
// subjectAltName present, the CN is not an identity at all (RFC 6125).
TEST(AuthorizeTest, TheCommonNameCountsOnlyWithoutSubjectAltNames) {
  const char* set = "/balloon.v1.BalloonControlService/SetBalloonTarget";
  PeerIdentity posing;
  posing.common_name = "spiffe://example/ns/ops/sa/rebalancer";
  posing.uris = {"spiffe://example/ns/app/sa/reader"};
  EXPECT_EQ(Authorize(set, posing, Operators({"spiffe://example/ns/ops/sa/rebalancer"})).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Authorize(set, posing, Operators({"cn:spiffe://example/ns/ops/sa/rebalancer"})).code(),
            absl::StatusCode::kPermissionDenied);
  PeerIdentity old_style;
  old_style.common_name = "rebalancer";
  EXPECT_TRUE(Authorize(set, old_style, Operators({"cn:rebalancer"})).ok());
  EXPECT_FALSE(Authorize(set, old_style, Operators({"uri:rebalancer"})).ok());
  absl::Status denied = Authorize(set, old_style, {});
  EXPECT_THAT(std::string(denied.message()), HasSubstr("--tls-operator=cn:rebalancer"));
}

TEST(ParseOperatorIdentityTest, TakesTypedNamesAndBareUrisAndExplainsTheRest) {
  EXPECT_EQ(ParseOperatorIdentity("dns:a.example.org")->kind, OperatorIdentity::Kind::kDns);
  EXPECT_EQ(ParseOperatorIdentity("cn:reader")->kind, OperatorIdentity::Kind::kCommonName);
  EXPECT_EQ(ParseOperatorIdentity("spiffe://x/y")->kind, OperatorIdentity::Kind::kUri);
  EXPECT_EQ(ParseOperatorIdentity("uri:spiffe://x/y")->name, "spiffe://x/y");
  absl::Status bare = ParseOperatorIdentity("rebalancer.example.org").status();
  EXPECT_EQ(bare.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bare.message()), HasSubstr("dns:rebalancer.example.org"));
  EXPECT_FALSE(ParseOperatorIdentity("").ok());
  EXPECT_FALSE(ParseOperatorIdentity("cn:").ok());
}

TEST(AuthorizeTest, AnEmptyNameNeverMatches) {
  PeerIdentity nameless;
  EXPECT_EQ(Authorize("/balloon.v1.BalloonControlService/UpdatePolicy", nameless,
                      {OperatorIdentity{OperatorIdentity::Kind::kCommonName, ""}})
                .code(),
            absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace balloond
