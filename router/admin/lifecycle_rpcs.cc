// AdminService: quarantine list/replay/purge, recipient erasure, backup (admin_service.h).
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "router/admin/admin_service.h"
#include "router/common/proto_time.h"
#include "router/store/out_of_line.h"
#include "router/common/crypto.h"

namespace switchboard::admin {
namespace {

constexpr int kDefaultListLimit = 100;
constexpr int kMaxListLimit = 10000;
// Entries one ReplayQuarantine call looks at (oldest first); the rest wait for the next call.
constexpr int kMaxReplayEntries = 10000;

store::QuarantineFilter ToFilter(const std::string& source,
                                 const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return {source, {ids.begin(), ids.end()}};
}

// The request a quarantined webhook arrived as, for Decode (the target is the canonical ingress
// path: quarantine keeps no query string).
providers::WebhookRequest ToRequest(store::QuarantineEntry entry) {
  providers::WebhookRequest request;
  request.source = std::move(entry.source);
  request.method = "POST";
  request.target = absl::StrCat("/v1/webhooks/", request.source);
  request.headers = std::move(entry.headers);
  request.body = std::move(entry.body);
  request.received_at = entry.received_at;
  return request;
}

}  // namespace

grpc::ServerUnaryReactor* AdminServiceImpl::ListQuarantine(
    grpc::CallbackServerContext* context, const v1::ListQuarantineRequest* request,
    v1::ListQuarantineResponse* response) {
  if (auto admin = Authenticate(*context); !admin.ok()) return Reply(context, admin.status());
  if (request->limit() < 0) {
    return Reply(context, absl::InvalidArgumentError("limit: must not be negative"));
  }
  const int limit =
      request->limit() == 0 ? kDefaultListLimit : std::min(request->limit(), kMaxListLimit);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.ListQuarantine(
      store::QuarantineFilter{request->source(), {}}, limit, /*with_bodies=*/false,
      [reactor, response](absl::StatusOr<std::vector<store::QuarantineEntry>> entries) {
        if (!entries.ok()) {
          reactor->Finish(ToGrpc(entries.status()));
          return;
        }
        for (store::QuarantineEntry& entry : *entries) {
          v1::QuarantineEntry* out = response->add_entries();
          out->set_id(std::move(entry.id));
          out->set_source(std::move(entry.source));
          out->set_reason(std::move(entry.reason));
          out->set_code_version(std::move(entry.code_version));
          SetTimestamp(entry.received_at, out->mutable_received_at());
          for (auto& [name, value] : entry.headers) (*out->mutable_headers())[name] = value;
          out->set_body_size(entry.body_size);
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayQuarantine(
    grpc::CallbackServerContext* context, const v1::ReplayQuarantineRequest* request,
    v1::ReplayQuarantineResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (!request->source().empty() && options_.provider &&
      options_.provider(request->source()) == nullptr) {
    return Reply(context, absl::NotFoundError(absl::StrCat(
                              "source: \"", request->source(), "\" is not a configured source")));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.ListQuarantine(
      ToFilter(request->source(), request->ids()), kMaxReplayEntries, /*with_bodies=*/true,
      [this, reactor, response, admin = *std::move(admin), source = request->source()](
          absl::StatusOr<std::vector<store::QuarantineEntry>> entries) mutable {
        if (!entries.ok()) {
          reactor->Finish(ToGrpc(entries.status()));
          return;
        }
        // Decode each entry with its source's provider as configured now (Decode only: the
        // signature was verified on arrival), route with the rules in use.
        const std::shared_ptr<const routing::RuleSet> rules =
            options_.rules_in_use ? options_.rules_in_use() : nullptr;
        std::vector<store::EventToCommit> to_commit;
        std::vector<store::StoredAttachment> blobs;
        std::vector<std::string> decoded_ids;
        int64_t still_failing = 0;
        for (store::QuarantineEntry& entry : *entries) {
          std::shared_ptr<const providers::Provider> provider =
              options_.provider ? options_.provider(entry.source) : nullptr;
          if (provider == nullptr) {  // the source is no longer configured
            ++still_failing;
            continue;
          }
          std::string id = entry.id;
          const absl::Time received_at = entry.received_at;
          // The source's own inline_raw_max, as the ingress applies it.
          uint64_t inline_raw_max = config::SourceConfig{}.inline_raw_max;
          if (options_.source_config) {
            if (std::optional<config::SourceConfig> source_config =
                    options_.source_config(entry.source)) {
              inline_raw_max = source_config->inline_raw_max;
            }
          }
          absl::StatusOr<providers::DecodeResult> decoded =
              provider->Decode(ToRequest(std::move(entry)));
          if (!decoded.ok()) {
            ++still_failing;
            continue;
          }
          // As on the ingress: large bytes are stored before the events naming them commit.
          absl::StatusOr<std::vector<store::StoredAttachment>> out_of_line =
              store::TakeOutOfLine(decoded->events, decoded->stored_attachments, inline_raw_max);
          if (!out_of_line.ok()) {
            ++still_failing;
            continue;
          }
          for (store::StoredAttachment& blob : *out_of_line) blobs.push_back(std::move(blob));
          for (v1::EmailEvent& event : decoded->events) {
            if (!event.has_received_at()) SetTimestamp(received_at, event.mutable_received_at());
            store::EventToCommit item;
            if (rules != nullptr) {
              for (routing::RouteTarget& target : rules->Route(event)) {
                item.targets.push_back({std::move(target.agent), std::move(target.matched_rules)});
              }
            }
            item.event = std::move(event);
            to_commit.push_back(std::move(item));
          }
          decoded_ids.push_back(std::move(id));
        }
        // Committed (or duplicates of events already committed) before the entries go away.
        auto finish = [this, reactor, response, admin = std::move(admin),
                       source = std::move(source), decoded_ids, still_failing](
                          int64_t events, int64_t duplicates) mutable {
          if (decoded_ids.empty()) {
            response->set_still_failing(still_failing);
            Audit(admin, "ReplayQuarantine", {{"source", source}},
                  {{"decoded", 0}, {"still_failing", still_failing}});
            reactor->Finish(grpc::Status::OK);
            return;
          }
          const int64_t decoded = static_cast<int64_t>(decoded_ids.size());
          store_.DeleteQuarantine(
              store::QuarantineFilter{"", std::move(decoded_ids)},
              [reactor, response, admin = std::move(admin), source = std::move(source), decoded,
               still_failing, events, duplicates](absl::StatusOr<int64_t> deleted) {
                if (!deleted.ok()) {
                  reactor->Finish(ToGrpc(deleted.status()));
                  return;
                }
                Audit(admin, "ReplayQuarantine", {{"source", source}},
                      {{"decoded", decoded},
                       {"still_failing", still_failing},
                       {"events", events},
                       {"duplicates", duplicates}});
                response->set_decoded(decoded);
                response->set_still_failing(still_failing);
                reactor->Finish(grpc::Status::OK);
              });
        };
        if (to_commit.empty()) {  // nothing decoded, or only control messages
          finish(0, 0);
          return;
        }
        const size_t count = to_commit.size();
        auto commit = [this, reactor, count, to_commit = std::move(to_commit),
                       finish = std::move(finish)]() mutable {
          store_.Commit(std::move(to_commit),
                        [reactor, count, finish = std::move(finish)](
                            absl::StatusOr<std::vector<store::CommitOutcome>> outcomes) mutable {
                          if (!outcomes.ok()) {
                            reactor->Finish(ToGrpc(outcomes.status()));
                            return;
                          }
                          int64_t duplicates = 0;
                          for (store::CommitOutcome outcome : *outcomes) {
                            if (outcome == store::CommitOutcome::kDuplicate) ++duplicates;
                          }
                          finish(static_cast<int64_t>(count) - duplicates, duplicates);
                        });
        };
        if (blobs.empty()) {
          commit();
          return;
        }
        store_.PutAttachments(std::move(blobs),
                              [reactor, commit = std::move(commit)](absl::Status stored) mutable {
                                if (!stored.ok()) {
                                  reactor->Finish(ToGrpc(stored));
                                  return;
                                }
                                commit();
                              });
      });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::PurgeQuarantine(
    grpc::CallbackServerContext* context, const v1::PurgeQuarantineRequest* request,
    v1::CountResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (request->source().empty()) {
    return Reply(context, absl::InvalidArgumentError("source: required"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.DeleteQuarantine(ToFilter(request->source(), request->ids()),
                          AuditedCount(reactor, response, *std::move(admin), "PurgeQuarantine",
                                       {{"source", request->source()},
                                        {"ids", absl::StrJoin(request->ids(), ",")}}));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::PurgeRecipient(
    grpc::CallbackServerContext* context, const v1::PurgeRecipientRequest* request,
    v1::CountResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (request->recipient().empty()) {
    return Reply(context, absl::InvalidArgumentError("recipient: required"));
  }
  // The audit line names the erased address by its SHA-256 (lower-cased address), not in clear:
  // the log must not keep what was erased, yet an auditor can check a given address.
  absl::StatusOr<std::string> digest =
      crypto::Sha256(absl::AsciiStrToLower(std::string(request->recipient())));
  if (!digest.ok()) return Reply(context, digest.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.PurgeRecipient(request->recipient(), options_.agents,
                        AuditedCount(reactor, response, *std::move(admin), "PurgeRecipient",
                                     {{"recipient_sha256", crypto::HexEncode(*digest)}}));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::Backup(grpc::CallbackServerContext* context,
                                                   const v1::BackupRequest* request,
                                                   v1::BackupResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (request->path().empty() || request->path().front() != '/') {
    return Reply(context, absl::InvalidArgumentError(
                              "path: an absolute file path on the router's host is required"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.Backup(request->path(), [reactor, response, admin = *std::move(admin)](
                                     absl::StatusOr<store::BackupResult> result) {
    if (!result.ok()) {
      reactor->Finish(ToGrpc(result.status()));
      return;
    }
    Audit(admin, "Backup", {{"path", result->path}},
          {{"bytes", result->bytes}, {"took_ms", absl::ToInt64Milliseconds(result->took)}});
    response->set_path(result->path);
    response->set_bytes(result->bytes);
    SetDuration(result->took, response->mutable_took());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

}  // namespace switchboard::admin
