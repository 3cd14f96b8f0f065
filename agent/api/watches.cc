#include "agent/api/watches.h"

#include <utility>

#include "absl/strings/match.h"
#include "agent/libvirt/domain_ref.h"

namespace balloond {

namespace v1 = balloon::v1;

void StatsWatch::Watch(const std::string& uuid) {
  uuid_ = uuid;
  hub_.Subscribe(uuid, this);
}

void StatsWatch::Deliver(const std::shared_ptr<const StatsUpdate>& update) {
  // The store's listener may race the first snapshot: never go back to an older one.
  uint64_t sent = sent_generation_.load();
  do {
    if (update->generation <= sent) return;
  } while (!sent_generation_.compare_exchange_weak(sent, update->generation));
  Send(std::shared_ptr<const v1::MemoryStats>(update, &update->stats));
}

void StatsWatch::OnFinished() {
  if (!uuid_.empty()) hub_.Unsubscribe(uuid_, this);
  ticket_ = CallLimits::Ticket();  // the stream no longer counts, even if a task still holds it
}

DecisionWatch::DecisionWatch(WatchHub<v1::Decision>& hub, std::string key,
                             CallLimits::Ticket ticket, size_t max_waiting)
    : StreamSender(Backlog::kEvery, max_waiting),
      hub_(hub),
      key_(std::move(key)),
      ticket_(std::move(ticket)) {
  hub_.Subscribe(key_, this);
}

void DecisionWatch::OnFinished() {
  hub_.Unsubscribe(key_, this);
  ticket_ = CallLimits::Ticket();
}

EventWatch::EventWatch(EventLog& log, const v1::WatchEventsRequest& req, CallLimits::Ticket ticket)
    : StreamSender(Backlog::kEvery, /*max_waiting=*/1),
      log_(log),
      domain_(req.domain()),
      kinds_(req.kinds().begin(), req.kinds().end()),
      ticket_(std::move(ticket)) {}

void EventWatch::Start(const EventCursor& cursor) {
  absl::MutexLock lock(&mu_);
  absl::Status s = log_.Subscribe(this, cursor);
  subscribed_ = s.ok();
  if (!s.ok()) End(ToGrpcStatus(s));
}

bool EventWatch::Wants(const v1::Event& event) const {
  if (!kinds_.empty() && kinds_.count(event.kind()) == 0) return false;
  if (domain_.empty()) return true;
  // As everywhere in the API, a reference written as a UUID means the domain with that UUID.
  return LooksLikeUuid(domain_) ? absl::EqualsIgnoreCase(event.uuid(), domain_)
                                : event.domain() == domain_;
}

bool EventWatch::OnEvent(const std::shared_ptr<const v1::Event>& event) {
  Send(event);
  return false;  // the next one once the client has taken this one (OnSent)
}

void EventWatch::OnFinished() {
  absl::MutexLock lock(&mu_);  // after Start, whatever the order of threads
  if (subscribed_) log_.Unsubscribe(this);
  subscribed_ = false;
  ticket_ = CallLimits::Ticket();
}

}  // namespace balloond
