// Clients' QOM requests: path, property and domain validation, and the path guard walking a QOM
// tree made up from the input. A path the guard lets through must be children all the way.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/qom/qom_path_guard.h"
#include "agent/qom/qom_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string path = in.ConsumeRandomLengthString(600);
  const std::string property = in.ConsumeRandomLengthString(200);
  (void)balloond::ValidateQomProperty(property);
  (void)balloond::ValidateDomainRef(property);
  (void)balloond::CheckQomPathAllowed(path);
  if (!balloond::ValidateQomPath(path).ok()) return 0;

  // A tree: each listed parent gets entries with a made-up type, child<> or link<>.
  std::map<std::string, std::vector<balloond::QomPropertyInfo>> tree;
  std::map<std::string, bool> is_child;  // full path of an entry -> child<>?
  balloond::QomLister list =
      [&](const std::string& parent) -> absl::StatusOr<std::vector<balloond::QomPropertyInfo>> {
    if (in.ConsumeBool()) return absl::DeadlineExceededError("no answer");
    auto& entries = tree[parent];
    if (entries.empty()) {
      // The segment the walk is after, plus noise.
      for (int i = 0, n = in.ConsumeIntegralInRange(0, 4); i < n; ++i) {
        std::string name = in.ConsumeRandomLengthString(20);
        name.erase(std::remove(name.begin(), name.end(), '/'), name.end());  // as QEMU's are
        entries.push_back({name, in.ConsumeBool() ? "child<x>" : "link<y>"});
      }
      for (absl::string_view segment : absl::StrSplit(path, '/', absl::SkipEmpty())) {
        entries.push_back({std::string(segment), in.ConsumeBool() ? "child<x>" : "link<y>"});
      }
      for (const auto& e : entries) {
        const std::string full = parent == "/" ? "/" + e.name : parent + "/" + e.name;
        is_child.emplace(full, absl::StartsWith(e.type, "child<"));
      }
    }
    return entries;
  };
  balloond::QomPathGuard guard(/*max_remembered_paths=*/8);
  if (guard.Check("p", path, list).ok()) {
    std::string prefix;
    for (absl::string_view segment : absl::StrSplit(path, '/', absl::SkipEmpty())) {
      prefix += "/" + std::string(segment);
      auto it = is_child.find(prefix);
      if (it != is_child.end() && !it->second) __builtin_trap();  // let through a link
    }
  }
  return 0;
}
