#include "router/config/rules_yaml.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <numeric>
#include <string>

namespace switchboard::config {
namespace {

std::vector<std::string> SortedUnique(std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

void EmitFlowList(YAML::Emitter& out, const std::vector<std::string>& values) {
  out << YAML::Flow << YAML::BeginSeq;
  for (const std::string& v : values) out << v;
  out << YAML::EndSeq;
}

void EmitCase(YAML::Emitter& out, LocalPartCase mode) {
  if (mode == LocalPartCase::kInherit) return;
  out << YAML::Key << "case" << YAML::Value
      << (mode == LocalPartCase::kInsensitive ? "insensitive" : "sensitive");
}

void EmitMatch(YAML::Emitter& out, const MatchConfig& match) {
  const bool empty = match == MatchConfig{};
  if (empty) {
    out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
    return;
  }
  out << YAML::BeginMap;
  const std::pair<const char*, const std::vector<std::string>*> lists[] = {
      {"recipient", &match.recipient}, {"recipient_regex", &match.recipient_regex},
      {"types", &match.types},         {"providers", &match.providers},
      {"sources", &match.sources},     {"tags", &match.tags}};
  for (const auto& [key, values] : lists) {
    if (values->empty()) continue;
    out << YAML::Key << key << YAML::Value;
    EmitFlowList(out, SortedUnique(*values));
  }
  if (!match.metadata.empty()) {
    out << YAML::Key << "metadata" << YAML::Value << YAML::BeginMap;
    for (const auto& [key, condition] : match.metadata) {
      out << YAML::Key << key << YAML::Value;
      switch (condition.op) {
        case MetadataMatchConfig::Op::kEquals:
          out << (condition.values.empty() ? std::string() : condition.values[0]);
          break;
        case MetadataMatchConfig::Op::kPrefix:
          out << YAML::Flow << YAML::BeginMap << YAML::Key << "prefix" << YAML::Value
              << (condition.values.empty() ? std::string() : condition.values[0]) << YAML::EndMap;
          break;
        case MetadataMatchConfig::Op::kIn:
          out << YAML::Flow << YAML::BeginMap << YAML::Key << "in" << YAML::Value;
          EmitFlowList(out, SortedUnique(condition.values));
          out << YAML::EndMap;
          break;
        case MetadataMatchConfig::Op::kExists:
          out << YAML::Flow << YAML::BeginMap << YAML::Key << "exists" << YAML::Value
              << (condition.exists ? "true" : "false") << YAML::EndMap;
          break;
      }
    }
    out << YAML::EndMap;
  }
  for (const auto& [key, children] :
       {std::pair("all", &match.all), std::pair("any", &match.any)}) {
    if (children->empty()) continue;
    out << YAML::Key << key << YAML::Value << YAML::BeginSeq;
    for (const MatchConfig& child : *children) EmitMatch(out, child);
    out << YAML::EndSeq;
  }
  if (!match.negated.empty()) {
    out << YAML::Key << "not" << YAML::Value;
    EmitMatch(out, match.negated[0]);
  }
  EmitCase(out, match.local_part_case);
  out << YAML::EndMap;
}

}  // namespace

std::string RulesToYaml(const std::vector<RuleConfig>& rules) {
  if (rules.empty()) return "[]\n";
  std::vector<size_t> order(rules.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return rules[a].priority > rules[b].priority; });
  YAML::Emitter out;
  out << YAML::BeginSeq;
  for (const size_t i : order) {
    const RuleConfig& rule = rules[i];
    out << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << rule.name;
    out << YAML::Key << "priority" << YAML::Value << rule.priority;
    out << YAML::Key << "stop" << YAML::Value << (rule.stop ? "true" : "false");
    EmitCase(out, rule.local_part_case);
    out << YAML::Key << "match" << YAML::Value;
    EmitMatch(out, rule.match);
    out << YAML::Key << "agents" << YAML::Value;
    EmitFlowList(out, rule.agents);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  return std::string(out.c_str()) + "\n";
}

}  // namespace switchboard::config
