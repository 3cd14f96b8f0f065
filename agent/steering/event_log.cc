#include "agent/steering/event_log.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"
#include "agent/base/log.h"
#include "policy/durations.h"

namespace balloond {

namespace v1 = balloon::v1;

EventLog::EventLog(Clock& clock, std::string epoch, size_t capacity)
    : clock_(clock), epoch_(std::move(epoch)), capacity_(capacity) {}

std::string EventLog::NewEpoch(Clock& clock) {
  return absl::StrCat(absl::Hex(absl::ToUnixMicros(clock.Now())));
}

void EventLog::Append(v1::Event event) {
  *event.mutable_time() = ToProtoTimestamp(clock_.Now());
  event.set_epoch(epoch_);
  absl::MutexLock lock(&mu_);
  event.set_sequence(next_sequence_++);
  auto kept = std::make_shared<const v1::Event>(std::move(event));
  history_.push_back(std::move(kept));
  if (history_.size() > capacity_) history_.pop_front();
  for (auto& [listener, reader] : readers_) Feed(listener, reader);
}

void EventLog::Feed(EventListener* listener, Reader& reader) {
  while (!reader.busy && !reader.closed) {
    std::shared_ptr<const v1::Event> next = std::move(reader.lead);
    reader.lead.reset();
    if (next == nullptr) {
      const uint64_t oldest = history_.empty() ? next_sequence_ : history_.front()->sequence();
      if (reader.after + 1 < oldest) {
        reader.closed = true;
        listener->OnClose(
            WithReason(absl::ResourceExhaustedError(absl::StrCat(
                           "the client read this stream too slowly: the events after ",
                           reader.after, " are no longer kept (balloond keeps the newest ",
                           capacity_, "); watch again from that sequence")),
                       "CLIENT_TOO_SLOW"));
        return;
      }
      // The history is numbered without gaps: the next event is found by its sequence.
      for (size_t i = reader.after + 1 - oldest; i < history_.size(); ++i) {
        reader.after = history_[i]->sequence();
        if (listener->Wants(*history_[i])) {
          next = history_[i];
          break;
        }
      }
      if (next == nullptr) return;  // read to the end
    }
    reader.busy = !listener->OnEvent(next);
  }
}

void EventLog::Announce(v1::Event event) {
  Log(event.domain().empty() ? event.message()
                             : absl::StrCat(event.domain(), ": ", event.message()));
  Append(std::move(event));
}

std::shared_ptr<const v1::Event> EventLog::LostEvent(uint64_t sequence, uint64_t lost,
                                                     absl::string_view why) {
  v1::Event event;
  event.set_kind(v1::EVENT_KIND_EVENTS_LOST);
  event.set_sequence(sequence);
  event.set_epoch(epoch_);
  *event.mutable_time() = ToProtoTimestamp(clock_.Now());
  event.set_lost(lost);
  event.set_message(std::string(why));
  return std::make_shared<const v1::Event>(std::move(event));
}

absl::Status EventLog::Subscribe(EventListener* listener, const EventCursor& cursor) {
  absl::MutexLock lock(&mu_);
  const uint64_t newest = next_sequence_ - 1;
  const uint64_t oldest = history_.empty() ? next_sequence_ : history_.front()->sequence();
  uint64_t after = cursor.after_sequence;
  std::shared_ptr<const v1::Event> lead;
  if (cursor.only_new) {
    after = newest;
  } else if (!cursor.epoch.empty() && cursor.epoch != epoch_) {
    // Another run's sequence: nothing can be said of what fell between, so all that is kept.
    after = oldest - 1;
    lead =
        LostEvent(after, 0,
                  absl::StrCat("balloond restarted since epoch ", cursor.epoch, ": this is epoch ",
                               epoch_, ", and events before its start are not kept"));
  } else if (after > newest) {
    return WithReason(absl::OutOfRangeError(absl::StrCat(
                          "after_sequence ", after, " is past the newest event of epoch ", epoch_,
                          " (", newest, "); resume from a sequence you read")),
                      "CURSOR_PAST_NEWEST", {{"newest", absl::StrCat(newest)}, {"epoch", epoch_}});
  } else if (after + 1 < oldest) {
    const uint64_t lost = oldest - 1 - after;
    after = oldest - 1;
    lead =
        LostEvent(after, lost,
                  absl::StrCat(lost, " events after ", cursor.after_sequence,
                               " are no longer kept (balloond keeps the newest ", capacity_, ")"));
  }
  Reader& reader = readers_[listener];
  reader = Reader{after, false, false, std::move(lead)};
  Feed(listener, reader);
  return absl::OkStatus();
}

void EventLog::Ready(EventListener* listener) {
  absl::MutexLock lock(&mu_);
  auto it = readers_.find(listener);
  if (it == readers_.end()) return;
  it->second.busy = false;
  Feed(listener, it->second);
}

void EventLog::Unsubscribe(EventListener* listener) {
  absl::MutexLock lock(&mu_);
  readers_.erase(listener);
}

void EventLog::CloseAll(const absl::Status& why) {
  absl::MutexLock lock(&mu_);
  for (auto& [listener, reader] : readers_) {
    if (reader.closed) continue;
    reader.closed = true;
    listener->OnClose(why);
  }
}

v1::Event DomainEvent(v1::EventKind kind, absl::string_view name, absl::string_view uuid,
                      absl::string_view message) {
  v1::Event event;
  event.set_kind(kind);
  event.set_domain(std::string(name));
  event.set_uuid(std::string(uuid));
  event.set_message(std::string(message));
  return event;
}

v1::Event HostEvent(v1::EventKind kind, absl::string_view message) {
  v1::Event event;
  event.set_kind(kind);
  event.set_message(std::string(message));
  return event;
}

v1::Event ReservationEvent(const v1::Reservation& reservation, v1::EventKind kind) {
  if (kind == v1::EVENT_KIND_UNSPECIFIED) {
    switch (reservation.state()) {
      case v1::RESERVATION_STATE_READY:
        kind = v1::EVENT_KIND_RESERVATION_READY;
        break;
      case v1::RESERVATION_STATE_FAILED:
        kind = v1::EVENT_KIND_RESERVATION_FAILED;
        break;
      case v1::RESERVATION_STATE_EXPIRED:
        kind = v1::EVENT_KIND_RESERVATION_EXPIRED;
        break;
      case v1::RESERVATION_STATE_RELEASED:
        kind = v1::EVENT_KIND_RESERVATION_RELEASED;
        break;
      case v1::RESERVATION_STATE_CLAIMED:
        kind = v1::EVENT_KIND_RESERVATION_CLAIMED;
        break;
      default:
        kind = v1::EVENT_KIND_RESERVATION_CREATED;
        break;
    }
  }
  v1::Event event;
  event.set_kind(kind);
  event.set_reservation_id(reservation.id());
  event.set_bytes(reservation.bytes());
  event.set_domain(reservation.domain());
  event.set_message(kind == v1::EVENT_KIND_RESERVATION_CREATED
                        ? absl::StrCat("reserved by ", reservation.created_by(),
                                       reservation.domain().empty()
                                           ? ""
                                           : absl::StrCat(" for domain ", reservation.domain()))
                        : reservation.explanation());
  return event;
}

}  // namespace balloond
