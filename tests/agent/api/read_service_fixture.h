#ifndef BALLOOND_TESTS_AGENT_API_READ_SERVICE_FIXTURE_H_
#define BALLOOND_TESTS_AGENT_API_READ_SERVICE_FIXTURE_H_

// The read service on the service fixture's in-process server, with a stub to call it.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "agent/api/read_service.h"
#include "tests/agent/api/service_fixture.h"

namespace balloond::testing {

namespace v1 = balloon::v1;

inline ListenerContext::Settings Limits(int calls_per_connection, int watches,
                                        double qom_rate = 100) {
  return ListenerLimits(calls_per_connection, watches, qom_rate);
}

class ReadServiceFixture : public ServiceFixture {
 protected:
  explicit ReadServiceFixture(ListenerContext::Settings settings = Limits(8, 4))
      : ServiceFixture(settings), service_(services_.read(), listener_, ReadServiceOptions{}) {
    Serve({&service_});
    stub_ = v1::BalloonReadService::NewStub(Channel());
  }
  ~ReadServiceFixture() override { Shutdown(); }

  struct Watch {
    std::unique_ptr<grpc::ClientContext> ctx = Context();
    std::unique_ptr<grpc::ClientReader<v1::MemoryStats>> reader;
  };
  Watch WatchStats(const std::string& domain) {
    Watch w;
    v1::WatchMemoryStatsRequest req;
    req.set_domain(domain);
    w.reader = stub_->WatchMemoryStats(w.ctx.get(), req);
    return w;
  }
  // `count` watches of `domain`, each past its first message (admitted).
  std::vector<Watch> OpenStatsWatches(const std::string& domain, int count) {
    std::vector<Watch> open;
    for (int i = 0; i < count; ++i) {
      open.push_back(WatchStats(domain));
      v1::MemoryStats m;
      EXPECT_TRUE(open.back().reader->Read(&m)) << "watch " << i << " was not admitted";
    }
    return open;
  }
  // How one more watch of `domain` ended, expected refused before its first message.
  grpc::Status RefusedStatsWatch(const std::string& domain) {
    Watch extra = WatchStats(domain);
    v1::MemoryStats m;
    EXPECT_FALSE(extra.reader->Read(&m));
    return extra.reader->Finish();
  }

  ReadService service_;
  std::unique_ptr<v1::BalloonReadService::Stub> stub_;
};

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_AGENT_API_READ_SERVICE_FIXTURE_H_
