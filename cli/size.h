#ifndef BALLOOND_CLI_SIZE_H_
#define BALLOOND_CLI_SIZE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace balloond {

// What an error about a size says the accepted forms are.
inline constexpr char kSizeForms[] =
    "write a number with a unit: 512M, 1.5G, 2GiB, 524288K or 4096B (k, M, G, T are powers of "
    "1024; KB, MB, GB, TB of 1000)";

// Parses a memory size: a number, with a fraction if wanted, and one of libvirt's units in any
// case: b/bytes; k/KiB, M/MiB, G/GiB, T/TiB, P/PiB, E/EiB (powers of 1024); KB, MB, GB, TB, PB, EB
// (powers of 1000). "1.5G" is 1610612736; fractions of a byte are dropped. A number without a unit
// is refused, naming the size it probably meant (virsh reads one as KiB, people type MiB: a typo
// either way could starve a guest); only 0 needs none.
absl::StatusOr<int64_t> ParseMemorySize(absl::string_view text);

}  // namespace balloond

#endif  // BALLOOND_CLI_SIZE_H_
