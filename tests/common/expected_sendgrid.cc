#include "tests/common/expected_tables.h"

namespace switchboard::providers::testing {

// From the SendGrid Event Webhook reference
// (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/event): processed -> SENT,
// spamreport -> COMPLAINED, group_unsubscribe -> UNSUBSCRIBED, group_resubscribe -> RESUBSCRIBED;
// a bounce of type "blocked" is a BLOCK, any other bounce HARD; `timestamp` is Unix seconds (13
// digits: milliseconds, as Marketing Single Send samples show); the key is sg_event_id, or where a
// sample has none the documented composite "<sg_message_id>|<event>|<timestamp text>".
// Several docs samples share placeholder ids (every event of all-events.docs-batch.json is
// "sg_event_id"; bounce.json repeats bounce.blocked.json's; "sendgrid_internal_event_id" for
// email@example.com in three files; the two open.category-* files name the same two opens): on
// the HTTP path the router counts those as duplicates, as it should.
const std::vector<ExpectedEvent>& SendgridFixtureEvents() {
  static const std::vector<ExpectedEvent>* const kEvents = [] {
    using v1::BOUNCE_CLASS_BLOCK;
    using v1::BOUNCE_CLASS_HARD;
    using v1::BOUNCE_CLASS_UNSPECIFIED;
    const std::string kTest = "example@test.com";
    constexpr int64_t kDocsTime = 1513299569;  // 2017-12-15T00:59:29Z, the docs' single samples
    constexpr int64_t kBatchTime = 1539462305;  // all-events.batch.json
    const std::string kAll = "sendgrid/all-events.batch.json";
    const std::string kDocs = "sendgrid/all-events.docs-batch.json";
    auto* events = new std::vector<ExpectedEvent>{
        {kAll, v1::EVENT_TYPE_SENT, kTest, kBatchTime, 0, "3VQNwQVlOAoGt_mNmMf7Uw=="},
        {kAll, v1::EVENT_TYPE_DEFERRED, kTest, kBatchTime, 0, "Ge2kc923E-UtbFcT6uJCtw=="},
        {kAll, v1::EVENT_TYPE_DELIVERED, kTest, kBatchTime, 0, "WexDVCfDCkJ22oAzZDiiYw=="},
        {kAll, v1::EVENT_TYPE_OPENED, kTest, kBatchTime, 0, "mSJ9e9BP2yLTzvStpKhcgw=="},
        {kAll, v1::EVENT_TYPE_CLICKED, kTest, kBatchTime, 0, "WMOHWv9ZJxMG0-YhbdoTPA=="},
        // No "type": a bounce, not a block.
        {kAll, v1::EVENT_TYPE_BOUNCED, kTest, kBatchTime, 0, "wMeZZPhZvsPgUP23YyDFKA==",
         BOUNCE_CLASS_HARD},
        {kAll, v1::EVENT_TYPE_DROPPED, kTest, kBatchTime, 0, "tIulrwSK8TW4_o1JC79pMg=="},
        {kAll, v1::EVENT_TYPE_COMPLAINED, kTest, kBatchTime, 0, "fRCOMWprw3XpGSyNSFjybw=="},
        {kAll, v1::EVENT_TYPE_UNSUBSCRIBED, kTest, kBatchTime, 0, "hZdan0mTcEueyH0RM-LT8w=="},
        {kAll, v1::EVENT_TYPE_UNSUBSCRIBED, kTest, kBatchTime, 0, "bleyaOwyAFHJnkQedbujGw=="},
        {kAll, v1::EVENT_TYPE_RESUBSCRIBED, kTest, kBatchTime, 0, "nYfQZaZgb0ircWsDYc21Kw=="},
    };
    for (v1::EventType type :
         {v1::EVENT_TYPE_SENT, v1::EVENT_TYPE_DEFERRED, v1::EVENT_TYPE_DELIVERED,
          v1::EVENT_TYPE_OPENED, v1::EVENT_TYPE_CLICKED, v1::EVENT_TYPE_BOUNCED,
          v1::EVENT_TYPE_DROPPED, v1::EVENT_TYPE_COMPLAINED, v1::EVENT_TYPE_UNSUBSCRIBED,
          v1::EVENT_TYPE_UNSUBSCRIBED, v1::EVENT_TYPE_RESUBSCRIBED}) {
      events->push_back({kDocs, type, kTest, kDocsTime, 0, "sg_event_id",
                         type == v1::EVENT_TYPE_BOUNCED ? BOUNCE_CLASS_HARD
                                                        : BOUNCE_CLASS_UNSPECIFIED});
    }
    const std::vector<ExpectedEvent> singles = {
        // 1619651146 / 1619651147 = 2021-04-28T23:05:46Z / :47Z; the bounce is "type": "blocked".
        {"sendgrid/batch.signed-crlf.json", v1::EVENT_TYPE_SENT, "invalid@gmail.com", 1619651146,
         0, "cHJvY2Vzc2VkLTE5OTQyMTEyLXFOd0JMZ1BRUWpXNkRKdktRd1NBYnctMA"},
        {"sendgrid/batch.signed-crlf.json", v1::EVENT_TYPE_BOUNCED, "invalid@gmail.com",
         1619651147, 0, "Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w",
         BOUNCE_CLASS_BLOCK},
        {"sendgrid/bounce.blocked.json", v1::EVENT_TYPE_BOUNCED, kTest, kDocsTime, 0,
         "6g4ZI7SA-xmRDv57GoPIPw==", BOUNCE_CLASS_BLOCK},
        {"sendgrid/bounce.json", v1::EVENT_TYPE_BOUNCED, kTest, kDocsTime, 0,
         "6g4ZI7SA-xmRDv57GoPIPw==", BOUNCE_CLASS_HARD},
        {"sendgrid/click.json", v1::EVENT_TYPE_CLICKED, kTest, kDocsTime, 0,
         "kCAi1KttyQdEKHhdC-nuEA=="},
        // No sg_event_id: the composite.
        {"sendgrid/click.unique-args.json", v1::EVENT_TYPE_CLICKED, "john.doe@example.com",
         1337966815, 0, "sendgrid_internal_message_id|click|1337966815"},
        {"sendgrid/click.url-offset.json", v1::EVENT_TYPE_CLICKED, "email@example.com",
         1249948800, 0, "sendgrid_internal_event_id"},
        {"sendgrid/deferred.json", v1::EVENT_TYPE_DEFERRED, kTest, kDocsTime, 0,
         "t7LEShmowp86DTdUW8M-GQ=="},
        {"sendgrid/delivered.ab-winner.json", v1::EVENT_TYPE_DELIVERED,
         "tadpole_0001@stbase-018.sjc1.sendgrid.net", 1442349911, 0, "X2M1IUfMRhuAhWM0CbmFqQ"},
        {"sendgrid/delivered.json", v1::EVENT_TYPE_DELIVERED, kTest, kDocsTime, 0,
         "rWVYmVk90MjZJ9iohOBa3w=="},
        {"sendgrid/dropped.json", v1::EVENT_TYPE_DROPPED, kTest, kDocsTime, 0,
         "zmzJhfJgAfUSOW80yEbPyw=="},
        {"sendgrid/dropped.signed.json", v1::EVENT_TYPE_DROPPED, "hello@world.com", 1600112492, 0,
         "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA"},
        {"sendgrid/group_resubscribe.json", v1::EVENT_TYPE_RESUBSCRIBED, kTest, kDocsTime, 0,
         "w_u0vJhLT-OFfprar5N93g=="},
        {"sendgrid/group_unsubscribe.json", v1::EVENT_TYPE_UNSUBSCRIBED, kTest, kDocsTime, 0,
         "ahSCB7xYcXFb-hEaawsPRw=="},
        // Neither sg_event_id nor sg_message_id: "|open|<timestamp>".
        {"sendgrid/open.category-array.json", v1::EVENT_TYPE_OPENED, "john.doe@example.com",
         1337966815, 0, "|open|1337966815"},
        {"sendgrid/open.category-array.json", v1::EVENT_TYPE_OPENED, "jane.doe@example.com",
         1337966815, 0, "|open|1337966815"},
        {"sendgrid/open.category-string.json", v1::EVENT_TYPE_OPENED, "john.doe@example.com",
         1337966815, 0, "|open|1337966815"},
        {"sendgrid/open.category-string.json", v1::EVENT_TYPE_OPENED, "jane.doe@example.com",
         1337966815, 0, "|open|1337966815"},
        {"sendgrid/open.json", v1::EVENT_TYPE_OPENED, kTest, kDocsTime, 0,
         "FOTFFO0ecsBE-zxFXfs6WA=="},
        // 1591726752372 ms = 2020-06-09T18:19:12.372Z.
        {"sendgrid/open.singlesend-ms-timestamp.json", v1::EVENT_TYPE_OPENED, "email@example.com",
         1591726752, 372000000, "sendgrid_internal_event_id"},
        {"sendgrid/processed.ab-test.json", v1::EVENT_TYPE_SENT,
         "tadpole_0010@stbase-018.sjc1.sendgrid.net", 1442349848, 0, "qNOzbkTuTNCdxa1eXEpnXg"},
        {"sendgrid/processed.ip-pool.json", v1::EVENT_TYPE_SENT, "john.doe@example.com",
         1427409578, 0, "RHFZB1IrTD2Y9Q7bUdZxUw"},
        {"sendgrid/processed.json", v1::EVENT_TYPE_SENT, kTest, kDocsTime, 0,
         "rbtnWrG1DVDGGGFHFyun0A=="},
        {"sendgrid/processed.marketing-campaign.json", v1::EVENT_TYPE_SENT, "email@example.com",
         1442349428, 0, "sendgrid_internal_event_id"},
        // "Processed" capitalised, timestamp the string "123456789" (1973-11-29T21:33:09Z), no
        // ids: the composite keeps the event and timestamp text as sent.
        {"sendgrid/processed.reserved-keys.json", v1::EVENT_TYPE_SENT, "john.doe@example.com",
         123456789, 0, "|Processed|123456789"},
        {"sendgrid/spamreport.json", v1::EVENT_TYPE_COMPLAINED, kTest, kDocsTime, 0,
         "37nvH5QBz858KGVYCM4uOA=="},
        {"sendgrid/unsubscribe.json", v1::EVENT_TYPE_UNSUBSCRIBED, kTest, kDocsTime, 0,
         "zz_BjPgU_5pS-J8vlfB1sg=="},
        {"sendgrid/unsubscribe.legacy-marketing.json", v1::EVENT_TYPE_UNSUBSCRIBED,
         "nick@example.com", 1380822437, 0, "|unsubscribe|1380822437"},
    };
    events->insert(events->end(), singles.begin(), singles.end());
    return events;
  }();
  return *kEvents;
}

}  // namespace switchboard::providers::testing
