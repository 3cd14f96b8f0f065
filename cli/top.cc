#include "cli/top.h"

#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "balloon/v1/balloon.grpc.pb.h"
#include "cli/client.h"
#include "cli/format.h"
#include "cli/table.h"
#include "policy/durations.h"
#include "policy/enum_names.h"
#include "policy/sizes.h"

namespace balloond {
namespace {

namespace v1 = balloon::v1;

const std::vector<std::string> kHeader = {"NAME",        "ACTUAL",      "MAX",
                                          "AVAILABLE",   "PRESSURE",    "AGE",
                                          "WORKING SET", "RECLAIMABLE", "DECISION"};
// On a narrow terminal these go first, in this order (kHeader's indices): what a glance at top
// needs is who, how big, what could be reclaimed and what the policy does about it.
constexpr size_t kLeastNeededFirst[] = {5, 2, 6, 4, 1, 3};

// The width of a table of these columns: each padded to its widest cell, two spaces between.
size_t TableWidth(const std::vector<size_t>& widths, const std::vector<bool>& shown) {
  size_t total = 0, count = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    if (shown[i]) total += widths[i], ++count;
  }
  return total + (count > 0 ? 2 * (count - 1) : 0);
}

}  // namespace

void TopView::SetDomains(const v1::ListDomainsResponse& list) {
  std::set<std::string> running;
  for (const v1::Domain& d : list.domains()) {
    running.insert(d.uuid());
    rows_[d.uuid()].domain = d;
    rows_[d.uuid()].working_set = FormatWorkingSet(d, absl::Now());
    rows_[d.uuid()].reclaimable =
        d.has_reclaimable_bytes() ? FormatBytes(d.reclaimable_bytes()) : "-";
  }
  for (auto it = rows_.begin(); it != rows_.end();) {
    it = running.count(it->first) ? std::next(it) : rows_.erase(it);
  }
}

void TopView::Update(const v1::MemoryStats& stats) {
  Row& row = rows_[stats.domain().uuid()];
  row.domain = stats.domain();
  // A new report moves the last one back; the same report again (a re-read) changes nothing.
  if (row.stats && row.stats->last_update_time().seconds() != stats.last_update_time().seconds()) {
    row.previous = row.stats;
  }
  row.stats = stats;
}

void TopView::Update(const v1::Decision& decision) {
  auto it = rows_.find(decision.uuid());
  if (it != rows_.end()) it->second.decision = decision;
}

std::vector<std::string> TopView::Cells(const Row& row) const {
  std::string available = "-", pressure = "-", age = "-";
  if (row.stats && row.stats->guest().has_available_memory_bytes()) {
    const v1::GuestMemoryStats& g = row.stats->guest();
    available = FormatBytes(g.available_memory_bytes());
    if (g.has_total_memory_bytes() && g.total_memory_bytes() > 0) {
      absl::StrAppend(&available, absl::StrFormat(" (%d%%)", 100 * g.available_memory_bytes() /
                                                                 g.total_memory_bytes()));
    }
  }
  if (row.stats && row.stats->has_last_update_time()) {
    age = absl::StrCat(row.stats->stats_age().seconds(), "s");
  }
  if (row.stats && row.previous) {
    const v1::GuestMemoryStats &now = row.stats->guest(), &before = row.previous->guest();
    const double seconds =
        absl::ToDoubleSeconds(FromProtoTimestamp(row.stats->last_update_time()) -
                              FromProtoTimestamp(row.previous->last_update_time()));
    if (seconds > 0) {
      const double faults = (now.major_faults() - before.major_faults()) / seconds;
      const double swap_in = (now.swap_in_bytes() - before.swap_in_bytes()) / seconds;
      pressure = faults < 1 && swap_in < 1024
                     ? "none"
                     : absl::StrFormat("%.0f flt/s, %s/s in", faults, FormatBytes(swap_in));
    }
  }
  std::string decision = "-";
  if (row.decision) {
    decision = absl::StrCat(ShortName(row.decision->reason()), " -> ",
                            FormatBytes(row.decision->target_bytes()));
    if (row.decision->mode() == v1::POLICY_MODE_OBSERVE) absl::StrAppend(&decision, " (observed)");
    if (row.decision->mode() == v1::POLICY_MODE_ENFORCE && !row.decision->applied()) {
      absl::StrAppend(&decision, " (not applied)");
    }
  }
  const v1::Domain& d = row.domain;
  return {d.name(),
          d.has_balloon_actual_bytes() ? FormatBytes(d.balloon_actual_bytes()) : "-",
          FormatBytes(d.max_memory_bytes()),
          available,
          pressure,
          age,
          row.working_set,
          row.reclaimable,
          d.problem().empty() ? decision : d.problem()};
}

