// balloonctl: the operator's command line for balloond. Exit codes: 0 ok, 1 the call failed,
// 2 usage error.
#include <google/protobuf/util/json_util.h>
#include <grpc/support/log.h>
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "balloon/v1/balloon.grpc.pb.h"
#include "cli/client.h"
#include "cli/format.h"
#include "cli/policy_keys.h"
#include "cli/size.h"
#include "cli/table.h"
#include "cli/top.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/policy.h"
#include "policy/sizes.h"

namespace {

namespace v1 = balloon::v1;
using balloond::FormatBytes;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

struct Options {
  balloond::ConnectionOptions connection;
  std::string output = "table";
  std::string timeout;
};

struct UsageError {
  std::string message;
};
// A call that cannot succeed, found before it is made (exit 1, like a failed call).
struct CallImpossible {
  std::string message;
};

class Client {
 public:
  Client(const Options& options, bool needs_write) : options_(options) {
    auto connection = balloond::Connection::Open(
        balloond::WithEnvironment(options.connection, [](const char* v) { return std::getenv(v); }),
        needs_write);
    if (!connection.ok()) {
      const std::string message(connection.status().message());
      if (connection.status().code() == absl::StatusCode::kFailedPrecondition) {
        throw CallImpossible{message};
      }
      throw UsageError{message};
    }
    connection_ = std::make_unique<balloond::Connection>(std::move(*connection));
    auto channel = connection_->channel();
    read_ = v1::BalloonReadService::NewStub(channel);
    control_ = v1::BalloonControlService::NewStub(channel);
    health_ = grpc::health::v1::Health::NewStub(channel);
    timeout_ = absl::Seconds(10);
    if (!options.timeout.empty() && !absl::ParseDuration(options.timeout, &timeout_)) {
      throw UsageError{absl::StrCat("--timeout '", options.timeout,
                                    "' is not a duration; write e.g. 10s or 2m")};
    }
  }

  // A context whose deadline is --timeout from now, or none (for watches).
  std::unique_ptr<grpc::ClientContext> Context(bool with_deadline = true) const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    if (with_deadline) ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout_));
    return ctx;
  }
  absl::Duration timeout() const { return timeout_; }
  bool timeout_given() const { return !options_.timeout.empty(); }

  // Prints a failed call as "balloonctl: <what went wrong>; <what to check> [CODE]" and returns
  // exit code 1.
  int Fail(const grpc::Status& status) const {
    std::cerr << "balloonctl: " << connection_->Explain(status) << "\n";
    return kExitFailed;
  }
  std::string Explain(const grpc::Status& status) const { return connection_->Explain(status); }
  std::shared_ptr<grpc::Channel> channel() const { return connection_->channel(); }

  bool json() const { return options_.output == "json"; }
  // -o name: one name per line (domains, reservation ids, policy keys), for scripts and completion.
  bool names() const { return options_.output == "name"; }

  v1::BalloonReadService::Stub& read() { return *read_; }
  v1::BalloonControlService::Stub& control() { return *control_; }
  grpc::health::v1::Health::Stub& health() { return *health_; }

 private:
  const Options& options_;
  std::unique_ptr<balloond::Connection> connection_;
  absl::Duration timeout_;
  std::unique_ptr<v1::BalloonReadService::Stub> read_;
  std::unique_ptr<v1::BalloonControlService::Stub> control_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

// A unary call's answer: JSON with -o json, `names(response)` with -o name, else
// `text(response)`; a failed call explained.
template <typename Response>
int Show(const Client& client, const grpc::Status& status, const Response& response,
         const std::function<std::string(const Response&)>& text,
         const std::function<std::string(const Response&)>& names = nullptr) {
  if (client.names() && !names) {
    throw UsageError{"-o name lists names: use it with list, reservations or policy show"};
  }
  if (!status.ok()) return client.Fail(status);
  std::cout << (client.json()    ? balloond::ToJsonLine(response)
                : client.names() ? names(response)
                                 : text(response))
            << std::flush;
  return kExitOk;
}

// How a watch ended: reaching the --timeout that was asked for is success.
int FinishWatch(const Client& client, const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && client.timeout_given()) {
    return kExitOk;
  }
  return client.Fail(status);
}

