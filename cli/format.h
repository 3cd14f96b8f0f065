#ifndef BALLOOND_CLI_FORMAT_H_
#define BALLOOND_CLI_FORMAT_H_

#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.pb.h"

namespace balloond {

// What balloonctl prints, as text (each ends with a newline). Pure: unit-tested.

// The protobuf JSON mapping of `message`, on one line (`-o json`).
std::string ToJsonLine(const google::protobuf::Message& message);
// `list`: one row per domain, like `virsh list`; a hold as its target and the time it has left at
// `now`.
std::string FormatDomains(const balloon::v1::ListDomainsResponse& list, absl::Time now);
// What is left of a hold at `now`, e.g. "512 MiB for 29m".
std::string FormatHold(const balloon::v1::Hold& hold, absl::Time now);
// A domain's working set with its age ("312 MiB (1m40s ago)"), or "-" when probing has found none.
std::string FormatWorkingSet(const balloon::v1::Domain& d, absl::Time now);
// `stats DOMAIN`: key/value rows, like `virsh dominfo`.
std::string FormatStats(const balloon::v1::MemoryStats& stats);
// `stats --watch`: a header, then one row per update, read at `now`.
std::string FormatStatsHeader();
std::string FormatStatsRow(const balloon::v1::MemoryStats& stats, absl::Time now,
                           absl::TimeZone zone);
// `host`: the host's memory and pressure.
std::string FormatHost(const balloon::v1::HostStats& host);
// Page sharing on the host: what it saves, ksmd's pace, balloond's control of it.
std::string FormatSharing(const balloon::v1::HostSharing& sharing);
// What KSM merged of one domain: "87 MiB", "- (nosharepages)", "-" when unknown.
std::string FormatDomainSharing(const balloon::v1::DomainSharing& sharing);
// The host's capacity (`balloonctl capacity`): the figures an orchestrator places by, then a row
// per guest with what it has, uses, needs, shares and could give back.
std::string FormatCapacity(const balloon::v1::HostCapacity& capacity, absl::TimeZone zone);
// One reservation and what happened to it (`reserve`, `unreserve`); a table of them
// (`reservations`).
std::string FormatReservation(const balloon::v1::Reservation& reservation, absl::Time now);
std::string FormatReservations(const balloon::v1::ListReservationsResponse& list, absl::Time now);
// `decisions`: one decision, its explanation indented below it.
std::string FormatDecision(const balloon::v1::Decision& decision, absl::TimeZone zone);
// One event on one line: sequence, time, kind, what it concerns (a domain, a reservation), size,
// and what happened.
std::string FormatEvent(const balloon::v1::Event& event, absl::TimeZone zone);
// `policy show`: every set field as "path  value", sizes and durations humanized; with a domain,
// its settings in force and where each came from (and why its metadata is ignored, if it is).
std::string FormatPolicy(const balloon::v1::Policy& policy);
// The policy's settings as `policy set` names them, one per line (no domain overrides).
std::string FormatPolicyKeys(const balloon::v1::Policy& policy);
// One setting of a Policy or DomainPolicy by its dotted path ("host.reserve_bytes"), as
// `policy show` prints it: "1 GiB"; "unset" when the message has no value there.
std::string SettingAt(const google::protobuf::Message& m, const std::string& path);
std::string FormatDomainPolicy(const balloon::v1::DomainPolicyInForce& in_force);
// `qom ls`.
std::string FormatQomProperties(const balloon::v1::ListQomPropertiesResponse& properties);

}  // namespace balloond

#endif  // BALLOOND_CLI_FORMAT_H_
