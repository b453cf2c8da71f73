#include "router/config/config_loader.h"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "router/common/read_file.h"
#include "router/common/status_macros.h"
#include "router/config/byte_size.h"
#include "router/config/duration.h"
#include "router/routing/rule_set.h"

namespace switchboard::config {
namespace {

constexpr absl::string_view kProviderKinds[] = {
    "standard-webhooks", "sendgrid", "sendgrid-inbound", "mailgun", "postmark",
    "ses",               "mandrill", "sparkpost",        "brevo",   "mailjet",
    "postal",            "customerio", "generic-hmac"};
constexpr absl::string_view kVendors[] = {"resend", "agentmail"};
// The default body limit of an inbound-mail source (an explicit max_body overrides it).
constexpr uint64_t kInboundMaxBody = 30ull << 20;

std::string Child(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}
std::string Element(absl::string_view path, size_t i) { return absl::StrCat(path, "[", i, "]"); }

bool IsNameChar(char c, bool allow_underscore) {
  return absl::ascii_islower(static_cast<unsigned char>(c)) ||
         absl::ascii_isdigit(static_cast<unsigned char>(c)) || c == '-' ||
         (allow_underscore && c == '_');
}

bool IsName(absl::string_view name, bool allow_underscore) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return IsNameChar(c, allow_underscore);
  });
}

// The keys of one YAML mapping, each checked to be known and present once.
struct Fields {
  std::string path;
  std::map<std::string, YAML::Node, std::less<>> values;

  const YAML::Node* Find(absl::string_view key) const {
    const auto it = values.find(key);
    return it == values.end() ? nullptr : &it->second;
  }
  std::string PathOf(absl::string_view key) const { return Child(path, key); }
};

// Reads one config document. Errors are formatted "<file>:<line>:<column>: <path>: <message>".
class Loader {
 public:
  Loader(std::string file, std::string base_dir)
      : file_(std::move(file)), base_dir_(std::move(base_dir)) {}

  absl::StatusOr<Config> Load(absl::string_view yaml);
  // A rules document: the config's `rules:` list on its own (ParseRulesYaml).
  absl::StatusOr<std::vector<RuleConfig>> LoadRules(absl::string_view yaml,
                                                    const std::vector<std::string>& agent_names);

 private:
  absl::StatusOr<YAML::Node> LoadSingleDocument(absl::string_view yaml) const;
  absl::Status Error(const YAML::Node& at, absl::string_view path,
                     absl::string_view message) const {
    std::string where = file_;
    if (at.IsDefined() && !at.Mark().is_null()) {
      absl::StrAppend(&where, ":", at.Mark().line + 1, ":", at.Mark().column + 1);
    }
    return absl::InvalidArgumentError(
        path.empty() ? absl::StrCat(where, ": ", message)
                     : absl::StrCat(where, ": ", path, ": ", message));
  }

  absl::StatusOr<Fields> ReadMap(const YAML::Node& node, std::string path,
                                 std::initializer_list<absl::string_view> allowed) const;
  absl::StatusOr<std::string> ReadString(const YAML::Node& node, absl::string_view path) const;
  absl::StatusOr<std::vector<std::string>> ReadStringList(const YAML::Node& node,
                                                          absl::string_view path) const;
  absl::StatusOr<std::map<std::string, std::string>> ReadStringMap(const YAML::Node& node,
                                                                   absl::string_view path) const;
  absl::StatusOr<absl::Duration> ReadDuration(const YAML::Node& node, absl::string_view path) const;
  absl::StatusOr<uint64_t> ReadSize(const YAML::Node& node, absl::string_view path) const;
  absl::StatusOr<uint32_t> ReadCount(const YAML::Node& node, absl::string_view path) const;
  absl::Status ReadListen(const Fields& fields, std::string* listen) const;

  // K, K_env or K_file; nullopt if none is set.
  absl::StatusOr<std::optional<std::string>> ReadSecret(const Fields& fields,
                                                        absl::string_view key) const;
  absl::StatusOr<std::optional<std::vector<std::string>>> ReadSecretList(
      const Fields& fields, absl::string_view key) const;
  // The one of K, K_env, K_file that is set (nullptr if none); the key name goes to *which.
  absl::StatusOr<const YAML::Node*> PickSecretForm(const Fields& fields, absl::string_view key,
                                                   std::string* which) const;
  absl::StatusOr<std::string> ReadEnv(const YAML::Node& node, absl::string_view path) const;
  absl::StatusOr<std::string> ReadFile(const YAML::Node& node, absl::string_view path) const;

  std::string Resolve(absl::string_view path) const {
    std::filesystem::path p{std::string(path)};
    if (p.is_relative() && !base_dir_.empty()) p = std::filesystem::path(base_dir_) / p;
    return p.lexically_normal().string();
  }

  absl::Status ReadHttp(const YAML::Node& node, HttpConfig* http) const;
  absl::Status ReadGrpc(const YAML::Node& node, GrpcConfig* grpc) const;
  // cert_file, key_file (required) and, where `client_ca` allows it, client_ca_file: PEM files,
  // checked readable; the paths come back resolved.
  absl::StatusOr<TlsConfig> ReadTls(const YAML::Node& node, const std::string& path,
                                    bool client_ca) const;
  absl::Status ReadStore(const YAML::Node& node, StoreConfig* store) const;
  absl::Status ReadDedupe(const YAML::Node& node, DedupeConfig* dedupe) const;
  absl::Status ReadDelivery(const YAML::Node& node, DeliveryConfig* delivery) const;
  // ack_deadline, max_attempts, max_in_flight and backoff of `fields`, over `delivery`.
  absl::Status ReadDeliveryFields(const Fields& fields, DeliveryConfig* delivery) const;
  absl::Status ReadBackoff(const YAML::Node& node, std::string path, BackoffConfig* backoff) const;
  absl::Status ReadAdmin(const YAML::Node& node, AdminConfig* admin) const;
  absl::StatusOr<SourceConfig> ReadSource(const YAML::Node& node, std::string path,
                                          absl::Duration dedupe_window) const;
  // The options of the signature providers ses, postal, customerio and generic-hmac.
  absl::Status ReadSignatureOptions(const YAML::Node& node, const Fields& fields,
                                    SourceConfig& source) const;
  // `delivery`: the delivery.* defaults the agent's own settings override.
  absl::StatusOr<AgentConfig> ReadAgent(const YAML::Node& node, std::string path,
                                        const DeliveryConfig& delivery) const;
  absl::StatusOr<RuleConfig> ReadRule(const YAML::Node& node, std::string path) const;
  // A rule's `match` mapping (README "Routing rules"); `depth` counts enclosing all/any/not.
  absl::StatusOr<MatchConfig> ReadMatch(const YAML::Node& node, std::string path, int depth) const;
  absl::StatusOr<MetadataMatchConfig> ReadMetadataCondition(const YAML::Node& node,
                                                            absl::string_view path) const;
  absl::StatusOr<LocalPartCase> ReadCase(const YAML::Node& node, absl::string_view path) const;
  // A string or a non-empty list of strings; no value may be empty.
  absl::StatusOr<std::vector<std::string>> ReadNonEmptyStrings(const YAML::Node& node,
                                                               absl::string_view path) const;
  // The `rules` list (null or absent: none), checked by routing::RuleSet against `agent_names`.
  absl::StatusOr<std::vector<RuleConfig>> ReadRules(
      const YAML::Node* rules, const std::vector<std::string>& agent_names) const;

  const std::string file_;
  const std::string base_dir_;
  mutable int match_mappings_read_ = 0;  // ReadMatch calls in this document (alias bomb guard)
};

absl::StatusOr<Fields> Loader::ReadMap(const YAML::Node& node, std::string path,
                                       std::initializer_list<absl::string_view> allowed) const {
  Fields fields{std::move(path), {}};
  if (node.IsNull()) return fields;  // "key:" with nothing after it reads as an empty mapping
  if (!node.IsMap()) return Error(node, fields.path, "must be a mapping");
  for (const auto& entry : node) {
    const YAML::Node& key = entry.first;
    if (!key.IsScalar()) return Error(key, fields.path, "keys must be strings");
    const std::string name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      return Error(key, fields.PathOf(name), "unknown key");
    }
    if (!fields.values.emplace(name, entry.second).second) {
      return Error(key, fields.PathOf(name), "duplicate key");
    }
  }
  return fields;
}

