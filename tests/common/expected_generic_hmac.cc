#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

// tests/testdata/generic_hmac/acme.batch.json through the issue's `acme` source (docs/providers.md,
// "Generic HMAC"): one event per element and per recipient; the key is the element's /id; /ts is
// epoch seconds (a fraction keeps every digit), 13 digits are milliseconds, or RFC 3339 with an
// offset; without /ts the signed X-Timestamp; a type not in the types table is UNKNOWN; the
// profile maps no bounce details, so no bounce class.
const std::vector<ExpectedEvent>& GenericHmacFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    const std::string kFile = "generic_hmac/acme.batch.json";
    return new std::vector<ExpectedEvent>{
        // The domain lower-cased, the local part as sent.
        {kFile, v1::EVENT_TYPE_BOUNCED, "Jane.Doe@example.com", 1699999999, 123456789, "evt_100"},
        {kFile, v1::EVENT_TYPE_BOUNCED, "ops+alerts@example.org", 1699999999, 123456789,
         "evt_100"},
        // 2023-11-14T23:13:19.5+01:00 = 22:13:19.5Z
        {kFile, v1::EVENT_TYPE_CLICKED, "reader@example.net", 1699999999, 500000000, "evt_101"},
        {kFile, v1::EVENT_TYPE_BOUNCED, "bob@example.com", 1699999998, 123000000, "evt_102"},
        {kFile, v1::EVENT_TYPE_UNKNOWN, "carol@example.com", 1699999990, 0, "evt_103"},
        // "email": null and no ts: no recipient, the signed timestamp.
        {kFile, v1::EVENT_TYPE_CLICKED, "", kAtSignature, 0, "evt_104"},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
