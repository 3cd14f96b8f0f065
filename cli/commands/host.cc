// host, health, top, version: the host and balloond itself.
#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/format.h"
#include "cli/top.h"

namespace balloond::cli {
namespace {

namespace v1 = balloon::v1;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

int Host(Session& session) {
  v1::HostStats resp;
  auto ctx = session.Context();
  return Show<v1::HostStats>(session, session.read().GetHostStats(ctx.get(), {}, &resp), resp,
                             FormatHost);
}

int Health(Session& session) {
  HealthCheckResponse resp;
  auto ctx = session.Context();
  grpc::Status status = session.health().Check(ctx.get(), HealthCheckRequest(), &resp);
  if (!status.ok()) return session.Fail(status);
  const bool serving = resp.status() == HealthCheckResponse::SERVING;
  if (session.json()) {
    session.out() << ToJsonLine(resp);
  } else {
    session.out() << (serving ? "SERVING"
                              : "NOT_SERVING: balloond cannot reach libvirt; see its log")
                  << "\n";
  }
  return serving ? kExitOk : kExitFailed;
}

// balloonctl's version always; balloond's from its health answer, when it answers within 3 s
// (a balloond too old to say is "an unknown version").
int Version(Session& session) {
  session.out() << "balloonctl " << BALLOOND_VERSION << "\n" << std::flush;
  HealthCheckResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + std::min(session.timeout(), absl::Seconds(3))));
  const grpc::Status status = session.health().Check(&ctx, HealthCheckRequest(), &resp);
  if (!status.ok()) {
    session.err() << "balloonctl: balloond did not answer: " << session.Explain(status) << "\n";
    return kExitOk;  // its own version was what was asked for first
  }
  const auto& metadata = ctx.GetServerInitialMetadata();
  const auto version = metadata.find("balloond-version");
  session.out() << "balloond "
                << (version == metadata.end()
                        ? std::string("(an unknown version)")
                        : std::string(version->second.data(), version->second.size()))
                << "\n";
  return kExitOk;
}

int Top(Session& session, const std::string& refresh_text) {
  absl::Duration refresh;
  if (!absl::ParseDuration(refresh_text, &refresh) || refresh < absl::Milliseconds(100)) {
    throw UsageError{absl::StrCat("--refresh '", refresh_text,
                                  "' is not a duration of at least 100ms; write e.g. 1s or 500ms")};
  }
  if (!session.channel()) throw CallImpossible{"top needs a connection to balloond"};
  return RunTop(session.channel(), refresh,
                [&session](const grpc::Status& s) { return session.Explain(s); });
}

}  // namespace

void AddHostCommands(CLI::App& app, CommandLine& cli) {
  app.add_subcommand("host", "Show the host's memory and memory pressure")->callback([&cli] {
    cli.Choose(false, Host);
  });
  app.add_subcommand("health", "Ask balloond whether it is serving")->callback([&cli] {
    cli.Choose(false, Health);
  });
  auto refresh = std::make_shared<std::string>("1s");
  auto* top = app.add_subcommand(
      "top", "A live view of every domain, like virt-top (q or Ctrl-C to quit; lines when piped)");
  top->add_option("--refresh", *refresh, "How often the list and the host are read (default 1s)");
  top->callback(
      [&cli, refresh] { cli.Choose(false, [refresh](Session& s) { return Top(s, *refresh); }); });
  app.add_subcommand("version", "Print balloonctl's version, and balloond's when it answers")
      ->callback([&cli] { cli.Choose(false, Version); });
}

}  // namespace balloond::cli
