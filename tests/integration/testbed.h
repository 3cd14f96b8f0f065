#ifndef BALLOOND_TESTS_INTEGRATION_TESTBED_H_
#define BALLOOND_TESTS_INTEGRATION_TESTBED_H_

// What integration tests stand on: a real libvirtd (qemu:///system), real TCG guests built by
// tests/guest/build-guest.sh, the real balloond and balloonctl binaries as child processes.

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "balloon/v1/balloon.grpc.pb.h"

namespace balloond::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv to completion (killed after `timeout`), capturing its output.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration timeout = absl::Seconds(60));
CommandResult Virsh(const std::vector<std::string>& args);

// Polls `done` every 100 ms until it returns true or `timeout` passes.
bool WaitFor(const std::function<bool()>& done, absl::Duration timeout);

struct GuestSpec {
  std::string name;  // a prefix is added so leftovers of a crashed run are recognisable
  int memory_mib = 512;
  bool balloon = true;
  // <stats period='N'/> in the XML; 0 leaves it out, so the agent has to switch polling on.
  int stats_period = 0;
  // Started paused: QEMU and its monitor run, the guest kernel does not (fast, ~48 MiB each).
  bool paused = false;
  // A virtio-rng device (its backend object lives under /objects, reachable through a link<>).
  bool rng = false;
  // More attributes of <memballoon>, e.g. " autodeflate='on'".
  std::string balloon_attributes;
  // A read-only virtio disk (the guest's /dev/vda, 1 GiB): real page cache for the guest's hot and
  // cold commands.
  bool disk = false;
  // A virtio-mem device of this size (2 MiB blocks, nothing plugged at start) on the guest's one
  // NUMA node; 0 for none. The guest onlines what is plugged as movable memory (so that it can be
  // unplugged again) unless online_movable is false: then the kernel onlines it as normal memory,
  // which it may not give back.
  int virtio_mem_mib = 0;
  bool online_movable = true;
  // <memoryBacking><nosharepages/>: its QEMU keeps its memory out of KSM.
  bool nosharepages = false;
};

// A 512 MiB guest that boots and answers on its console; its XML has a balloon without a stats
// period.
GuestSpec BootedGuest(const std::string& name, int memory_mib = 512);
// A 128 MiB domain started paused: its QEMU and monitor answer, its kernel never runs.
GuestSpec PausedGuest(const std::string& name, bool balloon = true);

// A transient libvirt domain running the test guest; destroyed when this goes away.
class Guest {
 public:
  explicit Guest(const GuestSpec& spec);
  ~Guest();
  Guest(const Guest&) = delete;
  Guest& operator=(const Guest&) = delete;

  const std::string& name() const { return name_; }
  // Sends one command to the guest's /init over the serial console and returns its output;
  // empty if the guest did not answer "OK <cmd>" in time.
  std::string Command(const std::string& command, absl::Duration timeout = absl::Seconds(30));
  // MemTotal from the guest's /proc/meminfo, in KiB; -1 if unreadable.
  int64_t MemTotalKiB();
  // libvirt's view: `virsh dominfo` "Used memory" in KiB.
  int64_t UsedMemoryKiB();
  pid_t QemuPid() const;
  void Destroy();

 private:
  bool ConnectConsole(absl::Duration timeout);

  std::string name_;
  std::string console_path_;
  int console_fd_ = -1;
  std::string console_buffer_;
  bool destroyed_ = false;
};

// Stops libvirtd (SIGTERM; its guests keep running) and starts it again, waiting in between until
// it is gone. `while_down` runs while it is stopped.
void RestartLibvirtd(const std::function<void()>& while_down);

// Removes domains left over by a crashed earlier run.
void DestroyLeftoverGuests();

// balloond running as a child process on sockets of its own.
class Agent {
 public:
  // `state_dir`: where the policy is saved; a fresh one when empty. Pass the same one to a second
  // Agent to restart balloond.
  // `run_as`: a command balloond is started under (e.g. setpriv to drop privileges); its directory
  // is then open to every user.
  explicit Agent(std::vector<std::string> extra_args = {}, std::string state_dir = "",
                 std::vector<std::string> run_as = {});
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // True once the agent's health answers SERVING.
  bool WaitServing(absl::Duration timeout = absl::Seconds(20));
  std::string HealthStatus();
  // SIGTERM, then SIGKILL after 10 s; the wait status.
  int Stop();
  // Stop, then balloond again with the same arguments, sockets and state (its log goes on).
  void Restart();
  // Still running (not exited).
  bool Running();

