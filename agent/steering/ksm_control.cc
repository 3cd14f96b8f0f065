#include "agent/steering/ksm_control.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "agent/base/log.h"
#include "policy/durations.h"

namespace balloond {

namespace v1 = balloon::v1;

namespace {

// After a write refused for want of permission, the next try is this much later.
constexpr absl::Duration kNoAccessRetry = absl::Minutes(5);

}  // namespace

bool KsmControl::Read(const std::map<std::string, DomainSnapshot>& domains, absl::Time now) {
  auto sysfs = ReadKsmSysfs(paths_.sysfs);
  if (!sysfs.ok()) {
    reading_.reset();
    status_ = v1::HostSharing();
    status_.set_state(v1::KSM_STATE_UNAVAILABLE);
    status_.set_explanation(std::string(sysfs.status().message()));
    domains_.clear();
    return false;
  }
  policy::KsmReading r;
  r.knobs = {sysfs->run, sysfs->pages_to_scan, sysfs->sleep_millisecs};
  r.pages_shared = sysfs->pages_shared;
  r.pages_sharing = sysfs->pages_sharing;
  r.full_scans = sysfs->full_scans;
  r.pages_scanned = sysfs->pages_scanned;
  r.general_profit_bytes = sysfs->general_profit_bytes;
  r.page_bytes = sysconf(_SC_PAGESIZE);
  reading_ = r;
  SetStatusFromReading();

  // ksmd's share of a CPU since the last read. ksmd is a kernel thread that lives as long as the
  // kernel, so /proc is searched for it once: where it is hidden (ProtectProc=invisible, another
  // PID namespace) it stays hidden.
  if (!ksmd_searched_) {
    ksmd_ = FindKsmd(paths_.proc);
    ksmd_searched_ = true;
  }
  const std::optional<double> seconds = ksmd_ ? KsmdCpuSeconds(*ksmd_, paths_.proc) : std::nullopt;
  if (seconds && ksmd_seconds_ && now > ksmd_read_at_) {
    status_.set_ksmd_cpu_percent(100.0 * std::max(0.0, *seconds - *ksmd_seconds_) /
                                 absl::ToDoubleSeconds(now - ksmd_read_at_));
  }
  ksmd_seconds_ = seconds;
  ksmd_read_at_ = now;

  domains_.clear();
  for (const auto& [uuid, snap] : domains) {
    v1::DomainSharing& d = domains_[uuid];
    d.set_nosharepages(snap.config && snap.config->nosharepages);
    const std::optional<pid_t> pid = QemuPidOf(snap.info.name, paths_.qemu_run);
    const std::optional<ProcessSharing> merged =
        pid ? ReadProcessSharing(*pid, paths_.proc) : std::nullopt;
    if (!merged) continue;
    d.set_merging_bytes(merged->merging_bytes);
    if (merged->profit_bytes) d.set_saved_bytes(*merged->profit_bytes);
  }
  return true;
}

void KsmControl::SetStatusFromReading() {
  const policy::KsmReading& r = *reading_;
  status_.set_running(r.knobs.run == 1);
  status_.set_pages_to_scan(static_cast<int32_t>(r.knobs.pages_to_scan));
  status_.set_sleep_millisecs(static_cast<int32_t>(r.knobs.sleep_millisecs));
  status_.set_shared_bytes(r.pages_shared * r.page_bytes);
  status_.set_sharing_bytes(r.pages_sharing * r.page_bytes);
  status_.set_full_scans(r.full_scans);
  if (r.general_profit_bytes) {
    status_.set_saved_bytes(*r.general_profit_bytes);
  } else {
    status_.clear_saved_bytes();
  }
  status_.clear_ksmd_cpu_percent();
}

int64_t KsmControl::SavedBytes() const {
  return reading_ ? std::max<int64_t>(0, reading_->SavedBytes()) : 0;
}

int64_t KsmControl::LastingBytes(absl::Time now) const {
  return reading_ ? std::min(SavedBytes(), history_.LastingSavedBytes(now)) : 0;
}

std::optional<std::string> KsmControl::Decide(const v1::HostPolicy& full, v1::PolicyMode mode,
                                              const policy::HostStanding& standing,
                                              absl::Time now) {
  status_.set_mode(full.ksm().mode());
  if (!reading_) return std::nullopt;
  if (now < no_access_until_) return std::nullopt;
  // Observe mode writes nothing: the controller goes on from what it proposed, as if it had been
  // applied, rather than take the knobs it left as someone else's change every cycle.
  policy::KsmReading reading = *reading_;
  if (mode == v1::POLICY_MODE_OBSERVE && history_.set) reading.knobs = *history_.set;
  policy::KsmOutcome outcome =
      policy::DecideKsm(full, mode != v1::POLICY_MODE_OFF, standing, reading, history_, now);
  std::optional<std::string> told;
  if (outcome.write) {
    // Only enforce mode writes; a put-back writes only what balloond itself changed.
    const bool put_back = outcome.state == v1::KSM_STATE_LEFT_ALONE;
    const bool write = put_back ? wrote_any_ : mode == v1::POLICY_MODE_ENFORCE;
    if (write) {
      const policy::KsmKnobs& k = *outcome.write;
      if (absl::Status s = WriteKsmKnobs(k.run, k.pages_to_scan, k.sleep_millisecs, paths_.sysfs);
          !s.ok()) {
        no_access_until_ = now + kNoAccessRetry;
        status_.set_state(s.code() == absl::StatusCode::kPermissionDenied ? v1::KSM_STATE_NO_ACCESS
                                                                          : status_.state());
        status_.set_explanation(absl::StrCat(
            "balloond could not change KSM (", s.message(),
            "); it tries again in 5m (README, \"Page sharing\": the unit grants the access)"));
        Log(LogLevel::kWarning, absl::StrCat("ksm: ", status_.explanation()));
        return std::nullopt;
      }
      wrote_any_ = !put_back;
      told = outcome.history.explanation;
    } else if (!put_back) {
      told = absl::StrCat("(observe) ", outcome.history.explanation);
    }
  }
  history_ = std::move(outcome.history);
  status_.set_state(outcome.state);
  status_.set_explanation(history_.explanation);
  if (history_.changed_at != absl::InfinitePast()) {
    *status_.mutable_change_time() = ToProtoTimestamp(history_.changed_at);
  }
  status_.set_lasting_saved_bytes(LastingBytes(now));
  if (told) Log(absl::StrCat("ksm: ", *told));
  return told;
}

void KsmControl::Restore() {
  if (!wrote_any_ || !history_.found) return;
  const policy::KsmKnobs& k = *history_.found;
  if (absl::Status s = WriteKsmKnobs(k.run, k.pages_to_scan, k.sleep_millisecs, paths_.sysfs);
      !s.ok()) {
    Log(LogLevel::kWarning, absl::StrCat("ksm: could not put KSM back as found: ", s.message()));
    return;
  }
  wrote_any_ = false;
  Log("ksm: put back as balloond found it");
}

}  // namespace balloond
