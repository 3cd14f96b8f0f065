#include "tests/integration/testbed.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace balloond::testing {
namespace {

constexpr const char* kGuestPrefix = "bdtest-";
constexpr const char* kConsoleDir = "/run/balloond-test";

std::string GuestImageDir() {
  const char* dir = std::getenv("BALLOOND_GUEST_DIR");
  return dir ? dir : "/var/lib/libvirt/images/balloond";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string DomainXml(const std::string& name, const GuestSpec& spec, const std::string& console) {
  const std::string images = GuestImageDir();
  std::string balloon = "<memballoon model='none'/>";
  if (spec.balloon) {
    balloon = absl::StrCat(
        "<memballoon model='virtio'", spec.balloon_attributes, ">",
        spec.stats_period > 0 ? absl::StrCat("<stats period='", spec.stats_period, "'/>") : "",
        "</memballoon>");
  }
  // virtio-mem needs room for hot-plugged memory (maxMemory) and a NUMA node to plug it into.
  const bool hotplug = spec.virtio_mem_mib > 0;
  const std::string hotplug_domain =
      hotplug ? absl::StrCat("<maxMemory slots='4' unit='MiB'>",
                             spec.memory_mib + spec.virtio_mem_mib + 1024,
                             "</maxMemory><cpu><numa><cell id='0' cpus='0' memory='",
                             spec.memory_mib, "' unit='MiB'/></numa></cpu>")
              : "";
  const std::string hotplug_device =
      hotplug
          ? absl::StrCat("<memory model='virtio-mem'><target><size unit='MiB'>",
                         spec.virtio_mem_mib, "</size><node>0</node><block unit='MiB'>2</block>",
                         "<requested unit='MiB'>0</requested></target></memory>")
          : "";
  return absl::StrCat(
      "<domain type='qemu'><name>", name, "</name>", "<memory unit='MiB'>", spec.memory_mib,
      "</memory>", hotplug_domain,
      spec.nosharepages ? "<memoryBacking><nosharepages/></memoryBacking>" : "", "<vcpu>1</vcpu>",
      "<os><type arch='x86_64' machine='pc'>hvm</type>", "<kernel>", images,
      "/vmlinuz</kernel><initrd>", images, "/initrd.gz</initrd>",
      "<cmdline>console=ttyS0 panic=-1 quiet",
      hotplug && spec.online_movable ? " memhp_default_state=online_movable"
      : hotplug                      ? " memhp_default_state=online"
                                     : "",
      "</cmdline></os>", "<on_reboot>destroy</on_reboot><on_crash>destroy</on_crash><devices>",
      "<serial type='unix'><source mode='bind' path='", console, "'/></serial>", balloon,
      spec.rng ? "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>" : "",
      // Shared by every guest that has one, read-only, and readable by QEMU as it is: not
      // relabelled, so one guest's end does not take it from another.
      spec.disk ? absl::StrCat("<disk type='file' device='disk'><driver name='qemu' type='raw'/>",
                               "<source file='", images, "/disk.img'><seclabel model='dac' ",
                               "relabel='no'/></source><target dev='vda' bus='virtio'/>",
                               "<readonly/></disk>")
                : "",
      hotplug_device, "</devices></domain>");
}

}  // namespace

CommandResult RunCommand(const std::vector<std::string>& argv, absl::Duration timeout) {
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    execvp(args[0], args.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  CommandResult result;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  const absl::Time deadline = absl::Now() + timeout;
  int open_fds = 2;
  while (open_fds > 0 && absl::Now() < deadline) {
    if (poll(fds, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      char buf[4096];
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? result.out : result.err).append(buf, n);
      }
    }
  }
  if (open_fds > 0) kill(pid, SIGKILL);
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

CommandResult Virsh(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"virsh", "-q", "-c", "qemu:///system"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv);
}

bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return done();
}

GuestSpec BootedGuest(const std::string& name, int memory_mib) {
  GuestSpec spec;
  spec.name = name;
  spec.memory_mib = memory_mib;
  return spec;
}

GuestSpec PausedGuest(const std::string& name, bool balloon) {
  GuestSpec spec;
  spec.name = name;
  spec.memory_mib = 128;
  spec.balloon = balloon;
  spec.paused = true;
  return spec;
}

void RestartLibvirtd(const std::function<void()>& while_down) {
  const bool systemd = access("/run/systemd/system", F_OK) == 0;
  if (systemd) {
    RunCommand({"systemctl", "stop", "libvirtd.service"});
  } else {
    RunCommand({"pkill", "-TERM", "-x", "libvirtd"});
    WaitFor(
        [] {
          return RunCommand({"pgrep", "-x", "libvirtd"}).exit_code != 0;
        },
        absl::Seconds(20));
  }
  while_down();
  if (systemd) {
    RunCommand({"systemctl", "start", "libvirtd.service"});
  } else {
    RunCommand({"/usr/sbin/libvirtd", "-d"});
  }
  WaitFor([] { return Virsh({"version"}).exit_code == 0; }, absl::Seconds(20));
}

