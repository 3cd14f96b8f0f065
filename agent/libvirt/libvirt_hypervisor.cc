#include "agent/libvirt/libvirt_hypervisor.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"
#include "agent/base/log.h"
#include "agent/libvirt/domain_ref.h"
#include "agent/libvirt/libvirt_stats.h"
#include "agent/libvirt/policy_metadata.h"

namespace balloond {
namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(250);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// How long a new connection may take to answer before its callers are told libvirtd does not.
constexpr absl::Duration kConnectTimeout = absl::Seconds(5);
// A calls connection carrying this many calls that hung QEMUs keep is retired (see the class).
constexpr int kMaxStuckCallsPerConnection = 2;
constexpr unsigned kStatsGroups = VIR_DOMAIN_STATS_STATE | VIR_DOMAIN_STATS_BALLOON;
// NOWAIT: a domain whose monitor is busy is reported without its guest statistics instead of
// waiting for it.
constexpr unsigned kStatsFlags = VIR_CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT;

// libvirt's error for the calling thread, as a status with the nearest gRPC-style code.
absl::Status LastLibvirtError(absl::string_view what) {
  const virError* err = virGetLastError();
  std::string message =
      absl::StrCat(what, ": ", err && err->message ? err->message : "unknown libvirt error");
  if (err == nullptr) return absl::UnknownError(message);
  switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
      return absl::NotFoundError(message);
    case VIR_ERR_OPERATION_INVALID:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      return absl::FailedPreconditionError(message);
    case VIR_ERR_INVALID_ARG:
      return absl::InvalidArgumentError(message);
    case VIR_ERR_OPERATION_TIMEOUT:  // e.g. "cannot acquire state change lock": a busy domain
      return absl::DeadlineExceededError(message);
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
      return absl::UnavailableError(message);
    case VIR_ERR_NO_SUPPORT:
      return absl::UnimplementedError(message);
    default:
      return absl::UnknownError(message);
  }
}

// libvirt prints every error to stderr unless told otherwise; errors reach users as statuses.
void IgnoreLibvirtError(void*, virErrorPtr) {}

// libvirt's events (lifecycle, connection close, keepalive) need its event loop running.
void StartEventLoopOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    virSetErrorFunc(nullptr, IgnoreLibvirtError);
    virEventRegisterDefaultImpl();
    std::thread([] {
      for (;;) virEventRunDefaultImpl();
    }).detach();
  });
}

// LibvirtRunState (libvirt_stats.cc, which does without libvirt's headers) takes these values.
static_assert(VIR_DOMAIN_RUNNING == 1 && VIR_DOMAIN_PAUSED == 3 && VIR_DOMAIN_SHUTDOWN == 4);

// A string libvirt returned for the caller to free, copied and freed.
std::string TakeLibvirtString(char* text) {
  absl::Cleanup free_text = [text] { free(text); };
  return text != nullptr ? std::string(text) : std::string();
}

std::string UuidOf(virDomainPtr dom) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  return virDomainGetUUIDString(dom, uuid) == 0 ? uuid : "";
}

// Name, UUID and ID: libvirt keeps them in the handle, no call to libvirtd.
void Identify(virDomainPtr dom, DomainInfo& info) {
  const char* name = virDomainGetName(dom);
  info.name = name ? name : "";
  info.uuid = UuidOf(dom);
  info.id = static_cast<int>(virDomainGetID(dom));
}

absl::StatusOr<DomainInfo> DescribeDomain(virDomainPtr dom) {
  DomainInfo info;
  Identify(dom, info);
  virDomainInfo vinfo;
  if (virDomainGetInfo(dom, &vinfo) < 0) return LastLibvirtError("virDomainGetInfo");
  info.state = LibvirtRunState(vinfo.state);
  info.active = vinfo.state != VIR_DOMAIN_SHUTOFF;
  info.max_memory_bytes = static_cast<int64_t>(vinfo.maxMem) * 1024;
  return info;
}

std::vector<StatParam> Params(const virDomainStatsRecord& record) {
  std::vector<StatParam> out;
  out.reserve(record.nparams);
  for (int i = 0; i < record.nparams; ++i) {
    const virTypedParameter& p = record.params[i];
    uint64_t value;
    switch (p.type) {
      case VIR_TYPED_PARAM_INT:
        value = static_cast<uint64_t>(std::max(0, p.value.i));
        break;
      case VIR_TYPED_PARAM_UINT:
        value = p.value.ui;
        break;
      case VIR_TYPED_PARAM_LLONG:
        value = static_cast<uint64_t>(std::max<long long>(0, p.value.l));
        break;
      case VIR_TYPED_PARAM_ULLONG:
        value = p.value.ul;
        break;
      default:
        continue;
    }
    out.emplace_back(p.field, value);
  }
  return out;
}

}  // namespace