std::vector<std::string> TopView::Render(size_t rows, size_t columns) const {
  std::vector<std::vector<std::string>> table = {kHeader};
  std::map<std::string, std::vector<std::string>> by_name;
  for (const auto& [uuid, row] : rows_) by_name[row.domain.name() + uuid] = Cells(row);
  for (auto& [name, cells] : by_name) table.push_back(std::move(cells));
  std::vector<size_t> widths(kHeader.size(), 0);
  for (const auto& cells : table) {
    for (size_t i = 0; i < cells.size(); ++i) widths[i] = std::max(widths[i], cells[i].size());
  }
  std::vector<bool> shown(kHeader.size(), true);
  std::vector<std::string> hidden;
  for (size_t column : kLeastNeededFirst) {
    if (TableWidth(widths, shown) <= columns) break;
    shown[column] = false;
    hidden.push_back(kHeader[column]);
  }

  std::vector<std::string> lines;
  if (host_) {
    std::string psi;
    if (host_->has_pressure()) {
      psi = absl::StrFormat(", memory pressure some %.1f%% full %.1f%% (avg10)",
                            host_->pressure().some().avg10(), host_->pressure().full().avg10());
    }
    lines.push_back(absl::StrCat("host: ", FormatBytes(host_->mem_available_bytes()),
                                 " available of ", FormatBytes(host_->mem_total_bytes()), psi, "; ",
                                 rows_.size(), " domains"));
  } else {
    lines.push_back(absl::StrCat(rows_.size(), " domains"));
  }
  if (!hidden.empty()) {
    // First, so that a narrow terminal still shows it.
    lines.back() =
        absl::StrCat("[too narrow for ", absl::StrJoin(hidden, ", "), "] ", lines.back());
  }
  for (auto& cells : table) {
    if (lines.size() >= rows) break;
    std::vector<std::string> kept;
    std::vector<size_t> kept_widths;
    for (size_t i = 0; i < cells.size(); ++i) {
      if (!shown[i]) continue;
      kept.push_back(std::move(cells[i]));
      kept_widths.push_back(widths[i]);
    }
    kept_widths.back() = 0;  // the last column is not padded
    lines.push_back(FormatRow(kept, kept_widths));
  }
  return lines;
}

std::string TopView::Line(const std::string& uuid, absl::TimeZone zone) const {
  auto it = rows_.find(uuid);
  if (it == rows_.end()) return "";
  std::vector<std::string> cells = Cells(it->second);
  std::string line = absl::FormatTime("%H:%M:%S", absl::Now(), zone);
  for (size_t i = 0; i < cells.size(); ++i) absl::StrAppend(&line, "  ", kHeader[i], "=", cells[i]);
  return line;
}

namespace {

std::atomic<bool> interrupted{false};
void OnInterrupt(int) { interrupted = true; }

// The terminal in full-screen mode for as long as this lives: the alternate screen, no cursor, keys
// read one at a time without echo (Ctrl-C still interrupts).
class FullScreen {
 public:
  FullScreen() {
    if (tcgetattr(STDIN_FILENO, &saved_) == 0) {
      termios raw = saved_;
      raw.c_lflag &= ~(ICANON | ECHO);
      raw.c_cc[VMIN] = 0;
      raw.c_cc[VTIME] = 0;
      keys_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    std::cout << "\x1b[?1049h\x1b[?25l" << std::flush;
  }
  ~FullScreen() {
    if (keys_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    std::cout << "\x1b[?25h\x1b[?1049l" << std::flush;
  }
  // The terminal's size: rows and columns.
  static std::pair<size_t, size_t> Size() {
    winsize size{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) != 0 || size.ws_row == 0 || size.ws_col == 0) {
      return {24, 80};
    }
    return {size.ws_row, size.ws_col};
  }
  // Lines longer than the terminal is wide are cut: a wrapped line would scroll the top away.
  void Draw(const std::vector<std::string>& lines, size_t columns) const {
    std::string frame = "\x1b[H\x1b[2J";
    for (const std::string& line : lines) {
      absl::StrAppend(&frame, line.substr(0, columns), "\r\n");
    }
    absl::StrAppend(&frame, "(q to quit)");
    std::cout << frame << std::flush;
  }

 private:
  termios saved_{};
  bool keys_ = false;
};

// The watch streams behind the view, each on a thread of its own, cancelled together.
class Feeds {
 public:
  // More streams than one connection may hold (balloond's default cap is 64 per connection) are
  // not opened: domains beyond this are polled instead.
  static constexpr size_t kMaxStatsWatches = 48;

  Feeds(v1::BalloonReadService::Stub& stub, TopView& view, absl::Mutex& mu,
        std::function<void(const std::string& uuid)> changed)
      : stub_(stub), view_(view), mu_(mu), changed_(std::move(changed)) {}
  ~Feeds() {
    {
      absl::MutexLock lock(&contexts_mu_);
      stopping_ = true;
      for (auto* ctx : contexts_) ctx->TryCancel();
    }
    for (auto& t : threads_) t.join();
  }

  void WatchDecisions() {
    Start([this](grpc::ClientContext& ctx) {
      auto reader = stub_.WatchDecisions(&ctx, v1::WatchDecisionsRequest());
      v1::Decision d;
      while (reader->Read(&d)) {
        {
          absl::MutexLock lock(&mu_);
          view_.Update(d);
        }
        changed_(d.uuid());
      }
      reader->Finish();
    });
  }

