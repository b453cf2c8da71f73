// switchboardctl rules get|apply|delete|explain (admin_commands.h).
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "router/common/event_type_names.h"
#include "tools/switchboardctl/admin_commands.h"

namespace switchboard::ctl {
namespace {

struct RulesState {
  AdminFlags* flags = nullptr;
  std::string file;                // apply -f, explain -f
  bool dry_run = false;
  int64_t expected_version = -1;   // -1: read the current version first
  std::string name;                // delete
  std::string source;              // explain --source
  std::string fixture;             // explain --fixture
  std::vector<std::string> headers;  // explain -H "Name: value"
};

int Get(const RulesState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::GetRulesResponse response;
  grpc::Status status = client->stub().GetRules(&context, {}, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  // The document itself (ready to edit and apply), its version and origin as a YAML comment.
  std::cout << "# version " << response.version() << ", origin " << response.origin()
            << (response.read_only() ? ", read-only (GitOps: edit the file)" : "") << "\n"
            << response.yaml();
  if (!response.yaml().empty() && response.yaml().back() != '\n') std::cout << "\n";
  return 0;
}

// The version an edit starts from: --expected-version, else the current one.
absl::StatusOr<int64_t> BaseVersion(const AdminClient& client, const RulesState& s,
                                    grpc::Status* rpc_status) {
  if (s.expected_version >= 0) return s.expected_version;
  grpc::ClientContext context;
  client.Prepare(&context);
  v1::GetRulesResponse current;
  *rpc_status = client.stub().GetRules(&context, {}, &current);
  if (!rpc_status->ok()) return absl::UnavailableError("GetRules failed");
  return current.version();
}

int PrintChange(const v1::ApplyRulesResponse& response, const std::string& done,
                const RulesState& s) {
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  std::cout << response.diff();
  if (!response.diff().empty() && response.diff().back() != '\n') std::cout << "\n";
  if (!response.changed()) {
    std::cout << "no changes (version " << response.version() << ")\n";
  } else if (s.dry_run) {
    std::cout << "dry run: valid; nothing written (still version " << response.version() << ")\n";
  } else {
    std::cout << done << ": version " << response.version() << "\n";
  }
  return 0;
}

int Apply(const RulesState& s) {
  absl::StatusOr<std::string> yaml = ReadWholeFile(s.file);
  if (!yaml.ok()) return ReportCommandError(yaml.status());
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  grpc::Status status;
  absl::StatusOr<int64_t> version = BaseVersion(*client, s, &status);
  if (!version.ok()) return ReportError(status, client->addr());

  v1::ApplyRulesRequest request;
  request.set_yaml(*std::move(yaml));
  request.set_expected_version(*version);
  request.set_dry_run(s.dry_run);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::ApplyRulesResponse response;
  status = client->stub().ApplyRules(&context, request, &response);
  if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT) {
    // The router names the document "<rules>" (with line:column) or "yaml"; here it is this file.
    for (const std::string name : {"<rules>:", "yaml:"}) {
      if (absl::StartsWith(status.error_message(), name)) {
        status = grpc::Status(
            status.error_code(),
            absl::StrCat(s.file, ":", status.error_message().substr(name.size())));
        break;
      }
    }
  }
  if (!status.ok()) return ReportError(status, client->addr());
  return PrintChange(response, "applied", s);
}

int Delete(const RulesState& s) {
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  v1::DeleteRuleRequest request;
  request.set_name(s.name);
  request.set_expected_version(s.expected_version < 0 ? 0 : s.expected_version);
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::ApplyRulesResponse response;
  grpc::Status status = client->stub().DeleteRule(&context, request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  return PrintChange(response, absl::StrCat("deleted rule ", s.name), s);
}

absl::StatusOr<v1::ExplainRouteRequest> ExplainRequest(const RulesState& s) {
  v1::ExplainRouteRequest request;
  if (!s.file.empty()) {
    absl::StatusOr<std::string> json = ReadWholeFile(s.file);
    if (!json.ok()) return json.status();
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = false;
    auto parsed = google::protobuf::util::JsonStringToMessage(*json, request.mutable_event(),
                                                              options);
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          s.file, ": not an EmailEvent in protobuf JSON: ", std::string(parsed.message())));
    }
    return request;
  }
  if (s.source.empty() || s.fixture.empty()) {
    return absl::InvalidArgumentError(
        "rules explain needs -f EVENT.json, or --source NAME and --fixture FILE");
  }
  absl::StatusOr<std::string> body = ReadWholeFile(s.fixture);
  if (!body.ok()) return body.status();
  v1::RawWebhook* webhook = request.mutable_webhook();
  webhook->set_source(s.source);
  for (const std::string& header : s.headers) {
    const size_t colon = header.find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("-H: want \"Name: value\", got \"", header, "\""));
    }
    (*webhook->mutable_headers())[absl::AsciiStrToLower(header.substr(0, colon))] =
        std::string(absl::StripAsciiWhitespace(header.substr(colon + 1)));
  }
  // A JSON payload needs no -H; form-encoded or multipart ones name their Content-Type.
  const absl::string_view start = absl::StripLeadingAsciiWhitespace(*body);
  if (!webhook->headers().contains("content-type") && !start.empty() &&
      (start.front() == '{' || start.front() == '[')) {
    (*webhook->mutable_headers())["content-type"] = "application/json";
  }
  webhook->set_body(*std::move(body));
  return request;
}

