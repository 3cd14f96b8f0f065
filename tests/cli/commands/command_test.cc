#include "tests/cli/commands/command_test.h"

namespace balloond::cli::testing {

CommandTest::CommandTest()
    : read_owner_(std::make_unique<v1::MockBalloonReadServiceStub>()),
      control_owner_(std::make_unique<v1::MockBalloonControlServiceStub>()),
      health_owner_(std::make_unique<grpc::health::v1::MockHealthStub>()),
      read_(*read_owner_),
      control_(*control_owner_),
      health_(*health_owner_) {}

CommandTest::~CommandTest() = default;

CommandTest::Result CommandTest::Run(std::vector<std::string> args) {
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

}  // namespace balloond::cli::testing
