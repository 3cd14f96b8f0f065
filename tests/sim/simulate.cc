// balloond-sim: races balloond's policy against MOM, Proxmox, squeezed and no ballooning on
// scenario files, prints a table per scenario, checks balloond's targets, and writes JSON.
//   balloond-sim [--json=FILE] [--probe] [--log-cycles=FROM:TO] SCENARIO.json...
// --probe turns probing on for every guest of every scenario (DomainPolicy.probe, off by default).
// --log-cycles prints balloond's cycles from FROM to TO s of each scenario on stderr (CycleLog).
#include <algorithm>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "tests/sim/model.h"
#include "tests/sim/policies.h"
#include "tests/sim/scenario_file.h"

namespace {

using balloond::kMiB;
using balloond::sim::Metrics;
using balloond::sim::Scenario;

std::string Relief(const std::optional<double>& t) {
  return t ? absl::StrFormat("%.1f s", *t) : "never";
}

struct Check {
  std::string target;
  bool met;
  std::string detail;
};

// The pressure-seconds of the guests that tell the truth.
double HonestGuestsPressure(const Scenario& s, const Metrics& m) {
  double sum = 0;
  for (const auto& g : s.guests) {
    if (!g.lies.empty()) continue;
    auto it = m.pressure_seconds_by_guest.find(g.name);
    if (it != m.pressure_seconds_by_guest.end()) sum += it->second;
  }
  return sum;
}

// balloond's targets (issue: "Targets for balloond's default policy, on every scenario").
std::vector<Check> CheckTargets(const Scenario& s, const std::map<std::string, Metrics>& r) {
  const Metrics& b = r.at("balloond");
  std::vector<Check> checks;
  checks.push_back({"0 OOM kills", b.oom_kills == 0, absl::StrCat(b.oom_kills)});
  double best_pressure = 1e300, best_reclaim = 0;
  bool a_baseline_never_overcommits = false;
  for (const char* name : {"mom", "proxmox", "squeezed"}) {
    const Metrics& m = r.at(name);
    best_pressure = std::min(best_pressure, m.pressure_seconds);
    best_reclaim = std::max(best_reclaim, m.reclaimed_mean_bytes);
    a_baseline_never_overcommits |= m.overcommit_seconds == 0;
  }
  if (a_baseline_never_overcommits) {
    checks.push_back({"no overcommit where a baseline has none", b.overcommit_seconds == 0,
                      absl::StrFormat("%.1f s", b.overcommit_seconds)});
  }
  checks.push_back({"pressure <= 1/4 of the best baseline", b.pressure_seconds <= best_pressure / 4,
                    absl::StrFormat("%.1f s vs %.1f s", b.pressure_seconds, best_pressure)});
  if (absl::StrContains(s.name, "idle") || absl::StrContains(s.name, "cache")) {
    checks.push_back({"reclaimed >= 90% of the best baseline",
                      b.reclaimed_mean_bytes >= 0.9 * best_reclaim,
                      absl::StrFormat("%.0f MiB vs %.0f MiB", b.reclaimed_mean_bytes / kMiB,
                                      best_reclaim / kMiB)});
  }
  if (s.spike_guest) {
    const auto& px = r.at("proxmox").time_to_relief_s;
    const bool met = b.time_to_relief_s && (!px || *b.time_to_relief_s <= *px / 10);
    checks.push_back({"time to relief <= 1/10 of Proxmox's", met,
                      absl::StrCat(Relief(b.time_to_relief_s), " vs ", Relief(px))});
  }
  const Metrics& all = r.at("balloond reading every cycle");
  checks.push_back({"no loss from reading steady guests less often",
                    b.oom_kills <= all.oom_kills && b.pressure_seconds <= all.pressure_seconds,
                    absl::StrFormat("%.1f s vs %.1f s", b.pressure_seconds, all.pressure_seconds)});
  if (auto honest = r.find("balloond, liars honest"); honest != r.end()) {
    const double lying = HonestGuestsPressure(s, b);
    const double truthful = HonestGuestsPressure(s, honest->second);
    checks.push_back(
        {"a lying guest hurts only itself",
         lying <= truthful + 1.0 && b.oom_kills <= honest->second.oom_kills,
         absl::StrFormat("others' pressure %.1f s vs %.1f s honest", lying, truthful)});
  }
  double allocation = 0;
  for (const auto& g : s.guests) allocation += static_cast<double>(g.max_bytes);
  if (s.expect_returned_fraction) {
    const double returned = b.reclaimed_mean_bytes / allocation;
    checks.push_back({absl::StrFormat("returns >= %.0f%% of the guests' maximum",
                                      100 * *s.expect_returned_fraction),
                      returned >= *s.expect_returned_fraction,
                      absl::StrFormat("%.1f%%, %.2f GiB·h", 100 * returned, b.returned_gib_hours)});
  }
  if (s.expect_refault_fraction) {
    const double share = b.refault_seconds / std::max(1.0, b.guest_seconds);
    checks.push_back({absl::StrFormat("refault pressure < %.1f%% of guest-time",
                                      100 * *s.expect_refault_fraction),
                      share < *s.expect_refault_fraction,
                      absl::StrFormat("%.3f%% (%.1f s)", 100 * share, b.refault_seconds)});
  }
  if (s.expect_storm_relieved_s) {
    checks.push_back({absl::StrFormat("storm relieved within %.0f s", *s.expect_storm_relieved_s),
                      b.storm_relieved_s && *b.storm_relieved_s <= *s.expect_storm_relieved_s,
                      Relief(b.storm_relieved_s)});
  }
  // What probing costs: balloond's defaults against the same policy without it.
  const Metrics& unprobed = r.at("balloond without probing");
  checks.push_back(
      {"no more pressure or OOM than without probing",
       b.oom_kills <= unprobed.oom_kills && b.pressure_seconds <= unprobed.pressure_seconds + 1.0,
       absl::StrFormat("%.1f s vs %.1f s, %d vs %d OOM", b.pressure_seconds,
                       unprobed.pressure_seconds, b.oom_kills, unprobed.oom_kills)});
  // Probe steps are commands MOM has no counterpart for: with probing on, the rest are compared.
  const bool probing = s.balloond_policy.defaults().probe();
  const int commands = probing ? unprobed.commands : b.commands;
  const int mom = r.at("mom").commands;
  checks.push_back({probing ? "fewer balloon commands than MOM, probe steps aside"
                            : "fewer balloon commands than MOM",
                    mom == 0 ? commands == 0 : commands < mom,
                    absl::StrCat(commands, " vs ", mom)});
  return checks;
}

// A fleet file: the three placement rules side by side, and balloond's targets for a fleet.
nlohmann::json RunFleetFile(const balloond::sim::FleetScenario& f, const std::string& file,
                            int& missed) {
  using balloond::sim::PlacementRule;
  std::cout << "\n## " << f.name << ": " << f.description << " (" << f.host_count << " hosts of "
            << f.host.host_ram_bytes / kMiB << " MiB, a VM every " << f.arrival_interval_s << " s, "
            << f.duration_s << " s)\n\n";
  std::cout << absl::StrFormat("| %-13s | %6s | %7s | %12s | %12s | %10s | %10s | %7s | %7s |\n",
                               "placement", "placed", "refused", "peak running", "pressure s",
                               "pressure %", "OOM (host)", "ready p50", "ready p99");
  std::cout << "|---------------|--------|---------|--------------|--------------|------------|---"
               "---------|-----------|-----------|\n";
  nlohmann::json entry = {{"scenario", f.name}, {"file", file}, {"fleet", true}};
  std::map<PlacementRule, balloond::sim::FleetMetrics> r;
  for (PlacementRule rule :
       {PlacementRule::kNoOvercommit, PlacementRule::kStatic15, PlacementRule::kBalloond}) {
    const balloond::sim::FleetMetrics m = balloond::sim::RunFleet(f, rule);
    r[rule] = m;
    const double share = m.guest_seconds > 0 ? 100 * m.pressure_seconds / m.guest_seconds : 0;
    std::cout << absl::StrFormat(
        "| %-13s | %6d | %7d | %12d | %12.1f | %9.3f%% | %10s | %7.1f s | %7.1f s |\n",
        balloond::sim::RuleName(rule), m.vms_placed, m.vms_refused, m.peak_vms_running,
        m.pressure_seconds, share, absl::StrCat(m.oom_kills, " (", m.host_oom_kills, ")"),
        m.ready_p50_s, m.ready_p99_s);
    entry["results"][balloond::sim::RuleName(rule)] = {{"vms_placed", m.vms_placed},
                                                       {"vms_refused", m.vms_refused},
                                                       {"pressure_seconds", m.pressure_seconds},
                                                       {"guest_seconds", m.guest_seconds},
                                                       {"oom_kills", m.oom_kills},
                                                       {"host_oom_kills", m.host_oom_kills},
                                                       {"ready_p50_s", m.ready_p50_s},
                                                       {"ready_p99_s", m.ready_p99_s},
                                                       {"peak_vms_running", m.peak_vms_running}};
  }
  const auto& b = r[PlacementRule::kBalloond];
  const auto& none = r[PlacementRule::kNoOvercommit];
  const double share = b.guest_seconds > 0 ? b.pressure_seconds / b.guest_seconds : 0;
  const std::vector<Check> checks = {
      {"balloond places >= 1.4x no-overcommit", b.vms_placed >= 1.4 * none.vms_placed,
       absl::StrCat(b.vms_placed, " vs ", none.vms_placed)},
      {"0 OOM kills", b.oom_kills == 0, absl::StrCat(b.oom_kills)},
      {"<= 0.5% of guest-time under pressure", share <= 0.005,
       absl::StrFormat("%.3f%%", 100 * share)}};
  std::cout << "\nballoond's targets:";
  for (const Check& c : checks) {
    std::cout << (c.met ? "  [met] " : "  [MISSED] ") << c.target << " (" << c.detail << ");";
    entry["targets"].push_back({{"target", c.target}, {"met", c.met}, {"detail", c.detail}});
    missed += !c.met;
  }
  std::cout << "\n";
  return entry;
}

}  // namespace

