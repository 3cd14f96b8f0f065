// Sizes as balloonctl reads them (libvirt's units, fractions too) and prints them.
#include <cstddef>
#include <cstdint>
#include <string>

#include "cli/size.h"
#include "policy/sizes.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto bytes = balloond::ParseMemorySize(text);
  if (bytes.ok() && *bytes < 0) __builtin_trap();
  int64_t any = 0;
  for (size_t i = 0; i < size && i < 8; ++i) any = (any << 8) | data[i];
  (void)balloond::FormatBytes(any);
  if (bytes.ok()) (void)balloond::FormatBytes(*bytes);
  return 0;
}
