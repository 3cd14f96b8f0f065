#include "agent/libvirt/policy_metadata.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

enum class Kind { kBool, kSize, kShares, kFraction };

// The metadata's elements and the DomainPolicy fields they hold.
struct Element {
  const char* element;
  const char* field;
  Kind kind;
};
constexpr Element kElements[] = {
    {"enabled", "enabled", Kind::kBool},
    {"min", "min_bytes", Kind::kSize},
    {"max", "max_bytes", Kind::kSize},
    {"shares", "shares", Kind::kShares},
    {"headroom", "headroom_bytes", Kind::kSize},
    {"headroomFraction", "headroom_fraction", Kind::kFraction},
    {"lowWatermark", "low_watermark_bytes", Kind::kSize},
    {"probe", "probe", Kind::kBool},
};

struct XmlDocDeleter {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};

std::string Text(const xmlNode* node) {
  xmlChar* content = xmlNodeGetContent(node);
  std::string out = content ? reinterpret_cast<const char*>(content) : "";
  xmlFree(content);
  return std::string(absl::StripAsciiWhitespace(out));
}

std::string Attribute(const xmlNode* node, const char* name) {
  xmlChar* value = xmlGetProp(node, reinterpret_cast<const xmlChar*>(name));
  std::string out = value ? reinterpret_cast<const char*>(value) : "";
  xmlFree(value);
  return out;
}

bool OurNamespaceOrNone(const xmlNode* node) {
  return node->ns == nullptr ||
         std::string(reinterpret_cast<const char*>(node->ns->href)) == kPolicyMetadataNamespace;
}

absl::Status Bad(absl::string_view element, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("balloond metadata <", element, ">: ", why));
}

absl::StatusOr<int64_t> ParseSize(const xmlNode* node, absl::string_view element) {
  const std::string text = Text(node);
  uint64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return Bad(element, absl::StrCat("'", text, "' is not a whole number"));
  }
  std::string unit = Attribute(node, "unit");
  if (unit.empty()) unit = "KiB";
  const uint64_t unit_bytes = MemoryUnitBytes(unit);
  if (unit_bytes != 0) {
    if (value > static_cast<uint64_t>(policy::kMaxMemoryBytes) / unit_bytes) {
      return Bad(element, "must not exceed 1 PiB");
    }
    return static_cast<int64_t>(value * unit_bytes);
  }
  return Bad(element, absl::StrCat("unknown unit '", unit, "' (libvirt's: b, KiB, MiB, GiB, TiB, ",
                                   "k, M, G, T, KB, MB, GB, TB)"));
}

