#ifndef BALLOOND_AGENT_COLLECT_HOST_STATS_H_
#define BALLOOND_AGENT_COLLECT_HOST_STATS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace balloond {

struct PressureAverages {
  double avg10 = 0, avg60 = 0, avg300 = 0;
  int64_t total_microseconds = 0;
};

struct HostMemory {
  int64_t mem_total_bytes = 0;
  int64_t mem_free_bytes = 0;
  int64_t mem_available_bytes = 0;
  int64_t cached_bytes = 0;
  int64_t swap_total_bytes = 0;
  int64_t swap_free_bytes = 0;
  // Memory PSI, where the kernel has it.
  std::optional<PressureAverages> pressure_some;
  std::optional<PressureAverages> pressure_full;
};

// Parses /proc/meminfo text. MemTotal and MemAvailable are required (kernels since 3.14 have both).
absl::StatusOr<HostMemory> ParseMeminfo(absl::string_view text);

// Adds the "some" and "full" lines of /proc/pressure/memory text to `host`.
absl::Status ParsePressure(absl::string_view text, HostMemory& host);

// Reads PROC_ROOT/meminfo and, if present, PROC_ROOT/pressure/memory.
absl::StatusOr<HostMemory> ReadHostMemory(const std::string& proc_root = "/proc");

}  // namespace balloond

#endif  // BALLOOND_AGENT_COLLECT_HOST_STATS_H_
