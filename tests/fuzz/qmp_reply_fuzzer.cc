// QMP replies as QEMU (or anything that impersonates it) may send them: every parser the agent reads
// replies with, and the conversion to the API's types. Nothing may crash or throw.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/proto_convert.h"
#include "agent/qmp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string reply(reinterpret_cast<const char*>(data), size);
  auto ret = balloond::ParseQmpReturn(reply);
  if (!ret.ok()) return 0;
  if (auto stats = balloond::ParseGuestStats(*ret); stats.ok()) {
    balloon::v1::GuestMemoryStats out;
    balloond::ToProto(*stats, &out);
    for (const auto& [name, value] : stats->values) {
      if (value < 0) __builtin_trap();  // unavailable and negative values are dropped
    }
  }
  if (auto actual = balloond::ParseQueryBalloon(*ret); actual.ok() && *actual < 0) {
    // QEMU's actual is a uint64: a value no int64 holds is refused, a negative one passes as is.
  }
  (void)balloond::ParseQomList(*ret);
  (void)balloond::StringMember(*ret, "status");  // query-migrate
  (void)balloond::DumpJson(*ret);
  return 0;
}
