#include "cli/format.h"

#include <google/protobuf/util/json_util.h>

#include <optional>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "cli/table.h"
#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;

std::string Printed(const Table& table) {
  std::ostringstream out;
  table.Print(out);
  return out.str();
}

std::string OptionalBytes(bool has, int64_t value) { return has ? FormatBytes(value) : "-"; }

std::string Age(const v1::MemoryStats& s) {
  if (!s.has_last_update_time()) return "never";
  return absl::StrCat(s.stats_age().seconds(), "s ago");
}

// A scalar setting's value as people read it (sizes humanized); nullopt for a nested message.
std::optional<std::string> SettingValue(const google::protobuf::Message& m,
                                        const google::protobuf::FieldDescriptor* f) {
  using google::protobuf::FieldDescriptor;
  const auto* r = m.GetReflection();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT64:
      if (absl::EndsWith(f->name(), "_bytes")) return FormatBytes(r->GetInt64(m, f));
      if (absl::EndsWith(f->name(), "_bytes_per_second")) {
        return FormatBytes(r->GetInt64(m, f)) + "/s";
      }
      return absl::StrCat(r->GetInt64(m, f));
    case FieldDescriptor::CPPTYPE_INT32:
      return absl::StrCat(r->GetInt32(m, f));
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return absl::StrFormat("%g", r->GetDouble(m, f));
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(m, f) ? "true" : "false";
    case FieldDescriptor::CPPTYPE_ENUM:
      return ShortEnumName(r->GetEnum(m, f));
    case FieldDescriptor::CPPTYPE_STRING:
      return r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      if (f->message_type()->full_name() == "google.protobuf.Duration") {
        const auto& d = static_cast<const google::protobuf::Duration&>(r->GetMessage(m, f));
        return absl::FormatDuration(FromProtoDuration(d));
      }
      return std::nullopt;
    default:
      return "?";
  }
}

// Adds each set field of a policy message to `table` as "prefix.name  value", sizes humanized.
void AddSettings(const google::protobuf::Message& m, const std::string& prefix, Table& table) {
  using google::protobuf::FieldDescriptor;
  const auto* r = m.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const FieldDescriptor* f : fields) {
    if (f->is_map() || f->is_repeated()) continue;
    const std::string key = prefix + f->name();
    if (auto value = SettingValue(m, f)) {
      table.AddRow({key, *value});
    } else {
      AddSettings(r->GetMessage(m, f), key + ".", table);
    }
  }
}

std::string SourceName(v1::PolicySource source) {
  switch (source) {
    case v1::POLICY_SOURCE_BUILT_IN:
      return "built-in default";
    case v1::POLICY_SOURCE_CONFIG_DEFAULTS:
      return "config file: defaults";
    case v1::POLICY_SOURCE_API_DEFAULTS:
      return "API: defaults";
    case v1::POLICY_SOURCE_METADATA:
      return "libvirt metadata";
    case v1::POLICY_SOURCE_CONFIG_DOMAIN:
      return "config file: domain";
    case v1::POLICY_SOURCE_API_DOMAIN:
      return "API: domain";
    default:
      return "?";
  }
}

std::string Features(const v1::Domain& d) {
  std::vector<std::string> on;
  if (d.autodeflate()) on.push_back("autodeflate");
  if (d.free_page_reporting()) on.push_back("free-page-reporting");
  return on.empty() ? "-" : absl::StrJoin(on, ",");
}

const std::vector<size_t> kStatsRowWidths = {8, 9, 9, 9, 9, 9, 9, 6, 8};

// The end of a reservation's or decision's line: its explanation indented on a line of its own,
// when it has one.
std::string ExplanationLine(const std::string& explanation) {
  return explanation.empty() ? "\n" : absl::StrCat("\n    ", explanation, "\n");
}

}  // namespace

std::string ToJsonLine(const google::protobuf::Message& message) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out);
  return out + "\n";
}

std::string FormatHold(const v1::Hold& hold, absl::Time now) {
  const absl::Duration left =
      std::max(absl::ZeroDuration(), FromProtoTimestamp(hold.until()) - now);
  return absl::StrCat(FormatBytes(hold.target_bytes()), " for ",
                      absl::FormatDuration(absl::Ceil(left, absl::Seconds(1))));
}

