#include "router/routing/matcher.h"

#include <re2/re2.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "router/common/event_type_names.h"
#include "router/common/status_macros.h"
#include "router/routing/recipient_pattern.h"

namespace switchboard::routing {
namespace {

using config::MatchConfig;
using config::MetadataMatchConfig;

// How deep all/any/not may nest: far beyond any real rule, small enough for the stack.
constexpr int kMaxDepth = 32;

std::string Quoted(absl::string_view text) { return absl::StrCat("\"", text, "\""); }

std::string QuotedList(const std::vector<std::string>& values) {
  return absl::StrCat(
      "[", absl::StrJoin(values, ", ", [](std::string* out, const std::string& v) {
        out->append(Quoted(v));
      }),
      "]");
}

// Where one element of a predicate's list is named in errors: a single value reads as the
// YAML scalar form (`recipient`), several as the list form (`recipient[2]`).
std::string ElementPath(absl::string_view path, size_t size, size_t i) {
  return size == 1 ? std::string(path) : absl::StrCat(path, "[", i, "]");
}

absl::Status FieldError(absl::string_view path, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", message));
}

std::string TypeName(v1::EventType type) {
  std::string name = EventTypeName(type);
  return name.empty() ? "unspecified" : name;
}

class RecipientPredicate final : public Predicate {
 public:
  explicit RecipientPredicate(std::vector<RecipientPattern> patterns)
      : patterns_(std::move(patterns)) {}

  bool Matches(const MatchInput& input) const override {
    return std::any_of(patterns_.begin(), patterns_.end(),
                       [&](const RecipientPattern& p) { return p.Matches(input); });
  }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    for (const RecipientPattern& p : patterns_) {
      if (p.Matches(input)) {
        *reason = absl::StrCat("recipient ", Quoted(input.event().recipient()), " matches ",
                               Quoted(p.text()));
        return true;
      }
    }
    std::vector<std::string> texts;
    for (const RecipientPattern& p : patterns_) texts.push_back(p.text());
    *reason = texts.size() == 1
                  ? absl::StrCat("recipient ", Quoted(input.event().recipient()),
                                 " does not match ", Quoted(texts[0]))
                  : absl::StrCat("recipient ", Quoted(input.event().recipient()),
                                 " matches none of ", QuotedList(texts));
    return false;
  }

 private:
  const std::vector<RecipientPattern> patterns_;
};

class RegexPredicate final : public Predicate {
 public:
  explicit RegexPredicate(std::vector<std::unique_ptr<const RE2>> regexes)
      : regexes_(std::move(regexes)) {}

  bool Matches(const MatchInput& input) const override {
    return std::any_of(regexes_.begin(), regexes_.end(), [&](const auto& re) {
      return RE2::FullMatch(re2::StringPiece(input.address().data(), input.address().size()),
                            *re);
    });
  }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    std::vector<std::string> patterns;
    for (const auto& re : regexes_) {
      if (RE2::FullMatch(re2::StringPiece(input.address().data(), input.address().size()), *re)) {
        *reason = absl::StrCat("recipient ", Quoted(input.address()), " matches regex ",
                               Quoted(re->pattern()));
        return true;
      }
      patterns.push_back(re->pattern());
    }
    *reason = absl::StrCat("recipient ", Quoted(input.address()),
                           patterns.size() == 1 ? " does not match regex " : " matches no regex of ",
                           patterns.size() == 1 ? Quoted(patterns[0]) : QuotedList(patterns));
    return false;
  }

 private:
  const std::vector<std::unique_ptr<const RE2>> regexes_;
};

class TypesPredicate final : public Predicate {
 public:
  TypesPredicate(uint64_t mask, std::vector<std::string> names)
      : mask_(mask), names_(std::move(names)) {}

  bool Matches(const MatchInput& input) const override {
    const int type = input.event().type();
    return type >= 0 && type < 64 && ((mask_ >> type) & 1) != 0;
  }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    const bool matched = Matches(input);
    *reason = absl::StrCat("type ", TypeName(input.event().type()),
                           matched ? " is one of [" : " is not one of [",
                           absl::StrJoin(names_, ", "), "]");
    return matched;
  }

 private:
  const uint64_t mask_;  // bit n: EventType n
  const std::vector<std::string> names_;
};

