#ifndef BALLOOND_AGENT_STEERING_CYCLE_EVENTS_H_
#define BALLOOND_AGENT_STEERING_CYCLE_EVENTS_H_

#include <map>
#include <string>

#include "absl/time/time.h"
#include "agent/steering/event_log.h"
#include "balloon/v1/balloon.pb.h"
#include "policy/capacity.h"

namespace balloond {

// Turns what each policy cycle saw and did into events: guests that came under pressure or left
// it, the host running short or no longer, what autodeflate balloons gave, holds that expired,
// reservations that changed, and the balloons the policy moved. It remembers the last cycle to
// tell beginnings from ends; the policy runner's thread alone calls it.
class CycleEvents {
 public:
  explicit CycleEvents(EventLog& log) : log_(log) {}

  // What a cycle judged (the capacity it published) and the holds in force at `now`.
  void Observe(const policy::HostCapacity& capacity,
               const std::map<std::string, balloon::v1::Hold>& holds, absl::Time now);
  // A reservation that changed state in the cycle.
  void OnReservationChanged(const balloon::v1::Reservation& reservation);
  // A decision as recorded (numbered); only enforce mode's move a balloon.
  void OnDecision(const balloon::v1::Decision& decision);
  // balloond started or stopped ksmd or changed its pace (enforce mode): why.
  void OnKsmChanged(const std::string& explanation);

 private:
  EventLog& log_;
  std::map<std::string, std::string> pressured_;  // UUID → name of the guests under pressure
  bool host_short_ = false;
  std::map<std::string, balloon::v1::Hold> holds_;  // by UUID, as of the last cycle
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_STEERING_CYCLE_EVENTS_H_
