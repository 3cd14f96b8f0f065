#ifndef BALLOOND_TESTS_SIM_SCENARIO_FILE_H_
#define BALLOOND_TESTS_SIM_SCENARIO_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "tests/sim/fleet.h"
#include "tests/sim/model.h"

namespace balloond::sim {

// Reads a scenario file (JSON; the format is in tests/sim/README.md). Errors name the file and
// field.
absl::StatusOr<Scenario> LoadScenario(const std::string& path);
absl::StatusOr<Scenario> ParseScenario(const std::string& json_text, const std::string& origin);

// A fleet file: one with "hosts" (the format is in tests/sim/README.md, "Fleets").
bool IsFleetFile(const std::string& path);
absl::StatusOr<FleetScenario> LoadFleet(const std::string& path);
absl::StatusOr<FleetScenario> ParseFleet(const std::string& json_text, const std::string& origin);

}  // namespace balloond::sim

#endif  // BALLOOND_TESTS_SIM_SCENARIO_FILE_H_
