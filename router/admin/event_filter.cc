#include "router/admin/event_filter.h"

#include "absl/strings/str_cat.h"
#include "router/routing/match_input.h"

namespace switchboard::admin {

absl::StatusOr<EventFilter> EventFilter::Create(const v1::EventFilter& filter,
                                                std::string_view path) {
  EventFilter out;
  for (int i = 0; i < filter.types_size(); ++i) {
    const int type = filter.types(i);
    if (type == v1::EVENT_TYPE_UNSPECIFIED || !v1::EventType_IsValid(type)) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(path), ".types[", i, "]: ", type,
                                                     " is not an event type"));
    }
    out.types_.insert(type);
  }
  if (!filter.recipient().empty()) {
    absl::StatusOr<routing::RecipientPattern> pattern =
        routing::RecipientPattern::Parse(filter.recipient(), routing::GlobCase::kSensitive);
    if (!pattern.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(path), ".recipient: ",
                                                     pattern.status().message()));
    }
    out.recipient_ = *std::move(pattern);
  }
  out.source_ = filter.source();
  out.unmatched_only_ = filter.unmatched_only();
  return out;
}

bool EventFilter::Matches(const v1::EmailEvent& event,
                          const std::vector<std::string>& agents) const {
  if (!types_.empty() && !types_.contains(static_cast<int>(event.type()))) return false;
  if (!source_.empty() && event.source() != source_) return false;
  if (unmatched_only_ && !agents.empty()) return false;
  if (recipient_.has_value() && !recipient_->Matches(routing::MatchInput(event))) return false;
  return true;
}

}  // namespace switchboard::admin
