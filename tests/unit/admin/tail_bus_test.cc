#include "router/admin/tail_bus.h"

#include <atomic>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace switchboard::admin {
namespace {

v1::EmailEvent Event(std::string id, v1::EventType type = v1::EVENT_TYPE_DELIVERED) {
  v1::EmailEvent event;
  event.set_id(std::move(id));
  event.set_type(type);
  return event;
}

std::vector<std::string> Ids(const std::vector<v1::TailEvent>& events) {
  std::vector<std::string> ids;
  for (const v1::TailEvent& event : events) ids.push_back(event.event().id());
  return ids;
}

TEST(TailBusTest, ListeningOnlyWhileSomeoneSubscribes) {
  TailBus bus;
  EXPECT_FALSE(bus.Listening());
  {
    auto subscription = bus.Subscribe(nullptr);
    EXPECT_TRUE(bus.Listening());
  }
  EXPECT_FALSE(bus.Listening());
}

TEST(TailBusTest, EverySubscriberGetsEveryAcceptedEventWithItsAgents) {
  TailBus bus;
  auto all = bus.Subscribe(nullptr);
  auto bounces = bus.Subscribe(nullptr, [](const v1::EmailEvent& event,
                                           const std::vector<std::string>&) {
    return event.type() == v1::EVENT_TYPE_BOUNCED;
  });
  bus.OnCommitted(Event("e1"), {"audit", "suppression"});
  bus.OnCommitted(Event("e2", v1::EVENT_TYPE_BOUNCED), {});

  std::vector<v1::TailEvent> got = all->Take(10);
  EXPECT_EQ(Ids(got), (std::vector<std::string>{"e1", "e2"}));
  ASSERT_EQ(got[0].agents_size(), 2);
  EXPECT_EQ(got[0].agents(0), "audit");
  EXPECT_EQ(got[0].agents(1), "suppression");
  EXPECT_EQ(got[1].agents_size(), 0);
  EXPECT_EQ(Ids(bounces->Take(10)), (std::vector<std::string>{"e2"}));
  EXPECT_TRUE(all->Take(10).empty());
}

TEST(TailBusTest, TakeHonoursMaxOldestFirst) {
  TailBus bus;
  auto subscription = bus.Subscribe(nullptr);
  for (int i = 0; i < 5; ++i) bus.Publish(Event("e" + std::to_string(i)), {});
  EXPECT_EQ(Ids(subscription->Take(2)), (std::vector<std::string>{"e0", "e1"}));
  EXPECT_EQ(Ids(subscription->Take(10)), (std::vector<std::string>{"e2", "e3", "e4"}));
}

TEST(TailBusTest, WakeRunsWhenTheQueueBecomesNonEmpty) {
  TailBus bus;
  int wakes = 0;
  auto subscription = bus.Subscribe([&wakes] { ++wakes; });
  bus.Publish(Event("e1"), {});
  bus.Publish(Event("e2"), {});  // the queue was not empty: no second wake
  EXPECT_EQ(wakes, 1);
  subscription->Take(10);
  bus.Publish(Event("e3"), {});
  EXPECT_EQ(wakes, 2);
}

TEST(TailBusTest, ASlowSubscriberDropsNewEventsCountedAndIsToldOnTheNextOne) {
  TailBus bus;
  auto slow = bus.Subscribe(nullptr);
  auto fast = bus.Subscribe(nullptr);
  const size_t extra = 7;
  for (size_t i = 0; i < TailBus::kQueueLimit + extra; ++i) {
    bus.Publish(Event("e" + std::to_string(i)), {});
    fast->Take(1);  // keeps up
  }
  EXPECT_EQ(slow->dropped(), extra);
  EXPECT_EQ(fast->dropped(), 0u);
  EXPECT_EQ(bus.dropped_total(), extra);

  std::vector<v1::TailEvent> kept = slow->Take(TailBus::kQueueLimit + extra);
  ASSERT_EQ(kept.size(), TailBus::kQueueLimit);  // the oldest are kept
  EXPECT_EQ(kept.front().event().id(), "e0");
  EXPECT_EQ(kept.back().event().id(), "e" + std::to_string(TailBus::kQueueLimit - 1));
  for (const v1::TailEvent& event : kept) EXPECT_EQ(event.dropped_before(), 0);

  bus.Publish(Event("after"), {});
  std::vector<v1::TailEvent> next = slow->Take(10);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].event().id(), "after");
  EXPECT_EQ(next[0].dropped_before(), static_cast<int64_t>(extra));
}

TEST(TailBusTest, NoWakeAfterUnsubscribing) {
  TailBus bus;
  std::atomic<int> wakes{0};
  auto subscription = bus.Subscribe([&wakes] { ++wakes; });
  subscription.reset();
  bus.Publish(Event("e1"), {});
  EXPECT_EQ(wakes.load(), 0);
  EXPECT_EQ(bus.dropped_total(), 0u);
}

}  // namespace
}  // namespace switchboard::admin
