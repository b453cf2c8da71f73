#include "router/app/fetching_certificate_source.h"

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "router/providers/ses_provider.h"

namespace switchboard::app {
namespace {

constexpr char kUrl[] =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-01d088a6f77103d0fe307c0069e40ed6.pem";
const absl::Time kNow = absl::FromUnixSeconds(1700000000);

std::string CertPem() {
  std::ifstream in(std::string(SWITCHBOARD_SOURCE_DIR) +
                   "/tests/testdata/fixtures/ses_sns/sns-cert.pem");
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

absl::Status AllowSns(std::string_view url) {
  return providers::SesProvider::CheckSigningCertUrl(url);
}

// A fetch function that records its calls and answers what the test sets.
struct FakeFetch {
  absl::Mutex mu;
  std::vector<std::string> calls;
  absl::StatusOr<std::string> answer = absl::UnavailableError("not set");

  FetchingCertificateSource::FetchFn Fn() {
    return [this](std::string_view url) -> absl::StatusOr<std::string> {
      absl::MutexLock lock(&mu);
      calls.emplace_back(url);
      return answer;
    };
  }
  size_t Calls() {
    absl::MutexLock lock(&mu);
    return calls.size();
  }
};

TEST(FetchingCertificateSourceTest, MissIsUnavailableAtOnceThenHitAfterBackgroundFetch) {
  FakeClock clock(kNow);
  absl::Notification release;
  absl::Notification entered;
  const std::string pem = CertPem();
  ASSERT_FALSE(pem.empty());
  FetchingCertificateSource source(
      [&](std::string_view) -> absl::StatusOr<std::string> {
        entered.Notify();
        release.WaitForNotification();  // the fetch "takes long": Get must not wait for it
        return pem;
      },
      AllowSns, clock);

  const absl::Time before = absl::Now();
  auto first = source.Get(kUrl);
  EXPECT_EQ(first.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - before, absl::Seconds(1));
  entered.WaitForNotification();
  // While the fetch runs: still kUnavailable, no second fetch queued.
  EXPECT_EQ(source.Get(kUrl).status().code(), absl::StatusCode::kUnavailable);
  release.Notify();
  source.WaitIdle();
  auto hit = source.Get(kUrl);
  ASSERT_TRUE(hit.ok()) << hit.status();
  EXPECT_EQ(*hit, pem);
}

TEST(FetchingCertificateSourceTest, OneFetchPerUrlAndCachedForever) {
  FakeClock clock(kNow);
  FakeFetch fetch;
  fetch.answer = CertPem();
  FetchingCertificateSource source(fetch.Fn(), AllowSns, clock);
  EXPECT_FALSE(source.Get(kUrl).ok());
  EXPECT_FALSE(source.Get(kUrl).ok());  // pending or done: never a second fetch
  source.WaitIdle();
  clock.Advance(absl::Hours(24 * 30));
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(source.Get(kUrl).ok());
  source.WaitIdle();
  EXPECT_EQ(fetch.Calls(), 1u);
}

TEST(FetchingCertificateSourceTest, FailureIsCachedBrieflyThenRetried) {
  FakeClock clock(kNow);
  FakeFetch fetch;
  fetch.answer = absl::UnavailableError("connect: Connection refused");
  FetchingCertificateSource::Options options;
  options.failure_ttl = absl::Seconds(30);
  FetchingCertificateSource source(fetch.Fn(), AllowSns, clock, options);
  EXPECT_FALSE(source.Get(kUrl).ok());
  source.WaitIdle();
  // Within the failure window: the reason, and no new fetch however many requests come.
  for (int i = 0; i < 50; ++i) {
    auto again = source.Get(kUrl);
    EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
    EXPECT_NE(again.status().message().find("Connection refused"), absl::string_view::npos)
        << again.status();
  }
  source.WaitIdle();
  EXPECT_EQ(fetch.Calls(), 1u);
  // After it: fetched again, and this time it works.
  clock.Advance(absl::Seconds(31));
  {
    absl::MutexLock lock(&fetch.mu);
    fetch.answer = CertPem();
  }
  EXPECT_EQ(source.Get(kUrl).status().code(), absl::StatusCode::kUnavailable);
  source.WaitIdle();
  EXPECT_TRUE(source.Get(kUrl).ok());
  EXPECT_EQ(fetch.Calls(), 2u);
}

TEST(FetchingCertificateSourceTest, BodyThatIsNoCertificateIsAFailure) {
  FakeClock clock(kNow);
  FakeFetch fetch;
  fetch.answer = std::string("<html>captive portal</html>");
  FetchingCertificateSource source(fetch.Fn(), AllowSns, clock);
  EXPECT_FALSE(source.Get(kUrl).ok());
  source.WaitIdle();
  auto again = source.Get(kUrl);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(again.status().message().find("not an RSA certificate"), absl::string_view::npos)
      << again.status();
}

TEST(FetchingCertificateSourceTest, UrlOutsideTheAllowlistIsNeverFetched) {
  FakeClock clock(kNow);
  FakeFetch fetch;
  fetch.answer = CertPem();
  FetchingCertificateSource source(fetch.Fn(), AllowSns, clock);
  for (const char* url : {"https://evil.example.com/SimpleNotificationService-abc.pem",
                          "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
                          "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-a.pem",
                          "https://x@sns.us-east-1.amazonaws.com/SimpleNotificationService-a.pem"}) {
    EXPECT_EQ(source.Get(url).status().code(), absl::StatusCode::kUnavailable) << url;
  }
  source.WaitIdle();
  EXPECT_EQ(fetch.Calls(), 0u);
}

TEST(FetchingCertificateSourceTest, PendingFetchesAreBounded) {
  FakeClock clock(kNow);
  absl::Notification release;
  std::atomic<int> calls{0};
  FetchingCertificateSource::Options options;
  options.max_pending = 2;
  FetchingCertificateSource source(
      [&](std::string_view) -> absl::StatusOr<std::string> {
        ++calls;
        release.WaitForNotification();
        return absl::UnavailableError("503");
      },
      AllowSns, clock, options);
  // A flood of distinct (allowlisted) URLs: each is kUnavailable at once; at most one running
  // plus two queued fetches, the rest refused without queueing.
  for (int i = 0; i < 20; ++i) {
    const std::string url = absl::StrCat(
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-", absl::Hex(i + 10), ".pem");
    EXPECT_EQ(source.Get(url).status().code(), absl::StatusCode::kUnavailable);
  }
  release.Notify();
  source.WaitIdle();
  EXPECT_LE(calls.load(), 3);
  EXPECT_GE(calls.load(), 2);
}

}  // namespace
}  // namespace switchboard::app
