// What judging the host's capacity adds to a policy cycle: N idle guests on a host, each cycle's
// Decide alone (the baseline) against the agent's cycle, which reads the capacity and the decisions
// from one judgement of the inputs, in the same run. Prints microseconds per guest per cycle and
// the ratio. Not a test: figures for the README.
//
// Usage: build/tests/policy_cycle_bench [GUESTS...]   (default 20 100 250 1000)
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "policy/capacity.h"
#include "policy/policy.h"
#include "policy/sizes.h"
#include "tests/policy/test_guest.h"

namespace {

using balloond::kGiB;
using balloond::kMiB;
namespace policy = balloond::policy;

std::vector<policy::DomainInput> Guests(int n, absl::Time now) {
  std::vector<policy::DomainInput> guests;
  for (int i = 0; i < n; ++i) {
    policy::FakeGuest g = policy::Guest(std::to_string(i))
                              .Max(4 * kGiB)
                              .Actual(2 * kGiB + (i % 7) * 64 * kMiB)
                              .Used((256 + (i % 5) * 100) * kMiB);
    g.reported_at = now;
    guests.push_back(g.Input());
    guests.back().resident_bytes = kGiB;
  }
  return guests;
}

// Microseconds per guest per cycle over `cycles` cycles.
template <typename Cycle>
double PerGuest(int guests, int cycles, Cycle cycle) {
  const absl::Time start = absl::Now();
  for (int c = 0; c < cycles; ++c) cycle(c);
  return absl::ToDoubleMicroseconds(absl::Now() - start) / cycles / guests;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {20, 100, 250, 1000};
  balloon::v1::Policy enforce;
  enforce.set_mode(balloon::v1::POLICY_MODE_ENFORCE);
  policy::HostInput host;
  host.total_bytes = 512 * kGiB;
  host.available_bytes = 200 * kGiB;  // neutral: nothing to do but judge
  std::printf("%8s %14s %22s %8s\n", "guests", "decide us/g", "decide+capacity us/g", "ratio");
  for (int n : counts) {
    const int cycles = std::max(20, 20000 / n);
    const absl::Time now = absl::FromUnixSeconds(1795634560);
    auto guests = Guests(n, now);
    policy::State state = policy::Decide(enforce, host, guests, {}, now).state;
    int64_t sink = 0;
    // Alternate the two a few times so that neither gets a warmer cache.
    double decide = 1e300, both = 1e300;
    for (int round = 0; round < 3; ++round) {
      decide = std::min(decide, PerGuest(n, cycles, [&](int c) {
                          sink += policy::Decide(enforce, host, guests, state,
                                                 now + absl::Milliseconds(c))
                                      .decisions.size();
                        }));
      // As the agent's cycle: one judgement, read by the capacity and then the decisions.
      both = std::min(both, PerGuest(n, cycles, [&](int c) {
                        policy::Judgement judgement = policy::Judge(enforce, host, guests, state,
                                                                    now + absl::Milliseconds(c));
                        sink += policy::CapacityOf(judgement, 0).placeable_bytes & 1;
                        sink += policy::Decide(std::move(judgement), 0).decisions.size();
                      }));
    }
    std::printf("%8d %14.2f %22.2f %8.2f\n", n, decide, both, both / decide);
    if (sink == -1) std::puts("");  // keeps the work from being optimised away
  }
  return 0;
}