absl::Status Set(const Element& e, const xmlNode* node, v1::DomainPolicy& out) {
  const std::string text = Text(node);
  switch (e.kind) {
    case Kind::kBool: {
      const auto* field = out.GetDescriptor()->FindFieldByName(e.field);
      if (text == "yes" || text == "on" || text == "true") {
        out.GetReflection()->SetBool(&out, field, true);
      } else if (text == "no" || text == "off" || text == "false") {
        out.GetReflection()->SetBool(&out, field, false);
      } else {
        return Bad(e.element, absl::StrCat("'", text, "' is neither yes nor no"));
      }
      return absl::OkStatus();
    }
    case Kind::kShares: {
      int32_t shares = 0;
      if (!absl::SimpleAtoi(text, &shares)) {
        return Bad(e.element, absl::StrCat("'", text, "' is not a whole number"));
      }
      out.set_shares(shares);
      return absl::OkStatus();
    }
    case Kind::kFraction: {
      double fraction = 0;
      if (!absl::SimpleAtod(text, &fraction)) {
        return Bad(e.element, absl::StrCat("'", text, "' is not a number"));
      }
      out.set_headroom_fraction(fraction);
      return absl::OkStatus();
    }
    case Kind::kSize: {
      auto size = ParseSize(node, e.element);
      if (!size.ok()) return size.status();
      const auto* field = out.GetDescriptor()->FindFieldByName(e.field);
      out.GetReflection()->SetInt64(&out, field, *size);
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

// A validation message about fields ("min_bytes must not exceed max_bytes") in the metadata's
// element names ("<min> must not exceed <max>").
std::string InElementNames(std::string message) {
  for (const Element& e : kElements) {
    absl::StrReplaceAll({{e.field, absl::StrCat("<", e.element, ">")}}, &message);
  }
  return message;
}

// The largest of libvirt's binary units that shows `bytes` exactly.
std::string SizeElement(const char* element, int64_t bytes) {
  for (const char* unit : {"GiB", "MiB", "KiB"}) {
    const auto unit_bytes = static_cast<int64_t>(MemoryUnitBytes(unit));
    if (bytes != 0 && bytes % unit_bytes == 0) {
      return absl::StrCat("  <", element, " unit='", unit, "'>", bytes / unit_bytes, "</", element,
                          ">\n");
    }
  }
  return absl::StrCat("  <", element, " unit='b'>", bytes, "</", element, ">\n");
}

// Short when that reads back the same (0.15), all the digits when it does not.
std::string ExactDecimal(double value) {
  std::string text = absl::StrCat(value);
  double back = 0;
  if (absl::SimpleAtod(text, &back) && back == value) return text;
  return absl::StrFormat("%.17g", value);
}

}  // namespace

absl::StatusOr<v1::DomainPolicy> ParsePolicyMetadata(absl::string_view element_xml) {
  // No network, no entities, no DTD: anyone who may define domains may write this.
  std::unique_ptr<xmlDoc, XmlDocDeleter> doc(xmlReadMemory(
      element_xml.data(),
      static_cast<int>(std::min<size_t>(element_xml.size(), std::numeric_limits<int>::max())),
      "metadata.xml", nullptr, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
  if (!doc) return absl::InvalidArgumentError("balloond metadata is not well-formed XML");
  const xmlNode* root = xmlDocGetRootElement(doc.get());
  if (root == nullptr || std::string(reinterpret_cast<const char*>(root->name)) != "policy" ||
      !OurNamespaceOrNone(root)) {
    return absl::InvalidArgumentError("balloond metadata must be one <policy> element");
  }
  v1::DomainPolicy out;
  std::set<std::string> seen;
  for (const xmlNode* child = root->children; child != nullptr; child = child->next) {
    if (child->type != XML_ELEMENT_NODE) continue;
    const std::string name = reinterpret_cast<const char*>(child->name);
    const Element* element = nullptr;
    for (const Element& e : kElements) {
      if (name == e.element && OurNamespaceOrNone(child)) element = &e;
    }
    if (element == nullptr) {
      return Bad(name,
                 "unknown (known: enabled, min, max, shares, headroom, headroomFraction, "
                 "lowWatermark, probe)");
    }
    if (!seen.insert(name).second) return Bad(name, "appears twice");
    if (absl::Status s = Set(*element, child, out); !s.ok()) return s;
  }
  if (absl::Status s = policy::ValidateDomainPolicy(out); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("balloond metadata: ", InElementNames(std::string(s.message()))));
  }
  return out;
}

MetadataSettings ReadMetadataSettings(absl::string_view element_xml) {
  MetadataSettings out;
  if (element_xml.empty()) return out;
  auto settings = ParsePolicyMetadata(element_xml);
  if (settings.ok()) {
    out.settings = *std::move(settings);
  } else {
    out.problem = absl::StrCat(settings.status().message(), "; ignored");
  }
  return out;
}

absl::StatusOr<std::string> FormatPolicyMetadata(const v1::DomainPolicy& settings) {
  const auto* reflection = settings.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> set;
  reflection->ListFields(settings, &set);
  for (const auto* field : set) {
    if (absl::Status s = CheckMetadataHolds(field->name()); !s.ok()) return s;
  }
  std::string xml = "<policy>\n";
  if (settings.has_enabled()) {
    absl::StrAppend(&xml, "  <enabled>", settings.enabled() ? "yes" : "no", "</enabled>\n");
  }
  if (settings.has_min_bytes()) xml += SizeElement("min", settings.min_bytes());
  if (settings.has_max_bytes()) xml += SizeElement("max", settings.max_bytes());
  if (settings.has_shares()) absl::StrAppend(&xml, "  <shares>", settings.shares(), "</shares>\n");
  if (settings.has_headroom_bytes()) xml += SizeElement("headroom", settings.headroom_bytes());
  if (settings.has_headroom_fraction()) {
    absl::StrAppend(&xml, "  <headroomFraction>", ExactDecimal(settings.headroom_fraction()),
                    "</headroomFraction>\n");
  }
  if (settings.has_low_watermark_bytes()) {
    xml += SizeElement("lowWatermark", settings.low_watermark_bytes());
  }
  if (settings.has_probe()) {
    absl::StrAppend(&xml, "  <probe>", settings.probe() ? "yes" : "no", "</probe>\n");
  }
  return xml + "</policy>";
}

absl::Status CheckMetadataHolds(absl::string_view field) {
  std::vector<absl::string_view> held;
  for (const Element& e : kElements) {
    if (field == e.field) return absl::OkStatus();
    held.push_back(e.field);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      field, " is not kept in a domain's metadata (it holds ", absl::StrJoin(held, ", "),
      "); set it on this host instead (without --persist=metadata)"));
}

}  // namespace balloond
