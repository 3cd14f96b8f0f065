#ifndef BALLOOND_TESTS_CLI_COMMANDS_COMMAND_TEST_H_
#define BALLOOND_TESTS_CLI_COMMANDS_COMMAND_TEST_H_

// balloonctl's commands run as a user runs them (the same command line, flags and output), on
// gRPC's generated mock stubs instead of a balloond: what each command asks, prints and exits with,
// in milliseconds and without libvirtd. The real path is the integration tests'.

#include <gmock/gmock.h>
#include <grpcpp/test/mock_stream.h>
#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "balloon/v1/balloon_mock.grpc.pb.h"
#include "cli/command_line.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health_mock.grpc.pb.h"

namespace balloond::cli::testing {

namespace v1 = balloon::v1;

// 2026-12-06 12:00:00 UTC: what the commands take for now (and their time zone is UTC).
inline absl::Time TestNow() { return absl::FromUnixSeconds(1796558400); }

// A server stream that sends `messages`, then ends with `end`.
template <typename Message>
grpc::testing::MockClientReader<Message>* StreamOf(std::vector<Message> messages,
                                                   grpc::Status end = grpc::Status::OK) {
  auto* reader = new grpc::testing::MockClientReader<Message>();
  auto next = std::make_shared<size_t>(0);
  EXPECT_CALL(*reader, Read(::testing::_)).WillRepeatedly([messages, next](Message* m) {
    if (*next >= messages.size()) return false;
    *m = messages[(*next)++];
    return true;
  });
  EXPECT_CALL(*reader, Finish()).WillOnce(::testing::Return(end));
  return reader;
}

class CommandTest : public ::testing::Test {
 protected:
  struct Result {
    int exit_code = -1;
    std::string out;
    std::string err;
  };

  // Runs `balloonctl ARGS...` on the mocks: what it printed and exited with. Once per test (the
  // session takes the mocks, whose expectations are checked as it ends).
  Result Run(std::vector<std::string> args) {
    CommandLine command_line;
    std::ostringstream out, err;
    Result r;
    r.exit_code = command_line.Run(
        args,
        [this](const GlobalOptions& options, bool needs_write, std::ostream& o,
               std::ostream& e) -> std::unique_ptr<Session> {
          connected_ = true;
          read_write_ = needs_write;
          auto connection = Connection::Open(options.connection, needs_write);
          EXPECT_TRUE(connection.ok()) << connection.status();
          auto shared = std::make_shared<Connection>(std::move(*connection));
          Session::Services services;
          services.read = std::move(read_owner_);
          services.control = std::move(control_owner_);
          services.health = std::move(health_owner_);
          services.explain = [shared](const grpc::Status& s) { return shared->Explain(s); };
          return std::make_unique<Session>(
              options, std::move(services), o, e, [] { return TestNow(); }, absl::UTCTimeZone());
        },
        out, err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }

  std::unique_ptr<v1::MockBalloonReadServiceStub> read_owner_ =
      std::make_unique<v1::MockBalloonReadServiceStub>();
  std::unique_ptr<v1::MockBalloonControlServiceStub> control_owner_ =
      std::make_unique<v1::MockBalloonControlServiceStub>();
  std::unique_ptr<grpc::health::v1::MockHealthStub> health_owner_ =
      std::make_unique<grpc::health::v1::MockHealthStub>();
  // Expectations go on these before Run.
  v1::MockBalloonReadServiceStub& read_ = *read_owner_;
  v1::MockBalloonControlServiceStub& control_ = *control_owner_;
  grpc::health::v1::MockHealthStub& health_ = *health_owner_;
  bool connected_ = false;   // a session was made (not for usage errors found first)
  bool read_write_ = false;  // ... on the read-write socket
};

// A call failing as balloond fails it: its message, and its reason as google.rpc.ErrorInfo.
inline grpc::Status WithErrorInfo(grpc::StatusCode code, const std::string& message,
                                  const std::string& reason) {
  google::rpc::ErrorInfo info;
  info.set_reason(reason);
  info.set_domain("balloond");
  google::rpc::Status details;
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  details.add_details()->PackFrom(info);
  return grpc::Status(code, message, details.SerializeAsString());
}

}  // namespace balloond::cli::testing

#endif  // BALLOOND_TESTS_CLI_COMMANDS_COMMAND_TEST_H_
