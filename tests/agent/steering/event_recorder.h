#ifndef BALLOOND_TESTS_AGENT_STEERING_EVENT_RECORDER_H_
#define BALLOOND_TESTS_AGENT_STEERING_EVENT_RECORDER_H_

// What a client watching an event log from now on would read, for tests of what appends to it.

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "agent/steering/event_log.h"

namespace balloond::testing {

class EventRecorder final : public EventListener {
 public:
  explicit EventRecorder(EventLog& log) : log_(log) {
    EXPECT_TRUE(log_.Subscribe(this, {0, "", /*only_new=*/true}).ok());
  }
  ~EventRecorder() override { log_.Unsubscribe(this); }
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  bool OnEvent(const std::shared_ptr<const balloon::v1::Event>& event) override {
    events_.push_back(*event);
    return true;
  }
  // The kinds heard since the last call; the events themselves are then last().
  std::vector<balloon::v1::EventKind> Heard() {
    std::vector<balloon::v1::EventKind> kinds;
    for (const auto& e : events_) kinds.push_back(e.kind());
    last_ = std::move(events_);
    events_.clear();
    return kinds;
  }
  const std::vector<balloon::v1::Event>& last() const { return last_; }

 private:
  EventLog& log_;
  std::vector<balloon::v1::Event> events_;
  std::vector<balloon::v1::Event> last_;
};

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_AGENT_STEERING_EVENT_RECORDER_H_
