// switchboardctl agents, dlq list|replay|purge, replay, tail (admin_commands.h).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "router/common/event_type_names.h"
#include "router/common/proto_time.h"
#include "tools/switchboardctl/admin_commands.h"

namespace switchboard::ctl {
namespace {

struct QueueState {
  AdminFlags* flags = nullptr;
  std::string agent;                // dlq AGENT, replay --to
  std::vector<std::string> ids;     // dlq replay/purge --id
  int limit = 0;                    // dlq list --limit
  std::string since;                // replay
  std::string until;
  std::vector<std::string> types;   // replay/tail --type
  std::string recipient;            // replay/tail --recipient
  std::string source;               // replay/tail --source
  bool unmatched = false;           // replay/tail --unmatched
  int64_t count = 0;                // tail --count (0: until interrupted)
};

absl::StatusOr<v1::EventFilter> Filter(const QueueState& s) {
  v1::EventFilter filter;
  for (const std::string& name : s.types) {
    std::optional<v1::EventType> type = ParseEventTypeName(name);
    if (!type.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--type: unknown event type \"", name, "\" (e.g. bounced, delivered)"));
    }
    filter.add_types(*type);
  }
  filter.set_recipient(s.recipient);
  filter.set_source(s.source);
  filter.set_unmatched_only(s.unmatched);
  return filter;
}

