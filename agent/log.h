#ifndef BALLOOND_AGENT_LOG_H_
#define BALLOOND_AGENT_LOG_H_

#include <cstdio>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace balloond {

// One line on stderr, which systemd's journal and kubectl logs both collect.
inline void Log(absl::string_view message) {
  const std::string when =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone());
  std::fprintf(stderr, "%s balloond: %.*s\n", when.c_str(), static_cast<int>(message.size()),
               message.data());
}

}  // namespace balloond

#endif  // BALLOOND_AGENT_LOG_H_
