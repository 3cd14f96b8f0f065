#include "agent/libvirt_hypervisor.h"

#include <libvirt/libvirt-qemu.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(250);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// A QMP command unanswered this long means a hung QEMU, not a busy one (replies take ~1 ms).
constexpr absl::Duration kHungCommandAge = absl::Seconds(1);
// libvirtd serves at most max_client_requests (default 5) calls of one connection at a time, and a
// QMP command to a hung QEMU keeps its slot until QEMU answers. A connection carrying this many such
// calls takes no new ones: a fresh one is opened, so hung QEMUs can never wedge the agent's calls.
constexpr int kMaxStuckCallsPerConnection = 2;

// libvirt's error for the calling thread, as a status with the nearest gRPC-style code.
absl::Status LastLibvirtError(absl::string_view what) {
  const virError* err = virGetLastError();
  std::string message = absl::StrCat(what, ": ", err && err->message ? err->message : "unknown libvirt error");
  if (err == nullptr) return absl::UnknownError(message);
  switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
      return absl::NotFoundError(message);
    case VIR_ERR_OPERATION_INVALID:
      return absl::FailedPreconditionError(message);
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_OPERATION_TIMEOUT:
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

DomainRunState ToRunState(unsigned char state) {
  switch (state) {
    case VIR_DOMAIN_RUNNING: return DomainRunState::kRunning;
    case VIR_DOMAIN_PAUSED: return DomainRunState::kPaused;
    case VIR_DOMAIN_SHUTDOWN: return DomainRunState::kShuttingDown;
    default: return DomainRunState::kOther;
  }
}

absl::StatusOr<DomainInfo> DescribeDomain(virDomainPtr dom) {
  DomainInfo info;
  info.name = virDomainGetName(dom);
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) < 0) return LastLibvirtError("virDomainGetUUIDString");
  info.uuid = uuid;
  info.id = static_cast<int>(virDomainGetID(dom));
  virDomainInfo vinfo;
  if (virDomainGetInfo(dom, &vinfo) < 0) return LastLibvirtError("virDomainGetInfo");
  info.state = ToRunState(vinfo.state);
  info.active = vinfo.state != VIR_DOMAIN_SHUTOFF;
  info.max_memory_bytes = static_cast<int64_t>(vinfo.maxMem) * 1024;
  return info;
}

bool LooksLikeUuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

struct DomainRef {
  virDomainPtr ptr;
  explicit DomainRef(virDomainPtr p) : ptr(p) {}
  ~DomainRef() { if (ptr) virDomainFree(ptr); }
  DomainRef(const DomainRef&) = delete;
  DomainRef& operator=(const DomainRef&) = delete;
};

void CloseCallback(virConnectPtr, int, void* opaque) {
  static_cast<LibvirtHypervisor*>(opaque)->OnConnectionClosed();
}

int LifecycleCallback(virConnectPtr, virDomainPtr, int, int, void* opaque) {
  static_cast<LibvirtHypervisor*>(opaque)->OnDomainEvent();
  return 0;
}

void BalloonChangeCallback(virConnectPtr, virDomainPtr dom, unsigned long long, void* opaque) {
  char uuid[VIR_UUID_STRING_BUFLEN];
  if (virDomainGetUUIDString(dom, uuid) == 0) static_cast<LibvirtHypervisor*>(opaque)->OnBalloonChange(uuid);
}

}  // namespace

class LibvirtHypervisor::Connection {
 public:
  Connection(virConnectPtr conn, std::vector<int> event_callbacks)
      : conn_(conn), event_callbacks_(std::move(event_callbacks)) {}
  ~Connection() {
    for (int id : event_callbacks_) {
      if (id >= 0) virConnectDomainEventDeregisterAny(conn_, id);
    }
    virConnectUnregisterCloseCallback(conn_, CloseCallback);
    virConnectClose(conn_);
  }
  virConnectPtr get() const { return conn_; }
  bool broken() const { return broken_.load(); }
  void MarkBroken() { broken_.store(true); }
  // Calls whose caller gave up at its deadline while QEMU still has not answered.
  int stuck() const { return stuck_.load(); }
  void AddStuck(int n) { stuck_.fetch_add(n); }

 private:
  virConnectPtr conn_;
  std::vector<int> event_callbacks_;
  std::atomic<bool> broken_{false};
  std::atomic<int> stuck_{0};
};

struct LibvirtHypervisor::MonitorLane {
  absl::Mutex mu;
  bool busy ABSL_GUARDED_BY(mu) = false;
  int agent_waiting ABSL_GUARDED_BY(mu) = 0;
  absl::Time busy_since ABSL_GUARDED_BY(mu);
  // The domain's handle on the monitor connection it was looked up on, kept so that a QMP command
  // costs one libvirt call rather than two.
  std::shared_ptr<DomainRef> domain ABSL_GUARDED_BY(mu);
  const Connection* domain_connection ABSL_GUARDED_BY(mu) = nullptr;
};