std::string FormatWorkingSet(const v1::Domain& d, absl::Time now) {
  if (!d.has_working_set_bytes()) return "-";
  // With its age: a working set found long ago may have changed since.
  return absl::StrCat(FormatBytes(d.working_set_bytes()), " (",
                      absl::FormatDuration(absl::Trunc(
                          now - FromProtoTimestamp(d.working_set_time()), absl::Seconds(1))),
                      " ago)");
}

// What a domain's virtio-mem devices plugged of their size ("1 GiB of 2 GiB"), and what they were
// asked for while they have not got there ("256 MiB of 2 GiB, asked 1 GiB"); "-" without one.
std::string FormatPlugged(const v1::Domain& d) {
  if (d.memory_devices().empty()) return "-";
  int64_t plugged = 0, requested = 0, size = 0;
  for (const v1::MemoryDevice& m : d.memory_devices()) {
    plugged += m.plugged_bytes();
    requested += m.requested_bytes();
    size += m.size_bytes();
  }
  return absl::StrCat(FormatBytes(plugged), " of ", FormatBytes(size),
                      plugged == requested ? "" : absl::StrCat(", asked ", FormatBytes(requested)));
}

std::string FormatDomains(const v1::ListDomainsResponse& list, absl::Time now) {
  Table table({"NAME", "STATE", "BALLOON", "ACTUAL", "MAX", "PLUGGED", "WORKING SET", "RECLAIMABLE",
               "HOLD", "FEATURES", "PROBLEM"});
  for (const v1::Domain& d : list.domains()) {
    table.AddRow({d.name(), ShortName(d.state()), ShortName(d.balloon_state()),
                  OptionalBytes(d.has_balloon_actual_bytes(), d.balloon_actual_bytes()),
                  FormatBytes(d.max_memory_bytes()), FormatPlugged(d), FormatWorkingSet(d, now),
                  OptionalBytes(d.has_reclaimable_bytes(), d.reclaimable_bytes()),
                  d.has_hold() ? FormatHold(d.hold(), now) : "-", Features(d),
                  d.problem().empty() ? "-" : d.problem()});
  }
  return Printed(table);
}

std::string FormatStats(const v1::MemoryStats& s) {
  const v1::GuestMemoryStats& g = s.guest();
  const v1::Domain& d = s.domain();
  Table t({});
  t.AddRow({"domain", absl::StrCat(d.name(), " (", d.uuid(), ")")});
  t.AddRow(
      {"state", absl::StrCat(ShortName(d.state()), ", balloon ", ShortName(d.balloon_state()))});
  t.AddRow({"balloon",
            absl::StrCat(OptionalBytes(d.has_balloon_actual_bytes(), d.balloon_actual_bytes()),
                         " of ", FormatBytes(d.max_memory_bytes()), " max")});
  if (!d.memory_devices().empty()) {
    t.AddRow(
        {"plugged", absl::StrCat(FormatPlugged(d), " (virtio-mem; the balloon's size counts it)")});
  }
  t.AddRow({"total memory", OptionalBytes(g.has_total_memory_bytes(), g.total_memory_bytes())});
  t.AddRow(
      {"available", OptionalBytes(g.has_available_memory_bytes(), g.available_memory_bytes())});
  t.AddRow({"free", OptionalBytes(g.has_free_memory_bytes(), g.free_memory_bytes())});
  t.AddRow({"disk caches", OptionalBytes(g.has_disk_caches_bytes(), g.disk_caches_bytes())});
  t.AddRow(
      {"swap in/out", absl::StrCat(OptionalBytes(g.has_swap_in_bytes(), g.swap_in_bytes()), " / ",
                                   OptionalBytes(g.has_swap_out_bytes(), g.swap_out_bytes()))});
  t.AddRow({"faults major/minor",
            absl::StrCat(g.has_major_faults() ? absl::StrCat(g.major_faults()) : "-", " / ",
                         g.has_minor_faults() ? absl::StrCat(g.minor_faults()) : "-")});
  for (const auto& [name, value] : g.other()) {
    // rss is bytes (QEMU's resident memory); what a newer libvirt adds is shown as it comes.
    t.AddRow({name == "rss" ? "rss (QEMU process)" : name,
              name == "rss" ? FormatBytes(value) : absl::StrCat(value)});
  }
  t.AddRow({"last update",
            absl::StrCat(Age(s), ", guest reports every ", s.stats_period().seconds(), "s")});
  if (!d.problem().empty()) t.AddRow({"problem", d.problem()});
  return Printed(t);
}