int Agents(const QueueState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::ListAgentsResponse response;
  grpc::Status status = client->stub().ListAgents(&context, {}, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  Table table({"AGENT", "INSTANCES", "READY", "DELAYED", "IN-FLIGHT", "DEAD", "OLDEST-UNACKED"});
  for (const v1::AgentStatus& agent : response.agents()) {
    table.AddRow({agent.name(), absl::StrCat(agent.instances_size()), absl::StrCat(agent.ready()),
                  absl::StrCat(agent.delayed()), absl::StrCat(agent.in_flight()),
                  absl::StrCat(agent.dead_letters()),
                  agent.in_flight() == 0 ? "-" : FormatAge(agent.oldest_unacked_age())});
  }
  table.Print(std::cout);
  // The streams connected to this router, one line each.
  bool any = false;
  for (const v1::AgentStatus& agent : response.agents()) {
    for (const v1::AgentInstance& instance : agent.instances()) {
      if (!any) std::cout << "\nconnected to this router:\n";
      any = true;
      std::cout << "  " << agent.name() << "  " << instance.instance() << "  " << instance.peer()
                << "  in-flight " << instance.in_flight() << "/" << instance.max_in_flight()
                << "  since " << FormatTime(instance.connected_at()) << "\n";
    }
  }
  return 0;
}

int DlqList(const QueueState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::ListDeadLettersRequest request;
  request.set_agent(s.agent);
  request.set_limit(s.limit);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::ListDeadLettersResponse response;
  grpc::Status status = client->stub().ListDeadLetters(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  if (response.entries().empty()) {
    std::cout << "no dead letters for " << s.agent << "\n";
    return 0;
  }
  Table table({"EVENT-ID", "TYPE", "RECIPIENT", "ATTEMPTS", "DEAD-AT", "REASON"});
  for (const v1::DeadLetterEntry& entry : response.entries()) {
    table.AddRow({entry.event_id(), EventTypeName(entry.event().type()), entry.event().recipient(),
                  absl::StrCat(entry.attempts()), FormatTime(entry.dead_at()), entry.reason()});
  }
  table.Print(std::cout);
  return 0;
}

int DlqChange(const QueueState& s, bool replay) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::CountResponse response;
  grpc::Status status;
  if (replay) {
    v1::ReplayDeadLettersRequest request;
    request.set_agent(s.agent);
    for (const std::string& id : s.ids) request.add_event_ids(id);
    status = client->stub().ReplayDeadLetters(&context, request, &response);
  } else {
    v1::PurgeDeadLettersRequest request;
    request.set_agent(s.agent);
    for (const std::string& id : s.ids) request.add_event_ids(id);
    status = client->stub().PurgeDeadLetters(&context, request, &response);
  }
  if (!status.ok()) return ReportError(status, client->addr());
  if (!s.ids.empty() && response.count() == 0) {
    // Ids named on purpose that match nothing are a mistake (a typo, another agent's id).
    return ReportCommandError(absl::NotFoundError(
        absl::StrCat("no dead letter of ", s.agent, " has the event id",
                     s.ids.size() == 1 ? " " : "s ", absl::StrJoin(s.ids, ", "),
                     "; nothing was ", replay ? "replayed" : "purged")));
  }
  int printed = 0;
  if (s.flags->output() != Output::kTable) {
    printed = PrintMessage(response, s.flags->output());
  } else {
    std::cout << (replay ? "replayed " : "purged ") << response.count() << " dead letter"
              << (response.count() == 1 ? "" : "s") << (replay ? " to " : " of ") << s.agent
              << "\n";
  }
  // Some of the named ids matched nothing: what matched is done, and the exit code says that
  // the rest was not, so a script does not take a typo for success.
  const size_t named = absl::flat_hash_set<std::string>(s.ids.begin(), s.ids.end()).size();
  if (printed == 0 && !s.ids.empty() && static_cast<size_t>(response.count()) < named) {
    return ReportCommandError(absl::NotFoundError(absl::StrCat(
        "only ", response.count(), " of the ", named, " event ids named are dead letters of ",
        s.agent, "; the others were not ", replay ? "replayed" : "purged")));
  }
  return printed;
}

int Replay(const QueueState& s) {
  const absl::Time now = absl::Now();
  v1::ReplayArchiveRequest request;
  absl::StatusOr<absl::Time> since = ParseTimeFlag("--since", s.since, now);
  if (!since.ok()) return ReportError(since.status());
  SetTimestamp(*since, request.mutable_since());
  if (!s.until.empty()) {
    absl::StatusOr<absl::Time> until = ParseTimeFlag("--until", s.until, now);
    if (!until.ok()) return ReportError(until.status());
    SetTimestamp(*until, request.mutable_until());
  }
  absl::StatusOr<v1::EventFilter> filter = Filter(s);
  if (!filter.ok()) return ReportError(filter.status());
  *request.mutable_filter() = *std::move(filter);
  request.set_to_agent(s.agent);

  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::CountResponse response;
  grpc::Status status = client->stub().ReplayArchive(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  std::cout << "replayed " << response.count() << " archived event"
            << (response.count() == 1 ? "" : "s") << " to " << s.agent << "\n";
  return 0;
}

int Tail(const QueueState& s) {
  v1::TailRequest request;
  absl::StatusOr<v1::EventFilter> filter = Filter(s);
  if (!filter.ok()) return ReportError(filter.status());
  *request.mutable_filter() = *std::move(filter);
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  grpc::ClientContext context;
  client->Prepare(&context, /*streaming=*/true);
  std::unique_ptr<grpc::ClientReader<v1::TailEvent>> reader =
      client->stub().Tail(&context, request);
  v1::TailEvent event;
  int64_t seen = 0;
  while ((s.count == 0 || seen < s.count) && reader->Read(&event)) {
    ++seen;
    switch (s.flags->output()) {
      case Output::kJson:  // one object per line: feedable to `rules explain -f`
        std::cout << ToJson(event, /*compact=*/true) << std::endl;
        break;
      case Output::kYaml:
        std::cout << "---\n" << ToYaml(event) << std::flush;
        break;
      case Output::kTable: {
        if (event.dropped_before() > 0) {
          std::cout << "(" << event.dropped_before()
                    << " events dropped here: this tail did not keep up)" << std::endl;
        }
        const v1::EmailEvent& e = event.event();
        std::cout << FormatTime(e.received_at()) << "  " << EventTypeName(e.type()) << "  "
                  << (e.recipient().empty() ? "-" : e.recipient()) << "  source=" << e.source()
                  << "  agents="
                  << (event.agents().empty() ? "(unmatched)" : absl::StrJoin(event.agents(), ","))
                  << "  id=" << e.id() << std::endl;
        break;
      }
    }
  }
  if (s.count != 0 && seen >= s.count) {
    context.TryCancel();
    reader->Finish();
    return 0;
  }
  grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportError(status, client->addr());
  return 0;
}

void AddFilterFlags(CLI::App* cmd, QueueState* s) {
  cmd->add_option("--type", s->types, "only these event types (repeatable), e.g. bounced");
  cmd->add_option("--recipient", s->recipient,
                  "only recipients matching this pattern (as in rules, e.g. *@example.com)");
  cmd->add_option("--source", s->source, "only events of this source");
  cmd->add_flag("--unmatched", s->unmatched, "only events no rule selected when committed");
}

}  // namespace

void AddQueueCommands(CLI::App& app, AdminFlags* flags, int* exit_status) {
  auto s = std::make_shared<QueueState>();
  s->flags = flags;

  CLI::App* agents = app.add_subcommand(
      "agents", "declared agents: queue depth, delayed, in flight, dead letters, connections");
  AddAdminFlags(agents, flags);
  agents->final_callback([s, exit_status] { *exit_status = Agents(*s); });

  CLI::App* dlq = app.add_subcommand("dlq", "an agent's dead letters");
  dlq->require_subcommand(1);
  CLI::App* list = dlq->add_subcommand("list", "list dead letters with their last error");
  AddAdminFlags(list, flags);
  list->add_option("agent", s->agent, "agent name")->required();
  list->add_option("--limit", s->limit, "at most this many (default 100)");
  list->final_callback([s, exit_status] { *exit_status = DlqList(*s); });
  CLI::App* replay_dlq = dlq->add_subcommand(
      "replay", "put dead letters back on the agent's queue (attempts start again)");
  AddAdminFlags(replay_dlq, flags);
  replay_dlq->add_option("agent", s->agent, "agent name")->required();
  replay_dlq->add_option("--id", s->ids, "only these event ids (repeatable; default all)");
  replay_dlq->final_callback([s, exit_status] { *exit_status = DlqChange(*s, true); });
  CLI::App* purge = dlq->add_subcommand("purge", "delete dead letters");
  AddAdminFlags(purge, flags);
  purge->add_option("agent", s->agent, "agent name")->required();
  purge->add_option("--id", s->ids, "only these event ids (repeatable; default all)");
  purge->final_callback([s, exit_status] { *exit_status = DlqChange(*s, false); });

  CLI::App* replay = app.add_subcommand(
      "replay", "enqueue archived events to an agent (skips events it already holds)");
  AddAdminFlags(replay, flags);
  replay->add_option("--since", s->since, "start: RFC 3339 time or a duration back, e.g. 2h")
      ->required();
  replay->add_option("--until", s->until, "end (exclusive): RFC 3339 time or duration back; "
                                          "default now");
  AddFilterFlags(replay, s.get());
  replay->add_option("--to", s->agent, "declared agent to enqueue to")->required();
  replay->final_callback([s, exit_status] { *exit_status = Replay(*s); });

  CLI::App* tail = app.add_subcommand(
      "tail", "stream events as this router commits them (this replica's ingress only)");
  AddAdminFlags(tail, flags);
  AddFilterFlags(tail, s.get());
  tail->add_option("--count", s->count, "exit after this many events (default: until Ctrl-C)");
  tail->final_callback([s, exit_status] { *exit_status = Tail(*s); });
}

}  // namespace switchboard::ctl
