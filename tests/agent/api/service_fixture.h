#ifndef BALLOOND_TESTS_AGENT_API_SERVICE_FIXTURE_H_
#define BALLOOND_TESTS_AGENT_API_SERVICE_FIXTURE_H_

// What the services stand on in unit tests: the fake hypervisor and clock, the stores and feeds a
// listener's services share, a collector to fill the snapshot store, and an in-process gRPC server
// the test registers its services on.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "agent/api/service_context.h"
#include "agent/api/service_parts.h"
#include "agent/collect/collector.h"
#include "tests/agent/libvirt/fake_hypervisor.h"

namespace balloond::testing {

inline ListenerContext::Settings ListenerLimits(int calls_per_connection, int watches,
                                                double qom_rate = 100) {
  ListenerContext::Settings s;
  s.calls.max_calls_per_connection = calls_per_connection;
  s.calls.max_watches = watches;
  s.qom.queries_per_second = qom_rate;
  s.qom.burst = static_cast<int>(qom_rate);
  return s;
}

class ServiceFixture : public ::testing::Test {
 protected:
  explicit ServiceFixture(ListenerContext::Settings settings = ListenerLimits(8, 4))
      : lookups_("lookup", 1),
        stats_feed_(hypervisor_, clock_, lookups_, balloon_paths_),
        store_(&stats_feed_),
        decisions_(&decision_feed_),
        collector_(hypervisor_, store_, clock_, CollectorOptions{}),
        // As the daemon makes them (agent/daemon.cc).
        services_({store_, hypervisor_, clock_, *policy_, decisions_, *holds_, stats_feed_,
                   decision_feed_, balloon_paths_, qom_traffic_, collector_, capacity_,
                   *reservations_, events_}),
        listener_("test", settings, clock_,
                  [](const grpc::CallbackServerContext&) { return std::string("uid 1000"); }) {}
  ~ServiceFixture() override { Shutdown(); }

  // Ends the watches, the server and the workers: a test class whose services are members of its
  // own calls this in its destructor, before they go.
  void Shutdown() {
    if (shut_down_) return;
    shut_down_ = true;
    services_.CloseWatches(grpc::Status(grpc::StatusCode::UNAVAILABLE, "test ends"));
    if (server_) server_->Shutdown();
    listener_.StopWorkers();
    lookups_.Stop();
  }

  // Starts the in-process server with `services`.
  void Serve(std::initializer_list<grpc::Service*> services) {
    grpc::ServerBuilder builder;
    for (grpc::Service* s : services) builder.RegisterService(s);
    server_ = builder.BuildAndStart();
  }
  std::shared_ptr<grpc::Channel> Channel() { return server_->InProcessChannel({}); }
  void Collect() {
    collector_.CollectOnce();
    collector_.WaitForCalls();
  }
  static std::unique_ptr<grpc::ClientContext> Context() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  FakeHypervisor hypervisor_;
  FakeClock clock_;
  std::string state_dir_ = ::testing::TempDir() + "/service-test-" + std::to_string(getpid()) +
                           "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
  std::unique_ptr<PolicyStore> policy_ = *PolicyStore::Open(state_dir_, {});
  std::unique_ptr<HoldStore> holds_ = *HoldStore::Open(state_dir_);
  std::unique_ptr<ReservationStore> reservations_ = *ReservationStore::Open(state_dir_);
  WorkerPool lookups_;
  BalloonPathCache balloon_paths_;
  QomTraffic qom_traffic_{clock_};
  StatsFeed stats_feed_;
  SnapshotStore store_;
  DecisionFeed decision_feed_;
  DecisionLog decisions_;
  CapacityStore capacity_;
  EventLog events_{clock_, "test-epoch"};
  Collector collector_;
  ServiceParts services_;
  ListenerContext listener_;
  std::unique_ptr<grpc::Server> server_;
  bool shut_down_ = false;
};

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_AGENT_API_SERVICE_FIXTURE_H_
