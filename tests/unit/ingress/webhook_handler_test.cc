#include "router/ingress/webhook_handler.h"

#include <boost/json.hpp>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "router/common/clock.h"
#include "tests/unit/ingress/fakes.h"

namespace switchboard::ingress {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::FakeProvider;
using testing::FakeRuleSet;
using testing::FakeStore;

const absl::Time kNow = absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250);

std::optional<std::string> HeaderOf(const HttpResponse& response, std::string_view name) {
  for (const auto& [n, v] : response.headers) {
    if (absl::EqualsIgnoreCase(n, absl::string_view(name.data(), name.size()))) return v;
  }
  return std::nullopt;
}

boost::json::value Json(const HttpResponse& response) { return boost::json::parse(response.body); }

v1::EmailEvent Event(std::string id, std::string recipient) {
  v1::EmailEvent event;
  event.set_id(std::move(id));
  event.set_recipient(std::move(recipient));
  return event;
}

class WebhookHandlerTest : public ::testing::Test {
 protected:
  WebhookHandlerTest() : clock_(kNow), handler_(Snapshot(), store_, clock_) {}

  std::shared_ptr<const HandlerSnapshot> Snapshot() {
    auto snapshot = std::make_shared<HandlerSnapshot>();
    SourceEntry entry;
    entry.config.name = "resend";
    entry.config.provider = "standard-webhooks";
    entry.config.max_body = 4096;
    entry.provider = provider_;
    snapshot->sources.emplace("resend", std::move(entry));
    snapshot->rules = std::make_shared<FakeRuleSet>();
    return snapshot;
  }

  static providers::WebhookRequest Request(std::string source, std::string body = "{}") {
    providers::WebhookRequest request;
    request.source = std::move(source);
    request.method = "POST";
    request.target = "/v1/webhooks/" + request.source;
    request.body = std::move(body);
    return request;
  }

  // Handles `request`; the response, once the handler produced it, lands in response_.
  void Handle(providers::WebhookRequest request) {
    response_.reset();
    handler_.Handle(std::move(request), [this](HttpResponse r) { response_ = std::move(r); });
  }

  void DecodeTo(std::vector<v1::EmailEvent> events) {
    provider_->decode = [events](const providers::WebhookRequest&) {
      providers::DecodeResult result;
      result.events = events;
      return absl::StatusOr<providers::DecodeResult>(result);
    };
  }

  FakeClock clock_;
  FakeStore store_;
  std::shared_ptr<FakeProvider> provider_ = std::make_shared<FakeProvider>();
  WebhookHandler handler_;
  std::optional<HttpResponse> response_;
};