void DestroyLeftoverGuests() {
  CommandResult list = Virsh({"list", "--name"});
  for (absl::string_view name : absl::StrSplit(list.out, '\n', absl::SkipWhitespace())) {
    if (absl::StartsWith(name, kGuestPrefix)) Virsh({"destroy", std::string(name)});
  }
}

Guest::Guest(const GuestSpec& spec) : name_(absl::StrCat(kGuestPrefix, spec.name)) {
  mkdir(kConsoleDir, 0777);
  chmod(kConsoleDir, 0777);  // QEMU runs as libvirt-qemu and creates the console socket here
  console_path_ = absl::StrCat(kConsoleDir, "/", name_, ".sock");
  unlink(console_path_.c_str());
  const std::string xml_path = absl::StrCat(kConsoleDir, "/", name_, ".xml");
  std::ofstream(xml_path) << DomainXml(name_, spec, console_path_);
  std::vector<std::string> args = {"create", xml_path};
  if (spec.paused) args.push_back("--paused");
  CommandResult r = Virsh(args);
  if (r.exit_code != 0) {
    throw std::runtime_error(absl::StrCat("virsh create ", name_, " failed: ", r.err,
                                          " (did tests/run.sh build the guest into ",
                                          GuestImageDir(), "?)"));
  }
  if (!spec.paused && !ConnectConsole(absl::Seconds(60))) {
    throw std::runtime_error(absl::StrCat("guest ", name_, " did not boot: ", console_buffer_));
  }
}

Guest::~Guest() {
  Destroy();
  if (console_fd_ >= 0) close(console_fd_);
}

void Guest::Destroy() {
  if (destroyed_) return;
  destroyed_ = true;
  Virsh({"destroy", name_});
}

bool Guest::ConnectConsole(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, console_path_.c_str(), sizeof(addr.sun_path) - 1);
  while (console_fd_ < 0 && absl::Now() < deadline) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      console_fd_ = fd;
    } else {
      close(fd);
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
  while (absl::Now() < deadline) {
    if (console_buffer_.find("BALLOOND-GUEST-READY") != std::string::npos) {
      console_buffer_.clear();
      return true;
    }
    pollfd p{console_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = read(console_fd_, buf, sizeof(buf));
      if (n <= 0) return false;
      console_buffer_.append(buf, n);
    }
  }
  return false;
}

std::string Guest::Command(const std::string& command, absl::Duration timeout) {
  if (console_fd_ < 0) return "";
  const std::string line = command + "\n";
  if (write(console_fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) return "";
  const std::string verb = command.substr(0, command.find(' '));
  const std::string done = "OK " + verb + "\n";
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (size_t at = console_buffer_.find(done); at != std::string::npos) {
      std::string out = console_buffer_.substr(0, at);
      console_buffer_.erase(0, at + done.size());
      return out;
    }
    pollfd p{console_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[4096];
      const ssize_t n = read(console_fd_, buf, sizeof(buf));
      if (n <= 0) break;
      console_buffer_.append(buf, n);
    }
  }
  return "";
}

int64_t Guest::MemTotalKiB() {
  for (absl::string_view line : absl::StrSplit(Command("meminfo"), '\n')) {
    if (!absl::ConsumePrefix(&line, "MemTotal:")) continue;
    int64_t kib = -1;
    absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line), " kB"), &kib);
    return kib;
  }
  return -1;
}

int64_t Guest::UsedMemoryKiB() {
  for (absl::string_view line : absl::StrSplit(Virsh({"dominfo", name_}).out, '\n')) {
    if (!absl::ConsumePrefix(&line, "Used memory:")) continue;
    int64_t kib = -1;
    absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(line), " KiB"), &kib);
    return kib;
  }
  return -1;
}

pid_t Guest::QemuPid() const {
  int pid = -1;
  absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile("/run/libvirt/qemu/" + name_ + ".pid")),
                   &pid);
  return pid;
}