int List(Client& client) {
  v1::ListDomainsResponse resp;
  const grpc::Status status =
      balloond::ListAllPages<v1::ListDomainsRequest, v1::ListDomainsResponse>(
          [&client](const v1::ListDomainsRequest& req, v1::ListDomainsResponse* page) {
            return client.read().ListDomains(client.Context().get(), req, page);
          },
          {}, &resp);
  return Show<v1::ListDomainsResponse>(
      client, status, resp,
      [](const v1::ListDomainsResponse& r) { return balloond::FormatDomains(r, absl::Now()); },
      [](const v1::ListDomainsResponse& r) {
        std::string out;
        for (const v1::Domain& d : r.domains()) absl::StrAppend(&out, d.name(), "\n");
        return out;
      });
}

int Stats(Client& client, const std::string& domain, bool watch) {
  if (!watch) {
    v1::GetMemoryStatsRequest req;
    req.set_domain(domain);
    v1::MemoryStats resp;
    auto ctx = client.Context();
    return Show<v1::MemoryStats>(client, client.read().GetMemoryStats(ctx.get(), req, &resp), resp,
                                 balloond::FormatStats);
  }
  v1::WatchMemoryStatsRequest req;
  req.set_domain(domain);
  auto ctx = client.Context(/*with_deadline=*/client.timeout_given());
  auto reader = client.read().WatchMemoryStats(ctx.get(), req);
  v1::MemoryStats s;
  if (!client.json()) std::cout << balloond::FormatStatsHeader();
  while (reader->Read(&s)) {
    std::cout << (client.json() ? balloond::ToJsonLine(s)
                                : balloond::FormatStatsRow(s, absl::Now(), absl::LocalTimeZone()))
              << std::flush;
  }
  return FinishWatch(client, reader->Finish());
}

// Waits until the balloon reaches `target` (within 1 MiB: QEMU counts whole pages).
int WaitForBalloon(Client& client, const std::string& domain, int64_t target) {
  v1::WatchMemoryStatsRequest req;
  req.set_domain(domain);
  const absl::Duration wait = client.timeout_given() ? client.timeout() : absl::Seconds(60);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + wait));
  auto reader = client.read().WatchMemoryStats(&ctx, req);
  v1::MemoryStats s;
  int64_t last = -1;
  while (reader->Read(&s)) {
    if (!s.domain().has_balloon_actual_bytes()) continue;
    last = s.domain().balloon_actual_bytes();
    if (std::llabs(last - target) <= 1024 * 1024) {
      ctx.TryCancel();
      if (!client.json()) std::cout << domain << ": balloon reached " << FormatBytes(last) << "\n";
      return kExitOk;
    }
  }
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    std::cerr << "balloonctl: the balloon of " << domain << " is at "
              << (last < 0 ? "an unknown size" : FormatBytes(last)) << ", not "
              << FormatBytes(target) << ", after " << absl::FormatDuration(wait)
              << "; the guest may be unable to give up that much memory, or raise --timeout\n";
    return kExitFailed;
  }
  return client.Fail(status);
}

