#include "agent/base/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

// systemd sets JOURNAL_STREAM when stderr is connected to the journal.
bool ToJournal() {
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  return journal;
}

int SyslogPriority(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return 7;
    case LogLevel::kInfo:
      return 6;
    case LogLevel::kWarning:
      return 4;
    case LogLevel::kError:
      return 3;
  }
  return 6;
}

// `message` with its control characters written out (\n, \x1b): whatever a message quotes (a
// domain's metadata, a client's domain name) stays on its one line, and cannot start a line of its
// own with a journald priority prefix or move a terminal's cursor.
std::string EscapeControlCharacters(absl::string_view message) {
  std::string out;
  out.reserve(message.size());
  for (char c : message) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      out += absl::StrFormat("\\x%02x", u);
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void SetLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= min_level.load(); }

absl::StatusOr<LogLevel> ParseLogLevel(absl::string_view name) {
  for (LogLevel level : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning, LogLevel::kError}) {
    if (name == LogLevelName(level)) return level;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown log level '", name, "': use debug, info, warning or error"));
}

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

void Log(LogLevel level, absl::string_view message) {
  if (!LogEnabled(level)) return;
  const std::string line =
      ToJournal()
          ? absl::StrCat("<", SyslogPriority(level), ">", LogLevelName(level), ": ",
                         EscapeControlCharacters(message), "\n")
          : absl::StrCat(
                absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", RealClock().Now(), absl::UTCTimeZone()),
                " balloond ", LogLevelName(level), ": ", EscapeControlCharacters(message), "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void PacedLog::Log(absl::string_view key, LogLevel level, absl::string_view message) {
  int64_t left_out = 0;
  {
    const absl::Time now = clock_.Now();
    absl::MutexLock lock(&mu_);
    auto it = paces_.find(key);
    if (it == paces_.end()) it = paces_.emplace(std::string(key), Pace()).first;
    Pace& pace = it->second;
    if (now - pace.last < interval_) {
      ++pace.left_out;
      return;
    }
    pace.last = now;
    left_out = pace.left_out;
    pace.left_out = 0;
  }
  if (left_out == 0) {
    balloond::Log(level, message);
  } else {
    balloond::Log(level, absl::StrCat(message, " (and ", left_out, " more like it in the last ",
                                      absl::FormatDuration(interval_), " or so)"));
  }
}

}  // namespace balloond
