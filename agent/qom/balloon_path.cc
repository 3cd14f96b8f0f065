#include "agent/qom/balloon_path.h"

#include <deque>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

constexpr const char* kBalloonDeviceTypes[] = {
    "virtio-balloon-pci", "virtio-balloon-pci-transitional", "virtio-balloon-pci-non-transitional",
    "virtio-balloon-ccw"};

// Children that are never containers of devices; skipping them keeps the walk small
// (/machine alone has hundreds of memory regions and IRQs).
bool IsLeafChildType(const std::string& type) {
  return type == "child<memory-region>" || type == "child<irq>" ||
         type == "child<qemu:memory-region>";
}

std::string JoinPath(const std::string& parent, const std::string& name) {
  return parent == "/" ? absl::StrCat("/", name) : absl::StrCat(parent, "/", name);
}

// The monitor failed (rather than the path not existing): searching on would only report failures
// as "no balloon".
bool IsMonitorFailure(const absl::Status& status) {
  return !status.ok() && status.code() != absl::StatusCode::kNotFound &&
         status.code() != absl::StatusCode::kInvalidArgument;
}

absl::StatusOr<bool> HasPollingInterval(const QomLister& list, const std::string& path) {
  auto props = list(path);
  if (!props.ok()) {
    if (IsMonitorFailure(props.status())) return props.status();
    return false;
  }
  for (const auto& p : *props) {
    if (p.name == "guest-stats-polling-interval") return true;
  }
  return false;
}

// Looks for a balloon child directly under `container`. NOT_FOUND if there is none.
absl::StatusOr<std::string> FindInContainer(const QomLister& list, const std::string& container) {
  auto props = list(container);
  if (!props.ok()) {
    return IsMonitorFailure(props.status()) ? props.status() : absl::NotFoundError(container);
  }
  for (const auto& p : *props) {
    if (!IsBalloonType(p.type) || !absl::StartsWith(p.type, "child<")) continue;
    std::string path = JoinPath(container, p.name);
    auto usable = HasPollingInterval(list, path);
    if (!usable.ok()) return usable.status();
    if (*usable) return path;
  }
  return absl::NotFoundError(container);
}

absl::StatusOr<std::string> WalkTree(const QomLister& list, const BalloonSearchLimits& limits) {
  std::deque<std::pair<std::string, int>> queue = {{"/", 0}};
  int lists = 0;
  while (!queue.empty() && lists < limits.max_lists) {
    auto [path, depth] = std::move(queue.front());
    queue.pop_front();
    ++lists;
    auto props = list(path);
    if (!props.ok()) {
      if (IsMonitorFailure(props.status())) return props.status();
      continue;
    }
    for (const auto& p : *props) {
      const std::string child = JoinPath(path, p.name);
      if (IsBalloonType(p.type)) {
        auto usable = HasPollingInterval(list, child);
        if (!usable.ok()) return usable.status();
        if (*usable) return child;
      }
      if (absl::StartsWith(p.type, "child<") && !IsLeafChildType(p.type) &&
          depth + 1 < limits.max_depth) {
        queue.emplace_back(child, depth + 1);
      }
    }
  }
  return absl::NotFoundError("no virtio-balloon device in the QOM tree");
}

}  // namespace

bool IsBalloonType(const std::string& qom_type) {
  for (const char* device : kBalloonDeviceTypes) {
    if (qom_type == absl::StrCat("child<", device, ">") ||
        qom_type == absl::StrCat("link<", device, ">")) {
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::string> FindBalloonPath(const QomLister& list,
                                            const BalloonSearchLimits& limits) {
  for (const char* container : {"/machine/peripheral", "/machine/peripheral-anon"}) {
    auto found = FindInContainer(list, container);
    if (found.ok() || found.status().code() != absl::StatusCode::kNotFound) return found;
  }
  return WalkTree(list, limits);
}

}  // namespace balloond