absl::StatusOr<std::string> Loader::ReadString(const YAML::Node& node,
                                               absl::string_view path) const {
  if (!node.IsScalar()) return Error(node, path, "must be a string");
  return node.Scalar();
}

absl::StatusOr<std::vector<std::string>> Loader::ReadStringList(const YAML::Node& node,
                                                                absl::string_view path) const {
  if (!node.IsSequence()) return Error(node, path, "must be a list");
  std::vector<std::string> out;
  for (size_t i = 0; i < node.size(); ++i) {
    ASSIGN_OR_RETURN(std::string value, ReadString(node[i], Element(path, i)));
    out.push_back(std::move(value));
  }
  return out;
}

absl::StatusOr<std::map<std::string, std::string>> Loader::ReadStringMap(
    const YAML::Node& node, absl::string_view path) const {
  std::map<std::string, std::string> out;
  if (node.IsNull()) return out;
  if (!node.IsMap()) return Error(node, path, "must be a mapping");
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) return Error(entry.first, path, "keys must be strings");
    const std::string key = entry.first.Scalar();
    ASSIGN_OR_RETURN(std::string value, ReadString(entry.second, Child(path, key)));
    if (!out.emplace(key, std::move(value)).second) {
      return Error(entry.first, Child(path, key), "duplicate key");
    }
  }
  return out;
}

absl::StatusOr<absl::Duration> Loader::ReadDuration(const YAML::Node& node,
                                                    absl::string_view path) const {
  ASSIGN_OR_RETURN(const std::string text, ReadString(node, path));
  auto duration = ParseDuration(text);
  if (!duration.ok()) {
    return Error(node, path, absl::StrCat("\"", text, "\": ", duration.status().message()));
  }
  if (*duration < absl::ZeroDuration()) return Error(node, path, "must not be negative");
  return *duration;
}

absl::StatusOr<uint64_t> Loader::ReadSize(const YAML::Node& node, absl::string_view path) const {
  ASSIGN_OR_RETURN(const std::string text, ReadString(node, path));
  auto size = ParseByteSize(text);
  if (!size.ok()) {
    return Error(node, path, absl::StrCat("\"", text, "\": ", size.status().message()));
  }
  if (*size == 0) return Error(node, path, "must be at least 1 byte");
  return *size;
}

absl::StatusOr<uint32_t> Loader::ReadCount(const YAML::Node& node, absl::string_view path) const {
  ASSIGN_OR_RETURN(const std::string text, ReadString(node, path));
  uint32_t value = 0;
  const bool digits = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isdigit(static_cast<unsigned char>(c));
  });
  if (!digits || !absl::SimpleAtoi(text, &value)) {
    return Error(node, path, absl::StrCat("must be a whole number up to 4294967295, got \"", text,
                                          "\""));
  }
  if (value < 1) return Error(node, path, "must be at least 1");
  return value;
}

absl::Status Loader::ReadListen(const Fields& fields, std::string* listen) const {
  const YAML::Node* node = fields.Find("listen");
  if (node == nullptr) return absl::OkStatus();
  const std::string path = fields.PathOf("listen");
  ASSIGN_OR_RETURN(*listen, ReadString(*node, path));
  // host:port, where host may be a bracketed IPv6 literal; port 0 picks a free port.
  const size_t colon = listen->rfind(':');
  uint32_t port = 0;
  if (colon == std::string::npos || colon == 0 || colon + 1 == listen->size() ||
      !std::all_of(listen->begin() + colon + 1, listen->end(),
                   [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
      !absl::SimpleAtoi(absl::string_view(*listen).substr(colon + 1), &port) || port > 65535) {
    return Error(*node, path, absl::StrCat("want host:port, got \"", *listen, "\""));
  }
  return absl::OkStatus();
}

absl::StatusOr<const YAML::Node*> Loader::PickSecretForm(const Fields& fields,
                                                         absl::string_view key,
                                                         std::string* which) const {
  const YAML::Node* picked = nullptr;
  for (const std::string& form : {std::string(key), absl::StrCat(key, "_env"),
                                 absl::StrCat(key, "_file")}) {
    const YAML::Node* node = fields.Find(form);
    if (node == nullptr) continue;
    if (picked != nullptr) {
      return Error(*node, fields.PathOf(form),
                   absl::StrCat("set only one of ", key, ", ", key, "_env, ", key, "_file"));
    }
    picked = node;
    *which = form;
  }
  return picked;
}

absl::StatusOr<std::string> Loader::ReadEnv(const YAML::Node& node, absl::string_view path) const {
  ASSIGN_OR_RETURN(const std::string name, ReadString(node, path));
  if (name.empty()) return Error(node, path, "must name an environment variable");
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return Error(node, path, absl::StrCat("environment variable \"", name, "\" is not set"));
  }
  return std::string(value);
}

absl::StatusOr<std::string> Loader::ReadFile(const YAML::Node& node, absl::string_view path) const {
  ASSIGN_OR_RETURN(const std::string name, ReadString(node, path));
  if (name.empty()) return Error(node, path, "must name a file");
  absl::StatusOr<std::string> contents = ReadRegularFile(Resolve(name));
  if (!contents.ok()) return Error(node, path, contents.status().message());
  return contents;
}

absl::StatusOr<std::optional<std::string>> Loader::ReadSecret(const Fields& fields,
                                                              absl::string_view key) const {
  std::string which;
  ASSIGN_OR_RETURN(const YAML::Node* node, PickSecretForm(fields, key, &which));
  if (node == nullptr) return std::nullopt;
  const std::string path = fields.PathOf(which);
  std::string value;
  if (which == key) {
    ASSIGN_OR_RETURN(value, ReadString(*node, path));
  } else if (absl::EndsWith(which, "_env")) {
    ASSIGN_OR_RETURN(value, ReadEnv(*node, path));
  } else {
    ASSIGN_OR_RETURN(value, ReadFile(*node, path));
    while (!value.empty() && (value.back() == '\n' || value.back() == '\r')) value.pop_back();
  }
  if (value.empty()) return Error(*node, path, "the secret is empty");
  return value;
}

absl::StatusOr<std::optional<std::vector<std::string>>> Loader::ReadSecretList(
    const Fields& fields, absl::string_view key) const {
  std::string which;
  ASSIGN_OR_RETURN(const YAML::Node* node, PickSecretForm(fields, key, &which));
  if (node == nullptr) return std::nullopt;
  const std::string path = fields.PathOf(which);
  std::vector<std::string> values;
  if (which == key) {
    ASSIGN_OR_RETURN(values, ReadStringList(*node, path));
    for (size_t i = 0; i < values.size(); ++i) {
      if (values[i].empty()) return Error((*node)[i], Element(path, i), "the secret is empty");
    }
  } else if (absl::EndsWith(which, "_env")) {
    ASSIGN_OR_RETURN(const std::string text, ReadEnv(*node, path));
    values = absl::StrSplit(text, absl::ByAnyChar(", \t\r\n"), absl::SkipEmpty());
  } else {
    ASSIGN_OR_RETURN(const std::string text, ReadFile(*node, path));
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      line = absl::StripAsciiWhitespace(line);
      if (!line.empty()) values.emplace_back(line);
    }
  }
  if (values.empty()) return Error(*node, path, "no secrets given");
  return values;
}

