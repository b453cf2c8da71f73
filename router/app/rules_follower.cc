#include "router/app/rules_follower.h"

#include <utility>

namespace switchboard::app {

RulesFollower::RulesFollower(store::Store& store, Apply apply, absl::Duration recheck,
                             absl::Duration retry)
    : store_(store),
      apply_(std::move(apply)),
      recheck_(recheck),
      retry_(retry),
      thread_([this] { Run(); }) {}

RulesFollower::~RulesFollower() { Stop(); }

void RulesFollower::Request() {
  absl::MutexLock lock(&mu_);
  requested_ = true;
}

bool RulesFollower::WaitFirstRead(absl::Duration timeout) {
  return first_read_.WaitForNotificationWithTimeout(timeout);
}

void RulesFollower::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  absl::MutexLock lock(&join_mu_);
  if (thread_.joinable()) thread_.join();
}

void RulesFollower::Run() {
  absl::Duration wait = absl::ZeroDuration();
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(
                               +[](RulesFollower* f) ABSL_EXCLUSIVE_LOCKS_REQUIRED(f->mu_) {
                                 return f->requested_ || f->stopping_;
                               },
                               this),
                           wait);
      if (stopping_) return;
      requested_ = false;
    }
    absl::Notification answered;
    absl::StatusOr<store::RulesDocument> document;
    store_.GetRules([&](absl::StatusOr<store::RulesDocument> read) {
      document = std::move(read);
      answered.Notify();
    });
    answered.WaitForNotification();
    apply_(document);
    if (!first_read_.HasBeenNotified()) first_read_.Notify();
    wait = document.ok() ? recheck_ : retry_;
  }
}

}  // namespace switchboard::app