std::string FormatStatsHeader() {
  return FormatRow(
             {"TIME", "ACTUAL", "TOTAL", "AVAILABLE", "FREE", "CACHES", "SWAP-IN", "MAJFLT", "AGE"},
             kStatsRowWidths) +
         "\n";
}

std::string FormatStatsRow(const v1::MemoryStats& s, absl::Time now, absl::TimeZone zone) {
  const v1::GuestMemoryStats& g = s.guest();
  return FormatRow({absl::FormatTime("%H:%M:%S", now, zone),
                    OptionalBytes(s.domain().has_balloon_actual_bytes(),
                                  s.domain().balloon_actual_bytes()),
                    OptionalBytes(g.has_total_memory_bytes(), g.total_memory_bytes()),
                    OptionalBytes(g.has_available_memory_bytes(), g.available_memory_bytes()),
                    OptionalBytes(g.has_free_memory_bytes(), g.free_memory_bytes()),
                    OptionalBytes(g.has_disk_caches_bytes(), g.disk_caches_bytes()),
                    OptionalBytes(g.has_swap_in_bytes(), g.swap_in_bytes()),
                    g.has_major_faults() ? absl::StrCat(g.major_faults()) : "-", Age(s)},
                   kStatsRowWidths) +
         "\n";
}

std::string FormatHost(const v1::HostStats& host) {
  Table t({});
  t.AddRow({"total memory", FormatBytes(host.mem_total_bytes())});
  t.AddRow({"available", FormatBytes(host.mem_available_bytes())});
  t.AddRow({"free", FormatBytes(host.mem_free_bytes())});
  t.AddRow({"cached", FormatBytes(host.cached_bytes())});
  t.AddRow({"swap free/total", absl::StrCat(FormatBytes(host.swap_free_bytes()), " / ",
                                            FormatBytes(host.swap_total_bytes()))});
  if (host.has_pressure()) {
    auto line = [](const v1::PressureLine& p) {
      return absl::StrFormat("avg10=%.2f%% avg60=%.2f%% avg300=%.2f%%", p.avg10(), p.avg60(),
                             p.avg300());
    };
    t.AddRow({"pressure some", line(host.pressure().some())});
    t.AddRow({"pressure full", line(host.pressure().full())});
  } else {
    t.AddRow({"pressure", "- (the kernel has no /proc/pressure/memory)"});
  }
  return Printed(t);
}

namespace {

// "2.4 GiB (hard 256 MiB): lent to guests in a storm, but for the hard part".
std::string FormatReserve(const v1::HostCapacity& c) {
  std::string state;
  switch (c.reserve_state()) {
    case v1::RESERVE_STATE_KEPT:
      state = "kept";
      break;
    case v1::RESERVE_STATE_LENT:
      state = "lent to guests in a storm, but for the hard part";
      break;
    case v1::RESERVE_STATE_RECLAIMING:
      state = "being taken back from guests";
      break;
    case v1::RESERVE_STATE_HARD:
      state = "below even the hard part: taken back from guests";
      break;
    default:
      state = "-";
  }
  return absl::StrCat(FormatBytes(c.reserve_bytes()), " (hard ",
                      FormatBytes(c.hard_reserve_bytes()), "): ", state);
}

}  // namespace

std::string FormatSharing(const v1::HostSharing& sharing) {
  if (sharing.state() == v1::KSM_STATE_UNAVAILABLE) return "- (the kernel has no KSM)";
  const int64_t saved = sharing.has_saved_bytes() ? sharing.saved_bytes() : sharing.sharing_bytes();
  return absl::StrCat(
      FormatBytes(saved), " saved (", FormatBytes(sharing.lasting_saved_bytes()),
      " of it lasting), ksmd ",
      sharing.running() ? absl::StrCat("running, ", sharing.pages_to_scan(), " pages every ",
                                       sharing.sleep_millisecs(), " ms")
                        : "stopped",
      sharing.has_ksmd_cpu_percent()
          ? absl::StrFormat(", %.1f%% of a CPU", sharing.ksmd_cpu_percent())
          : "",
      "; balloond: ", ShortName(sharing.state()), " (mode ", ShortName(sharing.mode()), ")");
}

std::string FormatDomainSharing(const v1::DomainSharing& sharing) {
  if (sharing.nosharepages()) return "- (nosharepages)";
  if (!sharing.has_merging_bytes()) return "-";
  return FormatBytes(sharing.merging_bytes());
}