int Set(Client& client, const std::string& domain, const std::string& size_text, bool wait,
        bool dry_run, const std::optional<std::string>& hold_text, const std::string& request_id) {
  auto size = balloond::ParseMemorySize(size_text);
  if (!size.ok()) throw UsageError{std::string(size.status().message())};
  v1::SetBalloonTargetRequest req;
  req.set_domain(domain);
  req.set_target_bytes(*size);
  req.set_validate_only(dry_run);
  req.set_request_id(request_id);
  if (hold_text) {
    absl::Duration hold;
    if (!absl::ParseDuration(*hold_text, &hold) || hold < absl::ZeroDuration()) {
      throw UsageError{absl::StrCat("--hold '", *hold_text,
                                    "' is not a duration; write e.g. 30m, 2h, or 0 for no hold")};
    }
    *req.mutable_hold() = balloond::ToProtoDuration(hold);
  }
  v1::SetBalloonTargetResponse resp;
  auto ctx = client.Context();
  grpc::Status status = client.control().SetBalloonTarget(ctx.get(), req, &resp);
  if (!status.ok()) return client.Fail(status);
  if (client.json()) {
    std::cout << balloond::ToJsonLine(resp);
  } else {
    const std::string was =
        resp.has_previous_actual_bytes()
            ? absl::StrCat(" (now ", FormatBytes(resp.previous_actual_bytes()), ")")
            : "";
    std::cout << resp.domain().name() << ": "
              << (dry_run ? "would set balloon target to " : "balloon target set to ")
              << FormatBytes(resp.target_bytes()) << was
              << (dry_run ? "; dry run, nothing sent to QEMU" : "") << "\n";
    const std::string name = resp.domain().name();
    if (resp.has_hold()) {
      std::cout << name << ": " << (dry_run ? "would be " : "") << "held at "
                << balloond::FormatHold(resp.hold(), absl::Now())
                << (hold_text ? "" : " (the policy's default_hold; --hold=0 sets none)")
                << ": the policy leaves it there unless the guest comes under pressure; "
                   "`balloonctl release "
                << name << "` ends the hold\n";
    } else {
      std::cout << name << ": not held; the policy may move it at its next cycle\n";
    }
  }
  if (wait && !dry_run) return WaitForBalloon(client, resp.domain().name(), *size);
  return kExitOk;
}

int Release(Client& client, const std::string& domain, const std::string& request_id) {
  v1::ReleaseHoldRequest req;
  req.set_domain(domain);
  req.set_request_id(request_id);
  v1::ReleaseHoldResponse resp;
  auto ctx = client.Context();
  return Show<v1::ReleaseHoldResponse>(
      client, client.control().ReleaseHold(ctx.get(), req, &resp), resp,
      [](const v1::ReleaseHoldResponse& r) {
        return r.has_released() ? absl::StrCat(r.domain().name(), ": hold released (it had ",
                                               balloond::FormatHold(r.released(), absl::Now()),
                                               " left); the policy may move it again\n")
                                : absl::StrCat(r.domain().name(), ": was not held\n");
      });
}

int QomList(Client& client, const std::string& domain, const std::string& path) {
  v1::ListQomPropertiesRequest req;
  req.set_domain(domain);
  req.set_path(path);
  v1::ListQomPropertiesResponse resp;
  auto ctx = client.Context();
  return Show<v1::ListQomPropertiesResponse>(client,
                                             client.read().ListQomProperties(ctx.get(), req, &resp),
                                             resp, balloond::FormatQomProperties);
}

int QomGet(Client& client, const std::string& domain, const std::string& path,
           const std::string& property) {
  v1::GetQomPropertyRequest req;
  req.set_domain(domain);
  req.set_path(path);
  req.set_property(property);
  v1::GetQomPropertyResponse resp;
  auto ctx = client.Context();
  // The value alone, as JSON: what a shell script wants from `qom get`.
  return Show<v1::GetQomPropertyResponse>(
      client, client.read().GetQomProperty(ctx.get(), req, &resp), resp,
      [](const v1::GetQomPropertyResponse& r) {
        std::string value;
        google::protobuf::util::JsonPrintOptions pretty;
        pretty.add_whitespace = true;
        (void)google::protobuf::util::MessageToJsonString(r.value(), &value, pretty);
        return value.empty() || value.back() != '\n' ? value + "\n" : value;
      });
}

int Host(Client& client) {
  v1::HostStats resp;
  auto ctx = client.Context();
  return Show<v1::HostStats>(client, client.read().GetHostStats(ctx.get(), {}, &resp), resp,
                             balloond::FormatHost);
}

int Capacity(Client& client) {
  v1::HostCapacity resp;
  auto ctx = client.Context();
  return Show<v1::HostCapacity>(
      client, client.read().GetHostCapacity(ctx.get(), {}, &resp), resp,
      [](const v1::HostCapacity& c) { return balloond::FormatCapacity(c, absl::LocalTimeZone()); });
}