  // Watches a domain's statistics; false when no stream is left for it.
  bool WatchStats(const std::string& uuid) {
    if (watched_.count(uuid)) return true;
    if (watched_.size() >= kMaxStatsWatches) return false;
    watched_.insert(uuid);
    Start([this, uuid](grpc::ClientContext& ctx) {
      v1::WatchMemoryStatsRequest req;
      req.set_domain(uuid);
      auto reader = stub_.WatchMemoryStats(&ctx, req);
      v1::MemoryStats s;
      while (reader->Read(&s)) {
        {
          absl::MutexLock lock(&mu_);
          view_.Update(s);
        }
        changed_(uuid);
      }
      reader->Finish();  // the domain went away, or top is ending
    });
    return true;
  }

 private:
  void Start(std::function<void(grpc::ClientContext&)> body) {
    threads_.emplace_back([this, body = std::move(body)] {
      grpc::ClientContext ctx;
      {
        absl::MutexLock lock(&contexts_mu_);
        if (stopping_) return;
        contexts_.insert(&ctx);
      }
      body(ctx);
      absl::MutexLock lock(&contexts_mu_);
      contexts_.erase(&ctx);
    });
  }

  v1::BalloonReadService::Stub& stub_;
  TopView& view_;
  absl::Mutex& mu_;
  std::function<void(const std::string&)> changed_;
  std::set<std::string> watched_;
  std::vector<std::thread> threads_;
  absl::Mutex contexts_mu_;
  bool stopping_ ABSL_GUARDED_BY(contexts_mu_) = false;
  std::set<grpc::ClientContext*> contexts_ ABSL_GUARDED_BY(contexts_mu_);
};

}  // namespace

int RunTop(const std::shared_ptr<grpc::Channel>& channel, absl::Duration refresh,
           const std::function<std::string(const grpc::Status&)>& explain) {
  auto stub = v1::BalloonReadService::NewStub(channel);
  const bool screen = isatty(STDOUT_FILENO);
  struct sigaction action {};
  action.sa_handler = OnInterrupt;  // no SA_RESTART: poll() returns at once
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  absl::Mutex mu;
  TopView view;
  std::atomic<bool> dirty{true};
  const absl::TimeZone zone = absl::LocalTimeZone();
  // Without a terminal, each update is a line of its own.
  auto changed = [&](const std::string& uuid) {
    dirty = true;
    if (screen) return;
    absl::MutexLock lock(&mu);
    const std::string line = view.Line(uuid, zone);
    if (!line.empty()) std::cout << line << std::endl;
  };
  std::optional<FullScreen> full_screen;
  if (screen) full_screen.emplace();
  bool keys = screen && isatty(STDIN_FILENO);
  grpc::Status failed;
  {
    Feeds feeds(*stub, view, mu, changed);
    feeds.WatchDecisions();
    while (!interrupted) {
      // The list and the host each round; a domain's statistics from its stream, or polled.
      v1::ListDomainsResponse list;
      v1::HostStats host;
      grpc::ClientContext host_ctx;
      host_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
      failed = ListAllPages<v1::ListDomainsRequest, v1::ListDomainsResponse>(
          [&stub](const v1::ListDomainsRequest& req, v1::ListDomainsResponse* page) {
            grpc::ClientContext list_ctx;
            list_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
            return stub->ListDomains(&list_ctx, req, page);
          },
          {}, &list);
      if (!failed.ok()) break;
      if (stub->GetHostStats(&host_ctx, {}, &host).ok()) {
        absl::MutexLock lock(&mu);
        view.SetHost(host);
      }
      {
        absl::MutexLock lock(&mu);
        view.SetDomains(list);
      }
      for (const v1::Domain& d : list.domains()) {
        if (feeds.WatchStats(d.uuid())) continue;
        v1::GetMemoryStatsRequest req;
        req.set_domain(d.uuid());
        v1::MemoryStats s;
        grpc::ClientContext ctx;
        ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
        if (stub->GetMemoryStats(&ctx, req, &s).ok()) {
          absl::MutexLock lock(&mu);
          view.Update(s);
        }
      }
      if (screen && dirty.exchange(false)) {
        absl::MutexLock lock(&mu);
        const auto [rows, columns] = FullScreen::Size();
        full_screen->Draw(view.Render(rows - 1, columns), columns);
      }
      // Keys, until the next round.
      const int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(refresh));
      pollfd key{STDIN_FILENO, POLLIN, 0};
      if (keys && poll(&key, 1, wait_ms) > 0) {
        char c = 0;
        const ssize_t n = read(STDIN_FILENO, &c, 1);
        if (n == 1 && (c == 'q' || c == 'Q')) break;
        if (n == 0) keys = false;  // end of input: nothing more to read
      } else if (!keys) {
        poll(nullptr, 0, wait_ms);
      }
    }
  }
  full_screen.reset();
  if (!failed.ok()) {
    std::cerr << "balloonctl: " << explain(failed) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace balloond