// `providers` or `sources`: the event's field equals one of the values.
class FieldInPredicate final : public Predicate {
 public:
  using Getter = const std::string& (v1::EmailEvent::*)() const;
  FieldInPredicate(absl::string_view label, Getter getter, std::vector<std::string> values)
      : label_(label), getter_(getter), values_(std::move(values)) {}

  bool Matches(const MatchInput& input) const override {
    const std::string& value = (input.event().*getter_)();
    return std::find(values_.begin(), values_.end(), value) != values_.end();
  }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    const bool matched = Matches(input);
    *reason = absl::StrCat(label_, " ", Quoted((input.event().*getter_)()),
                           matched ? " is one of " : " is not one of ", QuotedList(values_));
    return matched;
  }

 private:
  const std::string label_;
  const Getter getter_;
  const std::vector<std::string> values_;
};

class TagsPredicate final : public Predicate {
 public:
  explicit TagsPredicate(std::vector<std::string> tags) : tags_(std::move(tags)) {}

  bool Matches(const MatchInput& input) const override {
    for (const std::string& tag : input.event().tags()) {
      if (std::find(tags_.begin(), tags_.end(), tag) != tags_.end()) return true;
    }
    return false;
  }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    for (const std::string& tag : input.event().tags()) {
      if (std::find(tags_.begin(), tags_.end(), tag) != tags_.end()) {
        *reason = absl::StrCat("tag ", Quoted(tag), " is one of ", QuotedList(tags_));
        return true;
      }
    }
    const std::vector<std::string> event_tags(input.event().tags().begin(),
                                              input.event().tags().end());
    *reason = absl::StrCat("tags ", QuotedList(event_tags), " include none of ",
                           QuotedList(tags_));
    return false;
  }

 private:
  const std::vector<std::string> tags_;
};

class MetadataPredicate final : public Predicate {
 public:
  MetadataPredicate(std::string key, MetadataMatchConfig condition)
      : key_(std::move(key)), condition_(std::move(condition)) {}

  bool Matches(const MatchInput& input) const override {
    const auto& metadata = input.event().metadata();
    const auto it = metadata.find(key_);
    const bool present = it != metadata.end();
    switch (condition_.op) {
      case MetadataMatchConfig::Op::kExists:
        return present == condition_.exists;
      case MetadataMatchConfig::Op::kEquals:
        return present && it->second == condition_.values[0];
      case MetadataMatchConfig::Op::kPrefix:
        return present && absl::StartsWith(it->second, condition_.values[0]);
      case MetadataMatchConfig::Op::kIn:
        return present && std::find(condition_.values.begin(), condition_.values.end(),
                                    it->second) != condition_.values.end();
    }
    return false;
  }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    const bool matched = Matches(input);
    const auto& metadata = input.event().metadata();
    const auto it = metadata.find(key_);
    const std::string subject = absl::StrCat("metadata.", key_);
    if (condition_.op == MetadataMatchConfig::Op::kExists) {
      *reason = absl::StrCat(subject, it == metadata.end() ? " is absent" : " is present",
                             matched ? "" : absl::StrCat(" (wanted ",
                                                         condition_.exists ? "present" : "absent",
                                                         ")"));
      return matched;
    }
    std::string wanted;
    switch (condition_.op) {
      case MetadataMatchConfig::Op::kEquals:
        wanted = absl::StrCat("equal to ", Quoted(condition_.values[0]));
        break;
      case MetadataMatchConfig::Op::kPrefix:
        wanted = absl::StrCat("starting with ", Quoted(condition_.values[0]));
        break;
      default:
        wanted = absl::StrCat("one of ", QuotedList(condition_.values));
        break;
    }
    *reason = it == metadata.end()
                  ? absl::StrCat(subject, " is absent (wanted ", wanted, ")")
                  : absl::StrCat(subject, " ", Quoted(it->second), matched ? " is " : " is not ",
                                 wanted);
    return matched;
  }

 private:
  const std::string key_;
  const MetadataMatchConfig condition_;
};

enum class Combine { kAll, kAny };

class CombinePredicate final : public Predicate {
 public:
  CombinePredicate(Combine combine, std::vector<std::unique_ptr<const Matcher>> children)
      : combine_(combine), children_(std::move(children)) {}