// Polls the reservation until it is no longer PENDING (up to --timeout, default 60s).
int WaitForReservation(Client& client, v1::Reservation r) {
  const absl::Duration wait = client.timeout_given() ? client.timeout() : absl::Seconds(60);
  const absl::Time end = absl::Now() + wait;
  while (r.state() == v1::RESERVATION_STATE_PENDING && absl::Now() < end) {
    absl::SleepFor(absl::Milliseconds(500));
    v1::GetReservationRequest req;
    req.set_id(r.id());
    auto ctx = client.Context();
    grpc::Status status = client.read().GetReservation(ctx.get(), req, &r);
    if (!status.ok()) return client.Fail(status);
  }
  std::cout << (client.json() ? balloond::ToJsonLine(r)
                              : balloond::FormatReservation(r, absl::Now()));
  if (r.state() == v1::RESERVATION_STATE_READY) return kExitOk;
  if (r.state() == v1::RESERVATION_STATE_PENDING) {
    std::cerr << "balloonctl: " << r.id() << " is still PENDING after "
              << absl::FormatDuration(wait) << " (" << FormatBytes(r.made_bytes()) << " of "
              << FormatBytes(r.bytes()) << " made); raise --timeout, or release it\n";
  }
  return kExitFailed;
}

int Reserve(Client& client, const std::string& size_text, const std::string& ttl_text,
            const std::string& domain, bool wait, const std::string& request_id) {
  auto size = balloond::ParseMemorySize(size_text);
  if (!size.ok()) throw UsageError{std::string(size.status().message())};
  v1::ReserveMemoryRequest req;
  req.set_bytes(*size);
  req.set_domain(domain);
  req.set_request_id(request_id);
  if (!ttl_text.empty()) {
    absl::Duration ttl;
    if (!absl::ParseDuration(ttl_text, &ttl) || ttl <= absl::ZeroDuration()) {
      throw UsageError{
          absl::StrCat("--ttl '", ttl_text, "' is not a duration; write e.g. 10m, 1h")};
    }
    *req.mutable_ttl() = balloond::ToProtoDuration(ttl);
  }
  v1::Reservation r;
  auto ctx = client.Context();
  grpc::Status status = client.control().ReserveMemory(ctx.get(), req, &r);
  if (!status.ok()) return client.Fail(status);
  if (wait) return WaitForReservation(client, r);
  std::cout << (client.json() ? balloond::ToJsonLine(r)
                              : balloond::FormatReservation(r, absl::Now()));
  return r.state() == v1::RESERVATION_STATE_FAILED ? kExitFailed : kExitOk;
}

int Unreserve(Client& client, const std::string& id, const std::string& request_id) {
  v1::ReleaseReservationRequest req;
  req.set_id(id);
  req.set_request_id(request_id);
  v1::Reservation r;
  auto ctx = client.Context();
  return Show<v1::Reservation>(
      client, client.control().ReleaseReservation(ctx.get(), req, &r), r,
      [](const v1::Reservation& x) { return balloond::FormatReservation(x, absl::Now()); });
}

int Reservations(Client& client) {
  v1::ListReservationsResponse resp;
  const grpc::Status status =
      balloond::ListAllPages<v1::ListReservationsRequest, v1::ListReservationsResponse>(
          [&client](const v1::ListReservationsRequest& req, v1::ListReservationsResponse* page) {
            return client.read().ListReservations(client.Context().get(), req, page);
          },
          {}, &resp);
  return Show<v1::ListReservationsResponse>(
      client, status, resp,
      [](const v1::ListReservationsResponse& r) {
        return balloond::FormatReservations(r, absl::Now());
      },
      [](const v1::ListReservationsResponse& r) {
        std::string out;
        for (const v1::Reservation& x : r.reservations()) absl::StrAppend(&out, x.id(), "\n");
        return out;
      });
}

int Health(Client& client) {
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  auto ctx = client.Context();
  grpc::Status status = client.health().Check(ctx.get(), req, &resp);
  if (!status.ok()) return client.Fail(status);
  const bool serving = resp.status() == grpc::health::v1::HealthCheckResponse::SERVING;
  if (client.json()) {
    std::cout << balloond::ToJsonLine(resp);
  } else {
    std::cout << (serving ? "SERVING" : "NOT_SERVING: balloond cannot reach libvirt; see its log")
              << "\n";
  }
  return serving ? kExitOk : kExitFailed;
}