  // Lets every user reach the read-only socket (its directory is private to root otherwise).
  void OpenToAllUsers();
  pid_t pid() const { return pid_; }
  // The port of --listen-tls as balloond logged it (it may have been asked for port 0); -1 if none.
  int TlsPort(absl::Duration timeout = absl::Seconds(10)) const;
  // The same for --metrics-address.
  int MetricsPort(absl::Duration timeout = absl::Seconds(10)) const;
  const std::string& dir() const { return dir_; }
  const std::string& rw_socket() const { return rw_socket_; }
  const std::string& ro_socket() const { return ro_socket_; }
  const std::string& state_dir() const { return state_dir_; }
  balloon::v1::BalloonReadService::Stub& read() { return *read_; }
  balloon::v1::BalloonReadService::Stub& read_only() { return *read_only_; }
  balloon::v1::BalloonControlService::Stub& control() { return *control_; }
  balloon::v1::BalloonControlService::Stub& control_on_read_only_socket() { return *control_ro_; }
  std::string Log() const;

  // balloonctl against this agent's read-write socket.
  CommandResult Ctl(std::vector<std::string> args,
                    absl::Duration timeout = absl::Seconds(90)) const;

 private:
  int LoggedPort(absl::string_view marker, absl::Duration timeout) const;
  // Starts balloond; its output goes to the log, opened with `log_flag` (O_TRUNC or O_APPEND).
  void Launch(int log_flag);

  std::string dir_;
  std::string rw_socket_, ro_socket_, log_path_, state_dir_;
  std::vector<std::string> argv_;
  pid_t pid_ = -1;
  int exit_status_ = -1;
  std::unique_ptr<balloon::v1::BalloonReadService::Stub> read_, read_only_;
  std::unique_ptr<balloon::v1::BalloonControlService::Stub> control_, control_ro_;
};

// What a process holds: its resident memory, its open descriptors, its threads.
int64_t RssKiB(pid_t pid);
int OpenFds(pid_t pid);
int Threads(pid_t pid);

// The service manager's end of $NOTIFY_SOCKET: a datagram socket collecting what balloond sends.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path);
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;
  // The next message, or "" after `timeout`.
  std::string Receive(absl::Duration timeout);
  // How many messages containing `text` arrive within `window`.
  int Count(const std::string& text, absl::Duration window);

 private:
  std::string path_;
  int fd_ = -1;
};

// Sets environment variables for the agents started in its lifetime.
class ScopedEnv {
 public:
  explicit ScopedEnv(std::vector<std::pair<std::string, std::string>> vars);
  ~ScopedEnv();

 private:
  std::vector<std::pair<std::string, std::string>> vars_;
};

// A UNIX socket that accepts connections and never answers them: a libvirtd that is hung.
class SilentSocket {
 public:
  explicit SilentSocket(const std::string& path);
  ~SilentSocket();
  SilentSocket(const SilentSocket&) = delete;
  SilentSocket& operator=(const SilentSocket&) = delete;
  const std::string& path() const { return path_; }
  // Connections accepted so far.
  int accepted() const;

 private:
  std::string path_;
  int fd_ = -1;
  int wake_[2] = {-1, -1};
  mutable std::mutex mu_;
  std::vector<int> connections_;
  std::thread loop_;
};

// The body of an HTTP/1.0 GET of http://HOST:PORT/PATH (HOST an IPv4 address); empty unless the
// answer was 200.
std::string HttpGet(const std::string& host, int port, const std::string& path);
// Percent-encodes `text` for a URL's query.
std::string UrlEncode(absl::string_view text);

// Certificates made with the openssl command, as an operator would, in a directory of their own.
class TestPki {
 public:
  struct Files {
    std::string cert;
    std::string key;
  };
  TestPki();
  ~TestPki();
  // A self-signed CA; its certificate is dir()/NAME.crt.
  Files Ca(const std::string& name, const std::string& common_name);
  // A certificate signed by `ca`, valid for `days` (negative: already expired), with `san`
  // ("DNS:localhost,URI:spiffe://...") if given.
  Files Leaf(const std::string& name, const Files& ca, const std::string& subject,
             const std::string& san = "", int days = 30);
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

// A client context with a deadline `timeout` from now.
std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration timeout = absl::Seconds(10));

// The domain's balloon size as the agent reports it; -1 when it cannot say.
int64_t BalloonActual(Agent& agent, const std::string& domain);

// The policy's decisions on the domain as the agent lists them (its newest 1000, oldest first);
// none when it cannot say.
std::vector<balloon::v1::Decision> Decisions(Agent& agent, const std::string& domain);

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_INTEGRATION_TESTBED_H_
