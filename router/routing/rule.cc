#include "router/routing/rule.h"

#include "absl/strings/str_cat.h"
#include "router/common/event_type_names.h"

namespace switchboard::routing {

absl::StatusOr<Rule> Rule::Create(const config::RuleConfig& config, absl::string_view path) {
  Rule rule;
  rule.name_ = config.name;
  rule.agents_ = config.agents;
  if (!config.match.recipient.empty()) {
    auto pattern = RecipientPattern::Parse(config.match.recipient);
    if (!pattern.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".match.recipient: ", pattern.status().message()));
    }
    rule.recipient_ = *std::move(pattern);
  }
  for (size_t j = 0; j < config.match.types.size(); ++j) {
    const std::string& name = config.match.types[j];
    const std::optional<v1::EventType> type = ParseEventTypeName(name);
    // Names are the lowercase suffixes only; "BOUNCED" would parse but is not the documented form.
    if (!type.has_value() || EventTypeName(*type) != name) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ".match.types[", j, "]: unknown event type \"", name, "\""));
    }
    rule.types_.insert(*type);
  }
  for (const auto& [key, value] : config.match.metadata) {
    if (key.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ".match.metadata: empty key"));
    }
    rule.metadata_.emplace_back(key, value);
  }
  return rule;
}

bool Rule::Matches(const v1::EmailEvent& event) const {
  if (!types_.empty() && !types_.contains(event.type())) return false;
  for (const auto& [key, value] : metadata_) {
    const auto it = event.metadata().find(key);
    if (it == event.metadata().end() || it->second != value) return false;
  }
  return !recipient_.has_value() || recipient_->Matches(event.recipient(), event.recipient_key());
}

}  // namespace switchboard::routing
