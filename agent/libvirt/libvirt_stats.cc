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
#include "policy/sizes.h"

namespace balloond {
namespace {

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

std::string NodeXml(xmlNode* node) {
  std::unique_ptr<xmlBuffer, decltype(&xmlBufferFree)> buffer(xmlBufferCreate(), &xmlBufferFree);
  if (!buffer || xmlNodeDump(buffer.get(), node->doc, node, 0, 0) < 0) return "";
  return reinterpret_cast<const char*>(xmlBufferContent(buffer.get()));
}

// balloond's element of <metadata>, as XML text (its namespace declared on it, as libvirt keeps
// it).
std::string PolicyMetadataElement(xmlXPathContext* ctx) {
  const std::string expression =
      absl::StrCat("/domain/metadata/*[namespace-uri()='", kPolicyMetadataNamespace, "']");
  std::unique_ptr<xmlXPathObject, XPathObjectDeleter> result(
      xmlXPathEvalExpression(reinterpret_cast<const xmlChar*>(expression.c_str()), ctx));
  if (!result || result->nodesetval == nullptr || result->nodesetval->nodeNr == 0) return "";
  return NodeXml(result->nodesetval->nodeTab[0]);
}

// A size element of libvirt's XML (its text and unit attribute, KiB when it has none) in bytes;
// nullopt when it does not parse.
std::optional<int64_t> ScaledSize(const std::string& text, const std::string& unit) {
  const uint64_t scale = MemoryUnitBytes(unit.empty() ? "KiB" : unit);
  int64_t value = 0;
  if (scale == 0 || !absl::SimpleAtoi(text, &value) || value < 0) return std::nullopt;
  if (static_cast<uint64_t>(value) >
      static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / scale) {
    return std::nullopt;
  }
  return value * static_cast<int64_t>(scale);
}

// The domain's virtio-mem devices; one whose sizes do not parse is left out.
std::vector<MemoryDevice> MemoryDevices(xmlXPathContext* ctx) {
  std::vector<MemoryDevice> devices;
  std::unique_ptr<xmlXPathObject, XPathObjectDeleter> found(xmlXPathEvalExpression(
      reinterpret_cast<const xmlChar*>("/domain/devices/memory[@model='virtio-mem']"), ctx));
  if (!found || found->nodesetval == nullptr) return devices;
  for (int i = 0; i < found->nodesetval->nodeNr; ++i) {
    xmlNode* node = found->nodesetval->nodeTab[i];
    xmlNode* saved = ctx->node;
    ctx->node = node;
    const auto size_of = [ctx](const char* element) {
      return ScaledSize(
          XPathString(ctx, absl::StrCat("string(target/", element, ")").c_str()),
          XPathString(ctx, absl::StrCat("string(target/", element, "/@unit)").c_str()));
    };
    const std::optional<int64_t> size = size_of("size");
    const std::optional<int64_t> block = size_of("block");
    const std::optional<int64_t> requested = size_of("requested");
    const std::optional<int64_t> current = size_of("current");
    MemoryDevice d;
    d.alias = XPathString(ctx, "string(alias/@name)");
    (void)absl::SimpleAtoi(XPathString(ctx, "string(target/node)"), &d.node);
    ctx->node = saved;
    if (!size || !block || *block <= 0) continue;
    d.size_bytes = *size;
    d.block_bytes = *block;
    d.requested_bytes = requested.value_or(0);
    // Before libvirt has heard from the guest, what was asked is the best there is.
    d.current_bytes = current.value_or(d.requested_bytes);
    d.xml = NodeXml(node);
    devices.push_back(std::move(d));
  }
  return devices;
}

}  // namespace

absl::StatusOr<std::string> WithRequestedSize(absl::string_view device_xml,
                                              int64_t requested_bytes) {
  std::unique_ptr<xmlDoc, XmlDocDeleter> doc(xmlReadMemory(
      device_xml.data(),
      static_cast<int>(std::min<size_t>(device_xml.size(), std::numeric_limits<int>::max())),
      "memory.xml", nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return absl::InvalidArgumentError("the memory device's XML does not parse");
  std::unique_ptr<xmlXPathContext, XPathContextDeleter> ctx(xmlXPathNewContext(doc.get()));
  if (!ctx) return absl::InternalError("cannot make an XPath context");
  std::unique_ptr<xmlXPathObject, XPathObjectDeleter> target(xmlXPathEvalExpression(
      reinterpret_cast<const xmlChar*>("/memory[@model='virtio-mem']/target"), ctx.get()));
  if (!target || target->nodesetval == nullptr || target->nodesetval->nodeNr != 1) {
    return absl::InvalidArgumentError("not a virtio-mem device with a <target>");
  }
  xmlNode* parent = target->nodesetval->nodeTab[0];
  xmlNode* requested = nullptr;
  for (xmlNode* c = parent->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && xmlStrEqual(c->name, BAD_CAST "requested")) requested = c;
  }
  const std::string kib = absl::StrCat(requested_bytes / 1024);
  if (requested == nullptr) {
    requested = xmlNewChild(parent, nullptr, BAD_CAST "requested", BAD_CAST kib.c_str());
  } else {
    xmlNodeSetContent(requested, BAD_CAST kib.c_str());
  }
  if (requested == nullptr) return absl::InternalError("cannot write <requested>");
  xmlSetProp(requested, BAD_CAST "unit", BAD_CAST "KiB");
  return NodeXml(xmlDocGetRootElement(doc.get()));
}

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
  c.nosharepages =
      XPathString(ctx.get(), "string(count(/domain/memoryBacking/nosharepages))") != "0";
  c.policy_metadata = PolicyMetadataElement(ctx.get());
  c.memory_devices = MemoryDevices(ctx.get());
  return c;
}

}  // namespace balloond
