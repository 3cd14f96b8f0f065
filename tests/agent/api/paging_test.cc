// List calls' pages: a bounded size, and tokens that only the call and request that made them take.
#include "agent/api/paging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace balloond {
namespace {

using ::testing::HasSubstr;

TEST(PagingTest, APageIsAtMostTheCapAndZeroMeansTheCap) {
  EXPECT_EQ(ReadPageRequest(0, "", "ListDomains")->size, kMaxPageSize);
  EXPECT_EQ(ReadPageRequest(10, "", "ListDomains")->size, 10);
  EXPECT_EQ(ReadPageRequest(1 << 30, "", "ListDomains")->size, kMaxPageSize);
  auto negative = ReadPageRequest(-1, "", "ListDomains");
  EXPECT_EQ(negative.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(negative.status().message(), HasSubstr("page_size must not be negative"));
}

TEST(PagingTest, ATokenResumesItsOwnCallAndFilterOnly) {
  const std::string token = NextPageToken("ListDecisions", "web1", "42");
  auto page = ReadPageRequest(5, token, "ListDecisions", "web1");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->after, "42");
  EXPECT_EQ(page->size, 5);
  for (const auto& [call, filter] :
       {std::pair{"ListDecisions", "db1"}, std::pair{"ListDomains", "web1"}}) {
    auto wrong = ReadPageRequest(5, token, call, filter);
    EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument) << call << filter;
    EXPECT_THAT(wrong.status().message(), HasSubstr("pass next_page_token unchanged"));
  }
  for (const char* made_up : {"x", "cDEAAAA=", "!!!"}) {
    EXPECT_EQ(ReadPageRequest(5, made_up, "ListDecisions", "web1").status().code(),
              absl::StatusCode::kInvalidArgument)
        << made_up;
  }
}

}  // namespace
}  // namespace balloond
