#include "router/admin/admin_service.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "boost/json.hpp"
#include "router/admin/rules_file_watcher.h"
#include "router/admin/unified_diff.h"
#include "router/common/admin_status.h"
#include "router/common/proto_time.h"
#include "router/config/config_loader.h"
#include "router/config/rules_yaml.h"
#include "router/delivery/agent_service.h"
#include "router/routing/rule_set.h"
#include "spdlog/spdlog.h"

namespace switchboard::admin {
namespace {

std::vector<config::AgentConfig> AdminIdentities(const std::vector<config::AdminToken>& tokens) {
  std::vector<config::AgentConfig> out;
  for (const auto& token : tokens) {
    config::AgentConfig identity;
    identity.name = token.name;
    identity.tokens = {token.token};
    out.push_back(std::move(identity));
  }
  return out;
}

// Validates a rules document the way every router loads it. kInvalidArgument naming the field.
absl::Status ValidateRules(std::string_view yaml, const std::vector<std::string>& agents) {
  absl::StatusOr<std::vector<config::RuleConfig>> rules = config::ParseRulesYaml(yaml, agents);
  if (!rules.ok()) return rules.status();
  return routing::RuleSet::Create(*rules, agents).status();
}

// True for a document that holds no YAML value at all: nothing, blank lines and `#` comments, a
// lone `---`, `~` or `null`. It parses as no rules, but is more likely a truncated or wrong file
// than a wish to drop every rule, which is `[]`.
bool NoRulesList(std::string_view yaml) {
  try {
    const YAML::Node node = YAML::Load(std::string(yaml));
    return !node.IsDefined() || node.IsNull();
  } catch (const YAML::Exception&) {
    return false;  // ValidateRules has said what is wrong
  }
}

// The diff as the audit log keeps it: at most kMaxAuditDiffBytes, cut at a line's end, with a
// note of what was left out (log pipelines drop or split lines of megabytes; the full diff is in
// the RPC's answer).
constexpr size_t kMaxAuditDiffBytes = 64 * 1024;
std::string AuditDiff(const std::string& diff) {
  if (diff.size() <= kMaxAuditDiffBytes) return diff;
  size_t cut = diff.rfind('\n', kMaxAuditDiffBytes - 1);
  if (cut == std::string::npos) {
    // One very long line: cut before a UTF-8 continuation byte, never inside a character.
    cut = kMaxAuditDiffBytes;
    while (cut > 0 && (static_cast<unsigned char>(diff[cut]) & 0xC0) == 0x80) --cut;
  } else {
    ++cut;
  }
  return absl::StrCat(diff.substr(0, cut), "... (", diff.size() - cut,
                      " more bytes of diff not logged)\n");
}

// The form two documents are compared and diffed in: config::RulesToYaml of the parsed rules,
// so key order, quoting, comments and whitespace make no difference. A document that no longer
// parses (a stored one naming an agent since removed) is compared as its text.
std::string Canonical(std::string_view yaml, const std::vector<std::string>& agents) {
  absl::StatusOr<std::vector<config::RuleConfig>> rules = config::ParseRulesYaml(yaml, agents);
  if (rules.ok()) return config::RulesToYaml(*rules);
  std::string out(yaml);
  if (!out.empty() && out.back() != '\n') out.push_back('\n');
  return out;
}

// The rules text an edit that started from `expected_version` applies to: the stored document,
// or the config file's rules while the store holds none (version 0). Errors: the store's read
// error; FAILED_PRECONDITION when another edit came first. `zero_is_any`: an `expected_version`
// of 0 accepts whatever is current (DeleteRule); `retry` ends the conflict message.
absl::StatusOr<std::string> RulesToEdit(const absl::StatusOr<store::RulesDocument>& current,
                                        int64_t expected_version, bool zero_is_any,
                                        const char* retry,
                                        const std::string& config_rules_yaml) {
  if (!current.ok()) return current.status();
  if (!(zero_is_any && expected_version == 0) && current->version != expected_version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the rules changed: version ", current->version, " is current, this edit started from ",
        expected_version, "; get the rules again and ", retry));
  }
  return current->version == 0 ? config_rules_yaml : current->yaml;
}

