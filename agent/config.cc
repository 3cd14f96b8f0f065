#include "agent/config.h"

#include <google/protobuf/util/time_util.h>

#include <tuple>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/api/server_settings.h"
#include "agent/base/files.h"
#include "policy/durations.h"
#include "policy/enum_names.h"

namespace balloond {
namespace {

absl::StatusOr<absl::Duration> FromProto(const google::protobuf::Duration& d,
                                         absl::string_view field, DurationRange range) {
  return DurationInRange(d, field, range.min, range.max);
}

// Every limit must let at least one of its kind through: a zero would lock every client out.
absl::Status ApplyLimits(const balloon::v1::Limits& in, ServingLimits& out) {
  ServingLimits next = out;
  struct IntLimit {
    const char* name;
    bool set;
    int32_t value;
    int* target;
  };
  for (const IntLimit& l : {
           IntLimit{"max_connections_per_socket", in.has_max_connections_per_socket(),
                    in.max_connections_per_socket(), &next.max_connections_per_socket},
           IntLimit{"max_connections_per_uid", in.has_max_connections_per_uid(),
                    in.max_connections_per_uid(), &next.max_connections_per_uid},
           IntLimit{"max_tls_connections", in.has_max_tls_connections(), in.max_tls_connections(),
                    &next.max_tls_connections},
           IntLimit{"max_calls_per_connection", in.has_max_calls_per_connection(),
                    in.max_calls_per_connection(), &next.max_calls_per_connection},
           IntLimit{"max_watches", in.has_max_watches(), in.max_watches(), &next.max_watches},
           IntLimit{"max_watches_per_client", in.has_max_watches_per_client(),
                    in.max_watches_per_client(), &next.max_watches_per_client},
           IntLimit{"max_tls_connections_per_source", in.has_max_tls_connections_per_source(),
                    in.max_tls_connections_per_source(), &next.max_tls_connections_per_source},
           IntLimit{"max_tls_connections_per_identity", in.has_max_tls_connections_per_identity(),
                    in.max_tls_connections_per_identity(), &next.max_tls_connections_per_identity},
           IntLimit{"qom_burst", in.has_qom_burst(), in.qom_burst(), &next.qom_burst},
       }) {
    if (!l.set) continue;
    if (l.value < 1) {
      return absl::InvalidArgumentError(absl::StrCat("limits.", l.name, " must be at least 1"));
    }
    *l.target = l.value;
  }
  for (auto [name, set, value, target] :
       {std::tuple{"max_unread_bytes_per_client", in.has_max_unread_bytes_per_client(),
                   in.max_unread_bytes_per_client(), &next.max_unread_bytes_per_client},
        std::tuple{"max_unread_bytes", in.has_max_unread_bytes(), in.max_unread_bytes(),
                   &next.max_unread_bytes}}) {
    if (!set) continue;
    // An answer needs room: a page of a list (up to about a MiB) at the least.
    constexpr int64_t kMin = int64_t{1} << 20, kMax = int64_t{1} << 40;
    if (value < kMin || value > kMax) {
      return absl::InvalidArgumentError(
          absl::StrCat("limits.", name, " must be between 1 MiB and 1 TiB, got ", value));
    }
    *target = value;
  }
  if (in.has_tls_operator_connections()) {
    if (in.tls_operator_connections() < 0) {
      return absl::InvalidArgumentError("limits.tls_operator_connections must not be negative");
    }
    next.tls_operator_connections = in.tls_operator_connections();
  } else {
    // Unset: an eighth of the connections, at most the default (a small listener stays usable).
    next.tls_operator_connections =
        std::min(ServingLimits().tls_operator_connections, next.max_tls_connections / 8);
  }
  if (next.tls_operator_connections >= next.max_tls_connections) {
    return absl::InvalidArgumentError(
        absl::StrCat("limits.tls_operator_connections (", next.tls_operator_connections,
                     ") must be below limits.max_tls_connections (", next.max_tls_connections,
                     "): readers need room too"));
  }
  if (in.has_qom_queue_per_domain()) {
    if (in.qom_queue_per_domain() < 0) {
      return absl::InvalidArgumentError("limits.qom_queue_per_domain must not be negative");
    }
    next.qom_queue_per_domain = in.qom_queue_per_domain();
  }
  if (in.has_qom_queries_per_second()) {
    if (!(in.qom_queries_per_second() > 0 && in.qom_queries_per_second() <= 1e6)) {
      return absl::InvalidArgumentError("limits.qom_queries_per_second must be in (0, 1000000]");
    }
    next.qom_queries_per_second = in.qom_queries_per_second();
  }
  if (in.has_idle_timeout()) {
    auto d = FromProto(in.idle_timeout(), "limits.idle_timeout", kIdleTimeoutRange);
    if (!d.ok()) return d.status();
    next.idle_timeout = *d;
  }
  if (in.has_tls_max_connection_age()) {
    auto d = FromProto(in.tls_max_connection_age(), "limits.tls_max_connection_age",
                       kConnectionAgeRange);
    if (!d.ok()) return d.status();
    next.tls_max_connection_age = *d;
  }
  out = next;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<balloon::v1::AgentConfig> ParseAgentConfig(absl::string_view text,
                                                          absl::string_view file_name) {
  balloon::v1::AgentConfig config;
  if (absl::Status s = ParseTextFormat(text, file_name, config); !s.ok()) return s;
  return config;
}

absl::StatusOr<balloon::v1::AgentConfig> LoadAgentConfig(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text.ok()) {
    return absl::Status(text.status().code(),
                        absl::StrCat("config file: ", text.status().message()));
  }
  return ParseAgentConfig(*text, path);
}

absl::Status ApplyAgentConfig(const balloon::v1::AgentConfig& config, AgentSettings& settings) {
  if (!config.connect_uri().empty()) settings.connect_uri = config.connect_uri();
  if (!config.listen().empty()) {
    if (auto p = UnixSocketPath(config.listen()); !p.ok()) return p.status();
    settings.server.listen = config.listen();
  }
  if (!config.listen_ro().empty()) {
    if (auto p = UnixSocketPath(config.listen_ro()); !p.ok()) return p.status();
    settings.server.listen_ro = config.listen_ro();
  }
  if (config.qom_on_read_only_socket()) settings.server.qom_on_read_only_socket = true;
  if (config.has_stats_period()) {
    auto d = FromProto(config.stats_period(), "stats_period", kStatsPeriodRange);
    if (!d.ok()) return d.status();
    settings.stats_period = *d;
  }
  if (config.has_monitor_timeout()) {
    auto d = FromProto(config.monitor_timeout(), "monitor_timeout", kMonitorTimeoutRange);
    if (!d.ok()) return d.status();
    settings.monitor_timeout = *d;
  }
  if (!config.state_dir().empty()) {
    if (config.state_dir()[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("state_dir '", config.state_dir(), "' must be an absolute path"));
    }
    settings.state_dir = config.state_dir();
  }
  if (config.has_policy()) settings.policy = config.policy();
  if (!config.metrics_address().empty()) {
    if (absl::Status s = ValidateHostPort("metrics_address", config.metrics_address()); !s.ok()) {
      return s;
    }
    settings.metrics_address = config.metrics_address();
  }
  if (!config.log_level().empty()) {
    auto level = ParseLogLevel(config.log_level());
    if (!level.ok())
      return absl::InvalidArgumentError(absl::StrCat("log_level: ", level.status().message()));
    settings.log_level = *level;
  }
  if (config.has_tls()) {
    const balloon::v1::TlsListener& t = config.tls();
    TlsSettings tls;
    tls.listen = t.listen();
    tls.cert_file = t.cert_file();
    tls.key_file = t.key_file();
    tls.client_ca_file = t.client_ca_file();
    tls.operators.assign(t.operators().begin(), t.operators().end());
    if (absl::Status s = ValidateTlsSettings(tls); !s.ok()) return s;
    settings.server.tls = std::move(tls);
  }
  if (config.has_limits()) {
    if (absl::Status s = ApplyLimits(config.limits(), settings.server.limits); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<balloon::v1::PolicyMode> ParsePolicyMode(absl::string_view text) {
  // The proto's own names: POLICY_MODE_ENFORCE is "enforce".
  if (auto mode = ParseShortName<balloon::v1::PolicyMode>(text)) return *mode;
  return absl::InvalidArgumentError(
      absl::StrCat("policy mode '", text, "' is not one of off, observe, enforce"));
}

absl::StatusOr<absl::Duration> ParsePositiveDuration(absl::string_view text) {
  absl::Duration d;
  double seconds = 0;
  if (absl::SimpleAtod(text, &seconds)) {
    d = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, &d)) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is not a duration; write e.g. 2s, 500ms or 1m"));
  }
  if (d <= absl::ZeroDuration() || d == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("duration '", text, "' must be positive and finite"));
  }
  return d;
}

absl::StatusOr<absl::Duration> ParseDurationIn(absl::string_view text, absl::string_view field,
                                               DurationRange range) {
  auto d = ParsePositiveDuration(text);
  if (!d.ok()) return d;
  if (absl::Status s = CheckDurationRange(*d, field, range.min, range.max); !s.ok()) return s;
  return d;
}

namespace {

// `config` with only `field` left set.
balloon::v1::AgentConfig OnlyField(const balloon::v1::AgentConfig& config,
                                   const google::protobuf::FieldDescriptor* field) {
  balloon::v1::AgentConfig only = config;
  const google::protobuf::Reflection* reflection = only.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> set;
  reflection->ListFields(only, &set);
  for (const auto* f : set) {
    if (f != field) reflection->ClearField(&only, f);
  }
  return only;
}

}  // namespace

std::vector<std::string> FieldsReadOnlyAtStart(const balloon::v1::AgentConfig& before,
                                               const balloon::v1::AgentConfig& after) {
  const google::protobuf::Descriptor* descriptor = balloon::v1::AgentConfig::descriptor();
  std::vector<std::string> changed;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->number() == balloon::v1::AgentConfig::kPolicyFieldNumber ||
        field->number() == balloon::v1::AgentConfig::kLogLevelFieldNumber) {
      continue;
    }
    if (OnlyField(before, field).SerializeAsString() !=
        OnlyField(after, field).SerializeAsString()) {
      changed.push_back(field->name());
    }
  }
  return changed;
}

}  // namespace balloond
