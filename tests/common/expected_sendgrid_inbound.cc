#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

// Every .multipart fixture, values read from the fixture text: envelope {"to":
// ["test@parse.example.com"]}, Message-ID <CAGsruKuAJk58E07TRMD28pA+mktpZ1mg2fjr6PAWj19e0jdnFg@
// mail.gmail.com>, Date "Tue, 9 Oct 2018 03:15:50 +0000" = 1539054950 (date -u -d ... +%s).
const std::vector<ExpectedEvent>& SendgridInboundFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    const std::string key = "<CAGsruKuAJk58E07TRMD28pA+mktpZ1mg2fjr6PAWj19e0jdnFg@mail.gmail.com>";
    return new std::vector<ExpectedEvent>{
        {"sendgrid/inbound-parse.multipart", v1::EVENT_TYPE_RECEIVED, "test@parse.example.com",
         1539054950, 0, key},
        {"sendgrid/inbound-parse.crlf.multipart", v1::EVENT_TYPE_RECEIVED, "test@parse.example.com",
         1539054950, 0, key},
    };
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
