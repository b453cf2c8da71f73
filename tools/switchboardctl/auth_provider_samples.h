#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "switchboard/v1/email_event.pb.h"

// Sample webhook bodies for the providers that authenticate with the source auth options
// (Postmark, Mailjet, Brevo, SparkPost) and for Mandrill, shaped like their documented payloads
// (see the provider headers under router/providers/). `event_key` becomes the provider's message
// or event id, so two samples with different keys never dedupe into one.
// kInvalidArgument: the provider has no event of that type.
namespace switchboard::ctl {

absl::StatusOr<std::string> PostmarkSample(v1::EventType type, std::string_view to, absl::Time now,
                                           std::string_view event_key);
absl::StatusOr<std::string> MailjetSample(v1::EventType type, std::string_view to, absl::Time now,
                                          std::string_view event_key);
absl::StatusOr<std::string> BrevoSample(v1::EventType type, std::string_view to, absl::Time now,
                                        std::string_view event_key);
absl::StatusOr<std::string> SparkpostSample(v1::EventType type, std::string_view to,
                                            absl::Time now, std::string_view event_key);
// The wire body: application/x-www-form-urlencoded "mandrill_events=<JSON array of one event>".
absl::StatusOr<std::string> MandrillSample(v1::EventType type, std::string_view to, absl::Time now,
                                           std::string_view event_key);

}  // namespace switchboard::ctl
