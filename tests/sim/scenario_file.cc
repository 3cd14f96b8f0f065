#include "tests/sim/scenario_file.h"

#include <google/protobuf/util/json_util.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace balloond::sim {
namespace {

using nlohmann::json;

absl::StatusOr<Trace> ReadTrace(const json& g, const std::string& key, const std::string& origin) {
  Trace trace;
  if (!g.contains(key)) return trace;
  const json& points = g.at(key);
  if (points.is_number()) {
    trace.points.push_back({0, points.get<double>()});
    return trace;
  }
  if (!points.is_array())
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", key, " must be a number or [[t, MiB], ...]"));
  double last_t = -1;
  for (const json& p : points) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !p[1].is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": ", key, " points must be [seconds, MiB]"));
    }
    const double t = p[0].get<double>();
    if (t < last_t)
      return absl::InvalidArgumentError(absl::StrCat(origin, ": ", key, " times must not go back"));
    last_t = t;
    trace.points.push_back({t, p[1].get<double>()});
  }
  trace.repeat_s = g.value(key + "_repeat_s", 0.0);
  return trace;
}

int64_t MiB(const json& j, const std::string& key, double fallback) {
  return static_cast<int64_t>(j.value(key, fallback) * kMiB);
}

// One guest's model from its JSON object (a scenario's guest, a fleet kind's), the k-th of its
// count (stagger_s apart); errors start with `where`.
absl::StatusOr<GuestSpec> ParseGuest(const json& g, std::string name, int k,
                                     const std::string& where) {
  GuestSpec spec;
  spec.name = std::move(name);
  spec.max_bytes = MiB(g, "max_mib", 0);
  if (spec.max_bytes <= 0)
    return absl::InvalidArgumentError(absl::StrCat(where, ": max_mib is required"));
  spec.min_bytes = MiB(g, "min_mib", 0);
  spec.shares = g.value("shares", 1000);
  spec.swap_bytes = MiB(g, "swap_mib", 1024);
  spec.kernel_bytes = MiB(g, "kernel_mib", 40);
  spec.start_balloon_bytes = MiB(g, "start_balloon_mib", 0);
  spec.inflate_bytes_per_s = g.value("inflate_mib_per_s", 256.0) * kMiB;
  spec.deflate_bytes_per_s = g.value("deflate_mib_per_s", 512.0) * kMiB;
  spec.uncooperative = g.value("uncooperative", false);
  spec.autodeflate = g.value("autodeflate", false);
  spec.virtio_mem_bytes = MiB(g, "virtio_mem_mib", 0);
  spec.plug_bytes_per_s = g.value("plug_mib_per_s", 800.0) * kMiB;
  spec.unplug_bytes_per_s = g.value("unplug_mib_per_s", 640.0) * kMiB;
  spec.unmovable_bytes = MiB(g, "unmovable_mib", 0);
  spec.start_plugged_bytes = MiB(g, "start_plugged_mib", 0);
  if (g.contains("stops_reporting_at_s"))
    spec.stops_reporting_at_s = g["stops_reporting_at_s"].get<double>();
  spec.phase_s = k * g.value("stagger_s", 0.0);
  spec.lies = g.value("lies", "");
  if (!spec.lies.empty() && spec.lies != "starving" && spec.lies != "impossible") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": lies must be \"starving\" or \"impossible\""));
  }
  spec.lies_from_s = g.value("lies_from_s", 0.0);
  auto anon = ReadTrace(g, "anon_mib", where);
  if (!anon.ok()) return anon.status();
  spec.anon = *anon;
  auto cache = ReadTrace(g, "cache_mib", where);
  if (!cache.ok()) return cache.status();
  spec.cache = *cache;
  auto hot = ReadTrace(g, "hot_cache_mib", where);
  if (!hot.ok()) return hot.status();
  spec.hot_cache = *hot;
  spec.hot_reread_per_s = g.value("hot_reread_per_s", 0.1);
  if (spec.hot_reread_per_s < 0)
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": hot_reread_per_s must not be negative"));
  return spec;
}

// A scenario's or fleet's "balloond_policy" (the policy's JSON form), if it has one, into `policy`.
absl::Status ReadBalloondPolicy(const json& doc, const std::string& origin,
                                balloon::v1::Policy& policy) {
  if (!doc.contains("balloond_policy")) return absl::OkStatus();
  auto parsed = google::protobuf::util::JsonStringToMessage(doc["balloond_policy"].dump(), &policy);
  if (parsed.ok()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(origin, ": balloond_policy: ", parsed.message().as_string()));
}

}  // namespace