TEST_F(WebhookHandlerTest, UnknownSourceIs404) {
  Handle(Request("nope"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 404);
  EXPECT_EQ(store_.pending(), 0u);
  EXPECT_EQ(handler_.counters().unknown_source.load(), 1u);
}

TEST_F(WebhookHandlerTest, BadSignatureIs401WithoutChallenge) {
  provider_->verify = [](const providers::WebhookRequest&) {
    return absl::UnauthenticatedError("no matching signature");
  };
  Handle(Request("resend"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 401);
  EXPECT_EQ(HeaderOf(*response_, "WWW-Authenticate"), std::nullopt);
  // The verification detail stays in the log.
  EXPECT_EQ(response_->body.find("no matching signature"), std::string::npos);
  EXPECT_EQ(store_.pending(), 0u);
  EXPECT_EQ(handler_.counters().bad_signature.load(), 1u);
}

TEST_F(WebhookHandlerTest, BadBasicCredentialsAre401WithChallenge) {
  provider_->basic_auth = true;
  provider_->verify = [](const providers::WebhookRequest&) {
    return absl::UnauthenticatedError("bad credentials");
  };
  Handle(Request("resend"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 401);
  EXPECT_EQ(HeaderOf(*response_, "WWW-Authenticate"), "Basic realm=\"switchboard\"");
}

TEST_F(WebhookHandlerTest, VerificationUnavailableIs503WithRetryAfter) {
  provider_->verify = [](const providers::WebhookRequest&) {
    return absl::UnavailableError("signing certificate not fetched yet");
  };
  Handle(Request("resend"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 503);
  EXPECT_TRUE(HeaderOf(*response_, "Retry-After").has_value());
  EXPECT_EQ(handler_.counters().unavailable.load(), 1u);
}

// DESIGN.md "Status codes": an authentic payload that does not decode is answered 200 and kept
// in the source's quarantine (raw bytes, headers without secrets, reason, code version).
TEST_F(WebhookHandlerTest, AuthenticUndecodablePayloadIsQuarantinedAnd200) {
  provider_->decode = [](const providers::WebhookRequest&) {
    return absl::StatusOr<providers::DecodeResult>(
        absl::InvalidArgumentError("data.email_id: expected a string"));
  };
  providers::WebhookRequest request = Request("resend", std::string("{\"a\":\r\n1}\0x", 12));
  request.headers = {{"content-type", "application/json"},
                     {"webhook-id", "msg_1"},
                     {"webhook-signature", "v1,abc"},
                     {"authorization", "Basic dTpw"},
                     {"x-api-key", "k"},
                     {"x-custom-auth-token", "t"},
                     {"user-agent", "Svix-Webhooks/1.0"}};
  Handle(std::move(request));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 200);
  EXPECT_EQ(Json(*response_).at("quarantined"), 1);
  EXPECT_EQ(Json(*response_).at("id"), "q1");
  EXPECT_EQ(store_.pending(), 0u);  // nothing committed
  const std::vector<store::QuarantineEntry> kept = store_.quarantined();
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].source, "resend");
  EXPECT_EQ(kept[0].reason, "data.email_id: expected a string");
  EXPECT_FALSE(kept[0].code_version.empty());
  EXPECT_EQ(kept[0].received_at, kNow);
  EXPECT_EQ(kept[0].body, std::string("{\"a\":\r\n1}\0x", 12));
  using Header = std::pair<std::string, std::string>;
  EXPECT_THAT(kept[0].headers,
              ElementsAre(Header("content-type", "application/json"), Header("webhook-id", "msg_1"),
                          Header("user-agent", "Svix-Webhooks/1.0")));
  EXPECT_EQ(handler_.counters().quarantined.load(), 1u);
  EXPECT_EQ(handler_.counters().malformed.load(), 0u);
  const auto counts = handler_.QuarantineCounts();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts.begin()->first, std::make_pair(std::string("resend"), std::string("data.email_id")));
  EXPECT_EQ(counts.begin()->second, 1u);
}

TEST_F(WebhookHandlerTest, QuarantineDropsTheSourcesOwnAuthHeader) {
  auto snapshot = std::make_shared<HandlerSnapshot>(*handler_.snapshot());
  snapshot->sources.at("resend").config.header = config::HeaderAuth{"X-Shared", "s3cret"};
  handler_.SetSnapshot(snapshot);
  provider_->decode = [](const providers::WebhookRequest&) {
    return absl::StatusOr<providers::DecodeResult>(absl::InvalidArgumentError("bad"));
  };
  providers::WebhookRequest request = Request("resend");
  request.headers = {{"x-shared", "s3cret"}, {"content-type", "application/json"}};
  Handle(std::move(request));
  ASSERT_EQ(response_->status, 200);
  using Header = std::pair<std::string, std::string>;
  EXPECT_THAT(store_.quarantined().at(0).headers,
              ElementsAre(Header("content-type", "application/json")));
}

