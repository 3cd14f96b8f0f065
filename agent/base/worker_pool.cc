#include "agent/base/worker_pool.h"

#include <exception>

#include "absl/strings/str_cat.h"
#include "agent/base/error_reason.h"
#include "agent/base/log.h"

namespace balloond {

void RunGuarded(absl::string_view what, const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    Log(LogLevel::kError, absl::StrCat(what, " failed and was skipped: ", e.what()));
  } catch (...) {
    Log(LogLevel::kError, absl::StrCat(what, " failed and was skipped (unknown exception)"));
  }
}

WorkerPool::WorkerPool(std::string name, int threads, size_t max_queued)
    : name_(std::move(name)), max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void WorkerPool::Submit(std::function<void()> task) { TrySubmit(std::move(task)).IgnoreError(); }

absl::Status WorkerPool::TrySubmit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) {
    return absl::UnavailableError(absl::StrCat("balloond's ", name_, " workers are stopping"));
  }
  if (queue_.size() >= max_queued_) {
    return WithReason(absl::ResourceExhaustedError(
                          absl::StrCat("balloond's ", name_, " queue is full (", max_queued_,
                                       " requests waiting); retry in a moment")),
                      "QUEUE_FULL", {{"queue", name_}});
  }
  queue_.push_back(std::move(task));
  return absl::OkStatus();
}

void WorkerPool::WaitIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](WorkerPool* p)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->queue_.empty() && p->running_ == 0; },
      this));
}

void WorkerPool::Run() {
  for (;;) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](WorkerPool* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping, and nothing left to run
      task = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    RunGuarded(name_, task);
    absl::MutexLock lock(&mu_);
    --running_;
  }
}

}  // namespace balloond
