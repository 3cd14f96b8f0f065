#include "agent/metrics.h"

#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "agent/config.h"

namespace balloond {
namespace {

constexpr int kMetricsWorkers = 4;
constexpr absl::Duration kMetricsRequestTimeout = absl::Seconds(2);

}  // namespace

AgentMetrics::AgentMetrics(StateSeries::Sources sources)
    : registry_(std::make_shared<prometheus::Registry>()),
      state_(std::make_shared<StateSeries>(std::move(sources))),
      calls_(*registry_) {
  round_ = &prometheus::BuildHistogram()
                .Name("balloon_collection_round_duration_seconds")
                .Help("How long one collection of the domains' statistics took.")
                .Register(*registry_)
                .Add({}, DurationBuckets());
  libvirt_connected_ = &prometheus::BuildGauge()
                            .Name("balloon_libvirt_connected")
                            .Help("1 while balloond reaches libvirtd, 0 otherwise.")
                            .Register(*registry_)
                            .Add({});
  // Which balloond answers, for dashboards and alerts across a fleet (the _build_info convention).
  prometheus::BuildGauge()
      .Name("balloond_build_info")
      .Help("Always 1; its labels say which balloond this is.")
      .Register(*registry_)
      .Add({{"version", BALLOOND_VERSION}})
      .Set(1);
}

AgentMetrics::~AgentMetrics() = default;

absl::Status AgentMetrics::Serve(const std::string& address) {
  if (absl::Status s = ValidateHostPort("metrics address", address); !s.ok()) return s;
  try {
    // civetweb gives each connection a worker until its request is read: a few workers and a
    // short read timeout, so that idle connections cannot keep every scrape out for long.
    exposer_ = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", address, "num_threads", std::to_string(kMetricsWorkers),
        "request_timeout_ms", std::to_string(absl::ToInt64Milliseconds(kMetricsRequestTimeout))});
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", address, ": ", e.what()));
  }
  exposer_->RegisterCollectable(registry_);
  exposer_->RegisterCollectable(state_);
  return absl::OkStatus();
}

int AgentMetrics::port() const {
  if (!exposer_) return -1;
  const std::vector<int> ports = exposer_->GetListeningPorts();
  return ports.empty() ? -1 : ports.front();
}

void AgentMetrics::StopServing() { exposer_.reset(); }

void AgentMetrics::ObserveRound(absl::Duration took) {
  round_->Observe(absl::ToDoubleSeconds(took));
}

void AgentMetrics::SetLibvirtConnected(bool connected) {
  libvirt_connected_->Set(connected ? 1 : 0);
}

std::string AgentMetrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& f : state_->Collect()) families.push_back(std::move(f));
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace balloond
