#ifndef BALLOOND_CLI_SIZE_H_
#define BALLOOND_CLI_SIZE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace balloond {

// Parses a memory size the way `virsh setmem` does: an integer with an optional unit, case
// insensitive: b/bytes; k/KiB, M/MiB, G/GiB, T/TiB, P/PiB, E/EiB (powers of 1024); KB, MB, GB, TB,
// PB, EB (powers of 1000). A plain number is KiB.
absl::StatusOr<int64_t> ParseMemorySize(absl::string_view text);

}  // namespace balloond

#endif  // BALLOOND_CLI_SIZE_H_
