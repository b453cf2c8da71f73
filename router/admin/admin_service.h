#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "router/common/clock.h"
#include "router/config/config.h"
#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "router/admin/admin_worker.h"
#include "router/delivery/agent_directory.h"
#include "router/delivery/dispatcher.h"
#include "router/providers/provider.h"
#include "router/routing/rule_set.h"
#include "router/store/store.h"
#include "switchboard/v1/admin.grpc.pb.h"

namespace switchboard::admin {

class RulesFileWatcher;
class TailBus;

struct AdminServiceOptions {
  std::vector<config::AdminToken> tokens;  // config `admin.tokens` at start (then SetTokens)
  std::vector<std::string> agents;         // the declared agent names
  // The config file's rules as a rules document (config::RulesToYaml): GetRules answers it while
  // the store holds none (version 0), and ApplyRules/DeleteRule start from it then.
  std::string config_rules_yaml;
  // ExplainRoute: the rule set the ingress routes with right now (a null result: no rules), and
  // the provider of a configured source (null: no such source). The provider is only asked to
  // Decode (never Verify) and must have no side effect doing so (no SNS subscription confirming).
  std::function<std::shared_ptr<const routing::RuleSet>()> rules_in_use;
  std::function<std::shared_ptr<const providers::Provider>(const std::string& source)> provider;
  // ReplayQuarantine: the settings of a configured source as the router uses them now (nullopt:
  // no such source), so replayed events keep the source's inline_raw_max as on the ingress. Null
  // function: the defaults of config::SourceConfig apply.
  std::function<std::optional<config::SourceConfig>(const std::string& source)> source_config;
  // ListAgents: the streams connected to this router (null: none listed). Must outlive the
  // service.
  const delivery::Dispatcher* dispatcher = nullptr;
  // Tail's events (null: Tail answers UNAVAILABLE). Must outlive the service.
  TailBus* tail = nullptr;
};

// switchboard.v1.AdminService (proto/switchboard/v1/admin.proto) over gRPC's callback API.
//
// Authentication: every rpc first calls Authenticate: metadata `authorization: Bearer <token>`
// compared in constant time against every configured admin token (delivery::AgentDirectory does
// the comparison: SHA-256 digests, CRYPTO_memcmp, every token visited); missing or unknown ->
// UNAUTHENTICATED. The token's `name` is the admin identity of the audit log. SetTokens (config
// reload) replaces the set: the next rpc is checked against the new tokens, and a Tail already
// open whose token is no longer in the set ends with UNAUTHENTICATED (one whose token stays keeps
// streaming).
//
// Audit: every change (rules apply/delete, dead-letter replay/purge, archive replay, ...) logs one
// JSON line {"event":"admin","admin":<name>,"rpc":<method>, ...the diff or the counts}.
//
// Rpcs are split over several .cc files by area (admin_service.cc: rules; other files add
// theirs); an rpc not overridden here answers UNIMPLEMENTED from the generated base class.
// Store calls are asynchronous: each unary rpc returns its reactor at once and Finishes it from
// the store's callback (reactions never block).
//
// Thread-safe. `store`, `clock` and `rules_file` (nullable: not in GitOps mode) must outlive the
// service; destroy it after the grpc::Server that serves it has shut down (Wait returned).
class AdminServiceImpl final : public v1::AdminService::CallbackService {
 public:
  AdminServiceImpl(AdminServiceOptions options, store::Store& store, const Clock& clock,
                   const RulesFileWatcher* rules_file);

  // ---- Rules (admin_service.cc) ----
  // version 0: the config file's rules; GitOps: the watched file, read_only.
  grpc::ServerUnaryReactor* GetRules(grpc::CallbackServerContext* context,
                                     const v1::GetRulesRequest* request,
                                     v1::GetRulesResponse* response) override;
  // Validates (config::ParseRulesYaml + routing::RuleSet::Create: INVALID_ARGUMENT naming the
  // field), compares with the current version (FAILED_PRECONDITION when stale), diffs the
  // canonical YAML; unless dry_run and when changed, Store::PutRules(expected_version). GitOps:
  // FAILED_PRECONDITION naming the file.
  grpc::ServerUnaryReactor* ApplyRules(grpc::CallbackServerContext* context,
                                       const v1::ApplyRulesRequest* request,
                                       v1::ApplyRulesResponse* response) override;
  // Removes the rule `name` from the rules in use (the config file's at version 0) and stores
  // the rest, canonical (config::RulesToYaml: comments of a stored document do not survive).
  // expected_version 0 = the current one, else FAILED_PRECONDITION when stale; NOT_FOUND for an
  // unknown rule name; GitOps: FAILED_PRECONDITION naming the file. Audited with the diff.
  grpc::ServerUnaryReactor* DeleteRule(grpc::CallbackServerContext* context,
                                       const v1::DeleteRuleRequest* request,
                                       v1::ApplyRulesResponse* response) override;
  // RuleSet::Explain against the rules in use (options.rules_in_use) of `event`, or of every
  // event the named source's provider decodes `webhook` into (Decode only: the signature is NOT
  // checked; received_at is set to now when the provider leaves it unset). Unknown source:
  // NOT_FOUND; a body the provider cannot decode: INVALID_ARGUMENT with its error. A control
  // message (ping, subscription confirmation) gives no events. Changes nothing.
  grpc::ServerUnaryReactor* ExplainRoute(grpc::CallbackServerContext* context,
                                         const v1::ExplainRouteRequest* request,
                                         v1::ExplainRouteResponse* response) override;

