#include "agent/api/unix_listener.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "balloon/v1/balloon.grpc.pb.h"
#include "tests/agent/base/temp_dir.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;
using ::testing::HasSubstr;

int Connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// True when the server closed the connection (read sees end of file) within a second.
bool ClosedByServer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 1000) <= 0) return false;
  char c;
  return read(fd, &c, 1) == 0;
}

// Answers ListDomains with the uid the listener saw behind the call.
class WhoAmI final : public v1::BalloonReadService::CallbackService {
 public:
  UnixListener* listener = nullptr;
  grpc::ServerUnaryReactor* ListDomains(grpc::CallbackServerContext* ctx,
                                        const v1::ListDomainsRequest*,
                                        v1::ListDomainsResponse* resp) override {
    auto uid = listener->PeerUid(ctx->peer());
    resp->add_domains()->set_name(uid ? absl::StrCat(*uid) : "unknown " + ctx->peer());
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class UnixListenerTest : public ::testing::Test {
 protected:
  UnixListenerTest() { path_ = dir_ + "/test.sock"; }
  ~UnixListenerTest() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }
  testing::TempDir temp_{"unix-listener-test"};
  std::string dir_ = temp_.path();
  std::string path_;
};

TEST_F(UnixListenerTest, TellsTheUserBehindACallAndSetsTheMode) {
  auto listener = UnixListener::Bind({path_, 0640, 8}, RealClock());
  ASSERT_TRUE(listener.ok()) << listener.status();
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  WhoAmI service;
  service.listener = listener->get();
  grpc::ServerBuilder builder;
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  (*listener)->Start(server.get());

  auto stub = v1::BalloonReadService::NewStub(
      grpc::CreateChannel("unix:" + path_, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::ListDomainsResponse resp;
  grpc::Status s = stub->ListDomains(&ctx, {}, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.domains(0).name(), absl::StrCat(getuid()));
  EXPECT_EQ((*listener)->OpenConnections(), 1);

  (*listener)->Stop();
  server->Shutdown();
  EXPECT_NE(access(path_.c_str(), F_OK), 0) << "Stop removes the socket file";
}

// One user cannot take every connection: past its own cap, its connections are closed, while
// another user still gets in (as a child process under uid 65534, "nobody").
TEST_F(UnixListenerTest, OneUserPastItsCapIsRefusedWhileAnotherGetsIn) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  auto listener = UnixListener::Bind({path_, 0666, 16, 2}, RealClock());
  ASSERT_TRUE(listener.ok()) << listener.status();
  chmod(dir_.c_str(), 0755);
  grpc::ServerBuilder builder;
  WhoAmI service;
  service.listener = listener->get();
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  (*listener)->Start(server.get());

  const int a = Connect(path_), b = Connect(path_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  for (int i = 0; i < 100 && (*listener)->OpenConnections() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int c = Connect(path_);
  ASSERT_GE(c, 0);
  EXPECT_TRUE(ClosedByServer(c)) << "a third connection of the same user";

  // Another user's connection is kept open (the child does nothing but connect and wait: it is a
  // fork of a process with gRPC's threads).
  const pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(2);
    const int fd = Connect(path_);
    _exit(fd >= 0 && !ClosedByServer(fd) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  for (int fd : {a, b, c}) close(fd);
  (*listener)->Stop();
  server->Shutdown();
}

TEST_F(UnixListenerTest, ConnectionsPastTheCapAreClosedAndClosedOnesFreeTheirPlace) {
  auto listener = UnixListener::Bind({path_, 0600, 2}, RealClock());
  ASSERT_TRUE(listener.ok()) << listener.status();
  grpc::ServerBuilder builder;
  WhoAmI service;
  service.listener = listener->get();
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  (*listener)->Start(server.get());

  const int a = Connect(path_), b = Connect(path_);
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  for (int i = 0; i < 100 && (*listener)->OpenConnections() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const int c = Connect(path_);
  ASSERT_GE(c, 0);  // the kernel accepts it into the backlog; balloond closes it
  EXPECT_TRUE(ClosedByServer(c));
  close(c);
  EXPECT_FALSE(ClosedByServer(a)) << "open connections are left alone";

  close(a);  // gRPC closes its end, and the place is free again
  bool admitted = false;
  for (int i = 0; i < 100 && !admitted; ++i) {
    absl::SleepFor(absl::Milliseconds(20));
    const int d = Connect(path_);
    admitted = !ClosedByServer(d);
    close(d);
  }
  EXPECT_TRUE(admitted);
  close(b);
  (*listener)->Stop();
  server->Shutdown();
}

TEST_F(UnixListenerTest, AStaleSocketIsReplacedAndALiveOneRefused) {
  {
    auto first = UnixListener::Bind({path_, 0600, 2}, RealClock());
    ASSERT_TRUE(first.ok());
    auto second = UnixListener::Bind({path_, 0600, 2}, RealClock());
    EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
    EXPECT_THAT(std::string(second.status().message()), HasSubstr("listening on"));
  }
  // A crashed balloond leaves its socket file behind, with nobody listening.
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  EXPECT_TRUE(UnixListener::Bind({path_, 0600, 2}, RealClock()).ok());

  unlink(path_.c_str());
  close(open(path_.c_str(), O_CREAT | O_WRONLY, 0600));  // a regular file is not ours to remove
  auto file = UnixListener::Bind({path_, 0600, 2}, RealClock());
  EXPECT_EQ(file.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(file.status().message()), HasSubstr("not a socket"));
}

}  // namespace
}  // namespace balloond
