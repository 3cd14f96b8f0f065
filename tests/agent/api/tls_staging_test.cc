// The TLS files gRPC reads: staged only when they check out.
#include "agent/api/tls_staging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "agent/base/files.h"
#include "tests/agent/base/fake_clock.h"
#include "tests/agent/base/temp_dir.h"
#include "tests/testdata.h"

namespace balloond {
namespace {

using ::balloond::testing::FakeClock;
using ::balloond::testing::ReadTestData;
using ::testing::HasSubstr;

class StagedTlsFilesTest : public ::testing::Test {
 protected:
  StagedTlsFilesTest() {
    tls_.listen = "127.0.0.1:0";
    tls_.cert_file = dir_ + "/live.crt";
    tls_.key_file = dir_ + "/live.key";
    tls_.client_ca_file = dir_ + "/ca.crt";
    Install("server.crt", "server.key");
    Copy("ca.crt", tls_.client_ca_file);
  }
  void Copy(const std::string& testdata, const std::string& to) {
    ASSERT_TRUE(WriteFileAtomically(to, ReadTestData("tls/" + testdata)).ok());
  }
  void Install(const std::string& cert, const std::string& key) {
    Copy(cert, tls_.cert_file);
    Copy(key, tls_.key_file);
  }

  testing::TempDir temp_{"tls-staging-test"};
  std::string dir_ = temp_.path();
  TlsSettings tls_;
  FakeClock clock_;
};

TEST_F(StagedTlsFilesTest, StagesTheKeyWithItsChainInOnePrivateFile) {
  auto staged = StagedTlsFiles::Start(tls_, dir_ + "/run", absl::Hours(1), clock_);
  ASSERT_TRUE(staged.ok()) << staged.status();
  const std::string identity = ReadWholeFile((*staged)->identity_path()).value();
  EXPECT_THAT(identity, HasSubstr("PRIVATE KEY"));
  EXPECT_THAT(identity, HasSubstr("BEGIN CERTIFICATE"));
  const std::string staging = (*staged)->dir();
  EXPECT_THAT(staging, ::testing::StartsWith(dir_ + "/run/tls."));
  struct stat st;
  ASSERT_EQ(stat(staging.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((*staged)->identity_path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  staged->reset();
  EXPECT_FALSE(std::filesystem::exists(staging)) << "the copies go with balloond";
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/run")) << "not the directory it was given";
}

// The review's finding 7: an operator keeping certificates in <socket dir>/tls lost them to
// balloond's start. Now only balloond's own staging directories go, and only holding its files.
TEST_F(StagedTlsFilesTest, NothingButItsOwnLeftoversIsRemoved) {
  const std::string run = dir_ + "/run";
  std::filesystem::create_directories(run + "/tls");
  ASSERT_TRUE(WriteFileAtomically(run + "/tls/server.crt", "the operator's").ok());
  std::filesystem::create_directories(run + "/tls.crash1");
  ASSERT_TRUE(WriteFileAtomically(run + "/tls.crash1/identity.pem", "old").ok());
  ASSERT_TRUE(WriteFileAtomically(run + "/tls.crash1/client-ca.pem", "old").ok());
  std::filesystem::create_directories(run + "/tls.other1");
  ASSERT_TRUE(WriteFileAtomically(run + "/tls.other1/notes.txt", "someone's").ok());
  std::filesystem::create_symlink(dir_, run + "/tls.link11");

  auto staged = StagedTlsFiles::Start(tls_, run, absl::Hours(1), clock_);
  ASSERT_TRUE(staged.ok()) << staged.status();
  EXPECT_EQ(ReadWholeFile(run + "/tls/server.crt").value_or(""), "the operator's");
  EXPECT_FALSE(std::filesystem::exists(run + "/tls.crash1")) << "a crashed balloond's copies go";
  EXPECT_TRUE(std::filesystem::exists(run + "/tls.other1/notes.txt"));
  EXPECT_TRUE(std::filesystem::is_symlink(run + "/tls.link11"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/live.crt")) << "a link is never followed";
}

// A TLS file inside a staging directory (a copy a crashed balloond left, say) would be removed as
// a leftover: balloond refuses to start instead, naming it, and removes nothing.
TEST_F(StagedTlsFilesTest, ATlsFileInsideAStagingDirectoryIsRefusedAndKept) {
  const std::string run = dir_ + "/run";
  std::filesystem::create_directories(run + "/tls.crash1");
  Copy("server.crt", run + "/tls.crash1/identity.pem");
  TlsSettings inside = tls_;
  inside.cert_file = run + "/tls.crash1/identity.pem";
  auto staged = StagedTlsFiles::Start(inside, run, absl::Hours(1), clock_);
  ASSERT_FALSE(staged.ok());
  EXPECT_THAT(std::string(staged.status().message()),
              HasSubstr(inside.cert_file + " lies in a TLS staging directory of balloond's"));
  EXPECT_TRUE(std::filesystem::exists(inside.cert_file));
}

TEST_F(StagedTlsFilesTest, BrokenRotationsAreNotTakenAndAGoodOneIs) {
  auto staged = StagedTlsFiles::Start(tls_, dir_ + "/run", absl::Hours(1), clock_);
  ASSERT_TRUE(staged.ok()) << staged.status();
  const std::string before = ReadWholeFile((*staged)->identity_path()).value();

  Install("expired.crt", "expired.key");
  absl::Status expired = (*staged)->Refresh(clock_.Now());
  EXPECT_THAT(std::string(expired.message()), HasSubstr("expired"));
  Install("operator.crt", "server.key");  // half a rotation: another certificate's key
  EXPECT_THAT(std::string((*staged)->Refresh(clock_.Now()).message()),
              HasSubstr("is not the key of the certificate"));
  Copy("garbage.pem", tls_.client_ca_file);
  Install("server.crt", "server.key");
  EXPECT_FALSE((*staged)->Refresh(clock_.Now()).ok()) << "an unreadable CA";
  EXPECT_EQ(ReadWholeFile((*staged)->identity_path()).value(), before);

  Copy("ca.crt", tls_.client_ca_file);
  Install("operator.crt", "operator.key");
  EXPECT_TRUE((*staged)->Refresh(clock_.Now()).ok());
  EXPECT_NE(ReadWholeFile((*staged)->identity_path()).value(), before);
}

TEST_F(StagedTlsFilesTest, ABadFileAtStartIsAnErrorNamingTheFlag) {
  Install("server.crt", "reader.key");
  auto staged = StagedTlsFiles::Start(tls_, dir_ + "/run", absl::Hours(1), clock_);
  ASSERT_FALSE(staged.ok());
  EXPECT_THAT(std::string(staged.status().message()), HasSubstr("--tls-key"));
}

}  // namespace
}  // namespace balloond
