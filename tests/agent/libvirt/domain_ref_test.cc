#include "agent/libvirt/domain_ref.h"

#include <gtest/gtest.h>

namespace balloond {
namespace {

TEST(ValidateDomainRefTest, NeedsANameWithoutControlCharacters) {
  EXPECT_TRUE(ValidateDomainRef("web-1").ok());
  EXPECT_TRUE(ValidateDomainRef("391037f5-3b33-45b2-a1ae-e8003355c6ac").ok());
  EXPECT_EQ(ValidateDomainRef("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDomainRef("a\nb").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateDomainRef(std::string(300, 'x')).code(), absl::StatusCode::kInvalidArgument);
}

TEST(LooksLikeUuidTest, TakesLibvirtsUuidFormInEitherCase) {
  EXPECT_TRUE(LooksLikeUuid("391037f5-3b33-45b2-a1ae-e8003355c6ac"));
  EXPECT_TRUE(LooksLikeUuid("391037F5-3B33-45B2-A1AE-E8003355C6AC"));
  EXPECT_FALSE(LooksLikeUuid("391037f53b3345b2a1aee8003355c6ac"));
  EXPECT_FALSE(LooksLikeUuid("web1"));
  EXPECT_FALSE(LooksLikeUuid("391037f5-3b33-45b2-a1ae-e8003355c6ag"));
}

}  // namespace
}  // namespace balloond
