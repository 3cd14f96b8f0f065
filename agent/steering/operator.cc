#include "agent/steering/operator.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/base/error_reason.h"
#include "agent/libvirt/policy_metadata.h"
#include "agent/steering/domain_resolver.h"
#include "agent/steering/memory_actuator.h"
#include "policy/capacity.h"
#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/layers.h"
#include "policy/settings.h"
#include "policy/sizes.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

// A target outside (0, max] changes nothing and says why.
absl::Status CheckTarget(const DomainSnapshot& snap, int64_t target_bytes) {
  if (target_bytes <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("balloon target must be more than 0 bytes, got ", target_bytes));
  }
  if (target_bytes > snap.info.max_memory_bytes) {
    return WithReason(
        absl::FailedPreconditionError(absl::StrCat(
            "balloon target ", target_bytes, " bytes (", FormatBytes(target_bytes),
            ") is above the maximum memory of domain '", snap.info.name, "', ",
            snap.info.max_memory_bytes, " bytes (", FormatBytes(snap.info.max_memory_bytes),
            "); raise <memory> in its XML to give it more")),
        "TARGET_ABOVE_MAXIMUM",
        {{"domain", snap.info.name}, {"max_bytes", absl::StrCat(snap.info.max_memory_bytes)}});
  }
  return absl::OkStatus();
}

// The floor the policy keeps the domain above: its min_bytes, with its metadata and overrides.
int64_t DomainFloor(const DomainSnapshot& snap, const v1::Policy& policy) {
  std::map<std::string, v1::DomainPolicy> metadata;
  if (snap.metadata_policy) metadata[snap.info.name] = *snap.metadata_policy;
  return std::min(
      policy::EffectiveDomainPolicy(policy::WithMetadata(policy, metadata), snap.info.name)
          .min_bytes(),
      snap.info.max_memory_bytes);
}

// Below its floor, a target is refused unless forced: a typo must not starve a guest.
absl::Status CheckFloor(const DomainSnapshot& snap, int64_t floor, int64_t target_bytes) {
  if (target_bytes >= floor) return absl::OkStatus();
  return WithReason(
      absl::FailedPreconditionError(absl::StrCat(
          "balloon target ", FormatBytes(target_bytes), " (", target_bytes,
          " bytes) is below the floor of domain '", snap.info.name, "', ", FormatBytes(floor),
          " (its min_bytes): a guest left with less than it uses swaps or loses processes; "
          "force the target (balloonctl set --force) if that is what you want")),
      "TARGET_BELOW_FLOOR", {{"domain", snap.info.name}, {"floor_bytes", absl::StrCat(floor)}});
}

std::string HeldFor(absl::Duration hold_for) {
  return hold_for > absl::ZeroDuration()
             ? absl::StrCat(", held for ", absl::FormatDuration(hold_for))
             : ", not held";
}

}  // namespace

absl::StatusOr<Operator::TargetSet> Operator::SetTarget(const v1::SetBalloonTargetRequest& req,
                                                        absl::Time deadline,
                                                        const std::string& caller) {
  auto snap = ResolveDomain(parts_.snapshots, parts_.hypervisor, req.domain(), deadline);
  if (!snap.ok()) return snap.status();
  if (absl::Status s = CheckTarget(*snap, req.target_bytes()); !s.ok()) return s;
  if (snap->balloon == BalloonStatus::kNoDevice) return NoBalloonDevice(snap->info.name);
  // One reading of the policy for the floor and the hold.
  const v1::Policy in_force = parts_.policy.Get();
  const int64_t floor = DomainFloor(*snap, in_force);
  if (absl::Status s = CheckFloor(*snap, floor, req.target_bytes()); !s.ok() && !req.force()) {
    return s;
  }

  // The hold the target gets: the request's, or the policy's default_hold.
  auto checked_hold =
      DurationInRange(req.has_hold() ? req.hold() : policy::WithDefaults(in_force).default_hold(),
                      req.has_hold() ? "hold" : "the policy's default_hold", absl::ZeroDuration(),
                      policy::kMaxHold);
  if (!checked_hold.ok()) return checked_hold.status();
  const absl::Duration hold_for = *checked_hold;
  // One time for the whole request: the hold's end and the stores' view of what is held agree.
  const absl::Time now = parts_.clock.Now();
  TargetSet set{*snap, std::nullopt};
  if (hold_for > absl::ZeroDuration()) {
    v1::Hold hold;
    hold.set_domain(snap->info.name);
    hold.set_uuid(snap->info.uuid);
    hold.set_target_bytes(req.target_bytes());
    *hold.mutable_until() = ToProtoTimestamp(now + hold_for);
    hold.set_set_by(caller);
    set.hold = hold;
  }
  if (req.validate_only()) return set;

  // One change of a domain's target at a time: the hold of one must never be rolled back over, or
  // under, another's.
  const auto locked = parts_.domain_changes.Lock(snap->info.uuid, deadline);
  if (!locked) {
    return absl::DeadlineExceededError(absl::StrCat("another change of domain '", snap->info.name,
                                                    "' did not end before the deadline"));
  }
  // The hold first: a policy cycle between the target and the hold would undo the target.
  const std::optional<v1::Hold> before = parts_.holds.Find(snap->info.uuid, now);
  absl::Status held = set.hold ? parts_.holds.Set(*set.hold, now)
                               : parts_.holds.Release(snap->info.uuid, now).status();
  if (!held.ok()) return held;
  if (parts_.outside != nullptr) parts_.outside->Expect(snap->info.uuid, req.target_bytes());
  absl::Status sent = SendTotal(parts_.hypervisor, *snap, req.target_bytes(), deadline);
  if (!sent.ok()) {
    // The target was not set: the hold it would have had goes, the earlier one comes back.
    (void)(before ? parts_.holds.Set(*before, now)
                  : parts_.holds.Release(snap->info.uuid, now).status());
    // libvirt knew before balloond read the definition.
    if (sent.code() == absl::StatusCode::kFailedPrecondition && !snap->config) {
      return NoBalloonDevice(snap->info.name);
    }
    return sent;
  }
  v1::Event event = DomainEvent(
      v1::EVENT_KIND_TARGET_SET, snap->info.name, snap->info.uuid,
      absl::StrCat(
          "balloon target set to ", FormatBytes(req.target_bytes()),
          snap->actual_bytes ? absl::StrCat(" (was ", FormatBytes(*snap->actual_bytes), ")") : "",
          " by ", caller, HeldFor(hold_for),
          req.target_bytes() < floor
              ? absl::StrCat(", forced below its floor of ", FormatBytes(floor))
              : ""));
  event.set_bytes(req.target_bytes());
  parts_.events.Announce(std::move(event));
  parts_.interest.RequestRefresh(snap->info.uuid);
  return set;
}

