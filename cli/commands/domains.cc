// list, stats, set, release: the domains and their balloons.
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/format.h"
#include "cli/size.h"
#include "policy/durations.h"
#include "policy/sizes.h"

namespace balloond::cli {
namespace {

namespace v1 = balloon::v1;

int List(Session& session) {
  v1::ListDomainsResponse resp;
  const grpc::Status status = ListAllPages<v1::ListDomainsRequest, v1::ListDomainsResponse>(
      [&session](const v1::ListDomainsRequest& req, v1::ListDomainsResponse* page) {
        return session.read().ListDomains(session.Context().get(), req, page);
      },
      {}, &resp);
  return Show<v1::ListDomainsResponse>(
      session, status, resp,
      [&session](const v1::ListDomainsResponse& r) { return FormatDomains(r, session.Now()); },
      [](const v1::ListDomainsResponse& r) {
        std::string out;
        for (const v1::Domain& d : r.domains()) absl::StrAppend(&out, d.name(), "\n");
        return out;
      });
}

int Stats(Session& session, const std::string& domain, bool watch) {
  if (!watch) {
    v1::GetMemoryStatsRequest req;
    req.set_domain(domain);
    v1::MemoryStats resp;
    auto ctx = session.Context();
    return Show<v1::MemoryStats>(session, session.read().GetMemoryStats(ctx.get(), req, &resp),
                                 resp, FormatStats);
  }
  v1::WatchMemoryStatsRequest req;
  req.set_domain(domain);
  auto ctx = session.Context(/*with_deadline=*/session.timeout_given());
  auto reader = session.read().WatchMemoryStats(ctx.get(), req);
  if (!session.json()) session.out() << FormatStatsHeader();
  return PrintStream<v1::MemoryStats>(session, *reader, [&session](const v1::MemoryStats& s) {
    return FormatStatsRow(s, session.Now(), session.zone());
  });
}

// A domain that is not running cannot move its balloon: nothing to wait for.
int NotRunning(Session& session, const v1::Domain& domain) {
  const bool paused = domain.state() == v1::DOMAIN_STATE_PAUSED;
  session.err() << "balloonctl: " << domain.name() << " is " << (paused ? "paused" : "not running")
                << ": its balloon cannot move until it runs"
                << (paused ? absl::StrCat(" (virsh resume ", domain.name(), ")") : "")
                << "; the target is set and the balloon goes there then\n";
  return kExitFailed;
}

// Waits until the balloon reaches `target` (within 1 MiB: QEMU counts whole pages) and is still
// there at the next collection: a change from outside (virsh setmem, another agent) that undoes it
// is not "reached".
int WaitForBalloon(Session& session, const std::string& domain, int64_t target) {
  v1::WatchMemoryStatsRequest req;
  req.set_domain(domain);
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + session.wait()));
  auto reader = session.read().WatchMemoryStats(&ctx, req);
  v1::MemoryStats s;
  int64_t last = -1;
  int readings_there = 0;
  while (reader->Read(&s)) {
    if (s.domain().state() == v1::DOMAIN_STATE_PAUSED) {
      ctx.TryCancel();
      reader->Finish();
      return NotRunning(session, s.domain());
    }
    if (!s.domain().has_balloon_actual_bytes()) continue;
    last = s.domain().balloon_actual_bytes();
    readings_there = std::llabs(last - target) <= kMiB ? readings_there + 1 : 0;
    if (readings_there == 2) {
      ctx.TryCancel();
      reader->Finish();  // CANCELLED, by us: the call ends here rather than with the context
      if (!session.json())
        session.out() << domain << ": balloon reached " << FormatBytes(last) << "\n";
      return kExitOk;
    }
  }
  grpc::Status status = reader->Finish();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    session.err() << "balloonctl: the balloon of " << domain << " is at "
                  << (last < 0 ? "an unknown size" : FormatBytes(last)) << ", not "
                  << FormatBytes(target) << ", after " << absl::FormatDuration(session.wait())
                  << (readings_there == 0 && last >= 0
                          ? "; the guest may be unable to give up that much memory, or something "
                            "else moves its balloon (see `balloonctl events`), or raise --timeout\n"
                          : "; raise --timeout\n");
    return kExitFailed;
  }
  return session.Fail(status);
}

struct SetOptions {
  std::string domain;
  std::string size;
  bool wait = false;
  bool dry_run = false;
  bool force = false;
  std::string hold;
  bool hold_given = false;  // --hold, even --hold=0
};