TEST_F(WebhookHandlerTest, QuarantineStoreDownIs503NeverAnAnswerThatLosesIt) {
  store_.quarantine_failure = absl::UnavailableError("down");
  provider_->decode = [](const providers::WebhookRequest&) {
    return absl::StatusOr<providers::DecodeResult>(absl::InvalidArgumentError("bad"));
  };
  Handle(Request("resend"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 503);
  EXPECT_EQ(HeaderOf(*response_, "Retry-After"), "1");
  EXPECT_EQ(handler_.counters().quarantined.load(), 0u);
}

TEST_F(WebhookHandlerTest, QuarantineReasonClassesAreBoundedPerSource) {
  int n = 0;
  provider_->decode = [&n](const providers::WebhookRequest&) {
    return absl::StatusOr<providers::DecodeResult>(
        absl::InvalidArgumentError(absl::StrCat("field", n++, ": bad")));
  };
  const size_t total = WebhookHandler::kMaxQuarantineReasons + 5;
  for (size_t i = 0; i < total; ++i) Handle(Request("resend"));
  const auto counts = handler_.QuarantineCounts();
  EXPECT_EQ(counts.size(), WebhookHandler::kMaxQuarantineReasons + 1);  // + "other"
  EXPECT_EQ(counts.at({"resend", "other"}), 5u);
}

TEST_F(WebhookHandlerTest, ControlMessageIs200WithoutCommit) {
  provider_->decode = [](const providers::WebhookRequest&) {
    providers::DecodeResult result;
    result.control = "ping";
    return absl::StatusOr<providers::DecodeResult>(result);
  };
  Handle(Request("resend"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 200);
  EXPECT_EQ(store_.pending(), 0u);
  EXPECT_EQ(handler_.counters().control.load(), 1u);
}

// A provider whose signature leaves the body uncovered (Mailgun): the token key passes once per
// body; the same body again is a retry (committed, dedupe decides), another body is refused.
TEST_F(WebhookHandlerTest, ReplayGuardLetsTheSameBodyThroughAndRefusesAnother) {
  provider_->decode = [](const providers::WebhookRequest& request) {
    providers::DecodeResult result;
    result.events.emplace_back().set_id("e1");
    result.replay_guard = providers::ReplayGuard{"token-1", "hash:" + request.body,
                                                 absl::Hours(16)};
    return absl::StatusOr<providers::DecodeResult>(result);
  };
  FakeStore auto_store(/*auto_commit=*/true);
  WebhookHandler handler(Snapshot(), auto_store, clock_);
  auto handle = [&](std::string body) {
    std::optional<HttpResponse> response;
    handler.Handle(Request("resend", std::move(body)),
                   [&](HttpResponse r) { response = std::move(r); });
    EXPECT_TRUE(response.has_value());
    return response.value_or(HttpResponse{});
  };
  EXPECT_EQ(handle("{\"a\":1}").status, 200);
  EXPECT_EQ(handle("{\"a\":1}").status, 200);  // the provider's retry
  EXPECT_EQ(auto_store.committed().size(), 2u);
  const HttpResponse replayed = handle("{\"a\":2}");
  EXPECT_EQ(replayed.status, 401);
  EXPECT_EQ(auto_store.committed().size(), 2u) << "a replayed token commits nothing";
  EXPECT_EQ(handler.counters().bad_signature.load(), 1u);
}

TEST_F(WebhookHandlerTest, ReplayGuardStoreDownIs503) {
  provider_->decode = [](const providers::WebhookRequest&) {
    providers::DecodeResult result;
    result.control = "signature-only";
    result.replay_guard = providers::ReplayGuard{"token-1", "h", absl::Hours(16)};
    return absl::StatusOr<providers::DecodeResult>(result);
  };
  store_.token_failure = absl::UnavailableError("sqlite error");
  Handle(Request("resend"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 503);
  EXPECT_EQ(HeaderOf(*response_, "Retry-After"), "1");
  EXPECT_EQ(store_.pending(), 0u);
}

TEST_F(WebhookHandlerTest, RespondsOnlyAfterTheCommitIsDurable) {
  DecodeTo({Event("e1", "a@example.com"), Event("e2", "b@example.com")});
  Handle(Request("resend"));
  EXPECT_FALSE(response_.has_value()) << "answered before the store called back";
  ASSERT_EQ(store_.pending(), 1u);

  store_.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted,
                                                    store::CommitOutcome::kCommitted});
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 200);
  EXPECT_EQ(Json(*response_), boost::json::parse(R"({"accepted":2,"duplicates":0})"));
  EXPECT_EQ(handler_.counters().accepted.load(), 2u);
}

