#include "agent/collect/host_stats.h"

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/files.h"

namespace balloond {
namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return std::nullopt;
  return *std::move(text);
}

}  // namespace

absl::StatusOr<HostMemory> ParseMeminfo(absl::string_view text) {
  HostMemory m;
  bool have_total = false, have_available = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> parts = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (parts.size() < 2) continue;
    absl::string_view key = absl::StripSuffix(parts[0], ":");
    int64_t kib = 0;
    if (!absl::SimpleAtoi(parts[1], &kib)) continue;
    const int64_t bytes = kib * 1024;
    if (key == "MemTotal")
      m.mem_total_bytes = bytes, have_total = true;
    else if (key == "MemFree")
      m.mem_free_bytes = bytes;
    else if (key == "MemAvailable")
      m.mem_available_bytes = bytes, have_available = true;
    else if (key == "Cached")
      m.cached_bytes = bytes;
    else if (key == "SwapTotal")
      m.swap_total_bytes = bytes;
    else if (key == "SwapFree")
      m.swap_free_bytes = bytes;
  }
  if (!have_total || !have_available) {
    return absl::DataLossError("meminfo lacks MemTotal or MemAvailable");
  }
  return m;
}

absl::Status ParsePressure(absl::string_view text, HostMemory& host) {
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.empty()) continue;
    PressureAverages avg;
    for (size_t i = 1; i < fields.size(); ++i) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(fields[i], '=');
      bool ok = true;
      if (kv.first == "avg10")
        ok = absl::SimpleAtod(kv.second, &avg.avg10);
      else if (kv.first == "avg60")
        ok = absl::SimpleAtod(kv.second, &avg.avg60);
      else if (kv.first == "avg300")
        ok = absl::SimpleAtod(kv.second, &avg.avg300);
      else if (kv.first == "total")
        ok = absl::SimpleAtoi(kv.second, &avg.total_microseconds);
      if (!ok) return absl::DataLossError(absl::StrCat("bad PSI field '", fields[i], "'"));
    }
    if (fields[0] == "some")
      host.pressure_some = avg;
    else if (fields[0] == "full")
      host.pressure_full = avg;
  }
  return absl::OkStatus();
}

absl::StatusOr<HostMemory> ReadHostMemory(const std::string& proc_root) {
  auto meminfo = ReadFile(proc_root + "/meminfo");
  if (!meminfo) return absl::UnavailableError(absl::StrCat("cannot read ", proc_root, "/meminfo"));
  auto host = ParseMeminfo(*meminfo);
  if (!host.ok()) return host.status();
  // PSI is optional: kernels without CONFIG_PSI or booted with psi=0 have no such file.
  if (auto psi = ReadFile(proc_root + "/pressure/memory")) {
    if (absl::Status s = ParsePressure(*psi, *host); !s.ok()) return s;
  }
  return host;
}

}  // namespace balloond
