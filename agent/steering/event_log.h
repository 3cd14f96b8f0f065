#ifndef BALLOOND_AGENT_STEERING_EVENT_LOG_H_
#define BALLOOND_AGENT_STEERING_EVENT_LOG_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "agent/base/clock.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// Hears each event as it is appended, under the log's lock: it must be quick and must not call the
// log back (a stream sender queues the event and returns).
class EventListener {
 public:
  virtual ~EventListener() = default;
  virtual void OnEvent(const std::shared_ptr<const balloon::v1::Event>& event) = 0;
  // balloond stops: no more events will come (`why`). The listener still unsubscribes.
  virtual void OnClose(const absl::Status& /*why*/) {}
};

// Where a watcher starts reading (WatchEventsRequest).
struct EventCursor {
  uint64_t after_sequence = 0;
  std::string epoch;  // empty: this run's
  bool only_new = false;
};

// What happens on the host, numbered in order: a bounded history that a client resumes from by the
// last sequence it read, and the listeners that hear each event as it is appended.
class EventLog {
 public:
  static constexpr size_t kDefaultCapacity = 4096;

  // `epoch` names this run (NewEpoch); events keep the newest `capacity`.
  EventLog(Clock& clock, std::string epoch, size_t capacity = kDefaultCapacity);

  // An epoch that no other run of balloond on this host has had: its start time, to the
  // microsecond, in hexadecimal.
  static std::string NewEpoch(Clock& clock);

  // Gives `event` the next sequence, the epoch and the time, keeps it and tells every listener.
  void Append(balloon::v1::Event event);

  // Tells `listener` the events after `cursor` (led by EVENT_KIND_EVENTS_LOST when some are no
  // longer kept, or the cursor is of another epoch), then every new one until Unsubscribe.
  // OUT_OF_RANGE, subscribing nothing, for a cursor past the newest event of this epoch.
  absl::Status Subscribe(EventListener* listener, const EventCursor& cursor);
  // Once this returns, `listener` hears nothing more.
  void Unsubscribe(EventListener* listener);
  // Tells every listener that no more events will come.
  void CloseAll(const absl::Status& why);

  const std::string& epoch() const { return epoch_; }
  size_t capacity() const { return capacity_; }

 private:
  // The EVENT_KIND_EVENTS_LOST that leads a replay starting after `sequence`.
  std::shared_ptr<const balloon::v1::Event> LostEvent(uint64_t sequence, uint64_t lost,
                                                      absl::string_view why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const std::string epoch_;
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<std::shared_ptr<const balloon::v1::Event>> history_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::set<EventListener*> listeners_ ABSL_GUARDED_BY(mu_);
};

// An event about the domain `name` (UUID `uuid`), to be appended.
balloon::v1::Event DomainEvent(balloon::v1::EventKind kind, absl::string_view name,
                               absl::string_view uuid, absl::string_view message);
// An event about the host.
balloon::v1::Event HostEvent(balloon::v1::EventKind kind, absl::string_view message);
// An event about a reservation in its present state (RESERVATION_<state> unless `kind` is given).
balloon::v1::Event ReservationEvent(
    const balloon::v1::Reservation& reservation,
    balloon::v1::EventKind kind = balloon::v1::EVENT_KIND_UNSPECIFIED);

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_EVENT_LOG_H_