  bool Matches(const MatchInput& input) const override {
    const auto matches = [&](const auto& child) { return child->Matches(input); };
    return combine_ == Combine::kAll ? std::all_of(children_.begin(), children_.end(), matches)
                                     : std::any_of(children_.begin(), children_.end(), matches);
  }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    const absl::string_view name = combine_ == Combine::kAll ? "all" : "any";
    std::vector<std::string> parts;
    for (size_t i = 0; i < children_.size(); ++i) {
      std::string why;
      const bool matched = children_[i]->Explain(input, &why);
      const std::string part = absl::StrCat(name, "[", i, "]: ", why);
      // all: the first failure decides; any: the first success decides.
      if (matched != (combine_ == Combine::kAll)) {
        *reason = part;
        return matched;
      }
      parts.push_back(part);
    }
    *reason = absl::StrCat(combine_ == Combine::kAll ? "" : "none of any: ",
                           absl::StrJoin(parts, "; "));
    return combine_ == Combine::kAll;
  }

 private:
  const Combine combine_;
  const std::vector<std::unique_ptr<const Matcher>> children_;
};

class NotPredicate final : public Predicate {
 public:
  explicit NotPredicate(std::unique_ptr<const Matcher> child) : child_(std::move(child)) {}

  bool Matches(const MatchInput& input) const override { return !child_->Matches(input); }

  bool Explain(const MatchInput& input, std::string* reason) const override {
    std::string why;
    const bool inner = child_->Explain(input, &why);
    *reason = absl::StrCat(inner ? "not: but " : "not: ", why);
    return !inner;
  }

 private:
  const std::unique_ptr<const Matcher> child_;
};

absl::Status CheckNames(const std::vector<std::string>& values, absl::string_view path) {
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty()) return FieldError(ElementPath(path, values.size(), i), "empty value");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<const Matcher>> Matcher::Compile(const MatchConfig& config,
                                                                absl::string_view path,
                                                                GlobCase inherited_case) {
  return CompileAt(config, path, inherited_case, 0);
}