// What libvirt's event thread calls. The registrations share it, so that an event that arrives as
// balloond goes away finds no one to tell instead of freed memory; and it is never held across a
// libvirt call, so that events flow while a connection is being opened.
class LibvirtHypervisor::Events {
 public:
  explicit Events(DomainChangeListener& listener) : listener_(&listener) {}
  // No one hears of events from here on (a notification in progress ends first).
  void Close() {
    absl::MutexLock lock(&mu_);
    listener_ = nullptr;
  }
  void Notify(const std::string& uuid) {
    absl::ReaderMutexLock lock(&mu_);
    if (listener_ != nullptr) listener_->OnDomainChanged(uuid);
  }

 private:
  absl::Mutex mu_;
  DomainChangeListener* listener_ ABSL_GUARDED_BY(mu_);
};

namespace {

using EventsRef = std::shared_ptr<LibvirtHypervisor::Events>;

// What a connection's close callback marks broken, and whom it tells.
struct CloseTarget {
  EventsRef events;  // null for a connection whose loss is told by the other one
  std::shared_ptr<std::atomic<bool>> broken;
};

void CloseCallback(virConnectPtr, int, void* opaque) {
  auto* target = static_cast<CloseTarget*>(opaque);
  target->broken->store(true);
  if (target->events) target->events->Notify("");
}

void NotifyDomain(virDomainPtr dom, void* opaque) {
  (*static_cast<EventsRef*>(opaque))->Notify(UuidOf(dom));
}

int LifecycleCallback(virConnectPtr, virDomainPtr dom, int, int, void* opaque) {
  NotifyDomain(dom, opaque);
  return 0;
}

void BalloonChangeCallback(virConnectPtr, virDomainPtr dom, unsigned long long, void* opaque) {
  NotifyDomain(dom, opaque);
}

void DeviceCallback(virConnectPtr, virDomainPtr dom, const char*, void* opaque) {
  NotifyDomain(dom, opaque);
}

void MemoryDeviceSizeCallback(virConnectPtr, virDomainPtr dom, const char*, unsigned long long,
                              void* opaque) {
  NotifyDomain(dom, opaque);
}

void MetadataCallback(virConnectPtr, virDomainPtr dom, int, const char*, void* opaque) {
  NotifyDomain(dom, opaque);
}

// A refusal for want of polkit, explained: what the operator sees first on a host where libvirtd
// started before the system bus.
std::string ExplainRefusal(const std::string& message) {
  if (message.find("system bus") == std::string::npos &&
      message.find("polkit") == std::string::npos &&
      message.find("authentication") == std::string::npos) {
    return message;
  }
  return absl::StrCat(
      message, " (libvirtd asks polkit, over the system bus, whether balloond's user (uid ",
      getuid(),
      ", in group libvirt) may manage domains, and could not: start the system bus and polkitd, "
      "then restart libvirtd, which refuses non-root clients until it is restarted after them; "
      "deploy/host-setup.sh's start_libvirt does that)");
}

}  // namespace

