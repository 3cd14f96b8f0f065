// policy show|set|mode, decisions: the automatic ballooning policy and what it did.
#include <memory>
#include <string>
#include <vector>

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
  std::string domain;
  std::string persist = "state";
  std::string etag;
  std::string mode;
};

// `request`'s policy and update mask from KEY=VALUE assignments (a usage error when one is wrong).
template <typename Request>
void Assign(const std::vector<std::string>& assignments, Request& request) {
  if (absl::Status s = ApplyPolicyAssignments(assignments, *request.mutable_policy(),
                                              *request.mutable_update_mask());
      !s.ok()) {
    throw UsageError{std::string(s.message())};
  }
}

// After settings were written to a domain's metadata: those its config-file override still
// decides, said.
void NoteConfigOverrides(Session& session, const std::string& domain) {
  v1::GetDomainPolicyRequest get;
  get.set_domain(domain);
  v1::DomainPolicyInForce in_force;
  auto ctx = session.Context();
  if (!session.read().GetDomainPolicy(ctx.get(), get, &in_force).ok()) return;
  for (const auto& [field, source] : in_force.sources()) {
    if (source == v1::POLICY_SOURCE_CONFIG_DOMAIN) {
      session.out() << "note: " << field << " stays as balloond's config file sets it for "
                    << domain << "; the file's domain override wins over metadata\n";
    }
  }
}

int PolicyUpdate(Session& session, const UpdateOptions& o) {
  const bool to_metadata = o.persist == "metadata";
  v1::Policy resp;
  auto ctx = session.Context();
  grpc::Status status;
  if (o.domain.empty()) {
    v1::UpdatePolicyRequest req;
    req.set_request_id(session.request_id());
    req.set_etag(o.etag);
    Assign(o.assignments, req);
    status = session.control().UpdatePolicy(ctx.get(), req, &resp);
  } else {
    v1::UpdateDomainPolicyRequest req;
    req.set_domain(o.domain);
    req.set_request_id(session.request_id());
    req.set_etag(o.etag);
    if (to_metadata) req.set_persist(v1::POLICY_PERSISTENCE_METADATA);
    Assign(o.assignments, req);
    status = session.control().UpdateDomainPolicy(ctx.get(), req, &resp);
  }
  if (!status.ok()) return session.Fail(status);
  if (session.json()) {
    session.out() << ToJsonLine(resp);
    return kExitOk;
  }
  session.out() << (to_metadata ? "policy written to the libvirt metadata of " + o.domain
                                : "policy updated" + (o.domain.empty() ? "" : " for " + o.domain))
                << "; mode " << ShortName(resp.mode()) << "; etag " << resp.etag() << "\n";
  if (to_metadata) NoteConfigOverrides(session, o.domain);
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
  set->callback([&cli, update] {
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
