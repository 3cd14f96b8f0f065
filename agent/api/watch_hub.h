#ifndef BALLOOND_AGENT_API_WATCH_HUB_H_
#define BALLOOND_AGENT_API_WATCH_HUB_H_

#include <grpcpp/support/status.h>

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace balloond {

// Fans messages out to the streams watching a key (a domain's UUID, a domain filter): a publisher
// wakes exactly the watchers of what changed, and nobody polls.
template <typename Message>
class WatchHub {
 public:
  class Watcher {
   public:
    virtual ~Watcher() = default;
    virtual void Deliver(const std::shared_ptr<const Message>& message) = 0;
    virtual void Close(const grpc::Status& status) = 0;
  };

  void Subscribe(const std::string& key, Watcher* watcher) {
    absl::MutexLock lock(&mu_);
    watchers_[key].insert(watcher);
  }
  // Once this returns, `watcher` hears nothing more and may be deleted.
  void Unsubscribe(const std::string& key, Watcher* watcher) {
    absl::MutexLock lock(&mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end()) return;
    it->second.erase(watcher);
    if (it->second.empty()) watchers_.erase(it);
  }
  bool HasWatchers(const std::string& key) const {
    absl::MutexLock lock(&mu_);
    return watchers_.count(key) > 0;
  }
  void Publish(const std::string& key, const std::shared_ptr<const Message>& message) {
    absl::MutexLock lock(&mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end()) return;
    for (Watcher* w : it->second) w->Deliver(message);
  }
  // Ends the streams watching `key` (they unsubscribe as they finish).
  void CloseKey(const std::string& key, const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    auto it = watchers_.find(key);
    if (it == watchers_.end()) return;
    for (Watcher* w : it->second) w->Close(status);
  }
  void CloseAll(const grpc::Status& status) {
    absl::MutexLock lock(&mu_);
    for (auto& [key, watchers] : watchers_) {
      for (Watcher* w : watchers) w->Close(status);
    }
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::set<Watcher*>> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace balloond

#endif  // BALLOOND_AGENT_API_WATCH_HUB_H_
