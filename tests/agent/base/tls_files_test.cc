#include "agent/base/tls_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "tests/paths.h"

namespace balloond {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string TlsData(const std::string& name) {
  return std::string(BALLOOND_TESTDATA_DIR) + "/tls/" + name;
}

TEST(TlsFilesTest, ReadsWhoACertificateNames) {
  auto certs = ReadCertificates("--tls-cert", TlsData("reader.crt"));
  ASSERT_TRUE(certs.ok()) << certs.status();
  const CertificateInfo& c = certs->front();
  EXPECT_EQ(c.common_name, "reader1");
  EXPECT_THAT(c.uris, ElementsAre("spiffe://example.org/reader"));
  EXPECT_THAT(c.dns_names, ElementsAre("reader.example.org"));
  EXPECT_EQ(c.issuer, "CN=balloond test CA");
  EXPECT_EQ(c.Describe(),
            "CN reader1, SAN URI spiffe://example.org/reader, SAN DNS reader.example.org");
  EXPECT_TRUE(CheckValidity("--tls-cert", c, absl::Now()).ok());
}

TEST(TlsFilesTest, AMissingOrEmptyFileSaysWhichAndWhy) {
  auto missing = ReadCertificates("--tls-ca", TlsData("nope.crt"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("--tls-ca"));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nope.crt"));
  auto garbage = ReadCertificates("--tls-ca", TlsData("garbage.pem"));
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(garbage.status().message()), HasSubstr("no PEM certificate"));
  EXPECT_EQ(ReadCertificates("--tls-ca", "").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TlsFilesTest, AKeyMustBeItsCertificates) {
  auto ok = ReadKeyPair("--tls-cert", TlsData("server.crt"), "--tls-key", TlsData("server.key"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(ok->certificate_pem, HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_THAT(ok->key_pem, HasSubstr("PRIVATE KEY"));

  auto mismatch =
      ReadKeyPair("--tls-cert", TlsData("server.crt"), "--tls-key", TlsData("reader.key"));
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatch.status().message()),
              HasSubstr("is not the key of the certificate"));

  auto not_a_key =
      ReadKeyPair("--tls-cert", TlsData("server.crt"), "--tls-key", TlsData("server.crt"));
  EXPECT_THAT(std::string(not_a_key.status().message()), HasSubstr("not a PEM private key"));
}

TEST(TlsFilesTest, AnExpiredCertificateSaysWhen) {
  auto expired = ReadCertificates("--tls-cert", TlsData("expired.crt"));
  ASSERT_TRUE(expired.ok());
  absl::Status s = CheckValidity("--tls-cert", expired->front(), absl::Now());
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("expired on 20"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("CN expired"));
  // And one used before its time.
  auto fresh = ReadCertificates("--tls-cert", TlsData("reader.crt"));
  EXPECT_THAT(std::string(CheckValidity("--tls-cert", fresh->front(), absl::UnixEpoch()).message()),
              HasSubstr("not valid before"));
}

}  // namespace
}  // namespace balloond