absl::StatusOr<Operator::HoldReleased> Operator::ReleaseHold(const std::string& domain,
                                                             absl::Time deadline,
                                                             const std::string& caller) {
  auto snap = ResolveDomain(parts_.snapshots, parts_.hypervisor, domain, deadline);
  if (!snap.ok()) return snap.status();
  auto released = parts_.holds.Release(snap->info.uuid, parts_.clock.Now());
  if (!released.ok()) return released.status();
  if (*released) {
    v1::Event event =
        DomainEvent(v1::EVENT_KIND_HOLD_RELEASED, snap->info.name, snap->info.uuid,
                    absl::StrCat("hold on ", snap->info.name, " released by ", caller));
    event.set_bytes((*released)->target_bytes());
    parts_.events.Announce(std::move(event));
  }
  return HoldReleased{*snap, *released};
}

absl::StatusOr<v1::Policy> Operator::UpdatePolicy(const v1::UpdatePolicyRequest& req,
                                                  const std::string& caller) {
  auto updated = parts_.policy.Update(req.policy(), req.update_mask(), req.etag());
  if (!updated.ok()) return updated.status();
  parts_.events.Announce(
      HostEvent(v1::EVENT_KIND_POLICY_CHANGED,
                absl::StrCat("policy changed (", absl::StrJoin(req.update_mask().paths(), ", "),
                             ") by ", caller)));
  return WithEtag(*updated);
}

absl::StatusOr<v1::Policy> Operator::UpdateDomainPolicy(const v1::UpdateDomainPolicyRequest& req,
                                                        absl::Time deadline,
                                                        const std::string& caller) {
  if (req.persist() == v1::POLICY_PERSISTENCE_METADATA) {
    return WriteMetadata(req, deadline, caller);
  }
  // A misspelt name would be kept and never apply: only a VM to come may be named unknown.
  if (req.update_mask().paths_size() > 0 && !req.allow_unknown_domain()) {
    auto known = parts_.hypervisor.LookupDomain(req.domain(), deadline);
    if (!known.ok() && known.status().code() == absl::StatusCode::kNotFound) {
      return WithReason(absl::NotFoundError(absl::StrCat(
                            "libvirt knows no domain '", req.domain(),
                            "' (names are case-sensitive); to set an override for a VM not "
                            "defined yet, allow an unknown domain (balloonctl policy set "
                            "--allow-unknown)")),
                        "DOMAIN_NOT_FOUND", {{"domain", req.domain()}});
    }
    if (!known.ok()) return known.status();
    if (known->name != req.domain()) {  // a UUID: overrides are kept by name
      return absl::InvalidArgumentError(absl::StrCat("overrides are kept by domain name: '",
                                                     req.domain(), "' is domain '", known->name,
                                                     "'; name it so"));
    }
  }
  auto updated =
      parts_.policy.UpdateDomain(req.domain(), req.policy(), req.update_mask(), req.etag());
  if (!updated.ok()) return updated.status();
  v1::Event event = HostEvent(v1::EVENT_KIND_POLICY_CHANGED,
                              absl::StrCat("policy of domain ", req.domain(), " changed (",
                                           req.update_mask().paths().empty()
                                               ? std::string("override removed")
                                               : absl::StrJoin(req.update_mask().paths(), ", "),
                                           ") by ", caller));
  event.set_domain(req.domain());
  parts_.events.Announce(std::move(event));
  return WithEtag(*updated);
}

