#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

const std::vector<ExpectedEvent>& MailjetFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    return new std::vector<ExpectedEvent>{
        {"mailjet/blocked.json", v1::EVENT_TYPE_DROPPED, "bounce@mailjet.com", 1430812195, 0,
         "13792286917004336|blocked|1430812195"},
        // hard_bounce false, error "greylisted": temporary.
        {"mailjet/bounce.greylisted.json", v1::EVENT_TYPE_BOUNCED, "protected@example.com",
         1498093527, 0, "12345678901234567|bounce|1498093527", v1::BOUNCE_CLASS_SOFT},
        {"mailjet/bounce.json", v1::EVENT_TYPE_BOUNCED, "bounce@mailjet.com", 1430812195, 0,
         "13792286917004336|bounce|1430812195", v1::BOUNCE_CLASS_HARD},
        {"mailjet/click.json", v1::EVENT_TYPE_CLICKED, "api@mailjet.com", 1433334653, 0,
         "19421777836302490|click|1433334653|https://mailjet.com"},
        // Date "20150410T160638" (UTC) = 2015-04-10T16:06:38Z.
        {"mailjet/inbound.parse.json", v1::EVENT_TYPE_RECEIVED, "passenger@mailjet.com",
         1428681998, 0, "inbound|<CAE5Zh0ZpHZ6G5DC+He5426a4RkVab7uWaTDwiMcHzOR=YB3urA@mail.gmail.com>"},
        {"mailjet/open.json", v1::EVENT_TYPE_OPENED, "api@mailjet.com", 1433103519, 0,
         "19421777396190490|open|1433103519"},
        {"mailjet/sent.grouped-anymail.json", v1::EVENT_TYPE_DELIVERED, "recipient@example.com",
         1498093527, 0, "12345678901234567|sent|1498093527"},
        // Two MessageIDs above 2^53 that a double would merge (both round to ...490).
        {"mailjet/sent.grouped-batch.json", v1::EVENT_TYPE_DELIVERED, "api@mailjet.com",
         1433333949, 0, "19421777835146490|sent|1433333949"},
        {"mailjet/sent.grouped-batch.json", v1::EVENT_TYPE_DELIVERED, "api@mailjet.com",
         1433333949, 0, "19421777835146491|sent|1433333949"},
        {"mailjet/sent.json", v1::EVENT_TYPE_DELIVERED, "api@mailjet.com", 1433333949, 0,
         "19421777835146490|sent|1433333949"},
        {"mailjet/sent.non-grouped.json", v1::EVENT_TYPE_DELIVERED, "recipient@example.com",
         1498093527, 0, "12345678901234567|sent|1498093527"},
        {"mailjet/spam.json", v1::EVENT_TYPE_COMPLAINED, "bounce@mailjet.com", 1430812195, 0,
         "13792286917004336|spam|1430812195"},
        {"mailjet/unsub.json", v1::EVENT_TYPE_UNSUBSCRIBED, "api@mailjet.com", 1433334941, 0,
         "20547674933128000|unsub|1433334941"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
