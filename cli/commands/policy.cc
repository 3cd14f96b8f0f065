// policy show|set|mode, decisions: the automatic ballooning policy and what it did.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands/commands.h"
#include "cli/format.h"
#include "cli/policy_keys.h"
#include "policy/enum_names.h"

namespace balloond::cli {
namespace {

namespace v1 = balloon::v1;

int PolicyShow(Session& session, const std::string& domain) {
  auto ctx = session.Context();
  if (domain.empty()) {
    v1::Policy policy;
    grpc::Status status = session.read().GetPolicy(ctx.get(), {}, &policy);
    return Show<v1::Policy>(session, status, policy, FormatPolicy, FormatPolicyKeys);
  }
  v1::GetDomainPolicyRequest req;
  req.set_domain(domain);
  v1::DomainPolicyInForce in_force;
  grpc::Status status = session.read().GetDomainPolicy(ctx.get(), req, &in_force);
  return Show<v1::DomainPolicyInForce>(session, status, in_force, FormatDomainPolicy);
}

struct UpdateOptions {
  std::vector<std::string> assignments;
  std::vector<std::string> unset;  // keys put back to what the config file or the default says
  bool reset = false;              // every key, or (with a domain) the domain's whole override
  std::string domain;
  std::string persist = "state";
  std::string etag;
  std::string mode;
  bool allow_unknown = false;
};

// `request`'s policy and update mask from KEY=VALUE assignments and the keys to unset (a usage
// error when one is wrong).
template <typename Request>
void Assign(const UpdateOptions& o, Request& request) {
  if (absl::Status s = ApplyPolicyAssignments(o.assignments, *request.mutable_policy(),
                                              *request.mutable_update_mask());
      !s.ok()) {
    throw UsageError{std::string(s.message())};
  }
  // A field in the mask and unset in the request: balloond drops the API's change of it.
  const auto* type = request.policy().GetDescriptor();
  for (const std::string& key : o.unset) {
    auto path = PolicyKeyPath(type, key);
    if (!path.ok()) throw UsageError{std::string(path.status().message())};
    request.mutable_update_mask()->add_paths(*path);
  }
  if (o.reset && o.domain.empty()) {
    for (const std::string& key : PolicyKeys(type)) {
      request.mutable_update_mask()->add_paths(*PolicyKeyPath(type, key));
    }
  }
}

// After settings were written to a domain's metadata: those its config-file override still
// decides, said.
void NoteConfigOverrides(Session& session, const std::string& domain,
                         const v1::DomainPolicyInForce& in_force) {
  for (const auto& [field, source] : in_force.sources()) {
    if (source == v1::POLICY_SOURCE_CONFIG_DOMAIN) {
      session.out() << "note: " << field << " stays as balloond's config file sets it for "
                    << domain << "; the file's domain override wins over metadata\n";
    }
  }
}

// One domain's settings in force; nullopt (and nothing said) when they cannot be read.
std::optional<v1::DomainPolicyInForce> DomainSettings(Session& session, const std::string& domain) {
  v1::GetDomainPolicyRequest get;
  get.set_domain(domain);
  v1::DomainPolicyInForce in_force;
  auto ctx = session.Context();
  if (!session.read().GetDomainPolicy(ctx.get(), get, &in_force).ok()) return std::nullopt;
  return in_force;
}

// "  headroom_bytes: 128 MiB → 256 MiB" for each path of `mask` whose value changed, and (unless
// `only_changed`: a reset names every key) that it stayed.
void PrintChanges(Session& session, const google::protobuf::Message& before,
                  const google::protobuf::Message& after, const google::protobuf::FieldMask& mask,
                  bool only_changed) {
  for (const std::string& path : mask.paths()) {
    const std::string was = SettingAt(before, path), now = SettingAt(after, path);
    if (only_changed && was == now) continue;
    session.out() << "  " << path << ": "
                  << (was == now ? absl::StrCat(now, " (unchanged)")
                                 : absl::StrCat(was, " \u2192 ", now))
                  << "\n";
  }
}

int PolicyUpdate(Session& session, const UpdateOptions& o) {
  const bool to_metadata = o.persist == "metadata";
  v1::Policy resp;
  grpc::Status status;
  google::protobuf::FieldMask mask;
  // What the settings were, for old → new.
  v1::Policy policy_before;
  std::optional<v1::DomainPolicyInForce> domain_before;
  if (o.domain.empty()) {
    v1::UpdatePolicyRequest req;
    req.set_request_id(session.request_id());
    req.set_etag(o.etag);
    Assign(o, req);
    mask = req.update_mask();
    auto get = session.Context();
    (void)session.read().GetPolicy(get.get(), {}, &policy_before);
    auto ctx = session.Context();
    status = session.control().UpdatePolicy(ctx.get(), req, &resp);
  } else {
    v1::UpdateDomainPolicyRequest req;
    req.set_domain(o.domain);
    req.set_request_id(session.request_id());
    req.set_etag(o.etag);
    req.set_allow_unknown_domain(o.allow_unknown);
    if (to_metadata) req.set_persist(v1::POLICY_PERSISTENCE_METADATA);
    Assign(o, req);
    mask = req.update_mask();
    domain_before = DomainSettings(session, o.domain);
    auto ctx = session.Context();
    status = session.control().UpdateDomainPolicy(ctx.get(), req, &resp);
  }
  if (!status.ok()) return session.Fail(status);
  if (session.json()) {
    session.out() << ToJsonLine(resp);
    return kExitOk;
  }
  const std::string what = o.domain.empty() ? "policy" : "policy of " + o.domain;
  session.out() << (to_metadata            ? "policy written to the libvirt metadata of " + o.domain
                    : mask.paths().empty() ? what + " override removed"
                                           : what + " updated")
                << "; mode " << ShortName(resp.mode()) << "; etag " << resp.etag() << "\n";
  if (o.domain.empty()) {
    PrintChanges(session, policy_before, resp, mask, o.reset);
    return kExitOk;
  }
  const std::optional<v1::DomainPolicyInForce> domain_after = DomainSettings(session, o.domain);
  if (!domain_before || !domain_after) return kExitOk;  // a VM not defined yet has no settings
  google::protobuf::FieldMask shown = mask;
  if (shown.paths().empty()) {  // the whole override went: show what it changes
    for (const auto& [field, source] : domain_before->sources()) {
      if (source == v1::POLICY_SOURCE_API_DOMAIN) shown.add_paths(field);
    }
  }
  PrintChanges(session, domain_before->settings(), domain_after->settings(), shown, o.reset);
  if (to_metadata) NoteConfigOverrides(session, o.domain, *domain_after);
  return kExitOk;
}

int Decisions(Session& session, const std::string& domain, bool watch) {
  const absl::TimeZone zone = session.zone();
  if (!watch) {
    v1::ListDecisionsRequest req;
    req.set_domain(domain);
    v1::ListDecisionsResponse resp;
    auto ctx = session.Context();
    return Show<v1::ListDecisionsResponse>(
        session, session.read().ListDecisions(ctx.get(), req, &resp), resp,
        [zone](const v1::ListDecisionsResponse& r) {
          std::string out = r.decisions().empty() ? "no decisions yet\n" : "";
          for (const auto& d : r.decisions()) out += FormatDecision(d, zone);
          return out;
        });
  }
  v1::WatchDecisionsRequest req;
  req.set_domain(domain);
  auto ctx = session.Context(/*with_deadline=*/session.timeout_given());
  auto reader = session.read().WatchDecisions(ctx.get(), req);
  return PrintStream<v1::Decision>(
      session, *reader, [zone](const v1::Decision& d) { return FormatDecision(d, zone); });
}

}  // namespace

void AddPolicyCommands(CLI::App& app, CommandLine& cli) {
  auto* policy = app.add_subcommand("policy", "Show or change the automatic ballooning policy");
  policy->require_subcommand(1);
  auto shown = std::make_shared<std::string>();
  auto* show =
      policy->add_subcommand("show", "The policy in force (one domain's settings with DOMAIN)");
  show->add_option("DOMAIN", *shown, "libvirt name");
  show->callback(
      [&cli, shown] { cli.Choose(false, [shown](Session& s) { return PolicyShow(s, *shown); }); });

  auto update = std::make_shared<UpdateOptions>();
  auto* set = policy->add_subcommand(
      "set", "Change settings, e.g. headroom_bytes=256M host.reserve_bytes=2G");
  set->add_option("KEY=VALUE", update->assignments)->required();
  auto* domain = set->add_option("--domain", update->domain,
                                 "Change this domain's override instead of the defaults");
  set->add_option("--if-etag", update->etag,
                  "Change the policy only if it is still as read (the etag `policy show` "
                  "prints); refused (ABORTED) if someone changed it since");
  set->add_option("--persist", update->persist,
                  "Where a domain's settings are kept: state (balloond's state directory, this "
                  "host) or metadata (the domain's libvirt metadata, which travels with it)")
      ->check(CLI::IsMember({"state", "metadata"}))
      ->needs(domain);
  set->add_flag("--allow-unknown", update->allow_unknown,
                "With --domain: a name libvirt does not know yet (a VM to be defined)")
      ->needs(domain);
  set->callback([&cli, update] {
    cli.Choose(true, [update](Session& s) { return PolicyUpdate(s, *update); });
  });

  auto* unset = policy->add_subcommand(
      "unset", "Put settings back to what balloond's config file (or the default) says");
  unset->add_option("KEY", update->unset, "e.g. headroom_bytes host.reserve_fraction")->required();
  unset->add_option("--domain", update->domain,
                    "Drop these settings from this domain's override; the defaults apply to it");
  unset->add_option("--if-etag", update->etag, "As for policy set");
  unset->callback([&cli, update] {
    cli.Choose(true, [update](Session& s) { return PolicyUpdate(s, *update); });
  });

  auto* reset = policy->add_subcommand(
      "reset",
      "Drop every change made through balloond's API: the config file's policy (or the defaults) "
      "applies again; with --domain, only that domain's override goes");
  reset->add_option("--domain", update->domain, "Only this domain's override");
  reset->add_option("--if-etag", update->etag, "As for policy set");
  reset->callback([&cli, update] {
    update->reset = true;
    cli.Choose(true, [update](Session& s) { return PolicyUpdate(s, *update); });
  });

  auto* mode = policy->add_subcommand("mode", "Switch the policy off, to observe, or to enforce");
  mode->add_option("MODE", update->mode)
      ->required()
      ->check(CLI::IsMember({"off", "observe", "enforce"}));
  mode->callback([&cli, update] {
    cli.Choose(true, [update](Session& s) {
      UpdateOptions o;
      o.assignments = {"mode=" + update->mode};
      return PolicyUpdate(s, o);
    });
  });

  auto decided = std::make_shared<std::pair<std::string, bool>>();
  auto* decisions = app.add_subcommand("decisions", "What the policy did or would do, and why");
  decisions->add_option("DOMAIN", decided->first, "Only this domain's decisions");
  decisions->add_flag("--watch", decided->second, "Print decisions as they are made");
  decisions->callback([&cli, decided] {
    cli.Choose(false,
               [decided](Session& s) { return Decisions(s, decided->first, decided->second); });
  });
}

}  // namespace balloond::cli
