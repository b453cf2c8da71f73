#include "router/admin/event_filter.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace switchboard::admin {
namespace {

v1::EmailEvent Event(v1::EventType type, std::string recipient, std::string source = "esp") {
  v1::EmailEvent event;
  event.set_type(type);
  event.set_recipient(std::move(recipient));
  event.set_source(std::move(source));
  return event;
}

EventFilter MustCreate(const v1::EventFilter& proto) {
  absl::StatusOr<EventFilter> filter = EventFilter::Create(proto, "filter");
  EXPECT_TRUE(filter.ok()) << filter.status();
  return *std::move(filter);
}

const std::vector<std::string> kRouted = {"audit"};
const std::vector<std::string> kUnmatched = {};

TEST(EventFilterTest, AnEmptyFilterMatchesEverything) {
  EventFilter filter = MustCreate(v1::EventFilter());
  EXPECT_TRUE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "a@x.com"), kRouted));
  EXPECT_TRUE(filter.Matches(Event(v1::EVENT_TYPE_UNKNOWN, ""), kUnmatched));
}

TEST(EventFilterTest, TypesMatchAnyOfThem) {
  v1::EventFilter proto;
  proto.add_types(v1::EVENT_TYPE_BOUNCED);
  proto.add_types(v1::EVENT_TYPE_COMPLAINED);
  EventFilter filter = MustCreate(proto);
  EXPECT_TRUE(filter.Matches(Event(v1::EVENT_TYPE_BOUNCED, "a@x.com"), kRouted));
  EXPECT_TRUE(filter.Matches(Event(v1::EVENT_TYPE_COMPLAINED, "a@x.com"), kRouted));
  EXPECT_FALSE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "a@x.com"), kRouted));
}

TEST(EventFilterTest, RecipientIsARulePatternWithPlusTagsAndCaseInsensitiveDomain) {
  v1::EventFilter proto;
  proto.set_recipient("billing+*@Example.com");
  EventFilter filter = MustCreate(proto);
  EXPECT_TRUE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "billing+q3@example.COM"), kRouted));
  EXPECT_TRUE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "billing@example.com"), kRouted));
  EXPECT_FALSE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "billingx@example.com"), kRouted));
  // The local part is compared as sent (RFC 5321 section 2.4).
  EXPECT_FALSE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "Billing@example.com"), kRouted));
  EXPECT_FALSE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "no-address"), kRouted));
}

TEST(EventFilterTest, SourceIsExactAndUnmatchedOnlyWantsNoAgents) {
  v1::EventFilter proto;
  proto.set_source("resend");
  proto.set_unmatched_only(true);
  EventFilter filter = MustCreate(proto);
  EXPECT_TRUE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "a@x.com", "resend"), kUnmatched));
  EXPECT_FALSE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "a@x.com", "resend"), kRouted));
  EXPECT_FALSE(filter.Matches(Event(v1::EVENT_TYPE_DELIVERED, "a@x.com", "Resend"), kUnmatched));
}

TEST(EventFilterTest, BadFieldsAreRefusedNamingThem) {
  v1::EventFilter unspecified;
  unspecified.add_types(v1::EVENT_TYPE_DELIVERED);
  unspecified.add_types(v1::EVENT_TYPE_UNSPECIFIED);
  absl::StatusOr<EventFilter> filter = EventFilter::Create(unspecified, "filter");
  ASSERT_FALSE(filter.ok());
  EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(filter.status().message(), "filter.types[1]: ")) << filter.status();

  v1::EventFilter out_of_range;
  out_of_range.add_types(static_cast<v1::EventType>(9999));
  filter = EventFilter::Create(out_of_range, "filter");
  ASSERT_FALSE(filter.ok());
  EXPECT_TRUE(absl::StartsWith(filter.status().message(), "filter.types[0]: ")) << filter.status();

  for (const char* bad : {"no-at-sign", "two@@x.com", "@x.com", "a@"}) {
    v1::EventFilter recipient;
    recipient.set_recipient(bad);
    filter = EventFilter::Create(recipient, "request.filter");
    ASSERT_FALSE(filter.ok()) << bad;
    EXPECT_EQ(filter.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(filter.status().message(), "request.filter.recipient: "))
        << filter.status();
  }
}

}  // namespace
}  // namespace switchboard::admin