int Explain(const RulesState& s) {
  absl::StatusOr<v1::ExplainRouteRequest> request = ExplainRequest(s);
  if (!request.ok()) return ReportError(request.status());
  absl::StatusOr<AdminClient> client = AdminClient::Connect(*s.flags);
  if (!client.ok()) return ReportError(client.status());
  grpc::ClientContext context;
  client->Prepare(&context);
  v1::ExplainRouteResponse response;
  grpc::Status status = client->stub().ExplainRoute(&context, *request, &response);
  if (!status.ok()) return ReportError(status, client->addr());
  if (s.flags->output() != Output::kTable) return PrintMessage(response, s.flags->output());
  for (int i = 0; i < response.events_size(); ++i) {
    const v1::ExplainedEvent& explained = response.events(i);
    const v1::EmailEvent& event = explained.event();
    if (i > 0) std::cout << "\n";
    std::cout << "event " << event.id() << ": " << EventTypeName(event.type()) << " "
              << (event.recipient().empty() ? "(no recipient)" : event.recipient()) << " via "
              << event.provider() << "\n";
    Table table({"RULE", "RESULT", "REASON"});
    for (const v1::RuleVerdict& verdict : explained.rules()) {
      table.AddRow({verdict.rule(),
                    !verdict.evaluated() ? "not evaluated"
                    : verdict.matched()  ? "matched"
                                         : "no match",
                    verdict.reason()});
    }
    table.Print(std::cout);
    std::cout << "agents: "
              << (explained.agents().empty() ? "(none: unmatched)"
                                             : absl::StrJoin(explained.agents(), ", "))
              << "\n";
  }
  return 0;
}

}  // namespace

void AddRulesCommands(CLI::App& app, AdminFlags* flags, int* exit_status) {
  auto s = std::make_shared<RulesState>();
  s->flags = flags;
  CLI::App* rules = app.add_subcommand("rules", "routing rules of the running routers");
  rules->require_subcommand(1);

  CLI::App* get = rules->add_subcommand("get", "print the rules document in use and its version");
  AddAdminFlags(get, flags);
  get->final_callback([s, exit_status] { *exit_status = Get(*s); });

  CLI::App* apply = rules->add_subcommand(
      "apply", "replace the rule set with a rules document; prints the diff");
  AddAdminFlags(apply, flags);
  apply->add_option("-f,--file", s->file, "rules document (the `rules:` list)")->required();
  apply->add_flag("--dry-run", s->dry_run, "validate and diff only; nothing is written");
  apply->add_option("--expected-version", s->expected_version,
                    "refuse unless the stored rules are still this version (default: the version "
                    "read just before)");
  apply->final_callback([s, exit_status] { *exit_status = Apply(*s); });

  CLI::App* del = rules->add_subcommand("delete", "remove one rule by name; prints the diff");
  AddAdminFlags(del, flags);
  del->add_option("name", s->name, "rule name")->required();
  del->add_option("--expected-version", s->expected_version,
                  "refuse unless the stored rules are still this version (default: current)");
  del->final_callback([s, exit_status] { *exit_status = Delete(*s); });

  CLI::App* explain = rules->add_subcommand(
      "explain", "show which rules match an event and the agents it would go to");
  AddAdminFlags(explain, flags);
  auto* event = explain->add_option("-f,--file", s->file,
                                    "a normalized EmailEvent as protobuf JSON (tail -o json)");
  auto* source = explain->add_option("--source", s->source,
                                     "decode --fixture with this source's provider (unverified)");
  auto* fixture = explain->add_option("--fixture", s->fixture, "a raw provider webhook body");
  explain->add_option("-H,--header", s->headers,
                      "a header of the raw webhook, \"Name: value\" (repeatable; JSON bodies "
                      "default to Content-Type: application/json; e.g. webhook-id for Standard "
                      "Webhooks)");
  event->excludes(source)->excludes(fixture);
  explain->final_callback([s, exit_status] { *exit_status = Explain(*s); });
}

}  // namespace switchboard::ctl