int PolicyShow(Client& client, const std::string& domain) {
  auto ctx = client.Context();
  if (domain.empty()) {
    v1::Policy policy;
    grpc::Status status = client.read().GetPolicy(ctx.get(), {}, &policy);
    return Show<v1::Policy>(client, status, policy, balloond::FormatPolicy,
                            balloond::FormatPolicyKeys);
  }
  v1::GetDomainPolicyRequest req;
  req.set_domain(domain);
  v1::DomainPolicyInForce in_force;
  grpc::Status status = client.read().GetDomainPolicy(ctx.get(), req, &in_force);
  return Show<v1::DomainPolicyInForce>(client, status, in_force, balloond::FormatDomainPolicy);
}

int PolicyUpdate(Client& client, const std::vector<std::string>& assignments,
                 const std::string& domain, bool to_metadata, const std::string& request_id,
                 const std::string& etag) {
  v1::Policy resp;
  auto ctx = client.Context();
  grpc::Status status;
  if (domain.empty()) {
    v1::UpdatePolicyRequest req;
    req.set_request_id(request_id);
    req.set_etag(etag);
    if (absl::Status s = balloond::ApplyPolicyAssignments(assignments, *req.mutable_policy(),
                                                          *req.mutable_update_mask());
        !s.ok()) {
      throw UsageError{std::string(s.message())};
    }
    status = client.control().UpdatePolicy(ctx.get(), req, &resp);
  } else {
    v1::UpdateDomainPolicyRequest req;
    req.set_domain(domain);
    req.set_request_id(request_id);
    req.set_etag(etag);
    if (to_metadata) req.set_persist(v1::POLICY_PERSISTENCE_METADATA);
    if (absl::Status s = balloond::ApplyPolicyAssignments(assignments, *req.mutable_policy(),
                                                          *req.mutable_update_mask());
        !s.ok()) {
      throw UsageError{std::string(s.message())};
    }
    status = client.control().UpdateDomainPolicy(ctx.get(), req, &resp);
  }
  if (!status.ok()) return client.Fail(status);
  if (client.json()) {
    std::cout << balloond::ToJsonLine(resp);
  } else {
    std::cout << (to_metadata ? "policy written to the libvirt metadata of " + domain
                              : "policy updated" + (domain.empty() ? "" : " for " + domain))
              << "; mode " << balloond::ShortName(resp.mode()) << "; etag " << resp.etag() << "\n";
    if (to_metadata) {
      // The config file's override of the domain still wins over what was written: say so.
      v1::GetDomainPolicyRequest get;
      get.set_domain(domain);
      v1::DomainPolicyInForce in_force;
      auto get_ctx = client.Context();
      if (client.read().GetDomainPolicy(get_ctx.get(), get, &in_force).ok()) {
        for (const auto& [field, source] : in_force.sources()) {
          if (source == v1::POLICY_SOURCE_CONFIG_DOMAIN) {
            std::cout << "note: " << field << " stays as balloond's config file sets it for "
                      << domain << "; the file's domain override wins over metadata\n";
          }
        }
      }
    }
  }
  return kExitOk;
}

int Decisions(Client& client, const std::string& domain, bool watch) {
  const absl::TimeZone zone = absl::LocalTimeZone();
  if (!watch) {
    v1::ListDecisionsRequest req;
    req.set_domain(domain);
    v1::ListDecisionsResponse resp;
    auto ctx = client.Context();
    return Show<v1::ListDecisionsResponse>(
        client, client.read().ListDecisions(ctx.get(), req, &resp), resp,
        [zone](const v1::ListDecisionsResponse& r) {
          std::string out = r.decisions().empty() ? "no decisions yet\n" : "";
          for (const auto& d : r.decisions()) out += balloond::FormatDecision(d, zone);
          return out;
        });
  }
  v1::WatchDecisionsRequest req;
  req.set_domain(domain);
  auto ctx = client.Context(/*with_deadline=*/client.timeout_given());
  auto reader = client.read().WatchDecisions(ctx.get(), req);
  v1::Decision d;
  while (reader->Read(&d)) {
    std::cout << (client.json() ? balloond::ToJsonLine(d) : balloond::FormatDecision(d, zone))
              << std::flush;
  }
  return FinishWatch(client, reader->Finish());
}

