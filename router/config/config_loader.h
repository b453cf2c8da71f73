#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "router/config/config.h"

namespace switchboard::config {

// Loads and validates the YAML config file (the shape of README "Configuration" / issue 2): the
// only place that reads YAML or the environment. Not thread-safe with concurrent setenv().
//
// - Unknown and duplicate keys are errors. Durations are Go-style (duration.h), sizes as in
//   byte_size.h.
// - Every secret-bearing key K (secrets, public_key, token, tokens, password, bearer_token,
//   header.value) may instead be given as K_env (the name of an environment variable) or K_file
//   (a file, relative to the config file's folder, its trailing newline trimmed); at most one of
//   the three. For the list keys secrets and tokens, K_env holds values separated by commas or
//   whitespace and K_file one value per line (blank lines skipped).
// - store.path and K_file paths resolve against the config file's folder (`base_dir`).
// - Routing rules are validated by routing::RuleSet, so a bad rule fails loading too.
//
// Errors: kInvalidArgument (kNotFound if the file itself is missing) whose message names the file,
// the line:column where known, and the field path, e.g.
//   `switchboard.yaml:12:7: sources[2].secrets[0]: must be a string`
//   `switchboard.yaml:3:3: http.listn: unknown key`
// Messages never contain secret values.
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

// As LoadConfigFile for YAML text; errors name the file as "<config>". Relative paths resolve
// against `base_dir` (left relative if it is empty). Config::path is left empty.
absl::StatusOr<Config> LoadConfigString(std::string_view yaml, std::string_view base_dir);

// A rules document (the text Store::PutRules holds): the YAML shape of the config file's `rules:`
// list on its own, e.g. "- name: billing\n  match: {recipient: billing@example.com}\n  agents:
// [audit]\n"; an empty document or `[]` is no rules. Read and validated exactly like the config's
// rules (routing::RuleSet, against the configured `agents`). Errors: kInvalidArgument naming
// "<rules>", the line:column and the field path, e.g. `<rules>:1:3: rules[0].agents[0]: unknown
// agent "x"`.
absl::StatusOr<std::vector<RuleConfig>> ParseRulesYaml(std::string_view yaml,
                                                       const std::vector<std::string>& agents);

// One line for the startup log: every setting except secrets, which appear only as counts.
// A password in store.url is masked.
std::string RedactedSummary(const Config& config);

}  // namespace switchboard::config