LibvirtHypervisor::LibvirtHypervisor(std::string uri) : uri_(std::move(uri)), backoff_(kMinBackoff) {
  StartEventLoopOnce();
}

LibvirtHypervisor::~LibvirtHypervisor() {
  absl::MutexLock lock(&mu_);
  connection_.reset();
  monitor_connection_.reset();
}

void LibvirtHypervisor::SetChangeCallback(std::function<void()> on_change) {
  absl::MutexLock lock(&mu_);
  on_change_ = std::move(on_change);
}

void LibvirtHypervisor::OnConnectionClosed() {
  std::function<void()> notify;
  {
    absl::MutexLock lock(&mu_);
    if (connection_) connection_->MarkBroken();
    if (monitor_connection_) monitor_connection_->MarkBroken();
    notify = on_change_;
  }
  if (notify) notify();
}

void LibvirtHypervisor::OnBalloonChange(const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  ++balloon_changes_[uuid];
}

void LibvirtHypervisor::OnDomainEvent() {
  std::function<void()> notify;
  {
    absl::MutexLock lock(&mu_);
    notify = on_change_;
  }
  if (notify) notify();
}

absl::StatusOr<std::shared_ptr<LibvirtHypervisor::Connection>> LibvirtHypervisor::Connect() {
  absl::MutexLock lock(&mu_);
  if (connection_ && !connection_->broken()) return connection_;
  connection_.reset();
  const absl::Time now = absl::Now();
  if (now < next_connect_attempt_) {
    return absl::UnavailableError(absl::StrCat("cannot connect to libvirt at ", uri_, ": ",
                                               last_connect_error_, " (retrying)"));
  }
  virConnectPtr conn = virConnectOpen(uri_.c_str());
  if (conn == nullptr) {
    last_connect_error_ = std::string(LastLibvirtError("virConnectOpen").message());
    next_connect_attempt_ = now + backoff_;
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    return absl::UnavailableError(absl::StrCat("cannot connect to libvirt at ", uri_, ": ",
                                               last_connect_error_,
                                               "; is libvirtd running?"));
  }
  backoff_ = kMinBackoff;
  // Keepalive notices a libvirtd that died without closing the socket.
  virConnectSetKeepAlive(conn, 5, 3);
  virConnectRegisterCloseCallback(conn, CloseCallback, this, nullptr);
  const int lifecycle = virConnectDomainEventRegisterAny(
      conn, nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK(LifecycleCallback),
      this, nullptr);
  const int balloon = virConnectDomainEventRegisterAny(
      conn, nullptr, VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
      VIR_DOMAIN_EVENT_CALLBACK(BalloonChangeCallback), this, nullptr);
  connection_ = std::make_shared<Connection>(conn, std::vector<int>{lifecycle, balloon});
  return connection_;
}

absl::StatusOr<std::shared_ptr<LibvirtHypervisor::Connection>> LibvirtHypervisor::MonitorConnection() {
  // The main connection decides whether libvirt is reachable (and paces reconnecting).
  if (auto main = Connect(); !main.ok()) return main.status();
  absl::MutexLock lock(&mu_);
  if (monitor_connection_ && !monitor_connection_->broken() &&
      monitor_connection_->stuck() < kMaxStuckCallsPerConnection) {
    return monitor_connection_;
  }
  // The one it replaces lives on until its stuck calls return.
  virConnectPtr conn = virConnectOpen(uri_.c_str());
  if (conn == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot open a monitor connection to libvirt at ", uri_,
                                               ": ", LastLibvirtError("virConnectOpen").message()));
  }
  virConnectSetKeepAlive(conn, 5, 3);
  monitor_connection_ = std::make_shared<Connection>(conn, std::vector<int>{});
  return monitor_connection_;
}

absl::StatusOr<std::vector<DomainInfo>> LibvirtHypervisor::ListActiveDomains() {
  auto conn = Connect();
  if (!conn.ok()) return conn.status();
  virDomainPtr* doms = nullptr;
  const int n = virConnectListAllDomains((*conn)->get(), &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
  if (n < 0) {
    absl::Status status = LastLibvirtError("listing domains");
    (*conn)->MarkBroken();
    return absl::UnavailableError(status.message());
  }
  std::vector<DomainInfo> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) {
    DomainRef dom(doms[i]);
    // A domain that stops between the listing and this call is simply not listed.
    if (auto info = DescribeDomain(dom.ptr); info.ok() && info->active) out.push_back(*info);
  }
  free(doms);
  absl::MutexLock lock(&mu_);
  for (DomainInfo& info : out) info.balloon_changes = balloon_changes_[info.uuid];
  return out;
}

