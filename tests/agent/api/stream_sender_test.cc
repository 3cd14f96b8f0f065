#include "agent/api/stream_sender.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/notification.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace balloond {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using Sender = StreamSender<HealthCheckResponse>;

// A message told apart by its status: SERVING, NOT_SERVING and SERVICE_UNKNOWN stand for 1, 2, 3.
std::shared_ptr<const HealthCheckResponse> Message(int n) {
  auto m = std::make_shared<HealthCheckResponse>();
  m->set_status(static_cast<HealthCheckResponse::ServingStatus>(n));
  return m;
}

class CountedSender final : public Sender {
 public:
  CountedSender(Backlog backlog, size_t max_waiting, std::atomic<int>& finished)
      : Sender(backlog, max_waiting), finished_(finished) {}

 private:
  void OnFinished() override { ++finished_; }
  std::atomic<int>& finished_;
};

// A stream service whose handler runs the test's script on a new sender. What the script sends
// waits until the handler returns (gRPC starts no write before), so a backlog builds up exactly as
// the script says, without racing the writes.
class ScriptedStream final : public grpc::health::v1::Health::CallbackService {
 public:
  ScriptedStream(Sender::Backlog backlog, size_t max_waiting, std::function<void(Sender&)> script)
      : backlog_(backlog), max_waiting_(max_waiting), script_(std::move(script)) {}

  grpc::ServerWriteReactor<HealthCheckResponse>* Watch(grpc::CallbackServerContext*,
                                                       const HealthCheckRequest*) override {
    auto sender = Sender::Make<CountedSender>(backlog_, max_waiting_, finished_);
    script_(*sender);
    last_ = sender;
    made_.Notify();
    return sender.get();
  }

  std::atomic<int> finished_{0};
  std::shared_ptr<CountedSender> last_;  // as a queued task would hold it
  absl::Notification made_;

 private:
  const Sender::Backlog backlog_;
  const size_t max_waiting_;
  std::function<void(Sender&)> script_;
};

struct Received {
  std::vector<int> messages;
  grpc::Status status;
};

Received Watch(ScriptedStream& service) {
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  auto stub = grpc::health::v1::Health::NewStub(server->InProcessChannel({}));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  auto reader = stub->Watch(&ctx, HealthCheckRequest());
  Received received;
  HealthCheckResponse m;
  while (reader->Read(&m)) received.messages.push_back(m.status());
  received.status = reader->Finish();
  server->Shutdown();
  return received;
}

TEST(StreamSenderTest, EveryMessageArrivesInOrderBeforeTheStatusThatEndsTheStream) {
  ScriptedStream service(Sender::Backlog::kEvery, 8, [](Sender& s) {
    for (int n : {1, 2, 3}) s.Send(Message(n));
    s.End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "going away"));
    s.End(grpc::Status::OK);  // the first End wins
  });
  Received r = Watch(service);
  EXPECT_EQ(r.messages, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(r.status.error_message(), "going away");
  EXPECT_EQ(service.finished_, 1);
}

TEST(StreamSenderTest, NewestOnlyReplacesWhatWaitsBehindTheWriteInFlight) {
  ScriptedStream service(Sender::Backlog::kNewestOnly, 1, [](Sender& s) {
    for (int n : {1, 2, 3}) s.Send(Message(n));
    s.End(grpc::Status::OK);
  });
  Received r = Watch(service);
  EXPECT_EQ(r.messages, (std::vector<int>{1, 3}));  // 2 was waiting when 3 came
  EXPECT_TRUE(r.status.ok());
}

TEST(StreamSenderTest, AClientTooFarBehindHasItsStreamEndedSayingSo) {
  ScriptedStream service(Sender::Backlog::kEvery, 1, [](Sender& s) {
    for (int n : {1, 2, 3}) s.Send(Message(n));  // 1 in flight, 2 and 3 waiting: one too many
    s.End(grpc::Status::OK);                     // too late: the stream is already ending
  });
  Received r = Watch(service);
  EXPECT_EQ(r.messages, (std::vector<int>{1}));
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(r.status.error_message(),
            "the client read this stream too slowly: more than 1 messages were waiting; watch "
            "again");
}

// What holds a sender after its call is over (a task queued on a worker pool) may still send and
// end: nothing happens, and nothing of gRPC's is touched (the checked build's ASan would say).
TEST(StreamSenderTest, ASenderHeldPastItsCallIgnoresWhatItIsToldLater) {
  ScriptedStream service(Sender::Backlog::kEvery, 8,
                         [](Sender& s) { s.End(grpc::Status(grpc::StatusCode::CANCELLED, "")); });
  Received r = Watch(service);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(service.made_.HasBeenNotified());
  ASSERT_EQ(service.finished_, 1);
  service.last_->Send(Message(1));
  service.last_->End(grpc::Status::OK);
  EXPECT_EQ(service.finished_, 1);
  EXPECT_EQ(service.last_.use_count(), 1);  // gRPC let go of it
}

}  // namespace
}  // namespace balloond