absl::StatusOr<std::unique_ptr<const Matcher>> Matcher::CompileAt(const MatchConfig& config,
                                                                  absl::string_view path,
                                                                  GlobCase inherited_case,
                                                                  int depth) {
  if (depth > kMaxDepth) {
    return FieldError(path, absl::StrCat("all/any/not nest deeper than ", kMaxDepth, " levels"));
  }
  const GlobCase local_case =
      config.local_part_case == config::LocalPartCase::kInherit ? inherited_case
      : config.local_part_case == config::LocalPartCase::kInsensitive
          ? GlobCase::kAsciiInsensitive
          : GlobCase::kSensitive;
  auto matcher = std::unique_ptr<Matcher>(new Matcher());
  auto& predicates = matcher->predicates_;

  // Cheapest first: Route stops at the first predicate that fails.
  if (!config.types.empty()) {
    uint64_t mask = 0;
    const std::string types_path = absl::StrCat(path, ".types");
    for (size_t i = 0; i < config.types.size(); ++i) {
      const std::string& name = config.types[i];
      const std::optional<v1::EventType> type = ParseEventTypeName(name);
      // Names are the lowercase suffixes only; "BOUNCED" would parse but is not the documented
      // form.
      if (!type.has_value() || EventTypeName(*type) != name) {
        return FieldError(absl::StrCat(types_path, "[", i, "]"),
                          absl::StrCat("unknown event type ", Quoted(name)));
      }
      mask |= uint64_t{1} << static_cast<int>(*type);
    }
    predicates.push_back(std::make_unique<TypesPredicate>(mask, config.types));
  }
  if (!config.providers.empty()) {
    RETURN_IF_ERROR(CheckNames(config.providers, absl::StrCat(path, ".providers")));
    predicates.push_back(std::make_unique<FieldInPredicate>("provider", &v1::EmailEvent::provider,
                                                            config.providers));
  }
  if (!config.sources.empty()) {
    RETURN_IF_ERROR(CheckNames(config.sources, absl::StrCat(path, ".sources")));
    predicates.push_back(
        std::make_unique<FieldInPredicate>("source", &v1::EmailEvent::source, config.sources));
  }
  for (const auto& [key, condition] : config.metadata) {
    const std::string key_path = absl::StrCat(path, ".metadata");
    if (key.empty()) return FieldError(key_path, "empty key");
    const size_t want = condition.op == MetadataMatchConfig::Op::kExists ? 0 : 1;
    if (condition.op == MetadataMatchConfig::Op::kIn ? condition.values.empty()
                                                     : condition.values.size() != want) {
      return FieldError(absl::StrCat(key_path, ".", key),
                        condition.op == MetadataMatchConfig::Op::kIn
                            ? "`in` needs at least one value"
                            : absl::StrCat("wants ", want, " value(s)"));
    }
    predicates.push_back(std::make_unique<MetadataPredicate>(key, condition));
  }
  if (!config.tags.empty()) {
    RETURN_IF_ERROR(CheckNames(config.tags, absl::StrCat(path, ".tags")));
    predicates.push_back(std::make_unique<TagsPredicate>(config.tags));
  }
  if (!config.recipient.empty()) {
    const std::string recipient_path = absl::StrCat(path, ".recipient");
    std::vector<RecipientPattern> patterns;
    for (size_t i = 0; i < config.recipient.size(); ++i) {
      auto pattern = RecipientPattern::Parse(config.recipient[i], local_case);
      if (!pattern.ok()) {
        return FieldError(ElementPath(recipient_path, config.recipient.size(), i),
                          pattern.status().message());
      }
      patterns.push_back(*std::move(pattern));
    }
    predicates.push_back(std::make_unique<RecipientPredicate>(std::move(patterns)));
  }
  if (!config.recipient_regex.empty()) {
    const std::string regex_path = absl::StrCat(path, ".recipient_regex");
    std::vector<std::unique_ptr<const RE2>> regexes;
    for (size_t i = 0; i < config.recipient_regex.size(); ++i) {
      const std::string& pattern = config.recipient_regex[i];
      RE2::Options options;
      options.set_log_errors(false);
      options.set_case_sensitive(local_case == GlobCase::kSensitive);
      auto re = std::make_unique<const RE2>(pattern, options);
      if (!re->ok()) {
        return FieldError(ElementPath(regex_path, config.recipient_regex.size(), i),
                          absl::StrCat("invalid RE2 ", Quoted(pattern), ": ", re->error()));
      }
      regexes.push_back(std::move(re));
    }
    predicates.push_back(std::make_unique<RegexPredicate>(std::move(regexes)));
  }
  for (const auto& [children, combine, name] :
       {std::tuple(&config.all, Combine::kAll, "all"), std::tuple(&config.any, Combine::kAny, "any")}) {
    if (children->empty()) continue;
    const std::string list_path = absl::StrCat(path, ".", name);
    std::vector<std::unique_ptr<const Matcher>> compiled;
    for (size_t i = 0; i < children->size(); ++i) {
      auto child =
          CompileAt((*children)[i], absl::StrCat(list_path, "[", i, "]"), local_case, depth + 1);
      if (!child.ok()) return child.status();
      compiled.push_back(*std::move(child));
    }
    predicates.push_back(std::make_unique<CombinePredicate>(combine, std::move(compiled)));
  }
  if (config.negated.size() > 1) {
    return FieldError(absl::StrCat(path, ".not"), "takes one mapping");
  }
  if (!config.negated.empty()) {
    auto child = CompileAt(config.negated[0], absl::StrCat(path, ".not"), local_case, depth + 1);
    if (!child.ok()) return child.status();
    predicates.push_back(std::make_unique<NotPredicate>(*std::move(child)));
  }
  return std::unique_ptr<const Matcher>(std::move(matcher));
}

bool Matcher::Matches(const MatchInput& input) const {
  for (const auto& predicate : predicates_) {
    if (!predicate->Matches(input)) return false;
  }
  return true;
}

bool Matcher::Explain(const MatchInput& input, std::string* reason) const {
  if (predicates_.empty()) {
    *reason = "an empty match matches every event";
    return true;
  }
  std::vector<std::string> reasons;
  for (const auto& predicate : predicates_) {
    std::string why;
    if (!predicate->Explain(input, &why)) {
      *reason = std::move(why);
      return false;
    }
    reasons.push_back(std::move(why));
  }
  *reason = absl::StrJoin(reasons, "; ");
  return true;
}

}  // namespace switchboard::routing