// `balloonctl events`: what happens on the host, history first, until interrupted (or --timeout).
struct EventsOptions {
  std::string domain;
  uint64_t after = 0;
  std::string epoch;
  bool only_new = false;
  std::vector<std::string> kinds;
};

int Events(Client& client, const EventsOptions& options) {
  v1::WatchEventsRequest req;
  req.set_domain(options.domain);
  req.set_after_sequence(options.after);
  req.set_epoch(options.epoch);
  req.set_only_new(options.only_new);
  for (const std::string& name : options.kinds) {
    auto kind = balloond::ParseShortName<v1::EventKind>(name);
    if (!kind) {
      throw UsageError{absl::StrCat("--kind '", name,
                                    "' is not an event kind; e.g. domain-started, relief, "
                                    "reservation-ready (balloonctl events --help lists them)")};
    }
    req.add_kinds(*kind);
  }
  const absl::TimeZone zone = absl::LocalTimeZone();
  auto ctx = client.Context(/*with_deadline=*/client.timeout_given());
  auto reader = client.read().WatchEvents(ctx.get(), req);
  v1::Event e;
  while (reader->Read(&e)) {
    std::cout << (client.json() ? balloond::ToJsonLine(e) : balloond::FormatEvent(e, zone))
              << std::flush;
  }
  return FinishWatch(client, reader->Finish());
}

// Every event kind's short name, for --help and completion.
std::string EventKindNames() {
  std::vector<std::string> names;
  const auto* type = google::protobuf::GetEnumDescriptor<v1::EventKind>();
  for (int i = 0; i < type->value_count(); ++i) {
    if (type->value(i)->number() != v1::EVENT_KIND_UNSPECIFIED) {
      names.push_back(balloond::ShortEnumName(type->value(i)));
    }
  }
  return absl::StrJoin(names, ", ");
}

int Top(Client& client, const std::string& refresh_text) {
  absl::Duration refresh;
  if (!absl::ParseDuration(refresh_text, &refresh) || refresh < absl::Milliseconds(100)) {
    throw UsageError{absl::StrCat("--refresh '", refresh_text,
                                  "' is not a duration of at least 100ms; write e.g. 1s or 500ms")};
  }
  return balloond::RunTop(client.channel(), refresh,
                          [&client](const grpc::Status& s) { return client.Explain(s); });
}

}  // namespace

