#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "router/routing/recipient_pattern.h"
#include "switchboard/v1/admin.pb.h"
#include "switchboard/v1/email_event.pb.h"

namespace switchboard::admin {

// A validated v1::EventFilter (proto/switchboard/v1/admin.proto), shared by Tail and
// ReplayArchive: every set field must hold (types: any of them; recipient: a recipient pattern
// as in rules, routing::RecipientPattern, local part case-sensitive; source: exact; unmatched_only: the event went to no
// agent when it was committed). An empty filter matches everything. Immutable, thread-safe.
class EventFilter {
 public:
  // kInvalidArgument naming the field under `path`, e.g. `filter.recipient: ...`,
  // `filter.types[0]: EVENT_TYPE_UNSPECIFIED is not an event type`.
  static absl::StatusOr<EventFilter> Create(const v1::EventFilter& filter, std::string_view path);

  // `agents`: where the event was routed when it was committed (empty: unmatched).
  bool Matches(const v1::EmailEvent& event, const std::vector<std::string>& agents) const;

 private:
  EventFilter() = default;

  std::set<int> types_;  // v1::EventType values; empty: any
  std::optional<routing::RecipientPattern> recipient_;
  std::string source_;
  bool unmatched_only_ = false;
};

}  // namespace switchboard::admin
