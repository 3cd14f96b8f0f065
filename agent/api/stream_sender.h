#ifndef BALLOOND_AGENT_API_STREAM_SENDER_H_
#define BALLOOND_AGENT_API_STREAM_SENDER_H_

#include <grpcpp/support/server_callback.h>

#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "agent/api/grpc_status.h"
#include "agent/base/error_reason.h"

namespace balloond {

// A server stream that any thread can feed. Open, it costs memory, not a thread: messages are
// written one at a time as gRPC completes the previous write. gRPC never runs a reaction inline in
// StartWrite or Finish, so both are called under the sender's own lock.
//
// Lifetime: a sender is made by Make and owns itself until gRPC is done with it (OnDone). Anything
// that may call it later, such as a task queued on a worker pool, keeps the shared_ptr Make
// returned: the sender then outlives the call, and Send and End on a finished stream do nothing.
template <typename Message>
class StreamSender : public grpc::ServerWriteReactor<Message> {
 public:
  // kNewestOnly: a message waiting behind a write in flight is replaced by a newer one (a state
  // that a slow client need only see the latest of). kEvery: all are sent in order, up to
  // `max_waiting`; a client that falls further behind has its stream ended with RESOURCE_EXHAUSTED.
  enum class Backlog { kNewestOnly, kEvery };

  // A new sender of type T (a StreamSender<Message>), to be returned to gRPC as the reactor.
  template <typename T, typename... Args>
  static std::shared_ptr<T> Make(Args&&... args) {
    auto sender = std::make_shared<T>(std::forward<Args>(args)...);
    StreamSender& base = *sender;
    absl::MutexLock lock(&base.mu_);
    base.self_ = sender;
    return sender;
  }

  explicit StreamSender(Backlog backlog, size_t max_waiting = 1)
      : backlog_(backlog), max_waiting_(max_waiting) {}

  void Send(std::shared_ptr<const Message> message) {
    absl::MutexLock lock(&mu_);
    if (end_) return;
    if (backlog_ == Backlog::kNewestOnly) waiting_.clear();
    waiting_.push_back(std::move(message));
    if (waiting_.size() > max_waiting_) {
      waiting_.clear();
      end_ = ToGrpcStatus(WithReason(absl::ResourceExhaustedError(absl::StrCat(
                                         "the client read this stream too slowly: more "
                                         "than ",
                                         max_waiting_, " messages were waiting; watch again")),
                                     "CLIENT_TOO_SLOW"));
    }
    WriteOrFinish();
  }

  // Ends the stream with `status` once the messages sent before are written. The first End wins.
  void End(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    if (!end_) end_ = std::move(status);
    WriteOrFinish();
  }

 protected:
  // Runs once, when gRPC is done with the stream: stop whatever feeds it, give back what it
  // counts against, here.
  virtual void OnFinished() {}
  // Runs after each message the client took, outside the sender's lock: a sender fed one message
  // at a time asks for the next here.
  virtual void OnSent() {}

 private:
  void WriteOrFinish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || done_) return;
    if (!waiting_.empty()) {
      writing_ = std::move(waiting_.front());
      waiting_.pop_front();
      this->StartWrite(writing_.get());
    } else if (end_) {
      finished_ = true;
      this->Finish(*end_);
    }
  }

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&mu_);
      writing_.reset();
      if (!ok && !end_) end_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
      if (!ok) waiting_.clear();
      WriteOrFinish();
    }
    // gRPC holds the stream until OnDone, which cannot run before this reaction returns.
    if (ok) OnSent();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    if (!end_) end_ = grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream");
    waiting_.clear();
    WriteOrFinish();
  }

  void OnDone() override {
    OnFinished();
    std::shared_ptr<StreamSender> last_reference_of_grpc;
    {
      absl::MutexLock lock(&mu_);
      done_ = true;
      waiting_.clear();
      last_reference_of_grpc = std::move(self_);
    }
  }  // The sender is deleted here unless a queued task still holds it.

  const Backlog backlog_;
  const size_t max_waiting_;
  absl::Mutex mu_;
  std::deque<std::shared_ptr<const Message>> waiting_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const Message> writing_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> end_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // gRPC is done with the stream: touch nothing of it
  std::shared_ptr<StreamSender> self_ ABSL_GUARDED_BY(mu_);  // gRPC's reference, until OnDone
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_STREAM_SENDER_H_