std::string FormatCapacity(const v1::HostCapacity& c, absl::TimeZone zone) {
  const bool makes_room = c.mode() == v1::POLICY_MODE_ENFORCE;
  Table host({});
  host.AddRow(
      {"placeable",
       absl::StrCat(FormatBytes(c.placeable_bytes()), " (available ",
                    FormatBytes(c.available_bytes()), " - reserve ", FormatBytes(c.reserve_bytes()),
                    " - unbacked ", FormatBytes(c.unbacked_bytes()), " - reserved ",
                    FormatBytes(c.reserved_bytes()), " - jumps ", FormatBytes(c.jump_room_bytes()),
                    makes_room
                        ? absl::StrCat(" + reclaimable ", FormatBytes(c.reclaimable_bytes()), ")")
                        : ", and nothing reclaimed: the policy does not enforce)")});
  host.AddRow({"reserve", FormatReserve(c)});
  host.AddRow({"reclaimable", FormatBytes(c.reclaimable_bytes())});
  host.AddRow({"unbacked", absl::StrCat(FormatBytes(c.unbacked_bytes()),
                                        " (given to guests, not yet touched: theirs to take)")});
  if (c.has_sharing() && c.sharing().state() != v1::KSM_STATE_UNSPECIFIED) {
    host.AddRow({"sharing", FormatSharing(c.sharing())});
    if (!c.sharing().explanation().empty()) host.AddRow({"ksm", c.sharing().explanation()});
  }
  host.AddRow({"guests have", absl::StrCat(FormatBytes(c.balloon_bytes()), " of ",
                                           FormatBytes(c.committed_bytes()), " committed")});
  host.AddRow({"guests use/need",
               absl::StrCat(FormatBytes(c.used_bytes()), " / ", FormatBytes(c.needed_bytes()))});
  host.AddRow(
      {"pressure index",
       c.has_pressure_index()
           ? absl::StrFormat("%.0f (under 100: every guest has what it needs)", c.pressure_index())
           : "- (no guest has fresh statistics)"});
  if (c.has_pressure()) {
    host.AddRow({"host pressure",
                 absl::StrFormat("some avg10=%.2f%%, full avg10=%.2f%%",
                                 c.pressure().some().avg10(), c.pressure().full().avg10())});
  }
  host.AddRow({"policy", absl::StrCat(ShortName(c.mode()), ", judged at ",
                                      absl::FormatTime(
                                          "%H:%M:%S", FromProtoTimestamp(c.assess_time()), zone))});
  Table domains({"DOMAIN", "HAS", "MAX", "USES", "NEEDS", "PRESSURE", "WORKING SET", "SHARED",
                 "RECLAIMABLE"});
  const absl::Time judged = FromProtoTimestamp(c.assess_time());
  for (const v1::DomainCapacity& d : c.domains()) {
    // What probing found, with its age: a working set found long ago may have changed since.
    const std::string working_set =
        d.has_working_set_bytes()
            ? absl::StrCat(
                  FormatBytes(d.working_set_bytes()), " (",
                  absl::FormatDuration(absl::Trunc(
                      judged - FromProtoTimestamp(d.working_set_time()), absl::Seconds(1))),
                  " ago)")
            : "-";
    domains.AddRow({d.name(), FormatBytes(d.balloon_bytes()), FormatBytes(d.max_memory_bytes()),
                    OptionalBytes(d.has_used_bytes(), d.used_bytes()),
                    OptionalBytes(d.has_needed_bytes(), d.needed_bytes()),
                    d.has_pressure_index() ? absl::StrFormat("%.0f", d.pressure_index()) : "-",
                    working_set, FormatDomainSharing(d.sharing()),
                    d.reclaimable_bytes() > 0
                        ? FormatBytes(d.reclaimable_bytes())
                        : absl::StrCat("- (", d.not_reclaimable_reason(), ")")});
  }
  return absl::StrCat(Printed(host), c.domains().empty() ? "" : "\n", Printed(domains));
}

std::string FormatReservation(const v1::Reservation& r, absl::Time now) {
  const absl::Duration left = FromProtoTimestamp(r.expire_time()) - now;
  return absl::StrCat(
      r.id(), ": ", ShortName(r.state()), ", ", FormatBytes(r.bytes()),
      r.domain().empty() ? "" : absl::StrCat(" for ", r.domain()),
      r.state() == v1::RESERVATION_STATE_PENDING || r.state() == v1::RESERVATION_STATE_READY
          ? absl::StrCat(", expires in ",
                         absl::FormatDuration(
                             absl::Trunc(std::max(absl::ZeroDuration(), left), absl::Seconds(1))))
          : "",
      ExplanationLine(r.explanation()));
}

