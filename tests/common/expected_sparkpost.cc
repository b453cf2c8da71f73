#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

const std::vector<ExpectedEvent>& SparkpostFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    return new std::vector<ExpectedEvent>{
        // Trimmed by anymail: no ids, timestamps or recipients.
        {"sparkpost/amp-events.batch.json", v1::EVENT_TYPE_OPENED, "", kAtReceipt, 0,
         "amp_open||"},
        {"sparkpost/amp-events.batch.json", v1::EVENT_TYPE_OPENED, "", kAtReceipt, 0,
         "amp_initial_open||"},
        {"sparkpost/amp-events.batch.json", v1::EVENT_TYPE_CLICKED, "", kAtReceipt, 0,
         "amp_click||"},
        // bounce_class 60: auto-reply, a soft class.
        {"sparkpost/bounce.challenge-response.json", v1::EVENT_TYPE_BOUNCED,
         "vacationing@example.com", kAtReceipt, 0, "bounce||", v1::BOUNCE_CLASS_SOFT},
        // bounce_class 10: invalid recipient.
        {"sparkpost/bounce.json", v1::EVENT_TYPE_BOUNCED, "bounce@example.com", 1464824548, 0,
         "84345317653491230", v1::BOUNCE_CLASS_HARD},
        {"sparkpost/click.amp.json", v1::EVENT_TYPE_CLICKED, "recipient@example.com",
         kAtReceipt, 0, "amp_click||"},
        {"sparkpost/delay.json", v1::EVENT_TYPE_DEFERRED, "recipient@nomx.example.com", 1464825748,
         0, "84345317653675522"},
        // raw_rcpt_to keeps the case as sent.
        {"sparkpost/delivery.json", v1::EVENT_TYPE_DELIVERED, "Recipient@example.com", 1454442600,
         0, "92356927693813856"},
        // timestamp "2018-10-11T23:24:45.000+00:00".
        {"sparkpost/generation-failure.json", v1::EVENT_TYPE_DROPPED, "recipient@example.com",
         1539300285, 0, "139013368081587254"},
        {"sparkpost/generation-rejection.json", v1::EVENT_TYPE_DROPPED, "suppressed@example.com",
         1464900034, 0, "102360394390563734"},
        {"sparkpost/initial-open.json", v1::EVENT_TYPE_OPENED, "recipient@example.com",
         kAtReceipt, 0, "initial_open||"},
        {"sparkpost/injection.json", v1::EVENT_TYPE_SENT, "recipient@example.com", 1454442600, 0,
         "92356927693813856"},
        {"sparkpost/list-unsubscribe.json", v1::EVENT_TYPE_UNSUBSCRIBED, "recipient@example.com",
         1464894280, 0, "66331590532986193"},
        {"sparkpost/open.json", v1::EVENT_TYPE_OPENED, "recipient@example.com", kAtReceipt,
         0, "open||"},
        // ping.json: no rows, a control message.
        // Date: Mon, 4 Jul 2016 15:53:14 +0100 = 14:53:14Z.
        {"sparkpost/relay-message.json", v1::EVENT_TYPE_RECEIVED, "you@there.com", 1467643994, 0,
         "relay_message|<484810298443-112311-xqxbby@mail.there.com>"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