void ToProto(routing::RouteExplanation explanation, v1::ExplainedEvent* out) {
  for (routing::RuleVerdict& verdict : explanation.rules) {
    v1::RuleVerdict* rule = out->add_rules();
    rule->set_rule(std::move(verdict.rule));
    rule->set_matched(verdict.matched);
    rule->set_evaluated(verdict.evaluated);
    rule->set_reason(std::move(verdict.reason));
  }
  for (routing::RouteTarget& target : explanation.targets) {
    out->add_agents(std::move(target.agent));
  }
}

}  // namespace

AdminServiceImpl::AdminServiceImpl(AdminServiceOptions options, store::Store& store,
                                   const Clock& clock, const RulesFileWatcher* rules_file)
    : options_(std::move(options)),
      admins_(std::make_shared<const delivery::AgentDirectory>(AdminIdentities(options_.tokens))),
      store_(store),
      clock_(clock),
      rules_file_(rules_file) {}

absl::StatusOr<std::string> AdminServiceImpl::Authenticate(
    const grpc::CallbackServerContext& context) const {
  return AuthenticateToken(delivery::BearerToken(context));
}

absl::StatusOr<std::string> AdminServiceImpl::AuthenticateToken(const std::string& token) const {
  std::shared_ptr<const delivery::AgentDirectory> admins;
  {
    absl::MutexLock lock(&admins_mu_);
    admins = admins_;
  }
  std::optional<std::string> name = admins->Authenticate(token);
  if (!name.has_value()) {
    return absl::UnauthenticatedError("missing or invalid admin bearer token");
  }
  return *std::move(name);
}

void AdminServiceImpl::SetTokens(const std::vector<config::AdminToken>& tokens) {
  auto admins = std::make_shared<const delivery::AgentDirectory>(AdminIdentities(tokens));
  // Under tails_mu_: a Tail registering meanwhile checks its token against the new set itself.
  absl::MutexLock tails_lock(&tails_mu_);
  {
    absl::MutexLock lock(&admins_mu_);
    admins_ = std::move(admins);
  }
  EndTailsOfRemovedTokens();
}

void AdminServiceImpl::Audit(const std::string& admin, const std::string& rpc,
                             std::vector<std::pair<std::string, std::string>> string_fields,
                             std::vector<std::pair<std::string, int64_t>> int_fields) {
  boost::json::object line{{"event", "admin"}, {"admin", admin}, {"rpc", rpc}};
  for (auto& [key, value] : string_fields) line[key] = value;
  for (auto& [key, value] : int_fields) line[key] = value;
  spdlog::info(boost::json::serialize(line));
}

std::function<void(absl::StatusOr<int64_t>)> AdminServiceImpl::AuditedCount(
    grpc::ServerUnaryReactor* reactor, v1::CountResponse* response, std::string admin,
    std::string rpc, std::vector<std::pair<std::string, std::string>> fields) {
  return [reactor, response, admin = std::move(admin), rpc = std::move(rpc),
          fields = std::move(fields)](absl::StatusOr<int64_t> count) {
    if (!count.ok()) {
      reactor->Finish(ToGrpc(count.status()));
      return;
    }
    Audit(admin, rpc, fields, {{"count", *count}});
    response->set_count(*count);
    reactor->Finish(grpc::Status::OK);
  };
}

grpc::Status AdminServiceImpl::ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  if (status.code() == absl::StatusCode::kUnavailable) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat(kStoreUnavailablePrefix, status.message()));
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

grpc::ServerUnaryReactor* AdminServiceImpl::Reply(grpc::CallbackServerContext* context,
                                                  const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

absl::Status AdminServiceImpl::RefuseInGitOps() const {
  if (rules_file_ == nullptr) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("rules come from the file ", rules_file_->Current().path,
                   " (GitOps mode, admin.rules_file): change that file instead"));
}

