#include <algorithm>
#include <numeric>

#include "absl/strings/str_cat.h"
#include "policy/cycle.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond::policy {

namespace v1 = balloon::v1;

void Reclaim(CycleContext& c) {
  if (c.out.host != HostCondition::kShort && c.unmet_relief == 0 && c.unmet_stale == 0) return;
  // A short host is taken a quarter of its reserve past it, so the next cycles hold rather than
  // trim again at every small change. In a storm that is the hard reserve: the soft one is lent.
  const int64_t kept = c.standing.KeptReserveBytes();
  int64_t needed =
      (c.out.host == HostCondition::kShort && c.free < kept ? kept - c.free + kept / 4 : 0) +
      c.unmet_relief + c.unmet_stale;
  if (needed == 0) needed = c.policy.max_shrink_step_bytes();  // PSI high with memory available
  const bool lend_headroom = c.unmet_relief > 0;
  std::vector<Assessment*> donors;
  // A donor relieved a moment ago keeps its use + headroom, or + twice its low watermark if less.
  std::vector<bool> lending_relief, lending_headroom_too;
  std::vector<int64_t> bases, wants;
  std::vector<double> weights;
  for (Assessment& a : c.all) {
    if (a.reason != v1::DECISION_REASON_UNSPECIFIED) continue;
    // A guest relieved a moment ago keeps what it got, unless others run out meanwhile (a storm,
    // the host at its hard reserve): then it lends all but twice its low watermark above its use
    // (relief gave ahead of growth that may have stopped since, and headroom that the guests
    // running out need more). Not down to the watermark: that squeezed hot page cache, the guest
    // refaulted and was relieved again, back and forth. Others lend their headroom, keeping the
    // growth they are seen to make.
    const DonorBlock block = WhyNotDonor(a, c.now);
    const bool just_relieved = block == DonorBlock::kJustRelieved;
    if (block != DonorBlock::kNone && !(lend_headroom && just_relieved)) continue;
    bool below_old_floor = false;
    if (lend_headroom) {
      const int64_t keeps =
          OffWatermarkBytes(a, just_relieved ? 2 : 1) + Deadband(c.policy, a.actual);
      below_old_floor = keeps < a.floor;
      a.floor = std::max(std::min(a.settings.min_bytes(), a.ceiling),
                         just_relieved ? std::min(a.floor, keeps) : keeps);
    }
    // A shrink still on its way counts as done: the step is measured from where the balloon goes.
    const int64_t base = c.enforce && a.history.following.pending_target
                             ? std::min(a.actual, *a.history.following.pending_target)
                             : a.actual;
    const int64_t excess = base - a.floor;
    if (excess <= Deadband(c.policy, a.actual)) continue;
    donors.push_back(&a);
    lending_relief.push_back(just_relieved);
    lending_headroom_too.push_back(below_old_floor);
    bases.push_back(base);
    wants.push_back(std::min(excess, c.policy.max_shrink_step_bytes()));
    weights.push_back(static_cast<double>(excess) * 1000.0 / a.settings.shares());
  }
  // The largest excess per share gives first, each up to its step: as few guests as possible
  // are touched per cycle, and more shares mean giving later.
  std::vector<size_t> order(donors.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return weights[x] > weights[y]; });
  std::vector<int64_t> taken(donors.size(), 0);
  for (size_t i : order) {
    if (needed <= 0) break;
    taken[i] = std::min(wants[i], needed);
    needed -= taken[i];
  }
  const std::string why =
      c.out.host == HostCondition::kShort
          ? c.standing.DescribeShort()
          : absl::StrCat("other guests need ", FormatBytes(c.unmet_relief + c.unmet_stale),
                         " the host cannot give");
  for (size_t i = 0; i < donors.size(); ++i) {
    Assessment& a = *donors[i];
    if (taken[i] <= 0) continue;
    Propose(a, bases[i] - taken[i], v1::DECISION_REASON_HOST_RECLAIM,
            absl::StrCat(
                why, ": took ", FormatBytes(taken[i]), " from ", a.input->name, ", shrunk from ",
                FormatBytes(bases[i]), " toward its floor of ", FormatBytes(a.floor),
                lending_relief[i] && lending_headroom_too[i]
                    ? absl::StrCat(" (relieved a moment ago: keeps its use ", FormatBytes(a.used),
                                   " + twice its low watermark, lending the rest)")
                : lending_relief[i]
                    ? absl::StrCat(" (relieved a moment ago: keeps its use ", FormatBytes(a.used),
                                   " + headroom ", FormatBytes(a.headroom),
                                   ", lending what it got beyond)")
                : lend_headroom ? absl::StrCat(" (use ", FormatBytes(a.used),
                                               " + low watermark, lending its headroom)")
                                : absl::StrCat(" (use ", FormatBytes(a.used), " + headroom ",
                                               FormatBytes(a.headroom), ")")));
  }
}

}  // namespace balloond::policy
