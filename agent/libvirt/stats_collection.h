#ifndef BALLOOND_AGENT_LIBVIRT_STATS_COLLECTION_H_
#define BALLOOND_AGENT_LIBVIRT_STATS_COLLECTION_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/libvirt/hypervisor.h"
#include "agent/libvirt/libvirt_connections.h"

namespace balloond {

// A running domain as a listing found it: who it is, and for a steady one its QEMU's CPU time.
struct ListedDomain {
  DomainInfo current;
  std::optional<int64_t> cpu_time_ns;
};

// What one listed collection reads, by index into the listing, and what it reports unread.
struct ReadPlan {
  // Left out (asleep, or steady and not busy): as the last collection knew them.
  std::vector<DomainStats> skipped;
  // Read in one call: the domains that answered last time.
  std::vector<size_t> answering;
  // Each read in a call of its own: the suspects, which did not answer lately.
  std::vector<size_t> suspects;
};

// Plans the reads of `listed`, given what the last collection knew of each domain. A domain is
// left out only while it is the QEMU process last read: a restarted one is read at once.
ReadPlan PlanReads(const std::vector<ListedDomain>& listed,
                   const std::map<std::string, DomainInfo>& known,
                   const std::set<std::string>& suspects, const CollectionFilter& filter);

// How the running domains' statistics are read: every domain in one call while all answer; else
// list, plan the skips, read the answering ones in one call and each suspect in a call of its own,
// and gather, so that a QEMU that stopped answering holds up only itself.
class StatsCollection {
 public:
  explicit StatsCollection(LibvirtConnections& connections) : connections_(connections) {}

  absl::StatusOr<std::vector<DomainStats>> Collect(absl::Time deadline,
                                                   const CollectionFilter& filter);

 private:
  struct Listing;
  struct Batch;
  // Every domain in one call: the quick path, while no domain is suspect.
  absl::StatusOr<std::vector<DomainStats>> CollectAll(absl::Time deadline);
  absl::StatusOr<std::vector<DomainStats>> CollectListed(const std::set<std::string>& suspects,
                                                         const CollectionFilter& filter,
                                                         absl::Time deadline);
  // The running domains, and the steady ones' CPU times: libvirtd alone answers these.
  absl::StatusOr<Listing> List(const std::set<std::string>& steady, absl::Time deadline);
  // Reads each batch's statistics, all at once; each batch's status.
  absl::StatusOr<std::vector<absl::Status>> Read(const std::vector<std::shared_ptr<Batch>>& batches,
                                                 absl::Time deadline);
  // What `batch` says of its domains: their statistics, or, unanswered, the domains as the last
  // collection knew them (suspects from now on when `answering` ones did not answer in time).
  void Gather(const Batch& batch, const absl::Status& status, bool answering,
              const std::map<std::string, int64_t>& cpu_time_ns, std::vector<DomainStats>& out);
  // Remembers what this collection found, or, when it timed out, that every domain is suspect.
  void Remember(const absl::StatusOr<std::vector<DomainStats>>& collected);

  LibvirtConnections& connections_;
  absl::Mutex mu_;
  // Domains collected one by one until they answer again, and what the last collection knew of
  // every domain (for those that did not answer this time).
  std::set<std::string> suspects_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, DomainInfo> known_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_LIBVIRT_STATS_COLLECTION_H_
