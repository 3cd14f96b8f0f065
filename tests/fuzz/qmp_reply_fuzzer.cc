// QMP replies as QEMU (or anything that impersonates it) may send them to clients' QOM queries:
// every parser the agent reads them with. Nothing may crash or throw.
#include <cstddef>
#include <cstdint>
#include <string>

#include "agent/qom/qmp.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string reply(reinterpret_cast<const char*>(data), size);
  auto ret = balloond::ParseQmpReturn(reply);
  if (!ret.ok()) return 0;
  (void)balloond::ParseQomList(*ret);
  (void)balloond::StringMember(*ret, "status");
  (void)balloond::DumpJson(*ret);
  return 0;
}