absl::Status Loader::ReadHttp(const YAML::Node& node, HttpConfig* http) const {
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(node, "http",
                           {"listen", "max_body", "max_connections", "max_inflight_body",
                            "max_header_size", "max_header_count", "idle_timeout",
                            "read_timeout", "tls", "handshake_timeout", "io_threads"}));
  RETURN_IF_ERROR(ReadListen(fields, &http->listen));
  if (const YAML::Node* n = fields.Find("max_body")) {
    ASSIGN_OR_RETURN(http->max_body, ReadSize(*n, fields.PathOf("max_body")));
  }
  if (const YAML::Node* n = fields.Find("max_connections")) {
    ASSIGN_OR_RETURN(http->max_connections, ReadCount(*n, fields.PathOf("max_connections")));
  }
  if (const YAML::Node* n = fields.Find("max_inflight_body")) {
    ASSIGN_OR_RETURN(http->max_inflight_body, ReadSize(*n, fields.PathOf("max_inflight_body")));
  }
  if (const YAML::Node* n = fields.Find("max_header_size")) {
    ASSIGN_OR_RETURN(http->max_header_size, ReadSize(*n, fields.PathOf("max_header_size")));
    if (http->max_header_size > (1u << 30)) {
      return Error(*n, fields.PathOf("max_header_size"), "must be at most 1GiB");
    }
  }
  if (const YAML::Node* n = fields.Find("max_header_count")) {
    ASSIGN_OR_RETURN(http->max_header_count, ReadCount(*n, fields.PathOf("max_header_count")));
  }
  if (const YAML::Node* n = fields.Find("io_threads")) {
    ASSIGN_OR_RETURN(http->io_threads, ReadCount(*n, fields.PathOf("io_threads")));
    if (*http->io_threads > 256) {
      return Error(*n, fields.PathOf("io_threads"), "must be at most 256");
    }
  }
  for (auto [key, field] : {std::pair{"idle_timeout", &http->idle_timeout},
                            std::pair{"read_timeout", &http->read_timeout},
                            std::pair{"handshake_timeout", &http->handshake_timeout}}) {
    if (const YAML::Node* n = fields.Find(key)) {
      ASSIGN_OR_RETURN(*field, ReadDuration(*n, fields.PathOf(key)));
      if (*field <= absl::ZeroDuration()) {
        return Error(*n, fields.PathOf(key), "must be greater than 0");
      }
    }
  }
  if (const YAML::Node* n = fields.Find("tls")) {
    // Providers present no client certificates: the ingress takes no client_ca_file.
    ASSIGN_OR_RETURN(http->tls, ReadTls(*n, fields.PathOf("tls"), /*client_ca=*/false));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadGrpc(const YAML::Node& node, GrpcConfig* grpc) const {
  ASSIGN_OR_RETURN(const Fields fields, ReadMap(node, "grpc", {"listen", "tls"}));
  RETURN_IF_ERROR(ReadListen(fields, &grpc->listen));
  if (const YAML::Node* n = fields.Find("tls")) {
    ASSIGN_OR_RETURN(grpc->tls, ReadTls(*n, fields.PathOf("tls"), /*client_ca=*/true));
  }
  return absl::OkStatus();
}

absl::StatusOr<TlsConfig> Loader::ReadTls(const YAML::Node& node, const std::string& path,
                                          bool client_ca) const {
  ASSIGN_OR_RETURN(const Fields fields,
                   client_ca ? ReadMap(node, path, {"cert_file", "key_file", "client_ca_file"})
                             : ReadMap(node, path, {"cert_file", "key_file"}));
  TlsConfig tls;
  for (auto [key, field, required] :
       {std::tuple{"cert_file", &tls.cert_file, true}, std::tuple{"key_file", &tls.key_file, true},
        std::tuple{"client_ca_file", &tls.client_ca_file, false}}) {
    const YAML::Node* n = fields.Find(key);
    if (n == nullptr) {
      if (required) return Error(node, fields.PathOf(key), "required");
      continue;
    }
    // Read now so that a missing or unreadable file fails loading, not the first handshake.
    ASSIGN_OR_RETURN(const std::string contents, ReadFile(*n, fields.PathOf(key)));
    if (contents.find("-----BEGIN ") == std::string::npos) {
      return Error(*n, fields.PathOf(key), "not a PEM file");
    }
    *field = Resolve(n->Scalar());
  }
  return tls;
}

absl::Status Loader::ReadStore(const YAML::Node& node, StoreConfig* store) const {
  ASSIGN_OR_RETURN(const Fields fields, ReadMap(node, "store", {"kind", "path", "sync", "url", "url_env", "url_file",
                                                   "password", "password_env", "password_file"}));
  if (const YAML::Node* n = fields.Find("kind")) {
    ASSIGN_OR_RETURN(store->kind, ReadString(*n, fields.PathOf("kind")));
    if (store->kind != "embedded" && store->kind != "redis") {
      return Error(*n, fields.PathOf("kind"),
                   absl::StrCat("want embedded or redis, got \"", store->kind, "\""));
    }
  }
  if (const YAML::Node* n = fields.Find("path")) {
    ASSIGN_OR_RETURN(store->path, ReadString(*n, fields.PathOf("path")));
    if (store->path.empty()) return Error(*n, fields.PathOf("path"), "must not be empty");
  }
  store->path = Resolve(store->path);
  if (const YAML::Node* n = fields.Find("sync")) {
    ASSIGN_OR_RETURN(store->sync, ReadString(*n, fields.PathOf("sync")));
    if (store->sync != "full" && store->sync != "normal") {
      return Error(*n, fields.PathOf("sync"),
                   absl::StrCat("want full or normal, got \"", store->sync, "\""));
    }
  }
  // Secrets (url_env / url_file, password_env / password_file), never echoed: a redis URL may
  // carry a password.
  ASSIGN_OR_RETURN(std::optional<std::string> url, ReadSecret(fields, "url"));
  if (url.has_value()) store->url = *std::move(url);
  ASSIGN_OR_RETURN(std::optional<std::string> password, ReadSecret(fields, "password"));
  if (password.has_value()) store->password = *std::move(password);
  if (store->kind == "redis" && store->url.empty()) {
    return Error(node, fields.PathOf("url"), "required when store.kind is redis");
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadDedupe(const YAML::Node& node, DedupeConfig* dedupe) const {
  ASSIGN_OR_RETURN(const Fields fields, ReadMap(node, "dedupe", {"window"}));
  if (const YAML::Node* n = fields.Find("window")) {
    ASSIGN_OR_RETURN(dedupe->window, ReadDuration(*n, fields.PathOf("window")));
    if (dedupe->window <= absl::ZeroDuration()) {
      return Error(*n, fields.PathOf("window"), "must be greater than 0");
    }
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadDelivery(const YAML::Node& node, DeliveryConfig* delivery) const {
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(node, "delivery",
                           {"ack_deadline", "max_attempts", "max_in_flight", "backoff",
                            "retention"}));
  if (const YAML::Node* n = fields.Find("retention")) {
    ASSIGN_OR_RETURN(delivery->retention, ReadDuration(*n, fields.PathOf("retention")));
    if (delivery->retention <= absl::ZeroDuration()) {
      return Error(*n, fields.PathOf("retention"), "must be greater than 0");
    }
  }
  return ReadDeliveryFields(fields, delivery);
}

absl::Status Loader::ReadBackoff(const YAML::Node& node, std::string path,
                                 BackoffConfig* backoff) const {
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(node, std::move(path), {"initial", "max", "multiplier"}));
  if (const YAML::Node* n = fields.Find("initial")) {
    ASSIGN_OR_RETURN(backoff->initial, ReadDuration(*n, fields.PathOf("initial")));
  }
  if (const YAML::Node* n = fields.Find("max")) {
    ASSIGN_OR_RETURN(backoff->max, ReadDuration(*n, fields.PathOf("max")));
  }
  if (const YAML::Node* n = fields.Find("multiplier")) {
    ASSIGN_OR_RETURN(const std::string text, ReadString(*n, fields.PathOf("multiplier")));
    double multiplier = 0;
    if (!absl::SimpleAtod(text, &multiplier) || !std::isfinite(multiplier) || multiplier < 1 ||
        multiplier > 1000) {
      return Error(*n, fields.PathOf("multiplier"),
                   absl::StrCat("must be a number from 1 to 1000, got \"", text, "\""));
    }
    backoff->multiplier = multiplier;
  }
  if (backoff->max < backoff->initial) {
    return Error(node, fields.PathOf("max"),
                 absl::StrCat("must not be less than initial (",
                              absl::FormatDuration(backoff->initial), ")"));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadDeliveryFields(const Fields& fields, DeliveryConfig* delivery) const {
  if (const YAML::Node* n = fields.Find("backoff")) {
    RETURN_IF_ERROR(ReadBackoff(*n, fields.PathOf("backoff"), &delivery->backoff));
  }
  if (const YAML::Node* n = fields.Find("ack_deadline")) {
    ASSIGN_OR_RETURN(delivery->ack_deadline, ReadDuration(*n, fields.PathOf("ack_deadline")));
    if (delivery->ack_deadline <= absl::ZeroDuration()) {
      return Error(*n, fields.PathOf("ack_deadline"), "must be greater than 0");
    }
  }
  if (const YAML::Node* n = fields.Find("max_attempts")) {
    ASSIGN_OR_RETURN(delivery->max_attempts, ReadCount(*n, fields.PathOf("max_attempts")));
  }
  if (const YAML::Node* n = fields.Find("max_in_flight")) {
    ASSIGN_OR_RETURN(delivery->max_in_flight, ReadCount(*n, fields.PathOf("max_in_flight")));
  }
  return absl::OkStatus();
}

absl::Status Loader::ReadAdmin(const YAML::Node& node, AdminConfig* admin) const {
  ASSIGN_OR_RETURN(const Fields fields, ReadMap(node, "admin", {"tokens", "rules_file"}));
  if (const YAML::Node* file = fields.Find("rules_file")) {
    ASSIGN_OR_RETURN(admin->rules_file, ReadString(*file, fields.PathOf("rules_file")));
    if (admin->rules_file.empty()) {
      return Error(*file, fields.PathOf("rules_file"), "must not be empty");
    }
    admin->rules_file = Resolve(admin->rules_file);
  }
  const YAML::Node* tokens = fields.Find("tokens");
  if (tokens == nullptr) return absl::OkStatus();
  const std::string path = fields.PathOf("tokens");
  if (!tokens->IsSequence()) return Error(*tokens, path, "must be a list");
  std::set<std::string, std::less<>> names;
  for (size_t i = 0; i < tokens->size(); ++i) {
    const YAML::Node entry = (*tokens)[i];
    ASSIGN_OR_RETURN(
        const Fields token_fields,
        ReadMap(entry, Element(path, i), {"name", "token", "token_env", "token_file"}));
    AdminToken token;
    const YAML::Node* name = token_fields.Find("name");
    if (name == nullptr) return Error(entry, token_fields.PathOf("name"), "required");
    ASSIGN_OR_RETURN(token.name, ReadString(*name, token_fields.PathOf("name")));
    if (token.name.empty()) return Error(*name, token_fields.PathOf("name"), "must not be empty");
    if (!names.insert(token.name).second) {
      return Error(*name, token_fields.PathOf("name"),
                   absl::StrCat("duplicate admin token name \"", token.name, "\""));
    }
    ASSIGN_OR_RETURN(std::optional<std::string> secret, ReadSecret(token_fields, "token"));
    if (!secret.has_value()) {
      return Error(entry, token_fields.PathOf("token"), "required (or token_env, token_file)");
    }
    token.token = *std::move(secret);
    admin->tokens.push_back(std::move(token));
  }
  return absl::OkStatus();
}

absl::StatusOr<SourceConfig> Loader::ReadSource(const YAML::Node& node, std::string path,
                                                absl::Duration dedupe_window) const {
  ASSIGN_OR_RETURN(
      const Fields fields,
      ReadMap(node, std::move(path),
              {"name", "provider", "vendor", "secrets", "secrets_env", "secrets_file",
               "public_key", "public_key_env", "public_key_file", "tolerance", "max_body",
               "inline_attachments_max", "inline_raw_max",
               "basic_auth", "bearer_token", "bearer_token_env", "bearer_token_file", "header",
               "signing_key", "signing_key_env", "signing_key_file",
               "topic_arns", "signature_versions", "max_age", "auto_confirm", "pinned_certs",
               "secret", "secret_env", "secret_file", "algorithm", "encoding", "prefix", "signed",
               "timestamp_header", "id_header", "mapping", "types",
               "key", "key_env", "key_file", "url"}));
  SourceConfig source;

  const YAML::Node* name = fields.Find("name");
  if (name == nullptr) return Error(node, fields.PathOf("name"), "required");
  ASSIGN_OR_RETURN(source.name, ReadString(*name, fields.PathOf("name")));
  if (!IsName(source.name, /*allow_underscore=*/false)) {
    return Error(*name, fields.PathOf("name"),
                 absl::StrCat("\"", source.name, "\" does not match [a-z0-9-]+"));
  }

  const YAML::Node* provider = fields.Find("provider");
  if (provider == nullptr) return Error(node, fields.PathOf("provider"), "required");
  ASSIGN_OR_RETURN(source.provider, ReadString(*provider, fields.PathOf("provider")));
  if (std::find(std::begin(kProviderKinds), std::end(kProviderKinds), source.provider) ==
      std::end(kProviderKinds)) {
    return Error(*provider, fields.PathOf("provider"),
                 absl::StrCat("unknown provider \"", source.provider, "\" (want one of ",
                              absl::StrJoin(kProviderKinds, ", "), ")"));
  }

  if (const YAML::Node* vendor = fields.Find("vendor")) {
    ASSIGN_OR_RETURN(source.vendor, ReadString(*vendor, fields.PathOf("vendor")));
    if (source.provider != "standard-webhooks") {
      return Error(*vendor, fields.PathOf("vendor"),
                   "only valid with provider standard-webhooks");
    }
    if (std::find(std::begin(kVendors), std::end(kVendors), source.vendor) ==
        std::end(kVendors)) {
      return Error(*vendor, fields.PathOf("vendor"),
                   absl::StrCat("want resend or agentmail, got \"", source.vendor, "\""));
    }
  }

  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> secrets,
                   ReadSecretList(fields, "secrets"));
  if (secrets.has_value()) source.secrets = *std::move(secrets);
  ASSIGN_OR_RETURN(std::optional<std::string> public_key, ReadSecret(fields, "public_key"));
  if (public_key.has_value()) source.public_key = *std::move(public_key);
  // The credentials the two providers of issue 2 cannot start without; later providers add theirs.
  if (source.provider == "standard-webhooks" && source.secrets.empty()) {
    return Error(node, fields.PathOf("secrets"),
                 "required for provider standard-webhooks (or secrets_env, secrets_file)");
  }
  if (source.provider == "sendgrid" && source.public_key.empty()) {
    return Error(node, fields.PathOf("public_key"),
                 "required for provider sendgrid (or public_key_env, public_key_file)");
  }

  if (const YAML::Node* n = fields.Find("tolerance")) {
    ASSIGN_OR_RETURN(source.tolerance, ReadDuration(*n, fields.PathOf("tolerance")));
    // Otherwise a captured request replays as a new event once its dedupe key has expired.
    if (*source.tolerance > dedupe_window) {
      return Error(*n, fields.PathOf("tolerance"),
                   absl::StrCat(absl::FormatDuration(*source.tolerance),
                                " exceeds dedupe.window (", absl::FormatDuration(dedupe_window),
                                "); a replay older than the window would be accepted as new"));
    }
  }
  if (const YAML::Node* n = fields.Find("max_body")) {
    ASSIGN_OR_RETURN(source.max_body, ReadSize(*n, fields.PathOf("max_body")));
  } else if (source.provider == "sendgrid-inbound") {
    // Inbound mail carries attachments; SendGrid Parse accepts messages up to 30 MiB in total.
    source.max_body = kInboundMaxBody;
  }
  if (const YAML::Node* n = fields.Find("inline_attachments_max")) {
    ASSIGN_OR_RETURN(source.inline_attachments_max,
                     ReadSize(*n, fields.PathOf("inline_attachments_max")));
  }
  if (const YAML::Node* n = fields.Find("inline_raw_max")) {
    ASSIGN_OR_RETURN(source.inline_raw_max, ReadSize(*n, fields.PathOf("inline_raw_max")));
  }

  if (const YAML::Node* n = fields.Find("basic_auth")) {
    ASSIGN_OR_RETURN(const Fields auth_fields,
                     ReadMap(*n, fields.PathOf("basic_auth"),
                             {"username", "password", "password_env", "password_file"}));
    BasicAuth auth;
    const YAML::Node* username = auth_fields.Find("username");
    if (username == nullptr) return Error(*n, auth_fields.PathOf("username"), "required");
    ASSIGN_OR_RETURN(auth.username, ReadString(*username, auth_fields.PathOf("username")));
    // RFC 7617: the user-id cannot contain a colon.
    if (auth.username.empty() || absl::StrContains(auth.username, ':')) {
      return Error(*username, auth_fields.PathOf("username"),
                   "must be non-empty and contain no ':'");
    }
    ASSIGN_OR_RETURN(std::optional<std::string> password, ReadSecret(auth_fields, "password"));
    if (!password.has_value()) {
      return Error(*n, auth_fields.PathOf("password"),
                   "required (or password_env, password_file)");
    }
    auth.password = *std::move(password);
    source.basic_auth = std::move(auth);
  }

  ASSIGN_OR_RETURN(std::optional<std::string> bearer, ReadSecret(fields, "bearer_token"));
  if (bearer.has_value()) source.bearer_token = *std::move(bearer);

  if (const YAML::Node* n = fields.Find("header"); n != nullptr && n->IsScalar()) {
    // generic-hmac names its signature header with a plain string (`header: X-Signature`); every
    // other provider uses the {name, value} custom-header credential.
    if (source.provider != "generic-hmac") {
      return Error(*n, fields.PathOf("header"),
                   "must be a mapping {name, value} (the string form is for generic-hmac only)");
    }
  } else if (n != nullptr) {
    ASSIGN_OR_RETURN(const Fields header_fields,
                     ReadMap(*n, fields.PathOf("header"),
                             {"name", "value", "value_env", "value_file"}));
    HeaderAuth header;
    const YAML::Node* header_name = header_fields.Find("name");
    if (header_name == nullptr) return Error(*n, header_fields.PathOf("name"), "required");
    ASSIGN_OR_RETURN(header.name, ReadString(*header_name, header_fields.PathOf("name")));
    if (header.name.empty()) {
      return Error(*header_name, header_fields.PathOf("name"), "must not be empty");
    }
    ASSIGN_OR_RETURN(std::optional<std::string> value, ReadSecret(header_fields, "value"));
    if (!value.has_value()) {
      return Error(*n, header_fields.PathOf("value"), "required (or value_env, value_file)");
    }
    header.value = *std::move(value);
    source.header = std::move(header);
  }
  RETURN_IF_ERROR(ReadSignatureOptions(node, fields, source));

  // mandrill: the webhook key and the public URL its signature covers.
  ASSIGN_OR_RETURN(std::optional<std::string> mandrill_key, ReadSecret(fields, "key"));
  if (mandrill_key.has_value()) source.key = *std::move(mandrill_key);
  if (const YAML::Node* n = fields.Find("url")) {
    ASSIGN_OR_RETURN(source.url, ReadString(*n, fields.PathOf("url")));
  }
  if (source.provider == "mandrill") {
    if (source.key.empty()) {
      return Error(node, fields.PathOf("key"),
                   "required for provider mandrill (or key_env, key_file)");
    }
    if (source.url.empty()) {
      return Error(node, fields.PathOf("url"),
                   "required for provider mandrill: the webhook URL as entered in Mandrill");
    }
  } else {
    for (const char* key : {"key", "key_env", "key_file", "url"}) {
      if (const YAML::Node* n = fields.Find(key)) {
        return Error(*n, fields.PathOf(key), "only valid with provider mandrill");
      }
    }
  }
  return source;
}

absl::Status Loader::ReadSignatureOptions(const YAML::Node& node, const Fields& fields,
                                          SourceConfig& source) const {
  // Keys that belong to one provider are refused elsewhere: a typo'd provider must not silently
  // run without the check the operator configured.
  const auto only_for = [&](std::initializer_list<absl::string_view> keys,
                            absl::string_view provider) -> absl::Status {
    if (source.provider == provider) return absl::OkStatus();
    for (absl::string_view key : keys) {
      for (const std::string& form :
           {std::string(key), absl::StrCat(key, "_env"), absl::StrCat(key, "_file")}) {
        if (const YAML::Node* n = fields.Find(form)) {
          return Error(*n, fields.PathOf(form), absl::StrCat("only valid with provider ", provider));
        }
      }
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(only_for({"topic_arns", "signature_versions", "max_age", "auto_confirm",
                            "pinned_certs"},
                           "ses"));
  RETURN_IF_ERROR(only_for({"secret", "algorithm", "encoding", "prefix", "signed",
                            "timestamp_header", "id_header", "mapping", "types"},
                           "generic-hmac"));

  ASSIGN_OR_RETURN(std::optional<std::string> signing_key, ReadSecret(fields, "signing_key"));
  if (signing_key.has_value()) source.signing_key = *std::move(signing_key);
  if (source.provider == "customerio" && source.signing_key.empty()) {
    return Error(node, fields.PathOf("signing_key"),
                 "required for provider customerio (or signing_key_env, signing_key_file)");
  }
  if (source.provider == "postal" && source.public_key.empty()) {
    return Error(node, fields.PathOf("public_key"),
                 "required for provider postal (or public_key_env, public_key_file)");
  }

  if (source.provider == "ses") {
    const YAML::Node* arns = fields.Find("topic_arns");
    if (arns == nullptr) {
      return Error(node, fields.PathOf("topic_arns"),
                   "required for provider ses: any AWS account can sign SNS messages");
    }
    ASSIGN_OR_RETURN(source.topic_arns, ReadStringList(*arns, fields.PathOf("topic_arns")));
    if (source.topic_arns.empty()) {
      return Error(*arns, fields.PathOf("topic_arns"), "must name at least one topic ARN");
    }
    for (size_t i = 0; i < source.topic_arns.size(); ++i) {
      if (!absl::StartsWith(source.topic_arns[i], "arn:")) {
        return Error((*arns)[i], Element(fields.PathOf("topic_arns"), i),
                     absl::StrCat("\"", source.topic_arns[i], "\" is not an ARN"));
      }
    }
    if (const YAML::Node* n = fields.Find("signature_versions")) {
      ASSIGN_OR_RETURN(const std::vector<std::string> versions,
                       ReadStringList(*n, fields.PathOf("signature_versions")));
      for (size_t i = 0; i < versions.size(); ++i) {
        if (versions[i] != "1" && versions[i] != "2") {
          return Error((*n)[i], Element(fields.PathOf("signature_versions"), i),
                       absl::StrCat("want 1 or 2, got \"", versions[i], "\""));
        }
        source.signature_versions.push_back(versions[i] == "1" ? 1 : 2);
      }
      if (source.signature_versions.empty()) {
        return Error(*n, fields.PathOf("signature_versions"), "must allow at least one version");
      }
    }
    if (const YAML::Node* n = fields.Find("max_age")) {
      ASSIGN_OR_RETURN(source.max_age, ReadDuration(*n, fields.PathOf("max_age")));
    }
    if (const YAML::Node* n = fields.Find("auto_confirm")) {
      ASSIGN_OR_RETURN(const std::string flag, ReadString(*n, fields.PathOf("auto_confirm")));
      if (flag != "true" && flag != "false") {
        return Error(*n, fields.PathOf("auto_confirm"),
                     absl::StrCat("want true or false, got \"", flag, "\""));
      }
      source.auto_confirm = flag == "true";
    }
    if (const YAML::Node* n = fields.Find("pinned_certs")) {
      ASSIGN_OR_RETURN(source.pinned_certs, ReadStringMap(*n, fields.PathOf("pinned_certs")));
      for (auto& [url, file] : source.pinned_certs) {
        if (file.empty()) {
          return Error(*n, Child(fields.PathOf("pinned_certs"), url), "must name a PEM file");
        }
        file = Resolve(file);
      }
    }
  }

  if (source.provider == "generic-hmac") {
    SourceConfig::GenericHmac hmac;
    ASSIGN_OR_RETURN(std::optional<std::string> secret, ReadSecret(fields, "secret"));
    if (!secret.has_value()) {
      return Error(node, fields.PathOf("secret"),
                   "required for provider generic-hmac (or secret_env, secret_file)");
    }
    hmac.secret = *std::move(secret);
    const YAML::Node* header = fields.Find("header");
    if (header == nullptr) {
      return Error(node, fields.PathOf("header"),
                   "required for provider generic-hmac: the signature header's name");
    }
    ASSIGN_OR_RETURN(hmac.signature_header, ReadString(*header, fields.PathOf("header")));
    const auto read_choice = [&](absl::string_view key, std::initializer_list<absl::string_view> ok,
                                 std::string& out) -> absl::Status {
      const YAML::Node* n = fields.Find(key);
      if (n == nullptr) return absl::OkStatus();
      ASSIGN_OR_RETURN(out, ReadString(*n, fields.PathOf(key)));
      if (std::find(ok.begin(), ok.end(), out) == ok.end()) {
        return Error(*n, fields.PathOf(key),
                     absl::StrCat("want one of ", absl::StrJoin(ok, ", "), ", got \"", out, "\""));
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(read_choice("algorithm", {"sha1", "sha256", "sha512"}, hmac.algorithm));
    RETURN_IF_ERROR(read_choice("encoding", {"hex", "base64"}, hmac.encoding));
    for (auto [key, out] : {std::pair<absl::string_view, std::string*>{"prefix", &hmac.prefix},
                            {"signed", &hmac.signed_template},
                            {"timestamp_header", &hmac.timestamp_header},
                            {"id_header", &hmac.id_header}}) {
      if (const YAML::Node* n = fields.Find(key)) {
        ASSIGN_OR_RETURN(*out, ReadString(*n, fields.PathOf(key)));
      }
    }
    if (const YAML::Node* n = fields.Find("mapping")) {
      ASSIGN_OR_RETURN(hmac.mapping, ReadStringMap(*n, fields.PathOf("mapping")));
    }
    if (const YAML::Node* n = fields.Find("types")) {
      ASSIGN_OR_RETURN(hmac.types, ReadStringMap(*n, fields.PathOf("types")));
    }
    source.generic_hmac = std::move(hmac);
  }
  return absl::OkStatus();
}

absl::StatusOr<AgentConfig> Loader::ReadAgent(const YAML::Node& node, std::string path,
                                              const DeliveryConfig& delivery) const {
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(node, std::move(path),
                           {"name", "tokens", "tokens_env", "tokens_file", "ack_deadline",
                            "max_attempts", "max_in_flight", "backoff"}));
  AgentConfig agent;
  const YAML::Node* name = fields.Find("name");
  if (name == nullptr) return Error(node, fields.PathOf("name"), "required");
  ASSIGN_OR_RETURN(agent.name, ReadString(*name, fields.PathOf("name")));
  if (!IsName(agent.name, /*allow_underscore=*/true)) {
    return Error(*name, fields.PathOf("name"),
                 absl::StrCat("\"", agent.name, "\" does not match [a-z0-9-_]+"));
  }
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> tokens,
                   ReadSecretList(fields, "tokens"));
  if (!tokens.has_value()) {
    return Error(node, fields.PathOf("tokens"), "required (or tokens_env, tokens_file)");
  }
  agent.tokens = *std::move(tokens);
  for (const char* key : {"ack_deadline", "max_attempts", "max_in_flight", "backoff"}) {
    if (fields.Find(key) != nullptr) {
      DeliveryConfig own = delivery;
      RETURN_IF_ERROR(ReadDeliveryFields(fields, &own));
      agent.delivery = own;
      break;
    }
  }
  return agent;
}

absl::StatusOr<RuleConfig> Loader::ReadRule(const YAML::Node& node, std::string path) const {
  if (node.IsNull()) return Error(node, path, "must be a mapping");
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(node, std::move(path),
                           {"name", "priority", "match", "agents", "stop", "case"}));
  RuleConfig rule;
  if (const YAML::Node* n = fields.Find("name")) {
    ASSIGN_OR_RETURN(rule.name, ReadString(*n, fields.PathOf("name")));
  }
  if (const YAML::Node* n = fields.Find("priority")) {
    const std::string priority_path = fields.PathOf("priority");
    const std::string text = n->IsScalar() ? n->Scalar() : "";
    absl::string_view digits = text;
    if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
    if (!n->IsScalar() || digits.empty() ||
        !std::all_of(digits.begin(), digits.end(),
                     [](char c) { return absl::ascii_isdigit(static_cast<unsigned char>(c)); }) ||
        !absl::SimpleAtoi(text, &rule.priority)) {
      return Error(*n, priority_path,
                   n->IsScalar() ? absl::StrCat("must be a whole number from -2147483648 to "
                                                "2147483647, got \"", text, "\"")
                                 : "must be a whole number");
    }
  }
  if (const YAML::Node* n = fields.Find("agents")) {
    ASSIGN_OR_RETURN(rule.agents, ReadStringList(*n, fields.PathOf("agents")));
  }
  if (const YAML::Node* n = fields.Find("stop")) {
    ASSIGN_OR_RETURN(const std::string flag, ReadString(*n, fields.PathOf("stop")));
    if (flag != "true" && flag != "false") {
      return Error(*n, fields.PathOf("stop"), absl::StrCat("want true or false, got \"", flag, "\""));
    }
    rule.stop = flag == "true";
  }
  if (const YAML::Node* n = fields.Find("case")) {
    ASSIGN_OR_RETURN(rule.local_part_case, ReadCase(*n, fields.PathOf("case")));
  }
  const YAML::Node* match = fields.Find("match");
  if (match == nullptr) {
    return Error(node, fields.PathOf("match"), "required (`match: {}` matches every event)");
  }
  ASSIGN_OR_RETURN(rule.match, ReadMatch(*match, fields.PathOf("match"), 0));
  return rule;
}

absl::StatusOr<LocalPartCase> Loader::ReadCase(const YAML::Node& node,
                                               absl::string_view path) const {
  ASSIGN_OR_RETURN(const std::string mode, ReadString(node, path));
  if (mode == "sensitive") return LocalPartCase::kSensitive;
  if (mode == "insensitive") return LocalPartCase::kInsensitive;
  return Error(node, path, absl::StrCat("want sensitive or insensitive, got \"", mode, "\""));
}

absl::StatusOr<std::vector<std::string>> Loader::ReadNonEmptyStrings(
    const YAML::Node& node, absl::string_view path) const {
  std::vector<std::string> values;
  if (node.IsScalar()) {
    values.push_back(node.Scalar());
  } else {
    ASSIGN_OR_RETURN(values, ReadStringList(node, path));
    if (values.empty()) return Error(node, path, "must not be an empty list");
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].empty()) {
      return Error(node.IsScalar() ? node : node[i], node.IsScalar() ? path : Element(path, i),
                   "must not be empty");
    }
  }
  return values;
}

absl::StatusOr<MetadataMatchConfig> Loader::ReadMetadataCondition(const YAML::Node& node,
                                                                 absl::string_view path) const {
  MetadataMatchConfig condition;
  if (node.IsScalar()) {
    condition.values.push_back(node.Scalar());
    return condition;
  }
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(node, std::string(path), {"equals", "in", "prefix", "exists"}));
  if (fields.values.size() != 1) {
    return Error(node, path, "want a string or exactly one of equals, in, prefix, exists");
  }
  const auto& [op, value] = *fields.values.begin();
  const std::string op_path = fields.PathOf(op);
  if (op == "exists") {
    ASSIGN_OR_RETURN(const std::string flag, ReadString(value, op_path));
    if (flag != "true" && flag != "false") {
      return Error(value, op_path, absl::StrCat("want true or false, got \"", flag, "\""));
    }
    condition.op = MetadataMatchConfig::Op::kExists;
    condition.exists = flag == "true";
  } else if (op == "in") {
    condition.op = MetadataMatchConfig::Op::kIn;
    ASSIGN_OR_RETURN(condition.values, ReadStringList(value, op_path));
    if (condition.values.empty()) return Error(value, op_path, "must not be an empty list");
  } else {
    condition.op = op == "equals" ? MetadataMatchConfig::Op::kEquals
                                  : MetadataMatchConfig::Op::kPrefix;
    ASSIGN_OR_RETURN(std::string text, ReadString(value, op_path));
    condition.values.push_back(std::move(text));
  }
  return condition;
}

absl::StatusOr<MatchConfig> Loader::ReadMatch(const YAML::Node& node, std::string path,
                                              int depth) const {
  // Far beyond any real rule; keeps hostile documents off the stack.
  constexpr int kMaxMatchDepth = 32;
  if (depth > kMaxMatchDepth) {
    return Error(node, path, absl::StrCat("all/any/not nest deeper than ", kMaxMatchDepth));
  }
  // YAML aliases can repeat one nested list many times over ("billion laughs"): bound the total.
  constexpr int kMaxMatchMappings = 10000;
  if (++match_mappings_read_ > kMaxMatchMappings) {
    return Error(node, path, absl::StrCat("more than ", kMaxMatchMappings, " match mappings"));
  }
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(node, std::move(path),
                           {"recipient", "recipient_regex", "types", "providers", "sources",
                            "tags", "metadata", "all", "any", "not", "case"}));
  MatchConfig match;
  const std::pair<absl::string_view, std::vector<std::string>*> lists[] = {
      {"recipient", &match.recipient}, {"recipient_regex", &match.recipient_regex},
      {"types", &match.types},         {"providers", &match.providers},
      {"sources", &match.sources},     {"tags", &match.tags}};
  for (const auto& [key, out] : lists) {
    if (const YAML::Node* n = fields.Find(key)) {
      ASSIGN_OR_RETURN(*out, ReadNonEmptyStrings(*n, fields.PathOf(key)));
    }
  }
  if (const YAML::Node* n = fields.Find("metadata")) {
    const std::string metadata_path = fields.PathOf("metadata");
    if (!n->IsMap()) return Error(*n, metadata_path, "must be a mapping");
    for (const auto& entry : *n) {
      if (!entry.first.IsScalar()) return Error(entry.first, metadata_path, "keys must be strings");
      const std::string key = entry.first.Scalar();
      const std::string key_path = Child(metadata_path, key);
      if (key.empty()) return Error(entry.first, metadata_path, "empty key");
      if (match.metadata.contains(key)) return Error(entry.first, key_path, "duplicate key");
      ASSIGN_OR_RETURN(MetadataMatchConfig condition, ReadMetadataCondition(entry.second, key_path));
      match.metadata.emplace(key, std::move(condition));
    }
  }
  for (const auto& [key, out] : {std::pair("all", &match.all), std::pair("any", &match.any)}) {
    const YAML::Node* n = fields.Find(key);
    if (n == nullptr) continue;
    const std::string list_path = fields.PathOf(key);
    if (!n->IsSequence()) return Error(*n, list_path, "must be a list of matches");
    if (n->size() == 0) return Error(*n, list_path, "must not be an empty list");
    for (size_t i = 0; i < n->size(); ++i) {
      const YAML::Node child = (*n)[i];
      if (!child.IsMap()) return Error(child, Element(list_path, i), "must be a mapping");
      ASSIGN_OR_RETURN(MatchConfig compiled, ReadMatch(child, Element(list_path, i), depth + 1));
      out->push_back(std::move(compiled));
    }
  }
  if (const YAML::Node* n = fields.Find("not")) {
    if (!n->IsMap()) return Error(*n, fields.PathOf("not"), "must be a mapping");
    ASSIGN_OR_RETURN(MatchConfig negated, ReadMatch(*n, fields.PathOf("not"), depth + 1));
    match.negated.push_back(std::move(negated));
  }
  if (const YAML::Node* n = fields.Find("case")) {
    ASSIGN_OR_RETURN(match.local_part_case, ReadCase(*n, fields.PathOf("case")));
  }
  return match;
}

absl::StatusOr<Config> Loader::Load(absl::string_view yaml) {
  ASSIGN_OR_RETURN(const YAML::Node root, LoadSingleDocument(yaml));
  ASSIGN_OR_RETURN(const Fields fields,
                   ReadMap(root, "",
                           {"http", "grpc", "store", "dedupe", "delivery", "retention", "admin",
                            "process", "sources", "agents", "rules"}));
  Config config;
  if (const YAML::Node* n = fields.Find("http")) RETURN_IF_ERROR(ReadHttp(*n, &config.http));
  if (const YAML::Node* n = fields.Find("grpc")) RETURN_IF_ERROR(ReadGrpc(*n, &config.grpc));
  if (const YAML::Node* n = fields.Find("store")) {
    RETURN_IF_ERROR(ReadStore(*n, &config.store));
  } else {
    config.store.path = Resolve(config.store.path);
  }
  if (const YAML::Node* n = fields.Find("dedupe")) {
    RETURN_IF_ERROR(ReadDedupe(*n, &config.dedupe));
  }
  if (const YAML::Node* n = fields.Find("delivery")) {
    RETURN_IF_ERROR(ReadDelivery(*n, &config.delivery));
  }
  if (const YAML::Node* n = fields.Find("retention")) {
    ASSIGN_OR_RETURN(const Fields retention,
                     ReadMap(*n, "retention", {"archive", "quarantine", "dead_letters"}));
    for (auto [key, value] : {std::pair{"archive", &config.retention.archive},
                              std::pair{"quarantine", &config.retention.quarantine},
                              std::pair{"dead_letters", &config.retention.dead_letters}}) {
      if (const YAML::Node* d = retention.Find(key)) {
        ASSIGN_OR_RETURN(*value, ReadDuration(*d, retention.PathOf(key)));
        if (*value <= absl::ZeroDuration()) {
          return Error(*d, retention.PathOf(key), "must be greater than 0");
        }
      }
    }
  }
  if (const YAML::Node* n = fields.Find("admin")) RETURN_IF_ERROR(ReadAdmin(*n, &config.admin));
  if (const YAML::Node* n = fields.Find("process")) {
    ASSIGN_OR_RETURN(const Fields process, ReadMap(*n, "process", {"scheduling"}));
    if (const YAML::Node* s = process.Find("scheduling")) {
      ASSIGN_OR_RETURN(config.process.scheduling, ReadString(*s, process.PathOf("scheduling")));
      if (config.process.scheduling != "batch" && config.process.scheduling != "normal") {
        return Error(*s, process.PathOf("scheduling"),
                     absl::StrCat("want batch or normal, got \"", config.process.scheduling,
                                  "\""));
      }
    }
  }

  if (const YAML::Node* n = fields.Find("sources"); n != nullptr && !n->IsNull()) {
    if (!n->IsSequence()) return Error(*n, "sources", "must be a list");
    for (size_t i = 0; i < n->size(); ++i) {
      const std::string path = Element("sources", i);
      ASSIGN_OR_RETURN(SourceConfig source, ReadSource((*n)[i], path, config.dedupe.window));
      if (config.FindSource(source.name) != nullptr) {
        return Error((*n)[i], Child(path, "name"),
                     absl::StrCat("duplicate source name \"", source.name, "\""));
      }
      config.sources.push_back(std::move(source));
    }
  }
  if (const YAML::Node* n = fields.Find("agents"); n != nullptr && !n->IsNull()) {
    if (!n->IsSequence()) return Error(*n, "agents", "must be a list");
    for (size_t i = 0; i < n->size(); ++i) {
      const std::string path = Element("agents", i);
      ASSIGN_OR_RETURN(AgentConfig agent, ReadAgent((*n)[i], path, config.delivery));
      if (config.FindAgent(agent.name) != nullptr) {
        return Error((*n)[i], Child(path, "name"),
                     absl::StrCat("duplicate agent name \"", agent.name, "\""));
      }
      config.agents.push_back(std::move(agent));
    }
  }
  std::vector<std::string> agent_names;
  for (const AgentConfig& agent : config.agents) agent_names.push_back(agent.name);
  ASSIGN_OR_RETURN(config.rules, ReadRules(fields.Find("rules"), agent_names));
  return config;
}

// Counts documents without building them.
class DocumentCounter final : public YAML::EventHandler {
 public:
  int documents = 0;
  void OnDocumentStart(const YAML::Mark&) override { ++documents; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

// The one YAML document of a config file or rules document. Not YAML::LoadAll: yaml-cpp 0.7.0
// (Debian 12) loops forever in it on some malformed input (found by tests/fuzz/rules_fuzzer.cc,
// kept in regressions/rules/). Counts at most two documents with the event parser, then builds
// the first one. Parse errors throw YAML::Exception, which the callers' entry points turn into
// kInvalidArgument.
absl::StatusOr<YAML::Node> Loader::LoadSingleDocument(absl::string_view yaml) const {
  std::istringstream stream{std::string(yaml)};
  YAML::Parser parser(stream);
  DocumentCounter counter;
  while (counter.documents < 2 && parser.HandleNextDocument(counter)) {
  }
  if (counter.documents > 1) return Error(YAML::Node(), "", "expected a single YAML document");
  return YAML::Load(std::string(yaml));
}

absl::StatusOr<std::vector<RuleConfig>> Loader::LoadRules(
    absl::string_view yaml, const std::vector<std::string>& agent_names) {
  ASSIGN_OR_RETURN(const YAML::Node root, LoadSingleDocument(yaml));
  return ReadRules(&root, agent_names);
}

absl::StatusOr<std::vector<RuleConfig>> Loader::ReadRules(
    const YAML::Node* rules, const std::vector<std::string>& agent_names) const {
  std::vector<RuleConfig> out;
  if (rules != nullptr && rules->IsDefined() && !rules->IsNull()) {
    if (!rules->IsSequence()) return Error(*rules, "rules", "must be a list");
    for (size_t i = 0; i < rules->size(); ++i) {
      ASSIGN_OR_RETURN(RuleConfig rule, ReadRule((*rules)[i], Element("rules", i)));
      out.push_back(std::move(rule));
    }
  }
  if (auto rule_set = routing::RuleSet::Create(out, agent_names); !rule_set.ok()) {
    // The message starts with the field path "rules[i]..."; point the line at rule i.
    YAML::Node at;
    absl::string_view message = rule_set.status().message();
    size_t index = 0;
    if (absl::ConsumePrefix(&message, "rules[") &&
        absl::SimpleAtoi(message.substr(0, message.find(']')), &index) && rules != nullptr &&
        index < rules->size()) {
      at = (*rules)[index];
    }
    return Error(at, "", rule_set.status().message());
  }
  return out;
}

std::string FormatSize(uint64_t bytes) {
  if (bytes != 0 && bytes % (1ull << 20) == 0) return absl::StrCat(bytes >> 20, "MiB");
  if (bytes != 0 && bytes % (1ull << 10) == 0) return absl::StrCat(bytes >> 10, "KiB");
  return absl::StrCat(bytes);
}

// redis://user:password@host → redis://***@host: the user-info may hold the password.
std::string MaskUrl(absl::string_view url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == absl::string_view::npos ? 0 : scheme + 3;
  const size_t at = url.find('@', start);
  if (at == absl::string_view::npos) return std::string(url);
  return absl::StrCat(url.substr(0, start), "***", url.substr(at));
}

// Runs `load` on a Loader for `file`, turning yaml-cpp's exceptions into kInvalidArgument.
template <typename Result, typename Fn>
absl::StatusOr<Result> RunLoader(std::string file, std::string base_dir, Fn load) {
  try {
    Loader loader(file, std::move(base_dir));
    return load(loader);
  } catch (const YAML::Exception& e) {
    // yaml-cpp's own messages name the problem, not the text at the mark.
    return absl::InvalidArgumentError(absl::StrCat(
        file, e.mark.is_null() ? "" : absl::StrCat(":", e.mark.line + 1, ":", e.mark.column + 1),
        ": invalid YAML: ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": cannot load config: ", e.what()));
  }
}

absl::StatusOr<Config> LoadWith(absl::string_view yaml, std::string file, std::string base_dir) {
  return RunLoader<Config>(std::move(file), std::move(base_dir),
                           [yaml](Loader& loader) { return loader.Load(yaml); });
}

}  // namespace

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  // A directory opens as a stream whose first read fails with EISDIR; read through rdbuf(), that
  // failure would leave an empty document, i.e. every default.
  if (std::error_code ec; std::filesystem::is_directory(path, ec)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": cannot read config: ", std::strerror(EISDIR)));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int error = errno;
    const std::string message = absl::StrCat(path, ": cannot read config: ", std::strerror(error));
    return error == ENOENT ? absl::NotFoundError(message) : absl::InvalidArgumentError(message);
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot read config"));

  std::error_code ec;
  std::filesystem::path base = std::filesystem::absolute(path, ec).parent_path();
  if (ec) base = std::filesystem::path(path).parent_path();
  absl::StatusOr<Config> config = LoadWith(contents.str(), path, base.string());
  if (config.ok()) config->path = path;
  return config;
}

absl::StatusOr<Config> LoadConfigString(std::string_view yaml, std::string_view base_dir) {
  return LoadWith(absl::string_view(yaml.data(), yaml.size()), "<config>", std::string(base_dir));
}

absl::StatusOr<std::vector<RuleConfig>> ParseRulesYaml(std::string_view yaml,
                                                       const std::vector<std::string>& agents) {
  return RunLoader<std::vector<RuleConfig>>(
      "<rules>", "", [yaml = absl::string_view(yaml.data(), yaml.size()), &agents](Loader& loader) {
        return loader.LoadRules(yaml, agents);
      });
}

std::string RedactedSummary(const Config& config) {
  std::string out = absl::StrCat(
      "http.listen=", config.http.listen, " http.max_body=", FormatSize(config.http.max_body),
      " grpc.listen=", config.grpc.listen, " store.kind=", config.store.kind);
  absl::StrAppend(&out, " http.max_connections=", config.http.max_connections,
                  " http.max_inflight_body=", FormatSize(config.http.max_inflight_body),
                  " http.tls=", config.http.tls ? "on" : "off",
                  " grpc.tls=", !config.grpc.tls                          ? "off"
                                : config.grpc.tls->client_ca_file.empty() ? "on"
                                                                          : "on+client-certs");
  if (config.store.kind == "redis") {
    absl::StrAppend(&out, " store.url=", MaskUrl(config.store.url));
  } else {
    absl::StrAppend(&out, " store.path=", config.store.path, " store.sync=", config.store.sync);
  }
  absl::StrAppend(&out, " dedupe.window=", absl::FormatDuration(config.dedupe.window),
                  " delivery.ack_deadline=", absl::FormatDuration(config.delivery.ack_deadline),
                  " delivery.max_attempts=", config.delivery.max_attempts,
                  " delivery.max_in_flight=", config.delivery.max_in_flight);
  absl::StrAppend(&out, " admin.tokens=[",
                  absl::StrJoin(config.admin.tokens, ",",
                                [](std::string* s, const AdminToken& t) { s->append(t.name); }),
                  "]");
  absl::StrAppend(
      &out, " sources=[",
      absl::StrJoin(config.sources, ", ", [](std::string* s, const SourceConfig& source) {
        absl::StrAppend(s, source.name, "(", source.provider);
        if (!source.vendor.empty()) absl::StrAppend(s, "/", source.vendor);
        if (!source.secrets.empty()) absl::StrAppend(s, " secrets=", source.secrets.size());
        if (!source.public_key.empty()) absl::StrAppend(s, " public_key=set");
        if (source.tolerance.has_value()) {
          absl::StrAppend(s, " tolerance=", absl::FormatDuration(*source.tolerance));
        }
        if (source.max_body.has_value()) {
          absl::StrAppend(s, " max_body=", FormatSize(*source.max_body));
        }
        if (source.basic_auth.has_value()) {
          absl::StrAppend(s, " basic_auth=", source.basic_auth->username);
        }
        if (!source.bearer_token.empty()) absl::StrAppend(s, " bearer_token=set");
        if (source.header.has_value()) absl::StrAppend(s, " header=", source.header->name);
        if (!source.key.empty()) absl::StrAppend(s, " key=set url=", source.url);
        s->append(")");
      }),
      "]");
  absl::StrAppend(&out, " agents=[",
                  absl::StrJoin(config.agents, ", ",
                                [](std::string* s, const AgentConfig& agent) {
                                  absl::StrAppend(s, agent.name, "(tokens=", agent.tokens.size(),
                                                  ")");
                                }),
                  "]");
  absl::StrAppend(
      &out, " rules=[",
      absl::StrJoin(config.rules, ", ", [](std::string* s, const RuleConfig& rule) {
        absl::StrAppend(s, rule.name, "->", absl::StrJoin(rule.agents, "+"));
      }),
      "]");
  return out;
}

}  // namespace switchboard::config
