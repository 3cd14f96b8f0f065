#include "cli/policy_keys.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "cli/did_you_mean.h"
#include "cli/size.h"
#include "policy/enum_names.h"

namespace balloond {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

absl::Status Bad(absl::string_view key, absl::string_view value, absl::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat(key, "=", value, ": ", want));
}

std::vector<std::string> ScalarFieldNames(const Descriptor* d, const std::string& prefix) {
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_map() || f->is_repeated()) continue;
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) continue;  // etag: not a setting
    if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
        f->message_type()->full_name() != "google.protobuf.Duration") {
      continue;
    }
    names.push_back(prefix + f->name());
  }
  return names;
}

// The dotted path of `key` within `message`'s type, or "" if there is none.
std::string ResolveKey(const Descriptor* d, const std::string& key) {
  std::vector<std::string> parts = absl::StrSplit(key, '.');
  const Descriptor* at = d;
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* f = at->FindFieldByName(parts[i]);
    if (f == nullptr || f->is_map() || f->is_repeated() ||
        f->cpp_type() == FieldDescriptor::CPPTYPE_STRING) {
      break;
    }
    if (i + 1 == parts.size()) {
      const bool duration = f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
                            f->message_type()->full_name() == "google.protobuf.Duration";
      return f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || duration ? key : "";
    }
    if (f->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE) break;
    at = f->message_type();
  }
  // On a Policy, a DomainPolicy field alone means the defaults.
  if (const FieldDescriptor* defaults = d->FindFieldByName("defaults");
      defaults != nullptr && key.find('.') == std::string::npos) {
    return ResolveKey(defaults->message_type(), key).empty() ? "" : "defaults." + key;
  }
  return "";
}

absl::Status SetValue(Message& m, const FieldDescriptor* f, const std::string& key,
                      const std::string& value) {
  const auto* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_INT32: {
      int64_t v = 0;
      if (absl::EndsWith(f->name(), "_bytes")) {
        auto size = ParseMemorySize(value);
        if (!size.ok()) return Bad(key, value, size.status().message());
        v = *size;
      } else if (!absl::SimpleAtoi(value, &v)) {
        return Bad(key, value, "expected a whole number");
      }
      if (f->cpp_type() == FieldDescriptor::CPPTYPE_INT32) {
        if (v < INT32_MIN || v > INT32_MAX) return Bad(key, value, "out of range");
        r->SetInt32(&m, f, static_cast<int32_t>(v));
      } else {
        r->SetInt64(&m, f, v);
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_DOUBLE: {
      double v = 0;
      if (!absl::SimpleAtod(value, &v)) return Bad(key, value, "expected a number, e.g. 0.2");
      r->SetDouble(&m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_BOOL: {
      bool v = false;
      if (!absl::SimpleAtob(value, &v)) return Bad(key, value, "expected true or false");
      r->SetBool(&m, f, v);
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_ENUM: {
      // By short name, in any case: "enforce" for POLICY_MODE_ENFORCE; or by the proto's name.
      if (auto number = EnumByShortName(f->enum_type(), absl::AsciiStrToLower(value))) {
        r->SetEnumValue(&m, f, *number);
        return absl::OkStatus();
      }
      if (const auto* named = f->enum_type()->FindValueByName(absl::AsciiStrToUpper(value));
          named != nullptr && named->number() != 0) {
        r->SetEnumValue(&m, f, named->number());
        return absl::OkStatus();
      }
      return Bad(key, value,
                 absl::StrCat("expected ", absl::StrJoin(ShortEnumNames(f->enum_type()), ", ")));
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {  // google.protobuf.Duration
      absl::Duration d;
      if (!absl::ParseDuration(value, &d) || d <= absl::ZeroDuration()) {
        return Bad(key, value, "expected a positive duration, e.g. 10s or 5m");
      }
      auto* out = static_cast<google::protobuf::Duration*>(r->MutableMessage(&m, f));
      const int64_t nanos = absl::ToInt64Nanoseconds(d);
      out->set_seconds(nanos / 1000000000);
      out->set_nanos(static_cast<int32_t>(nanos % 1000000000));
      return absl::OkStatus();
    }
    default:
      return Bad(key, value, "this setting cannot be set from the command line");
  }
}

}  // namespace

std::vector<std::string> PolicyKeys(const Descriptor* d) {
  std::vector<std::string> known = ScalarFieldNames(d, "");
  if (const FieldDescriptor* defaults = d->FindFieldByName("defaults")) {
    auto more = ScalarFieldNames(defaults->message_type(), "");
    known.insert(known.end(), more.begin(), more.end());
  }
  if (const FieldDescriptor* host = d->FindFieldByName("host")) {
    auto more = ScalarFieldNames(host->message_type(), "host.");
    known.insert(known.end(), more.begin(), more.end());
  }
  std::sort(known.begin(), known.end());
  return known;
}

absl::StatusOr<std::string> PolicyKeyPath(const Descriptor* d, const std::string& key) {
  const std::string path = ResolveKey(d, key);
  if (!path.empty()) return path;
  const std::vector<std::string> known = PolicyKeys(d);
  return absl::InvalidArgumentError(absl::StrCat("unknown setting '", key, "'.",
                                                 DidYouMean(key, known),
                                                 " The settings: ", absl::StrJoin(known, ", ")));
}

absl::Status ApplyPolicyAssignments(const std::vector<std::string>& assignments, Message& message,
                                    google::protobuf::FieldMask& mask) {
  const Descriptor* d = message.GetDescriptor();
  for (const std::string& assignment : assignments) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("'", assignment, "' is not KEY=VALUE"));
    }
    const std::string key = assignment.substr(0, eq);
    const std::string value = assignment.substr(eq + 1);
    auto path = PolicyKeyPath(d, key);
    if (!path.ok()) return path.status();
    Message* at = &message;
    std::vector<std::string> parts = absl::StrSplit(*path, '.');
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      at = at->GetReflection()->MutableMessage(at, at->GetDescriptor()->FindFieldByName(parts[i]));
    }
    const FieldDescriptor* f = at->GetDescriptor()->FindFieldByName(parts.back());
    if (absl::Status s = SetValue(*at, f, key, value); !s.ok()) return s;
    mask.add_paths(*path);
  }
  return absl::OkStatus();
}

}  // namespace balloond
