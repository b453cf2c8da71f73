#include "router/app/subscription_confirmer.h"

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "router/providers/ses_provider.h"

namespace switchboard::app {
namespace {

// The SubscribeURL form of SNS's documentation (sns-message-and-json-formats.html).
constexpr char kSubscribeUrl[] =
    "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:"
    "123456789012:MyTopic&Token=2336412f37";

absl::Status AllowSubscribe(std::string_view url) {
  return providers::SesProvider::CheckSubscribeUrl(url);
}

struct Recorder {
  absl::Mutex mu;
  std::vector<std::string> urls;
  absl::StatusOr<std::string> answer =
      std::string("<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
                  "arn:aws:sns:us-west-2:123456789012:MyTopic:2bcfbf39</SubscriptionArn>"
                  "</ConfirmSubscriptionResult></ConfirmSubscriptionResponse>");
  SubscriptionConfirmer::GetFn Fn() {
    return [this](std::string_view url) -> absl::StatusOr<std::string> {
      absl::MutexLock lock(&mu);
      urls.emplace_back(url);
      return answer;
    };
  }
};

// A provider whose Decode hands back a fixed result (the SES decoder's seam).
class FixedProvider final : public providers::Provider {
 public:
  explicit FixedProvider(std::string confirm_url) : confirm_url_(std::move(confirm_url)) {}
  absl::Status Verify(const providers::WebhookRequest&) const override {
    return absl::OkStatus();
  }
  absl::StatusOr<providers::DecodeResult> Decode(const providers::WebhookRequest&) const override {
    providers::DecodeResult result;
    result.control = "subscription-confirmation";
    result.confirm_url = confirm_url_;
    return result;
  }
  absl::Duration Tolerance() const override { return absl::Hours(1); }

 private:
  const std::string confirm_url_;
};

TEST(SubscriptionConfirmerTest, DecodedConfirmUrlIsFetchedInTheBackground) {
  Recorder recorder;
  absl::Notification release;
  absl::Notification entered;
  SubscriptionConfirmer confirmer(
      [&](std::string_view url) -> absl::StatusOr<std::string> {
        entered.Notify();
        release.WaitForNotification();
        return recorder.Fn()(url);
      },
      AllowSubscribe);
  auto provider = WithSubscriptionConfirmation(std::make_unique<FixedProvider>(kSubscribeUrl),
                                               "ses", confirmer);
  EXPECT_EQ(provider->Tolerance(), absl::Hours(1));  // everything else is the inner provider's
  providers::WebhookRequest request;
  const absl::Time before = absl::Now();
  auto decoded = provider->Decode(request);
  ASSERT_TRUE(decoded.ok());
  // Decode returned while the GET is still blocked: the response never waits for it.
  EXPECT_LT(absl::Now() - before, absl::Seconds(1));
  EXPECT_EQ(decoded->control, "subscription-confirmation");
  entered.WaitForNotification();
  EXPECT_EQ(confirmer.counters().confirmed.load(), 0u);
  release.Notify();
  confirmer.WaitIdle();
  EXPECT_EQ(confirmer.counters().confirmed.load(), 1u);
  absl::MutexLock lock(&recorder.mu);
  EXPECT_EQ(recorder.urls, std::vector<std::string>{kSubscribeUrl});
}

TEST(SubscriptionConfirmerTest, NoConfirmUrlNoFetch) {
  Recorder recorder;
  SubscriptionConfirmer confirmer(recorder.Fn(), AllowSubscribe);
  auto provider =
      WithSubscriptionConfirmation(std::make_unique<FixedProvider>(""), "ses", confirmer);
  ASSERT_TRUE(provider->Decode(providers::WebhookRequest{}).ok());
  confirmer.WaitIdle();
  absl::MutexLock lock(&recorder.mu);
  EXPECT_TRUE(recorder.urls.empty());
}

TEST(SubscriptionConfirmerTest, UrlOutsideTheAllowlistIsRefusedNotFetched) {
  Recorder recorder;
  SubscriptionConfirmer confirmer(recorder.Fn(), AllowSubscribe);
  confirmer.Confirm("ses", "https://evil.example.com/?Action=ConfirmSubscription&Token=1");
  confirmer.Confirm("ses", "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&Token=1");
  confirmer.WaitIdle();
  EXPECT_EQ(confirmer.counters().refused.load(), 2u);
  EXPECT_EQ(confirmer.counters().confirmed.load(), 0u);
  absl::MutexLock lock(&recorder.mu);
  EXPECT_TRUE(recorder.urls.empty());
}

TEST(SubscriptionConfirmerTest, FailedGetIsCountedAsFailed) {
  Recorder recorder;
  recorder.answer = absl::UnavailableError("GET https://sns.us-west-2.amazonaws.com:443 answered 403");
  SubscriptionConfirmer confirmer(recorder.Fn(), AllowSubscribe);
  confirmer.Confirm("ses", kSubscribeUrl);
  confirmer.WaitIdle();
  EXPECT_EQ(confirmer.counters().failed.load(), 1u);
  EXPECT_EQ(confirmer.counters().confirmed.load(), 0u);
}

TEST(SubscriptionConfirmerTest, QueueIsBounded) {
  absl::Notification release;
  SubscriptionConfirmer confirmer(
      [&](std::string_view) -> absl::StatusOr<std::string> {
        release.WaitForNotification();
        return std::string();
      },
      AllowSubscribe, /*max_pending=*/2);
  for (int i = 0; i < 10; ++i) confirmer.Confirm("ses", kSubscribeUrl);
  release.Notify();
  confirmer.WaitIdle();
  const auto& c = confirmer.counters();
  EXPECT_EQ(c.confirmed.load() + c.dropped.load(), 10u);
  EXPECT_GE(c.dropped.load(), 7u);  // one running at most, two queued
}

}  // namespace
}  // namespace switchboard::app
