#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

const std::vector<ExpectedEvent>& MailgunFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    // occurred_at from event-data.timestamp, every fractional digit (microseconds, or 7 digits for
    // the delayed bounce: .4046676 -> 404667600 ns). Keys: event-data.id, else the composite
    // message-id|event|timestamp text (anymail's payloads carry no id).
    return new std::vector<ExpectedEvent>{
        {"mailgun/accepted.event-data.json", v1::EVENT_TYPE_SENT, "team@example.org", 1529692198,
         641821000, "jxVuhYlhReaK3QsggHfFRA"},
        // A routed message: the recipient is the route's target, not the To header.
        {"mailgun/accepted.routed.event-data.json", v1::EVENT_TYPE_SENT, "john@example.com",
         1529692198, 719447000, "cWgTfzV6QQiXY4PqhlLClw"},
        {"mailgun/clicked.event-data.json", v1::EVENT_TYPE_CLICKED, "recipient@example.com",
         1377075564, 94891000, "G5zMz2ysS6OxZ2C8xb2Tqg"},
        {"mailgun/complained.event-data.json", v1::EVENT_TYPE_COMPLAINED, "foo@example.com",
         1377214260, 49634000, "ncV2XwymRUKbPek_MIM-Gw"},
        {"mailgun/delivered.event-data.json", v1::EVENT_TYPE_DELIVERED, "john@example.com",
         1529692199, 626182000, "hK7mQVt1QtqRiOfQXta4sw"},
        {"mailgun/delivered.json", v1::EVENT_TYPE_DELIVERED, "recipient@example.com", 1534108637,
         153125000, "hTWCTD81RtiDN-..."},
        // Temporary: Mailgun keeps retrying; 450 greylisting.
        {"mailgun/failed.greylisted.json", v1::EVENT_TYPE_DEFERRED, "undeliverable@mx.example.com",
         1534111899, 659519000,
         "20180812214638.1.4A7D468E9BC18C5D@example.org|failed|1534111899.659519"},
        {"mailgun/failed.permanent-bounce.json", v1::EVENT_TYPE_BOUNCED, "invalid@example.com",
         1534110422, 389832000,
         "20180812214658.1.0DF563D0B3597700@example.org|failed|1534110422.389832",
         v1::BOUNCE_CLASS_HARD},
        {"mailgun/failed.permanent-delayed-bounce.event-data.json", v1::EVENT_TYPE_BOUNCED,
         "christest123@test.com", 1666214138, 404667600, "ZDMqRgjLTDi6rQcy7K60aA",
         v1::BOUNCE_CLASS_HARD},
        // reason suppress-bounce: not sent at all (the address bounced before).
        {"mailgun/failed.permanent-suppress-bounce.event-data.json", v1::EVENT_TYPE_DROPPED,
         "slava@example.com", 1529701969, 818328000, "pl271FzxTTmGRW8Uj3dUWw"},
        {"mailgun/failed.temporary.event-data.json", v1::EVENT_TYPE_DEFERRED, "test@test.com",
         1665066523, 871657000, "xYrATi63Rke8EC_s7EoJeA"},
        {"mailgun/opened.event-data.json", v1::EVENT_TYPE_OPENED, "recipient@example.com",
         1377047343, 42277000, "-laxIqj9QWubsjY_3pTq_g"},
        {"mailgun/opened.json", v1::EVENT_TYPE_OPENED, "recipient@example.com", 1534109600,
         89676000, "20180812213139.1.BC6694A917BB7E6A@example.org|opened|1534109600.089676"},
        // No recipient field at all.
        {"mailgun/rejected.event-data.json", v1::EVENT_TYPE_DROPPED, "", 1529704976, 104692000,
         "OMTXD3-sSmKIQa1gSKkYVA"},
        // stored: no recipient field; one event per message.recipients entry.
        {"mailgun/stored.event-data.json", v1::EVENT_TYPE_RECEIVED, "team@example.org", 1529692198,
         691758000, "WRVmVc47QYi4DHth_xpRUA"},
        {"mailgun/unsubscribed.event-data.json", v1::EVENT_TYPE_UNSUBSCRIBED,
         "recipient@example.com", 1377213791, 421473000, "W3X4JOhFT-OZidZGKKr9iA"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
