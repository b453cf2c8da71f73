#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::routing {

// The parts of one event's recipient that rules compare, computed once per RuleSet::Route call
// so that no predicate allocates. Borrows `event`, which must outlive it. Not copyable (the views
// may point into its own storage).
class MatchInput {
 public:
  explicit MatchInput(const v1::EmailEvent& event);
  MatchInput(const MatchInput&) = delete;
  MatchInput& operator=(const MatchInput&) = delete;

  const v1::EmailEvent& event() const { return event_; }
  // False when EmailEvent.recipient has no '@' (or is empty): no recipient pattern matches.
  bool has_address() const { return has_address_; }
  // The local part exactly as sent (everything before the last '@').
  absl::string_view local() const { return local_; }
  // The domain in lower-case ASCII (punycode), see domain.h. A domain that is not a valid IDN
  // stays as sent, lower-cased.
  absl::string_view domain() const { return domain_; }
  // local() + "@" + domain(); what recipient_regex sees. EmailEvent.recipient when it has no '@'.
  absl::string_view address() const { return address_; }

 private:
  const v1::EmailEvent& event_;
  bool has_address_ = false;
  absl::string_view local_;
  absl::string_view domain_;
  absl::string_view address_;
  std::string storage_;  // local@domain, only when the recipient's domain was not lower ASCII
};

}  // namespace switchboard::routing
