#include "agent/libvirt/libvirt_stats.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>

#include <limits>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/libvirt/policy_metadata.h"

namespace balloond {
namespace {

constexpr uint64_t kKiB = 1024;
// libvirt's VIR_DOMAIN_STATE_* values (libvirt-domain.h), as the "state.state" parameter has them.
constexpr uint64_t kLibvirtRunning = 1;
constexpr uint64_t kLibvirtPaused = 3;
constexpr uint64_t kLibvirtShutdown = 4;

// libvirt's balloon parameter names, the QEMU statistic each comes from, and libvirt's unit.
struct Mapping {
  const char* libvirt;
  const char* qemu;
  uint64_t unit;
};
constexpr Mapping kMappings[] = {
    {"swap_in", guest_stat::kSwapIn, kKiB},
    {"swap_out", guest_stat::kSwapOut, kKiB},
    {"major_fault", guest_stat::kMajorFaults, 1},
    {"minor_fault", guest_stat::kMinorFaults, 1},
    {"unused", guest_stat::kFreeMemory, kKiB},
    {"available", guest_stat::kTotalMemory, kKiB},
    {"usable", guest_stat::kAvailableMemory, kKiB},
    {"disk_caches", guest_stat::kDiskCaches, kKiB},
    {"hugetlb_pgalloc", guest_stat::kHtlbPgalloc, 1},
    {"hugetlb_pgfail", guest_stat::kHtlbPgfail, 1},
    {"rss", "rss", kKiB},
};

// `value` × `unit` as an int64; nullopt past INT64_MAX (no real memory size gets there).
std::optional<int64_t> Scaled(uint64_t value, uint64_t unit) {
  if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / unit)
    return std::nullopt;
  return static_cast<int64_t>(value * unit);
}

}  // namespace

DomainRunState LibvirtRunState(uint64_t state) {
  switch (state) {
    case kLibvirtRunning:
      return DomainRunState::kRunning;
    case kLibvirtPaused:
      return DomainRunState::kPaused;
    case kLibvirtShutdown:
      return DomainRunState::kShuttingDown;
    default:
      return DomainRunState::kOther;
  }
}

DomainStats ParseDomainStats(const std::vector<StatParam>& params) {
  DomainStats r;
  r.info.active = true;
  for (const auto& [name, value] : params) {
    absl::string_view field = name;
    if (field == "state.state") {
      r.info.state = LibvirtRunState(value);
      continue;
    }
    if (!absl::ConsumePrefix(&field, "balloon.")) continue;
    if (field == "current") {
      r.actual_bytes = Scaled(value, kKiB);
    } else if (field == "maximum") {
      r.info.max_memory_bytes = Scaled(value, kKiB).value_or(0);
    } else if (field == "last-update") {
      r.stats_read = true;
      r.guest.last_update_unix_seconds = Scaled(value, 1).value_or(0);
    } else {
      const Mapping* known = nullptr;
      for (const Mapping& m : kMappings) {
        if (field == m.libvirt) known = &m;
      }
      const std::string key = known ? known->qemu : std::string(field);
      if (auto v = Scaled(value, known ? known->unit : 1)) r.guest.values[key] = *v;
      // Only the guest's own statistics mean libvirt read the balloon: rss comes from /proc.
      if (field != "rss") r.stats_read = true;
    }
  }
  return r;
}

namespace {

struct XmlDocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct XPathContextDeleter {
  void operator()(xmlXPathContext* c) const { xmlXPathFreeContext(c); }
};
struct XPathObjectDeleter {
  void operator()(xmlXPathObject* o) const { xmlXPathFreeObject(o); }
};

// The string value of `expression` (empty when nothing matches).
std::string XPathString(xmlXPathContext* ctx, const char* expression) {
  std::unique_ptr<xmlXPathObject, XPathObjectDeleter> result(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expression), ctx));
  if (!result) return "";
  xmlChar* text = xmlXPathCastToString(result.get());
  std::string out = text ? reinterpret_cast<const char*>(text) : "";
  xmlFree(text);
  return out;
}

// balloond's element of <metadata>, as XML text (its namespace declared on it, as libvirt keeps
// it).
std::string PolicyMetadataElement(xmlXPathContext* ctx) {
  const std::string expression =
      absl::StrCat("/domain/metadata/*[namespace-uri()='", kPolicyMetadataNamespace, "']");
  std::unique_ptr<xmlXPathObject, XPathObjectDeleter> result(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expression.c_str()), ctx));
  if (!result || result->nodesetval == nullptr || result->nodesetval->nodeNr == 0) return "";
  std::unique_ptr<xmlBuffer, decltype(&xmlBufferFree)> buffer(xmlBufferCreate(), &xmlBufferFree);
  if (!buffer) return "";
  xmlNode* node = result->nodesetval->nodeTab[0];
  if (xmlNodeDump(buffer.get(), node->doc, node, 0, 0) < 0) return "";
  return reinterpret_cast<const char*>(xmlBufferContent(buffer.get()));
}

}  // namespace

absl::StatusOr<DomainConfig> ParseDomainXml(absl::string_view xml) {
  // No network, no entities, no DTD: the text is libvirt's, but parsed as untrusted all the same.
  std::unique_ptr<xmlDoc, XmlDocDeleter> doc(xmlReadMemory(
      xml.data(), static_cast<int>(std::min<size_t>(xml.size(), std::numeric_limits<int>::max())),
      "domain.xml", nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return absl::InvalidArgumentError("libvirt's domain XML does not parse");
  std::unique_ptr<xmlXPathContext, XPathContextDeleter> ctx(xmlXPathNewContext(doc.get()));
  if (!ctx) return absl::InternalError("cannot make an XPath context");
  if (XPathString(ctx.get(), "name(/*)") != "domain") {
    return absl::InvalidArgumentError("libvirt's domain XML has no <domain> root");
  }
  DomainConfig c;
  const std::string model = XPathString(ctx.get(), "string(/domain/devices/memballoon/@model)");
  c.has_balloon = absl::StartsWith(model, "virtio");
  const std::string period =
      XPathString(ctx.get(), "string(/domain/devices/memballoon/stats/@period)");
  if (!period.empty() && !absl::SimpleAtoi(period, &c.stats_period_seconds)) {
    c.stats_period_seconds = 0;
  }
  c.autodeflate = XPathString(ctx.get(), "string(/domain/devices/memballoon/@autodeflate)") == "on";
  c.free_page_reporting =
      XPathString(ctx.get(), "string(/domain/devices/memballoon/@freePageReporting)") == "on";
  c.policy_metadata = PolicyMetadataElement(ctx.get());
  return c;
}

}  // namespace balloond
