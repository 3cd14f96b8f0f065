#include "agent/libvirt/stats_collection.h"

#include <cstdlib>
#include <memory>
#include <utility>

#include "absl/cleanup/cleanup.h"
#include "agent/libvirt/libvirt_glue.h"
#include "agent/libvirt/libvirt_stats.h"

namespace balloond {
namespace {

constexpr unsigned kStatsGroups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON;
// NOWAIT: a domain whose monitor is busy is reported without its guest statistics instead of
// waiting for it.
constexpr unsigned kStatsFlags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;

// The statistics in libvirt's records, each with its domain's name, UUID and ID.
std::vector<DomainStats> ParseRecords(virDomainStatsRecordPtr* records, int n) {
  std::vector<DomainStats> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    DomainStats d = ParseDomainStats(StatParams(*records[i]));
    Identify(records[i]->dom, d.info);
    out.push_back(std::move(d));
  }
  return out;
}

// A domain left out of this collection, as the last one knew it.
DomainStats Unread(const DomainInfo& last, std::optional<int64_t> cpu_time_ns) {
  DomainStats d;
  d.info = last;
  d.skipped = true;
  d.cpu_time_ns = cpu_time_ns;
  return d;
}

}  // namespace

ReadPlan PlanReads(const std::vector<ListedDomain>& listed,
                   const std::map<std::string, DomainInfo>& known,
                   const std::set<std::string>& suspects, const CollectionFilter& filter) {
  ReadPlan plan;
  for (size_t i = 0; i < listed.size(); ++i) {
    const ListedDomain& d = listed[i];
    const std::string& uuid = d.current.uuid;
    const auto last = known.find(uuid);
    const bool same_process = last != known.end() && last->second.id == d.current.id;
    if (same_process && filter.asleep.count(uuid)) {
      plan.skipped.push_back(Unread(last->second, std::nullopt));
    } else if (same_process && d.cpu_time_ns &&
               !(filter.busy && filter.busy(uuid, *d.cpu_time_ns))) {
      plan.skipped.push_back(Unread(last->second, d.cpu_time_ns));
    } else if (suspects.count(uuid)) {
      plan.suspects.push_back(i);
    } else {
      plan.answering.push_back(i);
    }
  }
  return plan;
}

// What List found: the handles (owned here) beside what they tell.
struct StatsCollection::Listing {
  std::vector<std::shared_ptr<DomainHandle>> handles;
  std::vector<ListedDomain> domains;
};

// Domains read in one call, and what the call read.
struct StatsCollection::Batch {
  std::string lane;  // the answering domains share "", each suspect has its own
  std::vector<std::shared_ptr<DomainHandle>> domains;
  std::vector<DomainStats> stats;
};

absl::StatusOr<std::vector<DomainStats>> StatsCollection::Collect(absl::Time deadline,
                                                                  const CollectionFilter& filter) {
  std::set<std::string> suspects;
  {
    absl::MutexLock lock(&mu_);
    suspects = suspects_;
  }
  auto collected = suspects.empty() && filter.steady.empty() && filter.asleep.empty()
                       ? CollectAll(deadline)
                       : CollectListed(suspects, filter, deadline);
  Remember(collected);
  return collected;
}

void StatsCollection::Remember(const absl::StatusOr<std::vector<DomainStats>>& collected) {
  absl::MutexLock lock(&mu_);
  if (!collected.ok()) {
    // A QEMU that stopped answering a moment ago held the call: until each domain answers again
    // it is collected in a call of its own.
    if (collected.status().code() == absl::StatusCode::kDeadlineExceeded) {
      for (const auto& [uuid, info] : known_) suspects_.insert(uuid);
    }
    return;
  }
  std::map<std::string, DomainInfo> known;
  for (const DomainStats& d : *collected) {
    known[d.info.uuid] = d.info;
    if (d.stats_read) suspects_.erase(d.info.uuid);
  }
  for (auto it = suspects_.begin(); it != suspects_.end();) {
    it = known.count(*it) ? std::next(it) : suspects_.erase(it);
  }
  known_ = std::move(known);
}

