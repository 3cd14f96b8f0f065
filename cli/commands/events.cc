// events: what happens on the host, history first, until interrupted (or --timeout).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands/commands.h"
#include "cli/did_you_mean.h"
#include "cli/format.h"
#include "policy/enum_names.h"

namespace balloond::cli {
namespace {

namespace v1 = balloon::v1;

// Every event kind's short name, for --help, errors and completion.
std::vector<std::string> EventKindNames() {
  return ShortEnumNames(google::protobuf::GetEnumDescriptor<v1::EventKind>());
}

struct EventsOptions {
  std::string domain;
  uint64_t after = 0;
  std::string epoch;
  bool only_new = false;
  std::vector<std::string> kinds;
};

int Events(Session& session, const EventsOptions& o) {
  v1::WatchEventsRequest req;
  req.set_domain(o.domain);
  req.set_after_sequence(o.after);
  req.set_epoch(o.epoch);
  req.set_only_new(o.only_new);
  for (const std::string& name : o.kinds) {
    auto kind = ParseShortName<v1::EventKind>(name);
    if (!kind) {
      throw UsageError{absl::StrCat("--kind '", name, "' is not an event kind.",
                                    DidYouMean(name, EventKindNames()),
                                    " The kinds: ", absl::StrJoin(EventKindNames(), ", "))};
    }
    req.add_kinds(*kind);
  }
  auto ctx = session.Context(/*with_deadline=*/session.timeout_given());
  auto reader = session.read().WatchEvents(ctx.get(), req);
  const absl::TimeZone zone = session.zone();
  // Above the first line: the epoch to resume with (the table has no room for it), and the columns.
  auto first = std::make_shared<bool>(true);
  return PrintStream<v1::Event>(session, *reader, [zone, first](const v1::Event& e) {
    std::string header;
    if (std::exchange(*first, false)) {
      header = absl::StrCat("epoch ", e.epoch(), " (resume with --after=SEQ --epoch=", e.epoch(),
                            ")\nSEQ  TIME      KIND  DOMAIN OR RESERVATION  SIZE  WHAT\n");
    }
    return header + FormatEvent(e, zone);
  });
}

}  // namespace

void AddEventCommands(CLI::App& app, CommandLine& cli) {
  auto o = std::make_shared<EventsOptions>();
  auto* events = app.add_subcommand(
      "events",
      "What happens on the host, as it happens: the events balloond keeps, then new ones");
  events->add_option("DOMAIN", o->domain, "Only this domain's events");
  events->add_option("--after", o->after,
                     "Resume after this sequence (the first column): the events after it that "
                     "balloond still keeps come first");
  events->add_option("--epoch", o->epoch,
                     "The epoch of --after (each event's epoch, in -o json): across a restart of "
                     "balloond the stream says that events were lost");
  events->add_flag("--new", o->only_new, "Only events from now on, no history");
  events->add_option("--kind", o->kinds,
                     absl::StrCat("Only events of these kinds (repeat it): ",
                                  absl::StrJoin(EventKindNames(), ", ")));
  events->callback([&cli, o] { cli.Choose(false, [o](Session& s) { return Events(s, *o); }); });
}

}  // namespace balloond::cli