// What `set` did, in words: the target, and the hold that keeps the policy off it.
void PrintSet(Session& session, const v1::SetBalloonTargetResponse& resp, const SetOptions& o) {
  const std::string was =
      resp.has_previous_actual_bytes()
          ? absl::StrCat(" (now ", FormatBytes(resp.previous_actual_bytes()), ")")
          : "";
  const std::string& name = resp.domain().name();
  session.out() << name << ": "
                << (o.dry_run ? "would set balloon target to " : "balloon target set to ")
                << FormatBytes(resp.target_bytes()) << was
                << (o.dry_run ? "; dry run, nothing sent to QEMU" : "") << "\n";
  if (!resp.has_hold()) {
    session.out() << name << ": not held; the policy may move it at its next cycle\n";
    return;
  }
  session.out() << name << ": " << (o.dry_run ? "would be " : "") << "held at "
                << FormatHold(resp.hold(), session.Now())
                << (o.hold_given ? "" : " (the policy's default_hold; --hold=0 sets none)")
                << ": the policy leaves it there unless the guest comes under pressure; "
                   "`balloonctl release "
                << name << "` ends the hold\n";
}

int Set(Session& session, const SetOptions& o) {
  auto size = ParseMemorySize(o.size);
  if (!size.ok()) throw UsageError{std::string(size.status().message())};
  v1::SetBalloonTargetRequest req;
  req.set_domain(o.domain);
  req.set_target_bytes(*size);
  req.set_validate_only(o.dry_run);
  req.set_force(o.force);
  req.set_request_id(session.request_id());
  if (o.hold_given) {
    absl::Duration hold;
    if (!absl::ParseDuration(o.hold, &hold) || hold < absl::ZeroDuration()) {
      throw UsageError{absl::StrCat("--hold '", o.hold,
                                    "' is not a duration; write e.g. 30m, 2h, or 0 for no hold")};
    }
    *req.mutable_hold() = ToProtoDuration(hold);
  }
  v1::SetBalloonTargetResponse resp;
  auto ctx = session.Context();
  grpc::Status status = session.control().SetBalloonTarget(ctx.get(), req, &resp);
  if (!status.ok()) return session.Fail(status);
  if (session.json()) {
    session.out() << ToJsonLine(resp);
  } else {
    PrintSet(session, resp, o);
  }
  if (!o.wait || o.dry_run) return kExitOk;
  if (resp.domain().state() != v1::DOMAIN_STATE_RUNNING) return NotRunning(session, resp.domain());
  return WaitForBalloon(session, resp.domain().name(), *size);
}

int Release(Session& session, const std::string& domain) {
  v1::ReleaseHoldRequest req;
  req.set_domain(domain);
  req.set_request_id(session.request_id());
  v1::ReleaseHoldResponse resp;
  auto ctx = session.Context();
  return Show<v1::ReleaseHoldResponse>(
      session, session.control().ReleaseHold(ctx.get(), req, &resp), resp,
      [&session](const v1::ReleaseHoldResponse& r) {
        return r.has_released() ? absl::StrCat(r.domain().name(), ": hold released (it had ",
                                               FormatHold(r.released(), session.Now()),
                                               " left); the policy may move it again\n")
                                : absl::StrCat(r.domain().name(), ": was not held\n");
      });
}

}  // namespace

void AddDomainCommands(CLI::App& app, CommandLine& cli) {
  app.add_subcommand("list", "List running domains and their balloons")->callback([&cli] {
    cli.Choose(false, List);
  });

  auto stats = std::make_shared<std::pair<std::string, bool>>();
  auto* stats_command = app.add_subcommand("stats", "Show a domain's memory statistics");
  stats_command->add_option("DOMAIN", stats->first, "libvirt name or UUID")->required();
  stats_command->add_flag("--watch", stats->second, "Print new statistics as they arrive");
  stats_command->callback([&cli, stats] {
    cli.Choose(false, [stats](Session& s) { return Stats(s, stats->first, stats->second); });
  });

  auto set = std::make_shared<SetOptions>();
  auto* set_command = app.add_subcommand("set", "Set a domain's balloon target");
  set_command->add_option("DOMAIN", set->domain, "libvirt name or UUID")->required();
  set_command
      ->add_option("SIZE", set->size,
                   "Memory to leave the guest, with its unit: 512M, 1.5G, 2GiB (with virtio-mem, "
                   "all it has: past its boot memory the device plugs the rest)")
      ->required();
  set_command->add_flag(
      "--force", set->force,
      "Set a target below the domain's floor (its min_bytes, 128 MiB unless set)");
  set_command->add_flag("--wait", set->wait,
                        "Wait until the balloon reaches the target (up to --timeout, default 60s)");
  set_command->add_flag("--dry-run", set->dry_run, "Check the request and show what would be done");
  auto* hold = set_command->add_option(
      "--hold", set->hold,
      "How long the policy leaves the balloon there, e.g. 30m; 0 for no hold (default: the "
      "policy's default_hold, 1h)");
  set_command->callback([&cli, set, hold] {
    set->hold_given = hold->count() > 0;
    cli.Choose(true, [set](Session& s) { return Set(s, *set); });
  });

  auto release = std::make_shared<std::string>();
  auto* release_command =
      app.add_subcommand("release", "End a domain's hold: the policy may move it");
  release_command->add_option("DOMAIN", *release, "libvirt name or UUID")->required();
  release_command->callback([&cli, release] {
    cli.Choose(true, [release](Session& s) { return Release(s, *release); });
  });
}

}  // namespace balloond::cli
