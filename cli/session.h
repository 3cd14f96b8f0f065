#ifndef BALLOOND_CLI_SESSION_H_
#define BALLOOND_CLI_SESSION_H_

// What every balloonctl command is given: the global flags, balloond's services (stubs over a
// connection, or gRPC's generated mocks in tests), where to print, and the clock.

#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "absl/time/time.h"
#include "balloon/v1/balloon.grpc.pb.h"
#include "cli/client.h"
#include "cli/format.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace balloond::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// A command line that cannot work (exit 2).
struct UsageError {
  std::string message;
};
// A call that cannot succeed, found before it is made (exit 1, like a failed call).
struct CallImpossible {
  std::string message;
};

// The flags every command takes.
struct GlobalOptions {
  ConnectionOptions connection;
  std::string output = "table";  // table, json or name
  std::string timeout;           // --timeout as given; empty for the default
  std::string request_id;        // --request-id, for changes
};

class Session {
 public:
  struct Services {
    std::unique_ptr<balloon::v1::BalloonReadService::StubInterface> read;
    std::unique_ptr<balloon::v1::BalloonControlService::StubInterface> control;
    std::unique_ptr<grpc::health::v1::Health::StubInterface> health;
    std::shared_ptr<grpc::Channel> channel;  // for top; none in tests
    // A failed call's message with what to check (Connection::Explain).
    std::function<std::string(const grpc::Status&)> explain;
  };

  // UsageError for a --timeout that is not a duration.
  Session(
      const GlobalOptions& options, Services services, std::ostream& out, std::ostream& err,
      std::function<absl::Time()> now = [] { return absl::Now(); },
      absl::TimeZone zone = absl::LocalTimeZone());

  // A context whose deadline is --timeout from now, or none (for watches).
  std::unique_ptr<grpc::ClientContext> Context(bool with_deadline = true) const;
  absl::Duration timeout() const { return timeout_; }
  bool timeout_given() const { return !options_.timeout.empty(); }
  // How long a --wait waits: --timeout, or a minute.
  absl::Duration wait() const { return timeout_given() ? timeout_ : absl::Seconds(60); }
  const std::string& request_id() const { return options_.request_id; }

  // Prints a failed call as "balloonctl: <what went wrong>; <what to check> [CODE]": exit 1.
  int Fail(const grpc::Status& status);
  std::string Explain(const grpc::Status& status) const { return services_.explain(status); }

  bool json() const { return options_.output == "json"; }
  // -o name: one name per line (domains, reservation ids, policy keys), for scripts and completion.
  bool names() const { return options_.output == "name"; }

  balloon::v1::BalloonReadService::StubInterface& read() const { return *services_.read; }
  balloon::v1::BalloonControlService::StubInterface& control() const { return *services_.control; }
  grpc::health::v1::Health::StubInterface& health() const { return *services_.health; }
  const std::shared_ptr<grpc::Channel>& channel() const { return services_.channel; }

  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  absl::Time Now() const { return now_(); }
  absl::TimeZone zone() const { return zone_; }

 private:
  const GlobalOptions options_;
  Services services_;
  std::ostream& out_;
  std::ostream& err_;
  std::function<absl::Time()> now_;
  absl::TimeZone zone_;
  absl::Duration timeout_ = absl::Seconds(10);
};

// Makes a command's session: over a connection to balloond (read-write when `needs_write`) in
// balloonctl, over mocks in tests. Throws UsageError or CallImpossible when it cannot.
using SessionFactory = std::function<std::unique_ptr<Session>(
    const GlobalOptions& options, bool needs_write, std::ostream& out, std::ostream& err)>;

// The session of balloonctl: a connection as the flags and the environment say.
std::unique_ptr<Session> ConnectToBalloond(const GlobalOptions& options, bool needs_write,
                                           std::ostream& out, std::ostream& err);

// How a watch ended: reaching the --timeout that was asked for is success.
int FinishWatch(Session& session, const grpc::Status& status);

// A unary call's answer: JSON with -o json, `names(response)` with -o name, else
// `text(response)`; a failed call explained. The exit code.
template <typename Response>
int Show(Session& session, const grpc::Status& status, const Response& response,
         const std::function<std::string(const Response&)>& text,
         const std::function<std::string(const Response&)>& names = nullptr) {
  if (session.names() && !names) {
    throw UsageError{"-o name lists names: use it with list, reservations or policy show"};
  }
  if (!status.ok()) return session.Fail(status);
  session.out() << (session.json()    ? ToJsonLine(response)
                    : session.names() ? names(response)
                                      : text(response))
                << std::flush;
  return kExitOk;
}

// Each message of a stream as it comes (JSON lines with -o json, else `text`), then how it ended.
template <typename Message>
int PrintStream(Session& session, grpc::ClientReaderInterface<Message>& reader,
                const std::function<std::string(const Message&)>& text) {
  Message m;
  while (reader.Read(&m)) {
    session.out() << (session.json() ? ToJsonLine(m) : text(m)) << std::flush;
  }
  return FinishWatch(session, reader.Finish());
}

}  // namespace balloond::cli

#endif  // BALLOOND_CLI_SESSION_H_
