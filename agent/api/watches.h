#ifndef BALLOOND_AGENT_API_WATCHES_H_
#define BALLOOND_AGENT_API_WATCHES_H_

// The server streams of the watch RPCs: each a StreamSender fed by a hub or the event log, holding
// its place in the listener's limits (a CallLimits ticket) until gRPC is done with it.

#include <atomic>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "agent/api/call_limits.h"
#include "agent/api/stream_sender.h"
#include "agent/api/watch_feeds.h"
#include "agent/api/watch_hub.h"
#include "agent/steering/event_log.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// A stream refused before it started.
template <typename Message>
grpc::ServerWriteReactor<Message>* RefusedStream(const absl::Status& status) {
  auto stream = StreamSender<Message>::template Make<StreamSender<Message>>(
      StreamSender<Message>::Backlog::kNewestOnly);
  stream->End(ToGrpcStatus(status));
  return stream.get();
}

// One client's watch of one domain's statistics (WatchMemoryStats): the newest only, never an
// older one than it sent.
class StatsWatch final : public StreamSender<balloon::v1::MemoryStats>,
                         public WatchHub<StatsUpdate>::Watcher {
 public:
  StatsWatch(WatchHub<StatsUpdate>& hub, CallLimits::Ticket ticket)
      : StreamSender(Backlog::kNewestOnly), hub_(hub), ticket_(std::move(ticket)) {}

  // Subscribes to the domain with UUID `uuid` (once).
  void Watch(const std::string& uuid);
  void Deliver(const std::shared_ptr<const StatsUpdate>& update) override;
  void Close(const grpc::Status& status) override { End(status); }

 private:
  void OnFinished() override;

  WatchHub<StatsUpdate>& hub_;
  CallLimits::Ticket ticket_;
  std::string uuid_;
  std::atomic<uint64_t> sent_generation_{0};
};

// One client's watch of the policy's decisions (WatchDecisions: all of them, or one domain's):
// every one, up to `max_waiting` behind.
class DecisionWatch final : public StreamSender<balloon::v1::Decision>,
                            public WatchHub<balloon::v1::Decision>::Watcher {
 public:
  DecisionWatch(WatchHub<balloon::v1::Decision>& hub, std::string key, CallLimits::Ticket ticket,
                size_t max_waiting);
  void Deliver(const std::shared_ptr<const balloon::v1::Decision>& decision) override {
    Send(decision);
  }
  void Close(const grpc::Status& status) override { End(status); }

 private:
  void OnFinished() override;

  WatchHub<balloon::v1::Decision>& hub_;
  const std::string key_;
  CallLimits::Ticket ticket_;
};

// One client's watch of the host's events (WatchEvents): the history it asked for, then each new
// event, of the domain and kinds it chose. It reads the log an event at a time, as the client
// takes them: it holds one event and its place in the log, however far behind its client is.
class EventWatch final : public StreamSender<balloon::v1::Event>, public EventListener {
 public:
  EventWatch(EventLog& log, const balloon::v1::WatchEventsRequest& req, CallLimits::Ticket ticket);

  // Subscribes from `cursor`; the stream ends with the error of a cursor that cannot be resumed.
  void Start(const EventCursor& cursor);

  bool Wants(const balloon::v1::Event& event) const override;
  bool OnEvent(const std::shared_ptr<const balloon::v1::Event>& event) override;
  void OnClose(const absl::Status& why) override { End(ToGrpcStatus(why)); }

 private:
  void OnSent() override { log_.Ready(this); }
  void OnFinished() override;

  EventLog& log_;
  const std::string domain_;
  const std::set<int> kinds_;
  absl::Mutex mu_;
  bool subscribed_ ABSL_GUARDED_BY(mu_) = false;
  CallLimits::Ticket ticket_;
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_WATCHES_H_