absl::StatusOr<v1::Policy> Operator::WriteMetadata(const v1::UpdateDomainPolicyRequest& req,
                                                   absl::Time deadline, const std::string& caller) {
  const google::protobuf::FieldMask& mask = req.update_mask();
  for (const std::string& path : mask.paths()) {
    if (v1::DomainPolicy::descriptor()->FindFieldByName(path) == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("DomainPolicy has no field \"", path, "\""));
    }
    if (absl::Status s = CheckMetadataHolds(path); !s.ok()) return s;
  }
  auto info = parts_.hypervisor.LookupDomain(req.domain(), deadline);
  if (!info.ok()) return info.status();
  std::string element;  // empty: remove balloond's metadata
  if (mask.paths_size() > 0) {
    auto current = parts_.hypervisor.ReadPolicyMetadata(info->uuid, deadline);
    if (!current.ok()) return current.status();
    // Metadata that does not parse is replaced by what is written now.
    v1::DomainPolicy settings =
        ReadMetadataSettings(*current).settings.value_or(v1::DomainPolicy());
    if (absl::Status s = ApplyFieldMask(req.policy(), mask, settings); !s.ok()) return s;
    if (absl::Status s = policy::ValidateDomainPolicy(settings); !s.ok()) return s;
    if (settings.ByteSizeLong() > 0) {
      auto formatted = FormatPolicyMetadata(settings);
      if (!formatted.ok()) return formatted.status();
      element = *formatted;
    }
  }
  if (absl::Status s = parts_.hypervisor.WritePolicyMetadata(info->uuid, element, deadline);
      !s.ok()) {
    return s;
  }
  // What was just written is what applies: this host's API changes of those fields give way.
  auto updated = parts_.policy.Get();
  const auto layers = parts_.policy.GetLayers();
  if (mask.paths_size() > 0 && layers.api_changes.domains().count(req.domain())) {
    auto dropped = parts_.policy.UpdateDomain(req.domain(), v1::DomainPolicy(), mask);
    if (!dropped.ok()) return dropped.status();
    updated = *dropped;
  }
  parts_.events.Announce(DomainEvent(
      v1::EVENT_KIND_POLICY_CHANGED, info->name, info->uuid,
      absl::StrCat("policy metadata of domain ", req.domain(), " ",
                   element.empty() ? std::string("removed")
                                   : absl::StrCat("set (", absl::StrJoin(mask.paths(), ", "), ")"),
                   " by ", caller)));
  parts_.interest.RequestRefresh(info->uuid);  // read its definition again
  return WithEtag(updated);
}

absl::StatusOr<v1::Reservation> Operator::Reserve(const v1::ReserveMemoryRequest& req,
                                                  const std::string& caller) {
  const std::optional<CapacityReading> latest = parts_.capacity.Latest();
  bool repeat = false;
  auto made = parts_.reservations.Create(
      req, caller, latest ? std::optional<policy::HostCapacity>(latest->capacity) : std::nullopt,
      policy::WithDefaults(parts_.policy.Get()).mode() == v1::POLICY_MODE_ENFORCE,
      parts_.clock.Now(), &repeat);
  if (!made.ok() || repeat) return made;  // a repeat was made, and told, before a restart
  v1::Event created = ReservationEvent(*made, v1::EVENT_KIND_RESERVATION_CREATED);
  created.set_message(absl::StrCat("reservation ", made->id(), " of ", FormatBytes(made->bytes()),
                                   " ", created.message(), ": ", ShortName(made->state()), ": ",
                                   made->explanation()));
  parts_.events.Announce(std::move(created));
  // Room that was there already, or can never be: its end comes with its start.
  if (made->state() != v1::RESERVATION_STATE_PENDING) {
    parts_.events.Append(ReservationEvent(*made));
  }
  PublishReservedCapacity();
  return made;
}

absl::StatusOr<v1::Reservation> Operator::ReleaseReservation(const std::string& id,
                                                             const std::string& caller) {
  bool ended = false;
  auto released = parts_.reservations.Release(id, parts_.clock.Now(), &ended);
  if (!released.ok() || !ended) return released;
  v1::Event event = ReservationEvent(*released);
  event.set_message(
      absl::StrCat("reservation ", id, " released by ", caller, ": ", released->explanation()));
  parts_.events.Announce(std::move(event));
  PublishReservedCapacity();
  return released;
}

void Operator::PublishReservedCapacity() {
  parts_.capacity.ApplyReserved(parts_.reservations.ReservedBytes(parts_.clock.Now()));
}

}  // namespace balloond
