#ifndef BALLOOND_TESTS_POLICY_TEST_GUEST_H_
#define BALLOOND_TESTS_POLICY_TEST_GUEST_H_

// Guests and hosts as the policy sees them, for its tests, the capacity's and virtio-mem's, and the
// cycle benchmark: one builder of a Linux guest's reports.

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/inputs.h"
#include "policy/sizes.h"

namespace balloond::policy {

// What a real Linux guest keeps out of MemTotal (measured ~40 MiB).
inline constexpr int64_t kOverhead = 40 * kMiB;

inline const absl::Time kStart = absl::FromUnixSeconds(1795612931);

// What a Linux guest whose balloon leaves it `has` bytes and that uses `used` reports at `at`:
// MemTotal and MemAvailable as a real one's (nothing swapped in, no major faults).
inline GuestReport LinuxReport(int64_t has, int64_t used, absl::Time at) {
  GuestReport r;
  r.total_bytes = has - kOverhead;
  r.available_bytes = std::max<int64_t>(0, r.total_bytes - used);
  r.free_bytes = r.available_bytes;
  r.swap_in_bytes = 0;
  r.major_faults = 0;
  r.last_update = at;
  return r;
}

// A guest as the policy sees it: its balloon (actual), and what it uses; MemTotal and MemAvailable
// follow from them as in a real Linux guest.
struct FakeGuest {
  std::string name;
  int64_t max = kGiB;
  int64_t actual = kGiB;
  int64_t used = 100 * kMiB;
  int64_t swap_in = 0;
  int64_t major_faults = 0;
  Activity activity = Activity::kRunning;
  bool reports = true;
  bool frozen = false;  // the guest's driver stopped: its last report keeps its old time
  absl::Time reported_at = kStart;
  std::optional<absl::Time> held_until;      // an operator's hold
  std::optional<int64_t> claimed_available;  // a lying guest's MemAvailable
  bool autodeflate = false;
  std::optional<int64_t> resident;                 // what the host holds of it (its QEMU's RSS)
  absl::Duration stats_period = absl::Seconds(2);  // the domain's <stats period>

  FakeGuest& Max(int64_t v) {
    max = v;
    return *this;
  }
  FakeGuest& Resident(int64_t v) {
    resident = v;
    return *this;
  }
  FakeGuest& Actual(int64_t v) {
    actual = v;
    return *this;
  }
  FakeGuest& Used(int64_t v) {
    used = v;
    return *this;
  }
  FakeGuest& In(Activity a) {
    activity = a;
    return *this;
  }
  FakeGuest& Silent() {
    reports = false;
    return *this;
  }
  FakeGuest& ReportingEvery(absl::Duration period) {
    stats_period = period;
    return *this;
  }

  DomainInput Input() const {
    DomainInput in;
    in.uuid = "uuid-" + name;
    in.name = name;
    in.activity = activity;
    in.max_memory_bytes = max;
    in.actual_bytes = actual;
    // Unless told otherwise, it touched all it has: the host's MemAvailable shows it.
    in.resident_bytes = resident.value_or(actual);
    in.stats_period = stats_period;
    in.held_until = held_until;
    in.autodeflate = autodeflate;
    if (reports) {
      GuestReport r = LinuxReport(actual, used, reported_at);
      if (claimed_available) r.available_bytes = r.free_bytes = *claimed_available;
      r.swap_in_bytes = swap_in;
      r.major_faults = major_faults;
      in.report = r;
    }
    return in;
  }
};

inline FakeGuest Guest(const std::string& name) {
  FakeGuest g;
  g.name = name;
  return g;
}

inline HostInput Host(int64_t total, int64_t available) {
  HostInput h;
  h.total_bytes = total;
  h.available_bytes = available;
  return h;
}

inline balloon::v1::Policy Enforce() {
  balloon::v1::Policy p;
  p.set_mode(balloon::v1::POLICY_MODE_ENFORCE);
  return p;
}

}  // namespace balloond::policy

#endif  // BALLOOND_TESTS_POLICY_TEST_GUEST_H_