grpc::ServerUnaryReactor* AdminServiceImpl::GetRules(grpc::CallbackServerContext* context,
                                                     const v1::GetRulesRequest* /*request*/,
                                                     v1::GetRulesResponse* response) {
  if (auto admin = Authenticate(*context); !admin.ok()) return Reply(context, admin.status());
  if (rules_file_ != nullptr) {
    RulesFileWatcher::State state = rules_file_->Current();
    response->set_yaml(std::move(state.yaml));
    response->set_version(state.version);
    response->set_read_only(true);
    response->set_origin(state.path);
    return Reply(context, absl::OkStatus());
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.GetRules([this, reactor, response](absl::StatusOr<store::RulesDocument> document) {
    if (!document.ok()) {
      reactor->Finish(ToGrpc(document.status()));
      return;
    }
    if (document->version == 0) {
      response->set_yaml(options_.config_rules_yaml);
      response->set_origin("config");
    } else {
      response->set_yaml(std::move(document->yaml));
      response->set_origin("store");
    }
    response->set_version(document->version);
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ApplyRules(grpc::CallbackServerContext* context,
                                                       const v1::ApplyRulesRequest* request,
                                                       v1::ApplyRulesResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (absl::Status refused = RefuseInGitOps(); !refused.ok()) return Reply(context, refused);
  if (request->expected_version() < 0) {
    return Reply(context, absl::InvalidArgumentError("expected_version: must not be negative"));
  }
  if (absl::Status valid = ValidateRules(request->yaml(), options_.agents); !valid.ok()) {
    return Reply(context, valid);
  }
  if (NoRulesList(request->yaml())) {
    return Reply(context, absl::InvalidArgumentError(
                              "yaml: the rules document holds no list (a truncated file?); to "
                              "remove every rule, apply `[]`"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.GetRules([this, reactor, request, response, admin = *std::move(admin)](
                      absl::StatusOr<store::RulesDocument> current) mutable {
    // Off the store thread, which every commit waits for: the canonical forms and the diff take
    // time that grows with the documents.
    worker_.Post([this, reactor, request, response, admin = std::move(admin),
                  current = std::move(current)]() mutable {
      absl::StatusOr<std::string> old_yaml =
          RulesToEdit(current, request->expected_version(), /*zero_is_any=*/false, "re-apply",
                      options_.config_rules_yaml);
      if (!old_yaml.ok()) {
        reactor->Finish(ToGrpc(old_yaml.status()));
        return;
      }
      std::string diff = UnifiedDiff(Canonical(*old_yaml, options_.agents),
                                     Canonical(request->yaml(), options_.agents),
                                     absl::StrCat("rules (version ", current->version, ")"),
                                     "rules (new)");
      response->set_changed(!diff.empty());
      response->set_diff(diff);
      response->set_version(current->version);
      if (request->dry_run() || diff.empty()) {
        reactor->Finish(grpc::Status::OK);
        return;
      }
      store_.PutRules(request->yaml(), request->expected_version(),
                      [reactor, response, admin = std::move(admin), diff = std::move(diff)](
                          absl::StatusOr<int64_t> version) {
                        if (!version.ok()) {
                          reactor->Finish(ToGrpc(version.status()));
                          return;
                        }
                        Audit(admin, "ApplyRules", {{"diff", AuditDiff(diff)}},
                              {{"version", *version}});
                        response->set_version(*version);
                        reactor->Finish(grpc::Status::OK);
                      });
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::DeleteRule(grpc::CallbackServerContext* context,
                                                       const v1::DeleteRuleRequest* request,
                                                       v1::ApplyRulesResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (absl::Status refused = RefuseInGitOps(); !refused.ok()) return Reply(context, refused);
  if (request->name().empty()) return Reply(context, absl::InvalidArgumentError("name: required"));
  if (request->expected_version() < 0) {
    return Reply(context, absl::InvalidArgumentError("expected_version: must not be negative"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.GetRules([this, reactor, request, response, admin = *std::move(admin)](
                      absl::StatusOr<store::RulesDocument> current) mutable {
    // Off the store thread, which every commit waits for: the canonical forms and the diff take
    // time that grows with the documents.
    worker_.Post([this, reactor, request, response, admin = std::move(admin),
                  current = std::move(current)]() mutable {
      absl::StatusOr<std::string> old_yaml =
          RulesToEdit(current, request->expected_version(), /*zero_is_any=*/true, "retry",
                      options_.config_rules_yaml);
      if (!old_yaml.ok()) {
        reactor->Finish(ToGrpc(old_yaml.status()));
        return;
      }
      absl::StatusOr<std::vector<config::RuleConfig>> rules =
          config::ParseRulesYaml(*old_yaml, options_.agents);
      if (!rules.ok()) {
        reactor->Finish(ToGrpc(absl::FailedPreconditionError(
            absl::StrCat("the rules in use do not parse (apply a whole new set instead): ",
                         rules.status().message()))));
        return;
      }
      const size_t before = rules->size();
      std::erase_if(*rules,
                    [&](const config::RuleConfig& rule) { return rule.name == request->name(); });
      if (rules->size() == before) {
        reactor->Finish(ToGrpc(absl::NotFoundError(
            absl::StrCat("name: no rule \"", request->name(), "\" in version ", current->version))));
        return;
      }
      if (absl::Status valid = routing::RuleSet::Create(*rules, options_.agents).status();
          !valid.ok()) {
        reactor->Finish(ToGrpc(valid));
        return;
      }
      std::string new_yaml = config::RulesToYaml(*rules);
      std::string diff = UnifiedDiff(Canonical(*old_yaml, options_.agents), new_yaml,
                                     absl::StrCat("rules (version ", current->version, ")"),
                                     "rules (new)");
      response->set_changed(true);
      response->set_diff(diff);
      store_.PutRules(new_yaml, current->version,
                      [reactor, response, admin = std::move(admin), diff = std::move(diff),
                       name = request->name()](absl::StatusOr<int64_t> version) {
                        if (!version.ok()) {
                          reactor->Finish(ToGrpc(version.status()));
                          return;
                        }
                        Audit(admin, "DeleteRule", {{"rule", name}, {"diff", AuditDiff(diff)}},
                              {{"version", *version}});
                        response->set_version(*version);
                        reactor->Finish(grpc::Status::OK);
                      });
    });
  });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ExplainRoute(grpc::CallbackServerContext* context,
                                                         const v1::ExplainRouteRequest* request,
                                                         v1::ExplainRouteResponse* response) {
  if (auto admin = Authenticate(*context); !admin.ok()) return Reply(context, admin.status());
  std::vector<v1::EmailEvent> events;
  switch (request->input_case()) {
    case v1::ExplainRouteRequest::kEvent:
      events.push_back(request->event());
      break;
    case v1::ExplainRouteRequest::kWebhook: {
      const v1::RawWebhook& webhook = request->webhook();
      if (webhook.source().empty()) {
        return Reply(context, absl::InvalidArgumentError("webhook.source: required"));
      }
      std::shared_ptr<const providers::Provider> provider =
          options_.provider ? options_.provider(webhook.source()) : nullptr;
      if (provider == nullptr) {
        return Reply(context, absl::NotFoundError(absl::StrCat(
                                  "webhook.source: \"", webhook.source(),
                                  "\" is not a configured source")));
      }
      providers::WebhookRequest raw;
      raw.source = webhook.source();
      raw.method = "POST";
      raw.target = absl::StrCat("/v1/webhooks/", webhook.source());
      for (const auto& [name, value] : webhook.headers()) {
        raw.headers.emplace_back(absl::AsciiStrToLower(name), value);
      }
      // Map order is arbitrary; a stable order keeps decoding reproducible.
      std::sort(raw.headers.begin(), raw.headers.end());
      raw.body = webhook.body();
      raw.received_at = clock_.Now();
      absl::StatusOr<providers::DecodeResult> decoded = provider->Decode(raw);
      if (!decoded.ok()) {
        return Reply(context, absl::InvalidArgumentError(absl::StrCat(
                                  "webhook: source \"", webhook.source(),
                                  "\" cannot decode this body: ", decoded.status().message())));
      }
      for (v1::EmailEvent& event : decoded->events) {
        if (!event.has_received_at()) SetTimestamp(raw.received_at, event.mutable_received_at());
        events.push_back(std::move(event));
      }
      break;
    }
    default:
      return Reply(context, absl::InvalidArgumentError("input: an event or a webhook is required"));
  }
  std::shared_ptr<const routing::RuleSet> rules =
      options_.rules_in_use ? options_.rules_in_use() : nullptr;
  for (v1::EmailEvent& event : events) {
    v1::ExplainedEvent* explained = response->add_events();
    if (rules != nullptr) ToProto(rules->Explain(event), explained);
    *explained->mutable_event() = std::move(event);
  }
  return Reply(context, absl::OkStatus());
}

}  // namespace switchboard::admin
