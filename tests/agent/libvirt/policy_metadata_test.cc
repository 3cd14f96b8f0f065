#include "agent/libvirt/policy_metadata.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "policy/sizes.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

absl::Status ErrorOf(absl::string_view xml) { return ParsePolicyMetadata(xml).status(); }

TEST(PolicyMetadataTest, ReadsEverySettingInLibvirtsUnits) {
  auto s = ParsePolicyMetadata(R"(<policy>
      <enabled>no</enabled>
      <min unit='MiB'>512</min>
      <max>4194304</max>
      <shares>2000</shares>
      <headroom unit='G'>1</headroom>
      <headroomFraction>0.25</headroomFraction>
      <lowWatermark unit='bytes'>1048576</lowWatermark>
      <probe>yes</probe>
    </policy>)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->enabled());
  EXPECT_EQ(s->min_bytes(), 512 * kMiB);
  EXPECT_EQ(s->max_bytes(), 4 * kGiB);  // no unit: KiB, as libvirt's <memory>
  EXPECT_EQ(s->shares(), 2000);
  EXPECT_EQ(s->headroom_bytes(), kGiB);
  EXPECT_DOUBLE_EQ(s->headroom_fraction(), 0.25);
  EXPECT_EQ(s->low_watermark_bytes(), kMiB);
  EXPECT_TRUE(s->probe());
  EXPECT_FALSE(s->has_swap_in_bytes_per_second());
}

TEST(PolicyMetadataTest, ReadsTheElementAsTheDomainXmlHoldsIt) {
  auto s =
      ParsePolicyMetadata(R"(<balloond:policy xmlns:balloond="http://balloond.dev/xmlns/policy/1">
      <balloond:min unit="MiB">300</balloond:min></balloond:policy>)");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->min_bytes(), 300 * kMiB);
  EXPECT_FALSE(s->has_max_bytes());
}

TEST(PolicyMetadataTest, EachMistakeIsNamed) {
  EXPECT_THAT(ErrorOf("<policy><min unit='MiB'>lots</min></policy>").message(),
              HasSubstr("<min>: 'lots' is not a whole number"));
  EXPECT_THAT(ErrorOf("<policy><min unit='pages'>1</min></policy>").message(),
              HasSubstr("unknown unit 'pages'"));
  EXPECT_THAT(ErrorOf("<policy><minimum>1</minimum></policy>").message(),
              HasSubstr("<minimum>: unknown"));
  EXPECT_THAT(ErrorOf("<policy><min>1</min><min>2</min></policy>").message(),
              HasSubstr("appears twice"));
  EXPECT_THAT(ErrorOf("<policy><enabled>maybe</enabled></policy>").message(),
              HasSubstr("neither yes nor no"));
  EXPECT_THAT(ErrorOf("<policy><probe>often</probe></policy>").message(),
              HasSubstr("<probe>: 'often' is neither yes nor no"));
  EXPECT_THAT(ErrorOf("<policy><min unit='GiB'>2</min><max unit='GiB'>1</max></policy>").message(),
              HasSubstr("<min> must not exceed <max>"));
  EXPECT_THAT(ErrorOf("<policy><shares>0</shares></policy>").message(),
              HasSubstr("<shares> must be in [1, 1000000]"));
  EXPECT_THAT(ErrorOf("<policy><max unit='TiB'>99999999</max></policy>").message(),
              HasSubstr("must not exceed 1 PiB"));
  EXPECT_THAT(ErrorOf("<settings/>").message(), HasSubstr("one <policy> element"));
  EXPECT_THAT(ErrorOf("<x:policy xmlns:x='http://else.where/'/>").message(),
              HasSubstr("one <policy> element"));
  EXPECT_THAT(ErrorOf("<policy><min>").message(), HasSubstr("not well-formed"));
  for (const auto& s : {ErrorOf("<policy><min>1</min><min>2</min></policy>"), ErrorOf("<a/>")}) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(PolicyMetadataTest, WhatIsWrittenReadsBackTheSame) {
  v1::DomainPolicy settings;
  settings.set_enabled(true);
  settings.set_min_bytes(512 * kMiB);
  settings.set_max_bytes(3 * kGiB + 4 * kKiB);
  settings.set_shares(1500);
  settings.set_headroom_bytes(100);
  settings.set_headroom_fraction(0.125);
  settings.set_low_watermark_bytes(0);
  settings.set_probe(false);
  auto xml = FormatPolicyMetadata(settings);
  ASSERT_TRUE(xml.ok()) << xml.status();
  EXPECT_THAT(*xml, HasSubstr("<min unit='MiB'>512</min>"));
  auto back = ParsePolicyMetadata(*xml);
  ASSERT_TRUE(back.ok()) << back.status() << "\n" << *xml;
  EXPECT_EQ(back->SerializeAsString(), settings.SerializeAsString());
}

TEST(PolicyMetadataTest, SettingsMetadataDoesNotHoldAreRefused) {
  v1::DomainPolicy settings;
  settings.set_swap_in_bytes_per_second(kMiB);
  EXPECT_THAT(FormatPolicyMetadata(settings).status().message(),
              HasSubstr("swap_in_bytes_per_second is not kept in a domain's metadata"));
  EXPECT_TRUE(CheckMetadataHolds("low_watermark_bytes").ok());
  EXPECT_FALSE(CheckMetadataHolds("major_faults_per_second").ok());
}

}  // namespace
}  // namespace balloond
