#ifndef BALLOOND_AGENT_STEERING_EVENT_LOG_H_
#define BALLOOND_AGENT_STEERING_EVENT_LOG_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "agent/base/clock.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// Reads the log from a cursor, an event at a time: the log gives it the next event it wants, and
// the next one only once it says it is ready for more. A listener that takes every event at once
// (in-process) returns true from OnEvent; a client's stream returns false and calls
// EventLog::Ready when the event is written, so that nothing queues for a client that reads
// slowly: it holds one event and its place in the log. Both calls come under the log's lock: they
// must be quick and must not call the log back.
class EventListener {
 public:
  virtual ~EventListener() = default;
  // Whether the listener wants `event` at all (its filter); those it does not are skipped.
  virtual bool Wants(const balloon::v1::Event& /*event*/) const { return true; }
  // The next event; true when the listener takes the one after it at once.
  virtual bool OnEvent(const std::shared_ptr<const balloon::v1::Event>& event) = 0;
  // No more events will come (`why`): balloond stops, or the listener fell so far behind that the
  // events it had yet to read are no longer kept. The listener still unsubscribes.
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

  // Gives `event` the next sequence, the epoch and the time, keeps it and tells every listener
  // that is ready for it.
  void Append(balloon::v1::Event event);
  // Append, and the event's message in balloond's log too (prefixed by its domain's name): what
  // a change made through the API says once, in both places.
  void Announce(balloon::v1::Event event);

  // Tells `listener` the events after `cursor` (led by EVENT_KIND_EVENTS_LOST when some are no
  // longer kept, or the cursor is of another epoch), then every new one until Unsubscribe, each
  // when it is ready for it. OUT_OF_RANGE, subscribing nothing, for a cursor past the newest event
  // of this epoch. A listener whose next event falls out of the history before it is ready is
  // closed with RESOURCE_EXHAUSTED (CLIENT_TOO_SLOW).
  absl::Status Subscribe(EventListener* listener, const EventCursor& cursor);
  // `listener`, which declined more in OnEvent, is ready for the next event.
  void Ready(EventListener* listener);
  // Once this returns, `listener` hears nothing more.
  void Unsubscribe(EventListener* listener);
  // Tells every listener that no more events will come.
  void CloseAll(const absl::Status& why);

  const std::string& epoch() const { return epoch_; }
  size_t capacity() const { return capacity_; }

 private:
  // A listener's place in the log.
  struct Reader {
    uint64_t after = 0;  // the last sequence it was given, or passed over
    bool busy = false;   // it has an event and has not said it is ready for more
    bool closed = false;
    std::shared_ptr<const balloon::v1::Event> lead;  // an EVENTS_LOST to give it first
  };
  // The EVENT_KIND_EVENTS_LOST that leads a replay starting after `sequence`.
  std::shared_ptr<const balloon::v1::Event> LostEvent(uint64_t sequence, uint64_t lost,
                                                      absl::string_view why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Gives `listener` what it wants next, for as long as it takes events at once.
  void Feed(EventListener* listener, Reader& reader) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock& clock_;
  const std::string epoch_;
  const size_t capacity_;
  absl::Mutex mu_;
  std::deque<std::shared_ptr<const balloon::v1::Event>> history_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<EventListener*, Reader> readers_ ABSL_GUARDED_BY(mu_);
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