TEST_F(WebhookHandlerTest, CountsDuplicates) {
  DecodeTo({Event("e1", "a@example.com"), Event("e2", "b@example.com"),
            Event("e3", "c@example.com")});
  Handle(Request("resend"));
  store_.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted,
                                                    store::CommitOutcome::kDuplicate,
                                                    store::CommitOutcome::kDuplicate});
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 200);
  EXPECT_EQ(Json(*response_), boost::json::parse(R"({"accepted":1,"duplicates":2})"));
  EXPECT_EQ(handler_.counters().accepted.load(), 1u);
  EXPECT_EQ(handler_.counters().duplicate.load(), 2u);
}

// Records what the handler reports to its CommitListener (the admin API's Tail).
class RecordingListener final : public CommitListener {
 public:
  bool Listening() const override { return listening; }
  void OnCommitted(const v1::EmailEvent& event, const std::vector<std::string>& agents) override {
    committed.emplace_back(event.id(), agents);
  }
  bool listening = true;
  std::vector<std::pair<std::string, std::vector<std::string>>> committed;
};

TEST_F(WebhookHandlerTest, TheCommitListenerHearsOfNewEventsOnlyWithTheirAgents) {
  RecordingListener listener;
  handler_.SetCommitListener(&listener);
  DecodeTo({Event("e1", "a@example.com"), Event("e2", "b@example.com"),
            Event("e3", "c@elsewhere.org")});
  Handle(Request("resend"));
  EXPECT_THAT(listener.committed, IsEmpty());  // not before the commit is durable
  store_.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted,
                                                    store::CommitOutcome::kDuplicate,
                                                    store::CommitOutcome::kCommitted});
  ASSERT_TRUE(response_.has_value());
  using Entry = std::pair<std::string, std::vector<std::string>>;
  EXPECT_THAT(listener.committed, ElementsAre(Entry{"e1", {"audit"}}, Entry{"e3", {}}));

  // A failed commit reports nothing; nor does a listener that is not listening.
  listener.committed.clear();
  Handle(Request("resend"));
  store_.Complete(absl::UnavailableError("database is locked"));
  listener.listening = false;
  Handle(Request("resend"));
  store_.Complete(std::vector<store::CommitOutcome>(3, store::CommitOutcome::kCommitted));
  EXPECT_THAT(listener.committed, IsEmpty());
  handler_.SetCommitListener(nullptr);
}

TEST_F(WebhookHandlerTest, StoreDownIs503WithRetryAfterOne) {
  DecodeTo({Event("e1", "a@example.com")});
  Handle(Request("resend"));
  EXPECT_FALSE(response_.has_value());
  store_.Complete(absl::UnavailableError("database is locked"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 503);
  EXPECT_EQ(HeaderOf(*response_, "Retry-After"), "1");
  EXPECT_EQ(handler_.counters().accepted.load(), 0u);
  EXPECT_EQ(handler_.counters().unavailable.load(), 1u);
}

TEST_F(WebhookHandlerTest, OutcomeCountMismatchIsNotAnAcceptance) {
  DecodeTo({Event("e1", "a@example.com"), Event("e2", "b@example.com")});
  Handle(Request("resend"));
  store_.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted});
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 503);
}

TEST_F(WebhookHandlerTest, RoutesEachEventAndStampsReceivedAtWhenUnset) {
  v1::EmailEvent stamped = Event("e2", "someone@elsewhere.org");
  stamped.mutable_received_at()->set_seconds(1600000000);
  DecodeTo({Event("e1", "a@example.com"), stamped});
  Handle(Request("resend"));
  ASSERT_EQ(store_.pending(), 1u);
  const std::vector<store::EventToCommit> events = store_.PendingEvents();
  ASSERT_EQ(events.size(), 2u);

  EXPECT_EQ(events[0].event.id(), "e1");
  EXPECT_EQ(events[0].event.received_at().seconds(), 1700000000);
  EXPECT_EQ(events[0].event.received_at().nanos(), 250000000);
  ASSERT_EQ(events[0].targets.size(), 1u);
  EXPECT_EQ(events[0].targets[0].agent, "audit");
  EXPECT_THAT(events[0].targets[0].matched_rules, ElementsAre("audit-example"));

  EXPECT_EQ(events[1].event.id(), "e2");
  EXPECT_EQ(events[1].event.received_at().seconds(), 1600000000);
  EXPECT_THAT(events[1].targets, IsEmpty()) << "unmatched events are archived only";
}