Agent::Agent(std::vector<std::string> extra_args, std::string state_dir,
             std::vector<std::string> run_as) {
  char tmpl[] = "/tmp/balloond-test-XXXXXX";
  dir_ = mkdtemp(tmpl);
  if (!run_as.empty()) chmod(dir_.c_str(), 01777);
  state_dir_ = state_dir.empty() ? dir_ + "/state" : state_dir;
  rw_socket_ = dir_ + "/balloond.sock";
  ro_socket_ = dir_ + "/balloond-ro.sock";
  log_path_ = dir_ + "/balloond.log";
  std::vector<std::string> argv = {BALLOOND_BIN, "--listen=unix:" + rw_socket_,
                                   "--listen-ro=unix:" + ro_socket_, "--state-dir=" + state_dir_};
  // Tests run at a 1 s period unless they ask for another.
  if (std::none_of(extra_args.begin(), extra_args.end(),
                   [](const std::string& a) { return absl::StartsWith(a, "--stats-period"); })) {
    argv.push_back("--stats-period=1s");
  }
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  argv.insert(argv.begin(), run_as.begin(), run_as.end());
  argv_ = std::move(argv);
  Launch(O_TRUNC);
  auto rw = grpc::CreateChannel("unix:" + rw_socket_, grpc::InsecureChannelCredentials());
  auto ro = grpc::CreateChannel("unix:" + ro_socket_, grpc::InsecureChannelCredentials());
  read_ = balloon::v1::BalloonReadService::NewStub(rw);
  control_ = balloon::v1::BalloonControlService::NewStub(rw);
  read_only_ = balloon::v1::BalloonReadService::NewStub(ro);
  control_ro_ = balloon::v1::BalloonControlService::NewStub(ro);
}

void Agent::Launch(int log_flag) {
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | log_flag, 0644);
    dup2(log, 1);
    dup2(log, 2);
    execvp(args[0], args.data());
    _exit(127);
  }
}

void Agent::Restart() {
  Stop();
  Launch(O_APPEND);
}

Agent::~Agent() { Stop(); }

int Agent::Stop() {
  if (!Running()) return exit_status_;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitFor([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, absl::Seconds(10))) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  return status;
}

bool Agent::Running() {
  if (pid_ > 0 && waitpid(pid_, &exit_status_, WNOHANG) == pid_) pid_ = -1;
  return pid_ > 0;
}

void Agent::OpenToAllUsers() { chmod(dir_.c_str(), 0755); }

std::string Agent::HealthStatus() {
  auto channel = grpc::CreateChannel("unix:" + rw_socket_, grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest req;
  grpc::health::v1::HealthCheckResponse resp;
  auto ctx = Deadline(absl::Seconds(2));
  grpc::Status s = health->Check(ctx.get(), req, &resp);
  if (!s.ok()) return "error: " + s.error_message();
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(resp.status());
}

bool Agent::WaitServing(absl::Duration timeout) {
  return WaitFor([&] { return HealthStatus() == "SERVING"; }, timeout);
}

std::string Agent::Log() const { return ReadFile(log_path_); }

CommandResult Agent::Ctl(std::vector<std::string> args, absl::Duration timeout) const {
  std::vector<std::string> argv = {BALLOONCTL_BIN, "--socket=" + rw_socket_};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, timeout);
}

int Agent::LoggedPort(absl::string_view marker, absl::Duration timeout) const {
  int port = -1;
  WaitFor(
      [&] {
        for (absl::string_view line : absl::StrSplit(Log(), '\n')) {
          const size_t at = line.find(marker);
          if (at == absl::string_view::npos) continue;
          absl::string_view rest = line.substr(at + marker.size());
          rest = rest.substr(0, rest.find_first_of(" /"));
          return absl::SimpleAtoi(rest.substr(rest.rfind(':') + 1), &port);
        }
        return false;
      },
      timeout);
  return port;
}

int Agent::TlsPort(absl::Duration timeout) const { return LoggedPort("TLS listener on ", timeout); }

int Agent::MetricsPort(absl::Duration timeout) const {
  return LoggedPort("metrics on http://", timeout);
}

std::string HttpGet(const std::string& host, int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  std::string response;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", host, "\r\nConnection: close\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) response.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") > response.find("\r\n")) {
    return "";
  }
  return body == std::string::npos ? "" : response.substr(body + 4);
}

std::string UrlEncode(absl::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += absl::StrFormat("%%%02X", c);
    }
  }
  return out;
}

TestPki::TestPki() {
  char tmpl[] = "/tmp/balloond-pki-XXXXXX";
  dir_ = mkdtemp(tmpl);
}

TestPki::~TestPki() { RunCommand({"rm", "-rf", dir_}); }