  // ---- Tail (tail_rpc.cc) ----
  // Streams the events this router's ingress commits as new (options.tail), as TailEvents that
  // pass request.filter (EventFilter; INVALID_ARGUMENT naming `filter.<field>`). A client that
  // reads too slowly loses events (TailEvent.dropped_before); the ingress never waits for it.
  // Ends when the client cancels, or with UNAVAILABLE at Shutdown. Logs one line per tail when it
  // ends, with the events sent and dropped.
  grpc::ServerWriteReactor<v1::TailEvent>* Tail(grpc::CallbackServerContext* context,
                                                const v1::TailRequest* request) override;

  // ---- Attachments (attachment_rpcs.cc) ----
  // The bytes Store::GetAttachment keeps for event_id under sha256 (a stored attachment, the
  // event's raw body by raw_sha256, its text or html body by text_sha256 / html_sha256), in order, in chunks of at most 1 MiB (empty bytes: one empty
  // chunk). NOT_FOUND when none are kept or the event does not name them;
  // INVALID_ARGUMENT naming an empty field. Not audited (it reads).
  grpc::ServerWriteReactor<v1::AttachmentChunk>* GetAttachment(
      grpc::CallbackServerContext* context, const v1::GetAttachmentRequest* request) override;

  // Finishes the rule edits under way, ends every open Tail (UNAVAILABLE) and refuses new ones;
  // call before grpc::Server::Shutdown (open tails would hold it until its deadline), while the
  // store still answers.
  void Shutdown();

  // ---- Agents, dead letters, archive (queue_rpcs.cc) ----
  // Every declared agent with Store::Stats (in_flight = leased; oldest_unacked_age by the clock)
  // and the instances connected to THIS router (options.dispatcher: Dispatcher::Streams).
  grpc::ServerUnaryReactor* ListAgents(grpc::CallbackServerContext* context,
                                       const v1::ListAgentsRequest* request,
                                       v1::ListAgentsResponse* response) override;
  // NOT_FOUND: not a declared agent. limit 0 = 100, capped at 10,000.
  grpc::ServerUnaryReactor* ListDeadLetters(grpc::CallbackServerContext* context,
                                            const v1::ListDeadLettersRequest* request,
                                            v1::ListDeadLettersResponse* response) override;
  // Back to the agent's queue as fresh entries (attempt count reset). Audited.
  grpc::ServerUnaryReactor* ReplayDeadLetters(grpc::CallbackServerContext* context,
                                              const v1::ReplayDeadLettersRequest* request,
                                              v1::CountResponse* response) override;
  grpc::ServerUnaryReactor* PurgeDeadLetters(grpc::CallbackServerContext* context,
                                             const v1::PurgeDeadLettersRequest* request,
                                             v1::CountResponse* response) override;
  // Scans the archive over [since, until) (unset since: the oldest kept; unset until: now),
  // applies the filter (EventFilter) and enqueues what matches to `to_agent`, skipping events the
  // agent already has queued; answers how many were enqueued. Audited.
  grpc::ServerUnaryReactor* ReplayArchive(grpc::CallbackServerContext* context,
                                          const v1::ReplayArchiveRequest* request,
                                          v1::CountResponse* response) override;

