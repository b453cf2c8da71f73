// AdminService: agents and their queues, dead letters, archive replay (admin_service.h).
#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "router/admin/admin_service.h"
#include "router/admin/event_filter.h"
#include "router/common/proto_time.h"

namespace switchboard::admin {
namespace {

constexpr int kDefaultListLimit = 100;
constexpr int kMaxListLimit = 10000;
constexpr int kArchivePage = 500;  // archived events looked at per store call

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return {ids.begin(), ids.end()};
}

// An empty or blank id names nothing (an unset shell variable, say): refused, not answered with 0.
absl::Status CheckEventIds(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  for (int i = 0; i < ids.size(); ++i) {
    if (absl::StripAsciiWhitespace(ids[i]).empty()) {
      return absl::InvalidArgumentError(absl::StrCat("event_ids[", i, "]: empty"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status AdminServiceImpl::CheckAgent(const std::string& agent) const {
  if (agent.empty()) return absl::InvalidArgumentError("agent: required");
  if (std::find(options_.agents.begin(), options_.agents.end(), agent) == options_.agents.end()) {
    return absl::NotFoundError(absl::StrCat("agent: \"", agent, "\" is not a declared agent"));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListAgents(grpc::CallbackServerContext* context,
                                                       const v1::ListAgentsRequest* /*request*/,
                                                       v1::ListAgentsResponse* response) {
  if (auto admin = Authenticate(*context); !admin.ok()) return Reply(context, admin.status());
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (options_.agents.empty()) return Reply(context, absl::OkStatus());
  for (const std::string& name : options_.agents) response->add_agents()->set_name(name);
  if (options_.dispatcher != nullptr) {
    for (const delivery::StreamStatus& stream : options_.dispatcher->Streams()) {
      auto it = std::find(options_.agents.begin(), options_.agents.end(), stream.agent);
      if (it == options_.agents.end()) continue;
      v1::AgentInstance* instance =
          response->mutable_agents(static_cast<int>(it - options_.agents.begin()))->add_instances();
      instance->set_instance(stream.label.instance);
      instance->set_peer(stream.label.peer);
      instance->set_max_in_flight(stream.max_in_flight);
      instance->set_in_flight(stream.in_flight);
      SetTimestamp(stream.connected_at, instance->mutable_connected_at());
    }
  }
  // One Stats call per agent; the last answer finishes the call.
  struct Pending {
    absl::Mutex mu;
    size_t left;
    absl::Status status;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = options_.agents.size();
  const absl::Time now = clock_.Now();
  for (int i = 0; i < response->agents_size(); ++i) {
    v1::AgentStatus* status = response->mutable_agents(i);
    store_.Stats(status->name(), [reactor, pending, status,
                                  now](absl::StatusOr<store::QueueStats> stats) {
      absl::MutexLock lock(&pending->mu);
      if (stats.ok()) {
        status->set_ready(stats->ready);
        status->set_delayed(stats->delayed);
        status->set_in_flight(stats->leased);
        status->set_dead_letters(stats->dead_letters);
        SetDuration(stats->oldest_leased == absl::InfiniteFuture()
                        ? absl::ZeroDuration()
                        : std::max(absl::ZeroDuration(), now - stats->oldest_leased),
                    status->mutable_oldest_unacked_age());
      } else if (pending->status.ok()) {
        pending->status = stats.status();
      }
      if (--pending->left == 0) reactor->Finish(ToGrpc(pending->status));
    });
  }
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ListDeadLetters(
    grpc::CallbackServerContext* context, const v1::ListDeadLettersRequest* request,
    v1::ListDeadLettersResponse* response) {
  if (auto admin = Authenticate(*context); !admin.ok()) return Reply(context, admin.status());
  if (absl::Status agent = CheckAgent(request->agent()); !agent.ok()) {
    return Reply(context, agent);
  }
  if (request->limit() < 0) {
    return Reply(context, absl::InvalidArgumentError("limit: must not be negative"));
  }
  const int limit =
      request->limit() == 0 ? kDefaultListLimit : std::min(request->limit(), kMaxListLimit);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.ListDeadLetters(
      request->agent(), limit,
      [reactor, response](absl::StatusOr<std::vector<store::DeadLetter>> letters) {
        if (!letters.ok()) {
          reactor->Finish(ToGrpc(letters.status()));
          return;
        }
        for (store::DeadLetter& letter : *letters) {
          v1::DeadLetterEntry* entry = response->add_entries();
          entry->set_event_id(letter.event_id);
          entry->set_attempts(letter.attempts);
          entry->set_reason(letter.reason);
          SetTimestamp(letter.dead_at, entry->mutable_dead_at());
          *entry->mutable_event() = std::move(letter.event);
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayDeadLetters(
    grpc::CallbackServerContext* context, const v1::ReplayDeadLettersRequest* request,
    v1::CountResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (absl::Status agent = CheckAgent(request->agent()); !agent.ok()) {
    return Reply(context, agent);
  }
  if (absl::Status ids = CheckEventIds(request->event_ids()); !ids.ok()) return Reply(context, ids);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.ReplayDeadLetters(request->agent(), ToVector(request->event_ids()),
                 AuditedCount(reactor, response, *std::move(admin), "ReplayDeadLetters",
                              {{"agent", request->agent()},
                               {"event_ids", absl::StrJoin(request->event_ids(), ",")}}));
  return reactor;
}

grpc::ServerUnaryReactor* AdminServiceImpl::PurgeDeadLetters(
    grpc::CallbackServerContext* context, const v1::PurgeDeadLettersRequest* request,
    v1::CountResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (absl::Status agent = CheckAgent(request->agent()); !agent.ok()) {
    return Reply(context, agent);
  }
  if (absl::Status ids = CheckEventIds(request->event_ids()); !ids.ok()) return Reply(context, ids);
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  store_.PurgeDeadLetters(request->agent(), ToVector(request->event_ids()),
                 AuditedCount(reactor, response, *std::move(admin), "PurgeDeadLetters",
                              {{"agent", request->agent()},
                               {"event_ids", absl::StrJoin(request->event_ids(), ",")}}));
  return reactor;
}

// One ReplayArchive call: scans the archive page by page (each page's matching events are
// enqueued before the next page is read), then finishes. Lives until the last store callback.
class ArchiveReplay : public std::enable_shared_from_this<ArchiveReplay> {
 public:
  ArchiveReplay(store::Store& store, EventFilter filter, std::string agent, absl::Time since,
                absl::Time until, std::string admin, grpc::ServerUnaryReactor* reactor,
                v1::CountResponse* response)
      : store_(store),
        filter_(std::move(filter)),
        agent_(std::move(agent)),
        since_(since),
        until_(until),
        admin_(std::move(admin)),
        reactor_(reactor),
        response_(response) {}

  void Next(std::string cursor) {
    store_.ScanArchive(since_, until_, std::move(cursor), kArchivePage,
                       [self = shared_from_this()](absl::StatusOr<store::ArchivePage> page) {
                         self->OnPage(std::move(page));
                       });
  }

 private:
  void OnPage(absl::StatusOr<store::ArchivePage> page) {
    if (!page.ok()) return Done(page.status());
    std::vector<std::string> refs;
    for (const store::ArchivedEvent& archived : page->events) {
      if (filter_.Matches(archived.event, archived.agents)) refs.push_back(archived.ref);
    }
    matched_ += static_cast<int64_t>(refs.size());
    std::string cursor = std::move(page->next_cursor);
    if (refs.empty()) {
      if (cursor.empty()) return Done(absl::OkStatus());
      return Next(std::move(cursor));
    }
    store_.EnqueueArchived(agent_, std::move(refs),
                           [self = shared_from_this(), cursor = std::move(cursor)](
                               absl::StatusOr<int64_t> enqueued) mutable {
                             if (!enqueued.ok()) return self->Done(enqueued.status());
                             self->enqueued_ += *enqueued;
                             if (cursor.empty()) return self->Done(absl::OkStatus());
                             self->Next(std::move(cursor));
                           });
  }

  void Done(const absl::Status& status) {
    if (enqueued_ > 0 || status.ok()) {
      AdminServiceImpl::Audit(
          admin_, "ReplayArchive",
          {{"agent", agent_}, {"since", absl::FormatTime(since_)},
           {"until", absl::FormatTime(until_)}, {"error", std::string(status.message())}},
          {{"matched", matched_}, {"count", enqueued_}});
    }
    response_->set_count(enqueued_);
    reactor_->Finish(AdminServiceImpl::ToGrpc(status));
  }

  store::Store& store_;
  const EventFilter filter_;
  const std::string agent_;
  const absl::Time since_;
  const absl::Time until_;
  const std::string admin_;
  grpc::ServerUnaryReactor* const reactor_;
  v1::CountResponse* const response_;
  int64_t matched_ = 0;   // callbacks of one replay run one after another: no lock needed
  int64_t enqueued_ = 0;
};

grpc::ServerUnaryReactor* AdminServiceImpl::ReplayArchive(grpc::CallbackServerContext* context,
                                                          const v1::ReplayArchiveRequest* request,
                                                          v1::CountResponse* response) {
  absl::StatusOr<std::string> admin = Authenticate(*context);
  if (!admin.ok()) return Reply(context, admin.status());
  if (request->to_agent().empty()) {
    return Reply(context, absl::InvalidArgumentError("to_agent: required"));
  }
  if (absl::Status agent = CheckAgent(request->to_agent()); !agent.ok()) {
    return Reply(context, agent);
  }
  absl::StatusOr<EventFilter> filter = EventFilter::Create(request->filter(), "filter");
  if (!filter.ok()) return Reply(context, filter.status());
  const absl::Time since =
      request->has_since() ? FromTimestamp(request->since()) : absl::InfinitePast();
  const absl::Time until = request->has_until() ? FromTimestamp(request->until()) : clock_.Now();
  if (since >= until) {
    return Reply(context, absl::InvalidArgumentError("since: must be before until"));
  }
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto replay = std::make_shared<ArchiveReplay>(store_, *std::move(filter), request->to_agent(),
                                                since, until, *std::move(admin), reactor,
                                                response);
  replay->Next("");
  return reactor;
}

}  // namespace switchboard::admin