absl::StatusOr<std::vector<DomainStats>> StatsCollection::CollectAll(absl::Time deadline) {
  // Owned by the call, which still runs when its caller gave up on it at the deadline.
  auto result = std::make_shared<std::vector<DomainStats>>();
  absl::Status s = connections_.Run("", deadline, [result](LibvirtConnection& c) -> absl::Status {
    virDomainStatsRecordPtr* records = nullptr;
    const int n = virConnectGetAllDomainStats(
        c.get(), kStatsGroups, &records, kStatsFlags | VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
    if (n < 0) return LastLibvirtError("reading domain statistics");
    absl::Cleanup free_records = [records] { virDomainStatsRecordListFree(records); };
    std::map<std::string, std::shared_ptr<DomainHandle>> kept;
    for (int i = 0; i < n; ++i) LibvirtConnection::Keep(records[i]->dom, kept);
    *result = ParseRecords(records, n);
    c.ReplaceHandles(std::move(kept));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return std::move(*result);
}

absl::StatusOr<StatsCollection::Listing> StatsCollection::List(const std::set<std::string>& steady,
                                                               absl::Time deadline) {
  auto listing = std::make_shared<Listing>();
  absl::Status listed =
      connections_.Run("", deadline, [listing, steady](LibvirtConnection& c) -> absl::Status {
        virDomainPtr* doms = nullptr;
        const int n = virConnectListAllDomains(c.get(), &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0) return LastLibvirtError("listing domains");
        absl::Cleanup free_list = [doms] { free(doms); };
        std::map<std::string, std::shared_ptr<DomainHandle>> kept;
        for (int i = 0; i < n; ++i) {
          LibvirtConnection::Keep(doms[i], kept);
          ListedDomain d;
          Identify(doms[i], d.current);
          virDomainInfo info;
          if (steady.count(d.current.uuid) && virDomainGetInfo(doms[i], &info) == 0) {
            d.cpu_time_ns = static_cast<int64_t>(info.cpuTime);
          }
          listing->domains.push_back(std::move(d));
          listing->handles.push_back(std::make_shared<DomainHandle>(doms[i]));  // owns this one
        }
        c.ReplaceHandles(std::move(kept));
        return absl::OkStatus();
      });
  if (!listed.ok()) return listed;
  return std::move(*listing);
}

absl::StatusOr<std::vector<absl::Status>> StatsCollection::Read(
    const std::vector<std::shared_ptr<Batch>>& batches, absl::Time deadline) {
  std::vector<LibvirtConnections::LaneCall> calls;
  for (size_t i = 0; i < batches.size(); ++i) {
    calls.push_back({batches[i]->lane, [batch = batches[i]](LibvirtConnection&) -> absl::Status {
                       std::vector<virDomainPtr> doms;
                       for (const auto& h : batch->domains) doms.push_back(h->get());
                       doms.push_back(nullptr);
                       virDomainStatsRecordPtr* records = nullptr;
                       const int n =
                           virDomainListGetStats(doms.data(), kStatsGroups, &records, kStatsFlags);
                       if (n < 0) return LastLibvirtError("reading domain statistics");
                       batch->stats = ParseRecords(records, n);
                       virDomainStatsRecordListFree(records);
                       return absl::OkStatus();
                     }});
  }
  return connections_.RunEach(std::move(calls), deadline);
}

void StatsCollection::Gather(const Batch& batch, const absl::Status& status, bool answering,
                             const std::map<std::string, int64_t>& cpu_time_ns,
                             std::vector<DomainStats>& out) {
  if (status.ok()) {
    for (DomainStats d : batch.stats) {
      if (auto cpu = cpu_time_ns.find(d.info.uuid); cpu != cpu_time_ns.end()) {
        d.cpu_time_ns = cpu->second;
      }
      out.push_back(std::move(d));
    }
    return;
  }
  absl::MutexLock lock(&mu_);
  for (const auto& handle : batch.domains) {
    DomainStats d;
    Identify(handle->get(), d.info);
    if (auto it = known_.find(d.info.uuid); it != known_.end()) d.info = it->second;
    d.info.active = true;
    // The answering domains' call did not return: one of them stopped answering.
    if (answering && status.code() == absl::StatusCode::kDeadlineExceeded) {
      suspects_.insert(d.info.uuid);
    }
    out.push_back(std::move(d));
  }
}

absl::StatusOr<std::vector<DomainStats>> StatsCollection::CollectListed(
    const std::set<std::string>& suspects, const CollectionFilter& filter, absl::Time deadline) {
  auto listing = List(filter.steady, deadline);
  if (!listing.ok()) return listing.status();
  ReadPlan plan;
  {
    absl::MutexLock lock(&mu_);
    plan = PlanReads(listing->domains, known_, suspects, filter);
  }
  // The answering domains first, in one batch; then one batch per suspect.
  std::vector<std::shared_ptr<Batch>> batches;
  if (!plan.answering.empty()) batches.push_back(std::make_shared<Batch>());
  for (size_t i : plan.answering) batches.front()->domains.push_back(listing->handles[i]);
  for (size_t i : plan.suspects) {
    batches.push_back(std::make_shared<Batch>());
    batches.back()->lane = listing->domains[i].current.uuid;
    batches.back()->domains.push_back(listing->handles[i]);
  }
  std::map<std::string, int64_t> cpu_time_ns;  // steady but busy: read, and given its CPU time
  for (const ListedDomain& d : listing->domains) {
    if (d.cpu_time_ns) cpu_time_ns[d.current.uuid] = *d.cpu_time_ns;
  }
  std::vector<DomainStats> out = std::move(plan.skipped);
  if (batches.empty()) return out;
  auto statuses = Read(batches, deadline);
  if (!statuses.ok()) return statuses.status();
  for (size_t i = 0; i < batches.size(); ++i) {
    const bool answering = i == 0 && !plan.answering.empty();
    Gather(*batches[i], (*statuses)[i], answering, cpu_time_ns, out);
  }
  return out;
}

}  // namespace balloond