TEST_F(WebhookHandlerTest, ProviderSeesTheExactBytesAndTheClockTime) {
  Handle(Request("resend", "{\"a\":1}\r\n"));
  const providers::WebhookRequest seen = provider_->last_request();
  EXPECT_EQ(seen.body, "{\"a\":1}\r\n");
  EXPECT_EQ(seen.received_at, kNow);
}

TEST_F(WebhookHandlerTest, SwappedSnapshotAppliesToLaterRequests) {
  handler_.SetSnapshot(std::make_shared<HandlerSnapshot>());
  Handle(Request("resend"));
  ASSERT_TRUE(response_.has_value());
  EXPECT_EQ(response_->status, 404);
  EXPECT_EQ(handler_.SourceMaxBody("resend"), std::nullopt);

  handler_.SetSnapshot(Snapshot());
  Handle(Request("resend"));
  EXPECT_FALSE(response_.has_value());
  EXPECT_EQ(store_.pending(), 1u);
  EXPECT_EQ(handler_.SourceMaxBody("resend"), 4096u);
}

}  // namespace
}  // namespace switchboard::ingress

namespace switchboard::ingress {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// The series README "Metrics" documents, with the values the requests below must produce.
class WebhookHandlerMetricsTest : public ::testing::Test {
 protected:
  WebhookHandlerMetricsTest() : clock_(kNow), handler_(Snapshot(), store_, clock_, &registry_) {}

  std::shared_ptr<const HandlerSnapshot> Snapshot() {
    auto snapshot = std::make_shared<HandlerSnapshot>();
    SourceEntry entry;
    entry.config.name = "resend";
    entry.config.provider = "standard-webhooks";
    entry.provider = provider_;
    snapshot->sources.emplace("resend", std::move(entry));
    snapshot->rules = std::make_shared<FakeRuleSet>();
    return snapshot;
  }

  void Handle(std::string source) {
    response_.reset();
    providers::WebhookRequest request;
    request.source = std::move(source);
    request.method = "POST";
    request.body = "{}";
    handler_.Handle(std::move(request), [this](HttpResponse r) { response_ = std::move(r); });
  }

  void DecodeTo(std::vector<v1::EmailEvent> events) {
    provider_->decode = [events](const providers::WebhookRequest&) {
      providers::DecodeResult result;
      result.events = events;
      return absl::StatusOr<providers::DecodeResult>(result);
    };
  }

  static v1::EmailEvent Typed(std::string id, v1::EventType type) {
    v1::EmailEvent event = Event(std::move(id), "a@example.com");
    event.set_type(type);
    return event;
  }

