#include "agent/qom/qom_request.h"

#include <gtest/gtest.h>

namespace balloond {
namespace {

TEST(ValidateQomPathTest, AcceptsRealPaths) {
  for (const char* p : {"/", "/machine", "/machine/peripheral/balloon0",
                        "/machine/i440fx/pci.0/child[4]", "/machine/peripheral-anon/device[0]",
                        "/objects/", "/machine/unattached/sysbus/qemu:memory-region"}) {
    EXPECT_TRUE(ValidateQomPath(p).ok()) << p;
  }
}

TEST(ValidateQomPathTest, RefusesWithAReason) {
  for (const char* p : {"", "machine", "/machine//peripheral", "/machine/../x", "/machine/a b",
                        "/machine/\x01", "/machine/x\"y"}) {
    absl::Status s = ValidateQomPath(p);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << p;
    EXPECT_FALSE(s.message().empty());
  }
  EXPECT_FALSE(ValidateQomPath("/" + std::string(600, 'a')).ok());
}

TEST(CheckQomPathAllowedTest, KeepsSecretsUnderObjectsOutOfReach) {
  EXPECT_EQ(CheckQomPathAllowed("/objects/masterKey0").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(CheckQomPathAllowed("/objects").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(CheckQomPathAllowed("/machine/peripheral/balloon0").ok());
  EXPECT_TRUE(CheckQomPathAllowed("/objectsfoo").ok());
}

TEST(ValidateQomPropertyTest, AcceptsNamesAndRefusesJunk) {
  EXPECT_TRUE(ValidateQomProperty("guest-stats").ok());
  EXPECT_TRUE(ValidateQomProperty("child[4]").ok());
  EXPECT_FALSE(ValidateQomProperty("").ok());
  EXPECT_FALSE(ValidateQomProperty("a/b").ok());
  EXPECT_FALSE(ValidateQomProperty(std::string(200, 'x')).ok());
}

}  // namespace
}  // namespace balloond
