#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

const std::vector<ExpectedEvent>& MandrillFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    const std::string kId = "fa239ebedd0a4831a3eefa59e880d8b2";
    const std::string kTo = "example.webhook@mandrillapp.com";
    constexpr int64_t kTs = 1420303407;
    const std::string kInboundKey =
        "inbound|<999.20130510192820.aaaaaaaaaaaaaa.aaaaaaaa@mail115.us4.mandrillapp.com>|"
        "1368214102";
    return new std::vector<ExpectedEvent>{
        // The sample posts the same inbound message twice: one key, two events (dedupe keeps one).
        {"mandrill/inbound-batch.json", v1::EVENT_TYPE_RECEIVED, "test@inbound.example.com",
         1368214102, 0, kInboundKey},
        {"mandrill/inbound-batch.json", v1::EVENT_TYPE_RECEIVED, "test@inbound.example.com",
         1368214102, 0, kInboundKey},
        // msg.headers is [] here: no Message-Id.
        {"mandrill/inbound.empty-headers.json", v1::EVENT_TYPE_RECEIVED, "test@inbound.example.com",
         1368214102, 0, "inbound||1368214102"},
        {"mandrill/sample-webhook.compact.json", v1::EVENT_TYPE_SENT, kTo, 1432328547, 0,
         "exampleaaaaaaaaaaaaaaaaaaaaaaaaa|send|1432328547"},
        {"mandrill/sample-webhook.compact.json", v1::EVENT_TYPE_BOUNCED, kTo, 1432328547, 0,
         "exampleaaaaaaaaaaaaaaaaaaaaaaaaa1|hard_bounce|1432328547", v1::BOUNCE_CLASS_HARD},
        {"mandrill/sample-webhook.compact.json", v1::EVENT_TYPE_OPENED, kTo, 1432328547, 0,
         "exampleaaaaaaaaaaaaaaaaaaaaaaaaa2|open|1432328547"},
        {"mandrill/sync-blacklist.json", v1::EVENT_TYPE_UNKNOWN, "blacklist@mandrilldotnet.org",
         1483289780, 0, "blacklist.add|1483289780"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_SENT, kTo, kTs, 0,
         kId + "|send|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_DEFERRED, kTo, kTs, 0,
         kId + "|deferral|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_BOUNCED, kTo, kTs, 0,
         kId + "|hard_bounce|1420303407", v1::BOUNCE_CLASS_HARD},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_BOUNCED, kTo, kTs, 0,
         kId + "|soft_bounce|1420303407", v1::BOUNCE_CLASS_SOFT},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_OPENED, kTo, kTs, 0,
         kId + "|open|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_CLICKED, kTo, kTs, 0,
         kId + "|click|1420303407|http://mandrill.com"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_COMPLAINED, kTo, kTs, 0,
         kId + "|spam|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_UNSUBSCRIBED, kTo, kTs, 0,
         kId + "|unsub|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_DROPPED, kTo, kTs, 0,
         kId + "|reject|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_UNKNOWN, kTo, kTs, 0,
         "blacklist.add|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_UNKNOWN, kTo, kTs, 0,
         "blacklist.change|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_UNKNOWN, kTo, kTs, 0,
         "blacklist.remove|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_UNKNOWN, kTo, kTs, 0,
         "whitelist.add|1420303407"},
        {"mandrill/test-webhook-batch.json", v1::EVENT_TYPE_UNKNOWN, kTo, kTs, 0,
         "whitelist.remove|1420303407"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