  // ---- Quarantine, erasure, backup (lifecycle_rpcs.cc) ----
  // Quarantined webhooks of `source` ("" = all), oldest first, without bodies. limit 0 = 100,
  // capped at 10,000.
  grpc::ServerUnaryReactor* ListQuarantine(grpc::CallbackServerContext* context,
                                           const v1::ListQuarantineRequest* request,
                                           v1::ListQuarantineResponse* response) override;
  // Decodes the matching entries again (at most 10,000 per call, oldest first) with their
  // source's provider as configured now (options.provider; Decode only, the signature was
  // verified on arrival), keeps large bytes out of line with the source's inline_raw_max
  // (options.source_config) as the ingress does, routes them with options.rules_in_use and commits them normally
  // (dedupe applies; the replay guard and Tail are not involved); then deletes the entries that
  // decoded. An entry of a source no longer configured stays (still_failing). Unknown source
  // named: NOT_FOUND. A failed commit deletes nothing. Audited with the counts.
  grpc::ServerUnaryReactor* ReplayQuarantine(grpc::CallbackServerContext* context,
                                             const v1::ReplayQuarantineRequest* request,
                                             v1::ReplayQuarantineResponse* response) override;
  // Deletes the source's entries (ids empty: all of them). source required. Audited.
  grpc::ServerUnaryReactor* PurgeQuarantine(grpc::CallbackServerContext* context,
                                            const v1::PurgeQuarantineRequest* request,
                                            v1::CountResponse* response) override;
  // Store::PurgeRecipient over the declared agents. Audited with the SHA-256 of the lower-cased
  // address (never the address itself) and the count.
  grpc::ServerUnaryReactor* PurgeRecipient(grpc::CallbackServerContext* context,
                                           const v1::PurgeRecipientRequest* request,
                                           v1::CountResponse* response) override;
  // Store::Backup to an absolute path on the router's host (INVALID_ARGUMENT otherwise); Redis:
  // FAILED_PRECONDITION. Audited.
  grpc::ServerUnaryReactor* Backup(grpc::CallbackServerContext* context,
                                   const v1::BackupRequest* request,
                                   v1::BackupResponse* response) override;

  // The admin name of the call's bearer token; kUnauthenticated otherwise.
  absl::StatusOr<std::string> Authenticate(const grpc::CallbackServerContext& context) const;

  // Replaces the admin tokens (config reload of `admin.tokens`); rpcs from now on are
  // authenticated against `tokens` only, and open Tail calls opened with a token not in `tokens`
  // end with UNAUTHENTICATED. Thread-safe.
  void SetTokens(const std::vector<config::AdminToken>& tokens);

  // Logs the audit line of a change: `fields` are added to {"event","admin","rpc"}.
  static void Audit(const std::string& admin, const std::string& rpc,
                    std::vector<std::pair<std::string, std::string>> string_fields,
                    std::vector<std::pair<std::string, int64_t>> int_fields = {});

  // The store callback of an audited change that answers a count (CountResponse): on success
  // it logs the audit line (`rpc`, `fields`, "count") and answers the count; on failure it
  // answers the store's error and audits nothing (nothing changed). `reactor` and `response`
  // belong to the call, which lasts until the callback finishes it.
  static std::function<void(absl::StatusOr<int64_t>)> AuditedCount(
      grpc::ServerUnaryReactor* reactor, v1::CountResponse* response, std::string admin,
      std::string rpc, std::vector<std::pair<std::string, std::string>> fields);

  // absl::Status -> grpc::Status (the codes have the same numbers).
  static grpc::Status ToGrpc(const absl::Status& status);
  // Finishes `context`'s default reactor with `status` and returns it (for early answers).
  static grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                         const absl::Status& status);

 private:
  // The admin name of `token` under the tokens set now; kUnauthenticated otherwise.
  absl::StatusOr<std::string> AuthenticateToken(const std::string& token) const;
  // Ends the open Tail calls whose token is no longer valid (after SetTokens).
  void EndTailsOfRemovedTokens() ABSL_EXCLUSIVE_LOCKS_REQUIRED(tails_mu_);
  absl::Status RefuseInGitOps() const;
  // kInvalidArgument if empty, kNotFound unless a declared agent.
  absl::Status CheckAgent(const std::string& agent) const;

  const AdminServiceOptions options_;
  mutable absl::Mutex admins_mu_;
  // admin token -> admin name; replaced whole by SetTokens.
  std::shared_ptr<const delivery::AgentDirectory> admins_ ABSL_GUARDED_BY(admins_mu_);
  store::Store& store_;
  const Clock& clock_;
  const RulesFileWatcher* const rules_file_;

  class TailReactor;
  friend class TailReactor;
  absl::Mutex tails_mu_;
  bool shutting_down_ ABSL_GUARDED_BY(tails_mu_) = false;
  std::vector<TailReactor*> tails_ ABSL_GUARDED_BY(tails_mu_);  // open Tail calls
  AdminWorker worker_;  // last: its thread runs tasks that use the members above
};

}  // namespace switchboard::admin
