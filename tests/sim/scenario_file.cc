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
    if (doc.contains("balloond_policy")) {
      auto parsed = google::protobuf::util::JsonStringToMessage(doc["balloond_policy"].dump(),
                                                                &s.balloond_policy);
      if (!parsed.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(origin, ": balloond_policy: ", parsed.message().as_string()));
      }
    }
    for (const json& g : doc.at("guests")) {
      const int count = g.value("count", 1);
      for (int k = 0; k < count; ++k) {
        GuestSpec spec;
        const std::string base = g.at("name").get<std::string>();
        spec.name = count == 1 ? base : absl::StrCat(base, "-", k + 1);
        const std::string where = absl::StrCat(origin, ": guest ", spec.name);
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
        s.guests.push_back(std::move(spec));
      }
    }
    if (s.guests.empty()) return absl::InvalidArgumentError(absl::StrCat(origin, ": no guests"));
    return s;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
}

absl::StatusOr<Scenario> LoadScenario(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::ostringstream text;
  text << in.rdbuf();
  return ParseScenario(text.str(), path);
}

}  // namespace balloond::sim
