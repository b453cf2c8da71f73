#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

const std::vector<ExpectedEvent>& BrevoFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    constexpr int64_t kMarch2018 = 1520363423;  // ts_epoch 1520363423000 ms
    const std::string kMessageId = "<201803011158.9876543210@smtp-relay.mailin.fr>";
    const std::string kDocsMessageId = "201798300811.5787683@relay.domain.com";
    return new std::vector<ExpectedEvent>{
        {"brevo/blocked.json", v1::EVENT_TYPE_DROPPED, "recipient@example.com", kMarch2018, 0,
         kMessageId + "|blocked|1520363423000"},
        {"brevo/click.json", v1::EVENT_TYPE_CLICKED, "recipient@example.com", kMarch2018, 0,
         kMessageId + "|click|1520363423000|https://example.com/click/me"},
        // No ts_epoch: ts_event (seconds) 1604933654.
        {"brevo/complaint.json", v1::EVENT_TYPE_COMPLAINED, "example@domain.com", 1604933654, 0,
         kDocsMessageId + "|complaint|1604933654"},
        {"brevo/deferred.json", v1::EVENT_TYPE_DEFERRED, "notauser@example.com", kMarch2018, 0,
         kMessageId + "|deferred|1520363423000"},
        {"brevo/delivered.json", v1::EVENT_TYPE_DELIVERED, "recipient@example.com", kMarch2018, 0,
         kMessageId + "|delivered|1520363423000"},
        // ts_epoch 1604933623 has 10 digits: seconds, not 1970-01-19.
        {"brevo/error.json", v1::EVENT_TYPE_DROPPED, "example@domain.com", 1604933623, 0,
         kDocsMessageId + "|error|1604933623"},
        {"brevo/hard_bounce.json", v1::EVENT_TYPE_BOUNCED, "not-a-user@example.com", kMarch2018, 0,
         kMessageId + "|hard_bounce|1520363423000", v1::BOUNCE_CLASS_HARD},
        // One RECEIVED per To and Cc address; SentAtDate Mon, 17 Jul 2023 11:11:22 -0700.
        {"brevo/inbound.json", v1::EVENT_TYPE_RECEIVED, "test@anymail.dev", 1689617482, 0,
         "inbound|<ABCDE12345@mail.example.com>"},
        {"brevo/inbound.json", v1::EVENT_TYPE_RECEIVED, "test+cc@anymail.dev", 1689617482, 0,
         "inbound|<ABCDE12345@mail.example.com>"},
        {"brevo/opened.json", v1::EVENT_TYPE_OPENED, "recipient@example.com", kMarch2018, 0,
         kMessageId + "|opened|1520363423000"},
        // Only s_epoch (milliseconds) 1534486682000.
        {"brevo/proxy_open.json", v1::EVENT_TYPE_OPENED, "example@domain.com", 1534486682, 0,
         kDocsMessageId + "|proxy_open|1534486682000"},
        // ts_epoch wins over ts/ts_event and over the zone-less local `date`.
        {"brevo/request.json", v1::EVENT_TYPE_SENT, "recipient@example.com", kMarch2018, 0,
         "<201803062010.27287306012@smtp-relay.mailin.fr>|request|1520363423000"},
        {"brevo/soft_bounce.json", v1::EVENT_TYPE_BOUNCED, "recipient@no-mx.example.com",
         kMarch2018, 0, kMessageId + "|soft_bounce|1520363423000", v1::BOUNCE_CLASS_SOFT},
        {"brevo/unique_opened.json", v1::EVENT_TYPE_OPENED, "recipient@example.com", kMarch2018, 0,
         kMessageId + "|unique_opened|1520363423000"},
        {"brevo/unique_proxy_open.json", v1::EVENT_TYPE_OPENED, "example@domain.com", 1534486682,
         0, kDocsMessageId + "|unique_proxy_open|1534486682000"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
