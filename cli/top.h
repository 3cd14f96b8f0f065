#ifndef BALLOOND_CLI_TOP_H_
#define BALLOOND_CLI_TOP_H_

#include <grpcpp/channel.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// What `balloonctl top` shows: every running domain's balloon, what its guest has available, the
// pressure it is under (major faults and swap-in per second between two reports), the working set
// probing found, what the policy could reclaim now and its last decision, under a line about the
// host. Fed by the watch
// streams; pure, so it is tested.
class TopView {
 public:
  // The domains running now: rows of domains no longer listed go.
  void SetDomains(const balloon::v1::ListDomainsResponse& list);
  void Update(const balloon::v1::MemoryStats& stats);
  void Update(const balloon::v1::Decision& decision);
  void SetHost(const balloon::v1::HostStats& host) { host_ = host; }

  // The screen: a host line, a header and one row per domain (by name), cut to `rows` lines.
  // Wider than `columns`, it leaves out the columns that matter least (AGE first, never NAME,
  // RECLAIMABLE or DECISION) and names them in the host line.
  std::vector<std::string> Render(size_t rows, size_t columns = SIZE_MAX) const;
  // One line for a terminal-less run (e.g. piped): "HH:MM:SS NAME actual ... decision".
  std::string Line(const std::string& uuid, absl::TimeZone zone) const;

 private:
  struct Row {
    balloon::v1::Domain domain;
    std::optional<balloon::v1::MemoryStats> stats;
    std::optional<balloon::v1::MemoryStats> previous;  // the report before, for the rates
    std::optional<balloon::v1::Decision> decision;
    // From the latest listing (statistics do not carry them).
    std::string working_set = "-";
    std::string reclaimable = "-";
  };
  std::vector<std::string> Cells(const Row& row) const;

  std::map<std::string, Row> rows_;  // by UUID
  std::optional<balloon::v1::HostStats> host_;
};

// Runs `balloonctl top` until 'q', Ctrl-C, or balloond going away: a full screen redrawn as
// updates arrive (at most every `refresh`) when stdout is a terminal, plain lines otherwise.
// `explain` turns a failed call into a message. Returns the exit code.
int RunTop(const std::shared_ptr<grpc::Channel>& channel, absl::Duration refresh,
           const std::function<std::string(const grpc::Status&)>& explain);

}  // namespace balloond

#endif  // BALLOOND_CLI_TOP_H_