  metrics::Registry registry_;
  FakeClock clock_;
  FakeStore store_;
  std::shared_ptr<FakeProvider> provider_ = std::make_shared<FakeProvider>();
  WebhookHandler handler_;
  std::optional<HttpResponse> response_;
};

TEST_F(WebhookHandlerMetricsTest, RequestsByResultEventsByTypeLatencyAndLastEventTime) {
  // accepted: 2 new events (a bounce and a delivery), committed 1.5 s after receipt.
  DecodeTo({Typed("e1", v1::EVENT_TYPE_BOUNCED), Typed("e2", v1::EVENT_TYPE_DELIVERED)});
  Handle("resend");
  clock_.Advance(absl::Milliseconds(1500));
  store_.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kCommitted,
                                                    store::CommitOutcome::kCommitted});
  ASSERT_EQ(response_->status, 200);
  // duplicate: every event seen before.
  DecodeTo({Typed("e1", v1::EVENT_TYPE_BOUNCED)});
  Handle("resend");
  store_.Complete(std::vector<store::CommitOutcome>{store::CommitOutcome::kDuplicate});
  ASSERT_EQ(response_->status, 200);
  // unavailable: the store is down.
  Handle("resend");
  store_.Complete(absl::UnavailableError("down"));
  ASSERT_EQ(response_->status, 503);
  // bad_signature.
  provider_->verify = [](const providers::WebhookRequest&) {
    return absl::UnauthenticatedError("bad");
  };
  Handle("resend");
  ASSERT_EQ(response_->status, 401);
  // quarantined: authentic but not decodable.
  provider_->verify = [](const providers::WebhookRequest&) { return absl::OkStatus(); };
  provider_->decode = [](const providers::WebhookRequest&) {
    return absl::StatusOr<providers::DecodeResult>(absl::InvalidArgumentError("not json"));
  };
  Handle("resend");
  ASSERT_EQ(response_->status, 200);
  // rejected: an unknown source; its attacker-chosen name never becomes a label value.
  Handle("evil\"name");
  ASSERT_EQ(response_->status, 404);

  const std::string text = registry_.Render();
  const std::string requests = "switchboard_webhook_requests_total";
  EXPECT_THAT(text, HasSubstr(requests +
                              "{source=\"resend\",provider=\"standard-webhooks\",result=\"accepted\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(requests +
                              "{source=\"resend\",provider=\"standard-webhooks\",result=\"duplicate\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(requests +
                              "{source=\"resend\",provider=\"standard-webhooks\",result=\"unavailable\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(requests +
                              "{source=\"resend\",provider=\"standard-webhooks\",result=\"bad_signature\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(requests +
                              "{source=\"resend\",provider=\"standard-webhooks\",result=\"quarantined\"} 1\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_quarantined_total{source=\"resend\",reason=\"not json\"} 1\n"));
  EXPECT_THAT(text, HasSubstr(requests + "{source=\"\",provider=\"\",result=\"rejected\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("evil")));

  // Only new events count, by type.
  EXPECT_THAT(text, HasSubstr("switchboard_events_total{source=\"resend\",type=\"bounced\"} 1\n"));
  EXPECT_THAT(text,
              HasSubstr("switchboard_events_total{source=\"resend\",type=\"delivered\"} 1\n"));
  // The last 200 with events was answered at kNow + 1.5 s (1700000001.75).
  EXPECT_THAT(text, HasSubstr("switchboard_source_last_event_timestamp_seconds{source=\"resend\"} "
                              "1700000001.75\n"));
  // Five answers for resend: one took 1.5 s (the 2.5 s bucket and up), the others 0 s.
  EXPECT_THAT(text, HasSubstr("switchboard_webhook_latency_seconds_count{source=\"resend\"} 5\n"));
  EXPECT_THAT(text, HasSubstr("switchboard_webhook_latency_seconds_sum{source=\"resend\"} 1.5\n"));
  EXPECT_THAT(text, HasSubstr(
                        "switchboard_webhook_latency_seconds_bucket{source=\"resend\",le=\"1\"} 4\n"));
  EXPECT_THAT(text, HasSubstr(
                        "switchboard_webhook_latency_seconds_bucket{source=\"resend\",le=\"2.5\"} 5\n"));
}

TEST_F(WebhookHandlerMetricsTest, ControlMessagesAreTheirOwnResultAndNotAnEvent) {
  provider_->decode = [](const providers::WebhookRequest&) {
    providers::DecodeResult result;
    result.control = "ping";
    return absl::StatusOr<providers::DecodeResult>(result);
  };
  Handle("resend");
  ASSERT_EQ(response_->status, 200);
  const std::string text = registry_.Render();
  EXPECT_THAT(text, HasSubstr("result=\"control\"} 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("switchboard_source_last_event_timestamp_seconds{")));
}

}  // namespace
}  // namespace switchboard::ingress
