#include "policy/hotplug.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "policy/sizes.h"

namespace balloond::policy {
namespace {

constexpr int64_t kMinBalloonBytes = 64 * kMiB;

}  // namespace

int64_t BalloonBytes(const DomainInput& in) {
  const int64_t actual = in.actual_bytes.value_or(0);
  return in.hotplug ? actual - in.hotplug->plugged_bytes : actual;
}

int64_t BootMemoryBytes(const DomainInput& in) {
  return in.hotplug ? in.max_memory_bytes - in.hotplug->size_bytes : in.max_memory_bytes;
}

MemoryMove SplitMove(const DomainInput& in, int64_t total, bool may_unplug) {
  MemoryMove move;
  const int64_t actual = in.actual_bytes.value_or(0);
  if (!in.hotplug) {
    move.balloon_bytes = total;
    return move;
  }
  const Hotplug& h = *in.hotplug;
  const int64_t block = std::max<int64_t>(h.block_bytes, kKiB);
  const int64_t balloon = BalloonBytes(in);
  if (total > actual) {
    const int64_t need = total - actual;
    move.balloon_bytes = std::max(balloon, std::min(BootMemoryBytes(in), balloon + need));
    const int64_t rest = need - (move.balloon_bytes - balloon);
    if (rest > 0) {
      const int64_t blocks = (h.plugged_bytes + rest + block - 1) / block;
      move.requested_bytes = std::min(h.size_bytes / block * block, blocks * block);
      // Whole blocks plug up to a block more than asked: a balloon deflating in the same move
      // keeps that much back, so the guest gets the size decided (an operator waiting for it
      // sees it reached). A balloon already at full size is not inflated for it.
      const int64_t over = *move.requested_bytes - h.plugged_bytes - rest;
      move.balloon_bytes -= std::clamp<int64_t>(over, 0, move.balloon_bytes - balloon);
    }
  } else {
    const int64_t take = actual - total;
    const int64_t unplug = may_unplug ? std::min(h.plugged_bytes, take) / block * block : 0;
    // The balloon can take no more than the boot memory; it leaves the guest some of it.
    move.balloon_bytes = std::max(std::min(balloon, kMinBalloonBytes), balloon - (take - unplug));
    // Asked for what stays plugged also when nothing is unplugged: a plug still on its way stops.
    move.requested_bytes = (h.plugged_bytes - unplug) / block * block;
  }
  // A device at rest is left alone; one on its way is asked again (what it was asked may be newer
  // than what the caller saw).
  if (move.requested_bytes == h.requested_bytes && h.requested_bytes == h.plugged_bytes) {
    move.requested_bytes.reset();
  }
  return move;
}

std::string DescribeMove(const DomainInput& in, const MemoryMove& move) {
  if (!in.hotplug) return "";
  const Hotplug& h = *in.hotplug;
  const int64_t balloon = BalloonBytes(in);
  std::string device = "virtio-mem unchanged";
  if (move.requested_bytes) {
    const int64_t delta = *move.requested_bytes - h.plugged_bytes;
    device = delta > 0   ? absl::StrCat("virtio-mem plugs ", FormatBytes(delta), " more")
             : delta < 0 ? absl::StrCat("virtio-mem unplugs ", FormatBytes(-delta))
                         : "virtio-mem keeps what is plugged";
    absl::StrAppend(&device, " (requested ", FormatBytes(*move.requested_bytes), " of ",
                    FormatBytes(h.size_bytes), ")");
  } else if (h.plugged_bytes > 0) {
    device = absl::StrCat("virtio-mem keeps ", FormatBytes(h.plugged_bytes), " plugged");
  }
  std::string balloon_part = "the balloon stays";
  if (move.balloon_bytes > balloon) {
    balloon_part = move.balloon_bytes >= BootMemoryBytes(in)
                       ? absl::StrCat("the balloon deflates to the boot memory, ",
                                      FormatBytes(move.balloon_bytes))
                       : absl::StrCat("the balloon deflates to ", FormatBytes(move.balloon_bytes));
  } else if (move.balloon_bytes < balloon) {
    balloon_part = absl::StrCat("the balloon inflates to ", FormatBytes(move.balloon_bytes));
  }
  return absl::StrCat("; ", device, ", ", balloon_part);
}

}  // namespace balloond::policy
