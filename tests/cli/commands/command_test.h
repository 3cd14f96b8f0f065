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

  // The mocks are made (and their classes' code emitted) once, in command_test.cc: gRPC's
  // generated mock stubs are most of what each command test would otherwise compile.
  CommandTest();
  ~CommandTest() override;

  // Runs `balloonctl ARGS...` on the mocks: what it printed and exited with. Once per test (the
  // session takes the mocks, whose expectations are checked as it ends).
  Result Run(std::vector<std::string> args);

  std::unique_ptr<v1::MockBalloonReadServiceStub> read_owner_;
  std::unique_ptr<v1::MockBalloonControlServiceStub> control_owner_;
  std::unique_ptr<grpc::health::v1::MockHealthStub> health_owner_;
  // Expectations go on these before Run.
  v1::MockBalloonReadServiceStub& read_;
  v1::MockBalloonControlServiceStub& control_;
  grpc::health::v1::MockHealthStub& health_;
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