absl::StatusOr<Scenario> ParseScenario(const std::string& text, const std::string& origin) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not a JSON object"));
  }
  try {
    Scenario s;
    s.name = doc.value("name", origin);
    s.description = doc.value("description", "");
    s.duration_s = doc.value("duration_s", 600.0);
    s.stats_period_s = doc.value("stats_period_s", 2.0);
    const json host = doc.value("host", json::object());
    s.host_ram_bytes = MiB(host, "ram_mib", 0);
    s.host_base_bytes = MiB(host, "base_mib", 1024);
    s.host_swap_bytes = MiB(host, "swap_mib", 4096);
    if (s.host_ram_bytes <= 0)
      return absl::InvalidArgumentError(absl::StrCat(origin, ": host.ram_mib is required"));
    if (doc.contains("spike")) {
      s.spike_guest = doc["spike"].at("guest").get<std::string>();
      s.spike_at_s = doc["spike"].at("at_s").get<double>();
      s.spike_window_s = doc["spike"].value("window_s", 120.0);
    }
    if (doc.contains("expect")) {
      const json& e = doc["expect"];
      if (e.contains("returned_fraction"))
        s.expect_returned_fraction = e["returned_fraction"].get<double>();
      if (e.contains("refault_fraction"))
        s.expect_refault_fraction = e["refault_fraction"].get<double>();
      if (e.contains("storm_relieved_s"))
        s.expect_storm_relieved_s = e["storm_relieved_s"].get<double>();
    }
    if (absl::Status read = ReadBalloondPolicy(doc, origin, s.balloond_policy); !read.ok())
      return read;
    for (const json& g : doc.at("guests")) {
      const int count = g.value("count", 1);
      for (int k = 0; k < count; ++k) {
        const std::string base = g.at("name").get<std::string>();
        const std::string name = count == 1 ? base : absl::StrCat(base, "-", k + 1);
        auto spec = ParseGuest(g, name, k, absl::StrCat(origin, ": guest ", name));
        if (!spec.ok()) return spec.status();
        s.guests.push_back(*std::move(spec));
      }
    }
    if (s.guests.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": no guests"));
    return s;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
}

absl::StatusOr<FleetScenario> ParseFleet(const std::string& text, const std::string& origin) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": not a JSON object"));
  }
  try {
    FleetScenario f;
    f.name = doc.value("name", origin);
    f.description = doc.value("description", "");
    f.duration_s = doc.value("duration_s", 3600.0);
    f.seed = doc.value("seed", uint64_t{1});
    const json& hosts = doc.at("hosts");
    f.host_count = hosts.value("count", 1);
    f.host.name = f.name;
    f.host.duration_s = f.duration_s;
    f.host.stats_period_s = doc.value("stats_period_s", 2.0);
    f.host.host_ram_bytes = MiB(hosts, "ram_mib", 0);
    f.host.host_base_bytes = MiB(hosts, "base_mib", 1024);
    f.host.host_swap_bytes = MiB(hosts, "swap_mib", 4096);
    if (f.host_count < 1 || f.host.host_ram_bytes <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, ": hosts needs a count of 1 or more and ram_mib"));
    }
    if (absl::Status read = ReadBalloondPolicy(doc, origin, f.host.balloond_policy); !read.ok())
      return read;
    const json arrivals = doc.value("arrivals", json::object());
    f.arrival_interval_s = arrivals.value("interval_s", 10.0);
    f.lifetime_s = arrivals.value("lifetime_s", 0.0);
    f.ready_timeout_s = doc.value("ready_timeout_s", 120.0);
    if (f.arrival_interval_s <= 0 || f.lifetime_s < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          origin, ": arrivals.interval_s must be positive and lifetime_s not negative"));
    }
    for (const json& k : doc.at("kinds")) {
      VmKind kind;
      kind.name = k.at("name").get<std::string>();
      kind.weight = k.value("weight", 1.0);
      kind.host_clock = k.value("host_clock", false);
      const std::string where = absl::StrCat(origin, ": kind ", kind.name);
      if (kind.weight <= 0) return absl::InvalidArgumentError(where + ": weight must be positive");
      auto guest = ParseGuest(k.at("guest"), kind.name, 0, where);
      if (!guest.ok()) return guest.status();
      kind.guest = *std::move(guest);
      // On the fleet's clock, VMs of the kind are spread over jitter_s.
      kind.guest.phase_s = k.value("jitter_s", 0.0);
      f.kinds.push_back(std::move(kind));
    }
    if (f.kinds.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": no kinds"));
    return f;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
}

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<Scenario> LoadScenario(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseScenario(*text, path);
}

absl::StatusOr<FleetScenario> LoadFleet(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  return ParseFleet(*text, path);
}

bool IsFleetFile(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return false;
  const json doc = json::parse(*text, nullptr, false, true);
  return doc.is_object() && doc.contains("hosts");
}

}  // namespace balloond::sim