std::string FormatReservations(const v1::ListReservationsResponse& list, absl::Time now) {
  Table t({"ID", "STATE", "SIZE", "MADE", "DOMAIN", "EXPIRES IN", "BY"});
  for (const v1::Reservation& r : list.reservations()) {
    const bool alive =
        r.state() == v1::RESERVATION_STATE_PENDING || r.state() == v1::RESERVATION_STATE_READY;
    t.AddRow({r.id(), ShortName(r.state()), FormatBytes(r.bytes()), FormatBytes(r.made_bytes()),
              r.domain().empty() ? "-" : r.domain(),
              alive ? absl::FormatDuration(absl::Trunc(
                          std::max(absl::ZeroDuration(), FromProtoTimestamp(r.expire_time()) - now),
                          absl::Seconds(1)))
                    : "-",
              r.created_by()});
  }
  return Printed(t);
}

std::string FormatDecision(const v1::Decision& d, absl::TimeZone zone) {
  return absl::StrCat(
      absl::FormatTime("%H:%M:%S", FromProtoTimestamp(d.time()), zone), "  ", d.domain(), "  ",
      ShortName(d.mode()), "  ", FormatBytes(d.previous_bytes()), " -> ",
      FormatBytes(d.target_bytes()), "  ", ShortName(d.reason()),
      d.mode() == v1::POLICY_MODE_ENFORCE && !d.applied() ? "  NOT APPLIED: " + d.error() : "",
      ExplanationLine(d.explanation()));
}

std::string FormatEvent(const v1::Event& e, absl::TimeZone zone) {
  std::string about = e.domain();
  if (!e.reservation_id().empty()) {
    about = e.domain().empty() ? e.reservation_id()
                               : absl::StrCat(e.reservation_id(), " for ", e.domain());
  }
  return absl::StrCat(
      e.sequence(), "  ", absl::FormatTime("%H:%M:%S", FromProtoTimestamp(e.time()), zone), "  ",
      ShortName(e.kind()), about.empty() ? "" : absl::StrCat("  ", about),
      e.bytes() != 0 ? absl::StrCat("  ", FormatBytes(e.bytes())) : "", "  ", e.message(), "\n");
}

std::string FormatPolicy(const v1::Policy& policy) {
  Table t({});
  AddSettings(policy, "", t);
  for (const auto& [name, override_policy] : policy.domains()) {
    AddSettings(override_policy, absl::StrCat("domains[", name, "]."), t);
  }
  return Printed(t);
}

std::string SettingAt(const google::protobuf::Message& m, const std::string& path) {
  const google::protobuf::Message* at = &m;
  const std::vector<std::string> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const auto* f = at->GetDescriptor()->FindFieldByName(parts[i]);
    if (f == nullptr || f->is_repeated() || !at->GetReflection()->HasField(*at, f)) return "unset";
    if (i + 1 == parts.size()) return SettingValue(*at, f).value_or("?");
    at = &at->GetReflection()->GetMessage(*at, f);
  }
  return "unset";
}

std::string FormatPolicyKeys(const v1::Policy& policy) {
  Table t({});
  AddSettings(policy, "", t);
  std::string out;
  for (const auto& row : t.rows()) {
    if (row.front() != "etag") absl::StrAppend(&out, row.front(), "\n");
  }
  return out;
}

std::string FormatDomainPolicy(const v1::DomainPolicyInForce& in_force) {
  Table t({"SETTING", "VALUE", "FROM"});
  const v1::DomainPolicy& settings = in_force.settings();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  settings.GetReflection()->ListFields(settings, &fields);
  for (const auto* f : fields) {
    auto source = in_force.sources().find(f->name());
    t.AddRow({f->name(), SettingValue(settings, f).value_or("?"),
              source == in_force.sources().end() ? "?" : SourceName(source->second)});
  }
  std::string out = Printed(t);
  if (!in_force.metadata_problem().empty()) {
    absl::StrAppend(&out, "libvirt metadata of ", in_force.domain(), ": ",
                    in_force.metadata_problem(), "\n");
  }
  return out;
}

std::string FormatQomProperties(const v1::ListQomPropertiesResponse& properties) {
  Table table({"NAME", "TYPE"});
  for (const auto& p : properties.properties()) table.AddRow({p.name(), p.type()});
  return Printed(table);
}

}  // namespace balloond