TestPki::Files TestPki::Ca(const std::string& name, const std::string& common_name) {
  Files f{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  CommandResult r = RunCommand({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", f.key, "-out",
                                f.cert, "-days", "30", "-subj", "/CN=" + common_name});
  if (r.exit_code != 0) throw std::runtime_error("openssl req -x509 failed: " + r.err);
  return f;
}

TestPki::Files TestPki::Leaf(const std::string& name, const Files& ca, const std::string& subject,
                             const std::string& san, int days) {
  Files f{dir_ + "/" + name + ".crt", dir_ + "/" + name + ".key"};
  const std::string csr = dir_ + "/" + name + ".csr";
  CommandResult r =
      RunCommand({"openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-keyout", f.key, "-out", csr, "-subj", subject});
  if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
  std::vector<std::string> sign = {"openssl", "x509",
                                   "-req",    "-in",
                                   csr,       "-CA",
                                   ca.cert,   "-CAkey",
                                   ca.key,    "-CAcreateserial",
                                   "-out",    f.cert,
                                   "-days",   std::to_string(days)};
  if (!san.empty()) {
    const std::string ext = dir_ + "/" + name + ".ext";
    std::ofstream(ext) << "subjectAltName=" << san << "\n";
    sign.insert(sign.end(), {"-extfile", ext});
  }
  r = RunCommand(sign);
  if (r.exit_code != 0) throw std::runtime_error("openssl x509 -req failed: " + r.err);
  return f;
}

int64_t BalloonActual(Agent& agent, const std::string& domain) {
  balloon::v1::GetMemoryStatsRequest req;
  req.set_domain(domain);
  balloon::v1::MemoryStats resp;
  if (!agent.read().GetMemoryStats(Deadline().get(), req, &resp).ok()) return -1;
  return resp.domain().balloon_actual_bytes();
}

std::vector<balloon::v1::Decision> Decisions(Agent& agent, const std::string& domain) {
  balloon::v1::ListDecisionsRequest req;
  req.set_domain(domain);
  // Pages come newest first, each oldest first: the newest 1000, oldest first, are the pages'
  // decisions in reverse page order.
  std::vector<std::vector<balloon::v1::Decision>> pages;
  size_t listed = 0;
  while (listed < 1000) {
    balloon::v1::ListDecisionsResponse page;
    if (!agent.read().ListDecisions(Deadline().get(), req, &page).ok()) break;
    listed += static_cast<size_t>(page.decisions_size());
    pages.emplace_back(page.decisions().begin(), page.decisions().end());
    if (page.next_page_token().empty()) break;
    req.set_page_token(page.next_page_token());
  }
  std::vector<balloon::v1::Decision> out;
  for (auto page = pages.rbegin(); page != pages.rend(); ++page) {
    out.insert(out.end(), page->begin(), page->end());
  }
  return out;
}

std::unique_ptr<grpc::ClientContext> Deadline(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

}  // namespace balloond::testing

namespace balloond::testing {

NotifySocket::NotifySocket(const std::string& path) : path_(path) {
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  unlink(path.c_str());
  bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
}

NotifySocket::~NotifySocket() {
  close(fd_);
  unlink(path_.c_str());
}

std::string NotifySocket::Receive(absl::Duration timeout) {
  timeval tv{static_cast<time_t>(absl::ToInt64Seconds(timeout)),
             static_cast<suseconds_t>(absl::ToInt64Microseconds(timeout) % 1000000)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buffer[4096];
  const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
  return n > 0 ? std::string(buffer, n) : "";
}

int NotifySocket::Count(const std::string& text, absl::Duration window) {
  int seen = 0;
  const absl::Time end = absl::Now() + window;
  while (absl::Now() < end) {
    const std::string message = Receive(std::max(absl::Milliseconds(1), end - absl::Now()));
    if (absl::StrContains(message, text)) ++seen;
  }
  return seen;
}

ScopedEnv::ScopedEnv(std::vector<std::pair<std::string, std::string>> vars)
    : vars_(std::move(vars)) {
  for (const auto& [name, value] : vars_) setenv(name.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  for (const auto& [name, value] : vars_) unsetenv(name.c_str());
}

SilentSocket::SilentSocket(const std::string& path) : path_(path) {
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  unlink(path.c_str());
  if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      listen(fd_, 64) != 0 || pipe(wake_) != 0) {
    throw std::runtime_error("cannot listen on " + path);
  }
  chmod(path.c_str(), 0666);
  loop_ = std::thread([this] {
    for (;;) {
      pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 || fds[1].revents != 0) return;
      const int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      connections_.push_back(c);  // kept open, never read or answered
    }
  });
}

SilentSocket::~SilentSocket() {
  if (write(wake_[1], "x", 1) < 0) perror("write");
  loop_.join();
  for (int c : connections_) close(c);
  close(fd_);
  close(wake_[0]);
  close(wake_[1]);
  unlink(path_.c_str());
}

int SilentSocket::accepted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(connections_.size());
}

}  // namespace balloond::testing

namespace balloond::testing {

int64_t RssKiB(pid_t pid) {
  std::ifstream status(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(status, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "VmRSS:")) continue;
    int64_t kib = -1;
    absl::SimpleAtoi(absl::StripSuffix(absl::StripAsciiWhitespace(rest), " kB"), &kib);
    return kib;
  }
  return -1;
}

int OpenFds(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/fd"))) {
    ++n;
  }
  return n;
}

int Threads(pid_t pid) {
  int n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"))) {
    ++n;
  }
  return n;
}

}  // namespace balloond::testing
