#include "agent/collect/ksm_stats.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "agent/base/files.h"

namespace balloond {
namespace {

int64_t PageBytes() { return sysconf(_SC_PAGESIZE); }

// A file holding one integer; NOT_FOUND when there is no such file.
absl::StatusOr<int64_t> ReadNumber(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &value)) {
    return absl::DataLossError(absl::StrCat(path, " does not hold a number"));
  }
  return value;
}

}  // namespace

absl::StatusOr<KsmSysfs> ReadKsmSysfs(const std::string& dir) {
  if (access(dir.c_str(), F_OK) != 0) {
    return absl::NotFoundError(absl::StrCat("the kernel has no KSM (no ", dir, ")"));
  }
  KsmSysfs k;
  int64_t run = 0;
  struct Required {
    const char* name;
    int64_t* into;
  };
  for (const Required& r :
       {Required{"run", &run}, Required{"pages_to_scan", &k.pages_to_scan},
        Required{"sleep_millisecs", &k.sleep_millisecs}, Required{"pages_shared", &k.pages_shared},
        Required{"pages_sharing", &k.pages_sharing}, Required{"full_scans", &k.full_scans}}) {
    auto value = ReadNumber(absl::StrCat(dir, "/", r.name));
    if (!value.ok()) return absl::UnavailableError(value.status().message());
    *r.into = *value;
  }
  k.run = static_cast<int>(run);
  if (auto scanned = ReadNumber(dir + "/pages_scanned"); scanned.ok()) k.pages_scanned = *scanned;
  if (auto profit = ReadNumber(dir + "/general_profit"); profit.ok()) {
    k.general_profit_bytes = *profit;
  }
  return k;
}

absl::Status WriteKsmKnobs(int run, int64_t pages_to_scan, int64_t sleep_millisecs,
                           const std::string& dir) {
  auto write = [&](const char* name, int64_t value) -> absl::Status {
    const std::string path = absl::StrCat(dir, "/", name);
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      const std::string why = absl::StrCat("cannot write ", path, ": ", std::strerror(err));
      return err == EACCES || err == EPERM || err == EROFS ? absl::PermissionDeniedError(why)
                                                           : absl::UnavailableError(why);
    }
    const std::string text = absl::StrCat(value, "\n");
    const ssize_t n = ::write(fd, text.data(), text.size());
    const int err = errno;
    close(fd);
    if (n != static_cast<ssize_t>(text.size())) {
      return absl::UnavailableError(absl::StrCat("cannot write ", value, " to ", path, ": ",
                                                 n < 0 ? std::strerror(err) : "short write"));
    }
    return absl::OkStatus();
  };
  // The pace first: ksmd starts (or unmerges) at the new one.
  if (absl::Status s = write("pages_to_scan", pages_to_scan); !s.ok()) return s;
  if (absl::Status s = write("sleep_millisecs", sleep_millisecs); !s.ok()) return s;
  return write("run", run);
}

std::optional<ProcessSharing> ParseKsmStat(absl::string_view text, int64_t page_bytes) {
  ProcessSharing p;
  bool merging = false;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() != 2) continue;
    int64_t value = 0;
    if (!absl::SimpleAtoi(fields[1], &value)) continue;
    if (fields[0] == "ksm_merging_pages") {
      p.merging_bytes = value * page_bytes, merging = true;
    } else if (fields[0] == "ksm_process_profit") {
      p.profit_bytes = value;
    }
  }
  if (!merging) return std::nullopt;
  return p;
}

std::optional<ProcessSharing> ReadProcessSharing(pid_t pid, const std::string& proc_root) {
  const std::string dir = absl::StrCat(proc_root, "/", pid);
  if (auto stat = ReadWholeFile(dir + "/ksm_stat"); stat.ok()) {
    if (auto parsed = ParseKsmStat(*stat, PageBytes())) return parsed;
  }
  // Older kernels have only this.
  auto merging = ReadNumber(dir + "/ksm_merging_pages");
  if (!merging.ok()) return std::nullopt;
  ProcessSharing p;
  p.merging_bytes = *merging * PageBytes();
  return p;
}

std::optional<pid_t> QemuPidOf(const std::string& domain_name, const std::string& run_dir) {
  // libvirt names the file after the domain; a name that could leave the directory is no name.
  if (domain_name.empty() || domain_name.find('/') != std::string::npos || domain_name == "." ||
      domain_name == "..") {
    return std::nullopt;
  }
  auto pid = ReadNumber(absl::StrCat(run_dir, "/", domain_name, ".pid"));
  if (!pid.ok() || *pid <= 1) return std::nullopt;
  return static_cast<pid_t>(*pid);
}

std::optional<double> KsmdCpuSeconds(pid_t pid, const std::string& proc_root) {
  auto stat = ReadWholeFile(absl::StrCat(proc_root, "/", pid, "/stat"));
  // The pid may have been reused: only ksmd's own line counts.
  if (!stat.ok() || !absl::StrContains(*stat, " (ksmd) ")) return std::nullopt;
  const absl::string_view after = absl::string_view(*stat).substr(stat->find(") ") + 2);
  std::vector<absl::string_view> fields = absl::StrSplit(after, ' ', absl::SkipEmpty());
  // Counted from the state (field 3 of stat(5)): utime and stime are fields 14 and 15.
  int64_t utime = 0, stime = 0;
  if (fields.size() <= 12 || !absl::SimpleAtoi(fields[11], &utime) ||
      !absl::SimpleAtoi(fields[12], &stime)) {
    return std::nullopt;
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::optional<pid_t> FindKsmd(const std::string& proc_root) {
  DIR* dir = opendir(proc_root.c_str());
  if (dir == nullptr) return std::nullopt;
  std::optional<pid_t> found;
  while (dirent* e = readdir(dir)) {
    int pid = 0;
    if (!absl::SimpleAtoi(e->d_name, &pid)) continue;
    if (KsmdCpuSeconds(pid, proc_root)) {
      found = pid;
      break;
    }
  }
  closedir(dir);
  return found;
}

}  // namespace balloond
