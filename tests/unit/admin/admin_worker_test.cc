// AdminWorker (router/admin/admin_worker.h): tasks run in order on its own thread; Stop runs what
// was posted before it, and a task posted after it runs on the caller's thread.
#include "router/admin/admin_worker.h"

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace switchboard::admin {
namespace {

TEST(AdminWorkerTest, TasksRunInOrderOffThePostingThread) {
  AdminWorker worker;
  absl::Mutex mu;
  std::vector<int> order;
  std::vector<std::thread::id> threads;
  absl::Notification done;
  for (int i = 0; i < 100; ++i) {
    worker.Post([&, i] {
      absl::MutexLock lock(&mu);
      order.push_back(i);
      threads.push_back(std::this_thread::get_id());
      if (i == 99) done.Notify();
    });
  }
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::MutexLock lock(&mu);
  ASSERT_EQ(order.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(order[i], i);
  for (const std::thread::id& id : threads) {
    EXPECT_NE(id, std::this_thread::get_id());
    EXPECT_EQ(id, threads[0]);  // one thread
  }
}

TEST(AdminWorkerTest, StopRunsWhatWasPostedAndLaterTasksRunInline) {
  AdminWorker worker;
  const std::thread::id caller = std::this_thread::get_id();
  absl::Notification release;
  int ran = 0;  // written by the worker's thread until Stop returns, then by this one
  worker.Post([&] { release.WaitForNotificationWithTimeout(absl::Seconds(10)); });
  for (int i = 0; i < 10; ++i) worker.Post([&] { ++ran; });
  std::thread stopper([&] { worker.Stop(); });
  // Once a task posted here runs inline, Stop has begun; only then is the first task released,
  // so the ten queued behind it are run by a stopping worker.
  bool inline_ran = false;
  while (!inline_ran) {
    worker.Post([&] { inline_ran = std::this_thread::get_id() == caller; });
    if (!inline_ran) absl::SleepFor(absl::Milliseconds(1));
  }
  release.Notify();
  stopper.join();
  EXPECT_EQ(ran, 10);  // none dropped
  std::thread::id where;
  worker.Post([&] { where = std::this_thread::get_id(); });
  EXPECT_EQ(where, std::this_thread::get_id());
  worker.Stop();  // idempotent
}

}  // namespace
}  // namespace switchboard::admin
