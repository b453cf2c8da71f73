#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/common/expected_tables.h"
#include "tests/common/fixture_util.h"

namespace switchboard::providers::testing {

std::string PostalFixtureBody(std::string_view fixture) {
  // The docs' payload-only samples and the event each one documents
  // (https://docs.postalserver.io/developer/webhooks).
  static const auto* const kEnvelopeEvents = new std::map<std::string, std::string, std::less<>>{
      {"postal/message-status.payload.json", "MessageSent"},
      {"postal/message-bounced.payload.json", "MessageBounced"},
      {"postal/message-link-clicked.payload.json", "MessageLinkClicked"},
      {"postal/message-loaded.payload.json", "MessageLoaded"},
      {"postal/domain-dns-error.payload.json", "DomainDNSError"},
  };
  std::string body = ReadFixture(fixture);
  const auto it = kEnvelopeEvents->find(fixture);
  if (it == kEnvelopeEvents->end()) return body;
  std::string name(fixture.substr(fixture.find('/') + 1));
  name = name.substr(0, name.find('.'));
  return absl::StrCat("{\"event\":\"", it->second, "\",\"timestamp\":1477945180.5,\"payload\":",
                      body, ",\"uuid\":\"uuid-", name, "\"}");
}

// Postal (https://docs.postalserver.io/developer/webhooks): occurred_at is the envelope's float
// timestamp (every digit kept), or the payload's own timestamp where it has one; the provider event
// key is the envelope uuid, "inbound:<id>" for inbound mail. Values read off the fixture text; the
// wrapped docs samples carry the envelope timestamp 1477945180.5 (PostalFixtureBody).
const std::vector<ExpectedEvent>& PostalFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    return new std::vector<ExpectedEvent>{
        {"postal/MessageDelayed.bounce-payload.json", v1::EVENT_TYPE_BOUNCED, "bounce@example.com",
         1606753101, 911014300, "0fcc831f-92b9-4e2b-97f2-d873abc77fab",
         v1::BOUNCE_CLASS_UNDETERMINED},
        // The same envelope uuid as MessageDelayed.bounce-payload.json, another recipient.
        {"postal/MessageDelayed.json", v1::EVENT_TYPE_DEFERRED, "deferred@example.com", 1606753101,
         911014300, "0fcc831f-92b9-4e2b-97f2-d873abc77fab"},
        {"postal/MessageDeliveryFailed.json", v1::EVENT_TYPE_BOUNCED, "failed@example.com",
         1606753318, 701034300, "5fec5077-dae7-4989-94d5-e1963f3e9181", v1::BOUNCE_CLASS_HARD},
        {"postal/MessageHeld.json", v1::EVENT_TYPE_DROPPED, "suppressed@example.com", 1606752751,
         893366600, "9be13015-2e54-456c-bf66-eacbe33da824"},
        {"postal/MessageSent.json", v1::EVENT_TYPE_DELIVERED, "recipient@example.com", 1606752106,
         985806200, "58e8d7ee-2cd5-4db2-9af3-3f436105795a"},
        {"postal/domain-dns-error.payload.json", v1::EVENT_TYPE_UNKNOWN, "", 1477945180, 500000000,
         "uuid-domain-dns-error"},
        {"postal/inbound.processed.json", v1::EVENT_TYPE_RECEIVED, "sales@awesomeapp.com",
         1478169798, 924355000, "inbound:12345"},
        // The raw format's docs sample is truncated ("...") base64: no message to read, so no
        // Date and no recipient: one event at received_at without recipient.
        {"postal/inbound.raw.json", v1::EVENT_TYPE_RECEIVED, "", kAtReceipt, 0, "inbound:12345"},
        {"postal/message-bounced.payload.json", v1::EVENT_TYPE_BOUNCED, "test@example.com",
         1477945180, 500000000, "uuid-message-bounced", v1::BOUNCE_CLASS_UNDETERMINED},
        {"postal/message-link-clicked.payload.json", v1::EVENT_TYPE_CLICKED, "test@example.com",
         1477945180, 500000000, "uuid-message-link-clicked"},
        {"postal/message-loaded.payload.json", v1::EVENT_TYPE_OPENED, "test@example.com",
         1477945180, 500000000, "uuid-message-loaded"},
        // The payload's own timestamp 1477945177.12994.
        {"postal/message-status.payload.json", v1::EVENT_TYPE_DELIVERED, "test@example.com",
         1477945177, 129940000, "uuid-message-status"},
    };
  }();
  return *kEvents;
}

// The hand-written raw-format post tests/testdata/postal/inbound.raw-full.json (see the README
// there): one event per distinct To/Cc mailbox, in header order, Date 2016-11-03T10:43:18Z.
const std::vector<ExpectedEvent>& PostalRawSampleEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    const std::string kFile = "postal/inbound.raw-full.json";
    return new std::vector<ExpectedEvent>{
        // The domain lower-cased, the local part as written (NormalizeAddress).
        {kFile, v1::EVENT_TYPE_RECEIVED, "Sales@awesomeapp.com", 1478169798, 0, "inbound:12346"},
        {kFile, v1::EVENT_TYPE_RECEIVED, "support@awesomeapp.com", 1478169798, 0,
         "inbound:12346"},
        {kFile, v1::EVENT_TYPE_RECEIVED, "bob@awesomeapp.com", 1478169798, 0, "inbound:12346"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
