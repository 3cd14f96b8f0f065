#ifndef BALLOOND_TESTS_AGENT_BASE_FAKE_CLOCK_H_
#define BALLOOND_TESTS_AGENT_BASE_FAKE_CLOCK_H_

#include <atomic>
#include <map>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond::testing {

// Time that moves only when a test says so. A wait on it ends when its condition holds or when
// Advance moves the clock past its timeout: Advance wakes the waiters itself (it takes each one's
// mutex, which makes absl::Mutex evaluate their conditions again), so nothing polls real time.
class FakeClock final : public Clock {
 public:
  // 2026-11-25 19:22:40 UTC: a second after the recorded guest's last report (its statistics are
  // fresh), and inside the validity of the certificates in tests/testdata/tls/.
  static constexpr int64_t kStartUnixSeconds = 1795634560;

  absl::Time Now() override { return absl::FromUnixNanos(now_nanos_.load()); }
  absl::Duration Monotonic() override {
    return absl::Nanoseconds(now_nanos_.load()) - absl::Seconds(kStartUnixSeconds);
  }
  bool AwaitWithTimeout(absl::Mutex& mu, const absl::Condition& condition,
                        absl::Duration timeout) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    struct Wait {
      const absl::Condition* condition;
      const std::atomic<int64_t>* now;
      int64_t deadline;
    } wait{&condition, &now_nanos_, absl::ToUnixNanos(Now() + timeout)};
    {
      absl::MutexLock lock(&waiters_mu_);
      ++waiters_[&mu];
    }
    mu.Await(absl::Condition(
        +[](Wait* w) { return w->condition->Eval() || w->now->load() >= w->deadline; }, &wait));
    {
      absl::MutexLock lock(&waiters_mu_);
      if (--waiters_[&mu] == 0) waiters_.erase(&mu);
    }
    return condition.Eval();
  }
  // Returns once `n` waits are under way: a test advances past a timeout only after the waiter
  // read the time it counts from.
  void AwaitWaiters(int n) {
    absl::MutexLock lock(&waiters_mu_);
    auto enough = [&] {
      waiters_mu_.AssertHeld();
      int total = 0;
      for (const auto& [mu, count] : waiters_) total += count;
      return total >= n;
    };
    waiters_mu_.Await(absl::Condition(&enough));
  }
  void Advance(absl::Duration d) {
    now_nanos_.fetch_add(absl::ToInt64Nanoseconds(d));
    std::map<absl::Mutex*, int> waiters;
    {
      absl::MutexLock lock(&waiters_mu_);
      waiters = waiters_;
    }
    for (auto& [mu, n] : waiters) {
      mu->Lock();  // a waiter's condition is evaluated again when its mutex is released
      mu->Unlock();
    }
  }

 private:
  std::atomic<int64_t> now_nanos_{int64_t{kStartUnixSeconds} * 1000000000};
  absl::Mutex waiters_mu_;
  std::map<absl::Mutex*, int> waiters_ ABSL_GUARDED_BY(waiters_mu_);
};

}  // namespace balloond::testing

#endif  // BALLOOND_TESTS_AGENT_BASE_FAKE_CLOCK_H_