// A domain handle that frees itself.
struct LibvirtHypervisor::Handle {
  explicit Handle(virDomainPtr p) : ptr(p) {}
  ~Handle() {
    if (ptr) virDomainFree(ptr);
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  virDomainPtr ptr;
};

class LibvirtHypervisor::Connection {
 public:
  Connection(virConnectPtr conn, std::shared_ptr<std::atomic<bool>> broken,
             std::unique_ptr<CloseTarget> close_target, std::vector<int> event_callbacks)
      : conn_(conn),
        broken_(std::move(broken)),
        close_target_(std::move(close_target)),
        event_callbacks_(std::move(event_callbacks)) {}
  ~Connection() {
    {
      absl::MutexLock lock(&mu_);
      handles_.clear();
    }
    for (int id : event_callbacks_) {
      if (id >= 0) virConnectDomainEventDeregisterAny(conn_, id);
    }
    // Returns once no close callback runs (libvirt calls it under the lock this takes).
    virConnectUnregisterCloseCallback(conn_, CloseCallback);
    virConnectClose(conn_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  virConnectPtr get() const { return conn_; }
  bool broken() const { return broken_->load(); }
  void MarkBroken() { broken_->store(true); }
  // Calls whose caller gave up at its deadline while QEMU still has not answered.
  int stuck() const { return stuck_.load(); }
  void AddStuck(int n) { stuck_.fetch_add(n); }

  // The domain's handle on this connection: one found by the last collection, or looked up.
  absl::StatusOr<std::shared_ptr<Handle>> HandleFor(const std::string& uuid) {
    {
      absl::MutexLock lock(&mu_);
      auto it = handles_.find(uuid);
      if (it != handles_.end()) return it->second;
    }
    virDomainPtr dom = virDomainLookupByUUIDString(conn_, uuid.c_str());
    if (dom == nullptr) return LastLibvirtError("looking up domain");
    auto handle = std::make_shared<Handle>(dom);
    absl::MutexLock lock(&mu_);
    handles_[uuid] = handle;
    return handle;
  }
  // Adds `dom` (taking a reference of its own) to `kept`, the handles ReplaceHandles will keep.
  void Keep(virDomainPtr dom, std::map<std::string, std::shared_ptr<Handle>>& kept) {
    virDomainRef(dom);
    kept[UuidOf(dom)] = std::make_shared<Handle>(dom);
  }
  void ReplaceHandles(std::map<std::string, std::shared_ptr<Handle>> kept) {
    absl::MutexLock lock(&mu_);
    handles_ = std::move(kept);
  }

 private:
  virConnectPtr conn_;
  std::shared_ptr<std::atomic<bool>> broken_;  // shared with the close callback
  std::unique_ptr<CloseTarget> close_target_;  // what the close callback is given
  std::vector<int> event_callbacks_;
  std::atomic<int> stuck_{0};
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Handle>> handles_ ABSL_GUARDED_BY(mu_);
};

namespace {

// Opens a connection to `uri`. With `events`, it is the events connection: the domain events go to
// `events`, and keepalive notices a libvirtd that stopped answering. The calls connection has no
// keepalive of its own: libvirt 9.0's client, when keepalive closes a connection on which several
// threads wait, leaves an event source pointing into a returned thread's stack, and the thread that
// waits next crashes on it (seen with a libvirtd SIGSTOPped for 30 s). Its calls end at their
// callers' deadlines anyway, and the events connection tells when libvirtd is gone.
// On the thread of a PendingOpen: it may block for as long as libvirtd does not answer.
absl::StatusOr<std::shared_ptr<LibvirtHypervisor::Connection>> OpenConnection(
    const std::string& uri, const EventsRef& events) {
  virConnectPtr conn = virConnectOpen(uri.c_str());
  if (conn == nullptr) {
    return absl::UnavailableError(
        ExplainRefusal(std::string(LastLibvirtError("virConnectOpen").message())));
  }
  if (events) virConnectSetKeepAlive(conn, 5, 3);
  auto broken = std::make_shared<std::atomic<bool>>(false);
  // Owned by the connection, not by libvirt: a driver without close callbacks (test:///) accepts
  // the registration and would never free it.
  auto close_target = std::make_unique<CloseTarget>(CloseTarget{events, broken});
  virConnectRegisterCloseCallback(conn, CloseCallback, close_target.get(), nullptr);
  std::vector<int> callbacks;
  if (events) {
    for (auto [event, callback] :
         {std::pair{VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(LifecycleCallback)},
          std::pair{VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
                    VIR_DOMAIN_EVENT_CALLBACK(BalloonChangeCallback)},
          std::pair{VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, VIR_DOMAIN_EVENT_CALLBACK(DeviceCallback)},
          std::pair{VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED, VIR_DOMAIN_EVENT_CALLBACK(DeviceCallback)},
          std::pair{VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
                    VIR_DOMAIN_EVENT_CALLBACK(MetadataCallback)},
          std::pair{VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
                    VIR_DOMAIN_EVENT_CALLBACK(MemoryDeviceSizeCallback)}}) {
      callbacks.push_back(
          virConnectDomainEventRegisterAny(conn, nullptr, event, callback, new EventsRef(events),
                                           [](void* ref) { delete static_cast<EventsRef*>(ref); }));
    }
  }
  return std::make_shared<LibvirtHypervisor::Connection>(
      conn, std::move(broken), std::move(close_target), std::move(callbacks));
}

}  // namespace

// A connection being opened on a thread of its own: virConnectOpen takes no deadline, and a
// libvirtd that accepts connections but does not answer would hold its caller, and every caller
// after it, forever. Callers wait for it up to their deadline; it is used once it has opened.
class LibvirtHypervisor::PendingOpen {
 public:
  static std::shared_ptr<PendingOpen> Start(const std::string& uri, EventsRef events,
                                            absl::Time now) {
    auto pending = std::shared_ptr<PendingOpen>(new PendingOpen(now));
    try {
      std::thread([pending, uri, events = std::move(events)] {
        auto opened = OpenConnection(uri, events);
        absl::MutexLock lock(&pending->mu_);
        pending->result_ = std::move(opened);
        pending->done_ = true;
      }).detach();
    } catch (const std::system_error& e) {
      absl::MutexLock lock(&pending->mu_);
      pending->result_ = absl::ResourceExhaustedError(
          absl::StrCat("cannot start a thread to connect to libvirt: ", e.what()));
      pending->done_ = true;
    }
    return pending;
  }

  // The outcome, once the open returned by `deadline`; nullopt while it still waits.
  std::optional<absl::StatusOr<std::shared_ptr<Connection>>> Await(Clock& clock,
                                                                   absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    if (!clock.AwaitWithDeadline(mu_, absl::Condition(&done_), deadline)) return std::nullopt;
    return result_;
  }
  absl::Time started() const { return started_; }

 private:
  explicit PendingOpen(absl::Time started) : started_(started) {}
  const absl::Time started_;
  absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::StatusOr<std::shared_ptr<Connection>> result_ ABSL_GUARDED_BY(mu_);
};

LibvirtHypervisor::LibvirtHypervisor(std::string uri, Clock& clock, DomainChangeListener& changes)
    : uri_(std::move(uri)),
      clock_(clock),
      events_(std::make_shared<Events>(changes)),
      lanes_(CallLanes::Options{}, clock),
      backoff_(kMinBackoff) {
  StartEventLoopOnce();
}

LibvirtHypervisor::~LibvirtHypervisor() {
  events_->Close();
  absl::MutexLock lock(&mu_);
  main_.current.reset();
  calls_.current.reset();
}

absl::StatusOr<std::shared_ptr<LibvirtHypervisor::Connection>> LibvirtHypervisor::Open(
    Slot& slot, bool with_events, absl::Time deadline) {
  std::shared_ptr<PendingOpen> pending;
  {
    absl::MutexLock lock(&mu_);
    if (slot.current && !slot.current->broken()) return slot.current;
    slot.current.reset();
    if (!slot.opening) {
      if (with_events && clock_.Now() < next_connect_attempt_) {
        return absl::UnavailableError(absl::StrCat("cannot connect to libvirt at ", uri_, ": ",
                                                   last_connect_error_, " (retrying)"));
      }
      slot.opening = PendingOpen::Start(uri_, with_events ? events_ : nullptr, clock_.Now());
    }
    pending = slot.opening;
  }
  // A connection that has not answered for kConnectTimeout is not waited for again.
  const auto outcome =
      pending->Await(clock_, std::min(deadline, pending->started() + kConnectTimeout));
  absl::MutexLock lock(&mu_);
  if (slot.current && !slot.current->broken()) return slot.current;  // another caller took it
  if (!outcome) {
    return absl::UnavailableError(absl::StrCat(
        "libvirtd at ", uri_, " has not answered a new connection for ",
        absl::FormatDuration(absl::Trunc(clock_.Now() - pending->started(), absl::Seconds(1))),
        ": is it stopped or overloaded? balloond keeps waiting for it"));
  }
  if (slot.opening == pending) slot.opening.reset();
  if (!outcome->ok()) {
    if (with_events) {
      last_connect_error_ = std::string(outcome->status().message());
      next_connect_attempt_ = clock_.Now() + backoff_;
      backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    }
    return absl::UnavailableError(absl::StrCat("cannot connect to libvirt at ", uri_, ": ",
                                               outcome->status().message(),
                                               with_events ? "; is libvirtd running?" : ""));
  }
  if (with_events) backoff_ = kMinBackoff;
  slot.current = **outcome;
  return slot.current;
}

absl::StatusOr<std::shared_ptr<LibvirtHypervisor::Connection>> LibvirtHypervisor::Connect(
    absl::Time deadline) {
  return Open(main_, /*with_events=*/true, deadline);
}

absl::StatusOr<std::shared_ptr<LibvirtHypervisor::Connection>> LibvirtHypervisor::CallsConnection(
    absl::Time deadline) {
  // The main connection decides whether libvirt is reachable (and paces reconnecting).
  if (auto main = Connect(deadline); !main.ok()) return main.status();
  {
    absl::MutexLock lock(&mu_);
    // One carrying too many calls that hung QEMUs keep is replaced; it lives on until they return.
    if (calls_.current && calls_.current->stuck() >= kMaxStuckCallsPerConnection) {
      calls_.current.reset();
    }
  }
  return Open(calls_, /*with_events=*/false, deadline);
}

// A call on a connection, and what happens when its caller gives up on it while it runs: it is
// counted stuck on the connection until it returns.
class LibvirtHypervisor::TrackedCall {
 public:
  TrackedCall(CallLanes& lanes, const std::string& lane, std::shared_ptr<Connection> connection,
              std::function<absl::Status(Connection&)> call)
      : lanes_(lanes), connection_(std::move(connection)), outcome_(std::make_shared<Outcome>()) {
    pending_ =
        lanes.Submit(lane, [connection = connection_, outcome = outcome_, call = std::move(call)] {
          absl::Status status = call(*connection);
          if (status.code() == absl::StatusCode::kUnavailable) connection->MarkBroken();
          absl::MutexLock lock(&outcome->mu);
          outcome->status = std::move(status);
          if (outcome->stuck) connection->AddStuck(-1);
        });
  }

  // The call's status, or DEADLINE_EXCEEDED at `deadline`.
  absl::Status Finish(absl::Time deadline) {
    absl::Status waited = pending_->Wait(deadline);
    absl::MutexLock lock(&outcome_->mu);
    if (waited.ok()) return outcome_->status;
    if (lanes_.Abandon(pending_)) {
      outcome_->stuck = true;
      connection_->AddStuck(1);
      return absl::DeadlineExceededError("QEMU did not answer in time");
    }
    return waited;
  }

 private:
  // Shared with the call, which may outlive its caller when QEMU does not answer.
  struct Outcome {
    absl::Mutex mu;
    absl::Status status ABSL_GUARDED_BY(mu);
    bool stuck ABSL_GUARDED_BY(mu) = false;
  };
  CallLanes& lanes_;
  std::shared_ptr<Connection> connection_;
  std::shared_ptr<Outcome> outcome_;
  std::shared_ptr<PendingCall> pending_;
};

absl::Status LibvirtHypervisor::OnCallsConnection(const std::string& lane, absl::Time deadline,
                                                  std::function<absl::Status(Connection&)> call) {
  auto conn = CallsConnection(deadline);
  if (!conn.ok()) return conn.status();
  return TrackedCall(lanes_, lane, *conn, std::move(call)).Finish(deadline);
}

absl::Status LibvirtHypervisor::OnDomain(const std::string& uuid, absl::Time deadline,
                                         std::function<absl::Status(virDomainPtr)> call) {
  return OnCallsConnection(uuid, deadline, [uuid, call = std::move(call)](Connection& c) {
    auto handle = c.HandleFor(uuid);
    if (!handle.ok()) return handle.status();
    return call((*handle)->ptr);
  });
}

absl::StatusOr<std::vector<DomainStats>> LibvirtHypervisor::CollectStats(
    absl::Time deadline, const CollectionFilter& filter) {
  std::set<std::string> suspects;
  {
    absl::MutexLock lock(&mu_);
    suspects = suspects_;
  }
  auto collected = suspects.empty() && filter.steady.empty() && filter.asleep.empty()
                       ? CollectAll(deadline)
                       : CollectListed(suspects, filter, deadline);
  absl::MutexLock lock(&mu_);
  if (!collected.ok()) {
    // A QEMU that stopped answering a moment ago held the call: until each domain answers again
    // it is collected in a call of its own.
    if (collected.status().code() == absl::StatusCode::kDeadlineExceeded) {
      for (const auto& [uuid, info] : known_) suspects_.insert(uuid);
    }
    return collected.status();
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
  return collected;
}

absl::StatusOr<std::vector<DomainStats>> LibvirtHypervisor::CollectAll(absl::Time deadline) {
  auto result = std::make_shared<std::vector<DomainStats>>();
  absl::Status s = OnCallsConnection("", deadline, [result](Connection& c) -> absl::Status {
    virDomainStatsRecordPtr* records = nullptr;
    const int n = virConnectGetAllDomainStats(
        c.get(), kStatsGroups, &records, kStatsFlags | VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE);
    if (n < 0) return LastLibvirtError("reading domain statistics");
    std::map<std::string, std::shared_ptr<Handle>> kept;
    result->reserve(n);
    for (int i = 0; i < n; ++i) {
      DomainStats d = ParseDomainStats(Params(*records[i]));
      Identify(records[i]->dom, d.info);
      c.Keep(records[i]->dom, kept);
      result->push_back(std::move(d));
    }
    virDomainStatsRecordListFree(records);
    c.ReplaceHandles(std::move(kept));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return std::move(*result);
}

absl::StatusOr<std::vector<DomainStats>> LibvirtHypervisor::CollectListed(
    const std::set<std::string>& suspects, const CollectionFilter& filter, absl::Time deadline) {
  // Which domains run, and how much CPU the steady ones used: libvirtd alone answers these.
  struct Listing {
    std::vector<std::shared_ptr<Handle>> running;
    std::map<std::string, int64_t> cpu_time_ns;
  };
  auto listing = std::make_shared<Listing>();
  // By value: a call its caller gave up on at the deadline still runs.
  absl::Status listed = OnCallsConnection(
      "", deadline, [listing, steady = filter.steady](Connection& c) -> absl::Status {
        virDomainPtr* doms = nullptr;
        const int n = virConnectListAllDomains(c.get(), &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0) return LastLibvirtError("listing domains");
        absl::Cleanup free_list = [doms] { free(doms); };
        std::map<std::string, std::shared_ptr<Handle>> kept;
        for (int i = 0; i < n; ++i) {
          c.Keep(doms[i], kept);
          const std::string uuid = UuidOf(doms[i]);
          virDomainInfo info;
          if (steady.count(uuid) && virDomainGetInfo(doms[i], &info) == 0) {
            listing->cpu_time_ns[uuid] = static_cast<int64_t>(info.cpuTime);
          }
          listing->running.push_back(std::make_shared<Handle>(doms[i]));  // owns this reference
        }
        c.ReplaceHandles(std::move(kept));
        return absl::OkStatus();
      });
  if (!listed.ok()) return listed;

  // A call for the domains that answered last time, one for each suspect.
  struct Batch {
    std::vector<std::shared_ptr<Handle>> domains;
    std::vector<DomainStats> stats;
    std::optional<TrackedCall> call;
  };
  std::vector<std::shared_ptr<Batch>> batches(1, std::make_shared<Batch>());
  std::vector<DomainStats> out;
  std::map<std::string, int64_t> cpu_of_read;  // steady but busy: read, and given its CPU time
  for (const auto& handle : listing->running) {
    const std::string uuid = UuidOf(handle->ptr);
    if (filter.asleep.count(uuid)) {
      DomainInfo current;
      Identify(handle->ptr, current);
      absl::MutexLock lock(&mu_);
      if (auto it = known_.find(uuid); it != known_.end() && it->second.id == current.id) {
        DomainStats d;
        d.info = it->second;
        d.skipped = true;
        out.push_back(std::move(d));
        continue;
      }
    }
    if (auto cpu = listing->cpu_time_ns.find(uuid); cpu != listing->cpu_time_ns.end()) {
      DomainInfo current;
      Identify(handle->ptr, current);
      std::optional<DomainInfo> last;
      {
        absl::MutexLock lock(&mu_);
        if (auto it = known_.find(uuid); it != known_.end()) last = it->second;
      }
      // Skipped only while it is the QEMU process last read: a restarted one is read at once.
      if (last && last->id == current.id && !(filter.busy && filter.busy(uuid, cpu->second))) {
        DomainStats d;
        d.info = *last;
        d.skipped = true;
        d.cpu_time_ns = cpu->second;
        out.push_back(std::move(d));
        continue;
      }
      cpu_of_read[uuid] = cpu->second;
    }
    if (suspects.count(uuid) == 0) {
      batches.front()->domains.push_back(handle);
    } else {
      batches.push_back(std::make_shared<Batch>());
      batches.back()->domains.push_back(handle);
    }
  }
  auto conn = CallsConnection(deadline);
  if (!conn.ok()) return conn.status();
  for (size_t i = 0; i < batches.size(); ++i) {
    Batch& b = *batches[i];
    if (b.domains.empty()) continue;
    const std::string lane = i == 0 ? "" : UuidOf(b.domains.front()->ptr);
    b.call.emplace(lanes_, lane, *conn, [batch = batches[i]](Connection&) -> absl::Status {
      std::vector<virDomainPtr> doms;
      for (const auto& h : batch->domains) doms.push_back(h->ptr);
      doms.push_back(nullptr);
      virDomainStatsRecordPtr* records = nullptr;
      const int n = virDomainListGetStats(doms.data(), kStatsGroups, &records, kStatsFlags);
      if (n < 0) return LastLibvirtError("reading domain statistics");
      for (int r = 0; r < n; ++r) {
        DomainStats d = ParseDomainStats(Params(*records[r]));
        Identify(records[r]->dom, d.info);
        batch->stats.push_back(std::move(d));
      }
      virDomainStatsRecordListFree(records);
      return absl::OkStatus();
    });
  }
  for (size_t i = 0; i < batches.size(); ++i) {
    Batch& b = *batches[i];
    if (b.domains.empty()) continue;
    const absl::Status status = b.call->Finish(deadline);
    if (status.ok()) {
      for (DomainStats& d : b.stats) {
        if (auto cpu = cpu_of_read.find(d.info.uuid); cpu != cpu_of_read.end()) {
          d.cpu_time_ns = cpu->second;
        }
        out.push_back(std::move(d));
      }
      continue;
    }
    // Not answered this time: listed without statistics, as the last collection knew them.
    absl::MutexLock lock(&mu_);
    for (const auto& handle : b.domains) {
      DomainStats d;
      Identify(handle->ptr, d.info);
      if (auto it = known_.find(d.info.uuid); it != known_.end()) d.info = it->second;
      d.info.active = true;
      // The answering domains' call did not return: one of them stopped answering.
      if (i == 0 && status.code() == absl::StatusCode::kDeadlineExceeded) {
        suspects_.insert(d.info.uuid);
      }
      out.push_back(std::move(d));
    }
  }
  return out;
}

absl::StatusOr<DomainInfo> LibvirtHypervisor::LookupDomain(absl::string_view name_or_uuid,
                                                           absl::Time deadline) {
  auto info = std::make_shared<absl::StatusOr<DomainInfo>>();
  absl::Status s = OnCallsConnection(
      "", deadline, [info, ref = std::string(name_or_uuid)](Connection& c) -> absl::Status {
        // A UUID first: a domain may be named like another one's UUID.
        virDomainPtr dom = nullptr;
        if (LooksLikeUuid(ref)) dom = virDomainLookupByUUIDString(c.get(), ref.c_str());
        if (dom == nullptr) dom = virDomainLookupByName(c.get(), ref.c_str());
        if (dom == nullptr) {
          absl::Status status = LastLibvirtError("looking up domain");
          if (status.code() != absl::StatusCode::kNotFound) return status;
          *info = WithReason(absl::NotFoundError(absl::StrCat("no domain named '", ref,
                                                              "' (see `virsh list --all` or "
                                                              "`balloonctl list`)")),
                             "DOMAIN_NOT_FOUND", {{"domain", ref}});
          return absl::OkStatus();
        }
        Handle holder(dom);
        *info = DescribeDomain(dom);
        return absl::OkStatus();
      });
  if (!s.ok()) return s;
  return std::move(*info);
}

absl::StatusOr<DomainConfig> LibvirtHypervisor::ReadConfig(const std::string& uuid,
                                                           absl::Time deadline) {
  auto config = std::make_shared<absl::StatusOr<DomainConfig>>();
  absl::Status s = OnDomain(uuid, deadline, [config](virDomainPtr dom) -> absl::Status {
    char* xml = virDomainGetXMLDesc(dom, 0);
    if (xml == nullptr) return LastLibvirtError("reading the domain's XML");
    *config = ParseDomainXml(TakeLibvirtString(xml));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return std::move(*config);
}

absl::Status LibvirtHypervisor::SetBalloonTarget(const std::string& uuid, int64_t target_bytes,
                                                 absl::Time deadline) {
  const unsigned long kib = static_cast<unsigned long>(target_bytes / 1024);
  return OnDomain(uuid, deadline, [kib](virDomainPtr dom) -> absl::Status {
    if (virDomainSetMemoryFlags(dom, kib, VIR_DOMAIN_AFFECT_LIVE) < 0) {
      return LastLibvirtError("setting the balloon target");
    }
    return absl::OkStatus();
  });
}

absl::Status LibvirtHypervisor::SetMemoryDeviceRequest(const std::string& uuid,
                                                       const std::string& alias,
                                                       int64_t requested_bytes,
                                                       absl::Time deadline) {
  absl::Status s =
      OnDomain(uuid, deadline, [alias, requested_bytes](virDomainPtr dom) -> absl::Status {
        char* xml = virDomainGetXMLDesc(dom, 0);
        if (xml == nullptr) return LastLibvirtError("reading the domain's XML");
        auto config = ParseDomainXml(TakeLibvirtString(xml));
        if (!config.ok()) return config.status();
        const MemoryDevice* device = nullptr;
        for (const MemoryDevice& d : config->memory_devices) {
          if (d.alias == alias) device = &d;
        }
        if (device == nullptr) {
          return absl::NotFoundError(
              absl::StrCat("the domain has no virtio-mem device '", alias, "'"));
        }
        if (requested_bytes < 0 || requested_bytes > device->size_bytes ||
            requested_bytes % device->block_bytes != 0) {
          return absl::InvalidArgumentError(
              absl::StrCat("virtio-mem device '", alias, "' plugs whole blocks of ",
                           device->block_bytes, " bytes up to ", device->size_bytes, " bytes; ",
                           requested_bytes, " bytes is not that"));
        }
        auto update = WithRequestedSize(device->xml, requested_bytes);
        if (!update.ok()) return update.status();
        if (virDomainUpdateDeviceFlags(dom, update->c_str(), VIR_DOMAIN_AFFECT_LIVE) < 0) {
          return LastLibvirtError("resizing the virtio-mem device");
        }
        return absl::OkStatus();
      });
  // libvirt tells of the size the guest plugs, not of the new request: the definition is read
  // again as if it had.
  if (s.ok() && events_) events_->Notify(uuid);
  return s;
}

absl::Status LibvirtHypervisor::SetStatsPeriod(const std::string& uuid, int seconds,
                                               absl::Time deadline) {
  return OnDomain(uuid, deadline, [seconds](virDomainPtr dom) -> absl::Status {
    if (virDomainSetMemoryStatsPeriod(dom, seconds, VIR_DOMAIN_AFFECT_LIVE) < 0) {
      return LastLibvirtError("setting the statistics period");
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<bool> LibvirtHypervisor::JobActive(const std::string& uuid, absl::Time deadline) {
  auto active = std::make_shared<bool>(false);
  absl::Status s = OnDomain(uuid, deadline, [active](virDomainPtr dom) -> absl::Status {
    virDomainJobInfo info;
    if (virDomainGetJobInfo(dom, &info) < 0) return LastLibvirtError("reading the domain's job");
    *active = info.type != VIR_DOMAIN_JOB_NONE && info.type != VIR_DOMAIN_JOB_COMPLETED &&
              info.type != VIR_DOMAIN_JOB_FAILED && info.type != VIR_DOMAIN_JOB_CANCELLED;
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return *active;
}

absl::StatusOr<std::string> LibvirtHypervisor::ReadPolicyMetadata(const std::string& uuid,
                                                                  absl::Time deadline) {
  auto element = std::make_shared<std::string>();
  absl::Status s = OnDomain(uuid, deadline, [element](virDomainPtr dom) -> absl::Status {
    char* xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, kPolicyMetadataNamespace,
                                     VIR_DOMAIN_AFFECT_CURRENT);
    if (xml == nullptr) {
      virErrorPtr error = virGetLastError();
      if (error != nullptr && error->code == VIR_ERR_NO_DOMAIN_METADATA) return absl::OkStatus();
      return LastLibvirtError("reading the domain's metadata");
    }
    *element = TakeLibvirtString(xml);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return std::move(*element);
}

absl::Status LibvirtHypervisor::WritePolicyMetadata(const std::string& uuid,
                                                    const std::string& element,
                                                    absl::Time deadline) {
  return OnDomain(uuid, deadline, [element](virDomainPtr dom) -> absl::Status {
    // A transient domain has no definition to write; a domain that is not running, no live one.
    unsigned int flags = 0;
    if (virDomainIsActive(dom) == 1) flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainIsPersistent(dom) == 1) flags |= VIR_DOMAIN_AFFECT_CONFIG;
    if (virDomainSetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT,
                             element.empty() ? nullptr : element.c_str(), kPolicyMetadataPrefix,
                             kPolicyMetadataNamespace, flags) < 0) {
      return LastLibvirtError("writing the domain's metadata");
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> LibvirtHypervisor::RunQmp(const std::string& uuid,
                                                      const std::string& command,
                                                      absl::Time deadline) {
  auto reply = std::make_shared<std::string>();
  absl::Status s = OnDomain(uuid, deadline, [reply, command](virDomainPtr dom) -> absl::Status {
    char* out = nullptr;
    if (virDomainQemuMonitorCommand(dom, command.c_str(), &out, 0) < 0) {
      return LastLibvirtError("QMP command");
    }
    *reply = TakeLibvirtString(out);
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return std::move(*reply);
}

}  // namespace balloond
