#include "agent/libvirt/libvirt_connections.h"

#include <unistd.h>

#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"

namespace balloond {
namespace {

constexpr absl::Duration kMinBackoff = absl::Milliseconds(250);
constexpr absl::Duration kMaxBackoff = absl::Seconds(5);
// How long a new connection may take to answer before its callers are told libvirtd does not.
constexpr absl::Duration kConnectTimeout = absl::Seconds(5);
// A calls connection carrying this many calls that hung QEMUs keep is retired (see the class).
constexpr int kMaxStuckCallsPerConnection = 2;

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

// What a connection's close callback marks broken, and whom it tells.
struct LibvirtConnection::CloseTarget {
  std::shared_ptr<LibvirtEvents> events;  // null for a connection whose loss the other one tells
  std::shared_ptr<std::atomic<bool>> broken;
};

void LibvirtConnection::OnClose(virConnectPtr, int, void* opaque) {
  auto* target = static_cast<CloseTarget*>(opaque);
  target->broken->store(true);
  if (target->events) target->events->Notify("");
}

// The calls connection has no keepalive of its own: libvirt 9.0's client, when keepalive closes a
// connection on which several threads wait, leaves an event source pointing into a returned
// thread's stack, and the thread that waits next crashes on it (seen with a libvirtd SIGSTOPped
// for 30 s). Its calls end at their callers' deadlines anyway, and the events connection tells
// when libvirtd is gone.
absl::StatusOr<std::shared_ptr<LibvirtConnection>> LibvirtConnection::Open(
    const std::string& uri, const std::shared_ptr<LibvirtEvents>& events) {
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
  virConnectRegisterCloseCallback(conn, OnClose, close_target.get(), nullptr);
  std::vector<int> registrations;
  if (events) registrations = RegisterDomainEvents(conn, events);
  return std::shared_ptr<LibvirtConnection>(new LibvirtConnection(
      conn, std::move(broken), std::move(close_target), std::move(registrations)));
}

LibvirtConnection::LibvirtConnection(virConnectPtr conn, std::shared_ptr<std::atomic<bool>> broken,
                                     std::unique_ptr<CloseTarget> close_target,
                                     std::vector<int> event_registrations)
    : conn_(conn),
      broken_(std::move(broken)),
      close_target_(std::move(close_target)),
      event_registrations_(std::move(event_registrations)) {}

LibvirtConnection::~LibvirtConnection() {
  {
    absl::MutexLock lock(&mu_);
    handles_.clear();
  }
  DeregisterDomainEvents(conn_, event_registrations_);
  // Returns once no close callback runs (libvirt calls it under the lock this takes).
  virConnectUnregisterCloseCallback(conn_, OnClose);
  virConnectClose(conn_);
}

absl::StatusOr<std::shared_ptr<DomainHandle>> LibvirtConnection::HandleFor(
    const std::string& uuid) {
  {
    absl::MutexLock lock(&mu_);
    auto it = handles_.find(uuid);
    if (it != handles_.end()) return it->second;
  }
  virDomainPtr dom = virDomainLookupByUUIDString(conn_, uuid.c_str());
  if (dom == nullptr) return LastLibvirtError("looking up domain");
  auto handle = std::make_shared<DomainHandle>(dom);
  absl::MutexLock lock(&mu_);
  handles_[uuid] = handle;
  return handle;
}

void LibvirtConnection::Keep(virDomainPtr dom,
                             std::map<std::string, std::shared_ptr<DomainHandle>>& kept) {
  virDomainRef(dom);
  kept[UuidOf(dom)] = std::make_shared<DomainHandle>(dom);
}

void LibvirtConnection::ReplaceHandles(std::map<std::string, std::shared_ptr<DomainHandle>> kept) {
  absl::MutexLock lock(&mu_);
  handles_ = std::move(kept);
}

// A connection being opened on a thread of its own: virConnectOpen takes no deadline, and a
// libvirtd that accepts connections but does not answer would hold its caller, and every caller
// after it, forever. Callers wait for it up to their deadline; it is used once it has opened.
class LibvirtConnections::PendingOpen {
 public:
  static std::shared_ptr<PendingOpen> Start(const std::string& uri,
                                            std::shared_ptr<LibvirtEvents> events, absl::Time now) {
    auto pending = std::shared_ptr<PendingOpen>(new PendingOpen(now));
    try {
      std::thread([pending, uri, events = std::move(events)] {
        auto opened = LibvirtConnection::Open(uri, events);
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
  std::optional<absl::StatusOr<std::shared_ptr<LibvirtConnection>>> Await(Clock& clock,
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
  absl::StatusOr<std::shared_ptr<LibvirtConnection>> result_ ABSL_GUARDED_BY(mu_);
};

// A call on a connection, and what happens when its caller gives up on it while it runs: it is
// counted stuck on the connection until it returns.
class LibvirtConnections::TrackedCall {
 public:
  TrackedCall(CallLanes& lanes, const std::string& lane,
              std::shared_ptr<LibvirtConnection> connection, Call call)
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
  std::shared_ptr<LibvirtConnection> connection_;
  std::shared_ptr<Outcome> outcome_;
  std::shared_ptr<PendingCall> pending_;
};

LibvirtConnections::LibvirtConnections(std::string uri, Clock& clock,
                                       std::shared_ptr<LibvirtEvents> events)
    : uri_(std::move(uri)),
      clock_(clock),
      events_(std::move(events)),
      lanes_(CallLanes::Options{}, clock),
      backoff_(kMinBackoff) {
  StartLibvirtEventLoop();
}

LibvirtConnections::~LibvirtConnections() {
  absl::MutexLock lock(&mu_);
  main_.current.reset();
  calls_.current.reset();
}

absl::StatusOr<std::shared_ptr<LibvirtConnection>> LibvirtConnections::Open(Slot& slot,
                                                                            bool with_events,
                                                                            absl::Time deadline) {
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

absl::StatusOr<std::shared_ptr<LibvirtConnection>> LibvirtConnections::CallsConnection(
    absl::Time deadline) {
  if (auto main = Open(main_, /*with_events=*/true, deadline); !main.ok()) return main.status();
  {
    absl::MutexLock lock(&mu_);
    // One carrying too many calls that hung QEMUs keep is replaced; it lives on until they return.
    if (calls_.current && calls_.current->stuck() >= kMaxStuckCallsPerConnection) {
      calls_.current.reset();
    }
  }
  return Open(calls_, /*with_events=*/false, deadline);
}

absl::Status LibvirtConnections::Run(const std::string& lane, absl::Time deadline, Call call) {
  auto conn = CallsConnection(deadline);
  if (!conn.ok()) return conn.status();
  return TrackedCall(lanes_, lane, *conn, std::move(call)).Finish(deadline);
}

absl::Status LibvirtConnections::RunOnDomain(const std::string& uuid, absl::Time deadline,
                                             DomainCall call) {
  return Run(uuid, deadline, [uuid, call = std::move(call)](LibvirtConnection& c) {
    auto handle = c.HandleFor(uuid);
    if (!handle.ok()) return handle.status();
    return call((*handle)->get());
  });
}

absl::StatusOr<std::vector<absl::Status>> LibvirtConnections::RunEach(std::vector<LaneCall> calls,
                                                                      absl::Time deadline) {
  auto conn = CallsConnection(deadline);
  if (!conn.ok()) return conn.status();
  std::vector<TrackedCall> started;
  started.reserve(calls.size());
  for (LaneCall& c : calls) started.emplace_back(lanes_, c.lane, *conn, std::move(c.call));
  std::vector<absl::Status> statuses;
  statuses.reserve(started.size());
  for (TrackedCall& c : started) statuses.push_back(c.Finish(deadline));
  return statuses;
}

}  // namespace balloond
