#ifndef BALLOOND_AGENT_BASE_KEYED_LOCKS_H_
#define BALLOOND_AGENT_BASE_KEYED_LOCKS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/base/clock.h"

namespace balloond {

// One lock per key (a domain's UUID), remembered only while someone holds or waits for it: changes
// to one domain happen one at a time, changes to different domains side by side.
class KeyedLocks {
 public:
  class Held {
   public:
    Held(Held&& other) noexcept : locks_(other.locks_), key_(std::move(other.key_)) {
      other.locks_ = nullptr;
    }
    Held& operator=(Held&&) = delete;
    ~Held() {
      if (locks_ != nullptr) locks_->Unlock(key_);
    }

   private:
    friend class KeyedLocks;
    Held(KeyedLocks* locks, std::string key) : locks_(locks), key_(std::move(key)) {}
    KeyedLocks* locks_;
    std::string key_;
  };

  // `clock` tells when a deadline has passed.
  explicit KeyedLocks(Clock& clock) : clock_(clock) {}

  // Holds `key`'s lock until the result is destroyed; nullopt if it is still held by another at
  // `deadline`.
  std::optional<Held> Lock(const std::string& key, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[key];
    ++entry.users;
    if (!clock_.AwaitWithTimeout(mu_,
                                 absl::Condition(
                                     +[](Entry* e) { return !e->held; }, &entry),
                                 deadline - clock_.Now())) {
      Release(key, entry);
      return std::nullopt;
    }
    entry.held = true;
    return Held(this, key);
  }

 private:
  struct Entry {
    bool held = false;
    int users = 0;  // holding or waiting
  };
  void Unlock(const std::string& key) {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[key];
    entry.held = false;
    Release(key, entry);
  }
  void Release(const std::string& key, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (--entry.users == 0) entries_.erase(key);
  }

  Clock& clock_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_BASE_KEYED_LOCKS_H_
