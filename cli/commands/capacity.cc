// capacity, reserve, reservations, reservations release (alias unreserve): room for VMs to come.
#include <memory>
#include <set>
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

int Capacity(Session& session) {
  v1::HostCapacity resp;
  auto ctx = session.Context();
  return Show<v1::HostCapacity>(
      session, session.read().GetHostCapacity(ctx.get(), {}, &resp), resp,
      [&session](const v1::HostCapacity& c) { return FormatCapacity(c, session.zone()); });
}

// Whether `kind` ends a reservation's wait: it is READY, or will never be.
bool EndsTheWait(int kind) {
  static const std::set<int> kEnding = {
      v1::EVENT_KIND_RESERVATION_READY, v1::EVENT_KIND_RESERVATION_FAILED,
      v1::EVENT_KIND_RESERVATION_EXPIRED, v1::EVENT_KIND_RESERVATION_RELEASED,
      v1::EVENT_KIND_RESERVATION_CLAIMED};
  return kEnding.count(kind) > 0;
}

// Watches the host's events (the history balloond keeps first, so that none is missed) until
// one ends reservation `id`'s wait, or the wait is over. The reservation as it is then.
int WaitForReservation(Session& session, v1::Reservation r) {
  v1::WatchEventsRequest watch;
  for (int kind : {v1::EVENT_KIND_RESERVATION_READY, v1::EVENT_KIND_RESERVATION_FAILED,
                   v1::EVENT_KIND_RESERVATION_EXPIRED, v1::EVENT_KIND_RESERVATION_RELEASED,
                   v1::EVENT_KIND_RESERVATION_CLAIMED}) {
    watch.add_kinds(static_cast<v1::EventKind>(kind));
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + session.wait()));
  auto reader = session.read().WatchEvents(&ctx, watch);
  v1::Event e;
  bool ended = false;
  while (!ended && reader->Read(&e)) ended = e.reservation_id() == r.id() && EndsTheWait(e.kind());
  if (ended) ctx.TryCancel();
  const grpc::Status finished = reader->Finish();
  if (!ended && finished.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
    return session.Fail(finished);
  }
  v1::GetReservationRequest get;
  get.set_id(r.id());
  auto get_ctx = session.Context();
  if (grpc::Status s = session.read().GetReservation(get_ctx.get(), get, &r); !s.ok()) {
    return session.Fail(s);
  }
  session.out() << (session.json() ? ToJsonLine(r) : FormatReservation(r, session.Now()));
  if (r.state() == v1::RESERVATION_STATE_READY) return kExitOk;
  if (r.state() == v1::RESERVATION_STATE_PENDING) {
    session.err() << "balloonctl: " << r.id() << " is still PENDING after "
                  << absl::FormatDuration(session.wait()) << " (" << FormatBytes(r.made_bytes())
                  << " of " << FormatBytes(r.bytes()) << " made); raise --timeout, or release it\n";
  }
  return kExitFailed;
}

struct ReserveOptions {
  std::string size;
  std::string ttl;
  std::string domain;
  bool wait = false;
};

int Reserve(Session& session, const ReserveOptions& o) {
  auto size = ParseMemorySize(o.size);
  if (!size.ok()) throw UsageError{std::string(size.status().message())};
  v1::ReserveMemoryRequest req;
  req.set_bytes(*size);
  req.set_domain(o.domain);
  req.set_request_id(session.request_id());
  if (!o.ttl.empty()) {
    absl::Duration ttl;
    if (!absl::ParseDuration(o.ttl, &ttl) || ttl <= absl::ZeroDuration()) {
      throw UsageError{absl::StrCat("--ttl '", o.ttl, "' is not a duration; write e.g. 10m, 1h")};
    }
    *req.mutable_ttl() = ToProtoDuration(ttl);
  }
  v1::Reservation r;
  auto ctx = session.Context();
  grpc::Status status = session.control().ReserveMemory(ctx.get(), req, &r);
  if (!status.ok()) return session.Fail(status);
  if (o.wait && r.state() == v1::RESERVATION_STATE_PENDING) return WaitForReservation(session, r);
  session.out() << (session.json() ? ToJsonLine(r) : FormatReservation(r, session.Now()));
  if (o.wait) return r.state() == v1::RESERVATION_STATE_READY ? kExitOk : kExitFailed;
  return r.state() == v1::RESERVATION_STATE_FAILED ? kExitFailed : kExitOk;
}

int ReleaseReservation(Session& session, const std::string& id) {
  v1::ReleaseReservationRequest req;
  req.set_id(id);
  req.set_request_id(session.request_id());
  v1::Reservation r;
  auto ctx = session.Context();
  return Show<v1::Reservation>(
      session, session.control().ReleaseReservation(ctx.get(), req, &r), r,
      [&session](const v1::Reservation& x) { return FormatReservation(x, session.Now()); });
}

int Reservations(Session& session) {
  v1::ListReservationsResponse resp;
  const grpc::Status status =
      ListAllPages<v1::ListReservationsRequest, v1::ListReservationsResponse>(
          [&session](const v1::ListReservationsRequest& req, v1::ListReservationsResponse* page) {
            return session.read().ListReservations(session.Context().get(), req, page);
          },
          {}, &resp);
  return Show<v1::ListReservationsResponse>(
      session, status, resp,
      [&session](const v1::ListReservationsResponse& r) {
        return FormatReservations(r, session.Now());
      },
      [](const v1::ListReservationsResponse& r) {
        std::string out;
        for (const v1::Reservation& x : r.reservations()) absl::StrAppend(&out, x.id(), "\n");
        return out;
      });
}

}  // namespace

void AddCapacityCommands(CLI::App& app, CommandLine& cli) {
  app.add_subcommand("capacity",
                     "Show what the host could give a new VM: placeable memory, what the policy "
                     "could reclaim from each guest, and what each guest uses and needs")
      ->callback([&cli] { cli.Choose(false, Capacity); });

  auto reserve = std::make_shared<ReserveOptions>();
  auto* reserve_command = app.add_subcommand(
      "reserve", "Reserve room for a VM to come: the policy takes memory back from idle guests");
  reserve_command->add_option("SIZE", reserve->size, "The room to make: 4G, 512MiB")->required();
  reserve_command->add_option("--ttl", reserve->ttl,
                              "How long it lives unless released (default 10m)");
  reserve_command->add_option("--domain", reserve->domain,
                              "The domain it is for: its start ends the reservation (CLAIMED)");
  reserve_command->add_flag("--wait", reserve->wait,
                            "Wait until it is READY (exit 0) or FAILED (exit 1), up to --timeout "
                            "(default 60s)");
  reserve_command->callback([&cli, reserve] {
    cli.Choose(true, [reserve](Session& s) { return Reserve(s, *reserve); });
  });

  // The contract's `reservations release ID`; `unreserve ID`, its first name, stays.
  auto id = std::make_shared<std::string>();
  auto* reservations =
      app.add_subcommand("reservations", "List reservations: alive, and ended in the last hour");
  reservations->require_subcommand(0, 1);
  reservations->callback([&cli, reservations] {
    if (reservations->get_subcommands().empty()) cli.Choose(false, Reservations);
  });
  for (auto [parent, name] : {std::pair{reservations, "release"}, std::pair{&app, "unreserve"}}) {
    auto* release = parent->add_subcommand(name, "Release a reservation: its room goes back");
    release->add_option("ID", *id, "e.g. r-12")->required();
    release->callback(
        [&cli, id] { cli.Choose(true, [id](Session& s) { return ReleaseReservation(s, *id); }); });
  }
}

}  // namespace balloond::cli