absl::StatusOr<DomainInfo> LibvirtHypervisor::LookupDomain(absl::string_view name_or_uuid) {
  auto conn = Connect();
  if (!conn.ok()) return conn.status();
  const std::string ref(name_or_uuid);
  virDomainPtr dom = nullptr;
  if (LooksLikeUuid(ref)) dom = virDomainLookupByUUIDString((*conn)->get(), ref.c_str());
  if (dom == nullptr) dom = virDomainLookupByName((*conn)->get(), ref.c_str());
  if (dom == nullptr) {
    absl::Status status = LastLibvirtError("looking up domain");
    if (status.code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("no domain named '", ref,
                                              "' (see `virsh list --all` or `balloonctl list`)"));
    }
    return status;
  }
  DomainRef holder(dom);
  return DescribeDomain(dom);
}

std::shared_ptr<LibvirtHypervisor::MonitorLane> LibvirtHypervisor::LaneFor(const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  auto& lane = lanes_[uuid];
  if (!lane) lane = std::make_shared<MonitorLane>();
  return lane;
}

absl::StatusOr<std::string> LibvirtHypervisor::RunQmp(const std::string& uuid,
                                                      const std::string& command,
                                                      absl::Time deadline, QmpCaller caller) {
  // QMP goes over its own connection: listing and events must never queue behind a hung QEMU.
  auto conn = MonitorConnection();
  if (!conn.ok()) return conn.status();
  std::shared_ptr<Connection> connection = *conn;

  std::shared_ptr<MonitorLane> lane = LaneFor(uuid);
  std::shared_ptr<DomainRef> domain;
  {
    absl::MutexLock lock(&lane->mu);
    // Behind a command that has already waited long, this one would only wait out its own deadline
    // holding a worker: fail fast instead, so any number of hung QEMUs cost nothing per round.
    if (lane->busy && absl::Now() - lane->busy_since > kHungCommandAge) {
      return absl::DeadlineExceededError(absl::StrCat(
          "an earlier QMP command has been pending for ",
          absl::FormatDuration(absl::Trunc(absl::Now() - lane->busy_since, absl::Milliseconds(100))),
          " without an answer"));
    }
    // The agent's commands go first: a client's waits while one of the agent's does.
    const bool agent = caller == QmpCaller::kAgent;
    if (agent) ++lane->agent_waiting;
    auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(lane->mu) {
      return !lane->busy && (agent || lane->agent_waiting == 0);
    };
    const bool turn = lane->mu.AwaitWithDeadline(absl::Condition(&idle), deadline);
    if (agent) --lane->agent_waiting;
    if (!turn) {
      return absl::DeadlineExceededError(absl::StrCat(
          "an earlier QMP command has been pending for ",
          absl::FormatDuration(absl::Trunc(absl::Now() - lane->busy_since, absl::Milliseconds(100))),
          " without an answer"));
    }
    // A handle stays valid across restarts of the domain (libvirt resolves it by UUID), but not
    // across connections.
    if (lane->domain == nullptr || lane->domain_connection != connection.get()) {
      virDomainPtr dom = virDomainLookupByUUIDString(connection->get(), uuid.c_str());
      if (dom == nullptr) return LastLibvirtError("looking up domain");
      lane->domain = std::make_shared<DomainRef>(dom);
      lane->domain_connection = connection.get();
    }
    domain = lane->domain;
    lane->busy = true;
    lane->busy_since = absl::Now();
  }

  // libvirt's call cannot be cancelled, so it runs on its own thread: the caller leaves at its
  // deadline and the lane stays busy until QEMU answers.
  struct Outcome {
    absl::Mutex mu;
    bool done ABSL_GUARDED_BY(mu) = false;
    bool abandoned ABSL_GUARDED_BY(mu) = false;  // the caller left; counted as stuck
    absl::StatusOr<std::string> reply ABSL_GUARDED_BY(mu);
  };
  auto outcome = std::make_shared<Outcome>();
  try {
    std::thread([domain, lane, outcome, connection, command] {
      char* reply = nullptr;
      absl::StatusOr<std::string> result;
      if (virDomainQemuMonitorCommand(domain->ptr, command.c_str(), &reply, 0) < 0) {
        result = LastLibvirtError("QMP command");
        if (result.status().code() == absl::StatusCode::kUnavailable) connection->MarkBroken();
      } else {
        result = std::string(reply);
        free(reply);
      }
      {
        absl::MutexLock lock(&outcome->mu);
        outcome->reply = std::move(result);
        outcome->done = true;
        if (outcome->abandoned) connection->AddStuck(-1);
      }
      absl::MutexLock lock(&lane->mu);
      lane->busy = false;
    }).detach();
  } catch (const std::system_error& e) {
    // Out of threads (TasksMax): this call fails, the lane is free for the next.
    absl::MutexLock lock(&lane->mu);
    lane->busy = false;
    return absl::ResourceExhaustedError(absl::StrCat("cannot start a thread for QMP: ", e.what()));
  }

  absl::MutexLock lock(&outcome->mu);
  auto done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(outcome->mu) { return outcome->done; };
  if (!outcome->mu.AwaitWithDeadline(absl::Condition(&done), deadline)) {
    outcome->abandoned = true;
    connection->AddStuck(1);
    return absl::DeadlineExceededError("QEMU did not answer the QMP command in time");
  }
  return outcome->reply;
}

}  // namespace balloond
