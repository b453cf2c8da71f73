#include "router/app/background_queue.h"

#include <utility>

namespace switchboard::app {

BackgroundQueue::BackgroundQueue(size_t max_pending)
    : max_pending_(max_pending), thread_([this] { Run(); }) {}

BackgroundQueue::~BackgroundQueue() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    tasks_.clear();
  }
  thread_.join();
}

bool BackgroundQueue::Post(absl::AnyInvocable<void() &&> task) {
  absl::MutexLock lock(&mu_);
  if (stop_ || tasks_.size() >= max_pending_) return false;
  tasks_.push_back(std::move(task));
  return true;
}

void BackgroundQueue::WaitIdle() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](BackgroundQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
        return q->stop_ || (q->tasks_.empty() && !q->busy_);
      },
      this));
}

void BackgroundQueue::Run() {
  while (true) {
    absl::AnyInvocable<void() &&> task;
    {
      absl::MutexLock lock(&mu_);
      busy_ = false;
      mu_.Await(absl::Condition(
          +[](BackgroundQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
            return q->stop_ || !q->tasks_.empty();
          },
          this));
      if (stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      busy_ = true;
    }
    std::move(task)();
  }
}

}  // namespace switchboard::app