int main(int argc, char** argv) {
  // gRPC's own log lines (a failed TLS handshake, say) would only repeat, less clearly, what the
  // error message says; GRPC_VERBOSITY=info brings them back.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) gpr_set_log_function([](gpr_log_func_args*) {});
  CLI::App app{"balloonctl: query and steer balloond, the virtio-balloon memory agent"};
  app.require_subcommand(1);
  // Global flags work after the subcommand too (`balloonctl policy show -o json`), as kubectl users
  // type them; set before the subcommands are added, which inherit it.
  app.fallthrough();
  Options options;
  app.add_option("--socket", options.connection.socket,
                 absl::StrCat("balloond's socket (default ", balloond::kDefaultReadOnlySocket,
                              " for reading, ", balloond::kDefaultSocket, " for changes)"));
  app.add_option("--server", options.connection.server,
                 "balloond's TLS listener, HOST:PORT (env BALLOONCTL_SERVER), instead of a socket");
  app.add_option("--tls-ca", options.connection.tls_ca,
                 "CA certificate(s) balloond's certificate must chain to (env BALLOONCTL_TLS_CA)");
  app.add_option("--tls-cert", options.connection.tls_cert,
                 "This client's certificate (env BALLOONCTL_TLS_CERT)");
  app.add_option("--tls-key", options.connection.tls_key,
                 "This client's private key (env BALLOONCTL_TLS_KEY)");
  app.add_option("-o,--output", options.output, "Output format")
      ->check(CLI::IsMember({"table", "json", "name"}));
  app.add_option("--timeout", options.timeout, "Deadline of each call, e.g. 10s (default 10s)");
  std::string request_id;
  app.add_option("--request-id", request_id,
                 "For a change (set, release, policy): a name for it, e.g. a UUID; repeating the "
                 "change with the same id within an hour returns the first answer and acts once");

  std::string domain, size, path, property;
  bool watch = false, wait = false, dry_run = false;
  auto* list = app.add_subcommand("list", "List running domains and their balloons");
  auto* stats = app.add_subcommand("stats", "Show a domain's memory statistics");
  stats->add_option("DOMAIN", domain, "libvirt name or UUID")->required();
  stats->add_flag("--watch", watch, "Print new statistics as they arrive");
  auto* set = app.add_subcommand("set", "Set a domain's balloon target");
  set->add_option("DOMAIN", domain, "libvirt name or UUID")->required();
  set->add_option("SIZE", size,
                  "Memory to leave the guest: 512M, 2GiB, or a plain number in KiB (with "
                  "virtio-mem, all it has: past its boot memory the device plugs the rest)")
      ->required();
  set->add_flag("--wait", wait,
                "Wait until the balloon reaches the target (up to --timeout, default 60s)");
  set->add_flag("--dry-run", dry_run, "Check the request and show what would be done");
  std::string hold;
  auto* hold_option = set->add_option(
      "--hold", hold,
      "How long the policy leaves the balloon there, e.g. 30m; 0 for no hold (default: the "
      "policy's default_hold, 1h)");
  auto* release = app.add_subcommand("release", "End a domain's hold: the policy may move it");
  release->add_option("DOMAIN", domain, "libvirt name or UUID")->required();
  auto* qom = app.add_subcommand(
      "qom",
      "Read-only QOM queries. They reach QEMU through libvirt's QMP passthrough, so libvirt marks "
      "the domain asked about \"tainted: custom monitor control commands issued\" (virsh dominfo) "
      "for the rest of its run; balloond itself never does this");
  qom->require_subcommand(1);
  auto* qom_ls = qom->add_subcommand("ls", "List a QOM object's properties (qom-list)");
  qom_ls->add_option("DOMAIN", domain)->required();
  qom_ls->add_option("PATH", path, "e.g. /machine/peripheral")->required();
  auto* qom_get = qom->add_subcommand("get", "Read one QOM property (qom-get)");
  qom_get->add_option("DOMAIN", domain)->required();
  qom_get->add_option("PATH", path)->required();
  qom_get->add_option("PROPERTY", property)->required();
  auto* host = app.add_subcommand("host", "Show the host's memory and memory pressure");
  auto* capacity = app.add_subcommand(
      "capacity",
      "Show what the host could give a new VM: placeable memory, what the policy could reclaim "
      "from each guest, and what each guest uses and needs");
  auto* reserve = app.add_subcommand(
      "reserve", "Reserve room for a VM to come: the policy takes memory back from idle guests");
  std::string ttl, reserve_domain, reservation_id;
  reserve->add_option("SIZE", size, "The room to make: 4G, 512MiB")->required();
  reserve->add_option("--ttl", ttl, "How long it lives unless released (default 10m)");
  reserve->add_option("--domain", reserve_domain,
                      "The domain it is for: its start ends the reservation (CLAIMED)");
  reserve->add_flag("--wait", wait,
                    "Wait until it is READY (exit 0) or FAILED (exit 1), up to --timeout "
                    "(default 60s)");
  auto* unreserve = app.add_subcommand("unreserve", "Release a reservation");
  unreserve->add_option("ID", reservation_id, "e.g. r-12")->required();
  auto* reservations =
      app.add_subcommand("reservations", "List reservations: alive, and ended in the last hour");
  auto* health = app.add_subcommand("health", "Ask balloond whether it is serving");
  auto* version = app.add_subcommand("version", "Print balloonctl's version");
  auto* policy = app.add_subcommand("policy", "Show or change the automatic ballooning policy");
  policy->require_subcommand(1);
  std::string policy_domain;
  std::vector<std::string> assignments;
  std::string mode;
  auto* policy_show =
      policy->add_subcommand("show", "The policy in force (one domain's settings with DOMAIN)");
  policy_show->add_option("DOMAIN", domain, "libvirt name");
  auto* policy_set = policy->add_subcommand(
      "set", "Change settings, e.g. headroom_bytes=256M host.reserve_bytes=2G");
  policy_set->add_option("KEY=VALUE", assignments)->required();
  auto* set_domain = policy_set->add_option(
      "--domain", policy_domain, "Change this domain's override instead of the defaults");
  std::string etag;
  policy_set->add_option("--if-etag", etag,
                         "Change the policy only if it is still as read (the etag `policy show` "
                         "prints); refused (ABORTED) if someone changed it since");
  std::string persist = "state";
  policy_set
      ->add_option("--persist", persist,
                   "Where a domain's settings are kept: state (balloond's state directory, this "
                   "host) or metadata (the domain's libvirt metadata, which travels with it)")
      ->check(CLI::IsMember({"state", "metadata"}))
      ->needs(set_domain);
  auto* policy_mode =
      policy->add_subcommand("mode", "Switch the policy off, to observe, or to enforce");
  policy_mode->add_option("MODE", mode)
      ->required()
      ->check(CLI::IsMember({"off", "observe", "enforce"}));
  auto* top = app.add_subcommand(
      "top", "A live view of every domain, like virt-top (q or Ctrl-C to quit; lines when piped)");
  std::string refresh = "1s";
  top->add_option("--refresh", refresh, "How often the list and the host are read (default 1s)");
  auto* decisions = app.add_subcommand("decisions", "What the policy did or would do, and why");
  decisions->add_option("DOMAIN", domain, "Only this domain's decisions");
  decisions->add_flag("--watch", watch, "Print decisions as they are made");
  EventsOptions events_options;
  auto* events = app.add_subcommand(
      "events",
      "What happens on the host, as it happens: the events balloond keeps, then new ones");
  events->add_option("DOMAIN", events_options.domain, "Only this domain's events");
  events->add_option("--after", events_options.after,
                     "Resume after this sequence (the first column): the events after it that "
                     "balloond still keeps come first");
  events->add_option("--epoch", events_options.epoch,
                     "The epoch of --after (each event's epoch, in -o json): across a restart of "
                     "balloond the stream says that events were lost");
  events->add_flag("--new", events_options.only_new, "Only events from now on, no history");
  events->add_option("--kind", events_options.kinds,
                     absl::StrCat("Only events of these kinds (repeat it): ", EventKindNames()));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  try {
    if (*version) {
      std::cout << "balloonctl " << BALLOOND_VERSION << "\n";
      return kExitOk;
    }
    Client client(options, /*needs_write=*/set->parsed() || release->parsed() ||
                               policy_set->parsed() || policy_mode->parsed() || reserve->parsed() ||
                               unreserve->parsed());
    if (*list) return List(client);
    if (*stats) return Stats(client, domain, watch);
    if (*set) {
      return Set(client, domain, size, wait, dry_run,
                 hold_option->count() > 0 ? std::optional<std::string>(hold) : std::nullopt,
                 request_id);
    }
    if (*release) return Release(client, domain, request_id);
    if (*qom_ls) return QomList(client, domain, path);
    if (*qom_get) return QomGet(client, domain, path, property);
    if (*host) return Host(client);
    if (*capacity) return Capacity(client);
    if (*reserve) return Reserve(client, size, ttl, reserve_domain, wait, request_id);
    if (*unreserve) return Unreserve(client, reservation_id, request_id);
    if (*reservations) return Reservations(client);
    if (*health) return Health(client);
    if (*policy_show) return PolicyShow(client, domain);
    if (*policy_set) {
      return PolicyUpdate(client, assignments, policy_domain, persist == "metadata", request_id,
                          etag);
    }
    if (*policy_mode) return PolicyUpdate(client, {"mode=" + mode}, "", false, request_id, "");
    if (*decisions) return Decisions(client, domain, watch);
    if (*events) return Events(client, events_options);
    if (*top) return Top(client, refresh);
  } catch (const UsageError& e) {
    std::cerr << "balloonctl: " << e.message << "\n";
    return kExitUsage;
  } catch (const CallImpossible& e) {
    std::cerr << "balloonctl: " << e.message << "\n";
    return kExitFailed;
  }
  return kExitUsage;
}
