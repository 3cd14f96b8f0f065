#include "agent/libvirt/call_lanes.h"

#include <exception>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/base/log.h"
#include "agent/base/worker_pool.h"

namespace balloond {

struct CallLanes::State {
  State(Options o, Clock& c) : options(o), clock(c) {}
  // Starts a thread if every one is busy and one of them is stuck (held past hung_after).
  void MaybeGrow(const std::shared_ptr<State>& self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Start(const std::shared_ptr<State>& self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The lane's running call returned: its next waiting call, if any, becomes ready.
  void Release(const std::string& lane) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  const Options options;
  Clock& clock;
  absl::Mutex mu;
  std::deque<std::shared_ptr<PendingCall>> ready ABSL_GUARDED_BY(mu);
  std::map<std::string, Lane> lanes ABSL_GUARDED_BY(mu);
  // When each worker's current call started; InfiniteFuture while it is idle.
  std::vector<absl::Time> busy_since ABSL_GUARDED_BY(mu);
  int idle ABSL_GUARDED_BY(mu) = 0;
  int alive ABSL_GUARDED_BY(mu) = 0;
  bool stopping ABSL_GUARDED_BY(mu) = false;
};

absl::Status PendingCall::Wait(absl::Time deadline) {
  if (!refused_.ok()) return refused_;
  absl::MutexLock lock(&done_mu_);
  if (clock_.AwaitWithDeadline(done_mu_, absl::Condition(&done_), deadline)) {
    return absl::OkStatus();
  }
  return absl::DeadlineExceededError("the call did not return in time");
}

void CallLanes::State::Start(const std::shared_ptr<State>& self) {
  const size_t index = busy_since.size();
  try {
    std::thread([self, index] { Work(self, index); }).detach();
  } catch (const std::system_error& e) {
    Log(LogLevel::kError, absl::StrCat("cannot start a thread for libvirt calls: ", e.what()));
    return;
  }
  busy_since.push_back(absl::InfiniteFuture());
  ++alive;
  ++idle;
}

void CallLanes::State::MaybeGrow(const std::shared_ptr<State>& self) {
  if (idle > 0 || ready.empty() || alive >= options.max_threads) return;
  const absl::Time stuck_before = clock.Now() - options.hung_after;
  for (absl::Time since : busy_since) {
    if (since < stuck_before) {
      Start(self);
      return;
    }
  }
}

void CallLanes::State::Release(const std::string& lane) {
  if (lane.empty()) return;
  auto it = lanes.find(lane);
  if (it == lanes.end()) return;
  Lane& l = it->second;
  while (!l.waiting.empty() && l.waiting.front()->abandoned_) l.waiting.pop_front();
  if (l.waiting.empty()) {
    lanes.erase(it);  // nothing is remembered of an idle lane
    return;
  }
  ready.push_back(std::move(l.waiting.front()));
  l.waiting.pop_front();
  l.since = clock.Now();
}

CallLanes::CallLanes(Options options, Clock& clock)
    : state_(std::make_shared<State>(options, clock)) {
  absl::MutexLock lock(&state_->mu);
  for (int i = 0; i < options.threads; ++i) state_->Start(state_);
}

CallLanes::~CallLanes() {
  absl::MutexLock lock(&state_->mu);
  state_->stopping = true;
  // What has not started never will: its callers are gone or give up at their deadlines.
  for (auto& call : state_->ready) call->abandoned_ = true;
  state_->ready.clear();
  state_->lanes.clear();
  // Idle workers leave now; one stuck in a call leaves when it returns (it holds the state).
  auto gone = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    return state_->alive == 0 || state_->idle == state_->alive;
  };
  state_->clock.AwaitWithTimeout(state_->mu, absl::Condition(&gone), absl::Seconds(1));
}

std::shared_ptr<PendingCall> CallLanes::Submit(const std::string& lane,
                                               std::function<void()> work) {
  auto call = std::shared_ptr<PendingCall>(new PendingCall(state_->clock));
  call->work_ = std::move(work);
  call->lane_ = lane;
  absl::MutexLock lock(&state_->mu);
  if (lane.empty()) {
    state_->ready.push_back(call);
  } else {
    Lane& l = state_->lanes[lane];
    if (!l.busy) {
      l.busy = true;
      l.since = state_->clock.Now();
      state_->ready.push_back(call);
    } else if (state_->clock.Now() - l.since > state_->options.hung_after) {
      // Behind a call that has waited this long, this one would only wait out its deadline.
      call->refused_ = absl::DeadlineExceededError(absl::StrCat(
          "an earlier call to this domain has been pending for ",
          absl::FormatDuration(absl::Trunc(state_->clock.Now() - l.since, absl::Milliseconds(100))),
          " without an answer"));
      return call;
    } else {
      l.waiting.push_back(call);
    }
  }
  state_->MaybeGrow(state_);
  return call;
}

absl::Status CallLanes::Run(const std::string& lane, absl::Time deadline,
                            std::function<void()> work) {
  std::shared_ptr<PendingCall> call = Submit(lane, std::move(work));
  absl::Status status = call->Wait(deadline);
  if (!status.ok()) Abandon(call);
  return status;
}

bool CallLanes::Abandon(const std::shared_ptr<PendingCall>& call) {
  absl::MutexLock lock(&state_->mu);
  if (!call->refused_.ok() || call->done()) return false;
  call->abandoned_ = true;
  return call->started_;
}

void CallLanes::Work(std::shared_ptr<State> state, size_t index) {
  absl::MutexLock lock(&state->mu);
  for (;;) {
    auto has_work = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
      return state->stopping || !state->ready.empty();
    };
    state->mu.Await(absl::Condition(&has_work));
    if (state->ready.empty()) {  // stopping
      --state->alive;
      --state->idle;
      return;
    }
    std::shared_ptr<PendingCall> call = std::move(state->ready.front());
    state->ready.pop_front();
    if (!call->abandoned_) {
      call->started_ = true;
      --state->idle;
      state->busy_since[index] = state->clock.Now();
      state->mu.Unlock();
      RunGuarded("a libvirt call", call->work_);
      state->mu.Lock();
      state->busy_since[index] = absl::InfiniteFuture();
      ++state->idle;
    }
    state->Release(call->lane_);
    call->work_ = nullptr;  // what it captured goes now, not with the last reference
    call->MarkDone();
  }
}

int CallLanes::threads() const {
  absl::MutexLock lock(&state_->mu);
  return state_->alive;
}

size_t CallLanes::lanes() const {
  absl::MutexLock lock(&state_->mu);
  return state_->lanes.size();
}

}  // namespace balloond