constexpr char kUsage[] =
    "usage: balloond-sim [--json=FILE] [--probe] [--log-cycles=FROM:TO] SCENARIO.json...\n";

int main(int argc, char** argv) {
  std::string json_path;
  bool probe_everywhere = false;
  balloond::sim::CycleLog cycle_log;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--json=")) {
      json_path = arg.substr(7);
    } else if (arg == "--probe") {
      probe_everywhere = true;
    } else if (absl::StartsWith(arg, "--log-cycles=")) {
      // FROM:TO, seconds of scenario time: balloond's cycles then, on stderr.
      const std::vector<std::string> window = absl::StrSplit(arg.substr(13), ':');
      if (window.size() != 2 || !absl::SimpleAtod(window[0], &cycle_log.from_s) ||
          !absl::SimpleAtod(window[1], &cycle_log.to_s)) {
        std::cerr << "balloond-sim: --log-cycles takes FROM:TO in seconds, e.g. 115:175\n";
        return 2;
      }
      cycle_log.out = &std::cerr;
    } else if (absl::StartsWith(arg, "-")) {
      std::cerr << kUsage;
      return 2;
    } else {
      files.push_back(arg);
    }
  }
  if (files.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  nlohmann::json out = nlohmann::json::array();
  int missed = 0;
  for (const std::string& file : files) {
    if (balloond::sim::IsFleetFile(file)) {
      auto fleet = balloond::sim::LoadFleet(file);
      if (!fleet.ok()) {
        std::cerr << "balloond-sim: " << fleet.status().message() << "\n";
        return 1;
      }
      if (probe_everywhere) fleet->host.balloond_policy.mutable_defaults()->set_probe(true);
      out.push_back(RunFleetFile(*fleet, file, missed));
      continue;
    }
    auto scenario = balloond::sim::LoadScenario(file);
    if (!scenario.ok()) {
      std::cerr << "balloond-sim: " << scenario.status().message() << "\n";
      return 1;
    }
    if (probe_everywhere) scenario->balloond_policy.mutable_defaults()->set_probe(true);
    std::cout << "\n## " << scenario->name << ": " << scenario->description << " ("
              << scenario->guests.size() << " guests, " << scenario->host_ram_bytes / kMiB
              << " MiB host, " << scenario->duration_s << " s)\n\n";
    std::cout << absl::StrFormat(
        "| %-9s | %13s | %14s | %10s | %11s | %9s | %10s | %12s | %10s | %8s | %9s |\n", "policy",
        "reclaimed MiB", "returned GiB·h", "pressure s", "host swap s", "refault s", "OOM (host)",
        "overcommit s", "relief", "commands", "reversals");
    std::cout << "|-----------|---------------|----------------|------------|-------------|------"
                 "-----|------------|--------------|------------|----------|-----------|\n";
    std::map<std::string, Metrics> results;
    nlohmann::json entry = {{"scenario", scenario->name}, {"file", file}};
    double read_fraction = 1;
    for (auto& policy : balloond::sim::AllPolicies(*scenario)) {
      const Metrics m = balloond::sim::Simulate(
          *scenario, *policy, policy->name() == "balloond" ? cycle_log : balloond::sim::CycleLog{});
      results[policy->name()] = m;
      if (auto* b = dynamic_cast<balloond::sim::BalloondPolicy*>(policy.get())) {
        read_fraction = b->read_fraction();
      }
      std::cout << absl::StrFormat(
          "| %-9s | %13.0f | %14.2f | %10.1f | %11.1f | %9.1f | %10s | %12.1f | %10s | %8d | %9d "
          "|\n",
          policy->name(), m.reclaimed_mean_bytes / kMiB, m.returned_gib_hours, m.pressure_seconds,
          m.host_swap_seconds, m.refault_seconds,
          absl::StrCat(m.oom_kills, " (", m.host_oom_kills, ")"), m.overcommit_seconds,
          Relief(m.time_to_relief_s), m.commands, m.reversals);
      entry["results"][policy->name()] = {
          {"reclaimed_mean_mib", m.reclaimed_mean_bytes / kMiB},
          {"returned_gib_hours", m.returned_gib_hours},
          {"refault_seconds", m.refault_seconds},
          {"storm_relieved_s",
           m.storm_relieved_s ? nlohmann::json(*m.storm_relieved_s) : nlohmann::json()},
          {"pressure_seconds", m.pressure_seconds},
          {"oom_kills", m.oom_kills},
          {"host_oom_kills", m.host_oom_kills},
          {"host_swap_seconds", m.host_swap_seconds},
          {"pressure_seconds_after_first_minute", m.pressure_seconds_after_first_minute},
          {"overcommit_seconds", m.overcommit_seconds},
          {"time_to_relief_s",
           m.time_to_relief_s ? nlohmann::json(*m.time_to_relief_s) : nlohmann::json()},
          {"commands", m.commands},
          {"reversals", m.reversals},
          {"first_grow_after_spike_s", m.first_grow_after_spike_s
                                           ? nlohmann::json(*m.first_grow_after_spike_s)
                                           : nlohmann::json()}};
    }
    // The same policy reading every guest every cycle: what following activity costs, if anything.
    balloon::v1::Policy every_cycle = scenario->balloond_policy;
    every_cycle.set_max_collect_interval_periods(1);
    balloond::sim::BalloondPolicy reading_all(absl::Seconds(scenario->stats_period_s), every_cycle);
    results["balloond reading every cycle"] = balloond::sim::Simulate(*scenario, reading_all);
    const Metrics& all = results["balloond reading every cycle"];
    std::cout << "\npressure after the first minute:";
    for (const auto& policy_name : {"balloond", "mom", "proxmox", "squeezed", "none"}) {
      std::cout << absl::StrFormat(" %s %.1f s;", policy_name,
                                   results[policy_name].pressure_seconds_after_first_minute);
    }
    std::cout << absl::StrFormat(
        "\nballoond read the guests' statistics in %.0f%% of its guest-cycles; reading all every "
        "cycle: %.1f pressure s, %d OOM kills, %d commands",
        100 * read_fraction, all.pressure_seconds, all.oom_kills, all.commands);
    entry["balloond_read_fraction"] = read_fraction;
    // The same policy with probing off everywhere: what probing returns and what it costs.
    balloon::v1::Policy unprobed_policy = scenario->balloond_policy;
    unprobed_policy.mutable_defaults()->set_probe(false);
    for (auto& [name, domain] : *unprobed_policy.mutable_domains()) domain.set_probe(false);
    balloond::sim::BalloondPolicy unprobed(absl::Seconds(scenario->stats_period_s),
                                           unprobed_policy);
    results["balloond without probing"] = balloond::sim::Simulate(*scenario, unprobed);
    const Metrics& np = results["balloond without probing"];
    std::cout << absl::StrFormat(
        "\nballoond without probing: %.0f MiB reclaimed, %.2f GiB·h returned, %.1f pressure s "
        "(%.1f refault), %d OOM kills, %d commands",
        np.reclaimed_mean_bytes / kMiB, np.returned_gib_hours, np.pressure_seconds,
        np.refault_seconds, np.oom_kills, np.commands);
    entry["balloond_without_probing"] = {{"reclaimed_mean_mib", np.reclaimed_mean_bytes / kMiB},
                                         {"returned_gib_hours", np.returned_gib_hours},
                                         {"pressure_seconds", np.pressure_seconds},
                                         {"refault_seconds", np.refault_seconds},
                                         {"oom_kills", np.oom_kills}};
    if (scenario->spike_guest) {
      std::cout << "\nfirst balloon grow for " << *scenario->spike_guest
                << " after the spike began:";
      for (const auto& [name, m] : results)
        std::cout << " " << name << " " << Relief(m.first_grow_after_spike_s) << ";";
      std::cout << "\nlast guest relieved (pressure within " << scenario->spike_window_s
                << " s of the spike over):";
      for (const auto& [name, m] : results)
        std::cout << " " << name << " " << Relief(m.storm_relieved_s) << ";";
    }
    if (std::any_of(scenario->guests.begin(), scenario->guests.end(),
                    [](const auto& g) { return !g.lies.empty(); })) {
      // The same run with the liars telling the truth: what their lies cost everyone else.
      Scenario honest = *scenario;
      for (auto& g : honest.guests) g.lies.clear();
      balloond::sim::BalloondPolicy truthful(absl::Seconds(honest.stats_period_s),
                                             honest.balloond_policy);
      results["balloond, liars honest"] = balloond::sim::Simulate(honest, truthful);
      std::cout << absl::StrFormat(
          "\nthe other guests' pressure under balloond: %.1f s with the lies, %.1f s without; "
          "reclaimed %.0f MiB with the lies, %.0f MiB without",
          HonestGuestsPressure(*scenario, results["balloond"]),
          HonestGuestsPressure(*scenario, results["balloond, liars honest"]),
          results["balloond"].reclaimed_mean_bytes / kMiB,
          results["balloond, liars honest"].reclaimed_mean_bytes / kMiB);
    }
    std::cout << "\nballoond's targets:";
    for (const Check& c : CheckTargets(*scenario, results)) {
      std::cout << (c.met ? "  [met] " : "  [MISSED] ") << c.target << " (" << c.detail << ");";
      entry["targets"].push_back({{"target", c.target}, {"met", c.met}, {"detail", c.detail}});
      missed += !c.met;
    }
    std::cout << "\n";
    out.push_back(entry);
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(2) << "\n";
  std::cout << "\n" << missed << " target(s) missed\n";
  return 0;
}
